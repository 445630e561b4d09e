/* cmd_submit.c - obsflow submit [FILE|-] [--idempotency-key K] [--json]: POST a job object or
 * an array of jobs (JSON from FILE or stdin) to obsflowd; prints the new job ids, one a line.
 * SPDX-License-Identifier: Apache-2.0 */
#include "client.h"

#include "core/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUBMIT_KEY_MAX 255 /* the server's Idempotency-Key cap */

int cli_cmd_submit(int argc, char **argv);
extern const char cli_help_submit[];
const char cli_help_submit[] = "submit a job (JSON object or array) from a file or stdin";

static const char usage[] =
    "usage: obsflow submit [FILE|-] [--idempotency-key KEY] [--json]\n"
    "  reads a job object or an array of jobs (JSON) from FILE or stdin and prints the\n"
    "  new job ids, one a line (--json: the server's answer)\n" CLIENT_EXIT_CODES_HELP;

static int read_input(const char *path, struct buf *b)
{
    FILE *f = (!path || strcmp(path, "-") == 0) ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "obsflow submit: could not open \"%s\": %s\n", path, ERR_ERRNO(errno));
        return CLIENT_EXIT_USAGE;
    }
    char chunk[8192];
    size_t n;
    int rc = CLIENT_EXIT_OK;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (buf_append(b, chunk, n) != ERR_OK) {
            fprintf(stderr, "obsflow submit: input is larger than %u bytes\n", CLIENT_INPUT_MAX);
            rc = CLIENT_EXIT_USAGE;
            break;
        }
    }
    if (rc == CLIENT_EXIT_OK && ferror(f)) {
        fprintf(stderr, "obsflow submit: could not read \"%s\"\n", path ? path : "-");
        rc = CLIENT_EXIT_USAGE;
    }
    if (f != stdin) {
        fclose(f);
    }
    return rc;
}

/* The id of an accepted job (an answer without one is printed as "?", never puts(NULL)). */
static void print_id(const json_t *job)
{
    const char *id = json_string_value(json_object_get(job, "id"));
    puts(id ? id : "?");
}

int cli_cmd_submit(int argc, char **argv)
{
    const char *file = NULL;
    const char *key = NULL;
    bool as_json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            as_json = true;
        } else if (strcmp(argv[i], "--idempotency-key") == 0 && i + 1 < argc) {
            key = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "obsflow submit: unrecognized option \"%s\"\n%s", argv[i], usage);
            return CLIENT_EXIT_USAGE;
        } else if (!file) {
            file = argv[i];
        } else {
            fprintf(stderr, "obsflow submit: one input only\n%s", usage);
            return CLIENT_EXIT_USAGE;
        }
    }
    if (key && strlen(key) > SUBMIT_KEY_MAX) {
        /* it was cut to fit the header buffer and sent as another key */
        fprintf(stderr, "obsflow submit: --idempotency-key is longer than %d characters\n",
                SUBMIT_KEY_MAX);
        return CLIENT_EXIT_USAGE;
    }
    struct buf in;
    buf_init(&in, CLIENT_INPUT_MAX);
    int rc = read_input(file, &in);
    if (rc != CLIENT_EXIT_OK) {
        buf_free(&in);
        return rc;
    }
    json_error_t je;
    json_t *check = json_loadb(buf_cstr(&in), in.len, 0, &je);
    if (!check) {
        fprintf(stderr, "obsflow submit: %s: malformed JSON at line %d column %d: %s\n",
                file ? file : "stdin", je.line, je.column, je.text);
        buf_free(&in);
        return CLIENT_EXIT_USAGE;
    }
    json_decref(check);
    int new_rc = CLIENT_EXIT_FAILED;
    struct client *c = client_new("submit", &new_rc);
    if (!c) {
        buf_free(&in);
        return new_rc;
    }
    char header[SUBMIT_KEY_MAX + 32];
    if (key) {
        snprintf(header, sizeof header, "Idempotency-Key: %s", key);
    }
    json_t *out = NULL;
    rc = client_call(c, "POST", "/v1/jobs", buf_cstr(&in), in.len, key ? header : NULL, &out, NULL);
    if (rc == CLIENT_EXIT_OK && out) {
        if (as_json) {
            char *s = json_dumps(out, JSON_INDENT(2));
            if (s) {
                puts(s);
            }
            free(s);
        } else if (json_is_array(out)) {
            size_t i;
            json_t *job;
            json_array_foreach(out, i, job)
            {
                print_id(job);
            }
        } else {
            print_id(out);
        }
    }
    json_decref(out);
    client_free(c);
    buf_free(&in);
    return rc;
}
