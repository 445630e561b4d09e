/* fuzz_fits_header_text.c - libFuzzer target: header text (both layouts) into the header
 * model, then every lookup path and the FITS rendering + cfitsio scan of each HDU.
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>

#include "fits/fits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__asan_default_options(void);

/* cfitsio sizes some allocations from header values (e.g. a huge binary-table row width) and
 * handles a failed calloc as MEMORY_ALLOCATION; ASan must let calloc fail instead of
 * aborting. Our own code never sizes an allocation from a header value. */
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fhdr_file *f = NULL;
    struct err_info ei;
    if (fhdr_file_parse_text("fuzz.header", (const char *)data, size, &f, &ei) != ERR_OK) {
        return 0;
    }
    for (size_t i = 0; i < fhdr_file_hdu_count(f); i++) {
        const struct fhdr_hdu *h = fhdr_file_hdu(f, i);
        double d;
        long l;
        bool b;
        const char *s;
        (void)fhdr_hdu_has_data(h);
        unsigned found = 0;
        for (size_t k = 0; k < h->ncards; k++) {
            const char *key = h->cards[k].key;
            found += fhdr_get_double(h, key, &d, &ei) == ERR_OK;
            found += fhdr_get_long(h, key, &l, &ei) == ERR_OK;
            found += fhdr_get_bool(h, key, &b, &ei) == ERR_OK;
            found += fhdr_get_str(h, key, &s, &ei) == ERR_OK;
        }
        (void)found;
        char *bytes = NULL;
        size_t len = 0;
        size_t n = 0;
        if (h->ncards < 2000 && fhdr_hdu_to_fits(h, &bytes, &len) == ERR_OK) {
            if (fhdr_cfitsio_scan(bytes, len, &n, &ei) != ERR_OK) {
                n = 0;
            }
            free(bytes);
        }
    }
    fhdr_file_destroy(f);
    return 0;
}
