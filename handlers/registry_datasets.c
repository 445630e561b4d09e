/* registry_datasets.c - the datasets of the registry:
 *   GET  /v1/datasets?type=&collections=a,b&where=&find_first=&limit=  query (reg_datasets_query)
 *   POST /v1/datasets        register a batch in a RUN, with files and provenance (201)
 *   GET  /v1/datasets/{id}   one dataset with its files and provenance up and down
 * An unknown dataset type, collection or WHERE field is a 400 naming it.
 * SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

#include "core/str.h"
#include "registry/registry.h"

#include <string.h>

enum err h_datasets_query(const struct app *app,
                          const struct req *req,
                          struct resp *resp,
                          struct err_info *ei)
{
    static const char *const allowed[] = {"type",       "collections", "where",
                                          "find_first", "limit",       NULL};
    struct reg *r = NULL;
    json_t *out = NULL;
    char buf[REG_LIST_BYTES];
    const char *colls[REG_COLLECTIONS_MAX];
    struct reg_query q = {
        .type = req_query(req, "type"), .collections = colls, .where = req_query(req, "where")};
    enum err e = handlers__reg_route(app, req, allowed, &r, ei);
    if (e == ERR_OK && (!q.type || !q.type[0])) {
        e = err_set_field(ei, ERR_PARSE, "type", "type (a dataset type name) is required");
    }
    if (e == ERR_OK) {
        e = handlers__split_list(req_query(req, "collections"), "collections", buf, sizeof buf,
                                 colls, REG_COLLECTIONS_MAX, &q.ncollections, ei);
    }
    const char *ff = req_query(req, "find_first");
    if (e == ERR_OK && ff) {
        if (strcmp(ff, "true") == 0 || strcmp(ff, "1") == 0) {
            q.find_first = true;
        } else if (strcmp(ff, "false") != 0 && strcmp(ff, "0") != 0) {
            e = err_set_field(ei, ERR_PARSE, "find_first", "find_first is true or false");
        }
    }
    const char *limit = req_query(req, "limit");
    int64_t n = 0;
    if (e == ERR_OK && limit && str_to_i64(limit, 1, REG_QUERY_LIMIT_MAX, &n) != ERR_OK) {
        e = err_set_field(ei, ERR_PARSE, "limit", "limit is an integer from 1 to %d",
                          REG_QUERY_LIMIT_MAX);
    }
    q.limit = (int)n;
    if (e == ERR_OK) {
        e = reg_datasets_query(r, &q, &out, ei);
    }
    if (e == ERR_OK) {
        e = resp_json(resp, 200, out, ei);
    }
    json_decref(out);
    return e;
}

enum err h_datasets_register(const struct app *app,
                             const struct req *req,
                             struct resp *resp,
                             struct err_info *ei)
{
    return handlers__reg_doc(app, req, resp, reg_datasets_register, 201, ei);
}

enum err
h_datasets_get(const struct app *app, const struct req *req, struct resp *resp, struct err_info *ei)
{
    struct reg *r = NULL;
    json_t *out = NULL;
    enum err e = handlers__reg_route(app, req, NULL, &r, ei);
    if (e == ERR_OK) {
        e = reg_dataset_get(r, req->params[0], &out, ei);
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
