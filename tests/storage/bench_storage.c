/* bench_storage.c - figures for lib/storage (not a test): copies one file through the API
 *   bench_storage file SRC DEST_DIR          file: put (temp + fsync + rename), MB/s
 *   bench_storage s3 SRC PORT SCRATCH        s3: multipart put and get against s3rver, MB/s
 *   bench_storage walk DIR N                 storage_walk and storage_list over N files made
 *                                            in DIR/walk-bench (hard links, removed after):
 *                                            seconds and resident-set growth of each
 * Prints one "name seconds MB/s" line per operation (walk: "name seconds entries KiB").
 * SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "httpc/httpc.h"
#include "storage/storage.h"

static void report(const char *name, int64_t ns, uint64_t bytes)
{
    double s = (double)ns / 1e9;
    printf("%-28s %8.3f s %9.1f MB/s\n", name, s, (double)bytes / 1e6 / s);
}

/* ---- walk ------------------------------------------------------------------------------- */

#define WALK_LINKS_PER_FILE 50000 /* ext4 allows 65,000 links per inode */

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (!f) {
        return 0;
    }
    if (fscanf(f, "%ld %ld", &size, &resident) != 2) {
        resident = 0;
    }
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

struct walk_sample {
    size_t n;
    long peak;
};

static enum err walk_cb(void *ud, const char *uri, const struct storage_stat *s)
{
    struct walk_sample *w = ud;
    (void)uri;
    (void)s;
    if (++w->n % 1000 == 0) {
        long r = rss_bytes();
        if (r > w->peak) {
            w->peak = r;
        }
    }
    return ERR_OK;
}

static void walk_files(const char *dir, long n, bool make)
{
    char p[2048];
    char first[2048] = "";
    for (long i = 0; i < n; i++) {
        snprintf(p, sizeof p, "%s/f%08ld.fits", dir, i);
        if (!make) {
            (void)unlink(p);
        } else if (i % WALK_LINKS_PER_FILE == 0) {
            int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd >= 0) {
                close(fd);
            }
            snprintf(first, sizeof first, "%s", p);
        } else if (link(first, p) != 0) {
            perror("link");
            exit(1);
        }
    }
}

static int bench_walk(const char *parent, long n)
{
    struct err_info ei = {0};
    char dir[2048];
    char uri[2100];
    snprintf(dir, sizeof dir, "%s/walk-bench", parent);
    if (mkdir(dir, 0755) != 0) {
        fprintf(stderr, "bench_storage: cannot create %s (left from a run?)\n", dir);
        return 1;
    }
    walk_files(dir, n, true);
    struct storage *st = NULL;
    struct storage_config cfg = {.data_roots = dir};
    int rc = 1;
    if (storage_create(&cfg, &st, &ei) != ERR_OK) {
        goto out;
    }
    struct storage_walk_opts o = {.recursive = true};
    struct walk_sample w = {0};
    long before = rss_bytes();
    w.peak = before;
    snprintf(uri, sizeof uri, "file:%s", dir);
    int64_t t0 = clock_mono_ns();
    if (storage_walk(st, uri, &o, walk_cb, &w, &ei) != ERR_OK) {
        goto out;
    }
    printf("%-28s %8.3f s %9zu entries RSS +%ld KiB\n", "file: storage_walk",
           (double)(clock_mono_ns() - t0) / 1e9, w.n, (w.peak - before) / 1024);
    struct walk_sample l = {0};
    before = rss_bytes();
    l.peak = before;
    snprintf(uri, sizeof uri, "file:%s/", dir);
    t0 = clock_mono_ns();
    if (storage_list(st, uri, walk_cb, &l, &ei) != ERR_OK) {
        goto out;
    }
    printf("%-28s %8.3f s %9zu entries RSS +%ld KiB\n", "file: storage_list (sorted)",
           (double)(clock_mono_ns() - t0) / 1e9, l.n, (l.peak - before) / 1024);
    rc = 0;
out:
    if (rc != 0) {
        fprintf(stderr, "bench_storage: %s\n", ei.msg);
    }
    storage_destroy(st);
    walk_files(dir, n, false);
    (void)rmdir(dir);
    return rc;
}

int main(int argc, char **argv)
{
    struct err_info ei = {0};
    struct stat sb;
    if (argc < 4 || stat(argv[2], &sb) != 0 || httpc_global_init(&ei) != ERR_OK) {
        fprintf(stderr, "usage: bench_storage file SRC DEST_DIR | s3 SRC PORT SCRATCH | walk DIR N\n");
        return 2;
    }
    if (strcmp(argv[1], "walk") == 0) {
        long n = atol(argv[3]);
        int wrc = n > 0 ? bench_walk(argv[2], n) : 2;
        httpc_global_cleanup();
        return wrc;
    }
    uint64_t size = (uint64_t)sb.st_size;
    struct storage *st = NULL;
    char uri[2048];
    int rc = 0;
    if (strcmp(argv[1], "file") == 0) {
        struct storage_config cfg = {.data_roots = argv[3]};
        if (storage_create(&cfg, &st, &ei) != ERR_OK) {
            goto fail;
        }
        snprintf(uri, sizeof uri, "file:%s/bench-copy.bin", argv[3]);
        int64_t t0 = clock_mono_ns();
        if (storage_put_file(st, uri, argv[2], NULL, NULL, &ei) != ERR_OK) {
            goto fail;
        }
        report("file put (atomic)", clock_mono_ns() - t0, size);
    } else if (strcmp(argv[1], "s3") == 0 && argc == 5) {
        struct storage_s3_config s3 = {0};
        snprintf(s3.access_key_id, sizeof s3.access_key_id, "S3RVER");
        snprintf(s3.secret_access_key, sizeof s3.secret_access_key, "S3RVER");
        snprintf(s3.region, sizeof s3.region, "us-east-1");
        snprintf(s3.endpoint_url, sizeof s3.endpoint_url, "http://127.0.0.1:%s", argv[3]);
        struct storage_config cfg = {.s3 = &s3};
        if (storage_create(&cfg, &st, &ei) != ERR_OK ||
            storage_make_bucket(st, "s3://bench", &ei) != ERR_OK) {
            goto fail;
        }
        int64_t t0 = clock_mono_ns();
        if (storage_put_file(st, "s3://bench/object.bin", argv[2], NULL, NULL, &ei) != ERR_OK) {
            goto fail;
        }
        report(size > STORAGE_DEFAULT_MULTIPART_THRESHOLD ? "s3 put (multipart)" : "s3 put",
               clock_mono_ns() - t0, size);
        char dest[2048];
        snprintf(dest, sizeof dest, "%s/bench-get.bin", argv[4]);
        t0 = clock_mono_ns();
        if (storage_get_file(st, "s3://bench/object.bin", dest, NULL, NULL, &ei) != ERR_OK) {
            goto fail;
        }
        report("s3 get (+MD5 vs ETag)", clock_mono_ns() - t0, size);
        remove(dest);
    } else {
        fprintf(stderr, "unrecognized mode \"%s\"\n", argv[1]);
        rc = 2;
    }
    storage_destroy(st);
    httpc_global_cleanup();
    return rc;
fail:
    fprintf(stderr, "bench_storage: %s\n", ei.msg);
    storage_destroy(st);
    httpc_global_cleanup();
    return 1;
}
