/* repo_collections.c - which collections the built-in repository serves, with their
 * compute_metadata flag and read/write tokens, and the access decision of every request.
 * SPDX-License-Identifier: Apache-2.0 */
#include "repo/repo.h"
#include "repo/repo_int.h"

#include "core/str.h"

#include <stdlib.h>
#include <string.h>

#define REPO_FILE_LINE_MAX 4096 /* bytes of one line of a collections file */
#define REPO_FILE_WORDS    8    /* words on one line */

struct repo_coll {
    char name[REPO_NAME_MAX + 1];
    bool compute;
    char read_token[REPO_TOKEN_MAX + 1];  /* "" = reads open */
    char write_token[REPO_TOKEN_MAX + 1]; /* "" = none of its own */
};

struct repo_collections {
    bool any; /* "*": every collection, without computation */
    struct repo_coll *v;
    size_t n;
};

int repo_status(enum err e)
{
    switch (e) {
    case ERR_OK: return 200;
    case ERR_PARSE:
    case ERR_INVALID:
    case ERR_XML:
    case ERR_WCS:
    case ERR_CHECKSUM: return 400;
    case ERR_UNAUTHORIZED: return 401;
    case ERR_FORBIDDEN: return 403;
    case ERR_NOT_FOUND: return 404;
    case ERR_CONFLICT: return 409;
    case ERR_PRECONDITION: return 412;
    case ERR_TOO_LARGE: return 413;
    case ERR_UNAVAILABLE:
    case ERR_DB_RETRY:
    case ERR_TIMEOUT: return 503;
    default: return 500;
    }
}

bool repo__name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max || !caom_path_component_ok(s)) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        /* printable ASCII, and none of the separators of OBSFLOW_CAOM_COLLECTIONS and of the
         * collections file (, : = quotes) nor URI delimiters (? #) */
        if (c <= 0x20 || c >= 0x7f || strchr("?#,:=\"'", c)) {
            return false;
        }
    }
    return true;
}

static int coll_cmp(const void *a, const void *b)
{
    return strcmp(((const struct repo_coll *)a)->name, ((const struct repo_coll *)b)->name);
}

static struct repo_coll *coll_find(const struct repo_collections *c, const char *name)
{
    if (!c || c->n == 0) {
        return NULL;
    }
    struct repo_coll key;
    if (!str_copy(key.name, sizeof key.name, name)) {
        return NULL;
    }
    return bsearch(&key, c->v, c->n, sizeof *c->v, coll_cmp);
}

/* The entry named @p name, added (sorted) when new. */
static enum err coll_upsert(struct repo_collections *c,
                            const char *name,
                            struct repo_coll **out,
                            struct err_info *ei)
{
    struct repo_coll *hit = coll_find(c, name);
    if (hit) {
        *out = hit;
        return ERR_OK;
    }
    if (c->n == REPO_COLLECTIONS_MAX) {
        return err_set(ei, ERR_TOO_LARGE, "more than %d collections", REPO_COLLECTIONS_MAX);
    }
    struct repo_coll *v = realloc(c->v, (c->n + 1) * sizeof *v);
    if (!v) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    c->v = v;
    size_t at = 0;
    while (at < c->n && strcmp(c->v[at].name, name) < 0) {
        at++;
    }
    memmove(&c->v[at + 1], &c->v[at], (c->n - at) * sizeof *v);
    memset(&c->v[at], 0, sizeof *v);
    str_copy(c->v[at].name, sizeof c->v[at].name, name);
    c->n++;
    *out = &c->v[at];
    return ERR_OK;
}

enum err
repo_collections_parse(const char *spec, struct repo_collections **out, struct err_info *ei)
{
    struct repo_collections *c = calloc(1, sizeof *c);
    if (!c) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    enum err e = ERR_OK;
    const char *p = spec ? spec : "";
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[REPO_NAME_MAX + 16];
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
            len--;
        }
        if (len >= sizeof item) {
            e = err_set_field(ei, ERR_INVALID, "OBSFLOW_CAOM_COLLECTIONS",
                              "collection entry \"%.40s...\" is too long", p);
            goto out;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        if (len == 0) {
            e = err_set_field(ei, ERR_INVALID, "OBSFLOW_CAOM_COLLECTIONS",
                              "empty collection entry in \"%s\"", spec);
            goto out;
        }
        bool compute = false;
        char *colon = strchr(item, ':');
        if (colon) {
            if (strcmp(colon + 1, "compute") != 0) {
                e = err_set_field(ei, ERR_INVALID, "OBSFLOW_CAOM_COLLECTIONS",
                                  "collection entry \"%s\": the only option is \":compute\"",
                                  item);
                goto out;
            }
            *colon = '\0';
            compute = true;
        }
        if (strcmp(item, "*") == 0) {
            if (compute) {
                e = err_set_field(ei, ERR_INVALID, "OBSFLOW_CAOM_COLLECTIONS",
                                  "\"*:compute\" is not supported; name the collections to compute");
                goto out;
            }
            c->any = true;
        } else {
            if (!repo__name_ok(item, REPO_NAME_MAX)) {
                e = err_set_field(ei, ERR_INVALID, "OBSFLOW_CAOM_COLLECTIONS",
                                  "\"%s\" is not a valid collection name", item);
                goto out;
            }
            struct repo_coll *rc = NULL;
            if ((e = coll_upsert(c, item, &rc, ei)) != ERR_OK) {
                goto out;
            }
            rc->compute = compute;
        }
        p += len;
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        if (*p == ',') {
            p++;
            if (*p == '\0') {
                e = err_set_field(ei, ERR_INVALID, "OBSFLOW_CAOM_COLLECTIONS",
                                  "trailing comma in \"%s\"", spec);
                goto out;
            }
        }
    }
out:
    if (e != ERR_OK) {
        repo_collections_free(c);
        return e;
    }
    *out = c;
    return ERR_OK;
}

/* Split @p line (modified) into blank-separated words. */
static size_t split_words(char *line, char *w[REPO_FILE_WORDS + 1])
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        if (*p == '\0') {
            return n;
        }
        if (n == REPO_FILE_WORDS + 1) {
            return n;
        }
        w[n++] = p;
        while (*p && *p != ' ' && *p != '\t') {
            p++;
        }
        if (*p) {
            *p++ = '\0';
        }
    }
}

static enum err set_token(char *dst, const char *v, const char *name, size_t lineno,
                          const char *word, struct err_info *ei)
{
    size_t n = strlen(v);
    if (n == 0 || n > REPO_TOKEN_MAX) {
        return err_set(ei, ERR_INVALID, "%s:%zu: %s needs a value of 1..%d bytes", name, lineno,
                       word, REPO_TOKEN_MAX);
    }
    memcpy(dst, v, n + 1);
    return ERR_OK;
}

static enum err add_line(struct repo_collections *c, char *line, const char *name,
                         size_t lineno, struct err_info *ei)
{
    char *hash = strchr(line, '#');
    if (hash) {
        *hash = '\0';
    }
    char *w[REPO_FILE_WORDS + 1];
    size_t nw = split_words(line, w);
    if (nw == 0) {
        return ERR_OK;
    }
    if (nw > REPO_FILE_WORDS) {
        return err_set(ei, ERR_INVALID, "%s:%zu: too many words", name, lineno);
    }
    if (strcmp(w[0], "*") == 0) {
        if (nw > 1) {
            return err_set(ei, ERR_INVALID, "%s:%zu: \"*\" takes no options", name, lineno);
        }
        c->any = true;
        return ERR_OK;
    }
    if (!repo__name_ok(w[0], REPO_NAME_MAX)) {
        return err_set(ei, ERR_INVALID, "%s:%zu: \"%.64s\" is not a valid collection name", name,
                       lineno, w[0]);
    }
    struct repo_coll tmp;
    memset(&tmp, 0, sizeof tmp);
    str_copy(tmp.name, sizeof tmp.name, w[0]);
    for (size_t i = 1; i < nw; i++) {
        enum err e = ERR_OK;
        if (strcmp(w[i], "compute") == 0) {
            tmp.compute = true;
        } else if (str_starts_with(w[i], "read-token=")) {
            e = set_token(tmp.read_token, w[i] + 11, name, lineno, "read-token", ei);
        } else if (str_starts_with(w[i], "write-token=")) {
            e = set_token(tmp.write_token, w[i] + 12, name, lineno, "write-token", ei);
        } else {
            e = err_set(ei, ERR_INVALID,
                        "%s:%zu: unknown option \"%.64s\" (compute, read-token=, write-token=)",
                        name, lineno, w[i]);
        }
        if (e != ERR_OK) {
            return e;
        }
    }
    struct repo_coll *rc = NULL;
    enum err e = coll_upsert(c, tmp.name, &rc, ei);
    if (e == ERR_OK) {
        *rc = tmp;
    }
    return e;
}

enum err repo_collections_add_file(struct repo_collections *c,
                                   const char *text,
                                   size_t len,
                                   const char *name,
                                   struct err_info *ei)
{
    size_t lineno = 0;
    size_t i = 0;
    while (i < len) {
        lineno++;
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
        if (n >= REPO_FILE_LINE_MAX) {
            return err_set(ei, ERR_INVALID, "%s:%zu: line longer than %d bytes", name, lineno,
                           REPO_FILE_LINE_MAX);
        }
        char line[REPO_FILE_LINE_MAX];
        memcpy(line, text + i, n);
        line[n] = '\0';
        if (n > 0 && line[n - 1] == '\r') {
            line[n - 1] = '\0';
        }
        if (memchr(line, '\0', n) != NULL && strlen(line) + 1 < n) {
            return err_set(ei, ERR_INVALID, "%s:%zu: NUL byte", name, lineno);
        }
        enum err e = add_line(c, line, name, lineno, ei);
        if (e != ERR_OK) {
            return e;
        }
        i += n + (nl ? 1 : 0);
    }
    return ERR_OK;
}

void repo_collections_free(struct repo_collections *c)
{
    if (c) {
        free(c->v);
        free(c);
    }
}

bool repo_collection_known(const struct repo_collections *c, const char *collection, bool *compute)
{
    if (compute) {
        *compute = false;
    }
    if (!c) {
        return repo__name_ok(collection, REPO_NAME_MAX);
    }
    const struct repo_coll *rc = coll_find(c, collection);
    if (rc) {
        if (compute) {
            *compute = rc->compute;
        }
        return true;
    }
    return c->any && repo__name_ok(collection, REPO_NAME_MAX);
}

size_t repo_collections_count(const struct repo_collections *c)
{
    return c ? c->n : 0;
}

const char *repo_collections_name(const struct repo_collections *c, size_t i)
{
    return c && i < c->n ? c->v[i].name : NULL;
}

bool repo_collections_any(const struct repo_collections *c)
{
    return !c || c->any;
}

static bool token_is(const char *token, const char *want)
{
    return want && want[0] && token &&
           str_ct_equal(token, strlen(token), want, strlen(want));
}

/* Is @p token one this server issued (the API token or any collection's token)? */
static bool token_known(const struct repo_collections *c, const char *api_token, const char *token)
{
    bool known = token_is(token, api_token);
    for (size_t i = 0; c && i < c->n; i++) {
        /* every token compared, whatever matched before (no early exit to time) */
        int r = (int)token_is(token, c->v[i].read_token);
        int w = (int)token_is(token, c->v[i].write_token);
        known = (bool)((int)known | r | w);
    }
    return known;
}

enum err repo_authorize(const struct repo_collections *c,
                        const char *api_token,
                        const char *collection,
                        enum repo_access access,
                        const char *token,
                        struct err_info *ei)
{
    const struct repo_coll *rc = coll_find(c, collection);
    const char *rt = rc ? rc->read_token : "";
    const char *wt = rc ? rc->write_token : "";
    bool api = api_token && api_token[0];
    const char *what = access == REPO_READ ? "read" : "write";
    if (access == REPO_READ) {
        if (!rt[0]) {
            return ERR_OK;
        }
        if (token_is(token, rt) || token_is(token, wt) || token_is(token, api_token)) {
            return ERR_OK;
        }
    } else {
        if (!api && !wt[0]) {
            return ERR_OK;
        }
        if (token_is(token, wt) || token_is(token, api_token)) {
            return ERR_OK;
        }
    }
    /* torkeep: an anonymous caller without the grant is refused (403); a credential that does
     * not authenticate is 401; an authenticated caller without the grant is 403 */
    if (token && token[0] && !token_known(c, api_token, token)) {
        return err_set(ei, ERR_UNAUTHORIZED, "invalid token: not a token of this service");
    }
    return err_set(ei, ERR_FORBIDDEN, "permission denied: no %s grants for caom:%s/", what,
                   collection);
}
