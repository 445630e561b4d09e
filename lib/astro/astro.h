/* astro.h - astronomy conversions for blueprint functions, on ERFA (the IAU SOFA-derived library
 * astropy uses): sexagesimal angles, FK5 precession between Julian equinoxes, FK4 B1950 <-> FK5
 * J2000, UTC/TAI/TT with ERFA's leap-second table, MJD/JD, geodetic (WGS84) -> geocentric, and
 * the FITS CD matrix from CDELT + CROTA2. Angles are degrees unless a name says otherwise.
 * Built without ERFA (liberfa-dev absent), the functions that need it return ERR_UNSUPPORTED
 * (astro_sexa_to_deg, astro_scale_named and astro_cd_matrix work either way).
 * Threading: every function is reentrant; nothing is kept between calls.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_ASTRO_ASTRO_H
#define OBSFLOW_ASTRO_ASTRO_H

#include "core/compiler.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

/**
 * A sexagesimal angle "[+-]a:b:c", "[+-]a b c", "17h39m54.59s" or "41d48m06.6s" (minutes and
 * seconds optional, fractions allowed on the last field) in units of its first field.
 * @param hours [in] true: the first field is hours (RA), the result is hours * 15 degrees.
 * @return ERR_OK; ERR_INVALID when malformed or a field is out of range (minutes, seconds >= 60).
 */
NODISCARD enum err astro_sexa_to_deg(const char *s, bool hours, double *deg);

/**
 * Degrees as "hh:mm:ss.s..." (@p hours: right ascension, normalised to 0..24 h) or
 * "+dd:mm:ss.s..." with @p ndp decimals (0-9). ERR_TOO_LARGE if it does not fit @p cap;
 * ERR_INVALID for a non-finite angle or a bad @p ndp.
 */
NODISCARD enum err astro_deg_to_sexa(double deg, bool hours, int ndp, char *out, size_t cap);

/**
 * FK5 mean place at Julian equinox @p from (e.g. 2017.56) to Julian equinox @p to (IAU 2006
 * precession angles, as astropy's FK5 -> FK5 transformation). ERR_INVALID for non-finite input.
 */
NODISCARD enum err astro_precess_fk5(double ra, double dec, double from, double to,
                                     double *ra_out, double *dec_out);

/**
 * As astro_precess_fk5 with the IAU 1976 (Lieske 1977) precession angles between the two Julian
 * epochs (eraPrec76: SLALIB's sla_Preces("FK5"), the model older CADC pipelines used; it
 * differs from IAU 2006 by ~0.05" over 16 years). ERR_INVALID for non-finite input.
 */
NODISCARD enum err astro_precess_fk5_1976(double ra, double dec, double from, double to,
                                          double *ra_out, double *dec_out);

/** FK4 B1950.0 at Besselian epoch @p bepoch -> FK5 J2000.0 (eraFk45z, no proper motion). */
NODISCARD enum err astro_fk4_to_fk5(double ra, double dec, double bepoch, double *ra_out,
                                    double *dec_out);

/** FK5 J2000.0 -> FK4 B1950.0 at Besselian epoch @p bepoch (eraFk54z). */
NODISCARD enum err astro_fk5_to_fk4(double ra, double dec, double bepoch, double *ra_out,
                                    double *dec_out);

enum astro_scale { ASTRO_UTC = 1, ASTRO_TAI, ASTRO_TT };

/** The scale named @p s ("UTC", "TAI", "TT", any case), 0 when unknown. */
enum astro_scale astro_scale_named(const char *s);

/**
 * A calendar date "yyyy-mm-dd[Thh:mm[:ss[.fff]]]" ('/' or '-' between date fields, 'T' or a
 * blank before the time, optional 'Z') in scale @p scale as an MJD in that scale, ERFA's
 * convention (eraDtf2d): in UTC a day with a leap second has 86401 s, so 23:59:60 is valid.
 * ERR_INVALID when malformed or out of range.
 */
NODISCARD enum err astro_date_mjd(const char *s, enum astro_scale scale, double *mjd);

/**
 * An MJD in scale @p from as MJD in scale @p to, with ERFA's leap seconds for UTC.
 * ERR_INVALID for a date ERFA refuses (before -4799) or non-finite input.
 */
NODISCARD enum err astro_mjd_convert(double mjd, enum astro_scale from, enum astro_scale to,
                                     double *out);

/**
 * Geodetic longitude and latitude (degrees, east positive) and height above the WGS84
 * ellipsoid (m) -> geocentric X, Y, Z in metres (eraGd2gc). ERR_INVALID when out of range.
 */
NODISCARD enum err astro_geocentric(double lon, double lat, double height, double xyz[3]);

/**
 * The CD matrix {CD1_1, CD1_2, CD2_1, CD2_2} of pixel scales @p cdelt1, @p cdelt2 (degrees per
 * pixel, signs included) and rotation @p crota2 (degrees), by the CROTA2 convention of
 * Calabretta & Greisen 2002 (paper II, eq. 188).
 */
void astro_cd_matrix(double cdelt1, double cdelt2, double crota2, double cd[4]);

#endif
