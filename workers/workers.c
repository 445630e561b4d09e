/* workers.c - the worker pool: a fetcher thread claims batches into a local FIFO, worker threads
 * run jobs with no transaction open, a completer thread writes outcomes in batches (keeping them
 * while PostgreSQL is away), and a maintenance thread heartbeats, relays cancellations, rescues
 * dead processes' jobs and prunes. SPDX-License-Identifier: Apache-2.0 */
#include "workers.h"

#include "core/clock.h"
#include "core/compiler.h"
#include "core/log.h"
#include "core/str.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WORKERS_COMPLETE_BATCH 500        /* most completions per statement */
#define WORKERS_PENDING_MAX    20000      /* buffered completions before workers wait */
#define WORKERS_SHORT_JOB_NS   20000000LL /* jobs shorter than this on average: claim batches */
#define WORKERS_CANCEL_POLL    256        /* cancellation ids fetched per heartbeat */
#define WORKERS_FLUSH_GIVEUP_S 10         /* drain: how long to keep retrying the final flush */
#define WORKERS_FETCHERS_MAX   2          /* claim round trips in flight at once */
#define WORKERS_PREFETCH       2          /* short jobs: extra batches kept claimed ahead */
#define WORKERS_CLAIM_DEFAULT  500        /* default claim_batch: the largest batch */
#define WORKERS_CLAIM_START    100        /* short jobs: first batch, and after a short one */

struct workers_kind {
    char kind[QUEUE_KIND_MAX + 1];
    workers_handler_fn fn;
    void *arg;
};

/* One worker thread's current job, visible to the maintenance and drain paths. */
struct workers_slot {
    pthread_mutex_t mu; /* guards id, active */
    char id[QUEUE_ID_LEN + 1];
    int attempt;
    bool active;
    atomic_bool cancel;   /* cancellation requested or drain grace ran out */
    atomic_bool released; /* drain released the job: discard the outcome */
};

struct workers_job {
    struct workers_pool *pool;
    struct queue_claimed c; /* params owned */
    struct workers_slot *slot;
    json_t *result; /* owned */
    char code[48];  /* custom error code or "" */
    int64_t snooze_ms; /* workers_job_snooze: > 0 = run again after this long */
    /* progress (workers_job_progress; the handler's thread only) */
    char step[QUEUE_STEP_MAX + 1]; /* the step running, "" before the first */
    int step_index;
    int64_t step_t0_ns;    /* when it began */
    int64_t last_write_ns; /* last progress write, 0 = none */
    bool progress_failed;  /* a write failed already (logged once per job) */
};

/* A named queue of a pool with per-queue limits (cfg.nqueues > 0). */
struct workers_queue {
    char name[QUEUE_NAME_MAX + 1];
    int limit; /* jobs of this queue running at once in this process, at most */
    int held;  /* being claimed, claimed and not started, or running (guarded by mu) */
    atomic_int busy; /* running now */
};

struct workers_done { /* a buffered completion */
    char id[QUEUE_ID_LEN + 1];
    int attempt;
    enum queue_outcome outcome;
    int64_t snooze_ms;
    json_t *result; /* owned */
    char code[48];
    char msg[ERR_INFO_MSG_MAX]; /* the failure's message ("" = none): held in place, so no
                                   allocation can lose it */
};

struct workers_pool {
    struct queue *q;
    struct workers_config cfg;
    struct workers_kind kinds[WORKERS_KINDS_MAX];
    int nkinds;
    struct workers_queue queues[WORKERS_QUEUES_MAX]; /* cfg.nqueues of them */

    pthread_mutex_t mu;          /* guards local FIFO and flags below */
    pthread_cond_t cv_work;      /* workers: a job is available or stop */
    pthread_cond_t cv_fetch;     /* fetcher: a worker became free */
    struct queue_claimed *local; /* FIFO ring of claimed, not yet started jobs */
    int local_cap, local_head, local_len;
    /* written under mu; atomic because workers_pool_alive (HTTP threads), workers_register
     * and the fetchers' checks read them without it */
    atomic_bool started, draining, stopping;

    pthread_mutex_t dmu;    /* guards the completion buffer */
    pthread_cond_t cv_done; /* completer: something to write; workers: room */
    struct workers_done *done;
    int done_len, done_cap;
    int64_t done_oldest_ns;
    bool completer_stop;
    int flushing;      /* completion writes in flight (guarded by dmu) */
    bool orphan_check; /* the orphan check holds off new writes (guarded by dmu) */

    pthread_mutex_t mmu; /* maintenance sleep */
    pthread_cond_t cv_maint;
    bool maint_stop;

    struct workers_slot *slots;
    pthread_t *threads;
    pthread_t fetchers[WORKERS_FETCHERS_MAX];
    int nfetchers, nfetchers_started;
    int claim_inflight; /* jobs being claimed right now (guarded by mu) */
    pthread_t completer, maint;
    int nthreads_started;
    bool completer_started, maint_started;

    atomic_int busy;
    _Atomic int64_t avg_run_ns; /* moving average of handler run time */
    _Atomic int64_t tick_fetch, tick_complete, tick_maint;
    _Atomic int64_t n_claims, ns_claims, n_claimed, n_flushes, ns_flushes, n_flushed;
};

/* ---- registry and creation ---------------------------------------------------------------- */

static int workers_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n <= WORKERS_THREADS_MAX ? (int)n : 2;
}

enum err workers_register(
    struct workers_pool *p, const char *kind, workers_handler_fn fn, void *arg, struct err_info *ei)
{
    if (p->started) {
        return err_set(ei, ERR_INVALID, "cannot register job kind \"%s\" after start", kind);
    }
    if (kind == NULL || kind[0] == '\0' || strlen(kind) > QUEUE_KIND_MAX || fn == NULL) {
        return err_set(ei, ERR_INVALID, "invalid job kind registration");
    }
    for (int i = 0; i < p->nkinds; i++) {
        if (strcmp(p->kinds[i].kind, kind) == 0) {
            p->kinds[i].fn = fn;
            p->kinds[i].arg = arg;
            return ERR_OK;
        }
    }
    if (p->nkinds >= WORKERS_KINDS_MAX) {
        return err_set(ei, ERR_TOO_LARGE, "more than %d job kinds", WORKERS_KINDS_MAX);
    }
    str_copy(p->kinds[p->nkinds].kind, sizeof p->kinds[0].kind, kind);
    p->kinds[p->nkinds].fn = fn;
    p->kinds[p->nkinds].arg = arg;
    p->nkinds++;
    return ERR_OK;
}

static void workers_cond_init_mono(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
}

static int workers_claim_size(int n);

/* Copy and check cfg.queues; with queues the pool's threads are the sum of their counts. */
static enum err workers_queues_setup(struct workers_pool *p, struct err_info *ei)
{
    int sum = 0;
    if (p->cfg.nqueues < 0 || p->cfg.nqueues > WORKERS_QUEUES_MAX ||
        (p->cfg.nqueues > 0 && p->cfg.queues == NULL)) {
        return err_set(ei, ERR_INVALID, "between 0 and %d named queues", WORKERS_QUEUES_MAX);
    }
    for (int i = 0; i < p->cfg.nqueues; i++) {
        const struct workers_queue_limit *l = &p->cfg.queues[i];
        if (!queue_name_valid(l->name)) {
            return err_set(ei, ERR_INVALID, "invalid queue name \"%.64s\"", l->name);
        }
        if (l->threads < 1 || l->threads > WORKERS_THREADS_MAX) {
            return err_set(ei, ERR_INVALID, "queue %s: %d workers, not 1..%d", l->name,
                           l->threads, WORKERS_THREADS_MAX);
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(p->queues[j].name, l->name) == 0) {
                return err_set(ei, ERR_INVALID, "queue %s named twice", l->name);
            }
        }
        str_copy(p->queues[i].name, sizeof p->queues[i].name, l->name);
        p->queues[i].limit = l->threads;
        atomic_init(&p->queues[i].busy, 0);
        sum += l->threads;
    }
    p->cfg.queues = NULL; /* copied */
    if (p->cfg.nqueues > 0) {
        if (sum > WORKERS_THREADS_MAX) {
            return err_set(ei, ERR_INVALID, "the queues' workers add up to %d, more than %d", sum,
                           WORKERS_THREADS_MAX);
        }
        p->cfg.threads = sum;
    }
    return ERR_OK;
}

/* Index of the named queue @p name, or -1. */
static int workers_queue_index(const struct workers_pool *p, const char *name)
{
    for (int i = 0; i < p->cfg.nqueues; i++) {
        if (strcmp(p->queues[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

enum err workers_pool_create(struct queue *q,
                             const struct workers_config *cfg,
                             struct workers_pool **out,
                             struct err_info *ei)
{
    struct workers_pool *p = calloc(1, sizeof *p);
    if (p == NULL) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    p->q = q;
    if (cfg != NULL) {
        p->cfg = *cfg;
    }
    enum err qe = workers_queues_setup(p, ei);
    if (qe != ERR_OK) {
        free(p);
        return qe;
    }
    if (p->cfg.threads <= 0) {
        p->cfg.threads = workers_cores();
    }
    if (p->cfg.threads > WORKERS_THREADS_MAX) {
        int t = p->cfg.threads;
        free(p);
        return err_set(ei, ERR_INVALID, "worker threads %d exceed %d", t, WORKERS_THREADS_MAX);
    }
    if (p->cfg.claim_batch <= 0) {
        p->cfg.claim_batch = WORKERS_CLAIM_DEFAULT;
    }
    if (p->cfg.claim_batch > QUEUE_CLAIM_MAX) {
        p->cfg.claim_batch = QUEUE_CLAIM_MAX;
    }
    if (p->cfg.claim_batch < p->cfg.threads) {
        p->cfg.claim_batch = p->cfg.threads;
    }
    p->cfg.claim_batch = workers_claim_size(p->cfg.claim_batch);
    if (p->cfg.poll_ms <= 0) {
        p->cfg.poll_ms = 1000;
    }
    if (p->cfg.heartbeat_ms <= 0) {
        p->cfg.heartbeat_ms = 1000;
    }
    if (p->cfg.rescue_ms <= 0) {
        p->cfg.rescue_ms = 5000;
    }
    if (p->cfg.prune_ms <= 0) {
        p->cfg.prune_ms = 60000;
    }
    if (p->cfg.flush_ms <= 0) {
        p->cfg.flush_ms = 5;
    }
    p->nfetchers = p->cfg.fetchers > 0                           ? p->cfg.fetchers
                   : p->cfg.threads >= 2 && workers_cores() >= 2 ? WORKERS_FETCHERS_MAX
                                                                 : 1;
    if (p->nfetchers > WORKERS_FETCHERS_MAX) {
        p->nfetchers = WORKERS_FETCHERS_MAX;
    }
    p->local_cap = p->cfg.claim_batch * (p->nfetchers + WORKERS_PREFETCH) + p->cfg.threads;
    p->done_cap = 256;
    p->local = calloc((size_t)p->local_cap, sizeof *p->local);
    p->done = calloc((size_t)p->done_cap, sizeof *p->done);
    p->slots = calloc((size_t)p->cfg.threads, sizeof *p->slots);
    p->threads = calloc((size_t)p->cfg.threads, sizeof *p->threads);
    if (p->local == NULL || p->done == NULL || p->slots == NULL || p->threads == NULL) {
        free(p->local);
        free(p->done);
        free(p->slots);
        free(p->threads);
        free(p);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < p->cfg.threads; i++) {
        pthread_mutex_init(&p->slots[i].mu, NULL);
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->dmu, NULL);
    pthread_mutex_init(&p->mmu, NULL);
    workers_cond_init_mono(&p->cv_work);
    workers_cond_init_mono(&p->cv_fetch);
    workers_cond_init_mono(&p->cv_done);
    workers_cond_init_mono(&p->cv_maint);
    int64_t now = clock_mono_ns();
    atomic_init(&p->tick_fetch, now);
    atomic_init(&p->tick_complete, now);
    atomic_init(&p->tick_maint, now);
    /* until jobs have been seen to be short, claim only for idle threads: a fresh replica must
     * not grab batches of long jobs that other replicas could start */
    atomic_init(&p->avg_run_ns, 2 * WORKERS_SHORT_JOB_NS);
    atomic_init(&p->busy, 0);
    enum err e = workers_register(p, "noop", workers_job_noop, NULL, ei);
    if (e != ERR_OK) {
        workers_pool_destroy(p);
        return e;
    }
    *out = p;
    return ERR_OK;
}

/* ---- helpers ------------------------------------------------------------------------------ */

static struct timespec workers_deadline_ms(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (ms % 1000) * 1000000;
    ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    return ts;
}

/* Rate-limited warning for a loop that keeps failing (one line per 5 s per loop). */
static void workers_warn(int64_t *last_ns, const char *what, const struct err_info *ei)
{
    int64_t now = clock_mono_ns();
    if (now - *last_ns >= 5000000000LL) {
        *last_ns = now;
        LOG_WARN("worker", "%s failed: %s", what, ei->msg);
    }
}

/* Append a completion (copying what it needs); waits while the buffer is full unless @p force. */
static void workers_done_push(struct workers_pool *p,
                              const char *id,
                              int attempt,
                              enum queue_outcome outcome,
                              json_t *result_stolen,
                              const char *code,
                              const char *msg,
                              int64_t snooze_ms,
                              bool force)
{
    pthread_mutex_lock(&p->dmu);
    while (!force && p->done_len >= WORKERS_PENDING_MAX && !p->completer_stop) {
        pthread_cond_wait(&p->cv_done, &p->dmu);
    }
    if (p->done_len == p->done_cap) {
        int ncap = p->done_cap * 2;
        struct workers_done *nd = realloc(p->done, (size_t)ncap * sizeof *nd);
        if (nd == NULL) {
            /* cannot buffer it: the job stays running under our lease; rescue brings it back */
            pthread_mutex_unlock(&p->dmu);
            json_decref(result_stolen);
            LOG_ERROR("worker", "out of memory buffering the completion of job %s", id);
            return;
        }
        p->done = nd;
        p->done_cap = ncap;
    }
    struct workers_done *d = &p->done[p->done_len];
    memset(d, 0, sizeof *d);
    str_copy(d->id, sizeof d->id, id);
    d->attempt = attempt;
    d->outcome = outcome;
    d->snooze_ms = snooze_ms;
    d->result = result_stolen;
    str_copy(d->code, sizeof d->code, code != NULL ? code : "");
    str_copy(d->msg, sizeof d->msg, msg != NULL ? msg : "");
    if (p->done_len == 0) {
        p->done_oldest_ns = clock_mono_ns();
    }
    p->done_len++;
    pthread_cond_broadcast(&p->cv_done);
    pthread_mutex_unlock(&p->dmu);
}

/* ---- worker threads ----------------------------------------------------------------------- */

static workers_handler_fn workers_lookup(struct workers_pool *p, const char *kind, void **arg)
{
    for (int i = 0; i < p->nkinds; i++) {
        if (strcmp(p->kinds[i].kind, kind) == 0) {
            *arg = p->kinds[i].arg;
            return p->kinds[i].fn;
        }
    }
    return NULL;
}

struct workers_thread_arg {
    struct workers_pool *p;
    int index;
};

static void
workers_run_one(struct workers_pool *p, struct workers_slot *slot, struct queue_claimed *c)
{
    struct workers_job job = {.pool = p, .c = *c, .slot = slot};
    struct err_info ei;
    err_info_clear(&ei);

    log_ctx_set_job(c->id);
    void *arg = NULL;
    workers_handler_fn fn = workers_lookup(p, c->kind, &arg);
    int64_t t0 = clock_mono_ns();
    enum err e;
    if (fn == NULL) {
        e = err_set(&ei, ERR_UNSUPPORTED, "no handler for job kind \"%s\" in this process",
                    c->kind);
        str_copy(job.code, sizeof job.code, "unsupported");
    } else {
        e = fn(&job, arg, &ei);
    }
    if (job.step[0] != '\0') {
        /* the last step's duration, as a last step event; the progress keeps the last step */
        workers_job_progress(&job, NULL, 0, 0, NULL);
    }
    int64_t dt = clock_mono_ns() - t0;
    /* moving average over every worker thread: a compare-and-swap loop, so that two threads
     * finishing at once both count (a load then a store lost one of them) */
    int64_t avg = atomic_load(&p->avg_run_ns);
    while (!atomic_compare_exchange_weak(&p->avg_run_ns, &avg, avg + (dt - avg) / 8)) {
    }

    /* wait for room first, then hand the outcome over while the slot still shows the job, so
     * that the job is always visible in the slot or in the buffer (queue_requeue_orphans) */
    pthread_mutex_lock(&p->dmu);
    while (p->done_len >= WORKERS_PENDING_MAX && !p->completer_stop) {
        pthread_cond_wait(&p->cv_done, &p->dmu);
    }
    pthread_mutex_unlock(&p->dmu);
    pthread_mutex_lock(&slot->mu);
    bool released = atomic_load(&slot->released);
    if (!released) {
        enum queue_outcome oc;
        if (e == ERR_OK && job.snooze_ms > 0) {
            oc = QUEUE_SNOOZED;
        } else if (e == ERR_OK) {
            oc = QUEUE_SUCCEEDED;
        } else if (e == ERR_CANCELLED) {
            oc = QUEUE_CANCELLED;
        } else if (e == ERR_INVALID || e == ERR_PARSE || e == ERR_UNSUPPORTED) {
            oc = QUEUE_FAILED_FINAL;
        } else {
            oc = QUEUE_FAILED;
        }
        if (oc != QUEUE_SUCCEEDED && oc != QUEUE_SNOOZED) {
            LOG_INFO("worker", "job %s (%s) attempt %d/%d ended %s: %s", c->id, c->kind, c->attempt,
                     c->max_attempts, err_code(e), ei.msg);
        }
        workers_done_push(p, c->id, c->attempt, oc, oc == QUEUE_SUCCEEDED ? job.result : NULL,
                          job.code[0] != '\0' ? job.code : err_code(e),
                          oc == QUEUE_SUCCEEDED || oc == QUEUE_SNOOZED ? NULL : ei.msg,
                          job.snooze_ms, true);
        if (oc == QUEUE_SUCCEEDED) {
            job.result = NULL;
        }
    }
    slot->active = false;
    pthread_mutex_unlock(&slot->mu);
    json_decref(job.result);
    log_ctx_set_job(NULL);
}

static void *workers_thread_main(void *argp)
{
    struct workers_thread_arg *ta = argp;
    struct workers_pool *p = ta->p;
    struct workers_slot *slot = &p->slots[ta->index];
    free(ta);
    for (;;) {
        struct queue_claimed c;
        pthread_mutex_lock(&p->mu);
        while (p->local_len == 0 && !p->stopping) {
            pthread_cond_wait(&p->cv_work, &p->mu);
        }
        if (p->local_len == 0) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        c = p->local[p->local_head];
        p->local_head = (p->local_head + 1) % p->local_cap;
        p->local_len--;
        pthread_mutex_lock(&slot->mu); /* the job moves from the FIFO to the slot atomically */
        str_copy(slot->id, sizeof slot->id, c.id);
        slot->attempt = c.attempt;
        slot->active = true;
        atomic_store(&slot->cancel, false);
        atomic_store(&slot->released, false);
        pthread_mutex_unlock(&slot->mu);
        atomic_fetch_add(&p->busy, 1);
        pthread_cond_signal(&p->cv_fetch);
        pthread_mutex_unlock(&p->mu);

        int qi = p->cfg.nqueues > 0 ? workers_queue_index(p, c.queue) : -1;
        if (qi >= 0) {
            atomic_fetch_add(&p->queues[qi].busy, 1);
        }
        workers_run_one(p, slot, &c);
        json_decref(c.params);
        atomic_fetch_sub(&p->busy, 1);
        pthread_mutex_lock(&p->mu);
        if (qi >= 0) {
            atomic_fetch_sub(&p->queues[qi].busy, 1);
            p->queues[qi].held--;
        }
        pthread_cond_signal(&p->cv_fetch);
        pthread_mutex_unlock(&p->mu);
        if (qi >= 0) {
            /* a slot of this queue is free: the fetcher may be waiting for work (queue_wait)
             * after a claim that found the other queues empty */
            queue_wake(p->q);
        }
    }
    return NULL;
}

/* ---- fetcher ------------------------------------------------------------------------------ */

static bool workers_flush(struct workers_pool *p,
                          int want,
                          const struct queue_claim_limit *limits,
                          struct queue_claimed *batch,
                          int *got,
                          int64_t *warned,
                          struct err_info *ei);

/* @p n rounded down the way queue_claim rounds its limit (100, 200, 500 or 1000 from 100 on), so
 * that a full batch is recognised as one and a short one means the queue has no more. */
static int workers_claim_size(int n)
{
    static const int sizes[] = {1000, 500, 200, 100};
    for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
        if (n >= sizes[i]) {
            return sizes[i];
        }
    }
    return n;
}

static void *workers_fetch_main(void *arg)
{
    struct workers_pool *p = arg;
    struct queue_claimed *batch = calloc((size_t)p->cfg.claim_batch, sizeof *batch);
    int64_t warned = 0;
    int backoff_ms = 50;
    /* short jobs: the batch doubles while claims come back full (a deep queue: fewer, larger
     * statements cost the server less per job) and starts again small when one comes back short,
     * so a shallow queue is not taken away from other processes in big pieces */
    int size = p->cfg.claim_batch < WORKERS_CLAIM_START ? p->cfg.claim_batch : WORKERS_CLAIM_START;
    if (batch == NULL) {
        LOG_ERROR("worker", "out of memory for the claim buffer; this process claims no jobs");
        return NULL;
    }
    for (;;) {
        atomic_store(&p->tick_fetch, clock_mono_ns());
        pthread_mutex_lock(&p->mu);
        int want = 0;
        while (!p->draining) {
            int busy = atomic_load(&p->busy);
            int have = p->local_len + p->claim_inflight;
            int idle = p->cfg.threads - busy - have;
            if (atomic_load(&p->avg_run_ns) < WORKERS_SHORT_JOB_NS) {
                /* short jobs: keep batches ready so workers never wait for a round trip */
                int cap = size * (p->nfetchers + WORKERS_PREFETCH);
                want = have <= cap - size ? size : 0;
            } else {
                want = idle;
            }
            if (want > p->cfg.claim_batch) {
                want = p->cfg.claim_batch;
            }
            if (want > 0) {
                p->claim_inflight += want;
                break;
            }
            struct timespec dl = workers_deadline_ms(p->cfg.poll_ms);
            pthread_cond_timedwait(&p->cv_fetch, &p->mu, &dl);
            atomic_store(&p->tick_fetch, clock_mono_ns());
        }
        bool draining = p->draining;
        pthread_mutex_unlock(&p->mu);
        if (draining) {
            break;
        }
        int n = 0;
        struct err_info ei;
        /* carry the buffered completions along with the claim: one round trip per cycle */
        bool ok = workers_flush(p, want, NULL, batch, &n, &warned, &ei);
        if (!ok || n == 0) {
            pthread_mutex_lock(&p->mu);
            p->claim_inflight -= want;
            pthread_mutex_unlock(&p->mu);
        }
        if (!ok) {
            (void)queue_wait(p->q, backoff_ms);
            backoff_ms = backoff_ms < 2000 ? backoff_ms * 2 : 2000;
            continue;
        }
        backoff_ms = 50;
        if (n > 0) {
            pthread_mutex_lock(&p->mu);
            p->claim_inflight -= want;
            for (int i = 0; i < n; i++) {
                int tail = (p->local_head + p->local_len) % p->local_cap;
                p->local[tail] = batch[i];
                p->local_len++;
            }
            pthread_cond_broadcast(&p->cv_work);
            pthread_mutex_unlock(&p->mu);
        }
        if (n == want && n == size) {
            int next = size < 200 ? 200 : size < 500 ? 500 : QUEUE_CLAIM_MAX;
            size = workers_claim_size(next < p->cfg.claim_batch ? next : p->cfg.claim_batch);
        } else if (n < want) {
            size =
                p->cfg.claim_batch < WORKERS_CLAIM_START ? p->cfg.claim_batch : WORKERS_CLAIM_START;
        }
        if (n < want) {
            /* nothing more runnable now: sleep until an enqueue, a NOTIFY or the poll */
            (void)queue_wait(p->q, p->cfg.poll_ms);
        }
    }
    free(batch);
    return NULL;
}

/* The fetcher of a pool with per-queue limits: asks each queue for its free slots only (its
 * limit minus the jobs it holds), all queues in one statement, and reserves those slots while
 * the statement runs, so two fetchers never overfill a queue. No batches ahead: a queue's job
 * is claimed only when one of its slots is free. */
static void *workers_fetch_queues_main(void *arg)
{
    struct workers_pool *p = arg;
    int nq = p->cfg.nqueues;
    struct queue_claimed *batch = calloc((size_t)p->cfg.threads, sizeof *batch);
    struct queue_claim_limit limits[WORKERS_QUEUES_MAX];
    int64_t warned = 0;
    int backoff_ms = 50;
    if (batch == NULL) {
        LOG_ERROR("worker", "out of memory for the claim buffer; this process claims no jobs");
        return NULL;
    }
    for (;;) {
        atomic_store(&p->tick_fetch, clock_mono_ns());
        pthread_mutex_lock(&p->mu);
        int want = 0;
        while (!p->draining) {
            for (int i = 0; i < nq; i++) {
                struct workers_queue *wq = &p->queues[i];
                int free_slots = wq->limit - wq->held;
                limits[i] = (struct queue_claim_limit){.queue = wq->name,
                                                       .max = free_slots > 0 ? free_slots : 0};
                wq->held += limits[i].max;
                want += limits[i].max;
            }
            if (want > 0) {
                break;
            }
            struct timespec dl = workers_deadline_ms(p->cfg.poll_ms);
            pthread_cond_timedwait(&p->cv_fetch, &p->mu, &dl);
            atomic_store(&p->tick_fetch, clock_mono_ns());
        }
        bool draining = p->draining;
        pthread_mutex_unlock(&p->mu);
        if (draining) {
            break;
        }
        int n = 0;
        struct err_info ei;
        bool ok = workers_flush(p, want, limits, batch, &n, &warned, &ei);
        int got[WORKERS_QUEUES_MAX] = {0};
        for (int i = 0; ok && i < n; i++) {
            int qi = workers_queue_index(p, batch[i].queue);
            if (qi >= 0) {
                got[qi]++;
            }
        }
        pthread_mutex_lock(&p->mu);
        for (int i = 0; i < nq; i++) {
            p->queues[i].held -= limits[i].max - got[i]; /* give back what did not come */
        }
        for (int i = 0; ok && i < n; i++) {
            int tail = (p->local_head + p->local_len) % p->local_cap;
            p->local[tail] = batch[i];
            p->local_len++;
        }
        if (n > 0) {
            pthread_cond_broadcast(&p->cv_work);
        }
        pthread_mutex_unlock(&p->mu);
        if (!ok) {
            (void)queue_wait(p->q, backoff_ms);
            backoff_ms = backoff_ms < 2000 ? backoff_ms * 2 : 2000;
            continue;
        }
        backoff_ms = 50;
        if (n < want) {
            /* some queue had nothing runnable: sleep until an enqueue, a NOTIFY, a freed slot
             * (workers wake the queue when a job ends) or the poll */
            (void)queue_wait(p->q, p->cfg.poll_ms);
        }
    }
    free(batch);
    return NULL;
}

/* ---- completer ---------------------------------------------------------------------------- */

static void workers_flush_end(struct workers_pool *p)
{
    pthread_mutex_lock(&p->dmu);
    p->flushing--;
    pthread_cond_broadcast(&p->cv_done);
    pthread_mutex_unlock(&p->dmu);
}

/* Take up to WORKERS_COMPLETE_BATCH buffered completions out of the buffer, write them and,
 * when @p want > 0, claim up to @p want jobs into @p batch in the same statement. Several
 * threads may do this at once: each takes its own entries. If the write fails the entries go
 * back into the buffer (completions are idempotent) and false is returned. */
static bool workers_flush(struct workers_pool *p,
                          int want,
                          const struct queue_claim_limit *limits,
                          struct queue_claimed *batch,
                          int *got,
                          int64_t *warned,
                          struct err_info *ei)
{
    static _Thread_local struct workers_done mine[WORKERS_COMPLETE_BATCH];
    static _Thread_local struct queue_completion cs[WORKERS_COMPLETE_BATCH];
    pthread_mutex_lock(&p->dmu);
    while (p->orphan_check) {
        pthread_cond_wait(&p->cv_done, &p->dmu);
    }
    p->flushing++;
    int n = p->done_len < WORKERS_COMPLETE_BATCH ? p->done_len : WORKERS_COMPLETE_BATCH;
    memcpy(mine, p->done, (size_t)n * sizeof *mine);
    memmove(p->done, p->done + n, (size_t)(p->done_len - n) * sizeof *p->done);
    p->done_len -= n;
    p->done_oldest_ns = clock_mono_ns();
    pthread_mutex_unlock(&p->dmu);
    if (n == 0 && want <= 0) {
        workers_flush_end(p);
        return true;
    }
    for (int i = 0; i < n; i++) {
        struct workers_done *d = &mine[i];
        cs[i] = (struct queue_completion){.id = d->id,
                                          .attempt = d->attempt,
                                          .outcome = d->outcome,
                                          .result = d->result,
                                          .error_code = d->code[0] != '\0' ? d->code : NULL,
                                          .error_message = d->msg[0] != '\0' ? d->msg : NULL,
                                          .snooze_ms = d->snooze_ms};
    }
    err_info_clear(ei);
    int64_t t0 = clock_mono_ns();
    enum err e = limits != NULL && want > 0
                     ? queue_complete_and_claim_queues(p->q, cs, n, limits, p->cfg.nqueues, batch,
                                                       got, ei)
                     : queue_complete_and_claim(p->q, cs, n, want > 0 ? want : 0, batch, got, ei);
    int64_t dt = clock_mono_ns() - t0;
    if (want > 0) {
        atomic_fetch_add(&p->ns_claims, dt);
        atomic_fetch_add(&p->n_claims, 1);
        atomic_fetch_add(&p->n_claimed, e == ERR_OK ? *got : 0);
    } else {
        atomic_fetch_add(&p->ns_flushes, dt);
    }
    if (n > 0) {
        atomic_fetch_add(&p->n_flushes, 1);
        atomic_fetch_add(&p->n_flushed, n);
    }
    pthread_mutex_lock(&p->dmu);
    if (e != ERR_OK) {
        /* put them back (they may go past the soft cap: never drop a completion) */
        if (p->done_len + n > p->done_cap) {
            int ncap = p->done_cap;
            while (ncap < p->done_len + n) {
                ncap *= 2;
            }
            struct workers_done *nd = realloc(p->done, (size_t)ncap * sizeof *nd);
            if (nd != NULL) {
                p->done = nd;
                p->done_cap = ncap;
            }
        }
        int room = p->done_cap - p->done_len;
        int back = n < room ? n : room;
        memcpy(p->done + p->done_len, mine, (size_t)back * sizeof *mine);
        p->done_len += back;
        for (int i = back; i < n; i++) {
            /* out of memory: this job stays running under our lease; rescue brings it back */
            json_decref(mine[i].result);
        }
        pthread_mutex_unlock(&p->dmu);
        workers_flush_end(p);
        if (warned != NULL) {
            workers_warn(warned, want > 0 ? "claiming jobs" : "writing job completions", ei);
        }
        return false;
    }
    pthread_cond_broadcast(&p->cv_done);
    pthread_mutex_unlock(&p->dmu);
    workers_flush_end(p);
    for (int i = 0; i < n; i++) {
        json_decref(mine[i].result);
    }
    return true;
}

static bool workers_flush_once(struct workers_pool *p, int64_t *warned)
{
    struct err_info ei;
    return workers_flush(p, 0, NULL, NULL, NULL, warned, &ei);
}

static void *workers_complete_main(void *arg)
{
    struct workers_pool *p = arg;
    int64_t warned = 0;
    int backoff_ms = 50;
    for (;;) {
        atomic_store(&p->tick_complete, clock_mono_ns());
        pthread_mutex_lock(&p->dmu);
        for (;;) {
            if (p->completer_stop) {
                break;
            }
            if (p->done_len >= WORKERS_COMPLETE_BATCH) {
                break;
            }
            if (p->done_len > 0) {
                int64_t age = clock_mono_ns() - p->done_oldest_ns;
                int64_t left_ns = (int64_t)p->cfg.flush_ms * 1000000 - age;
                if (left_ns <= 0) {
                    break;
                }
                struct timespec dl = workers_deadline_ms(left_ns / 1000000 + 1);
                pthread_cond_timedwait(&p->cv_done, &p->dmu, &dl);
            } else {
                struct timespec dl = workers_deadline_ms(1000);
                pthread_cond_timedwait(&p->cv_done, &p->dmu, &dl);
                atomic_store(&p->tick_complete, clock_mono_ns());
            }
        }
        bool stop = p->completer_stop;
        pthread_mutex_unlock(&p->dmu);
        if (stop) {
            break;
        }
        if (workers_flush_once(p, &warned)) {
            backoff_ms = 50;
        } else {
            clock_sleep_ms(backoff_ms);
            backoff_ms = backoff_ms < 2000 ? backoff_ms * 2 : 2000;
        }
    }
    /* final flush (drain): keep trying for a bounded time; what is left stays running under
     * this process's lease and comes back through the rescuer */
    int64_t giveup = clock_mono_ns() + (int64_t)WORKERS_FLUSH_GIVEUP_S * 1000000000;
    for (;;) {
        pthread_mutex_lock(&p->dmu);
        int left = p->done_len;
        pthread_mutex_unlock(&p->dmu);
        if (left == 0) {
            break;
        }
        if (!workers_flush_once(p, &warned)) {
            if (clock_mono_ns() > giveup) {
                LOG_ERROR("worker",
                          "could not write %d job completions before exit; the jobs "
                          "return to the queue once this process's lease expires",
                          left);
                break;
            }
            clock_sleep_ms(200);
        }
    }
    return NULL;
}

/* ---- maintenance -------------------------------------------------------------------------- */

static void workers_apply_cancels(struct workers_pool *p, char (*ids)[QUEUE_ID_LEN + 1], int n)
{
    for (int t = 0; t < p->cfg.threads; t++) {
        struct workers_slot *s = &p->slots[t];
        pthread_mutex_lock(&s->mu);
        for (int i = 0; s->active && i < n; i++) {
            if (strcmp(s->id, ids[i]) == 0) {
                atomic_store(&s->cancel, true);
            }
        }
        pthread_mutex_unlock(&s->mu);
    }
}

/* Requeue this process's running jobs it no longer holds (a claim whose answer was lost). */
static void workers_orphans(struct workers_pool *p, int64_t *warned)
{
    enum { KNOWN_MAX = 8192, ORPHAN_MIN_AGE_S = 60 };
    char(*known)[QUEUE_ID_LEN + 1] = calloc(KNOWN_MAX, sizeof *known);
    int n = 0;
    bool complete = true;
    if (known == NULL) {
        return;
    }
    pthread_mutex_lock(&p->dmu); /* no completion write in flight while we look */
    p->orphan_check = true;
    while (p->flushing > 0) {
        pthread_cond_wait(&p->cv_done, &p->dmu);
    }
    pthread_mutex_unlock(&p->dmu);
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->local_len && n < KNOWN_MAX; i++) {
        str_copy(known[n++], QUEUE_ID_LEN + 1, p->local[(p->local_head + i) % p->local_cap].id);
    }
    complete = complete && n < KNOWN_MAX;
    for (int t = 0; t < p->cfg.threads; t++) {
        struct workers_slot *sl = &p->slots[t];
        pthread_mutex_lock(&sl->mu);
        if (sl->active && n < KNOWN_MAX) {
            str_copy(known[n++], QUEUE_ID_LEN + 1, sl->id);
        }
        pthread_mutex_unlock(&sl->mu);
    }
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_lock(&p->dmu);
    for (int i = 0; i < p->done_len && n < KNOWN_MAX; i++) {
        str_copy(known[n++], QUEUE_ID_LEN + 1, p->done[i].id);
    }
    complete = complete && n < KNOWN_MAX;
    pthread_mutex_unlock(&p->dmu);
    if (complete) {
        int r = 0;
        struct err_info ei;
        if (queue_requeue_orphans(p->q, (const char(*)[QUEUE_ID_LEN + 1]) known, n,
                                  ORPHAN_MIN_AGE_S, &r, &ei) != ERR_OK) {
            workers_warn(warned, "requeueing lost claims", &ei);
        } else if (r > 0) {
            LOG_WARN("worker", "requeued %d jobs whose claim was lost with its connection", r);
        }
    }
    pthread_mutex_lock(&p->dmu);
    p->orphan_check = false;
    pthread_cond_broadcast(&p->cv_done);
    pthread_mutex_unlock(&p->dmu);
    free(known);
}

static void *workers_maint_main(void *arg)
{
    struct workers_pool *p = arg;
    char(*ids)[QUEUE_ID_LEN + 1] = calloc(WORKERS_CANCEL_POLL, sizeof *ids);
    int64_t warned_hb = 0, warned_rescue = 0, warned_prune = 0, warned_orphans = 0;
    int64_t next_rescue = 0, next_prune = clock_mono_ns() + 5000000000LL;
    for (;;) {
        int64_t now = clock_mono_ns();
        atomic_store(&p->tick_maint, now);
        struct err_info ei;
        err_info_clear(&ei);
        int n = 0;
        if (queue_heartbeat(p->q, ids, ids != NULL ? WORKERS_CANCEL_POLL : 0, &n, &ei) != ERR_OK) {
            workers_warn(&warned_hb, "heartbeat", &ei);
        } else if (n > 0) {
            workers_apply_cancels(p, ids, n);
        }
        if (now >= next_rescue) {
            int r = 0;
            next_rescue = now + (int64_t)p->cfg.rescue_ms * 1000000;
            if (queue_rescue(p->q, &r, &ei) != ERR_OK) {
                workers_warn(&warned_rescue, "rescuing jobs of dead processes", &ei);
            } else if (r > 0) {
                LOG_WARN("worker", "requeued %d jobs of processes that stopped heartbeating", r);
            }
            workers_orphans(p, &warned_orphans);
        }
        if (now >= next_prune) {
            int d = 0;
            next_prune = now + (int64_t)p->cfg.prune_ms * 1000000;
            if (queue_prune(p->q, 1000, &d, &ei) != ERR_OK) {
                workers_warn(&warned_prune, "pruning finished jobs", &ei);
            } else if (d > 0) {
                LOG_INFO("worker", "pruned %d finished jobs past retention", d);
            }
        }
        pthread_mutex_lock(&p->mmu);
        if (!p->maint_stop) {
            struct timespec dl = workers_deadline_ms(p->cfg.heartbeat_ms);
            pthread_cond_timedwait(&p->cv_maint, &p->mmu, &dl);
        }
        bool stop = p->maint_stop;
        pthread_mutex_unlock(&p->mmu);
        if (stop) {
            break;
        }
    }
    free(ids);
    return NULL;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

enum err workers_pool_start(struct workers_pool *p, struct err_info *ei)
{
    struct err_info lei;
    if (p->started) {
        return err_set(ei, ERR_INVALID, "worker pool already started");
    }
    p->started = true;
    if (queue_listen(p->q, &lei) != ERR_OK) {
        LOG_WARN("worker", "no LISTEN wake-ups (polling only): %s", lei.msg);
    }
    if (pthread_create(&p->completer, NULL, workers_complete_main, p) != 0) {
        goto fail;
    }
    p->completer_started = true;
    for (int i = 0; i < p->cfg.threads; i++) {
        struct workers_thread_arg *ta = malloc(sizeof *ta);
        if (ta == NULL) {
            goto fail;
        }
        ta->p = p;
        ta->index = i;
        if (pthread_create(&p->threads[i], NULL, workers_thread_main, ta) != 0) {
            free(ta);
            goto fail;
        }
        p->nthreads_started++;
    }
    if (pthread_create(&p->maint, NULL, workers_maint_main, p) != 0) {
        goto fail;
    }
    p->maint_started = true;
    for (int i = 0; i < p->nfetchers; i++) {
        if (pthread_create(&p->fetchers[i], NULL,
                           p->cfg.nqueues > 0 ? workers_fetch_queues_main : workers_fetch_main,
                           p) != 0) {
            goto fail;
        }
        p->nfetchers_started++;
    }
    if (p->cfg.nqueues > 0) {
        char list[WORKERS_QUEUES_MAX * (QUEUE_NAME_MAX + 6)];
        size_t len = 0;
        for (int i = 0; i < p->cfg.nqueues && len < sizeof list; i++) {
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s=%d", i > 0 ? "," : "",
                                    p->queues[i].name, p->queues[i].limit);
        }
        LOG_INFO("worker",
                 "worker pool started: %d threads for queues %s only (jobs of any other queue are "
                 "not claimed by this process; another replica may run them), process %s",
                 p->cfg.threads, list, queue_process_id(p->q));
    } else {
        LOG_INFO("worker", "worker pool started: %d threads, process %s", p->cfg.threads,
                 queue_process_id(p->q));
    }
    return ERR_OK;
fail:
    (void)workers_pool_drain(p, 0);
    return err_set(ei, ERR_INTERNAL, "could not start worker threads");
}

int workers_pool_drain(struct workers_pool *p, int grace_s)
{
    int released = 0;
    if (p == NULL) {
        return 0;
    }
    /* 1. stop claiming */
    pthread_mutex_lock(&p->mu);
    bool already = p->draining;
    p->draining = true;
    pthread_cond_broadcast(&p->cv_fetch);
    pthread_mutex_unlock(&p->mu);
    if (already) {
        return 0;
    }
    queue_wake(p->q);
    for (int i = 0; i < p->nfetchers_started; i++) {
        pthread_join(p->fetchers[i], NULL);
    }
    p->nfetchers_started = 0;
    /* 2. jobs claimed but not started go straight back */
    pthread_mutex_lock(&p->mu);
    while (p->local_len > 0) {
        struct queue_claimed *c = &p->local[p->local_head];
        workers_done_push(p, c->id, c->attempt, QUEUE_RELEASED, NULL, NULL, NULL, 0, true);
        json_decref(c->params);
        p->local_head = (p->local_head + 1) % p->local_cap;
        p->local_len--;
        released++;
    }
    pthread_mutex_unlock(&p->mu);
    /* 3. let running jobs finish within the grace */
    int64_t until = clock_mono_ns() + (int64_t)(grace_s > 0 ? grace_s : 0) * 1000000000;
    while (atomic_load(&p->busy) > 0 && clock_mono_ns() < until) {
        clock_sleep_ms(20);
    }
    /* 4. release what still runs and tell its handler to stop */
    for (int t = 0; t < p->cfg.threads; t++) {
        struct workers_slot *s = &p->slots[t];
        pthread_mutex_lock(&s->mu);
        if (s->active && !atomic_load(&s->released)) {
            atomic_store(&s->released, true);
            atomic_store(&s->cancel, true);
            workers_done_push(p, s->id, s->attempt, QUEUE_RELEASED, NULL, NULL, NULL, 0, true);
            released++;
        }
        pthread_mutex_unlock(&s->mu);
    }
    /* 5. stop the workers (handlers honour the cancel flag) */
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads_started; i++) {
        pthread_join(p->threads[i], NULL);
    }
    p->nthreads_started = 0;
    /* 6. flush every completion, then stop the completer */
    pthread_mutex_lock(&p->dmu);
    p->completer_stop = true;
    pthread_cond_broadcast(&p->cv_done);
    pthread_mutex_unlock(&p->dmu);
    if (p->completer_started) {
        pthread_join(p->completer, NULL);
        p->completer_started = false;
    }
    /* 7. stop heartbeating and leave */
    pthread_mutex_lock(&p->mmu);
    p->maint_stop = true;
    pthread_cond_broadcast(&p->cv_maint);
    pthread_mutex_unlock(&p->mmu);
    if (p->maint_started) {
        pthread_join(p->maint, NULL);
        p->maint_started = false;
        struct err_info ei;
        if (queue_unregister(p->q, &ei) != ERR_OK) {
            LOG_WARN("worker", "could not unregister the process: %s", ei.msg);
        }
    }
    if (p->started) {
        int64_t nc = atomic_load(&p->n_claims), nf = atomic_load(&p->n_flushes);
        LOG_INFO("worker",
                 "worker pool drained; %d jobs released back to the queue; %lld claim round "
                 "trips of %.1f jobs in %.2f ms on average (completions ride along); %lld "
                 "completion batches of %.1f jobs; %.2f s in completion-only writes",
                 released, (long long)nc,
                 nc > 0 ? (double)atomic_load(&p->n_claimed) / (double)nc : 0.0,
                 nc > 0 ? (double)atomic_load(&p->ns_claims) / (double)nc / 1e6 : 0.0,
                 (long long)nf, nf > 0 ? (double)atomic_load(&p->n_flushed) / (double)nf : 0.0,
                 (double)atomic_load(&p->ns_flushes) / 1e9);
    }
    return released;
}

void workers_pool_destroy(struct workers_pool *p)
{
    if (p == NULL) {
        return;
    }
    (void)workers_pool_drain(p, 0);
    for (int i = 0; i < p->done_len; i++) {
        json_decref(p->done[i].result);
    }
    for (int i = 0; i < p->cfg.threads; i++) {
        pthread_mutex_destroy(&p->slots[i].mu);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->dmu);
    pthread_mutex_destroy(&p->mmu);
    pthread_cond_destroy(&p->cv_work);
    pthread_cond_destroy(&p->cv_fetch);
    pthread_cond_destroy(&p->cv_done);
    pthread_cond_destroy(&p->cv_maint);
    free(p->local);
    free(p->done);
    free(p->slots);
    free(p->threads);
    free(p);
}

int workers_pool_busy(const struct workers_pool *p)
{
    return atomic_load(&((struct workers_pool *)(uintptr_t)p)->busy);
}

int workers_pool_threads(const struct workers_pool *p)
{
    return p->cfg.threads;
}

int workers_pool_queues(const struct workers_pool *p)
{
    return p->cfg.nqueues;
}

const char *workers_pool_queue(const struct workers_pool *p, int i, int *threads, int *busy)
{
    struct workers_pool *m = (struct workers_pool *)(uintptr_t)p;
    if (i < 0 || i >= p->cfg.nqueues) {
        return NULL;
    }
    if (threads != NULL) {
        *threads = p->queues[i].limit;
    }
    if (busy != NULL) {
        *busy = atomic_load(&m->queues[i].busy);
    }
    return p->queues[i].name;
}

bool workers_pool_alive(const struct workers_pool *p)
{
    struct workers_pool *m = (struct workers_pool *)(uintptr_t)p;
    int64_t now = clock_mono_ns();
    /* generous: a loop may wait DB_ACQUIRE_TIMEOUT_MS for a connection and then a statement */
    int64_t limit = 60000000000LL + (int64_t)p->cfg.poll_ms * 1000000;
    if (!p->started || p->draining) {
        return true;
    }
    bool ok = now - atomic_load(&m->tick_fetch) < limit &&
              now - atomic_load(&m->tick_complete) < limit &&
              now - atomic_load(&m->tick_maint) < limit + 30000000000LL;
    if (!ok) {
        LOG_WARN("worker",
                 "worker pool loops stalled: fetch %.1f s, complete %.1f s, maintenance %.1f s ago",
                 (double)(now - atomic_load(&m->tick_fetch)) / 1e9,
                 (double)(now - atomic_load(&m->tick_complete)) / 1e9,
                 (double)(now - atomic_load(&m->tick_maint)) / 1e9);
    }
    return ok;
}

/* ---- job accessors ------------------------------------------------------------------------ */

const char *workers_job_id(const struct workers_job *job)
{
    return job->c.id;
}
const char *workers_job_kind(const struct workers_job *job)
{
    return job->c.kind;
}
const json_t *workers_job_params(const struct workers_job *job)
{
    return job->c.params;
}
int workers_job_attempt(const struct workers_job *job)
{
    return job->c.attempt;
}
int workers_job_max_attempts(const struct workers_job *job)
{
    return job->c.max_attempts;
}
struct queue *workers_job_queue(const struct workers_job *job)
{
    return job->pool->q;
}

bool workers_job_cancelled(const struct workers_job *job)
{
    return atomic_load(&job->slot->cancel);
}

void workers_job_set_result(struct workers_job *job, json_t *result)
{
    json_decref(job->result);
    job->result = result;
}

void workers_job_snooze(struct workers_job *job, int64_t ms)
{
    job->snooze_ms = ms > 0 ? ms : 1;
}

void workers_job_set_error_code(struct workers_job *job, const char *code)
{
    str_copy(job->code, sizeof job->code, code != NULL ? code : "");
}

void workers_job_progress(struct workers_job *job,
                          const char *step,
                          int index,
                          int nsteps,
                          const char *detail)
{
    int64_t now = clock_mono_ns();
    bool begins = step != NULL ? strncmp(step, job->step, QUEUE_STEP_MAX) != 0 ||
                                     index != job->step_index
                               : job->step[0] != '\0';
    if (!begins && (step == NULL || now - job->last_write_ns <
                                        (int64_t)WORKERS_PROGRESS_MIN_MS * 1000000)) {
        return;
    }
    struct queue_progress p = {
        .step = step, .index = index, .nsteps = nsteps, .detail = detail, .event = begins};
    if (begins && job->step[0] != '\0') {
        p.prev_step = job->step;
        p.prev_ms = (now - job->step_t0_ns) / 1000000;
    }
    struct err_info ei;
    err_info_clear(&ei);
    if (queue_progress(job->pool->q, job->c.id, job->c.attempt, &p, &ei) != ERR_OK &&
        !job->progress_failed) {
        job->progress_failed = true;
        LOG_WARN("worker", "job %s: progress not recorded: %s", job->c.id, ei.msg);
    }
    if (begins) {
        str_copy(job->step, sizeof job->step, step != NULL ? step : "");
        job->step_index = index;
        job->step_t0_ns = now;
    }
    job->last_write_ns = now;
}
