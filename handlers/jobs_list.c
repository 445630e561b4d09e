/* jobs_list.c - GET /v1/jobs?state=&kind=&queue=&parent=&cursor=&limit=: one page of jobs,
 * newest first, with an opaque keyset cursor. SPDX-License-Identifier: Apache-2.0 */
#include "handlers.h"

#include "core/str.h"
#include "queue/queue.h"

#include <string.h>

static const char *const states[] = {"queued",    "running", "retrying",
                                     "succeeded", "failed",  "cancelled"};

enum err
h_jobs_list(const struct app *app, const struct req *req, struct resp *resp, struct err_info *ei)
{
    static const char *const allowed[] = {"state",  "kind",  "queue", "parent",
                                          "cursor", "limit", NULL};
    json_t *page = NULL;
    struct queue_filter f;
    memset(&f, 0, sizeof f);
    enum err e = req_query_check(req, allowed, ei);
    if (e != ERR_OK) {
        return e;
    }
    f.state = req_query(req, "state");
    f.kind = req_query(req, "kind");
    f.queue = req_query(req, "queue");
    f.parent_id = req_query(req, "parent");
    f.cursor = req_query(req, "cursor");
    const char *limit = req_query(req, "limit");
    if (f.state) {
        bool ok = false;
        for (size_t i = 0; i < ARRAY_LEN(states); i++) {
            ok = ok || strcmp(f.state, states[i]) == 0;
        }
        if (!ok) {
            return err_set_field(ei, ERR_INVALID, "state",
                                 "unrecognized state \"%.32s\"; one of queued, running, "
                                 "retrying, succeeded, failed, cancelled",
                                 f.state);
        }
    }
    if (f.parent_id && !uuid_valid(f.parent_id)) {
        return err_set_field(ei, ERR_PARSE, "parent", "invalid parent \"%.64s\": not a UUID",
                             f.parent_id);
    }
    if (f.cursor && (f.cursor[0] == '\0' || strlen(f.cursor) > 128)) {
        return err_set_field(ei, ERR_PARSE, "cursor", "invalid cursor");
    }
    if (limit) {
        int64_t n = 0;
        if (str_to_i64(limit, 1, JOB_LIST_LIMIT_MAX, &n) != ERR_OK) {
            return err_set_field(ei, ERR_INVALID, "limit",
                                 "limit must be an integer from 1 to %d, not \"%.32s\"",
                                 JOB_LIST_LIMIT_MAX, limit);
        }
        f.limit = (int)n;
    }
    if ((f.kind && (f.kind[0] == '\0' || strlen(f.kind) > JOB_KIND_MAX)) ||
        (f.queue && (f.queue[0] == '\0' || strlen(f.queue) > JOB_QUEUE_MAX))) {
        return err_set_field(
            ei, ERR_INVALID,
            f.kind && (f.kind[0] == '\0' || strlen(f.kind) > JOB_KIND_MAX) ? "kind" : "queue",
            "filter value is empty or too long");
    }
    e = queue_list(app->queue, &f, &page, ei);
    if (e == ERR_OK) {
        e = resp_json(resp, 200, page, ei);
    }
    json_decref(page);
    return e;
}
