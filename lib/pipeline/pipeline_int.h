/* pipeline_int.h - internals of lib/pipeline: the CALDP exit codes, the log
 * (process.txt/preview.txt, mirrored to the caller's log hook), cancellation, the
 * GNU-time-style metrics files and file/tarball helpers.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_PIPELINE_PIPELINE_INT_H
#define OBSFLOW_PIPELINE_PIPELINE_INT_H

#include "core/compiler.h"
#include "core/err.h"
#include "dataset/dataset.h"
#include "pipeline.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>

/* CALDP's exit codes under their historical internal names (same values as PIPELINE_*). */
enum proc_exit {
#define PROC_X_ENUM(n, v) PROC_##n = v,
    PIPELINE_X_LIST(PROC_X_ENUM)
#undef PROC_X_ENUM
};

/** "STAGE1_ERROR" for 23; "UNKNOWN" for codes not in the list. */
#define proc_exit_name pipeline_exit_name

#define PROC_PATH_MAX     4096
#define PROC_FILES_MAX    512   /* input or product files of one dataset */
#define PROC_REASON_MAX   512

/** A log file (process.txt or preview.txt) mirrored to the caller's log hook. */
struct proc_log {
    FILE *fp;                            /* the log file (owned) */
    bool echo;                           /* also pass each line to hooks->log */
    const struct pipeline_hooks *hooks;  /* borrowed, may be NULL */
};

NODISCARD enum err proc_log_open(struct proc_log *l, const char *path, bool echo,
                                 const struct pipeline_hooks *hooks, struct err_info *ei);
void proc_log_close(struct proc_log *l);
/** One line "LEVEL - text" (LEVEL is INFO, WARNING, ERROR or EXIT). */
void proc_log(struct proc_log *l, const char *level, const char *fmt, ...) PRINTF_LIKE(3, 4);
/** A ">>>>>" divider line with a title, as caldp.log.divider(). */
void proc_log_divider(struct proc_log *l, const char *title);

/** True when the caller asked the run to stop (hooks->cancelled). */
bool proc_cancelled(const struct pipeline_hooks *h);

/** Resource use at a point in time, for the metrics files. */
struct proc_usage {
    int64_t wall_ns;
    struct rusage ru;
    bool self; /* RUSAGE_SELF (the whole process) rather than RUSAGE_THREAD */
};
void proc_usage_now(struct proc_usage *u, bool self);
/** Write GNU `time --verbose`-style metrics of the interval [@p a, now] to @p path; the last
 *  line is "Exit status: N". */
NODISCARD enum err proc_metrics_write(const char *path, const char *command,
                                      const struct proc_usage *a, int exit_status,
                                      struct err_info *ei);

/* ---- file helpers ---------------------------------------------------------------------- */

/** mkdir -p (mode 0755). */
NODISCARD enum err proc_mkdirs(const char *path, struct err_info *ei);
/** Remove a directory tree (best effort; never follows symlinks). */
void proc_rmtree(const char *path);
/** Copy a regular file atomically (temp + fsync + rename). */
NODISCARD enum err proc_copy_file(const char *src, const char *dst, struct err_info *ei);
/** proc_copy_file that stops with ERR_CANCELLED (no destination) when @p h says so. */
NODISCARD enum err proc_copy_file_c(const char *src, const char *dst,
                                    const struct pipeline_hooks *h, struct err_info *ei);
/** Write @p text to @p path atomically. */
NODISCARD enum err proc_write_text(const char *path, const char *text, struct err_info *ei);
/** Join into @p out; ERR_TOO_LARGE when it does not fit. */
NODISCARD enum err proc_join(char *out, size_t cap, const char *a, const char *b,
                             struct err_info *ei);

/** Sorted names of the entries of @p dir that start with @p prefix and end with @p suffix
 *  (regular files only). @p names receives up to @p cap owned strings. */
NODISCARD enum err proc_list_dir(const char *dir, const char *prefix, const char *suffix,
                                 char **names, size_t cap, size_t *n, struct err_info *ei);
void proc_free_names(char **names, size_t n);

/** Extract a .tar.gz into @p dest with /bin/tar after checking every member: relative names,
 *  no "..", only regular files and directories (CVE-2007-4559 guard). */
NODISCARD enum err proc_untar(const char *tarball, const char *dest,
                              const struct pipeline_hooks *h, struct err_info *ei);
/** Write @p member (a file or directory under @p dir) into the new .tar.gz @p tarball with
 *  /bin/tar; member names are relative to @p dir. */
NODISCARD enum err proc_tar_create(const char *tarball, const char *dir, const char *member,
                                   const struct pipeline_hooks *h, struct err_info *ei);
/* tar runs as a child (posix_spawn, clean environment, CLOEXEC pipe, reaped); a cancellation
 * seen while it runs kills it and fails with ERR_CANCELLED. */

/* ---- products (pipeline_products.c) -------------------------------------------------- */

/** Where a run's products are and how to report on them. */
struct proc_products_ctx {
    const char *config_dir;             /* expectations/ lives here ("" = none) */
    const char *instrument;             /* "acs" */
    const char *in_dir;                 /* the inputs (raws) */
    const char *out_dir;                /* the products before publication */
    const char *logs_dir;               /* validation.json goes here */
    struct proc_log *log;               /* process.txt */
    const struct pipeline_hooks *hooks; /* cancellation, per product; may be NULL */
};

/**
 * Check every product calibration made (each file of out_dir that is not a copy of an input,
 * <root>_<suffix>.fits) against the expectation <instrument>/<suffix> and the raw it came
 * from (<root>_raw.fits). Every violation is logged (ERROR line each) and reported in
 * logs/validation.json; the message counts them and names as many as fit.
 * @param[out] xcode PROC_SUCCESS, PROC_STAGE1_ERROR (violations, unreadable product),
 *                   PROC_GENERIC_ERROR (expectations not loadable), PROC_CALDP_MEMORY_ERROR
 * @return ERR_OK (no violation; products without an expectation are logged as not validated);
 *         ERR_INVALID (violations); ERR_CANCELLED; other errors
 */
NODISCARD enum err proc_check_products(const struct proc_products_ctx *cx, int *xcode,
                                       struct err_info *ei);

/** MD5 (lower-case hex) and size of a file. */
NODISCARD enum err proc_md5_file(const char *path, char hex[33], uint64_t *size,
                                 struct err_info *ei);

/** Stage 1 of a ground CCD frame (pipeline_ccd.c): bias and flat from cfg->calib_source, then
 * cfg->ccd's plan streamed from @p raw_path to @p out_path; the references used are recorded
 * in @p res. A missing reference fails with BESTREFS_ERROR (ERR_NOT_FOUND, or ERR_UNAVAILABLE
 * when the source was down) unless cfg->missing_reference skips it; an ambiguous one always
 * fails (ERR_INVALID naming both). @param[out] xcode the CALDP code of a failure. */
NODISCARD enum err proc_ccd_calibrate(const struct pipeline_config *cfg, const char *raw_path,
                                      const char *out_path, struct proc_log *log,
                                      struct pipeline_result *res, int *xcode,
                                      struct err_info *ei);

#endif
