/* openapi.c - GET /openapi.yaml: the HTTP contract, read from the file main located.
 * SPDX-License-Identifier: Apache-2.0 */
#include "handlers.h"

#include <stdio.h>

#define OPENAPI_MAX (1u << 20)

enum err
h_openapi(const struct app *app, const struct req *req, struct resp *resp, struct err_info *ei)
{
    (void)req;
    if (!app->openapi_path) {
        return err_set(ei, ERR_NOT_FOUND, "the OpenAPI document is not installed");
    }
    FILE *f = fopen(app->openapi_path, "rb");
    if (!f) {
        return err_set(ei, ERR_NOT_FOUND, "the OpenAPI document is not installed");
    }
    enum err e = ERR_OK;
    char chunk[8192];
    size_t n;
    buf_reset(&resp->body);
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (resp->body.len + n > OPENAPI_MAX) {
            e = err_set(ei, ERR_INTERNAL, "OpenAPI document larger than %u bytes", OPENAPI_MAX);
            break;
        }
        e = buf_append(&resp->body, chunk, n);
        if (e != ERR_OK) {
            err_set(ei, e, "could not load the OpenAPI document");
            break;
        }
    }
    if (e == ERR_OK && ferror(f)) {
        /* a short read must not be served as the whole contract */
        e = err_set(ei, ERR_IO, "could not read the OpenAPI document");
    }
    fclose(f);
    if (e == ERR_OK) {
        resp->status = 200;
        resp->content_type = "application/yaml";
    }
    return e;
}
