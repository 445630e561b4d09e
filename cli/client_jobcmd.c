/* client_jobcmd.c - the shape shared by status, cancel and retry: one or more job ids, one
 * request each, one line (or the JSON) per job. SPDX-License-Identifier: Apache-2.0 */
#include "client_jobcmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int client_jobcmd(int argc,
                  char **argv,
                  const char *cmd,
                  const char *method,
                  const char *suffix,
                  const char *usage)
{
    bool as_json = false;
    int nids = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0) {
            as_json = true;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "obsflow %s: unrecognized option \"%s\"\n%s", cmd, argv[i], usage);
            return CLIENT_EXIT_USAGE;
        } else if (!client_is_uuid(argv[i])) {
            fprintf(stderr, "obsflow %s: invalid job id \"%.64s\": not a UUID\n", cmd, argv[i]);
            return CLIENT_EXIT_USAGE;
        } else {
            nids++;
        }
    }
    if (nids == 0) {
        fprintf(stderr, "obsflow %s: a job id is required\n%s", cmd, usage);
        return CLIENT_EXIT_USAGE;
    }
    int new_rc = CLIENT_EXIT_FAILED;
    struct client *c = client_new(cmd, &new_rc);
    if (!c) {
        return new_rc;
    }
    int worst = CLIENT_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') {
            continue;
        }
        char path[128];
        snprintf(path, sizeof path, "/v1/jobs/%s%s", argv[i], suffix);
        json_t *job = NULL;
        int rc = client_call(c, method, path, NULL, 0, NULL, &job, NULL);
        if (rc == CLIENT_EXIT_OK && job) {
            if (as_json) {
                char *s = json_dumps(job, JSON_INDENT(2));
                if (s) {
                    puts(s);
                }
                free(s);
            } else {
                client_print_job_line(job);
            }
        }
        json_decref(job);
        if (rc != CLIENT_EXIT_OK && worst == CLIENT_EXIT_OK) {
            worst = rc;
        }
    }
    client_free(c);
    return worst;
}
