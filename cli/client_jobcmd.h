/* client_jobcmd.h - shared body of obsflow status / cancel / retry.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_CLI_CLIENT_JOBCMD_H
#define OBSFLOW_CLI_CLIENT_JOBCMD_H

#include "client.h"

/** Run @p method on /v1/jobs/{id}@p suffix for every id in argv; print a line (or --json).
 * @return the first non-zero exit code, or 0. */
int client_jobcmd(int argc,
                  char **argv,
                  const char *cmd,
                  const char *method,
                  const char *suffix,
                  const char *usage);

#endif
