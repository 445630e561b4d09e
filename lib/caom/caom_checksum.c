/* caom_checksum.c - metaChecksum and accMetaChecksum exactly as the Java CaomEntity computes
 * them: MD5 over the UUID, metaProducer, then every state field sorted by Java field name
 * (depth first, nulls skipped); acc = MD5(own meta digest, children's acc digests in
 * UUIDComparator order). See caom2.md section 2.7.
 * SPDX-License-Identifier: Apache-2.0 */
#include "caom/caom.h"
#include "caom/caom_int.h"

/* The low-level MD5 API (deprecated in OpenSSL 3 in favour of EVP, but kept) works on a
 * caller-owned context and cannot fail; EVP would allocate a context per digest, and a failed
 * allocation would silently turn a checksum (and caom_observation_equal) into zeros. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/md5.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct h {
    MD5_CTX ctx;              /* running MD5 */
};

static void h_init(struct h *h)
{
    (void)MD5_Init(&h->ctx); /* returns 1: no failure mode for a caller-owned context */
}

static void h_final(struct h *h, uint8_t out[16])
{
    (void)MD5_Final(out, &h->ctx);
}

static void h_bytes(struct h *h, const void *p, size_t n)
{
    if (n > 0)
        (void)MD5_Update(&h->ctx, p, n);
}

/* Java String.trim(): strip characters <= U+0020 at both ends, then UTF-8 bytes. */
static void h_str(struct h *h, const char *s)
{
    if (!s)
        return;
    while (*s && (unsigned char)*s <= ' ')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (unsigned char)s[n - 1] <= ' ')
        n--;
    h_bytes(h, s, n);
}

static void h_u64(struct h *h, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    h_bytes(h, b, 8);
}

static void h_i64(struct h *h, int64_t v)
{
    h_u64(h, (uint64_t)v);
}

static void h_i32(struct h *h, int32_t v)
{
    uint32_t u = (uint32_t)v;
    uint8_t b[4] = {(uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u};
    h_bytes(h, b, 4);
}

static void h_dbl(struct h *h, double v)
{
    uint64_t u;
    if (v != v) { /* Java doubleToLongBits canonical NaN */
        u = 0x7ff8000000000000ULL;
    } else {
        memcpy(&u, &v, 8);
    }
    h_u64(h, u);
}

static void h_d(struct h *h, struct caom_optd v)
{
    if (v.set)
        h_dbl(h, v.v);
}

static void h_i(struct h *h, struct caom_opti v)
{
    if (v.set)
        h_i32(h, v.v);
}

static void h_l(struct h *h, struct caom_optl v)
{
    if (v.set)
        h_i64(h, v.v);
}

static void h_bool(struct h *h, enum caom_bool b)
{
    if (b == CAOM_BOOL_UNSET)
        return;
    uint8_t v = b == CAOM_BOOL_TRUE ? 1 : 0;
    h_bytes(h, &v, 1);
}

static void h_date(struct h *h, struct caom_optdate d)
{
    if (d.set)
        h_i64(h, d.ms / 1000); /* Java integer division truncates toward zero */
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A Java TreeSet of strings/URIs: sorted, duplicates once. */
static void h_sorted_set(struct h *h, const struct caom_strlist *l)
{
    if (l->n == 0)
        return;
    const char **v = malloc(l->n * sizeof(*v));
    if (!v) {
        /* no memory to sort: take the strings in order one by one (quadratic, same digest) */
        const char *prev = NULL;
        for (;;) {
            const char *next = NULL;
            for (size_t i = 0; i < l->n; i++)
                if ((!prev || strcmp(l->v[i], prev) > 0) && (!next || strcmp(l->v[i], next) < 0))
                    next = l->v[i];
            if (!next)
                return;
            h_str(h, next);
            prev = next;
        }
    }
    for (size_t i = 0; i < l->n; i++)
        v[i] = l->v[i];
    qsort(v, l->n, sizeof(*v), cmp_str);
    for (size_t i = 0; i < l->n; i++)
        if (i == 0 || strcmp(v[i], v[i - 1]) != 0)
            h_str(h, v[i]);
    free(v);
}

/* ---- WCS ------------------------------------------------------------------------------- */

static void h_axis(struct h *h, const struct caom_axis *a)
{
    h_str(h, a->ctype);
    h_str(h, a->cunit);
}

static void h_error(struct h *h, const struct caom_coord_error *e)
{
    if (!e)
        return;
    h_d(h, e->rnder);
    h_d(h, e->syser);
}

static void h_ref(struct h *h, const struct caom_ref_coord *r)
{
    h_dbl(h, r->pix);
    h_dbl(h, r->val);
}

static void h_range1d(struct h *h, const struct caom_coord_range1d *r)
{
    h_ref(h, &r->end);
    h_ref(h, &r->start);
}

static void h_axis1d(struct h *h, const struct caom_coord_axis1d *a)
{
    /* axis, bounds, error, function, range */
    h_axis(h, &a->axis);
    if (a->bounds)
        for (size_t i = 0; i < a->bounds->n_samples; i++)
            h_range1d(h, &a->bounds->samples[i]);
    h_error(h, a->error);
    if (a->function) {
        /* delta, naxis, refCoord */
        h_dbl(h, a->function->delta);
        h_i64(h, a->function->naxis);
        h_ref(h, &a->function->ref_coord);
    }
    if (a->range)
        h_range1d(h, a->range);
}

static void h_coord2d(struct h *h, const struct caom_coord2d *c)
{
    h_ref(h, &c->coord1);
    h_ref(h, &c->coord2);
}

static void h_vcoord2d(struct h *h, const struct caom_value_coord2d *c)
{
    h_dbl(h, c->coord1);
    h_dbl(h, c->coord2);
}

static void h_axis2d(struct h *h, const struct caom_coord_axis2d *a)
{
    /* axis1, axis2, bounds, error1, error2, function, range */
    h_axis(h, &a->axis1);
    h_axis(h, &a->axis2);
    if (a->bounds) {
        if (a->bounds->kind == CAOM_BOUNDS2D_CIRCLE) {
            /* center, radius */
            h_vcoord2d(h, &a->bounds->circle.center);
            h_dbl(h, a->bounds->circle.radius);
        } else {
            for (size_t i = 0; i < a->bounds->polygon.n_vertices; i++)
                h_vcoord2d(h, &a->bounds->polygon.vertices[i]);
        }
    }
    h_error(h, a->error1);
    h_error(h, a->error2);
    if (a->function) {
        const struct caom_coord_function2d *f = a->function;
        /* cd11, cd12, cd21, cd22, dimension, refCoord */
        h_d(h, f->cd11);
        h_d(h, f->cd12);
        h_d(h, f->cd21);
        h_d(h, f->cd22);
        h_i64(h, f->dimension.naxis1);
        h_i64(h, f->dimension.naxis2);
        h_coord2d(h, &f->ref_coord);
    }
    if (a->range) {
        h_coord2d(h, &a->range->end);
        h_coord2d(h, &a->range->start);
    }
}

static void h_transition(struct h *h, const struct caom_energy_transition *t)
{
    if (!t)
        return;
    h_str(h, t->species);
    h_str(h, t->transition);
}

static void h_slice(struct h *h, const struct caom_slice *s)
{
    h_axis(h, &s->axis);
    h_i64(h, s->bin);
}

void caom_meta_digest_chunk(const struct caom_chunk *c, bool with_id, uint8_t out[16])
{
    struct h h;
    h_init(&h);
    if (with_id)
        h_bytes(&h, c->e.id, 16);
    h_str(&h, c->e.meta_producer);
    /* custom, customAxis, energy, energyAxis, naxis, observable, observableAxis, polarization,
     * polarizationAxis, position, positionAxis1, positionAxis2, productType, time, timeAxis */
    if (c->custom)
        h_axis1d(&h, &c->custom->axis);
    h_i(&h, c->custom_axis);
    if (c->energy) {
        const struct caom_spectral_wcs *e = c->energy;
        /* axis, bandpassName, resolvingPower, restfrq, restwav, specsys, ssysobs, ssyssrc,
         * transition, velang, velosys, zsource */
        h_axis1d(&h, &e->axis);
        h_str(&h, e->bandpass_name);
        h_d(&h, e->resolving_power);
        h_d(&h, e->restfrq);
        h_d(&h, e->restwav);
        h_str(&h, e->specsys);
        h_str(&h, e->ssysobs);
        h_str(&h, e->ssyssrc);
        h_transition(&h, e->transition);
        h_d(&h, e->velang);
        h_d(&h, e->velosys);
        h_d(&h, e->zsource);
    }
    h_i(&h, c->energy_axis);
    h_i(&h, c->naxis);
    if (c->observable) {
        h_slice(&h, &c->observable->dependent);
        if (c->observable->independent)
            h_slice(&h, c->observable->independent);
    }
    h_i(&h, c->observable_axis);
    if (c->polarization)
        h_axis1d(&h, &c->polarization->axis);
    h_i(&h, c->polarization_axis);
    if (c->position) {
        /* axis, coordsys, equinox, resolution */
        h_axis2d(&h, &c->position->axis);
        h_str(&h, c->position->coordsys);
        h_d(&h, c->position->equinox);
        h_d(&h, c->position->resolution);
    }
    h_i(&h, c->position_axis1);
    h_i(&h, c->position_axis2);
    h_str(&h, c->product_type);
    if (c->time) {
        /* axis, exposure, mjdref, resolution, timesys, trefpos */
        h_axis1d(&h, &c->time->axis);
        h_d(&h, c->time->exposure);
        h_d(&h, c->time->mjdref);
        h_d(&h, c->time->resolution);
        h_str(&h, c->time->timesys);
        h_str(&h, c->time->trefpos);
    }
    h_i(&h, c->time_axis);
    h_final(&h, out);
}

void caom_meta_digest_part(const struct caom_part *p, bool with_id, uint8_t out[16])
{
    struct h h;
    h_init(&h);
    if (with_id)
        h_bytes(&h, p->e.id, 16);
    h_str(&h, p->e.meta_producer);
    h_str(&h, p->name);
    h_str(&h, p->product_type);
    h_final(&h, out);
}

void caom_meta_digest_artifact(const struct caom_artifact *a, bool with_id, uint8_t out[16])
{
    struct h h;
    h_init(&h);
    if (with_id)
        h_bytes(&h, a->e.id, 16);
    h_str(&h, a->e.meta_producer);
    /* contentChecksum, contentLength, contentReadGroups, contentRelease, contentType,
     * productType, releaseType, uri */
    h_str(&h, a->content_checksum);
    h_l(&h, a->content_length);
    h_sorted_set(&h, &a->content_read_groups);
    h_date(&h, a->content_release);
    h_str(&h, a->content_type);
    h_str(&h, a->product_type);
    h_str(&h, caom_release_type_name(a->release_type));
    h_str(&h, a->uri);
    h_final(&h, out);
}

/* ---- plane --------------------------------------------------------------------------- */

static void h_interval(struct h *h, const struct caom_interval *i)
{
    if (!i)
        return;
    h_dbl(h, i->lower);
    h_dbl(h, i->upper);
}

static void h_sinterval(struct h *h, const struct caom_sampled_interval *s)
{
    if (!s)
        return;
    /* lower, samples, upper */
    h_dbl(h, s->lower);
    for (size_t i = 0; i < s->n_samples; i++)
        h_interval(h, &s->samples[i]);
    h_dbl(h, s->upper);
}

/* A Java (Tree)Set of enum values: declaration order, once each. Walks the @p count declared
 * values (no allocation, so no way to get it wrong on low memory); @p at reads item i of the
 * @p n items at @p arr, and values without a name are skipped. */
static void h_enum_set(struct h *h, const void *arr, size_t n, int (*at)(const void *, size_t),
                       int count, const char *(*name)(int))
{
    for (int v = 0; v < count; v++) {
        for (size_t i = 0; i < n; i++) {
            if (at(arr, i) == v) {
                h_str(h, name(v));
                break;
            }
        }
    }
}

static int band_at(const void *arr, size_t i)
{
    return (int)((const enum caom_energy_band *)arr)[i];
}

static int pol_at(const void *arr, size_t i)
{
    return (int)((const enum caom_pol_state *)arr)[i];
}

static const char *band_name_i(int v)
{
    return caom_energy_band_name((enum caom_energy_band)v);
}

static const char *pol_name_i(int v)
{
    return caom_pol_state_name((enum caom_pol_state)v);
}

void caom_meta_digest_plane(const struct caom_plane *p, bool with_id, uint8_t out[16])
{
    struct h h;
    h_init(&h);
    if (with_id)
        h_bytes(&h, p->e.id, 16);
    h_str(&h, p->e.meta_producer);
    /* calibrationLevel, creatorID, custom, dataProductType, dataReadGroups, dataRelease,
     * energy, metaReadGroups, metaRelease, metrics, observable, polarization, position,
     * productID, provenance, quality, time */
    h_i(&h, p->calibration_level);
    h_str(&h, p->creator_id);
    if (p->custom) {
        /* bounds, ctype, dimension */
        h_sinterval(&h, p->custom->bounds);
        h_str(&h, p->custom->ctype);
        h_l(&h, p->custom->dimension);
    }
    h_str(&h, p->data_product_type);
    h_sorted_set(&h, &p->data_read_groups);
    h_date(&h, p->data_release);
    if (p->energy) {
        const struct caom_energy *e = p->energy;
        /* bandpassName, bounds, dimension, energyBands, resolvingPower, resolvingPowerBounds,
         * restwav, sampleSize, transition */
        h_str(&h, e->bandpass_name);
        h_sinterval(&h, e->bounds);
        h_l(&h, e->dimension);
        h_enum_set(&h, e->bands, e->n_bands, band_at, CAOM_BAND__COUNT, band_name_i);
        h_d(&h, e->resolving_power);
        h_interval(&h, e->resolving_power_bounds);
        h_d(&h, e->restwav);
        h_d(&h, e->sample_size);
        h_transition(&h, e->transition);
    }
    h_sorted_set(&h, &p->meta_read_groups);
    h_date(&h, p->meta_release);
    if (p->metrics) {
        const struct caom_metrics *m = p->metrics;
        /* background, backgroundStddev, fluxDensityLimit, magLimit, sampleSNR,
         * sourceNumberDensity */
        h_d(&h, m->background);
        h_d(&h, m->background_stddev);
        h_d(&h, m->flux_density_limit);
        h_d(&h, m->mag_limit);
        h_d(&h, m->sample_snr);
        h_d(&h, m->source_number_density);
    }
    h_str(&h, p->observable_ucd);
    if (p->polarization) {
        /* dimension, states */
        h_l(&h, p->polarization->dimension);
        h_enum_set(&h, p->polarization->states, p->polarization->n_states, pol_at,
                   CAOM_POL__COUNT, pol_name_i);
    }
    if (p->position) {
        const struct caom_position *q = p->position;
        /* bounds, dimension, resolution, resolutionBounds, sampleSize, timeDependent */
        if (q->bounds) {
            if (q->bounds->kind == CAOM_SHAPE_CIRCLE) {
                h_dbl(&h, q->bounds->circle.center.cval1);
                h_dbl(&h, q->bounds->circle.center.cval2);
                h_dbl(&h, q->bounds->circle.radius);
            } else {
                const struct caom_polygon *g = &q->bounds->polygon;
                /* points, samples(vertices: cval1, cval2, type) */
                for (size_t i = 0; i < g->n_points; i++) {
                    h_dbl(&h, g->points[i].cval1);
                    h_dbl(&h, g->points[i].cval2);
                }
                for (size_t i = 0; i < g->n_samples; i++) {
                    h_dbl(&h, g->samples[i].cval1);
                    h_dbl(&h, g->samples[i].cval2);
                    h_i32(&h, (int32_t)g->samples[i].type);
                }
            }
        }
        if (q->dimension) {
            h_i64(&h, q->dimension->naxis1);
            h_i64(&h, q->dimension->naxis2);
        }
        h_d(&h, q->resolution);
        h_interval(&h, q->resolution_bounds);
        h_d(&h, q->sample_size);
        h_bool(&h, q->time_dependent);
    }
    h_str(&h, p->product_id);
    if (p->provenance) {
        const struct caom_provenance *v = p->provenance;
        /* inputs, keywords, lastExecuted, name, producer, project, reference, runID, version */
        h_sorted_set(&h, &v->inputs);
        h_sorted_set(&h, &v->keywords);
        h_date(&h, v->last_executed);
        h_str(&h, v->name);
        h_str(&h, v->producer);
        h_str(&h, v->project);
        h_str(&h, v->reference);
        h_str(&h, v->run_id);
        h_str(&h, v->version);
    }
    if (p->quality == CAOM_QUALITY_JUNK)
        h_str(&h, "junk");
    if (p->time) {
        const struct caom_time *t = p->time;
        /* bounds, dimension, exposure, resolution, resolutionBounds, sampleSize */
        h_sinterval(&h, t->bounds);
        h_l(&h, t->dimension);
        h_d(&h, t->exposure);
        h_d(&h, t->resolution);
        h_interval(&h, t->resolution_bounds);
        h_d(&h, t->sample_size);
    }
    h_final(&h, out);
}

void caom_meta_digest_observation(const struct caom_observation *o, bool with_id, uint8_t out[16])
{
    struct h h;
    h_init(&h);
    if (with_id)
        h_bytes(&h, o->e.id, 16);
    h_str(&h, o->e.meta_producer);
    /* algorithm, collection, environment, instrument, intent, members, metaReadGroups,
     * metaRelease, observationID, proposal, requirements, sequenceNumber, target,
     * targetPosition, telescope, type */
    h_str(&h, o->algorithm_name);
    h_str(&h, o->collection);
    if (o->environment) {
        const struct caom_environment *e = o->environment;
        /* ambientTemp, elevation, humidity, photometric, seeing, tau, wavelengthTau */
        h_d(&h, e->ambient_temp);
        h_d(&h, e->elevation);
        h_d(&h, e->humidity);
        h_bool(&h, e->photometric);
        h_d(&h, e->seeing);
        h_d(&h, e->tau);
        h_d(&h, e->wavelength_tau);
    }
    if (o->instrument) {
        h_sorted_set(&h, &o->instrument->keywords);
        h_str(&h, o->instrument->name);
    }
    h_str(&h, caom_intent_name(o->intent));
    if (o->kind == CAOM_OBS_DERIVED)
        h_sorted_set(&h, &o->members);
    h_sorted_set(&h, &o->meta_read_groups);
    h_date(&h, o->meta_release);
    h_str(&h, o->observation_id);
    if (o->proposal) {
        /* id, keywords, pi, project, title */
        h_str(&h, o->proposal->id);
        h_sorted_set(&h, &o->proposal->keywords);
        h_str(&h, o->proposal->pi);
        h_str(&h, o->proposal->project);
        h_str(&h, o->proposal->title);
    }
    if (o->requirements == CAOM_STATUS_FAIL)
        h_str(&h, "fail");
    h_i(&h, o->sequence_number);
    if (o->target) {
        const struct caom_target *t = o->target;
        /* keywords, moving, name, redshift, standard, targetID, type */
        h_sorted_set(&h, &t->keywords);
        h_bool(&h, t->moving);
        h_str(&h, t->name);
        h_d(&h, t->redshift);
        h_bool(&h, t->standard);
        h_str(&h, t->target_id);
        h_str(&h, caom_target_type_name(t->type));
    }
    if (o->target_position) {
        const struct caom_target_position *t = o->target_position;
        /* coordinates(cval1, cval2), coordsys, equinox */
        h_dbl(&h, t->coordinates.cval1);
        h_dbl(&h, t->coordinates.cval2);
        h_str(&h, t->coordsys);
        h_d(&h, t->equinox);
    }
    if (o->telescope) {
        const struct caom_telescope *t = o->telescope;
        /* geoLocationX, geoLocationY, geoLocationZ, keywords, name */
        h_d(&h, t->geo_x);
        h_d(&h, t->geo_y);
        h_d(&h, t->geo_z);
        h_sorted_set(&h, &t->keywords);
        h_str(&h, t->name);
    }
    h_str(&h, o->type);
    h_final(&h, out);
}

/* ---- accumulated ----------------------------------------------------------------------- */

/* The five entity levels, parent before child. */
enum lvl { L_OBS, L_PLANE, L_ARTIFACT, L_PART, L_CHUNK };

/* One entity seen generically: its common attributes and its children (one level down). */
struct node {
    const struct caom_entity *e; /* common attributes */
    const void *const *kids;     /* children (borrowed), n of them */
    size_t n;
};

/* @p p seen as a node of level @p l, with its own meta digest in @p meta. */
static struct node node_of(enum lvl l, const void *p, uint8_t meta[16])
{
    struct node nd = {0};
    switch (l) {
    case L_OBS: {
        const struct caom_observation *o = p;
        caom_meta_checksum_observation(o, meta);
        nd = (struct node){&o->e, (const void *const *)o->planes, o->n_planes};
        break;
    }
    case L_PLANE: {
        const struct caom_plane *x = p;
        caom_meta_checksum_plane(x, meta);
        nd = (struct node){&x->e, (const void *const *)x->artifacts, x->n_artifacts};
        break;
    }
    case L_ARTIFACT: {
        const struct caom_artifact *x = p;
        caom_meta_checksum_artifact(x, meta);
        nd = (struct node){&x->e, (const void *const *)x->parts, x->n_parts};
        break;
    }
    case L_PART: {
        const struct caom_part *x = p;
        caom_meta_checksum_part(x, meta);
        nd = (struct node){&x->e, (const void *const *)x->chunks, x->n_chunks};
        break;
    }
    case L_CHUNK: {
        const struct caom_chunk *x = p;
        caom_meta_checksum_chunk(x, meta);
        nd = (struct node){&x->e, NULL, 0};
        break;
    }
    }
    return nd;
}

struct kid {
    const uint8_t *id;        /* child UUID */
    uint8_t acc[16];          /* child's acc digest */
};

/* ca.nrc.cadc.util.UUIDComparator: version first, then the high and low 64 bits unsigned. */
static int cmp_id(const uint8_t *x, const uint8_t *y)
{
    int vx = x[6] >> 4, vy = y[6] >> 4;
    if (vx != vy)
        return vx < vy ? -1 : 1;
    return memcmp(x, y, 16);
}

static int cmp_kid(const void *a, const void *b)
{
    return cmp_id(((const struct kid *)a)->id, ((const struct kid *)b)->id);
}

static void acc_rec(enum lvl l, const void *p, bool store, uint8_t out[16]);

/* Feed the children's acc digests in UUIDComparator order. Without memory for the sort, pick
 * the children in that order one by one (quadratic, but never a wrong digest). */
static void acc_kids(struct h *h, enum lvl kl, const struct node *nd, bool store)
{
    if (nd->n == 0)
        return;
    struct kid *k = calloc(nd->n, sizeof(*k));
    if (k) {
        for (size_t i = 0; i < nd->n; i++) {
            k[i].id = ((const struct caom_entity *)nd->kids[i])->id;
            acc_rec(kl, nd->kids[i], store, k[i].acc);
        }
        qsort(k, nd->n, sizeof(*k), cmp_kid);
        for (size_t i = 0; i < nd->n; i++)
            h_bytes(h, k[i].acc, 16);
        free(k);
        return;
    }
    size_t prev = SIZE_MAX;
    for (size_t step = 0; step < nd->n; step++) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < nd->n; i++) {
            const uint8_t *id = ((const struct caom_entity *)nd->kids[i])->id;
            /* order by (id, index) so equal ids are each taken once */
            if (prev != SIZE_MAX) {
                int c = cmp_id(id, ((const struct caom_entity *)nd->kids[prev])->id);
                if (c < 0 || (c == 0 && i <= prev))
                    continue;
            }
            if (best == SIZE_MAX ||
                cmp_id(id, ((const struct caom_entity *)nd->kids[best])->id) < 0)
                best = i;
        }
        uint8_t acc[16];
        acc_rec(kl, nd->kids[best], store, acc);
        h_bytes(h, acc, 16);
        prev = best;
    }
}

/* acc = MD5(own meta digest, children's acc digests in UUIDComparator order), computed bottom
 * up so each digest is computed once. With @p store, the formatted digests are written into
 * every entity on the way (the caller passed a mutable tree: caom_checksum_update). */
static void acc_rec(enum lvl l, const void *p, bool store, uint8_t out[16])
{
    uint8_t meta[16];
    struct node nd = node_of(l, p, meta);
    struct h h;
    h_init(&h);
    h_bytes(&h, meta, 16);
    if (l != L_CHUNK)
        acc_kids(&h, (enum lvl)(l + 1), &nd, store);
    h_final(&h, out);
    if (store) {
        /* with store the whole tree came in mutable (caom_checksum_update) */
        struct caom_entity *e = (struct caom_entity *)(uintptr_t)nd.e;
        caom_checksum_format(meta, e->meta_checksum);
        caom_checksum_format(out, e->acc_meta_checksum);
    }
}

void caom_acc_checksum_chunk(const struct caom_chunk *c, uint8_t out[16])
{
    acc_rec(L_CHUNK, c, false, out);
}

void caom_acc_checksum_part(const struct caom_part *p, uint8_t out[16])
{
    acc_rec(L_PART, p, false, out);
}

void caom_acc_checksum_artifact(const struct caom_artifact *a, uint8_t out[16])
{
    acc_rec(L_ARTIFACT, a, false, out);
}

void caom_acc_checksum_plane(const struct caom_plane *p, uint8_t out[16])
{
    acc_rec(L_PLANE, p, false, out);
}

void caom_acc_checksum_observation(const struct caom_observation *o, uint8_t out[16])
{
    acc_rec(L_OBS, o, false, out);
}

void caom_checksum_format(const uint8_t d[16], char out[CAOM_CHECKSUM_URI_MAX])
{
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "md5:", 4);
    for (int i = 0; i < 16; i++) {
        out[4 + 2 * i] = hex[d[i] >> 4];
        out[5 + 2 * i] = hex[d[i] & 15];
    }
    out[36] = '\0';
}

/* ---- update / verify ------------------------------------------------------------------- */

void caom_checksum_update(struct caom_observation *o)
{
    uint8_t acc[16];
    acc_rec(L_OBS, o, true, acc);
}

static enum err verify_one(const char *kind, const struct caom_entity *e, const uint8_t meta[16],
                           const uint8_t acc[16], struct err_info *ei)
{
    char m[CAOM_CHECKSUM_URI_MAX], a[CAOM_CHECKSUM_URI_MAX], id[37];
    caom_checksum_format(meta, m);
    caom_checksum_format(acc, a);
    caom_uuid_format(e->id, id);
    if (e->meta_checksum[0] && strcmp(e->meta_checksum, m) != 0)
        return err_set_field(ei, ERR_CHECKSUM, "metaChecksum",
                             "%s %s: metaChecksum %s does not match computed %s", kind, id,
                             e->meta_checksum, m);
    if (e->acc_meta_checksum[0] && strcmp(e->acc_meta_checksum, a) != 0)
        return err_set_field(ei, ERR_CHECKSUM, "accMetaChecksum",
                             "%s %s: accMetaChecksum %s does not match computed %s", kind, id,
                             e->acc_meta_checksum, a);
    return ERR_OK;
}

enum err caom_checksum_verify(const struct caom_observation *o, struct err_info *ei)
{
    uint8_t meta[16], acc[16];
    enum err rc;
    for (size_t i = 0; i < o->n_planes; i++) {
        const struct caom_plane *p = o->planes[i];
        for (size_t j = 0; j < p->n_artifacts; j++) {
            const struct caom_artifact *a = p->artifacts[j];
            for (size_t k = 0; k < a->n_parts; k++) {
                const struct caom_part *pt = a->parts[k];
                for (size_t l = 0; l < pt->n_chunks; l++) {
                    caom_meta_checksum_chunk(pt->chunks[l], meta);
                    caom_acc_checksum_chunk(pt->chunks[l], acc);
                    if ((rc = verify_one("chunk", &pt->chunks[l]->e, meta, acc, ei)))
                        return rc;
                }
                caom_meta_checksum_part(pt, meta);
                caom_acc_checksum_part(pt, acc);
                if ((rc = verify_one("part", &pt->e, meta, acc, ei)))
                    return rc;
            }
            caom_meta_checksum_artifact(a, meta);
            caom_acc_checksum_artifact(a, acc);
            if ((rc = verify_one("artifact", &a->e, meta, acc, ei)))
                return rc;
        }
        caom_meta_checksum_plane(p, meta);
        caom_acc_checksum_plane(p, acc);
        if ((rc = verify_one("plane", &p->e, meta, acc, ei)))
            return rc;
    }
    caom_meta_checksum_observation(o, meta);
    caom_acc_checksum_observation(o, acc);
    return verify_one("observation", &o->e, meta, acc, ei);
}

void caom_meta_checksum_chunk(const struct caom_chunk *c, uint8_t out[16])
{
    caom_meta_digest_chunk(c, true, out);
}

void caom_meta_checksum_part(const struct caom_part *p, uint8_t out[16])
{
    caom_meta_digest_part(p, true, out);
}

void caom_meta_checksum_artifact(const struct caom_artifact *a, uint8_t out[16])
{
    caom_meta_digest_artifact(a, true, out);
}

void caom_meta_checksum_plane(const struct caom_plane *p, uint8_t out[16])
{
    caom_meta_digest_plane(p, true, out);
}

void caom_meta_checksum_observation(const struct caom_observation *o, uint8_t out[16])
{
    caom_meta_digest_observation(o, true, out);
}
