/* client_http.c - obsflowd client over lib/httpc: URL and token from the environment,
 * problem+json errors turned into one line and an exit code.
 * SPDX-License-Identifier: Apache-2.0 */
#include "client.h"

#include "core/str.h"
#include "httpc/httpc.h"
#include "queue/queue.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_URL_MAX  2048 /* OBSFLOW_URL */
#define CLIENT_PATH_MAX 8192 /* path and query of one request */

struct client {
    struct httpc *h;
    const char *cmd;
    char base[CLIENT_URL_MAX];
    const char *token;
};

const char *client_cmd(const struct client *c)
{
    return c->cmd;
}

int client_exit_for(enum err e)
{
    switch (e) {
    case ERR_OK:
        return CLIENT_EXIT_OK;
    case ERR_UNAVAILABLE:
    case ERR_TIMEOUT:
        return CLIENT_EXIT_UNREACHABLE;
    case ERR_NOT_FOUND:
        return CLIENT_EXIT_NOT_FOUND;
    case ERR_UNAUTHORIZED:
        return CLIENT_EXIT_AUTH;
    case ERR_INVALID:
    case ERR_PARSE:
    case ERR_CONFLICT:
    case ERR_TOO_LARGE:
    case ERR_UNSUPPORTED:
        return CLIENT_EXIT_REFUSED;
    default:
        return CLIENT_EXIT_FAILED;
    }
}

struct client *client_new(const char *cmd, int *exit_code)
{
    *exit_code = CLIENT_EXIT_FAILED;
    struct err_info ei;
    err_info_clear(&ei);
    struct client *c = calloc(1, sizeof *c);
    if (!c) {
        fprintf(stderr, "obsflow %s: out of memory\n", cmd);
        return NULL;
    }
    c->cmd = cmd;
    const char *url = getenv("OBSFLOW_URL");
    if (!url || !url[0]) {
        url = "http://127.0.0.1:8080";
    }
    if (!(str_starts_with(url, "http://") || str_starts_with(url, "https://")) ||
        !str_copy(c->base, sizeof c->base, url)) {
        fprintf(stderr,
                "obsflow %s: invalid OBSFLOW_URL \"%.200s\": expected http(s)://host:port\n", cmd,
                url);
        free(c);
        *exit_code = CLIENT_EXIT_USAGE;
        return NULL;
    }
    size_t n = strlen(c->base);
    while (n > 0 && c->base[n - 1] == '/') {
        c->base[--n] = '\0';
    }
    const char *tok = getenv("OBSFLOW_API_TOKEN");
    c->token = (tok && tok[0]) ? tok : NULL;
    struct httpc_options o = {
        .connect_timeout_ms = 5000, .total_timeout_ms = 60000, .max_attempts = 2};
    if (httpc_global_init(&ei) != ERR_OK) {
        fprintf(stderr, "obsflow %s: %s\n", cmd, ei.msg);
        free(c);
        return NULL;
    }
    if (httpc_create(&o, &c->h, &ei) != ERR_OK) {
        fprintf(stderr, "obsflow %s: %s\n", cmd, ei.msg);
        httpc_global_cleanup();
        free(c);
        return NULL;
    }
    return c;
}

void client_free(struct client *c)
{
    if (!c) {
        return;
    }
    httpc_destroy(c->h);
    httpc_global_cleanup();
    free(c);
}

static enum httpc_method method_of(const char *m)
{
    if (strcmp(m, "POST") == 0) {
        return HTTPC_POST;
    }
    if (strcmp(m, "PUT") == 0) {
        return HTTPC_PUT;
    }
    if (strcmp(m, "DELETE") == 0) {
        return HTTPC_DELETE;
    }
    return HTTPC_GET;
}

static int exit_for_status(long status)
{
    if (status == 404) {
        return CLIENT_EXIT_NOT_FOUND;
    }
    if (status == 401 || status == 403) {
        return CLIENT_EXIT_AUTH;
    }
    if (status >= 500) {
        return CLIENT_EXIT_SERVER;
    }
    return CLIENT_EXIT_REFUSED;
}

int client_call(struct client *c,
                const char *method,
                const char *path,
                const char *body,
                size_t body_len,
                const char *extra_header,
                json_t **out,
                long *status)
{
    struct err_info ei;
    err_info_clear(&ei);
    if (out) {
        *out = NULL;
    }
    char url[CLIENT_URL_MAX + CLIENT_PATH_MAX];
    int un = snprintf(url, sizeof url, "%s%s", c->base, path);
    if (un < 0 || (size_t)un >= sizeof url) {
        /* a cut URL would ask for something else */
        fprintf(stderr, "obsflow %s: request path longer than %d bytes\n", c->cmd,
                CLIENT_PATH_MAX);
        return CLIENT_EXIT_USAGE;
    }
    const char *headers[4] = {"Accept: application/json", NULL, NULL, NULL};
    size_t nh = 1;
    if (body) {
        headers[nh++] = "Content-Type: application/json";
    }
    if (extra_header) {
        headers[nh++] = extra_header;
    }
    struct httpc_request req = {
        .method = method_of(method),
        .url = url,
        .headers = headers,
        .bearer_token = c->token,
        .body = body,
        .body_len = body_len,
        .max_body = CLIENT_BODY_MAX,
    };
    struct httpc_response resp;
    httpc_response_init(&resp);
    int rc = CLIENT_EXIT_OK;
    enum err e = httpc_do(c->h, &req, &resp, &ei);
    if (status) {
        *status = resp.status;
    }
    if (e != ERR_OK) {
        fprintf(stderr, "obsflow %s: could not reach obsflowd at %s: %s\n", c->cmd, c->base,
                ei.msg);
        rc = e == ERR_TOO_LARGE ? CLIENT_EXIT_FAILED : CLIENT_EXIT_UNREACHABLE;
        goto out;
    }
    json_error_t je;
    json_t *doc = resp.body.len ? json_loadb(buf_cstr(&resp.body), resp.body.len, 0, &je) : NULL;
    if (resp.status >= 200 && resp.status < 300) {
        if (resp.body.len && !doc) {
            fprintf(stderr, "obsflow %s: malformed JSON from obsflowd: %s\n", c->cmd, je.text);
            rc = CLIENT_EXIT_SERVER;
            goto out;
        }
        if (out) {
            *out = doc;
        } else {
            json_decref(doc);
        }
        goto out;
    }
    const char *code = doc ? json_string_value(json_object_get(doc, "code")) : NULL;
    const char *detail = doc ? json_string_value(json_object_get(doc, "detail")) : NULL;
    const char *field = doc ? json_string_value(json_object_get(doc, "field")) : NULL;
    if (!detail) {
        detail = resp.body.len ? buf_cstr(&resp.body) : "(no detail)";
    }
    char one[512];
    snprintf(one, sizeof one, "%s", detail);
    for (char *p = one; *p; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
    if (field) {
        fprintf(stderr, "obsflow %s: %ld %s: %s (field %s)\n", c->cmd, resp.status,
                code ? code : "error", one, field);
    } else {
        fprintf(stderr, "obsflow %s: %ld %s: %s\n", c->cmd, resp.status, code ? code : "error",
                one);
    }
    json_decref(doc);
    rc = exit_for_status(resp.status);
out:
    httpc_response_free(&resp);
    return rc;
}

bool client_is_uuid(const char *s)
{
    return s && queue_is_uuid(s);
}

void client_print_job_line(const json_t *job)
{
    const char *id = json_string_value(json_object_get(job, "id"));
    const char *state = json_string_value(json_object_get(job, "state"));
    const char *kind = json_string_value(json_object_get(job, "kind"));
    json_int_t att = json_integer_value(json_object_get(job, "attempts"));
    json_int_t max = json_integer_value(json_object_get(job, "max_attempts"));
    const json_t *err = json_object_get(job, "error");
    const char *msg =
        json_is_object(err) ? json_string_value(json_object_get(err, "message")) : NULL;
    printf("%s  %-9s  %-10s  attempt %lld/%lld%s%s\n", id ? id : "?", state ? state : "?",
           kind ? kind : "?", (long long)att, (long long)max, msg ? "  " : "", msg ? msg : "");
}

void client_print_json(const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2));
    if (s) {
        puts(s);
    }
    free(s);
}

int client_usage_error(const char *verb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "obsflow %s: ", verb);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
    return CLIENT_EXIT_USAGE;
}
