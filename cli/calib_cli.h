/* calib_cli.h - helpers shared by `obsflow calibrate` and `obsflow combine`.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_CLI_CALIB_CLI_H
#define OBSFLOW_CLI_CALIB_CLI_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes (CALDP numbering): 0 done, 2 usage, 23 calibration failed (STAGE1_ERROR: bad or
 * unreadable input, shape mismatch, bad reference), 32 out of memory (CALDP_MEMORY_ERROR). */
#define CALIB_CLI_EXIT_USAGE  2
#define CALIB_CLI_EXIT_FAILED 23
#define CALIB_CLI_EXIT_NOMEM  32

/** Progress line on stderr when it is a terminal (arg: const char *label). */
void calib_cli_progress(int64_t done, int64_t total, void *arg);

/** Parse "a,b,c" into up to @p max doubles. */
bool calib_cli_parse_list(const char *s, double *out, size_t max, size_t *n);

/** Parse one finite double. */
bool calib_cli_parse_double(const char *s, double *out);

/** Print "obsflow <cmd>: <code>: <message>" and return the exit code for @p e. */
int calib_cli_fail(const char *cmd, enum err e, const struct err_info *ei);

#endif
