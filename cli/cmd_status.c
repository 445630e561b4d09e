/* cmd_status.c - obsflow status ID... [--json]: show jobs. SPDX-License-Identifier: Apache-2.0 */
#include "client_jobcmd.h"

int cli_cmd_status(int argc, char **argv);
extern const char cli_help_status[];
const char cli_help_status[] = "show a job's state (obsflowd at OBSFLOW_URL)";

int cli_cmd_status(int argc, char **argv)
{
    return client_jobcmd(argc, argv, "status", "GET", "",
                         "usage: obsflow status ID... [--json]\n"
                         "  prints \"<id>  <state>  <kind>  attempt a/m  <error>\" per "
                         "job\n" CLIENT_EXIT_CODES_HELP);
}
