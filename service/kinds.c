/* kinds.c - the one table of the job kinds obsflowd runs (see kinds.h).
 * SPDX-License-Identifier: Apache-2.0 */
#include "kinds.h"

#include "harvest/harvest.h"
#include "ingest/ingest.h"
#include "pipeline/pipeline.h"

#include <stddef.h>

/* The validators as the queue calls them; the workers call the same functions
 * (ingest_params_parse, pipeline_params_parse, workers_noop_params) before running. */
static enum err
dataset_params(const json_t *params, const char *pfx, const void *ctx, struct err_info *ei)
{
    return pipeline_params_validate(params, pfx, ctx, ei);
}

static enum err
combine_params(const json_t *params, const char *pfx, const void *ctx, struct err_info *ei)
{
    return pipeline_combine_params_parse(params, pfx, ctx, NULL, ei);
}

static enum err
ingest_params(const json_t *params, const char *pfx, const void *ctx, struct err_info *ei)
{
    return ingest_params_validate(params, pfx, ctx, ei);
}

/* The queue of the profile a dataset or ingest job names (validated before this is asked). */
static const char *profile_queue(const json_t *params, const void *ctx)
{
    const char *name = json_string_value(json_object_get(params, "profile"));
    const struct profile *p = name ? profile_set_find(ctx, name) : NULL;
    return p ? p->queue : NULL;
}

enum kind_arg { ARG_NONE, ARG_INGEST, ARG_DATASET, ARG_COLLECTION };

static const struct {
    const char *name;
    const char *queue;      /* default queue (OBSFLOW_QUEUES sizes them); a job naming a
                               profile with a queue goes there instead */
    queue_params_fn params; /* the params validator, at submit time and in the worker */
    workers_handler_fn run; /* the worker's handler */
    enum kind_arg arg;      /* which part of struct kinds_env the handler gets */
} kinds[] = {
    {"noop", QUEUE_DEFAULT_QUEUE, workers_noop_params, workers_job_noop, ARG_NONE},
    /* calibration and metadata ingest on queues of their own, so the heavy one cannot starve
     * the light one (issue 8) */
    {"dataset", "calib", dataset_params, workers_job_dataset, ARG_DATASET},
    {"ingest", "ingest", ingest_params, workers_job_ingest, ARG_INGEST},
    /* master calibration frames, registered and certified (issue 13): heavy as datasets */
    {"combine", "calib", combine_params, workers_job_combine, ARG_DATASET},
    /* a harvest: lists a source and fans out children of the kinds above; it waits for them
     * snoozing, so its queue's threads are free while they run */
    {HARV_KIND, HARV_QUEUE, harv_params_validate, workers_job_collection, ARG_COLLECTION},
};

_Static_assert(sizeof kinds / sizeof kinds[0] <= KINDS_MAX, "KINDS_MAX is too small");

int kinds_queue_table(const struct profile_set *profiles, struct queue_kind out[KINDS_MAX])
{
    int n = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        out[n++] = (struct queue_kind){.name = kinds[i].name,
                                       .queue = kinds[i].queue,
                                       .params = kinds[i].params,
                                       .ctx = profiles,
                                       .queue_of = kinds[i].arg == ARG_INGEST ||
                                                           kinds[i].arg == ARG_DATASET
                                                       ? profile_queue
                                                       : NULL};
    }
    return n;
}

enum err
kinds_register_all(struct workers_pool *pool, const struct kinds_env *env, struct err_info *ei)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        void *arg = kinds[i].arg == ARG_INGEST    ? (void *)env->ingest
                    : kinds[i].arg == ARG_DATASET    ? (void *)env->dataset
                    : kinds[i].arg == ARG_COLLECTION ? (void *)env->collection
                                                     : NULL;
        enum err e = workers_register(pool, kinds[i].name, kinds[i].run, arg, ei);
        if (e != ERR_OK) {
            return e;
        }
    }
    return ERR_OK;
}
