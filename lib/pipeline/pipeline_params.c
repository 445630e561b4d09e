/* pipeline_params.c - the one validator of the `dataset` job's params (POST /v1/jobs and the
 * worker). SPDX-License-Identifier: Apache-2.0 */
#include "pipeline.h"

#include "core/path.h"
#include "core/str.h"
#include "dataset/dataset.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define PARAM_URI_MAX 4096

static enum err field_err(struct err_info *ei, const char *pfx, const char *name,
                          const char *what)
{
    char field[ERR_INFO_FIELD_MAX];
    snprintf(field, sizeof field, "%sparams.%.64s", pfx, name);
    return err_set_field(ei, ERR_INVALID, field, "%s %s", field, what);
}

static bool dataset_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= DATASET_NAME_MAX || s[0] == '.' || s[0] == '-') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.')) {
            return false;
        }
    }
    return true;
}

static bool no_ctl(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return false;
        }
    }
    return true;
}

/* file:/abs/dir, file:///abs/dir: absolute, no "..". */
static bool file_uri_ok(const char *u)
{
    const char *p = str_starts_with(u, "file://") ? u + 7 : u + 5;
    return p[0] == '/' && !path_has_dotdot(p);
}

/* s3://bucket[/prefix]: bucket 3..63 of [a-z0-9.-] starting and ending alphanumeric. */
static bool s3_uri_ok(const char *u)
{
    const char *b = u + 5;
    size_t n = strcspn(b, "/");
    if (n < 3 || n > 63) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && !((c == '.' || c == '-') && i > 0 && i < n - 1)) {
            return false;
        }
    }
    return !path_has_dotdot(b + n);
}

static enum err uri_param(const json_t *v, const char *pfx, const char *name, bool input,
                          const char **out, struct err_info *ei)
{
    if (!v) {
        return field_err(ei, pfx, name, "is required");
    }
    const char *u = json_string_value(v);
    if (!u) {
        return field_err(ei, pfx, name, "must be a string");
    }
    if (strlen(u) == 0 || strlen(u) >= PARAM_URI_MAX || !no_ctl(u)) {
        return field_err(ei, pfx, name, "must be a URI of 1..4095 printable bytes");
    }
    bool ok;
    if (str_starts_with(u, "file:")) {
        ok = file_uri_ok(u);
    } else if (str_starts_with(u, "s3://")) {
        ok = s3_uri_ok(u);
    } else if (input && strcmp(u, "astroquery:") == 0) {
        ok = true;
    } else {
        return field_err(ei, pfx, name,
                         input ? "must be file:/DIR, astroquery: or s3://bucket[/prefix]"
                               : "must be file:/DIR or s3://bucket[/prefix]");
    }
    if (!ok) {
        return field_err(ei, pfx, name,
                         "must name an absolute directory without \"..\" (file:) or a valid "
                         "bucket (s3://)");
    }
    *out = u;
    return ERR_OK;
}

enum err pipeline_params_parse(const json_t *params, const char *pfx,
                               struct pipeline_request *out, struct err_info *ei)
{
    struct pipeline_request req = {0};
    if (!pfx) {
        pfx = "";
    }
    if (params && !json_is_object(params)) {
        char field[ERR_INFO_FIELD_MAX];
        snprintf(field, sizeof field, "%sparams", pfx);
        return err_set_field(ei, ERR_INVALID, field, "%s must be an object", field);
    }
    const char *k;
    json_t *v;
    /* the object is only read: json_object_foreach takes a non-const pointer */
    json_t *obj = (json_t *)(uintptr_t)params;
    json_object_foreach(obj, k, v)
    {
        if (strcmp(k, "dataset") != 0 && strcmp(k, "input") != 0 && strcmp(k, "output") != 0 &&
            strcmp(k, "collection") != 0) {
            return field_err(ei, pfx, k,
                             "is not a dataset parameter (dataset, input, output, collection)");
        }
    }
    const json_t *ds = params ? json_object_get(params, "dataset") : NULL;
    if (!ds) {
        return field_err(ei, pfx, "dataset", "is required");
    }
    req.dataset = json_string_value(ds);
    if (!req.dataset || !dataset_name_ok(req.dataset)) {
        return field_err(ei, pfx, "dataset",
                         "must be a dataset name of 1..63 bytes of [A-Za-z0-9._-]");
    }
    enum err e = uri_param(params ? json_object_get(params, "input") : NULL, pfx, "input", true,
                           &req.input, ei);
    if (e == ERR_OK) {
        e = uri_param(params ? json_object_get(params, "output") : NULL, pfx, "output", false,
                      &req.output, ei);
    }
    const json_t *coll = params ? json_object_get(params, "collection") : NULL;
    if (e == ERR_OK && coll) {
        req.collection = json_string_value(coll);
        size_t n = req.collection ? strlen(req.collection) : 0;
        bool ok = n >= 1 && n <= 128;
        for (size_t i = 0; ok && i < n; i++) {
            char c = req.collection[i];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        }
        if (!ok) {
            e = field_err(ei, pfx, "collection",
                          "must be a collection name of 1..128 bytes of [A-Za-z0-9._-]");
        }
    }
    if (e == ERR_OK && out) {
        *out = req;
    }
    return e;
}

enum err pipeline_params_validate(const json_t *params, const char *pfx, struct err_info *ei)
{
    return pipeline_params_parse(params, pfx, NULL, ei);
}
