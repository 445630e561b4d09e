/* client.h - the HTTP client side of the obsflow CLI (submit, status, wait, cancel, retry,
 * jobs): talks to obsflowd at OBSFLOW_URL (default http://127.0.0.1:8080) through lib/httpc,
 * with the bearer token from OBSFLOW_API_TOKEN; prints one-line errors and maps them to the
 * exit codes below. Single-threaded. SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_CLI_CLIENT_H
#define OBSFLOW_CLI_CLIENT_H

#include "core/compiler.h"
#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Exit codes of the client commands (also in `obsflow <cmd> --help`). */
#define CLIENT_EXIT_OK          0 /* done; wait: every job succeeded */
#define CLIENT_EXIT_FAILED      1 /* wait: a job ended failed; other local failures */
#define CLIENT_EXIT_USAGE       2 /* bad command line, input file or OBSFLOW_URL */
#define CLIENT_EXIT_UNREACHABLE 3 /* obsflowd could not be reached */
#define CLIENT_EXIT_NOT_FOUND   4 /* no such job (404) */
#define CLIENT_EXIT_REFUSED     5 /* request refused (400, 409, 413, 415, 422) */
#define CLIENT_EXIT_SERVER      6 /* server error (5xx) */
#define CLIENT_EXIT_CANCELLED   7 /* wait: a job ended cancelled */
#define CLIENT_EXIT_TIMEOUT     8 /* wait: --timeout ran out */
#define CLIENT_EXIT_AUTH        9 /* missing or wrong token (401) */

#define CLIENT_BODY_MAX  (16u << 20) /* response bodies we accept */
#define CLIENT_INPUT_MAX (1u << 20)  /* submit input: the server's body cap */

#define CLIENT_EXIT_CODES_HELP                                                                     \
    "exit codes: 0 ok, 1 job failed, 2 usage or OBSFLOW_URL, 3 unreachable, 4 not found,\n"        \
    "            5 refused, 6 server error, 7 job cancelled, 8 timeout, 9 unauthorized\n"          \
    "environment: OBSFLOW_URL (http://127.0.0.1:8080), OBSFLOW_API_TOKEN\n"

struct client;

/** Create a client for OBSFLOW_URL. On failure prints the reason, stores the exit code in
 *  @p exit_code (CLIENT_EXIT_USAGE for an invalid OBSFLOW_URL, a configuration error like a bad
 *  option, not a failed job) and returns NULL. */
struct client *client_new(const char *cmd, int *exit_code);

/** Free; NULL is a no-op. */
void client_free(struct client *c);

/**
 * Send one request. @p path starts with "/". @p body may be NULL. @p extra_header is one
 * "Name: value" line or NULL.
 * @param[out] out  the parsed JSON response body of a 2xx answer (owned; may be NULL when the
 *                  body is empty)
 * @param[out] status the HTTP status
 * @return CLIENT_EXIT_OK on 2xx; otherwise the exit code, after printing one line
 *         "obsflow <cmd>: <status> <code>: <detail> (field F)" to stderr.
 */
int client_call(struct client *c,
                const char *method,
                const char *path,
                const char *body,
                size_t body_len,
                const char *extra_header,
                json_t **out,
                long *status);

/** Exit code for a client error without a response. */
int client_exit_for(enum err e);

/** Name of the command, for messages ("submit"). */
const char *client_cmd(const struct client *c);

/** True if @p s looks like a job id (canonical UUID). */
bool client_is_uuid(const char *s);

/** Print one line describing @p job: "<id>  <state>  <kind>  attempt a/m  <error>". */
void client_print_job_line(const json_t *job);

/** Print @p v indented on stdout (nothing when it cannot be rendered). */
void client_print_json(const json_t *v);

/** Print "obsflow <verb>: <message>" on stderr. @return CLIENT_EXIT_USAGE. */
int client_usage_error(const char *verb, const char *fmt, ...) PRINTF_LIKE(2, 3);

#endif
