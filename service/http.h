/* http.h - the libmicrohttpd adapter: a listening socket (port 0 allowed), MHD in internal
 * thread-pool + epoll mode, request bodies accumulated under the route's cap, the route table,
 * bearer-token auth, problem+json errors, request ids, access log and HTTP metrics.
 * microhttpd.h is included only in http.c.
 * Thread-safety: http_start/quiesce/stop from the main thread only.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_SERVICE_HTTP_H
#define OBSFLOW_SERVICE_HTTP_H

#include "handlers.h"
#include "metrics.h"
#include "router.h"

#include <stdbool.h>

#define HTTP_CONN_LIMIT     1000        /* open connections */
#define HTTP_CONN_PER_CLIENT 64         /* open connections from one client address: far below
                                           the total, so that a few addresses cannot take every
                                           slot; more are refused (counted in /metrics) */
#define HTTP_CONN_TIMEOUT_S 30          /* idle keep-alive connections are closed after this */
#define HTTP_HEADER_TIMEOUT_S 5         /* a connection's request headers must be complete
                                           within this of its opening (or of the end of its
                                           previous request plus HTTP_CONN_TIMEOUT_S): an idle
                                           or trickling client is cut */
#define HTTP_LOG_EVERY_S    10          /* libmicrohttpd's own messages: one line per this */
#define HTTP_CONN_MEMORY    (16u << 10) /* MHD zeroes this per request: keep it small; a
                                           request head that does not fit gets MHD's own
                                           431/414 (docs/service.md, "Answers that are not ours") */
#define HTTP_URI_MAX        4096u       /* path and query bytes: longer is our 414 */
#define HTTP_HEADERS_MAX    8192u       /* header bytes: more is our 431 */
#define HTTP_PATH_MAX       ROUTER_PATH_MAX /* longer paths are 404 */
#define HTTP_DISCARD_MAX    (8u << 20)  /* refused body bytes read before the connection is
                                           closed without an answer */

struct http_server;

struct http_opts {
    const char *host;        /* listen address (numeric or name) */
    int port;                /* 0 = any free port */
    int threads;             /* MHD thread pool size */
    const struct app *app;   /* borrowed, outlives the server */
    struct metrics *metrics; /* borrowed */
    metrics_jobs_fn jobs_fn; /* job figures for /metrics */
    void *jobs_ctx;
    bool (*store_ready)(void *ctx); /* false: routes that need the database answer 503 */
    void *store_ctx;
    const char *api_token; /* "" or NULL = no auth */
    const char *caom_base; /* base path of the CAOM repository routes; NULL = "/caom2" */
};

/** Bind, listen and start serving. @param[out] out owned (http_stop). */
NODISCARD enum err
http_start(const struct http_opts *o, struct http_server **out, struct err_info *ei);

/** The bound address as "host:port" ("[::1]:port" for IPv6), usable in a URL. */
const char *http_bound(const struct http_server *s);

/** Stop accepting new connections; requests in flight and open connections continue. */
void http_quiesce(struct http_server *s);

/** Stop the server, close every connection, free; NULL is a no-op. */
void http_stop(struct http_server *s);

#endif
