/* reg.c - the registry handle, shared helpers, dimension records, dataset types and
 * collections (see registry.h). SPDX-License-Identifier: Apache-2.0 */
#include "reg_int.h"

#include "core/buf.h"
#include "core/clock.h"
#include "core/rand.h"
#include "core/str.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const universe[] = {"detector", "exposure", "instrument", "physical_filter"};

enum err reg_create(struct db_pool *pool, struct reg **out, struct err_info *ei)
{
    struct reg *r = calloc(1, sizeof *r);
    if (!r) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    r->pool = pool;
    r->types = calloc(REG__TYPE_CACHE, sizeof *r->types);
    if (!r->types || pthread_mutex_init(&r->mu, NULL) != 0) {
        free(r->types);
        free(r);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    *out = r;
    return ERR_OK;
}

void reg_destroy(struct reg *r)
{
    if (r) {
        pthread_mutex_destroy(&r->mu);
        free(r->types);
    }
    free(r);
}

enum err reg__type_cached(struct reg *r,
                          struct db_conn *c,
                          const char *name,
                          const char *field,
                          struct reg__type *t,
                          struct err_info *ei)
{
    bool hit = false;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; name && i < r->ntypes && !hit; i++) {
        if (strcmp(r->types[i].name, name) == 0) {
            *t = r->types[i];
            hit = true;
        }
    }
    pthread_mutex_unlock(&r->mu);
    if (hit) {
        return ERR_OK;
    }
    enum err e = reg__type_get(c, name, field, t, ei);
    if (e == ERR_OK) {
        pthread_mutex_lock(&r->mu);
        bool have = false;
        for (size_t i = 0; i < r->ntypes && !have; i++) {
            have = strcmp(r->types[i].name, name) == 0;
        }
        if (!have && r->ntypes < REG__TYPE_CACHE) {
            r->types[r->ntypes++] = *t;
        }
        pthread_mutex_unlock(&r->mu);
    }
    return e;
}

/* ---- helpers ------------------------------------------------------------------------------ */

const char *reg__dim_name(const char *dim)
{
    for (size_t i = 0; dim && i < sizeof universe / sizeof universe[0]; i++) {
        if (strcmp(universe[i], dim) == 0) {
            return universe[i];
        }
    }
    return NULL;
}

enum err reg__txn(struct reg *r, db_txn_fn fn, void *arg, struct err_info *ei)
{
    return db_txn_run(r->pool, fn, arg, ei);
}

bool reg_collection_name_ok(const char *s)
{
    size_t n = 0;
    for (; s && s[n]; n++) {
        char c = s[n];
        if (!(isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-' || c == '/')) {
            return false;
        }
    }
    return n >= 1 && n <= REG__NAME_MAX;
}

bool reg__uuid_ok(const char *s)
{
    if (!s || strlen(s) != 36) {
        return false;
    }
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

void reg__uuid_v7(char out[37])
{
    uint8_t b[16];
    rand_bytes(b, sizeof b);
    uint64_t ms = (uint64_t)(clock_realtime_ns() / 1000000);
    for (int i = 0; i < 6; i++) {
        b[i] = (uint8_t)(ms >> (40 - 8 * i));
    }
    b[6] = (uint8_t)(0x70 | (b[6] & 0x0f));
    b[8] = (uint8_t)(0x80 | (b[8] & 0x3f));
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

enum err
reg__json_col(const struct db_res *res, int row, int col, json_t **out, struct err_info *ei)
{
    const char *s = db_res_get(res, row, col);
    json_error_t je;
    *out = s ? json_loads(s, JSON_DECODE_ANY, &je) : json_null();
    return *out ? ERR_OK : err_set(ei, ERR_INTERNAL, "unreadable JSON from the database");
}

enum err reg__text_array(const char *const *v, size_t n, char **out, struct err_info *ei)
{
    struct buf b;
    buf_init(&b, (size_t)1 << 20);
    enum err e = buf_puts(&b, "{");
    for (size_t i = 0; i < n && e == ERR_OK; i++) {
        e = buf_puts(&b, i ? ",\"" : "\"");
        for (const char *s = v[i]; e == ERR_OK && *s; s++) {
            if (*s == '"' || *s == '\\') {
                e = buf_puts(&b, "\\");
            }
            if (e == ERR_OK) {
                e = buf_append(&b, s, 1);
            }
        }
        if (e == ERR_OK) {
            e = buf_puts(&b, "\"");
        }
    }
    if (e == ERR_OK) {
        e = buf_puts(&b, "}");
    }
    if (e != ERR_OK) {
        buf_free(&b);
        return err_set(ei, e, "collection list too large");
    }
    *out = buf_take(&b);
    return *out ? ERR_OK : err_set(ei, ERR_NOMEM, "out of memory");
}

enum err
reg__collections_exist(struct db_conn *c, const char *arr, const char *field, struct err_info *ei)
{
    struct db_res *res = NULL;
    const char *p[] = {arr};
    enum err e = db_exec(c, "reg_colls_exist",
                         "SELECT n FROM unnest($1::text[]) n"
                         " WHERE NOT EXISTS (SELECT 1 FROM reg_collection c WHERE c.name = n)"
                         " LIMIT 1",
                         1, p, &res, ei);
    if (e == ERR_OK && db_res_rows(res) > 0) {
        e = err_set_field(ei, ERR_PARSE, field, "unknown collection \"%s\"", db_res_get(res, 0, 0));
    }
    db_res_free(res);
    return e;
}

const char reg__flat_cte[] =
    "WITH RECURSIVE q(name, ord) AS (SELECT u.n, u.o FROM unnest($1::text[]) WITH ORDINALITY"
    "  AS u(n, o)),"
    " walk(id, type, r, path) AS ("
    "  SELECT c.id, c.type, ARRAY[q.ord::int], ARRAY[c.id] FROM q"
    "   JOIN reg_collection c ON c.name = q.name"
    "  UNION ALL"
    "  SELECT c.id, c.type, w.r || ch.position, w.path || c.id FROM walk w"
    "   JOIN reg_collection_chain ch ON ch.parent = w.id"
    "   JOIN reg_collection c ON c.id = ch.child"
    "   WHERE w.type = 'CHAINED' AND c.id <> ALL (w.path) AND cardinality(w.path) < 16),"
    " flat AS (SELECT id, type, min(r) AS r FROM walk WHERE type <> 'CHAINED'"
    "  GROUP BY id, type)";

enum err reg__type_get(struct db_conn *c,
                       const char *name,
                       const char *field,
                       struct reg__type *t,
                       struct err_info *ei)
{
    struct db_res *res = NULL;
    const char *p[] = {name};
    memset(t, 0, sizeof *t);
    if (!name || !name[0] || strlen(name) >= sizeof t->name) {
        return err_set_field(ei, ERR_PARSE, field, "a dataset type name is required");
    }
    enum err e = db_exec(c, "reg_type_get",
                         "SELECT id, array_to_string(dimensions, ','), is_calibration"
                         " FROM reg_dataset_type WHERE name = $1",
                         1, p, &res, ei);
    if (e != ERR_OK) {
        return e;
    }
    if (db_res_rows(res) == 0) {
        db_res_free(res);
        return err_set_field(ei, ERR_NOT_FOUND, field, "unknown dataset type \"%s\"", name);
    }
    str_copy(t->id, sizeof t->id, db_res_get(res, 0, 0));
    str_copy(t->name, sizeof t->name, name);
    const char *dims = db_res_get(res, 0, 1);
    for (size_t i = 0; i < sizeof universe / sizeof universe[0]; i++) {
        /* the stored list is sorted and drawn from the universe (CHECK constraint) */
        size_t n = strlen(universe[i]);
        for (const char *s = dims; s && *s;) {
            const char *end = strchr(s, ',');
            size_t len = end ? (size_t)(end - s) : strlen(s);
            if (len == n && strncmp(s, universe[i], n) == 0) {
                t->dims[t->ndims++] = universe[i];
            }
            s = end ? end + 1 : s + len;
        }
    }
    t->is_calibration = db_res_get(res, 0, 2)[0] == 't';
    db_res_free(res);
    return ERR_OK;
}

static bool dim_is_int(const char *dim)
{
    return strcmp(dim, "detector") == 0 || strcmp(dim, "exposure") == 0;
}

/* A data ID value of @p dim, typed. */
static enum err
dim_value(const char *dim, const json_t *v, const char *field, json_t **out, struct err_info *ei)
{
    if (dim_is_int(dim)) {
        int64_t x = -1;
        if (json_is_integer(v)) {
            x = json_integer_value(v);
        } else if (json_is_string(v) &&
                   str_to_i64(json_string_value(v), 0, (int64_t)1 << 53, &x) != ERR_OK) {
            x = -1;
        }
        if (x < 0 || (dim[0] == 'd' && x > INT32_MAX)) {
            return err_set_field(ei, ERR_INVALID, field, "%s is a non-negative integer", dim);
        }
        *out = json_integer(x);
    } else {
        const char *s = json_string_value(v);
        size_t n = s ? strlen(s) : 0;
        if (n < 1 || n > 64) {
            return err_set_field(ei, ERR_INVALID, field, "%s is a string of 1 to 64 bytes", dim);
        }
        for (size_t i = 0; i < n; i++) {
            if ((unsigned char)s[i] < 0x20) {
                return err_set_field(ei, ERR_INVALID, field, "%s has a control character", dim);
            }
        }
        *out = json_string(s);
    }
    return *out ? ERR_OK : err_set(ei, ERR_NOMEM, "out of memory");
}

enum err reg__data_id(const struct reg__type *t,
                      const json_t *in,
                      bool exact,
                      const char *field,
                      json_t **out,
                      struct err_info *ei)
{
    char f[ERR_INFO_FIELD_MAX];
    if (!json_is_object(in)) {
        return err_set_field(ei, ERR_INVALID, field, "a data ID is a JSON object");
    }
    if (exact) {
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)(uintptr_t)in, k, v)
        {
            bool have = false;
            for (size_t i = 0; i < t->ndims; i++) {
                have = have || strcmp(t->dims[i], k) == 0;
            }
            if (!have) {
                snprintf(f, sizeof f, "%s.%s", field, k);
                return err_set_field(ei, ERR_INVALID, f,
                                     "\"%s\" is not a dimension of dataset type %s", k, t->name);
            }
        }
    }
    json_t *o = json_object();
    if (!o) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < t->ndims; i++) {
        snprintf(f, sizeof f, "%s.%s", field, t->dims[i]);
        const json_t *v = json_object_get(in, t->dims[i]);
        json_t *x = NULL;
        enum err e = ERR_OK;
        if (!v) {
            e = err_set_field(ei, exact ? ERR_INVALID : ERR_PARSE, f,
                              "data ID lacks dimension \"%s\" of dataset type %s", t->dims[i],
                              t->name);
        } else {
            e = dim_value(t->dims[i], v, f, &x, ei);
        }
        if (e == ERR_OK && json_object_set_new(o, t->dims[i], x) != 0) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
        }
        if (e != ERR_OK) {
            json_decref(o);
            return e;
        }
    }
    *out = o;
    return ERR_OK;
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* ---- dimension records -------------------------------------------------------------------- */

enum err reg__dims_body(struct db_conn *c, void *arg, struct err_info *ei)
{
    struct reg__dims_txn *a = arg;
    static const char *const sql[] = {
        "INSERT INTO reg_instrument (name, class_name)"
        " SELECT x->>'name', x->>'class_name' FROM jsonb_array_elements($1::jsonb) x"
        " ON CONFLICT DO NOTHING",
        "INSERT INTO reg_detector (instrument, id, full_name)"
        " SELECT x->>'instrument', (x->>'id')::int, x->>'full_name'"
        " FROM jsonb_array_elements($1::jsonb) x ON CONFLICT DO NOTHING",
        "INSERT INTO reg_exposure (instrument, id, obs_id, obs_type, physical_filter, day_obs,"
        " timespan) SELECT x->>'instrument', (x->>'id')::bigint, x->>'obs_id', x->>'obs_type',"
        " x->>'physical_filter', (x->>'day_obs')::int,"
        " tstzrange((x->>'begin')::timestamptz, (x->>'end')::timestamptz, '[)')"
        " FROM jsonb_array_elements($1::jsonb) x ON CONFLICT DO NOTHING"};
    static const char *const names[] = {"reg_dims_inst", "reg_dims_det", "reg_dims_exp"};
    static const char *const keys[] = {"instruments", "detectors", "exposures"};
    const char *docs[] = {a->inst, a->det, a->exp};
    json_decref(a->out);
    a->out = json_object();
    if (!a->out) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < 3; i++) {
        struct db_res *res = NULL;
        enum err e = db_exec(c, names[i], sql[i], 1, &docs[i], &res, ei);
        if (e == ERR_INVALID) {
            err_prefix(ei, "%s: ", keys[i]);
            str_copy(ei->field, sizeof ei->field, keys[i]);
        }
        if (e != ERR_OK) {
            return e;
        }
        json_object_set_new(a->out, keys[i], json_integer(db_res_affected(res)));
        db_res_free(res);
    }
    return ERR_OK;
}

static int cmp_key(const void *x, const void *y)
{
    const json_t *a = *(const json_t *const *)x, *b = *(const json_t *const *)y;
    const char *ia = jstr(a, "instrument"), *ib = jstr(b, "instrument");
    int c = strcmp(ia ? ia : jstr(a, "name"), ib ? ib : jstr(b, "name"));
    if (c != 0) {
        return c;
    }
    json_int_t na = json_integer_value(json_object_get(a, "id"));
    json_int_t nb = json_integer_value(json_object_get(b, "id"));
    return na < nb ? -1 : na > nb;
}

/* Check one list of records and dump it sorted by key. */
static enum err
dims_list(const json_t *doc, const char *key, size_t *total, char **out, struct err_info *ei)
{
    const json_t *arr = json_object_get(doc, key);
    char f[ERR_INFO_FIELD_MAX];
    if (arr && !json_is_array(arr)) {
        return err_set_field(ei, ERR_INVALID, key, "%s is an array", key);
    }
    size_t n = json_array_size(arr);
    *total += n;
    if (*total > REG_DIM_RECORDS_MAX) {
        return err_set_field(ei, ERR_TOO_LARGE, key, "more than %d dimension records",
                             REG_DIM_RECORDS_MAX);
    }
    const json_t **v = calloc(n + 1, sizeof *v);
    json_t *sorted = json_array();
    enum err e = v && sorted ? ERR_OK : err_set(ei, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n && e == ERR_OK; i++) {
        const json_t *x = json_array_get(arr, i);
        json_t *tmp = NULL;
        v[i] = x;
        snprintf(f, sizeof f, "%s[%zu]", key, i);
        if (!json_is_object(x)) {
            e = err_set_field(ei, ERR_INVALID, f, "a dimension record is an object");
        } else if (strcmp(key, "instruments") == 0) {
            snprintf(f, sizeof f, "%s[%zu].name", key, i);
            const char *nm = jstr(x, "name");
            e = nm && reg_collection_name_ok(nm) && strlen(nm) <= 64 && !strchr(nm, '/')
                    ? ERR_OK
                    : err_set_field(ei, ERR_INVALID, f,
                                    "an instrument name is 1 to 64 of [A-Za-z0-9._-]");
        } else {
            snprintf(f, sizeof f, "%s[%zu].instrument", key, i);
            e = dim_value("instrument", json_object_get(x, "instrument"), f, &tmp, ei);
            json_decref(tmp);
            tmp = NULL;
            if (e == ERR_OK) {
                snprintf(f, sizeof f, "%s[%zu].id", key, i);
                e = dim_value(key[0] == 'd' ? "detector" : "exposure", json_object_get(x, "id"), f,
                              &tmp, ei);
                if (e == ERR_OK && !json_is_integer(json_object_get(x, "id"))) {
                    e = err_set_field(ei, ERR_INVALID, f, "id is an integer");
                }
                json_decref(tmp);
            }
            if (e == ERR_OK && key[0] == 'e') {
                char tb[64], te[64];
                const char *b = jstr(x, "begin"), *en = jstr(x, "end");
                if (!b || !reg_time_normalise(b, tb, sizeof tb)) {
                    snprintf(f, sizeof f, "%s[%zu].begin", key, i);
                    e = err_set_field(ei, ERR_INVALID, f,
                                      "an exposure needs its begin time (ISO-8601)");
                } else if (!en || !reg_time_normalise(en, te, sizeof te)) {
                    snprintf(f, sizeof f, "%s[%zu].end", key, i);
                    e = err_set_field(ei, ERR_INVALID, f,
                                      "an exposure needs its end time (ISO-8601)");
                }
            }
        }
    }
    if (e == ERR_OK) {
        qsort(v, n, sizeof *v, cmp_key);
        for (size_t i = 0; i < n && e == ERR_OK; i++) {
            /* a copy, with the exposure times in their normalised form (explicit offset: the
             * session's time zone never decides what a time without one means) */
            json_t *x = json_deep_copy(v[i]);
            char tb[64], te[64];
            if (x && key[0] == 'e' && reg_time_normalise(jstr(x, "begin"), tb, sizeof tb) &&
                reg_time_normalise(jstr(x, "end"), te, sizeof te)) {
                json_object_set_new(x, "begin", json_string(tb));
                json_object_set_new(x, "end", json_string(te));
            }
            if (!x || json_array_append_new(sorted, x) != 0) {
                e = err_set(ei, ERR_NOMEM, "out of memory");
            }
        }
    }
    if (e == ERR_OK) {
        *out = json_dumps(sorted, JSON_COMPACT);
        e = *out ? ERR_OK : err_set(ei, ERR_NOMEM, "out of memory");
    }
    json_decref(sorted);
    free(v);
    return e;
}

enum err reg__dims_prepare(const json_t *doc, char *lists[3], struct err_info *ei)
{
    static const char *const keys[] = {"instruments", "detectors", "exposures"};
    size_t total = 0;
    enum err e = json_is_object(doc) ? ERR_OK
                                     : err_set_field(ei, ERR_INVALID, "body",
                                                     "dimension records are a JSON object");
    for (int i = 0; i < 3 && e == ERR_OK; i++) {
        e = dims_list(doc, keys[i], &total, &lists[i], ei);
    }
    return e;
}

enum err reg_dimensions_put(struct reg *r, const json_t *doc, json_t **out, struct err_info *ei)
{
    char *lists[3] = {NULL, NULL, NULL};
    enum err e = reg__dims_prepare(doc, lists, ei);
    struct reg__dims_txn a = {lists[0], lists[1], lists[2], NULL};
    if (e == ERR_OK) {
        e = reg__txn(r, reg__dims_body, &a, ei);
    }
    if (e == ERR_OK) {
        *out = a.out;
        a.out = NULL;
    }
    json_decref(a.out);
    for (int i = 0; i < 3; i++) {
        free(lists[i]);
    }
    return e;
}

/* ---- dataset types ------------------------------------------------------------------------ */

enum err reg_dataset_type_put(struct reg *r, const json_t *doc, bool *created, struct err_info *ei)
{
    const char *name = jstr(doc, "name");
    const char *sc = jstr(doc, "storage_class");
    const json_t *dims = json_object_get(doc, "dimensions");
    const json_t *cal = json_object_get(doc, "is_calibration");
    bool seen[sizeof universe / sizeof universe[0]] = {false};
    if (!json_is_object(doc)) {
        return err_set_field(ei, ERR_INVALID, "body", "a dataset type is a JSON object");
    }
    size_t n = name ? strlen(name) : 0;
    bool ok = n >= 1 && n <= 64 && isalpha((unsigned char)name[0]);
    for (size_t i = 0; ok && i < n; i++) {
        ok = isalnum((unsigned char)name[i]) || name[i] == '_';
    }
    if (!ok) {
        return err_set_field(ei, ERR_INVALID, "name",
                             "a dataset type name is a letter then up to 63 of [A-Za-z0-9_]");
    }
    if (!sc || !sc[0] || strlen(sc) > 64) {
        return err_set_field(ei, ERR_INVALID, "storage_class",
                             "a storage class is a string of 1 to 64 bytes");
    }
    if (cal && !json_is_boolean(cal)) {
        return err_set_field(ei, ERR_INVALID, "is_calibration", "is_calibration is a boolean");
    }
    if (!json_is_array(dims)) {
        return err_set_field(ei, ERR_INVALID, "dimensions", "dimensions is an array of names");
    }
    for (size_t i = 0; i < json_array_size(dims); i++) {
        const char *d = json_string_value(json_array_get(dims, i));
        size_t k = 0;
        while (k < sizeof universe / sizeof universe[0] && (!d || strcmp(universe[k], d) != 0)) {
            k++;
        }
        if (k == sizeof universe / sizeof universe[0]) {
            return err_set_field(ei, ERR_INVALID, "dimensions",
                                 "unknown dimension \"%s\" (instrument, detector, exposure, "
                                 "physical_filter)",
                                 d ? d : "?");
        }
        seen[k] = true;
    }
    if ((seen[0] || seen[1] || seen[3]) && !seen[2]) {
        return err_set_field(ei, ERR_INVALID, "dimensions",
                             "detector, exposure and physical_filter need instrument");
    }
    char arr[96] = "{";
    for (size_t k = 0; k < sizeof universe / sizeof universe[0]; k++) {
        if (seen[k]) {
            size_t l = strlen(arr);
            snprintf(arr + l, sizeof arr - l, "%s%s", l > 1 ? "," : "", universe[k]);
        }
    }
    str_copy(arr + strlen(arr), sizeof arr - strlen(arr), "}");
    const char *p[] = {name, arr, sc, json_is_true(cal) ? "true" : "false"};
    struct db_conn *c = NULL;
    struct db_res *res = NULL;
    enum err e = db_acquire(r->pool, REG__ACQUIRE_MS, &c, ei);
    if (e == ERR_OK) {
        e = db_exec(c, "reg_type_put",
                    "WITH ins AS (INSERT INTO reg_dataset_type (name, dimensions, storage_class,"
                    "  is_calibration) VALUES ($1, $2::text[], $3, $4::boolean)"
                    "  ON CONFLICT (name) DO NOTHING RETURNING 1)"
                    " SELECT (SELECT count(*) FROM ins),"
                    "  (SELECT dimensions = $2::text[] AND storage_class = $3"
                    "   AND is_calibration = $4::boolean FROM reg_dataset_type WHERE name = $1)",
                    4, p, &res, ei);
    }
    if (e == ERR_OK) {
        bool made = db_res_get(res, 0, 0)[0] == '1';
        const char *same = db_res_get(res, 0, 1);
        if (created) {
            *created = made;
        }
        if (!made && same && same[0] == 'f') {
            e = err_set_field(ei, ERR_CONFLICT, "name",
                              "dataset type %s exists with another definition", name);
        }
    }
    db_res_free(res);
    db_release(r->pool, c);
    return e;
}

enum err reg_dataset_types_list(struct reg *r, json_t **out, struct err_info *ei)
{
    struct db_conn *c = NULL;
    struct db_res *res = NULL;
    enum err e = db_acquire(r->pool, REG__ACQUIRE_MS, &c, ei);
    if (e == ERR_OK) {
        e = db_exec(c, "reg_types_list",
                    "SELECT json_build_object('items', coalesce(json_agg(json_build_object("
                    " 'name', name, 'dimensions', dimensions, 'storage_class', storage_class,"
                    " 'is_calibration', is_calibration) ORDER BY name), '[]'))"
                    " FROM reg_dataset_type",
                    0, NULL, &res, ei);
    }
    if (e == ERR_OK) {
        e = reg__json_col(res, 0, 0, out, ei);
    }
    db_res_free(res);
    db_release(r->pool, c);
    return e;
}

/* ---- collections -------------------------------------------------------------------------- */

static const char sql_coll_json[] =
    "SELECT json_build_object('name', c.name, 'type', c.type, 'doc', c.doc,"
    " 'created_at', c.created_at,"
    " 'children', CASE WHEN c.type = 'CHAINED' THEN (SELECT coalesce(json_agg(k.name"
    "   ORDER BY ch.position), '[]') FROM reg_collection_chain ch"
    "   JOIN reg_collection k ON k.id = ch.child WHERE ch.parent = c.id) END,"
    " 'datasets', CASE WHEN c.type = 'RUN' THEN"
    "   (SELECT count(*) FROM reg_dataset d WHERE d.run_id = c.id)"
    "  WHEN c.type = 'TAGGED' THEN"
    "   (SELECT count(*) FROM reg_dataset_tag t WHERE t.collection_id = c.id)"
    "  ELSE (SELECT count(*) FROM reg_calib k WHERE k.collection_id = c.id) END)";

struct coll_txn {
    const json_t *doc;
    const char *name, *type, *mode;
    char *children; /* text[] literal or NULL */
    bool created;
    json_t *out;
};

static enum err coll_body(struct db_conn *c, void *arg, struct err_info *ei)
{
    struct coll_txn *a = arg;
    struct db_res *res = NULL;
    const char *doc = jstr(a->doc, "doc");
    const char *p[] = {a->name, a->type, doc};
    enum err e = db_exec(c, "reg_coll_put",
                         "INSERT INTO reg_collection (name, type, doc) VALUES ($1, $2, $3)"
                         " ON CONFLICT (name) DO NOTHING RETURNING id, true, type",
                         3, p, &res, ei);
    if (e == ERR_OK && db_res_rows(res) == 0) {
        db_res_free(res);
        res = NULL;
        e = db_exec(c, "reg_coll_lock",
                    "SELECT id, false, type FROM reg_collection WHERE name = $1 FOR UPDATE", 1, p,
                    &res, ei);
        if (e == ERR_OK && db_res_rows(res) == 0) {
            e = err_set(ei, ERR_DB_RETRY, "collection %s vanished meanwhile", a->name);
        }
    }
    if (e != ERR_OK) {
        db_res_free(res);
        return e;
    }
    char id[24];
    str_copy(id, sizeof id, db_res_get(res, 0, 0));
    a->created = db_res_get(res, 0, 1)[0] == 't';
    if (strcmp(db_res_get(res, 0, 2), a->type) != 0) {
        e = err_set_field(ei, ERR_CONFLICT, "type", "collection %s exists as a %s collection",
                          a->name, db_res_get(res, 0, 2));
    }
    db_res_free(res);
    res = NULL;
    if (e == ERR_OK && !a->created && doc) {
        const char *q[] = {id, doc};
        e = db_exec(c, "reg_coll_doc", "UPDATE reg_collection SET doc = $2 WHERE id = $1", 2, q,
                    NULL, ei);
    }
    if (e == ERR_OK && a->children) {
        e = reg__collections_exist(c, a->children, "children", ei);
        if (e == ERR_PARSE) {
            e = ERR_NOT_FOUND;
            ei->code = e;
        }
    }
    if (e == ERR_OK && a->children) {
        /* the new list of children by the mode, then: no child may reach the parent */
        const char *q[] = {id, a->children, a->mode};
        e = db_exec(c, "reg_chain_set",
                    "WITH old AS (SELECT k.name, ch.position FROM reg_collection_chain ch"
                    "  JOIN reg_collection k ON k.id = ch.child WHERE ch.parent = $1),"
                    " given AS (SELECT n, o FROM unnest($2::text[]) WITH ORDINALITY u(n, o)),"
                    " want AS ("
                    "  SELECT n, o::bigint AS o FROM given WHERE $3 IN ('redefine', 'prepend')"
                    "  UNION ALL SELECT name, 100000 + position FROM old WHERE $3 = 'prepend'"
                    "   AND name NOT IN (SELECT n FROM given)"
                    "  UNION ALL SELECT name, position FROM old WHERE $3 IN ('extend', 'remove')"
                    "   AND ($3 = 'extend' OR name NOT IN (SELECT n FROM given))"
                    "  UNION ALL SELECT n, 100000 + o FROM given WHERE $3 = 'extend'"
                    "   AND n NOT IN (SELECT name FROM old)),"
                    " del AS (DELETE FROM reg_collection_chain WHERE parent = $1 RETURNING 1),"
                    " agg AS (SELECT array_agg(k.id ORDER BY w.o) AS ids FROM want w"
                    "  JOIN reg_collection k ON k.name = w.n)"
                    " SELECT coalesce(array_to_string(ids, ','), ''), (SELECT count(*) FROM del)"
                    " FROM agg",
                    3, q, &res, ei);
        if (e == ERR_OK) {
            const char *ids = db_res_get(res, 0, 0);
            size_t n = 0;
            for (const char *s = ids; *s; s++) {
                n += *s == ',';
            }
            if (ids[0] && n + 1 > REG_CHAIN_MAX) {
                e = err_set_field(ei, ERR_TOO_LARGE, "children", "more than %d children",
                                  REG_CHAIN_MAX);
            }
            char arr[REG_CHAIN_MAX * 22 + 4];
            snprintf(arr, sizeof arr, "{%s}", ids);
            const char *q2[] = {id, arr};
            if (e == ERR_OK) {
                e = db_exec(c, "reg_chain_ins",
                            "INSERT INTO reg_collection_chain (parent, position, child)"
                            " SELECT $1, (o - 1)::int, x FROM unnest($2::bigint[])"
                            " WITH ORDINALITY u(x, o)",
                            2, q2, NULL, ei);
            }
            if (e == ERR_CONFLICT) {
                str_copy(ei->field, sizeof ei->field, "children");
                str_copy(ei->msg, sizeof ei->msg, "a child is named twice");
            }
        }
        db_res_free(res);
        res = NULL;
        if (e == ERR_OK) {
            const char *q3[] = {id};
            e = db_exec(c, "reg_chain_cycle",
                        "WITH RECURSIVE down(id, depth) AS ("
                        "  SELECT child, 1 FROM reg_collection_chain WHERE parent = $1"
                        "  UNION SELECT ch.child, d.depth + 1 FROM down d"
                        "   JOIN reg_collection_chain ch ON ch.parent = d.id WHERE d.depth < 64)"
                        " SELECT count(*) FILTER (WHERE id = $1), max(depth) FROM down",
                        1, q3, &res, ei);
            if (e == ERR_OK && db_res_get(res, 0, 0)[0] != '0') {
                e = err_set_field(ei, ERR_INVALID, "children",
                                  "chain %s would contain itself (a cycle)", a->name);
            }
        }
        db_res_free(res);
        res = NULL;
    }
    if (e == ERR_OK) {
        const char *q[] = {id};
        char sql[sizeof sql_coll_json + 64];
        snprintf(sql, sizeof sql, "%s FROM reg_collection c WHERE c.id = $1", sql_coll_json);
        e = db_exec(c, "reg_coll_one", sql, 1, q, &res, ei);
        json_decref(a->out);
        a->out = NULL;
        if (e == ERR_OK) {
            e = reg__json_col(res, 0, 0, &a->out, ei);
        }
    }
    db_res_free(res);
    return e;
}

enum err reg_collection_put(
    struct reg *r, const json_t *doc, bool *created, json_t **out, struct err_info *ei)
{
    struct coll_txn a = {.doc = doc};
    const json_t *ch = json_object_get(doc, "children");
    if (!json_is_object(doc)) {
        return err_set_field(ei, ERR_INVALID, "body", "a collection is a JSON object");
    }
    a.name = jstr(doc, "name");
    a.type = jstr(doc, "type");
    a.mode = jstr(doc, "mode");
    if (!reg_collection_name_ok(a.name)) {
        return err_set_field(ei, ERR_INVALID, "name",
                             "a collection name is 1 to %d of [A-Za-z0-9._/-]", REG__NAME_MAX);
    }
    if (!a.type || (strcmp(a.type, "RUN") != 0 && strcmp(a.type, "TAGGED") != 0 &&
                    strcmp(a.type, "CHAINED") != 0 && strcmp(a.type, "CALIBRATION") != 0)) {
        return err_set_field(ei, ERR_INVALID, "type",
                             "type is RUN, TAGGED, CHAINED or CALIBRATION");
    }
    const json_t *d = json_object_get(doc, "doc");
    if (d && !json_is_null(d) && (!json_is_string(d) || strlen(json_string_value(d)) > 4096)) {
        return err_set_field(ei, ERR_INVALID, "doc", "doc is a string of at most 4096 bytes");
    }
    if (!a.mode) {
        a.mode = "redefine";
    }
    if (strcmp(a.mode, "redefine") != 0 && strcmp(a.mode, "extend") != 0 &&
        strcmp(a.mode, "prepend") != 0 && strcmp(a.mode, "remove") != 0) {
        return err_set_field(ei, ERR_INVALID, "mode",
                             "mode is redefine, extend, prepend or remove");
    }
    if (ch && strcmp(a.type, "CHAINED") != 0) {
        return err_set_field(ei, ERR_INVALID, "children", "only a CHAINED collection has children");
    }
    if (ch && (!json_is_array(ch) || json_array_size(ch) > REG_CHAIN_MAX)) {
        return err_set_field(ei, ERR_INVALID, "children",
                             "children is an array of at most %d names", REG_CHAIN_MAX);
    }
    const char *names[REG_CHAIN_MAX];
    for (size_t i = 0; i < json_array_size(ch); i++) {
        names[i] = json_string_value(json_array_get(ch, i));
        if (!reg_collection_name_ok(names[i])) {
            return err_set_field(ei, ERR_INVALID, "children", "children[%zu] is no collection name",
                                 i);
        }
        if (strcmp(names[i], a.name) == 0) {
            return err_set_field(ei, ERR_INVALID, "children",
                                 "chain %s would contain itself (a cycle)", a.name);
        }
    }
    enum err e = ERR_OK;
    if (ch) {
        e = reg__text_array(names, json_array_size(ch), &a.children, ei);
    }
    if (e == ERR_OK) {
        e = reg__txn(r, coll_body, &a, ei);
    }
    if (e == ERR_OK) {
        if (created) {
            *created = a.created;
        }
        *out = a.out;
        a.out = NULL;
    }
    json_decref(a.out);
    free(a.children);
    return e;
}

/* '*' and '?' to a LIKE pattern (other LIKE metacharacters escaped). */
static enum err glob_like(const char *glob, char *out, size_t cap, struct err_info *ei)
{
    size_t n = 0;
    for (const char *s = glob; *s; s++) {
        if (n + 3 >= cap) {
            return err_set_field(ei, ERR_INVALID, "glob", "glob too long");
        }
        if (*s == '*') {
            out[n++] = '%';
        } else if (*s == '?') {
            out[n++] = '_';
        } else {
            if (*s == '%' || *s == '_' || *s == '\\') {
                out[n++] = '\\';
            }
            out[n++] = *s;
        }
    }
    out[n] = '\0';
    return ERR_OK;
}

enum err reg_collections_list(struct reg *r,
                              const char *glob,
                              const char *type,
                              bool flatten,
                              json_t **out,
                              struct err_info *ei)
{
    char like[2 * REG__NAME_MAX + 8] = "%";
    enum err e = glob ? glob_like(glob, like, sizeof like, ei) : ERR_OK;
    if (e == ERR_OK && type && strcmp(type, "RUN") != 0 && strcmp(type, "TAGGED") != 0 &&
        strcmp(type, "CHAINED") != 0 && strcmp(type, "CALIBRATION") != 0) {
        e = err_set_field(ei, ERR_PARSE, "type", "type is RUN, TAGGED, CHAINED or CALIBRATION");
    }
    if (e != ERR_OK) {
        return e;
    }
    char lim[16];
    snprintf(lim, sizeof lim, "%d", REG_LIST_MAX);
    const char *p[] = {like, type, flatten ? "true" : "false", lim};
    char sql[4096];
    snprintf(sql, sizeof sql,
             "SELECT json_build_object('items', coalesce(json_agg(j ORDER BY n), '[]')) FROM ("
             " SELECT c.name AS n, (%s)::jsonb || CASE WHEN $3::boolean AND c.type = 'CHAINED'"
             "  THEN jsonb_build_object('flattened', (WITH RECURSIVE walk(id, type, r, path) AS ("
             "   SELECT c.id, c.type, ARRAY[]::int[], ARRAY[c.id] UNION ALL"
             "   SELECT k.id, k.type, w.r || ch.position, w.path || k.id FROM walk w"
             "    JOIN reg_collection_chain ch ON ch.parent = w.id"
             "    JOIN reg_collection k ON k.id = ch.child"
             "    WHERE w.type = 'CHAINED' AND k.id <> ALL (w.path) AND cardinality(w.path) < 16)"
             "   SELECT coalesce(jsonb_agg(name ORDER BY r), '[]') FROM (SELECT k.name, min(w.r) r"
             "    FROM walk w JOIN reg_collection k ON k.id = w.id WHERE w.type <> 'CHAINED'"
             "    GROUP BY k.name) f)) ELSE '{}'::jsonb END AS j"
             " FROM reg_collection c WHERE c.name LIKE $1 AND ($2::text IS NULL OR c.type = $2)"
             " ORDER BY c.name LIMIT $4::int) x",
             sql_coll_json + strlen("SELECT "));
    struct db_conn *c = NULL;
    struct db_res *res = NULL;
    e = db_acquire(r->pool, REG__ACQUIRE_MS, &c, ei);
    if (e == ERR_OK) {
        e = db_exec(c, "reg_coll_list", sql, 4, p, &res, ei);
    }
    if (e == ERR_OK) {
        e = reg__json_col(res, 0, 0, out, ei);
    }
    db_res_free(res);
    db_release(r->pool, c);
    return e;
}
