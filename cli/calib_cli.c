/* calib_cli.c - helpers shared by `obsflow calibrate` and `obsflow combine`.
 * SPDX-License-Identifier: Apache-2.0 */
#include "calib_cli.h"

#include "core/str.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void calib_cli_progress(int64_t done, int64_t total, void *arg)
{
    static int last = -1;
    if (!isatty(STDERR_FILENO) || total <= 0) {
        return;
    }
    int pct = (int)(done * 100 / total);
    if (pct == last && done < total) {
        return;
    }
    last = pct;
    fprintf(stderr, "\r%s: %3d%% (%lld/%lld rows)", arg ? (const char *)arg : "progress", pct,
            (long long)done, (long long)total);
    if (done >= total) {
        fputc('\n', stderr);
        last = -1;
    }
    fflush(stderr);
}

bool calib_cli_parse_double(const char *s, double *out)
{
    double v = 0;
    if (str_to_double(s, &v) != ERR_OK || !isfinite(v)) {
        return false;
    }
    *out = v;
    return true;
}

bool calib_cli_parse_list(const char *s, double *out, size_t max, size_t *n)
{
    *n = 0;
    char buf[4096];
    if (!str_copy(buf, sizeof(buf), s)) {
        return false;
    }
    char *p = buf;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma) {
            *comma = '\0';
        }
        if (*n >= max || !calib_cli_parse_double(p, &out[*n])) {
            return false;
        }
        (*n)++;
        if (!comma) {
            return true;
        }
        p = comma + 1;
    }
}

int calib_cli_fail(const char *cmd, enum err e, const struct err_info *ei)
{
    fprintf(stderr, "obsflow %s: %s: %s\n", cmd, err_code(e), ei->msg[0] ? ei->msg : err_str(e));
    return e == ERR_NOMEM ? CALIB_CLI_EXIT_NOMEM : CALIB_CLI_EXIT_FAILED;
}
