/* caom_json.c - JSON rendering of an observation for the API (names as in the XSD).
 * SPDX-License-Identifier: Apache-2.0 */
#include "caom/caom.h"

#include <math.h>
#include <stdlib.h>

/* Each setter ignores absent values; allocation failures are collected in *bad. */
struct js {
    bool bad;                 /* an allocation failed */
};

static void put(struct js *j, json_t *o, const char *k, json_t *v)
{
    if (!v || json_object_set_new(o, k, v) != 0)
        j->bad = true;
}

static void p_str(struct js *j, json_t *o, const char *k, const char *v)
{
    if (v)
        put(j, o, k, json_string(v));
}

static json_t *num(double v)
{
    if (isnan(v) || isinf(v))
        return json_null();
    return json_real(v);
}

static void p_dbl(struct js *j, json_t *o, const char *k, double v)
{
    put(j, o, k, num(v));
}

static void p_d(struct js *j, json_t *o, const char *k, struct caom_optd v)
{
    if (v.set)
        p_dbl(j, o, k, v.v);
}

static void p_i(struct js *j, json_t *o, const char *k, struct caom_opti v)
{
    if (v.set)
        put(j, o, k, json_integer(v.v));
}

static void p_l(struct js *j, json_t *o, const char *k, struct caom_optl v)
{
    if (v.set)
        put(j, o, k, json_integer(v.v));
}

static void p_b(struct js *j, json_t *o, const char *k, enum caom_bool v)
{
    if (v != CAOM_BOOL_UNSET)
        put(j, o, k, json_boolean(v == CAOM_BOOL_TRUE));
}

static void p_date(struct js *j, json_t *o, const char *k, struct caom_optdate v)
{
    if (v.set) {
        char tmp[32];
        caom_date_format(v.ms, tmp);
        put(j, o, k, json_string(tmp));
    }
}

static void p_list(struct js *j, json_t *o, const char *k, const struct caom_strlist *l)
{
    if (l->n == 0)
        return;
    json_t *a = json_array();
    for (size_t i = 0; a && i < l->n; i++)
        if (json_array_append_new(a, json_string(l->v[i])) != 0)
            j->bad = true;
    put(j, o, k, a);
}

static json_t *obj(struct js *j)
{
    json_t *o = json_object();
    if (!o)
        j->bad = true;
    return o;
}

static void entity(struct js *j, json_t *o, const struct caom_entity *e)
{
    char id[37];
    caom_uuid_format(e->id, id);
    p_str(j, o, "id", id);
    p_date(j, o, "lastModified", e->last_modified);
    p_date(j, o, "maxLastModified", e->max_last_modified);
    if (e->meta_checksum[0])
        p_str(j, o, "metaChecksum", e->meta_checksum);
    if (e->acc_meta_checksum[0])
        p_str(j, o, "accMetaChecksum", e->acc_meta_checksum);
    p_str(j, o, "metaProducer", e->meta_producer);
}

static json_t *axis(struct js *j, const struct caom_axis *a)
{
    json_t *o = obj(j);
    if (o) {
        p_str(j, o, "ctype", a->ctype);
        p_str(j, o, "cunit", a->cunit);
    }
    return o;
}

static json_t *error(struct js *j, const struct caom_coord_error *e)
{
    json_t *o = obj(j);
    if (o) {
        p_d(j, o, "syser", e->syser);
        p_d(j, o, "rnder", e->rnder);
    }
    return o;
}

static json_t *refc(struct js *j, const struct caom_ref_coord *r)
{
    json_t *o = obj(j);
    if (o) {
        p_dbl(j, o, "pix", r->pix);
        p_dbl(j, o, "val", r->val);
    }
    return o;
}

static json_t *range1d(struct js *j, const struct caom_coord_range1d *r)
{
    json_t *o = obj(j);
    if (o) {
        put(j, o, "start", refc(j, &r->start));
        put(j, o, "end", refc(j, &r->end));
    }
    return o;
}

static json_t *axis1d(struct js *j, const struct caom_coord_axis1d *a)
{
    json_t *o = obj(j);
    if (!o)
        return NULL;
    put(j, o, "axis", axis(j, &a->axis));
    if (a->error)
        put(j, o, "error", error(j, a->error));
    if (a->range)
        put(j, o, "range", range1d(j, a->range));
    if (a->bounds) {
        json_t *s = json_array();
        for (size_t i = 0; s && i < a->bounds->n_samples; i++)
            if (json_array_append_new(s, range1d(j, &a->bounds->samples[i])))
                j->bad = true;
        json_t *b = obj(j);
        if (b)
            put(j, b, "samples", s);
        put(j, o, "bounds", b);
    }
    if (a->function) {
        json_t *f = obj(j);
        if (f) {
            put(j, f, "naxis", json_integer(a->function->naxis));
            p_dbl(j, f, "delta", a->function->delta);
            put(j, f, "refCoord", refc(j, &a->function->ref_coord));
        }
        put(j, o, "function", f);
    }
    return o;
}

static json_t *coord2d(struct js *j, const struct caom_coord2d *c)
{
    json_t *o = obj(j);
    if (o) {
        put(j, o, "coord1", refc(j, &c->coord1));
        put(j, o, "coord2", refc(j, &c->coord2));
    }
    return o;
}

static json_t *vcoord(struct js *j, double a, double b, const char *k1, const char *k2)
{
    json_t *o = obj(j);
    if (o) {
        p_dbl(j, o, k1, a);
        p_dbl(j, o, k2, b);
    }
    return o;
}

static json_t *dim2d(struct js *j, const struct caom_dimension2d *d)
{
    json_t *o = obj(j);
    if (o) {
        put(j, o, "naxis1", json_integer(d->naxis1));
        put(j, o, "naxis2", json_integer(d->naxis2));
    }
    return o;
}

static json_t *axis2d(struct js *j, const struct caom_coord_axis2d *a)
{
    json_t *o = obj(j);
    if (!o)
        return NULL;
    put(j, o, "axis1", axis(j, &a->axis1));
    put(j, o, "axis2", axis(j, &a->axis2));
    if (a->error1)
        put(j, o, "error1", error(j, a->error1));
    if (a->error2)
        put(j, o, "error2", error(j, a->error2));
    if (a->range) {
        json_t *r = obj(j);
        if (r) {
            put(j, r, "start", coord2d(j, &a->range->start));
            put(j, r, "end", coord2d(j, &a->range->end));
        }
        put(j, o, "range", r);
    }
    if (a->bounds) {
        json_t *b = obj(j);
        if (b && a->bounds->kind == CAOM_BOUNDS2D_CIRCLE) {
            json_t *c = obj(j);
            if (c) {
                put(j, c, "center", vcoord(j, a->bounds->circle.center.coord1,
                                           a->bounds->circle.center.coord2, "coord1", "coord2"));
                p_dbl(j, c, "radius", a->bounds->circle.radius);
            }
            put(j, b, "circle", c);
        } else if (b) {
            json_t *v = json_array();
            for (size_t i = 0; v && i < a->bounds->polygon.n_vertices; i++)
                if (json_array_append_new(v, vcoord(j, a->bounds->polygon.vertices[i].coord1,
                                                     a->bounds->polygon.vertices[i].coord2,
                                                     "coord1", "coord2")))
                    j->bad = true;
            json_t *p = obj(j);
            if (p)
                put(j, p, "vertices", v);
            put(j, b, "polygon", p);
        }
        put(j, o, "bounds", b);
    }
    if (a->function) {
        json_t *f = obj(j);
        if (f) {
            put(j, f, "dimension", dim2d(j, &a->function->dimension));
            put(j, f, "refCoord", coord2d(j, &a->function->ref_coord));
            p_d(j, f, "cd11", a->function->cd11);
            p_d(j, f, "cd12", a->function->cd12);
            p_d(j, f, "cd21", a->function->cd21);
            p_d(j, f, "cd22", a->function->cd22);
        }
        put(j, o, "function", f);
    }
    return o;
}

static json_t *transition(struct js *j, const struct caom_energy_transition *t)
{
    json_t *o = obj(j);
    if (o) {
        p_str(j, o, "species", t->species);
        p_str(j, o, "transition", t->transition);
    }
    return o;
}

static json_t *slice(struct js *j, const struct caom_slice *s)
{
    json_t *o = obj(j);
    if (o) {
        put(j, o, "axis", axis(j, &s->axis));
        put(j, o, "bin", json_integer(s->bin));
    }
    return o;
}

static json_t *axis_only(struct js *j, const struct caom_coord_axis1d *a)
{
    json_t *o = obj(j);
    if (o)
        put(j, o, "axis", axis1d(j, a));
    return o;
}

static json_t *chunk(struct js *j, const struct caom_chunk *c)
{
    json_t *o = obj(j);
    if (!o)
        return NULL;
    entity(j, o, &c->e);
    p_str(j, o, "productType", c->product_type);
    p_i(j, o, "naxis", c->naxis);
    p_i(j, o, "observableAxis", c->observable_axis);
    p_i(j, o, "positionAxis1", c->position_axis1);
    p_i(j, o, "positionAxis2", c->position_axis2);
    p_i(j, o, "energyAxis", c->energy_axis);
    p_i(j, o, "timeAxis", c->time_axis);
    p_i(j, o, "polarizationAxis", c->polarization_axis);
    p_i(j, o, "customAxis", c->custom_axis);
    if (c->observable) {
        json_t *x = obj(j);
        if (x) {
            put(j, x, "dependent", slice(j, &c->observable->dependent));
            if (c->observable->independent)
                put(j, x, "independent", slice(j, c->observable->independent));
        }
        put(j, o, "observable", x);
    }
    if (c->position) {
        json_t *x = obj(j);
        if (x) {
            put(j, x, "axis", axis2d(j, &c->position->axis));
            p_str(j, x, "coordsys", c->position->coordsys);
            p_d(j, x, "equinox", c->position->equinox);
            p_d(j, x, "resolution", c->position->resolution);
        }
        put(j, o, "position", x);
    }
    if (c->energy) {
        const struct caom_spectral_wcs *e = c->energy;
        json_t *x = obj(j);
        if (x) {
            put(j, x, "axis", axis1d(j, &e->axis));
            p_str(j, x, "specsys", e->specsys);
            p_str(j, x, "ssysobs", e->ssysobs);
            p_str(j, x, "ssyssrc", e->ssyssrc);
            p_d(j, x, "restfrq", e->restfrq);
            p_d(j, x, "restwav", e->restwav);
            p_d(j, x, "velosys", e->velosys);
            p_d(j, x, "zsource", e->zsource);
            p_d(j, x, "velang", e->velang);
            p_str(j, x, "bandpassName", e->bandpass_name);
            p_d(j, x, "resolvingPower", e->resolving_power);
            if (e->transition)
                put(j, x, "transition", transition(j, e->transition));
        }
        put(j, o, "energy", x);
    }
    if (c->time) {
        json_t *x = obj(j);
        if (x) {
            put(j, x, "axis", axis1d(j, &c->time->axis));
            p_str(j, x, "timesys", c->time->timesys);
            p_str(j, x, "trefpos", c->time->trefpos);
            p_d(j, x, "mjdref", c->time->mjdref);
            p_d(j, x, "exposure", c->time->exposure);
            p_d(j, x, "resolution", c->time->resolution);
        }
        put(j, o, "time", x);
    }
    if (c->polarization)
        put(j, o, "polarization", axis_only(j, &c->polarization->axis));
    if (c->custom)
        put(j, o, "custom", axis_only(j, &c->custom->axis));
    return o;
}

static json_t *interval(struct js *j, const struct caom_interval *i)
{
    return vcoord(j, i->lower, i->upper, "lower", "upper");
}

static json_t *sinterval(struct js *j, const struct caom_sampled_interval *s)
{
    json_t *o = obj(j);
    if (!o)
        return NULL;
    p_dbl(j, o, "lower", s->lower);
    p_dbl(j, o, "upper", s->upper);
    json_t *a = json_array();
    for (size_t i = 0; a && i < s->n_samples; i++)
        if (json_array_append_new(a, interval(j, &s->samples[i])))
            j->bad = true;
    put(j, o, "samples", a);
    return o;
}

static json_t *position(struct js *j, const struct caom_position *p)
{
    json_t *o = obj(j);
    if (!o)
        return NULL;
    if (p->bounds) {
        json_t *b = obj(j);
        if (b && p->bounds->kind == CAOM_SHAPE_CIRCLE) {
            p_str(j, b, "type", "Circle");
            put(j, b, "center", vcoord(j, p->bounds->circle.center.cval1,
                                       p->bounds->circle.center.cval2, "cval1", "cval2"));
            p_dbl(j, b, "radius", p->bounds->circle.radius);
        } else if (b) {
            const struct caom_polygon *g = &p->bounds->polygon;
            p_str(j, b, "type", "Polygon");
            json_t *pts = json_array();
            for (size_t i = 0; pts && i < g->n_points; i++)
                if (json_array_append_new(pts, vcoord(j, g->points[i].cval1, g->points[i].cval2,
                                                      "cval1", "cval2")))
                    j->bad = true;
            put(j, b, "points", pts);
            json_t *vs = json_array();
            for (size_t i = 0; vs && i < g->n_samples; i++) {
                json_t *v = vcoord(j, g->samples[i].cval1, g->samples[i].cval2, "cval1", "cval2");
                if (v)
                    put(j, v, "type", json_integer((json_int_t)g->samples[i].type));
                if (json_array_append_new(vs, v))
                    j->bad = true;
            }
            put(j, b, "samples", vs);
        }
        put(j, o, "bounds", b);
    }
    if (p->dimension)
        put(j, o, "dimension", dim2d(j, p->dimension));
    p_d(j, o, "resolution", p->resolution);
    if (p->resolution_bounds)
        put(j, o, "resolutionBounds", interval(j, p->resolution_bounds));
    p_d(j, o, "sampleSize", p->sample_size);
    p_b(j, o, "timeDependent", p->time_dependent);
    return o;
}

static json_t *plane(struct js *j, const struct caom_plane *p)
{
    json_t *o = obj(j);
    if (!o)
        return NULL;
    entity(j, o, &p->e);
    p_str(j, o, "productID", p->product_id);
    p_str(j, o, "creatorID", p->creator_id);
    p_date(j, o, "metaRelease", p->meta_release);
    p_list(j, o, "metaReadGroups", &p->meta_read_groups);
    p_date(j, o, "dataRelease", p->data_release);
    p_list(j, o, "dataReadGroups", &p->data_read_groups);
    p_str(j, o, "dataProductType", p->data_product_type);
    p_i(j, o, "calibrationLevel", p->calibration_level);
    if (p->provenance) {
        const struct caom_provenance *v = p->provenance;
        json_t *x = obj(j);
        if (x) {
            p_str(j, x, "name", v->name);
            p_str(j, x, "version", v->version);
            p_str(j, x, "project", v->project);
            p_str(j, x, "producer", v->producer);
            p_str(j, x, "runID", v->run_id);
            p_str(j, x, "reference", v->reference);
            p_date(j, x, "lastExecuted", v->last_executed);
            p_list(j, x, "keywords", &v->keywords);
            p_list(j, x, "inputs", &v->inputs);
        }
        put(j, o, "provenance", x);
    }
    if (p->observable_ucd) {
        json_t *x = obj(j);
        if (x)
            p_str(j, x, "ucd", p->observable_ucd);
        put(j, o, "observable", x);
    }
    if (p->metrics) {
        const struct caom_metrics *m = p->metrics;
        json_t *x = obj(j);
        if (x) {
            p_d(j, x, "sourceNumberDensity", m->source_number_density);
            p_d(j, x, "background", m->background);
            p_d(j, x, "backgroundStddev", m->background_stddev);
            p_d(j, x, "fluxDensityLimit", m->flux_density_limit);
            p_d(j, x, "magLimit", m->mag_limit);
            p_d(j, x, "sampleSNR", m->sample_snr);
        }
        put(j, o, "metrics", x);
    }
    if (p->quality == CAOM_QUALITY_JUNK) {
        json_t *x = obj(j);
        if (x)
            p_str(j, x, "flag", "junk");
        put(j, o, "quality", x);
    }
    if (p->position)
        put(j, o, "position", position(j, p->position));
    if (p->energy) {
        const struct caom_energy *e = p->energy;
        json_t *x = obj(j);
        if (x) {
            if (e->bounds)
                put(j, x, "bounds", sinterval(j, e->bounds));
            p_l(j, x, "dimension", e->dimension);
            p_d(j, x, "resolvingPower", e->resolving_power);
            if (e->resolving_power_bounds)
                put(j, x, "resolvingPowerBounds", interval(j, e->resolving_power_bounds));
            p_d(j, x, "sampleSize", e->sample_size);
            p_str(j, x, "bandpassName", e->bandpass_name);
            if (e->n_bands) {
                json_t *a = json_array();
                for (size_t i = 0; a && i < e->n_bands; i++)
                    if (json_array_append_new(a, json_string(caom_energy_band_name(e->bands[i]))))
                        j->bad = true;
                put(j, x, "energyBands", a);
            }
            p_d(j, x, "restwav", e->restwav);
            if (e->transition)
                put(j, x, "transition", transition(j, e->transition));
        }
        put(j, o, "energy", x);
    }
    if (p->time) {
        const struct caom_time *t = p->time;
        json_t *x = obj(j);
        if (x) {
            if (t->bounds)
                put(j, x, "bounds", sinterval(j, t->bounds));
            p_l(j, x, "dimension", t->dimension);
            p_d(j, x, "resolution", t->resolution);
            if (t->resolution_bounds)
                put(j, x, "resolutionBounds", interval(j, t->resolution_bounds));
            p_d(j, x, "sampleSize", t->sample_size);
            p_d(j, x, "exposure", t->exposure);
        }
        put(j, o, "time", x);
    }
    if (p->polarization) {
        json_t *x = obj(j);
        if (x) {
            if (p->polarization->n_states) {
                json_t *a = json_array();
                for (size_t i = 0; a && i < p->polarization->n_states; i++)
                    if (json_array_append_new(
                            a, json_string(caom_pol_state_name(p->polarization->states[i]))))
                        j->bad = true;
                put(j, x, "states", a);
            }
            p_l(j, x, "dimension", p->polarization->dimension);
        }
        put(j, o, "polarization", x);
    }
    if (p->custom) {
        json_t *x = obj(j);
        if (x) {
            p_str(j, x, "ctype", p->custom->ctype);
            if (p->custom->bounds)
                put(j, x, "bounds", sinterval(j, p->custom->bounds));
            p_l(j, x, "dimension", p->custom->dimension);
        }
        put(j, o, "custom", x);
    }
    json_t *arts = json_array();
    for (size_t i = 0; arts && i < p->n_artifacts; i++) {
        const struct caom_artifact *a = p->artifacts[i];
        json_t *x = obj(j);
        if (!x)
            break;
        entity(j, x, &a->e);
        p_str(j, x, "uri", a->uri);
        p_str(j, x, "productType", a->product_type);
        p_str(j, x, "releaseType", caom_release_type_name(a->release_type));
        p_date(j, x, "contentRelease", a->content_release);
        p_list(j, x, "contentReadGroups", &a->content_read_groups);
        p_str(j, x, "contentType", a->content_type);
        p_l(j, x, "contentLength", a->content_length);
        p_str(j, x, "contentChecksum", a->content_checksum);
        json_t *parts = json_array();
        for (size_t k = 0; parts && k < a->n_parts; k++) {
            const struct caom_part *pt = a->parts[k];
            json_t *y = obj(j);
            if (!y)
                break;
            entity(j, y, &pt->e);
            p_str(j, y, "name", pt->name);
            p_str(j, y, "productType", pt->product_type);
            json_t *chunks = json_array();
            for (size_t l = 0; chunks && l < pt->n_chunks; l++)
                if (json_array_append_new(chunks, chunk(j, pt->chunks[l])))
                    j->bad = true;
            put(j, y, "chunks", chunks);
            if (json_array_append_new(parts, y))
                j->bad = true;
        }
        put(j, x, "parts", parts);
        if (json_array_append_new(arts, x))
            j->bad = true;
    }
    put(j, o, "artifacts", arts);
    return o;
}

json_t *caom_to_json(const struct caom_observation *ob)
{
    struct js j = {false};
    json_t *o = obj(&j);
    if (!o)
        return NULL;
    p_str(&j, o, "@type", ob->kind == CAOM_OBS_DERIVED ? "DerivedObservation" : "SimpleObservation");
    entity(&j, o, &ob->e);
    p_str(&j, o, "collection", ob->collection);
    p_str(&j, o, "observationID", ob->observation_id);
    p_date(&j, o, "metaRelease", ob->meta_release);
    p_list(&j, o, "metaReadGroups", &ob->meta_read_groups);
    p_i(&j, o, "sequenceNumber", ob->sequence_number);
    if (ob->algorithm_name) {
        json_t *x = obj(&j);
        if (x)
            p_str(&j, x, "name", ob->algorithm_name);
        put(&j, o, "algorithm", x);
    }
    p_str(&j, o, "type", ob->type);
    p_str(&j, o, "intent", caom_intent_name(ob->intent));
    if (ob->proposal) {
        json_t *x = obj(&j);
        if (x) {
            p_str(&j, x, "id", ob->proposal->id);
            p_str(&j, x, "pi", ob->proposal->pi);
            p_str(&j, x, "project", ob->proposal->project);
            p_str(&j, x, "title", ob->proposal->title);
            p_list(&j, x, "keywords", &ob->proposal->keywords);
        }
        put(&j, o, "proposal", x);
    }
    if (ob->target) {
        const struct caom_target *t = ob->target;
        json_t *x = obj(&j);
        if (x) {
            p_str(&j, x, "name", t->name);
            p_str(&j, x, "targetID", t->target_id);
            p_str(&j, x, "type", caom_target_type_name(t->type));
            p_b(&j, x, "standard", t->standard);
            p_d(&j, x, "redshift", t->redshift);
            p_b(&j, x, "moving", t->moving);
            p_list(&j, x, "keywords", &t->keywords);
        }
        put(&j, o, "target", x);
    }
    if (ob->target_position) {
        const struct caom_target_position *t = ob->target_position;
        json_t *x = obj(&j);
        if (x) {
            p_str(&j, x, "coordsys", t->coordsys);
            p_d(&j, x, "equinox", t->equinox);
            put(&j, x, "coordinates",
                vcoord(&j, t->coordinates.cval1, t->coordinates.cval2, "cval1", "cval2"));
        }
        put(&j, o, "targetPosition", x);
    }
    if (ob->requirements == CAOM_STATUS_FAIL) {
        json_t *x = obj(&j);
        if (x)
            p_str(&j, x, "flag", "fail");
        put(&j, o, "requirements", x);
    }
    if (ob->telescope) {
        const struct caom_telescope *t = ob->telescope;
        json_t *x = obj(&j);
        if (x) {
            p_str(&j, x, "name", t->name);
            p_d(&j, x, "geoLocationX", t->geo_x);
            p_d(&j, x, "geoLocationY", t->geo_y);
            p_d(&j, x, "geoLocationZ", t->geo_z);
            p_list(&j, x, "keywords", &t->keywords);
        }
        put(&j, o, "telescope", x);
    }
    if (ob->instrument) {
        json_t *x = obj(&j);
        if (x) {
            p_str(&j, x, "name", ob->instrument->name);
            p_list(&j, x, "keywords", &ob->instrument->keywords);
        }
        put(&j, o, "instrument", x);
    }
    if (ob->environment) {
        const struct caom_environment *e = ob->environment;
        json_t *x = obj(&j);
        if (x) {
            p_d(&j, x, "seeing", e->seeing);
            p_d(&j, x, "humidity", e->humidity);
            p_d(&j, x, "elevation", e->elevation);
            p_d(&j, x, "tau", e->tau);
            p_d(&j, x, "wavelengthTau", e->wavelength_tau);
            p_d(&j, x, "ambientTemp", e->ambient_temp);
            p_b(&j, x, "photometric", e->photometric);
        }
        put(&j, o, "environment", x);
    }
    json_t *planes = json_array();
    for (size_t i = 0; planes && i < ob->n_planes; i++)
        if (json_array_append_new(planes, plane(&j, ob->planes[i])))
            j.bad = true;
    put(&j, o, "planes", planes);
    if (ob->kind == CAOM_OBS_DERIVED) {
        if (ob->members.n)
            p_list(&j, o, "members", &ob->members);
        else
            put(&j, o, "members", json_array());
    }
    if (j.bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}
