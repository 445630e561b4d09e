/* jobreg.h - what the pipeline jobs write to and read from the dataset registry
 * (lib/registry), the product logic the workers' adapters call: what a dataset or ingest job
 * registers when its profile names registry_run: one dataset per FITS file, typed by its
 * file name suffix (j8bt05njq_raw.fits -> raw, _flt -> flt), data ID {instrument, exposure}
 * from the file's primary header and name, the job's inputs with the job's provenance, its
 * products with the inputs as provenance. docs/registry.md says why these dimensions.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_JOBREG_JOBREG_H
#define OBSFLOW_JOBREG_JOBREG_H

#include "core/err.h"
#include "profile/profile.h"
#include "registry/registry.h"
#include "storage/storage.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define JOBREG_FILES_MAX 1024 /* FITS files one job registers */

/** One FITS file of a job, read while it is local. */
struct jobreg_file {
    char base[256];        /* file name: what the published URI is matched by */
    char type[64];         /* dataset type: the name's suffix ("raw", "flt") */
    char uri[4096];        /* the file record's URI (set before registering) */
    uint64_t size;
    char md5[33];          /* lower-case hex or "" */
    bool input;            /* a raw input of the job (else made by it) */
    char instrument[65];   /* the profile's, else INSTRUME */
    int64_t exposure;      /* from the name's root (see jobreg.c) */
    char obs_id[64];       /* the name's root */
    char begin[40], end[40]; /* ISO-8601 UTC, from EXPSTART/EXPEND (MJD) or MJD-OBS + EXPTIME */
    char id[37];           /* the dataset's UUID when the caller chose it (a file template's
                              {id}), else "" (jobreg_register makes one) */
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
NODISCARD enum err jobreg_file_read(const char *path, const char *instrument, const char *dataset,
                                  struct jobreg_file *f, struct err_info *ei);

/** A fresh random UUID (text, 36 characters). */
void jobreg_uuid(char out[37]);

/** "sha256:<hex>" of @p params' canonical JSON (keys sorted, compact). */
void jobreg_params_digest(const json_t *params, char *out, size_t cap);

/** The software version recorded in provenance. */
#define JOBREG_VERSION "obsflow 0.1.0"

/**
 * Register @p n files in run @p run in one transaction (reg_register_job): the dataset types
 * (dimensions instrument and exposure, storage class FITS) when missing, the exposures, the
 * inputs with provenance {@p job_id, version, digest of @p params}, the products with the same and
 * every input as an "input" and @p references (registry dataset UUIDs of the calibrations the
 * run used, may be 0) as "references". @param[out] out the registration summary for the job's result.
 * @return ERR_OK; ERR_INVALID / ERR_CONFLICT (will not get better); other errors (the
 *         database unreachable) are worth retrying.
 */
NODISCARD enum err jobreg_register(struct reg *r, const char *job_id, const json_t *params,
                                   const char *run,
                                 const struct jobreg_file *files, size_t n,
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
NODISCARD enum err jobreg_calib_find(struct reg *reg, struct storage *st, const struct profile *pr,
                                   const char *type, const struct jobreg_file *frame,
                                   const char *scratch, char *path, size_t cap, char *id,
                                   size_t idcap, struct err_info *ei);

/** A master calibration frame of a combine job, as the registry sees it. */
struct jobreg_master {
    const char *job_id;             /* the job (provenance) */
    const json_t *params;           /* its params (digest) */
    const struct profile *profile;  /* registry_run, file_template */
    const char *type;               /* "bias" or "flat" */
    const struct jobreg_file *frames; /* the raw frames (jobreg_file_read; uri, size, md5 set) */
    size_t n;
    const char *bias_id;            /* a flat's bias (a provenance reference), or NULL */
    const char *output;             /* the output root URI */
    /* set by jobreg_master_prepare (and jobreg_master_register after a re-run) */
    char run[160];
    char id[37];
    char uri[4096];                 /* <output>/<file template> */
    bool already;                   /* an earlier attempt had registered it */
};

/** The master's run (@p run, else "<registry_run>/<type>-<job id>" of the day of @p now), a
 * fresh dataset id and its URI by the profile's file template (default
 * "{run}/{dataset_type}/{instrument}/{dataset_type}_{instrument}_{id}.fits"). @return ERR_OK;
 * ERR_INVALID (frames of two instruments, field params.inputs; no run name, params.run). */
NODISCARD enum err jobreg_master_prepare(struct jobreg_master *m, const char *run, time_t now,
                                         struct err_info *ei);

/** Register the frames (type raw, with their exposures) and the master (type bias/flat over
 * [instrument], a calibration; provenance: the frames as inputs, the bias as a reference) in
 * one transaction, the types made when missing. When an earlier attempt of the job had
 * committed its registration, m->id and m->uri become that master's (m->already).
 * @param[out] out {"master":{"id","type","uri","size","md5"},"run","inputs":[ids],
 *                 "references":[ids]}. @return as reg_register_job. */
NODISCARD enum err jobreg_master_register(struct reg *r, struct jobreg_master *m, uint64_t size,
                                          const char *md5, json_t **out, struct err_info *ei);

/** Certify the master into @p collection over [@p begin, @p end) ("" or NULL: unbounded);
 * after a re-run (m->already), a conflict naming the master itself is the earlier attempt's
 * certification and counts as done. @return as reg_certify. */
NODISCARD enum err jobreg_master_certify(struct reg *r, const struct jobreg_master *m,
                                         const char *collection, const char *begin,
                                         const char *end, json_t **out, struct err_info *ei);

/** A stable error code for the job: "registry_conflict", "registry_invalid" or
 * "registry_unavailable". */
const char *jobreg_error_code(enum err e);

/** Whether @p e (from jobreg_register) is permanent (the job fails at once). */
bool jobreg_permanent(enum err e);

#endif
