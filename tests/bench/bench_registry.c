/* bench_registry.c - figures of the dataset registry for tests/bench/bench_registry.sh (not a
 * test). On a migrated database:
 *   setup: one instrument, BENCH_DETECTORS detectors, N / BENCH_DETECTORS exposures of 60 s
 *     spread over a year, a raw type {instrument, exposure, detector} and a bias type
 *     {instrument, detector}, 12 monthly biases per detector certified in BENCH/calib;
 *   register: N raw datasets (one file record each) through reg_datasets_register in batches
 *     of --batch (the request documents are built before the clock starts), then the same N
 *     rows as raw SQL in batches of the same size (INSERT ... SELECT FROM unnest of arrays,
 *     into another run of the same table, the same constraints);
 *   lookup: the bias of every (exposure, detector), N lookups, --threads threads, through
 *     reg_calib_lookup (search path flattened, data ID projected, ambiguity checked), then the
 *     same answers by a prepared raw SQL join of the exposure's span with the certifications.
 * Output: one "registry.<what> key=value ..." line per figure.
 *   bench_registry --db CONN [--count N] [--batch B] [--threads T]
 * SPDX-License-Identifier: Apache-2.0 */
#include "core/clock.h"
#include "core/str.h"
#include "db/db.h"
#include "registry/registry.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_DETECTORS 10
#define BENCH_THREADS   16
#define BENCH_MONTHS    12

struct bench {
    const char *db;
    int count, batch, threads;
    int nexp;
    struct db_pool *pool;
    struct reg *reg;
    char bias_type_id[16];
    char calib_id[24];
};

static void die(const char *what, const struct err_info *ei)
{
    fprintf(stderr, "bench_registry: %s: %s\n", what, ei->msg);
    exit(1);
}

static double secs(int64_t t0)
{
    return (double)(clock_mono_ns() - t0) / 1e9;
}

/* Start of exposure @p i: spread over 2024, 50 minutes apart (each lasts 60 s). */
static void exp_time(int i, int off_s, char *out, size_t cap)
{
    int64_t t = 1704067200LL + (int64_t)i * 3000 + off_s; /* 2024-01-01T00:00:00Z */
    clock_format_rfc3339(t * 1000000000LL, out, cap);
}

static void setup(struct bench *b)
{
    struct err_info ei = {0};
    json_t *out = NULL;
    json_t *dets = json_array();
    for (int d = 0; d < BENCH_DETECTORS; d++) {
        json_array_append_new(dets, json_pack("{s:s,s:i}", "instrument", "BENCH", "id", d));
    }
    json_t *doc = json_pack("{s:[{s:s}],s:o}", "instruments", "name", "BENCH", "detectors", dets);
    if (reg_dimensions_put(b->reg, doc, &out, &ei) != ERR_OK) {
        die("instrument", &ei);
    }
    json_decref(doc);
    json_decref(out);
    for (int k = 0; k < b->nexp; k += 5000) {
        json_t *exps = json_array();
        for (int i = k; i < k + 5000 && i < b->nexp; i++) {
            char t0[40], t1[40];
            exp_time(i, 0, t0, sizeof t0);
            exp_time(i, 60, t1, sizeof t1);
            json_array_append_new(exps, json_pack("{s:s,s:i,s:s,s:s}", "instrument", "BENCH", "id",
                                                  i, "begin", t0, "end", t1));
        }
        doc = json_pack("{s:o}", "exposures", exps);
        if (reg_dimensions_put(b->reg, doc, &out, &ei) != ERR_OK) {
            die("exposures", &ei);
        }
        json_decref(doc);
        json_decref(out);
    }
    json_t *raw = json_pack("{s:s,s:[sss],s:s}", "name", "raw", "dimensions", "instrument",
                            "exposure", "detector", "storage_class", "FitsImage");
    json_t *bias = json_pack("{s:s,s:[ss],s:s,s:b}", "name", "bias", "dimensions", "instrument",
                             "detector", "storage_class", "FitsImage", "is_calibration", 1);
    if (reg_dataset_type_put(b->reg, raw, NULL, &ei) != ERR_OK ||
        reg_dataset_type_put(b->reg, bias, NULL, &ei) != ERR_OK) {
        die("dataset types", &ei);
    }
    json_decref(raw);
    json_decref(bias);
    /* 12 monthly biases per detector, each certified over its month */
    for (int m = 0; m < BENCH_MONTHS; m++) {
        json_t *items = json_array();
        for (int d = 0; d < BENCH_DETECTORS; d++) {
            json_array_append_new(
                items, json_pack("{s:{s:s,s:i}}", "data_id", "instrument", "BENCH", "detector", d));
        }
        char run[64], begin[32], end[32];
        snprintf(run, sizeof run, "BENCH/calib/m%02d", m + 1);
        snprintf(begin, sizeof begin, "2024-%02d-01", m + 1);
        if (m == BENCH_MONTHS - 1) {
            str_copy(end, sizeof end, "2025-01-01");
        } else {
            snprintf(end, sizeof end, "2024-%02d-01", m + 2);
        }
        doc = json_pack("{s:s,s:s,s:o}", "run", run, "dataset_type", "bias", "datasets", items);
        if (reg_datasets_register(b->reg, doc, &out, &ei) != ERR_OK) {
            die("biases", &ei);
        }
        json_t *cert =
            json_pack("{s:s,s:s,s:O,s:s,s:s}", "collection", "BENCH/calib", "dataset_type", "bias",
                      "datasets", json_object_get(out, "ids"), "begin", begin, "end", end);
        json_decref(out);
        json_decref(doc);
        if (reg_certify(b->reg, cert, &out, &ei) != ERR_OK) {
            die("certify", &ei);
        }
        json_decref(out);
        json_decref(cert);
    }
    struct db_conn *c = NULL;
    struct db_res *res = NULL;
    if (db_acquire(b->pool, 10000, &c, &ei) != ERR_OK ||
        db_exec(c, NULL,
                "SELECT (SELECT id FROM reg_dataset_type WHERE name = 'bias'),"
                " (SELECT id FROM reg_collection WHERE name = 'BENCH/calib')",
                0, NULL, &res, &ei) != ERR_OK) {
        die("ids", &ei);
    }
    str_copy(b->bias_type_id, sizeof b->bias_type_id, db_res_get(res, 0, 0));
    str_copy(b->calib_id, sizeof b->calib_id, db_res_get(res, 0, 1));
    db_res_free(res);
    db_release(b->pool, c);
}

static void bench_register(struct bench *b)
{
    struct err_info ei = {0};
    int nb = (b->count + b->batch - 1) / b->batch;
    json_t **docs = calloc((size_t)nb, sizeof *docs);
    for (int k = 0; k < nb; k++) {
        json_t *items = json_array();
        for (int i = k * b->batch; i < (k + 1) * b->batch && i < b->count; i++) {
            char uri[64];
            snprintf(uri, sizeof uri, "file:raw/%d.fits", i);
            json_array_append_new(
                items, json_pack("{s:{s:s,s:i,s:i},s:[{s:s,s:i}]}", "data_id", "instrument",
                                 "BENCH", "exposure", i / BENCH_DETECTORS, "detector",
                                 i % BENCH_DETECTORS, "files", "uri", uri, "size", 2880));
        }
        docs[k] = json_pack("{s:s,s:s,s:o}", "run", "BENCH/raw", "dataset_type", "raw", "datasets",
                            items);
    }
    int64_t t0 = clock_mono_ns();
    for (int k = 0; k < nb; k++) {
        json_t *out = NULL;
        if (reg_datasets_register(b->reg, docs[k], &out, &ei) != ERR_OK) {
            die("register", &ei);
        }
        json_decref(out);
    }
    double reg_s = secs(t0);
    for (int k = 0; k < nb; k++) {
        json_decref(docs[k]);
    }
    free(docs);

    /* the baseline: the same rows (another run), arrays of ids and data IDs per batch */
    struct db_conn *c = NULL;
    struct db_res *res = NULL;
    if (db_acquire(b->pool, 10000, &c, &ei) != ERR_OK ||
        db_exec(c, NULL,
                "INSERT INTO reg_collection (name, type) VALUES ('BENCH/raw-sql', 'RUN')"
                " RETURNING id, (SELECT id FROM reg_dataset_type WHERE name = 'raw')",
                0, NULL, &res, &ei) != ERR_OK) {
        die("baseline run", &ei);
    }
    char run_id[24], type_id[16];
    str_copy(run_id, sizeof run_id, db_res_get(res, 0, 0));
    str_copy(type_id, sizeof type_id, db_res_get(res, 0, 1));
    db_res_free(res);
    size_t cap = (size_t)b->batch * 96 + 16;
    char **ids = calloc((size_t)nb, sizeof *ids), **dids = calloc((size_t)nb, sizeof *dids),
         **uris = calloc((size_t)nb, sizeof *uris);
    for (int k = 0; k < nb; k++) {
        ids[k] = malloc(cap);
        dids[k] = malloc(cap);
        uris[k] = malloc(cap);
        size_t a = 0, d = 0, u = 0;
        a += (size_t)snprintf(ids[k] + a, cap - a, "{");
        d += (size_t)snprintf(dids[k] + d, cap - d, "{");
        u += (size_t)snprintf(uris[k] + u, cap - u, "{");
        for (int i = k * b->batch; i < (k + 1) * b->batch && i < b->count; i++) {
            uint64_t r = ((uint64_t)k << 32) | (uint64_t)i;
            a += (size_t)snprintf(ids[k] + a, cap - a, "%s00000000-0000-4000-8000-%012llx",
                                  i > k * b->batch ? "," : "", (unsigned long long)r);
            d += (size_t)snprintf(dids[k] + d, cap - d,
                                  "%s\"{\\\"instrument\\\": \\\"BENCH\\\", \\\"exposure\\\": "
                                  "%d, \\\"detector\\\": %d}\"",
                                  i > k * b->batch ? "," : "", i / BENCH_DETECTORS,
                                  i % BENCH_DETECTORS);
            u += (size_t)snprintf(uris[k] + u, cap - u, "%sfile:raw/%d.fits",
                                  i > k * b->batch ? "," : "", i);
        }
        snprintf(ids[k] + a, cap - a, "}");
        snprintf(dids[k] + d, cap - d, "}");
        snprintf(uris[k] + u, cap - u, "}");
    }
    t0 = clock_mono_ns();
    for (int k = 0; k < nb; k++) {
        const char *p[] = {ids[k], dids[k], type_id, run_id, uris[k]};
        if (db_exec(c, NULL, "BEGIN", 0, NULL, NULL, &ei) != ERR_OK ||
            db_exec(
                c, "bench_ins",
                "INSERT INTO reg_dataset (id, dataset_type_id, run_id, data_id)"
                " SELECT i, $3::int, $4::bigint, d FROM unnest($1::uuid[], $2::jsonb[]) u(i, d)",
                4, p, NULL, &ei) != ERR_OK ||
            db_exec(c, "bench_files",
                    "INSERT INTO reg_file (dataset_id, uri, size)"
                    " SELECT i, f, 2880 FROM unnest($1::uuid[], $2::text[]) u(i, f)",
                    2, (const char *const[]){ids[k], uris[k]}, NULL, &ei) != ERR_OK ||
            db_exec(c, NULL, "COMMIT", 0, NULL, NULL, &ei) != ERR_OK) {
            die("baseline insert", &ei);
        }
    }
    double sql_s = secs(t0);
    db_release(b->pool, c);
    for (int k = 0; k < nb; k++) {
        free(ids[k]);
        free(dids[k]);
        free(uris[k]);
    }
    free(ids);
    free(dids);
    free(uris);
    printf("registry.register datasets=%d batch=%d s=%.2f per_s=%.0f baseline_sql_s=%.2f "
           "baseline_per_s=%.0f ratio=%.2f\n",
           b->count, b->batch, reg_s, b->count / reg_s, sql_s, b->count / sql_s, reg_s / sql_s);
    fflush(stdout);
}

struct worker {
    struct bench *b;
    int from, to;
    bool raw;
    int found;
    char err[300];
};

static void *lookup_worker(void *arg)
{
    struct worker *w = arg;
    struct bench *b = w->b;
    struct err_info ei = {0};
    const char *colls[] = {"BENCH/calib"};
    struct db_conn *c = NULL;
    if (w->raw && db_acquire(b->pool, 10000, &c, &ei) != ERR_OK) {
        snprintf(w->err, sizeof w->err, "%s", ei.msg);
        return NULL;
    }
    for (int i = w->from; i < w->to; i++) {
        int e = i / BENCH_DETECTORS, d = i % BENCH_DETECTORS;
        if (!w->raw) {
            json_t *did =
                json_pack("{s:s,s:i,s:i}", "instrument", "BENCH", "exposure", e, "detector", d);
            struct reg_lookup q = {
                .type = "bias", .collections = colls, .ncollections = 1, .data_id = did};
            json_t *out = NULL;
            enum err r = reg_calib_lookup(b->reg, &q, &out, &ei);
            json_decref(did);
            json_decref(out);
            if (r != ERR_OK) {
                snprintf(w->err, sizeof w->err, "lookup %d/%d: %s", e, d, ei.msg);
                return NULL;
            }
        } else {
            char key[96], es[24];
            snprintf(key, sizeof key, "{\"detector\": %d, \"instrument\": \"BENCH\"}", d);
            snprintf(es, sizeof es, "%d", e);
            const char *p[] = {b->calib_id, b->bias_type_id, key, "BENCH", es};
            struct db_res *res = NULL;
            if (db_exec(c, "bench_lookup",
                        "SELECT k.dataset_id, lower(k.validity), upper(k.validity)"
                        " FROM reg_exposure x JOIN reg_calib k ON k.collection_id = $1::bigint"
                        "  AND k.dataset_type_id = $2::int AND k.data_id_key = $3"
                        "  AND k.validity && x.timespan"
                        " WHERE x.instrument = $4 AND x.id = $5::bigint LIMIT 2",
                        5, p, &res, &ei) != ERR_OK ||
                db_res_rows(res) != 1) {
                snprintf(w->err, sizeof w->err, "raw lookup %d/%d: %s", e, d, ei.msg);
                db_res_free(res);
                break;
            }
            db_res_free(res);
        }
        w->found++;
    }
    db_release(b->pool, c);
    return NULL;
}

static double run_lookups(struct bench *b, bool raw)
{
    pthread_t th[BENCH_THREADS];
    struct worker w[BENCH_THREADS];
    int per = (b->count + b->threads - 1) / b->threads;
    int64_t t0 = clock_mono_ns();
    for (int i = 0; i < b->threads; i++) {
        w[i] = (struct worker){.b = b, .from = i * per, .to = (i + 1) * per, .raw = raw};
        if (w[i].to > b->count) {
            w[i].to = b->count;
        }
        pthread_create(&th[i], NULL, lookup_worker, &w[i]);
    }
    int found = 0;
    for (int i = 0; i < b->threads; i++) {
        pthread_join(th[i], NULL);
        if (w[i].err[0]) {
            fprintf(stderr, "bench_registry: %s\n", w[i].err);
            exit(1);
        }
        found += w[i].found;
    }
    double s = secs(t0);
    if (found != b->count) {
        fprintf(stderr, "bench_registry: %d of %d lookups answered\n", found, b->count);
        exit(1);
    }
    return s;
}

int main(int argc, char **argv)
{
    struct bench b = {.count = 100000, .batch = 1000, .threads = 2};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--db") == 0) {
            b.db = argv[i + 1];
        } else if (strcmp(argv[i], "--count") == 0) {
            b.count = (int)strtol(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--batch") == 0) {
            b.batch = (int)strtol(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--threads") == 0) {
            b.threads = (int)strtol(argv[i + 1], NULL, 10);
        }
    }
    if (!b.db || b.count < BENCH_DETECTORS || b.batch < 1 || b.batch > REG_BATCH_MAX ||
        b.threads < 1 || b.threads > BENCH_THREADS) {
        fprintf(stderr,
                "usage: bench_registry --db CONN [--count N] [--batch 1..%d] "
                "[--threads 1..%d]\n",
                REG_BATCH_MAX, BENCH_THREADS);
        return 2;
    }
    b.count -= b.count % BENCH_DETECTORS;
    b.nexp = b.count / BENCH_DETECTORS;
    struct err_info ei = {0};
    if (db_pool_create(b.db, b.threads + 2, &b.pool, &ei) != ERR_OK ||
        db_migrate(b.pool, NULL, &ei) != ERR_OK || reg_create(b.pool, &b.reg, &ei) != ERR_OK) {
        die("database", &ei);
    }
    int64_t t0 = clock_mono_ns();
    setup(&b);
    printf("registry.setup exposures=%d detectors=%d biases=%d s=%.2f\n", b.nexp, BENCH_DETECTORS,
           BENCH_DETECTORS * BENCH_MONTHS, secs(t0));
    fflush(stdout);
    bench_register(&b);
    struct db_conn *c = NULL;
    if (db_acquire(b.pool, 10000, &c, &ei) == ERR_OK) {
        if (db_exec(c, NULL, "ANALYZE", 0, NULL, NULL, &ei) != ERR_OK) {
            die("analyze", &ei);
        }
        db_release(b.pool, c);
    }
    double lib_s = run_lookups(&b, false);
    double raw_s = run_lookups(&b, true);
    printf("registry.lookup exposures_x_detectors=%d threads=%d s=%.2f per_s=%.0f "
           "baseline_sql_s=%.2f baseline_per_s=%.0f ratio=%.2f\n",
           b.count, b.threads, lib_s, b.count / lib_s, raw_s, b.count / raw_s, lib_s / raw_s);
    reg_destroy(b.reg);
    db_pool_destroy(b.pool);
    return 0;
}
