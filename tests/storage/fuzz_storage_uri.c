/* fuzz_storage_uri.c - libFuzzer target for storage_uri_parse (and the archive URL builder):
 * any bytes must give ERR_OK with a consistent record or a clean error, never a crash.
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/storage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > STORAGE_URI_MAX + 16) {
        return 0;
    }
    char *s = malloc(size + 1);
    if (!s) {
        return 0;
    }
    memcpy(s, data, size);
    s[size] = '\0';
    struct storage_uri *u = malloc(sizeof *u);
    if (!u) {
        free(s);
        return 0;
    }
    struct err_info ei = {0};
    if (storage_uri_parse(s, u, &ei) == ERR_OK) {
        /* invariants of a parsed record */
        switch (u->scheme) {
        case STORAGE_FILE:
            if (!u->path[0]) {
                abort();
            }
            break;
        case STORAGE_S3:
            if (strlen(u->bucket) < 3 || strstr(u->key, "//") || u->key[0] == '/') {
                abort();
            }
            break;
        case STORAGE_ASTROQUERY:
            if (!u->name[0] || strchr(u->name, '/')) {
                abort();
            }
            break;
        case STORAGE_HTTP:
        case STORAGE_HTTPS:
            if (strncmp(u->url + (u->scheme == STORAGE_HTTP ? 4 : 5), "://", 3) != 0) {
                abort();
            }
            break;
        }
    } else if (!ei.msg[0]) {
        abort(); /* every failure explains itself */
    }
    free(u);
    free(s);
    return 0;
}
