/* str.c - checked string and number helpers.
 * SPDX-License-Identifier: Apache-2.0 */
#include "core/str.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool str_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (cap == 0) {
        return false;
    }
    if (n >= cap) {
        memcpy(dst, src, cap - 1);
        dst[cap - 1] = '\0';
        return false;
    }
    memcpy(dst, src, n + 1);
    return true;
}

enum err str_to_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end = NULL;
    if (!s || !*s) {
        return ERR_PARSE;
    }
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0') {
        return ERR_PARSE;
    }
    if (errno == ERANGE || v < min || v > max) {
        return ERR_INVALID;
    }
    *out = (int64_t)v;
    return ERR_OK;
}

enum err str_to_double(const char *s, double *out)
{
    char *end = NULL;
    if (!s || !*s) {
        return ERR_PARSE;
    }
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0') {
        return ERR_PARSE;
    }
    if (errno == ERANGE && (v > 1.0 || v < -1.0)) {
        return ERR_INVALID;
    }
    *out = v;
    return ERR_OK;
}

bool str_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s);
    size_t m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

char *str_dup(const char *s)
{
    if (!s) {
        return NULL;
    }
    return str_ndup(s, strlen(s));
}

char *str_ndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = malloc(len + 1);
    if (!p) {
        return NULL;
    }
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

bool str_ct_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char diff = (unsigned char)(alen != blen);
    size_t n = alen > blen ? alen : blen;
    for (size_t i = 0; i < n; i++) {
        unsigned char x = i < alen ? (unsigned char)a[i] : 0;
        unsigned char y = i < blen ? (unsigned char)b[i] : 0;
        diff |= (unsigned char)(x ^ y);
    }
    return diff == 0;
}
