/* err.c - names, codes and HTTP statuses of enum err, and err_info helpers.
 * SPDX-License-Identifier: Apache-2.0 */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const names[] = {
#define ERR_NAME_ROW(name, status) #name,
    ERR_LIST(ERR_NAME_ROW)
#undef ERR_NAME_ROW
};

static const int statuses[] = {
#define ERR_STATUS_ROW(name, status) status,
    ERR_LIST(ERR_STATUS_ROW)
#undef ERR_STATUS_ROW
};

_Static_assert(ARRAY_LEN(names) == ERR__COUNT, "err name table covers the enum");
_Static_assert(ARRAY_LEN(statuses) == ERR__COUNT, "err status table covers the enum");

/* lower-case copies, built once at compile time would need a second table; derive lazily
 * into a static table guarded by the fact that the content is deterministic. */
static const char *const codes[] = {
    "ok",          "nomem",        "invalid",   "parse",       "not_found",   "conflict",
    "precondition", "too_large",   "unsupported",  "unauthorized", "forbidden", "unavailable", "db_retry",
    "db",          "storage",      "http",      "fits",        "wcs",         "xml",
    "checksum",    "calib",        "io",        "timeout",     "cancelled",   "internal",
};
_Static_assert(ARRAY_LEN(codes) == ERR__COUNT, "err code table covers the enum");

const char *err_str(enum err e)
{
    if ((unsigned)e >= ERR__COUNT) {
        return "UNKNOWN";
    }
    return names[e];
}

const char *err_code(enum err e)
{
    if ((unsigned)e >= ERR__COUNT) {
        return "unknown";
    }
    return codes[e];
}

int err_http_status(enum err e)
{
    if ((unsigned)e >= ERR__COUNT) {
        return 500;
    }
    return statuses[e];
}

void err_info_clear(struct err_info *ei)
{
    if (!ei) {
        return;
    }
    ei->code = ERR_OK;
    ei->field[0] = '\0';
    ei->msg[0] = '\0';
}

/* Control bytes (C0, DEL) in @p s become "\xNN", in place within @p cap: messages echo names
 * and paths from input (a dataset name with an escape sequence), and they reach terminals,
 * logs and clients. Cut at a whole escape when the text no longer fits. */
static void escape_controls(char *s, size_t cap)
{
    size_t i = 0;
    while (s[i] && (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] != 0x7f) {
        i++;
    }
    if (!s[i]) {
        return;
    }
    char in[ERR_INFO_MSG_MAX];
    (void)snprintf(in, sizeof in, "%s", s + i);
    size_t o = i;
    for (const char *p = in; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != 0x7f) {
            if (o + 1 >= cap) {
                break;
            }
            s[o++] = (char)c;
        } else {
            if (o + 4 >= cap) {
                break;
            }
            (void)snprintf(s + o, 5, "\\x%02x", c);
            o += 4;
        }
    }
    s[o] = '\0';
}

static VPRINTF_LIKE(4) void vset(struct err_info *ei, enum err code, const char *field,
                                 const char *fmt, va_list ap)
{
    ei->code = code;
    if (field) {
        snprintf(ei->field, sizeof ei->field, "%s", field);
    } else {
        ei->field[0] = '\0';
    }
    vsnprintf(ei->msg, sizeof ei->msg, fmt, ap);
    escape_controls(ei->field, sizeof ei->field);
    escape_controls(ei->msg, sizeof ei->msg);
}

enum err err_set(struct err_info *ei, enum err code, const char *fmt, ...)
{
    va_list ap;
    if (!ei) {
        return code;
    }
    va_start(ap, fmt);
    vset(ei, code, NULL, fmt, ap);
    va_end(ap);
    return code;
}

enum err err_set_field(struct err_info *ei, enum err code, const char *field, const char *fmt, ...)
{
    va_list ap;
    if (!ei) {
        return code;
    }
    va_start(ap, fmt);
    vset(ei, code, field, fmt, ap);
    va_end(ap);
    return code;
}

void err_prefix(struct err_info *ei, const char *fmt, ...)
{
    char pre[ERR_INFO_MSG_MAX];
    char old[ERR_INFO_MSG_MAX];
    va_list ap;
    if (!ei) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, ei->msg, sizeof old);
    snprintf(ei->msg, sizeof ei->msg, "%s%s", pre, old);
    escape_controls(ei->msg, sizeof ei->msg);
}

const char *err_errno_str(int errnum, char *buf, size_t cap)
{
    if (!buf || cap == 0) {
        return "";
    }
    /* the XSI strerror_r (the build defines _POSIX_C_SOURCE, not _GNU_SOURCE): 0 on success */
    if (strerror_r(errnum, buf, cap) != 0 || !buf[0]) {
        (void)snprintf(buf, cap, "errno %d", errnum);
    }
    return buf;
}
