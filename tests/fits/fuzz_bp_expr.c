/* fuzz_bp_expr.c - libFuzzer target: the input is one blueprint expression, compiled as
 * "Observation.type := <input>" after two let variables, then evaluated (with explain) against
 * a small header (with a keyword family for family()) with a second HDU and identities.
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blueprint/blueprint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const k_hdr[] = {"DATE-OBS", "2017-07-26T05:04:26", "EXPTIME", "60",
                                    "RA", "17:39:54.59", "DEC", "+41:48:06.6", "OBJECT",
                                    "WALLABY J124915+043926", "BP", "4000,9000", "FLAG", "T",
                                    "EQUINOX", "2017.56", "ID_00001", "S/d/101116_0041.fits.gz",
                                    "ID_00002", "C/d/101116_0050.fits.gz", NULL};

static const char *get(const void *ctx, const char *key)
{
    (void)ctx;
    for (size_t i = 0; k_hdr[i]; i += 2) {
        if (strcmp(k_hdr[i], key) == 0) {
            return k_hdr[i + 1];
        }
    }
    return NULL;
}

static bool card(const void *ctx, size_t i, const char **key, const char **value)
{
    (void)ctx;
    for (size_t j = 0; k_hdr[j]; j += 2) {
        if (j / 2 == i) {
            *key = k_hdr[j];
            *value = k_hdr[j + 1];
            return true;
        }
    }
    return false;
}

static const char *get_hdu(const void *ctx, const char *key, int hdu)
{
    return hdu == 1 && strcmp(key, "TELESCOP") == 0 ? "CFHT 3.6m" : get(ctx, key);
}

static const char *name(const void *ctx, const char *what)
{
    (void)ctx;
    return strcmp(what, "file_name") == 0 ? "x_SCIRED.fits" : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char k_pre[] = "let a = EXPTIME * 2\nlet b = concat(OBJECT, a)\n"
                                "Observation.type := ";
    static char out[BP_VALUE_MAX];
    struct bp *b = NULL;
    struct err_info ei;
    if (size > 8000 || bp_new(&b, NULL) != ERR_OK) {
        bp_free(b);
        return 0;
    }
    char *text = malloc(sizeof k_pre + size + 1);
    if (!text) {
        bp_free(b);
        return 0;
    }
    memcpy(text, k_pre, sizeof k_pre - 1);
    for (size_t i = 0; i < size; i++) { /* one line */
        char c = (char)data[i];
        text[sizeof k_pre - 1 + i] = (c == '\n' || c == '\0') ? ' ' : c;
    }
    text[sizeof k_pre - 1 + size] = '\n';
    if (bp_load_text(b, "fuzz.bp", text, sizeof k_pre + size, &ei) == ERR_OK) {
        struct bp_keys k = {.ctx = NULL, .get = get, .get_hdu = get_hdu, .name = name,
                             .card = card};
        struct bp_explain ex = {.n = 0};
        bool found = false;
        const struct bp_rule *r = bp_get(b, "Observation.type", 0);
        if (r && bp_eval_explain(r, &k, out, sizeof out, &found, &ex, &ei) != ERR_OK) {
            found = false;
        }
        free(bp_to_text(b));
    }
    free(text);
    bp_free(b);
    return 0;
}
