/* metrics.h - Prometheus text exposition of obsflowd: HTTP request counters and latency
 * histograms by method, route template and status, plus the job and worker figures that
 * the backend reports at scrape time.
 * Thread-safe: observation uses relaxed atomics; rendering may run concurrently with it.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_SERVICE_METRICS_H
#define OBSFLOW_SERVICE_METRICS_H

#include "handlers.h"

#include <stdbool.h>
#include <stdint.h>

struct metrics;

#define METRICS_STATES     6  /* job states, in the order of by_state */
#define METRICS_QUEUES_MAX 32 /* named queues of OBSFLOW_QUEUES */

/** Job-side figures, filled by the backend at scrape time (any field may stay -1 = unknown). */
struct metrics_jobs {
    int64_t by_state[METRICS_STATES];        /* queued, running, retrying, succeeded, failed, cancelled */
    double oldest_queued_age_s; /* age of the oldest runnable queued job; 0 when none */
    int64_t claimed_total;      /* this process, since start */
    int64_t succeeded_total;
    int64_t failed_total;
    int64_t retried_total;
    int64_t workers;        /* worker threads */
    int64_t workers_busy;   /* threads running a job now */
    int nqueues;            /* OBSFLOW_QUEUES: named queues below (0 = unset) */
    struct {
        const char *name; /* borrowed: [A-Za-z0-9_.-], no escaping needed */
        int64_t workers;  /* threads of the queue */
        int64_t busy;     /* its jobs running now */
    } queues[METRICS_QUEUES_MAX];
    /* the reference store of dataset jobs (OBSFLOW_REFERENCE_URI); has_refstore false: none */
    bool has_refstore;
    int64_t ref_hits, ref_misses, ref_waits;    /* requests answered by the cache, that started
                                                   a download, that waited for one */
    int64_t ref_downloads, ref_download_failures, ref_evictions;
    int64_t ref_files, ref_bytes, ref_max_bytes, ref_pinned; /* the cache now */
    int64_t db_pool_size;   /* connections in the pool */
    int64_t db_pool_in_use; /* connections lent out now */
    bool ready;             /* /readyz would answer 200 */
};

/** Backend callback that fills @p out; called on the scraping thread. */
typedef void (*metrics_jobs_fn)(void *ctx, struct metrics_jobs *out);

/** Create the registry for a route table of @p nroutes rows. */
NODISCARD enum err
metrics_create(size_t nroutes, const char *const *route_labels, struct metrics **out);

/** Free; NULL is a no-op. */
void metrics_destroy(struct metrics *m);

/** Count one finished request. @p route is the table row or -1 for an unmatched path. */
void metrics_http_observe(
    struct metrics *m, int route, enum http_method method, int status, int64_t duration_ns);

/** Why a connection was refused or cut before its request
 * (obsflow_http_connections_refused_total). */
enum metrics_refused {
    METRICS_REFUSED_PER_CLIENT,   /* its address holds the per-client limit already */
    METRICS_REFUSED_TOTAL,        /* the server holds its connection limit */
    METRICS_REFUSED_SLOW_HEADERS, /* its request headers were not complete in time */
    METRICS_REFUSED__COUNT
};

/** Count one refused or cut connection. */
void metrics_conn_refused(struct metrics *m, enum metrics_refused reason);

/** Render everything into @p out (text format 0.0.4). @p jobs may be NULL. */
NODISCARD enum err
metrics_render(struct metrics *m, metrics_jobs_fn jobs, void *jobs_ctx, struct buf *out);

#endif
