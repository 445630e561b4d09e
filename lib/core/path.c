/* path.c - lexical path checks (see path.h).
 * SPDX-License-Identifier: Apache-2.0 */
#include "core/path.h"

#include <stddef.h>
#include <string.h>

bool path_has_dotdot(const char *path)
{
    const char *seg = path;
    for (;;) {
        const char *slash = strchr(seg, '/');
        size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
        if (n == 2 && seg[0] == '.' && seg[1] == '.') {
            return true;
        }
        if (!slash) {
            return false;
        }
        seg = slash + 1;
    }
}
