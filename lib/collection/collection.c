/* collection.c - parsing, checking and matching of collection definitions (collection.h).
 * SPDX-License-Identifier: Apache-2.0 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "collection/collection.h"

#include "core/str.h"
#include "yaml/yaml.h"

#include <fnmatch.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct coll_def {
    char name[COLL_NAME_MAX + 1];
    json_t *doc; /* the definition as given (owned); the strings below point into it */
    const char *source;
    enum coll_source kind;
    bool recursive;
    const char *include[COLL_INCLUDE_MAX];
    size_t ninclude;
    const char *reject[COLL_REJECT_MAX];
    size_t nreject;
    pcre2_code *re;
    uint32_t g_obs, g_product, g_dataset; /* group numbers, 0 = absent */
    const char *job_kind, *job_profile, *job_queue;
    int max_attempts;
    int64_t schedule_s;
};

static const char *const top_keys[] = {"source",   "include", "recursive", "rule", "job",
                                       "schedule", "retry",   "reject",    NULL};

static bool in_list(const char *const *list, const char *k)
{
    for (; *list; list++) {
        if (strcmp(*list, k) == 0) {
            return true;
        }
    }
    return false;
}

static bool name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            return false;
        }
    }
    return s[0] != '.';
}

bool coll_name_valid(const char *s)
{
    return s && name_ok(s, COLL_NAME_MAX);
}

static bool printable(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return false;
        }
    }
    return true;
}

static enum err bad(struct err_info *ei, const char *field, const char *fmt, ...)
    PRINTF_LIKE(3, 4);
static enum err bad(struct err_info *ei, const char *field, const char *fmt, ...)
{
    char m[ERR_INFO_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    return err_set_field(ei, ERR_INVALID, field, "%s: %s", field, m);
}

static enum err parse_source(struct coll_def *d, const json_t *v, struct err_info *ei)
{
    const char *s = json_string_value(v);
    if (!s || !*s || strlen(s) > COLL_SOURCE_MAX || !printable(s)) {
        return bad(ei, "source", "must be a URI of 1 to 1024 printable bytes");
    }
    if (str_starts_with(s, "file:")) {
        const char *p = str_starts_with(s, "file://") ? s + 7 : s + 5;
        if (p[0] != '/' || strstr(p, "/../") || str_ends_with(p, "/..")) {
            return bad(ei, "source", "file: must name an absolute directory without \"..\"");
        }
        d->kind = COLL_SOURCE_FILE;
    } else if (str_starts_with(s, "s3://")) {
        size_t n = strcspn(s + 5, "/");
        if (n < 3 || n > 63) {
            return bad(ei, "source", "s3:// must name a bucket of 3 to 63 bytes");
        }
        d->kind = COLL_SOURCE_S3;
    } else if (str_starts_with(s, "http://") || str_starts_with(s, "https://")) {
        d->kind = COLL_SOURCE_HTTP;
    } else {
        return bad(ei, "source",
                   "must be file:/DIR, s3://bucket[/prefix] or an http(s) URL listing one URI "
                   "per line, not \"%.200s\"",
                   s);
    }
    d->source = s;
    return ERR_OK;
}

static enum err parse_strings(const json_t *v, const char *field, size_t max, const char **out,
                              size_t *n, struct err_info *ei)
{
    char f[ERR_INFO_FIELD_MAX];
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > max) {
        char m[64];
        snprintf(m, sizeof m, "must be a list of 1 to %zu strings", max);
        return bad(ei, field, "%s", m);
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        const char *s = json_string_value(json_array_get(v, i));
        snprintf(f, sizeof f, "%s[%zu]", field, i);
        if (!s || !*s || strlen(s) > 256 || !printable(s)) {
            return bad(ei, f, "must be a string of 1 to 256 printable bytes");
        }
        out[(*n)++] = s;
    }
    return ERR_OK;
}

static enum err parse_rule(struct coll_def *d, const json_t *v, struct err_info *ei)
{
    const char *s = json_string_value(v);
    if (!s || !*s || strlen(s) > COLL_RULE_MAX) {
        return bad(ei, "rule", "must be a PCRE2 regex of 1 to 2048 bytes");
    }
    int code = 0;
    PCRE2_SIZE off = 0;
    d->re = pcre2_compile((PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C,
                          &code, &off, NULL);
    if (!d->re) {
        PCRE2_UCHAR msg[256];
        char m[400];
        if (pcre2_get_error_message(code, msg, sizeof msg) < 0) {
            str_copy((char *)msg, sizeof msg, "invalid pattern");
        }
        snprintf(m, sizeof m, "is not a valid PCRE2 regex: %s at offset %zu", (const char *)msg,
                 (size_t)off);
        return bad(ei, "rule", "%s", m);
    }
    int n;
    n = pcre2_substring_number_from_name(d->re, (PCRE2_SPTR) "obs_id");
    d->g_obs = n > 0 ? (uint32_t)n : 0;
    n = pcre2_substring_number_from_name(d->re, (PCRE2_SPTR) "product_id");
    d->g_product = n > 0 ? (uint32_t)n : 0;
    n = pcre2_substring_number_from_name(d->re, (PCRE2_SPTR) "dataset");
    d->g_dataset = n > 0 ? (uint32_t)n : 0;
    return ERR_OK;
}

static enum err parse_job(struct coll_def *d, const json_t *v, const struct coll_env *env,
                          struct err_info *ei)
{
    static const char *const keys[] = {"kind", "profile", "queue", NULL};
    const char *k;
    json_t *x;
    char f[ERR_INFO_FIELD_MAX];
    if (!json_is_object(v)) {
        return bad(ei, "job", "must be an object with kind, profile and queue");
    }
    json_object_foreach((json_t *)(uintptr_t)v, k, x)
    {
        if (!in_list(keys, k)) {
            snprintf(f, sizeof f, "job.%.32s", k);
            return bad(ei, f, "is not a job key (kind, profile, queue)");
        }
    }
    d->job_kind = json_string_value(json_object_get(v, "kind"));
    if (!d->job_kind || !name_ok(d->job_kind, 32)) {
        return bad(ei, "job.kind", "is required: the child job kind");
    }
    if (strcmp(d->job_kind, "collection") == 0 ||
        (env && env->kind_known && !env->kind_known(d->job_kind, env->kind_ud))) {
        return bad(ei, "job.kind", "\"%s\" is not a kind a child job can have here",
                   d->job_kind);
    }
    x = json_object_get(v, "profile");
    if (x) {
        d->job_profile = json_string_value(x);
        if (!d->job_profile || (env && env->profiles &&
                                !profile_set_find(env->profiles, d->job_profile))) {
            return bad(ei, "job.profile", "names no profile of this service (\"%.64s\")",
                       d->job_profile);
        }
    }
    x = json_object_get(v, "queue");
    if (x) {
        d->job_queue = json_string_value(x);
        if (!d->job_queue || !name_ok(d->job_queue, 64)) {
            return bad(ei, "job.queue", "must be 1 to 64 of [A-Za-z0-9._-]");
        }
    }
    return ERR_OK;
}

/* "every N" with a unit s, m, h or d. */
static enum err parse_schedule(struct coll_def *d, const json_t *v, struct err_info *ei)
{
    const char *s = json_string_value(v);
    if (!s || !str_starts_with(s, "every ")) {
        return bad(ei, "schedule", "must be \"every N\" with a unit s, m, h or d");
    }
    const char *p = s + 6;
    int64_t n = 0;
    size_t digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 9) {
        n = n * 10 + (*p - '0');
        p++;
        digits++;
    }
    int64_t unit = *p == 's' ? 1 : *p == 'm' ? 60 : *p == 'h' ? 3600 : *p == 'd' ? 86400 : 0;
    if (digits == 0 || unit == 0 || p[1] != '\0' || n * unit < COLL_SCHEDULE_MIN_S ||
        n * unit > COLL_SCHEDULE_MAX_S) {
        return bad(ei, "schedule",
                   "must be \"every N\" with a unit s, m, h or d, from 1 s to 31 days, not "
                   "\"%.64s\"",
                   s);
    }
    d->schedule_s = n * unit;
    return ERR_OK;
}

static enum err parse_retry(struct coll_def *d, const json_t *v, struct err_info *ei)
{
    const char *k;
    json_t *x;
    if (!json_is_object(v)) {
        return bad(ei, "retry", "must be an object {\"max_attempts\": N}");
    }
    json_object_foreach((json_t *)(uintptr_t)v, k, x)
    {
        if (strcmp(k, "max_attempts") != 0) {
            return bad(ei, "retry", "knows only max_attempts, not \"%.32s\"", k);
        }
        if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > 100) {
            return bad(ei, "retry.max_attempts", "must be an integer from 1 to 100");
        }
        d->max_attempts = (int)json_integer_value(x);
    }
    return ERR_OK;
}

static enum err parse_all(struct coll_def *d, const struct coll_env *env, struct err_info *ei)
{
    const json_t *doc = d->doc;
    const char *k;
    json_t *v;
    char f[ERR_INFO_FIELD_MAX];
    json_object_foreach((json_t *)(uintptr_t)doc, k, v)
    {
        if (!in_list(top_keys, k)) {
            snprintf(f, sizeof f, "%.64s", k);
            return bad(ei, f, "is not a collection key (source, include, recursive, rule, job, "
                              "schedule, retry, reject)");
        }
    }
    enum err e;
    if (!json_object_get(doc, "source")) {
        return bad(ei, "source", "is required");
    }
    if ((e = parse_source(d, json_object_get(doc, "source"), ei)) != ERR_OK) {
        return e;
    }
    v = json_object_get(doc, "include");
    if (v && (e = parse_strings(v, "include", COLL_INCLUDE_MAX, d->include, &d->ninclude, ei))) {
        return e;
    }
    v = json_object_get(doc, "recursive");
    if (v && !json_is_boolean(v)) {
        return bad(ei, "recursive", "must be true or false");
    }
    d->recursive = json_is_true(v);
    if (!json_object_get(doc, "rule")) {
        return bad(ei, "rule", "is required: a PCRE2 regex with the named group obs_id");
    }
    if ((e = parse_rule(d, json_object_get(doc, "rule"), ei)) != ERR_OK) {
        return e;
    }
    if (!json_object_get(doc, "job")) {
        return bad(ei, "job", "is required: {\"kind\": ..., \"profile\": ...}");
    }
    if ((e = parse_job(d, json_object_get(doc, "job"), env, ei)) != ERR_OK) {
        return e;
    }
    bool dataset = strcmp(d->job_kind, "dataset") == 0;
    if (dataset ? d->g_dataset == 0 : d->g_obs == 0) {
        const char *g = dataset ? "dataset" : "obs_id";
        return bad(ei, "rule", "has no named group %s: (?<%s>...) says which files belong "
                               "together",
                   g, g);
    }
    v = json_object_get(doc, "schedule");
    if (v && (e = parse_schedule(d, v, ei)) != ERR_OK) {
        return e;
    }
    v = json_object_get(doc, "retry");
    if (v && (e = parse_retry(d, v, ei)) != ERR_OK) {
        return e;
    }
    v = json_object_get(doc, "reject");
    if (v && (e = parse_strings(v, "reject", COLL_REJECT_MAX, d->reject, &d->nreject, ei))) {
        return e;
    }
    return ERR_OK;
}

enum err coll_def_parse(const char *name, const json_t *doc, const struct coll_env *env,
                        struct coll_def **out, struct err_info *ei)
{
    *out = NULL;
    if (!coll_name_valid(name)) {
        return err_set_field(ei, ERR_INVALID, "name",
                             "name: a collection name is 1 to %d of [A-Za-z0-9._-]",
                             COLL_NAME_MAX);
    }
    if (!json_is_object(doc)) {
        return err_set_field(ei, ERR_INVALID, "body", "a collection definition is a JSON object");
    }
    struct coll_def *d = calloc(1, sizeof *d);
    if (!d) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    str_copy(d->name, sizeof d->name, name);
    d->doc = json_deep_copy(doc);
    enum err e = d->doc ? parse_all(d, env, ei) : err_set(ei, ERR_NOMEM, "out of memory");
    if (e != ERR_OK) {
        coll_def_destroy(d);
        return e;
    }
    *out = d;
    return ERR_OK;
}

void coll_def_destroy(struct coll_def *d)
{
    if (!d) {
        return;
    }
    pcre2_code_free(d->re);
    json_decref(d->doc);
    free(d);
}

const char *coll_def_name(const struct coll_def *d) { return d->name; }
const char *coll_def_source(const struct coll_def *d) { return d->source; }
enum coll_source coll_def_source_kind(const struct coll_def *d) { return d->kind; }
bool coll_def_recursive(const struct coll_def *d) { return d->recursive; }
const char *coll_def_job_kind(const struct coll_def *d) { return d->job_kind; }
const char *coll_def_job_profile(const struct coll_def *d) { return d->job_profile; }
const char *coll_def_job_queue(const struct coll_def *d) { return d->job_queue; }
int coll_def_max_attempts(const struct coll_def *d) { return d->max_attempts; }
int64_t coll_def_schedule_s(const struct coll_def *d) { return d->schedule_s; }

bool coll_def_is_rejection(const struct coll_def *d, const char *message)
{
    for (size_t i = 0; message && i < d->nreject; i++) {
        if (strstr(message, d->reject[i])) {
            return true;
        }
    }
    return false;
}

json_t *coll_def_json(const struct coll_def *d)
{
    return json_deep_copy(d->doc);
}

static enum err group(const pcre2_match_data *md, uint32_t g, const char *subject, char *out,
                      struct err_info *ei)
{
    out[0] = '\0';
    if (g == 0) {
        return ERR_OK;
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer((pcre2_match_data *)(uintptr_t)md);
    PCRE2_SIZE a = ov[2 * g], b = ov[2 * g + 1];
    if (a == PCRE2_UNSET || b < a) {
        return ERR_OK; /* an optional group that did not take part */
    }
    if (b - a >= COLL_ID_MAX) {
        return err_set(ei, ERR_TOO_LARGE, "a matched group of %zu bytes (at most %d)",
                       (size_t)(b - a), COLL_ID_MAX - 1);
    }
    memcpy(out, subject + a, b - a);
    out[b - a] = '\0';
    return ERR_OK;
}

enum err coll_def_match(const struct coll_def *d, const char *path, struct coll_match *out,
                        struct err_info *ei)
{
    memset(out, 0, sizeof *out);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    bool included = d->ninclude == 0;
    for (size_t i = 0; i < d->ninclude && !included; i++) {
        included = fnmatch(d->include[i], base, 0) == 0;
    }
    if (!included) {
        str_copy(out->reason, sizeof out->reason, "not included");
        return ERR_OK;
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(d->re, NULL);
    if (!md) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    int rc = pcre2_match(d->re, (PCRE2_SPTR)base, strlen(base), 0, 0, md, NULL);
    enum err e = ERR_OK;
    if (rc < 0) {
        str_copy(out->reason, sizeof out->reason,
                 rc == PCRE2_ERROR_NOMATCH ? "rule did not match" : "rule could not be applied");
    } else if ((e = group(md, d->g_obs, base, out->obs_id, ei)) == ERR_OK &&
               (e = group(md, d->g_product, base, out->product_id, ei)) == ERR_OK &&
               (e = group(md, d->g_dataset, base, out->dataset, ei)) == ERR_OK) {
        out->matched = true;
        if (d->g_obs != 0 && out->obs_id[0] == '\0' && d->g_dataset == 0) {
            out->matched = false;
            str_copy(out->reason, sizeof out->reason, "rule matched an empty obs_id");
        }
    }
    pcre2_match_data_free(md);
    return e;
}

/* The node a field path ("job.kind", "include[2]") names in a YAML mapping, or the closest
 * ancestor that exists. */
static const struct yamlx_node *node_at(const struct yamlx_node *n, const char *field)
{
    const char *p = field;
    while (n && *p) {
        char key[64];
        size_t k = strcspn(p, ".[");
        if (k == 0 || k >= sizeof key) {
            break;
        }
        memcpy(key, p, k);
        key[k] = '\0';
        const struct yamlx_node *next = NULL;
        for (size_t i = 0; i < yamlx_node_size(n) && !next; i++) {
            const char *kt = yamlx_scalar(yamlx_map_key(n, i));
            if (kt && strcmp(kt, key) == 0) {
                next = yamlx_map_value(n, i);
            }
        }
        if (!next) {
            break;
        }
        n = next;
        p += k;
        if (*p == '[') {
            size_t idx = (size_t)strtoul(p + 1, NULL, 10);
            const struct yamlx_node *item = yamlx_seq_item(n, idx);
            if (item) {
                n = item;
            }
            p = strchr(p, ']') ? strchr(p, ']') + 1 : p + strlen(p);
        }
        if (*p == '.') {
            p++;
        }
    }
    return n;
}

enum err coll_def_parse_yaml(const char *name, const char *file, const char *text, size_t len,
                             const struct coll_env *env, struct coll_def **out,
                             struct err_info *ei)
{
    static const struct yamlx_limits lim = {
        .max_bytes = COLL_YAML_MAX, .max_depth = 8, .max_nodes = 4096};
    struct yamlx_doc *doc = NULL;
    json_t *j = NULL;
    *out = NULL;
    enum err e = yamlx_doc_parse(text, len, &lim, &doc, ei);
    if (e == ERR_OK) {
        e = yamlx_node_to_json(yamlx_doc_root(doc), &j, ei);
    }
    if (e == ERR_OK) {
        e = coll_def_parse(name, j, env, out, ei);
        if (e == ERR_INVALID) {
            const struct yamlx_node *at = node_at(yamlx_doc_root(doc), ei->field);
            size_t line = at ? yamlx_node_line(at) : 1;
            err_prefix(ei, "%s:%zu: ", file, line);
        }
    } else {
        err_prefix(ei, "%s: ", file);
    }
    json_decref(j);
    yamlx_doc_destroy(doc);
    return e;
}
