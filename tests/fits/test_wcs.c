/* test_wcs.c - unit tests of lib/wcs: CTYPE classification, CD / CDELT*PC / CROTA2, spectral
 * translation and SI units, the image time chunk, footprints (against wcslib-independent
 * TAN arithmetic) and ISO dates to MJD.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "wcs/wcs.h"

/* a keyword table as accessor */
struct kv {
    const char *k;
    const char *v;
};

static const char *kv_str(const void *ctx, const char *key)
{
    for (const struct kv *p = ctx; p->k; p++) {
        if (strcmp(p->k, key) == 0) {
            return p->v;
        }
    }
    return NULL;
}

static bool kv_dbl(const void *ctx, const char *key, double *out)
{
    const char *v = kv_str(ctx, key);
    return v && str_to_double(v, out) == ERR_OK;
}

static struct wcsx_keys keys_of(const struct kv *t)
{
    struct wcsx_keys k = {t, kv_dbl, kv_str};
    return k;
}

static void test_classify(void **state)
{
    (void)state;
    assert_int_equal(wcsx_ctype_kind("RA---TAN"), WCSX_KIND_LON);
    assert_int_equal(wcsx_ctype_kind("GLAT-CAR"), WCSX_KIND_LAT);
    assert_int_equal(wcsx_ctype_kind("FREQ"), WCSX_KIND_ENERGY);
    assert_int_equal(wcsx_ctype_kind("VELO-LSR"), WCSX_KIND_ENERGY);
    assert_int_equal(wcsx_ctype_kind("WAVE-F2W"), WCSX_KIND_ENERGY);
    assert_int_equal(wcsx_ctype_kind("UTC"), WCSX_KIND_TIME);
    assert_int_equal(wcsx_ctype_kind("STOKES"), WCSX_KIND_POLARIZATION);
    assert_int_equal(wcsx_ctype_kind("FLUX"), WCSX_KIND_OBSERVABLE);
    assert_int_equal(wcsx_ctype_kind("FDEP"), WCSX_KIND_CUSTOM);
    assert_int_equal(wcsx_ctype_kind("PIXEL"), WCSX_KIND_NONE);
    assert_int_equal(wcsx_ctype_kind(""), WCSX_KIND_NONE);
    const struct kv t[] = {{"NAXIS", "4"}, {"CTYPE1", "FREQ"}, {"CTYPE2", "DEC--SIN"},
                           {"CTYPE3", "STOKES"}, {"CTYPE4", "RA---SIN"}, {NULL, NULL}};
    struct wcsx_keys k = keys_of(t);
    struct wcsx_axes a;
    assert_int_equal(wcsx_classify(&k, &a, NULL), ERR_OK);
    assert_int_equal(a.pos1, 4);
    assert_int_equal(a.pos2, 2);
    assert_int_equal(a.energy, 1);
    assert_int_equal(a.polarization, 3);
    /* a longitude without latitude is an error naming the keyword */
    const struct kv bad[] = {{"NAXIS", "2"}, {"CTYPE1", "RA---TAN"}, {"CTYPE2", "PIXEL"},
                             {NULL, NULL}};
    k = keys_of(bad);
    struct err_info ei;
    assert_int_equal(wcsx_classify(&k, &a, &ei), ERR_WCS);
    assert_string_equal(ei.field, "CTYPE1");
}

static void test_cd_sources(void **state)
{
    (void)state;
    struct wcsx_chunk c;
    /* CD matrix wins */
    const struct kv cd[] = {{"NAXIS", "2"}, {"NAXIS1", "100"}, {"NAXIS2", "50"},
                            {"CTYPE1", "RA---TAN"}, {"CTYPE2", "DEC--TAN"},
                            {"CD1_1", "-1e-4"}, {"CD1_2", "2e-6"}, {"CD2_1", "3e-6"},
                            {"CD2_2", "1e-4"}, {"CDELT1", "5"}, {"CRPIX1", "50.5"},
                            {"CRVAL1", "10"}, {"CRPIX2", "25.5"}, {"CRVAL2", "20"},
                            {"RADESYS", "ICRS"}, {"EQUINOX", "3000"}, {NULL, NULL}};
    struct wcsx_keys k = keys_of(cd);
    assert_int_equal(wcsx_chunk_derive(&k, &c, NULL), ERR_OK);
    assert_true(c.has_position);
    assert_true(c.position.cd11 == -1e-4 && c.position.cd12 == 2e-6);
    assert_true(c.position.cd21 == 3e-6 && c.position.cd22 == 1e-4);
    assert_int_equal(c.position.naxis1, 100);
    assert_string_equal(c.position.cunit1, "deg"); /* celestial default */
    assert_string_equal(c.position.coordsys, "ICRS");
    assert_false(c.position.equinox.set); /* outside [1800, 2500] */
    /* CDELT * PC (POSSUM) */
    const struct kv pc[] = {{"NAXIS", "2"}, {"CTYPE1", "RA---HPX"}, {"CTYPE2", "DEC--HPX"},
                            {"CDELT1", "-9.710633743374E-04"}, {"CDELT2", "9.710633743374E-04"},
                            {"PC1_1", "7.071067811865E-01"}, {"PC1_2", "7.071067811865E-01"},
                            {"PC2_1", "-7.071067811865E-01"}, {"PC2_2", "7.071067811865E-01"},
                            {NULL, NULL}};
    k = keys_of(pc);
    assert_int_equal(wcsx_chunk_derive(&k, &c, NULL), ERR_OK);
    assert_true(fabs(c.position.cd11 - -0.00068664549695582) < 1e-15);
    assert_true(fabs(c.position.cd12 - -0.00068664549695582) < 1e-15);
    assert_true(fabs(c.position.cd21 - -0.00068664549695582) < 1e-15);
    assert_true(fabs(c.position.cd22 - 0.00068664549695582) < 1e-15);
    /* CROTA2 as the last fallback; no negative zero from CDELT*0 */
    const struct kv rot[] = {{"NAXIS", "2"}, {"CTYPE1", "RA---TAN"}, {"CTYPE2", "DEC--TAN"},
                             {"CDELT1", "-2"}, {"CDELT2", "2"}, {"CROTA2", "90"}, {NULL, NULL}};
    k = keys_of(rot);
    assert_int_equal(wcsx_chunk_derive(&k, &c, NULL), ERR_OK);
    assert_true(fabs(c.position.cd11) < 1e-12 && fabs(c.position.cd22) < 1e-12);
    assert_true(fabs(c.position.cd12 - -2.0) < 1e-12 && fabs(c.position.cd21 - -2.0) < 1e-12);
    const struct kv plain[] = {{"NAXIS", "2"}, {"CTYPE1", "RA---TAN"}, {"CTYPE2", "DEC--TAN"},
                               {"CDELT1", "-2"}, {"CDELT2", "2"}, {NULL, NULL}};
    k = keys_of(plain);
    assert_int_equal(wcsx_chunk_derive(&k, &c, NULL), ERR_OK);
    assert_false(signbit(c.position.cd12));
}

static void test_spectral(void **state)
{
    (void)state;
    char ct[WCSX_STR_MAX];
    char sys[WCSX_STR_MAX];
    wcsx_spectral_translate("VELO-LSR", 256 + 1, ct, sys);
    assert_string_equal(ct, "VRAD");
    assert_string_equal(sys, "LSRK");
    wcsx_spectral_translate("FREQ-LSR", 0, ct, sys);
    assert_string_equal(ct, "FREQ");
    assert_string_equal(sys, "LSRK");
    wcsx_spectral_translate("FREQ", 0, ct, sys);
    assert_string_equal(ct, "FREQ");
    assert_string_equal(sys, "");
    /* Angstrom becomes metres (wcslib's SI convention) */
    struct wcsx_chunk c;
    const struct kv t[] = {{"NAXIS", "1"}, {"NAXIS1", "4200"}, {"CTYPE1", "WAVE"},
                           {"CUNIT1", "Angstrom"}, {"CRVAL1", "4588"}, {"CDELT1", "0.036"},
                           {"CRPIX1", "2046"}, {"SPECSYS", "TOPOCENT"}, {"RESTFRQ", "0"},
                           {NULL, NULL}};
    struct wcsx_keys k = keys_of(t);
    assert_int_equal(wcsx_chunk_derive(&k, &c, NULL), ERR_OK);
    assert_true(c.has_energy);
    assert_string_equal(c.energy.axis.cunit, "m");
    assert_true(fabs(c.energy.axis.crval - 4.588e-7) < 1e-18);
    assert_true(fabs(c.energy.axis.delta - 3.6e-12) < 1e-22);
    assert_false(c.energy.restfrq.set); /* zero is "absent" */
    double lo, hi;
    assert_int_equal(wcsx_spectral_bounds_m(&c.energy, &lo, &hi, NULL), ERR_OK);
    assert_true(fabs(lo - (4.588e-7 + (0.5 - 2046) * 3.6e-12)) < 1e-15);
    assert_true(hi > lo);
    /* frequency to wavelength: 1.4 GHz is about 0.214 m */
    struct wcsx_spectral f;
    memset(&f, 0, sizeof f);
    str_copy(f.axis.ctype, sizeof f.axis.ctype, "FREQ");
    str_copy(f.axis.cunit, sizeof f.axis.cunit, "Hz");
    f.axis.naxis = 1;
    f.axis.crpix = 1;
    f.axis.crval = 1.4e9;
    f.axis.delta = 1e6;
    assert_int_equal(wcsx_spectral_bounds_m(&f, &lo, &hi, NULL), ERR_OK);
    assert_true(fabs(lo - 299792458.0 / (1.4e9 + 0.5e6)) < 1e-9);
}

static void test_image_time_and_dates(void **state)
{
    (void)state;
    double mjd;
    assert_int_equal(wcsx_iso_to_mjd("1858-11-17", &mjd), ERR_OK);
    assert_true(mjd == 0.0);
    assert_int_equal(wcsx_iso_to_mjd("2015-12-13T01:52:00.055", &mjd), ERR_OK);
    assert_true(fabs(mjd - 57369.07777841435) < 1e-9);
    assert_int_equal(wcsx_iso_to_mjd("2016/07/29", &mjd), ERR_OK);
    assert_int_equal(wcsx_iso_to_mjd("2000-01-01T00:00:00Z", &mjd), ERR_OK);
    assert_true(mjd == 51544.0);
    assert_int_equal(wcsx_iso_to_mjd("2000-13-01", &mjd), ERR_PARSE);
    assert_int_equal(wcsx_iso_to_mjd("yesterday", &mjd), ERR_PARSE);
    struct wcsx_temporal t;
    const struct kv img[] = {{"MJD-OBS", "57960.21141"}, {"EXPTIME", "60"}, {NULL, NULL}};
    struct wcsx_keys k = keys_of(img);
    assert_int_equal(wcsx_image_time(&k, &t, NULL), ERR_OK);
    assert_string_equal(t.axis.ctype, "TIME");
    assert_string_equal(t.axis.cunit, "d");
    assert_true(t.axis.crpix == 0.5 && t.axis.crval == 57960.21141);
    assert_true(fabs(t.axis.delta - 60.0 / 86400.0) < 1e-15);
    assert_true(t.exposure.v == 60.0 && t.axis.syser.v == 1e-7);
    const struct kv none[] = {{"EXPTIME", "60"}, {NULL, NULL}};
    k = keys_of(none);
    assert_int_equal(wcsx_image_time(&k, &t, NULL), ERR_NOT_FOUND);
    const struct kv bad[] = {{"DATE-OBS", "soon"}, {"EXPTIME", "1"}, {NULL, NULL}};
    k = keys_of(bad);
    assert_int_equal(wcsx_image_time(&k, &t, NULL), ERR_WCS);
}

/* TAN projection by hand: the footprint corners agree with wcslib */
static void test_footprint(void **state)
{
    (void)state;
    struct wcsx_position p;
    memset(&p, 0, sizeof p);
    str_copy(p.ctype1, sizeof p.ctype1, "RA---TAN");
    str_copy(p.ctype2, sizeof p.ctype2, "DEC--TAN");
    p.naxis1 = 200;
    p.naxis2 = 100;
    p.crpix1 = 100.5;
    p.crpix2 = 50.5;
    p.crval1 = 150.0;
    p.crval2 = 2.0;
    p.cd11 = -2.777777777778e-4;
    p.cd22 = 2.777777777778e-4;
    double c[8];
    assert_int_equal(wcsx_footprint(&p, c, NULL), ERR_OK);
    for (int i = 0; i < 4; i++) {
        double px = (i == 1 || i == 2) ? 200.5 : 0.5;
        double py = (i >= 2) ? 100.5 : 0.5;
        double x = p.cd11 * (px - p.crpix1) * M_PI / 180.0;
        double y = p.cd22 * (py - p.crpix2) * M_PI / 180.0;
        double d0 = p.crval2 * M_PI / 180.0;
        double den = cos(d0) - y * sin(d0);
        double ra = p.crval1 + atan2(x, den) * 180.0 / M_PI;
        double dec = atan2(sin(d0) + y * cos(d0), sqrt(x * x + den * den)) * 180.0 / M_PI;
        assert_true(fabs(c[2 * i] - ra) < 1e-9);
        assert_true(fabs(c[2 * i + 1] - dec) < 1e-9);
    }
    str_copy(p.ctype1, sizeof p.ctype1, "RA---XYZ");
    struct err_info ei;
    assert_int_equal(wcsx_footprint(&p, c, &ei), ERR_WCS);
    assert_non_null(strstr(ei.msg, "RA---XYZ"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_cd_sources),
        cmocka_unit_test(test_spectral),
        cmocka_unit_test(test_image_time_and_dates),
        cmocka_unit_test(test_footprint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
