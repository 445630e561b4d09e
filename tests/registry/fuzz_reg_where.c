/* fuzz_reg_where.c - libFuzzer target: any bytes as a WHERE expression for a dataset type with
 * every dimension, then as one for a type with none. A compiled expression must keep values out
 * of the SQL: no quote, semicolon or comment marker may appear in it, and every parameter
 * placeholder must be in range. SPDX-License-Identifier: Apache-2.0 */
#include "registry/registry.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *expr, const char *const *dims)
{
    struct reg_where *w = NULL;
    struct err_info ei;
    if (reg_where_compile(expr, dims, "fuzz", 3, &w, &ei) != ERR_OK) {
        if (ei.msg[0] == '\0') {
            abort(); /* every refusal says why */
        }
        return;
    }
    const char *sql = reg_where_sql(w);
    /* the only quoted text the compiler writes is the range bound flag '[)' */
    for (const char *p = sql; (p = strchr(p, '\'')) != NULL; p += 4) {
        if (strncmp(p, "'[)'", 4) != 0) {
            abort();
        }
    }
    if (strchr(sql, ';') || strstr(sql, "--") || strstr(sql, "/*")) {
        abort();
    }
    for (const char *p = sql; (p = strchr(p, '$')) != NULL; p++) {
        int n = atoi(p + 1);
        if (n < 3 || n >= 3 + reg_where_nparams(w)) {
            abort();
        }
    }
    for (int i = 0; i < reg_where_nparams(w); i++) {
        if (!reg_where_param(w, i)) {
            abort();
        }
    }
    reg_where_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const all[] = {"detector", "exposure", "instrument", "physical_filter",
                                      NULL};
    static const char *const none[] = {NULL};
    char *expr = malloc(size + 1);
    if (!expr) {
        return 0;
    }
    memcpy(expr, data, size);
    expr[size] = '\0';
    check(expr, all);
    check(expr, none);
    free(expr);
    return 0;
}
