/* jobs_events.c - GET /v1/jobs/{id}/events: every state change of a job, oldest first.
 * SPDX-License-Identifier: Apache-2.0 */
#include "handlers.h"

#include "queue/queue.h"

enum err
h_jobs_events(const struct app *app, const struct req *req, struct resp *resp, struct err_info *ei)
{
    static const char *const allowed[] = {NULL};
    json_t *ev = NULL;
    enum err e = req_uuid_param(req, 0, ei);
    if (e == ERR_OK) {
        e = req_query_check(req, allowed, ei);
    }
    if (e == ERR_OK) {
        e = queue_events(app->queue, req->params[0], &ev, ei);
    }
    if (e == ERR_OK) {
        e = resp_json(resp, 200, ev, ei);
    }
    json_decref(ev);
    return e;
}
