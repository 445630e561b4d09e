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
    if (n == 0 || n > QUEUE_IDEM_KEY_MAX) {
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
                          QUEUE_IDEM_KEY_MAX);
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
    char id[QUEUE_ID_LEN + 1];
    size_t njobs = 0;
    /* the 202 body is written as text by the queue straight into the response: no JSON objects
     * built for the new jobs and serialised again (two thirds of a batch POST's CPU) */
    buf_reset(&resp->body);
    size_t room = json_is_array(doc) ? json_array_size(doc) * RESP_BODY_PER_ITEM : 0;
    if (room > RESP_BODY_RESERVE && room < RESP_BODY_MAX / 2 &&
        buf_reserve(&resp->body, room) == ERR_NOMEM) {
        e = err_set(ei, ERR_NOMEM, "could not serialise the response");
        goto out;
    }
    e = queue_enqueue_text(app->queue, doc, req->idempotency_key, &resp->body, id, &njobs,
                           &replayed, ei);
    if (e == ERR_OK && buf_append(&resp->body, "\n", 1) != ERR_OK) {
        e = err_set(ei, ERR_INTERNAL, "response document over the limit of %u bytes",
                    RESP_BODY_MAX);
    }
    if (e != ERR_OK) {
        buf_reset(&resp->body);
        goto out;
    }
    resp->status = 202;
    resp->content_type = "application/json";
    snprintf(resp->location, sizeof resp->location, "/v1/jobs/%s", id);
    resp->replayed = replayed;
    log_ctx_set_job(id);
    LOG_INFO("api", "accepted %zu job(s)%s, first %s", njobs,
             replayed ? " (idempotent replay)" : "", id);
    log_ctx_set_job(NULL);
out:
    json_decref(doc);
    return e;
}
