/* test_caom_compute.c - plane computed metadata against the values CADC's server computed
 * (caom2-compute) in the POSSUM expected documents: the chunks come from the documents'
 * chunk WCS, the plane metadata is dropped, recomputed and compared.
 * Footprints are checked with the built-in projections and, when lib/wcs is built, with
 * wcslib through the pix2sky hook.
 * SPDX-License-Identifier: Apache-2.0 */
#include "caom/caom.h"
#ifdef HAVE_OBSFLOW_WCS
#include "wcs/wcs.h"
#endif

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "caom_test.h"

static const char *const k_possum[] = {
    "possum2caom2/casda/PSM_pilot1_1368MHz_18asec_2031-5249_11073_i_v1.expected.xml",
    "possum2caom2/possum/PSM_pilot1_944MHz_18asec_2226-5552_11268_p3d_v1_coeff0.expected.xml",
};

static void near_rel(double got, double want, double rel, const char *what)
{
    double tol = rel * fmax(fabs(want), 1e-300);
    if (fabs(got - want) > tol) {
        fprintf(stderr, "%s: got %.17g want %.17g\n", what, got, want);
        fail();
    }
}

static double ang_diff(double a, double b)
{
    double d = fmod(fabs(a - b), 360.0);
    return d > 180.0 ? 360.0 - d : d;
}

static void near_deg(double got, double want, const char *what)
{
    if (ang_diff(got, want) > 1e-6) {
        fprintf(stderr, "%s: got %.15f want %.15f\n", what, got, want);
        fail();
    }
}

static void check_position(const struct caom_position *got, const struct caom_position *want)
{
    assert_non_null(got);
    assert_non_null(got->bounds);
    assert_int_equal(got->bounds->kind, CAOM_SHAPE_POLYGON);
    const struct caom_polygon *g = &got->bounds->polygon, *w = &want->bounds->polygon;
    assert_int_equal(g->n_points, w->n_points);
    for (size_t i = 0; i < w->n_points; i++) {
        near_deg(g->points[i].cval1, w->points[i].cval1, "point cval1");
        near_deg(g->points[i].cval2, w->points[i].cval2, "point cval2");
    }
    assert_int_equal(g->n_samples, w->n_samples);
    for (size_t i = 0; i < w->n_samples; i++) {
        assert_int_equal(g->samples[i].type, w->samples[i].type);
        if (w->samples[i].type == CAOM_SEG_CLOSE)
            continue;
        near_deg(g->samples[i].cval1, w->samples[i].cval1, "sample cval1");
        near_deg(g->samples[i].cval2, w->samples[i].cval2, "sample cval2");
    }
    assert_non_null(got->dimension);
    assert_int_equal(got->dimension->naxis1, want->dimension->naxis1);
    assert_int_equal(got->dimension->naxis2, want->dimension->naxis2);
    assert_true(got->sample_size.set);
    near_rel(got->sample_size.v, want->sample_size.v, 1e-9, "position sampleSize");
    assert_true(got->resolution.set);
    near_rel(got->resolution.v, want->resolution.v, 1e-12, "position resolution");
}

static void check_energy(const struct caom_energy *got, const struct caom_energy *want)
{
    if (!want || !want->bounds) {
        assert_true(!got || !got->bounds);
        return;
    }
    assert_non_null(got);
    assert_non_null(got->bounds);
    near_rel(got->bounds->lower, want->bounds->lower, 1e-9, "energy lower");
    near_rel(got->bounds->upper, want->bounds->upper, 1e-9, "energy upper");
    assert_int_equal(got->bounds->n_samples, want->bounds->n_samples);
    for (size_t i = 0; i < want->bounds->n_samples; i++) {
        near_rel(got->bounds->samples[i].lower, want->bounds->samples[i].lower, 1e-9, "sample lower");
        near_rel(got->bounds->samples[i].upper, want->bounds->samples[i].upper, 1e-9, "sample upper");
    }
    assert_true(got->dimension.set);
    assert_int_equal(got->dimension.v, want->dimension.v);
    assert_true(got->sample_size.set);
    near_rel(got->sample_size.v, want->sample_size.v, 1e-9, "energy sampleSize");
    assert_int_equal(got->n_bands, want->n_bands);
    for (size_t i = 0; i < want->n_bands; i++)
        assert_int_equal(got->bands[i], want->bands[i]);
    assert_int_equal(got->restwav.set, want->restwav.set);
    assert_int_equal(got->resolving_power.set, want->resolving_power.set);
}

static void check_polarization(const struct caom_polarization *got,
                               const struct caom_polarization *want)
{
    if (!want || want->n_states == 0) {
        assert_true(!got || got->n_states == 0);
        return;
    }
    assert_non_null(got);
    assert_int_equal(got->n_states, want->n_states);
    for (size_t i = 0; i < want->n_states; i++)
        assert_int_equal(got->states[i], want->states[i]);
    assert_int_equal(got->dimension.v, want->dimension.v);
}

static void run_possum(const struct caom_compute_opts *opts)
{
    for (size_t k = 0; k < ARRAY_LEN(k_possum); k++) {
        struct caom_observation *want = caom_test_load(k_possum[k]);
        struct caom_observation *o = caom_observation_clone(want);
        assert_non_null(o);
        struct caom_plane *p = o->planes[0];
        /* drop what the server computed, keep only the chunk WCS */
        caom_position_free(p->position);
        caom_energy_free(p->energy);
        caom_time_free(p->time);
        caom_polarization_free(p->polarization);
        p->position = NULL;
        p->energy = NULL;
        p->time = NULL;
        p->polarization = NULL;
        struct err_info ei = {0};
        enum err rc = caom_plane_compute(p, opts, &ei);
        if (rc)
            fprintf(stderr, "%s: %s\n", k_possum[k], ei.msg);
        assert_int_equal(rc, ERR_OK);
        const struct caom_plane *w = want->planes[0];
        check_position(p->position, w->position);
        check_energy(p->energy, w->energy);
        check_polarization(p->polarization, w->polarization);
        assert_true(p->time == NULL); /* no time chunk: nothing to compute */
        /* what we computed writes as valid 2.4 */
        char *xml = NULL;
        size_t len = 0;
        char xsd[1100];
        snprintf(xsd, sizeof xsd, "%s/reference/caom2/CAOM-2.4.xsd", caom_test_shared());
        assert_int_equal(caom_xml_write(o, &xml, &len, &ei), ERR_OK);
        rc = caom_xml_validate(xml, len, xsd, &ei);
        if (rc)
            fprintf(stderr, "%s\n", ei.msg);
        assert_int_equal(rc, ERR_OK);
        free(xml);
        caom_observation_free(o);
        caom_observation_free(want);
    }
}

static void test_possum(void **state)
{
    (void)state;
    run_possum(NULL);
}

#ifdef HAVE_OBSFLOW_WCS
static void cpy(char *dst, const char *src)
{
    snprintf(dst, WCSX_STR_MAX, "%s", src ? src : "");
}

static void opt(struct wcsx_opt *d, struct caom_optd s)
{
    d->set = s.set;
    d->v = s.v;
}

/* Energy bounds of single-chunk function planes equal wcslib's spectral conversion to WAVE
 * (FREQ, VRAD from the CGPS cubes ...) to 1e-9 relative. */
static void test_energy_matches_wcslib(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "vlass2caom2/VLASS1.1.T01t01.J000228-363000.expected.xml",
        "wallaby2caom2/dr2/SoFiA_J124915+043926_cube.expected.xml",
        "wallaby2caom2/dr1/WALLABY_J103250-301601_Hydra_TR1_spec.expected.xml",
        "cgps2caom2/MC2_FCRAO/MC2_FCRAO.xml",
        "caom2tools/cgps/myOBS/cgps.xml",
        "caom2tools/lotss/P124+62/P124+62.xml",
        "possum2caom2/casda/PSM_pilot1_1368MHz_18asec_2031-5249_11073_i_v1.expected.xml",
    };
    size_t checked = 0;
    for (size_t d = 0; d < ARRAY_LEN(docs); d++) {
        struct caom_observation *o = caom_test_load(docs[d]);
        for (size_t i = 0; i < o->n_planes; i++) {
            struct caom_plane *p = o->planes[i];
            const struct caom_spectral_wcs *e = NULL;
            size_t n = 0;
            for (size_t a = 0; a < p->n_artifacts; a++)
                for (size_t k = 0; k < p->artifacts[a]->n_parts; k++)
                    for (size_t c = 0; c < p->artifacts[a]->parts[k]->n_chunks; c++)
                        if (p->artifacts[a]->parts[k]->chunks[c]->energy) {
                            e = p->artifacts[a]->parts[k]->chunks[c]->energy;
                            n++;
                        }
            if (!e || !e->axis.function)
                continue;
            struct wcsx_spectral s;
            memset(&s, 0, sizeof s);
            cpy(s.axis.ctype, e->axis.axis.ctype);
            cpy(s.axis.cunit, e->axis.axis.cunit);
            s.axis.has_function = true;
            s.axis.naxis = (long)e->axis.function->naxis;
            s.axis.delta = e->axis.function->delta;
            s.axis.crpix = e->axis.function->ref_coord.pix;
            s.axis.crval = e->axis.function->ref_coord.val;
            cpy(s.specsys, e->specsys);
            opt(&s.restfrq, e->restfrq);
            opt(&s.restwav, e->restwav);
            double lo = 0, hi = 0;
            struct err_info ei = {0};
            enum err rc = wcsx_spectral_bounds_m(&s, &lo, &hi, &ei);
            if (rc) {
                fprintf(stderr, "%s: wcslib: %s\n", docs[d], ei.msg);
                continue;
            }
            rc = caom_plane_compute(p, NULL, &ei);
            if (rc)
                fprintf(stderr, "%s: %s\n", docs[d], ei.msg);
            assert_int_equal(rc, ERR_OK);
            if (n != 1)
                continue;
            assert_non_null(p->energy);
            near_rel(p->energy->bounds->lower, fmin(lo, hi), 1e-9, docs[d]);
            near_rel(p->energy->bounds->upper, fmax(lo, hi), 1e-9, docs[d]);
            checked++;
        }
        caom_observation_free(o);
    }
    fprintf(stderr, "energy planes checked against wcslib: %zu\n", checked);
    assert_true(checked >= 4);
}
#endif

/* Hand-built chunks: energy merging, bands, time from MJD ranges and functions, TAI,
 * polarization from a function, several position chunks under one hull. */
static struct caom_chunk *func_chunk(double ra, double dec, long n, double scale)
{
    struct caom_chunk *c = caom_chunk_new();
    c->position = calloc(1, sizeof(*c->position));
    struct caom_coord_axis2d *a = &c->position->axis;
    assert_int_equal(caom_str_set(&a->axis1.ctype, "RA---TAN"), ERR_OK);
    assert_int_equal(caom_str_set(&a->axis2.ctype, "DEC--TAN"), ERR_OK);
    a->function = calloc(1, sizeof(*a->function));
    a->function->dimension.naxis1 = n;
    a->function->dimension.naxis2 = n;
    a->function->ref_coord.coord1.pix = (double)n / 2.0 + 0.5;
    a->function->ref_coord.coord1.val = ra;
    a->function->ref_coord.coord2.pix = (double)n / 2.0 + 0.5;
    a->function->ref_coord.coord2.val = dec;
    a->function->cd11 = caom_d(-scale);
    a->function->cd12 = caom_d(0);
    a->function->cd21 = caom_d(0);
    a->function->cd22 = caom_d(scale);
    return c;
}

static struct caom_spectral_wcs *wave_range(double lo_nm, double hi_nm)
{
    struct caom_spectral_wcs *e = calloc(1, sizeof(*e));
    assert_int_equal(caom_str_set(&e->axis.axis.ctype, "WAVE"), ERR_OK);
    assert_int_equal(caom_str_set(&e->axis.axis.cunit, "nm"), ERR_OK);
    assert_int_equal(caom_str_set(&e->specsys, "TOPOCENT"), ERR_OK);
    e->axis.range = calloc(1, sizeof(*e->axis.range));
    e->axis.range->start.pix = 0.5;
    e->axis.range->start.val = lo_nm;
    e->axis.range->end.pix = 1.5;
    e->axis.range->end.val = hi_nm;
    return e;
}

static void test_hand_built(void **state)
{
    (void)state;
    struct caom_plane *p = caom_plane_new("p");
    struct caom_artifact *a = caom_artifact_new("ad:X/a.fits", "science", CAOM_RELEASE_DATA);
    struct caom_artifact *cal = caom_artifact_new("ad:X/c.fits", "calibration", CAOM_RELEASE_DATA);
    assert_int_equal(caom_plane_add_artifact(p, a), ERR_OK);
    assert_int_equal(caom_plane_add_artifact(p, cal), ERR_OK);
    const char *names[] = {"0", "1", "2"};
    double ras[] = {10.0, 10.05, 10.5};
    for (int i = 0; i < 3; i++) {
        struct caom_part *pt = caom_part_new(names[i]);
        assert_int_equal(caom_artifact_add_part(a, pt), ERR_OK);
        struct caom_chunk *c = func_chunk(ras[i], 20.0, 100, 0.001);
        c->position->resolution = caom_d(1.0 + i);
        c->energy = wave_range(500.0 + 10.0 * i, 600.0 + 10.0 * i);
        if (i == 2) {
            caom_spectral_wcs_free(c->energy);
            c->energy = wave_range(2000.0, 2200.0); /* disjoint: a second sample */
        }
        c->time = calloc(1, sizeof(*c->time));
        assert_int_equal(caom_str_set(&c->time->axis.axis.ctype, "TIME"), ERR_OK);
        assert_int_equal(caom_str_set(&c->time->axis.axis.cunit, "d"), ERR_OK);
        c->time->axis.function = calloc(1, sizeof(*c->time->axis.function));
        c->time->axis.function->naxis = 1;
        c->time->axis.function->delta = 100.0 / 86400.0;
        c->time->axis.function->ref_coord.pix = 0.5;
        c->time->axis.function->ref_coord.val = 59000.0 + i;
        c->time->exposure = caom_d(100.0);
        c->time->resolution = caom_d(100.0 / 86400.0);
        c->polarization = calloc(1, sizeof(*c->polarization));
        assert_int_equal(caom_str_set(&c->polarization->axis.axis.ctype, "STOKES"), ERR_OK);
        c->polarization->axis.function = calloc(1, sizeof(*c->polarization->axis.function));
        c->polarization->axis.function->naxis = 2;
        c->polarization->axis.function->delta = i == 0 ? -1.0 : 1.0;
        c->polarization->axis.function->ref_coord.pix = 1.0;
        c->polarization->axis.function->ref_coord.val = i == 0 ? -1.0 : 1.0;
        assert_int_equal(caom_part_add_chunk(pt, c), ERR_OK);
    }
    /* a calibration chunk that must be ignored because science chunks exist */
    struct caom_part *cp = caom_part_new("0");
    assert_int_equal(caom_artifact_add_part(cal, cp), ERR_OK);
    struct caom_chunk *cc = func_chunk(200.0, -30.0, 100, 0.001);
    assert_int_equal(caom_part_add_chunk(cp, cc), ERR_OK);

    struct err_info ei = {0};
    enum err rc = caom_plane_compute(p, NULL, &ei);
    if (rc)
        fprintf(stderr, "%s\n", ei.msg);
    assert_int_equal(rc, ERR_OK);
    /* position: 3 loops of 4 vertices + CLOSE; the hull spans RA ~9.95..10.55 */
    assert_non_null(p->position);
    assert_int_equal(p->position->bounds->polygon.n_samples, 15);
    assert_true(p->position->bounds->polygon.n_points >= 4);
    double minra = 400, maxra = -1;
    for (size_t i = 0; i < p->position->bounds->polygon.n_points; i++) {
        minra = fmin(minra, p->position->bounds->polygon.points[i].cval1);
        maxra = fmax(maxra, p->position->bounds->polygon.points[i].cval1);
    }
    assert_true(minra > 9.9 && minra < 10.0);
    assert_true(maxra > 10.5 && maxra < 10.6);
    near_rel(p->position->sample_size.v, 3.6, 1e-9, "sampleSize");
    near_rel(p->position->resolution.v, 2.0, 1e-12, "resolution");
    /* energy: 500-600 and 510-610 and 520-620 merge, 2000-2200 stays apart */
    assert_non_null(p->energy);
    assert_int_equal(p->energy->bounds->n_samples, 2);
    near_rel(p->energy->bounds->lower, 500e-9, 1e-12, "energy lower");
    near_rel(p->energy->bounds->upper, 2200e-9, 1e-12, "energy upper");
    near_rel(p->energy->bounds->samples[0].upper, 610e-9, 1e-12, "merged upper");
    assert_int_equal(p->energy->dimension.v, 3);
    assert_int_equal(p->energy->n_bands, 2);
    assert_int_equal(p->energy->bands[0], CAOM_BAND_INFRARED);
    assert_int_equal(p->energy->bands[1], CAOM_BAND_OPTICAL);
    /* time: three disjoint 100 s exposures a day apart */
    assert_non_null(p->time);
    assert_int_equal(p->time->bounds->n_samples, 3);
    near_rel(p->time->bounds->lower, 59000.0, 1e-15, "time lower");
    near_rel(p->time->bounds->upper, 59002.0 + 100.0 / 86400.0, 1e-15, "time upper");
    near_rel(p->time->exposure.v, 100.0, 1e-12, "exposure");
    near_rel(p->time->sample_size.v, 100.0 / 86400.0, 1e-6, "time sampleSize"); /* MJD arithmetic */
    /* polarization: RR LL from the first chunk, I Q from the others, sorted by code */
    assert_non_null(p->polarization);
    assert_int_equal(p->polarization->n_states, 4);
    assert_int_equal(p->polarization->states[0], CAOM_POL_LL);
    assert_int_equal(p->polarization->states[1], CAOM_POL_RR);
    assert_int_equal(p->polarization->states[2], CAOM_POL_I);
    assert_int_equal(p->polarization->states[3], CAOM_POL_Q);
    assert_int_equal(p->polarization->dimension.v, 6);

    /* TAI time is converted to UTC (37 s in 2020) */
    struct caom_chunk *c0 = a->parts[0]->chunks[0];
    assert_int_equal(caom_str_set(&c0->time->timesys, "TAI"), ERR_OK);
    assert_int_equal(caom_plane_compute(p, NULL, &ei), ERR_OK);
    near_rel(p->time->bounds->lower, 59000.0 - 37.0 / 86400.0, 1e-15, "tai lower");

    /* a bad WCS is an error naming the artifact, never a crash */
    free(c0->position->axis.axis1.ctype);
    c0->position->axis.axis1.ctype = NULL;
    assert_int_equal(caom_str_set(&c0->position->axis.axis1.ctype, "RA---XYZ"), ERR_OK);
    assert_int_equal(caom_plane_compute(p, NULL, &ei), ERR_WCS);
    assert_non_null(strstr(ei.msg, "ad:X/a.fits"));
    caom_plane_free(p);
}

int main(void)
{
    int setup = caom_test_setup();
    if (setup)
        return setup;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_possum),
#ifdef HAVE_OBSFLOW_WCS
        cmocka_unit_test(test_energy_matches_wcslib),
#endif
        cmocka_unit_test(test_hand_built),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
