/* job_validate.c - the HTTP side of a POST /v1/jobs document: its shape as a whole (a job object
 * or a non-empty, capped array of them). Each job is checked by lib/queue (queue_enqueue_text),
 * the one place job-spec rules live: fields, limits, RFC 3339 times, the deployment's kinds and
 * each kind's params validator (the one its worker runs). SPDX-License-Identifier: Apache-2.0 */
#include "handlers.h"

#include "queue/queue.h"

enum err job_specs_validate(const json_t *doc, struct err_info *ei)
{
    if (json_is_object(doc)) {
        return ERR_OK;
    }
    if (!json_is_array(doc)) {
        return err_set_field(ei, ERR_INVALID, "body",
                             "the body must be a job object or an array of job objects");
    }
    size_t n = json_array_size(doc);
    if (n == 0) {
        return err_set_field(ei, ERR_INVALID, "body", "the job array is empty");
    }
    if (n > QUEUE_BATCH_MAX) {
        return err_set_field(ei, ERR_TOO_LARGE, "body", "%zu jobs in one request; at most %d", n,
                             QUEUE_BATCH_MAX);
    }
    return ERR_OK;
}
