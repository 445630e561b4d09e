/* job_combine.c - the `combine` job kind (see job_combine.h): raw bias or flat frames -> a
 * master (lib/pipeline's pipeline_combine), registered with its provenance and certified into
 * a CALIBRATION collection. SPDX-License-Identifier: Apache-2.0 */
#include "job_combine.h"

#include "core/log.h"
#include "core/str.h"
#include "job_registry.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COMBINE_STEPS 4 /* fetch, combine, register, certify */
#define DEFAULT_TEMPLATE "{run}/{dataset_type}/{instrument}/{dataset_type}_{instrument}_{id}.fits"

struct combine_state {
    struct workers_job *job;
    const struct job_dataset_ctx *ctx;
    struct pipeline_combine_params p;
    char dir[4096];                /* the job's scratch directory */
    char local[PIPELINE_COMBINE_INPUTS_MAX][4096];
    struct jreg_file *frames;      /* one per input */
    char bias_path[4096], bias_id[64];
    char master[4096];             /* the master in scratch */
    char run[160];
    char id[37];                   /* the master's dataset id */
    char uri[4096];                /* where the master is published */
    struct storage_stat mst;       /* its size and MD5 */
    bool already;                  /* an earlier attempt registered the master */
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
        struct jreg_file *f = &s->frames[i];
        e = jreg_file_read(s->local[i], s->p.profile->instrument, name, f, ei);
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

/* The master's registry document (one transaction: exposures, the raw frames, the master). */
static json_t *registration(const struct combine_state *s, char (*raw_ids)[37])
{
    char digest[80];
    jreg_params_digest(workers_job_params(s->job), digest, sizeof digest);
    json_t *exps = json_array(), *raws = json_array(), *inputs = json_array();
    json_t *doc = json_pack("{s:s,s:{s:[{s:s}],s:o},s:[{s:s,s:s,s:o},{s:s,s:s,s:[]}]}", "job_id",
                            workers_job_id(s->job), "dimensions", "instruments", "name",
                            s->frames[0].instrument, "exposures", exps, "registrations", "run",
                            s->run, "dataset_type", "raw", "datasets", raws, "run", s->run,
                            "dataset_type", s->p.type, "datasets");
    if (!doc) {
        json_decref(inputs);
        return NULL;
    }
    for (size_t i = 0; i < s->p.n; i++) {
        const struct jreg_file *f = &s->frames[i];
        char sum[40];
        snprintf(sum, sizeof sum, "md5:%s", f->md5);
        json_array_append_new(exps, json_pack("{s:s,s:I,s:s,s:s,s:s}", "instrument",
                                              f->instrument, "id", (json_int_t)f->exposure,
                                              "obs_id", f->obs_id, "begin", f->begin, "end",
                                              f->end));
        json_array_append_new(
            raws, json_pack("{s:s,s:{s:s,s:I},s:[{s:s,s:I,s:s}],s:{s:s,s:s,s:s}}", "id",
                            raw_ids[i], "data_id", "instrument", f->instrument, "exposure",
                            (json_int_t)f->exposure, "files", "uri", f->uri, "size",
                            (json_int_t)f->size, "checksum", sum, "provenance", "job_id",
                            workers_job_id(s->job), "software_version", JREG_VERSION,
                            "parameters_digest", digest));
        json_array_append_new(inputs, json_string(raw_ids[i]));
    }
    char msum[40];
    snprintf(msum, sizeof msum, "md5:%s", s->mst.sum_hex);
    json_t *prov = json_pack("{s:s,s:s,s:s,s:o}", "job_id", workers_job_id(s->job),
                             "software_version", JREG_VERSION, "parameters_digest", digest,
                             "inputs", inputs);
    if (prov && s->bias_id[0]) {
        json_object_set_new(prov, "references", json_pack("[s]", s->bias_id));
    }
    json_t *m = json_pack("{s:s,s:{s:s},s:[{s:s,s:I,s:s}],s:o}", "id", s->id, "data_id",
                          "instrument", s->frames[0].instrument, "files", "uri", s->uri, "size",
                          (json_int_t)s->mst.size, "checksum", msum, "provenance", prov);
    json_t *regs = json_object_get(doc, "registrations");
    if (!m || json_array_append_new(json_object_get(json_array_get(regs, 1), "datasets"), m) != 0) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* Where the master goes: <output>/<the profile's file template for it>. */
static enum err master_uri(struct combine_state *s, struct err_info *ei)
{
    const char *tt = s->p.profile->file_template ? s->p.profile->file_template : DEFAULT_TEMPLATE;
    struct reg_template *t = NULL;
    char rel[REG_PATH_MAX];
    json_t *did = json_pack("{s:s}", "instrument", s->frames[0].instrument);
    enum err e = did ? reg_template_parse(tt, &t, ei) : err_set(ei, ERR_NOMEM, "out of memory");
    if (e == ERR_OK) {
        e = reg_template_render(t, s->run, s->p.type, s->id, did, rel, sizeof rel, ei);
    }
    if (e == ERR_OK) {
        size_t ol = strlen(s->p.output);
        bool slash = ol && s->p.output[ol - 1] == '/';
        if (snprintf(s->uri, sizeof s->uri, "%s%s%s", s->p.output, slash ? "" : "/", rel) >=
            (int)sizeof s->uri) {
            e = err_set(ei, ERR_TOO_LARGE, "master URI too long");
        }
    }
    reg_template_free(t);
    json_decref(did);
    return e;
}

/* The run of the master: params.run, else "<registry_run>/<type>-<job id>". */
static enum err run_name(struct combine_state *s, struct err_info *ei)
{
    if (s->p.run) {
        str_copy(s->run, sizeof s->run, s->p.run);
        return ERR_OK;
    }
    char base[PROFILE_RUN_MAX];
    if (!profile_registry_run(s->p.profile, time(NULL), workers_job_id(s->job), base, sizeof base) ||
        snprintf(s->run, sizeof s->run, "%s/%s-%s", base, s->p.type, workers_job_id(s->job)) >
            128) {
        return err_set_field(ei, ERR_INVALID, "params.run",
                             "the profile's registry_run makes no run name for the master; "
                             "name params.run");
    }
    return ERR_OK;
}

/* Certify the master; after a re-run that found the master registered, a conflict naming the
 * master itself is the earlier attempt's certification. */
static enum err certify(struct combine_state *s, json_t *result, struct err_info *ei)
{
    json_t *doc = json_pack("{s:s,s:s,s:[s]}", "collection", s->p.certify, "dataset_type",
                            s->p.type, "datasets", s->id);
    json_t *out = NULL;
    if (doc && s->p.begin[0]) {
        json_object_set_new(doc, "begin", json_string(s->p.begin));
    }
    if (doc && s->p.end[0]) {
        json_object_set_new(doc, "end", json_string(s->p.end));
    }
    enum err e = doc ? reg_certify(s->ctx->ingest->reg, doc, &out, ei)
                     : err_set(ei, ERR_NOMEM, "out of memory");
    if (e == ERR_CONFLICT && s->already && strstr(ei->msg, s->id)) {
        /* an earlier attempt registered and certified it, then died before finishing */
        err_info_clear(ei);
        e = ERR_OK;
        out = json_pack("{s:s,s:i,s:s?,s:s?,s:b}", "collection", s->p.certify, "certified", 1,
                        "begin", s->p.begin[0] ? s->p.begin : NULL, "end",
                        s->p.end[0] ? s->p.end : NULL, "already", 1);
    }
    if (e == ERR_OK && json_object_set_new(result, "certified", out) != 0) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
    }
    json_decref(doc);
    return e;
}

/* A registry failure: its stable code, permanent ones fail the job at once. */
static enum err registry_fail(struct workers_job *job, enum err e, struct err_info *ei)
{
    workers_job_set_error_code(job, jreg_error_code(e));
    return ei->code = jreg_permanent(e) ? ERR_INVALID : ERR_UNAVAILABLE;
}

static enum err combine_run(struct combine_state *s, json_t *result, struct err_info *ei)
{
    const struct job_ingest_ctx *ic = s->ctx->ingest;
    enum err e = fetch_inputs(s, ei);
    if (e != ERR_OK) {
        workers_job_set_error_code(s->job, e == ERR_INVALID || e == ERR_NOT_FOUND ||
                                                   e == ERR_FORBIDDEN || e == ERR_FITS
                                               ? "invalid_input"
                                               : "fetch_failed");
        return e;
    }
    for (size_t i = 1; i < s->p.n; i++) {
        if (strcmp(s->frames[i].instrument, s->frames[0].instrument) != 0) {
            workers_job_set_error_code(s->job, "invalid_input");
            return err_set_field(ei, ERR_INVALID, "params.inputs",
                                 "the frames are of two instruments (%s, %s)",
                                 s->frames[0].instrument, s->frames[i].instrument);
        }
    }
    if (strcmp(s->p.type, "flat") == 0) {
        /* the flats' bias: the one certified for the first frame's time */
        e = jreg_calib_find(ic->reg, s->ctx->storage, s->p.profile, "bias", &s->frames[0], s->dir,
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
    workers_job_progress(s->job, "register", 3, COMBINE_STEPS, s->run);
    char(*raw_ids)[37] = calloc(s->p.n, sizeof *raw_ids);
    json_t *doc = NULL, *out = NULL;
    struct storage_xfer_opts so = {.sum = STORAGE_SUM_MD5};
    if (!raw_ids) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < s->p.n; i++) {
        jreg_uuid(raw_ids[i]);
    }
    jreg_uuid(s->id);
    e = run_name(s, ei);
    if (e == ERR_OK) {
        e = master_uri(s, ei);
    }
    if (e == ERR_OK) {
        e = storage_put_file(s->ctx->storage, s->uri, s->master, &so, &s->mst, ei);
        if (e != ERR_OK) {
            workers_job_set_error_code(s->job, "publish_failed");
        }
    }
    for (int k = 0; k < 2 && e == ERR_OK; k++) {
        /* the raw frames' type and the master's (a calibration over the instrument) */
        json_t *t = k == 0 ? json_pack("{s:s,s:[s,s],s:s}", "name", "raw", "dimensions",
                                       "instrument", "exposure", "storage_class", "FITS")
                           : json_pack("{s:s,s:[s],s:s,s:b}", "name", s->p.type, "dimensions",
                                       "instrument", "storage_class", "FITS", "is_calibration",
                                       1);
        e = t ? reg_dataset_type_put(ic->reg, t, NULL, ei) : err_set(ei, ERR_NOMEM, "out of memory");
        json_decref(t);
        if (e != ERR_OK) {
            e = registry_fail(s->job, e, ei);
        }
    }
    if (e == ERR_OK) {
        doc = registration(s, raw_ids);
        e = doc ? reg_register_job(ic->reg, doc, &out, ei) : err_set(ei, ERR_NOMEM, "out of memory");
        if (e != ERR_OK) {
            e = registry_fail(s->job, e, ei);
        }
    }
    s->already = e == ERR_OK && json_is_true(json_object_get(out, "already"));
    if (s->already) {
        const char *old = json_string_value(json_array_get(
            json_object_get(json_array_get(json_object_get(out, "registrations"), 1), "ids"), 0));
        char fresh[4096];
        str_copy(fresh, sizeof fresh, s->uri);
        if (old) {
            str_copy(s->id, sizeof s->id, old);
            e = master_uri(s, ei);
        }
        if (e == ERR_OK && strcmp(fresh, s->uri) != 0) {
            struct err_info ign;
            e = storage_put_file(s->ctx->storage, s->uri, s->master, &so, &s->mst, ei);
            if (e == ERR_OK && storage_delete(s->ctx->storage, fresh, &ign) != ERR_OK) {
                LOG_WARN("combine", "job %s: could not remove %s: %s", workers_job_id(s->job),
                         fresh, ign.msg);
            }
        }
    }
    if (e == ERR_OK) {
        json_t *regs = json_object_get(out, "registrations");
        if (json_object_set_new(result, "master",
                                json_pack("{s:s,s:s,s:s,s:I,s:s}", "id", s->id, "type", s->p.type,
                                          "uri", s->uri, "size", (json_int_t)s->mst.size, "md5",
                                          s->mst.sum_hex)) != 0 ||
            json_object_set_new(result, "run", json_string(s->run)) != 0 ||
            json_object_set(result, "inputs",
                            json_object_get(json_array_get(regs, 0), "ids")) != 0 ||
            json_object_set_new(result, "references",
                                s->bias_id[0] ? json_pack("[s]", s->bias_id) : json_array()) !=
                0) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
        }
    }
    if (e == ERR_OK && s->p.certify) {
        workers_job_progress(s->job, "certify", 4, COMBINE_STEPS, s->p.certify);
        e = certify(s, result, ei);
        if (e != ERR_OK) {
            err_prefix(ei, "certify into %s: ", s->p.certify);
            e = registry_fail(s->job, e, ei);
        }
    }
    free(raw_ids);
    json_decref(doc);
    json_decref(out);
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
