/* fuzz_reg_template.c - libFuzzer target: the first line is a file template, the rest a data
 * ID (JSON). A parsed template is checked against a raw-like type and rendered; a rendered
 * path must be relative, non-empty, without "." or ".." segments or empty segments.
 * SPDX-License-Identifier: Apache-2.0 */
#include "registry/registry.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const dims[] = {"detector", "exposure", "instrument", NULL};
    const char *nl = memchr(data, '\n', size);
    size_t tl = nl ? (size_t)(nl - (const char *)data) : size;
    char *text = malloc(tl + 1);
    if (!text) {
        return 0;
    }
    memcpy(text, data, tl);
    text[tl] = '\0';
    struct reg_template *t = NULL;
    struct err_info ei;
    if (reg_template_parse(text, &t, &ei) == ERR_OK) {
        if (reg_template_check(t, dims, "raw", &ei) != ERR_OK && !ei.msg[0]) {
            abort(); /* a refusal says why */
        }
        json_error_t je;
        json_t *did = nl ? json_loadb(nl + 1, size - tl - 1, 0, &je) : NULL;
        char out[REG_PATH_MAX];
        if (reg_template_render(t, "run/a", "raw", "id", did, out, sizeof out, &ei) == ERR_OK) {
            if (!out[0] || out[0] == '/') {
                abort();
            }
            for (char *seg = out; seg;) {
                char *slash = strchr(seg, '/');
                size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
                if (n == 0 || (n == 1 && seg[0] == '.') ||
                    (n == 2 && seg[0] == '.' && seg[1] == '.')) {
                    abort();
                }
                seg = slash ? slash + 1 : NULL;
            }
        }
        json_decref(did);
        reg_template_free(t);
    }
    free(text);
    return 0;
}
