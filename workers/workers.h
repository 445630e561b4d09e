/* workers.h - the worker pool: OBSFLOW_WORKERS threads running jobs claimed from lib/queue,
 * a registry from job kind to handler, and the built-in diagnostic kind `noop`.
 * Fetcher threads claim jobs in batches for idle workers and carry the buffered completions
 * along in the same statement (a completer thread writes them when claiming is idle); one
 * maintenance thread heartbeats this process, relays cancellation requests, rescues dead
 * processes' jobs, requeues claims lost with a connection and prunes old jobs. No transaction
 * is open while a handler runs.
 * Database use: at most 4 pooled connections at once (2 fetchers, 1 completer, 1 maintenance),
 * whatever the number of worker threads, plus a worker thread's for about a millisecond while it
 * records its job's progress (workers_job_progress: at most every 250 ms per job unless the step
 * changes, and only when a connection is free within 100 ms); size the pool for these plus the
 * HTTP threads.
 * Thread-safe as documented per function. SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_WORKERS_WORKERS_H
#define OBSFLOW_WORKERS_WORKERS_H

#include "core/compiler.h"
#include "core/err.h"
#include "queue/queue.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define WORKERS_THREADS_MAX       256
#define WORKERS_KINDS_MAX         32
#define WORKERS_QUEUES_MAX        QUEUE_CLAIM_QUEUES_MAX /* named queues of one pool */
#define WORKERS_NOOP_SLEEP_MAX_MS 3600000
#define WORKERS_PROGRESS_MIN_MS   250 /* least time between two progress writes of one step */                /* noop's params.sleep_ms */

/** One named queue and how many of its jobs this process runs at once. */
struct workers_queue_limit {
    char name[QUEUE_NAME_MAX + 1]; /* 1..QUEUE_NAME_MAX of [A-Za-z0-9_.-] */
    int threads;                   /* 1..WORKERS_THREADS_MAX */
};

struct workers_pool; /* opaque */
struct workers_job;  /* opaque: the job a handler runs, valid during the handler call */

/**
 * A job handler. Runs on a worker thread with no transaction open. Must be idempotent (a job may
 * run again after a crash) and should check workers_job_cancelled() between steps.
 * @return ERR_OK (succeeded; set the result with workers_job_set_result), ERR_CANCELLED when it
 *         stopped for cancellation, or another error with detail in @p ei (the job is retried
 *         with backoff until max_attempts; ERR_INVALID/ERR_PARSE fail it at once: bad params
 *         will not get better).
 */
typedef enum err (*workers_handler_fn)(struct workers_job *job, void *arg, struct err_info *ei);

/** Tunables; zero fields take the defaults named. */
struct workers_config {
    int threads;      /* worker threads, 1..WORKERS_THREADS_MAX (default: online cores) */
    int claim_batch;  /* most jobs claimed per round trip (500). While jobs run long (average
                         over 20 ms) the pool claims only for idle threads, so other processes
                         get the rest; short jobs are claimed in batches of 100 that double up
                         to this while each comes back full, back to 100 after a short one */
    int poll_ms;      /* polling fallback when no wake-up arrives (1000) */
    int heartbeat_ms; /* process heartbeat and cancellation check period (1000) */
    int rescue_ms;    /* how often this process looks for dead processes' jobs (5000) */
    int prune_ms;     /* how often finished jobs past retention are pruned (60000) */
    int flush_ms;     /* longest a completion waits to be batched (5) */
    int fetchers;     /* claim round trips in flight at once, 1..2 (2 when threads and cores
                         are >= 2, else 1) */
    /* Per-queue concurrency (OBSFLOW_QUEUES). nqueues 0 (default): every thread runs jobs of
     * any queue. Otherwise the pool claims jobs of these queues only, never more of a queue
     * than its threads minus those it holds (running, claimed or being claimed), so each queue
     * runs at most its count at once whatever the others do; @p threads is ignored and the
     * pool has the sum of the counts (at most WORKERS_THREADS_MAX), and claims no batches
     * ahead. Copied at create. */
    const struct workers_queue_limit *queues;
    int nqueues; /* 0..WORKERS_QUEUES_MAX; names distinct */
};

/**
 * Create the pool (threads are not started). The `noop` kind is registered already:
 * params {"sleep_ms": 0..3600000 (default 0), "fail_times": N (default 0): fail attempts
 * 1..N with code "noop_failure"}; result {"slept_ms": n, "attempt": a}.
 * @param[in] q borrowed; must outlive the pool. @param[in] cfg borrowed, may be NULL.
 * @param[out] out owned (workers_pool_destroy).
 */
NODISCARD enum err workers_pool_create(struct queue *q,
                                       const struct workers_config *cfg,
                                       struct workers_pool **out,
                                       struct err_info *ei);

/**
 * Register the handler for @p kind (copied). Call before workers_pool_start. Re-registering a
 * kind replaces the handler. A claimed job of an unregistered kind fails at once with code
 * "unsupported".
 * @return ERR_OK; ERR_INVALID (started already, bad kind); ERR_TOO_LARGE (WORKERS_KINDS_MAX).
 */
NODISCARD enum err workers_register(struct workers_pool *p,
                                    const char *kind,
                                    workers_handler_fn fn,
                                    void *arg,
                                    struct err_info *ei);

/**
 * Start the worker, fetcher, completer and maintenance threads; registers the process
 * heartbeat (retried in the background while PostgreSQL is down) and LISTENs for wake-ups.
 * @return ERR_OK; ERR_INTERNAL when a thread cannot be created (nothing left running).
 */
NODISCARD enum err workers_pool_start(struct workers_pool *p, struct err_info *ei);

/**
 * Drain: stop claiming at once (jobs claimed but not started are released at once), let
 * running jobs finish for up to @p grace_s seconds (handlers see workers_job_cancelled() turn
 * true when the grace runs out), then release the unfinished ones back to `queued` without
 * charging the attempt, flush every buffered completion, remove the process's heartbeat row and
 * stop all threads. Blocking; call once, from the shutdown path. Safe if start was never called.
 * Threads are joined before returning, so handlers must honour workers_job_cancelled(); the
 * outcome of a handler that returns after its job was released is discarded.
 * @return number of jobs released back to the queue (>= 0).
 */
int workers_pool_drain(struct workers_pool *p, int grace_s);

/** Free the pool (drains with grace 0 first if still running); NULL is a no-op. */
void workers_pool_destroy(struct workers_pool *p);

/** Worker threads running a job right now (gauge). Lock-free, any thread. */
int workers_pool_busy(const struct workers_pool *p);
/** Configured worker threads. */
int workers_pool_threads(const struct workers_pool *p);
/** Named queues of the pool (0 when it serves every queue). */
int workers_pool_queues(const struct workers_pool *p);
/** Queue @p i (0..workers_pool_queues()-1): its name (borrowed), its threads (@p threads) and
 * how many of its jobs run now (@p busy; lock-free). */
const char *workers_pool_queue(const struct workers_pool *p, int i, int *threads, int *busy);
/** True while the pool's own loops are alive (for /livez): each loop ticked within 60 s
 * (a loop may legitimately wait for a database connection and a statement). */
bool workers_pool_alive(const struct workers_pool *p);

/* ---- for handlers ------------------------------------------------------------------------- */

/** Job id (borrowed, valid during the handler call). */
const char *workers_job_id(const struct workers_job *job);
/** Job kind (borrowed). */
const char *workers_job_kind(const struct workers_job *job);
/** Job params object (borrowed; never NULL). */
const json_t *workers_job_params(const struct workers_job *job);
/** 1-based attempt number. */
int workers_job_attempt(const struct workers_job *job);
/** Max attempts of the job. */
int workers_job_max_attempts(const struct workers_job *job);
/** The queue handle (borrowed), e.g. to enqueue child jobs with "parent_id". */
struct queue *workers_job_queue(const struct workers_job *job);
/** True once cancellation of this job was requested or the pool's drain grace ran out: stop
 * and return ERR_CANCELLED. Cheap; call often. */
bool workers_job_cancelled(const struct workers_job *job);
/** Set the result stored on success (steals @p result; replaces any earlier one). */
void workers_job_set_result(struct workers_job *job, json_t *result);

/** Stable lower-case code stored with a failure (copied; default: err_code() of the returned
 * error), e.g. "noop_failure". */
void workers_job_set_error_code(struct workers_job *job, const char *code);
/** The handler waits for something outside it (a collection run for its children): when it
 * returns ERR_OK, the job goes back to `queued` to run again after @p ms, the attempt not
 * charged, no result stored. */
void workers_job_snooze(struct workers_job *job, int64_t ms);

/**
 * Report where the job is: a step begins (a new @p step name or @p index), or the current one
 * advances (same step, new @p detail). Shown as the job's "progress" by GET /v1/jobs/{id} and
 * the lists; a step that begins also writes a job event naming it and the measured duration of
 * the step before it. Writes at most every WORKERS_PROGRESS_MIN_MS per job unless the step
 * changes (an advance in between is dropped); after the handler returns the pool writes a last
 * event with the duration of the last step, and the progress stays as the last step reported.
 * Advisory: a failed write is logged, never fails the job. Call from the handler's thread only.
 * @param index 1-based (0: unknown); @param nsteps total (0: unknown); @param detail may be NULL.
 */
void workers_job_progress(struct workers_job *job,
                          const char *step,
                          int index,
                          int nsteps,
                          const char *detail);

/** The noop kind's params validator (queue_params_fn; @p ctx unused): sleep_ms
 * 0..WORKERS_NOOP_SLEEP_MAX_MS, fail_times 0..QUEUE_ATTEMPTS_MAX, nothing else; @p params may
 * be NULL. The handler runs it first; the queue runs it at submit time (service/kinds.c).
 * @return ERR_OK; ERR_INVALID naming "<pfx>params.<name>". */
NODISCARD enum err
workers_noop_params(const json_t *params, const char *pfx, const void *ctx, struct err_info *ei);

/** The noop handler (registered by workers_pool_create; exported for tests). */
enum err workers_job_noop(struct workers_job *job, void *arg, struct err_info *ei);

#endif
