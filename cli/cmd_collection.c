/* cmd_collection.c - obsflow collection show|put|run|retry|files NAME ...: one collection of
 * obsflowd (GET/PUT /v1/collections/{name}, POST .../run and .../retry, GET .../files).
 * SPDX-License-Identifier: Apache-2.0 */
#include "client.h"

#include "core/buf.h"
#include "core/clock.h"
#include "core/str.h"
#include "httpc/httpc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLL_CLI_NAME_MAX  64          /* the server's COLL_NAME_MAX */
#define COLL_CLI_INPUT_MAX (64u << 10) /* the server's cap on a definition */
#define COLL_CLI_PAGE_MAX  1000        /* the server's largest page of files */
#define COLL_CLI_PAGES_MAX 100000
#define COLL_CLI_POLL_MS   500

int cli_cmd_collection(int argc, char **argv);
extern const char cli_help_collection[];
const char cli_help_collection[] = "show, define, run, retry a collection or list its files";

static const char usage[] =
    "usage: obsflow collection show NAME\n"
    "       obsflow collection put NAME FILE.json|- [--json]\n"
    "       obsflow collection run NAME [--wait] [--timeout SECONDS] [--json]\n"
    "       obsflow collection retry NAME [--wait] [--timeout SECONDS] [--json]\n"
    "       obsflow collection files NAME [--outcome OUTCOME] [--limit N]\n"
    "  show: the collection as JSON (definition, last run, counts, failing entries, next run)\n"
    "  put: define or replace it from a JSON definition (prints \"NAME created|replaced\")\n"
    "  run: a run now; retry: the failed entries again, then a run. Both print the run's job\n"
    "    line; --wait polls it until it ends and prints its line and counts (exit 0\n"
    "    succeeded, 1 failed, 7 cancelled, 8 --timeout ran out); a run already queued or\n"
    "    running is refused (exit 5, the message names it)\n"
    "  files: one line per entry, \"<outcome>  <uri>  <reason>\", following the cursors;\n"
    "    --outcome pending|queued|succeeded|failed|rejected|cancelled, --limit N "
    "entries\n" CLIENT_EXIT_CODES_HELP;


/* "/v1/collections/<name, percent-encoded><suffix>" into @p path. */
static int coll_path(struct buf *path, const char *name, const char *suffix)
{
    if (buf_puts(path, "/v1/collections/") != ERR_OK ||
        httpc_url_encode(path, name, false) != ERR_OK || buf_puts(path, suffix) != ERR_OK) {
        fprintf(stderr, "obsflow collection: request path too long\n");
        return CLIENT_EXIT_USAGE;
    }
    return CLIENT_EXIT_OK;
}

static int read_file(const char *file, struct buf *b)
{
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "obsflow collection: could not open \"%s\": %s\n", file, ERR_ERRNO(errno));
        return CLIENT_EXIT_USAGE;
    }
    char chunk[8192];
    size_t n;
    int rc = CLIENT_EXIT_OK;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (buf_append(b, chunk, n) != ERR_OK) {
            fprintf(stderr, "obsflow collection: \"%s\" is larger than %u bytes\n", file,
                    COLL_CLI_INPUT_MAX);
            rc = CLIENT_EXIT_USAGE;
            break;
        }
    }
    if (rc == CLIENT_EXIT_OK && ferror(f)) {
        fprintf(stderr, "obsflow collection: could not read \"%s\"\n", file);
        rc = CLIENT_EXIT_USAGE;
    }
    if (f != stdin) {
        fclose(f);
    }
    return rc;
}

static int cmd_show(struct client *c, const char *name)
{
    struct buf path;
    buf_init(&path, 4096);
    json_t *doc = NULL;
    int rc = coll_path(&path, name, "");
    if (rc == CLIENT_EXIT_OK) {
        rc = client_call(c, "GET", buf_cstr(&path), NULL, 0, NULL, &doc, NULL);
    }
    if (rc == CLIENT_EXIT_OK) {
        client_print_json(doc);
    }
    json_decref(doc);
    buf_free(&path);
    return rc;
}

static int cmd_put(struct client *c, const char *name, const char *file, bool as_json)
{
    struct buf in;
    struct buf path;
    buf_init(&in, COLL_CLI_INPUT_MAX);
    buf_init(&path, 4096);
    json_t *doc = NULL;
    long status = 0;
    int rc = read_file(file, &in);
    if (rc == CLIENT_EXIT_OK) {
        json_error_t je;
        json_t *check = json_loadb(buf_cstr(&in), in.len, 0, &je);
        if (!check) {
            fprintf(stderr, "obsflow collection: %s: malformed JSON at line %d column %d: %s\n",
                    file, je.line, je.column, je.text);
            rc = CLIENT_EXIT_USAGE;
        }
        json_decref(check);
    }
    if (rc == CLIENT_EXIT_OK) {
        rc = coll_path(&path, name, "");
    }
    if (rc == CLIENT_EXIT_OK) {
        rc = client_call(c, "PUT", buf_cstr(&path), buf_cstr(&in), in.len, NULL, &doc, &status);
    }
    if (rc == CLIENT_EXIT_OK) {
        if (as_json) {
            client_print_json(doc);
        } else {
            printf("%s  %s\n", name, status == 201 ? "created" : "replaced");
        }
    }
    json_decref(doc);
    buf_free(&path);
    buf_free(&in);
    return rc;
}

static bool terminal(const char *state)
{
    return state && (strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 ||
                     strcmp(state, "cancelled") == 0);
}

/* The run's counts ("listed 12  new 3 ..."), when the job shows them. */
static void print_counts(const json_t *job)
{
    static const char *const keys[] = {"listed",   "new",      "changed", "skipped",
                                       "rejected", "children", NULL};
    const json_t *counts = json_object_get(job, "collection");
    if (!json_is_object(counts)) {
        return;
    }
    const char *sep = "";
    for (const char *const *k = keys; *k; k++) {
        const json_t *v = json_object_get(counts, *k);
        if (json_is_integer(v)) {
            printf("%s%s %lld", sep, *k, (long long)json_integer_value(v));
            sep = "  ";
        }
    }
    if (sep[0]) {
        printf("\n");
    }
}

/* Poll job @p id until it ends (or @p timeout_s passes, when > 0). */
static int wait_job(struct client *c, const char *id, int64_t timeout_s, bool as_json)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    int64_t start = clock_mono_ns();
    for (;;) {
        json_t *job = NULL;
        int rc = client_call(c, "GET", path, NULL, 0, NULL, &job, NULL);
        if (rc != CLIENT_EXIT_OK) {
            return rc;
        }
        const char *state = json_string_value(json_object_get(job, "state"));
        if (terminal(state)) {
            if (as_json) {
                client_print_json(job);
            } else {
                client_print_job_line(job);
                print_counts(job);
            }
            rc = strcmp(state, "succeeded") == 0 ? CLIENT_EXIT_OK
                 : strcmp(state, "failed") == 0  ? CLIENT_EXIT_FAILED
                                                 : CLIENT_EXIT_CANCELLED;
            json_decref(job);
            return rc;
        }
        json_decref(job);
        if (timeout_s > 0 && clock_mono_ns() - start >= timeout_s * 1000000000LL) {
            fprintf(stderr, "obsflow collection: run %s not finished after %lld s\n", id,
                    (long long)timeout_s);
            return CLIENT_EXIT_TIMEOUT;
        }
        clock_sleep_ms(COLL_CLI_POLL_MS);
    }
}

static int cmd_run(struct client *c,
                   const char *name,
                   const char *action,
                   bool wait,
                   int64_t timeout_s,
                   bool as_json)
{
    struct buf path;
    buf_init(&path, 4096);
    json_t *job = NULL;
    char suffix[16];
    snprintf(suffix, sizeof suffix, "/%s", action);
    int rc = coll_path(&path, name, suffix);
    if (rc == CLIENT_EXIT_OK) {
        rc = client_call(c, "POST", buf_cstr(&path), NULL, 0, NULL, &job, NULL);
    }
    const char *id = json_string_value(json_object_get(job, "id"));
    if (rc == CLIENT_EXIT_OK && !id) {
        fprintf(stderr, "obsflow collection: the answer names no job\n");
        rc = CLIENT_EXIT_SERVER;
    }
    if (rc == CLIENT_EXIT_OK && !wait) {
        if (as_json) {
            client_print_json(job);
        } else {
            client_print_job_line(job);
        }
    }
    if (rc == CLIENT_EXIT_OK && wait) {
        fflush(stdout);
        rc = wait_job(c, id, timeout_s, as_json);
    }
    json_decref(job);
    buf_free(&path);
    return rc;
}

/* One line of a files entry; tabs and newlines of the reason become spaces. */
static void print_entry(const json_t *it)
{
    const char *outcome = json_string_value(json_object_get(it, "outcome"));
    const char *uri = json_string_value(json_object_get(it, "uri"));
    const char *reason = json_string_value(json_object_get(it, "reason"));
    char r[512];
    snprintf(r, sizeof r, "%s", reason ? reason : "");
    for (char *p = r; *p; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t') {
            *p = ' ';
        }
    }
    printf("%-9s  %s%s%s\n", outcome ? outcome : "?", uri ? uri : "?", r[0] ? "  " : "", r);
}

static int cmd_files(struct client *c, const char *name, const char *outcome, int64_t limit)
{
    int rc = CLIENT_EXIT_OK;
    char *cursor = NULL;
    int64_t printed = 0;
    for (int page = 0; page < COLL_CLI_PAGES_MAX; page++) {
        struct buf path;
        buf_init(&path, 8192);
        int64_t want = limit > 0 ? limit - printed : COLL_CLI_PAGE_MAX;
        char lim[32];
        snprintf(lim, sizeof lim, "%lld",
                 (long long)(want < COLL_CLI_PAGE_MAX ? want : COLL_CLI_PAGE_MAX));
        rc = coll_path(&path, name, "/files?limit=");
        if (rc == CLIENT_EXIT_OK &&
            (buf_puts(&path, lim) != ERR_OK ||
             (outcome && (buf_puts(&path, "&outcome=") != ERR_OK ||
                          httpc_url_encode(&path, outcome, false) != ERR_OK)) ||
             (cursor && (buf_puts(&path, "&cursor=") != ERR_OK ||
                         httpc_url_encode(&path, cursor, false) != ERR_OK)))) {
            fprintf(stderr, "obsflow collection: request path too long\n");
            rc = CLIENT_EXIT_USAGE;
        }
        json_t *doc = NULL;
        if (rc == CLIENT_EXIT_OK) {
            rc = client_call(c, "GET", buf_cstr(&path), NULL, 0, NULL, &doc, NULL);
        }
        buf_free(&path);
        if (rc != CLIENT_EXIT_OK) {
            break;
        }
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(doc, "items"), i, it)
        {
            print_entry(it);
            printed++;
        }
        const char *next = json_string_value(json_object_get(doc, "next_cursor"));
        free(cursor);
        cursor = next ? strdup(next) : NULL;
        json_decref(doc);
        if (next && !cursor) {
            /* not the last page: ending quietly would look like the whole list */
            fprintf(stderr, "obsflow collection: out of memory\n");
            rc = CLIENT_EXIT_FAILED;
            break;
        }
        if (!cursor || (limit > 0 && printed >= limit)) {
            break;
        }
    }
    free(cursor);
    return rc;
}

int cli_cmd_collection(int argc, char **argv)
{
    const char *verb = NULL;
    const char *name = NULL;
    const char *file = NULL;
    const char *outcome = NULL;
    int64_t limit = 0;
    int64_t timeout_s = 0;
    bool wait = false;
    bool as_json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(a, "--wait") == 0) {
            wait = true;
        } else if (strcmp(a, "--json") == 0) {
            as_json = true;
        } else if (strcmp(a, "--outcome") == 0 && i + 1 < argc) {
            outcome = argv[++i];
        } else if (strcmp(a, "--limit") == 0 && i + 1 < argc) {
            if (str_to_i64(argv[++i], 1, INT64_MAX, &limit) != ERR_OK) {
                return client_usage_error("collection",
                                          "invalid --limit \"%.32s\": a positive number", argv[i]);
            }
        } else if (strcmp(a, "--timeout") == 0 && i + 1 < argc) {
            if (str_to_i64(argv[++i], 1, 86400 * 30, &timeout_s) != ERR_OK) {
                return client_usage_error("collection", "invalid --timeout \"%.32s\": seconds",
                                          argv[i]);
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            return client_usage_error(
                "collection", "unrecognized option \"%.64s\" (obsflow collection --help)", a);
        } else if (!verb) {
            verb = a;
        } else if (!name) {
            name = a;
        } else if (!file) {
            file = a;
        } else {
            return client_usage_error(
                "collection", "unexpected argument \"%.64s\" (obsflow collection --help)", a);
        }
    }
    if (!verb) {
        fputs(usage, stderr);
        return CLIENT_EXIT_USAGE;
    }
    bool show = strcmp(verb, "show") == 0;
    bool put = strcmp(verb, "put") == 0;
    bool run = strcmp(verb, "run") == 0 || strcmp(verb, "retry") == 0;
    bool files = strcmp(verb, "files") == 0;
    if (!show && !put && !run && !files) {
        return client_usage_error(
            "collection", "unrecognized verb \"%.64s\": show, put, run, retry or files", verb);
    }
    if (!name || !name[0]) {
        return client_usage_error("collection", "%s: a collection name is required", verb);
    }
    if (strlen(name) > COLL_CLI_NAME_MAX) {
        return client_usage_error("collection",
                                  "invalid collection name \"%.64s...\": at most 64 bytes", name);
    }
    if (put && !file) {
        return client_usage_error("collection",
                                  "put: a definition file (JSON, or - for stdin) is required");
    }
    if (!put && file) {
        return client_usage_error("collection", "%s: unexpected argument \"%.64s\"", verb, file);
    }
    if ((wait || timeout_s) && !run) {
        return client_usage_error("collection", "%s: --wait and --timeout belong to run and retry",
                                  verb);
    }
    if (timeout_s && !wait) {
        return client_usage_error("collection", "%s: --timeout needs --wait", verb);
    }
    if ((outcome || limit) && !files) {
        return client_usage_error("collection", "%s: --outcome and --limit belong to files", verb);
    }
    if (as_json && (show || files)) {
        return client_usage_error("collection", "%s: --json belongs to put, run and retry", verb);
    }
    int new_rc = CLIENT_EXIT_FAILED;
    struct client *c = client_new("collection", &new_rc);
    if (!c) {
        return new_rc;
    }
    int rc = show  ? cmd_show(c, name)
             : put ? cmd_put(c, name, file, as_json)
             : run ? cmd_run(c, name, verb, wait, timeout_s, as_json)
                   : cmd_files(c, name, outcome, limit);
    client_free(c);
    return rc;
}
