/* job_ingest.c - the ingest job kind over lib/ingest. SPDX-License-Identifier: Apache-2.0 */
#include "job_ingest.h"

#include <stdio.h>
#include <stdlib.h>

static bool job_cancelled(void *ctx)
{
    return workers_job_cancelled(ctx);
}

enum err workers_job_ingest(struct workers_job *job, void *arg, struct err_info *ei)
{
    const struct job_ingest_ctx *ctx = arg;
    struct ingest_params *p = malloc(sizeof *p);
    struct ingest_result res;
    struct repo_target *target = NULL;
    if (!p) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    enum err e = ingest_params_parse(workers_job_params(job), "", ctx->profiles, p, ei);
    if (e != ERR_OK) {
        workers_job_set_error_code(job, "invalid_params");
        goto out;
    }
    e = ctx->remote ? repo_target_remote(ctx->remote, &target, ei)
                    : repo_target_local(ctx->store, &target, ei);
    if (e != ERR_OK) {
        goto out;
    }
    struct ingest_env env = {
        .storage = ctx->storage,
        .target = target,
        .blueprint_dir = ctx->blueprint_dir,
        .work_dir = ctx->work_dir,
        .tag = workers_job_id(job),
        .cancelled = job_cancelled,
        .cancel_ctx = job,
    };
    /* no progress report: an ingest is one step of milliseconds, and the progress row and its
     * step events cost a third of the ingest throughput (684 -> 443 observations/s measured
     * with bench_ingest); its state already says where it is */
    e = ingest_run(&env, p, &res, ei);
    if (e == ERR_OK) {
        json_t *r = ingest_result_json(&res);
        if (!r) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
            goto out;
        }
        workers_job_set_result(job, r);
    } else if (e != ERR_CANCELLED && res.code[0]) {
        workers_job_set_error_code(job, res.code);
    }
out:
    repo_target_free(target);
    free(p);
    return e;
}
