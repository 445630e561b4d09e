/* jobs_action.c - the body rule shared by POST /v1/jobs/{id}/cancel and /retry: no body, or an
 * empty JSON object (unknown fields are refused by name).
 * SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

enum err handlers__empty_body(const struct req *req, struct err_info *ei)
{
    if (!req->body || req->body_len == 0) {
        return ERR_OK;
    }
    json_t *doc = NULL;
    enum err e = req_json_body(req->body, req->body_len, &doc, ei);
    if (e != ERR_OK) {
        return e;
    }
    if (!json_is_object(doc)) {
        e = err_set_field(ei, ERR_INVALID, "body", "the body must be empty or a JSON object");
    } else if (json_object_size(doc) > 0) {
        const char *k = json_object_iter_key(json_object_iter(doc));
        e = err_set_field(ei, ERR_INVALID, k, "unrecognized field \"%.64s\"", k);
    }
    json_decref(doc);
    return e;
}
