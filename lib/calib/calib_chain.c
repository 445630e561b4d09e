/* calib_chain.c - the calibration chain in its two orders (calacs default, ccdproc 2.4), run on
 * a frame in memory (calib_run) or streamed band by band from files (calib_run_file). Both
 * drive the same per-band arithmetic, so they give the same bits.
 * SPDX-License-Identifier: Apache-2.0 */
#include "calib/calib.h"

#include "calib/calib_internal.h"
#include "core/str.h"
#include "fits/fits_image.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Base name of a path, for keywords. */
static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Where a reference lines up with the (trimmed) frame. */
static enum err ref_offset(const struct calib_frame *ref, const char *what, int64_t nx0,
                           int64_t ny0, const struct calib_section *trim, int64_t *ox, int64_t *oy,
                           struct err_info *ei)
{
    int64_t nx = trim ? trim->x1 - trim->x0 : nx0;
    int64_t ny = trim ? trim->y1 - trim->y0 : ny0;
    if (ref->nx == nx && ref->ny == ny) {
        *ox = *oy = 0;
        return ERR_OK;
    }
    if (trim && ref->nx == nx0 && ref->ny == ny0) {
        *ox = trim->x0;
        *oy = trim->y0;
        return ERR_OK;
    }
    if (trim) {
        return err_set(ei, ERR_CALIB,
                       "shape mismatch: %s \"%s\" is %lldx%lld but the frame is %lldx%lld after "
                       "trimming (%lldx%lld raw)",
                       what, ref->source, (long long)ref->nx, (long long)ref->ny, (long long)nx,
                       (long long)ny, (long long)nx0, (long long)ny0);
    }
    return err_set(ei, ERR_CALIB, "shape mismatch: %s \"%s\" is %lldx%lld but the frame is %lldx%lld",
                   what, ref->source, (long long)ref->nx, (long long)ref->ny, (long long)nx,
                   (long long)ny);
}

enum { R_BIAS = 0, R_DARK, R_FLAT, R_N };

/* Everything decided before any pixel is touched. */
struct chain {
    const struct calib_plan *p;
    bool ccdproc;
    int64_t nx0, ny0;
    bool has_os, has_trim;
    struct calib_section os, tr;
    const struct calib_frame *ref[R_N]; /* metadata (and pixels, in memory) of the references */
    int64_t ox[R_N], oy[R_N];
    bool refs_e;      /* bias/dark in electrons: applied after the gain */
    bool gain_first;  /* ccdproc: gain before the references */
    double dark_k;
    double flat_mean;
    double *levels;   /* ny0 overscan levels */
    size_t n_atod, n_fw, n_bpix;
    bool count_dq;    /* count DQ initialisation hits (once per raw pixel) */
};

static enum err chain_prepare(struct chain *c, const struct calib_plan *p,
                              const struct calib_frame *meta, const struct calib_frame *bias,
                              const struct calib_frame *dark, const struct calib_frame *flat,
                              struct err_info *ei)
{
    memset(c, 0, sizeof(*c));
    c->p = p;
    c->ccdproc = p->mode == CALIB_MODE_CCDPROC;
    c->nx0 = meta->nx;
    c->ny0 = meta->ny;
    c->ref[R_BIAS] = bias;
    c->ref[R_DARK] = dark;
    c->ref[R_FLAT] = flat;
    c->count_dq = true;
    enum err e;
    if (p->overscan) {
        e = calib_section_parse(p->overscan, c->nx0, c->ny0, &c->os, ei);
        if (e != ERR_OK) {
            err_prefix(ei, "overscan: ");
            return e;
        }
        if (c->os.y0 != 0 || c->os.y1 != c->ny0) {
            return err_set(ei, ERR_CALIB,
                           "overscan section %s must cover every row (1:%lld) of the frame",
                           p->overscan, (long long)c->ny0);
        }
        c->has_os = true;
    }
    if (p->trim) {
        e = calib_section_parse(p->trim, c->nx0, c->ny0, &c->tr, ei);
        if (e != ERR_OK) {
            err_prefix(ei, "trim: ");
            return e;
        }
        c->has_trim = true;
    }
    if ((p->has_gain && !(p->gain > 0)) || (p->has_readnoise && !(p->readnoise >= 0))) {
        return err_set(ei, ERR_INVALID, "gain must be > 0 and read noise >= 0");
    }
    if (p->mask && (p->mask->nx != c->nx0 || p->mask->ny != c->ny0)) {
        return err_set(ei, ERR_CALIB,
                       "shape mismatch: bad-pixel mask \"%s\" is %lldx%lld but the frame is %lldx%lld",
                       p->mask->source, (long long)p->mask->nx, (long long)p->mask->ny,
                       (long long)c->nx0, (long long)c->ny0);
    }
    static const char *const what[R_N] = {"bias", "dark", "flat"};
    for (int i = 0; i < R_N; i++) {
        if (c->ref[i] && (e = ref_offset(c->ref[i], what[i], c->nx0, c->ny0,
                                         c->has_trim ? &c->tr : NULL, &c->ox[i], &c->oy[i], ei)) !=
                             ERR_OK) {
            return e;
        }
    }
    /* References in electrons are applied after the gain conversion, others before it (ccdproc's
     * gain_corrected switch, chosen from the units the way its unit checks force). */
    bool refs_adu = false;
    for (int i = R_BIAS; i <= R_DARK; i++) { /* the flat is unitless after normalising */
        if (c->ref[i]) {
            if (calib_unit_is_electrons(c->ref[i]->bunit)) {
                c->refs_e = true;
            } else {
                refs_adu = true;
            }
        }
    }
    if (c->refs_e && refs_adu) {
        return err_set(ei, ERR_CALIB, "bias and dark are in different units (%s, %s)",
                       bias->bunit, dark->bunit);
    }
    if (c->refs_e && !p->has_gain && !calib_unit_is_electrons(meta->bunit)) {
        return err_set(ei, ERR_CALIB, "references are in electrons but the frame is in %s and no "
                                      "gain was given", meta->bunit);
    }
    c->gain_first = p->has_gain && (c->refs_e || !(bias || dark || flat));
    c->dark_k = 1.0;
    if (dark) {
        if (c->ccdproc) {
            if (p->dark_scale) {
                if (!meta->has_exptime || !dark->has_exptime || !(dark->exptime > 0)) {
                    return err_set(ei, ERR_CALIB, "dark scaling needs EXPTIME of the frame and of "
                                                  "dark \"%s\"", dark->source);
                }
                c->dark_k = meta->exptime / dark->exptime;
            }
        } else {
            /* the dark is a rate when it has no exposure time of its own */
            double td = dark->has_darktime ? dark->darktime
                                           : (dark->has_exptime ? dark->exptime : 1.0);
            if (!meta->has_darktime && !meta->has_exptime) {
                return err_set(ei, ERR_CALIB,
                               "dark subtraction needs DARKTIME or EXPTIME of the frame");
            }
            if (!(td > 0)) {
                return err_set(ei, ERR_CALIB, "dark \"%s\" has a non-positive exposure time",
                               dark->source);
            }
            c->dark_k = (meta->has_darktime ? meta->darktime : meta->exptime) / td;
        }
    }
    if (c->has_os) {
        c->levels = malloc((size_t)c->ny0 * sizeof(double));
        if (!c->levels) {
            return err_set(ei, ERR_NOMEM, "out of memory");
        }
    }
    return ERR_OK;
}

static void chain_free(struct chain *c)
{
    free(c->levels);
    c->levels = NULL;
}

/* DQ initialisation of raw rows [y0, y0 + f->ny) (all columns); @p mask holds the same rows. */
static void chain_dqinit(struct chain *c, struct calib_frame *f, int64_t y0,
                         const struct calib_frame *mask)
{
    const struct calib_plan *p = c->p;
    if (mask) {
        struct err_info ignore;
        if (calib_dq_apply_mask(f, mask, &ignore) != ERR_OK) {
            return; /* cannot happen: shapes were checked in chain_prepare */
        }
    }
    for (size_t r = 0; r < p->nbpix; r++) {
        const struct calib_bpix *b = &p->bpix[r];
        for (int64_t k = 0; k < b->length; k++) {
            int64_t x = b->x + (b->axis == 1 ? k : 0);
            int64_t y = b->y + (b->axis == 2 ? k : 0) - y0;
            if (x < 0 || y < 0 || x >= f->nx || y >= f->ny) {
                continue;
            }
            f->dq[y * f->nx + x] |= b->value;
            c->n_bpix += c->count_dq;
        }
    }
    if (p->atodsat > 0) {
        size_t n = calib_dq_atodsat(f, p->atodsat);
        c->n_atod += c->count_dq ? n : 0;
    }
}

/* Everything after trimming, on a band of the trimmed frame; ref[i] holds rows that line up
 * with the band from row offset roy[i] and column offset c->ox[i]. */
static enum err chain_apply(struct chain *c, struct calib_frame *f,
                            const struct calib_frame *const ref[R_N], const int64_t roy[R_N],
                            struct err_info *ei)
{
    const struct calib_plan *p = c->p;
    enum err e = ERR_OK;
    const struct calib_frame *bias = ref[R_BIAS], *dark = ref[R_DARK], *flat = ref[R_FLAT];
    if (c->ccdproc) {
        if (p->has_readnoise &&
            (e = calib_deviation(f, p->has_gain ? p->gain : 1.0, p->readnoise, ei)) != ERR_OK) {
            return e;
        }
        if (c->gain_first) {
            calib_gain(f, p->gain);
        }
        if (bias && (e = calib_subtract(f, bias, 1.0, c->ox[R_BIAS], roy[R_BIAS], "bias", ei)) !=
                        ERR_OK) {
            return e;
        }
        if (dark && (e = calib_subtract(f, dark, c->dark_k, c->ox[R_DARK], roy[R_DARK], "dark",
                                        ei)) != ERR_OK) {
            return e;
        }
        if (flat && (e = calib_flat_apply(f, flat, c->ox[R_FLAT], roy[R_FLAT], p->mode,
                                          p->has_flat_min, p->flat_min, c->flat_mean, ei)) !=
                        ERR_OK) {
            return e;
        }
        if (p->has_gain && !c->gain_first) {
            calib_gain(f, p->gain);
        }
        return ERR_OK;
    }
    if (!c->refs_e) {
        if (bias && (e = calib_subtract(f, bias, 1.0, c->ox[R_BIAS], roy[R_BIAS], "bias", ei)) !=
                        ERR_OK) {
            return e;
        }
        if (dark && (e = calib_subtract(f, dark, c->dark_k, c->ox[R_DARK], roy[R_DARK], "dark",
                                        ei)) != ERR_OK) {
            return e;
        }
    }
    if (p->has_gain) {
        calib_gain(f, p->gain);
    }
    if (p->fullwell > 0) {
        c->n_fw += calib_dq_fullwell(f, p->fullwell);
    }
    if ((p->has_gain || p->has_readnoise) &&
        (e = calib_noise(f, p->has_readnoise ? p->readnoise : 0.0, ei)) != ERR_OK) {
        return e;
    }
    if (c->refs_e) {
        if (bias && (e = calib_subtract(f, bias, 1.0, c->ox[R_BIAS], roy[R_BIAS], "bias", ei)) !=
                        ERR_OK) {
            return e;
        }
        if (dark && (e = calib_subtract(f, dark, c->dark_k, c->ox[R_DARK], roy[R_DARK], "dark",
                                        ei)) != ERR_OK) {
            return e;
        }
    }
    if (flat && (e = calib_flat_apply(f, flat, c->ox[R_FLAT], roy[R_FLAT], p->mode,
                                      p->has_flat_min, p->flat_min, c->flat_mean, ei)) != ERR_OK) {
        return e;
    }
    return ERR_OK;
}

/* Keywords and history of a finished run. */
static void chain_record(const struct chain *c, struct calib_record *rec)
{
    const struct calib_plan *p = c->p;
    char sec[64];
    calib_record_str(rec, "CALMODE", c->ccdproc ? "ccdproc-2.4" : "calacs",
                     "arithmetic of obsflow calibrate");
    bool dqi = false;
    if (p->mask) {
        calib_record_str(rec, "MASKFILE", base_name(p->mask->source), "bad-pixel mask used");
        dqi = true;
    }
    if (p->bpix && p->nbpix) {
        calib_record_str(rec, "BPIXTAB", p->bpix_name ? base_name(p->bpix_name) : "", "bad pixels");
        calib_record_history(rec, "bad-pixel table: %zu rows, %zu pixels flagged", p->nbpix,
                             c->n_bpix);
        dqi = true;
    }
    if (p->atodsat > 0) {
        calib_record_num(rec, "ATODSAT", p->atodsat, "A-to-D saturation level (DN)");
        calib_record_num(rec, "NATODSAT", (double)c->n_atod, "pixels at A-to-D saturation");
        dqi = true;
    }
    if (dqi) {
        calib_record_str(rec, "DQICORR", "COMPLETE", "data quality initialised");
    }
    if (c->has_os) {
        double s = 0;
        for (int64_t y = 0; y < c->ny0; y++) {
            s += c->levels[y];
        }
        calib_section_format(&c->os, sec, sizeof(sec));
        calib_record_str(rec, "BIASSECA", sec, "overscan section used");
        calib_record_num(rec, "BLEVMEAN", s / (double)c->ny0, "mean overscan level subtracted");
        calib_record_str(rec, "BLEVCORR", "COMPLETE", "overscan subtracted");
        calib_record_history(rec, "overscan %s %s%s subtracted, mean level %.6g", sec,
                             p->oscan_stat == CALIB_OSCAN_MEDIAN ? "median" : "mean",
                             p->oscan_fit ? " linear fit" : "", s / (double)c->ny0);
    }
    if (c->has_trim) {
        calib_section_format(&c->tr, sec, sizeof(sec));
        calib_record_str(rec, "TRIMSEC", sec, "section kept");
        calib_record_history(rec, "trimmed to %s", sec);
    }
    if (c->ccdproc && p->has_readnoise) {
        calib_record_num(rec, "RDNOISE", p->readnoise, "read noise used (e-)");
        calib_record_history(rec, "deviation sqrt(g*X + rn^2)/g created");
    }
    if (!c->ccdproc && p->fullwell > 0) {
        calib_record_num(rec, "FULLWELL", p->fullwell, "full-well level (e-)");
        calib_record_num(rec, "NSATFW", (double)c->n_fw, "pixels above full well");
    }
    if (!c->ccdproc && (p->has_gain || p->has_readnoise)) {
        calib_record_num(rec, "RDNOISE", p->has_readnoise ? p->readnoise : 0.0,
                         "read noise used (e-)");
        calib_record_str(rec, "NOISCORR", "COMPLETE", "error array initialised");
        calib_record_history(rec, "err = sqrt(max(sci,0) + rn^2 + err^2)");
    }
    if (c->ref[R_BIAS]) {
        calib_record_str(rec, "BIASFILE", base_name(c->ref[R_BIAS]->source), "bias reference used");
        calib_record_str(rec, "BIASCORR", "COMPLETE", "bias subtracted");
        calib_record_history(rec, "bias %.50s subtracted", base_name(c->ref[R_BIAS]->source));
    }
    if (c->ref[R_DARK]) {
        calib_record_str(rec, "DARKFILE", base_name(c->ref[R_DARK]->source), "dark reference used");
        calib_record_num(rec, "DARKSCL", c->dark_k, "factor applied to the dark");
        calib_record_str(rec, "DARKCORR", "COMPLETE", "dark subtracted");
        calib_record_history(rec, "dark %.40s x %.6g subtracted", base_name(c->ref[R_DARK]->source),
                             c->dark_k);
    }
    if (c->ref[R_FLAT]) {
        calib_record_str(rec, "FLATFILE", base_name(c->ref[R_FLAT]->source), "flat reference used");
        calib_record_num(rec, "FLATMEAN", c->flat_mean, "flat normalised by this mean");
        calib_record_str(rec, "FLATCORR", "COMPLETE", "flat fielded");
        calib_record_history(rec, "flat %.40s / %.8g divided", base_name(c->ref[R_FLAT]->source),
                             c->flat_mean);
    }
    if (p->has_gain) {
        calib_record_num(rec, "GAINUSED", p->gain, "gain used (e-/ADU)");
        calib_record_history(rec, "gain %.6g e-/ADU applied", p->gain);
    }
}

enum err calib_run(struct calib_frame *f, const struct calib_plan *p, struct calib_record *rec,
                   struct err_info *ei)
{
    struct chain c;
    enum err e = chain_prepare(&c, p, f, p->bias, p->dark, p->flat, ei);
    if (e != ERR_OK) {
        goto out;
    }
    int64_t tnx = c.has_trim ? c.tr.x1 - c.tr.x0 : c.nx0;
    int64_t tny = c.has_trim ? c.tr.y1 - c.tr.y0 : c.ny0;
    if (p->flat && (e = calib_flat_mean(p->flat, c.ox[R_FLAT], c.oy[R_FLAT], tnx, tny, p->mode,
                                        p->has_flat_min, p->flat_min, &c.flat_mean, ei)) !=
                       ERR_OK) {
        goto out;
    }
    chain_dqinit(&c, f, 0, p->mask);
    if (c.has_os) {
        e = calib_overscan(f, &c.os, p->oscan_stat, p->oscan_fit, p->mode, c.levels, ei);
        if (e != ERR_OK) {
            goto out;
        }
    }
    if (c.has_trim && (e = calib_trim(f, &c.tr, ei)) != ERR_OK) {
        goto out;
    }
    const struct calib_frame *refs[R_N] = {p->bias, p->dark, p->flat};
    e = chain_apply(&c, f, refs, c.oy, ei);
    if (e == ERR_OK) {
        chain_record(&c, rec);
    }
out:
    chain_free(&c);
    return e;
}

/* ------------------------------------------------------------------------------------------- */
/* Streaming: every file is read band by band, each band goes through the whole chain. */

/* One FITS frame read in bands (SCI and, when present, ERR and DQ of the same EXTVER). */
struct bsrc {
    struct fitsimg *f;
    int h_sci, h_err, h_dq;
    struct calib_frame meta; /* nx, ny, bunit, times, source; no pixels */
    struct calib_frame band; /* current rows, full width */
    int64_t cap;             /* rows the band buffers hold */
    double *dqtmp;
};

static void bsrc_close(struct bsrc *b)
{
    fitsimg_close(b->f);
    free(b->band.sci);
    free(b->band.err);
    free(b->band.dq);
    free(b->dqtmp);
    memset(b, 0, sizeof(*b));
}

static bool key_dbl(struct fitsimg *f, int img, const char *name, double *out)
{
    if (fitsimg_key_double(f, name, out, NULL) == ERR_OK) {
        return true;
    }
    bool ok = img != 0 && fitsimg_select(f, 0, NULL) == ERR_OK &&
              fitsimg_key_double(f, name, out, NULL) == ERR_OK;
    return fitsimg_select(f, img, NULL) == ERR_OK && ok;
}

static enum err bsrc_open(struct bsrc *b, const char *path, const char *hdu, int64_t cap,
                          bool want_err, struct err_info *ei)
{
    memset(b, 0, sizeof(*b));
    b->h_err = b->h_dq = -1;
    enum err e = fitsimg_open(path, &b->f, ei);
    if (e != ERR_OK) {
        return e;
    }
    struct err_info tmp;
    if (hdu && *hdu) {
        e = fitsimg_select_spec(b->f, hdu, ei);
    } else if (fitsimg_select_name(b->f, "SCI", 1, &tmp) != ERR_OK) {
        e = fitsimg_select_first_image(b->f, ei);
    }
    if (e != ERR_OK) {
        return e;
    }
    struct fitsimg_info in;
    fitsimg_get_info(b->f, &in);
    if (in.nx <= 0 || in.ny <= 0) {
        return err_set(ei, ERR_FITS, "file \"%s\", hdu %d holds no image", path, in.hdu);
    }
    if (in.nplanes > 1) {
        return err_set(ei, ERR_UNSUPPORTED, "file \"%s\", hdu %d: a cube of %lld planes is not a frame",
                       path, in.hdu, (long long)in.nplanes);
    }
    b->h_sci = in.hdu;
    struct calib_frame *m = &b->meta;
    m->nx = in.nx;
    m->ny = in.ny;
    str_copy(m->source, sizeof(m->source), path);
    char bunit[72] = "";
    if (fitsimg_key_str(b->f, "BUNIT", bunit, sizeof(bunit), NULL) != ERR_OK || !bunit[0]) {
        bool ok = in.hdu != 0 && fitsimg_select(b->f, 0, NULL) == ERR_OK &&
                  fitsimg_key_str(b->f, "BUNIT", bunit, sizeof(bunit), NULL) == ERR_OK && bunit[0];
        if (fitsimg_select(b->f, in.hdu, ei) != ERR_OK) {
            return ERR_FITS;
        }
        if (!ok) {
            str_copy(bunit, sizeof(bunit), "ADU");
        }
    }
    for (char *q = bunit; *q; q++) {
        *q = (char)(*q >= 'a' && *q <= 'z' ? *q - 'a' + 'A' : *q);
    }
    str_copy(m->bunit, sizeof(m->bunit), bunit);
    m->has_exptime = key_dbl(b->f, in.hdu, "EXPTIME", &m->exptime);
    m->has_darktime = key_dbl(b->f, in.hdu, "DARKTIME", &m->darktime);
    if (strcasecmp(in.extname, "SCI") == 0) {
        static const char *const names[2] = {"ERR", "DQ"};
        int *hs[2] = {&b->h_err, &b->h_dq};
        for (int k = 0; k < 2; k++) {
            if (fitsimg_select_name(b->f, names[k], in.extver, &tmp) != ERR_OK) {
                continue;
            }
            struct fitsimg_info ci;
            fitsimg_get_info(b->f, &ci);
            if ((ci.nx == 0 && ci.ny == 0) ||
                (ci.constant && ci.pixvalue == 0.0 && ci.nx == in.nx && ci.ny == in.ny)) {
                continue;
            }
            if (ci.nx != in.nx || ci.ny != in.ny) {
                return err_set(ei, ERR_FITS, "file \"%s\": %s,%d is %lldx%lld but SCI,%d is %lldx%lld",
                               path, names[k], in.extver, (long long)ci.nx, (long long)ci.ny,
                               in.extver, (long long)in.nx, (long long)in.ny);
            }
            *hs[k] = ci.hdu;
        }
        if ((e = fitsimg_select(b->f, in.hdu, ei)) != ERR_OK) {
            return e;
        }
    }
    b->cap = cap < m->ny ? cap : m->ny;
    size_t n = (size_t)(b->cap * m->nx);
    b->band.sci = fitsimg_alloc_big(n * sizeof(double));
    b->band.dq = malloc(n * sizeof(uint16_t));
    b->dqtmp = b->h_dq >= 0 ? malloc(n * sizeof(double)) : NULL;
    b->band.err = b->h_err >= 0 || want_err ? fitsimg_alloc_big(n * sizeof(double)) : NULL;
    if (!b->band.sci || !b->band.dq || (b->h_dq >= 0 && !b->dqtmp) ||
        ((b->h_err >= 0 || want_err) && !b->band.err)) {
        return err_set(ei, ERR_NOMEM, "out of memory for band buffers");
    }
    str_copy(b->band.source, sizeof(b->band.source), path);
    str_copy(b->band.bunit, sizeof(b->band.bunit), m->bunit);
    return ERR_OK;
}

/* Read rows [row0, row0 + nrows) into b->band (full width). */
static enum err bsrc_read(struct bsrc *b, int64_t row0, int64_t nrows, struct err_info *ei)
{
    struct calib_frame *bd = &b->band;
    bd->nx = b->meta.nx;
    bd->ny = nrows;
    str_copy(bd->bunit, sizeof(bd->bunit), b->meta.bunit);
    size_t n = (size_t)(nrows * bd->nx);
    enum err e = fitsimg_read_rows(b->f, row0, nrows, bd->sci, ei);
    if (e != ERR_OK) {
        return e;
    }
    if (b->h_dq >= 0) {
        if ((e = fitsimg_select(b->f, b->h_dq, ei)) != ERR_OK ||
            (e = fitsimg_read_rows(b->f, row0, nrows, b->dqtmp, ei)) != ERR_OK) {
            return e;
        }
        for (size_t i = 0; i < n; i++) {
            double d = b->dqtmp[i];
            bd->dq[i] = (uint16_t)(d > 0 && d < 65536 ? (uint32_t)d : 0);
        }
    } else {
        memset(bd->dq, 0, n * sizeof(uint16_t));
    }
    if (b->h_err >= 0) {
        if ((e = fitsimg_select(b->f, b->h_err, ei)) != ERR_OK ||
            (e = fitsimg_read_rows(b->f, row0, nrows, bd->err, ei)) != ERR_OK) {
            return e;
        }
    } else if (bd->err) {
        memset(bd->err, 0, n * sizeof(double));
    }
    if (b->h_dq >= 0 || b->h_err >= 0) {
        return fitsimg_select(b->f, b->h_sci, ei);
    }
    return ERR_OK;
}

/* numpy's pairwise sum over the flat's used part, read in bands (the same tree as over a
 * contiguous copy): leaves of <= 128 values are gathered through a row cursor. */
struct flat_cursor {
    struct bsrc *src;
    int64_t ox, oy, nx, ny; /* used part */
    int64_t row0, nrows;    /* rows of the used part now in the band */
    const struct calib_plan *p;
    enum err e;
    struct err_info *ei;
};

/* Start of row y (0-based in the used part) of the flat, loading its band when needed. */
static const double *flat_row(struct flat_cursor *fc, int64_t y)
{
    if (y < fc->row0 || y >= fc->row0 + fc->nrows) {
        int64_t rows = fc->src->cap;
        if (y + rows > fc->ny) {
            rows = fc->ny - y;
        }
        if (fc->e == ERR_OK) {
            fc->e = bsrc_read(fc->src, y + fc->oy, rows, fc->ei);
        }
        if (fc->e != ERR_OK) {
            return NULL;
        }
        fc->row0 = y;
        fc->nrows = rows;
    }
    return fc->src->band.sci + (y - fc->row0) * fc->src->meta.nx + fc->ox;
}

/* Values [start, start + n) of the used part, in row-major order. */
static bool flat_gather(struct flat_cursor *fc, int64_t start, int64_t n, double *buf)
{
    int64_t y = start / fc->nx, x = start % fc->nx;
    const double *row = flat_row(fc, y);
    for (int64_t k = 0; k < n; k++) {
        if (!row) {
            return false;
        }
        buf[k] = calib_flat_value(row[x], fc->p->has_flat_min, fc->p->flat_min);
        if (++x == fc->nx && k + 1 < n) {
            x = 0;
            row = flat_row(fc, ++y);
        }
    }
    return true;
}

static double flat_pairwise(struct flat_cursor *fc, int64_t start, int64_t n)
{
    if (n <= 128) {
        double buf[128];
        if (!flat_gather(fc, start, n, buf)) {
            return NAN;
        }
        return calib_pairwise_sum(buf, (size_t)n, 1);
    }
    int64_t n2 = n / 2;
    n2 -= n2 % 8;
    return flat_pairwise(fc, start, n2) + flat_pairwise(fc, start + n2, n - n2);
}

static enum err stream_flat_mean(struct chain *c, struct bsrc *fs, int64_t nx, int64_t ny,
                                 struct err_info *ei)
{
    const struct calib_plan *p = c->p;
    struct flat_cursor fc = {.src = fs, .ox = c->ox[R_FLAT], .oy = c->oy[R_FLAT], .nx = nx,
                             .ny = ny, .row0 = 0, .nrows = 0, .p = p, .e = ERR_OK, .ei = ei};
    double m;
    int64_t n = nx * ny;
    if (c->ccdproc) {
        m = flat_pairwise(&fc, 0, n) / (double)n;
    } else {
        struct calib_kahan k = {0, 0, 0};
        for (int64_t y = 0; y < ny; y++) {
            const double *row = flat_row(&fc, y);
            if (!row) {
                break;
            }
            for (int64_t x = 0; x < nx; x++) {
                calib_kahan_add(&k, calib_flat_value(row[x], p->has_flat_min, p->flat_min));
            }
        }
        m = k.n ? k.s / (double)k.n : NAN;
    }
    if (fc.e != ERR_OK) {
        return fc.e;
    }
    if (!(m > 0) || !isfinite(m)) {
        return err_set(ei, ERR_CALIB, "flat \"%s\" has no positive mean (%g)", fs->meta.source, m);
    }
    c->flat_mean = m;
    return ERR_OK;
}

/* The second core: while the main thread reads the frame (overscan pass, or a band of pass 2),
 * a helper reads from other files through their own handles (distinct handles may be used from
 * distinct threads). The arithmetic does not change, so neither do the bits. */
struct flat_job {
    struct chain *c;
    struct bsrc *fs;
    int64_t nx, ny;
    enum err e;
    struct err_info ei;
};

static void *flat_work(void *arg)
{
    struct flat_job *j = arg;
    j->e = stream_flat_mean(j->c, j->fs, j->nx, j->ny, &j->ei);
    return NULL;
}

struct ref_job {
    struct bsrc *rs;       /* the references */
    const bool *want;      /* read rs[i] when want[i] */
    const int64_t *oy;     /* their row offsets */
    int64_t y, rows;
    enum err e;
    struct err_info ei;
};

static enum err ref_read(struct ref_job *j)
{
    for (int i = 0; i < R_N; i++) {
        if (j->want[i]) {
            enum err e = bsrc_read(&j->rs[i], j->oy[i] + j->y, j->rows, &j->ei);
            if (e != ERR_OK) {
                return e;
            }
        }
    }
    return ERR_OK;
}

/* One finished band of the product, written while the next band is read. */
struct write_job {
    struct fitsimg_writer *w;
    int h_sci, h_err, h_dq;
    const struct calib_frame *f; /* NULL: nothing to write */
    int64_t y, rows;
    enum err e;
    struct err_info ei;
};

static enum err band_write(struct write_job *j)
{
    struct err_info *ei = &j->ei;
    const struct calib_frame *f = j->f;
    enum err e;
    if ((e = fitsimg_writer_select(j->w, j->h_sci, ei)) != ERR_OK ||
        (e = fitsimg_writer_write_rows(j->w, j->y, j->rows, FITSIMG_F64, f->sci, ei)) != ERR_OK ||
        (j->h_err >= 0 &&
         ((e = fitsimg_writer_select(j->w, j->h_err, ei)) != ERR_OK ||
          (e = fitsimg_writer_write_rows(j->w, j->y, j->rows, FITSIMG_F64, f->err, ei)) !=
              ERR_OK)) ||
        (e = fitsimg_writer_select(j->w, j->h_dq, ei)) != ERR_OK ||
        (e = fitsimg_writer_write_rows(j->w, j->y, j->rows, FITSIMG_U16, f->dq, ei)) != ERR_OK) {
        return e;
    }
    return ERR_OK;
}

/* The helper's share of a band: write the previous band, read this band's dark and flat. */
struct helper_job {
    struct write_job *wj;
    struct ref_job *rj;
};

static void *helper_work(void *arg)
{
    struct helper_job *h = arg;
    if (h->wj->f) {
        h->wj->e = band_write(h->wj);
    }
    h->rj->e = ref_read(h->rj);
    return NULL;
}

enum err calib_run_file(const char *in_path, const char *hdu, const struct calib_plan *plan,
                        const struct calib_ref_paths *refs, const char *out_path,
                        const struct calib_write_opts *wo, size_t band_bytes,
                        struct calib_record *rec, struct err_info *ei)
{
    struct calib_write_opts defaults = {false, false, false};
    if (!wo) {
        wo = &defaults;
    }
    struct calib_plan p = *plan;
    struct bsrc in, rs[R_N], ms;
    memset(&in, 0, sizeof(in));
    memset(rs, 0, sizeof(rs));
    memset(&ms, 0, sizeof(ms));
    struct chain c;
    memset(&c, 0, sizeof(c));
    struct fitsimg_writer *w = NULL;
    struct fitsimg *hdr = NULL;
    double *tmp = NULL;
    bool *ok = NULL;
    struct calib_frame spare; /* the frame's second set of band buffers (pass 2) */
    memset(&spare, 0, sizeof(spare));
    enum err e;
    /* band height from the widest row that is read (frame, mask, references) */
    const char *paths[R_N] = {refs ? refs->bias : NULL, refs ? refs->dark : NULL,
                              refs ? refs->flat : NULL};
    size_t budget = band_bytes ? band_bytes : CALIB_BAND_BYTES;
    if ((e = bsrc_open(&in, in_path, hdu, 1, false, ei)) != ERR_OK) {
        goto out;
    }
    int64_t nx0 = in.meta.nx, ny0 = in.meta.ny;
    size_t row_bytes = (size_t)nx0 * 36; /* sci, err, dq and the references' rows */
    int64_t cap = (int64_t)(budget / (row_bytes * 4 + 1));
    if (cap < 1) {
        cap = 1;
    }
    bool err_needed = in.h_err >= 0 || p.has_readnoise ||
                      (p.mode == CALIB_MODE_DEFAULT && p.has_gain);
    for (int i = 0; i < R_N; i++) {
        if (paths[i]) {
            e = bsrc_open(&rs[i], paths[i], NULL, cap, false, ei);
            if (e != ERR_OK) {
                goto out;
            }
            err_needed = err_needed || rs[i].h_err >= 0;
        }
    }
    bsrc_close(&in);
    if ((e = bsrc_open(&in, in_path, hdu, cap, err_needed, ei)) != ERR_OK) {
        goto out;
    }
    if (refs && refs->mask) {
        if ((e = bsrc_open(&ms, refs->mask, NULL, cap, false, ei)) != ERR_OK) {
            goto out;
        }
        p.mask = &ms.meta;
    }
    e = chain_prepare(&c, &p, &in.meta, paths[R_BIAS] ? &rs[R_BIAS].meta : NULL,
                      paths[R_DARK] ? &rs[R_DARK].meta : NULL,
                      paths[R_FLAT] ? &rs[R_FLAT].meta : NULL, ei);
    if (e != ERR_OK) {
        goto out;
    }
    int64_t tx0 = c.has_trim ? c.tr.x0 : 0, ty0 = c.has_trim ? c.tr.y0 : 0;
    int64_t nx = c.has_trim ? c.tr.x1 - c.tr.x0 : nx0;
    int64_t ny = c.has_trim ? c.tr.y1 - c.tr.y0 : ny0;
    /* the flat's mean (a pass over the flat) runs beside pass 1 (a pass over the frame) */
    struct flat_job fj = {&c, &rs[R_FLAT], nx, ny, ERR_OK, {0}};
    pthread_t fth;
    bool flat_threaded = paths[R_FLAT] && c.has_os && fitsimg_threads_ok() &&
                         pthread_create(&fth, NULL, flat_work, &fj) == 0;
    if (paths[R_FLAT] && !flat_threaded &&
        (e = stream_flat_mean(&c, &rs[R_FLAT], nx, ny, ei)) != ERR_OK) {
        goto out;
    }
    /* pass 1: overscan levels of every row (DQ initialised first: default mode skips flags) */
    e = ERR_OK;
    if (c.has_os) {
        tmp = malloc((size_t)(c.os.x1 - c.os.x0) * sizeof(double));
        ok = malloc((size_t)ny0 * sizeof(bool));
        if (!tmp || !ok) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
        }
        for (int64_t y = 0; e == ERR_OK && y < ny0; y += in.cap) {
            int64_t rows = y + in.cap <= ny0 ? in.cap : ny0 - y;
            if ((e = bsrc_read(&in, y, rows, ei)) != ERR_OK ||
                (ms.f && (e = bsrc_read(&ms, y, rows, ei)) != ERR_OK)) {
                break;
            }
            chain_dqinit(&c, &in.band, y, ms.f ? &ms.band : NULL);
            for (int64_t r = 0; r < rows; r++) {
                c.levels[y + r] = calib_oscan_row_level(in.band.sci + r * nx0,
                                                        in.band.dq + r * nx0, &c.os,
                                                        p.oscan_stat, p.mode, tmp, &ok[y + r]);
            }
        }
        c.count_dq = false; /* every raw row was counted in this pass */
        if (e == ERR_OK) {
            e = calib_oscan_finish(c.levels, ok, ny0, p.oscan_fit, ei);
        }
    }
    if (flat_threaded) {
        pthread_join(fth, NULL);
        if (e == ERR_OK && fj.e != ERR_OK) {
            *ei = fj.ei;
            e = fj.e;
        }
    }
    if (e != ERR_OK) {
        goto out;
    }
    /* the product */
    if ((e = fitsimg_writer_create(out_path, &w, ei)) != ERR_OK) {
        goto out;
    }
    fitsimg_writer_set_checksum(w, wo->checksum);
    fitsimg_writer_set_sync(w, !wo->no_sync);
    int img_hdu = in.h_sci;
    if ((e = fitsimg_open(in_path, &hdr, ei)) != ERR_OK ||
        (e = fitsimg_writer_copy_keys(w, hdr, ei)) != ERR_OK) {
        goto out;
    }
    enum fitsimg_type ft = wo->float32 ? FITSIMG_F32 : FITSIMG_F64;
    const char *bunit = p.has_gain ? "ELECTRONS" : in.meta.bunit;
    int h_sci = 0, h_err = -1, h_dq = 0;
    if ((e = fitsimg_writer_add_image(w, "SCI", 1, ft, nx, ny, &h_sci, ei)) != ERR_OK) {
        goto out;
    }
    if (img_hdu > 0 && ((e = fitsimg_select(hdr, img_hdu, ei)) != ERR_OK ||
                        (e = fitsimg_writer_copy_keys(w, hdr, ei)) != ERR_OK)) {
        goto out;
    }
    if ((e = fitsimg_writer_key_str(w, "BUNIT", bunit, "units of the pixels", ei)) != ERR_OK) {
        goto out;
    }
    e = err_needed ? fitsimg_writer_add_image(w, "ERR", 1, ft, nx, ny, &h_err, ei)
                   : fitsimg_writer_add_constant(w, "ERR", 1, ft, nx, ny, 0.0, NULL, ei);
    if (e != ERR_OK ||
        (e = fitsimg_writer_key_str(w, "BUNIT", bunit, "units of the errors", ei)) != ERR_OK ||
        (e = fitsimg_writer_add_image(w, "DQ", 1, FITSIMG_I16, nx, ny, &h_dq, ei)) != ERR_OK) {
        goto out;
    }
    /* pass 2: each band of the trimmed frame through the chain */
    /* the helper writes the previous band and reads the dark and the flat of this one while this
     * thread reads the frame and the bias and does the overscan and trim (the references are
     * most of the bytes read); the frame's band buffers alternate with a spare set */
    bool threads_ok = fitsimg_threads_ok();
    bool want_main[R_N], want_helper[R_N];
    for (int i = 0; i < R_N; i++) {
        bool helper = threads_ok && i != R_BIAS;
        want_helper[i] = paths[i] && helper;
        want_main[i] = paths[i] && !helper;
    }
    {
        size_t nb = (size_t)(in.cap * nx0);
        spare = in.band;
        spare.sci = fitsimg_alloc_big(nb * sizeof(double));
        spare.dq = malloc(nb * sizeof(uint16_t));
        spare.err = in.band.err ? fitsimg_alloc_big(nb * sizeof(double)) : NULL;
        if (!spare.sci || !spare.dq || (in.band.err && !spare.err)) {
            e = err_set(ei, ERR_NOMEM, "out of memory for band buffers");
            goto out;
        }
    }
    struct write_job wj = {w, h_sci, h_err, h_dq, NULL, 0, 0, ERR_OK, {0}};
    for (int64_t y = 0; y < ny; y += in.cap) {
        int64_t rows = y + in.cap <= ny ? in.cap : ny - y;
        /* the band written now moves to the spare buffers, the frame is read into the others */
        struct calib_frame swap = in.band;
        in.band = spare;
        spare = swap;
        if (wj.f) {
            wj.f = &spare;
        }
        struct ref_job hj = {rs, want_helper, c.oy, y, rows, ERR_OK, {0}};
        struct ref_job mj = {rs, want_main, c.oy, y, rows, ERR_OK, {0}};
        struct helper_job h = {&wj, &hj};
        pthread_t rth;
        bool threaded = threads_ok && pthread_create(&rth, NULL, helper_work, &h) == 0;
        if (!threaded) {
            helper_work(&h);
        }
        struct calib_frame *f = &in.band;
        if ((e = bsrc_read(&in, ty0 + y, rows, ei)) == ERR_OK &&
            (!ms.f || (e = bsrc_read(&ms, ty0 + y, rows, ei)) == ERR_OK)) {
            chain_dqinit(&c, f, ty0 + y, ms.f ? &ms.band : NULL);
            if (c.has_os) {
                for (int64_t r = 0; r < rows; r++) {
                    calib_oscan_subtract_row(f->sci + r * nx0, f->dq + r * nx0, nx0,
                                             c.levels[ty0 + y + r], &c.os, p.mode);
                }
            }
            if (c.has_trim) {
                struct calib_section s = {tx0, tx0 + nx, 0, rows};
                e = calib_trim(f, &s, ei);
            }
        }
        if (e == ERR_OK && (e = ref_read(&mj)) != ERR_OK) {
            *ei = mj.ei;
        }
        if (threaded) {
            pthread_join(rth, NULL);
        }
        if (e == ERR_OK && wj.f && wj.e != ERR_OK) {
            *ei = wj.ei;
            e = wj.e;
        }
        if (e == ERR_OK && hj.e != ERR_OK) {
            *ei = hj.ei;
            e = hj.e;
        }
        if (e != ERR_OK) {
            goto out;
        }
        if (wj.f && plan->progress) {
            plan->progress(wj.y + wj.rows, ny, plan->progress_arg);
        }
        const struct calib_frame *bands[R_N] = {NULL, NULL, NULL};
        int64_t roy[R_N] = {0, 0, 0};
        for (int i = 0; i < R_N; i++) {
            bands[i] = paths[i] ? &rs[i].band : NULL;
        }
        if ((e = chain_apply(&c, f, bands, roy, ei)) != ERR_OK) {
            goto out;
        }
        wj.f = f;
        wj.y = y;
        wj.rows = rows;
    }
    if (wj.f) {
        if ((e = band_write(&wj)) != ERR_OK) {
            *ei = wj.ei;
            goto out;
        }
        if (plan->progress) {
            plan->progress(wj.y + wj.rows, ny, plan->progress_arg);
        }
    }
    chain_record(&c, rec);
    if ((e = fitsimg_writer_select(w, 0, ei)) != ERR_OK) {
        goto out;
    }
    for (int i = 0; rec && i < rec->nkeys; i++) {
        const char *cm = rec->keys[i].comment[0] ? rec->keys[i].comment : NULL;
        e = rec->keys[i].is_num ? fitsimg_writer_key_double(w, rec->keys[i].name, rec->keys[i].num,
                                                            cm, ei)
                                : fitsimg_writer_key_str(w, rec->keys[i].name, rec->keys[i].str,
                                                         cm, ei);
        if (e != ERR_OK) {
            goto out;
        }
    }
    for (int i = 0; rec && i < rec->nhistory; i++) {
        if ((e = fitsimg_writer_history(w, rec->history[i], ei)) != ERR_OK) {
            goto out;
        }
    }
    e = fitsimg_writer_commit(w, ei);
out:
    fitsimg_writer_destroy(w);
    fitsimg_close(hdr);
    free(spare.sci);
    free(spare.err);
    free(spare.dq);
    bsrc_close(&in);
    bsrc_close(&ms);
    for (int i = 0; i < R_N; i++) {
        bsrc_close(&rs[i]);
    }
    free(tmp);
    free(ok);
    chain_free(&c);
    return e;
}
