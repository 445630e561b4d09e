/* log.c - JSON-lines logger with thread-local correlation ids.
 * SPDX-License-Identifier: Apache-2.0 */
#include "core/log.h"

#include "core/clock.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096
#define LOG_ID_MAX   64

static atomic_int g_level = LOG_LEVEL_INFO;
static atomic_int g_format = LOG_FORMAT_JSON;
static _Thread_local char t_request[LOG_ID_MAX];
static _Thread_local char t_job[LOG_ID_MAX];

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_configure(enum log_level level, enum log_format format)
{
    atomic_store(&g_level, (int)level);
    atomic_store(&g_format, (int)format);
}

bool log_level_parse(const char *s, enum log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return true;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *out = LOG_LEVEL_WARN;
        return true;
    }
    return false;
}

bool log_enabled(enum log_level level)
{
    return (int)level >= atomic_load(&g_level);
}

static void set_id(char *dst, const char *src)
{
    if (!src) {
        dst[0] = '\0';
        return;
    }
    snprintf(dst, LOG_ID_MAX, "%s", src);
}

void log_ctx_set_request(const char *request_id)
{
    set_id(t_request, request_id);
}

void log_ctx_set_job(const char *job_id)
{
    set_id(t_job, job_id);
}

/* Append @p s to buf[*len..cap) with JSON string escaping; always leaves room for a tail. */
static void put_escaped(char *buf, size_t *len, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (; *s && *len + 8 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[(*len)++] = '\\';
            buf[(*len)++] = (char)c;
        } else if (c == '\n') {
            buf[(*len)++] = '\\';
            buf[(*len)++] = 'n';
        } else if (c < 0x20) {
            buf[(*len)++] = '\\';
            buf[(*len)++] = 'u';
            buf[(*len)++] = '0';
            buf[(*len)++] = '0';
            buf[(*len)++] = hex[c >> 4];
            buf[(*len)++] = hex[c & 15];
        } else {
            buf[(*len)++] = (char)c;
        }
    }
}

static void put_raw(char *buf, size_t *len, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 4 >= cap) {
        n = cap - *len - 4;
    }
    memcpy(buf + *len, s, n);
    *len += n;
}

void log_write(enum log_level level, const char *comp, const char *fmt, ...)
{
    char msg[LOG_LINE_MAX / 2];
    char line[LOG_LINE_MAX];
    char ts[40];
    size_t len = 0;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    clock_format_rfc3339(clock_realtime_ns(), ts, sizeof ts);
    if (atomic_load(&g_format) == LOG_FORMAT_TEXT) {
        int n = snprintf(line, sizeof line, "%s %-5s [%s]%s%s%s%s %s", ts, level_names[level], comp,
                         t_request[0] ? " req=" : "", t_request, t_job[0] ? " job=" : "", t_job,
                         msg);
        len = n < 0 ? 0 : ((size_t)n >= sizeof line - 2 ? sizeof line - 2 : (size_t)n);
    } else {
        put_raw(line, &len, sizeof line, "{\"ts\":\"");
        put_raw(line, &len, sizeof line, ts);
        put_raw(line, &len, sizeof line, "\",\"level\":\"");
        put_raw(line, &len, sizeof line, level_names[level]);
        put_raw(line, &len, sizeof line, "\",\"comp\":\"");
        put_escaped(line, &len, sizeof line, comp);
        if (t_request[0]) {
            put_raw(line, &len, sizeof line, "\",\"request_id\":\"");
            put_escaped(line, &len, sizeof line, t_request);
        }
        if (t_job[0]) {
            put_raw(line, &len, sizeof line, "\",\"job_id\":\"");
            put_escaped(line, &len, sizeof line, t_job);
        }
        put_raw(line, &len, sizeof line, "\",\"msg\":\"");
        put_escaped(line, &len, sizeof line, msg);
        put_raw(line, &len, sizeof line, "\"}");
    }
    line[len++] = '\n';
    /* one write per line keeps lines whole between threads; a short write is not retried */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
