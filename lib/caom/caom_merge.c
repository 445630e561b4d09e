/* caom_merge.c - structural equality and the merge of a freshly built observation into the
 * one a repository holds, keeping the stored UUIDs (caom2.md 1.3).
 * SPDX-License-Identifier: Apache-2.0 */
#include "caom/caom.h"
#include "caom/caom_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- equality ------------------------------------------------------------------------- */

static bool diff(char *where, size_t cap, const char *path)
{
    if (where && cap)
        snprintf(where, cap, "%s", path);
    return false;
}

bool caom_observation_equal(const struct caom_observation *a, const struct caom_observation *b,
                            bool ids, char *where, size_t cap)
{
    uint8_t x[16], y[16];
    char path[160];
    if (a->kind != b->kind)
        return diff(where, cap, "observation kind");
    caom_meta_digest_observation(a, ids, x);
    caom_meta_digest_observation(b, ids, y);
    if (memcmp(x, y, 16) != 0)
        return diff(where, cap, "observation");
    if (a->n_planes != b->n_planes)
        return diff(where, cap, "observation planes count");
    for (size_t i = 0; i < a->n_planes; i++) {
        const struct caom_plane *pa = a->planes[i], *pb = b->planes[i];
        snprintf(path, sizeof path, "plane[%zu]", i);
        caom_meta_digest_plane(pa, ids, x);
        caom_meta_digest_plane(pb, ids, y);
        if (memcmp(x, y, 16) != 0 || pa->n_artifacts != pb->n_artifacts)
            return diff(where, cap, path);
        for (size_t j = 0; j < pa->n_artifacts; j++) {
            const struct caom_artifact *aa = pa->artifacts[j], *ab = pb->artifacts[j];
            snprintf(path, sizeof path, "plane[%zu].artifact[%zu]", i, j);
            caom_meta_digest_artifact(aa, ids, x);
            caom_meta_digest_artifact(ab, ids, y);
            if (memcmp(x, y, 16) != 0 || aa->n_parts != ab->n_parts)
                return diff(where, cap, path);
            for (size_t k = 0; k < aa->n_parts; k++) {
                const struct caom_part *ta = aa->parts[k], *tb = ab->parts[k];
                snprintf(path, sizeof path, "plane[%zu].artifact[%zu].part[%zu]", i, j, k);
                caom_meta_digest_part(ta, ids, x);
                caom_meta_digest_part(tb, ids, y);
                if (memcmp(x, y, 16) != 0 || ta->n_chunks != tb->n_chunks)
                    return diff(where, cap, path);
                for (size_t l = 0; l < ta->n_chunks; l++) {
                    snprintf(path, sizeof path, "plane[%zu].artifact[%zu].part[%zu].chunk[%zu]", i,
                             j, k, l);
                    caom_meta_digest_chunk(ta->chunks[l], ids, x);
                    caom_meta_digest_chunk(tb->chunks[l], ids, y);
                    if (memcmp(x, y, 16) != 0)
                        return diff(where, cap, path);
                }
            }
        }
    }
    return true;
}

/* ---- merge ---------------------------------------------------------------------------- */

struct mg {
    struct caom_merge_stats st; /* counters */
    bool remove_missing;        /* drop existing planes and artifacts the fresh tree lacks */
    struct err_info *ei;        /* error detail */
};

static void mark_changed(struct caom_entity *e)
{
    e->meta_checksum[0] = '\0';
    e->acc_meta_checksum[0] = '\0';
}

static enum err set_producer(struct caom_entity *d, const struct caom_entity *s)
{
    return caom_str_set(&d->meta_producer, s->meta_producer);
}

static enum err oom(struct mg *m)
{
    return err_set(m->ei, ERR_NOMEM, "out of memory merging caom observation");
}

/* Remove element @p i from a pointer array. */
static void drop_at(void **arr, size_t *n, size_t i)
{
    memmove(&arr[i], &arr[i + 1], (*n - i - 1) * sizeof(*arr));
    (*n)--;
}

static enum err merge_chunk(struct mg *m, struct caom_chunk *d, const struct caom_chunk *s,
                            bool *changed)
{
    uint8_t x[16], y[16];
    caom_meta_digest_chunk(d, false, x);
    caom_meta_digest_chunk(s, false, y);
    if (memcmp(x, y, 16) == 0)
        return ERR_OK;
    if (!caom_chunk_take_state(d, s) || set_producer(&d->e, &s->e))
        return oom(m);
    mark_changed(&d->e);
    m->st.entities_changed++;
    *changed = true;
    return ERR_OK;
}

static enum err merge_part(struct mg *m, struct caom_part *d, const struct caom_part *s,
                           bool *changed)
{
    bool sub = false;
    enum err rc;
    uint8_t x[16], y[16];
    caom_meta_digest_part(d, false, x);
    caom_meta_digest_part(s, false, y);
    if (memcmp(x, y, 16) != 0) {
        if (!caom_part_take_state(d, s) || set_producer(&d->e, &s->e))
            return oom(m);
        m->st.entities_changed++;
        sub = true;
    }
    /* chunks are matched by position */
    for (size_t i = 0; i < s->n_chunks; i++) {
        if (i < d->n_chunks) {
            if ((rc = merge_chunk(m, d->chunks[i], s->chunks[i], &sub)))
                return rc;
        } else {
            struct caom_chunk *c = caom_chunk_copy(s->chunks[i]);
            if (!c)
                return oom(m);
            mark_changed(&c->e);
            if ((rc = caom_part_add_chunk(d, c))) {
                caom_chunk_free(c);
                return err_set(m->ei, rc, "could not add chunk to part \"%s\"", d->name);
            }
            m->st.entities_added++;
            sub = true;
        }
    }
    while (d->n_chunks > s->n_chunks) { /* a matched part's chunks follow the fresh build */
        caom_chunk_free(d->chunks[d->n_chunks - 1]);
        d->n_chunks--;
        m->st.entities_removed++;
        sub = true;
    }
    if (sub) {
        mark_changed(&d->e);
        *changed = true;
    }
    return ERR_OK;
}

static enum err merge_artifact(struct mg *m, struct caom_artifact *d, const struct caom_artifact *s,
                               bool *changed)
{
    bool sub = false;
    enum err rc;
    uint8_t x[16], y[16];
    caom_meta_digest_artifact(d, false, x);
    caom_meta_digest_artifact(s, false, y);
    if (memcmp(x, y, 16) != 0) {
        if (!caom_artifact_take_state(d, s) || set_producer(&d->e, &s->e))
            return oom(m);
        m->st.entities_changed++;
        sub = true;
    }
    for (size_t i = 0; i < s->n_parts; i++) {
        struct caom_part *ex = caom_artifact_find_part(d, s->parts[i]->name);
        if (ex) {
            if ((rc = merge_part(m, ex, s->parts[i], &sub)))
                return rc;
            continue;
        }
        struct caom_part *p = caom_part_copy(s->parts[i]);
        if (!p)
            return oom(m);
        if ((rc = caom_artifact_add_part(d, p))) {
            caom_part_free(p);
            return err_set(m->ei, rc, "could not add part to artifact \"%s\"", d->uri);
        }
        m->st.entities_added++;
        sub = true;
    }
    for (size_t i = 0; i < d->n_parts;) { /* a matched artifact's parts follow its file */
        if (!caom_artifact_find_part(s, d->parts[i]->name)) {
            caom_part_free(d->parts[i]);
            drop_at((void **)d->parts, &d->n_parts, i);
            m->st.entities_removed++;
            sub = true;
        } else {
            i++;
        }
    }
    if (sub) {
        mark_changed(&d->e);
        *changed = true;
    }
    return ERR_OK;
}

/* Replace each computed-metadata field of @p d that @p s has; keep the others. */
static bool take_computed(struct caom_plane *d, const struct caom_plane *s)
{
    if (s->position) {
        struct caom_position *x = NULL;
        if (!caom_position_copy(&x, s->position))
            return false;
        caom_position_free(d->position);
        d->position = x;
    }
    if (s->energy) {
        struct caom_energy *x = NULL;
        if (!caom_energy_copy(&x, s->energy))
            return false;
        caom_energy_free(d->energy);
        d->energy = x;
    }
    if (s->time) {
        struct caom_time *x = NULL;
        if (!caom_time_copy(&x, s->time))
            return false;
        caom_time_free(d->time);
        d->time = x;
    }
    if (s->polarization) {
        struct caom_polarization *x = NULL;
        if (!caom_polarization_copy(&x, s->polarization))
            return false;
        caom_polarization_free(d->polarization);
        d->polarization = x;
    }
    if (s->custom) {
        struct caom_custom_axis *x = NULL;
        if (!caom_custom_axis_copy(&x, s->custom))
            return false;
        caom_custom_axis_free(d->custom);
        d->custom = x;
    }
    return true;
}

static enum err merge_plane(struct mg *m, struct caom_plane *d, const struct caom_plane *s,
                            bool *changed)
{
    bool sub = false;
    enum err rc;
    uint8_t x[16], y[16];
    /* a read-only view of the fresh state as it would be stored: computed metadata the
     * fresh plane lacks stays as stored */
    struct caom_plane view = *s;
    if (!view.position)
        view.position = d->position;
    if (!view.energy)
        view.energy = d->energy;
    if (!view.time)
        view.time = d->time;
    if (!view.polarization)
        view.polarization = d->polarization;
    if (!view.custom)
        view.custom = d->custom;
    caom_meta_digest_plane(d, false, x);
    caom_meta_digest_plane(&view, false, y);
    if (memcmp(x, y, 16) != 0) {
        if (!caom_plane_take_state(d, s, false) || !take_computed(d, s) ||
            set_producer(&d->e, &s->e))
            return oom(m);
        m->st.entities_changed++;
        sub = true;
    }
    for (size_t i = 0; i < s->n_artifacts; i++) {
        struct caom_artifact *ex = caom_plane_find_artifact(d, s->artifacts[i]->uri);
        if (ex) {
            if ((rc = merge_artifact(m, ex, s->artifacts[i], &sub)))
                return rc;
            continue;
        }
        struct caom_artifact *a = caom_artifact_copy(s->artifacts[i]);
        if (!a)
            return oom(m);
        if ((rc = caom_plane_add_artifact(d, a))) {
            caom_artifact_free(a);
            return err_set(m->ei, rc, "could not add artifact to plane \"%s\"", d->product_id);
        }
        m->st.entities_added++;
        sub = true;
    }
    for (size_t i = 0; m->remove_missing && i < d->n_artifacts;) {
        if (!caom_plane_find_artifact(s, d->artifacts[i]->uri)) {
            caom_artifact_free(d->artifacts[i]);
            drop_at((void **)d->artifacts, &d->n_artifacts, i);
            m->st.entities_removed++;
            sub = true;
        } else {
            i++;
        }
    }
    if (sub) {
        mark_changed(&d->e);
        *changed = true;
    }
    return ERR_OK;
}

enum err caom_merge(struct caom_observation *d, const struct caom_observation *s,
                    bool remove_missing, struct caom_merge_stats *stats, struct err_info *ei)
{
    struct mg m = {.remove_missing = remove_missing, .ei = ei};
    enum err rc = ERR_OK;
    bool sub = false;
    if (d->kind != s->kind)
        return err_set_field(ei, ERR_CONFLICT, "type",
                             "observation %s/%s changes between simple and derived; delete and "
                             "create it instead",
                             d->collection ? d->collection : "", d->observation_id ? d->observation_id : "");
    uint8_t x[16], y[16];
    caom_meta_digest_observation(d, false, x);
    caom_meta_digest_observation(s, false, y);
    if (memcmp(x, y, 16) != 0) {
        if (!caom_observation_take_state(d, s) || set_producer(&d->e, &s->e))
            return oom(&m);
        m.st.entities_changed++;
        sub = true;
    }
    for (size_t i = 0; i < s->n_planes; i++) {
        struct caom_plane *ex = caom_observation_find_plane(d, s->planes[i]->product_id);
        if (ex) {
            if ((rc = merge_plane(&m, ex, s->planes[i], &sub)))
                goto out;
            continue;
        }
        struct caom_plane *p = caom_plane_copy(s->planes[i]);
        if (!p) {
            rc = oom(&m);
            goto out;
        }
        if ((rc = caom_observation_add_plane(d, p))) {
            caom_plane_free(p);
            rc = err_set(ei, rc, "could not add plane \"%s\"", s->planes[i]->product_id);
            goto out;
        }
        m.st.entities_added++;
        sub = true;
    }
    for (size_t i = 0; remove_missing && i < d->n_planes;) {
        if (!caom_observation_find_plane(s, d->planes[i]->product_id)) {
            caom_plane_free(d->planes[i]);
            drop_at((void **)d->planes, &d->n_planes, i);
            m.st.entities_removed++;
            sub = true;
        } else {
            i++;
        }
    }
out:
    if (sub)
        mark_changed(&d->e);
    if (stats)
        *stats = m.st;
    return rc;
}
