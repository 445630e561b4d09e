/* preview_jpeg.c - greyscale JPEG encoding with libjpeg-turbo (in memory) and atomic writes.
 * SPDX-License-Identifier: Apache-2.0 */
#include "preview/preview.h"
#include "preview/preview_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>

struct jerr {
    struct jpeg_error_mgr mgr;
    jmp_buf jmp;
    char msg[JMSG_LENGTH_MAX];
};

static void jerr_exit(j_common_ptr cinfo)
{
    struct jerr *e = (struct jerr *)(void *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jmp, 1);
}

struct preview__jpeg {
    struct jpeg_compress_struct c;
    struct jerr je;
    unsigned char *mem; /* jpeg_mem_dest's buffer */
    unsigned long memlen;
    bool started;
};

void preview__jpeg_abort(struct preview__jpeg *j)
{
    if (!j) {
        return;
    }
    jpeg_destroy_compress(&j->c);
    free(j->mem);
    free(j);
}

enum err preview__jpeg_begin(size_t w, size_t h, int quality, struct preview__jpeg **out,
                             struct err_info *ei)
{
    if (w == 0 || h == 0 || w > JPEG_MAX_DIMENSION || h > JPEG_MAX_DIMENSION) {
        return err_set(ei, ERR_INVALID, "cannot encode a %zux%zu JPEG", w, h);
    }
    struct preview__jpeg *j = calloc(1, sizeof *j);
    if (!j) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    j->c.err = jpeg_std_error(&j->je.mgr);
    j->je.mgr.error_exit = jerr_exit;
    if (setjmp(j->je.jmp)) {
        enum err rc = err_set(ei, ERR_INTERNAL, "could not encode JPEG: %s", j->je.msg);
        preview__jpeg_abort(j);
        return rc;
    }
    jpeg_create_compress(&j->c);
    jpeg_mem_dest(&j->c, &j->mem, &j->memlen);
    j->c.image_width = (JDIMENSION)w;
    j->c.image_height = (JDIMENSION)h;
    j->c.input_components = 1;
    j->c.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&j->c);
    jpeg_set_quality(&j->c, quality, TRUE);
    jpeg_start_compress(&j->c, TRUE);
    j->started = true;
    *out = j;
    return ERR_OK;
}

enum err preview__jpeg_row(struct preview__jpeg *j, const uint8_t *row, struct err_info *ei)
{
    if (setjmp(j->je.jmp)) {
        return err_set(ei, ERR_INTERNAL, "could not encode JPEG: %s", j->je.msg);
    }
    JSAMPROW r = (JSAMPROW)(uintptr_t)row;
    jpeg_write_scanlines(&j->c, &r, 1);
    return ERR_OK;
}

enum err preview__jpeg_finish(struct preview__jpeg *j, unsigned char **out, size_t *len,
                              struct err_info *ei)
{
    if (setjmp(j->je.jmp)) {
        enum err rc = err_set(ei, ERR_INTERNAL, "could not encode JPEG: %s", j->je.msg);
        preview__jpeg_abort(j);
        return rc;
    }
    jpeg_finish_compress(&j->c);
    jpeg_destroy_compress(&j->c);
    if (j->memlen > PREVIEW_JPEG_MAX) {
        free(j->mem);
        free(j);
        return err_set(ei, ERR_TOO_LARGE, "JPEG larger than %zu bytes", PREVIEW_JPEG_MAX);
    }
    *out = j->mem;
    *len = (size_t)j->memlen;
    free(j);
    return ERR_OK;
}

enum err preview_jpeg_encode(const uint8_t *gray, size_t nx, size_t ny, int quality,
                             unsigned char **out, size_t *len, struct err_info *ei)
{
    struct preview__jpeg *j = NULL;
    enum err rc = preview__jpeg_begin(nx, ny, quality, &j, ei);
    if (rc != ERR_OK) {
        return rc;
    }
    for (size_t y = 0; y < ny; y++) {
        rc = preview__jpeg_row(j, gray + y * nx, ei);
        if (rc != ERR_OK) {
            preview__jpeg_abort(j);
            return rc;
        }
    }
    return preview__jpeg_finish(j, out, len, ei);
}
