/* test_ingest_params.c - the ingest job's params validator (lib/ingest), the one function that
 * POST /v1/jobs and the worker both call: every refusal names its field (product_ids too: one
 * plane ID per input, not with product_id), and the submit path
 * (obsflowd's kinds table + the queue's rules) gives the same answer for a job of kind ingest; plus
 * ingest_run's refusals before any push (missing input, input outside the data roots, blueprint
 * escaping its directory). SPDX-License-Identifier: Apache-2.0 */
#include "ingest/ingest.h"
#include "kinds.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* What POST /v1/jobs runs on each job: the queue's rules over obsflowd's kinds table. */
static enum err
specs_validate(const json_t *doc, const struct profile_set *profiles, struct err_info *ei)
{
    struct queue_kind k[KINDS_MAX];
    int n = kinds_queue_table(profiles, k);
    return queue_specs_validate(k, n, doc, ei);
}

static json_t *js(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    if (!v) {
        fail_msg("bad test JSON %s: %s", text, je.text);
    }
    return v;
}

/* Refused by ingest_params_validate and by the submit path (kinds table + queue rules), both naming
 * @p field. */
static void refused(const char *params, const char *field)
{
    json_t *p = js(params);
    struct err_info ei;
    err_info_clear(&ei);
    assert_int_equal(ingest_params_validate(p, "", NULL, &ei), ERR_INVALID);
    if (strcmp(ei.field, field) != 0) {
        fail_msg("%s: field \"%s\" (%s), expected \"%s\"", params, ei.field, ei.msg, field);
    }
    json_t *job = json_pack("{s:s, s:O}", "kind", "ingest", "params", p);
    err_info_clear(&ei);
    assert_int_equal(specs_validate(job, NULL, &ei), ERR_INVALID);
    assert_string_equal(ei.field, field);
    /* in a batch the field carries the job's index */
    json_t *batch = json_pack("[{s:s}, O]", "kind", "noop", job);
    char want[ERR_INFO_FIELD_MAX];
    snprintf(want, sizeof want, "[1].%s", field);
    err_info_clear(&ei);
    assert_int_equal(specs_validate(batch, NULL, &ei), ERR_INVALID);
    assert_string_equal(ei.field, want);
    json_decref(batch);
    json_decref(job);
    json_decref(p);
}

static void accepted(const char *params)
{
    json_t *p = js(params);
    struct err_info ei;
    err_info_clear(&ei);
    if (ingest_params_validate(p, "", NULL, &ei) != ERR_OK) {
        fail_msg("%s refused: %s: %s", params, ei.field, ei.msg);
    }
    json_t *job = json_pack("{s:s, s:O}", "kind", "ingest", "params", p);
    assert_int_equal(specs_validate(job, NULL, &ei), ERR_OK);
    json_decref(job);
    json_decref(p);
}

static void parse_fills(void **state)
{
    (void)state;
    json_t *p = js("{\"collection\": \"OMM\", \"uris\": [\"file:/d/a.fits.gz\", "
                   "\"https://h/x/b.fits?x=1\", \"s3://bucket/k/c.fits.header\"], "
                   "\"observation_id\": \"O1\", \"product_id\": \"P1\", \"scheme\": \"ad\", "
                   "\"artifact_uris\": [\"ad:OMM/a\", \"ad:OMM/b\", \"ad:OMM/c\"], "
                   "\"blueprints\": [\"omm.blueprint\", \"sub/x+y.bp\"], \"compute\": true}");
    struct ingest_params *ip = malloc(sizeof *ip);
    assert_non_null(ip);
    struct err_info ei;
    assert_int_equal(ingest_params_parse(p, "", NULL, ip, &ei), ERR_OK);
    assert_string_equal(ip->collection, "OMM");
    assert_int_equal(ip->n, 3);
    assert_string_equal(ip->uris[1], "https://h/x/b.fits?x=1");
    assert_string_equal(ip->artifact_uris[2], "ad:OMM/c");
    assert_string_equal(ip->observation_id, "O1");
    assert_string_equal(ip->product_id, "P1");
    assert_string_equal(ip->scheme, "ad");
    assert_int_equal(ip->nbp, 2);
    assert_string_equal(ip->blueprints[1], "sub/x+y.bp");
    assert_true(ip->compute);
    json_decref(p);
    /* defaults: optional params absent or null */
    p = js("{\"collection\": \"C\", \"uris\": [\"file:/d/a.fits\"], \"artifact_uris\": null, "
           "\"scheme\": null}");
    assert_int_equal(ingest_params_parse(p, "", NULL, ip, &ei), ERR_OK);
    assert_null(ip->artifact_uris[0]);
    assert_null(ip->scheme);
    assert_null(ip->observation_id);
    assert_int_equal(ip->nbp, 0);
    assert_false(ip->compute);
    json_decref(p);
    free(ip);
}

static void refusals_name_the_field(void **state)
{
    (void)state;
    refused("{}", "params.collection");
    refused("{\"uris\": [\"file:/a.fits\"]}", "params.collection");
    refused("{\"collection\": \"C\"}", "params.uris");
    refused("{\"collection\": \"C\", \"uris\": []}", "params.uris");
    refused("{\"collection\": \"C\", \"uris\": \"file:/a.fits\"}", "params.uris");
    refused("{\"collection\": \"C\", \"uris\": [\"file:/a\", \"file:/b\", \"ftp://h/c\"]}",
            "params.uris[2]");
    refused("{\"collection\": \"C\", \"uris\": [\"file:/a\", 7]}", "params.uris[1]");
    refused("{\"collection\": \"C\", \"uris\": [\"file:/dir/\"]}", "params.uris[0]");
    refused("{\"collection\": \"C\", \"uris\": [\"http://\"]}", "params.uris[0]");
    refused("{\"collection\": \"C\", \"uris\": [\"s3://B_ad/k.fits\"]}", "params.uris[0]");
    refused("{\"collection\": \"C\", \"uris\": [\"astroquery:x.fits\"]}", "params.uris[0]");
    refused("{\"collection\": \"a/b\", \"uris\": [\"file:/a\"]}", "params.collection");
    refused("{\"collection\": 3, \"uris\": [\"file:/a\"]}", "params.collection");
    refused("{\"collection\": \"C\", \"uris\": [\"file:/a\"], \"colour\": 1}", "params.colour");
    refused("{\"collection\": \"C\", \"uris\": [\"file:/a\", \"file:/b\"], "
            "\"artifact_uris\": [\"c:C/a\"]}",
            "params.artifact_uris");
    refused("{\"collection\": \"C\", \"uris\": [\"file:/a\"], \"artifact_uris\": [\"nocolon\"]}",
            "params.artifact_uris[0]");
    refused("{\"collection\": \"C\", \"uris\": [\"file:/a\"], \"artifact_uris\": \"c:C/a\"}",
            "params.artifact_uris");
    refused("{\"collection\": \"C\", \"uris\": [\"file:/a\"], \"blueprints\": [\"../x\"]}",
            "params.blueprints[0]");
    refused(
        "{\"collection\": \"C\", \"uris\": [\"file:/a\"], \"blueprints\": [\"ok\", \"/etc/x\"]}",
        "params.blueprints[1]");
    refused("{\"collection\": \"C\", \"uris\": [\"file:/a\"], \"blueprints\": [\"a/../../x\"]}",
            "params.blueprints[0]");
    refused("{\"collection\": \"C\", \"uris\": [\"file:/a\"], \"blueprints\": [\".hidden\"]}",
            "params.blueprints[0]");
    refused("{\"collection\": \"C\", \"uris\": [\"file:/a\"], \"blueprints\": [\"a//b\"]}",
            "params.blueprints[0]");
    refused("{\"collection\": \"C\", \"uris\": [\"file:/a\"], \"compute\": \"yes\"}",
            "params.compute");
    refused("{\"collection\": \"C\", \"uris\": [\"file:/a\"], \"scheme\": \"Bad\"}",
            "params.scheme");
    refused("{\"collection\": \"C\", \"uris\": [\"file:/a\"], \"observation_id\": \"\"}",
            "params.observation_id");
    refused("{\"collection\": \"C\", \"uris\": [\"file:/a\"], \"product_id\": \"a/b\"}",
            "params.product_id");
    refused("{\"collection\": \"C\", \"uris\": [\"file:/a\"], \"collection\": null}",
            "params.collection");
    struct err_info ei;
    json_t *arr = js("[1]");
    assert_int_equal(ingest_params_validate(arr, "", NULL, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "params");
    json_decref(arr);
    accepted("{\"collection\": \"C\", \"uris\": [\"file:/a.fits\"]}");
    accepted("{\"collection\": \"C\", \"uris\": [\"http://h:8080/p/a.fits.gz\"], "
             "\"compute\": false, \"blueprints\": []}");
}

/* params.product_ids: one plane ID per input, checked like product_id, not with it */
static void product_ids(void **state)
{
    (void)state;
    json_t *p = js("{\"collection\": \"C\", \"uris\": [\"file:/d/a.fits\", \"file:/d/b.fits\", "
                   "\"file:/d/c.fits\"], \"product_ids\": [\"A\", \"A\", \"B\"]}");
    struct ingest_params *ip = malloc(sizeof *ip);
    assert_non_null(ip);
    struct err_info ei;
    assert_int_equal(ingest_params_parse(p, "", NULL, ip, &ei), ERR_OK);
    assert_int_equal(ip->n, 3);
    assert_string_equal(ip->product_ids[0], "A");
    assert_string_equal(ip->product_ids[1], "A");
    assert_string_equal(ip->product_ids[2], "B");
    assert_null(ip->product_ids[3]);
    assert_null(ip->product_id);
    json_decref(p);
    /* absent or null: none */
    p = js("{\"collection\": \"C\", \"uris\": [\"file:/d/a.fits\"], \"product_ids\": null, "
           "\"product_id\": \"P\"}");
    assert_int_equal(ingest_params_parse(p, "", NULL, ip, &ei), ERR_OK);
    assert_null(ip->product_ids[0]);
    assert_string_equal(ip->product_id, "P");
    json_decref(p);
    free(ip);

    const char *three = "\"uris\": [\"file:/d/a.fits\", \"file:/d/b.fits\", \"file:/d/c.fits\"]";
    char buf[512];
#define WITH(fmt) (snprintf(buf, sizeof buf, "{\"collection\": \"C\", %s, " fmt "}", three), buf)
    refused(WITH("\"product_ids\": [\"A\", \"B\"]"), "params.product_ids");
    refused(WITH("\"product_ids\": [\"A\", \"B\", \"C\", \"D\"]"), "params.product_ids");
    refused(WITH("\"product_ids\": []"), "params.product_ids");
    refused(WITH("\"product_ids\": \"A\""), "params.product_ids");
    refused(WITH("\"product_ids\": [\"A\", \"A\", \"a/b\"]"), "params.product_ids[2]");
    refused(WITH("\"product_ids\": [\"A\", \"\", \"B\"]"), "params.product_ids[1]");
    refused(WITH("\"product_ids\": [\"A\", 7, \"B\"]"), "params.product_ids[1]");
    refused(WITH("\"product_ids\": [\"A\", null, \"B\"]"), "params.product_ids[1]");
    refused(WITH("\"product_ids\": [\"A\\u0001\", \"A\", \"B\"]"), "params.product_ids[0]");
    refused(WITH("\"product_ids\": [\"A\", \"A\", \"B\"], \"product_id\": \"P\""),
            "params.product_ids");
    accepted(WITH("\"product_ids\": [\"A\", \"A\", \"B\"], \"product_id\": null"));
#undef WITH
    /* 256 bytes is the most an ID may have */
    char id[INGEST_ID_MAX + 2];
    memset(id, 'x', INGEST_ID_MAX);
    id[INGEST_ID_MAX] = '\0';
    p = json_pack("{s:s, s:[s], s:[s]}", "collection", "C", "uris", "file:/d/a.fits",
                  "product_ids", id);
    assert_int_equal(ingest_params_validate(p, "", NULL, &ei), ERR_OK);
    json_decref(p);
    memset(id, 'x', INGEST_ID_MAX + 1);
    id[INGEST_ID_MAX + 1] = '\0';
    p = json_pack("{s:s, s:[s], s:[s]}", "collection", "C", "uris", "file:/d/a.fits",
                  "product_ids", id);
    assert_int_equal(ingest_params_validate(p, "[3].", NULL, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "[3].params.product_ids[0]");
    json_decref(p);
}

static void uri_count_cap(void **state)
{
    (void)state;
    json_t *p = json_pack("{s:s}", "collection", "C");
    json_t *uris = json_array();
    for (int i = 0; i < INGEST_URIS_MAX; i++) {
        char u[64];
        snprintf(u, sizeof u, "file:/d/f%d.fits", i);
        json_array_append_new(uris, json_string(u));
    }
    json_object_set_new(p, "uris", uris);
    struct err_info ei;
    assert_int_equal(ingest_params_validate(p, "", NULL, &ei), ERR_OK);
    json_array_append_new(uris, json_string("file:/d/one-too-many.fits"));
    assert_int_equal(ingest_params_validate(p, "[2].", NULL, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "[2].params.uris");
    json_decref(p);
}

/* ingest_run refuses, before anything is pushed (target NULL is never reached). */
static void run_refusals(void **state)
{
    (void)state;
    char root[] = "/tmp/ingest-unit-XXXXXX";
    assert_non_null(mkdtemp(root));
    char data[256], bpdir[256], outside[256], link[512], file[256];
    snprintf(data, sizeof data, "%s/data", root);
    snprintf(bpdir, sizeof bpdir, "%s/blueprints", root);
    snprintf(outside, sizeof outside, "%s/secret.bp", root);
    snprintf(link, sizeof link, "%s/escape.bp", bpdir);
    snprintf(file, sizeof file, "%s/a.fits.header", data);
    assert_int_equal(mkdir(data, 0700), 0);
    assert_int_equal(mkdir(bpdir, 0700), 0);
    FILE *f = fopen(outside, "w");
    assert_non_null(f);
    fclose(f);
    f = fopen(file, "w");
    assert_non_null(f);
    fputs("SIMPLE  =                    T\nEND\n", f);
    fclose(f);
    assert_int_equal(symlink(outside, link), 0);

    struct storage *st = NULL;
    struct storage_config sc = {.data_roots = data};
    struct err_info ei;
    assert_int_equal(storage_create(&sc, &st, &ei), ERR_OK);
    struct ingest_env env = {.storage = st, .target = NULL, .blueprint_dir = bpdir};
    struct ingest_params *p = calloc(1, sizeof *p);
    assert_non_null(p);
    struct ingest_result res;
    char uri[300];
    p->collection = "C";
    p->n = 1;

    snprintf(uri, sizeof uri, "file:%s/missing.fits", data);
    p->uris[0] = uri;
    assert_int_equal(ingest_run(&env, p, &res, &ei), ERR_INVALID);
    assert_string_equal(res.code, "input_not_found");
    assert_string_equal(ei.field, "params.uris[0]");

    p->uris[0] = "file:/etc/hostname";
    assert_int_equal(ingest_run(&env, p, &res, &ei), ERR_INVALID);
    assert_string_equal(res.code, "input_refused");

    p->uris[0] = "https://127.0.0.1:9/a.fits"; /* no work directory: refused, not fetched */
    assert_int_equal(ingest_run(&env, p, &res, &ei), ERR_INVALID);
    assert_string_equal(res.code, "input_refused");

    snprintf(uri, sizeof uri, "file:%s", file);
    p->uris[0] = uri;
    p->nbp = 1;
    p->blueprints[0] = "escape.bp";
    assert_int_equal(ingest_run(&env, p, &res, &ei), ERR_INVALID);
    assert_string_equal(res.code, "blueprint");
    assert_string_equal(ei.field, "params.blueprints[0]");
    p->blueprints[0] = "absent.bp";
    assert_int_equal(ingest_run(&env, p, &res, &ei), ERR_INVALID);
    assert_string_equal(res.code, "blueprint");

    free(p);
    storage_destroy(st);
    unlink(link);
    unlink(outside);
    unlink(file);
    rmdir(data);
    rmdir(bpdir);
    rmdir(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_fills),
        cmocka_unit_test(refusals_name_the_field),
        cmocka_unit_test(product_ids),
        cmocka_unit_test(uri_count_cap),
        cmocka_unit_test(run_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
