/* re_check.h - refuse POSIX extended regular expressions that would make glibc's regcomp()
 * use exponential memory or time: a quantifier applied to a quantifier ("a++", "x{2}*"),
 * bounds above RE_CHECK_BOUND_MAX, and patterns whose bounds and group repetitions multiply
 * beyond RE_CHECK_PRODUCT_MAX (glibc compiles "x+" as "xx*" and "x{n}" as n copies of x).
 * Used before compiling any pattern that comes from a configuration file.
 * Thread-safe (pure). SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_CORE_RE_CHECK_H
#define OBSFLOW_CORE_RE_CHECK_H

#include "core/compiler.h"
#include "core/err.h"

#define RE_CHECK_LEN_MAX     1024  /* longest pattern accepted, bytes */
#define RE_CHECK_BOUND_MAX   255   /* largest {m,n} bound */
#define RE_CHECK_PRODUCT_MAX 65536 /* product of all bounds and of group repetitions */

/**
 * Check @p pat (POSIX ERE syntax; "(?<name>" group openers are tolerated).
 * @return ERR_OK; ERR_INVALID with a message naming the offset and the pattern.
 */
NODISCARD enum err re_check_ere(const char *pat, struct err_info *ei);

#endif
