/* cmd_cancel.c - obsflow cancel ID... [--json]: cancel jobs (running ones get a cancellation
 * request). SPDX-License-Identifier: Apache-2.0 */
#include "client_jobcmd.h"

int cli_cmd_cancel(int argc, char **argv);
extern const char cli_help_cancel[];
const char cli_help_cancel[] = "cancel a job";

int cli_cmd_cancel(int argc, char **argv)
{
    return client_jobcmd(argc, argv, "cancel", "POST", "/cancel",
                         "usage: obsflow cancel ID... [--json]\n"
                         "  queued jobs are cancelled at once; running ones stop at their next "
                         "check\n" CLIENT_EXIT_CODES_HELP);
}
