/* test_caom_merge.c - merging a freshly built observation into a stored one keeps the stored
 * UUIDs (planes by productID, artifacts by URI, parts by name) and changes only what changed;
 * JSON rendering of the full sample document.
 * SPDX-License-Identifier: Apache-2.0 */
#include "caom/caom.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "caom_test.h"

/* A fresh build of the same observation: every entity gets a new random UUID and no
 * bookkeeping attributes, as a pipeline run produces it. */
static struct caom_observation *fresh_copy(const struct caom_observation *o)
{
    struct caom_observation *f = caom_observation_clone(o);
    assert_non_null(f);
    caom_uuid_random(f->e.id);
    memset(f->e.meta_checksum, 0, sizeof f->e.meta_checksum);
    f->e.last_modified.set = false;
    for (size_t i = 0; i < f->n_planes; i++) {
        struct caom_plane *p = f->planes[i];
        caom_uuid_random(p->e.id);
        for (size_t j = 0; j < p->n_artifacts; j++) {
            struct caom_artifact *a = p->artifacts[j];
            caom_uuid_random(a->e.id);
            for (size_t k = 0; k < a->n_parts; k++) {
                caom_uuid_random(a->parts[k]->e.id);
                for (size_t l = 0; l < a->parts[k]->n_chunks; l++)
                    caom_uuid_random(a->parts[k]->chunks[l]->e.id);
            }
        }
    }
    return f;
}

struct ids {
    uint8_t v[4096][16];      /* collected UUIDs in tree order */
    size_t n;                 /* how many */
};

static void collect(const struct caom_observation *o, struct ids *ids)
{
    ids->n = 0;
    memcpy(ids->v[ids->n++], o->e.id, 16);
    for (size_t i = 0; i < o->n_planes; i++) {
        const struct caom_plane *p = o->planes[i];
        memcpy(ids->v[ids->n++], p->e.id, 16);
        for (size_t j = 0; j < p->n_artifacts; j++) {
            const struct caom_artifact *a = p->artifacts[j];
            memcpy(ids->v[ids->n++], a->e.id, 16);
            for (size_t k = 0; k < a->n_parts; k++) {
                memcpy(ids->v[ids->n++], a->parts[k]->e.id, 16);
                for (size_t l = 0; l < a->parts[k]->n_chunks; l++)
                    memcpy(ids->v[ids->n++], a->parts[k]->chunks[l]->e.id, 16);
            }
        }
    }
}

static void test_merge_unchanged(void **state)
{
    (void)state;
    struct caom_observation *o = caom_test_load("vlass2caom2/VLASS1.1.T01t01.J000228-363000.expected.xml");
    caom_checksum_update(o);
    char before[CAOM_CHECKSUM_URI_MAX];
    memcpy(before, o->e.acc_meta_checksum, sizeof before);
    static struct ids a, b;
    collect(o, &a);
    struct caom_observation *f = fresh_copy(o);
    struct caom_merge_stats st;
    struct err_info ei = {0};
    assert_int_equal(caom_merge(o, f, true, &st, &ei), ERR_OK);
    assert_int_equal(st.entities_changed, 0);
    assert_int_equal(st.entities_added, 0);
    assert_int_equal(st.entities_removed, 0);
    collect(o, &b);
    assert_int_equal(a.n, b.n);
    assert_memory_equal(a.v, b.v, a.n * 16);
    /* nothing changed: the stored checksums are untouched and still right */
    assert_string_equal(o->e.acc_meta_checksum, before);
    assert_int_equal(caom_checksum_verify(o, &ei), ERR_OK);
    assert_true(caom_observation_equal(o, f, false, NULL, 0));
    assert_false(caom_observation_equal(o, f, true, NULL, 0));
    caom_observation_free(f);
    caom_observation_free(o);
}

static void test_merge_changes_only_what_changed(void **state)
{
    (void)state;
    struct caom_observation *o = caom_test_load("vlass2caom2/VLASS1.1.T01t01.J000228-363000.expected.xml");
    caom_checksum_update(o);
    struct caom_observation *old = caom_observation_clone(o);
    static struct ids a, b;
    collect(o, &a);
    struct caom_observation *f = fresh_copy(o);
    /* one chunk value and one artifact field change; a new plane appears */
    struct caom_artifact *fa = f->planes[0]->artifacts[1];
    struct caom_chunk *fc = f->planes[0]->artifacts[0]->parts[0]->chunks[0];
    assert_non_null(fc->position);
    fc->position->axis.function->cd11.v *= 1.000001;
    fa->content_length = caom_l(fa->content_length.v + 1);
    struct caom_plane *np = caom_plane_new("newplane");
    assert_int_equal(caom_observation_add_plane(f, np), ERR_OK);
    struct caom_merge_stats st;
    struct err_info ei = {0};
    assert_int_equal(caom_merge(o, f, true, &st, &ei), ERR_OK);
    assert_int_equal(st.entities_changed, 2);
    assert_int_equal(st.entities_added, 1);
    assert_int_equal(st.entities_removed, 0);
    collect(o, &b);
    assert_int_equal(b.n, a.n + 1);
    assert_memory_equal(a.v, b.v, a.n * 16); /* every stored UUID kept, in place */
    assert_memory_equal(b.v[a.n], np->e.id, 16);
    /* the merged tree carries the fresh state */
    assert_true(caom_observation_equal(o, f, false, NULL, 0));
    /* checksums: unchanged entities keep theirs, the changed ones and their ancestors differ */
    caom_checksum_update(o);
    const struct caom_plane *p = o->planes[0], *op = old->planes[0];
    assert_string_not_equal(p->e.acc_meta_checksum, op->e.acc_meta_checksum);
    assert_string_equal(p->e.meta_checksum, op->e.meta_checksum);
    assert_string_not_equal(p->artifacts[0]->parts[0]->chunks[0]->e.meta_checksum,
                            op->artifacts[0]->parts[0]->chunks[0]->e.meta_checksum);
    assert_string_equal(p->artifacts[0]->e.meta_checksum, op->artifacts[0]->e.meta_checksum);
    assert_string_not_equal(p->artifacts[1]->e.meta_checksum, op->artifacts[1]->e.meta_checksum);
    assert_string_equal(p->artifacts[1]->parts[0]->e.acc_meta_checksum,
                        op->artifacts[1]->parts[0]->e.acc_meta_checksum);
    assert_string_equal(o->e.meta_checksum, old->e.meta_checksum);
    assert_string_not_equal(o->e.acc_meta_checksum, old->e.acc_meta_checksum);
    caom_observation_free(f);
    caom_observation_free(old);
    caom_observation_free(o);
}

static void test_merge_remove_and_keep(void **state)
{
    (void)state;
    struct caom_observation *o = caom_test_load("vlass2caom2/VLASS1.1.T01t01.J000228-363000.expected.xml");
    size_t n_art = o->planes[0]->n_artifacts;
    assert_true(n_art >= 2);
    struct caom_observation *f = fresh_copy(o);
    /* the fresh build only knows the first artifact */
    struct caom_plane *fp = f->planes[0];
    for (size_t i = 1; i < fp->n_artifacts; i++)
        caom_artifact_free(fp->artifacts[i]);
    fp->n_artifacts = 1;
    struct caom_merge_stats st;
    struct err_info ei = {0};
    assert_int_equal(caom_merge(o, f, false, &st, &ei), ERR_OK);
    assert_int_equal(o->planes[0]->n_artifacts, n_art); /* kept */
    assert_int_equal(st.entities_removed, 0);
    assert_int_equal(caom_merge(o, f, true, &st, &ei), ERR_OK);
    assert_int_equal(o->planes[0]->n_artifacts, 1);
    assert_int_equal(st.entities_removed, n_art - 1);
    caom_observation_free(f);
    caom_observation_free(o);
}

static void test_merge_keeps_computed_and_refuses_kind_change(void **state)
{
    (void)state;
    struct caom_observation *o =
        caom_test_load("possum2caom2/casda/PSM_pilot1_1368MHz_18asec_2031-5249_11073_i_v1.expected.xml");
    struct caom_observation *f = fresh_copy(o);
    /* a header-only build has no plane computed metadata: the stored one stays */
    caom_position_free(f->planes[0]->position);
    f->planes[0]->position = NULL;
    caom_energy_free(f->planes[0]->energy);
    f->planes[0]->energy = NULL;
    struct caom_merge_stats st;
    struct err_info ei = {0};
    assert_int_equal(caom_merge(o, f, true, &st, &ei), ERR_OK);
    assert_int_equal(st.entities_changed, 0);
    assert_non_null(o->planes[0]->position);
    assert_non_null(o->planes[0]->energy);
    /* with computed metadata it is replaced */
    struct caom_observation *g = fresh_copy(o);
    g->planes[0]->position->sample_size.v = 1.0;
    assert_int_equal(caom_merge(o, g, true, &st, &ei), ERR_OK);
    assert_int_equal(st.entities_changed, 1);
    assert_true(o->planes[0]->position->sample_size.v == 1.0);
    /* simple -> derived must be delete + create */
    g->kind = CAOM_OBS_DERIVED;
    assert_int_equal(caom_merge(o, g, true, &st, &ei), ERR_CONFLICT);
    assert_non_null(strstr(ei.msg, "delete and create"));
    caom_observation_free(g);
    caom_observation_free(f);
    caom_observation_free(o);
}

static void test_json(void **state)
{
    (void)state;
    struct caom_observation *o = caom_test_load("caom2tools/SampleDerived-CAOM-2.4.xml");
    json_t *j = caom_to_json(o);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "@type")), "DerivedObservation");
    assert_string_equal(json_string_value(json_object_get(j, "collection")), "TEST");
    assert_string_equal(json_string_value(json_object_get(j, "accMetaChecksum")),
                        "md5:b867568f4c08afe0717ab818486d82b0");
    json_t *planes = json_object_get(j, "planes");
    assert_int_equal(json_array_size(planes), o->n_planes);
    json_t *p0 = json_array_get(planes, 0);
    assert_string_equal(json_string_value(json_object_get(p0, "productID")),
                        o->planes[0]->product_id);
    json_t *bands = json_object_get(json_object_get(p0, "energy"), "energyBands");
    assert_int_equal(json_array_size(bands), 8);
    assert_string_equal(json_string_value(json_array_get(bands, 6)), "X-ray");
    json_t *pts = json_object_get(json_object_get(json_object_get(p0, "position"), "bounds"), "points");
    assert_int_equal(json_array_size(pts), 3);
    char *s = json_dumps(j, JSON_COMPACT);
    assert_non_null(s);
    assert_true(strlen(s) > 10000);
    json_error_t je;
    json_t *back = json_loads(s, 0, &je);
    assert_non_null(back);
    assert_true(json_equal(j, back));
    json_decref(back);
    free(s);
    json_decref(j);
    caom_observation_free(o);
}

int main(void)
{
    int setup = caom_test_setup();
    if (setup)
        return setup;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_unchanged),
        cmocka_unit_test(test_merge_changes_only_what_changed),
        cmocka_unit_test(test_merge_remove_and_keep),
        cmocka_unit_test(test_merge_keeps_computed_and_refuses_kind_change),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
