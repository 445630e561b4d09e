/* test_f2c_alloc_fail.c - allocation-failure injection over the metadata path: header text
 * parsing (lib/fits), blueprint loading (lib/blueprint) and the observation build
 * (lib/fits2caom, lib/wcs) for every shared case in tests/caom2data/cases. malloc, calloc and
 * realloc are wrapped at link time (our static libraries and this file; wcslib, cfitsio and
 * libc's own allocations are unaffected) and the n-th call fails, for every n until a run sees
 * no failure. Every run must end in ERR_OK or ERR_NOMEM (never another error, a crash, or,
 * under ASan, a leak), and a run that ends in ERR_OK builds the same observation as a run
 * without injection (caom_observation_equal, UUIDs aside).
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

#include "blueprint/blueprint.h"
#include "caom/caom.h"
#include "fits/fits.h"
#include "fits2caom/fits2caom.h"
#include "support/alloc_fail.h"

#define CASE_FILES  8      /* header files per case */
#define CASE_BPS    8      /* blueprints per case */
#define RUNS_MAX    100000 /* bound on injection points per case */
#define PATH_CAP    4096

struct tcase {
    char name[256];
    size_t nfiles, nbps;
    char fname[CASE_FILES][256];
    char *text[CASE_FILES];
    size_t len[CASE_FILES];
    char bpname[CASE_BPS][PATH_CAP];
    char *bptext[CASE_BPS];
    size_t bplen[CASE_BPS];
};

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *b = NULL;
    if (!f) {
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (b = __real_malloc((size_t)n + 1))) {
            if (fread(b, 1, (size_t)n, f) != (size_t)n) {
                free(b);
                b = NULL;
            } else {
                b[n] = '\0';
                *len = (size_t)n;
            }
        }
    }
    fclose(f);
    return b;
}

static void load_case(const char *dir, const char *shared, const char *file, struct tcase *c)
{
    char path[PATH_CAP];
    char line[PATH_CAP];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", file);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *eq = strchr(line, '=');
        if (line[0] == '#' || !eq) {
            continue;
        }
        const char *v = eq + 1;
        while (*v == ' ') {
            v++;
        }
        if (strncmp(line, "file ", 5) == 0 && c->nfiles < CASE_FILES) {
            size_t i = c->nfiles++;
            snprintf(path, sizeof path, "%s/testdata/caom2/%s", shared, v);
            const char *b = strrchr(v, '/');
            snprintf(c->fname[i], sizeof c->fname[i], "%s", b ? b + 1 : v);
            c->text[i] = slurp(path, &c->len[i]);
            assert_non_null(c->text[i]);
        } else if (strncmp(line, "blueprint ", 10) == 0 && c->nbps < CASE_BPS) {
            size_t i = c->nbps++;
            if (strncmp(v, "shared:", 7) == 0) {
                snprintf(c->bpname[i], PATH_CAP, "%s/testdata/caom2/%s", shared, v + 7);
            } else {
                snprintf(c->bpname[i], PATH_CAP, "%s/%s", dir, v);
            }
            c->bptext[i] = slurp(c->bpname[i], &c->bplen[i]);
            assert_non_null(c->bptext[i]);
        }
    }
    fclose(f);
}

static void free_case(struct tcase *c)
{
    for (size_t i = 0; i < c->nfiles; i++) {
        free(c->text[i]);
    }
    for (size_t i = 0; i < c->nbps; i++) {
        free(c->bptext[i]);
    }
}

/* the whole metadata path of one case; *out gets the observation on ERR_OK */
static enum err build(const struct tcase *c, struct caom_observation **out, struct err_info *ei)
{
    struct fhdr_file *files[CASE_FILES] = {0};
    struct f2c_input in[CASE_FILES];
    struct f2c_opts o = {.collection = "TEST"};
    struct bp *bp = NULL;
    enum err e = bp_new(&bp, ei);
    for (size_t i = 0; e == ERR_OK && i < c->nbps; i++) {
        /* lookup tables beside the blueprint are read from its directory */
        char dir[PATH_CAP];
        snprintf(dir, sizeof dir, "%s", c->bpname[i]);
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = '\0';
        }
        e = bp_load_text_dir(bp, c->bpname[i], slash ? dir : ".", c->bptext[i], c->bplen[i],
                             ei);
    }
    for (size_t i = 0; e == ERR_OK && i < c->nfiles; i++) {
        e = fhdr_file_parse_text(c->fname[i], c->text[i], c->len[i], &files[i], ei);
        in[i].headers = files[i];
        in[i].path = NULL;
        in[i].artifact_uri = NULL;
    }
    if (e == ERR_OK) {
        e = f2c_build(bp, &o, in, c->nfiles, out, ei);
    }
    for (size_t i = 0; i < c->nfiles; i++) {
        fhdr_file_destroy(files[i]);
    }
    bp_free(bp);
    return e;
}

static void inject_case(const struct tcase *c)
{
    struct caom_observation *ref = NULL;
    struct err_info ei = {0};
    enum err e = build(c, &ref, &ei);
    if (e != ERR_OK) {
        fail_msg("%s: %s", c->name, ei.msg);
    }
    long n;
    for (n = 0; n < RUNS_MAX; n++) {
        struct caom_observation *obs = NULL;
        char where[256] = "";
        alloc_fail_nth(n);
        e = build(c, &obs, &ei);
        bool fired = alloc_fail_refused() > 0;
        alloc_fail_nth(-1);
        if (e != ERR_OK && e != ERR_NOMEM) {
            fail_msg("%s: allocation %ld failing gave %s: %s", c->name, n, err_str(e), ei.msg);
        }
        if (e == ERR_OK && !caom_observation_equal(ref, obs, false, where, sizeof where)) {
            fail_msg("%s: allocation %ld failing gave a different observation at %s", c->name,
                     n, where);
        }
        caom_observation_free(obs);
        if (!fired) {
            break;
        }
    }
    printf("%s: %ld allocations failed in turn\n", c->name, n);
    assert_true(n > 10); /* the path allocates: injection really happened */
    assert_true(n < RUNS_MAX);
    caom_observation_free(ref);
}

static void test_every_case(void **state)
{
    (void)state;
    const char *src = getenv("OBSFLOW_SOURCE_DIR");
    const char *shared = getenv("OBSFLOW_SHARED");
    char dir[PATH_CAP];
    assert_non_null(src);
    assert_non_null(shared);
    snprintf(dir, sizeof dir, "%s/tests/caom2data/cases", src);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    int ncases = 0;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] != 'S' || l < 6 || strcmp(de->d_name + l - 5, ".case") != 0) {
            continue;
        }
        struct tcase c;
        load_case(dir, shared, de->d_name, &c);
        if (c.nfiles > 0) {
            inject_case(&c);
            ncases++;
        }
        free_case(&c);
    }
    closedir(d);
    assert_true(ncases >= 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
