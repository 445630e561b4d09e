/* httpc.c - the libcurl wrapper: one easy handle per client (connection reuse), timeouts always
 * set, an error buffer attached, bounded retries with jittered exponential backoff, capped
 * bodies hashed as they arrive, atomic downloads to files, uploads from memory or file ranges,
 * bearer tokens and AWS Signature V4 (CURLOPT_AWS_SIGV4, with x-amz-content-sha256 added here
 * because curl 7.88 does not add it).
 * SPDX-License-Identifier: Apache-2.0 */
#include "httpc/httpc.h"
#include "httpc/httpc_int.h"

#include "core/atomic_file.h"
#include "core/clock.h"
#include "core/str.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HTTPC__DEFAULT_UA     "obsflow/0.1"
#define HTTPC__MAX_REDIRS     5L
#define HTTPC__EMPTY_SHA256   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct httpc {
    CURL *easy;                   /* reused across requests: keeps the connection cache */
    long connect_timeout_ms;
    long total_timeout_ms;
    int max_attempts;
    long backoff_ms;
    char *user_agent;
    char *ca_file;
    char *client_cert;
    char *client_key;
    bool insecure;
    char errbuf[CURL_ERROR_SIZE]; /* CURLOPT_ERRORBUFFER */
};

/* State of one attempt, shared with the libcurl callbacks. */
struct xfer {
    const struct httpc_request *req;
    struct httpc_response *resp;
    /* upload */
    const unsigned char *up_mem; /* memory body */
    int up_fd;                   /* file body, or -1 */
    uint64_t up_off;             /* start offset in the file */
    uint64_t up_len;             /* bytes to send */
    uint64_t up_pos;             /* bytes sent so far */
    bool up_io_error;
    int up_errno;
    /* download */
    long status;                 /* status of the response being received */
    bool is_2xx;
    int out_fd;                  /* temporary file for out_file, or -1 */
    uint64_t got;                /* body bytes of the current response */
    uint64_t max_body;
    bool too_large;
    bool headers_too_many;
    bool out_io_error;
    int out_errno;
    bool cancelled;
    struct httpc__sum sum;
};

enum err httpc_global_init(struct err_info *ei)
{
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        return err_set(ei, ERR_INTERNAL, "could not initialise libcurl: %s",
                       curl_easy_strerror(rc));
    }
    return ERR_OK;
}

void httpc_global_cleanup(void)
{
    curl_global_cleanup();
}

void httpc_destroy(struct httpc *c)
{
    if (!c) {
        return;
    }
    if (c->easy) {
        curl_easy_cleanup(c->easy);
    }
    free(c->user_agent);
    free(c->ca_file);
    free(c->client_cert);
    free(c->client_key);
    free(c);
}

static bool dup_opt(char **dst, const char *src)
{
    if (!src) {
        *dst = NULL;
        return true;
    }
    *dst = str_dup(src);
    return *dst != NULL;
}

enum err httpc_create(const struct httpc_options *opts, struct httpc **out, struct err_info *ei)
{
    static const struct httpc_options defaults = {0};
    if (!opts) {
        opts = &defaults;
    }
    struct httpc *c = calloc(1, sizeof *c);
    if (!c) {
        return err_set(ei, ERR_NOMEM, "out of memory for an HTTP client");
    }
    c->connect_timeout_ms =
        opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : HTTPC_DEFAULT_CONNECT_TIMEOUT_MS;
    c->total_timeout_ms =
        opts->total_timeout_ms > 0 ? opts->total_timeout_ms : HTTPC_DEFAULT_TOTAL_TIMEOUT_MS;
    c->max_attempts = opts->max_attempts > 0 ? opts->max_attempts : HTTPC_DEFAULT_MAX_ATTEMPTS;
    if (c->max_attempts > HTTPC_MAX_ATTEMPTS_CAP) {
        c->max_attempts = HTTPC_MAX_ATTEMPTS_CAP;
    }
    c->backoff_ms = opts->backoff_ms > 0 ? opts->backoff_ms : HTTPC_DEFAULT_BACKOFF_MS;
    c->insecure = opts->insecure_skip_verify;
    if (!dup_opt(&c->user_agent, opts->user_agent ? opts->user_agent : HTTPC__DEFAULT_UA) ||
        !dup_opt(&c->ca_file, opts->ca_file) || !dup_opt(&c->client_cert, opts->client_cert) ||
        !dup_opt(&c->client_key, opts->client_key)) {
        httpc_destroy(c);
        return err_set(ei, ERR_NOMEM, "out of memory for an HTTP client");
    }
    c->easy = curl_easy_init();
    if (!c->easy) {
        httpc_destroy(c);
        return err_set(ei, ERR_INTERNAL, "could not create a libcurl handle");
    }
    *out = c;
    return ERR_OK;
}

void httpc_response_init(struct httpc_response *resp)
{
    memset(resp, 0, sizeof *resp);
    buf_init(&resp->body, 0);
}

static void headers_clear(struct httpc_response *resp)
{
    for (size_t i = 0; i < resp->n_headers; i++) {
        free(resp->headers[i].name);
        free(resp->headers[i].value);
    }
    free(resp->headers);
    resp->headers = NULL;
    resp->n_headers = 0;
}

void httpc_response_free(struct httpc_response *resp)
{
    if (!resp) {
        return;
    }
    headers_clear(resp);
    buf_free(&resp->body);
    httpc_response_init(resp);
}

/* ---- callbacks ----------------------------------------------------------------------- */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static size_t on_header(char *data, size_t size, size_t nitems, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nitems;
    if (n > HTTPC_MAX_HEADER_LINE) {
        x->headers_too_many = true;
        return 0;
    }
    /* a status line starts a new response (100 Continue, redirects, retries by curl) */
    if (n >= 12 && strncmp(data, "HTTP/", 5) == 0) {
        const char *sp = memchr(data, ' ', n);
        long st = 0;
        if (sp && (size_t)(sp - data) + 4 <= n) {
            for (int i = 1; i <= 3; i++) {
                char d = sp[i];
                if (d < '0' || d > '9') {
                    st = 0;
                    break;
                }
                st = st * 10 + (d - '0');
            }
        }
        x->status = st;
        x->is_2xx = st >= 200 && st < 300;
        headers_clear(x->resp);
        return n;
    }
    const char *colon = memchr(data, ':', n);
    if (!colon) {
        return n; /* blank line ending the headers, or junk we ignore */
    }
    if (x->resp->n_headers >= HTTPC_MAX_RESPONSE_HEADERS) {
        x->headers_too_many = true;
        return 0;
    }
    size_t nlen = (size_t)(colon - data);
    const char *v = colon + 1;
    const char *end = data + n;
    while (v < end && is_blank(*v)) {
        v++;
    }
    while (end > v && is_blank(end[-1])) {
        end--;
    }
    struct httpc_header *nh =
        realloc(x->resp->headers, (x->resp->n_headers + 1) * sizeof *x->resp->headers);
    if (!nh) {
        return 0;
    }
    x->resp->headers = nh;
    char *name = str_ndup(data, nlen);
    char *value = str_ndup(v, (size_t)(end - v));
    if (!name || !value) {
        free(name);
        free(value);
        return 0;
    }
    nh[x->resp->n_headers].name = name;
    nh[x->resp->n_headers].value = value;
    x->resp->n_headers++;
    /* refuse early when the announced length is already over the cap */
    if (x->is_2xx && x->req->method != HTTPC_HEAD && strcasecmp(name, "Content-Length") == 0) {
        int64_t cl = 0;
        if (str_to_i64(value, 0, INT64_MAX, &cl) == ERR_OK && (uint64_t)cl > x->max_body) {
            x->too_large = true;
            return 0;
        }
    }
    return n;
}

static bool write_all(int fd, const char *p, size_t n, int *err_out)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            *err_out = errno;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nmemb;
    if (x->is_2xx) {
        if (x->got + n > x->max_body) {
            x->too_large = true;
            return 0;
        }
        httpc__sum_update(&x->sum, data, n);
        if (x->out_fd >= 0) {
            if (!write_all(x->out_fd, data, n, &x->out_errno)) {
                x->out_io_error = true;
                return 0;
            }
        } else if (buf_append(&x->resp->body, data, n) != ERR_OK) {
            x->too_large = true;
            return 0;
        }
    } else {
        /* error bodies: keep the start for the message, drop the rest */
        size_t room = x->resp->body.len < HTTPC_ERROR_BODY_MAX
                          ? HTTPC_ERROR_BODY_MAX - x->resp->body.len
                          : 0;
        size_t take = n < room ? n : room;
        if (take > 0 && buf_append(&x->resp->body, data, take) != ERR_OK) {
            return 0;
        }
    }
    x->got += n;
    return n;
}

static size_t on_read(char *buffer, size_t size, size_t nitems, void *ud)
{
    struct xfer *x = ud;
    size_t room = size * nitems;
    uint64_t left = x->up_len - x->up_pos;
    size_t n = left < room ? (size_t)left : room;
    if (n == 0) {
        return 0;
    }
    if (x->up_fd >= 0) {
        ssize_t r;
        do {
            r = pread(x->up_fd, buffer, n, (off_t)(x->up_off + x->up_pos));
        } while (r < 0 && errno == EINTR);
        if (r < 0) {
            x->up_io_error = true;
            x->up_errno = errno;
            return CURL_READFUNC_ABORT;
        }
        if (r == 0) {
            x->up_io_error = true;
            x->up_errno = EIO; /* file shrank while uploading */
            return CURL_READFUNC_ABORT;
        }
        n = (size_t)r;
    } else {
        memcpy(buffer, x->up_mem + x->up_pos, n);
    }
    x->up_pos += n;
    return n;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
    struct xfer *x = ud;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > x->up_len) {
        return CURL_SEEKFUNC_CANTSEEK;
    }
    x->up_pos = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct xfer *x = ud;
    if (!x->req->progress(x->req->progress_ud, (uint64_t)dlnow, (uint64_t)dltotal,
                          (uint64_t)ulnow, (uint64_t)ultotal)) {
        x->cancelled = true;
        return 1;
    }
    return 0;
}

/* ---- request setup ------------------------------------------------------------------- */

static bool header_line_ok(const char *h)
{
    const char *colon = strchr(h, ':');
    if (!colon || colon == h) {
        return false;
    }
    for (const char *p = h; *p; p++) {
        if (*p == '\r' || *p == '\n') {
            return false;
        }
    }
    return true;
}

static bool token_ok(const char *t)
{
    if (!t[0]) {
        return false;
    }
    for (const char *p = t; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x21 || c > 0x7e) {
            return false;
        }
    }
    return true;
}

/* Strip the query (it may hold credentials) for messages. */
static void url_for_msg(const char *url, char *out, size_t cap)
{
    size_t n = strcspn(url, "?#");
    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(out, url, n);
    out[n] = '\0';
}

static enum err append_header(struct curl_slist **list, const char *line, struct err_info *ei)
{
    struct curl_slist *n = curl_slist_append(*list, line);
    if (!n) {
        return err_set(ei, ERR_NOMEM, "out of memory for request headers");
    }
    *list = n;
    return ERR_OK;
}

static enum err build_headers(const struct httpc_request *req, const char *payload_sha,
                              struct curl_slist **out, struct err_info *ei)
{
    enum err e = ERR_OK;
    struct curl_slist *list = NULL;
    struct buf line;
    buf_init(&line, HTTPC_MAX_HEADER_LINE + 4096);
    size_t count = 0;
    if (req->headers) {
        for (const char *const *h = req->headers; *h; h++) {
            if (++count > HTTPC_MAX_REQUEST_HEADERS) {
                e = err_set(ei, ERR_INVALID, "too many request headers (at most %d)",
                            HTTPC_MAX_REQUEST_HEADERS);
                goto out;
            }
            if (!header_line_ok(*h)) {
                e = err_set(ei, ERR_INVALID, "invalid request header line \"%.64s\"", *h);
                goto out;
            }
            if ((e = append_header(&list, *h, ei)) != ERR_OK) {
                goto out;
            }
        }
    }
    if (req->bearer_token) {
        if (!token_ok(req->bearer_token)) {
            e = err_set(ei, ERR_INVALID, "bearer token contains invalid characters");
            goto out;
        }
        buf_reset(&line);
        if ((e = buf_printf(&line, "Authorization: Bearer %s", req->bearer_token)) != ERR_OK ||
            (e = append_header(&list, buf_cstr(&line), ei)) != ERR_OK) {
            goto out;
        }
    }
    if (req->sigv4) {
        const struct httpc_sigv4 *s = req->sigv4;
        buf_reset(&line);
        if ((e = buf_printf(&line, "x-amz-content-sha256: %s", payload_sha)) != ERR_OK ||
            (e = append_header(&list, buf_cstr(&line), ei)) != ERR_OK) {
            goto out;
        }
        if (s->session_token && s->session_token[0]) {
            if (!token_ok(s->session_token)) {
                e = err_set(ei, ERR_INVALID, "session token contains invalid characters");
                goto out;
            }
            buf_reset(&line);
            if ((e = buf_printf(&line, "x-amz-security-token: %s", s->session_token)) !=
                    ERR_OK ||
                (e = append_header(&list, buf_cstr(&line), ei)) != ERR_OK) {
                goto out;
            }
        }
        if (s->amz_date) {
            buf_reset(&line);
            if ((e = buf_printf(&line, "x-amz-date: %s", s->amz_date)) != ERR_OK ||
                (e = append_header(&list, buf_cstr(&line), ei)) != ERR_OK) {
                goto out;
            }
        }
    }
out:
    if (e == ERR_TOO_LARGE) {
        e = err_set(ei, ERR_INVALID, "request header too long");
    }
    buf_free(&line);
    if (e != ERR_OK) {
        curl_slist_free_all(list);
        return e;
    }
    *out = list;
    return ERR_OK;
}

static bool sigv4_part_ok(const char *s)
{
    if (!s || !s[0] || strlen(s) > 64) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (*p == ':' || (unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) {
            return false;
        }
    }
    return true;
}

static enum err validate(const struct httpc_request *req, struct err_info *ei)
{
    if (!req->url || !req->url[0]) {
        return err_set(ei, ERR_INVALID, "request without a URL");
    }
    if (strlen(req->url) > HTTPC_URL_MAX) {
        return err_set(ei, ERR_INVALID, "URL longer than %d bytes", HTTPC_URL_MAX);
    }
    if (strncasecmp(req->url, "http://", 7) != 0 && strncasecmp(req->url, "https://", 8) != 0) {
        return err_set(ei, ERR_INVALID, "URL \"%.200s\" is not http or https", req->url);
    }
    for (const char *p = req->url; *p; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
            return err_set(ei, ERR_INVALID, "URL contains a space or control character");
        }
    }
    if (req->body && req->body_file) {
        return err_set(ei, ERR_INVALID, "request has both a memory body and a body file");
    }
    if ((req->method == HTTPC_GET || req->method == HTTPC_HEAD) &&
        (req->body || req->body_file)) {
        return err_set(ei, ERR_INVALID, "%s request cannot carry a body",
                       httpc_method_name(req->method));
    }
    if (req->sigv4) {
        const struct httpc_sigv4 *s = req->sigv4;
        if (req->bearer_token) {
            return err_set(ei, ERR_INVALID, "request cannot use both SigV4 and a bearer token");
        }
        if (!s->access_key_id || !s->access_key_id[0] || strchr(s->access_key_id, ':') ||
            !s->secret_access_key || !s->secret_access_key[0]) {
            return err_set(ei, ERR_INVALID, "SigV4 signing needs an access key id and a secret");
        }
        if (!sigv4_part_ok(s->region) || !sigv4_part_ok(s->service)) {
            return err_set(ei, ERR_INVALID, "SigV4 signing needs a valid region and service");
        }
        if (s->amz_date && (strlen(s->amz_date) != 16 || s->amz_date[8] != 'T' ||
                            s->amz_date[15] != 'Z')) {
            return err_set(ei, ERR_INVALID, "invalid x-amz-date \"%.32s\"", s->amz_date);
        }
    }
    if (req->expect_sum && req->sum == HTTPC_SUM_NONE) {
        return err_set(ei, ERR_INVALID, "expected digest given without a digest algorithm");
    }
    if (req->max_attempts < 0 || req->max_attempts > HTTPC_MAX_ATTEMPTS_CAP) {
        return err_set(ei, ERR_INVALID, "max_attempts must be between 0 and %d",
                       HTTPC_MAX_ATTEMPTS_CAP);
    }
    return ERR_OK;
}

/* Open the body file and work out the range to send. */
static enum err open_body_file(const struct httpc_request *req, int *fd_out, uint64_t *len_out,
                               struct err_info *ei)
{
    int fd = open(req->body_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return err_set(ei, ERR_IO, "could not open file \"%s\": %s", req->body_file,
                       ERR_ERRNO(errno));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        (void)close(fd);
        return err_set(ei, ERR_IO, "\"%s\" is not a regular file", req->body_file);
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (req->body_file_offset > size) {
        (void)close(fd);
        return err_set(ei, ERR_INVALID, "offset %llu is past the end of \"%s\"",
                       (unsigned long long)req->body_file_offset, req->body_file);
    }
    uint64_t len = req->body_file_len ? req->body_file_len : size - req->body_file_offset;
    if (len > size - req->body_file_offset) {
        (void)close(fd);
        return err_set(ei, ERR_INVALID, "range of %llu bytes runs past the end of \"%s\"",
                       (unsigned long long)len, req->body_file);
    }
    *fd_out = fd;
    *len_out = len;
    return ERR_OK;
}

/* Set option @p opt on easy handle `h` unless an earlier one failed (`rc`): the first failing
 * option's code is kept. Used by setup_method and setup_easy only. */
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK) {                                                                      \
            rc = curl_easy_setopt(h, opt, val);                                                    \
        }                                                                                          \
    } while (0)

/* Method, body size and upload callbacks; the first failing option's code, else CURLE_OK. */
static CURLcode setup_method(CURL *h, const struct httpc_request *req, struct xfer *x)
{
    CURLcode rc = CURLE_OK;
    bool has_body = req->body || req->body_file;
    switch (req->method) {
    case HTTPC_GET:
        SET(CURLOPT_HTTPGET, 1L);
        break;
    case HTTPC_HEAD:
        SET(CURLOPT_NOBODY, 1L);
        break;
    case HTTPC_POST:
    case HTTPC_PATCH:
        SET(CURLOPT_POST, 1L);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->up_len);
        if (!has_body) {
            SET(CURLOPT_POSTFIELDS, "");
        }
        if (req->method == HTTPC_PATCH) {
            SET(CURLOPT_CUSTOMREQUEST, "PATCH");
        }
        break;
    case HTTPC_PUT:
        SET(CURLOPT_UPLOAD, 1L);
        SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->up_len);
        break;
    case HTTPC_DELETE:
        SET(CURLOPT_CUSTOMREQUEST, "DELETE");
        if (has_body) {
            SET(CURLOPT_POST, 1L);
            SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->up_len);
        }
        break;
    }
    if (has_body || req->method == HTTPC_PUT) {
        SET(CURLOPT_READFUNCTION, on_read);
        SET(CURLOPT_READDATA, x);
        SET(CURLOPT_SEEKFUNCTION, on_seek);
        SET(CURLOPT_SEEKDATA, x);
    }
    return rc;
}

/* Set every option of one attempt on the (reset) easy handle. */
static enum err setup_easy(struct httpc *c, const struct httpc_request *req, struct xfer *x,
                           struct curl_slist *headers, char *sigv4_param, long connect_ms,
                           long total_ms, struct err_info *ei)
{
    CURL *h = c->easy;
    CURLcode rc = CURLE_OK;
    curl_easy_reset(h);
    c->errbuf[0] = '\0';
    SET(CURLOPT_ERRORBUFFER, c->errbuf);
    SET(CURLOPT_URL, req->url);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    SET(CURLOPT_TIMEOUT_MS, total_ms);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_USERAGENT, c->user_agent);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, x);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_HTTPHEADER, headers);
    SET(CURLOPT_ACCEPT_ENCODING, NULL);
    if (req->progress) {
        SET(CURLOPT_XFERINFOFUNCTION, on_progress);
        SET(CURLOPT_XFERINFODATA, x);
        SET(CURLOPT_NOPROGRESS, 0L);
    }
    if (req->method == HTTPC_GET && !req->sigv4) {
        SET(CURLOPT_FOLLOWLOCATION, 1L);
        SET(CURLOPT_MAXREDIRS, HTTPC__MAX_REDIRS);
        SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    }
    if (c->ca_file) {
        SET(CURLOPT_CAINFO, c->ca_file);
    }
    if (c->client_cert) {
        SET(CURLOPT_SSLCERT, c->client_cert);
        SET(CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (c->client_key) {
        SET(CURLOPT_SSLKEY, c->client_key);
    }
    if (c->insecure) {
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (req->sigv4) {
        SET(CURLOPT_AWS_SIGV4, sigv4_param);
        SET(CURLOPT_USERNAME, req->sigv4->access_key_id);
        SET(CURLOPT_PASSWORD, req->sigv4->secret_access_key);
    }
#undef SET
    if (rc == CURLE_OK) {
        rc = setup_method(h, req, x);
    }
    if (rc != CURLE_OK) {
        return err_set(ei, ERR_INTERNAL, "could not configure libcurl: %s",
                       curl_easy_strerror(rc));
    }
    return ERR_OK;
}

static bool retryable_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

static enum err curl_err(CURLcode rc, const struct xfer *x, const char *url, const char *errbuf,
                         struct err_info *ei)
{
    const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    if (x->cancelled) {
        return err_set(ei, ERR_CANCELLED, "request to %s was cancelled", url);
    }
    if (x->too_large) {
        return err_set(ei, ERR_TOO_LARGE, "response body of %s exceeds the limit of %llu bytes",
                       url, (unsigned long long)x->max_body);
    }
    if (x->headers_too_many) {
        return err_set(ei, ERR_TOO_LARGE, "response headers of %s exceed the limit", url);
    }
    if (x->out_io_error) {
        return err_set(ei, ERR_IO, "could not write the body of %s: %s", url,
                       ERR_ERRNO(x->out_errno));
    }
    if (x->up_io_error) {
        return err_set(ei, ERR_IO, "could not read the upload body for %s: %s", url,
                       ERR_ERRNO(x->up_errno));
    }
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return err_set(ei, ERR_TIMEOUT, "request to %s timed out: %s", url, why);
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return err_set(ei, ERR_UNAVAILABLE, "could not connect to %s: %s", url, why);
    case CURLE_PARTIAL_FILE:
        return err_set(ei, ERR_HTTP, "truncated response from %s: %s", url, why);
    case CURLE_OUT_OF_MEMORY:
        return err_set(ei, ERR_NOMEM, "out of memory during request to %s", url);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return err_set(ei, ERR_INVALID, "invalid URL %s: %s", url, why);
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
        /* our own client certificate, key or CA bundle: a configuration error, never retried */
        return err_set(ei, ERR_INVALID, "TLS set-up for %s failed: %s", url, why);
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
        /* the handshake failed: the server refused our certificate or we refused its one */
        return err_set(ei, ERR_UNAUTHORIZED, "TLS handshake with %s failed: %s", url, why);
    default:
        return err_set(ei, ERR_HTTP, "request to %s failed: %s", url, why);
    }
}

static long backoff_delay(long base, int attempt)
{
    long d = base;
    for (int i = 1; i < attempt && d < HTTPC_MAX_BACKOFF_MS; i++) {
        d *= 2;
    }
    if (d > HTTPC_MAX_BACKOFF_MS) {
        d = HTTPC_MAX_BACKOFF_MS;
    }
    /* full jitter in [d/2, d] from the clock's low bits (no shared PRNG state) */
    uint64_t r = (uint64_t)clock_mono_ns();
    r ^= r >> 17;
    r *= 0x9e3779b97f4a7c15ULL;
    long half = d / 2;
    return half + (half > 0 ? (long)(r % (uint64_t)(half + 1)) : 0);
}

/* Retry-After in whole seconds on 429/503, in ms, capped; 0 when absent or a date. */
static long retry_after_ms(const struct httpc_response *resp)
{
    if (resp->status != 429 && resp->status != 503) {
        return 0;
    }
    const char *v = httpc_response_header(resp, "Retry-After");
    int64_t secs = 0;
    if (!v || str_to_i64(v, 0, 3600, &secs) != ERR_OK) {
        return 0;
    }
    long ms = (long)secs * 1000L;
    return ms > HTTPC_MAX_BACKOFF_MS ? HTTPC_MAX_BACKOFF_MS : ms;
}

static bool hex_equal(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

/* Compare the body digest with a response header holding a plain hex digest ("ETag"). */
static enum err check_sum_header(const struct httpc_response *resp, const char *name,
                                 const char *url, struct err_info *ei)
{
    const char *v = httpc_response_header(resp, name);
    if (!v) {
        return ERR_OK;
    }
    size_t len = strlen(v);
    if (len >= 2 && v[0] == '"' && v[len - 1] == '"') {
        v++;
        len -= 2;
    }
    if (len != strlen(resp->sum_hex)) {
        return ERR_OK; /* not a plain digest (multipart ETag, weak validator, ...) */
    }
    for (size_t i = 0; i < len; i++) {
        char ch = v[i];
        bool hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
        if (!hex) {
            return ERR_OK;
        }
    }
    if (strncasecmp(v, resp->sum_hex, len) != 0) {
        return err_set(ei, ERR_CHECKSUM, "checksum mismatch for %s: %s says %.*s, body has %s",
                       url, name, (int)len, v, resp->sum_hex);
    }
    return ERR_OK;
}

enum err httpc_do(struct httpc *c, const struct httpc_request *req, struct httpc_response *resp,
                  struct err_info *ei)
{
    enum err e = ERR_OK;
    struct curl_slist *headers = NULL;
    struct atomic_file out_af; /* req->out_file's temporary */
    out_af.fd = -1;
    out_af.tmp[0] = '\0';
    char *sigv4_param = NULL;
    struct xfer x;
    char url_msg[512];
    char payload_sha[HTTPC_SUM_HEX_MAX];

    memset(&x, 0, sizeof x);
    x.up_fd = -1;
    x.out_fd = -1;
    x.req = req;
    x.resp = resp;

    e = validate(req, ei);
    if (e != ERR_OK) {
        return e;
    }
    url_for_msg(req->url, url_msg, sizeof url_msg);

    if (req->body) {
        x.up_mem = req->body;
        x.up_len = req->body_len;
    } else if (req->body_file) {
        e = open_body_file(req, &x.up_fd, &x.up_len, ei);
        if (e != ERR_OK) {
            goto out;
        }
        x.up_off = req->body_file_offset;
    }
    if (req->sigv4) {
        if (req->sigv4->unsigned_payload) {
            (void)str_copy(payload_sha, sizeof payload_sha, "UNSIGNED-PAYLOAD");
        } else if (x.up_fd >= 0) {
            e = httpc_sum_file(HTTPC_SUM_SHA256, req->body_file, req->body_file_offset, x.up_len,
                               payload_sha, ei);
            if (e != ERR_OK) {
                goto out;
            }
            if (x.up_len == 0) {
                (void)str_copy(payload_sha, sizeof payload_sha, HTTPC__EMPTY_SHA256);
            }
        } else {
            e = httpc_sum_mem(HTTPC_SUM_SHA256, x.up_mem ? (const void *)x.up_mem : "", x.up_len,
                              payload_sha, ei);
            if (e != ERR_OK) {
                goto out;
            }
        }
        size_t n = strlen(req->sigv4->region) + strlen(req->sigv4->service) + 16;
        sigv4_param = malloc(n);
        if (!sigv4_param) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
            goto out;
        }
        (void)snprintf(sigv4_param, n, "aws:amz:%s:%s", req->sigv4->region,
                       req->sigv4->service);
    }
    e = build_headers(req, payload_sha, &headers, ei);
    if (e != ERR_OK) {
        goto out;
    }
    if (req->out_file) {
        e = atomic_file_open_replace(&out_af, req->out_file, ei);
        if (e != ERR_OK) {
            goto out;
        }
        x.out_fd = out_af.fd;
    }
    x.max_body = req->max_body ? req->max_body
                               : (req->out_file ? HTTPC_DEFAULT_MAX_FILE_BODY
                                                : HTTPC_DEFAULT_MAX_BODY);
    resp->body.max = req->out_file ? HTTPC_ERROR_BODY_MAX
                                   : (x.max_body > SIZE_MAX - 1 ? SIZE_MAX - 1
                                                                : (size_t)x.max_body);

    long connect_ms = req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                                  : c->connect_timeout_ms;
    long total_ms = req->total_timeout_ms > 0 ? req->total_timeout_ms : c->total_timeout_ms;
    int attempts = req->max_attempts > 0 ? req->max_attempts
                   : (req->method == HTTPC_POST || req->method == HTTPC_PATCH) ? 1
                                                                               : c->max_attempts;

    for (int attempt = 1;; attempt++) {
        /* fresh state for this attempt */
        headers_clear(resp);
        buf_reset(&resp->body);
        resp->status = 0;
        resp->body_bytes = 0;
        resp->sum_hex[0] = '\0';
        resp->attempts = attempt;
        x.status = 0;
        x.is_2xx = false;
        x.got = 0;
        x.up_pos = 0;
        x.too_large = x.headers_too_many = x.out_io_error = x.up_io_error = false;
        x.cancelled = false;
        httpc__sum_abort(&x.sum);
        if (x.out_fd >= 0 && (ftruncate(x.out_fd, 0) != 0 || lseek(x.out_fd, 0, SEEK_SET) != 0)) {
            e = err_set(ei, ERR_IO, "could not reset temporary file for \"%s\": %s",
                        req->out_file, ERR_ERRNO(errno));
            goto out;
        }
        e = httpc__sum_begin(&x.sum, req->sum, ei);
        if (e != ERR_OK) {
            goto out;
        }
        e = setup_easy(c, req, &x, headers, sigv4_param, connect_ms, total_ms, ei);
        if (e != ERR_OK) {
            goto out;
        }
        CURLcode rc = curl_easy_perform(c->easy);
        long status = 0;
        (void)curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
        char *eff = NULL;
        if (curl_easy_getinfo(c->easy, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff) {
            url_for_msg(eff, resp->effective_url, sizeof resp->effective_url);
        }
        resp->status = status;
        resp->body_bytes = x.got;
        bool retry = false;
        if (rc != CURLE_OK) {
            e = curl_err(rc, &x, url_msg, c->errbuf, ei);
            retry = retryable_curl(rc) && !x.too_large && !x.out_io_error && !x.up_io_error &&
                    !x.headers_too_many && !x.cancelled;
        } else if (status >= 500 || status == 429) {
            e = httpc_check(resp, url_msg, ei);
            retry = true;
        } else {
            e = ERR_OK;
        }
        if (retry && attempt < attempts) {
            long delay = backoff_delay(c->backoff_ms, attempt);
            long after = retry_after_ms(resp);
            clock_sleep_ms(after > delay ? after : delay);
            continue;
        }
        if (rc == CURLE_OK) {
            e = ERR_OK; /* a complete response: the status says the rest */
        }
        break;
    }
    if (e != ERR_OK) {
        goto out;
    }
    if (x.is_2xx || (resp->status >= 200 && resp->status < 300)) {
        e = httpc__sum_end(&x.sum, resp->sum_hex, ei);
        if (e != ERR_OK) {
            goto out;
        }
        if (req->expect_sum && !hex_equal(resp->sum_hex, req->expect_sum)) {
            e = err_set(ei, ERR_CHECKSUM, "checksum mismatch for %s: expected %s, got %s",
                        url_msg, req->expect_sum, resp->sum_hex);
            goto out;
        }
        if (req->expect_sum_header && resp->sum_hex[0]) {
            e = check_sum_header(resp, req->expect_sum_header, url_msg, ei);
            if (e != ERR_OK) {
                goto out;
            }
        }
        if (x.out_fd >= 0) {
            x.out_fd = -1; /* closed by the commit, or by the abort below */
            e = atomic_file_commit(&out_af, true, ei);
            if (e != ERR_OK) {
                goto out;
            }
        }
    }
    if (req->fail_on_status) {
        e = httpc_check(resp, url_msg, ei);
    }
out:
    httpc__sum_abort(&x.sum);
    atomic_file_abort(&out_af); /* no-op after the commit */
    if (x.up_fd >= 0) {
        (void)close(x.up_fd);
    }
    curl_slist_free_all(headers);
    free(sigv4_param);
    if (c->easy) {
        /* drop references to this call's buffers from the handle (cannot fail for NULL) */
        (void)curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, NULL);
        (void)curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, NULL);
    }
    return e;
}

/* "2026-11-21T21:22:28.123Z" (fraction optional); -1 if not that shape. */
static int64_t parse_iso8601(const char *s)
{
    int v[6] = {0};
    static const int widths[6] = {4, 2, 2, 2, 2, 2};
    static const char seps[6] = {'-', '-', 'T', ':', ':', '\0'};
    const char *p = s;
    for (int i = 0; i < 6; i++) {
        for (int k = 0; k < widths[i]; k++, p++) {
            if (*p < '0' || *p > '9') {
                return -1;
            }
            v[i] = v[i] * 10 + (*p - '0');
        }
        if (seps[i]) {
            if (*p != seps[i] && !(seps[i] == 'T' && *p == ' ')) {
                return -1;
            }
            p++;
        }
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            p++;
        }
    }
    if (!(p[0] == 'Z' && p[1] == '\0') && strcmp(p, "+00:00") != 0) {
        return -1;
    }
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60) {
        return -1;
    }
    struct tm tm = {.tm_year = v[0] - 1900, .tm_mon = v[1] - 1, .tm_mday = v[2],
                    .tm_hour = v[3], .tm_min = v[4], .tm_sec = v[5]};
    return (int64_t)timegm(&tm);
}

int64_t httpc_parse_date(const char *s)
{
    if (!s || !s[0]) {
        return -1;
    }
    if (s[0] >= '0' && s[0] <= '9' && strlen(s) >= 19 && s[4] == '-') {
        return parse_iso8601(s);
    }
    time_t t = curl_getdate(s, NULL);
    return t < 0 ? -1 : (int64_t)t;
}
