/* rand.c - per-thread buffered getrandom.
 * SPDX-License-Identifier: Apache-2.0 */
#include "core/rand.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define RAND_POOL_BYTES 4096

static _Thread_local unsigned char t_pool[RAND_POOL_BYTES];
static _Thread_local size_t t_left;

static void refill(void)
{
    size_t got = 0;
    while (got < sizeof t_pool) {
        ssize_t n = getrandom(t_pool + got, sizeof t_pool - got, 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            abort(); /* no entropy source at all: nothing sensible to continue with */
        }
        got += (size_t)n;
    }
    t_left = sizeof t_pool;
}

void rand_bytes(void *out, size_t n)
{
    unsigned char *p = out;
    while (n > 0) {
        if (t_left == 0) {
            refill();
        }
        size_t take = n < t_left ? n : t_left;
        /* hand out from the end of the pool and wipe what was handed out */
        memcpy(p, t_pool + (t_left - take), take);
        memset(t_pool + (t_left - take), 0, take);
        t_left -= take;
        p += take;
        n -= take;
    }
}

uint64_t rand_u64(void)
{
    uint64_t v;
    rand_bytes(&v, sizeof v);
    return v;
}

void rand_uuid_v4(uint8_t out[16])
{
    rand_bytes(out, 16);
    out[6] = (uint8_t)((out[6] & 0x0f) | 0x40); /* version 4 */
    out[8] = (uint8_t)((out[8] & 0x3f) | 0x80); /* RFC 4122 variant */
}
