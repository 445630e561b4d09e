/* fuzz_yaml.c - libFuzzer target: YAML text to a tree (walked whole, positions read) and to
 * JSON, under small caps.
 * SPDX-License-Identifier: Apache-2.0 */
#include "yaml/yaml.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t walk(const struct yamlx_node *n)
{
    size_t sum = yamlx_node_line(n) + yamlx_node_column(n);
    if (!n) {
        return sum;
    }
    switch (yamlx_node_kind(n)) {
    case YAMLX_SCALAR:
        sum += yamlx_scalar_len(n) + (yamlx_scalar_plain(n) ? 1u : 0u) +
               strlen(yamlx_scalar(n));
        break;
    case YAMLX_SEQUENCE:
        for (size_t i = 0; i < yamlx_node_size(n); i++) {
            sum += walk(yamlx_seq_item(n, i));
        }
        break;
    case YAMLX_MAPPING:
        for (size_t i = 0; i < yamlx_node_size(n); i++) {
            sum += walk(yamlx_map_key(n, i)) + walk(yamlx_map_value(n, i));
        }
        break;
    }
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct yamlx_limits lim = {.max_bytes = 1u << 16, .max_depth = 16,
                                            .max_nodes = 10000};
    struct yamlx_doc *d = NULL;
    struct err_info ei;
    if (yamlx_doc_parse((const char *)data, size, &lim, &d, &ei) == ERR_OK) {
        volatile size_t s = walk(yamlx_doc_root(d));
        (void)s;
        json_t *j = NULL;
        if (yamlx_node_to_json(yamlx_doc_root(d), &j, &ei) == ERR_OK) {
            json_decref(j);
        }
        yamlx_doc_destroy(d);
    }
    return 0;
}
