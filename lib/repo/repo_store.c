/* repo_store.c - the CAOM repository over PostgreSQL with torkeep's semantics.
 *
 * Each observation is one row holding the CAOM-2.4 document that GET serves (written once per
 * change, so reads are a single index lookup and byte-stable), and one row per plane,
 * artifact, part and chunk with its own UUID (unique across the repository), checksums and
 * timestamps. A write parses and checks the document outside any transaction, then in one
 * transaction: locks the stored row (POST), compares If-Match, reads the stored entities,
 * gives each entity the stored lastModified when its metaChecksum is unchanged (else the
 * database clock), and maxLastModified likewise by accMetaChecksum (ObservationDAO's rule),
 * writes the document with those values and replaces the entity rows.
 * SPDX-License-Identifier: Apache-2.0 */
#include "repo/repo.h"
#include "repo/repo_int.h"

#include "core/str.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REPO_ACQUIRE_MS 10000
/* list bounds when start/end are absent: 0001-01-01 and 9999-12-31T23:59:59.999 */
#define REPO_MS_MIN (-62135596800000LL)
#define REPO_MS_MAX (253402300799999LL)

/* The SQL of the store (lib/db runs it; no SQL elsewhere in this module). */
#define TS_TEXT(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS')"
#define TS_MS(col)   "(extract(epoch FROM " col ") * 1000)::bigint"
#define MS_TS(p)     "('epoch'::timestamptz + " p "::bigint * interval '1 millisecond')"

static const char sql_get[] =
    "SELECT doc, acc_meta_checksum, " TS_TEXT("max_last_modified")
    " FROM caom_observations WHERE collection = $1 AND observation_id = $2";
static const char sql_now[] = "SELECT " TS_MS("date_trunc('milliseconds', clock_timestamp())");
/* POST: lock the stored row, read the clock and the stored entities, in one statement */
static const char sql_lock[] =
    "SELECT o.meta_checksum, o.acc_meta_checksum, " TS_MS("o.last_modified") ", "
    TS_MS("o.max_last_modified") ", " TS_MS("date_trunc('milliseconds', clock_timestamp())") ","
    " e.id::text, e.meta_checksum, e.acc_meta_checksum, " TS_MS("e.last_modified") ", "
    TS_MS("e.max_last_modified")
    " FROM (SELECT id, meta_checksum, acc_meta_checksum, last_modified, max_last_modified"
    " FROM caom_observations WHERE id = $1 FOR UPDATE) o"
    " LEFT JOIN caom_entities e ON e.observation = o.id";
/* entity rows in $10: [id, parent, level, name, meta, acc, lm, mlm] */
#define ENT_SELECT                                                                                 \
    " SELECT (x->>0)::uuid, $1::uuid, (x->>1)::uuid, (x->>2)::smallint, x->>3, x->>4, x->>5, "     \
    MS_TS("(x->>6)") ", " MS_TS("(x->>7)") " FROM jsonb_array_elements($10::jsonb) x"
#define ENT_COLS                                                                                   \
    " (id, observation, parent, level, name, meta_checksum, acc_meta_checksum, last_modified,"     \
    " max_last_modified)"
/* PUT, one autocommitted statement: the observation and its entities, all or nothing; an
 * existing UUID or URI, or an entity UUID of another observation, is a unique violation
 * (db_exec: ERR_CONFLICT, the constraint named in the message) */
static const char sql_insert_all[] =
    "WITH o AS (INSERT INTO caom_observations (id, collection, observation_id, derived,"
    " meta_checksum, acc_meta_checksum, last_modified, max_last_modified, doc)"
    " VALUES ($1, $2, $3, $4, $5, $6, " MS_TS("$7") ", " MS_TS("$8") ", $9) RETURNING id),"
    " e AS (INSERT INTO caom_entities" ENT_COLS ENT_SELECT " WHERE EXISTS (SELECT 1 FROM o)"
    " RETURNING 1)"
    " SELECT (SELECT count(*) FROM o), (SELECT count(*) FROM e)";
/* POST: replace the row, delete the entities the document no longer has, upsert the others
 * (an id owned by another observation is not updated, so e comes out short) */
static const char sql_update_all[] =
    "WITH u AS (UPDATE caom_observations SET collection = $2, observation_id = $3, derived = $4,"
    " meta_checksum = $5, acc_meta_checksum = $6, last_modified = " MS_TS("$7") ","
    " max_last_modified = " MS_TS("$8") ", doc = $9 WHERE id = $1 RETURNING id),"
    " d AS (DELETE FROM caom_entities WHERE observation = $1"
    " AND id <> ALL (SELECT (x->>0)::uuid FROM jsonb_array_elements($10::jsonb) x)),"
    " e AS (INSERT INTO caom_entities AS t" ENT_COLS ENT_SELECT
    " ON CONFLICT (id) DO UPDATE SET parent = EXCLUDED.parent, level = EXCLUDED.level,"
    " name = EXCLUDED.name, meta_checksum = EXCLUDED.meta_checksum,"
    " acc_meta_checksum = EXCLUDED.acc_meta_checksum, last_modified = EXCLUDED.last_modified,"
    " max_last_modified = EXCLUDED.max_last_modified WHERE t.observation = EXCLUDED.observation"
    " RETURNING 1)"
    " SELECT (SELECT count(*) FROM u), (SELECT count(*) FROM e)";
static const char sql_delete[] =
    "WITH d AS (DELETE FROM caom_observations WHERE collection = $1 AND observation_id = $2"
    " RETURNING id, collection, observation_id),"
    " x AS (DELETE FROM caom_entities WHERE observation IN (SELECT id FROM d))"
    " INSERT INTO caom_deletions (id, collection, observation_id, last_modified)"
    " SELECT id, collection, observation_id, date_trunc('milliseconds', clock_timestamp())"
    " FROM d ON CONFLICT (id) DO UPDATE SET collection = EXCLUDED.collection,"
    " observation_id = EXCLUDED.observation_id, last_modified = EXCLUDED.last_modified"
    " RETURNING 1";
#define LIST_COLS                                                                                  \
    "SELECT collection, observation_id, " TS_TEXT("max_last_modified")                             \
    ", acc_meta_checksum FROM caom_observations WHERE collection = $1"                             \
    " AND max_last_modified >= " MS_TS("$2") " AND max_last_modified <= " MS_TS("$3")
static const char sql_list_asc[] =
    LIST_COLS " ORDER BY max_last_modified, observation_id LIMIT $4";
static const char sql_list_desc[] =
    LIST_COLS " ORDER BY max_last_modified DESC, observation_id DESC LIMIT $4";
#define DEL_COLS                                                                                   \
    "SELECT id::text, collection, observation_id, " TS_TEXT("last_modified")                       \
    " FROM caom_deletions WHERE collection = $1"                                                   \
    " AND last_modified >= " MS_TS("$2") " AND last_modified <= " MS_TS("$3")
static const char sql_del_asc[] = DEL_COLS " ORDER BY last_modified, observation_id LIMIT $4";
static const char sql_del_desc[] =
    DEL_COLS " ORDER BY last_modified DESC, observation_id DESC LIMIT $4";
/* distinct collections by walking the list index (a loose index scan, not a table scan) */
static const char sql_collections[] =
    "WITH RECURSIVE c AS ((SELECT collection FROM caom_observations ORDER BY collection LIMIT 1)"
    " UNION ALL SELECT (SELECT o.collection FROM caom_observations o WHERE o.collection >"
    " c.collection ORDER BY o.collection LIMIT 1) FROM c WHERE c.collection IS NOT NULL)"
    " SELECT collection FROM c WHERE collection IS NOT NULL";

struct repo_store {
    struct db_pool *pool;
    const struct repo_collections *cols;
    struct caom_schema *schema; /* the built-in XSDs (2.4; 2.3 documents are accepted too) */
    struct caom_compute_opts compute; /* plane metadata of compute collections */
};

enum err repo_store_create(struct db_pool *pool,
                           const struct repo_collections *cols,
                           struct repo_store **out,
                           struct err_info *ei)
{
    struct repo_store *s = calloc(1, sizeof *s);
    if (!s) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    s->pool = pool;
    s->cols = cols;
    enum err e = caom_schema_load_builtin(&s->schema, ei);
    if (e != ERR_OK) {
        repo_store_free(s);
        return e;
    }
    *out = s;
    return ERR_OK;
}

void repo_store_free(struct repo_store *s)
{
    if (s) {
        caom_schema_free(s->schema);
        free(s);
    }
}

void repo_store_set_compute(struct repo_store *s, const struct caom_compute_opts *opts)
{
    memset(&s->compute, 0, sizeof s->compute);
    if (opts) {
        s->compute = *opts;
    }
}

const struct repo_collections *repo_store_collections(const struct repo_store *s)
{
    return s->cols;
}

void repo_doc_free(struct repo_doc *d)
{
    if (d) {
        free(d->xml);
        d->xml = NULL;
        d->len = 0;
    }
}

static enum err not_found(struct err_info *ei, const char *collection, const char *obs_id)
{
    return err_set(ei, ERR_NOT_FOUND, "not found: caom:%s/%s", collection, obs_id);
}

/* A path pair torkeep would accept as an ObservationURI (caom_path_component_ok), within our
 * caps and without control characters (the lists are TSV). */
static bool uri_parts_ok(const char *collection, const char *obs_id)
{
    const char *parts[2] = {collection, obs_id};
    const size_t caps[2] = {REPO_NAME_MAX, REPO_OBSID_MAX};
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(parts[i]);
        if (n > caps[i] || !caom_path_component_ok(parts[i])) {
            return false;
        }
        for (size_t k = 0; k < n; k++) {
            unsigned char c = (unsigned char)parts[i][k];
            if (c < 0x20 || c == 0x7f) {
                return false;
            }
        }
    }
    return true;
}

/* ---- GET ----------------------------------------------------------------------------------- */

enum err repo_get(struct repo_store *s,
                  const char *collection,
                  const char *obs_id,
                  struct repo_doc *out,
                  struct err_info *ei)
{
    memset(out, 0, sizeof *out);
    if (!uri_parts_ok(collection, obs_id) || !repo_collection_known(s->cols, collection, NULL)) {
        return not_found(ei, collection, obs_id);
    }
    struct db_res *r = NULL;
    const char *p[2] = {collection, obs_id};
    enum err e = db_pool_exec(s->pool, REPO_ACQUIRE_MS, "repo_get", sql_get, 2, p, &r, ei);
    if (e != ERR_OK) {
        goto out;
    }
    if (db_res_rows(r) == 0) {
        e = not_found(ei, collection, obs_id);
        goto out;
    }
    const char *doc = db_res_get(r, 0, 0);
    out->len = strlen(doc);
    out->xml = str_ndup(doc, out->len);
    if (!out->xml) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    str_copy(out->acc_meta_checksum, sizeof out->acc_meta_checksum, db_res_get(r, 0, 1));
    str_copy(out->max_last_modified, sizeof out->max_last_modified, db_res_get(r, 0, 2));
out:
    db_res_free(r);
    return e;
}

/* ---- writes -------------------------------------------------------------------------------- */

/* One plane, artifact, part or chunk of the document being written. */
struct ent {
    struct caom_entity *e;
    const uint8_t *parent; /* UUID of the owner */
    int level;             /* 1 plane .. 4 chunk */
    const char *name;      /* natural key (chunks: "", their index is in idx) */
    char idx[16];
};

/* A stored entity (or the observation itself) as read under the lock. */
struct stored {
    uint8_t id[16];
    char meta[CAOM_CHECKSUM_URI_MAX];
    char acc[CAOM_CHECKSUM_URI_MAX];
    int64_t lm;
    int64_t mlm;
};

struct wctx {
    struct repo_store *s;
    struct caom_observation *obs; /* parsed, checksummed; timestamps set in the transaction */
    const char *collection;
    const char *obs_id;
    bool create;
    const char *if_match; /* normalised, or NULL */
    struct ent *ents;
    size_t nents;
    /* per attempt */
    struct stored *old;
    size_t nold;
    char *xml;
    struct repo_write_result *res;
};

static enum err ents_add(struct wctx *w,
                         size_t *cap,
                         struct caom_entity *e,
                         const uint8_t *parent,
                         int level,
                         const char *name)
{
    if (w->nents == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        struct ent *v = realloc(w->ents, ncap * sizeof *v);
        if (!v) {
            return ERR_NOMEM;
        }
        w->ents = v;
        *cap = ncap;
    }
    struct ent *x = &w->ents[w->nents++];
    memset(x, 0, sizeof *x);
    x->e = e;
    x->parent = parent;
    x->level = level;
    x->name = name ? name : "";
    return ERR_OK;
}

static int uuid_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

static enum err ents_collect(struct wctx *w, struct err_info *ei)
{
    size_t cap = 0;
    struct caom_observation *o = w->obs;
    for (size_t i = 0; i < o->n_planes; i++) {
        struct caom_plane *p = o->planes[i];
        if (ents_add(w, &cap, &p->e, o->e.id, 1, p->product_id) != ERR_OK) {
            goto nomem;
        }
        for (size_t j = 0; j < p->n_artifacts; j++) {
            struct caom_artifact *a = p->artifacts[j];
            if (ents_add(w, &cap, &a->e, p->e.id, 2, a->uri) != ERR_OK) {
                goto nomem;
            }
            for (size_t k = 0; k < a->n_parts; k++) {
                struct caom_part *pt = a->parts[k];
                if (ents_add(w, &cap, &pt->e, a->e.id, 3, pt->name) != ERR_OK) {
                    goto nomem;
                }
                for (size_t m = 0; m < pt->n_chunks; m++) {
                    if (ents_add(w, &cap, &pt->chunks[m]->e, pt->e.id, 4, NULL) != ERR_OK) {
                        goto nomem;
                    }
                    /* the name is its index, kept in the entry itself: taken from there
                     * when used (a pointer to it would dangle once the array grows) */
                    struct ent *x = &w->ents[w->nents - 1];
                    snprintf(x->idx, sizeof x->idx, "%zu", m);
                }
            }
        }
    }
    /* the same UUID twice in one document would make two rows one: sort a copy of every id
     * (the observation's too) and compare neighbours, whatever the document's size */
    uint8_t(*ids)[16] = malloc((w->nents + 1) * sizeof *ids);
    if (!ids) {
        goto nomem;
    }
    memcpy(ids[0], o->e.id, 16);
    for (size_t i = 0; i < w->nents; i++) {
        memcpy(ids[i + 1], w->ents[i].e->id, 16);
    }
    qsort(ids, w->nents + 1, sizeof *ids, uuid_cmp);
    bool twice = false;
    for (size_t i = 1; i <= w->nents && !twice; i++) {
        twice = memcmp(ids[i - 1], ids[i], 16) == 0;
    }
    free(ids);
    if (twice) {
        goto dup;
    }
    return ERR_OK;
dup:
    return err_set(ei, ERR_PARSE, "invalid input: caom:%s/%s |cause: a UUID is used twice in the document",
                   w->collection, w->obs_id);
nomem:
    return err_set(ei, ERR_NOMEM, "out of memory");
}

static int stored_cmp(const void *a, const void *b)
{
    return uuid_cmp(((const struct stored *)a)->id, ((const struct stored *)b)->id);
}

static const struct stored *stored_find(const struct wctx *w, const uint8_t id[16])
{
    struct stored key;
    memcpy(key.id, id, 16);
    return w->nold ? bsearch(&key, w->old, w->nold, sizeof *w->old, stored_cmp) : NULL;
}

/* lastModified and maxLastModified of @p e: kept where its checksums are unchanged. */
static void stamp(struct caom_entity *e, const struct stored *old, int64_t now)
{
    bool same_meta = old && strcmp(old->meta, e->meta_checksum) == 0;
    bool same_acc = old && strcmp(old->acc, e->acc_meta_checksum) == 0;
    e->last_modified = caom_date(same_meta ? old->lm : now);
    int64_t mlm = same_acc ? old->mlm : now;
    if (mlm < e->last_modified.ms) {
        mlm = e->last_modified.ms;
    }
    e->max_last_modified = caom_date(mlm);
}

static enum err db_i64(const struct db_res *r, int row, int col, int64_t *out)
{
    const char *v = db_res_get(r, row, col);
    return v ? str_to_i64(v, INT64_MIN, INT64_MAX, out) : ERR_PARSE;
}

/* The stored entities from the rows of sql_lock (columns 5..9; NULL when there are none). */
static enum err load_old(struct wctx *w, const struct db_res *r, struct err_info *ei)
{
    int n = db_res_rows(r);
    free(w->old);
    w->old = calloc((size_t)n + 1, sizeof *w->old);
    w->nold = 0;
    if (!w->old) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        if (!db_res_get(r, i, 5)) {
            continue; /* an observation without planes */
        }
        struct stored *x = &w->old[w->nold];
        if (caom_uuid_parse(db_res_get(r, i, 5), x->id) != ERR_OK ||
            db_i64(r, i, 8, &x->lm) != ERR_OK || db_i64(r, i, 9, &x->mlm) != ERR_OK) {
            return err_set(ei, ERR_DB, "unreadable caom_entities row");
        }
        str_copy(x->meta, sizeof x->meta, db_res_get(r, i, 6));
        str_copy(x->acc, sizeof x->acc, db_res_get(r, i, 7));
        w->nold++;
    }
    qsort(w->old, w->nold, sizeof *w->old, stored_cmp);
    return ERR_OK;
}

/* Set every timestamp of the tree, bottom-up so a parent's maxLastModified covers its
 * children even when its own accMetaChecksum did not change (it cannot, but stay safe). */
static void stamp_tree(struct wctx *w, const struct stored *old_obs, int64_t now)
{
    struct caom_observation *o = w->obs;
    int64_t omax = 0;
    for (size_t i = 0; i < o->n_planes; i++) {
        struct caom_plane *p = o->planes[i];
        int64_t pmax = 0;
        for (size_t j = 0; j < p->n_artifacts; j++) {
            struct caom_artifact *a = p->artifacts[j];
            int64_t amax = 0;
            for (size_t k = 0; k < a->n_parts; k++) {
                struct caom_part *pt = a->parts[k];
                int64_t ptmax = 0;
                for (size_t m = 0; m < pt->n_chunks; m++) {
                    struct caom_entity *ce = &pt->chunks[m]->e;
                    stamp(ce, stored_find(w, ce->id), now);
                    ptmax = ce->max_last_modified.ms > ptmax ? ce->max_last_modified.ms : ptmax;
                }
                stamp(&pt->e, stored_find(w, pt->e.id), now);
                if (pt->e.max_last_modified.ms < ptmax) {
                    pt->e.max_last_modified.ms = ptmax;
                }
                amax = pt->e.max_last_modified.ms > amax ? pt->e.max_last_modified.ms : amax;
            }
            stamp(&a->e, stored_find(w, a->e.id), now);
            if (a->e.max_last_modified.ms < amax) {
                a->e.max_last_modified.ms = amax;
            }
            pmax = a->e.max_last_modified.ms > pmax ? a->e.max_last_modified.ms : pmax;
        }
        stamp(&p->e, stored_find(w, p->e.id), now);
        if (p->e.max_last_modified.ms < pmax) {
            p->e.max_last_modified.ms = pmax;
        }
        omax = p->e.max_last_modified.ms > omax ? p->e.max_last_modified.ms : omax;
    }
    stamp(&o->e, old_obs, now);
    if (o->e.max_last_modified.ms < omax) {
        o->e.max_last_modified.ms = omax;
    }
}

/* The entity rows as one JSON array parameter ([id, parent, level, name, meta, acc, lm, mlm]). */
static enum err ents_json(const struct wctx *w, char **out, struct err_info *ei)
{
    json_t *a = json_array();
    if (!a) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < w->nents; i++) {
        const struct ent *x = &w->ents[i];
        char id[37];
        char parent[37];
        caom_uuid_format(x->e->id, id);
        caom_uuid_format(x->parent, parent);
        json_t *row = json_pack("[s,s,i,s,s,s,I,I]", id, parent, x->level,
                                x->level == 4 ? x->idx : x->name,
                                x->e->meta_checksum, x->e->acc_meta_checksum,
                                (json_int_t)x->e->last_modified.ms,
                                (json_int_t)x->e->max_last_modified.ms);
        if (!row || json_array_append_new(a, row) != 0) {
            json_decref(a);
            /* json_pack refuses a name that is not UTF-8 */
            return err_set(ei, ERR_PARSE, "invalid input: caom:%s/%s |cause: a name is not UTF-8",
                           w->collection, w->obs_id);
        }
    }
    *out = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return *out ? ERR_OK : err_set(ei, ERR_NOMEM, "out of memory");
}

static enum err write_txn(struct db_conn *c, void *arg, struct err_info *ei)
{
    struct wctx *w = arg;
    struct db_res *r = NULL;
    char *rows = NULL;
    char id[37];
    enum err e;
    caom_uuid_format(w->obs->e.id, id);
    free(w->xml);
    w->xml = NULL;
    free(w->old);
    w->old = NULL;
    w->nold = 0;

    int64_t now = 0;
    struct stored old_obs;
    const char *p[1] = {id};
    if (w->create) {
        if ((e = db_exec(c, "repo_now", sql_now, 0, NULL, &r, ei)) != ERR_OK) {
            goto out;
        }
        if (db_i64(r, 0, 0, &now) != ERR_OK) {
            e = err_set(ei, ERR_DB, "unreadable clock");
            goto out;
        }
    } else {
        if ((e = db_exec(c, "repo_lock", sql_lock, 1, p, &r, ei)) != ERR_OK) {
            goto out;
        }
        if (db_res_rows(r) == 0) {
            e = not_found(ei, w->collection, w->obs_id);
            goto out;
        }
        memcpy(old_obs.id, w->obs->e.id, 16);
        str_copy(old_obs.meta, sizeof old_obs.meta, db_res_get(r, 0, 0));
        str_copy(old_obs.acc, sizeof old_obs.acc, db_res_get(r, 0, 1));
        if (db_i64(r, 0, 2, &old_obs.lm) != ERR_OK || db_i64(r, 0, 3, &old_obs.mlm) != ERR_OK ||
            db_i64(r, 0, 4, &now) != ERR_OK) {
            e = err_set(ei, ERR_DB, "unreadable caom_observations row");
            goto out;
        }
        if (w->if_match && strcmp(w->if_match, old_obs.acc) != 0) {
            e = err_set(ei, ERR_PRECONDITION, "update blocked: current entity is : %s",
                        old_obs.acc);
            goto out;
        }
        if ((e = load_old(w, r, ei)) != ERR_OK) {
            goto out;
        }
    }
    db_res_free(r);
    r = NULL;

    stamp_tree(w, w->create ? NULL : &old_obs, now);
    size_t xlen = 0;
    if ((e = caom_xml_write(w->obs, &w->xml, &xlen, ei)) != ERR_OK) {
        err_prefix(ei, "invalid input: caom:%s/%s |cause: ", w->collection, w->obs_id);
        e = ERR_PARSE;
        goto out;
    }
    if ((e = ents_json(w, &rows, ei)) != ERR_OK) {
        goto out;
    }
    char lm[24];
    char mlm[24];
    snprintf(lm, sizeof lm, "%lld", (long long)w->obs->e.last_modified.ms);
    snprintf(mlm, sizeof mlm, "%lld", (long long)w->obs->e.max_last_modified.ms);
    const char *derived = w->obs->kind == CAOM_OBS_DERIVED ? "true" : "false";
    const char *op[10] = {id, w->collection, w->obs_id, derived, w->obs->e.meta_checksum,
                          w->obs->e.acc_meta_checksum, lm, mlm, w->xml, rows};
    e = w->create ? db_exec(c, "repo_insert_all", sql_insert_all, 10, op, &r, ei)
                  : db_exec(c, "repo_update_all", sql_update_all, 10, op, &r, ei);
    if (e == ERR_CONFLICT) {
        /* PUT: the UUID or the URI exists (perhaps created concurrently), or an entity UUID is
         * another observation's; POST: the new URI of a renamed observation is taken */
        bool entity = strstr(ei->msg, "caom_entities_pkey") != NULL;
        e = err_set(ei, ERR_CONFLICT, "already exists: caom:%s/%s%s", w->collection, w->obs_id,
                    entity ? " |cause: a plane, artifact, part or chunk UUID of the document "
                             "belongs to another observation"
                           : "");
    }
    if (e != ERR_OK) {
        goto out;
    }
    int64_t nobs = 0;
    int64_t nent = 0;
    if (db_i64(r, 0, 0, &nobs) != ERR_OK || db_i64(r, 0, 1, &nent) != ERR_OK) {
        e = err_set(ei, ERR_DB, "unreadable write counts");
        goto out;
    }
    if (nobs == 0) {
        /* PUT: the UUID or the URI exists (perhaps created concurrently); POST: the row is
         * gone, it cannot be (it is locked) */
        e = w->create ? err_set(ei, ERR_CONFLICT, "already exists: caom:%s/%s", w->collection,
                                w->obs_id)
                      : err_set(ei, ERR_PRECONDITION, "update blocked: current entity does not exist");
        goto out;
    }
    if ((size_t)nent != w->nents) {
        e = err_set(ei, ERR_CONFLICT,
                    "already exists: caom:%s/%s |cause: a plane, artifact, part or chunk UUID "
                    "of the document belongs to another observation",
                    w->collection, w->obs_id);
        goto out;
    }
    str_copy(w->res->acc_meta_checksum, sizeof w->res->acc_meta_checksum,
             w->obs->e.acc_meta_checksum);
    caom_date_format(w->obs->e.max_last_modified.ms, w->res->max_last_modified);
out:
    free(rows);
    db_res_free(r);
    return e;
}

/* "md5:..." from an If-Match value (quotes and a weak prefix stripped). */
static enum err if_match_norm(const char *v, char *out, size_t cap, struct err_info *ei)
{
    while (*v == ' ') {
        v++;
    }
    if (strncmp(v, "W/", 2) == 0) {
        v += 2;
    }
    size_t n = strlen(v);
    while (n > 0 && v[n - 1] == ' ') {
        n--;
    }
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    if (n != 36 || strncmp(v, "md5:", 4) != 0) {
        return err_set(ei, ERR_PARSE, "invalid If-Match value: %.80s", v);
    }
    for (size_t i = 4; i < n; i++) {
        if (!strchr("0123456789abcdefABCDEF", v[i])) {
            return err_set(ei, ERR_PARSE, "invalid If-Match value: %.80s", v);
        }
    }
    if (n + 1 > cap) {
        return err_set(ei, ERR_PARSE, "invalid If-Match value");
    }
    for (size_t i = 0; i < n; i++) {
        char ch = v[i];
        out[i] = (ch >= 'A' && ch <= 'F') ? (char)(ch - 'A' + 'a') : ch;
    }
    out[n] = '\0';
    return ERR_OK;
}

static enum err write_doc(struct repo_store *s,
                          const char *collection,
                          const char *obs_id,
                          const char *body,
                          size_t len,
                          bool create,
                          const char *if_match,
                          struct repo_write_result *res,
                          struct err_info *ei)
{
    struct wctx w;
    memset(&w, 0, sizeof w);
    struct repo_write_result dummy;
    char im[CAOM_CHECKSUM_URI_MAX];
    bool compute = false;
    enum err e;
    w.s = s;
    w.collection = collection;
    w.obs_id = obs_id;
    w.create = create;
    w.res = res ? res : &dummy;
    memset(w.res, 0, sizeof *w.res);

    if (!uri_parts_ok(collection, obs_id)) {
        return err_set(ei, ERR_PARSE, "invalid input: caom:%.128s/%.256s", collection, obs_id);
    }
    if (!repo_collection_known(s->cols, collection, &compute)) {
        return not_found(ei, collection, obs_id);
    }
    if (if_match && if_match[0]) {
        if ((e = if_match_norm(if_match, im, sizeof im, ei)) != ERR_OK) {
            return e;
        }
        w.if_match = im;
    }
    if (!body || len == 0) {
        return err_set(ei, ERR_PARSE, "invalid input: caom:%s/%s but no observation document in body",
                       collection, obs_id);
    }
    if (len > REPO_DOC_MAX) {
        return err_set(ei, ERR_TOO_LARGE, "document of %zu bytes is over the limit of %u bytes", len,
                       (unsigned)REPO_DOC_MAX);
    }
    /* parsed once: XSD-validated (2.4 or 2.3 by namespace), then read into the model */
    if ((e = caom_xml_read_valid(s->schema, body, len, "document", &w.obs, ei)) != ERR_OK) {
        if (e == ERR_NOMEM) {
            return e;
        }
        err_prefix(ei, "invalid input: ");
        return e == ERR_TOO_LARGE ? e : ERR_PARSE;
    }
    if (strcmp(w.obs->collection, collection) != 0 || strcmp(w.obs->observation_id, obs_id) != 0) {
        e = err_set(ei, ERR_PARSE, "invalid input: caom:%.128s/%.256s (path) must match : caom:%.128s/%.128s(document)",
                    collection, obs_id, w.obs->collection, w.obs->observation_id);
        goto out;
    }
    if ((e = caom_observation_validate(w.obs, ei)) != ERR_OK) {
        if (e != ERR_NOMEM) {
            err_prefix(ei, "invalid input: caom:%s/%s |cause: ", collection, obs_id);
            e = ERR_PARSE;
        }
        goto out;
    }
    if (compute && (e = caom_observation_compute(w.obs, &s->compute, ei)) != ERR_OK) {
        if (e != ERR_NOMEM) {
            err_prefix(ei, "invalid input: caom:%s/%s |cause: ", collection, obs_id);
            e = ERR_PARSE;
        }
        goto out;
    }
    caom_checksum_update(w.obs);
    if ((e = ents_collect(&w, ei)) != ERR_OK) {
        goto out;
    }
    if (create) {
        /* no transaction: the clock, then one atomic statement (two round trips) */
        for (int attempt = 0;; attempt++) {
            e = db_pool_run(s->pool, REPO_ACQUIRE_MS, write_txn, &w, ei);
            if (e != ERR_DB_RETRY || attempt == DB_TXN_RETRIES) {
                break; /* a deadlock between two creates sharing entity UUIDs is retried */
            }
        }
    } else {
        e = db_txn_run(s->pool, write_txn, &w, ei);
    }
out:
    caom_observation_free(w.obs);
    free(w.ents);
    free(w.old);
    free(w.xml);
    return e;
}

enum err repo_put(struct repo_store *s,
                  const char *collection,
                  const char *obs_id,
                  const char *body,
                  size_t len,
                  struct repo_write_result *res,
                  struct err_info *ei)
{
    return write_doc(s, collection, obs_id, body, len, true, NULL, res, ei);
}

enum err repo_post(struct repo_store *s,
                   const char *collection,
                   const char *obs_id,
                   const char *body,
                   size_t len,
                   const char *if_match,
                   struct repo_write_result *res,
                   struct err_info *ei)
{
    return write_doc(s, collection, obs_id, body, len, false, if_match, res, ei);
}

/* ---- DELETE, lists ------------------------------------------------------------------------- */

enum err
repo_delete(struct repo_store *s, const char *collection, const char *obs_id, struct err_info *ei)
{
    if (!uri_parts_ok(collection, obs_id) || !repo_collection_known(s->cols, collection, NULL)) {
        return not_found(ei, collection, obs_id);
    }
    struct db_res *r = NULL;
    const char *p[2] = {collection, obs_id};
    enum err e = db_pool_exec(s->pool, REPO_ACQUIRE_MS, "repo_delete", sql_delete, 2, p, &r, ei);
    if (e == ERR_OK && db_res_rows(r) == 0) {
        e = not_found(ei, collection, obs_id);
    }
    db_res_free(r);
    return e;
}

enum err repo_list_query_parse(const char *const *names,
                               const char *const *values,
                               size_t n,
                               struct repo_list_query *q,
                               struct err_info *ei)
{
    bool seen[4] = {false, false, false, false};
    q->maxrec = REPO_LIST_MAXREC;
    q->has_start = q->has_end = q->desc = false;
    for (size_t i = 0; i < n; i++) {
        const char *k = names[i];
        const char *v = values[i] ? values[i] : "";
        int which = strcasecmp(k, "maxrec") == 0  ? 0
                    : strcasecmp(k, "start") == 0 ? 1
                    : strcasecmp(k, "end") == 0   ? 2
                    : strcasecmp(k, "order") == 0 ? 3
                                                  : -1;
        if (which < 0 || seen[which]) {
            continue; /* unknown names are ignored; the first of repeated values counts */
        }
        seen[which] = true;
        if (which == 0) {
            int64_t m = 0;
            if (str_to_i64(v, INT64_MIN, INT64_MAX, &m) != ERR_OK) {
                return err_set_field(ei, ERR_PARSE, "maxrec", "invalid maxrec value: %.64s", v);
            }
            if (m <= 0) {
                return err_set_field(ei, ERR_PARSE, "maxrec",
                                     "invalid maxrec value: %lld, maxrec must be > 0",
                                     (long long)m);
            }
            q->maxrec = m > REPO_LIST_MAXREC ? REPO_LIST_MAXREC : m;
        } else if (which == 1 || which == 2) {
            int64_t ms = 0;
            if (repo__date_parse(v, &ms) != ERR_OK) {
                return err_set_field(ei, ERR_PARSE, which == 1 ? "start" : "end",
                                     "invalid date format: %.64s", v);
            }
            if (which == 1) {
                q->has_start = true;
                q->start_ms = ms;
            } else {
                q->has_end = true;
                q->end_ms = ms;
            }
        } else {
            if (strcmp(v, "asc") == 0) {
                q->desc = false;
            } else if (strcmp(v, "desc") == 0) {
                q->desc = true;
            } else {
                return err_set_field(ei, ERR_PARSE, "order", "invalid order value: %.64s", v);
            }
        }
    }
    return ERR_OK;
}

/* Run a list statement and append its rows as TSV. */
static enum err list_run(struct repo_store *s,
                         const struct repo_list_query *q,
                         const char *name,
                         const char *sql,
                         struct buf *out,
                         struct err_info *ei)
{
    if (!q->collection || !repo_collection_known(s->cols, q->collection, NULL)) {
        return err_set(ei, ERR_NOT_FOUND, "not found: %s", q->collection ? q->collection : "null");
    }
    char a[24];
    char b[24];
    char m[24];
    snprintf(a, sizeof a, "%lld", (long long)(q->has_start ? q->start_ms : REPO_MS_MIN));
    snprintf(b, sizeof b, "%lld", (long long)(q->has_end ? q->end_ms : REPO_MS_MAX));
    snprintf(m, sizeof m, "%lld",
             (long long)(q->maxrec > 0 && q->maxrec < REPO_LIST_MAXREC ? q->maxrec
                                                                       : REPO_LIST_MAXREC));
    const char *p[4] = {q->collection, a, b, m};
    struct db_res *r = NULL;
    enum err e = db_pool_exec(s->pool, REPO_ACQUIRE_MS, name, sql, 4, p, &r, ei);
    if (e != ERR_OK) {
        return e;
    }
    int rows = db_res_rows(r);
    for (int i = 0; i < rows && e == ERR_OK; i++) {
        for (int col = 0; col < 4 && e == ERR_OK; col++) {
            const char *v = db_res_get(r, i, col);
            e = buf_puts(out, v ? v : "");
            if (e == ERR_OK) {
                e = buf_append(out, col == 3 ? "\n" : "\t", 1);
            }
        }
    }
    db_res_free(r);
    if (e != ERR_OK) {
        return err_set(ei, e, "the list does not fit the response");
    }
    return ERR_OK;
}

enum err repo_list(struct repo_store *s,
                   const struct repo_list_query *q,
                   struct buf *out,
                   struct err_info *ei)
{
    return q->desc ? list_run(s, q, "repo_list_desc", sql_list_desc, out, ei)
                   : list_run(s, q, "repo_list_asc", sql_list_asc, out, ei);
}

enum err repo_deletions(struct repo_store *s,
                        const struct repo_list_query *q,
                        struct buf *out,
                        struct err_info *ei)
{
    return q->desc ? list_run(s, q, "repo_del_desc", sql_del_desc, out, ei)
                   : list_run(s, q, "repo_del_asc", sql_del_asc, out, ei);
}

enum err repo_list_collections(struct repo_store *s, struct buf *out, struct err_info *ei)
{
    size_t n = repo_collections_count(s->cols);
    const char **names = NULL;
    size_t nn = 0;
    struct db_res *r = NULL;
    enum err e = ERR_OK;
    if (repo_collections_any(s->cols)) {
        e = db_pool_exec(s->pool, REPO_ACQUIRE_MS, "repo_collections", sql_collections, 0, NULL,
                         &r, ei);
        if (e != ERR_OK) {
            return e;
        }
    }
    size_t rows = r ? (size_t)db_res_rows(r) : 0;
    names = calloc(n + rows + 1, sizeof *names);
    if (!names) {
        db_res_free(r);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        names[nn++] = repo_collections_name(s->cols, i);
    }
    for (size_t i = 0; i < rows; i++) {
        names[nn++] = db_res_get(r, (int)i, 0);
    }
    qsort(names, nn, sizeof *names, repo__strcmp_p);
    for (size_t i = 0; i < nn && e == ERR_OK; i++) {
        if (i > 0 && strcmp(names[i], names[i - 1]) == 0) {
            continue;
        }
        e = buf_printf(out, "%s\n", names[i]);
    }
    free((void *)names);
    db_res_free(r);
    return e == ERR_OK ? ERR_OK : err_set(ei, e, "the collection list does not fit the response");
}
