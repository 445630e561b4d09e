/* cmd_retry.c - obsflow retry ID... [--json]: queue failed or cancelled jobs again.
 * SPDX-License-Identifier: Apache-2.0 */
#include "client_jobcmd.h"

int cli_cmd_retry(int argc, char **argv);
extern const char cli_help_retry[];
const char cli_help_retry[] = "queue a failed or cancelled job again";

int cli_cmd_retry(int argc, char **argv)
{
    return client_jobcmd(argc, argv, "retry", "POST", "/retry",
                         "usage: obsflow retry ID... [--json]\n" CLIENT_EXIT_CODES_HELP);
}
