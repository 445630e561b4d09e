/* bench_caom.c - headers -> CAOM XML documents per second, single thread, over the shared
 * cases (tests/caom2data/cases, one .case file each), and the bare cfitsio header-read rate on the same
 * headers in the same run: each header file rendered once as FITS blocks in memory, then
 * opened with cfitsio and every record of every HDU read (fhdr_cfitsio_scan).
 * Both loops start from bytes in memory: ours parses the header text, builds the observation
 * with the case's blueprints (loaded once, as a service loads a collection's configuration)
 * and writes the CAOM-2.4 XML. One unit of work = one case (all its files).
 * usage: bench_caom SECONDS CASEFILE...   (env OBSFLOW_SHARED)
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blueprint/blueprint.h"
#include "caom/caom.h"
#include "fits/fits.h"
#include "fits2caom/fits2caom.h"

#define MAX_FILES 8

struct bcase {
    char name[256];
    char collection[64];
    struct bp *bp;
    size_t nfiles;
    char *text[MAX_FILES];        /* header text bytes */
    size_t len[MAX_FILES];
    char fname[MAX_FILES][256];
    char *fits[MAX_FILES][8];     /* rendered FITS images per HDU */
    size_t fitslen[MAX_FILES][8];
    size_t nhdu[MAX_FILES];
};

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of this (single-threaded) process: the machine running the benchmark may be shared,
 * and wall time then measures the neighbours too; wall time is printed beside it */
static double now(void)
{
    return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[n] = '\0';
        *len = (size_t)n;
    }
    return b;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r')) {
        s[--n] = '\0';
    }
}

static int load_case(const char *path, const char *shared, struct bcase *c)
{
    char line[4096];
    char dir[4096];
    struct err_info ei;
    FILE *f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    memset(c, 0, sizeof *c);
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
    }
    const char *base = slash ? slash + 1 : path;
    snprintf(c->name, sizeof c->name, "%s", base);
    snprintf(c->collection, sizeof c->collection, "BENCH");
    if (bp_new(&c->bp, &ei) != ERR_OK) {
        fclose(f);
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        trim(line);
        char *eq = strchr(line, '=');
        if (line[0] == '#' || !eq) {
            continue;
        }
        char *v = eq + 1;
        while (*v == ' ') {
            v++;
        }
        char p[8192];
        if (strncmp(line, "file", 4) == 0 && c->nfiles < MAX_FILES) {
            snprintf(p, sizeof p, "%s/testdata/caom2/%s", shared, v);
            size_t i = c->nfiles++;
            c->text[i] = slurp(p, &c->len[i]);
            const char *b = strrchr(v, '/');
            snprintf(c->fname[i], sizeof c->fname[i], "%s", b ? b + 1 : v);
            if (!c->text[i]) {
                fprintf(stderr, "bench_caom: cannot read %s\n", p);
                fclose(f);
                return -1;
            }
        } else if (strncmp(line, "blueprint", 9) == 0) {
            if (strncmp(v, "shared:", 7) == 0) {
                snprintf(p, sizeof p, "%s/testdata/caom2/%s", shared, v + 7);
            } else {
                snprintf(p, sizeof p, "%s/%s", dir, v);
            }
            if (bp_load_file(c->bp, p, &ei) != ERR_OK) {
                fprintf(stderr, "bench_caom: %s\n", ei.msg);
                fclose(f);
                return -1;
            }
        }
    }
    fclose(f);
    /* the baseline's input: each HDU as FITS blocks */
    for (size_t i = 0; i < c->nfiles; i++) {
        struct fhdr_file *hf = NULL;
        if (fhdr_file_parse_text(c->fname[i], c->text[i], c->len[i], &hf, &ei) != ERR_OK) {
            fprintf(stderr, "bench_caom: %s\n", ei.msg);
            return -1;
        }
        for (size_t h = 0; h < fhdr_file_hdu_count(hf) && h < 8; h++) {
            if (fhdr_hdu_to_fits(fhdr_file_hdu(hf, h), &c->fits[i][h], &c->fitslen[i][h]) !=
                ERR_OK) {
                fhdr_file_destroy(hf);
                return -1;
            }
            c->nhdu[i] = h + 1;
        }
        fhdr_file_destroy(hf);
    }
    return 0;
}

/* one document: parse the header text, build, write XML */
static size_t one_doc(const struct bcase *c)
{
    struct fhdr_file *files[MAX_FILES] = {0};
    struct f2c_input in[MAX_FILES];
    struct f2c_opts o = {.collection = c->collection, .content_metadata = false};
    struct caom_observation *obs = NULL;
    struct err_info ei;
    char *xml = NULL;
    size_t len = 0;
    for (size_t i = 0; i < c->nfiles; i++) {
        if (fhdr_file_parse_text(c->fname[i], c->text[i], c->len[i], &files[i], &ei) != ERR_OK) {
            fprintf(stderr, "bench_caom: %s\n", ei.msg);
            exit(1);
        }
        in[i].headers = files[i];
        in[i].path = NULL;
        in[i].artifact_uri = NULL;
    }
    if (f2c_build(c->bp, &o, in, c->nfiles, &obs, &ei) != ERR_OK ||
        caom_xml_write(obs, &xml, &len, &ei) != ERR_OK) {
        fprintf(stderr, "bench_caom: %s: %s\n", c->name, ei.msg);
        exit(1);
    }
    free(xml);
    caom_observation_free(obs);
    for (size_t i = 0; i < c->nfiles; i++) {
        fhdr_file_destroy(files[i]);
    }
    return len;
}

static void one_scan(const struct bcase *c)
{
    struct err_info ei;
    for (size_t i = 0; i < c->nfiles; i++) {
        for (size_t h = 0; h < c->nhdu[i]; h++) {
            size_t n = 0;
            if (fhdr_cfitsio_scan(c->fits[i][h], c->fitslen[i][h], &n, &ei) != ERR_OK) {
                fprintf(stderr, "bench_caom: cfitsio: %s\n", ei.msg);
                exit(1);
            }
        }
    }
}

int main(int argc, char **argv)
{
    const char *shared = getenv("OBSFLOW_SHARED");
    if (argc < 3 || !shared) {
        fprintf(stderr, "usage: bench_caom SECONDS CASEFILE...  (env OBSFLOW_SHARED)\n");
        return 2;
    }
    double secs = atof(argv[1]);
    size_t n = (size_t)(argc - 2);
    struct bcase *cases = calloc(n, sizeof *cases);
    for (size_t i = 0; i < n; i++) {
        if (load_case(argv[i + 2], shared, &cases[i]) != 0) {
            fprintf(stderr, "bench_caom: cannot load %s\n", argv[i + 2]);
            return 1;
        }
    }
    /* warm up both paths */
    for (size_t i = 0; i < n; i++) {
        (void)one_doc(&cases[i]);
        one_scan(&cases[i]);
    }
    /* alternate short rounds of both loops so that both see the same machine load */
    const int rounds = 10;
    size_t docs = 0, bytes = 0, reads = 0;
    double cpu_ours = 0, cpu_base = 0, wall_ours = 0, wall_base = 0;
    double ratios[10];
    for (int r = 0; r < rounds; r++) {
        size_t d0 = docs, r0 = reads;
        double w0 = clock_s(CLOCK_MONOTONIC);
        double t0 = now();
        double t1 = t0;
        while (t1 - t0 < secs / rounds) {
            for (size_t i = 0; i < n; i++) {
                bytes += one_doc(&cases[i]);
                docs++;
            }
            t1 = now();
        }
        double co = t1 - t0;
        cpu_ours += co;
        wall_ours += clock_s(CLOCK_MONOTONIC) - w0;
        w0 = clock_s(CLOCK_MONOTONIC);
        t0 = now();
        t1 = t0;
        while (t1 - t0 < secs / rounds) {
            for (size_t i = 0; i < n; i++) {
                one_scan(&cases[i]);
                reads++;
            }
            t1 = now();
        }
        double cb = t1 - t0;
        cpu_base += cb;
        wall_base += clock_s(CLOCK_MONOTONIC) - w0;
        ratios[r] = ((double)(docs - d0) / co) / ((double)(reads - r0) / cb);
    }
    for (int a = 1; a < rounds; a++) { /* insertion sort for the median */
        double v = ratios[a];
        int b = a - 1;
        while (b >= 0 && ratios[b] > v) {
            ratios[b + 1] = ratios[b];
            b--;
        }
        ratios[b + 1] = v;
    }
    double ours = (double)docs / cpu_ours;
    double base = (double)reads / cpu_base;
    double ours_wall = (double)docs / wall_ours;
    double base_wall = (double)reads / wall_base;
    printf("cases                          %zu (%s .. %s)\n", n, cases[0].name, cases[n - 1].name);
    printf("headers -> CAOM XML            %.0f documents/s per CPU second (single thread, %zu "
           "docs, mean %zu bytes of XML); %.0f/s wall\n", ours, docs, docs ? bytes / docs : 0,
           ours_wall);
    printf("bare cfitsio header read       %.0f cases/s per CPU second (open in memory + read "
           "every record of every HDU); %.0f/s wall\n", base, base_wall);
    printf("ratio ours / cfitsio           %.2f (CPU time; median of %d alternating rounds %.2f, "
           "range %.2f-%.2f), %.2f (wall)\n", ours / base, rounds, ratios[rounds / 2],
           ratios[0], ratios[rounds - 1], ours_wall / base_wall);
    for (size_t i = 0; i < n; i++) {
        bp_free(cases[i].bp);
        for (size_t f = 0; f < cases[i].nfiles; f++) {
            free(cases[i].text[f]);
            for (size_t h = 0; h < cases[i].nhdu[f]; h++) {
                free(cases[i].fits[f][h]);
            }
        }
    }
    free(cases);
    return 0;
}
