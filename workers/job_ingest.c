/* job_ingest.c - the ingest job kind over lib/ingest. SPDX-License-Identifier: Apache-2.0 */
#include "job_ingest.h"

#include "core/str.h"
#include "jobreg/jobreg.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool job_cancelled(void *ctx)
{
    return workers_job_cancelled(ctx);
}

/* The registry's view of the inputs (the profile names registry_run), read before the ingest:
 * a file: input's primary header in place (confined to the data roots); a remote one's headers
 * by ranged reads (a compressed one whole) into the job's scratch directory @p scratch. */
static enum err read_inputs(const struct job_ingest_ctx *ctx, const struct ingest_params *p,
                            const struct ingest_env *env, const char *scratch,
                            struct jobreg_file **out, struct err_info *ei)
{
    struct jobreg_file *f = calloc(p->n ? p->n : 1, sizeof *f);
    if (!f) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    enum err e = ERR_OK;
    bool made = false;
    char(*fetched)[4096] = calloc(p->n ? p->n : 1, sizeof *fetched);
    if (!fetched) {
        free(f);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < p->n && e == ERR_OK; i++) {
        const char *u = p->uris[i];
        char inplace[4096];
        /* a file: input is read in place; a remote one's copy is recorded for removal */
        char *local = strncmp(u, "file:", 5) == 0 ? inplace : fetched[i];
        const size_t cap = sizeof inplace;
        uint64_t size = 0;
        const char *sum = "";
        struct ingest_fetch fe = {0};
        if (strncmp(u, "file:", 5) == 0) {
            struct stat st;
            e = storage_local_path(ctx->storage, u, false, local, cap, ei);
            size = e == ERR_OK && stat(local, &st) == 0 ? (uint64_t)st.st_size : 0;
        } else {
            /* the scratch copy keeps the object's name: it gives the dataset root and type */
            const char *b = strrchr(u, '/');
            size_t bl = strcspn(b ? b + 1 : u, "?#");
            if (!made && mkdir(scratch, 0700) != 0 && errno != EEXIST) {
                e = err_set(ei, ERR_IO, "scratch directory: %s", ERR_ERRNO(errno));
                break;
            }
            made = true;
            bool ranged = ingest_ranged_ok(u);
            if (snprintf(local, cap, "%s/%.*s%s", scratch, (int)bl, b ? b + 1 : u,
                         ranged ? ".header" : "") >= (int)cap) {
                e = err_set(ei, ERR_TOO_LARGE, "scratch path too long");
                break;
            }
            if (ranged) {
                e = ingest_fetch_headers(env, u, local, &fe, ei);
                size = fe.size;
                sum = fe.checksum;
            } else {
                struct storage_stat st;
                struct storage_xfer_opts o = {.sum = STORAGE_SUM_MD5};
                e = storage_get_file(ctx->storage, u, local, &o, &st, ei);
                size = st.size;
                sum = st.sum_hex;
            }
        }
        if (e == ERR_OK) {
            e = jobreg_file_read(local, p->profile->instrument, NULL, &f[i], ei);
        }
        if (e == ERR_OK) {
            str_copy(f[i].uri, sizeof f[i].uri, u);
            f[i].size = size;
            str_copy(f[i].md5, sizeof f[i].md5, strncmp(sum, "md5:", 4) == 0 ? sum + 4 : sum);
            f[i].input = true;
        } else {
            err_prefix(ei, "registry: %s: ", u);
        }
    }
    if (made) {
        /* only what this loop wrote: the remote inputs' scratch copies */
        for (size_t i = 0; i < p->n; i++) {
            if (fetched[i][0]) {
                unlink(fetched[i]);
            }
        }
        rmdir(scratch);
    }
    free(fetched);
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
    if (reg) {
        char scratch[4096];
        snprintf(scratch, sizeof scratch, "%s/registry-%s", ctx->work_dir ? ctx->work_dir : ".",
                 workers_job_id(job));
        e = !ctx->reg ? err_set(ei, ERR_INVALID, "this obsflowd has no dataset registry")
            : !profile_registry_run(p->profile, time(NULL), workers_job_id(job), run, sizeof run)
                ? err_set(ei, ERR_INVALID, "the profile's registry_run makes no collection name")
                : read_inputs(ctx, p, &env, scratch, &files, ei);
        if (e != ERR_OK) {
            /* the inputs' own problems (missing, refused, unreadable) are the ingest's */
            workers_job_set_error_code(job, e == ERR_UNAVAILABLE || e == ERR_IO ||
                                                    e == ERR_TIMEOUT || e == ERR_HTTP
                                                ? "input_unavailable"
                                                : jobreg_error_code(e));
            goto out;
        }
    }
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
