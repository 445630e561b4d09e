/* dashboard_previews.c - GET /v1/jobs/{id}/previews/{name}: a preview or thumbnail image a
 * dataset job published on a file: output, so that the dashboard's job page can show it from
 * this service (its Content-Security-Policy allows images from here only). Only a product
 * the job's own result lists, of type preview or thumbnail, a JPEG or PNG by name, at most
 * PREVIEW_MAX bytes; previews on S3 are not fetched (404 saying where they are).
 * SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

#include "queue/queue.h"

#include <stdio.h>
#include <string.h>

#define PREVIEW_MAX (16u << 20)

static const char *image_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot == NULL) {
        return NULL;
    }
    if (strcmp(dot, ".jpg") == 0 || strcmp(dot, ".jpeg") == 0) {
        return "image/jpeg";
    }
    if (strcmp(dot, ".png") == 0) {
        return "image/png";
    }
    return NULL;
}

/* The URI of the preview or thumbnail named @p name in @p job's result, or NULL. */
static const char *preview_uri(const json_t *job, const char *name)
{
    const json_t *prods = json_object_get(json_object_get(job, "result"), "products");
    size_t i;
    const json_t *p;
    json_array_foreach(prods, i, p)
    {
        const char *type = json_string_value(json_object_get(p, "type"));
        const char *uri = json_string_value(json_object_get(p, "uri"));
        if (type == NULL || uri == NULL ||
            (strcmp(type, "preview") != 0 && strcmp(type, "thumbnail") != 0)) {
            continue;
        }
        const char *slash = strrchr(uri, '/');
        if (slash != NULL && strcmp(slash + 1, name) == 0) {
            return uri;
        }
    }
    return NULL;
}

static enum err read_file(const char *path, struct resp *resp, struct err_info *ei)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return err_set(ei, ERR_NOT_FOUND, "the preview is no longer at its output");
    }
    enum err e = ERR_OK;
    char chunk[16384];
    size_t n;
    buf_reset(&resp->body);
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (resp->body.len + n > PREVIEW_MAX) {
            e = err_set(ei, ERR_TOO_LARGE, "preview larger than %u bytes", PREVIEW_MAX);
            break;
        }
        e = buf_append(&resp->body, chunk, n);
        if (e != ERR_OK) {
            err_set(ei, e, "could not read the preview");
            break;
        }
    }
    if (e == ERR_OK && ferror(f)) {
        e = err_set(ei, ERR_IO, "could not read the preview");
    }
    fclose(f);
    if (e != ERR_OK) {
        buf_reset(&resp->body);
    }
    return e;
}

enum err
h_job_preview(const struct app *app, const struct req *req, struct resp *resp, struct err_info *ei)
{
    enum err e = req_uuid_param(req, 0, ei);
    if (e != ERR_OK) {
        return e;
    }
    if (req->nparams < 2 || req->nquery > 0) {
        return err_set_field(ei, ERR_PARSE, "query", "no query parameter is accepted");
    }
    const char *name = req->params[1];
    const char *ctype = image_type(name);
    if (ctype == NULL) {
        return err_set_field(ei, ERR_NOT_FOUND, "name", "not a preview image name: %.64s", name);
    }
    json_t *job = NULL;
    e = queue_get(app->queue, req->params[0], &job, ei);
    if (e != ERR_OK) {
        return e;
    }
    const char *uri = preview_uri(job, name);
    if (uri == NULL) {
        e = err_set_field(ei, ERR_NOT_FOUND, "name", "job %s lists no preview named %.64s",
                          req->params[0], name);
    } else if (strncmp(uri, "file:", 5) != 0 || uri[5] != '/') {
        e = err_set_field(ei, ERR_NOT_FOUND, "name", "the preview is at %.200s, not served here",
                          uri);
    } else {
        e = read_file(uri + 5, resp, ei);
    }
    json_decref(job);
    if (e == ERR_OK) {
        resp->status = 200;
        resp->content_type = ctype;
    }
    return e;
}
