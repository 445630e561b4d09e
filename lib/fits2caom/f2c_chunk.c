/* f2c_chunk.c - one HDU -> one CAOM chunk: the WCS lib/wcs derives from the header, then the
 * blueprint's user rules for Chunk.* elements on top (a literal or lookup replaces the derived
 * value, None removes it).
 * SPDX-License-Identifier: Apache-2.0 */
#include "fits2caom/f2c_int.h"

#include "core/str.h"
#include "wcs/wcs.h"

#include <stdlib.h>
#include <string.h>

static enum err set_axis(struct caom_axis *a, const char *ctype, const char *cunit,
                         struct err_info *ei)
{
    TRY(f2c__str(&a->ctype, ctype, ei));
    TRY(f2c__str(&a->cunit, cunit && *cunit ? cunit : NULL, ei));
    return ERR_OK;
}

static enum err from_axis1d(struct caom_coord_axis1d *ax, const struct wcsx_axis1d *w,
                            struct err_info *ei)
{
    TRY(set_axis(&ax->axis, w->ctype, w->cunit, ei));
    if (w->syser.set || w->rnder.set) {
        NEW(ax->error);
        ax->error->syser.set = w->syser.set;
        ax->error->syser.v = w->syser.v;
        ax->error->rnder.set = w->rnder.set;
        ax->error->rnder.v = w->rnder.v;
    }
    if (w->has_function) {
        NEW(ax->function);
        ax->function->naxis = w->naxis;
        ax->function->delta = w->delta;
        ax->function->ref_coord.pix = w->crpix;
        ax->function->ref_coord.val = w->crval;
    }
    return ERR_OK;
}

static enum err from_wcs(struct caom_chunk *ch, const struct wcsx_chunk *w, struct err_info *ei)
{
    if (w->axes.naxis > 0) {
        ch->naxis = caom_i(w->axes.naxis);
    }
    if (w->has_position) {
        const struct wcsx_position *p = &w->position;
        ch->position_axis1 = caom_i(w->axes.pos1);
        ch->position_axis2 = caom_i(w->axes.pos2);
        NEW(ch->position);
        struct caom_spatial_wcs *s = ch->position;
        TRY(set_axis(&s->axis.axis1, p->ctype1, p->cunit1, ei));
        TRY(set_axis(&s->axis.axis2, p->ctype2, p->cunit2, ei));
        if (p->syser1.set || p->rnder1.set) {
            NEW(s->axis.error1);
            s->axis.error1->syser.set = p->syser1.set;
            s->axis.error1->syser.v = p->syser1.v;
            s->axis.error1->rnder.set = p->rnder1.set;
            s->axis.error1->rnder.v = p->rnder1.v;
        }
        if (p->syser2.set || p->rnder2.set) {
            NEW(s->axis.error2);
            s->axis.error2->syser.set = p->syser2.set;
            s->axis.error2->syser.v = p->syser2.v;
            s->axis.error2->rnder.set = p->rnder2.set;
            s->axis.error2->rnder.v = p->rnder2.v;
        }
        NEW(s->axis.function);
        struct caom_coord_function2d *f = s->axis.function;
        f->dimension.naxis1 = p->naxis1;
        f->dimension.naxis2 = p->naxis2;
        f->ref_coord.coord1.pix = p->crpix1;
        f->ref_coord.coord1.val = p->crval1;
        f->ref_coord.coord2.pix = p->crpix2;
        f->ref_coord.coord2.val = p->crval2;
        f->cd11 = caom_d(p->cd11);
        f->cd12 = caom_d(p->cd12);
        f->cd21 = caom_d(p->cd21);
        f->cd22 = caom_d(p->cd22);
        TRY(f2c__str(&s->coordsys, p->coordsys[0] ? p->coordsys : NULL, ei));
        if (p->equinox.set) {
            s->equinox = caom_d(p->equinox.v);
        }
    }
    if (w->has_energy) {
        const struct wcsx_spectral *sp = &w->energy;
        ch->energy_axis = caom_i(w->axes.energy);
        NEW(ch->energy);
        struct caom_spectral_wcs *s = ch->energy;
        TRY(from_axis1d(&s->axis, &sp->axis, ei));
        TRY(f2c__str(&s->specsys, sp->specsys, ei));
        TRY(f2c__str(&s->ssysobs, sp->ssysobs[0] ? sp->ssysobs : NULL, ei));
        TRY(f2c__str(&s->ssyssrc, sp->ssyssrc[0] ? sp->ssyssrc : NULL, ei));
        if (sp->restfrq.set) {
            s->restfrq = caom_d(sp->restfrq.v);
        }
        if (sp->restwav.set) {
            s->restwav = caom_d(sp->restwav.v);
        }
        if (sp->velosys.set) {
            s->velosys = caom_d(sp->velosys.v);
        }
        if (sp->zsource.set) {
            s->zsource = caom_d(sp->zsource.v);
        }
        if (sp->velang.set) {
            s->velang = caom_d(sp->velang.v);
        }
    }
    if (w->has_time) {
        const struct wcsx_temporal *t = &w->time;
        if (w->axes.time) {
            ch->time_axis = caom_i(w->axes.time);
        }
        NEW(ch->time);
        TRY(from_axis1d(&ch->time->axis, &t->axis, ei));
        TRY(f2c__str(&ch->time->timesys, t->timesys[0] ? t->timesys : NULL, ei));
        TRY(f2c__str(&ch->time->trefpos, t->trefpos[0] ? t->trefpos : NULL, ei));
        if (t->mjdref.set) {
            ch->time->mjdref = caom_d(t->mjdref.v);
        }
        if (t->exposure.set) {
            ch->time->exposure = caom_d(t->exposure.v);
        }
        if (t->resolution.set) {
            ch->time->resolution = caom_d(t->resolution.v);
        }
    }
    if (w->has_polarization) {
        ch->polarization_axis = caom_i(w->axes.polarization);
        NEW(ch->polarization);
        TRY(from_axis1d(&ch->polarization->axis, &w->polarization, ei));
        free(ch->polarization->axis.axis.cunit); /* STOKES is unitless */
        ch->polarization->axis.axis.cunit = NULL;
    }
    if (w->has_custom) {
        ch->custom_axis = caom_i(w->axes.custom);
        NEW(ch->custom);
        TRY(from_axis1d(&ch->custom->axis, &w->custom, ei));
    }
    if (w->has_observable) {
        ch->observable_axis = caom_i(w->axes.observable);
        NEW(ch->observable);
        TRY(set_axis(&ch->observable->dependent.axis, w->observable.ctype, w->observable.cunit,
                     ei));
        double bin = w->observable.crpix; /* a header value: cast only when it fits */
        ch->observable->dependent.bin = (bin > -9.0e15 && bin < 9.0e15) ? (int64_t)bin : 0;
    }
    return ERR_OK;
}

/* ---- blueprint overrides ------------------------------------------------------------------ */

/* Set one element of a CoordAxis1D from its key suffix ("axis.ctype", "function.delta"...). */
static enum err set_axis1d(const struct f2c_ctx *c, const char *key, const char *sfx,
                           struct caom_coord_axis1d *ax, const char *v, struct err_info *ei)
{
    if (strcmp(sfx, "axis.ctype") == 0) {
        return f2c__str(&ax->axis.ctype, v, ei);
    }
    if (strcmp(sfx, "axis.cunit") == 0) {
        return f2c__str(&ax->axis.cunit, v, ei);
    }
    if (strncmp(sfx, "error.", 6) == 0) {
        if (!v) {
            return ERR_OK;
        }
        NEW(ax->error);
        return f2c__optd(c, key, v, strcmp(sfx + 6, "syser") == 0 ? &ax->error->syser
                                                                  : &ax->error->rnder, ei);
    }
    if (strncmp(sfx, "function.", 9) == 0) {
        if (!v) {
            free(ax->function);
            ax->function = NULL;
            return ERR_OK;
        }
        NEW(ax->function);
        const char *f = sfx + 9;
        if (strcmp(f, "naxis") == 0) {
            return f2c__long(c, key, v, &ax->function->naxis, ei);
        }
        if (strcmp(f, "delta") == 0) {
            return f2c__dbl(c, key, v, &ax->function->delta, ei);
        }
        if (strcmp(f, "refCoord.pix") == 0) {
            return f2c__dbl(c, key, v, &ax->function->ref_coord.pix, ei);
        }
        return f2c__dbl(c, key, v, &ax->function->ref_coord.val, ei);
    }
    if (strncmp(sfx, "range.", 6) == 0) {
        if (!v) {
            free(ax->range);
            ax->range = NULL;
            return ERR_OK;
        }
        NEW(ax->range);
        const char *r = sfx + 6;
        struct caom_ref_coord *rc = strncmp(r, "start", 5) == 0 ? &ax->range->start
                                                                : &ax->range->end;
        return f2c__dbl(c, key, v, strstr(r, ".pix") ? &rc->pix : &rc->val, ei);
    }
    return ERR_OK; /* bounds.samples: not settable from a scalar */
}

static enum err set_pos(const struct f2c_ctx *c, const char *key, struct caom_chunk *ch,
                        const char *v, struct err_info *ei)
{
    const char *k = key + strlen("Chunk.position.");
    if (!v && strcmp(k, "coordsys") != 0 && strcmp(k, "equinox") != 0 &&
        strcmp(k, "resolution") != 0) {
        return ERR_OK;
    }
    NEW(ch->position);
    struct caom_spatial_wcs *s = ch->position;
    if (strcmp(k, "coordsys") == 0) {
        return f2c__str(&s->coordsys, v, ei);
    }
    if (strcmp(k, "equinox") == 0) {
        s->equinox.set = false;
        return v ? f2c__optd(c, key, v, &s->equinox, ei) : ERR_OK;
    }
    if (strcmp(k, "resolution") == 0) {
        s->resolution.set = false;
        return v ? f2c__optd(c, key, v, &s->resolution, ei) : ERR_OK;
    }
    if (strncmp(k, "axis.axis1.", 11) == 0) {
        return f2c__str(strcmp(k + 11, "ctype") == 0 ? &s->axis.axis1.ctype : &s->axis.axis1.cunit,
                        v, ei);
    }
    if (strncmp(k, "axis.axis2.", 11) == 0) {
        return f2c__str(strcmp(k + 11, "ctype") == 0 ? &s->axis.axis2.ctype : &s->axis.axis2.cunit,
                        v, ei);
    }
    if (strncmp(k, "axis.error", 10) == 0) {
        struct caom_coord_error **pe = k[10] == '1' ? &s->axis.error1 : &s->axis.error2;
        NEW(*pe);
        return f2c__optd(c, key, v, strstr(k, "syser") ? &(*pe)->syser : &(*pe)->rnder, ei);
    }
    if (strncmp(k, "axis.function.", 14) == 0) {
        NEW(s->axis.function);
        struct caom_coord_function2d *f = s->axis.function;
        const char *x = k + 14;
        if (strncmp(x, "cd", 2) == 0) {
            struct caom_optd *cd = strcmp(x, "cd11") == 0   ? &f->cd11
                                   : strcmp(x, "cd12") == 0 ? &f->cd12
                                   : strcmp(x, "cd21") == 0 ? &f->cd21
                                                            : &f->cd22;
            return f2c__optd(c, key, v, cd, ei);
        }
        if (strcmp(x, "dimension.naxis1") == 0) {
            return f2c__long(c, key, v, &f->dimension.naxis1, ei);
        }
        if (strcmp(x, "dimension.naxis2") == 0) {
            return f2c__long(c, key, v, &f->dimension.naxis2, ei);
        }
        struct caom_ref_coord *rc = strncmp(x, "refCoord.coord1", 15) == 0 ? &f->ref_coord.coord1
                                                                         : &f->ref_coord.coord2;
        return f2c__dbl(c, key, v, strstr(x, ".pix") ? &rc->pix : &rc->val, ei);
    }
    if (strncmp(k, "axis.range.", 11) == 0) {
        NEW(s->axis.range);
        const char *x = k + 11;
        struct caom_coord2d *cc = strncmp(x, "start", 5) == 0 ? &s->axis.range->start
                                                              : &s->axis.range->end;
        struct caom_ref_coord *rc = strstr(x, "coord1") ? &cc->coord1 : &cc->coord2;
        return f2c__dbl(c, key, v, strstr(x, ".pix") ? &rc->pix : &rc->val, ei);
    }
    return ERR_OK;
}

static enum err set_energy(const struct f2c_ctx *c, const char *key, struct caom_chunk *ch,
                           const char *v, struct err_info *ei)
{
    const char *k = key + strlen("Chunk.energy.");
    if (!v && !ch->energy) {
        return ERR_OK;
    }
    NEW(ch->energy);
    struct caom_spectral_wcs *s = ch->energy;
    if (strncmp(k, "axis.", 5) == 0) {
        return set_axis1d(c, key, k + 5, &s->axis, v, ei);
    }
    if (strcmp(k, "specsys") == 0) {
        return f2c__str(&s->specsys, v, ei);
    }
    if (strcmp(k, "ssysobs") == 0) {
        return f2c__str(&s->ssysobs, v, ei);
    }
    if (strcmp(k, "ssyssrc") == 0) {
        return f2c__str(&s->ssyssrc, v, ei);
    }
    if (strcmp(k, "bandpassName") == 0) {
        return f2c__str(&s->bandpass_name, v, ei);
    }
    struct caom_optd *d = strcmp(k, "restfrq") == 0        ? &s->restfrq
                          : strcmp(k, "restwav") == 0      ? &s->restwav
                          : strcmp(k, "velosys") == 0      ? &s->velosys
                          : strcmp(k, "zsource") == 0      ? &s->zsource
                          : strcmp(k, "velang") == 0       ? &s->velang
                          : strcmp(k, "resolvingPower") == 0 ? &s->resolving_power
                                                             : NULL;
    if (d) {
        d->set = false;
        return v ? f2c__optd(c, key, v, d, ei) : ERR_OK;
    }
    if (strncmp(k, "transition", 10) == 0) {
        if (!v) {
            caom_transition_free(s->transition);
            s->transition = NULL;
            return ERR_OK;
        }
        NEW(s->transition);
        if (strcmp(k, "transition.species") == 0) {
            return f2c__str(&s->transition->species, v, ei);
        }
        if (strcmp(k, "transition.transition") == 0) {
            return f2c__str(&s->transition->transition, v, ei);
        }
    }
    return ERR_OK;
}

static enum err set_time(const struct f2c_ctx *c, const char *key, struct caom_chunk *ch,
                         const char *v, struct err_info *ei)
{
    const char *k = key + strlen("Chunk.time.");
    if (!v && !ch->time) {
        return ERR_OK;
    }
    NEW(ch->time);
    struct caom_temporal_wcs *t = ch->time;
    if (strncmp(k, "axis.", 5) == 0) {
        return set_axis1d(c, key, k + 5, &t->axis, v, ei);
    }
    if (strcmp(k, "timesys") == 0) {
        return f2c__str(&t->timesys, v, ei);
    }
    if (strcmp(k, "trefpos") == 0) {
        return f2c__str(&t->trefpos, v, ei);
    }
    struct caom_optd *d = strcmp(k, "mjdref") == 0     ? &t->mjdref
                          : strcmp(k, "exposure") == 0 ? &t->exposure
                                                       : &t->resolution;
    d->set = false;
    return v ? f2c__optd(c, key, v, d, ei) : ERR_OK;
}

static enum err set_observable(const struct f2c_ctx *c, const char *key, struct caom_chunk *ch,
                               const char *v, struct err_info *ei)
{
    const char *k = key + strlen("Chunk.observable.");
    if (!v) {
        return ERR_OK;
    }
    NEW(ch->observable);
    struct caom_slice *sl = &ch->observable->dependent;
    if (strncmp(k, "independent.", 12) == 0) {
        NEW(ch->observable->independent);
        sl = ch->observable->independent;
        k += 12;
    } else if (strncmp(k, "dependent.", 10) == 0) {
        k += 10;
    } else if (strncmp(k, "axis.", 5) == 0) {
        /* caom2utils' Chunk.observable.axis.*: the dependent slice */
        if (strcmp(k, "axis.function.refCoord.pix") == 0) {
            return f2c__long(c, key, v, &sl->bin, ei);
        }
    }
    if (strcmp(k, "bin") == 0) {
        return f2c__long(c, key, v, &sl->bin, ei);
    }
    if (strcmp(k, "axis.ctype") == 0 || strcmp(k, "axis.axis.ctype") == 0) {
        return f2c__str(&sl->axis.ctype, v, ei);
    }
    if (strcmp(k, "axis.cunit") == 0 || strcmp(k, "axis.axis.cunit") == 0) {
        return f2c__str(&sl->axis.cunit, v, ei);
    }
    return ERR_OK;
}

static enum err set_index(const struct f2c_ctx *c, const char *key, struct caom_opti *o,
                          const char *v, struct err_info *ei)
{
    o->set = false;
    return v ? f2c__opti(c, key, v, o, ei) : ERR_OK;
}

static enum err apply(const struct f2c_ctx *c, const char *key, struct caom_chunk *ch,
                      const char *v, struct err_info *ei)
{
    const char *k = key + 6; /* after "Chunk." */
    if (!v) {
        /* None for an axis ctype removes that WCS element altogether */
        if (strcmp(k, "energy.axis.axis.ctype") == 0) {
            caom_spectral_wcs_free(ch->energy);
            ch->energy = NULL;
            return ERR_OK;
        }
        if (strcmp(k, "time.axis.axis.ctype") == 0) {
            caom_temporal_wcs_free(ch->time);
            ch->time = NULL;
            return ERR_OK;
        }
        if (strcmp(k, "polarization.axis.axis.ctype") == 0) {
            caom_polarization_wcs_free(ch->polarization);
            ch->polarization = NULL;
            return ERR_OK;
        }
        if (strcmp(k, "custom.axis.axis.ctype") == 0) {
            caom_custom_wcs_free(ch->custom);
            ch->custom = NULL;
            return ERR_OK;
        }
        if (strcmp(k, "position.axis.axis1.ctype") == 0 ||
            strcmp(k, "position.axis.axis2.ctype") == 0) {
            caom_spatial_wcs_free(ch->position);
            ch->position = NULL;
            return ERR_OK;
        }
    }
    if (strcmp(k, "naxis") == 0) {
        return set_index(c, key, &ch->naxis, v, ei);
    }
    if (strcmp(k, "positionAxis1") == 0) {
        return set_index(c, key, &ch->position_axis1, v, ei);
    }
    if (strcmp(k, "positionAxis2") == 0) {
        return set_index(c, key, &ch->position_axis2, v, ei);
    }
    if (strcmp(k, "energyAxis") == 0) {
        return set_index(c, key, &ch->energy_axis, v, ei);
    }
    if (strcmp(k, "timeAxis") == 0) {
        return set_index(c, key, &ch->time_axis, v, ei);
    }
    if (strcmp(k, "polarizationAxis") == 0) {
        return set_index(c, key, &ch->polarization_axis, v, ei);
    }
    if (strcmp(k, "observableAxis") == 0) {
        return set_index(c, key, &ch->observable_axis, v, ei);
    }
    if (strcmp(k, "customAxis") == 0) {
        return set_index(c, key, &ch->custom_axis, v, ei);
    }
    if (strcmp(k, "productType") == 0) {
        return f2c__str(&ch->product_type, v, ei);
    }
    if (strcmp(k, "metaProducer") == 0) {
        return f2c__str(&ch->e.meta_producer, v, ei);
    }
    if (strncmp(k, "position.", 9) == 0) {
        return set_pos(c, key, ch, v, ei);
    }
    if (strncmp(k, "energy.", 7) == 0) {
        return set_energy(c, key, ch, v, ei);
    }
    if (strncmp(k, "time.", 5) == 0) {
        return set_time(c, key, ch, v, ei);
    }
    if (strncmp(k, "polarization.axis.", 18) == 0) {
        if (!v && !ch->polarization) {
            return ERR_OK;
        }
        NEW(ch->polarization);
        return set_axis1d(c, key, k + 18, &ch->polarization->axis, v, ei);
    }
    if (strncmp(k, "custom.axis.", 12) == 0) {
        if (!v && !ch->custom) {
            return ERR_OK;
        }
        NEW(ch->custom);
        return set_axis1d(c, key, k + 12, &ch->custom->axis, v, ei);
    }
    if (strncmp(k, "observable.", 11) == 0) {
        return set_observable(c, key, ch, v, ei);
    }
    return ERR_OK;
}

/* true when the WCS element @p key belongs to exists in @p ch (or the key is not a WCS one) */
static bool wcs_exists(const struct caom_chunk *ch, const char *key)
{
    const char *k = key + 6;
    if (strncmp(k, "position.", 9) == 0) {
        return ch->position != NULL;
    }
    if (strncmp(k, "energy.", 7) == 0) {
        return ch->energy != NULL;
    }
    if (strncmp(k, "time.", 5) == 0) {
        return ch->time != NULL;
    }
    if (strncmp(k, "polarization.", 13) == 0) {
        return ch->polarization != NULL;
    }
    if (strncmp(k, "custom.", 7) == 0) {
        return ch->custom != NULL;
    }
    return true;
}

static bool is_table(const struct fhdr_hdu *h)
{
    const struct fhdr_card *x = fhdr_hdu_find(h, "XTENSION");
    return x && (strcmp(x->value, "BINTABLE") == 0 || strcmp(x->value, "TABLE") == 0 ||
                 strcmp(x->value, "A3DTABLE") == 0);
}

static const struct wcsx_keys *keys_of(const struct f2c_ctx *c, struct wcsx_keys *k)
{
    k->ctx = c;
    k->get_double = f2c__get_double;
    k->get_str = f2c__get;
    return k;
}

/* the chunk elements a blueprint may set, in application order */
static const char *const k_chunk_keys[] = {
#define X(s) "Chunk." s
    X("naxis"), X("positionAxis1"), X("positionAxis2"), X("energyAxis"), X("timeAxis"),
    X("polarizationAxis"), X("observableAxis"), X("customAxis"), X("productType"),
    X("metaProducer"),
#undef X
};

enum err f2c__chunk(const struct f2c_ctx *c, struct caom_chunk **out, struct err_info *ei)
{
    struct caom_chunk *ch = NULL;
    struct wcsx_keys keys;
    struct wcsx_chunk w;
    enum err e = ERR_OK;
    char val[BP_VALUE_MAX];
    *out = NULL;
    const struct bp_rule *inc = bp_get_art(c->bp, "Chunk", c->hdu, c->uri);
    if (inc && inc->kind == BP_LITERAL && strcmp(inc->literal, "{ignore}") == 0) {
        return ERR_OK;
    }
    if (!fhdr_hdu_has_data(c->h) || is_table(c->h)) {
        return ERR_OK;
    }
    e = wcsx_chunk_derive(keys_of(c, &keys), &w, ei);
    if (e == ERR_OK && c->memo && c->memo->err != ERR_OK) {
        e = c->memo->err; /* a Header expression the WCS read failed */
        if (ei) {
            *ei = c->memo->ei;
        }
        return e;
    }
    if (e != ERR_OK) {
        err_prefix(ei, "\"%s\" HDU %d: ", c->file, c->hdu);
        return e;
    }
    ch = caom_chunk_new();
    if (!ch) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    if (!w.has_time && w.axes.naxis >= 2) {
        /* an image without a time axis: caom2pipe's time chunk from MJD-OBS/DATE-OBS+EXPTIME */
        e = wcsx_image_time(&keys, &w.time, ei);
        if (e == ERR_OK) {
            w.has_time = true;
        } else if (e != ERR_NOT_FOUND) {
            err_prefix(ei, "\"%s\" HDU %d: ", c->file, c->hdu);
            goto out;
        }
        e = ERR_OK;
    }
    if ((e = from_wcs(ch, &w, ei)) != ERR_OK) {
        goto out;
    }
    /* user rules: the fixed scalar keys first, then every other Chunk.* rule in file order */
    for (size_t i = 0; i < ARRAY_LEN(k_chunk_keys); i++) {
        const struct bp_rule *r = bp_get_art(c->bp, k_chunk_keys[i], c->hdu, c->uri);
        bool found = false;
        if (!r || !r->user) {
            continue;
        }
        if ((e = f2c__eval_rule(c, r, val, sizeof val, &found, ei)) != ERR_OK) {
            goto out;
        }
        if (found || r->kind == BP_UNSET) {
            if ((e = apply(c, r->key, ch, found ? val : NULL, ei)) != ERR_OK) {
                goto out;
            }
        }
    }
    /* pass 0: rules that define an axis (ctype, function, range, bounds) may create a WCS element; pass 1: the
     * other elements apply only to WCS elements that exist (a bandpassName for an HDU without
     * an energy axis is not an energy axis) */
    for (size_t k = 0; k < 2 * bp_rule_count(c->bp); k++) {
        size_t pass = k / bp_rule_count(c->bp);
        const struct bp_rule *r = bp_rule_at(c->bp, k % bp_rule_count(c->bp));
        bool found = false;
        if (!r->user || strncmp(r->key, "Chunk.", 6) != 0 || !strchr(r->key + 6, '.')) {
            continue; /* not a chunk WCS rule (the scalar Chunk.x keys were applied above) */
        }
        bool defines = str_ends_with(r->key, ".ctype") || strstr(r->key, ".function.") ||
                       strstr(r->key, ".range.") || strstr(r->key, ".bounds.");
        if ((pass == 0) != defines) {
            continue;
        }
        if (bp_get_art(c->bp, r->key, c->hdu, c->uri) != r) {
            continue; /* a rule for another HDU or artifact, or shadowed by a narrower one */
        }
        if (pass == 1 && !wcs_exists(ch, r->key)) {
            continue;
        }
        if ((e = f2c__eval_rule(c, r, val, sizeof val, &found, ei)) != ERR_OK) {
            goto out;
        }
        if (found || r->kind == BP_UNSET) {
            if ((e = apply(c, r->key, ch, found ? val : NULL, ei)) != ERR_OK) {
                goto out;
            }
        }
    }
    /* an energy WCS must carry specsys in CAOM-2.4 */
    if (ch->energy && !ch->energy->specsys && (e = f2c__str(&ch->energy->specsys, "", ei))) {
        goto out;
    }
    *out = ch;
    ch = NULL;
out:
    caom_chunk_free(ch);
    return e;
}
