/* job_validate.c - shape check of POST /v1/jobs documents: every error names its field.
 * The queue checks again what needs the database (parent exists, idempotency).
 * SPDX-License-Identifier: Apache-2.0 */
#include "handlers.h"

#include "ingest/ingest.h"
#include "pipeline/pipeline.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const job_fields[] = {"kind",         "params", "queue",     "priority",
                                         "max_attempts", "run_at", "parent_id", NULL};

static bool known(const char *const *list, const char *k)
{
    for (; *list; list++) {
        if (strcmp(*list, k) == 0) {
            return true;
        }
    }
    return false;
}

static bool name_ok(const char *s, size_t max, bool allow_dot_upper)
{
    size_t n = strlen(s);
    if (n == 0 || n > max) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (allow_dot_upper) {
            ok = ok || c == '.' || (c >= 'A' && c <= 'Z');
        }
        if (!ok) {
            return false;
        }
    }
    return true;
}

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

bool rfc3339_valid(const char *s)
{
    /* YYYY-MM-DDTHH:MM:SS[.f+](Z|+HH:MM|-HH:MM) */
    size_t n = strlen(s);
    if (n < 20 || n > 40) {
        return false;
    }
    if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2) ||
        (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s + 11, 2) || s[13] != ':' ||
        !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2)) {
        return false;
    }
    int mon = (s[5] - '0') * 10 + (s[6] - '0');
    int day = (s[8] - '0') * 10 + (s[9] - '0');
    int hh = (s[11] - '0') * 10 + (s[12] - '0');
    int mm = (s[14] - '0') * 10 + (s[15] - '0');
    int ss = (s[17] - '0') * 10 + (s[18] - '0');
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) {
        return false;
    }
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        const char *f = p;
        while (isdigit((unsigned char)*p)) {
            p++;
        }
        if (p == f) {
            return false;
        }
    }
    if (*p == 'Z' || *p == 'z') {
        return p[1] == '\0';
    }
    if (*p == '+' || *p == '-') {
        return strlen(p) == 6 && digits(p + 1, 2) && p[3] == ':' && digits(p + 4, 2);
    }
    return false;
}

static enum err
int_field(const json_t *v, const char *field, json_int_t lo, json_int_t hi, struct err_info *ei)
{
    if (!json_is_integer(v)) {
        return err_set_field(ei, ERR_INVALID, field, "%s must be an integer", field);
    }
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi) {
        return err_set_field(ei, ERR_INVALID, field, "%s must be between %lld and %lld, not %lld",
                             field, (long long)lo, (long long)hi, (long long)x);
    }
    return ERR_OK;
}

static enum err noop_params(json_t *params, const char *pfx, struct err_info *ei)
{
    const char *k;
    json_t *v;
    char field[ERR_INFO_FIELD_MAX];
    json_object_foreach(params, k, v)
    {
        snprintf(field, sizeof field, "%sparams.%.64s", pfx, k);
        enum err e = ERR_OK;
        if (strcmp(k, "sleep_ms") == 0) {
            e = int_field(v, field, 0, NOOP_SLEEP_MAX_MS, ei);
        } else if (strcmp(k, "fail_times") == 0) {
            e = int_field(v, field, 0, JOB_ATTEMPTS_MAX, ei);
        } else {
            e = err_set_field(ei, ERR_INVALID, field, "unrecognized noop parameter \"%.64s\"", k);
        }
        if (e != ERR_OK) {
            return e;
        }
    }
    return ERR_OK;
}

/* The params validator of each job kind that has one: the same function the kind's worker
 * calls before running, so a job accepted here is never refused there for its params. */
static const struct {
    const char *kind;
    enum err (*validate)(const json_t *params,
                         const char *pfx,
                         const struct profile_set *profiles,
                         struct err_info *ei);
} kind_params[] = {
    {"ingest", ingest_params_validate},
    {"dataset", pipeline_params_validate},
};

static enum err kind_params_check(const char *kind,
                                  json_t *params,
                                  const char *pfx,
                                  const struct profile_set *profiles,
                                  struct err_info *ei)
{
    if (strcmp(kind, "noop") == 0) {
        return params ? noop_params(params, pfx, ei) : ERR_OK;
    }
    for (size_t i = 0; i < sizeof kind_params / sizeof kind_params[0]; i++) {
        if (strcmp(kind, kind_params[i].kind) == 0) {
            return kind_params[i].validate(params, pfx, profiles, ei);
        }
    }
    return ERR_OK;
}

/* The field name "<pfx><name>" of an error, formatted only when there is one. */
static const char *job_field(char *f, size_t n, const char *pfx, const char *name)
{
    snprintf(f, n, "%s%s", pfx, name);
    return f;
}

static enum err
one_job(json_t *job, const char *pfx, const struct profile_set *profiles, struct err_info *ei)
{
    char field[ERR_INFO_FIELD_MAX];
    if (!json_is_object(job)) {
        snprintf(field, sizeof field, "%s", pfx[0] ? pfx : "body");
        size_t n = strlen(field);
        if (n && field[n - 1] == '.') {
            field[n - 1] = '\0';
        }
        return err_set_field(ei, ERR_INVALID, field, "a job must be a JSON object");
    }
    const char *k;
    json_t *v;
    json_object_foreach(job, k, v)
    {
        if (!known(job_fields, k)) {
            snprintf(field, sizeof field, "%s%.64s", pfx, k);
            return err_set_field(ei, ERR_INVALID, field, "unrecognized field \"%.64s\"", k);
        }
    }
    const json_t *kind = json_object_get(job, "kind");
    if (!kind) {
        return err_set_field(ei, ERR_INVALID, job_field(field, sizeof field, pfx, "kind"),
                             "kind is required");
    }
    if (!json_is_string(kind)) {
        return err_set_field(ei, ERR_INVALID, job_field(field, sizeof field, pfx, "kind"),
                             "kind must be a string");
    }
    if (!name_ok(json_string_value(kind), JOB_KIND_MAX, false)) {
        return err_set_field(ei, ERR_INVALID, job_field(field, sizeof field, pfx, "kind"),
                             "invalid kind \"%.64s\"", json_string_value(kind));
    }
    json_t *params = json_object_get(job, "params");
    if (params && !json_is_null(params)) {
        if (!json_is_object(params)) {
            return err_set_field(ei, ERR_INVALID, job_field(field, sizeof field, pfx, "params"),
                                 "params must be a JSON object");
        }
        /* json_dumpb with no buffer only measures (no allocation) */
        size_t len = json_object_size(params) ? json_dumpb(params, NULL, 0, JSON_COMPACT) : 2;
        if (len > JOB_PARAMS_MAX) {
            return err_set_field(ei, ERR_TOO_LARGE, job_field(field, sizeof field, pfx, "params"),
                                 "params are %zu bytes; at most %d", len, JOB_PARAMS_MAX);
        }
    }
    {
        enum err e = kind_params_check(json_string_value(kind),
                                       params && !json_is_null(params) ? params : NULL, pfx,
                                       profiles, ei);
        if (e != ERR_OK) {
            return e;
        }
    }
    const json_t *queue = json_object_get(job, "queue");
    if (queue) {
        if (!json_is_string(queue)) {
            return err_set_field(ei, ERR_INVALID, job_field(field, sizeof field, pfx, "queue"),
                                 "queue must be a string");
        }
        if (!name_ok(json_string_value(queue), JOB_QUEUE_MAX, true)) {
            return err_set_field(ei, ERR_INVALID, job_field(field, sizeof field, pfx, "queue"),
                                 "invalid queue name \"%.64s\": 1 to %d of [A-Za-z0-9_.-]",
                                 json_string_value(queue), JOB_QUEUE_MAX);
        }
    }
    const json_t *pr = json_object_get(job, "priority");
    if (pr) {
        enum err e = int_field(pr, job_field(field, sizeof field, pfx, "priority"), 0, 9, ei);
        if (e != ERR_OK) {
            return e;
        }
    }
    const json_t *ma = json_object_get(job, "max_attempts");
    if (ma) {
        enum err e = int_field(ma, job_field(field, sizeof field, pfx, "max_attempts"), 1,
                               JOB_ATTEMPTS_MAX, ei);
        if (e != ERR_OK) {
            return e;
        }
    }
    const json_t *ra = json_object_get(job, "run_at");
    if (ra && !json_is_null(ra)) {
        if (!json_is_string(ra)) {
            return err_set_field(ei, ERR_INVALID, job_field(field, sizeof field, pfx, "run_at"),
                                 "run_at must be an RFC 3339 string");
        }
        if (!rfc3339_valid(json_string_value(ra))) {
            return err_set_field(ei, ERR_INVALID, job_field(field, sizeof field, pfx, "run_at"),
                                 "invalid RFC 3339 date-time \"%.64s\"", json_string_value(ra));
        }
    }
    const json_t *parent = json_object_get(job, "parent_id");
    if (parent && !json_is_null(parent)) {
        if (!json_is_string(parent)) {
            return err_set_field(ei, ERR_INVALID, job_field(field, sizeof field, pfx, "parent_id"),
                                 "parent_id must be a UUID string");
        }
        if (!uuid_valid(json_string_value(parent))) {
            return err_set_field(ei, ERR_INVALID, job_field(field, sizeof field, pfx, "parent_id"),
                                 "invalid parent_id \"%.64s\": not a UUID",
                                 json_string_value(parent));
        }
    }
    return ERR_OK;
}

enum err job_specs_validate(json_t *doc, const struct profile_set *profiles, struct err_info *ei)
{
    if (json_is_object(doc)) {
        return one_job(doc, "", profiles, ei);
    }
    if (!json_is_array(doc)) {
        return err_set_field(ei, ERR_INVALID, "body",
                             "the body must be a job object or an array of job objects");
    }
    size_t n = json_array_size(doc);
    if (n == 0) {
        return err_set_field(ei, ERR_INVALID, "body", "the job array is empty");
    }
    if (n > JOB_BATCH_MAX) {
        return err_set_field(ei, ERR_TOO_LARGE, "body", "%zu jobs in one request; at most %d", n,
                             JOB_BATCH_MAX);
    }
    for (size_t i = 0; i < n; i++) {
        char pfx[32];
        snprintf(pfx, sizeof pfx, "[%zu].", i);
        enum err e = one_job(json_array_get(doc, i), pfx, profiles, ei);
        if (e != ERR_OK) {
            return e;
        }
    }
    return ERR_OK;
}
