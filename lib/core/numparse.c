/* numparse.c - exact fast path for decimal text -> double (see numparse.h).
 * A decimal m * 10^e with m < 2^53 and |e| <= 22 is one correctly rounded IEEE operation on two
 * exactly representable doubles (Clinger 1990), so it equals strtod's correctly rounded result.
 * SPDX-License-Identifier: Apache-2.0 */
#include "core/numparse.h"

#include "core/str.h"

#include <stdbool.h>
#include <stdint.h>

#define NUMPARSE_MAX_DIGITS 19 /* significant digits that fit a uint64_t */
#define NUMPARSE_MAX_EXP    22 /* 10^22 is the largest power of ten a double holds exactly */
#define NUMPARSE_EXP_DIGITS 4  /* exponent digits read on the fast path */

static const double k_pow10[NUMPARSE_MAX_EXP + 1] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* the fast path; false means "ask strtod" (not an error) */
static bool fast(const char *p, double *out)
{
    bool neg = false;
    bool any = false;
    uint64_t m = 0;
    int nd = 0;   /* significant digits in m */
    int e10 = 0;  /* value = m * 10^e10 */
    if (*p == '+' || *p == '-') {
        neg = *p == '-';
        p++;
    }
    for (; is_digit(*p); p++) {
        any = true;
        if (m == 0 && *p == '0') {
            continue;
        }
        if (nd == NUMPARSE_MAX_DIGITS) {
            return false;
        }
        m = m * 10 + (uint64_t)(*p - '0');
        nd++;
    }
    if (*p == '.') {
        for (p++; is_digit(*p); p++) {
            any = true;
            if (m == 0 && *p == '0') {
                e10--;
                continue;
            }
            if (nd == NUMPARSE_MAX_DIGITS) {
                return false;
            }
            m = m * 10 + (uint64_t)(*p - '0');
            nd++;
            e10--;
        }
    }
    if (!any) {
        return false;
    }
    if (*p == 'e' || *p == 'E') {
        bool eneg = false;
        int x = 0;
        int xd = 0;
        p++;
        if (*p == '+' || *p == '-') {
            eneg = *p == '-';
            p++;
        }
        for (; is_digit(*p); p++) {
            if (++xd > NUMPARSE_EXP_DIGITS) {
                return false;
            }
            x = x * 10 + (*p - '0');
        }
        if (xd == 0) {
            return false;
        }
        e10 += eneg ? -x : x;
    }
    if (*p != '\0') {
        return false;
    }
    if (m == 0) {
        *out = neg ? -0.0 : 0.0;
        return true;
    }
    if (m > (UINT64_C(1) << 53) || e10 < -NUMPARSE_MAX_EXP || e10 > NUMPARSE_MAX_EXP) {
        return false;
    }
    double d = (double)m;
    d = e10 < 0 ? d / k_pow10[-e10] : d * k_pow10[e10];
    *out = neg ? -d : d;
    return true;
}

enum err numparse_double(const char *s, double *out)
{
    if (s && fast(s, out)) {
        return ERR_OK;
    }
    return str_to_double(s, out);
}
