/* test_reg_where.c - the registry's WHERE language (lib/registry reg_where_compile): the SQL
 * and parameters each construct produces, values never in the SQL text, fields checked
 * against the dataset type's dimensions, errors naming the offset or the field, the caps;
 * and reg_time_normalise. SPDX-License-Identifier: Apache-2.0 */
#include "registry/registry.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char *const RAW[] = {"detector", "exposure", "instrument", NULL};
static const char *const BIAS[] = {"detector", "instrument", NULL};

static struct reg_where *ok(const char *expr, const char *const *dims)
{
    struct reg_where *w = NULL;
    struct err_info ei = {0};
    enum err e = reg_where_compile(expr, dims, "raw", 5, &w, &ei);
    if (e != ERR_OK) {
        fail_msg("\"%s\": %s", expr, ei.msg);
    }
    return w;
}

static void bad(const char *expr, const char *const *dims, enum err want, const char *needle)
{
    struct reg_where *w = NULL;
    struct err_info ei = {0};
    enum err e = reg_where_compile(expr, dims, "bias", 1, &w, &ei);
    assert_null(w);
    if (e != want || !strstr(ei.msg, needle) || strcmp(ei.field, "where") != 0) {
        fail_msg("\"%s\": got %d \"%s\" field \"%s\", wanted %d with \"%s\"", expr, e, ei.msg,
                 ei.field, want, needle);
    }
}

static void test_empty(void **state)
{
    (void)state;
    struct reg_where *w = ok("", RAW);
    assert_string_equal(reg_where_sql(w), "true");
    assert_int_equal(reg_where_nparams(w), 0);
    assert_false(reg_where_needs_exposure(w));
    reg_where_free(w);
    w = ok("   ", RAW);
    assert_string_equal(reg_where_sql(w), "true");
    reg_where_free(w);
}

static void test_comparisons(void **state)
{
    (void)state;
    struct reg_where *w = ok("detector = 3 AND instrument != 'KAST'", RAW);
    assert_string_equal(reg_where_sql(w),
                        "((d.detector = $5::bigint) AND (d.instrument <> $6::text))");
    assert_int_equal(reg_where_nparams(w), 2);
    assert_string_equal(reg_where_param(w, 0), "3");
    assert_string_equal(reg_where_param(w, 1), "KAST");
    assert_null(reg_where_param(w, 2));
    reg_where_free(w);
    /* literal on the left: the operator is mirrored */
    w = ok("10 < exposure or exposure <> 4", RAW);
    assert_string_equal(reg_where_sql(w),
                        "((d.exposure > $5::bigint) OR (d.exposure <> $6::bigint))");
    reg_where_free(w);
}

static void test_precedence(void **state)
{
    (void)state;
    struct reg_where *w = ok("NOT detector = 1 OR detector = 2 AND (exposure >= -1)", RAW);
    assert_string_equal(reg_where_sql(w),
                        "((NOT (d.detector = $5::bigint)) OR (d.detector = $6::bigint) AND "
                        "((d.exposure >= $7::bigint)))");
    assert_string_equal(reg_where_param(w, 2), "-1");
    reg_where_free(w);
}

static void test_in(void **state)
{
    (void)state;
    struct reg_where *w = ok("exposure IN (1, 2,3) AND instrument NOT IN ('a\"b', 'c\\\\d')", RAW);
    assert_string_equal(reg_where_sql(w),
                        "((d.exposure = ANY($5::bigint[])) AND (NOT coalesce(d.instrument = "
                        "ANY($6::text[]), false)))");
    assert_string_equal(reg_where_param(w, 0), "{1,2,3}");
    assert_string_equal(reg_where_param(w, 1), "{\"a\\\"b\",\"c\\\\\\\\d\"}");
    reg_where_free(w);
}

static void test_quotes_are_values(void **state)
{
    (void)state;
    struct reg_where *w = ok("instrument = 'it''s; DROP TABLE x; --'", RAW);
    assert_null(strchr(reg_where_sql(w), '\''));
    assert_null(strstr(reg_where_sql(w), "DROP"));
    assert_string_equal(reg_where_param(w, 0), "it's; DROP TABLE x; --");
    reg_where_free(w);
}

static void test_times(void **state)
{
    (void)state;
    struct reg_where *w = ok("exposure.begin >= T'2024-01-15' AND exposure.timespan OVERLAPS "
                             "(t'2024-02-01T00:00:00Z', T'2024-02-02T01:02:03.5+02:00') AND "
                             "ingest_date < T'2030-01-01T10:00'",
                             RAW);
    assert_string_equal(reg_where_sql(w),
                        "((lower(e.timespan) >= $5::timestamptz) AND (e.timespan && "
                        "tstzrange($6::timestamptz, $7::timestamptz, '[)')) AND (d.ingest_date "
                        "< $8::timestamptz))");
    assert_string_equal(reg_where_param(w, 0), "2024-01-15T00:00:00+00:00");
    assert_string_equal(reg_where_param(w, 1), "2024-02-01T00:00:00+00:00");
    assert_string_equal(reg_where_param(w, 2), "2024-02-02T01:02:03.5+02:00");
    assert_string_equal(reg_where_param(w, 3), "2030-01-01T10:00:00+00:00");
    assert_true(reg_where_needs_exposure(w));
    reg_where_free(w);
}

static void test_fields_and_dimensions(void **state)
{
    (void)state;
    bad("visit = 1", RAW, ERR_PARSE, "unknown dimension or field \"visit\"");
    bad("exposure = 1", BIAS, ERR_PARSE, "\"exposure\" is not a dimension of dataset type bias");
    bad("exposure.obs_type = 'bias'", BIAS, ERR_PARSE, "\"exposure\" is not a dimension");
    struct reg_where *w = ok("ingest_date > T'2024-01-01'", BIAS);
    reg_where_free(w);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    bad("detector = ", RAW, ERR_PARSE, "offset 11: expected an integer");
    bad("detector = 'x'", RAW, ERR_PARSE, "expected an integer");
    bad("instrument = 3", RAW, ERR_PARSE, "expected a 'string'");
    bad("(detector = 1", RAW, ERR_PARSE, "expected ')'");
    bad("detector = 1 detector = 2", RAW, ERR_PARSE, "expected AND, OR");
    bad("detector = 1; DROP", RAW, ERR_PARSE, "unexpected character ';'");
    bad("instrument = 'open", RAW, ERR_PARSE, "unterminated");
    bad("exposure.begin > T'2024-13-01'", RAW, ERR_PARSE, "bad time");
    bad("exposure.timespan = T'2024-01-01'", RAW, ERR_PARSE, "OVERLAPS");
    bad("detector OVERLAPS (T'2024-01-01', T'2024-01-02')", RAW, ERR_PARSE, "OVERLAPS applies");
    bad("detector IN ()", RAW, ERR_PARSE, "expected an integer");
    bad("detector = 99999999999999999999", RAW, ERR_PARSE, "out of range");
    bad("detector ! 3", RAW, ERR_PARSE, "'!' must be followed");
    bad("NOT", RAW, ERR_PARSE, "unexpected end");
}

static void test_caps(void **state)
{
    (void)state;
    char big[REG_WHERE_MAX + 2];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    bad(big, RAW, ERR_TOO_LARGE, "longer than");
    char deep[256] = "";
    for (int i = 0; i < 40; i++) {
        strcat(deep, "(");
    }
    strcat(deep, "detector = 1");
    bad(deep, RAW, ERR_TOO_LARGE, "nested deeper");
    char many[2048] = "detector = 1";
    for (int i = 0; i < REG_WHERE_PARAMS_MAX; i++) {
        strcat(many, " OR detector = 1");
    }
    bad(many, RAW, ERR_TOO_LARGE, "more than");
}

static void test_times_normalise(void **state)
{
    (void)state;
    char out[64];
    assert_true(reg_time_normalise("2024-02-29", out, sizeof out));
    assert_string_equal(out, "2024-02-29T00:00:00+00:00");
    assert_false(reg_time_normalise("2023-02-29", out, sizeof out));
    assert_true(reg_time_normalise("2024-01-01T23:59:59.123456-05:30", out, sizeof out));
    assert_string_equal(out, "2024-01-01T23:59:59.123456-05:30");
    assert_false(reg_time_normalise("2024-01-01T24:00", out, sizeof out));
    assert_false(reg_time_normalise("2024-01-01T10:00:00Zjunk", out, sizeof out));
    assert_false(reg_time_normalise("2024-1-01", out, sizeof out));
    assert_false(reg_time_normalise("", out, sizeof out));
    assert_false(reg_time_normalise("2024-01-01", out, 8));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_comparisons),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_in),
        cmocka_unit_test(test_quotes_are_values),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_fields_and_dimensions),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_times_normalise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
