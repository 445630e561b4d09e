/* metrics.c - fixed-shape atomic counters for the HTTP side, rendered together with the
 * backend's job figures in Prometheus text format.
 * SPDX-License-Identifier: Apache-2.0 */
#include "metrics.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const int status_codes[] = {200, 201, 202, 204, 304, 400, 401, 403, 404, 405,
                                   409, 413, 415, 422, 429, 500, 502, 503, 504};
#define NSTATUS (ARRAY_LEN(status_codes) + 1) /* last slot: any other status */

static const double bucket_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                   0.1,    0.25,  0.5,    1.0,   2.5,  5.0};
#define NBUCKETS (ARRAY_LEN(bucket_le) + 1) /* last: +Inf */

#define METRICS_LABELS_MAX 256 /* one series' label text; route templates are short */

struct series {
    atomic_uint_fast64_t count;
    atomic_uint_fast64_t sum_ns;
    atomic_uint_fast64_t buckets[NBUCKETS];
};

struct metrics {
    size_t nroutes;            /* table rows; row nroutes is "unmatched" */
    const char *const *labels; /* borrowed route templates */
    struct series *s;          /* [(nroutes+1) * HTTP_METHOD__COUNT * NSTATUS] */
    atomic_uint_fast64_t refused[METRICS_REFUSED__COUNT];
};

static const char *const refused_names[METRICS_REFUSED__COUNT] = {"per_client", "total",
                                                                  "slow_headers"};

void metrics_conn_refused(struct metrics *m, enum metrics_refused reason)
{
    if (m && (unsigned)reason < METRICS_REFUSED__COUNT) {
        atomic_fetch_add_explicit(&m->refused[reason], 1, memory_order_relaxed);
    }
}

static const char *const state_names[METRICS_STATES] = {"queued",    "running", "retrying",
                                           "succeeded", "failed",  "cancelled"};

enum err metrics_create(size_t nroutes, const char *const *route_labels, struct metrics **out)
{
    struct metrics *m = calloc(1, sizeof *m);
    if (!m) {
        return ERR_NOMEM;
    }
    m->nroutes = nroutes;
    m->labels = route_labels;
    m->s = calloc((nroutes + 1) * HTTP_METHOD__COUNT * NSTATUS, sizeof *m->s);
    if (!m->s) {
        free(m);
        return ERR_NOMEM;
    }
    *out = m;
    return ERR_OK;
}

void metrics_destroy(struct metrics *m)
{
    if (!m) {
        return;
    }
    free(m->s);
    free(m);
}

static size_t status_index(int status)
{
    for (size_t i = 0; i < ARRAY_LEN(status_codes); i++) {
        if (status_codes[i] == status) {
            return i;
        }
    }
    return NSTATUS - 1;
}

void metrics_http_observe(
    struct metrics *m, int route, enum http_method method, int status, int64_t duration_ns)
{
    if (!m) {
        return;
    }
    size_t r = (route < 0 || (size_t)route >= m->nroutes) ? m->nroutes : (size_t)route;
    size_t mi = (unsigned)method < HTTP_METHOD__COUNT ? (size_t)method : HTTP_OTHER;
    struct series *s = &m->s[(r * HTTP_METHOD__COUNT + mi) * NSTATUS + status_index(status)];
    uint64_t ns = duration_ns > 0 ? (uint64_t)duration_ns : 0;
    double secs = (double)ns / 1e9;
    size_t b = 0;
    while (b < ARRAY_LEN(bucket_le) && secs > bucket_le[b]) {
        b++;
    }
    atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum_ns, ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        enum err e_ = (x);                                                                         \
        if (e_ != ERR_OK) {                                                                        \
            return e_;                                                                             \
        }                                                                                          \
    } while (0)

/* The label set of series @p i: method="GET",route="/v1/jobs/{id}",code="200". */
static void series_labels(const struct metrics *m, size_t i, char *lbl, size_t cap)
{
    size_t st = i % NSTATUS;
    size_t mi = (i / NSTATUS) % HTTP_METHOD__COUNT;
    size_t r = i / NSTATUS / HTTP_METHOD__COUNT;
    char code[8];
    if (st < ARRAY_LEN(status_codes)) {
        snprintf(code, sizeof code, "%d", status_codes[st]);
    } else {
        snprintf(code, sizeof code, "other");
    }
    snprintf(lbl, cap, "method=\"%s\",route=\"%s\",code=\"%s\"",
             http_method_name((enum http_method)mi), r < m->nroutes ? m->labels[r] : "unmatched",
             code);
}

static enum err render_http(const struct metrics *m, struct buf *out)
{
    TRY(buf_puts(out, "# HELP obsflow_http_requests_total HTTP requests answered, by method, "
                      "route template and status code.\n"
                      "# TYPE obsflow_http_requests_total counter\n"));
    size_t nser = (m->nroutes + 1) * HTTP_METHOD__COUNT * NSTATUS;
    for (size_t i = 0; i < nser; i++) {
        uint64_t c = atomic_load_explicit(&m->s[i].count, memory_order_relaxed);
        if (c == 0) {
            continue;
        }
        char lbl[METRICS_LABELS_MAX];
        series_labels(m, i, lbl, sizeof lbl);
        TRY(buf_printf(out, "obsflow_http_requests_total{%s} %llu\n", lbl, (unsigned long long)c));
    }
    TRY(buf_puts(out, "# HELP obsflow_http_request_duration_seconds Time from the request's "
                      "arrival to its response being queued.\n"
                      "# TYPE obsflow_http_request_duration_seconds histogram\n"));
    for (size_t i = 0; i < nser; i++) {
        const struct series *s = &m->s[i];
        uint64_t c = atomic_load_explicit(&s->count, memory_order_relaxed);
        if (c == 0) {
            continue;
        }
        char lbl[METRICS_LABELS_MAX];
        series_labels(m, i, lbl, sizeof lbl);
        uint64_t cum = 0;
        for (size_t b = 0; b < NBUCKETS; b++) {
            cum += atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
            if (b < ARRAY_LEN(bucket_le)) {
                TRY(buf_printf(out,
                               "obsflow_http_request_duration_seconds_bucket{%s,le=\"%g\"} %llu\n",
                               lbl, bucket_le[b], (unsigned long long)cum));
            } else {
                TRY(buf_printf(
                    out, "obsflow_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n", lbl,
                    (unsigned long long)cum));
            }
        }
        double sum = (double)atomic_load_explicit(&s->sum_ns, memory_order_relaxed) / 1e9;
        TRY(buf_printf(out, "obsflow_http_request_duration_seconds_sum{%s} %.9f\n", lbl, sum));
        TRY(buf_printf(out, "obsflow_http_request_duration_seconds_count{%s} %llu\n", lbl,
                       (unsigned long long)cum));
    }
    TRY(buf_puts(out, "# HELP obsflow_http_connections_refused_total Connections refused or cut "
                      "before a request: per_client (the address holds its limit), total (the "
                      "server is full), slow_headers (headers not complete in time).\n"
                      "# TYPE obsflow_http_connections_refused_total counter\n"));
    for (size_t i = 0; i < METRICS_REFUSED__COUNT; i++) {
        TRY(buf_printf(
            out, "obsflow_http_connections_refused_total{reason=\"%s\"} %llu\n", refused_names[i],
            (unsigned long long)atomic_load_explicit(&m->refused[i], memory_order_relaxed)));
    }
    return ERR_OK;
}

static enum err
gauge(struct buf *out, const char *name, const char *help, const char *type, int64_t v)
{
    if (v < 0) {
        return ERR_OK;
    }
    return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n", name, help, name, type, name,
                      (long long)v);
}

static enum err render_jobs(const struct metrics_jobs *j, struct buf *out)
{
    bool any_state = false;
    for (size_t i = 0; i < METRICS_STATES; i++) {
        any_state = any_state || j->by_state[i] >= 0;
    }
    if (any_state) {
        TRY(buf_puts(out, "# HELP obsflow_jobs Jobs in the database by state.\n"
                          "# TYPE obsflow_jobs gauge\n"));
        for (size_t i = 0; i < METRICS_STATES; i++) {
            if (j->by_state[i] >= 0) {
                TRY(buf_printf(out, "obsflow_jobs{state=\"%s\"} %lld\n", state_names[i],
                               (long long)j->by_state[i]));
            }
        }
    }
    if (j->oldest_queued_age_s >= 0) {
        TRY(buf_printf(out,
                       "# HELP obsflow_oldest_queued_job_age_seconds Age of the oldest job "
                       "that is due and waiting for a worker.\n"
                       "# TYPE obsflow_oldest_queued_job_age_seconds gauge\n"
                       "obsflow_oldest_queued_job_age_seconds %.3f\n",
                       j->oldest_queued_age_s));
    }
    TRY(gauge(out, "obsflow_jobs_claimed_total", "Jobs claimed by this process's workers.",
              "counter", j->claimed_total));
    TRY(gauge(out, "obsflow_jobs_succeeded_total", "Jobs this process finished successfully.",
              "counter", j->succeeded_total));
    TRY(gauge(out, "obsflow_jobs_failed_total", "Jobs this process failed for good.", "counter",
              j->failed_total));
    TRY(gauge(out, "obsflow_jobs_retried_total", "Job attempts this process scheduled for retry.",
              "counter", j->retried_total));
    TRY(gauge(out, "obsflow_workers", "Worker threads.", "gauge", j->workers));
    TRY(gauge(out, "obsflow_workers_busy", "Worker threads running a job now.", "gauge",
              j->workers_busy));
    if (j->nqueues > 0) {
        TRY(buf_puts(out, "# HELP obsflow_queue_workers Worker threads of a queue (OBSFLOW_QUEUES): "
                          "its jobs running at once in this process, at most.\n"
                          "# TYPE obsflow_queue_workers gauge\n"));
        for (int i = 0; i < j->nqueues; i++) {
            TRY(buf_printf(out, "obsflow_queue_workers{queue=\"%s\"} %lld\n", j->queues[i].name,
                           (long long)j->queues[i].workers));
        }
        TRY(buf_puts(out, "# HELP obsflow_queue_workers_busy Jobs of a queue running now in this "
                          "process.\n"
                          "# TYPE obsflow_queue_workers_busy gauge\n"));
        for (int i = 0; i < j->nqueues; i++) {
            TRY(buf_printf(out, "obsflow_queue_workers_busy{queue=\"%s\"} %lld\n",
                           j->queues[i].name, (long long)j->queues[i].busy));
        }
    }
    if (j->has_refstore) {
        TRY(buf_printf(out,
                       "# HELP obsflow_reference_requests_total References asked of the "
                       "reference cache by dataset jobs: answered from the cache (hit), starting "
                       "a download (miss), waiting for another job's download (wait).\n"
                       "# TYPE obsflow_reference_requests_total counter\n"
                       "obsflow_reference_requests_total{result=\"hit\"} %lld\n"
                       "obsflow_reference_requests_total{result=\"miss\"} %lld\n"
                       "obsflow_reference_requests_total{result=\"wait\"} %lld\n",
                       (long long)j->ref_hits, (long long)j->ref_misses,
                       (long long)j->ref_waits));
        TRY(gauge(out, "obsflow_reference_downloads_total",
                  "References downloaded from the reference store and placed in the cache.",
                  "counter", j->ref_downloads));
        TRY(gauge(out, "obsflow_reference_download_failures_total",
                  "Reference downloads that failed (not found, digest, incomplete FITS, "
                  "transfer).",
                  "counter", j->ref_download_failures));
        TRY(gauge(out, "obsflow_reference_cache_evictions_total",
                  "Files evicted from the reference cache to keep its cap.", "counter",
                  j->ref_evictions));
        TRY(gauge(out, "obsflow_reference_cache_files", "Files in the reference cache.", "gauge",
                  j->ref_files));
        TRY(gauge(out, "obsflow_reference_cache_bytes", "Bytes in the reference cache.", "gauge",
                  j->ref_bytes));
        TRY(gauge(out, "obsflow_reference_cache_max_bytes",
                  "Cap of the reference cache (OBSFLOW_REFERENCE_CACHE_MAX).", "gauge",
                  j->ref_max_bytes));
        TRY(gauge(out, "obsflow_reference_cache_pinned",
                  "References in use by running dataset jobs (never evicted).", "gauge",
                  j->ref_pinned));
    }
    TRY(gauge(out, "obsflow_db_pool_connections", "Connections in the database pool.", "gauge",
              j->db_pool_size));
    TRY(gauge(out, "obsflow_db_pool_in_use", "Database pool connections lent out now.", "gauge",
              j->db_pool_in_use));
    return ERR_OK;
}

enum err metrics_render(struct metrics *m, metrics_jobs_fn jobs, void *jobs_ctx, struct buf *out)
{
    struct metrics_jobs j;
    memset(&j, 0, sizeof j);
    for (size_t i = 0; i < METRICS_STATES; i++) {
        j.by_state[i] = -1;
    }
    j.oldest_queued_age_s = -1;
    j.claimed_total = j.succeeded_total = j.failed_total = j.retried_total = -1;
    j.workers = j.workers_busy = j.db_pool_size = j.db_pool_in_use = -1;
    if (jobs) {
        jobs(jobs_ctx, &j);
    }
    TRY(buf_puts(out, "# HELP obsflow_build_info Build of this obsflowd.\n"
                      "# TYPE obsflow_build_info gauge\n"
                      "obsflow_build_info{version=\"0.1.0\"} 1\n"));
    TRY(buf_printf(out,
                   "# HELP obsflow_ready Whether /readyz answers 200.\n"
                   "# TYPE obsflow_ready gauge\nobsflow_ready %d\n",
                   j.ready ? 1 : 0));
    TRY(render_http(m, out));
    TRY(render_jobs(&j, out));
    return ERR_OK;
}
