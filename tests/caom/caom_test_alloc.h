/* caom_test_alloc.h - allocation-failure injection for the lib/caom tests. The test links
 * caom_test_alloc.c with -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc, so the calls
 * of the statically linked lib/caom and lib/core objects (and of the test) go through it;
 * shared libraries (libxml2, jansson, libc itself) are unaffected. Single-threaded tests only.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_TESTS_CAOM_CAOM_TEST_ALLOC_H
#define OBSFLOW_TESTS_CAOM_CAOM_TEST_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

/** Make the @p n-th next allocation fail (0 = the next one) and only that one; -1 = none.
 * Resets the refused count. */
void caom_test_alloc_fail_nth(long n);

/** The pending countdown (-1 = none), to pause injection around set-up code and resume it. */
long caom_test_alloc_countdown(void);

/** Make every allocation fail while @p on. Turning it on resets the refused count. */
void caom_test_alloc_fail_all(bool on);

/** Allocations refused since the last reset. */
size_t caom_test_alloc_refused(void);

#endif
