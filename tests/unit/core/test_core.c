/* test_core.c - unit tests of lib/core: err tables, buf caps, str parsing, constant-time compare.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/cfgdir.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/rand.h"
#include "core/str.h"

static void test_err_names_and_statuses(void **state)
{
    (void)state;
    assert_string_equal(err_str(ERR_NOT_FOUND), "NOT_FOUND");
    assert_string_equal(err_code(ERR_NOT_FOUND), "not_found");
    assert_string_equal(err_code(ERR_INTERNAL), "internal");
    assert_int_equal(err_http_status(ERR_TOO_LARGE), 413);
    assert_int_equal(err_http_status(ERR_UNAUTHORIZED), 401);
    assert_string_equal(err_str((enum err)999), "UNKNOWN");
    /* every lower-case code is the lower-case name */
    for (int e = 0; e < ERR__COUNT; e++) {
        const char *a = err_str((enum err)e);
        const char *b = err_code((enum err)e);
        assert_int_equal(strlen(a), strlen(b));
        for (size_t i = 0; a[i]; i++) {
            char c = a[i] >= 'A' && a[i] <= 'Z' ? (char)(a[i] - 'A' + 'a') : a[i];
            assert_int_equal(c, b[i]);
        }
    }
}

static void test_err_set_and_prefix(void **state)
{
    (void)state;
    struct err_info ei;
    err_info_clear(&ei);
    assert_int_equal(err_set_field(&ei, ERR_INVALID, "priority", "must be %d..%d", 0, 9),
                     ERR_INVALID);
    assert_string_equal(ei.field, "priority");
    err_prefix(&ei, "job %d: ", 3);
    assert_string_equal(ei.msg, "job 3: must be 0..9");
    assert_int_equal(err_set(NULL, ERR_IO, "x"), ERR_IO);
}

/* echoed input cannot put control bytes into a message (a dataset name with a terminal escape
 * sequence); the errno text comes from strerror_r */
static void test_err_escapes_controls(void **state)
{
    (void)state;
    struct err_info ei;
    err_info_clear(&ei);
    (void)err_set_field(&ei, ERR_INVALID, "na\tme", "invalid dataset name \"%s\"",
                        "ab\033[31mc\001\x7f");
    assert_string_equal(ei.msg, "invalid dataset name \"ab\\x1b[31mc\\x01\\x7f\"");
    assert_string_equal(ei.field, "na\\x09me");
    err_prefix(&ei, "line\n%d: ", 3);
    assert_string_equal(ei.msg, "line\\x0a3: invalid dataset name \"ab\\x1b[31mc\\x01\\x7f\"");
    /* a message full of control bytes is cut at a whole escape, and stays terminated */
    char many[ERR_INFO_MSG_MAX];
    memset(many, 1, sizeof many - 1);
    many[sizeof many - 1] = '\0';
    (void)err_set(&ei, ERR_INVALID, "%s", many);
    assert_true(strlen(ei.msg) < sizeof ei.msg);
    assert_int_equal(strlen(ei.msg) % 4, 0);
    assert_non_null(strstr(ei.msg, "\\x01"));
    assert_string_equal(ERR_ERRNO(ENOENT), "No such file or directory");
    char small[8];
    assert_ptr_equal(err_errno_str(ENOENT, small, sizeof small), small);
    assert_true(strlen(small) < sizeof small);
}

static void test_buf_cap(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 10);
    assert_int_equal(buf_puts(&b, "hello"), ERR_OK);
    assert_int_equal(buf_printf(&b, "%d", 12345), ERR_OK);
    assert_string_equal(buf_cstr(&b), "hello12345");
    assert_int_equal(buf_puts(&b, "x"), ERR_TOO_LARGE);
    assert_string_equal(buf_cstr(&b), "hello12345");
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    char *p = buf_take(&b);
    assert_non_null(p);
    free(p);
    buf_free(&b);
    buf_free(NULL);
}

static void test_str_numbers(void **state)
{
    (void)state;
    int64_t v = 0;
    double d = 0;
    assert_int_equal(str_to_i64("42", 0, 100, &v), ERR_OK);
    assert_int_equal(v, 42);
    assert_int_equal(str_to_i64("42x", 0, 100, &v), ERR_PARSE);
    assert_int_equal(str_to_i64("", 0, 100, &v), ERR_PARSE);
    assert_int_equal(str_to_i64("101", 0, 100, &v), ERR_INVALID);
    assert_int_equal(str_to_i64("99999999999999999999", 0, INT64_MAX, &v), ERR_INVALID);
    assert_int_equal(str_to_double("1.5e3", &d), ERR_OK);
    assert_true(d == 1500.0);
    assert_int_equal(str_to_double("1.5e3 ", &d), ERR_PARSE);
}

static void test_str_misc(void **state)
{
    (void)state;
    char small[4];
    assert_false(str_copy(small, sizeof small, "abcdef"));
    assert_string_equal(small, "abc");
    assert_true(str_starts_with("s3://b/k", "s3://"));
    assert_true(str_ends_with("x.fits.gz", ".gz"));
    assert_false(str_ends_with("gz", ".gz"));
    assert_true(str_ct_equal("token", 5, "token", 5));
    assert_false(str_ct_equal("token", 5, "tokem", 5));
    assert_false(str_ct_equal("token", 5, "token2", 6));
}

static void test_clock_format(void **state)
{
    (void)state;
    char ts[40];
    clock_format_rfc3339(1700000000123456789LL, ts, sizeof ts);
    assert_string_equal(ts, "2023-11-14T22:13:20.123456Z");
    int64_t a = clock_mono_ns();
    int64_t b = clock_mono_ns();
    assert_true(b >= a);
}

static void test_rand_uuid(void **state)
{
    (void)state;
    uint8_t a[16];
    uint8_t b[16];
    rand_uuid_v4(a);
    rand_uuid_v4(b);
    assert_int_equal(a[6] >> 4, 4);
    assert_int_equal(a[8] >> 6, 2);
    assert_memory_not_equal(a, b, 16);
    /* many draws cross the pool refill boundary and still differ */
    uint64_t prev = rand_u64();
    int same = 0;
    for (int i = 0; i < 2000; i++) {
        uint64_t v = rand_u64();
        same += v == prev;
        prev = v;
    }
    assert_int_equal(same, 0);
}

static void put(const char *dir, const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* cfgdir: the YAML names of a directory sorted, hidden and other files left out, the cap; a
 * whole small file read with its cap. */
static void test_cfgdir(void **state)
{
    (void)state;
    char dir[] = "cfgdir-test-XXXXXX"; /* under the test's working directory */
    assert_non_null(mkdtemp(dir));
    put(dir, "b.yml", "b: 1\n");
    put(dir, "a.yaml", "a: 1\n");
    put(dir, ".hidden.yaml", "x\n");
    put(dir, "notes.txt", "x\n");
    char **names = NULL;
    size_t n = 0;
    struct err_info ei;
    assert_int_equal(cfgdir_yaml_names(dir, 8, "files", &names, &n, &ei), ERR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "a.yaml");
    assert_string_equal(names[1], "b.yml");
    cfgdir_names_free(names, n);
    assert_int_equal(cfgdir_yaml_names(dir, 1, "profiles", &names, &n, &ei), ERR_TOO_LARGE);
    assert_non_null(strstr(ei.msg, "more than 1 profiles"));
    char path[512];
    char *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/a.yaml", dir);
    assert_int_equal(cfgdir_read(path, 5, &text, &len, &ei), ERR_OK);
    assert_int_equal(len, 5);
    assert_string_equal(text, "a: 1\n");
    free(text);
    assert_int_equal(cfgdir_read(path, 4, &text, &len, &ei), ERR_TOO_LARGE);
    assert_non_null(strstr(ei.msg, "a.yaml:1: larger than 4 bytes"));
    snprintf(path, sizeof path, "%s/none.yaml", dir);
    assert_int_equal(cfgdir_read(path, 4, &text, &len, &ei), ERR_NOT_FOUND);
    const char *rm[] = {"a.yaml", "b.yml", ".hidden.yaml", "notes.txt"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, rm[i]);
        unlink(path);
    }
    rmdir(dir);
    assert_int_equal(cfgdir_yaml_names(dir, 8, "files", &names, &n, &ei), ERR_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_names_and_statuses), cmocka_unit_test(test_err_set_and_prefix),
        cmocka_unit_test(test_err_escapes_controls),
        cmocka_unit_test(test_buf_cap),                cmocka_unit_test(test_str_numbers),
        cmocka_unit_test(test_str_misc),               cmocka_unit_test(test_clock_format),           cmocka_unit_test(test_rand_uuid),
        cmocka_unit_test(test_cfgdir),
    };
    return cmocka_run_group_tests_name("lib.core", tests, NULL, NULL);
}
