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
struct ingest_fetch {
    uint64_t size;     /* the whole object's bytes */
    char checksum[37]; /* "md5:<hex>" from a single-part S3 ETag, or "" */
    uint64_t requests; /* ranged GETs sent */
    uint64_t bytes;    /* bytes received */
};

/** True for an http(s)/s3 URI naming a plain FITS file (.fits/.fit/.fts): its headers can be
 *  read by ranges. Compressed files (.gz, .fz, .bz2) are downloaded whole. */
bool ingest__ranged_ok(const char *uri);

/**
 * Read only the headers of the remote FITS file @p uri (ranged reads through env->storage,
 * cancellation checked before each) and write them as header text to @p dest (through the
 * atomic-file primitive). @return ERR_OK; ERR_FITS (not FITS, truncated: the object's
 * structure is checked against its size); ERR_TOO_LARGE (a server that ignores ranges);
 * the storage's errors; ERR_CANCELLED.
 */
NODISCARD enum err ingest__fetch_headers(const struct ingest_env *env, const char *uri,
                                         const char *dest, struct ingest_fetch *out,
                                         struct err_info *ei);

#endif
