/* caom_write.c - PUT (create) and POST (replace, with If-Match) of
 * /caom2/observations/{collection}/{observationID}: 200 with an empty body and the stored
 * accMetaChecksum as ETag.
 * SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

#include "core/str.h"
#include "repo/repo.h"

static enum err caom_write(const struct app *app, const struct req *req, struct resp *resp,
                           bool create, struct err_info *ei)
{
    const char *coll = req->params[0];
    const char *id = req->params[1];
    enum err e = handlers__caom_auth(app, req, coll, REPO_WRITE, ei);
    if (e != ERR_OK) {
        return e;
    }
    struct repo_write_result res;
    e = create ? repo_put(app->repo, coll, id, req->body, req->body_len, &res, ei)
               : repo_post(app->repo, coll, id, req->body, req->body_len, req->if_match, &res, ei);
    if (e == ERR_OK) {
        resp->status = 200;
        resp->content_type = NULL;
        /* not in torkeep's answer, but harmless to its clients: the accMetaChecksum the server
         * stored (it recomputes, and for compute collections it differs from the client's) */
        str_copy(resp->etag, sizeof resp->etag, res.acc_meta_checksum);
    }
    return e;
}

enum err h_caom_put(const struct app *app, const struct req *req, struct resp *resp, struct err_info *ei)
{
    return caom_write(app, req, resp, true, ei);
}

enum err h_caom_post(const struct app *app, const struct req *req, struct resp *resp, struct err_info *ei)
{
    return caom_write(app, req, resp, false, ei);
}
