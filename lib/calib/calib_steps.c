/* calib_steps.c - the calibration steps and the chain (calib_run).
 * Arithmetic of the ccdproc mode follows python3-ccdproc 2.4.0 with astropy 5.2.1
 * StdDevUncertainty propagation, operation for operation, so results agree to rounding.
 * SPDX-License-Identifier: Apache-2.0 */
/* The per-pixel loops below are written for the vectoriser; let GCC use it at -O2 too (IEEE
 * semantics are kept, so results do not change). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize")
#endif

#include "calib/calib.h"

#include "calib/calib_internal.h"
#include "core/str.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* numpy's pairwise summation (numpy/core/src/umath/loops_utils.h.src), so that means over
 * many pixels round exactly as numpy's do. */
double calib_pairwise_sum(const double *a, size_t n, size_t stride)
{
    if (n < 8) {
        double res = 0.;
        for (size_t i = 0; i < n; i++) {
            res += a[i * stride];
        }
        return res;
    }
    if (n <= 128) {
        double r[8];
        for (size_t j = 0; j < 8; j++) {
            r[j] = a[j * stride];
        }
        size_t i;
        for (i = 8; i < n - (n % 8); i += 8) {
            for (size_t j = 0; j < 8; j++) {
                r[j] += a[(i + j) * stride];
            }
        }
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) {
            res += a[i * stride];
        }
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return calib_pairwise_sum(a, n2, stride) + calib_pairwise_sum(a + n2 * stride, n - n2, stride);
}

/* k-th smallest of v[0..n) (reorders v; Wirth's selection, NaN-free input). */
static double select_kth(double *v, size_t n, size_t k)
{
    ptrdiff_t l = 0, m = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
    while (l < m) {
        double x = v[kk];
        ptrdiff_t i = l, j = m;
        do {
            while (v[i] < x) {
                i++;
            }
            while (x < v[j]) {
                j--;
            }
            if (i <= j) {
                double t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                j--;
            }
        } while (i <= j);
        if (j < kk) {
            l = i;
        }
        if (kk < i) {
            m = j;
        }
    }
    return v[kk];
}

/* Median of v[0..n) (reorders v); NaN for n == 0. Even n: mean of the two middle values. */
/* Branch-free compare-exchange (minsd/maxsd); inputs are NaN-free. */
#define CSWAP(a, b)                                                                                \
    do {                                                                                           \
        double x_ = t[a], y_ = t[b];                                                               \
        t[a] = x_ < y_ ? x_ : y_;                                                                  \
        t[b] = x_ > y_ ? x_ : y_;                                                                  \
    } while (0)

/* Median of up to 8 values with an 8-input sorting network (19 comparators), padding with +inf:
 * no data-dependent branches, which matters for per-pixel medians of a few frames. */
static double median_small(const double *v, size_t n)
{
    double t[8];
    for (size_t i = 0; i < 8; i++) {
        t[i] = i < n ? v[i] : INFINITY;
    }
    CSWAP(0, 2); CSWAP(1, 3); CSWAP(4, 6); CSWAP(5, 7);
    CSWAP(0, 4); CSWAP(1, 5); CSWAP(2, 6); CSWAP(3, 7);
    CSWAP(0, 1); CSWAP(2, 3); CSWAP(4, 5); CSWAP(6, 7);
    CSWAP(2, 4); CSWAP(3, 5);
    CSWAP(1, 4); CSWAP(3, 6);
    CSWAP(1, 2); CSWAP(3, 4); CSWAP(5, 6);
    if (n % 2) {
        return t[n / 2];
    }
    return (t[n / 2 - 1] + t[n / 2]) / 2.0;
}
#undef CSWAP

double calib_median_inplace(double *v, size_t n)
{
    if (n == 0) {
        return NAN;
    }
    if (n <= 8) {
        return median_small(v, n);
    }
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            double x = v[i];
            size_t j = i;
            while (j > 0 && v[j - 1] > x) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = x;
        }
        if (n % 2) {
            return v[n / 2];
        }
        return (v[n / 2 - 1] + v[n / 2]) / 2.0;
    }
    double hi = select_kth(v, n, n / 2);
    if (n % 2) {
        return hi;
    }
    /* the largest value below position n/2 */
    double lo = v[0];
    for (size_t i = 1; i < n / 2; i++) {
        if (v[i] > lo) {
            lo = v[i];
        }
    }
    return (lo + hi) / 2.0;
}

/* ------------------------------------------------------------------------------------------- */

size_t calib_dq_apply_bpix(struct calib_frame *f, const struct calib_bpix *rows, size_t n)
{
    size_t touched = 0;
    for (size_t r = 0; r < n; r++) {
        const struct calib_bpix *b = &rows[r];
        for (int64_t k = 0; k < b->length; k++) {
            int64_t x = b->x + (b->axis == 1 ? k : 0);
            int64_t y = b->y + (b->axis == 2 ? k : 0);
            if (x < 0 || y < 0 || x >= f->nx || y >= f->ny) {
                continue;
            }
            f->dq[y * f->nx + x] |= b->value;
            touched++;
        }
    }
    return touched;
}

enum err calib_dq_apply_mask(struct calib_frame *f, const struct calib_frame *mask,
                             struct err_info *ei)
{
    if (mask->nx != f->nx || mask->ny != f->ny) {
        return err_set(ei, ERR_CALIB, "bad-pixel mask \"%s\" is %lldx%lld but the frame is %lldx%lld",
                       mask->source, (long long)mask->nx, (long long)mask->ny, (long long)f->nx,
                       (long long)f->ny);
    }
    for (int64_t i = 0; i < f->nx * f->ny; i++) {
        double m = mask->sci[i];
        if (m != 0 && isfinite(m)) {
            uint16_t bits = m == 1.0 ? (uint16_t)CALIB_DQ_DETECTOR
                                     : (uint16_t)(m > 0 && m < 65536 ? (uint32_t)m : CALIB_DQ_DETECTOR);
            f->dq[i] |= bits;
        }
        f->dq[i] |= mask->dq[i];
    }
    return ERR_OK;
}

size_t calib_dq_atodsat(struct calib_frame *f, double atodsat)
{
    size_t n = 0;
    for (int64_t i = 0; i < f->nx * f->ny; i++) {
        if (f->sci[i] >= atodsat) {
            f->dq[i] |= CALIB_DQ_ATODSAT;
            n++;
        }
    }
    return n;
}

size_t calib_dq_fullwell(struct calib_frame *f, double level)
{
    size_t n = 0;
    for (int64_t i = 0; i < f->nx * f->ny; i++) {
        if (f->sci[i] > level) {
            f->dq[i] |= CALIB_DQ_SATPIXEL;
            n++;
        }
    }
    return n;
}

double calib_oscan_row_level(const double *row, const uint16_t *dq, const struct calib_section *s,
                             enum calib_oscan_stat stat, enum calib_mode mode, double *tmp,
                             bool *ok)
{
    size_t k = 0;
    for (int64_t x = s->x0; x < s->x1; x++) {
        if (mode == CALIB_MODE_CCDPROC || dq[x] == 0) {
            tmp[k++] = row[x];
        }
    }
    *ok = k > 0;
    if (!*ok) {
        return NAN;
    }
    if (stat == CALIB_OSCAN_MEDIAN) {
        return calib_median_inplace(tmp, k);
    }
    return calib_pairwise_sum(tmp, k, 1) / (double)k;
}

enum err calib_oscan_finish(double *lv, const bool *ok, int64_t ny, bool fit_linear,
                            struct err_info *ei)
{
    int64_t nok = 0;
    for (int64_t y = 0; y < ny; y++) {
        nok += ok[y];
    }
    if (fit_linear) {
        /* least squares line in the row number over the rows that have a level */
        if (nok < 2) {
            return err_set(ei, ERR_CALIB, "overscan fit needs at least two rows with good pixels");
        }
        double sx = 0, sy = 0;
        for (int64_t y = 0; y < ny; y++) {
            if (ok[y]) {
                sx += (double)y;
                sy += lv[y];
            }
        }
        double mx = sx / (double)nok, my = sy / (double)nok;
        double sxx = 0, sxy = 0;
        for (int64_t y = 0; y < ny; y++) {
            if (ok[y]) {
                double dx = (double)y - mx;
                sxx += dx * dx;
                sxy += dx * (lv[y] - my);
            }
        }
        double slope = sxx > 0 ? sxy / sxx : 0.0;
        for (int64_t y = 0; y < ny; y++) {
            lv[y] = my + slope * ((double)y - mx);
        }
        return ERR_OK;
    }
    for (int64_t y = 0; y < ny; y++) {
        if (!ok[y]) {
            return err_set(ei, ERR_CALIB, "overscan row %lld has no good pixel", (long long)(y + 1));
        }
    }
    return ERR_OK;
}

void calib_oscan_subtract_row(double *row, uint16_t *dq, int64_t nx, double level,
                              const struct calib_section *s, enum calib_mode mode)
{
    for (int64_t x = 0; x < nx; x++) {
        row[x] = row[x] - level;
    }
    if (mode == CALIB_MODE_DEFAULT) {
        for (int64_t x = s->x0; x < s->x1; x++) {
            dq[x] |= CALIB_DQ_OVERSCAN;
        }
    }
}

enum err calib_overscan(struct calib_frame *f, const struct calib_section *s,
                        enum calib_oscan_stat stat, bool fit_linear, enum calib_mode mode,
                        double *levels, struct err_info *ei)
{
    if (s->x0 < 0 || s->x1 > f->nx || s->y0 < 0 || s->y1 > f->ny || s->x1 <= s->x0 ||
        s->y1 <= s->y0) {
        return err_set(ei, ERR_CALIB, "overscan section lies outside the %lldx%lld frame",
                       (long long)f->nx, (long long)f->ny);
    }
    if (s->y0 != 0 || s->y1 != f->ny) {
        /* one level per row of the frame: the section must span every row */
        char sec[64];
        calib_section_format(s, sec, sizeof(sec));
        return err_set(ei, ERR_CALIB,
                       "overscan section %s must cover every row (1:%lld) of the frame", sec,
                       (long long)f->ny);
    }
    int64_t ny = f->ny;
    double *lv = malloc((size_t)ny * sizeof(double));
    double *tmp = malloc((size_t)(s->x1 - s->x0) * sizeof(double));
    bool *ok = malloc((size_t)ny * sizeof(bool));
    enum err e = ERR_OK;
    if (!lv || !tmp || !ok) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int64_t y = 0; y < ny; y++) {
        lv[y] = calib_oscan_row_level(f->sci + y * f->nx, f->dq + y * f->nx, s, stat, mode, tmp,
                                      &ok[y]);
    }
    e = calib_oscan_finish(lv, ok, ny, fit_linear, ei);
    if (e != ERR_OK) {
        goto out;
    }
    for (int64_t y = 0; y < ny; y++) {
        calib_oscan_subtract_row(f->sci + y * f->nx, f->dq + y * f->nx, f->nx, lv[y], s, mode);
    }
    if (levels) {
        memcpy(levels, lv, (size_t)ny * sizeof(double));
    }
out:
    free(lv);
    free(tmp);
    free(ok);
    return e;
}

enum err calib_trim(struct calib_frame *f, const struct calib_section *s, struct err_info *ei)
{
    if (s->x0 < 0 || s->x1 > f->nx || s->y0 < 0 || s->y1 > f->ny || s->x1 <= s->x0 ||
        s->y1 <= s->y0) {
        return err_set(ei, ERR_CALIB, "trim section lies outside the %lldx%lld frame",
                       (long long)f->nx, (long long)f->ny);
    }
    int64_t nx = s->x1 - s->x0, ny = s->y1 - s->y0;
    /* in place: row y of the result never lies after row y of the source */
    for (int64_t y = 0; y < ny; y++) {
        size_t src = (size_t)((y + s->y0) * f->nx + s->x0);
        size_t dst = (size_t)(y * nx);
        memmove(f->sci + dst, f->sci + src, (size_t)nx * sizeof(double));
        memmove(f->dq + dst, f->dq + src, (size_t)nx * sizeof(uint16_t));
        if (f->err) {
            memmove(f->err + dst, f->err + src, (size_t)nx * sizeof(double));
        }
    }
    (void)ei;
    f->nx = nx;
    f->ny = ny;
    return ERR_OK;
}

enum err calib_deviation(struct calib_frame *f, double gain, double readnoise, struct err_info *ei)
{
    if (!(gain > 0) || !(readnoise >= 0)) {
        return err_set(ei, ERR_INVALID, "gain must be > 0 and read noise >= 0");
    }
    enum err e = calib_frame_ensure_err(f, ei);
    if (e != ERR_OK) {
        return e;
    }
    double rn2 = readnoise * readnoise;
    for (int64_t i = 0; i < f->nx * f->ny; i++) {
        double d = gain * f->sci[i];
        if (d < 0) {
            d = NAN;
        }
        double v = sqrt(d + rn2);
        f->err[i] = v / gain;
    }
    return ERR_OK;
}

enum err calib_noise(struct calib_frame *f, double readnoise, struct err_info *ei)
{
    enum err e = calib_frame_ensure_err(f, ei);
    if (e != ERR_OK) {
        return e;
    }
    double rn2 = readnoise * readnoise;
    for (int64_t i = 0; i < f->nx * f->ny; i++) {
        double s = f->sci[i] > 0 ? f->sci[i] : 0.0;
        double o = f->err[i];
        f->err[i] = sqrt(s + rn2 + o * o);
    }
    return ERR_OK;
}

void calib_gain(struct calib_frame *f, double gain)
{
    for (int64_t i = 0; i < f->nx * f->ny; i++) {
        f->sci[i] *= gain;
    }
    if (f->err) {
        for (int64_t i = 0; i < f->nx * f->ny; i++) {
            double s = f->err[i];
            f->err[i] = sqrt(s * s * (gain * gain)); /* astropy: sqrt(|g^2 * var|) */
        }
    }
    str_copy(f->bunit, sizeof(f->bunit), "ELECTRONS");
}

static enum err ref_fits(const struct calib_frame *f, const struct calib_frame *ref, int64_t ox,
                         int64_t oy, const char *what, struct err_info *ei)
{
    if (ox < 0 || oy < 0 || ox + f->nx > ref->nx || oy + f->ny > ref->ny) {
        return err_set(ei, ERR_CALIB, "%s \"%s\" is %lldx%lld but the frame is %lldx%lld", what,
                       ref->source, (long long)ref->nx, (long long)ref->ny, (long long)f->nx,
                       (long long)f->ny);
    }
    return ERR_OK;
}

enum err calib_subtract(struct calib_frame *f, const struct calib_frame *ref, double k, int64_t ox,
                        int64_t oy, const char *what, struct err_info *ei)
{
    enum err e = ref_fits(f, ref, ox, oy, what, ei);
    if (e != ERR_OK) {
        return e;
    }
    if (ref->err) {
        e = calib_frame_ensure_err(f, ei);
        if (e != ERR_OK) {
            return e;
        }
    }
    for (int64_t y = 0; y < f->ny; y++) {
        double *s = f->sci + y * f->nx;
        uint16_t *d = f->dq + y * f->nx;
        const double *rs = ref->sci + (y + oy) * ref->nx + ox;
        const uint16_t *rd = ref->dq + (y + oy) * ref->nx + ox;
        if (k == 1.0) {
            for (int64_t x = 0; x < f->nx; x++) {
                s[x] = s[x] - rs[x];
            }
        } else {
            for (int64_t x = 0; x < f->nx; x++) {
                s[x] = s[x] - rs[x] * k;
            }
        }
        for (int64_t x = 0; x < f->nx; x++) {
            d[x] |= rd[x];
        }
        if (ref->err) {
            double *se = f->err + y * f->nx;
            const double *re = ref->err + (y + oy) * ref->nx + ox;
            double kk = k * k;
            for (int64_t x = 0; x < f->nx; x++) {
                double b = re[x];
                double vb = k == 1.0 ? b * b : sqrt(b * b * kk) * sqrt(b * b * kk);
                f->err[y * f->nx + x] = sqrt(se[x] * se[x] + vb);
            }
        }
    }
    return ERR_OK;
}

enum err calib_flat_mean(const struct calib_frame *flat, int64_t ox, int64_t oy, int64_t nx,
                         int64_t ny, enum calib_mode mode, bool has_min, double min_value,
                         double *mean_out, struct err_info *ei)
{
    size_t n = (size_t)(nx * ny);
    /* the part of the flat in use, as one contiguous array (numpy sums it pairwise as such) */
    bool direct = ox == 0 && oy == 0 && flat->nx == nx && !has_min;
    double *owned = NULL;
    if (!direct) {
        owned = malloc(n * sizeof(double));
        if (!owned) {
            return err_set(ei, ERR_NOMEM, "out of memory");
        }
        for (int64_t y = 0; y < ny; y++) {
            for (int64_t x = 0; x < nx; x++) {
                owned[y * nx + x] =
                    calib_flat_value(flat->sci[(y + oy) * flat->nx + ox + x], has_min, min_value);
            }
        }
    }
    const double *F = direct ? flat->sci : owned;
    double m;
    if (mode == CALIB_MODE_CCDPROC) {
        m = calib_pairwise_sum(F, n, 1) / (double)n;
    } else {
        struct calib_kahan k = {0, 0, 0};
        for (size_t i = 0; i < n; i++) {
            calib_kahan_add(&k, F[i]);
        }
        m = k.n ? k.s / (double)k.n : NAN;
    }
    free(owned);
    if (!(m > 0) || !isfinite(m)) {
        return err_set(ei, ERR_CALIB, "flat \"%s\" has no positive mean (%g)", flat->source, m);
    }
    *mean_out = m;
    return ERR_OK;
}

enum err calib_flat_apply(struct calib_frame *f, const struct calib_frame *flat, int64_t ox,
                          int64_t oy, enum calib_mode mode, bool has_min, double min_value,
                          double m, struct err_info *ei)
{
    enum err e = ref_fits(f, flat, ox, oy, "flat", ei);
    if (e != ERR_OK) {
        return e;
    }
    if (flat->err) {
        e = calib_frame_ensure_err(f, ei);
        if (e != ERR_OK) {
            return e;
        }
    }
    int64_t nx = f->nx, ny = f->ny;
    double m2 = m * m, m4 = pow(m, 4.0);
    for (int64_t y = 0; y < ny; y++) {
        for (int64_t x = 0; x < nx; x++) {
            size_t i = (size_t)(y * nx + x);
            size_t r = (size_t)((y + oy) * flat->nx + ox + x);
            double B = calib_flat_value(flat->sci[r], has_min, min_value) / m;
            bool bad = !(B > 0) || !isfinite(B);
            f->dq[i] |= flat->dq[r];
            if (bad) {
                f->dq[i] |= CALIB_DQ_CALIBDEFECT;
                if (mode == CALIB_MODE_DEFAULT) {
                    continue; /* calacs: SCI left unchanged where the flat is unusable */
                }
            }
            double A = f->sci[i];
            f->sci[i] = A / B;
            if (f->err) {
                double sa = f->err[i];
                double sb = 0;
                if (flat->err) {
                    double sf = flat->err[r];
                    sb = sqrt(fabs(m2 * (sf * sf)) / m4); /* sigma of F/m as astropy has it */
                }
                double left = fabs(B * B * (sa * sa));
                double right = fabs(A * A * (sb * sb));
                f->err[i] = sqrt((left + right) / pow(B, 4.0));
            }
        }
    }
    return ERR_OK;
}

enum err calib_flat(struct calib_frame *f, const struct calib_frame *flat, int64_t ox, int64_t oy,
                    enum calib_mode mode, bool has_min, double min_value, double *mean_out,
                    struct err_info *ei)
{
    enum err e = ref_fits(f, flat, ox, oy, "flat", ei);
    if (e != ERR_OK) {
        return e;
    }
    double m = 0;
    e = calib_flat_mean(flat, ox, oy, f->nx, f->ny, mode, has_min, min_value, &m, ei);
    if (e != ERR_OK) {
        return e;
    }
    if (mean_out) {
        *mean_out = m;
    }
    return calib_flat_apply(f, flat, ox, oy, mode, has_min, min_value, m, ei);
}

/* ------------------------------------------------------------------------------------------- */

enum err calib_crreject(struct calib_frame *const *frames, size_t n, double sigma,
                        double scalenoise, struct calib_frame *out, size_t *nrej,
                        struct err_info *ei)
{
    *nrej = 0;
    if (n < 2 || n > CALIB_MAX_INPUTS) {
        return err_set(ei, ERR_INVALID, "cosmic-ray rejection needs 2 to %d exposures, not %zu",
                       CALIB_MAX_INPUTS, n);
    }
    int64_t nx = frames[0]->nx, ny = frames[0]->ny;
    double ttot = 0;
    for (size_t k = 0; k < n; k++) {
        if (frames[k]->nx != nx || frames[k]->ny != ny) {
            return err_set(ei, ERR_CALIB, "cr-split exposure \"%s\" is %lldx%lld, not %lldx%lld",
                           frames[k]->source, (long long)frames[k]->nx, (long long)frames[k]->ny,
                           (long long)nx, (long long)ny);
        }
        if (!frames[k]->has_exptime || !(frames[k]->exptime > 0)) {
            return err_set(ei, ERR_CALIB, "cr-split exposure \"%s\" has no positive EXPTIME",
                           frames[k]->source);
        }
        ttot += frames[k]->exptime;
    }
    enum err e = calib_frame_alloc(out, nx, ny, ei);
    if (e == ERR_OK) {
        e = calib_frame_ensure_err(out, ei);
    }
    if (e != ERR_OK) {
        calib_frame_free(out);
        return e;
    }
    str_copy(out->bunit, sizeof(out->bunit), frames[0]->bunit);
    out->exptime = ttot;
    out->has_exptime = true;
    double rate[CALIB_MAX_INPUTS];
    for (int64_t i = 0; i < nx * ny; i++) {
        size_t k2 = 0;
        for (size_t k = 0; k < n; k++) {
            if (frames[k]->dq[i] == 0) {
                rate[k2++] = frames[k]->sci[i] / frames[k]->exptime;
            }
        }
        double guess = calib_median_inplace(rate, k2);
        double sum = 0, var = 0, tgood = 0;
        uint16_t dqall = 0xffff;
        for (size_t k = 0; k < n; k++) {
            const struct calib_frame *fr = frames[k];
            double t = fr->exptime;
            double v = fr->sci[i];
            double ev = fr->err ? fr->err[i] : 0;
            bool rej = fr->dq[i] != 0;
            if (!rej && isfinite(guess)) {
                double d = v - t * guess;
                double sn = scalenoise * t * guess;
                if (d * d > sigma * sigma * (ev * ev + sn * sn)) {
                    rej = true;
                    (*nrej)++;
                }
            }
            if (rej) {
                dqall &= (uint16_t)(fr->dq[i] | CALIB_DQ_DATAREJECT);
                continue;
            }
            dqall = 0;
            sum += v;
            var += ev * ev;
            tgood += t;
        }
        if (tgood > 0) {
            out->sci[i] = sum * (ttot / tgood);
            out->err[i] = sqrt(var) * (ttot / tgood);
            out->dq[i] = 0;
        } else {
            out->sci[i] = isfinite(guess) ? guess * ttot : 0;
            out->err[i] = 0;
            out->dq[i] = dqall == 0xffff ? (uint16_t)CALIB_DQ_DATAREJECT : dqall;
        }
    }
    return ERR_OK;
}

/* ------------------------------------------------------------------------------------------- */

void calib_record_str(struct calib_record *r, const char *name, const char *value,
                      const char *comment)
{
    if (!r || r->nkeys >= CALIB_MAX_KEYS) {
        return;
    }
    for (int i = 0; i < r->nkeys; i++) {
        if (strcmp(r->keys[i].name, name) == 0) {
            r->keys[i].is_num = false;
            str_copy(r->keys[i].str, sizeof(r->keys[i].str), value);
            return;
        }
    }
    int i = r->nkeys++;
    str_copy(r->keys[i].name, sizeof(r->keys[i].name), name);
    r->keys[i].is_num = false;
    str_copy(r->keys[i].str, sizeof(r->keys[i].str), value);
    str_copy(r->keys[i].comment, sizeof(r->keys[i].comment), comment ? comment : "");
}

void calib_record_num(struct calib_record *r, const char *name, double value, const char *comment)
{
    if (!r || r->nkeys >= CALIB_MAX_KEYS || !isfinite(value)) {
        return;
    }
    int i = r->nkeys++;
    str_copy(r->keys[i].name, sizeof(r->keys[i].name), name);
    r->keys[i].is_num = true;
    r->keys[i].num = value;
    r->keys[i].str[0] = '\0';
    str_copy(r->keys[i].comment, sizeof(r->keys[i].comment), comment ? comment : "");
}

void calib_record_history(struct calib_record *r, const char *fmt, ...)
{
    if (!r || r->nhistory >= CALIB_MAX_HISTORY) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->history[r->nhistory], sizeof(r->history[0]), fmt, ap);
    va_end(ap);
    r->nhistory++;
}

