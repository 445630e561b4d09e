/* bench_repo.c - figures of the CAOM repository for tests/bench/bench_repo.sh (not a test).
 * Observations are built from template documents (the shared CADC outputs) with the
 * observationID varied and fresh UUIDs, as a pipeline builds them; the templates are read and
 * the documents written before the clock starts.
 *   bench_repo put      --url BASE --collection C --count N --threads T TEMPLATE...
 *       PUT of N ready documents over HTTP (the create path alone)
 *   bench_repo push     --url BASE|--db CONN --collection C --count N --threads T TEMPLATE...
 *       repo_push of N observations (GET 404 -> PUT), then the same observations built anew
 *       pushed again (GET -> merge -> unchanged: nothing written); --db = the local target
 *   bench_repo baseline --db CONN --count N TEMPLATE...
 *       the same documents as raw SQL: INSERT of (uuid, collection, id, doc) rows, then a
 *       SELECT of each row by key, on a scratch table, one statement per row
 * Output: one "repo.<what> key=value ..." line per figure.
 * SPDX-License-Identifier: Apache-2.0 */
#include "caom/caom.h"
#include "core/clock.h"
#include "core/str.h"
#include "db/db.h"
#include "httpc/httpc.h"
#include "repo/repo.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_TEMPLATES 32
#define BENCH_THREADS   64

struct bench {
    const char *mode;
    const char *url;
    const char *db;
    const char *collection;
    int count;
    int threads;
    struct caom_observation *tpl[BENCH_TEMPLATES];
    size_t ntpl;
    char **docs; /* put/baseline: the documents, ready */
    size_t *lens;
    struct db_pool *pool;
    struct repo_collections *cols;
    struct repo_store *store;
    int pass; /* push: 1 = create, 2 = unchanged */
};

struct worker {
    struct bench *b;
    int from, to;
    int ok;
    int outcomes[4];
    char err[300];
};

static void fresh_ids(struct caom_observation *o)
{
    caom_uuid_random(o->e.id);
    for (size_t i = 0; i < o->n_planes; i++) {
        struct caom_plane *p = o->planes[i];
        caom_uuid_random(p->e.id);
        for (size_t j = 0; j < p->n_artifacts; j++) {
            struct caom_artifact *a = p->artifacts[j];
            caom_uuid_random(a->e.id);
            for (size_t k = 0; k < a->n_parts; k++) {
                caom_uuid_random(a->parts[k]->e.id);
                for (size_t m = 0; m < a->parts[k]->n_chunks; m++) {
                    caom_uuid_random(a->parts[k]->chunks[m]->e.id);
                }
            }
        }
    }
}

/* Observation number @p i: a template with its collection, an ID and fresh UUIDs, and no
 * server bookkeeping (a pipeline's fresh build). */
static struct caom_observation *build(const struct bench *b, int i)
{
    struct caom_observation *o = caom_observation_clone(b->tpl[(size_t)i % b->ntpl]);
    if (!o) {
        return NULL;
    }
    char id[64];
    snprintf(id, sizeof id, "bench-%07d", i);
    if (caom_str_set(&o->collection, b->collection) != ERR_OK ||
        caom_str_set(&o->observation_id, id) != ERR_OK) {
        caom_observation_free(o);
        return NULL;
    }
    fresh_ids(o);
    return o;
}

static void *run_put(void *arg)
{
    struct worker *w = arg;
    struct repo_remote_opts ro = {.url = w->b->url, .retries = -1};
    struct repo_target *t = NULL;
    struct err_info ei;
    if (repo_target_remote(&ro, &t, &ei) != ERR_OK) {
        snprintf(w->err, sizeof w->err, "%s", ei.msg);
        return NULL;
    }
    for (int i = w->from; i < w->to; i++) {
        char id[64];
        snprintf(id, sizeof id, "bench-%07d", i);
        if (repo_target_put(t, w->b->collection, id, w->b->docs[i], w->b->lens[i], &ei) != ERR_OK) {
            snprintf(w->err, sizeof w->err, "%s: %s", id, ei.msg);
            break;
        }
        w->ok++;
    }
    repo_target_free(t);
    return NULL;
}

static void *run_push(void *arg)
{
    struct worker *w = arg;
    struct bench *b = w->b;
    struct repo_target *t = NULL;
    struct err_info ei;
    enum err e;
    if (b->store) {
        e = repo_target_local(b->store, &t, &ei);
    } else {
        struct repo_remote_opts ro = {.url = b->url, .retries = -1};
        e = repo_target_remote(&ro, &t, &ei);
    }
    if (e != ERR_OK) {
        snprintf(w->err, sizeof w->err, "%s", ei.msg);
        return NULL;
    }
    for (int i = w->from; i < w->to; i++) {
        struct caom_observation *o = build(b, i);
        struct repo_push_result r;
        if (!o) {
            snprintf(w->err, sizeof w->err, "out of memory");
            break;
        }
        e = repo_push(t, o, &r, &ei);
        caom_observation_free(o);
        if (e != ERR_OK) {
            snprintf(w->err, sizeof w->err, "bench-%07d: %s", i, ei.msg);
            break;
        }
        w->outcomes[r.outcome]++;
        w->ok++;
    }
    repo_target_free(t);
    return NULL;
}

/* Run @p fn on the threads over [0, count); returns the elapsed seconds, or -1. */
static double run_threads(struct bench *b, void *(*fn)(void *), struct worker *ws)
{
    pthread_t th[BENCH_THREADS];
    int per = (b->count + b->threads - 1) / b->threads;
    int64_t t0 = clock_mono_ns();
    for (int k = 0; k < b->threads; k++) {
        memset(&ws[k], 0, sizeof ws[k]);
        ws[k].b = b;
        ws[k].from = k * per;
        ws[k].to = (k + 1) * per > b->count ? b->count : (k + 1) * per;
        if (pthread_create(&th[k], NULL, fn, &ws[k]) != 0) {
            return -1;
        }
    }
    for (int k = 0; k < b->threads; k++) {
        pthread_join(th[k], NULL);
    }
    double s = (double)(clock_mono_ns() - t0) / 1e9;
    for (int k = 0; k < b->threads; k++) {
        if (ws[k].err[0]) {
            fprintf(stderr, "bench_repo: %s\n", ws[k].err);
            return -1;
        }
    }
    return s;
}

static int prepare_docs(struct bench *b)
{
    b->docs = calloc((size_t)b->count, sizeof *b->docs);
    b->lens = calloc((size_t)b->count, sizeof *b->lens);
    if (!b->docs || !b->lens) {
        return -1;
    }
    for (int i = 0; i < b->count; i++) {
        struct caom_observation *o = build(b, i);
        struct err_info ei;
        if (!o || caom_xml_write(o, &b->docs[i], &b->lens[i], &ei) != ERR_OK) {
            caom_observation_free(o);
            return -1;
        }
        caom_observation_free(o);
    }
    return 0;
}

static size_t total_bytes(const struct bench *b)
{
    size_t n = 0;
    for (int i = 0; i < b->count; i++) {
        n += b->lens[i];
    }
    return n;
}

static enum err baseline_txn(struct db_conn *c, void *arg, struct err_info *ei)
{
    (void)arg;
    return db_exec(c, NULL,
                   "DROP TABLE IF EXISTS bench_repo_baseline;"
                   " CREATE TABLE bench_repo_baseline (id uuid PRIMARY KEY, collection text NOT NULL,"
                   " observation_id text NOT NULL, doc text NOT NULL, UNIQUE (collection, observation_id))",
                   0, NULL, NULL, ei);
}

static int baseline(struct bench *b)
{
    struct err_info ei;
    if (db_txn_run(b->pool, baseline_txn, NULL, &ei) != ERR_OK) {
        fprintf(stderr, "bench_repo: %s\n", ei.msg);
        return 1;
    }
    struct db_conn *c = NULL;
    if (db_acquire(b->pool, 10000, &c, &ei) != ERR_OK) {
        fprintf(stderr, "bench_repo: %s\n", ei.msg);
        return 1;
    }
    int64_t t0 = clock_mono_ns();
    for (int i = 0; i < b->count; i++) {
        char id[64];
        char uuid[37];
        uint8_t u[16];
        caom_uuid_random(u);
        caom_uuid_format(u, uuid);
        snprintf(id, sizeof id, "bench-%07d", i);
        const char *p[4] = {uuid, b->collection, id, b->docs[i]};
        if (db_exec(c, "bench_ins",
                    "INSERT INTO bench_repo_baseline (id, collection, observation_id, doc)"
                    " VALUES ($1, $2, $3, $4)",
                    4, p, NULL, &ei) != ERR_OK) {
            fprintf(stderr, "bench_repo: %s\n", ei.msg);
            db_release(b->pool, c);
            return 1;
        }
    }
    double ins = (double)(clock_mono_ns() - t0) / 1e9;
    t0 = clock_mono_ns();
    for (int i = 0; i < b->count; i++) {
        char id[64];
        snprintf(id, sizeof id, "bench-%07d", i);
        const char *p[2] = {b->collection, id};
        struct db_res *r = NULL;
        if (db_exec(c, "bench_sel",
                    "SELECT doc FROM bench_repo_baseline WHERE collection = $1 AND observation_id = $2",
                    2, p, &r, &ei) != ERR_OK || db_res_rows(r) != 1) {
            fprintf(stderr, "bench_repo: baseline select failed: %s\n", ei.msg);
            db_res_free(r);
            db_release(b->pool, c);
            return 1;
        }
        db_res_free(r);
    }
    double sel = (double)(clock_mono_ns() - t0) / 1e9;
    if (db_exec(c, NULL, "DROP TABLE bench_repo_baseline", 0, NULL, NULL, &ei) != ERR_OK) {
        fprintf(stderr, "bench_repo: %s\n", ei.msg);
    }
    db_release(b->pool, c);
    printf("repo.raw_sql_baseline count=%d threads=1 insert_per_s=%.0f select_per_s=%.0f "
           "doc_bytes_avg=%zu\n",
           b->count, b->count / ins, b->count / sel, total_bytes(b) / (size_t)b->count);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_repo put|push|baseline [--url BASE] [--db CONN] --collection C "
                    "--count N [--threads T] TEMPLATE.xml...\n");
    return 2;
}

int main(int argc, char **argv)
{
    static struct bench b;
    struct err_info ei;
    if (argc < 2) {
        return usage();
    }
    b.mode = argv[1];
    b.collection = "BENCH";
    b.count = 1000;
    b.threads = 4;
    int i = 2;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--url") == 0) {
            b.url = argv[i + 1];
        } else if (strcmp(argv[i], "--db") == 0) {
            b.db = argv[i + 1];
        } else if (strcmp(argv[i], "--collection") == 0) {
            b.collection = argv[i + 1];
        } else if (strcmp(argv[i], "--count") == 0) {
            b.count = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--threads") == 0) {
            b.threads = atoi(argv[i + 1]);
        } else {
            return usage();
        }
    }
    if (b.count < 1 || b.threads < 1 || b.threads > BENCH_THREADS || i >= argc) {
        return usage();
    }
    for (; i < argc && b.ntpl < BENCH_TEMPLATES; i++) {
        if (caom_xml_read_file(argv[i], &b.tpl[b.ntpl], &ei) != ERR_OK) {
            fprintf(stderr, "bench_repo: %s\n", ei.msg);
            return 1;
        }
        b.ntpl++;
    }
    if (httpc_global_init(&ei) != ERR_OK) {
        return 1;
    }
    if (b.db && (db_pool_create(b.db, b.threads + 1, &b.pool, &ei) != ERR_OK)) {
        fprintf(stderr, "bench_repo: %s\n", ei.msg);
        return 1;
    }
    static struct worker ws[BENCH_THREADS];
    int rc = 0;
    if (strcmp(b.mode, "baseline") == 0 && b.pool) {
        rc = prepare_docs(&b) != 0 ? 1 : baseline(&b);
    } else if (strcmp(b.mode, "put") == 0 && b.url) {
        if (prepare_docs(&b) != 0) {
            return 1;
        }
        double s = run_threads(&b, run_put, ws);
        if (s < 0) {
            return 1;
        }
        printf("repo.put_http count=%d threads=%d per_s=%.0f doc_bytes_avg=%zu\n", b.count,
               b.threads, b.count / s, total_bytes(&b) / (size_t)b.count);
    } else if (strcmp(b.mode, "push") == 0 && (b.url || b.pool)) {
        const char *where = b.url ? "http" : "local";
        if (b.pool) {
            if (repo_collections_parse("*", &b.cols, &ei) != ERR_OK ||
                repo_store_create(b.pool, b.cols, &b.store, &ei) != ERR_OK) {
                fprintf(stderr, "bench_repo: %s\n", ei.msg);
                return 1;
            }
        }
        const char *names[2] = {"created", "unchanged"};
        for (b.pass = 1; b.pass <= 2 && rc == 0; b.pass++) {
            double s = run_threads(&b, run_push, ws);
            if (s < 0) {
                rc = 1;
                break;
            }
            int out[4] = {0, 0, 0, 0};
            for (int k = 0; k < b.threads; k++) {
                for (int m = 0; m < 4; m++) {
                    out[m] += ws[k].outcomes[m];
                }
            }
            printf("repo.push_%s_%s count=%d threads=%d per_s=%.0f created=%d updated=%d "
                   "unchanged=%d replaced=%d\n",
                   where, names[b.pass - 1], b.count, b.threads, b.count / s, out[0], out[1],
                   out[2], out[3]);
        }
    } else {
        return usage();
    }
    for (size_t k = 0; k < b.ntpl; k++) {
        caom_observation_free(b.tpl[k]);
    }
    if (b.docs) {
        for (int k = 0; k < b.count; k++) {
            free(b.docs[k]);
        }
    }
    free(b.docs);
    free(b.lens);
    repo_store_free(b.store);
    repo_collections_free(b.cols);
    db_pool_destroy(b.pool);
    httpc_global_cleanup();
    return rc;
}
