/* f2c_values.c - typed conversion of blueprint values (strings) into CAOM model fields.
 * SPDX-License-Identifier: Apache-2.0 */
#include "fits2caom/f2c_int.h"

#include "core/numparse.h"
#include "core/str.h"
#include "wcs/wcs.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum err f2c__bad(struct err_info *ei, const struct f2c_ctx *c, const char *key, const char *what,
                  const char *value)
{
    return err_set_field(ei, ERR_INVALID, key, "\"%s\" HDU %d: %s for %s: \"%s\"", c->file,
                         c->hdu, what, key, value);
}

enum err f2c__str(char **dst, const char *v, struct err_info *ei)
{
    if (caom_str_set(dst, v) != ERR_OK) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    return ERR_OK;
}

enum err f2c__dbl(const struct f2c_ctx *c, const char *key, const char *v, double *out,
                  struct err_info *ei)
{
    char tmp[128];
    double d;
    if (!str_copy(tmp, sizeof tmp, v)) {
        return f2c__bad(ei, c, key, "number too long", v);
    }
    /* trim blanks; FITS D exponents */
    char *s = tmp;
    while (*s == ' ') {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == ' ') {
        s[--n] = '\0';
    }
    for (char *p = s; *p; p++) {
        if (*p == 'D' || *p == 'd') {
            *p = 'E';
        }
    }
    if (numparse_double(s, &d) != ERR_OK || !isfinite(d)) {
        return f2c__bad(ei, c, key, "not a number", v);
    }
    *out = d;
    return ERR_OK;
}

enum err f2c__optd(const struct f2c_ctx *c, const char *key, const char *v, struct caom_optd *o,
                   struct err_info *ei)
{
    double d;
    enum err e = f2c__dbl(c, key, v, &d, ei);
    if (e == ERR_OK) {
        *o = caom_d(d);
    }
    return e;
}

enum err f2c__long(const struct f2c_ctx *c, const char *key, const char *v, int64_t *out,
                   struct err_info *ei)
{
    double d;
    enum err e = f2c__dbl(c, key, v, &d, ei);
    if (e != ERR_OK) {
        return e;
    }
    if (d != floor(d) || fabs(d) > 9.0e15) {
        return f2c__bad(ei, c, key, "not an integer", v);
    }
    *out = (int64_t)d;
    return ERR_OK;
}

enum err f2c__opti(const struct f2c_ctx *c, const char *key, const char *v, struct caom_opti *o,
                   struct err_info *ei)
{
    int64_t l = 0;
    enum err e = f2c__long(c, key, v, &l, ei);
    if (e != ERR_OK) {
        return e;
    }
    if (l < INT32_MIN || l > INT32_MAX) {
        return f2c__bad(ei, c, key, "integer out of range", v);
    }
    *o = caom_i((int32_t)l);
    return ERR_OK;
}

enum err f2c__date(const struct f2c_ctx *c, const char *key, const char *v,
                   struct caom_optdate *o, struct err_info *ei)
{
    double mjd;
    if (wcsx_iso_to_mjd(v, &mjd) != ERR_OK) {
        /* an MJD number (MJDOBS, MJD_OBS) */
        double d;
        if (numparse_double(v, &d) != ERR_OK || !(d > 0.0 && d < 200000.0)) {
            return f2c__bad(ei, c, key, "not a date", v);
        }
        mjd = d;
    }
    *o = caom_date((int64_t)llround((mjd - 40587.0) * 86400000.0));
    return ERR_OK;
}

enum err f2c__bool(const struct f2c_ctx *c, const char *key, const char *v, enum caom_bool *o,
                   struct err_info *ei)
{
    if (strcasecmp(v, "true") == 0 || strcmp(v, "T") == 0 || strcmp(v, "1") == 0) {
        *o = CAOM_BOOL_TRUE;
    } else if (strcasecmp(v, "false") == 0 || strcmp(v, "F") == 0 || strcmp(v, "0") == 0) {
        *o = CAOM_BOOL_FALSE;
    } else {
        return f2c__bad(ei, c, key, "not a boolean", v);
    }
    return ERR_OK;
}

/* Split a list value: on commas when it has any, else on blanks. "[]" and "" are empty. */
enum err f2c__list(const char *v, bool blanks_split, struct caom_strlist *l, struct err_info *ei)
{
    char buf[BP_VALUE_MAX];
    caom_strlist_clear(l);
    if (!str_copy(buf, sizeof buf, v)) {
        return err_set(ei, ERR_TOO_LARGE, "list value too long");
    }
    char *s = buf;
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        s[n - 1] = '\0';
        s++;
    }
    bool commas = strchr(s, ',') != NULL;
    while (*s) {
        while (*s == ' ' || *s == ',' || (!commas && blanks_split && *s == '\t')) {
            s++;
        }
        if (!*s) {
            break;
        }
        char *start = s;
        while (*s && *s != ',' && (commas || !blanks_split || *s != ' ')) {
            s++;
        }
        char *end = s;
        if (*s) {
            s++;
        }
        while (end > start && (end[-1] == ' ' || end[-1] == '\'' || end[-1] == '"')) {
            end--;
        }
        while (start < end && (*start == '\'' || *start == '"')) {
            start++;
        }
        *end = '\0';
        if (*start && caom_strlist_add(l, start) != ERR_OK) {
            return err_set(ei, ERR_NOMEM, "out of memory");
        }
    }
    return ERR_OK;
}
