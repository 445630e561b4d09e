/* reg_int.h - internals shared by the files of lib/registry; not a public header.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_REGISTRY_REG_INT_H
#define OBSFLOW_REGISTRY_REG_INT_H

#include "registry/registry.h"

#include <pthread.h>

#define REG__ACQUIRE_MS 10000
#define REG__DIMS_MAX   4 /* the universe: instrument, detector, exposure, physical_filter */
#define REG__NAME_MAX   128

/** A dataset type as stored. */
struct reg__type {
    char id[16];
    char name[72];
    const char *dims[REG__DIMS_MAX + 1]; /* static names, NULL-terminated, sorted */
    size_t ndims;
    bool is_calibration;
};

#define REG__TYPE_CACHE 256 /* dataset types remembered per handle (never changed once made) */

struct reg {
    struct db_pool *pool;
    pthread_mutex_t mu;      /* guards the cache */
    struct reg__type *types; /* REG__TYPE_CACHE entries, ntypes used */
    size_t ntypes;
};


/** reg__type_get through the handle's cache: a dataset type's definition never changes once
 * registered (a different one is refused) and types are never removed. */
NODISCARD enum err reg__type_cached(struct reg *r,
                                    struct db_conn *c,
                                    const char *name,
                                    const char *field,
                                    struct reg__type *t,
                                    struct err_info *ei);

/** Is @p dim one of the universe's dimensions? Returns its static name or NULL. */
const char *reg__dim_name(const char *dim);

/** Load the type @p name on @p c. @return ERR_OK; ERR_NOT_FOUND (field @p field). */
NODISCARD enum err reg__type_get(struct db_conn *c,
                                 const char *name,
                                 const char *field,
                                 struct reg__type *t,
                                 struct err_info *ei);

/**
 * Canonical data ID of type @p t from @p in: values typed (instrument and physical_filter
 * strings, detector and exposure non-negative integers; numeric strings accepted), keys
 * exactly the type's dimensions when @p exact, else the type's dimensions picked out of a
 * larger data ID. @param[out] out owned object. @return ERR_OK; ERR_INVALID naming
 * @p field ".dim".
 */
NODISCARD enum err reg__data_id(const struct reg__type *t,
                                const json_t *in,
                                bool exact,
                                const char *field,
                                json_t **out,
                                struct err_info *ei);

/** JSON text of a collection name list for $n::text[] (a PostgreSQL array literal). */
NODISCARD enum err reg__text_array(const char *const *v, size_t n, char **out, struct err_info *ei);

/** Check that every name of @p arr exists as a collection; ERR_PARSE naming the first that
 * does not (field @p field). */
NODISCARD enum err
reg__collections_exist(struct db_conn *c, const char *arr, const char *field, struct err_info *ei);

/** The recursive CTE that flattens the search path $1::text[] into flat(id, type, r): every
 * non-chained collection reached, r its position in the path (int[]; compare to order). */
extern const char reg__flat_cte[];

/** Dimension records checked and sorted by key (reg_dimensions_put's request): three JSON
 * arrays (instruments, detectors, exposures; each NULL or text to free). */
NODISCARD enum err reg__dims_prepare(const json_t *doc, char *lists[3], struct err_info *ei);
struct reg__dims_txn {
    const char *inst, *det, *exp; /* JSON arrays, sorted by key */
    json_t *out;                  /* rows inserted per list (set by the body) */
};
/** Insert the records of a reg__dims_txn that are not there yet (a db_txn_fn). */
NODISCARD enum err reg__dims_body(struct db_conn *c, void *arg, struct err_info *ei);

/** Run @p fn in a transaction (db_txn_run on the registry's pool). */
NODISCARD enum err reg__txn(struct reg *r, db_txn_fn fn, void *arg, struct err_info *ei);

/** A valid collection name ([A-Za-z0-9._/-], 1..128). */

/** A UUID in its 8-4-4-4-12 hex text form. */
bool reg__uuid_ok(const char *s);

/** Make a UUIDv7 (time-ordered: kinder to the B-tree) as text (37 bytes). */
void reg__uuid_v7(char out[37]);

/** Parse the JSON text of column 0 of row @p row; ERR_INTERNAL when unreadable. */
NODISCARD enum err
reg__json_col(const struct db_res *res, int row, int col, json_t **out, struct err_info *ei);

#endif
