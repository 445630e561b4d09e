/* expect_yaml.c - expectation YAML to jansson values through lib/yaml, with this module's caps
 * on size, depth and nodes.
 * SPDX-License-Identifier: Apache-2.0 */
#include "expect/expect.h"

#include "yaml/yaml.h"

#include <errno.h>
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
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;
    enum err rc;
    if (!fp) {
        return err_set(ei, ERR_NOT_FOUND, "could not open file \"%s\": %s", path,
                       ERR_ERRNO(errno));
    }
    buf = malloc(EXPECT_FILE_MAX + 1);
    if (!buf) {
        fclose(fp);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    n = fread(buf, 1, EXPECT_FILE_MAX + 1, fp);
    if (ferror(fp)) {
        rc = err_set(ei, ERR_IO, "could not read file \"%s\"", path);
    } else if (n > EXPECT_FILE_MAX) {
        rc = err_set(ei, ERR_TOO_LARGE, "file \"%s\" is larger than %zu bytes", path,
                     EXPECT_FILE_MAX);
    } else {
        rc = expect_yaml_parse(buf, n, out, ei);
        if (rc != ERR_OK) {
            err_prefix(ei, "file \"%s\": ", path);
        }
    }
    free(buf);
    fclose(fp);
    return rc;
}
