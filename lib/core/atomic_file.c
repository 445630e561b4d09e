/* atomic_file.c - unique temporary file + rename (see atomic_file.h).
 * SPDX-License-Identifier: Apache-2.0 */
#include "core/atomic_file.h"

#include "core/rand.h"
#include "core/str.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Collisions of 64 random bits are not expected; a name taken by a planted file or link is
 * skipped, and this many taken names in a row mean something else is wrong. */
#define ATOMIC_FILE_TRIES 16
/* The file name part of the temporary keeps at most this much of the target's name, so that
 * ".<name>.part.<16 hex>" stays within NAME_MAX (255). */
#define ATOMIC_FILE_BASE_KEEP 200

static void reset(struct atomic_file *af)
{
    af->fd = -1;
    af->tmp[0] = '\0';
    af->path[0] = '\0';
    af->direct = false;
}

static enum err open_impl(struct atomic_file *af, const char *path, bool devices,
                          struct err_info *ei)
{
    reset(af);
    if (!path || !path[0]) {
        return err_set(ei, ERR_INVALID, "empty output file name");
    }
    if (!str_copy(af->path, sizeof af->path, path)) {
        af->path[0] = '\0';
        return err_set(ei, ERR_TOO_LARGE, "path too long: \"%.200s...\"", path);
    }
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dirlen = (size_t)(base - path);
    if (!base[0]) {
        return err_set(ei, ERR_INVALID, "\"%s\" names a directory", path);
    }
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) {
            return err_set(ei, ERR_INVALID, "\"%s\" is a directory", path);
        }
        if (devices) {
            /* a device or a pipe (-o /dev/null): write into it; renaming over it would
             * replace the device node with a regular file */
            af->fd = open(path, O_WRONLY | O_CLOEXEC);
            if (af->fd < 0) {
                return err_set(ei, ERR_IO, "could not open \"%s\": %s", path, ERR_ERRNO(errno));
            }
            af->direct = true;
            return ERR_OK;
        }
    }
    size_t baselen = strlen(base);
    int keep = (int)(baselen > ATOMIC_FILE_BASE_KEEP ? ATOMIC_FILE_BASE_KEEP : baselen);
    for (int i = 0; i < ATOMIC_FILE_TRIES; i++) {
        int n = snprintf(af->tmp, sizeof af->tmp, "%.*s.%.*s.part.%016" PRIx64, (int)dirlen, path,
                         keep, base, rand_u64());
        if (n < 0 || (size_t)n >= sizeof af->tmp) {
            af->tmp[0] = '\0';
            return err_set(ei, ERR_TOO_LARGE, "path too long: \"%.200s...\"", path);
        }
        /* O_EXCL: a new file or nothing; an existing name, a symlink included, is EEXIST */
        af->fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (af->fd >= 0) {
            return ERR_OK;
        }
        if (errno != EEXIST) {
            break;
        }
    }
    enum err rc = err_set(ei, ERR_IO, "could not create a temporary file beside \"%s\": %s", path,
                          ERR_ERRNO(errno));
    af->tmp[0] = '\0';
    return rc;
}

enum err atomic_file_open(struct atomic_file *af, const char *path, struct err_info *ei)
{
    return open_impl(af, path, true, ei);
}

enum err atomic_file_open_replace(struct atomic_file *af, const char *path, struct err_info *ei)
{
    return open_impl(af, path, false, ei);
}

enum err atomic_file_write(struct atomic_file *af, const void *data, size_t len,
                           struct err_info *ei)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t w = write(af->fd, p, len);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return err_set(ei, ERR_IO, "could not write file \"%s\": %s", af->path,
                           ERR_ERRNO(errno));
        }
        p += w;
        len -= (size_t)w;
    }
    return ERR_OK;
}

/* fsync the directory holding @p path, so the rename survives a crash (best effort: the file
 * itself is already durable). */
static void sync_dir(const char *path)
{
    char dir[ATOMIC_FILE_PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        (void)str_copy(dir, sizeof dir, ".");
    } else if (slash == path) {
        (void)str_copy(dir, sizeof dir, "/");
    } else {
        size_t n = (size_t)(slash - path);
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) != 0) {
            /* best effort, see above */
        }
        (void)close(dfd);
    }
}

enum err atomic_file_commit(struct atomic_file *af, bool durable, struct err_info *ei)
{
    enum err rc = ERR_OK;
    if (af->fd < 0) {
        return err_set(ei, ERR_INTERNAL, "file \"%s\" is not open for writing", af->path);
    }
    if (af->direct) {
        int fd = af->fd;
        af->fd = -1;
        if (close(fd) != 0) {
            rc = err_set(ei, ERR_IO, "could not close \"%s\": %s", af->path, ERR_ERRNO(errno));
        }
        return rc;
    }
    if (durable && fsync(af->fd) != 0) {
        rc = err_set(ei, ERR_IO, "could not fsync file \"%s\": %s", af->path, ERR_ERRNO(errno));
        goto out;
    }
    int fd = af->fd;
    af->fd = -1;
    if (close(fd) != 0) {
        rc = err_set(ei, ERR_IO, "could not close file \"%s\": %s", af->path, ERR_ERRNO(errno));
        goto out;
    }
    if (rename(af->tmp, af->path) != 0) {
        rc = err_set(ei, ERR_IO, "could not rename a temporary file to \"%s\": %s", af->path,
                     ERR_ERRNO(errno));
        goto out;
    }
    af->tmp[0] = '\0';
    if (durable) {
        sync_dir(af->path);
    }
out:
    atomic_file_abort(af);
    return rc;
}

void atomic_file_abort(struct atomic_file *af)
{
    if (af->fd >= 0) {
        (void)close(af->fd);
        af->fd = -1;
    }
    if (af->tmp[0]) {
        (void)unlink(af->tmp);
        af->tmp[0] = '\0';
    }
}

enum err atomic_file_put(const char *path, const void *data, size_t len, bool durable,
                         struct err_info *ei)
{
    struct atomic_file af;
    enum err rc = atomic_file_open(&af, path, ei);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = atomic_file_write(&af, data, len, ei);
    if (rc != ERR_OK) {
        atomic_file_abort(&af);
        return rc;
    }
    return atomic_file_commit(&af, durable, ei);
}
