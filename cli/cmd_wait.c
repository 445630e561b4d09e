/* cmd_wait.c - obsflow wait ID... [--timeout S] [--interval MS]: poll jobs until each is
 * terminal (succeeded, failed, cancelled); a progress line on stderr when it is a terminal.
 * SPDX-License-Identifier: Apache-2.0 */
#include "client.h"

#include "core/clock.h"
#include "core/str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_IDS_MAX 1000

int cli_cmd_wait(int argc, char **argv);
extern const char cli_help_wait[];
const char cli_help_wait[] = "wait until jobs finish (progress line on a terminal)";

static const char usage[] =
    "usage: obsflow wait ID... [--timeout SECONDS] [--interval MS]\n"
    "  polls every job until it is succeeded, failed or cancelled, then prints its line;\n"
    "  exit 0 when all succeeded, 1 when one failed, 7 when one was cancelled, 8 on "
    "timeout\n" CLIENT_EXIT_CODES_HELP;

static bool terminal(const char *state)
{
    return state && (strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 ||
                     strcmp(state, "cancelled") == 0);
}

int cli_cmd_wait(int argc, char **argv)
{
    const char *ids[WAIT_IDS_MAX];
    bool done[WAIT_IDS_MAX];
    int n = 0;
    int64_t timeout_s = 0;
    int64_t interval_ms = 200;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            if (str_to_i64(argv[++i], 1, 86400 * 30, &timeout_s) != ERR_OK) {
                fprintf(stderr, "obsflow wait: invalid --timeout \"%s\": seconds\n", argv[i]);
                return CLIENT_EXIT_USAGE;
            }
        } else if (strcmp(argv[i], "--interval") == 0 && i + 1 < argc) {
            if (str_to_i64(argv[++i], 10, 60000, &interval_ms) != ERR_OK) {
                fprintf(stderr, "obsflow wait: invalid --interval \"%s\": 10..60000 ms\n", argv[i]);
                return CLIENT_EXIT_USAGE;
            }
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "obsflow wait: unrecognized option \"%s\"\n%s", argv[i], usage);
            return CLIENT_EXIT_USAGE;
        } else if (!client_is_uuid(argv[i])) {
            fprintf(stderr, "obsflow wait: invalid job id \"%.64s\": not a UUID\n", argv[i]);
            return CLIENT_EXIT_USAGE;
        } else if (n == WAIT_IDS_MAX) {
            fprintf(stderr, "obsflow wait: at most %d job ids\n", WAIT_IDS_MAX);
            return CLIENT_EXIT_USAGE;
        } else {
            done[n] = false;
            ids[n++] = argv[i];
        }
    }
    if (n == 0) {
        fprintf(stderr, "obsflow wait: a job id is required\n%s", usage);
        return CLIENT_EXIT_USAGE;
    }
    int new_rc = CLIENT_EXIT_FAILED;
    struct client *c = client_new("wait", &new_rc);
    if (!c) {
        return new_rc;
    }
    bool tty = isatty(STDERR_FILENO) == 1;
    int64_t start = clock_mono_ns();
    int rc = CLIENT_EXIT_OK;
    int ndone = 0;
    while (ndone < n) {
        const char *cur_state = NULL;
        json_t *cur = NULL;
        for (int i = 0; i < n; i++) {
            if (done[i]) {
                continue;
            }
            char path[128];
            snprintf(path, sizeof path, "/v1/jobs/%s", ids[i]);
            json_t *job = NULL;
            int r = client_call(c, "GET", path, NULL, 0, NULL, &job, NULL);
            if (r != CLIENT_EXIT_OK) {
                json_decref(cur);
                rc = r;
                goto out;
            }
            const char *state = json_string_value(json_object_get(job, "state"));
            if (terminal(state)) {
                done[i] = true;
                ndone++;
                if (tty) {
                    fputs("\r\033[K", stderr);
                }
                client_print_job_line(job);
                fflush(stdout);
                if (strcmp(state, "failed") == 0) {
                    rc = CLIENT_EXIT_FAILED;
                } else if (strcmp(state, "cancelled") == 0 && rc == CLIENT_EXIT_OK) {
                    rc = CLIENT_EXIT_CANCELLED;
                }
                json_decref(job);
            } else if (!cur) {
                cur = job;
                cur_state = state;
            } else {
                json_decref(job);
            }
        }
        double secs = (double)(clock_mono_ns() - start) / 1e9;
        if (tty && cur) {
            fprintf(stderr, "\r\033[K%d of %d done; %s %s attempt %lld/%lld  %.1f s", ndone, n,
                    json_string_value(json_object_get(cur, "id")), cur_state ? cur_state : "?",
                    (long long)json_integer_value(json_object_get(cur, "attempts")),
                    (long long)json_integer_value(json_object_get(cur, "max_attempts")), secs);
        }
        json_decref(cur);
        if (ndone == n) {
            break;
        }
        if (timeout_s > 0 && secs >= (double)timeout_s) {
            if (tty) {
                fputs("\r\033[K", stderr);
            }
            fprintf(stderr, "obsflow wait: %d of %d job(s) not finished after %lld s\n", n - ndone,
                    n, (long long)timeout_s);
            rc = CLIENT_EXIT_TIMEOUT;
            goto out;
        }
        clock_sleep_ms(interval_ms);
    }
    if (tty) {
        fputs("\r\033[K", stderr);
    }
out:
    client_free(c);
    return rc;
}
