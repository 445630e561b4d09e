/* wcs.h - FITS WCS for CAOM chunks, the only module that uses wcslib: axis classification by
 * CTYPE, chunk axes (position CoordFunction2D with CD from the CD matrix, else CDELT*PC, else
 * CROTA2; spectral axes normalised with wcslib's AIPS translation; time axes; STOKES), the
 * caom2pipe time chunk for images (MJD-OBS/EXPTIME), footprints (pixel corners to sky with
 * wcslib) and date conversions. Independent of the FITS reader: keywords come through an
 * accessor, so callers can layer overrides over a header.
 * Threading: every function is reentrant; nothing is shared.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_WCS_WCS_H
#define OBSFLOW_WCS_WCS_H

#include "core/compiler.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

#define WCSX_MAX_AXES 99  /* FITS allows NAXIS <= 999; CAOM chunks never need more than 99 */
#define WCSX_STR_MAX  72  /* CTYPE/CUNIT/SPECSYS text with terminator */
#define WCSX_MAX_POINTS 1000000 /* pixel pairs one wcsx_pix2sky call projects */

/** Axis kinds, decided from the CTYPE text before the first '-'. */
enum wcsx_kind {
    WCSX_KIND_NONE = 0,     /* unrecognised or absent */
    WCSX_KIND_LON,          /* RA GLON ELON HLON SLON */
    WCSX_KIND_LAT,          /* DEC GLAT ELAT HLAT SLAT */
    WCSX_KIND_ENERGY,       /* FREQ ENER WAVN VRAD WAVE VOPT ZOPT AWAV VELO BETA (+ FELO) */
    WCSX_KIND_TIME,         /* TIME TAI TT TDT ET IAT UT1 UTC GMT GPS TCG TCB TDB LOCAL */
    WCSX_KIND_POLARIZATION, /* STOKES */
    WCSX_KIND_OBSERVABLE,   /* observable FLUX */
    WCSX_KIND_CUSTOM,       /* RM FDEP */
};

/** Classify one CTYPE value (NULL or "" gives NONE). */
enum wcsx_kind wcsx_ctype_kind(const char *ctype);

/** Keyword accessor: the WCS code reads keywords only through this. */
struct wcsx_keys {
    const void *ctx; /* passed back to the callbacks */
    /* true and *out set when @p key has a numeric value */
    bool (*get_double)(const void *ctx, const char *key, double *out);
    /* the string value (borrowed until the accessor changes) or NULL when absent */
    const char *(*get_str)(const void *ctx, const char *key);
};

/** Axis indices of a chunk (1-based, 0 = none). */
struct wcsx_axes {
    int naxis;       /* ZNAXIS or NAXIS (0 when absent) */
    int wcsaxes;     /* number of axes considered: max(NAXIS, WCSAXES, highest CTYPEn) */
    int pos1, pos2;  /* longitude, latitude */
    int energy, time, polarization, observable, custom;
};

/**
 * Classify the axes 1..max(NAXIS, WCSAXES) of a header. A longitude without its latitude (or
 * the reverse) is ERR_WCS naming the CTYPE keyword; two axes of the same kind keep the first.
 */
NODISCARD enum err wcsx_classify(const struct wcsx_keys *k, struct wcsx_axes *out,
                                 struct err_info *ei);

struct wcsx_opt { bool set; double v; };  /* optional number */

/** Position axes as a CAOM CoordFunction2D and SpatialWCS. */
struct wcsx_position {
    char ctype1[WCSX_STR_MAX], cunit1[WCSX_STR_MAX]; /* axis1 (cunit "" when absent) */
    char ctype2[WCSX_STR_MAX], cunit2[WCSX_STR_MAX]; /* axis2 */
    struct wcsx_opt syser1, rnder1, syser2, rnder2;  /* CSYERi / CRDERi */
    bool has_function;       /* NAXIS, CRPIX and CRVAL known for both axes */
    long naxis1, naxis2;     /* dimension */
    double crpix1, crval1, crpix2, crval2; /* refCoord */
    double cd11, cd12, cd21, cd22;         /* CD, CDELT*PC, or CDELT with CROTA2 */
    char coordsys[WCSX_STR_MAX];           /* RADESYS (or RADECSYS); "" when absent */
    struct wcsx_opt equinox;               /* EQUINOX or EPOCH, only within [1800, 2500] */
};

/** A 1-D axis (energy, time, polarization, custom) as a CAOM CoordAxis1D function. */
struct wcsx_axis1d {
    char ctype[WCSX_STR_MAX], cunit[WCSX_STR_MAX];
    struct wcsx_opt syser, rnder;
    bool has_function;       /* NAXIS, CRPIX, CRVAL and a delta known */
    long naxis;
    double delta, crpix, crval;
};

struct wcsx_spectral {
    struct wcsx_axis1d axis;     /* ctype after the AIPS translation (VELO-LSR -> VRAD) */
    char specsys[WCSX_STR_MAX];  /* SPECSYS, else the frame of the AIPS translation, else "" */
    char ssysobs[WCSX_STR_MAX], ssyssrc[WCSX_STR_MAX];
    struct wcsx_opt restfrq, restwav, velosys, zsource, velang; /* non-zero, finite only */
};

struct wcsx_temporal {
    struct wcsx_axis1d axis;     /* ctype TIME, cunit d for the image case */
    char timesys[WCSX_STR_MAX];  /* TIMESYS, default UTC */
    char trefpos[WCSX_STR_MAX];
    struct wcsx_opt mjdref, exposure, resolution;
};

/** Everything lib/wcs derives for one chunk. */
struct wcsx_chunk {
    struct wcsx_axes axes;
    bool has_position;           struct wcsx_position position;
    bool has_energy;             struct wcsx_spectral energy;
    bool has_time;               struct wcsx_temporal time;  /* from a time axis */
    bool has_polarization;       struct wcsx_axis1d polarization;
    bool has_custom;             struct wcsx_axis1d custom;
    bool has_observable;         struct wcsx_axis1d observable; /* ctype/cunit, crpix as bin */
};

/**
 * Derive the chunk WCS of one HDU (caom2.md 3.3). Axes absent from the header are simply
 * not set; a malformed value (a CTYPE pair broken, a non-numeric CRPIX) is ERR_WCS naming
 * the keyword. @p out is fully written on success.
 */
NODISCARD enum err wcsx_chunk_derive(const struct wcsx_keys *k, struct wcsx_chunk *out,
                                     struct err_info *ei);

/**
 * The caom2pipe time chunk for an image without a time axis: axis TIME/d, error 1e-7,
 * function naxis 1, refCoord (0.5, MJD-OBS), delta EXPTIME/86400, exposure EXPTIME (s),
 * resolution EXPTIME, timesys UTC. MJD-OBS may come from DATE-OBS (ISO) when absent, EXPTIME
 * from INTTIME. ERR_NOT_FOUND when the start or the exposure time is missing.
 */
NODISCARD enum err wcsx_image_time(const struct wcsx_keys *k, struct wcsx_temporal *out,
                                   struct err_info *ei);

/**
 * AIPS-convention spectral CTYPE translation with wcslib (VELO-LSR -> VRAD + LSRK, FREQ-LSR
 * -> FREQ + LSRK, FELO-HEL -> VOPT + BARYCENT). @p velref is the VELREF keyword (0 if absent).
 * Writes the standard ctype and the frame implied ("" if none). Standard CTYPEs pass through.
 */
void wcsx_spectral_translate(const char *ctype, int velref, char ctype_out[WCSX_STR_MAX],
                             char specsys_out[WCSX_STR_MAX]);

/**
 * Project @p n pixel pairs @p pix (x0,y0,x1,y1...) to sky (degrees) through the celestial WCS
 * described by @p p (ctypes, refCoord, CD). ERR_WCS when wcslib rejects the WCS or a point, or
 * when @p n is 0 or more than WCSX_MAX_POINTS.
 */
NODISCARD enum err wcsx_pix2sky(const struct wcsx_position *p, const double *pix, double *world,
                                size_t n, struct err_info *ei);

/** Footprint: the four pixel-edge corners (0.5,0.5) (n1+.5,.5) (n1+.5,n2+.5) (.5,n2+.5). */
NODISCARD enum err wcsx_footprint(const struct wcsx_position *p, double corners[8],
                                  struct err_info *ei);

/**
 * Evaluate a spectral function axis at pixels 0.5 and naxis+0.5 and return the interval in
 * metres (wcslib spectral translation of any spectral type to WAVE). ERR_WCS on failure.
 */
NODISCARD enum err wcsx_spectral_bounds_m(const struct wcsx_spectral *s, double *lo, double *hi,
                                          struct err_info *ei);

/** ISO-8601 date (yyyy-mm-dd[Thh:mm:ss[.fff]], also yyyy/mm/dd and a trailing Z) to MJD (UTC).
 *  ERR_PARSE when malformed. */
NODISCARD enum err wcsx_iso_to_mjd(const char *s, double *mjd);

#endif
