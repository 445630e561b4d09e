/* reg_calib.c - dataset queries over a collection search path (find-first in SQL),
 * certification and decertification of calibrations, and the calibration lookup
 * (see registry.h). SPDX-License-Identifier: Apache-2.0 */
#include "reg_int.h"

#include "core/buf.h"
#include "core/str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REG__QUERY_SQL_MAX ((size_t)96 << 10)

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static enum err check_path(const char *const *colls, size_t n, struct err_info *ei)
{
    if (n == 0 || n > REG_COLLECTIONS_MAX) {
        return err_set_field(ei, ERR_PARSE, "collections", "name 1 to %d collections",
                             REG_COLLECTIONS_MAX);
    }
    for (size_t i = 0; i < n; i++) {
        if (!reg_collection_name_ok(colls[i])) {
            return err_set_field(ei, ERR_PARSE, "collections",
                                 "collections[%zu] is no collection name", i);
        }
    }
    return ERR_OK;
}

/* ---- query-datasets ----------------------------------------------------------------------- */

enum err
reg_datasets_query(struct reg *r, const struct reg_query *q, json_t **out, struct err_info *ei)
{
    struct reg__type t;
    struct reg_where *w = NULL;
    struct db_conn *c = NULL;
    struct db_res *res = NULL;
    char *arr = NULL;
    struct buf sql;
    json_t *items = NULL;
    buf_init(&sql, REG__QUERY_SQL_MAX);
    int limit = q->limit ? q->limit : REG_QUERY_LIMIT_DEFAULT;
    enum err e = check_path(q->collections, q->ncollections, ei);
    if (e == ERR_OK && (limit < 1 || limit > REG_QUERY_LIMIT_MAX)) {
        e = err_set_field(ei, ERR_PARSE, "limit", "limit is 1 to %d", REG_QUERY_LIMIT_MAX);
    }
    if (e == ERR_OK) {
        e = reg__text_array(q->collections, q->ncollections, &arr, ei);
    }
    if (e == ERR_OK) {
        e = db_acquire(r->pool, REG__ACQUIRE_MS, &c, ei);
    }
    if (e == ERR_OK) {
        e = reg__type_cached(r, c, q->type, "type", &t, ei);
        if (e == ERR_NOT_FOUND) {
            e = ei->code = ERR_PARSE;
        }
    }
    if (e == ERR_OK) {
        e = reg__collections_exist(c, arr, "collections", ei);
    }
    if (e == ERR_OK) {
        e = reg_where_compile(q->where, t.dims, t.name, 5, &w, ei);
    }
    if (e == ERR_OK) {
        e = buf_printf(
            &sql,
            "%s, m AS ("
            "  SELECT f.r, f.id AS coll, d.id AS ds, NULL::tstzrange AS validity FROM flat f"
            "   JOIN reg_dataset d ON d.run_id = f.id AND d.dataset_type_id = $2::int"
            "   WHERE f.type = 'RUN'"
            "  UNION ALL SELECT f.r, f.id, g.dataset_id, NULL FROM flat f"
            "   JOIN reg_dataset_tag g ON g.collection_id = f.id AND g.dataset_type_id = $2::int"
            "   WHERE f.type = 'TAGGED'"
            "  UNION ALL SELECT f.r, f.id, k.dataset_id, k.validity FROM flat f"
            "   JOIN reg_calib k ON k.collection_id = f.id AND k.dataset_type_id = $2::int"
            "   WHERE f.type = 'CALIBRATION' AND NOT $3::boolean)"
            " SELECT json_build_object('id', d.id, 'dataset_type', $4::text, 'run', rc.name,"
            "  'collection', mc.name, 'data_id', d.data_id,"
            "  'validity', CASE WHEN m.validity IS NOT NULL THEN json_build_object('begin',"
            "   lower(m.validity), 'end', upper(m.validity)) END,"
            "  'files', (SELECT coalesce(json_agg(json_build_object('component', fr.component,"
            "   'uri', fr.uri, 'size', fr.size, 'checksum', fr.checksum)"
            "   ORDER BY fr.component), '[]') FROM reg_file fr WHERE fr.dataset_id = d.id))"
            " FROM (SELECT %s m.* , d.data_id_key AS key FROM m"
            "   JOIN reg_dataset d ON d.id = m.ds%s WHERE %s"
            "   ORDER BY d.data_id_key, m.r, lower(m.validity) NULLS FIRST) m"
            " JOIN reg_dataset d ON d.id = m.ds"
            " JOIN reg_collection rc ON rc.id = d.run_id JOIN reg_collection mc ON mc.id = m.coll"
            " ORDER BY m.key, m.r, lower(m.validity) NULLS FIRST LIMIT %d",
            reg__flat_cte, q->find_first ? "DISTINCT ON (d.data_id_key)" : "",
            reg_where_needs_exposure(w) ? " LEFT JOIN reg_exposure e ON e.instrument ="
                                          " d.instrument AND e.id = d.exposure"
                                        : "",
            reg_where_sql(w), limit + 1);
        if (e != ERR_OK) {
            e = err_set_field(ei, e, "where", "the query is too large");
        }
    }
    if (e == ERR_OK) {
        const char *p[4 + REG_WHERE_PARAMS_MAX];
        p[0] = arr;
        p[1] = t.id;
        p[2] = q->find_first ? "true" : "false";
        p[3] = t.name;
        int np = 4 + reg_where_nparams(w);
        for (int i = 0; i < reg_where_nparams(w); i++) {
            p[4 + i] = reg_where_param(w, i);
        }
        e = db_exec(c, NULL, buf_cstr(&sql), np, p, &res, ei);
        if (e == ERR_INVALID) {
            /* a value PostgreSQL refuses (a time out of its range, an integer overflow) */
            e = err_set_field(ei, ERR_PARSE, "where", "where: a value is out of range: %s",
                              ei->msg);
        }
    }
    if (e == ERR_OK) {
        items = json_array();
        int n = db_res_rows(res);
        for (int i = 0; i < n && i < limit && e == ERR_OK; i++) {
            json_t *x = NULL;
            e = reg__json_col(res, i, 0, &x, ei);
            if (e == ERR_OK && json_array_append_new(items, x) != 0) {
                e = err_set(ei, ERR_NOMEM, "out of memory");
            }
        }
        if (e == ERR_OK) {
            *out = json_pack("{s:O,s:b}", "items", items, "truncated", n > limit);
            e = *out ? ERR_OK : err_set(ei, ERR_NOMEM, "out of memory");
        }
    }
    json_decref(items);
    db_res_free(res);
    db_release(r->pool, c);
    reg_where_free(w);
    buf_free(&sql);
    free(arr);
    return e;
}

/* ---- certify ------------------------------------------------------------------------------ */

/* begin/end of a document, normalised; NULL when absent (unbounded). */
static enum err span(const json_t *doc,
                     char *b,
                     char *en,
                     size_t cap,
                     const char **pb,
                     const char **pe,
                     struct err_info *ei)
{
    const json_t *jb = json_object_get(doc, "begin"), *je = json_object_get(doc, "end");
    *pb = *pe = NULL;
    if (jb && !json_is_null(jb)) {
        if (!json_is_string(jb) || !reg_time_normalise(json_string_value(jb), b, cap)) {
            return err_set_field(ei, ERR_INVALID, "begin", "begin is an ISO-8601 time");
        }
        *pb = b;
    }
    if (je && !json_is_null(je)) {
        if (!json_is_string(je) || !reg_time_normalise(json_string_value(je), en, cap)) {
            return err_set_field(ei, ERR_INVALID, "end", "end is an ISO-8601 time");
        }
        *pe = en;
    }
    return ERR_OK;
}

struct cert_txn {
    const char *coll, *type, *input;
    const char *begin, *end;
    char *ids; /* uuid[] literal or NULL */
    json_t *out;
};

static enum err cert_body(struct db_conn *c, void *arg, struct err_info *ei)
{
    struct cert_txn *a = arg;
    struct reg__type t;
    struct db_res *res = NULL;
    enum err e = reg__type_get(c, a->type, "dataset_type", &t, ei);
    if (e == ERR_NOT_FOUND) {
        e = ei->code = ERR_INVALID;
    }
    if (e == ERR_OK && !t.is_calibration) {
        e = err_set_field(ei, ERR_INVALID, "dataset_type",
                          "dataset type %s is not a calibration type", t.name);
    }
    const char *p[] = {a->begin, a->end};
    if (e == ERR_OK) {
        e = db_exec(c, "reg_cert_range",
                    "SELECT isempty(tstzrange($1::timestamptz, $2::timestamptz, '[)'))", 2, p, &res,
                    ei);
        if (e == ERR_INVALID) {
            str_copy(ei->field, sizeof ei->field, "begin");
        } else if (e == ERR_OK && db_res_get(res, 0, 0)[0] == 't') {
            e = err_set_field(ei, ERR_INVALID, "end", "the validity range is empty");
        }
        db_res_free(res);
        res = NULL;
    }
    const char *p1[] = {a->coll};
    if (e == ERR_OK) {
        e = db_exec(c, "reg_cal_make",
                    "INSERT INTO reg_collection (name, type) VALUES ($1, 'CALIBRATION')"
                    " ON CONFLICT (name) DO NOTHING",
                    1, p1, NULL, ei);
    }
    char cid[24] = "";
    if (e == ERR_OK) {
        e = db_exec(c, "reg_cal_get",
                    "SELECT id, type FROM reg_collection WHERE name = $1 FOR UPDATE", 1, p1, &res,
                    ei);
        if (e == ERR_OK && strcmp(db_res_get(res, 0, 1), "CALIBRATION") != 0) {
            e = err_set_field(ei, ERR_INVALID, "collection",
                              "collection %s is a %s collection, not CALIBRATION", a->coll,
                              db_res_get(res, 0, 1));
        }
        if (e == ERR_OK) {
            str_copy(cid, sizeof cid, db_res_get(res, 0, 0));
        }
        db_res_free(res);
        res = NULL;
    }
    /* the datasets: given by id, or every dataset of the type found first in the input */
    char *ids = a->ids;
    char *found = NULL;
    if (e == ERR_OK && a->input) {
        char *arr = NULL;
        const char *one[] = {a->input};
        e = reg__text_array(one, 1, &arr, ei);
        if (e == ERR_OK) {
            e = reg__collections_exist(c, arr, "input_collection", ei);
            if (e == ERR_PARSE) {
                e = ei->code = ERR_INVALID;
            }
        }
        if (e == ERR_OK) {
            char sql[4096];
            snprintf(sql, sizeof sql,
                     "%s SELECT coalesce('{' || string_agg(id::text, ',') || '}', '{}'),"
                     " count(*) FROM (SELECT DISTINCT ON (d.data_id_key) d.id FROM flat f"
                     "  JOIN reg_dataset d ON d.dataset_type_id = $2::int AND"
                     "  ((f.type = 'RUN' AND d.run_id = f.id) OR (f.type = 'TAGGED' AND"
                     "   d.id IN (SELECT g.dataset_id FROM reg_dataset_tag g"
                     "    WHERE g.collection_id = f.id)))"
                     "  ORDER BY d.data_id_key, f.r) x",
                     reg__flat_cte);
            const char *q[] = {arr, t.id};
            e = db_exec(c, "reg_cert_input", sql, 2, q, &res, ei);
            if (e == ERR_OK && strcmp(db_res_get(res, 0, 1), "0") == 0) {
                e = err_set_field(ei, ERR_INVALID, "input_collection",
                                  "collection %s has no dataset of type %s", a->input, t.name);
            }
            if (e == ERR_OK) {
                found = str_dup(db_res_get(res, 0, 0));
                ids = found;
                e = found ? ERR_OK : err_set(ei, ERR_NOMEM, "out of memory");
            }
            db_res_free(res);
            res = NULL;
        }
        free(arr);
    }
    if (e == ERR_OK) {
        const char *q[] = {ids, t.id};
        e = db_exec(c, "reg_cert_types",
                    "SELECT i, t.name FROM unnest($1::uuid[]) i"
                    " LEFT JOIN reg_dataset d ON d.id = i"
                    " LEFT JOIN reg_dataset_type t ON t.id = d.dataset_type_id"
                    " WHERE d.dataset_type_id IS DISTINCT FROM $2::int LIMIT 1",
                    2, q, &res, ei);
        if (e == ERR_OK && db_res_rows(res) > 0) {
            const char *tn = db_res_get(res, 0, 1);
            e = tn ? err_set_field(ei, ERR_INVALID, "datasets", "dataset %s is a %s, not a %s",
                                   db_res_get(res, 0, 0), tn, t.name)
                   : err_set_field(ei, ERR_INVALID, "datasets", "no dataset %s",
                                   db_res_get(res, 0, 0));
        }
        db_res_free(res);
        res = NULL;
    }
    if (e == ERR_OK) {
        /* an overlap with what is certified already (or within the request) is named */
        const char *q[] = {cid, t.id, ids, a->begin, a->end};
        e = db_exec(c, "reg_cert_conflict",
                    "SELECT k.dataset_id, lower(k.validity), upper(k.validity), d.data_id::text,"
                    "  n.id FROM unnest($3::uuid[]) i JOIN reg_dataset n ON n.id = i"
                    " JOIN reg_calib k ON k.collection_id = $1::bigint"
                    "  AND k.dataset_type_id = $2::int AND k.data_id_key = n.data_id_key"
                    "  AND k.validity && tstzrange($4::timestamptz, $5::timestamptz, '[)')"
                    " JOIN reg_dataset d ON d.id = k.dataset_id LIMIT 1",
                    5, q, &res, ei);
        if (e == ERR_OK && db_res_rows(res) > 0) {
            const char *lo = db_res_get(res, 0, 1), *hi = db_res_get(res, 0, 2);
            e = err_set_field(ei, ERR_CONFLICT, "datasets",
                              "cannot certify %s in %s: %s with data ID %s is certified there "
                              "over [%s, %s), which overlaps",
                              db_res_get(res, 0, 4), a->coll, db_res_get(res, 0, 0),
                              db_res_get(res, 0, 3), lo ? lo : "-infinity", hi ? hi : "infinity");
        }
        db_res_free(res);
        res = NULL;
    }
    if (e == ERR_OK) {
        const char *q[] = {cid, t.id, ids, a->begin, a->end};
        e = db_exec(c, "reg_cert_ins",
                    "INSERT INTO reg_calib (collection_id, dataset_id, dataset_type_id,"
                    "  data_id_key, validity)"
                    " SELECT $1::bigint, d.id, $2::int, d.data_id_key,"
                    "  tstzrange($4::timestamptz, $5::timestamptz, '[)')"
                    " FROM unnest($3::uuid[]) i JOIN reg_dataset d ON d.id = i",
                    5, q, &res, ei);
        if (e == ERR_DB && strcmp(db_conn_sqlstate(c), "23P01") == 0) {
            /* two datasets of the request with one data ID, or a concurrent certification */
            e = err_set_field(ei, ERR_CONFLICT, "datasets",
                              "cannot certify into %s: two datasets with the same data ID "
                              "would be valid at once (%s)",
                              a->coll, ei->msg);
        }
    }
    if (e == ERR_OK) {
        json_decref(a->out);
        a->out = json_pack("{s:s,s:s,s:I,s:s?,s:s?}", "collection", a->coll, "dataset_type", t.name,
                           "certified", (json_int_t)db_res_affected(res), "begin", a->begin, "end",
                           a->end);
        e = a->out ? ERR_OK : err_set(ei, ERR_NOMEM, "out of memory");
    }
    db_res_free(res);
    free(found);
    return e;
}

enum err reg_certify(struct reg *r, const json_t *doc, json_t **out, struct err_info *ei)
{
    char b[64], en[64];
    struct cert_txn a = {0};
    const json_t *ds = json_object_get(doc, "datasets");
    if (!json_is_object(doc)) {
        return err_set_field(ei, ERR_INVALID, "body", "a certification is a JSON object");
    }
    a.coll = jstr(doc, "collection");
    a.type = jstr(doc, "dataset_type");
    a.input = jstr(doc, "input_collection");
    if (!reg_collection_name_ok(a.coll)) {
        return err_set_field(ei, ERR_INVALID, "collection", "collection is a collection name");
    }
    if (!a.type) {
        return err_set_field(ei, ERR_INVALID, "dataset_type", "dataset_type is required");
    }
    if ((ds != NULL) == (a.input != NULL)) {
        return err_set_field(ei, ERR_INVALID, "datasets",
                             "give either datasets (ids) or input_collection");
    }
    if (a.input && !reg_collection_name_ok(a.input)) {
        return err_set_field(ei, ERR_INVALID, "input_collection",
                             "input_collection is a collection name");
    }
    enum err e = span(doc, b, en, sizeof b, &a.begin, &a.end, ei);
    if (e != ERR_OK) {
        return e;
    }
    if (ds) {
        if (!json_is_array(ds) || json_array_size(ds) == 0 || json_array_size(ds) > REG_BATCH_MAX) {
            return err_set_field(ei, ERR_INVALID, "datasets", "datasets is an array of 1 to %d ids",
                                 REG_BATCH_MAX);
        }
        const char *v[REG_BATCH_MAX];
        for (size_t i = 0; i < json_array_size(ds); i++) {
            v[i] = json_string_value(json_array_get(ds, i));
            if (!reg__uuid_ok(v[i])) {
                return err_set_field(ei, ERR_INVALID, "datasets", "datasets[%zu] is not a UUID", i);
            }
        }
        e = reg__text_array(v, json_array_size(ds), &a.ids, ei);
    }
    if (e == ERR_OK) {
        e = reg__txn(r, cert_body, &a, ei);
    }
    if (e == ERR_OK) {
        *out = a.out;
        a.out = NULL;
    }
    json_decref(a.out);
    free(a.ids);
    return e;
}

/* ---- decertify ---------------------------------------------------------------------------- */

struct decert_txn {
    const char *coll, *type, *begin, *end;
    const json_t *data_ids;
    json_t *out;
};

static enum err decert_body(struct db_conn *c, void *arg, struct err_info *ei)
{
    struct decert_txn *a = arg;
    struct reg__type t;
    struct db_res *res = NULL;
    char *keys = NULL;
    enum err e = reg__type_get(c, a->type, "dataset_type", &t, ei);
    if (e == ERR_NOT_FOUND) {
        e = ei->code = ERR_INVALID;
    }
    const char *p1[] = {a->coll};
    char cid[24] = "";
    if (e == ERR_OK) {
        e = db_exec(c, "reg_cal_get",
                    "SELECT id, type FROM reg_collection WHERE name = $1 FOR UPDATE", 1, p1, &res,
                    ei);
        if (e == ERR_OK && db_res_rows(res) == 0) {
            e = err_set_field(ei, ERR_NOT_FOUND, "collection", "no collection %s", a->coll);
        } else if (e == ERR_OK && strcmp(db_res_get(res, 0, 1), "CALIBRATION") != 0) {
            e = err_set_field(ei, ERR_INVALID, "collection",
                              "collection %s is a %s collection, not CALIBRATION", a->coll,
                              db_res_get(res, 0, 1));
        } else if (e == ERR_OK) {
            str_copy(cid, sizeof cid, db_res_get(res, 0, 0));
        }
        db_res_free(res);
        res = NULL;
    }
    if (e == ERR_OK && a->data_ids) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < json_array_size(a->data_ids) && e == ERR_OK; i++) {
            char f[64];
            json_t *did = NULL;
            snprintf(f, sizeof f, "data_ids[%zu]", i);
            e = reg__data_id(&t, json_array_get(a->data_ids, i), true, f, &did, ei);
            if (e == ERR_OK) {
                json_array_append_new(arr, did);
            }
        }
        if (e == ERR_OK) {
            keys = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
            e = keys ? ERR_OK : err_set(ei, ERR_NOMEM, "out of memory");
        }
        json_decref(arr);
    }
    if (e == ERR_OK) {
        const char *q[] = {cid, t.id, a->begin, a->end, keys};
        e = db_exec(c, "reg_decert_del",
                    "DELETE FROM reg_calib k WHERE k.collection_id = $1::bigint"
                    " AND k.dataset_type_id = $2::int"
                    " AND k.validity && tstzrange($3::timestamptz, $4::timestamptz, '[)')"
                    " AND ($5::jsonb IS NULL OR k.data_id_key IN"
                    "  (SELECT x::text FROM jsonb_array_elements($5::jsonb) x))"
                    " RETURNING k.dataset_id, k.data_id_key, k.validity",
                    5, q, &res, ei);
    }
    if (e == ERR_OK) {
        /* put back what lies outside the window: the part before it, the part after it */
        struct buf rows;
        buf_init(&rows, (size_t)64 << 20);
        enum err be = buf_puts(&rows, "[");
        for (int i = 0; i < db_res_rows(res) && be == ERR_OK; i++) {
            json_t *x = json_pack("{s:s,s:s,s:s}", "id", db_res_get(res, i, 0), "key",
                                  db_res_get(res, i, 1), "v", db_res_get(res, i, 2));
            char *s = x ? json_dumps(x, JSON_COMPACT) : NULL;
            be = s ? buf_printf(&rows, "%s%s", i ? "," : "", s) : ERR_NOMEM;
            free(s);
            json_decref(x);
        }
        if (be == ERR_OK) {
            be = buf_puts(&rows, "]");
        }
        int removed = db_res_rows(res);
        db_res_free(res);
        res = NULL;
        const char *q[] = {cid, t.id, a->begin, a->end, buf_cstr(&rows)};
        e = be != ERR_OK
                ? err_set(ei, be, "too many certifications in the window")
                : db_exec(c, "reg_decert_put",
                          "WITH parts AS (SELECT (x->>'id')::uuid AS id, x->>'key' AS key,"
                          "  (x->>'v')::tstzrange AS v FROM jsonb_array_elements($5::jsonb) x),"
                          " pieces AS ("
                          "  SELECT id, key, v * tstzrange(NULL, $3::timestamptz, '[)') AS p, 1 AS"
                          "   side FROM parts WHERE $3::timestamptz IS NOT NULL"
                          "  UNION ALL SELECT id, key, v * tstzrange($4::timestamptz, NULL, '[)'),"
                          "   2 FROM parts WHERE $4::timestamptz IS NOT NULL),"
                          " ins AS (INSERT INTO reg_calib (collection_id, dataset_id,"
                          "  dataset_type_id, data_id_key, validity)"
                          "  SELECT $1::bigint, id, $2::int, key, p FROM pieces"
                          "  WHERE NOT isempty(p) RETURNING dataset_id, data_id_key)"
                          " SELECT count(*) FILTER (WHERE n = 1), count(*) FILTER (WHERE n = 2)"
                          " FROM (SELECT count(*) AS n FROM ins GROUP BY dataset_id, data_id_key)"
                          "  g",
                          5, q, &res, ei);
        buf_free(&rows);
        if (e == ERR_OK) {
            int64_t trimmed = 0, split = 0;
            if (str_to_i64(db_res_get(res, 0, 0), 0, INT64_MAX, &trimmed) != ERR_OK ||
                str_to_i64(db_res_get(res, 0, 1), 0, INT64_MAX, &split) != ERR_OK) {
                trimmed = split = 0;
            }
            json_decref(a->out);
            a->out = json_pack("{s:I,s:I,s:I}", "removed", (json_int_t)(removed - trimmed - split),
                               "trimmed", (json_int_t)trimmed, "split", (json_int_t)split);
            e = a->out ? ERR_OK : err_set(ei, ERR_NOMEM, "out of memory");
        }
    }
    db_res_free(res);
    free(keys);
    return e;
}

enum err reg_decertify(struct reg *r, const json_t *doc, json_t **out, struct err_info *ei)
{
    char b[64], en[64];
    struct decert_txn a = {0};
    if (!json_is_object(doc)) {
        return err_set_field(ei, ERR_INVALID, "body", "a decertification is a JSON object");
    }
    a.coll = jstr(doc, "collection");
    a.type = jstr(doc, "dataset_type");
    a.data_ids = json_object_get(doc, "data_ids");
    if (!reg_collection_name_ok(a.coll)) {
        return err_set_field(ei, ERR_INVALID, "collection", "collection is a collection name");
    }
    if (!a.type) {
        return err_set_field(ei, ERR_INVALID, "dataset_type", "dataset_type is required");
    }
    if (a.data_ids && (!json_is_array(a.data_ids) || json_array_size(a.data_ids) > REG_BATCH_MAX)) {
        return err_set_field(ei, ERR_INVALID, "data_ids", "data_ids is an array of data IDs");
    }
    enum err e = span(doc, b, en, sizeof b, &a.begin, &a.end, ei);
    if (e == ERR_OK) {
        e = reg__txn(r, decert_body, &a, ei);
    }
    if (e == ERR_OK) {
        *out = a.out;
        a.out = NULL;
    }
    json_decref(a.out);
    return e;
}

/* ---- lookup ------------------------------------------------------------------------------- */

static const char sql_lookup_tail[] =
    ", span AS (SELECT CASE WHEN $5::bigint IS NULL"
    "   THEN tstzrange($6::timestamptz, $7::timestamptz, '[)')"
    "   ELSE (SELECT timespan FROM reg_exposure WHERE instrument = $4 AND id = $5::bigint) END"
    "   AS ts),"
    " cand AS ("
    "  SELECT f.r, f.id AS coll, k.dataset_id AS ds, k.validity FROM flat f"
    "   JOIN reg_calib k ON k.collection_id = f.id AND k.dataset_type_id = $2::int"
    "    AND k.data_id_key = $3::jsonb::text AND k.validity && (SELECT ts FROM span)"
    "   WHERE f.type = 'CALIBRATION'"
    "  UNION ALL SELECT f.r, f.id, d.id, NULL FROM flat f JOIN reg_dataset d"
    "   ON d.run_id = f.id AND d.dataset_type_id = $2::int AND d.data_id_key = $3::jsonb::text"
    "   WHERE f.type = 'RUN'"
    "  UNION ALL SELECT f.r, f.id, g.dataset_id, NULL FROM flat f JOIN reg_dataset_tag g"
    "   ON g.collection_id = f.id AND g.dataset_type_id = $2::int"
    "   AND g.data_id_key = $3::jsonb::text WHERE f.type = 'TAGGED'),"
    " best AS (SELECT DISTINCT ON (ds) * FROM cand WHERE r = (SELECT min(r) FROM cand)"
    "  ORDER BY ds, lower(validity) NULLS FIRST)"
    " SELECT (SELECT ts FROM span) IS NOT NULL, b.ds, mc.name, rc.name, d.data_id::text,"
    "  lower(b.validity), upper(b.validity),"
    "  (SELECT coalesce(json_agg(json_build_object('component', fr.component, 'uri', fr.uri,"
    "   'size', fr.size, 'checksum', fr.checksum) ORDER BY fr.component), '[]')"
    "   FROM reg_file fr WHERE fr.dataset_id = b.ds)::text, b.validity IS NOT NULL"
    " FROM (SELECT 1) one LEFT JOIN best b ON true"
    " LEFT JOIN reg_dataset d ON d.id = b.ds"
    " LEFT JOIN reg_collection mc ON mc.id = b.coll LEFT JOIN reg_collection rc ON rc.id = d.run_id"
    " ORDER BY lower(b.validity) NULLS FIRST LIMIT 3";

enum err
reg_calib_lookup(struct reg *r, const struct reg_lookup *q, json_t **out, struct err_info *ei)
{
    struct reg__type t;
    struct db_conn *c = NULL;
    struct db_res *res = NULL;
    json_t *did = NULL;
    char *arr = NULL, *key = NULL;
    char b[64], en[64], expo[24] = "";
    const char *pb = NULL, *pe = NULL;
    enum err e = check_path(q->collections, q->ncollections, ei);
    const json_t *jexp = json_object_get(q->data_id, "exposure");
    const char *inst = json_string_value(json_object_get(q->data_id, "instrument"));
    if (e == ERR_OK && !json_is_object(q->data_id)) {
        e = err_set_field(ei, ERR_PARSE, "data_id", "a data ID is required");
    }
    if (e == ERR_OK && jexp) {
        json_t *v = NULL;
        int64_t x = -1;
        if (json_is_integer(jexp)) {
            x = json_integer_value(jexp);
        } else if (json_is_string(jexp)) {
            if (str_to_i64(json_string_value(jexp), 0, INT64_MAX, &x) != ERR_OK) {
                x = -1;
            }
        }
        if (x < 0 || !inst) {
            e = err_set_field(ei, ERR_PARSE, "exposure",
                              "exposure is a non-negative integer, with an instrument");
        }
        snprintf(expo, sizeof expo, "%lld", (long long)x);
        json_decref(v);
    } else if (e == ERR_OK) {
        if (!q->begin || !q->end || !reg_time_normalise(q->begin, b, sizeof b) ||
            !reg_time_normalise(q->end, en, sizeof en)) {
            e = err_set_field(ei, ERR_PARSE, "begin",
                              "give an exposure, or the begin and end (ISO-8601) of the span");
        }
        pb = b;
        pe = en;
    }
    if (e == ERR_OK) {
        e = reg__text_array(q->collections, q->ncollections, &arr, ei);
    }
    if (e == ERR_OK) {
        e = db_acquire(r->pool, REG__ACQUIRE_MS, &c, ei);
    }
    if (e == ERR_OK) {
        e = reg__type_cached(r, c, q->type, "type", &t, ei);
        if (e == ERR_NOT_FOUND) {
            e = ei->code = ERR_PARSE;
        }
    }
    if (e == ERR_OK) {
        e = reg__data_id(&t, q->data_id, false, "data_id", &did, ei);
        if (e == ERR_INVALID) {
            e = ei->code = ERR_PARSE;
        }
    }
    if (e == ERR_OK) {
        key = json_dumps(did, JSON_COMPACT);
        e = key ? ERR_OK : err_set(ei, ERR_NOMEM, "out of memory");
    }
    if (e == ERR_OK) {
        char sql[8192];
        snprintf(sql, sizeof sql, "%s%s", reg__flat_cte, sql_lookup_tail);
        const char *p[] = {arr, t.id, key, inst, expo[0] ? expo : NULL, pb, pe};
        e = db_exec(c, "reg_lookup", sql, 7, p, &res, ei);
        if (e == ERR_INVALID) {
            e = err_set_field(ei, ERR_PARSE, "begin", "bad time span: %s", ei->msg);
        }
    }
    if (e == ERR_OK && db_res_get(res, 0, 0)[0] != 't') {
        e = expo[0]
                ? err_set_field(ei, ERR_NOT_FOUND, "exposure", "no exposure %s of %s", expo, inst)
                : err_set_field(ei, ERR_PARSE, "begin", "the time span is empty");
    }
    if (e == ERR_OK && db_res_get(res, 0, 1) == NULL) {
        e = err_set(ei, ERR_NOT_FOUND, "no %s with data ID %s valid %s%s in %s", t.name, key,
                    expo[0] ? "for exposure " : "over the span", expo, arr);
    }
    if (e == ERR_OK && db_res_rows(res) > 1) {
        const char *b0 = db_res_get(res, 0, 5), *e0 = db_res_get(res, 0, 6);
        const char *b1 = db_res_get(res, 1, 5), *e1 = db_res_get(res, 1, 6);
        e = err_set(ei, ERR_CONFLICT,
                    "ambiguous: %s %s valid [%s, %s) and %s valid [%s, %s) in %s both overlap "
                    "%s%s",
                    t.name, db_res_get(res, 0, 1), b0 ? b0 : "-infinity", e0 ? e0 : "infinity",
                    db_res_get(res, 1, 1), b1 ? b1 : "-infinity", e1 ? e1 : "infinity",
                    db_res_get(res, 0, 2), expo[0] ? "exposure " : "the span", expo);
    }
    if (e == ERR_OK) {
        json_t *files = NULL, *data = NULL;
        e = reg__json_col(res, 0, 7, &files, ei);
        if (e == ERR_OK) {
            e = reg__json_col(res, 0, 4, &data, ei);
        }
        const char *vb = db_res_get(res, 0, 5), *ve = db_res_get(res, 0, 6);
        bool calib = db_res_get(res, 0, 8)[0] == 't';
        if (e == ERR_OK) {
            *out =
                json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:o}", "id", db_res_get(res, 0, 1),
                          "dataset_type", t.name, "collection", db_res_get(res, 0, 2), "run",
                          db_res_get(res, 0, 3), "data_id", data, "files", files, "validity",
                          calib ? json_pack("{s:s?,s:s?}", "begin", vb, "end", ve) : json_null());
            files = data = NULL;
            e = *out ? ERR_OK : err_set(ei, ERR_NOMEM, "out of memory");
        }
        json_decref(files);
        json_decref(data);
    }
    db_res_free(res);
    db_release(r->pool, c);
    json_decref(did);
    free(arr);
    free(key);
    return e;
}
