/* preview.h - JPEG previews the way STScI's fitscut makes them for CALDP
 * (`fitscut --all --jpg --autoscale=99.5 --asinh-scale --output-size=N --badpix`):
 *   1. the first HDU holding an image (SCI,1 for HST files);
 *   2. pixels equal to BADPIX, below GOODMIN or above GOODMAX (and NaN) are ignored; an empty
 *      GOODMIN..GOODMAX range (WFPC2 headers carry 0 and 0) is treated as absent;
 *   3. autoscale: the 0.5 % and 99.5 % points of a row sample of about PREVIEW_NSAMPLE pixels;
 *   4. size N > 0: block-average by the integer factor maxdim/N, then resize exactly so the long
 *      side is N (bilinear); N <= 0 keeps full resolution;
 *   5. t = clamp((v - min)/(max - min), 0, 1), u = asinh(3 t)/3 (t*w with w = asinh(3t)/(3t)),
 *      displayed over [0, 0.7] -> 0..255; ignored pixels are black; FITS row 1 is at the bottom;
 *   6. 8-bit greyscale JPEG, quality 75 (libjpeg-turbo).
 * Thread-safe: no shared state; every call works on its own buffers.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_PREVIEW_H
#define OBSFLOW_PREVIEW_H

#include "core/compiler.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PREVIEW_NSAMPLE     250000   /* pixels sampled for the autoscale histogram */
#define PREVIEW_THUMB_SIZE  128      /* CALDP thumbnail long side */
#define PREVIEW_MAX_SIZE    16384    /* largest output side accepted */
#define PREVIEW_JPEG_MAX    ((size_t)256 << 20) /* cap on an encoded JPEG */

/** Options; preview_opts_default() gives CALDP's. */
struct preview_opts {
    int size;             /* output long side in pixels; <= 0: full resolution */
    double autoscale;     /* percent of the histogram kept (99.5 keeps 0.5 .. 99.5) */
    double nonlinearity;  /* asinh nonlinearity (3) */
    double display_max;   /* top of the display range of the scaled value (0.7) */
    int quality;          /* JPEG quality (75) */
    bool badpix;          /* honour BADPIX / GOODMIN / GOODMAX */
    bool durable;         /* fsync the JPEG and its directory (the rename is atomic anyway) */
};

/** Fill @p o with CALDP's settings at full size. */
void preview_opts_default(struct preview_opts *o);

/** Bad-pixel rules of an image (from its header). */
struct preview_badpix {
    bool has_badpix;  double badpix;  /* pixels equal to this are ignored */
    bool has_goodmin; double goodmin; /* pixels below are ignored */
    bool has_goodmax; double goodmax; /* pixels above are ignored */
};

/** Result of an autoscale. */
struct preview_scale {
    double min;       /* value mapped to black */
    double max;       /* value mapped to t = 1 */
    size_t nsample;   /* good pixels in the sample */
};

/**
 * Mark ignored pixels of @p pix (nx*ny, row-major) as NaN in place.
 * @return number of pixels marked.
 */
size_t preview_apply_badpix(double *pix, size_t n, const struct preview_badpix *bp);

/**
 * Autoscale @p pix (nx*ny; NaN ignored) keeping @p percent of the histogram.
 * @return ERR_OK; ERR_INVALID when no pixel is good (message says so) or arguments are bad.
 */
NODISCARD enum err preview_autoscale(const double *pix, size_t nx, size_t ny, double percent,
                                     struct preview_scale *out, struct err_info *ei);

/**
 * Turn @p pix (nx*ny, FITS order: row 0 at the bottom) into an 8-bit image with the long side
 * @p o->size (or full size), top row first.
 * @param[out] out       new buffer (owned, free()) of *onx * *ony bytes
 * @param[out] scale     the autoscale used (may be NULL)
 * @return ERR_OK; ERR_INVALID (no good pixel, bad size), ERR_NOMEM.
 */
NODISCARD enum err preview_render(const double *pix, size_t nx, size_t ny,
                                  const struct preview_opts *o, uint8_t **out, size_t *onx,
                                  size_t *ony, struct preview_scale *scale, struct err_info *ei);

/**
 * Encode an 8-bit greyscale image as JPEG.
 * @param[out] out new buffer (owned, free()); @param[out] len its length
 */
NODISCARD enum err preview_jpeg_encode(const uint8_t *gray, size_t nx, size_t ny, int quality,
                                       unsigned char **out, size_t *len, struct err_info *ei);

/** What preview_file made. */
struct preview_result {
    size_t width, height;  /* output size */
    size_t in_nx, in_ny;   /* input image size */
    int hdu;               /* 0-based HDU index used */
    char extname[72];      /* its EXTNAME or "" */
    struct preview_scale scale;
    size_t bytes;          /* JPEG size */
};

/**
 * Make a JPEG preview of the first image HDU of FITS file @p in and write it atomically to
 * @p out (temporary file in the same directory, renamed; fsync'ed when @p o->durable).
 * @param[out] res details (may be NULL)
 * @return ERR_OK; ERR_FITS/ERR_NOT_FOUND for unreadable input or no image (message names the
 *         file), ERR_INVALID for an image without good pixels, ERR_IO on write failure.
 */
NODISCARD enum err preview_file(const char *in, const char *out, const struct preview_opts *o,
                                struct preview_result *res, struct err_info *ei);

#endif
