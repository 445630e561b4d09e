/* test_fits_caps.c - lib/fits caps that take a large input to reach (a million cards): kept
 * out of the unit tests, which also run under valgrind.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fits/fits.h"
#include "fits/fits_image.h"

#include <zlib.h>

/* the file-wide card cap: many HDUs of allowed size still stop at FHDR_MAX_FILE_CARDS, with a
 * message naming the file and the HDU */
static void test_file_card_cap(void **state)
{
    (void)state;
    const char line[] = "COMMENT\n";
    size_t per_hdu = FHDR_MAX_CARDS / 2;
    size_t nhdu = FHDR_MAX_FILE_CARDS / per_hdu + 1;
    size_t marker = 16;
    size_t cap = nhdu * (marker + per_hdu * (sizeof line - 1));
    char *t = malloc(cap);
    size_t n = 0;
    assert_non_null(t);
    for (size_t h = 0; h < nhdu; h++) {
        n += (size_t)snprintf(t + n, cap - n, "# HDU %zu in x:\n", h);
        for (size_t k = 0; k < per_hdu; k++) {
            memcpy(t + n, line, sizeof line - 1);
            n += sizeof line - 1;
        }
    }
    struct fhdr_file *f = NULL;
    struct err_info ei = {0};
    assert_int_equal(fhdr_file_parse_text("many.header", t, n, &f, &ei), ERR_TOO_LARGE);
    assert_null(f);
    assert_non_null(strstr(ei.msg, "\"many.header\" has more than"));
    assert_non_null(strstr(ei.msg, "HDU 20"));
    /* one HDU fewer is within the cap */
    size_t ok_len = (size_t)(strstr(t, "# HDU 20 in") - t);
    assert_int_equal(fhdr_file_parse_text("many.header", t, ok_len, &f, &ei), ERR_OK);
    assert_int_equal(fhdr_file_hdu_count(f), 20);
    fhdr_file_destroy(f);
    free(t);
}

/* A gzip bomb: 2 GiB + 1 MiB of zeros in a file of about 2 MiB (one 1 MiB member, repeated).
 * cfitsio would decompress it whole into memory; fitsimg_open counts the stream first and
 * refuses it above FITSIMG_GZ_MAX_BYTES with ERR_TOO_LARGE naming the cap. */
static void test_gz_cap(void **state)
{
    (void)state;
    const char *tmp = getenv("OBSFLOW_TEST_TMP");
    char one[1100], path[1100];
    snprintf(one, sizeof one, "%s/one.gz", tmp && *tmp ? tmp : "/tmp");
    snprintf(path, sizeof path, "%s/bomb.fits.gz", tmp && *tmp ? tmp : "/tmp");
    const size_t mib = (size_t)1 << 20;
    char *zeros = calloc(1, mib);
    assert_non_null(zeros);
    memcpy(zeros, "SIMPLE  =                    T", 30); /* looks like FITS at the start */
    gzFile gz = gzopen(one, "wb9");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, zeros, (unsigned)mib), (int)mib);
    assert_int_equal(gzclose(gz), Z_OK);
    FILE *fp = fopen(one, "rb");
    assert_non_null(fp);
    size_t n = fread(zeros, 1, mib, fp); /* the compressed member, a few KiB */
    fclose(fp);
    assert_true(n > 0 && n < mib);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    size_t members = (size_t)(FITSIMG_GZ_MAX_BYTES / (int64_t)mib) + 1;
    for (size_t i = 0; i < members; i++) {
        assert_int_equal(fwrite(zeros, 1, n, fp), n);
    }
    assert_int_equal(fclose(fp), 0);
    free(zeros);
    struct fitsimg *f = NULL;
    struct err_info ei = {0};
    assert_int_equal(fitsimg_open(path, &f, &ei), ERR_TOO_LARGE);
    assert_null(f);
    assert_non_null(strstr(ei.msg, "bomb.fits.gz"));
    assert_non_null(strstr(ei.msg, "FITSIMG_GZ_MAX_BYTES"));
    remove(path);
    remove(one);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_card_cap),
        cmocka_unit_test(test_gz_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
