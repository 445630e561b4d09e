/* test_queue_alloc_fail.c - allocation-failure injection over lib/queue's JSON builders (issue 9
 * item 7): malloc, calloc and realloc are wrapped at link time (tests/support/alloc_fail.c) and
 * jansson is pointed at the wrapped malloc (json_set_alloc_funcs), so the n-th allocation of
 * the operation fails, for every n until it runs through. Each run must answer NULL / false /
 * ERR_NOMEM or the complete document (equal to the one built without failures), never a
 * half-built job, and (under ASan/valgrind) leak nothing. A job row is given as its column
 * values, as queue__job_from_row reads them from lib/db.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka needs stdarg.h, stddef.h and setjmp.h first */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue.h"
#include "queue/queue_int.h"
#include "support/alloc_fail.h"

#define RUNS_MAX 100000L /* bound on injection points per operation */
#define NCOLS    QUEUE_JOB_VALUES

/* jansson's allocations through the wrapped malloc (this file is linked with --wrap) */
static void *json_malloc(size_t n)
{
    return malloc(n);
}

static void json_free(void *p)
{
    free(p);
}

static const char *const full[NCOLS] = {
    "0192e0c4-7a1b-7c3d-8e4f-5a6b7c8d9e0f",
    "dataset",
    "running",
    "calib",
    "3",
    "{\"dataset\": \"j8bt05njq\", \"list\": [1, 2, {\"k\": \"v\"}], \"s\": \"\\u00e9\"}",
    "2",
    "5",
    "2026-11-21T21:22:28.000000Z",
    "2026-11-21T21:22:27.000000Z",
    "2026-11-21T21:22:29.000000Z",
    NULL,
    "stage1_error",
    "STAGE1_ERROR[11]: a reason",
    "{\"exit_code\": 0, \"steps\": [{\"name\": \"fetch\", \"ms\": 12}]}",
    "0192e0c4-7a1b-7c3d-8e4f-000000000001",
    "t",
    "{\"step\": \"calibrate\", \"index\": 3, \"nsteps\": 5, \"detail\": \"imset 2\", \"attempt\": "
    "2,"
    " \"updated_at\": \"2026-11-21T21:22:30.000000Z\"}",
    "4",
    "1",
    "1",
    "0",
    "1",
    "1",
    "0",
};

/* @p a has the members of @p b, recursively through objects (values not compared). */
static bool same_members(const json_t *a, const json_t *b)
{
    if (json_is_object(b)) {
        const char *k;
        const json_t *v;
        if (!json_is_object(a) || json_object_size(a) != json_object_size(b)) {
            return false;
        }
        json_object_foreach((json_t *)(uintptr_t)b, k, v)
        {
            if (!same_members(json_object_get(a, k), v)) {
                return false;
            }
        }
        return true;
    }
    if (json_is_array(b)) {
        if (!json_is_array(a) || json_array_size(a) != json_array_size(b)) {
            return false;
        }
        for (size_t i = 0; i < json_array_size(b); i++) {
            if (!same_members(json_array_get(a, i), json_array_get(b, i))) {
                return false;
            }
        }
        return true;
    }
    return a != NULL && json_typeof(a) == json_typeof(b);
}

static void test_job_from_row(void **state)
{
    (void)state;
    json_t *want = queue__job_from_values(full, true);
    assert_non_null(want);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(want, "progress"), "step")), "calibrate");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(want, "children"), "total")), 4);
    long n;
    for (n = 0; n < RUNS_MAX; n++) {
        alloc_fail_nth(n);
        json_t *got = queue__job_from_values(full, true);
        bool fired = alloc_fail_refused() > 0;
        alloc_fail_nth(-1);
        if (!fired) {
            assert_true(json_equal(got, want));
            json_decref(got);
            break;
        }
        /* a failure anywhere: no job, or one with every member (never one with a member
         * missing). jansson's own lexer ignores a failed growth of its token buffer (load.c
         * lex_save, 2.14) and may hand back a string short of a character: that is jansson's,
         * so a job that comes back is checked for its members, not their text. */
        if (got != NULL && !same_members(got, want)) {
            char *t = json_dumps(got, JSON_COMPACT);
            fprintf(stderr, "allocation %ld failed, a half-built job came back: %s\n", n, t);
            free(t);
            fail();
        }
        json_decref(got);
    }
    assert_true(n > 10 && n < RUNS_MAX);
    fprintf(stderr, "queue__job_from_values: %ld injection points\n", n);
    json_decref(want);
}

static void test_progress_json(void **state)
{
    (void)state;
    struct queue_progress p = {.step = "calibrate",
                               .index = 3,
                               .nsteps = 5,
                               .detail = "imset 2 of 3",
                               .event = true,
                               .prev_step = "validate",
                               .prev_ms = 1234};
    json_t *wp = NULL, *we = NULL;
    char wm[96], m[96];
    assert_true(queue_progress_json(&p, 2, &wp, &we, wm, sizeof wm));
    assert_string_equal(wm, "step 3/5: calibrate");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(we, "previous"), "duration_ms")), 1234);
    long n;
    for (n = 0; n < RUNS_MAX; n++) {
        json_t *gp = NULL, *ge = NULL;
        alloc_fail_nth(n);
        bool ok = queue_progress_json(&p, 2, &gp, &ge, m, sizeof m);
        bool fired = alloc_fail_refused() > 0;
        alloc_fail_nth(-1);
        if (!fired) {
            assert_true(ok && json_equal(gp, wp) && json_equal(ge, we));
            assert_string_equal(m, wm);
            json_decref(gp);
            json_decref(ge);
            break;
        }
        assert_false(ok);
        assert_null(gp);
        assert_null(ge);
    }
    assert_true(n > 5 && n < RUNS_MAX);
    fprintf(stderr, "queue_progress_json: %ld injection points\n", n);
    json_decref(wp);
    json_decref(we);
}

static enum err
params_ok(const json_t *params, const char *pfx, const void *ctx, struct err_info *ei)
{
    (void)params;
    (void)pfx;
    (void)ctx;
    (void)ei;
    return ERR_OK;
}

static void test_specs_check(void **state)
{
    (void)state;
    static const struct queue_kind kinds[] = {
        {.name = "noop"},
        {.name = "dataset", .queue = "calib", .params = params_ok},
    };
    json_error_t je;
    json_t *specs = json_loads(
        "[{\"kind\": \"noop\", \"params\": {\"sleep_ms\": 5}, \"priority\": 1},"
        " {\"kind\": \"dataset\", \"params\": {\"dataset\": \"x\", \"l\": [1, {\"a\": \"b\"}]},"
        "  \"run_at\": \"2026-11-21 21:22:28.5+18:00\", \"max_attempts\": 3,"
        "  \"parent_id\": \"0192e0c4-7a1b-7c3d-8e4f-000000000001\", \"queue\": \"q.1\"}]",
        0, &je);
    assert_non_null(specs);
    json_t *want = NULL;
    struct err_info wei;
    assert_int_equal(queue__specs_check(kinds, 2, specs, &want, &wei), ERR_OK);
    long n;
    for (n = 0; n < RUNS_MAX; n++) {
        struct err_info ei;
        json_t *rows = NULL;
        err_info_clear(&ei);
        alloc_fail_nth(n);
        enum err e = queue__specs_check(kinds, 2, specs, &rows, &ei);
        bool fired = alloc_fail_refused() > 0;
        alloc_fail_nth(-1);
        if (!fired) {
            assert_int_equal(e, ERR_OK);
            assert_int_equal(json_array_size(rows), 2);
            json_t *r1 = json_array_get(rows, 1);
            /* every member of a row is there (ids are fresh each time, so no equality) */
            static const char *const members[] = {
                "id", "kind", "params", "queue", "priority", "max_attempts", "run_at", "parent_id"};
            for (size_t i = 0; i < sizeof members / sizeof members[0]; i++) {
                assert_non_null(json_object_get(r1, members[i]));
            }
            assert_string_equal(json_string_value(json_object_get(r1, "run_at")),
                                "2026-11-21T03:22:28.500000Z");
            json_decref(rows);
            break;
        }
        if (e == ERR_OK) {
            /* the failure was absorbed (jansson retries nothing, but a failed growth of a
             * buffer it could do without is not an error): the rows must be whole */
            assert_true(same_members(rows, want));
            json_decref(rows);
            continue;
        }
        if (e != ERR_NOMEM) {
            fprintf(stderr, "allocation %ld failed: %s: %s\n", n, err_str(e), ei.msg);
            fail();
        }
        assert_null(rows);
    }
    assert_true(n > 10 && n < RUNS_MAX);
    fprintf(stderr, "queue__specs_check: %ld injection points\n", n);
    json_decref(want);
    json_decref(specs);
}

int main(void)
{
    json_set_alloc_funcs(json_malloc, json_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_from_row),
        cmocka_unit_test(test_progress_json),
        cmocka_unit_test(test_specs_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
