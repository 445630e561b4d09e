/* queue.h - the PostgreSQL job queue: enqueue (batch, idempotent), get, list (keyset cursor),
 * events, cancel, retry, stats; and the worker side: batch claim with FOR UPDATE SKIP LOCKED,
 * batched completion, per-process heartbeat, rescue of dead processes' jobs, release on drain,
 * retention pruning. Jobs are returned as jansson objects in the API shape (DESIGN.md):
 *   {"id","kind","state","queue","priority","params","attempts","max_attempts","run_at",
 *    "created_at","started_at","finished_at","error":{"code","message"}|null,"result",
 *    "progress":{"step","index","nsteps","detail","attempt","updated_at"}|null,
 *    "parent_id","children":{"total","queued","running","retrying","succeeded","failed",
 *    "cancelled"}}  (+ "cancel_requested": true while a running job is being cancelled).
 * Timestamps are RFC 3339 UTC strings ("2026-11-21T21:22:28.123456Z") or null.
 * Thread-safe: one struct queue serves every thread of a process. SPDX-License-Identifier:
 * Apache-2.0 */
#ifndef OBSFLOW_QUEUE_QUEUE_H
#define OBSFLOW_QUEUE_QUEUE_H

#include "core/buf.h"
#include "core/compiler.h"
#include "core/err.h"
#include "db/db.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QUEUE_ID_LEN               36   /* canonical UUID text, without terminator */
#define QUEUE_BATCH_MAX            1000 /* most jobs one queue_enqueue accepts */
#define QUEUE_CLAIM_MAX            1000 /* most jobs one queue_claim hands out */
#define QUEUE_LIST_MAX             500  /* largest page of queue_list */
#define QUEUE_LIST_DEFAULT         50   /* page size when the caller passes 0 */
#define QUEUE_EVENTS_MAX           1000 /* most events queue_events returns */
#define QUEUE_NAME_MAX             64   /* queue name: 1..64 of [A-Za-z0-9_.-] */
#define QUEUE_KIND_MAX             32
#define QUEUE_PARAMS_MAX           65536 /* params of one job, compact JSON bytes */
#define QUEUE_IDEM_KEY_MAX         255   /* Idempotency-Key length */
#define QUEUE_ATTEMPTS_MAX         100   /* max_attempts 1..100 (default 5) */
#define QUEUE_PRIORITY_DEFAULT     5     /* 0 runs first, 9 last */
#define QUEUE_MAX_ATTEMPTS_DEFAULT 5
#define QUEUE_ERR_MSG_MAX          1024 /* stored error message, truncated beyond */

#define QUEUE_DEFAULT_QUEUE        "default"
#define QUEUE_CLAIM_QUEUES_MAX     32 /* most queues one queue_complete_and_claim_queues names */
#define QUEUE_KINDS_MAX            32 /* job kinds of one deployment */
#define QUEUE_RFC3339_MAX          40 /* bytes of an RFC 3339 date-time the queue reads */
#define QUEUE_RFC3339_FRAC_MAX     9  /* digits of its fraction of a second (rounded to us) */

/**
 * A job params validator: ERR_OK, or ERR_INVALID naming the field "<pfx>params.<name>".
 * @p params is the spec's params object, or NULL when the spec has none. @p ctx is the kind's.
 */
typedef enum err (*queue_params_fn)(const json_t *params,
                                    const char *pfx,
                                    const void *ctx,
                                    struct err_info *ei);

/** One job kind a deployment runs, as the queue sees it (its row in service/kinds.c, which
 * also names the worker's handler). */
struct queue_kind {
    const char *name;       /* 1..QUEUE_KIND_MAX of [a-z0-9_-] */
    const char *queue;      /* queue of its jobs whose spec names none (NULL: "default") */
    queue_params_fn params; /* the params validator the worker runs too (NULL: any object) */
    const void *ctx;        /* argument of params and queue_of (borrowed) */
    /* the queue valid params ask for when the spec names none (a profile's queue), or NULL
     * for @c queue; NULL function: always @c queue */
    const char *(*queue_of)(const json_t *params, const void *ctx);
};

/** The kinds a queue created without any accepts: noop alone, params unchecked. */
extern const struct queue_kind queue_kind_noop;

/** True if @p s is a valid queue name: 1..QUEUE_NAME_MAX of [A-Za-z0-9_.-]. */
bool queue_name_valid(const char *s);

struct queue; /* opaque: this process's handle on the queue */

/** Tunables; zero fields take the defaults named. */
struct queue_config {
    const char *process_name; /* shown in locked_by/events (pod or host name); default hostname */
    int lease_s;              /* a process whose heartbeat is older than this is dead (15) */
    int backoff_base_ms;      /* retry delay = base * 2^(attempt-1), +-25% jitter (1000) */
    int backoff_cap_ms;       /* ... capped at this (600000 = 10 min) */
    int retention_s;          /* succeeded/cancelled jobs are pruned after this (86400) */
    int retention_failed_s;   /* failed jobs are pruned after this (604800) */
    /* The job kinds of the deployment (borrowed; must outlive the queue): enqueue refuses any
     * other kind (ERR_INVALID, field "kind"), checks each job's params with its kind's
     * validator and puts a job naming no queue on its kind's. nkinds 0: queue_kind_noop. */
    const struct queue_kind *kinds;
    int nkinds; /* 0..QUEUE_KINDS_MAX, names distinct */
};

/**
 * Create the handle. Generates this process's boot UUID (so a restarted pod with the same name
 * is a new process). Does not touch the database (PostgreSQL may be down at start).
 * @param[in] pool borrowed; must outlive the queue. @param[in] cfg borrowed, may be NULL.
 * @param[out] out owned (queue_destroy).
 * @return ERR_OK; ERR_INVALID for a bad kinds table (name, count, duplicate); ERR_NOMEM.
 */
NODISCARD enum err queue_create(struct db_pool *pool,
                                const struct queue_config *cfg,
                                struct queue **out,
                                struct err_info *ei);
/** Free the handle (NULL is a no-op). Does not unregister the process: see queue_unregister. */
void queue_destroy(struct queue *q);
/** This process's identity "<name>/<boot-uuid>" (borrowed). */
const char *queue_process_id(const struct queue *q);

/* ---- API side (handlers) ------------------------------------------------------------------- */

/**
 * Validate and insert jobs, all or nothing, in one transaction.
 * @param[in] specs   borrowed: one job object or an array of 1..QUEUE_BATCH_MAX of them.
 *                    Fields: "kind" (required, one of the queue's kinds), "params" (object,
 *                    default {}; checked by the kind's validator), "queue" (default: the
 *                    kind's), "priority" (integer 0..9, default 5), "max_attempts" (integer
 *                    1..100, default 5), "run_at" (RFC 3339 as queue_rfc3339_parse reads it,
 *                    stored as the UTC instant; default now), "parent_id" (UUID of an existing job). Other fields are refused.
 * @param[in] idem_key Idempotency-Key or NULL. The key remembers the request (hash of the
 *                    canonical JSON of @p specs) and the jobs it created, for the retention
 *                    period of finished jobs.
 * @param[out] out    owned: a JSON array of the jobs in the order given (even for one object).
 * @param[out] replayed set true when @p idem_key matched an earlier identical request and the
 *                    original jobs were returned instead of inserting (may be NULL).
 * @return ERR_OK;
 *   ERR_INVALID with ei->field ("kind", "[3].priority", "parent_id", ...) for a bad spec
 *     (-> 422), and with ei->field "Idempotency-Key" when the key was used before with a
 *     different body (-> 422; distinguish by the field);
 *   ERR_PARSE when @p specs is neither object nor array, or the array is empty (-> 400);
 *   ERR_TOO_LARGE beyond QUEUE_BATCH_MAX or QUEUE_PARAMS_MAX (-> 413);
 *   ERR_UNAVAILABLE / ERR_TIMEOUT / ERR_DB (-> 503/504/500).
 * Wakes this process's workers and (debounced) the others through NOTIFY.
 */
NODISCARD enum err queue_enqueue(struct queue *q,
                                 const json_t *specs,
                                 const char *idem_key,
                                 json_t **out,
                                 bool *replayed,
                                 struct err_info *ei);

/**
 * queue_enqueue with the answer as compact JSON text appended to @p out (no JSON objects built
 * for the new jobs): the job object when @p specs is an object, else the array of the jobs,
 * members as queue_enqueue's. @param[out] first_id the first job's id; @p njobs (optional) how
 * many. @return as queue_enqueue; ERR_INTERNAL when the text would exceed @p out's cap.
 */
NODISCARD enum err queue_enqueue_text(struct queue *q,
                                      const json_t *specs,
                                      const char *idem_key,
                                      struct buf *out,
                                      char first_id[QUEUE_ID_LEN + 1],
                                      size_t *njobs,
                                      bool *replayed,
                                      struct err_info *ei);

/**
 * queue_enqueue inside the caller's transaction: @p conn is the connection a db_txn_run body
 * was given, and the jobs commit with the caller's other writes or not at all (a collection
 * run records its fan-out and its children in one transaction). The same checks and rows as
 * queue_enqueue; no idempotency key; the wake-up NOTIFY is sent at commit.
 * @param[out] ids owned: a JSON array of the new jobs' ids, in the order of @p specs.
 * @return as queue_enqueue; ERR_DB_RETRY etc. from the statement (the caller's transaction
 *         retries).
 */
NODISCARD enum err queue_enqueue_conn(struct queue *q,
                                      struct db_conn *conn,
                                      const json_t *specs,
                                      json_t **ids,
                                      struct err_info *ei);

/**
 * The checks queue_enqueue makes on @p specs before any statement, against @p nkinds @p kinds
 * (a deployment's table), without a queue or a database: for tests and tools.
 * @return as queue_enqueue's refusals (ERR_INVALID/ERR_PARSE/ERR_TOO_LARGE naming the field).
 */
NODISCARD enum err queue_specs_validate(const struct queue_kind *kinds,
                                        int nkinds,
                                        const json_t *specs,
                                        struct err_info *ei);

/**
 * Fetch one job.
 * @param[in] id text UUID (any case). @param[out] out owned job object.
 * @return ERR_OK; ERR_PARSE (field "id") when @p id is not a UUID (-> 400); ERR_NOT_FOUND.
 */
NODISCARD enum err queue_get(struct queue *q, const char *id, json_t **out, struct err_info *ei);

/** Filters of queue_list; NULL/0 fields do not filter. All borrowed. */
struct queue_filter {
    const char *state;     /* one of the six states, else ERR_INVALID (field "state") */
    const char *kind;      /* exact kind */
    const char *queue;     /* exact queue name */
    const char *parent_id; /* UUID, else ERR_PARSE (field "parent") */
    const char *cursor;    /* opaque, from a previous page's "next_cursor"; bad -> ERR_PARSE
                              (field "cursor") */
    int limit;             /* 1..QUEUE_LIST_MAX; 0 = QUEUE_LIST_DEFAULT; else ERR_INVALID
                              (field "limit") */
};

/**
 * One page of jobs, newest first (keyset over the time-ordered job id, no OFFSET).
 * @param[out] out owned: {"items":[job...],"next_cursor":"..." | null}.
 */
NODISCARD enum err
queue_list(struct queue *q, const struct queue_filter *f, json_t **out, struct err_info *ei);

/**
 * Every state change of a job, oldest first: {"items":[{"seq","at","state","attempt",
 * "message"}...]} (at most QUEUE_EVENTS_MAX, the newest ones if more).
 * @return ERR_OK; ERR_PARSE bad UUID; ERR_NOT_FOUND.
 */
NODISCARD enum err queue_events(struct queue *q, const char *id, json_t **out, struct err_info *ei);

/**
 * Cancel: a queued/retrying job becomes `cancelled` at once; a running job gets a cancellation
 * request its worker sees within a heartbeat (it stays `running` with "cancel_requested": true
 * until the worker stops it). A job already cancelled is returned unchanged. The jobs it fanned
 * out (parent_id, at any depth: a collection run's children) are cancelled with it the same
 * way, in the same transaction.
 * @param[out] out owned job object after the change.
 * @return ERR_OK; ERR_PARSE; ERR_NOT_FOUND; ERR_CONFLICT when the job already succeeded or
 *         failed (-> 409).
 */
NODISCARD enum err queue_cancel(struct queue *q, const char *id, json_t **out, struct err_info *ei);

/**
 * Retry a failed or cancelled job: back to `queued` now, attempts reset to 0, error and
 * progress cleared.
 * @return ERR_OK; ERR_PARSE; ERR_NOT_FOUND; ERR_CONFLICT for any other state (-> 409).
 */
NODISCARD enum err queue_retry(struct queue *q, const char *id, json_t **out, struct err_info *ei);

/** Figures for /metrics. Database figures are read fresh; totals count this process only. */
struct queue_stats {
    int64_t jobs_by_state[6];   /* indexed like queue_state_names */
    double oldest_queued_age_s; /* age of the oldest runnable queued/retrying job, 0 if none */
    uint64_t enqueued_total;    /* jobs inserted by this process */
    uint64_t claimed_total;     /* jobs claimed by this process */
    uint64_t succeeded_total;
    uint64_t failed_total;  /* attempts that ended in `failed` (final) */
    uint64_t retried_total; /* attempts that ended in `retrying` */
    uint64_t cancelled_total;
    uint64_t rescued_total; /* jobs of dead processes requeued by this process */
};
/** State names in the order of queue_stats.jobs_by_state. */
extern const char *const queue_state_names[6];

/** Fill @p out. The counts by state come from the counters the jobs triggers keep (migration
 * 0010), not from counting the table: a few rows read whatever the history's size.
 * @return ERR_OK, ERR_UNAVAILABLE, ERR_TIMEOUT, ERR_DB. */
NODISCARD enum err queue_stats(struct queue *q, struct queue_stats *out, struct err_info *ei);
/** Fill only the process-local *_total counters of @p out (no database access; other fields
 * untouched). Lock-free. */
void queue_stats_local(const struct queue *q, struct queue_stats *out);

/* ---- worker side (workers/) ---------------------------------------------------------------- */

/** A job handed to this process by queue_claim. */
struct queue_claimed {
    char id[QUEUE_ID_LEN + 1];
    char kind[QUEUE_KIND_MAX + 1];
    char queue[QUEUE_NAME_MAX + 1];
    int attempt; /* 1-based number of this attempt (already counted) */
    int max_attempts;
    json_t *params;                   /* owned by the holder: json_decref when done */
    char parent_id[QUEUE_ID_LEN + 1]; /* "" when none */
    int priority;                     /* 0..9 */
    int64_t run_at_us;                /* run_at, microseconds since the epoch */
};

/**
 * Claim up to @p max runnable jobs (state queued/retrying, run_at <= now) in priority, then
 * run_at, then id order, marking them running by this process, in one short transaction
 * (FOR UPDATE SKIP LOCKED: concurrent claimers never get the same job). A @p max of 100 or more
 * is rounded down to 100, 200, 500 or 1000 (statements with a literal limit are planned once).
 * @param[out] out array of @p max entries; @p n gets how many were filled. The caller owns
 *                 each entry's params.
 */
NODISCARD enum err
queue_claim(struct queue *q, int max, struct queue_claimed *out, int *n, struct err_info *ei);

enum queue_outcome {
    QUEUE_SUCCEEDED = 0, /* result stored, state succeeded */
    QUEUE_FAILED,        /* retrying with backoff, or failed after max_attempts */
    QUEUE_FAILED_FINAL,  /* failed now, whatever attempts remain (bad params) */
    QUEUE_CANCELLED,     /* the worker stopped because cancellation was requested */
    QUEUE_RELEASED,      /* not run to the end (drain): back to queued, attempt not charged */
    QUEUE_SNOOZED,       /* waits for something else (a collection's children): back to queued
                            after snooze_ms, attempt not charged, no event written */
};

/** The end of one attempt, for queue_complete. Pointers are borrowed. */
struct queue_completion {
    const char *id;
    int attempt; /* the attempt this completes (guards against stale writes) */
    enum queue_outcome outcome;
    const json_t *result;      /* QUEUE_SUCCEEDED: result JSON or NULL */
    const char *error_code;    /* failures: stable lower-case code (err_code()), or NULL */
    const char *error_message; /* failures: message, or NULL */
    int64_t snooze_ms;         /* QUEUE_SNOOZED: run again after this long */
};

/**
 * Write many completions in one statement. Only jobs still running by this process at the
 * given attempt change (a job rescued or cancelled meanwhile is left alone). A job whose
 * cancellation was requested ends `cancelled` unless it succeeded. Writes one event per job.
 * On ERR_UNAVAILABLE nothing was written: keep the completions and try again later (the jobs
 * stay running under this process's lease until then).
 */
NODISCARD enum err
queue_complete(struct queue *q, const struct queue_completion *c, int n, struct err_info *ei);

/**
 * queue_complete and queue_claim in one statement and one round trip (the hot path of a busy
 * worker pool: "complete the last batch, claim the next"), with the same guarantees as the two
 * calls. On ERR_UNAVAILABLE the outcome is unknown: keep the completions and write them again
 * (they are idempotent); jobs claimed by a statement whose answer was lost are requeued later by
 * queue_requeue_orphans.
 */
NODISCARD enum err queue_complete_and_claim(struct queue *q,
                                            const struct queue_completion *c,
                                            int nc,
                                            int max,
                                            struct queue_claimed *out,
                                            int *n,
                                            struct err_info *ei);

/** One queue's share of a claim: at most @p max jobs of @p queue (borrowed). */
struct queue_claim_limit {
    const char *queue;
    int max; /* 0 = none of this queue now */
};

/**
 * queue_complete_and_claim restricted to the named queues, each with its own limit, in one
 * statement (a LATERAL per queue: FOR UPDATE SKIP LOCKED, priority/run_at/id order within each
 * queue). Jobs of other queues are never claimed. @p limits has @p nlimits (<=
 * QUEUE_CLAIM_QUEUES_MAX) entries; the sum of their max (<= QUEUE_CLAIM_MAX) is the room of
 * @p out. With every max 0 it only completes. @return as queue_complete_and_claim; ERR_INVALID
 * for a bad name or too many queues or jobs.
 */
NODISCARD enum err queue_complete_and_claim_queues(struct queue *q,
                                                   const struct queue_completion *c,
                                                   int nc,
                                                   const struct queue_claim_limit *limits,
                                                   int nlimits,
                                                   struct queue_claimed *out,
                                                   int *n,
                                                   struct err_info *ei);

/**
 * Register or refresh this process's heartbeat row (UNLOGGED table queue_processes) and report
 * which of its running jobs have a cancellation request.
 * @param[out] cancel_ids array of @p cap ids; @p ncancel gets how many were filled (both may be
 *                        NULL/0).
 */
NODISCARD enum err queue_heartbeat(struct queue *q,
                                   char (*cancel_ids)[QUEUE_ID_LEN + 1],
                                   int cap,
                                   int *ncancel,
                                   struct err_info *ei);

/**
 * Requeue the running jobs of processes whose heartbeat is older than the lease (or whose row
 * is gone), charging the attempt (a job out of attempts becomes failed); guarded so a job
 * completed meanwhile is never touched. Any process may run it; concurrent runs are safe.
 * @param[out] rescued number of jobs requeued or failed (may be NULL).
 */
NODISCARD enum err queue_rescue(struct queue *q, int *rescued, struct err_info *ei);

/**
 * Delete finished jobs (and their events, idempotency keys) older than the retention, at most
 * @p batch per call (oldest first), then fold the job counters' deltas (migration 0010) so
 * they stay few when queue_stats is not called. @param[out] deleted may be NULL.
 */
NODISCARD enum err queue_prune(struct queue *q, int batch, int *deleted, struct err_info *ei);

/**
 * Requeue this process's running jobs that it no longer tracks (their claim's answer was lost
 * with the connection): running, locked by this process, started more than @p min_age_s ago
 * and not among @p known (the jobs the process holds: buffered, running, awaiting completion
 * write). The attempt is charged, as for a rescue.
 * @param[in] known array of @p nknown ids (borrowed). @param[out] requeued may be NULL.
 */
NODISCARD enum err queue_requeue_orphans(struct queue *q,
                                         const char (*known)[QUEUE_ID_LEN + 1],
                                         int nknown,
                                         int min_age_s,
                                         int *requeued,
                                         struct err_info *ei);

#define QUEUE_STEP_MAX   64  /* bytes of a progress step name kept */
#define QUEUE_DETAIL_MAX 256 /* bytes of a progress detail kept */
#define QUEUE_PROGRESS_ACQUIRE_MS 100 /* longest queue_progress waits for a pooled connection */

/** Where a running job is (queue_progress). Strings borrowed; longer ones are cut (UTF-8 safe). */
struct queue_progress {
    const char *step;   /* the step running now (NULL: the steps are over) */
    int index;          /* its 1-based index, 0 when unknown */
    int nsteps;         /* how many steps in all, 0 when unknown */
    const char *detail; /* what it does now (file, imset, chunk), or NULL */
    /* a step event too (a new step began, or the steps are over): the step that ended, with
     * its duration as the worker measured it */
    bool event;
    const char *prev_step; /* NULL: none ended (the first step) */
    int64_t prev_ms;
};

/**
 * Record the progress of this process's running attempt @p attempt of job @p id: jobs.progress
 * = {"step","index","nsteps","detail","attempt","updated_at"} (shown by queue_get/queue_list);
 * with @p p->event, also a job event (state running, message "step 3/8: calibrate", member
 * "step": {"name","index","nsteps","previous":{"name","duration_ms"}}). Nothing changes when
 * the job is no longer running this attempt here. One statement, not retried, on a pooled
 * connection waited for at most QUEUE_PROGRESS_ACQUIRE_MS (a busy pool drops the report rather
 * than hold the job up); the caller throttles.
 * @return ERR_OK; ERR_UNAVAILABLE/ERR_TIMEOUT/ERR_DB (progress is advisory: callers log them).
 */
NODISCARD enum err queue_progress(struct queue *q,
                                  const char *id,
                                  int attempt,
                                  const struct queue_progress *p,
                                  struct err_info *ei);

/** The progress object and, with @p p->event, the step event's message and "step" member as
 * queue_progress writes them (@p event_step, @p message may be NULL when not wanted).
 * @return false when out of memory (nothing returned). Pure; for queue_progress and tests. */
bool queue_progress_json(const struct queue_progress *p,
                         int attempt,
                         json_t **progress,
                         json_t **event_step,
                         char *message,
                         size_t message_cap);

/** Remove this process's heartbeat row at clean shutdown (after releasing its jobs). */
NODISCARD enum err queue_unregister(struct queue *q, struct err_info *ei);

/**
 * Wait until there may be work: woken by queue_wake (this process's enqueues), by a NOTIFY from
 * another process (if queue_listen was called) or after @p timeout_ms (polling fallback).
 * @return true when woken, false on timeout.
 */
bool queue_wait(struct queue *q, int timeout_ms);
/** Wake this process's waiters (called by queue_enqueue; also usable for shutdown). */
void queue_wake(struct queue *q);

/**
 * Start LISTEN on the queue's channel so other processes' enqueues wake queue_wait (a hint
 * only; polling remains). Idempotent. @return ERR_OK or ERR_INTERNAL.
 */
NODISCARD enum err queue_listen(struct queue *q, struct err_info *ei);

/* ---- pure helpers (unit-tested) ------------------------------------------------------------ */

/** Retry delay in ms after attempt @p attempt (1-based) failed: base*2^(attempt-1), capped,
 * then scaled by a jitter factor in [0.75, 1.25] taken from @p rnd01 in [0, 1). */
int64_t queue_backoff_ms(int attempt, int base_ms, int cap_ms, double rnd01);

/**
 * Read an RFC 3339 date-time (section 5.6) into microseconds since the epoch: the one reader of
 * job times (POST /v1/jobs and lib/queue). "YYYY-MM-DD" then "T", "t" or one space (RFC 3339's
 * note allows a space for readability, and PostgreSQL reads it) then "HH:MM:SS", an optional
 * fraction of 1..QUEUE_RFC3339_FRAC_MAX digits (rounded to the microsecond, as PostgreSQL
 * does), then "Z", "z" or a numeric offset "+HH:MM"/"-HH:MM" of 00:00..23:59 (RFC 3339's
 * range; PostgreSQL refuses offsets past 15:59, so the queue hands it the UTC instant, never
 * the offset). The day must exist in its month (leap years counted); second 60 (a leap
 * second) is read as the first second of the next minute, as PostgreSQL does. The instant must
 * fall in the years 0001..9999 UTC. At most QUEUE_RFC3339_MAX bytes.
 * @param[out] epoch_us may be NULL (validate only). @return true when @p s is such a time.
 */
bool queue_rfc3339_parse(const char *s, int64_t *epoch_us);

/** Format @p epoch_us as "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC) into @p out (>= 28 bytes). */
void queue_rfc3339_format(int64_t epoch_us, char *out, size_t cap);

/** True if @p s is a UUID in canonical 8-4-4-4-12 hex form (any case). */
bool queue_is_uuid(const char *s);

/** Encode the keyset position (a job UUID) as an opaque cursor into @p out (>= 32 bytes). */
void queue_cursor_encode(const char *id, char *out, size_t cap);
/** Decode a cursor into a canonical lower-case UUID in @p id (>= 37 bytes).
 * @return ERR_OK or ERR_PARSE. */
NODISCARD enum err queue_cursor_decode(const char *cursor, char *id, size_t cap);

#endif
