/* test_expect_alloc_fail.c - allocation-failure injection over lib/expect (issue 9 item 7):
 * malloc, calloc and realloc are wrapped at link time (tests/support/alloc_fail.c) and jansson
 * is pointed at the wrapped malloc (json_set_alloc_funcs), so the n-th allocation of
 * expect_compile (config/expectations/acs_raw.yaml), expect_header_from_fits (an ACS raw file of
 * ../shared/testdata), expect_validate (a broken copy of it: a report with violations) and
 * expect_validate_input (an ACS product against acs_flt.yaml and the raw) fails, for every n
 * until the operation runs through. Each run must end in ERR_NOMEM with nothing handed back, or
 * in the complete result (equal to the one made without failures), never in a crash, another
 * error, a partial report or (under ASan/valgrind) a leak. libyaml is a shared library and
 * keeps its own allocations.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka needs stdarg.h, stddef.h and setjmp.h first */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect/expect.h"
#include "support/alloc_fail.h"

#define RUNS_MAX 200000L /* bound on injection points per operation */

static char raw_path[2300];    /* the ACS raw file */
static char broken_path[2300]; /* a copy with five violations */
static char yaml_path[2300];   /* config/expectations/acs_raw.yaml */
static char flt_path[2300];    /* an ACS product */
static char flt_yaml_path[2300];

/* jansson's allocations through the wrapped malloc (this file is linked with --wrap) */
static void *json_malloc(size_t n)
{
    return malloc(n);
}

static void json_free(void *p)
{
    free(p);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fail_msg("cannot open %s", path);
    }
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long sz = ftell(fp);
    assert_true(sz > 0);
    rewind(fp);
    char *t = __real_malloc((size_t)sz + 1);
    assert_non_null(t);
    *len = fread(t, 1, (size_t)sz, fp);
    assert_int_equal(*len, (size_t)sz);
    t[*len] = '\0';
    fclose(fp);
    return t;
}

/* Overwrite the 80-column card that starts with @p key8 with @p card. */
static void patch_card(char *data, size_t len, const char *key8, const char *card)
{
    for (size_t off = 0; off + 80 <= len; off += 80) {
        if (memcmp(data + off, key8, strlen(key8)) == 0) {
            char c[81];
            snprintf(c, sizeof c, "%-80s", card);
            memcpy(data + off, c, 80);
            return;
        }
    }
    fail_msg("card %s not found", key8);
}

static int setup(void **state)
{
    (void)state;
    size_t n;
    char *data = slurp(raw_path, &n);
    size_t hdr = n < 2880 * 10 ? n : 2880 * 10;
    patch_card(data, hdr, "CCDGAIN =", "CCDGAIN = 'abc'              / wrong type");
    patch_card(data, hdr, "DETECTOR=", "DETECTOR= 'XYZ     '         / not an ACS detector");
    patch_card(data, hdr, "DATE-OBS=", "DATE_OBX= '2002-04-13'       / renamed");
    patch_card(data, hdr, "EXPTIME =", "EXPTIME =                 -5.0 / negative");
    for (size_t off = n - 80; off > 0; off -= 80) {
        if (memcmp(data + off, "EXTNAME = 'DQ      '", 20) == 0) {
            memcpy(data + off, "EXTNAME = 'DQX     '", 20);
            break;
        }
    }
    FILE *fp = fopen(broken_path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
    free(data);
    json_set_alloc_funcs(json_malloc, json_free);
    return 0;
}

static struct expect *parse_acs_raw(const char *text, size_t len)
{
    struct expect *e = NULL;
    struct err_info ei;
    if (expect_parse(text, len, "acs_raw.yaml", &e, &ei) != ERR_OK) {
        fail_msg("%s", ei.msg);
    }
    return e;
}

static struct expect_header *header_of(const char *path)
{
    struct expect_header *h = NULL;
    struct err_info ei;
    if (expect_header_from_fits(path, &h, &ei) != ERR_OK) {
        fail_msg("%s", ei.msg);
    }
    return h;
}

/* The report of @p e over @p h (NULL when it passes), and its outcome in @p rc. */
static json_t *report_of(const struct expect *e, const struct expect_header *h, const char *file,
                         enum err *rc)
{
    json_t *rep = NULL;
    struct err_info ei;
    *rc = expect_validate(e, h, file, &rep, &ei);
    return rep;
}

/* expect_parse of acs_raw.yaml as a whole: lib/yaml's tree and JSON, then the compile. */
static void test_compile(void **state)
{
    (void)state;
    size_t len;
    char *text = slurp(yaml_path, &len);
    struct expect *want = parse_acs_raw(text, len);
    struct err_info ei;
    struct expect_header *raw = header_of(raw_path);
    struct expect_header *broken = header_of(broken_path);
    enum err wrc;
    json_t *wrep = report_of(want, broken, "broken", &wrc);
    assert_int_equal(wrc, ERR_INVALID);
    long n;
    int nomem = 0;
    for (n = 0; n < RUNS_MAX; n++) {
        struct expect *e = NULL;
        err_info_clear(&ei);
        alloc_fail_nth(n);
        enum err rc = expect_parse(text, len, "acs_raw.yaml", &e, &ei);
        bool fired = alloc_fail_refused() > 0;
        alloc_fail_nth(-1);
        if (rc == ERR_NOMEM) {
            assert_true(fired);
            assert_null(e);
            nomem++;
        } else {
            if (rc != ERR_OK) {
                fail_msg("allocation %ld failed: %s (%s)", n, err_str(rc), ei.msg);
            }
            /* the expectation compiled whole: same id, same verdicts */
            assert_string_equal(expect_id(e), "acs/raw");
            enum err r;
            json_t *rep = report_of(e, raw, "raw", &r);
            assert_int_equal(r, ERR_OK);
            assert_null(rep);
            rep = report_of(e, broken, "broken", &r);
            assert_int_equal(r, ERR_INVALID);
            assert_true(json_equal(rep, wrep));
            json_decref(rep);
            expect_destroy(e);
        }
        if (!fired) {
            break;
        }
    }
    assert_true(n > 10 && n < RUNS_MAX);
    assert_true(nomem > 0);
    fprintf(stderr, "expect_parse: %ld injection points, %d ERR_NOMEM\n", n, nomem);
    json_decref(wrep);
    expect_header_destroy(raw);
    expect_header_destroy(broken);
    expect_destroy(want);
    free(text);
}

static void test_header_from_fits(void **state)
{
    (void)state;
    size_t len;
    char *text = slurp(yaml_path, &len);
    struct expect *e = parse_acs_raw(text, len);
    free(text);
    struct expect_header *broken = header_of(broken_path);
    enum err wrc;
    json_t *wrep = report_of(e, broken, "file", &wrc);
    assert_int_equal(wrc, ERR_INVALID);
    expect_header_destroy(broken);
    /* the broken copy (the raw file goes through the same reader; a report of violations is
     * the finer check that nothing of the header was lost) */
    long n;
    int nomem = 0;
    for (n = 0; n < RUNS_MAX; n++) {
        struct expect_header *h = NULL;
        struct err_info ei;
        err_info_clear(&ei);
        alloc_fail_nth(n);
        enum err rc = expect_header_from_fits(broken_path, &h, &ei);
        bool fired = alloc_fail_refused() > 0;
        alloc_fail_nth(-1);
        if (rc == ERR_NOMEM) {
            assert_true(fired);
            assert_null(h);
            nomem++;
        } else {
            if (rc != ERR_OK) {
                fail_msg("allocation %ld failed: %s (%s)", n, err_str(rc), ei.msg);
            }
            /* the header was read whole: the same report as without failures */
            enum err r;
            json_t *rep = report_of(e, h, "file", &r);
            assert_int_equal(r, ERR_INVALID);
            assert_true(json_equal(rep, wrep));
            json_decref(rep);
            expect_header_destroy(h);
        }
        if (!fired) {
            break;
        }
    }
    assert_true(n > 10 && n < RUNS_MAX);
    assert_true(nomem > 0);
    fprintf(stderr, "expect_header_from_fits: %ld injection points, %d ERR_NOMEM\n", n, nomem);
    json_decref(wrep);
    expect_destroy(e);
}

static void test_validate(void **state)
{
    (void)state;
    size_t len;
    char *text = slurp(yaml_path, &len);
    struct expect *e = parse_acs_raw(text, len);
    free(text);
    struct expect_header *h = header_of(broken_path);
    json_t *want = NULL;
    struct err_info wei;
    assert_int_equal(expect_validate(e, h, broken_path, &want, &wei), ERR_INVALID);
    assert_int_equal(json_array_size(json_object_get(want, "violations")), 5);
    long n;
    int nomem = 0;
    for (n = 0; n < RUNS_MAX; n++) {
        json_t *rep = NULL;
        struct err_info ei;
        err_info_clear(&ei);
        alloc_fail_nth(n);
        enum err rc = expect_validate(e, h, broken_path, &rep, &ei);
        bool fired = alloc_fail_refused() > 0;
        alloc_fail_nth(-1);
        if (rc == ERR_NOMEM) {
            assert_true(fired);
            assert_null(rep);
            nomem++;
        } else {
            if (rc != ERR_INVALID) {
                fail_msg("allocation %ld failed: %s (%s)", n, err_str(rc), ei.msg);
            }
            if (!json_equal(rep, want)) {
                char *t = json_dumps(rep, JSON_COMPACT);
                fail_msg("allocation %ld failed, a partial report came back: %s", n,
                         t ? t : "(null)");
            }
            assert_string_equal(ei.msg, wei.msg);
            json_decref(rep);
        }
        if (!fired) {
            break;
        }
    }
    assert_true(n > 5 && n < RUNS_MAX);
    assert_true(nomem > 0);
    fprintf(stderr, "expect_validate: %ld injection points, %d ERR_NOMEM\n", n, nomem);
    json_decref(want);
    expect_header_destroy(h);
    expect_destroy(e);
}

/* expect_validate_input: an ACS product (j94f05bgq_flt.fits) checked with acs_flt.yaml against
 * the raw header, whatever the verdict is, the same under failures */
static void test_validate_input(void **state)
{
    (void)state;
    size_t len;
    char *text = slurp(flt_yaml_path, &len);
    struct expect *e = NULL;
    struct err_info ei;
    if (expect_parse(text, len, "acs_flt.yaml", &e, &ei) != ERR_OK) {
        fail_msg("%s", ei.msg);
    }
    free(text);
    struct expect_header *h = header_of(flt_path);
    struct expect_header *raw = header_of(raw_path);
    json_t *want = NULL;
    struct err_info wei;
    enum err wrc = expect_validate_input(e, h, raw, "flt", &want, &wei);
    assert_true(wrc == ERR_OK || wrc == ERR_INVALID);
    long n;
    int nomem = 0;
    for (n = 0; n < RUNS_MAX; n++) {
        json_t *rep = NULL;
        err_info_clear(&ei);
        alloc_fail_nth(n);
        enum err rc = expect_validate_input(e, h, raw, "flt", &rep, &ei);
        bool fired = alloc_fail_refused() > 0;
        alloc_fail_nth(-1);
        if (rc == ERR_NOMEM) {
            assert_true(fired);
            assert_null(rep);
            nomem++;
        } else {
            if (rc != wrc) {
                fail_msg("allocation %ld failed: %s (%s)", n, err_str(rc), ei.msg);
            }
            assert_true(want == NULL ? rep == NULL : json_equal(rep, want));
            if (wrc == ERR_INVALID) {
                assert_string_equal(ei.msg, wei.msg);
            }
            json_decref(rep);
        }
        if (!fired) {
            break;
        }
    }
    assert_true(n < RUNS_MAX);
    fprintf(stderr, "expect_validate_input (%s): %ld injection points, %d ERR_NOMEM\n",
            err_str(wrc), n, nomem);
    json_decref(want);
    expect_header_destroy(h);
    expect_header_destroy(raw);
    expect_destroy(e);
}

int main(void)
{
    const char *sh = getenv("OBSFLOW_SHARED");
    const char *src = getenv("OBSFLOW_SOURCE_DIR");
    const char *tmp = getenv("OBSFLOW_TEST_TMP");
    if (!sh || !src || !tmp) {
        fprintf(stderr, "OBSFLOW_SHARED, OBSFLOW_SOURCE_DIR and OBSFLOW_TEST_TMP must be set\n");
        return 1;
    }
    snprintf(raw_path, sizeof raw_path, "%s/testdata/fits/j8bt05njq_raw.fits", sh);
    snprintf(broken_path, sizeof broken_path, "%s/broken_raw.fits", tmp);
    snprintf(yaml_path, sizeof yaml_path, "%s/config/expectations/acs_raw.yaml", src);
    snprintf(flt_path, sizeof flt_path, "%s/testdata/fits/j94f05bgq_flt.fits", sh);
    snprintf(flt_yaml_path, sizeof flt_yaml_path, "%s/config/expectations/acs_flt.yaml", src);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compile),
        cmocka_unit_test(test_header_from_fits),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_validate_input),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
