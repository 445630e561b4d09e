/* ingest.h - the `ingest` job kind (CADC's metadata-only case): the headers of 1..1000 input
 * files (file:, http(s)://, s3://) plus blueprints -> one CAOM observation of one plane, or of
 * one plane per distinct product ID when params.product_ids names the plane of each input
 * (lib/fits2caom), pushed to a repository (lib/repo: created, updated, unchanged or replaced).
 *
 * ingest_params_parse is THE validator of the job's params: POST /v1/jobs calls it (through
 * ingest_params_validate) so a bad job is refused with 422 naming the field, and the worker
 * calls it again before running, so both always agree.
 *
 * No environment reads, no printing, no process-wide state: everything comes in through
 * struct ingest_env. Threading: reentrant; an env (its repo_target) is used by one thread.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_INGEST_INGEST_H
#define OBSFLOW_INGEST_INGEST_H

#include "core/compiler.h"
#include "core/err.h"
#include "profile/profile.h"
#include "repo/repo.h"
#include "storage/storage.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INGEST_URIS_MAX       1000 /* inputs of one job */
#define INGEST_BLUEPRINTS_MAX 64   /* blueprint files of one job */
#define INGEST_ID_MAX         256  /* bytes of observation_id / product_id */
#define INGEST_SCHEME_MAX     32   /* bytes of an artifact URI scheme */
#define INGEST_NAME_MAX       255  /* bytes of one blueprint path component / input file name */
#define INGEST_CODE_MAX       32

/** The params of one ingest job; strings borrowed from the JSON params object. */
struct ingest_params {
    const char *collection;     /* required (here or from the profile) */
    const char *profile_name;      /* params.profile, or NULL */
    const struct profile *profile; /* the profile it names (borrowed from the set), or NULL */
    const char *observation_id; /* NULL: blueprint, else StorageName of the first input */
    const char *product_id;     /* NULL: blueprint, else StorageName of the first input */
    /* all NULL, or one per input (then product_id is NULL): one plane per distinct ID, its
     * inputs in their order, the planes in the order their IDs first appear */
    const char *product_ids[INGEST_URIS_MAX];
    const char *scheme;         /* NULL: "cadc" */
    bool compute;               /* caom_observation_compute before the push */
    size_t n;                   /* inputs, 1..INGEST_URIS_MAX */
    const char *uris[INGEST_URIS_MAX];
    const char *artifact_uris[INGEST_URIS_MAX]; /* all NULL, or one per input */
    size_t nbp;
    const char *blueprints[INGEST_BLUEPRINTS_MAX]; /* names under the blueprint directory */
};

/**
 * Validate @p params (a JSON object, or NULL = {}) and fill @p out (may be NULL: validate
 * only). Field names in errors are "<pfx>params.<name>" ("params.uris[2]").
 * Keys: collection (required, [A-Za-z0-9._-], 1..128 bytes), uris (array of 1..1000 file:,
 * http(s):// or s3:// URIs naming a file), observation_id, product_id (1..256 bytes, no
 * control characters or '/'), product_ids (one such ID per input, "params.product_ids[i]";
 * not with product_id), artifact_uris (one "scheme:..." URI per input), scheme
 * ([a-z][a-z0-9+.-]*), blueprints (relative paths under the blueprint directory: no "..",
 * no leading '/', no hidden names), compute (boolean), profile (the name of one of
 * @p profiles: it fills collection, scheme, blueprints and compute where the params leave
 * them out; an unknown name is refused naming params.profile). Any other key is refused.
 * @return ERR_OK; ERR_INVALID naming the field.
 */
NODISCARD enum err ingest_params_parse(const json_t *params,
                                       const char *pfx,
                                       const struct profile_set *profiles,
                                       struct ingest_params *out,
                                       struct err_info *ei);

/** ingest_params_parse without the result: the job-kind validator of POST /v1/jobs. */
NODISCARD enum err ingest_params_validate(const json_t *params,
                                          const char *pfx,
                                          const struct profile_set *profiles,
                                          struct err_info *ei);

/** Where an ingest runs. Everything borrowed. */
struct ingest_env {
    struct storage *storage;      /* reads inputs; file: confined to its data roots */
    struct repo_target *target;   /* where the observation is pushed (one thread at a time) */
    const char *blueprint_dir;    /* blueprints are looked up under it (and must stay in it) */
    const char *work_dir;         /* scratch for http(s)/s3 inputs; NULL or "" = refuse them */
    const char *tag;              /* names the scratch directory (the job id); may be NULL */
    bool (*cancelled)(void *ctx); /* checked between steps; may be NULL */
    void *cancel_ctx;
};

/** What an ingest did. */
struct ingest_result {
    struct repo_push_result push; /* outcome, caom:C/ID, stored accMetaChecksum */
    size_t artifacts;             /* artifacts of the built observation */
    uint64_t range_requests;      /* ranged GETs of header-only fetches */
    uint64_t bytes_read;          /* bytes transferred from remote inputs */
    char code[INGEST_CODE_MAX];   /* on failure: a stable lower-case code (input_not_found,
                                     input_refused, input_unavailable, bad_input, blueprint,
                                     repository_refused, repository_unavailable) */
};

/**
 * Fetch the headers of every input (file: read in place; http(s)/s3 plain FITS files by
 * ranged reads of their header blocks only, written as header text into a scratch directory
 * under work_dir, content length from the answers and MD5 from a single-part S3 ETag (none
 * otherwise); compressed remote files, or a server that ignores ranges, downloaded whole),
 * build through ingest_build_planes (content length and MD5 of local and whole files from the
 * file): one plane of every input, or with p->product_ids one plane per distinct product ID,
 * all in one observation (p->observation_id, else as the first plane's build decides),
 * compute when asked, push once. Scratch files are removed before returning.
 * @return ERR_OK; ERR_CANCELLED when env->cancelled said so between steps; ERR_INVALID for
 *         what will not get better by retrying (missing or refused input, unparseable
 *         headers, blueprint error, a 4xx answer of the repository; the original error and
 *         its message are kept in ei->msg, the class in res->code); any other error is
 *         transient (network, 5xx, repository unavailable) and worth retrying.
 */
NODISCARD enum err ingest_run(const struct ingest_env *env,
                              const struct ingest_params *p,
                              struct ingest_result *res,
                              struct err_info *ei);

/** One file of ingest_build_planes. Strings borrowed. */
struct ingest_file {
    const char *path;         /* local file */
    const char *artifact_uri; /* its artifact URI */
    const char *product_id;   /* the plane it belongs to; NULL: one plane of the FITS files
                                 without one, its ID as the blueprints say, else StorageName
                                 of its first file */
    /* NULL: a FITS file whose headers are read through the blueprints; else the MIME type of
     * a file attached as it is (a preview) to the plane of a FITS file, with product_type */
    const char *content_type;
    const char *product_type; /* non-FITS files: "preview", "thumbnail" (NULL: auxiliary) */
    /* the file's size and MD5 (32 hex) when the caller measured them (the pipeline did):
     * taken as the artifact's contentLength and contentChecksum; size 0 or md5 NULL: a FITS
     * file is measured, a preview gets no checksum */
    uint64_t size;
    const char *md5;
    /* path holds only the file's headers (a ranged fetch): size is the whole object's, md5
     * its MD5 or NULL when the source gave none; nothing is measured from path */
    bool header_only;
    int calibration_level; /* of the plane (first FITS file of the plane decides); -1 = as
                              the blueprints say */
};

/** An observation of several planes from local files. Everything borrowed. */
struct ingest_build {
    const char *collection;     /* required */
    const char *observation_id; /* NULL: as the build of the first plane decides (blueprint,
                                   else StorageName of its first file), for every plane */
    const char *scheme;         /* NULL: "cadc" */
    const char *blueprint_dir;
    const char *const *blueprints; /* names under blueprint_dir */
    size_t nbp;
    bool compute;
    caom_compute_warn_fn warn; /* with compute: quantities left out are reported here */
    void *warn_ctx;
    const struct ingest_file *files;
    size_t n; /* 1..INGEST_URIS_MAX */
};

/**
 * Build one observation: one plane per distinct product_id of the FITS files, in the order the
 * IDs first appear (each built by lib/fits2caom from its files, in their order, and the
 * blueprints), then the other files attached to their planes. The one grouping of lib/ingest:
 * ingest_run builds through it too. res->artifacts counts the artifacts; on failure res->code
 * holds the class.
 * @return ERR_OK; ERR_INVALID for what another attempt would meet again (blueprint, headers,
 *         a file attached to no plane); ERR_IO, ERR_NOMEM.
 */
NODISCARD enum err ingest_build_planes(const struct ingest_build *b,
                                       struct caom_observation **out,
                                       struct ingest_result *res,
                                       struct err_info *ei);

/**
 * Push @p obs to env->target (only target is used). Errors the repository will give again
 * (4xx, invalid document) become ERR_INVALID with res->code "repository_refused"; others
 * (network, 5xx, unavailable) are kept, with "repository_unavailable".
 */
NODISCARD enum err ingest_push(const struct ingest_env *env,
                               const struct caom_observation *obs,
                               struct ingest_result *res,
                               struct err_info *ei);

/** The result object of a successful ingest: {"outcome", "uri", "acc_meta_checksum",
 * "artifacts", "bytes_read", "range_requests"} (new reference, NULL when out of memory). */
json_t *ingest_result_json(const struct ingest_result *res);

/* ---- headers of remote inputs (also for the registry's view of an ingest job's inputs) */

struct ingest_fetch {
    uint64_t size;     /* the whole object's bytes */
    char checksum[37]; /* "md5:<hex>" from a single-part S3 ETag, or "" */
    uint64_t requests; /* ranged GETs sent */
    uint64_t bytes;    /* bytes received */
};

/** True for an http(s)/s3 URI naming a plain FITS file (.fits/.fit/.fts): its headers can be
 *  read by ranges. Compressed files (.gz, .fz, .bz2) are downloaded whole. */
bool ingest_ranged_ok(const char *uri);

/**
 * Read only the headers of the remote FITS file @p uri (ranged reads through env->storage,
 * cancellation checked before each) and write them as header text to @p dest (through the
 * atomic-file primitive). @return ERR_OK; ERR_FITS (not FITS, truncated: the object's
 * structure is checked against its size); ERR_TOO_LARGE (a server that ignores ranges);
 * the storage's errors; ERR_CANCELLED.
 */
NODISCARD enum err ingest_fetch_headers(const struct ingest_env *env, const char *uri,
                                         const char *dest, struct ingest_fetch *out,
                                         struct err_info *ei);

#endif
