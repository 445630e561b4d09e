/* queue_util.c - pure helpers of the queue (backoff, UUIDs, cursors), row decoding and the
 * single-statement runner. SPDX-License-Identifier: Apache-2.0 */
#include "queue_int.h"

#include "core/clock.h"
#include "core/str.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>
#include <uuid/uuid.h>

/* A queue created without a kinds table runs the diagnostic kind only (every worker pool has
 * it); obsflowd passes its table (service/kinds.c), the one place kinds are listed. */
const struct queue_kind queue_kind_noop = {.name = "noop", .queue = QUEUE_DEFAULT_QUEUE};

const char *const queue_state_names[6] = {"queued",    "running", "retrying",
                                          "succeeded", "failed",  "cancelled"};

static _Thread_local uint64_t queue_rng;

double queue__rnd01(void)
{
    if (queue_rng == 0) {
        queue_rng =
            (uint64_t)clock_mono_ns() ^ (uint64_t)(uintptr_t)&queue_rng ^ 0xd1b54a32d192ed03ULL;
    }
    queue_rng ^= queue_rng << 13;
    queue_rng ^= queue_rng >> 7;
    queue_rng ^= queue_rng << 17;
    return (double)(queue_rng >> 11) / 9007199254740992.0;
}

int64_t queue_backoff_ms(int attempt, int base_ms, int cap_ms, double rnd01)
{
    if (attempt < 1) {
        attempt = 1;
    }
    if (base_ms < 1) {
        base_ms = 1;
    }
    if (cap_ms < base_ms) {
        cap_ms = base_ms;
    }
    double d = (double)base_ms;
    for (int i = 1; i < attempt && d < (double)cap_ms; i++) {
        d *= 2.0;
    }
    if (d > (double)cap_ms) {
        d = (double)cap_ms;
    }
    if (rnd01 < 0.0) {
        rnd01 = 0.0;
    }
    if (rnd01 >= 1.0) {
        rnd01 = 0.999999;
    }
    return (int64_t)llround(d * (0.75 + 0.5 * rnd01));
}

bool queue_is_uuid(const char *s)
{
    if (s == NULL || strlen(s) != QUEUE_ID_LEN) {
        return false;
    }
    for (int i = 0; i < QUEUE_ID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return false;
            }
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

/* ---- RFC 3339 ------------------------------------------------------------------------------ */

static bool queue_digits(const char *s, int n)
{
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return true;
}

static int queue_num2(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

static bool queue_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t queue_days(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

#define QUEUE_US_PER_DAY 86400000000LL

bool queue_rfc3339_parse(const char *s, int64_t *epoch_us)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (s == NULL || strnlen(s, QUEUE_RFC3339_MAX + 1) > QUEUE_RFC3339_MAX) {
        return false;
    }
    /* YYYY-MM-DD(T|t| )HH:MM:SS: 19 bytes, each position checked before it is read */
    if (!queue_digits(s, 4) || s[4] != '-' || !queue_digits(s + 5, 2) || s[7] != '-' ||
        !queue_digits(s + 8, 2) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !queue_digits(s + 11, 2) || s[13] != ':' || !queue_digits(s + 14, 2) || s[16] != ':' ||
        !queue_digits(s + 17, 2)) {
        return false;
    }
    int year = queue_num2(s) * 100 + queue_num2(s + 2);
    int mon = queue_num2(s + 5), day = queue_num2(s + 8);
    int hh = queue_num2(s + 11), mi = queue_num2(s + 14), ss = queue_num2(s + 17);
    if (mon < 1 || mon > 12 || day < 1 ||
        day > mdays[mon - 1] + (mon == 2 && queue_leap(year) ? 1 : 0) || hh > 23 || mi > 59 ||
        ss > 60) {
        return false;
    }
    const char *p = s + 19;
    int64_t frac_us = 0;
    if (*p == '.') {
        p++;
        int k = 0;
        int64_t scale = 100000;
        bool round_up = false;
        for (; *p >= '0' && *p <= '9'; p++, k++) {
            if (k < 6) {
                frac_us += (*p - '0') * scale;
                scale /= 10;
            } else if (k == 6) {
                round_up = *p >= '5';
            }
        }
        if (k == 0 || k > QUEUE_RFC3339_FRAC_MAX) {
            return false;
        }
        frac_us += round_up ? 1 : 0;
    }
    int64_t off_s = 0;
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        off_s = 0;
    } else if ((*p == '+' || *p == '-') && queue_digits(p + 1, 2) && p[3] == ':' &&
               queue_digits(p + 4, 2) && p[6] == '\0') {
        int oh = queue_num2(p + 1), om = queue_num2(p + 4);
        if (oh > 23 || om > 59) {
            return false;
        }
        off_s = (int64_t)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
    } else {
        return false;
    }
    /* local time minus the offset is UTC */
    int64_t us = queue_days(year, mon, day) * QUEUE_US_PER_DAY +
                 ((int64_t)hh * 3600 + mi * 60 + ss - off_s) * 1000000 + frac_us;
    if (us < queue_days(1, 1, 1) * QUEUE_US_PER_DAY ||
        us >= queue_days(10000, 1, 1) * QUEUE_US_PER_DAY) {
        return false;
    }
    if (epoch_us != NULL) {
        *epoch_us = us;
    }
    return true;
}

void queue_rfc3339_format(int64_t epoch_us, char *out, size_t cap)
{
    int64_t days = epoch_us / QUEUE_US_PER_DAY;
    int64_t rem = epoch_us % QUEUE_US_PER_DAY;
    if (rem < 0) {
        rem += QUEUE_US_PER_DAY;
        days--;
    }
    /* civil_from_days */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    int64_t y = yoe + era * 400 + (m <= 2);
    int64_t sec = rem / 1000000;
    snprintf(out, cap, "%04lld-%02d-%02dT%02d:%02d:%02d.%06lldZ", (long long)y, m, d,
             (int)(sec / 3600), (int)(sec / 60 % 60), (int)(sec % 60), (long long)(rem % 1000000));
}

static const char queue_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Cursor = base64url (no padding) of the 16 bytes of the UUID: 22 characters. */
void queue_cursor_encode(const char *id, char *out, size_t cap)
{
    unsigned char b[16];
    uuid_t u;
    if (cap == 0) {
        return;
    }
    out[0] = '\0';
    if (!queue_is_uuid(id) || uuid_parse(id, u) != 0 || cap < 23) {
        return;
    }
    memcpy(b, u, 16);
    size_t o = 0;
    for (int i = 0; i < 16; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16;
        int n = 16 - i;
        if (n > 1) {
            v |= (uint32_t)b[i + 1] << 8;
        }
        if (n > 2) {
            v |= b[i + 2];
        }
        out[o++] = queue_b64[(v >> 18) & 63];
        out[o++] = queue_b64[(v >> 12) & 63];
        if (n > 1) {
            out[o++] = queue_b64[(v >> 6) & 63];
        }
        if (n > 2) {
            out[o++] = queue_b64[v & 63];
        }
    }
    out[o] = '\0';
}

static int queue_b64_val(char c)
{
    const char *p = c != '\0' ? strchr(queue_b64, c) : NULL;
    return p != NULL ? (int)(p - queue_b64) : -1;
}

enum err queue_cursor_decode(const char *cursor, char *id, size_t cap)
{
    unsigned char b[18] = {0};
    if (cursor == NULL || strlen(cursor) != 22 || cap < QUEUE_ID_LEN + 1) {
        return ERR_PARSE;
    }
    size_t o = 0;
    for (int i = 0; i < 22; i += 4) {
        int n = 22 - i < 4 ? 22 - i : 4;
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            int x = k < n ? queue_b64_val(cursor[i + k]) : 0;
            if (x < 0) {
                return ERR_PARSE;
            }
            v = (v << 6) | (uint32_t)x;
        }
        b[o++] = (unsigned char)(v >> 16);
        b[o++] = (unsigned char)(v >> 8);
        b[o++] = (unsigned char)v;
    }
    /* the last character carries 2 data bits; the 4 padding bits must be zero (canonical) */
    if ((queue_b64_val(cursor[21]) & 15) != 0) {
        return ERR_PARSE;
    }
    uuid_t u;
    memcpy(u, b, 16);
    uuid_unparse_lower(u, id);
    return ERR_OK;
}

/* The random tail of the ids: a per-thread pool filled by getrandom(2) QUEUE_RAND_POOL bytes at a
 * time (uuid_generate_random made one system call per id: a tenth of a batch POST's CPU).
 * Falls back to libuuid when getrandom fails. Not reset across fork(): obsflowd does not fork. */
#define QUEUE_RAND_POOL 512

static bool queue_rand8(unsigned char out[8])
{
    static _Thread_local unsigned char pool[QUEUE_RAND_POOL];
    static _Thread_local size_t used = QUEUE_RAND_POOL;
    if (used + 8 > QUEUE_RAND_POOL) {
        ssize_t n = getrandom(pool, sizeof pool, 0);
        if (n != (ssize_t)sizeof pool) {
            return false;
        }
        used = 0;
    }
    memcpy(out, pool + used, 8);
    used += 8;
    return true;
}

void queue__uuid7(char out[QUEUE_ID_LEN + 1])
{
    static _Atomic uint64_t last; /* (ms << 12) | sequence, strictly increasing */
    static const char hex[] = "0123456789abcdef";
    uuid_t u;
    if (!queue_rand8(u + 8)) {
        uuid_generate_random(u);
    }
    uint64_t now = ((uint64_t)(clock_realtime_ns() / 1000000)) << 12;
    uint64_t prev = atomic_load(&last);
    uint64_t next;
    do {
        next = now > prev ? now : prev + 1;
    } while (!atomic_compare_exchange_weak(&last, &prev, next));
    uint64_t ms = next >> 12;
    unsigned seq = (unsigned)(next & 0xfff);
    u[0] = (unsigned char)(ms >> 40);
    u[1] = (unsigned char)(ms >> 32);
    u[2] = (unsigned char)(ms >> 24);
    u[3] = (unsigned char)(ms >> 16);
    u[4] = (unsigned char)(ms >> 8);
    u[5] = (unsigned char)ms;
    u[6] = (unsigned char)(0x70 | ((seq >> 8) & 0x0f));
    u[7] = (unsigned char)(seq & 0xff);
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
    /* uuid_unparse_lower's layout 8-4-4-4-12, without its snprintf */
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            *p++ = '-';
        }
        *p++ = hex[u[i] >> 4];
        *p++ = hex[u[i] & 0x0f];
    }
    *p = '\0';
}

int64_t queue__i64(const struct db_res *res, int row, int col)
{
    int64_t v = 0;
    const char *s = db_res_get(res, row, col);
    if (s == NULL || str_to_i64(s, INT64_MIN, INT64_MAX, &v) != ERR_OK) {
        return 0;
    }
    return v;
}

static json_t *queue_str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

bool queue__set(json_t *o, const char *k, json_t *v)
{
    return v != NULL && json_object_set_new(o, k, v) == 0;
}

/* A JSON column as a value: NULL (SQL) -> null; text that does not load -> NULL (out of memory:
 * the text comes from jsonb, which only PostgreSQL writes). */
static json_t *queue_json_col(const char *t)
{
    return t != NULL ? json_loads(t, JSON_DECODE_ANY, NULL) : json_null();
}

/* An integer column (0 on NULL or junk). */
static json_int_t queue_int_col(const char *s)
{
    int64_t v = 0;
    return s != NULL && str_to_i64(s, INT64_MIN, INT64_MAX, &v) == ERR_OK ? (json_int_t)v : 0;
}

json_t *queue__job_from_values(const char *const v[QUEUE_JOB_VALUES], bool with_children)
{
    json_t *j = json_object();
    if (j == NULL) {
        return NULL;
    }
    json_t *pv = queue_json_col(v[5]);
    bool ok = queue__set(j, "id", queue_str_or_null(v[0]));
    ok = ok && queue__set(j, "kind", queue_str_or_null(v[1]));
    ok = ok && queue__set(j, "state", queue_str_or_null(v[2]));
    ok = ok && queue__set(j, "queue", queue_str_or_null(v[3]));
    ok = ok && queue__set(j, "priority", json_integer(queue_int_col(v[4])));
    if (pv != NULL && json_is_null(pv)) {
        json_decref(pv);
        pv = json_object();
    }
    if (ok) {
        ok = queue__set(j, "params", pv); /* stolen, also on failure */
    } else {
        json_decref(pv);
    }
    ok = ok && queue__set(j, "attempts", json_integer(queue_int_col(v[6])));
    ok = ok && queue__set(j, "max_attempts", json_integer(queue_int_col(v[7])));
    ok = ok && queue__set(j, "run_at", queue_str_or_null(v[8]));
    ok = ok && queue__set(j, "created_at", queue_str_or_null(v[9]));
    ok = ok && queue__set(j, "started_at", queue_str_or_null(v[10]));
    ok = ok && queue__set(j, "finished_at", queue_str_or_null(v[11]));
    if (v[12] != NULL) {
        ok = ok && queue__set(j, "error",
                              json_pack("{s:s, s:s}", "code", v[12], "message",
                                        v[13] != NULL ? v[13] : ""));
    } else {
        ok = ok && queue__set(j, "error", json_null());
    }
    ok = ok && queue__set(j, "result", queue_json_col(v[14]));
    ok = ok && queue__set(j, "progress", queue_json_col(v[17]));
    ok = ok && queue__set(j, "parent_id", queue_str_or_null(v[15]));
    if (v[16] != NULL && v[16][0] == 't') {
        ok = ok && queue__set(j, "cancel_requested", json_true());
    }
    json_t *ch = ok ? json_object() : NULL;
    if (ch != NULL) {
        static const char *const names[] = {"total",     "queued", "running",  "retrying",
                                            "succeeded", "failed", "cancelled"};
        for (int i = 0; ok && i < 7; i++) {
            ok =
                queue__set(ch, names[i],
                           json_integer(with_children ? queue_int_col(v[QUEUE_JOB_NCOLS + i]) : 0));
        }
        if (ok) {
            ok = queue__set(j, "children", ch); /* stolen, also on failure */
        } else {
            json_decref(ch);
        }
    } else {
        ok = false;
    }
    if (!ok) {
        json_decref(j);
        return NULL;
    }
    return j;
}

json_t *queue__job_from_row(const struct db_res *res, int row, bool with_children)
{
    const char *v[QUEUE_JOB_VALUES];
    for (int i = 0; i < QUEUE_JOB_VALUES; i++) {
        v[i] = i < QUEUE_JOB_NCOLS || with_children ? db_res_get(res, row, i) : NULL;
    }
    return queue__job_from_values(v, with_children);
}

enum err queue__exec1(struct queue *q,
                      const char *name,
                      const char *sql,
                      int nparams,
                      const char *const *params,
                      struct db_res **out,
                      struct err_info *ei)
{
    enum err e = ERR_INTERNAL;
    for (int attempt = 0; attempt < 4; attempt++) {
        struct db_conn *c = NULL;
        if (attempt > 0) {
            clock_sleep_ms((int64_t)(20.0 * (double)attempt * (0.5 + queue__rnd01())));
        }
        e = db_acquire(q->pool, DB_ACQUIRE_TIMEOUT_MS, &c, ei);
        if (e == ERR_UNAVAILABLE && attempt < 1) {
            continue; /* nothing was sent: safe to try once more */
        }
        if (e != ERR_OK) {
            return e;
        }
        e = db_exec(c, name, sql, nparams, params, out, ei);
        db_release(q->pool, c);
        if (e != ERR_DB_RETRY) {
            return e; /* a statement lost with its connection is not repeated: outcome unknown */
        }
    }
    return e;
}

bool queue__json_has_nul(const char *json)
{
    for (const char *c = json; *c != '\0'; c++) {
        if (c[0] == '\\' && c[1] != '\0') {
            if (strncmp(c + 1, "u0000", 5) == 0) {
                return true;
            }
            c++; /* the escaped character */
        }
    }
    return false;
}
