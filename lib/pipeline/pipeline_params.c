/* pipeline_params.c - the one validator of the `dataset` job's params (POST /v1/jobs and the
 * worker). SPDX-License-Identifier: Apache-2.0 */
#include "pipeline.h"

#include "core/path.h"
#include "core/str.h"
#include "dataset/dataset.h"
#include "registry/registry.h"

#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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

static bool collection_ok(const char *c)
{
    size_t n = c ? strlen(c) : 0;
    bool ok = n >= 1 && n <= 128;
    for (size_t i = 0; ok && i < n; i++) {
        char ch = c[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             ch == '.' || ch == '_' || ch == '-';
    }
    return ok;
}

/* The profile's output template with every "{dataset}" replaced; false when too long. */
static bool expand_output(const char *tmpl, const char *ds, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = tmpl; *p;) {
        const char *piece = p;
        size_t len = 1;
        if (strncmp(p, "{dataset}", 9) == 0) {
            piece = ds;
            len = strlen(ds);
            p += 9;
        } else {
            p++;
        }
        if (o + len >= cap) {
            return false;
        }
        memcpy(out + o, piece, len);
        o += len;
    }
    out[o] = '\0';
    return true;
}

static const char *const dataset_keys[] = {"dataset", "input", "output", "collection", "profile",
                                           NULL};

enum err pipeline_params_parse(const json_t *params, const char *pfx,
                               const struct profile_set *profiles, struct pipeline_request *out,
                               struct err_info *ei)
{
    struct pipeline_request req;
    memset(&req, 0, sizeof req);
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
        bool known = false;
        for (size_t i = 0; dataset_keys[i] && !known; i++) {
            known = strcmp(k, dataset_keys[i]) == 0;
        }
        if (!known) {
            return field_err(ei, pfx, k,
                             "is not a dataset parameter (dataset, input, output, collection, "
                             "profile)");
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
    const json_t *pv = params ? json_object_get(params, "profile") : NULL;
    if (pv) {
        const char *name = json_string_value(pv);
        if (!name) {
            return field_err(ei, pfx, "profile", "must be a string");
        }
        req.profile = profile_set_find(profiles, name);
        if (!req.profile) {
            char what[PROFILE_NAME_MAX + 64];
            snprintf(what, sizeof what, "names no profile of this service (\"%.*s\")",
                     PROFILE_NAME_MAX, name);
            return field_err(ei, pfx, "profile", what);
        }
        if (req.profile->dataset_rule) {
            regex_t re;
            int rc = regcomp(&re, req.profile->dataset_rule, REG_EXTENDED | REG_NOSUB);
            bool match = rc == 0 && regexec(&re, req.dataset, 0, NULL, 0) == 0;
            if (rc == 0) {
                regfree(&re);
            }
            if (!match) {
                char what[512];
                snprintf(what, sizeof what, "\"%s\" does not match profile %s's dataset_rule %.300s",
                         req.dataset, req.profile->name, req.profile->dataset_rule);
                return field_err(ei, pfx, "dataset", what);
            }
        }
    }
    enum err e = uri_param(params ? json_object_get(params, "input") : NULL, pfx, "input", true,
                           &req.input, ei);
    const json_t *ov = params ? json_object_get(params, "output") : NULL;
    if (e == ERR_OK && !ov && req.profile && req.profile->output) {
        if (!expand_output(req.profile->output, req.dataset, req.output_buf,
                           sizeof req.output_buf)) {
            return field_err(ei, pfx, "output", "from the profile's template is too long");
        }
        json_t *tmp = json_string(req.output_buf);
        e = tmp ? uri_param(tmp, pfx, "output", false, &req.output, ei)
                : err_set(ei, ERR_NOMEM, "out of memory");
        json_decref(tmp);
    } else if (e == ERR_OK) {
        e = uri_param(ov, pfx, "output", false, &req.output, ei);
        if (e == ERR_OK) {
            str_copy(req.output_buf, sizeof req.output_buf, req.output);
        }
    }
    const json_t *coll = params ? json_object_get(params, "collection") : NULL;
    if (e == ERR_OK && coll) {
        req.collection = json_string_value(coll);
        if (!collection_ok(req.collection)) {
            e = field_err(ei, pfx, "collection",
                          "must be a collection name of 1..128 bytes of [A-Za-z0-9._-]");
        }
    } else if (e == ERR_OK && req.profile) {
        req.collection = req.profile->collection;
    }
    if (e == ERR_OK && out) {
        *out = req;
        out->output = out->output_buf; /* owned by the request from here on */
    }
    return e;
}

enum err pipeline_params_validate(const json_t *params, const char *pfx,
                                  const struct profile_set *profiles, struct err_info *ei)
{
    return pipeline_params_parse(params, pfx, profiles, NULL, ei);
}

enum err pipeline_missing_ref_parse(const char *s, enum pipeline_missing_ref *out,
                                    struct err_info *ei)
{
    if (s && strcasecmp(s, "fail") == 0) {
        *out = PIPELINE_MISSING_REF_FAIL;
        return ERR_OK;
    }
    if (s && strcasecmp(s, "skip") == 0) {
        *out = PIPELINE_MISSING_REF_SKIP;
        return ERR_OK;
    }
    return err_set(ei, ERR_INVALID, "missing reference policy \"%.40s\" is neither fail nor skip",
                   s ? s : "");
}

const char *pipeline_missing_ref_name(enum pipeline_missing_ref m)
{
    return m == PIPELINE_MISSING_REF_SKIP ? "skip" : "fail";
}

/* ---- the combine job ---------------------------------------------------------------------- */

static const char *const combine_keys[] = {"profile", "type",   "inputs", "method", "sigma_clip",
                                           "output",  "run",    "certify", NULL};

/* file:/abs/path or s3://bucket/key of one frame. */
static enum err frame_uri(const json_t *v, const char *pfx, const char *name, const char **out,
                          struct err_info *ei)
{
    enum err e = uri_param(v, pfx, name, false, out, ei);
    if (e == ERR_OK && (str_ends_with(*out, "/") || (str_starts_with(*out, "s3://") &&
                                                     !strchr(*out + 5, '/')))) {
        return field_err(ei, pfx, name, "must name a file, not a directory or bucket");
    }
    return e;
}

static enum err certify_param(const json_t *v, const char *pfx, struct pipeline_combine_params *o,
                              struct err_info *ei)
{
    if (!json_is_object(v)) {
        return field_err(ei, pfx, "certify", "must be {\"collection\", \"begin\"?, \"end\"?}");
    }
    const char *k;
    json_t *x;
    json_t *obj = (json_t *)(uintptr_t)v; /* only read */
    json_object_foreach(obj, k, x)
    {
        if (strcmp(k, "collection") != 0 && strcmp(k, "begin") != 0 && strcmp(k, "end") != 0) {
            return field_err(ei, pfx, "certify", "takes collection, begin and end only");
        }
    }
    const char *c = json_string_value(json_object_get(v, "collection"));
    if (!reg_collection_name_ok(c)) {
        return field_err(ei, pfx, "certify.collection",
                         "must be a registry collection name (1 to 128 of [A-Za-z0-9._/-])");
    }
    o->certify = c;
    for (int i = 0; i < 2; i++) {
        const char *key = i ? "end" : "begin";
        const json_t *t = json_object_get(v, key);
        char *dst = i ? o->end : o->begin;
        dst[0] = '\0';
        if (!t || json_is_null(t)) {
            continue;
        }
        if (!json_is_string(t) || !reg_time_normalise(json_string_value(t), dst, sizeof o->begin)) {
            return field_err(ei, pfx, i ? "certify.end" : "certify.begin",
                             "must be an ISO-8601 time (YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM])");
        }
    }
    return ERR_OK;
}

enum err pipeline_combine_params_parse(const json_t *params, const char *pfx,
                                       const struct profile_set *profiles,
                                       struct pipeline_combine_params *out, struct err_info *ei)
{
    struct pipeline_combine_params tmp;
    struct pipeline_combine_params *o = out ? out : &tmp;
    memset(o, 0, sizeof *o);
    if (!json_is_object(params)) {
        char field[ERR_INFO_FIELD_MAX];
        snprintf(field, sizeof field, "%sparams", pfx);
        return err_set_field(ei, ERR_INVALID, field, "%s must be an object", field);
    }
    const char *k;
    json_t *v;
    json_t *obj = (json_t *)(uintptr_t)params; /* only read */
    json_object_foreach(obj, k, v)
    {
        bool known = false;
        for (size_t i = 0; combine_keys[i] && !known; i++) {
            known = strcmp(k, combine_keys[i]) == 0;
        }
        if (!known) {
            return field_err(ei, pfx, k, "is not a parameter of combine jobs (profile, type, "
                                         "inputs, method, sigma_clip, output, run, certify)");
        }
    }
    const char *pn = json_string_value(json_object_get(params, "profile"));
    o->profile = pn ? profile_set_find(profiles, pn) : NULL;
    if (!o->profile) {
        return field_err(ei, pfx, "profile", pn ? "names no profile of this service"
                                                : "is required (a profile with a ccd section)");
    }
    if (!o->profile->has_ccd || !o->profile->registry_run) {
        return field_err(ei, pfx, "profile",
                         "names a profile without a ccd section or registry_run");
    }
    o->type = json_string_value(json_object_get(params, "type"));
    if (!o->type || (strcmp(o->type, "bias") != 0 && strcmp(o->type, "flat") != 0)) {
        return field_err(ei, pfx, "type", "must be bias or flat");
    }
    bool flat = o->type[0] == 'f';
    const json_t *in = json_object_get(params, "inputs");
    if (!json_is_array(in) || json_array_size(in) == 0 ||
        json_array_size(in) > PIPELINE_COMBINE_INPUTS_MAX) {
        char what[96];
        snprintf(what, sizeof what, "must be a list of 1 to %d frame URIs",
                 PIPELINE_COMBINE_INPUTS_MAX);
        return field_err(ei, pfx, "inputs", what);
    }
    for (size_t i = 0; i < json_array_size(in); i++) {
        char name[32];
        snprintf(name, sizeof name, "inputs[%zu]", i);
        enum err e = frame_uri(json_array_get(in, i), pfx, name, &o->inputs[i], ei);
        if (e != ERR_OK) {
            return e;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(o->inputs[j], o->inputs[i]) == 0) {
                return field_err(ei, pfx, name, "repeats an earlier input");
            }
        }
        o->n = i + 1;
    }
    const json_t *m = json_object_get(params, "method");
    const char *ms = m ? json_string_value(m) : (flat ? "median" : "average");
    if (ms && strcmp(ms, "average") == 0) {
        o->method = CALIB_COMBINE_AVERAGE;
    } else if (ms && strcmp(ms, "median") == 0) {
        o->method = CALIB_COMBINE_MEDIAN;
    } else if (ms && strcmp(ms, "sum") == 0) {
        o->method = CALIB_COMBINE_SUM;
    } else {
        return field_err(ei, pfx, "method", "must be average, median or sum");
    }
    const json_t *sc = json_object_get(params, "sigma_clip");
    if (!sc) {
        o->sigma_clip = !flat;
        o->sigma_low = o->sigma_high = 3.0;
    } else if (json_is_false(sc)) {
        o->sigma_clip = false;
    } else if (json_is_array(sc) && json_array_size(sc) == 2 &&
               json_is_number(json_array_get(sc, 0)) && json_is_number(json_array_get(sc, 1)) &&
               json_number_value(json_array_get(sc, 0)) > 0 &&
               json_number_value(json_array_get(sc, 1)) > 0) {
        o->sigma_clip = true;
        o->sigma_low = json_number_value(json_array_get(sc, 0));
        o->sigma_high = json_number_value(json_array_get(sc, 1));
    } else {
        return field_err(ei, pfx, "sigma_clip", "must be [low, high] (both > 0) or false");
    }
    enum err e = uri_param(json_object_get(params, "output"), pfx, "output", false, &o->output,
                           ei);
    if (e != ERR_OK) {
        return e;
    }
    const json_t *run = json_object_get(params, "run");
    if (run) {
        o->run = json_string_value(run);
        if (!reg_collection_name_ok(o->run)) {
            return field_err(ei, pfx, "run",
                             "must be a registry collection name (1 to 128 of [A-Za-z0-9._/-])");
        }
    }
    const json_t *cert = json_object_get(params, "certify");
    if (cert) {
        e = certify_param(cert, pfx, o, ei);
    }
    return e;
}
