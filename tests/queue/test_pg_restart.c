/* test_pg_restart.c - PostgreSQL restarted under a running worker pool: the pool reconnects by
 * itself and no job is lost (every job ends succeeded exactly once). Starts its own private
 * cluster with tools/pg_up.sh (so restarting it disturbs no other test).
 * SPDX-License-Identifier: Apache-2.0 */
#include "db/db.h"
#include "queue/queue.h"
#include "workers.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs stdarg.h, stddef.h and setjmp.h first */
#include <cmocka.h>

#define JOBS 400

static char g_dir[1024];
static char g_src[1024];

/* Run tools/<script> DIR [--keep]. */
static void run(const char *script, const char *keep)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s/tools/%s %s %s", g_src, script, g_dir, keep);
    int rc = system(cmd); /* test code: shell out to the project's own cluster scripts */
    if (rc != 0) {
        fail_msg("command failed (%d): %s", rc, cmd);
    }
}

static long long count(struct db_pool *p, const char *sql)
{
    for (int tries = 0; tries < 100; tries++) {
        struct db_conn *c = NULL;
        struct db_res *r = NULL;
        struct err_info ei;
        if (db_acquire(p, 5000, &c, &ei) == ERR_OK &&
            db_exec(c, NULL, sql, 0, NULL, &r, &ei) == ERR_OK) {
            int64_t v = 0;
            if (str_to_i64(db_res_get(r, 0, 0), 0, INT64_MAX, &v) != ERR_OK) {
                v = -1;
            }
            db_res_free(r);
            db_release(p, c);
            return (long long)v;
        }
        db_release(p, c);
        clock_sleep_ms(100);
    }
    fail_msg("could not count: %s", sql);
    return -1;
}

static void test_restart_under_load(void **state)
{
    (void)state;
    char conninfo[1200];
    struct db_pool *pool = NULL;
    struct queue *q = NULL;
    struct workers_pool *wp = NULL;
    struct err_info ei;
    snprintf(conninfo, sizeof conninfo, "host=%s user=postgres dbname=postgres", g_dir);
    assert_int_equal(db_pool_create(conninfo, 8, &pool, &ei), ERR_OK);
    assert_int_equal(db_migrate(pool, NULL, &ei), ERR_OK);
    struct queue_config qc = {
        .process_name = "restart", .backoff_base_ms = 10, .backoff_cap_ms = 100};
    assert_int_equal(queue_create(pool, &qc, &q, &ei), ERR_OK);
    json_t *batch = json_array();
    for (int i = 0; i < JOBS; i++) {
        json_array_append_new(
            batch, json_pack("{s:s, s:{s:i}}", "kind", "noop", "params", "sleep_ms", 20));
    }
    json_t *out = NULL;
    assert_int_equal(queue_enqueue(q, batch, NULL, &out, NULL, &ei), ERR_OK);
    json_decref(out);
    json_decref(batch);
    struct workers_config wc = {
        .threads = 4, .poll_ms = 100, .heartbeat_ms = 200, .rescue_ms = 500};
    assert_int_equal(workers_pool_create(q, &wc, &wp, &ei), ERR_OK);
    assert_int_equal(workers_pool_start(wp, &ei), ERR_OK);
    /* let some finish, then restart the server (fast shutdown kills every session) */
    int64_t until = clock_mono_ns() + 60000000000LL;
    while (count(pool, "SELECT count(*) FROM jobs WHERE state = 'succeeded'") < 50 &&
           clock_mono_ns() < until) {
        clock_sleep_ms(20);
    }
    run("pg_down.sh", "--keep");
    clock_sleep_ms(500);
    run("pg_up.sh", "--keep");
    assert_int_equal(db_ping(pool, &ei) == ERR_OK || db_ping(pool, &ei) == ERR_OK, 1);
    until = clock_mono_ns() + 120000000000LL;
    long long done = 0;
    while ((done = count(pool, "SELECT count(*) FROM jobs WHERE state = 'succeeded'")) < JOBS &&
           clock_mono_ns() < until) {
        clock_sleep_ms(50);
    }
    assert_int_equal(done, JOBS);
    /* each job succeeded exactly once */
    assert_int_equal(count(pool, "SELECT count(*) FROM job_events WHERE state = 'succeeded'"),
                     JOBS);
    assert_int_equal(
        count(pool, "SELECT count(DISTINCT job_id) FROM job_events WHERE state = 'succeeded'"),
        JOBS);
    assert_int_equal(workers_pool_drain(wp, 5), 0);
    workers_pool_destroy(wp);
    queue_destroy(q);
    db_pool_destroy(pool);
}

int main(void)
{
    const char *tmp = getenv("OBSFLOW_TEST_TMP");
    const char *src = getenv("OBSFLOW_SOURCE_DIR");
    if (tmp == NULL || src == NULL) {
        fprintf(stderr, "OBSFLOW_TEST_TMP/OBSFLOW_SOURCE_DIR not set: skipping\n");
        return 77;
    }
    log_configure(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
    snprintf(g_dir, sizeof g_dir, "%s/pg", tmp);
    snprintf(g_src, sizeof g_src, "%s", src);
    run("pg_up.sh", "");
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_restart_under_load)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    run("pg_down.sh", "");
    return rc;
}
