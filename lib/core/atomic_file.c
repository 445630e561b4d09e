/* atomic_file.c - temporary file + rename (see atomic_file.h).
 * SPDX-License-Identifier: Apache-2.0 */
#include "core/atomic_file.h"

#include "core/str.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum err atomic_file_open(struct atomic_file *af, const char *path, struct err_info *ei)
{
    af->fd = -1;
    af->tmp[0] = '\0';
    af->direct = false;
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) {
            return err_set(ei, ERR_INVALID, "\"%s\" is a directory", path);
        }
        /* a device or a pipe (-o /dev/null): write into it; renaming over it would replace
         * the device node with a regular file */
        if (!str_copy(af->path, sizeof af->path, path)) {
            return err_set(ei, ERR_TOO_LARGE, "path too long: \"%s\"", path);
        }
        af->fd = open(path, O_WRONLY | O_CLOEXEC);
        if (af->fd < 0) {
            return err_set(ei, ERR_IO, "could not open \"%s\": %s", path, strerror(errno));
        }
        af->direct = true;
        return ERR_OK;
    }
    int n = snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof af->tmp) {
        af->tmp[0] = '\0';
        return err_set(ei, ERR_TOO_LARGE, "path too long: \"%s\"", path);
    }
    str_copy(af->path, sizeof af->path, path);
    af->fd = open(af->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (af->fd < 0) {
        enum err rc =
            err_set(ei, ERR_IO, "could not create file \"%s\": %s", af->tmp, strerror(errno));
        af->tmp[0] = '\0';
        return rc;
    }
    return ERR_OK;
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
            return err_set(ei, ERR_IO, "could not write file \"%s\": %s",
                           af->direct ? af->path : af->tmp, strerror(errno));
        }
        p += w;
        len -= (size_t)w;
    }
    return ERR_OK;
}

/* fsync the directory holding @p path, so the rename survives a crash (best effort). */
static void sync_dir(const char *path)
{
    char dir[ATOMIC_FILE_PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        str_copy(dir, sizeof dir, ".");
    } else if (slash == path) {
        str_copy(dir, sizeof dir, "/");
    } else {
        size_t n = (size_t)(slash - path);
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) != 0) {
            /* best effort: the file itself is already durable */
        }
        close(dfd);
    }
}

enum err atomic_file_commit(struct atomic_file *af, bool durable, struct err_info *ei)
{
    enum err rc = ERR_OK;
    if (af->direct) {
        int fd = af->fd;
        af->fd = -1;
        if (close(fd) != 0) {
            rc = err_set(ei, ERR_IO, "could not close \"%s\": %s", af->path, strerror(errno));
        }
        return rc;
    }
    if (durable && fsync(af->fd) != 0) {
        rc = err_set(ei, ERR_IO, "could not fsync file \"%s\": %s", af->tmp, strerror(errno));
        goto out;
    }
    int fd = af->fd;
    af->fd = -1;
    if (close(fd) != 0) {
        rc = err_set(ei, ERR_IO, "could not close file \"%s\": %s", af->tmp, strerror(errno));
        goto out;
    }
    if (rename(af->tmp, af->path) != 0) {
        rc = err_set(ei, ERR_IO, "could not rename \"%s\" to \"%s\": %s", af->tmp, af->path,
                     strerror(errno));
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
        close(af->fd);
        af->fd = -1;
    }
    if (af->tmp[0]) {
        unlink(af->tmp);
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
