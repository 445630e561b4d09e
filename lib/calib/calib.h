/* calib.h - CCD calibration: FITS sections, frames with SCI/ERR/DQ, the calibration steps (DQ
 * initialisation, overscan, trim, bias, gain, ERR, dark, flat, saturation), a band-by-band
 * master-frame combiner, and CRDS-style best-reference selection from a YAML catalog.
 *
 * Two arithmetic modes:
 *  - default ("calacs" order, see caldp-calibration.md 2.4): DQ init, overscan, trim, bias, gain,
 *    full-well saturation, ERR = sqrt(max(S,0) + RN^2 + err^2), dark, flat (DQ 512 where F <= 0,
 *    SCI unchanged there); DQ-flagged inputs are ignored by overscan and combine.
 *  - ccdproc (CALIB_MODE_CCDPROC): reproduces python3-ccdproc 2.4.0 ccd_process()/combine()
 *    numerically (astropy StdDevUncertainty propagation, NaN deviation for negative data,
 *    single-pass sigma clip that ignores earlier rejections, flat normalised by its plain mean).
 *
 * DQ bits follow HST ACS (acsdq.h). Frames hold doubles; sizes are capped by the FITS layer.
 * Thread-safety: functions touch only their arguments; a catalog is immutable once loaded.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_CALIB_CALIB_H
#define OBSFLOW_CALIB_CALIB_H

#include "core/compiler.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------------------------- */
/* Limits */

#define CALIB_MAX_INPUTS     512          /* frames in one combine (each holds an open file) */
#define CALIB_BAND_BYTES     (32u << 20)  /* default band buffer of the combiner */
#define CALIB_MAX_HISTORY    48           /* history lines recorded per product */
#define CALIB_MAX_KEYS       48           /* keywords recorded per product */
#define CALIB_SECTION_MAX    64           /* longest section string accepted */

/* DQ bits (HST ACS). */
enum calib_dq {
    CALIB_DQ_SOFTERR = 1,
    CALIB_DQ_DATALOST = 2,
    CALIB_DQ_DETECTOR = 4,
    CALIB_DQ_MASKED = 8,
    CALIB_DQ_HOTPIX = 16,
    CALIB_DQ_LARGEBLEM = 32,
    CALIB_DQ_OVERSCAN = 128,
    CALIB_DQ_SATPIXEL = 256,
    CALIB_DQ_CALIBDEFECT = 512,
    CALIB_DQ_SMALLBLEM = 1024,
    CALIB_DQ_ATODSAT = 2048,
    CALIB_DQ_DATAREJECT = 8192,
};

enum calib_mode {
    CALIB_MODE_DEFAULT = 0,
    CALIB_MODE_CCDPROC, /* python3-ccdproc 2.4.0 compatible arithmetic */
};

/* ------------------------------------------------------------------------------------------- */
/* Sections */

/** A rectangle of a frame, 0-based, half-open: columns [x0, x1), rows [y0, y1). */
struct calib_section {
    int64_t x0, x1, y0, y1;
};

/** Parse a FITS section "[x1:x2,y1:y2]" (1-based, inclusive, x first; "*" is the whole axis)
 *  and check it against a frame of @p nx x @p ny (pass 0, 0 to skip the check). Reversed
 *  ranges are refused. Errors name the text. */
NODISCARD enum err calib_section_parse(const char *text, int64_t nx, int64_t ny,
                                       struct calib_section *out, struct err_info *ei);

/** Format @p s back as "[x1:x2,y1:y2]". */
void calib_section_format(const struct calib_section *s, char *buf, size_t cap);

/* ------------------------------------------------------------------------------------------- */
/* Frames */

struct calib_record;

/** One image with its uncertainty and data quality. err == NULL means "no uncertainty". */
struct calib_frame {
    int64_t nx, ny;
    double *sci;       /* nx*ny, row-major */
    double *err;       /* nx*ny standard deviations, or NULL */
    uint16_t *dq;      /* nx*ny, never NULL after alloc/read */
    char bunit[32];    /* BUNIT, upper case ("ADU" when the file has none) */
    double exptime;    /* EXPTIME, when has_exptime */
    double darktime;   /* DARKTIME, when has_darktime */
    bool has_exptime;
    bool has_darktime;
    char source[256];  /* file name, for messages and keywords */
};

/** Allocate a zeroed frame (sci, dq; err stays NULL). */
NODISCARD enum err calib_frame_alloc(struct calib_frame *f, int64_t nx, int64_t ny,
                                     struct err_info *ei);
/** Add a zero ERR plane if there is none. */
NODISCARD enum err calib_frame_ensure_err(struct calib_frame *f, struct err_info *ei);
/** Free the planes; the struct may be reused. Accepts NULL. */
void calib_frame_free(struct calib_frame *f);

/** Read a frame: @p hdu is "N", "NAME[,VER]" or NULL (SCI,1 when present, else the first image).
 *  With a SCI extension, ERR and DQ of the same EXTVER are read too when present (HST constant
 *  arrays included). BUNIT/EXPTIME/DARKTIME come from the image HDU, else the primary. */
NODISCARD enum err calib_frame_read(const char *path, const char *hdu, struct calib_frame *f,
                                    struct err_info *ei);

/** How products are written. */
struct calib_write_opts {
    bool float32;   /* SCI/ERR as float32 (default float64) */
    bool checksum;  /* DATASUM/CHECKSUM in every HDU */
    bool no_sync;   /* skip fsync of the file and directory at commit */
};

/** Write a product: primary header from @p header_from's primary (and its image HDU's cards into
 *  SCI when the image is an extension), the record's keywords and history in the primary, then
 *  SCI, ERR and DQ as extensions 1-3 with BUNIT. An ERR the frame does not have, and an all-zero
 *  DQ, are written as HST constant arrays (NPIX1/NPIX2/PIXVALUE = 0). Atomic. @p wo may be NULL.
 */
NODISCARD enum err calib_frame_write(const struct calib_frame *f, const char *path,
                                     const char *header_from, const struct calib_record *rec,
                                     const struct calib_write_opts *wo, struct err_info *ei);

/** True if BUNIT says electrons ("ELECTRON", "ELECTRONS", "E-"). */
bool calib_unit_is_electrons(const char *bunit);

/* ------------------------------------------------------------------------------------------- */
/* Steps (each works in place on one frame) */

/** Bad-pixel table row (HST BPIXTAB): a run of @p length pixels from (x, y) (0-based, frame
 *  coordinates) along @p axis (1 = x, 2 = y), OR-ed with @p value. */
struct calib_bpix {
    int64_t x, y, length;
    int axis;
    uint16_t value;
};

/** Read an HST bad-pixel table (columns PIX1, PIX2, LENGTH, AXIS, VALUE, optional CCDAMP,
 *  CCDGAIN, CCDCHIP). Rows whose CCDAMP does not contain @p ccdamp (NULL: any) or whose CCDGAIN
 *  differs from @p ccdgain (<= 0: any) are skipped. Pixel positions are shifted by (@p ltv1,
 *  @p ltv2) into raw-frame coordinates. *rows is owned by the caller (free()). */
NODISCARD enum err calib_bpix_read(const char *path, const char *ccdamp, double ccdgain,
                                   double ltv1, double ltv2, struct calib_bpix **rows,
                                   size_t *nrows, struct err_info *ei);

/** OR table rows into DQ (parts outside the frame are ignored); returns pixels touched. */
size_t calib_dq_apply_bpix(struct calib_frame *f, const struct calib_bpix *rows, size_t n);

/** OR a bad-pixel image into DQ: nonzero pixels of @p mask (its SCI values, as integers; a
 *  value of 1 counts as CALIB_DQ_DETECTOR) set bits. Shapes must match. */
NODISCARD enum err calib_dq_apply_mask(struct calib_frame *f, const struct calib_frame *mask,
                                       struct err_info *ei);

/** A-to-D saturation: DQ 2048 where SCI >= @p atodsat (raw DN). Returns the count. */
size_t calib_dq_atodsat(struct calib_frame *f, double atodsat);

enum calib_oscan_stat { CALIB_OSCAN_MEAN = 0, CALIB_OSCAN_MEDIAN };

/** Overscan: per row, the mean or median of the section's columns (default mode skips pixels
 *  with DQ set), optionally replaced by a least-squares line in the row number
 *  (@p fit_linear), subtracted from the whole row. The per-row levels actually subtracted are
 *  stored in @p levels (ny values) when not NULL. Rows without any good overscan pixel are an
 *  error. */
NODISCARD enum err calib_overscan(struct calib_frame *f, const struct calib_section *s,
                                  enum calib_oscan_stat stat, bool fit_linear,
                                  enum calib_mode mode, double *levels, struct err_info *ei);

/** Trim to the section (reallocates the planes). */
NODISCARD enum err calib_trim(struct calib_frame *f, const struct calib_section *s,
                              struct err_info *ei);

/** ccdproc create_deviation: err = sqrt(g*X + rn^2)/g, NaN where g*X < 0. */
NODISCARD enum err calib_deviation(struct calib_frame *f, double gain, double readnoise,
                                   struct err_info *ei);

/** calacs noise: err = sqrt(max(sci,0) + rn^2 + err^2) (electrons). */
NODISCARD enum err calib_noise(struct calib_frame *f, double readnoise, struct err_info *ei);

/** Multiply SCI and ERR by @p gain and set BUNIT to ELECTRONS. */
void calib_gain(struct calib_frame *f, double gain);

/** sci -= k*ref, err = sqrt(err^2 + (k*err_ref)^2), dq |= dq_ref, over the part of @p ref that
 *  starts at (@p ox, @p oy). @p what names the reference in errors. */
NODISCARD enum err calib_subtract(struct calib_frame *f, const struct calib_frame *ref, double k,
                                  int64_t ox, int64_t oy, const char *what, struct err_info *ei);

/** Flat field: divide by the flat normalised by its mean (over the used part). Pixels where the
 *  flat is <= 0 or not finite get DQ 512; default mode leaves their SCI unchanged and excludes
 *  them from the mean. @p min_value (ccdproc min_value) applies when has_min. The mean used is
 *  returned in @p mean_out (may be NULL). */
NODISCARD enum err calib_flat(struct calib_frame *f, const struct calib_frame *flat, int64_t ox,
                              int64_t oy, enum calib_mode mode, bool has_min, double min_value,
                              double *mean_out, struct err_info *ei);

/** Full-well saturation: DQ 256 where SCI > @p level. Returns the count. */
size_t calib_dq_fullwell(struct calib_frame *f, double level);

/** Cosmic-ray rejection across CR-SPLIT exposures of one pointing (all the same shape, in
 *  electrons with ERR): per pixel the median of the exposures scaled to exposure time is the
 *  guess; a pixel is rejected when (v - t*guess)^2 > sigma^2 * (err^2 + (scalenoise*t*guess)^2)
 *  and gets DQ 8192. @p out receives the exposure-weighted sum of the good pixels scaled to the
 *  total exposure time (sci, err, dq). Returns the rejected count in @p nrej. */
NODISCARD enum err calib_crreject(struct calib_frame *const *frames, size_t n, double sigma,
                                  double scalenoise, struct calib_frame *out, size_t *nrej,
                                  struct err_info *ei);

/* ------------------------------------------------------------------------------------------- */
/* The whole chain */

/** What to do; unset references are NULL. */
struct calib_plan {
    enum calib_mode mode;
    const char *overscan;          /* section or NULL */
    enum calib_oscan_stat oscan_stat;
    bool oscan_fit;                /* linear fit of the row levels */
    const char *trim;              /* section or NULL */
    bool has_gain;
    double gain;                   /* e-/ADU */
    bool has_readnoise;
    double readnoise;              /* e- */
    double atodsat;                /* > 0: A-to-D saturation level (DN) */
    double fullwell;               /* > 0: full-well level (e-) */
    const struct calib_frame *bias;
    const struct calib_frame *dark;
    const struct calib_frame *flat;
    const struct calib_frame *mask; /* bad-pixel image */
    const struct calib_bpix *bpix;  /* bad-pixel table rows */
    size_t nbpix;
    const char *bpix_name;
    bool dark_scale;               /* scale the dark by exposure time (default mode: always) */
    bool has_flat_min;
    double flat_min;
    void (*progress)(int64_t rows_done, int64_t rows_total, void *arg); /* calib_run_file */
    void *progress_arg;
};

/** Keywords and history a run produced, for the product header. */
struct calib_record {
    struct {
        char name[9];
        bool is_num;
        double num;
        char str[72];
        char comment[48];
    } keys[CALIB_MAX_KEYS];
    int nkeys;
    char history[CALIB_MAX_HISTORY][72];
    int nhistory;
};

/** Run the chain on @p f in the order of @p plan->mode. References may have the frame's shape
 *  after trimming, or its raw shape when trimming is requested (then the same section is used);
 *  anything else is ERR_CALIB naming both shapes. */
NODISCARD enum err calib_run(struct calib_frame *f, const struct calib_plan *plan,
                             struct calib_record *rec, struct err_info *ei);

/** Reference files for calib_run_file (NULL: not used). */
struct calib_ref_paths {
    const char *bias, *dark, *flat, *mask;
};

/** The same chain streamed from files: the frame (@p hdu as in calib_frame_read) and every
 *  reference are read band by band (each file opened once; the flat is read twice, for its
 *  mean; with an overscan section the frame is read twice, for the row levels) and each band
 *  goes through the whole chain and is written to @p out_path (SCI, ERR, DQ as extensions 1-3;
 *  headers as calib_frame_write). Memory is a few bands, whatever the frame size. The plan's
 *  bias/dark/flat/mask frames are ignored in favour of @p refs. Same arithmetic as calib_run. */
NODISCARD enum err calib_run_file(const char *in_path, const char *hdu,
                                  const struct calib_plan *plan,
                                  const struct calib_ref_paths *refs, const char *out_path,
                                  const struct calib_write_opts *wo, size_t band_bytes,
                                  struct calib_record *rec, struct err_info *ei);

/** Append to a record (silently capped). */
void calib_record_str(struct calib_record *r, const char *name, const char *value,
                      const char *comment);
void calib_record_num(struct calib_record *r, const char *name, double value,
                      const char *comment);
void calib_record_history(struct calib_record *r, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* ------------------------------------------------------------------------------------------- */
/* Combiner */

enum calib_combine_method { CALIB_COMBINE_AVERAGE = 0, CALIB_COMBINE_MEDIAN, CALIB_COMBINE_SUM };

struct calib_combine_opts {
    enum calib_combine_method method;
    enum calib_mode mode;
    bool sigma_clip;
    double sigma_low, sigma_high;  /* thresholds (ccdproc default 3, 3); <= 0: that side off */
    bool clip_extrema;
    int nlow, nhigh;
    bool has_min_clip, has_max_clip;
    double min_clip, max_clip;
    const double *scale;           /* per-input multipliers, or NULL */
    bool scale_inv_median;         /* scale each input by 1/median(input) (computed) */
    const double *weights;         /* per-input weights (average and sum), or NULL */
    size_t band_bytes;             /* band buffer budget; 0 = CALIB_BAND_BYTES */
    bool float32_out;              /* write SCI/ERR as float32 instead of float64 */
    bool checksum;                 /* DATASUM/CHECKSUM in the product */
    bool no_sync;                  /* skip fsync at commit */
    void (*progress)(int64_t rows_done, int64_t rows_total, void *arg);
    void *progress_arg;
};

/** Combine the values @p v[0..n) of one pixel (n <= CALIB_MAX_INPUTS). @p reject marks values
 *  already rejected on entry (input DQ or NaN; may be NULL) and is updated. @p scratch holds at
 *  least 2*n doubles. Writes the value, its standard deviation and whether every value was
 *  rejected. This is the per-pixel kernel of calib_combine_files (exposed for tests). */
void calib_combine_pixel(const double *v, bool *reject, size_t n,
                         const struct calib_combine_opts *o, const double *scale,
                         double *scratch, double *value, double *sigma, bool *all_rejected);

struct calib_combine_stats {
    int64_t nx, ny;
    int64_t band_rows;             /* rows per band */
    size_t band_bytes;             /* bytes held by band buffers */
    int64_t all_rejected;          /* output pixels with DQ 8192 */
};

/** Combine FITS frames (SCI,1 or the first image of each) band by band into @p out_path (SCI,
 *  ERR, DQ extensions; primary and SCI headers copied from the first input; NCOMBINE and
 *  IMCMBnnn keywords). Each input is opened once; memory is the band buffers plus a row of
 *  output, independent of the number of frames. Shapes must agree. */
NODISCARD enum err calib_combine_files(const char *const *inputs, size_t n, const char *out_path,
                                       const struct calib_combine_opts *o,
                                       struct calib_combine_stats *st, struct err_info *ei);

/* ------------------------------------------------------------------------------------------- */
/* Best references (CRDS-rmap style catalog in YAML) */

struct calib_refcat;

#define CALIB_REFCAT_MAX_BYTES   (4u << 20)
#define CALIB_REFCAT_MAX_TYPES   64
#define CALIB_REFCAT_MAX_PARKEYS 12
#define CALIB_REFCAT_MAX_RULES   4096
#define CALIB_REFCAT_MAX_DATES   4096
#define CALIB_REFCAT_MAX_DEPTH   16      /* YAML nesting (a catalog needs 6) */
#define CALIB_REFCAT_MAX_NODES   1000000 /* YAML nodes (parser events) in one catalog */

/** Parse a catalog from YAML text; @p name is used in messages (file name). Errors name the
 *  line. One YAML document; aliases and anchored scalars are refused. */
NODISCARD enum err calib_refcat_parse(const char *text, size_t len, const char *name,
                                      struct calib_refcat **out, struct err_info *ei);
/** Read and parse a catalog file. */
NODISCARD enum err calib_refcat_load(const char *path, struct calib_refcat **out,
                                     struct err_info *ei);
void calib_refcat_destroy(struct calib_refcat *c);

/** The digest the catalog's optional `checksums:` map gives for reference @p file
 *  ("sha1:<hex>" or "sha256:<hex>", lower case; borrowed), or NULL. */
const char *calib_refcat_checksum(const struct calib_refcat *c, const char *file);
/** Instrument the catalog is for (upper case). */
const char *calib_refcat_instrument(const struct calib_refcat *c);
/** Number of reference types and the name of type @p i (lower case). */
size_t calib_refcat_ntypes(const struct calib_refcat *c);
const char *calib_refcat_type(const struct calib_refcat *c, size_t i);
/** Header keywords the catalog needs for type @p type (NULL-terminated list, borrowed; empty
 *  for a type that is N/A), or NULL when the catalog has no such type. */
const char *const *calib_refcat_parkeys(const struct calib_refcat *c, const char *type);

/** Header lookup: the raw value of @p key, or NULL when the header has no such keyword. */
typedef const char *(*calib_header_get)(const char *key, void *arg);

/** Normalise a header value as CRDS does (strip, upper case, numbers as Python floats, ANY ->
 *  "*", N/A spellings -> "N/A", T/TRUE -> "T", F/FALSE -> "F", NULL -> "UNDEFINED"). */
void calib_refcat_condition(const char *raw, char *out, size_t cap);

/** Normalise an observation date/time to "YYYY-MM-DD HH:MM:SS" (accepts ISO, "YYYY-MM-DD"
 *  plus a separate time, "Mon DD YYYY [HH:MM:SS]", "DD/MM/YY"). */
NODISCARD enum err calib_refcat_date(const char *date, const char *time, char out[20],
                                     struct err_info *ei);

struct calib_refsel {
    char file[256];       /* chosen file name, or "N/A" */
    char useafter[20];    /* its USEAFTER ("" when the rule has none) */
    int weight;           /* match weight of the winning rule */
    bool not_applicable;  /* the type does not apply (file is "N/A") */
};

/** Select the best reference of @p type for a header at @p obs_time ("YYYY-MM-DD HH:MM:SS").
 *  ERR_NOT_FOUND: unknown type; ERR_CALIB: no match, no USEAFTER <= obs_time, or an ambiguous
 *  tie; the message names the type, the header values and the nearest candidates. */
NODISCARD enum err calib_refcat_select(const struct calib_refcat *c, const char *type,
                                       calib_header_get get, void *arg, const char *obs_time,
                                       struct calib_refsel *out, struct err_info *ei);

#endif
