/* storage_lines.c - the line splitter behind storage_walk's URI lists: bytes in chunks of any
 * size, one line held at a time (at most STORAGE_URI_MAX bytes), trimmed, blank lines and "#"
 * comments skipped. See storage_int.h.
 * SPDX-License-Identifier: Apache-2.0 */
#include "storage/storage.h"
#include "storage/storage_int.h"

#include <string.h>

void storage__lines_init(struct storage__lines *l)
{
    l->len = 0;
    l->lineno = 1;
    l->line[0] = '\0';
}

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* The complete line in l->line[0..len): trim, skip, report; then start the next one. */
static enum err end_line(struct storage__lines *l, storage__line_fn fn, void *ud,
                         struct err_info *ei)
{
    enum err e = ERR_OK;
    char *s = l->line;
    size_t n = l->len;
    if (memchr(s, '\0', n)) {
        e = err_set(ei, ERR_INVALID, "line %llu holds a NUL byte",
                    (unsigned long long)l->lineno);
        goto out;
    }
    while (n > 0 && blank(s[n - 1])) {
        n--;
    }
    while (n > 0 && blank(s[0])) {
        s++;
        n--;
    }
    s[n] = '\0';
    if (n > 0 && s[0] != '#') {
        e = fn(ud, l->lineno, s, ei);
    }
out:
    l->len = 0;
    l->lineno++;
    return e;
}

enum err storage__lines_feed(struct storage__lines *l, const char *p, size_t n,
                             storage__line_fn fn, void *ud, struct err_info *ei)
{
    const char *end = p + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t take = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (take > STORAGE_URI_MAX - l->len) {
            return err_set(ei, ERR_TOO_LARGE, "line %llu is longer than %d bytes",
                           (unsigned long long)l->lineno, STORAGE_URI_MAX);
        }
        memcpy(l->line + l->len, p, take);
        l->len += take;
        p += take;
        if (nl) {
            p++;
            enum err e = end_line(l, fn, ud, ei);
            if (e != ERR_OK) {
                return e;
            }
        }
    }
    return ERR_OK;
}

enum err storage__lines_finish(struct storage__lines *l, storage__line_fn fn, void *ud,
                               struct err_info *ei)
{
    if (l->len == 0) {
        return ERR_OK;
    }
    return end_line(l, fn, ud, ei);
}
