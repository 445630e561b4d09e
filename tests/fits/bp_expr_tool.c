/* bp_expr_tool.c - evaluate blueprint expressions against KEY=VALUE keywords, one result line
 * per expression ("value", "<none>" or "error: message"); the driver of check_bp_astro.py.
 * Usage: bp_expr_tool [-b blueprint] [KEY=VALUE ...] -- EXPR ...
 * SPDX-License-Identifier: Apache-2.0 */
#include "blueprint/blueprint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kv {
    char **argv;
    int n;
};

static const char *get(const void *ctx, const char *key)
{
    const struct kv *k = ctx;
    size_t l = strlen(key);
    for (int i = 0; i < k->n; i++) {
        if (strncmp(k->argv[i], key, l) == 0 && k->argv[i][l] == '=') {
            return k->argv[i] + l + 1;
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    struct bp *b = NULL;
    struct err_info ei = {0};
    int i = 1;
    if (bp_new(&b, &ei) != ERR_OK) {
        return 2;
    }
    if (argc > 2 && strcmp(argv[1], "-b") == 0) {
        if (bp_load_file(b, argv[2], &ei) != ERR_OK) {
            printf("error: %s\n", ei.msg);
            bp_free(b);
            return 1;
        }
        i = 3;
    }
    struct kv k = {argv + i, 0};
    while (i < argc && strcmp(argv[i], "--") != 0) {
        k.n++;
        i++;
    }
    static char out[BP_VALUE_MAX];
    for (i++; i < argc; i++) {
        char line[8192];
        bool found = false;
        snprintf(line, sizeof line, "Observation.type := %s\n", argv[i]);
        if (bp_load_text(b, "expr.bp", line, strlen(line), &ei) != ERR_OK) {
            printf("error: %s\n", ei.msg);
            continue;
        }
        struct bp_keys keys = {.ctx = &k, .get = get};
        if (bp_eval(bp_get(b, "Observation.type", 0), &keys, out, sizeof out, &found, &ei) !=
            ERR_OK) {
            printf("error: %s\n", ei.msg);
        } else {
            printf("%s\n", found ? out : "<none>");
        }
    }
    bp_free(b);
    return 0;
}
