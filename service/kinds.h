/* kinds.h - the job kinds obsflowd runs besides the built-in noop: one table, so adding a kind
 * (dataset, ingest, collection) is one line in kinds.c. SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_SERVICE_KINDS_H
#define OBSFLOW_SERVICE_KINDS_H

#include "core/err.h"
#include "workers/workers.h"

/** Register every kind of the table with @p pool (before workers_pool_start).
 * @return ERR_OK or the first registration error (detail in @p ei). */
NODISCARD enum err kinds_register_all(struct workers_pool *pool, struct err_info *ei);

#endif
