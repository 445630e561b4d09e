/* fuzz_ingest_params.c - libFuzzer target: any bytes as the params of an ingest job, through
 * ingest_params_parse (the one validator of POST /v1/jobs and the worker); every outcome must
 * be clean, and what it accepts must hold what lib/ingest relies on (1..1000 inputs, each
 * with a URI; product_ids one per input or none, never with product_id; IDs 1..256 bytes
 * without '/'). SPDX-License-Identifier: Apache-2.0 */
#include "ingest/ingest.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void id_ok(const char *id)
{
    if (id && (!id[0] || strlen(id) > INGEST_ID_MAX || strchr(id, '/'))) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, &je);
    if (!v) {
        return 0;
    }
    struct ingest_params *p = malloc(sizeof *p);
    if (!p) {
        abort();
    }
    struct err_info ei;
    err_info_clear(&ei);
    enum err e = ingest_params_parse(v, "", NULL, p, &ei);
    if (e == ERR_OK) {
        if (p->n == 0 || p->n > INGEST_URIS_MAX || !p->collection) {
            abort();
        }
        bool named = p->product_ids[0] != NULL;
        if (named && p->product_id) {
            abort();
        }
        for (size_t i = 0; i < p->n; i++) {
            if (!p->uris[i] || (p->product_ids[i] != NULL) != named) {
                abort();
            }
            id_ok(p->product_ids[i]);
        }
        for (size_t i = p->n; i < INGEST_URIS_MAX; i++) {
            if (p->product_ids[i]) {
                abort(); /* no ID for an input that is not there */
            }
        }
        id_ok(p->product_id);
        id_ok(p->observation_id);
    } else if (e != ERR_INVALID || !ei.field[0]) {
        abort(); /* a refusal always names its field */
    }
    if (ingest_params_validate(v, "[1].", NULL, &ei) != e) {
        abort(); /* validate and parse agree */
    }
    free(p);
    json_decref(v);
    return 0;
}
