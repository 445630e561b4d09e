/* routes.c - the HTTP API of obsflowd on one screen. openapi/openapi.yaml is the contract;
 * tests/api checks that every path here is documented there.
 * SPDX-License-Identifier: Apache-2.0 */
#include "router.h"

const struct route routes[] = {
    {.method = HTTP_POST,
     .pattern = "/v1/jobs",
     .fn = h_jobs_create,
     .body_max = JOB_BODY_MAX,
     .auth = true,
     .needs_store = true},
    {.method = HTTP_GET, .pattern = "/v1/jobs", .fn = h_jobs_list, .needs_store = true},
    {.method = HTTP_GET, .pattern = "/v1/jobs/{id}", .fn = h_jobs_get, .needs_store = true},
    {.method = HTTP_GET,
     .pattern = "/v1/jobs/{id}/events",
     .fn = h_jobs_events,
     .needs_store = true},
    {.method = HTTP_POST,
     .pattern = "/v1/jobs/{id}/cancel",
     .fn = h_jobs_cancel,
     .body_max = SMALL_BODY_MAX,
     .auth = true,
     .needs_store = true},
    {.method = HTTP_POST,
     .pattern = "/v1/jobs/{id}/retry",
     .fn = h_jobs_retry,
     .body_max = SMALL_BODY_MAX,
     .auth = true,
     .needs_store = true},
    {.method = HTTP_GET, .pattern = "/livez", .fn = h_livez},
    {.method = HTTP_GET, .pattern = "/readyz", .fn = h_readyz},
    {.method = HTTP_GET, .pattern = "/metrics", .kind = ROUTE_METRICS},
    {.method = HTTP_GET, .pattern = "/openapi.yaml", .fn = h_openapi},
};

const size_t routes_len = sizeof routes / sizeof routes[0];
