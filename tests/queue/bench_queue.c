/* bench_queue.c - queue throughput figures (not a test):
 *   bench_queue baseline --db CONNINFO [--jobs N] [--clients C]
 *       raw-SQL baseline on a minimal River-like table: each transaction claims 100 jobs with
 *       FOR UPDATE SKIP LOCKED and completes the same 100; C connections in parallel.
 *   bench_queue workers --db CONNINFO [--jobs N] [--threads T]
 *       lib/queue + the worker pool: enqueue N noop jobs in batches of 1000, then drain them.
 *   bench_queue all ... both on the same database, and the ratio.
 * Prints lines "queue.<figure> key=value ...". Also used by the end-to-end HTTP bench for the
 * baseline. SPDX-License-Identifier: Apache-2.0 */
#include "db/db.h"
#include "queue/queue.h"
#include "workers.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define BENCH_BATCH 100

struct bench_opts {
    const char *db;
    int jobs;
    int clients;
    int threads;
    int fetchers; /* 0 = the pool's default */
    int batch;    /* claim batch of the pool; 0 = its default */
};

static void die(const char *what, const struct err_info *ei)
{
    fprintf(stderr, "bench_queue: %s: %s\n", what, ei->msg);
    exit(1);
}

static void sql(struct db_pool *p, const char *s)
{
    struct db_conn *c = NULL;
    struct err_info ei;
    if (db_acquire(p, 10000, &c, &ei) != ERR_OK ||
        db_exec(c, NULL, s, 0, NULL, NULL, &ei) != ERR_OK) {
        die(s, &ei);
    }
    db_release(p, c);
}

static long long sql_int(struct db_pool *p, const char *s)
{
    struct db_conn *c = NULL;
    struct db_res *r = NULL;
    struct err_info ei;
    int64_t v = 0;
    if (db_acquire(p, 10000, &c, &ei) != ERR_OK ||
        db_exec(c, NULL, s, 0, NULL, &r, &ei) != ERR_OK) {
        die(s, &ei);
    }
    const char *t = db_res_get(r, 0, 0);
    if (t == NULL || str_to_i64(t, INT64_MIN, INT64_MAX, &v) != ERR_OK) {
        v = 0;
    }
    db_res_free(r);
    db_release(p, c);
    return (long long)v;
}

/* ---- CPU accounting: less sensitive to a loaded machine than wall time ---------------------- */

/* CPU seconds used so far by the PostgreSQL server whose postmaster is BENCH_PG_PID (itself and
 * its current children: backends, walwriter, checkpointer ...); 0 when unknown. */
static double pg_cpu_s(void)
{
    const char *e = getenv("BENCH_PG_PID");
    int64_t pm = 0;
    if (e == NULL || str_to_i64(e, 1, INT32_MAX, &pm) != ERR_OK) {
        return 0;
    }
    DIR *d = opendir("/proc");
    if (d == NULL) {
        return 0;
    }
    long hz = sysconf(_SC_CLK_TCK);
    unsigned long long ticks = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char path[300], buf[1024];
        if (de->d_name[0] < '0' || de->d_name[0] > '9') {
            continue;
        }
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL) {
            continue;
        }
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *rp = strrchr(buf, ')'); /* the command may contain spaces */
        int ppid = 0;
        unsigned long ut = 0, st = 0;
        if (rp == NULL || sscanf(rp + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                                 &ppid, &ut, &st) != 3) {
            continue;
        }
        int64_t pid = 0;
        if (str_to_i64(de->d_name, 1, INT32_MAX, &pid) != ERR_OK) {
            continue;
        }
        if (pid == pm || ppid == pm) {
            ticks += ut + st;
        }
    }
    closedir(d);
    return hz > 0 ? (double)ticks / (double)hz : 0;
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct cpu_mark {
    double pg, self;
};

static struct cpu_mark cpu_now(void)
{
    return (struct cpu_mark){pg_cpu_s(), self_cpu_s()};
}

/* " server_cpu_us_per_job=.. client_cpu_us_per_job=.." or "" when the server is unknown. */
static void cpu_report(struct cpu_mark a, long long jobs, char *out, size_t cap, double *server_us)
{
    struct cpu_mark b = cpu_now();
    *server_us = 0;
    out[0] = '\0';
    if (a.pg <= 0 || jobs <= 0) {
        return;
    }
    *server_us = (b.pg - a.pg) * 1e6 / (double)jobs;
    snprintf(out, cap, " server_cpu_us_per_job=%.1f client_cpu_us_per_job=%.1f", *server_us,
             (b.self - a.self) * 1e6 / (double)jobs);
}

static double g_base_server_us, g_ours_server_us;

/* ---- raw-SQL baseline ----------------------------------------------------------------------- */

struct base_arg {
    struct db_pool *pool;
    long long done;
};

static enum err base_txn(struct db_conn *c, void *arg, struct err_info *ei)
{
    long long *n = arg;
    struct db_res *r = NULL;
    enum err e =
        db_exec(c, "bench_claim",
                "WITH c AS (SELECT id FROM bench_jobs WHERE state = 0 AND queue = 'default'"
                " AND run_at <= now() ORDER BY priority, run_at, id LIMIT 100"
                " FOR UPDATE SKIP LOCKED)"
                " UPDATE bench_jobs j SET state = 1, attempts = j.attempts + 1,"
                " locked_by = 'bench', started_at = now() FROM c WHERE j.id = c.id"
                " RETURNING j.id",
                0, NULL, &r, ei);
    if (e != ERR_OK) {
        return e;
    }
    char ids[BENCH_BATCH * 24 + 4];
    size_t o = 0;
    ids[o++] = '{';
    int rows = db_res_rows(r);
    for (int i = 0; i < rows; i++) {
        int k = snprintf(ids + o, sizeof ids - o, "%s%s", i > 0 ? "," : "", db_res_get(r, i, 0));
        o += (size_t)k;
    }
    ids[o++] = '}';
    ids[o] = '\0';
    db_res_free(r);
    *n = rows;
    if (rows == 0) {
        return ERR_OK;
    }
    const char *p[] = {ids};
    return db_exec(c, "bench_finish",
                   "UPDATE bench_jobs SET state = 2, finished_at = now(), locked_by = NULL"
                   " WHERE id = ANY($1::bigint[])",
                   1, p, NULL, ei);
}

static void *base_thread(void *arg)
{
    struct base_arg *a = arg;
    struct err_info ei;
    for (;;) {
        long long n = 0;
        if (db_txn_run(a->pool, base_txn, &n, &ei) != ERR_OK) {
            die("baseline transaction", &ei);
        }
        if (n == 0) {
            break;
        }
        a->done += n;
    }
    return NULL;
}

static double run_baseline(const struct bench_opts *o)
{
    struct db_pool *pool = NULL;
    struct err_info ei;
    char ins[256];
    if (db_pool_create(o->db, o->clients + 1, &pool, &ei) != ERR_OK) {
        die("pool", &ei);
    }
    sql(pool, "DROP TABLE IF EXISTS bench_jobs");
    sql(pool,
        "CREATE TABLE bench_jobs (id bigserial PRIMARY KEY, state smallint NOT NULL DEFAULT 0,"
        " queue text NOT NULL DEFAULT 'default', priority smallint NOT NULL DEFAULT 5,"
        " run_at timestamptz NOT NULL DEFAULT now(), attempts integer NOT NULL DEFAULT 0,"
        " locked_by text, started_at timestamptz, finished_at timestamptz,"
        " payload jsonb NOT NULL DEFAULT '{}') WITH (fillfactor = 90)");
    sql(pool, "CREATE INDEX bench_jobs_fetch ON bench_jobs (queue, priority, run_at, id)"
              " WHERE state = 0");
    snprintf(
        ins, sizeof ins,
        "INSERT INTO bench_jobs (payload) SELECT '{\"sleep_ms\":0}' FROM generate_series(1, %d)",
        o->jobs);
    sql(pool, ins);
    sql(pool, "VACUUM ANALYZE bench_jobs");
    struct base_arg *args = calloc((size_t)o->clients, sizeof *args);
    pthread_t *t = calloc((size_t)o->clients, sizeof *t);
    struct cpu_mark cm = cpu_now();
    int64_t t0 = clock_mono_ns();
    for (int i = 0; i < o->clients; i++) {
        args[i].pool = pool;
        pthread_create(&t[i], NULL, base_thread, &args[i]);
    }
    long long total = 0;
    for (int i = 0; i < o->clients; i++) {
        pthread_join(t[i], NULL);
        total += args[i].done;
    }
    double secs = (double)(clock_mono_ns() - t0) / 1e9;
    char cpu[128];
    cpu_report(cm, total, cpu, sizeof cpu, &g_base_server_us);
    long long left = sql_int(pool, "SELECT count(*) FROM bench_jobs WHERE state <> 2");
    double rate = (double)total / secs;
    printf("queue.raw_sql_baseline jobs_per_s=%.0f jobs=%lld seconds=%.2f clients=%d batch=%d "
           "left=%lld%s\n",
           rate, total, secs, o->clients, BENCH_BATCH, left, cpu);
    fflush(stdout);
    sql(pool, "DROP TABLE bench_jobs");
    free(args);
    free(t);
    db_pool_destroy(pool);
    return rate;
}

/* ---- queue API + worker pool ---------------------------------------------------------------- */

static double run_workers(const struct bench_opts *o)
{
    struct db_pool *pool = NULL;
    struct queue *q = NULL;
    struct workers_pool *wp = NULL;
    struct err_info ei;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (db_pool_create(o->db, (int)(cores > 0 ? cores : 2) * 2 + 1, &pool, &ei) != ERR_OK) {
        die("pool", &ei);
    }
    if (db_migrate(pool, NULL, &ei) != ERR_OK) {
        die("migrate", &ei);
    }
    sql(pool, "TRUNCATE jobs, job_events, idempotency_keys");
    if (queue_create(pool, NULL, &q, &ei) != ERR_OK) {
        die("queue", &ei);
    }
    json_t *batch = json_array();
    for (int i = 0; i < 1000; i++) {
        json_array_append_new(batch,
                              json_pack("{s:s, s:{s:i}}", "kind", "noop", "params", "sleep_ms", 0));
    }
    int64_t t0 = clock_mono_ns();
    int inserted = 0;
    while (inserted < o->jobs) {
        json_t *out = NULL;
        if (queue_enqueue(q, batch, NULL, &out, NULL, &ei) != ERR_OK) {
            die("enqueue", &ei);
        }
        inserted += (int)json_array_size(out);
        json_decref(out);
    }
    json_decref(batch);
    double esecs = (double)(clock_mono_ns() - t0) / 1e9;
    printf("queue.enqueue_batch1000 jobs_per_s=%.0f jobs=%d seconds=%.2f\n",
           (double)inserted / esecs, inserted, esecs);
    fflush(stdout);
    sql(pool, "VACUUM ANALYZE jobs");
    struct workers_config wc = {
        .threads = o->threads, .fetchers = o->fetchers, .claim_batch = o->batch};
    if (workers_pool_create(q, &wc, &wp, &ei) != ERR_OK) {
        die("workers", &ei);
    }
    struct cpu_mark cm = cpu_now();
    t0 = clock_mono_ns();
    if (workers_pool_start(wp, &ei) != ERR_OK) {
        die("start", &ei);
    }
    for (;;) {
        struct queue_stats st;
        clock_sleep_ms(50);
        /* process-local counters: no query on the jobs table while measuring */
        queue_stats_local(q, &st);
        if (st.succeeded_total >= (uint64_t)inserted) {
            break;
        }
    }
    double secs = (double)(clock_mono_ns() - t0) / 1e9;
    char cpu[128];
    cpu_report(cm, inserted, cpu, sizeof cpu, &g_ours_server_us);
    (void)workers_pool_drain(wp, 5);
    long long ok = sql_int(pool, "SELECT count(*) FROM jobs WHERE state = 'succeeded'");
    double rate = (double)inserted / secs;
    printf("queue.workers_drain jobs_per_s=%.0f jobs=%d succeeded=%lld seconds=%.2f threads=%d%s\n",
           rate, inserted, ok, secs, workers_pool_threads(wp), cpu);
    fflush(stdout);
    workers_pool_destroy(wp);
    queue_destroy(q);
    db_pool_destroy(pool);
    return rate;
}

int main(int argc, char **argv)
{
    struct bench_opts o = {.jobs = 100000};
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    o.clients = cores > 0 ? (int)cores : 2;
    o.threads = o.clients;
    log_configure(getenv("BENCH_VERBOSE") != NULL ? LOG_LEVEL_INFO : LOG_LEVEL_WARN,
                  LOG_FORMAT_TEXT);
    if (argc < 2) {
        fprintf(stderr, "usage: bench_queue baseline|workers|all --db CONNINFO [--jobs N] "
                        "[--clients C] [--threads T] [--fetchers F] [--batch B]\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        int64_t v = 0;
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            o.db = argv[++i];
        } else if (i + 1 < argc && str_to_i64(argv[i + 1], 1, 100000000, &v) == ERR_OK &&
                   (strcmp(argv[i], "--jobs") == 0 || strcmp(argv[i], "--clients") == 0 ||
                    strcmp(argv[i], "--threads") == 0 || strcmp(argv[i], "--fetchers") == 0 ||
                    strcmp(argv[i], "--batch") == 0)) {
            if (strcmp(argv[i], "--jobs") == 0) {
                o.jobs = (int)v;
            } else if (strcmp(argv[i], "--fetchers") == 0) {
                o.fetchers = (int)v;
            } else if (strcmp(argv[i], "--batch") == 0) {
                o.batch = (int)v;
            } else if (strcmp(argv[i], "--clients") == 0) {
                o.clients = (int)v;
            } else {
                o.threads = (int)v;
            }
            i++;
        } else {
            fprintf(stderr, "bench_queue: bad argument \"%s\"\n", argv[i]);
            return 2;
        }
    }
    if (o.db == NULL) {
        o.db = getenv("OBSFLOW_DATABASE_URL");
    }
    if (o.db == NULL) {
        fprintf(stderr, "bench_queue: --db CONNINFO is required\n");
        return 2;
    }
    double base = 0, ours = 0;
    if (strcmp(argv[1], "baseline") == 0 || strcmp(argv[1], "all") == 0) {
        base = run_baseline(&o);
    }
    if (strcmp(argv[1], "workers") == 0 || strcmp(argv[1], "all") == 0) {
        ours = run_workers(&o);
    }
    if (base > 0 && ours > 0) {
        printf("queue.ratio_to_baseline value=%.2f (target >= 0.75)\n", ours / base);
        if (g_base_server_us > 0 && g_ours_server_us > 0) {
            printf("queue.server_cpu_ratio value=%.2f (baseline server CPU per job / ours: the "
                   "wall-clock ratio a dedicated 2-core server would approach)\n",
                   g_base_server_us / g_ours_server_us);
        }
    }
    return 0;
}
