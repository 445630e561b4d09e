/* fuzz_api_request.c - libFuzzer target over what obsflowd parses from a request before any
 * database work: the body (caps, JSON, job validation), the path (route matcher), a query
 * value as cursor/limit text, and the dashboard's If-None-Match list and file name. Any input
 * must give a status, never a crash.
 * SPDX-License-Identifier: Apache-2.0 */
#include "handlers.h"
#include "problem.h"
#include "queue/queue.h"
#include "router.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20)) {
        return 0;
    }
    char *text = malloc(size + 1);
    if (!text) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';

    struct err_info ei;
    err_info_clear(&ei);
    json_t *doc = NULL;
    enum err e = req_json_body(text, size, &doc, &ei);
    if (e == ERR_OK) {
        e = job_specs_validate(doc, &ei);
        json_decref(doc);
    }
    struct resp resp;
    resp_init(&resp);
    if (e != ERR_OK && problem_render(&resp, e, &ei, "fuzz") != ERR_OK) {
        abort();
    }
    resp_free(&resp);

    /* the same bytes as a path, up to the first NUL */
    char scratch[1100];
    const char *params[REQ_MAX_PATH_PARAMS];
    size_t np = 0;
    char allow[ROUTER_ALLOW_MAX];
    if (strlen(text) < 1024) {
        int r = router_match(routes, routes_len, HTTP_GET, text, scratch, sizeof scratch, params,
                             &np, allow);
        if (r >= 0 && np > 0) {
            (void)uuid_valid(params[0]);
        }
    }
    (void)queue_rfc3339_parse(text, NULL);

    /* the same text as the dashboard's If-None-Match header, then as a file name */
    struct app app;
    memset(&app, 0, sizeof app);
    struct req req;
    memset(&req, 0, sizeof req);
    req.if_none_match = text;
    resp_init(&resp);
    if (h_dashboard(&app, &req, &resp, &ei) != ERR_OK ||
        (resp.status != 200 && resp.status != 304)) {
        abort();
    }
    resp_free(&resp);
    req.if_none_match = NULL;
    req.params[0] = text;
    req.nparams = 1;
    resp_init(&resp);
    e = h_dashboard_file(&app, &req, &resp, &ei);
    if (e != ERR_OK && e != ERR_NOT_FOUND) {
        abort();
    }
    resp_free(&resp);
    free(text);
    return 0;
}
