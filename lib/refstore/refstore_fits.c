/* refstore_fits.c - is a downloaded reference a complete FITS file? lib/fits's fits_walk over
 * the file (or memory, for the fuzz target): every HDU's header and padded data must be in it.
 * SPDX-License-Identifier: Apache-2.0 */
#include "refstore_int.h"

#include "fits/fits.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct mem_src {
    const unsigned char *p;
    size_t n;
};

static long mem_read(void *ud, uint64_t off, void *buf, size_t len)
{
    const struct mem_src *m = ud;
    if (off >= m->n) {
        return 0;
    }
    size_t k = m->n - (size_t)off < len ? m->n - (size_t)off : len;
    memcpy(buf, m->p + off, k);
    return (long)k;
}

enum err refstore__fits_check_mem(const void *data, size_t len, struct err_info *ei)
{
    struct mem_src m = {.p = data, .n = len};
    return fits_walk(mem_read, &m, len, NULL, NULL, "(memory)", ei);
}

static long fd_read(void *ud, uint64_t off, void *buf, size_t len)
{
    int fd = *(const int *)ud;
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return -1;
        }
        if (r == 0) {
            break;
        }
        done += (size_t)r;
    }
    return (long)done;
}

enum err refstore_fits_check_file(const char *path, struct err_info *ei)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return err_set(ei, ERR_IO, "cannot open \"%s\"", path);
    }
    struct stat st;
    enum err e;
    if (fstat(fd, &st) != 0) {
        e = err_set(ei, ERR_IO, "cannot stat \"%s\"", path);
    } else {
        const char *slash = strrchr(path, '/');
        e = fits_walk(fd_read, &fd, (uint64_t)st.st_size, NULL, NULL, slash ? slash + 1 : path,
                      ei);
    }
    close(fd);
    return e;
}
