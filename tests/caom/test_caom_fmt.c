/* test_caom_fmt.c - the fast double formatter of the XML writer prints exactly what the general
 * snprintf/strtod formatter prints, over edge values and 150,000 random ones of the shapes
 * CAOM documents carry (WCS pixels, degrees, metres, MJDs, random bit patterns), with 60,000
 * more: short decimals far below 1e-4, powers of two, quotients of header values, values just
 * below powers of ten.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "caom/caom_int.h"
#include "core/rand.h"

static void check(double v)
{
    char fast[40];
    char slow[40];
    caom_fmt_double(v, fast);
    if (!isfinite(v)) { /* the general path is only for finite values */
        assert_string_equal(fast, isnan(v) ? "NaN" : (v > 0 ? "INF" : "-INF"));
        return;
    }
    caom__fmt_double_slow(v, slow);
    if (strcmp(fast, slow) != 0) {
        fail_msg("%.17g: fast \"%s\" != general \"%s\"", v, fast, slow);
    }
    if (strtod(fast, NULL) != v) {
        fail_msg("%.17g: \"%s\" does not read back", v, fast);
    }
}

static void test_fmt_edges(void **state)
{
    (void)state;
    static const double edges[] = {
        0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 1e-4, 9.9999e-5, 1e15, 999999999999999.0, 1e14 + 0.5,
        123456789012345.0, 1234567890123456.0, 0.000123, 2048.5, 5.29e-7, 1.4e9, 57000.123456789,
        3.0e-9, 299792458.0, 0.1 + 0.2, 1.0 / 3.0, 2.0 / 3.0, 4096.0, -187.25, 1e-10, 1e300,
        5e-324, 1.7976931348623157e308, 0.30000000000000004, 1e9 + 0.1, 9.5, 0.95, 0.095,
        /* values of the shared cases that the exact and small-number paths take */
        1e-07, 3.6e-12, 4.7e-07, 4.588e-07, 1.5e-07, 0.000555555555556, 0.0002777777777778,
        876.9509999999999, 57831.00881944445, 2.5197098386032017, 4755607.337178416,
        0.0006866454969558203, 0.6666666666666666, 0.0001, 0.00010000000000000002,
        9.999999999999999e-05, 999999999999999.9, 99999999999999.99, 9999999999999998.0,
        0.125, 0.0078125, 1099511627776.0, 1.0 / 1024.0 / 1024.0, 1e-22, 1e-23, 9.99e-23,
        1.2345678901234567e-5, 0.00012345678901234567, 1e15 - 0.125, 5e-5, 123.456e-9,
    };
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        check(edges[i]);
        check(-edges[i]);
    }
    char out[40];
    caom_fmt_double(-0.0, out);
    assert_string_equal(out, "-0.0");
    caom_fmt_double(4096.0, out);
    assert_string_equal(out, "4096.0");
    caom_fmt_double(0.000123, out);
    assert_string_equal(out, "0.000123");
}

static void test_fmt_random(void **state)
{
    (void)state;
    for (int i = 0; i < 150000; i++) {
        uint64_t r = rand_u64();
        double u = (double)(r >> 11) / 9007199254740992.0; /* [0,1) */
        double v;
        switch (i % 6) {
        case 0: /* short decimals: pixel and degree values typed into headers */
            v = nearbyint(u * 1e7) / pow(10.0, (double)(r % 8));
            break;
        case 1:
            v = u * 360.0;
            break;
        case 2:
            v = u * 1e-5;
            break;
        case 3:
            v = 50000.0 + u * 20000.0;
            break;
        case 4: {
            double d;
            memcpy(&d, &r, sizeof d);
            v = d;
            break;
        }
        default:
            v = (u - 0.5) * pow(10.0, (double)(int)(r % 40) - 20.0);
            break;
        }
        check(v);
        if (i % 10 != 0) {
            continue; /* the shapes below on 15,000 draws: the test runs under valgrind too */
        }
        /* short decimals far below 1e-4 (written with an exponent), powers of two (the
         * asymmetric rounding interval), results of arithmetic on header values */
        check(nearbyint(u * 1e4) / pow(10.0, (double)(5 + (int)(r % 18))));
        check(ldexp(1.0, (int)(r % 100) - 60) * (i % 2 ? 1.0 : 3.0));
        check((double)(r % 100000) / 3600.0 / (double)(1 + r % 7));
        check(pow(10.0, (double)(int)(r % 24) - 6.0) * (1.0 - u * 1e-14)); /* below 10^n */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmt_edges),
        cmocka_unit_test(test_fmt_random),
    };
    return cmocka_run_group_tests_name("lib.caom.fmt", tests, NULL, NULL);
}
