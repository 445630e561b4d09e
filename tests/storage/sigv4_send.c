/* sigv4_send.c - drives lib/storage's S3 back end through a recording proxy with fixed inputs
 * (credentials, session token, region, x-amz-date, payloads) so sigv4_botocore.py can re-sign
 * every captured request with python3-botocore and compare the Authorization headers.
 *   usage: sigv4_send PORT SCRATCH_DIR AMZ_DATE   (exit 0 when every operation succeeded)
 * AMZ_DATE (YYYYMMDDTHHMMSSZ) is chosen by the driver near the current time, because s3rver
 * refuses requests signed more than 15 minutes away from its clock.
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpc/httpc.h"
#include "storage/storage.h"

#define MIB ((size_t)1 << 20)

static int failed(const char *what, enum err e, const struct err_info *ei)
{
    fprintf(stderr, "sigv4_send: %s: %s: %s\n", what, err_str(e), ei->msg);
    return 1;
}

static enum err count_cb(void *ud, const char *uri, const struct storage_stat *s)
{
    (void)uri;
    (void)s;
    ++*(int *)ud;
    return ERR_OK;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: sigv4_send PORT SCRATCH_DIR AMZ_DATE\n");
        return 2;
    }
    struct err_info ei = {0};
    enum err e = httpc_global_init(&ei);
    if (e != ERR_OK) {
        return failed("init", e, &ei);
    }
    struct storage_s3_config s3 = {0};
    snprintf(s3.access_key_id, sizeof s3.access_key_id, "S3RVER");
    snprintf(s3.secret_access_key, sizeof s3.secret_access_key,
             "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    snprintf(s3.session_token, sizeof s3.session_token, "FQoGZXIvYXdzEXAMPLE//TOKEN+=");
    snprintf(s3.region, sizeof s3.region, "us-east-1");
    snprintf(s3.endpoint_url, sizeof s3.endpoint_url, "http://127.0.0.1:%s", argv[1]);
    struct storage_config cfg = {.s3 = &s3, .s3_page_size = 2, .multipart_threshold = 5 * MIB,
                                 .part_size = 5 * MIB, .s3_fixed_amz_date = argv[3],
                                 .max_attempts = 1};
    struct storage *st = NULL;
    int rc = 0;
    char *big = NULL;
    if ((e = storage_create(&cfg, &st, &ei)) != ERR_OK) {
        return failed("create", e, &ei);
    }
    if ((e = storage_make_bucket(st, "s3://sigv4-check", &ei)) != ERR_OK) {
        rc = failed("make bucket", e, &ei);
        goto out;
    }
    const char *keys[] = {"dir/obj one+two.fits", "dir/a~b_c-d.e", "dir/sub/x=y&z.txt"};
    for (size_t i = 0; i < 3; i++) {
        char uri[256];
        snprintf(uri, sizeof uri, "s3://sigv4-check/%s", keys[i]);
        struct storage_xfer_opts o = {.content_type = i == 0 ? "application/fits" : NULL};
        if ((e = storage_put_mem(st, uri, "payload", 7, &o, NULL, &ei)) != ERR_OK) {
            rc = failed("put", e, &ei);
            goto out;
        }
    }
    struct buf b;
    buf_init(&b, 1024);
    e = storage_get_mem(st, "s3://sigv4-check/dir/obj one+two.fits", 1024, &b, NULL, NULL, &ei);
    if (e != ERR_OK || strcmp(buf_cstr(&b), "payload") != 0) {
        buf_free(&b);
        rc = failed("get", e, &ei);
        goto out;
    }
    buf_free(&b);
    struct storage_stat hs;
    if ((e = storage_head(st, "s3://sigv4-check/dir/a~b_c-d.e", &hs, &ei)) != ERR_OK) {
        rc = failed("head", e, &ei);
        goto out;
    }
    int n = 0;
    if ((e = storage_list(st, "s3://sigv4-check/dir/", count_cb, &n, &ei)) != ERR_OK || n != 3) {
        fprintf(stderr, "listed %d\n", n);
        rc = failed("list", e, &ei);
        goto out;
    }
    size_t size = 6 * MIB + 17; /* two parts */
    big = malloc(size);
    if (!big) {
        rc = 1;
        goto out;
    }
    for (size_t i = 0; i < size; i++) {
        big[i] = (char)(i * 7 % 256);
    }
    if ((e = storage_put_mem(st, "s3://sigv4-check/big/object.bin", big, size, NULL, NULL,
                             &ei)) != ERR_OK) {
        rc = failed("multipart put", e, &ei);
        goto out;
    }
    if ((e = storage_delete(st, "s3://sigv4-check/dir/a~b_c-d.e", &ei)) != ERR_OK) {
        rc = failed("delete", e, &ei);
        goto out;
    }
out:
    free(big);
    storage_destroy(st);
    httpc_global_cleanup();
    return rc;
}
