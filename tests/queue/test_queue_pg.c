/* test_queue_pg.c - lib/queue and lib/db against the real private PostgreSQL: migrations (also two
 * at once), enqueue validation and all-or-nothing, claim order, SKIP LOCKED concurrency, retry
 * with backoff to failed, cancel, retry, rescue of dead (and not live) processes, idempotency,
 * pagination, pruning, children counts, one statement or body on a pooled connection
 * (db_pool_exec, db_pool_run). Each test has its own fresh database.
 * SPDX-License-Identifier: Apache-2.0 */
#include "qtest.h"
#include "queue/queue.h"

#include "core/clock.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs stdarg.h, stddef.h and setjmp.h first */
#include <cmocka.h>

struct fx {
    struct qt_db db;
    struct queue *q;
};

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct err_info ei;
    struct queue_config cfg = {.kinds = qt_kinds,
                               .nkinds = QT_NKINDS,
                               .process_name = "test",
                               .backoff_base_ms = 1,
                               .backoff_cap_ms = 5};
    qt_db_create(&f->db, true);
    if (queue_create(f->db.pool, &cfg, &f->q, &ei) != ERR_OK) {
        fail_msg("queue_create: %s", ei.msg);
    }
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    queue_destroy(f->q);
    qt_db_drop(&f->db);
    free(f);
    return 0;
}

/* Enqueue from JSON text; returns the array of jobs (owned). */
static json_t *enq(struct queue *q, const char *json, const char *key)
{
    struct err_info ei;
    json_t *spec = json_loads(json, 0, NULL);
    json_t *out = NULL;
    assert_non_null(spec);
    if (queue_enqueue(q, spec, key, &out, NULL, &ei) != ERR_OK) {
        fail_msg("enqueue %s: %s (%s)", json, ei.msg, ei.field);
    }
    json_decref(spec);
    return out;
}

static enum err enq_err(struct queue *q, const char *json, struct err_info *ei)
{
    json_t *spec = json_loads(json, JSON_DECODE_ANY, NULL);
    json_t *out = NULL;
    assert_non_null(spec);
    enum err e = queue_enqueue(q, spec, NULL, &out, NULL, ei);
    json_decref(spec);
    json_decref(out);
    return e;
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}


/* queue_stats's counts (migration 0010's counters) are those of counting the table. */
static void check_counts(struct fx *f)
{
    struct err_info ei;
    struct queue_stats st;
    assert_int_equal(queue_stats(f->q, &st, &ei), ERR_OK);
    for (int i = 0; i < 6; i++) {
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM jobs WHERE state = '%s'",
                 queue_state_names[i]);
        long long want = qt_sql_int(&f->db, sql);
        if (st.jobs_by_state[i] != want) {
            fail_msg("%s: queue_stats says %lld, the table has %lld", queue_state_names[i],
                     (long long)st.jobs_by_state[i], want);
        }
    }
    /* the statement folded the deltas it read */
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM job_count_deltas"), 0);
}

static void
complete1(struct queue *q, const struct queue_claimed *c, enum queue_outcome oc, const char *msg)
{
    struct err_info ei;
    struct queue_completion k = {.id = c->id,
                                 .attempt = c->attempt,
                                 .outcome = oc,
                                 .error_code = oc == QUEUE_SUCCEEDED ? NULL : "test_failure",
                                 .error_message = msg};
    if (queue_complete(q, &k, 1, &ei) != ERR_OK) {
        fail_msg("complete: %s", ei.msg);
    }
}

static void free_claimed(struct queue_claimed *c, int n)
{
    for (int i = 0; i < n; i++) {
        json_decref(c[i].params);
    }
}

static char *job_state(struct queue *q, const char *id)
{
    static char st[32];
    json_t *j = NULL;
    struct err_info ei;
    if (queue_get(q, id, &j, &ei) != ERR_OK) {
        fail_msg("get %s: %s", id, ei.msg);
    }
    snprintf(st, sizeof st, "%s", jstr(j, "state"));
    json_decref(j);
    return st;
}

/* ---- migrations --------------------------------------------------------------------------- */

struct mig_arg {
    const char *conninfo;
    enum err e;
    int applied;
    char msg[512];
};

static void *mig_thread(void *arg)
{
    struct mig_arg *m = arg;
    struct db_pool *p = NULL;
    struct err_info ei;
    err_info_clear(&ei);
    m->e = db_pool_create(m->conninfo, 1, &p, &ei);
    if (m->e == ERR_OK) {
        m->e = db_migrate(p, &m->applied, &ei);
    }
    snprintf(m->msg, sizeof m->msg, "%s", ei.msg);
    db_pool_destroy(p);
    return NULL;
}

static void test_two_migrators(void **state)
{
    (void)state;
    struct qt_db db;
    qt_db_create(&db, false);
    bool ok = true;
    struct err_info ei;
    assert_int_equal(db_migrations_applied(db.pool, &ok, &ei), ERR_OK);
    assert_false(ok);
    struct mig_arg a[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct mig_arg){.conninfo = db.conninfo};
        pthread_create(&t[i], NULL, mig_thread, &a[i]);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        if (a[i].e != ERR_OK) {
            fail_msg("migrator %d: %s", i, a[i].msg);
        }
        total += a[i].applied;
    }
    assert_int_equal(total, db_migrations_known()); /* each migration applied exactly once */
    assert_int_equal(qt_sql_int(&db, "SELECT count(*) FROM schema_migrations"),
                     db_migrations_known());
    assert_int_equal(db_migrations_applied(db.pool, &ok, &ei), ERR_OK);
    assert_true(ok);
    /* every table and column is commented */
    assert_int_equal(qt_sql_int(&db, "SELECT count(*) FROM information_schema.columns c"
                                     " JOIN pg_class t ON t.relname = c.table_name"
                                     " WHERE c.table_schema = 'public'"
                                     " AND col_description(t.oid, c.ordinal_position) IS NULL"),
                     0);
    int n = -1;
    assert_int_equal(db_migrate(db.pool, &n, &ei), ERR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(db_ping(db.pool, &ei), ERR_OK);
    qt_db_drop(&db);
}

/* ---- enqueue ------------------------------------------------------------------------------ */

static void test_enqueue_defaults_and_validation(void **state)
{
    struct fx *f = *state;
    struct err_info ei;
    json_t *jobs = enq(f->q, "{\"kind\":\"noop\"}", NULL);
    assert_int_equal(json_array_size(jobs), 1);
    json_t *j = json_array_get(jobs, 0);
    assert_string_equal(jstr(j, "state"), "queued");
    assert_string_equal(jstr(j, "queue"), "default");
    assert_int_equal(json_integer_value(json_object_get(j, "priority")), 5);
    assert_int_equal(json_integer_value(json_object_get(j, "max_attempts")), 5);
    assert_int_equal(json_integer_value(json_object_get(j, "attempts")), 0);
    assert_true(json_is_object(json_object_get(j, "params")));
    assert_true(json_is_null(json_object_get(j, "error")));
    assert_true(json_is_null(json_object_get(j, "started_at")));
    assert_non_null(jstr(j, "created_at"));
    assert_true(queue_is_uuid(jstr(j, "id")));
    json_decref(jobs);

    assert_int_equal(enq_err(f->q, "{\"kind\":\"bogus\"}", &ei), ERR_INVALID);
    assert_string_equal(ei.field, "kind");
    assert_int_equal(enq_err(f->q, "{\"params\":{}}", &ei), ERR_INVALID);
    assert_string_equal(ei.field, "kind");
    assert_int_equal(enq_err(f->q, "{\"kind\":\"noop\",\"colour\":1}", &ei), ERR_INVALID);
    assert_string_equal(ei.field, "colour");
    assert_int_equal(enq_err(f->q, "{\"kind\":\"noop\",\"priority\":\"1\"}", &ei), ERR_INVALID);
    assert_string_equal(ei.field, "priority");
    assert_int_equal(enq_err(f->q, "{\"kind\":\"noop\",\"run_at\":\"tomorrow\"}", &ei),
                     ERR_INVALID);
    assert_string_equal(ei.field, "run_at");
    assert_int_equal(enq_err(f->q, "{\"kind\":\"noop\",\"queue\":\"a b\"}", &ei), ERR_INVALID);
    assert_string_equal(ei.field, "queue");
    assert_int_equal(enq_err(f->q, "{\"kind\":\"noop\",\"max_attempts\":0}", &ei), ERR_INVALID);
    assert_int_equal(enq_err(f->q, "{\"kind\":\"noop\",\"params\":[1]}", &ei), ERR_INVALID);
    assert_string_equal(ei.field, "params");
    assert_int_equal(enq_err(f->q,
                             "{\"kind\":\"noop\",\"parent_id\":"
                             "\"00000000-0000-0000-0000-000000000001\"}",
                             &ei),
                     ERR_INVALID);
    assert_string_equal(ei.field, "parent_id");
    assert_int_equal(enq_err(f->q, "[]", &ei), ERR_PARSE);
    assert_int_equal(enq_err(f->q, "3", &ei), ERR_PARSE);
    /* all or nothing: the second spec is bad, nothing is inserted */
    assert_int_equal(
        enq_err(f->q, "[{\"kind\":\"noop\"},{\"kind\":\"noop\",\"priority\":10}]", &ei),
        ERR_INVALID);
    assert_string_equal(ei.field, "[1].priority");
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM jobs"), 1);
    /* a batch keeps its order */
    jobs = enq(f->q,
               "[{\"kind\":\"noop\",\"params\":{\"n\":0}},{\"kind\":\"noop\",\"params\":{\"n\":1}},"
               "{\"kind\":\"noop\",\"params\":{\"n\":2}}]",
               NULL);
    for (size_t i = 0; i < 3; i++) {
        json_t *p = json_object_get(json_array_get(jobs, i), "params");
        assert_int_equal(json_integer_value(json_object_get(p, "n")), (long long)i);
    }
    json_t *ev = NULL;
    assert_int_equal(queue_events(f->q, jstr(json_array_get(jobs, 0), "id"), &ev, &ei), ERR_OK);
    assert_int_equal(json_array_size(json_object_get(ev, "items")), 1);
    json_decref(ev);
    json_decref(jobs);
    json_t *out = NULL;
    assert_int_equal(queue_get(f->q, "not-a-uuid", &out, &ei), ERR_PARSE);
    assert_int_equal(queue_get(f->q, "00000000-0000-0000-0000-000000000001", &out, &ei),
                     ERR_NOT_FOUND);
    assert_int_equal(queue_events(f->q, "00000000-0000-0000-0000-000000000001", &out, &ei),
                     ERR_NOT_FOUND);
}

/* ---- claim -------------------------------------------------------------------------------- */

static void test_claim_order(void **state)
{
    struct fx *f = *state;
    struct err_info ei;
    json_t *jobs = enq(f->q,
                       "[{\"kind\":\"noop\",\"priority\":5,\"params\":{\"n\":\"p5-early\"},"
                       "\"run_at\":\"2020-01-01T00:00:00Z\"},"
                       "{\"kind\":\"noop\",\"priority\":9,\"params\":{\"n\":\"p9\"}},"
                       "{\"kind\":\"noop\",\"priority\":0,\"params\":{\"n\":\"p0-late\"},"
                       "\"run_at\":\"2021-01-01T00:00:00Z\"},"
                       "{\"kind\":\"noop\",\"priority\":0,\"params\":{\"n\":\"p0-early\"},"
                       "\"run_at\":\"2020-06-01T00:00:00+02:00\"},"
                       "{\"kind\":\"noop\",\"priority\":0,\"params\":{\"n\":\"future\"},"
                       "\"run_at\":\"2999-01-01T00:00:00Z\"},"
                       "{\"kind\":\"noop\",\"params\":{\"n\":\"p5-now\"}}]",
                       NULL);
    /* the answer carries the normalized times: run_at in UTC, created_at = run_at by default */
    assert_string_equal(jstr(json_array_get(jobs, 3), "run_at"), "2020-05-31T22:00:00.000000Z");
    assert_string_equal(jstr(json_array_get(jobs, 5), "run_at"),
                        jstr(json_array_get(jobs, 5), "created_at"));
    assert_string_equal(jstr(json_array_get(jobs, 1), "state"), "queued");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(jobs, 1), "priority")), 9);
    json_t *back = NULL;
    struct err_info gei;
    assert_int_equal(queue_get(f->q, jstr(json_array_get(jobs, 3), "id"), &back, &gei), ERR_OK);
    assert_true(json_equal(back, json_array_get(jobs, 3))); /* same shape as a later GET */
    json_decref(back);
    json_decref(jobs);
    struct queue_claimed c[10];
    int n = 0;
    assert_int_equal(queue_claim(f->q, 10, c, &n, &ei), ERR_OK);
    assert_int_equal(n, 5); /* the future one is not runnable */
    const char *want[] = {"p0-early", "p0-late", "p5-early", "p5-now", "p9"};
    for (int i = 0; i < n; i++) {
        assert_string_equal(json_string_value(json_object_get(c[i].params, "n")), want[i]);
        assert_int_equal(c[i].attempt, 1);
        assert_string_equal(job_state(f->q, c[i].id), "running");
    }
    int n2 = 0;
    struct queue_claimed c2[2];
    assert_int_equal(queue_claim(f->q, 2, c2, &n2, &ei), ERR_OK);
    assert_int_equal(n2, 0);
    free_claimed(c, n);
}

struct claimer {
    struct queue *q;
    char (*ids)[QUEUE_ID_LEN + 1];
    int n;
};

static void *claim_thread(void *arg)
{
    struct claimer *cl = arg;
    struct queue_claimed c[50];
    struct err_info ei;
    for (;;) {
        int n = 0;
        if (queue_claim(cl->q, 50, c, &n, &ei) != ERR_OK) {
            fprintf(stderr, "claim: %s\n", ei.msg);
            break;
        }
        if (n == 0) {
            break;
        }
        struct queue_completion k[50];
        for (int i = 0; i < n; i++) {
            memcpy(cl->ids[cl->n++], c[i].id, QUEUE_ID_LEN + 1);
            k[i] = (struct queue_completion){
                .id = c[i].id, .attempt = c[i].attempt, .outcome = QUEUE_SUCCEEDED};
        }
        if (queue_complete(cl->q, k, n, &ei) != ERR_OK) {
            fprintf(stderr, "complete: %s\n", ei.msg);
        }
        free_claimed(c, n);
    }
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_skip_locked_concurrency(void **state)
{
    struct fx *f = *state;
    enum { TOTAL = 2000, THREADS = 4 };
    json_t *batch = json_array();
    for (int i = 0; i < 1000; i++) {
        json_array_append_new(batch, json_pack("{s:s}", "kind", "noop"));
    }
    struct err_info ei;
    for (int r = 0; r < TOTAL / 1000; r++) {
        json_t *out = NULL;
        assert_int_equal(queue_enqueue(f->q, batch, NULL, &out, NULL, &ei), ERR_OK);
        json_decref(out);
    }
    json_decref(batch);
    static char ids[TOTAL * THREADS][QUEUE_ID_LEN + 1]; /* room for any one thread to get all */
    struct claimer cl[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        cl[i] = (struct claimer){.q = f->q, .ids = &ids[i * TOTAL], .n = 0};
        pthread_create(&t[i], NULL, claim_thread, &cl[i]);
    }
    static char all[TOTAL * THREADS][QUEUE_ID_LEN + 1];
    int total = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_true(cl[i].n <= TOTAL);
        for (int k = 0; k < cl[i].n; k++) {
            memcpy(all[total++], cl[i].ids[k], QUEUE_ID_LEN + 1);
        }
    }
    assert_int_equal(total, TOTAL);
    qsort(all, (size_t)total, sizeof all[0], cmp_id);
    for (int i = 1; i < total; i++) {
        assert_string_not_equal(all[i - 1], all[i]); /* no job claimed twice */
    }
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM jobs WHERE state = 'succeeded'"),
                     TOTAL);
    /* one row per enqueue and one per finished attempt (it carries the attempt's start) */
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM job_events"), TOTAL * 2);
    struct queue_stats st;
    assert_int_equal(queue_stats(f->q, &st, &ei), ERR_OK);
    assert_int_equal(st.jobs_by_state[3], TOTAL);
    assert_int_equal(st.claimed_total, TOTAL);
    assert_int_equal(st.succeeded_total, TOTAL);
}

/* ---- retry / backoff ---------------------------------------------------------------------- */

static void test_retry_backoff_to_failed(void **state)
{
    struct fx *f = *state;
    struct err_info ei;
    json_t *jobs = enq(f->q, "{\"kind\":\"noop\",\"max_attempts\":3}", NULL);
    char id[QUEUE_ID_LEN + 1];
    snprintf(id, sizeof id, "%s", jstr(json_array_get(jobs, 0), "id"));
    json_decref(jobs);
    for (int attempt = 1; attempt <= 3; attempt++) {
        struct queue_claimed c[1];
        int n = 0;
        int64_t until = clock_mono_ns() + 5000000000LL;
        while (n == 0 && clock_mono_ns() < until) { /* backoff is 1..5 ms here */
            assert_int_equal(queue_claim(f->q, 1, c, &n, &ei), ERR_OK);
            if (n == 0) {
                clock_sleep_ms(2);
            }
        }
        assert_int_equal(n, 1);
        assert_int_equal(c[0].attempt, attempt);
        char msg[64];
        snprintf(msg, sizeof msg, "boom %d", attempt);
        complete1(f->q, &c[0], QUEUE_FAILED, msg);
        free_claimed(c, 1);
        assert_string_equal(job_state(f->q, id), attempt < 3 ? "retrying" : "failed");
    }
    json_t *j = NULL;
    assert_int_equal(queue_get(f->q, id, &j, &ei), ERR_OK);
    assert_int_equal(json_integer_value(json_object_get(j, "attempts")), 3);
    json_t *err = json_object_get(j, "error");
    assert_string_equal(jstr(err, "code"), "test_failure");
    assert_string_equal(jstr(err, "message"), "boom 3");
    assert_non_null(jstr(j, "finished_at"));
    json_decref(j);
    json_t *ev = NULL;
    assert_int_equal(queue_events(f->q, id, &ev, &ei), ERR_OK);
    json_t *items = json_object_get(ev, "items");
    /* queued, then per attempt: running + (retrying | failed) */
    const char *want[] = {"queued",   "running", "retrying", "running",
                          "retrying", "running", "failed"};
    const int att[] = {0, 1, 1, 2, 2, 3, 3};
    assert_int_equal(json_array_size(items), 7);
    for (size_t i = 0; i < 7; i++) {
        json_t *e = json_array_get(items, i);
        assert_string_equal(jstr(e, "state"), want[i]);
        assert_int_equal(json_integer_value(json_object_get(e, "attempt")), att[i]);
    }
    assert_string_equal(jstr(json_array_get(items, 6), "message"), "boom 3");
    json_decref(ev);
    /* a stale completion (old attempt) changes nothing */
    struct queue_claimed stale = {.attempt = 2};
    snprintf(stale.id, sizeof stale.id, "%s", id);
    complete1(f->q, &stale, QUEUE_SUCCEEDED, NULL);
    assert_string_equal(job_state(f->q, id), "failed");
    /* retry: back to queued with fresh attempts */
    assert_int_equal(queue_retry(f->q, id, &j, &ei), ERR_OK);
    assert_string_equal(jstr(j, "state"), "queued");
    assert_int_equal(json_integer_value(json_object_get(j, "attempts")), 0);
    assert_true(json_is_null(json_object_get(j, "error")));
    json_decref(j);
    assert_int_equal(queue_retry(f->q, id, &j, &ei), ERR_CONFLICT);
}

/* ---- cancel ------------------------------------------------------------------------------- */

static void test_cancel(void **state)
{
    struct fx *f = *state;
    struct err_info ei;
    json_t *jobs =
        enq(f->q, "[{\"kind\":\"noop\",\"priority\":0},{\"kind\":\"noop\",\"priority\":9}]", NULL);
    char run_id[QUEUE_ID_LEN + 1], q_id[QUEUE_ID_LEN + 1];
    snprintf(run_id, sizeof run_id, "%s", jstr(json_array_get(jobs, 0), "id"));
    snprintf(q_id, sizeof q_id, "%s", jstr(json_array_get(jobs, 1), "id"));
    json_decref(jobs);
    struct queue_claimed c[1];
    int n = 0;
    assert_int_equal(queue_claim(f->q, 1, c, &n, &ei), ERR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(c[0].id, run_id);
    /* queued: cancelled at once */
    json_t *j = NULL;
    assert_int_equal(queue_cancel(f->q, q_id, &j, &ei), ERR_OK);
    assert_string_equal(jstr(j, "state"), "cancelled");
    json_decref(j);
    /* running: a request the worker sees through the heartbeat */
    assert_int_equal(queue_cancel(f->q, run_id, &j, &ei), ERR_OK);
    assert_string_equal(jstr(j, "state"), "running");
    assert_true(json_is_true(json_object_get(j, "cancel_requested")));
    json_decref(j);
    char ids[4][QUEUE_ID_LEN + 1];
    int nc = 0;
    assert_int_equal(queue_heartbeat(f->q, ids, 4, &nc, &ei), ERR_OK);
    assert_int_equal(nc, 1);
    assert_string_equal(ids[0], run_id);
    /* the worker stops; even a plain failure of a job being cancelled ends cancelled */
    complete1(f->q, &c[0], QUEUE_FAILED, "interrupted");
    free_claimed(c, 1);
    assert_string_equal(job_state(f->q, run_id), "cancelled");
    /* terminal states: cancel again is a no-op for cancelled, conflict for finished */
    assert_int_equal(queue_cancel(f->q, run_id, &j, &ei), ERR_OK);
    json_decref(j);
    jobs = enq(f->q, "{\"kind\":\"noop\"}", NULL);
    char done_id[QUEUE_ID_LEN + 1];
    snprintf(done_id, sizeof done_id, "%s", jstr(json_array_get(jobs, 0), "id"));
    json_decref(jobs);
    assert_int_equal(queue_claim(f->q, 1, c, &n, &ei), ERR_OK);
    complete1(f->q, &c[0], QUEUE_SUCCEEDED, NULL);
    free_claimed(c, n);
    assert_int_equal(queue_cancel(f->q, done_id, &j, &ei), ERR_CONFLICT);
    assert_int_equal(queue_retry(f->q, done_id, &j, &ei), ERR_CONFLICT);
    assert_int_equal(queue_cancel(f->q, "00000000-0000-0000-0000-000000000009", &j, &ei),
                     ERR_NOT_FOUND);
    assert_int_equal(queue_cancel(f->q, "zz", &j, &ei), ERR_PARSE);
    /* cancelled can be retried */
    assert_int_equal(queue_retry(f->q, q_id, &j, &ei), ERR_OK);
    assert_string_equal(jstr(j, "state"), "queued");
    json_decref(j);
    check_counts(f);
}

/* ---- rescue ------------------------------------------------------------------------------- */

static const char *boot_of(struct queue *q)
{
    return strchr(queue_process_id(q), '/') + 1;
}

static void test_rescue_dead_not_live(void **state)
{
    struct fx *f = *state;
    struct err_info ei;
    struct queue *dead = NULL, *live = NULL;
    struct queue_config cfg = {
        .kinds = qt_kinds, .nkinds = QT_NKINDS, .process_name = "pod-a", .lease_s = 30};
    assert_int_equal(queue_create(f->db.pool, &cfg, &dead, &ei), ERR_OK);
    cfg.process_name = "pod-a"; /* same name, new incarnation: must be a different process */
    assert_int_equal(queue_create(f->db.pool, &cfg, &live, &ei), ERR_OK);
    assert_string_not_equal(queue_process_id(dead), queue_process_id(live));
    json_t *jobs = enq(f->q,
                       "[{\"kind\":\"noop\"},{\"kind\":\"noop\"},{\"kind\":\"noop\"},"
                       "{\"kind\":\"noop\",\"max_attempts\":1}]",
                       NULL);
    json_decref(jobs);
    assert_int_equal(queue_heartbeat(dead, NULL, 0, NULL, &ei), ERR_OK);
    assert_int_equal(queue_heartbeat(live, NULL, 0, NULL, &ei), ERR_OK);
    struct queue_claimed cd[4], cl[1];
    int nd = 0, nl = 0;
    assert_int_equal(queue_claim(dead, 2, cd, &nd, &ei), ERR_OK);
    assert_int_equal(queue_claim(live, 1, cl, &nl, &ei), ERR_OK);
    int n3 = 0;
    assert_int_equal(queue_claim(dead, 1, cd + 2, &n3, &ei), ERR_OK); /* the max_attempts=1 one */
    assert_int_equal(nd + n3, 3);
    assert_int_equal(nl, 1);
    /* nobody is late yet: nothing to rescue */
    int r = -1;
    assert_int_equal(queue_rescue(live, &r, &ei), ERR_OK);
    assert_int_equal(r, 0);
    /* the first process stops heartbeating */
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE queue_processes SET heartbeat_at = now() - interval '1 hour' WHERE id = '%s'",
             boot_of(dead));
    qt_sql(&f->db, sql);
    assert_int_equal(queue_rescue(live, &r, &ei), ERR_OK);
    assert_int_equal(r, 3);
    assert_string_equal(job_state(f->q, cd[0].id), "retrying");
    assert_string_equal(job_state(f->q, cd[1].id), "retrying");
    assert_string_equal(job_state(f->q, cd[2].id), "failed");  /* out of attempts */
    assert_string_equal(job_state(f->q, cl[0].id), "running"); /* the live one is untouched */
    /* the dead process wakes up late: its completion must not touch the rescued job */
    complete1(dead, &cd[0], QUEUE_SUCCEEDED, NULL);
    assert_string_equal(job_state(f->q, cd[0].id), "retrying");
    json_t *ev = NULL;
    assert_int_equal(queue_events(f->q, cd[0].id, &ev, &ei), ERR_OK);
    json_t *items = json_object_get(ev, "items");
    json_t *last = json_array_get(items, json_array_size(items) - 1);
    assert_string_equal(jstr(last, "state"), "retrying");
    assert_non_null(strstr(jstr(last, "message"), "rescued"));
    json_decref(ev);
    /* the live process completes normally */
    complete1(live, &cl[0], QUEUE_SUCCEEDED, NULL);
    assert_string_equal(job_state(f->q, cl[0].id), "succeeded");
    /* a second rescue finds nothing */
    assert_int_equal(queue_rescue(live, &r, &ei), ERR_OK);
    assert_int_equal(r, 0);
    free_claimed(cd, 3);
    free_claimed(cl, 1);
    queue_destroy(dead);
    queue_destroy(live);
}

/* ---- idempotency -------------------------------------------------------------------------- */

static void test_idempotency(void **state)
{
    struct fx *f = *state;
    struct err_info ei;
    const char *body = "[{\"kind\":\"noop\",\"params\":{\"a\":1,\"b\":2}},{\"kind\":\"noop\"}]";
    json_t *first = enq(f->q, body, "key-1");
    json_t *spec = json_loads(
        "[{\"params\":{\"b\":2,\"a\":1},\"kind\":\"noop\"},{\"kind\":\"noop\"}]", 0, NULL);
    json_t *again = NULL;
    bool replayed = false;
    assert_int_equal(queue_enqueue(f->q, spec, "key-1", &again, &replayed, &ei), ERR_OK);
    assert_true(replayed);
    assert_int_equal(json_array_size(again), 2);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(jstr(json_array_get(first, i), "id"),
                            jstr(json_array_get(again, i), "id"));
    }
    json_decref(again);
    json_decref(spec);
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM jobs"), 2);
    spec = json_loads("{\"kind\":\"noop\",\"priority\":1}", 0, NULL);
    assert_int_equal(queue_enqueue(f->q, spec, "key-1", &again, &replayed, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "Idempotency-Key");
    /* another key is another request */
    assert_int_equal(queue_enqueue(f->q, spec, "key-2", &again, &replayed, &ei), ERR_OK);
    assert_false(replayed);
    json_decref(again);
    json_decref(spec);
    json_decref(first);
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM jobs"), 3);
}

/* queue_enqueue_text: the answer written as text is, job for job, what queue_get shows of the
 * same job (every member: params, parent_id, run_at, defaults), an object for an object; a
 * replay gives the same jobs; a cap too small for the answer is ERR_INTERNAL, inserting nothing
 * visible to the caller as an answer. */
static void text_matches_get(struct fx *f, const json_t *job)
{
    struct err_info ei;
    json_t *got = NULL;
    assert_int_equal(queue_get(f->q, jstr(job, "id"), &got, &ei), ERR_OK);
    if (!json_equal(job, got)) {
        char *a = json_dumps(job, JSON_COMPACT);
        char *b = json_dumps(got, JSON_COMPACT);
        fail_msg("enqueue answer %s differs from queue_get %s", a, b);
    }
    json_decref(got);
}

static void test_enqueue_text(void **state)
{
    struct fx *f = *state;
    struct err_info ei;
    json_t *parent = enq(f->q, "{\"kind\":\"noop\"}", NULL);
    char body[1024];
    snprintf(body, sizeof body,
             "[{\"kind\":\"noop\",\"params\":{\"sleep_ms\":1,\"s\":\"a\\\"b\\\\c\\u00e9\"},"
             "\"queue\":\"Q.x-1\",\"priority\":0,\"max_attempts\":100,"
             "\"run_at\":\"2030-01-02T03:04:05.5+01:00\",\"parent_id\":\"%s\"},"
             "{\"kind\":\"noop\",\"params\":null,\"run_at\":null,\"parent_id\":null},"
             "{\"kind\":\"noop\",\"params\":{}}]",
             jstr(json_array_get(parent, 0), "id"));
    json_t *spec = json_loads(body, 0, NULL);
    assert_non_null(spec);
    struct buf out;
    buf_init(&out, 1 << 20);
    char first[QUEUE_ID_LEN + 1];
    size_t n = 0;
    bool replayed = true;
    assert_int_equal(queue_enqueue_text(f->q, spec, "text-1", &out, first, &n, &replayed, &ei),
                     ERR_OK);
    assert_false(replayed);
    assert_int_equal(n, 3);
    json_t *jobs = json_loads(buf_cstr(&out), 0, NULL);
    assert_non_null(jobs);
    assert_true(json_is_array(jobs));
    assert_int_equal(json_array_size(jobs), 3);
    assert_string_equal(first, jstr(json_array_get(jobs, 0), "id"));
    for (size_t i = 0; i < 3; i++) {
        text_matches_get(f, json_array_get(jobs, i));
    }
    /* the replay: the same jobs */
    buf_reset(&out);
    assert_int_equal(queue_enqueue_text(f->q, spec, "text-1", &out, first, &n, &replayed, &ei),
                     ERR_OK);
    assert_true(replayed);
    json_t *again = json_loads(buf_cstr(&out), 0, NULL);
    assert_non_null(again);
    assert_true(json_equal(jobs, again));
    json_decref(again);
    json_decref(jobs);
    json_decref(spec);
    /* one object in, one object out */
    spec = json_loads("{\"kind\":\"noop\",\"priority\":2}", 0, NULL);
    buf_reset(&out);
    assert_int_equal(queue_enqueue_text(f->q, spec, NULL, &out, first, &n, NULL, &ei), ERR_OK);
    json_t *one = json_loads(buf_cstr(&out), 0, NULL);
    assert_true(json_is_object(one));
    assert_string_equal(first, jstr(one, "id"));
    text_matches_get(f, one);
    json_decref(one);
    /* an answer over the cap */
    struct buf tiny;
    buf_init(&tiny, 100);
    assert_int_equal(queue_enqueue_text(f->q, spec, NULL, &tiny, first, &n, NULL, &ei),
                     ERR_INTERNAL);
    buf_free(&tiny);
    /* validation errors are queue_enqueue's */
    json_decref(spec);
    spec = json_loads("[{\"kind\":\"noop\"},{\"kind\":\"noop\",\"priority\":10}]", 0, NULL);
    assert_int_equal(queue_enqueue_text(f->q, spec, NULL, &out, first, &n, NULL, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "[1].priority");
    json_decref(spec);
    buf_free(&out);
    json_decref(parent);
}

/* ---- list --------------------------------------------------------------------------------- */

static void test_pagination_and_filters(void **state)
{
    struct fx *f = *state;
    struct err_info ei;
    json_t *batch = json_array();
    for (int i = 0; i < 25; i++) {
        json_array_append_new(batch, json_pack("{s:s, s:s, s:{s:i}}", "kind",
                                               i % 5 == 0 ? "ingest" : "noop", "queue",
                                               i % 2 == 0 ? "even" : "odd", "params", "i", i));
    }
    json_t *jobs = NULL;
    assert_int_equal(queue_enqueue(f->q, batch, NULL, &jobs, NULL, &ei), ERR_OK);
    json_decref(batch);
    json_decref(jobs);
    struct queue_filter flt = {.limit = 10};
    char cursor[64] = "";
    int seen = 0, pages = 0;
    long long prev_i = 1000;
    for (;;) {
        json_t *page = NULL;
        flt.cursor = cursor[0] != '\0' ? cursor : NULL;
        assert_int_equal(queue_list(f->q, &flt, &page, &ei), ERR_OK);
        json_t *items = json_object_get(page, "items");
        pages++;
        for (size_t k = 0; k < json_array_size(items); k++) {
            long long iv = json_integer_value(
                json_object_get(json_object_get(json_array_get(items, k), "params"), "i"));
            assert_true(iv < prev_i); /* newest first, no repeats across pages */
            prev_i = iv;
            seen++;
        }
        json_t *next = json_object_get(page, "next_cursor");
        if (json_is_null(next)) {
            json_decref(page);
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
        json_decref(page);
    }
    assert_int_equal(seen, 25);
    assert_int_equal(pages, 3);
    json_t *page = NULL;
    struct queue_filter byk = {.kind = "ingest", .queue = "even"};
    assert_int_equal(queue_list(f->q, &byk, &page, &ei), ERR_OK);
    assert_int_equal(json_array_size(json_object_get(page, "items")), 3); /* 0, 10, 20 */
    json_decref(page);
    struct queue_filter bys = {.state = "running"};
    assert_int_equal(queue_list(f->q, &bys, &page, &ei), ERR_OK);
    assert_int_equal(json_array_size(json_object_get(page, "items")), 0);
    json_decref(page);
    struct queue_filter bad = {.cursor = "!!"};
    assert_int_equal(queue_list(f->q, &bad, &page, &ei), ERR_PARSE);
    assert_string_equal(ei.field, "cursor");
    bad = (struct queue_filter){.state = "sleeping"};
    assert_int_equal(queue_list(f->q, &bad, &page, &ei), ERR_INVALID);
    bad = (struct queue_filter){.limit = 100000};
    assert_int_equal(queue_list(f->q, &bad, &page, &ei), ERR_INVALID);
    bad = (struct queue_filter){.parent_id = "nope"};
    assert_int_equal(queue_list(f->q, &bad, &page, &ei), ERR_PARSE);
}

/* ---- children ----------------------------------------------------------------------------- */

static void test_children(void **state)
{
    struct fx *f = *state;
    struct err_info ei;
    json_t *parent = enq(f->q, "{\"kind\":\"collection\"}", NULL);
    const char *pid = jstr(json_array_get(parent, 0), "id");
    char spec[512];
    snprintf(spec, sizeof spec,
             "[{\"kind\":\"noop\",\"parent_id\":\"%s\"},{\"kind\":\"noop\",\"parent_id\":\"%s\"},"
             "{\"kind\":\"noop\",\"parent_id\":\"%s\",\"priority\":0}]",
             pid, pid, pid);
    json_t *kids = enq(f->q, spec, NULL);
    assert_string_equal(jstr(json_array_get(kids, 0), "parent_id"), pid);
    struct queue_claimed c[1];
    int n = 0;
    assert_int_equal(queue_claim(f->q, 1, c, &n, &ei), ERR_OK); /* the priority-0 child */
    assert_string_equal(c[0].parent_id, pid);
    json_t *j = NULL;
    assert_int_equal(queue_get(f->q, pid, &j, &ei), ERR_OK);
    json_t *ch = json_object_get(j, "children");
    assert_int_equal(json_integer_value(json_object_get(ch, "total")), 3);
    assert_int_equal(json_integer_value(json_object_get(ch, "queued")), 2);
    assert_int_equal(json_integer_value(json_object_get(ch, "running")), 1);
    json_decref(j);
    struct queue_filter byp = {.parent_id = pid};
    assert_int_equal(queue_list(f->q, &byp, &j, &ei), ERR_OK);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 3);
    json_decref(j);
    free_claimed(c, n);
    json_decref(kids);
    json_decref(parent);
}

/* ---- prune -------------------------------------------------------------------------------- */

static void test_prune(void **state)
{
    struct fx *f = *state;
    struct err_info ei;
    json_t *jobs =
        enq(f->q, "[{\"kind\":\"noop\"},{\"kind\":\"noop\"},{\"kind\":\"noop\"}]", "k-old");
    json_decref(jobs);
    struct queue_claimed c[3];
    int n = 0;
    assert_int_equal(queue_claim(f->q, 3, c, &n, &ei), ERR_OK);
    assert_int_equal(n, 3);
    complete1(f->q, &c[0], QUEUE_SUCCEEDED, NULL);
    complete1(f->q, &c[1], QUEUE_FAILED_FINAL, "bad \"value\" in C:\\dir\n\tnext \x01 \u00e9");
    free_claimed(c, n);
    json_t *failed = NULL;
    assert_int_equal(queue_get(f->q, c[1].id, &failed, &ei), ERR_OK);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(failed, "error"), "message")),
        "bad \"value\" in C:\\dir\n\tnext \x01 \u00e9"); /* escaped intact */
    json_decref(failed);
    /* age them: 2 days old; default retention is 1 day for succeeded, 7 days for failed */
    qt_sql(&f->db, "UPDATE jobs SET finished_at = now() - interval '2 days', "
                   "created_at = now() - interval '2 days' WHERE finished_at IS NOT NULL");
    qt_sql(&f->db, "UPDATE idempotency_keys SET created_at = now() - interval '8 days'");
    int d = -1;
    assert_int_equal(queue_prune(f->q, 100, &d, &ei), ERR_OK);
    assert_int_equal(d, 1); /* only the succeeded one; failed is kept longer; running untouched */
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM jobs"), 2);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM job_events WHERE job_id = '%s'", c[0].id);
    assert_int_equal(qt_sql_int(&f->db, sql), 0);
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM idempotency_keys"), 0);
    qt_sql(&f->db,
           "UPDATE jobs SET finished_at = now() - interval '8 days' WHERE state = 'failed'");
    assert_int_equal(queue_prune(f->q, 100, &d, &ei), ERR_OK);
    assert_int_equal(d, 1);
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM jobs WHERE state = 'running'"), 1);
    /* the prune folded the counters' deltas (its own deletions are the next fold's) */
    assert_true(qt_sql_int(&f->db, "SELECT count(*) FROM job_count_deltas") <= 1);
    check_counts(f);
}

/* The counters of migration 0010 follow every kind of change (batch insert, claim, outcomes,
 * cancel, retry, delete, truncate, a statement that changes no state); the oldest runnable
 * job's age comes from the claim index and ignores future and finished jobs. */
static void test_counts(void **state)
{
    struct fx *f = *state;
    struct err_info ei;
    check_counts(f);
    json_t *jobs = enq(f->q,
                       "[{\"kind\":\"noop\"},{\"kind\":\"noop\",\"priority\":0},"
                       "{\"kind\":\"noop\",\"priority\":9},{\"kind\":\"noop\"},"
                       "{\"kind\":\"noop\",\"run_at\":\"2999-01-01T00:00:00Z\"}]",
                       NULL);
    json_decref(jobs);
    check_counts(f);
    struct queue_claimed c[4];
    int n = 0;
    assert_int_equal(queue_claim(f->q, 4, c, &n, &ei), ERR_OK);
    assert_int_equal(n, 4);
    check_counts(f);
    complete1(f->q, &c[0], QUEUE_SUCCEEDED, NULL);
    complete1(f->q, &c[1], QUEUE_FAILED, "again");
    complete1(f->q, &c[2], QUEUE_FAILED_FINAL, "no");
    check_counts(f);
    json_t *j = NULL;
    assert_int_equal(queue_cancel(f->q, c[3].id, &j, &ei), ERR_OK); /* a request: no change */
    json_decref(j);
    check_counts(f);
    assert_int_equal(queue_retry(f->q, c[2].id, &j, &ei), ERR_OK);
    json_decref(j);
    free_claimed(c, n);
    check_counts(f);
    qt_sql(&f->db, "UPDATE jobs SET progress = '{}'"); /* no state changes: no delta */
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM job_count_deltas"), 0);
    check_counts(f);
    /* the oldest runnable: 2 queued jobs made an hour ago and a retrying one; the future one
     * and the running one do not count */
    qt_sql(&f->db, "UPDATE jobs SET run_at = now() - interval '1 hour'"
                   " WHERE state IN ('queued', 'retrying') AND run_at < now()");
    struct queue_stats st;
    assert_int_equal(queue_stats(f->q, &st, &ei), ERR_OK);
    assert_true(st.oldest_queued_age_s >= 3600.0 && st.oldest_queued_age_s < 3700.0);
    qt_sql(&f->db, "UPDATE jobs SET state = 'cancelled', finished_at = now()"
                   " WHERE run_at < now() AND state IN ('queued', 'retrying')");
    assert_int_equal(queue_stats(f->q, &st, &ei), ERR_OK);
    assert_true(st.oldest_queued_age_s == 0.0); /* only the one due in 2999 is left */
    check_counts(f);
    qt_sql(&f->db, "DELETE FROM jobs WHERE state = 'cancelled'");
    check_counts(f);
    qt_sql(&f->db, "TRUNCATE jobs, job_events");
    check_counts(f);
    jobs = enq(f->q, "{\"kind\":\"noop\"}", NULL);
    json_decref(jobs);
    check_counts(f);
}

/* ---- db_txn_run, SQLSTATE mapping, NOTIFY wake-up ----------------------------------------- */

struct flaky {
    int calls;
    int fail_first; /* raise 40001 / 40P01 on the first calls */
};

static enum err flaky_txn(struct db_conn *c, void *arg, struct err_info *ei)
{
    struct flaky *fl = arg;
    fl->calls++;
    if (fl->calls <= fl->fail_first) {
        const char *sql = fl->calls % 2 == 1
                              ? "DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40001'; END $$"
                              : "DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40P01'; END $$";
        return db_exec(c, NULL, sql, 0, NULL, NULL, ei);
    }
    return db_exec(c, NULL,
                   "INSERT INTO idempotency_keys (key, request_hash, job_ids)"
                   " VALUES ('txn', 'h', '{}')",
                   0, NULL, NULL, ei);
}

static void test_txn_retry_and_sqlstates(void **state)
{
    struct fx *f = *state;
    struct err_info ei;
    struct flaky fl = {.fail_first = 2};
    assert_int_equal(db_txn_run(f->db.pool, flaky_txn, &fl, &ei), ERR_OK);
    assert_int_equal(fl.calls, 3); /* serialization failure and deadlock were retried */
    assert_int_equal(qt_sql_int(&f->db, "SELECT count(*) FROM idempotency_keys"), 1);
    fl = (struct flaky){.fail_first = 100};
    assert_int_equal(db_txn_run(f->db.pool, flaky_txn, &fl, &ei), ERR_DB_RETRY);
    assert_int_equal(fl.calls, DB_TXN_RETRIES + 1); /* bounded */
    /* unique violation -> conflict, bad input value -> invalid, others -> db */
    struct db_conn *c = NULL;
    assert_int_equal(db_acquire(f->db.pool, 5000, &c, &ei), ERR_OK);
    assert_int_equal(db_exec(c, NULL,
                             "INSERT INTO idempotency_keys (key, request_hash, job_ids)"
                             " VALUES ('txn', 'h', '{}')",
                             0, NULL, NULL, &ei),
                     ERR_CONFLICT);
    assert_string_equal(db_conn_sqlstate(c), "23505");
    assert_int_equal(db_exec(c, NULL, "SELECT 'nope'::uuid", 0, NULL, NULL, &ei), ERR_INVALID);
    assert_int_equal(db_exec(c, NULL, "SELECT * FROM no_such_table", 0, NULL, NULL, &ei), ERR_DB);
    const char *p[] = {"41"};
    struct db_res *r = NULL;
    assert_int_equal(db_exec(c, "t_param", "SELECT $1::int + 1", 1, p, &r, &ei), ERR_OK);
    assert_string_equal(db_res_get(r, 0, 0), "42");
    db_res_free(r);
    db_release(f->db.pool, c);
    assert_true(db_pool_in_use(f->db.pool) == 0);
}

/* db_pool_run: leaves a transaction open on purpose (db_release must roll it back). */
static enum err open_txn(struct db_conn *c, void *arg, struct err_info *ei)
{
    int *calls = arg;
    (*calls)++;
    enum err e = db_exec(c, NULL, "BEGIN", 0, NULL, NULL, ei);
    if (e == ERR_OK) {
        e = db_exec(c, NULL,
                    "INSERT INTO idempotency_keys (key, request_hash, job_ids)"
                    " VALUES ('left-open', 'h', '{}')",
                    0, NULL, NULL, ei);
    }
    return e == ERR_OK ? ERR_CONFLICT : e; /* an error of its own comes back as it is */
}

static void test_pool_exec_and_run(void **state)
{
    struct fx *f = *state;
    struct err_info ei;
    const char *p[] = {"41"};
    struct db_res *r = NULL;
    /* one statement: the rows, the connection back in the pool */
    assert_int_equal(db_pool_exec(f->db.pool, 5000, "t_pool_exec", "SELECT $1::int + 1", 1, p,
                                  &r, &ei),
                     ERR_OK);
    assert_string_equal(db_res_get(r, 0, 0), "42");
    db_res_free(r);
    assert_int_equal(db_pool_in_use(f->db.pool), 0);
    /* db_exec's mapping, the connection released on failure too */
    const char *ins = "INSERT INTO idempotency_keys (key, request_hash, job_ids)"
                      " VALUES ('once', 'h', '{}')";
    assert_int_equal(db_pool_exec(f->db.pool, 5000, NULL, ins, 0, NULL, NULL, &ei), ERR_OK);
    assert_int_equal(db_pool_exec(f->db.pool, 5000, NULL, ins, 0, NULL, NULL, &ei), ERR_CONFLICT);
    assert_non_null(strstr(ei.msg, "23505"));
    assert_int_equal(db_pool_exec(f->db.pool, 5000, NULL, "SELECT 'nope'::uuid", 0, NULL, NULL,
                                  &ei),
                     ERR_INVALID);
    assert_int_equal(db_pool_in_use(f->db.pool), 0);
    /* db_pool_run: the body's error comes back; what it left open is rolled back */
    int calls = 0;
    assert_int_equal(db_pool_run(f->db.pool, 5000, open_txn, &calls, &ei), ERR_CONFLICT);
    assert_int_equal(calls, 1); /* no retry */
    assert_int_equal(db_pool_in_use(f->db.pool), 0);
    assert_int_equal(
        qt_sql_int(&f->db, "SELECT count(*) FROM idempotency_keys WHERE key = 'left-open'"), 0);
    /* every connection borrowed: ERR_TIMEOUT, nothing run */
    struct db_pool *one = NULL;
    struct db_conn *held = NULL;
    assert_int_equal(db_pool_create(f->db.conninfo, 1, &one, &ei), ERR_OK);
    assert_int_equal(db_acquire(one, 5000, &held, &ei), ERR_OK);
    calls = 0;
    assert_int_equal(db_pool_run(one, 50, open_txn, &calls, &ei), ERR_TIMEOUT);
    assert_int_equal(db_pool_exec(one, 50, NULL, "SELECT 1", 0, NULL, NULL, &ei), ERR_TIMEOUT);
    assert_int_equal(calls, 0);
    db_release(one, held);
    db_pool_destroy(one);
    /* PostgreSQL out of reach: ERR_UNAVAILABLE from both, the pool usable afterwards */
    assert_int_equal(db_pool_create("host=/nonexistent/obsflow-socket-dir dbname=x", 1, &one, &ei),
                     ERR_OK);
    assert_int_equal(db_pool_exec(one, 1000, NULL, "SELECT 1", 0, NULL, NULL, &ei),
                     ERR_UNAVAILABLE);
    assert_int_equal(db_pool_run(one, 1000, open_txn, &calls, &ei), ERR_UNAVAILABLE);
    assert_int_equal(calls, 0);
    assert_int_equal(db_pool_in_use(one), 0);
    db_pool_destroy(one);
}

static void test_notify_wakes_other_process(void **state)
{
    struct fx *f = *state;
    struct err_info ei;
    struct queue *other = NULL;
    assert_int_equal(queue_create(f->db.pool,
                                  &(struct queue_config){.kinds = qt_kinds, .nkinds = QT_NKINDS},
                                  &other, &ei),
                     ERR_OK);
    assert_int_equal(queue_listen(other, &ei), ERR_OK);
    /* the listener signals once when it (re)connects: consume that, then wait for the NOTIFY */
    int64_t until = clock_mono_ns() + 20000000000LL;
    bool listening = false;
    while (!listening && clock_mono_ns() < until) {
        listening = queue_wait(other, 100);
    }
    assert_true(listening);
    assert_false(queue_wait(other, 300)); /* nothing happened: no wake-up */
    json_decref(enq(f->q, "{\"kind\":\"noop\"}", NULL));
    bool woken = false;
    until = clock_mono_ns() + 20000000000LL;
    while (!woken && clock_mono_ns() < until) {
        woken = queue_wait(other, 200); /* only a NOTIFY can wake this handle */
    }
    assert_true(woken);
    queue_destroy(other);
}

int main(void)
{
    qt_require_pg();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_migrators),
        cmocka_unit_test_setup_teardown(test_enqueue_defaults_and_validation, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_claim_order, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_skip_locked_concurrency, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_retry_backoff_to_failed, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_cancel, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_rescue_dead_not_live, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_idempotency, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_enqueue_text, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_pagination_and_filters, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_children, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_prune, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_counts, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_txn_retry_and_sqlstates, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_pool_exec_and_run, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_notify_wakes_other_process, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
