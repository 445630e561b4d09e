/* fuzz_combine_params.c - libFuzzer target: any bytes as the params of a combine job, through
 * pipeline_combine_params_parse (the one validator of POST /v1/jobs and the worker) with one
 * ground CCD profile; every outcome must be clean, and what it accepts must hold what the job
 * relies on (1..PIPELINE_COMBINE_INPUTS_MAX distinct inputs, a bias or flat type, an output,
 * normalised validity times). SPDX-License-Identifier: Apache-2.0 */
#include "pipeline/pipeline.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char PROFILE[] = "name: kccd\ncollection: KAST\nregistry_run: 'KAST/runs/{date}'\n"
                              "ccd: {overscan: '[2050:2080,1:350]', trim: '[1:2048,1:350]'}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct err_info ei;
    struct profile_set *ps = NULL;
    err_info_clear(&ei);
    if (profile_set_parse(PROFILE, strlen(PROFILE), "fuzz", NULL, &ps, &ei) != ERR_OK) {
        abort();
    }
    json_error_t je;
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, &je);
    struct pipeline_combine_params *p = malloc(sizeof *p);
    if (!p) {
        abort();
    }
    if (v && pipeline_combine_params_parse(v, "", ps, p, &ei) == ERR_OK) {
        if (p->n == 0 || p->n > PIPELINE_COMBINE_INPUTS_MAX || !p->output || !p->profile ||
            (strcmp(p->type, "bias") != 0 && strcmp(p->type, "flat") != 0)) {
            abort();
        }
        for (size_t i = 0; i < p->n; i++) {
            for (size_t j = 0; j < i; j++) {
                if (strcmp(p->inputs[i], p->inputs[j]) == 0) {
                    abort();
                }
            }
        }
        if ((p->begin[0] && !strchr(p->begin, '+')) || (p->end[0] && !strchr(p->end, '+'))) {
            abort(); /* normalised: an explicit offset */
        }
    } else if (v && !ei.msg[0]) {
        abort(); /* a refusal always says why */
    }
    free(p);
    json_decref(v);
    profile_set_destroy(ps);
    return 0;
}
