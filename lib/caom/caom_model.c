/* caom_model.c - constructors, destructors, lists, UUIDs, dates and vocabularies of the model.
 * SPDX-License-Identifier: Apache-2.0 */
#include "caom/caom.h"

#include "core/rand.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum err caom_str_set(char **dst, const char *s)
{
    char *c = NULL;
    if (s) {
        size_t n = strlen(s);
        c = malloc(n + 1);
        if (!c)
            return ERR_NOMEM;
        memcpy(c, s, n + 1);
    }
    free(*dst);
    *dst = c;
    return ERR_OK;
}

enum err caom_strlist_add(struct caom_strlist *l, const char *s)
{
    if (l->n >= CAOM_MAX_LIST)
        return ERR_TOO_LARGE;
    char **v = realloc(l->v, (l->n + 1) * sizeof(*v));
    if (!v)
        return ERR_NOMEM;
    l->v = v;
    size_t n = strlen(s);
    char *c = malloc(n + 1);
    if (!c)
        return ERR_NOMEM;
    memcpy(c, s, n + 1);
    l->v[l->n++] = c;
    return ERR_OK;
}

void caom_strlist_clear(struct caom_strlist *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

void caom_uuid_random(uint8_t id[16])
{
    /* buffered getrandom: libuuid's generator cost ~3 us per entity (a syscall each) */
    rand_uuid_v4(id);
}

void caom_uuid_format(const uint8_t id[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    size_t k = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[k++] = '-';
        out[k++] = hex[id[i] >> 4];
        out[k++] = hex[id[i] & 15];
    }
    out[k] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

enum err caom_uuid_parse(const char *s, uint8_t id[16])
{
    if (!s || strlen(s) != 36)
        return ERR_PARSE;
    size_t k = 0;
    for (size_t i = 0; i < 36;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return ERR_PARSE;
            i++;
            continue;
        }
        int hi = hexval(s[i]), lo = hexval(s[i + 1]);
        if (hi < 0 || lo < 0)
            return ERR_PARSE;
        id[k++] = (uint8_t)(hi * 16 + lo);
        i += 2;
    }
    return ERR_OK;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), Howard Hinnant's algorithm. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp + (mp < 10 ? 3 : -9);
    *y = yy + (*m <= 2);
}

static bool read_digits(const char **p, int n, int64_t *v)
{
    int64_t x = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        x = x * 10 + (c - '0');
    }
    *p += n;
    *v = x;
    return true;
}

enum err caom_date_parse(const char *s, int64_t *ms)
{
    int64_t y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
    const char *p = s;
    if (!s)
        return ERR_PARSE;
    while (*p == ' ')
        p++;
    if (!read_digits(&p, 4, &y) || *p++ != '-' || !read_digits(&p, 2, &mo) || *p++ != '-' ||
        !read_digits(&p, 2, &d))
        return ERR_PARSE;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (!read_digits(&p, 2, &h) || *p++ != ':' || !read_digits(&p, 2, &mi))
            return ERR_PARSE;
        if (*p == ':') {
            p++;
            if (!read_digits(&p, 2, &sec))
                return ERR_PARSE;
            if (*p == '.') {
                p++;
                int64_t scale = 100;
                if (*p < '0' || *p > '9')
                    return ERR_PARSE;
                while (*p >= '0' && *p <= '9') {
                    frac += (*p - '0') * scale;
                    scale /= 10;
                    p++;
                }
            }
        }
    }
    if (*p == 'Z')
        p++;
    while (*p == ' ')
        p++;
    if (*p)
        return ERR_PARSE;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return ERR_PARSE;
    int64_t days = days_from_civil(y, mo, d);
    *ms = ((days * 24 + h) * 60 + mi) * 60000 + sec * 1000 + frac;
    return ERR_OK;
}

void caom_date_format(int64_t ms, char out[32])
{
    int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    int64_t rem = ms - days * 86400000;
    int64_t y, m, d;
    civil_from_days(days, &y, &m, &d);
    if (y >= 0 && y <= 9999) { /* by hand: the writer formats several dates per document */
        int64_t f[7] = {y, m, d, rem / 3600000, rem / 60000 % 60, rem / 1000 % 60, rem % 1000};
        static const int width[7] = {4, 2, 2, 2, 2, 2, 3};
        static const char sep[7] = {'-', '-', 'T', ':', ':', '.', '\0'};
        char *p = out;
        for (int i = 0; i < 7; i++) {
            for (int k = width[i] - 1; k >= 0; k--) {
                p[k] = (char)('0' + f[i] % 10);
                f[i] /= 10;
            }
            p += width[i];
            *p++ = sep[i];
        }
        return;
    }
    snprintf(out, 32, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lld", (long long)y,
             (long long)m, (long long)d, (long long)(rem / 3600000),
             (long long)(rem / 60000 % 60), (long long)(rem / 1000 % 60),
             (long long)(rem % 1000));
}

/* ---- constructors ------------------------------------------------------------------------ */

struct caom_observation *caom_observation_new(enum caom_obs_kind kind, const char *collection,
                                              const char *observation_id)
{
    struct caom_observation *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    caom_uuid_random(o->e.id);
    o->kind = kind;
    if (caom_str_set(&o->collection, collection) || caom_str_set(&o->observation_id, observation_id)) {
        caom_observation_free(o);
        return NULL;
    }
    return o;
}

struct caom_plane *caom_plane_new(const char *product_id)
{
    struct caom_plane *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    caom_uuid_random(p->e.id);
    if (caom_str_set(&p->product_id, product_id)) {
        caom_plane_free(p);
        return NULL;
    }
    return p;
}

struct caom_artifact *caom_artifact_new(const char *uri, const char *product_type,
                                        enum caom_release_type release_type)
{
    struct caom_artifact *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    caom_uuid_random(a->e.id);
    a->release_type = release_type;
    if (caom_str_set(&a->uri, uri) || caom_str_set(&a->product_type, product_type)) {
        caom_artifact_free(a);
        return NULL;
    }
    return a;
}

struct caom_part *caom_part_new(const char *name)
{
    struct caom_part *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    caom_uuid_random(p->e.id);
    if (caom_str_set(&p->name, name)) {
        caom_part_free(p);
        return NULL;
    }
    return p;
}

struct caom_chunk *caom_chunk_new(void)
{
    struct caom_chunk *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    caom_uuid_random(c->e.id);
    return c;
}

/* ---- destructors ------------------------------------------------------------------------- */

static void entity_clear(struct caom_entity *e)
{
    free(e->meta_producer);
    e->meta_producer = NULL;
}

void caom_transition_free(struct caom_energy_transition *x)
{
    if (!x)
        return;
    free(x->species);
    free(x->transition);
    free(x);
}

void caom_coord_axis1d_clear(struct caom_coord_axis1d *x)
{
    if (!x)
        return;
    free(x->axis.ctype);
    free(x->axis.cunit);
    free(x->error);
    free(x->range);
    if (x->bounds)
        free(x->bounds->samples);
    free(x->bounds);
    free(x->function);
    memset(x, 0, sizeof(*x));
}

void caom_coord_axis2d_clear(struct caom_coord_axis2d *x)
{
    if (!x)
        return;
    free(x->axis1.ctype);
    free(x->axis1.cunit);
    free(x->axis2.ctype);
    free(x->axis2.cunit);
    free(x->error1);
    free(x->error2);
    free(x->range);
    if (x->bounds)
        free(x->bounds->polygon.vertices);
    free(x->bounds);
    free(x->function);
    memset(x, 0, sizeof(*x));
}

void caom_spatial_wcs_free(struct caom_spatial_wcs *x)
{
    if (!x)
        return;
    caom_coord_axis2d_clear(&x->axis);
    free(x->coordsys);
    free(x);
}

void caom_spectral_wcs_free(struct caom_spectral_wcs *x)
{
    if (!x)
        return;
    caom_coord_axis1d_clear(&x->axis);
    free(x->specsys);
    free(x->ssysobs);
    free(x->ssyssrc);
    free(x->bandpass_name);
    caom_transition_free(x->transition);
    free(x);
}

void caom_temporal_wcs_free(struct caom_temporal_wcs *x)
{
    if (!x)
        return;
    caom_coord_axis1d_clear(&x->axis);
    free(x->timesys);
    free(x->trefpos);
    free(x);
}

void caom_polarization_wcs_free(struct caom_polarization_wcs *x)
{
    if (!x)
        return;
    caom_coord_axis1d_clear(&x->axis);
    free(x);
}

void caom_custom_wcs_free(struct caom_custom_wcs *x)
{
    if (!x)
        return;
    caom_coord_axis1d_clear(&x->axis);
    free(x);
}

static void slice_clear(struct caom_slice *s)
{
    free(s->axis.ctype);
    free(s->axis.cunit);
}

void caom_observable_axis_free(struct caom_observable_axis *x)
{
    if (!x)
        return;
    slice_clear(&x->dependent);
    if (x->independent)
        slice_clear(x->independent);
    free(x->independent);
    free(x);
}

void caom_sampled_interval_free(struct caom_sampled_interval *x)
{
    if (!x)
        return;
    free(x->samples);
    free(x);
}

void caom_shape_free(struct caom_shape *x)
{
    if (!x)
        return;
    free(x->polygon.points);
    free(x->polygon.samples);
    free(x);
}

void caom_position_free(struct caom_position *x)
{
    if (!x)
        return;
    caom_shape_free(x->bounds);
    free(x->dimension);
    free(x->resolution_bounds);
    free(x);
}

void caom_energy_free(struct caom_energy *x)
{
    if (!x)
        return;
    caom_sampled_interval_free(x->bounds);
    free(x->resolving_power_bounds);
    free(x->bandpass_name);
    free(x->bands);
    caom_transition_free(x->transition);
    free(x);
}

void caom_time_free(struct caom_time *x)
{
    if (!x)
        return;
    caom_sampled_interval_free(x->bounds);
    free(x->resolution_bounds);
    free(x);
}

void caom_polarization_free(struct caom_polarization *x)
{
    if (!x)
        return;
    free(x->states);
    free(x);
}

void caom_custom_axis_free(struct caom_custom_axis *x)
{
    if (!x)
        return;
    free(x->ctype);
    caom_sampled_interval_free(x->bounds);
    free(x);
}

void caom_proposal_free(struct caom_proposal *x)
{
    if (!x)
        return;
    free(x->id);
    free(x->pi);
    free(x->project);
    free(x->title);
    caom_strlist_clear(&x->keywords);
    free(x);
}

void caom_target_free(struct caom_target *x)
{
    if (!x)
        return;
    free(x->name);
    free(x->target_id);
    caom_strlist_clear(&x->keywords);
    free(x);
}

void caom_target_position_free(struct caom_target_position *x)
{
    if (!x)
        return;
    free(x->coordsys);
    free(x);
}

void caom_telescope_free(struct caom_telescope *x)
{
    if (!x)
        return;
    free(x->name);
    caom_strlist_clear(&x->keywords);
    free(x);
}

void caom_instrument_free(struct caom_instrument *x)
{
    if (!x)
        return;
    free(x->name);
    caom_strlist_clear(&x->keywords);
    free(x);
}

void caom_environment_free(struct caom_environment *x)
{
    free(x);
}

void caom_provenance_free(struct caom_provenance *x)
{
    if (!x)
        return;
    free(x->name);
    free(x->version);
    free(x->project);
    free(x->producer);
    free(x->run_id);
    free(x->reference);
    caom_strlist_clear(&x->keywords);
    caom_strlist_clear(&x->inputs);
    free(x);
}

void caom_metrics_free(struct caom_metrics *x)
{
    free(x);
}

void caom_chunk_free(struct caom_chunk *c)
{
    if (!c)
        return;
    entity_clear(&c->e);
    free(c->product_type);
    caom_observable_axis_free(c->observable);
    caom_spatial_wcs_free(c->position);
    caom_spectral_wcs_free(c->energy);
    caom_temporal_wcs_free(c->time);
    caom_polarization_wcs_free(c->polarization);
    caom_custom_wcs_free(c->custom);
    free(c);
}

void caom_part_free(struct caom_part *p)
{
    if (!p)
        return;
    entity_clear(&p->e);
    free(p->name);
    free(p->product_type);
    for (size_t i = 0; i < p->n_chunks; i++)
        caom_chunk_free(p->chunks[i]);
    free(p->chunks);
    free(p);
}

void caom_artifact_free(struct caom_artifact *a)
{
    if (!a)
        return;
    entity_clear(&a->e);
    free(a->uri);
    free(a->product_type);
    caom_strlist_clear(&a->content_read_groups);
    free(a->content_type);
    free(a->content_checksum);
    for (size_t i = 0; i < a->n_parts; i++)
        caom_part_free(a->parts[i]);
    free(a->parts);
    free(a);
}

void caom_plane_free(struct caom_plane *p)
{
    if (!p)
        return;
    entity_clear(&p->e);
    free(p->product_id);
    free(p->creator_id);
    caom_strlist_clear(&p->meta_read_groups);
    caom_strlist_clear(&p->data_read_groups);
    free(p->data_product_type);
    caom_provenance_free(p->provenance);
    free(p->observable_ucd);
    caom_metrics_free(p->metrics);
    caom_position_free(p->position);
    caom_energy_free(p->energy);
    caom_time_free(p->time);
    caom_polarization_free(p->polarization);
    caom_custom_axis_free(p->custom);
    for (size_t i = 0; i < p->n_artifacts; i++)
        caom_artifact_free(p->artifacts[i]);
    free(p->artifacts);
    free(p);
}

void caom_observation_free(struct caom_observation *o)
{
    if (!o)
        return;
    entity_clear(&o->e);
    free(o->collection);
    free(o->observation_id);
    caom_strlist_clear(&o->meta_read_groups);
    free(o->algorithm_name);
    free(o->type);
    caom_proposal_free(o->proposal);
    caom_target_free(o->target);
    caom_target_position_free(o->target_position);
    caom_telescope_free(o->telescope);
    caom_instrument_free(o->instrument);
    caom_environment_free(o->environment);
    for (size_t i = 0; i < o->n_planes; i++)
        caom_plane_free(o->planes[i]);
    free(o->planes);
    caom_strlist_clear(&o->members);
    free(o);
}

/* ---- children ---------------------------------------------------------------------------- */

static enum err grow_ptrs(void ***arr, size_t *n, void *child)
{
    if (*n >= CAOM_MAX_CHILDREN)
        return ERR_TOO_LARGE;
    void **v = realloc(*arr, (*n + 1) * sizeof(*v));
    if (!v)
        return ERR_NOMEM;
    v[(*n)++] = child;
    *arr = v;
    return ERR_OK;
}

enum err caom_observation_add_plane(struct caom_observation *o, struct caom_plane *p)
{
    return grow_ptrs((void ***)&o->planes, &o->n_planes, p);
}

enum err caom_plane_add_artifact(struct caom_plane *p, struct caom_artifact *a)
{
    return grow_ptrs((void ***)&p->artifacts, &p->n_artifacts, a);
}

enum err caom_artifact_add_part(struct caom_artifact *a, struct caom_part *p)
{
    return grow_ptrs((void ***)&a->parts, &a->n_parts, p);
}

enum err caom_part_add_chunk(struct caom_part *p, struct caom_chunk *c)
{
    return grow_ptrs((void ***)&p->chunks, &p->n_chunks, c);
}

static bool str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

struct caom_plane *caom_observation_find_plane(const struct caom_observation *o,
                                               const char *product_id)
{
    for (size_t i = 0; i < o->n_planes; i++)
        if (str_eq(o->planes[i]->product_id, product_id))
            return o->planes[i];
    return NULL;
}

struct caom_artifact *caom_plane_find_artifact(const struct caom_plane *p, const char *uri)
{
    for (size_t i = 0; i < p->n_artifacts; i++)
        if (str_eq(p->artifacts[i]->uri, uri))
            return p->artifacts[i];
    return NULL;
}

struct caom_part *caom_artifact_find_part(const struct caom_artifact *a, const char *name)
{
    for (size_t i = 0; i < a->n_parts; i++)
        if (str_eq(a->parts[i]->name, name))
            return a->parts[i];
    return NULL;
}

/* ---- vocabularies ------------------------------------------------------------------------ */

const char *caom_intent_name(enum caom_intent v)
{
    switch (v) {
    case CAOM_INTENT_SCIENCE: return "science";
    case CAOM_INTENT_CALIBRATION: return "calibration";
    default: return NULL;
    }
}

const char *caom_target_type_name(enum caom_target_type v)
{
    switch (v) {
    case CAOM_TARGET_OBJECT: return "object";
    case CAOM_TARGET_FIELD: return "field";
    default: return NULL;
    }
}

const char *caom_release_type_name(enum caom_release_type v)
{
    switch (v) {
    case CAOM_RELEASE_DATA: return "data";
    case CAOM_RELEASE_META: return "meta";
    default: return NULL;
    }
}

static const char *const band_names[CAOM_BAND__COUNT] = {
    NULL, "Radio", "Millimeter", "Infrared", "Optical", "UV", "EUV", "X-ray", "Gamma-ray",
};

const char *caom_energy_band_name(enum caom_energy_band v)
{
    if ((int)v <= 0 || v >= CAOM_BAND__COUNT)
        return NULL;
    return band_names[v];
}

static const char *const pol_names[CAOM_POL__COUNT] = {
    NULL, "I", "Q", "U", "V", "POLI", "FPOLI", "POLA", "EPOLI", "CPOLI", "NPOLI",
    "RR", "LL", "RL", "LR", "XX", "YY", "XY", "YX",
};

const char *caom_pol_state_name(enum caom_pol_state v)
{
    if ((int)v <= 0 || v >= CAOM_POL__COUNT)
        return NULL;
    return pol_names[v];
}

enum caom_pol_state caom_pol_state_from_stokes(int code)
{
    if (code >= 1 && code <= 10)
        return (enum caom_pol_state)(CAOM_POL_I + code - 1);
    if (code <= -1 && code >= -8)
        return (enum caom_pol_state)(CAOM_POL_RR + (-code - 1));
    return CAOM_POL_UNSET;
}
