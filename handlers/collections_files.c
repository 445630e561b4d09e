/* collections_files.c - GET /v1/collections/{name}/files?outcome=&cursor=&limit=: the
 * entries of a collection by URI with their outcome and reason, a page at a time (keyset
 * cursor; harv_files checks the outcome, cursor and limit values).
 * SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

#include "core/str.h"
#include "harvest/harvest.h"

enum err h_collections_files(const struct app *app,
                             const struct req *req,
                             struct resp *resp,
                             struct err_info *ei)
{
    static const char *const allowed[] = {"outcome", "cursor", "limit", NULL};
    struct harv *h = NULL;
    json_t *page = NULL;
    enum err e = handlers__coll_route(app, req, allowed, &h, ei);
    if (e != ERR_OK) {
        return e;
    }
    const char *limit = req_query(req, "limit");
    int64_t n = 0;
    if (limit && str_to_i64(limit, 1, HARV_FILES_PAGE_MAX, &n) != ERR_OK) {
        return err_set_field(ei, ERR_INVALID, "limit",
                             "limit must be an integer from 1 to %d, not \"%.32s\"",
                             HARV_FILES_PAGE_MAX, limit);
    }
    const char *cursor = req_query(req, "cursor");
    if (cursor && !cursor[0]) {
        return err_set_field(ei, ERR_PARSE, "cursor", "invalid cursor");
    }
    e = harv_files(h, req->params[0], req_query(req, "outcome"), cursor, (int)n, &page, ei);
    if (e == ERR_OK) {
        e = resp_json(resp, 200, page, ei);
    }
    json_decref(page);
    return e;
}
