/* harvest.c - stored collection definitions, schedules and the operator views (see harvest.h).
 * SPDX-License-Identifier: Apache-2.0 */
#include "harvest_int.h"

#include "core/cfgdir.h"
#include "core/str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HARV_FILES_MAX 256 /* definition files under collections/ */

enum err harv_create(struct db_pool *pool, struct queue *q, const struct coll_env *env,
                     struct harv **out, struct err_info *ei)
{
    struct harv *h = calloc(1, sizeof *h);
    if (!h) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    h->pool = pool;
    h->q = q;
    if (env) {
        h->env = *env;
    }
    *out = h;
    return ERR_OK;
}

void harv_destroy(struct harv *h)
{
    free(h);
}

/* A statement whose one row and column is a JSON document; no row: ERR_NOT_FOUND. */
static enum err one_json(struct harv *h, const char *name, const char *sql, int n,
                         const char *const *p, json_t **out, struct err_info *ei)
{
    struct db_res *r = NULL;
    enum err e = db_pool_exec(h->pool, HARV_ACQUIRE_MS, name, sql, n, p, &r, ei);
    if (e != ERR_OK) {
        return e;
    }
    if (db_res_rows(r) == 0 || !db_res_get(r, 0, 0)) {
        db_res_free(r);
        return err_set(ei, ERR_NOT_FOUND, "no such collection");
    }
    json_error_t je;
    *out = json_loads(db_res_get(r, 0, 0), JSON_DECODE_ANY, &je);
    db_res_free(r);
    return *out ? ERR_OK : err_set(ei, ERR_INTERNAL, "unreadable JSON from the database");
}

static enum err check_name(const char *name, struct err_info *ei)
{
    return coll_name_valid(name) ? ERR_OK
                         : err_set_field(ei, ERR_INVALID, "name",
                                         "a collection name is 1 to %d of [A-Za-z0-9._-]",
                                         COLL_NAME_MAX);
}

char *harv__text_array(const json_t *strings)
{
    size_t cap = 3;
    for (size_t i = 0; i < json_array_size(strings); i++) {
        cap += 2 * json_string_length(json_array_get(strings, i)) + 3;
    }
    char *out = malloc(cap);
    if (!out) {
        return NULL;
    }
    size_t n = 0;
    out[n++] = '{';
    for (size_t i = 0; i < json_array_size(strings); i++) {
        const char *s = json_string_value(json_array_get(strings, i));
        size_t len = json_string_length(json_array_get(strings, i));
        if (i > 0) {
            out[n++] = ',';
        }
        out[n++] = '"';
        for (size_t k = 0; s && k < len; k++) {
            if (s[k] == '"' || s[k] == '\\') {
                out[n++] = '\\';
            }
            out[n++] = s[k];
        }
        out[n++] = '"';
    }
    out[n++] = '}';
    out[n] = '\0';
    return out;
}

/* ---- definitions -------------------------------------------------------------------------- */

/* harv_put: the next slot of a period is the first multiple of it after now (slots are
 * aligned to the epoch, so every replica computes the same ones). A changed definition starts
 * over: no bookmark, the next slot from now. The API may not replace a file's definition. */
static const char sql_put[] =
    "INSERT INTO collections AS c (name, definition, def_hash, origin, schedule_s, next_run_at)"
    " VALUES ($1, $2::jsonb, md5($2::text), $3, $4::bigint,"
    "  CASE WHEN $4 IS NULL THEN NULL ELSE"
    "   to_timestamp((floor(extract(epoch FROM now()) / $4::bigint) + 1) * $4::bigint) END)"
    " ON CONFLICT (name) DO UPDATE SET definition = EXCLUDED.definition,"
    "  def_hash = EXCLUDED.def_hash, origin = EXCLUDED.origin,"
    "  schedule_s = EXCLUDED.schedule_s,"
    "  next_run_at = CASE WHEN c.def_hash = EXCLUDED.def_hash THEN c.next_run_at"
    "                ELSE EXCLUDED.next_run_at END,"
    "  bookmark_ns = CASE WHEN c.def_hash = EXCLUDED.def_hash THEN c.bookmark_ns END,"
    "  updated_at = CASE WHEN c.def_hash = EXCLUDED.def_hash THEN c.updated_at ELSE now() END"
    " WHERE c.origin = EXCLUDED.origin OR EXCLUDED.origin = 'file'"
    " RETURNING (xmax = 0)";

enum err harv_put(struct harv *h, const char *name, const json_t *doc, enum harv_origin origin,
                  bool *created, struct err_info *ei)
{
    struct coll_def *d = NULL;
    char *canon = NULL;
    struct db_res *r = NULL;
    enum err e = check_name(name, ei);
    if (e == ERR_OK) {
        e = coll_def_parse(name, doc, &h->env, &d, ei);
    }
    if (e != ERR_OK) {
        return e;
    }
    json_t *j = coll_def_json(d);
    canon = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (!canon) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    char sched[24];
    int64_t s = coll_def_schedule_s(d);
    snprintf(sched, sizeof sched, "%lld", (long long)s);
    const char *p[] = {name, canon, origin == HARV_ORIGIN_FILE ? "file" : "api",
                       s > 0 ? sched : NULL};
    e = db_pool_exec(h->pool, HARV_ACQUIRE_MS, "harv_put", sql_put, 4, p, &r, ei);
    if (e != ERR_OK) {
        goto out;
    }
    if (db_res_rows(r) == 0) {
        e = err_set_field(ei, ERR_CONFLICT, "name",
                          "collection %s is defined by a file of the service's configuration; "
                          "change the file", name);
        goto out;
    }
    if (created) {
        const char *v = db_res_get(r, 0, 0);
        *created = v && v[0] == 't';
    }
out:
    db_res_free(r);
    free(canon);
    coll_def_destroy(d);
    return e;
}

enum err harv_load_dir(struct harv *h, const char *dir, int *loaded, struct err_info *ei)
{
    char **names = NULL;
    size_t nn = 0;
    int count = 0;
    enum err e = cfgdir_yaml_names(dir, HARV_FILES_MAX, "collection files", &names, &nn, ei);
    if (loaded) {
        *loaded = 0;
    }
    if (e == ERR_NOT_FOUND) {
        return ERR_OK;
    }
    for (size_t i = 0; i < nn && e == ERR_OK; i++) {
        char path[4096];
        char name[COLL_NAME_MAX + 8];
        char *text = NULL;
        size_t len = 0;
        struct coll_def *def = NULL;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        str_copy(name, sizeof name, names[i]);
        *strrchr(name, '.') = '\0';
        if ((e = cfgdir_read(path, COLL_YAML_MAX, &text, &len, ei)) != ERR_OK) {
            break;
        }
        e = coll_def_parse_yaml(name, path, text, len, &h->env, &def, ei);
        free(text);
        json_t *j = e == ERR_OK ? coll_def_json(def) : NULL;
        coll_def_destroy(def);
        if (e == ERR_OK && !j) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
        }
        if (e == ERR_OK) {
            e = harv_put(h, name, j, HARV_ORIGIN_FILE, NULL, ei);
            count += e == ERR_OK;
        }
        json_decref(j);
    }
    cfgdir_names_free(names, nn);
    if (loaded) {
        *loaded = count;
    }
    return e;
}

/* ---- views -------------------------------------------------------------------------------- */

#define SQL_LAST_RUN(c)                                                                            \
    "(SELECT json_build_object('job_id', r.job_id, 'state', j.state, 'trigger', r.trigger,"       \
    " 'phase', r.phase, 'counts', json_build_object('listed', r.listed, 'new', r.new,"             \
    " 'changed', r.changed, 'skipped', r.skipped, 'rejected', r.rejected, 'children',"            \
    " r.children), 'created_at', " HARV_TS("r.created_at") ", 'finished_at', "                    \
    HARV_TS("r.finished_at") ") FROM collection_runs r LEFT JOIN jobs j ON j.id = r.job_id"       \
    " WHERE r.collection = " c " ORDER BY r.created_at DESC LIMIT 1)"

#define HARV_COUNT(cond) "coalesce(sum(n) FILTER (WHERE outcome " cond "), 0)::bigint"

static const char sql_get[] =
    "SELECT json_build_object('name', c.name, 'definition', c.definition, 'origin', c.origin,"
    " 'created_at', " HARV_TS("c.created_at") ", 'updated_at', " HARV_TS("c.updated_at") ","
    " 'bookmark', " HARV_TS("to_timestamp(c.bookmark_ns / 1e9)") ","
    " 'next_run_at', " HARV_TS("c.next_run_at") ","
    " 'last_run', " SQL_LAST_RUN("c.name") ","
    /* the counts the triggers of migration 0012 keep (no scan of the entries); queued:
     * pending entries whose observation's child is enqueued, shown apart from pending */
    " 'files', (SELECT json_build_object('total', " HARV_COUNT("<> 'queued'") ","
    "   'pending', " HARV_COUNT("= 'pending'") " - " HARV_COUNT("= 'queued'") ","
    "   'queued', " HARV_COUNT("= 'queued'") ", 'succeeded', " HARV_COUNT("= 'succeeded'") ","
    "   'failed', " HARV_COUNT("= 'failed'") ", 'rejected', " HARV_COUNT("= 'rejected'") ","
    "   'cancelled', " HARV_COUNT("= 'cancelled'") ")"
    "   FROM collection_counts WHERE collection = c.name),"
    " 'failing', (SELECT coalesce(json_agg(x ORDER BY x.updated_at DESC), '[]') FROM"
    "   (SELECT f.uri, f.outcome, f.reason, f.obs_id, " HARV_TS("f.updated_at") " AS updated_at"
    "    FROM collection_files f WHERE f.collection = c.name"
    "    AND f.outcome IN ('failed', 'rejected') ORDER BY f.updated_at DESC LIMIT $2) x)"
    ")::text FROM collections c WHERE c.name = $1";

enum err harv_get(struct harv *h, const char *name, json_t **out, struct err_info *ei)
{
    enum err e = check_name(name, ei);
    if (e != ERR_OK) {
        return e;
    }
    char lim[12];
    snprintf(lim, sizeof lim, "%d", HARV_FAILING_SHOWN);
    const char *p[] = {name, lim};
    e = one_json(h, "harv_get", sql_get, 2, p, out, ei);
    if (e == ERR_NOT_FOUND) {
        err_set(ei, ERR_NOT_FOUND, "no collection named %s", name);
    }
    return e;
}

static const char sql_list[] =
    "SELECT json_build_object('items', coalesce(json_agg(json_build_object('name', c.name,"
    " 'source', c.definition->'source', 'origin', c.origin,"
    " 'schedule', c.definition->'schedule', 'next_run_at', " HARV_TS("c.next_run_at") ","
    " 'last_run', " SQL_LAST_RUN("c.name") ") ORDER BY c.name), '[]'))::text"
    " FROM (SELECT * FROM collections ORDER BY name LIMIT $1) c";

enum err harv_list(struct harv *h, json_t **out, struct err_info *ei)
{
    char lim[12];
    snprintf(lim, sizeof lim, "%d", HARV_LIST_MAX);
    const char *p[] = {lim};
    return one_json(h, "harv_list", sql_list, 1, p, out, ei);
}

/* harv_files: one page by URI after the cursor (the last URI of the previous page). */
static const char sql_files[] =
    "SELECT (SELECT count(*) FROM collections WHERE name = $1),"
    " coalesce(json_agg(json_build_object('uri', f.uri, 'size', f.size,"
    "  'mtime', " HARV_TS("to_timestamp(f.mtime_ns / 1e9)") ", 'etag', f.etag,"
    "  'obs_id', f.obs_id, 'product_id', f.product_id, 'dataset', f.dataset,"
    "  'outcome', f.shown, 'reason', f.reason, 'child_id', f.child,"
    "  'updated_at', " HARV_TS("f.updated_at") ") ORDER BY f.uri), '[]')::text,"
    " max(f.uri), count(*)"
    " FROM (SELECT f.*, CASE WHEN f.outcome = 'pending' AND o.state = 'queued' THEN 'queued'"
    "   ELSE f.outcome END AS shown, coalesce(o.child_id, f.child_id) AS child"
    "  FROM collection_files f LEFT JOIN collection_obs o"
    "   ON o.collection = f.collection AND o.obs_id = f.obs_id"
    "  WHERE f.collection = $1 AND ($3::text IS NULL OR f.uri > $3)"
    "  AND ($2::text IS NULL OR (f.outcome = $2 AND $2 <> 'pending')"
    "   OR (f.outcome = 'pending' AND $2 IN ('pending', 'queued')"
    "    AND (coalesce(o.state, '') = 'queued') = ($2 = 'queued')))"
    "  ORDER BY f.uri LIMIT $4) f";

static const char *const outcomes[] = {"pending", "queued", "succeeded", "failed", "rejected",
                                       "cancelled"};

/* Cursors are the hex of the last URI: opaque to clients, no quoting trouble in a query. */
static bool cursor_decode(const char *c, char *out, size_t cap)
{
    size_t n = strlen(c);
    if (n == 0 || n % 2 || n / 2 >= cap) {
        return false;
    }
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v = 0;
        if (sscanf(c + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdef", c[2 * i]) ||
            !strchr("0123456789abcdef", c[2 * i + 1]) || v == 0) {
            return false;
        }
        out[i] = (char)v;
    }
    out[n / 2] = '\0';
    return true;
}

enum err harv_files(struct harv *h, const char *name, const char *outcome, const char *cursor,
                    int limit, json_t **out, struct err_info *ei)
{
    char after[STORAGE_URI_MAX + 1];
    char lim[12];
    struct db_res *r = NULL;
    enum err e = check_name(name, ei);
    if (e != ERR_OK) {
        return e;
    }
    if (outcome) {
        bool ok = false;
        for (size_t i = 0; i < sizeof outcomes / sizeof outcomes[0]; i++) {
            ok = ok || strcmp(outcome, outcomes[i]) == 0;
        }
        if (!ok) {
            return err_set_field(ei, ERR_INVALID, "outcome",
                                 "outcome is one of pending, queued, succeeded, failed, "
                                 "rejected, cancelled");
        }
    }
    if (limit < 0 || limit > HARV_FILES_PAGE_MAX) {
        return err_set_field(ei, ERR_INVALID, "limit", "limit is 1 to %d", HARV_FILES_PAGE_MAX);
    }
    if (cursor && !cursor_decode(cursor, after, sizeof after)) {
        return err_set_field(ei, ERR_PARSE, "cursor", "cursor is not one this service gave");
    }
    int n = limit ? limit : HARV_FILES_PAGE_DEFAULT;
    snprintf(lim, sizeof lim, "%d", n);
    const char *p[] = {name, outcome, cursor ? after : NULL, lim};
    /* unnamed: planned with the outcome given, so "failed" or "rejected" pages walk the
     * partial index of the failing entries */
    if ((e = db_pool_exec(h->pool, HARV_ACQUIRE_MS, NULL, sql_files, 4, p, &r, ei)) != ERR_OK) {
        return e;
    }
    const char *exists = db_res_get(r, 0, 0);
    if (!exists || strcmp(exists, "0") == 0) {
        db_res_free(r);
        return err_set(ei, ERR_NOT_FOUND, "no collection named %s", name);
    }
    json_error_t je;
    json_t *items = json_loads(db_res_get(r, 0, 1), 0, &je);
    const char *last = db_res_get(r, 0, 2);
    int64_t got = harv__i64(db_res_get(r, 0, 3), 0);
    json_t *next = json_null();
    if (last && got == n) {
        size_t ln = strlen(last);
        char *hex = malloc(2 * ln + 1);
        for (size_t i = 0; hex && i < ln; i++) {
            snprintf(hex + 2 * i, 3, "%02x", (unsigned char)last[i]);
        }
        if (hex) {
            hex[2 * ln] = '\0';
            next = json_string(hex);
        }
        free(hex);
    }
    db_res_free(r);
    *out = items && next ? json_pack("{s:o, s:o}", "items", items, "next_cursor", next) : NULL;
    if (!*out) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    return ERR_OK;
}

/* ---- runs --------------------------------------------------------------------------------- */

enum err harv_params_validate(const json_t *params, const char *pfx, const void *ctx,
                              struct err_info *ei)
{
    (void)ctx; /* the collection is looked up when the run starts (no statement here: the queue
                  calls validators inside its own transactions) */
    const char *k;
    const json_t *v;
    if (!params || !json_is_object(params)) {
        return err_set_field(ei, ERR_INVALID, "params", "%sparams must be an object with "
                             "\"collection\"", pfx);
    }
    if (!coll_name_valid(json_string_value(json_object_get(params, "collection")))) {
        char f[64];
        snprintf(f, sizeof f, "%sparams.collection", pfx);
        return err_set_field(ei, ERR_INVALID, f, "%s is required: a collection name (1 to %d "
                             "of [A-Za-z0-9._-])", f, COLL_NAME_MAX);
    }
    json_object_foreach((json_t *)(uintptr_t)params, k, v)
    {
        char f[64];
        snprintf(f, sizeof f, "%sparams.%s", pfx, k);
        if (strcmp(k, "collection") == 0) {
            continue;
        }
        if (strcmp(k, "retry") == 0) {
            if (!json_is_boolean(v)) {
                return err_set_field(ei, ERR_INVALID, f, "%s must be true or false", f);
            }
            continue;
        }
        if (strcmp(k, "todo") != 0) {
            return err_set_field(ei, ERR_INVALID, f, "%s is not a parameter of collection jobs "
                                 "(collection, todo, retry)", f);
        }
        size_t n = json_array_size(v);
        if (!json_is_array(v) || n == 0 || n > HARV_TODO_MAX) {
            return err_set_field(ei, ERR_INVALID, f, "%s must be a list of 1 to %d URIs", f,
                                 HARV_TODO_MAX);
        }
        for (size_t i = 0; i < n; i++) {
            struct storage_uri u;
            const char *s = json_string_value(json_array_get(v, i));
            struct err_info ue = {0};
            if (!s || storage_uri_parse(s, &u, &ue) != ERR_OK) {
                char fi[80];
                snprintf(fi, sizeof fi, "%s[%zu]", f, i);
                return err_set_field(ei, ERR_INVALID, fi, "%s: %s", fi,
                                     s ? ue.msg : "must be a URI string");
            }
        }
    }
    return ERR_OK;
}

enum err harv__active_run(struct db_conn *c, const char *name, char id[QUEUE_ID_LEN + 1],
                          struct err_info *ei)
{
    struct db_res *r = NULL;
    const char *p[] = {name};
    enum err e = db_exec(c, "harv_active",
                         "SELECT r.job_id FROM collection_runs r JOIN jobs j ON j.id = r.job_id"
                         " WHERE r.collection = $1 AND j.state IN ('queued', 'running', 'retrying')"
                         " LIMIT 1",
                         1, p, &r, ei);
    if (e == ERR_OK) {
        str_copy(id, QUEUE_ID_LEN + 1, db_res_rows(r) ? db_res_get(r, 0, 0) : "");
    }
    db_res_free(r);
    return e;
}

enum err harv__enqueue_run(struct harv *h, struct db_conn *c, const char *name,
                           const char *trigger, const char *slot_epoch, bool retry,
                           char id[QUEUE_ID_LEN + 1], struct err_info *ei)
{
    json_t *ids = NULL;
    json_t *spec = json_pack("{s:s, s:{s:s}}", "kind", HARV_KIND, "params", "collection", name);
    if (!spec || (retry && json_object_set_new(json_object_get(spec, "params"), "retry",
                                               json_true()) != 0)) {
        json_decref(spec);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    enum err e = queue_enqueue_conn(h->q, c, spec, &ids, ei);
    json_decref(spec);
    if (e != ERR_OK) {
        return e;
    }
    str_copy(id, QUEUE_ID_LEN + 1, json_string_value(json_array_get(ids, 0)));
    json_decref(ids);
    const char *p[] = {id, name, slot_epoch, trigger};
    e = db_exec(c, "harv_run_insert",
                "INSERT INTO collection_runs (job_id, collection, slot, trigger)"
                " VALUES ($1, $2, to_timestamp($3::double precision), $4)",
                4, p, NULL, ei);
    if (e == ERR_CONFLICT) {
        e = err_set(ei, ERR_CONFLICT, "the run of collection %s for this slot exists", name);
    }
    return e;
}

struct run_now {
    struct harv *h;
    const char *name;
    bool retry;
    char id[QUEUE_ID_LEN + 1];
    char active[QUEUE_ID_LEN + 1];
};

static enum err run_now_txn(struct db_conn *c, void *arg, struct err_info *ei)
{
    struct run_now *x = arg;
    struct db_res *r = NULL;
    const char *p[] = {x->name};
    x->active[0] = '\0';
    enum err e = db_exec(c, "harv_lock_def", "SELECT 1 FROM collections WHERE name = $1 FOR UPDATE",
                         1, p, &r, ei);
    int rows = db_res_rows(r);
    db_res_free(r);
    if (e != ERR_OK) {
        return e;
    }
    if (rows == 0) {
        return err_set(ei, ERR_NOT_FOUND, "no collection named %s", x->name);
    }
    if ((e = harv__active_run(c, x->name, x->active, ei)) != ERR_OK) {
        return e;
    }
    if (x->active[0]) {
        return err_set(ei, ERR_CONFLICT, "collection %s has a run in progress: job %s", x->name,
                       x->active);
    }
    e = harv__enqueue_run(x->h, c, x->name, x->retry ? "retry" : "manual", NULL, x->retry, x->id,
                          ei);
    if (e == ERR_OK && x->retry) {
        /* the failed entries and their observations are pending again, for this run */
        const char *rp[] = {x->name, x->id};
        e = db_exec(c, "harv_retry_mark",
                    "WITH f AS (UPDATE collection_files SET outcome = 'pending', updated_at = now()"
                    " WHERE collection = $1 AND outcome IN ('failed', 'cancelled')"
                    " AND obs_id IS NOT NULL RETURNING obs_id)"
                    /* pending_n: the entries pending before this statement; the entries'
                     * trigger adds those it made pending */
                    " INSERT INTO collection_obs AS o (collection, obs_id, state, run_id,"
                    " pending_n) SELECT $1, x.obs_id, 'pending', $2::uuid, "
                    HARV_SQL_PENDING_N("$1", "x.obs_id")
                    " FROM (SELECT DISTINCT obs_id FROM f) x"
                    " ON CONFLICT (collection, obs_id) DO UPDATE SET state = 'pending',"
                    " run_id = EXCLUDED.run_id, child_id = NULL, updated_at = now()",
                    2, rp, NULL, ei);
    }
    return e;
}

enum err harv_run_now(struct harv *h, const char *name, bool retry, json_t **job,
                      char active_id[QUEUE_ID_LEN + 1], struct err_info *ei)
{
    struct run_now x = {.h = h, .name = name, .retry = retry};
    enum err e = check_name(name, ei);
    if (e == ERR_OK) {
        e = db_txn_run(h->pool, run_now_txn, &x, ei);
    }
    if (active_id) {
        str_copy(active_id, QUEUE_ID_LEN + 1, x.active);
    }
    if (e == ERR_OK) {
        queue_wake(h->q);
        e = queue_get(h->q, x.id, job, ei);
    }
    return e;
}

/* harv_schedule_tick: the due collections, each locked by the first replica to get it. */
static enum err tick_txn(struct db_conn *c, void *arg, struct err_info *ei)
{
    struct harv *h = ((void **)arg)[0];
    int *n = ((void **)arg)[1];
    struct db_res *r = NULL;
    *n = 0;
    enum err e = db_exec(c, "harv_due",
                         "SELECT name, extract(epoch FROM next_run_at)::text FROM collections"
                         " WHERE schedule_s IS NOT NULL AND next_run_at <= now()"
                         " ORDER BY next_run_at LIMIT 100 FOR UPDATE SKIP LOCKED",
                         0, NULL, &r, ei);
    for (int i = 0; e == ERR_OK && i < db_res_rows(r); i++) {
        const char *name = db_res_get(r, i, 0);
        char active[QUEUE_ID_LEN + 1];
        char id[QUEUE_ID_LEN + 1];
        e = harv__active_run(c, name, active, ei);
        if (e == ERR_OK && !active[0]) {
            e = harv__enqueue_run(h, c, name, "schedule", db_res_get(r, i, 1), false, id, ei);
            *n += e == ERR_OK;
        }
        const char *p[] = {name};
        if (e == ERR_OK) {
            /* the next slot after now: slots missed while nothing ran are not made up */
            e = db_exec(c, "harv_next_slot",
                        "UPDATE collections SET next_run_at = to_timestamp((floor(extract(epoch"
                        " FROM now()) / schedule_s) + 1) * schedule_s) WHERE name = $1",
                        1, p, NULL, ei);
        }
    }
    db_res_free(r);
    return e;
}

enum err harv_schedule_tick(struct harv *h, int *enqueued, struct err_info *ei)
{
    int n = 0;
    void *arg[] = {h, &n};
    enum err e = db_txn_run(h->pool, tick_txn, arg, ei);
    if (e == ERR_OK && n > 0) {
        queue_wake(h->q);
    }
    if (enqueued) {
        *enqueued = e == ERR_OK ? n : 0;
    }
    return e;
}

enum err harv_run_counts(struct harv *h, const char *job_id, json_t **out, struct err_info *ei)
{
    const char *p[] = {job_id};
    *out = NULL;
    enum err e = one_json(h, "harv_counts",
                          "SELECT json_build_object('collection', collection, 'trigger', trigger,"
                          " 'phase', phase, 'listed', listed, 'new', new, 'changed', changed,"
                          " 'skipped', skipped, 'rejected', rejected, 'children', children)::text"
                          " FROM collection_runs WHERE job_id = $1::uuid",
                          1, p, out, ei);
    return e == ERR_NOT_FOUND ? ERR_OK : e;
}

enum err harv__load_def(struct harv *h, const char *name, struct coll_def **def, char hash[33],
                        int64_t *bookmark_ns, int64_t *now_ns, struct err_info *ei)
{
    struct db_res *r = NULL;
    const char *p[] = {name};
    enum err e = db_pool_exec(h->pool, HARV_ACQUIRE_MS, "harv_load_def",
                              "SELECT definition::text, def_hash, bookmark_ns,"
                              " (extract(epoch FROM now()) * 1e9)::bigint FROM collections"
                              " WHERE name = $1",
                              1, p, &r, ei);
    if (e != ERR_OK) {
        return e;
    }
    if (db_res_rows(r) == 0) {
        db_res_free(r);
        return err_set(ei, ERR_NOT_FOUND, "collection %s is not defined", name);
    }
    json_error_t je;
    json_t *doc = json_loads(db_res_get(r, 0, 0), 0, &je);
    str_copy(hash, 33, db_res_get(r, 0, 1));
    *bookmark_ns = harv__i64(db_res_get(r, 0, 2), 0);
    *now_ns = harv__i64(db_res_get(r, 0, 3), 0);
    db_res_free(r);
    if (!doc) {
        return err_set(ei, ERR_INTERNAL, "stored definition of %s is unreadable", name);
    }
    e = coll_def_parse(name, doc, &h->env, def, ei);
    json_decref(doc);
    if (e == ERR_INVALID) {
        char m[sizeof ei->msg];
        str_copy(m, sizeof m, ei->msg);
        err_set(ei, ERR_INVALID, "collection %s: %s", name, m);
    }
    return e;
}
