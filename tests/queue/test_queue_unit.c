/* test_queue_unit.c - pure logic of lib/queue: backoff growth, cap and jitter bounds; UUID
 * syntax; cursor encoding round trip and rejection of malformed cursors.
 * SPDX-License-Identifier: Apache-2.0 */
#include "queue/queue.h"
#include "queue/queue_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
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
    assert_int_equal(queue__specs_check(bad, &rows, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "params");
    assert_null(rows);
    json_t *ok = json_pack("[{s:s}, {s:s, s:{s:s}}]", "kind", "noop", "kind", "noop", "params",
                           "card", "a\\u0000");
    assert_int_equal(queue__specs_check(ok, &rows, &ei), ERR_OK);
    assert_int_equal(json_array_size(rows), 2);
    json_decref(rows);
    rows = NULL;
    json_t *bad2 = json_pack("[{s:s}, {s:s, s:{s:[s%]}}]", "kind", "noop", "kind", "noop", "params",
                             "list", "\0", (size_t)1);
    assert_int_equal(queue__specs_check(bad2, &rows, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "[1].params");
    assert_false(queue__json_has_nul("{\"a\":\"\\\\u0000\"}"));
    assert_true(queue__json_has_nul("{\"a\":\"\\\\\\u0000\"}"));
    json_decref(bad);
    json_decref(ok);
    json_decref(bad2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_nul),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_cursor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
