/* http.c - libmicrohttpd adapter (the only file that includes microhttpd.h).
 * Request life: first call = headers (route, auth, Content-Length cap; a refused upload is
 * answered at once and the connection closed), middle calls = body chunks appended under the
 * route's cap, last call = handler and response (answering on the second call keeps
 * keep-alive, toolchain.md §4). SPDX-License-Identifier: Apache-2.0 */
#include "http.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "problem.h"
#include "repo/repo.h"
#include "router.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#define REQUEST_ID_MAX 64

/* One open connection (MHD_OPTION_NOTIFY_CONNECTION): its client address, for the
 * per-client limit, and its header deadline, for the watchdog that cuts slow headers. */
struct conn_rec {
    struct conn_rec *prev, *next;
    MHD_socket fd;
    unsigned char addr[16]; /* IPv4 or IPv6 address bytes */
    size_t addr_len;
    int64_t deadline_ns; /* headers complete by then, or the connection is cut; 0 = in request */
    bool cut;
};

struct http_server {
    struct http_opts o;
    pthread_mutex_t mu; /* conns, nconns, log limiter */
    struct conn_rec *conns;
    size_t nconns;
    pthread_t watchdog;
    bool watchdog_on;
    atomic_bool stopping;
    int64_t mhd_log_next_ns; /* MHD's own messages: at most one line per HTTP_LOG_EVERY_S */
    uint64_t mhd_log_dropped;
    struct MHD_Daemon *d;
    int fd; /* listening socket until MHD_start_daemon takes it over, then -1 */
    char bound[300];
    bool quiesced;
    atomic_uint_fast64_t seq; /* request id counter */
    unsigned long long boot;  /* request id prefix */
};

struct conn_state {
    int64_t start_ns;
    enum http_method method;
    int route;       /* table row, ROUTE_NOT_FOUND or ROUTE_BAD_METHOD */
    int label_route; /* row for metrics and logs (a 405's path), or -1 */
    enum err early;  /* refused before the body: answer this */
    bool malformed;  /* the request line itself is refused (answered before routing) */
    int too_big;     /* 414 or 431: refused by our own limits below MHD's (answered first) */
    struct err_info ei;
    char allow[ROUTER_ALLOW_MAX];
    const char *params[REQ_MAX_PATH_PARAMS];
    size_t nparams;
    struct buf body;
    size_t discarded; /* body bytes read and dropped after a refusal */
    char request_id[REQUEST_ID_MAX + 1];
    char path[HTTP_PATH_MAX + 1]; /* params point into this copy */
};

/* ---- helpers ------------------------------------------------------------------------------ */

static bool request_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > REQUEST_ID_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':')) {
            return false;
        }
    }
    return true;
}

/* Strict UTF-8: no overlong forms (so no C0 80, the form a decoded NUL takes, see
 * unescape), no surrogates, nothing above U+10FFFF, no C0 control characters. */
static bool utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        size_t n;
        unsigned lo = 0x80;
        unsigned hi = 0xbf;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f) {
                return false;
            }
            p++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            lo = c == 0xe0 ? 0xa0 : 0x80;
            hi = c == 0xed ? 0x9f : 0xbf;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            lo = c == 0xf0 ? 0x90 : 0x80;
            hi = c == 0xf4 ? 0x8f : 0xbf;
        } else {
            return false;
        }
        p++;
        for (size_t i = 0; i < n; i++, p++) {
            unsigned b = *p;
            if (b < (i == 0 ? lo : 0x80) || b > (i == 0 ? hi : 0xbf)) {
                return false;
            }
        }
    }
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* MHD_OPTION_UNESCAPE_CALLBACK for the path and every query key and value: percent-decoding
 * in place as MHD's own, except that %00 becomes the overlong C0 80 instead of a NUL that
 * would silently cut the string ("/v1/jobs%00x" read as "/v1/jobs"); utf8_ok refuses it. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    char *w = s;
    for (const char *r = s; *r;) {
        int h1 = r[0] == '%' ? hexval(r[1]) : -1;
        int h2 = h1 >= 0 ? hexval(r[2]) : -1;
        if (h2 < 0) {
            *w++ = *r++;
            continue;
        }
        int v = h1 * 16 + h2;
        if (v == 0) {
            *w++ = (char)0xc0;
            *w++ = (char)0x80;
        } else {
            *w++ = (char)v;
        }
        r += 3;
    }
    *w = '\0';
    return (size_t)(w - s);
}

struct hdr_size {
    size_t bytes;
};

static enum MHD_Result
hdr_iter(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    struct hdr_size *h = cls;
    h->bytes += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " and CRLF */
    return MHD_YES;
}

struct query_ctx {
    struct req *req;
    bool overflow;
    size_t bytes;    /* of every key and value */
    const char *bad; /* first key or value that is not UTF-8 text */
};

static enum MHD_Result
query_iter(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    struct query_ctx *q = cls;
    if (q->req->nquery == REQ_MAX_QUERY) {
        q->overflow = true;
        return MHD_NO;
    }
    if (!q->bad && (!utf8_ok(key) || (value && !utf8_ok(value)))) {
        q->bad = key;
    }
    q->bytes += strlen(key) + (value ? strlen(value) : 0) + 2;
    q->req->query[q->req->nquery].key = key;
    q->req->query[q->req->nquery].value = value ? value : "";
    q->req->nquery++;
    return MHD_YES;
}

static const struct route *route_of(const struct conn_state *st)
{
    return st->route >= 0 ? &routes[st->route] : NULL;
}

static void add_header(struct MHD_Response *r, const char *k, const char *v)
{
    if (v && v[0]) {
        (void)MHD_add_response_header(r, k, v);
    }
}

/* Queue @p resp on @p c, observe metrics and write the access log line. */
static enum MHD_Result send_resp(struct http_server *s,
                                 struct MHD_Connection *c,
                                 struct conn_state *st,
                                 struct resp *resp,
                                 enum err e)
{
    struct MHD_Response *r;
    size_t len = resp->body.len;
    char *body = buf_take(&resp->body);
    if (body) {
        r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    } else {
        static char empty[1];
        r = MHD_create_response_from_buffer(0, empty, MHD_RESPMEM_PERSISTENT);
    }
    if (!r) {
        free(body);
        return MHD_NO;
    }
    add_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
    add_header(r, "X-Request-Id", st->request_id);
    add_header(r, MHD_HTTP_HEADER_LOCATION, resp->location);
    add_header(r, MHD_HTTP_HEADER_RETRY_AFTER, resp->retry_after);
    add_header(r, MHD_HTTP_HEADER_ETAG, resp->etag);
    add_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
               resp->cache_control ? resp->cache_control : "no-store");
    add_header(r, "Content-Security-Policy", resp->csp);
    add_header(r, "X-Content-Type-Options", "nosniff");
    if (resp->replayed) {
        add_header(r, "Idempotent-Replayed", "true");
    }
    if (resp->status == 405) {
        add_header(r, MHD_HTTP_HEADER_ALLOW, st->allow);
    }
    if (resp->status == 401) {
        add_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"obsflow\"");
    }
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)resp->status, r);
    MHD_destroy_response(r);

    int64_t dur = clock_mono_ns() - st->start_ns;
    metrics_http_observe(s->o.metrics, st->label_route, st->method, resp->status, dur);
    const char *label = st->label_route >= 0 ? routes[st->label_route].pattern : "unmatched";
    double ms = (double)dur / 1e6;
    if (resp->status >= 500 && resp->status != 503) {
        LOG_ERROR("http", "%s %s -> %d in %.3f ms: %s: %s", http_method_name(st->method), label,
                  resp->status, ms, err_str(e), st->ei.msg);
    } else if (resp->status == 503) {
        LOG_WARN("http", "%s %s -> %d in %.3f ms: %s", http_method_name(st->method), label,
                 resp->status, ms, st->ei.msg);
    } else if (resp->status >= 400) {
        LOG_INFO("http", "%s %s -> %d in %.3f ms: %s", http_method_name(st->method), label,
                 resp->status, ms, st->ei.msg);
    } else {
        LOG_DEBUG("http", "%s %s -> %d in %.3f ms", http_method_name(st->method), label,
                  resp->status, ms);
    }
    return ret;
}

/* Is this request on the CAOM repository's routes (torkeep's error format)? */
static bool torkeep_req(const struct conn_state *st)
{
    if (st->label_route >= 0) {
        return routes[st->label_route].torkeep;
    }
    return strncmp(st->path, "/caom2/", 7) == 0 || strcmp(st->path, "/caom2") == 0;
}

/* torkeep's error answer: text/plain, the message and a newline; our own failures say only
 * that they happened (the detail is logged under the request id). */
static enum MHD_Result
send_torkeep(struct http_server *s, struct MHD_Connection *c, struct conn_state *st, enum err e)
{
    struct resp resp;
    resp_init(&resp);
    int status = repo_status(e);
    resp.status = status;
    resp.content_type = "text/plain; charset=utf-8";
    enum err w;
    if (status == 503) {
        w = buf_printf(&resp.body, "temporarily unavailable: %s\n", st->path);
        str_copy(resp.retry_after, sizeof resp.retry_after, "5");
    } else if (status >= 500) {
        w = buf_printf(&resp.body, "unexpected exception: internal error (request id %s)\n",
                       st->request_id);
    } else if (strstr(st->ei.msg, "(sqlstate ")) { /* lib/db's text: logged only */
        w = buf_printf(&resp.body, "invalid input: the database refused a value (request id %s)\n",
                       st->request_id);
    } else {
        w = buf_printf(&resp.body, "%s\n", st->ei.msg[0] ? st->ei.msg : err_str(e));
    }
    if (w != ERR_OK) {
        buf_reset(&resp.body);
    }
    enum MHD_Result r = send_resp(s, c, st, &resp, e);
    resp_free(&resp);
    return r;
}

static enum MHD_Result
send_problem(struct http_server *s, struct MHD_Connection *c, struct conn_state *st, enum err e)
{
    if (torkeep_req(st)) {
        return send_torkeep(s, c, st, e);
    }
    struct resp resp;
    resp_init(&resp);
    if (st->ei.code == ERR_OK) {
        st->ei.code = e;
    }
    if (st->ei.msg[0] == '\0') {
        str_copy(st->ei.msg, sizeof st->ei.msg, problem_title(problem_status(e)));
    }
    if (problem_render(&resp, e, &st->ei, st->request_id) != ERR_OK) {
        LOG_ERROR("http", "could not render a problem document");
    }
    if (e == ERR_UNAVAILABLE) {
        str_copy(resp.retry_after, sizeof resp.retry_after, "1");
    }
    enum MHD_Result r = send_resp(s, c, st, &resp, e);
    resp_free(&resp);
    return r;
}

/* 405, 414 and 431 are not enum errs: render them by hand, as the problem document or as
 * torkeep's text. */
static enum MHD_Result send_custom(struct http_server *s,
                                   struct MHD_Connection *c,
                                   struct conn_state *st,
                                   int status,
                                   const char *code,
                                   const char *field)
{
    struct resp resp;
    resp_init(&resp);
    if (torkeep_req(st)) {
        resp.status = status;
        resp.content_type = "text/plain; charset=utf-8";
        if (buf_printf(&resp.body, "%s\n", st->ei.msg) != ERR_OK) {
            buf_reset(&resp.body);
        }
        enum MHD_Result r = send_resp(s, c, st, &resp, ERR_INVALID);
        resp_free(&resp);
        return r;
    }
    char type[96];
    snprintf(type, sizeof type, "https://obsflow.dev/problems/%s", code);
    json_t *doc = json_pack("{s:s,s:s,s:i,s:s,s:s,s:s}", "type", type, "title",
                            problem_title(status), "status", status, "code", code, "detail",
                            st->ei.msg, "request_id", st->request_id);
    if (doc && field && json_object_set_new(doc, "field", json_string(field)) != 0) {
        json_decref(doc);
        doc = NULL;
    }
    struct err_info ei;
    err_info_clear(&ei);
    if (!doc || resp_json(&resp, status, doc, &ei) != ERR_OK) {
        buf_reset(&resp.body);
    }
    json_decref(doc);
    resp.status = status;
    resp.content_type = "application/problem+json";
    enum MHD_Result r = send_resp(s, c, st, &resp, ERR_INVALID);
    resp_free(&resp);
    return r;
}

static enum MHD_Result
send_405(struct http_server *s, struct MHD_Connection *c, struct conn_state *st)
{
    err_set(&st->ei, ERR_INVALID, "method %s is not allowed here; allowed: %s",
            http_method_name(st->method), st->allow);
    return send_custom(s, c, st, 405, "method_not_allowed", NULL);
}

/* The request line and headers, before routing: our own size limits (below MHD's, so that
 * the answer is ours), and the path and every query key and value must be UTF-8 text without
 * NUL or control characters (a 400 naming the parameter, never a database error). */
static void check_request(struct MHD_Connection *c, struct conn_state *st, const char *url)
{
    struct req dummy;
    memset(&dummy, 0, sizeof dummy);
    struct query_ctx qc = {.req = &dummy};
    (void)MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, query_iter, &qc);
    struct hdr_size hs = {0};
    (void)MHD_get_connection_values(c, MHD_HEADER_KIND, hdr_iter, &hs);
    if (strlen(url) + qc.bytes > HTTP_URI_MAX) {
        err_set(&st->ei, ERR_INVALID, "the request URI is longer than %u bytes", HTTP_URI_MAX);
        st->too_big = 414;
    } else if (hs.bytes > HTTP_HEADERS_MAX) {
        err_set(&st->ei, ERR_INVALID, "the request headers are larger than %u bytes",
                HTTP_HEADERS_MAX);
        st->too_big = 431;
    } else if (!utf8_ok(url)) {
        st->malformed = true;
        err_set_field(&st->ei, ERR_PARSE, "path",
                      "the path is not UTF-8 text (or holds a NUL or control character)");
    } else if (qc.bad) {
        st->malformed = true;
        if (utf8_ok(qc.bad)) {
            err_set_field(&st->ei, ERR_PARSE, qc.bad,
                          "query parameter \"%.64s\" is not UTF-8 text (or holds a NUL or "
                          "control character)",
                          qc.bad);
        } else {
            err_set_field(&st->ei, ERR_PARSE, "query",
                          "a query parameter name is not UTF-8 text (or holds a NUL or control "
                          "character)");
        }
    }
}

/* Is @p ct application/json or application/...+json (parameters allowed)? */
static bool json_media_type(const char *ct)
{
    size_t n = strcspn(ct, "; \t");
    if (n == 16 && strncasecmp(ct, "application/json", n) == 0) {
        return true;
    }
    return n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
           strncasecmp(ct + n - 5, "+json", 5) == 0;
}

static bool body_pending(struct MHD_Connection *c)
{
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        return strcmp(cl, "0") != 0;
    }
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) !=
           NULL;
}

/* Checks that need only the headers; sets st->early on refusal. */
static void check_headers(struct http_server *s, struct MHD_Connection *c, struct conn_state *st)
{
    const struct route *rt = route_of(st);
    if (!rt) {
        return;
    }
    if (rt->auth && s->o.api_token && s->o.api_token[0]) {
        const char *h =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (!h) {
            st->early =
                err_set_field(&st->ei, ERR_UNAUTHORIZED, "Authorization",
                              "this route needs a bearer token (Authorization: Bearer ...)");
            return;
        }
        if (strncasecmp(h, "Bearer ", 7) != 0 ||
            !str_ct_equal(h + 7, strlen(h + 7), s->o.api_token, strlen(s->o.api_token))) {
            st->early =
                err_set_field(&st->ei, ERR_UNAUTHORIZED, "Authorization", "invalid bearer token");
            return;
        }
    }
    if (body_pending(c)) {
        /* a body is read as sent: no Content-Encoding; the JSON routes take JSON only (the
         * torkeep routes check their XML themselves) */
        const char *ce =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
        if (ce && strcasecmp(ce, "identity") != 0) {
            st->early = err_set_field(&st->ei, ERR_UNSUPPORTED, "Content-Encoding",
                                      "Content-Encoding is not supported; send the body as is");
            return;
        }
        const char *ct =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (!rt->torkeep && rt->body_max > 0 && (!ct || !json_media_type(ct))) {
            st->early = err_set_field(&st->ei, ERR_UNSUPPORTED, "Content-Type",
                                      "a request body must be sent as Content-Type: "
                                      "application/json");
            return;
        }
    }
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && rt->body_max > 0) {
        int64_t n = 0;
        if (str_to_i64(cl, 0, INT64_MAX, &n) == ERR_OK && (uint64_t)n > rt->body_max) {
            st->early = err_set_field(&st->ei, ERR_TOO_LARGE, "body",
                                      "request body of %lld bytes is over the limit of %zu bytes",
                                      (long long)n, rt->body_max);
            return;
        }
    }
    if (rt->needs_store && s->o.store_ready && !s->o.store_ready(s->o.store_ctx)) {
        st->early = err_set(&st->ei, ERR_UNAVAILABLE,
                            "the database is not available yet; try again shortly");
    }
}

static enum MHD_Result
dispatch_req(struct http_server *s, struct MHD_Connection *c, struct conn_state *st)
{
    if (st->too_big) {
        return send_custom(s, c, st, st->too_big,
                           st->too_big == 414 ? "uri_too_long" : "headers_too_large", NULL);
    }
    if (st->malformed) {
        return send_problem(s, c, st, ERR_PARSE);
    }
    if (st->route == ROUTE_NOT_FOUND) {
        err_set(&st->ei, ERR_NOT_FOUND, "no such route: %s %.200s", http_method_name(st->method),
                st->path[0] ? st->path : "(path too long)");
        return send_problem(s, c, st, ERR_NOT_FOUND);
    }
    if (st->route == ROUTE_BAD_METHOD) {
        return send_405(s, c, st);
    }
    if (st->early != ERR_OK) {
        return send_problem(s, c, st, st->early);
    }
    const struct route *rt = route_of(st);
    struct req req;
    memset(&req, 0, sizeof req);
    req.method = st->method;
    req.path = st->path;
    memcpy(req.params, st->params, sizeof req.params);
    req.nparams = st->nparams;
    req.body = st->body.len ? buf_cstr(&st->body) : NULL;
    req.body_len = st->body.len;
    req.content_type =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    req.idempotency_key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");
    req.request_id = st->request_id;
    req.authorization =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    req.if_match = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MATCH);
    req.if_none_match =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    req.host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    req.forwarded_proto = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-Proto");
    struct query_ctx qc = {.req = &req, .overflow = false};
    (void)MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, query_iter, &qc);
    if (qc.overflow) {
        err_set_field(&st->ei, ERR_PARSE, "query", "more than %d query parameters", REQ_MAX_QUERY);
        return send_problem(s, c, st, ERR_PARSE);
    }
    struct resp resp;
    resp_init(&resp);
    enum err e;
    if (rt->kind == ROUTE_METRICS) {
        e = metrics_render(s->o.metrics, s->o.jobs_fn, s->o.jobs_ctx, &resp.body);
        resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
        if (e != ERR_OK) {
            err_set(&st->ei, e, "could not render the metrics");
        }
    } else {
        e = rt->fn(s->o.app, &req, &resp, &st->ei);
    }
    enum MHD_Result r;
    if (e == ERR_OK) {
        r = send_resp(s, c, st, &resp, ERR_OK);
    } else {
        r = send_problem(s, c, st, e);
    }
    resp_free(&resp);
    return r;
}

/* Answer the request; every log line written meanwhile carries its request_id. */
static enum MHD_Result
dispatch(struct http_server *s, struct MHD_Connection *c, struct conn_state *st)
{
    log_ctx_set_request(st->request_id);
    enum MHD_Result r = dispatch_req(s, c, st);
    log_ctx_set_request(NULL);
    return r;
}

/* A repository moved by OBSFLOW_CAOM_BASE answers under that base: map it onto the route
 * table's "/caom2" (and hide "/caom2" itself then). */
static const char *
caom_base_rewrite(const struct http_server *s, const char *url, char *out, size_t cap)
{
    const char *base = s->o.caom_base;
    if (!base || !base[0] || strcmp(base, "/caom2") == 0) {
        return url;
    }
    size_t n = strlen(base);
    if (strncmp(url, base, n) == 0 && (url[n] == '/' || url[n] == '\0')) {
        int k = snprintf(out, cap, "/caom2%s", url + n);
        return (k > 0 && (size_t)k < cap) ? out : url;
    }
    if (strncmp(url, "/caom2", 6) == 0 && (url[6] == '/' || url[6] == '\0')) {
        return "/caom2-moved"; /* not a route: 404 */
    }
    return url;
}

static void conn_deadline(struct http_server *s, struct MHD_Connection *c, int64_t deadline_ns);

static enum MHD_Result on_request(void *cls,
                                  struct MHD_Connection *c,
                                  const char *url,
                                  const char *method,
                                  const char *version,
                                  const char *upload,
                                  size_t *upload_size,
                                  void **con_cls)
{
    (void)version;
    struct http_server *s = cls;
    struct conn_state *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st) {
            return MHD_NO;
        }
        *con_cls = st;
        conn_deadline(s, c, 0);
        st->start_ns = clock_mono_ns();
        st->method = router_method(method);
        const char *rid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
        if (rid && request_id_ok(rid)) {
            str_copy(st->request_id, sizeof st->request_id, rid);
        } else {
            unsigned long long n = atomic_fetch_add(&s->seq, 1);
            snprintf(st->request_id, sizeof st->request_id, "%08llx-%010llx",
                     s->boot & 0xffffffffULL, n);
        }
        st->route = ROUTE_NOT_FOUND;
        check_request(c, st, url);
        char moved[HTTP_PATH_MAX + 1];
        url = caom_base_rewrite(s, url, moved, sizeof moved);
        if (strlen(url) <= HTTP_PATH_MAX) {
            st->route = router_match(routes, routes_len, st->method, url, st->path, sizeof st->path,
                                     st->params, &st->nparams, st->allow);
            if (st->route < 0) {
                str_copy(st->path, sizeof st->path, url);
            }
        }
        st->label_route = st->route;
        if (st->route == ROUTE_BAD_METHOD) {
            st->label_route = router_path_row(routes, routes_len, url);
        }
        const struct route *rt = route_of(st);
        buf_init(&st->body, rt ? rt->body_max : 0);
        if (!st->malformed && !st->too_big) {
            check_headers(s, c, st);
        }
        bool refused = st->route < 0 || st->early != ERR_OK || st->malformed || st->too_big;
        if (refused && body_pending(c)) {
            /* do not read an upload we refuse: answer now, MHD closes the connection */
            return dispatch(s, c, st);
        }
        return MHD_YES;
    }
    if (*upload_size > 0) {
        const struct route *rt = route_of(st);
        if (st->early != ERR_OK || !rt || rt->body_max == 0) {
            /* a refused or unwanted body is read and dropped so that the 413 can be answered,
             * but not without end: a client that keeps sending is cut off */
            st->discarded += *upload_size;
            if (st->discarded > HTTP_DISCARD_MAX) {
                LOG_INFO("http", "closing a connection that sent over %u bytes of refused body",
                         HTTP_DISCARD_MAX);
                return MHD_NO;
            }
        } else {
            enum err e = buf_append(&st->body, upload, *upload_size);
            if (e != ERR_OK) {
                buf_free(&st->body);
                st->early =
                    err_set_field(&st->ei, e, "body", "request body is over the limit of %zu bytes",
                                  rt->body_max);
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    return dispatch(s, c, st);
}

static void on_completed(void *cls,
                         struct MHD_Connection *c,
                         void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    struct http_server *s = cls;
    /* kept alive: the next request's headers are due within the idle timeout plus the
     * header time */
    conn_deadline(s, c,
                  clock_mono_ns() +
                      (int64_t)(HTTP_CONN_TIMEOUT_S + HTTP_HEADER_TIMEOUT_S) * 1000000000LL);
    struct conn_state *st = *con_cls;
    if (st) {
        buf_free(&st->body);
        free(st);
        *con_cls = NULL;
    }
}

static VPRINTF_LIKE(2) void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct http_server *s = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) {
        msg[--n] = '\0';
    }
    if (strstr(msg, "connection limit")) {
        metrics_conn_refused(s->o.metrics, METRICS_REFUSED_TOTAL);
    }
    /* under a flood MHD writes a line per refused connection: counted in /metrics, and at
     * most one line per HTTP_LOG_EVERY_S reaches the log, with the number left out */
    int64_t now = clock_mono_ns();
    uint64_t dropped = 0;
    bool write = false;
    pthread_mutex_lock(&s->mu);
    if (now >= s->mhd_log_next_ns) {
        write = true;
        dropped = s->mhd_log_dropped;
        s->mhd_log_dropped = 0;
        s->mhd_log_next_ns = now + (int64_t)HTTP_LOG_EVERY_S * 1000000000LL;
    } else {
        s->mhd_log_dropped++;
    }
    pthread_mutex_unlock(&s->mu);
    if (write) {
        LOG_WARN("http", "libmicrohttpd: %s (%llu similar messages left out before this one)", msg,
                 (unsigned long long)dropped);
    }
}

/* ---- connection limits -------------------------------------------------------------------- */

static size_t addr_bytes(const struct sockaddr *sa, unsigned char out[16])
{
    if (sa && sa->sa_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        return 4;
    }
    if (sa && sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
        return 16;
    }
    return 0;
}

/* MHD_start_daemon's accept policy: refuse a client address that already holds
 * HTTP_CONN_PER_CLIENT connections (counted, not logged). */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addrlen;
    struct http_server *s = cls;
    unsigned char a[16];
    size_t n = addr_bytes(addr, a);
    if (n == 0) {
        return MHD_YES;
    }
    size_t same = 0;
    pthread_mutex_lock(&s->mu);
    for (const struct conn_rec *r = s->conns; r; r = r->next) {
        if (r->addr_len == n && memcmp(r->addr, a, n) == 0) {
            same++;
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (same >= HTTP_CONN_PER_CLIENT) {
        metrics_conn_refused(s->o.metrics, METRICS_REFUSED_PER_CLIENT);
        return MHD_NO;
    }
    return MHD_YES;
}

static void on_connection(void *cls,
                          struct MHD_Connection *c,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct http_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct conn_rec *r = calloc(1, sizeof *r);
        if (!r) {
            return; /* not tracked: MHD's idle timeout still applies */
        }
        const union MHD_ConnectionInfo *fi =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ai =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        r->fd = fi ? fi->connect_fd : MHD_INVALID_SOCKET;
        r->addr_len = ai ? addr_bytes(ai->client_addr, r->addr) : 0;
        r->deadline_ns = clock_mono_ns() + (int64_t)HTTP_HEADER_TIMEOUT_S * 1000000000LL;
        pthread_mutex_lock(&s->mu);
        r->next = s->conns;
        if (s->conns) {
            s->conns->prev = r;
        }
        s->conns = r;
        s->nconns++;
        pthread_mutex_unlock(&s->mu);
        *socket_context = r;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        struct conn_rec *r = *socket_context;
        if (!r) {
            return;
        }
        /* unlinked before MHD closes the socket: the watchdog never touches a closed fd */
        pthread_mutex_lock(&s->mu);
        if (r->prev) {
            r->prev->next = r->next;
        } else {
            s->conns = r->next;
        }
        if (r->next) {
            r->next->prev = r->prev;
        }
        s->nconns--;
        pthread_mutex_unlock(&s->mu);
        free(r);
        *socket_context = NULL;
    }
}

/* Set the header deadline of @p c's connection: 0 while a request is in progress. */
static void conn_deadline(struct http_server *s, struct MHD_Connection *c, int64_t deadline_ns)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn_rec *r = ci ? ci->socket_context : NULL;
    if (r) {
        pthread_mutex_lock(&s->mu);
        r->deadline_ns = deadline_ns;
        pthread_mutex_unlock(&s->mu);
    }
}

/* Cuts every connection whose request headers are not complete by its deadline (a connection
 * idle or trickling before its first request, or idle past the keep-alive timeout plus the
 * header time before its next): shutdown() makes MHD see the end of the stream and close it. */
static void *watchdog_main(void *arg)
{
    struct http_server *s = arg;
    while (!atomic_load(&s->stopping)) {
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
        int64_t now = clock_mono_ns();
        uint64_t cut = 0;
        pthread_mutex_lock(&s->mu);
        for (struct conn_rec *r = s->conns; r; r = r->next) {
            if (!r->cut && r->deadline_ns != 0 && now > r->deadline_ns &&
                r->fd != MHD_INVALID_SOCKET) {
                (void)shutdown(r->fd, SHUT_RDWR);
                r->cut = true;
                cut++;
            }
        }
        pthread_mutex_unlock(&s->mu);
        for (uint64_t i = 0; i < cut; i++) {
            metrics_conn_refused(s->o.metrics, METRICS_REFUSED_SLOW_HEADERS);
        }
    }
    return NULL;
}

/* ---- socket ------------------------------------------------------------------------------- */

static enum err listen_socket(struct http_server *s, struct err_info *ei)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char port[16];
    snprintf(port, sizeof port, "%d", s->o.port);
    int rc = getaddrinfo(s->o.host, port, &hints, &res);
    if (rc != 0) {
        return err_set_field(ei, ERR_INVALID, "OBSFLOW_LISTEN",
                             "could not resolve listen host \"%s\": %s", s->o.host,
                             gai_strerror(rc));
    }
    enum err e = ERR_IO;
    int saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
            saved = errno;
            close(fd);
            continue;
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
            saved = errno;
            close(fd);
            continue;
        }
        char host[INET6_ADDRSTRLEN];
        int bport;
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof host);
            bport = ntohs(a6->sin6_port);
            snprintf(s->bound, sizeof s->bound, "[%s]:%d", host, bport);
        } else {
            struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a4->sin_addr, host, sizeof host);
            bport = ntohs(a4->sin_port);
            snprintf(s->bound, sizeof s->bound, "%s:%d", host, bport);
        }
        s->fd = fd;
        e = ERR_OK;
        break;
    }
    freeaddrinfo(res);
    if (e != ERR_OK) {
        return err_set_field(ei, ERR_IO, "OBSFLOW_LISTEN", "could not listen on %s:%d: %s",
                             s->o.host, s->o.port, ERR_ERRNO(saved));
    }
    return ERR_OK;
}

enum err http_start(const struct http_opts *o, struct http_server **out, struct err_info *ei)
{
    struct http_server *s = calloc(1, sizeof *s);
    if (!s) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    s->o = *o;
    s->fd = -1;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        return err_set(ei, ERR_INTERNAL, "could not create a mutex");
    }
    s->boot = (unsigned long long)clock_realtime_ns() ^ ((unsigned long long)getpid() << 20);
    enum err e = listen_socket(s, ei);
    if (e != ERR_OK) {
        pthread_mutex_destroy(&s->mu);
        free(s);
        return e;
    }
    unsigned int flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    /* clang-format off */
    s->d = MHD_start_daemon(flags, 0, on_accept, s, on_request, s,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
                            MHD_OPTION_LISTEN_SOCKET, s->fd,
                            MHD_OPTION_THREAD_POOL_SIZE,
                            (unsigned int)(o->threads > 0 ? o->threads : 1),
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_CONN_LIMIT,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_CONN_TIMEOUT_S,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_UNESCAPE_CALLBACK, unescape, s,
                            MHD_OPTION_END);
    /* clang-format on */
    if (!s->d) {
        /* not closed here: whether a failed MHD_start_daemon has already closed a socket given
         * by MHD_OPTION_LISTEN_SOCKET differs between MHD versions, and closing a descriptor
         * twice may close one another thread has opened since; the process exits after this */
        pthread_mutex_destroy(&s->mu);
        free(s);
        return err_set(ei, ERR_INTERNAL, "could not start the HTTP server");
    }
    if (pthread_create(&s->watchdog, NULL, watchdog_main, s) != 0) {
        MHD_stop_daemon(s->d);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return err_set(ei, ERR_INTERNAL, "could not start the connection watchdog");
    }
    s->watchdog_on = true;
    /* the daemon owns the listening socket now and MHD_stop_daemon closes it (closing it
     * again in http_stop could close a descriptor another thread had opened meanwhile) */
    s->fd = -1;
    *out = s;
    return ERR_OK;
}

const char *http_bound(const struct http_server *s)
{
    return s->bound;
}

void http_quiesce(struct http_server *s)
{
    if (s && s->d && !s->quiesced) {
        /* MHD stops polling the listening socket and hands it back: close it so that new
         * connections are refused at once instead of waiting in the kernel's backlog */
        MHD_socket fd = MHD_quiesce_daemon(s->d);
        if (fd != MHD_INVALID_SOCKET) {
            close(fd);
        }
        s->quiesced = true;
    }
}

void http_stop(struct http_server *s)
{
    if (!s) {
        return;
    }
    if (s->watchdog_on) {
        atomic_store(&s->stopping, true);
        pthread_join(s->watchdog, NULL);
    }
    if (s->d) {
        MHD_stop_daemon(s->d);
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
}
