/* util.c - helpers shared by the endpoints: query arguments, UUIDs, capped JSON bodies,
 * JSON responses. SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

#include "queue/queue.h"

#include <stdlib.h>
#include <string.h>

static const char *const method_names[HTTP_METHOD__COUNT] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "OTHER",
};

const char *http_method_name(enum http_method m)
{
    if ((unsigned)m >= HTTP_METHOD__COUNT) {
        return "OTHER";
    }
    return method_names[m];
}

const char *req_query(const struct req *req, const char *key)
{
    for (size_t i = 0; i < req->nquery; i++) {
        if (strcmp(req->query[i].key, key) == 0) {
            return req->query[i].value ? req->query[i].value : "";
        }
    }
    return NULL;
}

enum err req_query_check(const struct req *req, const char *const *allowed, struct err_info *ei)
{
    for (size_t i = 0; i < req->nquery; i++) {
        const char *k = req->query[i].key;
        bool ok = false;
        for (const char *const *a = allowed; *a; a++) {
            if (strcmp(*a, k) == 0) {
                ok = true;
                break;
            }
        }
        if (!ok) {
            return err_set_field(ei, ERR_PARSE, k, "unrecognized query parameter \"%.64s\"", k);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(req->query[j].key, k) == 0) {
                return err_set_field(ei, ERR_PARSE, k, "query parameter \"%.64s\" given twice", k);
            }
        }
    }
    return ERR_OK;
}

bool uuid_valid(const char *s)
{
    return s && queue_is_uuid(s);
}

enum err req_uuid_param(const struct req *req, size_t idx, struct err_info *ei)
{
    const char *id = idx < req->nparams ? req->params[idx] : NULL;
    if (!uuid_valid(id)) {
        return err_set_field(ei, ERR_PARSE, "id", "invalid job id \"%.64s\": not a UUID",
                             id ? id : "");
    }
    return ERR_OK;
}

/* Pre-scan the raw text for nesting depth and string length, so a hostile body is refused
 * before jansson builds anything. Malformed text is left for jansson to report. */
static enum err json_prescan(const char *p, size_t len, struct err_info *ei)
{
    int depth = 0;
    bool in_str = false;
    size_t str_len = 0;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (in_str) {
            if (c == '\\') {
                i++;
                str_len += 2;
            } else if (c == '"') {
                in_str = false;
            } else {
                str_len++;
            }
            if (str_len > JSON_MAX_STRING) {
                return err_set_field(ei, ERR_TOO_LARGE, "body",
                                     "JSON string longer than %d bytes at offset %zu",
                                     JSON_MAX_STRING, i);
            }
            continue;
        }
        if (c == '"') {
            in_str = true;
            str_len = 0;
        } else if (c == '{' || c == '[') {
            if (++depth > JSON_MAX_DEPTH) {
                return err_set_field(ei, ERR_TOO_LARGE, "body",
                                     "JSON nested deeper than %d levels at offset %zu",
                                     JSON_MAX_DEPTH, i);
            }
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return ERR_OK;
}

enum err req_json_body(const char *body, size_t len, json_t **out, struct err_info *ei)
{
    if (!body || len == 0) {
        return err_set_field(ei, ERR_PARSE, "body",
                             "request body is empty; a JSON document is required");
    }
    enum err e = json_prescan(body, len, ei);
    if (e != ERR_OK) {
        return e;
    }
    json_error_t jerr;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!v) {
        return err_set_field(ei, ERR_PARSE, "body", "malformed JSON at line %d column %d: %s",
                             jerr.line, jerr.column, jerr.text);
    }
    *out = v;
    return ERR_OK;
}

void resp_init(struct resp *resp)
{
    memset(resp, 0, sizeof *resp);
    resp->status = 200;
    resp->content_type = "application/json";
    buf_init(&resp->body, RESP_BODY_MAX);
}

void resp_free(struct resp *resp)
{
    if (resp) {
        buf_free(&resp->body);
    }
}

enum err resp_json(struct resp *resp, int status, const json_t *v, struct err_info *ei)
{
    buf_reset(&resp->body);
    if (!v) {
        return err_set(ei, ERR_INTERNAL, "no response document to serialise");
    }
    /* json_dumpb straight into the body's storage: most answers (one job, about 450 bytes) fit
     * the first reservation; a larger one is measured by the first call and written by a
     * second. (json_dump_callback called a sink per token: a fifth of the serialisation.) */
    size_t room = RESP_BODY_RESERVE;
    if (json_is_array(v)) {
        /* a batch answer: reserve for all of it at once, or json_dumpb serialises it twice
         * (once to measure) */
        size_t n = json_array_size(v);
        room = n < RESP_BODY_MAX / RESP_BODY_PER_ITEM ? n * RESP_BODY_PER_ITEM : RESP_BODY_MAX / 2;
        if (room < RESP_BODY_RESERVE) {
            room = RESP_BODY_RESERVE;
        }
    }
    for (int pass = 0; pass < 2; pass++) {
        enum err e = buf_reserve(&resp->body, room);
        if (e == ERR_TOO_LARGE) {
            /* our own cap on what we send: a server-side limit, never the client's 413 */
            return err_set(ei, ERR_INTERNAL, "response document over the limit of %u bytes",
                           RESP_BODY_MAX);
        }
        if (e != ERR_OK) {
            return err_set(ei, e, "could not serialise the response");
        }
        room = resp->body.cap - resp->body.len - 1; /* what buf_reserve left, minus the NUL */
        size_t n = json_dumpb(v, resp->body.data, room, JSON_COMPACT);
        if (n == 0) {
            return err_set(ei, ERR_NOMEM, "could not serialise the response");
        }
        if (n < room) { /* room for the newline too */
            resp->body.data[n++] = '\n';
            resp->body.data[n] = '\0';
            resp->body.len = n;
            resp->status = status;
            resp->content_type = "application/json";
            return ERR_OK;
        }
        room = n + 1;
    }
    return err_set(ei, ERR_INTERNAL, "could not serialise the response");
}

enum err handlers__status_ok(struct resp *resp, const char *what, struct err_info *ei)
{
    json_t *doc = json_pack("{s:s}", "status", "ok");
    if (!doc) {
        return err_set(ei, ERR_NOMEM, "could not build the %s answer", what);
    }
    enum err e = resp_json(resp, 200, doc, ei);
    json_decref(doc);
    return e;
}
