/* main.c - obsflowd: configuration, start-up (HTTP first, then PostgreSQL with retries and
 * migrations, then the worker pool), probes, metrics wiring and the SIGTERM/SIGINT drain.
 * Signals are blocked before any thread starts and taken with sigtimedwait on the main thread
 * only (a process-directed signal may otherwise land on an MHD thread, queue.md §6.2).
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"
#include "http.h"
#include "kinds.h"
#include "metrics.h"
#include "router.h"

#include "core/atomic_file.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "db/db.h"
#include "queue/queue.h"
#include "fits2caom/fits2caom.h"
#include "harvest/harvest.h"
#include "profile/profile.h"
#include "refstore/refstore.h"
#include "registry/registry.h"
#include "repo/repo.h"
#include "storage/storage.h"
#include "workers/workers.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define READY_CACHE_NS   (1000LL * 1000 * 1000) /* /readyz database check cached 1 s */
#define STATS_CACHE_NS   (2000LL * 1000 * 1000) /* /metrics job counts cached 2 s */
#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS   10000

#ifndef OBSFLOW_OPENAPI_DEFAULT
#define OBSFLOW_OPENAPI_DEFAULT "/usr/share/obsflow/openapi.yaml"
#endif

/* Process state shared with the probe and metrics callbacks. */
struct daemon {
    struct config cfg;
    struct db_pool *db;
    struct queue *queue;
    struct workers_pool *workers;
    struct metrics *metrics;
    struct http_server *http;
    struct repo_collections *caom_cols;
    struct repo_store *repo;
    struct storage *storage;          /* inputs of ingest jobs */
    struct refstore *refstore;        /* OBSFLOW_REFERENCE_URI, shared by dataset jobs; NULL */
    struct repo_remote_opts remote;   /* OBSFLOW_CAOM_REPO_URL ... when set */
    char blueprint_dir[CONFIG_STR_MAX + 16];
    struct profile_set *profiles; /* OBSFLOW_CONFIG_DIR/profiles, loaded before anything runs */
    struct job_ingest_ctx ingest;
    struct job_dataset_ctx dataset;
    struct harv *harv; /* collections (lib/harvest) */
    struct reg *reg;   /* the dataset registry (lib/registry) */
    struct job_collection_ctx collection;
    pthread_t scheduler;     /* enqueues due collection schedule slots */
    bool scheduler_started;
    atomic_bool scheduler_stop;
    atomic_bool store_ready; /* migrations applied: the API may use the database */
    atomic_bool draining;    /* SIGTERM received: not ready any more */
    atomic_bool workers_up;
    pthread_mutex_t mu;  /* guards the caches below (never held across a database call) */
    int64_t ready_at_ns; /* when ready_ok was computed */
    bool ready_ok;
    bool ready_busy; /* a thread is refreshing ready_ok: the others use the cached value */
    char ready_msg[256];
    int64_t stats_at_ns;
    bool stats_busy;
    struct queue_stats stats;
    bool stats_ok;
};

static bool store_ready(void *ctx)
{
    struct daemon *d = ctx;
    return atomic_load(&d->store_ready);
}

static bool probe_alive(void *ctx, struct err_info *ei)
{
    struct daemon *d = ctx;
    if (atomic_load(&d->workers_up) && d->workers && !atomic_load(&d->draining) &&
        !workers_pool_alive(d->workers)) {
        err_set(ei, ERR_UNAVAILABLE, "a worker pool loop has not ticked for 10 s");
        return false;
    }
    return true;
}

static bool probe_ready(void *ctx, struct err_info *ei)
{
    struct daemon *d = ctx;
    if (atomic_load(&d->draining)) {
        err_set(ei, ERR_UNAVAILABLE, "draining: shutting down");
        return false;
    }
    if (!atomic_load(&d->store_ready)) {
        err_set(ei, ERR_UNAVAILABLE,
                "starting: database not reached or migrations not applied yet");
        return false;
    }
    /* one thread refreshes the cached answer at a time, without holding the lock across the
     * database call: a hung database must not pile every HTTP thread up behind /readyz */
    pthread_mutex_lock(&d->mu);
    int64_t now = clock_mono_ns();
    bool refresh = !d->ready_busy && (d->ready_at_ns == 0 || now - d->ready_at_ns > READY_CACHE_NS);
    if (refresh) {
        d->ready_busy = true;
        pthread_mutex_unlock(&d->mu);
        struct err_info pe;
        err_info_clear(&pe);
        bool migrated = false;
        enum err e = db_ping(d->db, &pe);
        if (e == ERR_OK) {
            e = db_migrations_applied(d->db, &migrated, &pe);
        }
        pthread_mutex_lock(&d->mu);
        d->ready_ok = e == ERR_OK && migrated;
        if (e != ERR_OK) {
            snprintf(d->ready_msg, sizeof d->ready_msg, "database unreachable: %s", pe.msg);
        } else if (!migrated) {
            snprintf(d->ready_msg, sizeof d->ready_msg, "database migrations not applied");
        }
        d->ready_at_ns = clock_mono_ns();
        d->ready_busy = false;
    }
    bool ok = d->ready_at_ns != 0 && d->ready_ok;
    if (!ok) {
        err_set(ei, ERR_UNAVAILABLE, "%s",
                d->ready_msg[0] ? d->ready_msg : "checking the database");
    }
    pthread_mutex_unlock(&d->mu);
    return ok;
}

static void jobs_metrics(void *ctx, struct metrics_jobs *out)
{
    struct daemon *d = ctx;
    struct err_info ei;
    out->ready = probe_ready(d, &ei);
    if (d->workers) {
        out->workers = workers_pool_threads(d->workers);
        out->workers_busy = workers_pool_busy(d->workers);
        int nq = workers_pool_queues(d->workers);
        for (int i = 0; i < nq && out->nqueues < METRICS_QUEUES_MAX; i++) {
            int threads = 0, busy = 0;
            const char *name = workers_pool_queue(d->workers, i, &threads, &busy);
            out->queues[out->nqueues].name = name;
            out->queues[out->nqueues].workers = threads;
            out->queues[out->nqueues].busy = busy;
            out->nqueues++;
        }
    } else {
        out->workers = 0;
        out->workers_busy = 0;
    }
    if (d->refstore) {
        struct refstore_stats rs;
        refstore_stats_get(d->refstore, &rs);
        out->has_refstore = true;
        out->ref_hits = (int64_t)rs.hits;
        out->ref_misses = (int64_t)rs.misses;
        out->ref_waits = (int64_t)rs.waits;
        out->ref_downloads = (int64_t)rs.fetches;
        out->ref_download_failures = (int64_t)rs.fetch_failures;
        out->ref_evictions = (int64_t)rs.evictions;
        out->ref_files = (int64_t)rs.files;
        out->ref_bytes = (int64_t)rs.bytes;
        out->ref_max_bytes = (int64_t)rs.max_bytes;
        out->ref_pinned = (int64_t)rs.pinned;
    }
    out->db_pool_size = db_pool_size(d->db);
    out->db_pool_in_use = db_pool_in_use(d->db);
    if (!atomic_load(&d->store_ready)) {
        return;
    }
    pthread_mutex_lock(&d->mu);
    int64_t now = clock_mono_ns();
    if (!d->stats_busy && (d->stats_at_ns == 0 || now - d->stats_at_ns > STATS_CACHE_NS)) {
        d->stats_busy = true;
        pthread_mutex_unlock(&d->mu);
        err_info_clear(&ei);
        struct queue_stats st;
        enum err e = queue_stats(d->queue, &st, &ei);
        if (e != ERR_OK) {
            LOG_WARN("metrics", "could not read job statistics: %s", ei.msg);
        }
        pthread_mutex_lock(&d->mu);
        if (e == ERR_OK) {
            d->stats = st;
            d->stats_ok = true;
        }
        d->stats_at_ns = clock_mono_ns();
        d->stats_busy = false;
    }
    if (d->stats_ok) {
        _Static_assert(ARRAY_LEN(d->stats.jobs_by_state) == METRICS_STATES,
                       "queue and metrics disagree on the job states");
        for (size_t i = 0; i < METRICS_STATES; i++) {
            out->by_state[i] = d->stats.jobs_by_state[i];
        }
        out->oldest_queued_age_s = d->stats.oldest_queued_age_s;
        out->claimed_total = (int64_t)d->stats.claimed_total;
        out->succeeded_total = (int64_t)d->stats.succeeded_total;
        out->failed_total = (int64_t)d->stats.failed_total;
        out->retried_total = (int64_t)d->stats.retried_total;
    }
    pthread_mutex_unlock(&d->mu);
}

/* Write "host:port\n" to @p path atomically (tests poll for it). */
static enum err write_port_file(const char *path, const char *bound, struct err_info *ei)
{
    char line[CONFIG_STR_MAX + 2];
    int n = snprintf(line, sizeof line, "%s\n", bound);
    if (n < 0 || (size_t)n >= sizeof line) {
        return err_set(ei, ERR_TOO_LARGE, "port file line too long");
    }
    enum err e = atomic_file_put(path, line, (size_t)n, false, ei);
    if (e != ERR_OK) {
        err_prefix(ei, "could not write port file: ");
    }
    return e;
}

/* Wait up to @p ms for SIGTERM/SIGINT; returns the signal or 0 on timeout. */
static int wait_signal(const sigset_t *set, int64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    for (;;) {
        int sig = ms < 0 ? 0 : sigtimedwait(set, NULL, &ts);
        if (ms < 0) {
            if (sigwait(set, &sig) == 0) {
                return sig;
            }
            continue;
        }
        if (sig > 0) {
            return sig;
        }
        if (errno == EAGAIN) {
            return 0;
        }
        /* EINTR: try again */
    }
}

/* Connect and migrate with backoff until done or a signal arrives (returns the signal). */
static int start_database(struct daemon *d, const sigset_t *set)
{
    int64_t backoff = BACKOFF_FIRST_MS;
    for (int attempt = 1;; attempt++) {
        struct err_info ei;
        err_info_clear(&ei);
        int applied = 0;
        enum err e = db_migrate(d->db, &applied, &ei);
        if (e == ERR_OK) {
            LOG_INFO("main", "database ready: %d migration(s) applied now, %d known", applied,
                     db_migrations_known());
            return 0;
        }
        if (e == ERR_INVALID) {
            LOG_ERROR("main", "database schema is newer than this obsflowd: %s", ei.msg);
        } else {
            LOG_WARN("main",
                     "could not prepare the database (attempt %d): %s: %s; retrying in %.1f s",
                     attempt, err_str(e), ei.msg, (double)backoff / 1000.0);
        }
        int sig = wait_signal(set, backoff);
        if (sig) {
            return sig;
        }
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
}

/* During the drain a second SIGTERM/SIGINT ends the process at once (an impatient operator's
 * second Ctrl-C); the unfinished jobs are then rescued by another process after their lease. */
static void *second_signal(void *arg)
{
    const sigset_t *set = arg;
    int sig = 0;
    if (sigwait(set, &sig) == 0) {
        LOG_WARN("main",
                 "second %s during the drain: exiting now; unfinished jobs will be rescued "
                 "after their lease",
                 sig == SIGINT ? "SIGINT" : "SIGTERM");
        _exit(1);
    }
    return NULL;
}

static const char *find_openapi(const struct config *cfg)
{
    if (cfg->openapi_path[0]) {
        return cfg->openapi_path;
    }
    if (access(OBSFLOW_OPENAPI_DEFAULT, R_OK) == 0) {
        return OBSFLOW_OPENAPI_DEFAULT;
    }
    if (access("openapi/openapi.yaml", R_OK) == 0) {
        return "openapi/openapi.yaml";
    }
    return NULL;
}

#define CAOM_COLLECTIONS_FILE     "caom2-collections.conf"
#define CAOM_COLLECTIONS_FILE_MAX (1u << 20)

/* The collections of the built-in repository: OBSFLOW_CAOM_COLLECTIONS, then the entries of
 * <config dir>/caom2-collections.conf when that file exists. */
static enum err caom_setup(struct daemon *d, struct err_info *ei)
{
    enum err e = repo_collections_parse(d->cfg.caom_collections, &d->caom_cols, ei);
    if (e != ERR_OK) {
        return e;
    }
    char path[CONFIG_STR_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", d->cfg.config_dir, CAOM_COLLECTIONS_FILE);
    FILE *f = fopen(path, "rb");
    if (f) {
        char *text = malloc(CAOM_COLLECTIONS_FILE_MAX + 1);
        size_t n = text ? fread(text, 1, CAOM_COLLECTIONS_FILE_MAX + 1, f) : 0;
        bool bad = ferror(f) != 0;
        fclose(f);
        if (!text) {
            return err_set(ei, ERR_NOMEM, "out of memory");
        }
        if (bad || n > CAOM_COLLECTIONS_FILE_MAX) {
            free(text);
            return err_set(ei, ERR_INVALID, "%s: unreadable or over %u bytes", path,
                           CAOM_COLLECTIONS_FILE_MAX);
        }
        e = repo_collections_add_file(d->caom_cols, text, n, path, ei);
        free(text);
        if (e != ERR_OK) {
            return e;
        }
        LOG_INFO("main", "CAOM repository collections read from %s", path);
    } else if (errno != ENOENT) {
        return err_set(ei, ERR_IO, "could not read %s: %s", path, ERR_ERRNO(errno));
    }
    /* compute collections project with wcslib (lib/caom's caom_wcs_pix2sky), as the
     * clients' --compute does */
    return repo_store_create(d->db, d->caom_cols, &d->repo, ei);
}

/* The ingest kind's shared context: input storage (data roots, AWS_* credentials), the push
 * target (the built-in repository, or OBSFLOW_CAOM_REPO_URL), blueprints and scratch. */
static enum err kinds_setup(struct daemon *d, struct err_info *ei)
{
    struct storage_s3_config s3;
    enum err e = storage_s3_config_from_env(getenv, &s3, ei);
    if (e != ERR_OK) {
        return e;
    }
    /* astroquery: inputs of dataset jobs (the service reads the environment, lib/ never) */
    const char *archive = getenv("OBSFLOW_ARCHIVE_URL");
    struct storage_config sc = {.data_roots = d->cfg.data_roots,
                                .s3 = &s3,
                                .archive_url_template = archive && *archive ? archive : NULL,
                                .archive_token = getenv("OBSFLOW_ARCHIVE_TOKEN")};
    if ((e = storage_create(&sc, &d->storage, ei)) != ERR_OK) {
        return e;
    }
    snprintf(d->blueprint_dir, sizeof d->blueprint_dir, "%s/blueprints", d->cfg.config_dir);
    d->ingest.storage = d->storage;
    d->ingest.store = d->repo;
    d->ingest.blueprint_dir = d->blueprint_dir;
    d->ingest.work_dir = d->cfg.work_dir;
    d->ingest.remote = NULL;
    if (d->cfg.caom_repo_url[0]) {
        d->remote.url = d->cfg.caom_repo_url;
        d->remote.token = d->cfg.caom_repo_token[0] ? d->cfg.caom_repo_token : NULL;
        d->remote.cert = d->cfg.caom_repo_cert[0] ? d->cfg.caom_repo_cert : NULL;
        /* retries belong to the job queue (backoff across attempts, visible in the job) */
        d->remote.retries = -1;
        d->ingest.remote = &d->remote;
        LOG_INFO("main", "ingest jobs push to %s", d->cfg.caom_repo_url);
    }
    if (d->cfg.reference_uri[0]) {
        /* one reference store and cache for every dataset job of this process */
        struct refstore_config rc = {.uri = d->cfg.reference_uri,
                                     .cache_dir = d->cfg.reference_cache,
                                     .max_bytes = d->cfg.reference_cache_max,
                                     .s3 = &s3};
        if ((e = refstore_create(&rc, &d->refstore, ei)) != ERR_OK) {
            err_prefix(ei, "OBSFLOW_REFERENCE_URI=%s: ", d->cfg.reference_uri);
            return e;
        }
        LOG_INFO("main", "references from %s through the cache %s (at most %llu bytes)",
                 d->cfg.reference_uri, refstore_cache_dir(d->refstore),
                 (unsigned long long)d->cfg.reference_cache_max);
    }
    d->dataset.refstore = d->refstore;
    d->dataset.storage = d->storage;
    d->dataset.config_dir = d->cfg.config_dir;
    d->dataset.work_dir = d->cfg.work_dir;
    d->dataset.ingest = &d->ingest; /* the CAOM step pushes where ingest jobs do */
    d->collection.harv = d->harv;
    d->collection.storage = d->storage;
    d->collection.scratch_dir = d->cfg.work_dir[0] ? d->cfg.work_dir : NULL;
    struct kinds_env env = {
        .ingest = &d->ingest, .dataset = &d->dataset, .collection = &d->collection};
    return kinds_register_all(d->workers, &env, ei);
}

/* Every second, the due schedule slots of collections (one replica enqueues each slot). */
static void *scheduler_main(void *arg)
{
    struct daemon *d = arg;
    bool failing = false;
    while (!atomic_load(&d->scheduler_stop)) {
        struct err_info ei;
        int n = 0;
        err_info_clear(&ei);
        if (harv_schedule_tick(d->harv, &n, &ei) != ERR_OK) {
            if (!failing) {
                LOG_WARN("scheduler", "collection schedules not checked: %s", ei.msg);
            }
            failing = true;
        } else {
            if (failing) {
                LOG_INFO("scheduler", "collection schedules checked again");
            }
            failing = false;
            if (n > 0) {
                LOG_INFO("scheduler", "%d scheduled collection run(s) enqueued", n);
            }
        }
        for (int i = 0; i < 10 && !atomic_load(&d->scheduler_stop); i++) {
            struct timespec ts = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

static void scheduler_stop(struct daemon *d)
{
    if (d->scheduler_started) {
        atomic_store(&d->scheduler_stop, true);
        pthread_join(d->scheduler, NULL);
        d->scheduler_started = false;
    }
}

/* What a collection definition's job.kind may name: a kind of this deployment. */
static bool kind_known(const char *kind, void *ud)
{
    const struct queue_config *qc = ud;
    for (int i = 0; i < qc->nkinds; i++) {
        if (strcmp(qc->kinds[i].name, kind) == 0) {
            return strcmp(kind, HARV_KIND) != 0; /* a collection does not fan out collections */
        }
    }
    return false;
}

static void shutdown_all(struct daemon *d)
{
    scheduler_stop(d);
    http_stop(d->http);
    workers_pool_destroy(d->workers);
    refstore_destroy(d->refstore);
    storage_destroy(d->storage);
    repo_store_free(d->repo);
    repo_collections_free(d->caom_cols);
    harv_destroy(d->harv);
    reg_destroy(d->reg);
    queue_destroy(d->queue);
    db_pool_destroy(d->db);
    metrics_destroy(d->metrics);
    profile_set_destroy(d->profiles);
    pthread_mutex_destroy(&d->mu);
}

/* libpq's own lines (a server ending the session: "FATAL: terminating connection ...") go
 * to our log, not to stderr as bare text */
static void db_notice(void *ud, const char *severity, const char *message)
{
    (void)ud;
    if (strcmp(severity, "NOTICE") == 0 || strcmp(severity, "INFO") == 0 ||
        strcmp(severity, "LOG") == 0 || strcmp(severity, "DEBUG") == 0) {
        LOG_DEBUG("db", "postgresql %s: %s", severity, message);
    } else {
        LOG_WARN("db", "postgresql %s: %s", severity, message);
    }
}

int main(int argc, char **argv)
{
    static struct daemon d;
    struct err_info ei;
    err_info_clear(&ei);
    pthread_mutex_init(&d.mu, NULL);

    if (config_load(&d.cfg, argc, argv, &ei) != ERR_OK) {
        fprintf(stderr, "obsflowd: %s\n%s", ei.msg, config_usage);
        return 2;
    }
    if (d.cfg.show_help) {
        fputs(config_usage, stdout);
        return 0;
    }
    if (d.cfg.show_version) {
        puts("obsflowd 0.1.0");
        return 0;
    }
    log_configure(d.cfg.log_level, d.cfg.log_format);
    {
        /* an invalid profile stops the start with its "file:line: what is wrong" */
        char pdir[CONFIG_STR_MAX + 16];
        snprintf(d.blueprint_dir, sizeof d.blueprint_dir, "%s/blueprints", d.cfg.config_dir);
        snprintf(pdir, sizeof pdir, "%s/profiles", d.cfg.config_dir);
        if (profile_set_load_dir(pdir, d.blueprint_dir, &d.profiles, &ei) != ERR_OK) {
            fprintf(stderr, "obsflowd: %s\n", ei.msg);
            return 2;
        }
        d.ingest.profiles = d.profiles;
        LOG_INFO("main", "%zu profile(s) from %s", profile_set_count(d.profiles), pdir);
    }

    /* before any thread: signals only through sigtimedwait on this thread */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, NULL);

    int rc = 1;
    db_notice_hook_set(db_notice, NULL);
    /* the kinds this obsflowd runs (service/kinds.c): POST /v1/jobs refuses any other */
    static struct queue_kind qkinds[KINDS_MAX];
    struct queue_config qc = {.kinds = qkinds, .nkinds = kinds_queue_table(d.profiles, qkinds)};
    if (db_pool_create(d.cfg.database_url, d.cfg.db_pool_size, &d.db, &ei) != ERR_OK ||
        queue_create(d.db, &qc, &d.queue, &ei) != ERR_OK) {
        LOG_ERROR("main", "could not set up the database pool: %s", ei.msg);
        goto out;
    }
    struct coll_env cenv = {.profiles = d.profiles, .kind_known = kind_known, .kind_ud = &qc};
    if (harv_create(d.db, d.queue, &cenv, &d.harv, &ei) != ERR_OK ||
        reg_create(d.db, &d.reg, &ei) != ERR_OK) {
        LOG_ERROR("main", "%s", ei.msg);
        goto out;
    }
    d.ingest.reg = d.reg; /* registry_run of ingest and dataset jobs */
    if (d.cfg.workers > 0) {
        static struct workers_queue_limit ql[CONFIG_QUEUES_MAX];
        _Static_assert(CONFIG_QUEUES_MAX <= WORKERS_QUEUES_MAX, "OBSFLOW_QUEUES holds too many");
        _Static_assert(CONFIG_QUEUE_NAME == QUEUE_NAME_MAX, "queue name lengths disagree");
        for (int i = 0; i < d.cfg.nqueues; i++) {
            str_copy(ql[i].name, sizeof ql[i].name, d.cfg.queues[i].name);
            ql[i].threads = d.cfg.queues[i].workers;
        }
        struct workers_config wc = {
            .threads = d.cfg.workers, .queues = ql, .nqueues = d.cfg.nqueues};
        if (d.cfg.nqueues > 0 && d.cfg.workers_given > 0 && d.cfg.workers_given != d.cfg.workers) {
            LOG_WARN("main",
                     "OBSFLOW_WORKERS=%d is ignored: OBSFLOW_QUEUES gives each queue its own "
                     "threads, %d in all",
                     d.cfg.workers_given, d.cfg.workers);
        }
        bool has_collection = d.cfg.nqueues == 0;
        for (int i = 0; i < d.cfg.nqueues; i++) {
            has_collection = has_collection || strcmp(d.cfg.queues[i].name, HARV_QUEUE) == 0;
        }
        if (!has_collection) {
            LOG_WARN("main", "OBSFLOW_QUEUES names no \"%s\" queue: collection runs wait for "
                     "another replica that has one", HARV_QUEUE);
        }
        if (workers_pool_create(d.queue, &wc, &d.workers, &ei) != ERR_OK) {
            LOG_ERROR("main", "could not create the worker pool: %s", ei.msg);
            goto out;
        }
    }
    if (caom_setup(&d, &ei) != ERR_OK) {
        LOG_ERROR("main", "CAOM repository: %s", ei.msg);
        goto out;
    }
    if (d.workers && kinds_setup(&d, &ei) != ERR_OK) {
        LOG_ERROR("main", "job kinds: %s", ei.msg);
        goto out;
    }
    /* the metrics keep the labels borrowed: static, and sized to the table */
    static const char *labels[ROUTES_MAX];
    if (routes_len > ARRAY_LEN(labels)) {
        LOG_ERROR("main", "the route table has %zu rows; ROUTES_MAX is %d", routes_len,
                  ROUTES_MAX);
        goto out;
    }
    for (size_t i = 0; i < routes_len; i++) {
        labels[i] = routes[i].pattern;
    }
    if (metrics_create(routes_len, labels, &d.metrics) != ERR_OK) {
        LOG_ERROR("main", "out of memory");
        goto out;
    }
    static struct app app;
    app.queue = d.queue;
    app.ready = probe_ready;
    app.alive = probe_alive;
    app.probe_ctx = &d;
    app.openapi_path = find_openapi(&d.cfg);
    app.repo = d.repo;
    app.api_token = d.cfg.api_token;
    app.caom_base = d.cfg.caom_base;
    app.profiles = d.profiles;
    app.harvest = d.harv;
    app.registry = d.reg;

    struct http_opts ho = {
        .host = d.cfg.listen_host,
        .port = d.cfg.listen_port,
        .threads = d.cfg.http_threads,
        .app = &app,
        .metrics = d.metrics,
        .jobs_fn = jobs_metrics,
        .jobs_ctx = &d,
        .store_ready = store_ready,
        .store_ctx = &d,
        .api_token = d.cfg.api_token,
        .caom_base = d.cfg.caom_base,
    };
    if (http_start(&ho, &d.http, &ei) != ERR_OK) {
        LOG_ERROR("main", "%s", ei.msg);
        goto out;
    }
    LOG_INFO("main", "listening on http://%s (workers %d, db pool %d, http threads %d, auth %s)",
             http_bound(d.http), d.cfg.workers, d.cfg.db_pool_size, d.cfg.http_threads,
             d.cfg.api_token[0] ? "bearer token" : "open");
    if (!d.cfg.api_token[0] && strcmp(d.cfg.listen_host, "127.0.0.1") != 0 &&
        strcmp(d.cfg.listen_host, "::1") != 0 && strcmp(d.cfg.listen_host, "localhost") != 0) {
        LOG_WARN("main",
                 "OBSFLOW_API_TOKEN is not set and %s is not a loopback address: "
                 "anyone who can reach it may submit and cancel jobs",
                 d.cfg.listen_host);
    }
    if (d.cfg.port_file[0] && write_port_file(d.cfg.port_file, http_bound(d.http), &ei) != ERR_OK) {
        LOG_ERROR("main", "%s", ei.msg);
        goto out;
    }

    int sig = start_database(&d, &set);
    if (!sig) {
        /* the YAML files of collections/ beside the profiles: an invalid one stops the start (file:line) */
        char cdir[CONFIG_STR_MAX + 16];
        int loaded = 0;
        snprintf(cdir, sizeof cdir, "%s/collections", d.cfg.config_dir);
        if (harv_load_dir(d.harv, cdir, &loaded, &ei) != ERR_OK) {
            LOG_ERROR("main", "%s", ei.msg);
            rc = 2;
            goto out;
        }
        LOG_INFO("main", "%d collection definition(s) from %s", loaded, cdir);
        atomic_store(&d.store_ready, true);
        if (d.workers) {
            if (workers_pool_start(d.workers, &ei) != ERR_OK) {
                LOG_ERROR("main", "could not start the worker pool: %s", ei.msg);
                goto out;
            }
            atomic_store(&d.workers_up, true);
        }
        d.scheduler_started = pthread_create(&d.scheduler, NULL, scheduler_main, &d) == 0;
        if (!d.scheduler_started) {
            LOG_ERROR("main", "could not start the collection scheduler");
            goto out;
        }
        LOG_INFO("main", "ready");
        sig = wait_signal(&set, -1);
    }

    /* drain: not ready, stop accepting, stop claiming, let running jobs finish, release */
    atomic_store(&d.draining, true);
    LOG_INFO("main", "%s received: draining (grace %d s)", sig == SIGINT ? "SIGINT" : "SIGTERM",
             d.cfg.shutdown_grace_s);
    http_quiesce(d.http);
    scheduler_stop(&d);
    pthread_t watcher;
    if (pthread_create(&watcher, NULL, second_signal, &set) == 0) {
        pthread_detach(watcher);
    }
    int released = 0;
    if (d.workers) {
        released = workers_pool_drain(d.workers, d.cfg.shutdown_grace_s);
    }
    LOG_INFO("main", "shutdown complete: %d unfinished job(s) released to the queue", released);
    rc = 0;
out:
    shutdown_all(&d);
    return rc;
}
