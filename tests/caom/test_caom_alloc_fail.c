/* test_caom_alloc_fail.c - allocation-failure injection for lib/caom: malloc, calloc and
 * realloc are wrapped at link time (lib/caom's and lib/core's objects and this file; libxml2
 * and jansson are shared libraries and unaffected) and the n-th call fails, for every n until
 * the operation runs through. Each run must end in ERR_OK or ERR_NOMEM (never another error,
 * never a crash), and, under ASan/valgrind, leak nothing. Operations: XML read, XML write,
 * clone, merge and plane computation over shared documents.
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

#define RUNS_MAX 200000L /* bound on injection points per operation */

static struct caom_observation *parse(const char *buf, size_t len)
{
    struct caom_observation *o = NULL;
    struct err_info ei = {0};
    enum err rc = caom_xml_read(buf, len, "doc", &o, &ei);
    if (rc)
        fprintf(stderr, "%s\n", ei.msg);
    assert_int_equal(rc, ERR_OK);
    return o;
}

/* One operation under injection; returns its status. ctx is the test's fixture. */
typedef enum err (*op_fn)(void *ctx, struct err_info *ei);

/* Run @p op failing the n-th allocation for n = 0, 1, ... until a run sees no failure. */
static void inject(const char *what, op_fn op, void *ctx)
{
    long n;
    for (n = 0; n < RUNS_MAX; n++) {
        struct err_info ei = {0};
        alloc_fail_nth(n);
        enum err rc = op(ctx, &ei);
        bool fired = alloc_fail_refused() > 0;
        alloc_fail_nth(-1);
        if (!fired) {
            assert_int_equal(rc, ERR_OK);
            break;
        }
        if (rc != ERR_OK && rc != ERR_NOMEM) {
            fprintf(stderr, "%s: allocation %ld failed: %s: %s\n", what, n, err_str(rc), ei.msg);
            fail();
        }
    }
    assert_true(n > 0 && n < RUNS_MAX);
    fprintf(stderr, "%s: %ld injection points\n", what, n);
}

struct fx {
    const char *buf;                /* document text */
    size_t len;
    struct caom_observation *o;     /* the document read normally */
    struct caom_observation *other; /* a second version for merges */
    struct caom_observation *merged;   /* reference: o merged with other, no injection */
    struct caom_observation *computed; /* reference: o computed, no injection */
};

static enum err op_read(void *ctx, struct err_info *ei)
{
    struct fx *f = ctx;
    struct caom_observation *o = NULL;
    enum err rc = caom_xml_read(f->buf, f->len, "doc", &o, ei);
    if (rc == ERR_OK) {
        assert_true(caom_observation_equal(o, f->o, true, NULL, 0));
        caom_observation_free(o);
    } else {
        assert_null(o);
    }
    return rc;
}

static enum err op_write(void *ctx, struct err_info *ei)
{
    struct fx *f = ctx;
    char *out = NULL;
    size_t len = 0;
    enum err rc = caom_xml_write(f->o, &out, &len, ei);
    if (rc == ERR_OK)
        assert_true(len > 0);
    free(out);
    return rc;
}

static enum err op_clone(void *ctx, struct err_info *ei)
{
    struct fx *f = ctx;
    struct caom_observation *c = caom_observation_clone(f->o);
    if (!c)
        return err_set(ei, ERR_NOMEM, "clone failed");
    bool same = caom_observation_equal(c, f->o, true, NULL, 0);
    caom_observation_free(c);
    assert_true(same);
    return ERR_OK;
}

static enum err op_merge(void *ctx, struct err_info *ei)
{
    struct fx *f = ctx;
    long saved = alloc_fail_countdown();
    alloc_fail_nth(-1);
    struct caom_observation *ex = caom_observation_clone(f->o);
    assert_non_null(ex);
    alloc_fail_nth(saved);
    enum err rc = caom_merge(ex, f->other, true, NULL, ei);
    /* a merge that reports success did all of its work (uuids are random: compare without) */
    if (rc == ERR_OK && f->merged)
        assert_true(caom_observation_equal(ex, f->merged, false, NULL, 0));
    caom_observation_free(ex);
    return rc;
}

static enum err op_compute(void *ctx, struct err_info *ei)
{
    struct fx *f = ctx;
    long saved = alloc_fail_countdown();
    alloc_fail_nth(-1);
    struct caom_observation *c = caom_observation_clone(f->o);
    assert_non_null(c);
    alloc_fail_nth(saved);
    enum err rc = caom_observation_compute(c, NULL, ei);
    /* a computation that reports success computed everything (nothing silently dropped) */
    if (rc == ERR_OK && f->computed) {
        char where[256] = "";
        bool same = caom_observation_equal(c, f->computed, true, where, sizeof where);
        if (!same)
            fprintf(stderr, "compute under injection differs at %s\n", where);
        assert_true(same);
    }
    caom_observation_free(c);
    return rc;
}

static void run_doc(const char *rel, const char *other_rel)
{
    struct fx f = {0};
    char *buf = caom_test_slurp(rel, &f.len);
    f.buf = buf;
    f.o = parse(buf, f.len);
    size_t olen = 0;
    char *obuf = caom_test_slurp(other_rel, &olen);
    f.other = parse(obuf, olen);
    free(obuf);
    struct err_info ei = {0};
    f.merged = caom_observation_clone(f.o);
    assert_non_null(f.merged);
    if (caom_merge(f.merged, f.other, true, NULL, &ei) != ERR_OK) {
        caom_observation_free(f.merged);
        f.merged = NULL;
    }
    f.computed = caom_observation_clone(f.o);
    assert_non_null(f.computed);
    assert_int_equal(caom_observation_compute(f.computed, NULL, &ei), ERR_OK);
    inject("read", op_read, &f);
    inject("write", op_write, &f);
    inject("clone", op_clone, &f);
    if (f.merged)
        inject("merge", op_merge, &f);
    inject("compute", op_compute, &f);
    caom_observation_free(f.o);
    caom_observation_free(f.other);
    caom_observation_free(f.merged);
    caom_observation_free(f.computed);
    free(buf);
}

static void test_sample_derived(void **state)
{
    (void)state;
    /* every CAOM-2.4 field; merged with itself re-read (all matched, nothing changed) */
    run_doc("caom2tools/SampleDerived-CAOM-2.4.xml", "caom2tools/SampleDerived-CAOM-2.4.xml");
}

static void test_possum_chunks(void **state)
{
    (void)state;
    /* chunks with spatial/spectral/polarization WCS (compute), merged with the p3d product
     * of the same survey (different planes: adds and removes) */
    run_doc("possum2caom2/casda/PSM_pilot1_1368MHz_18asec_2031-5249_11073_i_v1.expected.xml",
            "possum2caom2/possum/"
            "PSM_pilot1_944MHz_18asec_2226-5552_11268_p3d_v1_coeff0.expected.xml");
}

int main(void)
{
    int setup = caom_test_setup();
    if (setup)
        return setup;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_derived),
        cmocka_unit_test(test_possum_chunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
