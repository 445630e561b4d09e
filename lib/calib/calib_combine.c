/* calib_combine.c - master-frame combiner: reads every input band by band (each file opened
 * once), rejects (extrema, min/max, sigma clip), combines (average, median, sum) and writes
 * SCI/ERR/DQ band by band. Memory is the band buffers, independent of the frame count.
 * SPDX-License-Identifier: Apache-2.0 */
/* The row kernels below are written for the vectoriser: let GCC use it at -O2 too (it keeps
 * IEEE semantics, so results do not change; clang vectorises at -O2 already). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize")
#endif

#include "calib/calib.h"

#include "calib/calib_internal.h"
#include "core/str.h"
#include "fits/fits_image.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAD_TO_SIGMA 1.482602218505602

/* Sort (value, index) pairs by value, NaN last, ties by index (numpy argsort puts NaN last). */
static void sort_idx(const double *v, size_t *idx, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        idx[i] = i;
    }
    for (size_t i = 1; i < n; i++) {
        size_t t = idx[i];
        double x = v[t];
        size_t j = i;
        while (j > 0) {
            double y = v[idx[j - 1]];
            bool greater = isnan(y) ? !isnan(x) : (!isnan(x) && y > x);
            if (!greater) {
                break;
            }
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = t;
    }
}

void calib_combine_pixel(const double *v, bool *reject, size_t n,
                         const struct calib_combine_opts *o, const double *scale, double *scratch,
                         double *value, double *sigma, bool *all_rejected)
{
    bool rej_local[CALIB_MAX_INPUTS];
    bool *rej = reject ? reject : rej_local;
    if (!reject) {
        memset(rej_local, 0, n * sizeof(bool));
    }
    const bool ccdproc = o->mode == CALIB_MODE_CCDPROC;
    bool any_nan = false;
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i])) {
            rej[i] = true; /* nan-aware combination functions skip NaN */
            any_nan = true;
        }
    }
    if (o->clip_extrema && (o->nlow > 0 || o->nhigh > 0)) {
        size_t idx[CALIB_MAX_INPUTS];
        if (ccdproc) {
            sort_idx(v, idx, n); /* 2.4.0 ranks every value, rejected or not */
            for (int k = 0; k < o->nlow && (size_t)k < n; k++) {
                rej[idx[k]] = true;
            }
            for (int k = 0; k < o->nhigh && (size_t)k < n; k++) {
                rej[idx[n - 1 - (size_t)k]] = true;
            }
        } else {
            double *tmp = scratch; /* free until the kept values are gathered */
            size_t m = 0;
            size_t map[CALIB_MAX_INPUTS];
            for (size_t i = 0; i < n; i++) {
                if (!rej[i]) {
                    map[m] = i;
                    tmp[m++] = v[i];
                }
            }
            sort_idx(tmp, idx, m);
            for (int k = 0; k < o->nlow && (size_t)k < m; k++) {
                rej[map[idx[k]]] = true;
            }
            for (int k = 0; k < o->nhigh && (size_t)k < m; k++) {
                rej[map[idx[m - 1 - (size_t)k]]] = true;
            }
        }
    }
    if (o->has_min_clip || o->has_max_clip) {
        for (size_t i = 0; i < n; i++) {
            if ((o->has_min_clip && v[i] < o->min_clip) ||
                (o->has_max_clip && v[i] > o->max_clip)) {
                rej[i] = true;
            }
        }
    }
    if (o->sigma_clip) {
        if (ccdproc) {
            /* astropy sigma_clip(maxiters=1, cenfunc=ma.mean, stdfunc=ma.std) on the raw stack;
             * the result replaces every earlier rejection (ccdproc 2.4.0). */
            double sum = v[0];
            for (size_t i = 1; i < n; i++) {
                sum += v[i];
            }
            double mean = sum / (double)n;
            double ss = 0;
            for (size_t i = 0; i < n; i++) {
                double d = v[i] - mean;
                ss += d * d;
            }
            double sd = sqrt(ss / (double)n);
            double lo = mean - sd * o->sigma_low;
            double hi = mean + sd * o->sigma_high;
            for (size_t i = 0; i < n; i++) {
                rej[i] = !isfinite(v[i]) || (!any_nan && (v[i] < lo || v[i] > hi));
            }
        } else {
            double sum = 0;
            size_t m = 0;
            for (size_t i = 0; i < n; i++) {
                if (!rej[i]) {
                    sum += v[i];
                    m++;
                }
            }
            if (m > 0) {
                double mean = sum / (double)m;
                double ss = 0;
                for (size_t i = 0; i < n; i++) {
                    if (!rej[i]) {
                        double d = v[i] - mean;
                        ss += d * d;
                    }
                }
                double sd = sqrt(ss / (double)m);
                for (size_t i = 0; i < n; i++) {
                    if (!rej[i] && ((o->sigma_low > 0 && v[i] < mean - sd * o->sigma_low) ||
                                    (o->sigma_high > 0 && v[i] > mean + sd * o->sigma_high))) {
                        rej[i] = true;
                    }
                }
            }
        }
    }

    /* the kept values, scaled */
    double *d = scratch;
    double *work = scratch + n;
    size_t m = 0;
    double wsum_all = 0, wsum_kept = 0, wdot = 0;
    for (size_t i = 0; i < n; i++) {
        double w = o->weights ? o->weights[i] : 1.0;
        wsum_all += w;
        if (rej[i]) {
            continue;
        }
        double x = scale ? v[i] * scale[i] : v[i];
        d[m++] = x;
        if (o->weights) {
            wdot += x * w;
            wsum_kept += w;
        }
    }
    *all_rejected = m == 0;
    if (m == 0) {
        *value = o->method == CALIB_COMBINE_SUM ? 0.0 : NAN;
        *sigma = NAN;
        return;
    }
    if (o->method == CALIB_COMBINE_MEDIAN) {
        memcpy(work, d, m * sizeof(double));
        double med = calib_median_inplace(work, m);
        for (size_t i = 0; i < m; i++) {
            work[i] = fabs(d[i] - med);
        }
        double mad = calib_median_inplace(work, m);
        *value = med;
        *sigma = mad * MAD_TO_SIGMA / sqrt((double)m);
        return;
    }
    /* nanstd(ddof=0) of the kept values, then the per-method scaling */
    double sum = 0;
    for (size_t i = 0; i < m; i++) {
        sum += d[i];
    }
    double mean = sum / (double)m;
    double ss = 0;
    for (size_t i = 0; i < m; i++) {
        double t = d[i] - mean;
        ss += t * t;
    }
    double sd = sqrt(ss / (double)m);
    double rootm = sqrt((double)m);
    switch (o->method) {
    case CALIB_COMBINE_AVERAGE:
        if (o->weights) {
            *value = wdot / (ccdproc ? wsum_all : wsum_kept);
        } else {
            *value = mean;
        }
        *sigma = sd / rootm;
        break;
    case CALIB_COMBINE_SUM:
        *value = o->weights ? wdot : sum;
        *sigma = sd / rootm * (double)m;
        break;
    case CALIB_COMBINE_MEDIAN:
    default:
        break;
    }
}

/* ------------------------------------------------------------------------------------------- */

struct input {
    struct fitsimg *f;
    int sci_hdu;
    int dq_hdu;  /* -1: no DQ plane to honour */
};

struct band_job {
    const struct calib_combine_opts *o;
    const double *scale;
    double **stack;      /* [n] band buffers, nx*rows each */
    uint16_t **dqs;      /* [n] or NULL */
    size_t n;
    int64_t nx;
    int64_t row0, row1;  /* rows of the band this job computes (band-relative) */
    double *osci, *oerr;
    uint16_t *odq;
    int64_t nrej_all;
};

/* ---- row-wise kernel for up to 8 frames without extrema clipping or weights ----------------
 * The same operations in the same order as calib_combine_pixel (so the same bits), arranged as
 * loops over the pixels of a row: no per-pixel branches, and the compiler can vectorise them.
 * The per-frame median uses the 8-input sorting network of calib_steps.c across the row. */
#define FAST_N 8

struct fast_rows {
    double *t[FAST_N];    /* sorting lanes */
    double *keep[FAST_N]; /* 1.0 kept, 0.0 rejected */
    double *d[FAST_N];    /* kept values, scaled */
    double *a, *b, *m;    /* per-pixel scratch: sums, centre, counts */
};

static bool fast_ok(const struct calib_combine_opts *o, size_t n)
{
    return n <= FAST_N && !(o->clip_extrema && (o->nlow > 0 || o->nhigh > 0)) && !o->weights;
}

/* Sort lanes 0..n-1 (n <= 8) per pixel with Batcher's 8-lane network less every comparator that
 * touches a lane >= n: with those lanes +inf such a comparator never moves anything, and what is
 * left is a sorting network of optimal size for n (1, 3, 5, 9, 12, 16, 19 comparators; checked
 * by the 0-1 principle for every n). */
static void net8(double *const *t, int64_t nx, size_t n)
{
    static const int pairs[19][2] = {{0, 2}, {1, 3}, {4, 6}, {5, 7}, {0, 4}, {1, 5}, {2, 6},
                                     {3, 7}, {0, 1}, {2, 3}, {4, 5}, {6, 7}, {2, 4}, {3, 5},
                                     {1, 4}, {3, 6}, {1, 2}, {3, 4}, {5, 6}};
    for (int c = 0; c < 19; c++) {
        if ((size_t)pairs[c][1] >= n) {
            continue;
        }
        double *restrict p = t[pairs[c][0]];
        double *restrict q = t[pairs[c][1]];
        for (int64_t x = 0; x < nx; x++) {
            double u = p[x], w = q[x];
            p[x] = u < w ? u : w; /* minsd */
            q[x] = u > w ? u : w; /* maxsd */
        }
    }
}

/* median of the first m (per pixel) sorted lanes; NaN when m == 0 */
static double pick(double *const *t, int64_t x, int m)
{
    if (m == 0) {
        return NAN;
    }
    if (m % 2) {
        return t[m / 2][x];
    }
    return (t[m / 2 - 1][x] + t[m / 2][x]) / 2.0;
}

static void fast_row(const struct band_job *j, struct fast_rows *r, int64_t y)
{
    const struct calib_combine_opts *o = j->o;
    const size_t n = j->n;
    const int64_t nx = j->nx;
    const bool ccdproc = o->mode == CALIB_MODE_CCDPROC;
    const double *v[FAST_N] = {NULL};
    for (size_t i = 0; i < n; i++) {
        v[i] = j->stack[i] + y * nx;
    }
    double *restrict a = r->a;
    double *restrict b = r->b;
    double *restrict m = r->m;
    /* rejections before sigma clipping: NaN, min/max, input DQ */
    for (size_t i = 0; i < n; i++) {
        double *restrict k = r->keep[i];
        const double *restrict vi = v[i];
        for (int64_t x = 0; x < nx; x++) {
            k[x] = vi[x] == vi[x] ? 1.0 : 0.0;
        }
        if (o->has_min_clip) {
            const double lo = o->min_clip;
            for (int64_t x = 0; x < nx; x++) {
                k[x] = vi[x] < lo ? 0.0 : k[x];
            }
        }
        if (o->has_max_clip) {
            const double hi = o->max_clip;
            for (int64_t x = 0; x < nx; x++) {
                k[x] = vi[x] > hi ? 0.0 : k[x];
            }
        }
        if (j->dqs && j->dqs[i]) {
            const uint16_t *restrict q = j->dqs[i] + y * nx;
            for (int64_t x = 0; x < nx; x++) {
                k[x] = q[x] ? 0.0 : k[x];
            }
        }
    }
    if (o->sigma_clip && ccdproc) {
        /* mean and std of every value; replaces the rejections above (ccdproc 2.4.0) */
        const double *restrict v0 = v[0];
        for (int64_t x = 0; x < nx; x++) {
            a[x] = v0[x];
        }
        for (size_t i = 1; i < n; i++) {
            const double *restrict vi = v[i];
            for (int64_t x = 0; x < nx; x++) {
                a[x] += vi[x];
            }
        }
        const double dn = (double)n;
        for (int64_t x = 0; x < nx; x++) {
            a[x] = a[x] / dn;
            b[x] = 0;
        }
        for (size_t i = 0; i < n; i++) {
            const double *restrict vi = v[i];
            for (int64_t x = 0; x < nx; x++) {
                double d = vi[x] - a[x];
                b[x] += d * d;
            }
        }
        for (int64_t x = 0; x < nx; x++) {
            b[x] = sqrt(b[x] / dn);
        }
        const double sl = o->sigma_low, sh = o->sigma_high;
        for (size_t i = 0; i < n; i++) {
            double *restrict k = r->keep[i];
            const double *restrict vi = v[i];
            for (int64_t x = 0; x < nx; x++) {
                double lo = a[x] - b[x] * sl;
                double hi = a[x] + b[x] * sh;
                double vv = vi[x];
                bool fin = vv == vv && fabs(vv) != INFINITY;
                k[x] = fin && !(vv < lo) && !(vv > hi) ? 1.0 : 0.0;
            }
        }
    } else if (o->sigma_clip) {
        /* mean and std of the values kept so far */
        for (int64_t x = 0; x < nx; x++) {
            a[x] = 0;
            b[x] = 0;
            m[x] = 0;
        }
        for (size_t i = 0; i < n; i++) {
            const double *restrict vi = v[i];
            const double *restrict k = r->keep[i];
            for (int64_t x = 0; x < nx; x++) {
                a[x] += k[x] != 0 ? vi[x] : 0.0;
                m[x] += k[x];
            }
        }
        for (int64_t x = 0; x < nx; x++) {
            a[x] = a[x] / m[x];
        }
        for (size_t i = 0; i < n; i++) {
            const double *restrict vi = v[i];
            const double *restrict k = r->keep[i];
            for (int64_t x = 0; x < nx; x++) {
                double d = vi[x] - a[x];
                b[x] += k[x] != 0 ? d * d : 0.0;
            }
        }
        for (int64_t x = 0; x < nx; x++) {
            b[x] = sqrt(b[x] / m[x]);
        }
        const double sl = o->sigma_low, sh = o->sigma_high;
        const bool use_lo = sl > 0, use_hi = sh > 0;
        for (size_t i = 0; i < n; i++) {
            double *restrict k = r->keep[i];
            const double *restrict vi = v[i];
            for (int64_t x = 0; x < nx; x++) {
                double vv = vi[x];
                bool out = (use_lo && vv < a[x] - b[x] * sl) || (use_hi && vv > a[x] + b[x] * sh);
                k[x] = m[x] > 0 && out ? 0.0 : k[x];
            }
        }
    }
    /* kept values, scaled, and their count */
    for (int64_t x = 0; x < nx; x++) {
        m[x] = 0;
    }
    for (size_t i = 0; i < n; i++) {
        const double *restrict vi = v[i];
        const double *restrict k = r->keep[i];
        double *restrict d = r->d[i];
        if (j->scale) {
            const double s = j->scale[i];
            for (int64_t x = 0; x < nx; x++) {
                d[x] = vi[x] * s;
            }
        } else {
            memcpy(d, vi, (size_t)nx * sizeof(double));
        }
        for (int64_t x = 0; x < nx; x++) {
            m[x] += k[x];
        }
    }
    double *restrict osci = j->osci + y * nx;
    double *restrict oerr = j->oerr + y * nx;
    uint16_t *restrict odq = j->odq + y * nx;
    if (o->method == CALIB_COMBINE_MEDIAN) {
        for (size_t i = 0; i < n; i++) {
            double *restrict t = r->t[i];
            const double *restrict d = r->d[i];
            const double *restrict k = r->keep[i];
            for (int64_t x = 0; x < nx; x++) {
                t[x] = k[x] != 0 ? d[x] : INFINITY;
            }
        }
        net8(r->t, nx, n);
        for (int64_t x = 0; x < nx; x++) {
            osci[x] = pick(r->t, x, (int)m[x]);
        }
        for (size_t i = 0; i < n; i++) {
            double *restrict t = r->t[i];
            const double *restrict d = r->d[i];
            const double *restrict k = r->keep[i];
            for (int64_t x = 0; x < nx; x++) {
                t[x] = k[x] != 0 ? fabs(d[x] - osci[x]) : INFINITY;
            }
        }
        net8(r->t, nx, n);
        for (int64_t x = 0; x < nx; x++) {
            double mad = pick(r->t, x, (int)m[x]);
            oerr[x] = m[x] > 0 ? mad * MAD_TO_SIGMA / sqrt(m[x]) : NAN;
        }
    } else {
        for (int64_t x = 0; x < nx; x++) {
            a[x] = 0;
            b[x] = 0;
        }
        for (size_t i = 0; i < n; i++) {
            const double *restrict d = r->d[i];
            const double *restrict k = r->keep[i];
            for (int64_t x = 0; x < nx; x++) {
                a[x] += k[x] != 0 ? d[x] : 0.0;
            }
        }
        double *restrict mean = r->t[0];
        for (int64_t x = 0; x < nx; x++) {
            mean[x] = a[x] / m[x];
        }
        for (size_t i = 0; i < n; i++) {
            const double *restrict d = r->d[i];
            const double *restrict k = r->keep[i];
            for (int64_t x = 0; x < nx; x++) {
                double dd = d[x] - mean[x];
                b[x] += k[x] != 0 ? dd * dd : 0.0;
            }
        }
        const bool sum = o->method == CALIB_COMBINE_SUM;
        for (int64_t x = 0; x < nx; x++) {
            double sd = sqrt(b[x] / m[x]);
            double rootm = sqrt(m[x]);
            if (sum) {
                osci[x] = m[x] > 0 ? a[x] : 0.0;
                oerr[x] = m[x] > 0 ? sd / rootm * m[x] : NAN;
            } else {
                osci[x] = m[x] > 0 ? mean[x] : NAN;
                oerr[x] = m[x] > 0 ? sd / rootm : NAN;
            }
        }
    }
    for (int64_t x = 0; x < nx; x++) {
        odq[x] = 0;
    }
    for (int64_t x = 0; x < nx; x++) {
        if (m[x] == 0) {
            uint16_t dqor = 0;
            if (j->dqs) {
                for (size_t i = 0; i < n; i++) {
                    if (j->dqs[i]) {
                        dqor |= j->dqs[i][y * nx + x];
                    }
                }
            }
            odq[x] = (uint16_t)(CALIB_DQ_DATAREJECT | dqor);
        }
    }
}

static void *band_work(void *arg)
{
    struct band_job *j = arg;
    if (fast_ok(j->o, j->n)) {
        struct fast_rows r;
        double *mem = malloc((size_t)j->nx * (3 * FAST_N + 3) * sizeof(double));
        if (mem) {
            for (size_t i = 0; i < FAST_N; i++) {
                r.t[i] = mem + (size_t)j->nx * i;
                r.keep[i] = mem + (size_t)j->nx * (FAST_N + i);
                r.d[i] = mem + (size_t)j->nx * (2 * FAST_N + i);
            }
            r.a = mem + (size_t)j->nx * (3 * FAST_N);
            r.b = r.a + j->nx;
            r.m = r.b + j->nx;
            for (int64_t y = j->row0; y < j->row1; y++) {
                fast_row(j, &r, y);
                for (int64_t x = 0; x < j->nx; x++) {
                    j->nrej_all += r.m[x] == 0;
                }
            }
            free(mem);
            return NULL;
        }
        /* no memory for the row buffers: the per-pixel path needs none */
    }
    double v[CALIB_MAX_INPUTS];
    bool rej[CALIB_MAX_INPUTS];
    double scratch[2 * CALIB_MAX_INPUTS];
    for (int64_t y = j->row0; y < j->row1; y++) {
        for (int64_t x = 0; x < j->nx; x++) {
            size_t p = (size_t)(y * j->nx + x);
            uint16_t dqor = 0;
            for (size_t i = 0; i < j->n; i++) {
                v[i] = j->stack[i][p];
                rej[i] = false;
                if (j->dqs && j->dqs[i]) {
                    uint16_t q = j->dqs[i][p];
                    rej[i] = q != 0;
                    dqor |= q;
                }
            }
            double val, sig;
            bool all;
            calib_combine_pixel(v, rej, j->n, j->o, j->scale, scratch, &val, &sig, &all);
            j->osci[p] = val;
            j->oerr[p] = sig;
            j->odq[p] = all ? (uint16_t)(CALIB_DQ_DATAREJECT | dqor) : 0;
            if (all) {
                j->nrej_all++;
            }
        }
    }
    return NULL;
}

static const char *method_name(enum calib_combine_method m)
{
    switch (m) {
    case CALIB_COMBINE_AVERAGE: return "average";
    case CALIB_COMBINE_MEDIAN: return "median";
    case CALIB_COMBINE_SUM: return "sum";
    }
    return "?";
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* 1/median of one input, read whole (one frame of memory, released before the bands). */
static enum err inv_median(struct input *in, double *out, struct err_info *ei)
{
    enum err e = fitsimg_select(in->f, in->sci_hdu, ei);
    if (e != ERR_OK) {
        return e;
    }
    double *img = NULL;
    int64_t nx = 0, ny = 0;
    e = fitsimg_read_all(in->f, &img, &nx, &ny, ei);
    if (e != ERR_OK) {
        return e;
    }
    size_t m = 0;
    for (int64_t i = 0; i < nx * ny; i++) {
        if (!isnan(img[i])) {
            img[m++] = img[i];
        }
    }
    double med = calib_median_inplace(img, m);
    free(img);
    if (!(med != 0) || !isfinite(med)) {
        return err_set(ei, ERR_CALIB, "file \"%s\": median %g cannot scale", fitsimg_path(in->f),
                       med);
    }
    *out = 1.0 / med;
    return ERR_OK;
}

enum err calib_combine_files(const char *const *inputs, size_t n, const char *out_path,
                             const struct calib_combine_opts *o, struct calib_combine_stats *st,
                             struct err_info *ei)
{
    struct calib_combine_stats stats;
    memset(&stats, 0, sizeof(stats));
    if (n < 1 || n > CALIB_MAX_INPUTS) {
        return err_set(ei, ERR_INVALID, "combine needs 1 to %d input frames, not %zu",
                       CALIB_MAX_INPUTS, n);
    }
    if (o->sigma_clip && o->mode == CALIB_MODE_CCDPROC &&
        (!(o->sigma_low >= 0) || !(o->sigma_high >= 0))) {
        return err_set(ei, ERR_INVALID, "sigma-clip thresholds must be >= 0");
    }
    enum err e = ERR_OK;
    struct input *in = calloc(n, sizeof(*in));
    double **stack = calloc(n, sizeof(double *));
    uint16_t **dqs = calloc(n, sizeof(uint16_t *));
    double *dqrow = NULL;
    double *scale = NULL;
    double *osci = NULL, *oerr = NULL;
    uint16_t *odq = NULL;
    struct fitsimg_writer *w = NULL;
    if (!in || !stack || !dqs) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    int64_t nx = 0, ny = 0;
    bool any_dq = false;
    char bunit[72] = "";
    for (size_t i = 0; i < n; i++) {
        e = fitsimg_open(inputs[i], &in[i].f, ei);
        if (e != ERR_OK) {
            goto out;
        }
        struct err_info tmp;
        if (fitsimg_select_name(in[i].f, "SCI", 1, &tmp) != ERR_OK) {
            e = fitsimg_select_first_image(in[i].f, ei);
            if (e != ERR_OK) {
                goto out;
            }
        }
        struct fitsimg_info info;
        fitsimg_get_info(in[i].f, &info);
        in[i].sci_hdu = info.hdu;
        in[i].dq_hdu = -1;
        if (info.nplanes > 1) {
            e = err_set(ei, ERR_UNSUPPORTED, "file \"%s\": a cube is not a frame", inputs[i]);
            goto out;
        }
        if (i == 0) {
            nx = info.nx;
            ny = info.ny;
            if (fitsimg_key_str(in[i].f, "BUNIT", bunit, sizeof(bunit), NULL) != ERR_OK) {
                bunit[0] = '\0';
            }
        } else if (info.nx != nx || info.ny != ny) {
            e = err_set(ei, ERR_CALIB, "shape mismatch: \"%s\" is %lldx%lld but \"%s\" is %lldx%lld",
                        inputs[i], (long long)info.nx, (long long)info.ny, inputs[0],
                        (long long)nx, (long long)ny);
            goto out;
        }
        if (o->mode == CALIB_MODE_DEFAULT && strcasecmp(info.extname, "SCI") == 0 &&
            fitsimg_select_name(in[i].f, "DQ", info.extver, &tmp) == ERR_OK) {
            struct fitsimg_info dqi;
            fitsimg_get_info(in[i].f, &dqi);
            if (dqi.nx == nx && dqi.ny == ny && !(dqi.constant && dqi.pixvalue == 0)) {
                in[i].dq_hdu = dqi.hdu;
                any_dq = true;
            }
        }
    }
    if (o->scale) {
        scale = malloc(n * sizeof(double));
        if (!scale) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
            goto out;
        }
        memcpy(scale, o->scale, n * sizeof(double));
    } else if (o->scale_inv_median) {
        scale = malloc(n * sizeof(double));
        if (!scale) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            e = inv_median(&in[i], &scale[i], ei);
            if (e != ERR_OK) {
                goto out;
            }
        }
    }

    /* band size: the stack of n input bands plus the output band fit the budget */
    size_t budget = o->band_bytes ? o->band_bytes : CALIB_BAND_BYTES;
    size_t per_row = (size_t)nx * (n * sizeof(double) + (any_dq ? n * sizeof(uint16_t) : 0) +
                                   2 * sizeof(double) + sizeof(uint16_t));
    int64_t band = (int64_t)(budget / per_row);
    if (band < 1) {
        band = 1;
    }
    if (band > ny) {
        band = ny;
    }
    stats.nx = nx;
    stats.ny = ny;
    stats.band_rows = band;
    stats.band_bytes = per_row * (size_t)band + (any_dq ? (size_t)nx * (size_t)band * 8 : 0);
    for (size_t i = 0; i < n; i++) {
        stack[i] = malloc((size_t)(band * nx) * sizeof(double));
        if (!stack[i]) {
            e = err_set(ei, ERR_NOMEM, "out of memory for the band buffers");
            goto out;
        }
        if (in[i].dq_hdu >= 0) {
            dqs[i] = malloc((size_t)(band * nx) * sizeof(uint16_t));
            if (!dqs[i]) {
                e = err_set(ei, ERR_NOMEM, "out of memory for the band buffers");
                goto out;
            }
        }
    }
    osci = malloc((size_t)(band * nx) * sizeof(double));
    oerr = malloc((size_t)(band * nx) * sizeof(double));
    odq = malloc((size_t)(band * nx) * sizeof(uint16_t));
    if (any_dq) {
        dqrow = malloc((size_t)(band * nx) * sizeof(double));
    }
    if (!osci || !oerr || !odq || (any_dq && !dqrow)) {
        e = err_set(ei, ERR_NOMEM, "out of memory for the band buffers");
        goto out;
    }

    /* the product: primary and SCI headers from the first input */
    e = fitsimg_writer_create(out_path, &w, ei);
    if (e != ERR_OK) {
        goto out;
    }
    fitsimg_writer_set_checksum(w, o->checksum);
    fitsimg_writer_set_sync(w, !o->no_sync);
    if ((e = fitsimg_select(in[0].f, 0, ei)) != ERR_OK ||
        (e = fitsimg_writer_copy_keys(w, in[0].f, ei)) != ERR_OK) {
        goto out;
    }
    if ((e = fitsimg_writer_key_int(w, "NCOMBINE", (int64_t)n, "number of frames combined",
                                    ei)) != ERR_OK ||
        (e = fitsimg_writer_key_str(w, "COMBMETH", method_name(o->method), "combination method",
                                    ei)) != ERR_OK ||
        (e = fitsimg_writer_key_str(w, "CALMODE",
                                    o->mode == CALIB_MODE_CCDPROC ? "ccdproc-2.4" : "calacs",
                                    "arithmetic of obsflow combine", ei)) != ERR_OK) {
        goto out;
    }
    if (o->sigma_clip) {
        if ((e = fitsimg_writer_key_double(w, "CLIPLOW", o->sigma_low, "sigma clip low", ei)) !=
                ERR_OK ||
            (e = fitsimg_writer_key_double(w, "CLIPHIGH", o->sigma_high, "sigma clip high", ei)) !=
                ERR_OK) {
            goto out;
        }
    }
    for (size_t i = 0; i < n && i < 999; i++) {
        char key[16];
        snprintf(key, sizeof(key), "IMCMB%03zu", i + 1);
        if ((e = fitsimg_writer_key_str(w, key, base_name(inputs[i]), NULL, ei)) != ERR_OK) {
            goto out;
        }
    }
    enum fitsimg_type ft = o->float32_out ? FITSIMG_F32 : FITSIMG_F64;
    int h_sci = 0, h_err = 0, h_dq = 0;
    if ((e = fitsimg_writer_add_image(w, "SCI", 1, ft, nx, ny, &h_sci, ei)) != ERR_OK) {
        goto out;
    }
    if (in[0].sci_hdu != 0) {
        if ((e = fitsimg_select(in[0].f, in[0].sci_hdu, ei)) != ERR_OK ||
            (e = fitsimg_writer_copy_keys(w, in[0].f, ei)) != ERR_OK) {
            goto out;
        }
    }
    if (bunit[0] && (e = fitsimg_writer_key_str(w, "BUNIT", bunit, NULL, ei)) != ERR_OK) {
        goto out;
    }
    if ((e = fitsimg_writer_add_image(w, "ERR", 1, ft, nx, ny, &h_err, ei)) != ERR_OK) {
        goto out;
    }
    if (bunit[0] && (e = fitsimg_writer_key_str(w, "BUNIT", bunit, NULL, ei)) != ERR_OK) {
        goto out;
    }
    if ((e = fitsimg_writer_add_image(w, "DQ", 1, FITSIMG_I16, nx, ny, &h_dq, ei)) != ERR_OK) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if ((e = fitsimg_select(in[i].f, in[i].sci_hdu, ei)) != ERR_OK) {
            goto out;
        }
    }

    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int nthreads = ncpu >= 2 ? 2 : 1;
    for (int64_t row0 = 0; row0 < ny; row0 += band) {
        int64_t rows = row0 + band <= ny ? band : ny - row0;
        for (size_t i = 0; i < n; i++) {
            if (in[i].dq_hdu >= 0) {
                if ((e = fitsimg_select(in[i].f, in[i].dq_hdu, ei)) != ERR_OK ||
                    (e = fitsimg_read_rows(in[i].f, row0, rows, dqrow, ei)) != ERR_OK ||
                    (e = fitsimg_select(in[i].f, in[i].sci_hdu, ei)) != ERR_OK) {
                    goto out;
                }
                for (int64_t k = 0; k < rows * nx; k++) {
                    double q = dqrow[k];
                    dqs[i][k] = (uint16_t)(q > 0 && q < 65536 ? (uint32_t)q : 0);
                }
            }
            e = fitsimg_read_rows(in[i].f, row0, rows, stack[i], ei);
            if (e != ERR_OK) {
                goto out;
            }
        }
        struct band_job jobs[2];
        int64_t split = nthreads > 1 && rows > 1 ? rows / 2 : rows;
        for (int t = 0; t < 2; t++) {
            jobs[t] = (struct band_job){.o = o, .scale = scale, .stack = stack,
                                        .dqs = any_dq ? dqs : NULL, .n = n, .nx = nx,
                                        .row0 = t == 0 ? 0 : split, .row1 = t == 0 ? split : rows,
                                        .osci = osci, .oerr = oerr, .odq = odq, .nrej_all = 0};
        }
        pthread_t th;
        bool threaded = split < rows && pthread_create(&th, NULL, band_work, &jobs[1]) == 0;
        band_work(&jobs[0]);
        if (threaded) {
            pthread_join(th, NULL);
        } else if (split < rows) {
            band_work(&jobs[1]);
        }
        stats.all_rejected += jobs[0].nrej_all + jobs[1].nrej_all;
        if ((e = fitsimg_writer_select(w, h_sci, ei)) != ERR_OK ||
            (e = fitsimg_writer_write_rows(w, row0, rows, FITSIMG_F64, osci, ei)) != ERR_OK ||
            (e = fitsimg_writer_select(w, h_err, ei)) != ERR_OK ||
            (e = fitsimg_writer_write_rows(w, row0, rows, FITSIMG_F64, oerr, ei)) != ERR_OK ||
            (e = fitsimg_writer_select(w, h_dq, ei)) != ERR_OK ||
            (e = fitsimg_writer_write_rows(w, row0, rows, FITSIMG_U16, odq, ei)) != ERR_OK) {
            goto out;
        }
        if (o->progress) {
            o->progress(row0 + rows, ny, o->progress_arg);
        }
    }
    if ((e = fitsimg_writer_select(w, 0, ei)) != ERR_OK ||
        (e = fitsimg_writer_history(w, "combined by obsflow combine", ei)) != ERR_OK) {
        goto out;
    }
    e = fitsimg_writer_commit(w, ei);
out:
    fitsimg_writer_destroy(w);
    if (in) {
        for (size_t i = 0; i < n; i++) {
            fitsimg_close(in[i].f);
        }
    }
    if (stack) {
        for (size_t i = 0; i < n; i++) {
            free(stack[i]);
        }
    }
    if (dqs) {
        for (size_t i = 0; i < n; i++) {
            free(dqs[i]);
        }
    }
    free(in);
    free(stack);
    free(dqs);
    free(dqrow);
    free(scale);
    free(osci);
    free(oerr);
    free(odq);
    if (st) {
        *st = stats;
    }
    return e;
}
