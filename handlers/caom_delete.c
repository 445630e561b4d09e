/* caom_delete.c - DELETE /caom2/observations/{collection}/{observationID}: 200 (a deletion
 * record is kept for /caom2/deletions) or 404. SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

#include "repo/repo.h"

enum err h_caom_delete(const struct app *app, const struct req *req, struct resp *resp, struct err_info *ei)
{
    const char *coll = req->params[0];
    enum err e = handlers__caom_auth(app, req, coll, REPO_WRITE, ei);
    if (e == ERR_OK) {
        e = repo_delete(app->repo, coll, req->params[1], ei);
    }
    if (e == ERR_OK) {
        resp->content_type = NULL;
    }
    return e;
}
