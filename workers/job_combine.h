/* job_combine.h - the `combine` job kind: raw bias or flat frames (any storage URI) through a
 * ground CCD profile's plan into a master frame, published under the job's output by the
 * profile's file template, registered in the dataset registry (the raw frames and the master,
 * its provenance naming them and, for a flat, the bias it used) and certified into a
 * CALIBRATION collection over a validity range (docs/registry.md, "Calibration products").
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_WORKERS_JOB_COMBINE_H
#define OBSFLOW_WORKERS_JOB_COMBINE_H

#include "job_dataset.h"
#include "workers.h"

/**
 * The handler (arg: the dataset kind's struct job_dataset_ctx: storage, work_dir, and the
 * ingest context's profiles and registry). Params: pipeline_combine_params_parse. Result:
 * {"master":{"id","type","uri","size","md5"},"run","inputs":[ids],"references":[ids],
 * "certified"?:{"collection","certified","begin","end"}}. Errors: invalid_params,
 * invalid_input (a frame unreadable, of another instrument, without a time span),
 * bestrefs_error (a flat's bias missing or ambiguous), stage1_error (shapes, sections),
 * registry_conflict (e.g. an overlapping certification, naming the other dataset and range),
 * registry_invalid; registry_unavailable and transfers are retried.
 */
enum err workers_job_combine(struct workers_job *job, void *arg, struct err_info *ei);

#endif
