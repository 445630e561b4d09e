/* profile.c - collection profiles (see profile.h). SPDX-License-Identifier: Apache-2.0 */
#include "profile/profile.h"

#include "calib/calib.h"
#include "core/cfgdir.h"
#include "expect/expect.h"
#include "registry/registry.h"

#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct profile_set {
    size_t n;
    struct profile *p;
    json_t **docs;  /* one parsed document per profile: its strings are borrowed */
    char **files;
};

/* The line (1-based) of top-level key @p key in @p text, or 1 when not found. */
static int key_line(const char *text, size_t len, const char *key)
{
    size_t kl = strlen(key);
    int line = 1;
    for (size_t i = 0; i < len; line++) {
        if (len - i > kl && strncmp(text + i, key, kl) == 0 &&
            (text[i + kl] == ':' || text[i + kl] == ' ')) {
            return line;
        }
        const char *nl = memchr(text + i, '\n', len - i);
        if (!nl) {
            break;
        }
        i = (size_t)(nl - text) + 1;
    }
    return 1;
}

struct src {
    const char *name, *text;
    size_t len;
};

#define FAIL(S, KEY, ...)                                                                    \
    do {                                                                                     \
        char m_[ERR_INFO_MSG_MAX];                                                           \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                                \
        return err_set(ei, ERR_INVALID, "%s:%d: %s", (S)->name,                               \
                       key_line((S)->text, (S)->len, (KEY)), m_);                             \
    } while (0)

static bool name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

static enum err
blueprint_ok(const struct src *s, const char *bp_dir, const char *bp, struct err_info *ei)
{
    if (!bp[0] || bp[0] == '/' || strstr(bp, "..") || bp[0] == '.' || strstr(bp, "/.")) {
        FAIL(s, "blueprints", "blueprints: \"%.64s\" is not a relative blueprint path", bp);
    }
    char path[4096];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/%s", bp_dir ? bp_dir : ".", bp) >= (int)sizeof path ||
        stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        FAIL(s, "blueprints", "blueprints: %.200s does not exist", path);
    }
    return ERR_OK;
}

/* @p name: a plain file name of <bp_dir>/../<sub>/ that exists. */
static enum err config_file_ok(const struct src *s, const char *key, const char *bp_dir,
                               const char *sub, const char *name, struct err_info *ei)
{
    if (strchr(name, '/') || name[0] == '.') {
        FAIL(s, key, "%s: \"%.64s\" is not a file name of %s/", key, name, sub);
    }
    char path[4096];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/../%s/%s", bp_dir ? bp_dir : ".", sub, name) >=
            (int)sizeof path ||
        stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        FAIL(s, key, "%s: %.200s does not exist", key, path);
    }
    return ERR_OK;
}

/* A number of the YAML document: numbers, or strings that read as one whole. */
static bool num_of(const json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return isfinite(*out);
    }
    if (!json_is_string(v)) {
        return false;
    }
    char *end = NULL;
    const char *t = json_string_value(v);
    *out = strtod(t, &end);
    return end != t && *end == '\0' && isfinite(*out);
}

/* ccd: {overscan, trim, gain, readnoise, arithmetic} (sections checked for their syntax) */
static enum err ccd_key(const struct src *s, json_t *v, struct profile *p,
                        struct err_info *ei)
{
    if (!json_is_object(v)) {
        FAIL(s, "ccd", "ccd must be a mapping of overscan, trim, gain, readnoise, arithmetic");
    }
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x)
    {
        if (strcmp(k, "overscan") == 0 || strcmp(k, "trim") == 0) {
            struct calib_section sec;
            struct err_info sei = {0};
            if (!json_is_string(x) ||
                calib_section_parse(json_string_value(x), 0, 0, &sec, &sei) != ERR_OK) {
                FAIL(s, "ccd", "ccd.%s must be a FITS section such as '[1:2048,1:350]'%s%s", k,
                     sei.msg[0] ? ": " : "", sei.msg);
            }
            *(k[0] == 'o' ? &p->ccd.overscan : &p->ccd.trim) = json_string_value(x);
        } else if (strcmp(k, "gain") == 0 || strcmp(k, "readnoise") == 0) {
            double d;
            bool gain = k[0] == 'g';
            if (!num_of(x, &d) || (gain ? !(d > 0) : d < 0)) {
                FAIL(s, "ccd", "ccd.%s must be a number %s", k, gain ? "> 0" : ">= 0");
            }
            if (gain) {
                p->ccd.has_gain = true;
                p->ccd.gain = d;
            } else {
                p->ccd.has_readnoise = true;
                p->ccd.readnoise = d;
            }
        } else if (strcmp(k, "arithmetic") == 0) {
            const char *a = json_string_value(x);
            if (!a || (strcmp(a, "ccdproc") != 0 && strcmp(a, "calacs") != 0)) {
                FAIL(s, "ccd", "ccd.arithmetic must be ccdproc or calacs");
            }
            p->ccd.ccdproc = strcmp(a, "ccdproc") == 0;
        } else {
            FAIL(s, "ccd", "ccd: unknown key \"%.64s\" (overscan, trim, gain, readnoise, "
                           "arithmetic)", k);
        }
    }
    if (p->ccd.ccdproc && p->ccd.has_readnoise && !p->ccd.has_gain) {
        FAIL(s, "ccd", "ccd: ccdproc arithmetic needs gain with readnoise (as ccd_process does)");
    }
    p->has_ccd = true;
    return ERR_OK;
}

/* calibrations: one collection name or a list of them (the search path, in order) */
static enum err calibrations_key(const struct src *s, const json_t *v, struct profile *p,
                                 struct err_info *ei)
{
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    if ((!json_is_array(v) && !json_is_string(v)) || n == 0 || n > PROFILE_CALIBS_MAX) {
        FAIL(s, "calibrations", "calibrations must be a collection name or a list of 1 to %d",
             PROFILE_CALIBS_MAX);
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *c = json_is_array(v) ? json_array_get(v, i) : v;
        if (!json_is_string(c) || !reg_collection_name_ok(json_string_value(c))) {
            FAIL(s, "calibrations",
                 "calibrations[%zu] is not a registry collection name (1 to 128 of "
                 "[A-Za-z0-9._/-])",
                 i);
        }
        p->calibrations[i] = json_string_value(c);
    }
    p->ncalibrations = n;
    return ERR_OK;
}

/* file_template: must make unique paths for every dataset type the profile makes */
static enum err template_key(const struct src *s, const json_t *v, struct profile *p,
                             struct err_info *ei)
{
    static const char *const exp_dims[] = {"instrument", "exposure", NULL};
    static const char *const cal_dims[] = {"instrument", NULL};
    struct reg_template *t = NULL;
    struct err_info tei = {0};
    if (!json_is_string(v)) {
        FAIL(s, "file_template", "file_template must be a string");
    }
    enum err e = reg_template_parse(json_string_value(v), &t, &tei);
    if (e == ERR_OK) {
        e = reg_template_check(t, exp_dims, "raw", &tei);
    }
    if (e == ERR_OK) {
        e = reg_template_check(t, cal_dims, "bias", &tei);
    }
    reg_template_free(t);
    if (e == ERR_NOMEM) {
        return err_set(ei, e, "out of memory");
    }
    if (e != ERR_OK) {
        FAIL(s, "file_template", "file_template: %s", tei.msg);
    }
    p->file_template = json_string_value(v);
    return ERR_OK;
}

static enum err one_key(const struct src *s, const char *k, json_t *v, const char *bp_dir,
                        struct profile *p, struct err_info *ei)
{
    static const struct {
        const char *key;
        size_t off;
    } strs[] = {
        {"name", offsetof(struct profile, name)},
        {"collection", offsetof(struct profile, collection)},
        {"scheme", offsetof(struct profile, scheme)},
        {"queue", offsetof(struct profile, queue)},
        {"instrument", offsetof(struct profile, instrument)},
        {"dataset_rule", offsetof(struct profile, dataset_rule)},
        {"output", offsetof(struct profile, output)},
        {"missing_reference", offsetof(struct profile, missing_reference)},
        {"reference_catalog", offsetof(struct profile, reference_catalog)},
        {"expectations", offsetof(struct profile, expectations)},
        {"registry_run", offsetof(struct profile, registry_run)},
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        if (strcmp(k, strs[i].key) == 0) {
            if (!json_is_string(v) || json_string_length(v) == 0) {
                FAIL(s, k, "%s must be a non-empty string", k);
            }
            *(const char **)(void *)((char *)p + strs[i].off) = json_string_value(v);
            if (strcmp(k, "reference_catalog") == 0 || strcmp(k, "expectations") == 0) {
                /* a file of <config>/references/ or <config>/expectations/ (beside blueprints/) */
                return config_file_ok(s, k, bp_dir,
                                      k[0] == 'r' ? "references" : "expectations",
                                      json_string_value(v), ei);
            }
            if (strcmp(k, "registry_run") == 0) {
                char run[PROFILE_RUN_MAX];
                if (!profile_registry_run(p, 0, "01234567-89ab-7def-8123-456789abcdef", run, sizeof run)) {
                    FAIL(s, k,
                         "registry_run must make a collection name: 1 to 128 of "
                         "[A-Za-z0-9._/-], {date} and {job} the only fields");
                }
            }
            return ERR_OK;
        }
    }
    if (strcmp(k, "previews") == 0) {
        if (!json_is_boolean(v)) {
            FAIL(s, k, "previews must be true or false");
        }
        p->has_previews = true;
        p->previews = json_is_true(v);
        return ERR_OK;
    }
    if (strcmp(k, "compute") == 0) {
        if (!json_is_boolean(v)) {
            FAIL(s, k, "compute must be true or false");
        }
        p->has_compute = true;
        p->compute = json_is_true(v);
        return ERR_OK;
    }
    if (strcmp(k, "ccd") == 0) {
        return ccd_key(s, v, p, ei);
    }
    if (strcmp(k, "calibrations") == 0) {
        return calibrations_key(s, v, p, ei);
    }
    if (strcmp(k, "file_template") == 0) {
        return template_key(s, v, p, ei);
    }
    if (strcmp(k, "blueprints") == 0) {
        if (!json_is_array(v) || json_array_size(v) == 0 ||
            json_array_size(v) > PROFILE_BLUEPRINTS_MAX) {
            FAIL(s, k, "blueprints must be a list of 1 to %d file names", PROFILE_BLUEPRINTS_MAX);
        }
        for (size_t i = 0; i < json_array_size(v); i++) {
            const json_t *b = json_array_get(v, i);
            if (!json_is_string(b)) {
                FAIL(s, k, "blueprints[%zu] must be a string", i);
            }
            enum err e = blueprint_ok(s, bp_dir, json_string_value(b), ei);
            if (e != ERR_OK) {
                return e;
            }
            p->blueprints[p->nbp++] = json_string_value(b);
        }
        return ERR_OK;
    }
    FAIL(s, k, "unknown key \"%.64s\"", k);
}

static enum err parse_one(const struct src *s, const char *bp_dir, json_t **doc_out,
                          struct profile *p, struct err_info *ei)
{
    json_t *doc = NULL;
    enum err e = expect_yaml_parse(s->text, s->len, &doc, ei);
    if (e != ERR_OK) {
        /* the wrapper says "line N column M: ..." */
        char m[ERR_INFO_MSG_MAX];
        unsigned long line = 0;
        snprintf(m, sizeof m, "%s", ei->msg);
        if (sscanf(m, "line %lu", &line) == 1) {
            const char *rest = strchr(m, ':');
            return err_set(ei, e, "%s:%lu%s", s->name, line, rest ? rest : ": invalid YAML");
        }
        return err_set(ei, e, "%s:1: %s", s->name, m);
    }
    memset(p, 0, sizeof *p);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return err_set(ei, ERR_INVALID, "%s:1: a profile must be a YAML mapping", s->name);
    }
    const char *k;
    json_t *v;
    json_object_foreach(doc, k, v)
    {
        if ((e = one_key(s, k, v, bp_dir, p, ei)) != ERR_OK) {
            json_decref(doc);
            return e;
        }
    }
    e = ERR_INVALID;
    if (!p->name) {
        err_set(ei, e, "%s:1: missing required key \"name\"", s->name);
    } else if (!name_ok(p->name, PROFILE_NAME_MAX)) {
        err_set(ei, e, "%s:%d: name \"%.64s\" is not a profile name (1 to %d of [A-Za-z0-9._-])",
                s->name, key_line(s->text, s->len, "name"), p->name, PROFILE_NAME_MAX);
    } else if (!p->collection) {
        err_set(ei, e, "%s:1: missing required key \"collection\"", s->name);
    } else if (!name_ok(p->collection, 128)) {
        err_set(ei, e, "%s:%d: collection \"%.64s\" is not a collection name ([A-Za-z0-9._-])",
                s->name, key_line(s->text, s->len, "collection"), p->collection);
    } else if (p->missing_reference && strcmp(p->missing_reference, "fail") != 0 &&
               strcmp(p->missing_reference, "skip") != 0) {
        err_set(ei, e, "%s:%d: missing_reference must be fail or skip, not \"%.32s\"", s->name,
                key_line(s->text, s->len, "missing_reference"), p->missing_reference);
    } else if (p->ncalibrations && !p->has_ccd) {
        /* the registry's calibrations serve ground CCD frames: silently unused otherwise */
        err_set(ei, e, "%s:%d: calibrations needs a ccd section (the registry's bias and flat "
                       "calibrate ground CCD frames)",
                s->name, key_line(s->text, s->len, "calibrations"));
    } else if (p->output && !strstr(p->output, "{dataset}")) {
        err_set(ei, e, "%s:%d: output must hold {dataset}", s->name,
                key_line(s->text, s->len, "output"));
    } else {
        e = ERR_OK;
        if (p->dataset_rule) {
            regex_t re;
            if (regcomp(&re, p->dataset_rule, REG_EXTENDED | REG_NOSUB) != 0) {
                e = err_set(ei, ERR_INVALID, "%s:%d: dataset_rule is not a valid regex",
                            s->name, key_line(s->text, s->len, "dataset_rule"));
            } else {
                regfree(&re);
            }
        }
    }
    if (e != ERR_OK) {
        json_decref(doc);
        return e;
    }
    *doc_out = doc;
    return ERR_OK;
}

static enum err set_add(struct profile_set *s, const struct src *src, const char *bp_dir,
                        struct err_info *ei)
{
    struct profile p;
    json_t *doc = NULL;
    enum err e = parse_one(src, bp_dir, &doc, &p, ei);
    if (e != ERR_OK) {
        return e;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->p[i].name, p.name) == 0) {
            e = err_set(ei, ERR_INVALID, "%s:%d: duplicate profile name \"%s\" (also in %s)",
                        src->name, key_line(src->text, src->len, "name"), p.name, s->p[i].file);
            json_decref(doc);
            return e;
        }
    }
    struct profile *np = realloc(s->p, (s->n + 1) * sizeof *np);
    if (np) {
        s->p = np;
    }
    json_t **nd = realloc(s->docs, (s->n + 1) * sizeof *nd);
    if (nd) {
        s->docs = nd;
    }
    char **nf = realloc(s->files, (s->n + 1) * sizeof *nf);
    if (nf) {
        s->files = nf;
    }
    char *file = strdup(src->name);
    if (!np || !nd || !nf || !file) {
        free(file);
        json_decref(doc);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    p.file = file;
    s->p[s->n] = p;
    s->docs[s->n] = doc;
    s->files[s->n] = file;
    s->n++;
    return ERR_OK;
}

enum err profile_set_parse(const char *yaml, size_t len, const char *name,
                           const char *blueprint_dir, struct profile_set **out,
                           struct err_info *ei)
{
    *out = NULL;
    struct profile_set *s = calloc(1, sizeof *s);
    if (!s) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    struct src src = {.name = name ? name : "profile", .text = yaml, .len = len};
    enum err e = set_add(s, &src, blueprint_dir, ei);
    if (e != ERR_OK) {
        profile_set_destroy(s);
        return e;
    }
    *out = s;
    return ERR_OK;
}

enum err profile_set_load_dir(const char *dir, const char *blueprint_dir,
                              struct profile_set **out, struct err_info *ei)
{
    *out = NULL;
    struct profile_set *s = calloc(1, sizeof *s);
    if (!s) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    char **names = NULL;
    size_t nn = 0;
    enum err e = cfgdir_yaml_names(dir, PROFILE_FILES_MAX, "profiles", &names, &nn, ei);
    if (e == ERR_NOT_FOUND) {
        *out = s;
        return ERR_OK;
    }
    if (e != ERR_OK) {
        free(s);
        return e;
    }
    for (size_t i = 0; i < nn && e == ERR_OK; i++) {
        char path[4096];
        char *text = NULL;
        size_t len = 0;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if ((e = cfgdir_read(path, EXPECT_FILE_MAX, &text, &len, ei)) == ERR_OK) {
            struct src src = {.name = path, .text = text, .len = len};
            e = set_add(s, &src, blueprint_dir, ei);
            free(text);
        }
    }
    cfgdir_names_free(names, nn);
    if (e != ERR_OK) {
        profile_set_destroy(s);
        return e;
    }
    *out = s;
    return ERR_OK;
}

void profile_set_destroy(struct profile_set *s)
{
    if (!s) {
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        json_decref(s->docs[i]);
        free(s->files[i]);
    }
    free(s->p);
    free(s->docs);
    free(s->files);
    free(s);
}

size_t profile_set_count(const struct profile_set *s)
{
    return s ? s->n : 0;
}

const struct profile *profile_set_at(const struct profile_set *s, size_t i)
{
    return s && i < s->n ? &s->p[i] : NULL;
}

const struct profile *profile_set_find(const struct profile_set *s, const char *name)
{
    for (size_t i = 0; s && name && i < s->n; i++) {
        if (strcmp(s->p[i].name, name) == 0) {
            return &s->p[i];
        }
    }
    return NULL;
}

static int set_str(json_t *o, const char *k, const char *v)
{
    return v ? json_object_set_new(o, k, json_string(v)) : 0;
}

json_t *profile_set_json(const struct profile_set *s)
{
    json_t *arr = json_array();
    json_t *root = json_pack("{s:o}", "profiles", arr);
    if (!root) {
        return NULL;
    }
    for (size_t i = 0; i < profile_set_count(s); i++) {
        const struct profile *p = &s->p[i];
        json_t *o = json_object();
        json_t *bps = json_array();
        if (!o || !bps || json_array_append_new(arr, o) != 0) {
            json_decref(bps);
            json_decref(root);
            return NULL;
        }
        for (size_t j = 0; j < p->nbp; j++) {
            json_array_append_new(bps, json_string(p->blueprints[j]));
        }
        int rc = set_str(o, "name", p->name) | set_str(o, "collection", p->collection) |
                 set_str(o, "scheme", p->scheme) | json_object_set_new(o, "blueprints", bps) |
                 set_str(o, "queue", p->queue) | set_str(o, "instrument", p->instrument) |
                 set_str(o, "dataset_rule", p->dataset_rule) | set_str(o, "output", p->output) |
                 set_str(o, "missing_reference", p->missing_reference) |
                 set_str(o, "reference_catalog", p->reference_catalog) |
                 set_str(o, "expectations", p->expectations) |
                 set_str(o, "registry_run", p->registry_run) |
                 set_str(o, "file_template", p->file_template);
        if (p->ncalibrations) {
            json_t *cs = json_array();
            for (size_t j = 0; cs && j < p->ncalibrations; j++) {
                json_array_append_new(cs, json_string(p->calibrations[j]));
            }
            rc |= json_object_set_new(o, "calibrations", cs);
        }
        if (p->has_ccd) {
            json_t *c = json_pack("{s:s}", "arithmetic", p->ccd.ccdproc ? "ccdproc" : "calacs");
            rc |= set_str(c, "overscan", p->ccd.overscan) | set_str(c, "trim", p->ccd.trim);
            if (c && p->ccd.has_gain) {
                rc |= json_object_set_new(c, "gain", json_real(p->ccd.gain));
            }
            if (c && p->ccd.has_readnoise) {
                rc |= json_object_set_new(c, "readnoise", json_real(p->ccd.readnoise));
            }
            rc |= json_object_set_new(o, "ccd", c);
        }
        if (p->has_previews) {
            rc |= json_object_set_new(o, "previews", json_boolean(p->previews));
        }
        if (p->has_compute) {
            rc |= json_object_set_new(o, "compute", json_boolean(p->compute));
        }
        if (rc != 0) {
            json_decref(root);
            return NULL;
        }
    }
    return root;
}

bool profile_registry_run(const struct profile *p, time_t now, const char *job, char *out,
                          size_t cap)
{
    const char *t = p ? p->registry_run : NULL;
    struct tm tm;
    char day[16];
    size_t n = 0;
    if (!t || cap == 0 || !gmtime_r(&now, &tm) ||
        strftime(day, sizeof day, "%Y-%m-%d", &tm) == 0) {
        return false;
    }
    while (*t) {
        const char *piece = t;
        size_t len = 1;
        if (*t == '{') {
            if (strncmp(t, "{date}", 6) == 0) {
                piece = day;
                t += 6;
            } else if (strncmp(t, "{job}", 5) == 0 && job && *job) {
                piece = job;
                t += 5;
            } else {
                return false;
            }
            len = strlen(piece);
        } else {
            bool ok = (*t >= 'A' && *t <= 'Z') || (*t >= 'a' && *t <= 'z') ||
                      (*t >= '0' && *t <= '9') || strchr("._/-", *t) != NULL;
            if (!ok) {
                return false;
            }
            t++;
        }
        if (n + len >= cap || n + len > 128) {
            return false;
        }
        memcpy(out + n, piece, len);
        n += len;
    }
    out[n] = '\0';
    return n > 0;
}
