/* job_combine.c - the `combine` job kind (see job_combine.h): raw bias or flat frames -> a
 * master (lib/pipeline's pipeline_combine), registered with its provenance and certified into
 * a CALIBRATION collection. SPDX-License-Identifier: Apache-2.0 */
#include "job_combine.h"

#include "core/log.h"
#include "core/str.h"
#include "jobreg/jobreg.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COMBINE_STEPS 4 /* fetch, combine, register, certify */

struct combine_state {
    struct workers_job *job;
    const struct job_dataset_ctx *ctx;
    struct pipeline_combine_params p;
    char dir[4096];                /* the job's scratch directory */
    char local[PIPELINE_COMBINE_INPUTS_MAX][4096];
    struct jobreg_file *frames;      /* one per input */
    char bias_path[4096], bias_id[64];
    char master[4096];             /* the master in scratch */
    struct jobreg_master m;        /* its run, id and place (lib/jobreg) */
    struct storage_stat mst;       /* its size and MD5 */
};

static bool cancelled(void *ud)
{
    return workers_job_cancelled(ud);
}

/* Empty and remove the scratch directory (flat: files only). */
static void scratch_remove(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[4200];
    while (d && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name) < (int)sizeof p) {
            unlink(p);
        }
    }
    if (d) {
        closedir(d);
    }
    rmdir(dir);
}

/* Each input into scratch (its MD5 and size taken on the way), then its registry view. */
static enum err fetch_inputs(struct combine_state *s, struct err_info *ei)
{
    struct storage_xfer_opts o = {.sum = STORAGE_SUM_MD5};
    for (size_t i = 0; i < s->p.n; i++) {
        const char *u = s->p.inputs[i];
        const char *b = strrchr(u, '/');
        char name[256];
        str_copy(name, sizeof name, b ? b + 1 : u);
        if (snprintf(s->local[i], sizeof s->local[i], "%s/%s", s->dir, name) >=
            (int)sizeof s->local[i]) {
            return err_set(ei, ERR_TOO_LARGE, "scratch path too long");
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(s->local[j], s->local[i]) == 0) {
                return err_set_field(ei, ERR_INVALID, "params.inputs",
                                     "two inputs have the same file name %s", name);
            }
        }
        struct storage_stat st;
        enum err e = storage_get_file(s->ctx->storage, u, s->local[i], &o, &st, ei);
        if (e != ERR_OK) {
            err_prefix(ei, "%s: ", u);
            return e;
        }
        /* the frame is its own dataset: <name>.fits has type raw */
        char *dot = strstr(name, ".fit");
        if (dot) {
            *dot = '\0';
        }
        struct jobreg_file *f = &s->frames[i];
        e = jobreg_file_read(s->local[i], s->p.profile->instrument, name, f, ei);
        if (e != ERR_OK) {
            return e;
        }
        str_copy(f->uri, sizeof f->uri, u);
        f->size = st.size;
        str_copy(f->md5, sizeof f->md5, st.sum_hex);
        f->input = true;
        workers_job_progress(s->job, "fetch", 1, COMBINE_STEPS, name);
    }
    return ERR_OK;
}

/* A registry failure: its stable code, permanent ones fail the job at once. */
static enum err registry_fail(struct workers_job *job, enum err e, struct err_info *ei)
{
    workers_job_set_error_code(job, jobreg_error_code(e));
    return ei->code = jobreg_permanent(e) ? ERR_INVALID : ERR_UNAVAILABLE;
}

static enum err combine_run(struct combine_state *s, json_t *result, struct err_info *ei)
{
    const struct job_ingest_ctx *ic = s->ctx->ingest;
    enum err e = fetch_inputs(s, ei);
    if (e != ERR_OK) {
        /* a frame missing, refused, unreadable or without what the registry needs will not
         * get better: fail at once; transfers are retried */
        bool bad = e == ERR_INVALID || e == ERR_NOT_FOUND || e == ERR_FORBIDDEN || e == ERR_FITS ||
                   e == ERR_PARSE;
        workers_job_set_error_code(s->job, bad ? "invalid_input" : "fetch_failed");
        return bad ? (ei->code = ERR_INVALID) : e;
    }
    s->m = (struct jobreg_master){.job_id = workers_job_id(s->job),
                                  .params = workers_job_params(s->job),
                                  .profile = s->p.profile,
                                  .type = s->p.type,
                                  .frames = s->frames,
                                  .n = s->p.n,
                                  .bias_id = s->bias_id,
                                  .output = s->p.output};
    e = jobreg_master_prepare(&s->m, s->p.run, time(NULL), ei);
    if (e != ERR_OK) {
        workers_job_set_error_code(s->job, "invalid_input");
        return e;
    }
    if (strcmp(s->p.type, "flat") == 0) {
        /* the flats' bias: the one certified for the first frame's time */
        e = jobreg_calib_find(ic->reg, s->ctx->storage, s->p.profile, "bias", &s->frames[0], s->dir,
                            s->bias_path, sizeof s->bias_path, s->bias_id, sizeof s->bias_id,
                            ei);
        if (e != ERR_OK) {
            workers_job_set_error_code(s->job, "bestrefs_error");
            err_prefix(ei, "bias for the flats: ");
            return e == ERR_UNAVAILABLE ? e : (ei->code = ERR_INVALID);
        }
    }
    workers_job_progress(s->job, "combine", 2, COMBINE_STEPS, s->p.type);
    snprintf(s->master, sizeof s->master, "%s/.master-%s.fits", s->dir, s->p.type);
    struct pipeline_combine_request cr = {
        .type = s->p.type,
        .n = s->p.n,
        .ccd = &s->p.profile->ccd,
        .bias = s->bias_id[0] ? s->bias_path : NULL,
        .method = s->p.method,
        .sigma_clip = s->p.sigma_clip,
        .sigma_low = s->p.sigma_low,
        .sigma_high = s->p.sigma_high,
        .work_dir = s->dir,
        .out_path = s->master,
        .cancelled = cancelled,
        .ud = s->job,
    };
    const char *ins[PIPELINE_COMBINE_INPUTS_MAX];
    /* preprocessed frames go to a sub-directory so that they do not replace the raw copies */
    char predir[4200];
    snprintf(predir, sizeof predir, "%s/pre", s->dir);
    if (mkdir(predir, 0700) != 0 && errno != EEXIST) {
        return err_set(ei, ERR_IO, "scratch: %s", ERR_ERRNO(errno));
    }
    for (size_t i = 0; i < s->p.n; i++) {
        ins[i] = s->local[i];
    }
    cr.inputs = ins;
    cr.work_dir = predir;
    e = pipeline_combine(&cr, ei);
    rmdir(predir);
    if (e != ERR_OK) {
        workers_job_set_error_code(s->job, e == ERR_CANCELLED ? "cancelled" : "stage1_error");
        return e == ERR_CANCELLED || e == ERR_NOMEM ? e : (ei->code = ERR_INVALID);
    }
    /* publish at the path of a fresh id (its MD5 and size taken on the way), register, and
     * when an earlier attempt had committed its registration, publish at that id's path */
    workers_job_progress(s->job, "register", 3, COMBINE_STEPS, s->m.run);
    struct storage_xfer_opts so = {.sum = STORAGE_SUM_MD5};
    json_t *reg = NULL, *cert = NULL;
    char fresh[4096];
    e = storage_put_file(s->ctx->storage, s->m.uri, s->master, &so, &s->mst, ei);
    if (e != ERR_OK) {
        workers_job_set_error_code(s->job, "publish_failed");
        return e == ERR_FORBIDDEN || e == ERR_INVALID ? (ei->code = ERR_INVALID) : e;
    }
    str_copy(fresh, sizeof fresh, s->m.uri);
    e = jobreg_master_register(ic->reg, &s->m, s->mst.size, s->mst.sum_hex, &reg, ei);
    if (e != ERR_OK) {
        return registry_fail(s->job, e, ei);
    }
    if (strcmp(fresh, s->m.uri) != 0) {
        struct err_info ign;
        e = storage_put_file(s->ctx->storage, s->m.uri, s->master, &so, &s->mst, ei);
        if (e == ERR_OK && storage_delete(s->ctx->storage, fresh, &ign) != ERR_OK) {
            LOG_WARN("combine", "job %s: could not remove %s: %s", workers_job_id(s->job), fresh,
                     ign.msg);
        }
    }
    if (e == ERR_OK && json_object_update(result, reg) != 0) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
    }
    if (e == ERR_OK && s->p.certify) {
        workers_job_progress(s->job, "certify", 4, COMBINE_STEPS, s->p.certify);
        e = jobreg_master_certify(ic->reg, &s->m, s->p.certify, s->p.begin, s->p.end, &cert, ei);
        if (e != ERR_OK) {
            err_prefix(ei, "certify into %s: ", s->p.certify);
            e = registry_fail(s->job, e, ei);
        } else if (json_object_set_new(result, "certified", cert) != 0) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
        }
    }
    json_decref(reg);
    return e;
}

enum err workers_job_combine(struct workers_job *job, void *arg, struct err_info *ei)
{
    const struct job_dataset_ctx *ctx = arg;
    const struct job_ingest_ctx *ic = ctx->ingest;
    struct combine_state *s = calloc(1, sizeof *s);
    json_t *result = json_object();
    enum err e = ERR_OK;
    if (!s || !result) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    s->job = job;
    s->ctx = ctx;
    e = pipeline_combine_params_parse(workers_job_params(job), "", ic ? ic->profiles : NULL,
                                      &s->p, ei);
    if (e != ERR_OK) {
        workers_job_set_error_code(job, "invalid_params");
        goto out;
    }
    if (!ic || !ic->reg) {
        workers_job_set_error_code(job, "registry_unavailable");
        e = err_set(ei, ERR_INVALID, "this obsflowd has no dataset registry");
        goto out;
    }
    s->frames = calloc(s->p.n, sizeof *s->frames);
    if (!s->frames) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    /* the job's own scratch: a re-run after a crash starts from an empty one */
    snprintf(s->dir, sizeof s->dir, "%s/combine-%s", ctx->work_dir, workers_job_id(job));
    scratch_remove(s->dir);
    if (mkdir(s->dir, 0700) != 0) {
        e = err_set(ei, ERR_IO, "cannot make the scratch directory: %s", ERR_ERRNO(errno));
        LOG_ERROR("combine", "job %s: mkdir %s: %s", workers_job_id(job), s->dir,
                  ERR_ERRNO(errno));
        goto out;
    }
    e = combine_run(s, result, ei);
    scratch_remove(s->dir);
    if (e == ERR_OK) {
        workers_job_set_result(job, result);
        result = NULL;
    }
out:
    json_decref(result);
    if (s) {
        free(s->frames);
    }
    free(s);
    return e;
}
