/* collections_retry.c - POST /v1/collections/{name}/retry: the failed entries back to pending
 * and a run now that takes them again; answers as POST .../run.
 * SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

enum err h_collections_retry(const struct app *app,
                             const struct req *req,
                             struct resp *resp,
                             struct err_info *ei)
{
    return handlers__coll_run(app, req, resp, true, ei);
}
