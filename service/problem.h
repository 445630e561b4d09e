/* problem.h - render an error as application/problem+json (RFC 9457) with our stable
 * "code" (err_code), the offending "field" and the request id.
 * 4xx only for what the client can fix; internal detail (SQLSTATE, libpq text) stays in the
 * log: for 5xx the detail is a generic sentence and the message goes to the log instead.
 * Thread-safe. SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_SERVICE_PROBLEM_H
#define OBSFLOW_SERVICE_PROBLEM_H

#include "handlers.h"

/** HTTP status for @p e. */
int problem_status(enum err e);

/** Short title for @p status ("Unprocessable Content"). */
const char *problem_title(int status);

/**
 * Replace @p resp's body with the problem document for @p e / @p ei (ei may be NULL).
 * Sets status and content type. Returns ERR_OK or ERR_NOMEM (the response is then a bare 500).
 */
NODISCARD enum err
problem_render(struct resp *resp, enum err e, const struct err_info *ei, const char *request_id);

#endif
