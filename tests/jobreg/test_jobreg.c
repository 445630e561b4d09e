/* test_jobreg.c - lib/jobreg without a database: what a FITS file becomes in the registry
 * (root, type, instrument, exposure number, time span) for HST names and for ground frames
 * named after their dataset, with the spans checked against the headers' own values
 * (EXPSTART/EXPEND; DATE-OBS + EXPTIME), and the refusals. SPDX-License-Identifier: Apache-2.0 */
#include "jobreg/jobreg.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static char fits_dir[2048];

static const char *data(const char *name)
{
    static char p[4096];
    snprintf(p, sizeof p, "%s/%s", fits_dir, name);
    return p;
}

static void test_ground_frames(void **state)
{
    (void)state;
    struct jobreg_file f;
    struct err_info ei;
    memset(&f, 0, sizeof f);
    /* named after the dataset: <dataset>.fits is its raw frame */
    assert_int_equal(jobreg_file_read(data("kastb_b27_science.fits"), "KAST", "kastb_b27_science",
                                      &f, &ei),
                     ERR_OK);
    assert_string_equal(f.obs_id, "kastb_b27_science");
    assert_string_equal(f.type, "raw");
    assert_string_equal(f.instrument, "KAST");
    /* DATE-OBS = '2015-05-20T04:37:33.12', EXPTIME = 1200 */
    assert_string_equal(f.begin, "2015-05-20T04:37:33.120000Z");
    assert_string_equal(f.end, "2015-05-20T04:57:33.120000Z");
    int64_t exp = f.exposure;
    /* its product: same exposure, type cal */
    assert_int_equal(jobreg_file_read(data("kastb_b27_science.fits"), "KAST", "kastb_b27", &f, &ei),
                     ERR_OK);
    assert_string_equal(f.type, "science");
    assert_int_not_equal(f.exposure, exp);
    /* a bias (EXPTIME 0): a 2 microsecond span, never empty */
    assert_int_equal(jobreg_file_read(data("kastb_b21_bias.fits"), "KAST", "kastb_b21_bias", &f,
                                      &ei),
                     ERR_OK);
    assert_string_equal(f.begin, "2015-05-20T03:44:04.780000Z");
    assert_string_equal(f.end, "2015-05-20T03:44:04.780002Z");
    /* no instrument: neither the profile's nor INSTRUME (Kast headers have none) */
    ei.msg[0] = '\0';
    assert_int_equal(jobreg_file_read(data("kastb_b21_bias.fits"), NULL, "kastb_b21_bias", &f,
                                      &ei),
                     ERR_INVALID);
    assert_non_null(strstr(ei.msg, "no instrument"));
}

static void test_hst_names(void **state)
{
    (void)state;
    struct jobreg_file f;
    struct err_info ei;
    memset(&f, 0, sizeof f);
    assert_int_equal(jobreg_file_read(data("j8bt05njq_raw.fits"), NULL, NULL, &f, &ei), ERR_OK);
    assert_string_equal(f.obs_id, "j8bt05njq");
    assert_string_equal(f.type, "raw");
    assert_string_equal(f.instrument, "ACS");
    assert_int_equal(f.exposure, 54253699943030LL); /* base 36 of the root */
    assert_int_equal(strncmp(f.begin, "2002-", 5), 0);
    assert_true(strcmp(f.end, f.begin) > 0);
    /* the same file as its dataset's raw frame gives the same answer */
    struct jobreg_file g;
    assert_int_equal(jobreg_file_read(data("j8bt05njq_raw.fits"), NULL, "j8bt05njq", &g, &ei),
                     ERR_OK);
    assert_int_equal(g.exposure, f.exposure);
    assert_string_equal(g.type, "raw");
    /* a file without a time span: refused, naming what is missing */
    ei.msg[0] = '\0';
    assert_int_equal(jobreg_file_read(data("m13.fits"), "X", NULL, &f, &ei), ERR_INVALID);
    assert_non_null(strstr(ei.msg, "no exposure time span"));
}

int main(void)
{
    const char *shared = getenv("OBSFLOW_SHARED");
    if (!shared) {
        fprintf(stderr, "OBSFLOW_SHARED not set\n");
        return 77;
    }
    snprintf(fits_dir, sizeof fits_dir, "%s/testdata/fits", shared);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ground_frames),
        cmocka_unit_test(test_hst_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
