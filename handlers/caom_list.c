/* caom_list.c - the TSV listings of the repository: GET /caom2/observations (collections),
 * GET /caom2/observations/{collection} and GET /caom2/deletions/{collection} with maxrec,
 * start, end and order (names case-insensitive, unknown ones ignored, as torkeep).
 * SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

#include "repo/repo.h"

#define TSV "text/tab-separated-values"

typedef enum err (*list_fn)(struct repo_store *, const struct repo_list_query *, struct buf *,
                            struct err_info *);

static enum err caom_listing(const struct app *app, const struct req *req, struct resp *resp,
                             list_fn fn, struct err_info *ei)
{
    const char *coll = req->params[0];
    enum err e = handlers__caom_auth(app, req, coll, REPO_READ, ei);
    if (e != ERR_OK) {
        return e;
    }
    const char *names[REQ_MAX_QUERY];
    const char *values[REQ_MAX_QUERY];
    for (size_t i = 0; i < req->nquery; i++) {
        names[i] = req->query[i].key;
        values[i] = req->query[i].value;
    }
    struct repo_list_query q;
    if ((e = repo_list_query_parse(names, values, req->nquery, &q, ei)) != ERR_OK) {
        return e;
    }
    q.collection = coll;
    handlers__caom_resp(resp, TSV);
    return fn(app->repo, &q, &resp->body, ei);
}

enum err h_caom_list(const struct app *app, const struct req *req, struct resp *resp, struct err_info *ei)
{
    return caom_listing(app, req, resp, repo_list, ei);
}

enum err h_caom_deletions(const struct app *app, const struct req *req, struct resp *resp,
                          struct err_info *ei)
{
    return caom_listing(app, req, resp, repo_deletions, ei);
}

enum err h_caom_collections(const struct app *app, const struct req *req, struct resp *resp,
                            struct err_info *ei)
{
    (void)req;
    handlers__caom_resp(resp, TSV);
    return repo_list_collections(app->repo, &resp->body, ei);
}
