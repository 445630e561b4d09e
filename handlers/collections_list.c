/* collections_list.c - GET /v1/collections: every collection by name with its source, origin,
 * schedule, next run and last run (harv_list). SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

#include "harvest/harvest.h"

enum err h_collections_list(const struct app *app,
                            const struct req *req,
                            struct resp *resp,
                            struct err_info *ei)
{
    struct harv *h = NULL;
    json_t *doc = NULL;
    enum err e = handlers__coll_route(app, req, NULL, &h, ei);
    if (e == ERR_OK) {
        e = harv_list(h, &doc, ei);
    }
    if (e == ERR_OK) {
        e = resp_json(resp, 200, doc, ei);
    }
    json_decref(doc);
    return e;
}
