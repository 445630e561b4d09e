/* router.c - match (method, path) against the route table: literal segments and {param}
 * segments, 404 for an unknown path, 405 with the Allow list for a known path.
 * SPDX-License-Identifier: Apache-2.0 */
#include "router.h"

#include "core/str.h"

#include <string.h>

#define ROUTER_MAX_SEGMENTS 8

enum http_method router_method(const char *name)
{
    static const struct {
        const char *name;
        enum http_method m;
    } map[] = {
        {"GET", HTTP_GET},         {"HEAD", HTTP_HEAD},     {"POST", HTTP_POST},
        {"PUT", HTTP_PUT},         {"DELETE", HTTP_DELETE}, {"PATCH", HTTP_PATCH},
        {"OPTIONS", HTTP_OPTIONS},
    };
    for (size_t i = 0; i < ARRAY_LEN(map); i++) {
        if (strcmp(name, map[i].name) == 0) {
            return map[i].m;
        }
    }
    return HTTP_OTHER;
}

/* Split @p s (modified in place) at '/' into at most ROUTER_MAX_SEGMENTS segments.
 * Returns the count, or -1 when the path is not absolute, has too many or empty segments. */
static int split(char *s, char *seg[ROUTER_MAX_SEGMENTS])
{
    if (s[0] != '/') {
        return -1;
    }
    int n = 0;
    char *p = s + 1;
    if (*p == '\0') {
        return 0; /* "/" */
    }
    for (;;) {
        if (n == ROUTER_MAX_SEGMENTS) {
            return -1;
        }
        seg[n++] = p;
        char *slash = strchr(p, '/');
        if (!slash) {
            break;
        }
        *slash = '\0';
        p = slash + 1;
        if (*p == '\0') {
            return -1; /* trailing slash: not a route of ours */
        }
    }
    for (int i = 0; i < n; i++) {
        if (seg[i][0] == '\0') {
            return -1;
        }
    }
    return n;
}

/* Does @p pattern match the segments? Fills params when it does. */
static bool match_pattern(const char *pattern,
                          char *const seg[],
                          int nseg,
                          const char *params[REQ_MAX_PATH_PARAMS],
                          size_t *nparams)
{
    size_t np = 0;
    const char *p = pattern;
    for (int i = 0; i < nseg; i++) {
        if (*p != '/') {
            return false;
        }
        p++;
        const char *end = strchr(p, '/');
        size_t plen = end ? (size_t)(end - p) : strlen(p);
        if (plen == 0) {
            return false;
        }
        if (p[0] == '{' && p[plen - 1] == '}') {
            if (np == REQ_MAX_PATH_PARAMS || strlen(seg[i]) > REQ_PARAM_MAX) {
                return false;
            }
            params[np++] = seg[i];
        } else if (strlen(seg[i]) != plen || memcmp(seg[i], p, plen) != 0) {
            return false;
        }
        p += plen;
    }
    if (*p != '\0' && !(nseg == 0 && strcmp(p, "/") == 0)) {
        return false; /* pattern has more segments */
    }
    if (nseg == 0 && strcmp(pattern, "/") != 0) {
        return false;
    }
    *nparams = np;
    return true;
}

static void allow_add(char allow[ROUTER_ALLOW_MAX], const char *name)
{
    if (strstr(allow, name)) {
        return;
    }
    size_t len = strlen(allow);
    size_t need = strlen(name) + (len ? 2 : 0);
    if (len + need + 1 > ROUTER_ALLOW_MAX) {
        return;
    }
    if (len) {
        memcpy(allow + len, ", ", 2);
        len += 2;
    }
    memcpy(allow + len, name, strlen(name) + 1);
}

int router_match(const struct route *table,
                 size_t n,
                 enum http_method method,
                 const char *path,
                 char *scratch,
                 size_t scratch_cap,
                 const char *params[REQ_MAX_PATH_PARAMS],
                 size_t *nparams,
                 char allow[ROUTER_ALLOW_MAX])
{
    char *seg[ROUTER_MAX_SEGMENTS];
    allow[0] = '\0';
    *nparams = 0;
    if (!str_copy(scratch, scratch_cap, path)) {
        return ROUTE_NOT_FOUND;
    }
    int nseg = split(scratch, seg);
    if (nseg < 0) {
        return ROUTE_NOT_FOUND;
    }
    bool path_known = false;
    for (size_t i = 0; i < n; i++) {
        const char *tmp[REQ_MAX_PATH_PARAMS];
        size_t ntmp = 0;
        if (!match_pattern(table[i].pattern, seg, nseg, tmp, &ntmp)) {
            continue;
        }
        path_known = true;
        enum http_method rm = table[i].method;
        if (rm == method || (rm == HTTP_GET && method == HTTP_HEAD)) {
            memcpy(params, tmp, sizeof tmp);
            *nparams = ntmp;
            return (int)i;
        }
        allow_add(allow, http_method_name(rm));
        if (rm == HTTP_GET) {
            allow_add(allow, "HEAD");
        }
    }
    return path_known ? ROUTE_BAD_METHOD : ROUTE_NOT_FOUND;
}

int router_path_row(const struct route *table, size_t n, const char *path)
{
    char scratch[ROUTER_PATH_MAX + 1];
    char *seg[ROUTER_MAX_SEGMENTS];
    if (!str_copy(scratch, sizeof scratch, path)) {
        return ROUTE_NOT_FOUND;
    }
    int nseg = split(scratch, seg);
    if (nseg < 0) {
        return ROUTE_NOT_FOUND;
    }
    for (size_t i = 0; i < n; i++) {
        const char *tmp[REQ_MAX_PATH_PARAMS];
        size_t ntmp = 0;
        if (match_pattern(table[i].pattern, seg, nseg, tmp, &ntmp)) {
            return (int)i;
        }
    }
    return ROUTE_NOT_FOUND;
}
