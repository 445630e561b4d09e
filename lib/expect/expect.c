/* expect.c - compiled expectations, header model, card parser and the checker.
 * SPDX-License-Identifier: Apache-2.0 */
#include "expect/expect.h"
#include "fits/fits.h"

#include "core/buf.h"
#include "core/cfgdir.h"
#include "core/re_check.h"
#include "core/str.h"

#include <ctype.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define EXPECT_ENUM_MAX   64 /* most values in one enum */
#define EXPECT_BITPIX_MAX 6  /* most BITPIX values listed */
#define EXPECT_NAXIS_MAX  8  /* most NAXIS values listed */
#define EXPECT_VALUE_MAX  1024

/* append to a capped text buffer: truncation is acceptable for summaries, running out of memory
 * is not (it sets *nomem: the report would be incomplete) */
#define BUF_TRY(nomem, call)                                                                       \
    do {                                                                                           \
        if ((call) == ERR_NOMEM) {                                                                 \
            *(nomem) = true;                                                                       \
        }                                                                                          \
    } while (0)

enum ktype { KT_ANY = 0, KT_STRING, KT_NUMBER, KT_INTEGER, KT_BOOLEAN };

static const char *const ktype_names[] = {"any", "string", "number", "integer", "boolean"};

struct krule {
    char name[72];
    enum ktype type;
    bool required;
    size_t n_enum;
    json_t *enums; /* array of strings or numbers (owned reference) */
    char *pattern; /* owned, NULL when none */
    regex_t re;
    bool has_min, has_max;
    double min, max;
    bool same_as_input; /* value equal to the input's keyword of the same HDU */
};

struct hrule {
    char name[72];
    int ver;
    bool required;
    size_t n_bitpix;
    int bitpix[EXPECT_BITPIX_MAX];
    size_t n_naxis;
    int naxis[EXPECT_NAXIS_MAX];
    size_t nk;
    struct krule *k;
    bool versions_input;      /* one HDU per EXTVER the input has under this name */
    char shape_as[72];        /* NAXISn equal to those of this EXTNAME, same EXTVER ("" = none) */
    bool shape_within_input;  /* NAXISn at most the input's (NPIXn of a constant array) */
};

struct expect {
    char id[80];
    char instrument[32];
    char kind[32];
    size_t nh;
    struct hrule *h;
};

/* ---- compile --------------------------------------------------------------------------- */

static void krule_free(struct krule *k)
{
    json_decref(k->enums);
    if (k->pattern) {
        regfree(&k->re);
        free(k->pattern);
    }
}

void expect_destroy(struct expect *e)
{
    if (!e) {
        return;
    }
    for (size_t i = 0; i < e->nh; i++) {
        for (size_t j = 0; j < e->h[i].nk; j++) {
            krule_free(&e->h[i].k[j]);
        }
        free(e->h[i].k);
    }
    free(e->h);
    free(e);
}

const char *expect_id(const struct expect *e)
{
    return e->id;
}

static bool only_keys(const json_t *obj, const char *const *allowed, size_t n, const char **bad)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)obj, key, v) {
        (void)v;
        bool ok = false;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(key, allowed[i]) == 0) {
                ok = true;
                break;
            }
        }
        if (!ok) {
            *bad = key;
            return false;
        }
    }
    return true;
}

static enum err int_list(const json_t *v, int *out, size_t cap, size_t *n, const char *field,
                         struct err_info *ei)
{
    *n = 0;
    if (!v) {
        return ERR_OK;
    }
    if (json_is_integer(v)) {
        out[(*n)++] = (int)json_integer_value(v);
        return ERR_OK;
    }
    if (!json_is_array(v) || json_array_size(v) > cap) {
        return err_set_field(ei, ERR_INVALID, field,
                             "%s must be an integer or a list of at most %zu integers", field, cap);
    }
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
        if (!json_is_integer(x)) {
            return err_set_field(ei, ERR_INVALID, field, "%s must list integers", field);
        }
        out[(*n)++] = (int)json_integer_value(x);
    }
    return ERR_OK;
}

static enum err compile_krule(const char *kname, const json_t *spec, struct krule *k,
                              const char *hpath, struct err_info *ei)
{
    static const char *const allowed[] = {"type",     "enum",     "pattern",      "minimum",
                                          "maximum",  "required", "same_as_input", "description"};
    char field[ERR_INFO_FIELD_MAX];
    const char *bad = NULL;
    snprintf(field, sizeof field, "%s.keywords.%s", hpath, kname);
    memset(k, 0, sizeof *k);
    if (strlen(kname) == 0 || strlen(kname) >= sizeof k->name) {
        return err_set_field(ei, ERR_INVALID, field, "invalid keyword name \"%s\"", kname);
    }
    for (const char *c = kname; *c; c++) {
        if (!(isupper((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '-' || *c == '_')) {
            return err_set_field(ei, ERR_INVALID, field,
                                 "keyword name \"%s\" must be upper case FITS characters", kname);
        }
    }
    str_copy(k->name, sizeof k->name, kname);
    k->required = true;
    if (json_is_string(spec)) {
        /* shorthand: KEY: number */
        spec = json_pack("{s:O}", "type", spec);
        if (!spec) {
            return err_set(ei, ERR_NOMEM, "out of memory");
        }
        enum err rc = compile_krule(kname, spec, k, hpath, ei);
        json_decref((json_t *)(uintptr_t)spec);
        return rc;
    }
    if (json_is_null(spec)) {
        return ERR_OK; /* KEY: (present, any value) */
    }
    if (!json_is_object(spec)) {
        return err_set_field(ei, ERR_INVALID, field, "%s must be a mapping or a type name", field);
    }
    if (!only_keys(spec, allowed, ARRAY_LEN(allowed), &bad)) {
        return err_set_field(ei, ERR_INVALID, field, "unrecognized rule \"%s\" in %s", bad,
                             field);
    }
    const json_t *t = json_object_get(spec, "type");
    if (t) {
        bool found = false;
        for (size_t i = 0; i < ARRAY_LEN(ktype_names); i++) {
            if (json_is_string(t) && strcmp(json_string_value(t), ktype_names[i]) == 0) {
                k->type = (enum ktype)i;
                found = true;
            }
        }
        if (!found) {
            return err_set_field(ei, ERR_INVALID, field,
                                 "%s.type must be one of any, string, number, integer, boolean",
                                 field);
        }
    }
    const json_t *r = json_object_get(spec, "required");
    if (r) {
        if (!json_is_boolean(r)) {
            return err_set_field(ei, ERR_INVALID, field, "%s.required must be true or false",
                                 field);
        }
        k->required = json_is_true(r);
    }
    const json_t *en = json_object_get(spec, "enum");
    if (en) {
        if (!json_is_array(en) || json_array_size(en) == 0 ||
            json_array_size(en) > EXPECT_ENUM_MAX) {
            return err_set_field(ei, ERR_INVALID, field,
                                 "%s.enum must be a list of 1 to %d values", field,
                                 EXPECT_ENUM_MAX);
        }
        size_t i;
        json_t *x;
        json_array_foreach(en, i, x) {
            if (!json_is_string(x) && !json_is_number(x) && !json_is_boolean(x)) {
                return err_set_field(ei, ERR_INVALID, field, "%s.enum must list scalars", field);
            }
        }
        k->enums = json_incref((json_t *)(uintptr_t)en);
        k->n_enum = json_array_size(en);
    }
    const json_t *pat = json_object_get(spec, "pattern");
    if (pat) {
        if (!json_is_string(pat)) {
            return err_set_field(ei, ERR_INVALID, field, "%s.pattern must be a string", field);
        }
        struct err_info rei;
        enum err crc = re_check_ere(json_string_value(pat), &rei);
        if (crc != ERR_OK) {
            return err_set_field(ei, crc, field, "%s.pattern: %s", field, rei.msg);
        }
        int rrc = regcomp(&k->re, json_string_value(pat), REG_EXTENDED | REG_NOSUB);
        if (rrc != 0) {
            char msg[128];
            regerror(rrc, &k->re, msg, sizeof msg);
            return err_set_field(ei, ERR_INVALID, field, "invalid %s.pattern: %s", field, msg);
        }
        k->pattern = str_dup(json_string_value(pat));
        if (!k->pattern) {
            regfree(&k->re);
            return err_set(ei, ERR_NOMEM, "out of memory");
        }
    }
    const json_t *sai = json_object_get(spec, "same_as_input");
    if (sai) {
        if (!json_is_boolean(sai)) {
            return err_set_field(ei, ERR_INVALID, field, "%s.same_as_input must be true or false",
                                 field);
        }
        k->same_as_input = json_is_true(sai);
    }
    const json_t *mn = json_object_get(spec, "minimum");
    const json_t *mx = json_object_get(spec, "maximum");
    if ((mn && !json_is_number(mn)) || (mx && !json_is_number(mx))) {
        return err_set_field(ei, ERR_INVALID, field, "%s.minimum/maximum must be numbers", field);
    }
    if (mn) {
        k->has_min = true;
        k->min = json_number_value(mn);
    }
    if (mx) {
        k->has_max = true;
        k->max = json_number_value(mx);
    }
    return ERR_OK;
}

static enum err compile_hrule(const json_t *spec, size_t idx, struct hrule *h, struct err_info *ei)
{
    static const char *const allowed[] = {"name",     "ver",      "required",
                                          "bitpix",   "naxis",    "keywords",
                                          "versions", "shape_as", "shape_within_input",
                                          "description"};
    char field[64];
    const char *bad = NULL;
    enum err rc;
    snprintf(field, sizeof field, "hdus[%zu]", idx);
    memset(h, 0, sizeof *h);
    if (!json_is_object(spec)) {
        return err_set_field(ei, ERR_INVALID, field, "%s must be a mapping", field);
    }
    if (!only_keys(spec, allowed, ARRAY_LEN(allowed), &bad)) {
        return err_set_field(ei, ERR_INVALID, field, "unrecognized field \"%s\" in %s", bad,
                             field);
    }
    const json_t *name = json_object_get(spec, "name");
    if (!json_is_string(name) || json_string_length(name) == 0 ||
        json_string_length(name) >= sizeof h->name) {
        return err_set_field(ei, ERR_INVALID, field, "%s.name must be an EXTNAME or PRIMARY",
                             field);
    }
    str_copy(h->name, sizeof h->name, json_string_value(name));
    h->ver = 1;
    h->required = true;
    const json_t *ver = json_object_get(spec, "ver");
    if (ver) {
        if (!json_is_integer(ver) || json_integer_value(ver) < 1 ||
            json_integer_value(ver) > 100000) {
            return err_set_field(ei, ERR_INVALID, field, "%s.ver must be a positive integer",
                                 field);
        }
        h->ver = (int)json_integer_value(ver);
    }
    const json_t *req = json_object_get(spec, "required");
    if (req) {
        if (!json_is_boolean(req)) {
            return err_set_field(ei, ERR_INVALID, field, "%s.required must be true or false",
                                 field);
        }
        h->required = json_is_true(req);
    }
    const json_t *vers = json_object_get(spec, "versions");
    if (vers) {
        if (!json_is_string(vers) || strcmp(json_string_value(vers), "input") != 0 || ver) {
            return err_set_field(ei, ERR_INVALID, field,
                                 "%s.versions must be \"input\" (and then no ver)", field);
        }
        if (strcasecmp(h->name, "PRIMARY") == 0) {
            return err_set_field(ei, ERR_INVALID, field, "%s: PRIMARY has no versions", field);
        }
        h->versions_input = true;
    }
    const json_t *sa = json_object_get(spec, "shape_as");
    if (sa) {
        if (!json_is_string(sa) || json_string_length(sa) == 0 ||
            json_string_length(sa) >= sizeof h->shape_as) {
            return err_set_field(ei, ERR_INVALID, field, "%s.shape_as must be an EXTNAME",
                                 field);
        }
        str_copy(h->shape_as, sizeof h->shape_as, json_string_value(sa));
    }
    const json_t *swi = json_object_get(spec, "shape_within_input");
    if (swi) {
        if (!json_is_boolean(swi)) {
            return err_set_field(ei, ERR_INVALID, field,
                                 "%s.shape_within_input must be true or false", field);
        }
        h->shape_within_input = json_is_true(swi);
    }
    rc = int_list(json_object_get(spec, "bitpix"), h->bitpix, EXPECT_BITPIX_MAX, &h->n_bitpix,
                  "bitpix", ei);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = int_list(json_object_get(spec, "naxis"), h->naxis, EXPECT_NAXIS_MAX, &h->n_naxis,
                  "naxis", ei);
    if (rc != ERR_OK) {
        return rc;
    }
    const json_t *kw = json_object_get(spec, "keywords");
    if (kw && !json_is_null(kw)) {
        if (!json_is_object(kw)) {
            return err_set_field(ei, ERR_INVALID, field, "%s.keywords must be a mapping", field);
        }
        h->k = calloc(json_object_size(kw) + 1, sizeof *h->k);
        if (!h->k) {
            return err_set(ei, ERR_NOMEM, "out of memory");
        }
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)(uintptr_t)kw, key, v) {
            rc = compile_krule(key, v, &h->k[h->nk], field, ei);
            if (rc != ERR_OK) {
                krule_free(&h->k[h->nk]);
                return rc;
            }
            h->nk++;
        }
    }
    return ERR_OK;
}

enum err expect_compile(const json_t *doc, const char *name, struct expect **out,
                        struct err_info *ei)
{
    static const char *const allowed[] = {"instrument", "kind", "description", "hdus"};
    const char *bad = NULL;
    enum err rc;
    struct expect *e = NULL;
    if (!json_is_object(doc)) {
        rc = err_set(ei, ERR_INVALID, "expectation must be a mapping");
        goto fail;
    }
    if (!only_keys(doc, allowed, ARRAY_LEN(allowed), &bad)) {
        rc = err_set_field(ei, ERR_INVALID, bad, "unrecognized field \"%s\"", bad);
        goto fail;
    }
    const json_t *ins = json_object_get(doc, "instrument");
    const json_t *kind = json_object_get(doc, "kind");
    const json_t *hdus = json_object_get(doc, "hdus");
    if (!json_is_string(ins) || json_string_length(ins) == 0 || json_string_length(ins) >= 32) {
        rc = err_set_field(ei, ERR_INVALID, "instrument", "instrument must be a short string");
        goto fail;
    }
    if (!json_is_string(kind) || json_string_length(kind) == 0 || json_string_length(kind) >= 32) {
        rc = err_set_field(ei, ERR_INVALID, "kind", "kind must be a short string");
        goto fail;
    }
    if (!json_is_array(hdus) || json_array_size(hdus) == 0 ||
        json_array_size(hdus) > EXPECT_HDUS_MAX) {
        rc = err_set_field(ei, ERR_INVALID, "hdus", "hdus must be a non-empty list");
        goto fail;
    }
    e = calloc(1, sizeof *e);
    if (!e) {
        rc = err_set(ei, ERR_NOMEM, "out of memory");
        goto fail;
    }
    e->h = calloc(json_array_size(hdus), sizeof *e->h);
    if (!e->h) {
        rc = err_set(ei, ERR_NOMEM, "out of memory");
        goto fail;
    }
    str_copy(e->instrument, sizeof e->instrument, json_string_value(ins));
    str_copy(e->kind, sizeof e->kind, json_string_value(kind));
    snprintf(e->id, sizeof e->id, "%s/%s", e->instrument, e->kind);
    size_t i;
    json_t *x;
    json_array_foreach(hdus, i, x) {
        rc = compile_hrule(x, i, &e->h[i], ei);
        e->nh = i + 1; /* so destroy frees what compile_hrule allocated */
        if (rc != ERR_OK) {
            goto fail;
        }
    }
    *out = e;
    return ERR_OK;
fail:
    expect_destroy(e);
    if (name) {
        err_prefix(ei, "expectation \"%s\": ", name);
    }
    return rc;
}

enum err expect_parse(const char *yaml, size_t len, const char *name, struct expect **out,
                      struct err_info *ei)
{
    json_t *doc = NULL;
    enum err rc = expect_yaml_parse(yaml, len, &doc, ei);
    if (rc != ERR_OK) {
        if (name) {
            err_prefix(ei, "expectation \"%s\": ", name);
        }
        return rc;
    }
    rc = expect_compile(doc, name, out, ei);
    json_decref(doc);
    return rc;
}

/* ---- sets ------------------------------------------------------------------------------ */

struct expect_set {
    size_t n;
    struct expect **e;
};

void expect_set_destroy(struct expect_set *s)
{
    if (!s) {
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        expect_destroy(s->e[i]);
    }
    free(s->e);
    free(s);
}

enum err expect_set_load_dir(const char *dir, struct expect_set **out, struct err_info *ei)
{
    char **names = NULL;
    size_t nn = 0;
    struct expect_set *s = NULL;
    enum err rc = cfgdir_yaml_names(dir, EXPECT_FILES_MAX, "expectation files", &names, &nn, ei);
    if (rc == ERR_NOT_FOUND || rc == ERR_IO) {
        return err_set(ei, ERR_NOT_FOUND, "could not open expectations directory \"%s\"", dir);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    s = calloc(1, sizeof *s);
    if (!s || !(s->e = calloc(nn + 1, sizeof *s->e))) {
        rc = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nn; i++) {
        char path[4096];
        json_t *doc = NULL;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        rc = expect_yaml_load(path, &doc, ei);
        if (rc != ERR_OK) {
            goto out;
        }
        rc = expect_compile(doc, path, &s->e[s->n], ei);
        json_decref(doc);
        if (rc != ERR_OK) {
            goto out;
        }
        s->n++;
        for (size_t j = 0; j + 1 < s->n; j++) {
            if (strcasecmp(s->e[j]->id, s->e[s->n - 1]->id) == 0) {
                rc = err_set(ei, ERR_INVALID, "expectation \"%s\" defined twice (second in \"%s\")",
                             s->e[j]->id, path);
                goto out;
            }
        }
    }
    *out = s;
    s = NULL;
out:
    cfgdir_names_free(names, nn);
    expect_set_destroy(s);
    return rc;
}

const struct expect *expect_set_find(const struct expect_set *s, const char *instrument,
                                     const char *kind)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcasecmp(s->e[i]->instrument, instrument) == 0 &&
            strcasecmp(s->e[i]->kind, kind) == 0) {
            return s->e[i];
        }
    }
    return NULL;
}

size_t expect_set_count(const struct expect_set *s)
{
    return s->n;
}

/* ---- header model ---------------------------------------------------------------------- */

struct card {
    char key[72];
    enum expect_vtype type;
    char *value; /* owned */
    char *raw;   /* value as written (owned) */
};

struct hdu {
    int index;
    char extname[72];
    int extver;
    int bitpix;
    int naxis;
    size_t nc, cap;
    struct card *c;
};

struct expect_header {
    size_t n, cap;
    struct hdu *h;
    size_t total_cards;
};

enum err expect_header_create(struct expect_header **out, struct err_info *ei)
{
    struct expect_header *h = calloc(1, sizeof *h);
    if (!h) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    *out = h;
    return ERR_OK;
}

void expect_header_destroy(struct expect_header *h)
{
    if (!h) {
        return;
    }
    for (size_t i = 0; i < h->n; i++) {
        for (size_t j = 0; j < h->h[i].nc; j++) {
            free(h->h[i].c[j].value);
            free(h->h[i].c[j].raw);
        }
        free(h->h[i].c);
    }
    free(h->h);
    free(h);
}

enum err expect_header_add_hdu(struct expect_header *h, int index, const char *extname,
                               int extver, int bitpix, int naxis, struct err_info *ei)
{
    if (h->n >= EXPECT_HDUS_MAX) {
        return err_set(ei, ERR_TOO_LARGE, "more than %d HDUs", EXPECT_HDUS_MAX);
    }
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 8;
        struct hdu *p = realloc(h->h, nc * sizeof *p);
        if (!p) {
            return err_set(ei, ERR_NOMEM, "out of memory");
        }
        h->h = p;
        h->cap = nc;
    }
    struct hdu *u = &h->h[h->n++];
    memset(u, 0, sizeof *u);
    u->index = index;
    str_copy(u->extname, sizeof u->extname, extname ? extname : "");
    u->extver = extver > 0 ? extver : 1;
    u->bitpix = bitpix;
    u->naxis = naxis;
    return ERR_OK;
}

enum err expect_card_parse(const char *card, size_t len, char key[72], char *value, size_t cap,
                           enum expect_vtype *type, struct err_info *ei)
{
    /* the one FITS card parser is lib/fits's; this maps its kinds onto the validator's */
    struct fhdr_card c;
    if (len > 80) {
        len = 80;
    }
    if (fhdr_card_parse(card, len, &c) != ERR_OK) {
        if (len >= 10 && card[8] == '=' && card[9] == ' ') {
            char k[9];
            size_t kl = 8;
            memcpy(k, card, 8);
            while (kl > 0 && k[kl - 1] == ' ') {
                kl--;
            }
            k[kl] = '\0';
            return err_set_field(ei, ERR_PARSE, k, "card \"%s\" is not a valid FITS card "
                                                   "(unterminated string, bad value or bytes)",
                                 k);
        }
        return ERR_NOT_FOUND; /* no value indicator: nothing to check */
    }
    switch (c.type) {
    case FHDR_NONE:
        return ERR_NOT_FOUND; /* commentary */
    case FHDR_UNDEF:
    case FHDR_COMPLEX:
        *type = EXPECT_V_NONE;
        break;
    case FHDR_LOGICAL:
        *type = EXPECT_V_BOOL;
        break;
    case FHDR_INT: {
        int64_t iv;
        *type = str_to_i64(c.value, INT64_MIN, INT64_MAX, &iv) == ERR_OK ? EXPECT_V_INT
                                                                          : EXPECT_V_REAL;
        break;
    }
    case FHDR_FLOAT:
        *type = EXPECT_V_REAL;
        break;
    case FHDR_STRING:
        *type = EXPECT_V_STRING;
        break;
    }
    str_copy(key, 72, c.key);
    str_copy(value, cap, c.type == FHDR_UNDEF ? "" : fhdr_card_value(&c));
    return ERR_OK;
}

enum err expect_header_add_card(struct expect_header *h, const char *card, struct err_info *ei)
{
    char key[72];
    char value[EXPECT_VALUE_MAX];
    enum expect_vtype type;
    if (h->n == 0) {
        return err_set(ei, ERR_INTERNAL, "card added before any HDU");
    }
    enum err rc = expect_card_parse(card, strlen(card), key, value, sizeof value, &type, ei);
    if (rc == ERR_NOT_FOUND) {
        return ERR_OK;
    }
    if (rc != ERR_OK) {
        return rc;
    }
    if (h->total_cards >= EXPECT_CARDS_MAX) {
        return err_set(ei, ERR_TOO_LARGE, "more than %d cards", EXPECT_CARDS_MAX);
    }
    struct hdu *u = &h->h[h->n - 1];
    if (u->nc == u->cap) {
        size_t nc = u->cap ? u->cap * 2 : 64;
        struct card *p = realloc(u->c, nc * sizeof *p);
        if (!p) {
            return err_set(ei, ERR_NOMEM, "out of memory");
        }
        u->c = p;
        u->cap = nc;
    }
    struct card *c = &u->c[u->nc];
    str_copy(c->key, sizeof c->key, key);
    c->type = type;
    c->value = str_dup(value);
    /* the value as written, for reports */
    char raw[EXPECT_VALUE_MAX + 3];
    if (type == EXPECT_V_STRING) {
        snprintf(raw, sizeof raw, "'%s'", value);
    } else {
        snprintf(raw, sizeof raw, "%s", value);
    }
    c->raw = str_dup(raw);
    if (!c->value || !c->raw) {
        free(c->value);
        free(c->raw);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    u->nc++;
    h->total_cards++;
    return ERR_OK;
}

/* ---- check ----------------------------------------------------------------------------- */

struct report {
    json_t *violations;
    struct buf summary;
    size_t n;
    bool nomem; /* a violation could not be recorded: the report would be incomplete */
};

static void violate(struct report *r, const char *path, const char *rule, const char *expected,
                    const char *found)
{
    r->n++;
    if (r->n > EXPECT_VIOLATIONS_MAX) {
        return;
    }
    json_t *v = json_pack("{s:s,s:s,s:s,s:s}", "path", path, "rule", rule, "expected", expected,
                          "found", found);
    if (!v || json_array_append_new(r->violations, v) != 0) {
        r->nomem = true;
    }
    if (r->n <= 8) {
        BUF_TRY(&r->nomem,
                buf_printf(&r->summary, "%s%s (%s)", r->n > 1 ? ", " : "", path, rule));
    } else if (r->n == 9) {
        BUF_TRY(&r->nomem, buf_puts(&r->summary, ", ..."));
    }
}

static const struct hdu *find_hdu_nv(const struct expect_header *h, const char *name, int ver)
{
    for (size_t i = 0; h && i < h->n; i++) {
        const struct hdu *u = &h->h[i];
        if (strcasecmp(name, "PRIMARY") == 0) {
            if (u->index == 0) {
                return u;
            }
            continue;
        }
        if (strcasecmp(u->extname, name) == 0 && u->extver == ver) {
            return u;
        }
    }
    return NULL;
}

/* Number of HDUs named @p name (their highest EXTVER). */
static int count_versions(const struct expect_header *h, const char *name)
{
    int n = 0;
    for (size_t i = 0; h && i < h->n; i++) {
        if (strcasecmp(h->h[i].extname, name) == 0 && h->h[i].extver > n) {
            n = h->h[i].extver;
        }
    }
    return n;
}

static const struct card *find_card(const struct hdu *u, const char *key)
{
    for (size_t i = 0; i < u->nc; i++) {
        if (strcmp(u->c[i].key, key) == 0) {
            return &u->c[i];
        }
    }
    return NULL;
}

static bool type_ok(enum ktype t, enum expect_vtype v)
{
    switch (t) {
    case KT_ANY:
        return true;
    case KT_STRING:
        return v == EXPECT_V_STRING;
    case KT_NUMBER:
        return v == EXPECT_V_INT || v == EXPECT_V_REAL;
    case KT_INTEGER:
        return v == EXPECT_V_INT;
    case KT_BOOLEAN:
        return v == EXPECT_V_BOOL;
    }
    return false;
}

static double card_number(const struct card *c)
{
    char tmp[128];
    double d = NAN;
    str_copy(tmp, sizeof tmp, c->value);
    for (char *p = tmp; *p; p++) {
        if (*p == 'D' || *p == 'd') {
            *p = 'E';
        }
    }
    if (str_to_double(tmp, &d) != ERR_OK) {
        return NAN;
    }
    return d;
}

static bool enum_ok(const struct krule *k, const struct card *c, struct buf *expected,
                    bool *nomem)
{
    size_t i;
    json_t *x;
    bool ok = false;
    json_array_foreach(k->enums, i, x) {
        if (json_is_string(x)) {
            BUF_TRY(nomem, buf_printf(expected, "%s'%s'", i ? ", " : "", json_string_value(x)));
            if (c->type == EXPECT_V_STRING && strcasecmp(c->value, json_string_value(x)) == 0) {
                ok = true;
            }
        } else if (json_is_boolean(x)) {
            BUF_TRY(nomem,
                    buf_printf(expected, "%s%s", i ? ", " : "", json_is_true(x) ? "T" : "F"));
            if (c->type == EXPECT_V_BOOL && (c->value[0] == 'T') == json_is_true(x)) {
                ok = true;
            }
        } else {
            BUF_TRY(nomem, buf_printf(expected, "%s%.17g", i ? ", " : "", json_number_value(x)));
            if ((c->type == EXPECT_V_INT || c->type == EXPECT_V_REAL) &&
                card_number(c) == json_number_value(x)) {
                ok = true;
            }
        }
    }
    return ok;
}

static void int_list_text(char *out, size_t cap, const int *v, size_t n)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && o < cap; i++) {
        int w = snprintf(out + o, cap - o, "%s%d", i ? " or " : "", v[i]);
        if (w < 0) {
            break;
        }
        o += (size_t)w;
    }
}

static bool same_value(const struct card *a, const struct card *b)
{
    bool na = a->type == EXPECT_V_INT || a->type == EXPECT_V_REAL;
    bool nb = b->type == EXPECT_V_INT || b->type == EXPECT_V_REAL;
    if (na && nb) {
        return card_number(a) == card_number(b);
    }
    if (a->type != b->type) {
        return false;
    }
    return a->type == EXPECT_V_STRING ? strcasecmp(a->value, b->value) == 0
                                      : strcmp(a->value, b->value) == 0;
}

static void check_keyword(struct report *r, const char *hpath, const struct hdu *u,
                          const struct hdu *in, const struct krule *k)
{
    char path[160];
    snprintf(path, sizeof path, "%s.%s", hpath, k->name);
    const struct card *c = find_card(u, k->name);
    if (!c) {
        if (k->required) {
            violate(r, path, "required", k->type == KT_ANY ? "present" : ktype_names[k->type],
                    "absent");
        }
        return;
    }
    if (!type_ok(k->type, c->type)) {
        violate(r, path, "type", ktype_names[k->type], c->raw);
        return; /* further rules would only repeat the type error */
    }
    if (k->enums) {
        struct buf exp;
        buf_init(&exp, 4096);
        if (!enum_ok(k, c, &exp, &r->nomem)) {
            char e[4200];
            snprintf(e, sizeof e, "one of %s", buf_cstr(&exp));
            violate(r, path, "enum", e, c->raw);
        }
        buf_free(&exp);
    }
    if (k->pattern && regexec(&k->re, c->value, 0, NULL, 0) != 0) {
        violate(r, path, "pattern", k->pattern, c->raw);
    }
    if (k->has_min || k->has_max) {
        double d = card_number(c);
        char e[96];
        if (k->has_min && !(d >= k->min)) {
            snprintf(e, sizeof e, ">= %.17g", k->min);
            violate(r, path, "minimum", e, c->raw);
        }
        if (k->has_max && !(d <= k->max)) {
            snprintf(e, sizeof e, "<= %.17g", k->max);
            violate(r, path, "maximum", e, c->raw);
        }
    }
    const struct card *ic = k->same_as_input && in ? find_card(in, k->name) : NULL;
    if (ic && !same_value(ic, c)) {
        char e[EXPECT_VALUE_MAX + 16];
        snprintf(e, sizeof e, "%s (the input's)", ic->raw);
        violate(r, path, "same_as_input", e, c->raw);
    }
}

/* Shape of an HDU: NAXISn, or NPIXn of an HST constant array (NAXIS = 0 with NPIXn).
 * Returns the number of axes (0: none known). */
static int hdu_shape(const struct hdu *u, int64_t *ax, int cap)
{
    int n = 0;
    const char *kw = u->naxis > 0 ? "NAXIS" : "NPIX";
    for (int i = 1; i <= cap; i++) {
        char key[16];
        snprintf(key, sizeof key, "%s%d", kw, i);
        const struct card *c = find_card(u, key);
        int64_t v;
        if (!c || c->type != EXPECT_V_INT || str_to_i64(c->value, 0, INT64_MAX, &v) != ERR_OK) {
            break;
        }
        ax[n++] = v;
        if (u->naxis > 0 && n == u->naxis) {
            break;
        }
    }
    return n;
}

static void shape_text(char *out, size_t cap, const int64_t *ax, int n)
{
    size_t o = 0;
    out[0] = '\0';
    if (n == 0) {
        snprintf(out, cap, "none");
        return;
    }
    for (int i = 0; i < n && o < cap; i++) {
        int w = snprintf(out + o, cap - o, "%s%lld", i ? "x" : "", (long long)ax[i]);
        if (w < 0) {
            break;
        }
        o += (size_t)w;
    }
}

#define EXPECT_SHAPE_AXES 8

/* shape_as and shape_within_input of one HDU. */
static void check_shape(struct report *r, const struct hrule *hr, const char *hpath,
                        const struct hdu *u, int ver, const struct expect_header *h,
                        const struct hdu *in)
{
    int64_t a[EXPECT_SHAPE_AXES], b[EXPECT_SHAPE_AXES];
    char path[128], exp[160], found[96], t[96];
    int na = hdu_shape(u, a, EXPECT_SHAPE_AXES);
    snprintf(path, sizeof path, "%s.shape", hpath);
    shape_text(found, sizeof found, a, na);
    const struct hdu *o = hr->shape_as[0] ? find_hdu_nv(h, hr->shape_as, ver) : NULL;
    if (o) {
        int nb = hdu_shape(o, b, EXPECT_SHAPE_AXES);
        bool same = na == nb;
        for (int i = 0; same && i < na; i++) {
            same = a[i] == b[i];
        }
        if (!same) {
            shape_text(t, sizeof t, b, nb);
            snprintf(exp, sizeof exp, "%s (as %s,%d)", t, hr->shape_as, ver);
            violate(r, path, "shape_as", exp, found);
        }
    }
    if (hr->shape_within_input && in) {
        int nb = hdu_shape(in, b, EXPECT_SHAPE_AXES);
        bool ok = nb == 0 || na == nb;
        for (int i = 0; ok && i < na && i < nb; i++) {
            ok = a[i] >= 1 && a[i] <= b[i];
        }
        if (!ok) {
            shape_text(t, sizeof t, b, nb);
            snprintf(exp, sizeof exp, "within %s (the input's)", t);
            violate(r, path, "shape_within_input", exp, found);
        }
    }
}

/* Every rule of @p hr for one HDU (EXTVER @p ver). */
static void check_hdu(struct report *r, const struct hrule *hr, int ver,
                      const struct expect_header *h, const struct expect_header *input)
{
    char hpath[96];
    if (strcasecmp(hr->name, "PRIMARY") == 0) {
        snprintf(hpath, sizeof hpath, "PRIMARY");
    } else {
        snprintf(hpath, sizeof hpath, "%s,%d", hr->name, ver);
    }
    const struct hdu *u = find_hdu_nv(h, hr->name, ver);
    if (!u) {
        if (hr->required) {
            violate(r, hpath, "required_hdu", "present", "absent");
        }
        return;
    }
    const struct hdu *in = find_hdu_nv(input, hr->name, ver);
    char exp[64], found[32], path[128];
    bool ok = hr->n_bitpix == 0;
    for (size_t k = 0; k < hr->n_bitpix; k++) {
        ok = ok || hr->bitpix[k] == u->bitpix;
    }
    if (!ok) {
        int_list_text(exp, sizeof exp, hr->bitpix, hr->n_bitpix);
        snprintf(found, sizeof found, "%d", u->bitpix);
        snprintf(path, sizeof path, "%s.BITPIX", hpath);
        violate(r, path, "bitpix", exp, found);
    }
    ok = hr->n_naxis == 0;
    for (size_t k = 0; k < hr->n_naxis; k++) {
        ok = ok || hr->naxis[k] == u->naxis;
    }
    if (!ok) {
        int_list_text(exp, sizeof exp, hr->naxis, hr->n_naxis);
        snprintf(found, sizeof found, "%d", u->naxis);
        snprintf(path, sizeof path, "%s.NAXIS", hpath);
        violate(r, path, "naxis", exp, found);
    }
    check_shape(r, hr, hpath, u, ver, h, in);
    for (size_t k = 0; k < hr->nk; k++) {
        check_keyword(r, hpath, u, in, &hr->k[k]);
    }
}

enum err expect_validate(const struct expect *e, const struct expect_header *h, const char *file,
                         json_t **report, struct err_info *ei)
{
    return expect_validate_input(e, h, NULL, file, report, ei);
}

enum err expect_validate_input(const struct expect *e, const struct expect_header *h,
                               const struct expect_header *input, const char *file,
                               json_t **report, struct err_info *ei)
{
    struct report r;
    r.violations = json_array();
    r.n = 0;
    r.nomem = false;
    buf_init(&r.summary, ERR_INFO_MSG_MAX);
    *report = NULL;
    if (!r.violations) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < e->nh; i++) {
        const struct hrule *hr = &e->h[i];
        int nver = 1;
        if (hr->versions_input) {
            nver = count_versions(input ? input : h, hr->name);
            nver = nver < 1 ? 1 : nver > EXPECT_HDUS_MAX ? EXPECT_HDUS_MAX : nver;
        }
        for (int v = hr->versions_input ? 1 : hr->ver; nver > 0; v++, nver--) {
            check_hdu(&r, hr, v, h, input);
        }
    }
    if (r.n == 0 || r.nomem) {
        json_decref(r.violations);
        buf_free(&r.summary);
        /* all violations in one report, or none: a partial one would misreport the file */
        return r.nomem ? err_set(ei, ERR_NOMEM, "out of memory recording violations of \"%s\"",
                                 file ? file : "")
                       : ERR_OK;
    }
    json_t *rep = json_pack("{s:s,s:s,s:s,s:o,s:I}", "error", "validation_failed", "file",
                            file ? file : "", "expectation", e->id, "violations", r.violations,
                            "count", (json_int_t)r.n);
    if (!rep) {
        buf_free(&r.summary);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    if (r.n > EXPECT_VIOLATIONS_MAX && json_object_set_new(rep, "truncated", json_true()) != 0) {
        json_decref(rep);
        buf_free(&r.summary);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    err_set(ei, ERR_INVALID, "%zu violation%s of %s in \"%s\": %s", r.n, r.n == 1 ? "" : "s",
            e->id, file ? file : "", buf_cstr(&r.summary));
    buf_free(&r.summary);
    *report = rep;
    return ERR_INVALID;
}
