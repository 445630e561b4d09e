/* registry_util.c - what the registry routes share (/v1/datasets, /v1/registry/...,
 * /v1/calibrations/...): the lib/registry handle, comma lists of the query string, and the
 * common "call, answer JSON" shape. SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

#include "core/str.h"
#include "registry/registry.h"

#include <string.h>

struct reg *handlers__registry(const struct app *app, struct err_info *ei)
{
    if (!app->registry) {
        (void)err_set(ei, ERR_UNAVAILABLE, "the dataset registry is not available in this process");
        return NULL;
    }
    return app->registry;
}

enum err handlers__reg_route(const struct app *app,
                             const struct req *req,
                             const char *const *allowed,
                             struct reg **r,
                             struct err_info *ei)
{
    static const char *const none[] = {NULL};
    enum err e = req_query_check(req, allowed ? allowed : none, ei);
    if (e != ERR_OK) {
        return e;
    }
    *r = handlers__registry(app, ei);
    return *r ? ERR_OK : ERR_UNAVAILABLE;
}

enum err handlers__split_list(const char *s,
                              const char *field,
                              char *buf,
                              size_t cap,
                              const char **items,
                              size_t max,
                              size_t *n,
                              struct err_info *ei)
{
    *n = 0;
    if (!s || !s[0]) {
        return err_set_field(ei, ERR_PARSE, field, "%s is required (comma-separated names)", field);
    }
    if (!str_copy(buf, cap, s)) {
        return err_set_field(ei, ERR_PARSE, field, "%s is too long", field);
    }
    for (char *p = buf;;) {
        char *comma = strchr(p, ',');
        if (comma) {
            *comma = '\0';
        }
        if (*n >= max) {
            return err_set_field(ei, ERR_PARSE, field, "%s names more than %zu items", field, max);
        }
        items[(*n)++] = p;
        if (!comma) {
            break;
        }
        p = comma + 1;
    }
    return ERR_OK;
}

enum err handlers__reg_doc(const struct app *app,
                           const struct req *req,
                           struct resp *resp,
                           handlers_reg_doc_fn fn,
                           int status,
                           struct err_info *ei)
{
    struct reg *r = NULL;
    json_t *doc = NULL, *out = NULL;
    enum err e = handlers__reg_route(app, req, NULL, &r, ei);
    if (e == ERR_OK) {
        e = handlers__reg_body(req, &doc, ei);
    }
    if (e == ERR_OK) {
        e = fn(r, doc, &out, ei);
    }
    if (e == ERR_OK) {
        e = resp_json(resp, status, out, ei);
    }
    json_decref(out);
    json_decref(doc);
    return e;
}

enum err handlers__reg_body(const struct req *req, json_t **doc, struct err_info *ei)
{
    enum err e = req_json_body(req->body, req->body_len, doc, ei);
    if (e == ERR_OK && !json_is_object(*doc)) {
        json_decref(*doc);
        *doc = NULL;
        e = err_set_field(ei, ERR_INVALID, "body", "the body is a JSON object");
    }
    return e;
}
