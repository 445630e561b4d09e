/* compiler.h - the only place compiler attributes are spelled out.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_CORE_COMPILER_H
#define OBSFLOW_CORE_COMPILER_H

#if defined(__GNUC__) || defined(__clang__)
#define NODISCARD           __attribute__((warn_unused_result))
#define PRINTF_LIKE(f, a)   __attribute__((format(printf, f, a)))
#define VPRINTF_LIKE(f)     __attribute__((format(printf, f, 0)))
#define NONNULL(...)        __attribute__((nonnull(__VA_ARGS__)))
#define UNUSED              __attribute__((unused))
#define LIKELY(x)           __builtin_expect(!!(x), 1)
#define UNLIKELY(x)         __builtin_expect(!!(x), 0)
#else
#define NODISCARD
#define PRINTF_LIKE(f, a)
#define VPRINTF_LIKE(f)
#define NONNULL(...)
#define UNUSED
#define LIKELY(x)   (x)
#define UNLIKELY(x) (x)
#endif
#define NORETURN _Noreturn

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
