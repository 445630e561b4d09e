/* yaml.h - the only module that uses libyaml. YAML text becomes a small read-only tree whose
 * nodes keep their source line and column (for messages such as "line 6: rule without match"),
 * or a jansson value (mappings -> objects, sequences -> arrays, typed plain scalars).
 * One document per text; aliases and anchored scalars are refused; size, nesting depth and
 * node count are capped by the caller's limits.
 * Threading: every function is reentrant; a parsed document is read-only and may be shared.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_YAML_YAML_H
#define OBSFLOW_YAML_YAML_H

#include "core/compiler.h"
#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define YAMLX_DEPTH_MAX 64 /* deepest nesting any caller may ask for */

/** Caps of one parse (all required, non-zero). */
struct yamlx_limits {
    size_t max_bytes; /* longest text */
    size_t max_depth; /* deepest nesting of sequences and mappings (<= YAMLX_DEPTH_MAX) */
    size_t max_nodes; /* most parser events (about one per node) */
};

/** A parsed document (opaque) and its nodes (owned by the document). */
struct yamlx_doc;
struct yamlx_node;

enum yamlx_kind {
    YAMLX_SCALAR = 0,
    YAMLX_SEQUENCE,
    YAMLX_MAPPING,
};

/**
 * Parse YAML text into a tree.
 * @param[out] out new document (yamlx_doc_destroy) on success
 * @return ERR_OK; ERR_PARSE "line L column C: <problem>" (syntax, a second document, aliases,
 *         anchored scalars); ERR_TOO_LARGE past @p lim; ERR_NOMEM.
 */
NODISCARD enum err yamlx_doc_parse(const char *text, size_t len, const struct yamlx_limits *lim,
                                   struct yamlx_doc **out, struct err_info *ei);

/** Free a document and all its nodes; NULL is a no-op. */
void yamlx_doc_destroy(struct yamlx_doc *d);

/** The document's top node, NULL for an empty text. */
const struct yamlx_node *yamlx_doc_root(const struct yamlx_doc *d);

enum yamlx_kind yamlx_node_kind(const struct yamlx_node *n);
/** 1-based source line and column where the node starts. */
size_t yamlx_node_line(const struct yamlx_node *n);
size_t yamlx_node_column(const struct yamlx_node *n);

/** A scalar's text (NUL-terminated; may hold NULs within yamlx_scalar_len), NULL when @p n is
 *  NULL or not a scalar. */
const char *yamlx_scalar(const struct yamlx_node *n);
size_t yamlx_scalar_len(const struct yamlx_node *n);
/** True for a plain (unquoted, non-block) scalar. */
bool yamlx_scalar_plain(const struct yamlx_node *n);

/** Items of a sequence or pairs of a mapping (0 for scalars and NULL). */
size_t yamlx_node_size(const struct yamlx_node *n);
/** Item @p i of a sequence (NULL if out of range or not a sequence). */
const struct yamlx_node *yamlx_seq_item(const struct yamlx_node *n, size_t i);
/** Key and value of pair @p i of a mapping (NULL if out of range or not a mapping); keys may be
 *  any node kind, duplicates are kept in document order. */
const struct yamlx_node *yamlx_map_key(const struct yamlx_node *n, size_t i);
const struct yamlx_node *yamlx_map_value(const struct yamlx_node *n, size_t i);

/**
 * Convert a node to JSON (mappings -> objects in document order, sequences -> arrays; plain
 * scalars that read as integers, reals, true/false or null become those types, quoted scalars
 * stay strings; NULL @p n gives null).
 * @param[out] out new reference (json_decref) on success
 * @return ERR_OK; ERR_PARSE "line L column C: ..." for a non-scalar or duplicate key; ERR_NOMEM.
 */
NODISCARD enum err yamlx_node_to_json(const struct yamlx_node *n, json_t **out,
                                      struct err_info *ei);

/** yamlx_doc_parse then yamlx_node_to_json of the root. */
NODISCARD enum err yamlx_json_parse(const char *text, size_t len, const struct yamlx_limits *lim,
                                    json_t **out, struct err_info *ei);

#endif
