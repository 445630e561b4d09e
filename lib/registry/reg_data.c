/* reg_data.c - datasets: batch registration with file records and provenance, one dataset
 * with its provenance up and down, removal of RUN collections (see registry.h).
 * SPDX-License-Identifier: Apache-2.0 */
#include "reg_int.h"

#include "core/buf.h"
#include "core/str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Column @p col of the first row, or "?" when there is none. */
static const char *db_rows_or(const struct db_res *res, int col)
{
    const char *v = db_res_rows(res) > 0 ? db_res_get(res, 0, col) : NULL;
    return v ? v : "?";
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* ---- registration ------------------------------------------------------------------------- */

struct regi_txn {
    const char *run, *type_name;
    char *batch; /* [{"id","data_id","files","provenance"}] canonical */
    size_t n;
    json_t *ids; /* the ids in order */
};

static enum err regi_body(struct db_conn *c, void *arg, struct err_info *ei)
{
    struct regi_txn *a = arg;
    struct reg__type t;
    struct db_res *res = NULL;
    enum err e = reg__type_get(c, a->type_name, "dataset_type", &t, ei);
    if (e != ERR_OK) {
        return e;
    }
    /* the RUN, created when missing */
    const char *p1[] = {a->run};
    e = db_exec(c, "reg_run_make",
                "INSERT INTO reg_collection (name, type) VALUES ($1, 'RUN')"
                " ON CONFLICT (name) DO NOTHING",
                1, p1, NULL, ei);
    if (e == ERR_OK) {
        e = db_exec(c, "reg_run_get", "SELECT id, type FROM reg_collection WHERE name = $1", 1, p1,
                    &res, ei);
    }
    if (e != ERR_OK) {
        return e;
    }
    char run_id[24];
    str_copy(run_id, sizeof run_id, db_res_get(res, 0, 0));
    if (strcmp(db_res_get(res, 0, 1), "RUN") != 0) {
        e = err_set_field(ei, ERR_CONFLICT, "run", "collection %s is a %s collection, not a RUN",
                          a->run, db_res_get(res, 0, 1));
    }
    db_res_free(res);
    res = NULL;
    if (e != ERR_OK) {
        return e;
    }
    /* dimension records that do not exist: named before anything is written */
    const char *p2[] = {a->batch};
    e = db_exec(c, "reg_regi_dims",
                "SELECT x->>'id', (x->'data_id')::text FROM jsonb_array_elements($1::jsonb) x"
                " WHERE (x->'data_id' ? 'instrument' AND NOT EXISTS (SELECT 1 FROM reg_instrument"
                "   i WHERE i.name = x->'data_id'->>'instrument'))"
                "  OR (x->'data_id' ? 'detector' AND NOT EXISTS (SELECT 1 FROM reg_detector t"
                "   WHERE t.instrument = x->'data_id'->>'instrument'"
                "   AND t.id = (x->'data_id'->>'detector')::int))"
                "  OR (x->'data_id' ? 'exposure' AND NOT EXISTS (SELECT 1 FROM reg_exposure t"
                "   WHERE t.instrument = x->'data_id'->>'instrument'"
                "   AND t.id = (x->'data_id'->>'exposure')::bigint)) LIMIT 1",
                1, p2, &res, ei);
    if (e == ERR_OK && db_res_rows(res) > 0) {
        e = err_set_field(ei, ERR_INVALID, "datasets",
                          "data ID %s names a dimension record that is not registered "
                          "(POST /v1/registry/dimensions first)",
                          db_res_get(res, 0, 1));
    }
    db_res_free(res);
    res = NULL;
    if (e != ERR_OK) {
        return e;
    }
    const char *p3[] = {a->batch, t.id, run_id};
    e = db_exec(c, "reg_regi_ins",
                "INSERT INTO reg_dataset (id, dataset_type_id, run_id, data_id)"
                " SELECT (x->>'id')::uuid, $2::int, $3::bigint, x->'data_id'"
                " FROM jsonb_array_elements($1::jsonb) x ON CONFLICT DO NOTHING RETURNING id",
                3, p3, &res, ei);
    if (e == ERR_OK && (size_t)db_res_rows(res) != a->n) {
        /* name the first dataset that was not inserted, and why */
        struct buf ids;
        buf_init(&ids, (size_t)REG_BATCH_MAX * 40 + 8);
        enum err be = buf_puts(&ids, "{");
        for (int i = 0; i < db_res_rows(res) && be == ERR_OK; i++) {
            be = buf_printf(&ids, "%s%s", i ? "," : "", db_res_get(res, i, 0));
        }
        if (be == ERR_OK) {
            be = buf_puts(&ids, "}");
        }
        db_res_free(res);
        res = NULL;
        const char *p4[] = {a->batch, buf_cstr(&ids)};
        e = be != ERR_OK ? err_set(ei, be, "out of memory")
                         : db_exec(c, "reg_regi_dup",
                                   "SELECT x->>'id', (x->'data_id')::text"
                                   " FROM jsonb_array_elements($1::jsonb) x"
                                   " WHERE (x->>'id')::uuid <> ALL ($2::uuid[]) LIMIT 1",
                                   2, p4, &res, ei);
        buf_free(&ids);
        if (e == ERR_OK) {
            e = err_set_field(ei, ERR_CONFLICT, "datasets",
                              "dataset %s not registered: run %s already has a %s with data ID "
                              "%s, or that id exists",
                              db_rows_or(res, 0), a->run, t.name, db_rows_or(res, 1));
        }
    }
    db_res_free(res);
    res = NULL;
    if (e == ERR_OK) {
        e = db_exec(c, "reg_regi_files",
                    "INSERT INTO reg_file (dataset_id, component, uri, size, checksum)"
                    " SELECT (x->>'id')::uuid, coalesce(f->>'component', ''), f->>'uri',"
                    "  (f->>'size')::bigint, f->>'checksum'"
                    " FROM jsonb_array_elements($1::jsonb) x,"
                    "  jsonb_array_elements(coalesce(x->'files', '[]')) f",
                    1, p2, NULL, ei);
        if (e == ERR_CONFLICT) {
            str_copy(ei->field, sizeof ei->field, "datasets");
            str_copy(ei->msg, sizeof ei->msg, "two files of a dataset have the same component");
        }
    }
    if (e == ERR_OK) {
        e = db_exec(c, "reg_regi_unknown_inputs",
                    "SELECT x->>'id', i FROM jsonb_array_elements($1::jsonb) x,"
                    "  jsonb_array_elements_text(coalesce(x->'provenance'->'inputs', '[]')"
                    "   || coalesce(x->'provenance'->'references', '[]')) i"
                    " WHERE NOT EXISTS (SELECT 1 FROM reg_dataset d WHERE d.id = i::uuid)"
                    " LIMIT 1",
                    1, p2, &res, ei);
        if (e == ERR_OK && db_res_rows(res) > 0) {
            e = err_set_field(ei, ERR_INVALID, "datasets",
                              "dataset %s names input %s, which is not registered",
                              db_res_get(res, 0, 0), db_res_get(res, 0, 1));
        }
        db_res_free(res);
        res = NULL;
    }
    if (e == ERR_OK) {
        e = db_exec(c, "reg_regi_prov",
                    "INSERT INTO reg_provenance (dataset_id, job_id, software_version,"
                    "  parameters_digest)"
                    " SELECT (x->>'id')::uuid, x->'provenance'->>'job_id',"
                    "  x->'provenance'->>'software_version', x->'provenance'->>'parameters_digest'"
                    " FROM jsonb_array_elements($1::jsonb) x WHERE x ? 'provenance'",
                    1, p2, NULL, ei);
    }
    if (e == ERR_OK) {
        e = db_exec(
            c, "reg_regi_inputs",
            "INSERT INTO reg_provenance_input (dataset_id, input_id, role)"
            " SELECT (x->>'id')::uuid, i::uuid, 'input' FROM jsonb_array_elements($1::jsonb)"
            "  x, jsonb_array_elements_text(coalesce(x->'provenance'->'inputs', '[]')) i"
            " UNION"
            " SELECT (x->>'id')::uuid, i::uuid, 'reference'"
            "  FROM jsonb_array_elements($1::jsonb) x,"
            "  jsonb_array_elements_text(coalesce(x->'provenance'->'references', '[]')) i"
            " ON CONFLICT DO NOTHING",
            1, p2, NULL, ei);
    }
    return e;
}

static enum err check_prov(const json_t *pv, const char *field, struct err_info *ei)
{
    char f[ERR_INFO_FIELD_MAX];
    if (!json_is_object(pv)) {
        return err_set_field(ei, ERR_INVALID, field, "provenance is an object");
    }
    static const char *const texts[] = {"job_id", "software_version", "parameters_digest"};
    for (int i = 0; i < 3; i++) {
        const json_t *v = json_object_get(pv, texts[i]);
        if (v && (!json_is_string(v) || strlen(json_string_value(v)) > 256)) {
            snprintf(f, sizeof f, "%s.%s", field, texts[i]);
            return err_set_field(ei, ERR_INVALID, f, "%s is a string of at most 256 bytes",
                                 texts[i]);
        }
    }
    size_t total = 0;
    static const char *const lists[] = {"inputs", "references"};
    for (int i = 0; i < 2; i++) {
        const json_t *v = json_object_get(pv, lists[i]);
        snprintf(f, sizeof f, "%s.%s", field, lists[i]);
        if (v && !json_is_array(v)) {
            return err_set_field(ei, ERR_INVALID, f, "%s is an array of dataset ids", lists[i]);
        }
        total += json_array_size(v);
        for (size_t k = 0; k < json_array_size(v); k++) {
            if (!reg__uuid_ok(json_string_value(json_array_get(v, k)))) {
                return err_set_field(ei, ERR_INVALID, f, "%s[%zu] is not a dataset id (UUID)",
                                     lists[i], k);
            }
        }
    }
    if (total > REG_INPUTS_MAX) {
        return err_set_field(ei, ERR_TOO_LARGE, field, "more than %d inputs and references",
                             REG_INPUTS_MAX);
    }
    return ERR_OK;
}

static enum err check_files(const json_t *files, const char *field, struct err_info *ei)
{
    char f[ERR_INFO_FIELD_MAX];
    if (!json_is_array(files) || json_array_size(files) > REG_FILES_MAX) {
        return err_set_field(ei, ERR_INVALID, field, "files is an array of at most %d records",
                             REG_FILES_MAX);
    }
    for (size_t i = 0; i < json_array_size(files); i++) {
        const json_t *x = json_array_get(files, i);
        const char *uri = jstr(x, "uri");
        const json_t *size = json_object_get(x, "size");
        const json_t *sum = json_object_get(x, "checksum");
        const json_t *comp = json_object_get(x, "component");
        snprintf(f, sizeof f, "%s[%zu]", field, i);
        if (!uri || !uri[0] || strlen(uri) > 4096) {
            return err_set_field(ei, ERR_INVALID, f, "a file record has a uri (1..4096 bytes)");
        }
        if (size && (!json_is_integer(size) || json_integer_value(size) < 0)) {
            return err_set_field(ei, ERR_INVALID, f, "size is a non-negative integer");
        }
        if (sum && (!json_is_string(sum) || strlen(json_string_value(sum)) > 200)) {
            return err_set_field(ei, ERR_INVALID, f, "checksum is a string (e.g. md5:...)");
        }
        if (comp && (!json_is_string(comp) || strlen(json_string_value(comp)) > 64)) {
            return err_set_field(ei, ERR_INVALID, f, "component is a string");
        }
    }
    return ERR_OK;
}

/* Check the request and build the canonical batch; the type's dimensions are read first. */
static enum err
regi_prepare(struct reg *r, const json_t *doc, struct regi_txn *a, struct err_info *ei)
{
    const json_t *list = json_object_get(doc, "datasets");
    struct reg__type t;
    json_t *batch = NULL;
    char f[ERR_INFO_FIELD_MAX];
    a->run = jstr(doc, "run");
    a->type_name = jstr(doc, "dataset_type");
    if (!reg_collection_name_ok(a->run)) {
        return err_set_field(ei, ERR_INVALID, "run", "run is a collection name");
    }
    if (!a->type_name) {
        return err_set_field(ei, ERR_INVALID, "dataset_type", "dataset_type is required");
    }
    if (!json_is_array(list) || json_array_size(list) == 0 ||
        json_array_size(list) > REG_BATCH_MAX) {
        return err_set_field(ei, ERR_INVALID, "datasets",
                             "datasets is an array of 1 to %d datasets", REG_BATCH_MAX);
    }
    struct db_conn *c = NULL;
    enum err e = db_acquire(r->pool, REG__ACQUIRE_MS, &c, ei);
    if (e == ERR_OK) {
        e = reg__type_cached(r, c, a->type_name, "dataset_type", &t, ei);
        db_release(r->pool, c);
    }
    if (e != ERR_OK) {
        return e;
    }
    batch = json_array();
    a->ids = json_array();
    if (!batch || !a->ids) {
        json_decref(batch);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < json_array_size(list) && e == ERR_OK; i++) {
        const json_t *x = json_array_get(list, i);
        json_t *did = NULL;
        char id[37];
        const char *given = jstr(x, "id");
        snprintf(f, sizeof f, "datasets[%zu]", i);
        if (!json_is_object(x)) {
            e = err_set_field(ei, ERR_INVALID, f, "a dataset is an object");
            break;
        }
        if (json_object_get(x, "id") && !reg__uuid_ok(given)) {
            snprintf(f, sizeof f, "datasets[%zu].id", i);
            e = err_set_field(ei, ERR_INVALID, f, "id is a UUID");
            break;
        }
        if (given) {
            for (int k = 0; k < 36; k++) {
                id[k] = (char)((given[k] >= 'A' && given[k] <= 'F') ? given[k] + 32 : given[k]);
            }
            id[36] = '\0';
        } else {
            reg__uuid_v7(id);
        }
        snprintf(f, sizeof f, "datasets[%zu].data_id", i);
        e = reg__data_id(&t, json_object_get(x, "data_id"), true, f, &did, ei);
        json_t *files = json_object_get(x, "files");
        if (e == ERR_OK && files) {
            snprintf(f, sizeof f, "datasets[%zu].files", i);
            e = check_files(files, f, ei);
        }
        json_t *pv = json_object_get(x, "provenance");
        if (e == ERR_OK && pv) {
            snprintf(f, sizeof f, "datasets[%zu].provenance", i);
            e = check_prov(pv, f, ei);
        }
        json_t *o = e == ERR_OK ? json_pack("{s:s,s:O}", "id", id, "data_id", did) : NULL;
        if (e == ERR_OK && !o) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
        }
        if (e == ERR_OK && files) {
            json_object_set(o, "files", files);
        }
        if (e == ERR_OK && pv) {
            json_object_set(o, "provenance", pv);
        }
        if (e == ERR_OK && (json_array_append_new(batch, o) != 0 ||
                            json_array_append_new(a->ids, json_string(id)) != 0)) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
        } else if (e != ERR_OK) {
            json_decref(o);
        }
        json_decref(did);
    }
    if (e == ERR_OK) {
        a->n = json_array_size(batch);
        a->batch = json_dumps(batch, JSON_COMPACT);
        e = a->batch ? ERR_OK : err_set(ei, ERR_NOMEM, "out of memory");
    }
    json_decref(batch);
    return e;
}

enum err reg_datasets_register(struct reg *r, const json_t *doc, json_t **out, struct err_info *ei)
{
    struct regi_txn a = {0};
    enum err e = json_is_object(doc)
                     ? regi_prepare(r, doc, &a, ei)
                     : err_set_field(ei, ERR_INVALID, "body", "a registration is a JSON object");
    if (e == ERR_NOT_FOUND) {
        e = ei->code = ERR_INVALID;
    }
    if (e == ERR_OK) {
        e = reg__txn(r, regi_body, &a, ei);
    }
    if (e == ERR_OK) {
        *out = json_pack("{s:s,s:s,s:O}", "run", a.run, "dataset_type", a.type_name, "ids", a.ids);
        e = *out ? ERR_OK : err_set(ei, ERR_NOMEM, "out of memory");
    }
    json_decref(a.ids);
    free(a.batch);
    return e;
}

/* ---- a job's registration: dimension records and several batches in one transaction ------ */

#define REG_JOB_BATCHES_MAX 64 /* registrations (one dataset type each) of one reg_register_job */

struct regjob_txn {
    struct reg__dims_txn dims;
    struct regi_txn *b;
    size_t n;
    const char *job_id; /* or NULL */
    json_t *already;    /* [{"run","dataset_type","ids"}] when the job's datasets were there */
};

/* The datasets an earlier attempt of the job registered in the run, by type (NULL: none). */
static enum err regjob_existing(struct db_conn *c, struct regjob_txn *a, struct err_info *ei)
{
    struct db_res *res = NULL;
    const char *p[] = {a->job_id, a->b[0].run};
    enum err e = db_exec(c, "reg_regjob_existing",
                         "SELECT t.name, json_agg(d.id ORDER BY d.id)::text"
                         " FROM reg_provenance p JOIN reg_dataset d ON d.id = p.dataset_id"
                         " JOIN reg_collection rc ON rc.id = d.run_id"
                         " JOIN reg_dataset_type t ON t.id = d.dataset_type_id"
                         " WHERE p.job_id = $1 AND rc.name = $2 GROUP BY t.name ORDER BY t.name",
                         2, p, &res, ei);
    for (int i = 0; e == ERR_OK && i < db_res_rows(res); i++) {
        json_t *ids = NULL;
        e = reg__json_col(res, i, 1, &ids, ei);
        if (e == ERR_OK && !a->already && !(a->already = json_array())) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
        }
        json_t *o = e == ERR_OK ? json_pack("{s:s,s:s,s:o}", "run", a->b[0].run, "dataset_type",
                                            db_res_get(res, i, 0), "ids", ids)
                                : NULL;
        if (e == ERR_OK && (!o || json_array_append_new(a->already, o) != 0)) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
        } else if (e != ERR_OK) {
            json_decref(ids);
        }
    }
    db_res_free(res);
    return e;
}

static enum err regjob_body(struct db_conn *c, void *arg, struct err_info *ei)
{
    struct regjob_txn *a = arg;
    json_decref(a->already);
    a->already = NULL;
    if (a->job_id) {
        /* an earlier attempt of this job committed its registration (it died before the job
         * was marked done): the same job registers nothing twice */
        enum err e = regjob_existing(c, a, ei);
        if (e != ERR_OK || a->already) {
            return e;
        }
    }
    enum err e = reg__dims_body(c, &a->dims, ei);
    for (size_t i = 0; i < a->n && e == ERR_OK; i++) {
        e = regi_body(c, &a->b[i], ei);
        if (e != ERR_OK) {
            err_prefix(ei, "registrations[%zu]: ", i);
        }
    }
    return e;
}

enum err reg_register_job(struct reg *r, const json_t *doc, json_t **out, struct err_info *ei)
{
    const json_t *regs = json_object_get(doc, "registrations");
    const json_t *dims = json_object_get(doc, "dimensions");
    char *lists[3] = {NULL, NULL, NULL};
    struct regjob_txn a = {0};
    json_t *o = NULL;
    enum err e = ERR_OK;
    if (!json_is_object(doc)) {
        return err_set_field(ei, ERR_INVALID, "body", "a registration is a JSON object");
    }
    if (!json_is_array(regs) || json_array_size(regs) == 0 ||
        json_array_size(regs) > REG_JOB_BATCHES_MAX) {
        return err_set_field(ei, ERR_INVALID, "registrations",
                             "registrations is an array of 1 to %d registrations",
                             REG_JOB_BATCHES_MAX);
    }
    const json_t *jid = json_object_get(doc, "job_id");
    if (jid && (!json_is_string(jid) || json_string_length(jid) == 0 ||
                json_string_length(jid) > 128)) {
        return err_set_field(ei, ERR_INVALID, "job_id", "job_id is a string of 1 to 128 bytes");
    }
    a.job_id = json_string_value(jid);
    json_t *empty = dims ? NULL : json_object();
    e = reg__dims_prepare(dims ? dims : empty, lists, ei);
    json_decref(empty);
    a.dims = (struct reg__dims_txn){lists[0], lists[1], lists[2], NULL};
    a.b = e == ERR_OK ? calloc(json_array_size(regs), sizeof *a.b) : NULL;
    if (e == ERR_OK && !a.b) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < json_array_size(regs) && e == ERR_OK; i++) {
        const json_t *x = json_array_get(regs, i);
        e = json_is_object(x) ? regi_prepare(r, x, &a.b[i], ei)
                              : err_set_field(ei, ERR_INVALID, "registrations",
                                              "a registration is a JSON object");
        a.n = i + 1;
        if (e == ERR_NOT_FOUND) {
            e = ei->code = ERR_INVALID;
        }
        if (e != ERR_OK) {
            err_prefix(ei, "registrations[%zu]: ", i);
        }
    }
    if (e == ERR_OK) {
        e = reg__txn(r, regjob_body, &a, ei);
    }
    if (e == ERR_OK && a.already) {
        o = json_pack("{s:{},s:O,s:b}", "dimensions", "registrations", a.already, "already",
                      1);
        e = o ? ERR_OK : err_set(ei, ERR_NOMEM, "out of memory");
    } else if (e == ERR_OK) {
        json_t *items = json_array();
        o = json_pack("{s:O*,s:o*}", "dimensions", a.dims.out, "registrations", items);
        for (size_t i = 0; o && items && i < a.n; i++) {
            if (json_array_append_new(items, json_pack("{s:s,s:s,s:O}", "run", a.b[i].run,
                                                       "dataset_type", a.b[i].type_name, "ids",
                                                       a.b[i].ids)) != 0) {
                json_decref(o);
                o = NULL;
            }
        }
        e = o ? ERR_OK : err_set(ei, ERR_NOMEM, "out of memory");
    }
    *out = e == ERR_OK ? o : NULL;
    for (size_t i = 0; i < a.n; i++) {
        json_decref(a.b[i].ids);
        free(a.b[i].batch);
    }
    free(a.b);
    json_decref(a.already);
    json_decref(a.dims.out);
    for (int i = 0; i < 3; i++) {
        free(lists[i]);
    }
    return e;
}

/* ---- one dataset -------------------------------------------------------------------------- */

enum err reg_dataset_get(struct reg *r, const char *id, json_t **out, struct err_info *ei)
{
    if (!reg__uuid_ok(id)) {
        return err_set_field(ei, ERR_INVALID, "id", "a dataset id is a UUID");
    }
    char lim[16];
    snprintf(lim, sizeof lim, "%d", REG_PROVENANCE_SHOWN);
    const char *p[] = {id, lim};
    struct db_conn *c = NULL;
    struct db_res *res = NULL;
    enum err e = db_acquire(r->pool, REG__ACQUIRE_MS, &c, ei);
    if (e == ERR_OK) {
        e = db_exec(
            c, "reg_ds_get",
            "SELECT json_build_object('id', d.id, 'dataset_type', t.name, 'run', rc.name,"
            " 'data_id', d.data_id, 'ingest_date', d.ingest_date,"
            " 'files', (SELECT coalesce(json_agg(json_build_object('component', f.component,"
            "   'uri', f.uri, 'size', f.size, 'checksum', f.checksum) ORDER BY f.component),"
            "   '[]') FROM reg_file f WHERE f.dataset_id = d.id),"
            " 'provenance', (SELECT json_build_object('job_id', p.job_id, 'software_version',"
            "   p.software_version, 'parameters_digest', p.parameters_digest)"
            "   FROM reg_provenance p WHERE p.dataset_id = d.id),"
            " 'parents', (SELECT coalesce(json_agg(j ORDER BY j->>'role', j->>'id'), '[]') FROM"
            "   (SELECT json_build_object('id', u.id, 'dataset_type', ut.name, 'run', ur.name,"
            "     'data_id', u.data_id, 'role', pi.role) j FROM reg_provenance_input pi"
            "    JOIN reg_dataset u ON u.id = pi.input_id"
            "    JOIN reg_dataset_type ut ON ut.id = u.dataset_type_id"
            "    JOIN reg_collection ur ON ur.id = u.run_id WHERE pi.dataset_id = d.id"
            "    LIMIT $2::int) x),"
            " 'children', (SELECT coalesce(json_agg(j ORDER BY j->>'role', j->>'id'), '[]') FROM"
            "   (SELECT json_build_object('id', w.id, 'dataset_type', wt.name, 'run', wr.name,"
            "     'data_id', w.data_id, 'role', pi.role) j FROM reg_provenance_input pi"
            "    JOIN reg_dataset w ON w.id = pi.dataset_id"
            "    JOIN reg_dataset_type wt ON wt.id = w.dataset_type_id"
            "    JOIN reg_collection wr ON wr.id = w.run_id WHERE pi.input_id = d.id"
            "    LIMIT $2::int) y),"
            " 'certifications', (SELECT coalesce(json_agg(json_build_object('collection',"
            "   k.name, 'begin', lower(cb.validity), 'end', upper(cb.validity))"
            "   ORDER BY k.name, lower(cb.validity) NULLS FIRST), '[]')"
            "   FROM reg_calib cb JOIN reg_collection k ON k.id = cb.collection_id"
            "   WHERE cb.dataset_id = d.id))"
            " FROM reg_dataset d JOIN reg_dataset_type t ON t.id = d.dataset_type_id"
            " JOIN reg_collection rc ON rc.id = d.run_id WHERE d.id = $1::uuid",
            2, p, &res, ei);
    }
    if (e == ERR_OK && db_res_rows(res) == 0) {
        e = err_set_field(ei, ERR_NOT_FOUND, "id", "no dataset %s", id);
    }
    if (e == ERR_OK) {
        e = reg__json_col(res, 0, 0, out, ei);
    }
    db_res_free(res);
    db_release(r->pool, c);
    return e;
}

/* ---- remove-runs -------------------------------------------------------------------------- */

struct rm_txn {
    char *arr;
    bool force;
    json_t *out;
};

static enum err rm_body(struct db_conn *c, void *arg, struct err_info *ei)
{
    struct rm_txn *a = arg;
    struct db_res *res = NULL;
    const char *p[] = {a->arr};
    enum err e = db_exec(c, "reg_rm_check",
                         "SELECT n, c.type FROM unnest($1::text[]) n"
                         " LEFT JOIN reg_collection c ON c.name = n"
                         " WHERE c.type IS DISTINCT FROM 'RUN' LIMIT 1",
                         1, p, &res, ei);
    if (e == ERR_OK && db_res_rows(res) > 0) {
        const char *type = db_res_get(res, 0, 1);
        e = type ? err_set_field(ei, ERR_INVALID, "runs",
                                 "%s is a %s collection, not a RUN (remove-runs removes RUNs)",
                                 db_res_get(res, 0, 0), type)
                 : err_set_field(ei, ERR_NOT_FOUND, "runs", "no collection %s",
                                 db_res_get(res, 0, 0));
    }
    db_res_free(res);
    res = NULL;
    if (e != ERR_OK) {
        return e;
    }
    /* lock the runs (a concurrent registration into them waits or fails) */
    e = db_exec(c, "reg_rm_lock",
                "SELECT id FROM reg_collection WHERE name = ANY($1::text[]) ORDER BY id FOR UPDATE",
                1, p, NULL, ei);
    if (e == ERR_OK) {
        e = db_exec(c, "reg_rm_users",
                    "SELECT u.id, ur.name, w.id, wr.name FROM reg_collection ur"
                    " JOIN reg_dataset u ON u.run_id = ur.id"
                    " JOIN reg_provenance_input pi ON pi.input_id = u.id"
                    " JOIN reg_dataset w ON w.id = pi.dataset_id"
                    " JOIN reg_collection wr ON wr.id = w.run_id"
                    " WHERE ur.name = ANY($1::text[]) AND wr.name <> ALL ($1::text[])"
                    " ORDER BY 1, 3 LIMIT 1",
                    1, p, &res, ei);
    }
    if (e == ERR_OK && db_res_rows(res) > 0 && !a->force) {
        e = err_set_field(ei, ERR_CONFLICT, "runs",
                          "dataset %s of run %s is an input of dataset %s of run %s; "
                          "remove that run too, or force",
                          db_res_get(res, 0, 0), db_res_get(res, 0, 1), db_res_get(res, 0, 2),
                          db_res_get(res, 0, 3));
    }
    db_res_free(res);
    res = NULL;
    if (e == ERR_OK) {
        e = db_exec(c, "reg_rm_links",
                    "DELETE FROM reg_provenance_input pi USING reg_dataset u, reg_collection ur"
                    " WHERE pi.input_id = u.id AND u.run_id = ur.id AND ur.name = ANY($1::text[])",
                    1, p, NULL, ei);
    }
    if (e == ERR_OK) {
        e = db_exec(c, "reg_rm_datasets",
                    "DELETE FROM reg_dataset d USING reg_collection ur"
                    " WHERE d.run_id = ur.id AND ur.name = ANY($1::text[])",
                    1, p, &res, ei);
    }
    int64_t n = e == ERR_OK ? db_res_affected(res) : 0;
    db_res_free(res);
    res = NULL;
    if (e == ERR_OK) {
        e = db_exec(c, "reg_rm_colls",
                    "DELETE FROM reg_collection WHERE name = ANY($1::text[]) RETURNING name", 1, p,
                    &res, ei);
    }
    if (e == ERR_OK) {
        json_t *names = json_array();
        for (int i = 0; names && i < db_res_rows(res); i++) {
            json_array_append_new(names, json_string(db_res_get(res, i, 0)));
        }
        json_decref(a->out);
        a->out = json_pack("{s:o,s:I}", "removed", names, "datasets", (json_int_t)n);
        e = a->out ? ERR_OK : err_set(ei, ERR_NOMEM, "out of memory");
    }
    db_res_free(res);
    return e;
}

enum err reg_remove_runs(struct reg *r,
                         const char *const *runs,
                         size_t nruns,
                         bool force,
                         json_t **out,
                         struct err_info *ei)
{
    if (nruns == 0 || nruns > REG_RUNS_MAX) {
        return err_set_field(ei, ERR_INVALID, "runs", "name 1 to %d runs", REG_RUNS_MAX);
    }
    for (size_t i = 0; i < nruns; i++) {
        if (!reg_collection_name_ok(runs[i])) {
            return err_set_field(ei, ERR_INVALID, "runs", "runs[%zu] is no collection name", i);
        }
    }
    struct rm_txn a = {.force = force};
    enum err e = reg__text_array(runs, nruns, &a.arr, ei);
    if (e == ERR_OK) {
        e = reg__txn(r, rm_body, &a, ei);
    }
    if (e == ERR_OK) {
        *out = a.out;
        a.out = NULL;
    }
    json_decref(a.out);
    free(a.arr);
    return e;
}

/* ---- TAGGED membership -------------------------------------------------------------------- */

struct tag_txn {
    const char *coll;
    char *ids;
    bool remove;
    json_t *out;
};

static enum err tag_body(struct db_conn *c, void *arg, struct err_info *ei)
{
    struct tag_txn *a = arg;
    struct db_res *res = NULL;
    const char *p1[] = {a->coll};
    enum err e = a->remove ? ERR_OK
                           : db_exec(c, "reg_tag_make",
                                     "INSERT INTO reg_collection (name, type) VALUES ($1, 'TAGGED')"
                                     " ON CONFLICT (name) DO NOTHING",
                                     1, p1, NULL, ei);
    char cid[24] = "";
    if (e == ERR_OK) {
        e = db_exec(c, "reg_tag_get",
                    "SELECT id, type FROM reg_collection WHERE name = $1 FOR UPDATE", 1, p1, &res,
                    ei);
        if (e == ERR_OK && db_res_rows(res) == 0) {
            e = err_set_field(ei, ERR_NOT_FOUND, "collection", "no collection %s", a->coll);
        } else if (e == ERR_OK && strcmp(db_res_get(res, 0, 1), "TAGGED") != 0) {
            e = err_set_field(ei, ERR_INVALID, "collection",
                              "collection %s is a %s collection, not TAGGED", a->coll,
                              db_res_get(res, 0, 1));
        } else if (e == ERR_OK) {
            str_copy(cid, sizeof cid, db_res_get(res, 0, 0));
        }
        db_res_free(res);
        res = NULL;
    }
    const char *p2[] = {cid, a->ids};
    if (e == ERR_OK && !a->remove) {
        e = db_exec(c, "reg_tag_unknown",
                    "SELECT i FROM unnest($2::uuid[]) i WHERE $1::bigint > 0 AND NOT EXISTS"
                    " (SELECT 1 FROM reg_dataset d WHERE d.id = i) LIMIT 1",
                    2, p2, &res, ei);
        if (e == ERR_OK && db_res_rows(res) > 0) {
            e = err_set_field(ei, ERR_INVALID, "datasets", "no dataset %s", db_res_get(res, 0, 0));
        }
        db_res_free(res);
        res = NULL;
    }
    if (e == ERR_OK && !a->remove) {
        e = db_exec(c, "reg_tag_conflict",
                    "SELECT n.id, t.dataset_id, n.data_id::text FROM unnest($2::uuid[]) i"
                    " JOIN reg_dataset n ON n.id = i JOIN reg_dataset_tag t"
                    "  ON t.collection_id = $1::bigint AND t.dataset_type_id = n.dataset_type_id"
                    "  AND t.data_id_key = n.data_id_key AND t.dataset_id <> n.id LIMIT 1",
                    2, p2, &res, ei);
        if (e == ERR_OK && db_res_rows(res) > 0) {
            e = err_set_field(ei, ERR_CONFLICT, "datasets",
                              "cannot tag %s in %s: %s has the same type and data ID %s there",
                              db_res_get(res, 0, 0), a->coll, db_res_get(res, 0, 1),
                              db_res_get(res, 0, 2));
        }
        db_res_free(res);
        res = NULL;
    }
    if (e == ERR_OK) {
        e = a->remove ? db_exec(c, "reg_tag_del",
                                "DELETE FROM reg_dataset_tag WHERE collection_id = $1::bigint"
                                " AND dataset_id = ANY($2::uuid[])",
                                2, p2, &res, ei)
                      : db_exec(c, "reg_tag_ins",
                                "INSERT INTO reg_dataset_tag (collection_id, dataset_id,"
                                "  dataset_type_id, data_id_key)"
                                " SELECT $1::bigint, d.id, d.dataset_type_id, d.data_id_key"
                                " FROM unnest($2::uuid[]) i JOIN reg_dataset d ON d.id = i"
                                " ON CONFLICT (collection_id, dataset_id) DO NOTHING",
                                2, p2, &res, ei);
        if (e == ERR_CONFLICT) {
            str_copy(ei->field, sizeof ei->field, "datasets");
            str_copy(ei->msg, sizeof ei->msg,
                     "two datasets of the request have the same type and data ID");
        }
    }
    if (e == ERR_OK) {
        json_decref(a->out);
        a->out =
            json_pack("{s:s,s:I}", "collection", a->coll,
                      a->remove ? "disassociated" : "associated", (json_int_t)db_res_affected(res));
        e = a->out ? ERR_OK : err_set(ei, ERR_NOMEM, "out of memory");
    }
    db_res_free(res);
    return e;
}

enum err reg_associate(struct reg *r, const json_t *doc, json_t **out, struct err_info *ei)
{
    struct tag_txn a = {0};
    const json_t *ds = json_object_get(doc, "datasets");
    const json_t *rm = json_object_get(doc, "disassociate");
    const char *v[REG_BATCH_MAX];
    if (!json_is_object(doc)) {
        return err_set_field(ei, ERR_INVALID, "body", "an association is a JSON object");
    }
    a.coll = jstr(doc, "collection");
    if (!reg_collection_name_ok(a.coll)) {
        return err_set_field(ei, ERR_INVALID, "collection", "collection is a collection name");
    }
    if (rm && !json_is_boolean(rm)) {
        return err_set_field(ei, ERR_INVALID, "disassociate", "disassociate is a boolean");
    }
    a.remove = json_is_true(rm);
    if (!json_is_array(ds) || json_array_size(ds) == 0 || json_array_size(ds) > REG_BATCH_MAX) {
        return err_set_field(ei, ERR_INVALID, "datasets", "datasets is an array of 1 to %d ids",
                             REG_BATCH_MAX);
    }
    for (size_t i = 0; i < json_array_size(ds); i++) {
        v[i] = json_string_value(json_array_get(ds, i));
        if (!reg__uuid_ok(v[i])) {
            return err_set_field(ei, ERR_INVALID, "datasets", "datasets[%zu] is not a UUID", i);
        }
    }
    enum err e = reg__text_array(v, json_array_size(ds), &a.ids, ei);
    if (e == ERR_OK) {
        e = reg__txn(r, tag_body, &a, ei);
    }
    if (e == ERR_OK) {
        *out = a.out;
        a.out = NULL;
    }
    json_decref(a.out);
    free(a.ids);
    return e;
}
