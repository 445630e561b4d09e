/* fits_header.c - the header model: card parsing, header text files in both layouts, typed
 * keyword lookup. The cfitsio readers are in fits_cfitsio.c.
 * SPDX-License-Identifier: Apache-2.0 */
#include "fits/fits.h"
#include "fits/fits_int.h"

#include "core/numparse.h"
#include "core/str.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- file / HDU containers ---------------------------------------------------------------- */

enum err fhdr__file_new(const char *name, struct fhdr_file **out)
{
    struct fhdr_file *f = calloc(1, sizeof *f);
    if (!f) {
        return ERR_NOMEM;
    }
    str_copy(f->name, sizeof f->name, name ? name : "");
    *out = f;
    return ERR_OK;
}

enum err fhdr__file_add_hdu(struct fhdr_file *f, struct err_info *ei)
{
    if (f->nhdus >= FHDR_MAX_HDUS) {
        return err_set(ei, ERR_TOO_LARGE, "\"%s\" has more than %d HDUs", f->name, FHDR_MAX_HDUS);
    }
    if (f->nhdus == f->caphdus) {
        size_t cap = f->caphdus ? f->caphdus * 2 : 4;
        struct fhdr_hdu *p = realloc(f->hdus, cap * sizeof *p);
        if (!p) {
            return err_set(ei, ERR_NOMEM, "out of memory reading \"%s\"", f->name);
        }
        f->hdus = p;
        size_t *c = realloc(f->capcards, cap * sizeof *c);
        if (!c) {
            /* caphdus stays: capcards still has only the old number of entries */
            return err_set(ei, ERR_NOMEM, "out of memory reading \"%s\"", f->name);
        }
        f->capcards = c;
        f->caphdus = cap;
    }
    struct fhdr_hdu *h = &f->hdus[f->nhdus];
    memset(h, 0, sizeof *h);
    h->index = (int)f->nhdus;
    f->capcards[f->nhdus] = 0;
    f->nhdus++;
    return ERR_OK;
}

/* the per-HDU and per-file card caps for one more card in the last HDU */
static enum err card_room(struct fhdr_file *f, struct err_info *ei)
{
    const struct fhdr_hdu *h = &f->hdus[f->nhdus - 1];
    if (h->ncards >= FHDR_MAX_CARDS) {
        return err_set(ei, ERR_TOO_LARGE, "HDU %d of \"%s\" has more than %d cards", h->index,
                       f->name, FHDR_MAX_CARDS);
    }
    if (f->ncards >= FHDR_MAX_FILE_CARDS) {
        return err_set(ei, ERR_TOO_LARGE, "\"%s\" has more than %d header cards (HDU %d)",
                       f->name, FHDR_MAX_FILE_CARDS, h->index);
    }
    return ERR_OK;
}

enum err fhdr__hdu_push(struct fhdr_file *f, const struct fhdr_card *c, struct err_info *ei)
{
    size_t i = f->nhdus - 1;
    struct fhdr_hdu *h = &f->hdus[i];
    enum err e = card_room(f, ei);
    if (e != ERR_OK) {
        return e;
    }
    if (h->ncards == f->capcards[i]) {
        size_t cap = f->capcards[i] ? f->capcards[i] * 2 : 64;
        struct fhdr_card *p = realloc(h->cards, cap * sizeof *p);
        if (!p) {
            return err_set(ei, ERR_NOMEM, "out of memory reading \"%s\"", f->name);
        }
        h->cards = p;
        f->capcards[i] = cap;
    }
    h->cards[h->ncards++] = *c;
    f->ncards++;
    return ERR_OK;
}

/* Reserve the next card of the last HDU (not counted until the caller increments ncards). */
static enum err hdu_slot(struct fhdr_file *f, size_t hint, struct fhdr_card **slot,
                         struct err_info *ei)
{
    size_t i = f->nhdus - 1;
    struct fhdr_hdu *h = &f->hdus[i];
    enum err e = card_room(f, ei);
    if (e != ERR_OK) {
        return e;
    }
    if (h->ncards == f->capcards[i]) {
        /* first allocation sized from the text still to read (never from a header value), but
         * at most FHDR_FIRST_CARDS: every HDU of a many-HDU file would otherwise reserve room
         * for all the text after it */
        size_t first = hint < 16 ? 16 : hint > FHDR_FIRST_CARDS ? FHDR_FIRST_CARDS : hint;
        size_t cap = f->capcards[i] ? f->capcards[i] * 2 : first;
        if (cap > FHDR_MAX_CARDS) {
            cap = FHDR_MAX_CARDS;
        }
        struct fhdr_card *p = realloc(h->cards, cap * sizeof *p);
        if (!p) {
            return err_set(ei, ERR_NOMEM, "out of memory reading \"%s\"", f->name);
        }
        h->cards = p;
        f->capcards[i] = cap;
    }
    *slot = &h->cards[h->ncards];
    return ERR_OK;
}

void fhdr_file_destroy(struct fhdr_file *f)
{
    if (!f) {
        return;
    }
    for (size_t i = 0; i < f->nhdus; i++) {
        for (size_t k = 0; k < f->hdus[i].ncards; k++) {
            if (f->hdus[i].cards[k].long_value) { /* rare: no call to free(NULL) per card */
                free(f->hdus[i].cards[k].long_value);
            }
        }
        free(f->hdus[i].cards);
        free(f->hdus[i].kindex);
    }
    free(f->hdus);
    free(f->capcards);
    free(f);
}

const char *fhdr_file_name(const struct fhdr_file *f)
{
    return f->name;
}

size_t fhdr_file_hdu_count(const struct fhdr_file *f)
{
    return f->nhdus;
}

const struct fhdr_hdu *fhdr_file_hdu(const struct fhdr_file *f, size_t i)
{
    return i < f->nhdus ? &f->hdus[i] : NULL;
}

/* ---- one card ----------------------------------------------------------------------------- */

/* @p key is @p kl bytes, terminated (no library call: this runs for every card) */
static bool is_commentary(const char *key, size_t kl)
{
    switch (kl) {
    case 0: return true;
    case 7: return memcmp(key, "COMMENT", 7) == 0 || memcmp(key, "HISTORY", 7) == 0;
    case 8: return memcmp(key, "CONTINUE", 8) == 0;
    default: return false;
    }
}

static void rtrim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
        s[--n] = '\0';
    }
}

static bool looks_int(const char *s)
{
    if (*s == '+' || *s == '-') {
        s++;
    }
    if (!isdigit((unsigned char)*s)) {
        return false;
    }
    while (isdigit((unsigned char)*s)) {
        s++;
    }
    return *s == '\0';
}

/* also sets *@p d_exp when the exponent letter is D or d (FORTRAN double precision) */
static bool looks_float(const char *s, bool *d_exp)
{
    bool digits = false;
    if (*s == '+' || *s == '-') {
        s++;
    }
    while (isdigit((unsigned char)*s)) {
        s++;
        digits = true;
    }
    if (*s == '.') {
        s++;
        while (isdigit((unsigned char)*s)) {
            s++;
            digits = true;
        }
    }
    if (!digits) {
        return false;
    }
    if (*s == 'E' || *s == 'e' || *s == 'D' || *s == 'd') {
        *d_exp = *s == 'D' || *s == 'd';
        s++;
        if (*s == '+' || *s == '-') {
            s++;
        }
        if (!isdigit((unsigned char)*s)) {
            return false;
        }
        while (isdigit((unsigned char)*s)) {
            s++;
        }
    }
    return *s == '\0';
}

/* true if @p p holds a byte below 0x20 or DEL: sixteen bytes at a time (GCC/Clang vector
 * extensions, SSE2/NEON compares; a card is five of them), then the tail byte by byte */
typedef unsigned char fhdr_u8x16 __attribute__((vector_size(16)));
typedef signed char fhdr_s8x16 __attribute__((vector_size(16)));

static bool has_control(const char *p, size_t n)
{
    const fhdr_u8x16 space = {0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
                              0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20};
    const fhdr_u8x16 del = {0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f,
                            0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f};
    fhdr_s8x16 any = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        fhdr_u8x16 x;
        memcpy(&x, p + i, 16);
        any |= (fhdr_s8x16)((x < space) | (x == del));
    }
    uint64_t w[2];
    memcpy(w, &any, sizeof w);
    if (w[0] | w[1]) {
        return true;
    }
    for (; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch < 0x20 || ch == 0x7f) {
            return true;
        }
    }
    return false;
}

/* keyword characters: A-Z 0-9 - _ as themselves, a-z (tolerated) as upper case, 0 for
 * anything else */
static const char k_key_char[256] = {
    ['A'] = 'A', ['B'] = 'B', ['C'] = 'C', ['D'] = 'D', ['E'] = 'E', ['F'] = 'F', ['G'] = 'G',
    ['H'] = 'H', ['I'] = 'I', ['J'] = 'J', ['K'] = 'K', ['L'] = 'L', ['M'] = 'M', ['N'] = 'N',
    ['O'] = 'O', ['P'] = 'P', ['Q'] = 'Q', ['R'] = 'R', ['S'] = 'S', ['T'] = 'T', ['U'] = 'U',
    ['V'] = 'V', ['W'] = 'W', ['X'] = 'X', ['Y'] = 'Y', ['Z'] = 'Z', ['0'] = '0', ['1'] = '1',
    ['2'] = '2', ['3'] = '3', ['4'] = '4', ['5'] = '5', ['6'] = '6', ['7'] = '7', ['8'] = '8',
    ['9'] = '9', ['-'] = '-', ['_'] = '_', ['a'] = 'A', ['b'] = 'B', ['c'] = 'C', ['d'] = 'D',
    ['e'] = 'E', ['f'] = 'F', ['g'] = 'G', ['h'] = 'H', ['i'] = 'I', ['j'] = 'J', ['k'] = 'K',
    ['l'] = 'L', ['m'] = 'M', ['n'] = 'N', ['o'] = 'O', ['p'] = 'P', ['q'] = 'Q', ['r'] = 'R',
    ['s'] = 'S', ['t'] = 'T', ['u'] = 'U', ['v'] = 'V', ['w'] = 'W', ['x'] = 'X', ['y'] = 'Y',
    ['z'] = 'Z',
};

/* the first byte at or after @p s (before @p end) that is not a blank, eight at a time */
static const char *skip_blanks(const char *s, const char *end)
{
    while (end - s >= 8) {
        uint64_t x;
        memcpy(&x, s, 8);
        if (x != 0x2020202020202020ULL) {
            break;
        }
        s += 8;
    }
    while (s < end && *s == ' ') {
        s++;
    }
    return s;
}

enum err fhdr_card_parse(const char *img, size_t len, struct fhdr_card *out)
{
    if (len > 80) {
        return ERR_PARSE;
    }
    if (has_control(img, len)) {
        return ERR_PARSE; /* control characters are not FITS */
    }
    memcpy(out->image, img, len);
    if (len < 80) {
        memset(out->image + len, ' ', 80 - len);
    }
    out->image[80] = '\0';
    out->value[0] = '\0';
    out->long_value = NULL;
    out->type = FHDR_NONE;
    const char *p = out->image;
    const char *vstart = NULL; /* first column after the value indicator */
    if (p[0] == 'H' && memcmp(p, "HIERARCH ", 9) == 0) {
        const char *eq = memchr(p, '=', 80);
        if (!eq) {
            return ERR_PARSE;
        }
        size_t kl = (size_t)(eq - (p + 9));
        if (kl >= FHDR_KEY_MAX) {
            return ERR_PARSE;
        }
        const char *ks = p + 9;
        while (kl > 0 && *ks == ' ') {
            ks++;
            kl--;
        }
        memcpy(out->key, ks, kl);
        out->key[kl] = '\0';
        rtrim(out->key);
        vstart = eq + 1;
    } else {
        size_t kl = 8;
        while (kl > 0 && p[kl - 1] == ' ') {
            kl--;
        }
        for (size_t i = 0; i < kl; i++) {
            char ch = k_key_char[(unsigned char)p[i]];
            if (!ch) {
                return ERR_PARSE; /* keyword characters: A-Z 0-9 - _ (a-z tolerated) */
            }
            out->key[i] = ch;
        }
        out->key[kl] = '\0';
        if (is_commentary(out->key, kl) || (kl == 3 && memcmp(out->key, "END", 3) == 0)) {
            return ERR_OK;
        }
        if (p[8] != '=') {
            return ERR_PARSE; /* a keyword card without its value indicator */
        }
        vstart = p + 9;
    }
    const char *end = out->image + 80;
    const char *s = skip_blanks(vstart, end);
    if (s == end || *s == '/') {
        out->type = FHDR_UNDEF;
        return ERR_OK;
    }
    if (*s == '\'') {
        size_t n = 0;
        s++;
        for (;;) {
            /* the run up to the next quote in one copy, then the quote: '' is one quote */
            const char *q = memchr(s, '\'', (size_t)(end - s));
            if (!q) {
                return ERR_PARSE; /* unterminated string */
            }
            size_t run = (size_t)(q - s);
            if (run > FHDR_VALUE_MAX - 1 - n) {
                run = FHDR_VALUE_MAX - 1 - n;
            }
            memcpy(out->value + n, s, run);
            n += run;
            s = q;
            if (s + 1 < end && s[1] == '\'') {
                if (n + 1 < FHDR_VALUE_MAX) {
                    out->value[n++] = '\'';
                }
                s += 2;
                continue;
            }
            s++;
            break;
        }
        while (n > 0 && out->value[n - 1] == ' ') {
            n--;
        }
        out->value[n] = '\0';
        out->type = FHDR_STRING;
        return ERR_OK;
    }
    const char *slash = memchr(s, '/', (size_t)(end - s));
    const char *vend = slash ? slash : end;
    size_t vl = (size_t)(vend - s);
    if (vl >= FHDR_VALUE_MAX) {
        vl = FHDR_VALUE_MAX - 1;
    }
    while (vl >= 8) { /* the blanks before a comment or the card's end, eight at a time */
        uint64_t x;
        memcpy(&x, s + vl - 8, 8);
        if (x != 0x2020202020202020ULL) {
            break;
        }
        vl -= 8;
    }
    while (vl > 0 && (s[vl - 1] == ' ' || s[vl - 1] == '\t')) {
        vl--;
    }
    memcpy(out->value, s, vl);
    out->value[vl] = '\0';
    bool d_exp = false;
    if (out->value[0] == '\0') {
        out->type = FHDR_UNDEF;
    } else if ((out->value[0] == 'T' || out->value[0] == 'F') && out->value[1] == '\0') {
        out->type = FHDR_LOGICAL;
    } else if (looks_int(out->value)) {
        out->type = FHDR_INT;
    } else if (looks_float(out->value, &d_exp)) {
        if (d_exp) { /* the one exponent letter */
            char *c = strpbrk(out->value, "Dd");
            if (c) {
                *c = 'E';
            }
        }
        out->type = FHDR_FLOAT;
    } else if (out->value[0] == '(') {
        out->type = FHDR_COMPLEX;
    } else {
        /* not valid FITS, but seen in real headers (unquoted strings): keep the text */
        out->type = FHDR_STRING;
    }
    return ERR_OK;
}

/* ---- header text files -------------------------------------------------------------------- */

static bool is_hdu_marker(const char *line, size_t len)
{
    return len >= 6 && line[0] == '#' && memcmp(line, "# HDU ", 6) == 0;
}

static bool is_blank(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (line[i] != ' ' && line[i] != '\t') {
            return false;
        }
    }
    return true;
}

enum err fhdr_file_parse_text(const char *name, const char *text, size_t len,
                              struct fhdr_file **out, struct err_info *ei)
{
    struct fhdr_file *f = NULL;
    enum err e = ERR_OK;
    if (len > FHDR_MAX_TEXT_BYTES) {
        return err_set(ei, ERR_TOO_LARGE, "header file \"%s\" is larger than %u bytes", name,
                       (unsigned)FHDR_MAX_TEXT_BYTES);
    }
    if ((e = fhdr__file_new(name, &f)) != ERR_OK) {
        return err_set(ei, e, "out of memory reading \"%s\"", name);
    }
    /* No newline at all and a multiple of 80 bytes: card images back to back. */
    bool records = len > 0 && len % 80 == 0 && memchr(text, '\n', len) == NULL;
    bool marker_layout = false;
    bool open = false; /* an HDU is open and takes cards */
    size_t lineno_cards = 0; /* card lines seen */
    size_t cards80 = 0;      /* of which 80 columns wide */
    size_t last_len = 80;    /* width of the last card line */
    int lineno = 0;
    size_t pos = 0;
    /* astropy listing layout: text before the first "# HDU" line is a preamble, not cards */
    const char *first_marker = NULL;
    if (!records) {
        if (len >= 6 && strncmp(text, "# HDU ", 6) == 0) {
            first_marker = text;
        } else {
            /* a line starting "# HDU ": search the (rare) '#' rather than every newline */
            const char *m = text;
            while ((m = memchr(m, '#', len - (size_t)(m - text))) != NULL) {
                if (m > text && m[-1] == '\n' && (size_t)(m - text) + 6 <= len &&
                    memcmp(m, "# HDU ", 6) == 0) {
                    first_marker = m;
                    break;
                }
                m++;
            }
        }
    }
    if (first_marker) {
        for (const char *m = text; m < first_marker; m++) {
            lineno += *m == '\n';
        }
        pos = (size_t)(first_marker - text);
        marker_layout = true;
    }
    while (pos < len) {
        const char *line = text + pos;
        size_t ll;
        if (records) {
            ll = 80;
            pos += 80;
        } else {
            const char *nl = memchr(line, '\n', len - pos);
            ll = nl ? (size_t)(nl - line) : len - pos;
            pos += ll + (nl ? 1 : 0);
            if (ll > 0 && line[ll - 1] == '\r') {
                ll--;
            }
        }
        lineno++;
        if (is_hdu_marker(line, ll)) {
            if (!marker_layout) {
                e = err_set(ei, ERR_PARSE, "\"%s\" line %d: HDU separator inside an END-delimited "
                            "header", name, lineno);
                goto out;
            }
            if ((e = fhdr__file_add_hdu(f, ei)) != ERR_OK) {
                goto out;
            }
            open = true;
            continue;
        }
        if (ll == 0 || (!records && is_blank(line, ll) && marker_layout)) {
            continue; /* blank separator lines */
        }
        if (ll > 80) {
            e = err_set(ei, ERR_PARSE, "\"%s\" line %d (HDU %zu): line longer than 80 columns",
                        name, lineno, f->nhdus ? f->nhdus - 1 : 0);
            goto out;
        }
        if (!open) {
            if (is_blank(line, ll)) {
                continue; /* padding after END */
            }
            if ((e = fhdr__file_add_hdu(f, ei)) != ERR_OK) {
                goto out;
            }
            open = true;
        }
        lineno_cards++;
        cards80 += ll == 80;
        last_len = ll;
        struct fhdr_card *slot = NULL;
        if ((e = hdu_slot(f, (len - pos) / 64 + 2, &slot, ei)) != ERR_OK) {
            goto out;
        }
        if (fhdr_card_parse(line, ll, slot) != ERR_OK) {
            char shown[81];
            size_t sl = ll < 80 ? ll : 80;
            memcpy(shown, line, sl);
            shown[sl] = '\0';
            for (size_t i = 0; i < sl; i++) {
                if ((unsigned char)shown[i] < 0x20) {
                    shown[i] = '?';
                }
            }
            rtrim(shown);
            const char *why = "malformed card";
            if (memchr(line, '\0', ll)) {
                why = "binary data in a header text file";
            } else if (strchr(shown, '=') == NULL) {
                why = "card without \"=\"";
            }
            if (pos >= len && text[len - 1] != '\n') {
                why = "truncated header: the last card is incomplete";
            }
            e = err_set(ei, ERR_PARSE, "\"%s\" line %d (HDU %zu): %s: \"%s\"", name, lineno,
                        f->nhdus - 1, why, shown);
            goto out;
        }
        slot->line = lineno;
        if (slot->key[0] == 'E' && strcmp(slot->key, "END") == 0) {
            f->hdus[f->nhdus - 1].has_end = true;
            open = false;
            continue;
        }
        f->hdus[f->nhdus - 1].ncards++;
        f->ncards++;
    }
    if (f->nhdus == 0) {
        e = err_set(ei, ERR_PARSE, "\"%s\": no header cards", name);
        goto out;
    }
    /* A card listing may omit END (header dumps do), but a file cut inside a card is
     * truncated: no final newline, or a last card shorter than the 80-column ones before it. */
    if (!marker_layout && !records && !f->hdus[f->nhdus - 1].has_end &&
        (text[len - 1] != '\n' || (last_len != 80 && cards80 + 1 == lineno_cards &&
                                    lineno_cards > 1))) {
        e = err_set(ei, ERR_PARSE, "\"%s\" line %d (HDU %zu): truncated header: the last card "
                    "is incomplete and there is no END card", name, lineno, f->nhdus - 1);
        goto out;
    }
    for (size_t i = 0; i < f->nhdus; i++) {
        if (f->hdus[i].ncards == 0) {
            e = err_set(ei, ERR_PARSE, "\"%s\" HDU %zu: no header cards", name, i);
            goto out;
        }
    }
    if ((e = fhdr__join_continue(f, ei)) != ERR_OK || (e = fhdr__build_index(f, ei)) != ERR_OK) {
        goto out;
    }
    *out = f;
    f = NULL;
out:
    fhdr_file_destroy(f);
    return e;
}

static enum err read_whole(const char *path, char **data, size_t *len, struct err_info *ei)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;
    size_t cap = 0;
    enum err e = ERR_OK;
    if (!fp) {
        return err_set(ei, ERR_IO, "could not open \"%s\": %s", path, ERR_ERRNO(errno));
    }
    for (;;) {
        if (n == cap) {
            if (cap >= FHDR_MAX_TEXT_BYTES) {
                e = err_set(ei, ERR_TOO_LARGE, "header file \"%s\" is larger than %u bytes", path,
                            (unsigned)FHDR_MAX_TEXT_BYTES);
                goto out;
            }
            size_t nc = cap ? cap * 2 : 65536;
            char *p = realloc(buf, nc + 1);
            if (!p) {
                e = err_set(ei, ERR_NOMEM, "out of memory reading \"%s\"", path);
                goto out;
            }
            buf = p;
            cap = nc;
        }
        size_t r = fread(buf + n, 1, cap - n, fp);
        n += r;
        if (r == 0) {
            if (ferror(fp)) {
                e = err_set(ei, ERR_IO, "could not read \"%s\"", path);
                goto out;
            }
            break;
        }
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    buf = NULL;
out:
    free(buf);
    fclose(fp);
    return e;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

enum err fhdr_file_open(const char *path, struct fhdr_file **out, struct err_info *ei)
{
    bool text = str_ends_with(path, ".header") || str_ends_with(path, ".txt") ||
                str_ends_with(path, ".hdr");
    if (!text) {
        /* a FITS file starts with SIMPLE in a 2880-byte block; gzip starts with 1f 8b */
        FILE *fp = fopen(path, "rb");
        unsigned char head[81] = {0};
        if (!fp) {
            return err_set(ei, ERR_IO, "could not open \"%s\": %s", path, ERR_ERRNO(errno));
        }
        size_t r = fread(head, 1, 80, fp);
        fclose(fp);
        bool gz = r >= 2 && head[0] == 0x1f && head[1] == 0x8b;
        bool fits = r == 80 && memcmp(head, "SIMPLE  =", 9) == 0 && memchr(head, '\n', 80) == NULL;
        if (gz || fits) {
            return fhdr__open_cfitsio(path, base_name(path), out, ei);
        }
        text = true;
    }
    char *data = NULL;
    size_t len = 0;
    enum err e = read_whole(path, &data, &len, ei);
    if (e != ERR_OK) {
        return e;
    }
    e = fhdr_file_parse_text(base_name(path), data, len, out, ei);
    free(data);
    return e;
}

/* ---- long strings ------------------------------------------------------------------------- */

const char *fhdr_card_value(const struct fhdr_card *c)
{
    return c->long_value ? c->long_value : c->value;
}

/* the quoted string of a CONTINUE card image (columns 11-80), unescaped, trailing blanks cut */
static bool continue_text(const char *img, char *out, size_t cap)
{
    const char *s = img + 8;
    const char *end = img + 80;
    size_t n = 0;
    while (s < end && *s == ' ') {
        s++;
    }
    if (s >= end || *s != '\'') {
        return false;
    }
    for (s++; s < end; s++) {
        if (*s == '\'') {
            if (s + 1 < end && s[1] == '\'') {
                s++;
            } else {
                break;
            }
        }
        if (n + 1 < cap) {
            out[n++] = *s;
        }
    }
    out[n] = '\0';
    rtrim(out);
    return true;
}

/* Each long string gets an allocation of its own length: joined in one scratch buffer of
 * FHDR_LONGSTR_MAX bytes per call, then copied (a scratch-sized buffer per string let a header
 * of short continued strings take 64 KiB of memory per pair of cards). */
enum err fhdr__join_continue(struct fhdr_file *f, struct err_info *ei)
{
    char *buf = NULL;
    enum err e = ERR_OK;
    for (size_t h = 0; h < f->nhdus; h++) {
        struct fhdr_hdu *hdu = &f->hdus[h];
        for (size_t i = 0; i + 1 < hdu->ncards; i++) {
            struct fhdr_card *c = &hdu->cards[i];
            if (c->type != FHDR_STRING || hdu->cards[i + 1].key[0] != 'C' ||
                strcmp(hdu->cards[i + 1].key, "CONTINUE") != 0) {
                continue;
            }
            size_t vl = strlen(c->value);
            if (vl == 0 || c->value[vl - 1] != '&') {
                continue;
            }
            if (!buf && !(buf = malloc(FHDR_LONGSTR_MAX))) {
                e = err_set(ei, ERR_NOMEM, "out of memory reading \"%s\"", f->name);
                goto out;
            }
            size_t n = vl - 1;
            memcpy(buf, c->value, n);
            bool more = true;
            for (size_t j = i + 1; more && j < hdu->ncards; j++) {
                char part[81];
                if (strcmp(hdu->cards[j].key, "CONTINUE") != 0 ||
                    !continue_text(hdu->cards[j].image, part, sizeof part)) {
                    break;
                }
                size_t pl = strlen(part);
                more = pl > 0 && part[pl - 1] == '&';
                if (more) {
                    pl--;
                }
                if (n + pl + 1 > FHDR_LONGSTR_MAX) {
                    e = err_set(ei, ERR_TOO_LARGE, "\"%s\" HDU %zu line %d: long string of %s "
                                "exceeds %d bytes", f->name, h, c->line, c->key,
                                FHDR_LONGSTR_MAX);
                    goto out;
                }
                memcpy(buf + n, part, pl);
                n += pl;
            }
            c->long_value = str_ndup(buf, n);
            if (!c->long_value) {
                e = err_set(ei, ERR_NOMEM, "out of memory reading \"%s\"", f->name);
                goto out;
            }
        }
    }
out:
    free(buf);
    return e;
}

/* ---- lookups ------------------------------------------------------------------------------ */

/* FNV-1a of the upper-cased key */
/* Case-blind keyword hash, eight bytes a step (a byte-wise FNV was 80 instructions a
 * keyword). Clearing bit 5 of every byte folds a-z onto A-Z; the other pairs it merges
 * (digits with control bytes, '_' with DEL) only share a hash, strcasecmp still decides. */
static uint32_t key_hash(const char *k)
{
    const uint64_t fold = 0xdfdfdfdfdfdfdfdfULL;
    size_t n = strlen(k);
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, k + i, 8);
        h = (h ^ (w & fold)) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    memcpy(&w, k + i, n - i);
    h ^= w & fold;
    h ^= h >> 33; /* every input bit reaches the low bits the table uses (murmur's fmix64) */
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return (uint32_t)h;
}

enum err fhdr__build_index(struct fhdr_file *f, struct err_info *ei)
{
    for (size_t i = 0; i < f->nhdus; i++) {
        struct fhdr_hdu *h = &f->hdus[i];
        size_t size = 16;
        while (size < 2 * h->ncards + 1) {
            size *= 2;
        }
        uint32_t *ix = malloc(size * sizeof *ix);
        if (!ix) {
            return err_set(ei, ERR_NOMEM, "out of memory reading \"%s\"", f->name);
        }
        for (size_t s = 0; s < size; s++) {
            ix[s] = UINT32_MAX;
        }
        for (size_t k = 0; k < h->ncards; k++) {
            const struct fhdr_card *c = &h->cards[k];
            if (c->type == FHDR_NONE) {
                continue;
            }
            size_t s = key_hash(c->key) & (size - 1);
            bool dup = false;
            while (ix[s] != UINT32_MAX) {
                if (strcasecmp(h->cards[ix[s]].key, c->key) == 0) {
                    dup = true; /* the first card of a repeated keyword wins */
                    break;
                }
                s = (s + 1) & (size - 1);
            }
            if (!dup) {
                ix[s] = (uint32_t)k;
            }
        }
        free(h->kindex);
        h->kindex = ix;
        h->kindex_size = size;
    }
    return ERR_OK;
}

const struct fhdr_card *fhdr_hdu_find(const struct fhdr_hdu *h, const char *key)
{
    if (!h || !key) {
        return NULL;
    }
    if (h->kindex_size > 0) {
        size_t s = key_hash(key) & (h->kindex_size - 1);
        while (h->kindex[s] != UINT32_MAX) {
            const struct fhdr_card *c = &h->cards[h->kindex[s]];
            if (strcasecmp(c->key, key) == 0) {
                return c;
            }
            s = (s + 1) & (h->kindex_size - 1);
        }
        return NULL;
    }
    for (size_t i = 0; i < h->ncards; i++) {
        const struct fhdr_card *c = &h->cards[i];
        if (c->type != FHDR_NONE && strcasecmp(c->key, key) == 0) {
            return c;
        }
    }
    return NULL;
}

enum err fhdr_get_str(const struct fhdr_hdu *h, const char *key, const char **out,
                      struct err_info *ei)
{
    (void)ei;
    const struct fhdr_card *c = fhdr_hdu_find(h, key);
    if (!c || c->type == FHDR_UNDEF) {
        return ERR_NOT_FOUND;
    }
    *out = fhdr_card_value(c);
    return ERR_OK;
}

enum err fhdr_get_double(const struct fhdr_hdu *h, const char *key, double *out,
                         struct err_info *ei)
{
    const struct fhdr_card *c = fhdr_hdu_find(h, key);
    double v;
    if (!c || c->type == FHDR_UNDEF) {
        return ERR_NOT_FOUND;
    }
    if ((c->type != FHDR_INT && c->type != FHDR_FLOAT && c->type != FHDR_STRING) ||
        numparse_double(c->value, &v) != ERR_OK) {
        return err_set_field(ei, ERR_FITS, c->key, "HDU %d line %d: keyword %s is not a number: "
                             "\"%s\"", h->index, c->line, c->key, c->value);
    }
    *out = v;
    return ERR_OK;
}

enum err fhdr_get_long(const struct fhdr_hdu *h, const char *key, long *out, struct err_info *ei)
{
    const struct fhdr_card *c = fhdr_hdu_find(h, key);
    int64_t v;
    if (!c || c->type == FHDR_UNDEF) {
        return ERR_NOT_FOUND;
    }
    if (str_to_i64(c->value, -2147483647L - 1, 2147483647L, &v) != ERR_OK) {
        double d;
        if (c->type == FHDR_FLOAT && numparse_double(c->value, &d) == ERR_OK &&
            d > -2147483648.0 && d < 2147483648.0 && d == (double)(long)d) {
            *out = (long)d;
            return ERR_OK;
        }
        return err_set_field(ei, ERR_FITS, c->key, "HDU %d line %d: keyword %s is not an integer: "
                             "\"%s\"", h->index, c->line, c->key, c->value);
    }
    *out = (long)v;
    return ERR_OK;
}

enum err fhdr_get_bool(const struct fhdr_hdu *h, const char *key, bool *out, struct err_info *ei)
{
    const struct fhdr_card *c = fhdr_hdu_find(h, key);
    if (!c || c->type == FHDR_UNDEF) {
        return ERR_NOT_FOUND;
    }
    if (c->type != FHDR_LOGICAL) {
        return err_set_field(ei, ERR_FITS, c->key, "HDU %d line %d: keyword %s is not logical: "
                             "\"%s\"", h->index, c->line, c->key, c->value);
    }
    *out = c->value[0] == 'T';
    return ERR_OK;
}

bool fhdr_hdu_has_data(const struct fhdr_hdu *h)
{
    long naxis = 0;
    const char *pfx = "NAXIS";
    if (fhdr_hdu_find(h, "BITPIX") == NULL) {
        return false;
    }
    if (fhdr_get_long(h, "ZNAXIS", &naxis, NULL) == ERR_OK) {
        pfx = "ZNAXIS";
    } else if (fhdr_get_long(h, "NAXIS", &naxis, NULL) != ERR_OK) {
        return false;
    }
    if (naxis <= 0 || naxis > 999) {
        return false;
    }
    size_t pl = strlen(pfx);
    char key[16];
    memcpy(key, pfx, pl);
    for (long i = 1; i <= naxis; i++) {
        long n = 0;
        char *p = key + pl; /* "<pfx><i>", i < 1000 */
        if (i >= 100) {
            *p++ = (char)('0' + i / 100);
        }
        if (i >= 10) {
            *p++ = (char)('0' + (i / 10) % 10);
        }
        *p++ = (char)('0' + i % 10);
        *p = '\0';
        if (fhdr_get_long(h, key, &n, NULL) != ERR_OK || n <= 0) {
            return false;
        }
    }
    return true;
}
