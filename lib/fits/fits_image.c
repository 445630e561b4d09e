/* fits_image.c - FITS image pixel I/O over cfitsio (see fits_image.h).
 * SPDX-License-Identifier: Apache-2.0 */
/* Pixel conversion loops are written for the vectoriser; let GCC use it at -O2 (IEEE
 * semantics are kept, so values do not change). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize")
#endif

#include "fits/fits_image.h"
#include "fits/fits_int.h"

#include "core/atomic_file.h"
#include "core/str.h"

#include <errno.h>
#include <fcntl.h>
#include <fitsio.h>
#include <zlib.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define FITSIMG_MAX_DIMS 9

struct fitsimg {
    fitsfile *fp;
    char *path;
    int nhdus;
    bool gzipped;       /* decompressed by cfitsio in memory: no direct reads */
    long long filesize; /* bytes on disk, or decompressed bytes of a gzipped file */
    struct fitsimg_info info;
    bool has_blank;     /* integer image with BLANK (or compressed: always check) */
    int fd;             /* our own descriptor for direct reads, or -1 */
    bool direct;        /* current HDU: plain image read with pread + byte swap */
    int raw_bitpix;     /* its BITPIX as stored */
    double bzero;       /* its BZERO (BSCALE is 1) */
    long long datastart;
};

/* Fill @p ei from a cfitsio status and clear cfitsio's message stack. */
static enum err fits_fail(struct err_info *ei, int status, const char *path, int hdu,
                          const char *what)
{
    char text[FLEN_STATUS] = "";
    char detail[FLEN_ERRMSG] = "";
    fits_get_errstatus(status, text);
    /* the first message of the stack is usually the most specific one */
    if (fits_read_errmsg(detail) == 0) {
        detail[0] = '\0';
    }
    fits_clear_errmsg();
    for (char *p = text; *p; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            *p = (char)(*p - 'A' + 'a');
        }
    }
    /* cfitsio out of memory (its memory files grow with our realloc) is ERR_NOMEM */
    enum err code = status == MEMORY_ALLOCATION ? ERR_NOMEM : ERR_FITS;
    if (hdu >= 0) {
        return err_set(ei, code, "file \"%s\", hdu %d: %s: %s (cfitsio %d%s%s)", path, hdu, what,
                       text, status, detail[0] ? ": " : "", detail);
    }
    return err_set(ei, code, "file \"%s\": %s: %s (cfitsio %d%s%s)", path, what, text, status,
                   detail[0] ? ": " : "", detail);
}

static enum fitsimg_type bitpix_type(int bitpix)
{
    switch (bitpix) {
    case BYTE_IMG: return FITSIMG_U8;
    case SHORT_IMG: return FITSIMG_I16;
    case USHORT_IMG: return FITSIMG_U16;
    case LONG_IMG: return FITSIMG_I32;
    case FLOAT_IMG: return FITSIMG_F32;
    default: return FITSIMG_F64;
    }
}

static int type_cfitsio(enum fitsimg_type t)
{
    switch (t) {
    case FITSIMG_U8: return TBYTE;
    case FITSIMG_I16: return TSHORT;
    case FITSIMG_U16: return TUSHORT;
    case FITSIMG_I32: return TINT;
    case FITSIMG_F32: return TFLOAT;
    case FITSIMG_F64: return TDOUBLE;
    }
    return TDOUBLE;
}

static int type_bitpix(enum fitsimg_type t)
{
    switch (t) {
    case FITSIMG_U8: return BYTE_IMG;
    case FITSIMG_I16: return SHORT_IMG;
    case FITSIMG_U16: return USHORT_IMG;
    case FITSIMG_I32: return LONG_IMG;
    case FITSIMG_F32: return FLOAT_IMG;
    case FITSIMG_F64: return DOUBLE_IMG;
    }
    return DOUBLE_IMG;
}

static bool file_is_gzip(const char *path)
{
    unsigned char magic[2] = {0, 0};
    FILE *fh = fopen(path, "rb");
    if (!fh) {
        return false;
    }
    size_t n = fread(magic, 1, 2, fh);
    fclose(fh);
    return n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

/* The decompressed size of the gzipped file @p path, counted by streaming it through zlib (the
 * gzip trailer's size is modulo 4 GiB and says what the writer wants), refused above @p max
 * with ERR_TOO_LARGE: the data extent of every image is checked against this size, as it is
 * against the size on disk of a plain file. */
static enum err gz_size(const char *path, int64_t max, long long *out, struct err_info *ei)
{
    enum err e = ERR_OK;
    unsigned char *chunk = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return err_set(ei, ERR_IO, "could not open file \"%s\": %s", path, ERR_ERRNO(errno));
    }
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        (void)close(fd);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    const unsigned chunk_len = 256u * 1024u;
    chunk = malloc(chunk_len);
    if (!chunk) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    int64_t total = 0;
    for (;;) {
        int n = gzread(gz, chunk, chunk_len);
        if (n < 0) {
            int zerr = 0;
            const char *msg = gzerror(gz, &zerr);
            e = err_set(ei, ERR_FITS, "file \"%s\": gzip data is corrupt: %s", path,
                        msg ? msg : "unknown error");
            goto out;
        }
        if (n == 0) {
            break;
        }
        total += n;
        if (total > max) {
            e = err_set(ei, ERR_TOO_LARGE,
                        "file \"%s\": decompresses to more than %lld bytes (FITSIMG_GZ_MAX_BYTES)",
                        path, (long long)max);
            goto out;
        }
    }
    *out = (long long)total;
out:
    free(chunk);
    (void)gzclose_r(gz); /* closes fd */
    return e;
}

/* @p n bytes at @p off of the file (decompressed, for gzip) into @p buf; false if not there. */
static bool read_at(const struct fitsimg *f, long long off, void *buf, unsigned n)
{
    if (!f->gzipped) {
        return f->fd >= 0 && pread(f->fd, buf, n, (off_t)off) == (ssize_t)n;
    }
    gzFile gz = gzopen(f->path, "rb");
    if (!gz) {
        return false;
    }
    bool ok = gzseek(gz, (z_off_t)off, SEEK_SET) == (z_off_t)off && gzread(gz, buf, n) == (int)n;
    (void)gzclose_r(gz);
    return ok;
}

/* cfitsio counts the complete HDUs only: a file cut inside an extension header looks like a
 * shorter file, and its missing HDUs were then reported one by one. Bytes after the last HDU
 * that start an extension header are reported as the truncation they are (other bytes there,
 * FITS "special records", are allowed). */
static enum err check_cut_header(struct fitsimg *f, struct err_info *ei)
{
    int status = 0;
    int hdutype = 0;
    LONGLONG head = 0, data = 0, end = 0;
    if (fits_movabs_hdu(f->fp, f->nhdus, &hdutype, &status) ||
        fits_get_hduaddrll(f->fp, &head, &data, &end, &status)) {
        fits_clear_errmsg();
        return ERR_OK; /* selecting that HDU reports it */
    }
    char magic[8];
    if ((long long)end >= f->filesize || !read_at(f, (long long)end, magic, sizeof magic) ||
        memcmp(magic, "XTENSION", sizeof magic) != 0) {
        return ERR_OK;
    }
    return err_set(ei, ERR_FITS,
                   "file \"%s\", hdu %d: truncated: its header is cut off after %lld bytes",
                   f->path, f->nhdus, f->filesize - (long long)end);
}

void *fitsimg_alloc_big(size_t bytes)
{
    const size_t huge = (size_t)2 << 20;
    if (bytes < 2 * huge) {
        return malloc(bytes ? bytes : 1);
    }
    size_t len = (bytes + huge - 1) / huge * huge;
    void *p = NULL;
    if (posix_memalign(&p, huge, len) != 0) {
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    (void)madvise(p, len, MADV_HUGEPAGE);
#endif
    return p;
}

bool fitsimg_threads_ok(void)
{
    return fits_is_reentrant() != 0;
}

enum err fitsimg_open(const char *path, struct fitsimg **out, struct err_info *ei)
{
    *out = NULL;
    if (!path || !*path) {
        return err_set(ei, ERR_INVALID, "empty fits file name");
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        return err_set(ei, errno == ENOENT ? ERR_NOT_FOUND : ERR_IO,
                       "could not open file \"%s\": %s", path, ERR_ERRNO(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        return err_set(ei, ERR_INVALID, "file \"%s\" is not a regular file", path);
    }
    struct fitsimg *f = calloc(1, sizeof(*f));
    if (!f) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    f->fd = -1;
    f->path = str_dup(path);
    if (!f->path) {
        free(f);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    f->filesize = (long long)st.st_size;
    f->gzipped = file_is_gzip(path);
    if (f->gzipped) {
        enum err e = gz_size(path, FITSIMG_GZ_MAX_BYTES, &f->filesize, ei);
        if (e != ERR_OK) {
            fitsimg_close(f);
            return e;
        }
    }
    f->fd = f->gzipped ? -1 : open(path, O_RDONLY | O_CLOEXEC);
    int status = 0;
    fits__cfitsio_init();
    if (fits_open_diskfile(&f->fp, path, READONLY, &status)) {
        enum err e = fits_fail(ei, status, path, -1, "could not open");
        f->fp = NULL;
        fitsimg_close(f);
        return e;
    }
    if (fits_get_num_hdus(f->fp, &f->nhdus, &status)) {
        enum err e = fits_fail(ei, status, path, -1, "could not count hdus");
        fitsimg_close(f);
        return e;
    }
    enum err e = check_cut_header(f, ei);
    if (e != ERR_OK) {
        fitsimg_close(f);
        return e;
    }
    e = fitsimg_select(f, 0, ei);
    if (e != ERR_OK) {
        fitsimg_close(f);
        return e;
    }
    *out = f;
    return ERR_OK;
}

void fitsimg_close(struct fitsimg *f)
{
    if (!f) {
        return;
    }
    if (f->fp) {
        int status = 0;
        fits_close_file(f->fp, &status);
        fits_clear_errmsg();
    }
    if (f->fd >= 0) {
        close(f->fd);
    }
    free(f->path);
    free(f);
}

const char *fitsimg_path(const struct fitsimg *f)
{
    return f->path;
}

int fitsimg_hdu_count(const struct fitsimg *f)
{
    return f->nhdus;
}

/* Optional keyword of the current HDU: false if absent or not convertible. */
static bool key_dbl_opt(fitsfile *fp, const char *name, double *out)
{
    int status = 0;
    double v = 0;
    if (fits_read_key_dbl(fp, name, &v, NULL, &status)) {
        fits_clear_errmsg();
        return false;
    }
    *out = v;
    return true;
}

static bool key_str_opt(fitsfile *fp, const char *name, char *buf, size_t cap)
{
    int status = 0;
    char v[FLEN_VALUE] = "";
    if (fits_read_key_str(fp, name, v, NULL, &status)) {
        fits_clear_errmsg();
        return false;
    }
    return str_copy(buf, cap, v);
}

enum err fitsimg_select(struct fitsimg *f, int index, struct err_info *ei)
{
    if (index < 0 || index >= f->nhdus) {
        return err_set(ei, ERR_NOT_FOUND, "file \"%s\" has no hdu %d (it has %d)", f->path, index,
                       f->nhdus);
    }
    int status = 0;
    int hdutype = 0;
    if (fits_movabs_hdu(f->fp, index + 1, &hdutype, &status)) {
        return fits_fail(ei, status, f->path, index, "could not move to hdu");
    }
    struct fitsimg_info *in = &f->info;
    memset(in, 0, sizeof(*in));
    in->hdu = index;
    in->extver = 1;
    f->has_blank = false;
    f->direct = false;
    char name[FLEN_VALUE];
    if (key_str_opt(f->fp, "EXTNAME", name, sizeof(name))) {
        str_copy(in->extname, sizeof(in->extname), name);
    }
    double ev = 0;
    if (key_dbl_opt(f->fp, "EXTVER", &ev) && ev >= 1 && ev < 1e6) {
        in->extver = (int)ev;
    }

    /* cfitsio presents a tile-compressed image as IMAGE_HDU, so ask for every HDU: its data
     * extent is the compressed table's, not NAXIS1 x NAXIS2 pixels */
    int is_comp = 0;
    if (hdutype == BINARY_TBL || hdutype == IMAGE_HDU) {
        if (fits_is_compressed_image(f->fp, &status) && status == 0) {
            is_comp = 1;
        }
        status = 0;
        fits_clear_errmsg();
    }
    if (hdutype == BINARY_TBL) {
        if (!is_comp) {
            return ERR_OK; /* a table: no image */
        }
    } else if (hdutype != IMAGE_HDU) {
        return ERR_OK;
    }
    in->compressed = is_comp != 0;

    int bitpix = 0;
    int naxis = 0;
    LONGLONG naxes[FITSIMG_MAX_DIMS] = {0};
    if (fits_get_img_paramll(f->fp, FITSIMG_MAX_DIMS, &bitpix, &naxis, naxes, &status)) {
        return fits_fail(ei, status, f->path, index, "could not read image parameters");
    }
    int eqtype = bitpix;
    if (fits_get_img_equivtype(f->fp, &eqtype, &status)) {
        status = 0;
        fits_clear_errmsg();
        eqtype = bitpix;
    }
    in->bitpix = eqtype;
    in->naxis = naxis;
    if (naxis < 0 || naxis > FITSIMG_MAX_DIMS) {
        return err_set(ei, ERR_FITS, "file \"%s\", hdu %d: unsupported naxis %d", f->path, index,
                       naxis);
    }
    if (naxis == 0) {
        double n1 = 0, n2 = 1;
        if (key_dbl_opt(f->fp, "NPIX1", &n1)) {
            if (!key_dbl_opt(f->fp, "NPIX2", &n2)) {
                n2 = 1;
            }
            if (!(n1 >= 1 && n1 <= (double)FITSIMG_MAX_AXIS && n2 >= 1 &&
                  n2 <= (double)FITSIMG_MAX_AXIS)) {
                return err_set(ei, ERR_FITS,
                               "file \"%s\", hdu %d: constant array size %gx%g is out of range",
                               f->path, index, n1, n2);
            }
            in->constant = true;
            in->nx = (int64_t)n1;
            in->ny = (int64_t)n2;
            in->nplanes = 1;
            double pv = 0;
            in->pixvalue = key_dbl_opt(f->fp, "PIXVALUE", &pv) ? pv : 0.0;
        }
        return ERR_OK;
    }
    int64_t planes = 1;
    for (int i = 0; i < naxis; i++) {
        if (naxes[i] < 0 || naxes[i] > FITSIMG_MAX_AXIS) {
            return err_set(ei, ERR_FITS, "file \"%s\", hdu %d: NAXIS%d = %lld is out of range",
                           f->path, index, i + 1, (long long)naxes[i]);
        }
        if (i >= 2) {
            planes *= (int64_t)naxes[i];
            if (planes > FITSIMG_MAX_AXIS) {
                return err_set(ei, ERR_FITS, "file \"%s\", hdu %d: too many image planes",
                               f->path, index);
            }
        }
    }
    in->nx = (int64_t)naxes[0];
    in->ny = naxis >= 2 ? (int64_t)naxes[1] : 1;
    in->nplanes = planes;
    if (in->nx == 0 || in->ny == 0 || planes == 0) {
        in->nx = in->ny = 0;
        return ERR_OK;
    }
    if (is_comp) {
        f->has_blank = bitpix > 0;
    } else {
        f->has_blank = bitpix > 0 && fitsimg_has_key(f, "BLANK");
        /* the data must be in the file (decompressed, for gzip) before anything is sized
         * from NAXISn: a header alone must not make a reader allocate gigabytes */
        LONGLONG head = 0, dstart = 0, dend = 0;
        if (fits_get_hduaddrll(f->fp, &head, &dstart, &dend, &status)) {
            return fits_fail(ei, status, f->path, index, "could not locate data");
        }
        /* at most 2^20 * 2^20 * 2^20 pixels of 8 bytes: fits in 64 unsigned bits */
        uint64_t need = (uint64_t)dstart +
                        (uint64_t)in->nx * (uint64_t)in->ny * (uint64_t)planes *
                            (uint64_t)(abs(bitpix) / 8);
        if (need > (uint64_t)f->filesize) {
            return err_set(ei, ERR_FITS,
                           "file \"%s\", hdu %d: truncated: image data needs %llu bytes but "
                           "the file has %lld%s",
                           f->path, index, (unsigned long long)need, f->filesize,
                           f->gzipped ? " (decompressed)" : "");
        }
        if (!f->gzipped) {
            /* plain images are read directly: one copy, one byte swap (cfitsio copies twice) */
            double bscale = 1, bzero = 0;
            if (!key_dbl_opt(f->fp, "BSCALE", &bscale)) {
                bscale = 1;
            }
            if (!key_dbl_opt(f->fp, "BZERO", &bzero)) {
                bzero = 0;
            }
            if (f->fd >= 0 && !f->has_blank && bscale == 1.0 && isfinite(bzero) &&
                (bitpix > 0 || bzero == 0.0)) {
                f->direct = true;
                f->raw_bitpix = bitpix;
                f->bzero = bzero;
                f->datastart = (long long)dstart;
            }
        }
    }
    return ERR_OK;
}

enum err fitsimg_select_name(struct fitsimg *f, const char *extname, int extver,
                             struct err_info *ei)
{
    int status = 0;
    for (int i = 0; i < f->nhdus; i++) {
        int hdutype = 0;
        if (fits_movabs_hdu(f->fp, i + 1, &hdutype, &status)) {
            return fits_fail(ei, status, f->path, i, "could not move to hdu");
        }
        char name[FLEN_VALUE] = "";
        if (!key_str_opt(f->fp, "EXTNAME", name, sizeof(name)) &&
            !key_str_opt(f->fp, "HDUNAME", name, sizeof(name))) {
            continue;
        }
        if (strcasecmp(name, extname) != 0) {
            continue;
        }
        double ev = 1;
        if (!key_dbl_opt(f->fp, "EXTVER", &ev)) {
            ev = 1;
        }
        if (extver > 0 && (int)ev != extver) {
            continue;
        }
        return fitsimg_select(f, i, ei);
    }
    if (extver > 0) {
        return err_set(ei, ERR_NOT_FOUND, "file \"%s\" has no hdu %s,%d", f->path, extname,
                       extver);
    }
    return err_set(ei, ERR_NOT_FOUND, "file \"%s\" has no hdu %s", f->path, extname);
}

enum err fitsimg_select_first_image(struct fitsimg *f, struct err_info *ei)
{
    for (int i = 0; i < f->nhdus; i++) {
        enum err e = fitsimg_select(f, i, ei);
        if (e != ERR_OK) {
            return e;
        }
        if (f->info.nx > 0 && f->info.ny > 0 && !f->info.constant) {
            return ERR_OK;
        }
    }
    return err_set(ei, ERR_NOT_FOUND, "file \"%s\" has no image hdu", f->path);
}

enum err fitsimg_select_spec(struct fitsimg *f, const char *spec, struct err_info *ei)
{
    if (!spec || !*spec) {
        return err_set(ei, ERR_INVALID, "empty hdu specification");
    }
    int64_t idx = 0;
    if (str_to_i64(spec, 0, INT_MAX, &idx) == ERR_OK) {
        return fitsimg_select(f, (int)idx, ei);
    }
    char name[72];
    const char *comma = strchr(spec, ',');
    int ver = 0;
    if (comma) {
        size_t n = (size_t)(comma - spec);
        if (n == 0 || n >= sizeof(name)) {
            return err_set(ei, ERR_INVALID, "bad hdu specification \"%s\"", spec);
        }
        memcpy(name, spec, n);
        name[n] = '\0';
        int64_t v = 0;
        if (str_to_i64(comma + 1, 1, 1000000, &v) != ERR_OK) {
            return err_set(ei, ERR_INVALID, "bad extver in hdu specification \"%s\"", spec);
        }
        ver = (int)v;
    } else if (!str_copy(name, sizeof(name), spec)) {
        return err_set(ei, ERR_INVALID, "bad hdu specification \"%s\"", spec);
    }
    return fitsimg_select_name(f, name, ver, ei);
}

void fitsimg_get_info(const struct fitsimg *f, struct fitsimg_info *out)
{
    *out = f->info;
}

static bool pread_all(int fd, void *buf, size_t n, long long off)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return false;
        }
        p += r;
        n -= (size_t)r;
        off += r;
    }
    return true;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BE16(x) __builtin_bswap16(x)
#define BE32(x) __builtin_bswap32(x)
#define BE64(x) __builtin_bswap64(x)
#else
#define BE16(x) (x)
#define BE32(x) (x)
#define BE64(x) (x)
#endif

/* Big-endian FITS values of BITPIX @p bitpix in @p raw to double/float, plus @p bzero
 * (integers only, as cfitsio: raw * 1 + bzero). One loop per type so that it vectorises. */
#define CONVERT_LOOP(UT, ST, SWAP, W)                                                              \
    for (size_t i = 0; i < n; i++) {                                                               \
        UT u;                                                                                      \
        memcpy(&u, raw + (W) * i, (W));                                                            \
        double v = (double)(ST)SWAP(u) + bzero;                                                    \
        if (od) {                                                                                  \
            od[i] = v;                                                                             \
        } else {                                                                                   \
            of[i] = (float)v;                                                                      \
        }                                                                                          \
    }
static void convert_be(int bitpix, const unsigned char *raw, size_t n, double bzero, int ctype,
                       void *out, size_t at)
{
    double *od = ctype == TDOUBLE ? (double *)out + at : NULL;
    float *of = ctype == TDOUBLE ? NULL : (float *)out + at;
    switch (bitpix) {
    case 8:
        for (size_t i = 0; i < n; i++) {
            double v = (double)raw[i] + bzero;
            if (od) {
                od[i] = v;
            } else {
                of[i] = (float)v;
            }
        }
        break;
    case 16: CONVERT_LOOP(uint16_t, int16_t, BE16, 2) break;
    case 32: CONVERT_LOOP(uint32_t, int32_t, BE32, 4) break;
    case 64: CONVERT_LOOP(uint64_t, int64_t, BE64, 8) break;
    case -32:
        for (size_t i = 0; i < n; i++) {
            uint32_t u;
            float x;
            memcpy(&u, raw + 4 * i, 4);
            u = BE32(u);
            memcpy(&x, &u, 4);
            if (od) {
                od[i] = (double)x;
            } else {
                of[i] = x;
            }
        }
        break;
    default:
        for (size_t i = 0; i < n; i++) {
            uint64_t u;
            double x;
            memcpy(&u, raw + 8 * i, 8);
            u = BE64(u);
            memcpy(&x, &u, 8);
            if (od) {
                od[i] = x;
            } else {
                of[i] = (float)x;
            }
        }
        break;
    }
}
#undef CONVERT_LOOP

static enum err read_direct(struct fitsimg *f, int64_t row0, int64_t n, int ctype, void *out,
                            struct err_info *ei)
{
    const size_t bpp = (size_t)abs(f->raw_bitpix) / 8;
    long long off = f->datastart + (long long)row0 * f->info.nx * (long long)bpp;
    if ((ctype == TDOUBLE && f->raw_bitpix == -64) || (ctype == TFLOAT && f->raw_bitpix == -32)) {
        /* same width: read in place, then swap */
        if (!pread_all(f->fd, out, (size_t)n * bpp, off)) {
            goto fail;
        }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (bpp == 8) {
            uint64_t *u = out;
            for (int64_t i = 0; i < n; i++) {
                u[i] = __builtin_bswap64(u[i]);
            }
        } else {
            uint32_t *u = out;
            for (int64_t i = 0; i < n; i++) {
                u[i] = __builtin_bswap32(u[i]);
            }
        }
#endif
        return ERR_OK;
    }
    enum { CHUNK = 1 << 16 };
    unsigned char *tmp = malloc(CHUNK * 8);
    if (!tmp) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    for (int64_t done = 0; done < n;) {
        size_t k = (size_t)(n - done < CHUNK ? n - done : CHUNK);
        if (!pread_all(f->fd, tmp, k * bpp, off + (long long)done * (long long)bpp)) {
            free(tmp);
            goto fail;
        }
        convert_be(f->raw_bitpix, tmp, k, f->bzero, ctype, out, (size_t)done);
        done += (int64_t)k;
    }
    free(tmp);
    return ERR_OK;
fail:
    return err_set(ei, ERR_FITS, "file \"%s\", hdu %d: could not read pixels: %s", f->path,
                   f->info.hdu, errno ? ERR_ERRNO(errno) : "unexpected end of file");
}

static enum err read_rows_typed(struct fitsimg *f, int64_t row0, int64_t nrows, int ctype,
                                void *out, struct err_info *ei)
{
    const struct fitsimg_info *in = &f->info;
    if (in->nx <= 0 || in->ny <= 0) {
        return err_set(ei, ERR_FITS, "file \"%s\", hdu %d holds no image", f->path, in->hdu);
    }
    if (row0 < 0 || nrows < 0 || row0 > in->ny || nrows > in->ny - row0) {
        return err_set(ei, ERR_INVALID, "file \"%s\", hdu %d: rows %lld..%lld are outside 0..%lld",
                       f->path, in->hdu, (long long)row0, (long long)(row0 + nrows),
                       (long long)in->ny);
    }
    if (nrows == 0) {
        return ERR_OK;
    }
    int64_t n = in->nx * nrows;
    if (in->constant) {
        if (ctype == TDOUBLE) {
            double *o = out;
            for (int64_t i = 0; i < n; i++) {
                o[i] = in->pixvalue;
            }
        } else {
            float *o = out;
            for (int64_t i = 0; i < n; i++) {
                o[i] = (float)in->pixvalue;
            }
        }
        return ERR_OK;
    }
    if (f->direct) {
        return read_direct(f, in->naxis >= 2 ? row0 : 0, n, ctype, out, ei);
    }
    LONGLONG fpix[FITSIMG_MAX_DIMS];
    for (int i = 0; i < FITSIMG_MAX_DIMS; i++) {
        fpix[i] = 1;
    }
    if (in->naxis >= 2) {
        fpix[1] = (LONGLONG)(row0 + 1);
    }
    int status = 0;
    int anynul = 0;
    double dnan = NAN;
    float fnan = NAN;
    void *nulval = NULL;
    if (f->has_blank) {
        nulval = ctype == TDOUBLE ? (void *)&dnan : (void *)&fnan;
    }
    if (fits_read_pixll(f->fp, ctype, fpix, (LONGLONG)n, nulval, out, &anynul, &status)) {
        return fits_fail(ei, status, f->path, in->hdu, "could not read pixels");
    }
    return ERR_OK;
}

enum err fitsimg_read_rows(struct fitsimg *f, int64_t row0, int64_t nrows, double *out,
                           struct err_info *ei)
{
    return read_rows_typed(f, row0, nrows, TDOUBLE, out, ei);
}

enum err fitsimg_read_rows_f(struct fitsimg *f, int64_t row0, int64_t nrows, float *out,
                             struct err_info *ei)
{
    return read_rows_typed(f, row0, nrows, TFLOAT, out, ei);
}

enum err fitsimg_read_all(struct fitsimg *f, double **out, int64_t *nx, int64_t *ny,
                          struct err_info *ei)
{
    *out = NULL;
    const struct fitsimg_info *in = &f->info;
    if (in->nx <= 0 || in->ny <= 0) {
        return err_set(ei, ERR_FITS, "file \"%s\", hdu %d holds no image", f->path, in->hdu);
    }
    if (in->nx * in->ny > FITSIMG_MAX_PIXELS) {
        return err_set(ei, ERR_TOO_LARGE, "file \"%s\", hdu %d: image of %lldx%lld is too large",
                       f->path, in->hdu, (long long)in->nx, (long long)in->ny);
    }
    double *buf = fitsimg_alloc_big((size_t)(in->nx * in->ny) * sizeof(double));
    if (!buf) {
        return err_set(ei, ERR_NOMEM, "out of memory for a %lldx%lld image",
                       (long long)in->nx, (long long)in->ny);
    }
    enum err e = fitsimg_read_rows(f, 0, in->ny, buf, ei);
    if (e != ERR_OK) {
        free(buf);
        return e;
    }
    *out = buf;
    *nx = in->nx;
    *ny = in->ny;
    return ERR_OK;
}

static enum err key_missing(struct fitsimg *f, const char *name, int status, struct err_info *ei)
{
    if (status == KEY_NO_EXIST || status == VALUE_UNDEFINED) {
        fits_clear_errmsg();
        return err_set_field(ei, ERR_NOT_FOUND, name, "file \"%s\", hdu %d: keyword %s %s",
                             f->path, f->info.hdu, name,
                             status == KEY_NO_EXIST ? "is missing" : "has no value");
    }
    char what[FLEN_KEYWORD + 40];
    snprintf(what, sizeof(what), "bad value of keyword %s", name);
    enum err e = fits_fail(ei, status, f->path, f->info.hdu, what);
    str_copy(ei ? ei->field : what, ei ? sizeof(ei->field) : sizeof(what), name);
    return e;
}

enum err fitsimg_key_str(struct fitsimg *f, const char *name, char *buf, size_t cap,
                         struct err_info *ei)
{
    int status = 0;
    char *longstr = NULL;
    if (fits_read_key_longstr(f->fp, name, &longstr, NULL, &status)) {
        if (longstr) {
            fits_free_memory(longstr, &status);
        }
        return key_missing(f, name, status, ei);
    }
    /* strip trailing blanks (FITS pads strings) */
    size_t n = strlen(longstr);
    while (n > 0 && longstr[n - 1] == ' ') {
        longstr[--n] = '\0';
    }
    bool ok = str_copy(buf, cap, longstr);
    status = 0;
    fits_free_memory(longstr, &status);
    if (!ok) {
        return err_set_field(ei, ERR_TOO_LARGE, name,
                             "file \"%s\", hdu %d: value of keyword %s is too long", f->path,
                             f->info.hdu, name);
    }
    return ERR_OK;
}

enum err fitsimg_key_double(struct fitsimg *f, const char *name, double *out,
                            struct err_info *ei)
{
    int status = 0;
    double v = 0;
    if (fits_read_key_dbl(f->fp, name, &v, NULL, &status)) {
        return key_missing(f, name, status, ei);
    }
    *out = v;
    return ERR_OK;
}

enum err fitsimg_key_int(struct fitsimg *f, const char *name, int64_t *out, struct err_info *ei)
{
    int status = 0;
    LONGLONG v = 0;
    if (fits_read_key_lnglng(f->fp, name, &v, NULL, &status)) {
        return key_missing(f, name, status, ei);
    }
    *out = (int64_t)v;
    return ERR_OK;
}

bool fitsimg_has_key(struct fitsimg *f, const char *name)
{
    int status = 0;
    char card[FLEN_CARD];
    if (fits_read_card(f->fp, name, card, &status)) {
        fits_clear_errmsg();
        return false;
    }
    return true;
}

/* Structural keywords that describe the storage, not the observation. */
static bool key_structural(const char *key)
{
    static const char *const exact[] = {
        "SIMPLE",   "XTENSION", "BITPIX",   "NAXIS",    "EXTEND",   "PCOUNT",   "GCOUNT",
        "BZERO",    "BSCALE",   "BLANK",    "EXTNAME",  "EXTVER",   "CHECKSUM", "DATASUM",
        "PIXVALUE", "END",      "TFIELDS",  "THEAP",    "ZIMAGE",   "ZBITPIX",  "ZNAXIS",
        "ZCMPTYPE", "ZQUANTIZ", "ZDITHER0", "ZSIMPLE",  "ZTENSION", "ZEXTEND",  "ZBLOCKED",
        "ZPCOUNT",  "ZGCOUNT",  "ZHECKSUM", "ZDATASUM", "ZBLANK",   "ZSCALE",   "ZZERO",
        "INHERIT",
    };
    for (size_t i = 0; i < ARRAY_LEN(exact); i++) {
        if (strcmp(key, exact[i]) == 0) {
            return true;
        }
    }
    static const char *const indexed[] = {"NAXIS", "NPIX",  "ZNAXIS", "ZTILE", "ZNAME", "ZVAL",
                                          "TTYPE", "TFORM", "TUNIT",  "TDIM",  "TNULL", "TSCAL",
                                          "TZERO", "TDISP"};
    for (size_t i = 0; i < ARRAY_LEN(indexed); i++) {
        size_t n = strlen(indexed[i]);
        if (strncmp(key, indexed[i], n) == 0 && key[n] >= '0' && key[n] <= '9') {
            bool digits = true;
            for (const char *p = key + n; *p; p++) {
                if (*p < '0' || *p > '9') {
                    digits = false;
                }
            }
            if (digits) {
                return true;
            }
        }
    }
    return false;
}

enum err fitsimg_each_card(struct fitsimg *f, bool (*fn)(const char *card, void *arg), void *arg,
                           struct err_info *ei)
{
    int status = 0;
    int nkeys = 0;
    int more = 0;
    if (fits_get_hdrspace(f->fp, &nkeys, &more, &status)) {
        return fits_fail(ei, status, f->path, f->info.hdu, "could not read header");
    }
    for (int i = 1; i <= nkeys; i++) {
        char card[FLEN_CARD] = "";
        if (fits_read_record(f->fp, i, card, &status)) {
            return fits_fail(ei, status, f->path, f->info.hdu, "could not read header card");
        }
        char key[FLEN_KEYWORD] = "";
        int klen = 0;
        if (fits_get_keyname(card, key, &klen, &status)) {
            status = 0;
            fits_clear_errmsg();
            continue;
        }
        if (key_structural(key)) {
            continue;
        }
        if (!fn(card, arg)) {
            break;
        }
    }
    return ERR_OK;
}

static bool hdu_is_table(struct fitsimg *f)
{
    int status = 0;
    int hdutype = 0;
    if (fits_get_hdu_type(f->fp, &hdutype, &status)) {
        fits_clear_errmsg();
        return false;
    }
    return (hdutype == BINARY_TBL || hdutype == ASCII_TBL) && !f->info.compressed;
}

enum err fitsimg_table_rows(struct fitsimg *f, int64_t *nrows, struct err_info *ei)
{
    *nrows = 0;
    if (!hdu_is_table(f)) {
        return err_set(ei, ERR_FITS, "file \"%s\", hdu %d is not a table", f->path, f->info.hdu);
    }
    int status = 0;
    LONGLONG n = 0;
    if (fits_get_num_rowsll(f->fp, &n, &status)) {
        return fits_fail(ei, status, f->path, f->info.hdu, "could not count table rows");
    }
    if (n < 0 || n > FITSIMG_MAX_TABLE_ROWS) {
        return err_set(ei, ERR_TOO_LARGE, "file \"%s\", hdu %d: table of %lld rows is too large",
                       f->path, f->info.hdu, (long long)n);
    }
    LONGLONG head = 0, dstart = 0, dend = 0;
    if (!f->gzipped && fits_get_hduaddrll(f->fp, &head, &dstart, &dend, &status) == 0 &&
        (long long)dend > f->filesize + 2880) {
        return err_set(ei, ERR_FITS, "file \"%s\", hdu %d: truncated table", f->path, f->info.hdu);
    }
    status = 0;
    fits_clear_errmsg();
    *nrows = (int64_t)n;
    return ERR_OK;
}

static int table_col(struct fitsimg *f, const char *name)
{
    int status = 0;
    int col = 0;
    char tmpl[FLEN_VALUE];
    if (!str_copy(tmpl, sizeof(tmpl), name) || strpbrk(tmpl, "*?#")) {
        return 0;
    }
    if (fits_get_colnum(f->fp, CASEINSEN, tmpl, &col, &status)) {
        fits_clear_errmsg();
        return 0;
    }
    return col;
}

bool fitsimg_table_has_col(struct fitsimg *f, const char *name)
{
    return hdu_is_table(f) && table_col(f, name) > 0;
}

enum err fitsimg_table_read_col(struct fitsimg *f, const char *name, int64_t n, double *out,
                                struct err_info *ei)
{
    int64_t rows = 0;
    enum err e = fitsimg_table_rows(f, &rows, ei);
    if (e != ERR_OK) {
        return e;
    }
    int col = table_col(f, name);
    if (col <= 0) {
        return err_set_field(ei, ERR_NOT_FOUND, name, "file \"%s\", hdu %d: no column %s",
                             f->path, f->info.hdu, name);
    }
    if (n < 0 || n > rows) {
        return err_set(ei, ERR_INVALID, "file \"%s\", hdu %d: %lld rows asked, table has %lld",
                       f->path, f->info.hdu, (long long)n, (long long)rows);
    }
    if (n == 0) {
        return ERR_OK;
    }
    int status = 0;
    int anynul = 0;
    double nulval = NAN;
    if (fits_read_col(f->fp, TDOUBLE, col, 1, 1, (LONGLONG)n, &nulval, out, &anynul, &status)) {
        return fits_fail(ei, status, f->path, f->info.hdu, "could not read table column");
    }
    return ERR_OK;
}

enum err fitsimg_table_read_str(struct fitsimg *f, const char *name, int64_t row, char *buf,
                                size_t cap, struct err_info *ei)
{
    int64_t rows = 0;
    enum err e = fitsimg_table_rows(f, &rows, ei);
    if (e != ERR_OK) {
        return e;
    }
    int col = table_col(f, name);
    if (col <= 0) {
        return err_set_field(ei, ERR_NOT_FOUND, name, "file \"%s\", hdu %d: no column %s",
                             f->path, f->info.hdu, name);
    }
    if (row < 0 || row >= rows) {
        return err_set(ei, ERR_INVALID, "file \"%s\", hdu %d: no row %lld", f->path,
                       f->info.hdu, (long long)row);
    }
    int status = 0;
    int typecode = 0;
    long repeat = 0, width = 0;
    if (fits_get_coltype(f->fp, col, &typecode, &repeat, &width, &status)) {
        return fits_fail(ei, status, f->path, f->info.hdu, "could not read column type");
    }
    if (typecode != TSTRING || repeat <= 0 || repeat > 4096) {
        return err_set_field(ei, ERR_FITS, name, "file \"%s\", hdu %d: column %s is not a string",
                             f->path, f->info.hdu, name);
    }
    char cell[4097];
    char *cells[1] = {cell};
    int anynul = 0;
    char nulstr[2] = "";
    if (fits_read_col_str(f->fp, col, (LONGLONG)(row + 1), 1, 1, nulstr, cells, &anynul,
                          &status)) {
        return fits_fail(ei, status, f->path, f->info.hdu, "could not read table cell");
    }
    size_t n = strlen(cell);
    while (n > 0 && cell[n - 1] == ' ') {
        cell[--n] = '\0';
    }
    if (!str_copy(buf, cap, cell)) {
        return err_set_field(ei, ERR_TOO_LARGE, name, "table cell too long");
    }
    return ERR_OK;
}

/* ------------------------------------------------------------------------------------------- */

struct fitsimg_writer {
    fitsfile *fp;
    char *path;
    struct atomic_file af; /* the temporary file cfitsio writes, renamed over path on commit */
    bool checksum;
    bool nosync;
    bool committed;
    int nhdus;
    int cur;
};

/* The primary header every written file starts with (no data, EXTEND = T), as cfitsio writes it,
 * into @p fd: cfitsio then opens the file the O_EXCL temporary already is, instead of creating
 * one by name (which would follow a symlink planted at that name). */
static enum err write_primary(int fd, const char *path, struct err_info *ei)
{
    size_t size = 2880;
    void *mem = calloc(1, size); /* cfitsio reads the block it is about to write */
    if (!mem) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    enum err e = ERR_OK;
    fitsfile *m = NULL;
    int status = 0;
    LONGLONG head = 0, data = 0, end = 0;
    fits__cfitsio_init();
    if (fits_create_memfile(&m, &mem, &size, 2880, realloc, &status) ||
        fits_create_img(m, BYTE_IMG, 0, NULL, &status) ||
        fits_update_key_log(m, "EXTEND", 1, "file may contain extensions", &status) ||
        fits_flush_file(m, &status) || fits_get_hduaddrll(m, &head, &data, &end, &status)) {
        e = fits_fail(ei, status, path, 0, "could not write the primary header");
        goto out;
    }
    if (end <= 0 || (size_t)end > size) {
        e = err_set(ei, ERR_INTERNAL, "file \"%s\": primary header of %lld bytes", path,
                    (long long)end);
        goto out;
    }
    const char *p = mem;
    size_t left = (size_t)end;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            e = err_set(ei, ERR_IO, "could not write \"%s\": %s", path, ERR_ERRNO(errno));
            goto out;
        }
        p += n;
        left -= (size_t)n;
    }
out:
    if (m) {
        int st = 0;
        fits_close_file(m, &st);
        fits_clear_errmsg();
    }
    free(mem);
    return e;
}

enum err fitsimg_writer_create(const char *path, struct fitsimg_writer **out, struct err_info *ei)
{
    *out = NULL;
    if (!path || !*path) {
        return err_set(ei, ERR_INVALID, "empty output file name");
    }
    struct fitsimg_writer *w = calloc(1, sizeof(*w));
    if (!w) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    w->af.fd = -1;
    w->path = str_dup(path);
    if (!w->path) {
        fitsimg_writer_destroy(w);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    /* the temporary lives beside the target so that rename() is atomic (core/atomic_file) */
    enum err e = atomic_file_open_replace(&w->af, path, ei);
    if (e == ERR_OK) {
        e = write_primary(w->af.fd, path, ei);
    }
    if (e != ERR_OK) {
        fitsimg_writer_destroy(w);
        return e;
    }
    int status = 0;
    if (fits_open_diskfile(&w->fp, w->af.tmp, READWRITE, &status)) {
        e = fits_fail(ei, status, path, -1, "could not create");
        w->fp = NULL;
        fitsimg_writer_destroy(w);
        return e;
    }
    w->nhdus = 1;
    w->cur = 0;
    *out = w;
    return ERR_OK;
}

void fitsimg_writer_set_checksum(struct fitsimg_writer *w, bool on)
{
    w->checksum = on;
}

enum err fitsimg_writer_add_image(struct fitsimg_writer *w, const char *extname, int extver,
                                  enum fitsimg_type type, int64_t nx, int64_t ny, int *hdu_out,
                                  struct err_info *ei)
{
    if (nx <= 0 || ny <= 0 || nx > FITSIMG_MAX_AXIS || ny > FITSIMG_MAX_AXIS) {
        return err_set(ei, ERR_INVALID, "file \"%s\": bad image size %lldx%lld", w->path,
                       (long long)nx, (long long)ny);
    }
    int status = 0;
    /* append after the last HDU */
    int hdutype = 0;
    if (w->cur != w->nhdus - 1 && fits_movabs_hdu(w->fp, w->nhdus, &hdutype, &status)) {
        return fits_fail(ei, status, w->path, w->nhdus - 1, "could not move to the last hdu");
    }
    LONGLONG naxes[2] = {(LONGLONG)nx, (LONGLONG)ny};
    if (fits_create_imgll(w->fp, type_bitpix(type), 2, naxes, &status)) {
        return fits_fail(ei, status, w->path, w->nhdus, "could not create image extension");
    }
    w->cur = w->nhdus;
    w->nhdus++;
    if (extname && *extname) {
        if (fits_update_key_str(w->fp, "EXTNAME", extname, "extension name", &status) ||
            fits_update_key_lng(w->fp, "EXTVER", extver > 0 ? extver : 1, "extension version",
                                &status)) {
            return fits_fail(ei, status, w->path, w->cur, "could not name extension");
        }
    }
    if (hdu_out) {
        *hdu_out = w->cur;
    }
    return ERR_OK;
}

enum err fitsimg_writer_add_constant(struct fitsimg_writer *w, const char *extname, int extver,
                                     enum fitsimg_type type, int64_t nx, int64_t ny, double value,
                                     int *hdu_out, struct err_info *ei)
{
    if (nx <= 0 || ny <= 0 || nx > FITSIMG_MAX_AXIS || ny > FITSIMG_MAX_AXIS || !isfinite(value)) {
        return err_set(ei, ERR_INVALID, "file \"%s\": bad constant array %lldx%lld", w->path,
                       (long long)nx, (long long)ny);
    }
    int status = 0;
    int hdutype = 0;
    if (w->cur != w->nhdus - 1 && fits_movabs_hdu(w->fp, w->nhdus, &hdutype, &status)) {
        return fits_fail(ei, status, w->path, w->nhdus - 1, "could not move to the last hdu");
    }
    if (fits_create_img(w->fp, type_bitpix(type), 0, NULL, &status)) {
        return fits_fail(ei, status, w->path, w->nhdus, "could not create constant array");
    }
    w->cur = w->nhdus;
    w->nhdus++;
    if ((extname && *extname &&
         (fits_update_key_str(w->fp, "EXTNAME", extname, "extension name", &status) ||
          fits_update_key_lng(w->fp, "EXTVER", extver > 0 ? extver : 1, "extension version",
                              &status))) ||
        fits_update_key_lng(w->fp, "NPIX1", (LONGLONG)nx, "length of constant array axis 1",
                            &status) ||
        fits_update_key_lng(w->fp, "NPIX2", (LONGLONG)ny, "length of constant array axis 2",
                            &status) ||
        fits_update_key_dbl(w->fp, "PIXVALUE", value, -17, "values of pixels in constant array",
                            &status)) {
        return fits_fail(ei, status, w->path, w->cur, "could not describe constant array");
    }
    if (hdu_out) {
        *hdu_out = w->cur;
    }
    return ERR_OK;
}

void fitsimg_writer_set_sync(struct fitsimg_writer *w, bool on)
{
    w->nosync = !on;
}

enum err fitsimg_writer_select(struct fitsimg_writer *w, int hdu, struct err_info *ei)
{
    if (hdu < 0 || hdu >= w->nhdus) {
        return err_set(ei, ERR_INVALID, "file \"%s\": no hdu %d to write", w->path, hdu);
    }
    if (hdu == w->cur) {
        return ERR_OK;
    }
    int status = 0;
    int hdutype = 0;
    if (fits_movabs_hdu(w->fp, hdu + 1, &hdutype, &status)) {
        return fits_fail(ei, status, w->path, hdu, "could not move to hdu");
    }
    w->cur = hdu;
    return ERR_OK;
}

enum err fitsimg_writer_write_rows(struct fitsimg_writer *w, int64_t row0, int64_t nrows,
                                   enum fitsimg_type memtype, const void *data,
                                   struct err_info *ei)
{
    int status = 0;
    int bitpix = 0;
    int naxis = 0;
    LONGLONG naxes[2] = {0, 0};
    if (fits_get_img_paramll(w->fp, 2, &bitpix, &naxis, naxes, &status)) {
        return fits_fail(ei, status, w->path, w->cur, "could not read image size");
    }
    if (naxis != 2 || row0 < 0 || nrows < 0 || row0 + nrows > (int64_t)naxes[1]) {
        return err_set(ei, ERR_INVALID, "file \"%s\", hdu %d: rows %lld..%lld are outside the image",
                       w->path, w->cur, (long long)row0, (long long)(row0 + nrows));
    }
    if (nrows == 0) {
        return ERR_OK;
    }
    LONGLONG fpix[2] = {1, (LONGLONG)(row0 + 1)};
    if (fits_write_pixll(w->fp, type_cfitsio(memtype), fpix, naxes[0] * (LONGLONG)nrows,
                         (void *)(uintptr_t)data, &status)) {
        return fits_fail(ei, status, w->path, w->cur, "could not write pixels");
    }
    return ERR_OK;
}

struct copy_ctx {
    fitsfile *fp;
    int status;
};

static bool copy_card(const char *card, void *arg)
{
    struct copy_ctx *c = arg;
    char key[FLEN_KEYWORD] = "";
    int klen = 0;
    int st = 0;
    fits_get_keyname((char *)(uintptr_t)card, key, &klen, &st);
    if (st || key[0] == '\0' || strcmp(key, "COMMENT") == 0 || strcmp(key, "HISTORY") == 0 ||
        strcmp(key, "CONTINUE") == 0) {
        fits_write_record(c->fp, card, &c->status);
    } else {
        fits_update_card(c->fp, key, card, &c->status);
    }
    return c->status == 0;
}

enum err fitsimg_writer_copy_keys(struct fitsimg_writer *w, struct fitsimg *src,
                                  struct err_info *ei)
{
    struct copy_ctx c = {w->fp, 0};
    enum err e = fitsimg_each_card(src, copy_card, &c, ei);
    if (e != ERR_OK) {
        return e;
    }
    if (c.status) {
        return fits_fail(ei, c.status, w->path, w->cur, "could not copy header cards");
    }
    return ERR_OK;
}

enum err fitsimg_writer_key_str(struct fitsimg_writer *w, const char *name, const char *value,
                                const char *comment, struct err_info *ei)
{
    int status = 0;
    if (strlen(value) > 68) {
        fits_update_key_longstr(w->fp, name, value, comment, &status);
    } else {
        fits_update_key_str(w->fp, name, value, comment, &status);
    }
    if (status) {
        return fits_fail(ei, status, w->path, w->cur, "could not write keyword");
    }
    return ERR_OK;
}

enum err fitsimg_writer_key_double(struct fitsimg_writer *w, const char *name, double value,
                                   const char *comment, struct err_info *ei)
{
    if (!isfinite(value)) {
        return err_set_field(ei, ERR_INVALID, name, "file \"%s\": keyword %s is not finite",
                             w->path, name);
    }
    int status = 0;
    if (fits_update_key_dbl(w->fp, name, value, -17, comment, &status)) {
        return fits_fail(ei, status, w->path, w->cur, "could not write keyword");
    }
    return ERR_OK;
}

enum err fitsimg_writer_key_int(struct fitsimg_writer *w, const char *name, int64_t value,
                                const char *comment, struct err_info *ei)
{
    int status = 0;
    if (fits_update_key_lng(w->fp, name, (LONGLONG)value, comment, &status)) {
        return fits_fail(ei, status, w->path, w->cur, "could not write keyword");
    }
    return ERR_OK;
}

enum err fitsimg_writer_key_bool(struct fitsimg_writer *w, const char *name, bool value,
                                 const char *comment, struct err_info *ei)
{
    int status = 0;
    if (fits_update_key_log(w->fp, name, value ? 1 : 0, comment, &status)) {
        return fits_fail(ei, status, w->path, w->cur, "could not write keyword");
    }
    return ERR_OK;
}

enum err fitsimg_writer_history(struct fitsimg_writer *w, const char *text, struct err_info *ei)
{
    int status = 0;
    if (fits_write_history(w->fp, text, &status)) {
        return fits_fail(ei, status, w->path, w->cur, "could not write history");
    }
    return ERR_OK;
}

enum err fitsimg_writer_commit(struct fitsimg_writer *w, struct err_info *ei)
{
    if (w->committed || !w->fp) {
        return err_set(ei, ERR_INTERNAL, "file \"%s\": writer already finished", w->path);
    }
    int status = 0;
    if (w->checksum) {
        for (int i = 0; i < w->nhdus; i++) {
            int hdutype = 0;
            if (fits_movabs_hdu(w->fp, i + 1, &hdutype, &status) ||
                fits_write_chksum(w->fp, &status)) {
                return fits_fail(ei, status, w->path, i, "could not write checksum");
            }
        }
    }
    fitsfile *fp = w->fp;
    w->fp = NULL;
    if (fits_close_file(fp, &status)) {
        return fits_fail(ei, status, w->path, -1, "could not finish writing");
    }
    /* the fsync of the temporary's descriptor flushes what cfitsio wrote through its own */
    enum err e = atomic_file_commit(&w->af, !w->nosync, ei);
    if (e != ERR_OK) {
        return e;
    }
    w->committed = true;
    return ERR_OK;
}

void fitsimg_writer_destroy(struct fitsimg_writer *w)
{
    if (!w) {
        return;
    }
    if (w->fp) {
        int status = 0;
        fits_close_file(w->fp, &status);
        fits_clear_errmsg();
    }
    atomic_file_abort(&w->af); /* no-op after the commit */
    free(w->path);
    free(w);
}

enum fitsimg_type fitsimg_type_of_bitpix(int bitpix)
{
    return bitpix_type(bitpix);
}
