/* test_expect.c - input expectations: real HST raw files pass their instrument's rules; a real
 * file with broken keywords and a renamed HDU reports every violation in one report (or, out of
 * memory, fails whole); bad
 * expectation files and cards are refused with the field named. Product expectations
 * (acs_flt.yaml and the rules relating a product to its raw: versions: input, shape_as,
 * shape_within_input, same_as_input): a product as stage 1 writes it passes against the real
 * raw; a broken one reports every violation together; imsets follow the raw's.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "expect/expect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char fitsdir[1024];
static char confdir[1024];
static char tmpdir[1024];
static struct expect_set *set;

static int setup(void **state)
{
    (void)state;
    struct err_info ei;
    if (expect_set_load_dir(confdir, &set, &ei) != ERR_OK) {
        fprintf(stderr, "load: %s\n", ei.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    expect_set_destroy(set);
    return 0;
}

static json_t *check_file(const char *path, const char *instr, enum err want)
{
    struct expect_header *h = NULL;
    struct err_info ei;
    json_t *rep = NULL;
    const struct expect *e = expect_set_find(set, instr, "raw");
    assert_non_null(e);
    err_info_clear(&ei);
    if (expect_header_from_fits(path, &h, &ei) != ERR_OK) {
        fail_msg("%s: %s", path, ei.msg);
    }
    enum err rc = expect_validate(e, h, path, &rep, &ei);
    if (rc != want) {
        char *s = rep ? json_dumps(rep, JSON_INDENT(1)) : NULL;
        fail_msg("%s: got %s want %s: %s %s", path, err_str(rc), err_str(want), ei.msg,
                 s ? s : "");
    }
    expect_header_destroy(h);
    return rep;
}

static void test_real_raw_files_pass(void **state)
{
    (void)state;
    char p[1100];
    assert_true(expect_set_count(set) >= 4);
    snprintf(p, sizeof p, "%s/j8bt05njq_raw.fits", fitsdir);
    assert_null(check_file(p, "acs", ERR_OK));
    snprintf(p, sizeof p, "%s/j8bt09jcq_raw.fits", fitsdir);
    assert_null(check_file(p, "ACS", ERR_OK));
    snprintf(p, sizeof p, "%s/o4sp040b0_raw.fits", fitsdir);
    assert_null(check_file(p, "stis", ERR_OK));
}

/* Overwrite the 80-column card that starts with @p key8 (8 chars + "=") with @p card. */
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

static void test_broken_file_reports_all(void **state)
{
    (void)state;
    char src[1100], dst[1100];
    snprintf(src, sizeof src, "%s/j8bt05njq_raw.fits", fitsdir);
    snprintf(dst, sizeof dst, "%s/broken_raw.fits", tmpdir);
    FILE *fp = fopen(src, "rb");
    assert_non_null(fp);
    char *data = malloc(3000000);
    size_t n = fread(data, 1, 3000000, fp);
    fclose(fp);
    /* header of the primary HDU is at the start; the DQ header after the ERR header */
    patch_card(data, 2880 * 10, "CCDGAIN =", "CCDGAIN = 'abc'              / wrong type");
    patch_card(data, 2880 * 10, "DETECTOR=", "DETECTOR= 'XYZ     '         / not an ACS detector");
    patch_card(data, 2880 * 10, "DATE-OBS=", "DATE_OBX= '2002-04-13'       / renamed");
    patch_card(data, 2880 * 10, "EXPTIME =", "EXPTIME =                 -5.0 / negative");
    /* rename the DQ extension: find the last EXTNAME = 'DQ' card */
    for (size_t off = n - 80; off > 0; off -= 80) {
        if (memcmp(data + off, "EXTNAME = 'DQ      '", 20) == 0) {
            memcpy(data + off, "EXTNAME = 'DQX     '", 20);
            break;
        }
    }
    fp = fopen(dst, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    fclose(fp);
    free(data);

    json_t *rep = check_file(dst, "acs", ERR_INVALID);
    assert_non_null(rep);
    assert_string_equal(json_string_value(json_object_get(rep, "error")), "validation_failed");
    assert_string_equal(json_string_value(json_object_get(rep, "expectation")), "acs/raw");
    json_t *v = json_object_get(rep, "violations");
    assert_int_equal(json_array_size(v), 5);
    const char *want[][4] = {
        {"PRIMARY.DETECTOR", "enum", "one of 'WFC', 'HRC', 'SBC'", "'XYZ'"},
        {"PRIMARY.CCDGAIN", "type", "number", "'abc'"},
        {"PRIMARY.DATE-OBS", "required", "string", "absent"},
        {"PRIMARY.EXPTIME", "minimum", ">= 0", "-5.0"},
        {"DQ,1", "required_hdu", "present", "absent"},
    };
    for (size_t i = 0; i < 5; i++) {
        json_t *x = json_array_get(v, i);
        assert_string_equal(json_string_value(json_object_get(x, "path")), want[i][0]);
        assert_string_equal(json_string_value(json_object_get(x, "rule")), want[i][1]);
        assert_string_equal(json_string_value(json_object_get(x, "expected")), want[i][2]);
        assert_string_equal(json_string_value(json_object_get(x, "found")), want[i][3]);
    }
    json_decref(rep);
}

/* jansson allocation number alloc_fail_at fails, the others succeed (0: none fails) */
static long alloc_count, alloc_fail_at;

static void *failing_malloc(size_t n)
{
    if (alloc_fail_at > 0 && ++alloc_count == alloc_fail_at) {
        return NULL;
    }
    return malloc(n);
}

/* Out of memory while recording violations gives ERR_NOMEM, never a report that misses some of
 * them: each run either fails whole or reports all five of the broken file's violations. */
static void test_validate_out_of_memory(void **state)
{
    (void)state;
    char p[1100];
    struct expect_header *h = NULL;
    struct err_info ei;
    snprintf(p, sizeof p, "%s/broken_raw.fits", tmpdir);
    const struct expect *e = expect_set_find(set, "acs", "raw");
    assert_non_null(e);
    assert_int_equal(expect_header_from_fits(p, &h, &ei), ERR_OK);
    int nomem = 0;
    for (long k = 1; k < 1000; k++) {
        json_t *rep = NULL;
        alloc_count = 0;
        alloc_fail_at = k;
        json_set_alloc_funcs(failing_malloc, free);
        enum err rc = expect_validate(e, h, p, &rep, &ei);
        json_set_alloc_funcs(malloc, free);
        bool failed_any = alloc_count >= k;
        alloc_fail_at = 0;
        if (rc == ERR_NOMEM) {
            assert_null(rep);
            nomem++;
            continue;
        }
        assert_int_equal(rc, ERR_INVALID);
        assert_non_null(rep);
        assert_int_equal(json_array_size(json_object_get(rep, "violations")), 5);
        assert_int_equal(json_integer_value(json_object_get(rep, "count")), 5);
        json_decref(rep);
        if (!failed_any) {
            break; /* k is past the last allocation: every earlier one was tried */
        }
    }
    assert_true(nomem >= 5); /* one allocation per violation at least was made to fail */
    expect_header_destroy(h);
}

static void test_wrong_instrument(void **state)
{
    (void)state;
    char p[1100];
    snprintf(p, sizeof p, "%s/j8bt05njq_raw.fits", fitsdir);
    json_t *rep = check_file(p, "stis", ERR_INVALID);
    json_t *v = json_object_get(rep, "violations");
    assert_true(json_array_size(v) >= 3); /* INSTRUME, ROOTNAME, DETECTOR, ... */
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "path")),
                        "PRIMARY.INSTRUME");
    json_decref(rep);
}

static void test_bad_expectations(void **state)
{
    (void)state;
    struct expect *e = NULL;
    struct err_info ei;
    const char *cases[][2] = {
        {"instrument: acs\nkind: raw\nhdus:\n  - name: PRIMARY\n    keywords:\n      X: {typo: 1}\n",
         "hdus[0].keywords.X"},
        {"instrument: acs\nkind: raw\nhdus:\n  - name: PRIMARY\n    keywords:\n      X: {type: numbr}\n",
         "hdus[0].keywords.X"},
        {"instrument: acs\nkind: raw\nhdus:\n  - name: PRIMARY\n    keywords:\n      X: {pattern: '('}\n",
         "hdus[0].keywords.X"},
        {"instrument: acs\nkind: raw\nhdus:\n  - name: PRIMARY\n    keywords:\n      X: {pattern: 'a++++b'}\n",
         "hdus[0].keywords.X"},
        {"instrument: acs\nkind: raw\nhdus:\n  - nme: PRIMARY\n", "hdus[0]"},
        {"instrument: acs\nkind: raw\nhdus: []\n", "hdus"},
        {"kind: raw\nhdus:\n  - name: SCI\n", "instrument"},
        {"instrument: acs\nkind: raw\nextra: 1\nhdus:\n  - name: SCI\n", "extra"},
        {"instrument: acs\nkind: raw\nhdus:\n  - name: SCI\n    bitpix: [a]\n", "bitpix"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err_info_clear(&ei);
        assert_int_equal(expect_parse(cases[i][0], strlen(cases[i][0]), "t.yaml", &e, &ei),
                         ERR_INVALID);
        assert_string_equal(ei.field, cases[i][1]);
        assert_non_null(strstr(ei.msg, "t.yaml"));
    }
    /* YAML-level errors */
    const char *yaml_bad[] = {
        "a: &x 1\nb: *x\n", "a: [1, 2\n", "a: 1\na: 2\n", "? [1]\n: 2\n", "\"a\": 'unterminated\n",
    };
    for (size_t i = 0; i < sizeof yaml_bad / sizeof yaml_bad[0]; i++) {
        assert_int_equal(expect_parse(yaml_bad[i], strlen(yaml_bad[i]), "y.yaml", &e, &ei),
                         ERR_PARSE);
    }
    /* too deep */
    char deep[200];
    memset(deep, '[', 100);
    deep[100] = '\0';
    assert_int_equal(expect_parse(deep, 100, "d.yaml", &e, &ei), ERR_TOO_LARGE);
}

static void test_yaml_types(void **state)
{
    (void)state;
    json_t *j = NULL;
    const char *y = "i: 42\nr: -1.5e3\nb: true\nn: ~\ns: '42'\nt: hello\nl: [1, x]\n";
    assert_int_equal(expect_yaml_parse(y, strlen(y), &j, NULL), ERR_OK);
    assert_true(json_is_integer(json_object_get(j, "i")));
    assert_true(json_is_real(json_object_get(j, "r")));
    assert_true(json_is_true(json_object_get(j, "b")));
    assert_true(json_is_null(json_object_get(j, "n")));
    assert_string_equal(json_string_value(json_object_get(j, "s")), "42");
    assert_string_equal(json_string_value(json_object_get(j, "t")), "hello");
    assert_int_equal(json_array_size(json_object_get(j, "l")), 2);
    /* document order is kept */
    void *it = json_object_iter(j);
    assert_string_equal(json_object_iter_key(it), "i");
    json_decref(j);
}

static void test_card_parse(void **state)
{
    (void)state;
    char key[72], val[128];
    enum expect_vtype t;
    struct err_info ei;
    assert_int_equal(expect_card_parse("OBJECT  = 'O''Brien  '   / c", 28, key, val, sizeof val,
                                       &t, NULL),
                     ERR_OK);
    assert_string_equal(key, "OBJECT");
    assert_string_equal(val, "O'Brien");
    assert_int_equal(t, EXPECT_V_STRING);
    assert_int_equal(expect_card_parse("SIMPLE  =                    T", 30, key, val, sizeof val,
                                       &t, NULL),
                     ERR_OK);
    assert_int_equal(t, EXPECT_V_BOOL);
    assert_int_equal(expect_card_parse("NAXIS1  =                 1062 / n", 34, key, val,
                                       sizeof val, &t, NULL),
                     ERR_OK);
    assert_int_equal(t, EXPECT_V_INT);
    assert_string_equal(val, "1062");
    assert_int_equal(expect_card_parse("CRVAL1  =   1.5D+02", 19, key, val, sizeof val, &t, NULL),
                     ERR_OK);
    assert_int_equal(t, EXPECT_V_REAL);
    assert_int_equal(expect_card_parse("BLANKV  =          / nothing", 28, key, val, sizeof val,
                                       &t, NULL),
                     ERR_OK);
    assert_int_equal(t, EXPECT_V_NONE);
    assert_int_equal(expect_card_parse("COMMENT this is text", 20, key, val, sizeof val, &t, NULL),
                     ERR_NOT_FOUND);
    assert_int_equal(expect_card_parse("BAD     = 'never ends", 21, key, val, sizeof val, &t, &ei),
                     ERR_PARSE);
    assert_string_equal(ei.field, "BAD");
    /* lib/fits's rules now: a control byte in a card is not FITS; HIERARCH keywords are read */
    assert_int_equal(expect_card_parse("OBJECT  = 'a\tb'", 16, key, val, sizeof val, &t, &ei),
                     ERR_PARSE);
    assert_int_equal(expect_card_parse("HIERARCH ESO DET GAIN = 1.5", 27, key, val, sizeof val,
                                       &t, NULL),
                     ERR_OK);
    assert_string_equal(key, "ESO DET GAIN");
    assert_int_equal(t, EXPECT_V_REAL);
}

/* ---- product expectations ---------------------------------------------------------------- */

struct phdu {
    const char *extname; /* "" = primary */
    int extver, bitpix, naxis;
    const char *cards[24];
};

/* A header from a list of HDUs (index = position). */
static struct expect_header *make_header(const struct phdu *hs, size_t n)
{
    struct expect_header *h = NULL;
    struct err_info ei;
    assert_int_equal(expect_header_create(&h, &ei), ERR_OK);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(expect_header_add_hdu(h, (int)i, hs[i].extname, hs[i].extver,
                                               hs[i].bitpix, hs[i].naxis, &ei),
                         ERR_OK);
        for (size_t k = 0; k < 24 && hs[i].cards[k]; k++) {
            assert_int_equal(expect_header_add_card(h, hs[i].cards[k], &ei), ERR_OK);
        }
    }
    return h;
}

#define P_PRIMARY(rootname, dqicorr, calver)                                                    \
    {"", 1, 8, 0,                                                                               \
     {"TELESCOP= 'HST     '", "INSTRUME= 'ACS     '", "ROOTNAME= '" rootname "'",               \
      "DETECTOR= 'HRC     '", "FILETYPE= 'SCI     '", "FILENAME= 'j8bt05njq_flt.fits'",         \
      "EXPTIME =                 60.0", "DQICORR = '" dqicorr "'", "BLEVCORR= 'COMPLETE'",      \
      "BIASCORR= 'SKIPPED '", "DARKCORR= 'SKIPPED '", "FLATCORR= 'COMPLETE'", calver, NULL}}
#define P_SCI(ver, bitpix, n1, n2)                                                              \
    {"SCI", ver, bitpix, 2,                                                                     \
     {"NAXIS1  = " n1, "NAXIS2  = " n2, "BUNIT   = 'ELECTRONS'", "NGOODPIX=              1048196", \
      "GOODMIN =                 -1.5", "GOODMAX =               6000.0",                       \
      "DATAMIN =                 -9.0", "DATAMAX =              65000.0", NULL}}
#define P_ERR(ver, n1, n2)                                                                      \
    {"ERR", ver, -32, 2, {"NAXIS1  = " n1, "NAXIS2  = " n2, "BUNIT   = 'ELECTRONS'", NULL}}
#define P_DQ(ver, n1, n2) {"DQ", ver, 16, 2, {"NAXIS1  = " n1, "NAXIS2  = " n2, NULL}}

static json_t *check_product(const struct expect_header *h, const struct expect_header *raw,
                             enum err want)
{
    struct err_info ei;
    json_t *rep = NULL;
    const struct expect *e = expect_set_find(set, "acs", "flt");
    assert_non_null(e);
    assert_string_equal(expect_id(e), "acs/flt");
    err_info_clear(&ei);
    enum err rc = expect_validate_input(e, h, raw, "j8bt05njq_flt.fits", &rep, &ei);
    if (rc != want) {
        char *s = rep ? json_dumps(rep, JSON_INDENT(1)) : NULL;
        fail_msg("got %s want %s: %s %s", err_str(rc), err_str(want), ei.msg, s ? s : "");
    }
    return rep;
}

static struct expect_header *real_raw(void)
{
    char p[1100];
    struct expect_header *h = NULL;
    struct err_info ei;
    snprintf(p, sizeof p, "%s/j8bt05njq_raw.fits", fitsdir);
    if (expect_header_from_fits(p, &h, &ei) != ERR_OK) {
        fail_msg("%s: %s", p, ei.msg);
    }
    return h;
}

/* the product stage 1 writes for the HRC raw j8bt05njq (1062x1044 -> 1024x1024) passes */
static void test_product_passes(void **state)
{
    (void)state;
    const struct phdu good[] = {
        P_PRIMARY("j8bt05njq", "COMPLETE", "CAL_VER = 'obsflow 0.1.0'"),
        P_SCI(1, -32, "1024", "1024"), P_ERR(1, "1024", "1024"), P_DQ(1, "1024", "1024")};
    struct expect_header *raw = real_raw();
    struct expect_header *h = make_header(good, 4);
    assert_null(check_product(h, raw, ERR_OK));
    assert_null(check_product(h, NULL, ERR_OK)); /* the rules relating to the raw skipped */
    expect_header_destroy(h);
    expect_header_destroy(raw);
}

static bool has_violation(const json_t *rep, const char *path, const char *rule,
                          const char *expected, const char *found)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(rep, "violations"), i, v) {
        if (strcmp(json_string_value(json_object_get(v, "path")), path) == 0 &&
            strcmp(json_string_value(json_object_get(v, "rule")), rule) == 0 &&
            (!expected ||
             strcmp(json_string_value(json_object_get(v, "expected")), expected) == 0) &&
            (!found || strcmp(json_string_value(json_object_get(v, "found")), found) == 0)) {
            return true;
        }
    }
    return false;
}

/* every broken rule of a product at once: switch, software version, identity carried from
 * the raw, types, shapes (against the raw and within the imset), a missing HDU */
static void test_product_reports_all(void **state)
{
    (void)state;
    const struct phdu bad[] = {
        P_PRIMARY("j8bt05nxx", "PERFORM ", "HISTORY no CAL_VER"),
        P_SCI(1, 16, "2048", "1024"), P_ERR(1, "1024", "512")};
    struct expect_header *raw = real_raw();
    struct expect_header *h = make_header(bad, 3);
    json_t *rep = check_product(h, raw, ERR_INVALID);
    assert_string_equal(json_string_value(json_object_get(rep, "expectation")), "acs/flt");
    assert_true(has_violation(rep, "PRIMARY.ROOTNAME", "same_as_input",
                              "'j8bt05njq' (the input's)", "'j8bt05nxx'"));
    assert_true(has_violation(rep, "PRIMARY.DQICORR", "enum", "one of 'COMPLETE'", "'PERFORM'"));
    assert_true(has_violation(rep, "PRIMARY.CAL_VER", "required", "string", "absent"));
    assert_true(has_violation(rep, "SCI,1.BITPIX", "bitpix", "-32", "16"));
    assert_true(has_violation(rep, "SCI,1.shape", "shape_within_input",
                              "within 1062x1044 (the input's)", "2048x1024"));
    assert_true(has_violation(rep, "ERR,1.shape", "shape_as", "2048x1024 (as SCI,1)",
                              "1024x512"));
    assert_true(has_violation(rep, "DQ,1", "required_hdu", "present", "absent"));
    assert_int_equal(json_integer_value(json_object_get(rep, "count")), 7);
    assert_int_equal(json_array_size(json_object_get(rep, "violations")), 7);
    json_decref(rep);
    expect_header_destroy(h);
    expect_header_destroy(raw);
}

/* versions: input - as many imsets as the raw has, each checked */
static void test_product_imsets_follow_raw(void **state)
{
    (void)state;
    const struct phdu raw2[] = {
        {"", 1, 16, 0, {"ROOTNAME= 'j8bt05njq'", "DETECTOR= 'HRC     '", NULL}},
        {"SCI", 1, 16, 2, {"NAXIS1  =                 1062", "NAXIS2  =                 1044", NULL}},
        {"ERR", 1, 16, 0, {"NPIX1   =                 1062", "NPIX2   =                 1044", NULL}},
        {"DQ", 1, 16, 0, {"NPIX1   =                 1062", "NPIX2   =                 1044", NULL}},
        {"SCI", 2, 16, 2, {"NAXIS1  =                 1062", "NAXIS2  =                 1044", NULL}},
        {"ERR", 2, 16, 0, {"NPIX1   =                 1062", "NPIX2   =                 1044", NULL}},
        {"DQ", 2, 16, 0, {"NPIX1   =                 1062", "NPIX2   =                 1044", NULL}},
    };
    const struct phdu one[] = {
        P_PRIMARY("j8bt05njq", "COMPLETE", "CAL_VER = 'obsflow 0.1.0'"),
        P_SCI(1, -32, "1024", "1024"), P_ERR(1, "1024", "1024"), P_DQ(1, "1024", "1024")};
    const struct phdu two[] = {
        P_PRIMARY("j8bt05njq", "COMPLETE", "CAL_VER = 'obsflow 0.1.0'"),
        P_SCI(1, -32, "1024", "1024"), P_ERR(1, "1024", "1024"), P_DQ(1, "1024", "1024"),
        P_SCI(2, -32, "1024", "1024"), P_ERR(2, "1100", "1024"), P_DQ(2, "1024", "1024")};
    struct expect_header *raw = make_header(raw2, 7);
    struct expect_header *h1 = make_header(one, 4);
    struct expect_header *h2 = make_header(two, 7);
    json_t *rep = check_product(h1, raw, ERR_INVALID);
    assert_int_equal(json_array_size(json_object_get(rep, "violations")), 3);
    assert_true(has_violation(rep, "SCI,2", "required_hdu", "present", "absent"));
    assert_true(has_violation(rep, "ERR,2", "required_hdu", "present", "absent"));
    assert_true(has_violation(rep, "DQ,2", "required_hdu", "present", "absent"));
    json_decref(rep);
    /* the second imset is checked too: its ERR is neither its SCI's shape nor within the raw */
    rep = check_product(h2, raw, ERR_INVALID);
    assert_int_equal(json_array_size(json_object_get(rep, "violations")), 1);
    assert_true(has_violation(rep, "ERR,2.shape", "shape_as", "1024x1024 (as SCI,2)",
                              "1100x1024"));
    json_decref(rep);
    /* without the raw, the product's own imsets are the ones checked */
    assert_null(check_product(h1, NULL, ERR_OK));
    expect_header_destroy(h1);
    expect_header_destroy(h2);
    expect_header_destroy(raw);
}

static void test_bad_product_expectations(void **state)
{
    (void)state;
    struct expect *e = NULL;
    struct err_info ei;
    const char *cases[][2] = {
        {"instrument: acs\nkind: flt\nhdus:\n  - name: SCI\n    versions: 2\n", "hdus[0]"},
        {"instrument: acs\nkind: flt\nhdus:\n  - name: SCI\n    ver: 1\n    versions: input\n",
         "hdus[0]"},
        {"instrument: acs\nkind: flt\nhdus:\n  - name: PRIMARY\n    versions: input\n", "hdus[0]"},
        {"instrument: acs\nkind: flt\nhdus:\n  - name: ERR\n    shape_as: 5\n", "hdus[0]"},
        {"instrument: acs\nkind: flt\nhdus:\n  - name: ERR\n    shape_within_input: yes\n",
         "hdus[0]"},
        {"instrument: acs\nkind: flt\nhdus:\n  - name: PRIMARY\n    keywords:\n      X: "
         "{same_as_input: 1}\n",
         "hdus[0].keywords.X"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err_info_clear(&ei);
        assert_int_equal(expect_parse(cases[i][0], strlen(cases[i][0]), "p.yaml", &e, &ei),
                         ERR_INVALID);
        assert_string_equal(ei.field, cases[i][1]);
    }
    const char *ok = "instrument: acs\nkind: flt\nhdus:\n  - name: SCI\n    versions: input\n"
                     "    shape_within_input: true\n  - name: DQ\n    versions: input\n"
                     "    shape_as: SCI\n";
    assert_int_equal(expect_parse(ok, strlen(ok), "p.yaml", &e, &ei), ERR_OK);
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
    snprintf(fitsdir, sizeof fitsdir, "%s/testdata/fits", sh);
    snprintf(confdir, sizeof confdir, "%s/config/expectations", src);
    snprintf(tmpdir, sizeof tmpdir, "%s", tmp);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_raw_files_pass), cmocka_unit_test(test_broken_file_reports_all),
        cmocka_unit_test(test_validate_out_of_memory),
        cmocka_unit_test(test_wrong_instrument),    cmocka_unit_test(test_bad_expectations),
        cmocka_unit_test(test_yaml_types),          cmocka_unit_test(test_card_parse),
        cmocka_unit_test(test_product_passes),      cmocka_unit_test(test_product_reports_all),
        cmocka_unit_test(test_product_imsets_follow_raw),
        cmocka_unit_test(test_bad_product_expectations),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
