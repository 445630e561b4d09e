/* kinds.h - the job kinds obsflowd runs besides the built-in noop: one table, so adding a kind
 * (dataset, ingest, collection) is one line in kinds.c. The params validator of each kind
 * lives with the kind (lib/ingest for ingest) and is called by POST /v1/jobs
 * (handlers/job_validate.c) and by the worker alike. SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_SERVICE_KINDS_H
#define OBSFLOW_SERVICE_KINDS_H

#include "core/err.h"
#include "workers/job_dataset.h"
#include "workers/job_ingest.h"
#include "workers/workers.h"

/** What the kinds' handlers get as their arg (borrowed; must outlive the pool). */
struct kinds_env {
    struct job_ingest_ctx *ingest;
    struct job_dataset_ctx *dataset;
};

/** Register every kind of the table with @p pool (before workers_pool_start).
 * @return ERR_OK or the first registration error (detail in @p ei). */
NODISCARD enum err
kinds_register_all(struct workers_pool *pool, const struct kinds_env *env, struct err_info *ei);

#endif
