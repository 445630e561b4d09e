/* jobs_get.c - GET /v1/jobs/{id}: one job with state, attempts, timestamps, error, result.
 * SPDX-License-Identifier: Apache-2.0 */
#include "handlers.h"

#include "queue/queue.h"

enum err
h_jobs_get(const struct app *app, const struct req *req, struct resp *resp, struct err_info *ei)
{
    static const char *const allowed[] = {NULL};
    json_t *job = NULL;
    enum err e = req_uuid_param(req, 0, ei);
    if (e == ERR_OK) {
        e = req_query_check(req, allowed, ei);
    }
    if (e == ERR_OK) {
        e = queue_get(app->queue, req->params[0], &job, ei);
    }
    if (e == ERR_OK) {
        e = resp_json(resp, 200, job, ei);
    }
    json_decref(job);
    return e;
}
