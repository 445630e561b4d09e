/* storage_file.c - the file: back end. Every path is confined to the configured data roots:
 * ".." components are refused outright, and the real path (symlinks resolved) of the target,
 * or for a new file of its deepest existing ancestor, must lie inside a root. Writes go to a
 * temporary file beside the target, are flushed, and are renamed into place.
 * SPDX-License-Identifier: Apache-2.0 */
#include "storage/storage.h"
#include "storage/storage_int.h"

#include "core/atomic_file.h"
#include "core/path.h"
#include "core/str.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORAGE__COPY_CHUNK ((size_t)1 << 20)

/* Last modification of @p sb in ns since the epoch. */
static int64_t mtime_ns(const struct stat *sb)
{
    return (int64_t)sb->st_mtim.tv_sec * 1000000000LL + sb->st_mtim.tv_nsec;
}

/* True if @p real (absolute, canonical) is @p root or below it. */
static bool under_root(const char *root, const char *real)
{
    size_t n = strlen(root);
    if (n == 1 && root[0] == '/') {
        return real[0] == '/';
    }
    return strncmp(real, root, n) == 0 && (real[n] == '\0' || real[n] == '/');
}

static bool inside_roots(const struct storage *st, const char *real)
{
    for (size_t i = 0; i < st->n_roots; i++) {
        if (under_root(st->roots[i], real)) {
            return true;
        }
    }
    return false;
}

/* Absolute, lexically cleaned form of @p path ("." and empty segments dropped). */
static enum err absolutize(const char *path, char *out, size_t cap, struct err_info *ei)
{
    char joined[STORAGE_PATH_MAX * 2];
    if (path[0] == '/') {
        if (!str_copy(joined, sizeof joined, path)) {
            return err_set(ei, ERR_TOO_LARGE, "path too long");
        }
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd)) {
            return err_set(ei, ERR_IO, "could not get the current directory: %s",
                           ERR_ERRNO(errno));
        }
        int n = snprintf(joined, sizeof joined, "%s/%s", cwd, path);
        if (n < 0 || (size_t)n >= sizeof joined) {
            return err_set(ei, ERR_TOO_LARGE, "path too long");
        }
    }
    size_t o = 0;
    const char *seg = joined;
    for (;;) {
        const char *slash = strchr(seg, '/');
        size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
        if (n > 0 && !(n == 1 && seg[0] == '.')) {
            if (o + 1 + n + 1 > cap) {
                return err_set(ei, ERR_TOO_LARGE, "path \"%.200s\" too long", path);
            }
            out[o++] = '/';
            memcpy(out + o, seg, n);
            o += n;
        }
        if (!slash) {
            break;
        }
        seg = slash + 1;
    }
    if (o == 0) {
        if (cap < 2) {
            return err_set(ei, ERR_TOO_LARGE, "path too long");
        }
        out[o++] = '/';
    }
    out[o] = '\0';
    return ERR_OK;
}

static enum err outside(const char *path, struct err_info *ei)
{
    return err_set_field(ei, ERR_FORBIDDEN, "uri", "path \"%.300s\" is outside the data roots",
                         path);
}

enum err storage__confine(struct storage *st, const char *path, bool for_write, char *out,
                          size_t cap, struct err_info *ei)
{
    if (st->n_roots == 0) {
        return err_set_field(ei, ERR_FORBIDDEN, "uri",
                             "file access is disabled: no data roots are configured");
    }
    if (path_has_dotdot(path)) {
        return err_set_field(ei, ERR_FORBIDDEN, "uri", "path \"%.300s\" contains \"..\"", path);
    }
    char abs[STORAGE_PATH_MAX];
    enum err e = absolutize(path, abs, sizeof abs, ei);
    if (e != ERR_OK) {
        return e;
    }
    char real[PATH_MAX];
    if (realpath(abs, real)) {
        /* the target exists: its real path decides (a symlink pointing out is refused) */
        if (!inside_roots(st, real)) {
            return outside(path, ei);
        }
        if (!str_copy(out, cap, real)) {
            return err_set(ei, ERR_TOO_LARGE, "path \"%.200s\" too long", path);
        }
        return ERR_OK;
    }
    if (errno != ENOENT) {
        if (errno == ENOTDIR || errno == ELOOP || errno == EACCES) {
            return err_set(ei, errno == EACCES ? ERR_FORBIDDEN : ERR_INVALID,
                           "cannot resolve path \"%.300s\": %s", path, ERR_ERRNO(errno));
        }
        return err_set(ei, ERR_IO, "could not resolve path \"%.300s\": %s", path,
                       ERR_ERRNO(errno));
    }
    if (!for_write) {
        /* say "outside" rather than "not found" for paths that could never be read */
        bool lexically_inside = inside_roots(st, abs);
        if (!lexically_inside) {
            return outside(path, ei);
        }
        return err_set_field(ei, ERR_NOT_FOUND, "uri", "file \"%.300s\" does not exist", path);
    }
    /* a new file: find the deepest existing ancestor and check its real path */
    char anc[STORAGE_PATH_MAX];
    (void)str_copy(anc, sizeof anc, abs);
    size_t tail_at = strlen(anc);
    for (;;) {
        char *slash = strrchr(anc, '/');
        if (!slash) {
            return outside(path, ei);
        }
        tail_at = (size_t)(slash - anc);
        if (slash == anc) {
            anc[1] = '\0';
        } else {
            *slash = '\0';
        }
        if (realpath(anc, real)) {
            break;
        }
        if (errno != ENOENT) {
            return err_set(ei, ERR_INVALID, "cannot resolve path \"%.300s\": %s", path,
                           ERR_ERRNO(errno));
        }
        if (slash == anc) {
            return outside(path, ei);
        }
    }
    if (!inside_roots(st, real)) {
        return outside(path, ei);
    }
    struct stat sb;
    if (stat(real, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        return err_set(ei, ERR_INVALID, "cannot create \"%.300s\": a parent is not a directory",
                       path);
    }
    const char *tail = abs + tail_at; /* "/rest/of/path" */
    size_t rl = strlen(real);
    if (rl == 1) {
        rl = 0; /* root "/" */
    }
    if (rl + strlen(tail) + 1 > cap) {
        return err_set(ei, ERR_TOO_LARGE, "path \"%.200s\" too long", path);
    }
    memcpy(out, real, rl);
    memcpy(out + rl, tail, strlen(tail) + 1);
    return ERR_OK;
}

/* Create the missing parent directories of @p path (already confined), re-checking each
 * created level against the roots so a concurrently planted symlink cannot redirect us. */
static enum err make_parents(struct storage *st, const char *path, struct err_info *ei)
{
    char dir[STORAGE_PATH_MAX];
    (void)str_copy(dir, sizeof dir, path);
    char *last = strrchr(dir, '/');
    if (!last || last == dir) {
        return ERR_OK;
    }
    *last = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char save = *p;
            *p = '\0';
            if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
                return err_set(ei, ERR_IO, "could not create directory \"%s\": %s", dir,
                               ERR_ERRNO(errno));
            }
            char real[PATH_MAX];
            if (!realpath(dir, real)) {
                return err_set(ei, ERR_IO, "could not resolve directory \"%s\": %s", dir,
                               ERR_ERRNO(errno));
            }
            /* levels above the root are outside it by construction; check once inside */
            bool is_prefix_of_root = false;
            for (size_t i = 0; i < st->n_roots; i++) {
                if (under_root(real, st->roots[i])) {
                    is_prefix_of_root = true;
                }
            }
            if (!is_prefix_of_root && !inside_roots(st, real)) {
                return outside(dir, ei);
            }
            *p = save;
            if (save == '\0') {
                break;
            }
        }
    }
    return ERR_OK;
}

/* Copy @p src_fd (or @p data) into a temporary beside @p dest and rename it into place
 * (core/atomic_file: a unique O_EXCL temporary, fsync of the file and of the directory). */
static enum err atomic_write(const char *dest, int src_fd, const void *data, size_t len,
                             uint64_t max, enum storage_sum sum, const char *expect,
                             const struct storage_xfer_opts *opts, struct storage_stat *sst,
                             struct err_info *ei)
{
    struct atomic_file af;
    unsigned char *chunk = NULL;
    enum httpc_sum alg = storage__sum_for(sum, expect);
    char hex[HTTPC_SUM_HEX_MAX] = "";

    enum err e = atomic_file_open_replace(&af, dest, ei);
    if (e != ERR_OK) {
        return e;
    }
    uint64_t total = 0;
    uint64_t src_size = 0;
    struct stat ssb;
    if (src_fd >= 0 && fstat(src_fd, &ssb) == 0 && S_ISREG(ssb.st_mode)) {
        src_size = (uint64_t)ssb.st_size;
    }
    if (src_fd >= 0) {
        chunk = malloc(STORAGE__COPY_CHUNK);
        if (!chunk) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
            goto out;
        }
        for (;;) {
            ssize_t n = read(src_fd, chunk, STORAGE__COPY_CHUNK);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                e = err_set(ei, ERR_IO, "could not read the source of \"%s\": %s", dest,
                            ERR_ERRNO(errno));
                goto out;
            }
            if (n == 0) {
                break;
            }
            total += (uint64_t)n;
            if (total > max) {
                e = err_set(ei, ERR_TOO_LARGE, "source of \"%s\" exceeds the limit of %llu bytes",
                            dest, (unsigned long long)max);
                goto out;
            }
            e = atomic_file_write(&af, chunk, (size_t)n, ei);
            if (e != ERR_OK) {
                goto out;
            }
            if (opts->progress && !opts->progress(opts->progress_ud, total, src_size)) {
                e = err_set(ei, ERR_CANCELLED, "copy to \"%s\" was cancelled", dest);
                goto out;
            }
        }
    } else {
        total = len;
        if (total > max) {
            e = err_set(ei, ERR_TOO_LARGE, "data for \"%s\" exceeds the limit of %llu bytes",
                        dest, (unsigned long long)max);
            goto out;
        }
        e = atomic_file_write(&af, data, len, ei);
        if (e != ERR_OK) {
            goto out;
        }
        if (opts->progress && !opts->progress(opts->progress_ud, total, total)) {
            e = err_set(ei, ERR_CANCELLED, "write of \"%s\" was cancelled", dest);
            goto out;
        }
    }
    if (alg != HTTPC_SUM_NONE) {
        e = httpc_sum_file(alg, af.tmp, 0, 0, hex, ei);
        if (e != ERR_OK) {
            goto out;
        }
        if (expect && strcasecmp(expect, hex) != 0) {
            e = err_set(ei, ERR_CHECKSUM, "checksum mismatch for \"%s\": expected %s, got %s",
                        dest, expect, hex);
            goto out;
        }
    }
    e = atomic_file_commit(&af, true, ei);
    if (e != ERR_OK) {
        goto out;
    }
    sst->size = total;
    (void)str_copy(sst->sum_hex, sizeof sst->sum_hex, hex);
out:
    free(chunk);
    atomic_file_abort(&af);
    return e;
}

static enum err open_confined(struct storage *st, const struct storage_uri *u, int *fd_out,
                              struct stat *sb, char *real, size_t cap, struct err_info *ei)
{
    enum err e = storage__confine(st, u->path, false, real, cap, ei);
    if (e != ERR_OK) {
        return e;
    }
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return err_set(ei, errno == ENOENT ? ERR_NOT_FOUND : ERR_IO,
                       "could not open file \"%s\": %s", u->path, ERR_ERRNO(errno));
    }
    if (fstat(fd, sb) != 0 || !S_ISREG(sb->st_mode)) {
        close(fd);
        return err_set(ei, ERR_INVALID, "\"%s\" is not a regular file", u->path);
    }
    *fd_out = fd;
    return ERR_OK;
}

enum err storage__file_get(struct storage *st, const struct storage_uri *u, const char *dest,
                           struct buf *mem, size_t mem_max, const struct storage_xfer_opts *opts,
                           struct storage_stat *sst, struct err_info *ei)
{
    char real[STORAGE_PATH_MAX];
    struct stat sb;
    int fd = -1;
    enum err e = open_confined(st, u, &fd, &sb, real, sizeof real, ei);
    if (e != ERR_OK) {
        return e;
    }
    sst->mtime_ns = mtime_ns(&sb);
    if (dest) {
        e = atomic_write(dest, fd, NULL, 0, st->max_object, opts->sum, opts->expect_sum, opts,
                         sst, ei);
        goto out;
    }
    uint64_t cap = mem_max < st->max_object ? mem_max : st->max_object;
    if ((uint64_t)sb.st_size > cap) {
        e = err_set(ei, ERR_TOO_LARGE, "file \"%s\" (%lld bytes) exceeds the limit of %llu bytes",
                    u->path, (long long)sb.st_size, (unsigned long long)cap);
        goto out;
    }
    size_t start = mem->len;
    e = buf_reserve(mem, (size_t)sb.st_size);
    if (e != ERR_OK) {
        e = err_set(ei, e, "no room in memory for file \"%s\"", u->path);
        goto out;
    }
    size_t got = 0;
    while (got < (size_t)sb.st_size) {
        ssize_t n = read(fd, mem->data + start + got, (size_t)sb.st_size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            e = err_set(ei, ERR_IO, "could not read file \"%s\": %s", u->path,
                        n < 0 ? ERR_ERRNO(errno) : "file shrank while reading");
            goto out;
        }
        got += (size_t)n;
    }
    enum httpc_sum alg = storage__sum_for(opts->sum, opts->expect_sum);
    if (alg != HTTPC_SUM_NONE) {
        e = httpc_sum_mem(alg, mem->data + start, got, sst->sum_hex, ei);
        if (e != ERR_OK) {
            goto out;
        }
        if (opts->expect_sum && strcasecmp(opts->expect_sum, sst->sum_hex) != 0) {
            e = err_set(ei, ERR_CHECKSUM, "checksum mismatch for \"%s\": expected %s, got %s",
                        u->path, opts->expect_sum, sst->sum_hex);
            goto out;
        }
    }
    mem->len = start + got;
    mem->data[mem->len] = '\0';
    sst->size = got;
out:
    if (e != ERR_OK && mem && mem->data) {
        mem->data[mem->len] = '\0';
    }
    close(fd);
    return e;
}

enum err storage__file_put(struct storage *st, const struct storage_uri *u, const char *src,
                           const void *data, size_t len, const struct storage_xfer_opts *opts,
                           struct storage_stat *sst, struct err_info *ei)
{
    char dest[STORAGE_PATH_MAX];
    int fd = -1;
    enum err e = storage__confine(st, u->path, true, dest, sizeof dest, ei);
    if (e != ERR_OK) {
        return e;
    }
    struct stat sb;
    if (lstat(dest, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        return err_set(ei, ERR_CONFLICT, "cannot write \"%s\": it is a directory", u->path);
    }
    e = make_parents(st, dest, ei);
    if (e != ERR_OK) {
        return e;
    }
    if (src) {
        fd = open(src, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            return err_set(ei, ERR_IO, "could not open file \"%s\": %s", src, ERR_ERRNO(errno));
        }
    }
    e = atomic_write(dest, fd, data, len, UINT64_MAX, opts->sum, NULL, opts, sst, ei);
    if (fd >= 0) {
        close(fd);
    }
    struct stat after;
    if (e == ERR_OK && stat(dest, &after) == 0) {
        sst->mtime_ns = mtime_ns(&after);
    }
    return e;
}

enum err storage__file_head(struct storage *st, const struct storage_uri *u,
                            struct storage_stat *sst, struct err_info *ei)
{
    char real[STORAGE_PATH_MAX];
    enum err e = storage__confine(st, u->path, false, real, sizeof real, ei);
    if (e != ERR_OK) {
        return e;
    }
    struct stat sb;
    if (stat(real, &sb) != 0) {
        return err_set(ei, errno == ENOENT ? ERR_NOT_FOUND : ERR_IO,
                       "could not stat file \"%s\": %s", u->path, ERR_ERRNO(errno));
    }
    if (!S_ISREG(sb.st_mode)) {
        return err_set(ei, ERR_INVALID, "\"%s\" is not a regular file", u->path);
    }
    sst->size = (uint64_t)sb.st_size;
    sst->mtime_ns = mtime_ns(&sb);
    return ERR_OK;
}

enum err storage__file_delete(struct storage *st, const struct storage_uri *u,
                              struct err_info *ei)
{
    /* confine the parent, not the target: removing a symlink that points out is allowed */
    char parent_uri[STORAGE_PATH_MAX];
    char dest[STORAGE_PATH_MAX];
    (void)str_copy(parent_uri, sizeof parent_uri, u->path);
    char *slash = strrchr(parent_uri, '/');
    const char *base = slash ? slash + 1 : parent_uri;
    if (!base[0] || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        return err_set(ei, ERR_INVALID, "cannot delete \"%s\": not a file name", u->path);
    }
    char name[NAME_MAX + 1];
    if (!str_copy(name, sizeof name, base)) {
        return err_set(ei, ERR_INVALID, "file name too long in \"%s\"", u->path);
    }
    if (slash) {
        slash[slash == parent_uri ? 1 : 0] = '\0';
    } else {
        (void)str_copy(parent_uri, sizeof parent_uri, ".");
    }
    enum err e = storage__confine(st, parent_uri, false, dest, sizeof dest, ei);
    if (e == ERR_NOT_FOUND) {
        err_info_clear(ei);
        return ERR_OK;
    }
    if (e != ERR_OK) {
        return e;
    }
    size_t dl = strlen(dest);
    if (dl + 1 + strlen(name) + 1 > sizeof dest) {
        return err_set(ei, ERR_TOO_LARGE, "path too long");
    }
    dest[dl] = '/';
    memcpy(dest + dl + 1, name, strlen(name) + 1);
    if (!inside_roots(st, dest)) {
        return outside(u->path, ei);
    }
    struct stat sb;
    if (lstat(dest, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        return err_set(ei, ERR_CONFLICT, "cannot delete \"%s\": it is a directory", u->path);
    }
    if (unlink(dest) != 0 && errno != ENOENT) {
        return err_set(ei, ERR_IO, "could not delete \"%s\": %s", u->path, ERR_ERRNO(errno));
    }
    return ERR_OK;
}

/* ---- listing ---------------------------------------------------------------------------- */

struct flist {
    char **rel;        /* relative paths, owned */
    uint64_t *size;
    int64_t *mtime;
    size_t n, cap;
};

static void flist_free(struct flist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->rel[i]);
    }
    free(l->rel);
    free(l->size);
    free(l->mtime);
}

static enum err flist_add(struct flist *l, const char *rel, const struct stat *sb,
                          struct err_info *ei)
{
    if (l->n >= STORAGE_LIST_MAX) {
        return err_set(ei, ERR_TOO_LARGE, "listing has more than %d entries", STORAGE_LIST_MAX);
    }
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        char **r = realloc(l->rel, nc * sizeof *r);
        if (r) {
            l->rel = r;
        }
        uint64_t *s = realloc(l->size, nc * sizeof *s);
        if (s) {
            l->size = s;
        }
        int64_t *m = realloc(l->mtime, nc * sizeof *m);
        if (m) {
            l->mtime = m;
        }
        if (!r || !s || !m) {
            return err_set(ei, ERR_NOMEM, "out of memory while listing");
        }
        l->cap = nc;
    }
    char *d = str_dup(rel);
    if (!d) {
        return err_set(ei, ERR_NOMEM, "out of memory while listing");
    }
    l->rel[l->n] = d;
    l->size[l->n] = (uint64_t)sb->st_size;
    l->mtime[l->n] = mtime_ns(sb);
    l->n++;
    return ERR_OK;
}

/* Could something under directory @p rel ("a/b") match @p prefix? */
static bool dir_may_match(const char *rel, const char *prefix)
{
    size_t rl = strlen(rel);
    size_t pl = strlen(prefix);
    if (pl <= rl) {
        return strncmp(rel, prefix, pl) == 0;
    }
    return strncmp(prefix, rel, rl) == 0 && prefix[rl] == '/';
}

/* Called per regular file found by the walker: @p rel its path relative to the top
 * directory, @p sb its lstat. Non-OK stops the walk. */
typedef enum err (*fwalk_fn)(void *ud, const char *rel, const struct stat *sb,
                             struct err_info *ei);

/* One directory walker for storage_list (which collects and sorts) and storage_walk (which
 * streams): directories are opened relative to their parent's descriptor without following
 * symlinks, so nothing is held but one open directory per level and one relative path. */
struct fwalk {
    const char *base;   /* real path of the top directory (for messages) */
    const char *prefix; /* relative paths must start with this ("" = all) */
    bool recursive;
    fwalk_fn fn;
    void *ud;
    char rel[STORAGE_PATH_MAX]; /* relative path of the entry being looked at */
};

/* Walk the directory open at @p fd (taken over: closed here), whose relative path is
 * w->rel[0..rl). */
static enum err fwalk_dir(struct fwalk *w, int fd, size_t rl, int depth, struct err_info *ei)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        int saved = errno;
        close(fd);
        return err_set(ei, ERR_IO, "could not read directory \"%s/%s\": %s", w->base, w->rel,
                       ERR_ERRNO(saved));
    }
    enum err e = ERR_OK;
    struct dirent *de;
    for (;;) {
        errno = 0;
        de = readdir(d);
        if (!de) {
            if (errno != 0) {
                w->rel[rl] = '\0';
                e = err_set(ei, ERR_IO, "could not read directory \"%s/%s\": %s", w->base,
                            w->rel, ERR_ERRNO(errno));
            }
            break;
        }
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
            continue;
        }
        if (name[0] == '.' && strstr(name, ".part.")) {
            continue; /* our own temporaries: not objects yet */
        }
        size_t nl = strlen(name);
        size_t at = rl ? rl + 1 : 0;
        if (at + nl + 1 > sizeof w->rel) {
            w->rel[rl] = '\0';
            e = err_set(ei, ERR_TOO_LARGE, "path too long under \"%s/%s\"", w->base, w->rel);
            break;
        }
        if (rl) {
            w->rel[rl] = '/';
        }
        memcpy(w->rel + at, name, nl + 1);
        struct stat sb;
        if (fstatat(dirfd(d), name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            w->rel[rl] = '\0';
            continue; /* vanished meanwhile */
        }
        if (S_ISDIR(sb.st_mode)) {
            if (w->recursive && dir_may_match(w->rel, w->prefix)) {
                if (depth + 1 > STORAGE_LIST_DEPTH_MAX) {
                    e = err_set(ei, ERR_TOO_LARGE,
                                "directory tree under \"%s\" is deeper than %d levels", w->base,
                                STORAGE_LIST_DEPTH_MAX);
                    break;
                }
                int cfd = openat(dirfd(d), name,
                                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (cfd >= 0) {
                    e = fwalk_dir(w, cfd, at + nl, depth + 1, ei);
                } else if (errno != ENOENT && errno != ELOOP && errno != ENOTDIR) {
                    e = err_set(ei, ERR_IO, "could not open directory \"%s/%s\": %s", w->base,
                                w->rel, ERR_ERRNO(errno));
                } /* else replaced or removed meanwhile: skipped */
            }
        } else if (S_ISREG(sb.st_mode) &&
                   strncmp(w->rel, w->prefix, strlen(w->prefix)) == 0) {
            e = w->fn(w->ud, w->rel, &sb, ei);
        }
        w->rel[rl] = '\0';
        if (e != ERR_OK) {
            break;
        }
    }
    closedir(d);
    return e;
}

/* Walk the confined directory @p base (a real path). */
static enum err fwalk_run(const char *base, const char *prefix, bool recursive, fwalk_fn fn,
                          void *ud, struct err_info *ei)
{
    struct fwalk *w = malloc(sizeof *w);
    if (!w) {
        return err_set(ei, ERR_NOMEM, "out of memory while listing");
    }
    w->base = base;
    w->prefix = prefix;
    w->recursive = recursive;
    w->fn = fn;
    w->ud = ud;
    w->rel[0] = '\0';
    enum err e = ERR_OK;
    int fd = open(base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        e = err_set(ei, errno == ENOENT ? ERR_NOT_FOUND : ERR_IO,
                    "could not open directory \"%s\": %s", base, ERR_ERRNO(errno));
    } else {
        e = fwalk_dir(w, fd, 0, 0, ei);
    }
    free(w);
    return e;
}

static enum err flist_cb(void *ud, const char *rel, const struct stat *sb, struct err_info *ei)
{
    return flist_add(ud, rel, sb, ei);
}

static int cmp_idx(const void *a, const void *b, void *ctx)
{
    char **rel = ctx;
    return strcmp(rel[*(const size_t *)a], rel[*(const size_t *)b]);
}

/* qsort_r is a GNU/BSD extension; sort indices with a small merge sort instead. */
static void sort_idx(size_t *idx, size_t *tmp, size_t n, char **rel)
{
    if (n < 2) {
        return;
    }
    size_t h = n / 2;
    sort_idx(idx, tmp, h, rel);
    sort_idx(idx + h, tmp, n - h, rel);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        tmp[k++] = cmp_idx(&idx[i], &idx[j], rel) <= 0 ? idx[i++] : idx[j++];
    }
    while (i < h) {
        tmp[k++] = idx[i++];
    }
    while (j < n) {
        tmp[k++] = idx[j++];
    }
    memcpy(idx, tmp, n * sizeof *idx);
}

enum err storage__file_list(struct storage *st, const struct storage_uri *u,
                            storage_list_fn fn, void *ud, struct err_info *ei)
{
    enum err e = ERR_OK;
    struct flist l = {0};
    size_t *idx = NULL;
    size_t *tmp = NULL;
    char dirpart[STORAGE_PATH_MAX];
    char base[STORAGE_PATH_MAX];
    const char *prefix;

    (void)str_copy(dirpart, sizeof dirpart, u->path);
    size_t len = strlen(dirpart);
    if (len > 0 && dirpart[len - 1] == '/') {
        prefix = "";
    } else {
        char *slash = strrchr(dirpart, '/');
        if (slash) {
            prefix = u->path + (slash - dirpart) + 1;
            slash[slash == dirpart ? 1 : 0] = '\0';
        } else {
            prefix = u->path;
            (void)str_copy(dirpart, sizeof dirpart, ".");
        }
    }
    e = storage__confine(st, dirpart, false, base, sizeof base, ei);
    if (e != ERR_OK) {
        goto out;
    }
    struct stat sb;
    if (stat(base, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        e = err_set(ei, ERR_NOT_FOUND, "\"%s\" is not a directory", dirpart);
        goto out;
    }
    e = fwalk_run(base, prefix, true, flist_cb, &l, ei);
    if (e != ERR_OK) {
        goto out;
    }
    idx = malloc((l.n + 1) * sizeof *idx);
    tmp = malloc((l.n + 1) * sizeof *tmp);
    if (!idx || !tmp) {
        e = err_set(ei, ERR_NOMEM, "out of memory while listing");
        goto out;
    }
    for (size_t i = 0; i < l.n; i++) {
        idx[i] = i;
    }
    sort_idx(idx, tmp, l.n, l.rel);
    for (size_t i = 0; i < l.n; i++) {
        size_t k = idx[i];
        char uri[STORAGE_PATH_MAX * 2 + 8];
        (void)snprintf(uri, sizeof uri, "file:%s/%s", strcmp(base, "/") == 0 ? "" : base,
                       l.rel[k]);
        struct storage_stat s;
        memset(&s, 0, sizeof s);
        s.size = l.size[k];
        s.mtime_ns = l.mtime[k];
        e = fn(ud, uri, &s);
        if (e != ERR_OK) {
            goto out;
        }
    }
out:
    free(idx);
    free(tmp);
    flist_free(&l);
    return e;
}

/* ---- walk (streaming) ------------------------------------------------------------------- */

struct fstream {
    storage_list_fn fn;
    void *ud;
    size_t count;
    size_t base_len;                    /* "file:" + base (without a trailing "/") */
    char uri[STORAGE_PATH_MAX * 2 + 8]; /* "file:BASE/" then the relative path */
};

static enum err fstream_cb(void *ud, const char *rel, const struct stat *sb,
                           struct err_info *ei)
{
    struct fstream *f = ud;
    if (++f->count > STORAGE_WALK_MAX) {
        return err_set(ei, ERR_TOO_LARGE, "directory walk has more than %d entries",
                       STORAGE_WALK_MAX);
    }
    size_t rl = strlen(rel);
    if (f->base_len + rl + 1 > sizeof f->uri) {
        return err_set(ei, ERR_TOO_LARGE, "path too long: \"%.200s\"", rel);
    }
    memcpy(f->uri + f->base_len, rel, rl + 1);
    struct storage_stat s;
    memset(&s, 0, sizeof s);
    s.size = (uint64_t)sb->st_size;
    int64_t m = mtime_ns(sb);
    int64_t c = (int64_t)sb->st_ctim.tv_sec * 1000000000LL + sb->st_ctim.tv_nsec;
    s.mtime_ns = c > m ? c : m;
    return f->fn(f->ud, f->uri, &s);
}

enum err storage__file_walk(struct storage *st, const struct storage_uri *u, bool recursive,
                            storage_list_fn fn, void *ud, struct err_info *ei)
{
    char base[STORAGE_PATH_MAX];
    enum err e = storage__confine(st, u->path, false, base, sizeof base, ei);
    if (e != ERR_OK) {
        return e;
    }
    struct stat sb;
    if (stat(base, &sb) != 0) {
        return err_set_field(ei, errno == ENOENT ? ERR_NOT_FOUND : ERR_IO, "uri",
                             "could not stat \"%.300s\": %s", u->path, ERR_ERRNO(errno));
    }
    if (!S_ISDIR(sb.st_mode)) {
        return err_set_field(ei, ERR_INVALID, "uri", "\"%.300s\" is not a directory", u->path);
    }
    struct fstream *f = malloc(sizeof *f);
    if (!f) {
        return err_set(ei, ERR_NOMEM, "out of memory while walking");
    }
    f->fn = fn;
    f->ud = ud;
    f->count = 0;
    int n = snprintf(f->uri, sizeof f->uri, "file:%s/", strcmp(base, "/") == 0 ? "" : base);
    f->base_len = n > 0 ? (size_t)n : 0;
    e = fwalk_run(base, "", recursive, fstream_cb, f, ei);
    free(f);
    return e;
}
