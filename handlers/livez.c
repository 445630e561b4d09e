/* livez.c - GET /livez: liveness; asks only the daemon's own loops (never the database, so
 * a database outage does not restart every replica). SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

enum err
h_livez(const struct app *app, const struct req *req, struct resp *resp, struct err_info *ei)
{
    (void)req;
    if (app->alive && !app->alive(app->probe_ctx, ei)) {
        return ei->code != ERR_OK ? ei->code : ERR_UNAVAILABLE;
    }
    return handlers__status_ok(resp, "livez", ei);
}
