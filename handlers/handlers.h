/* handlers.h - the HTTP endpoints of obsflowd as plain functions of a request.
 * No libmicrohttpd, SQL or curl here: service/ turns an MHD connection into a struct req,
 * calls one handler, and turns the struct resp (or the returned error) into bytes on the wire.
 * Jobs are reached through lib/queue, which renders them in the API's JSON shape.
 * Threading: handlers are called concurrently from the MHD threads; they share only *app,
 * which is read-only after start-up apart from the atomics the store and metrics own.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_HANDLERS_H
#define OBSFLOW_HANDLERS_H

#include "core/buf.h"
#include "core/compiler.h"
#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- limits (named caps on everything that grows) ---- */
#define REQ_MAX_QUERY       16         /* query arguments per request */
#define REQ_MAX_PATH_PARAMS 2          /* {id} ... */
#define REQ_PARAM_MAX       300        /* bytes of one path parameter (a CAOM observationID) */
#define RESP_BODY_MAX       (8u << 20) /* bytes of one response body */
#define RESP_BODY_RESERVE   1024u      /* first allocation of a JSON response body */
#define RESP_BODY_PER_ITEM  640u       /* first allocation per element of an array answer */
#define JOB_BODY_MAX        (1u << 20) /* POST /v1/jobs body */
#define SMALL_BODY_MAX      4096u      /* cancel / retry bodies */
#define JSON_MAX_DEPTH      16         /* nesting of any request body */
#define JSON_MAX_STRING     8192       /* bytes of any JSON string (keys included) */
#define JOB_CURSOR_MAX      128        /* bytes of a GET /v1/jobs cursor */
#define COLL_BODY_MAX       (64u << 10) /* PUT /v1/collections/{name}: a definition */
#define REG_BODY_MAX        (16u << 20) /* registry writes: a batch of datasets, records */
/* the limits of job specs (batch, kind, queue, params, attempts, page size, Idempotency-Key)
 * are lib/queue's (QUEUE_*_MAX in queue/queue.h), defined once */

enum http_method {
    HTTP_GET = 0,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_DELETE,
    HTTP_PATCH,
    HTTP_OPTIONS,
    HTTP_OTHER,
    HTTP_METHOD__COUNT
};

/** Name of @p m ("GET"); never NULL. */
const char *http_method_name(enum http_method m);

/** One name=value pair of the query string (both borrowed from the request). */
struct req_kv {
    const char *key;
    const char *value;
};

/** A parsed request. Everything is borrowed from the service for the handler call. */
struct req {
    enum http_method method;
    const char *path;                        /* decoded path, no query string */
    const char *params[REQ_MAX_PATH_PARAMS]; /* path parameters in pattern order */
    size_t nparams;
    struct req_kv query[REQ_MAX_QUERY]; /* query arguments, in arrival order */
    size_t nquery;
    const char *body; /* request body (NUL-terminated) or NULL */
    size_t body_len;
    const char *content_type;    /* Content-Type header or NULL */
    const char *idempotency_key; /* Idempotency-Key header or NULL */
    const char *request_id;      /* X-Request-Id (given or generated) */
    const char *authorization;   /* Authorization header or NULL (routes that check it
                                    themselves: /caom2) */
    const char *if_match;        /* If-Match header or NULL */
    const char *if_none_match;   /* If-None-Match header or NULL (the dashboard's files) */
    const char *host;            /* Host header or NULL */
    const char *forwarded_proto; /* X-Forwarded-Proto header or NULL */
};

/** A response under construction; the service owns it and frees the body. */
struct resp {
    int status;               /* HTTP status; 200 unless a handler sets it */
    const char *content_type; /* static string; "application/json" by default */
    struct buf body;          /* response body, capped at RESP_BODY_MAX */
    char location[160];       /* Location header or "" */
    char retry_after[16];     /* Retry-After header or "" */
    char etag[64];            /* ETag header or "" */
    const char *cache_control; /* static string; NULL: "no-store" (every API answer) */
    const char *csp;           /* Content-Security-Policy (static string) or NULL */
    bool replayed;            /* Idempotent-Replayed: true */
};

struct queue;      /* lib/queue */
struct repo_store; /* lib/repo */
struct profile_set; /* lib/profile */
struct harv;        /* lib/harvest */
struct reg;         /* lib/registry */

/** Read-only context of every handler, built by main before the HTTP server starts. */
struct app {
    struct queue *queue;                           /* job queue (borrowed) */
    bool (*ready)(void *ctx, struct err_info *ei); /* readiness: database up, migrated,
                                                      not draining */
    bool (*alive)(void *ctx, struct err_info *ei); /* liveness: own loops ticking */
    void *probe_ctx;                               /* argument of ready/alive */
    const char *openapi_path;                      /* file served at /openapi.yaml */
    struct repo_store *repo;                       /* the built-in CAOM repository */
    const char *api_token;                         /* OBSFLOW_API_TOKEN or "" */
    const char *caom_base;                         /* base path of the repository ("/caom2") */
    const struct profile_set *profiles;            /* OBSFLOW_CONFIG_DIR/profiles (or NULL) */
    struct harv *harvest;                          /* collections (lib/harvest; borrowed) */
    struct reg *registry;                          /* the dataset registry (lib/registry;
                                                      borrowed) */
};
/** Signature of every handler: on ERR_OK the response is in @p resp; on failure @p ei names
 * the problem and the service renders application/problem+json. */
typedef enum err (*handler_fn)(const struct app *app,
                               const struct req *req,
                               struct resp *resp,
                               struct err_info *ei);

/* ---- the endpoints (one per file) ---- */
NODISCARD enum err
h_jobs_create(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_jobs_get(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_jobs_list(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_jobs_events(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_jobs_cancel(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_jobs_retry(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_livez(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_readyz(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_openapi(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_profiles(const struct app *, const struct req *, struct resp *, struct err_info *);

/* the dashboard: web/ files embedded in the binary (dashboard.c) */
NODISCARD enum err
h_dashboard(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_dashboard_file(const struct app *, const struct req *, struct resp *, struct err_info *);
/* GET /v1/jobs/{id}/previews/{name}: a preview a dataset job published on a file: output */
NODISCARD enum err
h_job_preview(const struct app *, const struct req *, struct resp *, struct err_info *);

/* collections (lib/harvest; issue 10) */
NODISCARD enum err
h_collections_list(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_collections_get(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_collections_put(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_collections_files(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_collections_run(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_collections_retry(const struct app *, const struct req *, struct resp *, struct err_info *);

/* the dataset registry (lib/registry; issue 13) */
NODISCARD enum err
h_datasets_query(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_datasets_register(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_datasets_get(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_reg_collections_list(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_reg_collections_put(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_reg_remove_runs(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_reg_dimensions(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_reg_types_list(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_reg_types_put(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_reg_associate(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_calib_certify(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_calib_decertify(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_calib_lookup(const struct app *, const struct req *, struct resp *, struct err_info *);

/* the CAOM repository (torkeep protocol; errors are text/plain with torkeep's messages) */
NODISCARD enum err
h_caom_get(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_caom_put(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_caom_post(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_caom_delete(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_caom_list(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_caom_collections(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_caom_deletions(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_caom_capabilities(const struct app *, const struct req *, struct resp *, struct err_info *);
NODISCARD enum err
h_caom_availability(const struct app *, const struct req *, struct resp *, struct err_info *);

/* ---- helpers shared by the handlers (handlers/util.c) ---- */

/** Value of query argument @p key, or NULL. */
const char *req_query(const struct req *req, const char *key);

/** ERR_PARSE naming the first query argument not in the NULL-terminated @p allowed list,
 * or one given twice. */
NODISCARD enum err
req_query_check(const struct req *req, const char *const *allowed, struct err_info *ei);

/** True if @p s is a canonical lower- or upper-case hyphenated UUID. */
bool uuid_valid(const char *s);

/** Validate path parameter @p idx as a UUID: ERR_PARSE with field "id" otherwise. */
NODISCARD enum err req_uuid_param(const struct req *req, size_t idx, struct err_info *ei);

/**
 * Parse the request body as JSON with our caps: depth <= JSON_MAX_DEPTH, strings and keys
 * <= JSON_MAX_STRING bytes, duplicate keys refused. ERR_PARSE (400) for malformed JSON,
 * ERR_TOO_LARGE for a string or nesting over the cap (named by field "body").
 * @param[out] out  new reference on success
 */
NODISCARD enum err req_json_body(const char *body, size_t len, json_t **out, struct err_info *ei);

/** Serialise @p v (borrowed) into @p resp with @p status and content type application/json.
 * @return ERR_OK; ERR_INTERNAL (500) when the document is over RESP_BODY_MAX bytes (a limit of
 *         ours, not the client's: never 413); ERR_NOMEM. On failure the body is empty. */
NODISCARD enum err resp_json(struct resp *resp, int status, const json_t *v, struct err_info *ei);

/**
 * Check the shape of a POST /v1/jobs document as a whole before it reaches the queue: a job
 * object or a non-empty array of at most QUEUE_BATCH_MAX of them. Each job is checked by
 * queue_enqueue (fields, ranges, RFC 3339 times, the deployment's kinds, each kind's params),
 * naming the field ("kind", "[2].priority", "params.sleep_ms").
 * @return ERR_OK; ERR_INVALID (field "body"); ERR_TOO_LARGE for too many jobs.
 */
NODISCARD enum err job_specs_validate(const json_t *doc, struct err_info *ei);

/** Init / free a response (service side). */
void resp_init(struct resp *resp);
void resp_free(struct resp *resp);

#endif
