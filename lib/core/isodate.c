/* isodate.c - ISO-8601 dates to MJD (see isodate.h).
 * SPDX-License-Identifier: Apache-2.0 */
#include "core/isodate.h"

#include <ctype.h>
#include <stdlib.h>

/* between @p lo and @p hi decimal digits at *@p p */
static bool read_int(const char **p, int lo, int hi, long *out)
{
    long v = 0;
    int n = 0;
    while (isdigit((unsigned char)**p) && n < hi) {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    *out = v;
    return n >= lo;
}

bool isodate_to_mjd(const char *s, double *mjd)
{
    long y, mo, d, h = 0, mi = 0;
    double sec = 0.0;
    const char *p = s;
    if (!s) {
        return false;
    }
    while (*p == ' ') {
        p++;
    }
    if (!read_int(&p, 4, 4, &y) || (*p != '-' && *p != '/')) {
        return false;
    }
    char sep = *p++;
    if (!read_int(&p, 1, 2, &mo) || *p != sep) {
        return false;
    }
    p++;
    if (!read_int(&p, 1, 2, &d)) {
        return false;
    }
    if (*p == 'T' || *p == ' ' || *p == ',') {
        p++;
        if (!read_int(&p, 1, 2, &h) || *p != ':') {
            return false;
        }
        p++;
        if (!read_int(&p, 1, 2, &mi)) {
            return false;
        }
        if (*p == ':') {
            p++;
            if (!isdigit((unsigned char)*p)) {
                return false; /* no blanks, signs, "nan" or "inf" as seconds */
            }
            char *end = NULL;
            sec = strtod(p, &end);
            p = end;
        }
    }
    if (*p == 'Z') {
        p++;
    }
    while (*p == ' ') {
        p++;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59 || !(sec >= 0) ||
        sec >= 61.0) {
        return false;
    }
    /* days from civil (proleptic Gregorian), then MJD epoch 1858-11-17 */
    long yy = y - (mo <= 2 ? 1 : 0);
    long era = (yy >= 0 ? yy : yy - 399) / 400;
    long yoe = yy - era * 400;
    long doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    long days = era * 146097 + doe - 719468; /* days since 1970-01-01 */
    *mjd = (double)(days + 40587) + ((double)h * 3600.0 + (double)mi * 60.0 + sec) / 86400.0;
    return true;
}
