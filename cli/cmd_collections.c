/* cmd_collections.c - obsflow collections [--json]: the collections obsflowd knows, one line
 * each (name, source, schedule, last run state, next run). SPDX-License-Identifier: Apache-2.0 */
#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_cmd_collections(int argc, char **argv);
extern const char cli_help_collections[];
const char cli_help_collections[] = "list the collections (source, schedule, last and next run)";

static const char usage[] =
    "usage: obsflow collections [--json]\n"
    "  one line per collection: name, source, schedule, state of the last run, next\n"
    "  scheduled run (\"-\" when there is none); details: obsflow collection show "
    "NAME\n" CLIENT_EXIT_CODES_HELP;

static const char *or_dash(const char *s)
{
    return (s && s[0]) ? s : "-";
}

int cli_cmd_collections(int argc, char **argv)
{
    bool as_json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0) {
            as_json = true;
            continue;
        }
        fprintf(stderr, "obsflow collections: unrecognized argument \"%s\"\n%s", argv[i], usage);
        return CLIENT_EXIT_USAGE;
    }
    int new_rc = CLIENT_EXIT_FAILED;
    struct client *c = client_new("collections", &new_rc);
    if (!c) {
        return new_rc;
    }
    json_t *doc = NULL;
    int rc = client_call(c, "GET", "/v1/collections", NULL, 0, NULL, &doc, NULL);
    if (rc == CLIENT_EXIT_OK && as_json) {
        char *s = json_dumps(doc, JSON_INDENT(2));
        if (s) {
            puts(s);
        }
        free(s);
    } else if (rc == CLIENT_EXIT_OK) {
        json_t *items = json_object_get(doc, "items");
        if (json_array_size(items) > 0) {
            printf("%-24s  %-40s  %-10s  %-9s  %s\n", "NAME", "SOURCE", "SCHEDULE", "LAST RUN",
                   "NEXT RUN");
        }
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            const json_t *last = json_object_get(it, "last_run");
            printf("%-24s  %-40s  %-10s  %-9s  %s\n",
                   or_dash(json_string_value(json_object_get(it, "name"))),
                   or_dash(json_string_value(json_object_get(it, "source"))),
                   or_dash(json_string_value(json_object_get(it, "schedule"))),
                   or_dash(json_string_value(json_object_get(last, "state"))),
                   or_dash(json_string_value(json_object_get(it, "next_run_at"))));
        }
    }
    json_decref(doc);
    client_free(c);
    return rc;
}
