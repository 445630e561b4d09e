/* pipeline.c - pipeline_run: one dataset with the semantics of STScI's caldp-process: fetch the raw files (file:DIR plain FITS or one tarball, astroquery:,
 * s3://bucket/prefix), check them against the instrument's expectations, calibrate (stage 1,
 * lib/calib), make fitscut-style previews, and publish the output tree
 *   messages/{datasets-processed,dataset-synced,dataset-archived}/<ds>
 *   messages/{processing-<ds>, processed-<ds>.trigger, error-<ds>}
 *   data/<instrument>/<ds>/{products, logs/, previews/}
 * to file:DIR or s3://bucket/prefix (there, as CALDP, the dataset directory goes up as one
 * data/<instrument>/<ds>/<ds>.tar.gz with the logs beside it), with CALDP's numeric exit codes
 * (process_int.h). Products and the processed trigger appear only when everything succeeded; a
 * failure withdraws what was published and leaves logs, an error-<ds> marker and
 * "EXIT - NAME[code]: reason" as the last line of process.txt. A cancellation is such a
 * failure (GENERIC_ERROR, reason "cancelled"), with result.cancelled set.
 * SPDX-License-Identifier: Apache-2.0 */
#include "pipeline_calib.h"
#include "pipeline_int.h"

#include "core/buf.h"
#include "core/clock.h"
#include "core/path.h"
#include "core/str.h"
#include "dataset/dataset.h"
#include "expect/expect.h"
#include "preview/preview.h"
#include "storage/storage.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROC_NSTEPS PIPELINE_NSTEPS
#define PROC_CAL_ENV_MAX 256                /* variables a <ds>_cal_env.txt may set */
#define PROC_LIST_MAX    ((size_t)1 << 20) /* bytes of the product or preview path list */
#define PROC_TRIGGER_MAX (2 * PROC_LIST_MAX) /* a trigger's body: both lists */
#define PROC_ENV_LINE_MAX 1024             /* a KEY=VALUE line of <ds>_cal_env.txt */

static const char *const step_names[PIPELINE_NSTEPS] = {"fetch", "validate", "calibrate",
                                                         "previews", "publish"};

struct run {
    const struct pipeline_config *cfg;
    const struct pipeline_hooks *hooks;
    struct pipeline_result *res;
    struct dataset_info ds;
    const char *input;
    const char *output;
    char config_dir[PROC_PATH_MAX];
    char work[PROC_PATH_MAX];     /* private scratch directory */
    char in_dir[PROC_PATH_MAX];   /* work/inputs */
    char out_dir[PROC_PATH_MAX];  /* work/outputs: products before publication */
    char prev_work[PROC_PATH_MAX]; /* work/previews */
    char stage[PROC_PATH_MAX];    /* root of the output tree on local disk */
    char data_dir[PROC_PATH_MAX]; /* stage/data/<instrument>/<ds> */
    char logs_dir[PROC_PATH_MAX];
    char prev_dir[PROC_PATH_MAX];
    char msg_dir[PROC_PATH_MAX];
    bool out_s3;
    char s3_base[STORAGE_URI_MAX]; /* s3://bucket[/prefix] without trailing slash */
    struct storage *st;
    bool own_st; /* st made for this run */
    struct proc_log plog;
    struct proc_log vlog;
    int step;            /* current step index (1-based), 0 = none yet */
    int64_t step_t0;     /* monotonic start of the current step */
    struct proc_usage t0, tp;
    char *inputs[PROC_FILES_MAX];
    size_t n_inputs;
    char reason[PROC_REASON_MAX];
    bool cancelled;      /* a cancellation stopped the run */
    int64_t sim_publish; /* config.simulate_publish_failure: fail after this many files */
    char *cal_env[PROC_CAL_ENV_MAX]; /* "NAME=value" of <ds>_cal_env.txt (owned) */
    size_t n_cal_env;
    char tarball_md5[33];  /* S3 output: the uploaded dataset tarball */
    uint64_t tarball_size;
    /* products published where cfg->placement put them: the path and the product's name */
    char *placed[PROC_FILES_MAX];
    char *placed_name[PROC_FILES_MAX];
    size_t n_placed;
};

static void collect_products(struct run *r, struct buf *products, struct buf *previews);

/* A step begins (a new index) or advances (same index, new detail): timings and the hook. */
static void step_event(struct run *r, int index, const char *detail)
{
    int64_t now = clock_mono_ns();
    if (index != r->step) {
        if (r->step > 0) {
            r->res->steps[r->step - 1].ms = (now - r->step_t0) / 1000000;
        }
        r->step = index;
        r->step_t0 = now;
    }
    if (r->hooks && r->hooks->step) {
        r->hooks->step(r->hooks->ud, step_names[index - 1], index, PIPELINE_NSTEPS, detail);
    }
}

static void step_end(struct run *r)
{
    if (r->step > 0) {
        r->res->steps[r->step - 1].ms = (clock_mono_ns() - r->step_t0) / 1000000;
        r->step = 0;
    }
}

/* Cancellation between and inside steps: true once the caller asked (remembered). */
static bool cancel_now(struct run *r)
{
    if (!r->cancelled && proc_cancelled(r->hooks)) {
        r->cancelled = true;
    }
    return r->cancelled;
}

static int cancel_fail(struct run *r)
{
    r->cancelled = true;
    snprintf(r->reason, sizeof r->reason, "cancelled");
    return PROC_GENERIC_ERROR;
}

/* storage progress: a transfer stops when the run is cancelled */
static bool xfer_progress(void *ud, uint64_t done, uint64_t total)
{
    (void)done;
    (void)total;
    return !cancel_now(ud);
}

/* Inputs are fetched into the work copy r->in_dir; a reason naming one of those files names it
 * where the user put it instead ("file:/data/in/x_raw.fits", "s3://b/in/x_raw.fits"). */
static void reason_user_paths(struct run *r)
{
    size_t n = strlen(r->in_dir);
    char *hit = n ? strstr(r->reason, r->in_dir) : NULL;
    if (!hit || hit[n] != '/' || !r->input || str_starts_with(r->input, "astroquery:")) {
        return;
    }
    size_t in_len = strlen(r->input);
    while (in_len > 1 && r->input[in_len - 1] == '/') {
        in_len--;
    }
    char out[sizeof r->reason];
    snprintf(out, sizeof out, "%.*s%.*s%s", (int)(hit - r->reason), r->reason, (int)in_len,
             r->input, hit + n);
    memcpy(r->reason, out, sizeof out);
}

static int fail(struct run *r, int code, const struct err_info *ei, const char *what)
{
    if (ei && ei->code == ERR_CANCELLED) {
        return cancel_fail(r);
    }
    snprintf(r->reason, sizeof r->reason, "%s%s%s", what ? what : "", what && ei ? ": " : "",
             ei ? ei->msg : "");
    /* what another attempt may not meet: the network's and the servers' failures (refused
     * connections, timeouts, resets, 5xx, S3 errors) and local I/O; never a missing, refused
     * or invalid file */
    r->res->retryable = ei && (ei->code == ERR_UNAVAILABLE || ei->code == ERR_TIMEOUT ||
                               ei->code == ERR_HTTP || ei->code == ERR_STORAGE ||
                               ei->code == ERR_IO);
    reason_user_paths(r);
    /* CALDP: a MemoryError is always CALDP_MEMORY_ERROR, so the orchestrator can retry the
     * job with more memory whatever the block that ran out */
    if (ei && ei->code == ERR_NOMEM && code != PROC_SUCCESS) {
        return PROC_CALDP_MEMORY_ERROR;
    }
    return code;
}

/* ---- dataset names from the config ------------------------------------------------------ */

/* <config>/datasets.yaml: {collections: [{name: C, pattern: '(?<instrument>..)...'}]} */
static enum err parse_dataset(struct run *r, const char *name, struct err_info *ei)
{
    enum err rc = dataset_parse_hst(name, &r->ds, ei);
    if (rc == ERR_OK) {
        return ERR_OK;
    }
    char path[PROC_PATH_MAX];
    struct stat sb;
    if (proc_join(path, sizeof path, r->config_dir, "datasets.yaml", NULL) != ERR_OK ||
        stat(path, &sb) != 0) {
        return rc; /* the HST message */
    }
    struct err_info hst = *ei;
    json_t *doc = NULL;
    rc = expect_yaml_load(path, &doc, ei);
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *cols = json_object_get(doc, "collections");
    size_t i;
    json_t *c;
    rc = ERR_INVALID;
    json_array_foreach(cols, i, c) {
        const char *cname = json_string_value(json_object_get(c, "name"));
        const char *pat = json_string_value(json_object_get(c, "pattern"));
        struct dataset_rule *rule = NULL;
        if (!cname || !pat) {
            rc = err_set(ei, ERR_INVALID, "file \"%s\": collections[%zu] needs name and pattern",
                         path, i);
            break;
        }
        rc = dataset_rule_create(cname, pat, &rule, ei);
        if (rc != ERR_OK) {
            err_prefix(ei, "file \"%s\": ", path);
            break;
        }
        rc = dataset_rule_match(rule, name, NULL, &r->ds, NULL);
        dataset_rule_destroy(rule);
        if (rc == ERR_OK) {
            break;
        }
    }
    json_decref(doc);
    if (rc == ERR_INVALID && ei->msg[0] == '\0') {
        *ei = hst;
    } else if (rc == ERR_INVALID) {
        /* the config's path is the server's business: the file's name says where to look */
        err_set_field(ei, ERR_INVALID, "dataset",
                      "invalid dataset name \"%s\": neither an HST name nor matched by a "
                      "collection of datasets.yaml",
                      name);
    }
    return rc;
}

/* ---- setup ------------------------------------------------------------------------------ */

static const char *file_path_of(const char *uri)
{
    if (str_starts_with(uri, "file://")) {
        return uri + 7;
    }
    if (str_starts_with(uri, "file:")) {
        return uri + 5;
    }
    return uri;
}

static enum err make_storage(struct run *r, struct err_info *ei)
{
    struct storage_config cfg;
    char roots[2 * PROC_PATH_MAX + 2];
    if (r->st) {
        return ERR_OK; /* made before the output was created (explicit roots) */
    }
    if (r->cfg->storage) {
        r->st = r->cfg->storage;
        return ERR_OK;
    }
    memset(&cfg, 0, sizeof cfg);
    const char *env_roots = r->cfg->data_roots;
    if (env_roots && *env_roots) {
        cfg.data_roots = env_roots;
    } else {
        /* the command line names its own directories: they are the roots */
        roots[0] = '\0';
        char real[PATH_MAX];
        if (!str_starts_with(r->input, "s3://") && !str_starts_with(r->input, "astroquery:") &&
            realpath(file_path_of(r->input), real)) {
            snprintf(roots, sizeof roots, "%s", real);
        }
        if (!r->out_s3 && realpath(file_path_of(r->output), real)) {
            size_t n = strlen(roots);
            snprintf(roots + n, sizeof roots - n, "%s%s", n ? ":" : "", real);
        }
        cfg.data_roots = roots;
    }
    cfg.s3 = r->cfg->s3;
    const char *tmpl = r->cfg->archive_url;
    cfg.archive_url_template = tmpl && *tmpl ? tmpl : NULL;
    cfg.archive_token = r->cfg->archive_token;
    enum err rc = storage_create(&cfg, &r->st, ei);
    r->own_st = rc == ERR_OK;
    return rc;
}

static void clear_markers(struct run *r);

static enum err setup_tree(struct run *r, struct err_info *ei)
{
    static const char *const subdirs[] = {"datasets-processed", "dataset-synced",
                                          "dataset-archived"};
    char sub[PROC_PATH_MAX];
    enum err rc = proc_join(r->msg_dir, sizeof r->msg_dir, r->stage, "messages", ei);
    for (size_t i = 0; rc == ERR_OK && i < 3; i++) {
        rc = proc_join(sub, sizeof sub, r->msg_dir, subdirs[i], ei);
        if (rc == ERR_OK) {
            rc = proc_mkdirs(sub, ei);
        }
    }
    if (rc != ERR_OK) {
        return rc;
    }
    int n = snprintf(r->data_dir, sizeof r->data_dir, "%s/data/%s/%s", r->stage,
                     r->ds.instrument, r->ds.name);
    if (n < 0 || (size_t)n >= sizeof r->data_dir) {
        return err_set(ei, ERR_TOO_LARGE, "output path too long");
    }
    /* a re-run starts without the old markers (first: a trigger must never name files that
     * are gone) and from a clean dataset directory: nothing of an earlier run may make this
     * one look complete */
    clear_markers(r);
    proc_rmtree(r->data_dir);
    rc = proc_join(r->logs_dir, sizeof r->logs_dir, r->data_dir, "logs", ei);
    if (rc == ERR_OK) {
        rc = proc_join(r->prev_dir, sizeof r->prev_dir, r->data_dir, "previews", ei);
    }
    if (rc == ERR_OK) {
        rc = proc_mkdirs(r->logs_dir, ei);
    }
    if (rc == ERR_OK) {
        rc = proc_mkdirs(r->prev_dir, ei);
    }
    return rc;
}

/* Marker "<pre><dataset><post>" under messages/ (pre may hold a subdirectory). */
static void marker_path(const struct run *r, char *out, size_t cap, const char *pre,
                        const char *post)
{
    snprintf(out, cap, "%s/%s%s%s", r->msg_dir, pre, r->ds.name, post);
}

/* Relative path of a file of the staged tree, for S3 keys. */
static const char *rel_of(const struct run *r, const char *path)
{
    size_t n = strlen(r->stage);
    return strncmp(path, r->stage, n) == 0 && path[n] == '/' ? path + n + 1 : path;
}

/* Upload @p path as <s3_base>/<rel> (@p rel NULL: the path's place in the staged tree). */
static enum err s3_put_as(struct run *r, const char *path, const char *rel, struct err_info *ei)
{
    char uri[STORAGE_URI_MAX];
    int n = snprintf(uri, sizeof uri, "%s/%s", r->s3_base, rel ? rel : rel_of(r, path));
    if (n < 0 || (size_t)n >= sizeof uri) {
        return err_set(ei, ERR_TOO_LARGE, "S3 key too long for \"%s\"", path);
    }
    return storage_put_file(r->st, uri, path, NULL, NULL, ei);
}

static enum err s3_put(struct run *r, const char *path, struct err_info *ei)
{
    return s3_put_as(r, path, NULL, ei);
}

static enum err s3_delete(struct run *r, const char *path, struct err_info *ei)
{
    char uri[STORAGE_URI_MAX];
    int n = snprintf(uri, sizeof uri, "%s/%s", r->s3_base, rel_of(r, path));
    if (n < 0 || (size_t)n >= sizeof uri) {
        return err_set(ei, ERR_TOO_LARGE, "S3 key too long for \"%s\"", path);
    }
    return storage_delete(r->st, uri, ei);
}

/* S3 key of the dataset's tarball, as a path of the staged tree:
 * <stage>/data/<instrument>/<ds>/<ds>.tar.gz. */
static enum err tarball_path(const struct run *r, char *out, size_t cap, struct err_info *ei)
{
    int n = snprintf(out, cap, "%s/%s.tar.gz", r->data_dir, r->ds.name);
    if (n < 0 || (size_t)n >= cap) {
        return err_set(ei, ERR_TOO_LARGE, "tarball path too long for dataset %s", r->ds.name);
    }
    return ERR_OK;
}

static void clear_markers(struct run *r)
{
    static const char *const fmts[][2] = {{"processed-", ".trigger"}, {"error-", ""},
                                          {"processing-", ""}, {"datasets-processed/", ""},
                                          {"dataset-synced/", ""}};
    struct err_info ign;
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        char p[PROC_PATH_MAX];
        marker_path(r, p, sizeof p, fmts[i][0], fmts[i][1]);
        unlink(p);
        if (r->out_s3 && s3_delete(r, p, &ign) != ERR_OK) {
            /* best effort: a stale marker is replaced at the end anyway */
        }
    }
    /* an earlier run's tarball must not outlive a failure of this one */
    char tb[PROC_PATH_MAX];
    if (r->out_s3 && tarball_path(r, tb, sizeof tb, &ign) == ERR_OK &&
        s3_delete(r, tb, &ign) != ERR_OK) {
        /* best effort, as above; unpublish() tries again on failure */
    }
}

/* ---- step 1: inputs --------------------------------------------------------------------- */

static bool is_hst(const struct run *r)
{
    return r->ds.kind != DATASET_OTHER;
}

/* Files in the inputs directory that belong to the dataset. */
static enum err glob_inputs(struct run *r, struct err_info *ei)
{
    char prefix[DATASET_NAME_MAX];
    str_copy(prefix, sizeof prefix, r->ds.name);
    if (is_hst(r) && r->ds.kind == DATASET_IPST) {
        prefix[5] = '\0'; /* CALDP: <ds[0:5]>*.fits */
    }
    proc_free_names(r->inputs, r->n_inputs);
    r->n_inputs = 0;
    enum err rc = proc_list_dir(r->in_dir, prefix, ".fits", r->inputs, PROC_FILES_MAX,
                                &r->n_inputs, ei);
    if (rc == ERR_OK && r->n_inputs == 0) {
        rc = err_set(ei, ERR_NOT_FOUND, "no input files %s*.fits for dataset %s", prefix,
                     r->ds.name);
    }
    return rc;
}

static int fetch_file_dir(struct run *r, const char *uri)
{
    struct err_info ei;
    char dir[PROC_PATH_MAX];
    char *names[PROC_FILES_MAX];
    size_t n = 0;
    char prefix[DATASET_NAME_MAX];
    err_info_clear(&ei);
    struct stat sb;
    if (stat(file_path_of(uri), &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(ei.msg, sizeof ei.msg, "input directory \"%s\" does not exist or is not a "
                 "directory", file_path_of(uri));
        return fail(r, PROC_INPUT_TAR_FILE_ERROR, &ei, NULL);
    }
    if (storage_local_path(r->st, uri, false, dir, sizeof dir, &ei) != ERR_OK) {
        return fail(r, PROC_INPUT_TAR_FILE_ERROR, &ei, "cannot use input directory");
    }
    str_copy(prefix, sizeof prefix, r->ds.name);
    if (r->ds.kind == DATASET_IPST) {
        prefix[5] = '\0';
    }
    if (proc_list_dir(dir, prefix, ".tar.gz", names, PROC_FILES_MAX, &n, &ei) != ERR_OK) {
        return fail(r, PROC_INPUT_TAR_FILE_ERROR, &ei, "cannot list input directory");
    }
    if (n > 1) {
        proc_free_names(names, n);
        snprintf(ei.msg, sizeof ei.msg, "%zu tarballs %s*.tar.gz in \"%s\"; expected one", n,
                 prefix, dir);
        return fail(r, PROC_INPUT_TAR_FILE_ERROR, &ei, NULL);
    }
    if (n == 1) {
        char tb[PROC_PATH_MAX];
        enum err rc = proc_join(tb, sizeof tb, dir, names[0], &ei);
        proc_free_names(names, n);
        proc_log(&r->plog, "INFO", "extracting tarball %s", tb);
        if (rc == ERR_OK) {
            rc = proc_untar(tb, r->in_dir, r->hooks, &ei);
        }
        if (rc != ERR_OK) {
            return fail(r, PROC_INPUT_TAR_FILE_ERROR, &ei, NULL);
        }
        return PROC_SUCCESS;
    }
    /* plain FITS files: the dataset's own files, or an association's members (ipppss) */
    char asn[PROC_PATH_MAX];
    snprintf(asn, sizeof asn, "%s/%s_asn.fits", dir, r->ds.name);
    str_copy(prefix, sizeof prefix, r->ds.name);
    if (r->ds.kind == DATASET_IPST && access(asn, F_OK) == 0) {
        prefix[6] = '\0';
    }
    if (proc_list_dir(dir, prefix, ".fits", names, PROC_FILES_MAX, &n, &ei) != ERR_OK) {
        return fail(r, PROC_INPUT_TAR_FILE_ERROR, &ei, "cannot list input directory");
    }
    char envf[DATASET_NAME_MAX + 16];
    snprintf(envf, sizeof envf, "%s_cal_env.txt", r->ds.name);
    for (size_t i = 0; i <= n; i++) {
        const char *nm = i < n ? names[i] : envf;
        char src[PROC_PATH_MAX], dst[PROC_PATH_MAX];
        if (proc_join(src, sizeof src, dir, nm, &ei) != ERR_OK ||
            proc_join(dst, sizeof dst, r->in_dir, nm, &ei) != ERR_OK) {
            proc_free_names(names, n);
            return fail(r, PROC_INPUT_TAR_FILE_ERROR, &ei, NULL);
        }
        if (i == n && access(src, F_OK) != 0) {
            break;
        }
        if (proc_copy_file_c(src, dst, r->hooks, &ei) != ERR_OK) {
            proc_free_names(names, n);
            return fail(r, PROC_INPUT_TAR_FILE_ERROR, &ei, "cannot read input");
        }
        proc_log(&r->plog, "INFO", "input %s", src);
    }
    proc_free_names(names, n);
    if (n == 0) {
        snprintf(ei.msg, sizeof ei.msg, "no input files %s*.fits or %.5s*.tar.gz in \"%s\"",
                 prefix, r->ds.name, dir);
        return fail(r, PROC_INPUT_TAR_FILE_ERROR, &ei, NULL);
    }
    return PROC_SUCCESS;
}

static int fetch_s3(struct run *r)
{
    struct err_info ei;
    char uri[STORAGE_URI_MAX], tb[PROC_PATH_MAX];
    const char *in = r->input;
    size_t len = strlen(in);
    while (len > 0 && in[len - 1] == '/') {
        len--;
    }
    int n = snprintf(uri, sizeof uri, "%.*s/%s.tar.gz", (int)len, in, r->ds.name);
    err_info_clear(&ei);
    if (n < 0 || (size_t)n >= sizeof uri || proc_join(tb, sizeof tb, r->work, "input.tar.gz",
                                                      &ei) != ERR_OK) {
        snprintf(ei.msg, sizeof ei.msg, "input URI too long");
        return fail(r, PROC_S3_DOWNLOAD_ERROR, &ei, NULL);
    }
    proc_log(&r->plog, "INFO", "downloading %s", uri);
    struct storage_xfer_opts xo = {.progress = xfer_progress, .progress_ud = r};
    if (storage_get_file(r->st, uri, tb, &xo, NULL, &ei) != ERR_OK) {
        return fail(r, PROC_S3_DOWNLOAD_ERROR, &ei, "cannot download input tarball");
    }
    enum err rc = proc_untar(tb, r->in_dir, r->hooks, &ei);
    unlink(tb);
    if (rc != ERR_OK) {
        return fail(r, PROC_INPUT_TAR_FILE_ERROR, &ei, NULL);
    }
    return PROC_SUCCESS;
}

static int fetch_astroquery(struct run *r)
{
    struct err_info ei;
    size_t got_raw = 0;
    for (size_t i = 0; i < r->ds.n_suffixes; i++) {
        char name[STORAGE_NAME_MAX], uri[STORAGE_URI_MAX], dst[PROC_PATH_MAX];
        snprintf(name, sizeof name, "%s_%s.fits", r->ds.name, r->ds.suffixes[i]);
        snprintf(uri, sizeof uri, "astroquery:%s", name);
        err_info_clear(&ei);
        if (proc_join(dst, sizeof dst, r->in_dir, name, &ei) != ERR_OK) {
            return fail(r, PROC_ASTROQUERY_ERROR, &ei, NULL);
        }
        struct storage_xfer_opts xo = {.progress = xfer_progress, .progress_ud = r};
        enum err rc = storage_get_file(r->st, uri, dst, &xo, NULL, &ei);
        if (rc == ERR_NOT_FOUND) {
            proc_log(&r->plog, "INFO", "archive has no %s", name);
            continue;
        }
        if (rc != ERR_OK) {
            return fail(r, PROC_ASTROQUERY_ERROR, &ei, "cannot download from the archive");
        }
        proc_log(&r->plog, "INFO", "downloaded %s", name);
        got_raw += strcmp(r->ds.suffixes[i], "asn") != 0;
    }
    if (got_raw == 0) {
        snprintf(ei.msg, sizeof ei.msg, "the archive has no raw files of dataset %s",
                 r->ds.name);
        return fail(r, PROC_ASTROQUERY_ERROR, &ei, NULL);
    }
    return PROC_SUCCESS;
}

/* Names a dataset's own file may not set: the dynamic loader's, obsflow's and the
 * credentials' (the file comes with the input, from whoever made the tarball). */
static bool cal_env_refused(const char *name)
{
    return str_starts_with(name, "LD_") || str_starts_with(name, "OBSFLOW_") ||
           str_starts_with(name, "AWS_");
}

/* Set NAME=value in the run's variables (a later line replaces an earlier one). */
static enum err cal_env_set(struct run *r, const char *name, const char *value)
{
    size_t nl = strlen(name);
    size_t cap = nl + strlen(value) + 2;
    char *kv = malloc(cap);
    if (!kv) {
        return ERR_NOMEM;
    }
    snprintf(kv, cap, "%s=%s", name, value);
    for (size_t i = 0; i < r->n_cal_env; i++) {
        if (strncmp(r->cal_env[i], name, nl) == 0 && r->cal_env[i][nl] == '=') {
            free(r->cal_env[i]);
            r->cal_env[i] = kv;
            return ERR_OK;
        }
    }
    if (r->n_cal_env >= PROC_CAL_ENV_MAX) {
        free(kv);
        return ERR_TOO_LARGE;
    }
    r->cal_env[r->n_cal_env++] = kv;
    return ERR_OK;
}

static const char *kv_find(const char *const *list, size_t n, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; list && (n == SIZE_MAX ? list[i] != NULL : i < n); i++) {
        if (strncmp(list[i], name, nl) == 0 && list[i][nl] == '=') {
            return list[i] + nl + 1;
        }
    }
    return NULL;
}

/* An IRAF directory variable: the dataset's cal_env first (it was exported over the
 * environment), then the configuration's variables. */
static const char *run_lookup(void *ud, const char *name)
{
    const struct run *r = ud;
    const char *v = kv_find((const char *const *)r->cal_env, r->n_cal_env, name);
    return v ? v : kv_find(r->cfg->env, SIZE_MAX, name);
}

/* <ds>_cal_env.txt: KEY=VALUE lines exported before calibration (CALDP); kept with the run
 * (never in the process environment) for the reference lookups of stage 1. */
static void apply_cal_env(struct run *r)
{
    char p[PROC_PATH_MAX];
    snprintf(p, sizeof p, "%s/%s_cal_env.txt", r->in_dir, r->ds.name);
    FILE *fp = fopen(p, "re");
    if (!fp) {
        return;
    }
    char line[PROC_ENV_LINE_MAX];
    int lineno = 0;
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(fp)) {
            /* the rest of an overlong line must not be read as a line of its own */
            proc_log(&r->plog, "WARNING", "file \"%s\" line %d: longer than %d bytes, ignored", p,
                     lineno, PROC_ENV_LINE_MAX - 1);
            int ch;
            while ((ch = fgetc(fp)) != EOF && ch != '\n') {
            }
            continue;
        }
        char *eq = strchr(line, '=');
        size_t n = strcspn(line, "\r\n");
        line[n] = '\0';
        if (!eq || eq == line) {
            continue;
        }
        *eq = '\0';
        bool ok = isalpha((unsigned char)line[0]) || line[0] == '_';
        for (char *c = line; *c; c++) {
            ok = ok && (isalnum((unsigned char)*c) || *c == '_');
        }
        if (ok && cal_env_refused(line)) {
            proc_log(&r->plog, "WARNING", "file \"%s\" line %d: %s may not be set, ignored", p,
                     lineno, line);
        } else if (ok && cal_env_set(r, line, eq + 1) != ERR_OK) {
            proc_log(&r->plog, "WARNING", "file \"%s\" line %d: cannot set %s: %s", p, lineno,
                     line, r->n_cal_env >= PROC_CAL_ENV_MAX ? "too many variables"
                                                            : ERR_ERRNO(ENOMEM));
        } else if (ok) {
            proc_log(&r->plog, "INFO", "cal_env: %s=%s", line, eq + 1);
        }
    }
    fclose(fp);
}

static int step_fetch(struct run *r)
{
    struct err_info ei;
    int code;
    step_event(r, 1, r->input);
    proc_log(&r->plog, "INFO", "fetching inputs of %s from %s", r->ds.name, r->input);
    if (str_starts_with(r->input, "s3://")) {
        code = fetch_s3(r);
    } else if (str_starts_with(r->input, "astroquery:")) {
        code = fetch_astroquery(r);
    } else {
        code = fetch_file_dir(r, r->input);
    }
    if (code != PROC_SUCCESS) {
        return code;
    }
    err_info_clear(&ei);
    if (glob_inputs(r, &ei) != ERR_OK) {
        return fail(r, r->input[0] == 'a' ? PROC_ASTROQUERY_ERROR : PROC_INPUT_TAR_FILE_ERROR,
                    &ei, NULL);
    }
    apply_cal_env(r);
    return PROC_SUCCESS;
}

/* ---- step 2: intake validation ---------------------------------------------------------- */

static int step_validate(struct run *r)
{
    struct err_info ei;
    struct expect_set *set = NULL;
    char dir[PROC_PATH_MAX];
    int code = PROC_SUCCESS;
    step_event(r, 2, NULL);
    err_info_clear(&ei);
    if (proc_join(dir, sizeof dir, r->config_dir, "expectations", &ei) != ERR_OK) {
        return fail(r, PROC_GENERIC_ERROR, &ei, NULL);
    }
    struct expect *own = NULL; /* the profile's expectations file */
    if (r->cfg->expectations) {
        char path[PROC_PATH_MAX];
        json_t *doc = NULL;
        enum err rc = proc_join(path, sizeof path, dir, r->cfg->expectations, &ei);
        if (rc == ERR_OK) {
            rc = expect_yaml_load(path, &doc, &ei);
        }
        if (rc == ERR_OK) {
            rc = expect_compile(doc, r->cfg->expectations, &own, &ei);
        }
        json_decref(doc);
        if (rc != ERR_OK) {
            return fail(r, PROC_GENERIC_ERROR, &ei, "cannot load the profile's expectations");
        }
    } else if (access(dir, F_OK) != 0) {
        proc_log(&r->plog, "WARNING", "no expectations directory %s: inputs not validated", dir);
    } else if (expect_set_load_dir(dir, &set, &ei) != ERR_OK) {
        return fail(r, PROC_GENERIC_ERROR, &ei, "cannot load expectations");
    }
    const struct expect *e = own ? own : set ? expect_set_find(set, r->ds.instrument, "raw") : NULL;
    json_t *reports = json_array();
    if (!reports) {
        expect_set_destroy(set);
        expect_destroy(own);
        err_set(&ei, ERR_NOMEM, "out of memory");
        return fail(r, PROC_CALDP_MEMORY_ERROR, &ei, NULL);
    }
    for (size_t i = 0; i < r->n_inputs && code == PROC_SUCCESS; i++) {
        char p[PROC_PATH_MAX];
        struct expect_header *h = NULL;
        json_t *rep = NULL;
        if (proc_join(p, sizeof p, r->in_dir, r->inputs[i], &ei) != ERR_OK) {
            code = fail(r, PROC_GENERIC_ERROR, &ei, NULL);
            break;
        }
        /* every FITS input must at least be readable, HDU by HDU */
        enum err rc = expect_header_from_fits(p, &h, &ei);
        if (rc != ERR_OK) {
            code = fail(r, rc == ERR_NOMEM ? PROC_CALDP_MEMORY_ERROR : PROC_STAGE1_ERROR, &ei,
                        "corrupt or unreadable FITS input");
        } else if (e && (own || str_ends_with(r->inputs[i], "_raw.fits"))) {
            /* a profile's expectations apply to every input; the set's raw entries to raw files */
            rc = expect_validate(e, h, r->inputs[i], &rep, &ei);
            if (rc == ERR_INVALID && rep) {
                code = fail(r, PROC_STAGE1_ERROR, &ei, "input does not meet expectations");
                if (json_array_append_new(reports, rep) != 0) {
                    proc_log(&r->plog, "WARNING", "out of memory: no validation report of %s",
                             r->inputs[i]);
                }
            } else if (rc != ERR_OK) {
                code = fail(r, PROC_GENERIC_ERROR, &ei, NULL);
            } else {
                proc_log(&r->plog, "INFO", "%s meets %s", r->inputs[i], expect_id(e));
            }
        }
        expect_header_destroy(h);
    }
    if (json_array_size(reports) > 0) {
        char vp[PROC_PATH_MAX];
        char *text = json_dumps(reports, JSON_INDENT(2));
        struct err_info ign;
        if (text && proc_join(vp, sizeof vp, r->logs_dir, "validation.json", &ign) == ERR_OK &&
            proc_write_text(vp, text, &ign) == ERR_OK) {
            proc_log(&r->plog, "ERROR", "validation report written to %s", vp);
        }
        free(text);
    }
    json_decref(reports);
    expect_set_destroy(set);
    expect_destroy(own);
    return code;
}

/* ---- step 3: calibration (stage 1) ------------------------------------------------------ */

static int step_calibrate(struct run *r)
{
    struct err_info ei;
    struct proc_calib_ctx cx;
    memset(&cx, 0, sizeof cx);
    str_copy(cx.instrument, sizeof cx.instrument, r->ds.instrument);
    str_copy(cx.config_dir, sizeof cx.config_dir, r->config_dir);
    cx.lookup = run_lookup;
    cx.lookup_ud = r;
    cx.hooks = r->hooks;
    cx.refstore = r->cfg->refstore;
    if (r->cfg->reference_catalog) {
        str_copy(cx.refcat, sizeof cx.refcat, r->cfg->reference_catalog);
    }
    cx.missing = r->cfg->missing_reference;
    step_event(r, 3, NULL);
    proc_log_divider(&r->plog, "stage 1");
    for (size_t i = 0; i < r->n_inputs; i++) {
        char src[PROC_PATH_MAX], dst[PROC_PATH_MAX];
        err_info_clear(&ei);
        if (cancel_now(r)) {
            return cancel_fail(r);
        }
        if (proc_join(src, sizeof src, r->in_dir, r->inputs[i], &ei) != ERR_OK ||
            proc_join(dst, sizeof dst, r->out_dir, r->inputs[i], &ei) != ERR_OK) {
            return fail(r, PROC_GENERIC_ERROR, &ei, NULL);
        }
        /* raw inputs are kept among the products, as CALDP keeps them */
        if (proc_copy_file_c(src, dst, r->hooks, &ei) != ERR_OK) {
            return fail(r, PROC_GENERIC_ERROR, &ei, NULL);
        }
        if (r->ds.kind == DATASET_OTHER && r->cfg->ccd && str_ends_with(r->inputs[i], ".fits")) {
            /* a ground CCD frame of a profile with a ccd plan: <base>_cal.fits */
            char prod[PROC_PATH_MAX];
            size_t n = strlen(r->inputs[i]) - strlen(".fits");
            snprintf(prod, sizeof prod, "%s/%.*s_cal.fits", r->out_dir, (int)n, r->inputs[i]);
            step_event(r, 3, r->inputs[i]);
            int xcode = PROC_SUCCESS;
            proc_log(&r->plog, "INFO", "calibrating %s -> %s", r->inputs[i],
                     strrchr(prod, '/') + 1);
            if (proc_ccd_calibrate(r->cfg, src, prod, &r->plog, r->res, &xcode, &ei) != ERR_OK) {
                return fail(r, xcode, &ei, NULL);
            }
            continue;
        }
        if (!str_ends_with(r->inputs[i], "_raw.fits")) {
            continue;
        }
        char prod[PROC_PATH_MAX];
        size_t n = strlen(r->inputs[i]) - strlen("_raw.fits");
        snprintf(prod, sizeof prod, "%s/%.*s_flt.fits", r->out_dir, (int)n, r->inputs[i]);
        step_event(r, 3, r->inputs[i]);
        int xcode = PROC_SUCCESS;
        proc_log(&r->plog, "INFO", "calibrating %s -> %s", r->inputs[i], strrchr(prod, '/') + 1);
        if (proc_calibrate_raw(&cx, src, prod, &r->plog, &xcode, &ei) != ERR_OK) {
            return fail(r, xcode, &ei, NULL);
        }
    }
    /* the cal_env file goes to env/ (CALDP) */
    char envs[PROC_PATH_MAX], envd[PROC_PATH_MAX];
    snprintf(envs, sizeof envs, "%s/%s_cal_env.txt", r->in_dir, r->ds.name);
    if (access(envs, F_OK) == 0) {
        snprintf(envd, sizeof envd, "%s/env", r->out_dir);
        struct err_info ign;
        if (proc_mkdirs(envd, &ign) == ERR_OK) {
            snprintf(envd, sizeof envd, "%s/env/%s_cal_env.txt", r->out_dir, r->ds.name);
            if (proc_copy_file(envs, envd, &ign) != ERR_OK) {
                proc_log(&r->plog, "WARNING", "could not keep %s: %s", envs, ign.msg);
            }
        }
    }
    return PROC_SUCCESS;
}

/* ---- the caller's look at the finished products (before publication) ---------------------- */

static void product_type(const char *path, char *out, size_t cap);

/* Add the files of @p dir ending in @p suffix to @p list (at most PIPELINE_PRODUCTS_MAX). */
static enum err local_files(const struct run *r, const char *dir, const char *suffix,
                            struct pipeline_product *list, size_t *n, struct err_info *ei)
{
    char *names[PROC_FILES_MAX];
    size_t k = 0;
    enum err rc = proc_list_dir(dir, "", suffix, names, PROC_FILES_MAX, &k, ei);
    if (rc == ERR_NOT_FOUND) {
        err_info_clear(ei);
        return ERR_OK; /* no previews */
    }
    for (size_t i = 0; rc == ERR_OK && i < k; i++) {
        char path[PROC_PATH_MAX];
        if (*n >= PIPELINE_PRODUCTS_MAX) {
            rc = err_set(ei, ERR_TOO_LARGE, "more than %d products", PIPELINE_PRODUCTS_MAX);
            break;
        }
        struct pipeline_product *pp = &list[*n];
        rc = proc_join(path, sizeof path, dir, names[i], ei);
        if (rc == ERR_OK) {
            rc = proc_md5_file(path, pp->md5, &pp->size, ei);
        }
        if (rc == ERR_OK) {
            snprintf(pp->uri, sizeof pp->uri, "file:%s", path);
            product_type(path, pp->type, sizeof pp->type);
            for (size_t j = 0; j < r->n_inputs && !pp->input; j++) {
                pp->input = strcmp(r->inputs[j], names[i]) == 0;
            }
            (*n)++;
        }
    }
    proc_free_names(names, k);
    return rc;
}

static int step_products(struct run *r)
{
    struct err_info ei;
    size_t n = 0;
    err_info_clear(&ei);
    struct pipeline_product *list = calloc(PIPELINE_PRODUCTS_MAX, sizeof *list);
    if (!list) {
        err_set(&ei, ERR_NOMEM, "out of memory");
        return fail(r, PROC_GENERIC_ERROR, &ei, NULL);
    }
    enum err rc = local_files(r, r->out_dir, ".fits", list, &n, &ei);
    if (rc == ERR_OK) {
        rc = local_files(r, r->prev_work, ".jpg", list, &n, &ei);
    }
    if (rc == ERR_OK) {
        rc = r->hooks->products(r->hooks->ud, list, n, &ei);
    }
    free(list);
    if (rc != ERR_OK) {
        return fail(r, PROC_GENERIC_ERROR, &ei, NULL);
    }
    return PROC_SUCCESS;
}

/* Products validated before anything is made from them or published (pipeline_products.c). */
static int check_products(struct run *r)
{
    struct err_info ei;
    int xcode = PROC_SUCCESS;
    struct proc_products_ctx cx = {r->config_dir, r->ds.instrument, r->in_dir, r->out_dir,
                                   r->logs_dir,   &r->plog,          r->hooks};
    err_info_clear(&ei);
    step_event(r, 3, "checking products");
    if (proc_check_products(&cx, &xcode, &ei) != ERR_OK) {
        return fail(r, xcode, &ei, "products do not meet their expectations");
    }
    return PROC_SUCCESS;
}

/* ---- step 4: previews ------------------------------------------------------------------- */

static bool wants_preview(const struct run *r, const char *name)
{
    static const char *const acs[] = {"crj", "drc", "drz", "raw", "flc", "flt", NULL};
    static const char *const wfc3[] = {"drc", "drz", "flc", "flt", "ima", "raw", NULL};
    static const char *const mosaic[] = {"drc", "drz", NULL};
    const char *const *list;
    if (r->ds.kind == DATASET_SVM || r->ds.kind == DATASET_MVM) {
        list = mosaic;
    } else if (strcmp(r->ds.instrument, "acs") == 0) {
        list = acs;
    } else if (strcmp(r->ds.instrument, "wfc3") == 0) {
        list = wfc3;
    } else if (r->ds.kind == DATASET_OTHER) {
        return str_ends_with(name, ".fits"); /* configured collections: every image product */
    } else {
        return false; /* STIS and COS images are not fitscut previews in CALDP */
    }
    const char *us = strrchr(name, '_');
    const char *dot = strrchr(name, '.');
    if (!us || !dot || dot < us || !str_ends_with(name, ".fits")) {
        return false;
    }
    for (size_t i = 0; list[i]; i++) {
        if ((size_t)(dot - us - 1) == strlen(list[i]) &&
            strncmp(us + 1, list[i], strlen(list[i])) == 0) {
            return true;
        }
    }
    return false;
}

static int step_previews(struct run *r)
{
    char *names[PROC_FILES_MAX];
    size_t n = 0;
    struct err_info ei;
    int failures = 0;
    step_event(r, 4, NULL);
    proc_log_divider(&r->vlog, "previews");
    if (r->cfg->no_previews) {
        proc_log(&r->vlog, "INFO", "previews: off in this dataset's profile");
        return PROC_SUCCESS;
    }
    err_info_clear(&ei);
    if (proc_list_dir(r->out_dir, "", ".fits", names, PROC_FILES_MAX, &n, &ei) != ERR_OK) {
        proc_log(&r->vlog, "ERROR", "%s", ei.msg);
        return PROC_CREATE_PREVIEWS_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        if (cancel_now(r)) {
            break; /* run_process sees the cancellation after the step */
        }
        if (!wants_preview(r, names[i])) {
            continue;
        }
        char in[PROC_PATH_MAX], base[PROC_PATH_MAX], out[PROC_PATH_MAX];
        size_t bl = strlen(names[i]) - strlen(".fits");
        snprintf(base, sizeof base, "%.*s", (int)bl, names[i]);
        if (proc_join(in, sizeof in, r->out_dir, names[i], &ei) != ERR_OK) {
            continue;
        }
        /* CALDP output_formats: ("_thumb", 128) and ("", full size); MVM thumbs are 512 */
        const int sizes[2] = {r->ds.kind == DATASET_MVM ? 512 : PREVIEW_THUMB_SIZE, 0};
        const char *sfx[2] = {"_thumb", ""};
        for (int k = 0; k < 2; k++) {
            struct preview_opts po;
            struct preview_result res;
            preview_opts_default(&po);
            po.size = sizes[k];
            snprintf(out, sizeof out, "%s/%s%s.jpg", r->prev_work, base, sfx[k]);
            err_info_clear(&ei);
            if (preview_file(in, out, &po, &res, &ei) != ERR_OK) {
                /* CALDP logs preview failures and carries on */
                proc_log(&r->vlog, ei.code == ERR_NOT_FOUND ? "WARNING" : "ERROR",
                         "no preview of %s: %s", names[i], ei.msg);
                failures += ei.code != ERR_NOT_FOUND;
                break;
            }
            proc_log(&r->vlog, "INFO", "%s%s.jpg %zux%zu from %s[%s%s%d] scale %g..%g", base,
                     sfx[k], res.width, res.height, names[i], res.extname,
                     res.extname[0] ? "," : "", res.extname[0] ? 1 : res.hdu, res.scale.min,
                     res.scale.max);
        }
    }
    proc_free_names(names, n);
    if (failures) {
        proc_log(&r->vlog, "WARNING", "%d preview(s) failed", failures);
    }
    return PROC_SUCCESS;
}

/* ---- step 5: publish -------------------------------------------------------------------- */

/* A FITS product of a file: output placed by cfg->placement: its destination under the output
 * root (directories made), recorded for withdrawal and for the product list's types. */
static enum err place(struct run *r, const char *name, const char *src, char *dst, size_t cap,
                      bool *placed, struct err_info *ei)
{
    char rel[PROC_PATH_MAX];
    *placed = false;
    if (!r->cfg->placement || r->out_s3 || !str_ends_with(name, ".fits")) {
        return ERR_OK;
    }
    enum err rc = r->cfg->placement->place(r->cfg->placement->ud, name, src, rel, sizeof rel, ei);
    if (rc == ERR_NOT_FOUND) {
        err_info_clear(ei);
        return ERR_OK;
    }
    if (rc == ERR_OK &&
        (rel[0] == '/' || path_has_dotdot(rel) || r->n_placed >= PROC_FILES_MAX)) {
        rc = err_set(ei, ERR_INVALID, "product %s: placement \"%s\" is not a relative path",
                     name, rel);
    }
    if (rc == ERR_OK) {
        rc = proc_join(dst, cap, r->stage, rel, ei);
    }
    if (rc == ERR_OK) {
        char dir[PROC_PATH_MAX];
        str_copy(dir, sizeof dir, dst);
        char *sl = strrchr(dir, '/');
        if (sl) {
            *sl = '\0';
            rc = proc_mkdirs(dir, ei);
        }
    }
    if (rc == ERR_OK) {
        r->placed[r->n_placed] = strdup(dst);
        r->placed_name[r->n_placed] = strdup(name);
        if (!r->placed[r->n_placed] || !r->placed_name[r->n_placed]) {
            free(r->placed[r->n_placed]);
            free(r->placed_name[r->n_placed]);
            return err_set(ei, ERR_NOMEM, "out of memory");
        }
        r->n_placed++;
        *placed = true;
    }
    return rc;
}

/* Copy every file of @p from into @p to; append the published paths to @p list (file output;
 * S3 output stages the files for publish_tarball). */
static enum err publish_dir(struct run *r, const char *from, const char *to, struct buf *list,
                            struct err_info *ei)
{
    char *names[PROC_FILES_MAX];
    size_t n = 0;
    enum err rc = proc_list_dir(from, "", "", names, PROC_FILES_MAX, &n, ei);
    for (size_t i = 0; rc == ERR_OK && i < n; i++) {
        char src[PROC_PATH_MAX], dst[PROC_PATH_MAX];
        bool placed = false;
        rc = proc_join(src, sizeof src, from, names[i], ei);
        if (rc == ERR_OK && from == r->out_dir) {
            rc = place(r, names[i], src, dst, sizeof dst, &placed, ei);
        }
        if (rc == ERR_OK && !placed) {
            rc = proc_join(dst, sizeof dst, to, names[i], ei);
        }
        if (rc == ERR_OK) {
            rc = proc_copy_file_c(src, dst, r->hooks, ei);
        }
        if (rc == ERR_OK && r->sim_publish > 0 && --r->sim_publish == 0) {
            rc = err_set(ei, ERR_IO,
                         "simulated publication failure after \"%s\" "
                         "(OBSFLOW_SIMULATE_PUBLISH_FAILURE)",
                         dst);
        }
        /* S3 output: the staged tree goes up as one tarball (publish_tarball) */
        if (rc == ERR_OK && !r->out_s3) {
            rc = buf_printf(list, "%s\n", dst);
        }
    }
    proc_free_names(names, n);
    return rc;
}

static int step_publish(struct run *r, struct buf *products, struct buf *previews)
{
    struct err_info ei;
    int code = r->out_s3 ? PROC_S3_UPLOAD_ERROR : PROC_GENERIC_ERROR;
    step_event(r, 5, r->output);
    err_info_clear(&ei);
    char envdir[PROC_PATH_MAX];
    snprintf(envdir, sizeof envdir, "%s/env", r->out_dir);
    if (publish_dir(r, r->out_dir, r->data_dir, products, &ei) != ERR_OK) {
        return fail(r, code, &ei, "cannot publish products");
    }
    if (access(envdir, F_OK) == 0) {
        char envout[PROC_PATH_MAX];
        snprintf(envout, sizeof envout, "%s/env", r->data_dir);
        if (proc_mkdirs(envout, &ei) != ERR_OK ||
            publish_dir(r, envdir, envout, products, &ei) != ERR_OK) {
            return fail(r, code, &ei, "cannot publish env");
        }
    }
    if (publish_dir(r, r->prev_work, r->prev_dir, previews, &ei) != ERR_OK) {
        return fail(r, code, &ei, "cannot publish previews");
    }
    return PROC_SUCCESS;
}

/* CALDP's S3 output: the dataset's directory (products, previews, logs) as one <ds>.tar.gz,
 * uploaded in one PUT, so a reader never sees part of the products; the trigger lists it. */
static enum err publish_tarball(struct run *r, struct buf *products, struct err_info *ei)
{
    char key[PROC_PATH_MAX], tb[PROC_PATH_MAX], parent[PROC_PATH_MAX];
    enum err rc = tarball_path(r, key, sizeof key, ei);
    if (rc == ERR_OK) {
        rc = proc_join(tb, sizeof tb, r->work, "output.tar.gz", ei);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    str_copy(parent, sizeof parent, r->data_dir);
    char *slash = strrchr(parent, '/');
    if (slash) {
        *slash = '\0';
    }
    rc = proc_tar_create(tb, parent, r->ds.name, r->hooks, ei);
    if (rc == ERR_OK) {
        rc = proc_md5_file(tb, r->tarball_md5, &r->tarball_size, ei);
    }
    if (rc == ERR_OK) {
        rc = s3_put_as(r, tb, rel_of(r, key), ei);
    }
    if (rc == ERR_OK) {
        rc = buf_printf(products, "%s/%s\n", r->s3_base, rel_of(r, key));
    }
    unlink(tb);
    return rc;
}

/* Remove the regular files directly in @p dir (best effort). */
static void unlink_files(const char *dir)
{
    char *names[PROC_FILES_MAX];
    size_t n = 0;
    char p[PROC_PATH_MAX];
    struct err_info ign;
    if (proc_list_dir(dir, "", "", names, PROC_FILES_MAX, &n, &ign) != ERR_OK) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (proc_join(p, sizeof p, dir, names[i], &ign) == ERR_OK) {
            unlink(p);
        }
    }
    proc_free_names(names, n);
}

/* A failed run withdraws whatever it published (products, env/, previews; on S3 the tarball),
 * keeping logs/: a failed dataset must not look complete. Best effort. */
static void unpublish(struct run *r)
{
    char p[PROC_PATH_MAX];
    struct err_info ign;
    unlink_files(r->data_dir);
    unlink_files(r->prev_dir);
    for (size_t i = 0; i < r->n_placed; i++) {
        unlink(r->placed[i]);
    }
    if (proc_join(p, sizeof p, r->data_dir, "env", &ign) == ERR_OK) {
        proc_rmtree(p);
    }
    if (r->out_s3 && tarball_path(r, p, sizeof p, &ign) == ERR_OK &&
        s3_delete(r, p, &ign) != ERR_OK) {
        proc_log(&r->plog, "WARNING", "could not delete %s/%s: %s", r->s3_base, rel_of(r, p),
                 ign.msg);
    }
}

/* Logs and metrics go out whatever happened (on S3 with the tarball when the run succeeded);
 * returns an upload failure code or 0. */
static int publish_logs(struct run *r, int process_code, int preview_code, bool previews_ran,
                        struct buf *products)
{
    struct err_info ei;
    char p[PROC_PATH_MAX];
    err_info_clear(&ei);
    snprintf(p, sizeof p, "%s/process_metrics.txt", r->logs_dir);
    if (proc_metrics_write(p, "obsflow process", &r->t0, process_code, &ei) != ERR_OK) {
        proc_log(&r->plog, "WARNING", "%s", ei.msg);
    }
    /* caldp-process runs the preview step whatever processing did, so both metrics files
     * always exist (CALCLOUD's messages and memory model read the pair) */
    if (!previews_ran) {
        proc_log(&r->vlog, "INFO", "no previews: processing of %s failed", r->ds.name);
        proc_usage_now(&r->tp, r->cfg->process_usage);
    }
    snprintf(p, sizeof p, "%s/preview_metrics.txt", r->logs_dir);
    if (proc_metrics_write(p, "obsflow process (previews)", &r->tp, preview_code, &ei) !=
        ERR_OK) {
        proc_log(&r->vlog, "WARNING", "%s", ei.msg);
    }
    if (!r->out_s3) {
        return 0;
    }
    int up = 0;
    if (process_code == PROC_SUCCESS && publish_tarball(r, products, &ei) != ERR_OK) {
        /* the logs still go up, saying why the products did not */
        up = fail(r, PROC_S3_UPLOAD_ERROR, &ei, "cannot upload the dataset tarball");
        proc_log_divider(&r->plog, "Fatal Exception");
        proc_log(&r->plog, "EXIT", "%s[%d]: %s", proc_exit_name(up), up, r->reason);
        snprintf(p, sizeof p, "%s/process_metrics.txt", r->logs_dir);
        if (proc_metrics_write(p, "obsflow process", &r->t0, up, &ei) != ERR_OK) {
            proc_log(&r->plog, "WARNING", "%s", ei.msg);
        }
    }
    proc_log_close(&r->plog);
    proc_log_close(&r->vlog);
    static const char *const logs[] = {"process.txt", "preview.txt", "process_metrics.txt",
                                       "preview_metrics.txt", "validation.json"};
    for (size_t i = 0; i < sizeof logs / sizeof logs[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", r->logs_dir, logs[i]);
        if (access(p, F_OK) == 0 && s3_put(r, p, &ei) != ERR_OK) {
            return up ? up : fail(r, PROC_S3_UPLOAD_ERROR, &ei, "cannot upload logs");
        }
    }
    return up;
}

static enum err write_marker(struct run *r, const char *pre, const char *post, const char *body,
                             struct err_info *ei)
{
    char p[PROC_PATH_MAX];
    marker_path(r, p, sizeof p, pre, post);
    enum err rc = proc_write_text(p, body, ei);
    if (rc == ERR_OK && r->out_s3) {
        rc = s3_put(r, p, ei);
    }
    return rc;
}

static void remove_marker(struct run *r, const char *pre, const char *post)
{
    char p[PROC_PATH_MAX];
    struct err_info ign;
    marker_path(r, p, sizeof p, pre, post);
    unlink(p);
    if (r->out_s3 && s3_delete(r, p, &ign) != ERR_OK) {
        proc_log(&r->plog, "WARNING", "could not delete %s: %s", p, ign.msg);
    }
}

/* ---- main ------------------------------------------------------------------------------- */

static bool tag_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 64) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)t[i]) && t[i] != '-') {
            return false;
        }
    }
    return true;
}

static enum err make_work(struct run *r, const char *tag, struct err_info *ei)
{
    const char *base = r->cfg->work_dir;
    if (!base || !*base) {
        base = "/tmp";
    }
    enum err rc = proc_mkdirs(base, ei);
    if (rc != ERR_OK) {
        return rc;
    }
    bool tagged = tag && tag_ok(tag);
    int n = snprintf(r->work, sizeof r->work, "%s/obsflow-process-%s-%s", base, r->ds.name,
                     tagged ? tag : "XXXXXX");
    if (n < 0 || (size_t)n >= sizeof r->work) {
        return err_set(ei, ERR_TOO_LARGE, "work directory path too long");
    }
    if (tagged) {
        /* a re-run of the same job: whatever an earlier (killed) attempt left goes first */
        proc_rmtree(r->work);
        if (mkdir(r->work, 0700) != 0) {
            return err_set(ei, ERR_IO, "could not create work directory \"%s\": %s", r->work,
                           ERR_ERRNO(errno));
        }
    } else if (!mkdtemp(r->work)) {
        return err_set(ei, ERR_IO, "could not create work directory in \"%s\": %s", base,
                       ERR_ERRNO(errno));
    }
    rc = proc_join(r->in_dir, sizeof r->in_dir, r->work, "inputs", ei);
    if (rc == ERR_OK) {
        rc = proc_join(r->out_dir, sizeof r->out_dir, r->work, "outputs", ei);
    }
    if (rc == ERR_OK) {
        rc = proc_join(r->prev_work, sizeof r->prev_work, r->work, "previews", ei);
    }
    if (rc == ERR_OK) {
        rc = proc_mkdirs(r->in_dir, ei);
    }
    if (rc == ERR_OK) {
        rc = proc_mkdirs(r->out_dir, ei);
    }
    if (rc == ERR_OK) {
        rc = proc_mkdirs(r->prev_work, ei);
    }
    return rc;
}

static enum err setup_output(struct run *r, struct err_info *ei)
{
    enum err rc;
    if (str_starts_with(r->output, "s3://")) {
        struct storage_uri u;
        rc = storage_uri_parse(r->output, &u, ei);
        if (rc != ERR_OK) {
            return rc;
        }
        r->out_s3 = true;
        size_t kl = strlen(u.key);
        while (kl > 0 && u.key[kl - 1] == '/') {
            kl--;
        }
        snprintf(r->s3_base, sizeof r->s3_base, "s3://%s%s%.*s", u.bucket, kl ? "/" : "",
                 (int)kl, u.key);
        return proc_join(r->stage, sizeof r->stage, r->work, "tree", ei);
    }
    if (!str_starts_with(r->output, "file:") && strstr(r->output, "://")) {
        return err_set(ei, ERR_INVALID, "unsupported output \"%s\": use file:DIR or s3://",
                       r->output);
    }
    return proc_mkdirs(file_path_of(r->output), ei);
}

/* S3 read check of the output bucket (caldp-process runs `aws s3 ls`). */
static enum err stop_at_first(void *ud, const char *uri, const struct storage_stat *st)
{
    (void)ud;
    (void)uri;
    (void)st;
    return ERR_CANCELLED;
}

static int run_process(struct run *r)
{
    struct err_info ei;
    struct buf products, previews;
    int code = PROC_SUCCESS;
    int pcode = PROC_SUCCESS;
    bool previews_ran = false;
    buf_init(&products, PROC_LIST_MAX);
    buf_init(&previews, PROC_LIST_MAX);
    err_info_clear(&ei);

    /* CALDP_SIMULATE_ERROR's counterpart: fail with a chosen code, for orchestrator tests */
    int simcode = r->cfg->simulate_error;
    if (simcode >= 1 && simcode <= 255) {
        snprintf(ei.msg, sizeof ei.msg, "simulated error (OBSFLOW_SIMULATE_ERROR=%d)", simcode);
        code = fail(r, simcode, &ei, NULL);
        goto done;
    }
    r->sim_publish = r->cfg->simulate_publish_failure;
    if (r->sim_publish < 1 || r->sim_publish > PROC_FILES_MAX) {
        r->sim_publish = 0;
    }
    if (!r->ds.processable) {
        snprintf(ei.msg, sizeof ei.msg, "no processing for instrument %s (dataset %s)",
                 r->ds.instrument, r->ds.name);
        code = fail(r, PROC_GENERIC_ERROR, &ei, NULL);
        goto done;
    }
    /* CALDP has managers for SVM and MVM (runsinglehap/runmultihap); obsflow does not: fail
     * with their codes rather than publish the inputs as if they had been processed */
    if (r->ds.kind == DATASET_SVM || r->ds.kind == DATASET_MVM) {
        bool svm = r->ds.kind == DATASET_SVM;
        snprintf(ei.msg, sizeof ei.msg,
                 "%s processing (%s) is not implemented (dataset %s)", svm ? "SVM" : "MVM",
                 svm ? "runsinglehap" : "runmultihap", r->ds.name);
        code = fail(r, svm ? PROC_SVM_ERROR : PROC_MVM_ERROR, &ei, NULL);
        goto done;
    }
    code = cancel_now(r) ? cancel_fail(r) : step_fetch(r);
    if (code == PROC_SUCCESS) {
        code = cancel_now(r) ? cancel_fail(r) : step_validate(r);
    }
    if (code == PROC_SUCCESS) {
        code = cancel_now(r) ? cancel_fail(r) : step_calibrate(r);
    }
    if (code == PROC_SUCCESS) {
        code = cancel_now(r) ? cancel_fail(r) : check_products(r);
    }
    if (code == PROC_SUCCESS &&
        (strcmp(r->ds.instrument, "acs") == 0 || strcmp(r->ds.instrument, "wfc3") == 0)) {
        proc_log(&r->plog, "WARNING",
                 "stage 2 (drizzle) is not implemented: no drz/drc products for %s", r->ds.name);
    }
    if (code == PROC_SUCCESS && cancel_now(r)) {
        code = cancel_fail(r);
    }
    if (code == PROC_SUCCESS) {
        proc_usage_now(&r->tp, r->cfg->process_usage);
        previews_ran = true;
        pcode = step_previews(r);
    }
    if (code == PROC_SUCCESS && r->hooks && r->hooks->products) {
        code = cancel_now(r) ? cancel_fail(r) : step_products(r);
    }
    if (code == PROC_SUCCESS) {
        code = cancel_now(r) ? cancel_fail(r) : step_publish(r, &products, &previews);
    }
done:
    if (code != PROC_SUCCESS) {
        proc_log_divider(&r->plog, "Fatal Exception");
        proc_log(&r->plog, "EXIT", "%s[%d]: %s", proc_exit_name(code), code, r->reason);
    } else {
        proc_log(&r->plog, "INFO", "dataset %s processed: %s%s%s", r->ds.name,
                 r->out_s3 ? r->s3_base : r->data_dir, r->out_s3 ? "/" : "",
                 r->out_s3 ? rel_of(r, r->data_dir) : "");
    }
    int up = publish_logs(r, code, pcode, previews_ran, &products);
    if (code == PROC_SUCCESS && up != 0) {
        code = up;
    }
    /* markers last: the trigger is the very last thing written */
    remove_marker(r, "processing-", "");
    if (code == PROC_SUCCESS) {
        struct buf trig;
        buf_init(&trig, PROC_TRIGGER_MAX);
        enum err rc = buf_printf(&trig, "%s%s", buf_cstr(&products), buf_cstr(&previews));
        if (rc == ERR_OK) {
            rc = write_marker(r, "dataset-synced/", "", buf_cstr(&trig), &ei);
        }
        if (rc == ERR_OK) {
            rc = write_marker(r, "datasets-processed/", "", "", &ei);
        }
        if (rc == ERR_OK) {
            rc = write_marker(r, "processed-", ".trigger", buf_cstr(&trig), &ei);
        }
        buf_free(&trig);
        if (rc != ERR_OK) {
            code = fail(r, r->out_s3 ? PROC_S3_UPLOAD_ERROR : PROC_GENERIC_ERROR, &ei,
                        "cannot write messages");
        }
    }
    if (code != PROC_SUCCESS) {
        /* whatever got out before the failure is withdrawn: only logs and the error marker */
        unpublish(r);
        remove_marker(r, "processed-", ".trigger");
        remove_marker(r, "datasets-processed/", "");
        remove_marker(r, "dataset-synced/", "");
        char body[PROC_REASON_MAX + 64];
        snprintf(body, sizeof body, "%s[%d]: %s\n", proc_exit_name(code), code, r->reason);
        if (write_marker(r, "error-", "", body, &ei) != ERR_OK && r->hooks && r->hooks->log) {
            char line[ERR_INFO_MSG_MAX + 64];
            snprintf(line, sizeof line, "could not write the error marker: %s", ei.msg);
            r->hooks->log(r->hooks->ud, true, line);
        }
    }
    step_end(r);
    if (code == PROC_SUCCESS) {
        collect_products(r, &products, &previews);
    }
    buf_free(&products);
    buf_free(&previews);
    return code;
}

/* Type of a published file from its name. */
static void product_type(const char *path, char *out, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (str_ends_with(base, "_thumb.jpg")) {
        str_copy(out, cap, "thumbnail");
    } else if (str_ends_with(base, ".jpg")) {
        str_copy(out, cap, "preview");
    } else if (strstr(path, "/env/")) {
        str_copy(out, cap, "env");
    } else if (str_ends_with(base, ".tar.gz")) {
        str_copy(out, cap, "tarball");
    } else {
        const char *us = strrchr(base, '_');
        const char *dot = strrchr(base, '.');
        if (us && dot && dot > us + 1 && (size_t)(dot - us - 1) < cap) {
            snprintf(out, cap, "%.*s", (int)(dot - us - 1), us + 1);
        } else {
            str_copy(out, cap, "file");
        }
    }
}

/* The products of a successful run: each published file (one per line of @p products and
 * @p previews) with size and MD5; for an S3 output the tarball. Best effort: a file that can
 * no longer be read is left out (with a WARNING). */
static void collect_products(struct run *r, struct buf *products, struct buf *previews)
{
    struct pipeline_result *res = r->res;
    res->products = calloc(PIPELINE_PRODUCTS_MAX, sizeof *res->products);
    if (!res->products) {
        return;
    }
    if (r->out_s3) {
        char key[PROC_PATH_MAX];
        struct err_info ign;
        if (tarball_path(r, key, sizeof key, &ign) == ERR_OK) {
            struct pipeline_product *pp = &res->products[res->n_products++];
            snprintf(pp->uri, sizeof pp->uri, "%s/%s", r->s3_base, rel_of(r, key));
            pp->size = r->tarball_size;
            str_copy(pp->md5, sizeof pp->md5, r->tarball_md5);
            str_copy(pp->type, sizeof pp->type, "tarball");
        }
        return;
    }
    struct buf *lists[2] = {products, previews};
    for (int k = 0; k < 2; k++) {
        char *text = lists[k]->data;
        for (char *line = text; line && *line && res->n_products < PIPELINE_PRODUCTS_MAX;) {
            char *nl = strchr(line, '\n');
            if (nl) {
                *nl = '\0';
            }
            struct pipeline_product *pp = &res->products[res->n_products];
            struct err_info ei;
            if (proc_md5_file(line, pp->md5, &pp->size, &ei) == ERR_OK) {
                snprintf(pp->uri, sizeof pp->uri, "file:%s", line);
                const char *named = line; /* a placed product's type is its name's */
                for (size_t j = 0; j < r->n_placed; j++) {
                    named = strcmp(r->placed[j], line) == 0 ? r->placed_name[j] : named;
                }
                product_type(named, pp->type, sizeof pp->type);
                res->n_products++;
            } else {
                proc_log(&r->plog, "WARNING", "product %s: %s", line, ei.msg);
            }
            if (nl) {
                *nl = '\n';
            }
            line = nl ? nl + 1 : NULL;
        }
    }
}

static int setup_fail(struct run *r, int code, const char *fmt, ...) PRINTF_LIKE(3, 4);
static int setup_fail(struct run *r, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof r->reason, fmt, ap);
    va_end(ap);
    return code;
}

int pipeline_run(const struct pipeline_config *cfg, const struct pipeline_request *req,
                 const struct pipeline_hooks *hooks, struct pipeline_result *res)
{
    struct run *r = calloc(1, sizeof *r);
    struct err_info ei;
    int code;
    int64_t t_start = clock_mono_ns();
    memset(res, 0, sizeof *res);
    for (int i = 0; i < PIPELINE_NSTEPS; i++) {
        res->steps[i].name = step_names[i];
        res->steps[i].ms = -1;
    }
    if (!r) {
        res->code = PROC_CALDP_MEMORY_ERROR;
        str_copy(res->reason, sizeof res->reason, "out of memory");
        return res->code;
    }
    r->cfg = cfg;
    r->hooks = hooks;
    r->res = res;
    err_info_clear(&ei);
    r->input = req->input && *req->input ? req->input : "file:.";
    r->output = req->output && *req->output ? req->output : "file:.";
    str_copy(r->config_dir, sizeof r->config_dir, cfg->config_dir ? cfg->config_dir : "");
    if (parse_dataset(r, req->dataset ? req->dataset : "", &ei) != ERR_OK) {
        code = setup_fail(r, PROC_CMDLINE_ERROR, "%s", ei.msg);
        goto out;
    }
    proc_usage_now(&r->t0, cfg->process_usage);
    r->tp = r->t0;
    if (make_work(r, req->tag, &ei) != ERR_OK) {
        code = setup_fail(r, PROC_GENERIC_ERROR, "%s", ei.msg);
        goto out;
    }
    /* with explicit data roots a file: output is confined before anything is created there
     * (without them the command line's own directories are the roots) */
    bool local_out = str_starts_with(r->output, "file:") || !strstr(r->output, "://");
    if (local_out && (cfg->storage || (cfg->data_roots && *cfg->data_roots))) {
        if (make_storage(r, &ei) != ERR_OK) {
            code = setup_fail(r, PROC_GENERIC_ERROR, "%s", ei.msg);
            goto out;
        }
        if (storage_local_path(r->st, r->output, true, r->stage, sizeof r->stage, &ei) !=
            ERR_OK) {
            code = setup_fail(r, PROC_GENERIC_ERROR, "cannot use output %s: %s", r->output,
                              ei.msg);
            goto out;
        }
    }
    if (setup_output(r, &ei) != ERR_OK) {
        code = setup_fail(r,
                          str_starts_with(r->output, "s3://") || strstr(r->output, "://")
                              ? PROC_CMDLINE_ERROR
                              : PROC_GENERIC_ERROR,
                          "%s", ei.msg);
        goto out;
    }
    if (make_storage(r, &ei) != ERR_OK) {
        code = setup_fail(r, PROC_GENERIC_ERROR, "%s", ei.msg);
        goto out;
    }
    if (r->out_s3) {
        enum err rc = storage_list(r->st, r->s3_base, stop_at_first, NULL, &ei);
        if (rc != ERR_OK && rc != ERR_CANCELLED) {
            code = setup_fail(r, PROC_GENERIC_ERROR, "cannot read output %s: %s", r->s3_base,
                              ei.msg);
            goto out;
        }
    } else if (storage_local_path(r->st, r->output, true, r->stage, sizeof r->stage, &ei) !=
               ERR_OK) {
        code = setup_fail(r, PROC_GENERIC_ERROR, "cannot use output %s: %s", r->output, ei.msg);
        goto out;
    }
    if (setup_tree(r, &ei) != ERR_OK) {
        code = setup_fail(r, PROC_GENERIC_ERROR, "%s", ei.msg);
        goto out;
    }
    char lp[PROC_PATH_MAX];
    if (proc_join(lp, sizeof lp, r->logs_dir, "process.txt", &ei) != ERR_OK ||
        proc_log_open(&r->plog, lp, cfg->echo, hooks, &ei) != ERR_OK ||
        proc_join(lp, sizeof lp, r->logs_dir, "preview.txt", &ei) != ERR_OK ||
        proc_log_open(&r->vlog, lp, cfg->echo, hooks, &ei) != ERR_OK) {
        code = setup_fail(r, PROC_GENERIC_ERROR, "%s", ei.msg);
        goto out;
    }
    if (write_marker(r, "processing-", "", "", &ei) != ERR_OK) {
        code = setup_fail(r, r->out_s3 ? PROC_S3_UPLOAD_ERROR : PROC_GENERIC_ERROR, "%s",
                          ei.msg);
        goto out;
    }
    proc_log_divider(&r->plog, "obsflow process");
    proc_log(&r->plog, "INFO", "dataset %s instrument %s input %s output %s config %s",
             r->ds.name, r->ds.instrument, r->input, r->output, r->config_dir);
    code = run_process(r);
    res->logged = code != PROC_SUCCESS;
    if (code == PROC_SUCCESS) {
        snprintf(res->dataset_dir, sizeof res->dataset_dir, "%s%s%s",
                 r->out_s3 ? r->s3_base : "file:", r->out_s3 ? "/" : "",
                 r->out_s3 ? rel_of(r, r->data_dir) : r->data_dir);
    }
out:
    proc_log_close(&r->plog);
    proc_log_close(&r->vlog);
    proc_free_names(r->inputs, r->n_inputs);
    for (size_t i = 0; i < r->n_cal_env; i++) {
        free(r->cal_env[i]);
    }
    for (size_t i = 0; i < r->n_placed; i++) {
        free(r->placed[i]);
        free(r->placed_name[i]);
    }
    if (r->own_st) {
        storage_destroy(r->st);
    }
    if (r->work[0] && !cfg->keep_work) {
        proc_rmtree(r->work);
    }
    res->code = code;
    res->cancelled = r->cancelled && code != PROC_SUCCESS;
    if (code != PROC_SUCCESS) {
        str_copy(res->reason, sizeof res->reason, r->reason);
    }
    res->total_ms = (clock_mono_ns() - t_start) / 1000000;
    free(r);
    return code;
}

void pipeline_result_free(struct pipeline_result *res)
{
    if (res) {
        free(res->products);
        res->products = NULL;
        res->n_products = 0;
    }
}

json_t *pipeline_result_json(const struct pipeline_result *res)
{
    json_t *o = json_object();
    json_t *prods = json_array();
    json_t *steps = json_array();
    bool ok = o && prods && steps;
    ok = ok && json_object_set_new(o, "exit_code", json_integer(res->code)) == 0;
    ok = ok && json_object_set_new(o, "exit_name", json_string(pipeline_exit_name(res->code))) == 0;
    if (ok && res->reason[0]) {
        ok = json_object_set_new(o, "reason", json_string(res->reason)) == 0;
    }
    if (ok && res->cancelled) {
        ok = json_object_set_new(o, "cancelled", json_true()) == 0;
    }
    if (ok && res->dataset_dir[0]) {
        ok = json_object_set_new(o, "dataset_dir", json_string(res->dataset_dir)) == 0;
    }
    for (size_t i = 0; ok && i < res->n_products; i++) {
        const struct pipeline_product *p = &res->products[i];
        json_t *j = json_pack("{s:s, s:I, s:s, s:s}", "uri", p->uri, "size",
                              (json_int_t)p->size, "md5", p->md5, "type", p->type);
        ok = j && json_array_append_new(prods, j) == 0;
    }
    for (int i = 0; ok && i < PIPELINE_NSTEPS; i++) {
        if (res->steps[i].ms < 0) {
            continue;
        }
        json_t *j = json_pack("{s:s, s:I}", "name", res->steps[i].name, "ms",
                              (json_int_t)res->steps[i].ms);
        ok = j && json_array_append_new(steps, j) == 0;
    }
    if (ok) {
        ok = json_object_set_new(o, "products", prods) == 0; /* steals, even on failure */
        prods = NULL;
    }
    if (ok) {
        ok = json_object_set_new(o, "steps", steps) == 0;
        steps = NULL;
    }
    ok = ok && json_object_set_new(o, "total_ms", json_integer(res->total_ms)) == 0;
    if (ok && res->n_refs) {
        json_t *refs = json_array();
        for (size_t i = 0; refs && i < res->n_refs; i++) {
            json_array_append_new(refs, json_pack("{s:s,s:s}", "type", res->refs[i].type, "id",
                                                  res->refs[i].id));
        }
        ok = json_object_set_new(o, "references", refs) == 0;
    }
    json_decref(prods);
    json_decref(steps);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}
