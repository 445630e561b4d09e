/* job_dataset.c - the dataset job kind over lib/pipeline. SPDX-License-Identifier: Apache-2.0 */
#include "job_dataset.h"

#include "core/log.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static bool job_cancelled(void *ud)
{
    return workers_job_cancelled(ud);
}

static void job_step(void *ud, const char *step, int index, int nsteps, const char *detail)
{
    LOG_DEBUG("dataset", "job %s step %d/%d %s%s%s", workers_job_id(ud), index, nsteps, step,
              detail && *detail ? ": " : "", detail ? detail : "");
}

static void job_log(void *ud, bool alert, const char *line)
{
    if (alert) {
        LOG_WARN("dataset", "job %s: %s", workers_job_id(ud), line);
    }
}

/* CALDP codes worth another attempt: transfers and memory. */
static bool transient(int code)
{
    switch (code) {
    case PIPELINE_ASTROQUERY_ERROR:
    case PIPELINE_S3_UPLOAD_ERROR:
    case PIPELINE_S3_DOWNLOAD_ERROR:
    case PIPELINE_SUBPROCESS_MEMORY_ERROR:
    case PIPELINE_CALDP_MEMORY_ERROR:
    case PIPELINE_CONTAINER_MEMORY_ERROR:
    case PIPELINE_OS_MEMORY_ERROR:
        return true;
    default:
        return false;
    }
}

enum err workers_job_dataset(struct workers_job *job, void *arg, struct err_info *ei)
{
    const struct job_dataset_ctx *ctx = arg;
    struct pipeline_request req;
    struct pipeline_result res;
    enum err e = pipeline_params_parse(workers_job_params(job), "", &req, ei);
    if (e != ERR_OK) {
        workers_job_set_error_code(job, "invalid_params");
        return e;
    }
    req.tag = workers_job_id(job);
    struct pipeline_config cfg = {
        .config_dir = ctx->config_dir,
        .work_dir = ctx->work_dir,
        .storage = ctx->storage,
    };
    struct pipeline_hooks hooks = {
        .cancelled = job_cancelled, .step = job_step, .log = job_log, .ud = job};
    int code = pipeline_run(&cfg, &req, &hooks, &res);
    if (code == PIPELINE_SUCCESS) {
        json_t *r = pipeline_result_json(&res);
        pipeline_result_free(&res);
        if (!r) {
            return err_set(ei, ERR_NOMEM, "out of memory");
        }
        workers_job_set_result(job, r);
        return ERR_OK;
    }
    pipeline_result_free(&res);
    if (res.cancelled) {
        return err_set(ei, ERR_CANCELLED, "dataset %s cancelled", req.dataset);
    }
    char lc[64];
    const char *name = pipeline_exit_name(code);
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof lc; i++) {
        lc[i] = (char)tolower((unsigned char)name[i]);
    }
    lc[i] = '\0';
    workers_job_set_error_code(job, lc);
    return err_set(ei, transient(code) ? ERR_IO : ERR_INVALID, "%s[%d]: %s", name, code,
                   res.reason);
}
