/* fuzz_repo_list_query.c - libFuzzer target: list parameters (name=value lines) as torkeep's
 * list and deletions routes parse them. SPDX-License-Identifier: Apache-2.0 */
#include "repo/repo.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_PARAMS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char buf[1024];
    size_t n = size < sizeof buf - 1 ? size : sizeof buf - 1;
    memcpy(buf, data, n);
    buf[n] = '\0';
    const char *names[FUZZ_PARAMS];
    const char *values[FUZZ_PARAMS];
    size_t k = 0;
    char *p = buf;
    while (k < FUZZ_PARAMS && p && *p) {
        char *nl = strchr(p, '\n');
        if (nl) {
            *nl = '\0';
        }
        char *eq = strchr(p, '=');
        if (eq) {
            *eq = '\0';
            names[k] = p;
            values[k] = eq + 1;
            k++;
        }
        p = nl ? nl + 1 : NULL;
    }
    struct repo_list_query q;
    struct err_info ei;
    if (repo_list_query_parse(names, values, k, &q, &ei) == ERR_OK) {
        if (q.maxrec < 1 || q.maxrec > REPO_LIST_MAXREC) {
            abort();
        }
    }
    return 0;
}
