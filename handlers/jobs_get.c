/* jobs_get.c - GET /v1/jobs/{id}: one job with state, attempts, timestamps, error, result.
 * SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

#include "queue/queue.h"

enum err
h_jobs_get(const struct app *app, const struct req *req, struct resp *resp, struct err_info *ei)
{
    json_t *job = NULL;
    enum err e = handlers__job_call(app, req, queue_get, &job, ei);
    if (e == ERR_OK) {
        e = resp_json(resp, 200, job, ei);
    }
    json_decref(job);
    return e;
}
