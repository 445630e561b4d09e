/* test_workers_alloc_fail.c - allocation-failure injection over the parts of the worker pool
 * that need no PostgreSQL (issue 9 item 7): the database pool and queue handles (neither
 * connects at create), workers_pool_create with and without per-queue limits, workers_register
 * and destroying a pool that never started. malloc, calloc and realloc are wrapped at link time
 * (tests/support/alloc_fail.c) and jansson is pointed at the wrapped malloc; the n-th
 * allocation fails, for every n until the sequence runs through. Each run must end in ERR_NOMEM
 * with nothing handed back, or in a complete pool, never in a crash, another error or (under
 * ASan/valgrind) a leak. Running jobs (claims, results, completions) needs the database: that
 * is test_workers_pg's.
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

#include "db/db.h"
#include "queue/queue.h"
#include "support/alloc_fail.h"
#include "workers.h"

#define RUNS_MAX 100000L /* bound on injection points per operation */

/* jansson's allocations through the wrapped malloc (this file is linked with --wrap) */
static void *json_malloc(size_t n)
{
    return malloc(n);
}

static void json_free(void *p)
{
    free(p);
}

static enum err handler(struct workers_job *job, void *arg, struct err_info *ei)
{
    (void)job;
    (void)arg;
    (void)ei;
    return ERR_OK;
}

/* Everything a process sets up before it starts its pool; ERR_OK or the first error. */
static enum err set_up(const struct workers_config *cfg, struct db_pool **db, struct queue **q,
                       struct workers_pool **p, struct err_info *ei)
{
    *db = NULL;
    *q = NULL;
    *p = NULL;
    struct queue_config qc = {.process_name = "alloc-fail"};
    enum err e;
    /* port 1 of loopback: nothing is ever connected to */
    if ((e = db_pool_create("host=127.0.0.1 port=1 dbname=none connect_timeout=1", 4, db, ei)) !=
            ERR_OK ||
        (e = queue_create(*db, &qc, q, ei)) != ERR_OK ||
        (e = workers_pool_create(*q, cfg, p, ei)) != ERR_OK ||
        (e = workers_register(*p, "dataset", handler, NULL, ei)) != ERR_OK ||
        (e = workers_register(*p, "ingest", handler, NULL, ei)) != ERR_OK) {
        return e;
    }
    return ERR_OK;
}

static void tear_down(struct db_pool *db, struct queue *q, struct workers_pool *p)
{
    workers_pool_destroy(p);
    queue_destroy(q);
    db_pool_destroy(db);
}

static void torture(const struct workers_config *cfg, int want_threads, int want_queues,
                    const char *what)
{
    long n;
    int nomem = 0;
    for (n = 0; n < RUNS_MAX; n++) {
        struct db_pool *db;
        struct queue *q;
        struct workers_pool *p;
        struct err_info ei;
        err_info_clear(&ei);
        alloc_fail_nth(n);
        enum err e = set_up(cfg, &db, &q, &p, &ei);
        bool fired = alloc_fail_refused() > 0;
        alloc_fail_nth(-1);
        if (e == ERR_NOMEM) {
            assert_true(fired);
            nomem++;
        } else {
            if (e != ERR_OK) {
                fail_msg("%s: allocation %ld failed: %s (%s)", what, n, err_str(e), ei.msg);
            }
            assert_int_equal(workers_pool_threads(p), want_threads);
            assert_int_equal(workers_pool_queues(p), want_queues);
            assert_int_equal(workers_pool_busy(p), 0);
            assert_true(workers_pool_alive(p));
            for (int i = 0; i < want_queues; i++) {
                int threads = 0, busy = -1;
                assert_string_equal(workers_pool_queue(p, i, &threads, &busy),
                                    cfg->queues[i].name);
                assert_int_equal(threads, cfg->queues[i].threads);
                assert_int_equal(busy, 0);
            }
        }
        /* what set_up got before failing is the caller's, as in the daemon */
        tear_down(db, q, p);
        if (!fired) {
            break;
        }
    }
    assert_true(n > 3 && n < RUNS_MAX);
    assert_true(nomem > 0);
    fprintf(stderr, "%s: %ld injection points, %d ERR_NOMEM\n", what, n, nomem);
}

static void test_pool_any_queue(void **state)
{
    (void)state;
    struct workers_config cfg = {.threads = 3, .claim_batch = 8};
    torture(&cfg, 3, 0, "pool of 3 threads");
}

static void test_pool_named_queues(void **state)
{
    (void)state;
    static const struct workers_queue_limit lim[] = {{"calib", 2}, {"ingest", 1}, {"bulk.x", 3}};
    struct workers_config cfg = {.queues = lim, .nqueues = 3};
    torture(&cfg, 6, 3, "pool of 3 named queues");
}

int main(void)
{
    json_set_alloc_funcs(json_malloc, json_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_any_queue),
        cmocka_unit_test(test_pool_named_queues),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
