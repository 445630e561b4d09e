/* test_fits_gz.c - lib/fits on gzip-compressed FITS (issue 9 item 6): cfitsio decompresses them
 * in memory, and the data-extent check used to be skipped for them, so a header of a few
 * hundred bytes claiming a 16384 x 16384 double image made the calibrator allocate 2 GiB
 * before any read failed. Now the extent is checked against the decompressed size: a crafted
 * tiny .fits.gz is "truncated" at open/select, before any pixel buffer exists, while a real
 * small gzipped image still opens and reads. The FITSIMG_GZ_MAX_BYTES cap itself (a 2 GiB
 * stream) is in test_fits_caps.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fits/fits_image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static char dir[1024];

/* One FITS header block of @p cards (NULL-terminated), padded with blanks to 2880 bytes. */
static size_t header_block(char out[2880], const char *const *cards)
{
    memset(out, ' ', 2880);
    size_t i = 0;
    for (; cards[i]; i++) {
        size_t n = strlen(cards[i]);
        memcpy(out + i * 80, cards[i], n > 80 ? 80 : n);
    }
    memcpy(out + i * 80, "END", 3);
    return 2880;
}

static void write_gz(const char *path, const void *data, size_t len)
{
    gzFile gz = gzopen(path, "wb");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, data, (unsigned)len), (int)len);
    assert_int_equal(gzclose(gz), Z_OK);
}

/* A primary header claiming BITPIX -64, 16384 x 16384 (2 GiB of pixels), and no data: about
 * 150 bytes compressed. Refused as truncated when opened. */
static void test_tiny_gz_primary(void **state)
{
    (void)state;
    static const char *const cards[] = {
        "SIMPLE  =                    T", "BITPIX  =                  -64",
        "NAXIS   =                    2", "NAXIS1  =                16384",
        "NAXIS2  =                16384", NULL};
    char block[2880];
    char path[1100];
    snprintf(path, sizeof path, "%s/bomb.fits.gz", dir);
    write_gz(path, block, header_block(block, cards));
    struct fitsimg *f = NULL;
    struct err_info ei = {0};
    assert_int_equal(fitsimg_open(path, &f, &ei), ERR_FITS);
    assert_null(f);
    assert_non_null(strstr(ei.msg, "truncated"));
    assert_non_null(strstr(ei.msg, "2147486528 bytes")); /* 2880 + 2^31 */
    assert_non_null(strstr(ei.msg, "the file has 2880 (decompressed)"));
}

/* The same claim in the first extension (the calibrator's science HDU): the file opens (its
 * primary is empty) and selecting the extension is refused the same way. */
static void test_tiny_gz_extension(void **state)
{
    (void)state;
    static const char *const primary[] = {"SIMPLE  =                    T",
                                          "BITPIX  =                    8",
                                          "NAXIS   =                    0",
                                          "EXTEND  =                    T", NULL};
    static const char *const ext[] = {
        "XTENSION= 'IMAGE   '", "BITPIX  =                  -32", "NAXIS   =                    3",
        "NAXIS1  =                 4096", "NAXIS2  =                 4096",
        "NAXIS3  =                   64", "PCOUNT  =                    0",
        "GCOUNT  =                    1", "EXTNAME = 'SCI     '", NULL};
    char blocks[2 * 2880];
    header_block(blocks, primary);
    header_block(blocks + 2880, ext);
    char path[1100];
    snprintf(path, sizeof path, "%s/ext.fits.gz", dir);
    write_gz(path, blocks, sizeof blocks);
    struct fitsimg *f = NULL;
    struct err_info ei = {0};
    assert_int_equal(fitsimg_open(path, &f, &ei), ERR_OK);
    assert_int_equal(fitsimg_hdu_count(f), 2);
    assert_int_equal(fitsimg_select_name(f, "SCI", 1, &ei), ERR_FITS);
    assert_non_null(strstr(ei.msg, "hdu 1: truncated"));
    fitsimg_close(f);
}

/* A real (small) gzipped image still opens and reads: 3 x 2 of BITPIX 16. */
static void test_small_gz_image_reads(void **state)
{
    (void)state;
    static const char *const cards[] = {
        "SIMPLE  =                    T", "BITPIX  =                   16",
        "NAXIS   =                    2", "NAXIS1  =                    3",
        "NAXIS2  =                    2", NULL};
    char blocks[2 * 2880];
    header_block(blocks, cards);
    memset(blocks + 2880, 0, 2880);
    for (int i = 0; i < 6; i++) { /* big-endian 16-bit values 1..6 */
        blocks[2880 + 2 * i + 1] = (char)(i + 1);
    }
    char path[1100];
    snprintf(path, sizeof path, "%s/small.fits.gz", dir);
    write_gz(path, blocks, sizeof blocks);
    struct fitsimg *f = NULL;
    struct err_info ei = {0};
    assert_int_equal(fitsimg_open(path, &f, &ei), ERR_OK);
    double *px = NULL;
    int64_t nx = 0, ny = 0;
    assert_int_equal(fitsimg_read_all(f, &px, &nx, &ny, &ei), ERR_OK);
    assert_int_equal(nx, 3);
    assert_int_equal(ny, 2);
    for (int i = 0; i < 6; i++) {
        assert_true(px[i] == (double)(i + 1));
    }
    free(px);
    fitsimg_close(f);
}

/* Not gzip data after a gzip magic: a clean ERR_FITS naming the file, not a crash. */
static void test_corrupt_gz(void **state)
{
    (void)state;
    char path[1100];
    snprintf(path, sizeof path, "%s/corrupt.fits.gz", dir);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    static const unsigned char junk[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff,
                                         0xff, 0x00, 0x12, 0x34};
    assert_int_equal(fwrite(junk, 1, sizeof junk, fp), sizeof junk);
    assert_int_equal(fclose(fp), 0);
    struct fitsimg *f = NULL;
    struct err_info ei = {0};
    enum err e = fitsimg_open(path, &f, &ei);
    assert_true(e == ERR_FITS);
    assert_null(f);
    assert_non_null(strstr(ei.msg, "corrupt.fits.gz"));
}

int main(void)
{
    const char *tmp = getenv("OBSFLOW_TEST_TMP");
    snprintf(dir, sizeof dir, "%s", tmp && *tmp ? tmp : "/tmp");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_gz_primary),
        cmocka_unit_test(test_tiny_gz_extension),
        cmocka_unit_test(test_small_gz_image_reads),
        cmocka_unit_test(test_corrupt_gz),
    };
    return cmocka_run_group_tests_name("lib.fits.fits_image_gz", tests, NULL, NULL);
}
