/* alloc_fail.c - see alloc_fail.h.
 * SPDX-License-Identifier: Apache-2.0 */
#include "support/alloc_fail.h"

void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

static long g_countdown = -1; /* the allocation that fails: 0 = the next one; -1 = none */
static bool g_all;            /* every allocation fails */
static size_t g_refused;      /* allocations refused since the last reset */

void alloc_fail_nth(long n)
{
    g_countdown = n;
    g_refused = 0;
}

long alloc_fail_countdown(void)
{
    return g_countdown;
}

void alloc_fail_all(bool on)
{
    g_all = on;
    if (on)
        g_refused = 0;
}

size_t alloc_fail_refused(void)
{
    return g_refused;
}

static bool fail_now(void)
{
    bool fail = g_all;
    if (g_countdown >= 0 && g_countdown-- == 0)
        fail = true;
    if (fail)
        g_refused++;
    return fail;
}

void *__wrap_malloc(size_t size)
{
    return fail_now() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    return fail_now() ? NULL : __real_realloc(p, size);
}
