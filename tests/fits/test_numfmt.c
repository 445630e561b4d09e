/* test_numfmt.c - core/numfmt (double -> text without printf) against glibc's printf, which
 * rounds exactly: numfmt_g17 writes the bytes of "%.17g" and numfmt_round the digits of "%.*e"
 * for every precision, over edge values (powers of ten and two, their neighbours, ties, both
 * ends of the exact range, NaN/inf/0) and random values of the shapes blueprint expressions
 * compute (MJDs, metres, degrees, small WCS increments, random bit patterns).
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/numfmt.h"

static uint64_t g_rng = 0x2545f4914f6cdd1dULL;

static uint64_t next(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static void check(double v)
{
    char want[64];
    char got[32];
    snprintf(want, sizeof want, "%.17g", v);
    numfmt_g17(v, got);
    if (strcmp(want, got) != 0) {
        fail_msg("%%.17g of %a: printf \"%s\", numfmt \"%s\"", v, want, got);
    }
    double a = fabs(v);
    for (int p = 1; p <= 17; p++) {
        uint64_t q = 0;
        int x = 0;
        if (!numfmt_round(a, p, &q, &x)) {
            continue; /* out of range or a tie: printf's */
        }
        char e[64];
        char mine[64];
        snprintf(e, sizeof e, "%.*e", p - 1, a);
        char digits[24];
        snprintf(digits, sizeof digits, "%llu", (unsigned long long)q);
        snprintf(mine, sizeof mine, "%c%s%s%se%c%02d", digits[0], p > 1 ? "." : "",
                 digits + 1, "", x < 0 ? '-' : '+', x < 0 ? -x : x);
        if (strcmp(e, mine) != 0) {
            fail_msg("%%.%de of %a: printf \"%s\", numfmt_round \"%s\"", p - 1, a, e, mine);
        }
    }
}

static void test_edges(void **state)
{
    (void)state;
    static const double edges[] = {
        0.0, 1.0, 0.1, 0.5, 1e-4, 9.9999999999999991e-05, 1e-5, 1e15, 999999999999999.9,
        99999999999999.984, 1e14, 2.5, 0.125, 4500.0, 1.5e-7, 57831.008935185186,
        4755520.5105443727, 0.00016875000000000001, 3.1333333333333333, 1.0 / 3.0,
        0.30000000000000004, 9007199254740993.0, 123456789.123456789, 1e300, 5e-324,
        1.7976931348623157e308,
    };
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        check(edges[i]);
        check(-edges[i]);
        check(nextafter(edges[i], 0.0));
        check(nextafter(edges[i], INFINITY));
    }
    check(NAN);
    check(INFINITY);
    check(-INFINITY);
    check(-0.0);
    for (int e = -30; e <= 30; e++) {
        double t = pow(10.0, (double)e);
        check(t);
        check(nextafter(t, 0.0));
        check(nextafter(t, INFINITY));
        check(ldexp(1.0, e * 2));
        check(ldexp(1.0, e * 2) * 3.0);
    }
}

static void test_random(void **state)
{
    (void)state;
    /* 20,000 draws: the unit tests also run under valgrind (make test), where 200,000 took
     * over a minute and timed out */
    for (int i = 0; i < 20000; i++) {
        uint64_t r = next();
        double u = (double)(r >> 11) / 9007199254740992.0;
        double v;
        switch (i % 6) {
        case 0: v = 50000.0 + u * 20000.0; break;                 /* MJD */
        case 1: v = (u - 0.5) * 1.3e7; break;                      /* geocentric metres */
        case 2: v = u * 360.0; break;                              /* degrees */
        case 3: v = (u - 0.5) * pow(10.0, (double)(int)(r % 24) - 12.0); break;
        case 4: memcpy(&v, &r, sizeof v); break;                   /* any bits */
        default: v = nearbyint(u * 1e6) / pow(10.0, (double)(int)(r % 12)); break;
        }
        check(v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests_name("core.numfmt", tests, NULL, NULL);
}
