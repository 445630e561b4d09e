/* queue_int.h - internals shared by the files of lib/queue.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_QUEUE_QUEUE_INT_H
#define OBSFLOW_QUEUE_QUEUE_INT_H

#include "queue/queue.h"

#include <pthread.h>
#include <stdatomic.h>

#define QUEUE_CHANNEL            "obsflow_jobs" /* NOTIFY channel of the wake-up hint */
#define QUEUE_NOTIFY_DEBOUNCE_NS 50000000LL     /* at most one NOTIFY per 50 ms per process */
#define QUEUE_PROC_NAME_MAX      128

struct queue {
    struct db_pool *pool;                                 /* borrowed */
    struct queue_config cfg;                              /* defaults filled in */
    char boot_id[QUEUE_ID_LEN + 1];                       /* this process incarnation */
    char name[QUEUE_PROC_NAME_MAX];                       /* host or pod name */
    char proc_id[QUEUE_PROC_NAME_MAX + QUEUE_ID_LEN + 2]; /* "<name>/<boot_id>" */
    pthread_mutex_t mu;                                   /* guards wake_pending, listener */
    pthread_cond_t cv;                                    /* queue_wait */
    bool wake_pending;
    struct db_listener *listener;   /* NULL until queue_listen */
    _Atomic int64_t last_notify_ns; /* debounce of pg_notify */
    _Atomic uint64_t enqueued, claimed, succeeded, failed, retried, cancelled, rescued;
};

/* SQL column list that queue__job_from_row() decodes (table alias j, lateral children ch). */
#define QUEUE_TS(x) "to_char(" x " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
#define QUEUE_JOB_COLS                                                                             \
    "j.id, j.kind, j.state, j.queue, j.priority, j.params::text, j.attempts, "                     \
    "j.max_attempts, " QUEUE_TS("j.run_at") ", " QUEUE_TS("j.created_at") ", " QUEUE_TS(           \
        "j.started_at") ", " QUEUE_TS("j.finished_at") ", j.error_code, j.error_message, "         \
                                                       "j.result::text, j.parent_id, "             \
                                                       "j.cancel_requested, j.progress::text"
#define QUEUE_JOB_NCOLS 18
#define QUEUE_CHILDREN_COLS                                                                        \
    ", ch.total, ch.queued, ch.running, ch.retrying, ch.succeeded, ch.failed, ch.cancelled"
#define QUEUE_CHILDREN_JOIN                                                                        \
    " LEFT JOIN LATERAL (SELECT count(*) AS total,"                                                \
    " count(*) FILTER (WHERE c.state = 'queued') AS queued,"                                       \
    " count(*) FILTER (WHERE c.state = 'running') AS running,"                                     \
    " count(*) FILTER (WHERE c.state = 'retrying') AS retrying,"                                   \
    " count(*) FILTER (WHERE c.state = 'succeeded') AS succeeded,"                                 \
    " count(*) FILTER (WHERE c.state = 'failed') AS failed,"                                       \
    " count(*) FILTER (WHERE c.state = 'cancelled') AS cancelled"                                  \
    " FROM jobs c WHERE c.parent_id = j.id) ch ON true"

#define QUEUE_JOB_VALUES (QUEUE_JOB_NCOLS + 7) /* with QUEUE_CHILDREN_COLS */

/** The job object of one row's column values @p v (text as PostgreSQL sends it, NULL for SQL
 * NULL; the children's counts only read when @p with_children); NULL on allocation failure,
 * never a job missing a member. */
json_t *queue__job_from_values(const char *const v[QUEUE_JOB_VALUES], bool with_children);

/** Decode row @p row of @p res (QUEUE_JOB_COLS, then optionally QUEUE_CHILDREN_COLS when
 * @p with_children) into a new job object; NULL on allocation failure. */
json_t *queue__job_from_row(const struct db_res *res, int row, bool with_children);

/** Set member @p k of @p o to @p v (stolen, also on failure). @return false when @p v is NULL
 * (its allocation failed) or the set fails: builders collect these and answer NULL / ERR_NOMEM
 * rather than a half-built object. */
bool queue__set(json_t *o, const char *k, json_t *v);

/* The CTEs that fold job_count_deltas into job_counts (migration 0010): the deltas this
 * statement deletes, summed per state, added to their rows. Deleted rows are skipped by a
 * concurrent fold, so each delta is added once. Follow with the statement's own query. */
#define QUEUE_SQL_COUNTS_FOLD                                                                    \
    "fold_d AS (DELETE FROM job_count_deltas RETURNING state, n),"                              \
    " fold_s AS (SELECT state, sum(n) AS n FROM fold_d GROUP BY state),"                        \
    " fold_u AS (UPDATE job_counts c SET n = c.n + fold_s.n FROM fold_s"                        \
    "  WHERE c.state = fold_s.state RETURNING c.state)"

/** Run one statement in autocommit on a pooled connection, retrying 40001/40P01 and a lost
 * connection a few times. */
NODISCARD enum err queue__exec1(struct queue *q,
                                const char *name,
                                const char *sql,
                                int nparams,
                                const char *const *params,
                                struct db_res **out,
                                struct err_info *ei);

/** Parse a non-negative integer column (0 on NULL or junk). */
int64_t queue__i64(const struct db_res *res, int row, int col);

/** New time-ordered UUID (version 7 layout), strictly increasing within the process. */
void queue__uuid7(char out[QUEUE_ID_LEN + 1]);

/** Validate enqueue specs (an object or an array of them) against the @p nkinds @p kinds into
 * normalized rows with fresh ids (owned JSON array in @p rows_out). Pure: no database. Errors
 * as queue_enqueue documents. */
NODISCARD enum err queue__specs_check(const struct queue_kind *kinds,
                                      int nkinds,
                                      const json_t *specs,
                                      json_t **rows_out,
                                      struct err_info *ei);

/** Whether the JSON text @p json (jansson's output) holds an escaped NUL (\u0000), which jsonb
 * refuses. Escapes are read in pairs, so an escaped backslash before "u0000" is not one. */
bool queue__json_has_nul(const char *json);

/** Uniform double in [0, 1) from a per-thread generator. */
double queue__rnd01(void);

#endif
