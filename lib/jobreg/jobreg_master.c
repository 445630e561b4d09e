/* jobreg_master.c - a combine job's master in the registry (see jobreg.h): its run and place,
 * the one transaction registering the raw frames and the master with provenance, and its
 * certification. SPDX-License-Identifier: Apache-2.0 */
#include "jobreg/jobreg.h"

#include "core/str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TEMPLATE "{run}/{dataset_type}/{instrument}/{dataset_type}_{instrument}_{id}.fits"

/* Where the master goes: <output>/<the profile's file template for it>. */
static enum err master_uri(struct jobreg_master *m, struct err_info *ei)
{
    const char *tt = m->profile->file_template ? m->profile->file_template : DEFAULT_TEMPLATE;
    struct reg_template *t = NULL;
    char rel[REG_PATH_MAX];
    json_t *did = json_pack("{s:s}", "instrument", m->frames[0].instrument);
    enum err e = did ? reg_template_parse(tt, &t, ei) : err_set(ei, ERR_NOMEM, "out of memory");
    if (e == ERR_OK) {
        e = reg_template_render(t, m->run, m->type, m->id, did, rel, sizeof rel, ei);
    }
    if (e == ERR_OK) {
        size_t ol = strlen(m->output);
        bool slash = ol && m->output[ol - 1] == '/';
        if (snprintf(m->uri, sizeof m->uri, "%s%s%s", m->output, slash ? "" : "/", rel) >=
            (int)sizeof m->uri) {
            e = err_set(ei, ERR_TOO_LARGE, "master URI too long");
        }
    }
    reg_template_free(t);
    json_decref(did);
    return e;
}

enum err jobreg_master_prepare(struct jobreg_master *m, const char *run, time_t now,
                               struct err_info *ei)
{
    if (m->n == 0) {
        return err_set(ei, ERR_INVALID, "a master without frames");
    }
    for (size_t i = 1; i < m->n; i++) {
        if (strcmp(m->frames[i].instrument, m->frames[0].instrument) != 0) {
            return err_set_field(ei, ERR_INVALID, "params.inputs",
                                 "the frames are of two instruments (%s, %s)",
                                 m->frames[0].instrument, m->frames[i].instrument);
        }
    }
    if (run) {
        str_copy(m->run, sizeof m->run, run);
    } else {
        char base[PROFILE_RUN_MAX];
        if (!profile_registry_run(m->profile, now, m->job_id, base, sizeof base) ||
            snprintf(m->run, sizeof m->run, "%s/%s-%s", base, m->type, m->job_id) > 128) {
            return err_set_field(ei, ERR_INVALID, "params.run",
                                 "the profile's registry_run makes no run name for the master; "
                                 "name params.run");
        }
    }
    jobreg_uuid(m->id);
    return master_uri(m, ei);
}

/* The registry document (exposures, the raw frames, the master). */
static json_t *registration(const struct jobreg_master *m, char (*raw_ids)[37], uint64_t size,
                            const char *md5)
{
    char digest[80];
    jobreg_params_digest(m->params, digest, sizeof digest);
    json_t *exps = json_array(), *raws = json_array(), *inputs = json_array();
    json_t *doc = json_pack("{s:s,s:{s:[{s:s}],s:o},s:[{s:s,s:s,s:o},{s:s,s:s,s:[]}]}", "job_id",
                            m->job_id, "dimensions", "instruments", "name",
                            m->frames[0].instrument, "exposures", exps, "registrations", "run",
                            m->run, "dataset_type", "raw", "datasets", raws, "run", m->run,
                            "dataset_type", m->type, "datasets");
    if (!doc) {
        json_decref(inputs);
        return NULL;
    }
    for (size_t i = 0; i < m->n; i++) {
        const struct jobreg_file *f = &m->frames[i];
        char sum[40];
        snprintf(sum, sizeof sum, "md5:%s", f->md5);
        json_array_append_new(exps, json_pack("{s:s,s:I,s:s,s:s,s:s}", "instrument",
                                              f->instrument, "id", (json_int_t)f->exposure,
                                              "obs_id", f->obs_id, "begin", f->begin, "end",
                                              f->end));
        json_array_append_new(
            raws, json_pack("{s:s,s:{s:s,s:I},s:[{s:s,s:I,s:s}],s:{s:s,s:s,s:s}}", "id",
                            raw_ids[i], "data_id", "instrument", f->instrument, "exposure",
                            (json_int_t)f->exposure, "files", "uri", f->uri, "size",
                            (json_int_t)f->size, "checksum", sum, "provenance", "job_id",
                            m->job_id, "software_version", JOBREG_VERSION, "parameters_digest",
                            digest));
        json_array_append_new(inputs, json_string(raw_ids[i]));
    }
    char msum[40];
    snprintf(msum, sizeof msum, "md5:%s", md5);
    json_t *prov = json_pack("{s:s,s:s,s:s,s:o}", "job_id", m->job_id, "software_version",
                             JOBREG_VERSION, "parameters_digest", digest, "inputs", inputs);
    if (prov && m->bias_id && m->bias_id[0]) {
        json_object_set_new(prov, "references", json_pack("[s]", m->bias_id));
    }
    json_t *d = json_pack("{s:s,s:{s:s},s:[{s:s,s:I,s:s}],s:o}", "id", m->id, "data_id",
                          "instrument", m->frames[0].instrument, "files", "uri", m->uri, "size",
                          (json_int_t)size, "checksum", msum, "provenance", prov);
    json_t *regs = json_object_get(doc, "registrations");
    if (!d || json_array_append_new(json_object_get(json_array_get(regs, 1), "datasets"), d) != 0) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

enum err jobreg_master_register(struct reg *r, struct jobreg_master *m, uint64_t size,
                                const char *md5, json_t **out, struct err_info *ei)
{
    enum err e = ERR_OK;
    json_t *doc = NULL, *res = NULL;
    char(*raw_ids)[37] = calloc(m->n, sizeof *raw_ids);
    *out = NULL;
    if (!raw_ids) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < m->n; i++) {
        jobreg_uuid(raw_ids[i]);
    }
    for (int k = 0; k < 2 && e == ERR_OK; k++) {
        /* the raw frames' type and the master's (a calibration over the instrument) */
        json_t *t = k == 0 ? json_pack("{s:s,s:[s,s],s:s}", "name", "raw", "dimensions",
                                       "instrument", "exposure", "storage_class", "FITS")
                           : json_pack("{s:s,s:[s],s:s,s:b}", "name", m->type, "dimensions",
                                       "instrument", "storage_class", "FITS", "is_calibration",
                                       1);
        e = t ? reg_dataset_type_put(r, t, NULL, ei) : err_set(ei, ERR_NOMEM, "out of memory");
        json_decref(t);
    }
    if (e == ERR_OK) {
        doc = registration(m, raw_ids, size, md5);
        e = doc ? reg_register_job(r, doc, &res, ei) : err_set(ei, ERR_NOMEM, "out of memory");
    }
    m->already = e == ERR_OK && json_is_true(json_object_get(res, "already"));
    const json_t *regs = json_object_get(res, "registrations");
    if (m->already) {
        /* an earlier attempt's registration: its master's id and place */
        const char *old =
            json_string_value(json_array_get(json_object_get(json_array_get(regs, 1), "ids"), 0));
        if (old) {
            str_copy(m->id, sizeof m->id, old);
            e = master_uri(m, ei);
        }
    }
    if (e == ERR_OK) {
        *out = json_pack("{s:{s:s,s:s,s:s,s:I,s:s},s:s,s:O,s:[s*]}", "master", "id", m->id,
                         "type", m->type, "uri", m->uri, "size", (json_int_t)size, "md5", md5,
                         "run", m->run, "inputs", json_object_get(json_array_get(regs, 0), "ids"),
                         "references", m->bias_id && m->bias_id[0] ? m->bias_id : NULL);
        e = *out ? ERR_OK : err_set(ei, ERR_NOMEM, "out of memory");
    }
    free(raw_ids);
    json_decref(doc);
    json_decref(res);
    return e;
}

enum err jobreg_master_certify(struct reg *r, const struct jobreg_master *m,
                               const char *collection, const char *begin, const char *end,
                               json_t **out, struct err_info *ei)
{
    json_t *doc = json_pack("{s:s,s:s,s:[s]}", "collection", collection, "dataset_type", m->type,
                            "datasets", m->id);
    *out = NULL;
    if (doc && begin && begin[0]) {
        json_object_set_new(doc, "begin", json_string(begin));
    }
    if (doc && end && end[0]) {
        json_object_set_new(doc, "end", json_string(end));
    }
    enum err e = doc ? reg_certify(r, doc, out, ei) : err_set(ei, ERR_NOMEM, "out of memory");
    if (e == ERR_CONFLICT && m->already && strstr(ei->msg, m->id)) {
        /* an earlier attempt registered and certified it, then died before finishing */
        err_info_clear(ei);
        e = ERR_OK;
        *out = json_pack("{s:s,s:i,s:s?,s:s?,s:b}", "collection", collection, "certified", 1,
                         "begin", begin && begin[0] ? begin : NULL, "end",
                         end && end[0] ? end : NULL, "already", 1);
        e = *out ? ERR_OK : err_set(ei, ERR_NOMEM, "out of memory");
    }
    json_decref(doc);
    return e;
}
