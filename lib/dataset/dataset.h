/* dataset.h - what a dataset name says: HST ipppssoot, SVM and MVM names (instrument from the
 * first letter, the raw suffixes CALDP fetches per instrument), and other collections through a
 * configured POSIX extended regular expression with named groups ("(?<instrument>...)").
 * Thread-safe: parsing is pure; a compiled rule may be shared for matching.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_DATASET_H
#define OBSFLOW_DATASET_H

#include "core/compiler.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

#define DATASET_NAME_MAX     64  /* longest dataset name accepted, bytes including NUL */
#define DATASET_SUFFIX_MAX   16  /* most raw suffixes of one instrument */
#define DATASET_FIELDS_MAX   16  /* most named groups in one configured rule */
#define DATASET_FIELD_LEN    128 /* longest captured group value, bytes including NUL */

/** The kind of name, as CALDP's get_dataset_type tells them apart. */
enum dataset_kind {
    DATASET_IPST = 0, /* HST ipppssoot, e.g. j8bt05njq */
    DATASET_SVM,      /* single-visit mosaic, e.g. acs_8ph_01 */
    DATASET_MVM,      /* multi-visit mosaic, e.g. skycell-p1234x05y06 */
    DATASET_OTHER     /* matched by a configured rule */
};

/** What a name means; all fields are values, nothing to free. */
struct dataset_info {
    enum dataset_kind kind;             /* which form the name has */
    char name[DATASET_NAME_MAX];        /* the name, lower case for HST forms */
    char instrument[32];                /* "acs", "wfc3", "stis", "cos", "wfpc2", ... */
    char obsset[16];                    /* SVM obs-set ("j8ph01"); first 6 chars for ipst; "" */
    bool processable;                   /* a processing manager exists (CALDP MANAGERS) */
    size_t n_suffixes;                  /* entries used in suffixes[] */
    const char *suffixes[DATASET_SUFFIX_MAX]; /* raw suffixes to fetch ("asn", "raw"); static */
};

/**
 * Parse an HST dataset name (ipppssoot, SVM or MVM).
 * @param[in]  name  the dataset name (borrowed)
 * @param[out] out   filled on success only
 * @param[out] ei    detail on failure (may be NULL)
 * @return ERR_OK; ERR_INVALID for a name of none of the three forms or an unknown
 *         instrument letter (the message says which).
 */
NODISCARD enum err dataset_parse_hst(const char *name, struct dataset_info *out,
                                     struct err_info *ei);

/** Instrument name for an HST instrument letter (case-insensitive), or NULL. */
const char *dataset_hst_instrument(char letter);

/** Named captures of a configured rule. */
struct dataset_fields {
    size_t n;                                  /* captures present */
    char name[DATASET_FIELDS_MAX][32];         /* group names */
    char value[DATASET_FIELDS_MAX][DATASET_FIELD_LEN]; /* captured text ("" if unmatched) */
};

/** A compiled rule for one collection (opaque). */
struct dataset_rule;

/**
 * Compile @p pattern, a POSIX extended regular expression in which groups may be named as
 * "(?<name>...)". The whole name must match (the pattern is anchored for you).
 * @param[in]  collection collection the rule belongs to (copied)
 * @param[in]  pattern    the expression (copied)
 * @param[out] out        the rule (owned; dataset_rule_destroy) on success
 * @return ERR_OK; ERR_INVALID for a bad expression or group name, ERR_TOO_LARGE for too many
 *         groups, ERR_NOMEM.
 */
NODISCARD enum err dataset_rule_create(const char *collection, const char *pattern,
                                       struct dataset_rule **out, struct err_info *ei);

/** Free @p r; NULL is a no-op. */
void dataset_rule_destroy(struct dataset_rule *r);

/** Collection name of @p r (borrowed for the rule's lifetime). */
const char *dataset_rule_collection(const struct dataset_rule *r);

/**
 * Match @p name against @p r.
 * @param[out] fields named captures on success (may be NULL)
 * @param[out] info   DATASET_OTHER info on success (may be NULL): instrument from a group
 *                    named "instrument" when there is one, processable=true, no suffixes
 * @return ERR_OK; ERR_INVALID when the name does not match (message names the pattern),
 *         ERR_TOO_LARGE when a capture is longer than DATASET_FIELD_LEN.
 */
NODISCARD enum err dataset_rule_match(const struct dataset_rule *r, const char *name,
                                      struct dataset_fields *fields, struct dataset_info *info,
                                      struct err_info *ei);

/** Value of the capture named @p name in @p f, or NULL. */
const char *dataset_fields_get(const struct dataset_fields *f, const char *name);

#endif
