/* storage.c - the storage handle: configuration (roots, S3, archive template, limits), the
 * AWS_* environment helper, and dispatch of each operation to its back end by URI scheme.
 * SPDX-License-Identifier: Apache-2.0 */
#include "storage/storage.h"
#include "storage/storage_int.h"

#include "core/str.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static enum err copy_field(char *dst, size_t cap, const char *src, const char *name,
                           struct err_info *ei)
{
    if (!src) {
        dst[0] = '\0';
        return ERR_OK;
    }
    if (!str_copy(dst, cap, src)) {
        return err_set_field(ei, ERR_INVALID, name, "%s is longer than %zu bytes", name,
                             cap - 1);
    }
    return ERR_OK;
}

static const char *nonempty(const char *s)
{
    return s && s[0] ? s : NULL;
}

static bool endpoint_ok(const char *e)
{
    return strncasecmp(e, "http://", 7) == 0 || strncasecmp(e, "https://", 8) == 0;
}

enum err storage_s3_config_from_env(storage_env_fn env, struct storage_s3_config *out,
                                    struct err_info *ei)
{
    struct storage_s3_config c;
    memset(&c, 0, sizeof c);
    const char *ak = nonempty(env("AWS_ACCESS_KEY_ID"));
    const char *sk = nonempty(env("AWS_SECRET_ACCESS_KEY"));
    const char *tok = nonempty(env("AWS_SESSION_TOKEN"));
    const char *region = nonempty(env("AWS_REGION"));
    if (!region) {
        region = nonempty(env("AWS_DEFAULT_REGION"));
    }
    const char *endpoint = nonempty(env("AWS_ENDPOINT_URL_S3"));
    const char *ename = "AWS_ENDPOINT_URL_S3";
    if (!endpoint) {
        endpoint = nonempty(env("AWS_ENDPOINT_URL"));
        ename = "AWS_ENDPOINT_URL";
    }
    if ((ak == NULL) != (sk == NULL)) {
        return err_set_field(ei, ERR_INVALID, ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID",
                             "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
    }
    enum err e;
    if ((e = copy_field(c.access_key_id, sizeof c.access_key_id, ak, "AWS_ACCESS_KEY_ID", ei)) ||
        (e = copy_field(c.secret_access_key, sizeof c.secret_access_key, sk,
                        "AWS_SECRET_ACCESS_KEY", ei)) ||
        (e = copy_field(c.session_token, sizeof c.session_token, tok, "AWS_SESSION_TOKEN", ei)) ||
        (e = copy_field(c.region, sizeof c.region, region ? region : "us-east-1", "AWS_REGION",
                        ei))) {
        return e;
    }
    if (endpoint) {
        if (!endpoint_ok(endpoint)) {
            return err_set_field(ei, ERR_INVALID, ename, "%s \"%.200s\" is not an http(s) URL",
                                 ename, endpoint);
        }
        if ((e = copy_field(c.endpoint_url, sizeof c.endpoint_url, endpoint, ename, ei))) {
            return e;
        }
    }
    *out = c;
    return ERR_OK;
}

void storage_destroy(struct storage *st)
{
    free(st);
}

static enum err add_roots(struct storage *st, const char *list, struct err_info *ei)
{
    const char *p = list;
    while (p && *p) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        if (n > 0) {
            char raw[STORAGE_PATH_MAX];
            if (n >= sizeof raw) {
                return err_set_field(ei, ERR_INVALID, "data_roots", "data root too long");
            }
            memcpy(raw, p, n);
            raw[n] = '\0';
            if (st->n_roots >= STORAGE_MAX_ROOTS) {
                return err_set_field(ei, ERR_INVALID, "data_roots",
                                     "more than %d data roots", STORAGE_MAX_ROOTS);
            }
            char real[PATH_MAX];
            struct stat sb;
            if (!realpath(raw, real) || stat(real, &sb) != 0) {
                return err_set_field(ei, ERR_INVALID, "data_roots",
                                     "data root \"%s\" does not exist: %s", raw,
                                     ERR_ERRNO(errno));
            }
            if (!S_ISDIR(sb.st_mode)) {
                return err_set_field(ei, ERR_INVALID, "data_roots",
                                     "data root \"%s\" is not a directory", raw);
            }
            if (!str_copy(st->roots[st->n_roots], STORAGE_PATH_MAX, real)) {
                return err_set_field(ei, ERR_INVALID, "data_roots", "data root too long");
            }
            st->n_roots++;
        }
        p = colon ? colon + 1 : NULL;
    }
    return ERR_OK;
}

enum err storage_create(const struct storage_config *cfg, struct storage **out,
                        struct err_info *ei)
{
    enum err e = ERR_OK;
    struct storage *st = calloc(1, sizeof *st);
    if (!st) {
        return err_set(ei, ERR_NOMEM, "out of memory for the storage handle");
    }
    e = add_roots(st, cfg->data_roots, ei);
    if (e != ERR_OK) {
        goto out;
    }
    if (cfg->s3) {
        st->s3 = *cfg->s3;
    }
    if (!st->s3.region[0]) {
        (void)str_copy(st->s3.region, sizeof st->s3.region, "us-east-1");
    }
    if (!st->s3.endpoint_url[0]) {
        (void)snprintf(st->s3.endpoint_url, sizeof st->s3.endpoint_url,
                       "https://s3.%s.amazonaws.com", st->s3.region);
    } else if (!endpoint_ok(st->s3.endpoint_url)) {
        e = err_set_field(ei, ERR_INVALID, "endpoint_url",
                          "S3 endpoint \"%.200s\" is not an http(s) URL", st->s3.endpoint_url);
        goto out;
    }
    size_t el = strlen(st->s3.endpoint_url);
    while (el > 0 && st->s3.endpoint_url[el - 1] == '/') {
        st->s3.endpoint_url[--el] = '\0';
    }
    st->s3_signed = st->s3.access_key_id[0] != '\0';
    if (st->s3_signed && !st->s3.secret_access_key[0]) {
        e = err_set_field(ei, ERR_INVALID, "secret_access_key",
                          "an S3 access key id needs a secret access key");
        goto out;
    }
    const char *tpl = cfg->archive_url_template ? cfg->archive_url_template
                                                : STORAGE_DEFAULT_ARCHIVE_TEMPLATE;
    if (!strstr(tpl, "{name}") || !endpoint_ok(tpl)) {
        e = err_set_field(ei, ERR_INVALID, "archive_url_template",
                          "archive URL template \"%.200s\" must be an http(s) URL with {name}",
                          tpl);
        goto out;
    }
    if ((e = copy_field(st->archive_template, sizeof st->archive_template, tpl,
                        "archive_url_template", ei)) ||
        (e = copy_field(st->archive_token, sizeof st->archive_token, cfg->archive_token,
                        "archive_token", ei))) {
        goto out;
    }
    st->max_object = cfg->max_object_size ? cfg->max_object_size : STORAGE_DEFAULT_MAX_OBJECT;
    st->part_size = cfg->part_size ? cfg->part_size : STORAGE_DEFAULT_PART_SIZE;
    if (st->part_size < STORAGE_S3_MIN_PART || st->part_size > STORAGE_S3_MAX_PART) {
        /* the upper bound also keeps the part count arithmetic of a multipart put exact */
        e = err_set_field(ei, ERR_INVALID, "part_size",
                          "multipart part size %llu is outside S3's range of %llu to %llu bytes",
                          (unsigned long long)st->part_size,
                          (unsigned long long)STORAGE_S3_MIN_PART,
                          (unsigned long long)STORAGE_S3_MAX_PART);
        goto out;
    }
    st->multipart_threshold =
        cfg->multipart_threshold ? cfg->multipart_threshold : STORAGE_DEFAULT_MULTIPART_THRESHOLD;
    if (cfg->s3_page_size < 0 || cfg->s3_page_size > STORAGE_S3_PAGE_MAX) {
        e = err_set_field(ei, ERR_INVALID, "s3_page_size", "S3 page size must be 1 to %d",
                          STORAGE_S3_PAGE_MAX);
        goto out;
    }
    st->page_size = cfg->s3_page_size ? cfg->s3_page_size : STORAGE_S3_PAGE_MAX;
    if (cfg->s3_fixed_amz_date) {
        if (strlen(cfg->s3_fixed_amz_date) != 16) {
            e = err_set_field(ei, ERR_INVALID, "s3_fixed_amz_date", "invalid fixed x-amz-date");
            goto out;
        }
        (void)str_copy(st->fixed_amz_date, sizeof st->fixed_amz_date, cfg->s3_fixed_amz_date);
    }
    st->http.connect_timeout_ms = cfg->connect_timeout_ms;
    st->http.total_timeout_ms = cfg->total_timeout_ms;
    st->http.max_attempts = cfg->max_attempts;
    st->http.backoff_ms = cfg->backoff_ms;
out:
    if (e != ERR_OK) {
        free(st);
        return e;
    }
    *out = st;
    return ERR_OK;
}

enum err storage__client(struct storage *st, struct httpc **out, struct err_info *ei)
{
    return httpc_create(&st->http, out, ei);
}

enum httpc_sum storage__sum(enum storage_sum s)
{
    switch (s) {
    case STORAGE_SUM_MD5:
        return HTTPC_SUM_MD5;
    case STORAGE_SUM_SHA256:
        return HTTPC_SUM_SHA256;
    case STORAGE_SUM_NONE:
        break;
    }
    return HTTPC_SUM_NONE;
}

enum httpc_sum storage__sum_for(enum storage_sum s, const char *expect)
{
    enum httpc_sum alg = storage__sum(s);
    if (expect && alg == HTTPC_SUM_NONE) {
        alg = strlen(expect) == 32 ? HTTPC_SUM_MD5 : HTTPC_SUM_SHA256;
    }
    return alg;
}

enum err storage_archive_url(const struct storage *st, const char *name, char *out, size_t cap,
                             struct err_info *ei)
{
    enum err e = ERR_OK;
    struct buf b;
    buf_init(&b, cap > 0 ? cap - 1 : 0);
    struct storage_uri u;
    char tmp[STORAGE_NAME_MAX + 16];
    if (!name) {
        e = err_set_field(ei, ERR_INVALID, "name", "no archive product name given");
        goto out;
    }
    int n = snprintf(tmp, sizeof tmp, "astroquery:%s", name);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        e = err_set_field(ei, ERR_INVALID, "name",
                          "archive product name \"%.64s...\" is longer than %d bytes", name,
                          STORAGE_NAME_MAX);
        goto out;
    }
    e = storage_uri_parse(tmp, &u, ei);
    if (e != ERR_OK) {
        goto out;
    }
    const char *tpl = st->archive_template;
    const char *at;
    while ((at = strstr(tpl, "{name}")) != NULL) {
        if ((e = buf_append(&b, tpl, (size_t)(at - tpl))) != ERR_OK ||
            (e = httpc_url_encode(&b, u.name, false)) != ERR_OK) {
            goto out;
        }
        tpl = at + 6;
    }
    if ((e = buf_puts(&b, tpl)) != ERR_OK) {
        goto out;
    }
    memcpy(out, buf_cstr(&b), b.len + 1);
out:
    if (e == ERR_TOO_LARGE) {
        err_set(ei, e, "archive URL for \"%s\" is longer than %zu bytes", name, cap);
    }
    buf_free(&b);
    return e;
}

/* ---- dispatch ------------------------------------------------------------------------- */

/* Parse @p uri into a new heap record (a struct storage_uri is ~9 KiB: kept off the stack of
 * worker threads). On success *@p out is owned by the caller (free); on failure it is NULL. */
static enum err parse_new(const char *uri, struct storage_uri **out, struct err_info *ei)
{
    *out = NULL;
    if (!uri) {
        return err_set(ei, ERR_INVALID, "no URI given");
    }
    struct storage_uri *u = malloc(sizeof *u);
    if (!u) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    enum err e = storage_uri_parse(uri, u, ei);
    if (e != ERR_OK) {
        free(u);
        return e;
    }
    *out = u;
    return ERR_OK;
}

static enum err read_only(const struct storage_uri *u, const char *uri, struct err_info *ei)
{
    return err_set(ei, ERR_UNSUPPORTED, "cannot write to %s URI \"%.200s\": read-only scheme",
                   storage_scheme_name(u->scheme), uri);
}

static enum err get_any(struct storage *st, const char *uri, const char *dest, struct buf *mem,
                        size_t mem_max, const struct storage_xfer_opts *opts,
                        struct storage_stat *stat, struct err_info *ei)
{
    static const struct storage_xfer_opts none = {0};
    if (!opts) {
        opts = &none;
    }
    struct storage_stat local;
    memset(&local, 0, sizeof local);
    struct storage_uri *u = NULL;
    enum err e = parse_new(uri, &u, ei);
    if (e == ERR_OK) {
        switch (u->scheme) {
        case STORAGE_FILE:
            e = storage__file_get(st, u, dest, mem, mem_max, opts, &local, ei);
            break;
        case STORAGE_S3:
            e = storage__s3_get(st, u, dest, mem, mem_max, opts, &local, ei);
            break;
        case STORAGE_HTTP:
        case STORAGE_HTTPS:
            e = storage__http_get(st, u->url, NULL, dest, mem, mem_max, opts, &local, ei);
            break;
        case STORAGE_ASTROQUERY: {
            char url[STORAGE_URI_MAX];
            e = storage_archive_url(st, u->name, url, sizeof url, ei);
            if (e == ERR_OK) {
                e = storage__http_get(st, url, st->archive_token[0] ? st->archive_token : NULL,
                                      dest, mem, mem_max, opts, &local, ei);
            }
            break;
        }
        }
    }
    free(u);
    if (e == ERR_OK && stat) {
        *stat = local;
    }
    return e;
}

enum err storage_get_file(struct storage *st, const char *uri, const char *dest_path,
                          const struct storage_xfer_opts *opts, struct storage_stat *stat,
                          struct err_info *ei)
{
    if (!dest_path || !dest_path[0]) {
        return err_set(ei, ERR_INVALID, "no destination path given");
    }
    return get_any(st, uri, dest_path, NULL, 0, opts, stat, ei);
}

enum err storage_get_mem(struct storage *st, const char *uri, size_t max, struct buf *out,
                         const struct storage_xfer_opts *opts, struct storage_stat *stat,
                         struct err_info *ei)
{
    return get_any(st, uri, NULL, out, max, opts, stat, ei);
}

/* file: bytes [off, off + len) of a confined file, with its size. */
static enum err file_range(struct storage *st, const char *uri, uint64_t off, size_t len,
                           struct buf *mem, struct storage_stat *stat, struct err_info *ei)
{
    char path[STORAGE_PATH_MAX];
    enum err e = storage_local_path(st, uri, false, path, sizeof path, ei);
    if (e != ERR_OK) {
        return e;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        e = err_set(ei, fd < 0 && errno == ENOENT ? ERR_NOT_FOUND : ERR_IO,
                    "cannot read \"%s\"", uri);
        goto out;
    }
    stat->size = (uint64_t)sb.st_size;
    stat->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
    uint64_t end = off >= stat->size ? off : (stat->size - off < len ? stat->size : off + len);
    char chunk[65536];
    for (uint64_t at = off; at < end && e == ERR_OK;) {
        size_t want = end - at < sizeof chunk ? (size_t)(end - at) : sizeof chunk;
        ssize_t r = pread(fd, chunk, want, (off_t)at);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            e = err_set(ei, ERR_IO, "read error in \"%s\" at byte %llu", uri,
                        (unsigned long long)at);
            break;
        }
        e = buf_append(mem, chunk, (size_t)r);
        at += (uint64_t)r;
    }
out:
    if (fd >= 0) {
        close(fd);
    }
    return e;
}

enum err storage_get_range(struct storage *st, const char *uri, uint64_t off, size_t len,
                           struct buf *out, struct storage_stat *stat, struct err_info *ei)
{
    struct storage_stat local;
    memset(&local, 0, sizeof local);
    if (len == 0 || off > UINT64_MAX - len) {
        return err_set(ei, ERR_INVALID, "empty or overflowing byte range");
    }
    struct storage_uri *u = NULL;
    enum err e = parse_new(uri, &u, ei);
    if (e == ERR_OK) {
        switch (u->scheme) {
        case STORAGE_FILE:
            e = file_range(st, uri, off, len, out, &local, ei);
            break;
        case STORAGE_S3:
            e = storage__s3_get_range(st, u, off, len, out, &local, ei);
            break;
        case STORAGE_HTTP:
        case STORAGE_HTTPS:
            e = storage__http_get_range(st, u->url, NULL, off, len, out, &local, ei);
            break;
        case STORAGE_ASTROQUERY: {
            char url[STORAGE_URI_MAX];
            e = storage_archive_url(st, u->name, url, sizeof url, ei);
            if (e == ERR_OK) {
                e = storage__http_get_range(st, url,
                                            st->archive_token[0] ? st->archive_token : NULL,
                                            off, len, out, &local, ei);
            }
            break;
        }
        }
    }
    free(u);
    if (e == ERR_OK && stat) {
        *stat = local;
    }
    return e;
}

static enum err put_any(struct storage *st, const char *uri, const char *src, const void *data,
                        size_t len, const struct storage_xfer_opts *opts,
                        struct storage_stat *stat, struct err_info *ei)
{
    static const struct storage_xfer_opts none = {0};
    if (!opts) {
        opts = &none;
    }
    struct storage_stat local;
    memset(&local, 0, sizeof local);
    struct storage_uri *u = NULL;
    enum err e = parse_new(uri, &u, ei);
    if (e == ERR_OK) {
        switch (u->scheme) {
        case STORAGE_FILE:
            e = storage__file_put(st, u, src, data, len, opts, &local, ei);
            break;
        case STORAGE_S3:
            e = storage__s3_put(st, u, src, data, len, opts, &local, ei);
            break;
        default:
            e = read_only(u, uri, ei);
            break;
        }
    }
    free(u);
    if (e == ERR_OK && stat) {
        *stat = local;
    }
    return e;
}

enum err storage_put_file(struct storage *st, const char *uri, const char *src_path,
                          const struct storage_xfer_opts *opts, struct storage_stat *stat,
                          struct err_info *ei)
{
    if (!src_path || !src_path[0]) {
        return err_set(ei, ERR_INVALID, "no source path given");
    }
    return put_any(st, uri, src_path, NULL, 0, opts, stat, ei);
}

enum err storage_put_mem(struct storage *st, const char *uri, const void *data, size_t len,
                         const struct storage_xfer_opts *opts, struct storage_stat *stat,
                         struct err_info *ei)
{
    if (!data && len > 0) {
        return err_set(ei, ERR_INVALID, "no data given");
    }
    return put_any(st, uri, NULL, data ? data : "", len, opts, stat, ei);
}

enum err storage_head(struct storage *st, const char *uri, struct storage_stat *stat,
                      struct err_info *ei)
{
    struct storage_stat local;
    memset(&local, 0, sizeof local);
    struct storage_uri *u = NULL;
    enum err e = parse_new(uri, &u, ei);
    if (e == ERR_OK) {
        switch (u->scheme) {
        case STORAGE_FILE:
            e = storage__file_head(st, u, &local, ei);
            break;
        case STORAGE_S3:
            e = storage__s3_head(st, u, &local, ei);
            break;
        case STORAGE_HTTP:
        case STORAGE_HTTPS:
            e = storage__http_head(st, u->url, NULL, &local, ei);
            break;
        case STORAGE_ASTROQUERY: {
            char url[STORAGE_URI_MAX];
            e = storage_archive_url(st, u->name, url, sizeof url, ei);
            if (e == ERR_OK) {
                e = storage__http_head(st, url,
                                       st->archive_token[0] ? st->archive_token : NULL, &local,
                                       ei);
            }
            break;
        }
        }
    }
    free(u);
    if (e == ERR_OK && stat) {
        *stat = local;
    }
    return e;
}

enum err storage_delete(struct storage *st, const char *uri, struct err_info *ei)
{
    struct storage_uri *u = NULL;
    enum err e = parse_new(uri, &u, ei);
    if (e == ERR_OK) {
        switch (u->scheme) {
        case STORAGE_FILE:
            e = storage__file_delete(st, u, ei);
            break;
        case STORAGE_S3:
            e = storage__s3_delete(st, u, ei);
            break;
        default:
            e = read_only(u, uri, ei);
            break;
        }
    }
    free(u);
    return e;
}

enum err storage_list(struct storage *st, const char *prefix_uri, storage_list_fn fn, void *ud,
                      struct err_info *ei)
{
    struct storage_uri *u = NULL;
    enum err e = parse_new(prefix_uri, &u, ei);
    if (e == ERR_OK) {
        switch (u->scheme) {
        case STORAGE_FILE:
            e = storage__file_list(st, u, fn, ud, ei);
            break;
        case STORAGE_S3:
            e = storage__s3_list(st, u, fn, ud, ei);
            break;
        default:
            e = err_set(ei, ERR_UNSUPPORTED, "cannot list %s URI \"%.200s\"",
                        storage_scheme_name(u->scheme), prefix_uri);
            break;
        }
    }
    free(u);
    return e;
}

enum err storage_walk(struct storage *st, const char *source_uri,
                      const struct storage_walk_opts *opts, storage_list_fn fn, void *ud,
                      struct err_info *ei)
{
    static const struct storage_walk_opts none = {0};
    if (!opts) {
        opts = &none;
    }
    struct storage_uri *u = NULL;
    enum err e = parse_new(source_uri, &u, ei);
    if (e == ERR_OK) {
        switch (u->scheme) {
        case STORAGE_FILE:
            e = storage__file_walk(st, u, opts->recursive, fn, ud, ei);
            break;
        case STORAGE_S3:
            e = storage__s3_walk(st, u, opts->recursive, fn, ud, ei);
            break;
        case STORAGE_HTTP:
        case STORAGE_HTTPS:
            e = storage__http_walk(st, u->url, opts->scratch_dir, fn, ud, ei);
            break;
        case STORAGE_ASTROQUERY:
            e = err_set(ei, ERR_UNSUPPORTED, "cannot walk %s URI \"%.200s\"",
                        storage_scheme_name(u->scheme), source_uri);
            break;
        }
    }
    free(u);
    return e;
}

enum err storage_make_bucket(struct storage *st, const char *uri, struct err_info *ei)
{
    struct storage_uri *u = NULL;
    enum err e = parse_new(uri, &u, ei);
    if (e == ERR_OK) {
        if (u->scheme != STORAGE_S3) {
            e = err_set(ei, ERR_UNSUPPORTED, "\"%.200s\" is not an S3 URI", uri);
        } else {
            e = storage__s3_make_bucket(st, u, ei);
        }
    }
    free(u);
    return e;
}

enum err storage_local_path(struct storage *st, const char *uri, bool for_write, char *out,
                            size_t cap, struct err_info *ei)
{
    struct storage_uri *u = NULL;
    enum err e = parse_new(uri, &u, ei);
    if (e == ERR_OK) {
        if (u->scheme != STORAGE_FILE) {
            e = err_set(ei, ERR_INVALID, "\"%.200s\" is not a file URI", uri);
        } else {
            e = storage__confine(st, u->path, for_write, out, cap, ei);
        }
    }
    free(u);
    return e;
}
