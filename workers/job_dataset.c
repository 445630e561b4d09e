/* job_dataset.c - the dataset job kind over lib/pipeline. SPDX-License-Identifier: Apache-2.0 */
#include "job_dataset.h"

#include "core/log.h"

#include <ctype.h>
#include <stdlib.h>
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

/* The CAOM step: the FITS products of a successful run -> one observation <collection>/<ds>
 * (plane <ds>, an artifact per product) through lib/ingest; its outcome goes into @p out. */
static enum err caom_step(struct workers_job *job, const struct job_dataset_ctx *ctx,
                          const struct pipeline_request *req, const struct pipeline_result *res,
                          json_t *out, struct err_info *ei)
{
    if (!ctx->ingest) {
        workers_job_set_error_code(job, "caom_unavailable");
        return err_set(ei, ERR_INVALID, "this obsflowd has no CAOM repository for datasets");
    }
    struct ingest_params *p = calloc(1, sizeof *p);
    struct ingest_result ir;
    struct repo_target *target = NULL;
    if (!p) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    memset(&ir, 0, sizeof ir);
    p->collection = req->collection;
    p->observation_id = req->dataset;
    p->product_id = req->dataset;
    for (size_t i = 0; i < res->n_products && p->n < INGEST_URIS_MAX; i++) {
        const char *u = res->products[i].uri;
        size_t n = strlen(u);
        if (n > 5 && strcmp(u + n - 5, ".fits") == 0 && strncmp(u, "file:", 5) == 0) {
            p->uris[p->n++] = u;
        }
    }
    enum err e = ERR_OK;
    if (p->n == 0) {
        workers_job_set_error_code(job, "bad_input");
        e = err_set(ei, ERR_INVALID, "dataset %s published no FITS product for CAOM",
                    req->dataset);
        goto done;
    }
    e = ctx->ingest->remote ? repo_target_remote(ctx->ingest->remote, &target, ei)
                            : repo_target_local(ctx->ingest->store, &target, ei);
    if (e != ERR_OK) {
        goto done;
    }
    struct ingest_env env = {
        .storage = ctx->ingest->storage,
        .target = target,
        .blueprint_dir = ctx->ingest->blueprint_dir,
        .work_dir = ctx->ingest->work_dir,
        .tag = workers_job_id(job),
        .cancelled = job_cancelled,
        .cancel_ctx = job,
    };
    e = ingest_run(&env, p, &ir, ei);
    if (e == ERR_OK) {
        json_t *c = ingest_result_json(&ir);
        if (!c || json_object_set_new(out, "caom", c) != 0) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
        }
    } else if (e != ERR_CANCELLED && ir.code[0]) {
        workers_job_set_error_code(job, ir.code);
        err_prefix(ei, "CAOM step: ");
    }
done:
    repo_target_free(target);
    free(p);
    return e;
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
        if (!r) {
            pipeline_result_free(&res);
            return err_set(ei, ERR_NOMEM, "out of memory");
        }
        e = req.collection ? caom_step(job, ctx, &req, &res, r, ei) : ERR_OK;
        pipeline_result_free(&res);
        if (e != ERR_OK) {
            json_decref(r);
            return e;
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
