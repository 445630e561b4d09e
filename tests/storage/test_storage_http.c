/* test_storage_http.c - lib/storage http(s) and astroquery: reads through the fault server:
 * downloads to file and memory with digests, 404 as NOT_FOUND without retry, 500 then success,
 * HEAD metadata, archive template downloads, read-only refusals; S3 error paths a real server
 * rarely shows: list pages that make no progress or are malformed, multipart initiations
 * without an upload id and completions that fail inside a 200 (aborted).
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "httpc/httpc.h"
#include "storage/storage.h"
#include "test_srv.h"

static struct test_srv srv;
static struct storage *st;
static char scratch[1024];

static int group_setup(void **state)
{
    (void)state;
    const char *tmp = getenv("OBSFLOW_TEST_TMP");
    snprintf(scratch, sizeof scratch, "%s", tmp ? tmp : "/tmp");
    if (httpc_global_init(NULL) != ERR_OK || test_srv_start(&srv, scratch) != 0) {
        return -1;
    }
    char tpl[256];
    snprintf(tpl, sizeof tpl, "%s/ok/{name}", srv.base);
    struct storage_config cfg = {.archive_url_template = tpl, .backoff_ms = 10,
                                 .archive_token = "archive-token"};
    return storage_create(&cfg, &st, NULL) == ERR_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    storage_destroy(st);
    test_srv_stop(&srv);
    httpc_global_cleanup();
    return 0;
}

static void test_http_get_file_and_mem(void **state)
{
    (void)state;
    char u[256];
    char dest[1200];
    snprintf(u, sizeof u, "%s/ok/5000", srv.base);
    snprintf(dest, sizeof dest, "%s/dl.bin", scratch);
    struct err_info ei = {0};
    struct storage_stat s = {0};
    struct storage_xfer_opts o = {.sum = STORAGE_SUM_SHA256};
    assert_int_equal(storage_get_file(st, u, dest, &o, &s, &ei), ERR_OK);
    assert_int_equal(s.size, 5000);
    char hex[HTTPC_SUM_HEX_MAX];
    assert_int_equal(httpc_sum_file(HTTPC_SUM_SHA256, dest, 0, 0, hex, NULL), ERR_OK);
    assert_string_equal(s.sum_hex, hex);
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(storage_get_mem(st, u, 1 << 20, &b, NULL, NULL, &ei), ERR_OK);
    assert_int_equal(b.len, 5000);
    assert_int_equal(storage_get_mem(st, u, 100, &b, NULL, NULL, &ei), ERR_TOO_LARGE);
    assert_int_equal(b.len, 5000);
    buf_free(&b);
    struct storage_stat h = {0};
    assert_int_equal(storage_head(st, u, &h, &ei), ERR_OK);
    assert_int_equal(h.size, 5000);
}

static void test_http_faults(void **state)
{
    (void)state;
    char u[256];
    char dest[1200];
    snprintf(dest, sizeof dest, "%s/fault.bin", scratch);
    unlink(dest);
    struct err_info ei = {0};
    snprintf(u, sizeof u, "%s/missing", srv.base);
    assert_int_equal(storage_get_file(st, u, dest, NULL, NULL, &ei), ERR_NOT_FOUND);
    assert_non_null(strstr(ei.msg, "404"));
    struct stat sb;
    assert_int_not_equal(stat(dest, &sb), 0);
    snprintf(u, sizeof u, "%s/flaky/st/2", srv.base);
    assert_int_equal(storage_get_file(st, u, dest, NULL, NULL, &ei), ERR_OK);
    assert_int_equal(stat(dest, &sb), 0);
    assert_int_equal(sb.st_size, 9); /* "recovered" */
    snprintf(u, sizeof u, "%s/truncated", srv.base);
    assert_int_equal(storage_get_file(st, u, dest, NULL, NULL, &ei), ERR_HTTP);
    assert_int_equal(stat(dest, &sb), 0);
    assert_int_equal(sb.st_size, 9); /* previous content kept */
    assert_int_equal(storage_put_mem(st, u, "x", 1, NULL, NULL, &ei), ERR_UNSUPPORTED);
    assert_int_equal(storage_delete(st, u, &ei), ERR_UNSUPPORTED);
}

static void test_astroquery_template(void **state)
{
    (void)state;
    struct err_info ei = {0};
    struct buf b;
    buf_init(&b, 1 << 20);
    struct storage_stat s = {0};
    /* the template ".../ok/{name}" turns astroquery:64 into GET /ok/64 */
    assert_int_equal(storage_get_mem(st, "astroquery:64", 1 << 20, &b, NULL, &s, &ei), ERR_OK);
    assert_int_equal(b.len, 64);
    assert_int_equal((unsigned char)b.data[63], 63);
    buf_free(&b);
    assert_int_equal(storage_head(st, "astroquery:77", &s, &ei), ERR_OK);
    assert_int_equal(s.size, 77);
    assert_int_equal(storage_put_mem(st, "astroquery:64", "x", 1, NULL, NULL, &ei),
                     ERR_UNSUPPORTED);
    assert_int_equal(storage_get_mem(st, "astroquery:../etc", 10, &b, NULL, NULL, &ei),
                     ERR_INVALID);
}

static enum err count_entries(void *ud, const char *uri, const struct storage_stat *stat)
{
    (void)uri;
    (void)stat;
    (*(size_t *)ud)++;
    return ERR_OK;
}

/* An S3 server whose list pages never end (the same continuation token again, or an endless
 * run of empty truncated pages) must not keep the listing going forever. */
static void test_s3_list_without_progress(void **state)
{
    (void)state;
    struct storage_s3_config s3 = {0};
    snprintf(s3.endpoint_url, sizeof s3.endpoint_url, "%s", srv.base);
    struct storage_config cfg = {.s3 = &s3, .backoff_ms = 10};
    struct storage *s = NULL;
    assert_int_equal(storage_create(&cfg, &s, NULL), ERR_OK);
    struct err_info ei = {0};
    size_t n = 0;
    assert_int_equal(storage_list(s, "s3://s3loop/", count_entries, &n, &ei), ERR_STORAGE);
    assert_non_null(strstr(ei.msg, "continuation token"));
    /* page 1 (no token) and page 2 (token "same") each report their key; page 2 answers
     * "same" again, which is refused */
    assert_int_equal(n, 2);
    n = 0;
    assert_int_equal(storage_list(s, "s3://s3empty/", count_entries, &n, &ei), ERR_STORAGE);
    assert_non_null(strstr(ei.msg, "empty"));
    assert_int_equal(n, 0);
    /* the server saw a bounded number of requests */
    struct buf b;
    buf_init(&b, 64);
    char u[256];
    snprintf(u, sizeof u, "%s/count/s3empty", srv.base);
    assert_int_equal(storage_get_mem(st, u, 64, &b, NULL, NULL, &ei), ERR_OK);
    long pages = strtol(buf_cstr(&b), NULL, 10);
    assert_true(pages > 1 && pages <= 64);
    buf_free(&b);
    /* malformed list pages are refused with a message, never half-listed silently */
    static const struct {
        const char *uri, *msg;
        size_t listed;
    } bad[] = {
        {"s3://s3unclosed/", "malformed list response", 0},
        {"s3://s3nokey/", "without a key", 0},
        {"s3://s3notoken/", "without a continuation token", 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = 0;
        assert_int_equal(storage_list(s, bad[i].uri, count_entries, &n, &ei), ERR_STORAGE);
        assert_non_null(strstr(ei.msg, bad[i].msg));
        assert_int_equal(n, bad[i].listed);
    }
    storage_destroy(s);
}

/* Multipart uploads: an initiation without an UploadId, and a completion that answers 200
 * with an <Error> body (S3 does that), both fail; the second aborts the upload. */
static void test_s3_multipart_failures(void **state)
{
    (void)state;
    struct storage_s3_config s3 = {0};
    snprintf(s3.endpoint_url, sizeof s3.endpoint_url, "%s", srv.base);
    struct storage_config cfg = {.s3 = &s3, .backoff_ms = 10,
                                 .multipart_threshold = STORAGE_S3_MIN_PART,
                                 .part_size = STORAGE_S3_MIN_PART};
    struct storage *s = NULL;
    assert_int_equal(storage_create(&cfg, &s, NULL), ERR_OK);
    size_t len = (size_t)STORAGE_S3_MIN_PART + 1000; /* two parts */
    char *data = calloc(1, len);
    assert_non_null(data);
    struct err_info ei = {0};
    assert_int_equal(storage_put_mem(s, "s3://s3mpnoid/k", data, len, NULL, NULL, &ei),
                     ERR_STORAGE);
    assert_non_null(strstr(ei.msg, "upload id"));
    assert_int_equal(storage_put_mem(s, "s3://s3mperr/k", data, len, NULL, NULL, &ei),
                     ERR_STORAGE);
    assert_non_null(strstr(ei.msg, "InternalError"));
    struct buf b;
    buf_init(&b, 64);
    char u[256];
    snprintf(u, sizeof u, "%s/count/s3mperr-abort", srv.base);
    assert_int_equal(storage_get_mem(st, u, 64, &b, NULL, NULL, &ei), ERR_OK);
    assert_string_equal(buf_cstr(&b), "1");
    buf_free(&b);
    free(data);
    storage_destroy(s);
}

/* ---- storage_walk over a URI list ------------------------------------------------------- */

struct lines_seen {
    size_t n;
    char uris[8][160];
    bool stat_nonzero;
    size_t stop_at;
    size_t in_order; /* many/N: lines that came as kNNNNNNN with N = their index */
};

static enum err on_uri(void *ud, const char *uri, const struct storage_stat *s)
{
    struct lines_seen *ls = ud;
    if (s->size || s->mtime_ns || s->etag[0] || s->sum_hex[0]) {
        ls->stat_nonzero = true;
    }
    char want[64];
    snprintf(want, sizeof want, "s3://bucket/k%07zu.fits", ls->n);
    if (strcmp(uri, want) == 0) {
        ls->in_order++;
    }
    if (ls->n < 8) {
        snprintf(ls->uris[ls->n], sizeof ls->uris[0], "%s", uri);
    }
    ls->n++;
    return ls->stop_at && ls->n == ls->stop_at ? ERR_CANCELLED : ERR_OK;
}

/* entries left in the scratch directory (the walk must leave none) */
static int scratch_entries(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", dir);
    return system(cmd) == 0 ? 0 : 1;
}

static void test_walk_uri_list(void **state)
{
    (void)state;
    char wdir[1200];
    snprintf(wdir, sizeof wdir, "%s/walk", scratch);
    char cmd[2600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", wdir, wdir);
    assert_int_equal(system(cmd), 0);
    struct storage_walk_opts o = {.scratch_dir = wdir};
    struct err_info ei = {0};
    char u[256];
    struct lines_seen *ls = calloc(1, sizeof *ls);
    assert_non_null(ls);

    /* comments, blank lines, CRLF and blanks: four URIs, as written, stat unknown */
    snprintf(u, sizeof u, "%s/urilist/good", srv.base);
    assert_int_equal(storage_walk(st, u, &o, on_uri, ls, &ei), ERR_OK);
    assert_int_equal(ls->n, 4);
    assert_string_equal(ls->uris[0], "s3://bucket/raw/a.fits");
    assert_string_equal(ls->uris[1], "file:/data/raw/b.fits");
    assert_string_equal(ls->uris[2], "https://archive.example/c.fits?x=1");
    assert_string_equal(ls->uris[3], "astroquery:j8cb01u2q_raw.fits");
    assert_false(ls->stat_nonzero);
    assert_int_equal(scratch_entries(wdir), 0);

    /* a bad line: the entries before it, then ERR_INVALID naming line 4 */
    memset(ls, 0, sizeof *ls);
    snprintf(u, sizeof u, "%s/urilist/bad", srv.base);
    assert_int_equal(storage_walk(st, u, &o, on_uri, ls, &ei), ERR_INVALID);
    assert_int_equal(ls->n, 2);
    assert_non_null(strstr(ei.msg, "line 4"));
    assert_int_equal(scratch_entries(wdir), 0);

    /* an over-long line: ERR_TOO_LARGE naming line 3 */
    memset(ls, 0, sizeof *ls);
    snprintf(u, sizeof u, "%s/urilist/long", srv.base);
    assert_int_equal(storage_walk(st, u, &o, on_uri, ls, &ei), ERR_TOO_LARGE);
    assert_int_equal(ls->n, 1);
    assert_non_null(strstr(ei.msg, "line 3"));

    /* many lines across read chunks, in order; the callback can stop the walk */
    memset(ls, 0, sizeof *ls);
    snprintf(u, sizeof u, "%s/urilist/many/20000", srv.base);
    assert_int_equal(storage_walk(st, u, &o, on_uri, ls, &ei), ERR_OK);
    assert_int_equal(ls->n, 20000);
    assert_int_equal(ls->in_order, 20000);
    memset(ls, 0, sizeof *ls);
    ls->stop_at = 5;
    assert_int_equal(storage_walk(st, u, &o, on_uri, ls, &ei), ERR_CANCELLED);
    assert_int_equal(ls->n, 5);
    assert_int_equal(scratch_entries(wdir), 0);

    /* a missing list, a list that breaks off: errors, nothing reported, nothing left */
    memset(ls, 0, sizeof *ls);
    snprintf(u, sizeof u, "%s/missing", srv.base);
    assert_int_equal(storage_walk(st, u, &o, on_uri, ls, &ei), ERR_NOT_FOUND);
    snprintf(u, sizeof u, "%s/truncated", srv.base);
    assert_int_not_equal(storage_walk(st, u, &o, on_uri, ls, &ei), ERR_OK);
    assert_int_equal(ls->n, 0);
    assert_int_equal(scratch_entries(wdir), 0);
    /* no scratch directory, or one that does not exist */
    snprintf(u, sizeof u, "%s/urilist/good", srv.base);
    assert_int_equal(storage_walk(st, u, NULL, on_uri, ls, &ei), ERR_INVALID);
    struct storage_walk_opts bad = {.scratch_dir = "no/such/dir"};
    assert_int_equal(storage_walk(st, u, &bad, on_uri, ls, &ei), ERR_IO);
    assert_int_equal(ls->n, 0);
    free(ls);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_get_file_and_mem),
        cmocka_unit_test(test_http_faults),
        cmocka_unit_test(test_astroquery_template),
        cmocka_unit_test(test_s3_list_without_progress),
        cmocka_unit_test(test_s3_multipart_failures),
        cmocka_unit_test(test_walk_uri_list),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
