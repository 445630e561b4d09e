/* preview_jpeg.c - greyscale JPEG encoding with libjpeg-turbo (in memory) and atomic writes.
 * SPDX-License-Identifier: Apache-2.0 */
#include "preview/preview.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
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

enum err preview_jpeg_encode(const uint8_t *gray, size_t nx, size_t ny, int quality,
                             unsigned char **out, size_t *len, struct err_info *ei)
{
    struct jpeg_compress_struct c;
    struct jerr je;
    unsigned char *volatile mem = NULL;
    unsigned long memlen = 0;
    if (nx == 0 || ny == 0 || nx > JPEG_MAX_DIMENSION || ny > JPEG_MAX_DIMENSION) {
        return err_set(ei, ERR_INVALID, "cannot encode a %zux%zu JPEG", nx, ny);
    }
    memset(&c, 0, sizeof c);
    c.err = jpeg_std_error(&je.mgr);
    je.mgr.error_exit = jerr_exit;
    je.msg[0] = '\0';
    if (setjmp(je.jmp)) {
        jpeg_destroy_compress(&c);
        free(mem);
        return err_set(ei, ERR_INTERNAL, "could not encode JPEG: %s", je.msg);
    }
    jpeg_create_compress(&c);
    {
        unsigned char *m = NULL;
        jpeg_mem_dest(&c, &m, &memlen);
        mem = m;
        c.image_width = (JDIMENSION)nx;
        c.image_height = (JDIMENSION)ny;
        c.input_components = 1;
        c.in_color_space = JCS_GRAYSCALE;
        jpeg_set_defaults(&c);
        jpeg_set_quality(&c, quality, TRUE);
        jpeg_start_compress(&c, TRUE);
        while (c.next_scanline < c.image_height) {
            JSAMPROW row = (JSAMPROW)(uintptr_t)(gray + (size_t)c.next_scanline * nx);
            jpeg_write_scanlines(&c, &row, 1);
        }
        jpeg_finish_compress(&c);
        /* jpeg_mem_dest may have reallocated: the final pointer is in its destination */
        mem = m;
    }
    jpeg_destroy_compress(&c);
    if (memlen > PREVIEW_JPEG_MAX) {
        free(mem);
        return err_set(ei, ERR_TOO_LARGE, "JPEG larger than %zu bytes", PREVIEW_JPEG_MAX);
    }
    *out = mem;
    *len = (size_t)memlen;
    return ERR_OK;
}

enum err preview_write_atomic(const char *path, const void *data, size_t len, struct err_info *ei)
{
    char tmp[PATH_MAX];
    char dir[PATH_MAX];
    int fd = -1;
    enum err rc = ERR_OK;
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) {
        return err_set(ei, ERR_INVALID, "path is too long: \"%s\"", path);
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return err_set(ei, ERR_IO, "could not create file \"%s\": %s", tmp, strerror(errno));
    }
    const unsigned char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            rc = err_set(ei, ERR_IO, "could not write file \"%s\": %s", tmp, strerror(errno));
            goto fail;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0) {
        rc = err_set(ei, ERR_IO, "could not fsync file \"%s\": %s", tmp, strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = err_set(ei, ERR_IO, "could not close file \"%s\": %s", tmp, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = err_set(ei, ERR_IO, "could not rename \"%s\" to \"%s\": %s", tmp, path,
                     strerror(errno));
        goto fail;
    }
    /* make the rename durable */

    {
        const char *slash = strrchr(path, '/');
        if (slash && (size_t)(slash - path) < sizeof dir) {
            memcpy(dir, path, (size_t)(slash - path));
            dir[slash - path] = '\0';
            if (dir[0] == '\0') {
                dir[0] = '/';
                dir[1] = '\0';
            }
        } else {
            dir[0] = '.';
            dir[1] = '\0';
        }
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
    }
    return ERR_OK;
fail:
    if (fd >= 0) {
        close(fd);
    }
    unlink(tmp);
    return rc;
}
