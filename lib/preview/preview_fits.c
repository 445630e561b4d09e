/* preview_fits.c - preview of a FITS file, streamed: the autoscale reads only the sampled rows,
 * then the image is read band by band (bottom-up for the top-first JPEG rows at full size, or
 * block-averaged band by band for a reduced size), so memory is a band plus the output.
 * SPDX-License-Identifier: Apache-2.0 */
#include "preview/preview.h"
#include "preview/preview_int.h"

#include "core/atomic_file.h"

#include "core/str.h"
#include "fits/fits_image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PREVIEW_BAND_VALUES ((size_t)1 << 19) /* doubles per band read (4 MiB) */
#define PREVIEW_WHOLE_MAX   ((size_t)1 << 21) /* images up to this many pixels are read whole */

static void read_badpix(struct fitsimg *f, struct preview_badpix *bp)
{
    memset(bp, 0, sizeof *bp);
    bp->has_badpix = fitsimg_key_double(f, "BADPIX", &bp->badpix, NULL) == ERR_OK;
    bp->has_goodmin = fitsimg_key_double(f, "GOODMIN", &bp->goodmin, NULL) == ERR_OK;
    bp->has_goodmax = fitsimg_key_double(f, "GOODMAX", &bp->goodmax, NULL) == ERR_OK;
    /* old STScI headers (WFPC2) carry GOODMIN = GOODMAX = 0 meaning "not set": a range that
     * is empty cannot describe good pixels, so it is ignored */
    if (bp->has_goodmin && bp->has_goodmax && !(bp->goodmax > bp->goodmin)) {
        bp->has_goodmin = false;
        bp->has_goodmax = false;
    }
}

struct src {
    struct fitsimg *f;
    size_t nx, ny;
    struct preview_badpix bp;
    bool badpix;
};

static enum err read_band(struct src *s, size_t row0, size_t nrows, double *out,
                          struct err_info *ei)
{
    enum err rc = fitsimg_read_rows(s->f, (int64_t)row0, (int64_t)nrows, out, ei);
    if (rc == ERR_OK && s->badpix) {
        (void)preview_apply_badpix(out, s->nx * nrows, &s->bp);
    }
    return rc;
}

static enum err autoscale(struct src *s, const struct preview_opts *o, struct preview_scale *sc,
                          struct err_info *ei)
{
    size_t nrows = preview__sample_nrows(s->nx, s->ny);
    double *rows = malloc(sizeof *rows * nrows * s->nx);
    enum err rc = ERR_OK;
    if (!rows) {
        return err_set(ei, ERR_NOMEM, "out of memory for the autoscale sample");
    }
    for (size_t r = 0; r < nrows && rc == ERR_OK; r++) {
        rc = read_band(s, preview__sample_row(r, nrows, s->ny), 1, rows + r * s->nx, ei);
    }
    if (rc == ERR_OK) {
        rc = preview__autoscale_rows(rows, s->nx, nrows, o->autoscale, sc, ei);
    }
    free(rows);
    return rc;
}

/* Full resolution: bands from the top of the image down, each row mapped and encoded. */
static enum err encode_full(struct src *s, const struct preview__mapper *m,
                            struct preview__jpeg *j, struct err_info *ei)
{
    size_t band = PREVIEW_BAND_VALUES / s->nx;
    if (band == 0) {
        band = 1;
    }
    double *buf = malloc(sizeof *buf * band * s->nx);
    uint8_t *grey = malloc(s->nx);
    enum err rc = ERR_OK;
    if (!buf || !grey) {
        rc = err_set(ei, ERR_NOMEM, "out of memory for a band");
        goto out;
    }
    for (size_t top = s->ny; top > 0 && rc == ERR_OK;) {
        size_t r0 = top > band ? top - band : 0;
        rc = read_band(s, r0, top - r0, buf, ei);
        for (size_t y = top; rc == ERR_OK && y > r0; y--) {
            const double *p = buf + (y - 1 - r0) * s->nx;
            for (size_t x = 0; x < s->nx; x++) {
                grey[x] = preview__grey(m, p[x]);
            }
            rc = preview__jpeg_row(j, grey, ei);
        }
        top = r0;
    }
out:
    free(buf);
    free(grey);
    return rc;
}

/* Reduced size: block-average by f band by band (or read whole when f <= 1), then resample. */
static enum err shrink(struct src *s, size_t f, double **out, size_t *sx, size_t *sy,
                       struct err_info *ei)
{
    enum err rc = ERR_OK;
    if (f <= 1) {
        int64_t nx, ny;
        rc = fitsimg_read_all(s->f, out, &nx, &ny, ei);
        if (rc == ERR_OK && s->badpix) {
            (void)preview_apply_badpix(*out, (size_t)nx * (size_t)ny, &s->bp);
        }
        *sx = (size_t)nx;
        *sy = (size_t)ny;
        return rc;
    }
    size_t bx = s->nx / f, by = s->ny / f;
    size_t k = PREVIEW_BAND_VALUES / (s->nx * f); /* block rows per read */
    if (k == 0) {
        k = 1;
    }
    double *o = malloc(sizeof *o * bx * by);
    double *buf = malloc(sizeof *buf * s->nx * f * k);
    if (!o || !buf) {
        free(o);
        free(buf);
        return err_set(ei, ERR_NOMEM, "out of memory shrinking the image");
    }
    for (size_t y = 0; y < by && rc == ERR_OK; y += k) {
        size_t nb = by - y < k ? by - y : k;
        rc = read_band(s, y * f, nb * f, buf, ei);
        for (size_t i = 0; rc == ERR_OK && i < nb; i++) {
            preview__shrink_band(buf + i * f * s->nx, s->nx, f, o + (y + i) * bx);
        }
    }
    free(buf);
    if (rc != ERR_OK) {
        free(o);
        return rc;
    }
    *out = o;
    *sx = bx;
    *sy = by;
    return ERR_OK;
}

static enum err encode_reduced(struct src *s, const struct preview_opts *o,
                               const struct preview__mapper *m, size_t w, size_t h,
                               struct preview__jpeg *j, struct err_info *ei)
{
    size_t maxdim = s->nx > s->ny ? s->nx : s->ny;
    size_t f = maxdim / (size_t)o->size;
    double *small = NULL, *sized = NULL;
    size_t sx = 0, sy = 0;
    uint8_t *grey = NULL;
    enum err rc = shrink(s, f, &small, &sx, &sy, ei);
    if (rc != ERR_OK) {
        return rc;
    }
    const double *src = small;
    if (w != sx || h != sy) {
        sized = preview__resample(small, sx, sy, w, h);
        if (!sized) {
            rc = err_set(ei, ERR_NOMEM, "out of memory resizing the image");
            goto out;
        }
        src = sized;
    }
    grey = malloc(w);
    if (!grey) {
        rc = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t y = 0; y < h && rc == ERR_OK; y++) {
        const double *p = src + (h - 1 - y) * w; /* FITS row 1 is the bottom */
        for (size_t x = 0; x < w; x++) {
            grey[x] = preview__grey(m, p[x]);
        }
        rc = preview__jpeg_row(j, grey, ei);
    }
out:
    free(grey);
    free(sized);
    free(small);
    return rc;
}

enum err preview_file(const char *in, const char *out, const struct preview_opts *o,
                      struct preview_result *res, struct err_info *ei)
{
    enum err rc;
    struct src s;
    struct fitsimg_info info;
    struct preview_scale sc;
    struct preview__mapper *m = NULL;
    struct preview__jpeg *j = NULL;
    unsigned char *jpg = NULL;
    size_t jlen = 0, w = 0, h = 0;

    memset(&s, 0, sizeof s);
    if (o->size > PREVIEW_MAX_SIZE) {
        return err_set(ei, ERR_INVALID, "preview size %d is larger than %d", o->size,
                       PREVIEW_MAX_SIZE);
    }
    rc = fitsimg_open(in, &s.f, ei);
    if (rc != ERR_OK) {
        goto out;
    }
    rc = fitsimg_select_first_image(s.f, ei);
    if (rc != ERR_OK) {
        goto out;
    }
    fitsimg_get_info(s.f, &info);
    if (info.nx <= 0 || info.ny <= 0 || info.nx > FITSIMG_MAX_AXIS ||
        info.ny > FITSIMG_MAX_AXIS) {
        rc = err_set(ei, ERR_FITS, "file \"%s\" HDU %d: image of %lldx%lld pixels", in,
                     info.hdu, (long long)info.nx, (long long)info.ny);
        goto out;
    }
    s.nx = (size_t)info.nx;
    s.ny = (size_t)info.ny;
    s.badpix = o->badpix;
    if (s.badpix) {
        read_badpix(s.f, &s.bp);
    }
    if (s.nx * s.ny <= PREVIEW_WHOLE_MAX) {
        /* small image: one read, then the in-memory algorithm (same result as streaming) */
        double *pix = NULL;
        uint8_t *grey = NULL;
        int64_t nx, ny;
        rc = fitsimg_read_all(s.f, &pix, &nx, &ny, ei);
        if (rc != ERR_OK) {
            goto out;
        }
        if (s.badpix) {
            (void)preview_apply_badpix(pix, s.nx * s.ny, &s.bp);
        }
        rc = preview_render(pix, s.nx, s.ny, o, &grey, &w, &h, &sc, ei);
        free(pix);
        if (rc != ERR_OK) {
            err_prefix(ei, "file \"%s\" HDU %d: ", in, info.hdu);
            goto out;
        }
        rc = preview_jpeg_encode(grey, w, h, o->quality, &jpg, &jlen, ei);
        free(grey);
        if (rc != ERR_OK) {
            goto out;
        }
        goto write;
    }
    rc = autoscale(&s, o, &sc, ei);
    if (rc != ERR_OK) {
        err_prefix(ei, "file \"%s\" HDU %d: ", in, info.hdu);
        goto out;
    }
    m = malloc(sizeof *m);
    if (!m) {
        rc = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    preview__mapper_init(m, &sc, o);
    preview__out_size(s.nx, s.ny, o->size, &w, &h);
    rc = preview__jpeg_begin(w, h, o->quality, &j, ei);
    if (rc != ERR_OK) {
        goto out;
    }
    if (o->size <= 0) {
        rc = encode_full(&s, m, j, ei);
    } else {
        rc = encode_reduced(&s, o, m, w, h, j, ei);
    }
    if (rc != ERR_OK) {
        goto out;
    }
    rc = preview__jpeg_finish(j, &jpg, &jlen, ei);
    j = NULL;
    if (rc != ERR_OK) {
        goto out;
    }
write:
    rc = atomic_file_put(out, jpg, jlen, o->durable, ei);
    if (rc != ERR_OK) {
        goto out;
    }
    if (res) {
        memset(res, 0, sizeof *res);
        res->width = w;
        res->height = h;
        res->in_nx = s.nx;
        res->in_ny = s.ny;
        res->hdu = info.hdu;
        str_copy(res->extname, sizeof res->extname, info.extname);
        res->scale = sc;
        res->bytes = jlen;
    }
out:
    preview__jpeg_abort(j);
    free(jpg);
    free(m);
    fitsimg_close(s.f);
    return rc;
}
