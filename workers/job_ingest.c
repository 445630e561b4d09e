/* job_ingest.c - the ingest job kind over lib/ingest. SPDX-License-Identifier: Apache-2.0 */
#include "job_ingest.h"

#include "core/str.h"
#include "jobreg/jobreg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool job_cancelled(void *ctx)
{
    return workers_job_cancelled(ctx);
}

/* The registry's view of the inputs (the profile names registry_run), read before the ingest:
 * file: inputs only (their primary header gives the exposure). */
static enum err read_inputs(const struct ingest_params *p, struct jobreg_file **out,
                            struct err_info *ei)
{
    struct jobreg_file *f = calloc(p->n ? p->n : 1, sizeof *f);
    if (!f) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    enum err e = ERR_OK;
    for (size_t i = 0; i < p->n && e == ERR_OK; i++) {
        struct stat st;
        if (strncmp(p->uris[i], "file:", 5) != 0) {
            e = err_set_field(ei, ERR_INVALID, "params.uris",
                              "registry_run registers file: inputs only, not %s", p->uris[i]);
            break;
        }
        e = jobreg_file_read(p->uris[i] + 5, p->profile->instrument, NULL, &f[i], ei);
        if (e == ERR_OK) {
            str_copy(f[i].uri, sizeof f[i].uri, p->uris[i]);
            f[i].size = stat(p->uris[i] + 5, &st) == 0 ? (uint64_t)st.st_size : 0;
            f[i].input = true;
        }
    }
    if (e != ERR_OK) {
        free(f);
        f = NULL;
    }
    *out = f;
    return e;
}

enum err workers_job_ingest(struct workers_job *job, void *arg, struct err_info *ei)
{
    const struct job_ingest_ctx *ctx = arg;
    struct ingest_params *p = malloc(sizeof *p);
    struct ingest_result res;
    struct repo_target *target = NULL;
    struct jobreg_file *files = NULL;
    json_t *summary = NULL;
    if (!p) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    enum err e = ingest_params_parse(workers_job_params(job), "", ctx->profiles, p, ei);
    if (e != ERR_OK) {
        workers_job_set_error_code(job, "invalid_params");
        goto out;
    }
    /* registry_run: the inputs are read before the ingest (a file the registry cannot take
     * fails the job before anything is pushed) and registered after it, part of the job */
    bool reg = p->profile && p->profile->registry_run;
    char run[PROFILE_RUN_MAX];
    if (reg) {
        e = !ctx->reg ? err_set(ei, ERR_INVALID, "this obsflowd has no dataset registry")
            : !profile_registry_run(p->profile, time(NULL), workers_job_id(job), run, sizeof run)
                ? err_set(ei, ERR_INVALID, "the profile's registry_run makes no collection name")
                : read_inputs(p, &files, ei);
        if (e != ERR_OK) {
            workers_job_set_error_code(job, jobreg_error_code(e));
            goto out;
        }
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
    if (e == ERR_OK && reg) {
        e = jobreg_register(ctx->reg, workers_job_id(job), workers_job_params(job), run, files, p->n, NULL, 0, &summary, ei);
        if (e != ERR_OK) {
            workers_job_set_error_code(job, jobreg_error_code(e));
            /* refused (conflict, bad data ID): fails at once; else retried (the ingest is
             * idempotent) */
            ei->code = e = jobreg_permanent(e) ? ERR_INVALID : ERR_UNAVAILABLE;
            goto out;
        }
    }
    if (e == ERR_OK) {
        json_t *r = ingest_result_json(&res);
        if (!r || (summary && json_object_set(r, "registry", summary) != 0)) {
            json_decref(r);
            e = err_set(ei, ERR_NOMEM, "out of memory");
            goto out;
        }
        workers_job_set_result(job, r);
    } else if (e != ERR_CANCELLED && res.code[0]) {
        workers_job_set_error_code(job, res.code);
    }
out:
    json_decref(summary);
    free(files);
    repo_target_free(target);
    free(p);
    return e;
}
