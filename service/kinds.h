/* kinds.h - the job kinds obsflowd runs: ONE table (service/kinds.c), a row per kind with its
 * name, default queue, params validator and handler. The queue gets the table's names, queues
 * and validators (POST /v1/jobs refuses any other kind with 422 naming "kind" and checks params
 * at submit time with the validator the worker runs), the worker pool its handlers. Adding a
 * kind is one row. SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_SERVICE_KINDS_H
#define OBSFLOW_SERVICE_KINDS_H

#include "core/err.h"
#include "queue/queue.h"
#include "workers/job_collection.h"
#include "workers/job_combine.h"
#include "workers/job_dataset.h"
#include "workers/job_ingest.h"
#include "workers/workers.h"

#define KINDS_MAX 8 /* rows of the table */

struct profile_set;

/** What the kinds' handlers get as their arg (borrowed; must outlive the pool). */
struct kinds_env {
    struct job_ingest_ctx *ingest;
    struct job_dataset_ctx *dataset;
    struct job_collection_ctx *collection;
};

/**
 * The queue's view of the table (queue_config.kinds): name, default queue and params
 * validator of each kind, the validators' context being @p profiles (what a dataset or ingest job's
 * params.profile may name; may be NULL). @param[out] out KINDS_MAX entries.
 * @return the number of kinds filled in.
 */
int kinds_queue_table(const struct profile_set *profiles, struct queue_kind out[KINDS_MAX]);

/** Register the handler of every kind of the table with @p pool (before workers_pool_start).
 * @return ERR_OK or the first registration error (detail in @p ei). */
NODISCARD enum err
kinds_register_all(struct workers_pool *pool, const struct kinds_env *env, struct err_info *ei);

#endif
