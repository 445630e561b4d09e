/* test_workers_pg.c - the worker pool end to end against the private PostgreSQL: noop jobs
 * (including failing attempts) all succeed, cancellation of a running job, a kind without a
 * handler, drain releasing running and buffered jobs without charging attempts.
 * SPDX-License-Identifier: Apache-2.0 */
#include "qtest.h"
#include "workers.h"

#include "core/clock.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs stdarg.h, stddef.h and setjmp.h first */
#include <cmocka.h>

#define WAIT_MS 60000 /* upper bound of every wait (not a timing assertion) */

struct fx {
    struct qt_db db;
    struct queue *q;
    struct workers_pool *p;
};

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct err_info ei;
    struct queue_config qc = {.kinds = qt_kinds,
                              .nkinds = QT_NKINDS,
                              .process_name = "wtest",
                              .backoff_base_ms = 1,
                              .backoff_cap_ms = 10};
    struct workers_config wc = {.threads = 4, .poll_ms = 100, .heartbeat_ms = 100};
    qt_db_create(&f->db, true);
    if (queue_create(f->db.pool, &qc, &f->q, &ei) != ERR_OK ||
        workers_pool_create(f->q, &wc, &f->p, &ei) != ERR_OK) {
        fail_msg("setup: %s", ei.msg);
    }
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    workers_pool_destroy(f->p);
    queue_destroy(f->q);
    qt_db_drop(&f->db);
    free(f);
    return 0;
}

static json_t *enq(struct queue *q, json_t *spec_stolen)
{
    struct err_info ei;
    json_t *out = NULL;
    if (queue_enqueue(q, spec_stolen, NULL, &out, NULL, &ei) != ERR_OK) {
        fail_msg("enqueue: %s", ei.msg);
    }
    json_decref(spec_stolen);
    return out;
}

static long long wait_count(struct fx *f, const char *sql, long long want)
{
    int64_t until = clock_mono_ns() + (int64_t)WAIT_MS * 1000000;
    long long n = -1;
    while (clock_mono_ns() < until) {
        n = qt_sql_int(&f->db, sql);
        if (n == want) {
            break;
        }
        clock_sleep_ms(20);
    }
    return n;
}

static void start(struct fx *f)
{
    struct err_info ei;
    if (workers_pool_start(f->p, &ei) != ERR_OK) {
        fail_msg("start: %s", ei.msg);
    }
}

static void test_noop_end_to_end(void **state)
{
    struct fx *f = *state;
    json_t *batch = json_array();
    for (int i = 0; i < 200; i++) {
        json_t *params = json_object();
        if (i % 10 == 0) {
            json_object_set_new(params, "fail_times", json_integer(1));
        }
        if (i % 7 == 0) {
            json_object_set_new(params, "sleep_ms", json_integer(5));
        }
        json_array_append_new(batch, json_pack("{s:s, s:o}", "kind", "noop", "params", params));
    }
    json_decref(enq(f->q, batch));
    start(f);
    assert_int_equal(wait_count(f, "SELECT count(*) FROM jobs WHERE state = 'succeeded'", 200),
                     200);
    /* the jobs with fail_times=1 ran twice: 2 running events, 1 retrying, 1 succeeded */
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM jobs WHERE attempts = 2"), 20);
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM job_events WHERE state = 'retrying'"),
                     20);
    assert_int_equal(
        qt_sql_int(&f->db, "SELECT count(*) FROM job_events WHERE state = 'succeeded'"), 200);
    assert_int_equal(
        qt_sql_int(&f->db, "SELECT count(*) FROM jobs WHERE result->>'attempt' IS NULL"), 0);
    struct queue_stats st;
    struct err_info ei;
    assert_int_equal(queue_stats(f->q, &st, &ei), ERR_OK);
    assert_int_equal(st.succeeded_total, 200);
    assert_int_equal(st.retried_total, 20);
    assert_int_equal(st.claimed_total, 220);
    assert_true(workers_pool_alive(f->p));
    assert_int_equal(workers_pool_threads(f->p), 4);
    /* this process is registered while running, and gone after drain */
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM queue_processes"), 1);
    assert_int_equal(workers_pool_drain(f->p, 5), 0);
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM queue_processes"), 0);
}

static void test_bad_params_and_unknown_kind(void **state)
{
    struct fx *f = *state;
    json_decref(enq(f->q, json_pack("[{s:s, s:{s:s}}, {s:s}]", "kind", "noop", "params", "sleep_ms",
                                    "soon", "kind", "dataset")));
    start(f);
    assert_int_equal(wait_count(f, "SELECT count(*) FROM jobs WHERE state = 'failed'", 2), 2);
    /* neither is retried: bad params and a missing handler will not get better */
    assert_int_equal(qt_sql_int(&f->db, "SELECT max(attempts) FROM jobs"), 1);
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM jobs WHERE error_code = 'unsupported'"
                                        " AND kind = 'dataset'"),
                     1);
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM jobs WHERE error_code = 'invalid'"
                                        " AND error_message LIKE '%sleep_ms%'"),
                     1);
}

/* A handler whose message is not valid UTF-8 (a raw byte, a sequence cut in the middle, as a
 * message copied from a file name or a FITS card can be). */
static enum err bad_utf8_handler(struct workers_job *job, void *arg, struct err_info *ei)
{
    (void)job;
    (void)arg;
    return err_set(ei, ERR_INVALID, "bad byte \xff in card, cut \xc3");
}

/* A handler whose result holds a NUL character (jsonb has no room for one). */
static enum err nul_result_handler(struct workers_job *job, void *arg, struct err_info *ei)
{
    (void)arg;
    (void)ei;
    workers_job_set_result(job,
                           json_pack("{s:s%, s:s}", "card", "a\0b\\u0000", (size_t)9, "ok", "yes"));
    return ERR_OK;
}

static void test_result_with_nul(void **state)
{
    struct fx *f = *state;
    struct err_info ei;
    assert_int_equal(workers_register(f->p, "ingest", nul_result_handler, NULL, &ei), ERR_OK);
    json_decref(enq(f->q, json_pack("[{s:s}, {s:s}]", "kind", "ingest", "kind", "noop")));
    start(f);
    assert_int_equal(wait_count(f, "SELECT count(*) FROM jobs WHERE state = 'succeeded'", 2), 2);
    /* the NUL became U+FFFD; an escaped backslash followed by u0000 is text and stays */
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM jobs WHERE kind = 'ingest'"
                                        " AND result->>'card' = E'a\\uFFFDb\\\\u0000'"
                                        " AND result->>'ok' = 'yes'"),
                     1);
}

static void test_message_not_utf8(void **state)
{
    struct fx *f = *state;
    struct err_info ei;
    assert_int_equal(workers_register(f->p, "ingest", bad_utf8_handler, NULL, &ei), ERR_OK);
    json_decref(enq(f->q, json_pack("[{s:s}, {s:s}, {s:s}]", "kind", "ingest", "kind", "noop",
                                    "kind", "noop")));
    start(f);
    /* the bad message neither blocks the completions written with it nor is lost */
    assert_int_equal(wait_count(f, "SELECT count(*) FROM jobs WHERE state = 'succeeded'", 2), 2);
    assert_int_equal(wait_count(f, "SELECT count(*) FROM jobs WHERE state = 'failed'", 1), 1);
    assert_int_equal(
        qt_sql_int(&f->db,
                   "SELECT count(*) FROM jobs WHERE kind = 'ingest'"
                   " AND error_message LIKE '%bad byte \xef\xbf\xbd in card, cut \xef\xbf\xbd'"),
        1);
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM job_events WHERE state = 'failed'"
                                        " AND message LIKE '%bad byte \xef\xbf\xbd%'"),
                     1);
}

static void test_cancel_running(void **state)
{
    struct fx *f = *state;
    struct err_info ei;
    json_t *jobs =
        enq(f->q, json_pack("{s:s, s:{s:i}}", "kind", "noop", "params", "sleep_ms", 600000));
    char id[QUEUE_ID_LEN + 1];
    snprintf(id, sizeof id, "%s",
             json_string_value(json_object_get(json_array_get(jobs, 0), "id")));
    json_decref(jobs);
    start(f);
    assert_int_equal(wait_count(f, "SELECT count(*) FROM jobs WHERE state = 'running'", 1), 1);
    json_t *j = NULL;
    assert_int_equal(queue_cancel(f->q, id, &j, &ei), ERR_OK);
    json_decref(j);
    assert_int_equal(wait_count(f, "SELECT count(*) FROM jobs WHERE state = 'cancelled'", 1), 1);
    assert_int_equal(workers_pool_busy(f->p), 0);
    assert_int_equal(queue_get(f->q, id, &j, &ei), ERR_OK);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                        "cancelled");
    json_decref(j);
}

static void test_drain_releases(void **state)
{
    struct fx *f = *state;
    /* first some instant jobs, so the pool knows jobs are short and claims in batches */
    json_t *quick = json_array();
    for (int i = 0; i < 40; i++) {
        json_array_append_new(quick, json_pack("{s:s}", "kind", "noop"));
    }
    json_decref(enq(f->q, quick));
    start(f);
    assert_int_equal(wait_count(f, "SELECT count(*) FROM jobs WHERE state = 'succeeded'", 40), 40);
    /* then 6 long jobs on 4 threads, claimed as one batch: 4 run, 2 wait in the local buffer */
    json_t *batch = json_array();
    for (int i = 0; i < 6; i++) {
        json_array_append_new(
            batch, json_pack("{s:s, s:{s:i}}", "kind", "noop", "params", "sleep_ms", 600000));
    }
    json_decref(enq(f->q, batch));
    assert_int_equal(wait_count(f, "SELECT count(*) FROM jobs WHERE state = 'running'", 6), 6);
    int64_t until = clock_mono_ns() + (int64_t)WAIT_MS * 1000000;
    while (workers_pool_busy(f->p) < 4 && clock_mono_ns() < until) {
        clock_sleep_ms(10);
    }
    assert_int_equal(workers_pool_busy(f->p), 4);
    int released = workers_pool_drain(f->p, 0);
    assert_int_equal(released, 6);
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM jobs WHERE state = 'queued'"
                                        " AND attempts = 0 AND locked_by IS NULL"),
                     6);
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM job_events WHERE message LIKE"
                                        " 'released%'"),
                     6);
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM jobs WHERE state = 'succeeded'"), 40);
    assert_int_equal(workers_pool_busy(f->p), 0);
}

static void test_fresh_pool_claims_only_for_idle_threads(void **state)
{
    struct fx *f = *state;
    json_t *batch = json_array();
    for (int i = 0; i < 10; i++) {
        json_array_append_new(
            batch, json_pack("{s:s, s:{s:i}}", "kind", "noop", "params", "sleep_ms", 600000));
    }
    json_decref(enq(f->q, batch));
    start(f);
    assert_int_equal(wait_count(f, "SELECT count(*) FROM jobs WHERE state = 'running'", 4), 4);
    clock_sleep_ms(500); /* several poll periods: nothing more may be claimed */
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM jobs WHERE state = 'running'"), 4);
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM jobs WHERE state = 'queued'"), 6);
    assert_int_equal(workers_pool_drain(f->p, 0), 4);
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM jobs WHERE state = 'queued'"), 10);
}

int main(void)
{
    qt_require_pg();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_noop_end_to_end, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_params_and_unknown_kind, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_message_not_utf8, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_result_with_nul, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_running, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_drain_releases, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fresh_pool_claims_only_for_idle_threads, fx_setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
