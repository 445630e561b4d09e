/* test_workers_queues_pg.c - per-queue concurrency (OBSFLOW_QUEUES) against the private
 * PostgreSQL: with calib=1,ingest=3, two slow calib jobs and six ingest jobs never run more than
 * 1 and 3 at once (from started_at/finished_at, and from the pool's per-queue gauges sampled
 * while they run), ingest is not starved behind calib though calib's jobs came first; a job of
 * a queue not listed stays queued; the per-kind default queues; pool refusal of bad limits.
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

#define WAIT_MS  60000 /* upper bound of every wait (not a timing assertion) */
#define CALIB_MS 600   /* one calib job */
#define INGEST_MS 300  /* one ingest job */
/* the completion of a job is written up to a few ms after it ended (batched, and possibly by
 * the completer after the claim of the next job): overlaps shorter than this are not counted */
#define SLACK_MS 150

struct fx {
    struct qt_db db;
    struct queue *q;
    struct workers_pool *p;
};

static const struct workers_queue_limit limits[] = {{"calib", 1}, {"ingest", 3}};

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct err_info ei;
    struct queue_config qc = {.kinds = qt_kinds, .nkinds = QT_NKINDS, .process_name = "qtest", .backoff_base_ms = 1, .backoff_cap_ms = 10};
    struct workers_config wc = {.threads = 16, /* ignored: the queues' sum */
                                .poll_ms = 100,
                                .heartbeat_ms = 100,
                                .queues = limits,
                                .nqueues = 2};
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

static void enq(struct queue *q, json_t *spec_stolen)
{
    struct err_info ei;
    json_t *out = NULL;
    if (queue_enqueue(q, spec_stolen, NULL, &out, NULL, &ei) != ERR_OK) {
        fail_msg("enqueue: %s", ei.msg);
    }
    json_decref(spec_stolen);
    json_decref(out);
}

static json_t *noops(const char *queue, int n, int sleep_ms)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++) {
        json_array_append_new(a, json_pack("{s:s, s:s, s:{s:i}}", "kind", "noop", "queue", queue,
                                           "params", "sleep_ms", sleep_ms));
    }
    return a;
}

/* Most jobs of @p queue whose runs (started_at..finished_at) overlap at one moment. */
static long long max_overlap(struct fx *f, const char *queue)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(max(n), 0) FROM (SELECT (SELECT count(*) FROM jobs b"
             " WHERE b.queue = '%s' AND b.started_at <= a.started_at"
             " AND b.finished_at > a.started_at + interval '%d ms') AS n"
             " FROM jobs a WHERE a.queue = '%s') x",
             queue, SLACK_MS, queue);
    return qt_sql_int(&f->db, sql);
}

static void test_limits_and_no_starvation(void **state)
{
    struct fx *f = *state;
    assert_int_equal(workers_pool_threads(f->p), 4);
    assert_int_equal(workers_pool_queues(f->p), 2);
    /* calib first: a pool shared by every queue would start both calib jobs at once */
    enq(f->q, noops("calib", 2, CALIB_MS));
    enq(f->q, noops("ingest", 6, INGEST_MS));
    enq(f->q, noops("elsewhere", 1, 0));
    struct err_info ei;
    assert_int_equal(workers_pool_start(f->p, &ei), ERR_OK);
    int max_busy[2] = {0, 0};
    int64_t until = clock_mono_ns() + (int64_t)WAIT_MS * 1000000;
    long long done = 0;
    while (clock_mono_ns() < until) {
        for (int i = 0; i < 2; i++) {
            int threads = 0, busy = 0;
            const char *name = workers_pool_queue(f->p, i, &threads, &busy);
            assert_string_equal(name, limits[i].name);
            assert_int_equal(threads, limits[i].threads);
            max_busy[i] = busy > max_busy[i] ? busy : max_busy[i];
        }
        done = qt_sql_int(&f->db, "SELECT count(*) FROM jobs WHERE state = 'succeeded'");
        if (done == 8) {
            break;
        }
        clock_sleep_ms(5);
    }
    assert_int_equal(done, 8);
    assert_in_range(max_busy[0], 1, 1);
    assert_in_range(max_busy[1], 1, 3);
    assert_int_equal(max_overlap(f, "calib"), 1);
    long long ing = max_overlap(f, "ingest");
    assert_in_range(ing, 2, 3); /* 6 jobs on 3 slots: several at once, never 4 */
    /* ingest was not starved behind calib: its first job started with the first calib job, and
     * all six finished while the second calib job had not */
    assert_true(qt_sql_int(&f->db,
                           "SELECT ((SELECT min(started_at) FROM jobs WHERE queue = 'ingest')"
                           " < (SELECT min(started_at) FROM jobs WHERE queue = 'calib')"
                           " + interval '300 ms')::int") == 1);
    assert_true(qt_sql_int(&f->db, "SELECT ((SELECT max(finished_at) FROM jobs WHERE queue ="
                                   " 'ingest') < (SELECT max(finished_at) FROM jobs WHERE queue ="
                                   " 'calib'))::int") == 1);
    /* the same from the events: one 'succeeded' per job, each run in a single attempt */
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM job_events e JOIN jobs j ON"
                                        " j.id = e.job_id WHERE e.state = 'succeeded'"
                                        " AND e.attempt = 1"),
                     8);
    /* a queue this process does not serve: never claimed */
    clock_sleep_ms(300);
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM jobs WHERE queue = 'elsewhere'"
                                        " AND state = 'queued' AND attempts = 0"),
                     1);
    assert_int_equal(workers_pool_drain(f->p, 5), 0);
    for (int i = 0; i < 2; i++) {
        int busy = -1;
        (void)workers_pool_queue(f->p, i, NULL, &busy);
        assert_int_equal(busy, 0);
    }
    assert_null(workers_pool_queue(f->p, 2, NULL, NULL));
}

/* A backlog deeper than the slots: each queue keeps exactly its slots busy, jobs of a queue
 * start in priority order. */
static void test_backlog_order(void **state)
{
    struct fx *f = *state;
    json_t *a = noops("ingest", 9, 50);
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_object_set_new(json_array_get(a, i), "priority", json_integer(9 - (json_int_t)i));
    }
    enq(f->q, a);
    enq(f->q, noops("calib", 3, 50));
    struct err_info ei;
    assert_int_equal(workers_pool_start(f->p, &ei), ERR_OK);
    int64_t until = clock_mono_ns() + (int64_t)WAIT_MS * 1000000;
    while (clock_mono_ns() < until &&
           qt_sql_int(&f->db, "SELECT count(*) FROM jobs WHERE state = 'succeeded'") != 12) {
        clock_sleep_ms(10);
    }
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM jobs WHERE state = 'succeeded'"),
                     12);
    /* jobs of 50 ms: shorter than the slack, so only an excess would show */
    assert_in_range(max_overlap(f, "calib"), 0, 1);
    assert_in_range(max_overlap(f, "ingest"), 0, 3);
    /* within ingest, a job of better priority never started after one of worse priority by
     * more than a claim's batch: the first three claimed are the three best */
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM (SELECT priority FROM jobs WHERE"
                                        " queue = 'ingest' ORDER BY started_at, priority LIMIT 3)"
                                        " x WHERE priority <= 3"),
                     3);
}

static void test_default_queue_by_kind(void **state)
{
    struct fx *f = *state;
    /* not started: only where the jobs land */
    enq(f->q, json_pack("[{s:s}, {s:s}, {s:s}, {s:s, s:s}]", "kind", "dataset", "kind", "ingest",
                        "kind", "noop", "kind", "ingest", "queue", "bulk"));
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM jobs WHERE kind = 'dataset'"
                                        " AND queue = 'calib'"),
                     1);
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM jobs WHERE kind = 'ingest'"
                                        " AND queue = 'ingest'"),
                     1);
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM jobs WHERE kind = 'noop'"
                                        " AND queue = 'default'"),
                     1);
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM jobs WHERE kind = 'ingest'"
                                        " AND queue = 'bulk'"),
                     1);
}

static void test_bad_limits_refused(void **state)
{
    struct fx *f = *state;
    struct err_info ei;
    struct workers_pool *p = NULL;
    static const struct workers_queue_limit dup[] = {{"a", 1}, {"a", 2}};
    static const struct workers_queue_limit zero[] = {{"a", 0}};
    static const struct workers_queue_limit badname[] = {{"a b", 1}};
    static const struct workers_queue_limit many[] = {{"a", 200}, {"b", 100}};
    struct workers_config wc = {.queues = dup, .nqueues = 2};
    assert_int_equal(workers_pool_create(f->q, &wc, &p, &ei), ERR_INVALID);
    assert_non_null(strstr(ei.msg, "twice"));
    wc = (struct workers_config){.queues = zero, .nqueues = 1};
    assert_int_equal(workers_pool_create(f->q, &wc, &p, &ei), ERR_INVALID);
    wc = (struct workers_config){.queues = badname, .nqueues = 1};
    assert_int_equal(workers_pool_create(f->q, &wc, &p, &ei), ERR_INVALID);
    wc = (struct workers_config){.queues = many, .nqueues = 2};
    assert_int_equal(workers_pool_create(f->q, &wc, &p, &ei), ERR_INVALID);
    /* a claim naming a bad queue is refused before any statement */
    struct queue_claim_limit bad = {.queue = "x'y", .max = 1};
    struct queue_claimed out[1];
    int n = 0;
    assert_int_equal(queue_complete_and_claim_queues(f->q, NULL, 0, &bad, 1, out, &n, &ei),
                     ERR_INVALID);
}

int main(void)
{
    qt_require_pg();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_limits_and_no_starvation, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_backlog_order, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_default_queue_by_kind, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_limits_refused, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
