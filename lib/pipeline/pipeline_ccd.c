/* pipeline_ccd.c - ground CCD frames in lib/pipeline: a profile's plan (overscan, trim, gain,
 * read noise, arithmetic) with the bias and flat a calibration source gives (the registry's
 * calibration collections in obsflowd), for the dataset pipeline's stage 1, and the master
 * frames of the `combine` job (each raw frame preprocessed by the same plan, then combined).
 * SPDX-License-Identifier: Apache-2.0 */
#include "pipeline_int.h"

#include "calib/calib.h"
#include "core/str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void plan_of(const struct profile_ccd *ccd, struct calib_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    plan->mode = ccd->ccdproc ? CALIB_MODE_CCDPROC : CALIB_MODE_DEFAULT;
    plan->oscan_stat = CALIB_OSCAN_MEDIAN;
    plan->overscan = ccd->overscan;
    plan->trim = ccd->trim;
    plan->has_gain = ccd->has_gain;
    plan->gain = ccd->gain;
    plan->has_readnoise = ccd->has_readnoise;
    plan->readnoise = ccd->readnoise;
}

/* Record a reference the run used (once per identifier). */
static void ref_used(struct pipeline_result *res, const char *type, const char *id)
{
    for (size_t i = 0; i < res->n_refs; i++) {
        if (strcmp(res->refs[i].id, id) == 0) {
            return;
        }
    }
    if (res->n_refs < PIPELINE_REFS_MAX) {
        str_copy(res->refs[res->n_refs].type, sizeof res->refs[0].type, type);
        str_copy(res->refs[res->n_refs].id, sizeof res->refs[0].id, id);
        res->n_refs++;
    }
}

enum err proc_ccd_calibrate(const struct pipeline_config *cfg, const char *raw_path,
                            const char *out_path, struct proc_log *log,
                            struct pipeline_result *res, int *xcode, struct err_info *ei)
{
    static const char *const types[2] = {"bias", "flat"};
    char paths[2][PROC_PATH_MAX], ids[2][64];
    bool have[2] = {false, false};
    char missing[PROC_REASON_MAX] = "";
    enum err miss = ERR_OK;
    *xcode = PROC_BESTREFS_ERROR;
    for (int i = 0; i < 2; i++) {
        struct err_info fei;
        err_info_clear(&fei);
        enum err e = cfg->calib_source
                         ? cfg->calib_source->find(cfg->calib_source->ud, types[i], raw_path,
                                                   paths[i], sizeof paths[i], ids[i],
                                                   sizeof ids[i], &fei)
                         : err_set(&fei, ERR_NOT_FOUND, "no calibration collections configured");
        if (e == ERR_OK) {
            have[i] = true;
            proc_log(log, "INFO", "reference %s = %s (registry dataset %s)", types[i], paths[i],
                     ids[i]);
            continue;
        }
        if (e == ERR_CONFLICT || (e != ERR_NOT_FOUND && e != ERR_UNAVAILABLE)) {
            /* ambiguous or refused: never skipped */
            proc_log(log, "ERROR", "reference %s: %s", types[i], fei.msg);
            return err_set(ei, ERR_INVALID, "%s: %s", types[i], fei.msg);
        }
        if (e == ERR_NOT_FOUND && cfg->missing_reference == PIPELINE_MISSING_REF_SKIP) {
            proc_log(log, "WARNING", "reference %s is not available (%s): skipped "
                     "(missing references are skipped by configuration)", types[i], fei.msg);
            continue;
        }
        proc_log(log, "ERROR", "reference %s is needed and not available: %s", types[i],
                 fei.msg);
        size_t len = strlen(missing);
        snprintf(missing + len, sizeof missing - len, "%s%s (%s)", len ? ", " : "", types[i],
                 fei.msg);
        if (miss != ERR_UNAVAILABLE) {
            miss = e;
        }
    }
    if (missing[0]) {
        return err_set(ei, miss == ERR_UNAVAILABLE ? ERR_UNAVAILABLE : ERR_NOT_FOUND,
                       "missing reference %s", missing);
    }
    struct calib_plan plan;
    plan_of(cfg->ccd, &plan);
    struct calib_ref_paths refs = {have[0] ? paths[0] : NULL, NULL, have[1] ? paths[1] : NULL,
                                   NULL};
    struct calib_record *rec = calloc(1, sizeof *rec);
    if (!rec) {
        *xcode = PROC_CALDP_MEMORY_ERROR;
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    *xcode = PROC_STAGE1_ERROR;
    enum err e = calib_run_file(raw_path, NULL, &plan, &refs, out_path, NULL, 0, rec, ei);
    free(rec);
    if (e == ERR_NOMEM) {
        *xcode = PROC_CALDP_MEMORY_ERROR;
    }
    if (e != ERR_OK) {
        return e;
    }
    for (int i = 0; i < 2; i++) {
        if (have[i]) {
            ref_used(res, types[i], ids[i]);
        }
    }
    *xcode = PROC_SUCCESS;
    return ERR_OK;
}

enum err pipeline_combine(const struct pipeline_combine_request *req, struct err_info *ei)
{
    char(*pre)[PROC_PATH_MAX] = calloc(req->n ? req->n : 1, sizeof *pre);
    const char **list = calloc(req->n ? req->n : 1, sizeof *list);
    struct calib_record *rec = calloc(1, sizeof *rec);
    size_t made = 0;
    enum err e = ERR_OK;
    if (!pre || !list || !rec) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    if (req->n == 0 || req->n > CALIB_MAX_INPUTS) {
        e = err_set(ei, ERR_INVALID, "a master needs 1 to %d frames, not %zu", CALIB_MAX_INPUTS,
                    req->n);
        goto out;
    }
    /* each frame through the profile's plan (overscan, trim; flats: the master bias), no gain:
     * masters stay in ADU as ccdproc's recipe makes them */
    struct calib_plan plan;
    plan_of(req->ccd, &plan);
    plan.has_gain = plan.has_readnoise = false;
    struct calib_ref_paths refs = {req->bias, NULL, NULL, NULL};
    for (size_t i = 0; i < req->n && e == ERR_OK; i++) {
        if (req->cancelled && req->cancelled(req->ud)) {
            e = err_set(ei, ERR_CANCELLED, "cancelled");
            break;
        }
        const char *b = strrchr(req->inputs[i], '/');
        if (snprintf(pre[i], sizeof pre[i], "%s/%s", req->work_dir, b ? b + 1 : req->inputs[i]) >=
            (int)sizeof pre[i]) {
            e = err_set(ei, ERR_TOO_LARGE, "scratch path too long");
            break;
        }
        memset(rec, 0, sizeof *rec);
        e = calib_run_file(req->inputs[i], NULL, &plan, &refs, pre[i], NULL, 0, rec, ei);
        if (e != ERR_OK) {
            err_prefix(ei, "%s: ", b ? b + 1 : req->inputs[i]);
            break;
        }
        list[i] = pre[i];
        made++;
    }
    if (e == ERR_OK) {
        struct calib_combine_opts o;
        struct calib_combine_stats st;
        memset(&o, 0, sizeof o);
        o.method = req->method;
        o.mode = plan.mode;
        o.sigma_clip = req->sigma_clip;
        o.sigma_low = req->sigma_low;
        o.sigma_high = req->sigma_high;
        e = calib_combine_files(list, req->n, req->out_path, &o, &st, ei);
    }
out:
    for (size_t i = 0; pre && i < made; i++) {
        unlink(pre[i]);
    }
    free(pre);
    free(list);
    free(rec);
    return e;
}
