/* fits_walk.c - the structure of a FITS file without its data: each header (80-byte cards in
 * 2880-byte blocks) up to END, the data size its BITPIX, NAXISn, PCOUNT and GCOUNT give (FITS
 * 4.0 section 4.4.1), padded to 2880; the next HDU is found past the data without reading it.
 * Used to check that a file is complete (lib/refstore) and to read only the headers of a
 * remote file through ranged reads (lib/ingest). Only the cards that size the data are parsed.
 * SPDX-License-Identifier: Apache-2.0 */
#include "fits.h"

#include "core/buf.h"

#include <stdlib.h>
#include <string.h>

#define CARD 80
#define NAXIS_MAX 999

struct hdu_keys {
    bool have_bitpix, have_naxis, end, groups;
    int64_t bitpix, naxis, pcount, gcount;
    int64_t naxisn[NAXIS_MAX + 1]; /* 1-based; -1 = not seen */
};

/* The integer value of a card ("KEY     =    123 / comment"); false when it has none. */
static bool card_int(const char *card, int64_t *out)
{
    if (card[8] != '=' || card[9] != ' ') {
        return false;
    }
    int i = 10;
    while (i < CARD && card[i] == ' ') {
        i++;
    }
    bool neg = false;
    if (i < CARD && (card[i] == '-' || card[i] == '+')) {
        neg = card[i] == '-';
        i++;
    }
    if (i >= CARD || card[i] < '0' || card[i] > '9') {
        return false;
    }
    int64_t v = 0;
    for (; i < CARD && card[i] >= '0' && card[i] <= '9'; i++) {
        if (v > (INT64_MAX - 9) / 10) {
            return false;
        }
        v = v * 10 + (card[i] - '0');
    }
    while (i < CARD && card[i] == ' ') {
        i++;
    }
    if (i < CARD && card[i] != '/') {
        return false; /* "1.5", "12X": not an integer */
    }
    *out = neg ? -v : v;
    return true;
}

static bool key_is(const char *card, const char *key)
{
    size_t n = strlen(key);
    if (memcmp(card, key, n) != 0) {
        return false;
    }
    for (size_t i = n; i < 8; i++) {
        if (card[i] != ' ') {
            return false;
        }
    }
    return true;
}

/* One card of a header. */
static enum err take_card(struct hdu_keys *k, const char *card, int hdu, struct err_info *ei)
{
    for (int i = 0; i < CARD; i++) {
        if ((unsigned char)card[i] < 0x20 || (unsigned char)card[i] > 0x7e) {
            return err_set(ei, ERR_FITS, "HDU %d: a header card holds a non-ASCII byte", hdu);
        }
    }
    int64_t v;
    if (key_is(card, "END")) {
        k->end = true;
    } else if (key_is(card, "BITPIX") && card_int(card, &v)) {
        if (v != 8 && v != 16 && v != 32 && v != 64 && v != -32 && v != -64) {
            return err_set(ei, ERR_FITS, "HDU %d: BITPIX %lld is not a FITS value", hdu,
                           (long long)v);
        }
        k->bitpix = v;
        k->have_bitpix = true;
    } else if (key_is(card, "NAXIS") && card_int(card, &v)) {
        if (v < 0 || v > NAXIS_MAX) {
            return err_set(ei, ERR_FITS, "HDU %d: NAXIS %lld out of range", hdu, (long long)v);
        }
        k->naxis = v;
        k->have_naxis = true;
    } else if (memcmp(card, "NAXIS", 5) == 0 && card[5] >= '1' && card[5] <= '9') {
        int n = 0, i = 5;
        while (i < 8 && card[i] >= '0' && card[i] <= '9') {
            n = n * 10 + (card[i] - '0');
            i++;
        }
        while (i < 8 && card[i] == ' ') {
            i++;
        }
        if (i == 8 && n >= 1 && n <= NAXIS_MAX && card_int(card, &v)) {
            if (v < 0) {
                return err_set(ei, ERR_FITS, "HDU %d: NAXIS%d is negative", hdu, n);
            }
            k->naxisn[n] = v;
        }
    } else if (key_is(card, "PCOUNT") && card_int(card, &v)) {
        if (v < 0) {
            return err_set(ei, ERR_FITS, "HDU %d: PCOUNT is negative", hdu);
        }
        k->pcount = v;
    } else if (key_is(card, "GCOUNT") && card_int(card, &v)) {
        if (v < 0) {
            return err_set(ei, ERR_FITS, "HDU %d: GCOUNT is negative", hdu);
        }
        k->gcount = v;
    } else if (key_is(card, "GROUPS") && card[8] == '=') {
        const char *t = card + 10;
        while (*t == ' ' && t < card + CARD - 1) {
            t++;
        }
        k->groups = *t == 'T';
    }
    return ERR_OK;
}

/* Bytes of data of a header (without padding). */
static enum err data_bytes(const struct hdu_keys *k, int hdu, uint64_t *out, struct err_info *ei)
{
    if (!k->have_bitpix || !k->have_naxis) {
        return err_set(ei, ERR_FITS, "HDU %d: header without BITPIX or NAXIS", hdu);
    }
    if (k->naxis == 0) {
        *out = 0;
        return ERR_OK;
    }
    uint64_t n = 1;
    int first = 1;
    if (hdu == 1 && k->groups && k->naxisn[1] == 0) {
        first = 2; /* random groups: NAXIS1 = 0 is not an axis */
    }
    for (int i = first; i <= k->naxis; i++) {
        if (k->naxisn[i] < 0) {
            return err_set(ei, ERR_FITS, "HDU %d: NAXIS%d missing", hdu, i);
        }
        if (__builtin_mul_overflow(n, (uint64_t)k->naxisn[i], &n)) {
            return err_set(ei, ERR_FITS, "HDU %d: data size overflows", hdu);
        }
    }
    uint64_t bytes = (uint64_t)(k->bitpix < 0 ? -k->bitpix : k->bitpix) / 8;
    if (__builtin_add_overflow(n, (uint64_t)k->pcount, &n) ||
        __builtin_mul_overflow(n, (uint64_t)k->gcount, &n) ||
        __builtin_mul_overflow(n, bytes, &n)) {
        return err_set(ei, ERR_FITS, "HDU %d: data size overflows", hdu);
    }
    *out = n;
    return ERR_OK;
}

static bool blank_block(const unsigned char *b)
{
    for (size_t i = 0; i < FITS_BLOCK; i++) {
        if (b[i] != 0 && b[i] != ' ') {
            return false;
        }
    }
    return true;
}

enum err fits_walk(fits_read_fn rd, void *ud, uint64_t size, fits_hdu_fn on_hdu, void *hdu_ud,
                   const char *what, struct err_info *ei)
{
    unsigned char block[FITS_BLOCK];
    struct hdu_keys *k = malloc(sizeof *k);
    struct buf hdr;
    enum err e = ERR_OK;
    uint64_t off = 0;
    int hdu = 0;
    buf_init(&hdr, (size_t)FITS_WALK_HBLOCKS_MAX * FITS_BLOCK);
    if (!k) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    if (size == 0) {
        e = err_set(ei, ERR_FITS, "%s: empty file", what);
        goto out;
    }
    while (off < size) {
        if (size - off < FITS_BLOCK) {
            e = err_set(ei, ERR_FITS, "%s: %llu bytes after HDU %d are not a 2880-byte block",
                        what, (unsigned long long)(size - off), hdu);
            goto out;
        }
        long got = rd(ud, off, block, sizeof block);
        if (got < 0) {
            e = err_set(ei, ERR_IO, "%s: read error at byte %llu", what, (unsigned long long)off);
            goto out;
        }
        if ((size_t)got != sizeof block) {
            e = err_set(ei, ERR_FITS, "%s: short read at byte %llu", what,
                        (unsigned long long)off);
            goto out;
        }
        bool first = hdu == 0;
        if (!first && memcmp(block, "XTENSION", 8) != 0) {
            if (blank_block(block)) {
                off += FITS_BLOCK; /* padding blocks after the last HDU */
                continue;
            }
            e = err_set(ei, ERR_FITS, "%s: bytes after HDU %d are neither an extension nor "
                                      "padding", what, hdu);
            goto out;
        }
        if (first && memcmp(block, "SIMPLE  = ", 10) != 0) {
            e = err_set(ei, ERR_FITS, "%s: not a FITS file (no SIMPLE card)", what);
            goto out;
        }
        if (++hdu > FITS_WALK_HDUS_MAX) {
            e = err_set(ei, ERR_FITS, "%s: more than %d HDUs", what, FITS_WALK_HDUS_MAX);
            goto out;
        }
        memset(k, 0, sizeof *k);
        memset(k->naxisn, 0xff, sizeof k->naxisn); /* -1 */
        k->gcount = 1;
        int nblocks = 0;
        buf_reset(&hdr);
        for (;;) {
            if (on_hdu && (e = buf_append(&hdr, block, sizeof block)) != ERR_OK) {
                e = err_set(ei, e, "%s: no room for the header of HDU %d", what, hdu);
                goto out;
            }
            for (int c = 0; c < FITS_BLOCK / CARD && !k->end; c++) {
                e = take_card(k, (const char *)block + c * CARD, hdu, ei);
                if (e != ERR_OK) {
                    err_prefix(ei, "%s: ", what);
                    goto out;
                }
            }
            off += FITS_BLOCK;
            if (k->end) {
                break;
            }
            if (++nblocks >= FITS_WALK_HBLOCKS_MAX) {
                e = err_set(ei, ERR_FITS, "%s: HDU %d header longer than %d blocks", what, hdu,
                            FITS_WALK_HBLOCKS_MAX);
                goto out;
            }
            if (size - off < FITS_BLOCK) {
                e = err_set(ei, ERR_FITS, "%s: HDU %d header has no END (file truncated)", what,
                            hdu);
                goto out;
            }
            got = rd(ud, off, block, sizeof block);
            if (got != (long)sizeof block) {
                e = err_set(ei, got < 0 ? ERR_IO : ERR_FITS, "%s: read error at byte %llu",
                            what, (unsigned long long)off);
                goto out;
            }
        }
        uint64_t n = 0;
        e = data_bytes(k, hdu, &n, ei);
        if (e != ERR_OK) {
            err_prefix(ei, "%s: ", what);
            goto out;
        }
        uint64_t padded = n / FITS_BLOCK * FITS_BLOCK;
        if (padded < n) {
            padded += FITS_BLOCK;
        }
        if (on_hdu) {
            e = on_hdu(hdu_ud, hdu - 1, (const unsigned char *)buf_cstr(&hdr), hdr.len, off, n,
                       ei);
            if (e != ERR_OK) {
                goto out;
            }
        }
        if (padded > size - off) {
            e = err_set(ei, ERR_FITS, "%s: HDU %d has %llu bytes of data but the file holds "
                                      "%llu after its header (truncated)",
                        what, hdu, (unsigned long long)padded,
                        (unsigned long long)(size - off));
            goto out;
        }
        off += padded;
    }
out:
    buf_free(&hdr);
    free(k);
    return e;
}

