/* str.h - checked string and number helpers (no atoi/strtok/strcpy anywhere).
 * Thread-safe. SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_CORE_STR_H
#define OBSFLOW_CORE_STR_H

#include "core/compiler.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Copy @p src into @p dst of @p cap bytes, always terminated; returns false if truncated. */
bool str_copy(char *dst, size_t cap, const char *src);

/** Parse a whole decimal integer in [min, max]; ERR_PARSE on junk, ERR_INVALID out of range. */
NODISCARD enum err str_to_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/** Parse a whole floating-point number (strtod syntax); ERR_PARSE on junk or empty. */
NODISCARD enum err str_to_double(const char *s, double *out);

/** True if @p s starts with @p prefix. */
bool str_starts_with(const char *s, const char *prefix);

/** True if @p s ends with @p suffix. */
bool str_ends_with(const char *s, const char *suffix);

/** Duplicate @p s (owned, free()); NULL on allocation failure or NULL input. */
char *str_dup(const char *s);

/** Duplicate at most @p n bytes of @p s, terminated (owned). */
char *str_ndup(const char *s, size_t n);

/** Constant-time comparison of two byte strings (lengths are compared in constant time too). */
bool str_ct_equal(const char *a, size_t alen, const char *b, size_t blen);

#endif
