/* test_httpc.c - lib/httpc against a real local HTTP server with scripted faults
 * (http_fault_server.py): bodies, headers, bearer, uploads, retries on 500, timeouts,
 * truncated bodies, 404 without retry, size caps, checksums and atomic downloads.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include "httpc/httpc.h"
#include "test_srv.h"

static struct test_srv srv;
static struct httpc *client;
static char scratch[1024];

static int group_setup(void **state)
{
    (void)state;
    const char *tmp = getenv("OBSFLOW_TEST_TMP");
    snprintf(scratch, sizeof scratch, "%s", tmp ? tmp : "/tmp");
    if (httpc_global_init(NULL) != ERR_OK) {
        return -1;
    }
    if (test_srv_start(&srv, scratch) != 0) {
        return -1;
    }
    struct httpc_options o = {.backoff_ms = 10, .connect_timeout_ms = 2000,
                              .total_timeout_ms = 10000};
    return httpc_create(&o, &client, NULL) == ERR_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    httpc_destroy(client);
    test_srv_stop(&srv);
    httpc_global_cleanup();
    return 0;
}

static void url(char *out, size_t cap, const char *path)
{
    snprintf(out, cap, "%s%s", srv.base, path);
}

static long counter(const char *id)
{
    char u[256];
    char p[128];
    snprintf(p, sizeof p, "/count/%s", id);
    url(u, sizeof u, p);
    struct httpc_request rq = {.url = u};
    struct httpc_response rs;
    httpc_response_init(&rs);
    assert_int_equal(httpc_do(client, &rq, &rs, NULL), ERR_OK);
    long n = strtol(buf_cstr(&rs.body), NULL, 10);
    httpc_response_free(&rs);
    return n;
}

static void test_get_body_headers_digest(void **state)
{
    (void)state;
    char u[256];
    url(u, sizeof u, "/ok/100000");
    struct httpc_request rq = {.url = u, .sum = HTTPC_SUM_SHA256};
    struct httpc_response rs;
    httpc_response_init(&rs);
    struct err_info ei = {0};
    assert_int_equal(httpc_do(client, &rq, &rs, &ei), ERR_OK);
    assert_int_equal(rs.status, 200);
    assert_int_equal(rs.body.len, 100000);
    assert_int_equal(rs.body_bytes, 100000);
    assert_int_equal(rs.attempts, 1);
    for (size_t i = 0; i < rs.body.len; i++) {
        assert_int_equal((unsigned char)rs.body.data[i], i % 251);
    }
    assert_string_equal(httpc_response_header(&rs, "content-length"), "100000");
    assert_string_equal(httpc_response_header(&rs, "Content-Type"), "application/octet-stream");
    assert_null(httpc_response_header(&rs, "X-Absent"));
    char hex[HTTPC_SUM_HEX_MAX];
    assert_int_equal(httpc_sum_mem(HTTPC_SUM_SHA256, rs.body.data, rs.body.len, hex, NULL),
                     ERR_OK);
    assert_string_equal(rs.sum_hex, hex);
    assert_int_equal(strlen(hex), 64);
    httpc_response_free(&rs);
}

static void test_known_digests(void **state)
{
    (void)state;
    char hex[HTTPC_SUM_HEX_MAX];
    assert_int_equal(httpc_sum_mem(HTTPC_SUM_MD5, "abc", 3, hex, NULL), ERR_OK);
    assert_string_equal(hex, "900150983cd24fb0d6963f7d28e17f72");
    assert_int_equal(httpc_sum_mem(HTTPC_SUM_SHA256, "abc", 3, hex, NULL), ERR_OK);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(httpc_sum_mem(HTTPC_SUM_NONE, "abc", 3, hex, NULL), ERR_INVALID);
}

static void test_post_json_bearer(void **state)
{
    (void)state;
    char u[256];
    url(u, sizeof u, "/echo");
    const char *body = "{\"kind\":\"noop\",\"params\":{\"sleep_ms\":1}}";
    const char *hdrs[] = {"Content-Type: application/json", "Idempotency-Key: k-1", NULL};
    struct httpc_request rq = {.method = HTTPC_POST, .url = u, .headers = hdrs,
                               .bearer_token = "s3cr3t-token", .body = body,
                               .body_len = strlen(body)};
    struct httpc_response rs;
    httpc_response_init(&rs);
    assert_int_equal(httpc_do(client, &rq, &rs, NULL), ERR_OK);
    assert_int_equal(rs.status, 200);
    assert_string_equal(httpc_response_header(&rs, "X-Echo"), "yes");
    const char *j = buf_cstr(&rs.body);
    assert_non_null(strstr(j, "\"method\": \"POST\""));
    assert_non_null(strstr(j, "[\"Authorization\", \"Bearer s3cr3t-token\"]"));
    assert_non_null(strstr(j, "[\"Idempotency-Key\", \"k-1\"]"));
    assert_non_null(strstr(j, "[\"Content-Type\", \"application/json\"]"));
    char exp[64];
    snprintf(exp, sizeof exp, "\"body_len\": %zu", strlen(body));
    assert_non_null(strstr(j, exp));
    httpc_response_free(&rs);
}

static void write_pattern_file(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++) {
        fputc((int)(i % 253), f);
    }
    fclose(f);
}

static void test_put_file_range(void **state)
{
    (void)state;
    char u[256];
    char path[1100];
    url(u, sizeof u, "/echo");
    snprintf(path, sizeof path, "%s/upload.bin", scratch);
    write_pattern_file(path, 300000);
    char hex[HTTPC_SUM_HEX_MAX];
    assert_int_equal(httpc_sum_file(HTTPC_SUM_SHA256, path, 1000, 200000, hex, NULL), ERR_OK);
    struct httpc_request rq = {.method = HTTPC_PUT, .url = u, .body_file = path,
                               .body_file_offset = 1000, .body_file_len = 200000};
    struct httpc_response rs;
    httpc_response_init(&rs);
    assert_int_equal(httpc_do(client, &rq, &rs, NULL), ERR_OK);
    const char *j = buf_cstr(&rs.body);
    assert_non_null(strstr(j, "\"method\": \"PUT\""));
    assert_non_null(strstr(j, "\"body_len\": 200000"));
    assert_non_null(strstr(j, hex));
    httpc_response_free(&rs);
    /* a range past the end is refused before sending */
    rq.body_file_offset = 299999;
    rq.body_file_len = 10;
    struct err_info ei = {0};
    assert_int_equal(httpc_do(client, &rq, &rs, &ei), ERR_INVALID);
    httpc_response_free(&rs);
}

static void test_retry_500_then_success(void **state)
{
    (void)state;
    char u[256];
    url(u, sizeof u, "/flaky/a/2");
    struct httpc_request rq = {.url = u};
    struct httpc_response rs;
    httpc_response_init(&rs);
    assert_int_equal(httpc_do(client, &rq, &rs, NULL), ERR_OK);
    assert_int_equal(rs.status, 200);
    assert_string_equal(buf_cstr(&rs.body), "recovered");
    assert_int_equal(rs.attempts, 3);
    assert_int_equal(counter("flaky:a"), 3);
    httpc_response_free(&rs);
}

static void test_retries_are_bounded(void **state)
{
    (void)state;
    char u[256];
    url(u, sizeof u, "/always500");
    struct httpc_request rq = {.url = u, .max_attempts = 3};
    struct httpc_response rs;
    httpc_response_init(&rs);
    assert_int_equal(httpc_do(client, &rq, &rs, NULL), ERR_OK);
    assert_int_equal(rs.status, 500);
    assert_int_equal(rs.attempts, 3);
    struct err_info ei = {0};
    assert_int_equal(httpc_check(&rs, "thing", &ei), ERR_HTTP);
    assert_non_null(strstr(ei.msg, "HTTP 500"));
    assert_non_null(strstr(ei.msg, "broken"));
    httpc_response_free(&rs);
    assert_int_equal(counter("always500"), 3);
    /* with fail_on_status the same ends as an error */
    rq.fail_on_status = true;
    rq.max_attempts = 1;
    httpc_response_init(&rs);
    assert_int_equal(httpc_do(client, &rq, &rs, &ei), ERR_HTTP);
    httpc_response_free(&rs);
}

static void test_post_not_retried_by_default(void **state)
{
    (void)state;
    char u[256];
    url(u, sizeof u, "/flaky/p/1");
    struct httpc_request rq = {.method = HTTPC_POST, .url = u, .body = "x", .body_len = 1};
    struct httpc_response rs;
    httpc_response_init(&rs);
    assert_int_equal(httpc_do(client, &rq, &rs, NULL), ERR_OK);
    assert_int_equal(rs.status, 500);
    assert_int_equal(rs.attempts, 1);
    httpc_response_free(&rs);
    assert_int_equal(counter("flaky:p"), 1);
}

static void test_timeout(void **state)
{
    (void)state;
    char u[256];
    url(u, sizeof u, "/slow/3000");
    struct httpc_request rq = {.url = u, .total_timeout_ms = 300, .max_attempts = 2};
    struct httpc_response rs;
    httpc_response_init(&rs);
    struct err_info ei = {0};
    assert_int_equal(httpc_do(client, &rq, &rs, &ei), ERR_TIMEOUT);
    assert_int_equal(rs.attempts, 2);
    assert_non_null(strstr(ei.msg, "timed out"));
    assert_non_null(strstr(ei.msg, "/slow/3000"));
    httpc_response_free(&rs);
}

static void test_truncated_body(void **state)
{
    (void)state;
    char u[256];
    url(u, sizeof u, "/truncated");
    struct httpc_request rq = {.url = u, .max_attempts = 2};
    struct httpc_response rs;
    httpc_response_init(&rs);
    struct err_info ei = {0};
    assert_int_equal(httpc_do(client, &rq, &rs, &ei), ERR_HTTP);
    assert_non_null(strstr(ei.msg, "truncated"));
    assert_int_equal(rs.attempts, 2);
    httpc_response_free(&rs);
}

static void test_404_no_retry(void **state)
{
    (void)state;
    char u[256];
    url(u, sizeof u, "/missing");
    struct httpc_request rq = {.url = u, .fail_on_status = true};
    struct httpc_response rs;
    httpc_response_init(&rs);
    struct err_info ei = {0};
    assert_int_equal(httpc_do(client, &rq, &rs, &ei), ERR_NOT_FOUND);
    assert_int_equal(rs.status, 404);
    assert_int_equal(rs.attempts, 1);
    assert_non_null(strstr(ei.msg, "HTTP 404"));
    assert_non_null(strstr(ei.msg, "no such object"));
    assert_non_null(strstr(ei.msg, "/missing"));
    httpc_response_free(&rs);
    assert_int_equal(counter("missing"), 1);
}

static int count_dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            n++;
        }
    }
    closedir(d);
    return n;
}

static void make_dir(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", scratch, name);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", out, out);
    assert_int_equal(system(cmd), 0);
}

static void test_size_cap(void **state)
{
    (void)state;
    char u[256];
    char dir[1100];
    char out[1200];
    url(u, sizeof u, "/ok/5000");
    struct httpc_request rq = {.url = u, .max_body = 1000};
    struct httpc_response rs;
    httpc_response_init(&rs);
    struct err_info ei = {0};
    assert_int_equal(httpc_do(client, &rq, &rs, &ei), ERR_TOO_LARGE);
    assert_non_null(strstr(ei.msg, "limit"));
    httpc_response_free(&rs);
    make_dir(dir, sizeof dir, "cap");
    snprintf(out, sizeof out, "%s/obj.bin", dir);
    rq.out_file = out;
    httpc_response_init(&rs);
    assert_int_equal(httpc_do(client, &rq, &rs, &ei), ERR_TOO_LARGE);
    httpc_response_free(&rs);
    assert_int_equal(count_dir_entries(dir), 0);
    /* too many response headers */
    url(u, sizeof u, "/bigheaders");
    struct httpc_request rq2 = {.url = u};
    httpc_response_init(&rs);
    assert_int_equal(httpc_do(client, &rq2, &rs, &ei), ERR_TOO_LARGE);
    httpc_response_free(&rs);
}

static void test_checksum_and_atomic_file(void **state)
{
    (void)state;
    char u[256];
    char dir[1100];
    char out[1200];
    url(u, sizeof u, "/ok/4096");
    make_dir(dir, sizeof dir, "dl");
    snprintf(out, sizeof out, "%s/obj.bin", dir);
    struct httpc_request rq = {.url = u, .out_file = out, .sum = HTTPC_SUM_MD5,
                               .expect_sum = "00000000000000000000000000000000"};
    struct httpc_response rs;
    httpc_response_init(&rs);
    struct err_info ei = {0};
    assert_int_equal(httpc_do(client, &rq, &rs, &ei), ERR_CHECKSUM);
    assert_non_null(strstr(ei.msg, "checksum mismatch"));
    httpc_response_free(&rs);
    assert_int_equal(count_dir_entries(dir), 0); /* neither the file nor a temporary */

    /* the right digest (upper case accepted) lands the file */
    unsigned char pat[4096];
    for (size_t i = 0; i < sizeof pat; i++) {
        pat[i] = (unsigned char)(i % 251);
    }
    char hex[HTTPC_SUM_HEX_MAX];
    assert_int_equal(httpc_sum_mem(HTTPC_SUM_MD5, pat, sizeof pat, hex, NULL), ERR_OK);
    for (char *p = hex; *p; p++) {
        if (*p >= 'a' && *p <= 'f') {
            *p = (char)(*p - 'a' + 'A');
        }
    }
    rq.expect_sum = hex;
    httpc_response_init(&rs);
    assert_int_equal(httpc_do(client, &rq, &rs, &ei), ERR_OK);
    assert_int_equal(rs.body.len, 0);
    assert_int_equal(rs.body_bytes, 4096);
    httpc_response_free(&rs);
    struct stat sb;
    assert_int_equal(stat(out, &sb), 0);
    assert_int_equal(sb.st_size, 4096);
    assert_int_equal(count_dir_entries(dir), 1);

    /* a failed download leaves the previous file intact and no temporary behind */
    url(u, sizeof u, "/truncated");
    struct httpc_request rq2 = {.url = u, .out_file = out, .max_attempts = 1};
    httpc_response_init(&rs);
    assert_int_equal(httpc_do(client, &rq2, &rs, &ei), ERR_HTTP);
    httpc_response_free(&rs);
    assert_int_equal(stat(out, &sb), 0);
    assert_int_equal(sb.st_size, 4096);
    assert_int_equal(count_dir_entries(dir), 1);

    /* a 404 does not create the file either */
    url(u, sizeof u, "/missing");
    char out2[1300];
    snprintf(out2, sizeof out2, "%s/none.bin", dir);
    struct httpc_request rq3 = {.url = u, .out_file = out2};
    httpc_response_init(&rs);
    assert_int_equal(httpc_do(client, &rq3, &rs, &ei), ERR_OK);
    assert_int_equal(rs.status, 404);
    assert_string_equal(buf_cstr(&rs.body), "no such object");
    httpc_response_free(&rs);
    assert_int_equal(count_dir_entries(dir), 1);
}

static void test_redirect_followed(void **state)
{
    (void)state;
    char u[256];
    url(u, sizeof u, "/redirect");
    struct httpc_request rq = {.url = u};
    struct httpc_response rs;
    httpc_response_init(&rs);
    assert_int_equal(httpc_do(client, &rq, &rs, NULL), ERR_OK);
    assert_int_equal(rs.status, 200);
    assert_int_equal(rs.body.len, 16);
    assert_non_null(strstr(rs.effective_url, "/ok/16"));
    httpc_response_free(&rs);
    /* the redirect's own body is not part of the final body, nor of its size cap */
    url(u, sizeof u, "/redirectbody");
    struct httpc_request rb = {.url = u, .max_body = 16, .sum = HTTPC_SUM_SHA256};
    httpc_response_init(&rs);
    assert_int_equal(httpc_do(client, &rb, &rs, NULL), ERR_OK);
    assert_int_equal(rs.status, 200);
    assert_int_equal(rs.body.len, 16);
    assert_int_equal(rs.body_bytes, 16);
    for (size_t i = 0; i < 16; i++) {
        assert_int_equal((unsigned char)rs.body.data[i], i % 251);
    }
    char hex[HTTPC_SUM_HEX_MAX];
    assert_int_equal(httpc_sum_mem(HTTPC_SUM_SHA256, rs.body.data, 16, hex, NULL), ERR_OK);
    assert_string_equal(rs.sum_hex, hex);
    httpc_response_free(&rs);
}

static void test_connection_refused(void **state)
{
    (void)state;
    /* a port that was free a moment ago: bind port 0, read it, close */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/x", ntohs(a.sin_port));
    struct httpc_request rq = {.url = u, .max_attempts = 2};
    struct httpc_response rs;
    httpc_response_init(&rs);
    struct err_info ei = {0};
    assert_int_equal(httpc_do(client, &rq, &rs, &ei), ERR_UNAVAILABLE);
    assert_int_equal(rs.attempts, 2);
    httpc_response_free(&rs);
}

static void test_bad_requests(void **state)
{
    (void)state;
    struct httpc_response rs;
    struct err_info ei = {0};
    httpc_response_init(&rs);
    struct httpc_request r1 = {.url = "ftp://example.org/x"};
    assert_int_equal(httpc_do(client, &r1, &rs, &ei), ERR_INVALID);
    struct httpc_request r2 = {.url = NULL};
    assert_int_equal(httpc_do(client, &r2, &rs, &ei), ERR_INVALID);
    char u[256];
    url(u, sizeof u, "/echo");
    const char *inj[] = {"X-A: 1\r\nX-B: 2", NULL};
    struct httpc_request r3 = {.url = u, .headers = inj};
    assert_int_equal(httpc_do(client, &r3, &rs, &ei), ERR_INVALID);
    struct httpc_request r4 = {.url = u, .bearer_token = "a b"};
    assert_int_equal(httpc_do(client, &r4, &rs, &ei), ERR_INVALID);
    struct httpc_request r5 = {.url = u, .body = "x", .body_len = 1};
    assert_int_equal(httpc_do(client, &r5, &rs, &ei), ERR_INVALID); /* GET with body */
    struct httpc_sigv4 sv = {.access_key_id = "AK", .secret_access_key = "SK",
                             .region = "us-east-1", .service = "s3"};
    struct httpc_request r6 = {.url = u, .sigv4 = &sv, .bearer_token = "t"};
    assert_int_equal(httpc_do(client, &r6, &rs, &ei), ERR_INVALID);
    struct httpc_request r7 = {.url = "http://127.0.0.1:1/a b"};
    assert_int_equal(httpc_do(client, &r7, &rs, &ei), ERR_INVALID);
    httpc_response_free(&rs);
}

static void test_url_encode(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(httpc_url_encode(&b, "dir/obj one+two~_.fits", true), ERR_OK);
    assert_string_equal(buf_cstr(&b), "dir/obj%20one%2Btwo~_.fits");
    buf_reset(&b);
    assert_int_equal(httpc_url_encode(&b, "a/b=c&d\xc3\xa9", false), ERR_OK);
    assert_string_equal(buf_cstr(&b), "a%2Fb%3Dc%26d%C3%A9");
    buf_reset(&b);
    assert_int_equal(httpc_url_encode(&b, "", false), ERR_OK);
    assert_string_equal(buf_cstr(&b), "");
    buf_free(&b);
}

static void tls_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/tests/storage/tls/%s", getenv("OBSFLOW_SOURCE_DIR"), name);
}

static void test_tls_verification(void **state)
{
    (void)state;
    char cert[1024];
    char key[1024];
    tls_path(cert, sizeof cert, "server.pem");
    tls_path(key, sizeof key, "server.key");
    struct test_srv tls;
    assert_int_equal(test_srv_start_tls(&tls, scratch, cert, key, NULL), 0);
    char u[256];
    snprintf(u, sizeof u, "%s/ok/100", tls.base);
    struct httpc_request rq = {.url = u};
    struct httpc_response rs;
    struct err_info ei = {0};
    /* an unknown CA: the handshake is refused (ERR_UNAUTHORIZED), and not retried */
    httpc_response_init(&rs);
    assert_int_equal(httpc_do(client, &rq, &rs, &ei), ERR_UNAUTHORIZED);
    assert_non_null(strstr(ei.msg, "TLS handshake"));
    assert_int_equal(rs.attempts, 1);
    httpc_response_free(&rs);
    /* trusted through ca_file */
    struct httpc *c2 = NULL;
    struct httpc_options o = {.ca_file = cert};
    assert_int_equal(httpc_create(&o, &c2, NULL), ERR_OK);
    httpc_response_init(&rs);
    assert_int_equal(httpc_do(c2, &rq, &rs, &ei), ERR_OK);
    assert_int_equal(rs.status, 200);
    assert_int_equal(rs.body.len, 100);
    httpc_response_free(&rs);
    httpc_destroy(c2);
    /* insecure_skip_verify (tests only) */
    struct httpc_options o2 = {.insecure_skip_verify = true};
    assert_int_equal(httpc_create(&o2, &c2, NULL), ERR_OK);
    httpc_response_init(&rs);
    assert_int_equal(httpc_do(c2, &rq, &rs, &ei), ERR_OK);
    assert_int_equal(rs.status, 200);
    httpc_response_free(&rs);
    httpc_destroy(c2);
    test_srv_stop(&tls);
}

static void test_tls_client_certificate(void **state)
{
    (void)state;
    char cert[1024];
    char key[1024];
    char ccert[1024];
    char ckey[1024];
    tls_path(cert, sizeof cert, "server.pem");
    tls_path(key, sizeof key, "server.key");
    tls_path(ccert, sizeof ccert, "client.pem");
    tls_path(ckey, sizeof ckey, "client.key");
    struct test_srv tls;
    assert_int_equal(test_srv_start_tls(&tls, scratch, cert, key, ccert), 0);
    char u[256];
    snprintf(u, sizeof u, "%s/ok/10", tls.base);
    struct httpc_request rq = {.url = u, .max_attempts = 1};
    struct httpc_response rs;
    struct err_info ei = {0};
    struct httpc *c2 = NULL;
    struct httpc_options o = {.ca_file = cert};
    assert_int_equal(httpc_create(&o, &c2, NULL), ERR_OK);
    httpc_response_init(&rs);
    assert_int_not_equal(httpc_do(c2, &rq, &rs, &ei), ERR_OK); /* no client certificate */
    httpc_response_free(&rs);
    httpc_destroy(c2);
    struct httpc_options o2 = {.ca_file = cert, .client_cert = ccert, .client_key = ckey};
    assert_int_equal(httpc_create(&o2, &c2, NULL), ERR_OK);
    httpc_response_init(&rs);
    assert_int_equal(httpc_do(c2, &rq, &rs, &ei), ERR_OK);
    assert_int_equal(rs.status, 200);
    assert_int_equal(rs.body.len, 10);
    httpc_response_free(&rs);
    httpc_destroy(c2);
    test_srv_stop(&tls);
}

struct prog_state {
    uint64_t last_down;
    uint64_t last_total;
    int calls;
    bool cancel;
};

static bool on_prog(void *ud, uint64_t dd, uint64_t dt, uint64_t ud_done, uint64_t ut)
{
    (void)ud_done;
    (void)ut;
    struct prog_state *p = ud;
    p->calls++;
    assert_true(dd >= p->last_down || dd == 0); /* monotonic within an attempt */
    p->last_down = dd;
    if (dt) {
        p->last_total = dt;
    }
    return !(p->cancel && dd > 0);
}

static void test_progress_and_cancel(void **state)
{
    (void)state;
    char u[256];
    url(u, sizeof u, "/ok/3000000");
    struct prog_state ps = {0};
    struct httpc_request rq = {.url = u, .progress = on_prog, .progress_ud = &ps};
    struct httpc_response rs;
    httpc_response_init(&rs);
    struct err_info ei = {0};
    assert_int_equal(httpc_do(client, &rq, &rs, &ei), ERR_OK);
    assert_true(ps.calls > 0);
    assert_int_equal(ps.last_down, 3000000);
    assert_int_equal(ps.last_total, 3000000);
    httpc_response_free(&rs);
    /* cancelling: ERR_CANCELLED, no retry, no file */
    char dir[1100];
    char out[1200];
    make_dir(dir, sizeof dir, "cancel");
    snprintf(out, sizeof out, "%s/obj.bin", dir);
    struct prog_state pc = {.cancel = true};
    struct httpc_request rq2 = {.url = u, .out_file = out, .progress = on_prog,
                                .progress_ud = &pc};
    httpc_response_init(&rs);
    assert_int_equal(httpc_do(client, &rq2, &rs, &ei), ERR_CANCELLED);
    assert_int_equal(rs.attempts, 1);
    assert_non_null(strstr(ei.msg, "cancelled"));
    httpc_response_free(&rs);
    assert_int_equal(count_dir_entries(dir), 0);
}

static void test_parse_date(void **state)
{
    (void)state;
    assert_int_equal(httpc_parse_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
    assert_int_equal(httpc_parse_date("1994-11-06T08:49:37.000Z"), 784111777);
    assert_int_equal(httpc_parse_date("1994-11-06T08:49:37Z"), 784111777);
    assert_int_equal(httpc_parse_date("1994-13-06T08:49:37Z"), -1);
    assert_int_equal(httpc_parse_date("not a date"), -1);
    assert_int_equal(httpc_parse_date(""), -1);
    assert_int_equal(httpc_parse_date(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_digests),
        cmocka_unit_test(test_url_encode),
        cmocka_unit_test(test_get_body_headers_digest),
        cmocka_unit_test(test_post_json_bearer),
        cmocka_unit_test(test_put_file_range),
        cmocka_unit_test(test_retry_500_then_success),
        cmocka_unit_test(test_retries_are_bounded),
        cmocka_unit_test(test_post_not_retried_by_default),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_truncated_body),
        cmocka_unit_test(test_404_no_retry),
        cmocka_unit_test(test_size_cap),
        cmocka_unit_test(test_checksum_and_atomic_file),
        cmocka_unit_test(test_redirect_followed),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_tls_verification),
        cmocka_unit_test(test_tls_client_certificate),
        cmocka_unit_test(test_parse_date),
        cmocka_unit_test(test_progress_and_cancel),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
