/* repo_int.h - internals shared by the files of lib/repo (and its unit tests); not a public
 * header. SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_REPO_REPO_INT_H
#define OBSFLOW_REPO_REPO_INT_H

#include "repo/repo.h"

#include <stdbool.h>
#include <stddef.h>

/* ---- store and collections (repo_store.c, repo_collections.c) ---- */

/** A collection name or observationID usable as a URI path component (1..@p max bytes of
 * printable ASCII without blanks and / \ % ? # , : = " '). */
bool repo__name_ok(const char *s, size_t max);

/* ---- push client (repo_target.c, repo_push.c) ---- */

#endif
