/* fits2caom.h - FITS headers + blueprint + WCS -> one CAOM-2.4 observation (lib/caom model):
 * the metadata engine of fits2caom2/caom2pipe in C. One plane per product ID (one for all inputs,
 * unless a blueprint's Plane.productID rule, evaluated per input, names several); one artifact
 * per input file; one part per HDU (named by its index) that the blueprint's structure rule
 * "Part" keeps (every HDU without one); one chunk per such HDU with an image data
 * array. Identities come from the caller, else from blueprint rules, else from the file name
 * the way caom2pipe's StorageName does (docs/caom.md "CAOM metadata").
 * Threading: reentrant; the blueprint and header files are only read.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_FITS2CAOM_FITS2CAOM_H
#define OBSFLOW_FITS2CAOM_FITS2CAOM_H

#include "blueprint/blueprint.h"
#include "caom/caom.h"
#include "core/compiler.h"
#include "core/err.h"
#include "fits/fits.h"

#include <stdbool.h>
#include <stddef.h>

#define F2C_NAME_MAX 512 /* identities derived from file names */

/** Identities caom2pipe's StorageName derives from a file name. */
struct f2c_names {
    char file_id[F2C_NAME_MAX];      /* base name without .fits, .fz, .gz, .bz2, .header */
    char obs_id[F2C_NAME_MAX];       /* = file_id */
    char product_id[F2C_NAME_MAX];   /* = file_id */
    char artifact_uri[F2C_NAME_MAX]; /* {scheme}:{collection}/{base name without .gz .bz2 .header} */
};

/**
 * The StorageName rule for @p path (only its base name is used).
 * @param scheme [in] URI scheme, NULL for "cadc". ERR_INVALID if the name is empty or too long.
 */
NODISCARD enum err f2c_storage_name(const char *path, const char *collection, const char *scheme,
                                    struct f2c_names *out, struct err_info *ei);

/** One input: a header file (owned by the caller) and where its bytes came from. */
struct f2c_input {
    const struct fhdr_file *headers; /* borrowed: parsed headers of the file */
    const char *path;                /* borrowed: local path (content length/MD5), may be NULL */
    const char *artifact_uri;        /* borrowed: NULL = StorageName rule */
    /* > 0: the artifact's content length, known without the file (path then holds only its
     * headers, e.g. read by ranged requests); content_checksum (a "md5:<hex>" URI, or NULL
     * when the source gave none) goes with it. < 0: the source reported no length (none is
     * written). Either given (length != 0 or a checksum): nothing is computed from path */
    int64_t content_length;
    const char *content_checksum;
};

/**
 * --explain: called for every user rule evaluated (@p value NULL when it yielded nothing) and
 * for every let variable that yielded nothing on the way; @p hdu is the HDU mapped.
 */
typedef void (*f2c_explain_fn)(void *ctx, const char *file, int hdu, const struct bp_rule *r,
                               const char *value);

struct f2c_opts {
    const char *collection;      /* required */
    const char *observation_id;  /* NULL: blueprint, else StorageName of the first input */
    const char *product_id;      /* NULL: blueprint, else StorageName of the first input */
    const char *scheme;          /* NULL: "cadc" */
    bool content_metadata;       /* contentLength and md5 contentChecksum from the local file */
    f2c_explain_fn explain;      /* NULL: no explanation */
    void *explain_ctx;
};

/**
 * Build one observation from @p n inputs. Observation, plane and artifact values are looked up
 * in HDU 0 (observation/plane: first input that has them); chunk values per HDU. Blueprint
 * user rules override WCS-derived chunk values; "None" clears them.
 * @param bp  [in] borrowed blueprint (bp_new + files).
 * @param out [out] new observation on success (caller frees with caom_observation_free).
 * Errors name the file, HDU and keyword or blueprint line: ERR_INVALID (a value of the wrong
 * type, a bad identity), ERR_WCS, ERR_IO (content metadata), ERR_NOMEM.
 */
NODISCARD enum err f2c_build(const struct bp *bp, const struct f2c_opts *opts,
                             const struct f2c_input *in, size_t n,
                             struct caom_observation **out, struct err_info *ei);

/** The inputs of f2c_build_files (everything borrowed). */
struct f2c_files {
    const char *const *blueprints; /* blueprint files, loaded in order (later lines win) */
    size_t nbp;
    const char *const *paths;         /* header text or FITS files (gzip read by cfitsio) */
    size_t n;                         /* >= 1 */
    const char *const *artifact_uris; /* NULL, or n URIs (NULL entries = StorageName rule) */
    const int64_t *content_lengths;        /* NULL, or n lengths (see f2c_input) */
    const char *const *content_checksums;  /* NULL, or n checksum URIs (see f2c_input) */
    bool compute;                     /* caom_observation_compute after the build */
    caom_compute_warn_fn warn;        /* with compute: a plane quantity that cannot be computed
                                         is left out and reported here (NULL: it fails) */
    void *warn_ctx;
};

/**
 * Load the blueprints, read every file's headers, f2c_build, and compute when asked.
 * @param out [out] new observation on success (caom_observation_free).
 * @return ERR_OK; the first error, naming the file, HDU or blueprint line: the errors of
 *         bp_load_file, fhdr_file_open, f2c_build and caom_observation_compute.
 */
NODISCARD enum err f2c_build_files(const struct f2c_opts *opts, const struct f2c_files *files,
                                   struct caom_observation **out, struct err_info *ei);

#endif
