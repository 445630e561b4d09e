/* astro.c - astronomy conversions on ERFA (astro.h).
 * SPDX-License-Identifier: Apache-2.0 */
#include "astro/astro.h"

#include "core/numparse.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#ifdef OBSFLOW_HAVE_ERFA
#include <erfa.h>
#include <erfam.h>
#define DEG2RAD (ERFA_DPI / 180.0)
#else
#define DEG2RAD (3.141592653589793238462643 / 180.0)
#endif

/* one numeric field of a sexagesimal angle: digits with an optional fraction */
static const char *field(const char *p, double *v, bool *frac)
{
    char tmp[40];
    size_t n = 0;
    *frac = false;
    while ((isdigit((unsigned char)p[n]) || p[n] == '.') && n + 1 < sizeof tmp) {
        *frac = *frac || p[n] == '.';
        tmp[n] = p[n];
        n++;
    }
    if (n == 0 || n + 1 >= sizeof tmp) {
        return NULL;
    }
    tmp[n] = '\0';
    if (numparse_double(tmp, v) != ERR_OK || !isfinite(*v)) {
        return NULL;
    }
    return p + n;
}

enum err astro_sexa_to_deg(const char *s, bool hours, double *deg)
{
    double f[3] = {0.0, 0.0, 0.0};
    int nf = 0;
    char sign = '+';
    if (!s) {
        return ERR_INVALID;
    }
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (*s == '+' || *s == '-') {
        sign = *s++;
    }
    while (*s == ' ') {
        s++;
    }
    for (;;) {
        bool frac = false;
        const char *q = field(s, &f[nf], &frac);
        if (!q) {
            return ERR_INVALID;
        }
        nf++;
        s = q;
        /* a unit letter or separator, then the next field */
        if (*s == 'h' || *s == 'H' || *s == 'd' || *s == 'D' || *s == 'm' || *s == 'M' ||
            *s == 's' || *s == 'S' || *s == ':' || *s == '\'' || *s == '"') {
            s++;
        }
        while (*s == ' ' || *s == '\t') {
            s++;
        }
        if (*s == '\0') {
            break;
        }
        if (frac || nf == 3) {
            return ERR_INVALID; /* only the last field may have a fraction */
        }
    }
    if ((nf > 1 && f[1] >= 60.0) || (nf > 2 && f[2] >= 60.0)) {
        return ERR_INVALID;
    }
    double rad = 0.0;
    double whole = f[0] + f[1] / 60.0 + f[2] / 3600.0;
    if (hours) {
        if (whole > 24.0) {
            return ERR_INVALID;
        }
        rad = whole * 15.0 * DEG2RAD;
    } else {
        if (whole > 360.0) {
            return ERR_INVALID;
        }
        rad = whole * DEG2RAD;
    }
    *deg = (sign == '-' ? -rad : rad) / DEG2RAD;
    return ERR_OK;
}

enum astro_scale astro_scale_named(const char *s)
{
    if (!s) {
        return 0;
    }
    if (strcasecmp(s, "UTC") == 0) {
        return ASTRO_UTC;
    }
    if (strcasecmp(s, "TAI") == 0) {
        return ASTRO_TAI;
    }
    if (strcasecmp(s, "TT") == 0) {
        return ASTRO_TT;
    }
    return 0;
}

#ifdef OBSFLOW_HAVE_ERFA

enum err astro_deg_to_sexa(double deg, bool hours, int ndp, char *out, size_t cap)
{
    int ihmsf[4];
    char sign = '+';
    int n;
    if (!isfinite(deg) || ndp < 0 || ndp > 9) {
        return ERR_INVALID;
    }
    if (hours) {
        eraA2tf(ndp, eraAnp(deg * DEG2RAD), &sign, ihmsf);
        if (ndp > 0) {
            n = snprintf(out, cap, "%02d:%02d:%02d.%0*d", ihmsf[0], ihmsf[1], ihmsf[2], ndp,
                         ihmsf[3]);
        } else {
            n = snprintf(out, cap, "%02d:%02d:%02d", ihmsf[0], ihmsf[1], ihmsf[2]);
        }
    } else {
        if (fabs(deg) > 360.0) {
            return ERR_INVALID;
        }
        eraA2af(ndp, deg * DEG2RAD, &sign, ihmsf);
        if (ndp > 0) {
            n = snprintf(out, cap, "%c%02d:%02d:%02d.%0*d", sign, ihmsf[0], ihmsf[1], ihmsf[2],
                         ndp, ihmsf[3]);
        } else {
            n = snprintf(out, cap, "%c%02d:%02d:%02d", sign, ihmsf[0], ihmsf[1], ihmsf[2]);
        }
    }
    return (n < 0 || (size_t)n >= cap) ? ERR_TOO_LARGE : ERR_OK;
}

/* the precession matrix from J2000.0 to the Julian epoch @p ep (IAU 2006 angles) */
static void prec_from_j2000(double ep, double r[3][3])
{
    double d1, d2, eps0, psia, oma, bpa, bqa, pia, bpia, epsa, chia, za, zetaa, thetaa, pa, gam,
        phi, psi;
    eraEpj2jd(ep, &d1, &d2);
    eraP06e(d1, d2, &eps0, &psia, &oma, &bpa, &bqa, &pia, &bpia, &epsa, &chia, &za, &zetaa,
            &thetaa, &pa, &gam, &phi, &psi);
    eraIr(r);
    eraRz(-zetaa, r);
    eraRy(thetaa, r);
    eraRz(-za, r);
}

static bool finite4(double a, double b, double c, double d)
{
    return isfinite(a) && isfinite(b) && isfinite(c) && isfinite(d);
}

enum err astro_precess_fk5(double ra, double dec, double from, double to, double *ra_out,
                           double *dec_out)
{
    double p1[3][3], p2[3][3], p1t[3][3], m[3][3], v[3], w[3], a, b;
    if (!finite4(ra, dec, from, to) || fabs(dec) > 90.0 || fabs(from) > 1e5 || fabs(to) > 1e5) {
        return ERR_INVALID;
    }
    prec_from_j2000(from, p1);
    prec_from_j2000(to, p2);
    eraTr(p1, p1t);
    eraRxr(p2, p1t, m);
    eraS2c(ra * DEG2RAD, dec * DEG2RAD, v);
    eraRxp(m, v, w);
    eraC2s(w, &a, &b);
    *ra_out = eraAnp(a) / DEG2RAD;
    *dec_out = b / DEG2RAD;
    return ERR_OK;
}

enum err astro_precess_fk5_1976(double ra, double dec, double from, double to,
                                double *ra_out, double *dec_out)
{
    double f1, f2, t1, t2, zeta, z, theta, m[3][3], v[3], w[3], a, b;
    if (!finite4(ra, dec, from, to) || fabs(dec) > 90.0 || fabs(from) > 1e5 || fabs(to) > 1e5) {
        return ERR_INVALID;
    }
    eraEpj2jd(from, &f1, &f2);
    eraEpj2jd(to, &t1, &t2);
    eraPrec76(f1, f2, t1, t2, &zeta, &z, &theta);
    eraIr(m);
    eraRz(-zeta, m);
    eraRy(theta, m);
    eraRz(-z, m);
    eraS2c(ra * DEG2RAD, dec * DEG2RAD, v);
    eraRxp(m, v, w);
    eraC2s(w, &a, &b);
    *ra_out = eraAnp(a) / DEG2RAD;
    *dec_out = b / DEG2RAD;
    return ERR_OK;
}

enum err astro_fk4_to_fk5(double ra, double dec, double bepoch, double *ra_out, double *dec_out)
{
    double a, b;
    if (!finite4(ra, dec, bepoch, 0.0) || fabs(dec) > 90.0) {
        return ERR_INVALID;
    }
    eraFk45z(ra * DEG2RAD, dec * DEG2RAD, bepoch, &a, &b);
    *ra_out = eraAnp(a) / DEG2RAD;
    *dec_out = b / DEG2RAD;
    return ERR_OK;
}

enum err astro_fk5_to_fk4(double ra, double dec, double bepoch, double *ra_out, double *dec_out)
{
    double a, b, dr, dd;
    if (!finite4(ra, dec, bepoch, 0.0) || fabs(dec) > 90.0) {
        return ERR_INVALID;
    }
    eraFk54z(ra * DEG2RAD, dec * DEG2RAD, bepoch, &a, &b, &dr, &dd);
    *ra_out = eraAnp(a) / DEG2RAD;
    *dec_out = b / DEG2RAD;
    return ERR_OK;
}

enum err astro_date_mjd(const char *s, enum astro_scale scale, double *mjd)
{
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, n = 0;
    double sec = 0.0, d1, d2;
    char sep1, sep2;
    if (!s || scale < ASTRO_UTC || scale > ASTRO_TT) {
        return ERR_INVALID;
    }
    while (*s == ' ') {
        s++;
    }
    if (sscanf(s, "%4d%c%2d%c%2d%n", &y, &sep1, &mo, &sep2, &d, &n) != 5 || sep1 != sep2 ||
        (sep1 != '-' && sep1 != '/')) {
        return ERR_INVALID;
    }
    s += n;
    if (*s == 'T' || *s == ' ') {
        int m2 = 0;
        if (sscanf(s + 1, "%2d:%2d%n", &h, &mi, &m2) != 2) {
            return ERR_INVALID;
        }
        s += 1 + m2;
        if (*s == ':') {
            char tmp[32];
            size_t k = 0;
            s++;
            while ((isdigit((unsigned char)*s) || *s == '.') && k + 1 < sizeof tmp) {
                tmp[k++] = *s++;
            }
            tmp[k] = '\0';
            if (k == 0 || numparse_double(tmp, &sec) != ERR_OK) {
                return ERR_INVALID;
            }
        }
    }
    if (*s == 'Z') {
        s++;
    }
    while (*s == ' ') {
        s++;
    }
    if (*s != '\0' || h > 23 || mi > 59 || sec >= 61.0) {
        return ERR_INVALID;
    }
    if (eraDtf2d(scale == ASTRO_UTC ? "UTC" : scale == ASTRO_TAI ? "TAI" : "TT", y, mo, d, h, mi,
                 sec, &d1, &d2) < 0) {
        return ERR_INVALID;
    }
    *mjd = (d1 - ERFA_DJM0) + d2;
    return ERR_OK;
}

enum err astro_mjd_convert(double mjd, enum astro_scale from, enum astro_scale to, double *out)
{
    double a1 = ERFA_DJM0, a2 = mjd, b1, b2;
    if (!isfinite(mjd) || fabs(mjd) > 1e7 || from < ASTRO_UTC || from > ASTRO_TT ||
        to < ASTRO_UTC || to > ASTRO_TT) {
        return ERR_INVALID;
    }
    /* to TAI */
    if (from == ASTRO_UTC) {
        if (eraUtctai(a1, a2, &b1, &b2) < 0) {
            return ERR_INVALID;
        }
        a1 = b1, a2 = b2;
    } else if (from == ASTRO_TT) {
        (void)eraTttai(a1, a2, &b1, &b2);
        a1 = b1, a2 = b2;
    }
    /* from TAI */
    if (to == ASTRO_UTC) {
        if (eraTaiutc(a1, a2, &b1, &b2) < 0) {
            return ERR_INVALID;
        }
        a1 = b1, a2 = b2;
    } else if (to == ASTRO_TT) {
        (void)eraTaitt(a1, a2, &b1, &b2);
        a1 = b1, a2 = b2;
    }
    *out = (a1 - ERFA_DJM0) + a2;
    return ERR_OK;
}

enum err astro_geocentric(double lon, double lat, double height, double xyz[3])
{
    if (!finite4(lon, lat, height, 0.0) || fabs(lat) > 90.0 || fabs(lon) > 360.0 ||
        fabs(height) > 1e7) {
        return ERR_INVALID;
    }
    if (eraGd2gc(ERFA_WGS84, lon * DEG2RAD, lat * DEG2RAD, height, xyz) != 0) {
        return ERR_INVALID;
    }
    return ERR_OK;
}

#else /* built without ERFA: the functions that need it say so */

enum err astro_deg_to_sexa(double deg, bool hours, int ndp, char *out, size_t cap)
{
    (void)deg, (void)hours, (void)ndp, (void)out, (void)cap;
    return ERR_UNSUPPORTED;
}

enum err astro_precess_fk5(double ra, double dec, double from, double to, double *ra_out,
                           double *dec_out)
{
    (void)ra, (void)dec, (void)from, (void)to, (void)ra_out, (void)dec_out;
    return ERR_UNSUPPORTED;
}

enum err astro_precess_fk5_1976(double ra, double dec, double from, double to,
                                double *ra_out, double *dec_out)
{
    (void)ra, (void)dec, (void)from, (void)to, (void)ra_out, (void)dec_out;
    return ERR_UNSUPPORTED;
}

enum err astro_fk4_to_fk5(double ra, double dec, double bepoch, double *ra_out, double *dec_out)
{
    (void)ra, (void)dec, (void)bepoch, (void)ra_out, (void)dec_out;
    return ERR_UNSUPPORTED;
}

enum err astro_fk5_to_fk4(double ra, double dec, double bepoch, double *ra_out, double *dec_out)
{
    (void)ra, (void)dec, (void)bepoch, (void)ra_out, (void)dec_out;
    return ERR_UNSUPPORTED;
}

enum err astro_date_mjd(const char *s, enum astro_scale scale, double *mjd)
{
    (void)s, (void)scale, (void)mjd;
    return ERR_UNSUPPORTED;
}

enum err astro_mjd_convert(double mjd, enum astro_scale from, enum astro_scale to, double *out)
{
    (void)mjd, (void)from, (void)to, (void)out;
    return ERR_UNSUPPORTED;
}

enum err astro_geocentric(double lon, double lat, double height, double xyz[3])
{
    (void)lon, (void)lat, (void)height, (void)xyz;
    return ERR_UNSUPPORTED;
}

#endif

void astro_cd_matrix(double cdelt1, double cdelt2, double crota2, double cd[4])
{
    double c = cos(crota2 * DEG2RAD);
    double s = sin(crota2 * DEG2RAD);
    cd[0] = cdelt1 * c;
    cd[1] = -cdelt2 * s;
    cd[2] = cdelt1 * s;
    cd[3] = cdelt2 * c;
}
