/* jobs_action.c - what the routes on one job (/v1/jobs/{id}, /events, /cancel, /retry) share:
 * the id must be a UUID, no query parameter is known, a body may only be empty or "{}" (unknown
 * fields refused by name), then one queue call on the job.
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

enum err handlers__job_call(const struct app *app,
                            const struct req *req,
                            handlers__job_op op,
                            json_t **out,
                            struct err_info *ei)
{
    static const char *const no_query[] = {NULL};
    enum err e = req_uuid_param(req, 0, ei);
    if (e == ERR_OK) {
        e = req_query_check(req, no_query, ei);
    }
    if (e == ERR_OK) {
        e = handlers__empty_body(req, ei);
    }
    if (e == ERR_OK) {
        e = op(app->queue, req->params[0], out, ei);
    }
    return e;
}
