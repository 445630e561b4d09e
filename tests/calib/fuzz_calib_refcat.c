/* fuzz_calib_refcat.c - libFuzzer target: YAML reference catalogs, then a selection of every
 * type they define against a fixed header.
 * SPDX-License-Identifier: Apache-2.0 */
#include "calib/calib.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *get(const char *key, void *arg)
{
    (void)arg;
    static const char *const kv[][2] = {{"DETECTOR", "HRC"}, {"CCDAMP", "C"}, {"CCDGAIN", "2"},
                                        {"FILTER1", "F555W"}, {"FILTER2", "CLEAR2S"}};
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
        if (strcmp(kv[i][0], key) == 0) {
            return kv[i][1];
        }
    }
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct calib_refcat *c = NULL;
    struct err_info ei;
    if (calib_refcat_parse((const char *)data, size, "fuzz.yaml", &c, &ei) != ERR_OK) {
        return 0;
    }
    for (size_t i = 0; i < calib_refcat_ntypes(c); i++) {
        struct calib_refsel sel;
        if (calib_refcat_select(c, calib_refcat_type(c, i), get, NULL, "2002-04-13 18:16:35",
                                &sel, &ei) == ERR_OK &&
            sel.file[0] == '\0') {
            __builtin_trap(); /* a selection always names a file or N/A */
        }
        (void)calib_refcat_parkeys(c, calib_refcat_type(c, i));
    }
    calib_refcat_destroy(c);
    return 0;
}
