/* problem.c - enum err -> application/problem+json.
 * SPDX-License-Identifier: Apache-2.0 */
#include "problem.h"

#include <string.h>

int problem_status(enum err e)
{
    int s = err_http_status(e);
    return (s >= 400 && s <= 599) ? s : 500;
}

const char *problem_title(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return status >= 500 ? "Server Error" : "Client Error";
    }
}

enum err
problem_render(struct resp *resp, enum err e, const struct err_info *ei, const char *request_id)
{
    int status = problem_status(e);
    const char *code = err_code(e);
    const char *detail = (ei && ei->msg[0]) ? ei->msg : problem_title(status);
    /* a server-side failure's detail (database messages, socket paths) goes to the log only */
    if (status == 503) {
        detail = "the service or its database is not available right now; try again shortly";
    } else if (status == 504) {
        detail = "the database did not answer in time; try again shortly";
    } else if (status >= 500) {
        detail = "internal error; the server log has the detail under this request_id";
    } else if (strstr(detail, "(sqlstate ")) {
        /* lib/db's message for a value the database refused (db_fail: "<what> failed (sqlstate
         * NNNNN): <server text>"): a handler passed it on, the request is blamed, the text is
         * the server's */
        detail = "the database refused a value of this request; the server log has the detail "
                 "under this request_id";
    }
    json_t *doc = json_object();
    if (!doc) {
        goto fail;
    }
    char type[96];
    snprintf(type, sizeof type, "https://obsflow.dev/problems/%s", code);
    json_object_set_new(doc, "type", json_string(type));
    json_object_set_new(doc, "title", json_string(problem_title(status)));
    json_object_set_new(doc, "status", json_integer(status));
    json_object_set_new(doc, "code", json_string(code));
    json_object_set_new(doc, "detail", json_string(detail));
    if (ei && ei->field[0]) {
        json_object_set_new(doc, "field", json_string(ei->field));
    }
    if (request_id && request_id[0]) {
        json_object_set_new(doc, "request_id", json_string(request_id));
    }
    struct err_info tmp;
    enum err r = resp_json(resp, status, doc, &tmp);
    json_decref(doc);
    if (r != ERR_OK) {
        goto fail;
    }
    resp->content_type = "application/problem+json";
    return ERR_OK;
fail:
    buf_reset(&resp->body);
    resp->status = 500;
    resp->content_type = "application/problem+json";
    return ERR_NOMEM;
}
