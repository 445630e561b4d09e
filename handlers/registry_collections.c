/* registry_collections.c - collections, dimension records and dataset types of the registry:
 *   GET  /v1/registry/collections?glob=&type=&flatten=   list (children of chains in order)
 *   PUT  /v1/registry/collections        define or change one (a chain: redefine, extend,
 *                                        prepend or remove children); 201 when new
 *   POST /v1/registry/remove-runs        {"runs":[...],"force":bool} (409 when a dataset is an
 *                                        input of another outside them, unless forced)
 *   POST /v1/registry/dimensions         instrument, detector and exposure records
 *   GET|PUT /v1/registry/dataset-types   list, register one (201 when new)
 * SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

#include "registry/registry.h"

#include <string.h>

enum err h_reg_collections_list(const struct app *app,
                                const struct req *req,
                                struct resp *resp,
                                struct err_info *ei)
{
    static const char *const allowed[] = {"glob", "type", "flatten", NULL};
    struct reg *r = NULL;
    json_t *out = NULL;
    enum err e = handlers__reg_route(app, req, allowed, &r, ei);
    const char *fl = req_query(req, "flatten");
    if (e == ERR_OK && fl && strcmp(fl, "true") != 0 && strcmp(fl, "false") != 0) {
        e = err_set_field(ei, ERR_PARSE, "flatten", "flatten is true or false");
    }
    if (e == ERR_OK) {
        e = reg_collections_list(r, req_query(req, "glob"), req_query(req, "type"),
                                 fl && strcmp(fl, "true") == 0, &out, ei);
        if (e == ERR_INVALID) {
            e = ei->code = ERR_PARSE;
        }
    }
    if (e == ERR_OK) {
        e = resp_json(resp, 200, out, ei);
    }
    json_decref(out);
    return e;
}

enum err h_reg_collections_put(const struct app *app,
                               const struct req *req,
                               struct resp *resp,
                               struct err_info *ei)
{
    struct reg *r = NULL;
    json_t *doc = NULL, *out = NULL;
    bool created = false;
    enum err e = handlers__reg_route(app, req, NULL, &r, ei);
    if (e == ERR_OK) {
        e = handlers__reg_body(req, &doc, ei);
    }
    if (e == ERR_OK) {
        e = reg_collection_put(r, doc, &created, &out, ei);
    }
    if (e == ERR_OK) {
        e = resp_json(resp, created ? 201 : 200, out, ei);
    }
    json_decref(out);
    json_decref(doc);
    return e;
}

enum err h_reg_remove_runs(const struct app *app,
                           const struct req *req,
                           struct resp *resp,
                           struct err_info *ei)
{
    struct reg *r = NULL;
    json_t *doc = NULL, *out = NULL;
    const char *runs[REG_RUNS_MAX];
    enum err e = handlers__reg_route(app, req, NULL, &r, ei);
    if (e == ERR_OK) {
        e = handlers__reg_body(req, &doc, ei);
    }
    const json_t *list = json_object_get(doc, "runs");
    const json_t *force = json_object_get(doc, "force");
    size_t n = json_array_size(list);
    if (e == ERR_OK && (!json_is_array(list) || n == 0 || n > REG_RUNS_MAX)) {
        e = err_set_field(ei, ERR_INVALID, "runs", "runs is an array of 1 to %d names",
                          REG_RUNS_MAX);
    }
    if (e == ERR_OK && force && !json_is_boolean(force)) {
        e = err_set_field(ei, ERR_INVALID, "force", "force is a boolean");
    }
    for (size_t i = 0; e == ERR_OK && i < n; i++) {
        runs[i] = json_string_value(json_array_get(list, i));
        if (!runs[i]) {
            e = err_set_field(ei, ERR_INVALID, "runs", "runs[%zu] is not a string", i);
        }
    }
    if (e == ERR_OK) {
        e = reg_remove_runs(r, runs, n, json_is_true(force), &out, ei);
    }
    if (e == ERR_OK) {
        e = resp_json(resp, 200, out, ei);
    }
    json_decref(out);
    json_decref(doc);
    return e;
}

enum err h_reg_dimensions(const struct app *app,
                          const struct req *req,
                          struct resp *resp,
                          struct err_info *ei)
{
    return handlers__reg_doc(app, req, resp, reg_dimensions_put, 200, ei);
}

enum err h_reg_types_list(const struct app *app,
                          const struct req *req,
                          struct resp *resp,
                          struct err_info *ei)
{
    struct reg *r = NULL;
    json_t *out = NULL;
    enum err e = handlers__reg_route(app, req, NULL, &r, ei);
    if (e == ERR_OK) {
        e = reg_dataset_types_list(r, &out, ei);
    }
    if (e == ERR_OK) {
        e = resp_json(resp, 200, out, ei);
    }
    json_decref(out);
    return e;
}

enum err h_reg_types_put(const struct app *app,
                         const struct req *req,
                         struct resp *resp,
                         struct err_info *ei)
{
    struct reg *r = NULL;
    json_t *doc = NULL;
    bool created = false;
    enum err e = handlers__reg_route(app, req, NULL, &r, ei);
    if (e == ERR_OK) {
        e = handlers__reg_body(req, &doc, ei);
    }
    if (e == ERR_OK) {
        e = reg_dataset_type_put(r, doc, &created, ei);
    }
    if (e == ERR_OK) {
        e = resp_json(resp, created ? 201 : 200, doc, ei);
    }
    json_decref(doc);
    return e;
}
