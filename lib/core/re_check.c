/* re_check.c - cost guard for POSIX extended regular expressions (see re_check.h).
 * SPDX-License-Identifier: Apache-2.0 */
#include "core/re_check.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

enum err re_check_ere(const char *pat, struct err_info *ei)
{
    size_t len = strlen(pat);
    unsigned long product = 1;
    bool prev_quant = false; /* the previous token was a quantifier */
    bool after_group = false; /* the previous token closed a group */
    if (len > RE_CHECK_LEN_MAX) {
        return err_set(ei, ERR_INVALID, "pattern longer than %d bytes", RE_CHECK_LEN_MAX);
    }
    for (size_t i = 0; i < len; i++) {
        char c = pat[i];
        if (c == '\\' && i + 1 < len) {
            i++;
            prev_quant = after_group = false;
            continue;
        }
        if (c == '[') {
            /* bracket expression: "]" right after "[" or "[^" is a member */
            size_t j = i + 1;
            if (j < len && pat[j] == '^') {
                j++;
            }
            if (j < len && pat[j] == ']') {
                j++;
            }
            while (j < len && pat[j] != ']') {
                if (pat[j] == '[' && j + 1 < len &&
                    (pat[j + 1] == ':' || pat[j + 1] == '.' || pat[j + 1] == '=')) {
                    const char *end = strstr(pat + j + 2, (char[]){pat[j + 1], ']', '\0'});
                    if (!end) {
                        return err_set(ei, ERR_INVALID,
                                       "unterminated character class at offset %zu of pattern "
                                       "\"%s\"",
                                       j, pat);
                    }
                    j = (size_t)(end - pat) + 2;
                    continue;
                }
                j++;
            }
            if (j >= len) {
                return err_set(ei, ERR_INVALID,
                               "unterminated bracket expression at offset %zu of pattern \"%s\"",
                               i, pat);
            }
            i = j;
            prev_quant = after_group = false;
            continue;
        }
        if (c == '(' && i + 1 < len && pat[i + 1] == '?') {
            i++; /* "(?<name>": the "?" opens a named group, it is not a quantifier */
            prev_quant = after_group = false;
            continue;
        }
        if (c == '*' || c == '+' || c == '?' || c == '{') {
            if (prev_quant) {
                return err_set(ei, ERR_INVALID,
                               "repeated quantifier at offset %zu of pattern \"%s\"", i, pat);
            }
            unsigned long factor = 1;
            if (c == '{') {
                unsigned long lo = 0, hi = 0;
                bool comma = false, any_hi = false;
                size_t j = i + 1;
                for (; j < len && pat[j] != '}'; j++) {
                    if (isdigit((unsigned char)pat[j])) {
                        unsigned long *v = comma ? &hi : &lo;
                        *v = *v * 10 + (unsigned long)(pat[j] - '0');
                        any_hi = any_hi || comma;
                        if (*v > RE_CHECK_BOUND_MAX) {
                            return err_set(ei, ERR_INVALID,
                                           "bound larger than %d at offset %zu of pattern \"%s\"",
                                           RE_CHECK_BOUND_MAX, i, pat);
                        }
                    } else if (pat[j] == ',' && !comma) {
                        comma = true;
                    } else {
                        return err_set(ei, ERR_INVALID,
                                       "invalid bound at offset %zu of pattern \"%s\"", i, pat);
                    }
                }
                if (j >= len) {
                    return err_set(ei, ERR_INVALID,
                                   "unterminated bound at offset %zu of pattern \"%s\"", i, pat);
                }
                factor = any_hi ? hi : lo;
                if (factor == 0) {
                    factor = 1;
                }
                i = j;
            } else if (c == '+' && after_group) {
                factor = 2;
            }
            product *= factor;
            if (product > RE_CHECK_PRODUCT_MAX) {
                return err_set(ei, ERR_INVALID,
                               "repetitions of pattern \"%s\" multiply beyond %d", pat,
                               RE_CHECK_PRODUCT_MAX);
            }
            prev_quant = true;
            after_group = false;
            continue;
        }
        prev_quant = false;
        after_group = c == ')';
    }
    return ERR_OK;
}
