/* bench_storage.c - figures for lib/storage (not a test): copies one file through the API
 *   bench_storage file SRC DEST_DIR          file: put (temp + fsync + rename), MB/s
 *   bench_storage s3 SRC PORT SCRATCH        s3: multipart put and get against s3rver, MB/s
 * Prints one "name seconds MB/s" line per operation.
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/clock.h"
#include "httpc/httpc.h"
#include "storage/storage.h"

static void report(const char *name, int64_t ns, uint64_t bytes)
{
    double s = (double)ns / 1e9;
    printf("%-28s %8.3f s %9.1f MB/s\n", name, s, (double)bytes / 1e6 / s);
}

int main(int argc, char **argv)
{
    struct err_info ei = {0};
    struct stat sb;
    if (argc < 4 || stat(argv[2], &sb) != 0 || httpc_global_init(&ei) != ERR_OK) {
        fprintf(stderr, "usage: bench_storage file SRC DEST_DIR | s3 SRC PORT SCRATCH\n");
        return 2;
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
