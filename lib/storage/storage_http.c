/* storage_http.c - http(s) and astroquery (archive template) reads through lib/httpc:
 * downloads to a file (atomic) or memory, with the size cap and digest on arrival.
 * SPDX-License-Identifier: Apache-2.0 */
#include "storage/storage.h"
#include "storage/storage_int.h"

#include "core/str.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STORAGE__WALK_CHUNK ((size_t)64 << 10) /* bytes read from the scratch file at once */

void storage__stat_from_headers(const struct httpc_response *rs, struct storage_stat *stat)
{
    const char *cl = httpc_response_header(rs, "Content-Length");
    int64_t n = 0;
    if (cl && str_to_i64(cl, 0, INT64_MAX, &n) == ERR_OK) {
        stat->size = (uint64_t)n;
    }
    const char *etag = httpc_response_header(rs, "ETag");
    if (etag) {
        storage__etag_copy(stat->etag, sizeof stat->etag, etag);
    }
    const char *lm = httpc_response_header(rs, "Last-Modified");
    int64_t t = lm ? httpc_parse_date(lm) : -1;
    stat->mtime_ns = t > 0 ? t * 1000000000LL : 0;
}

enum err storage__range_finish(const struct httpc_response *rs, uint64_t off, size_t len,
                               struct buf *mem, struct storage_stat *stat, const char *what,
                               struct err_info *ei)
{
    const char *data = rs->body.data ? rs->body.data : "";
    size_t n = rs->body.len;
    uint64_t total = n;
    if (rs->status == 206) {
        /* Content-Range: bytes FIRST-LAST/TOTAL */
        const char *cr = httpc_response_header(rs, "Content-Range");
        int64_t first = -1, last = -1, all = -1;
        char num[3][24];
        size_t a = 0, b = 0;
        if (cr && strncmp(cr, "bytes ", 6) == 0) {
            a = strcspn(cr + 6, "-");
            b = cr[6 + a] ? strcspn(cr + 7 + a, "/") : 0;
        }
        if (cr && a > 0 && a < sizeof num[0] && b > 0 && b < sizeof num[1] &&
            cr[7 + a + b] == '/' && strlen(cr + 8 + a + b) < sizeof num[2]) {
            memcpy(num[0], cr + 6, a);
            num[0][a] = '\0';
            memcpy(num[1], cr + 7 + a, b);
            num[1][b] = '\0';
            str_copy(num[2], sizeof num[2], cr + 8 + a + b);
            if (str_to_i64(num[0], 0, INT64_MAX, &first) != ERR_OK ||
                str_to_i64(num[1], 0, INT64_MAX, &last) != ERR_OK ||
                str_to_i64(num[2], 1, INT64_MAX, &all) != ERR_OK) {
                first = -1;
            }
        }
        if (first < 0 || (uint64_t)first != off || last < first ||
            (uint64_t)(last - first) + 1 != n || all <= last) {
            return err_set(ei, ERR_HTTP, "%s: a 206 answer without a Content-Range matching "
                                         "bytes %llu-%llu", what, (unsigned long long)off,
                           (unsigned long long)(off + len - 1));
        }
        total = all;
    } else {
        /* a server that ignores Range sends the whole object (it fit in len + off bytes) */
        if (off >= n) {
            data += n;
            n = 0;
        } else {
            data += off;
            n -= (size_t)off;
        }
        if (n > len) {
            n = len;
        }
    }
    enum err e = buf_append(mem, data, n);
    if (e != ERR_OK) {
        return err_set(ei, e, "%s: no room in memory for %zu bytes", what, n);
    }
    storage__stat_from_headers(rs, stat);
    stat->size = total;
    return ERR_OK;
}

enum err storage__http_get_range(struct storage *st, const char *url, const char *token,
                                 uint64_t off, size_t len, struct buf *mem,
                                 struct storage_stat *stat, struct err_info *ei)
{
    struct httpc *c = NULL;
    struct httpc_response rs;
    char range[64];
    const char *hdrs[2] = {range, NULL};
    httpc_response_init(&rs);
    snprintf(range, sizeof range, "Range: bytes=%llu-%llu", (unsigned long long)off,
             (unsigned long long)(off + len - 1));
    enum err e = storage__client(st, &c, ei);
    if (e != ERR_OK) {
        goto out;
    }
    struct httpc_request rq = {
        .method = HTTPC_GET,
        .url = url,
        .headers = hdrs,
        .bearer_token = token,
        .max_body = off + len, /* a 200 with the whole object is taken when it is that small */
        .fail_on_status = true,
    };
    e = httpc_do(c, &rq, &rs, ei);
    if (e == ERR_OK) {
        e = storage__range_finish(&rs, off, len, mem, stat, url, ei);
    }
out:
    httpc_response_free(&rs);
    httpc_destroy(c);
    return e;
}

void storage__etag_copy(char *dst, size_t cap, const char *src)
{
    size_t len = strlen(src);
    if (len >= 2 && src[0] == '"' && src[len - 1] == '"') {
        src++;
        len -= 2;
    }
    if (len >= cap) {
        len = cap - 1;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
}

bool storage__prog_cb(void *ud, uint64_t down_done, uint64_t down_total, uint64_t up_done,
                      uint64_t up_total)
{
    struct storage__prog *p = ud;
    uint64_t done = p->upload ? up_done : down_done;
    uint64_t total = p->total ? p->total : (p->upload ? up_total : down_total);
    return p->fn(p->ud, p->base + done, total);
}

enum err storage__http_get(struct storage *st, const char *url, const char *token,
                           const char *dest, struct buf *mem, size_t mem_max,
                           const struct storage_xfer_opts *opts, struct storage_stat *stat,
                           struct err_info *ei)
{
    struct httpc *c = NULL;
    struct httpc_response rs;
    httpc_response_init(&rs);
    enum err e = storage__client(st, &c, ei);
    if (e != ERR_OK) {
        goto out;
    }
    uint64_t cap = st->max_object;
    if (mem && (uint64_t)mem_max < cap) {
        cap = mem_max;
    }
    struct httpc_request rq = {
        .method = HTTPC_GET,
        .url = url,
        .bearer_token = token,
        .out_file = dest,
        .max_body = cap ? cap : 1,
        .sum = storage__sum_for(opts->sum, opts->expect_sum),
        .expect_sum = opts->expect_sum,
        .fail_on_status = true,
    };
    struct storage__prog prog = {.fn = opts->progress, .ud = opts->progress_ud};
    if (opts->progress) {
        rq.progress = storage__prog_cb;
        rq.progress_ud = &prog;
    }
    if (mem && mem_max == 0) {
        e = err_set(ei, ERR_TOO_LARGE, "no room to download %s", url);
        goto out;
    }
    e = httpc_do(c, &rq, &rs, ei);
    if (e != ERR_OK) {
        goto out;
    }
    if (mem) {
        e = buf_append(mem, rs.body.data ? rs.body.data : "", rs.body.len);
        if (e != ERR_OK) {
            e = err_set(ei, e, "could not keep the body of %s in memory", url);
            goto out;
        }
    }
    storage__stat_from_headers(&rs, stat);
    stat->size = rs.body_bytes;
    (void)str_copy(stat->sum_hex, sizeof stat->sum_hex, rs.sum_hex);
out:
    httpc_response_free(&rs);
    httpc_destroy(c);
    return e;
}

enum err storage__http_head(struct storage *st, const char *url, const char *token,
                            struct storage_stat *stat, struct err_info *ei)
{
    struct httpc *c = NULL;
    struct httpc_response rs;
    httpc_response_init(&rs);
    enum err e = storage__client(st, &c, ei);
    if (e != ERR_OK) {
        goto out;
    }
    struct httpc_request rq = {.method = HTTPC_HEAD, .url = url, .bearer_token = token,
                               .fail_on_status = true};
    e = httpc_do(c, &rq, &rs, ei);
    if (e != ERR_OK) {
        goto out;
    }
    storage__stat_from_headers(&rs, stat);
out:
    httpc_response_free(&rs);
    httpc_destroy(c);
    return e;
}

/* ---- walk over a URI list ---------------------------------------------------------------- */

struct uri_lines {
    storage_list_fn fn;
    void *ud;
    size_t count;
    bool fn_failed;       /* the error came from fn */
    struct storage_uri u; /* scratch for the check of each line */
};

static enum err uri_line(void *ud, uint64_t lineno, const char *text, struct err_info *ei)
{
    struct uri_lines *ul = ud;
    if (storage_uri_parse(text, &ul->u, ei) != ERR_OK) {
        err_prefix(ei, "line %llu: ", (unsigned long long)lineno);
        if (ei) {
            ei->code = ERR_INVALID;
        }
        return ERR_INVALID;
    }
    if (++ul->count > STORAGE_WALK_MAX) {
        return err_set(ei, ERR_TOO_LARGE, "URI list has more than %d entries (line %llu)",
                       STORAGE_WALK_MAX, (unsigned long long)lineno);
    }
    struct storage_stat s;
    memset(&s, 0, sizeof s);
    enum err e = ul->fn(ul->ud, text, &s);
    ul->fn_failed = e != ERR_OK;
    return e;
}

enum err storage__http_walk(struct storage *st, const char *url, const char *scratch_dir,
                            storage_list_fn fn, void *ud, struct err_info *ei)
{
    enum err e = ERR_OK;
    struct httpc *c = NULL;
    struct httpc_response rs;
    httpc_response_init(&rs);
    struct uri_lines *ul = NULL;
    struct storage__lines *lines = NULL;
    char *chunk = NULL;
    int fd = -1;
    char path[STORAGE_PATH_MAX] = "";

    if (!scratch_dir || !scratch_dir[0]) {
        return err_set(ei, ERR_INVALID, "walking the URI list %.300s needs a scratch directory",
                       url);
    }
    int n = snprintf(path, sizeof path, "%s/.obsflow-walk.XXXXXX", scratch_dir);
    if (n < 0 || (size_t)n >= sizeof path) {
        return err_set(ei, ERR_TOO_LARGE, "scratch directory path too long");
    }
    fd = mkstemp(path);
    if (fd < 0) {
        path[0] = '\0';
        return err_set(ei, ERR_IO, "could not create a scratch file in \"%.300s\": %s",
                       scratch_dir, ERR_ERRNO(errno));
    }
    close(fd);
    fd = -1;
    ul = malloc(sizeof *ul);
    lines = malloc(sizeof *lines);
    chunk = malloc(STORAGE__WALK_CHUNK);
    if (!ul || !lines || !chunk) {
        e = err_set(ei, ERR_NOMEM, "out of memory while walking %.300s", url);
        goto out;
    }
    e = storage__client(st, &c, ei);
    if (e != ERR_OK) {
        goto out;
    }
    /* the body goes to the scratch file as it arrives (httpc renames its own temporary over
     * the one made above), never into memory */
    struct httpc_request rq = {.method = HTTPC_GET, .url = url, .out_file = path,
                               .max_body = st->max_object, .fail_on_status = true};
    e = httpc_do(c, &rq, &rs, ei);
    if (e != ERR_OK) {
        goto out;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        e = err_set(ei, ERR_IO, "could not open the scratch file of %.300s: %s", url,
                    ERR_ERRNO(errno));
        goto out;
    }
    (void)unlink(path); /* gone from the directory now; read through fd */
    path[0] = '\0';
    ul->fn = fn;
    ul->ud = ud;
    ul->count = 0;
    ul->fn_failed = false;
    storage__lines_init(lines);
    for (;;) {
        ssize_t got = read(fd, chunk, STORAGE__WALK_CHUNK);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            e = err_set(ei, ERR_IO, "could not read the scratch file of %.300s: %s", url,
                        ERR_ERRNO(errno));
            goto out;
        }
        if (got == 0) {
            e = storage__lines_finish(lines, uri_line, ul, ei);
            break;
        }
        e = storage__lines_feed(lines, chunk, (size_t)got, uri_line, ul, ei);
        if (e != ERR_OK) {
            break;
        }
    }
    if (e != ERR_OK && !ul->fn_failed) {
        err_prefix(ei, "URI list %.300s: ", url); /* the caller's own errors pass unchanged */
    }
out:
    if (fd >= 0) {
        close(fd);
    }
    if (path[0]) {
        (void)unlink(path);
    }
    free(chunk);
    free(lines);
    free(ul);
    httpc_response_free(&rs);
    httpc_destroy(c);
    return e;
}
