/* expect_yaml.c - expectation YAML to jansson values through lib/yaml, with this module's caps
 * on size, depth and nodes.
 * SPDX-License-Identifier: Apache-2.0 */
#include "expect/expect.h"

#include "core/cfgdir.h"
#include "yaml/yaml.h"

#include <stdio.h>
#include <stdlib.h>

enum err expect_yaml_parse(const char *text, size_t len, json_t **out, struct err_info *ei)
{
    static const struct yamlx_limits lim = {.max_bytes = EXPECT_FILE_MAX,
                                            .max_depth = EXPECT_YAML_DEPTH_MAX,
                                            .max_nodes = EXPECT_YAML_NODES_MAX};
    return yamlx_json_parse(text, len, &lim, out, ei);
}

enum err expect_yaml_load(const char *path, json_t **out, struct err_info *ei)
{
    char *buf = NULL;
    size_t n = 0;
    enum err rc = cfgdir_read(path, EXPECT_FILE_MAX, &buf, &n, ei);
    if (rc == ERR_OK) {
        rc = expect_yaml_parse(buf, n, out, ei);
        if (rc != ERR_OK) {
            err_prefix(ei, "file \"%s\": ", path);
        }
    }
    free(buf);
    return rc;
}
