/* test_numparse.c - the metadata path's text parsers in lib/core. core/isodate: ISO dates to
 * MJD (known MJDs, malformed text refused). core/numparse (text -> double) against glibc strtod,
 * which is correctly rounded: bit-identical results and the same accept/reject decision on
 * edge cases, on every plain-decimal shape the fast path takes (random mantissas and exponents,
 * leading/trailing zeros, 19-20 digit mantissas, exponents around +-22) and on text it must
 * hand to strtod (blanks, hex, inf/nan, overflow, junk).
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/isodate.h"
#include "core/numparse.h"
#include "core/str.h"

/* same verdict and, when accepted, the same bits as str_to_double (strtod) */
static void same(const char *s)
{
    double a = 12345.0;
    double b = 12345.0;
    enum err ea = numparse_double(s, &a);
    enum err eb = str_to_double(s, &b);
    if (ea != eb || memcmp(&a, &b, sizeof a) != 0) {
        fail_msg("\"%s\": numparse %d %.17g, strtod %d %.17g", s, (int)ea, a, (int)eb, b);
    }
}

static void test_edges(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "0", "-0", "+0", "0.0", "-0.0", "00012", "1", "-1", "1.", ".5", "-.5", "+.5", "5.e3",
        "0.1", "0.2", "0.3", "1e22", "1e23", "1e-22", "1e-23", "9007199254740992",
        "9007199254740993", "18446744073709551615", "1234567890123456789",
        "12345678901234567890", "0.000000000000000000000000000001", "123.456E-7",
        "-2.5e+10", "1E0", "1e+0", "1e-0", "3.14159265358979323846", "2.2250738585072014e-308",
        "4.9e-324", "1.7976931348623157e308", "1e309", "-1e309", "1e-400", "0e99999",
        "1e99999", "1e", "1e+", "e5", ".", "-", "+", "", " 1", "1 ", "1.5x", "0x1p3", "inf",
        "-inf", "nan", "INF", "1d5", "1,5", "--1", "1e5.5", "00000000000000000000000001",
        "0.1000000000000000055511151231257827", "299792.458", "1420405751.768",
        "-33.12345678", "57.66666666666666", "0.0000277777777778", "-2.77777777778E-05",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        same(cases[i]);
    }
    double d = 7.0;
    assert_int_equal(numparse_double(NULL, &d), ERR_PARSE);
    assert_true(d == 7.0); /* out untouched on failure */
    assert_int_equal(numparse_double("1x", &d), ERR_PARSE);
    assert_true(d == 7.0);
}

/* deterministic xorshift so a failure reproduces */
static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void test_random_decimals(void **state)
{
    (void)state;
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    char buf[96];
    for (int i = 0; i < 20000; i++) {
        uint64_t r = next(&rng);
        int digits = 1 + (int)(r % 20);
        int point = (int)((r >> 8) % (uint64_t)(digits + 2)) - 1; /* -1: no point */
        int form = (int)((r >> 16) % 4);
        int exp = (int)((r >> 24) % 61) - 30;
        size_t n = 0;
        if ((r >> 40) & 1) {
            buf[n++] = '-';
        }
        for (int k = 0; k < digits; k++) {
            if (k == point) {
                buf[n++] = '.';
            }
            buf[n++] = (char)('0' + next(&rng) % 10);
        }
        if (form == 1) {
            n += (size_t)snprintf(buf + n, sizeof buf - n, "E%d", exp);
        } else if (form == 2) {
            n += (size_t)snprintf(buf + n, sizeof buf - n, "e%+d", exp);
        }
        buf[n] = '\0';
        same(buf);
    }
    /* numbers as printed by %.17g and %.10g round-trip identically */
    for (int i = 0; i < 10000; i++) {
        uint64_t bits = next(&rng);
        double v;
        memcpy(&v, &bits, sizeof v);
        snprintf(buf, sizeof buf, (i & 1) ? "%.17g" : "%.10g", v);
        same(buf);
    }
}

static void test_isodate(void **state)
{
    (void)state;
    double mjd = -1.0;
    assert_true(isodate_to_mjd("1858-11-17", &mjd));
    assert_true(mjd == 0.0);
    assert_true(isodate_to_mjd("2000-01-01T12:00:00Z", &mjd));
    assert_true(mjd == 51544.5);
    assert_true(isodate_to_mjd(" 2016/07/29", &mjd));
    assert_true(mjd == 57598.0);
    assert_true(isodate_to_mjd("2015-12-13T01:52:00.055", &mjd));
    assert_true(mjd > 57369.0777784 && mjd < 57369.0777785);
    assert_true(isodate_to_mjd("1600-02-29,06:00", &mjd)); /* Gregorian leap year */
    assert_true(mjd == -94493.75);
    static const char *const bad[] = {
        "", "2000", "2000-1", "2000-13-01", "2000-00-10", "2000-01-32", "2000-01-01T25:00",
        "2000-01-01T10:60", "2000-01-01T10:00:61", "2000-01-01T10:00:nan", "2000-01-01T10:00:inf",
        "2000-01-01T10:00:-1", "2000-01-01T10:00: 5", "2000-01/01", "20000-01-01",
        "2000-01-01x", "yesterday",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mjd = -1.0;
        if (isodate_to_mjd(bad[i], &mjd) || mjd != -1.0) {
            fail_msg("\"%s\" accepted", bad[i]);
        }
    }
    assert_false(isodate_to_mjd(NULL, &mjd));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_random_decimals),
        cmocka_unit_test(test_isodate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
