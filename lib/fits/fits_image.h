/* fits_image.h - FITS image pixel I/O: open an image HDU (by index, by EXTNAME/EXTVER or the
 * first one holding an image), read its size, read the whole image or a band of rows as double
 * or float, read the keywords calibration needs, and write multi-extension products (SCI/ERR/DQ)
 * atomically (temporary file in the target directory, fsync, rename).
 *
 * HST "constant arrays" (NAXIS=0 with NPIX1/NPIX2 and optional PIXVALUE, used for raw ERR/DQ)
 * are presented as ordinary images filled with PIXVALUE (default 0).
 *
 * Header values are never trusted for allocation sizes: the data extent an HDU claims is checked
 * against the file size when it is selected, and whole-image reads are capped.
 *
 * Not thread-safe per handle; distinct handles may be used from distinct threads.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_FITS_FITS_IMAGE_H
#define OBSFLOW_FITS_FITS_IMAGE_H

#include "core/compiler.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Largest image (pixels) that fitsimg_read_all() allocates. */
#define FITSIMG_MAX_PIXELS ((int64_t)1 << 28)
/** Largest gzip-compressed FITS file accepted, in decompressed bytes: cfitsio decompresses such
 *  a file whole into memory, so a larger one (or a gzip bomb) is refused by fitsimg_open with
 *  ERR_TOO_LARGE after a streaming count, before cfitsio allocates anything. */
#define FITSIMG_GZ_MAX_BYTES ((int64_t)1 << 31)
/** Largest axis length accepted. */
#define FITSIMG_MAX_AXIS ((int64_t)1 << 20)
/** Longest string keyword value returned (FITS allows 68 characters per card, CONTINUE more). */
#define FITSIMG_STR_MAX 1024

/** An open FITS file positioned at one HDU (opaque). */
struct fitsimg;

/** Pixel type of a memory buffer or of an output image. */
enum fitsimg_type {
    FITSIMG_U8,  /* BITPIX 8 */
    FITSIMG_I16, /* BITPIX 16 */
    FITSIMG_U16, /* BITPIX 16 with BZERO 32768 */
    FITSIMG_I32, /* BITPIX 32 */
    FITSIMG_F32, /* BITPIX -32 */
    FITSIMG_F64, /* BITPIX -64 */
};

/** What the current HDU holds. */
struct fitsimg_info {
    int hdu;          /* 0-based index of the HDU (0 = primary) */
    int bitpix;       /* BITPIX as stored (for tile-compressed images: of the image) */
    int naxis;        /* as stored; 0 for a constant array */
    int64_t nx;       /* NAXIS1 (NPIX1 for a constant array); 0 when the HDU has no image */
    int64_t ny;       /* NAXIS2, 1 for a 1-D image */
    int64_t nplanes;  /* product of NAXIS3.. (rows are read from the first plane) */
    bool constant;    /* HST constant array (NPIX1/NPIX2/PIXVALUE) */
    double pixvalue;  /* its value */
    bool compressed;  /* tile-compressed image */
    char extname[72]; /* EXTNAME or "" */
    int extver;       /* EXTVER or 1 */
};

/** The pixel type that stores BITPIX @p bitpix (equivalent BITPIX, so 20 = FITSIMG_U16). */
enum fitsimg_type fitsimg_type_of_bitpix(int bitpix);

/** Allocate a large pixel buffer (release with free()). Buffers of several MB are aligned to
 *  2 MB and advised for transparent huge pages, which saves most of the page faults of first
 *  touch; contents are undefined. NULL on failure. */
void *fitsimg_alloc_big(size_t bytes);

/** True when distinct handles may be read from distinct threads at the same time (the
 *  cfitsio in use was built reentrant; plain images are read with pread regardless). */
bool fitsimg_threads_ok(void);

/** Open @p path read-only at the primary HDU. Errors name the file. */
NODISCARD enum err fitsimg_open(const char *path, struct fitsimg **out, struct err_info *ei);

/** Close; accepts NULL. */
void fitsimg_close(struct fitsimg *f);

/** The path given to fitsimg_open. */
const char *fitsimg_path(const struct fitsimg *f);

/** Number of HDUs in the file. */
int fitsimg_hdu_count(const struct fitsimg *f);

/** Move to HDU @p index (0 = primary). ERR_NOT_FOUND past the end. */
NODISCARD enum err fitsimg_select(struct fitsimg *f, int index, struct err_info *ei);

/** Move to the image HDU with EXTNAME @p extname (case-insensitive) and EXTVER @p extver
 *  (extver <= 0: any). ERR_NOT_FOUND when there is none. */
NODISCARD enum err fitsimg_select_name(struct fitsimg *f, const char *extname, int extver,
                                       struct err_info *ei);

/** Move to the first HDU holding an image with at least one pixel (primary, image extension,
 *  tile-compressed image or constant array); ERR_NOT_FOUND when there is none. */
NODISCARD enum err fitsimg_select_first_image(struct fitsimg *f, struct err_info *ei);

/** Parse "N" (HDU index), "NAME" or "NAME,VER" and select it. */
NODISCARD enum err fitsimg_select_spec(struct fitsimg *f, const char *spec, struct err_info *ei);

/** Describe the current HDU. */
void fitsimg_get_info(const struct fitsimg *f, struct fitsimg_info *out);

/** Read rows [@p row0, @p row0 + @p nrows) (0-based) of the current image into @p out
 *  (nrows * nx values, row-major). Integer BLANK pixels become NaN. */
NODISCARD enum err fitsimg_read_rows(struct fitsimg *f, int64_t row0, int64_t nrows, double *out,
                                     struct err_info *ei);
NODISCARD enum err fitsimg_read_rows_f(struct fitsimg *f, int64_t row0, int64_t nrows, float *out,
                                       struct err_info *ei);

/** Read the whole current image as double into a new buffer (free()); *nx, *ny receive the size.
 *  ERR_TOO_LARGE above FITSIMG_MAX_PIXELS. */
NODISCARD enum err fitsimg_read_all(struct fitsimg *f, double **out, int64_t *nx, int64_t *ny,
                                    struct err_info *ei);

/* Keywords of the current HDU. Missing keyword: ERR_NOT_FOUND with the keyword as field;
 * wrong type: ERR_FITS. */
NODISCARD enum err fitsimg_key_str(struct fitsimg *f, const char *name, char *buf, size_t cap,
                                   struct err_info *ei);
NODISCARD enum err fitsimg_key_double(struct fitsimg *f, const char *name, double *out,
                                      struct err_info *ei);
NODISCARD enum err fitsimg_key_int(struct fitsimg *f, const char *name, int64_t *out,
                                   struct err_info *ei);
/** True if the current HDU has keyword @p name. */
bool fitsimg_has_key(struct fitsimg *f, const char *name);

/** Call @p fn for each non-structural card of the current HDU (80-column text, no newline);
 *  stops early when fn returns false. */
NODISCARD enum err fitsimg_each_card(struct fitsimg *f, bool (*fn)(const char *card, void *arg),
                                     void *arg, struct err_info *ei);

/* Binary/ASCII table columns of the current HDU (reference tables such as HST BPIXTAB). */

/** Largest table fitsimg_table_rows() reports. */
#define FITSIMG_MAX_TABLE_ROWS ((int64_t)1 << 24)

/** Rows of the current table HDU; ERR_FITS if it is not a table, ERR_TOO_LARGE above the cap. */
NODISCARD enum err fitsimg_table_rows(struct fitsimg *f, int64_t *nrows, struct err_info *ei);
/** True if the current table has a column named @p name (case-insensitive). */
bool fitsimg_table_has_col(struct fitsimg *f, const char *name);
/** Read rows [0, @p n) of numeric column @p name as double (nulls become NaN). */
NODISCARD enum err fitsimg_table_read_col(struct fitsimg *f, const char *name, int64_t n,
                                          double *out, struct err_info *ei);
/** Read one cell (0-based @p row) of a string column. */
NODISCARD enum err fitsimg_table_read_str(struct fitsimg *f, const char *name, int64_t row,
                                          char *buf, size_t cap, struct err_info *ei);

/* ---------------------------------------------------------------------------------------------
 * Writing. Every HDU is declared (with its size) before or while pixels are written; pixels of
 * any declared HDU may be written in any order (band by band). Nothing appears at the final path
 * until fitsimg_writer_commit() succeeds.
 * ------------------------------------------------------------------------------------------- */

struct fitsimg_writer;

/** Start writing @p path (an existing file is replaced at commit). The primary HDU is created
 *  empty (NAXIS=0, EXTEND=T). */
NODISCARD enum err fitsimg_writer_create(const char *path, struct fitsimg_writer **out,
                                         struct err_info *ei);

/** Write DATASUM/CHECKSUM in every HDU at commit (off by default). */
void fitsimg_writer_set_checksum(struct fitsimg_writer *w, bool on);

/** Append an image extension of @p type and size @p nx x @p ny named @p extname/@p extver and
 *  make it current. Returns its HDU index in @p hdu_out (may be NULL). */
NODISCARD enum err fitsimg_writer_add_image(struct fitsimg_writer *w, const char *extname,
                                            int extver, enum fitsimg_type type, int64_t nx,
                                            int64_t ny, int *hdu_out, struct err_info *ei);

/** Append an HST-style constant array: an image extension without data (NAXIS=0) whose
 *  NPIX1/NPIX2/PIXVALUE say it is @p nx x @p ny pixels of @p value (read back by fitsimg as an
 *  ordinary image). */
NODISCARD enum err fitsimg_writer_add_constant(struct fitsimg_writer *w, const char *extname,
                                               int extver, enum fitsimg_type type, int64_t nx,
                                               int64_t ny, double value, int *hdu_out,
                                               struct err_info *ei);

/** fsync the file and its directory at commit (on by default). */
void fitsimg_writer_set_sync(struct fitsimg_writer *w, bool on);

/** Make HDU @p hdu (0 = primary) current. */
NODISCARD enum err fitsimg_writer_select(struct fitsimg_writer *w, int hdu, struct err_info *ei);

/** Write rows [@p row0, @p row0 + @p nrows) of the current image from @p data of type
 *  @p memtype (converted to the HDU's type). */
NODISCARD enum err fitsimg_writer_write_rows(struct fitsimg_writer *w, int64_t row0,
                                             int64_t nrows, enum fitsimg_type memtype,
                                             const void *data, struct err_info *ei);

/** Copy the non-structural cards of @p src's current HDU into the writer's current HDU
 *  (SIMPLE/XTENSION/BITPIX/NAXISn/EXTEND/PCOUNT/GCOUNT/BZERO/BSCALE/BLANK/EXTNAME/EXTVER/
 *  CHECKSUM/DATASUM/NPIXn/PIXVALUE and compression cards are skipped). */
NODISCARD enum err fitsimg_writer_copy_keys(struct fitsimg_writer *w, struct fitsimg *src,
                                            struct err_info *ei);

/* Keywords of the writer's current HDU (updated if present). @p comment may be NULL. */
NODISCARD enum err fitsimg_writer_key_str(struct fitsimg_writer *w, const char *name,
                                          const char *value, const char *comment,
                                          struct err_info *ei);
NODISCARD enum err fitsimg_writer_key_double(struct fitsimg_writer *w, const char *name,
                                             double value, const char *comment,
                                             struct err_info *ei);
NODISCARD enum err fitsimg_writer_key_int(struct fitsimg_writer *w, const char *name,
                                          int64_t value, const char *comment,
                                          struct err_info *ei);
NODISCARD enum err fitsimg_writer_key_bool(struct fitsimg_writer *w, const char *name, bool value,
                                           const char *comment, struct err_info *ei);
NODISCARD enum err fitsimg_writer_history(struct fitsimg_writer *w, const char *text,
                                          struct err_info *ei);

/** Finish: checksums if asked, close, fsync, rename over the final path, fsync the directory. */
NODISCARD enum err fitsimg_writer_commit(struct fitsimg_writer *w, struct err_info *ei);

/** Abandon (removes the temporary file) or free after commit; accepts NULL. */
void fitsimg_writer_destroy(struct fitsimg_writer *w);

#endif
