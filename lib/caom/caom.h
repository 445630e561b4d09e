/* caom.h - the CAOM-2.4 observation model: value structs, XML read/write, XSD validation,
 * metaChecksum/accMetaChecksum, JSON rendering, merge, and plane computed metadata.
 *
 * The model is a tree of visible value records (style.md allows this for value records):
 * observation -> planes -> artifacts -> parts -> chunks, each entity owning its children.
 *
 * Conventions used throughout:
 *  - Every string field is a heap copy owned by its record (free()d by the record's free
 *    function); NULL means "absent". Set them with caom_str_set().
 *  - Optional numbers use the small records caom_optd / caom_opti / caom_optl / caom_optdate
 *    whose `set` flag says whether the value is present. A zero-initialised (calloc'd) record
 *    therefore has every optional field absent.
 *  - Optional nested value objects are pointers (NULL = absent), allocated with calloc and
 *    released by the parent's free function. Required nested value objects are embedded.
 *  - Optional booleans are enum caom_bool (CAOM_BOOL_UNSET = 0).
 *  - Enumerated vocabularies have a 0 member meaning "absent".
 *  - Lists are (pointer, count) pairs; string lists are struct caom_strlist.
 *  - Dates are milliseconds since the Unix epoch, UTC (IVOA format on the wire).
 *  - Children are kept in document / insertion order; checksums sort as Java does.
 *
 * Threading: every function is reentrant and keeps no mutable global state (libxml2's
 * one-time set-up is done inside, under pthread_once). A tree may be read by any number of
 * threads at once; a function that changes a tree (merge, compute, checksum update, the
 * setters) needs it to itself. A loaded caom_schema is read-only and may be shared.
 *
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_CAOM_CAOM_H
#define OBSFLOW_CAOM_CAOM_H

#include "core/compiler.h"
#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------------------------------------
 * Limits (caps on everything that grows; the reader refuses documents beyond them)
 * ------------------------------------------------------------------------------------------- */
#define CAOM_XML_MAX_BYTES   (20u * 1024u * 1024u) /* torkeep's document limit, 20 MiB */
#define CAOM_MAX_CHILDREN    100000u               /* planes/artifacts/parts/chunks per parent */
#define CAOM_MAX_LIST        1000000u              /* vertices, samples, keywords per list */
#define CAOM_XML_NS_24       "http://www.opencadc.org/caom2/xml/v2.4"
#define CAOM_XML_NS_23       "http://www.opencadc.org/caom2/xml/v2.3"
#define CAOM_XML_NS_22       "vos://cadc.nrc.ca!vospace/CADC/xml/CAOM/v2.2"
#define CAOM_XML_NS_XSI      "http://www.w3.org/2001/XMLSchema-instance"
#define CAOM_CHECKSUM_URI_MAX 40                   /* "md5:" + 32 hex + NUL, rounded */

/* ---------------------------------------------------------------------------------------------
 * Optional scalars
 * ------------------------------------------------------------------------------------------- */
struct caom_optd {      /* optional double */
    bool set;           /* true when the value is present */
    double v;           /* the value (meaningless when !set) */
};
struct caom_opti {      /* optional 32-bit integer (Java Integer) */
    bool set;           /* true when the value is present */
    int32_t v;          /* the value */
};
struct caom_optl {      /* optional 64-bit integer (Java Long) */
    bool set;           /* true when the value is present */
    int64_t v;          /* the value */
};
struct caom_optdate {   /* optional date */
    bool set;           /* true when the value is present */
    int64_t ms;         /* milliseconds since 1970-01-01T00:00:00 UTC */
};

enum caom_bool {        /* optional boolean */
    CAOM_BOOL_UNSET = 0, /* absent */
    CAOM_BOOL_FALSE,    /* false */
    CAOM_BOOL_TRUE      /* true */
};

/** Present-value constructors for the optional scalars. */
static inline struct caom_optd caom_d(double v) { struct caom_optd o = {true, v}; return o; }
static inline struct caom_opti caom_i(int32_t v) { struct caom_opti o = {true, v}; return o; }
static inline struct caom_optl caom_l(int64_t v) { struct caom_optl o = {true, v}; return o; }
static inline struct caom_optdate caom_date(int64_t ms) { struct caom_optdate o = {true, ms}; return o; }

/** A growable list of owned strings (keywords, group URIs, member / input URIs). */
struct caom_strlist {
    char **v;           /* owned strings, each non-NULL */
    size_t n;           /* number of strings */
};

/* ---------------------------------------------------------------------------------------------
 * Vocabularies
 * ------------------------------------------------------------------------------------------- */
enum caom_obs_kind {
    CAOM_OBS_SIMPLE = 0,  /* caom2:SimpleObservation */
    CAOM_OBS_DERIVED      /* caom2:DerivedObservation (2.3: CompositeObservation) */
};

enum caom_intent {
    CAOM_INTENT_UNSET = 0,    /* absent */
    CAOM_INTENT_SCIENCE,      /* "science" */
    CAOM_INTENT_CALIBRATION   /* "calibration" */
};

enum caom_target_type {
    CAOM_TARGET_UNSET = 0,    /* absent */
    CAOM_TARGET_OBJECT,       /* "object" */
    CAOM_TARGET_FIELD         /* "field" */
};

enum caom_status {            /* Requirements.flag */
    CAOM_STATUS_UNSET = 0,    /* absent: no requirements element */
    CAOM_STATUS_FAIL          /* "fail" */
};

enum caom_quality {           /* DataQuality.flag */
    CAOM_QUALITY_UNSET = 0,   /* absent: no quality element */
    CAOM_QUALITY_JUNK         /* "junk" */
};

enum caom_release_type {
    CAOM_RELEASE_UNSET = 0,   /* absent (invalid for a written artifact) */
    CAOM_RELEASE_DATA,        /* "data" */
    CAOM_RELEASE_META         /* "meta" */
};

/** Energy bands, in the Java enum declaration order (used for checksums). */
enum caom_energy_band {
    CAOM_BAND_UNSET = 0,
    CAOM_BAND_RADIO,          /* "Radio"      > 10 mm */
    CAOM_BAND_MILLIMETER,     /* "Millimeter" 0.1-10 mm */
    CAOM_BAND_INFRARED,       /* "Infrared"   1-100 um */
    CAOM_BAND_OPTICAL,        /* "Optical"    300-1000 nm */
    CAOM_BAND_UV,             /* "UV"         100-300 nm */
    CAOM_BAND_EUV,            /* "EUV"        10-100 nm */
    CAOM_BAND_XRAY,           /* "X-ray"      0.12-120 keV */
    CAOM_BAND_GAMMARAY,       /* "Gamma-ray"  120 keV - 1 GeV */
    CAOM_BAND__COUNT
};

/** Polarization states, in the Java enum declaration order (used for checksums). */
enum caom_pol_state {
    CAOM_POL_UNSET = 0,
    CAOM_POL_I, CAOM_POL_Q, CAOM_POL_U, CAOM_POL_V,       /* Stokes 1..4 */
    CAOM_POL_POLI, CAOM_POL_FPOLI, CAOM_POL_POLA,         /* FITS 5, 6, 7 */
    CAOM_POL_EPOLI, CAOM_POL_CPOLI, CAOM_POL_NPOLI,       /* FITS 8, 9, 10 */
    CAOM_POL_RR, CAOM_POL_LL, CAOM_POL_RL, CAOM_POL_LR,   /* FITS -1..-4 */
    CAOM_POL_XX, CAOM_POL_YY, CAOM_POL_XY, CAOM_POL_YX,   /* FITS -5..-8 */
    CAOM_POL__COUNT
};

enum caom_segment {           /* polygon sample vertex type */
    CAOM_SEG_CLOSE = 0,       /* 0: close the current loop */
    CAOM_SEG_LINE = 1,        /* 1: line to this vertex */
    CAOM_SEG_MOVE = 2         /* 2: start a new loop at this vertex */
};

/* ---------------------------------------------------------------------------------------------
 * Chunk WCS value types
 * ------------------------------------------------------------------------------------------- */
struct caom_axis {            /* Axis */
    char *ctype;              /* required coordinate type (FITS CTYPE) */
    char *cunit;              /* optional unit (FITS CUNIT) */
};

struct caom_coord_error {     /* CoordError */
    struct caom_optd syser;   /* systematic error */
    struct caom_optd rnder;   /* random error */
};

struct caom_ref_coord {       /* RefCoord: a pixel and its world value */
    double pix;               /* pixel coordinate (FITS CRPIX convention) */
    double val;               /* world coordinate value */
};

struct caom_coord2d {         /* Coord2D: a pair of RefCoords */
    struct caom_ref_coord coord1; /* first axis */
    struct caom_ref_coord coord2; /* second axis */
};

struct caom_value_coord2d {   /* ValueCoord2D: a world-coordinate pair */
    double coord1;            /* longitude-like value, degrees */
    double coord2;            /* latitude-like value, degrees */
};

struct caom_dimension2d {     /* Dimension2D */
    int64_t naxis1;           /* pixels along axis 1 */
    int64_t naxis2;           /* pixels along axis 2 */
};

struct caom_coord_range1d {   /* CoordRange1D */
    struct caom_ref_coord start; /* first pixel/value */
    struct caom_ref_coord end;   /* last pixel/value */
};

struct caom_coord_bounds1d {  /* CoordBounds1D: samples/range* */
    struct caom_coord_range1d *samples; /* owned array of ranges */
    size_t n_samples;         /* number of ranges */
};

struct caom_coord_function1d { /* CoordFunction1D */
    int64_t naxis;            /* number of pixels */
    double delta;             /* world increment per pixel (FITS CDELT) */
    struct caom_ref_coord ref_coord; /* reference pixel and value (CRPIX, CRVAL) */
};

struct caom_coord_axis1d {    /* CoordAxis1D */
    struct caom_axis axis;    /* required axis description */
    struct caom_coord_error *error;       /* optional */
    struct caom_coord_range1d *range;     /* optional */
    struct caom_coord_bounds1d *bounds;   /* optional */
    struct caom_coord_function1d *function; /* optional */
};

struct caom_coord_range2d {   /* CoordRange2D */
    struct caom_coord2d start; /* first corner */
    struct caom_coord2d end;   /* opposite corner */
};

struct caom_coord_circle2d {  /* CoordCircle2D */
    struct caom_value_coord2d center; /* centre, degrees */
    double radius;            /* radius, degrees */
};

struct caom_coord_polygon2d { /* CoordPolygon2D: vertices/vertex+ */
    struct caom_value_coord2d *vertices; /* owned array */
    size_t n_vertices;        /* number of vertices (>= 3 to be valid) */
};

enum caom_bounds2d_kind {
    CAOM_BOUNDS2D_CIRCLE = 1, /* circle member is used */
    CAOM_BOUNDS2D_POLYGON = 2 /* polygon member is used */
};

struct caom_coord_bounds2d {  /* CoordBounds2D: a choice of circle or polygon */
    enum caom_bounds2d_kind kind;        /* which member is valid */
    struct caom_coord_circle2d circle;   /* when kind == CIRCLE */
    struct caom_coord_polygon2d polygon; /* when kind == POLYGON (owned vertices) */
};

struct caom_coord_function2d { /* CoordFunction2D */
    struct caom_dimension2d dimension; /* image size in pixels */
    struct caom_coord2d ref_coord;     /* reference pixel/value per axis */
    struct caom_optd cd11;    /* CD matrix element 1_1 (degrees per pixel) */
    struct caom_optd cd12;    /* CD matrix element 1_2 */
    struct caom_optd cd21;    /* CD matrix element 2_1 */
    struct caom_optd cd22;    /* CD matrix element 2_2 */
};

struct caom_coord_axis2d {    /* CoordAxis2D */
    struct caom_axis axis1;   /* required first axis */
    struct caom_axis axis2;   /* required second axis */
    struct caom_coord_error *error1;      /* optional */
    struct caom_coord_error *error2;      /* optional */
    struct caom_coord_range2d *range;     /* optional */
    struct caom_coord_bounds2d *bounds;   /* optional */
    struct caom_coord_function2d *function; /* optional */
};

struct caom_spatial_wcs {     /* SpatialWCS (chunk position) */
    struct caom_coord_axis2d axis; /* required */
    char *coordsys;           /* optional: ICRS, FK5, FK4, GAL ... (FITS RADESYS) */
    struct caom_optd equinox; /* optional: Julian years */
    struct caom_optd resolution; /* optional: arcsec */
};

struct caom_energy_transition { /* EnergyTransition */
    char *species;            /* required: e.g. "H I" */
    char *transition;         /* required: e.g. "21cm" */
};

struct caom_spectral_wcs {    /* SpectralWCS (chunk energy) */
    struct caom_coord_axis1d axis; /* required */
    char *specsys;            /* required in 2.4 (FITS SPECSYS) */
    char *ssysobs;            /* optional */
    char *ssyssrc;            /* optional */
    struct caom_optd restfrq; /* optional, Hz */
    struct caom_optd restwav; /* optional, m */
    struct caom_optd velosys; /* optional, m/s */
    struct caom_optd zsource; /* optional redshift */
    struct caom_optd velang;  /* optional, degrees */
    char *bandpass_name;      /* optional filter name */
    struct caom_optd resolving_power; /* optional R */
    struct caom_energy_transition *transition; /* optional */
};

struct caom_temporal_wcs {    /* TemporalWCS (chunk time) */
    struct caom_coord_axis1d axis; /* required; ctype TIME, cunit d, MJD values */
    char *timesys;            /* optional: UTC, TAI, TT ... */
    char *trefpos;            /* optional */
    struct caom_optd mjdref;  /* optional reference MJD added to the axis values */
    struct caom_optd exposure; /* optional, seconds */
    struct caom_optd resolution; /* optional, the axis unit (days) */
};

struct caom_polarization_wcs { /* PolarizationWCS */
    struct caom_coord_axis1d axis; /* required; ctype STOKES */
};

struct caom_custom_wcs {      /* CustomWCS */
    struct caom_coord_axis1d axis; /* required; ctype e.g. FDEP, RM */
};

struct caom_slice {           /* Slice */
    struct caom_axis axis;    /* required */
    int64_t bin;              /* pixel index along the axis */
};

struct caom_observable_axis { /* ObservableAxis */
    struct caom_slice dependent;    /* required */
    struct caom_slice *independent; /* optional */
};

/* ---------------------------------------------------------------------------------------------
 * Plane computed metadata value types
 * ------------------------------------------------------------------------------------------- */
struct caom_point {           /* Point */
    double cval1;             /* longitude, degrees */
    double cval2;             /* latitude, degrees */
};

struct caom_vertex {          /* Vertex (MultiPolygon sample) */
    double cval1;             /* longitude, degrees */
    double cval2;             /* latitude, degrees */
    enum caom_segment type;   /* CLOSE / LINE / MOVE */
};

struct caom_polygon {         /* Polygon */
    struct caom_point *points; /* owned hull points (>= 3) */
    size_t n_points;          /* number of points */
    struct caom_vertex *samples; /* owned MultiPolygon vertices */
    size_t n_samples;         /* number of sample vertices */
};

struct caom_circle {          /* Circle */
    struct caom_point center; /* centre, degrees */
    double radius;            /* radius, degrees */
};

enum caom_shape_kind {
    CAOM_SHAPE_POLYGON = 1,   /* polygon member is used (xsi:type caom2:Polygon) */
    CAOM_SHAPE_CIRCLE = 2     /* circle member is used (xsi:type caom2:Circle) */
};

struct caom_shape {           /* Shape: Polygon or Circle */
    enum caom_shape_kind kind; /* which member is valid */
    struct caom_polygon polygon; /* when kind == POLYGON */
    struct caom_circle circle;   /* when kind == CIRCLE */
};

struct caom_interval {        /* Interval */
    double lower;             /* lower bound */
    double upper;             /* upper bound */
};

struct caom_sampled_interval { /* SampledInterval */
    double lower;             /* lower bound */
    double upper;             /* upper bound */
    struct caom_interval *samples; /* owned sub-intervals (>= 1 to be valid) */
    size_t n_samples;         /* number of samples */
};

struct caom_position {        /* Plane.position */
    struct caom_shape *bounds; /* optional footprint */
    struct caom_dimension2d *dimension; /* optional */
    struct caom_optd resolution; /* optional, arcsec */
    struct caom_interval *resolution_bounds; /* optional */
    struct caom_optd sample_size; /* optional, arcsec */
    enum caom_bool time_dependent; /* optional */
};

struct caom_energy {          /* Plane.energy */
    struct caom_sampled_interval *bounds; /* optional, metres */
    struct caom_optl dimension; /* optional */
    struct caom_optd resolving_power; /* optional */
    struct caom_interval *resolving_power_bounds; /* optional */
    struct caom_optd sample_size; /* optional, metres */
    char *bandpass_name;      /* optional */
    enum caom_energy_band *bands; /* owned list of energy bands (energyBands/emBand*) */
    size_t n_bands;           /* number of bands */
    struct caom_optd restwav; /* optional, metres */
    struct caom_energy_transition *transition; /* optional */
};

struct caom_time {            /* Plane.time */
    struct caom_sampled_interval *bounds; /* optional, MJD UTC */
    struct caom_optl dimension; /* optional */
    struct caom_optd resolution; /* optional, days */
    struct caom_interval *resolution_bounds; /* optional */
    struct caom_optd sample_size; /* optional, days */
    struct caom_optd exposure; /* optional, seconds */
};

struct caom_polarization {    /* Plane.polarization */
    enum caom_pol_state *states; /* owned list of states (states/state+) */
    size_t n_states;          /* number of states */
    struct caom_optl dimension; /* optional */
};

struct caom_custom_axis {     /* Plane.custom (CustomAxis) */
    char *ctype;              /* required */
    struct caom_sampled_interval *bounds; /* optional */
    struct caom_optl dimension; /* optional */
};

/* ---------------------------------------------------------------------------------------------
 * Observation / plane value types
 * ------------------------------------------------------------------------------------------- */
struct caom_proposal {        /* Proposal */
    char *id;                 /* required */
    char *pi;                 /* optional principal investigator */
    char *project;            /* optional */
    char *title;              /* optional */
    struct caom_strlist keywords; /* optional keywords */
};

struct caom_target {          /* Target */
    char *name;               /* required */
    char *target_id;          /* optional URI (2.4) */
    enum caom_target_type type; /* optional */
    enum caom_bool standard;  /* optional: a standard star */
    struct caom_optd redshift; /* optional */
    enum caom_bool moving;    /* optional: solar-system object */
    struct caom_strlist keywords; /* optional keywords */
};

struct caom_target_position { /* TargetPosition */
    char *coordsys;           /* required */
    struct caom_optd equinox; /* optional */
    struct caom_point coordinates; /* required (cval1, cval2) */
};

struct caom_telescope {       /* Telescope */
    char *name;               /* required */
    struct caom_optd geo_x;   /* optional geoLocationX, metres */
    struct caom_optd geo_y;   /* optional geoLocationY, metres */
    struct caom_optd geo_z;   /* optional geoLocationZ, metres */
    struct caom_strlist keywords; /* optional keywords */
};

struct caom_instrument {      /* Instrument */
    char *name;               /* required */
    struct caom_strlist keywords; /* optional keywords */
};

struct caom_environment {     /* Environment (all optional) */
    struct caom_optd seeing;  /* arcsec */
    struct caom_optd humidity; /* percent */
    struct caom_optd elevation; /* degrees */
    struct caom_optd tau;     /* optical depth */
    struct caom_optd wavelength_tau; /* metres */
    struct caom_optd ambient_temp; /* Celsius */
    enum caom_bool photometric; /* photometric conditions */
};

struct caom_provenance {      /* Provenance */
    char *name;               /* required */
    char *version;            /* optional */
    char *project;            /* optional */
    char *producer;           /* optional */
    char *run_id;             /* optional runID */
    char *reference;          /* optional URI */
    struct caom_optdate last_executed; /* optional */
    struct caom_strlist keywords; /* optional keywords */
    struct caom_strlist inputs; /* optional plane URIs (caom:coll/obs/prod) */
};

struct caom_metrics {         /* Metrics (all optional) */
    struct caom_optd source_number_density; /* sourceNumberDensity */
    struct caom_optd background;            /* background */
    struct caom_optd background_stddev;     /* backgroundStddev */
    struct caom_optd flux_density_limit;    /* fluxDensityLimit */
    struct caom_optd mag_limit;             /* magLimit */
    struct caom_optd sample_snr;            /* sampleSNR (2.4) */
};

/* ---------------------------------------------------------------------------------------------
 * Entities
 * ------------------------------------------------------------------------------------------- */
struct caom_entity {          /* common attributes of Observation, Plane, Artifact, Part, Chunk */
    uint8_t id[16];           /* UUID, big-endian bytes (caom2:id) */
    struct caom_optdate last_modified;     /* caom2:lastModified (server-set) */
    struct caom_optdate max_last_modified; /* caom2:maxLastModified (server-set) */
    char meta_checksum[CAOM_CHECKSUM_URI_MAX];     /* "md5:<hex>" or "" when absent */
    char acc_meta_checksum[CAOM_CHECKSUM_URI_MAX]; /* "md5:<hex>" or "" when absent */
    char *meta_producer;      /* optional caom2:metaProducer URI (2.4) */
};

struct caom_chunk {           /* Chunk */
    struct caom_entity e;     /* id and bookkeeping attributes */
    char *product_type;       /* optional open vocabulary term */
    struct caom_opti naxis;   /* optional number of axes */
    struct caom_opti observable_axis;   /* optional 1-based axis index */
    struct caom_opti position_axis1;    /* optional 1-based axis index */
    struct caom_opti position_axis2;    /* optional 1-based axis index */
    struct caom_opti energy_axis;       /* optional 1-based axis index */
    struct caom_opti time_axis;         /* optional 1-based axis index */
    struct caom_opti polarization_axis; /* optional 1-based axis index */
    struct caom_opti custom_axis;       /* optional 1-based axis index (2.4) */
    struct caom_observable_axis *observable;   /* optional */
    struct caom_spatial_wcs *position;         /* optional */
    struct caom_spectral_wcs *energy;          /* optional */
    struct caom_temporal_wcs *time;            /* optional */
    struct caom_polarization_wcs *polarization; /* optional */
    struct caom_custom_wcs *custom;            /* optional */
};

struct caom_part {            /* Part */
    struct caom_entity e;     /* id and bookkeeping attributes */
    char *name;               /* required, unique in the artifact (HDU index for FITS) */
    char *product_type;       /* optional */
    struct caom_chunk **chunks; /* owned children */
    size_t n_chunks;          /* number of chunks */
};

struct caom_artifact {        /* Artifact */
    struct caom_entity e;     /* id and bookkeeping attributes */
    char *uri;                /* required, unique in the plane */
    char *product_type;       /* required open vocabulary term */
    enum caom_release_type release_type; /* required */
    struct caom_optdate content_release; /* optional (2.4) */
    struct caom_strlist content_read_groups; /* optional group URIs (2.4) */
    char *content_type;       /* optional MIME type */
    struct caom_optl content_length; /* optional bytes */
    char *content_checksum;   /* optional URI, e.g. md5:<hex> */
    struct caom_part **parts; /* owned children */
    size_t n_parts;           /* number of parts */
};

struct caom_plane {           /* Plane */
    struct caom_entity e;     /* id and bookkeeping attributes */
    char *product_id;         /* required, unique in the observation */
    char *creator_id;         /* optional URI */
    struct caom_optdate meta_release; /* optional */
    struct caom_strlist meta_read_groups; /* optional group URIs (2.4) */
    struct caom_optdate data_release; /* optional */
    struct caom_strlist data_read_groups; /* optional group URIs (2.4) */
    char *data_product_type;  /* optional open vocabulary term */
    struct caom_opti calibration_level; /* optional, -1..4 */
    struct caom_provenance *provenance; /* optional */
    char *observable_ucd;     /* optional Plane.observable.ucd (2.4) */
    struct caom_metrics *metrics; /* optional */
    enum caom_quality quality; /* optional DataQuality.flag */
    struct caom_position *position; /* optional computed metadata */
    struct caom_energy *energy; /* optional computed metadata */
    struct caom_time *time;   /* optional computed metadata */
    struct caom_polarization *polarization; /* optional computed metadata */
    struct caom_custom_axis *custom; /* optional computed metadata (2.4) */
    struct caom_artifact **artifacts; /* owned children */
    size_t n_artifacts;       /* number of artifacts */
};

struct caom_observation {     /* Observation (Simple or Derived) */
    struct caom_entity e;     /* id and bookkeeping attributes */
    enum caom_obs_kind kind;  /* SimpleObservation or DerivedObservation */
    char *collection;         /* required */
    char *observation_id;     /* required */
    struct caom_optdate meta_release; /* optional */
    struct caom_strlist meta_read_groups; /* optional group URIs (2.4) */
    struct caom_opti sequence_number; /* optional */
    char *algorithm_name;     /* required Algorithm.name ("exposure" for simple) */
    char *type;               /* optional observation type (e.g. OBJECT, FLAT) */
    enum caom_intent intent;  /* optional */
    struct caom_proposal *proposal; /* optional */
    struct caom_target *target; /* optional */
    struct caom_target_position *target_position; /* optional */
    enum caom_status requirements; /* optional Requirements.flag */
    struct caom_telescope *telescope; /* optional */
    struct caom_instrument *instrument; /* optional */
    struct caom_environment *environment; /* optional */
    struct caom_plane **planes; /* owned children */
    size_t n_planes;          /* number of planes */
    struct caom_strlist members; /* Derived only: observation URIs (caom:coll/obs) */
};

/* ---------------------------------------------------------------------------------------------
 * Construction and destruction
 * ------------------------------------------------------------------------------------------- */

/** Replace *@p dst with a copy of @p s (NULL clears it). ERR_NOMEM on failure (dst unchanged). */
NODISCARD enum err caom_str_set(char **dst, const char *s);

/** Append a copy of @p s to @p l. ERR_TOO_LARGE beyond CAOM_MAX_LIST, ERR_NOMEM. */
NODISCARD enum err caom_strlist_add(struct caom_strlist *l, const char *s);
/** Free every string of @p l and empty it. */
void caom_strlist_clear(struct caom_strlist *l);

/** Fill @p id with a fresh random (version 4) UUID. */
void caom_uuid_random(uint8_t id[16]);
/** Format @p id as 36 lower-case characters plus NUL into @p out. */
void caom_uuid_format(const uint8_t id[16], char out[37]);
/** Parse a canonical UUID string; ERR_PARSE when malformed. */
NODISCARD enum err caom_uuid_parse(const char *s, uint8_t id[16]);

/** Parse an IVOA date (yyyy-MM-dd'T'HH:mm:ss[.SSS], also with a trailing Z or a space)
 * into milliseconds since the epoch. ERR_PARSE when malformed. */
NODISCARD enum err caom_date_parse(const char *s, int64_t *ms);
/** Format @p ms as yyyy-MM-ddTHH:mm:ss.SSS (24 bytes incl. NUL). */
void caom_date_format(int64_t ms, char out[32]);

/* Each *_new returns a zeroed entity with a random UUID and copies of the required strings
 * (which may be NULL and set later), or NULL when out of memory. */
NODISCARD struct caom_observation *caom_observation_new(enum caom_obs_kind kind, const char *collection,
                                              const char *observation_id);
NODISCARD struct caom_plane *caom_plane_new(const char *product_id);
NODISCARD struct caom_artifact *caom_artifact_new(const char *uri, const char *product_type,
                                        enum caom_release_type release_type);
NODISCARD struct caom_part *caom_part_new(const char *name);
NODISCARD struct caom_chunk *caom_chunk_new(void);

/* Destroy an entity and everything it owns; NULL is accepted. */
void caom_observation_free(struct caom_observation *o);
void caom_plane_free(struct caom_plane *p);
void caom_artifact_free(struct caom_artifact *a);
void caom_part_free(struct caom_part *p);
void caom_chunk_free(struct caom_chunk *c);

/* Free an optional value object and everything it owns; NULL is accepted. Value objects are
 * allocated with calloc() by whoever builds them. */
void caom_proposal_free(struct caom_proposal *x);
void caom_target_free(struct caom_target *x);
void caom_target_position_free(struct caom_target_position *x);
void caom_telescope_free(struct caom_telescope *x);
void caom_instrument_free(struct caom_instrument *x);
void caom_environment_free(struct caom_environment *x);
void caom_provenance_free(struct caom_provenance *x);
void caom_metrics_free(struct caom_metrics *x);
void caom_position_free(struct caom_position *x);
void caom_energy_free(struct caom_energy *x);
void caom_time_free(struct caom_time *x);
void caom_polarization_free(struct caom_polarization *x);
void caom_custom_axis_free(struct caom_custom_axis *x);
void caom_sampled_interval_free(struct caom_sampled_interval *x);
void caom_shape_free(struct caom_shape *x);
void caom_transition_free(struct caom_energy_transition *x);
void caom_spatial_wcs_free(struct caom_spatial_wcs *x);
void caom_spectral_wcs_free(struct caom_spectral_wcs *x);
void caom_temporal_wcs_free(struct caom_temporal_wcs *x);
void caom_polarization_wcs_free(struct caom_polarization_wcs *x);
void caom_custom_wcs_free(struct caom_custom_wcs *x);
void caom_observable_axis_free(struct caom_observable_axis *x);
/** Release what a CoordAxis1D owns (not the struct itself, which is embedded). */
void caom_coord_axis1d_clear(struct caom_coord_axis1d *x);
/** Release what a CoordAxis2D owns (not the struct itself, which is embedded). */
void caom_coord_axis2d_clear(struct caom_coord_axis2d *x);

/* Attach a child; the parent takes ownership on success. ERR_TOO_LARGE past
 * CAOM_MAX_CHILDREN, ERR_NOMEM. On failure the caller still owns the child. */
NODISCARD enum err caom_observation_add_plane(struct caom_observation *o, struct caom_plane *p);
NODISCARD enum err caom_plane_add_artifact(struct caom_plane *p, struct caom_artifact *a);
NODISCARD enum err caom_artifact_add_part(struct caom_artifact *a, struct caom_part *p);
NODISCARD enum err caom_part_add_chunk(struct caom_part *p, struct caom_chunk *c);

/* Look a child up by its natural key; NULL when absent. */
struct caom_plane *caom_observation_find_plane(const struct caom_observation *o,
                                               const char *product_id);
struct caom_artifact *caom_plane_find_artifact(const struct caom_plane *p, const char *uri);
struct caom_part *caom_artifact_find_part(const struct caom_artifact *a, const char *name);

/** Deep copy of @p o (same UUIDs); NULL when out of memory. */
NODISCARD struct caom_observation *caom_observation_clone(const struct caom_observation *o);

/** Structural equality of two observations, entity by entity in child order, by comparing
 * the metaChecksum digests of their state (so keyword and group lists compare as sets, and
 * doubles exactly); UUIDs are included when @p compare_ids, bookkeeping attributes
 * (lastModified, stored checksums) never. On inequality and when @p where is non-NULL, the
 * path of the first difference ("plane[0].artifact[1]") is written there. */
bool caom_observation_equal(const struct caom_observation *a, const struct caom_observation *b,
                            bool compare_ids, char *where, size_t where_cap);

/* Vocabulary names (XML terms); NULL for an out-of-range value. */
const char *caom_intent_name(enum caom_intent v);
const char *caom_target_type_name(enum caom_target_type v);
const char *caom_release_type_name(enum caom_release_type v);
const char *caom_energy_band_name(enum caom_energy_band v);
const char *caom_pol_state_name(enum caom_pol_state v);
/** FITS STOKES code (1..10, -1..-8) to state; CAOM_POL_UNSET when not a known code. */
enum caom_pol_state caom_pol_state_from_stokes(int code);

/* ---------------------------------------------------------------------------------------------
 * XML
 * ------------------------------------------------------------------------------------------- */

/**
 * Parse a CAOM 2.2, 2.3 or 2.4 document of @p len bytes. @p name (file name or "<request>")
 * prefixes error messages, which also name the line and element. No schema validation here
 * (see caom_xml_validate). On success *@p out is a new observation (caller frees).
 * Errors: ERR_XML (malformed, wrong namespace, unknown or missing element, bad value),
 * ERR_TOO_LARGE (beyond CAOM_XML_MAX_BYTES or a cap), ERR_NOMEM.
 */
NODISCARD enum err caom_xml_read(const char *buf, size_t len, const char *name,
                                 struct caom_observation **out, struct err_info *ei);

/** As caom_xml_read, reading the file at @p path (ERR_IO when unreadable). */
NODISCARD enum err caom_xml_read_file(const char *path, struct caom_observation **out,
                                      struct err_info *ei);

/**
 * Write @p o as a CAOM-2.4 document (prefix caom2, XSD element order, empty collections
 * omitted, checksum attributes written when present in the model). On success *@p out is
 * a NUL-terminated malloc'd string of *@p out_len bytes (caller frees).
 * Errors: ERR_INVALID (a required field is missing; the field is named), ERR_NOMEM.
 */
NODISCARD enum err caom_xml_write(const struct caom_observation *o, char **out, size_t *out_len,
                                  struct err_info *ei);

/** A loaded XSD, reusable and read-only after loading (safe to share across threads). */
struct caom_schema;

/** Load the schema file at @p xsd_path. ERR_IO / ERR_XML on failure. */
NODISCARD enum err caom_schema_load(const char *xsd_path, struct caom_schema **out,
                                    struct err_info *ei);
/** Destroy a schema; NULL is accepted. */
void caom_schema_free(struct caom_schema *s);

/** Validate a document against @p s. ERR_XML naming the first line and message on failure. */
NODISCARD enum err caom_schema_validate(const struct caom_schema *s, const char *buf, size_t len,
                                        struct err_info *ei);

/** One-shot: load @p xsd_path and validate. */
NODISCARD enum err caom_xml_validate(const char *buf, size_t len, const char *xsd_path,
                                     struct err_info *ei);

/* ---------------------------------------------------------------------------------------------
 * Checksums (MD5, exactly as the Java CaomEntity computes them)
 * ------------------------------------------------------------------------------------------- */

/* The raw metaChecksum digest of one entity (own state only). */
void caom_meta_checksum_observation(const struct caom_observation *o, uint8_t out[16]);
void caom_meta_checksum_plane(const struct caom_plane *p, uint8_t out[16]);
void caom_meta_checksum_artifact(const struct caom_artifact *a, uint8_t out[16]);
void caom_meta_checksum_part(const struct caom_part *p, uint8_t out[16]);
void caom_meta_checksum_chunk(const struct caom_chunk *c, uint8_t out[16]);

/* The raw accMetaChecksum digest (own metaChecksum + children's acc digests in UUID order). */
void caom_acc_checksum_observation(const struct caom_observation *o, uint8_t out[16]);
void caom_acc_checksum_plane(const struct caom_plane *p, uint8_t out[16]);
void caom_acc_checksum_artifact(const struct caom_artifact *a, uint8_t out[16]);
void caom_acc_checksum_part(const struct caom_part *p, uint8_t out[16]);
void caom_acc_checksum_chunk(const struct caom_chunk *c, uint8_t out[16]);

/** Recompute and store meta_checksum/acc_meta_checksum ("md5:<hex>") on every entity. */
void caom_checksum_update(struct caom_observation *o);

/** Compare the stored checksums of every entity with recomputed ones. ERR_CHECKSUM naming
 * the first entity (kind and UUID) whose stored value differs; entities without a stored
 * value are skipped. */
NODISCARD enum err caom_checksum_verify(const struct caom_observation *o, struct err_info *ei);

/** Format a digest as "md5:<32 lower-case hex>". */
void caom_checksum_format(const uint8_t d[16], char out[CAOM_CHECKSUM_URI_MAX]);

/* ---------------------------------------------------------------------------------------------
 * JSON (jansson), for the API
 * ------------------------------------------------------------------------------------------- */

/** A new JSON object mirroring the XML tree (camelCase names as in the XSD, "@type" for the
 * observation kind, ids as strings), owned by the caller (json_decref); NULL when out of
 * memory or when a string of the model is not valid UTF-8 (jansson refuses it). Reentrant. */
NODISCARD json_t *caom_to_json(const struct caom_observation *o);

/* ---------------------------------------------------------------------------------------------
 * Merge
 * ------------------------------------------------------------------------------------------- */

struct caom_merge_stats {
    size_t entities_changed;  /* entities whose own metaChecksum changed */
    size_t entities_added;    /* planes/artifacts/parts/chunks added */
    size_t entities_removed;  /* planes/artifacts/parts/chunks removed */
};

/**
 * Merge the freshly built @p fresh into @p existing (e.g. the document a repository GET
 * returned): the observation keeps its UUID; planes are matched by productID, artifacts by
 * URI, parts by name, and chunks by position within the part; matched entities keep their
 * UUIDs and take the fresh state, unmatched fresh ones are added, and existing planes and
 * artifacts that the fresh observation does not have are removed only when @p remove_missing
 * (a pipeline that ingests one file adds or updates its plane and artifact and keeps the
 * others); the parts and chunks of a matched artifact always follow the fresh artifact, since
 * they describe its one file. Entities
 * whose state is unchanged keep their bookkeeping attributes (lastModified, checksums).
 * Each plane computed-metadata element (position, energy, time, polarization, custom) is
 * replaced only when @p fresh has it, so a header-only build keeps what the repository
 * computed. Changed entities and their ancestors lose their stored checksums (recompute with
 * caom_checksum_update). The kind (Simple/Derived) must match: ERR_CONFLICT otherwise (the caller must delete and re-create).
 * @p fresh is left unchanged. @p stats may be NULL. On ERR_NOMEM (or ERR_TOO_LARGE from a
 * child cap) @p existing may be partly merged but stays a valid tree: free it or re-read it,
 * do not store it.
 */
NODISCARD enum err caom_merge(struct caom_observation *existing,
                              const struct caom_observation *fresh, bool remove_missing,
                              struct caom_merge_stats *stats, struct err_info *ei);

/* ---------------------------------------------------------------------------------------------
 * Plane computed metadata (the server's caom2-compute, in C)
 * ------------------------------------------------------------------------------------------- */

/**
 * Optional hook that projects pixel coordinates of a chunk's spatial WCS to sky coordinates
 * (degrees), e.g. a wcslib-backed implementation from lib/wcs. Return ERR_OK and fill
 * world[2*i], world[2*i+1] for each of the @p n pixel pairs pix[2*i], pix[2*i+1].
 */
typedef enum err (*caom_pix2sky_fn)(void *ctx, const struct caom_spatial_wcs *wcs,
                                    const double *pix, double *world, size_t n,
                                    struct err_info *ei);

/** Told about a plane quantity left out because it could not be computed (@p msg names the
 * plane, the quantity and why). */
typedef void (*caom_compute_warn_fn)(void *ctx, const char *msg);

/** The projection of every computation: the chunk's spatial WCS (with RADESYS and EQUINOX)
 * through wcslib (lib/wcs, wcsx_pix2sky). A caom_pix2sky_fn; @p ctx is unused. */
NODISCARD enum err caom_wcs_pix2sky(void *ctx, const struct caom_spatial_wcs *wcs,
                                    const double *pix, double *world, size_t n,
                                    struct err_info *ei);

struct caom_compute_opts {
    caom_pix2sky_fn pix2sky;  /* NULL: caom_wcs_pix2sky (wcslib); a hook only for tests */
    void *pix2sky_ctx;        /* passed to pix2sky */
    caom_compute_warn_fn warn; /* NULL: a quantity that cannot be computed fails the call (as
                                  a repository refuses the document); set: that quantity is
                                  left out (NULL), warn is called, the others are computed */
    void *warn_ctx;           /* passed to warn */
};

/**
 * Compute plane position, energy, time and polarization from the chunks (science chunks,
 * else calibration chunks), replacing what the plane had. A plane with no usable chunks
 * for an axis gets NULL for it. @p opts may be NULL. ERR_WCS naming artifact/part/chunk
 * when a chunk's WCS cannot be evaluated, unless opts->warn is set: then that quantity is left
 * out with a warning and the call goes on.
 */
NODISCARD enum err caom_plane_compute(struct caom_plane *p, const struct caom_compute_opts *opts,
                                      struct err_info *ei);

/** caom_plane_compute for every plane. */
NODISCARD enum err caom_observation_compute(struct caom_observation *o,
                                            const struct caom_compute_opts *opts,
                                            struct err_info *ei);

/* ---------------------------------------------------------------------------------------------
 * Built-in schema, model rules, VOSI capabilities
 * ------------------------------------------------------------------------------------------- */

/**
 * Load the CAOM-2.4 XSD embedded in the library at build time (no file is read).
 * @param[out] out  on success a new schema (owned: caom_schema_free); untouched on failure
 * @param[out] ei   error detail, may be NULL
 * @return ERR_OK; ERR_NOMEM; ERR_XML if the embedded schema does not parse (a build fault).
 * Thread safety: may be called from any thread; the result is read-only and may be shared
 * by any number of threads calling caom_schema_validate at once (each call makes its own
 * libxml2 validation context).
 */
NODISCARD enum err caom_schema_load_builtin(struct caom_schema **out, struct err_info *ei);

/**
 * caom_xml_read of a document that must first validate against @p s (a CAOM-2.4 schema): parsed
 * once, the tree validated, then read; ERR_XML names the line for either. Documents in the
 * 2.3 and 2.2 namespaces are checked by the reader's rules for their version only: CADC's own
 * writers still produce 2.3-namespace documents that the 2.3 XSD refuses (DerivedObservation).
 * Thread safety: reentrant; @p s may be shared.
 */
NODISCARD enum err caom_xml_read_valid(const struct caom_schema *s, const char *buf, size_t len,
                                       const char *name, struct caom_observation **out,
                                       struct err_info *ei);

#define CAOM_VALIDATE_MSG_VALUE_MAX 120
#define CAOM_PATH_FORBIDDEN " /\\%" /* characters a URI path component may not hold */

/** CaomValidator's rule for a path component of an observation or plane URI (collection,
 * observationID, productID): not empty, none of CAOM_PATH_FORBIDDEN. Reentrant. */
bool caom_path_component_ok(const char *s); /* bytes of an offending value quoted in a message */

/**
 * Check @p o against the CAOM model rules that the repository enforces before storing
 * (CADC's CaomValidator.validate(Observation) plus the rules its constructors and the
 * XML reader apply; caom_validate.c lists them). Stops at the first violation.
 * @param[in]  o   the observation (borrowed, not changed)
 * @param[out] ei  error detail, may be NULL: the message names the element by path
 *                 ("plane[2] productID \"a/b\": ..."), the offending value, and the rule;
 *                 ei->field holds the path ("plane[2].productID")
 * @return ERR_OK, ERR_INVALID at the first violation, ERR_NOMEM (the uniqueness checks sort
 * a temporary index of the keys).
 * Thread safety: reentrant.
 */
NODISCARD enum err caom_observation_validate(const struct caom_observation *o,
                                             struct err_info *ei);

/**
 * Check the chunk WCS of @p o against the cheap rules of CADC's CaomWCSValidator: the axis
 * assignment of every chunk (validateAxes), polarization axis values that are Stokes codes,
 * and temporal axes in days (caom_validate.c lists what is left to caom_plane_compute).
 * @param[in]  o   the observation (borrowed, not changed)
 * @param[out] ei  error detail, may be NULL, naming plane/artifact/part/chunk and the axis
 * @return ERR_OK, or ERR_WCS at the first violation.
 * Thread safety: reentrant; no allocation.
 */
NODISCARD enum err caom_observation_validate_wcs(const struct caom_observation *o,
                                                 struct err_info *ei);

#define CAOM_VOSI_MAX_BYTES (1024u * 1024u) /* largest capabilities document accepted, 1 MiB */
#define CAOM_VOSI_NS "http://www.ivoa.net/xml/VOSICapabilities/v1.0"

/**
 * Find a service URL in a VOSI capabilities document, as cadcutils' WsCapabilities does for
 * the caom2repo client: the capability whose standardID equals @p standard_id, then among its
 * ParamHTTP interfaces one that lists @p security_method in a securityMethod standardID;
 * when none does, or @p security_method is NULL, an anonymous interface (no securityMethod,
 * or one without standardID). Among equal candidates an https URL wins, then document order.
 * The URL is the interface's accessURL with use="base" (else its first accessURL), trimmed.
 * The document is parsed without network access, DTD loading or entity substitution.
 * @param[in]  xml, len         the document (borrowed; need not be NUL-terminated)
 * @param[in]  standard_id      capability standardID, e.g.
 *                              "vos://cadc.nrc.ca~vospace/CADC/std/CAOM2Repository#obs-1.2"
 * @param[in]  security_method  e.g. "ivo://ivoa.net/sso#tls-with-certificate", or NULL
 * @param[out] out, cap         receives the NUL-terminated URL; untouched on failure
 * @param[out] ei               error detail, may be NULL
 * @return ERR_OK; ERR_XML (malformed, not a VOSI capabilities document); ERR_TOO_LARGE (the
 * document exceeds CAOM_VOSI_MAX_BYTES, or the URL does not fit @p cap); ERR_NOT_FOUND
 * ("capability <id> not found", or no interface matches); ERR_NOMEM.
 * Thread safety: reentrant.
 */
NODISCARD enum err caom_vosi_find(const char *xml, size_t len, const char *standard_id,
                                  const char *security_method, char *out, size_t cap,
                                  struct err_info *ei);

#endif
