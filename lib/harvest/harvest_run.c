/* harvest_run.c - the `collection` job (see harv_run in harvest.h): list, compare with the
 * file-state table, record, fan out, wait, report. Each batch is one transaction under the
 * collection's advisory lock: the entries it records and the children it enqueues commit
 * together or not at all, so a crash between two batches loses and doubles nothing (a rerun
 * finds the recorded entries unchanged and the pending ones still pending).
 * SPDX-License-Identifier: Apache-2.0 */
#include "harvest_int.h"

#include "core/clock.h"
#include "core/str.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHILD_URIS_MAX 1000 /* inputs of one child job (lib/ingest's INGEST_URIS_MAX) */
/* The statements over the file-state table run unnamed, planned with their values each time:
 * the table grows from nothing to millions of rows within one run, and a generic plan made
 * while it was small (a sequential scan) cost 100 ms a batch at 100,000 rows. */
#define ONE_OFF NULL

struct entry {
    char *uri;
    uint64_t size;
    int64_t mtime_ns;
    char etag[128];
    struct coll_match m;
};

/* what one batch did, added to the run's row in the same transaction */
struct counts {
    int64_t listed, new_, changed, skipped, rejected;
};

struct run {
    struct harv *h;
    const struct harv_run_env *env;
    struct coll_def *def;
    const char *name;
    char hash[33];
    int64_t bookmark_ns; /* 0: none */
    int64_t start_ns;    /* the database clock when the run started */
    int64_t newest_ns;   /* newest change time listed */
    bool force;          /* todo list: every entry is handled again */
    struct entry *batch; /* HARV_BATCH */
    size_t n;
    struct counts total;  /* this attempt, for progress */
    int64_t unwritten_skips; /* entries skipped by the bookmark not yet added to the run row */
    struct err_info *ei;  /* of harv_run: the listing callback's errors */
    int64_t children;     /* this attempt */
    int64_t last_progress_ns;
};

static void progress(struct run *r, const char *step, int index, const char *fmt, ...)
    PRINTF_LIKE(4, 5);

static void progress(struct run *r, const char *step, int index, const char *fmt, ...)
{
    if (!r->env->progress) {
        return;
    }
    char d[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d, sizeof d, fmt, ap);
    va_end(ap);
    r->env->progress(r->env->ud, step, index, 3, d);
}

static bool cancelled(const struct run *r)
{
    return r->env->cancelled && r->env->cancelled(r->env->ud);
}

static void batch_clear(struct run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->batch[i].uri);
    }
    r->n = 0;
}

/* ---- recording a batch -------------------------------------------------------------------- */

static const char sql_existing[] =
    "SELECT uri, size, mtime_ns, coalesce(etag, ''), outcome, def_hash, coalesce(run_id::text, '')"
    " FROM collection_files WHERE collection = $1 AND uri = ANY($2::text[])";

static const char sql_upsert[] =
    "INSERT INTO collection_files AS f (collection, uri, size, mtime_ns, etag, obs_id, product_id,"
    " dataset, outcome, reason, def_hash, run_id)"
    " SELECT $1, x.uri, x.size, x.mtime_ns, nullif(x.etag, ''), nullif(x.obs_id, ''),"
    "  nullif(x.product_id, ''),"
    "  nullif(x.dataset, ''), x.outcome, x.reason, $2, $3::uuid"
    " FROM jsonb_to_recordset($4::jsonb) AS x(uri text, size bigint, mtime_ns bigint, etag text,"
    "  obs_id text, product_id text, dataset text, outcome text, reason text)"
    " ON CONFLICT (collection, uri) DO UPDATE SET size = EXCLUDED.size,"
    "  mtime_ns = EXCLUDED.mtime_ns, etag = EXCLUDED.etag, obs_id = EXCLUDED.obs_id,"
    "  product_id = EXCLUDED.product_id, dataset = EXCLUDED.dataset, outcome = EXCLUDED.outcome,"
    "  reason = EXCLUDED.reason, def_hash = EXCLUDED.def_hash, run_id = EXCLUDED.run_id,"
    "  child_id = NULL, updated_at = now()";

/* the observations of the batch's pending entries need a child (again, if one is in flight:
 * its end is then not taken, the next child's is); a new row counts its pending entries
 * (migration 0012's triggers keep the count from then on) */
static const char sql_obs_pending[] =
    "INSERT INTO collection_obs AS o (collection, obs_id, state, run_id, pending_n)"
    " SELECT $1, x, 'pending', $2::uuid, " HARV_SQL_PENDING_N("$1", "x")
    " FROM unnest($3::text[]) AS x"
    " ON CONFLICT (collection, obs_id) DO UPDATE SET state = 'pending', run_id = EXCLUDED.run_id,"
    "  child_id = NULL, updated_at = now() WHERE o.state <> 'pending'";

static const char sql_count[] =
    "UPDATE collection_runs SET listed = listed + $2, new = new + $3, changed = changed + $4,"
    " skipped = skipped + $5, rejected = rejected + $6, children = children + $7,"
    " phase = coalesce($8, phase) WHERE job_id = $1::uuid";

static enum err add_counts(struct db_conn *c, const char *job, const struct counts *k,
                           int64_t children, const char *phase, struct err_info *ei)
{
    char v[6][24];
    snprintf(v[0], sizeof v[0], "%lld", (long long)k->listed);
    snprintf(v[1], sizeof v[1], "%lld", (long long)k->new_);
    snprintf(v[2], sizeof v[2], "%lld", (long long)k->changed);
    snprintf(v[3], sizeof v[3], "%lld", (long long)k->skipped);
    snprintf(v[4], sizeof v[4], "%lld", (long long)k->rejected);
    snprintf(v[5], sizeof v[5], "%lld", (long long)children);
    const char *p[] = {job, v[0], v[1], v[2], v[3], v[4], v[5], phase};
    return db_exec(c, "harv_count", sql_count, 8, p, NULL, ei);
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp((*(struct entry *const *)a)->uri, (*(struct entry *const *)b)->uri);
}

static bool same_sig(const struct entry *e, const struct db_res *res, int row)
{
    int64_t size = harv__i64(db_res_get(res, row, 1), -1);
    int64_t mtime = harv__i64(db_res_get(res, row, 2), -1);
    /* unknown parts (an http list gives none) do not count as a change */
    bool size_ok = e->size == 0 || (uint64_t)size == e->size;
    bool mtime_ok = e->mtime_ns == 0 || mtime == e->mtime_ns;
    bool etag_ok = !e->etag[0] || strcmp(e->etag, db_res_get(res, row, 3)) == 0;
    return size_ok && mtime_ok && etag_ok;
}

struct flush {
    struct run *r;
    struct counts k; /* out */
};

static enum err flush_txn(struct db_conn *c, void *arg, struct err_info *ei)
{
    struct flush *x = arg;
    struct run *r = x->r;
    struct db_res *old = NULL;
    json_t *uris = json_array();
    json_t *rows = json_array();
    json_t *obs = json_object(); /* the pending entries' observations, as a set */
    struct entry **idx = malloc(r->n * sizeof *idx);
    char *uris_txt = NULL;
    char *rows_txt = NULL;
    enum err e = ERR_OK;
    memset(&x->k, 0, sizeof x->k);
    if (!uris || !rows || !obs || !idx) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < r->n; i++) {
        idx[i] = &r->batch[i];
        if (json_array_append_new(uris, json_string(r->batch[i].uri)) != 0) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    qsort(idx, r->n, sizeof *idx, cmp_entry);
    const char *lp[] = {r->name};
    if ((e = db_exec(c, "harv_lock_keyed", HARV_SQL_LOCK_KEYED, 1, lp, NULL, ei)) != ERR_OK) {
        goto out;
    }
    if (!(uris_txt = harv__text_array(uris))) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    const char *ep[] = {r->name, uris_txt};
    if ((e = db_exec(c, ONE_OFF, sql_existing, 2, ep, &old, ei)) != ERR_OK) {
        goto out;
    }
    /* the stored row of each entry, if any (-1: none) */
    int *row_of = malloc(r->n * sizeof *row_of);
    if (!row_of) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < r->n; i++) {
        row_of[i] = -1;
    }
    for (int j = 0; j < db_res_rows(old); j++) {
        struct entry key = {.uri = (char *)(uintptr_t)db_res_get(old, j, 0)};
        struct entry *kp = &key;
        struct entry **hit = bsearch(&kp, idx, r->n, sizeof *idx, cmp_entry);
        if (hit) {
            row_of[*hit - r->batch] = j;
        }
    }
    for (size_t i = 0; i < r->n && e == ERR_OK; i++) {
        struct entry *en = &r->batch[i];
        int j = row_of[i];
        const char *outcome = NULL;
        bool same = j >= 0 && same_sig(en, old, j);
        if (same && strcmp(db_res_get(old, j, 6), r->env->job_id) == 0) {
            continue; /* recorded by an earlier attempt of this run: counted then */
        }
        x->k.listed++;
        if (same && !r->force) {
            const char *was = db_res_get(old, j, 4);
            bool rule_changed = strcmp(db_res_get(old, j, 5), r->hash) != 0;
            if (!(strcmp(was, "rejected") == 0 && rule_changed)) {
                x->k.skipped++;
                continue;
            }
            /* rejected under another definition: looked at again */
        }
        if (en->m.matched) {
            outcome = "pending";
            if (json_object_set_new(obs, en->m.obs_id, json_true()) != 0) {
                e = err_set(ei, ERR_NOMEM, "out of memory");
            }
            if (j >= 0) {
                x->k.changed++;
            } else {
                x->k.new_++;
            }
        } else {
            outcome = "rejected";
            x->k.rejected++;
        }
        json_t *row = json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s?}", "uri", en->uri,
                                "size", (json_int_t)en->size, "mtime_ns",
                                (json_int_t)en->mtime_ns, "etag", en->etag, "obs_id",
                                en->m.obs_id, "product_id", en->m.product_id, "dataset",
                                en->m.dataset, "outcome", outcome, "reason",
                                en->m.matched ? NULL : en->m.reason);
        if (!row || json_array_append_new(rows, row) != 0) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
        }
    }
    free(row_of);
    if (e == ERR_OK && json_array_size(rows) > 0) {
        if (!(rows_txt = json_dumps(rows, JSON_COMPACT))) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
            goto out;
        }
        const char *up[] = {r->name, r->hash, r->env->job_id, rows_txt};
        e = db_exec(c, ONE_OFF, sql_upsert, 4, up, NULL, ei);
    }
    if (e == ERR_OK && json_object_size(obs) > 0) {
        json_t *names = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(obs, k, v)
        {
            if (!names || json_array_append_new(names, json_string(k)) != 0) {
                break;
            }
        }
        free(rows_txt);
        rows_txt = names && json_array_size(names) == json_object_size(obs)
                       ? harv__text_array(names)
                       : NULL;
        json_decref(names);
        if (!rows_txt) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
            goto out;
        }
        const char *op[] = {r->name, r->env->job_id, rows_txt};
        e = db_exec(c, ONE_OFF, sql_obs_pending, 3, op, NULL, ei);
    }
    if (e == ERR_OK) {
        struct counts k = x->k;
        k.listed += r->unwritten_skips;
        k.skipped += r->unwritten_skips;
        e = add_counts(c, r->env->job_id, &k, 0, NULL, ei);
    }
out:
    free(rows_txt);
    free(uris_txt);
    free(idx);
    db_res_free(old);
    json_decref(uris);
    json_decref(rows);
    json_decref(obs);
    return e;
}

static enum err flush(struct run *r, struct err_info *ei)
{
    if (r->n == 0 && r->unwritten_skips == 0) {
        return ERR_OK;
    }
    struct flush x = {.r = r};
    enum err e = db_txn_run(r->h->pool, flush_txn, &x, ei);
    batch_clear(r);
    if (e == ERR_OK) {
        r->unwritten_skips = 0;
        r->total.listed += x.k.listed;
        r->total.new_ += x.k.new_;
        r->total.changed += x.k.changed;
        r->total.skipped += x.k.skipped;
        r->total.rejected += x.k.rejected;
        progress(r, "listing", 1, "listed %lld, new %lld, changed %lld, skipped %lld, rejected %lld",
                 (long long)r->total.listed, (long long)r->total.new_,
                 (long long)r->total.changed, (long long)r->total.skipped,
                 (long long)r->total.rejected);
    }
    return e;
}

/* One listed entry: counted and passed over when the bookmark covers it, else batched. */
static enum err add_entry(struct run *r, const char *uri, const struct storage_stat *st,
                          struct err_info *ei)
{
    if (cancelled(r)) {
        return err_set(ei, ERR_CANCELLED, "collection run stopped: cancellation requested");
    }
    int64_t ts = st ? st->mtime_ns : 0;
    if (ts > r->newest_ns) {
        r->newest_ns = ts;
    }
    if (!r->force && r->bookmark_ns > 0 && ts > 0 && ts <= r->bookmark_ns) {
        r->total.listed++;
        r->total.skipped++;
        if (++r->unwritten_skips == 100 * HARV_BATCH) {
            return flush(r, ei);
        }
        return ERR_OK;
    }
    struct entry *en = &r->batch[r->n];
    memset(en, 0, sizeof *en);
    if (!(en->uri = str_dup(uri))) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    r->n++;
    if (st) {
        en->size = st->size;
        en->mtime_ns = st->mtime_ns;
        str_copy(en->etag, sizeof en->etag, st->etag);
    }
    enum err e = coll_def_match(r->def, uri, &en->m, ei);
    if (e == ERR_TOO_LARGE) {
        en->m.matched = false;
        str_copy(en->m.reason, sizeof en->m.reason, "identifier longer than 256 bytes");
        e = ERR_OK;
    }
    if (e == ERR_OK && r->n == HARV_BATCH) {
        e = flush(r, ei);
    }
    return e;
}

static enum err list_cb(void *ud, const char *uri, const struct storage_stat *st)
{
    struct run *r = ud;
    return add_entry(r, uri, st, r->ei);
}

/* ---- fan-out ------------------------------------------------------------------------------ */

/* keyset over the observations: observations fanned out leave dead entries in the partial
 * index until a vacuum, and starting each batch from the first would walk all of them again */
static const char sql_pending_obs[] =
    "SELECT obs_id FROM collection_obs WHERE collection = $1 AND state = 'pending'"
    " AND obs_id > $3 ORDER BY obs_id LIMIT $2";

static const char sql_obs_files[] =
    "SELECT obs_id, uri, coalesce(product_id, ''), coalesce(dataset, ''), outcome"
    " FROM collection_files WHERE collection = $1 AND obs_id = ANY($2::text[])"
    " AND outcome <> 'rejected' ORDER BY obs_id, uri";

/* The entries fan_txn's next batch will name to their children that earlier runs recorded
 * (its new and changed ones were just listed): the probe looks whether they still exist. Read
 * without the lock and outside the transaction; fan_txn reads its batch again under the lock. */
static const char sql_probe[] =
    "SELECT uri FROM collection_files WHERE collection = $1"
    " AND obs_id = ANY(ARRAY(SELECT obs_id FROM collection_obs WHERE collection = $1"
    "  AND state = 'pending' AND obs_id > $3 ORDER BY obs_id LIMIT $2))"
    " AND outcome NOT IN ('pending', 'rejected')";

/* an entry of an observation that is gone from the source (renamed, removed) */
static const char sql_forget[] =
    "DELETE FROM collection_files WHERE collection = $1 AND uri = $2 AND outcome <> 'pending'";

/* one narrow row per observation, not every entry of it */
static const char sql_mark_queued[] =
    "UPDATE collection_obs o SET state = 'queued', child_id = x.child, run_id = $2::uuid,"
    " updated_at = now() FROM unnest($3::text[], $4::uuid[]) AS x(obs_id, child)"
    " WHERE o.collection = $1 AND o.obs_id = x.obs_id AND o.state = 'pending'";

/* an observation whose child cannot be: its pending entries fail with the reason */
static const char sql_mark_failed[] =
    "WITH d AS (DELETE FROM collection_obs WHERE collection = $1 AND obs_id = $2"
    " AND state = 'pending' RETURNING obs_id)"
    " UPDATE collection_files SET outcome = 'failed', reason = $3, run_id = $4::uuid,"
    " updated_at = now() WHERE collection = $1 AND obs_id IN (SELECT obs_id FROM d)"
    " AND outcome = 'pending'";

/* The directory part of @p uri with its trailing '/', for a dataset job's input. */
static void uri_dir(const char *uri, char *out, size_t cap)
{
    str_copy(out, cap, uri);
    char *slash = strrchr(out, '/');
    if (slash) {
        slash[1] = '\0';
    }
}

/* The child job of one observation: files [from, to) of @p res, but those @p gone. */
static json_t *child_spec(const struct run *r, const struct db_res *res, const bool *gone,
                          int from, int to)
{
    const char *kind = coll_def_job_kind(r->def);
    const char *profile = coll_def_job_profile(r->def);
    const char *queue = coll_def_job_queue(r->def);
    const char *obs = db_res_get(res, from, 0);
    json_t *params = json_object();
    json_t *spec = json_pack("{s:s, s:s, s:o}", "kind", kind, "parent_id", r->env->job_id,
                             "params", params);
    bool ok = spec != NULL;
    if (ok && queue) {
        ok = json_object_set_new(spec, "queue", json_string(queue)) == 0;
    }
    if (ok && coll_def_max_attempts(r->def) > 0) {
        ok = json_object_set_new(spec, "max_attempts",
                                 json_integer(coll_def_max_attempts(r->def))) == 0;
    }
    if (ok && profile) {
        ok = json_object_set_new(params, "profile", json_string(profile)) == 0;
    }
    if (ok && strcmp(kind, "ingest") == 0) {
        json_t *uris = json_array();
        json_t *pids = json_array();
        bool any_pid = false;
        for (int i = from; ok && i < to; i++) {
            if (gone[i]) {
                continue;
            }
            const char *pid = db_res_get(res, i, 2);
            any_pid = any_pid || pid[0];
            ok = json_array_append_new(uris, json_string(db_res_get(res, i, 1))) == 0 &&
                 json_array_append_new(pids, json_string(pid)) == 0;
        }
        ok = ok && json_object_set_new(params, "uris", uris) == 0;
        ok = ok && json_object_set_new(params, "observation_id", json_string(obs)) == 0;
        if (ok && any_pid) {
            ok = json_object_set_new(params, "product_ids", pids) == 0;
        } else {
            json_decref(pids);
        }
        if (ok && !profile) {
            ok = json_object_set_new(params, "collection", json_string(r->name)) == 0;
        }
    } else if (ok && strcmp(kind, "dataset") == 0) {
        char dir[STORAGE_URI_MAX + 1];
        int first = from;
        while (first + 1 < to && gone[first]) {
            first++;
        }
        const char *ds = db_res_get(res, first, 3);
        uri_dir(db_res_get(res, first, 1), dir, sizeof dir);
        ok = json_object_set_new(params, "dataset", json_string(ds[0] ? ds : obs)) == 0 &&
             json_object_set_new(params, "input", json_string(dir)) == 0;
    }
    if (!ok) {
        json_decref(spec);
        return NULL;
    }
    return spec;
}

struct fan {
    struct run *r;
    json_t *gone;      /* URIs the probe found gone from the source (as keys) */
    int done;          /* out: observations handled (children or refused) */
    int children;      /* out */
    char after[COLL_ID_MAX]; /* the last observation fanned out ("" = from the first) */
    char refused[COLL_ID_MAX]; /* an observation whose child the queue refused */
    char why[sizeof ((struct err_info *)0)->msg];
};

static enum err fan_txn(struct db_conn *c, void *arg, struct err_info *ei)
{
    struct fan *x = arg;
    struct run *r = x->r;
    struct db_res *obs = NULL;
    struct db_res *files = NULL;
    json_t *names = json_array();
    json_t *specs = json_array();
    json_t *ids = NULL;
    json_t *groups = json_array(); /* obs id of each spec */
    char *kids = NULL;
    bool *gone = NULL; /* per entry of @c files: vanished from the source */
    char *txt = NULL;
    char lim[12];
    enum err e = ERR_OK;
    x->done = x->children = 0;
    if (!names || !specs || !groups) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    const char *lp[] = {r->name};
    if ((e = db_exec(c, "harv_lock_keyed", HARV_SQL_LOCK_KEYED, 1, lp, NULL, ei)) != ERR_OK) {
        goto out;
    }
    if (x->refused[0]) {
        /* the queue refused this observation's child: its entries fail, the others go on */
        const char *fp[] = {r->name, x->refused, x->why, r->env->job_id};
        if ((e = db_exec(c, "harv_mark_failed", sql_mark_failed, 4, fp, NULL, ei)) != ERR_OK) {
            goto out;
        }
        x->refused[0] = '\0';
    }
    snprintf(lim, sizeof lim, "%d", HARV_FANOUT_BATCH);
    const char *op[] = {r->name, lim, x->after};
    if ((e = db_exec(c, ONE_OFF, sql_pending_obs, 3, op, &obs, ei)) != ERR_OK) {
        goto out;
    }
    if (db_res_rows(obs) == 0) {
        goto out;
    }
    for (int i = 0; i < db_res_rows(obs); i++) {
        if (json_array_append_new(names, json_string(db_res_get(obs, i, 0))) != 0) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    if (!(txt = harv__text_array(names))) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    const char *fp[] = {r->name, txt};
    if ((e = db_exec(c, ONE_OFF, sql_obs_files, 2, fp, &files, ei)) != ERR_OK) {
        goto out;
    }
    int nf = db_res_rows(files);
    if (!(gone = calloc((size_t)nf + 1, sizeof *gone))) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    /* an observation's other entries, recorded by earlier runs, that the probe found gone (a
     * file renamed or removed since must not be named to its child) are forgotten; one the
     * probe did not see (recorded since) counts as present, as when its HEAD fails */
    for (int i = 0; i < nf; i++) {
        if (strcmp(db_res_get(files, i, 4), "pending") == 0) {
            continue;
        }
        if (json_object_get(x->gone, db_res_get(files, i, 1))) {
            const char *gp[] = {r->name, db_res_get(files, i, 1)};
            if ((e = db_exec(c, "harv_forget", sql_forget, 2, gp, NULL, ei)) != ERR_OK) {
                goto out;
            }
            gone[i] = true;
        }
    }
    for (int i = 0; i < nf;) {
        int j = i + 1;
        while (j < nf && strcmp(db_res_get(files, j, 0), db_res_get(files, i, 0)) == 0) {
            j++;
        }
        if (j - i > CHILD_URIS_MAX) {
            char why[96];
            snprintf(why, sizeof why, "observation has %d files, more than the %d of one job",
                     j - i, CHILD_URIS_MAX);
            const char *mp[] = {r->name, db_res_get(files, i, 0), why, r->env->job_id};
            if ((e = db_exec(c, "harv_mark_failed", sql_mark_failed, 4, mp, NULL, ei)) != ERR_OK) {
                goto out;
            }
        } else {
            json_t *spec = child_spec(r, files, gone, i, j);
            if (!spec || json_array_append_new(specs, spec) != 0 ||
                json_array_append_new(groups, json_string(db_res_get(files, i, 0))) != 0) {
                e = err_set(ei, ERR_NOMEM, "out of memory");
                goto out;
            }
        }
        x->done++;
        i = j;
    }
    if (json_array_size(specs) > 0) {
        e = queue_enqueue_conn(r->h->q, c, specs, &ids, ei);
        if (e == ERR_INVALID && ei->field[0] == '[') {
            /* "[k].params...": the child of observation k is refused; fail it and redo */
            size_t k = strtoul(ei->field + 1, NULL, 10);
            if (k < json_array_size(groups)) {
                str_copy(x->refused, sizeof x->refused,
                         json_string_value(json_array_get(groups, k)));
                snprintf(x->why, sizeof x->why, "child job refused: %s", ei->msg);
                e = ERR_DB_RETRY; /* roll back; fan() takes the refusal first */
            }
            goto out;
        }
        if (e != ERR_OK) {
            goto out;
        }
        free(txt);
        txt = harv__text_array(groups);
        kids = harv__text_array(ids);
        if (!txt || !kids) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
            goto out;
        }
        const char *mp[] = {r->name, r->env->job_id, txt, kids};
        if ((e = db_exec(c, ONE_OFF, sql_mark_queued, 4, mp, NULL, ei)) != ERR_OK) {
            goto out;
        }
        x->children = (int)json_array_size(ids);
    }
    struct counts none = {0};
    e = add_counts(c, r->env->job_id, &none, x->children, "fanout", ei);
    if (e == ERR_OK) {
        str_copy(x->after, sizeof x->after, db_res_get(obs, db_res_rows(obs) - 1, 0));
    }
out:
    free(txt);
    free(kids);
    free(gone);
    json_decref(ids);
    json_decref(names);
    json_decref(specs);
    json_decref(groups);
    db_res_free(obs);
    db_res_free(files);
    return e;
}

/* Before a fan_txn batch, out of its transaction (no lock, no connection held while the
 * storage answers): HEAD the older entries of the batch's observations, the ones gone into
 * x->gone. Nothing is written here, so a crash in between loses nothing. */
static enum err fan_probe(struct fan *x, struct err_info *ei)
{
    struct run *r = x->r;
    struct db_res *res = NULL;
    char lim[12];
    json_object_clear(x->gone);
    snprintf(lim, sizeof lim, "%d", HARV_FANOUT_BATCH);
    const char *p[] = {r->name, lim, x->after};
    enum err e = db_pool_exec(r->h->pool, HARV_ACQUIRE_MS, ONE_OFF, sql_probe, 3, p, &res, ei);
    for (int i = 0; e == ERR_OK && i < db_res_rows(res); i++) {
        const char *uri = db_res_get(res, i, 0);
        struct storage_stat st;
        struct err_info he = {0};
        if (cancelled(r)) {
            e = err_set(ei, ERR_CANCELLED, "collection run stopped: cancellation requested");
        } else if (storage_head(r->env->storage, uri, &st, &he) == ERR_NOT_FOUND &&
                   json_object_set_new(x->gone, uri, json_true()) != 0) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
        }
    }
    db_res_free(res);
    return e;
}

static enum err fan(struct run *r, struct err_info *ei)
{
    struct fan x = {.r = r, .gone = json_object()};
    enum err e = x.gone ? ERR_OK : err_set(ei, ERR_NOMEM, "out of memory");
    while (e == ERR_OK) {
        if (cancelled(r)) {
            e = err_set(ei, ERR_CANCELLED, "collection run stopped: cancellation requested");
            break;
        }
        if ((e = fan_probe(&x, ei)) != ERR_OK) {
            break;
        }
        e = db_txn_run(r->h->pool, fan_txn, &x, ei);
        if (e == ERR_DB_RETRY && x.refused[0]) {
            e = ERR_OK;
            continue; /* the refused observation is failed at the start of the next round */
        }
        if (e != ERR_OK) {
            break;
        }
        if (x.done == 0 && !x.refused[0]) {
            if (!x.after[0]) {
                break;
            }
            x.after[0] = '\0'; /* a last sweep from the first: pending entries behind us */
            continue;
        }
        r->children += x.children;
        progress(r, "fanout", 2, "children %lld (listed %lld, new %lld, changed %lld, "
                 "skipped %lld, rejected %lld)", (long long)r->children,
                 (long long)r->total.listed, (long long)r->total.new_,
                 (long long)r->total.changed, (long long)r->total.skipped,
                 (long long)r->total.rejected);
    }
    json_decref(x.gone);
    return e;
}

/* ---- waiting and the report --------------------------------------------------------------- */

/* How many children of the run are still queued, running or retrying. */
static enum err active_children(struct run *r, bool report, int64_t *active,
                                struct err_info *ei)
{
    const char *p[] = {r->env->job_id};
    struct db_res *res = NULL;
    enum err e = db_pool_exec(r->h->pool, HARV_ACQUIRE_MS, "harv_children",
                              "SELECT count(*) FILTER (WHERE state IN ('queued', 'running',"
                              " 'retrying')), count(*) FILTER (WHERE state = 'succeeded'),"
                              " count(*) FILTER (WHERE state = 'failed'),"
                              " count(*) FILTER (WHERE state = 'cancelled')"
                              " FROM jobs WHERE parent_id = $1::uuid",
                              1, p, &res, ei);
    if (e != ERR_OK) {
        return e;
    }
    int64_t v[4];
    for (int i = 0; i < 4; i++) {
        v[i] = harv__i64(db_res_get(res, 0, i), 0);
    }
    db_res_free(res);
    if (report) /* a snoozed run looking again reports nothing: its "children" say it all */
        progress(r, "waiting", 3, "children: %lld active, %lld succeeded, %lld failed, "
             "%lld cancelled", (long long)v[0], (long long)v[1], (long long)v[2],
             (long long)v[3]);
    *active = v[0];
    return ERR_OK;
}

/* The runs whose entries a finishing run settles: itself, and earlier runs of the collection
 * that ended without settling theirs (cancelled or failed while their children ran). */
#define SQL_RUNS_TO_SETTLE                                                                         \
    "(SELECT r.job_id FROM collection_runs r LEFT JOIN jobs pj ON pj.id = r.job_id"              \
    " WHERE r.collection = $2 AND (r.job_id = $1::uuid OR (r.phase <> 'done'"                     \
    " AND (pj.id IS NULL OR pj.state IN ('failed', 'cancelled')))))"

/* The children's ends become the entries' outcomes (first line of the error as the reason);
 * an entry whose child's record is gone (pruned) fails saying so. */
static const char sql_outcomes[] =
    "WITH s AS (SELECT o.obs_id, o.child_id, o.run_id, j.state::text AS state,"
    "  left(split_part(coalesce(j.error_message, j.error_code, j.state::text), E'\\n', 1), 500)"
    "  AS why FROM collection_obs o JOIN jobs j ON j.id = o.child_id"
    "  WHERE o.collection = $2 AND o.state = 'queued' AND o.run_id IN " SQL_RUNS_TO_SETTLE
    "  AND j.state IN ('succeeded', 'failed', 'cancelled')),"
    " f AS (UPDATE collection_files f SET outcome = CASE s.state WHEN 'succeeded' THEN 'succeeded'"
    "  WHEN 'cancelled' THEN 'cancelled' ELSE 'failed' END,"
    "  reason = CASE WHEN s.state = 'succeeded' THEN NULL ELSE s.why END,"
    "  child_id = s.child_id, run_id = s.run_id, updated_at = now()"
    "  FROM s WHERE f.collection = $2 AND f.obs_id = s.obs_id AND f.outcome = 'pending')"
    " DELETE FROM collection_obs o USING s WHERE o.collection = $2 AND o.obs_id = s.obs_id"
    " AND o.child_id = s.child_id";

static const char sql_orphans[] =
    "WITH s AS (SELECT o.obs_id, o.child_id, o.run_id FROM collection_obs o"
    "  WHERE o.collection = $2 AND o.state = 'queued' AND o.run_id IN " SQL_RUNS_TO_SETTLE
    "  AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = o.child_id)),"
    " f AS (UPDATE collection_files f SET outcome = 'failed', reason = 'child job record is gone',"
    "  child_id = s.child_id, run_id = s.run_id, updated_at = now()"
    "  FROM s WHERE f.collection = $2 AND f.obs_id = s.obs_id AND f.outcome = 'pending')"
    " DELETE FROM collection_obs o USING s WHERE o.collection = $2 AND o.obs_id = s.obs_id"
    " AND o.child_id = s.child_id";

static const char sql_failed_reasons[] =
    "SELECT DISTINCT reason FROM collection_files WHERE run_id = $1::uuid AND outcome = 'failed'"
    " AND reason IS NOT NULL LIMIT 1000";

static const char sql_reject_reason[] =
    "UPDATE collection_files SET outcome = 'rejected' WHERE run_id = $1::uuid"
    " AND outcome = 'failed' AND reason = $2";

static const char sql_report[] =
    "SELECT json_build_object('listed', r.listed, 'new', r.new, 'changed', r.changed,"
    " 'skipped', r.skipped, 'rejected', r.rejected, 'children', r.children,"
    " 'succeeded', (SELECT count(*) FROM collection_files WHERE run_id = $1::uuid"
    "   AND outcome = 'succeeded'),"
    " 'failed', (SELECT count(*) FROM collection_files WHERE run_id = $1::uuid"
    "   AND outcome = 'failed'),"
    " 'cancelled', (SELECT count(*) FROM collection_files WHERE run_id = $1::uuid"
    "   AND outcome = 'cancelled'),"
    " 'rejected_by_children', (SELECT count(*) FROM collection_files WHERE run_id = $1::uuid"
    "   AND outcome = 'rejected' AND child_id IS NOT NULL))::text,"
    " (SELECT coalesce(json_agg(x ORDER BY x.uri), '[]') FROM (SELECT uri, obs_id, child_id,"
    "   reason AS error FROM collection_files WHERE run_id = $1::uuid AND outcome = 'failed'"
    "   ORDER BY uri LIMIT $2) x)::text"
    " FROM collection_runs r WHERE r.job_id = $1::uuid";

struct fin {
    struct run *r;
    json_t *counts;   /* out */
    json_t *failures; /* out */
};

static enum err finish_txn(struct db_conn *c, void *arg, struct err_info *ei)
{
    struct fin *x = arg;
    struct run *r = x->r;
    struct db_res *res = NULL;
    const char *p[] = {r->env->job_id};
    json_decref(x->counts);
    json_decref(x->failures);
    x->counts = x->failures = NULL;
    const char *lp[] = {r->name};
    enum err e = db_exec(c, "harv_lock", HARV_SQL_LOCK, 1, lp, NULL, ei);
    const char *sp[] = {r->env->job_id, r->name};
    if (e == ERR_OK) {
        e = db_exec(c, "harv_outcomes", sql_outcomes, 2, sp, NULL, ei);
    }
    if (e == ERR_OK) {
        e = db_exec(c, "harv_orphans", sql_orphans, 2, sp, NULL, ei);
    }
    if (e == ERR_OK) {
        e = db_exec(c, "harv_failed_reasons", sql_failed_reasons, 1, p, &res, ei);
    }
    for (int i = 0; e == ERR_OK && i < db_res_rows(res); i++) {
        const char *why = db_res_get(res, i, 0);
        if (coll_def_is_rejection(r->def, why)) {
            const char *rp[] = {r->env->job_id, why};
            e = db_exec(c, "harv_reject_reason", sql_reject_reason, 2, rp, NULL, ei);
        }
    }
    db_res_free(res);
    res = NULL;
    char lim[12];
    snprintf(lim, sizeof lim, "%d", HARV_REPORT_FAILURES);
    const char *rp[] = {r->env->job_id, lim};
    if (e == ERR_OK) {
        e = db_exec(c, "harv_report", sql_report, 2, rp, &res, ei);
    }
    if (e == ERR_OK && db_res_rows(res) == 1) {
        json_error_t je;
        x->counts = json_loads(db_res_get(res, 0, 0), 0, &je);
        x->failures = json_loads(db_res_get(res, 0, 1), 0, &je);
        if (!x->counts || !x->failures) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
        }
    } else if (e == ERR_OK) {
        e = err_set(ei, ERR_INTERNAL, "run record of job %s is missing", r->env->job_id);
    }
    db_res_free(res);
    if (e == ERR_OK) {
        char *counts = json_dumps(x->counts, JSON_COMPACT);
        const char *up[] = {r->env->job_id, counts};
        e = counts ? db_exec(c, "harv_run_done",
                             "UPDATE collection_runs SET phase = 'done', finished_at = now(),"
                             " report = $2::jsonb WHERE job_id = $1::uuid",
                             2, up, NULL, ei)
                   : err_set(ei, ERR_NOMEM, "out of memory");
        free(counts);
    }
    return e;
}

/* ---- the run ------------------------------------------------------------------------------ */

struct start {
    const char *job, *name, *trigger;
    char phase[16]; /* out: where an earlier attempt left the run */
    char stored[16]; /* out: the trigger its row names (a schedule slot's, a retry's) */
};

static enum err start_txn(struct db_conn *c, void *arg, struct err_info *ei)
{
    struct start *x = arg;
    struct db_res *res = NULL;
    const char *p[] = {x->job, x->name, x->trigger};
    enum err e = db_exec(c, "harv_run_phase",
                         "SELECT phase, trigger FROM collection_runs WHERE job_id = $1::uuid"
                         " FOR UPDATE",
                         1, p, &res, ei);
    str_copy(x->phase, sizeof x->phase, db_res_rows(res) ? db_res_get(res, 0, 0) : "");
    str_copy(x->stored, sizeof x->stored, db_res_rows(res) ? db_res_get(res, 0, 1) : x->trigger);
    db_res_free(res);
    if (e != ERR_OK || strcmp(x->phase, "waiting") == 0) {
        return e;
    }
    /* a run enqueued by POST /v1/jobs has no row yet; a rerun of this job lists again, what
     * earlier attempts recorded staying counted (new, changed, rejected) */
    return db_exec(c, "harv_run_start",
                   "INSERT INTO collection_runs (job_id, collection, trigger, phase)"
                   " VALUES ($1::uuid, $2, $3, 'listing') ON CONFLICT (job_id) DO UPDATE"
                   " SET listed = collection_runs.new + collection_runs.changed"
                   "  + collection_runs.rejected, skipped = 0, phase = 'listing'",
                   3, p, NULL, ei);
}

/* After a listing that recorded many entries, fresh statistics for the fan-out and the
 * settlement: the file-state tables grew within the run faster than autovacuum follows, and
 * the fan-out's join planned against an "empty" collection_obs walked all of it for every
 * batch (118 ms a batch at 50,000 observations, 6 ms with statistics). */
#define HARV_ANALYZE_AFTER 1000 /* entries recorded by the listing */

static enum err refresh_stats(struct run *r, struct err_info *ei)
{
    if (r->total.new_ + r->total.changed + r->total.rejected < HARV_ANALYZE_AFTER) {
        return ERR_OK;
    }
    return db_pool_exec(r->h->pool, HARV_ACQUIRE_MS, "harv_analyze",
                        "ANALYZE collection_files, collection_obs", 0, NULL, NULL, ei);
}

static enum err set_phase(struct run *r, const char *phase, struct err_info *ei)
{
    const char *p[] = {r->env->job_id, phase};
    return db_pool_exec(r->h->pool, HARV_ACQUIRE_MS, "harv_phase",
                        "UPDATE collection_runs SET phase = $2 WHERE job_id = $1::uuid", 2, p,
                        NULL, ei);
}

static enum err advance_bookmark(struct run *r, struct err_info *ei)
{
    int64_t b = r->newest_ns;
    if (b > r->start_ns - HARV_BOOKMARK_MARGIN_NS) {
        b = r->start_ns - HARV_BOOKMARK_MARGIN_NS;
    }
    if (b <= r->bookmark_ns || b <= 0) {
        return ERR_OK;
    }
    char v[24];
    snprintf(v, sizeof v, "%lld", (long long)b);
    const char *p[] = {r->name, r->hash, v};
    /* only under the definition the run listed with */
    return db_pool_exec(r->h->pool, HARV_ACQUIRE_MS, "harv_bookmark",
                        "UPDATE collections SET bookmark_ns = greatest(coalesce(bookmark_ns, 0),"
                        " $3) WHERE name = $1 AND def_hash = $2",
                        3, p, NULL, ei);
}

static enum err list_source(struct run *r, const json_t *todo, struct err_info *ei)
{
    enum err e = ERR_OK;
    if (todo) {
        for (size_t i = 0; e == ERR_OK && i < json_array_size(todo); i++) {
            e = add_entry(r, json_string_value(json_array_get(todo, i)), NULL, ei);
        }
    } else {
        struct storage_walk_opts wo = {.recursive = coll_def_recursive(r->def),
                                       .scratch_dir = r->env->scratch_dir};
        e = storage_walk(r->env->storage, coll_def_source(r->def), &wo, list_cb, r, ei);
        if (e != ERR_OK && e != ERR_CANCELLED && e != ERR_NOMEM) {
            char m[sizeof ei->msg];
            str_copy(m, sizeof m, ei->msg);
            err_set(ei, e, "listing %s failed: %s", coll_def_source(r->def), m);
        }
    }
    if (e == ERR_OK) {
        e = flush(r, ei);
    }
    batch_clear(r);
    return e;
}

enum err harv_run(struct harv *h, const struct harv_run_env *env, const json_t *params,
                  json_t **report, int64_t *snooze_ms, struct err_info *ei)
{
    struct run r = {.h = h, .env = env, .ei = ei};
    const char *name = json_string_value(json_object_get(params, "collection"));
    const json_t *todo = json_object_get(params, "todo");
    bool retry = json_is_true(json_object_get(params, "retry"));
    struct fin fin = {.r = &r};
    int64_t active = 0;
    *report = NULL;
    *snooze_ms = 0;
    enum err e = harv_params_validate(params, "", h, ei);
    if (e != ERR_OK) {
        return e;
    }
    r.name = name;
    r.force = todo != NULL;
    if ((e = harv__load_def(h, name, &r.def, r.hash, &r.bookmark_ns, &r.start_ns, ei)) != ERR_OK) {
        return e;
    }
    if (!(r.batch = calloc(HARV_BATCH, sizeof *r.batch))) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    struct start st = {.job = env->job_id, .name = name,
                       .trigger = todo ? "todo" : retry ? "retry" : "manual"};
    if ((e = db_txn_run(h->pool, start_txn, &st, ei)) != ERR_OK) {
        goto out;
    }
    if (strcmp(st.phase, "waiting") != 0) {
        if (!retry) {
            progress(&r, "listing", 1, "listing %s",
                     todo ? "the todo list" : coll_def_source(r.def));
            if ((e = list_source(&r, todo, ei)) != ERR_OK ||
                (e = refresh_stats(&r, ei)) != ERR_OK) {
                goto out;
            }
        }
        if ((e = fan(&r, ei)) != ERR_OK) {
            goto out;
        }
        /* every listed entry is recorded and fanned out: the bookmark may move past them */
        if (!todo && !retry && (e = advance_bookmark(&r, ei)) != ERR_OK) {
            goto out;
        }
        if ((e = set_phase(&r, "waiting", ei)) != ERR_OK) {
            goto out;
        }
    }
    if ((e = active_children(&r, strcmp(st.phase, "waiting") != 0, &active, ei)) != ERR_OK) {
        goto out;
    }
    if (active > 0) {
        /* the worker gives its thread back while the children run */
        *snooze_ms = env->wait_poll_ms > 0 ? env->wait_poll_ms : 1000;
        goto out;
    }
    if ((e = db_txn_run(h->pool, finish_txn, &fin, ei)) != ERR_OK) {
        goto out;
    }
    *report = json_pack("{s:s, s:s, s:O, s:O}", "collection", name, "trigger",
                        st.stored, "counts", fin.counts,
                        "failures", fin.failures);
    if (!*report) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
    }
out:
    if (e != ERR_OK && e != ERR_CANCELLED && e != ERR_UNAVAILABLE && e != ERR_TIMEOUT) {
        struct err_info ignored = {0};
        (void)set_phase(&r, "failed", &ignored);
    }
    json_decref(fin.counts);
    json_decref(fin.failures);
    if (r.batch) {
        batch_clear(&r);
    }
    free(r.batch);
    coll_def_destroy(r.def);
    return e;
}
