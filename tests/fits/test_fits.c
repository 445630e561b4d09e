/* test_fits.c - unit tests of lib/fits headers: card parsing, both header-text layouts, typed
 * lookups, errors naming file/line/HDU, cfitsio on real files (multi-extension, tile-compressed,
 * gzipped), the FITS rendering and the bare cfitsio scan.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fits/fits.h"

static char g_path[4096];

static const char *shared_path(const char *rel)
{
    const char *s = getenv("OBSFLOW_SHARED");
    snprintf(g_path, sizeof g_path, "%s/%s", s ? s : "../shared", rel);
    return g_path;
}

/* build header text from cards, each padded to 80 columns, one per line */
static char *cards_text(const char *const *cards, size_t n, size_t *len)
{
    char *t = calloc(n, 81);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(cards[i]);
        memset(t + k, ' ', 80);
        memcpy(t + k, cards[i], l);
        t[k + 80] = '\n';
        k += 81;
    }
    *len = k;
    return t;
}

static void test_card_parse_types(void **state)
{
    (void)state;
    struct fhdr_card c;
    const char *naxis1 = "NAXIS1  =                 2048 / width";
    assert_int_equal(fhdr_card_parse(naxis1, strlen(naxis1), &c), ERR_OK);
    assert_string_equal(c.key, "NAXIS1");
    assert_int_equal(c.type, FHDR_INT);
    assert_string_equal(c.value, "2048");
    assert_int_equal(fhdr_card_parse("CDELT1  =   -5.55555555556D-04", 30, &c), ERR_OK);
    assert_int_equal(c.type, FHDR_FLOAT);
    assert_string_equal(c.value, "-5.55555555556E-04");
    assert_int_equal(fhdr_card_parse("OBJECT  = 'O''Brien  '  / quote", 31, &c), ERR_OK);
    assert_int_equal(c.type, FHDR_STRING);
    assert_string_equal(c.value, "O'Brien");
    assert_int_equal(fhdr_card_parse("SIMPLE  =                    T", 30, &c), ERR_OK);
    assert_int_equal(c.type, FHDR_LOGICAL);
    assert_int_equal(fhdr_card_parse("BLANK   =", 9, &c), ERR_OK);
    assert_int_equal(c.type, FHDR_UNDEF);
    assert_int_equal(fhdr_card_parse("HISTORY anything = goes", 23, &c), ERR_OK);
    assert_int_equal(c.type, FHDR_NONE);
    assert_int_equal(fhdr_card_parse("HIERARCH ESO DET CHIP = 'x' / y", 31, &c), ERR_OK);
    assert_string_equal(c.key, "ESO DET CHIP");
    assert_string_equal(c.value, "x");
    /* malformed */
    assert_int_equal(fhdr_card_parse("NAXIS1    2048", 14, &c), ERR_PARSE);        /* no = */
    assert_int_equal(fhdr_card_parse("OBJECT  = 'open", 15, &c), ERR_PARSE);       /* quote */
    assert_int_equal(fhdr_card_parse("BAD KEY =  1", 12, &c), ERR_PARSE);          /* chars */
    char tab[20] = "NAXIS   =\t1";
    assert_int_equal(fhdr_card_parse(tab, strlen(tab), &c), ERR_PARSE);           /* control */
}

static void test_text_end_layout_multi_hdu(void **state)
{
    (void)state;
    static const char *const cards[] = {
        "SIMPLE  =                    T", "BITPIX  =                   16",
        "NAXIS   =                    2", "NAXIS1  =                   10",
        "NAXIS2  =                   20", "EXPTIME =                 12.5 / s",
        "OBJECT  = 'M51     '",           "END",
        "XTENSION= 'BINTABLE'",           "BITPIX  =                    8",
        "NAXIS   =                    2", "NAXIS1  =                    4",
        "NAXIS2  =                    3", "END"};
    size_t len;
    char *t = cards_text(cards, ARRAY_LEN(cards), &len);
    struct fhdr_file *f = NULL;
    struct err_info ei;
    assert_int_equal(fhdr_file_parse_text("a.fits.header", t, len, &f, &ei), ERR_OK);
    assert_int_equal(fhdr_file_hdu_count(f), 2);
    const struct fhdr_hdu *h0 = fhdr_file_hdu(f, 0);
    const struct fhdr_hdu *h1 = fhdr_file_hdu(f, 1);
    assert_int_equal(h0->ncards, 7);
    assert_true(h0->has_end);
    double d = 0;
    long l = 0;
    const char *s = NULL;
    bool b = false;
    assert_int_equal(fhdr_get_double(h0, "exptime", &d, &ei), ERR_OK);
    assert_true(d == 12.5);
    assert_int_equal(fhdr_get_long(h0, "NAXIS2", &l, &ei), ERR_OK);
    assert_int_equal(l, 20);
    assert_int_equal(fhdr_get_str(h0, "OBJECT", &s, &ei), ERR_OK);
    assert_string_equal(s, "M51");
    assert_int_equal(fhdr_get_bool(h0, "SIMPLE", &b, &ei), ERR_OK);
    assert_true(b);
    assert_int_equal(fhdr_get_double(h0, "MISSING", &d, &ei), ERR_NOT_FOUND);
    /* wrong type: names HDU, keyword and line */
    assert_int_equal(fhdr_get_double(h0, "OBJECT", &d, &ei), ERR_FITS);
    assert_non_null(strstr(ei.msg, "HDU 0 line 7"));
    assert_non_null(strstr(ei.msg, "OBJECT"));
    assert_true(fhdr_hdu_has_data(h0));
    assert_true(fhdr_hdu_has_data(h1));
    assert_null(fhdr_file_hdu(f, 2));
    fhdr_file_destroy(f);
    free(t);
}

static void test_text_marker_layout(void **state)
{
    (void)state;
    const char *t = "visit\n"
                    "# HDU 0 in x.fits:\n"
                    "SIMPLE  =                    T\n"
                    "NAXIS   =                    0\n"
                    "\n"
                    "# HDU 1 in x.fits:\n"
                    "XTENSION= 'IMAGE   '\n"
                    "EXTNAME = 'SCI'\n";
    struct fhdr_file *f = NULL;
    struct err_info ei;
    assert_int_equal(fhdr_file_parse_text("x.fits.header", t, strlen(t), &f, &ei), ERR_OK);
    assert_int_equal(fhdr_file_hdu_count(f), 2);
    const char *s = NULL;
    assert_int_equal(fhdr_get_str(fhdr_file_hdu(f, 1), "EXTNAME", &s, &ei), ERR_OK);
    assert_string_equal(s, "SCI");
    assert_false(fhdr_hdu_has_data(fhdr_file_hdu(f, 0)));
    fhdr_file_destroy(f);
    /* a preamble that starts with '#' and holds '#' inside its lines: the first line that
     * starts "# HDU " opens the listing (from a heap copy, so ASan sees the first byte) */
    const char *t2 = "# listing #1\n"
                     "visit # HDU 9\n"
                     "# HDU 0 in x.fits:\n"
                     "SIMPLE  =                    T\n"
                     "# HDU 1 in x.fits:\n"
                     "EXTNAME = 'SCI'\n";
    char *h = strdup(t2);
    assert_non_null(h);
    assert_int_equal(fhdr_file_parse_text("x.fits.header", h, strlen(h), &f, &ei), ERR_OK);
    assert_int_equal(fhdr_file_hdu_count(f), 2);
    assert_int_equal(fhdr_get_str(fhdr_file_hdu(f, 1), "EXTNAME", &s, &ei), ERR_OK);
    assert_string_equal(s, "SCI");
    fhdr_file_destroy(f);
    free(h);
}

static void test_text_errors_name_file_line_hdu(void **state)
{
    (void)state;
    struct fhdr_file *f = NULL;
    struct err_info ei;
    /* a card without "=" */
    const char *t1 = "SIMPLE  =                    T\nNAXIS        2\nEND\n";
    assert_int_equal(fhdr_file_parse_text("bad.header", t1, strlen(t1), &f, &ei), ERR_PARSE);
    assert_non_null(strstr(ei.msg, "\"bad.header\" line 2 (HDU 0)"));
    assert_non_null(strstr(ei.msg, "without \"=\""));
    /* truncated: the last card cut and no END */
    const char *t2 = "SIMPLE  =                    T                                                  \n"
                     "NAXIS   =                    0                                                  \n"
                     "OBJECT  = 'abc";
    assert_int_equal(fhdr_file_parse_text("cut.header", t2, strlen(t2), &f, &ei), ERR_PARSE);
    assert_non_null(strstr(ei.msg, "cut.header"));
    /* unterminated quote inside HDU 1 of a marker listing */
    const char *t3 = "# HDU 0 in y:\nSIMPLE  =                    T\n# HDU 1 in y:\nOBJECT  = 'x\n";
    assert_int_equal(fhdr_file_parse_text("y.header", t3, strlen(t3), &f, &ei), ERR_PARSE);
    assert_non_null(strstr(ei.msg, "line 4 (HDU 1)"));
    /* binary data, lines longer than 80 columns, empty input */
    const char t4[] = "SIMPLE  =    T\0\nEND\n";
    assert_int_equal(fhdr_file_parse_text("b.header", t4, sizeof t4 - 1, &f, &ei), ERR_PARSE);
    char longline[200];
    memset(longline, 'A', sizeof longline);
    longline[199] = '\n';
    assert_int_equal(fhdr_file_parse_text("l.header", longline, sizeof longline, &f, &ei),
                     ERR_PARSE);
    assert_int_equal(fhdr_file_parse_text("e.header", "", 0, &f, &ei), ERR_PARSE);
    assert_null(f);
}

static void test_cfitsio_real_files(void **state)
{
    (void)state;
    struct fhdr_file *f = NULL;
    struct err_info ei;
    /* multi-extension HST raw: 4 HDUs, SCI naxis */
    assert_int_equal(fhdr_file_open(shared_path("testdata/fits/j8bt05njq_raw.fits"), &f, &ei),
                     ERR_OK);
    assert_int_equal(fhdr_file_hdu_count(f), 4);
    const char *s = NULL;
    assert_int_equal(fhdr_get_str(fhdr_file_hdu(f, 1), "EXTNAME", &s, &ei), ERR_OK);
    assert_string_equal(s, "SCI");
    long n = 0;
    assert_int_equal(fhdr_get_long(fhdr_file_hdu(f, 1), "NAXIS1", &n, &ei), ERR_OK);
    assert_int_equal(n, 1062);
    fhdr_file_destroy(f);
    /* tile-compressed: the image header, not the binary table's */
    assert_int_equal(fhdr_file_open(shared_path("testdata/fits/m13_rice.fits"), &f, &ei), ERR_OK);
    const struct fhdr_hdu *h = fhdr_file_hdu(f, fhdr_file_hdu_count(f) > 1 ? 1 : 0);
    assert_null(fhdr_hdu_find(h, "ZIMAGE"));
    assert_non_null(fhdr_hdu_find(h, "NAXIS1"));
    assert_true(fhdr_hdu_has_data(h));
    fhdr_file_destroy(f);
}

static void test_gzip(void **state)
{
    (void)state;
    const char *tmp = getenv("OBSFLOW_TEST_TMP");
    char gz[4096];
    char cmd[8192];
    snprintf(gz, sizeof gz, "%s/m13.fits.gz", tmp ? tmp : "/tmp");
    snprintf(cmd, sizeof cmd, "gzip -c '%s'", shared_path("testdata/fits/m13.fits"));
    FILE *in = popen(cmd, "r");
    FILE *out = fopen(gz, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, in)) > 0) {
        assert_int_equal(fwrite(buf, 1, r, out), r);
    }
    assert_int_equal(pclose(in), 0);
    fclose(out);
    struct fhdr_file *f = NULL;
    struct fhdr_file *plain = NULL;
    struct err_info ei;
    assert_int_equal(fhdr_file_open(gz, &f, &ei), ERR_OK);
    assert_int_equal(fhdr_file_open(shared_path("testdata/fits/m13.fits"), &plain, &ei), ERR_OK);
    assert_int_equal(fhdr_file_hdu(f, 0)->ncards, fhdr_file_hdu(plain, 0)->ncards);
    fhdr_file_destroy(f);
    fhdr_file_destroy(plain);
}

static void test_render_and_scan(void **state)
{
    (void)state;
    struct fhdr_file *f = NULL;
    struct fhdr_file *back = NULL;
    struct err_info ei;
    char *bytes = NULL;
    size_t len = 0;
    size_t ncards = 0;
    assert_int_equal(fhdr_file_open(shared_path("testdata/caom2/possum2caom2/casda/"
                                                "PSM_pilot1_1368MHz_18asec_2031-5249_11073_i_v1"
                                                ".fits.header"), &f, &ei), ERR_OK);
    assert_int_equal(fhdr_file_hdu_count(f), 2);
    for (size_t i = 0; i < 2; i++) {
        const struct fhdr_hdu *h = fhdr_file_hdu(f, i);
        assert_int_equal(fhdr_hdu_to_fits(h, &bytes, &len), ERR_OK);
        assert_int_equal(len % 2880, 0);
        assert_int_equal(fhdr_cfitsio_scan(bytes, len, &ncards, &ei), ERR_OK);
        assert_true(ncards >= h->ncards);
        assert_int_equal(fhdr_file_parse_fits("mem", bytes, len, &back, &ei), ERR_OK);
        const struct fhdr_hdu *hb = fhdr_file_hdu(back, fhdr_file_hdu_count(back) - 1);
        assert_int_equal(hb->ncards, h->ncards);
        assert_string_equal(hb->cards[3].value, h->cards[3].value);
        fhdr_file_destroy(back);
        free(bytes);
    }
    fhdr_file_destroy(f);
    /* not FITS */
    assert_int_equal(fhdr_file_parse_fits("junk", "abc", 3, &back, &ei), ERR_FITS);
    assert_int_equal(fhdr_file_open("/nonexistent/x.fits", &back, &ei), ERR_IO);
    assert_non_null(strstr(ei.msg, "/nonexistent/x.fits"));
}

/* CONTINUE long strings: joined exactly, and each takes memory of its own length (a 64 KiB
 * buffer per string let 2-card long strings amplify a header ~800 times) */
static void test_long_strings_sized(void **state)
{
    (void)state;
    enum { PAIRS = 2000 };
    size_t len = 0;
    const char **cards = calloc(2 * PAIRS + 2, sizeof *cards);
    char(*img)[81] = calloc(2 * PAIRS, sizeof *img);
    assert_non_null(cards);
    assert_non_null(img);
    cards[0] = "SIMPLE  =                    T";
    for (size_t i = 0; i < PAIRS; i++) {
        snprintf(img[2 * i], 81, "LS%-6zu= 'part one &'", i % 100000);
        snprintf(img[2 * i + 1], 81, "CONTINUE  ' and two'");
        cards[1 + 2 * i] = img[2 * i];
        cards[2 + 2 * i] = img[2 * i + 1];
    }
    cards[1 + 2 * PAIRS] = "END";
    char *t = cards_text(cards, 2 + 2 * PAIRS, &len);
    struct fhdr_file *f = NULL;
    struct err_info ei = {0};
    assert_int_equal(fhdr_file_parse_text("long.header", t, len, &f, &ei), ERR_OK);
    const struct fhdr_hdu *h = fhdr_file_hdu(f, 0);
    const char *v = NULL;
    assert_int_equal(fhdr_get_str(h, "LS7", &v, &ei), ERR_OK);
    assert_string_equal(v, "part one  and two");
    size_t total = 0;
    for (size_t i = 0; i < h->ncards; i++) {
        if (h->cards[i].long_value) {
            total += malloc_usable_size(h->cards[i].long_value);
        }
    }
    assert_true(total > 0);
    assert_true(total < (size_t)PAIRS * 64); /* was PAIRS * 64 KiB */
    fhdr_file_destroy(f);
    free(t);
    free(img);
    free(cards);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_card_parse_types),
        cmocka_unit_test(test_text_end_layout_multi_hdu),
        cmocka_unit_test(test_text_marker_layout),
        cmocka_unit_test(test_text_errors_name_file_line_hdu),
        cmocka_unit_test(test_cfitsio_real_files),
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_render_and_scan),
        cmocka_unit_test(test_long_strings_sized),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
