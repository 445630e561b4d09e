/* preview_fits.c - preview of a FITS file: first image HDU, BADPIX/GOODMIN/GOODMAX, JPEG out.
 * SPDX-License-Identifier: Apache-2.0 */
#include "preview/preview.h"

#include "core/str.h"
#include "fits/fits_image.h"

#include <stdlib.h>
#include <string.h>

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

enum err preview_file(const char *in, const char *out, const struct preview_opts *o,
                      struct preview_result *res, struct err_info *ei)
{
    enum err rc;
    struct fitsimg *f = NULL;
    struct fitsimg_info info;
    double *pix = NULL;
    uint8_t *grey = NULL;
    unsigned char *jpg = NULL;
    size_t jlen = 0, w = 0, h = 0;
    int64_t nx = 0, ny = 0;
    struct preview_scale sc;

    rc = fitsimg_open(in, &f, ei);
    if (rc != ERR_OK) {
        goto out;
    }
    rc = fitsimg_select_first_image(f, ei);
    if (rc != ERR_OK) {
        goto out;
    }
    fitsimg_get_info(f, &info);
    rc = fitsimg_read_all(f, &pix, &nx, &ny, ei);
    if (rc != ERR_OK) {
        goto out;
    }
    if (o->badpix) {
        struct preview_badpix bp;
        read_badpix(f, &bp);
        (void)preview_apply_badpix(pix, (size_t)nx * (size_t)ny, &bp);
    }
    rc = preview_render(pix, (size_t)nx, (size_t)ny, o, &grey, &w, &h, &sc, ei);
    if (rc != ERR_OK) {
        err_prefix(ei, "file \"%s\" HDU %d: ", in, info.hdu);
        goto out;
    }
    rc = preview_jpeg_encode(grey, w, h, o->quality, &jpg, &jlen, ei);
    if (rc != ERR_OK) {
        goto out;
    }
    rc = preview_write_atomic(out, jpg, jlen, ei);
    if (rc != ERR_OK) {
        goto out;
    }
    if (res) {
        memset(res, 0, sizeof *res);
        res->width = w;
        res->height = h;
        res->in_nx = (size_t)nx;
        res->in_ny = (size_t)ny;
        res->hdu = info.hdu;
        str_copy(res->extname, sizeof res->extname, info.extname);
        res->scale = sc;
        res->bytes = jlen;
    }
out:
    free(jpg);
    free(grey);
    free(pix);
    fitsimg_close(f);
    return rc;
}
