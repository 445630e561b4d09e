/* wcs.c - chunk WCS derivation from FITS keywords, with wcslib for the AIPS spectral
 * translation, sky projection of pixel corners and spectral conversion to wavelength.
 * SPDX-License-Identifier: Apache-2.0 */
#include "wcs/wcs.h"

#include "core/isodate.h"
#include "core/str.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wcslib.h>

/* ---- classification ----------------------------------------------------------------------- */

static const char *const k_lon[] = {"RA", "GLON", "ELON", "HLON", "SLON"};
static const char *const k_lat[] = {"DEC", "GLAT", "ELAT", "HLAT", "SLAT"};
static const char *const k_energy[] = {"FREQ", "ENER", "WAVN", "VRAD", "WAVE", "VOPT",
                                       "ZOPT", "AWAV", "VELO", "BETA", "FELO"};
static const char *const k_time[] = {"TIME", "TAI", "TT", "TDT", "ET", "IAT", "UT1",
                                     "UTC", "GMT", "GPS", "TCG", "TCB", "TDB", "LOCAL"};
static const char *const k_obs[] = {"OBSERVABLE", "FLUX"};
static const char *const k_custom[] = {"RM", "FDEP"};

static bool in_list(const char *w, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(w, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

enum wcsx_kind wcsx_ctype_kind(const char *ctype)
{
    char w[WCSX_STR_MAX];
    size_t n = 0;
    if (!ctype) {
        return WCSX_KIND_NONE;
    }
    while (*ctype == ' ') {
        ctype++;
    }
    while (ctype[n] && ctype[n] != '-' && ctype[n] != ' ' && n + 1 < sizeof w) {
        w[n] = ctype[n];
        n++;
    }
    w[n] = '\0';
    if (n == 0) {
        return WCSX_KIND_NONE;
    }
    if (in_list(w, k_lon, ARRAY_LEN(k_lon))) {
        return WCSX_KIND_LON;
    }
    if (in_list(w, k_lat, ARRAY_LEN(k_lat))) {
        return WCSX_KIND_LAT;
    }
    if (in_list(w, k_energy, ARRAY_LEN(k_energy))) {
        return WCSX_KIND_ENERGY;
    }
    if (in_list(w, k_time, ARRAY_LEN(k_time))) {
        return WCSX_KIND_TIME;
    }
    if (strcasecmp(w, "STOKES") == 0) {
        return WCSX_KIND_POLARIZATION;
    }
    if (in_list(w, k_obs, ARRAY_LEN(k_obs))) {
        return WCSX_KIND_OBSERVABLE;
    }
    if (in_list(w, k_custom, ARRAY_LEN(k_custom))) {
        return WCSX_KIND_CUSTOM;
    }
    return WCSX_KIND_NONE;
}

/* ---- keyword helpers ---------------------------------------------------------------------- */

static bool kd(const struct wcsx_keys *k, const char *key, double *out)
{
    return k->get_double(k->ctx, key, out);
}

/* "<pfx><i>" into @p key (i in 0..999); no printf on this hot path */
static char *put_index(char *p, int i)
{
    if (i >= 100) {
        *p++ = (char)('0' + i / 100);
    }
    if (i >= 10) {
        *p++ = (char)('0' + (i / 10) % 10);
    }
    *p++ = (char)('0' + i % 10);
    return p;
}

static void key_n(char key[32], const char *pfx, int i)
{
    size_t n = strlen(pfx);
    memcpy(key, pfx, n);
    *put_index(key + n, i) = '\0';
}

static void key_nn(char key[32], const char *pfx, int i, int j)
{
    size_t n = strlen(pfx);
    memcpy(key, pfx, n);
    char *p = put_index(key + n, i);
    *p++ = '_';
    *put_index(p, j) = '\0';
}

static bool kdn(const struct wcsx_keys *k, const char *pfx, int i, double *out)
{
    char key[32];
    key_n(key, pfx, i);
    return kd(k, key, out);
}

static bool kdnn(const struct wcsx_keys *k, const char *pfx, int i, int j, double *out)
{
    char key[32];
    key_nn(key, pfx, i, j);
    return kd(k, key, out);
}

static const char *ks(const struct wcsx_keys *k, const char *key)
{
    const char *s = k->get_str(k->ctx, key);
    return (s && *s) ? s : NULL;
}

static const char *ksn(const struct wcsx_keys *k, const char *pfx, int i)
{
    char key[32];
    key_n(key, pfx, i);
    return ks(k, key);
}

static void copy_trim(char dst[WCSX_STR_MAX], const char *src)
{
    dst[0] = '\0';
    if (!src) {
        return;
    }
    while (*src == ' ') {
        src++;
    }
    str_copy(dst, WCSX_STR_MAX, src);
    size_t n = strlen(dst);
    while (n > 0 && dst[n - 1] == ' ') {
        dst[--n] = '\0';
    }
}

static void opt_from(const struct wcsx_keys *k, const char *key, struct wcsx_opt *o)
{
    o->set = kd(k, key, &o->v);
}

static void optn_from(const struct wcsx_keys *k, const char *pfx, int i, struct wcsx_opt *o)
{
    o->set = kdn(k, pfx, i, &o->v);
}

/* a positive whole NAXISn (ZNAXISn preferred) */
static bool naxis_n(const struct wcsx_keys *k, int i, long *out)
{
    double v;
    if (!(kdn(k, "ZNAXIS", i, &v) || kdn(k, "NAXIS", i, &v))) {
        return false;
    }
    if (!(v >= 0 && v < 9.0e15) || v != floor(v)) {
        return false;
    }
    *out = (long)v;
    return true;
}

enum err wcsx_classify(const struct wcsx_keys *k, struct wcsx_axes *out, struct err_info *ei)
{
    struct wcsx_axes a;
    double v;
    memset(&a, 0, sizeof a);
    if (kd(k, "ZNAXIS", &v) || kd(k, "NAXIS", &v)) {
        if (v >= 0 && v <= WCSX_MAX_AXES) {
            a.naxis = (int)v;
        }
    }
    a.wcsaxes = a.naxis;
    if (kd(k, "WCSAXES", &v) && v > a.wcsaxes && v <= WCSX_MAX_AXES) {
        a.wcsaxes = (int)v;
    }
    for (int i = a.wcsaxes + 1; i <= 9; i++) {
        if (ksn(k, "CTYPE", i)) {
            a.wcsaxes = i;
        }
    }
    int lon = 0;
    int lat = 0;
    for (int i = 1; i <= a.wcsaxes; i++) {
        switch (wcsx_ctype_kind(ksn(k, "CTYPE", i))) {
        case WCSX_KIND_LON: lon = lon ? lon : i; break;
        case WCSX_KIND_LAT: lat = lat ? lat : i; break;
        case WCSX_KIND_ENERGY: a.energy = a.energy ? a.energy : i; break;
        case WCSX_KIND_TIME: a.time = a.time ? a.time : i; break;
        case WCSX_KIND_POLARIZATION: a.polarization = a.polarization ? a.polarization : i; break;
        case WCSX_KIND_OBSERVABLE: a.observable = a.observable ? a.observable : i; break;
        case WCSX_KIND_CUSTOM: a.custom = a.custom ? a.custom : i; break;
        case WCSX_KIND_NONE: break;
        }
    }
    if ((lon == 0) != (lat == 0)) {
        int i = lon ? lon : lat;
        char key[16];
        snprintf(key, sizeof key, "CTYPE%d", i);
        return err_set_field(ei, ERR_WCS, key, "%s = '%s' has no matching %s axis", key,
                             ksn(k, "CTYPE", i), lon ? "latitude" : "longitude");
    }
    a.pos1 = lon;
    a.pos2 = lat;
    *out = a;
    return ERR_OK;
}

/* ---- per-axis derivation ------------------------------------------------------------------ */

static void axis1d(const struct wcsx_keys *k, int i, struct wcsx_axis1d *x)
{
    double d;
    memset(x, 0, sizeof *x);
    copy_trim(x->ctype, ksn(k, "CTYPE", i));
    copy_trim(x->cunit, ksn(k, "CUNIT", i));
    optn_from(k, "CSYER", i, &x->syser);
    optn_from(k, "CRDER", i, &x->rnder);
    if (!naxis_n(k, i, &x->naxis)) {
        x->naxis = 1; /* an axis beyond NAXIS is degenerate: one pixel */
    }
    x->crpix = kdn(k, "CRPIX", i, &d) ? d : 0.0;
    x->crval = kdn(k, "CRVAL", i, &d) ? d : 0.0;
    if (kdnn(k, "CD", i, i, &d)) {
        x->delta = d;
    } else if (kdn(k, "CDELT", i, &d)) {
        x->delta = d;
    } else {
        x->delta = 1.0;
    }
    x->has_function = true;
}

static void position(const struct wcsx_keys *k, int i, int j, struct wcsx_position *p)
{
    double d;
    memset(p, 0, sizeof *p);
    copy_trim(p->ctype1, ksn(k, "CTYPE", i));
    copy_trim(p->cunit1, ksn(k, "CUNIT", i));
    copy_trim(p->ctype2, ksn(k, "CTYPE", j));
    copy_trim(p->cunit2, ksn(k, "CUNIT", j));
    /* celestial axes are in degrees unless CUNIT says otherwise (wcslib's default) */
    if (!p->cunit1[0]) {
        str_copy(p->cunit1, sizeof p->cunit1, "deg");
    }
    if (!p->cunit2[0]) {
        str_copy(p->cunit2, sizeof p->cunit2, "deg");
    }
    optn_from(k, "CSYER", i, &p->syser1);
    optn_from(k, "CRDER", i, &p->rnder1);
    optn_from(k, "CSYER", j, &p->syser2);
    optn_from(k, "CRDER", j, &p->rnder2);
    bool n1 = naxis_n(k, i, &p->naxis1);
    bool n2 = naxis_n(k, j, &p->naxis2);
    if (!n1) {
        p->naxis1 = 1;
    }
    if (!n2) {
        p->naxis2 = 1;
    }
    p->crpix1 = kdn(k, "CRPIX", i, &d) ? d : 0.0;
    p->crval1 = kdn(k, "CRVAL", i, &d) ? d : 0.0;
    p->crpix2 = kdn(k, "CRPIX", j, &d) ? d : 0.0;
    p->crval2 = kdn(k, "CRVAL", j, &d) ? d : 0.0;
    p->has_function = true;

    double cd[2][2];
    bool has_cd[2][2];
    int ix[2] = {i, j};
    bool any_cd = false;
    for (int r = 0; r < 2; r++) {
        for (int c = 0; c < 2; c++) {
            has_cd[r][c] = kdnn(k, "CD", ix[r], ix[c], &cd[r][c]);
            any_cd = any_cd || has_cd[r][c];
        }
    }
    double cdelt1 = kdn(k, "CDELT", i, &d) ? d : 1.0;
    double cdelt2 = kdn(k, "CDELT", j, &d) ? d : 1.0;
    if (any_cd) {
        /* a partial CD matrix: missing diagonal terms from CDELT, off-diagonal 0 */
        p->cd11 = has_cd[0][0] ? cd[0][0] : cdelt1;
        p->cd12 = has_cd[0][1] ? cd[0][1] : 0.0;
        p->cd21 = has_cd[1][0] ? cd[1][0] : 0.0;
        p->cd22 = has_cd[1][1] ? cd[1][1] : cdelt2;
    } else {
        double pc[2][2] = {{1.0, 0.0}, {0.0, 1.0}};
        bool any_pc = false;
        for (int r = 0; r < 2; r++) {
            for (int c = 0; c < 2; c++) {
                if (kdnn(k, "PC", ix[r], ix[c], &d)) {
                    pc[r][c] = d;
                    any_pc = true;
                }
            }
        }
        double rot = 0.0;
        if (!any_pc && (kdn(k, "CROTA", j, &rot) || kdn(k, "CROTA", i, &rot)) && rot != 0.0) {
            double rad = rot * M_PI / 180.0;
            p->cd11 = cdelt1 * cos(rad);
            p->cd12 = -cdelt2 * sin(rad);
            p->cd21 = cdelt1 * sin(rad);
            p->cd22 = cdelt2 * cos(rad);
        } else {
            p->cd11 = cdelt1 * pc[0][0];
            p->cd12 = cdelt1 * pc[0][1];
            p->cd21 = cdelt2 * pc[1][0];
            p->cd22 = cdelt2 * pc[1][1];
        }
    }
    /* no negative zeros from CDELT * 0 */
    p->cd11 += 0.0;
    p->cd12 += 0.0;
    p->cd21 += 0.0;
    p->cd22 += 0.0;
    copy_trim(p->coordsys, ks(k, "RADESYS"));
    if (!p->coordsys[0]) {
        copy_trim(p->coordsys, ks(k, "RADECSYS"));
    }
    if (kd(k, "EQUINOX", &d) || kd(k, "EPOCH", &d)) {
        if (d >= 1800.0 && d <= 2500.0) {
            p->equinox.set = true;
            p->equinox.v = d;
        }
    }
}

void wcsx_spectral_translate(const char *ctype, int velref, char ctype_out[WCSX_STR_MAX],
                             char specsys_out[WCSX_STR_MAX])
{
    char in[9];
    char outc[9] = "";
    char frame[9] = "";
    char src[WCSX_STR_MAX];
    size_t n = 0;
    if (!ctype) {
        ctype_out[0] = '\0';
        specsys_out[0] = '\0';
        return;
    }
    copy_trim(src, ctype); /* ctype may alias ctype_out */
    ctype = src;
    specsys_out[0] = '\0';
    copy_trim(ctype_out, ctype);
    memset(in, ' ', sizeof in);
    while (ctype[n] && n < 8) {
        in[n] = ctype[n];
        n++;
    }
    in[8] = '\0';
    if (strlen(ctype) > 8) {
        return;
    }
    int st = spcaips(in, velref, outc, frame);
    if (st == 0) {
        outc[8] = '\0';
        frame[8] = '\0';
        copy_trim(ctype_out, outc);
        copy_trim(specsys_out, frame);
    }
}

static void opt_nonzero(const struct wcsx_keys *k, const char *key, struct wcsx_opt *o)
{
    double d;
    o->set = false;
    if (kd(k, key, &d) && d != 0.0 && isfinite(d)) {
        o->set = true;
        o->v = d;
    }
}

/* wcsset's convention: spectral axes in SI units (Angstrom -> m, GHz -> Hz, km/s -> m/s) */
static void spectral_si(struct wcsx_axis1d *a)
{
    static const struct {
        const char *type;
        const char *si;
    } k_si[] = {{"WAVE", "m"}, {"AWAV", "m"}, {"FREQ", "Hz"}, {"ENER", "J"},
                {"WAVN", "/m"}, {"VRAD", "m/s"}, {"VOPT", "m/s"}, {"VELO", "m/s"}};
    double scale = 1.0, offset = 0.0, power = 1.0;
    struct wcserr *err = NULL;
    if (!a->cunit[0]) {
        return;
    }
    for (size_t i = 0; i < ARRAY_LEN(k_si); i++) {
        if (strncmp(a->ctype, k_si[i].type, 4) != 0 || strcmp(a->cunit, k_si[i].si) == 0) {
            continue;
        }
        if (wcsunitse(a->cunit, k_si[i].si, &scale, &offset, &power, &err) == 0 &&
            offset == 0.0 && power == 1.0) {
            a->crval *= scale;
            a->delta *= scale;
            str_copy(a->cunit, sizeof a->cunit, k_si[i].si);
        }
        wcserr_clear(&err);
        return;
    }
}

static void spectral(const struct wcsx_keys *k, int i, struct wcsx_spectral *s)
{
    double d;
    char frame[WCSX_STR_MAX];
    memset(s, 0, sizeof *s);
    axis1d(k, i, &s->axis);
    int velref = kd(k, "VELREF", &d) && fabs(d) < 100000 ? (int)d : 0;
    wcsx_spectral_translate(s->axis.ctype, velref, s->axis.ctype, frame);
    spectral_si(&s->axis);
    copy_trim(s->specsys, ks(k, "SPECSYS"));
    if (!s->specsys[0]) {
        str_copy(s->specsys, sizeof s->specsys, frame);
    }
    copy_trim(s->ssysobs, ks(k, "SSYSOBS"));
    copy_trim(s->ssyssrc, ks(k, "SSYSSRC"));
    opt_nonzero(k, "RESTFRQ", &s->restfrq);
    if (!s->restfrq.set) {
        opt_nonzero(k, "RESTFREQ", &s->restfrq);
    }
    opt_nonzero(k, "RESTWAV", &s->restwav);
    opt_nonzero(k, "VELOSYS", &s->velosys);
    opt_nonzero(k, "ZSOURCE", &s->zsource);
    opt_nonzero(k, "VELANG", &s->velang);
}

static void temporal(const struct wcsx_keys *k, int i, struct wcsx_temporal *t)
{
    memset(t, 0, sizeof *t);
    axis1d(k, i, &t->axis);
    copy_trim(t->timesys, ks(k, "TIMESYS"));
    if (!t->timesys[0]) {
        str_copy(t->timesys, sizeof t->timesys, "UTC");
    }
    copy_trim(t->trefpos, ks(k, "TREFPOS"));
    opt_from(k, "MJDREF", &t->mjdref);
    if (!t->mjdref.set) {
        opt_from(k, "MJDDATE", &t->mjdref);
    }
    opt_from(k, "EXPTIME", &t->exposure);
    if (!t->exposure.set) {
        opt_from(k, "INTTIME", &t->exposure);
    }
    opt_from(k, "TIMEDEL", &t->resolution);
}

enum err wcsx_chunk_derive(const struct wcsx_keys *k, struct wcsx_chunk *out, struct err_info *ei)
{
    struct wcsx_chunk *c = out;
    memset(c, 0, sizeof *c);
    enum err e = wcsx_classify(k, &c->axes, ei);
    if (e != ERR_OK) {
        return e;
    }
    if (c->axes.pos1) {
        c->has_position = true;
        position(k, c->axes.pos1, c->axes.pos2, &c->position);
    }
    if (c->axes.energy) {
        c->has_energy = true;
        spectral(k, c->axes.energy, &c->energy);
    }
    if (c->axes.time) {
        c->has_time = true;
        temporal(k, c->axes.time, &c->time);
    }
    if (c->axes.polarization) {
        c->has_polarization = true;
        axis1d(k, c->axes.polarization, &c->polarization);
    }
    if (c->axes.custom) {
        c->has_custom = true;
        axis1d(k, c->axes.custom, &c->custom);
    }
    if (c->axes.observable) {
        c->has_observable = true;
        axis1d(k, c->axes.observable, &c->observable);
    }
    return ERR_OK;
}

enum err wcsx_image_time(const struct wcsx_keys *k, struct wcsx_temporal *t, struct err_info *ei)
{
    double mjd;
    double exptime = 0.0;
    const char *date;
    memset(t, 0, sizeof *t);
    if (!kd(k, "MJD-OBS", &mjd)) {
        date = ks(k, "DATE-OBS");
        if (!date) {
            return ERR_NOT_FOUND;
        }
        if (wcsx_iso_to_mjd(date, &mjd) != ERR_OK) {
            return err_set_field(ei, ERR_WCS, "DATE-OBS", "DATE-OBS = '%s' is not a date", date);
        }
    }
    bool has_exp = kd(k, "EXPTIME", &exptime) || kd(k, "INTTIME", &exptime);
    if (!has_exp) {
        return ERR_NOT_FOUND;
    }
    str_copy(t->axis.ctype, sizeof t->axis.ctype, "TIME");
    str_copy(t->axis.cunit, sizeof t->axis.cunit, "d");
    t->axis.syser.set = t->axis.rnder.set = true;
    t->axis.syser.v = t->axis.rnder.v = 1e-7;
    t->axis.has_function = true;
    t->axis.naxis = 1;
    t->axis.crpix = 0.5;
    t->axis.crval = mjd;
    t->axis.delta = exptime / 86400.0;
    str_copy(t->timesys, sizeof t->timesys, "UTC");
    t->exposure.set = t->resolution.set = true;
    t->exposure.v = t->resolution.v = exptime;
    return ERR_OK;
}

/* ---- wcslib evaluation -------------------------------------------------------------------- */

static void set_ctype(char dst[72], const char *s)
{
    memset(dst, 0, 72);
    str_copy(dst, 72, s);
}

enum err wcsx_pix2sky(const struct wcsx_position *p, const double *pix, double *world, size_t n,
                      struct err_info *ei)
{
    struct wcsprm w;
    enum err e = ERR_OK;
    double *img = NULL;
    double *phi = NULL;
    double *theta = NULL;
    int *stat = NULL;
    memset(&w, 0, sizeof w);
    w.flag = -1;
    if (n == 0 || n > WCSX_MAX_POINTS) {
        return err_set(ei, ERR_WCS, "invalid number of points to project: %zu", n);
    }
    if (wcsini(1, 2, &w) != 0) {
        return err_set(ei, ERR_NOMEM, "could not initialise a WCS");
    }
    set_ctype(w.ctype[0], p->ctype1);
    set_ctype(w.ctype[1], p->ctype2);
    w.crpix[0] = p->crpix1;
    w.crpix[1] = p->crpix2;
    w.crval[0] = p->crval1;
    w.crval[1] = p->crval2;
    w.altlin = 2;
    w.cd[0] = p->cd11;
    w.cd[1] = p->cd12;
    w.cd[2] = p->cd21;
    w.cd[3] = p->cd22;
    if (wcsset(&w) != 0) {
        e = err_set(ei, ERR_WCS, "invalid celestial WCS %s/%s: %s", p->ctype1, p->ctype2,
                    w.err ? w.err->msg : "rejected by wcslib");
        goto out;
    }
    img = calloc(2 * n, sizeof *img);
    phi = calloc(n, sizeof *phi);
    theta = calloc(n, sizeof *theta);
    stat = calloc(n, sizeof *stat);
    if (!img || !phi || !theta || !stat) {
        e = err_set(ei, ERR_NOMEM, "out of memory projecting %zu points", n);
        goto out;
    }
    if (wcsp2s(&w, (int)n, 2, pix, img, phi, theta, world, stat) != 0) {
        e = err_set(ei, ERR_WCS, "could not project pixels through %s/%s: %s", p->ctype1,
                    p->ctype2, w.err ? w.err->msg : "invalid pixel coordinate");
        goto out;
    }
out:
    free(img);
    free(phi);
    free(theta);
    free(stat);
    wcsfree(&w);
    return e;
}

enum err wcsx_footprint(const struct wcsx_position *p, double corners[8], struct err_info *ei)
{
    double n1 = (double)p->naxis1;
    double n2 = (double)p->naxis2;
    double pix[8] = {0.5, 0.5, n1 + 0.5, 0.5, n1 + 0.5, n2 + 0.5, 0.5, n2 + 0.5};
    return wcsx_pix2sky(p, pix, corners, 4, ei);
}

enum err wcsx_spectral_bounds_m(const struct wcsx_spectral *s, double *lo, double *hi,
                                struct err_info *ei)
{
    struct wcsprm w;
    enum err e = ERR_OK;
    int i = 0;
    char wave[9] = "WAVE-???";
    double pix[2] = {0.5, (double)s->axis.naxis + 0.5};
    double img[2], phi[2], theta[2], world[2];
    int stat[2];
    memset(&w, 0, sizeof w);
    w.flag = -1;
    if (wcsini(1, 1, &w) != 0) {
        return err_set(ei, ERR_NOMEM, "could not initialise a WCS");
    }
    set_ctype(w.ctype[0], s->axis.ctype);
    set_ctype(w.cunit[0], s->axis.cunit);
    w.crpix[0] = s->axis.crpix;
    w.crval[0] = s->axis.crval;
    w.cdelt[0] = s->axis.delta;
    w.restfrq = s->restfrq.set ? s->restfrq.v : 0.0;
    w.restwav = s->restwav.set ? s->restwav.v : 0.0;
    if (wcsset(&w) != 0) {
        e = err_set(ei, ERR_WCS, "invalid spectral WCS %s: %s", s->axis.ctype,
                    w.err ? w.err->msg : "rejected by wcslib");
        goto out;
    }
    if (strncmp(s->axis.ctype, "WAVE", 4) != 0 && wcssptr(&w, &i, wave) != 0) {
        e = err_set(ei, ERR_WCS, "cannot convert spectral axis %s to wavelength: %s",
                    s->axis.ctype, w.err ? w.err->msg : "rejected by wcslib");
        goto out;
    }
    if (wcsset(&w) != 0 || wcsp2s(&w, 2, 1, pix, img, phi, theta, world, stat) != 0) {
        e = err_set(ei, ERR_WCS, "could not evaluate spectral axis %s: %s", s->axis.ctype,
                    w.err ? w.err->msg : "rejected by wcslib");
        goto out;
    }
    *lo = fmin(world[0], world[1]);
    *hi = fmax(world[0], world[1]);
out:
    wcsfree(&w);
    return e;
}

/* ---- dates -------------------------------------------------------------------------------- */

enum err wcsx_iso_to_mjd(const char *s, double *mjd)
{
    return isodate_to_mjd(s, mjd) ? ERR_OK : ERR_PARSE;
}
