/* f2c_int.h - internals shared by lib/fits2caom sources; include only from lib/fits2caom.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_FITS2CAOM_F2C_INT_H
#define OBSFLOW_FITS2CAOM_F2C_INT_H

#include "fits2caom/fits2caom.h"

#include <stdlib.h>

/* return the status of @p x when it is not ERR_OK (for functions holding no resources) */
#define TRY(x)                                                                                     \
    do {                                                                                           \
        enum err e_ = (x);                                                                         \
        if (e_ != ERR_OK) {                                                                        \
            return e_;                                                                             \
        }                                                                                          \
    } while (0)

/* allocate the optional object @p p (zeroed) unless present; out of memory returns ERR_NOMEM
 * through the caller's `ei` */
#define NEW(p)                                                                                     \
    do {                                                                                           \
        if (!(p)) {                                                                                \
            (p) = calloc(1, sizeof *(p));                                                          \
            if (!(p)) {                                                                            \
                return err_set(ei, ERR_NOMEM, "out of memory");                                    \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* Values of "Header.<KW> := expression" rules, computed once per rule and HDU during one
 * f2c_build (the keyword accessor hands out borrowed strings). */
#define F2C_MEMO_MAX 4096
struct f2c_memo_ent {
    const struct bp_rule *r;
    const struct fhdr_hdu *h;
    char *val;   /* NULL: no value */
    bool busy;   /* being computed: the rule's own keyword reads the header */
};
struct f2c_memo {
    struct f2c_memo_ent *e;
    size_t n, cap;
    enum err err;            /* the first error met while computing a value */
    struct err_info ei;
};

/* Where values are being looked up: for messages and for the keyword accessor. */
struct f2c_ctx {
    const char *file;            /* file name for messages */
    int hdu;                     /* HDU index */
    const struct fhdr_hdu *h;    /* the header */
    const struct bp *bp;         /* the blueprint */
    bool overrides;              /* the blueprint has Header.<KW> rules */
    const char *uri;             /* the artifact being built (NULL for observation values) */
    const struct fhdr_file *hf;  /* the file (header('KW', n) of another HDU) */
    const struct f2c_names *sn;  /* StorageName identities of the file */
    const char *obs_id;          /* the observation's identities once known, else NULL */
    const char *product_id;
    struct f2c_memo *memo;       /* Header expression values */
    struct bp_varcache *vars;    /* let variable values of this build */
    const struct f2c_opts *opts; /* explain hook */
};

/* The accessor for bp_eval over a context. */
void f2c__keys(const struct f2c_ctx *c, struct bp_keys *k);

/* Evaluate @p r for context @p c, reporting it to the explain hook; a Header expression error
 * met meanwhile is returned too. */
NODISCARD enum err f2c__eval_rule(const struct f2c_ctx *c, const struct bp_rule *r, char *out,
                                  size_t cap, bool *found, struct err_info *ei);

NODISCARD enum err f2c__bad(struct err_info *ei, const struct f2c_ctx *c, const char *key,
                            const char *what, const char *value);
NODISCARD enum err f2c__str(char **dst, const char *v, struct err_info *ei);
NODISCARD enum err f2c__dbl(const struct f2c_ctx *c, const char *key, const char *v, double *out,
                            struct err_info *ei);
NODISCARD enum err f2c__optd(const struct f2c_ctx *c, const char *key, const char *v,
                             struct caom_optd *o, struct err_info *ei);
NODISCARD enum err f2c__long(const struct f2c_ctx *c, const char *key, const char *v,
                             int64_t *out, struct err_info *ei);
NODISCARD enum err f2c__opti(const struct f2c_ctx *c, const char *key, const char *v,
                             struct caom_opti *o, struct err_info *ei);
NODISCARD enum err f2c__date(const struct f2c_ctx *c, const char *key, const char *v,
                             struct caom_optdate *o, struct err_info *ei);
NODISCARD enum err f2c__bool(const struct f2c_ctx *c, const char *key, const char *v,
                             enum caom_bool *o, struct err_info *ei);
NODISCARD enum err f2c__list(const char *v, bool blanks_split, struct caom_strlist *l,
                             struct err_info *ei);

/* Build the chunk of one HDU (NULL *out when the HDU gets no chunk). */
NODISCARD enum err f2c__chunk(const struct f2c_ctx *c, struct caom_chunk **out,
                              struct err_info *ei);

/* Keyword accessors over a context (header + Header.<KW> overrides). */
const char *f2c__get(const void *ctx, const char *key);
bool f2c__get_double(const void *ctx, const char *key, double *out);

#endif
