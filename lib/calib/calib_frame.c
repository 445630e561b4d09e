/* calib_frame.c - frames (SCI/ERR/DQ planes) and reading them and bad-pixel tables from FITS.
 * SPDX-License-Identifier: Apache-2.0 */
#include "calib/calib.h"

#include "core/str.h"
#include "fits/fits_image.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum err calib_frame_alloc(struct calib_frame *f, int64_t nx, int64_t ny, struct err_info *ei)
{
    memset(f, 0, sizeof(*f));
    if (nx <= 0 || ny <= 0 || nx > FITSIMG_MAX_AXIS || ny > FITSIMG_MAX_AXIS ||
        nx * ny > FITSIMG_MAX_PIXELS) {
        return err_set(ei, ERR_TOO_LARGE, "frame of %lldx%lld pixels is out of range",
                       (long long)nx, (long long)ny);
    }
    size_t n = (size_t)(nx * ny);
    f->sci = fitsimg_alloc_big(n * sizeof(double));
    if (f->sci) {
        memset(f->sci, 0, n * sizeof(double));
    }
    f->dq = calloc(n, sizeof(uint16_t));
    if (!f->sci || !f->dq) {
        calib_frame_free(f);
        return err_set(ei, ERR_NOMEM, "out of memory for a %lldx%lld frame", (long long)nx,
                       (long long)ny);
    }
    f->nx = nx;
    f->ny = ny;
    str_copy(f->bunit, sizeof(f->bunit), "ADU");
    return ERR_OK;
}

enum err calib_frame_ensure_err(struct calib_frame *f, struct err_info *ei)
{
    if (f->err) {
        return ERR_OK;
    }
    f->err = fitsimg_alloc_big((size_t)(f->nx * f->ny) * sizeof(double));
    if (f->err) {
        memset(f->err, 0, (size_t)(f->nx * f->ny) * sizeof(double));
    }
    if (!f->err) {
        return err_set(ei, ERR_NOMEM, "out of memory for an error plane");
    }
    return ERR_OK;
}

void calib_frame_free(struct calib_frame *f)
{
    if (!f) {
        return;
    }
    free(f->sci);
    free(f->err);
    free(f->dq);
    f->sci = f->err = NULL;
    f->dq = NULL;
    f->nx = f->ny = 0;
}

bool calib_unit_is_electrons(const char *bunit)
{
    return strcasecmp(bunit, "ELECTRON") == 0 || strcasecmp(bunit, "ELECTRONS") == 0 ||
           strcasecmp(bunit, "E-") == 0 || strcasecmp(bunit, "ELECTRON/S") == 0;
}

/* Keyword from the image HDU, else from the primary; the image HDU is selected again after. */
static bool key_double_either(struct fitsimg *f, int img_hdu, const char *name, double *out)
{
    double v = 0;
    if (fitsimg_key_double(f, name, &v, NULL) == ERR_OK) {
        *out = v;
        return true;
    }
    if (img_hdu == 0) {
        return false;
    }
    bool ok = fitsimg_select(f, 0, NULL) == ERR_OK && fitsimg_key_double(f, name, &v, NULL) == ERR_OK;
    if (fitsimg_select(f, img_hdu, NULL) != ERR_OK) {
        return false;
    }
    if (ok) {
        *out = v;
    }
    return ok;
}

static bool key_str_either(struct fitsimg *f, int img_hdu, const char *name, char *buf, size_t cap)
{
    if (fitsimg_key_str(f, name, buf, cap, NULL) == ERR_OK) {
        return true;
    }
    if (img_hdu == 0) {
        return false;
    }
    bool ok = fitsimg_select(f, 0, NULL) == ERR_OK &&
              fitsimg_key_str(f, name, buf, cap, NULL) == ERR_OK;
    if (fitsimg_select(f, img_hdu, NULL) != ERR_OK) {
        return false;
    }
    return ok;
}

/* Read a companion plane (ERR or DQ) of the same EXTVER when it exists and has the frame's size.
 * Returns ERR_OK with *out NULL when there is none or it is an all-zero constant array. */
static enum err read_companion(struct fitsimg *f, const char *name, int extver, int64_t nx,
                               int64_t ny, double **out, struct err_info *ei)
{
    *out = NULL;
    struct err_info tmp;
    if (fitsimg_select_name(f, name, extver, &tmp) != ERR_OK) {
        return ERR_OK;
    }
    struct fitsimg_info in;
    fitsimg_get_info(f, &in);
    if (in.nx == 0 && in.ny == 0) {
        return ERR_OK; /* empty placeholder */
    }
    if (in.constant && in.pixvalue == 0.0 && in.nx == nx && in.ny == ny) {
        return ERR_OK;
    }
    if (in.nx != nx || in.ny != ny) {
        return err_set(ei, ERR_FITS, "file \"%s\": %s,%d is %lldx%lld but SCI,%d is %lldx%lld",
                       fitsimg_path(f), name, extver, (long long)in.nx, (long long)in.ny, extver,
                       (long long)nx, (long long)ny);
    }
    int64_t a = 0, b = 0;
    return fitsimg_read_all(f, out, &a, &b, ei);
}

enum err calib_frame_read(const char *path, const char *hdu, struct calib_frame *f,
                          struct err_info *ei)
{
    memset(f, 0, sizeof(*f));
    struct fitsimg *fi = NULL;
    double *err_plane = NULL;
    double *dq_plane = NULL;
    enum err e = fitsimg_open(path, &fi, ei);
    if (e != ERR_OK) {
        return e;
    }
    if (hdu && *hdu) {
        e = fitsimg_select_spec(fi, hdu, ei);
    } else {
        struct err_info tmp;
        e = fitsimg_select_name(fi, "SCI", 1, &tmp);
        if (e != ERR_OK) {
            e = fitsimg_select_first_image(fi, ei);
        }
    }
    if (e != ERR_OK) {
        goto out;
    }
    struct fitsimg_info in;
    fitsimg_get_info(fi, &in);
    if (in.nx <= 0 || in.ny <= 0) {
        e = err_set(ei, ERR_FITS, "file \"%s\", hdu %d holds no image", path, in.hdu);
        goto out;
    }
    if (in.nplanes > 1) {
        e = err_set(ei, ERR_UNSUPPORTED, "file \"%s\", hdu %d: a cube of %lld planes is not a frame",
                    path, in.hdu, (long long)in.nplanes);
        goto out;
    }
    int64_t nx = 0, ny = 0;
    e = fitsimg_read_all(fi, &f->sci, &nx, &ny, ei);
    if (e != ERR_OK) {
        goto out;
    }
    f->nx = nx;
    f->ny = ny;
    str_copy(f->source, sizeof(f->source), path);
    char bunit[72] = "";
    if (!key_str_either(fi, in.hdu, "BUNIT", bunit, sizeof(bunit)) || bunit[0] == '\0') {
        str_copy(bunit, sizeof(bunit), "ADU");
    }
    for (char *p = bunit; *p; p++) {
        *p = (char)toupper((unsigned char)*p);
    }
    str_copy(f->bunit, sizeof(f->bunit), bunit);
    f->has_exptime = key_double_either(fi, in.hdu, "EXPTIME", &f->exptime);
    f->has_darktime = key_double_either(fi, in.hdu, "DARKTIME", &f->darktime);

    f->dq = calloc((size_t)(nx * ny), sizeof(uint16_t));
    if (!f->dq) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    if (strcasecmp(in.extname, "SCI") == 0) {
        e = read_companion(fi, "ERR", in.extver, nx, ny, &err_plane, ei);
        if (e != ERR_OK) {
            goto out;
        }
        e = read_companion(fi, "DQ", in.extver, nx, ny, &dq_plane, ei);
        if (e != ERR_OK) {
            goto out;
        }
        if (dq_plane) {
            for (int64_t i = 0; i < nx * ny; i++) {
                double d = dq_plane[i];
                f->dq[i] = (uint16_t)(d > 0 && d < 65536 ? (uint32_t)d : 0);
            }
        }
        f->err = err_plane;
        err_plane = NULL;
    }
out:
    free(err_plane);
    free(dq_plane);
    fitsimg_close(fi);
    if (e != ERR_OK) {
        calib_frame_free(f);
    }
    return e;
}

enum err calib_bpix_read(const char *path, const char *ccdamp, double ccdgain, double ltv1,
                         double ltv2, struct calib_bpix **rows, size_t *nrows, struct err_info *ei)
{
    *rows = NULL;
    *nrows = 0;
    struct fitsimg *f = NULL;
    double *cols[5] = {NULL, NULL, NULL, NULL, NULL};
    double *gains = NULL;
    struct calib_bpix *out = NULL;
    enum err e = fitsimg_open(path, &f, ei);
    if (e != ERR_OK) {
        return e;
    }
    int hdu = -1;
    for (int i = 1; i < fitsimg_hdu_count(f); i++) {
        if (fitsimg_select(f, i, NULL) == ERR_OK && fitsimg_table_has_col(f, "PIX1")) {
            hdu = i;
            break;
        }
    }
    if (hdu < 0) {
        e = err_set(ei, ERR_FITS, "file \"%s\" has no bad-pixel table (a table with PIX1)", path);
        goto out;
    }
    int64_t n = 0;
    e = fitsimg_table_rows(f, &n, ei);
    if (e != ERR_OK) {
        goto out;
    }
    static const char *const names[5] = {"PIX1", "PIX2", "LENGTH", "AXIS", "VALUE"};
    for (int c = 0; c < 5; c++) {
        cols[c] = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
        if (!cols[c]) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
            goto out;
        }
        e = fitsimg_table_read_col(f, names[c], n, cols[c], ei);
        if (e != ERR_OK) {
            goto out;
        }
    }
    bool has_amp = fitsimg_table_has_col(f, "CCDAMP");
    if (ccdgain > 0 && fitsimg_table_has_col(f, "CCDGAIN")) {
        gains = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
        if (!gains) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
            goto out;
        }
        e = fitsimg_table_read_col(f, "CCDGAIN", n, gains, ei);
        if (e != ERR_OK) {
            goto out;
        }
    }
    out = calloc((size_t)(n > 0 ? n : 1), sizeof(*out));
    if (!out) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t k = 0;
    for (int64_t r = 0; r < n; r++) {
        if (ccdamp && *ccdamp && has_amp) {
            char amp[32] = "";
            e = fitsimg_table_read_str(f, "CCDAMP", r, amp, sizeof(amp), ei);
            if (e != ERR_OK) {
                goto out;
            }
            if (!strstr(amp, ccdamp)) {
                continue;
            }
        }
        if (gains && isfinite(gains[r]) && gains[r] != ccdgain) {
            continue;
        }
        double p1 = cols[0][r], p2 = cols[1][r], len = cols[2][r], ax = cols[3][r],
               val = cols[4][r];
        if (!isfinite(p1) || !isfinite(p2) || !isfinite(len) || !(ax == 1 || ax == 2) ||
            !(val >= 0 && val < 65536) || len < 0 || len > 1e7 || fabs(p1) > 1e7 ||
            fabs(p2) > 1e7) {
            e = err_set(ei, ERR_FITS, "file \"%s\", hdu %d: bad bad-pixel row %lld", path, hdu,
                        (long long)(r + 1));
            goto out;
        }
        out[k].x = (int64_t)(p1 - 1 + ltv1);
        out[k].y = (int64_t)(p2 - 1 + ltv2);
        out[k].length = (int64_t)len;
        out[k].axis = (int)ax;
        out[k].value = (uint16_t)val;
        k++;
    }
    *rows = out;
    *nrows = k;
    out = NULL;
    e = ERR_OK;
out:
    for (int c = 0; c < 5; c++) {
        free(cols[c]);
    }
    free(gains);
    free(out);
    fitsimg_close(f);
    return e;
}

enum err calib_frame_write(const struct calib_frame *f, const char *path, const char *header_from,
                           const struct calib_record *rec, const struct calib_write_opts *wo,
                           struct err_info *ei)
{
    struct calib_write_opts defaults = {false, false, false};
    if (!wo) {
        wo = &defaults;
    }
    struct fitsimg_writer *w = NULL;
    struct fitsimg *src = NULL;
    enum err e = fitsimg_writer_create(path, &w, ei);
    if (e != ERR_OK) {
        return e;
    }
    fitsimg_writer_set_checksum(w, wo->checksum);
    fitsimg_writer_set_sync(w, !wo->no_sync);
    int src_img = 0;
    if (header_from) {
        if ((e = fitsimg_open(header_from, &src, ei)) != ERR_OK ||
            (e = fitsimg_writer_copy_keys(w, src, ei)) != ERR_OK) {
            goto out;
        }
        struct err_info tmp;
        if (fitsimg_select_name(src, "SCI", 1, &tmp) == ERR_OK ||
            fitsimg_select_first_image(src, &tmp) == ERR_OK) {
            struct fitsimg_info in;
            fitsimg_get_info(src, &in);
            src_img = in.hdu;
        }
    }
    if (rec) {
        for (int i = 0; i < rec->nkeys; i++) {
            const char *c = rec->keys[i].comment[0] ? rec->keys[i].comment : NULL;
            e = rec->keys[i].is_num
                    ? fitsimg_writer_key_double(w, rec->keys[i].name, rec->keys[i].num, c, ei)
                    : fitsimg_writer_key_str(w, rec->keys[i].name, rec->keys[i].str, c, ei);
            if (e != ERR_OK) {
                goto out;
            }
        }
        for (int i = 0; i < rec->nhistory; i++) {
            if ((e = fitsimg_writer_history(w, rec->history[i], ei)) != ERR_OK) {
                goto out;
            }
        }
    }
    enum fitsimg_type ft = wo->float32 ? FITSIMG_F32 : FITSIMG_F64;
    if ((e = fitsimg_writer_add_image(w, "SCI", 1, ft, f->nx, f->ny, NULL, ei)) != ERR_OK) {
        goto out;
    }
    if (src && src_img > 0 && (e = fitsimg_writer_copy_keys(w, src, ei)) != ERR_OK) {
        goto out;
    }
    if ((e = fitsimg_writer_key_str(w, "BUNIT", f->bunit, "units of the pixels", ei)) != ERR_OK ||
        (e = fitsimg_writer_write_rows(w, 0, f->ny, FITSIMG_F64, f->sci, ei)) != ERR_OK) {
        goto out;
    }
    if (f->err) {
        e = fitsimg_writer_add_image(w, "ERR", 1, ft, f->nx, f->ny, NULL, ei);
        if (e == ERR_OK) {
            e = fitsimg_writer_write_rows(w, 0, f->ny, FITSIMG_F64, f->err, ei);
        }
    } else {
        e = fitsimg_writer_add_constant(w, "ERR", 1, ft, f->nx, f->ny, 0.0, NULL, ei);
    }
    if (e != ERR_OK ||
        (e = fitsimg_writer_key_str(w, "BUNIT", f->bunit, "units of the errors", ei)) != ERR_OK) {
        goto out;
    }
    bool dq_zero = true;
    for (int64_t i = 0; i < f->nx * f->ny && dq_zero; i++) {
        dq_zero = f->dq[i] == 0;
    }
    if (dq_zero) {
        e = fitsimg_writer_add_constant(w, "DQ", 1, FITSIMG_I16, f->nx, f->ny, 0.0, NULL, ei);
    } else {
        e = fitsimg_writer_add_image(w, "DQ", 1, FITSIMG_I16, f->nx, f->ny, NULL, ei);
        if (e == ERR_OK) {
            e = fitsimg_writer_write_rows(w, 0, f->ny, FITSIMG_U16, f->dq, ei);
        }
    }
    if (e != ERR_OK) {
        goto out;
    }
    e = fitsimg_writer_commit(w, ei);
out:
    fitsimg_close(src);
    fitsimg_writer_destroy(w);
    return e;
}
