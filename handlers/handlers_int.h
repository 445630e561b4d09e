/* handlers_int.h - internals shared by the endpoint files; include only from handlers/.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_HANDLERS_INT_H
#define OBSFLOW_HANDLERS_INT_H

#include "handlers.h"

/** No body, or "{}": ERR_OK; otherwise ERR_PARSE / ERR_INVALID naming the field. */
NODISCARD enum err handlers__empty_body(const struct req *req, struct err_info *ei);

/** A lib/queue call on one job by id (queue_get, queue_events, queue_cancel, queue_retry). */
typedef enum err (*handlers__job_op)(struct queue *q,
                                     const char *id,
                                     json_t **out,
                                     struct err_info *ei);

/**
 * The shared part of the routes on /v1/jobs/{id}...: path parameter 0 must be a UUID (ERR_PARSE,
 * field "id"), no query parameter is accepted (ERR_PARSE naming it), the body must be absent or
 * "{}" (handlers__empty_body); then @p op runs on the job.
 * @param[out] out owned JSON from @p op on ERR_OK (json_decref); untouched otherwise.
 * @return ERR_OK or the first error, detail in @p ei.
 */
NODISCARD enum err handlers__job_call(const struct app *app,
                                      const struct req *req,
                                      handlers__job_op op,
                                      json_t **out,
                                      struct err_info *ei);

/** 200 {"status":"ok"} for the probe named @p what. */
NODISCARD enum err handlers__status_ok(struct resp *resp, const char *what, struct err_info *ei);

/* ---- the dashboard (dashboard.c; the table is generated from web/ by embed_web.cmake) ---- */

/** One embedded web/ file. */
struct handlers__asset {
    const char *name;         /* file name under web/ ("app.js") */
    const char *content_type; /* "text/javascript; charset=utf-8" */
    const unsigned char *data;
    size_t len;
    const char *etag; /* strong ETag of the content, quotes included */
};
/** The embedded files, ended by a row whose name is NULL. */
extern const struct handlers__asset handlers__assets[];

/* ---- the /v1/collections routes (collections_util.c) ---- */

/** app->harvest, or NULL after ERR_UNAVAILABLE in @p ei (a process without collections). */
struct harv *handlers__harvest(const struct app *app, struct err_info *ei);

/** The shared part of the routes on /v1/collections/{name}...: the harvest handle, and no
 * query parameter but those of the NULL-terminated @p allowed (NULL: none). */
NODISCARD enum err handlers__coll_route(const struct app *app,
                                        const struct req *req,
                                        const char *const *allowed,
                                        struct harv **h,
                                        struct err_info *ei);

/** POST /v1/collections/{name}/run and /retry: harv_run_now, 202 with the job and its
 * Location; a run already queued or running is a 409 whose detail names its job. */
NODISCARD enum err handlers__coll_run(const struct app *app,
                                      const struct req *req,
                                      struct resp *resp,
                                      bool retry,
                                      struct err_info *ei);

/* ---- the registry routes (registry_util.c) ---- */

#define REG_LIST_BYTES 8192        /* bytes of a comma list in the query string */

/** app->registry, or NULL after ERR_UNAVAILABLE in @p ei. */
struct reg *handlers__registry(const struct app *app, struct err_info *ei);

/** The registry handle, and no query parameter but those of the NULL-terminated @p allowed. */
NODISCARD enum err handlers__reg_route(const struct app *app, const struct req *req,
                                       const char *const *allowed, struct reg **r,
                                       struct err_info *ei);

/** Split the comma list @p s into @p items (pointing into @p buf); ERR_PARSE naming @p field
 * when it is missing, empty or longer than @p max items. */
NODISCARD enum err handlers__split_list(const char *s, const char *field, char *buf, size_t cap,
                                        const char **items, size_t max, size_t *n,
                                        struct err_info *ei);

/** The request body as a JSON object (ERR_PARSE, or ERR_INVALID naming "body"). */
NODISCARD enum err handlers__reg_body(const struct req *req, json_t **doc, struct err_info *ei);

/** A lib/registry call taking the body and answering a document. */
typedef enum err (*handlers_reg_doc_fn)(struct reg *, const json_t *, json_t **,
                                        struct err_info *);

/** The registry route whose body goes to @p fn and whose answer is @p fn's, with @p status:
 * handlers__reg_route (no query parameters), handlers__reg_body, @p fn, resp_json. */
NODISCARD enum err handlers__reg_doc(const struct app *app, const struct req *req,
                                     struct resp *resp, handlers_reg_doc_fn fn, int status,
                                     struct err_info *ei);

/* ---- the /caom2 routes (caom_util.c) ---- */

#define CAOM_RESP_MAX ((size_t)64 << 20) /* a document (20 MiB + server attributes) or a list */

/** The bearer token of the request, or NULL. */
const char *handlers__bearer(const struct req *req);

/** Check @p access to @p collection for the request's token (repo_authorize). */
NODISCARD enum err handlers__caom_auth(const struct app *app,
                                       const struct req *req,
                                       const char *collection,
                                       int access,
                                       struct err_info *ei);

/** Let @p resp's body grow to CAOM_RESP_MAX and set its content type. */
void handlers__caom_resp(struct resp *resp, const char *content_type);

#endif
