/* storage_uri.c - the URI grammar of lib/storage (file:, http(s)://, s3://, astroquery:).
 * Pure string work, no I/O; fuzzed by tests/fuzz/fuzz_storage_uri.c.
 * SPDX-License-Identifier: Apache-2.0 */
#include "storage/storage.h"

#include "core/str.h"

#include <string.h>
#include <strings.h>

const char *storage_scheme_name(enum storage_scheme s)
{
    switch (s) {
    case STORAGE_FILE:
        return "file";
    case STORAGE_HTTP:
        return "http";
    case STORAGE_HTTPS:
        return "https";
    case STORAGE_S3:
        return "s3";
    case STORAGE_ASTROQUERY:
        return "astroquery";
    }
    return "unknown";
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Length of a leading "scheme:" (without the colon), 0 if there is none. */
static size_t scheme_len(const char *s)
{
    if (!is_alpha(s[0])) {
        return 0;
    }
    size_t i = 1;
    while (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.') {
        i++;
    }
    return s[i] == ':' ? i : 0;
}

static bool bucket_ok(const char *b, size_t n)
{
    if (n < 3 || n > STORAGE_BUCKET_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        bool alnum = (c >= 'a' && c <= 'z') || is_digit(c);
        if (!alnum && c != '.' && c != '-') {
            return false;
        }
        if ((i == 0 || i == n - 1) && !alnum) {
            return false;
        }
        if (c == '.' && i + 1 < n && (b[i + 1] == '.' || b[i + 1] == '-')) {
            return false;
        }
        if (c == '-' && i + 1 < n && b[i + 1] == '.') {
            return false;
        }
    }
    return true;
}

/* Keys: no empty, "." or ".." segments (curl would normalise them away); a trailing "/" is
 * allowed (a prefix). */
static enum err key_ok(const char *k, struct err_info *ei)
{
    if (!k[0]) {
        return ERR_OK;
    }
    const char *seg = k;
    for (;;) {
        const char *slash = strchr(seg, '/');
        size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
        if (n == 0 && slash) {
            return err_set_field(ei, ERR_INVALID, "key",
                                 "S3 key \"%.200s\" has an empty path segment", k);
        }
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) {
            return err_set_field(ei, ERR_INVALID, "key",
                                 "S3 key \"%.200s\" has a \".\" or \"..\" segment", k);
        }
        if (!slash) {
            return ERR_OK;
        }
        seg = slash + 1;
    }
}

static bool name_ok(const char *n)
{
    if (!n[0] || n[0] == '.' || strlen(n) > STORAGE_NAME_MAX) {
        return false;
    }
    for (const char *p = n; *p; p++) {
        if (!is_alpha(*p) && !is_digit(*p) && *p != '.' && *p != '_' && *p != '-') {
            return false;
        }
    }
    return true;
}

enum err storage_uri_parse(const char *uri, struct storage_uri *out, struct err_info *ei)
{
    if (!uri || !uri[0]) {
        return err_set(ei, ERR_INVALID, "empty URI");
    }
    size_t len = strlen(uri);
    if (len >= STORAGE_URI_MAX) {
        return err_set(ei, ERR_TOO_LARGE, "URI longer than %d bytes", STORAGE_URI_MAX - 1);
    }
    for (const char *p = uri; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f) {
            return err_set(ei, ERR_INVALID, "URI contains a control character at offset %zu",
                           (size_t)(p - uri));
        }
    }
    struct storage_uri u;
    memset(&u, 0, sizeof u);
    size_t sl = scheme_len(uri);
    const char *rest = uri + sl + 1;

    if (sl == 0) {
        /* no scheme: a local path */
        u.scheme = STORAGE_FILE;
        (void)str_copy(u.path, sizeof u.path, uri);
    } else if (sl == 4 && strncasecmp(uri, "file", 4) == 0) {
        u.scheme = STORAGE_FILE;
        if (strncmp(rest, "//", 2) == 0) {
            rest += 2;
            if (strncasecmp(rest, "localhost/", 10) == 0) {
                rest += 9;
            } else if (rest[0] != '/') {
                return err_set(ei, ERR_INVALID, "file URI \"%.200s\" names a remote host", uri);
            }
        }
        if (!rest[0]) {
            return err_set(ei, ERR_INVALID, "file URI \"%.200s\" has no path", uri);
        }
        (void)str_copy(u.path, sizeof u.path, rest);
    } else if ((sl == 4 && strncasecmp(uri, "http", 4) == 0) ||
               (sl == 5 && strncasecmp(uri, "https", 5) == 0)) {
        u.scheme = sl == 4 ? STORAGE_HTTP : STORAGE_HTTPS;
        if (strncmp(rest, "//", 2) != 0 || !rest[2] || rest[2] == '/' || rest[2] == '?' ||
            rest[2] == '#') {
            return err_set(ei, ERR_INVALID, "URL \"%.200s\" has no host", uri);
        }
        for (const char *p = rest; *p; p++) {
            if (*p == ' ') {
                return err_set(ei, ERR_INVALID, "URL \"%.200s\" contains a space", uri);
            }
        }
        (void)str_copy(u.url, sizeof u.url, uri);
    } else if (sl == 2 && strncasecmp(uri, "s3", 2) == 0) {
        u.scheme = STORAGE_S3;
        if (strncmp(rest, "//", 2) != 0) {
            return err_set(ei, ERR_INVALID, "S3 URI \"%.200s\" must start with s3://", uri);
        }
        rest += 2;
        const char *slash = strchr(rest, '/');
        size_t bl = slash ? (size_t)(slash - rest) : strlen(rest);
        if (!bucket_ok(rest, bl)) {
            return err_set_field(ei, ERR_INVALID, "bucket",
                                 "invalid S3 bucket name \"%.*s\" (3 to 63 of a-z 0-9 . -)",
                                 (int)(bl > 80 ? 80 : bl), rest);
        }
        memcpy(u.bucket, rest, bl);
        u.bucket[bl] = '\0';
        const char *key = slash ? slash + 1 : "";
        if (strlen(key) > STORAGE_KEY_MAX) {
            return err_set_field(ei, ERR_TOO_LARGE, "key", "S3 key longer than %d bytes",
                                 STORAGE_KEY_MAX);
        }
        enum err e = key_ok(key, ei);
        if (e != ERR_OK) {
            return e;
        }
        (void)str_copy(u.key, sizeof u.key, key);
    } else if (sl == 10 && strncasecmp(uri, "astroquery", 10) == 0) {
        u.scheme = STORAGE_ASTROQUERY;
        if (!name_ok(rest)) {
            return err_set_field(ei, ERR_INVALID, "name",
                                 "invalid archive product name \"%.200s\" (use A-Z a-z 0-9 . _ -)",
                                 rest);
        }
        (void)str_copy(u.name, sizeof u.name, rest);
    } else {
        return err_set(ei, ERR_INVALID, "unrecognized URI scheme \"%.*s\"",
                       (int)(sl > 32 ? 32 : sl), uri);
    }
    *out = u;
    return ERR_OK;
}
