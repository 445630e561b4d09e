/* caom_validate.c - the CAOM model rules a repository enforces before it stores an observation,
 * and the cheap chunk-WCS rules, after CADC's ca.nrc.cadc.caom2.util.CaomValidator and
 * ca.nrc.cadc.caom2.compute.CaomWCSValidator (opencadc/caom2, CAOM-2.4 main line), written
 * from their documented behaviour. Messages name the element by path, the value and the rule.
 *
 * caom_observation_validate (ERR_INVALID) implements:
 *  - CaomValidator.assertValidPathComponent, applied by the Observation and Plane constructors:
 *    collection, observationID and productID are present, not empty, and contain no space,
 *    slash, backslash or percent. The same rule covers each path component of the
 *    ObservationURI members (caom:collection/observationID) and the PlaneURI provenance
 *    inputs (caom:collection/observationID/productID) that ObservationURI / PlaneURI check.
 *  - CaomValidator.validateKeywords: proposal, target, telescope, instrument and provenance
 *    keywords contain no pipe (|).
 *  - CaomValidator.validatePlanes: the plane position Polygon has at least 3 points and winds
 *    counter-clockwise on the sky (Polygon.validate: "too large or clockwise"); its samples
 *    MultiPolygon starts with MOVE, ends with CLOSE, nests MOVE/LINE/CLOSE properly and has
 *    at least 4 vertices (MultiPolygon.validate, without the segment-intersection test); a
 *    Circle radius is > 0 (Circle constructor); energy, time and custom bounds are valid
 *    SampledIntervals (lower <= upper, samples not empty, each sample within the bounds, in
 *    increasing order without overlap); every Interval (samples, resolutionBounds,
 *    resolvingPowerBounds) has lower <= upper (Interval constructor).
 *  - CaomValidator.validateChecksumURIs (the current main line): Artifact.contentChecksum is
 *    <algorithm>:<hex value>.
 *  - Constructor and setter rules: the algorithm name is present; a SimpleObservation's
 *    algorithm is "exposure" and a DerivedObservation's is not (SimpleObservation /
 *    DerivedObservation.setAlgorithm); Artifact uri, productType and releaseType, Part name,
 *    Proposal id, Target name, Telescope name, Instrument name, Provenance name and
 *    CustomAxis ctype are present; calibrationLevel is one of -1..4 (CalibrationLevel.toValue);
 *    polarization states and energy bands are known values; members only on a
 *    DerivedObservation.
 *  - ObservationReader rules: productIDs are unique in the observation, artifact URIs unique
 *    in the plane, part names unique in the artifact; the artifact URI parses as an absolute
 *    URI (scheme ":" scheme-specific part, no space, control or other character java.net.URI
 *    refuses, well-formed %-escapes).
 * Left out: the MultiPolygon segment-intersection test, the Java 2.5 additions ('?' and '#'
 * in path components, caom:/ivo: identifier URIs), and Artifact.productType vs intent
 * (CaomValidator.validateIntent, no longer called by validate).
 *
 * caom_observation_validate_wcs (ERR_WCS) implements CaomWCSValidator.validateAxes (each axis
 * 1..naxis assigned exactly once; positionAxis1/2 as a pair; an assigned axis needs its WCS
 * element; axis 0 refused), validatePolarizationWCS (every value of the range, the bounds or
 * else the function pixels is a Stokes / FITS polarization code) and the TemporalWCS unit and
 * time-system checks of TimeUtil.toInterval (cunit "d"; ctype TIME with TIMESYS absent, UTC,
 * TAI, TT, TDT or ET, or ctype UTC/TAI/TT with no TIMESYS). Left out: validateSpatialWCS,
 * validateSpectralWCS and validateCustomWCS, which need the WCS evaluated (caom_plane_compute
 * reports those as ERR_WCS).
 *
 * SPDX-License-Identifier: Apache-2.0 */
#include "caom/caom.h"
#include "caom_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_LEN 96 /* "plane[99999].artifact[99999].part[99999].chunk[99999]" fits */
#define D2R (3.14159265358979323846 / 180.0)

/* ---- messages ---------------------------------------------------------------------------- */

/* Copy @p s for a message: at most CAOM_VALIDATE_MSG_VALUE_MAX bytes, control bytes as '?',
 * "..." when cut. */
static void quote(char out[CAOM_VALIDATE_MSG_VALUE_MAX + 4], const char *s)
{
    size_t n = 0;
    for (; s[n] && n < CAOM_VALIDATE_MSG_VALUE_MAX; n++)
        out[n] = ((unsigned char)s[n] < 0x20 || s[n] == 0x7f) ? '?' : s[n];
    if (s[n]) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

/* ERR @p code for element @p elem under @p where ("" at observation level): the field is
 * "where.elem", the message "where elem<tail>" with the formatted tail (which begins with
 * ": " or with a quoted value). */
static enum err bad(struct err_info *ei, enum err code, const char *where, const char *elem,
                    const char *fmt, ...) PRINTF_LIKE(5, 6);

static enum err bad(struct err_info *ei, enum err code, const char *where, const char *elem,
                    const char *fmt, ...)
{
    char tail[ERR_INFO_MSG_MAX];
    char field[ERR_INFO_FIELD_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tail, sizeof tail, fmt, ap);
    va_end(ap);
    const char *sep = where[0] ? "." : "";
    snprintf(field, sizeof field, "%s%s%s", where, sep, elem);
    return err_set_field(ei, code, field, "%s%s%s%s", where, where[0] ? " " : "", elem, tail);
}

/* As bad() with the offending string value quoted after the element name. */
static enum err bad_str(struct err_info *ei, enum err code, const char *where, const char *elem,
                        const char *value, const char *fmt, ...) PRINTF_LIKE(6, 7);

static enum err bad_str(struct err_info *ei, enum err code, const char *where, const char *elem,
                        const char *value, const char *fmt, ...)
{
    char rule[ERR_INFO_MSG_MAX];
    char q[CAOM_VALIDATE_MSG_VALUE_MAX + 4];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rule, sizeof rule, fmt, ap);
    va_end(ap);
    quote(q, value);
    return bad(ei, code, where, elem, " \"%s\": %s", q, rule);
}

static void path_join(char out[PATH_MAX_LEN], const char *parent, const char *kind, size_t i)
{
    snprintf(out, PATH_MAX_LEN, "%s%s%s[%zu]", parent, parent[0] ? "." : "", kind, i);
}

/* ---- strings and URIs -------------------------------------------------------------------- */

static enum err required(struct err_info *ei, const char *where, const char *elem, const char *s)
{
    if (!s || !s[0])
        return bad(ei, ERR_INVALID, where, elem, ": is required");
    return ERR_OK;
}

bool caom_path_component_ok(const char *s)
{
    return s && s[0] && !strpbrk(s, CAOM_PATH_FORBIDDEN);
}

/* CaomValidator.assertValidPathComponent (plus: not empty). */
static enum err path_component(struct err_info *ei, const char *where, const char *elem,
                               const char *s)
{
    enum err rc = required(ei, where, elem, s);
    if (rc)
        return rc;
    const char *c = strpbrk(s, CAOM_PATH_FORBIDDEN);
    if (c)
        return bad_str(ei, ERR_INVALID, where, elem, s,
                       "invalid character '%c': may not contain space ( ), slash (/), "
                       "backslash (\\) or percent (%%)", *c);
    return ERR_OK;
}

/* "caom:" followed by exactly @p n valid path components (ObservationURI n = 2, PlaneURI 3). */
static enum err caom_uri(struct err_info *ei, const char *where, const char *elem, const char *s,
                         int n)
{
    static const char *const forms[] = {"", "", "caom:{collection}/{observationID}",
                                        "caom:{collection}/{observationID}/{productID}"};
    enum err rc = required(ei, where, elem, s);
    if (rc)
        return rc;
    if (strncmp(s, "caom:", 5) != 0)
        return bad_str(ei, ERR_INVALID, where, elem, s, "expected %s", forms[n]);
    const char *p = s + 5;
    for (int k = 0; k < n; k++) {
        size_t len = strcspn(p, "/");
        bool last = k == n - 1;
        if (len == 0 || (last ? p[len] != '\0' : p[len] != '/'))
            return bad_str(ei, ERR_INVALID, where, elem, s, "expected %s", forms[n]);
        size_t bad_at = strcspn(p, CAOM_PATH_FORBIDDEN);
        if (bad_at < len)
            return bad_str(ei, ERR_INVALID, where, elem, s,
                           "invalid character '%c' in a path component: may not contain space "
                           "( ), slash (/), backslash (\\) or percent (%%)",
                           p[bad_at]);
        p += len + (last ? 0 : 1);
    }
    return ERR_OK;
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* An absolute URI as java.net.URI parses it: scheme ":" non-empty scheme-specific part, no
 * space, control character or one of "<>\^`{|}, and every '%' followed by two hex digits. */
static enum err abs_uri(struct err_info *ei, const char *where, const char *elem, const char *s)
{
    enum err rc = required(ei, where, elem, s);
    if (rc)
        return rc;
    size_t i = 0;
    if (!is_alpha(s[0]))
        return bad_str(ei, ERR_INVALID, where, elem, s, "not an absolute URI (scheme:...)");
    while (is_alpha(s[i]) || (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' ||
           s[i] == '.')
        i++;
    if (s[i] != ':' || s[i + 1] == '\0')
        return bad_str(ei, ERR_INVALID, where, elem, s, "not an absolute URI (scheme:...)");
    for (i++; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f)
            return bad_str(ei, ERR_INVALID, where, elem, s, "invalid character 0x%02x in URI",
                           (unsigned)c);
        if (strchr("\"<>\\^`{|}", c))
            return bad_str(ei, ERR_INVALID, where, elem, s, "invalid character '%c' in URI",
                           (char)c);
        if (c == '%' && !(is_hex(s[i + 1]) && is_hex(s[i + 2])))
            return bad_str(ei, ERR_INVALID, where, elem, s, "malformed %%-escape in URI");
    }
    return ERR_OK;
}

/* CaomValidator.assertValidChecksumURI: <algorithm>:<hex value>. */
static enum err checksum_uri(struct err_info *ei, const char *where, const char *s)
{
    const char *colon = strchr(s, ':');
    bool ok = colon && colon > s && colon[1] != '\0';
    for (const char *p = s; ok && p < colon; p++)
        ok = is_alpha(*p) || (*p >= '0' && *p <= '9') || *p == '-' || *p == '+' || *p == '.';
    for (const char *p = colon ? colon + 1 : s; ok && *p; p++)
        ok = is_hex(*p);
    if (!ok)
        return bad_str(ei, ERR_INVALID, where, "contentChecksum", s,
                       "expected <algorithm>:<hex value>");
    return ERR_OK;
}

/* CaomValidator.assertValidKeyword over a keyword list. */
static enum err keywords(struct err_info *ei, const char *where, const char *elem,
                         const struct caom_strlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        if (!l->v[i])
            return bad(ei, ERR_INVALID, where, elem, ": null keyword");
        if (strchr(l->v[i], '|'))
            return bad_str(ei, ERR_INVALID, where, elem, l->v[i], "may not contain pipe (|)");
    }
    return ERR_OK;
}

/* ---- uniqueness of natural keys ------------------------------------------------------------ */

struct key {
    const char *s;            /* the key (borrowed) */
    size_t i;                 /* child index */
};

static int cmp_key(const void *a, const void *b)
{
    const struct key *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    if (c)
        return c;
    return (x->i > y->i) - (x->i < y->i);
}

/* Find the duplicate key whose second occurrence comes first in child order. @p get returns
 * child i's key (non-NULL: presence was checked before). *dup_first / *dup_second get the two
 * indexes; false when all keys differ. ERR_NOMEM through @p rc. */
static bool find_dup(size_t n, const char *(*get)(const void *, size_t), const void *parent,
                     size_t *dup_first, size_t *dup_second, enum err *rc)
{
    *rc = ERR_OK;
    if (n < 2)
        return false;
    struct key *k = malloc(n * sizeof(*k));
    if (!k) {
        *rc = ERR_NOMEM;
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        k[i].s = get(parent, i);
        k[i].i = i;
    }
    qsort(k, n, sizeof(*k), cmp_key);
    bool found = false;
    for (size_t i = 1; i < n; i++) {
        /* within a run of equal keys the indexes ascend: the run's first two are the pair */
        if (strcmp(k[i - 1].s, k[i].s) == 0 && (i < 2 || strcmp(k[i - 2].s, k[i].s) != 0)) {
            if (!found || k[i].i < *dup_second) {
                *dup_first = k[i - 1].i;
                *dup_second = k[i].i;
            }
            found = true;
        }
    }
    free(k);
    return found;
}

static const char *plane_key(const void *parent, size_t i)
{
    return ((const struct caom_observation *)parent)->planes[i]->product_id;
}

static const char *artifact_key(const void *parent, size_t i)
{
    return ((const struct caom_plane *)parent)->artifacts[i]->uri;
}

static const char *part_key(const void *parent, size_t i)
{
    return ((const struct caom_artifact *)parent)->parts[i]->name;
}

static enum err unique(struct err_info *ei, const char *where, const char *kind, const char *elem,
                       const char *what, size_t n, const char *(*get)(const void *, size_t),
                       const void *parent)
{
    size_t first = 0, second = 0;
    enum err rc = ERR_OK;
    if (!find_dup(n, get, parent, &first, &second, &rc))
        return rc ? err_set(ei, rc, "out of memory") : ERR_OK;
    char p[PATH_MAX_LEN], q[PATH_MAX_LEN];
    path_join(p, where, kind, second);
    path_join(q, where, kind, first);
    return bad_str(ei, ERR_INVALID, p, elem, get(parent, second), "%s is not unique (also %s)",
                   what, q);
}

/* ---- intervals and shapes ------------------------------------------------------------------ */

static enum err interval(struct err_info *ei, const char *where, const char *elem,
                         const struct caom_interval *x)
{
    if (x->upper < x->lower) {
        char l[40], u[40];
        caom_fmt_double(x->lower, l);
        caom_fmt_double(x->upper, u);
        return bad(ei, ERR_INVALID, where, elem, ": invalid interval (upper < lower): %s,%s", l, u);
    }
    return ERR_OK;
}

/* SampledInterval.validate */
static enum err sampled(struct err_info *ei, const char *where, const char *elem,
                        const struct caom_sampled_interval *x)
{
    char l[40], u[40], sl[40], su[40];
    caom_fmt_double(x->lower, l);
    caom_fmt_double(x->upper, u);
    if (x->upper < x->lower)
        return bad(ei, ERR_INVALID, where, elem, ": invalid interval (upper < lower): %s,%s", l, u);
    if (x->n_samples == 0)
        return bad(ei, ERR_INVALID, where, elem, ": invalid interval (samples cannot be empty)");
    for (size_t i = 0; i < x->n_samples; i++) {
        const struct caom_interval *s = &x->samples[i];
        char se[64];
        snprintf(se, sizeof se, "%s.samples[%zu]", elem, i);
        enum err rc = interval(ei, where, se, s);
        if (rc)
            return rc;
        caom_fmt_double(s->lower, sl);
        caom_fmt_double(s->upper, su);
        if (s->lower < x->lower)
            return bad(ei, ERR_INVALID, where, se,
                       ": invalid interval: sample extends below lower bound: [%s,%s] vs %s", sl,
                       su, l);
        if (s->upper > x->upper)
            return bad(ei, ERR_INVALID, where, se,
                       ": invalid interval: sample extends above upper bound: [%s,%s] vs %s", sl,
                       su, u);
        if (i > 0 && s->lower <= x->samples[i - 1].upper) {
            char pl[40], pu[40];
            caom_fmt_double(x->samples[i - 1].lower, pl);
            caom_fmt_double(x->samples[i - 1].upper, pu);
            return bad(ei, ERR_INVALID, where, se,
                       ": invalid interval: sample overlaps previous sample: [%s,%s] vs [%s,%s]",
                       sl, su, pl, pu);
        }
    }
    return ERR_OK;
}

/* Gnomonic projection about (a0, d0) in degrees; false when the point is 90 degrees or more
 * from the centre. xi grows with longitude, eta with latitude. */
static bool tangent(double a0, double d0, double a, double d, double *xi, double *eta)
{
    double da = (a - a0) * D2R, sd = sin(d * D2R), cd = cos(d * D2R);
    double s0 = sin(d0 * D2R), c0 = cos(d0 * D2R);
    double den = s0 * sd + c0 * cd * cos(da);
    if (!(den > 1e-9))
        return false;
    *xi = cd * sin(da) / den;
    *eta = (c0 * sd - s0 * cd * cos(da)) / den;
    return true;
}

/* Polygon.validate: >= 3 points, counter-clockwise on the sky (DALI), which is clockwise in
 * the tangent plane about the points' mean direction (xi east, eta north). */
static enum err polygon(struct err_info *ei, const char *where, const struct caom_polygon *pg)
{
    const char *elem = "position.bounds";
    if (pg->n_points < 3)
        return bad(ei, ERR_INVALID, where, elem, ": polygon has %zu points: minimum 3",
                   pg->n_points);
    double x = 0, y = 0, z = 0;
    for (size_t i = 0; i < pg->n_points; i++) {
        double a = pg->points[i].cval1 * D2R, d = pg->points[i].cval2 * D2R;
        x += cos(d) * cos(a);
        y += cos(d) * sin(a);
        z += sin(d);
    }
    double r = sqrt(x * x + y * y + z * z);
    double area = 0;
    bool ok = r > 1e-9 && isfinite(r);
    double a0 = ok ? atan2(y, x) / D2R : 0, d0 = ok ? asin(z / r) / D2R : 0;
    for (size_t i = 0; ok && i < pg->n_points; i++) {
        const struct caom_point *p = &pg->points[i], *q = &pg->points[(i + 1) % pg->n_points];
        double x1, y1, x2, y2;
        ok = tangent(a0, d0, p->cval1, p->cval2, &x1, &y1) &&
             tangent(a0, d0, q->cval1, q->cval2, &x2, &y2);
        area += ok ? x1 * y2 - x2 * y1 : 0;
    }
    if (!ok || !(area < 0))
        return bad(ei, ERR_INVALID, where, elem,
                   ": polygon too large or has clockwise winding direction");
    if (pg->n_samples == 0)
        return ERR_OK;
    /* MultiPolygon.validate, without the segment-intersection test */
    const char *se = "position.bounds.samples";
    const struct caom_vertex *v = pg->samples;
    size_t n = pg->n_samples;
    if (n < 4)
        return bad(ei, ERR_INVALID, where, se, ": invalid MultiPolygon: %zu vertices", n);
    if (v[0].type != CAOM_SEG_MOVE)
        return bad(ei, ERR_INVALID, where, se,
                   ": invalid MultiPolygon: first vertex must be MOVE, found type %d",
                   (int)v[0].type);
    if (v[n - 1].type != CAOM_SEG_CLOSE)
        return bad(ei, ERR_INVALID, where, se,
                   ": invalid MultiPolygon: last vertex must be CLOSE, found type %d",
                   (int)v[n - 1].type);
    bool open = false;
    for (size_t i = 0; i < n; i++) {
        switch (v[i].type) {
        case CAOM_SEG_MOVE:
            if (open)
                return bad(ei, ERR_INVALID, where, se,
                           ": invalid MultiPolygon: vertex %zu: found MOVE when loop already open",
                           i);
            open = true;
            break;
        case CAOM_SEG_CLOSE:
            if (!open)
                return bad(ei, ERR_INVALID, where, se,
                           ": invalid MultiPolygon: vertex %zu: found CLOSE without MOVE", i);
            open = false;
            break;
        case CAOM_SEG_LINE:
            if (!open)
                return bad(ei, ERR_INVALID, where, se,
                           ": invalid MultiPolygon: vertex %zu: found LINE without MOVE", i);
            break;
        default:
            return bad(ei, ERR_INVALID, where, se,
                       ": invalid MultiPolygon: vertex %zu: unrecognized segment type %d", i,
                       (int)v[i].type);
        }
    }
    return ERR_OK;
}

static enum err shape(struct err_info *ei, const char *where, const struct caom_shape *s)
{
    switch (s->kind) {
    case CAOM_SHAPE_POLYGON:
        return polygon(ei, where, &s->polygon);
    case CAOM_SHAPE_CIRCLE:
        if (!(s->circle.radius > 0.0)) {
            char r[40];
            caom_fmt_double(s->circle.radius, r);
            return bad(ei, ERR_INVALID, where, "position.bounds.radius", ": %s: must be > 0.0", r);
        }
        return ERR_OK;
    default:
        return bad(ei, ERR_INVALID, where, "position.bounds", ": unrecognized shape kind %d",
                   (int)s->kind);
    }
}

/* ---- entities ------------------------------------------------------------------------------ */

static enum err validate_part(struct err_info *ei, const char *where, const struct caom_part *p)
{
    return required(ei, where, "name", p->name);
}

static enum err validate_artifact(struct err_info *ei, const char *where,
                                  const struct caom_artifact *a)
{
    enum err rc = abs_uri(ei, where, "uri", a->uri);
    if (!rc)
        rc = required(ei, where, "productType", a->product_type);
    if (!rc && a->release_type != CAOM_RELEASE_DATA && a->release_type != CAOM_RELEASE_META)
        rc = bad(ei, ERR_INVALID, where, "releaseType", ": is required (data or meta)");
    if (!rc && a->content_checksum)
        rc = checksum_uri(ei, where, a->content_checksum);
    for (size_t i = 0; !rc && i < a->n_parts; i++) {
        char p[PATH_MAX_LEN];
        path_join(p, where, "part", i);
        rc = validate_part(ei, p, a->parts[i]);
    }
    if (!rc)
        rc = unique(ei, where, "part", "name", "Part.name", a->n_parts, part_key, a);
    return rc;
}

static enum err validate_plane_metadata(struct err_info *ei, const char *where,
                                        const struct caom_plane *p)
{
    enum err rc = ERR_OK;
    if (p->position) {
        if (p->position->bounds)
            rc = shape(ei, where, p->position->bounds);
        if (!rc && p->position->resolution_bounds)
            rc = interval(ei, where, "position.resolutionBounds", p->position->resolution_bounds);
    }
    if (!rc && p->energy) {
        const struct caom_energy *e = p->energy;
        if (e->bounds)
            rc = sampled(ei, where, "energy.bounds", e->bounds);
        if (!rc && e->resolving_power_bounds)
            rc = interval(ei, where, "energy.resolvingPowerBounds", e->resolving_power_bounds);
        for (size_t i = 0; !rc && i < e->n_bands; i++)
            if (!caom_energy_band_name(e->bands[i]) || e->bands[i] == CAOM_BAND_UNSET)
                rc = bad(ei, ERR_INVALID, where, "energy.energyBands",
                         ": unrecognized energy band %d", (int)e->bands[i]);
    }
    if (!rc && p->time) {
        if (p->time->bounds)
            rc = sampled(ei, where, "time.bounds", p->time->bounds);
        if (!rc && p->time->resolution_bounds)
            rc = interval(ei, where, "time.resolutionBounds", p->time->resolution_bounds);
    }
    if (!rc && p->polarization) {
        for (size_t i = 0; !rc && i < p->polarization->n_states; i++) {
            enum caom_pol_state s = p->polarization->states[i];
            if (s == CAOM_POL_UNSET || !caom_pol_state_name(s))
                rc = bad(ei, ERR_INVALID, where, "polarization.states",
                         ": unrecognized polarization state %d", (int)s);
        }
    }
    if (!rc && p->custom) {
        rc = required(ei, where, "custom.ctype", p->custom->ctype);
        if (!rc && p->custom->bounds)
            rc = sampled(ei, where, "custom.bounds", p->custom->bounds);
    }
    return rc;
}

static enum err validate_plane(struct err_info *ei, const char *where, const struct caom_plane *p)
{
    enum err rc = path_component(ei, where, "productID", p->product_id);
    if (!rc && p->calibration_level.set &&
        (p->calibration_level.v < -1 || p->calibration_level.v > 4))
        rc = bad(ei, ERR_INVALID, where, "calibrationLevel", ": %d is not one of -1..4",
                 (int)p->calibration_level.v);
    if (!rc && p->provenance) {
        const struct caom_provenance *pv = p->provenance;
        rc = required(ei, where, "provenance.name", pv->name);
        if (!rc)
            rc = keywords(ei, where, "provenance.keywords", &pv->keywords);
        for (size_t i = 0; !rc && i < pv->inputs.n; i++) {
            char e[64];
            snprintf(e, sizeof e, "provenance.inputs[%zu]", i);
            rc = caom_uri(ei, where, e, pv->inputs.v[i], 3);
        }
    }
    if (!rc)
        rc = validate_plane_metadata(ei, where, p);
    for (size_t i = 0; !rc && i < p->n_artifacts; i++) {
        char a[PATH_MAX_LEN];
        path_join(a, where, "artifact", i);
        rc = validate_artifact(ei, a, p->artifacts[i]);
    }
    if (!rc)
        rc = unique(ei, where, "artifact", "uri", "Artifact.uri", p->n_artifacts, artifact_key, p);
    return rc;
}

enum err caom_observation_validate(const struct caom_observation *o, struct err_info *ei)
{
    enum err rc = path_component(ei, "", "collection", o->collection);
    if (!rc)
        rc = path_component(ei, "", "observationID", o->observation_id);
    if (!rc)
        rc = required(ei, "", "algorithm.name", o->algorithm_name);
    if (!rc && o->kind == CAOM_OBS_SIMPLE && strcmp(o->algorithm_name, "exposure") != 0)
        rc = bad_str(ei, ERR_INVALID, "", "algorithm.name", o->algorithm_name,
                     "a SimpleObservation's algorithm must be \"exposure\"");
    if (!rc && o->kind == CAOM_OBS_DERIVED && strcmp(o->algorithm_name, "exposure") == 0)
        rc = bad_str(ei, ERR_INVALID, "", "algorithm.name", o->algorithm_name,
                     "cannot set DerivedObservation.algorithm to exposure (reserved for "
                     "SimpleObservation)");
    if (!rc && o->proposal) {
        rc = required(ei, "", "proposal.id", o->proposal->id);
        if (!rc)
            rc = keywords(ei, "", "proposal.keywords", &o->proposal->keywords);
    }
    if (!rc && o->target) {
        rc = required(ei, "", "target.name", o->target->name);
        if (!rc)
            rc = keywords(ei, "", "target.keywords", &o->target->keywords);
    }
    if (!rc && o->telescope) {
        rc = required(ei, "", "telescope.name", o->telescope->name);
        if (!rc)
            rc = keywords(ei, "", "telescope.keywords", &o->telescope->keywords);
    }
    if (!rc && o->instrument) {
        rc = required(ei, "", "instrument.name", o->instrument->name);
        if (!rc)
            rc = keywords(ei, "", "instrument.keywords", &o->instrument->keywords);
    }
    if (!rc && o->kind != CAOM_OBS_DERIVED && o->members.n > 0)
        rc = bad(ei, ERR_INVALID, "", "members", ": only a DerivedObservation has members");
    for (size_t i = 0; !rc && i < o->members.n; i++) {
        char e[48];
        snprintf(e, sizeof e, "members[%zu]", i);
        rc = caom_uri(ei, "", e, o->members.v[i], 2);
    }
    for (size_t i = 0; !rc && i < o->n_planes; i++) {
        char p[PATH_MAX_LEN];
        path_join(p, "", "plane", i);
        rc = validate_plane(ei, p, o->planes[i]);
    }
    if (!rc)
        rc = unique(ei, "", "plane", "productID", "Plane.productID", o->n_planes, plane_key, o);
    return rc;
}

/* ---- chunk WCS (CaomWCSValidator) ---------------------------------------------------------- */

struct axis_use {
    int32_t axis;             /* 1-based axis index */
    const char *name;         /* chunk field that claims it */
};

/* CaomWCSValidator.validateAxes */
static enum err chunk_axes(struct err_info *ei, const char *where, const struct caom_chunk *c)
{
    if (!c->naxis.set)
        return ERR_OK;
    struct axis_use used[8];
    size_t n = 0;
    const struct {
        const struct caom_opti *axis;
        const char *name;
        bool has_wcs;
    } claims[] = {
        {&c->position_axis1, "positionAxis1", c->position != NULL},
        {&c->position_axis2, "positionAxis2", c->position != NULL},
        {&c->time_axis, "timeAxis", c->time != NULL},
        {&c->energy_axis, "energyAxis", c->energy != NULL},
        {&c->custom_axis, "customAxis", c->custom != NULL},
        {&c->polarization_axis, "polarizationAxis", c->polarization != NULL},
        {&c->observable_axis, "observableAxis", c->observable != NULL},
    };
    if (c->position_axis1.set != c->position_axis2.set)
        return bad(ei, ERR_WCS, where, c->position_axis1.set ? "positionAxis2" : "positionAxis1",
                   ": invalid axes: positionAxis1 or positionAxis2 is null");
    for (size_t k = 0; k < ARRAY_LEN(claims); k++) {
        const struct caom_opti *ax = claims[k].axis;
        if (!ax->set)
            continue;
        /* an observable axis beyond naxis is not a pixel axis (e.g. a derived table column) */
        if (ax == &c->observable_axis && ax->v > c->naxis.v)
            continue;
        for (size_t j = 0; j < n; j++)
            if (used[j].axis == ax->v)
                return bad(ei, ERR_WCS, where, claims[k].name,
                           ": invalid axes: duplicate axis found: (%d) %s & %s", (int)ax->v,
                           used[j].name, claims[k].name);
        used[n].axis = ax->v;
        used[n].name = claims[k].name;
        n++;
        if (!claims[k].has_wcs)
            return bad(ei, ERR_WCS, where, claims[k].name,
                       ": invalid axes: %s found (%d) but metadata not found", claims[k].name,
                       (int)ax->v);
    }
    for (size_t j = 0; j < n; j++)
        if (used[j].axis == 0)
            return bad(ei, ERR_WCS, where, used[j].name,
                       ": invalid axes: axis definition (0) not allowed");
    /* at most n axes are assigned, so a missing one shows within the first n + 1 */
    for (int32_t i = 1; i <= c->naxis.v; i++) {
        bool found = false;
        for (size_t j = 0; j < n && !found; j++)
            found = used[j].axis == i;
        if (!found)
            return bad(ei, ERR_WCS, where, "naxis", ": invalid axes: missing axis %d (naxis %d)",
                       (int)i, (int)c->naxis.v);
    }
    return ERR_OK;
}

/* A polarization axis value truncated to int as Java's (int) cast does, checked as a code. */
static bool pol_code_ok(double v, int *code)
{
    if (!(v > -1e6 && v < 1e6)) {
        *code = 0;
        return false;
    }
    *code = (int)v;
    return *code != 0 && caom_pol_state_from_stokes(*code) != CAOM_POL_UNSET;
}

static enum err pol_range(struct err_info *ei, const char *where, const char *elem,
                          const struct caom_coord_range1d *r)
{
    int lb = 0, ub = 0;
    if (!pol_code_ok(r->start.val, &lb))
        return bad(ei, ERR_WCS, where, elem,
                   ": invalid PolarizationWCS: %d is not a polarization code", lb);
    (void)pol_code_ok(r->end.val, &ub);
    /* consecutive integers from a valid code leave the valid set within 19 steps */
    for (int i = lb; i <= ub; i++) {
        int code = 0;
        if (!pol_code_ok((double)i, &code))
            return bad(ei, ERR_WCS, where, elem,
                       ": invalid PolarizationWCS: %d is not a polarization code", i);
    }
    return ERR_OK;
}

/* CaomWCSValidator.validatePolarizationWCS */
static enum err chunk_polarization(struct err_info *ei, const char *where,
                                   const struct caom_polarization_wcs *w)
{
    const struct caom_coord_axis1d *ax = &w->axis;
    if (ax->range)
        return pol_range(ei, where, "polarization.axis.range", ax->range);
    if (ax->bounds) {
        for (size_t i = 0; i < ax->bounds->n_samples; i++) {
            char e[64];
            snprintf(e, sizeof e, "polarization.axis.bounds.samples[%zu]", i);
            enum err rc = pol_range(ei, where, e, &ax->bounds->samples[i]);
            if (rc)
                return rc;
        }
        return ERR_OK;
    }
    if (ax->function) {
        const struct caom_coord_function1d *f = ax->function;
        if (f->naxis > (int64_t)CAOM_MAX_LIST)
            return bad(ei, ERR_WCS, where, "polarization.axis.function.naxis",
                       ": invalid PolarizationWCS: %lld pixels on a polarization axis",
                       (long long)f->naxis);
        for (int64_t i = 1; i <= f->naxis; i++) {
            int code = 0;
            double v = f->ref_coord.val + f->delta * ((double)i - f->ref_coord.pix);
            if (!pol_code_ok(v, &code))
                return bad(ei, ERR_WCS, where, "polarization.axis.function",
                           ": invalid PolarizationWCS: pixel %lld has value %d, not a "
                           "polarization code",
                           (long long)i, code);
        }
    }
    return ERR_OK;
}

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* The TemporalWCS checks of TimeUtil.toInterval, applied when the axis has values. */
static enum err chunk_time(struct err_info *ei, const char *where,
                           const struct caom_temporal_wcs *t)
{
    static const char *const systems[] = {"UTC", "TAI", "TT", "TDT", "ET"};
    const struct caom_coord_axis1d *ax = &t->axis;
    if (!ax->range && !ax->bounds && !ax->function)
        return ERR_OK;
    const char *ctype = ax->axis.ctype ? ax->axis.ctype : "";
    bool ok = (strcmp(ctype, "TIME") == 0 &&
               (!t->timesys || in_list(t->timesys, systems, ARRAY_LEN(systems)))) ||
              (!t->timesys && in_list(ctype, systems, 3));
    if (!ok)
        return bad(ei, ERR_WCS, where, "time.axis.axis.ctype",
                   ": invalid TemporalWCS: unexpected TIMESYS, CTYPE: %.40s,%.40s",
                   t->timesys ? t->timesys : "null", ctype);
    if (!ax->axis.cunit || strcmp(ax->axis.cunit, "d") != 0)
        return bad(ei, ERR_WCS, where, "time.axis.axis.cunit",
                   ": invalid TemporalWCS: unexpected CUNIT: %.40s (expected d)",
                   ax->axis.cunit ? ax->axis.cunit : "null");
    return ERR_OK;
}

enum err caom_observation_validate_wcs(const struct caom_observation *o, struct err_info *ei)
{
    for (size_t i = 0; i < o->n_planes; i++) {
        const struct caom_plane *p = o->planes[i];
        for (size_t j = 0; j < p->n_artifacts; j++) {
            const struct caom_artifact *a = p->artifacts[j];
            for (size_t k = 0; k < a->n_parts; k++) {
                const struct caom_part *pt = a->parts[k];
                for (size_t m = 0; m < pt->n_chunks; m++) {
                    const struct caom_chunk *c = pt->chunks[m];
                    char where[PATH_MAX_LEN];
                    snprintf(where, sizeof where, "plane[%zu].artifact[%zu].part[%zu].chunk[%zu]",
                             i, j, k, m);
                    enum err rc = chunk_axes(ei, where, c);
                    if (!rc && c->polarization)
                        rc = chunk_polarization(ei, where, c->polarization);
                    if (!rc && c->time)
                        rc = chunk_time(ei, where, c->time);
                    if (rc)
                        return rc;
                }
            }
        }
    }
    return ERR_OK;
}
