/* collections_get.c - GET /v1/collections/{name}: the definition, origin, bookmark, last run
 * with its counts, entries by outcome, the failing entries with their reasons and the next
 * scheduled run (harv_get). SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

#include "harvest/harvest.h"

enum err h_collections_get(const struct app *app,
                           const struct req *req,
                           struct resp *resp,
                           struct err_info *ei)
{
    struct harv *h = NULL;
    json_t *doc = NULL;
    enum err e = handlers__coll_route(app, req, NULL, &h, ei);
    if (e == ERR_OK) {
        e = harv_get(h, req->params[0], &doc, ei);
    }
    if (e == ERR_OK) {
        e = resp_json(resp, 200, doc, ei);
    }
    json_decref(doc);
    return e;
}
