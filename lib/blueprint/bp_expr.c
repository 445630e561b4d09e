/* bp_expr.c - the blueprint expression language (README.md "Expressions"): a recursive-descent
 * parser into a node array, and an evaluator in which a missing input is "no value" through
 * every operator and function.
 * SPDX-License-Identifier: Apache-2.0 */
#include "blueprint/bp_int.h"

#include "astro/astro.h"
#include "core/isodate.h"
#include "core/numfmt.h"
#include "core/numparse.h"
#include "core/str.h"

#include <ctype.h>
#include <fnmatch.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RE_MAX      256  /* regular expression length */
#define RE_GROUPS   10   /* capture groups \0..\9 */
#define ARENA_SIZE  (2 * BP_VALUE_MAX)

enum op {
    N_NUM = 1, N_STR, N_NONE, N_BOOL, N_KEY, N_VAR, N_CALL, N_ITEM,
    N_NEG, N_NOT, N_ADD, N_SUB, N_MUL, N_DIV, N_MOD,
    N_EQ, N_NE, N_LT, N_LE, N_GT, N_GE, N_AND, N_OR,
};

struct node {
    uint8_t op;
    uint8_t fn;        /* N_CALL: index into k_fns */
    uint16_t nargs;    /* children */
    int32_t first;     /* first child, -1 none */
    int32_t next;      /* next sibling, -1 none */
    double num;        /* N_NUM; N_BOOL: 0 or 1 */
    const char *str;   /* N_STR, N_KEY, N_VAR (NUL-terminated, in the expression's arena) */
                       /* N_ITEM: num 0 the family keyword's value, 1 its name */
    size_t len;        /* N_STR length */
    regex_t *re;       /* N_CALL of a regex function with a literal pattern: compiled once */
};

struct bp_expr {
    struct node *nodes;
    size_t n;
    char *arena;       /* unescaped strings and names */
    size_t used, cap;
    int root;          /* index of the root node */
    const struct bp *owner; /* blueprint holding the let variables and tables */
};

/* ---- functions ---------------------------------------------------------------------------- */

enum fid {
    F_IF, F_WHEN, F_CASE, F_FIRST, F_HAS, F_HEADER, F_FAMILY, /* lazy: F_IF..F_FAMILY */
    F_NUM, F_STR, F_INT, F_ROUND, F_FLOOR, F_CEIL, F_ABS, F_MIN, F_MAX, F_SQRT, F_POW,
    F_SIND, F_COSD, F_TAND, F_ASIND, F_ACOSD, F_ATAN2D, F_LOG10,
    F_CONCAT, F_LOWER, F_UPPER, F_TRIM, F_REPLACE, F_MATCHES, F_CAPTURE, F_RESUB, F_SPLIT,
    F_SUBSTR, F_LEN, F_FORMAT, F_STARTS, F_ENDS, F_CONTAINS, F_BASENAME,
    F_MJD, F_JD, F_ISO_DATE, F_MJD2JD, F_JD2MJD, F_SCALE, F_DIV, F_ADD, F_BEAM,
    F_HMS, F_DMS, F_DEG2HMS, F_DEG2DMS, F_PRECESS_RA, F_PRECESS_DEC, F_FK4_RA, F_FK4_DEC,
    F_FK5_FK4_RA, F_FK5_FK4_DEC, F_TIMESCALE, F_GEOCENTRIC, F_CD,
    F_LOOKUP, F_OBS_ID, F_PRODUCT_ID, F_FILE_ID, F_FILE_NAME, F_ARTIFACT_URI,
};

struct fdef {
    const char *name;
    enum fid id;
    uint8_t min, max;  /* argument count (max 255: any) */
};

static const struct fdef k_fns[] = {
    {"if", F_IF, 2, 3}, {"when", F_WHEN, 2, 255}, {"case", F_CASE, 3, 255},
    {"first", F_FIRST, 1, 255}, {"has", F_HAS, 1, 1}, {"header", F_HEADER, 1, 32},
    {"family", F_FAMILY, 1, 3},
    {"num", F_NUM, 1, 1}, {"str", F_STR, 1, 1}, {"int", F_INT, 1, 1}, {"round", F_ROUND, 1, 2},
    {"floor", F_FLOOR, 1, 1}, {"ceil", F_CEIL, 1, 1}, {"abs", F_ABS, 1, 1},
    {"min", F_MIN, 1, 255}, {"max", F_MAX, 1, 255}, {"sqrt", F_SQRT, 1, 1},
    {"pow", F_POW, 2, 2}, {"sind", F_SIND, 1, 1}, {"cosd", F_COSD, 1, 1},
    {"tand", F_TAND, 1, 1}, {"asind", F_ASIND, 1, 1}, {"acosd", F_ACOSD, 1, 1},
    {"atan2d", F_ATAN2D, 2, 2}, {"log10", F_LOG10, 1, 1},
    {"concat", F_CONCAT, 1, 255}, {"lower", F_LOWER, 1, 1}, {"upper", F_UPPER, 1, 1},
    {"trim", F_TRIM, 1, 1}, {"replace", F_REPLACE, 3, 3}, {"matches", F_MATCHES, 2, 2},
    {"capture", F_CAPTURE, 2, 3}, {"resub", F_RESUB, 3, 3}, {"split", F_SPLIT, 3, 3},
    {"substr", F_SUBSTR, 2, 3}, {"len", F_LEN, 1, 1}, {"format", F_FORMAT, 1, 32},
    {"startswith", F_STARTS, 2, 2}, {"endswith", F_ENDS, 2, 2},
    {"contains", F_CONTAINS, 2, 2}, {"basename", F_BASENAME, 1, 1},
    {"mjd", F_MJD, 1, 2}, {"jd", F_JD, 1, 1}, {"iso_date", F_ISO_DATE, 1, 1},
    {"mjd2jd", F_MJD2JD, 1, 1}, {"jd2mjd", F_JD2MJD, 1, 1},
    {"scale", F_SCALE, 2, 2}, {"div", F_DIV, 2, 2}, {"add", F_ADD, 2, 255},
    {"beam", F_BEAM, 2, 2},
    {"hms", F_HMS, 1, 1}, {"dms", F_DMS, 1, 1}, {"deg2hms", F_DEG2HMS, 1, 2},
    {"deg2dms", F_DEG2DMS, 1, 2}, {"precess_ra", F_PRECESS_RA, 4, 5},
    {"precess_dec", F_PRECESS_DEC, 4, 5}, {"fk4_to_fk5_ra", F_FK4_RA, 2, 3},
    {"fk4_to_fk5_dec", F_FK4_DEC, 2, 3}, {"fk5_to_fk4_ra", F_FK5_FK4_RA, 2, 3},
    {"fk5_to_fk4_dec", F_FK5_FK4_DEC, 2, 3}, {"timescale", F_TIMESCALE, 3, 3},
    {"geocentric", F_GEOCENTRIC, 4, 4}, {"cd", F_CD, 4, 4},
    {"lookup", F_LOOKUP, 3, 4}, {"obs_id", F_OBS_ID, 0, 0},
    {"product_id", F_PRODUCT_ID, 0, 0}, {"file_id", F_FILE_ID, 0, 0},
    {"file_name", F_FILE_NAME, 0, 0}, {"artifact_uri", F_ARTIFACT_URI, 0, 0},
};

static int find_fn(const char *name, size_t len)
{
    for (size_t i = 0; i < ARRAY_LEN(k_fns); i++) {
        if (strlen(k_fns[i].name) == len && memcmp(k_fns[i].name, name, len) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* ---- parser ------------------------------------------------------------------------------- */

struct ps {
    const char *src;
    size_t pos;
    struct bp_expr *x;
    const struct bp *owner;
    const char *file;
    int line;
    const char *key;
    struct err_info *ei;
    int depth;
    enum err err;
    int family;        /* > 0 inside the item expression of family(): value, keyword */
};

static enum err perr(struct ps *p, const char *what)
{
    if (p->err == ERR_OK) {
        p->err = err_set_field(p->ei, ERR_PARSE, p->key, "blueprint \"%s\" line %d: %s: "
                               "expression column %zu: %s", p->file, p->line, p->key,
                               p->pos + 1, what);
    }
    return p->err;
}

static void skip_ws(struct ps *p)
{
    while (p->src[p->pos] == ' ' || p->src[p->pos] == '\t') {
        p->pos++;
    }
}

static int new_node(struct ps *p, enum op op)
{
    struct bp_expr *x = p->x;
    if (x->n >= BP_EXPR_NODES) {
        perr(p, "expression too large");
        return -1;
    }
    struct node *nd = &x->nodes[x->n];
    memset(nd, 0, sizeof *nd);
    nd->op = (uint8_t)op;
    nd->first = -1;
    nd->next = -1;
    return (int)x->n++;
}

static const char *arena_put(struct bp_expr *x, const char *s, size_t n)
{
    if (x->used + n + 1 > x->cap) {
        return NULL; /* cannot happen: the arena is as long as the source */
    }
    char *d = x->arena + x->used;
    memcpy(d, s, n);
    d[n] = '\0';
    x->used += n + 1;
    return d;
}

static void add_child(struct ps *p, int parent, int child)
{
    struct node *n = &p->x->nodes[parent];
    if (n->first < 0) {
        n->first = child;
    } else {
        int c = n->first;
        while (p->x->nodes[c].next >= 0) {
            c = p->x->nodes[c].next;
        }
        p->x->nodes[c].next = child;
    }
    n->nargs++;
}

static int binary(struct ps *p, enum op op, int a, int b)
{
    if (a < 0 || b < 0) {
        return -1;
    }
    int n = new_node(p, op);
    if (n >= 0) {
        add_child(p, n, a);
        add_child(p, n, b);
    }
    return n;
}

static int p_expr(struct ps *p);

static bool word_at(struct ps *p, const char *w)
{
    size_t n = strlen(w);
    const char *s = p->src + p->pos;
    return strncmp(s, w, n) == 0 && !(isalnum((unsigned char)s[n]) || s[n] == '_');
}

static int p_string(struct ps *p)
{
    char q = p->src[p->pos++];
    char *buf = p->x->arena + p->x->used; /* unescape straight into the arena */
    size_t n = 0;
    for (;;) {
        char c = p->src[p->pos];
        if (c == '\0') {
            perr(p, "unterminated string");
            return -1;
        }
        p->pos++;
        if (c == q) {
            if (p->src[p->pos] == q) { /* doubled quote */
                p->pos++;
            } else {
                break;
            }
        } else if (c == '\\' && p->src[p->pos] == q) {
            c = q;
            p->pos++;
        }
        buf[n++] = c;
    }
    buf[n] = '\0';
    p->x->used += n + 1;
    int nd = new_node(p, N_STR);
    if (nd >= 0) {
        p->x->nodes[nd].str = buf;
        p->x->nodes[nd].len = n;
    }
    return nd;
}

static int p_number(struct ps *p)
{
    const char *s = p->src + p->pos;
    size_t n = 0;
    char tmp[64];
    while (isdigit((unsigned char)s[n]) || s[n] == '.') {
        n++;
    }
    if ((s[n] == 'e' || s[n] == 'E') &&
        (isdigit((unsigned char)s[n + 1]) ||
         ((s[n + 1] == '+' || s[n + 1] == '-') && isdigit((unsigned char)s[n + 2])))) {
        n += 2;
        while (isdigit((unsigned char)s[n])) {
            n++;
        }
    }
    double d;
    if (n >= sizeof tmp || isalpha((unsigned char)s[n]) || s[n] == '_') {
        perr(p, "malformed number");
        return -1;
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (numparse_double(tmp, &d) != ERR_OK || !isfinite(d)) {
        perr(p, "malformed number");
        return -1;
    }
    p->pos += n;
    int nd = new_node(p, N_NUM);
    if (nd >= 0) {
        p->x->nodes[nd].num = d;
    }
    return nd;
}

static bool kw_char(char c)
{
    return isupper((unsigned char)c) || isdigit((unsigned char)c) || c == '_';
}

/* compile a literal regular expression argument once */
static bool is_re_fn(enum fid f)
{
    return f == F_MATCHES || f == F_CAPTURE || f == F_RESUB;
}

static int p_call(struct ps *p, int fi, size_t name_pos)
{
    int nd = new_node(p, N_CALL);
    if (nd < 0) {
        return -1;
    }
    p->x->nodes[nd].fn = (uint8_t)fi;
    p->pos++; /* '(' */
    skip_ws(p);
    if (p->src[p->pos] == ')') {
        p->pos++;
    } else {
        for (;;) {
            /* family(pattern, item expression, ...): value and keyword name the item */
            bool item = k_fns[fi].id == F_FAMILY && p->x->nodes[nd].nargs == 1;
            p->family += item;
            int a = p_expr(p);
            p->family -= item;
            if (a < 0) {
                return -1;
            }
            if (p->x->nodes[nd].nargs >= BP_MAX_KEYWORDS) {
                perr(p, "more than 32 arguments");
                return -1;
            }
            add_child(p, nd, a);
            skip_ws(p);
            if (p->src[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (p->src[p->pos] == ')') {
                p->pos++;
                break;
            }
            perr(p, "expected ',' or ')' in the arguments");
            return -1;
        }
    }
    const struct fdef *f = &k_fns[fi];
    struct node *n = &p->x->nodes[nd];
    if (n->nargs < f->min || (f->max != 255 && n->nargs > f->max)) {
        char msg[128];
        if (f->max == f->min) {
            snprintf(msg, sizeof msg, "%s() takes %u arguments, not %u", f->name, f->min,
                     n->nargs);
        } else if (f->max == 255) {
            snprintf(msg, sizeof msg, "%s() takes at least %u arguments, not %u", f->name,
                     f->min, n->nargs);
        } else {
            snprintf(msg, sizeof msg, "%s() takes %u to %u arguments, not %u", f->name, f->min,
                     f->max, n->nargs);
        }
        p->pos = name_pos;
        perr(p, msg);
        return -1;
    }
    if (f->id == F_LOOKUP && p->x->nodes[n->first].op == N_KEY) {
        /* lookup(filters, ...): a bare first argument names a table declared before */
        struct node *t = &p->x->nodes[n->first];
        if (!bp__table(p->owner, t->str)) {
            char msg[128];
            snprintf(msg, sizeof msg, "lookup(): no table \"%.60s\" declared before this line "
                     "(table %.60s = 'file.csv')", t->str, t->str);
            p->pos = name_pos;
            perr(p, msg);
            return -1;
        }
        t->op = N_STR;
        t->len = strlen(t->str);
    }
    if (is_re_fn(f->id)) {
        const struct node *pat = &p->x->nodes[p->x->nodes[n->first].next];
        if (pat->op == N_STR) {
            if (pat->len >= RE_MAX) {
                p->pos = name_pos;
                perr(p, "regular expression too long");
                return -1;
            }
            regex_t *re = malloc(sizeof *re);
            if (!re) {
                p->err = err_set(p->ei, ERR_NOMEM, "out of memory compiling an expression");
                return -1;
            }
            int rc = regcomp(re, pat->str, REG_EXTENDED | (f->id == F_MATCHES ? REG_NOSUB : 0));
            if (rc != 0) {
                char msg[160];
                char why[96];
                regerror(rc, re, why, sizeof why);
                free(re);
                snprintf(msg, sizeof msg, "bad regular expression: %s", why);
                p->pos = name_pos;
                perr(p, msg);
                return -1;
            }
            p->x->nodes[nd].re = re;
        }
    }
    return nd;
}

static int p_primary(struct ps *p)
{
    skip_ws(p);
    const char *s = p->src + p->pos;
    char c = *s;
    if (c == '\'' || c == '"') {
        return p_string(p);
    }
    if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)s[1]))) {
        return p_number(p);
    }
    if (c == '(') {
        p->pos++;
        int e = p_expr(p);
        skip_ws(p);
        if (e >= 0 && p->src[p->pos] != ')') {
            perr(p, "expected ')'");
            return -1;
        }
        p->pos++;
        return e;
    }
    if (isalpha((unsigned char)c) || c == '_') {
        size_t n = 0;
        size_t start = p->pos;
        while (isalnum((unsigned char)s[n]) || s[n] == '_') {
            n++;
        }
        /* FITS keywords with hyphens (DATE-OBS, OBSGEO-X): an upper-case run joined by '-'
         * without blanks; longer than 8 characters it is an error, not a silent subtraction */
        bool upper = true;
        for (size_t i = 0; i < n; i++) {
            upper = upper && kw_char(s[i]);
        }
        if (upper && s[n] == '-' && kw_char(s[n + 1])) {
            size_t m = n;
            while (s[m] == '-' && kw_char(s[m + 1])) {
                m++;
                while (kw_char(s[m])) {
                    m++;
                }
            }
            if (m > 8) {
                perr(p, "a name with '-' longer than 8 characters: write a subtraction with "
                     "blanks (A - B), a keyword as header('NAME')");
                return -1;
            }
            n = m;
        }
        p->pos += n;
        size_t after = p->pos;
        skip_ws(p);
        if (p->src[p->pos] == '(') {
            int fi = find_fn(s, n);
            if (fi < 0) {
                char msg[128];
                p->pos = start;
                snprintf(msg, sizeof msg, "unknown function \"%.*s\"", (int)(n > 40 ? 40 : n), s);
                perr(p, msg);
                return -1;
            }
            return p_call(p, fi, start);
        }
        p->pos = after;
        if (n == 4 && memcmp(s, "true", 4) == 0) {
            int nd = new_node(p, N_BOOL);
            if (nd >= 0) {
                p->x->nodes[nd].num = 1;
            }
            return nd;
        }
        if (n == 5 && memcmp(s, "false", 5) == 0) {
            return new_node(p, N_BOOL);
        }
        if (n == 4 && memcmp(s, "none", 4) == 0) {
            return new_node(p, N_NONE);
        }
        if (p->family > 0 && ((n == 5 && memcmp(s, "value", 5) == 0) ||
                              (n == 7 && memcmp(s, "keyword", 7) == 0))) {
            int nd = new_node(p, N_ITEM);
            if (nd >= 0) {
                p->x->nodes[nd].num = n == 5 ? 0 : 1;
            }
            return nd;
        }
        const char *name = arena_put(p->x, s, n);
        if (!name) {
            perr(p, "expression too large");
            return -1;
        }
        int nd = new_node(p, bp__has_var(p->owner, name) ? N_VAR : N_KEY);
        if (nd >= 0) {
            p->x->nodes[nd].str = name;
        }
        return nd;
    }
    perr(p, c ? "expected a value" : "unexpected end of the expression");
    return -1;
}

static int p_unary(struct ps *p)
{
    skip_ws(p);
    if (++p->depth > BP_EXPR_DEPTH) {
        perr(p, "expression nested too deeply");
        return -1;
    }
    int r;
    if (p->src[p->pos] == '-') {
        p->pos++;
        int a = p_unary(p);
        r = a < 0 ? -1 : new_node(p, N_NEG);
        if (r >= 0) {
            add_child(p, r, a);
        }
    } else if (p->src[p->pos] == '+') {
        p->pos++;
        r = p_unary(p);
    } else if (word_at(p, "not")) {
        p->pos += 3;
        int a = p_unary(p);
        r = a < 0 ? -1 : new_node(p, N_NOT);
        if (r >= 0) {
            add_child(p, r, a);
        }
    } else {
        r = p_primary(p);
    }
    p->depth--;
    return r;
}

static int p_mul(struct ps *p)
{
    int a = p_unary(p);
    for (;;) {
        skip_ws(p);
        char c = p->src[p->pos];
        if (a < 0 || (c != '*' && c != '/' && c != '%')) {
            return a;
        }
        p->pos++;
        a = binary(p, c == '*' ? N_MUL : c == '/' ? N_DIV : N_MOD, a, p_unary(p));
    }
}

static int p_add(struct ps *p)
{
    int a = p_mul(p);
    for (;;) {
        skip_ws(p);
        char c = p->src[p->pos];
        if (a < 0 || (c != '+' && c != '-')) {
            return a;
        }
        p->pos++;
        a = binary(p, c == '+' ? N_ADD : N_SUB, a, p_mul(p));
    }
}

static int p_cmp(struct ps *p)
{
    int a = p_add(p);
    skip_ws(p);
    const char *s = p->src + p->pos;
    enum op op = 0;
    size_t n = 2;
    if (a < 0) {
        return a;
    }
    if (s[0] == '=' && s[1] == '=') {
        op = N_EQ;
    } else if (s[0] == '!' && s[1] == '=') {
        op = N_NE;
    } else if (s[0] == '<' && s[1] == '=') {
        op = N_LE;
    } else if (s[0] == '>' && s[1] == '=') {
        op = N_GE;
    } else if (s[0] == '<') {
        op = N_LT, n = 1;
    } else if (s[0] == '>') {
        op = N_GT, n = 1;
    } else if (s[0] == '=') {
        perr(p, "'=' is not a comparison: write '=='");
        return -1;
    } else {
        return a;
    }
    p->pos += n;
    return binary(p, op, a, p_add(p));
}

static int p_and(struct ps *p)
{
    int a = p_cmp(p);
    for (;;) {
        skip_ws(p);
        if (a < 0) {
            return a;
        }
        if (word_at(p, "and")) {
            p->pos += 3;
        } else if (p->src[p->pos] == '&' && p->src[p->pos + 1] == '&') {
            p->pos += 2;
        } else {
            return a;
        }
        a = binary(p, N_AND, a, p_cmp(p));
    }
}

static int p_expr(struct ps *p)
{
    if (++p->depth > BP_EXPR_DEPTH) {
        perr(p, "expression nested too deeply");
        return -1;
    }
    int a = p_and(p);
    for (;;) {
        skip_ws(p);
        if (a < 0) {
            break;
        }
        if (word_at(p, "or")) {
            p->pos += 2;
        } else if (p->src[p->pos] == '|' && p->src[p->pos + 1] == '|') {
            p->pos += 2;
        } else {
            break;
        }
        a = binary(p, N_OR, a, p_and(p));
    }
    p->depth--;
    return a;
}

void bpx_free(struct bp_expr *x)
{
    if (!x) {
        return;
    }
    for (size_t i = 0; i < x->n; i++) {
        if (x->nodes[i].re) {
            regfree(x->nodes[i].re);
            free(x->nodes[i].re);
        }
    }
    free(x->nodes);
    free(x->arena);
    free(x);
}

enum err bpx_compile(const struct bp *owner, const char *text, const char *file, int line,
                     const char *key, struct bp_expr **out, struct err_info *ei)
{
    size_t len = strlen(text);
    struct bp_expr *x = calloc(1, sizeof *x);
    struct ps p = {text, 0, x, owner, file, line, key, ei, 0, ERR_OK, 0};
    *out = NULL;
    if (x) {
        x->cap = len + 1;
        x->arena = malloc(x->cap);
        x->nodes = malloc(BP_EXPR_NODES * sizeof *x->nodes); /* shrunk after the parse */
    }
    if (!x || !x->arena || !x->nodes) {
        bpx_free(x);
        return err_set(ei, ERR_NOMEM, "out of memory compiling an expression");
    }
    int root = p_expr(&p);
    skip_ws(&p);
    if (root >= 0 && p.src[p.pos] != '\0') {
        perr(&p, "unexpected text after the expression");
        root = -1;
    }
    if (root < 0) {
        bpx_free(x);
        return p.err != ERR_OK ? p.err : perr(&p, "malformed expression");
    }
    x->root = root;
    x->owner = owner;
    struct node *shrunk = realloc(x->nodes, x->n * sizeof *shrunk);
    if (shrunk) {
        x->nodes = shrunk;
    }
    *out = x;
    return ERR_OK;
}

/* ---- evaluator ---------------------------------------------------------------------------- */

enum vt { V_NONE = 0, V_NUM, V_STR, V_BOOL };

struct val {
    enum vt t;
    double n;       /* V_NUM; V_BOOL 0/1 */
    const char *s;  /* V_STR, NUL-terminated */
};

struct es {
    const struct bp_keys *k;
    const struct bp_rule *r;  /* rule being evaluated (messages) */
    const struct bp_expr *x;  /* its expression */
    struct bp_explain *ex;
    struct err_info *ei;
    char *arena;              /* allocated on first use: most expressions need none */
    size_t used;
    int depth;
    bool oom;                 /* the arena could not be allocated */
    const char *item_key;     /* family(): the keyword being mapped and its value */
    const char *item_val;
};

static enum err fail(struct es *s, enum err code, const char *fmt, ...) PRINTF_LIKE(3, 4);

static enum err fail(struct es *s, enum err code, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set_field(s->ei, code, s->r->key, "blueprint \"%s\" line %d: %s: %s",
                         s->r->file, s->r->line, s->r->key, msg);
}

/* the arena exists (allocated on first use); false when out of memory */
static bool arena_ready(struct es *s)
{
    if (!s->arena && !s->oom) {
        s->arena = malloc(ARENA_SIZE);
        s->oom = s->arena == NULL;
    }
    return s->arena != NULL;
}

/* room for @p n bytes plus a terminator in the evaluation arena */
static char *room(struct es *s, size_t n)
{
    if (!arena_ready(s) || n + 1 > ARENA_SIZE - s->used) {
        return NULL;
    }
    char *p = s->arena + s->used;
    s->used += n + 1;
    return p;
}

static enum err too_long(struct es *s)
{
    if (s->oom) {
        return err_set(s->ei, ERR_NOMEM, "out of memory evaluating %s", s->r->key);
    }
    return fail(s, ERR_TOO_LARGE, "value longer than %d bytes", BP_VALUE_MAX - 1);
}

static enum err mk_str(struct es *s, const char *src, size_t n, struct val *v)
{
    char *d = room(s, n);
    if (!d) {
        return too_long(s);
    }
    memcpy(d, src, n);
    d[n] = '\0';
    v->t = V_STR;
    v->s = d;
    return ERR_OK;
}

static void mk_num(double d, struct val *v)
{
    v->t = V_NUM;
    v->n = d;
}

static void mk_bool(bool b, struct val *v)
{
    v->t = V_BOOL;
    v->n = b ? 1.0 : 0.0;
}

/* a FITS-style number in text: blanks around, D exponents */
static bool text_num(const char *t, double *d)
{
    char tmp[128];
    while (*t == ' ') {
        t++;
    }
    if (!str_copy(tmp, sizeof tmp, t)) {
        return false;
    }
    size_t n = strlen(tmp);
    while (n > 0 && tmp[n - 1] == ' ') {
        tmp[--n] = '\0';
    }
    for (char *p = tmp; *p; p++) {
        if (*p == 'D' || *p == 'd') {
            *p = 'E';
        }
    }
    return n > 0 && numparse_double(tmp, d) == ERR_OK && isfinite(*d);
}

/* "name(): " for a function, "" for an operator */
static const char *fname(const struct node *n, char *buf, size_t cap)
{
    if (n->op != N_CALL) {
        return "";
    }
    snprintf(buf, cap, "%s(): ", k_fns[n->fn].name);
    return buf;
}

static enum err to_num(struct es *s, const struct node *at, const struct val *v, double *d)
{
    if (v->t == V_NUM) {
        *d = v->n;
        return ERR_OK;
    }
    if (v->t == V_STR && text_num(v->s, d)) {
        return ERR_OK;
    }
    char fb[48];
    if (v->t == V_BOOL) {
        return fail(s, ERR_INVALID, "%sa number is needed, not a boolean", fname(at, fb,
                    sizeof fb));
    }
    return fail(s, ERR_INVALID, "%snot a number: \"%s\"", fname(at, fb, sizeof fb),
                v->s ? v->s : "");
}

static enum err to_bool(struct es *s, const struct val *v, bool *b)
{
    if (v->t == V_BOOL || v->t == V_NUM) {
        *b = v->n != 0.0;
        return ERR_OK;
    }
    if (strcmp(v->s, "T") == 0 || strcasecmp(v->s, "true") == 0) {
        *b = true;
        return ERR_OK;
    }
    if (strcmp(v->s, "F") == 0 || strcasecmp(v->s, "false") == 0) {
        *b = false;
        return ERR_OK;
    }
    return fail(s, ERR_INVALID, "not a boolean: \"%s\"", v->s);
}

/* the text of a value (numbers as %.17g, booleans true/false) */
static enum err to_str(struct es *s, const struct val *v, const char **out)
{
    if (v->t == V_STR) {
        *out = v->s;
        return ERR_OK;
    }
    if (v->t == V_BOOL) {
        *out = v->n != 0.0 ? "true" : "false";
        return ERR_OK;
    }
    char *d = room(s, 32);
    if (!d) {
        return too_long(s);
    }
    numfmt_g17(v->n, d); /* "%.17g" */
    *out = d;
    return ERR_OK;
}

static enum err ev(struct es *s, int idx, struct val *out);

static const struct node *nd(const struct es *s, int i)
{
    return &s->x->nodes[i];
}

/* evaluate every argument of a call into av (none propagates: *any_none) */
static enum err ev_args(struct es *s, const struct node *n, struct val *av, bool *any_none)
{
    size_t i = 0;
    *any_none = false;
    for (int c = n->first; c >= 0; c = nd(s, c)->next, i++) {
        enum err e = ev(s, c, &av[i]);
        if (e != ERR_OK) {
            return e;
        }
        *any_none = *any_none || av[i].t == V_NONE;
    }
    return ERR_OK;
}

static int cmp_vals(struct es *s, const struct val *a, const struct val *b, bool *num_ok)
{
    double x, y;
    *num_ok = true;
    bool xa = a->t == V_NUM || (a->t == V_STR && text_num(a->s, &x));
    bool yb = b->t == V_NUM || (b->t == V_STR && text_num(b->s, &y));
    if (a->t == V_NUM) {
        x = a->n;
    }
    if (b->t == V_NUM) {
        y = b->n;
    }
    if (a->t == V_BOOL || b->t == V_BOOL) {
        if (a->t != b->t) {
            *num_ok = false;
            return 0;
        }
        return (a->n > b->n) - (a->n < b->n);
    }
    if (xa && yb) { /* keyword values are text: two numbers compare as numbers */
        return (x > y) - (x < y);
    }
    const char *p, *q;
    if (to_str(s, a, &p) != ERR_OK || to_str(s, b, &q) != ERR_OK) {
        *num_ok = false;
        return 0;
    }
    int c = strcmp(p, q);
    return (c > 0) - (c < 0);
}

#define VARCACHE_MAX 4096

struct vc_ent {
    const struct bp_rule *r;
    int hdu;
    char *uri;      /* NULL for no artifact */
    enum vt t;
    double n;
    char *s;        /* V_STR */
};

/* regexec results with groups of this document (resub, capture): glibc's regexec costs tens
 * of thousands of instructions a call when groups are asked for, a rule may be evaluated more
 * than once per document (members: once to tell a DerivedObservation, once to set them) and
 * rules apply the same pattern to the same text (members and provenance inputs from one
 * keyword family). The result is a function of the pattern, the text and the flags, so it is
 * reused whatever rule asks. */
#define RX_MEMO_MAX 1024

struct rs_ent {
    uint64_t h;     /* hash of the three texts */
    char *key;      /* pattern, flags and text, each NUL-terminated */
    size_t klen;
    int rc;         /* regexec's answer */
    regmatch_t m[RE_GROUPS];
};

struct bp_varcache {
    struct vc_ent *e;
    size_t n, cap;
    struct rs_ent *rs;
    size_t nrs, caprs;
};

enum err bp_varcache_new(struct bp_varcache **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? ERR_OK : ERR_NOMEM;
}

void bp_varcache_free(struct bp_varcache *c)
{
    if (!c) {
        return;
    }
    for (size_t i = 0; i < c->n; i++) {
        free(c->e[i].uri);
        free(c->e[i].s);
    }
    free(c->e);
    for (size_t i = 0; i < c->nrs; i++) {
        free(c->rs[i].key);
    }
    free(c->rs);
    free(c);
}

/* the hash of the three texts of a regexec call (pattern, flags, text) and their length as
 * one key: each with its NUL */
static uint64_t rs_hash(const char *const t[3], size_t *klen)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        const char *p = t[i];
        do {
            h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
            n++;
        } while (*p++);
    }
    *klen = n;
    return h;
}

static bool rs_same(const char *key, const char *const t[3])
{
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(t[i]) + 1;
        if (memcmp(key, t[i], n) != 0) {
            return false;
        }
        key += n;
    }
    return true;
}

static const struct rs_ent *rs_find(const struct bp_varcache *c, uint64_t h,
                                    const char *const t[3], size_t n)
{
    for (size_t i = 0; i < c->nrs; i++) {
        if (c->rs[i].h == h && c->rs[i].klen == n && rs_same(c->rs[i].key, t)) {
            return &c->rs[i];
        }
    }
    return NULL;
}

/* remember a result; out of memory or a full memo only means it is computed again */
static void rs_put(struct bp_varcache *c, uint64_t h, const char *const t[3], size_t n, int rc,
                   const regmatch_t m[RE_GROUPS])
{
    if (c->nrs >= RX_MEMO_MAX) {
        return;
    }
    if (c->nrs == c->caprs) {
        size_t cap = c->caprs ? c->caprs * 2 : 32;
        struct rs_ent *e = realloc(c->rs, cap * sizeof *e);
        if (!e) {
            return;
        }
        c->rs = e;
        c->caprs = cap;
    }
    struct rs_ent x = {.h = h, .key = malloc(n), .klen = n, .rc = rc};
    if (!x.key) {
        return;
    }
    for (size_t i = 0, at = 0; i < 3; i++) {
        size_t l = strlen(t[i]) + 1;
        memcpy(x.key + at, t[i], l);
        at += l;
    }
    memcpy(x.m, m, sizeof x.m);
    c->rs[c->nrs++] = x;
}

/* regexec(re, p, RE_GROUPS, m, eflags) for the pattern text @p pat, through the document's
 * memo when there is one */
static int rx_exec(const struct es *s, const char *pat, const regex_t *re, const char *p,
                   regmatch_t m[RE_GROUPS], int eflags)
{
    struct bp_varcache *vc = s->k->vars;
    if (!vc) {
        return regexec(re, p, RE_GROUPS, m, eflags);
    }
    const char *const t[3] = {pat, eflags & REG_NOTBOL ? "b" : "", p};
    size_t kl = 0;
    uint64_t h = rs_hash(t, &kl);
    const struct rs_ent *hit = rs_find(vc, h, t, kl);
    if (hit) {
        memcpy(m, hit->m, sizeof hit->m);
        return hit->rc;
    }
    int rc = regexec(re, p, RE_GROUPS, m, eflags);
    rs_put(vc, h, t, kl, rc, m);
    return rc;
}

static const struct vc_ent *vc_find(const struct bp_varcache *c, const struct bp_rule *r, int hdu,
                                    const char *uri)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct vc_ent *v = &c->e[i];
        if (v->r == r && v->hdu == hdu &&
            ((!v->uri && !uri) || (v->uri && uri && strcmp(v->uri, uri) == 0))) {
            return v;
        }
    }
    return NULL;
}

/* remember a value; out of memory or a full cache only means it is computed again */
static void vc_put(struct bp_varcache *c, const struct bp_rule *r, int hdu, const char *uri,
                   const struct val *v)
{
    if (c->n >= VARCACHE_MAX) {
        return;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        struct vc_ent *e = realloc(c->e, cap * sizeof *e);
        if (!e) {
            return;
        }
        c->e = e;
        c->cap = cap;
    }
    struct vc_ent x = {r, hdu, uri ? str_dup(uri) : NULL, v->t, v->n, NULL};
    if ((uri && !x.uri) || (v->t == V_STR && !(x.s = str_dup(v->s)))) {
        free(x.uri);
        return;
    }
    c->e[c->n++] = x;
}

static void explain_none(struct es *s, const struct bp_rule *r)
{
    if (!s->ex) {
        return;
    }
    for (size_t i = 0; i < s->ex->n; i++) {
        if (s->ex->none[i] == r) {
            return;
        }
    }
    if (s->ex->n < BP_EXPLAIN_MAX) {
        s->ex->none[s->ex->n++] = r;
    }
}

/* a let variable: its rule for this HDU and artifact, evaluated in place */
static enum err ev_var(struct es *s, const struct node *n, struct val *out)
{
    char key[128];
    size_t pl = sizeof BP_VAR_PREFIX - 1;
    size_t nl = strlen(n->str);
    const struct bp_rule *vr = NULL;
    if (pl + nl < sizeof key) { /* "let:" NAME, without snprintf: every variable use */
        memcpy(key, BP_VAR_PREFIX, pl);
        memcpy(key + pl, n->str, nl + 1);
        vr = bp_get_art(s->x->owner, key, s->k->hdu, s->k->uri);
    }
    if (!vr || vr->kind != BP_EXPR) {
        out->t = V_NONE; /* a variable defined only for other HDUs or artifacts */
        return ERR_OK;
    }
    struct bp_varcache *vc = s->k->vars;
    const struct vc_ent *hit = vc ? vc_find(vc, vr, s->k->hdu, s->k->uri) : NULL;
    if (hit) {
        out->t = hit->t;
        out->n = hit->n;
        out->s = hit->s;
        if (hit->t == V_NONE) {
            explain_none(s, vr);
        }
        return ERR_OK;
    }
    if (s->depth >= BP_EXPR_DEPTH) {
        return fail(s, ERR_INVALID, "variable \"%s\": let variables nested more than %d deep "
                    "(a variable that uses itself?)", n->str, BP_EXPR_DEPTH);
    }
    const struct bp_rule *r0 = s->r;
    const struct bp_expr *x0 = s->x;
    s->r = vr;
    s->x = vr->expr;
    enum err e = ev(s, vr->expr->root, out);
    s->r = r0;
    s->x = x0;
    if (e == ERR_OK && vc) {
        vc_put(vc, vr, s->k->hdu, s->k->uri, out);
    }
    if (e == ERR_OK && out->t == V_NONE) {
        explain_none(s, vr);
    }
    return e;
}

static enum err ev_header(struct es *s, const struct node *n, struct val *out)
{
    struct val av[BP_MAX_KEYWORDS];
    bool none;
    enum err e = ev_args(s, n, av, &none);
    out->t = V_NONE;
    if (e != ERR_OK || av[0].t == V_NONE) {
        return e;
    }
    const char *kw;
    if ((e = to_str(s, &av[0], &kw)) != ERR_OK) {
        return e;
    }
    if (n->nargs == 1) {
        const char *v = s->k->get(s->k->ctx, kw);
        if (v && *v) {
            out->t = V_STR;
            out->s = v;
        }
        return ERR_OK;
    }
    for (size_t i = 1; i < n->nargs; i++) {
        double h;
        if (av[i].t == V_NONE) {
            continue;
        }
        if ((e = to_num(s, n, &av[i], &h)) != ERR_OK) {
            return e;
        }
        if (h != floor(h) || h < 0 || h > 999) {
            return fail(s, ERR_INVALID, "header(): HDU index %g is not 0-999", h);
        }
        const char *v = NULL;
        if ((int)h == s->k->hdu) {
            v = s->k->get(s->k->ctx, kw);
        } else if (s->k->get_hdu) {
            v = s->k->get_hdu(s->k->ctx, kw, (int)h);
        }
        if (v && *v) {
            out->t = V_STR;
            out->s = v;
            return ERR_OK;
        }
    }
    return ERR_OK;
}

/* family(pattern[, item[, separator]]): every keyword of the HDU whose name matches the
 * fnmatch pattern, in header order, mapped through the item expression (value, keyword),
 * items without a value left out, each distinct item once, joined by the separator */
#define FAMILY_ITEMS 4096
static enum err ev_family(struct es *s, const struct node *n, struct val *out)
{
    struct val pv, sv;
    const char *pat = NULL, *sep = ", ";
    enum err e;
    int item = nd(s, n->first)->next;
    int sepn = item >= 0 ? nd(s, item)->next : -1;
    out->t = V_NONE;
    if ((e = ev(s, n->first, &pv)) != ERR_OK || pv.t == V_NONE ||
        (e = to_str(s, &pv, &pat)) != ERR_OK) {
        return e;
    }
    if (sepn >= 0) {
        if ((e = ev(s, sepn, &sv)) != ERR_OK || sv.t == V_NONE ||
            (e = to_str(s, &sv, &sep)) != ERR_OK) {
            return e;
        }
    }
    if (!s->k->card) {
        return ERR_OK;
    }
    size_t seplen = strlen(sep);
    size_t lit = strcspn(pat, "*?[\\"); /* the pattern's literal prefix rejects most cards */
    char *acc = malloc(BP_VALUE_MAX);
    size_t *off = malloc(FAMILY_ITEMS * sizeof *off);
    size_t len = 0, nitems = 0;
    const char *save_key = s->item_key, *save_val = s->item_val;
    const char *key, *value;
    if (!acc || !off) {
        e = err_set(s->ei, ERR_NOMEM, "out of memory evaluating %s", s->r->key);
        goto out;
    }
    for (size_t i = 0; s->k->card(s->k->ctx, i, &key, &value); i++) {
        if (!key || !*key || !value || !*value || strncmp(key, pat, lit) != 0 ||
            fnmatch(pat, key, 0) != 0) {
            continue;
        }
        size_t mark = s->used;
        struct val iv = {.t = V_STR, .s = value};
        const char *t = NULL;
        if (item >= 0) {
            s->item_key = key;
            s->item_val = value;
            e = ev(s, item, &iv);
            s->item_key = save_key;
            s->item_val = save_val;
            if (e != ERR_OK) {
                goto out;
            }
        }
        if (iv.t != V_NONE && (e = to_str(s, &iv, &t)) != ERR_OK) {
            goto out;
        }
        size_t tl = t ? strlen(t) : 0;
        bool dup = tl == 0;
        for (size_t j = 0; j < nitems && !dup; j++) {
            size_t end = j + 1 < nitems ? off[j + 1] - seplen : len;
            dup = end - off[j] == tl && memcmp(acc + off[j], t, tl) == 0;
        }
        if (!dup) {
            size_t need = (nitems ? seplen : 0) + tl;
            if (nitems >= FAMILY_ITEMS || need >= BP_VALUE_MAX - len) {
                e = fail(s, ERR_TOO_LARGE, "family(): more than %d items or %d bytes",
                         FAMILY_ITEMS, BP_VALUE_MAX - 1);
                goto out;
            }
            if (nitems) {
                memcpy(acc + len, sep, seplen);
                len += seplen;
            }
            off[nitems++] = len;
            memcpy(acc + len, t, tl);
            len += tl;
        }
        s->used = mark; /* the item's text is copied: its arena space is free again */
    }
    if (nitems > 0) {
        e = mk_str(s, acc, len, out);
    }
out:
    free(acc);
    free(off);
    return e;
}

/* lazy functions: only the arguments needed are evaluated */
static enum err ev_lazy(struct es *s, const struct node *n, struct val *out)
{
    enum fid f = k_fns[n->fn].id;
    enum err e;
    int c = n->first;
    out->t = V_NONE;
    switch (f) {
    case F_IF: {
        struct val cv;
        bool b;
        if ((e = ev(s, c, &cv)) != ERR_OK || cv.t == V_NONE) {
            return e;
        }
        if ((e = to_bool(s, &cv, &b)) != ERR_OK) {
            return e;
        }
        c = nd(s, c)->next;
        if (!b) {
            c = nd(s, c)->next;
        }
        return c >= 0 ? ev(s, c, out) : ERR_OK;
    }
    case F_WHEN: /* when(cond1, v1, cond2, v2, ..., [default]) */
        for (; c >= 0; c = nd(s, nd(s, c)->next)->next) {
            int v = nd(s, c)->next;
            if (v < 0) {
                return ev(s, c, out); /* the default */
            }
            struct val cv;
            bool b;
            if ((e = ev(s, c, &cv)) != ERR_OK || cv.t == V_NONE) {
                return e;
            }
            if ((e = to_bool(s, &cv, &b)) != ERR_OK) {
                return e;
            }
            if (b) {
                return ev(s, v, out);
            }
            if (nd(s, v)->next < 0) {
                return ERR_OK;
            }
        }
        return ERR_OK;
    case F_CASE: { /* case(x, k1, v1, k2, v2, ..., [default]) */
        struct val xv;
        if ((e = ev(s, c, &xv)) != ERR_OK || xv.t == V_NONE) {
            return e;
        }
        for (c = nd(s, c)->next; c >= 0; c = nd(s, nd(s, c)->next)->next) {
            int v = nd(s, c)->next;
            if (v < 0) {
                return ev(s, c, out);
            }
            struct val kv;
            bool ok;
            if ((e = ev(s, c, &kv)) != ERR_OK) {
                return e;
            }
            if (kv.t != V_NONE && cmp_vals(s, &xv, &kv, &ok) == 0 && ok) {
                return ev(s, v, out);
            }
            if (nd(s, v)->next < 0) {
                return ERR_OK;
            }
        }
        return ERR_OK;
    }
    case F_FIRST:
        for (; c >= 0; c = nd(s, c)->next) {
            if ((e = ev(s, c, out)) != ERR_OK) {
                return e;
            }
            if (out->t != V_NONE && !(out->t == V_STR && out->s[0] == '\0')) {
                return ERR_OK;
            }
        }
        out->t = V_NONE;
        return ERR_OK;
    case F_HAS:
        if ((e = ev(s, c, out)) != ERR_OK) {
            return e;
        }
        mk_bool(out->t != V_NONE, out);
        return ERR_OK;
    case F_HEADER:
        return ev_header(s, n, out);
    case F_FAMILY:
        return ev_family(s, n, out);
    default:
        return fail(s, ERR_INTERNAL, "not a lazy function");
    }
}

/* regex for argument @p av (the node's precompiled one when the pattern is a literal) */
static enum err get_re(struct es *s, const struct node *n, const char *pat, int flags,
                       regex_t *tmp, const regex_t **re)
{
    if (n->re) {
        *re = n->re;
        return ERR_OK;
    }
    if (strlen(pat) >= RE_MAX) {
        return fail(s, ERR_INVALID, "%s(): regular expression longer than %d bytes",
                    k_fns[n->fn].name, RE_MAX - 1);
    }
    int rc = regcomp(tmp, pat, REG_EXTENDED | flags);
    if (rc != 0) {
        char why[96];
        regerror(rc, tmp, why, sizeof why);
        return fail(s, ERR_INVALID, "%s(): bad regular expression \"%s\": %s",
                    k_fns[n->fn].name, pat, why);
    }
    *re = tmp;
    return ERR_OK;
}

/* replace every match of @p re in @p in by @p rep (\0-\9 groups) */
static enum err re_sub(struct es *s, const char *pat, const regex_t *re, const char *in,
                       const char *rep, struct val *out)
{
    if (!arena_ready(s)) {
        return too_long(s);
    }
    char *d = s->arena + s->used;
    size_t cap = ARENA_SIZE - s->used;
    size_t o = 0;
    const char *p = in;
    regmatch_t m[RE_GROUPS];
    int eflags = 0;
    for (int guard = 0; guard < BP_VALUE_MAX; guard++) {
        if (rx_exec(s, pat, re, p, m, eflags) != 0) {
            break;
        }
        size_t pre = (size_t)m[0].rm_so;
        if (o + pre >= cap) {
            return too_long(s);
        }
        memcpy(d + o, p, pre);
        o += pre;
        for (const char *r = rep; *r; r++) {
            if (*r == '\\' && isdigit((unsigned char)r[1])) {
                int g = r[1] - '0';
                r++;
                if (m[g].rm_so >= 0) {
                    size_t gl = (size_t)(m[g].rm_eo - m[g].rm_so);
                    if (o + gl >= cap) {
                        return too_long(s);
                    }
                    memcpy(d + o, p + m[g].rm_so, gl);
                    o += gl;
                }
                continue;
            }
            if (o + 1 >= cap) {
                return too_long(s);
            }
            d[o++] = *r;
        }
        if (m[0].rm_eo == m[0].rm_so) { /* an empty match: copy one character and go on */
            if (p[m[0].rm_eo] == '\0') {
                p += m[0].rm_eo;
                break;
            }
            if (o + 1 >= cap) {
                return too_long(s);
            }
            d[o++] = p[m[0].rm_eo];
            p += m[0].rm_eo + 1;
        } else {
            p += m[0].rm_eo;
        }
        eflags = REG_NOTBOL;
    }
    size_t rest = strlen(p);
    if (o + rest >= cap || o + rest >= BP_VALUE_MAX) {
        return too_long(s);
    }
    memcpy(d + o, p, rest + 1);
    o += rest;
    s->used += o + 1;
    out->t = V_STR;
    out->s = d;
    return ERR_OK;
}

/* format(fmt, ...): %s %d %i %f %e %g %x with flags, width and precision, %%. Each conversion
 * is rebuilt from checked parts (flags from "-+ 0#", width <= 64, precision <= 32, one
 * conversion letter) and given an argument of its type, hence the non-literal formats. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static enum err ev_format(struct es *s, const struct node *at, const struct val *av, size_t n,
                          struct val *out)
{
    const char *fmt;
    enum err e = to_str(s, &av[0], &fmt);
    if (e != ERR_OK) {
        return e;
    }
    if (!arena_ready(s)) {
        return too_long(s);
    }
    char *d = s->arena + s->used;
    size_t cap = ARENA_SIZE - s->used;
    size_t o = 0;
    size_t ai = 1;
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            if (o + 1 >= cap) {
                return too_long(s);
            }
            d[o++] = *p;
            continue;
        }
        if (p[1] == '%') {
            if (o + 1 >= cap) {
                return too_long(s);
            }
            d[o++] = '%';
            p++;
            continue;
        }
        char spec[32];
        size_t k = 0;
        spec[k++] = '%';
        p++;
        while (*p && strchr("-+ 0#", *p) && k < 8) {
            spec[k++] = *p++;
        }
        int width = 0, prec = -1;
        while (isdigit((unsigned char)*p) && width < 1000) {
            width = width * 10 + (*p++ - '0');
        }
        if (*p == '.') {
            prec = 0;
            p++;
            while (isdigit((unsigned char)*p) && prec < 1000) {
                prec = prec * 10 + (*p++ - '0');
            }
        }
        if (width > 64 || prec > 32) {
            return fail(s, ERR_INVALID, "format(): width or precision too large in \"%s\"", fmt);
        }
        char conv = *p;
        if (!conv || !strchr("sdifegx", conv)) {
            return fail(s, ERR_INVALID, "format(): unsupported conversion in \"%s\" (%%s %%d "
                        "%%f %%e %%g %%x)", fmt);
        }
        if (ai >= n) {
            return fail(s, ERR_INVALID, "format(): more conversions than arguments in \"%s\"",
                        fmt);
        }
        int w;
        if (width > 0) {
            k += (size_t)snprintf(spec + k, sizeof spec - k, "%d", width);
        }
        if (prec >= 0) {
            k += (size_t)snprintf(spec + k, sizeof spec - k, ".%d", prec);
        }
        const struct val *v = &av[ai++];
        if (conv == 's') {
            const char *t;
            if ((e = to_str(s, v, &t)) != ERR_OK) {
                return e;
            }
            if (k == 1) { /* a plain %s: the text itself, without snprintf */
                size_t tl = strlen(t);
                if (tl >= cap - o) {
                    return too_long(s);
                }
                memcpy(d + o, t, tl);
                o += tl;
                continue;
            }
            spec[k++] = 's';
            spec[k] = '\0';
            w = snprintf(d + o, cap - o, spec, t);
        } else {
            double x;
            if ((e = to_num(s, at, v, &x)) != ERR_OK) {
                return e;
            }
            if (conv == 'd' || conv == 'i' || conv == 'x') {
                if (fabs(x) > 9.0e18) {
                    return fail(s, ERR_INVALID, "format(): %g is too large for %%%c", x, conv);
                }
                spec[k++] = 'l';
                spec[k++] = 'l';
                spec[k++] = conv;
                spec[k] = '\0';
                w = snprintf(d + o, cap - o, spec, (long long)llround(x));
            } else {
                spec[k++] = conv;
                spec[k] = '\0';
                w = snprintf(d + o, cap - o, spec, x);
            }
        }
        if (w < 0 || (size_t)w >= cap - o) {
            return too_long(s);
        }
        o += (size_t)w;
    }
    if (ai != n) {
        return fail(s, ERR_INVALID, "format(): %zu arguments for %zu conversions in \"%s\"",
                    n - 1, ai - 1, fmt);
    }
    if (o >= BP_VALUE_MAX) {
        return too_long(s);
    }
    d[o] = '\0';
    s->used += o + 1;
    out->t = V_STR;
    out->s = d;
    return ERR_OK;
}

#pragma GCC diagnostic pop

static enum err date_mjd(struct es *s, const struct node *n, const struct val *v, double *mjd)
{
    if (v->t == V_NUM) {
        *mjd = v->n;
        return ERR_OK;
    }
    const char *t = NULL;
    enum err e = to_str(s, v, &t);
    if (e != ERR_OK) {
        return e;
    }
    if (!isodate_to_mjd(t, mjd)) {
        return fail(s, ERR_INVALID, "%s(): not a date: \"%s\"", k_fns[n->fn].name, t);
    }
    return ERR_OK;
}

static enum err iso_of_mjd(struct es *s, double mjd, struct val *out)
{
    double days = floor(mjd);
    double ms = floor((mjd - days) * 86400000.0 + 0.5);
    if (!isfinite(mjd) || fabs(mjd) > 3.0e6) {
        return fail(s, ERR_INVALID, "iso_date(): MJD %g out of range", mjd);
    }
    if (ms >= 86400000.0) {
        days += 1.0;
        ms -= 86400000.0;
    }
    long z = (long)days - 40587 + 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long y = yoe + era * 400;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    long dd = doy - (153 * mp + 2) / 5 + 1;
    long m = mp + (mp < 10 ? 3 : -9);
    y += m <= 2;
    long t = (long)ms;
    char *d = room(s, 40);
    if (!d) {
        return too_long(s);
    }
    snprintf(d, 40, "%04ld-%02ld-%02ldT%02ld:%02ld:%02ld.%03ld", y, m, dd, t / 3600000,
             (t / 60000) % 60, (t / 1000) % 60, t % 1000);
    out->t = V_STR;
    out->s = d;
    return ERR_OK;
}

static enum err ev_lookup(struct es *s, const struct val *av, size_t n, struct val *out)
{
    const char *tname = NULL, *key = NULL, *col = NULL, *cell = NULL;
    enum err e;
    if ((e = to_str(s, &av[0], &tname)) || (e = to_str(s, &av[1], &key)) ||
        (e = to_str(s, &av[2], &col))) {
        return e;
    }
    const struct bp_table *t = bp__table(s->x->owner, tname);
    if (!t) {
        return fail(s, ERR_INVALID, "lookup(): no table \"%s\" (declare it with "
                    "\"table %s = 'file.csv'\")", tname, tname);
    }
    e = bpt_get(t, key, col, &cell);
    if (e == ERR_INVALID) {
        return fail(s, ERR_INVALID, "lookup(): table \"%s\" (%s) has no column \"%s\"", tname,
                    bpt_file(t), col);
    }
    if (e == ERR_NOT_FOUND) {
        if (n > 3) {
            *out = av[3];
            return ERR_OK;
        }
        return fail(s, ERR_NOT_FOUND, "lookup(): table \"%s\" (%s) has no row for key \"%s\"",
                    tname, bpt_file(t), key);
    }
    out->t = V_NONE;
    if (cell && *cell) {
        out->t = V_STR;
        out->s = cell;
    }
    return ERR_OK;
}

static enum err ev_name(struct es *s, const char *what, struct val *out)
{
    const char *v = s->k->name ? s->k->name(s->k->ctx, what) : NULL;
    out->t = V_NONE;
    if (v && *v) {
        out->t = V_STR;
        out->s = v;
    }
    return ERR_OK;
}

#define NUM(i, var)                                                                                \
    do {                                                                                           \
        if ((e = to_num(s, n, &av[i], &(var))) != ERR_OK) {                                        \
            return e;                                                                              \
        }                                                                                          \
    } while (0)
#define STR(i, var)                                                                                \
    do {                                                                                           \
        if ((e = to_str(s, &av[i], &(var))) != ERR_OK) {                                           \
            return e;                                                                              \
        }                                                                                          \
    } while (0)

static enum err finite_or_fail(struct es *s, const struct node *n, double d, struct val *out)
{
    if (!isfinite(d)) {
        return fail(s, ERR_INVALID, "%s(): the result is not a finite number",
                    k_fns[n->fn].name);
    }
    mk_num(d, out);
    return ERR_OK;
}

/* the next field of *t split on q (ql > 0) or on runs of blanks (ql == 0); false at the end */
static bool split_next(const char **t, const char *q, size_t ql, const char **f, size_t *fl)
{
    const char *p = *t;
    const char *start, *end;
    if (!p) {
        return false;
    }
    if (ql == 0) {
        while (isspace((unsigned char)*p)) {
            p++;
        }
        if (!*p) {
            return false;
        }
        start = p;
        while (*p && !isspace((unsigned char)*p)) {
            p++;
        }
        end = p;
        *t = p;
    } else {
        const char *hit = strstr(p, q);
        start = p;
        end = hit ? hit : p + strlen(p);
        *t = hit ? hit + ql : NULL;
    }
    if (f) {
        *f = start;
        *fl = (size_t)(end - start);
    }
    return true;
}

static enum err no_erfa(struct es *s, const struct node *n)
{
    return fail(s, ERR_UNSUPPORTED, "%s(): obsflow was built without ERFA (liberfa-dev)",
                k_fns[n->fn].name);
}

static enum err ev_call(struct es *s, const struct node *n, struct val *out)
{
    enum fid f = k_fns[n->fn].id;
    struct val av[BP_MAX_KEYWORDS];
    bool none;
    enum err e;
    double a = 0, b = 0, c = 0, d = 0;
    const char *p = NULL, *q = NULL, *r = NULL;
    if (f <= F_FAMILY) {
        return ev_lazy(s, n, out);
    }
    if ((e = ev_args(s, n, av, &none)) != ERR_OK) {
        return e;
    }
    out->t = V_NONE;
    if (none && f != F_LOOKUP) {
        return ERR_OK; /* a missing input: no value */
    }
    if (f == F_LOOKUP && (av[0].t == V_NONE || av[1].t == V_NONE || av[2].t == V_NONE)) {
        return ERR_OK;
    }
    switch (f) {
    case F_NUM:
        NUM(0, a);
        mk_num(a, out);
        return ERR_OK;
    case F_STR:
        STR(0, p);
        out->t = V_STR;
        out->s = p;
        return ERR_OK;
    case F_INT:
        NUM(0, a);
        return finite_or_fail(s, n, trunc(a), out);
    case F_ROUND:
        NUM(0, a);
        if (n->nargs > 1) {
            NUM(1, b);
            if (b != floor(b) || fabs(b) > 15) {
                return fail(s, ERR_INVALID, "round(): digits %g is not an integer in -15..15",
                            b);
            }
            return finite_or_fail(s, n, round(a * pow(10, b)) / pow(10, b), out);
        }
        return finite_or_fail(s, n, round(a), out);
    case F_FLOOR: NUM(0, a); mk_num(floor(a), out); return ERR_OK;
    case F_CEIL: NUM(0, a); mk_num(ceil(a), out); return ERR_OK;
    case F_ABS: NUM(0, a); mk_num(fabs(a), out); return ERR_OK;
    case F_MIN:
    case F_MAX:
        NUM(0, a);
        for (size_t i = 1; i < n->nargs; i++) {
            NUM(i, b);
            a = (f == F_MIN) ? (b < a ? b : a) : (b > a ? b : a);
        }
        mk_num(a, out);
        return ERR_OK;
    case F_SQRT:
        NUM(0, a);
        if (a < 0) {
            return fail(s, ERR_INVALID, "sqrt(): negative argument %g", a);
        }
        mk_num(sqrt(a), out);
        return ERR_OK;
    case F_POW: NUM(0, a); NUM(1, b); return finite_or_fail(s, n, pow(a, b), out);
    case F_SIND: NUM(0, a); mk_num(sin(a * M_PI / 180.0), out); return ERR_OK;
    case F_COSD: NUM(0, a); mk_num(cos(a * M_PI / 180.0), out); return ERR_OK;
    case F_TAND: NUM(0, a); return finite_or_fail(s, n, tan(a * M_PI / 180.0), out);
    case F_ASIND:
    case F_ACOSD:
        NUM(0, a);
        if (fabs(a) > 1.0) {
            return fail(s, ERR_INVALID, "%s(): %g is outside -1..1", k_fns[n->fn].name, a);
        }
        mk_num((f == F_ASIND ? asin(a) : acos(a)) * 180.0 / M_PI, out);
        return ERR_OK;
    case F_ATAN2D: NUM(0, a); NUM(1, b); mk_num(atan2(a, b) * 180.0 / M_PI, out); return ERR_OK;
    case F_LOG10:
        NUM(0, a);
        if (a <= 0) {
            return fail(s, ERR_INVALID, "log10(): %g is not positive", a);
        }
        mk_num(log10(a), out);
        return ERR_OK;
    case F_CONCAT: {
        const char *parts[BP_MAX_KEYWORDS];
        size_t o = 0;
        for (size_t i = 0; i < n->nargs; i++) {
            STR(i, parts[i]); /* numbers are written into the arena first */
        }
        if (!arena_ready(s)) {
            return too_long(s);
        }
        char *dst = s->arena + s->used;
        for (size_t i = 0; i < n->nargs; i++) {
            size_t l = strlen(parts[i]);
            if (o + l >= BP_VALUE_MAX || s->used + o + l + 1 > ARENA_SIZE) {
                return too_long(s);
            }
            memcpy(dst + o, parts[i], l);
            o += l;
        }
        dst[o] = '\0';
        s->used += o + 1;
        out->t = V_STR;
        out->s = dst;
        return ERR_OK;
    }
    case F_LOWER:
    case F_UPPER: {
        STR(0, p);
        size_t l = strlen(p);
        char *dst = room(s, l);
        if (!dst) {
            return too_long(s);
        }
        for (size_t i = 0; i <= l; i++) {
            dst[i] = (char)(f == F_UPPER ? toupper((unsigned char)p[i])
                                         : tolower((unsigned char)p[i]));
        }
        out->t = V_STR;
        out->s = dst;
        return ERR_OK;
    }
    case F_TRIM: {
        STR(0, p);
        while (isspace((unsigned char)*p)) {
            p++;
        }
        size_t l = strlen(p);
        while (l > 0 && isspace((unsigned char)p[l - 1])) {
            l--;
        }
        return mk_str(s, p, l, out);
    }
    case F_REPLACE: {
        STR(0, p);
        STR(1, q);
        STR(2, r);
        size_t ql = strlen(q), rl = strlen(r);
        if (!arena_ready(s)) {
            return too_long(s);
        }
        char *dst = s->arena + s->used;
        size_t cap = ARENA_SIZE - s->used;
        size_t o = 0;
        if (ql == 0) {
            return mk_str(s, p, strlen(p), out);
        }
        while (*p) {
            if (strncmp(p, q, ql) == 0) {
                if (o + rl >= cap) {
                    return too_long(s);
                }
                memcpy(dst + o, r, rl);
                o += rl;
                p += ql;
            } else {
                if (o + 1 >= cap) {
                    return too_long(s);
                }
                dst[o++] = *p++;
            }
        }
        if (o >= BP_VALUE_MAX) {
            return too_long(s);
        }
        dst[o] = '\0';
        s->used += o + 1;
        out->t = V_STR;
        out->s = dst;
        return ERR_OK;
    }
    case F_MATCHES:
    case F_CAPTURE:
    case F_RESUB: {
        regex_t tmp;
        const regex_t *re = NULL;
        regmatch_t m[RE_GROUPS];
        STR(0, p);
        STR(1, q);
        if ((e = get_re(s, n, q, f == F_MATCHES ? REG_NOSUB : 0, &tmp, &re)) != ERR_OK) {
            return e;
        }
        if (f == F_MATCHES) {
            mk_bool(regexec(re, p, 0, NULL, 0) == 0, out);
        } else if (f == F_RESUB) {
            if ((e = to_str(s, &av[2], &r)) == ERR_OK) {
                e = re_sub(s, q, re, p, r, out);
            }
        } else {
            c = 1;
            if (n->nargs > 2 && (e = to_num(s, n, &av[2], &c)) == ERR_OK &&
                (c != floor(c) || c < 0 || c >= RE_GROUPS)) {
                e = fail(s, ERR_INVALID, "capture(): group %g is not 0-%d", c, RE_GROUPS - 1);
            }
            if (e == ERR_OK && rx_exec(s, q, re, p, m, 0) == 0 && m[(int)c].rm_so >= 0) {
                e = mk_str(s, p + m[(int)c].rm_so, (size_t)(m[(int)c].rm_eo - m[(int)c].rm_so),
                           out);
            }
        }
        if (re == &tmp) {
            regfree(&tmp);
        }
        return e;
    }
    case F_SPLIT: {
        STR(0, p);
        STR(1, q);
        NUM(2, a);
        size_t ql = strlen(q);
        if (a != floor(a) || fabs(a) > BP_VALUE_MAX) {
            return fail(s, ERR_INVALID, "split(): index %g is not an integer", a);
        }
        /* fields: split on q, or on runs of blanks when q is "" */
        long want = (long)a;
        if (want < 0) { /* from the end: count the fields first */
            long nf = 0;
            for (const char *t = p; split_next(&t, q, ql, NULL, NULL);) {
                nf++;
            }
            want += nf;
            if (want < 0) {
                return ERR_OK;
            }
        }
        const char *t = p, *fb = NULL;
        size_t l = 0;
        for (long i = 0; i <= want; i++) {
            if (!split_next(&t, q, ql, &fb, &l)) {
                return ERR_OK; /* no such field: no value */
            }
        }
        while (l > 0 && isspace((unsigned char)*fb)) {
            fb++, l--;
        }
        while (l > 0 && isspace((unsigned char)fb[l - 1])) {
            l--;
        }
        return mk_str(s, fb, l, out);
    }
    case F_SUBSTR: {
        STR(0, p);
        NUM(1, a);
        size_t l = strlen(p);
        b = (double)l;
        if (n->nargs > 2) {
            NUM(2, b);
        }
        if (a != floor(a) || b != floor(b) || b < 0) {
            return fail(s, ERR_INVALID, "substr(): start %g and length %g must be integers, "
                        "the length not negative", a, b);
        }
        if (a < 0) {
            a += (double)l;
        }
        if (a < 0 || a > (double)l) {
            return ERR_OK;
        }
        if (a + b > (double)l) {
            b = (double)l - a;
        }
        return mk_str(s, p + (size_t)a, (size_t)b, out);
    }
    case F_LEN: STR(0, p); mk_num((double)strlen(p), out); return ERR_OK;
    case F_BASENAME: { /* the text after the last '/' */
        STR(0, p);
        const char *slash = strrchr(p, '/');
        out->t = V_STR;
        out->s = slash ? slash + 1 : p;
        if (!*out->s) {
            out->t = V_NONE;
        }
        return ERR_OK;
    }
    case F_FORMAT: return ev_format(s, n, av, n->nargs, out);
    case F_STARTS:
    case F_ENDS:
    case F_CONTAINS:
        STR(0, p);
        STR(1, q);
        mk_bool(f == F_STARTS ? strncmp(p, q, strlen(q)) == 0
                : f == F_ENDS ? str_ends_with(p, q) : strstr(p, q) != NULL, out);
        return ERR_OK;
    case F_MJD:
        if (av[0].t == V_NUM) {
            return fail(s, ERR_INVALID, "mjd(): not a date: %g", av[0].n);
        }
        if ((e = date_mjd(s, n, &av[0], &a)) != ERR_OK) {
            return e;
        }
        if (n->nargs > 1) {
            NUM(1, b);
        }
        mk_num(a + b / 86400.0, out);
        return ERR_OK;
    case F_JD:
        if ((e = date_mjd(s, n, &av[0], &a)) != ERR_OK) {
            return e;
        }
        mk_num(a + 2400000.5, out);
        return ERR_OK;
    case F_ISO_DATE:
        if (av[0].t == V_STR && !text_num(av[0].s, &a)) {
            if ((e = date_mjd(s, n, &av[0], &a)) != ERR_OK) {
                return e;
            }
        } else {
            NUM(0, a); /* an MJD */
        }
        return iso_of_mjd(s, a, out);
    case F_MJD2JD: NUM(0, a); mk_num(a + 2400000.5, out); return ERR_OK;
    case F_JD2MJD: NUM(0, a); mk_num(a - 2400000.5, out); return ERR_OK;
    case F_SCALE: NUM(0, a); NUM(1, b); return finite_or_fail(s, n, a * b, out);
    case F_ADD:
        for (size_t i = 0; i < n->nargs; i++) {
            NUM(i, b);
            a += b;
        }
        return finite_or_fail(s, n, a, out);
    case F_DIV:
        NUM(0, a);
        NUM(1, b);
        if (b == 0.0) {
            return fail(s, ERR_INVALID, "div(): division by zero");
        }
        return finite_or_fail(s, n, a / b, out);
    case F_BEAM:
        NUM(0, a);
        NUM(1, b);
        if (a < 0 || b < 0) {
            return fail(s, ERR_INVALID, "beam(): negative beam size");
        }
        mk_num(3600.0 * sqrt(a * b), out);
        return ERR_OK;
    case F_HMS:
    case F_DMS:
        if (av[0].t == V_NUM) {
            mk_num(f == F_HMS ? av[0].n * 15.0 : av[0].n, out); /* already a number */
            return ERR_OK;
        }
        STR(0, p);
        if (text_num(p, &a)) {
            mk_num(f == F_HMS ? a * 15.0 : a, out);
            return ERR_OK;
        }
        if (astro_sexa_to_deg(p, f == F_HMS, &a) != ERR_OK) {
            return fail(s, ERR_INVALID, "%s(): not a sexagesimal angle: \"%s\"",
                        k_fns[n->fn].name, p);
        }
        mk_num(a, out);
        return ERR_OK;
    case F_DEG2HMS:
    case F_DEG2DMS: {
        NUM(0, a);
        b = f == F_DEG2HMS ? 3 : 2;
        if (n->nargs > 1) {
            NUM(1, b);
        }
        char *dst = room(s, 48);
        if (!dst) {
            return too_long(s);
        }
        if (b == floor(b) && b >= 0 && b <= 9 &&
            astro_deg_to_sexa(a, f == F_DEG2HMS, (int)b, dst, 48) == ERR_UNSUPPORTED) {
            return no_erfa(s, n);
        }
        if (b != floor(b) || b < 0 || b > 9 ||
            astro_deg_to_sexa(a, f == F_DEG2HMS, (int)b, dst, 48) != ERR_OK) {
            return fail(s, ERR_INVALID, "%s(): cannot write %g with %g decimals",
                        k_fns[n->fn].name, a, b);
        }
        out->t = V_STR;
        out->s = dst;
        return ERR_OK;
    }
    case F_PRECESS_RA:
    case F_PRECESS_DEC: {
        double ro, dout;
        NUM(0, a);
        NUM(1, b);
        NUM(2, c);
        NUM(3, d);
        bool iau1976 = false;
        if (n->nargs > 4) {
            STR(4, p);
            iau1976 = strcmp(p, "IAU1976") == 0;
            if (!iau1976 && strcmp(p, "IAU2006") != 0) {
                return fail(s, ERR_INVALID, "%s(): the precession model is 'IAU2006' or "
                            "'IAU1976', not \"%s\"", k_fns[n->fn].name, p);
            }
        }
        enum err ae = iau1976 ? astro_precess_fk5_1976(a, b, c, d, &ro, &dout)
                              : astro_precess_fk5(a, b, c, d, &ro, &dout);
        if (ae == ERR_UNSUPPORTED) {
            return no_erfa(s, n);
        }
        if (ae != ERR_OK) {
            return fail(s, ERR_INVALID, "%s(): cannot precess (%g, %g) from %g to %g",
                        k_fns[n->fn].name, a, b, c, d);
        }
        mk_num(f == F_PRECESS_RA ? ro : dout, out);
        return ERR_OK;
    }
    case F_FK4_RA:
    case F_FK4_DEC:
    case F_FK5_FK4_RA:
    case F_FK5_FK4_DEC: {
        double ro, dout;
        NUM(0, a);
        NUM(1, b);
        c = 1950.0;
        if (n->nargs > 2) {
            NUM(2, c);
        }
        bool to5 = f == F_FK4_RA || f == F_FK4_DEC;
        enum err ae = to5 ? astro_fk4_to_fk5(a, b, c, &ro, &dout)
                          : astro_fk5_to_fk4(a, b, c, &ro, &dout);
        if (ae == ERR_UNSUPPORTED) {
            return no_erfa(s, n);
        }
        if (ae != ERR_OK) {
            return fail(s, ERR_INVALID, "%s(): cannot convert (%g, %g)", k_fns[n->fn].name, a,
                        b);
        }
        mk_num((f == F_FK4_RA || f == F_FK5_FK4_RA) ? ro : dout, out);
        return ERR_OK;
    }
    case F_TIMESCALE: {
        STR(1, p);
        STR(2, q);
        enum astro_scale from = astro_scale_named(p), to = astro_scale_named(q);
        if (!from || !to) {
            return fail(s, ERR_INVALID, "timescale(): scales are UTC, TAI or TT, not \"%s\", "
                        "\"%s\"", p, q);
        }
        /* a date in text is read in its own scale (a UTC day with a leap second has 86401 s),
         * a number is an MJD in that scale */
        if (av[0].t == V_STR && !text_num(av[0].s, &a)) {
            enum err ae = astro_date_mjd(av[0].s, from, &a);
            if (ae == ERR_UNSUPPORTED) {
                return no_erfa(s, n);
            }
            if (ae != ERR_OK) {
                return fail(s, ERR_INVALID, "timescale(): not a date: \"%s\"", av[0].s);
            }
        } else {
            NUM(0, a);
        }
        enum err ae = astro_mjd_convert(a, from, to, &b);
        if (ae == ERR_UNSUPPORTED) {
            return no_erfa(s, n);
        }
        if (ae != ERR_OK) {
            return fail(s, ERR_INVALID, "timescale(): cannot convert MJD %g", a);
        }
        mk_num(b, out);
        return ERR_OK;
    }
    case F_GEOCENTRIC: {
        double xyz[3];
        NUM(0, a);
        NUM(1, b);
        NUM(2, c);
        STR(3, p);
        int axis = strcasecmp(p, "x") == 0 ? 0 : strcasecmp(p, "y") == 0 ? 1
                 : strcasecmp(p, "z") == 0 ? 2 : -1;
        if (axis < 0) {
            return fail(s, ERR_INVALID, "geocentric(): the axis is 'x', 'y' or 'z', not \"%s\"",
                        p);
        }
        enum err ae = astro_geocentric(a, b, c, xyz);
        if (ae == ERR_UNSUPPORTED) {
            return no_erfa(s, n);
        }
        if (ae != ERR_OK) {
            return fail(s, ERR_INVALID, "geocentric(): longitude %g, latitude %g, height %g out "
                        "of range", a, b, c);
        }
        mk_num(xyz[axis], out);
        return ERR_OK;
    }
    case F_CD: {
        double m[4];
        STR(0, p);
        NUM(1, a);
        NUM(2, b);
        NUM(3, c);
        int el = strcmp(p, "11") == 0 ? 0 : strcmp(p, "12") == 0 ? 1
               : strcmp(p, "21") == 0 ? 2 : strcmp(p, "22") == 0 ? 3 : -1;
        if (el < 0) {
            return fail(s, ERR_INVALID, "cd(): the element is '11', '12', '21' or '22', not "
                        "\"%s\"", p);
        }
        astro_cd_matrix(a, b, c, m);
        mk_num(m[el], out);
        return ERR_OK;
    }
    case F_LOOKUP: return ev_lookup(s, av, n->nargs, out);
    case F_OBS_ID: return ev_name(s, "obs_id", out);
    case F_PRODUCT_ID: return ev_name(s, "product_id", out);
    case F_FILE_ID: return ev_name(s, "file_id", out);
    case F_FILE_NAME: return ev_name(s, "file_name", out);
    case F_ARTIFACT_URI: return ev_name(s, "artifact_uri", out);
    default: break;
    }
    return fail(s, ERR_INTERNAL, "function %s not evaluated", k_fns[n->fn].name);
}

static enum err ev(struct es *s, int idx, struct val *out)
{
    const struct node *n = nd(s, idx);
    struct val a, b;
    enum err e;
    double x, y;
    bool ok;
    out->t = V_NONE;
    if (++s->depth > 2 * BP_EXPR_DEPTH) {
        s->depth--;
        return fail(s, ERR_INVALID, "expression evaluated more than %d deep", 2 * BP_EXPR_DEPTH);
    }
    switch (n->op) {
    case N_NUM: mk_num(n->num, out); e = ERR_OK; break;
    case N_BOOL: mk_bool(n->num != 0.0, out); e = ERR_OK; break;
    case N_NONE: e = ERR_OK; break;
    case N_STR:
        out->t = V_STR;
        out->s = n->str;
        e = ERR_OK;
        break;
    case N_KEY: {
        const char *v = s->k->get ? s->k->get(s->k->ctx, n->str) : NULL;
        if (v && *v) {
            out->t = V_STR;
            out->s = v;
        }
        e = ERR_OK;
        break;
    }
    case N_VAR: e = ev_var(s, n, out); break;
    case N_ITEM: {
        const char *v = n->num == 0.0 ? s->item_val : s->item_key;
        if (v && *v) {
            out->t = V_STR;
            out->s = v;
        }
        e = ERR_OK;
        break;
    }
    case N_CALL: e = ev_call(s, n, out); break;
    case N_NEG:
    case N_NOT:
        if ((e = ev(s, n->first, &a)) != ERR_OK || a.t == V_NONE) {
            break;
        }
        if (n->op == N_NEG) {
            if ((e = to_num(s, n, &a, &x)) == ERR_OK) {
                mk_num(-x, out);
            }
        } else if ((e = to_bool(s, &a, &ok)) == ERR_OK) {
            mk_bool(!ok, out);
        }
        break;
    case N_AND:
    case N_OR: {
        bool l, r;
        /* no value on either side is no value; the right side is evaluated only when needed */
        if ((e = ev(s, n->first, &a)) != ERR_OK || a.t == V_NONE ||
            (e = to_bool(s, &a, &l)) != ERR_OK) {
            break;
        }
        if ((n->op == N_AND && !l) || (n->op == N_OR && l)) {
            mk_bool(l, out);
            break;
        }
        if ((e = ev(s, nd(s, n->first)->next, &b)) != ERR_OK || b.t == V_NONE ||
            (e = to_bool(s, &b, &r)) != ERR_OK) {
            break;
        }
        mk_bool(r, out);
        break;
    }
    default:
        if ((e = ev(s, n->first, &a)) != ERR_OK || a.t == V_NONE ||
            (e = ev(s, nd(s, n->first)->next, &b)) != ERR_OK || b.t == V_NONE) {
            break;
        }
        if (n->op >= N_EQ && n->op <= N_GE) {
            int c = cmp_vals(s, &a, &b, &ok);
            if (!ok) {
                e = fail(s, ERR_INVALID, "cannot compare a boolean with a %s",
                         (a.t == V_BOOL ? b.t : a.t) == V_NUM ? "number" : "string");
                break;
            }
            mk_bool(n->op == N_EQ ? c == 0 : n->op == N_NE ? c != 0 : n->op == N_LT ? c < 0
                    : n->op == N_LE ? c <= 0 : n->op == N_GT ? c > 0 : c >= 0, out);
            break;
        }
        if ((e = to_num(s, n, &a, &x)) != ERR_OK || (e = to_num(s, n, &b, &y)) != ERR_OK) {
            break;
        }
        if ((n->op == N_DIV || n->op == N_MOD) && y == 0.0) {
            e = fail(s, ERR_INVALID, "division by zero");
            break;
        }
        double r = n->op == N_ADD ? x + y : n->op == N_SUB ? x - y : n->op == N_MUL ? x * y
                 : n->op == N_DIV ? x / y : fmod(x, y);
        if (!isfinite(r)) {
            e = fail(s, ERR_INVALID, "the result is not a finite number");
            break;
        }
        mk_num(r, out);
        break;
    }
    s->depth--;
    return e;
}

enum err bpx_eval(const struct bp_rule *r, const struct bp_keys *k, char *out, size_t cap,
                  bool *found, struct bp_explain *ex, struct err_info *ei)
{
    struct es s = {k, r, r->expr, ex, ei, NULL, 0, 0, false, NULL, NULL};
    struct val v;
    enum err e;
    bool fits = true;
    *found = false;
    e = ev(&s, r->expr->root, &v);
    if (e == ERR_OK && v.t == V_NUM) {
        char t[32];
        numfmt_g17(v.n, t); /* "%.17g" */
        fits = str_copy(out, cap, t);
    } else if (e == ERR_OK && v.t != V_NONE) {
        fits = str_copy(out, cap, v.t == V_STR ? v.s : v.n != 0.0 ? "true" : "false");
    }
    if (e == ERR_OK && !fits) {
        e = err_set_field(ei, ERR_TOO_LARGE, r->key, "value of %s too long", r->key);
    }
    *found = e == ERR_OK && v.t != V_NONE;
    if (e == ERR_OK && !*found) {
        explain_none(&s, r);
    }
    free(s.arena);
    return e;
}
