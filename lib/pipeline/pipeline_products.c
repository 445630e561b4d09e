/* pipeline_products.c - products validated before they are published (issue 8 item 9), as
 * Roman's data models validate every file they write: each file calibration made (a file of
 * the outputs that is not a copy of an input) is checked with lib/expect against the
 * expectation <instrument>/<suffix> (config/expectations/acs_flt.yaml, ...) and against the
 * raw it was made from (<root>_raw.fits: imsets, shapes, carried keywords). Every violation of
 * every product is reported together: one ERROR line each in process.txt, the reports in
 * logs/validation.json, and one reason naming them (as many as fit; the count always).
 * SPDX-License-Identifier: Apache-2.0 */
#include "pipeline_int.h"

#include "core/str.h"
#include "expect/expect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The part of the reason that lists violations: whole items only, so that the reason (with
 * the count before it and the caller's prefix) stays one line of at most ERR_INFO_MSG_MAX. */
#define PRODUCTS_LIST_MAX 320

struct vlist {
    char text[PRODUCTS_LIST_MAX];
    size_t listed; /* violations named in text */
    bool full;     /* one did not fit: the rest are only counted */
};

/* Lines of one product's report: every violation in process.txt, in the list what fits (the
 * product's name before its first). Returns the number of violations. */
static size_t report_lines(const json_t *rep, const char *name, struct proc_log *log,
                           struct vlist *vl)
{
    size_t i, n = 0;
    json_t *v;
    json_array_foreach(json_object_get(rep, "violations"), i, v) {
        char item[1200];
        const char *path = json_string_value(json_object_get(v, "path"));
        const char *rule = json_string_value(json_object_get(v, "rule"));
        const char *exp = json_string_value(json_object_get(v, "expected"));
        const char *found = json_string_value(json_object_get(v, "found"));
        snprintf(item, sizeof item, "%s %s: expected %s, found %s", path ? path : "",
                 rule ? rule : "", exp ? exp : "", found ? found : "");
        proc_log(log, "ERROR", "product %s: %s", name, item);
        n++;
        if (vl->full) {
            continue;
        }
        size_t len = strlen(vl->text);
        int w = snprintf(vl->text + len, sizeof vl->text - len, "%s%s%s%s",
                         len ? "; " : "", i == 0 ? name : "", i == 0 ? ": " : "", item);
        if (w < 0 || (size_t)w >= sizeof vl->text - len) {
            vl->text[len] = '\0';
            vl->full = true;
            continue;
        }
        vl->listed++;
    }
    return n;
}

enum err proc_check_products(const struct proc_products_ctx *cx, int *xcode,
                             struct err_info *ei)
{
    char dir[PROC_PATH_MAX];
    struct expect_set *set = NULL;
    char *names[PROC_FILES_MAX];
    size_t n = 0;
    size_t checked = 0, bad_files = 0, nviol = 0;
    struct vlist vl;
    json_t *reports = NULL;
    enum err rc;
    *xcode = PROC_GENERIC_ERROR;
    memset(&vl, 0, sizeof vl);
    rc = proc_join(dir, sizeof dir, cx->config_dir, "expectations", ei);
    if (rc != ERR_OK) {
        goto out;
    }
    if (cx->config_dir[0] == '\0' || access(dir, F_OK) != 0) {
        proc_log(cx->log, "WARNING", "no expectations directory %s: products not validated",
                 dir);
        *xcode = PROC_SUCCESS;
        goto out;
    }
    rc = expect_set_load_dir(dir, &set, ei);
    if (rc != ERR_OK) {
        err_prefix(ei, "cannot load expectations: ");
        goto out;
    }
    reports = json_array();
    if (!reports) {
        rc = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = proc_list_dir(cx->out_dir, "", ".fits", names, PROC_FILES_MAX, &n, ei);
    if (rc != ERR_OK) {
        goto out;
    }
    *xcode = PROC_STAGE1_ERROR;
    for (size_t i = 0; i < n; i++) {
        char p[PROC_PATH_MAX], in[PROC_PATH_MAX], raw[PROC_PATH_MAX];
        if (proc_cancelled(cx->hooks)) {
            rc = err_set(ei, ERR_CANCELLED, "cancelled while checking products");
            goto out;
        }
        rc = proc_join(in, sizeof in, cx->in_dir, names[i], ei);
        if (rc == ERR_OK) {
            rc = proc_join(p, sizeof p, cx->out_dir, names[i], ei);
        }
        if (rc != ERR_OK) {
            goto out;
        }
        if (access(in, F_OK) == 0) {
            continue; /* a copy of an input, checked at intake */
        }
        /* <root>_<suffix>.fits: expectation <instrument>/<suffix>, made from <root>_raw.fits */
        const char *us = strrchr(names[i], '_');
        size_t base = strlen(names[i]) - strlen(".fits");
        char suffix[32];
        if (!us || (size_t)(us - names[i]) >= base || base - (size_t)(us - names[i]) - 1 >=
                                                          sizeof suffix) {
            proc_log(cx->log, "WARNING", "product %s not validated: no <root>_<suffix> name",
                     names[i]);
            continue;
        }
        snprintf(suffix, sizeof suffix, "%.*s", (int)(base - (size_t)(us - names[i]) - 1),
                 us + 1);
        const struct expect *e = expect_set_find(set, cx->instrument, suffix);
        if (!e) {
            proc_log(cx->log, "WARNING", "product %s not validated: no expectation %s/%s",
                     names[i], cx->instrument, suffix);
            continue;
        }
        snprintf(raw, sizeof raw, "%s/%.*s_raw.fits", cx->in_dir, (int)(us - names[i]),
                 names[i]);
        struct expect_header *h = NULL, *rh = NULL;
        json_t *rep = NULL;
        rc = expect_header_from_fits(p, &h, ei);
        if (rc == ERR_OK && access(raw, F_OK) == 0) {
            rc = expect_header_from_fits(raw, &rh, ei);
        }
        if (rc == ERR_OK) {
            rc = expect_validate_input(e, h, rh, names[i], &rep, ei);
        }
        expect_header_destroy(h);
        expect_header_destroy(rh);
        checked++;
        if (rc == ERR_INVALID && rep) {
            bad_files++;
            nviol += report_lines(rep, names[i], cx->log, &vl);
            if (json_array_append_new(reports, rep) != 0) {
                proc_log(cx->log, "WARNING", "out of memory: no validation report of %s",
                         names[i]);
            }
            rc = ERR_OK;
            continue;
        }
        if (rc != ERR_OK) {
            if (rc == ERR_NOMEM) {
                *xcode = PROC_CALDP_MEMORY_ERROR;
            }
            err_prefix(ei, "product %s unreadable: ", names[i]);
            goto out;
        }
        proc_log(cx->log, "INFO", "product %s meets %s", names[i], expect_id(e));
    }
    if (nviol == 0) {
        *xcode = PROC_SUCCESS;
        goto out;
    }
    char vp[PROC_PATH_MAX];
    char *text = json_dumps(reports, JSON_INDENT(2));
    struct err_info ign;
    if (text && proc_join(vp, sizeof vp, cx->logs_dir, "validation.json", &ign) == ERR_OK &&
        proc_write_text(vp, text, &ign) == ERR_OK) {
        proc_log(cx->log, "ERROR", "validation report written to %s", vp);
    }
    free(text);
    /* the reason: the count, then every violation that fits */
    char more[96] = "";
    if (vl.listed < nviol) {
        snprintf(more, sizeof more, " (%zu named here, all in logs/validation.json)", vl.listed);
    }
    rc = err_set(ei, ERR_INVALID, "%zu violation%s in %zu of %zu product%s%s: %s", nviol,
                 nviol == 1 ? "" : "s", bad_files, checked, checked == 1 ? "" : "s", more,
                 vl.text);
out:
    json_decref(reports);
    proc_free_names(names, n);
    expect_set_destroy(set);
    return rc;
}
