/* caom_util.c - what the /caom2 endpoints share: the caller's bearer token, the per-collection
 * access check, and responses larger than the API's JSON bodies.
 * SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

#include "repo/repo.h"

#include <strings.h>

const char *handlers__bearer(const struct req *req)
{
    const char *h = req->authorization;
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
        return NULL;
    }
    h += 7;
    while (*h == ' ') {
        h++;
    }
    return *h ? h : NULL;
}

enum err handlers__caom_auth(const struct app *app,
                             const struct req *req,
                             const char *collection,
                             int access,
                             struct err_info *ei)
{
    return repo_authorize(repo_store_collections(app->repo), app->api_token, collection,
                          access == REPO_WRITE ? REPO_WRITE : REPO_READ, handlers__bearer(req),
                          ei);
}

void handlers__caom_resp(struct resp *resp, const char *content_type)
{
    buf_free(&resp->body);
    buf_init(&resp->body, CAOM_RESP_MAX);
    resp->content_type = content_type;
}
