/* fits.h - FITS header model: FITS files (multi-extension, tile-compressed, gzipped, read with
 * cfitsio) and FITS header text files (*.fits.header, raw 80-column cards with END per HDU, or
 * astropy fitsheader listings with "# HDU n in <file>:" separators) become one model: a file of
 * HDUs, each an ordered list of parsed cards with typed keyword lookup.
 * Image pixel I/O lives in fits_image.h (same module). Only lib/fits includes fitsio.h.
 * Threading: an fhdr_file is immutable after creation and may be read from many threads;
 * creation functions are reentrant (cfitsio is built reentrant).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_FITS_FITS_H
#define OBSFLOW_FITS_FITS_H

#include "core/compiler.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Caps: header values never size an allocation; these do. */
#define FHDR_MAX_HDUS       1000        /* HDUs per file */
#define FHDR_MAX_CARDS      100000      /* cards per HDU */
#define FHDR_MAX_FILE_CARDS 1000000     /* cards in all HDUs of one file (~250 MB of model) */
#define FHDR_MAX_TEXT_BYTES (64u << 20) /* header text file size */
#define FHDR_KEY_MAX        72          /* keyword incl. HIERARCH names, with terminator */
#define FHDR_VALUE_MAX      72          /* value field text, with terminator */
#define FHDR_NAME_MAX       256         /* file name kept for messages */
#define FHDR_LONGSTR_MAX    65536       /* a long string value joined from CONTINUE cards */

/** Value type of one card. */
enum fhdr_type {
    FHDR_NONE = 0,  /* commentary card (COMMENT, HISTORY, blank, or no "= ") */
    FHDR_UNDEF,     /* "KEY = " with an empty value */
    FHDR_LOGICAL,   /* T or F */
    FHDR_INT,       /* integer */
    FHDR_FLOAT,     /* real (E or D exponent) */
    FHDR_STRING,    /* quoted string, quotes removed, '' unescaped, trailing blanks dropped */
    FHDR_COMPLEX,   /* (re, im); kept as text */
};

/** One parsed header card (a value record: the fields are the API). */
struct fhdr_card {
    char key[FHDR_KEY_MAX];     /* keyword, trailing blanks removed ("" for a blank card) */
    char value[FHDR_VALUE_MAX]; /* value text: string without quotes, or the number as written */
    char image[81];             /* the 80-column card image, blank-padded, NUL-terminated */
    enum fhdr_type type;        /* value type */
    int line;                   /* 1-based line in a text file, or card number in the HDU */
    char *long_value;           /* the whole value of a string continued on CONTINUE cards
                                   (owned by the file), or NULL; see fhdr_card_value */
};

/** The value text of @p c: the long-string value when CONTINUE cards extended it. */
const char *fhdr_card_value(const struct fhdr_card *c);

/** One HDU: its cards in file order. Borrowed from its file. */
struct fhdr_hdu {
    int index;                  /* 0-based HDU number */
    struct fhdr_card *cards;    /* cards (END not included) */
    size_t ncards;              /* number of cards */
    bool has_end;               /* an END card closed this HDU */
    uint32_t *kindex;           /* internal: keyword hash index for fhdr_hdu_find (owned) */
    size_t kindex_size;         /* internal: slots in kindex (power of two, 0 = none) */
};

/** A header file: its HDUs. Opaque. */
struct fhdr_file;

/**
 * Read the headers of @p path. Names ending in ".header" or ".txt", and files that are not
 * FITS blocks, are parsed as header text; everything else is opened with cfitsio (gzip and
 * tile compression handled; a compressed image HDU yields the image header).
 * @param path [in] borrowed file name.
 * @param out  [out] owned file, set only on success; destroy with fhdr_file_destroy.
 * @param ei   [out] optional detail naming the file, HDU and card/line.
 * @return ERR_OK, ERR_IO (cannot read), ERR_PARSE (malformed text), ERR_FITS (cfitsio),
 *         ERR_TOO_LARGE (a cap), ERR_NOMEM.
 */
NODISCARD enum err fhdr_file_open(const char *path, struct fhdr_file **out, struct err_info *ei);

/**
 * Parse header text (either layout) held in memory.
 * @param name [in] borrowed, used in messages only.
 * @param text [in] borrowed bytes, need not be NUL-terminated.
 * @param len  [in] length of @p text.
 * Errors as fhdr_file_open: a card without "=" in a value position, a line longer than 80
 * columns, a truncated last HDU of an END-delimited file, or binary bytes give ERR_PARSE
 * with "file, line N (HDU h)" in the message.
 */
NODISCARD enum err fhdr_file_parse_text(const char *name, const char *text, size_t len,
                                        struct fhdr_file **out, struct err_info *ei);

/**
 * Read the headers of a FITS file held in memory with cfitsio (every HDU).
 * @param name [in] borrowed, for messages. @param data/len [in] borrowed FITS bytes.
 */
NODISCARD enum err fhdr_file_parse_fits(const char *name, const void *data, size_t len,
                                        struct fhdr_file **out, struct err_info *ei);

/**
 * Render one HDU of the model as FITS bytes: its cards, END, blank padding to 2880 bytes, no
 * data. An extension HDU gets a minimal primary header in front so cfitsio can open it. Used by
 * the benchmark baseline and by tests.
 * @param out [out] owned malloc'd bytes, set on success; @param outlen [out] their length.
 */
NODISCARD enum err fhdr_hdu_to_fits(const struct fhdr_hdu *h, char **out, size_t *outlen);

/**
 * Bare cfitsio baseline: open FITS bytes in memory and read every header record of every HDU
 * with cfitsio, building nothing. Returns the number of cards read in @p ncards.
 */
NODISCARD enum err fhdr_cfitsio_scan(const void *data, size_t len, size_t *ncards,
                                     struct err_info *ei);

/** Destroy @p f; NULL is a no-op. */
void fhdr_file_destroy(struct fhdr_file *f);

/** File name given at creation (borrowed for the life of @p f). */
const char *fhdr_file_name(const struct fhdr_file *f);

/** Number of HDUs (at least 1 for a successfully parsed file). */
size_t fhdr_file_hdu_count(const struct fhdr_file *f);

/** HDU @p i (0-based), borrowed for the life of @p f; NULL when out of range. */
const struct fhdr_hdu *fhdr_file_hdu(const struct fhdr_file *f, size_t i);

/** First card named @p key in @p h (case-insensitive), or NULL. Commentary cards are skipped. */
const struct fhdr_card *fhdr_hdu_find(const struct fhdr_hdu *h, const char *key);

/**
 * Typed lookups. Each returns ERR_OK and writes @p out, ERR_NOT_FOUND if the keyword is absent
 * or has no value (FHDR_UNDEF), or ERR_FITS (detail names HDU, keyword and line) when the value
 * cannot be read as the type asked for. Strings: out is borrowed from the HDU.
 */
NODISCARD enum err fhdr_get_str(const struct fhdr_hdu *h, const char *key, const char **out,
                                struct err_info *ei);
NODISCARD enum err fhdr_get_double(const struct fhdr_hdu *h, const char *key, double *out,
                                   struct err_info *ei);
NODISCARD enum err fhdr_get_long(const struct fhdr_hdu *h, const char *key, long *out,
                                 struct err_info *ei);
NODISCARD enum err fhdr_get_bool(const struct fhdr_hdu *h, const char *key, bool *out,
                                 struct err_info *ei);

/** True if @p h has a data array: NAXIS (or ZNAXIS) > 0, every NAXISn > 0, BITPIX present. */
bool fhdr_hdu_has_data(const struct fhdr_hdu *h);

/** Parse one 80-column card image (no newline) into @p out; ERR_PARSE for a malformed card.
 *  @p len may be less than 80 (blank-padded). Used by the parsers and the fuzz target. */
NODISCARD enum err fhdr_card_parse(const char *img, size_t len, struct fhdr_card *out);

/* ---- structure walk (fits_walk.c) ---------------------------------------------------- */

#define FITS_BLOCK            2880
#define FITS_WALK_HDUS_MAX    1000 /* HDUs walked in one file */
#define FITS_WALK_HBLOCKS_MAX 1000 /* header blocks of one HDU (2.8 MB of cards) */

/** Read @p len bytes at @p off into @p buf: the bytes read (short only at the end of the
 * file), or -1 on an error. */
typedef long (*fits_read_fn)(void *ud, uint64_t off, void *buf, size_t len);

/** One HDU met by fits_walk: @p hdu (0-based), its header as read (@p len bytes, whole
 * 2880-byte blocks, the END card in the last), where its data start and their unpadded
 * size. Return ERR_OK to go on; any other value stops the walk and is returned. */
typedef enum err (*fits_hdu_fn)(void *ud, int hdu, const unsigned char *hdr, size_t len,
                                uint64_t data_off, uint64_t data_bytes, struct err_info *ei);

/**
 * Walk the HDUs of a FITS file of @p size bytes through @p rd, reading the header blocks only
 * (data are skipped by their size): the file must start with SIMPLE, each further HDU with
 * XTENSION (or blank padding blocks), and hold every header with END and every HDU's padded
 * data. @p on_hdu (may be NULL) sees each header. @p what names the file in messages.
 * @return ERR_OK; ERR_FITS naming the HDU and what is wrong (truncation, no END, a bad
 *         BITPIX/NAXIS, overflowing sizes, more than the caps); ERR_IO (read error);
 *         ERR_NOMEM; or what @p on_hdu returned.
 */
NODISCARD enum err fits_walk(fits_read_fn rd, void *ud, uint64_t size, fits_hdu_fn on_hdu,
                             void *hdu_ud, const char *what, struct err_info *ei);

#endif
