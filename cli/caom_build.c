/* caom_build.c - the build options shared by `obsflow caom` and `obsflow repo push`.
 * SPDX-License-Identifier: Apache-2.0 */
#include "caom_build.h"

#include "blueprint/blueprint.h"
#include "fits/fits.h"

#include <stdlib.h>
#include <string.h>

void caom_build_init(struct caom_build *b)
{
    memset(b, 0, sizeof *b);
    b->opts.content_metadata = true;
}

int caom_build_option(struct caom_build *b, int ch, const char *arg, const char *cmd)
{
    switch (ch) {
    case 'c':
        b->opts.collection = arg;
        return 1;
    case 'b':
        if (b->nbp == ARRAY_LEN(b->blueprints)) {
            fprintf(stderr, "obsflow %s: too many --blueprint options\n", cmd);
            return -1;
        }
        b->blueprints[b->nbp++] = arg;
        return 1;
    case 'O':
        b->opts.observation_id = arg;
        return 1;
    case 'P':
        b->opts.product_id = arg;
        return 1;
    case 'u':
        if (b->nuris == ARRAY_LEN(b->uris)) {
            fprintf(stderr, "obsflow %s: too many --artifact-uri options\n", cmd);
            return -1;
        }
        b->uris[b->nuris++] = arg;
        return 1;
    case 's':
        b->opts.scheme = arg;
        return 1;
    case 'n':
        b->opts.content_metadata = false;
        return 1;
    case 'C':
        b->compute = true;
        return 1;
    default:
        return 0;
    }
}

int caom_build_check(const struct caom_build *b,
                     size_t nfiles,
                     const char *cmd,
                     void (*usage)(FILE *f))
{
    if (!b->opts.collection || nfiles == 0) {
        fprintf(stderr, "obsflow %s: %s\n", cmd,
                !b->opts.collection ? "--collection is required" : "no input files");
        usage(stderr);
        return 2;
    }
    if (nfiles > CAOM_BUILD_MAX_FILES) {
        fprintf(stderr, "obsflow %s: more than %d input files\n", cmd, CAOM_BUILD_MAX_FILES);
        return 2;
    }
    if (b->nuris > 0 && b->nuris != nfiles) {
        fprintf(stderr,
                "obsflow %s: %zu --artifact-uri options for %zu files (give one per "
                "file, in order)\n",
                cmd, b->nuris, nfiles);
        return 2;
    }
    return 0;
}

enum err caom_build_run(const struct caom_build *b,
                        char *const *files,
                        size_t nfiles,
                        struct caom_observation **out,
                        struct err_info *ei)
{
    struct bp *bp = NULL;
    struct fhdr_file **hdrs = NULL;
    struct f2c_input *in = NULL;
    struct caom_observation *obs = NULL;
    enum err e;

    if ((e = bp_new(&bp, ei)) != ERR_OK) {
        goto out;
    }
    for (size_t i = 0; i < b->nbp; i++) {
        if ((e = bp_load_file(bp, b->blueprints[i], ei)) != ERR_OK) {
            goto out;
        }
    }
    hdrs = calloc(nfiles, sizeof *hdrs);
    in = calloc(nfiles, sizeof *in);
    if (!hdrs || !in) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nfiles; i++) {
        if ((e = fhdr_file_open(files[i], &hdrs[i], ei)) != ERR_OK) {
            goto out;
        }
        in[i].headers = hdrs[i];
        in[i].path = files[i];
        in[i].artifact_uri = b->nuris ? b->uris[i] : NULL;
    }
    if ((e = f2c_build(bp, &b->opts, in, nfiles, &obs, ei)) != ERR_OK) {
        goto out;
    }
    if (b->compute) {
        struct caom_compute_opts copts = {.pix2sky = f2c_pix2sky, .pix2sky_ctx = NULL};
        if ((e = caom_observation_compute(obs, &copts, ei)) != ERR_OK) {
            goto out;
        }
    }
    *out = obs;
    obs = NULL;
out:
    caom_observation_free(obs);
    for (size_t i = 0; hdrs && i < nfiles; i++) {
        fhdr_file_destroy(hdrs[i]);
    }
    free(hdrs);
    free(in);
    bp_free(bp);
    return e;
}
