/* test_bp_expr.c - unit tests of the blueprint expression language (lib/blueprint/README.md
 * "Expressions"): operators, functions, "no value" through every operator and function, let
 * variables, lookup tables, HDU selection, identities, explain lists, dumps, and errors that name
 * the file, line and rule. Astronomy functions are checked against astropy in
 * check_bp_astro.py.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blueprint/blueprint.h"

/* keywords of HDU 0 and HDU 1 */
static const char *const k_hdu0[] = {
    "WLEN", "5000", "BANDPASS", "1000", "PLTSCALE", "22.5", "PIXSIZE", "13.5", "XBIN", "2",
    "MODE", "21 - DESAT", "OBJECT", "WALLABY J124915+043926", "BP", "4000,9000",
    "DATE-OBS", "2017-07-26T05:04:26", "OBSTYPE", "dark", "EMPTY", "", "FLAG", "T",
    "WORD", "abc", "FILTER", "H2", NULL};
static const char *const k_hdu1[] = {"TELESCOP", "CFHT 3.6m", "LATITUDE", "19.825", NULL};

static const char *find(const char *const *h, const char *key)
{
    for (size_t i = 0; h[i]; i += 2) {
        if (strcmp(h[i], key) == 0) {
            return h[i + 1];
        }
    }
    return NULL;
}

static const char *get0(const void *ctx, const char *key)
{
    (void)ctx;
    return find(k_hdu0, key);
}

static const char *get_hdu(const void *ctx, const char *key, int hdu)
{
    (void)ctx;
    return hdu == 0 ? find(k_hdu0, key) : hdu == 1 ? find(k_hdu1, key) : NULL;
}

static const char *name(const void *ctx, const char *what)
{
    (void)ctx;
    if (strcmp(what, "file_name") == 0) {
        return "dao_c182_2017_009814_SCIRED.fits";
    }
    if (strcmp(what, "obs_id") == 0) {
        return "dao_c182_2017_009814";
    }
    return NULL;
}

/* |a - b| <= tol (cmocka 1.1.5 has no double assertion) */
#define assert_double_equal(a, b, tol) assert_near((a), (b), (tol), #a)

static void assert_near(double a, double b, double tol, const char *what)
{
    if (!(fabs(a - b) <= tol)) {
        fail_msg("%s: %.17g != %.17g (tolerance %g)", what, a, b, tol);
    }
}

static const struct bp_keys k_keys = {.ctx = NULL, .get = get0, .get_hdu = get_hdu,
                                      .name = name, .hdu = 0, .uri = NULL};

/* load "Observation.type := <expr>" and evaluate it; returns the value, "<none>", or
 * "error: <message>" (static buffer) */
static const char *ev(const char *expr)
{
    static char out[BP_VALUE_MAX + 600];
    char text[4096];
    struct bp *b = NULL;
    struct err_info ei = {0};
    bool found = false;
    assert_int_equal(bp_new(&b, NULL), ERR_OK);
    snprintf(text, sizeof text, "Observation.type := %s\n", expr);
    if (bp_load_text(b, "t.bp", text, strlen(text), &ei) != ERR_OK) {
        snprintf(out, sizeof out, "error: %s", ei.msg);
    } else if (bp_eval(bp_get(b, "Observation.type", 0), &k_keys, out, BP_VALUE_MAX, &found,
                       &ei) != ERR_OK) {
        snprintf(out, sizeof out, "error: %s", ei.msg);
    } else if (!found) {
        snprintf(out, sizeof out, "<none>");
    }
    bp_free(b);
    return out;
}

static double evn(const char *expr)
{
    const char *v = ev(expr);
    char *end = NULL;
    double d = strtod(v, &end);
    if (!end || *end != '\0' || end == v) {
        fail_msg("%s gave \"%s\", not a number", expr, v);
    }
    return d;
}

static void test_missing_is_no_value(void **state)
{
    (void)state;
    /* the case that used to write 0.0: a call inside a call */
    assert_double_equal(evn("add(WLEN, scale(BANDPASS, -0.5))"), 4500.0, 1e-12);
    assert_string_equal(ev("add(WLEN, scale(NOBANDPS, -0.5))"), "<none>");
    /* the same rule in the old "=" syntax is an expression too */
    struct bp *b = NULL;
    struct err_info ei = {0};
    char out[BP_VALUE_MAX];
    bool found = true;
    const char *t = "Chunk.energy.axis.function.refCoord.val = add(WLEN, scale(NOBANDPS, -0.5))\n";
    assert_int_equal(bp_new(&b, NULL), ERR_OK);
    assert_int_equal(bp_load_text(b, "old.bp", t, strlen(t), &ei), ERR_OK);
    const struct bp_rule *r = bp_get(b, "Chunk.energy.axis.function.refCoord.val", 0);
    assert_int_equal(r->kind, BP_EXPR);
    struct bp_explain ex = {.n = 0};
    assert_int_equal(bp_eval_explain(r, &k_keys, out, sizeof out, &found, &ex, &ei), ERR_OK);
    assert_false(found);
    assert_int_equal(ex.n, 1);
    assert_ptr_equal(ex.none[0], r);
    bp_free(b);
    /* a parenthesis inside a quoted argument keeps the old flat form */
    t = "Observation.type = concat('(', INSTRUME, ')')\n";
    assert_int_equal(bp_new(&b, NULL), ERR_OK);
    assert_int_equal(bp_load_text(b, "old.bp", t, strlen(t), &ei), ERR_OK);
    assert_int_equal(bp_get(b, "Observation.type", 0)->kind, BP_FUNC);
    bp_free(b);
    /* every operator and every function with a missing input yields no value */
    static const char *const k_none[] = {
        "NOPE", "-NOPE", "not NOPE", "NOPE + 1", "1 - NOPE", "NOPE * 2", "2 / NOPE",
        "NOPE % 2", "NOPE == 1", "1 != NOPE", "NOPE < 1", "NOPE <= 1", "NOPE > 1",
        "NOPE >= 1", "NOPE and true", "true and NOPE", "NOPE or false", "false or NOPE",
        "if(NOPE, 1, 2)", "if(false, 1)", "when(NOPE, 1, 2)", "when(false, 1)",
        "case(NOPE, 1, 'a', 'b')", "case(3, 1, 'a')", "first(NOPE, EMPTY)", "header('NOPE')",
        "header('NOPE', 1, 0)", "header(NOPE)", "num(NOPE)", "str(NOPE)", "int(NOPE)",
        "round(NOPE)", "round(1.5, NOPE)", "floor(NOPE)", "ceil(NOPE)", "abs(NOPE)",
        "min(1, NOPE)", "max(NOPE, 1)", "sqrt(NOPE)", "pow(2, NOPE)", "sind(NOPE)",
        "cosd(NOPE)", "tand(NOPE)", "asind(NOPE)", "acosd(NOPE)", "atan2d(NOPE, 1)",
        "log10(NOPE)", "concat('a', NOPE)", "lower(NOPE)", "upper(NOPE)", "trim(NOPE)",
        "replace(NOPE, 'a', 'b')", "replace(WORD, NOPE, 'b')", "matches(NOPE, 'a')",
        "capture(NOPE, '(a)')", "capture(WORD, '(x)')", "resub(NOPE, 'a', 'b')",
        "split(NOPE, ',', 0)", "split(BP, ',', 2)", "split(BP, ',', -3)", "substr(NOPE, 1)",
        "substr(WORD, 9)", "len(NOPE)", "format('%s', NOPE)", "startswith(NOPE, 'a')",
        "endswith('a', NOPE)", "contains(NOPE, 'a')", "mjd(NOPE)", "mjd(DATE-OBS, NOPE)",
        "jd(NOPE)", "iso_date(NOPE)", "mjd2jd(NOPE)", "jd2mjd(NOPE)", "scale(NOPE, 2)",
        "div(1, NOPE)", "add(1, 2, NOPE)", "beam(NOPE, 1)", "hms(NOPE)", "dms(NOPE)",
        "deg2hms(NOPE)", "deg2dms(NOPE)", "precess_ra(NOPE, 0, 2000, 2010)",
        "precess_dec(0, NOPE, 2000, 2010)", "precess_ra(0, 0, NOPE, 2010, 'IAU1976')", "fk4_to_fk5_ra(NOPE, 0)",
        "fk4_to_fk5_dec(0, NOPE)", "fk5_to_fk4_ra(NOPE, 0)", "fk5_to_fk4_dec(0, NOPE)",
        "timescale(NOPE, 'UTC', 'TT')", "geocentric(NOPE, 0, 0, 'x')",
        "cd('11', NOPE, 1, 0)", "product_id()", "artifact_uri()", "none",
        "PLTSCALE * PIXSIZE * NOPE / 3.6e6",
    };
    for (size_t i = 0; i < sizeof k_none / sizeof k_none[0]; i++) {
        const char *v = ev(k_none[i]);
        if (strcmp(v, "<none>") != 0) {
            fail_msg("%s gave \"%s\", not no value", k_none[i], v);
        }
    }
}

static void test_operators(void **state)
{
    (void)state;
    assert_double_equal(evn("1 + 2 * 3"), 7.0, 0);
    assert_double_equal(evn("(1 + 2) * 3"), 9.0, 0);
    assert_double_equal(evn("-2 * -3"), 6.0, 0);
    assert_double_equal(evn("7 % 4"), 3.0, 0);
    assert_double_equal(evn("WLEN - BANDPASS / 2"), 4500.0, 0);
    assert_double_equal(evn("WLEN + BANDPASS / 2"), 5500.0, 0);
    assert_double_equal(evn("PLTSCALE * PIXSIZE * XBIN / 3.6e6"), 22.5 * 13.5 * 2 / 3.6e6,
                        1e-18);
    assert_double_equal(evn("1.5e3 + .5"), 1500.5, 0);
    assert_string_equal(ev("XBIN == 2"), "true");
    assert_string_equal(ev("XBIN == '2.0'"), "true"); /* two numbers compare as numbers */
    assert_string_equal(ev("WLEN > 800"), "true");    /* not "5000" < "800" as text */
    assert_string_equal(ev("OBSTYPE == 'dark'"), "true");
    assert_string_equal(ev("OBSTYPE != 'dark' || XBIN >= 2 && not false"), "true");
    assert_string_equal(ev("OBSTYPE == 'flat' or XBIN < 2"), "false");
    assert_string_equal(ev("FLAG and true"), "true"); /* FITS logical T */
    assert_string_equal(ev("WORD < 'abd'"), "true");
    /* the right side of and/or is evaluated only when needed */
    assert_string_equal(ev("false and div(1, 0) > 1"), "false");
    assert_string_equal(ev("if(OBSTYPE == 'dark', 'dark', 'object')"), "dark");
    assert_string_equal(ev("if(has(NOPE), div(1, 0), 'safe')"), "safe");
    assert_string_equal(ev("when(XBIN == 1, 'one', XBIN == 2, 'two', 'many')"), "two");
    assert_string_equal(ev("when(XBIN == 3, 'three', 'other')"), "other");
    assert_string_equal(ev("case(OBSTYPE, 'object', 'science', 'dark', 'calibration')"),
                        "calibration");
    assert_string_equal(ev("case(XBIN, 1, 'a', 2.0, 'b', 'c')"), "b");
    assert_string_equal(ev("case(XBIN, 1, 'a', 'c')"), "c");
    assert_string_equal(ev("first(NOPE, EMPTY, WLEN, 3)"), "5000");
    assert_string_equal(ev("has(WLEN)"), "true");
    assert_string_equal(ev("has(EMPTY)"), "false");
    assert_string_equal(ev("true"), "true");
    assert_string_equal(ev("'it''s'"), "it's");
    assert_string_equal(ev("\"a\\\"b\""), "a\"b");
    /* a FITS keyword with '-' is one name; a subtraction has blanks */
    assert_string_equal(ev("DATE-OBS"), "2017-07-26T05:04:26");
    assert_string_equal(ev("header('DATE-OBS')"), "2017-07-26T05:04:26");
}

static void test_numbers_and_dates(void **state)
{
    (void)state;
    assert_double_equal(evn("num('1.5D3')"), 1500.0, 0);
    assert_double_equal(evn("num(' 42 ')"), 42.0, 0);
    assert_double_equal(evn("int(-2.7)"), -2.0, 0);
    assert_double_equal(evn("round(2.345, 2)"), 2.35, 1e-12);
    assert_double_equal(evn("round(2.5)"), 3.0, 0);
    assert_double_equal(evn("floor(-1.5) + ceil(1.2) + abs(-3)"), -2 + 2 + 3, 0);
    assert_double_equal(evn("min(3, WLEN, 1) + max(1, 2)"), 3.0, 0);
    assert_double_equal(evn("sqrt(16) + pow(2, 10)"), 1028.0, 0);
    assert_double_equal(evn("sind(30)"), 0.5, 1e-15);
    assert_double_equal(evn("cosd(60)"), 0.5, 1e-15);
    assert_double_equal(evn("tand(45)"), 1.0, 1e-15);
    assert_double_equal(evn("asind(0.5)"), 30.0, 1e-12);
    assert_double_equal(evn("acosd(0.5)"), 60.0, 1e-12);
    assert_double_equal(evn("atan2d(1, 1)"), 45.0, 1e-12);
    assert_double_equal(evn("log10(1000)"), 3.0, 1e-15);
    assert_double_equal(evn("num(split(BP, ',', 0)) * 1e-10"), 4e-7, 1e-20);
    assert_double_equal(evn("num(split(BP, ',', 1)) * 1e-10"), 9e-7, 1e-20);
    /* 2017-07-26T05:04:26 UTC = MJD 57960 + 18266 s */
    assert_double_equal(evn("mjd(DATE-OBS)"), 57960.0 + 18266.0 / 86400.0, 1e-9);
    assert_double_equal(evn("mjd(DATE-OBS, 86400)"), 57961.0 + 18266.0 / 86400.0, 1e-9);
    assert_double_equal(evn("mjd('2017/07/26')"), 57960.0, 0);
    assert_double_equal(evn("jd('2000-01-01T12:00:00')"), 2451545.0, 1e-9);
    assert_double_equal(evn("mjd2jd(51544.5)"), 2451545.0, 0);
    assert_double_equal(evn("jd2mjd(2451545)"), 51544.5, 0);
    assert_string_equal(ev("iso_date(57960.5)"), "2017-07-26T12:00:00.000");
    assert_string_equal(ev("iso_date('2017/07/26')"), "2017-07-26T00:00:00.000");
    assert_double_equal(evn("div(WLEN, BANDPASS) + scale(2, 3) + add(1, 2, 3)"), 17.0, 0);
    assert_double_equal(evn("beam(0.005, 0.005)"), 18.0, 1e-12);
}

static void test_strings(void **state)
{
    (void)state;
    assert_string_equal(ev("replace(OBJECT, ' ', '_')"), "WALLABY_J124915+043926");
    assert_string_equal(ev("replace(MODE, ' ', '')"), "21-DESAT");
    assert_string_equal(ev("resub(MODE, ' *- *', '-')"), "21-DESAT");
    assert_string_equal(ev("resub(OBJECT, '^([A-Z]+) (J[0-9]+)', '\\2/\\1')"),
                        "J124915/WALLABY+043926");
    assert_string_equal(ev("resub('aaa', 'x*', '-')"), "-a-a-a-");
    assert_string_equal(ev("capture(OBJECT, 'J([0-9]+)([+-][0-9]+)', 2)"), "+043926");
    assert_string_equal(ev("capture(OBJECT, 'J[0-9]+')"), "<none>"); /* no group 1 */
    assert_string_equal(ev("capture(OBJECT, 'J[0-9]+', 0)"), "J124915");
    assert_string_equal(ev("matches(file_name(), '_SCIRED[.]')"), "true");
    assert_string_equal(ev("if(matches(file_name(), '_SCIRED'), 2, 1)"), "2");
    assert_string_equal(ev("split(BP, ',', -1)"), "9000");
    assert_string_equal(ev("split(MODE, '', 1)"), "-");
    assert_string_equal(ev("split(MODE, '-', 0)"), "21");
    assert_string_equal(ev("trim('  a b \t')"), "a b");
    assert_string_equal(ev("upper(WORD) + 0 == 1"),
                        "error: blueprint \"t.bp\" line 1: Observation.type: not a number: "
                        "\"ABC\"");
    assert_string_equal(ev("concat(upper(WORD), '-', lower('XY'), 1.5, true)"), "ABC-xy1.5true");
    assert_string_equal(ev("substr(OBJECT, 0, 7)"), "WALLABY");
    assert_string_equal(ev("substr(OBJECT, -6)"), "043926");
    assert_double_equal(evn("len(WORD)"), 3.0, 0);
    assert_string_equal(ev("startswith(OBJECT, 'WALL') and endswith(OBJECT, '926') and "
                           "contains(OBJECT, ' J')"), "true");
    assert_string_equal(ev("format('%s_%04d_%.2f|%-4s|%+g|%x|%%', WORD, XBIN, PIXSIZE, 'a', "
                           "1.5, 255)"), "abc_0002_13.50|a   |+1.5|ff|%");
    assert_string_equal(ev("str(1.25)"), "1.25");
    assert_string_equal(ev("obs_id()"), "dao_c182_2017_009814");
    /* HDU selection and fallbacks across HDUs */
    assert_string_equal(ev("header('TELESCOP', 0, 1)"), "CFHT 3.6m");
    assert_string_equal(ev("header('OBSTYPE', 1, 0)"), "dark");
    assert_string_equal(ev("header('TELESCOP', 2)"), "<none>");
}

static void test_errors_name_file_line_rule(void **state)
{
    (void)state;
    static const struct {
        const char *expr;
        const char *msg;
    } k_cases[] = {
        {"1 +", "blueprint \"t.bp\" line 1: Observation.type: expression column 4: unexpected "
                "end of the expression"},
        {"foo(1)", "blueprint \"t.bp\" line 1: Observation.type: expression column 1: unknown "
                   "function \"foo\""},
        {"mjd()", "blueprint \"t.bp\" line 1: Observation.type: expression column 1: mjd() "
                  "takes 1 to 2 arguments, not 0"},
        {"(1", "blueprint \"t.bp\" line 1: Observation.type: expression column 3: expected ')'"},
        {"1 = 1", "blueprint \"t.bp\" line 1: Observation.type: expression column 3: '=' is "
                  "not a comparison: write '=='"},
        {"'abc", "blueprint \"t.bp\" line 1: Observation.type: expression column 5: "
                 "unterminated string"},
        {"1 2", "blueprint \"t.bp\" line 1: Observation.type: expression column 3: unexpected "
                "text after the expression"},
        {"WLEN-BANDPASS", "blueprint \"t.bp\" line 1: Observation.type: expression column 1: a "
                          "name with '-' longer than 8 characters: write a subtraction with "
                          "blanks (A - B), a keyword as header('NAME')"},
        {"matches(WORD, '(')", "blueprint \"t.bp\" line 1: Observation.type: expression column "
                               "1: bad regular expression: Unmatched ( or \\("},
        {"lookup(filters, FILTER, 'x')", "blueprint \"t.bp\" line 1: Observation.type: "
         "expression column 1: lookup(): no table \"filters\" declared before this line "
         "(table filters = 'file.csv')"},
        {"div(WLEN, 0)", "blueprint \"t.bp\" line 1: Observation.type: div(): division by zero"},
        {"WLEN / (XBIN - 2)", "blueprint \"t.bp\" line 1: Observation.type: division by zero"},
        {"mjd(WORD)", "blueprint \"t.bp\" line 1: Observation.type: mjd(): not a date: \"abc\""},
        {"WORD * 2", "blueprint \"t.bp\" line 1: Observation.type: not a number: \"abc\""},
        {"sqrt(WORD)", "blueprint \"t.bp\" line 1: Observation.type: sqrt(): not a number: "
                       "\"abc\""},
        {"if(WORD, 1, 2)", "blueprint \"t.bp\" line 1: Observation.type: not a boolean: "
                           "\"abc\""},
        {"hms('25:00:00')", "blueprint \"t.bp\" line 1: Observation.type: hms(): not a "
                            "sexagesimal angle: \"25:00:00\""},
        {"format('%d %d', 1)", "blueprint \"t.bp\" line 1: Observation.type: format(): more "
                               "conversions than arguments in \"%d %d\""},
        {"format('%n', 1)", "blueprint \"t.bp\" line 1: Observation.type: format(): "
                            "unsupported conversion in \"%n\" (%s %d %f %e %g %x)"},
        {"timescale(57000, 'UTC', 'TDB')", "blueprint \"t.bp\" line 1: Observation.type: "
         "timescale(): scales are UTC, TAI or TT, not \"UTC\", \"TDB\""},
        {"true == 1", "blueprint \"t.bp\" line 1: Observation.type: cannot compare a boolean "
                      "with a number"},
        {"sqrt(-1)", "blueprint \"t.bp\" line 1: Observation.type: sqrt(): negative argument "
                     "-1"},
        {"pow(10, 400)", "blueprint \"t.bp\" line 1: Observation.type: pow(): the result is "
                         "not a finite number"},
    };
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) {
        const char *v = ev(k_cases[i].expr);
        char want[700];
        snprintf(want, sizeof want, "error: %s", k_cases[i].msg);
        if (strcmp(v, want) != 0) {
            fail_msg("%s:\n  got  %s\n  want %s", k_cases[i].expr, v, want);
        }
    }
    /* a later line: the message names it */
    struct bp *b = NULL;
    struct err_info ei = {0};
    const char *t = "# collection\nObservation.type = object\n\nPlane.calibrationLevel := "
                    "if(XBIN > 1, 2, 1\n";
    assert_int_equal(bp_new(&b, NULL), ERR_OK);
    assert_int_equal(bp_load_text(b, "coll.bp", t, strlen(t), &ei), ERR_PARSE);
    assert_string_equal(ei.msg, "blueprint \"coll.bp\" line 4: Plane.calibrationLevel: "
                                "expression column 18: expected ',' or ')' in the arguments");
    bp_free(b);
}

static void test_let_variables(void **state)
{
    (void)state;
    struct bp *b = NULL;
    struct err_info ei = {0};
    char out[BP_VALUE_MAX];
    bool found = false;
    const char *t =
        "let scale_deg = PLTSCALE * PIXSIZE * XBIN / 3.6e6\n"
        "let half = BANDPASS / 2\n"
        "let lo = (WLEN - half) * 1e-10\n"
        "let missing = NOPE * 2\n"
        "Chunk.position.axis.function.cd11 := -scale_deg\n"
        "Chunk.energy.axis.range.start.val := lo\n"
        "Observation.target.name := first(missing, 'none found')\n"
        "Plane.calibrationLevel := missing + 1\n"
        "extension 1:\n"
        "let half = 0\n"
        "Chunk.energy.axis.range.end.val := half\n"
        "Header.CTYPE1 := if(XBIN > 1, 'RA---TAN', 'RA---SIN')\n";
    assert_int_equal(bp_new(&b, NULL), ERR_OK);
    assert_int_equal(bp_load_text(b, "let.bp", t, strlen(t), &ei), ERR_OK);
    struct bp_keys k = k_keys;
    assert_int_equal(bp_eval(bp_get(b, "Chunk.position.axis.function.cd11", 0), &k, out,
                             sizeof out, &found, &ei), ERR_OK);
    assert_true(found);
    assert_double_equal(strtod(out, NULL), -0.00016875, 1e-18);
    assert_int_equal(bp_eval(bp_get(b, "Chunk.energy.axis.range.start.val", 0), &k, out,
                             sizeof out, &found, &ei), ERR_OK);
    assert_double_equal(strtod(out, NULL), 4.5e-7, 1e-20);
    assert_int_equal(bp_eval(bp_get(b, "Observation.target.name", 0), &k, out, sizeof out,
                             &found, &ei), ERR_OK);
    assert_string_equal(out, "none found");
    /* the explain list names the rule and the variable that gave nothing */
    struct bp_explain ex = {.n = 0};
    const struct bp_rule *cal = bp_get(b, "Plane.calibrationLevel", 0);
    assert_int_equal(bp_eval_explain(cal, &k, out, sizeof out, &found, &ex, &ei), ERR_OK);
    assert_false(found);
    assert_int_equal(ex.n, 2);
    assert_string_equal(ex.none[0]->key, "let:missing");
    assert_int_equal(ex.none[0]->line, 4);
    assert_ptr_equal(ex.none[1], cal);
    /* a variable of extension 1 shadows the one for every HDU there */
    k.hdu = 1;
    assert_int_equal(bp_eval(bp_get(b, "Chunk.energy.axis.range.end.val", 1), &k, out,
                             sizeof out, &found, &ei), ERR_OK);
    assert_string_equal(out, "0");
    k.hdu = 0;
    const struct bp_rule *h = bp_get(b, "Header.CTYPE1", 1);
    assert_non_null(h);
    assert_int_equal(h->kind, BP_EXPR);
    /* the dump writes expressions and variables back, and it reads again */
    char *dump = bp_to_text(b);
    assert_non_null(dump);
    assert_non_null(strstr(dump, "let scale_deg = PLTSCALE * PIXSIZE * XBIN / 3.6e6\n"));
    assert_non_null(strstr(dump, "Plane.calibrationLevel := missing + 1\n"));
    struct bp *b2 = NULL;
    assert_int_equal(bp_new(&b2, NULL), ERR_OK);
    assert_int_equal(bp_load_text(b2, "dump.bp", dump, strlen(dump), &ei), ERR_OK);
    assert_int_equal(bp_eval(bp_get(b2, "Chunk.position.axis.function.cd11", 0), &k, out,
                             sizeof out, &found, &ei), ERR_OK);
    assert_double_equal(strtod(out, NULL), -0.00016875, 1e-18);
    free(dump);
    bp_free(b2);
    bp_free(b);
    /* a variable that uses itself is an error naming its line, not a crash */
    t = "let a = 1\nlet a = a + 1\nObservation.type := a\n";
    assert_int_equal(bp_new(&b, NULL), ERR_OK);
    assert_int_equal(bp_load_text(b, "self.bp", t, strlen(t), &ei), ERR_OK);
    assert_int_equal(bp_eval(bp_get(b, "Observation.type", 0), &k, out, sizeof out, &found,
                             &ei), ERR_INVALID);
    assert_non_null(strstr(ei.msg, "blueprint \"self.bp\" line 2: let:a: variable \"a\": let "
                                   "variables nested more than"));
    bp_free(b);
    /* bad names */
    static const char *const k_bad[] = {"let 1x = 2\n", "let and = 2\n", "let x.y = 2\n",
                                        "let x\n", "let x = \n", "table t\n"};
    for (size_t i = 0; i < sizeof k_bad / sizeof k_bad[0]; i++) {
        assert_int_equal(bp_new(&b, NULL), ERR_OK);
        assert_int_equal(bp_load_text(b, "bad.bp", k_bad[i], strlen(k_bad[i]), &ei), ERR_PARSE);
        assert_non_null(strstr(ei.msg, "blueprint \"bad.bp\" line 1: "));
        bp_free(b);
    }
}

static int g_reads; /* keyword reads through get_counting */

static const char *get_counting(const void *ctx, const char *key)
{
    g_reads++;
    return get0(ctx, key);
}

static void test_variable_cache(void **state)
{
    (void)state;
    struct bp *b = NULL;
    struct bp_varcache *vc = NULL;
    struct err_info ei = {0};
    char out[BP_VALUE_MAX];
    bool found = false;
    const char *t = "let w = WLEN * 2\nlet gone = NOPE\n"
                    "Observation.type := w + 1\nPlane.calibrationLevel := w / 1000\n"
                    "Observation.target.name := first(gone, 'x')\n";
    assert_int_equal(bp_new(&b, NULL), ERR_OK);
    assert_int_equal(bp_load_text(b, "vc.bp", t, strlen(t), &ei), ERR_OK);
    assert_int_equal(bp_varcache_new(&vc), ERR_OK);
    struct bp_keys k = k_keys;
    k.get = get_counting;
    k.vars = vc;
    g_reads = 0;
    assert_int_equal(bp_eval(bp_get(b, "Observation.type", 0), &k, out, sizeof out, &found, &ei),
                     ERR_OK);
    assert_string_equal(out, "10001");
    assert_int_equal(g_reads, 1);
    assert_int_equal(bp_eval(bp_get(b, "Plane.calibrationLevel", 0), &k, out, sizeof out, &found,
                             &ei), ERR_OK);
    assert_string_equal(out, "10");
    assert_int_equal(g_reads, 1); /* w came from the cache */
    /* another HDU computes it again */
    k.hdu = 1;
    assert_int_equal(bp_eval(bp_get(b, "Observation.type", 1), &k, out, sizeof out, &found, &ei),
                     ERR_OK);
    assert_int_equal(g_reads, 2);
    k.hdu = 0;
    /* a cached no value is still explained */
    struct bp_explain ex = {.n = 0};
    for (int i = 0; i < 2; i++) {
        ex.n = 0;
        assert_int_equal(bp_eval_explain(bp_get(b, "Observation.target.name", 0), &k, out,
                                         sizeof out, &found, &ex, &ei), ERR_OK);
        assert_string_equal(out, "x");
        assert_int_equal(ex.n, 1);
        assert_string_equal(ex.none[0]->key, "let:gone");
    }
    bp_varcache_free(vc);
    bp_free(b);
}

/* regexec results of resub() and capture() are remembered per document by pattern and text:
 * the same pattern on the same text gives the remembered match (with another replacement or
 * group too), a different text or pattern is matched */
static void test_resub_memo(void **state)
{
    (void)state;
    struct bp *b = NULL;
    struct bp_varcache *vc = NULL;
    struct err_info ei = {0};
    char out[BP_VALUE_MAX];
    bool found = false;
    const char *t = "Observation.type := resub('S101116_0001.fits', '^S?([^.]+).*$', 'C\\1')\n"
                    "Observation.intent := resub('S101116_0002.fits', '^S?([^.]+).*$', 'C\\1')\n"
                    "Observation.target.name := resub('S101116_0001.fits', '^S?([^.]+).*$', "
                    "'D\\1')\n"
                    "Observation.proposal.id := resub('S101116_0001.fits', '^S?([^_]+).*$', "
                    "'C\\1')\n"
                    "Observation.proposal.pi := capture('S101116_0001.fits', '^S?([^.]+).*$', 1)\n"
                    "Observation.proposal.title := "
                    "capture('101116_0001.fits', '^S?([^.]+).*$', 1)\n";
    static const char *const keys[] = {"Observation.type",        "Observation.intent",
                                       "Observation.target.name", "Observation.proposal.id",
                                       "Observation.proposal.pi", "Observation.proposal.title"};
    static const char *const want[] = {"C101116_0001", "C101116_0002", "D101116_0001",
                                       "C101116",      "101116_0001",  "101116_0001"};
    assert_int_equal(bp_new(&b, NULL), ERR_OK);
    assert_int_equal(bp_load_text(b, "rs.bp", t, strlen(t), &ei), ERR_OK);
    assert_int_equal(bp_varcache_new(&vc), ERR_OK);
    struct bp_keys k = k_keys;
    for (int pass = 0; pass < 3; pass++) {
        k.vars = pass < 2 ? vc : NULL; /* computed, remembered, and without a cache */
        for (size_t i = 0; i < 6; i++) {
            assert_int_equal(bp_eval(bp_get(b, keys[i], 0), &k, out, sizeof out, &found, &ei),
                             ERR_OK);
            assert_true(found);
            assert_string_equal(out, want[i]);
        }
    }
    bp_varcache_free(vc);
    bp_free(b);
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

/* The rules the CSV and YAML lookup tests evaluate over a table called filters. */
#define LOOKUP_RULES                                                                           \
    "Chunk.energy.axis.range.start.val := lookup(filters, FILTER, 'wl_min')\n"                  \
    "Chunk.energy.bandpassName := lookup('filters', FILTER, 'bandpass')\n"                      \
    "Chunk.energy.resolvingPower := lookup(filters, 'CLEAR_2', 'resolving_power')\n"            \
    "Chunk.energy.axis.range.end.val := lookup(filters, 'K', 'wl_max', 0)\n"                    \
    "Chunk.energy.axis.axis.cunit := lookup(filters, 'J', 'bandpass')\n"                        \
    "Chunk.energy.restfrq := lookup(filters, 'K', 'wl_max')\n"                                  \
    "Chunk.energy.restwav := lookup(filters, 'J', 'nope')\n"

static void test_lookup_tables(void **state)
{
    (void)state;
    const char *tmp = getenv("OBSFLOW_TEST_TMP");
    char csv[1024], bpf[1024];
    struct bp *b = NULL;
    struct err_info ei = {0};
    char out[BP_VALUE_MAX];
    bool found = false;
    if (!tmp) {
        skip();
    }
    snprintf(csv, sizeof csv, "%s/filters.csv", tmp);
    snprintf(bpf, sizeof bpf, "%s/coll.bp", tmp);
    write_file(csv, "# filter name -> energy (m) and resolving power\n"
                    "name, wl_min, wl_max, resolving_power, bandpass\n"
                    "J, 1.17e-6, 1.33e-6, 8, \"J, Mauna Kea\"\n"
                    "H2, 2.10e-6, 2.14e-6, 53,\n"
                    "CLEAR*, 4e-7, 9e-7, 1.2, clear\n");
    write_file(bpf, "table filters = 'filters.csv'\n" LOOKUP_RULES);
    assert_int_equal(bp_new(&b, NULL), ERR_OK);
    assert_int_equal(bp_load_file(b, bpf, &ei), ERR_OK);
    struct bp_keys k = k_keys;
#define EV(key) bp_eval(bp_get(b, key, 0), &k, out, sizeof out, &found, &ei)
    assert_int_equal(EV("Chunk.energy.axis.range.start.val"), ERR_OK);
    assert_string_equal(out, "2.10e-6");
    assert_int_equal(EV("Chunk.energy.bandpassName"), ERR_OK); /* an empty cell */
    assert_false(found);
    assert_int_equal(EV("Chunk.energy.resolvingPower"), ERR_OK); /* a pattern key */
    assert_string_equal(out, "1.2");
    assert_int_equal(EV("Chunk.energy.axis.range.end.val"), ERR_OK); /* the default */
    assert_string_equal(out, "0");
    assert_int_equal(EV("Chunk.energy.axis.axis.cunit"), ERR_OK); /* quoted cell */
    assert_string_equal(out, "J, Mauna Kea");
    assert_int_equal(EV("Chunk.energy.restfrq"), ERR_NOT_FOUND);
    assert_string_equal(ei.msg, "blueprint \"coll.bp\" line 7: Chunk.energy.restfrq: lookup(): "
                                "table \"filters\" (filters.csv) has no row for key \"K\"");
    assert_int_equal(EV("Chunk.energy.restwav"), ERR_INVALID);
    assert_string_equal(ei.msg, "blueprint \"coll.bp\" line 8: Chunk.energy.restwav: lookup(): "
                                "table \"filters\" (filters.csv) has no column \"nope\"");
#undef EV
    bp_free(b);
    /* a broken table and a missing one are errors naming the blueprint line */
    write_file(csv, "name, a\nx, 1, 2\n");
    assert_int_equal(bp_new(&b, NULL), ERR_OK);
    assert_int_equal(bp_load_file(b, bpf, &ei), ERR_PARSE);
    assert_string_equal(ei.msg, "blueprint \"coll.bp\" line 1: lookup table \"filters.csv\" "
                                "line 2: 3 columns, the header has 2");
    bp_free(b);
    write_file(bpf, "table t = 'absent.csv'\n");
    assert_int_equal(bp_new(&b, NULL), ERR_OK);
    assert_int_equal(bp_load_file(b, bpf, &ei), ERR_IO);
    assert_non_null(strstr(ei.msg, "blueprint \"coll.bp\" line 1: could not open lookup table "
                                   "\"absent.csv\""));
    bp_free(b);
    /* text without a file cannot name a relative table */
    const char *t = "table t = 'x.csv'\n";
    assert_int_equal(bp_new(&b, NULL), ERR_OK);
    assert_int_equal(bp_load_text(b, "mem.bp", t, strlen(t), &ei), ERR_PARSE);
    bp_free(b);
}

/* a header with a keyword family: raw inputs ID_nnnnn (one repeated, one blank), ID_PROG */
/* the CSV tests' twins with the same table in YAML, as a list of mappings and as a mapping */
static void yaml_twin(const char *tmp, const char *yaml_text)
{
    char yml[1024], bpf[1024];
    struct bp *b = NULL;
    struct err_info ei = {0};
    char out[BP_VALUE_MAX];
    bool found = false;
    snprintf(yml, sizeof yml, "%s/filters.yaml", tmp);
    snprintf(bpf, sizeof bpf, "%s/coll_yaml.bp", tmp);
    write_file(yml, yaml_text);
    write_file(bpf, "table filters = 'filters.yaml'\n" LOOKUP_RULES);
    assert_int_equal(bp_new(&b, NULL), ERR_OK);
    assert_int_equal(bp_load_file(b, bpf, &ei), ERR_OK);
    struct bp_keys k = k_keys;
#define EV(key) bp_eval(bp_get(b, key, 0), &k, out, sizeof out, &found, &ei)
    assert_int_equal(EV("Chunk.energy.axis.range.start.val"), ERR_OK);
    assert_string_equal(out, "2.10e-6"); /* the scalar as written */
    assert_int_equal(EV("Chunk.energy.bandpassName"), ERR_OK); /* null / a missing field */
    assert_false(found);
    assert_int_equal(EV("Chunk.energy.resolvingPower"), ERR_OK); /* a pattern key */
    assert_string_equal(out, "1.2");
    assert_int_equal(EV("Chunk.energy.axis.range.end.val"), ERR_OK); /* the default */
    assert_string_equal(out, "0");
    assert_int_equal(EV("Chunk.energy.axis.axis.cunit"), ERR_OK);
    assert_string_equal(out, "J, Mauna Kea");
    assert_int_equal(EV("Chunk.energy.restfrq"), ERR_NOT_FOUND);
    assert_string_equal(ei.msg, "blueprint \"coll_yaml.bp\" line 7: Chunk.energy.restfrq: "
                                "lookup(): table \"filters\" (filters.yaml) has no row for key "
                                "\"K\"");
    assert_int_equal(EV("Chunk.energy.restwav"), ERR_INVALID);
    assert_string_equal(ei.msg, "blueprint \"coll_yaml.bp\" line 8: Chunk.energy.restwav: "
                                "lookup(): table \"filters\" (filters.yaml) has no column "
                                "\"nope\"");
#undef EV
    bp_free(b);
}

/* a YAML table that cannot be read: the error names the blueprint line and the table line */
static void yaml_bad(const char *tmp, const char *yaml_text, enum err want, const char *msg)
{
    char yml[1024], bpf[1024];
    struct bp *b = NULL;
    struct err_info ei = {0};
    snprintf(yml, sizeof yml, "%s/bad.yaml", tmp);
    snprintf(bpf, sizeof bpf, "%s/bad_yaml.bp", tmp);
    write_file(yml, yaml_text);
    write_file(bpf, "# a table\ntable t = 'bad.yaml'\n");
    assert_int_equal(bp_new(&b, NULL), ERR_OK);
    assert_int_equal(bp_load_file(b, bpf, &ei), want);
    if (!strstr(ei.msg, msg)) {
        fail_msg("\"%s\" does not hold \"%s\"", ei.msg, msg);
    }
    bp_free(b);
}

static void test_lookup_tables_yaml(void **state)
{
    (void)state;
    const char *tmp = getenv("OBSFLOW_TEST_TMP");
    if (!tmp) {
        skip();
    }
    yaml_twin(tmp, "# filter name -> energy (m) and resolving power\n"
                   "- {name: J, wl_min: 1.17e-6, wl_max: 1.33e-6, resolving_power: 8,\n"
                   "   bandpass: 'J, Mauna Kea'}\n"
                   "- name: H2\n"
                   "  wl_min: 2.10e-6\n"
                   "  wl_max: 2.14e-6\n"
                   "  resolving_power: 53\n"
                   "  bandpass: ~\n"
                   "- {name: 'CLEAR*', wl_min: 4e-7, wl_max: 9e-7, resolving_power: 1.2}\n");
    yaml_twin(tmp, "J: {wl_min: 1.17e-6, wl_max: 1.33e-6, resolving_power: 8,\n"
                   "    bandpass: 'J, Mauna Kea'}\n"
                   "H2: {wl_min: 2.10e-6, wl_max: 2.14e-6, resolving_power: 53}\n"
                   "'CLEAR*':\n"
                   "  wl_min: 4e-7\n"
                   "  wl_max: 9e-7\n"
                   "  resolving_power: 1.2\n"
                   "  bandpass: null\n");
    yaml_bad(tmp, "- {name: J, a: 1}\n- {name: H, a: [1, 2]}\n", ERR_PARSE,
             "blueprint \"bad_yaml.bp\" line 2: lookup table \"bad.yaml\" line 2: the value of "
             "\"a\" is not a single value");
    yaml_bad(tmp, "- {name: J, a: 1}\n- {a: 2, name: H}\n", ERR_PARSE,
             "lookup table \"bad.yaml\" line 2: the first field of every row is the key "
             "\"name\", not \"a\"");
    yaml_bad(tmp, "J: {a: 1}\nJ: {a: 2}\n", ERR_PARSE,
             "lookup table \"bad.yaml\" line 2: key \"J\" given twice");
    yaml_bad(tmp, "J: {key: 1}\n", ERR_PARSE,
             "lookup table \"bad.yaml\" line 1: \"key\" names the key column");
    yaml_bad(tmp, "just text\n", ERR_PARSE,
             "lookup table \"bad.yaml\" line 1: expected a list of mappings or a mapping");
    yaml_bad(tmp, "- {name: J\n", ERR_PARSE, "blueprint \"bad_yaml.bp\" line 2: lookup table "
             "\"bad.yaml\": line ");
    yaml_bad(tmp, "", ERR_PARSE, "lookup table \"bad.yaml\" is empty");
    yaml_bad(tmp, "- 5\n", ERR_PARSE, "line 1: a row is a mapping of column -> value");
}

static const char *const k_fam[] = {
    "OBJECT", "QSO2251+158", "ID_PROG", "cpapir",
    "ID_00001", "S/data/cpapir/data/101116/101116_0041.fits.fits.gz",
    "ID_00002", "S/data/cpapir/data/101116/101116_0042.fits.fits.gz",
    "ID_00003", "", "ID_00004", "S/data/cpapir/data/101116/101116_0041.fits.fits.gz",
    "ID_00005", "C/data/cpapir/data/101116/101116_0050.fits.gz", NULL};

static const char *get_fam(const void *ctx, const char *key)
{
    (void)ctx;
    return find(k_fam, key);
}

static bool card_fam(const void *ctx, size_t i, const char **key, const char **value)
{
    (void)ctx;
    for (size_t j = 0; k_fam[j]; j += 2) {
        if (j / 2 == i) {
            *key = k_fam[j];
            *value = k_fam[j + 1];
            return true;
        }
    }
    return false;
}

static const char *ev_fam(const char *expr, bool with_cards)
{
    static char out[BP_VALUE_MAX + 600];
    char text[4096];
    struct bp *b = NULL;
    struct err_info ei = {0};
    bool found = false;
    struct bp_keys k = {.get = get_fam, .card = with_cards ? card_fam : NULL};
    assert_int_equal(bp_new(&b, NULL), ERR_OK);
    snprintf(text, sizeof text, "DerivedObservation.members := %s\n", expr);
    if (bp_load_text(b, "f.bp", text, strlen(text), &ei) != ERR_OK) {
        snprintf(out, sizeof out, "error: %s", ei.msg);
    } else if (bp_eval(bp_get(b, "DerivedObservation.members", 0), &k, out, BP_VALUE_MAX,
                       &found, &ei) != ERR_OK) {
        snprintf(out, sizeof out, "error: %s", ei.msg);
    } else if (!found) {
        snprintf(out, sizeof out, "<none>");
    }
    bp_free(b);
    return out;
}

/* --dump writes every part of a blueprint back: tables, artifact sections with their
 * extensions, expressions, and what it writes loads into the same rules. */
static void test_dump_round_trip(void **state)
{
    (void)state;
    const char *tmp = getenv("OBSFLOW_TEST_TMP");
    char csv[1024], bpf[1024];
    struct bp *b = NULL, *b2 = NULL;
    struct err_info ei = {0};
    if (!tmp) {
        skip();
    }
    snprintf(csv, sizeof csv, "%s/dump_filters.csv", tmp);
    snprintf(bpf, sizeof bpf, "%s/dump.bp", tmp);
    write_file(csv, "name, wl_min\nJ, 1.17e-6\n");
    write_file(bpf, "table filters = 'dump_filters.csv'\n"
                    "Plane.dataProductType = image\n"
                    "extension 1:\n"
                    "Chunk.energy.axis.range.start.val := lookup(filters, FILTER, 'wl_min')\n"
                    "artifact cadc:X/a.fits:\n"
                    "Artifact.productType = auxiliary\n"
                    "extension 2:\n"
                    "Chunk.naxis = 2\n"
                    "artifact cadc:X/b.fits:\n"
                    "Artifact.productType = preview\n");
    assert_int_equal(bp_new(&b, NULL), ERR_OK);
    assert_int_equal(bp_load_file(b, bpf, &ei), ERR_OK);
    char *dump = bp_to_text(b);
    assert_non_null(dump);
    assert_non_null(strstr(dump, "table filters = 'dump_filters.csv'\n"));
    assert_non_null(strstr(dump, "\nartifact cadc:X/a.fits:\nArtifact.productType = auxiliary\n"
                                 "extension 2:\nChunk.naxis = 2\n"));
    assert_non_null(strstr(dump, "\nartifact cadc:X/b.fits:\nArtifact.productType = preview\n"));
    /* the dump, written beside the table, loads into the same rules */
    write_file(bpf, dump);
    assert_int_equal(bp_new(&b2, NULL), ERR_OK);
    assert_int_equal(bp_load_file(b2, bpf, &ei), ERR_OK);
    const struct bp_rule *r = bp_get_art(b2, "Chunk.naxis", 2, "cadc:X/a.fits");
    assert_non_null(r);
    assert_string_equal(r->literal, "2");
    assert_null(bp_get_art(b2, "Chunk.naxis", 2, "cadc:X/b.fits"));
    r = bp_get_art(b2, "Artifact.productType", 0, "cadc:X/b.fits");
    assert_non_null(r);
    assert_string_equal(r->literal, "preview");
    r = bp_get(b2, "Chunk.energy.axis.range.start.val", 1);
    assert_non_null(r);
    assert_int_equal(r->kind, BP_EXPR);
    char *dump2 = bp_to_text(b2);
    assert_non_null(dump2);
    assert_string_equal(dump2, dump);
    free(dump2);
    free(dump);
    bp_free(b2);
    bp_free(b);
}

static void test_keyword_family(void **state)
{
    (void)state;
    /* the values, in header order, each once, blanks left out; ID_PROG does not match */
    assert_string_equal(ev_fam("family('ID_[0-9]*')", true),
                        "S/data/cpapir/data/101116/101116_0041.fits.fits.gz, "
                        "S/data/cpapir/data/101116/101116_0042.fits.fits.gz, "
                        "C/data/cpapir/data/101116/101116_0050.fits.gz");
    /* an item expression over value (and keyword), and a separator */
    assert_string_equal(ev_fam("family('ID_[0-9]*', resub(basename(value), '^([^.]+).*$', "
                               "'caom:OMM/C\\1'), ' ')", true),
                        "caom:OMM/C101116_0041 caom:OMM/C101116_0042 caom:OMM/C101116_0050");
    assert_string_equal(ev_fam("family('ID_0000[12]', concat(keyword, '=', "
                               "if(startswith(value, 'S'), 'science', 'calibration')))", true),
                        "ID_00001=science, ID_00002=science");
    /* items that yield no value are left out; no item at all is no value */
    assert_string_equal(ev_fam("family('ID_*', if(startswith(value, 'C'), basename(value)))",
                               true), "101116_0050.fits.gz");
    assert_string_equal(ev_fam("family('IN_[0-9]*')", true), "<none>");
    assert_string_equal(ev_fam("family(NOPE, value)", true), "<none>");
    assert_string_equal(ev_fam("family('ID_*')", false), "<none>"); /* no header listing */
    /* value and keyword are names only inside the item expression; nested families */
    assert_string_equal(ev_fam("first(value, OBJECT)", true), "QSO2251+158");
    assert_string_equal(ev_fam("family('OBJECT', family('ID_0000[12]', concat(value, '@', "
                               "keyword)))", true),
                        "S/data/cpapir/data/101116/101116_0041.fits.fits.gz@ID_00001, "
                        "S/data/cpapir/data/101116/101116_0042.fits.fits.gz@ID_00002");
    assert_string_equal(ev_fam("family('OBJECT', concat(value, ':', family('ID_PROG', value)))",
                               true), "QSO2251+158:cpapir");
    assert_string_equal(ev_fam("basename('a/b/c.fits')", true), "c.fits");
    assert_string_equal(ev_fam("basename('dir/')", true), "<none>");
    assert_string_equal(ev_fam("family()", true),
                        "error: blueprint \"f.bp\" line 1: DerivedObservation.members: "
                        "expression column 1: family() takes 1 to 3 arguments, not 0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_is_no_value),
        cmocka_unit_test(test_operators),
        cmocka_unit_test(test_numbers_and_dates),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_errors_name_file_line_rule),
        cmocka_unit_test(test_let_variables),
        cmocka_unit_test(test_lookup_tables),
        cmocka_unit_test(test_lookup_tables_yaml),
        cmocka_unit_test(test_variable_cache),
        cmocka_unit_test(test_resub_memo),
        cmocka_unit_test(test_keyword_family),
        cmocka_unit_test(test_dump_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
