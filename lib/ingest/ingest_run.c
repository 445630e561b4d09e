/* ingest_run.c - one ingest: inputs fetched (file: in place, remote ones into scratch),
 * observation built through ingest__build_planes (one plane, or one per distinct product ID
 * of params.product_ids), pushed with repo_push; errors classed as
 * permanent (ERR_INVALID + code) or transient (kept, to be retried).
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
#include <sys/stat.h>
#include <unistd.h>

#define INGEST_PATH_MAX 4096

/* The per-run working state (heap: 1000 inputs of 4 KiB paths). */
struct run {
    const struct ingest_env *env;
    const struct ingest_params *p;
    struct ingest_result *res;
    char scratch[INGEST_PATH_MAX]; /* "" until a remote input needs it */
    char *paths[INGEST_URIS_MAX];  /* local file of each input (owned) */
    bool fetched[INGEST_URIS_MAX]; /* paths[i] is a scratch download */
    bool made[INGEST_URIS_MAX];    /* <scratch>/<i> was created */
    int64_t clen[INGEST_URIS_MAX]; /* > 0: content length of a header-only fetch */
    char *csum[INGEST_URIS_MAX];   /* its checksum URI, or NULL */
    char *bps[INGEST_BLUEPRINTS_MAX];
    struct storage_uri su; /* scratch for parsing one URI */
};

static bool cancelled(const struct ingest_env *env)
{
    return env->cancelled && env->cancelled(env->cancel_ctx);
}

static bool progress_cb(void *ud, uint64_t done, uint64_t total)
{
    (void)done;
    (void)total;
    return !cancelled(ud);
}

/* Turn @p e into a permanent failure of class @p code, keeping the message. */
static enum err permanent(struct run *r, const char *code, struct err_info *ei)
{
    str_copy(r->res->code, sizeof r->res->code, code);
    ei->code = ERR_INVALID;
    return ERR_INVALID;
}

static enum err transient(struct run *r, enum err e, const char *code)
{
    str_copy(r->res->code, sizeof r->res->code, code);
    return e;
}

static enum err resolve_blueprints(struct run *r, struct err_info *ei)
{
    enum err e = ingest__blueprints_resolve(r->env->blueprint_dir, r->p->blueprints, r->p->nbp,
                                            r->bps, ei);
    if (e != ERR_OK && e != ERR_NOMEM) {
        return permanent(r, "blueprint", ei);
    }
    return e;
}

/* The last path component of @p uri (query and fragment dropped). */
static const char *file_name(const char *uri, char *out, size_t cap)
{
    size_t end = strcspn(uri, "?#");
    size_t start = 0;
    for (size_t i = 0; i < end; i++) {
        if (uri[i] == '/' || uri[i] == ':') {
            start = i + 1;
        }
    }
    size_t n = end - start < cap - 1 ? end - start : cap - 1;
    memcpy(out, uri + start, n);
    out[n] = '\0';
    return out;
}

static enum err local_input(struct run *r, size_t i, struct err_info *ei)
{
    char real[INGEST_PATH_MAX];
    enum err e = storage_local_path(r->env->storage, r->p->uris[i], false, real, sizeof real, ei);
    if (e == ERR_NOT_FOUND) {
        return permanent(r, "input_not_found", ei);
    }
    if (e == ERR_FORBIDDEN || e == ERR_INVALID || e == ERR_TOO_LARGE) {
        return permanent(r, "input_refused", ei);
    }
    if (e != ERR_OK) {
        return transient(r, e, "input_unavailable");
    }
    struct stat sb;
    if (stat(real, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        err_set(ei, ERR_INVALID, "input \"%.200s\" is not a regular file", r->p->uris[i]);
        return permanent(r, "input_refused", ei);
    }
    /* the path as written keeps the file name the StorageName rule derives identities from
     * (the real path may be a symlink's target); it was just confined to the data roots */
    const char *use = r->su.path[0] == '/' ? r->su.path : real;
    if (!(r->paths[i] = str_dup(use))) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    return ERR_OK;
}

static enum err remote_input(struct run *r, size_t i, struct err_info *ei)
{
    const struct ingest_env *env = r->env;
    if (!env->work_dir || !env->work_dir[0]) {
        err_set(ei, ERR_INVALID,
                "input \"%.200s\": remote inputs need a work directory "
                "(OBSFLOW_WORK_DIR)",
                r->p->uris[i]);
        return permanent(r, "input_refused", ei);
    }
    if (!r->scratch[0]) {
        int n = snprintf(r->scratch, sizeof r->scratch, "%s/ingest-%.64s-XXXXXX", env->work_dir,
                         env->tag ? env->tag : "job");
        if (n < 0 || (size_t)n >= sizeof r->scratch || !mkdtemp(r->scratch)) {
            err_set(ei, ERR_IO, "could not create a scratch directory under %s: %s", env->work_dir,
                    ERR_ERRNO(errno));
            r->scratch[0] = '\0';
            return transient(r, ERR_IO, "input_unavailable");
        }
    }
    char dir[INGEST_PATH_MAX];
    char name[INGEST_NAME_MAX + 1];
    char dest[INGEST_PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%zu", r->scratch, i);
    int n = snprintf(dest, sizeof dest, "%s/%s", dir, file_name(r->p->uris[i], name, sizeof name));
    if (n < 0 || (size_t)n >= sizeof dest || (mkdir(dir, 0700) != 0 && errno != EEXIST)) {
        err_set(ei, ERR_IO, "could not create %s: %s", dir, ERR_ERRNO(errno));
        return transient(r, ERR_IO, "input_unavailable");
    }
    r->made[i] = true;
    enum err e;
    if (ingest_ranged_ok(r->p->uris[i])) {
        /* headers only, by ranges; a server that ignores ranges gets a whole download */
        struct ingest_fetch f;
        char hdr[INGEST_PATH_MAX];
        snprintf(hdr, sizeof hdr, "%s.header", dest);
        e = ingest_fetch_headers(env, r->p->uris[i], hdr, &f, ei);
        r->res->range_requests += f.requests;
        r->res->bytes_read += f.bytes;
        if (e == ERR_OK) {
            r->clen[i] = (int64_t)f.size;
            if ((f.checksum[0] && !(r->csum[i] = str_dup(f.checksum))) ||
                !(r->paths[i] = str_dup(hdr))) {
                (void)unlink(hdr);
                return err_set(ei, ERR_NOMEM, "out of memory");
            }
            r->fetched[i] = true;
            return ERR_OK;
        }
        if (e == ERR_FITS) {
            return permanent(r, "bad_input", ei);
        }
        if (e != ERR_TOO_LARGE) {
            goto classify;
        }
        err_info_clear(ei);
    }
    struct storage_xfer_opts xo = {.progress = progress_cb, .progress_ud = (void *)(uintptr_t)env};
    struct storage_stat whole;
    e = storage_get_file(env->storage, r->p->uris[i], dest, &xo, &whole, ei);
    if (e == ERR_OK) {
        r->res->bytes_read += whole.size;
    }
classify:
    if (e == ERR_CANCELLED) {
        return e;
    }
    if (e == ERR_NOT_FOUND) {
        return permanent(r, "input_not_found", ei);
    }
    if (e == ERR_FORBIDDEN || e == ERR_UNAUTHORIZED || e == ERR_INVALID || e == ERR_TOO_LARGE) {
        return permanent(r, "input_refused", ei);
    }
    if (e != ERR_OK) {
        return transient(r, e, "input_unavailable");
    }
    if (!(r->paths[i] = str_dup(dest))) {
        unlink(dest);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    r->fetched[i] = true;
    return ERR_OK;
}

static enum err fetch_inputs(struct run *r, struct err_info *ei)
{
    for (size_t i = 0; i < r->p->n; i++) {
        if (cancelled(r->env)) {
            return err_set(ei, ERR_CANCELLED, "ingest stopped: cancellation requested");
        }
        enum err e = storage_uri_parse(r->p->uris[i], &r->su, ei);
        if (e != ERR_OK) {
            return permanent(r, "input_refused", ei);
        }
        e = r->su.scheme == STORAGE_FILE ? local_input(r, i, ei) : remote_input(r, i, ei);
        if (e != ERR_OK) {
            snprintf(ei->field, sizeof ei->field, "params.uris[%zu]", i);
            return e;
        }
    }
    return ERR_OK;
}

static enum err build_and_push(struct run *r, struct err_info *ei)
{
    const struct ingest_params *p = r->p;
    char *au[INGEST_URIS_MAX];
    struct f2c_names nm;
    enum err e = ERR_OK;
    memset(au, 0, sizeof(char *) * p->n);
    struct ingest_file *files = calloc(p->n, sizeof *files);
    if (!files) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    /* default artifact URIs from the input URI's file name (a scratch copy keeps it too) */
    for (size_t i = 0; i < p->n && e == ERR_OK; i++) {
        if (p->artifact_uris[i]) {
            continue;
        }
        char name[INGEST_NAME_MAX + 1];
        e = f2c_storage_name(file_name(p->uris[i], name, sizeof name), p->collection, p->scheme,
                             &nm, ei);
        if (e == ERR_OK && !(au[i] = str_dup(nm.artifact_uri))) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
        }
    }
    if (e != ERR_OK && e != ERR_NOMEM) {
        e = permanent(r, "bad_input", ei);
    }
    struct caom_observation *obs = NULL;
    if (e == ERR_OK) {
        /* every input in the plane params.product_ids names (without it, all in one plane of
         * params.product_id), grouped by the one grouping of lib/ingest */
        for (size_t i = 0; i < p->n; i++) {
            files[i] = (struct ingest_file){
                .path = r->paths[i],
                .artifact_uri = p->artifact_uris[i] ? p->artifact_uris[i] : au[i],
                .product_id = p->product_ids[i] ? p->product_ids[i] : p->product_id,
                .size = r->clen[i] > 0 ? (uint64_t)r->clen[i] : 0,
                .md5 = r->csum[i] && strncmp(r->csum[i], "md5:", 4) == 0 ? r->csum[i] + 4 : NULL,
                .header_only = r->clen[i] > 0,
                .calibration_level = -1,
            };
        }
        struct ingest_build b = {
            .collection = p->collection,
            .observation_id = p->observation_id,
            .scheme = p->scheme,
            .blueprints = p->blueprints,
            .nbp = p->nbp,
            .compute = p->compute,
            .files = files,
            .n = p->n,
        };
        e = ingest__build_planes(&b, r->bps, &obs, r->res, ei);
    }
    for (size_t i = 0; i < p->n; i++) {
        free(au[i]);
    }
    free(files);
    if (e != ERR_OK) {
        return e;
    }
    if (cancelled(r->env)) {
        caom_observation_free(obs);
        return err_set(ei, ERR_CANCELLED, "ingest stopped: cancellation requested");
    }
    e = ingest_push(r->env, obs, r->res, ei);
    caom_observation_free(obs);
    return e;
}

static void cleanup(struct run *r)
{
    for (size_t i = 0; i < r->p->n; i++) {
        if (r->fetched[i] && r->paths[i]) {
            (void)unlink(r->paths[i]);
        }
        if (r->made[i]) {
            char dir[INGEST_PATH_MAX];
            snprintf(dir, sizeof dir, "%s/%zu", r->scratch, i);
            (void)rmdir(dir);
        }
        free(r->paths[i]);
        free(r->csum[i]);
    }
    if (r->scratch[0]) {
        (void)rmdir(r->scratch);
    }
    for (size_t i = 0; i < r->p->nbp; i++) {
        free(r->bps[i]);
    }
}

enum err ingest_run(const struct ingest_env *env,
                    const struct ingest_params *p,
                    struct ingest_result *res,
                    struct err_info *ei)
{
    memset(res, 0, sizeof *res);
    if (p->n == 0 || p->n > INGEST_URIS_MAX || p->nbp > INGEST_BLUEPRINTS_MAX) {
        return err_set(ei, ERR_INVALID, "ingest: %zu inputs, %zu blueprints", p->n, p->nbp);
    }
    struct run *r = calloc(1, sizeof *r);
    if (!r) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    r->env = env;
    r->p = p;
    r->res = res;
    enum err e = resolve_blueprints(r, ei);
    if (e == ERR_OK) {
        e = fetch_inputs(r, ei);
    }
    if (e == ERR_OK && cancelled(env)) {
        e = err_set(ei, ERR_CANCELLED, "ingest stopped: cancellation requested");
    }
    if (e == ERR_OK) {
        e = build_and_push(r, ei);
    }
    cleanup(r);
    free(r);
    return e;
}

json_t *ingest_result_json(const struct ingest_result *res)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "outcome",
                     repo_outcome_name(res->push.outcome), "uri", res->push.uri,
                     "acc_meta_checksum", res->push.acc_meta_checksum, "artifacts",
                     (json_int_t)res->artifacts, "bytes_read", (json_int_t)res->bytes_read,
                     "range_requests", (json_int_t)res->range_requests);
}
