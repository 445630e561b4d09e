/* ingest_headers.c - the headers of a remote FITS file without its data: lib/fits's fits_walk
 * over ranged reads (lib/storage storage_get_range), 8 blocks at each header (doubling while a
 * header goes on), so a header usually costs one request and the data between headers are
 * not transferred beyond the window. The headers are
 * written as header text (one 80-column card per line, END closing each HDU), which
 * lib/fits2caom reads like the file itself; the object's size comes from the answers and its
 * MD5 from an S3 ETag when the object was stored in one part.
 * SPDX-License-Identifier: Apache-2.0 */
#include "ingest.h"
#include "ingest_int.h"

#include "core/atomic_file.h"
#include "core/buf.h"
#include "core/str.h"
#include "fits/fits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes asked per ranged read: 8 blocks at a new header (most HST and CADC headers fit), doubled
 * while a long header continues, up to 1 MiB. */
#define WINDOW_FIRST ((size_t)8 * FITS_BLOCK)
#define WINDOW_MAX   ((size_t)1 << 20)

struct ranged {
    const struct ingest_env *env;
    const char *uri;
    struct buf win;    /* bytes [win_off, win_off + win.len) of the object */
    uint64_t win_off;
    size_t next;       /* bytes of the next ranged read when it continues the window */
    uint64_t size;     /* the whole object's, from the first answer */
    char etag[128];
    struct ingest_fetch *stats;
    struct err_info *ei; /* the storage error behind a -1 */
    enum err err;
    struct buf text;     /* the header text written so far */
};

static long ranged_read(void *ud, uint64_t off, void *out, size_t len)
{
    struct ranged *r = ud;
    if (off < r->win_off || off + len > r->win_off + r->win.len) {
        struct storage_stat st;
        if (r->env->cancelled && r->env->cancelled(r->env->cancel_ctx)) {
            r->err = err_set(r->ei, ERR_CANCELLED, "ingest stopped: cancellation requested");
            return -1;
        }
        size_t want = WINDOW_FIRST;
        if (r->win.len > 0 && off == r->win_off + r->win.len) {
            want = r->next; /* the header goes on past the window: read more at once */
        }
        r->next = want * 2 < WINDOW_MAX ? want * 2 : WINDOW_MAX;
        if (want < len) {
            want = len;
        }
        buf_reset(&r->win);
        r->win_off = off;
        enum err e = storage_get_range(r->env->storage, r->uri, off, want, &r->win, &st, r->ei);
        if (e != ERR_OK) {
            r->err = e;
            return -1;
        }
        r->stats->requests++;
        r->stats->bytes += r->win.len;
        r->size = st.size;
        str_copy(r->etag, sizeof r->etag, st.etag);
    }
    size_t have = r->win.len - (size_t)(off - r->win_off);
    size_t n = have < len ? have : len;
    memcpy(out, r->win.data + (off - r->win_off), n);
    return (long)n;
}

/* fits_walk callback: the cards of one header, END included, one per line. */
static enum err take_header(void *ud, int hdu, const unsigned char *hdr, size_t len,
                            uint64_t data_off, uint64_t data_bytes, struct err_info *ei)
{
    struct ranged *r = ud;
    (void)hdu;
    (void)data_off;
    (void)data_bytes;
    for (size_t c = 0; c + 80 <= len; c += 80) {
        const char *card = (const char *)hdr + c;
        size_t n = 80;
        while (n > 0 && card[n - 1] == ' ') {
            n--;
        }
        enum err e = buf_append(&r->text, card, n);
        if (e == ERR_OK) {
            e = buf_append(&r->text, "\n", 1);
        }
        if (e != ERR_OK) {
            return err_set(ei, e, "%s: headers larger than %zu bytes", r->uri, r->text.max);
        }
        if (n == 3 && memcmp(card, "END", 3) == 0) {
            break;
        }
    }
    return ERR_OK;
}

static bool hex32(const char *s)
{
    if (strlen(s) != 32) {
        return false;
    }
    for (; *s; s++) {
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F'))) {
            return false;
        }
    }
    return true;
}

bool ingest_ranged_ok(const char *uri)
{
    bool remote = str_starts_with(uri, "http://") || str_starts_with(uri, "https://") ||
                  str_starts_with(uri, "s3://");
    size_t n = strcspn(uri, "?#");
    static const char *const plain[] = {".fits", ".fit", ".fts", ".FITS", ".FIT", ".FTS"};
    for (size_t i = 0; remote && i < sizeof plain / sizeof plain[0]; i++) {
        size_t k = strlen(plain[i]);
        if (n > k && strncmp(uri + n - k, plain[i], k) == 0) {
            return true;
        }
    }
    return false;
}

enum err ingest_fetch_headers(const struct ingest_env *env, const char *uri, const char *dest,
                               struct ingest_fetch *out, struct err_info *ei)
{
    struct ranged r = {.env = env, .uri = uri, .stats = out, .ei = ei};
    enum err e;
    buf_init(&r.win, WINDOW_MAX + FITS_BLOCK);
    buf_init(&r.text, (size_t)FHDR_MAX_TEXT_BYTES);
    memset(out, 0, sizeof *out);
    /* the first window tells the size; the walk then reads only header blocks */
    unsigned char first[FITS_BLOCK];
    if (ranged_read(&r, 0, first, sizeof first) < 0) {
        e = r.err;
        goto out;
    }
    e = fits_walk(ranged_read, &r, r.size, take_header, &r, uri, ei);
    if (e != ERR_OK) {
        if (r.err != ERR_OK) {
            e = r.err; /* the storage's error, not the walk's "read error" */
        }
        goto out;
    }
    out->size = r.size;
    if (str_starts_with(uri, "s3://") && hex32(r.etag)) {
        snprintf(out->checksum, sizeof out->checksum, "md5:%s", r.etag);
        for (char *p = out->checksum; *p; p++) {
            *p = (*p >= 'A' && *p <= 'F') ? (char)(*p - 'A' + 'a') : *p;
        }
    }
    e = atomic_file_put(dest, r.text.data, r.text.len, false, ei);
out:
    buf_free(&r.win);
    buf_free(&r.text);
    return e;
}
