/* test_calib_alloc_fail.c - allocation-failure injection over lib/calib (issue 9 item 7):
 * malloc, calloc and realloc are wrapped at link time (tests/support/alloc_fail.c), so the n-th
 * allocation of lib/calib, lib/fits and lib/core fails, for every n until the operation runs
 * through. Each run of the chain (calib_run, and calib_run_file streaming it from files), of
 * calib_frame_read and calib_bpix_read (HST ACS files of ../shared/testdata), of the combiner
 * (calib_combine_files) and of the reference catalog (calib_refcat_parse, calib_refcat_select)
 * must end in ERR_NOMEM or in the complete result (equal, bit for bit, to the one computed
 * without failures), never in a crash, another error, a product file or a temporary left
 * behind, or (under ASan/valgrind) a leak. libyaml and cfitsio are shared libraries and keep
 * their own allocations.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka needs stdarg.h, stddef.h and setjmp.h first */
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calib/calib.h"
#include "fits/fits_image.h"
#include "support/alloc_fail.h"

#define RUNS_MAX 100000L /* bound on injection points per operation */

static char tmpdir[2048];
static char srcdir[2048];

/* ---- the chain ---------------------------------------------------------------------------- */

enum { NX = 10, NY = 6 }; /* raw frame: 8 data columns, 2 overscan columns */

struct refs {
    struct calib_frame bias, dark, flat;
};

static void frame_new(struct calib_frame *f, double base, double step, double exptime)
{
    struct err_info ei;
    long pending = alloc_fail_countdown();
    alloc_fail_nth(-1);
    assert_int_equal(calib_frame_alloc(f, NX, NY, &ei), ERR_OK);
    alloc_fail_nth(pending);
    snprintf(f->source, sizeof f->source, "synthetic");
    snprintf(f->bunit, sizeof f->bunit, "ADU");
    for (int y = 0; y < NY; y++) {
        for (int x = 0; x < NX; x++) {
            f->sci[y * NX + x] = x >= 8 ? 100.0 + y : base + step * (double)(y * NX + x);
        }
    }
    f->has_exptime = f->has_darktime = exptime > 0;
    f->exptime = f->darktime = exptime;
}

static void refs_new(struct refs *r)
{
    frame_new(&r->bias, 10.0, 0.0, 0.0);
    frame_new(&r->dark, 0.5, 0.01, 100.0);
    frame_new(&r->flat, 2.0, 0.001, 0.0);
    r->flat.sci[3 * NX + 2] = 0.0; /* a flat <= 0: DQ 512 */
    r->bias.dq[NX + 1] = CALIB_DQ_HOTPIX;
}

static void refs_free(struct refs *r)
{
    calib_frame_free(&r->bias);
    calib_frame_free(&r->dark);
    calib_frame_free(&r->flat);
}

static const struct calib_bpix bpix[] = {
    {.x = 1, .y = 0, .length = 3, .axis = 2, .value = CALIB_DQ_DETECTOR},
    {.x = 4, .y = 2, .length = 2, .axis = 1, .value = CALIB_DQ_HOTPIX},
};

static void plan_new(struct calib_plan *p, const struct refs *r, enum calib_mode mode)
{
    memset(p, 0, sizeof *p);
    p->mode = mode;
    p->overscan = "[9:10,*]";
    p->oscan_stat = CALIB_OSCAN_MEDIAN;
    p->oscan_fit = true;
    p->trim = "[1:8,*]";
    p->has_gain = true;
    p->gain = 2.0;
    p->has_readnoise = true;
    p->readnoise = 4.5;
    p->atodsat = 1e6;
    p->fullwell = 2100.0;
    p->bias = &r->bias;
    p->dark = &r->dark;
    p->flat = &r->flat;
    p->bpix = bpix;
    p->nbpix = sizeof bpix / sizeof bpix[0];
    p->bpix_name = "synthetic_bpx.fits";
    p->dark_scale = true;
}

static bool same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static void assert_same_frame(const struct calib_frame *a, const struct calib_frame *b)
{
    assert_int_equal(a->nx, b->nx);
    assert_int_equal(a->ny, b->ny);
    assert_string_equal(a->bunit, b->bunit);
    assert_int_equal(a->err == NULL, b->err == NULL);
    for (int64_t i = 0; i < a->nx * a->ny; i++) {
        assert_true(same_double(a->sci[i], b->sci[i]));
        assert_true(a->err == NULL || same_double(a->err[i], b->err[i]));
        assert_int_equal(a->dq[i], b->dq[i]);
    }
}

static void torture_chain(enum calib_mode mode)
{
    struct refs r;
    struct calib_plan p;
    struct calib_frame want, f;
    struct calib_record wrec, rec;
    struct err_info ei;
    refs_new(&r);
    plan_new(&p, &r, mode);
    frame_new(&want, 1000.0, 7.0, 100.0);
    memset(&wrec, 0, sizeof wrec);
    enum err e = calib_run(&want, &p, &wrec, &ei);
    if (e != ERR_OK) {
        fail_msg("calib_run: %s", ei.msg);
    }
    assert_int_equal(want.nx, 8);
    assert_true(want.dq[3 * 8 + 2] & CALIB_DQ_CALIBDEFECT);
    assert_true(want.dq[1] & CALIB_DQ_DETECTOR);
    long n;
    int nomem = 0;
    for (n = 0; n < RUNS_MAX; n++) {
        frame_new(&f, 1000.0, 7.0, 100.0);
        memset(&rec, 0, sizeof rec);
        err_info_clear(&ei);
        alloc_fail_nth(n);
        e = calib_run(&f, &p, &rec, &ei);
        bool fired = alloc_fail_refused() > 0;
        alloc_fail_nth(-1);
        if (e == ERR_NOMEM) {
            assert_true(fired);
            nomem++;
        } else {
            if (e != ERR_OK) {
                fail_msg("allocation %ld failed: %s (%s)", n, err_str(e), ei.msg);
            }
            assert_same_frame(&f, &want);
            assert_memory_equal(&rec, &wrec, sizeof rec);
        }
        calib_frame_free(&f);
        if (!fired) {
            break;
        }
    }
    assert_true(n > 0 && n < RUNS_MAX);
    assert_true(nomem > 0);
    fprintf(stderr, "calib_run (mode %d): %ld injection points, %d ERR_NOMEM\n", (int)mode, n,
            nomem);
    calib_frame_free(&want);
    refs_free(&r);
}

static void test_chain_default(void **state)
{
    (void)state;
    torture_chain(CALIB_MODE_DEFAULT);
}

static void test_chain_ccdproc(void **state)
{
    (void)state;
    torture_chain(CALIB_MODE_CCDPROC);
}

/* The same chain streamed from files (calib_run_file: one-row bands), the frame and its
 * references written by calib_frame_write. */
static char run_in[2300], run_bias[2300], run_dark[2300], run_flat[2300];

static int count_files(void);

static void write_frame(const struct calib_frame *f, const char *path)
{
    struct calib_record rec;
    struct calib_write_opts wo = {.no_sync = true};
    struct err_info ei;
    memset(&rec, 0, sizeof rec);
    if (f->has_exptime) {
        calib_record_num(&rec, "EXPTIME", f->exptime, "exposure time");
        calib_record_num(&rec, "DARKTIME", f->darktime, "dark time");
    }
    if (calib_frame_write(f, path, NULL, &rec, &wo, &ei) != ERR_OK) {
        fail_msg("%s", ei.msg);
    }
}

static void read_run_product(const char *path, double *sci, double *err, double *dq)
{
    struct err_info ei;
    struct fitsimg *f = NULL;
    if (fitsimg_open(path, &f, &ei) != ERR_OK) {
        fail_msg("%s", ei.msg);
    }
    assert_int_equal(fitsimg_select_name(f, "SCI", 1, &ei), ERR_OK);
    assert_int_equal(fitsimg_read_rows(f, 0, NY, sci, &ei), ERR_OK);
    assert_int_equal(fitsimg_select_name(f, "ERR", 1, &ei), ERR_OK);
    assert_int_equal(fitsimg_read_rows(f, 0, NY, err, &ei), ERR_OK);
    assert_int_equal(fitsimg_select_name(f, "DQ", 1, &ei), ERR_OK);
    assert_int_equal(fitsimg_read_rows(f, 0, NY, dq, &ei), ERR_OK);
    fitsimg_close(f);
}

static void torture_run_file(enum calib_mode mode)
{
    struct refs r;
    struct calib_frame f;
    struct calib_plan p;
    struct err_info ei;
    refs_new(&r);
    frame_new(&f, 1000.0, 7.0, 100.0);
    snprintf(run_in, sizeof run_in, "%s/run_in.fits", tmpdir);
    snprintf(run_bias, sizeof run_bias, "%s/run_bias.fits", tmpdir);
    snprintf(run_dark, sizeof run_dark, "%s/run_dark.fits", tmpdir);
    snprintf(run_flat, sizeof run_flat, "%s/run_flat.fits", tmpdir);
    write_frame(&f, run_in);
    write_frame(&r.bias, run_bias);
    write_frame(&r.dark, run_dark);
    write_frame(&r.flat, run_flat);
    calib_frame_free(&f);
    plan_new(&p, &r, mode);
    p.bias = p.dark = p.flat = NULL;
    struct calib_ref_paths refs = {.bias = run_bias, .dark = run_dark, .flat = run_flat};
    struct calib_write_opts wo = {.no_sync = true, .checksum = true};
    char out[2400];
    snprintf(out, sizeof out, "%s/run_out.fits", tmpdir);
    unlink(out);
    int before = count_files();
    struct calib_record wrec, rec;
    memset(&wrec, 0, sizeof wrec);
    enum err e = calib_run_file(run_in, NULL, &p, &refs, out, &wo, 1, &wrec, &ei);
    if (e != ERR_OK) {
        fail_msg("calib_run_file: %s", ei.msg);
    }
    static double wsci[8 * NY], werr[8 * NY], wdq[8 * NY], sci[8 * NY], err[8 * NY], dq[8 * NY];
    read_run_product(out, wsci, werr, wdq);
    assert_int_equal(unlink(out), 0);
    long n;
    int nomem = 0;
    for (n = 0; n < RUNS_MAX; n++) {
        memset(&rec, 0, sizeof rec);
        err_info_clear(&ei);
        alloc_fail_nth(n);
        e = calib_run_file(run_in, NULL, &p, &refs, out, &wo, 1, &rec, &ei);
        bool fired = alloc_fail_refused() > 0;
        alloc_fail_nth(-1);
        if (e == ERR_NOMEM) {
            assert_true(fired);
            nomem++;
            if (count_files() != before) {
                fail_msg("allocation %ld failed, a file was left behind", n);
            }
        } else {
            if (e != ERR_OK) {
                fail_msg("allocation %ld failed: %s (%s)", n, err_str(e), ei.msg);
            }
            read_run_product(out, sci, err, dq);
            assert_memory_equal(sci, wsci, sizeof sci);
            assert_memory_equal(err, werr, sizeof err);
            assert_memory_equal(dq, wdq, sizeof dq);
            assert_memory_equal(&rec, &wrec, sizeof rec);
            assert_int_equal(unlink(out), 0);
        }
        if (!fired) {
            break;
        }
    }
    assert_true(n > 0 && n < RUNS_MAX);
    assert_true(nomem > 0);
    fprintf(stderr, "calib_run_file (mode %d): %ld injection points, %d ERR_NOMEM\n", (int)mode,
            n, nomem);
    refs_free(&r);
}

static void test_run_file_default(void **state)
{
    (void)state;
    torture_run_file(CALIB_MODE_DEFAULT);
}

static void test_run_file_ccdproc(void **state)
{
    (void)state;
    torture_run_file(CALIB_MODE_CCDPROC);
}

/* Reading: an HST ACS raw frame (SCI, ERR and DQ of imset 1) and a bad-pixel table. */
static char shared[2048];

static void test_frame_read(void **state)
{
    (void)state;
    char path[2300];
    snprintf(path, sizeof path, "%s/testdata/fits/j8bt05njq_raw.fits", shared);
    struct calib_frame want, f;
    struct err_info ei;
    if (calib_frame_read(path, NULL, &want, &ei) != ERR_OK) {
        fail_msg("%s", ei.msg);
    }
    assert_true(want.has_exptime);
    long n;
    int nomem = 0;
    for (n = 0; n < RUNS_MAX; n++) {
        memset(&f, 0, sizeof f);
        err_info_clear(&ei);
        alloc_fail_nth(n);
        enum err e = calib_frame_read(path, NULL, &f, &ei);
        bool fired = alloc_fail_refused() > 0;
        alloc_fail_nth(-1);
        if (e == ERR_NOMEM) {
            assert_true(fired);
            assert_null(f.sci);
            assert_null(f.err);
            assert_null(f.dq);
            nomem++;
        } else {
            if (e != ERR_OK) {
                fail_msg("allocation %ld failed: %s (%s)", n, err_str(e), ei.msg);
            }
            assert_same_frame(&f, &want);
            assert_true(same_double(f.exptime, want.exptime));
            calib_frame_free(&f);
        }
        if (!fired) {
            break;
        }
    }
    assert_true(n > 0 && n < RUNS_MAX);
    assert_true(nomem > 0);
    fprintf(stderr, "calib_frame_read: %ld injection points, %d ERR_NOMEM\n", n, nomem);
    calib_frame_free(&want);
}

static void test_bpix_read(void **state)
{
    (void)state;
    char path[2300];
    snprintf(path, sizeof path, "%s/testdata/fits/j4d1435jj_bpx.fits", shared);
    struct calib_bpix *want = NULL, *got;
    size_t nwant = 0, ngot;
    struct err_info ei;
    if (calib_bpix_read(path, NULL, 0.0, 0.0, 0.0, &want, &nwant, &ei) != ERR_OK) {
        fail_msg("%s", ei.msg);
    }
    assert_true(nwant > 0);
    long n;
    int nomem = 0;
    for (n = 0; n < RUNS_MAX; n++) {
        got = NULL;
        ngot = 0;
        err_info_clear(&ei);
        alloc_fail_nth(n);
        enum err e = calib_bpix_read(path, NULL, 0.0, 0.0, 0.0, &got, &ngot, &ei);
        bool fired = alloc_fail_refused() > 0;
        alloc_fail_nth(-1);
        if (e == ERR_NOMEM) {
            assert_true(fired);
            assert_null(got);
            nomem++;
        } else {
            if (e != ERR_OK) {
                fail_msg("allocation %ld failed: %s (%s)", n, err_str(e), ei.msg);
            }
            assert_int_equal(ngot, nwant);
            for (size_t i = 0; i < ngot; i++) {
                assert_int_equal(got[i].x, want[i].x);
                assert_int_equal(got[i].y, want[i].y);
                assert_int_equal(got[i].length, want[i].length);
                assert_int_equal(got[i].axis, want[i].axis);
                assert_int_equal(got[i].value, want[i].value);
            }
            free(got);
        }
        if (!fired) {
            break;
        }
    }
    assert_true(n > 0 && n < RUNS_MAX);
    assert_true(nomem > 0);
    fprintf(stderr, "calib_bpix_read: %ld injection points, %zu rows\n", n, nwant);
    free(want);
}

/* ---- the combiner ------------------------------------------------------------------------- */

enum { CNX = 9, CNY = 5, CN = 5 };

static char inputs[CN][2300];

static int write_inputs(void **state)
{
    (void)state;
    struct err_info ei;
    unsigned seed = 4242;
    for (int i = 0; i < CN; i++) {
        double img[CNX * CNY];
        uint16_t dq[CNX * CNY];
        for (int p = 0; p < CNX * CNY; p++) {
            seed = seed * 1103515245u + 12345u;
            img[p] = 200.0 + 10.0 * i + (double)((seed >> 8) % 100) / 7.0;
            if ((seed >> 3) % 13 == 0) {
                img[p] += 4000; /* outliers for the clip */
            }
            dq[p] = (uint16_t)((seed >> 7) % 17 == 0 ? CALIB_DQ_HOTPIX : 0);
        }
        snprintf(inputs[i], sizeof inputs[i], "%s/in%d.fits", tmpdir, i);
        struct fitsimg_writer *w = NULL;
        assert_int_equal(fitsimg_writer_create(inputs[i], &w, &ei), ERR_OK);
        fitsimg_writer_set_sync(w, false);
        assert_int_equal(fitsimg_writer_add_image(w, "SCI", 1, FITSIMG_F64, CNX, CNY, NULL, &ei),
                         ERR_OK);
        assert_int_equal(fitsimg_writer_write_rows(w, 0, CNY, FITSIMG_F64, img, &ei), ERR_OK);
        assert_int_equal(fitsimg_writer_add_image(w, "DQ", 1, FITSIMG_I16, CNX, CNY, NULL, &ei),
                         ERR_OK);
        assert_int_equal(fitsimg_writer_write_rows(w, 0, CNY, FITSIMG_U16, dq, &ei), ERR_OK);
        assert_int_equal(fitsimg_writer_commit(w, &ei), ERR_OK);
        fitsimg_writer_destroy(w);
    }
    return 0;
}

struct product {
    double sci[CNX * CNY], err[CNX * CNY], dq[CNX * CNY];
};

static void read_product(const char *path, struct product *p)
{
    struct err_info ei;
    struct fitsimg *f = NULL;
    if (fitsimg_open(path, &f, &ei) != ERR_OK) {
        fail_msg("%s", ei.msg);
    }
    assert_int_equal(fitsimg_select_name(f, "SCI", 1, &ei), ERR_OK);
    assert_int_equal(fitsimg_read_rows(f, 0, CNY, p->sci, &ei), ERR_OK);
    assert_int_equal(fitsimg_select_name(f, "ERR", 1, &ei), ERR_OK);
    assert_int_equal(fitsimg_read_rows(f, 0, CNY, p->err, &ei), ERR_OK);
    assert_int_equal(fitsimg_select_name(f, "DQ", 1, &ei), ERR_OK);
    assert_int_equal(fitsimg_read_rows(f, 0, CNY, p->dq, &ei), ERR_OK);
    fitsimg_close(f);
}

/* Files in the scratch directory: the inputs, and nothing else after a failed run. */
static int count_files(void)
{
    DIR *d = opendir(tmpdir);
    assert_non_null(d);
    int k = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        k += de->d_name[0] != '.';
    }
    closedir(d);
    return k;
}

static void torture_combine(const struct calib_combine_opts *o, size_t n, const char *what)
{
    const char *ptrs[CN];
    char out[2400];
    struct err_info ei;
    struct calib_combine_stats st;
    static struct product want, got;
    for (size_t i = 0; i < n; i++) {
        ptrs[i] = inputs[i];
    }
    snprintf(out, sizeof out, "%s/combined.fits", tmpdir);
    unlink(out);
    int before = count_files();
    enum err e = calib_combine_files(ptrs, n, out, o, &st, &ei);
    if (e != ERR_OK) {
        fail_msg("%s: %s", what, ei.msg);
    }
    read_product(out, &want);
    assert_int_equal(unlink(out), 0);
    long k;
    int nomem = 0;
    for (k = 0; k < RUNS_MAX; k++) {
        err_info_clear(&ei);
        alloc_fail_nth(k);
        e = calib_combine_files(ptrs, n, out, o, &st, &ei);
        bool fired = alloc_fail_refused() > 0;
        alloc_fail_nth(-1);
        if (e == ERR_NOMEM) {
            assert_true(fired);
            nomem++;
            if (count_files() != before) {
                fail_msg("%s: allocation %ld failed, a file was left behind", what, k);
            }
        } else {
            if (e != ERR_OK) {
                fail_msg("%s: allocation %ld failed: %s (%s)", what, k, err_str(e), ei.msg);
            }
            read_product(out, &got);
            assert_memory_equal(&got, &want, sizeof got);
            assert_int_equal(unlink(out), 0);
        }
        if (!fired) {
            break;
        }
    }
    assert_true(k > 0 && k < RUNS_MAX);
    assert_true(nomem > 0);
    fprintf(stderr, "calib_combine_files %s: %ld injection points, %d ERR_NOMEM\n", what, k,
            nomem);
}

static void test_combine_median(void **state)
{
    (void)state;
    struct calib_combine_opts o;
    memset(&o, 0, sizeof o);
    o.method = CALIB_COMBINE_MEDIAN;
    o.no_sync = true;
    o.band_bytes = 1; /* one row per band: several bands, no second thread */
    torture_combine(&o, 3, "median of 3");
    o.scale_inv_median = true;
    torture_combine(&o, 4, "median of 4, scaled by 1/median");
}

static void test_combine_sigma_clip(void **state)
{
    (void)state;
    struct calib_combine_opts o;
    memset(&o, 0, sizeof o);
    o.method = CALIB_COMBINE_AVERAGE;
    o.sigma_clip = true;
    o.sigma_low = 2.0;
    o.sigma_high = 2.0;
    o.no_sync = true;
    o.band_bytes = 1;
    torture_combine(&o, CN, "sigma-clipped average of 5");
    o.mode = CALIB_MODE_CCDPROC;
    o.checksum = true;
    o.float32_out = true;
    torture_combine(&o, CN, "ccdproc sigma-clipped average of 5, float32, checksums");
}

/* ---- the reference catalog ---------------------------------------------------------------- */

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

/* the header of ../shared/testdata/fits/j8bt05njq_raw.fits */
static struct hdr acs_hdr = {{"DETECTOR", "CCDAMP", "CCDGAIN", "FILTER1", "FILTER2"},
                             {"HRC", "C", "2", "F555W", "CLEAR2S"}};
static const char *const obs_time = "2002-04-13 18:16:35";

static char *read_text(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fail_msg("cannot open %s", path);
    }
    char *t = __real_malloc(CALIB_REFCAT_MAX_BYTES + 1);
    assert_non_null(t);
    *len = fread(t, 1, CALIB_REFCAT_MAX_BYTES, fp);
    t[*len] = '\0';
    fclose(fp);
    return t;
}

/* Every type of the catalog selected for the ACS header: its outcome and choice. */
struct picks {
    size_t n;
    enum err e[CALIB_REFCAT_MAX_TYPES];
    struct calib_refsel sel[CALIB_REFCAT_MAX_TYPES];
};

static void pick_all(const struct calib_refcat *c, struct picks *p)
{
    struct err_info ei;
    memset(p, 0, sizeof *p);
    p->n = calib_refcat_ntypes(c);
    for (size_t i = 0; i < p->n; i++) {
        p->e[i] = calib_refcat_select(c, calib_refcat_type(c, i), hget, &acs_hdr, obs_time,
                                      &p->sel[i], &ei);
        if (p->e[i] != ERR_OK) {
            memset(&p->sel[i], 0, sizeof p->sel[i]);
        }
    }
}

static void test_refcat_parse(void **state)
{
    (void)state;
    char path[2300];
    size_t len;
    snprintf(path, sizeof path, "%s/config/references/acs.yaml", srcdir);
    char *text = read_text(path, &len);
    struct calib_refcat *c = NULL;
    struct err_info ei;
    if (calib_refcat_parse(text, len, "acs.yaml", &c, &ei) != ERR_OK) {
        fail_msg("%s", ei.msg);
    }
    static struct picks want, got;
    pick_all(c, &want);
    assert_true(want.n >= 5);
    calib_refcat_destroy(c);
    long n;
    int nomem = 0;
    for (n = 0; n < RUNS_MAX; n++) {
        c = NULL;
        err_info_clear(&ei);
        alloc_fail_nth(n);
        enum err e = calib_refcat_parse(text, len, "acs.yaml", &c, &ei);
        bool fired = alloc_fail_refused() > 0;
        alloc_fail_nth(-1);
        if (e == ERR_NOMEM) {
            assert_true(fired);
            assert_null(c);
            nomem++;
        } else {
            if (e != ERR_OK) {
                fail_msg("allocation %ld failed: %s (%s)", n, err_str(e), ei.msg);
            }
            assert_string_equal(calib_refcat_instrument(c), "ACS");
            pick_all(c, &got);
            assert_memory_equal(&got, &want, sizeof got);
            calib_refcat_destroy(c);
        }
        if (!fired) {
            break;
        }
    }
    assert_true(n > 10 && n < RUNS_MAX);
    assert_true(nomem > 0);
    fprintf(stderr, "calib_refcat_parse: %ld injection points\n", n);
    free(text);
}

static void test_refcat_select(void **state)
{
    (void)state;
    char path[2300];
    size_t len;
    snprintf(path, sizeof path, "%s/config/references/acs.yaml", srcdir);
    char *text = read_text(path, &len);
    struct calib_refcat *c = NULL;
    struct err_info ei;
    if (calib_refcat_parse(text, len, "acs.yaml", &c, &ei) != ERR_OK) {
        fail_msg("%s", ei.msg);
    }
    free(text);
    /* a selection, one that misses (its message names candidates), one of an unknown type */
    struct hdr odd = {{"DETECTOR", "CCDAMP", "CCDGAIN", "FILTER1", "FILTER2"},
                      {"WFC", "Q", "9", "F999X", "CLEAR2L"}};
    struct {
        const char *type;
        struct hdr *h;
    } cases[] = {{"biasfile", &acs_hdr}, {"pfltfile", &acs_hdr}, {"biasfile", &odd},
                 {"nosuchfile", &acs_hdr}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct calib_refsel want, got;
        struct err_info wei;
        memset(&want, 0, sizeof want);
        enum err we = calib_refcat_select(c, cases[i].type, hget, cases[i].h, obs_time, &want,
                                          &wei);
        long n;
        for (n = 0; n < RUNS_MAX; n++) {
            memset(&got, 0, sizeof got);
            err_info_clear(&ei);
            alloc_fail_nth(n);
            enum err e = calib_refcat_select(c, cases[i].type, hget, cases[i].h, obs_time, &got,
                                             &ei);
            bool fired = alloc_fail_refused() > 0;
            alloc_fail_nth(-1);
            if (e == ERR_NOMEM) {
                assert_true(fired);
            } else {
                if (e != we) {
                    fail_msg("%s: allocation %ld failed: %s (%s)", cases[i].type, n, err_str(e),
                             ei.msg);
                }
                if (e == ERR_OK) {
                    assert_memory_equal(&got, &want, sizeof got);
                } else {
                    assert_string_equal(ei.msg, wei.msg);
                }
            }
            if (!fired) {
                break;
            }
        }
        assert_true(n < RUNS_MAX);
        fprintf(stderr, "calib_refcat_select %s: %ld injection points (%s)\n", cases[i].type, n,
                err_str(we));
    }
    calib_refcat_destroy(c);
}

int main(void)
{
    const char *tmp = getenv("OBSFLOW_TEST_TMP");
    const char *src = getenv("OBSFLOW_SOURCE_DIR");
    const char *sh = getenv("OBSFLOW_SHARED");
    if (!tmp || !src || !sh) {
        fprintf(stderr, "OBSFLOW_TEST_TMP, OBSFLOW_SOURCE_DIR and OBSFLOW_SHARED must be set\n");
        return 1;
    }
    snprintf(shared, sizeof shared, "%s", sh);
    snprintf(tmpdir, sizeof tmpdir, "%s/alloc_fail", tmp);
    snprintf(srcdir, sizeof srcdir, "%s", src);
    if (mkdir(tmpdir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s\n", tmpdir);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_default),      cmocka_unit_test(test_chain_ccdproc),
        cmocka_unit_test(test_run_file_default),   cmocka_unit_test(test_run_file_ccdproc),
        cmocka_unit_test(test_frame_read),         cmocka_unit_test(test_bpix_read),
        cmocka_unit_test(test_combine_median),     cmocka_unit_test(test_combine_sigma_clip),
        cmocka_unit_test(test_refcat_parse),       cmocka_unit_test(test_refcat_select),
    };
    return cmocka_run_group_tests(tests, write_inputs, NULL);
}
