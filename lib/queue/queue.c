/* queue.c - the queue handle and the API side: enqueue (validated, batched, idempotent), get,
 * list, events, cancel, retry, stats, and the wake-up hint.
 * SPDX-License-Identifier: Apache-2.0 */
#include "queue_int.h"

#include "core/buf.h"
#include "core/clock.h"
#include "core/str.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- handle ------------------------------------------------------------------------------- */

static enum err queue_kinds_check(const struct queue_kind *kinds, int n, struct err_info *ei);

enum err queue_create(struct db_pool *pool,
                      const struct queue_config *cfg,
                      struct queue **out,
                      struct err_info *ei)
{
    if (pool == NULL || out == NULL) {
        return err_set(ei, ERR_INVALID, "queue needs a database pool");
    }
    struct queue *q = calloc(1, sizeof *q);
    if (q == NULL) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    q->pool = pool;
    if (cfg != NULL) {
        q->cfg = *cfg;
    }
    enum err ke = queue_kinds_check(q->cfg.kinds, q->cfg.nkinds, ei);
    if (ke != ERR_OK) {
        free(q);
        return ke;
    }
    if (q->cfg.nkinds == 0) {
        q->cfg.kinds = &queue_kind_noop;
        q->cfg.nkinds = 1;
    }
    if (q->cfg.lease_s <= 0) {
        q->cfg.lease_s = 15;
    }
    if (q->cfg.backoff_base_ms <= 0) {
        q->cfg.backoff_base_ms = 1000;
    }
    if (q->cfg.backoff_cap_ms <= 0) {
        q->cfg.backoff_cap_ms = 600000;
    }
    if (q->cfg.retention_s <= 0) {
        q->cfg.retention_s = 86400;
    }
    if (q->cfg.retention_failed_s <= 0) {
        q->cfg.retention_failed_s = 7 * 86400;
    }
    if (q->cfg.process_name != NULL && q->cfg.process_name[0] != '\0') {
        str_copy(q->name, sizeof q->name, q->cfg.process_name);
    } else if (gethostname(q->name, sizeof q->name - 1) != 0 || q->name[0] == '\0') {
        str_copy(q->name, sizeof q->name, "obsflow");
    }
    q->cfg.process_name = q->name;
    queue__uuid7(q->boot_id);
    snprintf(q->proc_id, sizeof q->proc_id, "%s/%s", q->name, q->boot_id);
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    *out = q;
    return ERR_OK;
}

void queue_destroy(struct queue *q)
{
    if (q == NULL) {
        return;
    }
    db_listener_destroy(q->listener);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q);
}

const char *queue_process_id(const struct queue *q)
{
    return q->proc_id;
}

void queue_wake(struct queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->wake_pending = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

static void queue_wake_cb(void *arg)
{
    queue_wake(arg);
}

bool queue_wait(struct queue *q, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    int64_t ns = (int64_t)dl.tv_nsec + (int64_t)(timeout_ms % 1000) * 1000000;
    dl.tv_sec += (time_t)(timeout_ms / 1000 + ns / 1000000000);
    dl.tv_nsec = (long)(ns % 1000000000);
    pthread_mutex_lock(&q->mu);
    while (!q->wake_pending) {
        if (pthread_cond_timedwait(&q->cv, &q->mu, &dl) == ETIMEDOUT) {
            break;
        }
    }
    bool woken = q->wake_pending;
    q->wake_pending = false;
    pthread_mutex_unlock(&q->mu);
    return woken;
}

enum err queue_listen(struct queue *q, struct err_info *ei)
{
    enum err e = ERR_OK;
    pthread_mutex_lock(&q->mu);
    if (q->listener == NULL) {
        e = db_listener_create(db_pool_conninfo(q->pool), QUEUE_CHANNEL, queue_wake_cb, q,
                               &q->listener, ei);
    }
    pthread_mutex_unlock(&q->mu);
    return e;
}

/* ---- validation --------------------------------------------------------------------------- */

bool queue_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > QUEUE_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '_' && c != '-' && c != '.') {
            return false;
        }
    }
    return true;
}

static bool queue_kind_name_ok(const char *s)
{
    size_t n = strnlen(s, QUEUE_KIND_MAX + 1);
    if (n == 0 || n > QUEUE_KIND_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

static enum err queue_kinds_check(const struct queue_kind *kinds, int n, struct err_info *ei)
{
    if (n < 0 || n > QUEUE_KINDS_MAX || (n > 0 && kinds == NULL)) {
        return err_set(ei, ERR_INVALID, "a queue runs 1 to %d job kinds", QUEUE_KINDS_MAX);
    }
    for (int i = 0; i < n; i++) {
        if (kinds[i].name == NULL || !queue_kind_name_ok(kinds[i].name)) {
            return err_set(ei, ERR_INVALID, "job kind %d: a name of 1 to %d of [a-z0-9_-]", i,
                           QUEUE_KIND_MAX);
        }
        if (kinds[i].queue != NULL && !queue_name_valid(kinds[i].queue)) {
            return err_set(ei, ERR_INVALID, "job kind %s: invalid default queue", kinds[i].name);
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(kinds[i].name, kinds[j].name) == 0) {
                return err_set(ei, ERR_INVALID, "job kind %s is named twice", kinds[i].name);
            }
        }
    }
    return ERR_OK;
}

static const struct queue_kind *
queue_kind_find(const struct queue_kind *kinds, int n, const char *name)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(kinds[i].name, name) == 0) {
            return &kinds[i];
        }
    }
    return NULL;
}

/* The field name "<pfx><name>" of an error, formatted only when there is one. */
static const char *queue_field(char *f, size_t n, const char *pfx, const char *name)
{
    snprintf(f, n, "%s%s", pfx, name);
    return f;
}

/* Validate one spec; append its normalized row {id, kind, ...} to @p rows.
 * @p pfx is "" for a single object or "[i]." inside an array. */
static enum err queue_spec_check(const struct queue_kind *kinds,
                                 int nkinds,
                                 const json_t *spec,
                                 const char *pfx,
                                 json_t *rows,
                                 struct err_info *ei)
{
    const struct queue_kind *kind = NULL;
    char f[64];
    const char *key;
    json_t *v;
    if (!json_is_object(spec)) {
        snprintf(f, sizeof f, "%.*s", pfx[0] != '\0' ? (int)strlen(pfx) - 1 : 0, pfx);
        return err_set_field(ei, ERR_INVALID, f[0] != '\0' ? f : "body",
                             "job specification must be a JSON object");
    }
    json_t *row = json_object();
    if (row == NULL) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    json_object_foreach((json_t *)(uintptr_t)spec, key, v)
    {
        static const char *const known[] = {"kind",         "params", "queue",    "priority",
                                            "max_attempts", "run_at", "parent_id"};
        bool ok = false;
        for (size_t i = 0; i < ARRAY_LEN(known); i++) {
            ok = ok || strcmp(key, known[i]) == 0;
        }
        if (!ok) {
            snprintf(f, sizeof f, "%s%.40s", pfx, key);
            json_decref(row);
            return err_set_field(ei, ERR_INVALID, f, "unrecognized field \"%.40s\"", key);
        }
    }
    enum err e = ERR_OK;
    char id[QUEUE_ID_LEN + 1];
    queue__uuid7(id);
    bool built = queue__set(row, "id", json_string(id));

    v = json_object_get(spec, "kind");
    if (v == NULL) {
        e = err_set_field(ei, ERR_INVALID, queue_field(f, sizeof f, pfx, "kind"),
                          "kind is required");
    } else if (!json_is_string(v)) {
        e = err_set_field(ei, ERR_INVALID, queue_field(f, sizeof f, pfx, "kind"),
                          "kind must be a string");
    } else if ((kind = queue_kind_find(kinds, nkinds, json_string_value(v))) == NULL) {
        e = err_set_field(ei, ERR_INVALID, queue_field(f, sizeof f, pfx, "kind"),
                          "no worker of this deployment runs job kind \"%.40s\"",
                          json_string_value(v));
    } else {
        built = built && queue__set(row, "kind", json_incref(v));
    }
    if (e == ERR_OK) {
        v = json_object_get(spec, "params");
        if (v != NULL && !json_is_null(v) && !json_is_object(v)) {
            e = err_set_field(ei, ERR_INVALID, queue_field(f, sizeof f, pfx, "params"),
                              "params must be a JSON object");
        } else if (v != NULL && json_is_object(v)) {
            char *dump = json_dumps(v, JSON_COMPACT);
            size_t n = dump != NULL ? strlen(dump) : 0;
            bool nul = dump != NULL && queue__json_has_nul(dump);
            free(dump);
            if (dump == NULL) {
                e = err_set(ei, ERR_NOMEM, "out of memory");
            } else if (n > QUEUE_PARAMS_MAX) {
                e = err_set_field(ei, ERR_TOO_LARGE, queue_field(f, sizeof f, pfx, "params"),
                                  "params exceed %d bytes", QUEUE_PARAMS_MAX);
            } else if (nul) {
                /* jsonb cannot store it: refuse it here rather than fail the insert */
                e = err_set_field(ei, ERR_INVALID, queue_field(f, sizeof f, pfx, "params"),
                                  "params must not contain NUL characters");
            } else {
                built = built && queue__set(row, "params", json_incref(v));
            }
        }
        if (e == ERR_OK && kind->params != NULL) {
            /* the kind's own validator, the one its worker runs before starting */
            e = kind->params(v != NULL && json_is_object(v) ? v : NULL, pfx, kind->ctx, ei);
        }
    }
    if (e == ERR_OK) {
        v = json_object_get(spec, "queue");
        if (v != NULL && !json_is_string(v)) {
            e = err_set_field(ei, ERR_INVALID, queue_field(f, sizeof f, pfx, "queue"),
                              "queue must be a string");
        } else if (v != NULL && !queue_name_valid(json_string_value(v))) {
            e = err_set_field(ei, ERR_INVALID, queue_field(f, sizeof f, pfx, "queue"),
                              "queue name must be 1 to %d characters of A-Z a-z 0-9 _ - .",
                              QUEUE_NAME_MAX);
        } else {
            const json_t *pv = json_object_get(spec, "params");
            const char *asked = kind->queue_of != NULL && json_is_object(pv)
                                    ? kind->queue_of(pv, kind->ctx)
                                    : NULL;
            const char *dq = asked != NULL && queue_name_valid(asked) ? asked
                             : kind->queue != NULL                    ? kind->queue
                                                                      : QUEUE_DEFAULT_QUEUE;
            built = built &&
                    queue__set(row, "queue", json_string(v != NULL ? json_string_value(v) : dq));
        }
    }
    if (e == ERR_OK) {
        v = json_object_get(spec, "priority");
        if (v != NULL && !json_is_integer(v)) {
            e = err_set_field(ei, ERR_INVALID, queue_field(f, sizeof f, pfx, "priority"),
                              "priority must be an integer");
        } else if (v != NULL && (json_integer_value(v) < 0 || json_integer_value(v) > 9)) {
            e = err_set_field(ei, ERR_INVALID, queue_field(f, sizeof f, pfx, "priority"),
                              "priority must be between 0 and 9");
        } else {
            built = built && queue__set(row, "priority",
                                        json_integer(v != NULL ? json_integer_value(v)
                                                               : QUEUE_PRIORITY_DEFAULT));
        }
    }
    if (e == ERR_OK) {
        v = json_object_get(spec, "max_attempts");
        if (v != NULL && !json_is_integer(v)) {
            e = err_set_field(ei, ERR_INVALID, queue_field(f, sizeof f, pfx, "max_attempts"),
                              "max_attempts must be an integer");
        } else if (v != NULL &&
                   (json_integer_value(v) < 1 || json_integer_value(v) > QUEUE_ATTEMPTS_MAX)) {
            e = err_set_field(ei, ERR_INVALID, queue_field(f, sizeof f, pfx, "max_attempts"),
                              "max_attempts must be between 1 and %d", QUEUE_ATTEMPTS_MAX);
        } else {
            built = built && queue__set(row, "max_attempts",
                                        json_integer(v != NULL ? json_integer_value(v)
                                                               : QUEUE_MAX_ATTEMPTS_DEFAULT));
        }
    }
    if (e == ERR_OK) {
        v = json_object_get(spec, "run_at");
        int64_t at_us = 0;
        if (v != NULL && !json_is_null(v) &&
            (!json_is_string(v) || !queue_rfc3339_parse(json_string_value(v), &at_us))) {
            e = err_set_field(ei, ERR_INVALID, queue_field(f, sizeof f, pfx, "run_at"),
                              "run_at must be an RFC 3339 date-time such as "
                              "\"2026-11-21T21:00:00Z\"");
        } else if (v != NULL && json_is_string(v)) {
            /* the UTC instant: PostgreSQL would refuse offsets RFC 3339 allows (+18:00) */
            char utc[32];
            queue_rfc3339_format(at_us, utc, sizeof utc);
            built = built && queue__set(row, "run_at", json_string(utc));
        }
    }
    if (e == ERR_OK) {
        v = json_object_get(spec, "parent_id");
        if (v != NULL && !json_is_null(v) &&
            (!json_is_string(v) || !queue_is_uuid(json_string_value(v)))) {
            e = err_set_field(ei, ERR_INVALID, queue_field(f, sizeof f, pfx, "parent_id"),
                              "parent_id must be a job UUID");
        } else if (v != NULL && json_is_string(v)) {
            built = built && queue__set(row, "parent_id", json_incref(v));
        }
    }
    if (e == ERR_OK && !built) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
    }
    if (e == ERR_OK && json_array_append_new(rows, row) != 0) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    if (e != ERR_OK) {
        json_decref(row);
    }
    return e;
}

enum err queue__specs_check(const struct queue_kind *kinds,
                            int nkinds,
                            const json_t *specs,
                            json_t **rows_out,
                            struct err_info *ei)
{
    enum err e = ERR_OK;
    if (specs == NULL || (!json_is_object(specs) && !json_is_array(specs))) {
        return err_set_field(ei, ERR_PARSE, "body",
                             "request body must be a job object or an array of them");
    }
    if (json_is_array(specs) && json_array_size(specs) == 0) {
        return err_set_field(ei, ERR_PARSE, "body", "job array is empty");
    }
    if (json_is_array(specs) && json_array_size(specs) > QUEUE_BATCH_MAX) {
        return err_set_field(ei, ERR_TOO_LARGE, "body", "more than %d jobs in one request",
                             QUEUE_BATCH_MAX);
    }
    json_t *rows = json_array();
    if (rows == NULL) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    if (json_is_object(specs)) {
        e = queue_spec_check(kinds, nkinds, specs, "", rows, ei);
    } else {
        for (size_t i = 0; e == ERR_OK && i < json_array_size(specs); i++) {
            char pfx[24];
            snprintf(pfx, sizeof pfx, "[%zu].", i);
            e = queue_spec_check(kinds, nkinds, json_array_get(specs, i), pfx, rows, ei);
        }
    }
    if (e != ERR_OK) {
        json_decref(rows);
        return e;
    }
    *rows_out = rows;
    return ERR_OK;
}

enum err queue_specs_validate(const struct queue_kind *kinds,
                              int nkinds,
                              const json_t *specs,
                              struct err_info *ei)
{
    json_t *rows = NULL;
    enum err e = queue_kinds_check(kinds, nkinds, ei);
    if (e == ERR_OK) {
        e = queue__specs_check(kinds, nkinds, specs, &rows, ei);
    }
    json_decref(rows);
    return e;
}

/* ---- enqueue ------------------------------------------------------------------------------ */

/* A just-inserted job in the API shape, from its normalized spec @p row and row @p i of the
 * insert's answer (id, run_at when it differs from created_at, created_at). */
static json_t *queue_new_job(const json_t *row, const struct db_res *res, int i)
{
    const char *created = db_res_get(res, i, 2);
    const char *run_at = db_res_get(res, i, 1);
    json_t *params = json_object_get(row, "params");
    json_t *parent = json_object_get(row, "parent_id");
    return json_pack(
        "{s:s, s:O, s:s, s:O, s:O, s:o, s:i, s:O, s:s, s:s, s:n, s:n, s:n, s:n, s:n,"
        " s:O, s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i}}",
        "id", db_res_get(res, i, 0), "kind", json_object_get(row, "kind"), "state", "queued",
        "queue", json_object_get(row, "queue"), "priority", json_object_get(row, "priority"),
        "params", params != NULL ? json_incref(params) : json_object(), "attempts", 0,
        "max_attempts", json_object_get(row, "max_attempts"), "run_at",
        run_at != NULL ? run_at : created, "created_at", created, "started_at", "finished_at",
        "error", "result", "progress", "parent_id", parent != NULL ? parent : json_null(),
        "children", "total",
        0, "queued", 0, "running", 0, "retrying", 0, "succeeded", 0, "failed", 0, "cancelled", 0);
}

struct queue_enq {
    struct queue *q;
    const char *rows;      /* JSON array of normalized rows */
    const char *ids;       /* "{id,id,...}" */
    const char *canonical; /* canonical JSON of the request, for the idempotency hash */
    const char *idem_key;
    bool notify;
    struct db_res *res; /* out: the jobs */
    bool replayed;      /* out */
};

/* queue_enqueue: insert the rows and their 'queued' events, returning the new jobs. */
static const char queue_sql_insert[] =
    "WITH ins AS ("
    " INSERT INTO jobs AS j (id, kind, queue, priority, max_attempts, run_at, parent_id, params)"
    " SELECT r.id, r.kind, r.queue, r.priority, r.max_attempts, coalesce(r.run_at, now()),"
    "        r.parent_id, coalesce(r.params, '{}')"
    " FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, kind text, queue text, priority smallint,"
    "      max_attempts integer, run_at timestamptz, parent_id uuid, params jsonb)"
    " RETURNING j.id, j.run_at, j.created_at),"
    " ev AS (INSERT INTO job_events (job_id, state, attempt, message)"
    " SELECT id, 'queued', 0, 'enqueued' FROM ins)"
    /* only what the caller does not know already: the ids (in order) and the timestamps;
     * created_at is now() for every row, formatted once */
    " SELECT id, CASE WHEN run_at = created_at THEN NULL ELSE " QUEUE_TS(
        "run_at") " END,"
                  " (SELECT " QUEUE_TS("now()") ") FROM ins ORDER BY id";

/* queue_enqueue (replay) and queue_get_many: jobs by id in id order. */
static const char queue_sql_get_many[] =
    "SELECT " QUEUE_JOB_COLS QUEUE_CHILDREN_COLS " FROM jobs j" QUEUE_CHILDREN_JOIN
    " WHERE j.id = ANY($1::uuid[]) ORDER BY j.id";

static enum err queue_enq_txn(struct db_conn *c, void *arg, struct err_info *ei)
{
    struct queue_enq *x = arg;
    enum err e;
    db_res_free(x->res);
    x->res = NULL;
    x->replayed = false;
    if (x->idem_key != NULL) {
        struct db_res *r = NULL;
        const char *p[] = {x->idem_key, x->canonical, x->ids};
        /* queue_enqueue: claim the key, or find who has it (waits for an in-flight twin). */
        e = db_exec(c, "queue_idem_insert",
                    "INSERT INTO idempotency_keys (key, request_hash, job_ids)"
                    " VALUES ($1, md5($2), $3::uuid[]) ON CONFLICT (key) DO NOTHING RETURNING 1",
                    3, p, &r, ei);
        if (e != ERR_OK) {
            return e;
        }
        int inserted = db_res_rows(r);
        db_res_free(r);
        r = NULL;
        if (inserted == 0) {
            /* queue_enqueue: the earlier request under this key. */
            e = db_exec(c, "queue_idem_get",
                        "SELECT request_hash = md5($2), job_ids::text FROM idempotency_keys"
                        " WHERE key = $1",
                        2, p, &r, ei);
            if (e != ERR_OK) {
                return e;
            }
            if (db_res_rows(r) != 1) {
                db_res_free(r);
                return err_set(ei, ERR_DB_RETRY, "idempotency key vanished; retrying");
            }
            const char *same = db_res_get(r, 0, 0);
            if (same == NULL || same[0] != 't') {
                db_res_free(r);
                return err_set_field(ei, ERR_INVALID, "Idempotency-Key",
                                     "idempotency key was already used with a different request "
                                     "body");
            }
            const char *gp[] = {db_res_get(r, 0, 1)};
            e = db_exec(c, "queue_get_many", queue_sql_get_many, 1, gp, &x->res, ei);
            db_res_free(r);
            x->replayed = e == ERR_OK;
            return e;
        }
    }
    const char *p[] = {x->rows};
    e = db_exec(c, "queue_insert", queue_sql_insert, 1, p, &x->res, ei);
    if (e == ERR_INVALID) {
        const char *st = db_conn_sqlstate(c);
        if (strcmp(st, "23503") == 0) {
            return err_set_field(ei, ERR_INVALID, "parent_id", "parent job does not exist");
        }
        if (strncmp(st, "22", 2) == 0) {
            return err_set_field(ei, ERR_INVALID, "run_at", "run_at is out of range");
        }
        return e;
    }
    if (e == ERR_OK && x->notify) {
        /* queue_enqueue: wake other processes' workers (hint; debounced by the caller). */
        e = db_exec(c, "queue_notify", "SELECT pg_notify('" QUEUE_CHANNEL "', '')", 0, NULL, NULL,
                    ei);
    }
    return e;
}

/* A JSON string of text that needs no escaping in the common case (ids, kinds, queue names,
 * timestamps, all validated); anything else is escaped as jansson would. */
static enum err queue_text_str(struct buf *b, const char *s)
{
    enum err e = buf_append(b, "\"", 1);
    while (e == ERR_OK && *s != '\0') {
        size_t n = 0;
        while (s[n] != '\0' && s[n] != '"' && s[n] != '\\' && (unsigned char)s[n] >= 0x20) {
            n++;
        }
        e = buf_append(b, s, n);
        s += n;
        if (e == ERR_OK && *s != '\0') {
            char esc[8];
            unsigned char c = (unsigned char)*s++;
            if (c == '"' || c == '\\') {
                esc[0] = '\\';
                esc[1] = (char)c;
                esc[2] = '\0';
            } else {
                snprintf(esc, sizeof esc, "\\u%04x", c);
            }
            e = buf_puts(b, esc);
        }
    }
    return e == ERR_OK ? buf_append(b, "\"", 1) : e;
}

static enum err queue_text_int(struct buf *b, json_int_t v)
{
    char d[24];
    size_t n = sizeof d;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        d[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0) {
        d[--n] = '-';
    }
    return buf_append(b, d + n, sizeof d - n);
}

/* The normalized rows as the JSON text jsonb_to_recordset reads (json_dumps of them built and
 * walked a tree per row); members whose value is a string or an integer are written directly. */
static enum err queue_rows_text(const json_t *rows, struct buf *b)
{
    enum err e = buf_append(b, "[", 1);
    for (size_t i = 0; e == ERR_OK && i < json_array_size(rows); i++) {
        const json_t *row = json_array_get(rows, i);
        const char *k;
        const json_t *v;
        bool first = true;
        e = buf_puts(b, i > 0 ? ",{" : "{");
        json_object_foreach((json_t *)(uintptr_t)row, k, v)
        {
            if (e != ERR_OK) {
                break;
            }
            e = first ? ERR_OK : buf_append(b, ",", 1);
            first = false;
            if (e == ERR_OK) {
                e = queue_text_str(b, k);
            }
            if (e == ERR_OK) {
                e = buf_append(b, ":", 1);
            }
            if (e != ERR_OK) {
                break;
            }
            if (json_is_string(v)) {
                e = queue_text_str(b, json_string_value(v));
            } else if (json_is_integer(v)) {
                e = queue_text_int(b, json_integer_value(v));
            } else {
                char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                e = t != NULL ? buf_puts(b, t) : ERR_NOMEM;
                free(t);
            }
        }
        if (e == ERR_OK) {
            e = buf_append(b, "}", 1);
        }
    }
    return e == ERR_OK ? buf_append(b, "]", 1) : e;
}

/* The shared part of queue_enqueue and queue_enqueue_text: validate @p specs into @p rows (owned
 * by the caller on any return), run the transaction; @p x->res holds the answer on ERR_OK. */
static enum err queue_enqueue_run(struct queue *q,
                                  const json_t *specs,
                                  const char *idem_key,
                                  json_t **rows_out,
                                  struct queue_enq *x,
                                  struct err_info *ei)
{
    json_t *rows = NULL;
    struct buf rows_txt;
    char *canonical = NULL;
    struct buf ids;
    enum err e = ERR_OK;
    x->q = q;
    buf_init(&ids, (size_t)QUEUE_BATCH_MAX * (QUEUE_ID_LEN + 1) + 8);
    /* a row is at most its params plus a few hundred bytes */
    buf_init(&rows_txt, (size_t)QUEUE_BATCH_MAX * (QUEUE_PARAMS_MAX + 1024));

    /* the body first (shape, count, each spec), then the key */
    e = queue__specs_check(q->cfg.kinds, q->cfg.nkinds, specs, &rows, ei);
    if (e != ERR_OK) {
        goto out;
    }
    *rows_out = rows;
    if (idem_key != NULL && (idem_key[0] == '\0' || strlen(idem_key) > QUEUE_IDEM_KEY_MAX)) {
        e = err_set_field(ei, ERR_INVALID, "Idempotency-Key",
                          "idempotency key must be 1 to %d characters", QUEUE_IDEM_KEY_MAX);
        goto out;
    }
    e = buf_puts(&ids, "{");
    for (size_t i = 0; e == ERR_OK && i < json_array_size(rows); i++) {
        if (i > 0) {
            e = buf_append(&ids, ",", 1);
        }
        if (e == ERR_OK) {
            e = buf_puts(&ids, json_string_value(json_object_get(json_array_get(rows, i), "id")));
        }
    }
    if (e == ERR_OK) {
        e = buf_puts(&ids, "}");
    }
    if (e == ERR_OK) {
        e = queue_rows_text(rows, &rows_txt);
    }
    if (idem_key != NULL) {
        canonical = json_dumps(specs, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    }
    if (e != ERR_OK || (idem_key != NULL && canonical == NULL)) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    int64_t now = clock_mono_ns();
    int64_t last = atomic_load(&q->last_notify_ns);
    x->notify = now - last >= QUEUE_NOTIFY_DEBOUNCE_NS &&
                atomic_compare_exchange_strong(&q->last_notify_ns, &last, now);
    x->rows = buf_cstr(&rows_txt);
    x->ids = buf_cstr(&ids);
    x->canonical = canonical;
    x->idem_key = idem_key;
    e = db_txn_run(q->pool, queue_enq_txn, x, ei);
    if (e == ERR_OK && !x->replayed) {
        atomic_fetch_add(&q->enqueued, (uint64_t)db_res_rows(x->res));
        queue_wake(q);
    }
out:
    x->rows = NULL;
    x->ids = NULL;
    x->canonical = NULL;
    buf_free(&rows_txt);
    free(canonical);
    buf_free(&ids);
    return e;
}

enum err queue_enqueue(struct queue *q,
                       const json_t *specs,
                       const char *idem_key,
                       json_t **out,
                       bool *replayed,
                       struct err_info *ei)
{
    json_t *rows = NULL;
    json_t *jobs = NULL;
    struct queue_enq x = {.q = q};
    enum err e = queue_enqueue_run(q, specs, idem_key, &rows, &x, ei);
    if (e != ERR_OK) {
        goto out;
    }
    jobs = json_array();
    for (int i = 0; jobs != NULL && i < db_res_rows(x.res); i++) {
        json_t *j = x.replayed ? queue__job_from_row(x.res, i, true)
                               : queue_new_job(json_array_get(rows, (size_t)i), x.res, i);
        if (j == NULL || json_array_append_new(jobs, j) != 0) {
            json_decref(jobs);
            jobs = NULL;
        }
    }
    if (jobs == NULL) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    if (replayed != NULL) {
        *replayed = x.replayed;
    }
    *out = jobs;
out:
    db_res_free(x.res);
    json_decref(rows);
    return e;
}

enum err queue_enqueue_conn(struct queue *q,
                            struct db_conn *conn,
                            const json_t *specs,
                            json_t **ids,
                            struct err_info *ei)
{
    json_t *rows = NULL;
    json_t *out = NULL;
    struct db_res *res = NULL;
    struct buf txt;
    buf_init(&txt, (size_t)QUEUE_BATCH_MAX * (QUEUE_PARAMS_MAX + 1024));
    enum err e = queue__specs_check(q->cfg.kinds, q->cfg.nkinds, specs, &rows, ei);
    if (e == ERR_OK && (e = queue_rows_text(rows, &txt)) != ERR_OK) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
    }
    if (e != ERR_OK) {
        goto out;
    }
    const char *p[] = {buf_cstr(&txt)};
    e = db_exec(conn, "queue_insert", queue_sql_insert, 1, p, &res, ei);
    if (e == ERR_INVALID && strcmp(db_conn_sqlstate(conn), "23503") == 0) {
        e = err_set_field(ei, ERR_INVALID, "parent_id", "parent job does not exist");
    }
    if (e != ERR_OK) {
        goto out;
    }
    /* delivered at commit: the other processes' workers (and this one's listener) wake then */
    e = db_exec(conn, "queue_notify", "SELECT pg_notify('" QUEUE_CHANNEL "', '')", 0, NULL, NULL,
                ei);
    if (e != ERR_OK) {
        goto out;
    }
    out = json_array();
    for (int i = 0; out != NULL && i < db_res_rows(res); i++) {
        if (json_array_append_new(out, json_string(db_res_get(res, i, 0))) != 0) {
            json_decref(out);
            out = NULL;
        }
    }
    if (out == NULL) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    atomic_fetch_add(&q->enqueued, (uint64_t)db_res_rows(res));
    *ids = out;
out:
    db_res_free(res);
    buf_free(&txt);
    json_decref(rows);
    return e;
}

/* queue_new_job as compact JSON text appended to @p b: the same members in the same order. */
static enum err
queue_new_job_text(struct buf *b, const json_t *row, const struct db_res *res, int i)
{
    const char *created = db_res_get(res, i, 2);
    const char *run_at = db_res_get(res, i, 1);
    const json_t *params = json_object_get(row, "params");
    const json_t *parent = json_object_get(row, "parent_id");
    const char *id = db_res_get(res, i, 0);
    if (id == NULL || created == NULL) {
        return ERR_INTERNAL;
    }
    enum err e = buf_append(b, "{\"id\":", 6);
    if (e == ERR_OK) {
        e = queue_text_str(b, id);
    }
    if (e == ERR_OK) {
        e = buf_puts(b, ",\"kind\":");
    }
    if (e == ERR_OK) {
        e = queue_text_str(b, json_string_value(json_object_get(row, "kind")));
    }
    if (e == ERR_OK) {
        e = buf_puts(b, ",\"state\":\"queued\",\"queue\":");
    }
    if (e == ERR_OK) {
        e = queue_text_str(b, json_string_value(json_object_get(row, "queue")));
    }
    if (e == ERR_OK) {
        e = buf_puts(b, ",\"priority\":");
    }
    if (e == ERR_OK) {
        e = queue_text_int(b, json_integer_value(json_object_get(row, "priority")));
    }
    if (e == ERR_OK) {
        e = buf_puts(b, ",\"params\":");
    }
    if (e == ERR_OK && (params == NULL || json_object_size(params) == 0)) {
        e = buf_puts(b, "{}");
    } else if (e == ERR_OK) {
        char *t = json_dumps(params, JSON_COMPACT);
        e = t != NULL ? buf_puts(b, t) : ERR_NOMEM;
        free(t);
    }
    if (e == ERR_OK) {
        e = buf_puts(b, ",\"attempts\":0,\"max_attempts\":");
    }
    if (e == ERR_OK) {
        e = queue_text_int(b, json_integer_value(json_object_get(row, "max_attempts")));
    }
    if (e == ERR_OK) {
        e = buf_puts(b, ",\"run_at\":");
    }
    if (e == ERR_OK) {
        e = queue_text_str(b, run_at != NULL ? run_at : created);
    }
    if (e == ERR_OK) {
        e = buf_puts(b, ",\"created_at\":");
    }
    if (e == ERR_OK) {
        e = queue_text_str(b, created);
    }
    if (e == ERR_OK) {
        e = buf_puts(b, ",\"started_at\":null,\"finished_at\":null,\"error\":null,"
                        "\"result\":null,\"progress\":null,\"parent_id\":");
    }
    if (e == ERR_OK && parent != NULL && json_is_string(parent)) {
        e = queue_text_str(b, json_string_value(parent));
    } else if (e == ERR_OK) {
        e = buf_puts(b, "null");
    }
    if (e == ERR_OK) {
        e = buf_puts(b, ",\"children\":{\"total\":0,\"queued\":0,\"running\":0,\"retrying\":0,"
                        "\"succeeded\":0,\"failed\":0,\"cancelled\":0}}");
    }
    return e;
}

enum err queue_enqueue_text(struct queue *q,
                            const json_t *specs,
                            const char *idem_key,
                            struct buf *out,
                            char first_id[QUEUE_ID_LEN + 1],
                            size_t *njobs,
                            bool *replayed,
                            struct err_info *ei)
{
    json_t *rows = NULL;
    struct queue_enq x = {.q = q};
    enum err e = queue_enqueue_run(q, specs, idem_key, &rows, &x, ei);
    if (e != ERR_OK) {
        goto out;
    }
    int n = db_res_rows(x.res);
    const char *id0 = n > 0 ? db_res_get(x.res, 0, 0) : NULL;
    if (id0 == NULL || strlen(id0) > QUEUE_ID_LEN) {
        e = err_set(ei, ERR_INTERNAL, "queue returned a job without an id");
        goto out;
    }
    str_copy(first_id, QUEUE_ID_LEN + 1, id0);
    bool array = json_is_array(specs);
    enum err be = array ? buf_append(out, "[", 1) : ERR_OK;
    for (int i = 0; be == ERR_OK && i < (array ? n : 1); i++) {
        if (i > 0) {
            be = buf_append(out, ",", 1);
        }
        if (be != ERR_OK) {
            break;
        }
        if (x.replayed) {
            /* a replay: the jobs as they are now, as queue_get shows them */
            json_t *j = queue__job_from_row(x.res, i, true);
            char *t = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
            be = t != NULL ? buf_puts(out, t) : ERR_NOMEM;
            free(t);
            json_decref(j);
        } else {
            be = queue_new_job_text(out, json_array_get(rows, (size_t)i), x.res, i);
        }
    }
    if (be == ERR_OK && array) {
        be = buf_append(out, "]", 1);
    }
    if (be == ERR_TOO_LARGE) {
        e = err_set(ei, ERR_INTERNAL, "response document over the limit of %zu bytes", out->max);
        goto out;
    }
    if (be != ERR_OK) {
        e = err_set(ei, be, "could not serialise the response");
        goto out;
    }
    if (njobs != NULL) {
        *njobs = (size_t)n;
    }
    if (replayed != NULL) {
        *replayed = x.replayed;
    }
out:
    db_res_free(x.res);
    json_decref(rows);
    return e;
}

/* ---- read side ---------------------------------------------------------------------------- */

static enum err queue_check_id(const char *id, const char *field, struct err_info *ei)
{
    if (!queue_is_uuid(id)) {
        return err_set_field(ei, ERR_PARSE, field, "invalid job id \"%.64s\": not a UUID",
                             id != NULL ? id : "");
    }
    return ERR_OK;
}

/* queue_get, queue_cancel, queue_retry: one job with its children counts. */
static const char queue_sql_get[] = "SELECT " QUEUE_JOB_COLS QUEUE_CHILDREN_COLS
                                    " FROM jobs j" QUEUE_CHILDREN_JOIN " WHERE j.id = $1";

/* The job of queue_sql_get's result @p r (freed here, whatever happens); @p e: how it ran. */
static enum err
queue_get_res(enum err e, struct db_res *r, const char *id, json_t **out, struct err_info *ei)
{
    if (e != ERR_OK) {
        db_res_free(r);
        return e;
    }
    if (db_res_rows(r) == 0) {
        db_res_free(r);
        return err_set_field(ei, ERR_NOT_FOUND, "id", "job %s does not exist", id);
    }
    json_t *j = queue__job_from_row(r, 0, true);
    db_res_free(r);
    if (j == NULL) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    *out = j;
    return ERR_OK;
}

static enum err queue_get_on(struct db_conn *c, const char *id, json_t **out, struct err_info *ei)
{
    struct db_res *r = NULL;
    const char *p[] = {id};
    enum err e = db_exec(c, "queue_get", queue_sql_get, 1, p, &r, ei);
    return queue_get_res(e, r, id, out, ei);
}

enum err queue_get(struct queue *q, const char *id, json_t **out, struct err_info *ei)
{
    struct db_res *r = NULL;
    const char *p[] = {id};
    enum err e = queue_check_id(id, "id", ei);
    if (e != ERR_OK) {
        return e;
    }
    e = db_pool_exec(q->pool, DB_ACQUIRE_TIMEOUT_MS, "queue_get", queue_sql_get, 1, p, &r, ei);
    return queue_get_res(e, r, id, out, ei);
}

/* queue_list: newest first, keyset on id, every filter optional. */
static const char queue_sql_list[] =
    "SELECT " QUEUE_JOB_COLS QUEUE_CHILDREN_COLS " FROM jobs j" QUEUE_CHILDREN_JOIN
    " WHERE ($1::job_state IS NULL OR j.state = $1::job_state)"
    " AND ($2::text IS NULL OR j.kind = $2) AND ($3::text IS NULL OR j.queue = $3)"
    " AND ($4::uuid IS NULL OR j.parent_id = $4::uuid) AND ($5::uuid IS NULL OR j.id < $5::uuid)"
    " ORDER BY j.id DESC LIMIT $6::integer";

enum err
queue_list(struct queue *q, const struct queue_filter *f, json_t **out, struct err_info *ei)
{
    struct queue_filter none = {0};
    char after[QUEUE_ID_LEN + 1];
    char lim[16];
    struct db_res *r = NULL;
    if (f == NULL) {
        f = &none;
    }
    if (f->state != NULL) {
        bool ok = false;
        for (int i = 0; i < 6; i++) {
            ok = ok || strcmp(f->state, queue_state_names[i]) == 0;
        }
        if (!ok) {
            return err_set_field(ei, ERR_INVALID, "state", "unrecognized job state \"%.32s\"",
                                 f->state);
        }
    }
    if (f->parent_id != NULL && !queue_is_uuid(f->parent_id)) {
        return err_set_field(ei, ERR_PARSE, "parent", "invalid parent id \"%.64s\": not a UUID",
                             f->parent_id);
    }
    if (f->cursor != NULL && queue_cursor_decode(f->cursor, after, sizeof after) != ERR_OK) {
        return err_set_field(ei, ERR_PARSE, "cursor", "invalid cursor \"%.64s\"", f->cursor);
    }
    int limit = f->limit == 0 ? QUEUE_LIST_DEFAULT : f->limit;
    if (limit < 1 || limit > QUEUE_LIST_MAX) {
        return err_set_field(ei, ERR_INVALID, "limit", "limit must be between 1 and %d",
                             QUEUE_LIST_MAX);
    }
    snprintf(lim, sizeof lim, "%d", limit + 1);
    const char *p[] = {f->state, f->kind, f->queue, f->parent_id, f->cursor != NULL ? after : NULL,
                       lim};
    enum err e = queue__exec1(q, "queue_list", queue_sql_list, 6, p, &r, ei);
    if (e != ERR_OK) {
        return e;
    }
    json_t *items = json_array();
    json_t *page = json_object();
    int n = db_res_rows(r);
    bool more = n > limit;
    if (more) {
        n = limit;
    }
    for (int i = 0; items != NULL && i < n; i++) {
        json_t *j = queue__job_from_row(r, i, true);
        if (j == NULL || json_array_append_new(items, j) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    if (items == NULL || page == NULL) {
        json_decref(items);
        json_decref(page);
        db_res_free(r);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    bool built = queue__set(page, "items", items);
    if (more) {
        char cur[32];
        queue_cursor_encode(db_res_get(r, n - 1, 0), cur, sizeof cur);
        built = built && queue__set(page, "next_cursor", json_string(cur));
    } else {
        built = built && queue__set(page, "next_cursor", json_null());
    }
    db_res_free(r);
    if (!built) {
        json_decref(page);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    *out = page;
    return ERR_OK;
}

enum err queue_events(struct queue *q, const char *id, json_t **out, struct err_info *ei)
{
    struct db_res *r = NULL;
    enum err e = queue_check_id(id, "id", ei);
    if (e != ERR_OK) {
        return e;
    }
    const char *p[] = {id};
    /* queue_events: the newest QUEUE_EVENTS_MAX events, oldest first, with each attempt's
     * start shown as a 'running' event (from the event ending it, or from the job while it
     * runs); the first column tells whether the job exists when there are none. */
    e = queue__exec1(q, "queue_events",
                     "WITH e AS (SELECT * FROM job_events WHERE job_id = $1::uuid"
                     " ORDER BY seq DESC LIMIT 1000),"
                     " x AS (SELECT at, state::text AS state, attempt, message, seq * 2 AS ord,"
                     " step::text AS step"
                     " FROM e UNION ALL SELECT started_at, 'running', attempt, 'started',"
                     " seq * 2 - 1, NULL FROM e WHERE started_at IS NOT NULL"
                     " UNION ALL SELECT j.started_at, 'running', j.attempts, 'started',"
                     " 9223372036854775807, NULL FROM jobs j WHERE j.id = $1::uuid"
                     " AND j.state = 'running')"
                     " SELECT EXISTS (SELECT 1 FROM jobs WHERE id = $1::uuid), x.ord, " QUEUE_TS(
                         "x.at") ", x.state, x.attempt, x.message, x.step FROM (SELECT 1) one"
                                 " LEFT JOIN x ON true ORDER BY x.at, x.ord",
                     1, p, &r, ei);
    if (e != ERR_OK) {
        return e;
    }
    const char *exists = db_res_get(r, 0, 0);
    if (db_res_rows(r) == 0 || exists == NULL || exists[0] != 't') {
        db_res_free(r);
        return err_set_field(ei, ERR_NOT_FOUND, "id", "job %s does not exist", id);
    }
    json_t *items = json_array();
    for (int i = 0; items != NULL && i < db_res_rows(r); i++) {
        if (db_res_get(r, i, 1) == NULL) {
            continue; /* the job exists but has no events */
        }
        const char *msg = db_res_get(r, i, 5);
        const char *step = db_res_get(r, i, 6);
        json_t *ev =
            json_pack("{s:I, s:s, s:s, s:I, s:o}", "seq", (json_int_t)json_array_size(items) + 1,
                      "at", db_res_get(r, i, 2), "state", db_res_get(r, i, 3), "attempt",
                      (json_int_t)queue__i64(r, i, 4), "message",
                      msg != NULL ? json_string(msg) : json_null());
        /* a step event: the step that starts and the one that ended with its duration */
        if (ev != NULL && step != NULL &&
            !queue__set(ev, "step", json_loads(step, JSON_DECODE_ANY, NULL))) {
            json_decref(ev);
            ev = NULL;
        }
        if (ev == NULL || json_array_append_new(items, ev) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    db_res_free(r);
    json_t *page = items != NULL ? json_pack("{s:o}", "items", items) : NULL;
    if (page == NULL) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    *out = page;
    return ERR_OK;
}

/* ---- cancel / retry ----------------------------------------------------------------------- */

struct queue_act {
    const char *id;
    bool retry;   /* else cancel */
    json_t *job;  /* out */
    bool changed; /* out: queued work (wake workers) */
};

static enum err queue_act_txn(struct db_conn *c, void *arg, struct err_info *ei)
{
    struct queue_act *x = arg;
    struct db_res *r = NULL;
    const char *p[] = {x->id};
    json_decref(x->job);
    x->job = NULL;
    x->changed = false;
    /* queue_cancel, queue_retry: lock the job and read its state. */
    enum err e = db_exec(c, "queue_lock_state",
                         "SELECT state::text FROM jobs WHERE id = $1 FOR UPDATE", 1, p, &r, ei);
    if (e != ERR_OK) {
        return e;
    }
    if (db_res_rows(r) == 0) {
        db_res_free(r);
        return err_set_field(ei, ERR_NOT_FOUND, "id", "job %s does not exist", x->id);
    }
    char st[16];
    str_copy(st, sizeof st, db_res_get(r, 0, 0));
    db_res_free(r);
    if (!x->retry) {
        if (strcmp(st, "queued") == 0 || strcmp(st, "retrying") == 0) {
            /* queue_cancel: a job not running stops at once. */
            e = db_exec(c, "queue_cancel_now",
                        "WITH u AS (UPDATE jobs SET state = 'cancelled', finished_at = now(),"
                        " locked_by = NULL WHERE id = $1 RETURNING id, attempts)"
                        " INSERT INTO job_events (job_id, state, attempt, message)"
                        " SELECT id, 'cancelled', attempts, 'cancelled by request' FROM u",
                        1, p, NULL, ei);
        } else if (strcmp(st, "running") == 0) {
            /* queue_cancel: ask the worker to stop. */
            e = db_exec(c, "queue_cancel_req",
                        "WITH u AS (UPDATE jobs SET cancel_requested = true WHERE id = $1"
                        " AND NOT cancel_requested RETURNING id, attempts)"
                        " INSERT INTO job_events (job_id, state, attempt, message)"
                        " SELECT id, 'running', attempts, 'cancellation requested' FROM u",
                        1, p, NULL, ei);
        } else if (strcmp(st, "cancelled") != 0) {
            return err_set_field(ei, ERR_CONFLICT, "state", "job %s has already %s", x->id, st);
        }
        if (e == ERR_OK) {
            /* queue_cancel: the jobs it fanned out (a collection's children, at any depth) go
             * with it: waiting ones at once, running ones by request */
            e = db_exec(c, "queue_cancel_children",
                        "WITH RECURSIVE d(id) AS (SELECT id FROM jobs WHERE parent_id = $1"
                        " UNION SELECT j.id FROM jobs j JOIN d ON j.parent_id = d.id),"
                        " n AS (UPDATE jobs SET state = 'cancelled', finished_at = now(),"
                        " locked_by = NULL WHERE id IN (SELECT id FROM d)"
                        " AND state IN ('queued', 'retrying') RETURNING id, attempts),"
                        " r AS (UPDATE jobs SET cancel_requested = true WHERE id IN"
                        " (SELECT id FROM d) AND state = 'running' AND NOT cancel_requested"
                        " RETURNING id, attempts),"
                        " e AS (INSERT INTO job_events (job_id, state, attempt, message)"
                        " SELECT id, 'cancelled', attempts, 'cancelled with its parent' FROM n)"
                        " INSERT INTO job_events (job_id, state, attempt, message)"
                        " SELECT id, 'running', attempts, 'cancellation requested with its"
                        " parent' FROM r",
                        1, p, NULL, ei);
        }
    } else {
        if (strcmp(st, "failed") != 0 && strcmp(st, "cancelled") != 0) {
            return err_set_field(ei, ERR_CONFLICT, "state",
                                 "job %s is %s; only failed or cancelled jobs can be retried",
                                 x->id, st);
        }
        /* queue_retry: back to the queue with a fresh set of attempts. */
        e = db_exec(c, "queue_retry",
                    "WITH u AS (UPDATE jobs SET state = 'queued', attempts = 0, run_at = now(),"
                    " started_at = NULL, finished_at = NULL, error_code = NULL,"
                    " error_message = NULL, result = NULL, cancel_requested = false,"
                    " locked_by = NULL, progress = NULL WHERE id = $1 RETURNING id)"
                    " INSERT INTO job_events (job_id, state, attempt, message)"
                    " SELECT id, 'queued', 0, 'retried by request' FROM u",
                    1, p, NULL, ei);
        x->changed = e == ERR_OK;
    }
    if (e == ERR_OK) {
        e = queue_get_on(c, x->id, &x->job, ei);
    }
    return e;
}

static enum err
queue_act(struct queue *q, const char *id, bool retry, json_t **out, struct err_info *ei)
{
    struct queue_act x = {.id = id, .retry = retry};
    enum err e = queue_check_id(id, "id", ei);
    if (e != ERR_OK) {
        return e;
    }
    e = db_txn_run(q->pool, queue_act_txn, &x, ei);
    if (e != ERR_OK) {
        json_decref(x.job);
        return e;
    }
    if (x.changed) {
        queue_wake(q);
    }
    *out = x.job;
    return ERR_OK;
}

enum err queue_cancel(struct queue *q, const char *id, json_t **out, struct err_info *ei)
{
    return queue_act(q, id, false, out, ei);
}

enum err queue_retry(struct queue *q, const char *id, json_t **out, struct err_info *ei)
{
    return queue_act(q, id, true, out, ei);
}

/* ---- stats -------------------------------------------------------------------------------- */

enum err queue_stats(struct queue *q, struct queue_stats *out, struct err_info *ei)
{
    struct db_res *r = NULL;
    struct queue_stats s = {0};
    /* queue_stats: jobs by state from the counters of migration 0010 (job_counts and the
     * deltas the jobs triggers append, read in one snapshot, so exactly the committed states;
     * the deltas are folded by the same statement) and the age of the oldest runnable job
     * from the first entry of each priority in the claim index (ten index probes); neither
     * reads the jobs table as a whole. */
    enum err e = queue__exec1(
        q, "queue_stats",
        "WITH " QUEUE_SQL_COUNTS_FOLD
        " SELECT t.state::text, sum(t.n)::bigint,"
        " (SELECT coalesce(extract(epoch FROM now() - min(m.run_at)), 0)::float8 FROM"
        "  (SELECT (SELECT run_at FROM jobs WHERE state IN ('queued', 'retrying')"
        "    AND priority = p ORDER BY run_at LIMIT 1) AS run_at"
        "   FROM generate_series(0, 9) AS p) m WHERE m.run_at <= now())"
        " FROM (SELECT state, n FROM job_counts UNION ALL SELECT state, n FROM job_count_deltas) t"
        " GROUP BY t.state",
        0, NULL, &r, ei);
    if (e != ERR_OK) {
        return e;
    }
    for (int i = 0; i < db_res_rows(r); i++) {
        const char *st = db_res_get(r, i, 0);
        for (int k = 0; st != NULL && k < 6; k++) {
            if (strcmp(st, queue_state_names[k]) == 0) {
                s.jobs_by_state[k] = queue__i64(r, i, 1);
            }
        }
        const char *age = db_res_get(r, i, 2);
        if (age != NULL && str_to_double(age, &s.oldest_queued_age_s) != ERR_OK) {
            s.oldest_queued_age_s = 0;
        }
    }
    db_res_free(r);
    queue_stats_local(q, &s);
    *out = s;
    return ERR_OK;
}

void queue_stats_local(const struct queue *q, struct queue_stats *out)
{
    struct queue *m = (struct queue *)(uintptr_t)q;
    out->enqueued_total = atomic_load(&m->enqueued);
    out->claimed_total = atomic_load(&m->claimed);
    out->succeeded_total = atomic_load(&m->succeeded);
    out->failed_total = atomic_load(&m->failed);
    out->retried_total = atomic_load(&m->retried);
    out->cancelled_total = atomic_load(&m->cancelled);
    out->rescued_total = atomic_load(&m->rescued);
}
