/* test_storage_uri.c - unit tests of storage_uri_parse: every scheme, its rules and limits.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "storage/storage.h"

static struct storage_uri u;

static enum err parse(const char *s)
{
    struct err_info ei = {0};
    return storage_uri_parse(s, &u, &ei);
}

static void test_file_forms(void **state)
{
    (void)state;
    assert_int_equal(parse("file:/data/in/j8cb01u2q_raw.fits"), ERR_OK);
    assert_int_equal(u.scheme, STORAGE_FILE);
    assert_string_equal(u.path, "/data/in/j8cb01u2q_raw.fits");
    assert_int_equal(parse("file:inputs"), ERR_OK);
    assert_string_equal(u.path, "inputs");
    assert_int_equal(parse("file:///abs/x"), ERR_OK);
    assert_string_equal(u.path, "/abs/x");
    assert_int_equal(parse("file://localhost/abs/y"), ERR_OK);
    assert_string_equal(u.path, "/abs/y");
    assert_int_equal(parse("FILE:/z"), ERR_OK);
    assert_string_equal(u.path, "/z");
    assert_int_equal(parse("/bare/path.fits"), ERR_OK);
    assert_int_equal(u.scheme, STORAGE_FILE);
    assert_string_equal(u.path, "/bare/path.fits");
    assert_int_equal(parse("relative/p"), ERR_OK);
    assert_string_equal(u.path, "relative/p");
    /* ".." parses (the confinement refuses it later) */
    assert_int_equal(parse("file:/data/../etc/passwd"), ERR_OK);
    assert_int_equal(parse("file://otherhost/x"), ERR_INVALID);
    assert_int_equal(parse("file:"), ERR_INVALID);
    assert_int_equal(parse("file://"), ERR_INVALID);
}

static void test_http_forms(void **state)
{
    (void)state;
    assert_int_equal(parse("https://mast.stsci.edu/api/v0.1/Download/file?uri=mast:HST/x"),
                     ERR_OK);
    assert_int_equal(u.scheme, STORAGE_HTTPS);
    assert_string_equal(u.url, "https://mast.stsci.edu/api/v0.1/Download/file?uri=mast:HST/x");
    assert_int_equal(parse("http://127.0.0.1:8080/a"), ERR_OK);
    assert_int_equal(u.scheme, STORAGE_HTTP);
    assert_int_equal(parse("http:/nohost"), ERR_INVALID);
    assert_int_equal(parse("http://"), ERR_INVALID);
    assert_int_equal(parse("https:///path"), ERR_INVALID);
    assert_int_equal(parse("http://h/a b"), ERR_INVALID);
}

static void test_s3_forms(void **state)
{
    (void)state;
    assert_int_equal(parse("s3://my-bucket.1/dir/obj one+two.fits"), ERR_OK);
    assert_int_equal(u.scheme, STORAGE_S3);
    assert_string_equal(u.bucket, "my-bucket.1");
    assert_string_equal(u.key, "dir/obj one+two.fits");
    assert_int_equal(parse("s3://bucket"), ERR_OK);
    assert_string_equal(u.key, "");
    assert_int_equal(parse("s3://bucket/"), ERR_OK);
    assert_string_equal(u.key, "");
    assert_int_equal(parse("s3://bucket/prefix/"), ERR_OK);
    assert_string_equal(u.key, "prefix/");
    assert_int_equal(parse("s3://ab/x"), ERR_INVALID);            /* too short */
    assert_int_equal(parse("s3://Bucket/x"), ERR_INVALID);        /* upper case */
    assert_int_equal(parse("s3://bu_cket/x"), ERR_INVALID);       /* underscore */
    assert_int_equal(parse("s3://-bucket/x"), ERR_INVALID);       /* leading dash */
    assert_int_equal(parse("s3://bucket-/x"), ERR_INVALID);       /* trailing dash */
    assert_int_equal(parse("s3://buc..ket/x"), ERR_INVALID);      /* double dot */
    assert_int_equal(parse("s3:bucket/x"), ERR_INVALID);          /* no // */
    assert_int_equal(parse("s3://bucket//x"), ERR_INVALID);       /* empty segment */
    assert_int_equal(parse("s3://bucket/a/../b"), ERR_INVALID);   /* dot segments */
    assert_int_equal(parse("s3://bucket/a/./b"), ERR_INVALID);
    assert_int_equal(parse("s3://bucket/.."), ERR_INVALID);
    char longb[80];
    memset(longb, 'a', 64);
    longb[64] = '\0';
    char uri[200];
    strcpy(uri, "s3://");
    strcat(uri, longb);
    assert_int_equal(parse(uri), ERR_INVALID); /* 64 > 63 */
    char *longk = malloc(2000);
    assert_non_null(longk);
    strcpy(longk, "s3://bucket/");
    memset(longk + 12, 'k', 1100);
    longk[1112] = '\0';
    assert_int_equal(parse(longk), ERR_TOO_LARGE);
    free(longk);
}

static void test_astroquery_forms(void **state)
{
    (void)state;
    assert_int_equal(parse("astroquery:j8cb01u2q_raw.fits"), ERR_OK);
    assert_int_equal(u.scheme, STORAGE_ASTROQUERY);
    assert_string_equal(u.name, "j8cb01u2q_raw.fits");
    assert_int_equal(parse("astroquery:"), ERR_INVALID);
    assert_int_equal(parse("astroquery:../x"), ERR_INVALID);
    assert_int_equal(parse("astroquery:a/b"), ERR_INVALID);
    assert_int_equal(parse("astroquery:.hidden"), ERR_INVALID);
    assert_int_equal(parse("astroquery:a&b=c"), ERR_INVALID);
}

static void test_rejects(void **state)
{
    (void)state;
    struct err_info ei = {0};
    assert_int_equal(storage_uri_parse("", &u, &ei), ERR_INVALID);
    assert_int_equal(storage_uri_parse(NULL, &u, &ei), ERR_INVALID);
    assert_int_equal(storage_uri_parse("ftp://x/y", &u, &ei), ERR_INVALID);
    assert_non_null(strstr(ei.msg, "unrecognized URI scheme \"ftp\""));
    assert_int_equal(storage_uri_parse("file:/a\nb", &u, &ei), ERR_INVALID);
    assert_non_null(strstr(ei.msg, "control character"));
    assert_int_equal(storage_uri_parse("s3://bucket/a\x7f", &u, &ei), ERR_INVALID);
    char *big = malloc(STORAGE_URI_MAX + 10);
    assert_non_null(big);
    memset(big, 'a', STORAGE_URI_MAX + 5);
    big[STORAGE_URI_MAX + 5] = '\0';
    assert_int_equal(storage_uri_parse(big, &u, &ei), ERR_TOO_LARGE);
    free(big);
    /* outputs are untouched on failure */
    assert_int_equal(parse("s3://kept-bucket/k"), ERR_OK);
    assert_int_equal(parse("s3://X/k"), ERR_INVALID);
    assert_string_equal(u.bucket, "kept-bucket");
    assert_string_equal(storage_scheme_name(STORAGE_ASTROQUERY), "astroquery");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_forms),     cmocka_unit_test(test_http_forms),
        cmocka_unit_test(test_s3_forms),       cmocka_unit_test(test_astroquery_forms),
        cmocka_unit_test(test_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
