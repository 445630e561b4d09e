/* test_service_unit.c - cmocka tests of the parts of obsflowd that need no socket or database:
 * the route table and matcher, JSON body caps and job validation, problem+json mapping,
 * listen-address parsing and the metrics text. SPDX-License-Identifier: Apache-2.0 */
/* cmocka needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* clang-format off */
#include <cmocka.h>
/* clang-format on */

#include "config.h"
#include "handlers.h"
#include "metrics.h"
#include "problem.h"
#include "queue/queue.h"
#include "router.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- router ---- */

static int
match(enum http_method m, const char *path, const char **p0, char allow[ROUTER_ALLOW_MAX])
{
    static char scratch[256];
    const char *params[REQ_MAX_PATH_PARAMS] = {0};
    size_t np = 0;
    char a[ROUTER_ALLOW_MAX];
    int r = router_match(routes, routes_len, m, path, scratch, sizeof scratch, params, &np,
                         allow ? allow : a);
    if (p0) {
        *p0 = np ? params[0] : NULL;
    }
    return r;
}

static void test_router_literals(void **state)
{
    (void)state;
    int r = match(HTTP_POST, "/v1/jobs", NULL, NULL);
    assert_true(r >= 0);
    assert_ptr_equal(routes[r].fn, h_jobs_create);
    assert_true(routes[r].auth);
    r = match(HTTP_GET, "/v1/jobs", NULL, NULL);
    assert_ptr_equal(routes[r].fn, h_jobs_list);
    assert_false(routes[r].auth);
    r = match(HTTP_GET, "/metrics", NULL, NULL);
    assert_int_equal(routes[r].kind, ROUTE_METRICS);
    r = match(HTTP_HEAD, "/livez", NULL, NULL);
    assert_ptr_equal(routes[r].fn, h_livez);
}

static void test_router_params(void **state)
{
    (void)state;
    const char *id = NULL;
    int r = match(HTTP_GET, "/v1/jobs/abc", &id, NULL);
    assert_ptr_equal(routes[r].fn, h_jobs_get);
    assert_string_equal(id, "abc");
    r = match(HTTP_GET, "/v1/jobs/0b7c/events", &id, NULL);
    assert_ptr_equal(routes[r].fn, h_jobs_events);
    assert_string_equal(id, "0b7c");
    r = match(HTTP_POST, "/v1/jobs/x/cancel", &id, NULL);
    assert_ptr_equal(routes[r].fn, h_jobs_cancel);
    r = match(HTTP_POST, "/v1/jobs/x/retry", &id, NULL);
    assert_ptr_equal(routes[r].fn, h_jobs_retry);
}

static void test_router_collections(void **state)
{
    (void)state;
    const char *name = NULL;
    char allow[ROUTER_ALLOW_MAX];
    int r = match(HTTP_GET, "/v1/collections", NULL, NULL);
    assert_ptr_equal(routes[r].fn, h_collections_list);
    r = match(HTTP_GET, "/v1/collections/omm", &name, NULL);
    assert_ptr_equal(routes[r].fn, h_collections_get);
    assert_string_equal(name, "omm");
    assert_false(routes[r].auth);
    r = match(HTTP_PUT, "/v1/collections/omm", &name, NULL);
    assert_ptr_equal(routes[r].fn, h_collections_put);
    assert_true(routes[r].auth);
    assert_true(routes[r].body_max > 0);
    r = match(HTTP_GET, "/v1/collections/omm/files", &name, NULL);
    assert_ptr_equal(routes[r].fn, h_collections_files);
    r = match(HTTP_POST, "/v1/collections/o.m-m/run", &name, NULL);
    assert_ptr_equal(routes[r].fn, h_collections_run);
    assert_string_equal(name, "o.m-m");
    assert_true(routes[r].auth);
    r = match(HTTP_POST, "/v1/collections/omm/retry", &name, NULL);
    assert_ptr_equal(routes[r].fn, h_collections_retry);
    assert_true(routes[r].auth);
    assert_int_equal(match(HTTP_DELETE, "/v1/collections/omm", NULL, allow), ROUTE_BAD_METHOD);
    assert_string_equal(allow, "GET, HEAD, PUT");
    assert_int_equal(match(HTTP_GET, "/v1/collections/omm/run", NULL, allow), ROUTE_BAD_METHOD);
    assert_string_equal(allow, "POST");
    assert_int_equal(match(HTTP_GET, "/v1/collections/omm/nope", NULL, NULL), ROUTE_NOT_FOUND);
}

static void test_router_404_405(void **state)
{
    (void)state;
    char allow[ROUTER_ALLOW_MAX];
    assert_int_equal(match(HTTP_GET, "/nope", NULL, NULL), ROUTE_NOT_FOUND);
    assert_int_equal(match(HTTP_GET, "/v1/jobs/", NULL, NULL), ROUTE_NOT_FOUND);
    assert_int_equal(match(HTTP_GET, "/v1//jobs", NULL, NULL), ROUTE_NOT_FOUND);
    assert_int_equal(match(HTTP_GET, "/v1/jobs/a/b/c/d", NULL, NULL), ROUTE_NOT_FOUND);
    assert_int_equal(match(HTTP_GET, "v1/jobs", NULL, NULL), ROUTE_NOT_FOUND);
    assert_int_not_equal(match(HTTP_GET, "/", NULL, NULL), ROUTE_NOT_FOUND); /* the dashboard */
    assert_int_equal(match(HTTP_POST, "/", NULL, allow), ROUTE_BAD_METHOD);
    assert_string_equal(allow, "GET, HEAD");
    assert_int_equal(match(HTTP_GET, "/ui/a/b", NULL, NULL), ROUTE_NOT_FOUND);
    assert_int_equal(match(HTTP_DELETE, "/v1/jobs", NULL, allow), ROUTE_BAD_METHOD);
    assert_string_equal(allow, "POST, GET, HEAD");
    assert_int_equal(match(HTTP_GET, "/v1/jobs/x/cancel", NULL, allow), ROUTE_BAD_METHOD);
    assert_string_equal(allow, "POST");
    assert_int_equal(match(HTTP_POST, "/metrics", NULL, allow), ROUTE_BAD_METHOD);
    assert_string_equal(allow, "GET, HEAD");
    assert_int_equal(router_path_row(routes, routes_len, "/v1/jobs/x/cancel"),
                     match(HTTP_POST, "/v1/jobs/x/cancel", NULL, NULL));
    assert_int_equal(router_path_row(routes, routes_len, "/nope"), ROUTE_NOT_FOUND);
    assert_int_equal(router_method("BREW"), HTTP_OTHER);
    assert_int_equal(router_method("PATCH"), HTTP_PATCH);
}

/* every route is documented in openapi/openapi.yaml (the contract) */
static void test_routes_in_openapi(void **state)
{
    (void)state;
    const char *src = getenv("OBSFLOW_SOURCE_DIR");
    if (!src) {
        skip();
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/openapi/openapi.yaml", src);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    for (size_t i = 0; i < routes_len; i++) {
        char key[256];
        snprintf(key, sizeof key, "\n  %s:\n", routes[i].pattern);
        char *at = strstr(text, key);
        if (!at) {
            fail_msg("route %s is not in openapi.yaml", routes[i].pattern);
        }
        /* the method appears under the path before the next path */
        char *next = strstr(at + strlen(key), "\n  /");
        char m[32];
        int ml = snprintf(m, sizeof m, "\n    %s:", http_method_name(routes[i].method));
        for (int k = 5; k < ml; k++) { /* "get", "post", "put" */
            m[k] = (char)tolower((unsigned char)m[k]);
        }
        char *mm = strstr(at, m);
        if (!mm || (next && mm > next)) {
            fail_msg("%s %s is not in openapi.yaml", http_method_name(routes[i].method),
                     routes[i].pattern);
        }
    }
}

/* ---- JSON bodies ---- */

static enum err body(const char *s, struct err_info *ei)
{
    json_t *v = NULL;
    err_info_clear(ei);
    enum err e = req_json_body(s, strlen(s), &v, ei);
    json_decref(v);
    return e;
}

static void test_json_body_caps(void **state)
{
    (void)state;
    struct err_info ei;
    assert_int_equal(body("{\"kind\":\"noop\"}", &ei), ERR_OK);
    assert_int_equal(body("{\"kind\":", &ei), ERR_PARSE);
    assert_string_equal(ei.field, "body");
    assert_int_equal(body("", &ei), ERR_PARSE);
    assert_int_equal(body("{\"a\":1,\"a\":2}", &ei), ERR_PARSE);
    char deep[128] = "";
    for (int i = 0; i < JSON_MAX_DEPTH + 1; i++) {
        strcat(deep, "[");
    }
    assert_int_equal(body(deep, &ei), ERR_TOO_LARGE);
    char ok[128] = "";
    for (int i = 0; i < JSON_MAX_DEPTH; i++) {
        strcat(ok, "[");
    }
    for (int i = 0; i < JSON_MAX_DEPTH; i++) {
        strcat(ok, "]");
    }
    assert_int_equal(body(ok, &ei), ERR_OK);
    /* brackets inside strings do not count */
    assert_int_equal(body("{\"k\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}", &ei), ERR_OK);
    size_t big = JSON_MAX_STRING + 10;
    char *s = malloc(big + 16);
    s[0] = '"';
    memset(s + 1, 'x', big);
    s[big + 1] = '"';
    s[big + 2] = '\0';
    assert_int_equal(body(s, &ei), ERR_TOO_LARGE);
    free(s);
}

static enum err validate(const char *s, struct err_info *ei)
{
    json_error_t je;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &je);
    assert_non_null(v);
    err_info_clear(ei);
    enum err e = job_specs_validate(v, ei);
    json_decref(v);
    return e;
}

/* The handler checks the document as a whole; each job is lib/queue's (test_queue_unit). */
static void test_job_validation(void **state)
{
    (void)state;
    struct err_info ei;
    assert_int_equal(validate("{\"kind\":\"noop\"}", &ei), ERR_OK);
    assert_int_equal(validate("[{\"kind\":\"noop\"},{\"kind\":\"noop\"}]", &ei), ERR_OK);
    assert_int_equal(validate("[]", &ei), ERR_INVALID);
    assert_string_equal(ei.field, "body");
    assert_int_equal(validate("\"noop\"", &ei), ERR_INVALID);
    assert_string_equal(ei.field, "body");
    assert_int_equal(validate("7", &ei), ERR_INVALID);
    /* too many jobs */
    json_t *arr = json_array();
    for (int i = 0; i <= QUEUE_BATCH_MAX; i++) {
        json_array_append_new(arr, json_pack("{s:s}", "kind", "noop"));
    }
    err_info_clear(&ei);
    assert_int_equal(job_specs_validate(arr, &ei), ERR_TOO_LARGE);
    assert_string_equal(ei.field, "body");
    json_decref(arr);
}

static void test_small_validators(void **state)
{
    (void)state;
    assert_true(uuid_valid("0b7c6a2e-1f3d-4c5b-9a8e-7d6c5b4a3f21"));
    assert_true(uuid_valid("0B7C6A2E-1F3D-4C5B-9A8E-7D6C5B4A3F21"));
    assert_false(uuid_valid("0b7c6a2e1f3d4c5b9a8e7d6c5b4a3f21"));
    assert_false(uuid_valid("0b7c6a2e-1f3d-4c5b-9a8e-7d6c5b4a3f2g"));
    assert_false(uuid_valid(""));
    assert_false(uuid_valid(NULL));
    struct req req;
    memset(&req, 0, sizeof req);
    req.query[0] = (struct req_kv){"state", "queued"};
    req.query[1] = (struct req_kv){"colour", "red"};
    req.nquery = 2;
    static const char *const allowed[] = {"state", NULL};
    struct err_info ei;
    err_info_clear(&ei);
    assert_int_equal(req_query_check(&req, allowed, &ei), ERR_PARSE);
    assert_string_equal(ei.field, "colour");
    req.query[1] = (struct req_kv){"state", "running"};
    assert_int_equal(req_query_check(&req, allowed, &ei), ERR_PARSE);
    req.nquery = 1;
    assert_int_equal(req_query_check(&req, allowed, &ei), ERR_OK);
    assert_string_equal(req_query(&req, "state"), "queued");
    assert_null(req_query(&req, "kind"));
}

/* ---- problem+json ---- */

static void test_problem(void **state)
{
    (void)state;
    struct resp resp;
    resp_init(&resp);
    struct err_info ei;
    err_info_clear(&ei);
    err_set_field(&ei, ERR_INVALID, "[2].priority", "priority must be between 0 and 9, not 12");
    assert_int_equal(problem_render(&resp, ERR_INVALID, &ei, "req-1"), ERR_OK);
    assert_int_equal(resp.status, 422);
    assert_string_equal(resp.content_type, "application/problem+json");
    json_error_t je;
    json_t *doc = json_loads(buf_cstr(&resp.body), 0, &je);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "code")), "invalid");
    assert_string_equal(json_string_value(json_object_get(doc, "field")), "[2].priority");
    assert_string_equal(json_string_value(json_object_get(doc, "request_id")), "req-1");
    assert_int_equal(json_integer_value(json_object_get(doc, "status")), 422);
    json_decref(doc);
    /* internal errors do not leak their message */
    err_set(&ei, ERR_DB, "SQLSTATE 42P01 relation \"jobs\" does not exist");
    assert_int_equal(problem_render(&resp, ERR_DB, &ei, NULL), ERR_OK);
    assert_int_equal(resp.status, 500);
    assert_null(strstr(buf_cstr(&resp.body), "42P01"));
    /* neither do 503/504 (libpq's text, the socket path) nor a database refusal mapped to a
     * 4xx (issue 9: "?queue=%ff" answered 422 with the SQL error) */
    err_set(&ei, ERR_UNAVAILABLE,
            "could not connect to the database: connection to server on socket "
            "\"/run/pg/.s.PGSQL.5432\" failed");
    assert_int_equal(problem_render(&resp, ERR_UNAVAILABLE, &ei, NULL), ERR_OK);
    assert_int_equal(resp.status, 503);
    assert_null(strstr(buf_cstr(&resp.body), "PGSQL"));
    err_set(&ei, ERR_TIMEOUT, "jobs_get failed (sqlstate 57014): ERROR:  canceling statement");
    assert_int_equal(problem_render(&resp, ERR_TIMEOUT, &ei, NULL), ERR_OK);
    assert_int_equal(resp.status, 504);
    assert_null(strstr(buf_cstr(&resp.body), "57014"));
    err_set_field(&ei, ERR_INVALID, "queue",
                  "queue_list failed (sqlstate 22021): ERROR:  invalid byte sequence");
    assert_int_equal(problem_render(&resp, ERR_INVALID, &ei, NULL), ERR_OK);
    assert_int_equal(resp.status, 422);
    assert_null(strstr(buf_cstr(&resp.body), "22021"));
    assert_non_null(strstr(buf_cstr(&resp.body), "\"field\":\"queue\""));
    assert_int_equal(problem_status(ERR_PARSE), 400);
    assert_int_equal(problem_status(ERR_NOT_FOUND), 404);
    assert_int_equal(problem_status(ERR_TOO_LARGE), 413);
    assert_int_equal(problem_status(ERR_UNAUTHORIZED), 401);
    assert_int_equal(problem_status(ERR_UNAVAILABLE), 503);
    assert_int_equal(problem_status(ERR_OK), 500);
    resp_free(&resp);
}

/* Responses over RESP_BODY_MAX are our limit: 500, never the client's 413 (GET /v1/jobs with
 * large params answered 413 "Content Too Large" although the request had no body). */
static void test_resp_json_cap(void **state)
{
    (void)state;
    struct resp resp;
    resp_init(&resp);
    struct err_info ei;
    err_info_clear(&ei);
    json_t *small = json_pack("{s:s}", "a", "b");
    assert_non_null(small);
    assert_int_equal(resp_json(&resp, 202, small, &ei), ERR_OK);
    assert_int_equal(resp.status, 202);
    assert_string_equal(buf_cstr(&resp.body), "{\"a\":\"b\"}\n");
    json_decref(small);
    /* over the first reservation: measured, then written whole */
    char mid[5001];
    memset(mid, 'm', sizeof mid - 1);
    mid[sizeof mid - 1] = '\0';
    json_t *midj = json_pack("[s,i]", mid, 7);
    assert_non_null(midj);
    assert_int_equal(resp_json(&resp, 200, midj, &ei), ERR_OK);
    json_decref(midj);
    assert_int_equal(resp.body.len, 5000 + 7); /* ["...",7] and the newline */
    assert_memory_equal(buf_cstr(&resp.body) + 5000 + 2, "\",7]\n", 5);
    size_t n = RESP_BODY_MAX + 16;
    char *text = malloc(n + 1);
    assert_non_null(text);
    memset(text, 'x', n);
    text[n] = '\0';
    json_t *big = json_pack("{s:s}", "a", text);
    free(text);
    assert_non_null(big);
    enum err e = resp_json(&resp, 200, big, &ei);
    json_decref(big);
    assert_int_equal(e, ERR_INTERNAL);
    assert_int_equal(problem_status(e), 500);
    assert_int_equal(resp.body.len, 0);
    assert_int_equal(resp_json(&resp, 200, NULL, &ei), ERR_INTERNAL);
    resp_free(&resp);
}

/* The routes on one job refuse a bad id, any query parameter and a non-empty body before the
 * queue is reached (the app has no queue: reaching it would crash). */
static void test_job_route_checks(void **state)
{
    (void)state;
    struct app app;
    memset(&app, 0, sizeof app);
    struct req req;
    memset(&req, 0, sizeof req);
    struct resp resp;
    resp_init(&resp);
    struct err_info ei;
    handler_fn fns[] = {h_jobs_get, h_jobs_events, h_jobs_cancel, h_jobs_retry};
    for (size_t i = 0; i < ARRAY_LEN(fns); i++) {
        memset(&req, 0, sizeof req);
        req.params[0] = "not-a-uuid";
        req.nparams = 1;
        err_info_clear(&ei);
        assert_int_equal(fns[i](&app, &req, &resp, &ei), ERR_PARSE);
        assert_string_equal(ei.field, "id");
        req.params[0] = "01a2004e-dc52-7000-8d2a-1e35d50f1c39";
        req.query[0].key = "verbose";
        req.query[0].value = "1";
        req.nquery = 1;
        err_info_clear(&ei);
        assert_int_equal(fns[i](&app, &req, &resp, &ei), ERR_PARSE);
        assert_string_equal(ei.field, "verbose");
        req.nquery = 0;
        req.body = "{\"force\":true}";
        req.body_len = strlen(req.body);
        err_info_clear(&ei);
        assert_int_equal(fns[i](&app, &req, &resp, &ei), ERR_INVALID);
        assert_string_equal(ei.field, "force");
        req.body = "[1";
        req.body_len = strlen(req.body);
        err_info_clear(&ei);
        assert_int_equal(fns[i](&app, &req, &resp, &ei), ERR_PARSE);
    }
    resp_free(&resp);
}

/* /openapi.yaml: the file is served whole; a file that cannot be read is an error, not an
 * empty 200 (a directory opens but every read fails). */
static void test_openapi_route(void **state)
{
    (void)state;
    const char *src = getenv("OBSFLOW_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/openapi/openapi.yaml", src ? src : ".");
    struct app app;
    memset(&app, 0, sizeof app);
    struct req req;
    memset(&req, 0, sizeof req);
    struct resp resp;
    resp_init(&resp);
    struct err_info ei;
    err_info_clear(&ei);
    app.openapi_path = path;
    assert_int_equal(h_openapi(&app, &req, &resp, &ei), ERR_OK);
    assert_int_equal(resp.status, 200);
    assert_non_null(strstr(buf_cstr(&resp.body), "openapi: "));
    snprintf(path, sizeof path, "%s/openapi", src ? src : ".");
    resp_free(&resp);
    resp_init(&resp);
    assert_int_not_equal(h_openapi(&app, &req, &resp, &ei), ERR_OK);
    app.openapi_path = NULL;
    assert_int_equal(h_openapi(&app, &req, &resp, &ei), ERR_NOT_FOUND);
    resp_free(&resp);
}

/* GET / and /ui/{file}: embedded files with their type, a strong ETag, no-cache; a matching
 * If-None-Match (also in a list, or weak) is a bodiless 304; an unknown file is a 404. */
static void test_dashboard_files(void **state)
{
    (void)state;
    struct app app;
    memset(&app, 0, sizeof app);
    struct req req;
    memset(&req, 0, sizeof req);
    struct resp resp;
    resp_init(&resp);
    struct err_info ei;
    err_info_clear(&ei);
    assert_int_equal(h_dashboard(&app, &req, &resp, &ei), ERR_OK);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.content_type, "text/html; charset=utf-8");
    assert_string_equal(resp.cache_control, "no-cache");
    assert_non_null(resp.csp);
    assert_non_null(strstr(buf_cstr(&resp.body), "/ui/app.js"));
    assert_true(resp.etag[0] == '"' && strlen(resp.etag) == 18);
    char etag[64];
    snprintf(etag, sizeof etag, "%s", resp.etag);
    resp_free(&resp);

    char list[160];
    snprintf(list, sizeof list, "\"0000000000000000\", W/%s", etag);
    const char *inm[] = {etag, list, "*"};
    for (size_t i = 0; i < ARRAY_LEN(inm); i++) {
        resp_init(&resp);
        req.if_none_match = inm[i];
        assert_int_equal(h_dashboard(&app, &req, &resp, &ei), ERR_OK);
        assert_int_equal(resp.status, 304);
        assert_int_equal(resp.body.len, 0);
        assert_string_equal(resp.etag, etag);
        resp_free(&resp);
    }
    resp_init(&resp);
    req.if_none_match = "\"0000000000000000\"";
    assert_int_equal(h_dashboard(&app, &req, &resp, &ei), ERR_OK);
    assert_int_equal(resp.status, 200);
    resp_free(&resp);

    req.if_none_match = NULL;
    const char *params[REQ_MAX_PATH_PARAMS] = {"app.js"};
    memcpy(req.params, params, sizeof req.params);
    req.nparams = 1;
    resp_init(&resp);
    assert_int_equal(h_dashboard_file(&app, &req, &resp, &ei), ERR_OK);
    assert_string_equal(resp.content_type, "text/javascript; charset=utf-8");
    assert_true(resp.body.len > 1000);
    assert_string_not_equal(resp.etag, etag);
    resp_free(&resp);
    req.params[0] = "app.css";
    resp_init(&resp);
    assert_int_equal(h_dashboard_file(&app, &req, &resp, &ei), ERR_OK);
    assert_string_equal(resp.content_type, "text/css; charset=utf-8");
    resp_free(&resp);
    req.params[0] = "../app.js";
    resp_init(&resp);
    assert_int_equal(h_dashboard_file(&app, &req, &resp, &ei), ERR_NOT_FOUND);
    resp_free(&resp);
}

/* ---- config ---- */

static void test_listen_parse(void **state)
{
    (void)state;
    char host[64];
    int port = -1;
    struct err_info ei;
    assert_int_equal(config_parse_listen("127.0.0.1:0", host, sizeof host, &port, &ei), ERR_OK);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 0);
    assert_int_equal(config_parse_listen("[::1]:8080", host, sizeof host, &port, &ei), ERR_OK);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 8080);
    assert_int_equal(config_parse_listen(":9000", host, sizeof host, &port, &ei), ERR_OK);
    assert_string_equal(host, "0.0.0.0");
    assert_int_equal(config_parse_listen("localhost", host, sizeof host, &port, &ei), ERR_INVALID);
    assert_int_equal(config_parse_listen("h:70000", host, sizeof host, &port, &ei), ERR_INVALID);
    assert_int_equal(config_parse_listen("h:x", host, sizeof host, &port, &ei), ERR_INVALID);
}

static void test_queues_parse(void **state)
{
    (void)state;
    struct config_queue q[CONFIG_QUEUES_MAX];
    struct err_info ei;
    int n = -1;
    assert_int_equal(config_parse_queues("calib=2,ingest=8, default=4 ", q, &n, &ei), ERR_OK);
    assert_int_equal(n, 3);
    assert_string_equal(q[0].name, "calib");
    assert_int_equal(q[0].workers, 2);
    assert_string_equal(q[2].name, "default");
    assert_int_equal(q[2].workers, 4);
    assert_int_equal(config_parse_queues("A.b-c_9=256", q, &n, &ei), ERR_OK);
    static const struct {
        const char *in, *named;
    } bad[] = {
        {"calib=2,,ingest=1", "entry 2 is empty"},
        {"calib=2,ingest", "entry \"ingest\": expected NAME=COUNT"},
        {"calib=0", "entry \"calib=0\": the count must be an integer from 1 to 256"},
        {"calib=257", "entry \"calib=257\""},
        {"calib=2x", "entry \"calib=2x\""},
        {"cal ib=2", "entry \"cal ib=2\": the queue name"},
        {"=2", "entry \"=2\": the queue name"},
        {"calib=1,ingest=3,calib=2", "entry \"calib=2\": queue calib is named twice"},
        {"a=200,b=100", "add up to 300"},
        {"", "entry 1 is empty"},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        err_info_clear(&ei);
        assert_int_equal(config_parse_queues(bad[i].in, q, &n, &ei), ERR_INVALID);
        assert_string_equal(ei.field, "OBSFLOW_QUEUES");
        if (!strstr(ei.msg, bad[i].named)) {
            fail_msg("\"%s\": message \"%s\" lacks \"%s\"", bad[i].in, ei.msg, bad[i].named);
        }
    }
    char name65[80];
    memset(name65, 'a', 65);
    snprintf(name65 + 65, sizeof name65 - 65, "=1");
    assert_int_equal(config_parse_queues(name65, q, &n, &ei), ERR_INVALID);
    /* with OBSFLOW_QUEUES the threads are the sum; --workers=0 still means no workers */
    struct config cfg;
    char a0[] = "obsflowd", a1[] = "--workers=3", a2[] = "--workers=0";
    char *argv[] = {a0, a1, NULL};
    char *api_only[] = {a0, a2, NULL};
    setenv("OBSFLOW_QUEUES", "calib=2,ingest=3", 1);
    assert_int_equal(config_load(&cfg, 2, argv, &ei), ERR_OK);
    assert_int_equal(cfg.nqueues, 2);
    assert_int_equal(cfg.workers, 5);
    assert_int_equal(cfg.workers_given, 3);
    assert_int_equal(config_load(&cfg, 2, api_only, &ei), ERR_OK);
    assert_int_equal(cfg.workers, 0);
    setenv("OBSFLOW_QUEUES", "calib=2,calib=1", 1);
    assert_int_equal(config_load(&cfg, 1, argv, &ei), ERR_INVALID);
    assert_non_null(strstr(ei.msg, "calib is named twice"));
    unsetenv("OBSFLOW_QUEUES");
    assert_int_equal(config_load(&cfg, 1, argv, &ei), ERR_OK);
    assert_int_equal(cfg.nqueues, 0);
}

static void test_config_flags(void **state)
{
    (void)state;
    struct config cfg;
    struct err_info ei;
    char a0[] = "obsflowd", a1[] = "--listen", a2[] = "127.0.0.1:0", a3[] = "--workers=3",
         a4[] = "--port-file", a5[] = "/tmp/p", a6[] = "--workers", a7[] = "many",
         a8[] = "--colour";
    char *argv[] = {a0, a1, a2, a3, a4, a5, NULL};
    assert_int_equal(config_load(&cfg, 6, argv, &ei), ERR_OK);
    assert_int_equal(cfg.listen_port, 0);
    assert_int_equal(cfg.workers, 3);
    assert_string_equal(cfg.port_file, "/tmp/p");
    assert_int_equal(cfg.shutdown_grace_s, 25);
    assert_non_null(strstr(cfg.database_url, "/var/pg dbname=obsflow user=postgres"));
    char *bad[] = {a0, a6, a7, NULL};
    assert_int_equal(config_load(&cfg, 3, bad, &ei), ERR_INVALID);
    char *unknown[] = {a0, a8, NULL};
    assert_int_equal(config_load(&cfg, 2, unknown, &ei), ERR_INVALID);
}

/* ---- metrics ---- */

static void fake_jobs(void *ctx, struct metrics_jobs *out)
{
    (void)ctx;
    out->by_state[0] = 7;
    out->oldest_queued_age_s = 1.5;
    out->claimed_total = 3;
    out->workers = 2;
    out->workers_busy = 1;
    out->nqueues = 2;
    out->queues[0].name = "calib";
    out->queues[0].workers = 2;
    out->queues[0].busy = 1;
    out->queues[1].name = "ingest";
    out->queues[1].workers = 8;
    out->queues[1].busy = 0;
    out->ready = true;
}

static void test_metrics_text(void **state)
{
    (void)state;
    const char *labels[] = {"/v1/jobs", "/v1/jobs/{id}"};
    struct metrics *m = NULL;
    assert_int_equal(metrics_create(2, labels, &m), ERR_OK);
    metrics_http_observe(m, 1, HTTP_GET, 200, 300000);  /* 0.3 ms */
    metrics_http_observe(m, 1, HTTP_GET, 200, 3000000); /* 3 ms */
    metrics_http_observe(m, -1, HTTP_DELETE, 404, 1000);
    struct buf out;
    buf_init(&out, 1 << 20);
    assert_int_equal(metrics_render(m, fake_jobs, NULL, &out), ERR_OK);
    const char *t = buf_cstr(&out);
    assert_non_null(strstr(
        t, "obsflow_http_requests_total{method=\"GET\",route=\"/v1/jobs/{id}\",code=\"200\"} 2\n"));
    assert_non_null(strstr(
        t, "obsflow_http_requests_total{method=\"DELETE\",route=\"unmatched\",code=\"404\"} 1\n"));
    assert_non_null(strstr(t, "obsflow_http_request_duration_seconds_bucket{method=\"GET\",route="
                              "\"/v1/jobs/{id}\",code=\"200\",le=\"0.0005\"} 1\n"));
    assert_non_null(strstr(t, "obsflow_http_request_duration_seconds_bucket{method=\"GET\",route="
                              "\"/v1/jobs/{id}\",code=\"200\",le=\"0.005\"} 2\n"));
    assert_non_null(strstr(t, "obsflow_jobs{state=\"queued\"} 7\n"));
    assert_non_null(strstr(t, "obsflow_jobs_claimed_total 3\n"));
    assert_non_null(strstr(t, "obsflow_ready 1\n"));
    assert_non_null(strstr(t, "# TYPE obsflow_queue_workers gauge\n"
                              "obsflow_queue_workers{queue=\"calib\"} 2\n"
                              "obsflow_queue_workers{queue=\"ingest\"} 8\n"));
    assert_non_null(strstr(t, "obsflow_queue_workers_busy{queue=\"calib\"} 1\n"
                              "obsflow_queue_workers_busy{queue=\"ingest\"} 0\n"));
    assert_null(strstr(t, "obsflow_jobs_failed_total")); /* unknown: left out */
    buf_free(&out);
    metrics_destroy(m);
    metrics_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_router_literals),  cmocka_unit_test(test_router_params),
        cmocka_unit_test(test_router_collections),
        cmocka_unit_test(test_router_404_405),   cmocka_unit_test(test_routes_in_openapi),
        cmocka_unit_test(test_json_body_caps),   cmocka_unit_test(test_job_validation),
        cmocka_unit_test(test_small_validators), cmocka_unit_test(test_problem),
        cmocka_unit_test(test_listen_parse),     cmocka_unit_test(test_config_flags),
        cmocka_unit_test(test_queues_parse),
        cmocka_unit_test(test_metrics_text),
        cmocka_unit_test(test_resp_json_cap),    cmocka_unit_test(test_job_route_checks),
        cmocka_unit_test(test_openapi_route),
        cmocka_unit_test(test_dashboard_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
