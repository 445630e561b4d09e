/* cmd_jobs.c - obsflow jobs [--state S] [--kind K] [--queue Q] [--parent ID] [--limit N]
 * [--cursor C] [--all] [--json]: list jobs, newest first, one line each.
 * SPDX-License-Identifier: Apache-2.0 */
#include "client.h"

#include "core/buf.h"
#include "httpc/httpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOBS_PAGES_MAX 100000
#define JOBS_CURSOR    5 /* index of "cursor" in filters[]: sent by the page loop itself */

int cli_cmd_jobs(int argc, char **argv);
extern const char cli_help_jobs[];
const char cli_help_jobs[] = "list jobs (filters: state, kind, queue, parent)";

static const char usage[] =
    "usage: obsflow jobs [--state S] [--kind K] [--queue Q] [--parent ID] [--limit N]\n"
    "                    [--cursor C] [--all] [--json]\n"
    "  one line per job, newest first; the next page's cursor goes to stderr\n"
    "  (--all follows the cursors to the end)\n" CLIENT_EXIT_CODES_HELP;

static int add_arg(struct buf *q, const char *key, const char *value)
{
    if (buf_puts(q, q->len ? "&" : "?") != ERR_OK || buf_puts(q, key) != ERR_OK ||
        buf_puts(q, "=") != ERR_OK || httpc_url_encode(q, value, false) != ERR_OK) {
        fprintf(stderr, "obsflow jobs: filters too long\n");
        return CLIENT_EXIT_USAGE;
    }
    return CLIENT_EXIT_OK;
}

int cli_cmd_jobs(int argc, char **argv)
{
    static const char *const filters[] = {"state", "kind", "queue", "parent", "limit", "cursor"};
    const char *vals[ARRAY_LEN(filters)] = {0};
    bool all = false;
    bool as_json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--all") == 0) {
            all = true;
            continue;
        }
        if (strcmp(argv[i], "--json") == 0) {
            as_json = true;
            continue;
        }
        bool ok = false;
        for (size_t f = 0; f < ARRAY_LEN(filters); f++) {
            if (strncmp(argv[i], "--", 2) == 0 && strcmp(argv[i] + 2, filters[f]) == 0 &&
                i + 1 < argc) {
                vals[f] = argv[++i];
                ok = true;
                break;
            }
        }
        if (!ok) {
            fprintf(stderr, "obsflow jobs: unrecognized argument \"%s\"\n%s", argv[i], usage);
            return CLIENT_EXIT_USAGE;
        }
    }
    int new_rc = CLIENT_EXIT_FAILED;
    struct client *c = client_new("jobs", &new_rc);
    if (!c) {
        return new_rc;
    }
    int rc = CLIENT_EXIT_OK;
    char *cursor = NULL;
    if (vals[JOBS_CURSOR] && !(cursor = strdup(vals[JOBS_CURSOR]))) {
        fprintf(stderr, "obsflow jobs: out of memory\n");
        client_free(c);
        return CLIENT_EXIT_FAILED;
    }
    for (int page = 0; page < JOBS_PAGES_MAX; page++) {
        struct buf q;
        buf_init(&q, 4096);
        for (size_t f = 0; f < JOBS_CURSOR && rc == CLIENT_EXIT_OK; f++) {
            if (vals[f]) {
                rc = add_arg(&q, filters[f], vals[f]);
            }
        }
        if (rc == CLIENT_EXIT_OK && cursor) {
            rc = add_arg(&q, "cursor", cursor);
        }
        char path[4200];
        snprintf(path, sizeof path, "/v1/jobs%s", buf_cstr(&q));
        buf_free(&q);
        if (rc != CLIENT_EXIT_OK) {
            break;
        }
        json_t *doc = NULL;
        rc = client_call(c, "GET", path, NULL, 0, NULL, &doc, NULL);
        if (rc != CLIENT_EXIT_OK) {
            break;
        }
        if (as_json) {
            char *s = json_dumps(doc, JSON_INDENT(2));
            if (s) {
                puts(s);
            }
            free(s);
        } else {
            size_t i;
            json_t *job;
            json_array_foreach(json_object_get(doc, "items"), i, job)
            {
                client_print_job_line(job);
            }
        }
        const char *next = json_string_value(json_object_get(doc, "next_cursor"));
        free(cursor);
        cursor = next ? strdup(next) : NULL;
        json_decref(doc);
        if (next && !cursor) {
            /* not the last page: ending quietly would look like the whole list */
            fprintf(stderr, "obsflow jobs: out of memory\n");
            rc = CLIENT_EXIT_FAILED;
            break;
        }
        if (!cursor) {
            break;
        }
        if (!all) {
            fprintf(stderr, "next page: --cursor %s\n", cursor);
            break;
        }
    }
    free(cursor);
    client_free(c);
    return rc;
}
