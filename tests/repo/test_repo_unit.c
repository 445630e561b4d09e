/* test_repo_unit.c - the push client of lib/repo without a database: URL building and base
 * normalisation, the HTTP status mapping, the retry delays (Retry-After parsing and caps),
 * server message lines, ETags and root attributes; then the remote target and repo_push
 * against a scripted HTTP server on 127.0.0.1 (a thread in this process): retries of 503,
 * 504, reset connections and slow bodies, final 4xx with torkeep's messages, capabilities
 * lookup, and every push outcome including a retried write that had already landed.
 * SPDX-License-Identifier: Apache-2.0 */
#include "caom/caom.h"
#include "httpc/httpc.h"
#include "repo/repo.h"
#include "repo/repo_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- pure helpers ------------------------------------------------------------------------- */

static void test_base_normalise(void **state)
{
    (void)state;
    char out[REPO__BASE_MAX];
    struct err_info ei;
    assert_int_equal(repo__base_normalise("http://h:8080/caom2", out, sizeof out, &ei), ERR_OK);
    assert_string_equal(out, "http://h:8080/caom2/observations");
    assert_int_equal(repo__base_normalise("https://h/caom2//", out, sizeof out, &ei), ERR_OK);
    assert_string_equal(out, "https://h/caom2/observations");
    assert_int_equal(repo__base_normalise("https://h/x/observations/", out, sizeof out, &ei),
                     ERR_OK);
    assert_string_equal(out, "https://h/x/observations");
    assert_int_equal(repo__base_normalise("http://h", out, sizeof out, &ei), ERR_OK);
    assert_string_equal(out, "http://h/observations");
    assert_int_equal(repo__base_normalise("ftp://h/caom2", out, sizeof out, &ei), ERR_INVALID);
    assert_non_null(strstr(ei.msg, "ftp://h/caom2"));
    assert_int_equal(repo__base_normalise("http://", out, sizeof out, &ei), ERR_INVALID);
    assert_int_equal(repo__base_normalise("http:///x", out, sizeof out, &ei), ERR_INVALID);
    assert_int_equal(repo__base_normalise("http://h/c?x=1", out, sizeof out, &ei), ERR_INVALID);
    assert_int_equal(repo__base_normalise("http://h/c#f", out, sizeof out, &ei), ERR_INVALID);
    assert_int_equal(repo__base_normalise(NULL, out, sizeof out, &ei), ERR_INVALID);
    /* exactly fitting and one byte short */
    char small[sizeof "http://h/observations"];
    assert_int_equal(repo__base_normalise("http://h", small, sizeof small, &ei), ERR_OK);
    assert_int_equal(repo__base_normalise("http://h", small, sizeof small - 1, &ei), ERR_TOO_LARGE);
}

static void test_capabilities_url_and_security(void **state)
{
    (void)state;
    assert_true(repo__is_capabilities_url("http://h/caom2/capabilities"));
    assert_true(repo__is_capabilities_url("http://h/caom2/capabilities/"));
    assert_false(repo__is_capabilities_url("http://h/caom2"));
    assert_false(repo__is_capabilities_url("http://h/mycapabilities"));
    assert_false(repo__is_capabilities_url(NULL));
    assert_string_equal(repo__security_method(true, true), REPO__SEC_TOKEN);
    assert_string_equal(repo__security_method(false, true), REPO__SEC_CERT);
    assert_null(repo__security_method(false, false));
}

static void test_obs_and_list_url(void **state)
{
    (void)state;
    struct buf b;
    struct err_info ei;
    buf_init(&b, 4096);
    assert_int_equal(repo__obs_url(&b, "http://h/o", "TEST", "C101116_QSO2251+158 a/b", &ei),
                     ERR_OK);
    assert_string_equal(buf_cstr(&b), "http://h/o/TEST/C101116_QSO2251%2B158%20a%2Fb");
    buf_reset(&b);
    assert_int_equal(repo__obs_url(&b, "http://h/o", "C", NULL, &ei), ERR_OK);
    assert_string_equal(buf_cstr(&b), "http://h/o/C");
    buf_reset(&b);
    assert_int_equal(repo__obs_url(&b, "http://h/o", "", "x", &ei), ERR_INVALID);
    buf_reset(&b);
    assert_int_equal(repo__obs_url(&b, "http://h/o", "C", "", &ei), ERR_INVALID);
    buf_reset(&b);
    struct repo_list_query q = {.collection = "C"};
    assert_int_equal(repo__list_url(&b, "http://h/o", &q, &ei), ERR_OK);
    assert_string_equal(buf_cstr(&b), "http://h/o/C?maxrec=100000");
    buf_reset(&b);
    q.maxrec = 11;
    q.has_start = true;
    q.start_ms = 1000;
    q.has_end = true;
    q.end_ms = 86400001;
    q.desc = true;
    assert_int_equal(repo__list_url(&b, "http://h/o", &q, &ei), ERR_OK);
    assert_string_equal(buf_cstr(&b), "http://h/o/C?maxrec=11&start=1970-01-01T00:00:01.000"
                                      "&end=1970-01-02T00:00:00.001&order=desc");
    buf_free(&b);
    struct buf tiny;
    buf_init(&tiny, 8);
    assert_int_equal(repo__obs_url(&tiny, "http://h/o", "C", "ID", &ei), ERR_TOO_LARGE);
    buf_free(&tiny);
}

static void test_status_mapping(void **state)
{
    (void)state;
    static const struct {
        long status;
        enum err e;
        bool retry;
    } rows[] = {
        {200, ERR_OK, false},           {204, ERR_OK, false},        {400, ERR_PARSE, false},
        {401, ERR_UNAUTHORIZED, false}, {403, ERR_FORBIDDEN, false}, {404, ERR_NOT_FOUND, false},
        {408, ERR_TIMEOUT, true},       {409, ERR_CONFLICT, false},  {410, ERR_NOT_FOUND, false},
        {412, ERR_PRECONDITION, false}, {413, ERR_TOO_LARGE, false}, {415, ERR_UNSUPPORTED, false},
        {429, ERR_UNAVAILABLE, false},  {402, ERR_HTTP, false},      {500, ERR_HTTP, false},
        {501, ERR_HTTP, false},         {502, ERR_HTTP, true},       {503, ERR_UNAVAILABLE, true},
        {504, ERR_TIMEOUT, true},       {302, ERR_HTTP, false},
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        assert_int_equal(repo__status_err(rows[i].status), rows[i].e);
        assert_int_equal(repo__status_retryable(rows[i].status), rows[i].retry);
    }
    assert_true(repo__transport_retryable(ERR_TIMEOUT, "request timed out"));
    assert_true(repo__transport_retryable(ERR_UNAVAILABLE, "could not connect"));
    assert_true(repo__transport_retryable(ERR_HTTP, "request failed: Recv failure: reset"));
    assert_false(repo__transport_retryable(ERR_HTTP, "SSL certificate problem: expired"));
    assert_false(repo__transport_retryable(ERR_TOO_LARGE, "body too large"));
    assert_false(repo__transport_retryable(ERR_INVALID, "bad URL"));
    assert_false(repo__transport_retryable(ERR_NOMEM, "out of memory"));
}

static void test_retry_after(void **state)
{
    (void)state;
    assert_int_equal(repo__retry_after_ms("1", 0, 128), 1000);
    assert_int_equal(repo__retry_after_ms(" 0", 0, 128), 0);
    assert_int_equal(repo__retry_after_ms("180", 0, 128), 128000);
    assert_int_equal(repo__retry_after_ms("128", 0, 128), 128000);
    assert_int_equal(repo__retry_after_ms("99999999999999999999", 0, 128), -1);
    assert_int_equal(repo__retry_after_ms("-1", 0, 128), -1);
    assert_int_equal(repo__retry_after_ms("1.5", 0, 128), -1);
    assert_int_equal(repo__retry_after_ms("soon", 0, 128), -1);
    assert_int_equal(repo__retry_after_ms("", 0, 128), -1);
    assert_int_equal(repo__retry_after_ms(NULL, 0, 128), -1);
    /* an HTTP date: relative to now, a past one is 0, capped like seconds */
    int64_t at = 1445412480; /* Wed, 21 Oct 2015 07:28:00 GMT */
    assert_int_equal(repo__retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", at - 10, 128), 10000);
    assert_int_equal(repo__retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", at + 10, 128), 0);
    assert_int_equal(repo__retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", at - 1000, 128), 128000);
}

static void test_retry_delay(void **state)
{
    (void)state;
    /* 503 with Retry-After: honoured, capped */
    assert_int_equal(repo__retry_delay_ms(503, "1", 1, 30000, 128, 0), 1000);
    assert_int_equal(repo__retry_delay_ms(503, "1", 5, 30000, 128, 0), 1000);
    assert_int_equal(repo__retry_delay_ms(503, "600", 1, 30000, 128, 0), 128000);
    assert_int_equal(repo__retry_delay_ms(503, "600", 1, 30000, 2, 0), 2000);
    /* 503 without (or with an unusable) Retry-After, 504, 408 and transport failures: the
     * base delay doubling, capped */
    assert_int_equal(repo__retry_delay_ms(503, NULL, 1, 30000, 128, 0), 30000);
    assert_int_equal(repo__retry_delay_ms(503, "x", 2, 30000, 128, 0), 60000);
    assert_int_equal(repo__retry_delay_ms(504, "5", 1, 100, 128, 0), 100); /* only a 503's */
    assert_int_equal(repo__retry_delay_ms(504, NULL, 2, 100, 128, 0), 200);
    assert_int_equal(repo__retry_delay_ms(408, NULL, 3, 100, 128, 0), 400);
    assert_int_equal(repo__retry_delay_ms(0, NULL, 4, 30000, 128, 0), 128000);
    assert_int_equal(repo__retry_delay_ms(0, NULL, 60, 30000, 128, 0), 128000); /* no overflow */
    assert_int_equal(repo__retry_delay_ms(0, NULL, 6, 1, 128, 0), 32);
}

static void test_body_line_etag_root_attr(void **state)
{
    (void)state;
    char line[REPO__ERR_LINE_MAX];
    const char *b = "  already exists: caom:C/ID\r\n\tat ca.nrc.cadc...\n";
    repo__body_line(b, strlen(b), line, sizeof line);
    assert_string_equal(line, "already exists: caom:C/ID");
    repo__body_line("a\tb\x01"
                    "c  \n",
                    8, line, sizeof line);
    assert_string_equal(line, "a bc");
    repo__body_line("", 0, line, sizeof line);
    assert_string_equal(line, "");
    char big[1000];
    memset(big, 'x', sizeof big);
    repo__body_line(big, sizeof big, line, sizeof line);
    assert_int_equal(strlen(line), REPO__ERR_LINE_MAX - 1);
    char small[5];
    repo__body_line("abcdefgh", 8, small, sizeof small);
    assert_string_equal(small, "abcd");

    char et[CAOM_CHECKSUM_URI_MAX];
    assert_true(repo__etag_value("md5:0123", et, sizeof et));
    assert_string_equal(et, "md5:0123");
    assert_true(repo__etag_value("\"md5:0123\"", et, sizeof et));
    assert_string_equal(et, "md5:0123");
    assert_true(repo__etag_value("W/\"md5:0123\"", et, sizeof et));
    assert_string_equal(et, "md5:0123");
    assert_false(repo__etag_value("\"\"", et, sizeof et));
    assert_string_equal(et, "");
    assert_false(repo__etag_value(NULL, et, sizeof et));
    assert_false(repo__etag_value("md5:0123456789abcdef0123456789abcdef0123456789", et, sizeof et));

    const char *doc = "<?xml version=\"1.0\"?>\n<!-- maxLastModified=\"no\" -->\n"
                      "<caom2:Observation xmlns:caom2=\"x\" caom2:id=\"1\"\n"
                      "  caom2:maxLastModified='2026-01-02T03:04:05.678' "
                      "caom2:accMetaChecksum=\"md5:aa\">"
                      "<caom2:plane caom2:lastModified=\"2000-01-01T00:00:00.000\"/>"
                      "</caom2:Observation>";
    char v[64];
    assert_true(repo__root_attr(doc, strlen(doc), "maxLastModified", v, sizeof v));
    assert_string_equal(v, "2026-01-02T03:04:05.678");
    assert_true(repo__root_attr(doc, strlen(doc), "accMetaChecksum", v, sizeof v));
    assert_string_equal(v, "md5:aa");
    assert_true(repo__root_attr(doc, strlen(doc), "id", v, sizeof v));
    assert_string_equal(v, "1");
    assert_false(repo__root_attr(doc, strlen(doc), "lastModified", v, sizeof v));
    assert_false(repo__root_attr(doc, strlen(doc), "maxLastModified", v, 5));
    assert_false(repo__root_attr("<a", 2, "x", v, sizeof v));
    assert_false(repo__root_attr("", 0, "x", v, sizeof v));
}

/* ---- a scripted HTTP server ---------------------------------------------------------------- */

enum fake_action {
    FAKE_ANSWER = 0, /* send the scripted answer */
    FAKE_RESET,      /* close the connection without answering (RST) */
    FAKE_SLOW,       /* send the head and a part of the body, then stall past the timeout */
};

struct fake_resp {
    enum fake_action action;
    int status;
    const char *headers; /* extra header lines, each ending in \r\n, or NULL */
    const char *body;    /* or NULL */
};

#define FAKE_MAX 16

struct fake_req {
    char method[16];
    char path[1024];
    char head[4096]; /* the header lines */
    char *body;
    size_t len;
};

struct fake {
    int lfd;
    int port;
    pthread_t th;
    struct fake_resp script[FAKE_MAX];
    size_t n_script;
    struct fake_req reqs[FAKE_MAX];
    size_t n_reqs;
    int stalled[FAKE_MAX]; /* connections of FAKE_SLOW answers, closed by fake_stop */
    size_t n_stalled;
};

/* Case-insensitive strstr (strcasestr is a GNU extension). */
static const char *find_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        if (strncasecmp(hay, needle, n) == 0) {
            return hay;
        }
    }
    return NULL;
}

static bool read_request(int fd, struct fake_req *r)
{
    char buf[65536];
    size_t n = 0;
    char *end = NULL;
    while (!end) {
        if (n + 1 >= sizeof buf) {
            return false;
        }
        ssize_t k = recv(fd, buf + n, sizeof buf - 1 - n, 0);
        if (k <= 0) {
            return false;
        }
        n += (size_t)k;
        buf[n] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    size_t head_len = (size_t)(end - buf) + 4;
    if (sscanf(buf, "%15s %1023s", r->method, r->path) != 2) {
        return false;
    }
    const char *nl = strstr(buf, "\r\n");
    size_t hl = head_len - (size_t)(nl + 2 - buf);
    if (hl >= sizeof r->head) {
        hl = sizeof r->head - 1;
    }
    memcpy(r->head, nl + 2, hl);
    r->head[hl] = '\0';
    size_t clen = 0;
    const char *cl = find_ci(r->head, "Content-Length:");
    if (cl) {
        clen = strtoul(cl + 15, NULL, 10);
    }
    if (find_ci(r->head, "Expect: 100-continue")) {
        const char *cont = "HTTP/1.1 100 Continue\r\n\r\n";
        if (send(fd, cont, strlen(cont), MSG_NOSIGNAL) < 0) {
            return false;
        }
    }
    r->body = malloc(clen + 1);
    if (!r->body) {
        return false;
    }
    size_t have = n - head_len;
    if (have > clen) {
        have = clen;
    }
    memcpy(r->body, buf + head_len, have);
    while (have < clen) {
        ssize_t k = recv(fd, r->body + have, clen - have, 0);
        if (k <= 0) {
            return false;
        }
        have += (size_t)k;
    }
    r->body[clen] = '\0';
    r->len = clen;
    return true;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) {
            return;
        }
        p += k;
        n -= (size_t)k;
    }
}

static void *fake_main(void *arg)
{
    struct fake *f = arg;
    for (size_t i = 0; i < f->n_script; i++) {
        struct pollfd pfd = {.fd = f->lfd, .events = POLLIN};
        if (poll(&pfd, 1, 10000) != 1) {
            break; /* the client made fewer requests than scripted */
        }
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0) {
            break;
        }
        struct fake_req *r = &f->reqs[f->n_reqs];
        if (!read_request(fd, r)) {
            close(fd);
            continue;
        }
        f->n_reqs++;
        const struct fake_resp *s = &f->script[i];
        if (s->action == FAKE_RESET) {
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            close(fd);
            continue;
        }
        const char *body = s->body ? s->body : "";
        char head[4096];
        int hn = snprintf(head, sizeof head,
                          "HTTP/1.1 %d X\r\nConnection: close\r\nContent-Length: %zu\r\n%s\r\n",
                          s->status, s->action == FAKE_SLOW ? strlen(body) + 100 : strlen(body),
                          s->headers ? s->headers : "");
        send_all(fd, head, (size_t)hn);
        send_all(fd, body, strlen(body));
        if (s->action == FAKE_SLOW && f->n_stalled < FAKE_MAX) {
            f->stalled[f->n_stalled++] = fd; /* the rest of the body never comes */
            continue;
        }
        close(fd);
    }
    return NULL;
}

/* Listen on 127.0.0.1:0 (the port is known from here on). */
static void fake_listen(struct fake *f)
{
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(f->lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(f->lfd, 16), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&a, &al), 0);
    f->port = ntohs(a.sin_port);
}

/* Serve the script (complete from here on) in a thread. */
static void fake_run(struct fake *f)
{
    assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_start(struct fake *f)
{
    fake_listen(f);
    fake_run(f);
}

static void fake_stop(struct fake *f)
{
    pthread_join(f->th, NULL);
    close(f->lfd);
    for (size_t i = 0; i < f->n_stalled; i++) {
        close(f->stalled[i]);
    }
}

/* Free the recorded request bodies (after the checks on them). */
static void fake_free(struct fake *f)
{
    for (size_t i = 0; i < f->n_reqs; i++) {
        free(f->reqs[i].body);
    }
}

static void
fake_add(struct fake *f, enum fake_action a, int status, const char *headers, const char *body)
{
    assert_true(f->n_script < FAKE_MAX);
    f->script[f->n_script++] = (struct fake_resp){a, status, headers, body};
}

/* A remote target on the fake server with small retry delays. */
static struct repo_target *
fake_target(const struct fake *f, const char *path, int retries, const char *token)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", f->port, path);
    struct repo_remote_opts o = {.url = url,
                                 .token = token,
                                 .timeout_ms = 300,
                                 .retries = retries,
                                 .retry_after_cap_s = 1,
                                 .retry_base_ms = 1};
    struct repo_target *t = NULL;
    struct err_info ei;
    assert_int_equal(repo_target_remote(&o, &t, &ei), ERR_OK);
    return t;
}

#define TEXT "Content-Type: text/plain\r\n"

static void test_remote_retries_then_ok(void **state)
{
    (void)state;
    struct fake f = {0};
    fake_add(&f, FAKE_ANSWER, 503, TEXT "Retry-After: 0\r\n", "offline");
    fake_add(&f, FAKE_ANSWER, 504, NULL, NULL);
    fake_add(&f, FAKE_RESET, 0, NULL, NULL);
    fake_add(&f, FAKE_SLOW, 200, NULL, "<doc");
    fake_add(&f, FAKE_ANSWER, 408, NULL, NULL);
    fake_add(&f, FAKE_ANSWER, 200, "ETag: md5:0123\r\n",
             "<caom2:Observation caom2:maxLastModified=\"2026-01-01T00:00:00.000\"/>");
    fake_start(&f);
    struct repo_target *t = fake_target(&f, "/caom2", 6, "tok");
    struct repo_doc d;
    struct err_info ei;
    err_info_clear(&ei);
    enum err e = repo_target_get(t, "C", "a+b", &d, &ei);
    fake_stop(&f);
    repo_target_free(t);
    assert_int_equal(e, ERR_OK);
    assert_int_equal(f.n_reqs, 6);
    assert_string_equal(f.reqs[0].method, "GET");
    assert_string_equal(f.reqs[0].path, "/caom2/observations/C/a%2Bb");
    assert_non_null(strstr(f.reqs[0].head, "Authorization: Bearer tok"));
    assert_string_equal(d.acc_meta_checksum, "md5:0123");
    assert_string_equal(d.max_last_modified, "2026-01-01T00:00:00.000");
    assert_int_equal(d.len, strlen(d.xml));
    repo_doc_free(&d);
    fake_free(&f);
}

static void test_remote_retries_exhausted(void **state)
{
    (void)state;
    struct fake f = {0};
    for (int i = 0; i < 3; i++) {
        fake_add(&f, FAKE_ANSWER, 503, TEXT "Retry-After: 0\r\n", "service is offline\n");
    }
    fake_start(&f);
    struct repo_target *t = fake_target(&f, "/caom2/observations", 2, NULL);
    struct err_info ei;
    err_info_clear(&ei);
    enum err e = repo_target_delete(t, "C", "ID", &ei);
    fake_stop(&f);
    repo_target_free(t);
    assert_int_equal(e, ERR_UNAVAILABLE);
    assert_int_equal(f.n_reqs, 3);
    assert_string_equal(f.reqs[0].method, "DELETE");
    assert_null(strstr(f.reqs[0].head, "Authorization"));
    assert_non_null(strstr(ei.msg, "service is offline (HTTP 503 from http://127.0.0.1:"));
    assert_non_null(strstr(ei.msg, "after 3 attempts)"));

    /* a dead port: connection refused, retried, then ERR_UNAVAILABLE */
    struct fake none = {0};
    fake_start(&none); /* nothing scripted: the thread ends at once */
    fake_stop(&none);
    struct repo_target *t2 = fake_target(&none, "/caom2", 1, NULL);
    e = repo_target_delete(t2, "C", "ID", &ei);
    repo_target_free(t2);
    assert_int_equal(e, ERR_UNAVAILABLE);
    assert_non_null(strstr(ei.msg, "after 2 attempts"));
    fake_free(&f);
    fake_free(&none);
}

static void test_remote_final_4xx(void **state)
{
    (void)state;
    static const struct {
        int status;
        const char *body;
        enum err e;
        const char *msg;
    } rows[] = {
        {409, "already exists: caom:C/ID\n", ERR_CONFLICT, "already exists: caom:C/ID"},
        {400, "invalid input: caom:C/ID (path) must match : caom:C/X(document)", ERR_PARSE,
         "invalid input: caom:C/ID (path) must match : caom:C/X(document)"},
        {401, "", ERR_UNAUTHORIZED, "HTTP 401 for PUT caom:C/ID"},
        {403, "permission denied", ERR_FORBIDDEN, "permission denied"},
        {413, "too large", ERR_TOO_LARGE, "too large"},
        {500, "NullPointerException", ERR_HTTP, "NullPointerException (HTTP 500 from "},
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        struct fake f = {0};
        fake_add(&f, FAKE_ANSWER, rows[i].status, TEXT, rows[i].body);
        fake_start(&f);
        struct repo_target *t = fake_target(&f, "/caom2", 6, "tok");
        struct err_info ei;
        err_info_clear(&ei);
        enum err e = repo_target_put(t, "C", "ID", "<x/>", 4, &ei);
        fake_stop(&f);
        repo_target_free(t);
        assert_int_equal(e, rows[i].e);
        assert_int_equal(f.n_reqs, 1); /* never retried */
        assert_non_null(strstr(ei.msg, rows[i].msg));
        assert_string_equal(f.reqs[0].method, "PUT");
        assert_non_null(strstr(f.reqs[0].head, "Content-Type: text/xml"));
        assert_string_equal(f.reqs[0].body, "<x/>");
        fake_free(&f);
    }
    /* an HTML error page is not a message */
    struct fake f = {0};
    fake_add(&f, FAKE_ANSWER, 404, "Content-Type: text/html\r\n", "<html>gone</html>");
    fake_start(&f);
    struct repo_target *t = fake_target(&f, "/caom2", 6, NULL);
    struct err_info ei;
    enum err e = repo_target_post(t, "C", "ID", "<x/>", 4, "md5:ab", &ei);
    fake_stop(&f);
    repo_target_free(t);
    assert_int_equal(e, ERR_NOT_FOUND);
    assert_string_equal(ei.msg, "HTTP 404 for POST caom:C/ID");
    assert_non_null(strstr(f.reqs[0].head, "If-Match: md5:ab\r\n"));
    fake_free(&f);
}

static void test_remote_capabilities_and_list(void **state)
{
    (void)state;
    struct fake f = {0};
    fake_listen(&f); /* the port is needed in the document */
    char caps[2048];
    snprintf(caps, sizeof caps,
             "<?xml version=\"1.0\"?>\n"
             "<vosi:capabilities xmlns:vosi=\"http://www.ivoa.net/xml/VOSICapabilities/v1.0\""
             " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
             " xmlns:vs=\"http://www.ivoa.net/xml/VODataService/v1.1\">\n"
             "<capability standardID=\"%s\"><interface xsi:type=\"vs:ParamHTTP\">"
             "<accessURL use=\"base\">http://127.0.0.1:%d/anon/observations</accessURL>"
             "</interface><interface xsi:type=\"vs:ParamHTTP\">"
             "<accessURL use=\"base\">http://127.0.0.1:%d/tok/observations</accessURL>"
             "<securityMethod standardID=\"ivo://ivoa.net/sso#token\"/></interface>"
             "</capability></vosi:capabilities>\n",
             REPO_STD_OBS, f.port, f.port);
    fake_add(&f, FAKE_ANSWER, 200, "Content-Type: text/xml\r\n", caps);
    fake_add(&f, FAKE_ANSWER, 200, "Content-Type: text/tab-separated-values\r\n",
             "C\ta\t2026-01-01T00:00:00.000\tmd5:01\n");
    fake_add(&f, FAKE_ANSWER, 200, NULL, "C\tb\t2026-01-01T00:00:00.000\tmd5:02\n");
    fake_run(&f);
    struct repo_target *t = fake_target(&f, "/caom2/capabilities", 1, "tok");
    struct buf out;
    buf_init(&out, 1 << 20);
    struct err_info ei;
    err_info_clear(&ei);
    struct repo_list_query q = {.collection = "C", .maxrec = 2};
    enum err e1 = repo_target_list(t, &q, &out, &ei);
    q.desc = true;
    enum err e2 = repo_target_list(t, &q, &out, &ei); /* the base is resolved once */
    fake_stop(&f);
    repo_target_free(t);
    assert_int_equal(e1, ERR_OK);
    assert_int_equal(e2, ERR_OK);
    assert_int_equal(f.n_reqs, 3);
    assert_string_equal(f.reqs[0].path, "/caom2/capabilities");
    assert_null(strstr(f.reqs[0].head, "Authorization")); /* no token to the capabilities */
    assert_string_equal(f.reqs[1].path, "/tok/observations/C?maxrec=2");
    assert_string_equal(f.reqs[2].path, "/tok/observations/C?maxrec=2&order=desc");
    assert_string_equal(buf_cstr(&out), "C\ta\t2026-01-01T00:00:00.000\tmd5:01\n"
                                        "C\tb\t2026-01-01T00:00:00.000\tmd5:02\n");
    buf_free(&out);

    /* anonymous: the interface without a securityMethod */
    struct fake g = {0};
    fake_listen(&g);
    /* the same document: its URLs name the first server's port, which is closed now, so
     * point them at this one */
    char caps2[sizeof caps];
    snprintf(caps2, sizeof caps2, "%s", caps);
    char from[16];
    char to[16];
    snprintf(from, sizeof from, ":%d/", f.port);
    snprintf(to, sizeof to, ":%d/", g.port);
    assert_int_equal(strlen(from), strlen(to));
    for (char *p = strstr(caps2, from); p; p = strstr(p + 1, from)) {
        memcpy(p, to, strlen(to));
    }
    fake_add(&g, FAKE_ANSWER, 200, "Content-Type: text/xml\r\n", caps2);
    fake_add(&g, FAKE_ANSWER, 204, NULL, NULL);
    fake_run(&g);
    t = fake_target(&g, "/caom2/capabilities", 1, NULL);
    e1 = repo_target_delete(t, "C", "x", &ei);
    fake_stop(&g);
    repo_target_free(t);
    assert_int_equal(e1, ERR_OK);
    assert_string_equal(g.reqs[1].path, "/anon/observations/C/x");

    /* a document without the capability */
    struct fake h = {0};
    fake_add(&h, FAKE_ANSWER, 200, "Content-Type: text/xml\r\n",
             "<vosi:capabilities xmlns:vosi=\"http://www.ivoa.net/xml/VOSICapabilities/v1.0\"/>");
    fake_start(&h);
    t = fake_target(&h, "/caom2/capabilities", 1, NULL);
    e1 = repo_target_delete(t, "C", "x", &ei);
    fake_stop(&h);
    repo_target_free(t);
    assert_int_equal(e1, ERR_NOT_FOUND);
    assert_non_null(strstr(ei.msg, "offers no"));
    fake_free(&f);
    fake_free(&g);
    fake_free(&h);
}

/* ---- repo_push against the scripted server ------------------------------------------------ */

static struct caom_observation *build(enum caom_obs_kind kind, const char *type)
{
    struct caom_observation *o = caom_observation_new(kind, "TEST", "obs1");
    assert_non_null(o);
    assert_int_equal(
        caom_str_set(&o->algorithm_name, kind == CAOM_OBS_SIMPLE ? "exposure" : "stack"), ERR_OK);
    assert_int_equal(caom_str_set(&o->type, type), ERR_OK);
    struct caom_plane *p = caom_plane_new("raw");
    assert_non_null(p);
    struct caom_artifact *a = caom_artifact_new("ad:TEST/obs1.fits", "science", CAOM_RELEASE_DATA);
    assert_non_null(a);
    assert_int_equal(caom_plane_add_artifact(p, a), ERR_OK);
    assert_int_equal(caom_observation_add_plane(o, p), ERR_OK);
    return o;
}

/* What the store holds for @p o: the document with checksums, and its accMetaChecksum. */
static char *stored_doc(const struct caom_observation *o, char acc[CAOM_CHECKSUM_URI_MAX])
{
    struct caom_observation *c = caom_observation_clone(o);
    assert_non_null(c);
    caom_checksum_update(c);
    strcpy(acc, c->e.acc_meta_checksum);
    char *xml = NULL;
    size_t len = 0;
    struct err_info ei;
    assert_int_equal(caom_xml_write(c, &xml, &len, &ei), ERR_OK);
    caom_observation_free(c);
    return xml;
}

static void test_push_created_and_unchanged(void **state)
{
    (void)state;
    struct caom_observation *fresh = build(CAOM_OBS_SIMPLE, "OBJECT");
    char acc[CAOM_CHECKSUM_URI_MAX];
    char *doc = stored_doc(fresh, acc);
    struct fake f = {0};
    fake_add(&f, FAKE_ANSWER, 404, TEXT, "not found: caom:TEST/obs1");
    fake_add(&f, FAKE_ANSWER, 200, NULL, NULL);
    fake_start(&f);
    struct repo_target *t = fake_target(&f, "/caom2", 1, NULL);
    struct repo_push_result r;
    struct err_info ei;
    err_info_clear(&ei);
    enum err e = repo_push(t, fresh, &r, &ei);
    fake_stop(&f);
    repo_target_free(t);
    assert_int_equal(e, ERR_OK);
    assert_int_equal(r.outcome, REPO_CREATED);
    assert_string_equal(repo_outcome_name(r.outcome), "created");
    assert_string_equal(r.uri, "caom:TEST/obs1");
    assert_string_equal(r.acc_meta_checksum, acc);
    assert_int_equal(r.rounds, 1);
    assert_string_equal(f.reqs[1].method, "PUT");
    /* the PUT carries the fresh tree with its own UUIDs */
    struct caom_observation *sent = NULL;
    assert_int_equal(caom_xml_read(f.reqs[1].body, f.reqs[1].len, "put", &sent, &ei), ERR_OK);
    assert_memory_equal(sent->e.id, fresh->e.id, 16);
    caom_observation_free(sent);

    /* the same observation built again (new UUIDs) against what is stored: unchanged */
    struct caom_observation *again = build(CAOM_OBS_SIMPLE, "OBJECT");
    char etag[64];
    snprintf(etag, sizeof etag, "ETag: %s\r\n", acc);
    struct fake g = {0};
    fake_add(&g, FAKE_ANSWER, 200, etag, doc);
    fake_start(&g);
    t = fake_target(&g, "/caom2", 1, NULL);
    e = repo_push(t, again, &r, &ei);
    fake_stop(&g);
    repo_target_free(t);
    assert_int_equal(e, ERR_OK);
    assert_int_equal(r.outcome, REPO_UNCHANGED);
    assert_string_equal(r.acc_meta_checksum, acc);
    assert_int_equal(g.n_reqs, 1); /* nothing written */
    caom_observation_free(again);
    caom_observation_free(fresh);
    free(doc);
    fake_free(&f);
    fake_free(&g);
}

static void test_push_updated_after_race(void **state)
{
    (void)state;
    struct caom_observation *old = build(CAOM_OBS_SIMPLE, "OBJECT");
    char acc[CAOM_CHECKSUM_URI_MAX];
    char *doc = stored_doc(old, acc);
    char etag[64];
    snprintf(etag, sizeof etag, "ETag: %s\r\n", acc);
    struct caom_observation *fresh = build(CAOM_OBS_SIMPLE, "FLAT");
    struct fake f = {0};
    fake_add(&f, FAKE_ANSWER, 200, etag, doc);
    fake_add(&f, FAKE_ANSWER, 412, TEXT, "update blocked: current entity is : md5:ffff");
    fake_add(&f, FAKE_ANSWER, 200, etag, doc);
    fake_add(&f, FAKE_ANSWER, 200, "ETag: md5:fromserver\r\n", NULL);
    fake_start(&f);
    struct repo_target *t = fake_target(&f, "/caom2", 1, NULL);
    struct repo_push_result r;
    struct err_info ei;
    err_info_clear(&ei);
    enum err e = repo_push(t, fresh, &r, &ei);
    fake_stop(&f);
    repo_target_free(t);
    assert_int_equal(e, ERR_OK);
    assert_int_equal(r.outcome, REPO_UPDATED);
    assert_int_equal(r.rounds, 2);
    assert_string_equal(r.acc_meta_checksum, "md5:fromserver"); /* the answer's ETag wins */
    assert_string_equal(f.reqs[1].method, "POST");
    char im[80];
    snprintf(im, sizeof im, "If-Match: %s\r\n", acc);
    assert_non_null(strstr(f.reqs[1].head, im));
    /* the POST keeps the stored UUIDs and carries the new type */
    struct caom_observation *sent = NULL;
    assert_int_equal(caom_xml_read(f.reqs[3].body, f.reqs[3].len, "post", &sent, &ei), ERR_OK);
    assert_memory_equal(sent->e.id, old->e.id, 16);
    assert_memory_equal(sent->planes[0]->e.id, old->planes[0]->e.id, 16);
    assert_string_equal(sent->type, "FLAT");
    caom_observation_free(sent);
    caom_observation_free(fresh);
    caom_observation_free(old);
    free(doc);
    fake_free(&f);
}

static void test_push_retried_write_that_landed(void **state)
{
    (void)state;
    struct caom_observation *old = build(CAOM_OBS_SIMPLE, "OBJECT");
    char acc_old[CAOM_CHECKSUM_URI_MAX];
    char *doc_old = stored_doc(old, acc_old);
    struct caom_observation *fresh = build(CAOM_OBS_SIMPLE, "FLAT");
    /* what the first POST stored before its answer was lost */
    struct caom_observation *merged = caom_observation_clone(old);
    assert_non_null(merged);
    struct err_info ei;
    assert_int_equal(caom_merge(merged, fresh, true, NULL, &ei), ERR_OK);
    char acc_new[CAOM_CHECKSUM_URI_MAX];
    char *doc_new = stored_doc(merged, acc_new);
    char etag_old[64];
    char etag_new[64];
    snprintf(etag_old, sizeof etag_old, "ETag: %s\r\n", acc_old);
    snprintf(etag_new, sizeof etag_new, "ETag: %s\r\n", acc_new);
    struct fake f = {0};
    fake_add(&f, FAKE_ANSWER, 200, etag_old, doc_old);
    fake_add(&f, FAKE_RESET, 0, NULL, NULL); /* POST applied, answer lost */
    fake_add(&f, FAKE_ANSWER, 412, TEXT, "update blocked: current entity is : md5:x");
    fake_add(&f, FAKE_ANSWER, 200, etag_new, doc_new);
    fake_start(&f);
    struct repo_target *t = fake_target(&f, "/caom2", 1, NULL);
    struct repo_push_result r;
    err_info_clear(&ei);
    enum err e = repo_push(t, fresh, &r, &ei);
    fake_stop(&f);
    repo_target_free(t);
    assert_int_equal(e, ERR_OK);
    assert_int_equal(r.outcome, REPO_UPDATED); /* not "unchanged" */
    assert_string_equal(r.acc_meta_checksum, acc_new);
    assert_int_equal(r.rounds, 2);
    assert_int_equal(f.n_reqs, 4);

    /* the same for a PUT whose answer was lost: 409 on the retry, then created */
    struct fake g = {0};
    fake_add(&g, FAKE_ANSWER, 404, TEXT, "not found: caom:TEST/obs1");
    fake_add(&g, FAKE_SLOW, 200, NULL, "");
    fake_add(&g, FAKE_ANSWER, 409, TEXT, "already exists: caom:TEST/obs1");
    char acc_f[CAOM_CHECKSUM_URI_MAX];
    char *doc_f = stored_doc(fresh, acc_f);
    char etag_f[64];
    snprintf(etag_f, sizeof etag_f, "ETag: %s\r\n", acc_f);
    fake_add(&g, FAKE_ANSWER, 200, etag_f, doc_f);
    fake_start(&g);
    t = fake_target(&g, "/caom2", 1, NULL);
    e = repo_push(t, fresh, &r, &ei);
    fake_stop(&g);
    repo_target_free(t);
    assert_int_equal(e, ERR_OK);
    assert_int_equal(r.outcome, REPO_CREATED);
    assert_string_equal(r.acc_meta_checksum, acc_f);
    assert_int_equal(g.n_reqs, 4);
    free(doc_f);
    caom_observation_free(merged);
    caom_observation_free(fresh);
    caom_observation_free(old);
    free(doc_old);
    free(doc_new);
    fake_free(&f);
    fake_free(&g);
}

static void test_push_replaced_and_rounds_exhausted(void **state)
{
    (void)state;
    struct caom_observation *old = build(CAOM_OBS_SIMPLE, "OBJECT");
    char acc[CAOM_CHECKSUM_URI_MAX];
    char *doc = stored_doc(old, acc);
    char etag[64];
    snprintf(etag, sizeof etag, "ETag: %s\r\n", acc);
    struct caom_observation *fresh = build(CAOM_OBS_DERIVED, "OBJECT");
    struct fake f = {0};
    fake_add(&f, FAKE_ANSWER, 200, etag, doc);
    fake_add(&f, FAKE_ANSWER, 200, NULL, NULL);
    fake_add(&f, FAKE_ANSWER, 200, NULL, NULL);
    fake_start(&f);
    struct repo_target *t = fake_target(&f, "/caom2", 1, NULL);
    struct repo_push_result r;
    struct err_info ei;
    err_info_clear(&ei);
    enum err e = repo_push(t, fresh, &r, &ei);
    fake_stop(&f);
    repo_target_free(t);
    assert_int_equal(e, ERR_OK);
    assert_int_equal(r.outcome, REPO_REPLACED);
    assert_string_equal(f.reqs[1].method, "DELETE");
    assert_string_equal(f.reqs[2].method, "PUT");
    assert_non_null(strstr(f.reqs[2].body, "DerivedObservation"));

    /* every round loses the race: the last 412 is returned, named */
    struct caom_observation *flat = build(CAOM_OBS_SIMPLE, "FLAT");
    struct fake g = {0};
    for (int i = 0; i < REPO_PUSH_ROUNDS; i++) {
        fake_add(&g, FAKE_ANSWER, 200, etag, doc);
        fake_add(&g, FAKE_ANSWER, 412, TEXT, "update blocked: current entity is : md5:x");
    }
    fake_start(&g);
    t = fake_target(&g, "/caom2", 1, NULL);
    e = repo_push(t, flat, &r, &ei);
    fake_stop(&g);
    repo_target_free(t);
    assert_int_equal(e, ERR_PRECONDITION);
    assert_int_equal(g.n_reqs, 2 * REPO_PUSH_ROUNDS);
    assert_non_null(strstr(ei.msg, "still changing after 5 rounds: update blocked"));

    /* a stored document that does not parse */
    struct fake h = {0};
    fake_add(&h, FAKE_ANSWER, 200, etag, "<not caom/>");
    fake_start(&h);
    t = fake_target(&h, "/caom2", 1, NULL);
    e = repo_push(t, flat, &r, &ei);
    fake_stop(&h);
    repo_target_free(t);
    assert_int_equal(e, ERR_XML);
    assert_non_null(strstr(ei.msg, "stored document of caom:TEST/obs1"));
    caom_observation_free(flat);
    caom_observation_free(fresh);
    caom_observation_free(old);
    free(doc);
    fake_free(&f);
    fake_free(&g);
    fake_free(&h);
}

static void test_remote_opts_checked(void **state)
{
    (void)state;
    struct repo_target *t = NULL;
    struct err_info ei;
    struct repo_remote_opts o = {.url = "file:///etc/passwd"};
    assert_int_equal(repo_target_remote(&o, &t, &ei), ERR_INVALID);
    o.url = "http://h/caom2";
    o.token = "a\r\nX-Evil: 1";
    assert_int_equal(repo_target_remote(&o, &t, &ei), ERR_INVALID);
    o.token = "";
    assert_int_equal(repo_target_remote(&o, &t, &ei), ERR_INVALID);
    assert_null(t);
    o.token = "ok";
    assert_int_equal(repo_target_remote(&o, &t, &ei), ERR_OK);
    assert_int_equal(repo_target_post(t, "C", "ID", "<x/>", 4, "md5:1\r\nX: y", &ei), ERR_INVALID);
    assert_int_equal(repo_target_get(t, "", "ID", NULL, &ei), ERR_INVALID);
    assert_int_equal(repo_target_delete(t, "C", "", &ei), ERR_INVALID);
    struct repo_list_query q = {.collection = "C", .maxrec = REPO_LIST_MAXREC + 1};
    assert_int_equal(repo_target_list(t, &q, NULL, &ei), ERR_INVALID);
    repo_target_free(t);
    repo_target_free(NULL);
    assert_string_equal(repo_outcome_name(REPO_UNCHANGED), "unchanged");
    assert_string_equal(repo_outcome_name(REPO_REPLACED), "replaced");
    assert_string_equal(repo_outcome_name(REPO_UPDATED), "updated");
}

int main(void)
{
    struct err_info ei;
    if (httpc_global_init(&ei) != ERR_OK) {
        fprintf(stderr, "httpc_global_init: %s\n", ei.msg);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_normalise),
        cmocka_unit_test(test_capabilities_url_and_security),
        cmocka_unit_test(test_obs_and_list_url),
        cmocka_unit_test(test_status_mapping),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_retry_delay),
        cmocka_unit_test(test_body_line_etag_root_attr),
        cmocka_unit_test(test_remote_retries_then_ok),
        cmocka_unit_test(test_remote_retries_exhausted),
        cmocka_unit_test(test_remote_final_4xx),
        cmocka_unit_test(test_remote_capabilities_and_list),
        cmocka_unit_test(test_push_created_and_unchanged),
        cmocka_unit_test(test_push_updated_after_race),
        cmocka_unit_test(test_push_retried_write_that_landed),
        cmocka_unit_test(test_push_replaced_and_rounds_exhausted),
        cmocka_unit_test(test_remote_opts_checked),
    };
    int rc = cmocka_run_group_tests_name("lib.repo.push_client", tests, NULL, NULL);
    httpc_global_cleanup();
    return rc;
}
