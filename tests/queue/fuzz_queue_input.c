/* fuzz_queue_input.c - libFuzzer target over the queue's input parsers that need no database:
 * the job specification validator (what POST /v1/jobs bodies reach), the RFC 3339 reader, the
 * list cursor decoder
 * and the UUID check. Each must refuse bad input with an error, never crash or leak.
 * SPDX-License-Identifier: Apache-2.0 */
#include "queue/queue.h"
#include "queue/queue_int.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    char id[QUEUE_ID_LEN + 1];
    if (queue_cursor_decode(text, id, sizeof id) == ERR_OK) {
        char again[32];
        queue_cursor_encode(id, again, sizeof again);
        if (!queue_is_uuid(id) || strcmp(again, text) != 0) {
            abort(); /* a cursor that decodes must round-trip exactly */
        }
    }
    (void)queue_is_uuid(text);
    int64_t us = 0;
    if (queue_rfc3339_parse(text, &us)) {
        /* an accepted time formats as the UTC instant, which reads back as the same instant */
        char utc[32];
        int64_t again_us = -1;
        queue_rfc3339_format(us, utc, sizeof utc);
        if (!queue_rfc3339_parse(utc, &again_us) || again_us != us) {
            abort();
        }
    }
    json_error_t jerr;
    json_t *specs = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
    if (specs != NULL) {
        json_t *rows = NULL;
        struct err_info ei;
        static const struct queue_kind kinds[] = {{.name = "noop"},
                                                  {.name = "dataset", .queue = "calib"}};
        if (queue__specs_check(kinds, 2, specs, &rows, &ei) == ERR_OK) {
            if (json_array_size(rows) == 0) {
                abort(); /* accepted input always yields rows */
            }
            json_decref(rows);
        } else if (ei.msg[0] == '\0') {
            abort(); /* a refusal always says why */
        }
        json_decref(specs);
    }
    free(text);
    return 0;
}
