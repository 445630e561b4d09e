/* cmd_process.c - `obsflow process <dataset> [input] [output] [config]`, with the semantics of
 * STScI's caldp-process: fetch the raw files (file:DIR plain FITS or one tarball, astroquery:,
 * s3://bucket/prefix), check them against the instrument's expectations, calibrate (stage 1,
 * lib/calib), make fitscut-style previews, and publish the output tree
 *   messages/{datasets-processed,dataset-synced,dataset-archived}/<ds>
 *   messages/{processing-<ds>, processed-<ds>.trigger, error-<ds>}
 *   data/<instrument>/<ds>/{products, logs/, previews/}
 * to file:DIR or s3://bucket/prefix (there, as CALDP, the dataset directory goes up as one
 * data/<instrument>/<ds>/<ds>.tar.gz with the logs beside it), with CALDP's numeric exit codes
 * (process_int.h). Products and the processed trigger appear only when everything succeeded; a
 * failure withdraws what was published and leaves logs, an error-<ds> marker and
 * "EXIT - NAME[code]: reason" as the last line of process.txt.
 * SPDX-License-Identifier: Apache-2.0 */
#include "process_calib.h"
#include "process_int.h"

#include "core/buf.h"
#include "core/str.h"
#include "dataset/dataset.h"
#include "expect/expect.h"
#include "preview/preview.h"
#include "storage/storage.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_cmd_process(int argc, char **argv);
extern const char cli_help_process[];
const char cli_help_process[] =
    "calibrate a dataset like caldp-process: process <dataset> [input] [output] [config]";

#define PROC_NSTEPS 5
#define PROC_LIST_MAX    ((size_t)1 << 20) /* bytes of the product or preview path list */
#define PROC_TRIGGER_MAX (2 * PROC_LIST_MAX) /* a trigger's body: both lists */
#define PROC_ENV_LINE_MAX 1024             /* a KEY=VALUE line of <ds>_cal_env.txt */

struct run {
    struct dataset_info ds;
    const char *input;
    const char *output;
    const char *config;
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
    struct proc_log plog;
    struct proc_log vlog;
    struct proc_progress prog;
    struct proc_usage t0, tp;
    char *inputs[PROC_FILES_MAX];
    size_t n_inputs;
    char reason[PROC_REASON_MAX];
    bool quiet;
    int64_t sim_publish; /* OBSFLOW_SIMULATE_PUBLISH_FAILURE: fail after this many files */
};

static int fail(struct run *r, int code, const struct err_info *ei, const char *what)
{
    snprintf(r->reason, sizeof r->reason, "%s%s%s", what ? what : "", what && ei ? ": " : "",
             ei ? ei->msg : "");
    /* CALDP: a MemoryError is always CALDP_MEMORY_ERROR, so the orchestrator can retry the
     * job with more memory whatever the block that ran out */
    if (ei && ei->code == ERR_NOMEM && code != PROC_SUCCESS) {
        return PROC_CALDP_MEMORY_ERROR;
    }
    return code;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: obsflow process [--quiet] <dataset> [input] [output] [config]\n"
            "  dataset  HST ipppssoot (j8bt05njq), SVM (acs_8ph_01), MVM (skycell-p1234x05y06),\n"
            "           or a name matched by a rule in <config>/datasets.yaml\n"
            "  input    file:DIR (plain FITS or one <ds[0:5]>*.tar.gz), astroquery:,\n"
            "           s3://bucket/prefix (<ds>.tar.gz)        default file:.\n"
            "  output   file:DIR or s3://bucket/prefix          default file:.\n"
            "  config   caldp-config-onsite|offsite|aws (use $OBSFLOW_CONFIG_DIR or ./config)\n"
            "           or file:DIR / DIR holding expectations/ and references/\n"
            "exit codes: 0 success, 1 generic, 2 command line, 21 input/tar, 22 astroquery,\n"
            "  23 stage 1 (validation, calibration), 25 S3 upload, 26 S3 download,\n"
            "  27 best references, 32 out of memory, 40/41 SVM/MVM (not implemented)\n");
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
        err_set_field(ei, ERR_INVALID, "dataset",
                      "dataset \"%s\" is neither an HST name nor matched by a collection of "
                      "\"%s\"",
                      name, path);
    }
    return rc;
}

/* ---- setup ------------------------------------------------------------------------------ */

static void config_dir_of(struct run *r)
{
    const char *c = r->config;
    if (!c || !*c || str_starts_with(c, "caldp-config-")) {
        const char *env = getenv("OBSFLOW_CONFIG_DIR");
        str_copy(r->config_dir, sizeof r->config_dir, env && *env ? env : "config");
        return;
    }
    if (str_starts_with(c, "file://")) {
        c += 7;
    } else if (str_starts_with(c, "file:")) {
        c += 5;
    }
    str_copy(r->config_dir, sizeof r->config_dir, c);
}

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
    struct storage_s3_config s3;
    struct storage_config cfg;
    char roots[2 * PROC_PATH_MAX + 2];
    enum err rc = storage_s3_config_from_env(getenv, &s3, ei);
    if (rc != ERR_OK) {
        return rc;
    }
    memset(&cfg, 0, sizeof cfg);
    const char *env_roots = getenv("OBSFLOW_DATA_ROOTS");
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
    cfg.s3 = &s3;
    const char *tmpl = getenv("OBSFLOW_ARCHIVE_URL");
    cfg.archive_url_template = tmpl && *tmpl ? tmpl : NULL;
    cfg.archive_token = getenv("OBSFLOW_ARCHIVE_TOKEN");
    return storage_create(&cfg, &r->st, ei);
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
            rc = proc_untar(tb, r->in_dir, &ei);
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
        if (proc_copy_file(src, dst, &ei) != ERR_OK) {
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
    if (storage_get_file(r->st, uri, tb, NULL, NULL, &ei) != ERR_OK) {
        return fail(r, PROC_S3_DOWNLOAD_ERROR, &ei, "cannot download input tarball");
    }
    enum err rc = proc_untar(tb, r->in_dir, &ei);
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
        enum err rc = storage_get_file(r->st, uri, dst, NULL, NULL, &ei);
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

/* <ds>_cal_env.txt: KEY=VALUE lines exported before calibration (CALDP). */
static void apply_cal_env(struct run *r)
{
    char p[PROC_PATH_MAX];
    snprintf(p, sizeof p, "%s/%s_cal_env.txt", r->in_dir, r->ds.name);
    FILE *fp = fopen(p, "r");
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
        } else if (ok && setenv(line, eq + 1, 1) != 0) {
            proc_log(&r->plog, "WARNING", "file \"%s\" line %d: cannot set %s: %s", p, lineno,
                     line, strerror(errno));
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
    proc_progress_step(&r->prog, "fetch", r->input);
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
    proc_progress_step(&r->prog, "validate", NULL);
    err_info_clear(&ei);
    if (proc_join(dir, sizeof dir, r->config_dir, "expectations", &ei) != ERR_OK) {
        return fail(r, PROC_GENERIC_ERROR, &ei, NULL);
    }
    if (access(dir, F_OK) != 0) {
        proc_log(&r->plog, "WARNING", "no expectations directory %s: inputs not validated", dir);
    } else if (expect_set_load_dir(dir, &set, &ei) != ERR_OK) {
        return fail(r, PROC_GENERIC_ERROR, &ei, "cannot load expectations");
    }
    const struct expect *e = set ? expect_set_find(set, r->ds.instrument, "raw") : NULL;
    json_t *reports = json_array();
    if (!reports) {
        expect_set_destroy(set);
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
        } else if (e && str_ends_with(r->inputs[i], "_raw.fits")) {
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
    proc_log_divider(&r->plog, "stage 1");
    for (size_t i = 0; i < r->n_inputs; i++) {
        char src[PROC_PATH_MAX], dst[PROC_PATH_MAX];
        err_info_clear(&ei);
        if (proc_join(src, sizeof src, r->in_dir, r->inputs[i], &ei) != ERR_OK ||
            proc_join(dst, sizeof dst, r->out_dir, r->inputs[i], &ei) != ERR_OK) {
            return fail(r, PROC_GENERIC_ERROR, &ei, NULL);
        }
        /* raw inputs are kept among the products, as CALDP keeps them */
        if (proc_copy_file(src, dst, &ei) != ERR_OK) {
            return fail(r, PROC_GENERIC_ERROR, &ei, NULL);
        }
        if (!str_ends_with(r->inputs[i], "_raw.fits")) {
            continue;
        }
        char prod[PROC_PATH_MAX];
        size_t n = strlen(r->inputs[i]) - strlen("_raw.fits");
        snprintf(prod, sizeof prod, "%s/%.*s_flt.fits", r->out_dir, (int)n, r->inputs[i]);
        proc_progress_step(&r->prog, "calibrate", r->inputs[i]);
        r->prog.step--; /* one progress step for the whole stage */
        int xcode = PROC_SUCCESS;
        proc_log(&r->plog, "INFO", "calibrating %s -> %s", r->inputs[i], strrchr(prod, '/') + 1);
        if (proc_calibrate_raw(&cx, src, prod, &r->plog, &xcode, &ei) != ERR_OK) {
            return fail(r, xcode, &ei, NULL);
        }
    }
    r->prog.step++;
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
    proc_progress_step(&r->prog, "previews", NULL);
    proc_log_divider(&r->vlog, "previews");
    err_info_clear(&ei);
    if (proc_list_dir(r->out_dir, "", ".fits", names, PROC_FILES_MAX, &n, &ei) != ERR_OK) {
        proc_log(&r->vlog, "ERROR", "%s", ei.msg);
        return PROC_CREATE_PREVIEWS_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
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
        rc = proc_join(src, sizeof src, from, names[i], ei);
        if (rc == ERR_OK) {
            rc = proc_join(dst, sizeof dst, to, names[i], ei);
        }
        if (rc == ERR_OK) {
            rc = proc_copy_file(src, dst, ei);
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
    proc_progress_step(&r->prog, "publish", r->output);
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
    rc = proc_tar_create(tb, parent, r->ds.name, ei);
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
        proc_usage_now(&r->tp);
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

static enum err make_work(struct run *r, struct err_info *ei)
{
    const char *base = getenv("OBSFLOW_WORK_DIR");
    if (!base || !*base) {
        base = getenv("TMPDIR");
    }
    if (!base || !*base) {
        base = "/tmp";
    }
    enum err rc = proc_mkdirs(base, ei);
    if (rc != ERR_OK) {
        return rc;
    }
    int n = snprintf(r->work, sizeof r->work, "%s/obsflow-process-%s-XXXXXX", base, r->ds.name);
    if (n < 0 || (size_t)n >= sizeof r->work) {
        return err_set(ei, ERR_TOO_LARGE, "work directory path too long");
    }
    if (!mkdtemp(r->work)) {
        return err_set(ei, ERR_IO, "could not create work directory in \"%s\": %s", base,
                       strerror(errno));
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
    const char *sim = getenv("OBSFLOW_SIMULATE_ERROR");
    int64_t simcode = 0;
    if (sim && *sim && str_to_i64(sim, 1, 255, &simcode) == ERR_OK) {
        snprintf(ei.msg, sizeof ei.msg, "simulated error (OBSFLOW_SIMULATE_ERROR=%s)", sim);
        code = fail(r, (int)simcode, &ei, NULL);
        goto done;
    }
    const char *simp = getenv("OBSFLOW_SIMULATE_PUBLISH_FAILURE");
    if (simp && *simp && str_to_i64(simp, 1, PROC_FILES_MAX, &r->sim_publish) != ERR_OK) {
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
    code = step_fetch(r);
    if (code == PROC_SUCCESS) {
        code = step_validate(r);
    }
    if (code == PROC_SUCCESS) {
        code = step_calibrate(r);
    }
    if (code == PROC_SUCCESS &&
        (strcmp(r->ds.instrument, "acs") == 0 || strcmp(r->ds.instrument, "wfc3") == 0)) {
        proc_log(&r->plog, "WARNING",
                 "stage 2 (drizzle) is not implemented: no drz/drc products for %s", r->ds.name);
    }
    if (code == PROC_SUCCESS) {
        proc_usage_now(&r->tp);
        previews_ran = true;
        pcode = step_previews(r);
    }
    if (code == PROC_SUCCESS) {
        code = step_publish(r, &products, &previews);
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
        if (write_marker(r, "error-", "", body, &ei) != ERR_OK) {
            fprintf(stderr, "obsflow process: could not write the error marker: %s\n", ei.msg);
        }
    }
    buf_free(&products);
    buf_free(&previews);
    return code;
}

int cli_cmd_process(int argc, char **argv)
{
    struct run r;
    struct err_info ei;
    int code;
    int argi = 1;
    memset(&r, 0, sizeof r);
    err_info_clear(&ei);
    while (argi < argc && argv[argi][0] == '-' && argv[argi][1] == '-') {
        if (strcmp(argv[argi], "--quiet") == 0) {
            r.quiet = true;
        } else if (strcmp(argv[argi], "--help") == 0) {
            usage();
            return 0;
        } else {
            usage();
            return PROC_CMDLINE_ERROR;
        }
        argi++;
    }
    int npos = argc - argi;
    if (npos < 1 || npos > 4) {
        usage();
        return PROC_CMDLINE_ERROR;
    }
    const char *name = argv[argi];
    r.input = npos > 1 ? argv[argi + 1] : "file:.";
    r.output = npos > 2 ? argv[argi + 2] : "file:.";
    r.config = npos > 3 ? argv[argi + 3] : "caldp-config-onsite";
    config_dir_of(&r);
    if (parse_dataset(&r, name, &ei) != ERR_OK) {
        fprintf(stderr, "obsflow process: %s\n", ei.msg);
        return PROC_CMDLINE_ERROR;
    }
    proc_usage_now(&r.t0);
    r.tp = r.t0;
    if (make_work(&r, &ei) != ERR_OK) {
        fprintf(stderr, "obsflow process: %s\n", ei.msg);
        return PROC_GENERIC_ERROR;
    }
    if (setup_output(&r, &ei) != ERR_OK) {
        fprintf(stderr, "obsflow process: %s\n", ei.msg);
        code = str_starts_with(r.output, "s3://") || strstr(r.output, "://") ? PROC_CMDLINE_ERROR
                                                                            : PROC_GENERIC_ERROR;
        goto out;
    }
    if (make_storage(&r, &ei) != ERR_OK) {
        fprintf(stderr, "obsflow process: %s\n", ei.msg);
        code = PROC_GENERIC_ERROR;
        goto out;
    }
    if (r.out_s3) {
        enum err rc = storage_list(r.st, r.s3_base, stop_at_first, NULL, &ei);
        if (rc != ERR_OK && rc != ERR_CANCELLED) {
            fprintf(stderr, "obsflow process: cannot read output %s: %s\n", r.s3_base, ei.msg);
            code = PROC_GENERIC_ERROR;
            goto out;
        }
    } else if (storage_local_path(r.st, r.output, true, r.stage, sizeof r.stage, &ei) != ERR_OK) {
        fprintf(stderr, "obsflow process: cannot use output %s: %s\n", r.output, ei.msg);
        code = PROC_GENERIC_ERROR;
        goto out;
    }
    if (setup_tree(&r, &ei) != ERR_OK) {
        fprintf(stderr, "obsflow process: %s\n", ei.msg);
        code = PROC_GENERIC_ERROR;
        goto out;
    }
    char lp[PROC_PATH_MAX];
    if (proc_join(lp, sizeof lp, r.logs_dir, "process.txt", &ei) != ERR_OK ||
        proc_log_open(&r.plog, lp, !r.quiet, &ei) != ERR_OK ||
        proc_join(lp, sizeof lp, r.logs_dir, "preview.txt", &ei) != ERR_OK ||
        proc_log_open(&r.vlog, lp, !r.quiet, &ei) != ERR_OK) {
        fprintf(stderr, "obsflow process: %s\n", ei.msg);
        code = PROC_GENERIC_ERROR;
        goto out;
    }
    if (write_marker(&r, "processing-", "", "", &ei) != ERR_OK) {
        fprintf(stderr, "obsflow process: %s\n", ei.msg);
        code = r.out_s3 ? PROC_S3_UPLOAD_ERROR : PROC_GENERIC_ERROR;
        goto out;
    }
    proc_progress_init(&r.prog, r.ds.name, PROC_NSTEPS);
    proc_log_divider(&r.plog, "obsflow process");
    proc_log(&r.plog, "INFO", "dataset %s instrument %s input %s output %s config %s",
             r.ds.name, r.ds.instrument, r.input, r.output, r.config_dir);
    code = run_process(&r);
    proc_progress_done(&r.prog, code);
    if (code != PROC_SUCCESS) {
        fprintf(stderr, "obsflow process: %s[%d]: %s\n", proc_exit_name(code), code, r.reason);
    }
out:
    proc_log_close(&r.plog);
    proc_log_close(&r.vlog);
    proc_free_names(r.inputs, r.n_inputs);
    storage_destroy(r.st);
    if (r.work[0] && !getenv("OBSFLOW_KEEP_WORK")) {
        proc_rmtree(r.work);
    }
    return code;
}
