/* test_atomic_file.c - core/atomic_file: a committed file has exactly the new bytes and
 * replaces the old one; an aborted or failed write leaves the old file and no temporary file;
 * paths that do not fit or directories that do not exist are refused with the path named.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/atomic_file.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char dir[1024];

static size_t slurp(const char *path, char *out, size_t cap)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        return (size_t)-1;
    }
    size_t n = fread(out, 1, cap, fp);
    fclose(fp);
    return n;
}

static size_t count_entries(void)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *de;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        n += de->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

static void test_put_replace_abort(void **state)
{
    (void)state;
    char path[1100], got[64];
    struct err_info ei;
    snprintf(path, sizeof path, "%s/a.txt", dir);
    assert_int_equal(atomic_file_put(path, "first", 5, false, &ei), ERR_OK);
    assert_int_equal(slurp(path, got, sizeof got), 5);
    assert_memory_equal(got, "first", 5);
    assert_int_equal(atomic_file_put(path, "second!", 7, true, &ei), ERR_OK);
    assert_int_equal(slurp(path, got, sizeof got), 7);
    assert_memory_equal(got, "second!", 7);
    /* written but aborted: the old file stays, no temporary file */
    struct atomic_file af;
    assert_int_equal(atomic_file_open(&af, path, &ei), ERR_OK);
    assert_int_equal(atomic_file_write(&af, "third", 5, &ei), ERR_OK);
    assert_int_equal(count_entries(), 2); /* a.txt and its temporary */
    atomic_file_abort(&af);
    atomic_file_abort(&af); /* twice is harmless */
    assert_int_equal(count_entries(), 1);
    assert_int_equal(slurp(path, got, sizeof got), 7);
    assert_memory_equal(got, "second!", 7);
}

static void test_refused(void **state)
{
    (void)state;
    struct err_info ei;
    char path[1100];
    snprintf(path, sizeof path, "%s/no/such/dir/x", dir);
    err_info_clear(&ei);
    assert_int_equal(atomic_file_put(path, "x", 1, false, &ei), ERR_IO);
    assert_non_null(strstr(ei.msg, "no/such/dir/x.tmp."));
    char *long_path = malloc(ATOMIC_FILE_PATH_MAX + 16);
    assert_non_null(long_path);
    memset(long_path, 'a', ATOMIC_FILE_PATH_MAX + 15);
    long_path[ATOMIC_FILE_PATH_MAX + 15] = '\0';
    assert_int_equal(atomic_file_put(long_path, "x", 1, false, &ei), ERR_TOO_LARGE);
    free(long_path);
    /* a directory in the way: refused before anything is created */
    snprintf(path, sizeof path, "%s/sub", dir);
    char sub[1200];
    snprintf(sub, sizeof sub, "%s/inner", path);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(atomic_file_put(sub, "y", 1, false, &ei), ERR_OK);
    size_t before = count_entries();
    assert_int_equal(atomic_file_put(path, "z", 1, false, &ei), ERR_INVALID);
    assert_non_null(strstr(ei.msg, "is a directory"));
    assert_int_equal(count_entries(), before);
    /* a device (-o /dev/null) is written into, never replaced by a regular file */
    struct stat st;
    assert_int_equal(atomic_file_put("/dev/null", "x", 1, true, &ei), ERR_OK);
    assert_int_equal(stat("/dev/null", &st), 0);
    assert_true(S_ISCHR(st.st_mode));
}

int main(void)
{
    const char *tmp = getenv("OBSFLOW_TEST_TMP");
    snprintf(dir, sizeof dir, "%s/atomic_file", tmp && *tmp ? tmp : "/tmp");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd) != 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_replace_abort),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
