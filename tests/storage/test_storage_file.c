/* test_storage_file.c - lib/storage file: back end and configuration: confinement to the data
 * roots ("..", absolute paths outside, symlinks pointing out, for reads and writes), atomic
 * writes (no partial file, previous content kept on failure), digests, size caps, listing,
 * delete, the AWS_* environment helper and archive URL templates.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "httpc/httpc.h"
#include "storage/storage.h"

static char root[1024];
static char outside[1024];
static struct storage *st;

#define CHECK_OK(call)                                                                             \
    do {                                                                                           \
        struct err_info ei_ = {0};                                                                 \
        enum err e_ = (call);                                                                      \
        (void)ei_;                                                                                 \
        assert_int_equal(e_, ERR_OK);                                                              \
    } while (0)

/* rm -rf DIR && mkdir -p DIR */
static void fresh_dir(const char *dir)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    assert_int_equal(system(cmd), 0);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int group_setup(void **state)
{
    (void)state;
    const char *tmp = getenv("OBSFLOW_TEST_TMP");
    if (!tmp) {
        return -1;
    }
    snprintf(root, sizeof root, "%s/root", tmp);
    snprintf(outside, sizeof outside, "%s/outside", tmp);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' && mkdir -p '%s' '%s'", root, outside, root,
             outside);
    if (system(cmd) != 0) {
        return -1;
    }
    char p[1200];
    snprintf(p, sizeof p, "%s/secret.txt", outside);
    write_file(p, "top secret");
    /* a symlinked file and a symlinked directory, both pointing out of the root */
    snprintf(cmd, sizeof cmd, "ln -s '%s/secret.txt' '%s/link.txt' && ln -s '%s' '%s/linkdir'",
             outside, root, outside, root);
    if (system(cmd) != 0) {
        return -1;
    }
    struct storage_config cfg = {.data_roots = root, .max_object_size = 1 << 20};
    struct err_info ei = {0};
    if (storage_create(&cfg, &st, &ei) != ERR_OK) {
        fprintf(stderr, "%s\n", ei.msg);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    storage_destroy(st);
    return 0;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        return -1;
    }
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            n++;
        }
    }
    closedir(d);
    return n;
}

static void test_create_rejects(void **state)
{
    (void)state;
    struct storage *s2 = NULL;
    struct err_info ei = {0};
    char roots[2100];
    snprintf(roots, sizeof roots, "%s:%s/does-not-exist", root, outside);
    struct storage_config cfg = {.data_roots = roots};
    assert_int_equal(storage_create(&cfg, &s2, &ei), ERR_INVALID);
    assert_non_null(strstr(ei.msg, "does-not-exist"));
    struct storage_config c2 = {.archive_url_template = "https://x/no-placeholder"};
    assert_int_equal(storage_create(&c2, &s2, &ei), ERR_INVALID);
    struct storage_config c3 = {.part_size = 1024};
    assert_int_equal(storage_create(&c3, &s2, &ei), ERR_INVALID);
    /* over S3's 5 GiB part maximum (a huge value would also wrap the part count) */
    c3.part_size = STORAGE_S3_MAX_PART + 1;
    assert_int_equal(storage_create(&c3, &s2, &ei), ERR_INVALID);
    assert_non_null(strstr(ei.msg, "part size"));
    c3.part_size = UINT64_MAX;
    assert_int_equal(storage_create(&c3, &s2, &ei), ERR_INVALID);
    c3.part_size = STORAGE_S3_MAX_PART;
    assert_int_equal(storage_create(&c3, &s2, &ei), ERR_OK);
    storage_destroy(s2);
    s2 = NULL;
    /* no roots: file access refused */
    struct storage_config c4 = {0};
    assert_int_equal(storage_create(&c4, &s2, &ei), ERR_OK);
    char p[1200];
    snprintf(p, sizeof p, "file:%s/x", root);
    assert_int_equal(storage_put_mem(s2, p, "x", 1, NULL, NULL, &ei), ERR_FORBIDDEN);
    assert_non_null(strstr(ei.msg, "no data roots"));
    storage_destroy(s2);
    storage_destroy(NULL);
}

static void test_put_get_head_roundtrip(void **state)
{
    (void)state;
    struct err_info ei = {0};
    char u[1200];
    snprintf(u, sizeof u, "file:%s/a/b/c.txt", root);
    struct storage_stat ps = {0};
    struct storage_xfer_opts o = {.sum = STORAGE_SUM_SHA256};
    CHECK_OK(storage_put_mem(st, u, "hello", 5, &o, &ps, &ei));
    assert_int_equal(ps.size, 5);
    assert_string_equal(ps.sum_hex,
                        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    struct buf b;
    buf_init(&b, 100);
    struct storage_stat gs = {0};
    struct storage_xfer_opts go = {.expect_sum = ps.sum_hex};
    CHECK_OK(storage_get_mem(st, u, 100, &b, &go, &gs, &ei));
    assert_string_equal(buf_cstr(&b), "hello");
    assert_true(gs.mtime_ns > 0);
    buf_free(&b);
    struct storage_stat hs = {0};
    CHECK_OK(storage_head(st, u, &hs, &ei));
    assert_int_equal(hs.size, 5);
    /* overwrite replaces */
    CHECK_OK(storage_put_mem(st, u, "bye", 3, NULL, NULL, &ei));
    CHECK_OK(storage_head(st, u, &hs, &ei));
    assert_int_equal(hs.size, 3);
    /* a bare path and a relative path inside the root work too */
    char bare[1200];
    snprintf(bare, sizeof bare, "%s/a/b/c.txt", root);
    CHECK_OK(storage_head(st, bare, &hs, &ei));
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(root), 0);
    CHECK_OK(storage_head(st, "file:a/b/c.txt", &hs, &ei));
    assert_int_equal(chdir(cwd), 0);
    /* get_file into the caller's space, with a digest */
    char dest[1200];
    snprintf(dest, sizeof dest, "%s/copy.txt", outside);
    CHECK_OK(storage_get_file(st, u, dest, NULL, &gs, &ei));
    assert_int_equal(gs.size, 3);
    /* missing */
    snprintf(u, sizeof u, "file:%s/a/none.txt", root);
    assert_int_equal(storage_head(st, u, &hs, &ei), ERR_NOT_FOUND);
    assert_int_equal(storage_get_file(st, u, dest, NULL, NULL, &ei), ERR_NOT_FOUND);
    /* http is read-only */
    assert_int_equal(storage_put_mem(st, "https://example.org/x", "x", 1, NULL, NULL, &ei),
                     ERR_UNSUPPORTED);
}

static void test_escapes_refused(void **state)
{
    (void)state;
    struct err_info ei = {0};
    char u[2200];
    struct buf b;
    buf_init(&b, 100);
    /* ".." even when it would land back inside */
    snprintf(u, sizeof u, "file:%s/../outside/secret.txt", root);
    assert_int_equal(storage_get_mem(st, u, 100, &b, NULL, NULL, &ei), ERR_FORBIDDEN);
    assert_non_null(strstr(ei.msg, ".."));
    snprintf(u, sizeof u, "file:%s/a/../a/b/c.txt", root);
    assert_int_equal(storage_get_mem(st, u, 100, &b, NULL, NULL, &ei), ERR_FORBIDDEN);
    /* an absolute path outside the roots */
    snprintf(u, sizeof u, "file:%s/secret.txt", outside);
    assert_int_equal(storage_get_mem(st, u, 100, &b, NULL, NULL, &ei), ERR_FORBIDDEN);
    assert_non_null(strstr(ei.msg, "outside the data roots"));
    assert_int_equal(storage_get_mem(st, "file:/etc/passwd", 100, &b, NULL, NULL, &ei),
                     ERR_FORBIDDEN);
    /* a symlinked file pointing out */
    snprintf(u, sizeof u, "file:%s/link.txt", root);
    assert_int_equal(storage_get_mem(st, u, 100, &b, NULL, NULL, &ei), ERR_FORBIDDEN);
    assert_int_equal(storage_head(st, u, NULL, &ei), ERR_FORBIDDEN);
    /* writing through it must not touch the target */
    assert_int_equal(storage_put_mem(st, u, "pwned", 5, NULL, NULL, &ei), ERR_FORBIDDEN);
    /* a symlinked directory pointing out: reads, writes, new files, new subdirectories */
    snprintf(u, sizeof u, "file:%s/linkdir/secret.txt", root);
    assert_int_equal(storage_get_mem(st, u, 100, &b, NULL, NULL, &ei), ERR_FORBIDDEN);
    snprintf(u, sizeof u, "file:%s/linkdir/new.txt", root);
    assert_int_equal(storage_put_mem(st, u, "x", 1, NULL, NULL, &ei), ERR_FORBIDDEN);
    snprintf(u, sizeof u, "file:%s/linkdir/deep/er/new.txt", root);
    assert_int_equal(storage_put_mem(st, u, "x", 1, NULL, NULL, &ei), ERR_FORBIDDEN);
    snprintf(u, sizeof u, "file:%s/linkdir/", root);
    assert_int_equal(storage_list(st, u, NULL, NULL, &ei), ERR_FORBIDDEN);
    buf_free(&b);
    /* nothing changed outside */
    char p[1200];
    snprintf(p, sizeof p, "%s/new.txt", outside);
    struct stat sb;
    assert_int_not_equal(stat(p, &sb), 0);
    snprintf(p, sizeof p, "%s/deep", outside);
    assert_int_not_equal(stat(p, &sb), 0);
    snprintf(p, sizeof p, "%s/secret.txt", outside);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_size, 10);
    /* the confined local path of a good URI is the real path */
    char out[1200];
    snprintf(u, sizeof u, "file:%s/a/b/c.txt", root);
    CHECK_OK(storage_local_path(st, u, false, out, sizeof out, &ei));
    assert_non_null(strstr(out, "/root/a/b/c.txt"));
    snprintf(u, sizeof u, "file:%s/brand/new/file.fits", root);
    CHECK_OK(storage_local_path(st, u, true, out, sizeof out, &ei));
    assert_non_null(strstr(out, "/root/brand/new/file.fits"));
    assert_int_equal(storage_local_path(st, u, false, out, sizeof out, &ei), ERR_NOT_FOUND);
    assert_int_equal(storage_local_path(st, "s3://bucket/x", false, out, sizeof out, &ei),
                     ERR_INVALID);
}

static void test_atomic_writes(void **state)
{
    (void)state;
    struct err_info ei = {0};
    char dir[1200];
    char u[1300];
    snprintf(dir, sizeof dir, "%s/atomic", root);
    snprintf(u, sizeof u, "file:%s/product.fits", dir);
    CHECK_OK(storage_put_mem(st, u, "version one", 11, NULL, NULL, &ei));
    /* a failing source leaves the previous content and no temporary */
    char missing[1200];
    snprintf(missing, sizeof missing, "%s/no-such-source", outside);
    assert_int_equal(storage_put_file(st, u, missing, NULL, NULL, &ei), ERR_IO);
    assert_int_equal(storage_put_file(st, u, outside, NULL, NULL, &ei), ERR_IO); /* a dir */
    struct buf b;
    buf_init(&b, 100);
    CHECK_OK(storage_get_mem(st, u, 100, &b, NULL, NULL, &ei));
    assert_string_equal(buf_cstr(&b), "version one");
    buf_free(&b);
    assert_int_equal(count_entries(dir), 1);
    /* download with a wrong digest: destination not created, no temporary */
    char ddir[1200];
    char dest[1300];
    snprintf(ddir, sizeof ddir, "%s/dl", outside);
    fresh_dir(ddir);
    snprintf(dest, sizeof dest, "%s/got.fits", ddir);
    struct storage_xfer_opts bad = {.expect_sum = "0123456789abcdef0123456789abcdef"};
    assert_int_equal(storage_get_file(st, u, dest, &bad, NULL, &ei), ERR_CHECKSUM);
    assert_int_equal(count_entries(ddir), 0);
    /* over the size cap (1 MiB in this handle) */
    char big[1200];
    snprintf(big, sizeof big, "%s/big.bin", root);
    FILE *f = fopen(big, "wb");
    assert_non_null(f);
    assert_int_equal(fseek(f, (1 << 20) + 1, SEEK_SET), 0);
    fputc('x', f);
    fclose(f);
    char bu[1300];
    snprintf(bu, sizeof bu, "file:%s", big);
    assert_int_equal(storage_get_file(st, bu, dest, NULL, NULL, &ei), ERR_TOO_LARGE);
    assert_int_equal(count_entries(ddir), 0);
    buf_init(&b, 1 << 21);
    assert_int_equal(storage_get_mem(st, bu, 1 << 21, &b, NULL, NULL, &ei), ERR_TOO_LARGE);
    assert_int_equal(storage_get_mem(st, u, 4, &b, NULL, NULL, &ei), ERR_TOO_LARGE);
    buf_free(&b);
    unlink(big);
    /* writing over a directory is refused */
    snprintf(u, sizeof u, "file:%s", dir);
    assert_int_equal(storage_put_mem(st, u, "x", 1, NULL, NULL, &ei), ERR_CONFLICT);
}

struct prog {
    uint64_t done;
    uint64_t total;
    int calls;
    bool cancel;
};

static bool on_prog(void *ud, uint64_t done, uint64_t total)
{
    struct prog *p = ud;
    p->calls++;
    p->done = done;
    p->total = total;
    return !p->cancel;
}

static void test_progress_and_cancel(void **state)
{
    (void)state;
    struct err_info ei = {0};
    char src[1200];
    snprintf(src, sizeof src, "%s/big-src.bin", outside);
    FILE *f = fopen(src, "wb");
    assert_non_null(f);
    for (int i = 0; i < 3 * 1024 * 1024; i++) {
        fputc(i & 0xff, f);
    }
    fclose(f);
    char u[1300];
    snprintf(u, sizeof u, "file:%s/prog/copy.bin", root);
    struct prog p = {0};
    struct storage_xfer_opts o = {.progress = on_prog, .progress_ud = &p};
    CHECK_OK(storage_put_file(st, u, src, &o, NULL, &ei));
    assert_true(p.calls >= 3); /* one per 1 MiB chunk */
    assert_int_equal(p.done, 3 * 1024 * 1024);
    assert_int_equal(p.total, 3 * 1024 * 1024);
    /* cancelled: ERR_CANCELLED and the previous content stays */
    struct prog pc = {.cancel = true};
    struct storage_xfer_opts oc = {.progress = on_prog, .progress_ud = &pc};
    char u2[1300];
    snprintf(u2, sizeof u2, "file:%s/prog/other.bin", root);
    assert_int_equal(storage_put_file(st, u2, src, &oc, NULL, &ei), ERR_CANCELLED);
    struct storage_stat hs;
    assert_int_equal(storage_head(st, u2, &hs, &ei), ERR_NOT_FOUND);
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/prog", root);
    assert_int_equal(count_entries(dir), 1);
    unlink(src);
}

struct seen {
    char uris[16][1400];
    int n;
};

static enum err collect(void *ud, const char *uri, const struct storage_stat *s)
{
    (void)s;
    struct seen *sn = ud;
    if (sn->n < 16) {
        snprintf(sn->uris[sn->n], sizeof sn->uris[0], "%s", uri);
    }
    sn->n++;
    return ERR_OK;
}

static void test_list_and_delete(void **state)
{
    (void)state;
    struct err_info ei = {0};
    char base[1200];
    char u[1400];
    snprintf(base, sizeof base, "%s/lst", root);
    const char *names[] = {"j8cb01u2q_raw.fits", "j8cb01u3q_raw.fits", "sub/j8cb_asn.fits",
                           "other.txt"};
    for (int i = 0; i < 4; i++) {
        snprintf(u, sizeof u, "file:%s/%s", base, names[i]);
        CHECK_OK(storage_put_mem(st, u, "x", 1, NULL, NULL, &ei));
    }
    /* one of our own temporaries is not an object */
    char tmp[1400];
    snprintf(tmp, sizeof tmp, "%s/.j8cb.part.abc123", base);
    write_file(tmp, "partial");
    struct seen sn = {0};
    snprintf(u, sizeof u, "file:%s/", base);
    CHECK_OK(storage_list(st, u, collect, &sn, &ei));
    assert_int_equal(sn.n, 4);
    assert_non_null(strstr(sn.uris[0], "/lst/j8cb01u2q_raw.fits"));
    assert_non_null(strstr(sn.uris[1], "/lst/j8cb01u3q_raw.fits"));
    assert_non_null(strstr(sn.uris[2], "/lst/other.txt"));
    assert_non_null(strstr(sn.uris[3], "/lst/sub/j8cb_asn.fits"));
    assert_true(strncmp(sn.uris[0], "file:/", 6) == 0);
    memset(&sn, 0, sizeof sn);
    snprintf(u, sizeof u, "file:%s/j8cb", base);
    CHECK_OK(storage_list(st, u, collect, &sn, &ei));
    assert_int_equal(sn.n, 2);
    memset(&sn, 0, sizeof sn);
    snprintf(u, sizeof u, "file:%s/sub/j", base);
    CHECK_OK(storage_list(st, u, collect, &sn, &ei));
    assert_int_equal(sn.n, 1);
    snprintf(u, sizeof u, "file:%s/nodir/", base);
    assert_int_equal(storage_list(st, u, collect, &sn, &ei), ERR_NOT_FOUND);
    assert_int_equal(storage_list(st, "https://x/y", collect, &sn, &ei), ERR_UNSUPPORTED);
    /* delete: the file goes, a second delete is fine, a symlink out is removed, not followed */
    snprintf(u, sizeof u, "file:%s/other.txt", base);
    CHECK_OK(storage_delete(st, u, &ei));
    CHECK_OK(storage_delete(st, u, &ei));
    struct storage_stat hs;
    assert_int_equal(storage_head(st, u, &hs, &ei), ERR_NOT_FOUND);
    char link[1400];
    snprintf(link, sizeof link, "%s/lnk", base);
    char target[1200];
    snprintf(target, sizeof target, "%s/secret.txt", outside);
    assert_int_equal(symlink(target, link), 0);
    snprintf(u, sizeof u, "file:%s", link);
    CHECK_OK(storage_delete(st, u, &ei));
    struct stat sb;
    assert_int_equal(stat(target, &sb), 0);
    snprintf(u, sizeof u, "file:%s/secret.txt", outside);
    assert_int_equal(storage_delete(st, u, &ei), ERR_FORBIDDEN);
    assert_int_equal(stat(target, &sb), 0);
}

static const char *fake_env_values[][2] = {
    {"AWS_ACCESS_KEY_ID", "AKID"},
    {"AWS_SECRET_ACCESS_KEY", "SECRET"},
    {"AWS_SESSION_TOKEN", "TOKEN"},
    {"AWS_DEFAULT_REGION", "eu-west-2"},
    {"AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000"},
    {NULL, NULL},
};
static int fake_env_variant;

static char *fake_env(const char *name)
{
    if (fake_env_variant == 1 && strcmp(name, "AWS_SECRET_ACCESS_KEY") == 0) {
        return NULL;
    }
    if (fake_env_variant == 2 && strcmp(name, "AWS_ENDPOINT_URL_S3") == 0) {
        return (char *)(uintptr_t) "ftp://nope";
    }
    for (int i = 0; fake_env_values[i][0]; i++) {
        if (strcmp(fake_env_values[i][0], name) == 0) {
            return (char *)(uintptr_t)fake_env_values[i][1];
        }
    }
    return NULL;
}

static char *empty_env(const char *name)
{
    (void)name;
    return NULL;
}

static void test_s3_config_from_env(void **state)
{
    (void)state;
    struct storage_s3_config c;
    struct err_info ei = {0};
    fake_env_variant = 0;
    CHECK_OK(storage_s3_config_from_env(fake_env, &c, &ei));
    assert_string_equal(c.access_key_id, "AKID");
    assert_string_equal(c.secret_access_key, "SECRET");
    assert_string_equal(c.session_token, "TOKEN");
    assert_string_equal(c.region, "eu-west-2");
    assert_string_equal(c.endpoint_url, "http://127.0.0.1:9000");
    fake_env_variant = 1;
    assert_int_equal(storage_s3_config_from_env(fake_env, &c, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "AWS_SECRET_ACCESS_KEY");
    fake_env_variant = 2;
    assert_int_equal(storage_s3_config_from_env(fake_env, &c, &ei), ERR_INVALID);
    CHECK_OK(storage_s3_config_from_env(empty_env, &c, &ei));
    assert_string_equal(c.region, "us-east-1");
    assert_string_equal(c.access_key_id, "");
    /* the endpoint default follows the region */
    struct storage *s2 = NULL;
    struct storage_config cfg = {.s3 = &c};
    CHECK_OK(storage_create(&cfg, &s2, &ei));
    storage_destroy(s2);
}

static void test_archive_urls(void **state)
{
    (void)state;
    struct err_info ei = {0};
    char url[512];
    CHECK_OK(storage_archive_url(st, "j8cb01u2q_raw.fits", url, sizeof url, &ei));
    assert_string_equal(url, "https://mast.stsci.edu/api/v0.1/Download/file?uri=mast:HST/"
                             "product/j8cb01u2q_raw.fits");
    assert_int_equal(storage_archive_url(st, "a/b", url, sizeof url, &ei), ERR_INVALID);
    assert_int_equal(storage_archive_url(st, "j8cb01u2q_raw.fits", url, 20, &ei),
                     ERR_TOO_LARGE);
    /* names over STORAGE_NAME_MAX are refused whatever their length (no truncated name is
     * ever looked up), and so is a missing name */
    char longname[STORAGE_NAME_MAX + 40];
    for (size_t len = STORAGE_NAME_MAX + 1; len < sizeof longname; len++) {
        memset(longname, 'a', len);
        longname[len] = '\0';
        assert_int_equal(storage_archive_url(st, longname, url, sizeof url, &ei), ERR_INVALID);
    }
    memset(longname, 'a', STORAGE_NAME_MAX);
    longname[STORAGE_NAME_MAX] = '\0';
    char bigurl[1024];
    CHECK_OK(storage_archive_url(st, longname, bigurl, sizeof bigurl, &ei));
    assert_non_null(strstr(bigurl, longname));
    assert_int_equal(storage_archive_url(st, NULL, url, sizeof url, &ei), ERR_INVALID);
    struct storage *s2 = NULL;
    struct storage_config cfg = {.archive_url_template = "http://archive.local/{name}?x={name}"};
    CHECK_OK(storage_create(&cfg, &s2, &ei));
    CHECK_OK(storage_archive_url(s2, "o6d701030_raw.fits", url, sizeof url, &ei));
    assert_string_equal(url, "http://archive.local/o6d701030_raw.fits?x=o6d701030_raw.fits");
    storage_destroy(s2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_rejects),   cmocka_unit_test(test_put_get_head_roundtrip),
        cmocka_unit_test(test_escapes_refused),  cmocka_unit_test(test_atomic_writes),
        cmocka_unit_test(test_list_and_delete),  cmocka_unit_test(test_s3_config_from_env),
        cmocka_unit_test(test_archive_urls),     cmocka_unit_test(test_progress_and_cancel),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
