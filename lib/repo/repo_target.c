/* repo_target.c - where pushes go: one ops table (get, put, post, delete, list) with two
 * implementations, the local store (repo_store functions, no HTTP hop) and a remote caom2
 * repository over lib/httpc (bearer token or client certificate, VOSI capabilities lookup,
 * torkeep's status mapping and cadcutils' retry policy: 503 with Retry-After, 504, 408 and
 * broken connections retried with a doubling delay; every other 4xx final).
 * httpc's own retries are off (one attempt per httpc_do) so there is one retry policy.
 * SPDX-License-Identifier: Apache-2.0 */
#include "repo/repo.h"
#include "repo/repo_int.h"

#include "caom/caom.h"
#include "core/clock.h"
#include "core/str.h"
#include "httpc/httpc.h"

#include <stdlib.h>
#include <string.h>

/* ---- the ops table ------------------------------------------------------------------------ */

struct repo_target_ops {
    enum err (*get)(struct repo_target *t,
                    const char *collection,
                    const char *obs_id,
                    struct repo_doc *out,
                    struct err_info *ei);
    enum err (*put)(struct repo_target *t,
                    const char *collection,
                    const char *obs_id,
                    const char *xml,
                    size_t len,
                    struct repo_write_result *res,
                    struct err_info *ei);
    enum err (*post)(struct repo_target *t,
                     const char *collection,
                     const char *obs_id,
                     const char *xml,
                     size_t len,
                     const char *if_match,
                     struct repo_write_result *res,
                     struct err_info *ei);
    enum err (*del)(struct repo_target *t,
                    const char *collection,
                    const char *obs_id,
                    struct err_info *ei);
    enum err (*list)(struct repo_target *t,
                     const struct repo_list_query *q,
                     struct buf *out,
                     struct err_info *ei);
};

struct repo_target {
    const struct repo_target_ops *ops;
    /* local */
    struct repo_store *store; /* borrowed */
    /* remote */
    struct httpc *h;
    char *url;                 /* as given: a base or a capabilities URL */
    char *token;               /* or NULL */
    bool has_cert;             /* a client certificate is configured */
    bool resolved;             /* base is set */
    char base[REPO__BASE_MAX]; /* ".../observations" */
    long timeout_ms;
    int retries; /* retries after the first attempt */
    int retry_after_cap_s;
    long retry_base_ms;
};

/* ---- small helpers (declared in repo_int.h, unit-tested) --------------------------------- */

enum err repo__base_normalise(const char *url, char *out, size_t cap, struct err_info *ei)
{
    if (!url || !(str_starts_with(url, "http://") || str_starts_with(url, "https://"))) {
        return err_set(ei, ERR_INVALID, "invalid repository URL \"%.200s\": expected http(s)://",
                       url ? url : "");
    }
    const char *hostpart = url + (url[4] == 's' ? 8 : 7);
    if (!hostpart[0] || hostpart[0] == '/' || strpbrk(url, "?# \t\r\n")) {
        return err_set(ei, ERR_INVALID,
                       "invalid repository URL \"%.200s\": expected http(s)://host[:port]/path "
                       "without query or fragment",
                       url);
    }
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/') {
        n--;
    }
    static const char suffix[] = "/observations";
    bool has_suffix = n >= sizeof suffix - 1 &&
                      memcmp(url + n - (sizeof suffix - 1), suffix, sizeof suffix - 1) == 0;
    size_t need = n + (has_suffix ? 0 : sizeof suffix - 1) + 1;
    if (need > cap) {
        return err_set(ei, ERR_TOO_LARGE, "repository URL longer than %zu bytes", cap - 1);
    }
    memcpy(out, url, n);
    if (!has_suffix) {
        memcpy(out + n, suffix, sizeof suffix - 1);
        n += sizeof suffix - 1;
    }
    out[n] = '\0';
    return ERR_OK;
}

bool repo__is_capabilities_url(const char *url)
{
    if (!url) {
        return false;
    }
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/') {
        n--;
    }
    static const char suffix[] = "/capabilities";
    return n >= sizeof suffix - 1 &&
           memcmp(url + n - (sizeof suffix - 1), suffix, sizeof suffix - 1) == 0;
}

const char *repo__security_method(bool has_token, bool has_cert)
{
    if (has_token) {
        return REPO__SEC_TOKEN;
    }
    if (has_cert) {
        return REPO__SEC_CERT;
    }
    return NULL;
}

enum err repo__obs_url(struct buf *out,
                       const char *base,
                       const char *collection,
                       const char *obs_id,
                       struct err_info *ei)
{
    if (!collection || !collection[0]) {
        return err_set_field(ei, ERR_INVALID, "collection", "empty collection name");
    }
    if (obs_id && !obs_id[0]) {
        return err_set_field(ei, ERR_INVALID, "observationID", "empty observationID");
    }
    enum err e = buf_puts(out, base);
    if (e == ERR_OK) {
        e = buf_puts(out, "/");
    }
    if (e == ERR_OK) {
        e = httpc_url_encode(out, collection, false);
    }
    if (e == ERR_OK && obs_id) {
        e = buf_puts(out, "/");
        if (e == ERR_OK) {
            e = httpc_url_encode(out, obs_id, false);
        }
    }
    if (e != ERR_OK) {
        return err_set(ei, e, "could not build the URL of caom:%.128s/%.256s", collection,
                       obs_id ? obs_id : "");
    }
    return ERR_OK;
}

enum err repo__list_url(struct buf *out,
                        const char *base,
                        const struct repo_list_query *q,
                        struct err_info *ei)
{
    enum err e = repo__obs_url(out, base, q->collection, NULL, ei);
    if (e != ERR_OK) {
        return e;
    }
    int64_t maxrec = q->maxrec > 0 ? q->maxrec : REPO_LIST_MAXREC;
    e = buf_printf(out, "?maxrec=%lld", (long long)maxrec);
    char d[32];
    if (e == ERR_OK && q->has_start) {
        caom_date_format(q->start_ms, d);
        e = buf_printf(out, "&start=%s", d);
    }
    if (e == ERR_OK && q->has_end) {
        caom_date_format(q->end_ms, d);
        e = buf_printf(out, "&end=%s", d);
    }
    if (e == ERR_OK && q->desc) {
        e = buf_puts(out, "&order=desc");
    }
    if (e != ERR_OK) {
        return err_set(ei, e, "could not build the list URL of %.128s", q->collection);
    }
    return ERR_OK;
}

enum err repo__status_err(long status)
{
    if (status >= 200 && status < 300) {
        return ERR_OK;
    }
    switch (status) {
    case 400:
        return ERR_PARSE;
    case 401:
        return ERR_UNAUTHORIZED;
    case 403:
        return ERR_FORBIDDEN;
    case 404:
    case 410:
        return ERR_NOT_FOUND;
    case 408:
    case 504:
        return ERR_TIMEOUT;
    case 409:
        return ERR_CONFLICT;
    case 412:
        return ERR_PRECONDITION;
    case 413:
        return ERR_TOO_LARGE;
    case 415:
        return ERR_UNSUPPORTED;
    case 429:
    case 503:
        return ERR_UNAVAILABLE;
    default:
        return ERR_HTTP;
    }
}

bool repo__status_retryable(long status)
{
    /* cadcutils retries 503, 504 and 408; a 502 comes from a proxy in front of a repository
     * that is restarting, which is the same situation as its 503 */
    return status == 408 || status == 502 || status == 503 || status == 504;
}

bool repo__transport_retryable(enum err e, const char *msg)
{
    switch (e) {
    case ERR_TIMEOUT:
    case ERR_UNAVAILABLE:
        return true;
    case ERR_HTTP:
        /* a reset, an empty or a truncated answer; not a TLS handshake or certificate failure,
         * which stays the same however often it is tried */
        return !(msg && (strstr(msg, "certificate") || strstr(msg, "SSL") ||
                         strstr(msg, "TLS") || strstr(msg, "handshake")));
    default:
        return false;
    }
}

long repo__retry_after_ms(const char *value, int64_t now_s, int cap_s)
{
    if (!value) {
        return -1;
    }
    while (*value == ' ' || *value == '\t') {
        value++;
    }
    if (!value[0]) {
        return -1;
    }
    int64_t secs = 0;
    if (value[0] >= '0' && value[0] <= '9') {
        if (str_to_i64(value, 0, INT64_MAX / 1000, &secs) != ERR_OK) {
            return -1;
        }
    } else {
        int64_t at = httpc_parse_date(value);
        if (at < 0) {
            return -1;
        }
        secs = at > now_s ? at - now_s : 0;
    }
    if (cap_s >= 0 && secs > cap_s) {
        secs = cap_s;
    }
    return (long)(secs * 1000);
}

long repo__retry_delay_ms(
    long status, const char *retry_after, int retry, long base_ms, int cap_s, int64_t now_s)
{
    long cap_ms = (long)cap_s * 1000L;
    if (status == 503) {
        long ra = repo__retry_after_ms(retry_after, now_s, cap_s);
        if (ra >= 0) {
            return ra;
        }
    }
    long d = base_ms > 0 ? base_ms : 0;
    for (int i = 1; i < retry && d < cap_ms; i++) {
        d *= 2;
    }
    return d > cap_ms ? cap_ms : d;
}

void repo__body_line(const char *body, size_t len, char *out, size_t cap)
{
    if (cap == 0) {
        return;
    }
    size_t lim = cap < REPO__ERR_LINE_MAX ? cap : REPO__ERR_LINE_MAX;
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n')) {
        i++;
    }
    size_t n = 0;
    for (; i < len && body[i] != '\n' && body[i] != '\r' && body[i] != '\0'; i++) {
        unsigned char c = (unsigned char)body[i];
        if (c < 0x20 && c != '\t') {
            continue;
        }
        if (n + 1 >= lim) {
            break;
        }
        out[n++] = (char)(c == '\t' ? ' ' : c);
    }
    while (n > 0 && out[n - 1] == ' ') {
        n--;
    }
    out[n] = '\0';
}

bool repo__etag_value(const char *etag, char *out, size_t cap)
{
    if (cap > 0) {
        out[0] = '\0';
    }
    if (!etag) {
        return false;
    }
    if (strncmp(etag, "W/", 2) == 0) {
        etag += 2;
    }
    size_t n = strlen(etag);
    if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
        etag++;
        n -= 2;
    }
    if (n == 0 || n >= cap) {
        return false;
    }
    memcpy(out, etag, n);
    out[n] = '\0';
    return true;
}

bool repo__root_attr(const char *xml, size_t len, const char *name, char *out, size_t cap)
{
    const char *end = xml + len;
    const char *p = xml;
    /* skip the declaration, comments and processing instructions to the root start tag */
    for (;;) {
        p = memchr(p, '<', (size_t)(end - p));
        if (!p || end - p < 2) {
            return false;
        }
        if (p[1] == '?' || p[1] == '!') {
            p++;
            continue;
        }
        break;
    }
    const char *tag_end = memchr(p, '>', (size_t)(end - p));
    if (!tag_end) {
        return false;
    }
    size_t nlen = strlen(name);
    for (const char *q = p + 1; q + nlen + 2 <= tag_end; q++) {
        if (memcmp(q, name, nlen) != 0 || q[nlen] != '=' ||
            (q[nlen + 1] != '"' && q[nlen + 1] != '\'')) {
            continue;
        }
        char before = q[-1]; /* q > p */
        if (before != ' ' && before != ':' && before != '\t' && before != '\n' && before != '\r') {
            continue;
        }
        char quote = q[nlen + 1];
        const char *v = q + nlen + 2;
        const char *ve = memchr(v, quote, (size_t)(tag_end - v));
        if (!ve || (size_t)(ve - v) >= cap) {
            return false;
        }
        memcpy(out, v, (size_t)(ve - v));
        out[ve - v] = '\0';
        return true;
    }
    return false;
}

/* ---- local target ------------------------------------------------------------------------ */

static enum err local_get(struct repo_target *t,
                          const char *collection,
                          const char *obs_id,
                          struct repo_doc *out,
                          struct err_info *ei)
{
    return repo_get(t->store, collection, obs_id, out, ei);
}

static enum err local_put(struct repo_target *t,
                          const char *collection,
                          const char *obs_id,
                          const char *xml,
                          size_t len,
                          struct repo_write_result *res,
                          struct err_info *ei)
{
    struct repo_write_result tmp;
    return repo_put(t->store, collection, obs_id, xml, len, res ? res : &tmp, ei);
}

static enum err local_post(struct repo_target *t,
                           const char *collection,
                           const char *obs_id,
                           const char *xml,
                           size_t len,
                           const char *if_match,
                           struct repo_write_result *res,
                           struct err_info *ei)
{
    struct repo_write_result tmp;
    return repo_post(t->store, collection, obs_id, xml, len, if_match, res ? res : &tmp, ei);
}

static enum err
local_del(struct repo_target *t, const char *collection, const char *obs_id, struct err_info *ei)
{
    return repo_delete(t->store, collection, obs_id, ei);
}

static enum err local_list(struct repo_target *t,
                           const struct repo_list_query *q,
                           struct buf *out,
                           struct err_info *ei)
{
    return repo_list(t->store, q, out, ei);
}

static const struct repo_target_ops local_ops = {
    .get = local_get,
    .put = local_put,
    .post = local_post,
    .del = local_del,
    .list = local_list,
};

enum err repo_target_local(struct repo_store *s, struct repo_target **out, struct err_info *ei)
{
    if (!s) {
        return err_set(ei, ERR_INVALID, "no repository store");
    }
    struct repo_target *t = calloc(1, sizeof *t);
    if (!t) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    t->ops = &local_ops;
    t->store = s;
    *out = t;
    return ERR_OK;
}

/* ---- remote target: one request with the retry policy ----------------------------------- */

struct remote_call {
    enum httpc_method method;
    const char *url;
    const char *what;           /* "caom:C/ID", "caom:C" or the URL, for messages */
    const char *const *headers; /* NULL-terminated, or NULL */
    const char *body;
    size_t body_len;
    bool send_token;
    uint64_t max_body;
};

/* The error of a final non-2xx answer: the server's first text line as the message (torkeep
 * messages reach the caller unchanged), or the status and URL when there is none. Server-side
 * failures also name the status, the URL and the attempts made. */
static enum err remote_status_error(const struct remote_call *c,
                                    const struct httpc_response *r,
                                    int attempts,
                                    struct err_info *ei)
{
    enum err e = repo__status_err(r->status);
    const char *ct = httpc_response_header(r, "Content-Type");
    char line[REPO__ERR_LINE_MAX];
    line[0] = '\0';
    if (!ct || str_starts_with(ct, "text/plain")) {
        repo__body_line(r->body.data ? r->body.data : "", r->body.len, line, sizeof line);
    }
    if (r->status >= 500 || e == ERR_TIMEOUT || e == ERR_UNAVAILABLE) {
        const char *s = attempts == 1 ? "" : "s";
        if (line[0]) {
            return err_set(ei, e, "%s (HTTP %ld from %.200s after %d attempt%s)", line, r->status,
                           c->url, attempts, s);
        }
        return err_set(ei, e, "HTTP %ld from %.200s after %d attempt%s", r->status, c->url,
                       attempts, s);
    }
    if (line[0]) {
        return err_set(ei, e, "%s", line);
    }
    return err_set(ei, e, "HTTP %ld for %s %.300s", r->status, httpc_method_name(c->method),
                   c->what);
}

static enum err remote_do(struct repo_target *t,
                          const struct remote_call *c,
                          struct httpc_response *resp,
                          struct err_info *ei)
{
    struct httpc_request req = {
        .method = c->method,
        .url = c->url,
        .headers = c->headers,
        .bearer_token = c->send_token ? t->token : NULL,
        .body = c->body,
        .body_len = c->body_len,
        .max_body = c->max_body,
        .total_timeout_ms = t->timeout_ms,
        .max_attempts = 1,
    };
    for (int attempt = 1;; attempt++) {
        struct err_info hei;
        err_info_clear(&hei);
        httpc_response_free(resp);
        httpc_response_init(resp);
        enum err e = httpc_do(t->h, &req, resp, &hei);
        long status = 0;
        if (e != ERR_OK) {
            if (!repo__transport_retryable(e, hei.msg) || attempt > t->retries) {
                if (ei) {
                    *ei = hei;
                }
                if (attempt > 1) {
                    err_prefix(ei, "after %d attempts: ", attempt);
                }
                return e;
            }
        } else if (resp->status >= 200 && resp->status < 300) {
            return ERR_OK;
        } else if (!repo__status_retryable(resp->status) || attempt > t->retries) {
            return remote_status_error(c, resp, attempt, ei);
        } else {
            status = resp->status;
        }
        const char *ra = status ? httpc_response_header(resp, "Retry-After") : NULL;
        long delay = repo__retry_delay_ms(status, ra, attempt, t->retry_base_ms,
                                          t->retry_after_cap_s, clock_realtime_ns() / 1000000000LL);
        clock_sleep_ms(delay);
    }
}

/* Resolve the base URL on first use: a capabilities URL is fetched once and the accessURL of
 * the #obs-1.2 capability (else #obs-1.1) for our credentials taken, else the anonymous one. */
static enum err remote_base(struct repo_target *t, struct err_info *ei)
{
    if (t->resolved) {
        return ERR_OK;
    }
    if (!repo__is_capabilities_url(t->url)) {
        enum err e = repo__base_normalise(t->url, t->base, sizeof t->base, ei);
        if (e == ERR_OK) {
            t->resolved = true;
        }
        return e;
    }
    struct httpc_response resp;
    httpc_response_init(&resp);
    const char *headers[] = {"Accept: text/xml", NULL};
    struct remote_call c = {
        .method = HTTPC_GET,
        .url = t->url,
        .what = t->url,
        .headers = headers,
        .send_token = false,
        .max_body = REPO__CAPS_MAX,
    };
    char access[REPO__BASE_MAX];
    enum err e = remote_do(t, &c, &resp, ei);
    if (e != ERR_OK) {
        err_prefix(ei, "could not read the capabilities %.200s: ", t->url);
        goto out;
    }
    const char *sec = repo__security_method(t->token != NULL, t->has_cert);
    const char *const stds[] = {REPO_STD_OBS, REPO__STD_OBS_FALLBACK};
    e = ERR_NOT_FOUND;
    for (size_t i = 0; i < ARRAY_LEN(stds) && e == ERR_NOT_FOUND; i++) {
        /* without an interface for our credentials this gives the anonymous one */
        e = caom_vosi_find(resp.body.data ? resp.body.data : "", resp.body.len, stds[i], sec,
                           access, sizeof access, ei);
    }
    if (e == ERR_NOT_FOUND) {
        e = err_set(ei, ERR_NOT_FOUND, "%.200s offers no %s capability", t->url, REPO_STD_OBS);
        goto out;
    }
    if (e != ERR_OK) {
        err_prefix(ei, "capabilities %.200s: ", t->url);
        goto out;
    }
    e = repo__base_normalise(access, t->base, sizeof t->base, ei);
    if (e != ERR_OK) {
        goto out;
    }
    t->resolved = true;
out:
    httpc_response_free(&resp);
    return e;
}

/* The observation URL (obs_id NULL = the collection) into @p url. */
static enum err remote_url(struct repo_target *t,
                           const char *collection,
                           const char *obs_id,
                           struct buf *url,
                           struct err_info *ei)
{
    enum err e = remote_base(t, ei);
    if (e != ERR_OK) {
        return e;
    }
    return repo__obs_url(url, t->base, collection, obs_id, ei);
}

static void remote_result(const struct httpc_response *resp, struct repo_write_result *res)
{
    if (!res) {
        return;
    }
    memset(res, 0, sizeof *res);
    (void)repo__etag_value(httpc_response_header(resp, "ETag"), res->acc_meta_checksum,
                           sizeof res->acc_meta_checksum);
}

static enum err remote_get(struct repo_target *t,
                           const char *collection,
                           const char *obs_id,
                           struct repo_doc *out,
                           struct err_info *ei)
{
    struct buf url;
    buf_init(&url, HTTPC_URL_MAX);
    struct httpc_response resp;
    httpc_response_init(&resp);
    char what[REPO_URI_MAX + 16];
    (void)snprintf(what, sizeof what, "caom:%s/%s", collection, obs_id);
    enum err e = remote_url(t, collection, obs_id, &url, ei);
    if (e != ERR_OK) {
        goto out;
    }
    const char *headers[] = {"Accept: text/x-caom+xml, text/xml;q=0.9, */*;q=0.1", NULL};
    struct remote_call c = {.method = HTTPC_GET,
                            .url = buf_cstr(&url),
                            .what = what,
                            .headers = headers,
                            .send_token = true,
                            .max_body = (uint64_t)REPO_DOC_MAX};
    e = remote_do(t, &c, &resp, ei);
    if (e != ERR_OK) {
        goto out;
    }
    if (resp.body.len == 0) {
        e = err_set(ei, ERR_HTTP, "empty document for %s from %.200s", what, c.url);
        goto out;
    }
    memset(out, 0, sizeof *out);
    out->len = resp.body.len;
    if (!repo__etag_value(httpc_response_header(&resp, "ETag"), out->acc_meta_checksum,
                          sizeof out->acc_meta_checksum)) {
        (void)repo__root_attr(resp.body.data, resp.body.len, "accMetaChecksum",
                              out->acc_meta_checksum, sizeof out->acc_meta_checksum);
    }
    (void)repo__root_attr(resp.body.data, resp.body.len, "maxLastModified", out->max_last_modified,
                          sizeof out->max_last_modified);
    out->xml = buf_take(&resp.body);
out:
    httpc_response_free(&resp);
    buf_free(&url);
    return e;
}

static enum err remote_write(struct repo_target *t,
                             enum httpc_method method,
                             const char *collection,
                             const char *obs_id,
                             const char *xml,
                             size_t len,
                             const char *if_match,
                             struct repo_write_result *res,
                             struct err_info *ei)
{
    struct buf url;
    buf_init(&url, HTTPC_URL_MAX);
    struct httpc_response resp;
    httpc_response_init(&resp);
    char what[REPO_URI_MAX + 16];
    char if_match_line[CAOM_CHECKSUM_URI_MAX + 16];
    (void)snprintf(what, sizeof what, "caom:%s/%s", collection, obs_id);
    enum err e = ERR_OK;
    if (if_match && (strlen(if_match) >= CAOM_CHECKSUM_URI_MAX || strpbrk(if_match, "\r\n"))) {
        e = err_set_field(ei, ERR_INVALID, "If-Match", "invalid If-Match value \"%.60s\"",
                          if_match);
        goto out;
    }
    if (len > (size_t)REPO_DOC_MAX) {
        e = err_set(ei, ERR_TOO_LARGE, "document of %s is larger than %u bytes", what,
                    (unsigned)REPO_DOC_MAX);
        goto out;
    }
    e = remote_url(t, collection, obs_id, &url, ei);
    if (e != ERR_OK) {
        goto out;
    }
    const char *headers[3] = {"Content-Type: text/xml", NULL, NULL};
    if (if_match && if_match[0]) {
        (void)snprintf(if_match_line, sizeof if_match_line, "If-Match: %s", if_match);
        headers[1] = if_match_line;
    }
    /* POST is retried too: a torkeep update with the same body is idempotent, and a stale
     * If-Match after an applied first attempt answers 412, which the push resolves */
    struct remote_call c = {.method = method,
                            .url = buf_cstr(&url),
                            .what = what,
                            .headers = headers,
                            .body = xml,
                            .body_len = len,
                            .send_token = true,
                            .max_body = HTTPC_ERROR_BODY_MAX};
    e = remote_do(t, &c, &resp, ei);
    if (e != ERR_OK) {
        goto out;
    }
    remote_result(&resp, res);
out:
    httpc_response_free(&resp);
    buf_free(&url);
    return e;
}

static enum err remote_put(struct repo_target *t,
                           const char *collection,
                           const char *obs_id,
                           const char *xml,
                           size_t len,
                           struct repo_write_result *res,
                           struct err_info *ei)
{
    return remote_write(t, HTTPC_PUT, collection, obs_id, xml, len, NULL, res, ei);
}

static enum err remote_post(struct repo_target *t,
                            const char *collection,
                            const char *obs_id,
                            const char *xml,
                            size_t len,
                            const char *if_match,
                            struct repo_write_result *res,
                            struct err_info *ei)
{
    return remote_write(t, HTTPC_POST, collection, obs_id, xml, len, if_match, res, ei);
}

static enum err
remote_del(struct repo_target *t, const char *collection, const char *obs_id, struct err_info *ei)
{
    struct buf url;
    buf_init(&url, HTTPC_URL_MAX);
    struct httpc_response resp;
    httpc_response_init(&resp);
    char what[REPO_URI_MAX + 16];
    (void)snprintf(what, sizeof what, "caom:%s/%s", collection, obs_id);
    enum err e = remote_url(t, collection, obs_id, &url, ei);
    if (e != ERR_OK) {
        goto out;
    }
    struct remote_call c = {.method = HTTPC_DELETE,
                            .url = buf_cstr(&url),
                            .what = what,
                            .send_token = true,
                            .max_body = HTTPC_ERROR_BODY_MAX};
    e = remote_do(t, &c, &resp, ei);
out:
    httpc_response_free(&resp);
    buf_free(&url);
    return e;
}

static enum err remote_list(struct repo_target *t,
                            const struct repo_list_query *q,
                            struct buf *out,
                            struct err_info *ei)
{
    struct buf url;
    buf_init(&url, HTTPC_URL_MAX);
    struct httpc_response resp;
    httpc_response_init(&resp);
    char what[REPO_NAME_MAX + 16];
    (void)snprintf(what, sizeof what, "caom:%s", q->collection ? q->collection : "");
    enum err e = remote_base(t, ei);
    if (e != ERR_OK) {
        goto out;
    }
    e = repo__list_url(&url, t->base, q, ei);
    if (e != ERR_OK) {
        goto out;
    }
    const char *headers[] = {"Accept: text/tab-separated-values", NULL};
    struct remote_call c = {.method = HTTPC_GET,
                            .url = buf_cstr(&url),
                            .what = what,
                            .headers = headers,
                            .send_token = true,
                            .max_body = REPO__LIST_BODY_MAX};
    e = remote_do(t, &c, &resp, ei);
    if (e != ERR_OK) {
        goto out;
    }
    if (resp.body.len > 0) {
        e = buf_append(out, resp.body.data, resp.body.len);
        if (e != ERR_OK) {
            e = err_set(ei, e, "list of %s does not fit the buffer", what);
        }
    }
out:
    httpc_response_free(&resp);
    buf_free(&url);
    return e;
}

static const struct repo_target_ops remote_ops = {
    .get = remote_get,
    .put = remote_put,
    .post = remote_post,
    .del = remote_del,
    .list = remote_list,
};

enum err
repo_target_remote(const struct repo_remote_opts *o, struct repo_target **out, struct err_info *ei)
{
    enum err e = ERR_OK;
    struct repo_target *t = NULL;
    char probe[REPO__BASE_MAX];
    if (!o || !o->url) {
        return err_set(ei, ERR_INVALID, "no repository URL");
    }
    /* the URL's syntax is checked now (a capabilities URL follows the same rules); a
     * capabilities document is read on first use */
    e = repo__base_normalise(o->url, probe, sizeof probe, ei);
    if (e != ERR_OK) {
        return e;
    }
    if (o->token &&
        (!o->token[0] || strlen(o->token) > REPO__CLIENT_TOKEN_MAX || strpbrk(o->token, "\r\n"))) {
        return err_set(ei, ERR_INVALID, "invalid bearer token");
    }
    t = calloc(1, sizeof *t);
    if (!t) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    t->ops = &remote_ops;
    t->url = str_dup(o->url);
    t->token = o->token ? str_dup(o->token) : NULL;
    if (!t->url || (o->token && !t->token)) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    t->has_cert = o->cert != NULL;
    t->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : REPO__TIMEOUT_MS;
    t->retries = o->retries < 0 ? 0 : (o->retries == 0 ? REPO_RETRIES : o->retries);
    t->retry_after_cap_s = o->retry_after_cap_s > 0 ? o->retry_after_cap_s : REPO_RETRY_AFTER_CAP;
    t->retry_base_ms = o->retry_base_ms > 0 ? o->retry_base_ms : REPO__RETRY_BASE_MS;
    struct httpc_options ho = {
        .connect_timeout_ms = t->timeout_ms < HTTPC_DEFAULT_CONNECT_TIMEOUT_MS
                                  ? t->timeout_ms
                                  : HTTPC_DEFAULT_CONNECT_TIMEOUT_MS,
        .total_timeout_ms = t->timeout_ms,
        .max_attempts = 1,
        .ca_file = o->ca_file,
        .client_cert = o->cert,
        .client_key = NULL, /* the proxy certificate PEM holds the key too */
    };
    e = httpc_create(&ho, &t->h, ei);
    if (e != ERR_OK) {
        goto out;
    }
    *out = t;
    t = NULL;
out:
    repo_target_free(t);
    return e;
}

void repo_target_free(struct repo_target *t)
{
    if (!t) {
        return;
    }
    httpc_destroy(t->h);
    free(t->url);
    if (t->token) {
        /* the token is a credential: do not leave it in freed memory */
        volatile char *p = t->token;
        while (*p) {
            *p++ = '\0';
        }
        free(t->token);
    }
    free(t);
}

/* ---- the public operations ---------------------------------------------------------------- */

static enum err check_ids(const char *collection, const char *obs_id, struct err_info *ei)
{
    if (!collection || !collection[0] || strlen(collection) > REPO_NAME_MAX) {
        return err_set_field(ei, ERR_INVALID, "collection", "invalid collection name \"%.140s\"",
                             collection ? collection : "");
    }
    if (!obs_id || !obs_id[0] || strlen(obs_id) > REPO_OBSID_MAX) {
        return err_set_field(ei, ERR_INVALID, "observationID", "invalid observationID \"%.260s\"",
                             obs_id ? obs_id : "");
    }
    return ERR_OK;
}

enum err repo_target_get(struct repo_target *t,
                         const char *collection,
                         const char *obs_id,
                         struct repo_doc *out,
                         struct err_info *ei)
{
    enum err e = check_ids(collection, obs_id, ei);
    return e != ERR_OK ? e : t->ops->get(t, collection, obs_id, out, ei);
}

enum err repo__target_put(struct repo_target *t,
                          const char *collection,
                          const char *obs_id,
                          const char *xml,
                          size_t len,
                          struct repo_write_result *res,
                          struct err_info *ei)
{
    enum err e = check_ids(collection, obs_id, ei);
    return e != ERR_OK ? e : t->ops->put(t, collection, obs_id, xml, len, res, ei);
}

enum err repo__target_post(struct repo_target *t,
                           const char *collection,
                           const char *obs_id,
                           const char *xml,
                           size_t len,
                           const char *if_match,
                           struct repo_write_result *res,
                           struct err_info *ei)
{
    enum err e = check_ids(collection, obs_id, ei);
    return e != ERR_OK ? e : t->ops->post(t, collection, obs_id, xml, len, if_match, res, ei);
}

enum err repo_target_put(struct repo_target *t,
                         const char *collection,
                         const char *obs_id,
                         const char *xml,
                         size_t len,
                         struct err_info *ei)
{
    return repo__target_put(t, collection, obs_id, xml, len, NULL, ei);
}

enum err repo_target_post(struct repo_target *t,
                          const char *collection,
                          const char *obs_id,
                          const char *xml,
                          size_t len,
                          const char *if_match,
                          struct err_info *ei)
{
    return repo__target_post(t, collection, obs_id, xml, len, if_match, NULL, ei);
}

enum err repo_target_delete(struct repo_target *t,
                            const char *collection,
                            const char *obs_id,
                            struct err_info *ei)
{
    enum err e = check_ids(collection, obs_id, ei);
    return e != ERR_OK ? e : t->ops->del(t, collection, obs_id, ei);
}

enum err repo_target_list(struct repo_target *t,
                          const struct repo_list_query *q,
                          struct buf *out,
                          struct err_info *ei)
{
    if (!q || !q->collection || !q->collection[0] || strlen(q->collection) > REPO_NAME_MAX) {
        return err_set_field(ei, ERR_INVALID, "collection", "invalid collection name");
    }
    if (q->maxrec < 0 || q->maxrec > REPO_LIST_MAXREC) {
        return err_set_field(ei, ERR_INVALID, "maxrec", "maxrec must be between 1 and %d",
                             REPO_LIST_MAXREC);
    }
    return t->ops->list(t, q, out, ei);
}
