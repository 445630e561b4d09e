/* test_blueprint.c - unit tests of lib/blueprint: the default blueprint, file syntax (lookups
 * with defaults, literals, None, functions, extension and artifact sections), errors naming file
 * and line, per-axis configuration, evaluation and the built-in functions.
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
#include "core/str.h"

struct kv {
    const char *k;
    const char *v;
};

static const char *kv_get(const void *ctx, const char *key)
{
    for (const struct kv *p = ctx; p->k; p++) {
        if (strcmp(p->k, key) == 0) {
            return p->v;
        }
    }
    return NULL;
}

static const struct kv k_hdr[] = {
    {"INSTRUME", "CPAPIR"}, {"DATE-OBS", "2017-03-19T00:12:42"}, {"EXPTIME", "60"},
    {"BMAJ", "0.005"}, {"BMIN", "0.005"}, {"FILTER", "K"}, {"BLANK", ""}, {"NOTADATE", "x"},
    {NULL, NULL}};

static const char *eval(const struct bp *b, const char *key, int hdu, char *out, bool *found)
{
    struct bp_keys k = {.ctx = k_hdr, .get = kv_get};
    struct err_info ei;
    *found = false;
    if (bp_eval(bp_get(b, key, hdu), &k, out, BP_VALUE_MAX, found, &ei) != ERR_OK) {
        return NULL;
    }
    return *found ? out : "";
}

static void test_default_blueprint(void **state)
{
    (void)state;
    struct bp *b = NULL;
    char out[BP_VALUE_MAX];
    bool found;
    assert_int_equal(bp_new(&b, NULL), ERR_OK);
    const struct bp_rule *r = bp_get(b, "Observation.metaRelease", -1);
    assert_non_null(r);
    assert_int_equal(r->kind, BP_LOOKUP);
    assert_int_equal(r->nkeywords, 7);
    assert_string_equal(r->keywords[0], "DATE");
    assert_false(r->user);
    assert_string_equal(eval(b, "Observation.metaRelease", 0, out, &found),
                        "2017-03-19T00:12:42");
    assert_string_equal(eval(b, "Observation.instrument.name", 0, out, &found), "CPAPIR");
    assert_string_equal(eval(b, "Observation.algorithm.name", 0, out, &found), "exposure");
    assert_string_equal(eval(b, "Plane.calibrationLevel", 0, out, &found), "1");
    assert_string_equal(eval(b, "Plane.dataProductType", 0, out, &found), "image");
    assert_string_equal(eval(b, "Artifact.releaseType", 0, out, &found), "data");
    assert_string_equal(eval(b, "Observation.target.name", 0, out, &found), "");
    assert_false(found);
    r = bp_get(b, "Chunk", 3);
    assert_non_null(r);
    assert_string_equal(r->literal, "include");
    bp_free(b);
    bp_free(NULL);
}

static void test_file_syntax(void **state)
{
    (void)state;
    const char *text =
        "# a comment\n"
        "Observation.instrument.name = ['NOPE', 'INSTRUME'], default = unknown  # trailing\n"
        "Observation.target.name = ['NOPE'], default = 'Dark sky'\n"
        "Observation.proposal.id = None\n"
        "Plane.dataProductType = http://www.opencadc.org/caom2/DataProductType#catalog\n"
        "DerivedObservation.members = []\n"
        "Chunk.time.axis.function.refCoord.val = mjd(DATE-OBS)\n"
        "Chunk.time.axis.function.delta = div(EXPTIME, 86400)\n"
        "Chunk.position.resolution = beam(BMAJ, BMIN)\n"
        "Plane.metrics.magLimit = scale(EXPTIME, 0.5)\n"
        "Plane.metrics.background = add(EXPTIME, 1.25)\n"
        "Observation.instrument.keywords = concat('FILTER=', FILTER)\n"
        "Observation.type = first(BLANK, 'fallback')\n"
        "\n"
        "extension 1:\n"
        "Chunk.energy.bandpassName = ['FILTER']\n"
        "Chunk = {ignore}\n"
        "Part = image\n"
        "artifact cadc:X/a.fits:\n"
        "Artifact.productType = noise\n"
        "Header.CTYPE3 = VOPT\n";
    struct bp *b = NULL;
    struct err_info ei;
    char out[BP_VALUE_MAX];
    bool found;
    assert_int_equal(bp_new(&b, NULL), ERR_OK);
    assert_int_equal(bp_load_text(b, "x.blueprint", text, strlen(text), &ei), ERR_OK);
    assert_string_equal(eval(b, "Observation.instrument.name", 0, out, &found), "CPAPIR");
    assert_string_equal(eval(b, "Observation.target.name", 0, out, &found), "Dark sky");
    assert_string_equal(eval(b, "Observation.proposal.id", 0, out, &found), "");
    assert_int_equal(bp_get(b, "Observation.proposal.id", 0)->kind, BP_UNSET);
    assert_string_equal(eval(b, "Plane.dataProductType", 0, out, &found),
                        "http://www.opencadc.org/caom2/DataProductType#catalog");
    assert_true(bp_has_prefix(b, "DerivedObservation."));
    assert_true(bp_has_prefix(b, "Header."));
    assert_false(bp_has_prefix(b, "CompositeObservation."));
    assert_true(bp_has_prefix(b, "Plane.metrics."));
    assert_false(bp_has_prefix(b, "Plane.metrics.sampleSNR"));
    assert_string_equal(eval(b, "Plane.metrics.magLimit", 0, out, &found), "30");
    assert_string_equal(eval(b, "Plane.metrics.background", 0, out, &found), "61.25");
    assert_true(fabs(atof(eval(b, "Chunk.time.axis.function.refCoord.val", 0, out, &found)) -
                     57831.00881944445) < 1e-9);
    assert_true(fabs(atof(eval(b, "Chunk.time.axis.function.delta", 0, out, &found)) -
                     60.0 / 86400.0) < 1e-15);
    assert_true(fabs(atof(eval(b, "Chunk.position.resolution", 0, out, &found)) - 18.0) < 1e-9);
    assert_string_equal(eval(b, "Observation.instrument.keywords", 0, out, &found), "FILTER=K");
    assert_string_equal(eval(b, "Observation.type", 0, out, &found), "fallback");
    /* extension rules apply to their HDU only */
    assert_string_equal(eval(b, "Chunk.energy.bandpassName", 1, out, &found), "K");
    assert_null(bp_get(b, "Chunk.energy.bandpassName", 0));
    assert_string_equal(bp_get(b, "Chunk", 1)->literal, "{ignore}");
    assert_string_equal(bp_get(b, "Chunk", 0)->literal, "include");
    /* the structure rule Part: per extension like Chunk; no rule by default (every HDU) */
    assert_string_equal(bp_get(b, "Part", 1)->literal, "image");
    assert_null(bp_get(b, "Part", 0));
    /* artifact sections */
    assert_null(bp_get(b, "Artifact.productType", 0));
    assert_string_equal(bp_get_art(b, "Artifact.productType", 0, "cadc:X/a.fits")->literal,
                        "noise");
    assert_null(bp_get_art(b, "Artifact.productType", 0, "cadc:X/b.fits"));
    assert_string_equal(bp_get_art(b, "Header.CTYPE3", 0, "cadc:X/a.fits")->literal, "VOPT");
    /* rule origin */
    const struct bp_rule *r = bp_get(b, "Observation.target.name", 0);
    assert_true(r->user);
    assert_string_equal(r->file, "x.blueprint");
    assert_int_equal(r->line, 3);
    char *dump = bp_to_text(b);
    assert_non_null(dump);
    assert_non_null(strstr(dump, "Observation.target.name = ['NOPE'], default = Dark sky"));
    free(dump);
    bp_free(b);
}

static void expect_parse_error(const char *text, const char *fragment)
{
    struct bp *b = NULL;
    struct err_info ei;
    assert_int_equal(bp_new(&b, NULL), ERR_OK);
    assert_int_equal(bp_load_text(b, "bad.blueprint", text, strlen(text), &ei), ERR_PARSE);
    if (!strstr(ei.msg, fragment)) {
        fail_msg("message \"%s\" lacks \"%s\"", ei.msg, fragment);
    }
    bp_free(b);
}

static void test_errors_name_file_and_line(void **state)
{
    (void)state;
    expect_parse_error("Observation.type = x\nObservation.instrumnet.name = y\n",
                       "blueprint \"bad.blueprint\" line 2: unrecognized blueprint element");
    expect_parse_error("Observation.type\n", "line 1: malformed line");
    expect_parse_error("Observation.type = ['A', 'B'\n", "line 1: malformed keyword list");
    expect_parse_error("Observation.type = ['A'], defualt = x\n", "line 1: expected \"default");
    expect_parse_error("extension x:\n", "line 1: invalid extension number");
    expect_parse_error("extension 1:\nObservation.type = x\n", "line 2: only Chunk and Part");
    expect_parse_error("Observation.type =\n", "line 1: missing value");
    expect_parse_error("Observation.type = first('a, b)\n", "line 1: unterminated string");
    {
        /* a quoted argument that bp_eval could not hold (BP_ARG_MAX) is refused at load */
        char t[BP_ARG_MAX + 64];
        char big[BP_ARG_MAX + 1];
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        snprintf(t, sizeof t, "Observation.type = first('%s')\n", big);
        expect_parse_error(t, "line 1: quoted function argument longer than 255 bytes");
        big[BP_ARG_MAX - 1] = '\0'; /* the longest that fits, quotes aside */
        snprintf(t, sizeof t, "Observation.type = first('%s')\n", big);
        struct bp *ok = NULL;
        struct err_info e2;
        char v[BP_VALUE_MAX];
        bool f2 = false;
        struct bp_keys k2 = {.ctx = k_hdr, .get = kv_get};
        assert_int_equal(bp_new(&ok, NULL), ERR_OK);
        assert_int_equal(bp_load_text(ok, "ok.blueprint", t, strlen(t), &e2), ERR_OK);
        assert_int_equal(bp_eval(bp_get(ok, "Observation.type", 0), &k2, v, sizeof v, &f2, &e2),
                         ERR_OK);
        assert_true(f2);
        assert_int_equal(strlen(v), BP_ARG_MAX - 1);
        bp_free(ok);
    }
    /* an unknown function is reported when evaluated, naming file and line */
    struct bp *b = NULL;
    struct err_info ei;
    char out[BP_VALUE_MAX];
    bool found;
    const char *t = "Observation.type = _collection_hook(header)\n";
    assert_int_equal(bp_new(&b, NULL), ERR_OK);
    assert_int_equal(bp_load_text(b, "f.blueprint", t, strlen(t), &ei), ERR_OK);
    struct bp_keys k = {.ctx = k_hdr, .get = kv_get};
    assert_int_equal(bp_eval(bp_get(b, "Observation.type", 0), &k, out, sizeof out, &found, &ei),
                     ERR_INVALID);
    assert_non_null(strstr(ei.msg, "\"f.blueprint\" line 1"));
    assert_non_null(strstr(ei.msg, "_collection_hook"));
    /* a function given a value it cannot use */
    t = "Observation.type = mjd(NOTADATE)\n";
    assert_int_equal(bp_load_text(b, "g.blueprint", t, strlen(t), &ei), ERR_OK);
    assert_int_equal(bp_eval(bp_get(b, "Observation.type", 0), &k, out, sizeof out, &found, &ei),
                     ERR_INVALID);
    assert_non_null(strstr(ei.msg, "not a date"));
    /* a missing input keyword: no value, no error */
    t = "Observation.type = mjd(MISSING)\n";
    assert_int_equal(bp_load_text(b, "h.blueprint", t, strlen(t), &ei), ERR_OK);
    assert_int_equal(bp_eval(bp_get(b, "Observation.type", 0), &k, out, sizeof out, &found, &ei),
                     ERR_OK);
    assert_false(found);
    assert_int_equal(bp_set_literal(b, "Observation.nope", "x", -1, &ei), ERR_INVALID);
    bp_free(b);
    assert_int_equal(bp_load_file(NULL, "/nonexistent/bp", &ei), ERR_IO);
}

static void test_configure_axes(void **state)
{
    (void)state;
    struct bp *b = NULL;
    assert_int_equal(bp_new(&b, NULL), ERR_OK);
    const char *t = "Chunk.position.axis.function.cd11 = 0.5\n";
    assert_int_equal(bp_load_text(b, "u", t, strlen(t), NULL), ERR_OK);
    assert_int_equal(bp_configure_position(b, 1, 2, NULL), ERR_OK);
    assert_int_equal(bp_configure_energy(b, 3, NULL), ERR_OK);
    assert_int_equal(bp_configure_time(b, 4, NULL), ERR_OK);
    assert_int_equal(bp_configure_polarization(b, 5, NULL), ERR_OK);
    assert_int_equal(bp_configure_observable(b, 6, NULL), ERR_OK);
    assert_int_equal(bp_configure_custom(b, 7, NULL), ERR_OK);
    /* a user rule is kept */
    assert_string_equal(bp_get(b, "Chunk.position.axis.function.cd11", 0)->literal, "0.5");
    const struct bp_rule *r = bp_get(b, "Chunk.position.axis.function.cd12", 0);
    assert_string_equal(r->keywords[0], "CD1_2");
    r = bp_get(b, "Chunk.position.axis.function.dimension.naxis2", 0);
    assert_string_equal(r->keywords[0], "ZNAXIS2");
    assert_string_equal(r->keywords[1], "NAXIS2");
    r = bp_get(b, "Chunk.position.equinox", 0);
    assert_string_equal(r->keywords[1], "EPOCH");
    assert_string_equal(bp_get(b, "Chunk.energy.axis.function.delta", 0)->keywords[0], "CDELT3");
    assert_string_equal(bp_get(b, "Chunk.energy.specsys", 0)->keywords[0], "SPECSYS");
    assert_string_equal(bp_get(b, "Chunk.time.exposure", 0)->keywords[1], "INTTIME");
    assert_string_equal(bp_get(b, "Chunk.time.axis.axis.ctype", 0)->keywords[0], "CTYPE4");
    assert_string_equal(bp_get(b, "Chunk.polarization.axis.function.naxis", 0)->keywords[0],
                        "NAXIS5");
    assert_string_equal(bp_get(b, "Chunk.observable.axis.function.refCoord.pix", 0)->keywords[0],
                        "CRPIX6");
    assert_string_equal(bp_get(b, "Chunk.custom.axis.axis.ctype", 0)->keywords[0], "CTYPE7");
    assert_int_equal(bp_configure_position(b, 1, 1, NULL), ERR_INVALID);
    assert_int_equal(bp_configure_energy(b, 0, NULL), ERR_INVALID);
    assert_true(bp_is_element("Chunk.position.axis.function.cd11"));
    assert_true(bp_is_element("Header.NAXIS1"));
    assert_false(bp_is_element("Header.lower"));
    assert_false(bp_is_element("Chunk.position.axis.function.cd13"));
    assert_true(bp_is_function("beam"));
    assert_false(bp_is_function("eval"));
    bp_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_blueprint),
        cmocka_unit_test(test_file_syntax),
        cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_configure_axes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
