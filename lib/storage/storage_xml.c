/* storage_xml.c - the few S3 XML documents (list pages, multipart initiate/complete, errors)
 * scanned by tag without a DOM (libxml2 stays in lib/caom), and XML text escaping.
 * SPDX-License-Identifier: Apache-2.0 */
#include "storage/storage.h"
#include "storage/storage_int.h"

#include <string.h>

static const char *find(const char *p, const char *end, const char *needle)
{
    size_t n = strlen(needle);
    while (p && (size_t)(end - p) >= n) {
        const char *hit = memchr(p, needle[0], (size_t)(end - p) - n + 1);
        if (!hit) {
            return NULL;
        }
        if (memcmp(hit, needle, n) == 0) {
            return hit;
        }
        p = hit + 1;
    }
    return NULL;
}

/* Decode one entity at @p p (after '&'); returns bytes consumed or 0 if unknown. */
static size_t entity(const char *p, const char *end, char *out, size_t *olen)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        size_t n = strlen(named[i].name);
        if ((size_t)(end - p) >= n && memcmp(p, named[i].name, n) == 0) {
            out[0] = named[i].c;
            *olen = 1;
            return n;
        }
    }
    if (p < end && *p == '#') {
        const char *q = p + 1;
        unsigned long cp = 0;
        bool hex = q < end && (*q == 'x' || *q == 'X');
        if (hex) {
            q++;
        }
        const char *digits = q;
        while (q < end && *q != ';' && q - digits < 8) {
            char c = *q;
            int v;
            if (c >= '0' && c <= '9') {
                v = c - '0';
            } else if (hex && c >= 'a' && c <= 'f') {
                v = c - 'a' + 10;
            } else if (hex && c >= 'A' && c <= 'F') {
                v = c - 'A' + 10;
            } else {
                return 0;
            }
            cp = cp * (hex ? 16u : 10u) + (unsigned long)v;
            q++;
        }
        if (q >= end || *q != ';' || q == digits || cp == 0 || cp > 0x10FFFF) {
            return 0;
        }
        /* UTF-8 encode */
        if (cp < 0x80) {
            out[0] = (char)cp;
            *olen = 1;
        } else if (cp < 0x800) {
            out[0] = (char)(0xC0 | (cp >> 6));
            out[1] = (char)(0x80 | (cp & 0x3F));
            *olen = 2;
        } else if (cp < 0x10000) {
            out[0] = (char)(0xE0 | (cp >> 12));
            out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
            out[2] = (char)(0x80 | (cp & 0x3F));
            *olen = 3;
        } else {
            out[0] = (char)(0xF0 | (cp >> 18));
            out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
            out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
            out[3] = (char)(0x80 | (cp & 0x3F));
            *olen = 4;
        }
        return (size_t)(q - p) + 1;
    }
    return 0;
}

enum err storage__xml_text(const char *p, const char *end, const char *tag, char *out,
                           size_t cap, const char **after)
{
    char open[80];
    char close[80];
    size_t tl = strlen(tag);
    if (tl + 4 > sizeof open || cap == 0) {
        return ERR_INVALID;
    }
    open[0] = '<';
    memcpy(open + 1, tag, tl);
    open[tl + 1] = '>';
    open[tl + 2] = '\0';
    close[0] = '<';
    close[1] = '/';
    memcpy(close + 2, tag, tl);
    close[tl + 2] = '>';
    close[tl + 3] = '\0';
    const char *s = find(p, end, open);
    if (!s) {
        return ERR_NOT_FOUND;
    }
    s += tl + 2;
    const char *e = find(s, end, close);
    if (!e) {
        return ERR_PARSE;
    }
    size_t o = 0;
    for (const char *q = s; q < e;) {
        char tmp[4];
        size_t n = 1;
        if (*q == '&') {
            size_t used = entity(q + 1, e, tmp, &n);
            if (used == 0) {
                return ERR_PARSE;
            }
            q += used + 1;
        } else {
            tmp[0] = *q++;
        }
        if (o + n >= cap) {
            return ERR_TOO_LARGE;
        }
        memcpy(out + o, tmp, n);
        o += n;
    }
    out[o] = '\0';
    if (after) {
        *after = e + tl + 3;
    }
    return ERR_OK;
}

enum err storage__xml_escape(struct buf *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        enum err e;
        switch (*p) {
        case '&':
            e = buf_puts(b, "&amp;");
            break;
        case '<':
            e = buf_puts(b, "&lt;");
            break;
        case '>':
            e = buf_puts(b, "&gt;");
            break;
        case '"':
            e = buf_puts(b, "&quot;");
            break;
        default:
            e = buf_append(b, p, 1);
            break;
        }
        if (e != ERR_OK) {
            return e;
        }
    }
    return ERR_OK;
}
