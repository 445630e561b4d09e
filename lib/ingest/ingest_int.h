/* ingest_int.h - what the files of lib/ingest share. SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_INGEST_INGEST_INT_H
#define OBSFLOW_INGEST_INGEST_INT_H

#include "ingest.h"

/**
 * Resolve blueprint names under @p dir into real paths (owned, in @p out[0..n-1]); a name that
 * is missing or resolves outside @p dir is refused with ei->field "params.blueprints[i]".
 * On failure the paths resolved so far are freed and @p out cleared.
 * @return ERR_OK; ERR_NOT_FOUND, ERR_FORBIDDEN, ERR_NOMEM.
 */
NODISCARD enum err ingest__blueprints_resolve(const char *dir, const char *const *names, size_t n,
                                              char **out, struct err_info *ei);

/**
 * ingest_build_planes with the blueprints already resolved (@p bps: b->nbp real paths, from
 * ingest__blueprints_resolve; b->blueprint_dir and b->blueprints are not used).
 */
NODISCARD enum err ingest__build_planes(const struct ingest_build *b, char *const *bps,
                                        struct caom_observation **out, struct ingest_result *res,
                                        struct err_info *ei);

/** What a header-only fetch learnt and cost. */
#endif
