/* jobs_cancel.c - POST /v1/jobs/{id}/cancel: queued and retrying jobs are cancelled at once
 * (200); a running job gets a cancellation request (202, "cancel_requested": true); finished
 * jobs give 409. SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

#include "core/log.h"
#include "queue/queue.h"

enum err
h_jobs_cancel(const struct app *app, const struct req *req, struct resp *resp, struct err_info *ei)
{
    json_t *job = NULL;
    enum err e = handlers__job_call(app, req, queue_cancel, &job, ei);
    if (e == ERR_OK) {
        log_ctx_set_job(req->params[0]);
        LOG_INFO("api", "cancellation of job %s requested", req->params[0]);
        log_ctx_set_job(NULL);
        int status = json_is_true(json_object_get(job, "cancel_requested")) ? 202 : 200;
        e = resp_json(resp, status, job, ei);
    }
    json_decref(job);
    return e;
}
