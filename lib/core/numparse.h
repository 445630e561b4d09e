/* numparse.h - fast, exact text -> double for the metadata path (FITS header values, blueprint
 * values): plain decimals take Clinger's exact fast path, everything else goes to
 * str_to_double, so results and errors are always those of str_to_double (glibc strtod is
 * correctly rounded; one IEEE multiplication or division of two exact doubles is too).
 * Thread-safe. SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_CORE_NUMPARSE_H
#define OBSFLOW_CORE_NUMPARSE_H

#include "core/compiler.h"
#include "core/err.h"

/**
 * Parse the whole of @p s as a double, exactly as str_to_double does.
 * @param s   [in] borrowed text (NULL or empty gives ERR_PARSE).
 * @param out [out] set only on ERR_OK.
 * @return ERR_OK, ERR_PARSE (junk or empty), ERR_INVALID (overflow).
 */
NODISCARD enum err numparse_double(const char *s, double *out);

#endif
