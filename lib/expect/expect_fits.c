/* expect_fits.c - describe a FITS file as an expect_header (every HDU, every card, and NAXISn
 * of its image) through lib/fits, so intake can check it against an expectation.
 * SPDX-License-Identifier: Apache-2.0 */
#include "expect/expect.h"

#include "fits/fits_image.h"

#include <stdio.h>

struct add_ctx {
    struct expect_header *h;
    struct err_info *ei;
    enum err rc;
};

static bool add_card(const char *card, void *arg)
{
    struct add_ctx *c = arg;
    c->rc = expect_header_add_card(c->h, card, c->ei);
    return c->rc == ERR_OK;
}

enum err expect_header_from_fits(const char *path, struct expect_header **out, struct err_info *ei)
{
    struct fitsimg *f = NULL;
    struct expect_header *h = NULL;
    enum err rc = fitsimg_open(path, &f, ei);
    if (rc != ERR_OK) {
        goto out;
    }
    rc = expect_header_create(&h, ei);
    if (rc != ERR_OK) {
        goto out;
    }
    int n = fitsimg_hdu_count(f);
    for (int i = 0; i < n; i++) {
        struct fitsimg_info info;
        rc = fitsimg_select(f, i, ei);
        if (rc != ERR_OK) {
            goto out;
        }
        fitsimg_get_info(f, &info);
        /* BITPIX as written in the header (info.bitpix may be the equivalent type, e.g. 20
         * for 16 with BZERO 32768) */
        int64_t bitpix = info.bitpix;
        if (fitsimg_key_int(f, "BITPIX", &bitpix, NULL) != ERR_OK) {
            bitpix = info.bitpix;
        }
        rc = expect_header_add_hdu(h, i, info.extname, info.extver, (int)bitpix, info.naxis, ei);
        if (rc != ERR_OK) {
            goto out;
        }
        /* lib/fits passes on no structural card: the axes the shape rules compare */
        int64_t axes[3] = {info.nx, info.ny, info.nplanes};
        for (int k = 0; k < info.naxis && k < 3 && rc == ERR_OK; k++) {
            char card[81];
            snprintf(card, sizeof card, "NAXIS%d  = %20lld", k + 1, (long long)axes[k]);
            rc = expect_header_add_card(h, card, ei);
        }
        if (rc != ERR_OK) {
            goto out;
        }
        struct add_ctx c = {.h = h, .ei = ei, .rc = ERR_OK};
        rc = fitsimg_each_card(f, add_card, &c, ei);
        if (rc == ERR_OK) {
            rc = c.rc;
        }
        if (rc != ERR_OK) {
            goto out;
        }
    }
    *out = h;
    h = NULL;
out:
    expect_header_destroy(h);
    fitsimg_close(f);
    return rc;
}
