/* preview.c - fitscut-style autoscale, block shrink + exact resize, asinh display mapping.
 * SPDX-License-Identifier: Apache-2.0 */
#include "preview/preview.h"

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

enum err preview_autoscale(const double *pix, size_t nx, size_t ny, double percent,
                           struct preview_scale *out, struct err_info *ei)
{
    if (nx == 0 || ny == 0 || !(percent > 50.0 && percent <= 100.0)) {
        return err_set(ei, ERR_INVALID, "invalid autoscale arguments");
    }
    /* rows evenly spread over the image; columns stepped when one row alone is too long */
    size_t nrows = (PREVIEW_NSAMPLE + nx - 1) / nx;
    if (nrows > ny) {
        nrows = ny;
    }
    size_t xstep = nx > PREVIEW_NSAMPLE ? nx / PREVIEW_NSAMPLE + 1 : 1;
    double *s = malloc(sizeof *s * (nrows * ((nx + xstep - 1) / xstep)));
    if (!s) {
        return err_set(ei, ERR_NOMEM, "out of memory for the autoscale sample");
    }
    size_t n = 0;
    for (size_t r = 0; r < nrows; r++) {
        size_t row = (size_t)(((double)r + 0.5) * (double)ny / (double)nrows);
        if (row >= ny) {
            row = ny - 1;
        }
        const double *p = pix + row * nx;
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

/* Block-average by f (NaN ignored; all-NaN blocks stay NaN). */
static double *block_shrink(const double *pix, size_t nx, size_t ny, size_t f, size_t *onx,
                            size_t *ony)
{
    size_t bx = nx / f;
    size_t by = ny / f;
    double *o = malloc(sizeof *o * bx * by);
    double *sum = calloc(bx, sizeof *sum);
    size_t *cnt = calloc(bx, sizeof *cnt);
    if (!o || !sum || !cnt) {
        free(o);
        o = NULL;
        goto out;
    }
    for (size_t y = 0; y < by; y++) {
        memset(sum, 0, sizeof *sum * bx);
        memset(cnt, 0, sizeof *cnt * bx);
        for (size_t dy = 0; dy < f; dy++) {
            const double *p = pix + (y * f + dy) * nx;
            for (size_t x = 0; x < bx; x++) {
                const double *q = p + x * f;
                double acc = 0.0;
                size_t c = 0;
                for (size_t dx = 0; dx < f; dx++) {
                    if (!isnan(q[dx])) {
                        acc += q[dx];
                        c++;
                    }
                }
                sum[x] += acc;
                cnt[x] += c;
            }
        }
        for (size_t x = 0; x < bx; x++) {
            o[y * bx + x] = cnt[x] ? sum[x] / (double)cnt[x] : NAN;
        }
    }
    *onx = bx;
    *ony = by;
out:
    free(sum);
    free(cnt);
    return o;
}

/* Bilinear resample to exactly w x h (pixel centres aligned); NaN neighbours fall back to the
 * nearest source pixel. */
static double *resample(const double *pix, size_t nx, size_t ny, size_t w, size_t h)
{
    double *o = malloc(sizeof *o * w * h);
    if (!o) {
        return NULL;
    }
    double sx = (double)nx / (double)w;
    double sy = (double)ny / (double)h;
    for (size_t y = 0; y < h; y++) {
        double fy = ((double)y + 0.5) * sy - 0.5;
        if (fy < 0) {
            fy = 0;
        }
        size_t y0 = (size_t)fy;
        if (y0 >= ny - 1) {
            y0 = ny - 1;
        }
        size_t y1 = y0 + 1 < ny ? y0 + 1 : y0;
        double ay = fy - (double)y0;
        if (ay < 0) {
            ay = 0;
        }
        for (size_t x = 0; x < w; x++) {
            double fx = ((double)x + 0.5) * sx - 0.5;
            if (fx < 0) {
                fx = 0;
            }
            size_t x0 = (size_t)fx;
            if (x0 >= nx - 1) {
                x0 = nx - 1;
            }
            size_t x1 = x0 + 1 < nx ? x0 + 1 : x0;
            double ax = fx - (double)x0;
            if (ax < 0) {
                ax = 0;
            }
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

/* thr[k] (k = 1..255): the smallest value whose grey level is >= k under the asinh mapping. */
static void make_thresholds(const struct preview_scale *sc, const struct preview_opts *o,
                            double thr[256])
{
    double nl = o->nonlinearity;
    double range = sc->max - sc->min;
    double umax = nl > 0 ? asinh(nl) / nl : 1.0; /* u at t = 1 */
    double norm = umax > 1.0 ? umax : 1.0;       /* fitscut divides by the peak if above 1 */
    thr[0] = -INFINITY;
    for (int k = 1; k < 256; k++) {
        double u = ((double)k - 0.5) / 255.0 * o->display_max * norm;
        double t;
        if (u > umax) {
            thr[k] = INFINITY;
            continue;
        }
        t = nl > 0 ? sinh(nl * u) / nl : u;
        thr[k] = sc->min + t * range;
    }
}

static uint8_t grey_of(double v, const double thr[256])
{
    if (isnan(v)) {
        return 0;
    }
    /* largest k with v >= thr[k] (thr is non-decreasing) */
    unsigned lo = 0;
    unsigned hi = 255;
    while (lo < hi) {
        unsigned mid = (lo + hi + 1) / 2;
        if (v >= thr[mid]) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    return (uint8_t)lo;
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
    double thr[256];

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
        if (nx >= ny) {
            w = n;
            h = (size_t)floor((double)ny * (double)n / (double)nx + 0.5);
        } else {
            h = n;
            w = (size_t)floor((double)nx * (double)n / (double)ny + 0.5);
        }
        if (w == 0) {
            w = 1;
        }
        if (h == 0) {
            h = 1;
        }
        if (w != sx || h != sy) {
            sized = resample(src, sx, sy, w, h);
            if (!sized) {
                rc = err_set(ei, ERR_NOMEM, "out of memory resizing the image");
                goto out;
            }
            src = sized;
        }
    }
    img = malloc(w * h);
    if (!img) {
        rc = err_set(ei, ERR_NOMEM, "out of memory for the preview");
        goto out;
    }
    make_thresholds(&sc, o, thr);
    for (size_t y = 0; y < h; y++) {
        const double *p = src + (h - 1 - y) * w; /* FITS row 1 is the bottom of the picture */
        uint8_t *q = img + y * w;
        for (size_t x = 0; x < w; x++) {
            q[x] = grey_of(p[x], thr);
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
    free(img);
    free(shrunk);
    free(sized);
    return rc;
}
