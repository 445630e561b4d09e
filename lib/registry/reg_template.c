/* reg_template.c - Butler-style file templates (see registry.h): parse, check that a template
 * makes unique paths for a dataset type, render a dataset's relative path.
 * SPDX-License-Identifier: Apache-2.0 */
#include "registry/registry.h"

#include "core/str.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tfield { F_RUN, F_TYPE, F_ID, F_INSTRUMENT, F_DETECTOR, F_EXPOSURE, F_FILTER, F__N };

static const char *const tnames[F__N] = {
    "run", "dataset_type", "id", "instrument", "detector", "exposure", "physical_filter"};

struct tpart {
    char *lit; /* literal text before the field (owned, may be "") */
    int field; /* enum tfield, -1 for the trailing literal */
    bool optional, keep_slash;
    int width; /* zero padding of an integer, 0 = none */
};

struct reg_template {
    struct tpart parts[REG_TEMPLATE_FIELDS_MAX + 1];
    size_t nparts;
};

void reg_template_free(struct reg_template *t)
{
    if (!t) {
        return;
    }
    for (size_t i = 0; i < t->nparts; i++) {
        free(t->parts[i].lit);
    }
    free(t);
}

static enum err bad(struct err_info *ei, size_t at, const char *what)
{
    return err_set_field(ei, ERR_INVALID, "template", "template, at offset %zu: %s", at, what);
}

static enum err add_part(struct reg_template *t, const char *lit, size_t n, struct err_info *ei)
{
    if (t->nparts > REG_TEMPLATE_FIELDS_MAX) {
        return err_set_field(ei, ERR_TOO_LARGE, "template", "template: more than %d fields",
                             REG_TEMPLATE_FIELDS_MAX);
    }
    struct tpart *p = &t->parts[t->nparts];
    p->lit = str_ndup(lit, n);
    if (!p->lit) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    p->field = -1;
    t->nparts++;
    return ERR_OK;
}

enum err reg_template_parse(const char *text, struct reg_template **out, struct err_info *ei)
{
    size_t len = text ? strlen(text) : 0;
    if (len == 0 || len > REG_TEMPLATE_MAX) {
        return err_set_field(ei, ERR_INVALID, "template", "a template is 1 to %d bytes",
                             REG_TEMPLATE_MAX);
    }
    struct reg_template *t = calloc(1, sizeof *t);
    if (!t) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    enum err e = ERR_OK;
    size_t lit0 = 0;
    for (size_t i = 0; i < len && e == ERR_OK;) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c == 0x7f || c == '\\') {
            e = bad(ei, i, "control character or backslash");
            break;
        }
        if (c == '}') {
            e = bad(ei, i, "'}' without '{'");
            break;
        }
        if (c != '{') {
            i++;
            continue;
        }
        const char *close = strchr(text + i, '}');
        if (!close) {
            e = bad(ei, i, "'{' without '}'");
            break;
        }
        char inner[64];
        size_t n = (size_t)(close - (text + i + 1));
        if (n == 0 || n >= sizeof inner) {
            e = bad(ei, i, "empty or overlong field");
            break;
        }
        memcpy(inner, text + i + 1, n);
        inner[n] = '\0';
        char *spec = strchr(inner, ':');
        if (spec) {
            *spec++ = '\0';
        }
        int f = -1;
        for (int k = 0; k < F__N; k++) {
            if (strcmp(tnames[k], inner) == 0) {
                f = k;
            }
        }
        if (f < 0) {
            char m[128];
            snprintf(m, sizeof m, "unknown field \"%.60s\"", inner);
            e = bad(ei, i, m);
            break;
        }
        if ((e = add_part(t, text + lit0, i - lit0, ei)) != ERR_OK) {
            break;
        }
        struct tpart *p = &t->parts[t->nparts - 1];
        p->field = f;
        for (const char *s = spec; s && *s && e == ERR_OK;) {
            if (*s == '?') {
                p->optional = true;
                s++;
            } else if (*s == '/') {
                p->keep_slash = true;
                s++;
            } else if (s[0] == '0' && isdigit((unsigned char)s[1])) {
                int w = 0;
                s++;
                while (isdigit((unsigned char)*s) && w < 100) {
                    w = w * 10 + (*s++ - '0');
                }
                if (*s != 'd' || w < 1 || w > 18 || (f != F_DETECTOR && f != F_EXPOSURE)) {
                    e = bad(ei, i, "a width is 0Nd (N 1..18) on detector or exposure");
                }
                p->width = w;
                s++;
            } else {
                e = bad(ei, i, "a format is a mix of ?, / and 0Nd");
            }
        }
        i += n + 2;
        lit0 = i;
    }
    if (e == ERR_OK) {
        e = add_part(t, text + lit0, len - lit0, ei);
    }
    if (e != ERR_OK) {
        reg_template_free(t);
        return e;
    }
    *out = t;
    return ERR_OK;
}

enum err reg_template_check(const struct reg_template *t,
                            const char *const *dims,
                            const char *type,
                            struct err_info *ei)
{
    bool need[F__N] = {false}, have[F__N] = {false};
    for (size_t i = 0; dims && dims[i]; i++) {
        for (int k = F_INSTRUMENT; k < F__N; k++) {
            need[k] = need[k] || strcmp(tnames[k], dims[i]) == 0;
        }
    }
    for (size_t i = 0; i < t->nparts; i++) {
        const struct tpart *p = &t->parts[i];
        if (p->field < 0) {
            continue;
        }
        if (p->field >= F_INSTRUMENT && !need[p->field] && !p->optional) {
            return err_set_field(ei, ERR_INVALID, "template",
                                 "template: {%s} is not a dimension of dataset type %s (mark it "
                                 "optional with :?)",
                                 tnames[p->field], type ? type : "?");
        }
        if (!p->optional) {
            have[p->field] = true;
        }
    }
    if (!have[F_RUN] && !have[F_ID]) {
        return err_set_field(ei, ERR_INVALID, "template",
                             "template: paths are unique only with {run} or {id}");
    }
    for (int k = F_INSTRUMENT; k < F__N && !have[F_ID]; k++) {
        if (need[k] && !have[k]) {
            return err_set_field(ei, ERR_INVALID, "template",
                                 "template: two %s datasets that differ only in %s would get the "
                                 "same path: add {%s} (or {id})",
                                 type ? type : "?", tnames[k], tnames[k]);
        }
    }
    return ERR_OK;
}

/* Append @p s to @p out at *@p n, '/' becoming '_' unless @p keep_slash, characters a file
 * name should not have becoming '_'. */
static bool put(char *out, size_t cap, size_t *n, const char *s, bool keep_slash, bool literal)
{
    for (; *s; s++) {
        char c = *s;
        if (!literal &&
            ((c == '/' && !keep_slash) || strchr(" <>:\"|?*\\", c) || (unsigned char)c < 0x20)) {
            c = '_';
        }
        if (*n + 1 >= cap) {
            return false;
        }
        out[(*n)++] = c;
    }
    out[*n] = '\0';
    return true;
}

enum err reg_template_render(const struct reg_template *t,
                             const char *run,
                             const char *type,
                             const char *id,
                             const json_t *data_id,
                             char *out,
                             size_t cap,
                             struct err_info *ei)
{
    char raw[REG_PATH_MAX];
    size_t n = 0;
    raw[0] = '\0';
    for (size_t i = 0; i < t->nparts; i++) {
        const struct tpart *p = &t->parts[i];
        char v[REG_PATH_MAX];
        const char *val = NULL;
        if (p->field == F_RUN) {
            val = run;
        } else if (p->field == F_TYPE) {
            val = type;
        } else if (p->field == F_ID) {
            val = id;
        } else if (p->field >= F_INSTRUMENT) {
            const json_t *x = json_object_get(data_id, tnames[p->field]);
            if (json_is_integer(x)) {
                snprintf(v, sizeof v, "%0*lld", p->width, (long long)json_integer_value(x));
                val = v;
            } else if (json_is_string(x)) {
                val = json_string_value(x);
            }
        }
        bool absent = p->field >= 0 && (!val || !val[0]);
        if (absent && !p->optional) {
            return err_set_field(ei, ERR_INVALID, "template", "template: no value for {%s}",
                                 tnames[p->field]);
        }
        /* an absent optional field takes the literal before it along, unless it has a '/' */
        bool drop_lit = absent && !strchr(p->lit, '/');
        if ((!drop_lit && !put(raw, sizeof raw, &n, p->lit, true, true)) ||
            (!absent && p->field >= 0 && !put(raw, sizeof raw, &n, val, p->keep_slash, false))) {
            return err_set_field(ei, ERR_TOO_LARGE, "template", "template: path too long");
        }
    }
    /* normalise: no empty, "." or ".." segment, relative */
    size_t m = 0;
    for (char *seg = raw; seg;) {
        char *slash = strchr(seg, '/');
        if (slash) {
            *slash = '\0';
        }
        if (seg[0]) {
            const char *s = strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0 ? "_" : seg;
            size_t l = strlen(s);
            if (m + l + 2 > cap) {
                return err_set_field(ei, ERR_TOO_LARGE, "template", "template: path too long");
            }
            if (m) {
                out[m++] = '/';
            }
            memcpy(out + m, s, l);
            m += l;
        }
        seg = slash ? slash + 1 : NULL;
    }
    if (m == 0) {
        return err_set_field(ei, ERR_INVALID, "template", "template: the path is empty");
    }
    out[m] = '\0';
    return ERR_OK;
}
