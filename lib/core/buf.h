/* buf.h - growable byte buffer with a hard cap (every buffer that grows has a limit).
 * Not thread-safe; one owner at a time. SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_CORE_BUF_H
#define OBSFLOW_CORE_BUF_H

#include "core/compiler.h"
#include "core/err.h"

#include <stddef.h>

struct buf {
    char *data;   /* owned; NUL-terminated when len > 0 or after buf_cstr */
    size_t len;   /* bytes used, excluding the terminator */
    size_t cap;   /* bytes allocated */
    size_t max;   /* hard cap on len; appends beyond it fail with ERR_TOO_LARGE */
};

/** Initialise an empty buffer that may grow to @p max bytes. Allocates nothing. */
void buf_init(struct buf *b, size_t max);

/** Free the storage; @p b may be NULL. The buffer is empty and reusable afterwards. */
void buf_free(struct buf *b);

/** Drop the contents, keep the storage. */
void buf_reset(struct buf *b);

/** Append @p n bytes. ERR_TOO_LARGE past the cap, ERR_NOMEM on allocation failure;
 * on failure the buffer is unchanged. */
NODISCARD enum err buf_append(struct buf *b, const void *p, size_t n);

/** Append a NUL-terminated string. */
NODISCARD enum err buf_puts(struct buf *b, const char *s);

/** Append formatted text. */
NODISCARD enum err buf_printf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);

/** Ensure room for @p n more bytes (plus terminator). */
NODISCARD enum err buf_reserve(struct buf *b, size_t n);

/** Borrow the contents as a C string ("" when empty); valid until the next mutation. */
const char *buf_cstr(const struct buf *b);

/** Hand the storage to the caller (owned, free()), leaving @p b empty. May return NULL when empty. */
char *buf_take(struct buf *b);

#endif
