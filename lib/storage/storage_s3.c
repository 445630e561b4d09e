/* storage_s3.c - the s3: back end: S3 REST over lib/httpc, path-style URLs, AWS Signature V4
 * by libcurl (CURLOPT_AWS_SIGV4). curl 7.88 signs the path and query exactly as sent, so keys
 * are percent-encoded here (RFC 3986 unreserved kept) and query parameters are written already
 * sorted with explicit "=" ("uploads="), which is the canonical form S3 verifies.
 * Downloads are checked against a single-part ETag (MD5) on arrival; uploads above the
 * multipart threshold go in parts and are aborted on failure, so no partial object appears.
 * SPDX-License-Identifier: Apache-2.0 */
#include "storage/storage.h"
#include "storage/storage_int.h"

#include "core/str.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define S3__URL_MAX        (STORAGE_URI_MAX * 3 + 512)
#define S3__UPLOAD_ID_MAX  1024
#define S3__ETAG_MAX       128
#define S3__COMPLETE_MAX   ((size_t)2 << 20) /* CompleteMultipartUpload body */
#define S3__SMALL_BODY_MAX ((uint64_t)1 << 20)
#define S3__EMPTY_PAGES_MAX 16 /* truncated list pages without a key, in a row */

struct s3_req {
    enum httpc_method method;
    const char *bucket;
    const char *key;        /* NULL = bucket-level */
    const char *query;      /* already canonical (sorted, encoded) or NULL */
    const void *body;       /* memory body or NULL */
    size_t body_len;
    const char *body_file;  /* file body or NULL */
    uint64_t file_off;
    uint64_t file_len;
    const char *out_file;
    uint64_t max_body;
    const char *content_type;
    const char *range;      /* "bytes=a-b" or NULL */
    enum httpc_sum sum;
    const char *expect_sum;
    bool etag_check;
    int max_attempts;
    struct storage__prog *prog; /* progress adapter or NULL */
};

static enum err build_url(struct storage *st, const char *bucket, const char *key,
                          const char *query, struct buf *b)
{
    enum err e;
    if ((e = buf_puts(b, st->s3.endpoint_url)) || (e = buf_puts(b, "/")) ||
        (e = buf_puts(b, bucket))) {
        return e;
    }
    if (key) {
        if ((e = buf_puts(b, "/")) || (e = httpc_url_encode(b, key, true))) {
            return e;
        }
    }
    if (query && query[0]) {
        if ((e = buf_puts(b, "?")) || (e = buf_puts(b, query))) {
            return e;
        }
    }
    return ERR_OK;
}

static void uri_text(const char *bucket, const char *key, char *out, size_t cap)
{
    (void)snprintf(out, cap, "s3://%s/%s", bucket, key ? key : "");
}

/* Turn a non-2xx S3 answer into an error naming the object, S3's code and message. */
static enum err s3_error(const struct httpc_response *rs, const char *what, struct err_info *ei)
{
    struct err_info tmp = {0};
    enum err e = httpc_check(rs, what, &tmp);
    if (e == ERR_OK) {
        return ERR_OK;
    }
    if (e == ERR_HTTP) {
        e = ERR_STORAGE;
    }
    char code[128] = "";
    char msg[256] = "";
    const char *end = rs->body.data ? rs->body.data + rs->body.len : NULL;
    if (end) {
        if (storage__xml_text(rs->body.data, end, "Code", code, sizeof code, NULL) != ERR_OK) {
            code[0] = '\0';
        }
        if (storage__xml_text(rs->body.data, end, "Message", msg, sizeof msg, NULL) != ERR_OK) {
            msg[0] = '\0';
        }
    }
    if (code[0]) {
        return err_set(ei, e, "%s: S3 answered HTTP %ld %s: %s", what, rs->status, code, msg);
    }
    if (rs->status == 404) {
        return err_set(ei, e, "%s: no such object (HTTP 404)", what);
    }
    return err_set(ei, e, "%s: S3 answered HTTP %ld", what, rs->status);
}

static enum err s3_do(struct storage *st, struct httpc *c, const struct s3_req *r,
                      struct httpc_response *rs, struct err_info *ei)
{
    enum err e = ERR_OK;
    struct buf url;
    buf_init(&url, S3__URL_MAX);
    char ct[300];
    char rg[64];
    const char *hdrs[3] = {NULL, NULL, NULL};
    size_t nh = 0;
    char what[STORAGE_URI_MAX + 16];
    uri_text(r->bucket, r->key, what, sizeof what);

    e = build_url(st, r->bucket, r->key, r->query, &url);
    if (e != ERR_OK) {
        e = err_set(ei, ERR_INVALID, "%s: request URL too long", what);
        goto out;
    }
    if (r->content_type) {
        for (const char *p = r->content_type; *p; p++) {
            if ((unsigned char)*p < 0x20) {
                e = err_set(ei, ERR_INVALID, "invalid content type");
                goto out;
            }
        }
        (void)snprintf(ct, sizeof ct, "Content-Type: %.200s", r->content_type);
        hdrs[nh++] = ct;
    }
    if (r->range) {
        (void)snprintf(rg, sizeof rg, "Range: %.40s", r->range);
        hdrs[nh++] = rg;
    }
    struct httpc_sigv4 sv = {
        .access_key_id = st->s3.access_key_id,
        .secret_access_key = st->s3.secret_access_key,
        .session_token = st->s3.session_token[0] ? st->s3.session_token : NULL,
        .region = st->s3.region,
        .service = "s3",
        .amz_date = st->fixed_amz_date[0] ? st->fixed_amz_date : NULL,
    };
    struct httpc_request rq = {
        .method = r->method,
        .url = buf_cstr(&url),
        .headers = hdrs[0] ? hdrs : NULL,
        .sigv4 = st->s3_signed ? &sv : NULL,
        .body = r->body,
        .body_len = r->body_len,
        .body_file = r->body_file,
        .body_file_offset = r->file_off,
        .body_file_len = r->file_len,
        .out_file = r->out_file,
        .max_body = r->max_body,
        .sum = r->sum,
        .expect_sum = r->expect_sum,
        .expect_sum_header = r->etag_check ? "ETag" : NULL,
        .max_attempts = r->max_attempts,
        .progress = r->prog && r->prog->fn ? storage__prog_cb : NULL,
        .progress_ud = r->prog,
    };
    if (r->body_file && r->file_len == 0) {
        /* an empty range means "to the end" to httpc; send an empty body instead */
        rq.body_file = NULL;
        rq.body = "";
        rq.body_len = 0;
    }
    e = httpc_do(c, &rq, rs, ei);
    if (e != ERR_OK) {
        err_prefix(ei, "%s: ", what);
        goto out;
    }
    if (rs->status < 200 || rs->status >= 300) {
        e = s3_error(rs, what, ei);
    }
out:
    buf_free(&url);
    return e;
}

enum err storage__s3_get_range(struct storage *st, const struct storage_uri *u, uint64_t off,
                               size_t len, struct buf *mem, struct storage_stat *sst,
                               struct err_info *ei)
{
    struct httpc *c = NULL;
    struct httpc_response rs;
    char range[64];
    char what[STORAGE_URI_MAX + 16];
    httpc_response_init(&rs);
    if (!u->key[0] || u->key[strlen(u->key) - 1] == '/') {
        return err_set(ei, ERR_INVALID, "s3://%s/%s names a prefix, not an object", u->bucket,
                       u->key);
    }
    uri_text(u->bucket, u->key, what, sizeof what);
    snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)off,
             (unsigned long long)(off + len - 1));
    enum err e = storage__client(st, &c, ei);
    if (e == ERR_OK) {
        /* no ETag check: the digest of a range is not the object's */
        struct s3_req r = {.method = HTTPC_GET, .bucket = u->bucket, .key = u->key,
                           .max_body = off + len, .range = range};
        e = s3_do(st, c, &r, &rs, ei);
    }
    if (e == ERR_OK) {
        e = storage__range_finish(&rs, off, len, mem, sst, what, ei);
    }
    httpc_response_free(&rs);
    httpc_destroy(c);
    return e;
}

enum err storage__s3_get(struct storage *st, const struct storage_uri *u, const char *dest,
                         struct buf *mem, size_t mem_max, const struct storage_xfer_opts *opts,
                         struct storage_stat *sst, struct err_info *ei)
{
    struct httpc *c = NULL;
    struct httpc_response rs;
    httpc_response_init(&rs);
    if (!u->key[0] || u->key[strlen(u->key) - 1] == '/') {
        return err_set(ei, ERR_INVALID, "s3://%s/%s names a prefix, not an object", u->bucket,
                       u->key);
    }
    enum err e = storage__client(st, &c, ei);
    if (e != ERR_OK) {
        goto out;
    }
    uint64_t cap = st->max_object;
    if (mem && (uint64_t)mem_max < cap) {
        cap = mem_max;
    }
    struct storage__prog prog = {.fn = opts->progress, .ud = opts->progress_ud};
    struct s3_req r = {.method = HTTPC_GET, .bucket = u->bucket, .key = u->key,
                       .out_file = dest, .max_body = cap ? cap : 1,
                       .sum = storage__sum_for(opts->sum, opts->expect_sum),
                       .expect_sum = opts->expect_sum, .prog = &prog};
    if (r.sum == HTTPC_SUM_NONE) {
        r.sum = HTTPC_SUM_MD5; /* checksum on arrival against the ETag */
    }
    r.etag_check = r.sum == HTTPC_SUM_MD5;
    e = s3_do(st, c, &r, &rs, ei);
    if (e != ERR_OK) {
        goto out;
    }
    if (mem) {
        e = buf_append(mem, rs.body.data ? rs.body.data : "", rs.body.len);
        if (e != ERR_OK) {
            e = err_set(ei, e, "no room in memory for s3://%s/%s", u->bucket, u->key);
            goto out;
        }
    }
    storage__stat_from_headers(&rs, sst);
    sst->size = rs.body_bytes;
    if (opts->sum != STORAGE_SUM_NONE || opts->expect_sum) {
        (void)str_copy(sst->sum_hex, sizeof sst->sum_hex, rs.sum_hex);
    }
out:
    httpc_response_free(&rs);
    httpc_destroy(c);
    return e;
}

enum err storage__s3_head(struct storage *st, const struct storage_uri *u,
                          struct storage_stat *sst, struct err_info *ei)
{
    struct httpc *c = NULL;
    struct httpc_response rs;
    httpc_response_init(&rs);
    if (!u->key[0]) {
        return err_set(ei, ERR_INVALID, "s3://%s names a bucket, not an object", u->bucket);
    }
    enum err e = storage__client(st, &c, ei);
    if (e == ERR_OK) {
        struct s3_req r = {.method = HTTPC_HEAD, .bucket = u->bucket, .key = u->key};
        e = s3_do(st, c, &r, &rs, ei);
    }
    if (e == ERR_OK) {
        storage__stat_from_headers(&rs, sst);
    }
    httpc_response_free(&rs);
    httpc_destroy(c);
    return e;
}

enum err storage__s3_delete(struct storage *st, const struct storage_uri *u,
                            struct err_info *ei)
{
    struct httpc *c = NULL;
    struct httpc_response rs;
    httpc_response_init(&rs);
    if (!u->key[0]) {
        return err_set(ei, ERR_INVALID, "s3://%s names a bucket, not an object", u->bucket);
    }
    enum err e = storage__client(st, &c, ei);
    if (e == ERR_OK) {
        struct s3_req r = {.method = HTTPC_DELETE, .bucket = u->bucket, .key = u->key,
                           .max_body = S3__SMALL_BODY_MAX};
        e = s3_do(st, c, &r, &rs, ei);
        if (e == ERR_NOT_FOUND) {
            err_info_clear(ei);
            e = ERR_OK;
        }
    }
    httpc_response_free(&rs);
    httpc_destroy(c);
    return e;
}

enum err storage__s3_make_bucket(struct storage *st, const struct storage_uri *u,
                                 struct err_info *ei)
{
    struct httpc *c = NULL;
    struct httpc_response rs;
    httpc_response_init(&rs);
    struct buf body;
    buf_init(&body, 4096);
    enum err e = storage__client(st, &c, ei);
    if (e != ERR_OK) {
        goto out;
    }
    if (strcmp(st->s3.region, "us-east-1") != 0) {
        e = buf_printf(&body,
                       "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/"
                       "2006-03-01/\"><LocationConstraint>%s</LocationConstraint>"
                       "</CreateBucketConfiguration>",
                       st->s3.region);
        if (e != ERR_OK) {
            goto out;
        }
    }
    struct s3_req r = {.method = HTTPC_PUT, .bucket = u->bucket, .body = buf_cstr(&body),
                       .body_len = body.len, .max_body = S3__SMALL_BODY_MAX};
    e = s3_do(st, c, &r, &rs, ei);
    if (e == ERR_CONFLICT) {
        /* already there: ours (AlreadyOwnedByYou) or, on s3rver, reported as AlreadyExists */
        err_info_clear(ei);
        e = ERR_OK;
    }
out:
    buf_free(&body);
    httpc_response_free(&rs);
    httpc_destroy(c);
    return e;
}

/* ---- put -------------------------------------------------------------------------------- */

static enum err put_single(struct storage *st, struct httpc *c, const struct storage_uri *u,
                           const char *src, const void *data, uint64_t len,
                           const struct storage_xfer_opts *opts, struct storage_stat *sst,
                           struct err_info *ei)
{
    struct httpc_response rs;
    httpc_response_init(&rs);
    struct storage__prog prog = {.fn = opts->progress, .ud = opts->progress_ud, .total = len,
                                 .upload = true};
    struct s3_req r = {.method = HTTPC_PUT, .bucket = u->bucket, .key = u->key,
                       .body = src ? NULL : data, .body_len = src ? 0 : (size_t)len,
                       .body_file = src, .file_len = len, .max_body = S3__SMALL_BODY_MAX,
                       .content_type = opts->content_type ? opts->content_type
                                                          : "application/octet-stream",
                       .prog = &prog};
    enum err e = s3_do(st, c, &r, &rs, ei);
    if (e == ERR_OK) {
        storage__stat_from_headers(&rs, sst);
    }
    httpc_response_free(&rs);
    return e;
}

static void abort_upload(struct storage *st, struct httpc *c, const struct storage_uri *u,
                         const char *upload_id)
{
    struct buf q;
    buf_init(&q, S3__UPLOAD_ID_MAX * 3 + 32);
    struct httpc_response rs;
    httpc_response_init(&rs);
    struct err_info ignored = {0};
    if (buf_puts(&q, "uploadId=") == ERR_OK && httpc_url_encode(&q, upload_id, false) == ERR_OK) {
        struct s3_req r = {.method = HTTPC_DELETE, .bucket = u->bucket, .key = u->key,
                           .query = buf_cstr(&q), .max_body = S3__SMALL_BODY_MAX};
        (void)s3_do(st, c, &r, &rs, &ignored);
    }
    httpc_response_free(&rs);
    buf_free(&q);
}

static enum err put_multipart(struct storage *st, struct httpc *c, const struct storage_uri *u,
                              const char *src, const void *data, uint64_t len,
                              const struct storage_xfer_opts *opts, struct storage_stat *sst,
                              struct err_info *ei)
{
    enum err e = ERR_OK;
    struct httpc_response rs;
    httpc_response_init(&rs);
    char upload_id[S3__UPLOAD_ID_MAX] = "";
    char (*etags)[S3__ETAG_MAX] = NULL;
    struct buf q;
    buf_init(&q, S3__UPLOAD_ID_MAX * 3 + 64);
    struct buf done;
    buf_init(&done, S3__COMPLETE_MAX);
    char what[STORAGE_URI_MAX + 16];
    uri_text(u->bucket, u->key, what, sizeof what);

    uint64_t part = st->part_size;
    uint64_t nparts = (len + part - 1) / part;
    if (nparts > STORAGE_S3_MAX_PARTS) {
        /* grow the parts so the count fits S3's limit */
        part = (len + STORAGE_S3_MAX_PARTS - 1) / STORAGE_S3_MAX_PARTS;
        nparts = (len + part - 1) / part;
    }
    etags = calloc((size_t)nparts, sizeof *etags);
    if (!etags) {
        e = err_set(ei, ERR_NOMEM, "out of memory for %llu part tags",
                    (unsigned long long)nparts);
        goto out;
    }
    /* initiate */
    struct s3_req init = {.method = HTTPC_POST, .bucket = u->bucket, .key = u->key,
                          .query = "uploads=", .max_body = S3__SMALL_BODY_MAX,
                          .content_type = opts->content_type ? opts->content_type
                                                             : "application/octet-stream",
                          .max_attempts = st->http.max_attempts > 0 ? st->http.max_attempts
                                                                    : HTTPC_DEFAULT_MAX_ATTEMPTS};
    e = s3_do(st, c, &init, &rs, ei);
    if (e != ERR_OK) {
        goto out;
    }
    if (!rs.body.data || storage__xml_text(rs.body.data, rs.body.data + rs.body.len, "UploadId",
                                           upload_id, sizeof upload_id, NULL) != ERR_OK ||
        !upload_id[0]) {
        e = err_set(ei, ERR_STORAGE, "%s: S3 did not return an upload id", what);
        goto out;
    }
    /* parts */
    for (uint64_t i = 0; i < nparts; i++) {
        uint64_t off = i * part;
        uint64_t n = len - off < part ? len - off : part;
        buf_reset(&q);
        if ((e = buf_printf(&q, "partNumber=%llu&uploadId=", (unsigned long long)(i + 1))) ||
            (e = httpc_url_encode(&q, upload_id, false))) {
            e = err_set(ei, ERR_INVALID, "%s: upload id too long", what);
            goto out;
        }
        struct storage__prog prog = {.fn = opts->progress, .ud = opts->progress_ud, .base = off,
                                     .total = len, .upload = true};
        struct s3_req pr = {.method = HTTPC_PUT, .bucket = u->bucket, .key = u->key,
                            .query = buf_cstr(&q), .max_body = S3__SMALL_BODY_MAX,
                            .body = src ? NULL : (const char *)data + off,
                            .body_len = src ? 0 : (size_t)n, .body_file = src,
                            .file_off = off, .file_len = n, .prog = &prog};
        httpc_response_free(&rs);
        e = s3_do(st, c, &pr, &rs, ei);
        if (e != ERR_OK) {
            err_prefix(ei, "part %llu: ", (unsigned long long)(i + 1));
            goto out;
        }
        const char *tag = httpc_response_header(&rs, "ETag");
        if (!tag || !tag[0] || !str_copy(etags[i], S3__ETAG_MAX, tag)) {
            e = err_set(ei, ERR_STORAGE, "%s: part %llu has no usable ETag", what,
                        (unsigned long long)(i + 1));
            goto out;
        }
    }
    /* complete */
    e = buf_puts(&done, "<CompleteMultipartUpload>");
    for (uint64_t i = 0; e == ERR_OK && i < nparts; i++) {
        e = buf_printf(&done, "<Part><PartNumber>%llu</PartNumber><ETag>",
                       (unsigned long long)(i + 1));
        if (e == ERR_OK) {
            e = storage__xml_escape(&done, etags[i]);
        }
        if (e == ERR_OK) {
            e = buf_puts(&done, "</ETag></Part>");
        }
    }
    if (e == ERR_OK) {
        e = buf_puts(&done, "</CompleteMultipartUpload>");
    }
    if (e != ERR_OK) {
        e = err_set(ei, ERR_TOO_LARGE, "%s: multipart completion document too large", what);
        goto out;
    }
    buf_reset(&q);
    if ((e = buf_puts(&q, "uploadId=")) || (e = httpc_url_encode(&q, upload_id, false))) {
        e = err_set(ei, ERR_INVALID, "%s: upload id too long", what);
        goto out;
    }
    struct s3_req cr = {.method = HTTPC_POST, .bucket = u->bucket, .key = u->key,
                        .query = buf_cstr(&q), .body = buf_cstr(&done), .body_len = done.len,
                        .content_type = "application/xml", .max_body = S3__SMALL_BODY_MAX};
    httpc_response_free(&rs);
    e = s3_do(st, c, &cr, &rs, ei);
    if (e != ERR_OK) {
        goto out;
    }
    /* S3 may answer 200 and report the failure in the body */
    if (rs.body.data && strstr(rs.body.data, "<Error>")) {
        e = s3_error(&(struct httpc_response){.status = 500, .body = rs.body}, what, ei);
        goto out;
    }
    char etag[S3__ETAG_MAX] = "";
    if (rs.body.data &&
        storage__xml_text(rs.body.data, rs.body.data + rs.body.len, "ETag", etag, sizeof etag,
                          NULL) == ERR_OK) {
        storage__etag_copy(sst->etag, sizeof sst->etag, etag);
    }
    upload_id[0] = '\0'; /* completed: nothing to abort */
out:
    if (e != ERR_OK && upload_id[0]) {
        abort_upload(st, c, u, upload_id);
    }
    free(etags);
    buf_free(&q);
    buf_free(&done);
    httpc_response_free(&rs);
    return e;
}

enum err storage__s3_put(struct storage *st, const struct storage_uri *u, const char *src,
                         const void *data, size_t len, const struct storage_xfer_opts *opts,
                         struct storage_stat *sst, struct err_info *ei)
{
    struct httpc *c = NULL;
    enum err e = ERR_OK;
    if (!u->key[0] || u->key[strlen(u->key) - 1] == '/') {
        return err_set(ei, ERR_INVALID, "s3://%s/%s names a prefix, not an object", u->bucket,
                       u->key);
    }
    uint64_t size = len;
    if (src) {
        struct stat sb;
        if (stat(src, &sb) != 0) {
            return err_set(ei, ERR_IO, "could not stat file \"%s\": %s", src, ERR_ERRNO(errno));
        }
        if (!S_ISREG(sb.st_mode)) {
            return err_set(ei, ERR_INVALID, "\"%s\" is not a regular file", src);
        }
        size = (uint64_t)sb.st_size;
    }
    e = storage__client(st, &c, ei);
    if (e != ERR_OK) {
        goto out;
    }
    if (size > st->multipart_threshold) {
        e = put_multipart(st, c, u, src, data, size, opts, sst, ei);
    } else {
        e = put_single(st, c, u, src, data, size, opts, sst, ei);
    }
    if (e != ERR_OK) {
        goto out;
    }
    sst->size = size;
    if (opts->sum != STORAGE_SUM_NONE) {
        if (src) {
            e = httpc_sum_file(storage__sum(opts->sum), src, 0, size, sst->sum_hex, ei);
        } else {
            e = httpc_sum_mem(storage__sum(opts->sum), data, len, sst->sum_hex, ei);
        }
    }
out:
    httpc_destroy(c);
    return e;
}

/* ---- list ------------------------------------------------------------------------------- */

/* One ListObjectsV2 page: each <Contents> reported to @p fn (at most @p max in all, counted
 * in *@p count), *@p others += the <CommonPrefixes> of a delimited listing (not reported, but
 * progress), *@p truncated and the continuation token. */
static enum err list_page(const char *p, const char *end, const char *bucket,
                          storage_list_fn fn, void *ud, size_t max, size_t *count,
                          size_t *others, bool *truncated, char *token, size_t token_cap,
                          struct err_info *ei)
{
    char *key = malloc(STORAGE_KEY_MAX * 2 + 1);
    char *uri = malloc(STORAGE_KEY_MAX * 2 + STORAGE_BUCKET_MAX + 16);
    enum err e = ERR_OK;
    if (!key || !uri) {
        e = err_set(ei, ERR_NOMEM, "out of memory while listing");
        goto out;
    }
    const char *q = p;
    for (;;) {
        const char *open = strstr(q, "<Contents>");
        if (!open || open >= end) {
            break;
        }
        const char *close = strstr(open, "</Contents>");
        if (!close || close >= end) {
            e = err_set(ei, ERR_STORAGE, "s3://%s: malformed list response", bucket);
            goto out;
        }
        struct storage_stat s;
        memset(&s, 0, sizeof s);
        char num[32] = "";
        char lm[64] = "";
        if (storage__xml_text(open, close, "Key", key, STORAGE_KEY_MAX * 2 + 1, NULL) != ERR_OK) {
            e = err_set(ei, ERR_STORAGE, "s3://%s: list entry without a key", bucket);
            goto out;
        }
        if (storage__xml_text(open, close, "Size", num, sizeof num, NULL) == ERR_OK) {
            int64_t v = 0;
            if (str_to_i64(num, 0, INT64_MAX, &v) == ERR_OK) {
                s.size = (uint64_t)v;
            }
        }
        char etag[S3__ETAG_MAX] = "";
        if (storage__xml_text(open, close, "ETag", etag, sizeof etag, NULL) == ERR_OK) {
            storage__etag_copy(s.etag, sizeof s.etag, etag);
        }
        if (storage__xml_text(open, close, "LastModified", lm, sizeof lm, NULL) == ERR_OK) {
            int64_t t = httpc_parse_date(lm);
            s.mtime_ns = t > 0 ? t * 1000000000LL : 0;
        }
        if (++*count > max) {
            e = err_set(ei, ERR_TOO_LARGE, "s3://%s: listing has more than %zu entries", bucket,
                        max);
            goto out;
        }
        (void)snprintf(uri, STORAGE_KEY_MAX * 2 + STORAGE_BUCKET_MAX + 16, "s3://%s/%s", bucket,
                       key);
        e = fn(ud, uri, &s);
        if (e != ERR_OK) {
            goto out;
        }
        q = close + 11;
    }
    for (const char *cp = p; (cp = strstr(cp, "<CommonPrefixes>")) != NULL && cp < end;
         cp += 16) {
        ++*others;
    }
    char tr[16] = "";
    *truncated = storage__xml_text(p, end, "IsTruncated", tr, sizeof tr, NULL) == ERR_OK &&
                 strcmp(tr, "true") == 0;
    token[0] = '\0';
    if (*truncated &&
        storage__xml_text(p, end, "NextContinuationToken", token, token_cap, NULL) != ERR_OK) {
        e = err_set(ei, ERR_STORAGE, "s3://%s: truncated listing without a continuation token",
                    bucket);
    }
out:
    free(key);
    free(uri);
    return e;
}

/* ListObjectsV2 over @p prefix ("" = the bucket), with @p delimiter (NULL = none), at most
 * @p max keys; shared by storage_list and storage_walk. */
static enum err list_pages(struct storage *st, const char *bucket, const char *prefix,
                           const char *delimiter, size_t max, storage_list_fn fn, void *ud,
                           struct err_info *ei)
{
    struct httpc *c = NULL;
    struct httpc_response rs;
    httpc_response_init(&rs);
    struct buf q;
    buf_init(&q, STORAGE_KEY_MAX * 3 + S3__UPLOAD_ID_MAX * 3 + 128);
    char *token = calloc(1, S3__UPLOAD_ID_MAX);
    char *sent = calloc(1, S3__UPLOAD_ID_MAX); /* the token of the page just requested */
    size_t count = 0;
    size_t others = 0;
    int empty_run = 0;
    enum err e = token && sent ? storage__client(st, &c, ei)
                               : err_set(ei, ERR_NOMEM, "out of memory");
    if (e != ERR_OK) {
        goto out;
    }
    /* a page's continuation token is new each time and keys keep coming, or the server makes
     * no progress: both loops below are bounded (repeated token, S3__EMPTY_PAGES_MAX) */
    for (;;) {
        /* query parameters in canonical (sorted) order */
        buf_reset(&q);
        if (token[0]) {
            if ((e = buf_puts(&q, "continuation-token=")) ||
                (e = httpc_url_encode(&q, token, false)) || (e = buf_puts(&q, "&"))) {
                break;
            }
        }
        if (delimiter) {
            if ((e = buf_puts(&q, "delimiter=")) ||
                (e = httpc_url_encode(&q, delimiter, false)) || (e = buf_puts(&q, "&"))) {
                break;
            }
        }
        if ((e = buf_printf(&q, "list-type=2&max-keys=%d", st->page_size))) {
            break;
        }
        if (prefix[0]) {
            if ((e = buf_puts(&q, "&prefix=")) || (e = httpc_url_encode(&q, prefix, false))) {
                break;
            }
        }
        memcpy(sent, token, S3__UPLOAD_ID_MAX);
        struct s3_req r = {.method = HTTPC_GET, .bucket = bucket, .query = buf_cstr(&q),
                           .max_body = STORAGE_S3_LIST_BODY_MAX};
        httpc_response_free(&rs);
        e = s3_do(st, c, &r, &rs, ei);
        if (e != ERR_OK) {
            goto out;
        }
        bool truncated = false;
        size_t before = count + others;
        const char *body = rs.body.data ? rs.body.data : "";
        e = list_page(body, body + rs.body.len, bucket, fn, ud, max, &count, &others,
                      &truncated, token, S3__UPLOAD_ID_MAX, ei);
        if (e != ERR_OK || !truncated) {
            goto out;
        }
        if (strcmp(token, sent) == 0) {
            e = err_set(ei, ERR_STORAGE,
                        "s3://%s: the server repeated continuation token \"%.100s\"",
                        bucket, token);
            goto out;
        }
        empty_run = count + others == before ? empty_run + 1 : 0;
        if (empty_run > S3__EMPTY_PAGES_MAX) {
            e = err_set(ei, ERR_STORAGE,
                        "s3://%s: more than %d empty truncated list pages in a row", bucket,
                        S3__EMPTY_PAGES_MAX);
            goto out;
        }
    }
    if (e != ERR_OK) {
        e = err_set(ei, ERR_INVALID, "s3://%s/%s: list request too long", bucket, prefix);
    }
out:
    free(token);
    free(sent);
    buf_free(&q);
    httpc_response_free(&rs);
    httpc_destroy(c);
    return e;
}

enum err storage__s3_list(struct storage *st, const struct storage_uri *u, storage_list_fn fn,
                          void *ud, struct err_info *ei)
{
    return list_pages(st, u->bucket, u->key, NULL, STORAGE_LIST_MAX, fn, ud, ei);
}

enum err storage__s3_walk(struct storage *st, const struct storage_uri *u, bool recursive,
                          storage_list_fn fn, void *ud, struct err_info *ei)
{
    char prefix[STORAGE_KEY_MAX + 2];
    size_t kl = strlen(u->key);
    memcpy(prefix, u->key, kl + 1);
    if (kl > 0 && prefix[kl - 1] != '/') {
        prefix[kl] = '/'; /* the prefix names a "directory" */
        prefix[kl + 1] = '\0';
    }
    return list_pages(st, u->bucket, prefix, recursive ? NULL : "/", STORAGE_WALK_MAX, fn, ud,
                      ei);
}
