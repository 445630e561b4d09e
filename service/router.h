/* router.h - the route table of obsflowd and the matcher that maps (method, path) to a
 * handler. No libmicrohttpd here, so the table and the matcher are unit-tested alone.
 * Thread-safe: the table is constant; router_match writes only its out-parameters.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_SERVICE_ROUTER_H
#define OBSFLOW_SERVICE_ROUTER_H

#include "handlers.h"

#include <stdbool.h>
#include <stddef.h>

/** How a route is served besides its handler. */
enum route_kind {
    ROUTE_HANDLER = 0, /* call .fn */
    ROUTE_METRICS,     /* rendered by service/metrics.c */
};

/** One row of the route table. */
struct route {
    enum http_method method; /* GET routes also answer HEAD */
    const char *pattern;     /* "/v1/jobs/{id}"; also the metrics label */
    handler_fn fn;           /* NULL for ROUTE_METRICS */
    enum route_kind kind;
    size_t body_max;  /* largest accepted body in bytes (0 = none accepted) */
    bool auth;        /* bearer token required when OBSFLOW_API_TOKEN is set */
    bool needs_store; /* 503 while the database is not (yet) usable */
    bool torkeep;     /* the CAOM repository: errors are torkeep's text/plain messages, and the
                         handler checks the caller's token itself (per collection) */
};

/** The table (service/routes.c) and its length. */
extern const struct route routes[];
extern const size_t routes_len;

#define ROUTES_MAX       64   /* rows the route table may have */
#define ROUTER_PATH_MAX  1024 /* longest path matched; a longer one is not a route (404) */
#define ROUTE_NOT_FOUND  (-1)
#define ROUTE_BAD_METHOD (-2)
#define ROUTER_ALLOW_MAX 64

/**
 * Match @p method and @p path against @p table.
 * @param[out] params   path parameters, pointing into @p scratch (borrowed, valid while it is)
 * @param[out] nparams  how many
 * @param scratch       a writable copy area of at least strlen(path)+1 bytes
 * @param[out] allow    on ROUTE_BAD_METHOD, the methods the path accepts ("GET, POST")
 * @return the row index, ROUTE_NOT_FOUND or ROUTE_BAD_METHOD
 */
int router_match(const struct route *table,
                 size_t n,
                 enum http_method method,
                 const char *path,
                 char *scratch,
                 size_t scratch_cap,
                 const char *params[REQ_MAX_PATH_PARAMS],
                 size_t *nparams,
                 char allow[ROUTER_ALLOW_MAX]);

/** First row whose pattern matches @p path whatever its method (the metrics label of a 405),
 * or ROUTE_NOT_FOUND. */
int router_path_row(const struct route *table, size_t n, const char *path);

/** Parse an HTTP method name; unknown names give HTTP_OTHER. */
enum http_method router_method(const char *name);

#endif
