/* fits_cfitsio.c - FITS files and in-memory FITS read with cfitsio into the header model, the
 * header-text to FITS-block renderer, and the bare cfitsio scan used as benchmark baseline.
 * SPDX-License-Identifier: Apache-2.0 */
#include "fits/fits.h"
#include "fits/fits_int.h"

#include "core/str.h"

#include <fitsio.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Turn a cfitsio status into ERR_FITS with the cfitsio text and its drained error stack (the
 * first message, and the one after it when the first ends with a colon). */
static enum err fits_fail(struct err_info *ei, int status, const char *name, int hdu,
                          const char *what)
{
    char text[FLEN_STATUS] = "";
    char msg[FLEN_ERRMSG] = "";
    char first[2 * FLEN_ERRMSG] = "";
    int taken = 0;
    fits_get_errstatus(status, text);
    while (fits_read_errmsg(msg)) {
        size_t fl = strlen(first);
        if (taken == 0) {
            str_copy(first, sizeof first, msg);
            taken = 1;
        } else if (taken == 1 && fl > 0 && first[fl - 1] == ':') {
            first[fl - 1] = '\0';
            size_t k = strlen(first);
            snprintf(first + k, sizeof first - k, " (%s)", msg);
            taken = 2;
        }
    }
    if (hdu >= 0) {
        return err_set(ei, ERR_FITS, "could not %s \"%s\" HDU %d: %s%s%s", what, name, hdu, text,
                       first[0] ? ": " : "", first);
    }
    return err_set(ei, ERR_FITS, "could not %s \"%s\": %s%s%s", what, name, text,
                   first[0] ? ": " : "", first);
}

/* ---- tiled-image convention: table header -> image header --------------------------------- */

static bool key_is_indexed(const char *key, const char *pfx)
{
    size_t n = strlen(pfx);
    if (strncmp(key, pfx, n) != 0 || key[n] == '\0') {
        return false;
    }
    for (const char *p = key + n; *p; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
    }
    return true;
}

static bool table_or_compression_key(const char *k)
{
    static const char *const fixed[] = {
        "XTENSION", "BITPIX", "NAXIS", "PCOUNT", "GCOUNT", "TFIELDS", "THEAP", "ZIMAGE",
        "ZBITPIX", "ZNAXIS", "ZCMPTYPE", "ZQUANTIZ", "ZDITHER0", "ZMASKCMP", "ZSIMPLE",
        "ZTENSION", "ZEXTEND", "ZBLOCKED", "ZPCOUNT", "ZGCOUNT", "CHECKSUM", "DATASUM"};
    static const char *const indexed[] = {"NAXIS", "TTYPE", "TFORM", "TUNIT", "TNULL", "TSCAL",
                                          "TZERO", "TDIM", "TDISP", "ZNAXIS", "ZTILE", "ZNAME",
                                          "ZVAL"};
    for (size_t i = 0; i < ARRAY_LEN(fixed); i++) {
        if (strcmp(k, fixed[i]) == 0) {
            return true;
        }
    }
    for (size_t i = 0; i < ARRAY_LEN(indexed); i++) {
        if (key_is_indexed(k, indexed[i])) {
            return true;
        }
    }
    return false;
}

/* a card "KEY = value" (value text already FITS-formatted) */
static void synth_card(struct fhdr_card *out, const char *key, const char *val, int line)
{
    char img[81];
    int n = snprintf(img, sizeof img, "%-8.8s= %20s", key, val);
    if (n < 0) {
        n = 0;
    }
    if (fhdr_card_parse(img, (size_t)n > 80 ? 80 : (size_t)n, out) != ERR_OK) {
        memset(out, 0, sizeof *out);
    }
    out->line = line;
}

static const char *card_raw(const struct fhdr_hdu *h, const char *key)
{
    const struct fhdr_card *c = fhdr_hdu_find(h, key);
    return c ? c->value : NULL;
}

/* Rewrite the last HDU of @p f (a ZIMAGE table header) as the image header it stores. */
static enum err uncompress_header(struct fhdr_file *f, struct err_info *ei)
{
    struct fhdr_hdu *h = &f->hdus[f->nhdus - 1];
    bool zimage = false;
    long znaxis = 0;
    if (fhdr_get_bool(h, "ZIMAGE", &zimage, NULL) != ERR_OK || !zimage ||
        fhdr_get_long(h, "ZNAXIS", &znaxis, NULL) != ERR_OK || znaxis < 0 || znaxis > 999) {
        return ERR_OK;
    }
    /* room for every card it can write: SIMPLE or XTENSION, BITPIX, NAXIS, the NAXISn, PCOUNT,
     * GCOUNT and the table's own cards (no growth, so no second failure path) */
    size_t cap = 5 + (size_t)znaxis + h->ncards;
    struct fhdr_card *nc = calloc(cap, sizeof *nc);
    size_t n = 0;
    if (!nc) {
        return err_set(ei, ERR_NOMEM, "out of memory reading \"%s\"", f->name);
    }
    const char *zt = card_raw(h, "ZTENSION");
    char q[80];
    if (card_raw(h, "ZSIMPLE")) {
        synth_card(&nc[n++], "SIMPLE", "T", 1);
    } else {
        snprintf(q, sizeof q, "'%s'", zt ? zt : "IMAGE");
        synth_card(&nc[n++], "XTENSION", q, 1);
    }
    const char *zb = card_raw(h, "ZBITPIX");
    synth_card(&nc[n++], "BITPIX", zb ? zb : "8", 2);
    snprintf(q, sizeof q, "%ld", znaxis);
    synth_card(&nc[n++], "NAXIS", q, 3);
    for (long i = 1; i <= znaxis; i++) {
        char zk[16];
        char k[16];
        snprintf(zk, sizeof zk, "ZNAXIS%ld", i);
        snprintf(k, sizeof k, "NAXIS%ld", i);
        const char *v = card_raw(h, zk);
        synth_card(&nc[n++], k, v ? v : "0", (int)(3 + i));
    }
    if (!card_raw(h, "ZSIMPLE")) {
        const char *pc = card_raw(h, "ZPCOUNT");
        const char *gc = card_raw(h, "ZGCOUNT");
        synth_card(&nc[n++], "PCOUNT", pc ? pc : "0", 0);
        synth_card(&nc[n++], "GCOUNT", gc ? gc : "1", 0);
    }
    for (size_t i = 0; i < h->ncards; i++) {
        struct fhdr_card c = h->cards[i];
        if (c.type != FHDR_NONE && table_or_compression_key(c.key)) {
            continue;
        }
        if (strcmp(c.key, "ZHECKSUM") == 0 || strcmp(c.key, "ZDATASUM") == 0) {
            memmove(c.key, c.key + 1, strlen(c.key));
            memmove(c.image, c.image + 1, 7);
            c.image[7] = ' ';
        }
        nc[n++] = c;
    }
    free(h->cards);
    h->cards = nc;
    f->ncards = f->ncards - h->ncards + n;
    h->ncards = n;
    f->capcards[f->nhdus - 1] = cap;
    return ERR_OK;
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
        bool rebuilt = false;
        /* a file cut inside this HDU's data: cfitsio would only report the end of file when
         * moving to the next HDU, so compare the data end with the file size (the final
         * block's padding may be missing) */
        LONGLONG head = 0;
        LONGLONG dstart = 0;
        LONGLONG dend = 0;
        if (fits_get_hduaddrll(fp, &head, &dstart, &dend, &status) == 0 &&
            dend > fp->Fptr->logfilesize + 2880) {
            e = err_set(ei, ERR_FITS, "\"%s\" HDU %d: truncated file: the data of this HDU end "
                        "at byte %lld but the file has %lld bytes", name, i - 1, (long long)dend,
                        (long long)fp->Fptr->logfilesize);
            goto out;
        }
        status = 0;
        if (fits_convert_hdr2str(fp, 0, NULL, 0, &hdr, &nkeys, &status)) {
            /* cfitsio cannot rebuild the image header of some compressed HDUs: read the
             * table header and rebuild the image header ourselves (tiled-image convention) */
            rebuilt = true;
            status = 0;
            fits_clear_errmsg();
            if (hdr) {
                fits_free_memory(hdr, &status); /* a partial result of the failed call */
                status = 0;
            }
            hdr = NULL;
            if (fits_hdr2str(fp, 0, NULL, 0, &hdr, &nkeys, &status)) {
                e = fits_fail(ei, status, name, i - 1, "read the header of");
                goto out;
            }
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
        if (rebuilt && (e = uncompress_header(f, ei)) != ERR_OK) {
            goto out;
        }
    }
    if ((e = fhdr__join_continue(f, ei)) != ERR_OK || (e = fhdr__build_index(f, ei)) != ERR_OK) {
        goto out;
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

static void cfitsio_init(void)
{
    fitsfile *fp = NULL;
    int status = 0;
    size_t size = 2880;
    void *mem = calloc(1, size);
    if (mem && fits_create_memfile(&fp, &mem, &size, 0, realloc, &status) == 0) {
        status = 0;
        fits_close_file(fp, &status);
    }
    fits_clear_errmsg();
    free(mem);
}

void fits__cfitsio_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    (void)pthread_once(&once, cfitsio_init);
}

enum err fhdr__open_cfitsio(const char *path, const char *name, struct fhdr_file **out,
                            struct err_info *ei)
{
    fitsfile *fp = NULL;
    int status = 0;
    fits__cfitsio_init();
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
    fits__cfitsio_init();
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
    fits__cfitsio_init();
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
