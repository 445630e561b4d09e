/* path.h - lexical checks of slash-separated paths (no file system access).
 * Thread-safe (pure). SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_CORE_PATH_H
#define OBSFLOW_CORE_PATH_H

#include <stdbool.h>

/**
 * True when @p path has a segment that is exactly ".." ("..", "../x", "a/../b", "a/..");
 * "...", "..x" and "x.." are ordinary names. Segments are separated by '/'.
 */
bool path_has_dotdot(const char *path);

#endif
