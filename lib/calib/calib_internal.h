/* calib_internal.h - helpers shared by the files of lib/calib (not part of the public API).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_CALIB_CALIB_INTERNAL_H
#define OBSFLOW_CALIB_CALIB_INTERNAL_H

#include <stddef.h>

/** numpy's pairwise sum of a[0], a[stride], ... (n values). */
double calib_pairwise_sum(const double *a, size_t n, size_t stride);

/** Median of v[0..n) (reorders v; sorts small inputs, selects large ones); NaN when n == 0. */
double calib_median_inplace(double *v, size_t n);

#endif
