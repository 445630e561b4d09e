/* profiles.c - GET /v1/profiles: the collection profiles loaded at start (lib/profile).
 * SPDX-License-Identifier: Apache-2.0 */
#include "handlers.h"

#include "profile/profile.h"

enum err
h_profiles(const struct app *app, const struct req *req, struct resp *resp, struct err_info *ei)
{
    (void)req;
    json_t *v = profile_set_json(app->profiles);
    if (!v) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    enum err e = resp_json(resp, 200, v, ei);
    json_decref(v);
    return e;
}
