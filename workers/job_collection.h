/* job_collection.h - the `collection` job kind: a thin adapter from a claimed job to
 * lib/harvest's harv_run. SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_WORKERS_JOB_COLLECTION_H
#define OBSFLOW_WORKERS_JOB_COLLECTION_H

#include "harvest/harvest.h"
#include "storage/storage.h"
#include "workers.h"

/** What every collection job of a process shares (the handler's arg). */
struct job_collection_ctx {
    struct harv *harv;        /* the collection tables */
    struct storage *storage;  /* lists the sources (data roots, S3 credentials) */
    const char *scratch_dir;  /* OBSFLOW_WORK_DIR: http(s) URI lists are downloaded there */
    int wait_poll_ms;         /* children looked at again after this (0: 1000) */
};

/**
 * The handler: harv_run; while the run's children are active the job snoozes (back to the
 * queue, its thread free) and looks again later; the report is the result. A collection that
 * is gone or no longer parses fails at once naming it.
 */
enum err workers_job_collection(struct workers_job *job, void *arg, struct err_info *ei);

#endif
