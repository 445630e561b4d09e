/* fuzz_caom_vosi.c - libFuzzer target for the VOSI capabilities reader: any input is refused
 * with an error or yields a trimmed, NUL-terminated URL that fits the buffer, for the
 * standardIDs and security methods the push client asks about (and a tiny buffer).
 * SPDX-License-Identifier: Apache-2.0 */
#include "caom/caom.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size, const char *id, const char *sm, size_t cap)
{
    char out[512];
    struct err_info ei = {0};
    memset(out, 'x', sizeof out);
    enum err rc = caom_vosi_find((const char *)data, size, id, sm, out, cap, &ei);
    if (rc == ERR_OK) {
        size_t n = strnlen(out, cap);
        if (n == 0 || n >= cap)
            abort(); /* an empty or unterminated URL */
        if (out[0] == ' ' || out[0] == '\n' || out[n - 1] == ' ' || out[n - 1] == '\n')
            abort(); /* not trimmed */
    } else if (rc != ERR_XML && rc != ERR_NOT_FOUND && rc != ERR_TOO_LARGE && rc != ERR_NOMEM) {
        abort();
    } else if (memchr(out, '\0', cap)) {
        abort(); /* the buffer was written on failure */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const ids[] = {
        "vos://cadc.nrc.ca~vospace/CADC/std/CAOM2Repository#obs-1.2",
        "vos://cadc.nrc.ca~vospace/CADC/std/CAOM2Repository#obs-1.1",
        "ivo://ivoa.net/std/VOSI#capabilities",
    };
    static const char *const sms[] = {
        NULL,
        "ivo://ivoa.net/sso#tls-with-certificate",
        "ivo://ivoa.net/sso#token",
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        for (size_t j = 0; j < sizeof sms / sizeof sms[0]; j++)
            check(data, size, ids[i], sms[j], 512);
    check(data, size, ids[0], NULL, 8);
    return 0;
}
