/* handlers_int.h - internals shared by the endpoint files; include only from handlers/.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_HANDLERS_INT_H
#define OBSFLOW_HANDLERS_INT_H

#include "handlers.h"

/** No body, or "{}": ERR_OK; otherwise ERR_PARSE / ERR_INVALID naming the field. */
NODISCARD enum err handlers__empty_body(const struct req *req, struct err_info *ei);

/** 200 {"status":"ok"} for the probe named @p what. */
NODISCARD enum err handlers__status_ok(struct resp *resp, const char *what, struct err_info *ei);

#endif
