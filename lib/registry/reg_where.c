/* reg_where.c - the registry's WHERE language: a recursive-descent parser that writes a SQL
 * condition with typed $n placeholders (values never enter the SQL text) and checks every
 * field against the dataset type's dimensions. Grammar in registry.h.
 * SPDX-License-Identifier: Apache-2.0 */
#include "registry/registry.h"

#include "core/buf.h"
#include "core/str.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REG_SQL_MAX ((size_t)64 << 10) /* bytes of the SQL one expression makes */

enum vtype { V_INT, V_TEXT, V_TIME, V_RANGE };

struct field {
    const char *name;
    const char *sql;
    enum vtype type;
    const char *dim; /* the dimension the type must have */
    bool exposure;   /* refers to alias e */
};

static const struct field fields[] = {
    {"instrument", "d.instrument", V_TEXT, "instrument", false},
    {"detector", "d.detector", V_INT, "detector", false},
    {"exposure", "d.exposure", V_INT, "exposure", false},
    {"physical_filter", "d.physical_filter", V_TEXT, "physical_filter", false},
    {"exposure.obs_id", "e.obs_id", V_TEXT, "exposure", true},
    {"exposure.obs_type", "e.obs_type", V_TEXT, "exposure", true},
    {"exposure.day_obs", "e.day_obs", V_INT, "exposure", true},
    {"exposure.physical_filter", "e.physical_filter", V_TEXT, "exposure", true},
    {"exposure.begin", "lower(e.timespan)", V_TIME, "exposure", true},
    {"exposure.end", "upper(e.timespan)", V_TIME, "exposure", true},
    {"exposure.timespan", "e.timespan", V_RANGE, "exposure", true},
    {"ingest_date", "d.ingest_date", V_TIME, NULL, false},
};

struct reg_where {
    struct buf sql;
    char *params[REG_WHERE_PARAMS_MAX];
    int nparams;
    bool needs_exposure;
};

enum tok { T_END, T_IDENT, T_INT, T_STR, T_TIME, T_LP, T_RP, T_COMMA, T_OP, T_ERR };

struct parser {
    const char *src;
    size_t pos;  /* offset of the current token */
    size_t next; /* offset after it */
    enum tok tok;
    char text[REG_STRING_MAX + 1]; /* identifier, number, string or time value */
    char op[3];
    const char *const *dims;
    const char *type;
    int first;
    int depth;
    struct reg_where *w;
    struct err_info *ei;
};

static const char *vtype_name(enum vtype t)
{
    switch (t) {
    case V_INT:
        return "an integer";
    case V_TEXT:
        return "a 'string'";
    case V_TIME:
        return "a time T'...'";
    case V_RANGE:
        return "a time range";
    }
    return "?";
}

static enum err perr(struct parser *p, const char *fmt, ...) PRINTF_LIKE(2, 3);

static enum err perr(struct parser *p, const char *fmt, ...)
{
    char m[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    return err_set_field(p->ei, ERR_PARSE, "where", "where, at offset %zu: %s", p->pos, m);
}

static bool is_ident_start(int c)
{
    return isalpha(c) || c == '_';
}

static bool is_ident_char(int c)
{
    return isalnum(c) || c == '_' || c == '.';
}

/* Read a quoted literal starting at the quote src[i]; '' is a quote. */
static enum err lex_quoted(struct parser *p, size_t i, size_t *end)
{
    size_t n = 0;
    i++;
    for (;;) {
        char c = p->src[i];
        if (c == '\0') {
            return perr(p, "%s", "unterminated quoted literal");
        }
        if (c == '\'') {
            if (p->src[i + 1] == '\'') {
                i++;
            } else {
                break;
            }
        }
        if ((unsigned char)c < 0x20) {
            return perr(p, "%s", "control character in a quoted literal");
        }
        if (n >= REG_STRING_MAX) {
            return err_set_field(p->ei, ERR_TOO_LARGE, "where",
                                 "where: a literal is longer than %d bytes", REG_STRING_MAX);
        }
        p->text[n++] = c;
        i++;
    }
    p->text[n] = '\0';
    *end = i + 1;
    return ERR_OK;
}

static enum err lex(struct parser *p)
{
    size_t i = p->next;
    while (p->src[i] == ' ' || p->src[i] == '\t' || p->src[i] == '\n' || p->src[i] == '\r') {
        i++;
    }
    p->pos = i;
    char c = p->src[i];
    p->text[0] = '\0';
    if (c == '\0') {
        p->tok = T_END;
        p->next = i;
        return ERR_OK;
    }
    if (c == '(' || c == ')' || c == ',') {
        p->tok = c == '(' ? T_LP : c == ')' ? T_RP : T_COMMA;
        p->next = i + 1;
        return ERR_OK;
    }
    if (c == '=' || c == '<' || c == '>' || c == '!') {
        char d = p->src[i + 1];
        size_t n = 1;
        if ((c == '<' && (d == '=' || d == '>')) || (c == '>' && d == '=') ||
            (c == '!' && d == '=')) {
            n = 2;
        } else if (c == '!') {
            return perr(p, "%s", "'!' must be followed by '='");
        }
        memcpy(p->op, p->src + i, n);
        p->op[n] = '\0';
        if (strcmp(p->op, "<>") == 0) {
            str_copy(p->op, sizeof p->op, "!=");
        }
        p->tok = T_OP;
        p->next = i + n;
        return ERR_OK;
    }
    if ((c == 'T' || c == 't') && p->src[i + 1] == '\'') {
        p->tok = T_TIME;
        return lex_quoted(p, i + 1, &p->next);
    }
    if (c == '\'') {
        p->tok = T_STR;
        return lex_quoted(p, i, &p->next);
    }
    if (isdigit((unsigned char)c) || (c == '-' && isdigit((unsigned char)p->src[i + 1]))) {
        size_t n = 0;
        if (c == '-') {
            p->text[n++] = '-';
            i++;
        }
        while (isdigit((unsigned char)p->src[i])) {
            if (n >= 19) {
                return perr(p, "%s", "integer out of range");
            }
            p->text[n++] = p->src[i++];
        }
        if (is_ident_char((unsigned char)p->src[i])) {
            return perr(p, "%s", "bad number");
        }
        p->text[n] = '\0';
        p->tok = T_INT;
        p->next = i;
        return ERR_OK;
    }
    if (is_ident_start((unsigned char)c)) {
        size_t n = 0;
        while (is_ident_char((unsigned char)p->src[i])) {
            if (n >= 64) {
                return perr(p, "%s", "identifier too long");
            }
            p->text[n++] = p->src[i++];
        }
        p->text[n] = '\0';
        p->tok = T_IDENT;
        p->next = i;
        return ERR_OK;
    }
    char ch[8];
    snprintf(ch, sizeof ch, (unsigned char)c < 0x20 || (unsigned char)c >= 0x7f ? "\\x%02x" : "%c",
             (unsigned char)c);
    return perr(p, "unexpected character '%s'", ch);
}

static bool is_kw(const struct parser *p, const char *kw)
{
    return p->tok == T_IDENT && strcasecmp(p->text, kw) == 0;
}

static enum err emit(struct parser *p, const char *s)
{
    enum err e = buf_puts(&p->w->sql, s);
    return e == ERR_OK ? ERR_OK
                       : err_set_field(p->ei, e, "where", "where: the expression is too large");
}

/* Add a parameter, emit "$n::cast". */
static enum err add_param(struct parser *p, const char *value, const char *cast)
{
    struct reg_where *w = p->w;
    if (w->nparams >= REG_WHERE_PARAMS_MAX) {
        return err_set_field(p->ei, ERR_TOO_LARGE, "where", "where: more than %d values",
                             REG_WHERE_PARAMS_MAX);
    }
    w->params[w->nparams] = str_dup(value);
    if (!w->params[w->nparams]) {
        return err_set(p->ei, ERR_NOMEM, "out of memory");
    }
    w->nparams++;
    char ph[48];
    snprintf(ph, sizeof ph, "$%d::%s", p->first + w->nparams - 1, cast);
    return emit(p, ph);
}

static const char *cast_of(enum vtype t, bool array)
{
    switch (t) {
    case V_INT:
        return array ? "bigint[]" : "bigint";
    case V_TEXT:
        return array ? "text[]" : "text";
    default:
        return array ? "timestamptz[]" : "timestamptz";
    }
}

static enum err lookup_field(struct parser *p, const struct field **out)
{
    const struct field *f = NULL;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (strcmp(fields[i].name, p->text) == 0) {
            f = &fields[i];
        }
    }
    if (!f) {
        return err_set_field(p->ei, ERR_PARSE, "where",
                             "where, at offset %zu: unknown dimension or field \"%s\"", p->pos,
                             p->text);
    }
    if (f->dim) {
        bool have = false;
        for (size_t i = 0; p->dims && p->dims[i]; i++) {
            have = have || strcmp(p->dims[i], f->dim) == 0;
        }
        if (!have) {
            return err_set_field(p->ei, ERR_PARSE, "where",
                                 "where: \"%s\" is not a dimension of dataset type %s", f->dim,
                                 p->type ? p->type : "?");
        }
    }
    p->w->needs_exposure = p->w->needs_exposure || f->exposure;
    *out = f;
    return ERR_OK;
}

/* The current token as a literal of type @p t into @p out (normalised). */
static enum err literal(struct parser *p, enum vtype t, char *out, size_t cap)
{
    bool ok = (t == V_INT && p->tok == T_INT) || (t == V_TEXT && p->tok == T_STR) ||
              (t == V_TIME && p->tok == T_TIME);
    if (!ok) {
        return perr(p, "expected %s", vtype_name(t));
    }
    if (t == V_TIME) {
        if (!reg_time_normalise(p->text, out, cap)) {
            return perr(p, "bad time '%s' (ISO-8601: YYYY-MM-DD[THH:MM[:SS[.f]]][Z|+HH:MM])",
                        p->text);
        }
        return ERR_OK;
    }
    str_copy(out, cap, p->text);
    return ERR_OK;
}

/* Append an element to a PostgreSQL array literal: integers as they are, others quoted. */
static enum err array_add(struct parser *p, struct buf *arr, enum vtype t, const char *v)
{
    enum err e = buf_puts(arr, arr->len > 1 ? "," : "");
    if (e == ERR_OK && t == V_INT) {
        e = buf_puts(arr, v);
    } else if (e == ERR_OK) {
        e = buf_puts(arr, "\"");
        for (const char *s = v; e == ERR_OK && *s; s++) {
            if (*s == '"' || *s == '\\') {
                e = buf_puts(arr, "\\");
            }
            if (e == ERR_OK) {
                e = buf_append(arr, s, 1);
            }
        }
        if (e == ERR_OK) {
            e = buf_puts(arr, "\"");
        }
    }
    return e == ERR_OK ? ERR_OK : err_set_field(p->ei, e, "where", "where: IN list too large");
}

static enum err parse_in(struct parser *p, const struct field *f, bool negated)
{
    enum err e = lex(p);
    if (e == ERR_OK && p->tok != T_LP) {
        e = perr(p, "%s", "expected '(' after IN");
    }
    struct buf arr;
    buf_init(&arr, (size_t)REG_WHERE_IN_MAX * (REG_STRING_MAX * 2 + 4));
    if (e == ERR_OK) {
        e = buf_puts(&arr, "{") == ERR_OK ? ERR_OK : err_set(p->ei, ERR_NOMEM, "out of memory");
    }
    int n = 0;
    while (e == ERR_OK) {
        char v[REG_STRING_MAX + 64];
        if ((e = lex(p)) != ERR_OK || (e = literal(p, f->type, v, sizeof v)) != ERR_OK) {
            break;
        }
        if (++n > REG_WHERE_IN_MAX) {
            e = err_set_field(p->ei, ERR_TOO_LARGE, "where", "where: more than %d values in IN",
                              REG_WHERE_IN_MAX);
            break;
        }
        if ((e = array_add(p, &arr, f->type, v)) != ERR_OK || (e = lex(p)) != ERR_OK) {
            break;
        }
        if (p->tok == T_RP) {
            break;
        }
        if (p->tok != T_COMMA) {
            e = perr(p, "%s", "expected ',' or ')' in the IN list");
        }
    }
    if (e == ERR_OK && buf_puts(&arr, "}") != ERR_OK) {
        e = err_set(p->ei, ERR_NOMEM, "out of memory");
    }
    if (e == ERR_OK) {
        e = emit(p, negated ? "(NOT coalesce(" : "(");
    }
    if (e == ERR_OK) {
        e = emit(p, f->sql);
    }
    if (e == ERR_OK) {
        e = emit(p, " = ANY(");
    }
    if (e == ERR_OK) {
        e = add_param(p, buf_cstr(&arr), cast_of(f->type, true));
    }
    if (e == ERR_OK) {
        e = emit(p, negated ? "), false))" : "))");
    }
    buf_free(&arr);
    return e == ERR_OK ? lex(p) : e;
}

static enum err parse_overlaps(struct parser *p, const struct field *f)
{
    char a[REG_STRING_MAX + 64], b[REG_STRING_MAX + 64];
    enum err e = lex(p);
    if (e == ERR_OK && p->tok != T_LP) {
        e = perr(p, "%s", "expected '(' after OVERLAPS");
    }
    if (e == ERR_OK && (e = lex(p)) == ERR_OK) {
        e = literal(p, V_TIME, a, sizeof a);
    }
    if (e == ERR_OK && (e = lex(p)) == ERR_OK && p->tok != T_COMMA) {
        e = perr(p, "%s", "expected ',' between the two times of OVERLAPS");
    }
    if (e == ERR_OK && (e = lex(p)) == ERR_OK) {
        e = literal(p, V_TIME, b, sizeof b);
    }
    if (e == ERR_OK && (e = lex(p)) == ERR_OK && p->tok != T_RP) {
        e = perr(p, "%s", "expected ')' after the times of OVERLAPS");
    }
    if (e == ERR_OK) {
        e = emit(p, "(");
    }
    if (e == ERR_OK) {
        e = emit(p, f->sql);
    }
    if (e == ERR_OK) {
        e = emit(p, " && tstzrange(");
    }
    if (e == ERR_OK) {
        e = add_param(p, a, "timestamptz");
    }
    if (e == ERR_OK) {
        e = emit(p, ", ");
    }
    if (e == ERR_OK) {
        e = add_param(p, b, "timestamptz");
    }
    if (e == ERR_OK) {
        e = emit(p, ", '[)'))");
    }
    return e == ERR_OK ? lex(p) : e;
}

static const char *flip(const char *op)
{
    if (strcmp(op, "<") == 0) {
        return ">";
    }
    if (strcmp(op, "<=") == 0) {
        return ">=";
    }
    if (strcmp(op, ">") == 0) {
        return "<";
    }
    if (strcmp(op, ">=") == 0) {
        return "<=";
    }
    return op;
}

static enum err
comparison(struct parser *p, const struct field *f, const char *op, const char *value)
{
    if (f->type == V_RANGE) {
        return perr(p, "%s", "exposure.timespan takes only OVERLAPS (T'begin', T'end')");
    }
    enum err e = emit(p, "(");
    if (e == ERR_OK) {
        e = emit(p, f->sql);
    }
    if (e == ERR_OK) {
        e = emit(p, " ");
    }
    if (e == ERR_OK) {
        e = emit(p, strcmp(op, "!=") == 0 ? "<>" : op);
    }
    if (e == ERR_OK) {
        e = emit(p, " ");
    }
    if (e == ERR_OK) {
        e = add_param(p, value, cast_of(f->type, false));
    }
    return e == ERR_OK ? emit(p, ")") : e;
}

static enum err parse_or(struct parser *p);

static enum err parse_pred(struct parser *p)
{
    const struct field *f = NULL;
    char v[REG_STRING_MAX + 64];
    char op[3];
    enum err e = ERR_OK;
    if (p->tok == T_INT || p->tok == T_STR || p->tok == T_TIME) {
        /* literal op field */
        enum tok lt = p->tok;
        char lit[REG_STRING_MAX + 1];
        size_t lpos = p->pos;
        str_copy(lit, sizeof lit, p->text);
        if ((e = lex(p)) != ERR_OK) {
            return e;
        }
        if (p->tok != T_OP) {
            return perr(p, "%s", "expected a comparison operator");
        }
        str_copy(op, sizeof op, p->op);
        if ((e = lex(p)) != ERR_OK) {
            return e;
        }
        if (p->tok != T_IDENT) {
            return perr(p, "%s", "expected a dimension or field");
        }
        if ((e = lookup_field(p, &f)) != ERR_OK) {
            return e;
        }
        size_t fpos = p->pos;
        p->tok = lt;
        p->pos = lpos;
        str_copy(p->text, sizeof p->text, lit);
        if ((e = literal(p, f->type == V_RANGE ? V_TIME : f->type, v, sizeof v)) != ERR_OK) {
            return e;
        }
        p->pos = fpos;
        if ((e = comparison(p, f, flip(op), v)) != ERR_OK) {
            return e;
        }
        return lex(p);
    }
    if (p->tok != T_IDENT) {
        return perr(p, "%s",
                    p->tok == T_END ? "unexpected end of expression"
                                    : "expected a dimension, a field or '('");
    }
    if ((e = lookup_field(p, &f)) != ERR_OK || (e = lex(p)) != ERR_OK) {
        return e;
    }
    if (is_kw(p, "IN")) {
        return parse_in(p, f, false);
    }
    if (is_kw(p, "NOT")) {
        if ((e = lex(p)) != ERR_OK) {
            return e;
        }
        if (!is_kw(p, "IN")) {
            return perr(p, "%s", "expected IN after NOT");
        }
        return parse_in(p, f, true);
    }
    if (is_kw(p, "OVERLAPS")) {
        if (f->type != V_RANGE) {
            return perr(p, "%s", "OVERLAPS applies to exposure.timespan");
        }
        return parse_overlaps(p, f);
    }
    if (p->tok != T_OP) {
        return perr(p, "%s", "expected an operator (= != < <= > >= IN OVERLAPS)");
    }
    str_copy(op, sizeof op, p->op);
    if ((e = lex(p)) != ERR_OK) {
        return e;
    }
    if (f->type == V_RANGE) {
        return perr(p, "%s", "exposure.timespan takes only OVERLAPS (T'begin', T'end')");
    }
    if ((e = literal(p, f->type, v, sizeof v)) != ERR_OK) {
        return e;
    }
    if ((e = comparison(p, f, op, v)) != ERR_OK) {
        return e;
    }
    return lex(p);
}

static enum err parse_not(struct parser *p)
{
    enum err e = ERR_OK;
    if (++p->depth > REG_WHERE_DEPTH_MAX) {
        return err_set_field(p->ei, ERR_TOO_LARGE, "where", "where: nested deeper than %d",
                             REG_WHERE_DEPTH_MAX);
    }
    if (is_kw(p, "NOT")) {
        if ((e = emit(p, "(NOT ")) == ERR_OK && (e = lex(p)) == ERR_OK &&
            (e = parse_not(p)) == ERR_OK) {
            e = emit(p, ")");
        }
    } else if (p->tok == T_LP) {
        if ((e = emit(p, "(")) == ERR_OK && (e = lex(p)) == ERR_OK && (e = parse_or(p)) == ERR_OK) {
            if (p->tok != T_RP) {
                e = perr(p, "%s", "expected ')'");
            } else if ((e = emit(p, ")")) == ERR_OK) {
                e = lex(p);
            }
        }
    } else {
        e = parse_pred(p);
    }
    p->depth--;
    return e;
}

static enum err parse_and(struct parser *p)
{
    enum err e = parse_not(p);
    while (e == ERR_OK && is_kw(p, "AND")) {
        if ((e = emit(p, " AND ")) == ERR_OK && (e = lex(p)) == ERR_OK) {
            e = parse_not(p);
        }
    }
    return e;
}

static enum err parse_or(struct parser *p)
{
    enum err e = parse_and(p);
    while (e == ERR_OK && is_kw(p, "OR")) {
        if ((e = emit(p, " OR ")) == ERR_OK && (e = lex(p)) == ERR_OK) {
            e = parse_and(p);
        }
    }
    return e;
}

void reg_where_free(struct reg_where *w)
{
    if (!w) {
        return;
    }
    for (int i = 0; i < w->nparams; i++) {
        free(w->params[i]);
    }
    buf_free(&w->sql);
    free(w);
}

enum err reg_where_compile(const char *expr,
                           const char *const *dims,
                           const char *type,
                           int first_param,
                           struct reg_where **out,
                           struct err_info *ei)
{
    if (!expr) {
        expr = "";
    }
    if (strlen(expr) > REG_WHERE_MAX) {
        return err_set_field(ei, ERR_TOO_LARGE, "where", "where: longer than %d bytes",
                             REG_WHERE_MAX);
    }
    struct reg_where *w = calloc(1, sizeof *w);
    if (!w) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    buf_init(&w->sql, REG_SQL_MAX);
    struct parser p = {
        .src = expr, .dims = dims, .type = type, .first = first_param, .w = w, .ei = ei};
    enum err e = lex(&p);
    if (e == ERR_OK && p.tok == T_END) {
        e = emit(&p, "true");
    } else if (e == ERR_OK) {
        e = emit(&p, "(");
        if (e == ERR_OK) {
            e = parse_or(&p);
        }
        if (e == ERR_OK && p.tok != T_END) {
            e = perr(&p, "%s", "expected AND, OR or the end of the expression");
        }
        if (e == ERR_OK) {
            e = emit(&p, ")");
        }
    }
    if (e != ERR_OK) {
        reg_where_free(w);
        return e;
    }
    *out = w;
    return ERR_OK;
}

const char *reg_where_sql(const struct reg_where *w)
{
    return buf_cstr(&w->sql);
}

int reg_where_nparams(const struct reg_where *w)
{
    return w->nparams;
}

const char *reg_where_param(const struct reg_where *w, int i)
{
    return i >= 0 && i < w->nparams ? w->params[i] : NULL;
}

bool reg_where_needs_exposure(const struct reg_where *w)
{
    return w->needs_exposure;
}

/* ---- times -------------------------------------------------------------------------------- */

static bool digits(const char *s, int n)
{
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

static int num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

bool reg_time_normalise(const char *s, char *out, size_t cap)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!s || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
        !digits(s + 8, 2)) {
        return false;
    }
    int y = num(s, 4), mo = num(s + 5, 2), d = num(s + 8, 2);
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1]) {
        return false;
    }
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) {
        return false;
    }
    const char *t = s + 10;
    char clock[32] = "00:00:00";
    if (*t == 'T' || *t == ' ') {
        t++;
        if (!digits(t, 2) || t[2] != ':' || !digits(t + 3, 2) || num(t, 2) > 23 ||
            num(t + 3, 2) > 59) {
            return false;
        }
        size_t n = 5;
        if (t[5] == ':') {
            if (!digits(t + 6, 2) || num(t + 6, 2) > 59) {
                return false;
            }
            n = 8;
            if (t[8] == '.') {
                n = 9;
                while (isdigit((unsigned char)t[n]) && n < 15) {
                    n++;
                }
                if (n == 9 || isdigit((unsigned char)t[n])) {
                    return false;
                }
            }
        }
        memcpy(clock, t, n);
        clock[n] = '\0';
        if (n == 5) {
            str_copy(clock + 5, sizeof clock - 5, ":00");
        }
        t += n;
    }
    char zone[8] = "+00:00";
    if (*t == 'Z') {
        t++;
    } else if (*t == '+' || *t == '-') {
        if (!digits(t + 1, 2) || t[3] != ':' || !digits(t + 4, 2) || num(t + 1, 2) > 14 ||
            num(t + 4, 2) > 59) {
            return false;
        }
        memcpy(zone, t, 6);
        zone[6] = '\0';
        t += 6;
    }
    if (*t != '\0') {
        return false;
    }
    int n = snprintf(out, cap, "%04d-%02d-%02dT%s%s", y, mo, d, clock, zone);
    return n > 0 && (size_t)n < cap;
}
