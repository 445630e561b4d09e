/* repo_util.c - small pure helpers of the store: torkeep's list dates and sorting.
 * SPDX-License-Identifier: Apache-2.0 */
#include "repo/repo_int.h"

#include <string.h>

enum err repo__date_parse(const char *s, int64_t *ms)
{
    /* yyyy-MM-ddTHH:mm:ss.SSS: digits where the pattern has them, its separators elsewhere */
    static const char pat[] = "dddd-dd-ddTdd:dd:dd.ddd";
    char copy[sizeof pat];
    for (size_t i = 0; i + 1 < sizeof pat; i++) {
        char c = s[i];
        if (pat[i] == 'd' ? !(c >= '0' && c <= '9') : c != pat[i]) {
            return ERR_PARSE;
        }
        copy[i] = c;
    }
    copy[sizeof pat - 1] = '\0';
    return caom_date_parse(copy, ms) == ERR_OK ? ERR_OK : ERR_PARSE;
}

int repo__strcmp_p(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}
