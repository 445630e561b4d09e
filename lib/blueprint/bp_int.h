/* bp_int.h - internals shared by lib/blueprint sources (expressions, lookup tables); include
 * only from lib/blueprint.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_BLUEPRINT_BP_INT_H
#define OBSFLOW_BLUEPRINT_BP_INT_H

#include "blueprint/blueprint.h"

#define BP_VAR_PREFIX "let:" /* rule key prefix of a let variable */
#define BP_MAX_VARS   256    /* distinct let variable names per blueprint */

struct bp_table;

/**
 * Compile expression @p text of rule @p key (file @p file, line @p line, for messages) for
 * blueprint @p owner: bare names that are let variables of @p owner (defined before) become
 * variable references, other bare names keyword references. ERR_PARSE naming file, line and
 * rule with the column; ERR_NOMEM.
 */
NODISCARD enum err bpx_compile(const struct bp *owner, const char *text, const char *file,
                               int line, const char *key, struct bp_expr **out,
                               struct err_info *ei);

/** Destroy; NULL is a no-op. */
void bpx_free(struct bp_expr *x);

/** Evaluate a BP_EXPR rule (bp_eval_explain's contract). */
NODISCARD enum err bpx_eval(const struct bp_rule *r, const struct bp_keys *k, char *out,
                            size_t cap, bool *found, struct bp_explain *ex,
                            struct err_info *ei);

/* owner blueprint queries for the evaluator (blueprint.c) */
bool bp__has_var(const struct bp *b, const char *name);
const struct bp_table *bp__table(const struct bp *b, const char *name);

/**
 * Load a lookup table (CSV: a header row of column names, the first column the key; '#' lines
 * and blank lines skipped; "..." quoting with "" for a quote. A path ending in .yaml or .yml:
 * a list of mappings whose first field is the key, or a mapping of key -> mapping, read with
 * lib/yaml; README.md "Lookup tables"). Keys with '*', '?' or '[' are fnmatch patterns, tried
 * after every exact key, in file order.
 */
NODISCARD enum err bpt_load(const char *name, const char *path, struct bp_table **out,
                            struct err_info *ei);
/** A YAML table from text in memory (@p file names it in messages; the fuzz target). */
NODISCARD enum err bpt_yaml_text(const char *name, const char *file, const char *text,
                                 size_t len, struct bp_table **out, struct err_info *ei);
void bpt_free(struct bp_table *t);
const char *bpt_name(const struct bp_table *t);
const char *bpt_file(const struct bp_table *t);

/**
 * The cell of column @p col in the row whose key is @p key. ERR_NOT_FOUND when no row matches
 * (*@p cell NULL); ERR_INVALID when the column does not exist. An empty cell is "" .
 */
NODISCARD enum err bpt_get(const struct bp_table *t, const char *key, const char *col,
                           const char **cell);

#endif
