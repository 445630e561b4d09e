/* preview_int.h - internals shared by lib/preview's files: row sampling, the grey-level mapper,
 * band shrinking and a streaming JPEG encoder. Not for use outside lib/preview.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_PREVIEW_INT_H
#define OBSFLOW_PREVIEW_INT_H

#include "preview/preview.h"

#define PREVIEW__LUT_BINS 4096 /* bins of the mapper's lookup table */

/** Rows sampled for the autoscale of an nx x ny image, and which ones. */
size_t preview__sample_nrows(size_t nx, size_t ny);
size_t preview__sample_row(size_t r, size_t nrows, size_t ny);

/** Autoscale over @p nrows rows of @p nx values (all of them are the sample). */
NODISCARD enum err preview__autoscale_rows(const double *rows, size_t nx, size_t nrows,
                                           double percent, struct preview_scale *out,
                                           struct err_info *ei);

/** Value -> grey level: exact thresholds of the asinh display mapping plus a lookup table. */
struct preview__mapper {
    double thr[256];  /* grey >= k iff v >= thr[k] */
    int ktop;         /* highest reachable grey level */
    double lo;        /* thr[1] */
    double inv_bin;   /* bins per unit of value */
    uint8_t lut[PREVIEW__LUT_BINS]; /* grey level at each bin's lower edge */
};

void preview__mapper_init(struct preview__mapper *m, const struct preview_scale *sc,
                          const struct preview_opts *o);

static inline uint8_t preview__grey(const struct preview__mapper *m, double v)
{
    if (!(v >= m->lo)) { /* also NaN */
        return 0;
    }
    double b = (v - m->lo) * m->inv_bin;
    int g;
    if (b >= (double)PREVIEW__LUT_BINS) {
        g = m->lut[PREVIEW__LUT_BINS - 1];
    } else {
        g = m->lut[(size_t)b];
    }
    while (g < m->ktop && v >= m->thr[g + 1]) {
        g++;
    }
    return (uint8_t)g;
}

/** Average @p f rows of @p nx values (NaN ignored) in blocks of f x f into @p out (nx/f values). */
void preview__shrink_band(const double *band, size_t nx, size_t f, double *out);

/** Output size for a long side of @p size (<= 0: unchanged). */
void preview__out_size(size_t nx, size_t ny, int size, size_t *w, size_t *h);

/** Bilinear resample of @p pix (nx x ny) to w x h; new buffer (free()) or NULL. */
double *preview__resample(const double *pix, size_t nx, size_t ny, size_t w, size_t h);

/** Streaming greyscale JPEG encoder writing to memory. */
struct preview__jpeg;
NODISCARD enum err preview__jpeg_begin(size_t w, size_t h, int quality,
                                       struct preview__jpeg **out, struct err_info *ei);
/** Append one row of w bytes (top row first). */
NODISCARD enum err preview__jpeg_row(struct preview__jpeg *j, const uint8_t *row,
                                     struct err_info *ei);
/** Finish; hands the encoded bytes to the caller (free()). Frees @p j in any case. */
NODISCARD enum err preview__jpeg_finish(struct preview__jpeg *j, unsigned char **out,
                                        size_t *len, struct err_info *ei);
/** Abandon an encoder; accepts NULL. */
void preview__jpeg_abort(struct preview__jpeg *j);

#endif
