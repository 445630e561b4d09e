/* caom_copy.c - deep copies of the model (clone) and the own-state copies merge relies on.
 * SPDX-License-Identifier: Apache-2.0 */
#include "caom/caom.h"
#include "caom/caom_int.h"

#include <stdlib.h>
#include <string.h>

/* Every copy helper returns false when out of memory; partial results are freed by the
 * caller through the owning record's free function. */

static bool cp_str(char **dst, const char *s)
{
    *dst = NULL;
    return caom_str_set(dst, s) == ERR_OK;
}

static bool cp_list(struct caom_strlist *dst, const struct caom_strlist *src)
{
    memset(dst, 0, sizeof(*dst));
    for (size_t i = 0; i < src->n; i++)
        if (caom_strlist_add(dst, src->v[i]) != ERR_OK)
            return false;
    return true;
}

/* Copy @p n elements of @p size bytes (plain values). */
static bool cp_arr(void **dst, const void *src, size_t n, size_t size)
{
    *dst = NULL;
    if (n == 0 || !src)
        return true;
    *dst = malloc(n * size);
    if (!*dst)
        return false;
    memcpy(*dst, src, n * size);
    return true;
}

/* Copy a plain (pointer-free) value object. */
static bool cp_plain(void **dst, const void *src, size_t size)
{
    *dst = NULL;
    if (!src)
        return true;
    *dst = malloc(size);
    if (!*dst)
        return false;
    memcpy(*dst, src, size);
    return true;
}

#define CP_PLAIN(dst, src) cp_plain((void **)&(dst), (src), sizeof(*(src)))

static bool cp_transition(struct caom_energy_transition **dst,
                          const struct caom_energy_transition *src)
{
    *dst = NULL;
    if (!src)
        return true;
    *dst = calloc(1, sizeof(**dst));
    return *dst && cp_str(&(*dst)->species, src->species) &&
           cp_str(&(*dst)->transition, src->transition);
}

static bool cp_axis(struct caom_axis *dst, const struct caom_axis *src)
{
    return cp_str(&dst->ctype, src->ctype) && cp_str(&dst->cunit, src->cunit);
}

static bool cp_axis1d(struct caom_coord_axis1d *dst, const struct caom_coord_axis1d *src)
{
    memset(dst, 0, sizeof(*dst));
    if (!cp_axis(&dst->axis, &src->axis) || !CP_PLAIN(dst->error, src->error) ||
        !CP_PLAIN(dst->range, src->range) || !CP_PLAIN(dst->function, src->function))
        return false;
    if (src->bounds) {
        dst->bounds = calloc(1, sizeof(*dst->bounds));
        if (!dst->bounds)
            return false;
        if (!cp_arr((void **)&dst->bounds->samples, src->bounds->samples, src->bounds->n_samples,
                    sizeof(*src->bounds->samples)))
            return false;
        dst->bounds->n_samples = src->bounds->n_samples;
    }
    return true;
}

static bool cp_axis2d(struct caom_coord_axis2d *dst, const struct caom_coord_axis2d *src)
{
    memset(dst, 0, sizeof(*dst));
    if (!cp_axis(&dst->axis1, &src->axis1) || !cp_axis(&dst->axis2, &src->axis2) ||
        !CP_PLAIN(dst->error1, src->error1) || !CP_PLAIN(dst->error2, src->error2) ||
        !CP_PLAIN(dst->range, src->range) || !CP_PLAIN(dst->function, src->function))
        return false;
    if (src->bounds) {
        dst->bounds = malloc(sizeof(*dst->bounds));
        if (!dst->bounds)
            return false;
        *dst->bounds = *src->bounds;
        dst->bounds->polygon.vertices = NULL;
        if (!cp_arr((void **)&dst->bounds->polygon.vertices, src->bounds->polygon.vertices,
                    src->bounds->polygon.n_vertices, sizeof(*src->bounds->polygon.vertices)))
            return false;
    }
    return true;
}

static bool cp_slice(struct caom_slice *dst, const struct caom_slice *src)
{
    dst->bin = src->bin;
    return cp_axis(&dst->axis, &src->axis);
}

/* Own state of a chunk (no entity bookkeeping). */
static bool chunk_state(struct caom_chunk *d, const struct caom_chunk *s)
{
    d->naxis = s->naxis;
    d->observable_axis = s->observable_axis;
    d->position_axis1 = s->position_axis1;
    d->position_axis2 = s->position_axis2;
    d->energy_axis = s->energy_axis;
    d->time_axis = s->time_axis;
    d->polarization_axis = s->polarization_axis;
    d->custom_axis = s->custom_axis;
    if (!cp_str(&d->product_type, s->product_type))
        return false;
    if (s->observable) {
        d->observable = calloc(1, sizeof(*d->observable));
        if (!d->observable || !cp_slice(&d->observable->dependent, &s->observable->dependent))
            return false;
        if (s->observable->independent) {
            d->observable->independent = calloc(1, sizeof(*d->observable->independent));
            if (!d->observable->independent ||
                !cp_slice(d->observable->independent, s->observable->independent))
                return false;
        }
    }
    if (s->position) {
        d->position = calloc(1, sizeof(*d->position));
        if (!d->position || !cp_axis2d(&d->position->axis, &s->position->axis) ||
            !cp_str(&d->position->coordsys, s->position->coordsys))
            return false;
        d->position->equinox = s->position->equinox;
        d->position->resolution = s->position->resolution;
    }
    if (s->energy) {
        const struct caom_spectral_wcs *e = s->energy;
        struct caom_spectral_wcs *x = d->energy = calloc(1, sizeof(*d->energy));
        if (!x || !cp_axis1d(&x->axis, &e->axis) || !cp_str(&x->specsys, e->specsys) ||
            !cp_str(&x->ssysobs, e->ssysobs) || !cp_str(&x->ssyssrc, e->ssyssrc) ||
            !cp_str(&x->bandpass_name, e->bandpass_name) ||
            !cp_transition(&x->transition, e->transition))
            return false;
        x->restfrq = e->restfrq;
        x->restwav = e->restwav;
        x->velosys = e->velosys;
        x->zsource = e->zsource;
        x->velang = e->velang;
        x->resolving_power = e->resolving_power;
    }
    if (s->time) {
        struct caom_temporal_wcs *x = d->time = calloc(1, sizeof(*d->time));
        if (!x || !cp_axis1d(&x->axis, &s->time->axis) || !cp_str(&x->timesys, s->time->timesys) ||
            !cp_str(&x->trefpos, s->time->trefpos))
            return false;
        x->mjdref = s->time->mjdref;
        x->exposure = s->time->exposure;
        x->resolution = s->time->resolution;
    }
    if (s->polarization) {
        d->polarization = calloc(1, sizeof(*d->polarization));
        if (!d->polarization || !cp_axis1d(&d->polarization->axis, &s->polarization->axis))
            return false;
    }
    if (s->custom) {
        d->custom = calloc(1, sizeof(*d->custom));
        if (!d->custom || !cp_axis1d(&d->custom->axis, &s->custom->axis))
            return false;
    }
    return true;
}

static bool cp_entity(struct caom_entity *d, const struct caom_entity *s)
{
    *d = *s;
    d->meta_producer = NULL;
    return cp_str(&d->meta_producer, s->meta_producer);
}

struct caom_chunk *caom_chunk_copy(const struct caom_chunk *s)
{
    struct caom_chunk *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    if (!cp_entity(&d->e, &s->e) || !chunk_state(d, s)) {
        caom_chunk_free(d);
        return NULL;
    }
    return d;
}

static bool part_state(struct caom_part *d, const struct caom_part *s)
{
    return cp_str(&d->name, s->name) && cp_str(&d->product_type, s->product_type);
}

struct caom_part *caom_part_copy(const struct caom_part *s)
{
    struct caom_part *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    if (!cp_entity(&d->e, &s->e) || !part_state(d, s))
        goto fail;
    for (size_t i = 0; i < s->n_chunks; i++) {
        struct caom_chunk *c = caom_chunk_copy(s->chunks[i]);
        if (!c)
            goto fail;
        if (caom_part_add_chunk(d, c)) {
            caom_chunk_free(c);
            goto fail;
        }
    }
    return d;
fail:
    caom_part_free(d);
    return NULL;
}

static bool artifact_state(struct caom_artifact *d, const struct caom_artifact *s)
{
    d->release_type = s->release_type;
    d->content_release = s->content_release;
    d->content_length = s->content_length;
    return cp_str(&d->uri, s->uri) && cp_str(&d->product_type, s->product_type) &&
           cp_list(&d->content_read_groups, &s->content_read_groups) &&
           cp_str(&d->content_type, s->content_type) &&
           cp_str(&d->content_checksum, s->content_checksum);
}

struct caom_artifact *caom_artifact_copy(const struct caom_artifact *s)
{
    struct caom_artifact *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    if (!cp_entity(&d->e, &s->e) || !artifact_state(d, s))
        goto fail;
    for (size_t i = 0; i < s->n_parts; i++) {
        struct caom_part *p = caom_part_copy(s->parts[i]);
        if (!p)
            goto fail;
        if (caom_artifact_add_part(d, p)) {
            caom_part_free(p);
            goto fail;
        }
    }
    return d;
fail:
    caom_artifact_free(d);
    return NULL;
}

static bool cp_sinterval(struct caom_sampled_interval **d, const struct caom_sampled_interval *s)
{
    *d = NULL;
    if (!s)
        return true;
    *d = malloc(sizeof(**d));
    if (!*d)
        return false;
    **d = *s;
    (*d)->samples = NULL;
    return cp_arr((void **)&(*d)->samples, s->samples, s->n_samples, sizeof(*s->samples));
}

bool caom_position_copy(struct caom_position **d, const struct caom_position *s)
{
    *d = NULL;
    if (!s)
        return true;
    struct caom_position *x = *d = calloc(1, sizeof(*x));
    if (!x)
        return false;
    x->resolution = s->resolution;
    x->sample_size = s->sample_size;
    x->time_dependent = s->time_dependent;
    if (!CP_PLAIN(x->dimension, s->dimension) ||
        !CP_PLAIN(x->resolution_bounds, s->resolution_bounds))
        return false;
    if (s->bounds) {
        x->bounds = malloc(sizeof(*x->bounds));
        if (!x->bounds)
            return false;
        *x->bounds = *s->bounds;
        x->bounds->polygon.points = NULL;
        x->bounds->polygon.samples = NULL;
        if (!cp_arr((void **)&x->bounds->polygon.points, s->bounds->polygon.points,
                    s->bounds->polygon.n_points, sizeof(*s->bounds->polygon.points)) ||
            !cp_arr((void **)&x->bounds->polygon.samples, s->bounds->polygon.samples,
                    s->bounds->polygon.n_samples, sizeof(*s->bounds->polygon.samples)))
            return false;
    }
    return true;
}

bool caom_energy_copy(struct caom_energy **d, const struct caom_energy *s)
{
    *d = NULL;
    if (!s)
        return true;
    struct caom_energy *x = *d = calloc(1, sizeof(*x));
    if (!x)
        return false;
    x->dimension = s->dimension;
    x->resolving_power = s->resolving_power;
    x->sample_size = s->sample_size;
    x->restwav = s->restwav;
    x->n_bands = s->n_bands;
    return cp_sinterval(&x->bounds, s->bounds) &&
           CP_PLAIN(x->resolving_power_bounds, s->resolving_power_bounds) &&
           cp_str(&x->bandpass_name, s->bandpass_name) &&
           cp_arr((void **)&x->bands, s->bands, s->n_bands, sizeof(*s->bands)) &&
           cp_transition(&x->transition, s->transition);
}

bool caom_time_copy(struct caom_time **d, const struct caom_time *s)
{
    *d = NULL;
    if (!s)
        return true;
    struct caom_time *x = *d = calloc(1, sizeof(*x));
    if (!x)
        return false;
    x->dimension = s->dimension;
    x->resolution = s->resolution;
    x->sample_size = s->sample_size;
    x->exposure = s->exposure;
    return cp_sinterval(&x->bounds, s->bounds) &&
           CP_PLAIN(x->resolution_bounds, s->resolution_bounds);
}

bool caom_polarization_copy(struct caom_polarization **d, const struct caom_polarization *s)
{
    *d = NULL;
    if (!s)
        return true;
    struct caom_polarization *x = *d = calloc(1, sizeof(*x));
    if (!x)
        return false;
    x->dimension = s->dimension;
    x->n_states = s->n_states;
    return cp_arr((void **)&x->states, s->states, s->n_states, sizeof(*s->states));
}

bool caom_custom_axis_copy(struct caom_custom_axis **d, const struct caom_custom_axis *s)
{
    *d = NULL;
    if (!s)
        return true;
    struct caom_custom_axis *x = *d = calloc(1, sizeof(*x));
    if (!x)
        return false;
    x->dimension = s->dimension;
    return cp_str(&x->ctype, s->ctype) && cp_sinterval(&x->bounds, s->bounds);
}

/* Own state of a plane; @p computed also copies position/energy/time/polarization/custom. */
static bool plane_state(struct caom_plane *d, const struct caom_plane *s, bool computed)
{
    d->meta_release = s->meta_release;
    d->data_release = s->data_release;
    d->calibration_level = s->calibration_level;
    d->quality = s->quality;
    if (!cp_str(&d->product_id, s->product_id) || !cp_str(&d->creator_id, s->creator_id) ||
        !cp_list(&d->meta_read_groups, &s->meta_read_groups) ||
        !cp_list(&d->data_read_groups, &s->data_read_groups) ||
        !cp_str(&d->data_product_type, s->data_product_type) ||
        !cp_str(&d->observable_ucd, s->observable_ucd) || !CP_PLAIN(d->metrics, s->metrics))
        return false;
    if (s->provenance) {
        const struct caom_provenance *v = s->provenance;
        struct caom_provenance *x = d->provenance = calloc(1, sizeof(*x));
        if (!x || !cp_str(&x->name, v->name) || !cp_str(&x->version, v->version) ||
            !cp_str(&x->project, v->project) || !cp_str(&x->producer, v->producer) ||
            !cp_str(&x->run_id, v->run_id) || !cp_str(&x->reference, v->reference) ||
            !cp_list(&x->keywords, &v->keywords) || !cp_list(&x->inputs, &v->inputs))
            return false;
        x->last_executed = v->last_executed;
    }
    if (!computed)
        return true;
    return caom_position_copy(&d->position, s->position) &&
           caom_energy_copy(&d->energy, s->energy) && caom_time_copy(&d->time, s->time) &&
           caom_polarization_copy(&d->polarization, s->polarization) &&
           caom_custom_axis_copy(&d->custom, s->custom);
}

struct caom_plane *caom_plane_copy(const struct caom_plane *s)
{
    struct caom_plane *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    if (!cp_entity(&d->e, &s->e) || !plane_state(d, s, true))
        goto fail;
    for (size_t i = 0; i < s->n_artifacts; i++) {
        struct caom_artifact *a = caom_artifact_copy(s->artifacts[i]);
        if (!a)
            goto fail;
        if (caom_plane_add_artifact(d, a)) {
            caom_artifact_free(a);
            goto fail;
        }
    }
    return d;
fail:
    caom_plane_free(d);
    return NULL;
}

static bool keyworded(char **dn, struct caom_strlist *dk, const char *sn,
                      const struct caom_strlist *sk)
{
    return cp_str(dn, sn) && cp_list(dk, sk);
}

static bool obs_state(struct caom_observation *d, const struct caom_observation *s)
{
    d->kind = s->kind;
    d->meta_release = s->meta_release;
    d->sequence_number = s->sequence_number;
    d->intent = s->intent;
    d->requirements = s->requirements;
    if (!cp_str(&d->collection, s->collection) ||
        !cp_str(&d->observation_id, s->observation_id) ||
        !cp_list(&d->meta_read_groups, &s->meta_read_groups) ||
        !cp_str(&d->algorithm_name, s->algorithm_name) || !cp_str(&d->type, s->type) ||
        !cp_list(&d->members, &s->members) || !CP_PLAIN(d->environment, s->environment))
        return false;
    if (s->proposal) {
        const struct caom_proposal *p = s->proposal;
        struct caom_proposal *x = d->proposal = calloc(1, sizeof(*x));
        if (!x || !cp_str(&x->id, p->id) || !cp_str(&x->pi, p->pi) ||
            !cp_str(&x->project, p->project) || !cp_str(&x->title, p->title) ||
            !cp_list(&x->keywords, &p->keywords))
            return false;
    }
    if (s->target) {
        const struct caom_target *t = s->target;
        struct caom_target *x = d->target = calloc(1, sizeof(*x));
        if (!x || !cp_str(&x->name, t->name) || !cp_str(&x->target_id, t->target_id) ||
            !cp_list(&x->keywords, &t->keywords))
            return false;
        x->type = t->type;
        x->standard = t->standard;
        x->redshift = t->redshift;
        x->moving = t->moving;
    }
    if (s->target_position) {
        struct caom_target_position *x = d->target_position = calloc(1, sizeof(*x));
        if (!x || !cp_str(&x->coordsys, s->target_position->coordsys))
            return false;
        x->equinox = s->target_position->equinox;
        x->coordinates = s->target_position->coordinates;
    }
    if (s->telescope) {
        const struct caom_telescope *t = s->telescope;
        struct caom_telescope *x = d->telescope = calloc(1, sizeof(*x));
        if (!x || !keyworded(&x->name, &x->keywords, t->name, &t->keywords))
            return false;
        x->geo_x = t->geo_x;
        x->geo_y = t->geo_y;
        x->geo_z = t->geo_z;
    }
    if (s->instrument) {
        struct caom_instrument *x = d->instrument = calloc(1, sizeof(*x));
        if (!x || !keyworded(&x->name, &x->keywords, s->instrument->name, &s->instrument->keywords))
            return false;
    }
    return true;
}

struct caom_observation *caom_observation_clone(const struct caom_observation *s)
{
    struct caom_observation *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    if (!cp_entity(&d->e, &s->e) || !obs_state(d, s))
        goto fail;
    for (size_t i = 0; i < s->n_planes; i++) {
        struct caom_plane *p = caom_plane_copy(s->planes[i]);
        if (!p)
            goto fail;
        if (caom_observation_add_plane(d, p)) {
            caom_plane_free(p);
            goto fail;
        }
    }
    return d;
fail:
    caom_observation_free(d);
    return NULL;
}

/* ---- own-state replacement (merge) ---------------------------------------------------- */
/* Each replaces @p d's own state with a copy of @p s's, keeping d's entity attributes and
 * children. On allocation failure d is unchanged and false is returned. */

bool caom_chunk_take_state(struct caom_chunk *d, const struct caom_chunk *s)
{
    struct caom_chunk *tmp = calloc(1, sizeof(*tmp));
    if (!tmp)
        return false;
    if (!chunk_state(tmp, s)) {
        caom_chunk_free(tmp);
        return false;
    }
    struct caom_chunk old = *d;
    *d = *tmp;
    d->e = old.e;
    tmp->e = (struct caom_entity){0};
    *tmp = old;
    tmp->e.meta_producer = NULL;
    caom_chunk_free(tmp);
    return true;
}

bool caom_part_take_state(struct caom_part *d, const struct caom_part *s)
{
    char *name = NULL, *pt = NULL;
    if (!cp_str(&name, s->name) || !cp_str(&pt, s->product_type)) {
        free(name);
        free(pt);
        return false;
    }
    free(d->name);
    free(d->product_type);
    d->name = name;
    d->product_type = pt;
    return true;
}

bool caom_artifact_take_state(struct caom_artifact *d, const struct caom_artifact *s)
{
    struct caom_artifact *tmp = calloc(1, sizeof(*tmp));
    if (!tmp)
        return false;
    if (!artifact_state(tmp, s)) {
        caom_artifact_free(tmp);
        return false;
    }
    struct caom_artifact old = *d;
    *d = *tmp;
    d->e = old.e;
    d->parts = old.parts;
    d->n_parts = old.n_parts;
    *tmp = old;
    tmp->e.meta_producer = NULL;
    tmp->parts = NULL;
    tmp->n_parts = 0;
    caom_artifact_free(tmp);
    return true;
}

bool caom_plane_take_state(struct caom_plane *d, const struct caom_plane *s, bool computed)
{
    struct caom_plane *tmp = calloc(1, sizeof(*tmp));
    if (!tmp)
        return false;
    if (!plane_state(tmp, s, computed)) {
        caom_plane_free(tmp);
        return false;
    }
    struct caom_plane old = *d;
    *d = *tmp;
    d->e = old.e;
    d->artifacts = old.artifacts;
    d->n_artifacts = old.n_artifacts;
    if (!computed) { /* keep what the existing plane had */
        d->position = old.position;
        d->energy = old.energy;
        d->time = old.time;
        d->polarization = old.polarization;
        d->custom = old.custom;
        old.position = NULL;
        old.energy = NULL;
        old.time = NULL;
        old.polarization = NULL;
        old.custom = NULL;
    }
    *tmp = old;
    tmp->e.meta_producer = NULL;
    tmp->artifacts = NULL;
    tmp->n_artifacts = 0;
    caom_plane_free(tmp);
    return true;
}

bool caom_observation_take_state(struct caom_observation *d, const struct caom_observation *s)
{
    struct caom_observation *tmp = calloc(1, sizeof(*tmp));
    if (!tmp)
        return false;
    if (!obs_state(tmp, s)) {
        caom_observation_free(tmp);
        return false;
    }
    struct caom_observation old = *d;
    *d = *tmp;
    d->e = old.e;
    d->planes = old.planes;
    d->n_planes = old.n_planes;
    *tmp = old;
    tmp->e.meta_producer = NULL;
    tmp->planes = NULL;
    tmp->n_planes = 0;
    caom_observation_free(tmp);
    return true;
}
