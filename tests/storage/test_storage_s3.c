/* test_storage_s3.c - lib/storage s3: against a real S3 protocol server (s3rver from the CTest
 * fixture S3; port in $OBSFLOW_S3_DIR/port): bucket creation, put/get/head/delete, keys that
 * need encoding, list with continuation (more keys than one page), multipart upload above the
 * threshold, missing keys, and the ETag check on arrival against a corrupted stored object.
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

#define MIB ((size_t)1 << 20)

/* assert ERR_OK and show the message when it is not */
#define CHECK_OK(call)                                                                             \
    do {                                                                                           \
        enum err e_ = (call);                                                                      \
        if (e_ != ERR_OK) {                                                                        \
            fprintf(stderr, "%s: %s\n", err_str(e_), ei.msg);                                      \
        }                                                                                          \
        assert_int_equal(e_, ERR_OK);                                                              \
    } while (0)

static struct storage *st;
static char bucket[64];
static char s3dir[1024];
static char scratch[1024];

static int group_setup(void **state)
{
    (void)state;
    const char *dir = getenv("OBSFLOW_S3_DIR");
    const char *tmp = getenv("OBSFLOW_TEST_TMP");
    if (!dir || !tmp) {
        fprintf(stderr, "OBSFLOW_S3_DIR / OBSFLOW_TEST_TMP not set\n");
        return -1;
    }
    snprintf(s3dir, sizeof s3dir, "%s", dir);
    snprintf(scratch, sizeof scratch, "%s", tmp);
    char pf[1100];
    snprintf(pf, sizeof pf, "%s/port", dir);
    FILE *f = fopen(pf, "r");
    int port = 0;
    if (!f || fscanf(f, "%d", &port) != 1) {
        fprintf(stderr, "cannot read the s3rver port from %s\n", pf);
        if (f) {
            fclose(f);
        }
        return -1;
    }
    fclose(f);
    if (httpc_global_init(NULL) != ERR_OK) {
        return -1;
    }
    struct storage_s3_config s3 = {0};
    snprintf(s3.access_key_id, sizeof s3.access_key_id, "S3RVER");
    snprintf(s3.secret_access_key, sizeof s3.secret_access_key, "S3RVER");
    snprintf(s3.region, sizeof s3.region, "us-east-1");
    snprintf(s3.endpoint_url, sizeof s3.endpoint_url, "http://127.0.0.1:%d/", port);
    struct storage_config cfg = {.s3 = &s3, .s3_page_size = 7,
                                 .multipart_threshold = 6 * MIB, .part_size = 5 * MIB,
                                 .backoff_ms = 10};
    struct err_info ei = {0};
    if (storage_create(&cfg, &st, &ei) != ERR_OK) {
        fprintf(stderr, "storage_create: %s\n", ei.msg);
        return -1;
    }
    snprintf(bucket, sizeof bucket, "obsflow-h5-%ld", (long)getpid());
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    storage_destroy(st);
    httpc_global_cleanup();
    return 0;
}

static void uri(char *out, size_t cap, const char *key)
{
    snprintf(out, cap, "s3://%s/%s", bucket, key);
}

static void test_make_bucket(void **state)
{
    (void)state;
    char u[128];
    snprintf(u, sizeof u, "s3://%s", bucket);
    struct err_info ei = {0};
    CHECK_OK(storage_make_bucket(st, u, &ei));
    CHECK_OK(storage_make_bucket(st, u, &ei)); /* idempotent */
    assert_int_equal(storage_make_bucket(st, "file:/tmp", &ei), ERR_UNSUPPORTED);
}

static void test_put_get_head_delete(void **state)
{
    (void)state;
    char u[256];
    uri(u, sizeof u, "raw/obj one+two~(1).fits"); /* space, plus and parentheses encoded */
    const char *data = "SIMPLE  =                    T";
    struct err_info ei = {0};
    struct storage_stat ps = {0};
    struct storage_xfer_opts po = {.sum = STORAGE_SUM_MD5, .content_type = "application/fits"};
    CHECK_OK(storage_put_mem(st, u, data, strlen(data), &po, &ps, &ei));
    assert_int_equal(ps.size, strlen(data));
    char md5[HTTPC_SUM_HEX_MAX];
    assert_int_equal(httpc_sum_mem(HTTPC_SUM_MD5, data, strlen(data), md5, NULL), ERR_OK);
    assert_string_equal(ps.sum_hex, md5);
    assert_string_equal(ps.etag, md5); /* S3's ETag of a single PUT is the MD5 */

    struct buf b;
    buf_init(&b, 1 << 20);
    struct storage_stat gs = {0};
    struct storage_xfer_opts go = {.sum = STORAGE_SUM_SHA256};
    CHECK_OK(storage_get_mem(st, u, 1 << 20, &b, &go, &gs, &ei));
    assert_string_equal(buf_cstr(&b), data);
    assert_int_equal(gs.size, strlen(data));
    assert_int_equal(strlen(gs.sum_hex), 64);
    assert_true(gs.mtime_ns > 0);
    buf_free(&b);

    struct storage_stat hs = {0};
    CHECK_OK(storage_head(st, u, &hs, &ei));
    assert_int_equal(hs.size, strlen(data));
    assert_string_equal(hs.etag, md5);

    /* a cap smaller than the object */
    buf_init(&b, 1 << 20);
    assert_int_equal(storage_get_mem(st, u, 5, &b, NULL, NULL, &ei), ERR_TOO_LARGE);
    assert_int_equal(b.len, 0);
    buf_free(&b);

    CHECK_OK(storage_delete(st, u, &ei));
    assert_int_equal(storage_head(st, u, &hs, &ei), ERR_NOT_FOUND);
    CHECK_OK(storage_delete(st, u, &ei)); /* absent is fine */
}

static void test_missing_key(void **state)
{
    (void)state;
    char u[256];
    char dest[1200];
    uri(u, sizeof u, "no/such/key.fits");
    snprintf(dest, sizeof dest, "%s/missing.fits", scratch);
    unlink(dest);
    struct err_info ei = {0};
    assert_int_equal(storage_get_file(st, u, dest, NULL, NULL, &ei), ERR_NOT_FOUND);
    assert_non_null(strstr(ei.msg, "NoSuchKey"));
    assert_non_null(strstr(ei.msg, "no/such/key.fits"));
    struct stat sb;
    assert_int_not_equal(stat(dest, &sb), 0);
    struct storage_stat hs;
    assert_int_equal(storage_head(st, u, &hs, &ei), ERR_NOT_FOUND);
    /* a bucket that does not exist */
    assert_int_equal(storage_get_file(st, "s3://obsflow-no-such-bucket/x", dest, NULL, NULL, &ei),
                     ERR_NOT_FOUND);
    /* prefixes are not objects */
    uri(u, sizeof u, "dir/");
    assert_int_equal(storage_get_file(st, u, dest, NULL, NULL, &ei), ERR_INVALID);
}

struct seen {
    char keys[64][128];
    uint64_t sizes[64];
    int n;
};

static enum err collect(void *ud, const char *u, const struct storage_stat *s)
{
    struct seen *sn = ud;
    if (sn->n >= 64) {
        return ERR_TOO_LARGE;
    }
    snprintf(sn->keys[sn->n], sizeof sn->keys[0], "%s", u);
    sn->sizes[sn->n] = s->size;
    sn->n++;
    return ERR_OK;
}

static enum err stop_after_3(void *ud, const char *u, const struct storage_stat *s)
{
    (void)u;
    (void)s;
    int *n = ud;
    return ++*n == 3 ? ERR_CANCELLED : ERR_OK;
}

static void test_list_with_continuation(void **state)
{
    (void)state;
    struct err_info ei = {0};
    /* 25 keys, page size 7: four pages joined by continuation tokens */
    for (int i = 0; i < 25; i++) {
        char k[64];
        char u[256];
        char body[32];
        snprintf(k, sizeof k, "list/k%02d.fits", i);
        uri(u, sizeof u, k);
        snprintf(body, sizeof body, "%d", i * 1000);
        CHECK_OK(storage_put_mem(st, u, body, strlen(body), NULL, NULL, &ei));
    }
    char u[256];
    uri(u, sizeof u, "other/x.fits");
    CHECK_OK(storage_put_mem(st, u, "x", 1, NULL, NULL, &ei));

    struct seen sn = {0};
    uri(u, sizeof u, "list/");
    CHECK_OK(storage_list(st, u, collect, &sn, &ei));
    assert_int_equal(sn.n, 25);
    for (int i = 0; i < 25; i++) {
        char exp[128];
        snprintf(exp, sizeof exp, "s3://%s/list/k%02d.fits", bucket, i);
        assert_string_equal(sn.keys[i], exp);
        char body[32];
        snprintf(body, sizeof body, "%d", i * 1000);
        assert_int_equal(sn.sizes[i], strlen(body));
    }
    /* a narrower prefix */
    memset(&sn, 0, sizeof sn);
    uri(u, sizeof u, "list/k1");
    CHECK_OK(storage_list(st, u, collect, &sn, &ei));
    assert_int_equal(sn.n, 10);
    /* the callback can stop the listing */
    int n = 0;
    uri(u, sizeof u, "list/");
    assert_int_equal(storage_list(st, u, stop_after_3, &n, &ei), ERR_CANCELLED);
    assert_int_equal(n, 3);
    /* an empty prefix in an empty place */
    memset(&sn, 0, sizeof sn);
    uri(u, sizeof u, "nothing-here/");
    CHECK_OK(storage_list(st, u, collect, &sn, &ei));
    assert_int_equal(sn.n, 0);
}

/* ---- storage_walk ---------------------------------------------------------------------- */

#define WALK_TOP  120 /* keys directly under walk/: 18 pages of 7 */
#define WALK_SUB  9   /* keys under walk/sub/ and walk/sub/deep/ */
#define WALK_DIRS 40  /* walk2/dNN/x: pages holding only common prefixes */

struct tally {
    size_t n;
    size_t top, sub, other, stop_at;
    bool bad_stat;
    unsigned char seen_top[WALK_TOP];
};

static enum err tally_cb(void *ud, const char *u, const struct storage_stat *s)
{
    struct tally *t = ud;
    char pre[128];
    snprintf(pre, sizeof pre, "s3://%s/walk/", bucket);
    size_t pl = strlen(pre);
    int i = -1;
    if (strncmp(u, pre, pl) == 0 && sscanf(u + pl, "t%03d.fits", &i) == 1 && i >= 0 &&
        i < WALK_TOP) {
        t->top++;
        t->seen_top[i]++;
        char body[32];
        snprintf(body, sizeof body, "top %d", i);
        char md5[HTTPC_SUM_HEX_MAX];
        if (httpc_sum_mem(HTTPC_SUM_MD5, body, strlen(body), md5, NULL) != ERR_OK ||
            s->size != strlen(body) || strcmp(s->etag, md5) != 0 || s->mtime_ns <= 0) {
            t->bad_stat = true;
        }
    } else if (strncmp(u, pre, pl) == 0 && strncmp(u + pl, "sub/", 4) == 0) {
        t->sub++;
    } else {
        t->other++;
    }
    t->n++;
    return t->stop_at && t->n == t->stop_at ? ERR_CANCELLED : ERR_OK;
}

static void test_walk(void **state)
{
    (void)state;
    struct err_info ei = {0};
    char u[256];
    char k[64];
    char body[32];
    for (int i = 0; i < WALK_TOP; i++) {
        snprintf(k, sizeof k, "walk/t%03d.fits", i);
        uri(u, sizeof u, k);
        snprintf(body, sizeof body, "top %d", i);
        CHECK_OK(storage_put_mem(st, u, body, strlen(body), NULL, NULL, &ei));
    }
    for (int i = 0; i < WALK_SUB; i++) {
        snprintf(k, sizeof k, i % 2 ? "walk/sub/s%d.fits" : "walk/sub/deep/s%d.fits", i);
        uri(u, sizeof u, k);
        CHECK_OK(storage_put_mem(st, u, "s", 1, NULL, NULL, &ei));
    }
    /* siblings that share the string prefix but not the "directory" */
    uri(u, sizeof u, "walkother/x.fits");
    CHECK_OK(storage_put_mem(st, u, "o", 1, NULL, NULL, &ei));
    uri(u, sizeof u, "walk-sibling.fits");
    CHECK_OK(storage_put_mem(st, u, "o", 1, NULL, NULL, &ei));

    /* recursive: every key under walk/, over many pages, each once, with its stat */
    struct tally *t = calloc(1, sizeof *t);
    assert_non_null(t);
    struct storage_walk_opts rec = {.recursive = true};
    uri(u, sizeof u, "walk");
    CHECK_OK(storage_walk(st, u, &rec, tally_cb, t, &ei));
    assert_int_equal(t->top, WALK_TOP);
    assert_int_equal(t->sub, WALK_SUB);
    assert_int_equal(t->other, 0);
    assert_false(t->bad_stat);
    for (int i = 0; i < WALK_TOP; i++) {
        assert_int_equal(t->seen_top[i], 1);
    }
    /* non-recursive (delimiter "/"): only the keys directly under walk/ */
    memset(t, 0, sizeof *t);
    uri(u, sizeof u, "walk/");
    CHECK_OK(storage_walk(st, u, NULL, tally_cb, t, &ei));
    assert_int_equal(t->top, WALK_TOP);
    assert_int_equal(t->sub, 0);
    assert_int_equal(t->other, 0);
    /* the whole bucket, non-recursive: the two top-level keys */
    memset(t, 0, sizeof *t);
    snprintf(u, sizeof u, "s3://%s", bucket);
    CHECK_OK(storage_walk(st, u, NULL, tally_cb, t, &ei));
    assert_int_equal(t->n, 1); /* walk-sibling.fits; walkother/ and walk/ are prefixes */
    /* the callback stops the walk in the middle of a page */
    memset(t, 0, sizeof *t);
    t->stop_at = 10;
    uri(u, sizeof u, "walk");
    assert_int_equal(storage_walk(st, u, &rec, tally_cb, t, &ei), ERR_CANCELLED);
    assert_int_equal(t->n, 10);
    /* an empty prefix, a missing bucket */
    memset(t, 0, sizeof *t);
    uri(u, sizeof u, "nothing-here");
    CHECK_OK(storage_walk(st, u, &rec, tally_cb, t, &ei));
    assert_int_equal(t->n, 0);
    snprintf(u, sizeof u, "s3://%s-missing/walk", bucket);
    assert_int_equal(storage_walk(st, u, &rec, tally_cb, t, &ei), ERR_NOT_FOUND);
    assert_int_equal(t->n, 0);
    free(t);
}

/* A delimited walk whose pages hold only common prefixes ("subdirectories") makes progress:
 * more such pages in a row than a plain listing tolerates without keys is fine. */
static void test_walk_prefix_only_pages(void **state)
{
    (void)state;
    struct err_info ei = {0};
    char u[256];
    char k[64];
    for (int i = 0; i < WALK_DIRS; i++) {
        snprintf(k, sizeof k, "walk2/d%02d/x.fits", i);
        uri(u, sizeof u, k);
        CHECK_OK(storage_put_mem(st, u, "x", 1, NULL, NULL, &ei));
    }
    uri(u, sizeof u, "walk2/zz.fits");
    CHECK_OK(storage_put_mem(st, u, "z", 1, NULL, NULL, &ei));
    struct storage_s3_config s3 = {0};
    snprintf(s3.access_key_id, sizeof s3.access_key_id, "S3RVER");
    snprintf(s3.secret_access_key, sizeof s3.secret_access_key, "S3RVER");
    char pf[1100];
    snprintf(pf, sizeof pf, "%s/port", s3dir);
    FILE *f = fopen(pf, "r");
    int port = 0;
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%d", &port), 1);
    fclose(f);
    snprintf(s3.endpoint_url, sizeof s3.endpoint_url, "http://127.0.0.1:%d", port);
    struct storage_config cfg = {.s3 = &s3, .s3_page_size = 1, .backoff_ms = 10};
    struct storage *s1 = NULL;
    CHECK_OK(storage_create(&cfg, &s1, &ei));
    struct tally *t = calloc(1, sizeof *t);
    assert_non_null(t);
    uri(u, sizeof u, "walk2");
    CHECK_OK(storage_walk(s1, u, NULL, tally_cb, t, &ei));
    assert_int_equal(t->n, 1);
    memset(t, 0, sizeof *t);
    struct storage_walk_opts rec = {.recursive = true};
    CHECK_OK(storage_walk(s1, u, &rec, tally_cb, t, &ei));
    assert_int_equal(t->n, WALK_DIRS + 1);
    free(t);
    storage_destroy(s1);
}

struct prog {
    uint64_t done;
    uint64_t total;
    bool went_back;
};

static bool on_prog(void *ud, uint64_t done, uint64_t total)
{
    struct prog *p = ud;
    if (done < p->done) {
        p->went_back = true;
    }
    p->done = done;
    p->total = total;
    return true;
}

static void write_pattern(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        fputc((int)(x >> 24), f);
    }
    fclose(f);
}

static void test_multipart_upload(void **state)
{
    (void)state;
    char src[1100];
    char dest[1100];
    snprintf(src, sizeof src, "%s/big.bin", scratch);
    snprintf(dest, sizeof dest, "%s/big.back", scratch);
    size_t size = 12 * MIB + 12345; /* parts of 5, 5 and 2 MiB + 12345 bytes */
    write_pattern(src, size);
    char want[HTTPC_SUM_HEX_MAX];
    assert_int_equal(httpc_sum_file(HTTPC_SUM_SHA256, src, 0, 0, want, NULL), ERR_OK);
    char u[256];
    uri(u, sizeof u, "products/big.bin");
    struct err_info ei = {0};
    struct storage_stat ps = {0};
    struct prog pr = {0};
    struct storage_xfer_opts po = {.progress = on_prog, .progress_ud = &pr};
    CHECK_OK(storage_put_file(st, u, src, &po, &ps, &ei));
    assert_int_equal(pr.done, size); /* progress covers all three parts */
    assert_int_equal(pr.total, size);
    assert_false(pr.went_back);
    assert_int_equal(ps.size, size);
    /* AWS names the part count in a multipart ETag ("...-3"); s3rver uses the whole MD5 */
    char md5[HTTPC_SUM_HEX_MAX];
    assert_int_equal(httpc_sum_file(HTTPC_SUM_MD5, src, 0, 0, md5, NULL), ERR_OK);
    assert_true(strstr(ps.etag, "-3") != NULL || strcmp(ps.etag, md5) == 0);
    struct storage_stat hs = {0};
    CHECK_OK(storage_head(st, u, &hs, &ei));
    assert_int_equal(hs.size, size);
    assert_string_equal(hs.etag, ps.etag);
    struct storage_stat gs = {0};
    struct storage_xfer_opts go = {.sum = STORAGE_SUM_SHA256, .expect_sum = want};
    CHECK_OK(storage_get_file(st, u, dest, &go, &gs, &ei));
    assert_string_equal(gs.sum_hex, want);
    assert_int_equal(gs.size, size);
    /* a multipart upload from memory too */
    char *mem = malloc(size);
    assert_non_null(mem);
    FILE *f = fopen(src, "rb");
    assert_non_null(f);
    assert_int_equal(fread(mem, 1, size, f), size);
    fclose(f);
    uri(u, sizeof u, "products/big-mem.bin");
    CHECK_OK(storage_put_mem(st, u, mem, size, NULL, &ps, &ei));
    assert_true(strstr(ps.etag, "-3") != NULL || strcmp(ps.etag, md5) == 0);
    free(mem);
    struct buf b;
    buf_init(&b, 64 * MIB);
    CHECK_OK(storage_get_mem(st, u, 64 * MIB, &b, NULL, NULL, &ei));
    char got[HTTPC_SUM_HEX_MAX];
    assert_int_equal(httpc_sum_mem(HTTPC_SUM_SHA256, b.data, b.len, got, NULL), ERR_OK);
    assert_string_equal(got, want);
    buf_free(&b);
    unlink(src);
    unlink(dest);
}

static void test_etag_checked_on_arrival(void **state)
{
    (void)state;
    char u[256];
    uri(u, sizeof u, "check/obj.bin");
    struct err_info ei = {0};
    const char *data = "0123456789abcdef";
    CHECK_OK(storage_put_mem(st, u, data, strlen(data), NULL, NULL, &ei));
    /* corrupt the stored bytes behind the server's back (same length, same ETag) */
    char obj[1400];
    snprintf(obj, sizeof obj, "%s/data/%s/check/obj.bin._S3rver_object", s3dir, bucket);
    /* s3rver may still be finishing its own write of the object after answering the PUT: wait
     * until the file holds what was put, or the corruption below could be overwritten */
    char seen[32];
    size_t nseen = 0;
    for (int i = 0; i < 200; i++) {
        FILE *r = fopen(obj, "rb");
        nseen = r ? fread(seen, 1, sizeof seen, r) : 0;
        if (r) {
            fclose(r);
        }
        if (nseen == strlen(data) && memcmp(seen, data, nseen) == 0) {
            break;
        }
        usleep(10000);
    }
    assert_int_equal(nseen, strlen(data));
    FILE *f = fopen(obj, "r+b");
    assert_non_null(f);
    assert_int_equal(fwrite("X", 1, 1, f), 1);
    fclose(f);
    char dest[1100];
    snprintf(dest, sizeof dest, "%s/corrupt.bin", scratch);
    unlink(dest);
    assert_int_equal(storage_get_file(st, u, dest, NULL, NULL, &ei), ERR_CHECKSUM);
    assert_non_null(strstr(ei.msg, "ETag"));
    struct stat sb;
    assert_int_not_equal(stat(dest, &sb), 0); /* nothing half-trusted left behind */
}

static void test_bad_uris(void **state)
{
    (void)state;
    struct err_info ei = {0};
    assert_int_equal(storage_put_mem(st, "s3://Bad_Bucket/x", "x", 1, NULL, NULL, &ei),
                     ERR_INVALID);
    assert_int_equal(storage_put_mem(st, "http://example.org/x", "x", 1, NULL, NULL, &ei),
                     ERR_UNSUPPORTED);
    char u[256];
    uri(u, sizeof u, "a/../b");
    assert_int_equal(storage_put_mem(st, u, "x", 1, NULL, NULL, &ei), ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_make_bucket),
        cmocka_unit_test(test_put_get_head_delete),
        cmocka_unit_test(test_missing_key),
        cmocka_unit_test(test_list_with_continuation),
        cmocka_unit_test(test_walk),
        cmocka_unit_test(test_walk_prefix_only_pages),
        cmocka_unit_test(test_multipart_upload),
        cmocka_unit_test(test_etag_checked_on_arrival),
        cmocka_unit_test(test_bad_uris),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
