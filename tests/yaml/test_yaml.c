/* test_yaml.c - lib/yaml: the tree keeps raw scalar text, styles, document order, duplicate and
 * non-scalar keys, and 1-based lines and columns; JSON conversion types plain scalars and
 * refuses duplicate and non-scalar keys naming the position; syntax errors, second documents,
 * aliases, anchored scalars and the size, depth and node caps are refused.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "yaml/yaml.h"

#include <stdlib.h>
#include <string.h>

static const struct yamlx_limits lim = {.max_bytes = 1u << 20, .max_depth = 32,
                                        .max_nodes = 100000};

static struct yamlx_doc *parse_ok(const char *y)
{
    struct yamlx_doc *d = NULL;
    struct err_info ei;
    if (yamlx_doc_parse(y, strlen(y), &lim, &d, &ei) != ERR_OK) {
        fail_msg("parse: %s", ei.msg);
    }
    assert_non_null(d);
    return d;
}

static void parse_fails(const char *y, size_t len, const struct yamlx_limits *l, enum err want,
                        const char *msg)
{
    struct yamlx_doc *d = (struct yamlx_doc *)1;
    struct err_info ei;
    enum err e = yamlx_doc_parse(y, len, l, &d, &ei);
    if (e != want) {
        fail_msg("%s: got %s want %s (%s)", y, err_str(e), err_str(want), ei.msg);
    }
    assert_null(d);
    if (!strstr(ei.msg, msg)) {
        fail_msg("message \"%s\" lacks \"%s\"", ei.msg, msg);
    }
}

static void test_tree_positions(void **state)
{
    (void)state;
    const char *y = "instrument: acs\n"
                    "types:\n"
                    "  biasfile:\n"
                    "    parkeys: [DETECTOR, 'CCDAMP']\n"
                    "    rules:\n"
                    "      - match: [HRC, 2.0, \"N/A\"]\n"
                    "        file: x.fits\n";
    struct yamlx_doc *d = parse_ok(y);
    const struct yamlx_node *root = yamlx_doc_root(d);
    assert_int_equal(yamlx_node_kind(root), YAMLX_MAPPING);
    assert_int_equal(yamlx_node_size(root), 2);
    assert_int_equal(yamlx_node_line(root), 1);
    assert_string_equal(yamlx_scalar(yamlx_map_key(root, 0)), "instrument");
    assert_string_equal(yamlx_scalar(yamlx_map_value(root, 0)), "acs");
    assert_int_equal(yamlx_node_column(yamlx_map_value(root, 0)), 13);
    const struct yamlx_node *types = yamlx_map_value(root, 1);
    assert_int_equal(yamlx_node_line(types), 3);
    const struct yamlx_node *bias = yamlx_map_value(types, 0);
    const struct yamlx_node *pk = yamlx_map_value(bias, 0);
    assert_int_equal(yamlx_node_kind(pk), YAMLX_SEQUENCE);
    assert_int_equal(yamlx_node_line(pk), 4);
    assert_int_equal(yamlx_node_column(pk), 14);
    assert_true(yamlx_scalar_plain(yamlx_seq_item(pk, 0)));
    assert_false(yamlx_scalar_plain(yamlx_seq_item(pk, 1)));
    assert_string_equal(yamlx_scalar(yamlx_seq_item(pk, 1)), "CCDAMP");
    assert_null(yamlx_seq_item(pk, 2));
    const struct yamlx_node *rule = yamlx_seq_item(yamlx_map_value(bias, 1), 0);
    assert_int_equal(yamlx_node_line(rule), 6);
    const struct yamlx_node *match = yamlx_map_value(rule, 0);
    /* raw text: 2.0 is not rewritten as a number */
    assert_string_equal(yamlx_scalar(yamlx_seq_item(match, 1)), "2.0");
    assert_int_equal(yamlx_node_line(yamlx_map_value(rule, 1)), 7);
    assert_int_equal(yamlx_node_column(yamlx_map_value(rule, 1)), 15);
    /* wrong-kind accessors answer NULL / 0 */
    assert_null(yamlx_scalar(rule));
    assert_null(yamlx_seq_item(rule, 0));
    assert_null(yamlx_map_key(match, 0));
    assert_int_equal(yamlx_node_size(yamlx_seq_item(match, 0)), 0);
    assert_int_equal(yamlx_node_line(NULL), 0);
    yamlx_doc_destroy(d);
}

static void test_tree_keeps_keys(void **state)
{
    (void)state;
    const char *y = "a: 1\nA: 2\na: 3\n? [k]\n: v\n\"n\\0l\": ''\n";
    struct yamlx_doc *d = parse_ok(y);
    const struct yamlx_node *root = yamlx_doc_root(d);
    assert_int_equal(yamlx_node_size(root), 5);
    assert_string_equal(yamlx_scalar(yamlx_map_value(root, 2)), "3");
    assert_int_equal(yamlx_node_kind(yamlx_map_key(root, 3)), YAMLX_SEQUENCE);
    assert_int_equal(yamlx_node_line(yamlx_map_key(root, 3)), 4);
    assert_int_equal(yamlx_scalar_len(yamlx_map_key(root, 4)), 3);
    assert_memory_equal(yamlx_scalar(yamlx_map_key(root, 4)), "n\0l", 4);
    assert_int_equal(yamlx_scalar_len(yamlx_map_value(root, 4)), 0);
    yamlx_doc_destroy(d);
    /* empty text: no root; JSON null */
    d = parse_ok("");
    assert_null(yamlx_doc_root(d));
    json_t *j = NULL;
    assert_int_equal(yamlx_node_to_json(yamlx_doc_root(d), &j, NULL), ERR_OK);
    assert_true(json_is_null(j));
    json_decref(j);
    yamlx_doc_destroy(d);
    yamlx_doc_destroy(NULL);
}

static void test_json(void **state)
{
    (void)state;
    json_t *j = NULL;
    struct err_info ei;
    const char *y = "i: 42\nr: -1.5e3\nb: True\nn: ~\ns: '42'\nt: hello\nl: [1, x, {k: null}]\n"
                    "1.50: float key\n~: null key\n";
    assert_int_equal(yamlx_json_parse(y, strlen(y), &lim, &j, &ei), ERR_OK);
    assert_int_equal(json_integer_value(json_object_get(j, "i")), 42);
    assert_true(json_real_value(json_object_get(j, "r")) == -1500.0);
    assert_true(json_is_true(json_object_get(j, "b")));
    assert_true(json_is_null(json_object_get(j, "n")));
    assert_string_equal(json_string_value(json_object_get(j, "s")), "42");
    assert_string_equal(json_string_value(json_object_get(j, "t")), "hello");
    json_t *l = json_object_get(j, "l");
    assert_int_equal(json_array_size(l), 3);
    assert_true(json_is_null(json_object_get(json_array_get(l, 2), "k")));
    assert_string_equal(json_string_value(json_object_get(j, "1.5")), "float key");
    assert_string_equal(json_string_value(json_object_get(j, "")), "null key");
    void *it = json_object_iter(j); /* document order */
    assert_string_equal(json_object_iter_key(it), "i");
    json_decref(j);

    const char *dup = "a: 1\nb:\n  c: 2\n  c: 3\n";
    assert_int_equal(yamlx_json_parse(dup, strlen(dup), &lim, &j, &ei), ERR_PARSE);
    assert_null(j);
    assert_string_equal(ei.msg, "line 4 column 3: duplicate key \"c\"");
    const char *num = "1: a\n1.0: b\n"; /* both keys read as "1" */
    assert_int_equal(yamlx_json_parse(num, strlen(num), &lim, &j, &ei), ERR_PARSE);
    assert_string_equal(ei.msg, "line 2 column 1: duplicate key \"1\"");
    const char *ck = "a: 1\n? {x: 1}\n: v\n";
    assert_int_equal(yamlx_json_parse(ck, strlen(ck), &lim, &j, &ei), ERR_PARSE);
    assert_string_equal(ei.msg, "line 2 column 3: a mapping key must be a scalar");
}

static void test_refusals(void **state)
{
    (void)state;
    const char *syn = "a: 1\nb: [1, 2\nc: 3\n";
    parse_fails(syn, strlen(syn), &lim, ERR_PARSE, "line 3 column");
    const char *two = "a: 1\n---\nb: 2\n";
    parse_fails(two, strlen(two), &lim, ERR_PARSE, "more than one YAML document");
    const char *alias = "a: &x {b: 1}\nc: *x\n";
    parse_fails(alias, strlen(alias), &lim, ERR_PARSE, "line 2: YAML aliases are not supported");
    const char *anchor = "a: 1\nb: &x 2\n";
    parse_fails(anchor, strlen(anchor), &lim, ERR_PARSE, "line 2: YAML anchors are not supported");
    const char *cycle = "types: &t\n  t: *t\n";
    parse_fails(cycle, strlen(cycle), &lim, ERR_PARSE, "aliases are not supported");

    char deep[101];
    memset(deep, '[', 100);
    deep[100] = '\0';
    parse_fails(deep, 100, &lim, ERR_TOO_LARGE, "nested deeper than 32");
}

static void test_caps(void **state)
{
    (void)state;
    struct yamlx_limits small = {.max_bytes = 16, .max_depth = 2, .max_nodes = 10};
    struct yamlx_doc *d = NULL;
    struct err_info ei;
    assert_int_equal(yamlx_doc_parse("[[1]]", 5, &small, &d, &ei), ERR_OK);
    yamlx_doc_destroy(d);
    parse_fails("[[[1]]]", 7, &small, ERR_TOO_LARGE, "line 1: YAML nested deeper than 2");
    parse_fails("[1,2,3,4,5,6,7]", 15, &small, ERR_TOO_LARGE, "YAML has more than 10 nodes");
    parse_fails("a: 0123456789abcdef", 19, &small, ERR_TOO_LARGE, "larger than 16 bytes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_positions),
        cmocka_unit_test(test_tree_keeps_keys),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
