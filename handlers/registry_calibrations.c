/* registry_calibrations.c - certified calibrations:
 *   POST /v1/calibrations/certify    datasets (or every one of a type in an input collection)
 *                                    valid over [begin, end) in a CALIBRATION collection;
 *                                    an overlap is a 409 naming the certified dataset and range
 *   POST /v1/calibrations/decertify  clear [begin, end): ranges trimmed or split
 *   POST /v1/registry/associate     datasets into (or out of) a TAGGED collection
 *   GET  /v1/calibrations/lookup?type=&collections=&instrument=&detector=&exposure=
 *        &physical_filter=&begin=&end=    the calibration valid for an exposure (or a span);
 *                                    404 none, 409 ambiguous (both candidates named)
 * SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

#include "registry/registry.h"

enum err h_calib_certify(const struct app *app,
                         const struct req *req,
                         struct resp *resp,
                         struct err_info *ei)
{
    return handlers__reg_doc(app, req, resp, reg_certify, 200, ei);
}

enum err h_calib_decertify(const struct app *app,
                           const struct req *req,
                           struct resp *resp,
                           struct err_info *ei)
{
    return handlers__reg_doc(app, req, resp, reg_decertify, 200, ei);
}

enum err h_reg_associate(const struct app *app,
                         const struct req *req,
                         struct resp *resp,
                         struct err_info *ei)
{
    return handlers__reg_doc(app, req, resp, reg_associate, 200, ei);
}

enum err
h_calib_lookup(const struct app *app, const struct req *req, struct resp *resp, struct err_info *ei)
{
    static const char *const dims[] = {"instrument", "detector", "exposure", "physical_filter"};
    static const char *const allowed[] = {"type",     "collections", "instrument",
                                          "detector", "exposure",    "physical_filter",
                                          "begin",    "end",         NULL};
    struct reg *r = NULL;
    json_t *out = NULL;
    json_t *did = json_object();
    char buf[REG_LIST_BYTES];
    const char *colls[REG_COLLECTIONS_MAX];
    struct reg_lookup q = {.type = req_query(req, "type"),
                           .collections = colls,
                           .data_id = did,
                           .begin = req_query(req, "begin"),
                           .end = req_query(req, "end")};
    enum err e = did ? handlers__reg_route(app, req, allowed, &r, ei)
                     : err_set(ei, ERR_NOMEM, "out of memory");
    if (e == ERR_OK && (!q.type || !q.type[0])) {
        e = err_set_field(ei, ERR_PARSE, "type", "type (a calibration dataset type) is required");
    }
    if (e == ERR_OK) {
        e = handlers__split_list(req_query(req, "collections"), "collections", buf, sizeof buf,
                                 colls, REG_COLLECTIONS_MAX, &q.ncollections, ei);
    }
    for (size_t i = 0; e == ERR_OK && i < sizeof dims / sizeof dims[0]; i++) {
        const char *v = req_query(req, dims[i]);
        if (v && json_object_set_new(did, dims[i], json_string(v)) != 0) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
        }
    }
    if (e == ERR_OK) {
        e = reg_calib_lookup(r, &q, &out, ei);
    }
    if (e == ERR_OK) {
        e = resp_json(resp, 200, out, ei);
    }
    json_decref(out);
    json_decref(did);
    return e;
}
