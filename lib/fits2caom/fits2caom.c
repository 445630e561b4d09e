/* fits2caom.c - observation, plane and artifact metadata from HDU 0 through the blueprint,
 * identities (StorageName), parts and chunks per HDU, content metadata of local files.
 * SPDX-License-Identifier: Apache-2.0 */
#include "fits2caom/f2c_int.h"

#include "core/numparse.h"
#include "core/str.h"
#include "wcs/wcs.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- keyword access ----------------------------------------------------------------------- */

static const char *memo_value(const struct f2c_ctx *c, const struct bp_rule *r, bool *raw)
{
    struct f2c_memo *m = c->memo;
    *raw = false;
    if (!m) {
        *raw = true;
        return NULL;
    }
    for (size_t i = 0; i < m->n; i++) {
        if (m->e[i].r == r && m->e[i].h == c->h) {
            *raw = m->e[i].busy; /* the rule's own keyword inside its expression */
            return m->e[i].val;
        }
    }
    if (m->n >= F2C_MEMO_MAX) {
        if (m->err == ERR_OK) {
            m->err = err_set(&m->ei, ERR_TOO_LARGE, "more than %d Header expression values",
                             F2C_MEMO_MAX);
        }
        return NULL;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        struct f2c_memo_ent *e = realloc(m->e, cap * sizeof *e);
        if (!e) {
            if (m->err == ERR_OK) {
                m->err = err_set(&m->ei, ERR_NOMEM, "out of memory");
            }
            return NULL;
        }
        m->e = e;
        m->cap = cap;
    }
    size_t at = m->n++;
    m->e[at] = (struct f2c_memo_ent){r, c->h, NULL, true};
    char *val = malloc(BP_VALUE_MAX);
    bool found = false;
    struct err_info ei = {0};
    enum err e = val ? f2c__eval_rule(c, r, val, BP_VALUE_MAX, &found, &ei) : ERR_NOMEM;
    if (e != ERR_OK && m->err == ERR_OK) {
        m->err = e;
        m->ei = ei;
        if (e == ERR_NOMEM) {
            err_set(&m->ei, e, "out of memory");
        }
    }
    if (e == ERR_OK && found) {
        m->e[at].val = str_dup(val);
        if (!m->e[at].val && m->err == ERR_OK) {
            m->err = err_set(&m->ei, ERR_NOMEM, "out of memory");
        }
    }
    free(val);
    m->e[at].busy = false;
    return m->e[at].val;
}

const char *f2c__get(const void *ctx, const char *key)
{
    const struct f2c_ctx *c = ctx;
    if (c->overrides) {
        char hk[96];
        size_t kl = strlen(key);
        if (kl + 8 > sizeof hk) {
            return NULL;
        }
        memcpy(hk, "Header.", 7);
        memcpy(hk + 7, key, kl + 1);
        const struct bp_rule *r = bp_get_art(c->bp, hk, c->hdu, c->uri);
        if (r && r->kind == BP_LITERAL) {
            return r->literal;
        }
        if (r && r->kind == BP_UNSET) {
            return NULL;
        }
        if (r && (r->kind == BP_EXPR || r->kind == BP_FUNC || r->kind == BP_LOOKUP)) {
            /* computed keywords; a function or lookup here used to be dropped silently */
            bool raw = false;
            const char *v = memo_value(c, r, &raw);
            if (!raw) {
                return v;
            }
        }
    }
    const struct fhdr_card *card = fhdr_hdu_find(c->h, key);
    if (!card || card->type == FHDR_UNDEF) {
        return NULL;
    }
    return fhdr_card_value(card);
}

static const char *get_hdu(const void *ctx, const char *key, int hdu)
{
    const struct f2c_ctx *c = ctx;
    if (!c->hf || hdu < 0 || (size_t)hdu >= fhdr_file_hdu_count(c->hf)) {
        return NULL;
    }
    struct f2c_ctx o = *c;
    o.hdu = hdu;
    o.h = fhdr_file_hdu(c->hf, (size_t)hdu);
    return f2c__get(&o, key);
}

static const char *get_name(const void *ctx, const char *what)
{
    const struct f2c_ctx *c = ctx;
    if (strcmp(what, "obs_id") == 0) {
        return c->obs_id ? c->obs_id : c->sn ? c->sn->obs_id : NULL;
    }
    if (strcmp(what, "product_id") == 0) {
        return c->product_id ? c->product_id : c->sn ? c->sn->product_id : NULL;
    }
    if (strcmp(what, "file_id") == 0) {
        return c->sn ? c->sn->file_id : NULL;
    }
    if (strcmp(what, "file_name") == 0) {
        return c->file;
    }
    if (strcmp(what, "artifact_uri") == 0) {
        return c->uri ? c->uri : c->sn ? c->sn->artifact_uri : NULL;
    }
    return NULL;
}

/* card i of the HDU in header order, its value after the Header. rules (family()) */
static bool get_card(const void *ctx, size_t i, const char **key, const char **value)
{
    const struct f2c_ctx *c = ctx;
    if (!c->h || i >= c->h->ncards) {
        return false;
    }
    const struct fhdr_card *card = &c->h->cards[i];
    char hk[96];
    *key = card->key;
    *value = card->type == FHDR_UNDEF ? NULL : fhdr_card_value(card);
    if (c->overrides && card->key[0] &&
        snprintf(hk, sizeof hk, "Header.%s", card->key) < (int)sizeof hk &&
        bp_get_art(c->bp, hk, c->hdu, c->uri)) {
        *value = f2c__get(c, card->key); /* a Header. rule: its value, or none */
    }
    return true;
}

void f2c__keys(const struct f2c_ctx *c, struct bp_keys *k)
{
    *k = (struct bp_keys){.ctx = c, .get = f2c__get, .get_hdu = get_hdu, .name = get_name,
                          .card = get_card, .hdu = c->hdu, .uri = c->uri, .vars = c->vars};
}

enum err f2c__eval_rule(const struct f2c_ctx *c, const struct bp_rule *r, char *out, size_t cap,
                        bool *found, struct err_info *ei)
{
    struct bp_keys k;
    struct bp_explain ex;
    bool explain = c->opts && c->opts->explain && r->user;
    f2c__keys(c, &k);
    ex.n = 0;
    enum err e = bp_eval_explain(r, &k, out, cap, found, explain ? &ex : NULL, ei);
    if (e == ERR_OK && c->memo && c->memo->err != ERR_OK) {
        /* a Header expression this rule read failed: that is this rule's error */
        e = c->memo->err;
        if (ei) {
            *ei = c->memo->ei;
        }
    }
    if (e == ERR_OK && explain) {
        for (size_t i = 0; i < ex.n; i++) {
            if (ex.none[i] != r) {
                c->opts->explain(c->opts->explain_ctx, c->file, c->hdu, ex.none[i], NULL);
            }
        }
        c->opts->explain(c->opts->explain_ctx, c->file, c->hdu, r, *found ? out : NULL);
    }
    return e;
}

bool f2c__get_double(const void *ctx, const char *key, double *out)
{
    const char *v = f2c__get(ctx, key);
    if (!v || !*v) {
        return false;
    }
    return numparse_double(v, out) == ERR_OK;
}

/* ---- StorageName -------------------------------------------------------------------------- */

static void strip_suffix(char *s, const char *sfx)
{
    size_t n = strlen(s);
    size_t k = strlen(sfx);
    if (n > k && strcmp(s + n - k, sfx) == 0) {
        s[n - k] = '\0';
    }
}

enum err f2c_storage_name(const char *path, const char *collection, const char *scheme,
                          struct f2c_names *out, struct err_info *ei)
{
    const char *base = strrchr(path, '/');
    char name[F2C_NAME_MAX];
    base = base ? base + 1 : path;
    if (!*base || !str_copy(name, sizeof name, base)) {
        return err_set(ei, ERR_INVALID, "cannot derive identities from file name \"%s\"", path);
    }
    /* artifact: without .gz, .bz2, .header */
    char art[F2C_NAME_MAX];
    str_copy(art, sizeof art, name);
    strip_suffix(art, ".header");
    strip_suffix(art, ".gz");
    strip_suffix(art, ".bz2");
    /* file id: without .header, .gz, .bz2, .fz, .fits */
    char id[F2C_NAME_MAX];
    str_copy(id, sizeof id, art);
    strip_suffix(id, ".fz");
    strip_suffix(id, ".fits");
    strip_suffix(id, ".fit");
    if (!*id) {
        return err_set(ei, ERR_INVALID, "cannot derive identities from file name \"%s\"", path);
    }
    str_copy(out->file_id, sizeof out->file_id, id);
    str_copy(out->obs_id, sizeof out->obs_id, id);
    str_copy(out->product_id, sizeof out->product_id, id);
    int k = snprintf(out->artifact_uri, sizeof out->artifact_uri, "%s:%s/%s",
                     scheme ? scheme : "cadc", collection ? collection : "", art);
    if (k < 0 || (size_t)k >= sizeof out->artifact_uri) {
        return err_set(ei, ERR_INVALID, "artifact URI for \"%s\" is too long", path);
    }
    return ERR_OK;
}

/* ---- observation / plane / artifact elements --------------------------------------------- */

enum lvl { L_OBS, L_PLANE, L_ART };

static const struct {
    const char *key;
    enum lvl lvl;
} k_meta[] = {
    {"Observation.type", L_OBS}, {"Observation.intent", L_OBS},
    {"Observation.sequenceNumber", L_OBS}, {"Observation.metaRelease", L_OBS},
    {"Observation.metaReadGroups", L_OBS}, {"Observation.metaProducer", L_OBS},
    {"Observation.requirements.flag", L_OBS}, {"Observation.algorithm.name", L_OBS},
    {"Observation.instrument.name", L_OBS}, {"Observation.instrument.keywords", L_OBS},
    {"Observation.proposal.id", L_OBS}, {"Observation.proposal.pi", L_OBS},
    {"Observation.proposal.project", L_OBS}, {"Observation.proposal.title", L_OBS},
    {"Observation.proposal.keywords", L_OBS}, {"Observation.target.name", L_OBS},
    {"Observation.target.type", L_OBS}, {"Observation.target.standard", L_OBS},
    {"Observation.target.redshift", L_OBS}, {"Observation.target.keywords", L_OBS},
    {"Observation.target.moving", L_OBS}, {"Observation.target.targetID", L_OBS},
    {"Observation.target_position.point.cval1", L_OBS},
    {"Observation.target_position.point.cval2", L_OBS},
    {"Observation.target_position.coordsys", L_OBS},
    {"Observation.target_position.equinox", L_OBS}, {"Observation.telescope.name", L_OBS},
    {"Observation.telescope.geoLocationX", L_OBS}, {"Observation.telescope.geoLocationY", L_OBS},
    {"Observation.telescope.geoLocationZ", L_OBS}, {"Observation.telescope.keywords", L_OBS},
    {"Observation.environment.seeing", L_OBS}, {"Observation.environment.humidity", L_OBS},
    {"Observation.environment.elevation", L_OBS}, {"Observation.environment.tau", L_OBS},
    {"Observation.environment.wavelengthTau", L_OBS},
    {"Observation.environment.ambientTemp", L_OBS},
    {"Observation.environment.photometric", L_OBS}, {"DerivedObservation.members", L_OBS},
    {"CompositeObservation.members", L_OBS},
    {"Plane.metaRelease", L_PLANE}, {"Plane.dataRelease", L_PLANE},
    {"Plane.dataProductType", L_PLANE}, {"Plane.calibrationLevel", L_PLANE},
    {"Plane.dataQuality", L_PLANE}, {"Plane.metaReadGroups", L_PLANE},
    {"Plane.dataReadGroups", L_PLANE}, {"Plane.metaProducer", L_PLANE},
    {"Plane.provenance.name", L_PLANE}, {"Plane.provenance.version", L_PLANE},
    {"Plane.provenance.project", L_PLANE}, {"Plane.provenance.producer", L_PLANE},
    {"Plane.provenance.runID", L_PLANE}, {"Plane.provenance.reference", L_PLANE},
    {"Plane.provenance.lastExecuted", L_PLANE}, {"Plane.provenance.keywords", L_PLANE},
    {"Plane.provenance.inputs", L_PLANE}, {"Plane.metrics.sourceNumberDensity", L_PLANE},
    {"Plane.metrics.background", L_PLANE}, {"Plane.metrics.backgroundStddev", L_PLANE},
    {"Plane.metrics.fluxDensityLimit", L_PLANE}, {"Plane.metrics.magLimit", L_PLANE},
    {"Plane.metrics.sampleSNR", L_PLANE}, {"Plane.observable.ucd", L_PLANE},
    {"Artifact.productType", L_ART}, {"Artifact.releaseType", L_ART},
    {"Artifact.contentChecksum", L_ART}, {"Artifact.contentLength", L_ART},
    {"Artifact.contentType", L_ART}, {"Artifact.contentRelease", L_ART},
    {"Artifact.contentReadGroups", L_ART}, {"Artifact.metaProducer", L_ART},
};

/* Staging records: required fields of optional objects may arrive in any order, so objects
 * are completed after every value is known and dropped when a required field is missing. */
struct obs_stage {
    struct caom_proposal prop;
    struct caom_target tgt;
    struct caom_target_position tpos;
    bool tpos_c1, tpos_c2;
    struct caom_telescope tel;
    struct caom_instrument ins;
    struct caom_environment env;
    bool env_any;
    struct caom_provenance prov;
    struct caom_metrics met;
    bool met_any;
};

static enum err set_obs(const struct f2c_ctx *c, struct caom_observation *o,
                        struct obs_stage *s, const char *key, const char *v, struct err_info *ei)
{
    const char *k = key + strlen("Observation.");
    if (strncmp(key, "DerivedObservation.", 19) == 0 ||
        strncmp(key, "CompositeObservation.", 21) == 0) {
        return f2c__list(v, true, &o->members, ei);
    }
    if (strcmp(k, "type") == 0) {
        return f2c__str(&o->type, v, ei);
    }
    if (strcmp(k, "intent") == 0) {
        if (strcasecmp(v, "science") == 0) {
            o->intent = CAOM_INTENT_SCIENCE;
        } else if (strcasecmp(v, "calibration") == 0) {
            o->intent = CAOM_INTENT_CALIBRATION;
        } else {
            return f2c__bad(ei, c, key, "unrecognized intent", v);
        }
        return ERR_OK;
    }
    if (strcmp(k, "sequenceNumber") == 0) {
        return f2c__opti(c, key, v, &o->sequence_number, ei);
    }
    if (strcmp(k, "metaRelease") == 0) {
        return f2c__date(c, key, v, &o->meta_release, ei);
    }
    if (strcmp(k, "metaReadGroups") == 0) {
        return f2c__list(v, true, &o->meta_read_groups, ei);
    }
    if (strcmp(k, "metaProducer") == 0) {
        return f2c__str(&o->e.meta_producer, v, ei);
    }
    if (strcmp(k, "requirements.flag") == 0) {
        if (strcasecmp(v, "fail") != 0) {
            return f2c__bad(ei, c, key, "unrecognized requirements flag", v);
        }
        o->requirements = CAOM_STATUS_FAIL;
        return ERR_OK;
    }
    if (strcmp(k, "algorithm.name") == 0) {
        return f2c__str(&o->algorithm_name, v, ei);
    }
    if (strcmp(k, "instrument.name") == 0) {
        return f2c__str(&s->ins.name, v, ei);
    }
    if (strcmp(k, "instrument.keywords") == 0) {
        return f2c__list(v, true, &s->ins.keywords, ei);
    }
    if (strncmp(k, "proposal.", 9) == 0) {
        const char *x = k + 9;
        if (strcmp(x, "keywords") == 0) {
            return f2c__list(v, true, &s->prop.keywords, ei);
        }
        char **d = strcmp(x, "id") == 0        ? &s->prop.id
                   : strcmp(x, "pi") == 0      ? &s->prop.pi
                   : strcmp(x, "project") == 0 ? &s->prop.project
                                               : &s->prop.title;
        return f2c__str(d, v, ei);
    }
    if (strncmp(k, "target.", 7) == 0) {
        const char *x = k + 7;
        if (strcmp(x, "name") == 0) {
            return f2c__str(&s->tgt.name, v, ei);
        }
        if (strcmp(x, "targetID") == 0) {
            return f2c__str(&s->tgt.target_id, v, ei);
        }
        if (strcmp(x, "type") == 0) {
            if (strcasecmp(v, "object") == 0) {
                s->tgt.type = CAOM_TARGET_OBJECT;
            } else if (strcasecmp(v, "field") == 0) {
                s->tgt.type = CAOM_TARGET_FIELD;
            } else {
                return f2c__bad(ei, c, key, "unrecognized target type", v);
            }
            return ERR_OK;
        }
        if (strcmp(x, "standard") == 0) {
            return f2c__bool(c, key, v, &s->tgt.standard, ei);
        }
        if (strcmp(x, "moving") == 0) {
            return f2c__bool(c, key, v, &s->tgt.moving, ei);
        }
        if (strcmp(x, "redshift") == 0) {
            return f2c__optd(c, key, v, &s->tgt.redshift, ei);
        }
        return f2c__list(v, true, &s->tgt.keywords, ei);
    }
    if (strncmp(k, "target_position.", 16) == 0) {
        const char *x = k + 16;
        if (strcmp(x, "coordsys") == 0) {
            return f2c__str(&s->tpos.coordsys, v, ei);
        }
        if (strcmp(x, "equinox") == 0) {
            return f2c__optd(c, key, v, &s->tpos.equinox, ei);
        }
        if (strcmp(x, "point.cval1") == 0) {
            s->tpos_c1 = true;
            return f2c__dbl(c, key, v, &s->tpos.coordinates.cval1, ei);
        }
        s->tpos_c2 = true;
        return f2c__dbl(c, key, v, &s->tpos.coordinates.cval2, ei);
    }
    if (strncmp(k, "telescope.", 10) == 0) {
        const char *x = k + 10;
        if (strcmp(x, "name") == 0) {
            return f2c__str(&s->tel.name, v, ei);
        }
        if (strcmp(x, "keywords") == 0) {
            return f2c__list(v, true, &s->tel.keywords, ei);
        }
        struct caom_optd *d = strcmp(x, "geoLocationX") == 0   ? &s->tel.geo_x
                              : strcmp(x, "geoLocationY") == 0 ? &s->tel.geo_y
                                                               : &s->tel.geo_z;
        return f2c__optd(c, key, v, d, ei);
    }
    if (strncmp(k, "environment.", 12) == 0) {
        const char *x = k + 12;
        s->env_any = true;
        if (strcmp(x, "photometric") == 0) {
            return f2c__bool(c, key, v, &s->env.photometric, ei);
        }
        struct caom_optd *d = strcmp(x, "seeing") == 0          ? &s->env.seeing
                              : strcmp(x, "humidity") == 0      ? &s->env.humidity
                              : strcmp(x, "elevation") == 0     ? &s->env.elevation
                              : strcmp(x, "tau") == 0           ? &s->env.tau
                              : strcmp(x, "wavelengthTau") == 0 ? &s->env.wavelength_tau
                                                                : &s->env.ambient_temp;
        return f2c__optd(c, key, v, d, ei);
    }
    return ERR_OK;
}

static enum err set_plane(const struct f2c_ctx *c, struct caom_plane *p, struct obs_stage *s,
                          const char *key, const char *v, struct err_info *ei)
{
    const char *k = key + strlen("Plane.");
    if (strcmp(k, "metaRelease") == 0) {
        return f2c__date(c, key, v, &p->meta_release, ei);
    }
    if (strcmp(k, "dataRelease") == 0) {
        return f2c__date(c, key, v, &p->data_release, ei);
    }
    if (strcmp(k, "dataProductType") == 0) {
        return f2c__str(&p->data_product_type, v, ei);
    }
    if (strcmp(k, "calibrationLevel") == 0) {
        TRY(f2c__opti(c, key, v, &p->calibration_level, ei));
        if (p->calibration_level.v < -1 || p->calibration_level.v > 4) {
            return f2c__bad(ei, c, key, "calibration level out of range -1..4", v);
        }
        return ERR_OK;
    }
    if (strcmp(k, "dataQuality") == 0) {
        if (strcasecmp(v, "junk") != 0) {
            return f2c__bad(ei, c, key, "unrecognized quality flag", v);
        }
        p->quality = CAOM_QUALITY_JUNK;
        return ERR_OK;
    }
    if (strcmp(k, "metaReadGroups") == 0) {
        return f2c__list(v, true, &p->meta_read_groups, ei);
    }
    if (strcmp(k, "dataReadGroups") == 0) {
        return f2c__list(v, true, &p->data_read_groups, ei);
    }
    if (strcmp(k, "metaProducer") == 0) {
        return f2c__str(&p->e.meta_producer, v, ei);
    }
    if (strcmp(k, "observable.ucd") == 0) {
        return f2c__str(&p->observable_ucd, v, ei);
    }
    if (strncmp(k, "provenance.", 11) == 0) {
        const char *x = k + 11;
        if (strcmp(x, "lastExecuted") == 0) {
            return f2c__date(c, key, v, &s->prov.last_executed, ei);
        }
        if (strcmp(x, "keywords") == 0) {
            return f2c__list(v, true, &s->prov.keywords, ei);
        }
        if (strcmp(x, "inputs") == 0) {
            return f2c__list(v, true, &s->prov.inputs, ei);
        }
        char **d = strcmp(x, "name") == 0       ? &s->prov.name
                   : strcmp(x, "version") == 0  ? &s->prov.version
                   : strcmp(x, "project") == 0  ? &s->prov.project
                   : strcmp(x, "producer") == 0 ? &s->prov.producer
                   : strcmp(x, "runID") == 0    ? &s->prov.run_id
                                                : &s->prov.reference;
        return f2c__str(d, v, ei);
    }
    if (strncmp(k, "metrics.", 8) == 0) {
        const char *x = k + 8;
        s->met_any = true;
        struct caom_optd *d = strcmp(x, "sourceNumberDensity") == 0 ? &s->met.source_number_density
                              : strcmp(x, "background") == 0        ? &s->met.background
                              : strcmp(x, "backgroundStddev") == 0  ? &s->met.background_stddev
                              : strcmp(x, "fluxDensityLimit") == 0  ? &s->met.flux_density_limit
                              : strcmp(x, "magLimit") == 0          ? &s->met.mag_limit
                                                                    : &s->met.sample_snr;
        return f2c__optd(c, key, v, d, ei);
    }
    return ERR_OK;
}

static enum err set_artifact(const struct f2c_ctx *c, struct caom_artifact *a, const char *key,
                             const char *v, struct err_info *ei)
{
    const char *k = key + strlen("Artifact.");
    if (strcmp(k, "productType") == 0) {
        return f2c__str(&a->product_type, v, ei);
    }
    if (strcmp(k, "releaseType") == 0) {
        if (strcasecmp(v, "data") == 0) {
            a->release_type = CAOM_RELEASE_DATA;
        } else if (strcasecmp(v, "meta") == 0) {
            a->release_type = CAOM_RELEASE_META;
        } else {
            return f2c__bad(ei, c, key, "unrecognized release type", v);
        }
        return ERR_OK;
    }
    if (strcmp(k, "contentChecksum") == 0) {
        return f2c__str(&a->content_checksum, v, ei);
    }
    if (strcmp(k, "contentLength") == 0) {
        int64_t l;
        TRY(f2c__long(c, key, v, &l, ei));
        a->content_length = caom_l(l);
        return ERR_OK;
    }
    if (strcmp(k, "contentType") == 0) {
        return f2c__str(&a->content_type, v, ei);
    }
    if (strcmp(k, "contentRelease") == 0) {
        return f2c__date(c, key, v, &a->content_release, ei);
    }
    if (strcmp(k, "contentReadGroups") == 0) {
        return f2c__list(v, true, &a->content_read_groups, ei);
    }
    return f2c__str(&a->e.meta_producer, v, ei);
}

/* Move a staged object into place when its required fields are present. */
static enum err finish_obs(struct caom_observation *o, struct caom_plane *p, struct obs_stage *s,
                           struct err_info *ei)
{
#define TAKE(dst, src, ok)                                                                         \
    do {                                                                                           \
        if (ok) {                                                                                  \
            (dst) = malloc(sizeof *(dst));                                                         \
            if (!(dst)) {                                                                          \
                return err_set(ei, ERR_NOMEM, "out of memory");                                    \
            }                                                                                      \
            *(dst) = (src);                                                                        \
            memset(&(src), 0, sizeof(src));                                                        \
        }                                                                                          \
    } while (0)
    TAKE(o->proposal, s->prop, s->prop.id != NULL);
    TAKE(o->target, s->tgt, s->tgt.name != NULL);
    TAKE(o->target_position, s->tpos, s->tpos.coordsys && s->tpos_c1 && s->tpos_c2);
    TAKE(o->telescope, s->tel, s->tel.name != NULL);
    TAKE(o->instrument, s->ins, s->ins.name != NULL);
    TAKE(o->environment, s->env, s->env_any);
    TAKE(p->provenance, s->prov, s->prov.name != NULL);
    TAKE(p->metrics, s->met, s->met_any);
#undef TAKE
    return ERR_OK;
}

static void stage_clear(struct obs_stage *s)
{
    free(s->prop.id);
    free(s->prop.pi);
    free(s->prop.project);
    free(s->prop.title);
    caom_strlist_clear(&s->prop.keywords);
    free(s->tgt.name);
    free(s->tgt.target_id);
    caom_strlist_clear(&s->tgt.keywords);
    free(s->tpos.coordsys);
    free(s->tel.name);
    caom_strlist_clear(&s->tel.keywords);
    free(s->ins.name);
    caom_strlist_clear(&s->ins.keywords);
    free(s->prov.name);
    free(s->prov.version);
    free(s->prov.project);
    free(s->prov.producer);
    free(s->prov.run_id);
    free(s->prov.reference);
    caom_strlist_clear(&s->prov.keywords);
    caom_strlist_clear(&s->prov.inputs);
}

/* ---- content metadata --------------------------------------------------------------------- */

static enum err content_md5(const char *path, struct caom_artifact *a, struct err_info *ei)
{
    FILE *fp = fopen(path, "rb");
    unsigned char buf[65536];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int64_t total = 0;
    enum err e = ERR_OK;
    EVP_MD_CTX *ctx = NULL;
    if (!fp) {
        return err_set(ei, ERR_IO, "could not open \"%s\": %s", path, ERR_ERRNO(errno));
    }
    ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1) {
        e = err_set(ei, ERR_NOMEM, "could not start an MD5 digest");
        goto out;
    }
    for (;;) {
        size_t r = fread(buf, 1, sizeof buf, fp);
        if (r > 0 && EVP_DigestUpdate(ctx, buf, r) != 1) {
            e = err_set(ei, ERR_INTERNAL, "MD5 digest failed");
            goto out;
        }
        total += (int64_t)r;
        if (r < sizeof buf) {
            if (ferror(fp)) {
                e = err_set(ei, ERR_IO, "could not read \"%s\"", path);
                goto out;
            }
            break;
        }
    }
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 16) {
        e = err_set(ei, ERR_INTERNAL, "MD5 digest failed");
        goto out;
    }
    char hex[4 + 32 + 1] = "md5:";
    for (unsigned i = 0; i < 16; i++) {
        snprintf(hex + 4 + 2 * i, 3, "%02x", md[i]);
    }
    /* values the blueprint gave win: fill only what is missing */
    if (!a->content_checksum && (e = f2c__str(&a->content_checksum, hex, ei)) != ERR_OK) {
        goto out;
    }
    if (!a->content_length.set) {
        a->content_length = caom_l(total);
    }
out:
    EVP_MD_CTX_free(ctx);
    fclose(fp);
    return e;
}

/* ---- build -------------------------------------------------------------------------------- */

static bool is_fits_name(const char *uri)
{
    return strstr(uri, ".fits") != NULL || strstr(uri, ".fit") != NULL ||
           str_ends_with(uri, ".fz");
}

/* Evaluate the user or default rule for @p key in HDU @p hdu. */
static enum err eval(const struct f2c_ctx *c, const char *key, char *out, size_t cap,
                     bool *found, const struct bp_rule **rule, struct err_info *ei)
{
    const struct bp_rule *r = bp_get_art(c->bp, key, c->hdu, c->uri);
    *found = false;
    if (rule) {
        *rule = r;
    }
    if (!r) {
        return ERR_OK;
    }
    enum err e = f2c__eval_rule(c, r, out, cap, found, ei);
    if (e != ERR_OK && e != ERR_NOMEM && ei && !strstr(ei->msg, "\"")) {
        err_prefix(ei, "\"%s\": ", c->file);
    }
    return e;
}

static enum err identity(const struct f2c_ctx *c, const char *key, const char *given,
                         const char *fallback, char *out, size_t cap, struct err_info *ei)
{
    const struct bp_rule *r = NULL;
    bool found = false;
    if (given) {
        if (!str_copy(out, cap, given)) {
            return err_set(ei, ERR_INVALID, "%s is too long", key);
        }
        return ERR_OK;
    }
    TRY(eval(c, key, out, cap, &found, &r, ei));
    if (found && r && r->user) {
        return ERR_OK;
    }
    str_copy(out, cap, fallback);
    return ERR_OK;
}

/* Whether the observation is a DerivedObservation: when the blueprint has a
 * DerivedObservation./CompositeObservation. rule; when every such rule is an expression (":=",
 * e.g. members from a keyword family), only when one of them yields a value (a collection
 * blueprint can hold the rule for its composites and its simple observations alike). */
enum derived_mode { D_SIMPLE, D_DERIVED, D_BY_MEMBERS };

static enum derived_mode derived_mode(const struct bp *bp)
{
    bool any = false, exprs = true;
    for (size_t i = 0; i < bp_rule_count(bp); i++) {
        const struct bp_rule *r = bp_rule_at(bp, i);
        if (strncmp(r->key, "DerivedObservation.", 19) == 0 ||
            strncmp(r->key, "CompositeObservation.", 21) == 0) {
            any = true;
            exprs = exprs && r->kind == BP_EXPR;
        }
    }
    return !any ? D_SIMPLE : exprs ? D_BY_MEMBERS : D_DERIVED;
}

/* An image HDU: the primary HDU, an IMAGE extension, or a tile-compressed image. */
static bool is_image_hdu(const struct fhdr_hdu *h)
{
    const struct fhdr_card *x = fhdr_hdu_find(h, "XTENSION");
    const struct fhdr_card *z = fhdr_hdu_find(h, "ZIMAGE");
    return h->index == 0 || !x || strcmp(x->value, "IMAGE") == 0 ||
           (z && z->type == FHDR_LOGICAL && strcmp(z->value, "T") == 0);
}

/* The structure rule "Part" for the HDU of @p c: whether it becomes a part. No rule, or a rule
 * with no value, keeps every HDU (caom2utils: one part per HDU). */
static enum err part_wanted(const struct f2c_ctx *c, bool *keep, struct err_info *ei)
{
    char val[256];
    bool found = false;
    const struct bp_rule *r = NULL;
    *keep = true;
    TRY(eval(c, "Part", val, sizeof val, &found, &r, ei));
    if (!found || strcasecmp(val, "all") == 0 || strcasecmp(val, "include") == 0 ||
        strcasecmp(val, "true") == 0 || strcmp(val, "T") == 0) {
        return ERR_OK;
    }
    if (strcasecmp(val, "image") == 0) {
        *keep = is_image_hdu(c->h);
        return ERR_OK;
    }
    if (strcasecmp(val, "false") == 0 || strcmp(val, "F") == 0 ||
        strcmp(val, "{ignore}") == 0 || strcasecmp(val, "ignore") == 0) {
        *keep = false;
        return ERR_OK;
    }
    return err_set_field(ei, ERR_INVALID, "Part", "blueprint \"%s\" line %d: Part: \"%s\" is "
                         "not a part rule (all, image, false, or an expression yielding one of "
                         "them) for \"%s\" HDU %d", r->file, r->line, val, c->file, c->hdu);
}

static bool bad_identity(const char *s)
{
    return *s == '\0' || strpbrk(s, " /\\%") != NULL;
}

/* A plane being built: its plane-level staged values and which of them are known. */
struct plane_slot {
    struct caom_plane *p; /* owned until added to the observation */
    struct obs_stage st;  /* provenance and metrics */
    bool seen[ARRAY_LEN(k_meta)];
};

#define F2C_SLOTS_LOCAL 4 /* planes without a heap allocation */

/* The product ID of input @p c: the user's Plane.productID rule evaluated for this file when
 * @p per_file (the naming rule makes planes), else @p prod_id. */
static enum err file_product_id(const struct f2c_ctx *c, bool per_file, const char *prod_id,
                                char *out, size_t cap, struct err_info *ei)
{
    if (!per_file) {
        str_copy(out, cap, prod_id);
        return ERR_OK;
    }
    struct f2c_ctx fc = *c;
    fc.product_id = NULL; /* product_id() inside the rule: this file's StorageName */
    TRY(identity(&fc, "Plane.productID", NULL, fc.sn->product_id, out, cap, ei));
    if (bad_identity(out)) {
        return err_set(ei, ERR_INVALID, "invalid productID \"%s\" for \"%s\" (may not be empty "
                       "or contain space, /, \\ or %%)", out, c->file);
    }
    return ERR_OK;
}

enum err f2c_build(const struct bp *bp, const struct f2c_opts *opts, const struct f2c_input *in,
                   size_t n, struct caom_observation **out, struct err_info *ei)
{
    struct caom_observation *o = NULL;
    struct plane_slot local[F2C_SLOTS_LOCAL];
    struct plane_slot *slots = local;
    size_t nslots = 0;
    struct caom_artifact *a = NULL;
    struct caom_part *part = NULL;
    struct caom_chunk *ch = NULL;
    struct obs_stage st;
    struct f2c_names names;
    char obs_id[F2C_NAME_MAX];
    char prod_id[F2C_NAME_MAX];
    char val[BP_VALUE_MAX];
    enum err e = ERR_OK;
    bool seen[ARRAY_LEN(k_meta)];
    struct f2c_memo memo;
    struct bp_varcache *vars = NULL;
    memset(&memo, 0, sizeof memo);
    memset(&st, 0, sizeof st);
    memset(seen, 0, sizeof seen);
    if (n > F2C_SLOTS_LOCAL && !(slots = calloc(n, sizeof *slots))) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    if (!opts->collection || bad_identity(opts->collection)) {
        e = err_set_field(ei, ERR_INVALID, "collection", "invalid collection \"%s\"",
                          opts->collection ? opts->collection : "");
        goto out;
    }
    if (n == 0) {
        e = err_set(ei, ERR_INVALID, "no input files");
        goto out;
    }
    bool overrides = bp_has_prefix(bp, "Header.");
    const char *name0 = fhdr_file_name(in[0].headers);
    if ((e = f2c_storage_name(in[0].path ? in[0].path : name0, opts->collection, opts->scheme,
                              &names, ei)) != ERR_OK) {
        goto out;
    }
    if (bp_varcache_new(&vars) != ERR_OK) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    struct f2c_ctx c0 = {.file = name0, .hdu = 0, .h = fhdr_file_hdu(in[0].headers, 0),
                         .bp = bp, .overrides = overrides, .uri = NULL, .hf = in[0].headers,
                         .sn = &names, .memo = &memo, .vars = vars, .opts = opts};
    if ((e = identity(&c0, "Observation.observationID", opts->observation_id, names.obs_id, obs_id,
                      sizeof obs_id, ei)) != ERR_OK ||
        (e = identity(&c0, "Plane.productID", opts->product_id, names.product_id, prod_id,
                      sizeof prod_id, ei)) != ERR_OK) {
        goto out;
    }
    if (bad_identity(obs_id) || bad_identity(prod_id)) {
        e = err_set(ei, ERR_INVALID, "invalid identity: observationID \"%s\", productID \"%s\" "
                    "(may not be empty or contain space, /, \\ or %%)", obs_id, prod_id);
        goto out;
    }
    enum derived_mode dm = derived_mode(bp);
    bool derived = dm == D_DERIVED;
    bool algo_default = false; /* the algorithm name is the default rule's "exposure" */
    bool members = false;      /* a members rule yielded a value */
    o = caom_observation_new(derived ? CAOM_OBS_DERIVED : CAOM_OBS_SIMPLE, opts->collection,
                             obs_id);
    if (!o) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    /* planes by the naming rule: a user rule for Plane.productID is evaluated for each file,
     * the files with the same product ID make one plane (without one: one plane) */
    const struct bp_rule *pid_rule = bp_get_art(bp, "Plane.productID", 0, NULL);
    bool per_file = !opts->product_id && pid_rule && pid_rule->user;
    o->intent = CAOM_INTENT_SCIENCE;
    for (size_t f = 0; f < n; f++) {
        const struct fhdr_file *hf = in[f].headers;
        const char *fname = fhdr_file_name(hf);
        struct f2c_names fn;
        if ((e = f2c_storage_name(in[f].path ? in[f].path : fname, opts->collection, opts->scheme,
                                  &fn, ei)) != ERR_OK) {
            goto out;
        }
        const char *uri = in[f].artifact_uri ? in[f].artifact_uri : fn.artifact_uri;
        char fpid[F2C_NAME_MAX];
        struct f2c_ctx c = {.file = fname, .hdu = 0, .h = fhdr_file_hdu(hf, 0), .bp = bp,
                            .overrides = overrides, .uri = uri, .hf = hf, .sn = &fn,
                            .obs_id = obs_id, .product_id = fpid, .memo = &memo,
                            .vars = vars, .opts = opts};
        if ((e = file_product_id(&c, per_file, prod_id, fpid, sizeof fpid, ei)) != ERR_OK) {
            goto out;
        }
        struct plane_slot *sl = NULL;
        for (size_t i = 0; i < nslots && !sl; i++) {
            sl = strcmp(slots[i].p->product_id, fpid) == 0 ? &slots[i] : NULL;
        }
        if (!sl) {
            sl = &slots[nslots];
            memset(sl, 0, sizeof *sl);
            if (!(sl->p = caom_plane_new(fpid))) {
                e = err_set(ei, ERR_NOMEM, "out of memory");
                goto out;
            }
            nslots++;
        }
        a = caom_artifact_new(uri, NULL, CAOM_RELEASE_DATA);
        if (!a) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < ARRAY_LEN(k_meta); i++) {
            const struct bp_rule *r = NULL;
            bool found = false;
            bool *known = k_meta[i].lvl == L_PLANE ? sl->seen : seen;
            if (k_meta[i].lvl != L_ART && known[i]) {
                continue; /* observation/plane values: the first input that has one wins */
            }
            if ((e = eval(&c, k_meta[i].key, val, sizeof val, &found, &r, ei)) != ERR_OK) {
                goto out;
            }
            if (!found) {
                continue;
            }
            known[i] = true;
            switch (k_meta[i].lvl) {
            case L_OBS:
                if (strcmp(k_meta[i].key, "Observation.algorithm.name") == 0 && !r->user &&
                    strcmp(val, "exposure") == 0) {
                    algo_default = true;
                    if (derived) {
                        str_copy(val, sizeof val, "composite");
                    }
                }
                members = members || strstr(k_meta[i].key, "Observation.members") != NULL;
                e = set_obs(&c, o, &st, k_meta[i].key, val, ei);
                break;
            case L_PLANE: e = set_plane(&c, sl->p, &sl->st, k_meta[i].key, val, ei); break;
            case L_ART: e = set_artifact(&c, a, k_meta[i].key, val, ei); break;
            }
            if (e != ERR_OK) {
                goto out;
            }
        }
        if (!a->product_type && (e = f2c__str(&a->product_type, "science", ei)) != ERR_OK) {
            goto out;
        }
        if (!a->content_type && is_fits_name(uri) &&
            (e = f2c__str(&a->content_type, "application/fits", ei)) != ERR_OK) {
            goto out;
        }
        if (opts->content_metadata && (in[f].content_length != 0 || in[f].content_checksum)) {
            /* what the storage reported: nothing is measured from the file */
            if (in[f].content_length > 0) {
                a->content_length = caom_l(in[f].content_length);
            }
            if (in[f].content_checksum && !a->content_checksum &&
                (e = f2c__str(&a->content_checksum, in[f].content_checksum, ei)) != ERR_OK) {
                goto out;
            }
        } else if (opts->content_metadata && in[f].path &&
                   (!a->content_checksum || !a->content_length.set) &&
                   (e = content_md5(in[f].path, a, ei)) != ERR_OK) {
            goto out;
        }
        for (size_t h = 0; h < fhdr_file_hdu_count(hf); h++) {
            char pname[16];
            struct f2c_ctx ch_ctx = c;
            ch_ctx.hdu = (int)h;
            ch_ctx.h = fhdr_file_hdu(hf, h);
            bool found = false;
            bool keep = true;
            if ((e = part_wanted(&ch_ctx, &keep, ei)) != ERR_OK) {
                goto out;
            }
            if (!keep) {
                continue; /* the structure rule leaves this HDU out */
            }
            snprintf(pname, sizeof pname, "%zu", h);
            part = caom_part_new(pname);
            if (!part) {
                e = err_set(ei, ERR_NOMEM, "out of memory");
                goto out;
            }
            if ((e = eval(&ch_ctx, "Part.productType", val, sizeof val, &found, NULL, ei)) ||
                (found && (e = f2c__str(&part->product_type, val, ei)))) {
                goto out;
            }
            if ((e = f2c__chunk(&ch_ctx, &ch, ei)) != ERR_OK) {
                goto out;
            }
            if (ch) {
                if ((e = caom_part_add_chunk(part, ch)) != ERR_OK) {
                    err_set(ei, e, "too many chunks");
                    goto out;
                }
                ch = NULL;
            }
            if ((e = caom_artifact_add_part(a, part)) != ERR_OK) {
                err_set(ei, e, "too many parts in \"%s\"", fname);
                goto out;
            }
            part = NULL;
        }
        for (size_t i = 0; i < nslots; i++) {
            if (caom_plane_find_artifact(slots[i].p, a->uri)) {
                e = err_set(ei, ERR_INVALID, "artifact URI \"%s\" given twice", a->uri);
                goto out;
            }
        }
        if ((e = caom_plane_add_artifact(sl->p, a)) != ERR_OK) {
            err_set(ei, e, "too many artifacts");
            goto out;
        }
        a = NULL;
    }
    if (dm == D_BY_MEMBERS && members) {
        derived = true;
        o->kind = CAOM_OBS_DERIVED;
        if (algo_default && o->algorithm_name && strcmp(o->algorithm_name, "exposure") == 0) {
            free(o->algorithm_name);
            o->algorithm_name = NULL;
        }
    }
    if (!o->algorithm_name &&
        (e = f2c__str(&o->algorithm_name, derived ? "composite" : "exposure", ei)) != ERR_OK) {
        goto out;
    }
    if ((e = finish_obs(o, slots[0].p, &st, ei)) != ERR_OK) {
        goto out;
    }
    for (size_t i = 0; i < nslots; i++) {
        if ((e = finish_obs(o, slots[i].p, &slots[i].st, ei)) != ERR_OK) {
            goto out;
        }
        if ((e = caom_observation_add_plane(o, slots[i].p)) != ERR_OK) {
            err_set(ei, e, "could not add the plane");
            goto out;
        }
        slots[i].p = NULL;
    }
    *out = o;
    o = NULL;
out:
    for (size_t i = 0; i < memo.n; i++) {
        free(memo.e[i].val);
    }
    free(memo.e);
    bp_varcache_free(vars);
    stage_clear(&st);
    for (size_t i = 0; i < nslots; i++) {
        stage_clear(&slots[i].st);
        caom_plane_free(slots[i].p);
    }
    if (slots != local) {
        free(slots);
    }
    caom_chunk_free(ch);
    caom_part_free(part);
    caom_artifact_free(a);
    caom_observation_free(o);
    return e;
}

