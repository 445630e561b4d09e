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
