/* caom_compute.c - plane computed metadata (position, energy, time, polarization) from the
 * chunk WCS, following the server's caom2-compute rules (caom2.md 3.4).
 * Footprints of CoordFunction2D chunks come from wcslib through lib/wcs (caom_wcs_pix2sky),
 * the one projection code of obsflow.
 * SPDX-License-Identifier: Apache-2.0 */
#include "caom/caom.h"
#include "caom/caom_int.h"
#include "wcs/wcs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define D2R (M_PI / 180.0)
#define R2D (180.0 / M_PI)
#define C_MS 299792458.0            /* speed of light, m/s: what the server-computed POSSUM bounds imply */
#define H_ERGS 6.6262e-27           /* Planck constant, erg s */
#define EV_ERG 1.602192e-12         /* 1 eV in erg */
#define UNION_SCALE 0.02            /* Util.mergeIntoList widening */
#define MAX_FOOTPRINT_SQDEG 250.0   /* larger function footprints are rejected as bad WCS */
#define COMPUTE_MAX_VERTICES 100000u /* cap on vertices gathered for one plane */

/* ---- small growable arrays -------------------------------------------------------------- */

struct vbuf {
    struct caom_vertex *v;    /* vertices */
    size_t n, cap;            /* used / allocated */
};

/* ERR_TOO_LARGE at COMPUTE_MAX_VERTICES, ERR_NOMEM */
static enum err vbuf_push(struct vbuf *b, double c1, double c2, enum caom_segment t)
{
    if (b->n >= COMPUTE_MAX_VERTICES)
        return ERR_TOO_LARGE;
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 32;
        struct caom_vertex *nv = realloc(b->v, nc * sizeof(*nv));
        if (!nv)
            return ERR_NOMEM;
        b->v = nv;
        b->cap = nc;
    }
    b->v[b->n].cval1 = c1;
    b->v[b->n].cval2 = c2;
    b->v[b->n].type = t;
    b->n++;
    return ERR_OK;
}

struct ibuf {
    struct caom_interval *v;  /* intervals, kept sorted by lower */
    size_t n, cap;            /* used / allocated */
};

/* ERR_TOO_LARGE at COMPUTE_MAX_VERTICES, ERR_NOMEM */
static enum err ibuf_insert(struct ibuf *b, size_t at, struct caom_interval x)
{
    if (b->n >= COMPUTE_MAX_VERTICES)
        return ERR_TOO_LARGE;
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 16;
        struct caom_interval *nv = realloc(b->v, nc * sizeof(*nv));
        if (!nv)
            return ERR_NOMEM;
        b->v = nv;
        b->cap = nc;
    }
    memmove(&b->v[at + 1], &b->v[at], (b->n - at) * sizeof(*b->v));
    b->v[at] = x;
    b->n++;
    return ERR_OK;
}

/* Util.mergeIntoList: the new interval absorbs every stored one that overlaps it once both
 * are widened by UNION_SCALE of their own width; the list stays sorted. */
static enum err merge_interval(struct ibuf *b, struct caom_interval x)
{
    bool again = true;
    while (again) {
        again = false;
        double wx = UNION_SCALE * (x.upper - x.lower);
        for (size_t i = 0; i < b->n; i++) {
            struct caom_interval t = b->v[i];
            double wt = UNION_SCALE * (t.upper - t.lower);
            if (x.lower - wx <= t.upper + wt && t.lower - wt <= x.upper + wx) {
                x.lower = fmin(x.lower, t.lower);
                x.upper = fmax(x.upper, t.upper);
                memmove(&b->v[i], &b->v[i + 1], (b->n - i - 1) * sizeof(*b->v));
                b->n--;
                again = true;
                break;
            }
        }
    }
    size_t at = 0;
    while (at < b->n && b->v[at].lower < x.lower)
        at++;
    return ibuf_insert(b, at, x);
}

/* ---- chunk selection (Util.choseProductType / useChunk) ------------------------------- */

static bool is_type(const char *t, const char *want)
{
    return t && strcmp(t, want) == 0;
}

static const char *chose_product_type(const struct caom_plane *p)
{
    static const char *const order[] = {"science", "calibration"};
    for (size_t k = 0; k < ARRAY_LEN(order); k++) {
        for (size_t i = 0; i < p->n_artifacts; i++) {
            const struct caom_artifact *a = p->artifacts[i];
            if (is_type(a->product_type, order[k]))
                return order[k];
            for (size_t j = 0; j < a->n_parts; j++) {
                if (is_type(a->parts[j]->product_type, order[k]))
                    return order[k];
                for (size_t c = 0; c < a->parts[j]->n_chunks; c++)
                    if (is_type(a->parts[j]->chunks[c]->product_type, order[k]))
                        return order[k];
            }
        }
    }
    return NULL;
}

static bool use_chunk(const char *pt, const struct caom_artifact *a, const struct caom_part *p,
                      const struct caom_chunk *c)
{
    if (!is_type(a->product_type, pt))
        return false;
    if (p->product_type && !is_type(p->product_type, pt))
        return false;
    if (c->product_type && !is_type(c->product_type, pt))
        return false;
    return true;
}

/* Iterate over the chunks a plane uses. */
#define FOR_CHUNKS(p, pt, a, part, c)                                                             \
    for (size_t i_ = 0; i_ < (p)->n_artifacts; i_++)                                              \
        for (size_t j_ = 0; j_ < (p)->artifacts[i_]->n_parts; j_++)                               \
            for (size_t k_ = 0; k_ < (p)->artifacts[i_]->parts[j_]->n_chunks; k_++)               \
                for (const struct caom_artifact *a = (p)->artifacts[i_]; a; a = NULL)             \
                    for (const struct caom_part *part = a->parts[j_]; part; part = NULL)          \
                        for (const struct caom_chunk *c = part->chunks[k_]; c; c = NULL)          \
                            if (use_chunk((pt), a, part, c))

/* ---- celestial WCS through wcslib (lib/wcs), the one projection code ------------------ */

static double norm_lon(double l)
{
    l = fmod(l, 360.0);
    if (l < 0)
        l += 360.0;
    return l;
}

static void wcs_str(char *dst, const char *src)
{
    snprintf(dst, WCSX_STR_MAX, "%s", src ? src : "");
}

enum err caom_wcs_pix2sky(void *ctx, const struct caom_spatial_wcs *w, const double *pix,
                          double *world, size_t n, struct err_info *ei)
{
    struct wcsx_position p;
    (void)ctx;
    memset(&p, 0, sizeof p);
    if (!w || !w->axis.function || !w->axis.axis1.ctype || !w->axis.axis2.ctype)
        return err_set(ei, ERR_WCS, "spatial WCS has no function to project");
    const struct caom_coord_function2d *f = w->axis.function;
    wcs_str(p.ctype1, w->axis.axis1.ctype);
    wcs_str(p.cunit1, w->axis.axis1.cunit);
    wcs_str(p.ctype2, w->axis.axis2.ctype);
    wcs_str(p.cunit2, w->axis.axis2.cunit);
    p.has_function = true;
    p.naxis1 = (long)f->dimension.naxis1;
    p.naxis2 = (long)f->dimension.naxis2;
    p.crpix1 = f->ref_coord.coord1.pix;
    p.crval1 = f->ref_coord.coord1.val;
    p.crpix2 = f->ref_coord.coord2.pix;
    p.crval2 = f->ref_coord.coord2.val;
    p.cd11 = f->cd11.set ? f->cd11.v : 0.0;
    p.cd12 = f->cd12.set ? f->cd12.v : 0.0;
    p.cd21 = f->cd21.set ? f->cd21.v : 0.0;
    p.cd22 = f->cd22.set ? f->cd22.v : 0.0;
    wcs_str(p.coordsys, w->coordsys);
    if (w->equinox.set) {
        p.equinox.set = true;
        p.equinox.v = w->equinox.v;
    }
    return wcsx_pix2sky(&p, pix, world, n, ei);
}

/* Galactic (l, b) to equatorial J2000 (ra, dec), IAU 1958 pole and origin in FK5. */
static void gal_to_fk5(double l, double b, double *ra, double *dec)
{
    static const double m[3][3] = {
        {-0.054875539390, 0.494109453633, -0.867666135681},
        {-0.873437104725, -0.444829594298, -0.198076389622},
        {-0.483834991775, 0.746982248696, 0.455983794523},
    };
    double cb = cos(b * D2R);
    double v[3] = {cb * cos(l * D2R), cb * sin(l * D2R), sin(b * D2R)};
    double e[3];
    for (int i = 0; i < 3; i++)
        e[i] = m[0][i] * v[0] + m[1][i] * v[1] + m[2][i] * v[2];
    *ra = norm_lon(atan2(e[1], e[0]) * R2D);
    *dec = asin(fmax(-1.0, fmin(1.0, e[2]))) * R2D;
}

/* ---- spherical polygon helpers ---------------------------------------------------------- */

/* Gnomonic projection about (a0, d0): xi grows with longitude, eta with latitude. */
static void tangent(double a0, double d0, double a, double d, double *xi, double *eta)
{
    double da = (a - a0) * D2R, sd = sin(d * D2R), cdd = cos(d * D2R);
    double s0 = sin(d0 * D2R), c0 = cos(d0 * D2R);
    double den = s0 * sd + c0 * cdd * cos(da);
    if (den < 1e-6)
        den = 1e-6;
    *xi = cdd * sin(da) / den;
    *eta = (c0 * sd - s0 * cdd * cos(da)) / den;
}

static void centre_of(const struct vbuf *v, size_t from, size_t to, double *a0, double *d0)
{
    double x = 0, y = 0, z = 0;
    for (size_t i = from; i < to; i++) {
        if (v->v[i].type == CAOM_SEG_CLOSE)
            continue;
        double a = v->v[i].cval1 * D2R, d = v->v[i].cval2 * D2R;
        x += cos(d) * cos(a);
        y += cos(d) * sin(a);
        z += sin(d);
    }
    double r = sqrt(x * x + y * y + z * z);
    if (r == 0) {
        *a0 = 0;
        *d0 = 0;
        return;
    }
    *a0 = norm_lon(atan2(y, x) * R2D);
    *d0 = asin(z / r) * R2D;
}

/* Signed area of a loop in the tangent plane (positive = counter-clockwise in xi/eta). */
static double loop_area(const struct caom_vertex *v, size_t n, double a0, double d0)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double x1, y1, x2, y2;
        tangent(a0, d0, v[i].cval1, v[i].cval2, &x1, &y1);
        tangent(a0, d0, v[(i + 1) % n].cval1, v[(i + 1) % n].cval2, &x2, &y2);
        s += x1 * y2 - x2 * y1;
    }
    return s / 2.0;
}

/* Append one chunk footprint as MOVE, LINE..., CLOSE, oriented as CAOM stores polygons
 * (counter-clockwise seen on the sky, i.e. clockwise in xi/eta). */
static enum err add_loop(struct vbuf *b, const double *lonlat, size_t n)
{
    struct caom_vertex tmp[64];
    if (n < 3 || n > ARRAY_LEN(tmp))
        return ERR_TOO_LARGE;
    for (size_t i = 0; i < n; i++) {
        tmp[i].cval1 = norm_lon(lonlat[2 * i]);
        tmp[i].cval2 = lonlat[2 * i + 1];
        tmp[i].type = CAOM_SEG_LINE;
    }
    struct vbuf one = {tmp, n, n};
    double a0, d0;
    centre_of(&one, 0, n, &a0, &d0);
    bool reverse = loop_area(tmp, n, a0, d0) > 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = reverse ? (n - k) % n : k;
        enum err rc = vbuf_push(b, tmp[i].cval1, tmp[i].cval2,
                                k == 0 ? CAOM_SEG_MOVE : CAOM_SEG_LINE);
        if (rc)
            return rc;
    }
    return vbuf_push(b, 0.0, 0.0, CAOM_SEG_CLOSE);
}

struct hp {
    double x, y;              /* tangent-plane position */
    size_t idx;               /* index into the sample vertices */
};

static int cmp_hp(const void *a, const void *b)
{
    const struct hp *p = a, *q = b;
    if (p->x != q->x)
        return p->x < q->x ? -1 : 1;
    if (p->y != q->y)
        return p->y < q->y ? -1 : 1;
    return (p->idx > q->idx) - (p->idx < q->idx);
}

static double cross(const struct hp *o, const struct hp *a, const struct hp *b)
{
    return (a->x - o->x) * (b->y - o->y) - (a->y - o->y) * (b->x - o->x);
}

/* Convex hull of all sample vertices (Andrew's monotone chain in the tangent plane about
 * their centre), using the original vertex coordinates, clockwise in xi/eta, starting at the
 * hull vertex that comes first in the samples. ERR_OK; ERR_NOT_FOUND when fewer than three
 * hull vertices remain (degenerate); ERR_NOMEM. */
static enum err hull(const struct vbuf *s, struct caom_polygon *out)
{
    double a0, d0;
    centre_of(s, 0, s->n, &a0, &d0);
    size_t n = 0;
    struct hp *p = malloc(s->n * sizeof(*p));
    struct hp *h = malloc((2 * s->n + 1) * sizeof(*h));
    if (!p || !h) {
        free(p);
        free(h);
        return ERR_NOMEM;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].type == CAOM_SEG_CLOSE)
            continue;
        tangent(a0, d0, s->v[i].cval1, s->v[i].cval2, &p[n].x, &p[n].y);
        p[n].idx = i;
        n++;
    }
    qsort(p, n, sizeof(*p), cmp_hp);
    size_t k = 0;
    const double eps = 1e-15;
    for (size_t i = 0; i < n; i++) {
        while (k >= 2 && cross(&h[k - 2], &h[k - 1], &p[i]) <= eps)
            k--;
        h[k++] = p[i];
    }
    for (size_t i = n - 1, t = k + 1; i-- > 0;) {
        while (k >= t && cross(&h[k - 2], &h[k - 1], &p[i]) <= eps)
            k--;
        h[k++] = p[i];
    }
    if (k > 1)
        k--; /* last point repeats the first */
    enum err rc = k >= 3 ? ERR_OK : ERR_NOT_FOUND;
    if (rc == ERR_OK) {
        /* counter-clockwise now: reverse to clockwise, rotate to the earliest sample vertex */
        size_t start = 0;
        for (size_t i = 1; i < k; i++)
            if (h[i].idx < h[start].idx)
                start = i;
        out->points = malloc(k * sizeof(*out->points));
        rc = out->points ? ERR_OK : ERR_NOMEM;
        for (size_t j = 0; rc == ERR_OK && j < k; j++) {
            size_t i = (start + k - j) % k;
            out->points[j].cval1 = s->v[h[i].idx].cval1;
            out->points[j].cval2 = s->v[h[i].idx].cval2;
        }
        out->n_points = rc == ERR_OK ? k : 0;
    }
    free(p);
    free(h);
    return rc;
}

/* Spherical polygon area (square degrees) of one loop, for the bad-WCS guard. */
static double loop_sqdeg(const double *ll, size_t n)
{
    double a0 = 0, d0 = 0;
    struct caom_vertex tmp[8];
    for (size_t i = 0; i < n && i < 8; i++) {
        tmp[i].cval1 = ll[2 * i];
        tmp[i].cval2 = ll[2 * i + 1];
        tmp[i].type = CAOM_SEG_LINE;
    }
    struct vbuf one = {tmp, n, n};
    centre_of(&one, 0, n, &a0, &d0);
    return fabs(loop_area(tmp, n, a0, d0)) * R2D * R2D;
}

/* ---- position --------------------------------------------------------------------------- */

static bool is_galactic(const struct caom_spatial_wcs *w)
{
    const char *c = w->axis.axis1.ctype;
    return c && strncmp(c, "GLON", 4) == 0;
}

static bool lat_first(const struct caom_spatial_wcs *w)
{
    const char *c = w->axis.axis1.ctype;
    return c && (strncmp(c, "DEC", 3) == 0 || strncmp(c, "GLAT", 4) == 0 ||
                 strncmp(c, "ELAT", 4) == 0);
}

/* The footprint of one chunk as lon/lat pairs (4 corners or the bounds polygon). */
static enum err chunk_footprint(const struct caom_spatial_wcs *w, const struct caom_compute_opts *o,
                                double *ll, size_t cap, size_t *n, bool *is_circle,
                                struct err_info *ei)
{
    const struct caom_coord_axis2d *a = &w->axis;
    *is_circle = false;
    *n = 0;
    if (a->bounds) {
        if (a->bounds->kind == CAOM_BOUNDS2D_CIRCLE) {
            /* approximate by a box in a local frame */
            double c1 = a->bounds->circle.center.coord1, c2 = a->bounds->circle.center.coord2;
            double r = a->bounds->circle.radius, cosd = cos(c2 * D2R);
            double dx = cosd > 1e-9 ? r / cosd : 180.0;
            double box[8] = {c1 + dx, c2 - r, c1 - dx, c2 - r, c1 - dx, c2 + r, c1 + dx, c2 + r};
            memcpy(ll, box, sizeof box);
            *n = 4;
            *is_circle = true;
        } else {
            size_t m = a->bounds->polygon.n_vertices;
            if (m < 3 || m > cap)
                return err_set(ei, ERR_WCS, "position bounds polygon has %zu vertices", m);
            for (size_t i = 0; i < m; i++) {
                ll[2 * i] = a->bounds->polygon.vertices[i].coord1;
                ll[2 * i + 1] = a->bounds->polygon.vertices[i].coord2;
            }
            *n = m;
        }
    } else if (a->function) {
        const struct caom_coord_function2d *f = a->function;
        double n1 = (double)f->dimension.naxis1, n2 = (double)f->dimension.naxis2;
        double pix[8] = {0.5, 0.5, n1 + 0.5, 0.5, n1 + 0.5, n2 + 0.5, 0.5, n2 + 0.5};
        enum err rc = o && o->pix2sky ? o->pix2sky(o->pix2sky_ctx, w, pix, ll, 4, ei)
                                      : caom_wcs_pix2sky(NULL, w, pix, ll, 4, ei);
        if (rc)
            return rc;
        *n = 4;
        if (loop_sqdeg(ll, 4) > MAX_FOOTPRINT_SQDEG)
            return err_set(ei, ERR_WCS, "footprint larger than %g square degrees: bad wcs",
                           MAX_FOOTPRINT_SQDEG);
    } else if (a->range) {
        double s1 = a->range->start.coord1.val, s2 = a->range->start.coord2.val;
        double e1 = a->range->end.coord1.val, e2 = a->range->end.coord2.val;
        double box[8] = {s1, s2, e1, s2, e1, e2, s1, e2};
        memcpy(ll, box, sizeof box);
        *n = 4;
    } else {
        return ERR_NOT_FOUND;
    }
    for (size_t i = 0; i < *n; i++) {
        if (lat_first(w)) {
            double t = ll[2 * i];
            ll[2 * i] = ll[2 * i + 1];
            ll[2 * i + 1] = t;
        }
        if (is_galactic(w))
            gal_to_fk5(ll[2 * i], ll[2 * i + 1], &ll[2 * i], &ll[2 * i + 1]);
        ll[2 * i] = norm_lon(ll[2 * i]);
        ll[2 * i + 1] = fmax(-90.0, fmin(90.0, ll[2 * i + 1]));
    }
    return ERR_OK;
}

static double chunk_scale(const struct caom_coord_function2d *f)
{
    double c11 = f->cd11.set ? f->cd11.v : 0, c12 = f->cd12.set ? f->cd12.v : 0;
    double c21 = f->cd21.set ? f->cd21.v : 0, c22 = f->cd22.set ? f->cd22.v : 0;
    return (sqrt(c11 * c11 + c21 * c21) + sqrt(c12 * c12 + c22 * c22)) / 2.0;
}

static enum err compute_position(struct caom_plane *p, const char *pt,
                                 const struct caom_compute_opts *o, struct err_info *ei)
{
    struct vbuf s = {0};
    enum err rc = ERR_OK;
    size_t nchunks = 0, nfunc = 0;
    double wsum = 0, wscale = 0, rsum = 0, rw = 0, coarsest = 0;
    const struct caom_spatial_wcs *only = NULL;
    bool circle = false, td_set = false;
    struct caom_position *pos = NULL;
    FOR_CHUNKS(p, pt, a, part, c) {
        if (!c->position)
            continue;
        double ll[2 * 64];
        size_t n = 0;
        bool is_circle = false;
        rc = chunk_footprint(c->position, o, ll, 64, &n, &is_circle, ei);
        if (rc == ERR_NOT_FOUND) {
            rc = ERR_OK;
            continue;
        }
        if (rc) {
            err_prefix(ei, "artifact %s part %s: ", a->uri ? a->uri : "", part->name ? part->name : "");
            goto out;
        }
        nchunks++;
        only = c->position;
        circle = is_circle;
        if ((rc = add_loop(&s, ll, n))) {
            rc = rc == ERR_NOMEM
                     ? err_set(ei, rc, "out of memory for the footprint of plane %s", p->product_id)
                     : err_set(ei, rc, "too many footprint vertices in plane %s", p->product_id);
            goto out;
        }
        const struct caom_coord_function2d *f = c->position->axis.function;
        if (f) {
            double npix = (double)f->dimension.naxis1 * (double)f->dimension.naxis2;
            double sc = chunk_scale(f);
            wscale += sc * npix;
            wsum += npix;
            coarsest = fmax(coarsest, sc);
            nfunc++;
            if (c->position->resolution.set) {
                rsum += c->position->resolution.v * npix;
                rw += npix;
            }
        } else if (c->position->resolution.set) {
            rsum += c->position->resolution.v;
            rw += 1;
        }
    }
    if (nchunks == 0)
        goto out;
    pos = calloc(1, sizeof(*pos));
    if (!pos || !(pos->bounds = calloc(1, sizeof(*pos->bounds)))) {
        rc = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    if (nchunks == 1 && circle && only->axis.bounds) {
        pos->bounds->kind = CAOM_SHAPE_CIRCLE;
        pos->bounds->circle.center.cval1 = only->axis.bounds->circle.center.coord1;
        pos->bounds->circle.center.cval2 = only->axis.bounds->circle.center.coord2;
        pos->bounds->circle.radius = only->axis.bounds->circle.radius;
    } else {
        pos->bounds->kind = CAOM_SHAPE_POLYGON;
        if ((rc = hull(&s, &pos->bounds->polygon))) {
            rc = rc == ERR_NOMEM
                     ? err_set(ei, rc, "out of memory for the footprint of plane %s", p->product_id)
                     : err_set(ei, ERR_WCS, "plane %s: footprint is degenerate", p->product_id);
            goto out;
        }
        pos->bounds->polygon.samples = s.v;
        pos->bounds->polygon.n_samples = s.n;
        s.v = NULL;
    }
    if (nchunks == 1 && only->axis.function) {
        pos->dimension = malloc(sizeof(*pos->dimension));
        if (!pos->dimension) {
            rc = err_set(ei, ERR_NOMEM, "out of memory");
            goto out;
        }
        *pos->dimension = only->axis.function->dimension;
    } else if (nfunc > 0 && coarsest > 0 && pos->bounds->kind == CAOM_SHAPE_POLYGON) {
        const struct caom_polygon *g = &pos->bounds->polygon;
        double a0 = 0, d0 = 0, minx = INFINITY, maxx = -INFINITY, miny = INFINITY, maxy = -INFINITY;
        double x = 0, y = 0, z = 0;
        for (size_t i = 0; i < g->n_points; i++) {
            double ra = g->points[i].cval1 * D2R, de = g->points[i].cval2 * D2R;
            x += cos(de) * cos(ra);
            y += cos(de) * sin(ra);
            z += sin(de);
        }
        a0 = norm_lon(atan2(y, x) * R2D);
        d0 = asin(z / sqrt(x * x + y * y + z * z)) * R2D;
        for (size_t i = 0; i < g->n_points; i++) {
            double xi, eta;
            tangent(a0, d0, g->points[i].cval1, g->points[i].cval2, &xi, &eta);
            minx = fmin(minx, xi);
            maxx = fmax(maxx, xi);
            miny = fmin(miny, eta);
            maxy = fmax(maxy, eta);
        }
        pos->dimension = malloc(sizeof(*pos->dimension));
        if (!pos->dimension) {
            rc = err_set(ei, ERR_NOMEM, "out of memory");
            goto out;
        }
        pos->dimension->naxis1 = (int64_t)llround((maxx - minx) * R2D / coarsest);
        pos->dimension->naxis2 = (int64_t)llround((maxy - miny) * R2D / coarsest);
    }
    if (wsum > 0)
        pos->sample_size = caom_d(3600.0 * wscale / wsum);
    if (rw > 0)
        pos->resolution = caom_d(rsum / rw);
    (void)td_set;
out:
    free(s.v);
    if (rc) {
        caom_position_free(pos);
        return rc;
    }
    caom_position_free(p->position);
    p->position = pos;
    return ERR_OK;
}

/* ---- energy ------------------------------------------------------------------------------ */

/* A spectral world value in @p cunit of axis type @p ctype to wavelength in metres. */
static bool spectral_to_m(const char *ctype, const char *cunit, double v,
                          const struct caom_spectral_wcs *e, double *out)
{
    char t[5] = {0};
    if (!ctype)
        return false;
    memcpy(t, ctype, strlen(ctype) < 4 ? strlen(ctype) : 4);
    const char *u = cunit ? cunit : "";
    double restfrq = e->restfrq.set ? e->restfrq.v
                     : e->restwav.set && e->restwav.v != 0 ? C_MS / e->restwav.v : 0;
    double restwav = e->restwav.set ? e->restwav.v : restfrq != 0 ? C_MS / restfrq : 0;
    if (strcmp(t, "FREQ") == 0) {
        double s = 1.0;
        if (!*u || strcmp(u, "Hz") == 0)
            s = 1.0;
        else if (strcmp(u, "kHz") == 0)
            s = 1e3;
        else if (strcmp(u, "MHz") == 0)
            s = 1e6;
        else if (strcmp(u, "GHz") == 0)
            s = 1e9;
        else
            return false;
        if (v == 0)
            return false;
        *out = C_MS / (v * s);
        return true;
    }
    if (strcmp(t, "WAVE") == 0 || strcmp(t, "AWAV") == 0) {
        double s;
        if (!*u || strcmp(u, "m") == 0)
            s = 1.0;
        else if (strcmp(u, "cm") == 0)
            s = 1e-2;
        else if (strcmp(u, "mm") == 0)
            s = 1e-3;
        else if (strcmp(u, "um") == 0)
            s = 1e-6;
        else if (strcmp(u, "nm") == 0)
            s = 1e-9;
        else if (strcmp(u, "Angstrom") == 0 || strcmp(u, "A") == 0)
            s = 1e-10;
        else
            return false;
        *out = v * s;
        return true;
    }
    if (strcmp(t, "ENER") == 0) {
        double s;
        if (!*u || strcmp(u, "eV") == 0)
            s = 1.0;
        else if (strcmp(u, "keV") == 0)
            s = 1e3;
        else if (strcmp(u, "MeV") == 0)
            s = 1e6;
        else if (strcmp(u, "GeV") == 0)
            s = 1e9;
        else
            return false;
        if (v == 0)
            return false;
        *out = (H_ERGS * C_MS * 100.0) / (v * s * EV_ERG) / 100.0;
        return true;
    }
    if (strcmp(t, "WAVN") == 0) {
        double s = (!*u || strcmp(u, "/m") == 0 || strcmp(u, "m-1") == 0) ? 1.0
                   : (strcmp(u, "/cm") == 0 || strcmp(u, "cm-1") == 0) ? 100.0 : 0.0;
        if (s == 0 || v == 0)
            return false;
        *out = 1.0 / (v * s);
        return true;
    }
    /* velocity units with the spellings FITS files use: "m/s", "m / s", "m s-1", "km.s-1" */
    char vu[16];
    size_t k = 0;
    for (const char *q = u; *q && k + 1 < sizeof vu; q++)
        if (*q != ' ' && *q != '.')
            vu[k++] = *q;
    vu[k] = '\0';
    double vs = (!*vu || strcmp(vu, "m/s") == 0 || strcmp(vu, "ms-1") == 0 || strcmp(vu, "ms^-1") == 0)
                    ? 1.0
                : (strcmp(vu, "km/s") == 0 || strcmp(vu, "kms-1") == 0 || strcmp(vu, "kms^-1") == 0)
                    ? 1e3
                    : 0.0;
    if (strcmp(t, "VRAD") == 0) {
        if (vs == 0 || restfrq == 0)
            return false;
        double nu = restfrq * (1.0 - v * vs / C_MS);
        if (nu <= 0)
            return false;
        *out = C_MS / nu;
        return true;
    }
    if (strcmp(t, "VOPT") == 0) {
        if (vs == 0 || restwav == 0)
            return false;
        *out = restwav * (1.0 + v * vs / C_MS);
        return true;
    }
    if (strcmp(t, "ZOPT") == 0) {
        if (restwav == 0)
            return false;
        *out = restwav * (1.0 + v);
        return true;
    }
    if (strcmp(t, "VELO") == 0 || strcmp(t, "BETA") == 0) {
        double beta = strcmp(t, "BETA") == 0 ? v : (vs == 0 ? NAN : v * vs / C_MS);
        if (!(beta > -1.0 && beta < 1.0) || restwav == 0)
            return false;
        *out = restwav * sqrt((1.0 + beta) / (1.0 - beta));
        return true;
    }
    return false;
}

static bool spec_interval(const struct caom_spectral_wcs *e, double v1, double v2,
                          struct caom_interval *out)
{
    double a, b;
    if (!spectral_to_m(e->axis.axis.ctype, e->axis.axis.cunit, v1, e, &a) ||
        !spectral_to_m(e->axis.axis.ctype, e->axis.axis.cunit, v2, e, &b))
        return false;
    out->lower = fmin(a, b);
    out->upper = fmax(a, b);
    return true;
}

struct band_def {
    enum caom_energy_band band; /* the band */
    double lo, hi;              /* wavelength limits, metres */
};

static void band_limits(struct band_def out[8])
{
    double hc = H_ERGS * C_MS; /* erg m */
    double kev = 1e3 * EV_ERG;
    struct band_def b[8] = {
        {CAOM_BAND_RADIO, 1e-2, INFINITY},
        {CAOM_BAND_MILLIMETER, 1e-4, 1e-2},
        {CAOM_BAND_INFRARED, 1e-6, 1e-4},
        {CAOM_BAND_OPTICAL, 3e-7, 1e-6},
        {CAOM_BAND_UV, 1e-7, 3e-7},
        {CAOM_BAND_EUV, 1e-8, 1e-7},
        {CAOM_BAND_XRAY, hc / (120.0 * kev), hc / (0.12 * kev)},
        {CAOM_BAND_GAMMARAY, hc / (1e6 * kev), hc / (120.0 * kev)},
    };
    memcpy(out, b, sizeof b);
}

/* Merge @p ni intervals of one chunk into the plane's samples @p s and add their widths to
 * *@p width_total; @p what ("energy", "time") names them in errors. */
static enum err add_samples(struct ibuf *s, const struct caom_interval *iv, size_t ni,
                            const char *what, const char *plane, double *width_total,
                            struct err_info *ei)
{
    for (size_t k = 0; k < ni; k++) {
        enum err rc = merge_interval(s, iv[k]);
        if (rc == ERR_NOMEM)
            return err_set(ei, rc, "out of memory for the %s samples of plane %s", what, plane);
        if (rc)
            return err_set(ei, rc, "too many %s samples in plane %s", what, plane);
        *width_total += iv[k].upper - iv[k].lower;
    }
    return ERR_OK;
}

/* New bounds taking over the (non-empty) samples of @p s, spanning all of them; NULL when out
 * of memory (@p s then keeps its samples). */
static struct caom_sampled_interval *take_bounds(struct ibuf *s)
{
    struct caom_sampled_interval *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->lower = s->v[0].lower;
    b->upper = s->v[0].upper;
    for (size_t i = 1; i < s->n; i++) {
        b->lower = fmin(b->lower, s->v[i].lower);
        b->upper = fmax(b->upper, s->v[i].upper);
    }
    b->samples = s->v;
    b->n_samples = s->n;
    s->v = NULL;
    s->n = s->cap = 0;
    return b;
}

/* Dimension of a 1-D axis over @p n chunks: the summed pixels of range-only chunks, the one
 * function's naxis, else the bounds width over the coarsest pixel (absent when unknown). */
static struct caom_optl axis_dimension(bool range_dims, size_t n_range_pix, size_t n,
                                       int64_t only_naxis, double coarsest,
                                       const struct caom_sampled_interval *b)
{
    struct caom_optl d = {0};
    if (range_dims)
        d = caom_l((int64_t)n_range_pix);
    else if (n == 1)
        d = caom_l(only_naxis);
    else if (coarsest > 0)
        d = caom_l((int64_t)llround((b->upper - b->lower) / coarsest));
    return d;
}

static enum err compute_energy(struct caom_plane *p, const char *pt, struct err_info *ei)
{
    struct ibuf s = {0};
    double npix_total = 0, width_total = 0, rp_sum = 0, rp_w = 0, coarsest = 0;
    double rw_min = INFINITY, rw_max = -INFINITY;
    size_t n = 0, n_range_pix = 0, nrest = 0;
    int64_t only_naxis = -1;
    bool range_dims = true;
    const char *bandpass = NULL;
    bool bandpass_same = true;
    const struct caom_energy_transition *tr = NULL;
    bool tr_same = true;
    enum err rc = ERR_OK;
    struct caom_energy *en = NULL;
    FOR_CHUNKS(p, pt, a, part, c) {
        const struct caom_spectral_wcs *e = c->energy;
        if (!e)
            continue;
        const struct caom_coord_axis1d *ax = &e->axis;
        struct caom_interval iv[64];
        size_t ni = 0;
        double npix = 0;
        if (ax->range) {
            if (!spec_interval(e, ax->range->start.val, ax->range->end.val, &iv[0]))
                goto bad;
            ni = 1;
            npix = fabs(ax->range->end.pix - ax->range->start.pix);
            n_range_pix += (size_t)llround(npix);
        } else if (ax->bounds && ax->bounds->n_samples > 0) {
            for (size_t k = 0; k < ax->bounds->n_samples && ni < ARRAY_LEN(iv); k++) {
                const struct caom_coord_range1d *r = &ax->bounds->samples[k];
                if (!spec_interval(e, r->start.val, r->end.val, &iv[ni]))
                    goto bad;
                ni++;
                npix += fabs(r->end.pix - r->start.pix);
            }
            n_range_pix += (size_t)llround(npix);
        } else if (ax->function) {
            const struct caom_coord_function1d *f = ax->function;
            double v1 = f->ref_coord.val + f->delta * (0.5 - f->ref_coord.pix);
            double v2 = f->ref_coord.val + f->delta * ((double)f->naxis + 0.5 - f->ref_coord.pix);
            if (!spec_interval(e, v1, v2, &iv[0]))
                goto bad;
            ni = 1;
            npix = (double)f->naxis;
            range_dims = false;
            only_naxis = f->naxis;
            if (npix > 0)
                coarsest = fmax(coarsest, (iv[0].upper - iv[0].lower) / npix);
        } else {
            continue;
        }
        if ((rc = add_samples(&s, iv, ni, "energy", p->product_id, &width_total, ei)))
            goto out;
        npix_total += npix;
        n++;
        if (e->resolving_power.set) {
            rp_sum += e->resolving_power.v * (npix > 0 ? npix : 1);
            rp_w += npix > 0 ? npix : 1;
        }
        if (n == 1)
            bandpass = e->bandpass_name;
        else if (!bandpass || !e->bandpass_name || strcmp(bandpass, e->bandpass_name) != 0)
            bandpass_same = false;
        if (n == 1)
            tr = e->transition;
        else if (!tr || !e->transition || strcmp(tr->species, e->transition->species) != 0 ||
                 strcmp(tr->transition, e->transition->transition) != 0)
            tr_same = false;
        double rwv = e->restwav.set ? e->restwav.v
                     : e->restfrq.set && e->restfrq.v != 0 ? C_MS / e->restfrq.v : NAN;
        if (!isnan(rwv)) {
            rw_min = fmin(rw_min, rwv);
            rw_max = fmax(rw_max, rwv);
            nrest++;
        }
        continue;
    bad:
        rc = err_set(ei, ERR_WCS, "artifact %s part %s: spectral axis %s [%s] cannot be converted "
                     "to wavelength", a->uri ? a->uri : "", part->name ? part->name : "",
                     ax->axis.ctype ? ax->axis.ctype : "", ax->axis.cunit ? ax->axis.cunit : "");
        goto out;
    }
    if (n == 0 || s.n == 0)
        goto out;
    en = calloc(1, sizeof(*en));
    if (!en || !(en->bounds = take_bounds(&s))) {
        rc = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    en->dimension = axis_dimension(range_dims, n_range_pix, n, only_naxis, coarsest, en->bounds);
    if (npix_total > 0)
        en->sample_size = caom_d(width_total / npix_total);
    if (rp_w > 0)
        en->resolving_power = caom_d(rp_sum / rp_w);
    if (bandpass && bandpass_same && caom_str_set(&en->bandpass_name, bandpass)) {
        rc = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    if (tr && tr_same) {
        en->transition = calloc(1, sizeof(*en->transition));
        if (!en->transition || caom_str_set(&en->transition->species, tr->species) ||
            caom_str_set(&en->transition->transition, tr->transition)) {
            rc = err_set(ei, ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    if (nrest > 0 && (rw_max - rw_min) / rw_min < 0.01)
        en->restwav = caom_d((rw_min + rw_max) / 2.0);
    struct band_def bands[8];
    band_limits(bands);
    for (size_t i = 0; i < 8; i++) {
        if (bands[i].lo < en->bounds->upper && bands[i].hi > en->bounds->lower) {
            enum caom_energy_band *nb = realloc(en->bands, (en->n_bands + 1) * sizeof(*nb));
            if (!nb) {
                rc = err_set(ei, ERR_NOMEM, "out of memory");
                goto out;
            }
            en->bands = nb;
            en->bands[en->n_bands++] = bands[i].band;
        }
    }
out:
    free(s.v);
    if (rc) {
        caom_energy_free(en);
        return rc;
    }
    caom_energy_free(p->energy);
    p->energy = en;
    return ERR_OK;
}

/* ---- time -------------------------------------------------------------------------------- */

/* TAI-UTC in seconds for an MJD (UTC), from 1972 on. */
static double tai_minus_utc(double mjd)
{
    static const struct {
        double mjd;
        double s;
    } t[] = {
        {41317, 10}, {41499, 11}, {41683, 12}, {42048, 13}, {42413, 14}, {42778, 15},
        {43144, 16}, {43509, 17}, {43874, 18}, {44239, 19}, {44786, 20}, {45151, 21},
        {45516, 22}, {46247, 23}, {47161, 24}, {47892, 25}, {48257, 26}, {48804, 27},
        {49169, 28}, {49534, 29}, {50083, 30}, {50630, 31}, {51179, 32}, {53736, 33},
        {54832, 34}, {56109, 35}, {57204, 36}, {57754, 37},
    };
    double s = 10;
    if (mjd < t[0].mjd)
        return 10;
    for (size_t i = 0; i < ARRAY_LEN(t); i++)
        if (mjd >= t[i].mjd)
            s = t[i].s;
    return s;
}

static double to_utc(const char *timesys, double mjd)
{
    if (!timesys)
        return mjd;
    if (strcmp(timesys, "TAI") == 0)
        return mjd - tai_minus_utc(mjd) / 86400.0;
    if (strcmp(timesys, "TT") == 0 || strcmp(timesys, "TDT") == 0 || strcmp(timesys, "ET") == 0)
        return mjd - (32.184 + tai_minus_utc(mjd)) / 86400.0;
    return mjd;
}

static enum err compute_time(struct caom_plane *p, const char *pt, struct err_info *ei)
{
    struct ibuf s = {0};
    double npix_total = 0, width_total = 0, ex_sum = 0, ex_w = 0, res_sum = 0, res_w = 0;
    double coarsest = 0;
    size_t n = 0, n_range_pix = 0;
    int64_t only_naxis = -1;
    bool range_dims = true;
    enum err rc = ERR_OK;
    struct caom_time *tm = NULL;
    FOR_CHUNKS(p, pt, a, part, c) {
        const struct caom_temporal_wcs *t = c->time;
        if (!t)
            continue;
        const struct caom_coord_axis1d *ax = &t->axis;
        if (ax->axis.cunit && strcmp(ax->axis.cunit, "d") != 0) {
            rc = err_set(ei, ERR_WCS, "artifact %s part %s: time axis unit \"%s\" is not d",
                         a->uri ? a->uri : "", part->name ? part->name : "", ax->axis.cunit);
            goto out;
        }
        double off = t->mjdref.set ? t->mjdref.v : 0.0;
        struct caom_interval iv[64];
        size_t ni = 0;
        double npix = 0;
        if (ax->range) {
            iv[0].lower = fmin(ax->range->start.val, ax->range->end.val) + off;
            iv[0].upper = fmax(ax->range->start.val, ax->range->end.val) + off;
            ni = 1;
            npix = fabs(ax->range->end.pix - ax->range->start.pix);
            n_range_pix += (size_t)llround(npix);
        } else if (ax->bounds && ax->bounds->n_samples > 0) {
            for (size_t k = 0; k < ax->bounds->n_samples && ni < ARRAY_LEN(iv); k++) {
                const struct caom_coord_range1d *r = &ax->bounds->samples[k];
                iv[ni].lower = fmin(r->start.val, r->end.val) + off;
                iv[ni].upper = fmax(r->start.val, r->end.val) + off;
                ni++;
                npix += fabs(r->end.pix - r->start.pix);
            }
            n_range_pix += (size_t)llround(npix);
        } else if (ax->function) {
            const struct caom_coord_function1d *f = ax->function;
            double v1 = f->ref_coord.val + f->delta * (0.5 - f->ref_coord.pix) + off;
            double v2 = f->ref_coord.val + f->delta * ((double)f->naxis + 0.5 - f->ref_coord.pix) + off;
            iv[0].lower = fmin(v1, v2);
            iv[0].upper = fmax(v1, v2);
            ni = 1;
            npix = (double)f->naxis;
            range_dims = false;
            only_naxis = f->naxis;
            if (npix > 0)
                coarsest = fmax(coarsest, (iv[0].upper - iv[0].lower) / npix);
        } else {
            continue;
        }
        for (size_t k = 0; k < ni; k++) {
            iv[k].lower = to_utc(t->timesys, iv[k].lower);
            iv[k].upper = to_utc(t->timesys, iv[k].upper);
        }
        if ((rc = add_samples(&s, iv, ni, "time", p->product_id, &width_total, ei)))
            goto out;
        double w = npix > 0 ? npix : 1;
        npix_total += npix;
        n++;
        if (t->exposure.set) {
            ex_sum += t->exposure.v * w;
            ex_w += w;
        }
        if (t->resolution.set) {
            res_sum += t->resolution.v * w;
            res_w += w;
        }
    }
    if (n == 0 || s.n == 0)
        goto out;
    tm = calloc(1, sizeof(*tm));
    if (!tm || !(tm->bounds = take_bounds(&s))) {
        rc = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    tm->dimension = axis_dimension(range_dims, n_range_pix, n, only_naxis, coarsest, tm->bounds);
    if (npix_total > 0)
        tm->sample_size = caom_d(width_total / npix_total);
    if (ex_w > 0)
        tm->exposure = caom_d(ex_sum / ex_w);
    if (res_w > 0)
        tm->resolution = caom_d(res_sum / res_w);
out:
    free(s.v);
    if (rc) {
        caom_time_free(tm);
        return rc;
    }
    caom_time_free(p->time);
    p->time = tm;
    return ERR_OK;
}

/* ---- polarization ------------------------------------------------------------------------ */

static int code_of(enum caom_pol_state s)
{
    for (int c = -8; c <= 10; c++)
        if (c != 0 && caom_pol_state_from_stokes(c) == s)
            return c;
    return 0;
}

static int cmp_pol(const void *a, const void *b)
{
    int x = code_of(*(const enum caom_pol_state *)a), y = code_of(*(const enum caom_pol_state *)b);
    return (x > y) - (x < y);
}

static enum err compute_polarization(struct caom_plane *p, const char *pt, struct err_info *ei)
{
    bool seen[CAOM_POL__COUNT] = {false};
    int64_t dim = 0;
    size_t n = 0;
    FOR_CHUNKS(p, pt, a, part, c) {
        if (!c->polarization)
            continue;
        const struct caom_coord_axis1d *ax = &c->polarization->axis;
        double vals[64];
        size_t nv = 0;
        if (ax->range) {
            double lo = fmin(ax->range->start.val, ax->range->end.val);
            double hi = fmax(ax->range->start.val, ax->range->end.val);
            for (double v = lo; v <= hi + 1e-9 && nv < ARRAY_LEN(vals); v += 1.0)
                vals[nv++] = v;
            dim += (int64_t)llround(fabs(ax->range->end.pix - ax->range->start.pix));
        } else if (ax->bounds) {
            for (size_t k = 0; k < ax->bounds->n_samples; k++) {
                const struct caom_coord_range1d *r = &ax->bounds->samples[k];
                double lo = fmin(r->start.val, r->end.val), hi = fmax(r->start.val, r->end.val);
                for (double v = lo; v <= hi + 1e-9 && nv < ARRAY_LEN(vals); v += 1.0)
                    vals[nv++] = v;
                dim += (int64_t)llround(fabs(r->end.pix - r->start.pix));
            }
        } else if (ax->function) {
            const struct caom_coord_function1d *f = ax->function;
            if (f->naxis < 0 || f->naxis > 64)
                return err_set(ei, ERR_WCS, "artifact %s part %s: polarization axis has %lld pixels",
                               a->uri ? a->uri : "", part->name ? part->name : "",
                               (long long)f->naxis);
            for (int64_t k = 1; k <= f->naxis; k++)
                vals[nv++] = f->ref_coord.val + f->delta * ((double)k - f->ref_coord.pix);
            dim += f->naxis;
        } else {
            continue;
        }
        for (size_t k = 0; k < nv; k++) {
            enum caom_pol_state s = caom_pol_state_from_stokes((int)llround(vals[k]));
            if (s == CAOM_POL_UNSET)
                return err_set(ei, ERR_WCS, "artifact %s part %s: %g is not a stokes code",
                               a->uri ? a->uri : "", part->name ? part->name : "", vals[k]);
            seen[s] = true;
        }
        n++;
    }
    struct caom_polarization *pol = NULL;
    if (n > 0) {
        pol = calloc(1, sizeof(*pol));
        if (!pol)
            return err_set(ei, ERR_NOMEM, "out of memory");
        pol->states = calloc(CAOM_POL__COUNT, sizeof(*pol->states));
        if (!pol->states) {
            free(pol);
            return err_set(ei, ERR_NOMEM, "out of memory");
        }
        for (int s = 1; s < CAOM_POL__COUNT; s++)
            if (seen[s])
                pol->states[pol->n_states++] = (enum caom_pol_state)s;
        qsort(pol->states, pol->n_states, sizeof(*pol->states), cmp_pol);
        pol->dimension = caom_l(dim);
    }
    caom_polarization_free(p->polarization);
    p->polarization = pol;
    return ERR_OK;
}

/* ---- entry points ------------------------------------------------------------------------ */

enum err caom_plane_compute(struct caom_plane *p, const struct caom_compute_opts *opts,
                            struct err_info *ei)
{
    const char *pt = chose_product_type(p);
    enum err rc;
    if (!pt) {
        caom_position_free(p->position);
        caom_energy_free(p->energy);
        caom_time_free(p->time);
        caom_polarization_free(p->polarization);
        p->position = NULL;
        p->energy = NULL;
        p->time = NULL;
        p->polarization = NULL;
        return ERR_OK;
    }
    for (int q = 0; q < 4; q++) {
        struct err_info qi;
        err_info_clear(&qi);
        rc = q == 0 ? compute_position(p, pt, opts, &qi)
             : q == 1 ? compute_energy(p, pt, &qi)
             : q == 2 ? compute_time(p, pt, &qi)
                      : compute_polarization(p, pt, &qi);
        if (rc == ERR_OK)
            continue;
        const char *pid = p->product_id ? p->product_id : "";
        if (rc == ERR_NOMEM || !opts || !opts->warn) {
            err_prefix(&qi, "plane %s: ", pid);
            if (ei)
                *ei = qi;
            return rc;
        }
        /* left out, as a repository accepts a plane without that quantity */
        static const char *const names[4] = {"position", "energy", "time", "polarization"};
        char msg[ERR_INFO_MSG_MAX + 64];
        snprintf(msg, sizeof msg, "plane %s: %s not computed: %s", pid, names[q], qi.msg);
        switch (q) {
        case 0: caom_position_free(p->position); p->position = NULL; break;
        case 1: caom_energy_free(p->energy); p->energy = NULL; break;
        case 2: caom_time_free(p->time); p->time = NULL; break;
        default: caom_polarization_free(p->polarization); p->polarization = NULL; break;
        }
        opts->warn(opts->warn_ctx, msg);
    }
    return ERR_OK;
}

enum err caom_observation_compute(struct caom_observation *o, const struct caom_compute_opts *opts,
                                  struct err_info *ei)
{
    for (size_t i = 0; i < o->n_planes; i++) {
        enum err rc = caom_plane_compute(o->planes[i], opts, ei);
        if (rc)
            return rc;
    }
    return ERR_OK;
}
