/* ingest_build.c - observations of several planes (the dataset job's raw and calibrated
 * products with their previews) and the one push of lib/ingest with its error classes.
 * SPDX-License-Identifier: Apache-2.0 */
#include "ingest.h"
#include "ingest_int.h"

#include "core/str.h"
#include "fits2caom/fits2caom.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum err ingest__blueprints_resolve(const char *dir, const char *const *names, size_t n,
                                    char **out, struct err_info *ei)
{
    char root[PATH_MAX];
    enum err e = ERR_OK;
    size_t i = 0;
    if (n == 0) {
        return ERR_OK;
    }
    if (!dir || !realpath(dir, root)) {
        return err_set(ei, ERR_NOT_FOUND, "blueprint directory \"%s\" is not readable: %s",
                       dir ? dir : "(none)", ERR_ERRNO(errno));
    }
    size_t rl = strlen(root);
    for (; i < n; i++) {
        char want[PATH_MAX];
        char real[PATH_MAX];
        int k = snprintf(want, sizeof want, "%s/%s", dir, names[i]);
        if (k < 0 || (size_t)k >= sizeof want || !realpath(want, real)) {
            e = err_set(ei, ERR_NOT_FOUND, "blueprint \"%s\" not found under %s", names[i], dir);
            goto fail;
        }
        if (strncmp(real, root, rl) != 0 || real[rl] != '/') {
            e = err_set(ei, ERR_FORBIDDEN, "blueprint \"%s\" resolves outside %s", names[i], dir);
            goto fail;
        }
        if (!(out[i] = str_dup(real))) {
            return err_set(ei, ERR_NOMEM, "out of memory");
        }
    }
    return ERR_OK;
fail:
    snprintf(ei->field, sizeof ei->field, "params.blueprints[%zu]", i);
    for (size_t j = 0; j < i; j++) {
        free(out[j]);
        out[j] = NULL;
    }
    return e;
}

/* Errors of a push that another attempt would meet again. */
static bool repo_permanent(enum err e)
{
    switch (e) {
    case ERR_PARSE:
    case ERR_INVALID:
    case ERR_XML:
    case ERR_WCS:
    case ERR_CHECKSUM:
    case ERR_UNAUTHORIZED:
    case ERR_FORBIDDEN:
    case ERR_NOT_FOUND:
    case ERR_CONFLICT:
    case ERR_PRECONDITION:
    case ERR_TOO_LARGE:
    case ERR_UNSUPPORTED:
        return true;
    default:
        return false;
    }
}

enum err ingest_push(const struct ingest_env *env, const struct caom_observation *obs,
                     struct ingest_result *res, struct err_info *ei)
{
    enum err e = repo_push(env->target, obs, &res->push, ei);
    if (e == ERR_OK) {
        return ERR_OK;
    }
    if (repo_permanent(e)) {
        str_copy(res->code, sizeof res->code, "repository_refused");
        ei->code = ERR_INVALID;
        return ERR_INVALID;
    }
    str_copy(res->code, sizeof res->code, "repository_unavailable");
    return e;
}

/* Move every plane of @p from into @p to (a productID already in @p to is an error). */
static enum err take_planes(struct caom_observation *to, struct caom_observation *from,
                            struct err_info *ei)
{
    for (size_t i = 0; i < from->n_planes; i++) {
        struct caom_plane *pl = from->planes[i];
        if (caom_observation_find_plane(to, pl->product_id)) {
            return err_set(ei, ERR_INVALID, "two groups of files make plane \"%s\"",
                           pl->product_id);
        }
        from->planes[i] = NULL;
        enum err e = caom_observation_add_plane(to, pl);
        if (e != ERR_OK) {
            err_set(ei, e, "observation %s: cannot add plane %s", to->observation_id,
                    pl->product_id);
            caom_plane_free(pl);
            return e;
        }
    }
    return ERR_OK;
}

/* Whether two files belong to one plane (NULL product IDs: the one plane left unnamed). */
static bool same_plane(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* A non-FITS file (preview, thumbnail) as an artifact of the plane it belongs to. */
static enum err add_other(struct caom_observation *obs, const struct ingest_file *f,
                          struct err_info *ei)
{
    struct caom_plane *pl =
        f->product_id ? caom_observation_find_plane(obs, f->product_id) : NULL;
    if (!pl) {
        return err_set(ei, ERR_INVALID, "%s: no plane \"%s\" to attach it to", f->artifact_uri,
                       f->product_id ? f->product_id : "(unnamed)");
    }
    struct caom_artifact *a =
        caom_artifact_new(f->artifact_uri, f->product_type ? f->product_type : "auxiliary",
                          CAOM_RELEASE_DATA);
    char sum[4 + 32 + 1];
    if (!a || !(a->content_type = str_dup(f->content_type))) {
        caom_artifact_free(a);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    a->content_length = caom_l((int64_t)f->size);
    if (f->md5 && strlen(f->md5) == 32) {
        snprintf(sum, sizeof sum, "md5:%s", f->md5);
        if (!(a->content_checksum = str_dup(sum))) {
            caom_artifact_free(a);
            return err_set(ei, ERR_NOMEM, "out of memory");
        }
    }
    enum err e = caom_plane_add_artifact(pl, a);
    if (e != ERR_OK) {
        caom_artifact_free(a);
        return err_set(ei, e, "plane %s: cannot add artifact %s", pl->product_id,
                       f->artifact_uri);
    }
    return ERR_OK;
}

/* Build the plane of the FITS files of @p files whose product_id is @p pid, in observation
 * @p oid (NULL: as f2c decides). */
static enum err build_group(const struct ingest_build *b, char *const *bps, const char *oid,
                            const char *pid, struct caom_observation **out, struct err_info *ei)
{
    const char **paths = calloc(b->n, sizeof *paths);
    const char **uris = calloc(b->n, sizeof *uris);
    int64_t *lens = calloc(b->n, sizeof *lens);
    const char **sump = calloc(b->n, sizeof *sump);
    char(*sums)[4 + 32 + 1] = calloc(b->n, sizeof *sums);
    size_t n = 0;
    enum err e = ERR_OK;
    if (!paths || !uris || !lens || !sump || !sums) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < b->n; i++) {
        const struct ingest_file *f = &b->files[i];
        if (!f->content_type && same_plane(f->product_id, pid)) {
            bool md5 = f->md5 && strlen(f->md5) == 32;
            paths[n] = f->path;
            uris[n] = f->artifact_uri;
            /* a size and MD5 the caller measured are taken, not measured again; a header-only
             * file has its size and whatever MD5 the source gave, and nothing to measure */
            if (f->header_only || (f->size > 0 && md5)) {
                lens[n] = (int64_t)f->size;
            }
            if (lens[n] > 0 && md5) {
                snprintf(sums[n], sizeof sums[n], "md5:%s", f->md5);
                sump[n] = sums[n];
            }
            n++;
        }
    }
    struct f2c_opts opts = {
        .collection = b->collection,
        .observation_id = oid,
        .product_id = pid,
        .scheme = b->scheme,
        .content_metadata = true,
    };
    struct f2c_files ff = {
        .blueprints = (const char *const *)bps,
        .nbp = b->nbp,
        .paths = paths,
        .n = n,
        .artifact_uris = uris,
        .content_lengths = lens,
        .content_checksums = sump,
        .compute = b->compute,
        .warn = b->warn,
        .warn_ctx = b->warn_ctx,
    };
    e = f2c_build_files(&opts, &ff, out, ei);
out:
    free(paths);
    free(uris);
    free(lens);
    free(sump);
    free(sums);
    return e;
}

enum err ingest__build_planes(const struct ingest_build *b, char *const *bps,
                              struct caom_observation **out, struct ingest_result *res,
                              struct err_info *ei)
{
    struct caom_observation *obs = NULL;
    enum err e = ERR_OK;
    *out = NULL;
    if (b->n == 0 || b->n > INGEST_URIS_MAX || b->nbp > INGEST_BLUEPRINTS_MAX) {
        return err_set(ei, ERR_INVALID, "ingest: %zu files, %zu blueprints", b->n, b->nbp);
    }
    /* one f2c build per plane, in the order the planes first appear among the FITS files;
     * the first decides the observation ID the others are built in */
    for (size_t i = 0; i < b->n && e == ERR_OK; i++) {
        const struct ingest_file *f = &b->files[i];
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++) {
            seen = !b->files[j].content_type && same_plane(b->files[j].product_id, f->product_id);
        }
        if (f->content_type || seen) {
            continue;
        }
        struct caom_observation *one = NULL;
        e = build_group(b, bps, obs ? obs->observation_id : b->observation_id, f->product_id,
                        &one, ei);
        if (e == ERR_OK && one->n_planes == 1 && f->calibration_level >= 0) {
            one->planes[0]->calibration_level = caom_i(f->calibration_level);
        }
        if (e == ERR_OK && !obs) {
            obs = one;
        } else if (e == ERR_OK) {
            e = take_planes(obs, one, ei);
            caom_observation_free(one);
        }
    }
    if (e == ERR_OK && !obs) {
        e = err_set(ei, ERR_INVALID, "no FITS file to build an observation from");
    }
    for (size_t i = 0; i < b->n && e == ERR_OK; i++) {
        if (b->files[i].content_type) {
            e = add_other(obs, &b->files[i], ei);
        }
    }
    if (e != ERR_OK && !res->code[0]) {
        str_copy(res->code, sizeof res->code,
                 e == ERR_NOMEM ? "out_of_memory" : e == ERR_IO ? "input_unavailable" : "bad_input");
    }
    if (e != ERR_OK && e != ERR_NOMEM && e != ERR_IO) {
        ei->code = ERR_INVALID; /* permanent: the same files and blueprints fail again */
        e = ERR_INVALID;
    }
    if (e != ERR_OK) {
        caom_observation_free(obs);
        return e;
    }
    size_t arts = 0;
    for (size_t i = 0; i < obs->n_planes; i++) {
        arts += obs->planes[i]->n_artifacts;
    }
    res->artifacts = arts;
    *out = obs;
    return ERR_OK;
}

enum err ingest_build_planes(const struct ingest_build *b, struct caom_observation **out,
                             struct ingest_result *res, struct err_info *ei)
{
    char *bps[INGEST_BLUEPRINTS_MAX] = {0};
    *out = NULL;
    if (b->nbp > INGEST_BLUEPRINTS_MAX) {
        return err_set(ei, ERR_INVALID, "ingest: %zu blueprints", b->nbp);
    }
    enum err e = ingest__blueprints_resolve(b->blueprint_dir, b->blueprints, b->nbp, bps, ei);
    if (e != ERR_OK) {
        str_copy(res->code, sizeof res->code, "blueprint");
        return e;
    }
    e = ingest__build_planes(b, bps, out, res, ei);
    for (size_t i = 0; i < b->nbp; i++) {
        free(bps[i]);
    }
    return e;
}
