/* test_caom_fmt.c - the fast double formatter of the XML writer prints exactly what the general
 * snprintf/strtod formatter prints, over edge values and 150,000 random ones of the shapes
 * CAOM documents carry (WCS pixels, degrees, metres, MJDs, random bit patterns).
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
