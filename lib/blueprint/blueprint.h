/* blueprint.h - fits2caom2 blueprints: which FITS keywords, defaults, literals or built-in
 * functions give each CAOM element. Parses the caom2utils blueprint file syntax
 * ("<element> = ['KW1', 'KW2'], default = X", literals, None, "extension N:" sections,
 * "Chunk = include|{ignore}", "func(args)"), holds the default blueprint and the per-axis
 * configuration (caom2.md 3.1), and evaluates a rule against a keyword accessor.
 * The built-in functions are documented in lib/blueprint/README.md.
 * Threading: a blueprint is not thread-safe while it is being changed; once built it may be
 * read (bp_get, bp_eval) from many threads.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_BLUEPRINT_BLUEPRINT_H
#define OBSFLOW_BLUEPRINT_BLUEPRINT_H

#include "core/compiler.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

#define BP_MAX_RULES     4096        /* rules per blueprint (all extensions) */
#define BP_MAX_KEYWORDS  32          /* keywords in one lookup / arguments in one call */
#define BP_MAX_FILE      (1u << 20)  /* blueprint file size */
#define BP_MAX_EXTENSION 999         /* highest "extension N:" */
#define BP_VALUE_MAX     16384       /* an evaluated value, with terminator */
#define BP_ARG_MAX       256         /* a quoted function argument, with terminator */
#define BP_EXPR_NODES    1024        /* nodes of one compiled expression */
#define BP_EXPR_DEPTH    64          /* nesting of one expression and of let variables */
#define BP_MAX_TABLES    64          /* lookup tables per blueprint */
#define BP_TABLE_ROWS    100000      /* rows per lookup table */
#define BP_TABLE_COLS    64          /* columns per lookup table */

enum bp_kind {
    BP_LOOKUP = 1, /* keywords in order, first non-empty wins, else default (may be NULL) */
    BP_LITERAL,    /* a constant */
    BP_UNSET,      /* None: explicitly no value */
    BP_FUNC,       /* a named built-in function with arguments */
    BP_EXPR,       /* an expression ("<element> := expr", "let name = expr"; README.md) */
};

struct bp_expr;

/** One rule (a value record). Strings are owned by the blueprint. */
struct bp_rule {
    char *key;                /* element path, e.g. "Chunk.energy.specsys", or "Header.KW" */
    enum bp_kind kind;        /* how the value is found */
    char **keywords;          /* LOOKUP: keywords; FUNC: argument tokens (quoted = literal) */
    size_t nkeywords;         /* number of keywords / arguments */
    char *deflt;              /* LOOKUP default, NULL for None */
    char *literal;            /* LITERAL value; EXPR: the expression text */
    struct bp_expr *expr;     /* EXPR: the compiled expression */
    char *func;               /* FUNC name */
    int extension;            /* HDU the rule applies to, -1 for every HDU */
    char *artifact;           /* artifact URI the rule applies to ("artifact URI:" section), or
                                 NULL for every artifact */
    bool user;                /* from a file or bp_set_* (false: default blueprint, configure) */
    char *file;               /* origin file ("" for built-in rules) */
    int line;                 /* origin line (0 for built-in rules) */
};

struct bp;

/** A new blueprint holding the default blueprint (caom2.md 3.1). @p out owned. */
NODISCARD enum err bp_new(struct bp **out, struct err_info *ei);

/** Destroy; NULL is a no-op. */
void bp_free(struct bp *b);

/**
 * Add the rules of a blueprint file (later rules replace earlier ones for the same element and
 * extension). An unrecognized element, a malformed line, an unknown function name, a bad
 * "extension N:" or a non-chunk element inside an extension is ERR_PARSE naming the file and
 * line. On failure the blueprint may hold the rules read before the bad line.
 */
NODISCARD enum err bp_load_file(struct bp *b, const char *path, struct err_info *ei);

/** As bp_load_file, for text in memory; @p name is used in messages. */
NODISCARD enum err bp_load_text(struct bp *b, const char *name, const char *text, size_t len,
                                struct err_info *ei);

/**
 * As bp_load_text; relative lookup table paths ("table NAME = 'file.csv'") are read from
 * directory @p dir (NULL: they are an error, as with bp_load_text).
 */
NODISCARD enum err bp_load_text_dir(struct bp *b, const char *name, const char *dir,
                                    const char *text, size_t len, struct err_info *ei);

/** Set a literal (user rule). @p extension -1 for every HDU. ERR_INVALID for an unknown key. */
NODISCARD enum err bp_set_literal(struct bp *b, const char *key, const char *value,
                                  int extension, struct err_info *ei);

/** Set a keyword lookup (user rule). */
NODISCARD enum err bp_set_lookup(struct bp *b, const char *key, const char *const *keywords,
                                 size_t n, const char *deflt, int extension, struct err_info *ei);

/**
 * The rule for @p key in HDU @p hdu: the extension-specific rule if any, else the rule for
 * every HDU, else NULL. Borrowed until the blueprint changes.
 */
const struct bp_rule *bp_get(const struct bp *b, const char *key, int hdu);

/**
 * As bp_get for HDU @p hdu of the artifact @p uri (may be NULL): rules of an "artifact URI:"
 * section first (extension-specific, then every HDU), then the rules for every artifact.
 */
const struct bp_rule *bp_get_art(const struct bp *b, const char *key, int hdu, const char *uri);

/** Number of rules and the i-th one (for listing / "Header." overrides). */
size_t bp_rule_count(const struct bp *b);
const struct bp_rule *bp_rule_at(const struct bp *b, size_t i);

/** True if @p key is a blueprint element (or a "Header.<KEYWORD>" override). */
bool bp_is_element(const char *key);

/** True if any rule names a key starting with @p prefix (e.g. "DerivedObservation."). */
bool bp_has_prefix(const struct bp *b, const char *prefix);

/* Per-axis configuration (caom2utils configure_*_axis): add the keyword lookups for the axis
 * index unless a user rule already names the element. Indices are 1-based. */
NODISCARD enum err bp_configure_position(struct bp *b, int i, int j, struct err_info *ei);
NODISCARD enum err bp_configure_energy(struct bp *b, int i, struct err_info *ei);
NODISCARD enum err bp_configure_time(struct bp *b, int i, struct err_info *ei);
NODISCARD enum err bp_configure_polarization(struct bp *b, int i, struct err_info *ei);
NODISCARD enum err bp_configure_observable(struct bp *b, int i, struct err_info *ei);
NODISCARD enum err bp_configure_custom(struct bp *b, int i, struct err_info *ei);

/**
 * Values of let variables computed while one document is built, so a variable several rules use
 * is computed once per HDU and artifact (keyed by rule, HDU and artifact URI: use one cache per
 * set of input files). Not thread-safe; at most 4096 values are kept (then they are recomputed).
 */
struct bp_varcache;
NODISCARD enum err bp_varcache_new(struct bp_varcache **out);
void bp_varcache_free(struct bp_varcache *c); /* NULL is a no-op */

/** Raw keyword values for evaluation: the string form of @p key, or NULL when absent. */
struct bp_keys {
    const void *ctx;                                    /* passed back */
    const char *(*get)(const void *ctx, const char *key); /* borrowed value or NULL */
    /* optional (NULL: expressions that need them yield no value) */
    const char *(*get_hdu)(const void *ctx, const char *key, int hdu); /* keyword of HDU hdu */
    const char *(*name)(const void *ctx, const char *what); /* "obs_id", "product_id",
                                                "file_id", "file_name", "artifact_uri" */
    /* card @p i of the HDU being mapped, in header order: its keyword and value (after the
     * blueprint's Header. rules); false past the last card (family()) */
    bool (*card)(const void *ctx, size_t i, const char **key, const char **value);
    int hdu;                 /* the HDU being mapped (rule scoping of let variables) */
    const char *uri;         /* the artifact being mapped, or NULL */
    struct bp_varcache *vars; /* NULL: variables are computed at each use */
};

/** Explanation of one evaluation: the rules that yielded no value (BP_EXPLAIN_MAX kept). */
#define BP_EXPLAIN_MAX 64
struct bp_explain {
    const struct bp_rule *none[BP_EXPLAIN_MAX]; /* rules (the evaluated one or let variables it
                                                   used) that yielded no value */
    size_t n;
};

/**
 * Evaluate @p r against @p k into @p out (capacity @p cap). *@p found is false when the rule
 * yields nothing (no keyword present and no default, or None). ERR_INVALID naming the file and
 * line of the rule when a function cannot compute its value from present inputs (e.g. a
 * date that is not a date); ERR_TOO_LARGE when the value does not fit.
 */
NODISCARD enum err bp_eval(const struct bp_rule *r, const struct bp_keys *k, char *out,
                           size_t cap, bool *found, struct err_info *ei);

/**
 * As bp_eval; when @p ex is not NULL, the rule and every let variable it used that yielded no
 * value are appended to it (what `obsflow caom --explain` lists).
 */
NODISCARD enum err bp_eval_explain(const struct bp_rule *r, const struct bp_keys *k, char *out,
                                   size_t cap, bool *found, struct bp_explain *ex,
                                   struct err_info *ei);

/** True if @p name is a built-in function. */
bool bp_is_function(const char *name);

/** Write the blueprint in file syntax (for --dump); returns a malloc'd string or NULL. */
NODISCARD char *bp_to_text(const struct bp *b);

#endif
