/* rand.h - random bytes from the kernel (getrandom), buffered per thread so that callers that
 * need many small values (entity UUIDs, backoff jitter) pay one system call per 4 KiB.
 * Thread-safe: every thread has its own buffer. Not for key material that must not outlive
 * its use in memory. SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_CORE_RAND_H
#define OBSFLOW_CORE_RAND_H

#include <stddef.h>
#include <stdint.h>

/** Fill @p out with @p n random bytes. Aborts only if the kernel refuses getrandom(2). */
void rand_bytes(void *out, size_t n);

/** A random 64-bit value. */
uint64_t rand_u64(void);

/** A random (version 4, RFC 4122 variant) UUID in binary form. */
void rand_uuid_v4(uint8_t out[16]);

#endif
