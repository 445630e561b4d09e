/* test_preview.c - fitscut-style previews: autoscale on known values, asinh mapping, resize,
 * BADPIX handling, JPEG validity, and real FITS files from ../shared/testdata/fits.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fits/fits_image.h"
#include "core/atomic_file.h"
#include "preview/preview.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>

static char shared_fits[1024];
static char tmpdir[1024];

static void path_in(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", shared_fits, name);
}

static void path_tmp(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

/* Decode a JPEG file with libjpeg; returns the greyscale pixels (owned) or NULL. */
static uint8_t *decode_jpeg(const char *path, size_t *w, size_t *h, int *components)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        return NULL;
    }
    struct jpeg_decompress_struct d;
    struct jpeg_error_mgr jerr;
    d.err = jpeg_std_error(&jerr);
    jpeg_create_decompress(&d);
    jpeg_stdio_src(&d, fp);
    jpeg_read_header(&d, TRUE);
    jpeg_start_decompress(&d);
    *w = d.output_width;
    *h = d.output_height;
    *components = d.output_components;
    uint8_t *px = malloc((size_t)d.output_width * d.output_height * (size_t)d.output_components);
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = px + (size_t)d.output_scanline * d.output_width * (size_t)d.output_components;
        jpeg_read_scanlines(&d, &row, 1);
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    fclose(fp);
    return px;
}

/* The documented mapping, computed directly (the oracle for the threshold search). */
static int expected_grey(double v, double mn, double mx)
{
    if (isnan(v)) {
        return 0;
    }
    double t = (v - mn) / (mx - mn);
    if (t < 0) {
        t = 0;
    }
    if (t > 1) {
        t = 1;
    }
    double u = asinh(3.0 * t) / 3.0;
    double g = u / 0.7 * 255.0;
    if (g > 255) {
        g = 255;
    }
    return (int)floor(g + 0.5);
}

static double *ramp(size_t nx, size_t ny)
{
    double *p = malloc(sizeof *p * nx * ny);
    for (size_t i = 0; i < nx * ny; i++) {
        p[i] = (double)i;
    }
    return p;
}

static void test_autoscale_known(void **state)
{
    (void)state;
    /* 200 x 100 ramp 0..19999: every row is sampled (20000 < 250000) */
    double *p = ramp(200, 100);
    struct preview_scale sc;
    assert_int_equal(preview_autoscale(p, 200, 100, 99.5, &sc, NULL), ERR_OK);
    assert_int_equal(sc.nsample, 20000);
    assert_true(sc.min == 100.0);   /* round(0.005 * 19999) */
    assert_true(sc.max == 19899.0); /* round(0.995 * 19999) */
    /* NaN pixels are left out of the sample */
    for (size_t i = 0; i < 200; i++) {
        p[i] = NAN;
    }
    assert_int_equal(preview_autoscale(p, 200, 100, 99.5, &sc, NULL), ERR_OK);
    assert_int_equal(sc.nsample, 19800);
    free(p);

    /* a big image is sampled by rows: about PREVIEW_NSAMPLE pixels */
    p = ramp(2000, 1000);
    assert_int_equal(preview_autoscale(p, 2000, 1000, 99.5, &sc, NULL), ERR_OK);
    assert_int_equal(sc.nsample, 125 * 2000);
    assert_true(sc.min > 0 && sc.min < 0.02 * 2e6);
    assert_true(sc.max > 0.98 * 2e6 && sc.max < 2e6);
    free(p);

    /* constant image: a non-empty range so nothing divides by zero */
    double c[16];
    for (int i = 0; i < 16; i++) {
        c[i] = 7.0;
    }
    assert_int_equal(preview_autoscale(c, 4, 4, 99.5, &sc, NULL), ERR_OK);
    assert_true(sc.min == 7.0 && sc.max == 8.0);
    /* nothing good at all */
    for (int i = 0; i < 16; i++) {
        c[i] = NAN;
    }
    struct err_info ei;
    assert_int_equal(preview_autoscale(c, 4, 4, 99.5, &sc, &ei), ERR_INVALID);
    assert_non_null(strstr(ei.msg, "no good pixels"));
}

static void test_render_mapping(void **state)
{
    (void)state;
    size_t nx = 200, ny = 100, w, h;
    double *p = ramp(nx, ny);
    struct preview_opts o;
    preview_opts_default(&o);
    uint8_t *g = NULL;
    struct preview_scale sc;
    assert_int_equal(preview_render(p, nx, ny, &o, &g, &w, &h, &sc, NULL), ERR_OK);
    assert_int_equal(w, nx);
    assert_int_equal(h, ny);
    size_t mism = 0;
    int maxg = 0;
    for (size_t y = 0; y < ny; y++) {
        for (size_t x = 0; x < nx; x++) {
            /* output row 0 is the top: FITS row ny-1 */
            double v = p[(ny - 1 - y) * nx + x];
            int e = expected_grey(v, sc.min, sc.max);
            int got = g[y * nx + x];
            if (abs(e - got) > 0) {
                mism++;
            }
            assert_true(abs(e - got) <= 1);
            if (got > maxg) {
                maxg = got;
            }
        }
    }
    assert_true(mism < 10); /* only exact rounding boundaries may differ */
    /* the bottom-left FITS pixel (below min) is black and at the bottom of the picture */
    assert_int_equal(g[(ny - 1) * nx], 0);
    /* t = 1 gives asinh(3)/3 / 0.7 * 255 = 220.8 -> 221; nothing brighter */
    assert_int_equal(maxg, 221);
    assert_int_equal(g[0 * nx + nx - 1], 221);
    free(g);
    free(p);
}

static void test_badpix(void **state)
{
    (void)state;
    size_t nx = 100, ny = 100, w, h;
    double *p = ramp(nx, ny);
    /* a block of "bad" pixels with a huge value would wreck the scale if it were used */
    for (size_t i = 5000; i < 5500; i++) {
        p[i] = 1e9;
    }
    p[10] = -1e9;
    struct preview_badpix bp = {.has_badpix = true, .badpix = 1e9, .has_goodmin = true,
                                .goodmin = -100.0};
    assert_int_equal(preview_apply_badpix(p, nx * ny, &bp), 501);
    struct preview_scale sc;
    assert_int_equal(preview_autoscale(p, nx, ny, 99.5, &sc, NULL), ERR_OK);
    assert_true(sc.max < 10000.0);
    struct preview_opts o;
    preview_opts_default(&o);
    uint8_t *g = NULL;
    assert_int_equal(preview_render(p, nx, ny, &o, &g, &w, &h, NULL, NULL), ERR_OK);
    /* a bad pixel in the middle of a bright area renders black */
    size_t fy = 5200 / nx, fx = 5200 % nx;
    assert_int_equal(g[(ny - 1 - fy) * nx + fx], 0);
    free(g);
    free(p);
    struct preview_badpix bp2 = {.has_goodmax = true, .goodmax = 1.0};
    double q[3] = {0.5, 2.0, NAN};
    assert_int_equal(preview_apply_badpix(q, 3, &bp2), 1);
    assert_true(isnan(q[1]));
}

static void test_resize(void **state)
{
    (void)state;
    size_t w, h;
    double *p = ramp(1062, 1044);
    struct preview_opts o;
    preview_opts_default(&o);
    o.size = 128;
    uint8_t *g = NULL;
    assert_int_equal(preview_render(p, 1062, 1044, &o, &g, &w, &h, NULL, NULL), ERR_OK);
    assert_int_equal(w, 128);
    assert_int_equal(h, 126); /* round(1044 * 128 / 1062) */
    /* the ramp grows upwards, so the picture darkens from top to bottom */
    assert_true(g[0] > g[(h - 1) * w]);
    free(g);
    free(p);
    /* tall image, and an image smaller than the thumbnail (enlarged to 128) */
    p = ramp(40, 90);
    assert_int_equal(preview_render(p, 40, 90, &o, &g, &w, &h, NULL, NULL), ERR_OK);
    assert_int_equal(h, 128);
    assert_int_equal(w, 57);
    free(g);
    free(p);
    o.size = PREVIEW_MAX_SIZE + 1;
    p = ramp(4, 4);
    assert_int_equal(preview_render(p, 4, 4, &o, &g, &w, &h, NULL, NULL), ERR_INVALID);
    free(p);
}

static void test_jpeg_roundtrip(void **state)
{
    (void)state;
    size_t w, h, dw, dh;
    int comp;
    double *p = ramp(300, 200);
    struct preview_opts o;
    preview_opts_default(&o);
    uint8_t *g = NULL;
    assert_int_equal(preview_render(p, 300, 200, &o, &g, &w, &h, NULL, NULL), ERR_OK);
    unsigned char *jpg = NULL;
    size_t jlen = 0;
    assert_int_equal(preview_jpeg_encode(g, w, h, 75, &jpg, &jlen, NULL), ERR_OK);
    assert_true(jlen > 100);
    assert_int_equal(jpg[0], 0xFF);
    assert_int_equal(jpg[1], 0xD8);
    char out[1100];
    path_tmp(out, sizeof out, "ramp.jpg");
    assert_int_equal(atomic_file_put(out, jpg, jlen, true, NULL), ERR_OK);
    uint8_t *d = decode_jpeg(out, &dw, &dh, &comp);
    assert_non_null(d);
    assert_int_equal(dw, 300);
    assert_int_equal(dh, 200);
    assert_int_equal(comp, 1);
    double se = 0, sd = 0;
    for (size_t i = 0; i < w * h; i++) {
        se += g[i];
        sd += d[i];
    }
    assert_true(fabs(se - sd) / (double)(w * h) < 1.0); /* lossy, but the mean survives */
    free(d);
    free(jpg);
    free(g);
    free(p);
}

struct real_case {
    const char *file;
    size_t nx, ny;
    int hdu;
    const char *extname;
};

static void test_real_files(void **state)
{
    (void)state;
    const struct real_case cases[] = {
        {"j8bt05njq_raw.fits", 1062, 1044, 1, "SCI"}, /* HST MEF: SCI,1 */
        {"o4sp040b0_raw.fits", 62, 44, 1, "SCI"},
        {"wfpc2_test0.fits", 40, 40, 1, "SCI"},
        {"m13.fits", 300, 300, 0, ""},
        {"m51.fits", 512, 512, 0, ""},
        {"kastb_b27_science.fits", 2112, 350, 0, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct real_case *c = &cases[i];
        char in[1100], full[1100], thumb[1100];
        struct preview_opts o;
        struct preview_result r;
        struct err_info ei;
        size_t w, h;
        int comp;
        path_in(in, sizeof in, c->file);
        snprintf(full, sizeof full, "%s/%zu.jpg", tmpdir, i);
        snprintf(thumb, sizeof thumb, "%s/%zu_thumb.jpg", tmpdir, i);
        preview_opts_default(&o);
        err_info_clear(&ei);
        enum err rc = preview_file(in, full, &o, &r, &ei);
        if (rc != ERR_OK) {
            fail_msg("%s: %s", c->file, ei.msg);
        }
        assert_int_equal(r.width, c->nx);
        assert_int_equal(r.height, c->ny);
        assert_int_equal(r.hdu, c->hdu);
        assert_string_equal(r.extname, c->extname);
        assert_true(r.scale.max > r.scale.min);
        uint8_t *d = decode_jpeg(full, &w, &h, &comp);
        assert_non_null(d);
        assert_int_equal(w, c->nx);
        assert_int_equal(h, c->ny);
        /* a real sky image uses a good part of the grey range */
        uint8_t lo = 255, hi = 0;
        for (size_t k = 0; k < w * h; k++) {
            lo = d[k] < lo ? d[k] : lo;
            hi = d[k] > hi ? d[k] : hi;
        }
        assert_true(hi - lo > 100);
        free(d);

        o.size = PREVIEW_THUMB_SIZE;
        assert_int_equal(preview_file(in, thumb, &o, &r, &ei), ERR_OK);
        size_t longest = r.width > r.height ? r.width : r.height;
        assert_int_equal(longest, 128);
        d = decode_jpeg(thumb, &w, &h, &comp);
        assert_non_null(d);
        assert_int_equal(w, r.width);
        assert_int_equal(h, r.height);
        free(d);
    }
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        return NULL;
    }
    unsigned char *b = malloc(1 << 24);
    *len = fread(b, 1, 1 << 24, fp);
    fclose(fp);
    return b;
}

/* The streamed file path (sampled rows, bands, block shrink; images above 2^21 pixels) and
 * the whole-image path give the same bytes as the in-memory algorithm on the same pixels. */
static void stream_case(size_t nx, size_t ny)
{
    double *p = malloc(sizeof *p * nx * ny);
    for (size_t i = 0; i < nx * ny; i++) {
        p[i] = sin((double)i * 0.001) * 100.0 + (double)(i % 977);
    }
    p[1234] = NAN;
    char fits[1100], out[1100];
    path_tmp(fits, sizeof fits, "stream.fits");
    struct fitsimg_writer *w = NULL;
    assert_int_equal(fitsimg_writer_create(fits, &w, NULL), ERR_OK);
    assert_int_equal(fitsimg_writer_add_image(w, "SCI", 1, FITSIMG_F64, (int64_t)nx, (int64_t)ny,
                                              NULL, NULL),
                     ERR_OK);
    assert_int_equal(fitsimg_writer_write_rows(w, 0, (int64_t)ny, FITSIMG_F64, p, NULL), ERR_OK);
    assert_int_equal(fitsimg_writer_commit(w, NULL), ERR_OK);
    fitsimg_writer_destroy(w);
    const int sizes[] = {0, 128, 300, 650, 1500};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        struct preview_opts o;
        preview_opts_default(&o);
        o.size = sizes[k];
        path_tmp(out, sizeof out, "stream.jpg");
        assert_int_equal(preview_file(fits, out, &o, NULL, NULL), ERR_OK);
        uint8_t *g = NULL;
        size_t gw, gh, flen = 0, alen = 0;
        assert_int_equal(preview_render(p, nx, ny, &o, &g, &gw, &gh, NULL, NULL), ERR_OK);
        unsigned char *a = NULL;
        assert_int_equal(preview_jpeg_encode(g, gw, gh, 75, &a, &alen, NULL), ERR_OK);
        unsigned char *f = slurp(out, &flen);
        assert_non_null(f);
        assert_int_equal(flen, alen);
        assert_memory_equal(f, a, alen);
        free(f);
        free(a);
        free(g);
    }
    free(p);
}

static void test_stream_equals_array(void **state)
{
    (void)state;
    stream_case(700, 460);   /* read whole */
    stream_case(2200, 1000); /* streamed */
    stream_case(900, 2400);  /* streamed, tall */
}

static void test_bad_inputs(void **state)
{
    (void)state;
    char in[1100], out[1100], trunc[1100];
    struct preview_opts o;
    struct err_info ei;
    preview_opts_default(&o);
    path_tmp(out, sizeof out, "bad.jpg");

    path_tmp(in, sizeof in, "does-not-exist.fits");
    assert_int_not_equal(preview_file(in, out, &o, NULL, &ei), ERR_OK);
    assert_non_null(strstr(ei.msg, "does-not-exist.fits"));

    /* tables only: no image HDU */
    path_in(in, sizeof in, "s7g1700gl_dead.fits");
    assert_int_equal(preview_file(in, out, &o, NULL, &ei), ERR_NOT_FOUND);

    /* truncated copy of a real raw file */
    path_in(in, sizeof in, "j8bt05njq_raw.fits");
    path_tmp(trunc, sizeof trunc, "trunc.fits");
    FILE *src = fopen(in, "rb");
    FILE *dst = fopen(trunc, "wb");
    assert_non_null(src);
    assert_non_null(dst);
    char buf[2880];
    for (int k = 0; k < 100; k++) {
        assert_int_equal(fread(buf, 1, sizeof buf, src), sizeof buf);
        fwrite(buf, 1, sizeof buf, dst);
    }
    fclose(src);
    fclose(dst);
    err_info_clear(&ei);
    assert_int_not_equal(preview_file(trunc, out, &o, NULL, &ei), ERR_OK);
    assert_true(strlen(ei.msg) > 0);
    struct stat st;
    assert_int_not_equal(stat(out, &st), 0); /* nothing written */
}

int main(int argc, char **argv)
{
    const char *sh = getenv("OBSFLOW_SHARED");
    const char *tmp = getenv("OBSFLOW_TEST_TMP");
    if (!sh || !tmp) {
        fprintf(stderr, "OBSFLOW_SHARED and OBSFLOW_TEST_TMP must be set\n");
        return 1;
    }
    snprintf(shared_fits, sizeof shared_fits, "%s/testdata/fits", sh);
    snprintf(tmpdir, sizeof tmpdir, "%s", tmp);
    /* "files": the real-file and streaming cases (integration); default: the algorithm */
    const struct CMUnitTest algo[] = {
        cmocka_unit_test(test_autoscale_known), cmocka_unit_test(test_render_mapping),
        cmocka_unit_test(test_badpix),          cmocka_unit_test(test_resize),
        cmocka_unit_test(test_jpeg_roundtrip),
    };
    const struct CMUnitTest files[] = {
        cmocka_unit_test(test_real_files),
        cmocka_unit_test(test_stream_equals_array),
        cmocka_unit_test(test_bad_inputs),
    };
    if (argc > 1 && strcmp(argv[1], "files") == 0) {
        return cmocka_run_group_tests(files, NULL, NULL);
    }
    return cmocka_run_group_tests(algo, NULL, NULL);
}
