/* calib_internal.h - helpers shared by the files of lib/calib (not part of the public API).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_CALIB_CALIB_INTERNAL_H
#define OBSFLOW_CALIB_CALIB_INTERNAL_H

#include "calib/calib.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** numpy's pairwise sum of a[0], a[stride], ... (n values). */
double calib_pairwise_sum(const double *a, size_t n, size_t stride);

/** Median of v[0..n) (reorders v; sorts small inputs, selects large ones); NaN when n == 0. */
double calib_median_inplace(double *v, size_t n);

/** Overscan level of one row (pointers to the row's start) over the section's columns. */
double calib_oscan_row_level(const double *row, const uint16_t *dq, const struct calib_section *s,
                             enum calib_oscan_stat stat, enum calib_mode mode, double *tmp,
                             bool *ok);
/** Replace the levels by their straight-line fit, or fail on rows without a level. */
NODISCARD enum err calib_oscan_finish(double *lv, const bool *ok, int64_t ny, bool fit_linear,
                                      struct err_info *ei);
/** Subtract @p level from a row (default mode flags the overscan columns with DQ 128). */
void calib_oscan_subtract_row(double *row, uint16_t *dq, int64_t nx, double level,
                              const struct calib_section *s, enum calib_mode mode);

/** The flat value used at a pixel (ccdproc min_value clamp). */
static inline double calib_flat_value(double v, bool has_min, double min_value)
{
    return has_min && v < min_value ? min_value : v;
}

/** Kahan sum of the usable (positive, finite) flat values, for the default-mode flat mean. */
struct calib_kahan {
    double s, c;
    size_t n;
};
static inline void calib_kahan_add(struct calib_kahan *k, double v)
{
    if (v > 0 && isfinite(v)) {
        double y = v - k->c;
        double t = k->s + y;
        k->c = (t - k->s) - y;
        k->s = t;
        k->n++;
    }
}

/** Mean of the flat over the frame-sized part at (ox, oy), as the flat step uses it. */
NODISCARD enum err calib_flat_mean(const struct calib_frame *flat, int64_t ox, int64_t oy,
                                   int64_t nx, int64_t ny, enum calib_mode mode, bool has_min,
                                   double min_value, double *mean_out, struct err_info *ei);
/** Divide by the flat normalised by a given mean. */
NODISCARD enum err calib_flat_apply(struct calib_frame *f, const struct calib_frame *flat,
                                    int64_t ox, int64_t oy, enum calib_mode mode, bool has_min,
                                    double min_value, double m, struct err_info *ei);

#endif
