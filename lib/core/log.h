/* log.h - the one logger: JSON lines (or text) on stderr, level-gated before formatting,
 * correlated with the calling thread's request_id / job_id.
 * Thread-safe: each line is written with one write(2) call.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_CORE_LOG_H
#define OBSFLOW_CORE_LOG_H

#include "core/compiler.h"

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };
enum log_format { LOG_FORMAT_JSON = 0, LOG_FORMAT_TEXT };

/** Configure the process-wide level and format; call from main before threads start. */
void log_configure(enum log_level level, enum log_format format);

/** Parse "debug|info|warn|error"; returns false on an unknown name. */
bool log_level_parse(const char *s, enum log_level *out);

/** True when a message at @p level would be written. */
bool log_enabled(enum log_level level);

/** Set the calling thread's correlation ids (NULL or "" clears). Copied. */
void log_ctx_set_request(const char *request_id);
void log_ctx_set_job(const char *job_id);

/** Write one line. @p comp is a short component tag ("db", "http", "worker"). */
void log_write(enum log_level level, const char *comp, const char *fmt, ...) PRINTF_LIKE(3, 4);

#define LOG_AT(lvl, comp, ...)                                                                     \
    do {                                                                                           \
        if (log_enabled(lvl)) {                                                                    \
            log_write(lvl, comp, __VA_ARGS__);                                                     \
        }                                                                                          \
    } while (0)
#define LOG_DEBUG(comp, ...) LOG_AT(LOG_LEVEL_DEBUG, comp, __VA_ARGS__)
#define LOG_INFO(comp, ...)  LOG_AT(LOG_LEVEL_INFO, comp, __VA_ARGS__)
#define LOG_WARN(comp, ...)  LOG_AT(LOG_LEVEL_WARN, comp, __VA_ARGS__)
#define LOG_ERROR(comp, ...) LOG_AT(LOG_LEVEL_ERROR, comp, __VA_ARGS__)

#endif
