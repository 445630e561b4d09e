/* caom_test.c - see caom_test.h.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "caom_test.h"

static char g_shared[1024];

int caom_test_setup(void)
{
    const char *sh = getenv("OBSFLOW_SHARED");
    if (!sh) {
        fprintf(stderr, "OBSFLOW_SHARED is not set\n");
        return 77;
    }
    snprintf(g_shared, sizeof g_shared, "%s", sh);
    return 0;
}

const char *caom_test_shared(void)
{
    return g_shared;
}

void caom_test_path(char *out, size_t cap, const char *rel)
{
    snprintf(out, cap, "%s/testdata/caom2/%s", g_shared, rel);
}

struct caom_observation *caom_test_load(const char *rel)
{
    char p[2048];
    struct err_info ei = {0};
    struct caom_observation *o = NULL;
    caom_test_path(p, sizeof p, rel);
    enum err rc = caom_xml_read_file(p, &o, &ei);
    if (rc)
        fprintf(stderr, "read %s: %s\n", rel, ei.msg);
    assert_int_equal(rc, ERR_OK);
    return o;
}

char *caom_test_slurp(const char *rel, size_t *len)
{
    char p[2048];
    caom_test_path(p, sizeof p, rel);
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    char *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

const char *const caom_test_docs[] = {
    "caom2tools/SampleDerived-CAOM-2.4.xml",
    "caom2tools/SampleSimple-CAOM-2.3.xml",
    "caom2tools/lotss/P124+62/P124+62.xml",
    "caom2tools/dao/dao_c122_2016_007777/dao_c122_2016_007777.xml",
    "caom2tools/cgps/myOBS/cgps.xml",
    "possum2caom2/casda/PSM_pilot1_1368MHz_18asec_2031-5249_11073_i_v1.expected.xml",
    "possum2caom2/possum/PSM_pilot1_944MHz_18asec_2226-5552_11268_p3d_v1_coeff0.expected.xml",
    "neossat2caom2/2015347015200.expected.xml",
    "omm2caom2/C071112_0001_CAL.expected.xml",
    "omm2caom2/C101116_QSO2251+158_I_SCIRED.expected.xml",
    "omm2caom2/C170318_0121_SCI.expected.xml",
    "cgps2caom2/MC2_FCRAO/MC2_FCRAO.xml",
    "vlass2caom2/VLASS1.1.T01t01.J000228-363000.expected.xml",
    "wallaby2caom2/dr2/SoFiA_J124915+043926_mom0.expected.xml",
    "wallaby2caom2/dr2/SoFiA_J124915+043926_cube.expected.xml",
    "wallaby2caom2/dr1/WALLABY_J103250-301601_Hydra_TR1_spec.expected.xml",
    "dao2caom2/dao_c122_2016_012652.expected.xml",
    "dao2caom2/dao_c182_2017_009814.expected.xml",
};
const size_t caom_test_ndocs = sizeof caom_test_docs / sizeof caom_test_docs[0];
