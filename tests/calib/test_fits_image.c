/* test_fits_image.c - FITS image pixel I/O against the real files in ../shared/testdata/fits
 * (expected values read off with astropy). SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fits/fits_image.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_path[4096];
static const char *g_tmp;

static const char *data_file(const char *name)
{
    const char *shared = getenv("OBSFLOW_SHARED");
    snprintf(g_path, sizeof(g_path), "%s/testdata/fits/%s", shared ? shared : "../shared", name);
    return g_path;
}

static void test_kast_primary_image(void **state)
{
    (void)state;
    struct err_info ei = {0};
    struct fitsimg *f = NULL;
    assert_int_equal(fitsimg_open(data_file("kastb_b21_bias.fits"), &f, &ei), ERR_OK);
    assert_int_equal(fitsimg_hdu_count(f), 1);
    assert_int_equal(fitsimg_select_first_image(f, &ei), ERR_OK);
    struct fitsimg_info in;
    fitsimg_get_info(f, &in);
    assert_int_equal(in.hdu, 0);
    assert_int_equal(in.nx, 2112);
    assert_int_equal(in.ny, 350);
    assert_int_equal(in.bitpix, 20); /* uint16 through BZERO */
    double *img = NULL;
    int64_t nx = 0, ny = 0;
    assert_int_equal(fitsimg_read_all(f, &img, &nx, &ny, &ei), ERR_OK);
    assert_true(img[0] == 935.0 && img[1] == 942.0 && img[349 * 2112 + 2111] == 953.0);
    double sum = 0;
    for (int64_t i = 0; i < nx * ny; i++) {
        sum += img[i];
    }
    assert_true(sum == 706176719.0);
    /* a band of rows equals the same rows of the whole image */
    float band[2 * 2112];
    assert_int_equal(fitsimg_read_rows_f(f, 348, 2, band, &ei), ERR_OK);
    assert_true((double)band[2111 + 2112] == 953.0);
    assert_int_equal(fitsimg_read_rows_f(f, 349, 2, band, &ei), ERR_INVALID);
    free(img);

    char s[64];
    assert_int_equal(fitsimg_key_str(f, "DATASEC", s, sizeof(s), &ei), ERR_OK);
    assert_string_equal(s, "[1:2048,1:350]");
    assert_int_equal(fitsimg_key_str(f, "OBJECT", s, sizeof(s), &ei), ERR_OK);
    assert_string_equal(s, "Bias");
    double d = -1;
    assert_int_equal(fitsimg_key_double(f, "EXPTIME", &d, &ei), ERR_OK);
    assert_true(d == 0.0);
    int64_t v = 0;
    assert_int_equal(fitsimg_key_int(f, "COVER", &v, &ei), ERR_OK);
    assert_int_equal(v, 32);
    assert_int_equal(fitsimg_key_double(f, "NOSUCHKY", &d, &ei), ERR_NOT_FOUND);
    assert_string_equal(ei.field, "NOSUCHKY");
    assert_non_null(strstr(ei.msg, "kastb_b21_bias.fits"));
    assert_int_equal(fitsimg_key_double(f, "OBJECT", &d, &ei), ERR_FITS);
    fitsimg_close(f);
}

static void test_hst_raw_imsets(void **state)
{
    (void)state;
    struct err_info ei = {0};
    struct fitsimg *f = NULL;
    assert_int_equal(fitsimg_open(data_file("j8bt05njq_raw.fits"), &f, &ei), ERR_OK);
    assert_int_equal(fitsimg_hdu_count(f), 4);
    assert_int_equal(fitsimg_select_first_image(f, &ei), ERR_OK);
    struct fitsimg_info in;
    fitsimg_get_info(f, &in);
    assert_int_equal(in.hdu, 1);
    assert_string_equal(in.extname, "SCI");
    assert_int_equal(in.nx, 1062);
    assert_int_equal(in.ny, 1044);
    double row[1062];
    assert_int_equal(fitsimg_read_rows(f, 1043, 1, row, &ei), ERR_OK);
    assert_true(row[1061] == 1134.0);

    assert_int_equal(fitsimg_select_spec(f, "dq,1", &ei), ERR_OK);
    fitsimg_get_info(f, &in);
    assert_int_equal(in.hdu, 3);
    assert_true(in.constant);
    assert_int_equal(in.nx, 1062);
    assert_int_equal(in.ny, 1044);
    row[5] = 7;
    assert_int_equal(fitsimg_read_rows(f, 10, 1, row, &ei), ERR_OK);
    assert_true(row[5] == 0.0);
    assert_int_equal(fitsimg_select_spec(f, "SCI,2", &ei), ERR_NOT_FOUND);
    assert_non_null(strstr(ei.msg, "SCI,2"));
    assert_int_equal(fitsimg_select_spec(f, "2", &ei), ERR_OK);
    fitsimg_get_info(f, &in);
    assert_string_equal(in.extname, "ERR");
    assert_int_equal(fitsimg_select(f, 4, &ei), ERR_NOT_FOUND);
    fitsimg_close(f);
}

static void test_write_read_back(void **state)
{
    (void)state;
    struct err_info ei = {0};
    char out[4096];
    snprintf(out, sizeof(out), "%s/wr[1].fits", g_tmp);
    unlink(out);
    struct fitsimg *src = NULL;
    assert_int_equal(fitsimg_open(data_file("j8bt05njq_raw.fits"), &src, &ei), ERR_OK);
    struct fitsimg_writer *w = NULL;
    assert_int_equal(fitsimg_writer_create(out, &w, &ei), ERR_OK);
    fitsimg_writer_set_checksum(w, true);
    assert_int_equal(fitsimg_writer_copy_keys(w, src, &ei), ERR_OK);
    assert_int_equal(fitsimg_writer_key_str(w, "CALSTEP", "test", "a comment", &ei), ERR_OK);
    int hs = -1, he = -1, hd = -1;
    assert_int_equal(fitsimg_writer_add_image(w, "SCI", 1, FITSIMG_F64, 5, 3, &hs, &ei), ERR_OK);
    assert_int_equal(fitsimg_writer_add_image(w, "ERR", 1, FITSIMG_F32, 5, 3, &he, &ei), ERR_OK);
    assert_int_equal(fitsimg_writer_add_image(w, "DQ", 1, FITSIMG_I16, 5, 3, &hd, &ei), ERR_OK);
    assert_int_equal(hs, 1);
    assert_int_equal(hd, 3);
    double sci[15];
    uint16_t dq[15];
    for (int i = 0; i < 15; i++) {
        sci[i] = i * 0.1 + 1e-12;
        dq[i] = (uint16_t)(i % 3 == 0 ? 2048 | 512 : 0);
    }
    /* bands in reverse order and interleaved between extensions */
    assert_int_equal(fitsimg_writer_select(w, hd, &ei), ERR_OK);
    assert_int_equal(fitsimg_writer_write_rows(w, 1, 2, FITSIMG_U16, dq + 5, &ei), ERR_OK);
    assert_int_equal(fitsimg_writer_select(w, hs, &ei), ERR_OK);
    assert_int_equal(fitsimg_writer_write_rows(w, 2, 1, FITSIMG_F64, sci + 10, &ei), ERR_OK);
    assert_int_equal(fitsimg_writer_write_rows(w, 0, 2, FITSIMG_F64, sci, &ei), ERR_OK);
    assert_int_equal(fitsimg_writer_key_str(w, "BUNIT", "ELECTRONS", NULL, &ei), ERR_OK);
    assert_int_equal(fitsimg_writer_key_double(w, "GAINUSED", 1.9, NULL, &ei), ERR_OK);
    assert_int_equal(fitsimg_writer_history(w, "overscan subtracted", &ei), ERR_OK);
    assert_int_equal(fitsimg_writer_write_rows(w, 2, 2, FITSIMG_F64, sci, &ei), ERR_INVALID);
    assert_int_equal(fitsimg_writer_select(w, hd, &ei), ERR_OK);
    assert_int_equal(fitsimg_writer_write_rows(w, 0, 1, FITSIMG_U16, dq, &ei), ERR_OK);
    struct stat st;
    assert_int_not_equal(stat(out, &st), 0); /* nothing at the final path before commit */
    assert_int_equal(fitsimg_writer_commit(w, &ei), ERR_OK);
    fitsimg_writer_destroy(w);
    fitsimg_close(src);

    struct fitsimg *f = NULL;
    assert_int_equal(fitsimg_open(out, &f, &ei), ERR_OK);
    assert_int_equal(fitsimg_hdu_count(f), 4);
    char s[80];
    assert_int_equal(fitsimg_key_str(f, "ROOTNAME", s, sizeof(s), &ei), ERR_OK);
    assert_string_equal(s, "j8bt05njq");
    assert_int_equal(fitsimg_key_str(f, "CALSTEP", s, sizeof(s), &ei), ERR_OK);
    assert_int_equal(fitsimg_select_name(f, "sci", 1, &ei), ERR_OK);
    double back[15];
    assert_int_equal(fitsimg_read_rows(f, 0, 3, back, &ei), ERR_OK);
    assert_memory_equal(back, sci, sizeof(sci));
    double g = 0;
    assert_int_equal(fitsimg_key_double(f, "GAINUSED", &g, &ei), ERR_OK);
    assert_true(g == 1.9);
    assert_int_equal(fitsimg_select_name(f, "DQ", 1, &ei), ERR_OK);
    assert_int_equal(fitsimg_read_rows(f, 0, 3, back, &ei), ERR_OK);
    for (int i = 0; i < 15; i++) {
        assert_true(back[i] == (double)dq[i]);
    }
    fitsimg_close(f);
    /* no temporary left behind */
    unlink(out);
}

static void test_abandoned_writer_leaves_nothing(void **state)
{
    (void)state;
    struct err_info ei = {0};
    char dir[4096], out[4200];
    snprintf(dir, sizeof(dir), "%s/abandon", g_tmp);
    mkdir(dir, 0755);
    snprintf(out, sizeof(out), "%s/abandoned.fits", dir);
    struct fitsimg_writer *w = NULL;
    assert_int_equal(fitsimg_writer_create(out, &w, &ei), ERR_OK);
    assert_int_equal(fitsimg_writer_add_image(w, "SCI", 1, FITSIMG_F32, 4, 4, NULL, &ei), ERR_OK);
    fitsimg_writer_destroy(w);
    struct stat st;
    assert_int_not_equal(stat(out, &st), 0);
    char cmd[4400];
    snprintf(cmd, sizeof(cmd), "ls -A '%s' | grep -q .", dir);
    assert_int_not_equal(system(cmd), 0);
}

static void test_truncated_and_corrupt(void **state)
{
    (void)state;
    struct err_info ei = {0};
    char out[4096];
    snprintf(out, sizeof(out), "%s/trunc.fits", g_tmp);
    /* the first 100 KiB of the Kast frame: header intact, pixels cut */
    FILE *in = fopen(data_file("kastb_b22_bias.fits"), "rb");
    FILE *o = fopen(out, "wb");
    assert_non_null(in);
    assert_non_null(o);
    static char buf[102400];
    size_t n = fread(buf, 1, sizeof(buf), in);
    fwrite(buf, 1, n, o);
    fclose(in);
    fclose(o);
    struct fitsimg *f = NULL;
    enum err e = fitsimg_open(out, &f, &ei);
    assert_int_equal(e, ERR_FITS);
    assert_non_null(strstr(ei.msg, "truncated"));
    assert_null(f);

    o = fopen(out, "wb");
    fputs("this is not a fits file at all", o);
    fclose(o);
    assert_int_equal(fitsimg_open(out, &f, &ei), ERR_FITS);
    assert_non_null(strstr(ei.msg, "trunc.fits"));
    assert_int_equal(fitsimg_open("/nonexistent/x.fits", &f, &ei), ERR_NOT_FOUND);
    unlink(out);
}

/* tile-compressed images (RICE_1 and the ngc1316 frame): cfitsio decompresses them; the pixels
 * must equal astropy's (and the uncompressed m13.fits), never a "truncated" report */
static void check_compressed(const char *name, int64_t nx, int64_t ny, double first,
                             double last, double sum_expect)
{
    struct err_info ei = {0};
    struct fitsimg *f = NULL;
    assert_int_equal(fitsimg_open(data_file(name), &f, &ei), ERR_OK);
    assert_int_equal(fitsimg_select_first_image(f, &ei), ERR_OK);
    struct fitsimg_info in;
    fitsimg_get_info(f, &in);
    assert_int_equal(in.hdu, 1);
    assert_true(in.compressed);
    assert_int_equal(in.nx, nx);
    assert_int_equal(in.ny, ny);
    double *img = NULL;
    int64_t gx = 0, gy = 0;
    assert_int_equal(fitsimg_read_all(f, &img, &gx, &gy, &ei), ERR_OK);
    assert_int_equal(gx, nx);
    assert_int_equal(gy, ny);
    double sum = 0;
    for (int64_t i = 0; i < nx * ny; i++) {
        sum += img[i];
    }
    assert_true(img[0] == first);
    assert_true(img[nx * ny - 1] == last);
    assert_true(sum == sum_expect);
    /* a band of the last rows read on its own equals the same rows of the whole image */
    float *band = malloc((size_t)(2 * nx) * sizeof(float));
    assert_non_null(band);
    assert_int_equal(fitsimg_read_rows_f(f, ny - 2, 2, band, &ei), ERR_OK);
    for (int64_t i = 0; i < 2 * nx; i++) {
        assert_true((double)band[i] == img[(ny - 2) * nx + i]);
    }
    free(band);
    free(img);
    fitsimg_close(f);
}

static void test_tile_compressed(void **state)
{
    (void)state;
    check_compressed("m13_rice.fits", 300, 300, 112.0, 112.0, 13293397.0);
    check_compressed("ngc1316_comp.fits", 440, 300, 7.0, 65.0, 34417871.0);
}

int main(void)
{
    g_tmp = getenv("OBSFLOW_TEST_TMP");
    if (!g_tmp) {
        g_tmp = "/tmp";
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kast_primary_image),
        cmocka_unit_test(test_hst_raw_imsets),
        cmocka_unit_test(test_write_read_back),
        cmocka_unit_test(test_abandoned_writer_leaves_nothing),
        cmocka_unit_test(test_truncated_and_corrupt),
        cmocka_unit_test(test_tile_compressed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
