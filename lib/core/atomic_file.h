/* atomic_file.h - the one way obsflow replaces a file, so that a reader sees either the old file
 * or the whole new one, never a part. The bytes go to a new temporary file in the target's
 * directory, "<dir>/.<name>.part.<16 hex digits>", created with O_CREAT|O_EXCL|O_CLOEXEC (a
 * random name, retried on collision: two threads or processes writing one path never share a
 * temporary, and a symlink planted at a temporary name is never followed); commit closes it and
 * renames it over <path>; "durable" adds fsync of the file before the rename and of the
 * directory after it. Every failure removes the temporary file.
 * atomic_file_open also writes straight into an existing device or pipe at path (/dev/null, a
 * terminal: -o /dev/stdout), which a rename would replace; atomic_file_open_replace never does.
 * libc only. Thread-safe for any paths (one struct atomic_file per writer); the last commit of
 * concurrent writers of one path wins, each one whole.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_CORE_ATOMIC_FILE_H
#define OBSFLOW_CORE_ATOMIC_FILE_H

#include "core/compiler.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

#define ATOMIC_FILE_PATH_MAX 4096 /* longest path, and longest temporary path */

/** One file being written (a value the caller keeps, typically on the stack). The caller may
 *  write through @c fd itself (and truncate or seek it) and read the file at @c tmp before the
 *  commit. */
struct atomic_file {
    int fd;                          /* the temporary file (or the device), or -1 */
    char tmp[ATOMIC_FILE_PATH_MAX];  /* the temporary file's name, "" when there is none */
    char path[ATOMIC_FILE_PATH_MAX]; /* the name it gets on commit */
    bool direct;                     /* writing straight into a device or pipe at path */
};

/** Create the temporary file of @p path (mode 0644 less the umask); a device or pipe at path
 *  is opened for writing in place instead; a directory is refused. On failure nothing is left
 *  behind and @c fd is -1. */
NODISCARD enum err atomic_file_open(struct atomic_file *af, const char *path, struct err_info *ei);
/** As atomic_file_open, but always a temporary file renamed over whatever @p path is. */
NODISCARD enum err atomic_file_open_replace(struct atomic_file *af, const char *path,
                                            struct err_info *ei);
/** Append @p len bytes. On failure the caller still calls atomic_file_abort. */
NODISCARD enum err atomic_file_write(struct atomic_file *af, const void *data, size_t len,
                                     struct err_info *ei);
/** Close and rename over the path (with fsyncs when @p durable). On failure the temporary file
 *  is removed and the old file, if any, is unchanged. */
NODISCARD enum err atomic_file_commit(struct atomic_file *af, bool durable, struct err_info *ei);
/** Drop an uncommitted file; no-op after commit or a failed open; safe twice. */
void atomic_file_abort(struct atomic_file *af);

/** open + write + commit of one buffer. */
NODISCARD enum err atomic_file_put(const char *path, const void *data, size_t len, bool durable,
                                   struct err_info *ei);

#endif
