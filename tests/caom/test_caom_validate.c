/* test_caom_validate.c - lib/caom: the built-in CAOM-2.4 XSD (validation results and messages
 * as from the file, shared by several threads at once), and the model and chunk-WCS rules of
 * caom_validate.c: every shared CAOM document passes, broken variants fail naming the element.
 * SPDX-License-Identifier: Apache-2.0 */
#include "caom/caom.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "caom_test.h"

#define N_THREADS 4
#define N_ROUNDS  12

static char g_xsd[1100];


/* A document the reader takes but the XSD refuses: collection after observationID (line 3). */
static const char k_out_of_order[] =
    "<?xml version=\"1.0\"?>\n"
    "<caom2:Observation xmlns:caom2=\"http://www.opencadc.org/caom2/xml/v2.4\" "
    "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"caom2:SimpleObservation\" "
    "caom2:id=\"00000000-0000-0000-0000-000000000001\">\n"
    "  <caom2:observationID>x</caom2:observationID>\n"
    "  <caom2:collection>C</caom2:collection>\n"
    "  <caom2:algorithm><caom2:name>exposure</caom2:name></caom2:algorithm>\n"
    "</caom2:Observation>\n";

static void expect_msg(const struct err_info *ei, const char *want)
{
    if (!strstr(ei->msg, want))
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", ei->msg, want);
    assert_non_null(strstr(ei->msg, want));
}

/* ---- built-in schema ------------------------------------------------------------------------ */

/* The embedded XSD accepts the 2.4 sample as it is and everything the writer produces, and
 * refuses what the XSD file refuses, with the same line and element. */
static void test_builtin_schema(void **state)
{
    (void)state;
    struct caom_schema *builtin = NULL, *file = NULL;
    struct err_info ei = {0}, ei2 = {0};
    assert_int_equal(caom_schema_load_builtin(&builtin, &ei), ERR_OK);
    assert_int_equal(caom_schema_load(g_xsd, &file, &ei), ERR_OK);
    size_t len = 0;
    char *raw = caom_test_slurp("caom2tools/SampleDerived-CAOM-2.4.xml", &len);
    assert_int_equal(caom_schema_validate(builtin, raw, len, &ei), ERR_OK);
    free(raw);
    for (size_t i = 0; i < caom_test_ndocs; i++) {
        struct caom_observation *o = caom_test_load(caom_test_docs[i]);
        char *xml = NULL;
        assert_int_equal(caom_xml_write(o, &xml, &len, &ei), ERR_OK);
        enum err rc = caom_schema_validate(builtin, xml, len, &ei);
        if (rc)
            fprintf(stderr, "%s: %s\n", caom_test_docs[i], ei.msg);
        assert_int_equal(rc, ERR_OK);
        free(xml);
        caom_observation_free(o);
    }
    assert_int_equal(caom_schema_validate(builtin, k_out_of_order, strlen(k_out_of_order), &ei),
                     ERR_XML);
    assert_int_equal(caom_schema_validate(file, k_out_of_order, strlen(k_out_of_order), &ei2),
                     ERR_XML);
    assert_string_equal(ei.msg, ei2.msg);
    /* libxml2's message names the element; ours puts the line in front */
    expect_msg(&ei, "line 3: ");
    expect_msg(&ei, "observationID");
    /* a 2.3 document is not a 2.4 one */
    raw = caom_test_slurp("caom2tools/SampleSimple-CAOM-2.3.xml", &len);
    assert_int_equal(caom_schema_validate(builtin, raw, len, &ei), ERR_XML);
    expect_msg(&ei, "Observation");
    free(raw);
    /* not XML at all */
    assert_int_equal(caom_schema_validate(builtin, "<a", 2, &ei), ERR_XML);
    caom_schema_free(builtin);
    caom_schema_free(file);
}

struct worker {
    const struct caom_schema *schema; /* shared */
    const char *good;         /* a valid document */
    size_t good_len;          /* its length */
    int ok;                   /* rounds with both outcomes right */
};

static void *validate_worker(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < N_ROUNDS; i++) {
        struct err_info ei = {0};
        bool good = caom_schema_validate(w->schema, w->good, w->good_len, &ei) == ERR_OK;
        bool bad = caom_schema_validate(w->schema, k_out_of_order, strlen(k_out_of_order), &ei) ==
                       ERR_XML &&
                   strstr(ei.msg, "line 3: ") && strstr(ei.msg, "observationID");
        w->ok += good && bad;
    }
    return NULL;
}

/* One schema, validated against from several threads at once (also loads in parallel). */
static void test_builtin_schema_threads(void **state)
{
    (void)state;
    struct caom_schema *schema = NULL;
    struct err_info ei = {0};
    assert_int_equal(caom_schema_load_builtin(&schema, &ei), ERR_OK);
    size_t len = 0;
    char *raw = caom_test_slurp("caom2tools/SampleDerived-CAOM-2.4.xml", &len);
    pthread_t t[N_THREADS];
    struct worker w[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        w[i] = (struct worker){.schema = schema, .good = raw, .good_len = len};
        assert_int_equal(pthread_create(&t[i], NULL, validate_worker, &w[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].ok, N_ROUNDS);
    }
    free(raw);
    caom_schema_free(schema);
}

/* ---- model rules on the shared documents --------------------------------------------------- */

/* Every shared document passes the model rules. The chunk-WCS rules pass too, except where
 * CaomWCSValidator.validateAxes itself refuses the document: the LoTSS mosaic declares
 * naxis 4 but describes only axes 1-3 (no energy or polarization WCS for axis 4). */
static void test_shared_documents_pass(void **state)
{
    (void)state;
    static const struct {
        const char *doc;      /* shared document */
        const char *field;    /* the element validate_wcs names */
        const char *want;     /* message part */
    } wcs_refused[] = {
        {"caom2tools/lotss/P124+62/P124+62.xml", "plane[0].artifact[0].part[0].chunk[0].naxis",
         "invalid axes: missing axis 4 (naxis 4)"},
    };
    for (size_t i = 0; i < caom_test_ndocs; i++) {
        struct caom_observation *o = caom_test_load(caom_test_docs[i]);
        struct err_info ei = {0};
        enum err rc = caom_observation_validate(o, &ei);
        if (rc)
            fprintf(stderr, "%s: %s\n", caom_test_docs[i], ei.msg);
        assert_int_equal(rc, ERR_OK);
        const char *field = NULL, *want = NULL;
        for (size_t k = 0; k < ARRAY_LEN(wcs_refused); k++)
            if (strcmp(wcs_refused[k].doc, caom_test_docs[i]) == 0) {
                field = wcs_refused[k].field;
                want = wcs_refused[k].want;
            }
        rc = caom_observation_validate_wcs(o, &ei);
        if (rc != (want ? ERR_WCS : ERR_OK))
            fprintf(stderr, "%s: wcs: %s\n", caom_test_docs[i], ei.msg);
        if (want) {
            assert_int_equal(rc, ERR_WCS);
            assert_string_equal(ei.field, field);
            expect_msg(&ei, want);
        } else {
            assert_int_equal(rc, ERR_OK);
        }
        caom_observation_free(o);
    }
}

/* ---- broken variants ---------------------------------------------------------------------- */

static struct caom_observation *sample(void)
{
    struct caom_observation *o = caom_test_load("caom2tools/SampleDerived-CAOM-2.4.xml");
    assert_true(o->n_planes >= 1 && o->planes[0]->n_artifacts >= 1);
    assert_true(o->planes[0]->artifacts[0]->n_parts >= 1);
    return o;
}

/* @p o must fail with @p code, naming @p field and containing @p want; @p o is freed. */
static void expect_fail(struct caom_observation *o, enum err code, bool wcs, const char *field,
                        const char *want)
{
    struct err_info ei = {0};
    enum err rc = wcs ? caom_observation_validate_wcs(o, &ei) : caom_observation_validate(o, &ei);
    if (rc != code || strcmp(ei.field, field) != 0)
        fprintf(stderr, "got %s field \"%s\": %s (want %s)\n", err_str(rc), ei.field, ei.msg,
                field);
    assert_int_equal(rc, code);
    assert_string_equal(ei.field, field);
    expect_msg(&ei, want);
    caom_observation_free(o);
}

static void set(char **dst, const char *s)
{
    assert_int_equal(caom_str_set(dst, s), ERR_OK);
}

static void test_path_components(void **state)
{
    (void)state;
    struct caom_observation *o = sample();
    set(&o->collection, "TE ST");
    expect_fail(o, ERR_INVALID, false, "collection", "collection \"TE ST\": invalid character ' '");
    o = sample();
    set(&o->observation_id, "obs%20");
    expect_fail(o, ERR_INVALID, false, "observationID",
                "observationID \"obs%20\": invalid character '%'");
    o = sample();
    set(&o->observation_id, "");
    expect_fail(o, ERR_INVALID, false, "observationID", "observationID: is required");
    o = sample();
    set(&o->planes[0]->product_id, "a/b");
    expect_fail(o, ERR_INVALID, false, "plane[0].productID",
                "plane[0] productID \"a/b\": invalid character '/'");
    o = sample();
    set(&o->planes[0]->product_id, "a\\b");
    expect_fail(o, ERR_INVALID, false, "plane[0].productID", "invalid character '\\'");
}

static void test_duplicates(void **state)
{
    (void)state;
    /* a second plane with the productID of the first */
    struct caom_observation *o = sample();
    struct caom_plane *p = caom_plane_new(o->planes[0]->product_id);
    assert_non_null(p);
    assert_int_equal(caom_observation_add_plane(o, p), ERR_OK);
    size_t last = o->n_planes - 1;
    char field[64], want[128];
    snprintf(field, sizeof field, "plane[%zu].productID", last);
    snprintf(want, sizeof want,
             "plane[%zu] productID \"%s\": Plane.productID is not unique (also plane[0])", last,
             o->planes[0]->product_id);
    expect_fail(o, ERR_INVALID, false, field, want);
    /* a second artifact with the URI of the first */
    o = sample();
    struct caom_plane *p0 = o->planes[0];
    struct caom_artifact *a =
        caom_artifact_new(p0->artifacts[0]->uri, "science", CAOM_RELEASE_DATA);
    assert_non_null(a);
    assert_int_equal(caom_plane_add_artifact(p0, a), ERR_OK);
    snprintf(field, sizeof field, "plane[0].artifact[%zu].uri", p0->n_artifacts - 1);
    expect_fail(o, ERR_INVALID, false, field,
                "Artifact.uri is not unique (also plane[0].artifact[0])");
    /* a second part with the name of the first */
    o = sample();
    struct caom_artifact *a0 = o->planes[0]->artifacts[0];
    struct caom_part *pt = caom_part_new(a0->parts[0]->name);
    assert_non_null(pt);
    assert_int_equal(caom_artifact_add_part(a0, pt), ERR_OK);
    snprintf(field, sizeof field, "plane[0].artifact[0].part[%zu].name", a0->n_parts - 1);
    expect_fail(o, ERR_INVALID, false, field,
                "Part.name is not unique (also plane[0].artifact[0].part[0])");
}

static void test_uris(void **state)
{
    (void)state;
    static const struct {
        const char *uri;      /* artifact URI */
        const char *want;     /* message part */
    } bad[] = {
        {"foo/bar.fits", "not an absolute URI"},
        {"ad:", "not an absolute URI"},
        {"1ad:x", "not an absolute URI"},
        {"ad:foo bar.fits", "invalid character 0x20 in URI"},
        {"ad:foo{1}.fits", "invalid character '{' in URI"},
        {"ad:foo%2.fits", "malformed %-escape"},
        {"", "is required"},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        struct caom_observation *o = sample();
        set(&o->planes[0]->artifacts[0]->uri, bad[i].uri);
        expect_fail(o, ERR_INVALID, false, "plane[0].artifact[0].uri", bad[i].want);
    }
    struct caom_observation *o = sample();
    set(&o->planes[0]->artifacts[0]->uri, "cadc:TEST/a%20b.fits#frag");
    struct err_info ei = {0};
    assert_int_equal(caom_observation_validate(o, &ei), ERR_OK);
    caom_observation_free(o);
    /* contentChecksum is <algorithm>:<hex> */
    o = sample();
    set(&o->planes[0]->artifacts[0]->content_checksum, "md5:xyz");
    expect_fail(o, ERR_INVALID, false, "plane[0].artifact[0].contentChecksum",
                "\"md5:xyz\": expected <algorithm>:<hex value>");
    /* members are ObservationURIs, provenance inputs PlaneURIs */
    o = sample();
    assert_true(o->members.n > 0);
    set(&o->members.v[0], "caom:TEST/a/b");
    expect_fail(o, ERR_INVALID, false, "members[0]", "expected caom:{collection}/{observationID}");
    o = sample();
    assert_non_null(o->planes[0]->provenance);
    set(&o->planes[0]->provenance->inputs.v[0], "caom:foo/b r/plane1");
    expect_fail(o, ERR_INVALID, false, "plane[0].provenance.inputs[0]", "invalid character ' '");
    o = sample();
    o->kind = CAOM_OBS_SIMPLE;
    set(&o->algorithm_name, "exposure");
    expect_fail(o, ERR_INVALID, false, "members", "only a DerivedObservation has members");
}

static void test_algorithm_keywords_levels(void **state)
{
    (void)state;
    struct caom_observation *o = sample();
    set(&o->algorithm_name, "exposure");
    expect_fail(o, ERR_INVALID, false, "algorithm.name", "cannot set DerivedObservation.algorithm");
    o = sample();
    o->kind = CAOM_OBS_SIMPLE;
    caom_strlist_clear(&o->members);
    expect_fail(o, ERR_INVALID, false, "algorithm.name", "algorithm must be \"exposure\"");
    o = sample();
    assert_int_equal(caom_strlist_add(&o->telescope->keywords, "a|b"), ERR_OK);
    expect_fail(o, ERR_INVALID, false, "telescope.keywords",
                "telescope.keywords \"a|b\": may not contain pipe (|)");
    o = sample();
    assert_int_equal(caom_strlist_add(&o->planes[0]->provenance->keywords, "x|"), ERR_OK);
    expect_fail(o, ERR_INVALID, false, "plane[0].provenance.keywords", "may not contain pipe");
    o = sample();
    o->planes[0]->calibration_level = caom_i(5);
    expect_fail(o, ERR_INVALID, false, "plane[0].calibrationLevel", "5 is not one of -1..4");
    o = sample();
    o->planes[0]->calibration_level = caom_i(-1);
    struct err_info ei = {0};
    assert_int_equal(caom_observation_validate(o, &ei), ERR_OK);
    caom_observation_free(o);
    o = sample();
    o->planes[0]->artifacts[0]->release_type = CAOM_RELEASE_UNSET;
    expect_fail(o, ERR_INVALID, false, "plane[0].artifact[0].releaseType", "is required");
}

static void test_intervals(void **state)
{
    (void)state;
    struct caom_observation *o = sample();
    struct caom_sampled_interval *b = o->planes[0]->energy->bounds;
    assert_non_null(b);
    double t = b->lower;
    b->lower = b->upper;
    b->upper = t;
    expect_fail(o, ERR_INVALID, false, "plane[0].energy.bounds",
                "invalid interval (upper < lower)");
    o = sample();
    b = o->planes[0]->time->bounds;
    assert_true(b->n_samples >= 2);
    b->samples[1].lower = b->samples[0].upper; /* touching counts as overlapping */
    expect_fail(o, ERR_INVALID, false, "plane[0].time.bounds.samples[1]",
                "sample overlaps previous sample");
    o = sample();
    b = o->planes[0]->time->bounds;
    b->samples[0].lower = b->lower - 1.0;
    expect_fail(o, ERR_INVALID, false, "plane[0].time.bounds.samples[0]",
                "sample extends below lower bound");
    o = sample();
    b = o->planes[0]->custom->bounds;
    b->samples[b->n_samples - 1].upper = b->upper + 1.0;
    expect_fail(o, ERR_INVALID, false, "plane[0].custom.bounds.samples[1]",
                "sample extends above upper bound");
    o = sample();
    b = o->planes[0]->energy->bounds;
    b->n_samples = 0; /* the samples stay owned by the array; free() ignores the count */
    expect_fail(o, ERR_INVALID, false, "plane[0].energy.bounds", "samples cannot be empty");
    o = sample();
    assert_non_null(o->planes[0]->time->resolution_bounds);
    o->planes[0]->time->resolution_bounds->lower = 5;
    o->planes[0]->time->resolution_bounds->upper = 4;
    expect_fail(o, ERR_INVALID, false, "plane[0].time.resolutionBounds",
                "invalid interval (upper < lower): 5.0,4.0");
}

static void test_shapes(void **state)
{
    (void)state;
    struct caom_observation *o = sample();
    struct caom_shape *s = o->planes[0]->position->bounds;
    assert_int_equal(s->kind, CAOM_SHAPE_POLYGON);
    s->polygon.n_points = 2;
    expect_fail(o, ERR_INVALID, false, "plane[0].position.bounds",
                "polygon has 2 points: minimum 3");
    /* reversed points wind clockwise on the sky */
    o = sample();
    s = o->planes[0]->position->bounds;
    struct caom_point *pts = s->polygon.points;
    for (size_t i = 0, j = s->polygon.n_points - 1; i < j; i++, j--) {
        struct caom_point t = pts[i];
        pts[i] = pts[j];
        pts[j] = t;
    }
    expect_fail(o, ERR_INVALID, false, "plane[0].position.bounds",
                "polygon too large or has clockwise winding direction");
    o = sample();
    s = o->planes[0]->position->bounds;
    s->polygon.samples[0].type = CAOM_SEG_LINE;
    expect_fail(o, ERR_INVALID, false, "plane[0].position.bounds.samples",
                "first vertex must be MOVE");
    o = sample();
    s = o->planes[0]->position->bounds;
    s->polygon.samples[s->polygon.n_samples - 1].type = CAOM_SEG_LINE;
    expect_fail(o, ERR_INVALID, false, "plane[0].position.bounds.samples",
                "last vertex must be CLOSE");
    o = sample();
    s = o->planes[0]->position->bounds;
    s->polygon.samples[1].type = CAOM_SEG_MOVE;
    expect_fail(o, ERR_INVALID, false, "plane[0].position.bounds.samples",
                "vertex 1: found MOVE when loop already open");
    o = sample();
    s = o->planes[0]->position->bounds;
    caom_shape_free(s);
    s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->kind = CAOM_SHAPE_CIRCLE;
    s->circle.center = (struct caom_point){10.0, 20.0};
    s->circle.radius = 0.0;
    o->planes[0]->position->bounds = s;
    expect_fail(o, ERR_INVALID, false, "plane[0].position.bounds.radius", "0: must be > 0.0");
}

/* ---- chunk WCS ---------------------------------------------------------------------------- */

static struct caom_chunk *chunk0(struct caom_observation *o)
{
    struct caom_part *p = o->planes[0]->artifacts[0]->parts[0];
    assert_true(p->n_chunks >= 1);
    return p->chunks[0];
}

#define C0 "plane[0].artifact[0].part[0].chunk[0]"

static void test_wcs_axes(void **state)
{
    (void)state;
    struct caom_observation *o = sample();
    chunk0(o)->position_axis2.set = false;
    expect_fail(o, ERR_WCS, true, C0 ".positionAxis2", "positionAxis1 or positionAxis2 is null");
    o = sample();
    chunk0(o)->energy_axis = caom_i(1);
    expect_fail(o, ERR_WCS, true, C0 ".energyAxis",
                "duplicate axis found: (1) positionAxis1 & energyAxis");
    o = sample();
    caom_temporal_wcs_free(chunk0(o)->time);
    chunk0(o)->time = NULL;
    expect_fail(o, ERR_WCS, true, C0 ".timeAxis", "timeAxis found (4) but metadata not found");
    o = sample();
    chunk0(o)->naxis = caom_i(6); /* observableAxis 6 now counts, so 6 is taken: fine */
    struct err_info ei = {0};
    assert_int_equal(caom_observation_validate_wcs(o, &ei), ERR_OK);
    chunk0(o)->naxis = caom_i(8);
    expect_fail(o, ERR_WCS, true, C0 ".naxis", "missing axis 8 (naxis 8)");
    o = sample();
    chunk0(o)->polarization_axis = caom_i(0);
    chunk0(o)->naxis = caom_i(4);
    expect_fail(o, ERR_WCS, true, C0 ".polarizationAxis", "axis definition (0) not allowed");
}

static void test_wcs_values(void **state)
{
    (void)state;
    struct caom_observation *o = sample();
    struct caom_polarization_wcs *pw = chunk0(o)->polarization;
    assert_non_null(pw);
    struct caom_coord_axis1d *ax = &pw->axis;
    if (ax->range) {
        ax->range->end.val = 11.0;
    } else {
        assert_non_null(ax->function);
        ax->function->ref_coord.val = 11.0;
    }
    expect_fail(o, ERR_WCS, true, C0 ".polarization.axis.range", "11 is not a polarization code");
    o = sample();
    struct caom_temporal_wcs *tw = chunk0(o)->time;
    assert_non_null(tw);
    set(&tw->axis.axis.cunit, "s");
    expect_fail(o, ERR_WCS, true, C0 ".time.axis.axis.cunit", "unexpected CUNIT: s (expected d)");
    o = sample();
    tw = chunk0(o)->time;
    set(&tw->timesys, "GPS");
    expect_fail(o, ERR_WCS, true, C0 ".time.axis.axis.ctype", "unexpected TIMESYS, CTYPE: GPS,");
}

int main(void)
{
    int setup = caom_test_setup();
    if (setup)
        return setup;
    snprintf(g_xsd, sizeof g_xsd, "%s/reference/caom2/CAOM-2.4.xsd", caom_test_shared());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_schema),
        cmocka_unit_test(test_builtin_schema_threads),
        cmocka_unit_test(test_shared_documents_pass),
        cmocka_unit_test(test_path_components),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_uris),
        cmocka_unit_test(test_algorithm_keywords_levels),
        cmocka_unit_test(test_intervals),
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_wcs_axes),
        cmocka_unit_test(test_wcs_values),
    };
    return cmocka_run_group_tests_name("lib.caom.caom_validate", tests, NULL, NULL);
}
