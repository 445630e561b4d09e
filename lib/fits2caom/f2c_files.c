/* f2c_files.c - the whole build from files: blueprint files loaded in order, each input's
 * headers read (header text or FITS, gzip included), f2c_build, then the plane computation
 * when asked. Shared by `obsflow caom`, `obsflow repo push` and the ingest job.
 * SPDX-License-Identifier: Apache-2.0 */
#include "fits2caom.h"

#include <stdlib.h>

enum err f2c_build_files(const struct f2c_opts *opts,
                         const struct f2c_files *files,
                         struct caom_observation **out,
                         struct err_info *ei)
{
    struct bp *bp = NULL;
    struct fhdr_file **hdrs = NULL;
    struct f2c_input *in = NULL;
    struct caom_observation *obs = NULL;
    size_t n = files->n;
    enum err e;

    if (n == 0) {
        return err_set(ei, ERR_INVALID, "no input files");
    }
    if ((e = bp_new(&bp, ei)) != ERR_OK) {
        goto out;
    }
    for (size_t i = 0; i < files->nbp; i++) {
        if ((e = bp_load_file(bp, files->blueprints[i], ei)) != ERR_OK) {
            goto out;
        }
    }
    hdrs = calloc(n, sizeof *hdrs);
    in = calloc(n, sizeof *in);
    if (!hdrs || !in) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if ((e = fhdr_file_open(files->paths[i], &hdrs[i], ei)) != ERR_OK) {
            goto out;
        }
        in[i].headers = hdrs[i];
        in[i].path = files->paths[i];
        in[i].artifact_uri = files->artifact_uris ? files->artifact_uris[i] : NULL;
        in[i].content_length = files->content_lengths ? files->content_lengths[i] : 0;
        in[i].content_checksum = files->content_checksums ? files->content_checksums[i] : NULL;
    }
    if ((e = f2c_build(bp, opts, in, n, &obs, ei)) != ERR_OK) {
        goto out;
    }
    if (files->compute) {
        struct caom_compute_opts copts = {.warn = files->warn,
                                          .warn_ctx = files->warn_ctx};
        if ((e = caom_observation_compute(obs, &copts, ei)) != ERR_OK) {
            goto out;
        }
    }
    *out = obs;
    obs = NULL;
out:
    caom_observation_free(obs);
    for (size_t i = 0; hdrs && i < n; i++) {
        fhdr_file_destroy(hdrs[i]);
    }
    free(hdrs);
    free(in);
    bp_free(bp);
    return e;
}
