/* readyz.c - GET /readyz: readiness; database reachable, migrations applied, not draining;
 * 503 (problem+json) otherwise. SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

enum err
h_readyz(const struct app *app, const struct req *req, struct resp *resp, struct err_info *ei)
{
    (void)req;
    if (app->ready && !app->ready(app->probe_ctx, ei)) {
        if (ei->code == ERR_OK) {
            err_set(ei, ERR_UNAVAILABLE, "not ready");
        }
        ei->code = ERR_UNAVAILABLE;
        return ERR_UNAVAILABLE;
    }
    return handlers__status_ok(resp, "readyz", ei);
}
