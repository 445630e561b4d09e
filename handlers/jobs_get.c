/* jobs_get.c - GET /v1/jobs/{id}: one job with state, attempts, timestamps, error, result; a
 * `collection` job also shows its run's counts (member "collection": listed, new, changed,
 * skipped, rejected, children, phase; lib/harvest) beside the children's states.
 * SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

#include "harvest/harvest.h"
#include "queue/queue.h"

#include <string.h>

/* Add the run counts of a collection job to @p job. */
static enum err add_run_counts(const struct app *app, json_t *job, struct err_info *ei)
{
    const char *kind = json_string_value(json_object_get(job, "kind"));
    const char *id = json_string_value(json_object_get(job, "id"));
    if (!kind || strcmp(kind, HARV_KIND) != 0 || !id || !app->harvest) {
        return ERR_OK;
    }
    json_t *counts = NULL;
    enum err e = harv_run_counts(app->harvest, id, &counts, ei);
    if (e == ERR_OK && counts && json_object_set_new(job, "collection", counts) != 0) {
        e = err_set(ei, ERR_NOMEM, "could not build the job document");
    }
    return e;
}

enum err
h_jobs_get(const struct app *app, const struct req *req, struct resp *resp, struct err_info *ei)
{
    json_t *job = NULL;
    enum err e = handlers__job_call(app, req, queue_get, &job, ei);
    if (e == ERR_OK) {
        e = add_run_counts(app, job, ei);
    }
    if (e == ERR_OK) {
        e = resp_json(resp, 200, job, ei);
    }
    json_decref(job);
    return e;
}
