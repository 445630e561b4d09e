/* jobs_create.c - POST /v1/jobs: one job object or an array of them, validated all or nothing,
 * 202 with Location; Idempotency-Key replays the original jobs for the same body.
 * SPDX-License-Identifier: Apache-2.0 */
#include "handlers.h"

#include "core/log.h"
#include "queue/queue.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Accept a missing Content-Type or a JSON media type (application/json, application/x+json). */
static bool json_media_type(const char *ct)
{
    if (!ct || !ct[0]) {
        return true;
    }
    size_t n = strcspn(ct, "; \t");
    if (n == 16 && strncasecmp(ct, "application/json", n) == 0) {
        return true;
    }
    return n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
           strncasecmp(ct + n - 5, "+json", 5) == 0;
}

static bool idem_key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > IDEMPOTENCY_KEY_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)k[i];
        if (c < 0x21 || c > 0x7e) {
            return false;
        }
    }
    return true;
}

enum err
h_jobs_create(const struct app *app, const struct req *req, struct resp *resp, struct err_info *ei)
{
    json_t *doc = NULL;
    json_t *out = NULL;
    enum err e = ERR_OK;
    if (!json_media_type(req->content_type)) {
        e = err_set_field(ei, ERR_UNSUPPORTED, "Content-Type",
                          "unsupported media type \"%.64s\"; send application/json",
                          req->content_type);
        goto out;
    }
    if (req->idempotency_key && !idem_key_ok(req->idempotency_key)) {
        e = err_set_field(ei, ERR_PARSE, "Idempotency-Key",
                          "invalid Idempotency-Key: 1 to %d printable ASCII characters",
                          IDEMPOTENCY_KEY_MAX);
        goto out;
    }
    e = req_json_body(req->body, req->body_len, &doc, ei);
    if (e != ERR_OK) {
        goto out;
    }
    e = job_specs_validate(doc, ei);
    if (e != ERR_OK) {
        goto out;
    }
    bool replayed = false;
    e = queue_enqueue(app->queue, doc, req->idempotency_key, &out, &replayed, ei);
    if (e != ERR_OK) {
        goto out;
    }
    json_t *first = json_array_get(out, 0);
    const char *id = json_string_value(json_object_get(first, "id"));
    if (!id) {
        e = err_set(ei, ERR_INTERNAL, "queue returned a job without an id");
        goto out;
    }
    snprintf(resp->location, sizeof resp->location, "/v1/jobs/%s", id);
    resp->replayed = replayed;
    log_ctx_set_job(id);
    LOG_INFO("api", "accepted %zu job(s)%s, first %s", json_array_size(out),
             replayed ? " (idempotent replay)" : "", id);
    log_ctx_set_job(NULL);
    e = resp_json(resp, 202, json_is_array(doc) ? out : first, ei);
out:
    json_decref(doc);
    json_decref(out);
    return e;
}
