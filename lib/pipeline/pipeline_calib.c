/* pipeline_calib.c - stage 1 of lib/pipeline for CCD raw files: reference resolution
 * (IRAF-style "jref$file" through the run's variables or the config's references/hst tree, or a
 * CRDS-style catalog; what is not local comes from the reference store; a needed reference that
 * is nowhere fails with BESTREFS_ERROR unless the policy skips it), then lib/calib's chain per imset (DQ init, overscan, trim, bias, gain,
 * ERR, dark, flat) and a SCI/ERR/DQ product per raw file.
 * SPDX-License-Identifier: Apache-2.0 */
#include "pipeline_calib.h"

#include "calib/calib.h"
#include "core/str.h"
#include "fits/fits_image.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define PROC_IMSETS_MAX 16 /* imsets calibrated in one raw file */

/* Detector facts that calacs reads from CCDTAB/OSCNTAB, used when those tables are absent:
 * the size of the illuminated area (trimmed image) and a typical read noise. */
struct detector {
    const char *instrument;
    const char *detector;
    int64_t nx, ny;
    double readnoise; /* e- */
};

static const struct detector detectors[] = {
    {"acs", "HRC", 1024, 1024, 4.7},  {"acs", "WFC", 4096, 2048, 4.2},
    {"wfc3", "UVIS", 4096, 2051, 3.1}, {"stis", "CCD", 1024, 1024, 5.4},
};

static const struct detector *find_detector(const char *instr, const char *det)
{
    for (size_t i = 0; i < sizeof detectors / sizeof detectors[0]; i++) {
        if (strcasecmp(detectors[i].instrument, instr) == 0 &&
            strcasecmp(detectors[i].detector, det) == 0) {
            return &detectors[i];
        }
    }
    return NULL;
}

static bool file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* IRAF-style directory variable of an HST instrument (CALDP's config exports these). */
static const char *iraf_var(const char *instrument)
{
    static const char *const map[][2] = {{"acs", "jref"},  {"wfc3", "iref"},  {"stis", "oref"},
                                         {"cos", "lref"},  {"wfpc2", "uref"}, {"nicmos", "nref"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(map[i][0], instrument) == 0) {
            return map[i][1];
        }
    }
    return NULL;
}

/* Resolve a reference keyword value: "N/A" or "" -> not applicable; "jref$x.fits" -> $jref/x
 * (the run's variables: CALDP's config exports jref/iref/oref...), else <config>/references/hst/x, else
 * <config>/references/hst/<instrument>/x. A bare file name (as a catalog gives) is looked up
 * the same way under the instrument's variable; a name with a "/" is a path. */
static bool resolve_ref(const struct proc_calib_ctx *cx, const char *value, char *out, size_t cap,
                        bool *na)
{
    *na = false;
    out[0] = '\0';
    if (!value[0] || strcasecmp(value, "N/A") == 0 || strcasecmp(value, "NONE") == 0) {
        *na = true;
        return false;
    }
    const char *dollar = strchr(value, '$');
    const char *name = dollar ? dollar + 1 : value;
    if (dollar || !strchr(value, '/')) {
        char var[16] = "";
        size_t n = dollar ? (size_t)(dollar - value) : 0;
        if (dollar && n > 0 && n < sizeof var) {
            memcpy(var, value, n);
            var[n] = '\0';
        } else if (!dollar && iraf_var(cx->instrument)) {
            str_copy(var, sizeof var, iraf_var(cx->instrument));
        }
        if (var[0]) {
            const char *dir = cx->lookup ? cx->lookup(cx->lookup_ud, var) : NULL;
            if (dir && *dir) {
                snprintf(out, cap, "%s/%s", dir, name);
                if (file_exists(out)) {
                    return true;
                }
            }
        }
    } else if (file_exists(value)) {
        str_copy(out, cap, value);
        return true;
    }
    if (cx->config_dir[0]) {
        snprintf(out, cap, "%s/references/hst/%s", cx->config_dir, name);
        if (file_exists(out)) {
            return true;
        }
        snprintf(out, cap, "%s/references/hst/%s/%s", cx->config_dir, cx->instrument, name);
        if (file_exists(out)) {
            return true;
        }
    }
    str_copy(out, cap, value);
    return false;
}

static void key_str(struct fitsimg *f, const char *k, char *out, size_t cap)
{
    if (fitsimg_key_str(f, k, out, cap, NULL) != ERR_OK) {
        out[0] = '\0';
    }
    /* trim trailing blanks */
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == ' ') {
        out[--n] = '\0';
    }
}

static double key_num(struct fitsimg *f, const char *k, double dflt)
{
    double v;
    return fitsimg_key_double(f, k, &v, NULL) == ERR_OK ? v : dflt;
}

/* Header lookup for the reference catalog: primary keywords of the raw file. */
struct hdr_lookup {
    struct fitsimg *f;
    char buf[8][128];
    int next;
};

static const char *hdr_get(const char *key, void *arg)
{
    struct hdr_lookup *h = arg;
    char *b = h->buf[h->next];
    h->next = (h->next + 1) % 8;
    if (fitsimg_key_str(h->f, key, b, sizeof h->buf[0], NULL) != ERR_OK) {
        return NULL;
    }
    return b;
}

/* The references of one raw file. */
struct refs {
    char bpix[PROC_PATH_MAX], bias[PROC_PATH_MAX], dark[PROC_PATH_MAX], flat[PROC_PATH_MAX];
    bool have_bpix, have_bias, have_dark, have_flat;
    struct refstore_pin *pins[4]; /* those fetched through the reference store, held in use */
};

static void refs_release(struct refs *r)
{
    for (size_t i = 0; i < 4; i++) {
        refstore_unpin(r->pins[i]);
        r->pins[i] = NULL;
    }
}

struct ref_kw {
    const char *keyword;  /* header keyword */
    const char *type;     /* catalog type */
    const char *sw;       /* calibration switch */
};

static const struct ref_kw ref_kws[] = {
    {"BPIXTAB", "bpixtab", "DQICORR"},
    {"BIASFILE", "biasfile", "BIASCORR"},
    {"DARKFILE", "darkfile", "DARKCORR"},
    {"PFLTFILE", "pfltfile", "FLATCORR"},
};

/* The file name of a reference value: "jref$x.fits" -> "x.fits", "/a/b/x.fits" -> "x.fits". */
static const char *ref_base(const char *value)
{
    const char *d = strrchr(value, '$');
    const char *b = d ? d + 1 : value;
    const char *s = strrchr(b, '/');
    return s ? s + 1 : b;
}

struct cancel_ud {
    const struct pipeline_hooks *hooks;
};

static bool run_cancelled(void *ud)
{
    const struct cancel_ud *c = ud;
    return proc_cancelled(c->hooks);
}

/* A reference not found locally: ask the reference store (with the catalog's digest); a
 * cancellation of the run stops the download or the wait for it. */
static bool fetch_ref(const struct proc_calib_ctx *cx, const struct calib_refcat *cat,
                      const char *value, char *path, struct refstore_pin **pin, char *why,
                      size_t cap, enum err *why_code)
{
    *why_code = ERR_NOT_FOUND;
    if (!cx->refstore) {
        snprintf(why, cap, "not found locally and no reference store is configured");
        return false;
    }
    const char *name = ref_base(value);
    struct err_info rei;
    struct cancel_ud cu = {.hooks = cx->hooks};
    struct refstore_cancel cancel = {.fn = run_cancelled, .ud = &cu};
    err_info_clear(&rei);
    enum err e = refstore_get(cx->refstore, cx->instrument, name,
                              cat ? calib_refcat_checksum(cat, name) : NULL, &cancel, pin, &rei);
    if (e == ERR_CANCELLED) {
        snprintf(why, cap, "%s", rei.msg);
        *why_code = ERR_CANCELLED;
        return false;
    }
    if (e != ERR_OK) {
        snprintf(why, cap, "%s", rei.msg);
        /* the store unreachable, timing out or failing (5xx): another attempt may do */
        bool down = e == ERR_UNAVAILABLE || e == ERR_TIMEOUT || e == ERR_HTTP ||
                    e == ERR_STORAGE;
        *why_code = down ? ERR_UNAVAILABLE : ERR_NOT_FOUND;
        return false;
    }
    str_copy(path, PROC_PATH_MAX, refstore_pin_path(*pin));
    return true;
}

/* Bestrefs: a catalog (when the config has one for the instrument) overrides the header's
 * *FILE keywords as CRDS bestrefs does; then each reference is resolved to a local file, or
 * fetched through the reference store. A needed reference that is nowhere fails the file
 * (BESTREFS_ERROR) unless the policy is to skip it. */
static enum err best_refs(const struct proc_calib_ctx *cx, struct fitsimg *raw, struct refs *r,
                          struct proc_log *log, int *xcode, struct err_info *ei)
{
    char catpath[PROC_PATH_MAX];
    char values[4][PROC_PATH_MAX];
    char missing[PROC_REASON_MAX] = "", first_why[ERR_INFO_MSG_MAX] = "";
    size_t nmissing = 0;
    enum err miss_code = ERR_NOT_FOUND; /* ERR_UNAVAILABLE when the store was down for one */
    struct calib_refcat *cat = NULL;
    enum err rc = ERR_OK;
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < 4; i++) {
        key_str(raw, ref_kws[i].keyword, values[i], sizeof values[i]);
    }
    if (cx->refcat[0]) {
        snprintf(catpath, sizeof catpath, "%s/references/%s", cx->config_dir, cx->refcat);
        if (!file_exists(catpath)) {
            *xcode = PROC_BESTREFS_ERROR;
            return err_set(ei, ERR_NOT_FOUND, "reference catalog %s not found", catpath);
        }
    } else {
        snprintf(catpath, sizeof catpath, "%s/references/%s.yaml", cx->config_dir,
                 cx->instrument);
    }
    if (cx->config_dir[0] && file_exists(catpath)) {
        rc = calib_refcat_load(catpath, &cat, ei);
        if (rc != ERR_OK) {
            *xcode = PROC_BESTREFS_ERROR;
            return rc;
        }
        char dobs[80], tobs[80], when[20];
        key_str(raw, "DATE-OBS", dobs, sizeof dobs);
        key_str(raw, "TIME-OBS", tobs, sizeof tobs);
        rc = calib_refcat_date(dobs, tobs, when, ei);
        if (rc != ERR_OK) {
            *xcode = PROC_BESTREFS_ERROR;
            goto out;
        }
        for (size_t i = 0; i < 4; i++) {
            struct calib_refsel sel;
            struct hdr_lookup hl = {.f = raw, .next = 0};
            if (!calib_refcat_parkeys(cat, ref_kws[i].type)) {
                continue; /* the catalog does not cover this type */
            }
            rc = calib_refcat_select(cat, ref_kws[i].type, hdr_get, &hl, when, &sel, ei);
            if (rc != ERR_OK) {
                *xcode = PROC_BESTREFS_ERROR;
                goto out;
            }
            proc_log(log, "INFO", "bestrefs %s = %s (useafter %s, weight %d)", ref_kws[i].type,
                     sel.file, sel.useafter[0] ? sel.useafter : "-", sel.weight);
            str_copy(values[i], sizeof values[i], sel.not_applicable ? "N/A" : sel.file);
        }
    }

    char *paths[4] = {r->bpix, r->bias, r->dark, r->flat};
    bool *have[4] = {&r->have_bpix, &r->have_bias, &r->have_dark, &r->have_flat};
    for (size_t i = 0; i < 4; i++) {
        bool na;
        char why[ERR_INFO_MSG_MAX];
        *have[i] = resolve_ref(cx, values[i], paths[i], PROC_PATH_MAX, &na);
        if (na) {
            continue;
        }
        if (*have[i]) {
            proc_log(log, "INFO", "reference %s = %s", ref_kws[i].keyword, paths[i]);
            continue;
        }
        enum err why_code;
        *have[i] = fetch_ref(cx, cat, values[i], paths[i], &r->pins[i], why, sizeof why,
                             &why_code);
        if (!*have[i] && why_code == ERR_CANCELLED) {
            rc = err_set(ei, ERR_CANCELLED, "%s", why);
            refs_release(r);
            goto out;
        }
        if (*have[i]) {
            proc_log(log, "INFO", "reference %s = %s (from %s)", ref_kws[i].keyword, paths[i],
                     refstore_uri(cx->refstore));
            continue;
        }
        /* the switch says whether the step, hence the reference, is needed (no switch: it is) */
        char sw[72];
        key_str(raw, ref_kws[i].sw, sw, sizeof sw);
        bool needed = !sw[0] || strcasecmp(sw, "PERFORM") == 0;
        if (!needed || cx->missing == PIPELINE_MISSING_REF_SKIP) {
            /* without its table the DQ step still flags A-to-D saturation: DQICORR stays
             * COMPLETE, only the table's bad pixels are left out */
            bool dq = strcmp(ref_kws[i].sw, "DQICORR") == 0;
            proc_log(log, "WARNING", "reference %s \"%s\" is not available (%s): %s%s",
                     ref_kws[i].keyword, values[i], why,
                     dq ? "its bad pixels are not flagged (DQICORR stays COMPLETE: saturation "
                          "is still flagged)"
                        : ref_kws[i].sw,
                     dq ? (needed ? " (missing references are skipped by configuration)" : "")
                        : (needed ? " skipped (missing references are skipped by configuration)"
                                  : " skipped"));
            continue;
        }
        proc_log(log, "ERROR", "reference %s \"%s\" is needed (%s=%s) and not available: %s",
                 ref_kws[i].keyword, values[i], ref_kws[i].sw, sw[0] ? sw : "absent", why);
        size_t len = strlen(missing);
        snprintf(missing + len, sizeof missing - len, "%s%s %s", nmissing ? ", " : "",
                 ref_kws[i].keyword, values[i]);
        if (!nmissing) {
            str_copy(first_why, sizeof first_why, why);
        }
        if (why_code == ERR_UNAVAILABLE) {
            miss_code = ERR_UNAVAILABLE;
        }
        nmissing++;
    }
    if (nmissing) {
        *xcode = PROC_BESTREFS_ERROR;
        rc = err_set(ei, miss_code, "missing reference%s %s (%s)", nmissing > 1 ? "s" : "",
                     missing, first_why);
        refs_release(r);
    }
out:
    calib_refcat_destroy(cat);
    return rc;
}

static int count_imsets(struct fitsimg *f)
{
    int n = 0;
    while (n < PROC_IMSETS_MAX && fitsimg_select_name(f, "SCI", n + 1, NULL) == ERR_OK) {
        n++;
    }
    return n;
}

/* Data statistics of the calibrated SCI (calacs doStat): the raw header's values no longer
 * apply, and readers such as fitscut --badpix use GOODMIN/GOODMAX. */
static enum err write_stats(struct fitsimg_writer *w, const struct calib_frame *fr,
                            struct err_info *ei)
{
    double dmin = INFINITY, dmax = -INFINITY, gmin = INFINITY, gmax = -INFINITY, sum = 0.0;
    int64_t ngood = 0;
    size_t n = (size_t)fr->nx * (size_t)fr->ny;
    for (size_t i = 0; i < n; i++) {
        double v = fr->sci[i];
        if (!isfinite(v)) {
            continue;
        }
        dmin = v < dmin ? v : dmin;
        dmax = v > dmax ? v : dmax;
        if (fr->dq[i] == 0) {
            gmin = v < gmin ? v : gmin;
            gmax = v > gmax ? v : gmax;
            sum += v;
            ngood++;
        }
    }
    enum err rc = fitsimg_writer_key_int(w, "NGOODPIX", ngood, "number of good pixels", ei);
    if (ngood == 0) {
        gmin = gmax = 0.0;
    }
    if (!isfinite(dmin)) {
        dmin = dmax = 0.0;
    }
    if (rc == ERR_OK) {
        rc = fitsimg_writer_key_double(w, "GOODMIN", gmin, "minimum value of good pixels", ei);
    }
    if (rc == ERR_OK) {
        rc = fitsimg_writer_key_double(w, "GOODMAX", gmax, "maximum value of good pixels", ei);
    }
    if (rc == ERR_OK) {
        rc = fitsimg_writer_key_double(w, "GOODMEAN", ngood ? sum / (double)ngood : 0.0,
                                       "mean value of good pixels", ei);
    }
    if (rc == ERR_OK) {
        rc = fitsimg_writer_key_double(w, "DATAMIN", dmin, "the minimum value of the data", ei);
    }
    if (rc == ERR_OK) {
        rc = fitsimg_writer_key_double(w, "DATAMAX", dmax, "the maximum value of the data", ei);
    }
    return rc;
}

static enum err write_plane(struct fitsimg_writer *w, const char *name, int ver,
                            enum fitsimg_type type, const struct calib_frame *fr,
                            enum fitsimg_type memtype, const void *data, struct fitsimg *raw,
                            const struct calib_section *trim, struct err_info *ei)
{
    enum err rc = fitsimg_writer_add_image(w, name, ver, type, fr->nx, fr->ny, NULL, ei);
    if (rc != ERR_OK) {
        return rc;
    }
    if (raw && fitsimg_select_name(raw, name, ver, NULL) == ERR_OK) {
        rc = fitsimg_writer_copy_keys(w, raw, ei);
        if (rc != ERR_OK) {
            return rc;
        }
        if (trim) {
            /* the physical/WCS reference pixel moves with the trim */
            double v;
            if (fitsimg_key_double(raw, "LTV1", &v, NULL) == ERR_OK) {
                rc = fitsimg_writer_key_double(w, "LTV1", v - (double)trim->x0, NULL, ei);
            }
            if (rc == ERR_OK && fitsimg_key_double(raw, "LTV2", &v, NULL) == ERR_OK) {
                rc = fitsimg_writer_key_double(w, "LTV2", v - (double)trim->y0, NULL, ei);
            }
            if (rc == ERR_OK && fitsimg_key_double(raw, "CRPIX1", &v, NULL) == ERR_OK) {
                rc = fitsimg_writer_key_double(w, "CRPIX1", v - (double)trim->x0, NULL, ei);
            }
            if (rc == ERR_OK && fitsimg_key_double(raw, "CRPIX2", &v, NULL) == ERR_OK) {
                rc = fitsimg_writer_key_double(w, "CRPIX2", v - (double)trim->y0, NULL, ei);
            }
            if (rc != ERR_OK) {
                return rc;
            }
        }
    }
    if (strcmp(name, "SCI") == 0) {
        rc = write_stats(w, fr, ei);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    if (strcmp(name, "DQ") != 0) {
        rc = fitsimg_writer_key_str(w, "BUNIT", fr->bunit[0] ? fr->bunit : "ELECTRONS", NULL, ei);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    return fitsimg_writer_write_rows(w, 0, fr->ny, memtype, data, ei);
}

static enum err write_record(struct fitsimg_writer *w, const struct calib_record *rec,
                             struct err_info *ei)
{
    enum err rc = ERR_OK;
    for (int i = 0; i < rec->nkeys && rc == ERR_OK; i++) {
        const char *c = rec->keys[i].comment[0] ? rec->keys[i].comment : NULL;
        if (rec->keys[i].is_num) {
            rc = fitsimg_writer_key_double(w, rec->keys[i].name, rec->keys[i].num, c, ei);
        } else {
            rc = fitsimg_writer_key_str(w, rec->keys[i].name, rec->keys[i].str, c, ei);
        }
    }
    for (int i = 0; i < rec->nhistory && rc == ERR_OK; i++) {
        rc = fitsimg_writer_history(w, rec->history[i], ei);
    }
    return rc;
}

static enum err load_ref_frame(const char *path, struct calib_frame *fr, bool *have,
                               struct err_info *ei)
{
    if (!*have) {
        return ERR_OK;
    }
    enum err rc = calib_frame_read(path, NULL, fr, ei);
    if (rc != ERR_OK) {
        err_prefix(ei, "reference \"%s\": ", path);
    }
    return rc;
}

enum err proc_calibrate_raw(const struct proc_calib_ctx *cx, const char *raw_path,
                            const char *out_path, struct proc_log *log, int *xcode,
                            struct err_info *ei)
{
    struct fitsimg *raw = NULL;
    struct fitsimg_writer *w = NULL;
    struct calib_frame fr[PROC_IMSETS_MAX];
    struct calib_frame bias, dark, flat;
    struct calib_bpix *bpix = NULL;
    size_t nbpix = 0;
    struct refs refs;
    char det[72], ccdamp[72], sect_o[CALIB_SECTION_MAX], sect_t[CALIB_SECTION_MAX];
    int nimsets = 0;
    enum err rc;
    memset(fr, 0, sizeof fr);
    memset(&bias, 0, sizeof bias);
    memset(&dark, 0, sizeof dark);
    memset(&flat, 0, sizeof flat);
    memset(&refs, 0, sizeof refs);
    *xcode = PROC_STAGE1_ERROR;

    rc = fitsimg_open(raw_path, &raw, ei);
    if (rc != ERR_OK) {
        goto out;
    }
    key_str(raw, "DETECTOR", det, sizeof det);
    key_str(raw, "CCDAMP", ccdamp, sizeof ccdamp);
    double ccdgain = key_num(raw, "CCDGAIN", 1.0);
    rc = best_refs(cx, raw, &refs, log, xcode, ei);
    if (rc != ERR_OK) {
        goto out;
    }
    *xcode = PROC_STAGE1_ERROR;
    nimsets = count_imsets(raw);
    if (nimsets == 0) {
        rc = err_set(ei, ERR_FITS, "file \"%s\" has no SCI extension", raw_path);
        goto out;
    }
    rc = load_ref_frame(refs.bias, &bias, &refs.have_bias, ei);
    if (rc == ERR_OK) {
        rc = load_ref_frame(refs.dark, &dark, &refs.have_dark, ei);
    }
    if (rc == ERR_OK) {
        rc = load_ref_frame(refs.flat, &flat, &refs.have_flat, ei);
    }
    if (rc != ERR_OK) {
        goto out;
    }
    rc = fitsimg_writer_create(out_path, &w, ei);
    if (rc != ERR_OK) {
        goto out;
    }
    rc = fitsimg_select(raw, 0, ei);
    if (rc == ERR_OK) {
        rc = fitsimg_writer_copy_keys(w, raw, ei);
    }
    if (rc != ERR_OK) {
        goto out;
    }
    const struct detector *dd = find_detector(cx->instrument, det);
    /* read noise of the amplifier: READNSEx (filled in by calibrated headers; 0 in raw files) */
    char rnkey[16];
    snprintf(rnkey, sizeof rnkey, "READNSE%c", ccdamp[0] ? ccdamp[0] : 'A');
    double rn_primary = key_num(raw, rnkey, 0.0);
    struct calib_section trim_sec;
    bool trimmed = false;
    for (int v = 1; v <= nimsets; v++) {
        struct calib_frame *f = &fr[v - 1];
        if (proc_cancelled(cx->hooks)) {
            rc = err_set(ei, ERR_CANCELLED, "cancelled while calibrating \"%s\"", raw_path);
            goto out;
        }
        struct calib_plan plan;
        struct calib_record rec;
        char spec[16];
        memset(&plan, 0, sizeof plan);
        memset(&rec, 0, sizeof rec);
        snprintf(spec, sizeof spec, "SCI,%d", v);
        rc = calib_frame_read(raw_path, spec, f, ei);
        if (rc != ERR_OK) {
            goto out;
        }
        rc = fitsimg_select_name(raw, "SCI", v, ei);
        if (rc != ERR_OK) {
            goto out;
        }
        double ltv1 = key_num(raw, "LTV1", 0.0);
        double ltv2 = key_num(raw, "LTV2", 0.0);
        int64_t x0 = (int64_t)floor(ltv1 + 0.5);
        int64_t y0 = (int64_t)floor(ltv2 + 0.5);
        if (x0 < 0 || x0 >= f->nx || y0 < 0 || y0 >= f->ny) {
            x0 = 0;
            y0 = 0;
        }
        int64_t dx = dd ? dd->nx : f->nx - x0;
        int64_t dy = dd ? dd->ny : f->ny - y0;
        if (x0 + dx > f->nx) {
            dx = f->nx - x0;
        }
        if (y0 + dy > f->ny) {
            dy = f->ny - y0;
        }
        plan.mode = CALIB_MODE_DEFAULT;
        if (x0 >= 2) {
            /* the physical prescan columns in front of the illuminated area (calacs BIASSECT) */
            snprintf(sect_o, sizeof sect_o, "[1:%lld,1:%lld]", (long long)x0, (long long)f->ny);
            plan.overscan = sect_o;
            plan.oscan_stat = CALIB_OSCAN_MEDIAN;
            plan.oscan_fit = true;
        }
        if (dx != f->nx || dy != f->ny) {
            snprintf(sect_t, sizeof sect_t, "[%lld:%lld,%lld:%lld]", (long long)(x0 + 1),
                     (long long)(x0 + dx), (long long)(y0 + 1), (long long)(y0 + dy));
            plan.trim = sect_t;
            rc = calib_section_parse(sect_t, f->nx, f->ny, &trim_sec, ei);
            if (rc != ERR_OK) {
                goto out;
            }
            trimmed = true;
        }
        if (ccdgain > 0) {
            plan.has_gain = true;
            plan.gain = ccdgain;
        }
        double rn = key_num(raw, rnkey, rn_primary);
        if (!(rn > 0) && dd) {
            rn = dd->readnoise;
        }
        if (rn > 0) {
            plan.has_readnoise = true;
            plan.readnoise = rn;
        }
        plan.atodsat = 65535.0;
        if (refs.have_bpix) {
            free(bpix);
            bpix = NULL;
            rc = calib_bpix_read(refs.bpix, ccdamp, ccdgain, ltv1, ltv2, &bpix, &nbpix, ei);
            if (rc != ERR_OK) {
                goto out;
            }
            plan.bpix = bpix;
            plan.nbpix = nbpix;
            plan.bpix_name = refs.bpix;
        }
        plan.bias = refs.have_bias ? &bias : NULL;
        plan.dark = refs.have_dark ? &dark : NULL;
        plan.flat = refs.have_flat ? &flat : NULL;
        plan.dark_scale = true;
        int64_t raw_nx = f->nx, raw_ny = f->ny;
        rc = calib_run(f, &plan, &rec, ei);
        if (rc != ERR_OK) {
            err_prefix(ei, "file \"%s\" imset %d: ", raw_path, v);
            if (rc == ERR_NOMEM) {
                *xcode = PROC_CALDP_MEMORY_ERROR;
            }
            goto out;
        }
        proc_log(log, "INFO",
                 "%s imset %d: %lldx%lld -> %lldx%lld, overscan %s, trim %s, gain %g, read noise "
                 "%g, bias %s, dark %s, flat %s",
                 raw_path, v, (long long)raw_nx, (long long)raw_ny, (long long)f->nx,
                 (long long)f->ny, plan.overscan ? plan.overscan : "none",
                 plan.trim ? plan.trim : "none", plan.gain, plan.readnoise,
                 plan.bias ? "yes" : "skipped", plan.dark ? "yes" : "skipped",
                 plan.flat ? "yes" : "skipped");
        if (v == 1) {
            /* record the steps in the primary header, as the calibration switches */
            rc = fitsimg_writer_select(w, 0, ei);
            if (rc == ERR_OK) {
                rc = write_record(w, &rec, ei);
            }
            const char *sw[][2] = {
                {"DQICORR", "COMPLETE"},
                {"BLEVCORR", plan.overscan ? "COMPLETE" : "SKIPPED"},
                {"BIASCORR", plan.bias ? "COMPLETE" : "SKIPPED"},
                {"DARKCORR", plan.dark ? "COMPLETE" : "SKIPPED"},
                {"FLATCORR", plan.flat ? "COMPLETE" : "SKIPPED"},
            };
            for (size_t k = 0; k < sizeof sw / sizeof sw[0] && rc == ERR_OK; k++) {
                rc = fitsimg_writer_key_str(w, sw[k][0], sw[k][1], NULL, ei);
            }
            if (rc == ERR_OK) {
                const char *slash = strrchr(out_path, '/');
                rc = fitsimg_writer_key_str(w, "FILENAME", slash ? slash + 1 : out_path, NULL,
                                            ei);
            }
            if (rc == ERR_OK) {
                rc = fitsimg_writer_key_str(w, "CAL_VER", "obsflow 0.1.0",
                                            "calibration software", ei);
            }
            if (rc != ERR_OK) {
                goto out;
            }
        }
        rc = calib_frame_ensure_err(f, ei);
        if (rc == ERR_OK) {
            rc = write_plane(w, "SCI", v, FITSIMG_F32, f, FITSIMG_F64, f->sci, raw,
                             trimmed ? &trim_sec : NULL, ei);
        }
        if (rc == ERR_OK) {
            rc = write_plane(w, "ERR", v, FITSIMG_F32, f, FITSIMG_F64, f->err, NULL, NULL, ei);
        }
        if (rc == ERR_OK) {
            rc = write_plane(w, "DQ", v, FITSIMG_I16, f, FITSIMG_U16, f->dq, NULL, NULL, ei);
        }
        if (rc != ERR_OK) {
            goto out;
        }
        calib_frame_free(f);
    }
    rc = fitsimg_writer_commit(w, ei);
out:
    if (rc != ERR_OK && rc == ERR_NOMEM) {
        *xcode = PROC_CALDP_MEMORY_ERROR;
    }
    if (rc == ERR_OK) {
        *xcode = PROC_SUCCESS;
    }
    for (int i = 0; i < PROC_IMSETS_MAX; i++) {
        calib_frame_free(&fr[i]);
    }
    calib_frame_free(&bias);
    calib_frame_free(&dark);
    calib_frame_free(&flat);
    free(bpix);
    refs_release(&refs);
    fitsimg_writer_destroy(w);
    fitsimg_close(raw);
    return rc;
}
