/* dashboard.c - GET / and GET /ui/{file}: the status dashboard, web/ files embedded in the
 * binary at build time (handlers/embed_web.cmake). Each answer carries a strong ETag of its
 * content and "Cache-Control: no-cache", so a browser revalidates and gets a bodiless 304
 * while the build is the same; a new build's files are fetched at once.
 * SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

#include "core/str.h"

#include <string.h>

#define DASHBOARD_INDEX "index.html"
/* the page loads only its own files and talks only to this service */
#define DASHBOARD_CSP                                                                              \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* Does the If-None-Match list @p inm name @p etag (weak comparison, RFC 9110 13.1.2)? */
static bool etag_listed(const char *inm, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = inm;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        if (*p == '*') {
            return true;
        }
        if (p[0] == 'W' && p[1] == '/') {
            p += 2;
        }
        const char *end = p;
        while (*end && *end != ',') {
            end++;
        }
        const char *last = end;
        while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
            last--;
        }
        if ((size_t)(last - p) == elen && memcmp(p, etag, elen) == 0) {
            return true;
        }
        p = end;
    }
    return false;
}

static enum err
serve(const struct req *req, const char *name, struct resp *resp, struct err_info *ei)
{
    const struct handlers__asset *a = NULL;
    for (size_t i = 0; handlers__assets[i].name != NULL; i++) {
        if (strcmp(handlers__assets[i].name, name) == 0) {
            a = &handlers__assets[i];
            break;
        }
    }
    if (a == NULL) {
        return err_set(ei, ERR_NOT_FOUND, "no such dashboard file: %.64s", name);
    }
    resp->content_type = a->content_type;
    resp->cache_control = "no-cache";
    resp->csp = DASHBOARD_CSP;
    str_copy(resp->etag, sizeof resp->etag, a->etag);
    buf_reset(&resp->body);
    if (req->if_none_match != NULL && etag_listed(req->if_none_match, a->etag)) {
        resp->status = 304;
        return ERR_OK;
    }
    enum err e = buf_append(&resp->body, a->data, a->len);
    if (e != ERR_OK) {
        return err_set(ei, e, "could not answer with %s", a->name);
    }
    resp->status = 200;
    return ERR_OK;
}

enum err
h_dashboard(const struct app *app, const struct req *req, struct resp *resp, struct err_info *ei)
{
    (void)app; /* a query string is ignored: the page keeps its state in the fragment */
    return serve(req, DASHBOARD_INDEX, resp, ei);
}

enum err h_dashboard_file(const struct app *app,
                          const struct req *req,
                          struct resp *resp,
                          struct err_info *ei)
{
    (void)app;
    if (req->nparams < 1) {
        return err_set(ei, ERR_NOT_FOUND, "no dashboard file named");
    }
    return serve(req, req->params[0], resp, ei);
}
