/* test_atomic_file.c - core/atomic_file: a committed file has exactly the new bytes and
 * replaces the old one; an aborted or failed write leaves the old file and no temporary file;
 * paths that do not fit or directories that do not exist are refused with the path named; two
 * threads writing one path at once both succeed and leave one whole file; a symlink planted at
 * a temporary name (the old "<path>.tmp.<pid>") is not followed.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
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
    assert_non_null(strstr(ei.msg, "temporary file beside"));
    assert_non_null(strstr(ei.msg, "no/such/dir/x\""));
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

/* ------------------------------------------------------------------------------------------ */

#define RACE_LEN   (256 * 1024)
#define RACE_ROUNDS 20

struct racer {
    const char *path;
    unsigned char fill;
    int failures;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    unsigned char *data = malloc(RACE_LEN);
    if (!data) {
        r->failures = RACE_ROUNDS;
        return NULL;
    }
    memset(data, r->fill, RACE_LEN);
    for (int i = 0; i < RACE_ROUNDS; i++) {
        struct err_info ei;
        /* in pieces, so that the two writers interleave inside one file's lifetime */
        struct atomic_file af;
        if (atomic_file_open(&af, r->path, &ei) != ERR_OK) {
            r->failures++;
            continue;
        }
        bool ok = true;
        for (size_t off = 0; off < RACE_LEN && ok; off += RACE_LEN / 8) {
            ok = atomic_file_write(&af, data + off, RACE_LEN / 8, &ei) == ERR_OK;
        }
        if (!ok || atomic_file_commit(&af, i % 4 == 0, &ei) != ERR_OK) {
            atomic_file_abort(&af);
            r->failures++;
        }
    }
    free(data);
    return NULL;
}

/* Two threads writing the same product at once: every write succeeds, and the result is one
 * complete file of one writer's bytes (the old "<path>.tmp.<pid>" name was shared by threads:
 * one truncated the other's file, or renamed it away under the other). */
static void test_two_threads_one_path(void **state)
{
    (void)state;
    char path[1100];
    snprintf(path, sizeof path, "%s/raced.fits", dir);
    struct racer a = {path, 'a', 0}, b = {path, 'b', 0};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, race, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, race, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.failures, 0);
    assert_int_equal(b.failures, 0);
    unsigned char *got = malloc(RACE_LEN + 1);
    assert_non_null(got);
    assert_int_equal(slurp(path, (char *)got, RACE_LEN + 1), RACE_LEN);
    for (size_t i = 1; i < RACE_LEN; i++) {
        if (got[i] != got[0]) {
            fail_msg("byte %zu is '%c', byte 0 is '%c': two writers mixed", i, got[i], got[0]);
        }
    }
    assert_true(got[0] == 'a' || got[0] == 'b');
    free(got);
    /* and no temporary is left beside it */
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        assert_null(strstr(de->d_name, ".part."));
    }
    closedir(d);
    assert_int_equal(unlink(path), 0);
}

/* A symlink planted at the temporary name the old code used, pointing at a file the attacker
 * wants overwritten: the write goes to the product, the victim keeps its bytes, and the link
 * stays a link. Temporary names are new O_EXCL files: a planted link is never opened. */
static void test_planted_symlink(void **state)
{
    (void)state;
    char path[1100], victim[1100], link[1200], got[64];
    struct err_info ei;
    snprintf(path, sizeof path, "%s/product.xml", dir);
    snprintf(victim, sizeof victim, "%s/victim", dir);
    snprintf(link, sizeof link, "%s.tmp.%ld", path, (long)getpid());
    assert_int_equal(atomic_file_put(victim, "precious", 8, false, &ei), ERR_OK);
    assert_int_equal(symlink(victim, link), 0);
    assert_int_equal(atomic_file_put(path, "product", 7, true, &ei), ERR_OK);
    assert_int_equal(slurp(victim, got, sizeof got), 8);
    assert_memory_equal(got, "precious", 8);
    assert_int_equal(slurp(path, got, sizeof got), 7);
    assert_memory_equal(got, "product", 7);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(unlink(link), 0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(unlink(victim), 0);
}

/* A write that fails after the temporary exists (a full file system, here: a file size limit
 * is not portable, so the commit of a file whose directory vanished) leaves nothing behind. */
static void test_failure_leaves_nothing(void **state)
{
    (void)state;
    char sub[1100], path[1200];
    struct err_info ei;
    snprintf(sub, sizeof sub, "%s/gone", dir);
    snprintf(path, sizeof path, "%s/out.bin", sub);
    assert_int_equal(mkdir(sub, 0755), 0);
    struct atomic_file af;
    assert_int_equal(atomic_file_open(&af, path, &ei), ERR_OK);
    assert_int_equal(atomic_file_write(&af, "data", 4, &ei), ERR_OK);
    /* the temporary is where the caller can see it until the end */
    struct stat st;
    assert_int_equal(stat(af.tmp, &st), 0);
    char tmp[ATOMIC_FILE_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", af.tmp);
    /* a failed write (a closed descriptor stands in for EIO/ENOSPC) */
    assert_int_equal(close(af.fd), 0);
    int keep = af.fd;
    af.fd = open("/dev/null", O_RDONLY);
    assert_int_equal(af.fd, keep); /* the same number, now unwritable */
    assert_int_equal(atomic_file_write(&af, "more", 4, &ei), ERR_IO);
    assert_non_null(strstr(ei.msg, "out.bin"));
    atomic_file_abort(&af);
    assert_int_equal(stat(tmp, &st), -1);
    assert_int_equal(stat(path, &st), -1);
    assert_int_equal(rmdir(sub), 0); /* empty: nothing was left */
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
        cmocka_unit_test(test_two_threads_one_path),
        cmocka_unit_test(test_planted_symlink),
        cmocka_unit_test(test_failure_leaves_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
