/* job_ingest.h - the `ingest` job kind: a thin adapter from a claimed job to lib/ingest.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_WORKERS_JOB_INGEST_H
#define OBSFLOW_WORKERS_JOB_INGEST_H

#include "ingest/ingest.h"
#include "registry/registry.h"
#include "repo/repo.h"
#include "storage/storage.h"
#include "workers.h"

/** What every ingest job of a process shares (the handler's arg; read-only while running). */
struct job_ingest_ctx {
    struct storage *storage;               /* inputs (data roots, S3 credentials) */
    struct repo_store *store;              /* the built-in repository, used when remote is NULL */
    const struct repo_remote_opts *remote; /* OBSFLOW_CAOM_REPO_URL ..., or NULL */
    const char *blueprint_dir;             /* <OBSFLOW_CONFIG_DIR>/blueprints */
    const char *work_dir;                  /* OBSFLOW_WORK_DIR: scratch of remote inputs */
    const struct profile_set *profiles;    /* what params.profile may name (or NULL) */
    /* the dataset registry where a profile's registry_run sends ingest and dataset jobs'
     * datasets (borrowed; NULL = a job whose profile names registry_run fails) */
    struct reg *reg;
};

/**
 * The handler: params checked by ingest_params_parse (as POST /v1/jobs did), one repo_target
 * per job (a remote one holds one HTTP client), ingest_run, result
 * {"outcome", "uri", "acc_meta_checksum", "artifacts"}. Permanent failures return ERR_INVALID
 * (failed at once) with the error code of lib/ingest's class; transient ones are retried.
 */
enum err workers_job_ingest(struct workers_job *job, void *arg, struct err_info *ei);

#endif
