/* numfmt.h - double -> decimal text for the metadata path, byte for byte what printf writes:
 * the rounding to P significant digits done exactly in 128-bit integers on the double's bits
 * for the usual magnitudes, printf itself for the rest and for exact ties.
 * Thread-safe, no state. SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_CORE_NUMFMT_H
#define OBSFLOW_CORE_NUMFMT_H

#include <stdbool.h>
#include <stdint.h>

/**
 * Round @p a to @p p significant digits as printf's %.*e does (to nearest).
 * @param a      [in] 1e-4 <= a < 1e15.
 * @param p      [in] 1..17.
 * @param digits [out] the p digits, 10^(p-1) <= *digits < 10^p.
 * @param exp10  [out] decimal exponent of the first digit: a ~ digits * 10^(exp10 - p + 1).
 * @return false outside that range or when @p a lies exactly halfway (printf's rounding mode
 *         decides those).
 */
bool numfmt_round(double a, int p, uint64_t *digits, int *exp10);

/** "%.17g" of @p v into @p out (at least 32 bytes), the same bytes as snprintf. */
void numfmt_g17(double v, char out[32]);

#endif
