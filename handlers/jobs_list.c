/* jobs_list.c - GET /v1/jobs?state=&kind=&queue=&parent=&cursor=&limit=: one page of jobs,
 * newest first, with an opaque keyset cursor. SPDX-License-Identifier: Apache-2.0 */
#include "handlers.h"

#include "core/str.h"
#include "queue/queue.h"

#include <string.h>

/* Answer @p page; a page over RESP_BODY_MAX (jobs with large params or results) is halved until
 * it fits, with next_cursor after the last job kept, so the client gets every job page by page
 * instead of a failure it cannot fix. */
static enum err page_respond(json_t *page, struct resp *resp, struct err_info *ei)
{
    json_t *items = json_object_get(page, "items");
    for (;;) {
        enum err e = resp_json(resp, 200, page, ei);
        size_t n = json_array_size(items);
        if (e != ERR_INTERNAL || n < 2) {
            return e;
        }
        size_t keep = n / 2;
        const char *last = json_string_value(json_object_get(json_array_get(items, keep - 1), "id"));
        if (!last) {
            return e;
        }
        char cur[JOB_CURSOR_MAX + 1];
        queue_cursor_encode(last, cur, sizeof cur);
        if (json_object_set_new(page, "next_cursor", json_string(cur)) != 0) {
            return err_set(ei, ERR_NOMEM, "out of memory");
        }
        while (json_array_size(items) > keep) {
            if (json_array_remove(items, json_array_size(items) - 1) != 0) {
                return err_set(ei, ERR_INTERNAL, "could not shorten the page");
            }
        }
        err_info_clear(ei);
    }
}

/* A kind or queue filter: absent, or 1..max bytes. */
static enum err name_filter(const char *v, const char *field, size_t max, struct err_info *ei)
{
    if (v && (v[0] == '\0' || strlen(v) > max)) {
        return err_set_field(ei, ERR_INVALID, field, "%s filter is empty or over %zu bytes", field,
                             max);
    }
    return ERR_OK;
}

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
    if (f.cursor && (f.cursor[0] == '\0' || strlen(f.cursor) > JOB_CURSOR_MAX)) {
        return err_set_field(ei, ERR_PARSE, "cursor", "invalid cursor");
    }
    if (limit) {
        int64_t n = 0;
        if (str_to_i64(limit, 1, QUEUE_LIST_MAX, &n) != ERR_OK) {
            return err_set_field(ei, ERR_INVALID, "limit",
                                 "limit must be an integer from 1 to %d, not \"%.32s\"",
                                 QUEUE_LIST_MAX, limit);
        }
        f.limit = (int)n;
    }
    e = name_filter(f.kind, "kind", QUEUE_KIND_MAX, ei);
    if (e == ERR_OK) {
        e = name_filter(f.queue, "queue", QUEUE_NAME_MAX, ei);
    }
    if (e != ERR_OK) {
        return e;
    }
    e = queue_list(app->queue, &f, &page, ei);
    if (e == ERR_OK) {
        e = page_respond(page, resp, ei);
    }
    json_decref(page);
    return e;
}
