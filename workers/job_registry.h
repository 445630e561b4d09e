/* job_registry.h - what a dataset or ingest job registers in the dataset registry
 * (lib/registry) when its profile names registry_run: one dataset per FITS file, typed by its
 * file name suffix (j8bt05njq_raw.fits -> raw, _flt -> flt), data ID {instrument, exposure}
 * from the file's primary header and name, the job's inputs with the job's provenance, its
 * products with the inputs as provenance. docs/registry.md says why these dimensions.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_WORKERS_JOB_REGISTRY_H
#define OBSFLOW_WORKERS_JOB_REGISTRY_H

#include "core/err.h"
#include "registry/registry.h"
#include "workers.h"

#include <stdbool.h>
#include <stdint.h>

#define JREG_FILES_MAX 1024 /* FITS files one job registers */

/** One FITS file of a job, read while it is local. */
struct jreg_file {
    char base[256];        /* file name: what the published URI is matched by */
    char type[64];         /* dataset type: the name's suffix ("raw", "flt") */
    char uri[4096];        /* the file record's URI (set before registering) */
    uint64_t size;
    char md5[33];          /* lower-case hex or "" */
    bool input;            /* a raw input of the job (else made by it) */
    char instrument[65];   /* the profile's, else INSTRUME */
    int64_t exposure;      /* from the name's root (see job_registry.c) */
    char obs_id[64];       /* the name's root */
    char begin[40], end[40]; /* ISO-8601 UTC, from EXPSTART/EXPEND (MJD) or MJD-OBS + EXPTIME */
};

/**
 * Read @p path's primary header and name into @p f (base, type, instrument, exposure, times).
 * @p instrument: the profile's, or NULL (INSTRUME then). @return ERR_OK; ERR_INVALID saying
 * what the file lacks (a name without a usable root, no exposure time span).
 */
NODISCARD enum err jreg_file_read(const char *path, const char *instrument, struct jreg_file *f,
                                  struct err_info *ei);

/**
 * Register @p n files in run @p run in one transaction (reg_register_job): the dataset types
 * (dimensions instrument and exposure, storage class FITS) when missing, the exposures, the
 * inputs with provenance {job, version, digest of the params}, the products with the same and
 * every input as an "input". @param[out] out the registration summary for the job's result.
 * @return ERR_OK; ERR_INVALID / ERR_CONFLICT (will not get better); other errors (the
 *         database unreachable) are worth retrying.
 */
NODISCARD enum err jreg_register(struct reg *r, struct workers_job *job, const char *run,
                                 const struct jreg_file *files, size_t n, json_t **out,
                                 struct err_info *ei);

/** A stable error code for the job: "registry_conflict", "registry_invalid" or
 * "registry_unavailable". */
const char *jreg_error_code(enum err e);

/** Whether @p e (from jreg_register) is permanent (the job fails at once). */
bool jreg_permanent(enum err e);

#endif
