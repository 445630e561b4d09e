/* fuzz_bp_table.c - libFuzzer target: the input is a YAML lookup table (lib/blueprint
 * bp_table.c: a list of mappings or a mapping of key -> mapping); when it loads, a few keys and
 * columns are looked up (exact, pattern, absent).
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>

#include "blueprint/bp_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const keys[] = {"J", "H2", "CLEAR_2", "", "key"};
    static const char *const cols[] = {"name", "key", "wl_min", "bandpass", "nope"};
    struct bp_table *t = NULL;
    struct err_info ei;
    if (size > 65536 ||
        bpt_yaml_text("t", "fuzz.yaml", (const char *)data, size, &t, &ei) != ERR_OK) {
        return 0;
    }
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        for (size_t j = 0; j < sizeof cols / sizeof *cols; j++) {
            const char *cell = NULL;
            if (bpt_get(t, keys[i], cols[j], &cell) == ERR_OK && !cell) {
                abort(); /* a found row always has a cell */
            }
        }
    }
    bpt_free(t);
    return 0;
}
