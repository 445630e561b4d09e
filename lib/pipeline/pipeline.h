/* pipeline.h - the dataset pipeline (caldp-process semantics) as a library: fetch the raw files
 * (file:DIR plain FITS or one tarball, astroquery:, s3://bucket/prefix), check them against
 * the instrument's expectations, calibrate (stage 1, lib/calib), make previews and publish the
 * CALDP output tree to file:DIR or s3://bucket/prefix, with CALDP's exit codes. Both
 * `obsflow process` (cli/cmd_process.c) and the `dataset` job kind (workers/job_dataset.c) are
 * thin adapters over pipeline_run.
 *
 * No environment reads, no stdout, no process-wide state: everything comes in through struct
 * pipeline_config, struct pipeline_request and struct pipeline_hooks, and goes out through
 * struct pipeline_result and the hooks. Child processes (/bin/tar for tarballs) are spawned
 * with posix_spawn, every descriptor of the library is O_CLOEXEC, and children are reaped
 * (killed on cancellation). Threading: reentrant; many runs at once in one process (a borrowed
 * storage handle is shared as lib/storage allows).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_PIPELINE_PIPELINE_H
#define OBSFLOW_PIPELINE_PIPELINE_H

#include "calib/calib.h"
#include "core/compiler.h"
#include "core/err.h"
#include "profile/profile.h"
#include "refstore/refstore.h"
#include "storage/storage.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CALDP's exit codes (caldp/exit_codes.py), kept numerically identical. */
#define PIPELINE_X_LIST(X)                                                                         \
    X(SUCCESS, 0)                                                                                  \
    X(GENERIC_ERROR, 1)                                                                            \
    X(CMDLINE_ERROR, 2)                                                                            \
    X(INPUT_TAR_FILE_ERROR, 21)                                                                    \
    X(ASTROQUERY_ERROR, 22)                                                                        \
    X(STAGE1_ERROR, 23)                                                                            \
    X(STAGE2_ERROR, 24)                                                                            \
    X(S3_UPLOAD_ERROR, 25)                                                                         \
    X(S3_DOWNLOAD_ERROR, 26)                                                                       \
    X(BESTREFS_ERROR, 27)                                                                          \
    X(CREATE_PREVIEWS_ERROR, 28)                                                                   \
    X(SUBPROCESS_MEMORY_ERROR, 31)                                                                 \
    X(CALDP_MEMORY_ERROR, 32)                                                                      \
    X(CONTAINER_MEMORY_ERROR, 33)                                                                  \
    X(OS_MEMORY_ERROR, 34)                                                                         \
    X(SVM_ERROR, 40)                                                                               \
    X(MVM_ERROR, 41)

enum pipeline_exit {
#define PIPELINE_X_ENUM(n, v) PIPELINE_##n = v,
    PIPELINE_X_LIST(PIPELINE_X_ENUM)
#undef PIPELINE_X_ENUM
};

/** "STAGE1_ERROR" for 23; "UNKNOWN" for codes not in the list. */
const char *pipeline_exit_name(int code);

#define PIPELINE_NSTEPS      5    /* fetch, validate, calibrate, previews, publish */
#define PIPELINE_REASON_MAX  512
#define PIPELINE_URI_MAX     4096
#define PIPELINE_PRODUCTS_MAX 1024 /* products reported in a result */

/** One dataset to process. Strings borrowed. */
struct pipeline_request {
    const char *dataset; /* HST ipppssoot, SVM, MVM, or a name matched by <config>/datasets.yaml */
    const char *input;   /* file:DIR, astroquery:, s3://bucket/prefix */
    const char *output;  /* file:DIR, s3://bucket/prefix */
    /* names the scratch directory (a job id: [A-Za-z0-9-]) so that a re-run after a crash
     * replaces what the killed attempt left there; NULL = a fresh unique name */
    const char *tag;
    /* CAOM collection of the observation the caller builds from the products (the dataset
     * job's CAOM step); not used by pipeline_run; NULL = none */
    const char *collection;
    /* the dataset profile the job named (borrowed from the service's set), or NULL: its
     * blueprints, scheme and compute shape the CAOM step; not used by pipeline_run */
    const struct profile *profile;
    /* pipeline_params_parse: the output URI (given, or the profile's template expanded);
     * output points here */
    char output_buf[PIPELINE_URI_MAX];
};

/** What stage 1 does when a reference the dataset needs (its calibration switch is PERFORM and
 * the header or catalog names a file, not N/A) is nowhere to be found: fail the dataset with
 * BESTREFS_ERROR (27) naming the keyword and the file (CALDP's behaviour, the default), or
 * skip that step with a WARNING line (an explicit profile choice, `missing_reference: skip`). */
enum pipeline_missing_ref {
    PIPELINE_MISSING_REF_FAIL = 0,
    PIPELINE_MISSING_REF_SKIP,
};

/** "fail" or "skip" (case-insensitive) -> @p out. @return ERR_OK; ERR_INVALID otherwise. */
NODISCARD enum err pipeline_missing_ref_parse(const char *s, enum pipeline_missing_ref *out,
                                              struct err_info *ei);
/** "fail" / "skip". */
const char *pipeline_missing_ref_name(enum pipeline_missing_ref m);

/** Everything the pipeline needs to know about its surroundings. Strings borrowed. */
struct pipeline_config {
    const char *config_dir; /* expectations/, references/, datasets.yaml ("" = none) */
    const char *work_dir;   /* parent of the private scratch directory of a run */
    /* inputs and outputs: a shared handle (borrowed) or, when NULL, one made for the run from
     * the fields below */
    struct storage *storage;
    const char *data_roots; /* colon-separated file: roots; NULL or "" = the request's own
                               input and output directories (what a command line names) */
    const struct storage_s3_config *s3;  /* NULL = defaults */
    const char *archive_url;             /* astroquery: URL template; NULL = default */
    const char *archive_token;           /* NULL = none */
    /* "NAME=value" strings (NULL-terminated; NULL = none) consulted for IRAF directory
     * variables of reference names (jref$x.fits), after the dataset's <ds>_cal_env.txt */
    const char *const *env;
    /* references not found locally (IRAF variables, <config>/references/hst) are fetched from
     * this store (borrowed, shared by the runs of a process; NULL = none) */
    struct refstore *refstore;
    enum pipeline_missing_ref missing_reference; /* default (0): fail */
    /* a dataset profile's choices (NULL/false = the defaults): the reference catalog (a file
     * name under <config_dir>/references/ instead of <instrument>.yaml), the intake
     * expectations (a file name under <config_dir>/expectations/ instead of the set's
     * <instrument> raw entry), and no previews */
    const char *reference_catalog;
    const char *expectations;
    bool no_previews;
    /* a ground CCD profile's plan (borrowed; NULL = none): each FITS input <base>.fits of a
     * dataset that is not HST's is calibrated into <base>_cal.fits (overscan, trim, bias,
     * flat, gain, ERR) with the bias and flat from calib_source */
    const struct profile_ccd *ccd;
    const struct pipeline_calib_source *calib_source; /* NULL = none */
    /* file: outputs: FITS products placed by the caller (NULL = CALDP's layout); logs,
     * previews and markers stay in CALDP's places; S3 outputs (one tarball) ignore it */
    const struct pipeline_placement *placement;
    int simulate_error;            /* 1..255: fail with this code at once (0 = off) */
    int64_t simulate_publish_failure; /* fail the publication after N files (0 = off) */
    bool keep_work;                /* leave the scratch directory behind (debugging) */
    bool process_usage;            /* metrics files from RUSAGE_SELF (the caller owns the
                                      process); else RUSAGE_THREAD */
    bool echo;                     /* log lines also go to hooks->log */
};

/** Where a ground CCD run (pipeline_config.ccd) finds its bias and flat: the caller's lookup,
 * e.g. the registry's calibration collections (workers/job_dataset.c). */
struct pipeline_calib_source {
    /** The calibration of @p type ("bias", "flat") valid for the raw frame @p raw_path (a
     * local FITS file: its header gives the instrument and the exposure's time span): a local
     * path into @p path and its identifier (the registry dataset's UUID) into @p id.
     * @return ERR_OK; ERR_NOT_FOUND (there is none: a missing reference); ERR_CONFLICT (two
     *         apply: ambiguous, the message names both); ERR_UNAVAILABLE (the source is down:
     *         worth another attempt); anything else fails the run. */
    enum err (*find)(void *ud, const char *type, const char *raw_path, char *path, size_t cap,
                     char *id, size_t idcap, struct err_info *ei);
    void *ud;
};

#define PIPELINE_REFS_MAX 8 /* calibration references a ground CCD run records */

/** Where the FITS products of a file: output go, when the caller places them by a file
 * template (a profile's file_template) rather than in data/<instrument>/<dataset>/. */
struct pipeline_placement {
    /** The path of the product @p name (a FITS file the run made or kept, still local at
     * @p local), relative to the output root, into @p rel. @return ERR_OK; ERR_NOT_FOUND =
     * the CALDP place; anything else fails the publication. */
    enum err (*place)(void *ud, const char *name, const char *local, char *rel, size_t cap,
                      struct err_info *ei);
    void *ud;
};

struct pipeline_product;

/** Callbacks of a run; any may be NULL. Called on the calling thread. */
struct pipeline_hooks {
    /** Checked between and inside steps (per file, imset, transfer chunk); true stops the
     * run: what was published is withdrawn, an error marker is left, result.cancelled set. */
    bool (*cancelled)(void *ud);
    /** A step begins (index 1..PIPELINE_NSTEPS), or advances (same index, new detail). */
    void (*step)(void *ud, const char *step, int index, int nsteps, const char *detail);
    /** One line of process.txt/preview.txt as written (when config.echo), or with @p alert a
     * line for the operator's error stream. */
    void (*log)(void *ud, bool alert, const char *line);
    /** The products are complete in the run's scratch directory and nothing is published
     * yet: @p n files (uri "file:/local/path", type, size, MD5: FITS products first, then
     * previews), valid during the call. The dataset job builds its CAOM observation here.
     * An error fails the run with GENERIC_ERROR and its message as the reason (nothing is
     * published); ERR_CANCELLED stops the run as a cancellation. */
    enum err (*products)(void *ud, const struct pipeline_product *files, size_t n,
                         struct err_info *ei);
    void *ud;
};

/** One published file (or, for s3:// outputs, the dataset tarball). */
struct pipeline_product {
    char uri[PIPELINE_URI_MAX]; /* file:/abs/path or s3://bucket/key */
    uint64_t size;
    char md5[33];  /* lower-case hex */
    char type[16]; /* FITS suffix ("raw", "flt"), "preview", "thumbnail", "env", "tarball" */
    bool input;    /* products hook: a raw input kept among the products (else made by the run) */
};

struct pipeline_step_time {
    const char *name; /* static */
    int64_t ms;       /* -1 = not run */
};

/** What a run did. Free with pipeline_result_free. */
struct pipeline_result {
    int code;                          /* CALDP exit code, 0 = success */
    char reason[PIPELINE_REASON_MAX];  /* one line; "" on success */
    bool logged; /* the failure is in process.txt (EXIT line); false: it happened before the
                    log was open (bad dataset name, unusable output) */
    bool cancelled;
    /* the failure came from something that may recover (a server or store unreachable,
     * timing out, resetting or answering 5xx; local I/O): worth another attempt, whatever the
     * code says; false for missing, refused or invalid files */
    bool retryable;
    char dataset_dir[PIPELINE_URI_MAX]; /* data/<instrument>/<ds> as published */
    size_t n_products;
    struct pipeline_product *products; /* owned */
    struct pipeline_step_time steps[PIPELINE_NSTEPS];
    int64_t total_ms;
    /* the calibrations a ground CCD run used (pipeline_config.calib_source), once each */
    size_t n_refs;
    struct {
        char type[16]; /* "bias", "flat" */
        char id[64];   /* the source's identifier (registry dataset UUID) */
    } refs[PIPELINE_REFS_MAX];
};

/** Run one dataset. Always fills @p res (code and reason); returns res->code. */
int pipeline_run(const struct pipeline_config *cfg, const struct pipeline_request *req,
                 const struct pipeline_hooks *hooks, struct pipeline_result *res);

void pipeline_result_free(struct pipeline_result *res);

/** {"exit_code", "exit_name", "reason"?, "cancelled"?, "dataset_dir", "products": [{"uri",
 * "size", "md5", "type"}], "steps": [{"name", "ms"}], "total_ms", "references"?: [{"type",
 * "id"}]} (NULL when out of memory). */
json_t *pipeline_result_json(const struct pipeline_result *res);

/**
 * THE validator of the `dataset` job's params, used by POST /v1/jobs and the worker alike:
 * dataset (required; 1..63 bytes of [A-Za-z0-9._-]), input (required; file:DIR, astroquery:,
 * s3://bucket[/prefix]), output (file:DIR or s3://bucket[/prefix]; required unless the
 * profile has an output template), collection (optional; 1..128 bytes of [A-Za-z0-9._-]:
 * build a CAOM observation and push it there; default: the profile's), profile (optional:
 * the name of one of @p profiles; the dataset must match its dataset_rule). file: paths
 * must be absolute without ".." (their confinement to OBSFLOW_DATA_ROOTS is checked by the
 * storage when the job runs). Any other key is refused. Field names are
 * "<pfx>params.<name>". @p out may be NULL (validate only); its strings are borrowed from
 * @p params and @p profiles, except output (in out->output_buf).
 * @return ERR_OK; ERR_INVALID naming the field.
 */
NODISCARD enum err pipeline_params_parse(const json_t *params, const char *pfx,
                                         const struct profile_set *profiles,
                                         struct pipeline_request *out, struct err_info *ei);
NODISCARD enum err pipeline_params_validate(const json_t *params, const char *pfx,
                                            const struct profile_set *profiles,
                                            struct err_info *ei);

/* ---- master calibration frames (the `combine` job; docs/registry.md) --------------------- */

#define PIPELINE_COMBINE_INPUTS_MAX 64 /* raw frames of one combine job */

/** One master to make: every raw frame through the profile's ccd plan without gain (overscan,
 * trim; flats: minus the master bias), then combined. Strings borrowed. */
struct pipeline_combine_request {
    const char *type;              /* "bias" or "flat" (for messages) */
    const char *const *inputs;     /* local paths of the raw frames */
    size_t n;
    const struct profile_ccd *ccd; /* the preprocessing */
    const char *bias;              /* flats: the master bias's local path, or NULL */
    enum calib_combine_method method;
    bool sigma_clip;
    double sigma_low, sigma_high;
    const char *work_dir;          /* scratch for the preprocessed frames (removed after) */
    const char *out_path;          /* the master (SCI/ERR/DQ), written atomically */
    bool (*cancelled)(void *ud);   /* checked between frames; may be NULL */
    void *ud;
};

/** Make one master. @return ERR_OK; ERR_CANCELLED; lib/calib's errors prefixed with the
 * frame's file name (shapes, sections, unreadable FITS); ERR_NOMEM. */
NODISCARD enum err pipeline_combine(const struct pipeline_combine_request *req,
                                    struct err_info *ei);

/** The `combine` job's params, as pipeline_combine_params_parse reads them. */
struct pipeline_combine_params {
    const struct profile *profile; /* has a ccd section */
    const char *type;              /* "bias" | "flat" */
    const char *inputs[PIPELINE_COMBINE_INPUTS_MAX]; /* file:/path or s3://bucket/key */
    size_t n;
    enum calib_combine_method method;
    bool sigma_clip;
    double sigma_low, sigma_high;
    const char *output;            /* file:/DIR or s3://bucket[/prefix] */
    const char *run;               /* the registry RUN of the master, or NULL (default) */
    const char *certify;           /* a CALIBRATION collection, or NULL */
    char begin[48], end[48];       /* the validity range ("" = unbounded), normalised */
};

/**
 * THE validator of the `combine` job's params (POST /v1/jobs and the worker): profile
 * (required; a profile of @p profiles with a ccd section and a registry_run), type ("bias" or
 * "flat"), inputs (1..PIPELINE_COMBINE_INPUTS_MAX file:/abs/path or s3://bucket/key URIs of
 * raw frames, no duplicates), method ("average" | "median" | "sum"; default average for bias,
 * median for flat), sigma_clip ([low, high] > 0, or false; default [3, 3] for bias, false for
 * flat), output (file:/DIR or s3://bucket[/prefix]; the master goes under it by the profile's
 * file_template), run (a registry RUN name; default "<registry_run>/<type>-<job>"), certify
 * ({"collection", "begin"?, "end"?}: certify the master there over [begin, end), ISO-8601
 * times, either unbounded when absent). Any other key is refused; fields are named
 * "<pfx>params.<name>". @p out may be NULL. @return ERR_OK; ERR_INVALID naming the field.
 */
NODISCARD enum err pipeline_combine_params_parse(const json_t *params, const char *pfx,
                                                 const struct profile_set *profiles,
                                                 struct pipeline_combine_params *out,
                                                 struct err_info *ei);

#endif
