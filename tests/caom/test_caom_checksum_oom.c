/* test_caom_checksum_oom.c - lib/caom checksums when memory for sorting the children runs out:
 * calloc and malloc are wrapped (-Wl,--wrap=..., so only lib/caom's and this file's calls are
 * seen) and made to fail; the digests must still equal the Java reference values, never a
 * digest that silently left children out or hashed a set unsorted. Also the set semantics
 * (sorted, each value once) of keyword and enum sets.
 * SPDX-License-Identifier: Apache-2.0 */
#include "caom/caom.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "caom_test.h"
#include "support/alloc_fail.h"

static void check(const char *rel, const char *acc_expected)
{
    struct caom_observation *o = caom_test_load(rel);
    uint8_t d[16];
    char s[CAOM_CHECKSUM_URI_MAX];
    alloc_fail_all(true);
    caom_acc_checksum_observation(o, d);
    alloc_fail_all(false);
    assert_true(alloc_fail_refused() > 0); /* the fallback really ran */
    caom_checksum_format(d, s);
    assert_string_equal(s, acc_expected);
    /* update without memory, then verify with memory: every entity agrees */
    for (size_t i = 0; i < o->n_planes; i++)
        o->planes[i]->e.acc_meta_checksum[0] = '\0';
    alloc_fail_all(true);
    caom_checksum_update(o);
    alloc_fail_all(false);
    assert_string_equal(o->e.acc_meta_checksum, acc_expected);
    struct err_info ei = {0};
    assert_int_equal(caom_checksum_verify(o, &ei), ERR_OK);
    caom_observation_free(o);
}

static void test_sample_derived(void **state)
{
    (void)state;
    check("caom2tools/SampleDerived-CAOM-2.4.xml", "md5:b867568f4c08afe0717ab818486d82b0");
}

static void test_sample_simple(void **state)
{
    (void)state;
    check("caom2tools/SampleSimple-CAOM-2.3.xml", "md5:ab5e46a8f7f542756d61eb186921271b");
}

/* Several planes, two of them with the same UUID (bad input): the fallback order feeds each
 * child exactly once, in UUIDComparator order, as the sorted path does. */
static void test_order_and_duplicates(void **state)
{
    (void)state;
    static const char *const ids[] = {
        "80000000-0000-4000-8000-000000000000", "10000000-0000-4000-8000-000000000000",
        "ffffffff-0000-1000-8000-000000000000", "10000000-0000-4000-8000-000000000000",
        "00000000-0000-4000-8000-000000000001",
    };
    struct caom_observation *o = caom_observation_new(CAOM_OBS_SIMPLE, "C", "o");
    assert_non_null(o);
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        struct caom_plane *p = caom_plane_new("same");
        assert_non_null(p);
        assert_int_equal(caom_uuid_parse(ids[i], p->e.id), ERR_OK);
        assert_int_equal(caom_observation_add_plane(o, p), ERR_OK);
    }
    uint8_t sorted[16], fallback[16];
    caom_acc_checksum_observation(o, sorted);
    alloc_fail_all(true);
    caom_acc_checksum_observation(o, fallback);
    alloc_fail_all(false);
    assert_true(alloc_fail_refused() > 0);
    assert_memory_equal(sorted, fallback, 16);
    /* and a plane left out changes the digest (the comparison above can fail) */
    o->n_planes--;
    caom_acc_checksum_observation(o, fallback);
    o->n_planes++;
    assert_memory_not_equal(sorted, fallback, 16);
    caom_observation_free(o);
}

static void meta_of(const struct caom_observation *o, bool fail, uint8_t d[16])
{
    alloc_fail_all(fail);
    caom_meta_checksum_observation(o, d);
    alloc_fail_all(false);
}

/* A keyword set is hashed sorted and once per value, with or without memory to sort it. */
static void test_keyword_set(void **state)
{
    (void)state;
    struct caom_observation *o = caom_observation_new(CAOM_OBS_SIMPLE, "C", "o");
    assert_non_null(o);
    o->instrument = calloc(1, sizeof(*o->instrument));
    assert_non_null(o->instrument);
    assert_int_equal(caom_str_set(&o->instrument->name, "i"), ERR_OK);
    static const char *const kw[] = {"b", "a", "c", "a"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(caom_strlist_add(&o->instrument->keywords, kw[i]), ERR_OK);
    uint8_t sorted[16], fallback[16], plain[16];
    meta_of(o, false, sorted);
    meta_of(o, true, fallback);
    assert_true(alloc_fail_refused() > 0);
    assert_memory_equal(sorted, fallback, 16);
    /* the same set written sorted without the duplicate gives the same digest... */
    caom_strlist_clear(&o->instrument->keywords);
    static const char *const kw2[] = {"a", "b", "c"};
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(caom_strlist_add(&o->instrument->keywords, kw2[i]), ERR_OK);
    meta_of(o, false, plain);
    assert_memory_equal(sorted, plain, 16);
    /* ...and a different set a different one */
    o->instrument->keywords.n = 2;
    meta_of(o, false, plain);
    o->instrument->keywords.n = 3;
    assert_memory_not_equal(sorted, plain, 16);
    caom_observation_free(o);
}

static void plane_meta(struct caom_plane *p, const enum caom_pol_state *st, size_t n,
                       uint8_t d[16])
{
    memcpy(p->polarization->states, st, n * sizeof(*st));
    p->polarization->n_states = n;
    caom_meta_checksum_plane(p, d);
}

/* Enum sets (polarization states, energy bands): declaration order, once each. */
static void test_enum_set(void **state)
{
    (void)state;
    struct caom_plane *p = caom_plane_new("p");
    assert_non_null(p);
    p->polarization = calloc(1, sizeof(*p->polarization));
    assert_non_null(p->polarization);
    p->polarization->states = calloc(8, sizeof(*p->polarization->states));
    assert_non_null(p->polarization->states);
    static const enum caom_pol_state messy[] = {CAOM_POL_V, CAOM_POL_I, CAOM_POL_Q, CAOM_POL_I};
    static const enum caom_pol_state clean[] = {CAOM_POL_I, CAOM_POL_Q, CAOM_POL_V};
    uint8_t a[16], b[16], c[16];
    plane_meta(p, messy, 4, a);
    plane_meta(p, clean, 3, b);
    assert_memory_equal(a, b, 16);
    plane_meta(p, clean, 2, c);
    assert_memory_not_equal(a, c, 16);
    alloc_fail_all(true);
    plane_meta(p, messy, 4, c);
    alloc_fail_all(false);
    assert_memory_equal(a, c, 16);
    caom_plane_free(p);
}

int main(void)
{
    int setup = caom_test_setup();
    if (setup)
        return setup;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_derived),
        cmocka_unit_test(test_sample_simple),
        cmocka_unit_test(test_order_and_duplicates),
        cmocka_unit_test(test_keyword_set),
        cmocka_unit_test(test_enum_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
