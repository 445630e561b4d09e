/* probes.c - GET /livez (own loops alive; never touches the database) and GET /readyz
 * (database reachable, migrations applied, not draining; 503 otherwise).
 * One file for the two probes: they are the same shape. SPDX-License-Identifier: Apache-2.0 */
#include "handlers.h"

static enum err probe(bool ok, const char *what, struct resp *resp, struct err_info *ei)
{
    json_t *doc = json_pack("{s:s}", "status", ok ? "ok" : "unavailable");
    if (!doc) {
        return err_set(ei, ERR_NOMEM, "could not build the %s answer", what);
    }
    enum err e = resp_json(resp, 200, doc, ei);
    json_decref(doc);
    return e;
}

enum err
h_livez(const struct app *app, const struct req *req, struct resp *resp, struct err_info *ei)
{
    (void)req;
    if (app->alive && !app->alive(app->probe_ctx, ei)) {
        return ei->code != ERR_OK ? ei->code : ERR_UNAVAILABLE;
    }
    return probe(true, "livez", resp, ei);
}

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
    return probe(true, "readyz", resp, ei);
}
