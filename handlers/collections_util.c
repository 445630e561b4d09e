/* collections_util.c - what the /v1/collections routes share: the lib/harvest handle, the
 * query check, and the run/retry answer (202 with the collection job's Location, 409 naming
 * the active run). SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

#include "core/log.h"
#include "harvest/harvest.h"

#include <stdio.h>
#include <string.h>

struct harv *handlers__harvest(const struct app *app, struct err_info *ei)
{
    if (!app->harvest) {
        (void)err_set(ei, ERR_UNAVAILABLE, "collections are not available in this process");
        return NULL;
    }
    return app->harvest;
}

enum err handlers__coll_route(const struct app *app,
                              const struct req *req,
                              const char *const *allowed,
                              struct harv **h,
                              struct err_info *ei)
{
    static const char *const none[] = {NULL};
    enum err e = req_query_check(req, allowed ? allowed : none, ei);
    if (e != ERR_OK) {
        return e;
    }
    *h = handlers__harvest(app, ei);
    return *h ? ERR_OK : ERR_UNAVAILABLE;
}

enum err handlers__coll_run(const struct app *app,
                            const struct req *req,
                            struct resp *resp,
                            bool retry,
                            struct err_info *ei)
{
    struct harv *h = NULL;
    json_t *job = NULL;
    char active[QUEUE_ID_LEN + 1] = "";
    enum err e = handlers__coll_route(app, req, NULL, &h, ei);
    if (e == ERR_OK) {
        e = handlers__empty_body(req, ei);
    }
    if (e == ERR_OK) {
        e = harv_run_now(h, req->params[0], retry, &job, active, ei);
    }
    if (e == ERR_CONFLICT && active[0] && !strstr(ei->msg, active)) {
        /* the answer names the run in the way, whatever lib/harvest's wording */
        err_prefix(ei, "run %s of the collection is queued or running: ", active);
    }
    if (e != ERR_OK) {
        goto out;
    }
    const char *id = json_string_value(json_object_get(job, "id"));
    if (!id) {
        e = err_set(ei, ERR_INTERNAL, "the new collection job has no id");
        goto out;
    }
    e = resp_json(resp, 202, job, ei);
    if (e != ERR_OK) {
        goto out;
    }
    snprintf(resp->location, sizeof resp->location, "/v1/jobs/%s", id);
    log_ctx_set_job(id);
    LOG_INFO("api", "collection %s: %s run queued by request", req->params[0],
             retry ? "retry" : "now");
    log_ctx_set_job(NULL);
out:
    json_decref(job);
    return e;
}
