/* pipeline_calib.h - stage 1 (CCD calibration) of lib/pipeline.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_PIPELINE_PIPELINE_CALIB_H
#define OBSFLOW_PIPELINE_PIPELINE_CALIB_H

#include "pipeline_int.h"

/** What stage 1 needs to know about the run. */
struct proc_calib_ctx {
    char instrument[32];         /* "acs", "wfc3", "stis" */
    char config_dir[PROC_PATH_MAX]; /* references/ and expectations/ live here ("" = none) */
    char refcat[PROC_PATH_MAX];     /* the reference catalog's file name under references/
                                       ("" = <instrument>.yaml) */
    /* IRAF directory variables ("jref"): the value or NULL */
    const char *(*lookup)(void *ud, const char *name);
    void *lookup_ud;
    const struct pipeline_hooks *hooks; /* cancellation, checked per imset; may be NULL */
    struct refstore *refstore;          /* references not found locally; NULL = none */
    enum pipeline_missing_ref missing;  /* a needed reference nowhere to be found */
};

/**
 * Calibrate one raw CCD file into a product with SCI/ERR/DQ per imset, written atomically to
 * @p out_path. References come from the header (jref$... resolved through cx->lookup or
 * <config>/references/hst[/instrument]/, else fetched through cx->refstore with the catalog's
 * checksum) or from <config>/references/<instrument>.yaml. A reference the file needs (its
 * switch PERFORM, its value not N/A) that is nowhere to be found fails with BESTREFS_ERROR
 * naming every missing keyword and file, unless cx->missing is SKIP: then that step is skipped
 * with a WARNING line in @p log (as are references whose switch is not PERFORM). The error is
 * ERR_UNAVAILABLE when the store could not be reached for one of them (worth a retry), else
 * ERR_NOT_FOUND.
 * @param[out] xcode the CALDP exit code of a failure (BESTREFS_ERROR, STAGE1_ERROR,
 *                   CALDP_MEMORY_ERROR), PROC_SUCCESS on success
 * @return ERR_OK; ERR_CANCELLED when cx->hooks said so between imsets; other errors
 */
NODISCARD enum err proc_calibrate_raw(const struct proc_calib_ctx *cx, const char *raw_path,
                                      const char *out_path, struct proc_log *log, int *xcode,
                                      struct err_info *ei);

#endif
