/* atomic_file.h - replace a file so that a reader sees either the old file or the whole new
 * one, never a part: the bytes go to "<path>.tmp.<pid>" in the same directory, which is renamed
 * over <path> on commit; "durable" adds fsync of the file and of its directory. A path that
 * exists and is not a regular file (/dev/null, a pipe, a terminal) is written in place: it is
 * never replaced. libc only.
 * Thread-safe for distinct paths (one struct atomic_file per writer).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_CORE_ATOMIC_FILE_H
#define OBSFLOW_CORE_ATOMIC_FILE_H

#include "core/compiler.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

#define ATOMIC_FILE_PATH_MAX 4096 /* longest path, with the ".tmp.<pid>" suffix */

/** One file being written (a value the caller keeps, typically on the stack). */
struct atomic_file {
    int fd;                          /* the temporary file, or -1 */
    char tmp[ATOMIC_FILE_PATH_MAX];  /* its name */
    char path[ATOMIC_FILE_PATH_MAX]; /* the name it gets on commit */
    bool direct;                     /* writing straight into a device or pipe at path */
};

/** Create the temporary file of @p path (mode 0644). On failure nothing is left behind. */
NODISCARD enum err atomic_file_open(struct atomic_file *af, const char *path, struct err_info *ei);
/** Append @p len bytes. On failure the caller still calls atomic_file_abort. */
NODISCARD enum err atomic_file_write(struct atomic_file *af, const void *data, size_t len,
                                     struct err_info *ei);
/** Close and rename over the path (with fsyncs when @p durable). On failure the temporary file
 *  is removed and the old file, if any, is unchanged. */
NODISCARD enum err atomic_file_commit(struct atomic_file *af, bool durable, struct err_info *ei);
/** Drop an uncommitted file; no-op after commit or a failed open. */
void atomic_file_abort(struct atomic_file *af);

/** open + write + commit of one buffer. */
NODISCARD enum err atomic_file_put(const char *path, const void *data, size_t len, bool durable,
                                   struct err_info *ei);

#endif
