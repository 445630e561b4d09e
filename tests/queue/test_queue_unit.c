/* test_queue_unit.c - pure logic of lib/queue: backoff growth, cap and jitter bounds; UUID
 * syntax; cursor encoding round trip and rejection of malformed cursors; the job-spec rules
 * (kinds, their validators and default queues, fields, limits) and the RFC 3339 reader.
 * SPDX-License-Identifier: Apache-2.0 */
#include "queue/queue.h"
#include "queue/queue_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* cmocka needs stdarg.h, stddef.h and setjmp.h first */
#include <cmocka.h>

static void test_backoff(void **state)
{
    (void)state;
    /* mid jitter (0.5) = exact base * 2^(n-1) */
    assert_int_equal(queue_backoff_ms(1, 1000, 600000, 0.5), 1000);
    assert_int_equal(queue_backoff_ms(2, 1000, 600000, 0.5), 2000);
    assert_int_equal(queue_backoff_ms(5, 1000, 600000, 0.5), 16000);
    /* capped */
    assert_int_equal(queue_backoff_ms(30, 1000, 600000, 0.5), 600000);
    assert_int_equal(queue_backoff_ms(1000, 1000, 600000, 0.5), 600000);
    /* jitter bounds: [0.75, 1.25) of the delay */
    assert_int_equal(queue_backoff_ms(3, 1000, 600000, 0.0), 3000);
    assert_true(queue_backoff_ms(3, 1000, 600000, 0.999) <= 5000);
    assert_true(queue_backoff_ms(3, 1000, 600000, 0.999) > 4990);
    /* out-of-range inputs are clamped, never negative */
    assert_int_equal(queue_backoff_ms(0, 1000, 600000, 0.5), 1000);
    assert_int_equal(queue_backoff_ms(1, 0, 0, 0.5), 1);
    assert_true(queue_backoff_ms(2, 1000, 600000, -3.0) == 1500);
    assert_true(queue_backoff_ms(2, 1000, 600000, 7.0) <= 2500);
    /* monotone in the attempt at fixed jitter */
    for (int a = 1; a < 40; a++) {
        assert_true(queue_backoff_ms(a, 250, 90000, 0.3) <=
                    queue_backoff_ms(a + 1, 250, 90000, 0.3));
    }
}

static void test_uuid(void **state)
{
    (void)state;
    assert_true(queue_is_uuid("0190a8b2-7c4e-7abc-8def-0123456789ab"));
    assert_true(queue_is_uuid("0190A8B2-7C4E-7ABC-8DEF-0123456789AB"));
    assert_false(queue_is_uuid(NULL));
    assert_false(queue_is_uuid(""));
    assert_false(queue_is_uuid("0190a8b2-7c4e-7abc-8def-0123456789a"));
    assert_false(queue_is_uuid("0190a8b2-7c4e-7abc-8def-0123456789abc"));
    assert_false(queue_is_uuid("0190a8b2x7c4e-7abc-8def-0123456789ab"));
    assert_false(queue_is_uuid("0190a8b2-7c4e-7abc-8def-0123456789ag"));
    assert_false(queue_is_uuid("'; DROP TABLE jobs; --aaaaaaaaaaaaaaaa"));
}

static void test_cursor(void **state)
{
    (void)state;
    const char *ids[] = {"0190a8b2-7c4e-7abc-8def-0123456789ab",
                         "00000000-0000-0000-0000-000000000000",
                         "ffffffff-ffff-ffff-ffff-ffffffffffff"};
    for (size_t i = 0; i < 3; i++) {
        char cur[32], back[40];
        queue_cursor_encode(ids[i], cur, sizeof cur);
        assert_int_equal(strlen(cur), 22);
        assert_null(strchr(cur, '='));
        assert_int_equal(queue_cursor_decode(cur, back, sizeof back), ERR_OK);
        assert_string_equal(back, ids[i]);
    }
    char cur[32], back[40];
    queue_cursor_encode("0190A8B2-7C4E-7ABC-8DEF-0123456789AB", cur, sizeof cur);
    assert_int_equal(queue_cursor_decode(cur, back, sizeof back), ERR_OK);
    assert_string_equal(back, "0190a8b2-7c4e-7abc-8def-0123456789ab"); /* canonical lower case */
    queue_cursor_encode("junk", cur, sizeof cur);
    assert_string_equal(cur, "");
    assert_int_equal(queue_cursor_decode(NULL, back, sizeof back), ERR_PARSE);
    assert_int_equal(queue_cursor_decode("", back, sizeof back), ERR_PARSE);
    assert_int_equal(queue_cursor_decode("AAAAAAAAAAAAAAAAAAAAA", back, sizeof back), ERR_PARSE);
    assert_int_equal(queue_cursor_decode("AAAAAAAAAAAAAAAAAAAAAAA", back, sizeof back), ERR_PARSE);
    assert_int_equal(queue_cursor_decode("AAAAAAAAAAAAAAAAAAAA+A", back, sizeof back), ERR_PARSE);
    assert_int_equal(queue_cursor_decode("AAAAAAAAAAAAAAAAAAAAA=", back, sizeof back), ERR_PARSE);
    assert_int_equal(queue_cursor_decode("AAAAAAAAAAAAAAAAAAAAAB", back, sizeof back), ERR_PARSE);
    assert_int_equal(queue_cursor_decode("AAAAAAAAAAAAAAAAAAAAAA", back, 8), ERR_PARSE);
    assert_int_equal(queue_cursor_decode("AAAAAAAAAAAAAAAAAAAAAA", back, sizeof back), ERR_OK);
    assert_string_equal(back, "00000000-0000-0000-0000-000000000000");
}

/* jsonb cannot hold NUL: params with one are refused with the field named; an escaped
 * backslash followed by u0000 is ordinary text. */
static void test_params_nul(void **state)
{
    (void)state;
    struct err_info ei;
    json_t *rows = NULL;
    json_t *bad = json_pack("{s:s, s:{s:s%}}", "kind", "noop", "params", "card", "a\0b", (size_t)3);
    assert_int_equal(queue__specs_check(&queue_kind_noop, 1, bad, &rows, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "params");
    assert_null(rows);
    json_t *ok = json_pack("[{s:s}, {s:s, s:{s:s}}]", "kind", "noop", "kind", "noop", "params",
                           "card", "a\\u0000");
    assert_int_equal(queue__specs_check(&queue_kind_noop, 1, ok, &rows, &ei), ERR_OK);
    assert_int_equal(json_array_size(rows), 2);
    json_decref(rows);
    rows = NULL;
    json_t *bad2 = json_pack("[{s:s}, {s:s, s:{s:[s%]}}]", "kind", "noop", "kind", "noop", "params",
                             "list", "\0", (size_t)1);
    assert_int_equal(queue__specs_check(&queue_kind_noop, 1, bad2, &rows, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "[1].params");
    assert_false(queue__json_has_nul("{\"a\":\"\\\\u0000\"}"));
    assert_true(queue__json_has_nul("{\"a\":\"\\\\\\u0000\"}"));
    json_decref(bad);
    json_decref(ok);
    json_decref(bad2);
}

/* ---- job specs: the one set of rules (POST /v1/jobs reaches them through queue_enqueue) ---- */

static int validator_calls;

/* a kind's params validator: refuses params.bad, names the field with the prefix it is given */
static enum err
test_params(const json_t *params, const char *pfx, const void *ctx, struct err_info *ei)
{
    validator_calls++;
    assert_string_equal((const char *)ctx, "ctx");
    if (params != NULL && json_object_get(params, "bad") != NULL) {
        char f[64];
        snprintf(f, sizeof f, "%sparams.bad", pfx);
        return err_set_field(ei, ERR_INVALID, f, "bad is bad");
    }
    return ERR_OK;
}

static const struct queue_kind test_kinds[] = {
    {.name = "noop"},
    {.name = "dataset", .queue = "calib", .params = test_params, .ctx = "ctx"},
};

static enum err spec(const char *s, json_t **rows, struct err_info *ei)
{
    json_error_t je;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &je);
    assert_non_null(v);
    err_info_clear(ei);
    json_t *r = NULL;
    enum err e = queue__specs_check(test_kinds, 2, v, &r, ei);
    json_decref(v);
    if (rows != NULL) {
        *rows = r;
    } else {
        json_decref(r);
    }
    return e;
}

static void test_spec_rules(void **state)
{
    (void)state;
    struct err_info ei;
    json_t *rows = NULL;
    assert_int_equal(spec("{\"kind\":\"noop\"}", NULL, &ei), ERR_OK);
    assert_int_equal(spec("{\"kind\":\"noop\",\"params\":{\"sleep_ms\":5},\"queue\":\"q.1\","
                          "\"priority\":0,\"max_attempts\":3,"
                          "\"run_at\":\"2026-11-21T21:22:28.5+01:00\",\"parent_id\":null}",
                          &rows, &ei),
                     ERR_OK);
    /* the instant in UTC is what PostgreSQL gets */
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "run_at")),
                        "2026-11-21T20:22:28.500000Z");
    json_decref(rows);
    /* the kind's default queue, unless the spec names one */
    assert_int_equal(spec("[{\"kind\":\"dataset\"},{\"kind\":\"dataset\",\"queue\":\"x\"},"
                          "{\"kind\":\"noop\"}]",
                          &rows, &ei),
                     ERR_OK);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "queue")),
                        "calib");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 1), "queue")), "x");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 2), "queue")),
                        QUEUE_DEFAULT_QUEUE);
    json_decref(rows);
    /* a kind no worker of the deployment runs: 422 naming kind, in a batch too */
    assert_int_equal(spec("{\"kind\":\"collection\"}", NULL, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "kind");
    assert_non_null(strstr(ei.msg, "collection"));
    assert_int_equal(spec("[{\"kind\":\"noop\"},{\"kind\":\"sleep\"}]", NULL, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "[1].kind");
    /* the kind's validator runs at submit time, with the batch prefix */
    validator_calls = 0;
    assert_int_equal(
        spec("[{\"kind\":\"noop\"},{\"kind\":\"dataset\",\"params\":{\"bad\":1}}]", NULL, &ei),
        ERR_INVALID);
    assert_string_equal(ei.field, "[1].params.bad");
    assert_int_equal(validator_calls, 1);
    assert_int_equal(spec("{\"kind\":\"dataset\"}", NULL, &ei), ERR_OK);
    assert_int_equal(validator_calls, 2);
    /* the rules the handler used to repeat */
    assert_int_equal(spec("{}", NULL, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "kind");
    assert_int_equal(spec("{\"kind\":5}", NULL, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "kind");
    assert_int_equal(spec("{\"kind\":\"noop\",\"colour\":\"red\"}", NULL, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "colour");
    assert_int_equal(spec("{\"kind\":\"noop\",\"priority\":\"high\"}", NULL, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "priority");
    assert_int_equal(spec("{\"kind\":\"noop\",\"priority\":10}", NULL, &ei), ERR_INVALID);
    assert_int_equal(spec("{\"kind\":\"noop\",\"priority\":1.5}", NULL, &ei), ERR_INVALID);
    assert_int_equal(spec("{\"kind\":\"noop\",\"max_attempts\":0}", NULL, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "max_attempts");
    assert_int_equal(spec("{\"kind\":\"noop\",\"max_attempts\":101}", NULL, &ei), ERR_INVALID);
    assert_int_equal(spec("{\"kind\":\"noop\",\"params\":[]}", NULL, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "params");
    assert_int_equal(spec("{\"kind\":\"noop\",\"queue\":\"a b\"}", NULL, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "queue");
    assert_int_equal(spec("{\"kind\":\"noop\",\"run_at\":\"tomorrow\"}", NULL, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "run_at");
    assert_int_equal(spec("{\"kind\":\"noop\",\"parent_id\":\"123\"}", NULL, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "parent_id");
    assert_int_equal(spec("[{\"kind\":\"noop\"},{\"kind\":\"noop\",\"priority\":-1}]", NULL, &ei),
                     ERR_INVALID);
    assert_string_equal(ei.field, "[1].priority");
    assert_int_equal(spec("[{\"kind\":\"noop\"},7]", NULL, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "[1]");
    /* params over QUEUE_PARAMS_MAX when serialised, although every string is short */
    json_t *big = json_pack("{s:s,s:{}}", "kind", "noop", "params");
    char chunk[4001];
    memset(chunk, 'p', 4000);
    chunk[4000] = '\0';
    for (int i = 0; i < 20; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        json_object_set_new(json_object_get(big, "params"), key, json_string(chunk));
    }
    err_info_clear(&ei);
    rows = NULL;
    assert_int_equal(queue__specs_check(test_kinds, 2, big, &rows, &ei), ERR_TOO_LARGE);
    assert_string_equal(ei.field, "params");
    json_decref(big);
}

/* ---- RFC 3339: the one reader of job times ---- */

static int64_t at(const char *s)
{
    int64_t us = INT64_MIN;
    assert_true(queue_rfc3339_parse(s, &us));
    return us;
}

static void test_rfc3339(void **state)
{
    (void)state;
    const int64_t t0 = 1763760148000000LL; /* 2025-11-21T21:22:28Z */
    assert_int_equal(at("2025-11-21T21:22:28Z"), t0);
    assert_int_equal(at("2025-11-21t21:22:28z"), t0);
    /* a space for the T: RFC 3339 section 5.6's note allows it, PostgreSQL reads it, and both
     * readers of the project used to disagree on it */
    assert_int_equal(at("2025-11-21 21:22:28Z"), t0);
    assert_int_equal(at("2025-11-21T16:22:28-05:00"), t0);
    /* offsets up to 23:59, which RFC 3339 allows and PostgreSQL refuses past 15:59 */
    assert_int_equal(at("2025-11-22T15:22:28+18:00"), t0);
    assert_int_equal(at("2025-11-20T21:23:28-23:59"), t0);
    assert_int_equal(at("2025-11-22T21:21:28+23:59"), t0);
    assert_false(queue_rfc3339_parse("2025-11-21T21:22:28+24:00", NULL));
    assert_false(queue_rfc3339_parse("2025-11-21T21:22:28+05:60", NULL));
    /* fractions: rounded to the microsecond, at most 9 digits */
    assert_int_equal(at("2025-11-21T21:22:28.5Z"), t0 + 500000);
    assert_int_equal(at("2025-11-21T21:22:28.123456Z"), t0 + 123456);
    assert_int_equal(at("2025-11-21T21:22:28.1234565Z"), t0 + 123457);
    assert_int_equal(at("2025-11-21T21:22:28.123456789Z"), t0 + 123457);
    assert_false(queue_rfc3339_parse("2025-11-21T21:22:28.1234567890Z", NULL));
    assert_false(queue_rfc3339_parse("2025-11-21T21:22:28.Z", NULL));
    /* calendar: days that exist, leap years, a leap second is the next minute's first */
    assert_true(queue_rfc3339_parse("2024-02-29T00:00:00Z", NULL));
    assert_false(queue_rfc3339_parse("2025-02-29T00:00:00Z", NULL));
    assert_false(queue_rfc3339_parse("2100-02-29T00:00:00Z", NULL));
    assert_true(queue_rfc3339_parse("2000-02-29T00:00:00Z", NULL));
    assert_false(queue_rfc3339_parse("2025-04-31T00:00:00Z", NULL));
    assert_int_equal(at("2016-12-31T23:59:60Z"), at("2017-01-01T00:00:00Z"));
    assert_false(queue_rfc3339_parse("2025-13-21T21:22:28Z", NULL));
    assert_false(queue_rfc3339_parse("2025-11-21T24:00:00Z", NULL));
    assert_false(queue_rfc3339_parse("2025-11-21T21:60:00Z", NULL));
    assert_false(queue_rfc3339_parse("2025-11-21T21:22:61Z", NULL));
    /* shape */
    assert_false(queue_rfc3339_parse("2025-11-21T21:22:28", NULL));
    assert_false(queue_rfc3339_parse("2025-11-21", NULL));
    assert_false(queue_rfc3339_parse("2025-11-21_21:22:28Z", NULL));
    assert_false(queue_rfc3339_parse("2025-11-21T21:22:28+0500", NULL));
    assert_false(queue_rfc3339_parse("2025-11-21T21:22:28Z ", NULL));
    assert_false(queue_rfc3339_parse("", NULL));
    assert_false(queue_rfc3339_parse(NULL, NULL));
    /* the years PostgreSQL's timestamptz and the formatter hold, in UTC */
    assert_true(queue_rfc3339_parse("0001-01-01T00:00:00Z", NULL));
    assert_false(queue_rfc3339_parse("0000-12-31T23:59:59Z", NULL));
    assert_false(queue_rfc3339_parse("0001-01-01T00:00:00+00:01", NULL));
    assert_true(queue_rfc3339_parse("9999-12-31T23:59:59.999999Z", NULL));
    assert_false(queue_rfc3339_parse("9999-12-31T23:59:59-00:01", NULL));
    /* the formatter writes the UTC instant the parser reads back */
    char out[32];
    queue_rfc3339_format(t0 + 5, out, sizeof out);
    assert_string_equal(out, "2025-11-21T21:22:28.000005Z");
    queue_rfc3339_format(at("0001-01-01T00:00:00Z"), out, sizeof out);
    assert_string_equal(out, "0001-01-01T00:00:00.000000Z");
    queue_rfc3339_format(at("2025-11-22T15:22:28+18:00"), out, sizeof out);
    assert_string_equal(out, "2025-11-21T21:22:28.000000Z");
}

/* ---- a kinds table is checked when the queue is created ---- */

static void test_kinds_table(void **state)
{
    (void)state;
    struct err_info ei;
    struct queue *q = NULL;
    struct db_pool *pool = (struct db_pool *)(uintptr_t)1; /* never used by queue_create */
    static const struct queue_kind dup[] = {{.name = "noop"}, {.name = "noop"}};
    static const struct queue_kind upper[] = {{.name = "Noop"}};
    static const struct queue_kind badq[] = {{.name = "noop", .queue = "a b"}};
    struct queue_config c = {.kinds = dup, .nkinds = 2};
    assert_int_equal(queue_create(pool, &c, &q, &ei), ERR_INVALID);
    assert_non_null(strstr(ei.msg, "twice"));
    c = (struct queue_config){.kinds = upper, .nkinds = 1};
    assert_int_equal(queue_create(pool, &c, &q, &ei), ERR_INVALID);
    c = (struct queue_config){.kinds = badq, .nkinds = 1};
    assert_int_equal(queue_create(pool, &c, &q, &ei), ERR_INVALID);
    c = (struct queue_config){.kinds = NULL, .nkinds = 3};
    assert_int_equal(queue_create(pool, &c, &q, &ei), ERR_INVALID);
    assert_null(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_nul), cmocka_unit_test(test_spec_rules),
        cmocka_unit_test(test_rfc3339),    cmocka_unit_test(test_kinds_table),
        cmocka_unit_test(test_backoff),    cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_cursor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
