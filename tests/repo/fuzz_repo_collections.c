/* fuzz_repo_collections.c - libFuzzer target: a caom2-collections.conf file, then the first
 * line as an OBSFLOW_CAOM_COLLECTIONS value; every outcome must be clean and bounded.
 * SPDX-License-Identifier: Apache-2.0 */
#include "repo/repo.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct err_info ei;
    struct repo_collections *c = NULL;
    if (repo_collections_parse("*", &c, &ei) != ERR_OK) {
        abort();
    }
    if (repo_collections_add_file(c, (const char *)data, size, "fuzz", &ei) == ERR_OK) {
        for (size_t i = 0; i < repo_collections_count(c); i++) {
            const char *n = repo_collections_name(c, i);
            if (!repo_collection_known(c, n, NULL)) {
                abort(); /* every configured name is served */
            }
            if (repo_authorize(c, "t", n, REPO_WRITE, "t", &ei) != ERR_OK) {
                abort(); /* the API token grants every write */
            }
        }
    }
    repo_collections_free(c);
    char spec[512];
    size_t n = size < sizeof spec - 1 ? size : sizeof spec - 1;
    memcpy(spec, data, n);
    spec[n] = '\0';
    struct repo_collections *d = NULL;
    if (repo_collections_parse(spec, &d, &ei) == ERR_OK) {
        repo_collections_free(d);
    }
    return 0;
}
