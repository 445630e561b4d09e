/* fuzz_collection_def.c - libFuzzer target: a collection definition as JSON text (first line)
 * and file names to match against it (the following lines).
 * SPDX-License-Identifier: Apache-2.0 */
#include "collection/collection.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nl = memchr(data, '\n', size);
    size_t jlen = nl ? (size_t)(nl - (const char *)data) : size;
    json_error_t je;
    json_t *doc = json_loadb((const char *)data, jlen, 0, &je);
    struct coll_def *d = NULL;
    struct err_info ei;
    if (doc && coll_def_parse("fuzz", doc, NULL, &d, &ei) == ERR_OK) {
        const char *p = nl ? nl + 1 : NULL;
        const char *end = (const char *)data + size;
        while (p && p < end) {
            const char *q = memchr(p, '\n', (size_t)(end - p));
            size_t n = q ? (size_t)(q - p) : (size_t)(end - p);
            char name[512];
            if (n >= sizeof name) {
                n = sizeof name - 1;
            }
            memcpy(name, p, n);
            name[n] = '\0';
            struct coll_match m;
            if (coll_def_match(d, name, &m, &ei) == ERR_OK && m.matched &&
                strlen(m.obs_id) >= COLL_ID_MAX) {
                __builtin_trap();
            }
            p = q ? q + 1 : NULL;
        }
        json_t *back = coll_def_json(d);
        struct coll_def *d2 = NULL;
        if (!back || coll_def_parse("fuzz", back, NULL, &d2, &ei) != ERR_OK) {
            __builtin_trap(); /* what was accepted is accepted again */
        }
        coll_def_destroy(d2);
        json_decref(back);
    }
    coll_def_destroy(d);
    json_decref(doc);
    return 0;
}
