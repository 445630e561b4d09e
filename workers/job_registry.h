/* job_registry.h - what a dataset or ingest job registers in the dataset registry
 * (lib/registry) when its profile names registry_run: one dataset per FITS file, typed by its
 * file name suffix (j8bt05njq_raw.fits -> raw, _flt -> flt), data ID {instrument, exposure}
 * from the file's primary header and name, the job's inputs with the job's provenance, its
 * products with the inputs as provenance. docs/registry.md says why these dimensions.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_WORKERS_JOB_REGISTRY_H
#define OBSFLOW_WORKERS_JOB_REGISTRY_H

#include "core/err.h"
#include "profile/profile.h"
#include "registry/registry.h"
#include "storage/storage.h"
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
 * @p instrument: the profile's, or NULL (INSTRUME then). @p dataset: the job's dataset name
 * or NULL: a file named after it is <dataset>.fits (type raw) or <dataset>_<type>.fits (a
 * ground frame such as kastb_b27_science_cal.fits); else the root is the name up to its first
 * '_' (HST: j8bt05njq_raw.fits). The span: EXPSTART/EXPEND (MJD), else MJD-OBS or DATE-OBS
 * (+TIME-OBS, UTC) plus EXPTIME. @return ERR_OK; ERR_INVALID saying what the file lacks (a
 * name without a usable root, no exposure time span).
 */
NODISCARD enum err jreg_file_read(const char *path, const char *instrument, const char *dataset,
                                  struct jreg_file *f, struct err_info *ei);

/** A fresh random UUID (text, 36 characters). */
void jreg_uuid(char out[37]);

/** "sha256:<hex>" of @p params' canonical JSON (keys sorted, compact). */
void jreg_params_digest(const json_t *params, char *out, size_t cap);

/** The software version recorded in provenance. */
#define JREG_VERSION "obsflow 0.1.0"

/**
 * Register @p n files in run @p run in one transaction (reg_register_job): the dataset types
 * (dimensions instrument and exposure, storage class FITS) when missing, the exposures, the
 * inputs with provenance {job, version, digest of the params}, the products with the same and
 * every input as an "input" and @p references (registry dataset UUIDs of the calibrations the
 * run used, may be 0) as "references". @param[out] out the registration summary for the job's result.
 * @return ERR_OK; ERR_INVALID / ERR_CONFLICT (will not get better); other errors (the
 *         database unreachable) are worth retrying.
 */
NODISCARD enum err jreg_register(struct reg *r, struct workers_job *job, const char *run,
                                 const struct jreg_file *files, size_t n,
                                 const char *const *references, size_t nrefs, json_t **out,
                                 struct err_info *ei);

/**
 * The calibration of @p type ("bias", "flat") for @p frame from the profile's calibrations
 * search path (reg_calib_lookup over the frame's instrument and [begin, end)): its registry
 * UUID into @p id and a local path into @p path (a file: record in place, confined to the
 * storage's data roots; others fetched into @p scratch).
 * @return ERR_OK; ERR_NOT_FOUND (none certified, no such type or collection yet);
 *         ERR_CONFLICT (ambiguous: both named); ERR_UNAVAILABLE (registry or store down).
 */
NODISCARD enum err jreg_calib_find(struct reg *reg, struct storage *st, const struct profile *pr,
                                   const char *type, const struct jreg_file *frame,
                                   const char *scratch, char *path, size_t cap, char *id,
                                   size_t idcap, struct err_info *ei);

/** A stable error code for the job: "registry_conflict", "registry_invalid" or
 * "registry_unavailable". */
const char *jreg_error_code(enum err e);

/** Whether @p e (from jreg_register) is permanent (the job fails at once). */
bool jreg_permanent(enum err e);

#endif
