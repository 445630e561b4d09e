/* collections_run.c - POST /v1/collections/{name}/run: a run of the collection now (a
 * `collection` job), 202 with the job and Location /v1/jobs/{id}; 409 naming the run already
 * queued or running. SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

enum err h_collections_run(const struct app *app,
                           const struct req *req,
                           struct resp *resp,
                           struct err_info *ei)
{
    return handlers__coll_run(app, req, resp, false, ei);
}
