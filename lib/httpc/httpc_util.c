/* httpc_util.c - digests (libcrypto EVP), URL path encoding, status-to-error mapping and
 * response header lookup for lib/httpc.
 * SPDX-License-Identifier: Apache-2.0 */
#include "httpc/httpc.h"
#include "httpc/httpc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define HTTPC__SUM_CHUNK ((size_t)1 << 16)

const char *httpc_method_name(enum httpc_method m)
{
    switch (m) {
    case HTTPC_GET:
        return "GET";
    case HTTPC_HEAD:
        return "HEAD";
    case HTTPC_POST:
        return "POST";
    case HTTPC_PUT:
        return "PUT";
    case HTTPC_DELETE:
        return "DELETE";
    case HTTPC_PATCH:
        return "PATCH";
    }
    return "GET";
}

static const EVP_MD *sum_md(enum httpc_sum alg)
{
    switch (alg) {
    case HTTPC_SUM_MD5:
        return EVP_md5();
    case HTTPC_SUM_SHA256:
        return EVP_sha256();
    case HTTPC_SUM_NONE:
        break;
    }
    return NULL;
}

enum err httpc__sum_begin(struct httpc__sum *s, enum httpc_sum alg, struct err_info *ei)
{
    s->alg = alg;
    s->ctx = NULL;
    if (alg == HTTPC_SUM_NONE) {
        return ERR_OK;
    }
    const EVP_MD *md = sum_md(alg);
    if (!md) {
        return err_set(ei, ERR_INVALID, "unrecognized digest algorithm %d", (int)alg);
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) {
        return err_set(ei, ERR_NOMEM, "out of memory for a digest context");
    }
    if (EVP_DigestInit_ex(ctx, md, NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return err_set(ei, ERR_INTERNAL, "could not initialise the digest");
    }
    s->ctx = ctx;
    return ERR_OK;
}

void httpc__sum_update(struct httpc__sum *s, const void *p, size_t n)
{
    if (s->ctx && n > 0) {
        /* EVP_DigestUpdate cannot fail for MD5/SHA-256 on a valid context */
        (void)EVP_DigestUpdate((EVP_MD_CTX *)s->ctx, p, n);
    }
}

enum err httpc__sum_end(struct httpc__sum *s, char hex[HTTPC_SUM_HEX_MAX], struct err_info *ei)
{
    hex[0] = '\0';
    if (!s->ctx) {
        return ERR_OK;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int ok = EVP_DigestFinal_ex((EVP_MD_CTX *)s->ctx, md, &mdlen);
    EVP_MD_CTX_free((EVP_MD_CTX *)s->ctx);
    s->ctx = NULL;
    if (ok != 1 || mdlen * 2 + 1 > HTTPC_SUM_HEX_MAX) {
        return err_set(ei, ERR_INTERNAL, "could not finish the digest");
    }
    httpc__hex(md, mdlen, hex);
    return ERR_OK;
}

void httpc__sum_abort(struct httpc__sum *s)
{
    if (s->ctx) {
        EVP_MD_CTX_free((EVP_MD_CTX *)s->ctx);
        s->ctx = NULL;
    }
}

void httpc__hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

enum err httpc_sum_mem(enum httpc_sum alg, const void *data, size_t len,
                       char hex[HTTPC_SUM_HEX_MAX], struct err_info *ei)
{
    if (alg == HTTPC_SUM_NONE) {
        return err_set(ei, ERR_INVALID, "no digest algorithm given");
    }
    struct httpc__sum s;
    enum err e = httpc__sum_begin(&s, alg, ei);
    if (e != ERR_OK) {
        return e;
    }
    httpc__sum_update(&s, data, len);
    return httpc__sum_end(&s, hex, ei);
}

enum err httpc_sum_file(enum httpc_sum alg, const char *path, uint64_t offset, uint64_t len,
                        char hex[HTTPC_SUM_HEX_MAX], struct err_info *ei)
{
    enum err e = ERR_OK;
    int fd = -1;
    unsigned char *chunk = NULL;
    struct httpc__sum s = {0};

    if (alg == HTTPC_SUM_NONE) {
        return err_set(ei, ERR_INVALID, "no digest algorithm given");
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        e = err_set(ei, ERR_IO, "could not open file \"%s\": %s", path, ERR_ERRNO(errno));
        goto out;
    }
    chunk = malloc(HTTPC__SUM_CHUNK);
    if (!chunk) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    e = httpc__sum_begin(&s, alg, ei);
    if (e != ERR_OK) {
        goto out;
    }
    bool to_end = len == 0;
    uint64_t left = len;
    off_t pos = (off_t)offset;
    for (;;) {
        size_t want = HTTPC__SUM_CHUNK;
        if (!to_end) {
            if (left == 0) {
                break;
            }
            if (left < want) {
                want = (size_t)left;
            }
        }
        ssize_t n = pread(fd, chunk, want, pos);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            e = err_set(ei, ERR_IO, "could not read file \"%s\": %s", path, ERR_ERRNO(errno));
            goto out;
        }
        if (n == 0) {
            if (!to_end) {
                e = err_set(ei, ERR_IO, "file \"%s\" is shorter than expected", path);
                goto out;
            }
            break;
        }
        httpc__sum_update(&s, chunk, (size_t)n);
        pos += n;
        if (!to_end) {
            left -= (uint64_t)n;
        }
    }
    e = httpc__sum_end(&s, hex, ei);
out:
    httpc__sum_abort(&s);
    free(chunk);
    if (fd >= 0) {
        close(fd);
    }
    return e;
}

enum err httpc_url_encode(struct buf *out, const char *s, bool keep_slash)
{
    static const char digits[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/');
        enum err e;
        if (keep) {
            e = buf_append(out, p, 1);
        } else {
            char esc[3] = {'%', digits[c >> 4], digits[c & 0x0f]};
            e = buf_append(out, esc, 3);
        }
        if (e != ERR_OK) {
            return e;
        }
    }
    if (!out->data) {
        return buf_reserve(out, 0);
    }
    return ERR_OK;
}

const char *httpc_response_header(const struct httpc_response *resp, const char *name)
{
    const char *found = NULL;
    for (size_t i = 0; i < resp->n_headers; i++) {
        if (strcasecmp(resp->headers[i].name, name) == 0) {
            found = resp->headers[i].value;
        }
    }
    return found;
}

/* Copy up to 200 bytes of the body into @p out as one printable line. */
static void body_snippet(const struct httpc_response *resp, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < resp->body.len && n + 1 < cap && i < 200; i++) {
        char c = resp->body.data[i];
        out[n++] = (c >= 0x20 && c < 0x7f) ? c : ' ';
    }
    out[n] = '\0';
}

enum err httpc_check(const struct httpc_response *resp, const char *what, struct err_info *ei)
{
    long st = resp->status;
    if (st >= 200 && st < 300) {
        return ERR_OK;
    }
    enum err e;
    switch (st) {
    case 404:
    case 410:
        e = ERR_NOT_FOUND;
        break;
    case 401:
        e = ERR_UNAUTHORIZED;
        break;
    case 403:
        e = ERR_FORBIDDEN;
        break;
    case 409:
    case 412:
        e = ERR_CONFLICT;
        break;
    case 413:
        e = ERR_TOO_LARGE;
        break;
    case 408:
    case 504:
        e = ERR_TIMEOUT;
        break;
    case 429:
    case 503:
        e = ERR_UNAVAILABLE;
        break;
    default:
        e = ERR_HTTP;
        break;
    }
    char snip[208];
    body_snippet(resp, snip, sizeof snip);
    if (snip[0]) {
        return err_set(ei, e, "%s: server answered HTTP %ld: %s", what, st, snip);
    }
    return err_set(ei, e, "%s: server answered HTTP %ld", what, st);
}
