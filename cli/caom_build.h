/* caom_build.h - the build options that `obsflow caom` and `obsflow repo push` share: FITS
 * files or header text files plus blueprints -> one CAOM observation (f2c_build, then the
 * plane computation with --compute). Messages are printed as "obsflow <cmd>: ...".
 * Single-threaded (getopt). SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_CLI_CAOM_BUILD_H
#define OBSFLOW_CLI_CAOM_BUILD_H

#include "caom/caom.h"
#include "core/compiler.h"
#include "core/err.h"
#include "fits2caom/fits2caom.h"

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CAOM_BUILD_MAX_FILES      1000 /* input files (and --artifact-uri options) */
#define CAOM_BUILD_MAX_BLUEPRINTS 64   /* --blueprint options */

/* The getopt_long entries of the build options (values 'c' 'b' 'O' 'P' 'u' 's' 'n' 'C' 'L'
 * 'K': a command's own options use other values). */
/* clang-format off */
#define CAOM_BUILD_LONGOPTS                                                                        \
    {"collection", required_argument, NULL, 'c'},                                                 \
    {"blueprint", required_argument, NULL, 'b'},                                                   \
    {"observation-id", required_argument, NULL, 'O'},                                              \
    {"product-id", required_argument, NULL, 'P'},                                                  \
    {"artifact-uri", required_argument, NULL, 'u'},                                                \
    {"scheme", required_argument, NULL, 's'},                                                      \
    {"no-content", no_argument, NULL, 'n'},                                                        \
    {"compute", no_argument, NULL, 'C'},                                                           \
    {"content-length", required_argument, NULL, 'L'},                                              \
    {"content-checksum", required_argument, NULL, 'K'}
/* clang-format on */

/** The parsed build options (strings borrowed from argv). */
struct caom_build {
    struct f2c_opts opts;
    const char *blueprints[CAOM_BUILD_MAX_BLUEPRINTS];
    size_t nbp;
    const char *uris[CAOM_BUILD_MAX_FILES];
    size_t nuris;
    /* what the storage reports for each file (--content-length, --content-checksum, one per
     * file in order): the artifact's contentLength and contentChecksum, nothing measured from
     * a file given a length (it may hold only the headers); -1 ("-"): the storage reported
     * no length, none is written; 0 / NULL: from the file */
    int64_t lengths[CAOM_BUILD_MAX_FILES];
    size_t nlengths;
    const char *checksums[CAOM_BUILD_MAX_FILES];
    size_t nchecksums;
    bool compute;
    const char *cmd; /* "caom", "repo": names the command in warnings */
};

/** Defaults: content metadata on, no computation; @p cmd names the command in warnings. */
void caom_build_init(struct caom_build *b, const char *cmd);

/**
 * Take one getopt_long result @p ch with its @p arg.
 * @return 1 taken; 0 not a build option; -1 usage error (printed, naming @p cmd).
 */
int caom_build_option(struct caom_build *b, int ch, const char *arg, const char *cmd);

/**
 * Check the options against the @p nfiles input files.
 * @return 0; 2 after printing the usage error (and, where it helps, @p usage to stderr).
 */
int caom_build_check(const struct caom_build *b,
                     size_t nfiles,
                     const char *cmd,
                     void (*usage)(FILE *f));

/**
 * Build the observation from the @p nfiles files at @p files (borrowed).
 * @param[out] out new observation on success (caom_observation_free).
 * @return ERR_OK; the first error, with the file, HDU or blueprint line in @p ei.
 */
NODISCARD enum err caom_build_run(const struct caom_build *b,
                                  char *const *files,
                                  size_t nfiles,
                                  struct caom_observation **out,
                                  struct err_info *ei);

#endif
