/* test_storage_alloc_fail.c - allocation-failure injection for lib/storage's file: back end:
 * malloc, calloc and realloc are wrapped at link time (lib/storage, lib/httpc and lib/core
 * objects and this file; libc, libcurl and libcrypto are unaffected) and the n-th call fails,
 * for every n until the operation runs through. Each run must end in ERR_OK or ERR_NOMEM,
 * leave no temporary file behind, keep the previous content of the target, and (under
 * ASan/valgrind) leak nothing.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/storage.h"
#include "support/alloc_fail.h"

#define RUNS_MAX 10000L /* bound on injection points per operation */

static char root[1024];
static char roots[1100];
static struct storage *st;

/* Entries of @p dir whose name contains ".part." (our temporaries). */
static int temporaries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".part."))
            n++;
    closedir(d);
    return n;
}

typedef enum err (*op_fn)(struct err_info *ei);

static void inject(const char *what, op_fn op)
{
    long n;
    for (n = 0; n < RUNS_MAX; n++) {
        struct err_info ei = {0};
        alloc_fail_nth(n);
        enum err rc = op(&ei);
        bool fired = alloc_fail_refused() > 0;
        alloc_fail_nth(-1);
        if (!fired) {
            assert_int_equal(rc, ERR_OK);
            break;
        }
        if (rc != ERR_OK && rc != ERR_NOMEM) {
            fprintf(stderr, "%s: allocation %ld failed: %s: %s\n", what, n, err_str(rc), ei.msg);
            fail();
        }
        assert_int_equal(temporaries(root), 0);
    }
    assert_true(n > 0 && n < RUNS_MAX);
    fprintf(stderr, "%s: %ld injection points\n", what, n);
}

static enum err op_create(struct err_info *ei)
{
    struct storage_config cfg = {.data_roots = roots};
    struct storage *s = NULL;
    enum err rc = storage_create(&cfg, &s, ei);
    storage_destroy(s);
    return rc;
}

static enum err op_put(struct err_info *ei)
{
    char uri[1200];
    snprintf(uri, sizeof uri, "file:%s/sub/a.txt", root);
    struct storage_xfer_opts o = {.sum = STORAGE_SUM_SHA256};
    enum err rc = storage_put_mem(st, uri, "new content", 11, &o, NULL, ei);
    /* the target has either its previous or its new content, never anything else */
    char path[1200];
    snprintf(path, sizeof path, "%s/sub/a.txt", root);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, rc == ERR_OK ? 11 : 3);
    if (rc == ERR_OK) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fputs("old", f);
        fclose(f);
    }
    return rc;
}

static enum err op_get_mem(struct err_info *ei)
{
    char uri[1200];
    snprintf(uri, sizeof uri, "file:%s/sub/a.txt", root);
    struct buf b;
    buf_init(&b, 1 << 20);
    struct storage_xfer_opts o = {.sum = STORAGE_SUM_MD5};
    enum err rc = storage_get_mem(st, uri, 1 << 20, &b, &o, NULL, ei);
    if (rc == ERR_OK)
        assert_string_equal(buf_cstr(&b), "old");
    buf_free(&b);
    return rc;
}

static enum err op_get_file(struct err_info *ei)
{
    char uri[1200], dest[1200];
    snprintf(uri, sizeof uri, "file:%s/sub/a.txt", root);
    snprintf(dest, sizeof dest, "%s/copy.txt", root);
    enum err rc = storage_get_file(st, uri, dest, NULL, NULL, ei);
    (void)unlink(dest);
    return rc;
}

static size_t g_listed;

static enum err count(void *ud, const char *uri, const struct storage_stat *s)
{
    (void)ud;
    (void)uri;
    (void)s;
    g_listed++;
    return ERR_OK;
}

static enum err op_list(struct err_info *ei)
{
    char uri[1200];
    snprintf(uri, sizeof uri, "file:%s/", root);
    g_listed = 0;
    enum err rc = storage_list(st, uri, count, NULL, ei);
    if (rc == ERR_OK)
        assert_int_equal(g_listed, 40);
    return rc;
}

static enum err op_delete(struct err_info *ei)
{
    char uri[1200];
    snprintf(uri, sizeof uri, "file:%s/sub/gone.txt", root);
    return storage_delete(st, uri, ei);
}

static void test_file_backend(void **state)
{
    (void)state;
    inject("create", op_create);
    char p[1300];
    snprintf(p, sizeof p, "%s/sub", root);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/sub/a.txt", root);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs("old", f);
    fclose(f);
    for (int i = 0; i < 39; i++) { /* enough files to grow the listing arrays */
        snprintf(p, sizeof p, "%s/sub/f%02d", root, i);
        f = fopen(p, "wb");
        assert_non_null(f);
        fclose(f);
    }
    inject("put", op_put);
    inject("get_mem", op_get_mem);
    inject("get_file", op_get_file);
    inject("list", op_list);
    inject("delete", op_delete);
}

int main(void)
{
    const char *tmp = getenv("OBSFLOW_TEST_TMP");
    if (!tmp)
        return 77;
    snprintf(root, sizeof root, "%s/allocfail", tmp);
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", root, root);
    if (system(cmd) != 0)
        return 1;
    snprintf(roots, sizeof roots, "%s", root);
    struct storage_config cfg = {.data_roots = roots};
    if (storage_create(&cfg, &st, NULL) != ERR_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_backend),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    storage_destroy(st);
    return rc;
}
