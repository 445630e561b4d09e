/* jobreg.c - a job's datasets into the registry, its calibrations out of it (see jobreg.h).
 * SPDX-License-Identifier: Apache-2.0 */
#include "jobreg/jobreg.h"

#include "astro/astro.h"
#include "core/str.h"
#include "core/rand.h"
#include "fits/fits.h"

#include <ctype.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


/* An MJD as ISO-8601 UTC with microseconds. */
static bool mjd_iso(double mjd, char *out, size_t cap)
{
    double s = (mjd - 40587.0) * 86400.0;
    if (!isfinite(s) || s < 0 || s > 32503680000.0) { /* 1970 .. 3000 */
        return false;
    }
    time_t t = (time_t)floor(s);
    long us = lround((s - floor(s)) * 1e6);
    if (us >= 1000000) {
        t += 1;
        us -= 1000000;
    }
    struct tm tm;
    char day[32];
    if (!gmtime_r(&t, &tm) || strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        return false;
    }
    return snprintf(out, cap, "%s.%06ldZ", day, us) < (int)cap;
}

static bool header_double(const struct fhdr_hdu *h, const char *key, double *v)
{
    struct err_info ign = {0};
    return fhdr_hdu_find(h, key) && fhdr_get_double(h, key, v, &ign) == ERR_OK;
}

/* The exposure number of a name's root: HST roots (ipppssoot) and any other root of 1..12
 * [a-z0-9] read as base 36 (one-to-one), anything else a 63-bit FNV-1a hash. */
static int64_t root_number(const char *root)
{
    size_t n = strlen(root);
    bool b36 = n >= 1 && n <= 12;
    for (size_t i = 0; i < n && b36; i++) {
        b36 = isdigit((unsigned char)root[i]) || (root[i] >= 'a' && root[i] <= 'z');
    }
    uint64_t v = b36 ? 0 : 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++) {
        if (b36) {
            v = v * 36 + (uint64_t)(isdigit((unsigned char)root[i]) ? root[i] - '0'
                                                                     : root[i] - 'a' + 10);
        } else {
            v = (v ^ (unsigned char)root[i]) * 1099511628211ULL;
        }
    }
    return (int64_t)(v & (uint64_t)INT64_MAX);
}

enum err jobreg_file_read(const char *path, const char *instrument, const char *dataset,
                        struct jobreg_file *f, struct err_info *ei)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    str_copy(f->base, sizeof f->base, base);
    size_t dl = dataset ? strlen(dataset) : 0;
    size_t rl, tl;
    const char *tb;
    if (dl && strncmp(base, dataset, dl) == 0 && (base[dl] == '.' || base[dl] == '_')) {
        /* named after the dataset: <dataset>.fits is the raw frame, <dataset>_<type>.fits */
        rl = dl;
        tb = base[dl] == '_' ? base + dl + 1 : "raw";
        tl = base[dl] == '_' ? strcspn(tb, ".") : 3;
    } else {
        /* root: up to the first '_' or '.'; type: after the last '_' up to the first '.' */
        rl = strcspn(base, "_.");
        const char *us = strrchr(base, '_');
        tb = us ? us + 1 : "raw";
        tl = us ? strcspn(tb, ".") : 3;
    }
    if (rl == 0 || rl >= sizeof f->obs_id || tl == 0 || tl >= sizeof f->type ||
        !isalpha((unsigned char)tb[0])) {
        return err_set(ei, ERR_INVALID, "%s: no dataset root and type in the file name", base);
    }
    for (size_t i = 0; i < rl; i++) {
        f->obs_id[i] = (char)tolower((unsigned char)base[i]);
    }
    f->obs_id[rl] = '\0';
    for (size_t i = 0; i < tl; i++) {
        char c = tb[i];
        if (!isalnum((unsigned char)c) && c != '_') {
            return err_set(ei, ERR_INVALID, "%s: the type suffix is not a dataset type name",
                           base);
        }
        f->type[i] = (char)tolower((unsigned char)c);
    }
    f->type[tl] = '\0';
    f->exposure = root_number(f->obs_id);

    struct fhdr_file *ff = NULL;
    enum err e = fhdr_file_open(path, &ff, ei);
    if (e != ERR_OK) {
        err_prefix(ei, "registry: ");
        return e == ERR_NOMEM ? e : (ei->code = ERR_INVALID);
    }
    const struct fhdr_hdu *h = fhdr_file_hdu(ff, 0);
    const char *ins = instrument;
    struct err_info ign = {0};
    if (!ins && h && fhdr_hdu_find(h, "INSTRUME") &&
        fhdr_get_str(h, "INSTRUME", &ins, &ign) != ERR_OK) {
        ins = NULL;
    }
    size_t k = 0;
    for (; ins && ins[k] && k + 1 < sizeof f->instrument; k++) {
        char c = ins[k];
        f->instrument[k] = isalnum((unsigned char)c) || c == '.' || c == '-' ? c : '_';
    }
    f->instrument[k] = '\0';
    /* the exposure's span: EXPSTART/EXPEND (HST), else MJD-OBS + EXPTIME */
    double b = 0, en = 0, exptime = 0;
    bool have = h && header_double(h, "EXPSTART", &b) && header_double(h, "EXPEND", &en);
    if (!have && h && header_double(h, "EXPTIME", &exptime)) {
        have = header_double(h, "MJD-OBS", &b);
        const char *dobs = NULL, *tobs = NULL;
        if (!have && fhdr_hdu_find(h, "DATE-OBS") &&
            fhdr_get_str(h, "DATE-OBS", &dobs, &ign) == ERR_OK) {
            /* DATE-OBS with its time, or the date and TIME-OBS (UTC) */
            char when[96];
            if (!strchr(dobs, 'T') && fhdr_hdu_find(h, "TIME-OBS") &&
                fhdr_get_str(h, "TIME-OBS", &tobs, &ign) == ERR_OK) {
                snprintf(when, sizeof when, "%.40sT%.40s", dobs, tobs);
            } else {
                snprintf(when, sizeof when, "%.80s", dobs);
            }
            have = astro_date_mjd(when, ASTRO_UTC, &b) == ERR_OK;
        }
        en = b + exptime / 86400.0;
    }
    if (en <= b) {
        en = b + 1e-6 / 86400.0 * 2; /* a zero-length exposure (bias): 2 us, never empty */
    }
    if (k == 0) {
        e = err_set(ei, ERR_INVALID, "%s: no instrument (profile instrument or INSTRUME)", base);
    } else if (!have || !mjd_iso(b, f->begin, sizeof f->begin) ||
               !mjd_iso(en, f->end, sizeof f->end)) {
        e = err_set(ei, ERR_INVALID,
                    "%s: no exposure time span (EXPSTART and EXPEND, or MJD-OBS or DATE-OBS and "
                    "EXPTIME) in the primary header",
                    base);
    }
    fhdr_file_destroy(ff);
    return e;
}

void jobreg_uuid(char out[37])
{
    uint8_t u[16];
    rand_uuid_v4(u);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
             u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
             u[15]);
}

/* "sha256:<hex>" of the params' canonical JSON (keys sorted, compact). */
void jobreg_params_digest(const json_t *params, char *out, size_t cap)
{
    char *txt = params ? json_dumps(params, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    out[0] = '\0';
    if (EVP_Digest(txt ? txt : "{}", txt ? strlen(txt) : 2, md, &n, EVP_sha256(), NULL) == 1) {
        size_t w = (size_t)snprintf(out, cap, "sha256:");
        for (unsigned int i = 0; i < n && w + 3 <= cap; i++) {
            w += (size_t)snprintf(out + w, cap - w, "%02x", md[i]);
        }
    }
    free(txt);
}

enum err jobreg_register(struct reg *r, const char *job_id, const json_t *params, const char *run,
                       const struct jobreg_file *files, size_t n, const char *const *references,
                       size_t nrefs, json_t **out, struct err_info *ei)
{
    enum err e = ERR_OK;
    char digest[80];
    json_t *doc = NULL, *exps = json_array(), *regs = json_array(), *inputs = json_array();
    json_t *insts = json_array(), *types = json_array(), *res = NULL;
    char(*ids)[37] = calloc(n ? n : 1, sizeof *ids);
    if (n > JOBREG_FILES_MAX) {
        e = err_set(ei, ERR_TOO_LARGE, "more than %d files to register", JOBREG_FILES_MAX);
        goto out;
    }
    if (!exps || !regs || !inputs || !insts || !types || !ids) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    jobreg_params_digest(params, digest, sizeof digest);
    /* ids first: the products name the inputs */
    for (size_t i = 0; i < n; i++) {
        if (files[i].id[0]) {
            str_copy(ids[i], sizeof ids[i], files[i].id);
        } else {
            jobreg_uuid(ids[i]);
        }
        if (files[i].input) {
            json_array_append_new(inputs, json_string(ids[i]));
        }
    }
    /* one registration per (inputs first, then products) x type, in order of appearance */
    for (int pass = 0; pass < 2 && e == ERR_OK; pass++) {
        for (size_t i = 0; i < n && e == ERR_OK; i++) {
            const struct jobreg_file *f = &files[i];
            if (f->input != (pass == 0)) {
                continue;
            }
            /* dimension records and the type, once each */
            bool seen_i = false, seen_t = false;
            for (size_t j = 0; j < i; j++) {
                seen_i |= strcmp(files[j].instrument, f->instrument) == 0;
                seen_t |= strcmp(files[j].type, f->type) == 0;
            }
            if (!seen_i) {
                json_array_append_new(insts, json_pack("{s:s}", "name", f->instrument));
            }
            bool seen_x = false;
            for (size_t j = 0; j < i; j++) {
                seen_x |= strcmp(files[j].instrument, f->instrument) == 0 &&
                          files[j].exposure == f->exposure;
            }
            if (!seen_x) {
                json_array_append_new(
                    exps, json_pack("{s:s,s:I,s:s,s:s,s:s}", "instrument", f->instrument, "id",
                                    (json_int_t)f->exposure, "obs_id", f->obs_id, "begin",
                                    f->begin, "end", f->end));
            }
            if (!seen_t) {
                json_array_append_new(types, json_string(f->type));
            }
            /* the registration of this pass and type */
            json_t *g = NULL;
            for (size_t k = 0; k < json_array_size(regs); k++) {
                json_t *x = json_array_get(regs, k);
                if (json_is_true(json_object_get(x, "_input")) == (pass == 0) &&
                    strcmp(json_string_value(json_object_get(x, "dataset_type")), f->type) == 0) {
                    g = x;
                }
            }
            if (!g) {
                g = json_pack("{s:s,s:s,s:[],s:b}", "run", run, "dataset_type", f->type,
                              "datasets", "_input", pass == 0);
                if (!g || json_array_append_new(regs, g) != 0) {
                    e = err_set(ei, ERR_NOMEM, "out of memory");
                    break;
                }
            }
            json_t *file = json_pack("{s:s,s:I}", "uri", f->uri, "size", (json_int_t)f->size);
            if (file && f->md5[0]) {
                char sum[40];
                snprintf(sum, sizeof sum, "md5:%s", f->md5);
                json_object_set_new(file, "checksum", json_string(sum));
            }
            json_t *prov = json_pack("{s:s,s:s,s:s}", "job_id", job_id,
                                     "software_version", JOBREG_VERSION, "parameters_digest",
                                     digest);
            if (prov && pass == 1 && json_array_size(inputs) > 0) {
                json_object_set(prov, "inputs", inputs);
            }
            if (prov && pass == 1 && nrefs > 0) {
                json_t *refs = json_array();
                for (size_t k = 0; refs && k < nrefs; k++) {
                    json_array_append_new(refs, json_string(references[k]));
                }
                json_object_set_new(prov, "references", refs);
            }
            json_t *ds = json_pack("{s:s,s:{s:s,s:I},s:[o*],s:o*}", "id", ids[i], "data_id",
                                   "instrument", f->instrument, "exposure",
                                   (json_int_t)f->exposure, "files", f->uri[0] ? file : NULL,
                                   "provenance", prov);
            if (!f->uri[0]) {
                json_decref(file);
            }
            if (!ds || json_array_append_new(json_object_get(g, "datasets"), ds) != 0) {
                e = err_set(ei, ERR_NOMEM, "out of memory");
            }
        }
    }
    if (e != ERR_OK) {
        goto out;
    }
    for (size_t k = 0; k < json_array_size(regs); k++) {
        json_object_del(json_array_get(regs, k), "_input");
    }
    for (size_t k = 0; k < json_array_size(types) && e == ERR_OK; k++) {
        json_t *t = json_pack("{s:s,s:[s,s],s:s}", "name", json_string_value(json_array_get(types, k)),
                              "dimensions", "instrument", "exposure", "storage_class", "FITS");
        e = t ? reg_dataset_type_put(r, t, NULL, ei) : err_set(ei, ERR_NOMEM, "out of memory");
        json_decref(t);
    }
    if (e == ERR_OK) {
        doc = json_pack("{s:s,s:{s:O,s:O},s:O}", "job_id", job_id, "dimensions",
                        "instruments", insts, "exposures", exps, "registrations", regs);
        e = doc ? reg_register_job(r, doc, &res, ei) : err_set(ei, ERR_NOMEM, "out of memory");
    }
    if (e == ERR_OK) {
        size_t total = 0;
        for (size_t k = 0; k < json_array_size(regs); k++) {
            total += json_array_size(json_object_get(json_array_get(regs, k), "datasets"));
        }
        if (json_is_true(json_object_get(res, "already"))) {
            total = 0;
            json_t *g = json_object_get(res, "registrations");
            for (size_t k = 0; k < json_array_size(g); k++) {
                total += json_array_size(json_object_get(json_array_get(g, k), "ids"));
            }
        }
        *out = json_pack("{s:s,s:I,s:O,s:b}", "run", run, "datasets", (json_int_t)total, "ids",
                         json_object_get(res, "registrations"), "already",
                         json_is_true(json_object_get(res, "already")));
        e = *out ? ERR_OK : err_set(ei, ERR_NOMEM, "out of memory");
    }
    if (e != ERR_OK) {
        err_prefix(ei, "registry run %s: ", run);
    }
out:
    json_decref(res);
    json_decref(doc);
    json_decref(exps);
    json_decref(regs);
    json_decref(inputs);
    json_decref(insts);
    json_decref(types);
    free(ids);
    return e;
}

bool jobreg_permanent(enum err e)
{
    return e == ERR_INVALID || e == ERR_CONFLICT || e == ERR_PARSE || e == ERR_NOT_FOUND ||
           e == ERR_TOO_LARGE;
}

const char *jobreg_error_code(enum err e)
{
    return e == ERR_CONFLICT ? "registry_conflict"
           : jobreg_permanent(e) ? "registry_invalid"
                               : "registry_unavailable";
}

enum err jobreg_calib_find(struct reg *reg, struct storage *st, const struct profile *pr,
                        const char *type, const struct jobreg_file *frame, const char *scratch,
                        char *path, size_t cap, char *id, size_t idcap, struct err_info *ei)
{
    json_t *found = NULL, *data_id = json_pack("{s:s}", "instrument", frame->instrument);
    enum err e = ERR_OK;
    if (!data_id) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    if (pr->ncalibrations == 0) {
        e = err_set(ei, ERR_NOT_FOUND, "the profile names no calibrations collections");
        goto out;
    }
    struct reg_lookup q = {.type = type,
                           .collections = pr->calibrations,
                           .ncollections = pr->ncalibrations,
                           .data_id = data_id,
                           .begin = frame->begin,
                           .end = frame->end};
    e = reg_calib_lookup(reg, &q, &found, ei);
    if (e == ERR_PARSE) {
        e = ERR_NOT_FOUND; /* no such type or collection yet: nothing certified */
    }
    if (e != ERR_OK) {
        goto out;
    }
    const char *uuid = json_string_value(json_object_get(found, "id"));
    const char *uri = json_string_value(
        json_object_get(json_array_get(json_object_get(found, "files"), 0), "uri"));
    if (!uuid || !uri) {
        e = err_set(ei, ERR_NOT_FOUND, "%s %s has no file record", type, uuid ? uuid : "?");
        goto out;
    }
    str_copy(id, idcap, uuid);
    if (strncmp(uri, "file:", 5) == 0) {
        /* in place, confined to the data roots as every file: URI of a job */
        e = storage_local_path(st, uri, false, path, cap, ei);
        if (e != ERR_OK) {
            err_prefix(ei, "%s %s: ", type, uri);
            e = ERR_NOT_FOUND;
        }
    } else if (snprintf(path, cap, "%s/%s-%s.fits", scratch, type, uuid) >= (int)cap) {
        e = err_set(ei, ERR_TOO_LARGE, "reference path too long");
    } else {
        e = storage_get_file(st, uri, path, NULL, NULL, ei);
        if (e != ERR_OK) {
            err_prefix(ei, "%s %s: ", type, uri);
            e = e == ERR_NOT_FOUND ? ERR_NOT_FOUND : ERR_UNAVAILABLE;
        }
    }
out:
    json_decref(found);
    json_decref(data_id);
    return e;
}
