/* storage_http.c - http(s) and astroquery (archive template) reads through lib/httpc:
 * downloads to a file (atomic) or memory, with the size cap and digest on arrival.
 * SPDX-License-Identifier: Apache-2.0 */
#include "storage/storage.h"
#include "storage/storage_int.h"

#include "core/str.h"

#include <string.h>

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
