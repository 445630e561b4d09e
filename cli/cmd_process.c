/* cmd_process.c - `obsflow process <dataset> [input] [output] [config]`: the command-line
 * adapter of lib/pipeline (caldp-process semantics). It turns argv and the environment into a
 * pipeline_config (OBSFLOW_CONFIG_DIR, OBSFLOW_WORK_DIR/TMPDIR, OBSFLOW_DATA_ROOTS, AWS_*,
 * OBSFLOW_ARCHIVE_URL/TOKEN, OBSFLOW_KEEP_WORK, the IRAF directory variables jref/iref/..., the reference store
 * OBSFLOW_REFERENCE_URI / OBSFLOW_REFERENCE_CACHE / OBSFLOW_REFERENCE_CACHE_MAX and
 * OBSFLOW_MISSING_REFERENCE=fail|skip), prints the log lines on
 * stdout (unless --quiet), a progress line on stderr when it is a terminal
 * (OBSFLOW_NO_PROGRESS=1 turns it off), and exits with the CALDP exit code. The tests' fault
 * switches OBSFLOW_SIMULATE_ERROR and OBSFLOW_SIMULATE_PUBLISH_FAILURE are compiled in only with
 * OBSFLOW_TEST_HOOKS (builds with tests, BUILD_TESTING); the deployed binary never reads them.
 * SPDX-License-Identifier: Apache-2.0 */
#include "core/str.h"
#include "pipeline/pipeline.h"
#include "refstore/refstore.h"
#include "storage/storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int cli_cmd_process(int argc, char **argv);
extern const char cli_help_process[];
const char cli_help_process[] =
    "calibrate a dataset like caldp-process: process <dataset> [input] [output] [config]";

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
            "  27 best references, 32 out of memory, 40/41 SVM/MVM (not implemented)\n"
            "references not found locally come from OBSFLOW_REFERENCE_URI (file:DIR, http(s)://,\n"
            "  s3://bucket/prefix in the CRDS layout) through the cache OBSFLOW_REFERENCE_CACHE\n"
            "  (<work dir>/reference-cache) of at most OBSFLOW_REFERENCE_CACHE_MAX (10GiB); a\n"
            "  needed reference that is nowhere fails with 27 unless OBSFLOW_MISSING_REFERENCE=skip\n");
}

/* Terminal progress: one line on stderr rewritten in place, only when stderr is a terminal. */
struct progress {
    bool tty;
    const char *dataset;
};

static void on_step(void *ud, const char *step, int index, int nsteps, const char *detail)
{
    const struct progress *p = ud;
    if (!p->tty) {
        return;
    }
    fprintf(stderr, "\r\033[K%s [%d/%d] %s%s%s", p->dataset, index, nsteps, step,
            detail && *detail ? ": " : "", detail ? detail : "");
    fflush(stderr);
}

static void on_log(void *ud, bool alert, const char *line)
{
    (void)ud;
    if (alert) {
        fprintf(stderr, "obsflow process: %s\n", line);
        return;
    }
    fprintf(stdout, "%s\n", line);
    fflush(stdout);
}

static const char *config_dir_of(const char *c)
{
    if (!c || !*c || str_starts_with(c, "caldp-config-")) {
        const char *env = getenv("OBSFLOW_CONFIG_DIR");
        return env && *env ? env : "config";
    }
    if (str_starts_with(c, "file://")) {
        return c + 7;
    }
    if (str_starts_with(c, "file:")) {
        return c + 5;
    }
    return c;
}

/* The reference store of OBSFLOW_REFERENCE_URI (NULL when unset); errors are printed. */
static enum err open_refstore(const char *work_dir, const struct storage_s3_config *s3,
                              struct refstore **out)
{
    const char *uri = getenv("OBSFLOW_REFERENCE_URI");
    const char *cache = getenv("OBSFLOW_REFERENCE_CACHE");
    const char *max = getenv("OBSFLOW_REFERENCE_CACHE_MAX");
    char dflt[4096];
    struct err_info ei;
    err_info_clear(&ei);
    *out = NULL;
    if (!uri || !*uri) {
        return ERR_OK;
    }
    struct refstore_config rc = {.uri = uri, .s3 = s3};
    if (max && *max && refstore_size_parse(max, &rc.max_bytes, &ei) != ERR_OK) {
        fprintf(stderr, "obsflow process: OBSFLOW_REFERENCE_CACHE_MAX: %s\n", ei.msg);
        return ERR_INVALID;
    }
    if (!cache || !*cache) {
        snprintf(dflt, sizeof dflt, "%s/%s", work_dir, REFSTORE_CACHE_SUBDIR);
        cache = dflt;
    }
    rc.cache_dir = cache;
    enum err e = refstore_create(&rc, out, &ei);
    if (e != ERR_OK) {
        fprintf(stderr, "obsflow process: OBSFLOW_REFERENCE_URI=%s: %s\n", uri, ei.msg);
    }
    return e;
}

#ifdef OBSFLOW_TEST_HOOKS
static int64_t env_int(const char *name, int64_t lo, int64_t hi)
{
    const char *v = getenv(name);
    int64_t x = 0;
    if (v && *v && str_to_i64(v, lo, hi, &x) == ERR_OK) {
        return x;
    }
    return 0;
}
#endif

int cli_cmd_process(int argc, char **argv)
{
    struct pipeline_config cfg;
    struct pipeline_request req;
    struct pipeline_result res;
    struct storage_s3_config s3;
    struct err_info ei;
    bool quiet = false;
    int argi = 1;
    memset(&cfg, 0, sizeof cfg);
    memset(&req, 0, sizeof req);
    err_info_clear(&ei);
    while (argi < argc && argv[argi][0] == '-' && argv[argi][1] == '-') {
        if (strcmp(argv[argi], "--quiet") == 0) {
            quiet = true;
        } else if (strcmp(argv[argi], "--help") == 0) {
            usage();
            return 0;
        } else {
            usage();
            return PIPELINE_CMDLINE_ERROR;
        }
        argi++;
    }
    int npos = argc - argi;
    if (npos < 1 || npos > 4) {
        usage();
        return PIPELINE_CMDLINE_ERROR;
    }
    req.dataset = argv[argi];
    req.input = npos > 1 ? argv[argi + 1] : "file:.";
    req.output = npos > 2 ? argv[argi + 2] : "file:.";
    cfg.config_dir = config_dir_of(npos > 3 ? argv[argi + 3] : "caldp-config-onsite");
    const char *work = getenv("OBSFLOW_WORK_DIR");
    if (!work || !*work) {
        work = getenv("TMPDIR");
    }
    cfg.work_dir = work && *work ? work : "/tmp";
    cfg.data_roots = getenv("OBSFLOW_DATA_ROOTS");
    if (storage_s3_config_from_env(getenv, &s3, &ei) != ERR_OK) {
        fprintf(stderr, "obsflow process: %s\n", ei.msg);
        return PIPELINE_GENERIC_ERROR;
    }
    cfg.s3 = &s3;
    cfg.archive_url = getenv("OBSFLOW_ARCHIVE_URL");
    cfg.archive_token = getenv("OBSFLOW_ARCHIVE_TOKEN");
    cfg.env = (const char *const *)environ; /* jref, iref, oref ... */
#ifdef OBSFLOW_TEST_HOOKS
    cfg.simulate_error = (int)env_int("OBSFLOW_SIMULATE_ERROR", 1, 255);
    cfg.simulate_publish_failure = env_int("OBSFLOW_SIMULATE_PUBLISH_FAILURE", 1, 512);
#endif
    cfg.keep_work = getenv("OBSFLOW_KEEP_WORK") != NULL;
    cfg.process_usage = true;
    cfg.echo = !quiet;
    const char *policy = getenv("OBSFLOW_MISSING_REFERENCE");
    if (policy && *policy &&
        pipeline_missing_ref_parse(policy, &cfg.missing_reference, &ei) != ERR_OK) {
        fprintf(stderr, "obsflow process: OBSFLOW_MISSING_REFERENCE: %s\n", ei.msg);
        return PIPELINE_CMDLINE_ERROR;
    }
    struct refstore *refs = NULL;
    if (open_refstore(cfg.work_dir, &s3, &refs) != ERR_OK) {
        return PIPELINE_CMDLINE_ERROR;
    }
    cfg.refstore = refs;

    const char *off = getenv("OBSFLOW_NO_PROGRESS");
    struct progress prog = {
        .tty = isatty(STDERR_FILENO) == 1 && !(off && *off && strcmp(off, "0") != 0),
        .dataset = req.dataset,
    };
    struct pipeline_hooks hooks = {.step = on_step, .log = on_log, .ud = &prog};
    int code = pipeline_run(&cfg, &req, &hooks, &res);
    if (res.logged || code == PIPELINE_SUCCESS) {
        if (prog.tty && code == PIPELINE_SUCCESS) {
            fprintf(stderr, "\r\033[K%s done\n", req.dataset);
        } else if (prog.tty) {
            fprintf(stderr, "\r\033[K%s failed: %s[%d]\n", req.dataset, pipeline_exit_name(code),
                    code);
        }
        if (code != PIPELINE_SUCCESS) {
            fprintf(stderr, "obsflow process: %s[%d]: %s\n", pipeline_exit_name(code), code,
                    res.reason);
        }
    } else {
        fprintf(stderr, "obsflow process: %s\n", res.reason);
    }
    pipeline_result_free(&res);
    refstore_destroy(refs);
    return code;
}
