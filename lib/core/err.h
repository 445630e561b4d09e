/* err.h - the one error vocabulary of obsflow.
 * Every fallible function returns enum err; detail travels in struct err_info,
 * which never allocates. Names are stable and appear in API error bodies.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_CORE_ERR_H
#define OBSFLOW_CORE_ERR_H

#include "core/compiler.h"

#include <stddef.h>

/* X(name, http_status) - one row per error; the HTTP status is what an API
 * handler answers when this error reaches the client unchanged. */
#define ERR_LIST(X)                                                                                \
    X(OK, 200)                                                                                     \
    X(NOMEM, 500)                                                                                  \
    X(INVALID, 422)         /* input is well-formed but a value is wrong */                        \
    X(PARSE, 400)           /* input is malformed (JSON, header text, XML, cursor) */              \
    X(NOT_FOUND, 404)                                                                              \
    X(CONFLICT, 409)                                                                               \
    X(PRECONDITION, 412)    /* a conditional request's precondition failed (If-Match) */           \
    X(TOO_LARGE, 413)                                                                              \
    X(UNSUPPORTED, 415)                                                                            \
    X(UNAUTHORIZED, 401)                                                                           \
    X(FORBIDDEN, 403)                                                                              \
    X(UNAVAILABLE, 503)     /* a dependency is down; try again later */                            \
    X(DB_RETRY, 503)        /* serialization failure or deadlock; retried by db_txn_run */         \
    X(DB, 500)                                                                                     \
    X(STORAGE, 502)                                                                                \
    X(HTTP, 502)            /* an upstream HTTP service answered with an error */                  \
    X(FITS, 422)                                                                                   \
    X(WCS, 422)                                                                                    \
    X(XML, 422)                                                                                    \
    X(CHECKSUM, 422)                                                                               \
    X(CALIB, 422)                                                                                  \
    X(IO, 500)                                                                                     \
    X(TIMEOUT, 504)                                                                                \
    X(CANCELLED, 409)                                                                              \
    X(INTERNAL, 500)

enum err {
#define ERR_ENUM_ROW(name, status) ERR_##name,
    ERR_LIST(ERR_ENUM_ROW)
#undef ERR_ENUM_ROW
        ERR__COUNT
};

#define ERR_INFO_FIELD_MAX 128
#define ERR_INFO_MSG_MAX   512

/** Human-readable detail of a failure; fixed size so reporting never allocates. */
struct err_info {
    enum err code;                   /* the error this detail belongs to */
    char field[ERR_INFO_FIELD_MAX];  /* offending input field (JSON path, keyword, ...) or "" */
    char msg[ERR_INFO_MSG_MAX];      /* lower-case message, PostgreSQL wording style */
};

/** Stable UPPER_SNAKE name of @p e ("NOT_FOUND"); never NULL. */
const char *err_str(enum err e);

/** Lower-case name of @p e for problem+json "code" ("not_found"); never NULL. */
const char *err_code(enum err e);

/** HTTP status that @p e maps to when it reaches a client unchanged. */
int err_http_status(enum err e);

/** Reset @p ei (may be NULL). */
void err_info_clear(struct err_info *ei);

/**
 * Record @p code with a formatted message in @p ei (may be NULL) and return @p code,
 * so callers can write `return err_set(ei, ERR_INVALID, "...")`. Truncates silently. Control
 * bytes in the result (from echoed input: names, paths) are written as "\xNN", here and in
 * err_set_field's field and err_prefix's result.
 */
enum err err_set(struct err_info *ei, enum err code, const char *fmt, ...) PRINTF_LIKE(3, 4);

/** As err_set, and names the offending @p field. */
enum err err_set_field(struct err_info *ei, enum err code, const char *field, const char *fmt, ...)
    PRINTF_LIKE(4, 5);

/** Prefix the existing message in @p ei with formatted context ("file x.fits: "). */
void err_prefix(struct err_info *ei, const char *fmt, ...) PRINTF_LIKE(2, 3);

#define ERR_ERRNO_STR_MAX 128

/** The text of errno value @p errnum ("No such file or directory") in @p buf of @p cap bytes,
 *  through strerror_r ("errno N" when unknown); returns @p buf. Thread-safe: this, not strerror
 *  (banned, style.md 6.6), is how errno reaches a message. */
const char *err_errno_str(int errnum, char *buf, size_t cap);

/** err_errno_str into a buffer that lives until the end of the enclosing block, for use as an
 *  argument: `err_set(ei, ERR_IO, "could not open \"%s\": %s", path, ERR_ERRNO(errno))`. */
#define ERR_ERRNO(errnum) err_errno_str((errnum), (char[ERR_ERRNO_STR_MAX]){0}, ERR_ERRNO_STR_MAX)

#endif
