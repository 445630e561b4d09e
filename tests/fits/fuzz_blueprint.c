/* fuzz_blueprint.c - libFuzzer target: blueprint text into the default blueprint, then every
 * rule evaluated against a small header and the blueprint written back as text.
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blueprint/blueprint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *get(const void *ctx, const char *key)
{
    (void)ctx;
    if (strcmp(key, "DATE-OBS") == 0) {
        return "2017-03-19T00:12:42";
    }
    if (strcmp(key, "EXPTIME") == 0 || strcmp(key, "BMAJ") == 0) {
        return "60";
    }
    if (strcmp(key, "OBJECT") == 0) {
        return "M 51";
    }
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bp *b = NULL;
    struct err_info ei;
    static char out[BP_VALUE_MAX];
    if (bp_new(&b, NULL) != ERR_OK) {
        return 0;
    }
    if (bp_load_text(b, "fuzz.blueprint", (const char *)data, size, &ei) != ERR_OK) {
        ei.msg[0] = '\0'; /* the rules read before the bad line stay and are evaluated */
    }
    struct bp_keys k = {.ctx = NULL, .get = get};
    for (size_t i = 0; i < bp_rule_count(b); i++) {
        bool found = false;
        if (bp_eval(bp_rule_at(b, i), &k, out, sizeof out, &found, &ei) != ERR_OK) {
            found = false;
        }
        (void)bp_get_art(b, bp_rule_at(b, i)->key, 1, "cadc:X/y.fits");
    }
    free(bp_to_text(b));
    bp_free(b);
    return 0;
}
