/* ingest_params.c - the one validator of the ingest job's params (API and worker).
 * SPDX-License-Identifier: Apache-2.0 */
#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD(buf, pfx, fmt, ...)                                                                  \
    (snprintf((buf), sizeof(buf), "%sparams." fmt, (pfx), __VA_ARGS__), (buf))

static bool chars_in(const char *s, const char *set)
{
    return strspn(s, set) == strlen(s);
}

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

static bool has_ctl(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return true;
        }
    }
    return false;
}

static enum err str_param(const json_t *v, const char *field, const char **out, struct err_info *ei)
{
    if (!json_is_string(v)) {
        return err_set_field(ei, ERR_INVALID, field, "%s must be a string", field);
    }
    *out = json_string_value(v);
    if (!(*out)[0]) {
        return err_set_field(ei, ERR_INVALID, field, "%s must not be empty", field);
    }
    return ERR_OK;
}

static enum err id_param(const json_t *v, const char *field, const char **out, struct err_info *ei)
{
    enum err e = str_param(v, field, out, ei);
    if (e != ERR_OK) {
        return e;
    }
    if (strlen(*out) > INGEST_ID_MAX || has_ctl(*out) || strchr(*out, '/')) {
        return err_set_field(ei, ERR_INVALID, field,
                             "%s must be 1 to %d bytes without '/' or control characters", field,
                             INGEST_ID_MAX);
    }
    return ERR_OK;
}

/* The file name an input URI names: its last path component (query string dropped). */
static bool uri_file_name(const char *uri, char *out, size_t cap)
{
    size_t end = strcspn(uri, "?#");
    const char *s = uri;
    const char *last = s;
    for (size_t i = 0; i < end; i++) {
        if (s[i] == '/' || s[i] == ':') {
            last = s + i + 1;
        }
    }
    size_t n = (size_t)(s + end - last);
    if (n == 0 || n >= cap || n > INGEST_NAME_MAX) {
        return false;
    }
    memcpy(out, last, n);
    out[n] = '\0';
    return strcmp(out, ".") != 0 && strcmp(out, "..") != 0;
}

static enum err uri_param(const json_t *v, const char *field, const char **out, struct err_info *ei)
{
    enum err e = str_param(v, field, out, ei);
    if (e != ERR_OK) {
        return e;
    }
    const char *u = *out;
    if (strncmp(u, "file:", 5) != 0 && strncmp(u, "http://", 7) != 0 &&
        strncmp(u, "https://", 8) != 0 && strncmp(u, "s3://", 5) != 0) {
        return err_set_field(ei, ERR_INVALID, field,
                             "%s: \"%.64s\" is not a file:, http(s):// or s3:// URI", field, u);
    }
    struct storage_uri *su = malloc(sizeof *su);
    if (!su) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    struct err_info pe;
    err_info_clear(&pe);
    e = storage_uri_parse(u, su, &pe);
    free(su);
    if (e != ERR_OK) {
        return err_set_field(ei, ERR_INVALID, field, "%s: %s", field, pe.msg);
    }
    char name[INGEST_NAME_MAX + 1];
    if (!uri_file_name(u, name, sizeof name)) {
        return err_set_field(ei, ERR_INVALID, field, "%s: \"%.64s\" does not name a file", field,
                             u);
    }
    return ERR_OK;
}

static enum err
blueprint_param(const json_t *v, const char *field, const char **out, struct err_info *ei)
{
    enum err e = str_param(v, field, out, ei);
    if (e != ERR_OK) {
        return e;
    }
    const char *s = *out;
    bool ok = s[0] != '/' && chars_in(s, ALNUM "._+-/") && strlen(s) < 1024;
    for (const char *c = s; ok && *c;) {
        size_t n = strcspn(c, "/");
        ok = n > 0 && n <= INGEST_NAME_MAX && c[0] != '.';
        c += n;
        if (*c == '/') {
            c++;
            ok = ok && *c != '\0';
        }
    }
    if (!ok) {
        return err_set_field(ei, ERR_INVALID, field,
                             "%s: \"%.64s\" is not a blueprint name (a relative path of "
                             "[A-Za-z0-9._+-] components, none starting with '.')",
                             field, s);
    }
    return ERR_OK;
}

static enum err array_param(const json_t *v, const char *field, size_t max, struct err_info *ei)
{
    if (!json_is_array(v)) {
        return err_set_field(ei, ERR_INVALID, field, "%s must be an array", field);
    }
    if (json_array_size(v) > max) {
        return err_set_field(ei, ERR_INVALID, field, "%s has %zu entries; at most %zu", field,
                             json_array_size(v), max);
    }
    return ERR_OK;
}

static enum err one_param(
    const char *k, const json_t *v, const char *pfx, struct ingest_params *p, struct err_info *ei)
{
    char f[ERR_INFO_FIELD_MAX];
    enum err e;
    if (json_is_null(v) && strcmp(k, "collection") != 0 && strcmp(k, "uris") != 0 &&
        strcmp(k, "profile") != 0) {
        return ERR_OK; /* an optional parameter given as null: its default */
    }
    if (strcmp(k, "collection") == 0) {
        if ((e = str_param(v, FIELD(f, pfx, "%s", k), &p->collection, ei)) != ERR_OK) {
            return e;
        }
        if (strlen(p->collection) > REPO_NAME_MAX || !chars_in(p->collection, ALNUM "._-")) {
            return err_set_field(ei, ERR_INVALID, f,
                                 "%s: \"%.64s\" is not a collection name (1 to %d of "
                                 "[A-Za-z0-9._-])",
                                 f, p->collection, REPO_NAME_MAX);
        }
        return ERR_OK;
    }
    if (strcmp(k, "observation_id") == 0) {
        return id_param(v, FIELD(f, pfx, "%s", k), &p->observation_id, ei);
    }
    if (strcmp(k, "product_id") == 0) {
        return id_param(v, FIELD(f, pfx, "%s", k), &p->product_id, ei);
    }
    if (strcmp(k, "product_ids") == 0) {
        if ((e = array_param(v, FIELD(f, pfx, "%s", k), INGEST_URIS_MAX, ei)) != ERR_OK) {
            return e;
        }
        for (size_t i = 0; i < json_array_size(v); i++) {
            if ((e = id_param(json_array_get(v, i), FIELD(f, pfx, "product_ids[%zu]", i),
                              &p->product_ids[i], ei)) != ERR_OK) {
                return e;
            }
        }
        return ERR_OK;
    }
    if (strcmp(k, "scheme") == 0) {
        if ((e = str_param(v, FIELD(f, pfx, "%s", k), &p->scheme, ei)) != ERR_OK) {
            return e;
        }
        if (strlen(p->scheme) > INGEST_SCHEME_MAX || p->scheme[0] < 'a' || p->scheme[0] > 'z' ||
            !chars_in(p->scheme, "abcdefghijklmnopqrstuvwxyz0123456789+.-")) {
            return err_set_field(ei, ERR_INVALID, f,
                                 "%s: \"%.40s\" is not a URI scheme ([a-z][a-z0-9+.-]*)", f,
                                 p->scheme);
        }
        return ERR_OK;
    }
    if (strcmp(k, "profile") == 0) {
        return str_param(v, FIELD(f, pfx, "%s", k), &p->profile_name, ei);
    }
    if (strcmp(k, "compute") == 0) {
        if (!json_is_boolean(v)) {
            return err_set_field(ei, ERR_INVALID, FIELD(f, pfx, "%s", k),
                                 "%s must be true or false", f);
        }
        p->compute = json_is_true(v);
        return ERR_OK;
    }
    if (strcmp(k, "uris") == 0) {
        if ((e = array_param(v, FIELD(f, pfx, "%s", k), INGEST_URIS_MAX, ei)) != ERR_OK) {
            return e;
        }
        if (json_array_size(v) == 0) {
            return err_set_field(ei, ERR_INVALID, f, "%s needs at least one input URI", f);
        }
        p->n = json_array_size(v);
        for (size_t i = 0; i < p->n; i++) {
            if ((e = uri_param(json_array_get(v, i), FIELD(f, pfx, "uris[%zu]", i), &p->uris[i],
                               ei)) != ERR_OK) {
                return e;
            }
        }
        return ERR_OK;
    }
    if (strcmp(k, "artifact_uris") == 0) {
        if ((e = array_param(v, FIELD(f, pfx, "%s", k), INGEST_URIS_MAX, ei)) != ERR_OK) {
            return e;
        }
        for (size_t i = 0; i < json_array_size(v); i++) {
            const char *u = NULL;
            if ((e = str_param(json_array_get(v, i), FIELD(f, pfx, "artifact_uris[%zu]", i), &u,
                               ei)) != ERR_OK) {
                return e;
            }
            const char *colon = strchr(u, ':');
            if (!colon || colon == u || !colon[1] || strlen(u) > 1024 || has_ctl(u) ||
                strchr(u, ' ')) {
                return err_set_field(ei, ERR_INVALID, f,
                                     "%s: \"%.64s\" is not an artifact URI (scheme:path)", f, u);
            }
            p->artifact_uris[i] = u;
        }
        return ERR_OK;
    }
    if (strcmp(k, "blueprints") == 0) {
        if ((e = array_param(v, FIELD(f, pfx, "%s", k), INGEST_BLUEPRINTS_MAX, ei)) != ERR_OK) {
            return e;
        }
        p->nbp = json_array_size(v);
        for (size_t i = 0; i < p->nbp; i++) {
            if ((e = blueprint_param(json_array_get(v, i), FIELD(f, pfx, "blueprints[%zu]", i),
                                     &p->blueprints[i], ei)) != ERR_OK) {
                return e;
            }
        }
        return ERR_OK;
    }
    return err_set_field(ei, ERR_INVALID, FIELD(f, pfx, "%.64s", k),
                         "unrecognized ingest parameter \"%.64s\"", k);
}

enum err ingest_params_parse(const json_t *params,
                             const char *pfx,
                             const struct profile_set *profiles,
                             struct ingest_params *out,
                             struct err_info *ei)
{
    char f[ERR_INFO_FIELD_MAX];
    pfx = pfx ? pfx : "";
    if (params && !json_is_object(params)) {
        snprintf(f, sizeof f, "%sparams", pfx);
        return err_set_field(ei, ERR_INVALID, f, "params must be a JSON object");
    }
    struct ingest_params *p = out ? out : malloc(sizeof *p);
    if (!p) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    memset(p, 0, sizeof *p);
    enum err e = ERR_OK;
    const char *k;
    json_t *v;
    /* the object is only read: json_object_foreach takes a non-const pointer */
    json_t *obj = (json_t *)(uintptr_t)params;
    if (obj) {
        json_object_foreach(obj, k, v)
        {
            if ((e = one_param(k, v, pfx, p, ei)) != ERR_OK) {
                goto out;
            }
        }
    }
    if (p->profile_name) {
        /* the profile fills what the params leave out */
        if (!(p->profile = profile_set_find(profiles, p->profile_name))) {
            e = err_set_field(ei, ERR_INVALID, FIELD(f, pfx, "%s", "profile"),
                              "%s: unknown profile \"%.64s\"", f, p->profile_name);
            goto out;
        }
        const struct profile *pr = p->profile;
        p->collection = p->collection ? p->collection : pr->collection;
        p->scheme = p->scheme ? p->scheme : pr->scheme;
        const json_t *c = json_object_get(params, "compute");
        if ((!c || json_is_null(c)) && pr->has_compute) {
            p->compute = pr->compute;
        }
        if (p->nbp == 0) {
            for (size_t i = 0; i < pr->nbp && i < INGEST_BLUEPRINTS_MAX; i++) {
                p->blueprints[p->nbp++] = pr->blueprints[i];
            }
        }
    }
    if (!p->collection) {
        e = err_set_field(ei, ERR_INVALID, FIELD(f, pfx, "%s", "collection"),
                          "params.collection is required");
        goto out;
    }
    if (p->n == 0) {
        e = err_set_field(ei, ERR_INVALID, FIELD(f, pfx, "%s", "uris"),
                          "params.uris is required (1 to %d input URIs)", INGEST_URIS_MAX);
        goto out;
    }
    const json_t *au = json_object_get(params, "artifact_uris");
    if (au && !json_is_null(au) && json_array_size(au) != p->n) {
        e = err_set_field(ei, ERR_INVALID, FIELD(f, pfx, "%s", "artifact_uris"),
                          "params.artifact_uris has %zu entries for %zu uris (one per input, "
                          "in order)",
                          json_array_size(au), p->n);
        goto out;
    }
    const json_t *pi = json_object_get(params, "product_ids");
    if (pi && !json_is_null(pi)) {
        if (json_array_size(pi) != p->n) {
            e = err_set_field(ei, ERR_INVALID, FIELD(f, pfx, "%s", "product_ids"),
                              "params.product_ids has %zu entries for %zu uris (one per input, "
                              "in order)",
                              json_array_size(pi), p->n);
            goto out;
        }
        if (p->product_id) {
            e = err_set_field(ei, ERR_INVALID, FIELD(f, pfx, "%s", "product_ids"),
                              "params.product_ids and params.product_id exclude each other "
                              "(product_ids names the plane of every input)");
            goto out;
        }
    }
out:
    if (!out) {
        free(p);
    }
    return e;
}

enum err ingest_params_validate(const json_t *params,
                                const char *pfx,
                                const struct profile_set *profiles,
                                struct err_info *ei)
{
    return ingest_params_parse(params, pfx, profiles, NULL, ei);
}
