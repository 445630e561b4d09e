/* fits_cfitsio.c - FITS files and in-memory FITS read with cfitsio into the header model, the
 * header-text to FITS-block renderer, and the bare cfitsio scan used as benchmark baseline.
 * SPDX-License-Identifier: Apache-2.0 */
#include "fits/fits.h"
#include "fits/fits_int.h"

#include "core/str.h"

#include <fitsio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Turn a cfitsio status into ERR_FITS with the cfitsio text and its drained error stack. */
static enum err fits_fail(struct err_info *ei, int status, const char *name, int hdu,
                          const char *what)
{
    char text[FLEN_STATUS] = "";
    char msg[FLEN_ERRMSG] = "";
    char first[FLEN_ERRMSG] = "";
    fits_get_errstatus(status, text);
    while (fits_read_errmsg(msg)) {
        if (first[0] == '\0') {
            str_copy(first, sizeof first, msg);
        }
    }
    if (hdu >= 0) {
        return err_set(ei, ERR_FITS, "could not %s \"%s\" HDU %d: %s%s%s", what, name, hdu, text,
                       first[0] ? ": " : "", first);
    }
    return err_set(ei, ERR_FITS, "could not %s \"%s\": %s%s%s", what, name, text,
                   first[0] ? ": " : "", first);
}

/* Read every HDU of an open cfitsio file into a new header model. */
static enum err read_all(fitsfile *fp, const char *name, struct fhdr_file **out,
                         struct err_info *ei)
{
    struct fhdr_file *f = NULL;
    enum err e = fhdr__file_new(name, &f);
    char *hdr = NULL;
    if (e != ERR_OK) {
        return err_set(ei, e, "out of memory reading \"%s\"", name);
    }
    for (int i = 1;; i++) {
        int status = 0;
        int type = 0;
        int nkeys = 0;
        if (i > FHDR_MAX_HDUS) {
            e = err_set(ei, ERR_TOO_LARGE, "\"%s\" has more than %d HDUs", name, FHDR_MAX_HDUS);
            goto out;
        }
        if (i > 1 && fits_movabs_hdu(fp, i, &type, &status)) {
            if (status == END_OF_FILE) {
                fits_clear_errmsg();
                break;
            }
            e = fits_fail(ei, status, name, i - 1, "read");
            goto out;
        }
        if (fits_convert_hdr2str(fp, 0, NULL, 0, &hdr, &nkeys, &status)) {
            e = fits_fail(ei, status, name, i - 1, "read the header of");
            goto out;
        }
        if ((e = fhdr__file_add_hdu(f, ei)) != ERR_OK) {
            goto out;
        }
        size_t n = strlen(hdr) / 80;
        for (size_t k = 0; k < n; k++) {
            struct fhdr_card c;
            if (fhdr_card_parse(hdr + 80 * k, 80, &c) != ERR_OK) {
                char shown[81];
                memcpy(shown, hdr + 80 * k, 80);
                shown[80] = '\0';
                e = err_set(ei, ERR_PARSE, "\"%s\" HDU %d card %zu: malformed card: \"%s\"", name,
                            i - 1, k + 1, shown);
                goto out;
            }
            c.line = (int)(k + 1);
            if (strcmp(c.key, "END") == 0) {
                f->hdus[f->nhdus - 1].has_end = true;
                break;
            }
            if ((e = fhdr__hdu_push(f, &c, ei)) != ERR_OK) {
                goto out;
            }
        }
        f->hdus[f->nhdus - 1].has_end = true;
        fits_free_memory(hdr, &status);
        hdr = NULL;
    }
    *out = f;
    f = NULL;
out:
    if (hdr) {
        int st = 0;
        fits_free_memory(hdr, &st);
    }
    fhdr_file_destroy(f);
    return e;
}

enum err fhdr__open_cfitsio(const char *path, const char *name, struct fhdr_file **out,
                            struct err_info *ei)
{
    fitsfile *fp = NULL;
    int status = 0;
    /* diskfile: no extended-filename syntax, so '+' and '[' in names are literal */
    if (fits_open_diskfile(&fp, path, READONLY, &status)) {
        return fits_fail(ei, status, name, -1, "open FITS file");
    }
    enum err e = read_all(fp, name, out, ei);
    status = 0;
    fits_close_file(fp, &status);
    return e;
}

enum err fhdr_file_parse_fits(const char *name, const void *data, size_t len,
                              struct fhdr_file **out, struct err_info *ei)
{
    fitsfile *fp = NULL;
    int status = 0;
    void *mem = (void *)(uintptr_t)data; /* opened READONLY: cfitsio does not write */
    size_t size = len;
    if (len < 2880) {
        return err_set(ei, ERR_FITS, "\"%s\" is not a FITS file: shorter than one block", name);
    }
    if (fits_open_memfile(&fp, name, READONLY, &mem, &size, 0, NULL, &status)) {
        return fits_fail(ei, status, name, -1, "open FITS data");
    }
    enum err e = read_all(fp, name, out, ei);
    status = 0;
    fits_close_file(fp, &status);
    return e;
}

enum err fhdr_cfitsio_scan(const void *data, size_t len, size_t *ncards, struct err_info *ei)
{
    fitsfile *fp = NULL;
    int status = 0;
    void *mem = (void *)(uintptr_t)data;
    size_t size = len;
    size_t total = 0;
    enum err e = ERR_OK;
    if (fits_open_memfile(&fp, "mem", READONLY, &mem, &size, 0, NULL, &status)) {
        return fits_fail(ei, status, "mem", -1, "open FITS data");
    }
    for (int i = 1; i <= FHDR_MAX_HDUS; i++) {
        int type = 0;
        int nkeys = 0;
        char *hdr = NULL;
        if (i > 1 && fits_movabs_hdu(fp, i, &type, &status)) {
            if (status == END_OF_FILE) {
                fits_clear_errmsg();
                status = 0;
                break;
            }
            e = fits_fail(ei, status, "mem", i - 1, "read");
            goto out;
        }
        if (fits_hdr2str(fp, 0, NULL, 0, &hdr, &nkeys, &status)) {
            e = fits_fail(ei, status, "mem", i - 1, "read the header of");
            goto out;
        }
        total += (size_t)nkeys;
        fits_free_memory(hdr, &status);
    }
    *ncards = total;
out:
    status = 0;
    fits_close_file(fp, &status);
    return e;
}

/* Append one 80-column card to a growing block buffer. */
static enum err put_card(char **buf, size_t *len, size_t *cap, const char *img)
{
    if (*len + 80 > *cap) {
        size_t nc = *cap ? *cap * 2 : 2880 * 4;
        char *p = realloc(*buf, nc);
        if (!p) {
            return ERR_NOMEM;
        }
        *buf = p;
        *cap = nc;
    }
    memcpy(*buf + *len, img, 80);
    *len += 80;
    return ERR_OK;
}

static enum err pad_block(char **buf, size_t *len, size_t *cap)
{
    char blank[80];
    memset(blank, ' ', sizeof blank);
    while (*len % 2880 != 0) {
        enum err e = put_card(buf, len, cap, blank);
        if (e != ERR_OK) {
            return e;
        }
    }
    return ERR_OK;
}

enum err fhdr_hdu_to_fits(const struct fhdr_hdu *h, char **out, size_t *outlen)
{
    char *buf = NULL;
    size_t n = 0;
    size_t cap = 0;
    char end[80];
    enum err e = ERR_OK;
    memset(end, ' ', sizeof end);
    memcpy(end, "END", 3);
    if (h->ncards > 0 && strcmp(h->cards[0].key, "XTENSION") == 0) {
        static const char *prim[] = {"SIMPLE  =                    T", "BITPIX  =                    8",
                                     "NAXIS   =                    0", "EXTEND  =                    T"};
        for (size_t i = 0; i < 4; i++) {
            char img[80];
            memset(img, ' ', sizeof img);
            memcpy(img, prim[i], strlen(prim[i]));
            if ((e = put_card(&buf, &n, &cap, img)) != ERR_OK) {
                goto out;
            }
        }
        if ((e = put_card(&buf, &n, &cap, end)) != ERR_OK || (e = pad_block(&buf, &n, &cap))) {
            goto out;
        }
    }
    for (size_t k = 0; k < h->ncards; k++) {
        if ((e = put_card(&buf, &n, &cap, h->cards[k].image)) != ERR_OK) {
            goto out;
        }
    }
    if ((e = put_card(&buf, &n, &cap, end)) != ERR_OK || (e = pad_block(&buf, &n, &cap))) {
        goto out;
    }
    *out = buf;
    *outlen = n;
    buf = NULL;
out:
    free(buf);
    return e;
}
