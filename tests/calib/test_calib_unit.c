/* test_calib_unit.c - lib/calib: sections, per-pixel combination (ccdproc 2.4 and default
 * rules), calibration steps on small synthetic frames, and reference selection.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "calib/calib.h"
#include "fits/fits_image.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void near_impl(double a, double b, int line)
{
    if (!(fabs(a - b) <= 1e-12 * (fabs(b) > 1 ? fabs(b) : 1))) {
        fail_msg("line %d: %.17g != %.17g", line, a, b);
    }
}
#define NEAR(a, b) near_impl((double)(a), (double)(b), __LINE__)

/* ---------------------------------------------------------------- sections */

static void test_section_parse(void **state)
{
    (void)state;
    struct calib_section s;
    struct err_info ei;
    assert_int_equal(calib_section_parse("[17:528,1:520]", 536, 520, &s, &ei), ERR_OK);
    assert_int_equal(s.x0, 16);
    assert_int_equal(s.x1, 528);
    assert_int_equal(s.y0, 0);
    assert_int_equal(s.y1, 520);
    assert_int_equal(calib_section_parse(" [ 1 : 4 , * ] ", 10, 7, &s, &ei), ERR_OK);
    assert_int_equal(s.x1, 4);
    assert_int_equal(s.y1, 7);
    char buf[64];
    calib_section_format(&s, buf, sizeof(buf));
    assert_string_equal(buf, "[1:4,1:7]");
    static const char *const bad[] = {"", "[]", "[1:2]", "[2:1,1:3]", "[0:3,1:2]", "1:2,1:2",
                                      "[1:2,1:2", "[a:b,1:2]", "[1:2,1:2,1:2]", "[1:2;1:2]",
                                      "[-1:2,1:2]", "[1:9999999999,1:2]", "[1:2,1:3]x"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        assert_int_equal(calib_section_parse(bad[i], 10, 10, &s, &ei), ERR_INVALID);
        assert_true(ei.msg[0] != '\0');
    }
    assert_int_equal(calib_section_parse("[1:11,1:2]", 10, 10, &s, &ei), ERR_INVALID);
    assert_non_null(strstr(ei.msg, "outside"));
    assert_int_equal(calib_section_parse("[*,1:2]", 0, 0, &s, &ei), ERR_INVALID);
    char longs[200];
    memset(longs, '1', sizeof(longs) - 1);
    longs[sizeof(longs) - 1] = '\0';
    assert_int_equal(calib_section_parse(longs, 10, 10, &s, &ei), ERR_INVALID);
}

/* ---------------------------------------------------------------- combine kernel */

static void combine(const double *v, size_t n, const struct calib_combine_opts *o, double *val,
                    double *sig, bool *all)
{
    double scratch[2 * 64];
    calib_combine_pixel(v, NULL, n, o, NULL, scratch, val, sig, all);
}

static void test_combine_methods(void **state)
{
    (void)state;
    const double v[5] = {1, 2, 3, 4, 10};
    struct calib_combine_opts o;
    memset(&o, 0, sizeof(o));
    double val, sig;
    bool all;
    o.method = CALIB_COMBINE_AVERAGE;
    combine(v, 5, &o, &val, &sig, &all);
    NEAR(val, 4.0);
    /* std(ddof=0) = sqrt(50/5) = sqrt(10); / sqrt(5) */
    NEAR(sig, sqrt(10.0) / sqrt(5.0));
    assert_false(all);
    o.method = CALIB_COMBINE_MEDIAN;
    combine(v, 5, &o, &val, &sig, &all);
    NEAR(val, 3.0);
    /* |v-3| = 2 1 0 1 7 -> MAD 1 */
    NEAR(sig, 1.482602218505602 / sqrt(5.0));
    combine(v, 4, &o, &val, &sig, &all); /* even count: mean of the middle two */
    NEAR(val, 2.5);
    o.method = CALIB_COMBINE_SUM;
    combine(v, 5, &o, &val, &sig, &all);
    NEAR(val, 20.0);
    NEAR(sig, sqrt(10.0) / sqrt(5.0) * 5.0);
}

static void test_combine_rejection(void **state)
{
    (void)state;
    /* one outlier among ten: mean 10.9... */
    double v[10] = {10, 10.5, 9.5, 10, 10.2, 9.8, 10.1, 9.9, 10, 50};
    struct calib_combine_opts o;
    memset(&o, 0, sizeof(o));
    o.method = CALIB_COMBINE_AVERAGE;
    o.sigma_clip = true;
    o.sigma_low = 3;
    o.sigma_high = 2;
    double val, sig;
    bool all;
    o.mode = CALIB_MODE_CCDPROC;
    combine(v, 10, &o, &val, &sig, &all);
    NEAR(val, 10.0); /* 50 rejected: mean of the other nine is 90/9 */
    o.mode = CALIB_MODE_DEFAULT;
    combine(v, 10, &o, &val, &sig, &all);
    NEAR(val, 10.0);

    /* 2.4.0: sigma clipping replaces earlier rejections (extrema come back) */
    double w[6] = {1, 2, 3, 4, 5, 6};
    o.sigma_low = o.sigma_high = 3;
    o.clip_extrema = true;
    o.nlow = 1;
    o.nhigh = 1;
    o.mode = CALIB_MODE_CCDPROC;
    combine(w, 6, &o, &val, &sig, &all);
    NEAR(val, 3.5);
    o.mode = CALIB_MODE_DEFAULT; /* default keeps them out */
    combine(w, 6, &o, &val, &sig, &all);
    NEAR(val, 3.5);
    o.sigma_clip = false;
    o.nlow = 2;
    o.nhigh = 0;
    combine(w, 6, &o, &val, &sig, &all);
    NEAR(val, 4.5); /* 3,4,5,6 */

    /* min/max clipping, then everything rejected */
    o.clip_extrema = false;
    o.has_min_clip = true;
    o.min_clip = 2.5;
    o.has_max_clip = true;
    o.max_clip = 5.5;
    combine(w, 6, &o, &val, &sig, &all);
    NEAR(val, 4.0);
    o.min_clip = 100;
    combine(w, 6, &o, &val, &sig, &all);
    assert_true(all);
    assert_true(isnan(val));
    o.method = CALIB_COMBINE_SUM;
    combine(w, 6, &o, &val, &sig, &all);
    assert_true(all && val == 0.0); /* numpy nansum of nothing */

    /* NaN inputs are skipped */
    double x[3] = {1, NAN, 3};
    memset(&o, 0, sizeof(o));
    combine(x, 3, &o, &val, &sig, &all);
    NEAR(val, 2.0);
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_median_sizes(void **state)
{
    (void)state;
    /* the sorting network (n <= 8), insertion sort (<= 16) and selection paths against qsort */
    struct calib_combine_opts o;
    memset(&o, 0, sizeof(o));
    o.method = CALIB_COMBINE_MEDIAN;
    unsigned seed = 12345;
    for (size_t n = 1; n <= 64; n++) {
        for (int rep = 0; rep < 50; rep++) {
            double v[64], s[64], scratch[128], val, sig;
            bool all;
            for (size_t i = 0; i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                v[i] = (double)((seed >> 16) % 7) - 3.0 + (rep % 2 ? (double)(seed % 1000) / 7 : 0);
                s[i] = v[i];
            }
            qsort(s, n, sizeof(double), cmpd);
            double want = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2.0;
            calib_combine_pixel(v, NULL, n, &o, NULL, scratch, &val, &sig, &all);
            if (val != want) {
                fail_msg("n=%zu rep=%d median %.17g want %.17g", n, rep, val, want);
            }
        }
    }
}

static void test_combine_weights_scale(void **state)
{
    (void)state;
    double v[3] = {1, 2, 100};
    double wt[3] = {1, 3, 1};
    double sc[3] = {2, 1, 1};
    struct calib_combine_opts o;
    memset(&o, 0, sizeof(o));
    o.method = CALIB_COMBINE_AVERAGE;
    o.weights = wt;
    o.has_max_clip = true;
    o.max_clip = 50;
    double scratch[6], val, sig;
    bool all;
    /* ccdproc 2.4 divides by the sum of all weights, rejected ones included */
    o.mode = CALIB_MODE_CCDPROC;
    calib_combine_pixel(v, NULL, 3, &o, sc, scratch, &val, &sig, &all);
    NEAR(val, (2.0 * 1 + 2.0 * 3) / 5.0);
    o.mode = CALIB_MODE_DEFAULT;
    calib_combine_pixel(v, NULL, 3, &o, sc, scratch, &val, &sig, &all);
    NEAR(val, (2.0 * 1 + 2.0 * 3) / 4.0);
}

/* ---------------------------------------------------------------- steps */

static void frame(struct calib_frame *f, int64_t nx, int64_t ny)
{
    struct err_info ei;
    assert_int_equal(calib_frame_alloc(f, nx, ny, &ei), ERR_OK);
    snprintf(f->source, sizeof(f->source), "synthetic");
}

static void test_overscan_trim(void **state)
{
    (void)state;
    struct calib_frame f;
    frame(&f, 6, 4);
    /* data columns 0..3, overscan columns 4..5 with level 100 + row, one hot overscan pixel */
    for (int y = 0; y < 4; y++) {
        for (int x = 0; x < 6; x++) {
            f.sci[y * 6 + x] = x < 4 ? 1000 + x : 100 + y;
        }
    }
    f.sci[2 * 6 + 5] = 400; /* row 2: mean 251, median 251 (two values) */
    struct calib_section s;
    struct err_info ei;
    assert_int_equal(calib_section_parse("[5:6,1:4]", 6, 4, &s, &ei), ERR_OK);
    double lv[4];
    assert_int_equal(calib_overscan(&f, &s, CALIB_OSCAN_MEDIAN, false, CALIB_MODE_CCDPROC, lv, &ei),
                     ERR_OK);
    NEAR(lv[0], 100);
    NEAR(lv[2], (102 + 400) / 2.0);
    NEAR(f.sci[1 * 6 + 3], 1003 - 101);
    /* linear fit through the levels of rows 0,1,3 (row 2 flagged in DQ, default mode skips it) */
    struct calib_frame g;
    frame(&g, 6, 4);
    for (int y = 0; y < 4; y++) {
        for (int x = 0; x < 6; x++) {
            g.sci[y * 6 + x] = x < 4 ? 1000 : 100 + 2 * y;
        }
    }
    g.dq[2 * 6 + 4] = 16;
    g.dq[2 * 6 + 5] = 16;
    assert_int_equal(calib_overscan(&g, &s, CALIB_OSCAN_MEAN, true, CALIB_MODE_DEFAULT, lv, &ei),
                     ERR_OK);
    NEAR(lv[2], 104);
    NEAR(g.sci[3 * 6 + 0], 1000 - 106);
    assert_true(g.dq[0 * 6 + 4] & CALIB_DQ_OVERSCAN);
    /* without the fit a row with no good overscan pixel is an error naming it */
    memset(g.dq, 0, 24 * sizeof(uint16_t)); /* the first pass flagged the overscan (128) */
    g.dq[1 * 6 + 4] = g.dq[1 * 6 + 5] = 4;
    assert_int_equal(calib_overscan(&g, &s, CALIB_OSCAN_MEDIAN, false, CALIB_MODE_DEFAULT, NULL,
                                    &ei),
                     ERR_CALIB);
    assert_non_null(strstr(ei.msg, "row 2"));

    assert_int_equal(calib_section_parse("[2:3,2:3]", 6, 4, &s, &ei), ERR_OK);
    assert_int_equal(calib_trim(&f, &s, &ei), ERR_OK);
    assert_int_equal(f.nx, 2);
    assert_int_equal(f.ny, 2);
    NEAR(f.sci[0], 1001 - 101);
    calib_frame_free(&f);
    calib_frame_free(&g);
}

static void test_chain_default_and_errors(void **state)
{
    (void)state;
    struct calib_frame f, bias, flat, small;
    struct err_info ei;
    frame(&f, 4, 2);
    frame(&bias, 4, 2);
    frame(&flat, 4, 2);
    frame(&small, 3, 2);
    for (int i = 0; i < 8; i++) {
        f.sci[i] = 110 + i;
        bias.sci[i] = 10;
        flat.sci[i] = i == 5 ? 0.0 : 2.0; /* mean over usable pixels 2 -> normalised 1 */
    }
    bias.dq[3] = 16;
    struct calib_plan p;
    memset(&p, 0, sizeof(p));
    p.bias = &bias;
    p.flat = &flat;
    p.has_gain = true;
    p.gain = 2;
    p.has_readnoise = true;
    p.readnoise = 3;
    p.fullwell = 225;
    struct calib_record rec;
    memset(&rec, 0, sizeof(rec));
    assert_int_equal(calib_run(&f, &p, &rec, &ei), ERR_OK);
    /* (110 + i - 10) * 2 */
    NEAR(f.sci[0], 200);
    NEAR(f.err[0], sqrt(200 + 9));
    NEAR(f.sci[7], 214);
    assert_true(f.dq[3] & 16);                       /* bias DQ carried */
    assert_true(f.dq[5] & CALIB_DQ_CALIBDEFECT);     /* flat <= 0 */
    NEAR(f.sci[5], 210);                             /* left unchanged there */
    assert_false(f.dq[6] & CALIB_DQ_SATPIXEL);       /* 212 e- <= 225 */
    assert_true(f.dq[4] == 0);
    assert_string_equal(f.bunit, "ELECTRONS");
    bool saw = false;
    for (int i = 0; i < rec.nkeys; i++) {
        if (strcmp(rec.keys[i].name, "FLATCORR") == 0) {
            saw = true;
        }
    }
    assert_true(saw);
    /* shape mismatch names both shapes */
    p.flat = NULL;
    p.bias = &small;
    assert_int_equal(calib_run(&f, &p, &rec, &ei), ERR_CALIB);
    assert_non_null(strstr(ei.msg, "shape mismatch"));
    assert_non_null(strstr(ei.msg, "3x2"));
    calib_frame_free(&f);
    calib_frame_free(&bias);
    calib_frame_free(&flat);
    calib_frame_free(&small);
}

static void test_deviation_nan(void **state)
{
    (void)state;
    struct calib_frame f;
    struct err_info ei;
    frame(&f, 2, 1);
    f.sci[0] = -1;
    f.sci[1] = 4;
    assert_int_equal(calib_deviation(&f, 2.0, 3.0, &ei), ERR_OK);
    assert_true(isnan(f.err[0]));
    NEAR(f.err[1], sqrt(8.0 + 9.0) / 2.0);
    calib_frame_free(&f);
}

static void test_crreject(void **state)
{
    (void)state;
    struct calib_frame a, b, c, out;
    struct calib_frame *fr[3] = {&a, &b, &c};
    struct err_info ei;
    double t[3] = {100, 100, 200};
    for (int k = 0; k < 3; k++) {
        frame(fr[k], 3, 1);
        fr[k]->exptime = t[k];
        fr[k]->has_exptime = true;
        assert_int_equal(calib_frame_ensure_err(fr[k], &ei), ERR_OK);
        for (int i = 0; i < 3; i++) {
            fr[k]->sci[i] = 2.0 * t[k]; /* 2 e-/s everywhere */
            fr[k]->err[i] = sqrt(fr[k]->sci[i] + 25);
        }
    }
    b.sci[1] += 5000; /* a cosmic ray in the second exposure */
    c.dq[2] = 16;     /* a flagged pixel in the third */
    size_t nrej = 0;
    assert_int_equal(calib_crreject(fr, 3, 4.0, 0.0, &out, &nrej, &ei), ERR_OK);
    assert_int_equal(nrej, 1);
    NEAR(out.sci[0], 800); /* 2 e-/s over 400 s */
    NEAR(out.sci[1], 800); /* the hit is replaced by the others scaled to 400 s */
    NEAR(out.sci[2], 800);
    assert_int_equal(out.dq[1], 0);
    assert_true(out.exptime == 400);
    /* shapes and exposure times are checked */
    c.exptime = 0;
    assert_int_equal(calib_crreject(fr, 3, 4.0, 0.0, &out, &nrej, &ei), ERR_CALIB);
    assert_int_equal(calib_crreject(fr, 1, 4.0, 0.0, &out, &nrej, &ei), ERR_INVALID);
    calib_frame_free(&out);
    for (int k = 0; k < 3; k++) {
        calib_frame_free(fr[k]);
    }
}

/* ---------------------------------------------------------------- reference selection */

struct hdr {
    const char *k[8];
    const char *v[8];
};

static const char *hget(const char *key, void *arg)
{
    const struct hdr *h = arg;
    for (int i = 0; i < 8 && h->k[i]; i++) {
        if (strcmp(h->k[i], key) == 0) {
            return h->v[i];
        }
    }
    return NULL;
}

static void test_condition(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"2", "2.0"},       {"1.", "1.0"},         {" hrc ", "HRC"},   {"any", "*"},
        {"N/A", "N/A"},     {"not applicable", "N/A"}, {"()", "N/A"},  {"true", "T"},
        {"F", "F"},         {"4294967295", "-1.0"}, {"-2147483648", "N/A"}, {"1e20", "1e+20"}, {"1E16", "1e+16"},
        {"0.0001", "0.0001"}, {"1.5e-05", "1.5e-05"}, {"1234567890123456", "1234567890123456.0"},
        {"-3", "-3.0"},     {"F555W", "F555W"},    {"2.0", "2.0"},
    };
    char out[64];
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        calib_refcat_condition(cases[i][0], out, sizeof(out));
        if (strcmp(out, cases[i][1]) != 0) {
            fail_msg("condition(\"%s\") = \"%s\", want \"%s\"", cases[i][0], out, cases[i][1]);
        }
    }
    calib_refcat_condition(NULL, out, sizeof(out));
    assert_string_equal(out, "UNDEFINED");
    char d[20];
    struct err_info ei;
    assert_int_equal(calib_refcat_date("2002-04-13", "18:16:35", d, &ei), ERR_OK);
    assert_string_equal(d, "2002-04-13 18:16:35");
    assert_int_equal(calib_refcat_date("Apr 12 2013 13:06:59", NULL, d, &ei), ERR_OK);
    assert_string_equal(d, "2013-04-12 13:06:59");
    assert_int_equal(calib_refcat_date("Jan 1 1991", NULL, d, &ei), ERR_OK);
    assert_string_equal(d, "1991-01-01 00:00:00");
    assert_int_equal(calib_refcat_date("2015-05-20T03:44:04.78", NULL, d, &ei), ERR_OK);
    assert_string_equal(d, "2015-05-20 03:44:04");
    assert_int_equal(calib_refcat_date("13/04/94", NULL, d, &ei), ERR_OK);
    assert_string_equal(d, "1994-04-13 00:00:00");
    assert_int_equal(calib_refcat_date("2002-13-01", NULL, d, &ei), ERR_INVALID);
    assert_int_equal(calib_refcat_date("yesterday", NULL, d, &ei), ERR_INVALID);
    assert_int_equal(calib_refcat_date("2002-04-13", "25:00:00", d, &ei), ERR_INVALID);
}

static struct calib_refcat *load_acs(void)
{
    const char *src = getenv("OBSFLOW_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/config/references/acs.yaml", src ? src : ".");
    struct calib_refcat *c = NULL;
    struct err_info ei;
    enum err e = calib_refcat_load(path, &c, &ei);
    if (e != ERR_OK) {
        fail_msg("%s", ei.msg);
    }
    return c;
}

static void test_select_acs(void **state)
{
    (void)state;
    struct calib_refcat *c = load_acs();
    assert_string_equal(calib_refcat_instrument(c), "ACS");
    /* the header of ../shared/testdata/fits/j8bt05njq_raw.fits */
    struct hdr h = {{"DETECTOR", "CCDAMP", "CCDGAIN", "FILTER1", "FILTER2"},
                    {"HRC", "C", "2", "F555W", "CLEAR2S"}};
    struct calib_refsel sel;
    struct err_info ei;
    assert_int_equal(calib_refcat_select(c, "BIASFILE", hget, &h, "2002-04-13 18:16:35", &sel, &ei),
                     ERR_OK);
    assert_string_equal(sel.file, "m4r1753rj_bia.fits"); /* what CRDS put in the raw header */
    assert_string_equal(sel.useafter, "2002-03-01 00:00:00");
    assert_int_equal(sel.weight, 3);
    assert_int_equal(calib_refcat_select(c, "bpixtab", hget, &h, "2002-04-13 18:16:35", &sel, &ei),
                     ERR_OK);
    assert_string_equal(sel.file, "m8r09169j_bpx.fits");
    assert_int_equal(calib_refcat_select(c, "pfltfile", hget, &h, "2002-04-13 18:16:35", &sel, &ei),
                     ERR_OK);
    assert_string_equal(sel.file, "n3o1633mj_pfl.fits"); /* glob CLEAR* */
    /* a later date picks the later USEAFTER; the exact date is inclusive */
    assert_int_equal(calib_refcat_select(c, "biasfile", hget, &h, "2003-01-01 00:00:00", &sel, &ei),
                     ERR_OK);
    assert_string_equal(sel.file, "n5a1425aj_bia.fits");
    /* N/A: the whole type, and a rule whose result is N/A */
    assert_int_equal(calib_refcat_select(c, "flshfile", hget, &h, "2002-04-13 18:16:35", &sel, &ei),
                     ERR_OK);
    assert_true(sel.not_applicable);
    struct hdr sbc = {{"DETECTOR", "CCDAMP", "CCDGAIN"}, {"SBC", "N/A", "-2147483648"}};
    assert_int_equal(calib_refcat_select(c, "biasfile", hget, &sbc, "2002-04-13 18:16:35", &sel,
                                         &ei),
                     ERR_OK);
    assert_true(sel.not_applicable);
    assert_string_equal(sel.file, "N/A");
    /* no USEAFTER on or before the observation: the error names the candidates */
    assert_int_equal(calib_refcat_select(c, "darkfile", hget, &h, "2002-03-15 00:00:00", &sel, &ei),
                     ERR_CALIB);
    assert_non_null(strstr(ei.msg, "darkfile"));
    assert_non_null(strstr(ei.msg, "DETECTOR='HRC'"));
    assert_non_null(strstr(ei.msg, "n3o1059hj_drk.fits"));
    assert_string_equal(ei.field, "darkfile");
    /* no rule matches: nearest candidates with the keyword that differs */
    struct hdr wfc = {{"DETECTOR", "CCDAMP", "CCDGAIN"}, {"WFC", "C", "2.0"}};
    assert_int_equal(calib_refcat_select(c, "biasfile", hget, &wfc, "2014-01-01 00:00:00", &sel,
                                         &ei),
                     ERR_CALIB);
    assert_non_null(strstr(ei.msg, "CCDAMP='C'"));
    assert_non_null(strstr(ei.msg, "[WFC, ABCD, 2.0]"));
    assert_non_null(strstr(ei.msg, "CCDAMP differs"));
    assert_int_equal(calib_refcat_select(c, "nosuchtype", hget, &h, NULL, &sel, &ei),
                     ERR_NOT_FOUND);
    calib_refcat_destroy(c);
}

static struct calib_refcat *parse(const char *text, enum err want)
{
    struct calib_refcat *c = NULL;
    struct err_info ei;
    enum err e = calib_refcat_parse(text, strlen(text), "inline.yaml", &c, &ei);
    if (e != want) {
        fail_msg("parse: %s (%s)", err_str(e), ei.msg);
    }
    return c;
}

static void test_select_ties_and_weights(void **state)
{
    (void)state;
    struct calib_refsel sel;
    struct err_info ei;
    struct hdr h = {{"DET", "GAIN", "TEMP"}, {"UVIS", "1.5", "12"}};
    /* equal weight, plain files: ambiguous */
    struct calib_refcat *c = parse("instrument: x\n"
                                   "types:\n"
                                   "  t:\n"
                                   "    parkeys: [DET, GAIN]\n"
                                   "    rules:\n"
                                   "      - {match: [UVIS, N/A], file: a.fits}\n"
                                   "      - {match: [N/A, 1.5], file: b.fits}\n",
                                   ERR_OK);
    assert_int_equal(calib_refcat_select(c, "t", hget, &h, NULL, &sel, &ei), ERR_CALIB);
    assert_non_null(strstr(ei.msg, "ambiguous"));
    calib_refcat_destroy(c);
    /* equal weight with USEAFTER: the tables are merged */
    c = parse("instrument: x\ntypes:\n  t:\n    parkeys: [DET, GAIN]\n    rules:\n"
              "      - match: [UVIS, N/A]\n"
              "        useafter: {'2001-01-01 00:00:00': a1.fits, '2005-01-01 00:00:00': a2.fits}\n"
              "      - match: [N/A, '1.5|2.0']\n"
              "        useafter: {'2003-01-01 00:00:00': b1.fits}\n"
              "      - match: [UVIS, 1.5]\n"
              "        useafter: {'2010-01-01 00:00:00': c1.fits}\n",
              ERR_OK);
    /* weight 2 rule only from 2010: falls back to the weight-1 group, merged, 2003 < 2004 */
    assert_int_equal(calib_refcat_select(c, "t", hget, &h, "2004-06-01 00:00:00", &sel, &ei), ERR_OK);
    assert_string_equal(sel.file, "b1.fits");
    assert_int_equal(sel.weight, 1);
    assert_int_equal(calib_refcat_select(c, "t", hget, &h, "2006-06-01", &sel, &ei), ERR_OK);
    assert_string_equal(sel.file, "a2.fits");
    assert_int_equal(calib_refcat_select(c, "t", hget, &h, "2011-06-01", &sel, &ei), ERR_OK);
    assert_string_equal(sel.file, "c1.fits");
    assert_int_equal(sel.weight, 2);
    assert_int_equal(calib_refcat_select(c, "t", hget, &h, "2000-06-01", &sel, &ei), ERR_CALIB);
    assert_non_null(strstr(ei.msg, "no USEAFTER"));
    calib_refcat_destroy(c);
    /* operators: regex, relational, between, not, {literal}, missing keyword */
    c = parse("instrument: x\ntypes:\n"
              "  r: {parkeys: [DET], rules: [{match: ['(UV.*|IR)'], file: r.fits}]}\n"
              "  rel: {parkeys: [TEMP], rules: [{match: ['# >10 and <37 #'], file: rel.fits}]}\n"
              "  btw: {parkeys: [GAIN], rules: [{match: ['between 1 2'], file: b.fits}]}\n"
              "  neg: {parkeys: [DET], rules: [{match: ['not IR'], file: n.fits}]}\n"
              "  lit: {parkeys: [DET], rules: [{match: ['{uvis}'], file: l.fits}]}\n"
              "  miss: {parkeys: [NOPE], rules: [{match: [UNDEFINED], file: u.fits}]}\n",
              ERR_OK);
    static const char *const want[][2] = {{"r", "r.fits"},   {"rel", "rel.fits"}, {"btw", "b.fits"},
                                          {"neg", "n.fits"}, {"lit", "l.fits"},   {"miss", "u.fits"}};
    for (size_t i = 0; i < ARRAY_LEN(want); i++) {
        assert_int_equal(calib_refcat_select(c, want[i][0], hget, &h, NULL, &sel, &ei), ERR_OK);
        assert_string_equal(sel.file, want[i][1]);
    }
    struct hdr h2 = {{"DET", "GAIN", "TEMP"}, {"IR", "2", "40"}};
    assert_int_equal(calib_refcat_select(c, "rel", hget, &h2, NULL, &sel, &ei), ERR_CALIB);
    assert_int_equal(calib_refcat_select(c, "btw", hget, &h2, NULL, &sel, &ei), ERR_CALIB);
    assert_int_equal(calib_refcat_select(c, "neg", hget, &h2, NULL, &sel, &ei), ERR_CALIB);
    calib_refcat_destroy(c);
}

static void test_refcat_parse_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "instrument: [x\n",
        "- a\n- b\n",
        "instrument: x\n",
        "instrument: x\ntypes:\n  t:\n    parkeys: [A]\n    rules:\n      - {match: [1, 2], file: f}\n",
        "instrument: x\ntypes:\n  t:\n    parkeys: [A]\n    rules:\n      - {match: [1]}\n",
        "instrument: x\ntypes:\n  t:\n    parkeys: [A]\n    rules:\n"
        "      - {match: [1], useafter: {'not a date': f.fits}}\n",
        "instrument: x\ntypes:\n  t:\n    parkeys: [A]\n    rules:\n"
        "      - {match: [1], file: ../../etc/passwd}\n",
        "instrument: x\ntypes:\n  t: 3\n",
        "instrument: x\ntypes:\n  t: N/A\n  T: N/A\n",
        "instrument: x\ntypes:\n  t:\n    parkeys: [A]\n    rules:\n"
        "      - {match: {B: 1}, file: f.fits}\n",
        "instrument: x\ntypes: {t: N/A}\nchecksums: [a]\n",
        "instrument: x\ntypes: {t: N/A}\nchecksums: {f.fits: sha1:abc}\n",
        "instrument: x\ntypes: {t: N/A}\nchecksums: {f.fits: md5:0123456789abcdef0123456789abcdef}\n",
        "instrument: x\ntypes: {t: N/A}\nchecksums: {../f.fits: "
        "0123456789012345678901234567890123456789}\n",
        "instrument: x\ntypes: {t: N/A}\nchecksums: {f.fits: "
        "0123456789012345678901234567890123456789, f.fits: "
        "0123456789012345678901234567890123456789}\n",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        struct calib_refcat *c = NULL;
        struct err_info ei;
        enum err e = calib_refcat_parse(bad[i], strlen(bad[i]), "bad.yaml", &c, &ei);
        if (e != ERR_PARSE) {
            fail_msg("case %zu: %s (%s)", i, err_str(e), ei.msg);
        }
        assert_null(c);
        assert_non_null(strstr(ei.msg, "bad.yaml"));
    }
    struct calib_refcat *c = NULL;
    struct err_info ei;
    const char *t = "instrument: x\ntypes:\n  t:\n    parkeys: [A]\n    rules:\n      - {match: [1]}\n";
    assert_int_equal(calib_refcat_parse(t, strlen(t), "bad.yaml", &c, &ei), ERR_PARSE);
    assert_non_null(strstr(ei.msg, "line 6"));
    /* checksums: sha1 (what CRDS catalogs carry) or sha256, bare or prefixed, lower-cased */
    const char *ok = "instrument: x\ntypes: {t: N/A}\nchecksums:\n"
                     "  a.fits: SHA1:0123456789ABCDEF0123456789ABCDEF01234567\n"
                     "  b.fits: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
    assert_int_equal(calib_refcat_parse(ok, strlen(ok), "ok.yaml", &c, &ei), ERR_OK);
    assert_string_equal(calib_refcat_checksum(c, "a.fits"),
                        "sha1:0123456789abcdef0123456789abcdef01234567");
    assert_string_equal(calib_refcat_checksum(c, "b.fits"),
                        "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    assert_null(calib_refcat_checksum(c, "c.fits"));
    calib_refcat_destroy(c);
}

/* Errors name the line of the offending node (as read through lib/yaml); a second document,
 * aliases and syntax errors are refused naming the catalog. */
static void test_refcat_error_lines(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"instrument: [x\n", "line 2 column 1: did not find expected ',' or ']'"},
        {"", "line 0: the catalog must be a mapping with instrument and types"},
        {"instrument: x\ntypes: 3\n", "line 2: types must map reference types to rules"},
        {"instrument: x\ntypes:\n  t:\n    parkeys: [A]\n    rules:\n      - match: [1]\n"
         "        useafter:\n          'not a date': f.fits\n",
         "line 8: useafter date is not"},
        {"instrument: x\ntypes:\n  t:\n    parkeys: [A]\n    rules:\n"
         "      - match: {A: 1, B: 2}\n        file: f.fits\n",
         "line 6: match mapping names a keyword that is not a parkey"},
        {"instrument: x\ntypes:\n  t:\n    parkeys: [A, [B]]\n    rules: []\n",
         "line 4: parkey must be a header keyword"},
        {"instrument: x\ntypes:\n  t:\n    parkeys: [A]\n    rules:\n      - match: [1]\n"
         "        useafter: {}\n",
         "line 7: useafter is empty"},
        {"instrument: x\ntypes:\n  t: N/A\n  T: N/A\n", "line 4: reference type listed twice"},
        {"instrument: x\ntypes:\n  [t]: N/A\n", "line 3: reference type names are strings"},
        {"instrument: x\ntypes: {t: N/A}\nchecksums:\n  f.fits: sha1:abc\n",
         "line 4: a checksum is sha1:<40 hex digits> or sha256:<64 hex digits>"},
        {"instrument: x\ntypes: {t: N/A}\nchecksums:\n"
         "  f.fits: 0123456789012345678901234567890123456789\n"
         "  f.fits: 0123456789012345678901234567890123456789\n",
         "line 5: checksum listed twice for one file"},
        {"instrument: x\ntypes:\n  t:\n    parkeys: [A]\n    rules:\n      - match: [1]\n"
         "        file: ''\n",
         "line 7: a reference file name must be a non-empty string"},
        {"instrument: x\ntypes: {t: N/A}\n---\nfoo: bar\n", "more than one YAML document"},
        {"instrument: x\ntypes: &t\n  t: *t\n", "line 3: YAML aliases are not supported"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct calib_refcat *c = NULL;
        struct err_info ei;
        enum err e = calib_refcat_parse(cases[i][0], strlen(cases[i][0]), "bad.yaml", &c, &ei);
        static const char prefix[] = "reference catalog \"bad.yaml\", ";
        if (e != ERR_PARSE || strncmp(ei.msg, prefix, sizeof(prefix) - 1) != 0 ||
            !strstr(ei.msg, cases[i][1])) {
            fail_msg("case %zu: %s \"%s\", want \"%s\"", i, err_str(e), ei.msg, cases[i][1]);
        }
        assert_null(c);
    }
    /* match values keep their text: 2.0 is not the number 2 */
    const char *ok = "instrument: x\ntypes:\n  t:\n    parkeys: [G]\n    rules:\n"
                     "      - match: [2.0]\n        file: f.fits\n";
    struct calib_refcat *c = NULL;
    struct err_info ei;
    assert_int_equal(calib_refcat_parse(ok, strlen(ok), "ok.yaml", &c, &ei), ERR_OK);
    assert_int_equal(calib_refcat_ntypes(c), 1);
    calib_refcat_destroy(c);
}

/* calib_combine_files (row-wise fast path for <= 8 frames, per-pixel path above) against the
 * per-pixel kernel, bit for bit, over methods, modes, clipping, scaling, NaN and DQ inputs. */
static void test_combine_files_matches_kernel(void **state)
{
    (void)state;
    const char *tmp = getenv("OBSFLOW_TEST_TMP");
    if (!tmp) {
        tmp = "/tmp";
    }
    enum { NX = 37, NY = 23, MAXN = 10 };
    static double img[MAXN][NX * NY];
    static uint16_t dq[MAXN][NX * NY];
    char paths[MAXN][4096];
    const char *ptrs[MAXN];
    unsigned seed = 777;
    struct err_info ei;
    for (int i = 0; i < MAXN; i++) {
        for (int p = 0; p < NX * NY; p++) {
            seed = seed * 1103515245u + 12345u;
            img[i][p] = 100.0 + (double)((seed >> 8) % 1000) / 37.0;
            if ((seed >> 3) % 97 == 0) {
                img[i][p] += 5000; /* outliers */
            }
            if ((seed >> 5) % 211 == 0) {
                img[i][p] = NAN;
            }
            dq[i][p] = (uint16_t)((seed >> 7) % 53 == 0 ? 16 : 0);
        }
        snprintf(paths[i], sizeof(paths[i]), "%s/kin%d.fits", tmp, i);
        ptrs[i] = paths[i];
        struct fitsimg_writer *w = NULL;
        assert_int_equal(fitsimg_writer_create(paths[i], &w, &ei), ERR_OK);
        fitsimg_writer_set_sync(w, false);
        assert_int_equal(fitsimg_writer_add_image(w, "SCI", 1, FITSIMG_F64, NX, NY, NULL, &ei),
                         ERR_OK);
        assert_int_equal(fitsimg_writer_write_rows(w, 0, NY, FITSIMG_F64, img[i], &ei), ERR_OK);
        assert_int_equal(fitsimg_writer_add_image(w, "DQ", 1, FITSIMG_I16, NX, NY, NULL, &ei),
                         ERR_OK);
        assert_int_equal(fitsimg_writer_write_rows(w, 0, NY, FITSIMG_U16, dq[i], &ei), ERR_OK);
        assert_int_equal(fitsimg_writer_commit(w, &ei), ERR_OK);
        fitsimg_writer_destroy(w);
    }
    char out[4200];
    snprintf(out, sizeof(out), "%s/kout.fits", tmp);
    static const size_t ns[] = {1, 2, 3, 5, 8, 9};
    double scale[MAXN];
    for (int i = 0; i < MAXN; i++) {
        scale[i] = 1.0 + 0.1 * i;
    }
    int cases = 0;
    for (size_t ni = 0; ni < ARRAY_LEN(ns); ni++) {
        for (int method = 0; method < 3; method++) {
            for (int mode = 0; mode < 2; mode++) {
                for (int variant = 0; variant < 4; variant++) {
                    size_t n = ns[ni];
                    struct calib_combine_opts o;
                    memset(&o, 0, sizeof(o));
                    o.method = (enum calib_combine_method)method;
                    o.mode = mode ? CALIB_MODE_CCDPROC : CALIB_MODE_DEFAULT;
                    o.no_sync = true;
                    o.band_bytes = 4096; /* a few rows per band */
                    o.sigma_clip = variant & 1;
                    o.sigma_low = 2.0;
                    o.sigma_high = 1.5;
                    if (variant & 2) {
                        o.has_max_clip = true;
                        o.max_clip = 120.0;
                        o.scale = scale;
                    }
                    struct calib_combine_stats st;
                    enum err e = calib_combine_files(ptrs, n, out, &o, &st, &ei);
                    if (e != ERR_OK) {
                        fail_msg("combine: %s", ei.msg);
                    }
                    assert_true(st.band_rows < NY);
                    struct fitsimg *f = NULL;
                    static double sci[NX * NY], err[NX * NY], odq[NX * NY];
                    assert_int_equal(fitsimg_open(out, &f, &ei), ERR_OK);
                    assert_int_equal(fitsimg_select_name(f, "SCI", 1, &ei), ERR_OK);
                    assert_int_equal(fitsimg_read_rows(f, 0, NY, sci, &ei), ERR_OK);
                    assert_int_equal(fitsimg_select_name(f, "ERR", 1, &ei), ERR_OK);
                    assert_int_equal(fitsimg_read_rows(f, 0, NY, err, &ei), ERR_OK);
                    assert_int_equal(fitsimg_select_name(f, "DQ", 1, &ei), ERR_OK);
                    assert_int_equal(fitsimg_read_rows(f, 0, NY, odq, &ei), ERR_OK);
                    fitsimg_close(f);
                    for (int p = 0; p < NX * NY; p++) {
                        double v[MAXN], scratch[2 * MAXN], val, sig;
                        bool rej[MAXN], all;
                        for (size_t i = 0; i < n; i++) {
                            v[i] = img[i][p];
                            rej[i] = !mode && dq[i][p] != 0;
                        }
                        calib_combine_pixel(v, rej, n, &o, o.scale, scratch, &val, &sig, &all);
                        bool same_v = (isnan(val) && isnan(sci[p])) || val == sci[p];
                        bool same_s = (isnan(sig) && isnan(err[p])) || sig == err[p];
                        if (!same_v || !same_s || all != (((int)odq[p] & CALIB_DQ_DATAREJECT) > 0)) {
                            fail_msg("n=%zu method=%d mode=%d variant=%d pixel %d: file %.17g %.17g "
                                     "dq %g, kernel %.17g %.17g all %d",
                                     n, method, mode, variant, p, sci[p], err[p], odq[p], val, sig,
                                     all);
                        }
                    }
                    cases++;
                }
            }
        }
    }
    assert_int_equal(cases, 6 * 3 * 2 * 4);
    for (int i = 0; i < MAXN; i++) {
        unlink(paths[i]);
    }
    unlink(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_section_parse),
        cmocka_unit_test(test_combine_methods),
        cmocka_unit_test(test_combine_rejection),
        cmocka_unit_test(test_combine_weights_scale),
        cmocka_unit_test(test_median_sizes),
        cmocka_unit_test(test_combine_files_matches_kernel),
        cmocka_unit_test(test_overscan_trim),
        cmocka_unit_test(test_chain_default_and_errors),
        cmocka_unit_test(test_deviation_nan),
        cmocka_unit_test(test_crreject),
        cmocka_unit_test(test_condition),
        cmocka_unit_test(test_select_acs),
        cmocka_unit_test(test_select_ties_and_weights),
        cmocka_unit_test(test_refcat_parse_errors),
        cmocka_unit_test(test_refcat_error_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
