/* registry.h - the dataset registry (issue 13) over PostgreSQL, Butler's model with a fixed
 * dimension universe (instrument, detector, exposure, physical_filter): dimension records,
 * dataset types, collections (RUN, TAGGED, CHAINED, CALIBRATION), datasets with their data ID
 * and file records, certified calibrations with half-open validity ranges (an exclusion
 * constraint forbids overlap per collection, type and data ID), provenance, and the queries:
 * datasets by type, collection search path (chains flattened in SQL, find-first by the
 * path's order) and a WHERE expression compiled to parameterised SQL; calibration lookup by
 * overlap with an exposure's time span. Every statement on the reg_* tables (migration 0011)
 * is here; every write is one transaction. Documents in and out are JSON (jansson); the
 * shapes are those of the HTTP API (openapi/openapi.yaml, docs/registry.md).
 * Thread-safe: one struct reg serves every thread of a process. SPDX-License-Identifier:
 * Apache-2.0 */
#ifndef OBSFLOW_REGISTRY_REGISTRY_H
#define OBSFLOW_REGISTRY_REGISTRY_H

#include "core/compiler.h"
#include "core/err.h"
#include "db/db.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define REG_WHERE_MAX           4096  /* bytes of a WHERE expression */
#define REG_WHERE_DEPTH_MAX     32    /* nesting of parentheses and NOT */
#define REG_WHERE_PARAMS_MAX    24    /* literals (IN lists count once) of one expression */
#define REG_WHERE_IN_MAX        1000  /* values of one IN list */
#define REG_STRING_MAX          256   /* bytes of a string literal or data ID value */
#define REG_COLLECTIONS_MAX     64    /* collections named by one query */
#define REG_CHAIN_MAX           256   /* children of one CHAINED collection */
#define REG_CHAIN_DEPTH_MAX     16    /* nesting of chains followed by a search */
#define REG_BATCH_MAX           2000  /* datasets registered (or certified) by one call */
#define REG_FILES_MAX           16    /* file records of one dataset */
#define REG_INPUTS_MAX          1000  /* provenance inputs + references of one dataset */
#define REG_DIM_RECORDS_MAX     10000 /* dimension records of one call */
#define REG_QUERY_LIMIT_MAX     10000 /* datasets one query returns */
#define REG_QUERY_LIMIT_DEFAULT 1000
#define REG_RUNS_MAX            64    /* RUN collections removed by one call */
#define REG_PROVENANCE_SHOWN    1000  /* parents or children shown per dataset */
#define REG_LIST_MAX            10000 /* collections one listing returns */

/** THE rule for registry collection (and RUN) names: 1 to 128 of [A-Za-z0-9._/-]. */
bool reg_collection_name_ok(const char *s);

/* ---- the WHERE language (no database needed; tests and the fuzzer use it alone) ---------- */

/*
 * expr := or ; or := and {OR and} ; and := not {AND not} ; not := NOT not | '(' expr ')' | pred
 * pred := field op literal | literal op field | field [NOT] IN '(' literal {',' literal} ')'
 *       | field OVERLAPS '(' time ',' time ')'
 * op   := = | != | <> | < | <= | > | >=
 * literal := integer | 'string' ('' is a quote) | T'ISO-8601 time' (UTC unless an offset)
 * fields: instrument, detector, exposure, physical_filter (the data ID: each must be a
 * dimension of the dataset type), exposure.obs_id, exposure.obs_type, exposure.day_obs,
 * exposure.physical_filter, exposure.begin, exposure.end, exposure.timespan (OVERLAPS only),
 * ingest_date. Keywords are case-insensitive. Values never enter the SQL text: each becomes
 * a typed $n placeholder (an IN list one array parameter).
 */
struct reg_where; /* opaque: a compiled expression */

/**
 * Compile @p expr for a dataset type of dimensions @p dims (NULL-terminated) named @p type
 * (for messages). Placeholders start at $@p first_param. The SQL refers to the dataset as
 * alias "d" and, when reg_where_needs_exposure, to its exposure record as alias "e".
 * @return ERR_OK; ERR_PARSE (field "where") with the position and what was expected, or
 *         naming an unknown field or a dimension the type does not have; ERR_TOO_LARGE past
 *         the caps; ERR_NOMEM.
 */
NODISCARD enum err reg_where_compile(const char *expr,
                                     const char *const *dims,
                                     const char *type,
                                     int first_param,
                                     struct reg_where **out,
                                     struct err_info *ei);
/** The SQL condition (borrowed; "true" for an empty expression). */
const char *reg_where_sql(const struct reg_where *w);
/** Number of parameters, and the text of parameter @p i (0-based; borrowed). */
int reg_where_nparams(const struct reg_where *w);
const char *reg_where_param(const struct reg_where *w, int i);
/** True when the SQL refers to alias "e" (the exposure record). */
bool reg_where_needs_exposure(const struct reg_where *w);
void reg_where_free(struct reg_where *w);

/**
 * Check an ISO-8601 time ("YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS[.frac]]" with "Z" or "+HH:MM"
 * optional: UTC when absent) and write PostgreSQL's form with an explicit offset to @p out.
 * @return true when valid.
 */
bool reg_time_normalise(const char *s, char *out, size_t cap);

/* ---- file templates (no database) --------------------------------------------------------- */

#define REG_TEMPLATE_MAX        1024 /* bytes of a template */
#define REG_TEMPLATE_FIELDS_MAX 32   /* fields of a template */
#define REG_PATH_MAX            4096 /* bytes of a rendered path */

/*
 * Butler-style file templates: literal text and fields {run}, {dataset_type}, {id},
 * {instrument}, {detector}, {exposure}, {physical_filter}, each with an optional format of
 * "?" (optional: when absent, the field and the literal just before it vanish unless that
 * literal has a '/'), "/" (keep '/' inside the value; by default it becomes '_') and "0Nd"
 * (zero-padded integer, detector and exposure). Values never add path segments of their own
 * unless ":/": ' <>:"|?*\' and control bytes become '_'; the path is relative, without
 * empty, "." or ".." segments. Example: "{run}/{dataset_type}/{instrument}/{exposure}/
 * {dataset_type}_{instrument}_{exposure}_{detector}.fits".
 */
struct reg_template; /* opaque */

/** Parse @p text. @return ERR_OK; ERR_INVALID (field "template") naming the offset and the
 * problem (unknown field, bad format, unbalanced braces); ERR_TOO_LARGE; ERR_NOMEM. */
NODISCARD enum err
reg_template_parse(const char *text, struct reg_template **out, struct err_info *ei);

/** Can @p t make unique paths for a dataset type of dimensions @p dims (NULL-terminated)? It
 * needs {run} or {id}, and (without {id}) every dimension of the type, none of them optional;
 * a field naming a dimension the type lacks must be optional. @return ERR_OK; ERR_INVALID
 * saying what is missing. */
NODISCARD enum err reg_template_check(const struct reg_template *t,
                                      const char *const *dims,
                                      const char *type,
                                      struct err_info *ei);

/** The relative path of one dataset into @p out (@p cap bytes). @return ERR_OK;
 * ERR_INVALID (a required field without a value, an empty path); ERR_TOO_LARGE. */
NODISCARD enum err reg_template_render(const struct reg_template *t,
                                       const char *run,
                                       const char *type,
                                       const char *id,
                                       const json_t *data_id,
                                       char *out,
                                       size_t cap,
                                       struct err_info *ei);

void reg_template_free(struct reg_template *t);

/* ---- the registry ------------------------------------------------------------------------- */

struct reg; /* opaque */

/** @p pool borrowed, must outlive the handle. */
NODISCARD enum err reg_create(struct db_pool *pool, struct reg **out, struct err_info *ei);
void reg_destroy(struct reg *r);

/**
 * Insert dimension records that are not there yet (existing ones are kept as they are):
 * {"instruments":[{"name","class_name"?}],"detectors":[{"instrument","id","full_name"?}],
 *  "exposures":[{"instrument","id","begin","end","obs_id"?,"obs_type"?,"physical_filter"?,
 *  "day_obs"?}]}; rows are written in key order (two concurrent callers never deadlock).
 * @param[out] out {"instruments":n,"detectors":n,"exposures":n} of rows inserted.
 * @return ERR_OK; ERR_INVALID naming the field; ERR_TOO_LARGE past REG_DIM_RECORDS_MAX.
 */
NODISCARD enum err
reg_dimensions_put(struct reg *r, const json_t *doc, json_t **out, struct err_info *ei);

/**
 * Register a dataset type {"name","dimensions":[...],"storage_class","is_calibration"?};
 * an identical definition is a no-op. @param[out] created may be NULL.
 * @return ERR_OK; ERR_INVALID naming the field; ERR_CONFLICT when the name exists with
 *         another definition.
 */
NODISCARD enum err
reg_dataset_type_put(struct reg *r, const json_t *doc, bool *created, struct err_info *ei);
/** {"items":[{"name","dimensions","storage_class","is_calibration"}]} by name. */
NODISCARD enum err reg_dataset_types_list(struct reg *r, json_t **out, struct err_info *ei);

/**
 * Define or change a collection: {"name","type","doc"?,"children"?:[names],"mode"?}.
 * A CHAINED collection's children are redefined (mode "redefine", the default), appended
 * ("extend"), put first ("prepend") or taken out ("remove"); a child must exist and may not
 * lead back to the chain (cycle). An existing name of another type is a conflict.
 * @param[out] out the collection as reg_collections_list shows it.
 * @return ERR_OK; ERR_INVALID naming the field; ERR_CONFLICT; ERR_NOT_FOUND naming a child.
 */
NODISCARD enum err reg_collection_put(
    struct reg *r, const json_t *doc, bool *created, json_t **out, struct err_info *ei);

/**
 * Collections whose name matches @p glob ('*' and '?', NULL = all) and whose type is
 * @p type (NULL = any): {"items":[{"name","type","doc","children":[...] (CHAINED),
 * "flattened":[...] when @p flatten (CHAINED), "datasets":n (RUN)}]}.
 */
NODISCARD enum err reg_collections_list(struct reg *r,
                                        const char *glob,
                                        const char *type,
                                        bool flatten,
                                        json_t **out,
                                        struct err_info *ei);

/**
 * Register datasets in one transaction: {"run","dataset_type","datasets":[{"id"? (a UUID,
 * else one is made), "data_id":{...} (exactly the type's dimensions), "files"?:[{"uri",
 * "size"?,"checksum"?,"component"?}], "provenance"?:{"job_id"?,"software_version"?,
 * "parameters_digest"?,"inputs"?:[uuid],"references"?:[uuid]}}]}. The RUN is created when
 * missing. @param[out] out {"run","dataset_type","ids":[...]} in the order given.
 * @return ERR_OK; ERR_INVALID naming the field (a data ID outside the type's dimensions,
 *         a dimension record that does not exist, an unknown input); ERR_CONFLICT (the run
 *         already has that type and data ID, or the run name is another type's);
 *         ERR_NOT_FOUND naming the dataset type.
 */
NODISCARD enum err
reg_datasets_register(struct reg *r, const json_t *doc, json_t **out, struct err_info *ei);

/**
 * What one pipeline job registers, in ONE transaction (all or nothing): dimension records
 * (reg_dimensions_put's document, inserted when missing) and up to 64 registrations
 * (reg_datasets_register's documents, one dataset type each, in order: a dataset's
 * provenance inputs may be datasets of an earlier registration of the same call, given
 * with their "id"). The dataset types must exist (reg_dataset_type_put).
 * {"job_id"?,"dimensions"?:{...},"registrations":[{"run","dataset_type","datasets":[...]}]}.
 * With "job_id" (the datasets' provenance job), datasets of that job already in the first
 * registration's run (an earlier attempt committed, then died before the job was marked
 * done) make the call write nothing and answer those, "already": true.
 * @param[out] out {"dimensions":{...},"registrations":[{"run","dataset_type","ids"}],
 *                 "already"?:true}.
 * @return as reg_datasets_register, messages prefixed "registrations[i]: "; ERR_UNAVAILABLE
 *         when the database is unreachable (worth retrying).
 */
NODISCARD enum err
reg_register_job(struct reg *r, const json_t *doc, json_t **out, struct err_info *ei);

/**
 * Add datasets to a TAGGED collection (created when missing), or take them out with
 * "disassociate": {"collection","datasets":[uuid],"disassociate"?:bool}. A TAGGED collection
 * holds one dataset per type and data ID. @param[out] out {"collection","associated":n} or
 * {"collection","disassociated":n}.
 * @return ERR_OK; ERR_INVALID naming the field (not TAGGED, an unknown dataset);
 *         ERR_CONFLICT naming the dataset already tagged with that type and data ID.
 */
NODISCARD enum err
reg_associate(struct reg *r, const json_t *doc, json_t **out, struct err_info *ei);

/** A dataset query. */
struct reg_query {
    const char *type;               /* dataset type name (required) */
    const char *const *collections; /* search path, in order */
    size_t ncollections;            /* 1..REG_COLLECTIONS_MAX */
    const char *where;              /* WHERE expression or NULL */
    bool find_first;                /* one dataset per data ID: the first in the path;
                                       CALIBRATION collections are skipped (no time) */
    int limit;                      /* 1..REG_QUERY_LIMIT_MAX, 0 = the default */
};

/**
 * {"items":[{"id","dataset_type","run","collection","data_id","validity"? ,"files"}],
 *  "truncated":bool}, by data ID then search order.
 * @return ERR_OK; ERR_PARSE naming the unknown dataset type (field "type"), collection
 *         (field "collections") or the WHERE problem (field "where").
 */
NODISCARD enum err
reg_datasets_query(struct reg *r, const struct reg_query *q, json_t **out, struct err_info *ei);

/**
 * One dataset with its files, provenance and the datasets it was made from ("parents") and
 * that were made from it ("children"), each {"id","dataset_type","run","data_id","role"}.
 * @return ERR_OK; ERR_INVALID (not a UUID, field "id"); ERR_NOT_FOUND.
 */
NODISCARD enum err
reg_dataset_get(struct reg *r, const char *id, json_t **out, struct err_info *ei);

/**
 * Remove RUN collections with their datasets (and their certifications, tags, file records).
 * A dataset of one of them that is an input of a dataset outside them refuses the removal
 * (ERR_CONFLICT naming both) unless @p force, which drops those provenance links.
 * @param[out] out {"removed":[names],"datasets":n}.
 * @return ERR_OK; ERR_NOT_FOUND naming a run; ERR_INVALID (a name that is not a RUN);
 *         ERR_CONFLICT.
 */
NODISCARD enum err reg_remove_runs(struct reg *r,
                                   const char *const *runs,
                                   size_t nruns,
                                   bool force,
                                   json_t **out,
                                   struct err_info *ei);

/**
 * Certify calibration datasets into a CALIBRATION collection (created when missing) over
 * [begin, end) (either may be absent: unbounded): {"collection","dataset_type","begin"?,
 * "end"?, "datasets":[uuid] | "input_collection":name (every dataset of the type found in
 * it, find-first)}. @param[out] out {"collection","certified":n,"begin","end"}.
 * @return ERR_OK; ERR_CONFLICT naming the dataset already certified over an overlapping
 *         range, and that range; ERR_INVALID naming the field (a type that is not a
 *         calibration, a dataset of another type, begin >= end).
 */
NODISCARD enum err reg_certify(struct reg *r, const json_t *doc, json_t **out, struct err_info *ei);

/**
 * Clear [begin, end) in a CALIBRATION collection for a type, for every data ID or only those
 * of "data_ids": ranges inside the window go, ranges across one of its ends are trimmed, a
 * range around the window is split in two. {"collection","dataset_type","begin"?,"end"?,
 * "data_ids"?:[{...}]}. @param[out] out {"removed":n,"trimmed":n,"split":n}.
 */
NODISCARD enum err
reg_decertify(struct reg *r, const json_t *doc, json_t **out, struct err_info *ei);

/** A calibration lookup. */
struct reg_lookup {
    const char *type;               /* calibration dataset type */
    const char *const *collections; /* search path */
    size_t ncollections;
    const json_t *data_id;   /* must hold the type's dimensions; with "exposure" (and
                                "instrument") the exposure's time span is used */
    const char *begin, *end; /* the time span when no exposure is given */
};

/**
 * The calibration dataset valid for a data ID and time span: the first collection of the
 * search path with a match wins (a CALIBRATION collection matches by validity overlapping
 * the span, a RUN or TAGGED one by data ID alone; one dataset valid over two ranges that
 * both overlap is one answer, its earliest range shown). {"id","dataset_type","collection","run",
 * "data_id","validity":{"begin","end"},"files"}.
 * @return ERR_OK; ERR_NOT_FOUND naming what was looked for; ERR_CONFLICT when two
 *         calibrations overlap the span in the same collection (ambiguous: both named with
 *         their ranges); ERR_PARSE naming an unknown type, collection or a missing
 *         dimension.
 */
NODISCARD enum err
reg_calib_lookup(struct reg *r, const struct reg_lookup *q, json_t **out, struct err_info *ei);

#endif
