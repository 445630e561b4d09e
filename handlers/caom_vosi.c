/* caom_vosi.c - the VOSI documents of the repository: GET /caom2/capabilities (the #obs-1.2 and
 * #del-1.0 capabilities with base URLs built from the request's Host) and
 * GET /caom2/availability. SPDX-License-Identifier: Apache-2.0 */
#include "handlers_int.h"

#include "repo/repo.h"

#include <string.h>

#define VOSI_HOST_MAX 256

/* "http(s)://host[:port]" + the repository base path, from the request. */
static void base_url(const struct app *app, const struct req *req, char *out, size_t cap)
{
    const char *host = req->host && req->host[0] ? req->host : "localhost";
    char h[VOSI_HOST_MAX];
    size_t n = 0;
    /* a Host header is echoed into XML: keep only what a host[:port] may hold */
    for (const char *p = host; *p && n + 1 < sizeof h; p++) {
        char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr(".-:[]_", c)) {
            h[n++] = c;
        }
    }
    h[n] = '\0';
    const char *proto =
        req->forwarded_proto && strcmp(req->forwarded_proto, "https") == 0 ? "https" : "http";
    snprintf(out, cap, "%s://%s%s", proto, h, app->caom_base ? app->caom_base : "/caom2");
}

static enum err cap_one(struct buf *b, const char *std, const char *url, bool secured)
{
    enum err e = buf_printf(b,
                            "  <capability standardID=\"%s\">\n"
                            "    <interface xsi:type=\"vs:ParamHTTP\" role=\"std\">\n"
                            "      <accessURL use=\"%s\">%s</accessURL>\n",
                            std, secured ? "base" : "full", url);
    if (e == ERR_OK && secured) {
        e = buf_puts(b, "      <securityMethod/>\n"
                        "      <securityMethod standardID=\"ivo://ivoa.net/sso#token\"/>\n"
                        "      <securityMethod standardID=\"ivo://ivoa.net/sso#tls-with-certificate\"/>\n");
    }
    if (e == ERR_OK) {
        e = buf_puts(b, "    </interface>\n  </capability>\n");
    }
    return e;
}

enum err h_caom_capabilities(const struct app *app, const struct req *req, struct resp *resp,
                             struct err_info *ei)
{
    char base[VOSI_HOST_MAX + 128];
    char url[sizeof base + 32];
    base_url(app, req, base, sizeof base);
    resp->content_type = "text/xml";
    struct buf *b = &resp->body;
    enum err e = buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                             "<vosi:capabilities xmlns:vosi=\"http://www.ivoa.net/xml/VOSICapabilities/v1.0\""
                             " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
                             " xmlns:vs=\"http://www.ivoa.net/xml/VODataService/v1.1\">\n");
    snprintf(url, sizeof url, "%s/capabilities", base);
    if (e == ERR_OK) {
        e = cap_one(b, "ivo://ivoa.net/std/VOSI#capabilities", url, false);
    }
    snprintf(url, sizeof url, "%s/availability", base);
    if (e == ERR_OK) {
        e = cap_one(b, "ivo://ivoa.net/std/VOSI#availability", url, false);
    }
    snprintf(url, sizeof url, "%s/observations", base);
    if (e == ERR_OK) {
        e = cap_one(b, REPO_STD_OBS, url, true);
    }
    snprintf(url, sizeof url, "%s/deletions", base);
    if (e == ERR_OK) {
        e = cap_one(b, REPO_STD_DEL, url, true);
    }
    if (e == ERR_OK) {
        e = buf_puts(b, "</vosi:capabilities>\n");
    }
    return e == ERR_OK ? ERR_OK : err_set(ei, e, "could not write the capabilities");
}

enum err h_caom_availability(const struct app *app, const struct req *req, struct resp *resp,
                             struct err_info *ei)
{
    (void)req;
    struct err_info tmp;
    err_info_clear(&tmp);
    bool up = !app->ready || app->ready(app->probe_ctx, &tmp);
    resp->content_type = "text/xml";
    enum err e = buf_printf(&resp->body,
                            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                            "<vosi:availability xmlns:vosi=\"http://www.ivoa.net/xml/VOSIAvailability/v1.0\">\n"
                            "  <vosi:available>%s</vosi:available>\n"
                            "  <vosi:note>%s</vosi:note>\n"
                            "</vosi:availability>\n",
                            up ? "true" : "false",
                            up ? "service is accepting queries" : "the database is not available");
    return e == ERR_OK ? ERR_OK : err_set(ei, e, "could not write the availability");
}
