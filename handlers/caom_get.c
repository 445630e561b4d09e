/* caom_get.c - GET /caom2/observations/{collection}/{observationID}: the stored CAOM-2.4
 * document, Content-Type text/x-caom+xml, ETag = its accMetaChecksum URI.
 * SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

#include "core/str.h"
#include "repo/repo.h"

enum err h_caom_get(const struct app *app, const struct req *req, struct resp *resp, struct err_info *ei)
{
    const char *coll = req->params[0];
    const char *id = req->params[1];
    enum err e = handlers__caom_auth(app, req, coll, REPO_READ, ei);
    if (e != ERR_OK) {
        return e;
    }
    struct repo_doc doc;
    if ((e = repo_get(app->repo, coll, id, &doc, ei)) != ERR_OK) {
        return e;
    }
    handlers__caom_resp(resp, "text/x-caom+xml");
    e = buf_append(&resp->body, doc.xml, doc.len);
    if (e != ERR_OK) {
        err_set(ei, e, "the document does not fit the response");
    } else {
        str_copy(resp->etag, sizeof resp->etag, doc.acc_meta_checksum);
    }
    repo_doc_free(&doc);
    return e;
}
