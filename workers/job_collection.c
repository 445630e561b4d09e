/* job_collection.c - the collection job kind over lib/harvest. SPDX-License-Identifier:
 * Apache-2.0 */
#include "job_collection.h"

static bool job_cancelled(void *ud)
{
    return workers_job_cancelled(ud);
}

static void job_progress(void *ud, const char *step, int index, int nsteps, const char *detail)
{
    workers_job_progress(ud, step, index, nsteps, detail);
}

enum err workers_job_collection(struct workers_job *job, void *arg, struct err_info *ei)
{
    const struct job_collection_ctx *ctx = arg;
    struct harv_run_env env = {
        .storage = ctx->storage,
        .scratch_dir = ctx->scratch_dir,
        .job_id = workers_job_id(job),
        .cancelled = job_cancelled,
        .progress = job_progress,
        .ud = job,
        .wait_poll_ms = ctx->wait_poll_ms,
    };
    json_t *report = NULL;
    int64_t snooze = 0;
    enum err e = harv_run(ctx->harv, &env, workers_job_params(job), &report, &snooze, ei);
    if (e == ERR_NOT_FOUND) {
        /* the collection was removed: nothing to retry */
        workers_job_set_error_code(job, "collection_not_found");
        ei->code = ERR_INVALID;
        return ERR_INVALID;
    }
    if (e == ERR_INVALID) {
        workers_job_set_error_code(job, "invalid_collection");
    }
    if (e != ERR_OK) {
        return e;
    }
    if (snooze > 0) {
        workers_job_snooze(job, snooze);
        return ERR_OK;
    }
    workers_job_set_result(job, report);
    return ERR_OK;
}
