/* jobs_retry.c - POST /v1/jobs/{id}/retry: a failed or cancelled job goes back to queued with
 * its attempts reset; any other state gives 409. SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

#include "core/log.h"
#include "queue/queue.h"

enum err
h_jobs_retry(const struct app *app, const struct req *req, struct resp *resp, struct err_info *ei)
{
    json_t *job = NULL;
    enum err e = handlers__job_call(app, req, queue_retry, &job, ei);
    if (e == ERR_OK) {
        log_ctx_set_job(req->params[0]);
        LOG_INFO("api", "job %s queued again by request", req->params[0]);
        log_ctx_set_job(NULL);
        e = resp_json(resp, 200, job, ei);
    }
    json_decref(job);
    return e;
}
