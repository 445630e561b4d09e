/* bp_eval.c - rule evaluation and the built-in functions that replace collection code called
 * from Python blueprints (documented in README.md).
 * SPDX-License-Identifier: Apache-2.0 */
#include "blueprint/blueprint.h"

#include "blueprint/bp_int.h"

#include "core/isodate.h"
#include "core/numfmt.h"
#include "core/numparse.h"
#include "core/str.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* an argument token: quoted text or a number is a literal, anything else a keyword */
static const char *arg_value(const char *tok, const struct bp_keys *k, char *tmp, size_t cap)
{
    size_t n = strlen(tok);
    if (n >= 2 && (tok[0] == '\'' || tok[0] == '"') && tok[n - 1] == tok[0]) {
        if (n - 2 >= cap) {
            return NULL;
        }
        memcpy(tmp, tok + 1, n - 2);
        tmp[n - 2] = '\0';
        return tmp;
    }
    double d;
    if (numparse_double(tok, &d) == ERR_OK) {
        return tok;
    }
    const char *v = k->get(k->ctx, tok);
    return (v && *v) ? v : NULL;
}

static enum err put(char *out, size_t cap, const char *s)
{
    return str_copy(out, cap, s) ? ERR_OK : ERR_TOO_LARGE;
}

static enum err put_num(char *out, size_t cap, double v)
{
    char t[32];
    numfmt_g17(v, t); /* "%.17g" */
    return put(out, cap, t);
}

static enum err fn_fail(const struct bp_rule *r, struct err_info *ei, const char *why,
                        const char *val)
{
    return err_set_field(ei, ERR_INVALID, r->key, "blueprint \"%s\" line %d: %s(): %s: \"%s\"",
                         r->file, r->line, r->func, why, val ? val : "");
}

typedef enum err (*bp_fn)(const struct bp_rule *r, const char *const *av, size_t n, char *out,
                          size_t cap, struct err_info *ei);

static enum err need_num(const struct bp_rule *r, const char *s, double *d, struct err_info *ei)
{
    if (numparse_double(s, d) != ERR_OK || !isfinite(*d)) {
        return fn_fail(r, ei, "not a number", s);
    }
    return ERR_OK;
}

/* the first two arguments as finite numbers */
static enum err need_two(const struct bp_rule *r, const char *const *av, double *a, double *b,
                         struct err_info *ei)
{
    enum err e = need_num(r, av[0], a, ei);
    return e != ERR_OK ? e : need_num(r, av[1], b, ei);
}

static enum err f_mjd(const struct bp_rule *r, const char *const *av, size_t n, char *out,
                      size_t cap, struct err_info *ei)
{
    double mjd;
    double extra = 0.0;
    if (!isodate_to_mjd(av[0], &mjd)) {
        return fn_fail(r, ei, "not a date", av[0]);
    }
    if (n > 1) {
        enum err e = need_num(r, av[1], &extra, ei);
        if (e != ERR_OK) {
            return e;
        }
    }
    return put_num(out, cap, mjd + extra / 86400.0);
}

/* the product (scale) or the sum (add) of every argument, in argument order */
static enum err fold(const struct bp_rule *r, const char *const *av, size_t n, bool product,
                     char *out, size_t cap, struct err_info *ei)
{
    double v = product ? 1.0 : 0.0;
    for (size_t i = 0; i < n; i++) {
        double d;
        enum err e = need_num(r, av[i], &d, ei);
        if (e != ERR_OK) {
            return e;
        }
        v = product ? v * d : v + d;
    }
    return put_num(out, cap, v);
}

static enum err f_scale(const struct bp_rule *r, const char *const *av, size_t n, char *out,
                        size_t cap, struct err_info *ei)
{
    return fold(r, av, n, true, out, cap, ei);
}

/* beam(BMAJ, BMIN): circular-equivalent beam in arcsec, 3600 * sqrt(BMAJ * BMIN) (degrees in) */
static enum err f_beam(const struct bp_rule *r, const char *const *av, size_t n, char *out,
                       size_t cap, struct err_info *ei)
{
    double a, b;
    enum err e = need_two(r, av, &a, &b, ei);
    (void)n;
    if (e != ERR_OK) {
        return e;
    }
    if (a < 0.0 || b < 0.0) {
        return fn_fail(r, ei, "negative beam size", a < 0.0 ? av[0] : av[1]);
    }
    return put_num(out, cap, 3600.0 * sqrt(a * b));
}

static enum err f_div(const struct bp_rule *r, const char *const *av, size_t n, char *out,
                      size_t cap, struct err_info *ei)
{
    double a, b;
    enum err e = need_two(r, av, &a, &b, ei);
    (void)n;
    if (e != ERR_OK) {
        return e;
    }
    if (b == 0.0) {
        return fn_fail(r, ei, "division by zero", av[1]);
    }
    return put_num(out, cap, a / b);
}

static enum err f_add(const struct bp_rule *r, const char *const *av, size_t n, char *out,
                      size_t cap, struct err_info *ei)
{
    return fold(r, av, n, false, out, cap, ei);
}

static enum err f_concat(const struct bp_rule *r, const char *const *av, size_t n, char *out,
                         size_t cap, struct err_info *ei)
{
    size_t len = 0;
    (void)r;
    (void)ei;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(av[i]);
        if (len + l >= cap) {
            return ERR_TOO_LARGE;
        }
        memcpy(out + len, av[i], l + 1);
        len += l;
    }
    return ERR_OK;
}

static enum err f_case(const char *s, char *out, size_t cap, int upper)
{
    if (put(out, cap, s) != ERR_OK) {
        return ERR_TOO_LARGE;
    }
    for (char *p = out; *p; p++) {
        *p = (char)(upper ? toupper((unsigned char)*p) : tolower((unsigned char)*p));
    }
    return ERR_OK;
}

static enum err f_lower(const struct bp_rule *r, const char *const *av, size_t n, char *out,
                        size_t cap, struct err_info *ei)
{
    (void)r, (void)n, (void)ei;
    return f_case(av[0], out, cap, 0);
}

static enum err f_upper(const struct bp_rule *r, const char *const *av, size_t n, char *out,
                        size_t cap, struct err_info *ei)
{
    (void)r, (void)n, (void)ei;
    return f_case(av[0], out, cap, 1);
}

/* iso_date(KW): a date in any accepted form, written as yyyy-mm-ddThh:mm:ss.sss */
static enum err f_iso_date(const struct bp_rule *r, const char *const *av, size_t n, char *out,
                           size_t cap, struct err_info *ei)
{
    double mjd;
    (void)n;
    if (!isodate_to_mjd(av[0], &mjd)) {
        return fn_fail(r, ei, "not a date", av[0]);
    }
    double days = floor(mjd);
    double ms = floor((mjd - days) * 86400000.0 + 0.5);
    long z = (long)days - 40587 + 719468; /* civil from days (1970 epoch shifted) */
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long y = yoe + era * 400;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    long d = doy - (153 * mp + 2) / 5 + 1;
    long m = mp + (mp < 10 ? 3 : -9);
    y += m <= 2;
    long t = (long)ms;
    int k = snprintf(out, cap, "%04ld-%02ld-%02ldT%02ld:%02ld:%02ld.%03ld", y, m, d, t / 3600000,
                     (t / 60000) % 60, (t / 1000) % 60, t % 1000);
    return (k < 0 || (size_t)k >= cap) ? ERR_TOO_LARGE : ERR_OK;
}

static enum err f_first(const struct bp_rule *r, const char *const *av, size_t n, char *out,
                        size_t cap, struct err_info *ei)
{
    (void)r, (void)n, (void)ei;
    return put(out, cap, av[0]);
}

struct fn_def {
    const char *name;  /* built-in name */
    size_t min, max;   /* argument count */
    bool any;          /* true: arguments are alternatives (the first present wins) */
    bp_fn fn;
};

static const struct fn_def k_fns[] = {
    {"mjd", 1, 2, false, f_mjd},           {"scale", 2, 2, false, f_scale},
    {"div", 2, 2, false, f_div},           {"beam", 2, 2, false, f_beam},           {"add", 2, BP_MAX_KEYWORDS, false, f_add},
    {"concat", 1, BP_MAX_KEYWORDS, false, f_concat},
    {"lower", 1, 1, false, f_lower},       {"upper", 1, 1, false, f_upper},
    {"iso_date", 1, 1, false, f_iso_date}, {"first", 1, BP_MAX_KEYWORDS, true, f_first},
};

static const struct fn_def *find_fn(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(k_fns); i++) {
        if (strcmp(k_fns[i].name, name) == 0) {
            return &k_fns[i];
        }
    }
    return NULL;
}

bool bp_is_function(const char *name)
{
    return name && find_fn(name) != NULL;
}

enum err bp_eval(const struct bp_rule *r, const struct bp_keys *k, char *out, size_t cap,
                 bool *found, struct err_info *ei)
{
    return bp_eval_explain(r, k, out, cap, found, NULL, ei);
}

enum err bp_eval_explain(const struct bp_rule *r, const struct bp_keys *k, char *out, size_t cap,
                         bool *found, struct bp_explain *ex, struct err_info *ei)
{
    *found = false;
    if (!r) {
        return ERR_OK;
    }
    switch (r->kind) {
    case BP_EXPR:
        return bpx_eval(r, k, out, cap, found, ex, ei);
    case BP_UNSET:
        return ERR_OK;
    case BP_LITERAL:
        if (put(out, cap, r->literal) != ERR_OK) {
            return err_set_field(ei, ERR_TOO_LARGE, r->key, "value of %s too long", r->key);
        }
        *found = true;
        return ERR_OK;
    case BP_LOOKUP:
        for (size_t i = 0; i < r->nkeywords; i++) {
            const char *v = k->get(k->ctx, r->keywords[i]);
            if (v && *v) {
                if (put(out, cap, v) != ERR_OK) {
                    return err_set_field(ei, ERR_TOO_LARGE, r->key, "value of %s too long", r->key);
                }
                *found = true;
                return ERR_OK;
            }
        }
        if (r->deflt) {
            if (put(out, cap, r->deflt) != ERR_OK) {
                return err_set_field(ei, ERR_TOO_LARGE, r->key, "value of %s too long", r->key);
            }
            *found = true;
        }
        return ERR_OK;
    case BP_FUNC: {
        const struct fn_def *f = find_fn(r->func);
        const char *av[BP_MAX_KEYWORDS];
        char tmp[BP_MAX_KEYWORDS][BP_ARG_MAX];
        size_t n = 0;
        if (!f) {
            return err_set_field(ei, ERR_INVALID, r->key, "blueprint \"%s\" line %d: "
                                 "unrecognized function \"%s\" (built-ins: mjd, scale, div, beam, add, "
                                 "concat, lower, upper, iso_date, first)", r->file, r->line,
                                 r->func);
        }
        if (r->nkeywords < f->min || r->nkeywords > f->max) {
            return err_set_field(ei, ERR_INVALID, r->key, "blueprint \"%s\" line %d: %s() takes "
                                 "%zu to %zu arguments, not %zu", r->file, r->line, r->func,
                                 f->min, f->max, r->nkeywords);
        }
        for (size_t i = 0; i < r->nkeywords; i++) {
            const char *v = arg_value(r->keywords[i], k, tmp[i], sizeof tmp[i]);
            if (f->any) {
                if (v) {
                    av[n++] = v;
                    break;
                }
                continue;
            }
            if (!v) {
                return ERR_OK; /* an input keyword is absent: no value */
            }
            av[n++] = v;
        }
        if (n == 0) {
            return ERR_OK;
        }
        enum err e = f->fn(r, av, n, out, cap, ei);
        if (e == ERR_TOO_LARGE) {
            return err_set_field(ei, e, r->key, "value of %s too long", r->key);
        }
        if (e == ERR_OK) {
            *found = true;
        }
        return e;
    }
    }
    return ERR_OK;
}
