/* calib_section.c - FITS section strings "[x1:x2,y1:y2]" (1-based, inclusive, x first).
 * SPDX-License-Identifier: Apache-2.0 */
#include "calib/calib.h"

#include <stdio.h>
#include <string.h>

/* Parse one axis "a:b" or "*" from [*p, end); 1-based inclusive -> 0-based half-open. */
static bool parse_axis(const char **p, const char *end, int64_t *lo, int64_t *hi, bool *whole)
{
    const char *s = *p;
    while (s < end && *s == ' ') {
        s++;
    }
    if (s < end && *s == '*') {
        s++;
        *whole = true;
    } else {
        int64_t v[2] = {0, 0};
        for (int k = 0; k < 2; k++) {
            while (s < end && *s == ' ') {
                s++;
            }
            if (s >= end || *s < '0' || *s > '9') {
                return false;
            }
            int64_t x = 0;
            int digits = 0;
            while (s < end && *s >= '0' && *s <= '9') {
                x = x * 10 + (*s - '0');
                s++;
                if (++digits > 9) {
                    return false; /* more than 999,999,999: not a real detector */
                }
            }
            v[k] = x;
            while (s < end && *s == ' ') {
                s++;
            }
            if (k == 0) {
                if (s >= end || *s != ':') {
                    return false;
                }
                s++;
            }
        }
        if (v[0] < 1 || v[1] < v[0]) {
            return false;
        }
        *lo = v[0] - 1;
        *hi = v[1];
        *whole = false;
    }
    while (s < end && *s == ' ') {
        s++;
    }
    *p = s;
    return true;
}

enum err calib_section_parse(const char *text, int64_t nx, int64_t ny, struct calib_section *out,
                             struct err_info *ei)
{
    memset(out, 0, sizeof(*out));
    if (!text) {
        return err_set(ei, ERR_INVALID, "missing section");
    }
    size_t len = strnlen(text, CALIB_SECTION_MAX + 1);
    if (len > CALIB_SECTION_MAX) {
        return err_set(ei, ERR_INVALID, "section is longer than %d characters", CALIB_SECTION_MAX);
    }
    const char *s = text;
    const char *end = text + len;
    while (s < end && *s == ' ') {
        s++;
    }
    while (end > s && end[-1] == ' ') {
        end--;
    }
    if (end - s < 2 || *s != '[' || end[-1] != ']') {
        return err_set(ei, ERR_INVALID, "section \"%.*s\" is not of the form [x1:x2,y1:y2]",
                       (int)len, text);
    }
    s++;
    end--;
    bool wx = false, wy = false;
    int64_t x0 = 0, x1 = 0, y0 = 0, y1 = 0;
    if (!parse_axis(&s, end, &x0, &x1, &wx) || s >= end || *s != ',') {
        return err_set(ei, ERR_INVALID,
                       "section \"%.*s\": bad x range (want 1-based first:last with first <= last)",
                       (int)len, text);
    }
    s++;
    if (!parse_axis(&s, end, &y0, &y1, &wy) || s != end) {
        return err_set(ei, ERR_INVALID,
                       "section \"%.*s\": bad y range (want 1-based first:last with first <= last)",
                       (int)len, text);
    }
    if (wx) {
        if (nx <= 0) {
            return err_set(ei, ERR_INVALID, "section \"%.*s\": \"*\" needs the frame size",
                           (int)len, text);
        }
        x0 = 0;
        x1 = nx;
    }
    if (wy) {
        if (ny <= 0) {
            return err_set(ei, ERR_INVALID, "section \"%.*s\": \"*\" needs the frame size",
                           (int)len, text);
        }
        y0 = 0;
        y1 = ny;
    }
    if ((nx > 0 && x1 > nx) || (ny > 0 && y1 > ny)) {
        return err_set(ei, ERR_INVALID, "section \"%.*s\" lies outside the %lldx%lld frame",
                       (int)len, text, (long long)nx, (long long)ny);
    }
    out->x0 = x0;
    out->x1 = x1;
    out->y0 = y0;
    out->y1 = y1;
    return ERR_OK;
}

void calib_section_format(const struct calib_section *s, char *buf, size_t cap)
{
    snprintf(buf, cap, "[%lld:%lld,%lld:%lld]", (long long)(s->x0 + 1), (long long)s->x1,
             (long long)(s->y0 + 1), (long long)s->y1);
}
