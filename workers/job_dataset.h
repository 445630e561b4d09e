/* job_dataset.h - the `dataset` job kind: a thin adapter from a claimed job to lib/pipeline
 * (caldp-process semantics, as `obsflow process` runs it). SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_WORKERS_JOB_DATASET_H
#define OBSFLOW_WORKERS_JOB_DATASET_H

#include "job_ingest.h"
#include "pipeline/pipeline.h"
#include "storage/storage.h"
#include "workers.h"

/** What every dataset job of a process shares (the handler's arg; read-only while running). */
struct job_dataset_ctx {
    struct storage *storage; /* inputs and outputs (OBSFLOW_DATA_ROOTS, AWS_*, archive) */
    const char *config_dir;  /* OBSFLOW_CONFIG_DIR: expectations/, references/, datasets.yaml */
    const char *work_dir;    /* OBSFLOW_WORK_DIR: each run's private scratch directory */
    /* OBSFLOW_REFERENCE_URI's store, shared by every dataset job of the process (borrowed;
     * NULL = local references only) */
    struct refstore *refstore;
    /* a needed reference nowhere to be found: fail (BESTREFS_ERROR, the default) or skip */
    enum pipeline_missing_ref missing_reference;
    /* the CAOM step's push target, blueprints and scratch (the ingest kind's); NULL = a job
     * naming a collection fails */
    const struct job_ingest_ctx *ingest;
};

/**
 * The handler: params checked by pipeline_params_parse (as POST /v1/jobs did), pipeline_run
 * with the job's cancellation as its cancelled hook, result {"exit_code", "exit_name",
 * "dataset_dir", "products": [{"uri", "size", "md5", "type"}], "steps": [{"name", "ms"}],
 * "total_ms"}. With a collection (params.collection or the profile's), the finished products
 * go through lib/ingest before they are published (ingest_build_planes: one plane per FITS
 * product, raw inputs calibrationLevel 1 and products 2, previews and thumbnails attached to
 * the plane they show, built with the profile's blueprints) and the observation is pushed
 * after publication, its outcome in result.caom ({"outcome", "uri", "acc_meta_checksum",
 * "artifacts"}; created, updated or unchanged). A failed dataset fails the job with code =
 * the lower-case CALDP exit name
 * ("stage1_error") and message "NAME[code]: reason": at once (ERR_INVALID) unless it may get
 * better by retrying (pipeline_result.retryable: network, 5xx, I/O; or a memory code).
 */
enum err workers_job_dataset(struct workers_job *job, void *arg, struct err_info *ei);

#endif
