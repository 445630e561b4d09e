/* alloc_fail.h - allocation-failure injection shared by the tests. A test links
 * tests/support/alloc_fail.c with -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc, so
 * the calls of the statically linked obsflow objects (and of the test) go through it; shared
 * libraries (libxml2, jansson, cfitsio, wcslib, libcurl, libc itself) are unaffected.
 * Single-threaded tests only.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_TESTS_SUPPORT_ALLOC_FAIL_H
#define OBSFLOW_TESTS_SUPPORT_ALLOC_FAIL_H

#include <stdbool.h>
#include <stddef.h>

/** Make the @p n-th next allocation fail (0 = the next one) and only that one; -1 = none.
 * Resets the refused count. */
void alloc_fail_nth(long n);

/** The pending countdown (-1 = none), to pause injection around set-up code and resume it. */
long alloc_fail_countdown(void);

/** Make every allocation fail while @p on. Turning it on resets the refused count. */
void alloc_fail_all(bool on);

/** Allocations refused since the last reset. */
size_t alloc_fail_refused(void);

/* The unwrapped allocators (provided by the linker's --wrap), for set-up code that must never
 * see an injected failure. */
void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);

#endif
