/* test_storage_walk.c - storage_walk over file: sources (recursive and not, the change-time
 * rule, temporaries and symlinks skipped, escapes refused, empty and missing directories, the
 * depth cap, a callback that stops the walk, other schemes) and the URI-list line splitter
 * (comments, blank lines, CRLF, blanks, line numbers, over-long lines, NUL bytes, any
 * chunking). S3 and http(s) walks are in test_storage_s3.c and test_storage_http.c.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage/storage.h"
#include "storage/storage_int.h"

#define CHECK_OK(call)                                                                             \
    do {                                                                                           \
        enum err e_ = (call);                                                                      \
        if (e_ != ERR_OK) {                                                                        \
            fprintf(stderr, "%s: %s\n", err_str(e_), ei.msg);                                      \
        }                                                                                          \
        assert_int_equal(e_, ERR_OK);                                                              \
    } while (0)

static char root[1024];    /* as given */
static char realroot[PATH_MAX]; /* its real path: reported URIs are built on it */
static char outside[1024];
static struct storage *st;

#define SEEN_MAX 64
struct seen {
    size_t n;
    char uris[SEEN_MAX][1200];
    struct storage_stat stat[SEEN_MAX];
    size_t stop_after; /* 0 = never stop */
};

static enum err collect(void *ud, const char *uri, const struct storage_stat *s)
{
    struct seen *sn = ud;
    if (sn->n >= SEEN_MAX) {
        return ERR_TOO_LARGE;
    }
    snprintf(sn->uris[sn->n], sizeof sn->uris[0], "%s", uri);
    sn->stat[sn->n] = *s;
    sn->n++;
    if (sn->stop_after && sn->n == sn->stop_after) {
        return ERR_CANCELLED;
    }
    return ERR_OK;
}

/* index of the entry whose URI is "file:" + realroot + "/" + rel, or -1 */
static int find(const struct seen *sn, const char *rel)
{
    char want[1400];
    snprintf(want, sizeof want, "file:%s/%s", realroot, rel);
    for (size_t i = 0; i < sn->n; i++) {
        if (strcmp(sn->uris[i], want) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* run a shell command built from a format */
#define SH(...)                                                                                    \
    do {                                                                                           \
        char cmd_[4096];                                                                           \
        snprintf(cmd_, sizeof cmd_, __VA_ARGS__);                                                  \
        assert_int_equal(system(cmd_), 0);                                                         \
    } while (0)

static void write_file(const char *rel, const char *text)
{
    char p[1400];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int64_t ns_of(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
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
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' && mkdir -p '%s/w/sub/deep' '%s/w/empty' '%s'",
             root, outside, root, root, outside);
    if (system(cmd) != 0 || !realpath(root, realroot)) {
        return -1;
    }
    struct storage_config cfg = {.data_roots = root};
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

/* w/: a.fits (3 bytes), b.txt, sub/c.fits, sub/deep/d.fits, an empty directory, one of our
 * temporaries, a symlinked file and a symlinked directory pointing out of the root */
static void make_tree(void)
{
    write_file("w/a.fits", "abc");
    write_file("w/b.txt", "b");
    write_file("w/sub/c.fits", "cc");
    write_file("w/sub/deep/d.fits", "dddd");
    write_file("w/.a.fits.part.Xy12ab", "partial");
    write_file("w/sub/.c.fits.part.000000", "partial");
    char p[1400];
    snprintf(p, sizeof p, "%s/secret.txt", outside);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs("top secret", f);
    fclose(f);
    SH("ln -sf '%s/secret.txt' '%s/w/lnk.fits'", outside, root);
    snprintf(p, sizeof p, "%s/w/lnkdir", root);
    (void)unlink(p);
    assert_int_equal(symlink(outside, p), 0);
}

static void test_walk_file_tree(void **state)
{
    (void)state;
    make_tree();
    struct err_info ei = {0};
    char u[1200];
    snprintf(u, sizeof u, "file:%s/w", root);

    /* non-recursive: the two regular files directly in w/ */
    struct seen *sn = calloc(1, sizeof *sn);
    assert_non_null(sn);
    CHECK_OK(storage_walk(st, u, NULL, collect, sn, &ei));
    assert_int_equal(sn->n, 2);
    int a = find(sn, "w/a.fits");
    assert_true(a >= 0);
    assert_true(find(sn, "w/b.txt") >= 0);
    assert_int_equal(sn->stat[a].size, 3);
    assert_string_equal(sn->stat[a].etag, "");
    assert_true(sn->stat[a].mtime_ns > 0);

    /* recursive: and those below; a trailing "/" changes nothing */
    memset(sn, 0, sizeof *sn);
    snprintf(u, sizeof u, "file:%s/w/", root);
    struct storage_walk_opts rec = {.recursive = true};
    CHECK_OK(storage_walk(st, u, &rec, collect, sn, &ei));
    assert_int_equal(sn->n, 4);
    assert_true(find(sn, "w/a.fits") >= 0);
    assert_true(find(sn, "w/b.txt") >= 0);
    int c = find(sn, "w/sub/c.fits");
    int d = find(sn, "w/sub/deep/d.fits");
    assert_true(c >= 0 && d >= 0);
    assert_int_equal(sn->stat[c].size, 2);
    assert_int_equal(sn->stat[d].size, 4);

    /* an empty directory: no entries, no error */
    memset(sn, 0, sizeof *sn);
    snprintf(u, sizeof u, "file:%s/w/empty", root);
    CHECK_OK(storage_walk(st, u, &rec, collect, sn, &ei));
    assert_int_equal(sn->n, 0);

    /* the callback stops the walk: its value comes back, nothing more is reported */
    memset(sn, 0, sizeof *sn);
    sn->stop_after = 2;
    snprintf(u, sizeof u, "file:%s/w", root);
    assert_int_equal(storage_walk(st, u, &rec, collect, sn, &ei), ERR_CANCELLED);
    assert_int_equal(sn->n, 2);
    free(sn);
}

static void test_walk_file_refusals(void **state)
{
    (void)state;
    make_tree();
    struct err_info ei = {0};
    struct seen *sn = calloc(1, sizeof *sn);
    assert_non_null(sn);
    struct storage_walk_opts rec = {.recursive = true};
    char u[1200];
    /* missing directory, a file instead of a directory */
    snprintf(u, sizeof u, "file:%s/nodir", root);
    assert_int_equal(storage_walk(st, u, &rec, collect, sn, &ei), ERR_NOT_FOUND);
    snprintf(u, sizeof u, "file:%s/w/a.fits", root);
    assert_int_equal(storage_walk(st, u, &rec, collect, sn, &ei), ERR_INVALID);
    /* escapes: outside the roots, a symlinked directory pointing out, ".." */
    snprintf(u, sizeof u, "file:%s", outside);
    assert_int_equal(storage_walk(st, u, &rec, collect, sn, &ei), ERR_FORBIDDEN);
    snprintf(u, sizeof u, "file:%s/w/lnkdir", root);
    assert_int_equal(storage_walk(st, u, &rec, collect, sn, &ei), ERR_FORBIDDEN);
    snprintf(u, sizeof u, "file:%s/w/../../outside", root);
    assert_int_equal(storage_walk(st, u, &rec, collect, sn, &ei), ERR_FORBIDDEN);
    assert_int_equal(sn->n, 0);
    /* schemes: astroquery cannot be walked; http(s) needs a scratch directory; bad URIs */
    assert_int_equal(storage_walk(st, "astroquery:x.fits", &rec, collect, sn, &ei),
                     ERR_UNSUPPORTED);
    assert_int_equal(storage_walk(st, "https://example.invalid/list", &rec, collect, sn, &ei),
                     ERR_INVALID);
    assert_non_null(strstr(ei.msg, "scratch"));
    assert_int_equal(storage_walk(st, "s3://A_B/x", &rec, collect, sn, &ei), ERR_INVALID);
    assert_int_equal(storage_walk(st, NULL, &rec, collect, sn, &ei), ERR_INVALID);
    assert_int_equal(sn->n, 0);
    free(sn);
}

static void test_walk_file_change_time(void **state)
{
    (void)state;
    struct err_info ei = {0};
    SH("rm -rf '%s/ct' && mkdir '%s/ct'", root, root);
    write_file("ct/old.fits", "x");
    char p[1400];
    snprintf(p, sizeof p, "%s/ct/old.fits", root);
    /* modification time far in the past: the change time (now) is what counts */
    const struct timespec past[2] = {{946684800, 0}, {946684800, 0}}; /* 2000-01-01 */
    assert_int_equal(utimensat(AT_FDCWD, p, past, 0), 0);
    struct stat sb;
    assert_int_equal(lstat(p, &sb), 0);
    assert_true(ns_of(&sb.st_ctim) > ns_of(&sb.st_mtim));

    struct seen *sn = calloc(1, sizeof *sn);
    assert_non_null(sn);
    char u[1200];
    snprintf(u, sizeof u, "file:%s/ct", root);
    CHECK_OK(storage_walk(st, u, NULL, collect, sn, &ei));
    assert_int_equal(sn->n, 1);
    int64_t t0 = sn->stat[0].mtime_ns;
    assert_int_equal(t0, ns_of(&sb.st_ctim));
    assert_true(t0 > (int64_t)946684800 * 1000000000LL);

    /* renamed: its change time moves (let the file system's clock pass t0 first, as seen on a
     * probe file: it may be as coarse as a scheduler tick) */
    char probe[1400];
    snprintf(probe, sizeof probe, "%s/probe", root);
    write_file("probe", "p");
    for (int i = 0; i < 5000; i++) {
        struct stat pb;
        assert_int_equal(utimensat(AT_FDCWD, probe, NULL, 0), 0);
        assert_int_equal(lstat(probe, &pb), 0);
        if (ns_of(&pb.st_ctim) > t0) {
            break;
        }
        struct timespec nap = {0, 1000000};
        nanosleep(&nap, NULL);
    }
    char q[1400];
    snprintf(q, sizeof q, "%s/ct/renamed.fits", root);
    assert_int_equal(rename(p, q), 0);
    assert_int_equal(lstat(q, &sb), 0);
    memset(sn, 0, sizeof *sn);
    CHECK_OK(storage_walk(st, u, NULL, collect, sn, &ei));
    assert_int_equal(sn->n, 1);
    assert_true(find(sn, "ct/renamed.fits") == 0);
    assert_int_equal(sn->stat[0].mtime_ns, ns_of(&sb.st_ctim));
    assert_true(sn->stat[0].mtime_ns > t0);
    /* storage_list keeps reporting the modification time */
    memset(sn, 0, sizeof *sn);
    CHECK_OK(storage_list(st, u, collect, sn, &ei));
    assert_int_equal(sn->n, 1);
    assert_int_equal(sn->stat[0].mtime_ns, (int64_t)946684800 * 1000000000LL);
    free(sn);
}

static void test_walk_file_depth_cap(void **state)
{
    (void)state;
    struct err_info ei = {0};
    /* STORAGE_LIST_DEPTH_MAX levels below the top are walked; one more is refused */
    char rel[1024] = "deep";
    for (int i = 0; i < STORAGE_LIST_DEPTH_MAX; i++) {
        strcat(rel, "/d");
    }
    SH("rm -rf '%s/deep' && mkdir -p '%s/deep'", root, root);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/%s' && touch '%s/%s/f'", root, rel, root, rel);
    assert_int_equal(system(cmd), 0);
    struct seen *sn = calloc(1, sizeof *sn);
    assert_non_null(sn);
    struct storage_walk_opts rec = {.recursive = true};
    char u[1200];
    snprintf(u, sizeof u, "file:%s/deep", root);
    CHECK_OK(storage_walk(st, u, &rec, collect, sn, &ei));
    assert_int_equal(sn->n, 1);
    snprintf(cmd, sizeof cmd, "mkdir '%s/%s/d' && touch '%s/%s/d/g'", root, rel, root, rel);
    assert_int_equal(system(cmd), 0);
    memset(sn, 0, sizeof *sn);
    assert_int_equal(storage_walk(st, u, &rec, collect, sn, &ei), ERR_TOO_LARGE);
    /* non-recursive does not go down at all */
    memset(sn, 0, sizeof *sn);
    CHECK_OK(storage_walk(st, u, NULL, collect, sn, &ei));
    assert_int_equal(sn->n, 0);
    free(sn);
}

/* ---- the line splitter ------------------------------------------------------------------ */

struct got_lines {
    size_t n;
    uint64_t lineno[16];
    char text[16][128];
    size_t stop_at; /* 0 = never */
};

static enum err on_line(void *ud, uint64_t lineno, const char *text, struct err_info *ei)
{
    struct got_lines *g = ud;
    if (g->n >= 16) {
        return err_set(ei, ERR_TOO_LARGE, "too many");
    }
    g->lineno[g->n] = lineno;
    snprintf(g->text[g->n], sizeof g->text[0], "%s", text);
    g->n++;
    return g->stop_at && g->n == g->stop_at ? ERR_CANCELLED : ERR_OK;
}

/* feed @p len bytes in chunks of @p step (0 = all at once) and finish */
static enum err split(const char *data, size_t len, size_t step, struct got_lines *g,
                      struct err_info *ei)
{
    struct storage__lines *l = malloc(sizeof *l);
    assert_non_null(l);
    storage__lines_init(l);
    enum err e = ERR_OK;
    size_t at = 0;
    while (e == ERR_OK && at < len) {
        size_t n = step && len - at > step ? step : len - at;
        e = storage__lines_feed(l, data + at, n, on_line, g, ei);
        at += n;
    }
    if (e == ERR_OK) {
        e = storage__lines_finish(l, on_line, g, ei);
    }
    free(l);
    return e;
}

static void test_lines(void **state)
{
    (void)state;
    static const char text[] = "# a list\r\n"
                               "s3://b/k1.fits\r\n"
                               "\r\n"
                               "   \t\n"
                               "  file:/data/x.fits  \n"
                               "#s3://b/commented\n"
                               "\thttps://h/y?z=1\r\n"
                               "last-without-newline";
    for (size_t step = 0; step <= 7; step++) {
        struct got_lines g = {0};
        struct err_info ei = {0};
        CHECK_OK(split(text, sizeof text - 1, step, &g, &ei));
        assert_int_equal(g.n, 4);
        assert_string_equal(g.text[0], "s3://b/k1.fits");
        assert_int_equal(g.lineno[0], 2);
        assert_string_equal(g.text[1], "file:/data/x.fits");
        assert_int_equal(g.lineno[1], 5);
        assert_string_equal(g.text[2], "https://h/y?z=1");
        assert_int_equal(g.lineno[2], 7);
        assert_string_equal(g.text[3], "last-without-newline");
        assert_int_equal(g.lineno[3], 8);
    }
    /* the callback's error stops the splitter */
    struct got_lines g = {.stop_at = 2};
    struct err_info ei = {0};
    assert_int_equal(split(text, sizeof text - 1, 3, &g, &ei), ERR_CANCELLED);
    assert_int_equal(g.n, 2);
    /* empty input, only comments */
    memset(&g, 0, sizeof g);
    CHECK_OK(split("", 0, 0, &g, &ei));
    CHECK_OK(split("#x\n\n#y", 6, 0, &g, &ei));
    assert_int_equal(g.n, 0);
    /* a NUL byte in a line */
    assert_int_equal(split("ok\nbad\0line\n", 12, 0, &g, &ei), ERR_INVALID);
    assert_non_null(strstr(ei.msg, "line 2"));
    assert_int_equal(g.n, 1);
}

static void test_lines_too_long(void **state)
{
    (void)state;
    char *data = malloc(2 * STORAGE_URI_MAX + 64);
    assert_non_null(data);
    /* line 1 "a"; line 2 exactly STORAGE_URI_MAX bytes: fine; line 3 one more: too large */
    memcpy(data, "a\n", 2);
    memset(data + 2, 'x', STORAGE_URI_MAX);
    data[2 + STORAGE_URI_MAX] = '\n';
    for (size_t step = 0; step <= 4096; step += 4096) {
        struct got_lines g = {0};
        struct err_info ei = {0};
        CHECK_OK(split(data, 3 + STORAGE_URI_MAX, step, &g, &ei));
        assert_int_equal(g.n, 2); /* g.text keeps the start of the long one */
        assert_int_equal(g.lineno[1], 2);
    }
    memset(data + 3 + STORAGE_URI_MAX, 'y', STORAGE_URI_MAX + 1);
    for (size_t step = 0; step <= 1000; step += 1000) {
        struct got_lines g = {0};
        struct err_info ei = {0};
        assert_int_equal(split(data, 3 + 2 * STORAGE_URI_MAX + 1, step, &g, &ei),
                         ERR_TOO_LARGE);
        assert_non_null(strstr(ei.msg, "line 3"));
    }
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walk_file_tree),      cmocka_unit_test(test_walk_file_refusals),
        cmocka_unit_test(test_walk_file_change_time), cmocka_unit_test(test_walk_file_depth_cap),
        cmocka_unit_test(test_lines),               cmocka_unit_test(test_lines_too_long),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
