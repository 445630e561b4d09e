/* fuzz_calib_section.c - libFuzzer target: FITS section strings.
 * SPDX-License-Identifier: Apache-2.0 */
#include "calib/calib.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char buf[256];
    size_t n = size < sizeof(buf) - 1 ? size : sizeof(buf) - 1;
    memcpy(buf, data, n);
    buf[n] = '\0';
    struct calib_section s;
    struct err_info ei;
    if (calib_section_parse(buf, 4096, 4096, &s, &ei) == ERR_OK) {
        if (s.x0 < 0 || s.x1 > 4096 || s.x0 >= s.x1 || s.y0 < 0 || s.y1 > 4096 || s.y0 >= s.y1) {
            __builtin_trap();
        }
        char back[64];
        calib_section_format(&s, back, sizeof(back));
        struct calib_section t;
        if (calib_section_parse(back, 4096, 4096, &t, &ei) != ERR_OK || memcmp(&s, &t, sizeof(s))) {
            __builtin_trap(); /* formatting round-trips */
        }
    }
    if (calib_section_parse(buf, 0, 0, &s, &ei) == ERR_OK && s.x0 >= s.x1) {
        __builtin_trap();
    }
    return 0;
}
