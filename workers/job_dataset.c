/* job_dataset.c - the dataset job kind over lib/pipeline. SPDX-License-Identifier: Apache-2.0 */
#include "job_dataset.h"

#include "core/log.h"
#include "core/str.h"
#include "jobreg/jobreg.h"
#include "fits2caom/fits2caom.h"

#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

struct caom_run;

/* What the pipeline's hooks get: the job, and the CAOM state of the products hook. */
struct dataset_hooks_ud {
    struct workers_job *job;
    struct caom_run *cr;
    /* the registry step (the profile names registry_run): the FITS files read in the products
     * hook, registered once published */
    bool reg;
    struct jobreg_file *files;
    size_t nfiles;
    char run[PROFILE_RUN_MAX];   /* the registry run, fixed when the job starts */
    struct reg_template *tmpl;   /* the profile's file_template (products placed by it) */
    char (*rel)[REG_PATH_MAX];   /* per file: where the template placed it ("" = CALDP's) */
};

static bool job_cancelled(void *ud)
{
    return workers_job_cancelled(((struct dataset_hooks_ud *)ud)->job);
}

static bool caom_named(const struct caom_run *cr);

static void job_step(void *ud, const char *step, int index, int nsteps, const char *detail)
{
    LOG_DEBUG("dataset", "job %s step %d/%d %s%s%s",
              workers_job_id(((struct dataset_hooks_ud *)ud)->job), index, nsteps, step,
              detail && *detail ? ": " : "", detail ? detail : "");
    /* the job's progress (and a step event); the CAOM push follows when there is a collection */
    const struct dataset_hooks_ud *hu = ud;
    workers_job_progress(hu->job, step, index,
                         nsteps + (caom_named(hu->cr) ? 1 : 0) + (hu->reg ? 1 : 0), detail);
}

static void job_log(void *ud, bool alert, const char *line)
{
    if (alert) {
        LOG_WARN("dataset", "job %s: %s", workers_job_id(((struct dataset_hooks_ud *)ud)->job),
                 line);
    }
}

/* The CAOM step of one dataset job: the observation built from the finished products before
 * they are published (products hook), pushed once they are. */
struct caom_run {
    struct workers_job *job;
    const struct job_dataset_ctx *ctx;
    const struct pipeline_request *req;
    struct caom_observation *obs; /* built, not yet pushed */
    struct ingest_result ir;
};

/* Whether the job pushes a CAOM observation after publishing (one more step). */
static bool caom_named(const struct caom_run *cr)
{
    return cr != NULL && cr->req != NULL && cr->req->collection != NULL;
}

static void compute_warn(void *ud, const char *msg)
{
    LOG_WARN("dataset", "job %s: CAOM compute: %s", workers_job_id(ud), msg);
}

/* The plane a file belongs to: its StorageName product ID, previews with the FITS file they
 * show ("x_flt_thumb.jpg" and "x_flt.jpg" -> "x_flt"). */
static void plane_of(const char *file_id, bool preview, char *out, size_t cap)
{
    size_t n = strlen(file_id);
    if (preview && n > 4 && strcmp(file_id + n - 4, ".jpg") == 0) {
        n -= 4;
    }
    if (preview && n > 6 && strncmp(file_id + n - 6, "_thumb", 6) == 0) {
        n -= 6;
    }
    snprintf(out, cap, "%.*s", (int)n, file_id);
}

/* products hook: one plane per FITS product (raw inputs calibrationLevel 1, what the run made
 * 2), each with its artifact; previews and thumbnails as artifacts of the plane they show. */
static enum err caom_build(void *ud, const struct pipeline_product *files, size_t n,
                           struct err_info *ei)
{
    struct caom_run *cr = ((struct dataset_hooks_ud *)ud)->cr;
    const struct job_ingest_ctx *ic = cr->ctx->ingest;
    const struct profile *pr = cr->req->profile;
    const char *scheme = pr && pr->scheme ? pr->scheme : NULL;
    struct ingest_file *f = calloc(n ? n : 1, sizeof *f);
    struct f2c_names *nm = calloc(n ? n : 1, sizeof *nm);
    char(*pid)[F2C_NAME_MAX] = calloc(n ? n : 1, sizeof *pid);
    size_t k = 0;
    enum err e = ERR_OK;
    if (!f || !nm || !pid) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n && e == ERR_OK; i++) {
        const char *path = files[i].uri + 5; /* "file:" */
        bool preview = strcmp(files[i].type, "preview") == 0 ||
                       strcmp(files[i].type, "thumbnail") == 0;
        e = f2c_storage_name(path, cr->req->collection, scheme, &nm[k], ei);
        if (e != ERR_OK) {
            break;
        }
        plane_of(nm[k].file_id, preview, pid[k], sizeof pid[k]);
        f[k] = (struct ingest_file){
            .path = path,
            .artifact_uri = nm[k].artifact_uri,
            .product_id = pid[k],
            .content_type = preview ? "image/jpeg" : NULL,
            .product_type = preview ? files[i].type : NULL,
            .size = files[i].size,
            .md5 = files[i].md5,
            .calibration_level = preview ? -1 : files[i].input ? 1 : 2,
        };
        k++;
    }
    if (e == ERR_OK) {
        struct ingest_build b = {
            .collection = cr->req->collection,
            .observation_id = cr->req->dataset,
            .scheme = scheme,
            .blueprint_dir = ic->blueprint_dir,
            .blueprints = pr ? pr->blueprints : NULL,
            .nbp = pr ? pr->nbp : 0,
            .compute = pr && pr->has_compute && pr->compute,
            .warn = compute_warn,
            .warn_ctx = cr->job,
            .files = f,
            .n = k,
        };
        e = ingest_build_planes(&b, &cr->obs, &cr->ir, ei);
        if (e != ERR_OK) {
            err_prefix(ei, "CAOM: ");
        }
    }
out:
    free(f);
    free(nm);
    free(pid);
    return e;
}

/* After publication: push the observation built before it; its outcome goes into @p out. */
static enum err caom_push(struct caom_run *cr, json_t *out, struct err_info *ei)
{
    bool reg = cr->req->profile && cr->req->profile->registry_run;
    workers_job_progress(cr->job, "caom", PIPELINE_NSTEPS + 1, PIPELINE_NSTEPS + 1 + (reg ? 1 : 0),
                         cr->req->collection);
    const struct job_ingest_ctx *ic = cr->ctx->ingest;
    struct repo_target *target = NULL;
    enum err e = ic->remote ? repo_target_remote(ic->remote, &target, ei)
                            : repo_target_local(ic->store, &target, ei);
    if (e == ERR_OK) {
        struct ingest_env env = {.target = target};
        e = ingest_push(&env, cr->obs, &cr->ir, ei);
    }
    if (e == ERR_OK) {
        json_t *c = ingest_result_json(&cr->ir);
        if (!c || json_object_set_new(out, "caom", c) != 0) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
        }
    } else if (cr->ir.code[0]) {
        workers_job_set_error_code(cr->job, cr->ir.code);
        err_prefix(ei, "CAOM push: ");
    }
    repo_target_free(target);
    return e;
}

static bool fits_product(const struct pipeline_product *p)
{
    return strcmp(p->type, "preview") != 0 && strcmp(p->type, "thumbnail") != 0 &&
           strcmp(p->type, "env") != 0 && strcmp(p->type, "tarball") != 0;
}

/* products hook: the registry's view of the FITS files (headers read while they are local),
 * then the CAOM observation when the job names a collection. */
static enum err dataset_products(void *ud, const struct pipeline_product *files, size_t n,
                                 struct err_info *ei)
{
    struct dataset_hooks_ud *hu = ud;
    if (hu->reg) {
        const struct profile *pr = hu->cr->req->profile;
        free(hu->files);
        free(hu->rel);
        hu->nfiles = 0;
        hu->files = calloc(n ? n : 1, sizeof *hu->files);
        hu->rel = calloc(n ? n : 1, sizeof *hu->rel);
        if (!hu->files || !hu->rel) {
            return err_set(ei, ERR_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < n; i++) {
            if (!fits_product(&files[i])) {
                continue;
            }
            if (hu->nfiles >= JOBREG_FILES_MAX) {
                return err_set(ei, ERR_TOO_LARGE, "more than %d FITS products to register",
                               JOBREG_FILES_MAX);
            }
            struct jobreg_file *f = &hu->files[hu->nfiles];
            enum err e = jobreg_file_read(files[i].uri + 5, pr->instrument, hu->cr->req->dataset, f, ei);
            if (e != ERR_OK) {
                return e;
            }
            f->size = files[i].size;
            str_copy(f->md5, sizeof f->md5, files[i].md5);
            f->input = files[i].input;
            hu->nfiles++;
        }
    }
    return hu->cr->req->collection ? caom_build(ud, files, n, ei) : ERR_OK;
}

/* After publication: the published URI of each registered file (a tarball's for s3:
 * outputs), then one registry transaction; its summary goes into @p out as "registry". */
static enum err dataset_register(struct dataset_hooks_ud *hu, const struct pipeline_result *res,
                                 json_t *out, struct err_info *ei)
{
    const struct job_ingest_ctx *ic = hu->cr->ctx->ingest;
    const char *run = hu->run;
    if (!ic || !ic->reg) {
        return err_set(ei, ERR_INVALID, "this obsflowd has no dataset registry (registry_run)");
    }
    const char *tarball = NULL;
    for (size_t k = 0; k < res->n_products; k++) {
        if (strcmp(res->products[k].type, "tarball") == 0) {
            tarball = res->products[k].uri;
        }
    }
    for (size_t i = 0; i < hu->nfiles; i++) {
        struct jobreg_file *f = &hu->files[i];
        f->uri[0] = '\0';
        for (size_t k = 0; k < res->n_products; k++) {
            /* by its name, or where the file template placed it */
            const char *u = res->products[k].uri;
            const char *b = strrchr(u, '/');
            size_t ul = strlen(u), rl = strlen(hu->rel[i]);
            bool hit = hu->rel[i][0] ? ul > rl && u[ul - rl - 1] == '/' &&
                                           strcmp(u + ul - rl, hu->rel[i]) == 0
                                     : strcmp(b ? b + 1 : u, f->base) == 0;
            if (hit) {
                str_copy(f->uri, sizeof f->uri, u);
            }
        }
        if (!f->uri[0] && tarball) {
            str_copy(f->uri, sizeof f->uri, tarball);
        }
    }
    workers_job_progress(hu->job, "registry", PIPELINE_NSTEPS + 1 + (caom_named(hu->cr) ? 1 : 0),
                         PIPELINE_NSTEPS + 1 + (caom_named(hu->cr) ? 1 : 0), run);
    json_t *summary = NULL;
    const char *refs[PIPELINE_REFS_MAX];
    for (size_t i = 0; i < res->n_refs; i++) {
        refs[i] = res->refs[i].id;
    }
    enum err e = jobreg_register(ic->reg, workers_job_id(hu->job), workers_job_params(hu->job), run, hu->files, hu->nfiles, refs, res->n_refs,
                               &summary, ei);
    if (e == ERR_OK && json_object_set_new(out, "registry", summary) != 0) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
    }
    return e;
}

/* The profile's file template places each FITS product the registry will hold: a fresh
 * dataset id (registered with it), the product's data ID and type, the job's run. */
static enum err place_product(void *ud, const char *name, const char *local, char *rel,
                              size_t cap, struct err_info *ei)
{
    struct dataset_hooks_ud *hu = ud;
    (void)local;
    for (size_t i = 0; i < hu->nfiles; i++) {
        struct jobreg_file *f = &hu->files[i];
        if (strcmp(f->base, name) != 0) {
            continue;
        }
        json_t *did = json_pack("{s:s,s:I}", "instrument", f->instrument, "exposure",
                                (json_int_t)f->exposure);
        jobreg_uuid(f->id);
        enum err e = did ? reg_template_render(hu->tmpl, hu->run, f->type, f->id, did,
                                               hu->rel[i], sizeof hu->rel[i], ei)
                         : err_set(ei, ERR_NOMEM, "out of memory");
        json_decref(did);
        if (e == ERR_OK) {
            str_copy(rel, cap, hu->rel[i]);
        } else {
            err_prefix(ei, "file_template for %s: ", name);
        }
        return e;
    }
    return ERR_NOT_FOUND; /* not a registered product: the CALDP place */
}

/* The bias and flat of a ground CCD frame from the profile's calibration collections: the
 * registry's lookup over the frame's instrument and exposure span (jobreg_file_read). A file:
 * URI is used in place; other URIs are fetched into @p scratch. */
struct calib_src_ud {
    struct workers_job *job;
    const struct job_dataset_ctx *ctx;
    const struct profile *profile;
    const char *dataset;
    char scratch[4096]; /* the job's directory for fetched references ("" = none yet) */
};

static enum err calib_find(void *ud, const char *type, const char *raw_path, char *path,
                           size_t cap, char *id, size_t idcap, struct err_info *ei)
{
    struct calib_src_ud *u = ud;
    const struct job_ingest_ctx *ic = u->ctx->ingest;
    struct jobreg_file *frame = calloc(1, sizeof *frame);
    if (!frame) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    enum err e = !ic || !ic->reg
                     ? err_set(ei, ERR_NOT_FOUND, "this obsflowd has no dataset registry")
                     : jobreg_file_read(raw_path, u->profile->instrument, u->dataset, frame, ei);
    if (e == ERR_OK) {
        const char *d = strrchr(raw_path, '/');
        snprintf(u->scratch, sizeof u->scratch, "%.*s", d ? (int)(d - raw_path) : 1,
                 d ? raw_path : ".");
        e = jobreg_calib_find(ic->reg, u->ctx->storage, u->profile, type, frame, u->scratch, path,
                           cap, id, idcap, ei);
    } else if (e == ERR_INVALID) {
        e = ERR_INVALID; /* the frame itself lacks what the lookup needs */
    }
    free(frame);
    return e;
}

/* CALDP codes worth another attempt: transfers and memory. */
static bool transient(int code)
{
    /* transfers (archive, S3, reference store) are retried when the pipeline says the error
     * was the network's or the server's (result.retryable), not a missing or refused file */
    switch (code) {
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
    struct pipeline_request *req = calloc(1, sizeof *req);
    struct pipeline_result res;
    struct caom_run cr = {.job = job, .ctx = ctx};
    /* the products hook needs the CAOM state and the registry's; the others the job: all
     * ride on ud */
    struct dataset_hooks_ud hu = {.job = job, .cr = &cr};
    enum err e;
    if (!req) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    e = pipeline_params_parse(workers_job_params(job), "",
                              ctx->ingest ? ctx->ingest->profiles : NULL, req, ei);
    if (e != ERR_OK) {
        workers_job_set_error_code(job, "invalid_params");
        goto out;
    }
    if (req->collection && !ctx->ingest) {
        workers_job_set_error_code(job, "caom_unavailable");
        e = err_set(ei, ERR_INVALID, "this obsflowd has no CAOM repository for datasets");
        goto out;
    }
    req->tag = workers_job_id(job);
    cr.req = req;
    struct pipeline_config cfg = {
        .config_dir = ctx->config_dir,
        .work_dir = ctx->work_dir,
        .storage = ctx->storage,
        .refstore = ctx->refstore,
        .missing_reference = ctx->missing_reference,
    };
    struct calib_src_ud csu = {.job = job, .ctx = ctx, .profile = req->profile,
                               .dataset = req->dataset};
    struct pipeline_calib_source cs = {.find = calib_find, .ud = &csu};
    if (req->profile && req->profile->has_ccd) {
        cfg.ccd = &req->profile->ccd;
        cfg.calib_source = &cs;
    }
    if (req->profile) {
        cfg.reference_catalog = req->profile->reference_catalog;
        cfg.expectations = req->profile->expectations;
        cfg.no_previews = req->profile->has_previews && !req->profile->previews;
    }
    /* the profile's missing_reference (checked when the profiles were loaded) wins */
    if (req->profile && req->profile->missing_reference &&
        pipeline_missing_ref_parse(req->profile->missing_reference, &cfg.missing_reference,
                                   ei) != ERR_OK) {
        workers_job_set_error_code(job, "invalid_params");
        e = ERR_INVALID;
        goto out;
    }
    struct pipeline_hooks hooks = {
        .cancelled = job_cancelled,
        .step = job_step,
        .log = job_log,
        .products = req->collection || (req->profile && req->profile->registry_run)
                        ? dataset_products
                        : NULL,
        .ud = job,
    };
    hu.reg = req->profile && req->profile->registry_run;
    hooks.ud = &hu;
    struct pipeline_placement placement = {.place = place_product, .ud = &hu};
    if (hu.reg && !profile_registry_run(req->profile, time(NULL), workers_job_id(job), hu.run,
                                        sizeof hu.run)) {
        workers_job_set_error_code(job, "registry_invalid");
        e = err_set(ei, ERR_INVALID, "the profile's registry_run makes no collection name");
        goto out;
    }
    if (hu.reg && req->profile->file_template) {
        /* checked when the profiles were loaded */
        e = reg_template_parse(req->profile->file_template, &hu.tmpl, ei);
        if (e != ERR_OK) {
            goto out;
        }
        cfg.placement = &placement;
    }
    int code = pipeline_run(&cfg, req, &hooks, &res);
    if (code == PIPELINE_SUCCESS) {
        json_t *r = pipeline_result_json(&res);
        if (!r) {
            pipeline_result_free(&res);
            e = err_set(ei, ERR_NOMEM, "out of memory");
            goto out;
        }
        e = cr.obs ? caom_push(&cr, r, ei) : ERR_OK;
        /* the registry step is part of the job: the job succeeds only once its datasets are
         * registered; a refused registration fails it, an unreachable database retries it */
        if (e == ERR_OK && hu.reg) {
            e = dataset_register(&hu, &res, r, ei);
            if (e != ERR_OK) {
                workers_job_set_error_code(job, jobreg_error_code(e));
                /* refused (conflict, bad data ID): fails at once; else retried */
                ei->code = e = jobreg_permanent(e) ? ERR_INVALID : ERR_UNAVAILABLE;
            }
        }
        pipeline_result_free(&res);
        if (e != ERR_OK) {
            json_decref(r);
            goto out;
        }
        workers_job_set_result(job, r);
        goto out;
    }
    pipeline_result_free(&res);
    if (res.cancelled) {
        e = err_set(ei, ERR_CANCELLED, "dataset %s cancelled", req->dataset);
        goto out;
    }
    if (cr.ir.code[0]) {
        /* the CAOM build failed before publication: its class, not GENERIC_ERROR */
        workers_job_set_error_code(job, cr.ir.code);
        e = err_set(ei, ERR_INVALID, "%s", res.reason);
        goto out;
    }
    char lc[64];
    const char *name = pipeline_exit_name(code);
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof lc; i++) {
        lc[i] = (char)tolower((unsigned char)name[i]);
    }
    lc[i] = '\0';
    workers_job_set_error_code(job, lc);
    e = err_set(ei, transient(code) || res.retryable ? ERR_IO : ERR_INVALID, "%s[%d]: %s", name,
                code, res.reason);
out:
    caom_observation_free(cr.obs);
    reg_template_free(hu.tmpl);
    free(hu.rel);
    free(hu.files);
    free(req);
    return e;
}
