/* clock.h - monotonic and wall clocks in nanoseconds, RFC 3339 formatting.
 * Thread-safe. SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_CORE_CLOCK_H
#define OBSFLOW_CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/** Nanoseconds on CLOCK_MONOTONIC. */
int64_t clock_mono_ns(void);

/** Nanoseconds since the Unix epoch on CLOCK_REALTIME. */
int64_t clock_realtime_ns(void);

/** Format @p epoch_ns as "2026-11-21T21:22:28.123456Z" into @p out (>= 32 bytes). */
void clock_format_rfc3339(int64_t epoch_ns, char *out, size_t cap);

/** Sleep for @p ms milliseconds (restarts on EINTR). */
void clock_sleep_ms(int64_t ms);

#endif
