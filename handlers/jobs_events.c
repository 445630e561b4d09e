/* jobs_events.c - GET /v1/jobs/{id}/events: every state change of a job, oldest first.
 * SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

#include "queue/queue.h"

enum err
h_jobs_events(const struct app *app, const struct req *req, struct resp *resp, struct err_info *ei)
{
    json_t *ev = NULL;
    enum err e = handlers__job_call(app, req, queue_events, &ev, ei);
    if (e == ERR_OK) {
        e = resp_json(resp, 200, ev, ei);
    }
    json_decref(ev);
    return e;
}
