/* collections_put.c - PUT /v1/collections/{name}: store a definition given as JSON
 * (harv_put, origin api): 201 with Location when the name is new, 200 when it replaced the
 * API's definition; the body is the stored collection (harv_get). A bad definition is a 422
 * naming the field ("rule", "job.kind", "job.profile", ...); a collection defined by a file
 * of the config directory is a 409. SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

#include "core/log.h"
#include "harvest/harvest.h"

#include <stdio.h>

enum err h_collections_put(const struct app *app,
                           const struct req *req,
                           struct resp *resp,
                           struct err_info *ei)
{
    struct harv *h = NULL;
    json_t *doc = NULL;
    json_t *stored = NULL;
    bool created = false;
    enum err e = handlers__coll_route(app, req, NULL, &h, ei);
    if (e == ERR_OK) {
        e = req_json_body(req->body, req->body_len, &doc, ei);
    }
    if (e == ERR_OK && !json_is_object(doc)) {
        e = err_set_field(ei, ERR_INVALID, "body", "a collection definition is a JSON object");
    }
    if (e == ERR_OK) {
        e = harv_put(h, req->params[0], doc, HARV_ORIGIN_API, &created, ei);
    }
    if (e == ERR_OK) {
        e = harv_get(h, req->params[0], &stored, ei);
    }
    if (e == ERR_OK) {
        e = resp_json(resp, created ? 201 : 200, stored, ei);
    }
    if (e == ERR_OK) {
        if (created) {
            snprintf(resp->location, sizeof resp->location, "/v1/collections/%s", req->params[0]);
        }
        LOG_INFO("api", "collection %s %s by request", req->params[0],
                 created ? "defined" : "replaced");
    }
    json_decref(stored);
    json_decref(doc);
    return e;
}
