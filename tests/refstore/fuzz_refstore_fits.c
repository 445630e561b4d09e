/* fuzz_refstore_fits.c - lib/refstore's FITS completeness walker on arbitrary bytes: it must
 * answer ERR_OK or ERR_FITS without reading out of bounds or overflowing a size; the cache
 * size parser on the same bytes as text.
 * SPDX-License-Identifier: Apache-2.0 */
#include "refstore/refstore_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct err_info ei;
    enum err e = refstore__fits_check_mem(data, size, &ei);
    if (e != ERR_OK && e != ERR_FITS && e != ERR_NOMEM) {
        abort();
    }
    /* the cache size parser over the first bytes as text */
    char text[64];
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    uint64_t v;
    e = refstore_size_parse(text, &v, &ei);
    if (e != ERR_OK && e != ERR_INVALID) {
        abort();
    }
    return 0;
}
