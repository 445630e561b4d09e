/* process_int.h - internals shared by cmd_process.c and cli/process_*.c: the run context, the
 * CALDP exit codes, the log (process.txt/preview.txt + stdout), the terminal progress line and
 * the GNU-time-style metrics files.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_CLI_PROCESS_INT_H
#define OBSFLOW_CLI_PROCESS_INT_H

#include "core/compiler.h"
#include "core/err.h"
#include "dataset/dataset.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>

/* CALDP's exit codes (caldp/exit_codes.py), kept numerically identical. */
#define PROC_X_LIST(X)                                                                             \
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

enum proc_exit {
#define PROC_X_ENUM(n, v) PROC_##n = v,
    PROC_X_LIST(PROC_X_ENUM)
#undef PROC_X_ENUM
};

/** "STAGE1_ERROR" for 23; "UNKNOWN" for codes not in the list. */
const char *proc_exit_name(int code);

#define PROC_PATH_MAX     4096
#define PROC_FILES_MAX    512   /* input or product files of one dataset */
#define PROC_REASON_MAX   512

/** A log file (process.txt or preview.txt) mirrored to stdout. */
struct proc_log {
    FILE *fp;          /* the log file (owned) */
    bool echo;         /* also print to stdout */
};

NODISCARD enum err proc_log_open(struct proc_log *l, const char *path, bool echo,
                                 struct err_info *ei);
void proc_log_close(struct proc_log *l);
/** One line "LEVEL - text" (LEVEL is INFO, WARNING, ERROR or EXIT). */
void proc_log(struct proc_log *l, const char *level, const char *fmt, ...) PRINTF_LIKE(3, 4);
/** A ">>>>>" divider line with a title, as caldp.log.divider(). */
void proc_log_divider(struct proc_log *l, const char *title);

/** Terminal progress: one line on stderr rewritten in place, only when stderr is a terminal. */
struct proc_progress {
    bool tty;
    int step, nsteps;
    char dataset[DATASET_NAME_MAX];
};
void proc_progress_init(struct proc_progress *p, const char *dataset, int nsteps);
void proc_progress_step(struct proc_progress *p, const char *what, const char *detail);
void proc_progress_done(struct proc_progress *p, int code);

/** Resource use at a point in time, for the metrics files. */
struct proc_usage {
    int64_t wall_ns;
    struct rusage ru;
};
void proc_usage_now(struct proc_usage *u);
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
NODISCARD enum err proc_untar(const char *tarball, const char *dest, struct err_info *ei);
/** Write @p member (a file or directory under @p dir) into the new .tar.gz @p tarball with
 *  /bin/tar; member names are relative to @p dir. */
NODISCARD enum err proc_tar_create(const char *tarball, const char *dir, const char *member,
                                   struct err_info *ei);

#endif
