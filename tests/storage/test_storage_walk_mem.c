/* test_storage_walk_mem.c - storage_walk holds nothing per entry: 200,000 empty files in one
 * directory are walked while the resident set is sampled from /proc/self/statm every 1,000
 * entries; its growth over the level before the walk must stay under WALK_RSS_MAX. The same
 * sampling over storage_list (which collects and sorts everything) must see it grow past that
 * bound, which shows the measurement can tell the two apart. Figures go to stdout.
 * The files are made under the test's scratch directory and removed afterwards.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/storage.h"

#define N_FILES      200000
#define WALK_RSS_MAX ((long)4 << 20) /* bytes of growth allowed while walking */
#define SAMPLE_EVERY 1000

static char dir[1024];

/* resident set size in bytes, from /proc/self/statm */
static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (!f) {
        return -1;
    }
    if (fscanf(f, "%ld %ld", &size, &resident) != 2) {
        resident = -1;
    }
    fclose(f);
    return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

struct sampler {
    size_t n;
    long peak;
};

static enum err sample(void *ud, const char *uri, const struct storage_stat *s)
{
    struct sampler *sm = ud;
    (void)uri;
    (void)s;
    if (++sm->n % SAMPLE_EVERY == 0) {
        long r = rss_bytes();
        if (r > sm->peak) {
            sm->peak = r;
        }
    }
    return ERR_OK;
}

/* Directory entries are what a walk reads: each file is a hard link to one of a few empty
 * files (linking is many times faster than creating inodes on some file systems; ext4 allows
 * 65,000 links per inode), every one a regular file to the walk. */
#define LINKS_PER_FILE 50000
static void make_files(void)
{
    char p[1200];
    char first[1200] = "";
    for (int i = 0; i < N_FILES; i++) {
        snprintf(p, sizeof p, "%s/f%06d.fits", dir, i);
        if (i % LINKS_PER_FILE == 0) {
            int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            assert_true(fd >= 0);
            close(fd);
            snprintf(first, sizeof first, "%s", p);
        } else {
            assert_int_equal(link(first, p), 0);
        }
    }
}

static void remove_files(void)
{
    char p[1200];
    for (int i = 0; i < N_FILES; i++) {
        snprintf(p, sizeof p, "%s/f%06d.fits", dir, i);
        (void)unlink(p);
    }
    (void)rmdir(dir);
}

static void test_walk_memory_is_bounded(void **state)
{
    (void)state;
    const char *tmp = getenv("OBSFLOW_TEST_TMP");
    assert_non_null(tmp);
    snprintf(dir, sizeof dir, "%s/many", tmp);
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    assert_int_equal(system(cmd), 0);
    make_files();

    struct storage *st = NULL;
    struct storage_config cfg = {.data_roots = dir};
    struct err_info ei = {0};
    assert_int_equal(storage_create(&cfg, &st, &ei), ERR_OK);
    char u[1200];
    snprintf(u, sizeof u, "file:%s", dir);

    struct sampler w = {0};
    long before = rss_bytes();
    assert_true(before > 0);
    w.peak = before;
    struct storage_walk_opts rec = {.recursive = true};
    enum err e = storage_walk(st, u, &rec, sample, &w, &ei);
    if (e != ERR_OK) {
        fprintf(stderr, "%s\n", ei.msg);
        remove_files();
    }
    assert_int_equal(e, ERR_OK);
    assert_int_equal(w.n, N_FILES);
    long walk_growth = w.peak - before;

    struct sampler l = {0};
    before = rss_bytes();
    l.peak = before;
    snprintf(u, sizeof u, "file:%s/", dir); /* storage_list takes a prefix: all of dir/ */
    enum err le = storage_list(st, u, sample, &l, &ei);
    long list_growth = l.peak - before;

    printf("storage_walk over %d files: RSS growth %ld KiB; storage_list: %ld KiB\n", N_FILES,
           walk_growth / 1024, list_growth / 1024);
    storage_destroy(st);
    remove_files();
    assert_int_equal(le, ERR_OK);
    assert_int_equal(l.n, N_FILES);
    assert_true(walk_growth < WALK_RSS_MAX);
    assert_true(list_growth > WALK_RSS_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walk_memory_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
