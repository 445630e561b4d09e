/* test_yaml_alloc_fail.c - allocation-failure injection over lib/yaml: malloc, calloc and
 * realloc are wrapped at link time (tests/support/alloc_fail.c) and jansson is pointed at the
 * wrapped malloc, so the n-th allocation of yamlx_doc_parse and of yamlx_json_parse fails, for
 * every n until the call runs through. Each run must end in ERR_NOMEM with nothing handed back,
 * or in the complete result (equal to the one made without failures), never in a crash,
 * another error or (under ASan/valgrind) a leak. libyaml is a shared library and keeps its own
 * allocations.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/alloc_fail.h"
#include "yaml/yaml.h"

#include <stdlib.h>
#include <string.h>

#define RUNS_MAX 10000

static const struct yamlx_limits lim = {.max_bytes = 1u << 20, .max_depth = 32,
                                        .max_nodes = 100000};

static const char text[] = "instrument: acs\n"
                           "types:\n"
                           "  biasfile:\n"
                           "    parkeys: [DETECTOR, CCDAMP, CCDGAIN]\n"
                           "    rules:\n"
                           "      - match: [HRC, \"A|B|C|D\", 2.0]\n"
                           "        useafter: {\"2002-03-01 00:00:00\": m4r1753rj_bia.fits}\n"
                           "      - {match: [WFC, '*', N/A], file: xyz_bia.fits}\n"
                           "  flshfile: N/A\n"
                           "list: [1, -2.5, true, ~, 'q', {a: [x, y, z], b: {c: d}}]\n";

static void *json_malloc(size_t n)
{
    return malloc(n);
}

static void json_free(void *p)
{
    free(p);
}

static size_t count(const struct yamlx_node *n)
{
    size_t c = 1;
    for (size_t i = 0; i < yamlx_node_size(n); i++) {
        if (yamlx_node_kind(n) == YAMLX_SEQUENCE) {
            c += count(yamlx_seq_item(n, i));
        } else {
            c += count(yamlx_map_key(n, i)) + count(yamlx_map_value(n, i));
        }
    }
    return c;
}

static void test_doc_parse(void **state)
{
    (void)state;
    struct yamlx_doc *d = NULL;
    struct err_info ei;
    assert_int_equal(yamlx_doc_parse(text, strlen(text), &lim, &d, &ei), ERR_OK);
    size_t want = count(yamlx_doc_root(d));
    yamlx_doc_destroy(d);
    long n;
    int nomem = 0;
    for (n = 0; n < RUNS_MAX; n++) {
        d = NULL;
        alloc_fail_nth(n);
        enum err rc = yamlx_doc_parse(text, strlen(text), &lim, &d, &ei);
        bool fired = alloc_fail_refused() > 0;
        alloc_fail_nth(-1);
        if (rc == ERR_NOMEM) {
            assert_true(fired);
            assert_null(d);
            nomem++;
            continue;
        }
        if (rc != ERR_OK) {
            fail_msg("allocation %ld failed: %s (%s)", n, err_str(rc), ei.msg);
        }
        assert_int_equal(count(yamlx_doc_root(d)), want);
        yamlx_doc_destroy(d);
        if (!fired) {
            break;
        }
    }
    assert_true(n < RUNS_MAX);
    assert_true(nomem > 10);
}

static void test_json_parse(void **state)
{
    (void)state;
    json_t *want = NULL;
    struct err_info ei;
    assert_int_equal(yamlx_json_parse(text, strlen(text), &lim, &want, &ei), ERR_OK);
    long n;
    int nomem = 0;
    for (n = 0; n < RUNS_MAX; n++) {
        json_t *j = NULL;
        alloc_fail_nth(n);
        enum err rc = yamlx_json_parse(text, strlen(text), &lim, &j, &ei);
        bool fired = alloc_fail_refused() > 0;
        alloc_fail_nth(-1);
        if (rc == ERR_NOMEM) {
            assert_true(fired);
            assert_null(j);
            nomem++;
            continue;
        }
        if (rc != ERR_OK) {
            fail_msg("allocation %ld failed: %s (%s)", n, err_str(rc), ei.msg);
        }
        assert_true(json_equal(j, want));
        json_decref(j);
        if (!fired) {
            break;
        }
    }
    json_decref(want);
    assert_true(n < RUNS_MAX);
    assert_true(nomem > 10);
}

int main(void)
{
    json_set_alloc_funcs(json_malloc, json_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_parse),
        cmocka_unit_test(test_json_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
