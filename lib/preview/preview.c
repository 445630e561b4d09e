/* preview.c - fitscut-style autoscale, block shrink + exact resize, asinh display mapping.
 * SPDX-License-Identifier: Apache-2.0 */
#include "preview/preview.h"
#include "preview/preview_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void preview_opts_default(struct preview_opts *o)
{
    o->size = 0;
    o->autoscale = 99.5;
    o->nonlinearity = 3.0;
    o->display_max = 0.7;
    o->quality = 75;
    o->badpix = true;
    o->durable = false;
}

size_t preview_apply_badpix(double *pix, size_t n, const struct preview_badpix *bp)
{
    size_t marked = 0;
    if (!bp || (!bp->has_badpix && !bp->has_goodmin && !bp->has_goodmax)) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        double v = pix[i];
        if (isnan(v)) {
            continue;
        }
        if ((bp->has_badpix && v == bp->badpix) || (bp->has_goodmin && v < bp->goodmin) ||
            (bp->has_goodmax && v > bp->goodmax)) {
            pix[i] = NAN;
            marked++;
        }
    }
    return marked;
}

/* k-th smallest of a[0..n) (Hoare quickselect, median of three); reorders a. */
static double select_kth(double *a, size_t n, size_t k)
{
    size_t lo = 0;
    size_t hi = n - 1;
    while (hi > lo) {
        size_t mid = lo + (hi - lo) / 2;
        double x = a[lo], y = a[mid], z = a[hi];
        double pivot = (x < y) ? ((y < z) ? y : ((x < z) ? z : x)) : ((x < z) ? x : ((y < z) ? z : y));
        size_t i = lo;
        size_t j = hi;
        while (i <= j) {
            while (a[i] < pivot) {
                i++;
            }
            while (a[j] > pivot) {
                j--;
            }
            if (i <= j) {
                double t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                if (j == 0) {
                    break;
                }
                j--;
            }
        }
        if (k <= j) {
            hi = j;
        } else if (k >= i) {
            lo = i;
        } else {
            return a[k];
        }
    }
    return a[k];
}

size_t preview__sample_nrows(size_t nx, size_t ny)
{
    size_t nrows = (PREVIEW_NSAMPLE + nx - 1) / nx;
    return nrows > ny ? ny : nrows;
}

size_t preview__sample_row(size_t r, size_t nrows, size_t ny)
{
    size_t row = (size_t)(((double)r + 0.5) * (double)ny / (double)nrows);
    return row >= ny ? ny - 1 : row;
}

enum err preview__autoscale_rows(const double *rows, size_t nx, size_t nrows, double percent,
                                 struct preview_scale *out, struct err_info *ei)
{
    if (nx == 0 || nrows == 0 || !(percent > 50.0 && percent <= 100.0)) {
        return err_set(ei, ERR_INVALID, "invalid autoscale arguments");
    }
    size_t xstep = nx > PREVIEW_NSAMPLE ? nx / PREVIEW_NSAMPLE + 1 : 1;
    double *s = malloc(sizeof *s * (nrows * ((nx + xstep - 1) / xstep)));
    if (!s) {
        return err_set(ei, ERR_NOMEM, "out of memory for the autoscale sample");
    }
    size_t n = 0;
    for (size_t r = 0; r < nrows; r++) {
        const double *p = rows + r * nx;
        for (size_t x = 0; x < nx; x += xstep) {
            if (isfinite(p[x])) {
                s[n++] = p[x];
            }
        }
    }
    if (n == 0) {
        free(s);
        return err_set(ei, ERR_INVALID, "image has no good pixels to scale");
    }
    double frac = (100.0 - percent) / 100.0;
    size_t klo = (size_t)floor(frac * (double)(n - 1) + 0.5);
    size_t khi = (size_t)floor((1.0 - frac) * (double)(n - 1) + 0.5);
    double vlo = select_kth(s, n, klo);
    double vhi = select_kth(s, n, khi);
    free(s);
    if (!(vhi > vlo)) {
        vhi = vlo + 1.0;
    }
    out->min = vlo;
    out->max = vhi;
    out->nsample = n;
    return ERR_OK;
}

enum err preview_autoscale(const double *pix, size_t nx, size_t ny, double percent,
                           struct preview_scale *out, struct err_info *ei)
{
    if (nx == 0 || ny == 0) {
        return err_set(ei, ERR_INVALID, "invalid autoscale arguments");
    }
    /* rows evenly spread over the image (the same rows preview_file reads) */
    size_t nrows = preview__sample_nrows(nx, ny);
    double *rows = malloc(sizeof *rows * nrows * nx);
    if (!rows) {
        return err_set(ei, ERR_NOMEM, "out of memory for the autoscale sample");
    }
    for (size_t r = 0; r < nrows; r++) {
        memcpy(rows + r * nx, pix + preview__sample_row(r, nrows, ny) * nx, sizeof *rows * nx);
    }
    enum err rc = preview__autoscale_rows(rows, nx, nrows, percent, out, ei);
    free(rows);
    return rc;
}

void preview__shrink_band(const double *band, size_t nx, size_t f, double *out)
{
    size_t bx = nx / f;
    for (size_t x = 0; x < bx; x++) {
        double acc = 0.0;
        size_t c = 0;
        for (size_t dy = 0; dy < f; dy++) {
            const double *q = band + dy * nx + x * f;
            for (size_t dx = 0; dx < f; dx++) {
                if (!isnan(q[dx])) {
                    acc += q[dx];
                    c++;
                }
            }
        }
        out[x] = c ? acc / (double)c : NAN;
    }
}

/* Block-average by f (NaN ignored; all-NaN blocks stay NaN). */
static double *block_shrink(const double *pix, size_t nx, size_t ny, size_t f, size_t *onx,
                            size_t *ony)
{
    size_t bx = nx / f;
    size_t by = ny / f;
    double *o = malloc(sizeof *o * bx * by);
    if (!o) {
        return NULL;
    }
    for (size_t y = 0; y < by; y++) {
        preview__shrink_band(pix + y * f * nx, nx, f, o + y * bx);
    }
    *onx = bx;
    *ony = by;
    return o;
}

void preview__out_size(size_t nx, size_t ny, int size, size_t *w, size_t *h)
{
    if (size <= 0) {
        *w = nx;
        *h = ny;
        return;
    }
    size_t n = (size_t)size;
    if (nx >= ny) {
        *w = n;
        *h = (size_t)floor((double)ny * (double)n / (double)nx + 0.5);
    } else {
        *h = n;
        *w = (size_t)floor((double)nx * (double)n / (double)ny + 0.5);
    }
    if (*w == 0) {
        *w = 1;
    }
    if (*h == 0) {
        *h = 1;
    }
}

/* Output pixel @p i of an axis resampled by @p scale from @p n source pixels (centres aligned):
 * the two source neighbours and the weight of the second. */
static inline double resample_at(size_t i, double scale, size_t n, size_t *i0, size_t *i1)
{
    double f = ((double)i + 0.5) * scale - 0.5;
    if (f < 0) {
        f = 0;
    }
    size_t a = (size_t)f;
    if (a >= n - 1) {
        a = n - 1;
    }
    *i0 = a;
    *i1 = a + 1 < n ? a + 1 : a;
    double w = f - (double)a;
    return w < 0 ? 0 : w;
}

/* Bilinear resample to exactly w x h (pixel centres aligned); NaN neighbours fall back to the
 * nearest source pixel. */
double *preview__resample(const double *pix, size_t nx, size_t ny, size_t w, size_t h)
{
    double *o = malloc(sizeof *o * w * h);
    if (!o) {
        return NULL;
    }
    double sx = (double)nx / (double)w;
    double sy = (double)ny / (double)h;
    for (size_t y = 0; y < h; y++) {
        size_t y0, y1;
        double ay = resample_at(y, sy, ny, &y0, &y1);
        for (size_t x = 0; x < w; x++) {
            size_t x0, x1;
            double ax = resample_at(x, sx, nx, &x0, &x1);
            double a = pix[y0 * nx + x0], b = pix[y0 * nx + x1];
            double c = pix[y1 * nx + x0], d = pix[y1 * nx + x1];
            double v;
            if (isnan(a) || isnan(b) || isnan(c) || isnan(d)) {
                size_t xn = ax < 0.5 ? x0 : x1;
                size_t yn = ay < 0.5 ? y0 : y1;
                v = pix[yn * nx + xn];
            } else {
                v = (a * (1 - ax) + b * ax) * (1 - ay) + (c * (1 - ax) + d * ax) * ay;
            }
            o[y * w + x] = v;
        }
    }
    return o;
}

void preview__mapper_init(struct preview__mapper *m, const struct preview_scale *sc,
                          const struct preview_opts *o)
{
    double nl = o->nonlinearity;
    double range = sc->max - sc->min;
    double umax = nl > 0 ? asinh(nl) / nl : 1.0; /* u at t = 1 */
    double norm = umax > 1.0 ? umax : 1.0;       /* fitscut divides by the peak if above 1 */
    m->thr[0] = -INFINITY;
    m->ktop = 0;
    for (int k = 1; k < 256; k++) {
        double u = ((double)k - 0.5) / 255.0 * o->display_max * norm;
        if (u > umax) {
            m->thr[k] = INFINITY;
            continue;
        }
        double t = nl > 0 ? sinh(nl * u) / nl : u;
        m->thr[k] = sc->min + t * range;
        m->ktop = k;
    }
    m->lo = m->thr[1];
    double top = m->ktop >= 1 ? m->thr[m->ktop] : m->lo;
    m->inv_bin = top > m->lo ? (double)PREVIEW__LUT_BINS / (top - m->lo) : 0.0;
    /* grey level at each bin's lower edge: the count of thresholds at or below it */
    int g = 1;
    for (size_t b = 0; b < PREVIEW__LUT_BINS; b++) {
        double edge = m->inv_bin > 0 ? m->lo + (double)b / m->inv_bin : m->lo;
        while (g < m->ktop && edge >= m->thr[g + 1]) {
            g++;
        }
        m->lut[b] = (uint8_t)(m->ktop >= 1 ? g : 0);
    }
}

enum err preview_render(const double *pix, size_t nx, size_t ny, const struct preview_opts *o,
                        uint8_t **out, size_t *onx, size_t *ony, struct preview_scale *scale,
                        struct err_info *ei)
{
    enum err rc;
    struct preview_scale sc;
    double *shrunk = NULL;
    double *sized = NULL;
    const double *src = pix;
    size_t sx = nx, sy = ny, w = nx, h = ny;
    uint8_t *img = NULL;
    struct preview__mapper *map = NULL;

    if (nx == 0 || ny == 0) {
        return err_set(ei, ERR_INVALID, "image is empty");
    }
    if (o->size > PREVIEW_MAX_SIZE) {
        return err_set(ei, ERR_INVALID, "preview size %d is larger than %d", o->size,
                       PREVIEW_MAX_SIZE);
    }
    rc = preview_autoscale(pix, nx, ny, o->autoscale, &sc, ei);
    if (rc != ERR_OK) {
        return rc;
    }
    if (o->size > 0) {
        size_t n = (size_t)o->size;
        size_t maxdim = nx > ny ? nx : ny;
        size_t f = maxdim / n;
        if (f > 1) {
            shrunk = block_shrink(pix, nx, ny, f, &sx, &sy);
            if (!shrunk) {
                rc = err_set(ei, ERR_NOMEM, "out of memory shrinking the image");
                goto out;
            }
            src = shrunk;
        }
        preview__out_size(nx, ny, o->size, &w, &h);
        if (w != sx || h != sy) {
            sized = preview__resample(src, sx, sy, w, h);
            if (!sized) {
                rc = err_set(ei, ERR_NOMEM, "out of memory resizing the image");
                goto out;
            }
            src = sized;
        }
    }
    img = malloc(w * h);
    map = malloc(sizeof *map);
    if (!img || !map) {
        rc = err_set(ei, ERR_NOMEM, "out of memory for the preview");
        goto out;
    }
    preview__mapper_init(map, &sc, o);
    for (size_t y = 0; y < h; y++) {
        const double *p = src + (h - 1 - y) * w; /* FITS row 1 is the bottom of the picture */
        uint8_t *q = img + y * w;
        for (size_t x = 0; x < w; x++) {
            q[x] = preview__grey(map, p[x]);
        }
    }
    *out = img;
    img = NULL;
    *onx = w;
    *ony = h;
    if (scale) {
        *scale = sc;
    }
    rc = ERR_OK;
out:
    free(map);
    free(img);
    free(shrunk);
    free(sized);
    return rc;
}
