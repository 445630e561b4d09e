/* numfmt.c - exact decimal rounding of doubles without printf (see numfmt.h).
 * SPDX-License-Identifier: Apache-2.0 */
#include "core/numfmt.h"

#include <stdio.h>
#include <string.h>

__extension__ typedef unsigned __int128 u128;

#define E19 ((u128)10000000000000000000ULL)

/* 10^k for 0 <= k <= 22 */
static const u128 k_pow10[23] = {
    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL, 100000000ULL,
    1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL, 10000000000000ULL,
    100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
    1000000000000000000ULL, E19, E19 * 10, E19 * 100, E19 * 1000,
};

static u128 pow10_128(int k)
{
    return k_pow10[k];
}

bool numfmt_round(double a, int p, uint64_t *digits, int *exp10)
{
    if (!(a >= 1e-4 && a < 1e15) || p < 1 || p > 17) {
        return false;
    }
    uint64_t bits;
    memcpy(&bits, &a, sizeof bits);
    int be = (int)((bits >> 52) & 0x7ff);                    /* normal in this range */
    uint64_t f = (bits & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1) << 52);
    int s = 1075 - be;           /* a = f / 2^s exactly; 3 <= s <= 66 in this range */
    /* floor(log10(2^(be-1023))), within one of the decimal exponent; corrected below */
    int x = ((be - 1023) * 78913) >> 18;
    u128 lo = pow10_128(p - 1);
    u128 hi = lo * 10;
    for (int tries = 0; tries < 4; tries++) {
        int k = p - 1 - x;
        if (k < 0 || k > 21) {
            return false;
        }
        u128 nn = (u128)f * pow10_128(k); /* < 2^53 * 10^21 < 2^123 */
        u128 q = nn >> s;                 /* the exponent is right when p digits precede the point */
        if (q >= hi) {
            x++;
            continue;
        }
        if (q < lo) {
            x--;
            continue;
        }
        u128 r = nn - (q << s);
        u128 half = (u128)1 << (s - 1);
        if (r == half) {
            return false;
        }
        q += r > half;
        if (q == hi) { /* rounded up to the next power of ten */
            q = lo;
            x++;
        }
        *digits = (uint64_t)q;
        *exp10 = x;
        return true;
    }
    return false;
}

void numfmt_g17(double v, char out[32])
{
    uint64_t q;
    int x;
    double a = v < 0 ? -v : v;
    if (!numfmt_round(a, 17, &q, &x) || x < -4 || x >= 17) {
        snprintf(out, 32, "%.17g", v);
        return;
    }
    char d[20];
    int nd = 17;
    for (int i = 16; i >= 0; i--) {
        d[i] = (char)('0' + q % 10);
        q /= 10;
    }
    while (nd > 1 && d[nd - 1] == '0') {
        nd--;
    }
    size_t n = 0;
    if (v < 0) {
        out[n++] = '-';
    }
    if (x >= 0) {
        for (int i = 0; i <= x; i++) {
            out[n++] = i < nd ? d[i] : '0';
        }
        if (nd > x + 1) {
            out[n++] = '.';
            memcpy(out + n, d + x + 1, (size_t)(nd - x - 1));
            n += (size_t)(nd - x - 1);
        }
    } else {
        out[n++] = '0';
        out[n++] = '.';
        for (int i = -1; i > x; i--) {
            out[n++] = '0';
        }
        memcpy(out + n, d, (size_t)nd);
        n += (size_t)nd;
    }
    out[n] = '\0';
}
