/* blueprint.c - blueprint rules: storage (hash by element and extension), the default
 * blueprint, per-axis configuration, the file parser and rule evaluation.
 * SPDX-License-Identifier: Apache-2.0 */
#include "blueprint/blueprint.h"

#include "blueprint/bp_int.h"

#include "core/buf.h"
#include "core/str.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_elements[] = {
#include "blueprint/bp_elements.inc"
};

struct bp {
    struct bp_rule *rules;  /* owned rules (strings owned too) */
    size_t n, cap;
    int32_t *slots;         /* hash of (key, extension, artifact) -> rule index, -1 empty */
    bool has_art;           /* some rule is limited to one artifact */
    bool has_ext;           /* some rule is limited to one extension */
    unsigned prefixes;      /* PFX_* bits: which of k_prefixes some rule's key starts with */
    char *cur_art;          /* while loading: the "artifact URI:" section, NULL outside one */
    char *cur_dir;          /* while loading a file: its directory (lookup table paths) */
    struct bp_table *tables[BP_MAX_TABLES]; /* "table NAME = 'file.csv'" */
    size_t ntables;
    char *vars[BP_MAX_VARS]; /* names of let variables (any scope) */
    size_t nvars;
    size_t nslots;          /* power of two */
    uint64_t keybits[8];    /* bit (key hash % 512) set for every rule's key: a clear bit
                               answers "no rule" without the artifact's hash and the probes */
};

/* prefixes f2c_build asks about for every document: answered from bits kept by put_rule
 * instead of a scan of every rule */
static const char *const k_prefixes[] = {"Header.", "DerivedObservation.", "CompositeObservation."};

static unsigned prefix_bits(const char *key)
{
    unsigned bits = 0;
    for (size_t i = 0; i < ARRAY_LEN(k_prefixes); i++) {
        if (strncmp(key, k_prefixes[i], strlen(k_prefixes[i])) == 0) {
            bits |= 1u << i;
        }
    }
    return bits;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool is_keyword_name(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (!(isupper(c) || isdigit(c) || c == '-' || c == '_')) {
            return false;
        }
    }
    return n > 0 && n <= 8;
}

bool bp__has_var(const struct bp *b, const char *name)
{
    for (size_t i = 0; b && i < b->nvars; i++) {
        if (strcmp(b->vars[i], name) == 0) {
            return true;
        }
    }
    return false;
}

const struct bp_table *bp__table(const struct bp *b, const char *name)
{
    for (size_t i = 0; b && i < b->ntables; i++) {
        if (strcmp(bpt_name(b->tables[i]), name) == 0) {
            return b->tables[i];
        }
    }
    return NULL;
}

bool bp_is_element(const char *key)
{
    if (!key) {
        return false;
    }
    if (strncmp(key, "Header.", 7) == 0) {
        return is_keyword_name(key + 7);
    }
    return bsearch(&key, k_elements, ARRAY_LEN(k_elements), sizeof k_elements[0], cmp_str) != NULL;
}

/* string hash for the rule table, eight bytes per step (a byte-wise FNV was a tenth of the
 * header -> CAOM time: bp_get_art hashes element paths and artifact URIs ~150 times a document) */
static uint32_t fnv(const char *s)
{
    const uint64_t k1 = 0xff51afd7ed558ccdULL;
    const uint64_t k2 = 0xc4ceb9fe1a85ec53ULL;
    if (!s) {
        return 0;
    }
    size_t n = strlen(s);
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * k1;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    memcpy(&w, s + i, n - i);
    h = (h ^ w) * k2;
    h ^= h >> 29;
    return (uint32_t)h;
}

/* slot hash from the key's and the artifact's FNV hashes and the extension */
static uint32_t mix(uint32_t hkey, int ext, uint32_t hart)
{
    uint32_t h = (hkey ^ (uint32_t)(ext + 1)) * 16777619u;
    return (h ^ hart) * 2654435761u;
}

static uint32_t hash_key(const char *key, int ext, const char *art)
{
    return mix(fnv(key), ext, art ? fnv(art) : 0);
}

static bool same_art(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int32_t find_hashed(const struct bp *b, const char *key, uint32_t hkey, int ext,
                           const char *art, uint32_t hart)
{
    if (!b->slots) {
        return -1;
    }
    size_t mask = b->nslots - 1;
    for (size_t i = mix(hkey, ext, art ? hart : 0) & mask;; i = (i + 1) & mask) {
        int32_t r = b->slots[i];
        if (r < 0) {
            return -1;
        }
        if (b->rules[r].extension == ext && same_art(b->rules[r].artifact, art) &&
            strcmp(b->rules[r].key, key) == 0) {
            return r;
        }
    }
}

static int32_t find_index(const struct bp *b, const char *key, int ext, const char *art)
{
    return find_hashed(b, key, fnv(key), ext, art, art ? fnv(art) : 0);
}

static enum err rehash(struct bp *b, size_t nslots)
{
    int32_t *s = malloc(nslots * sizeof *s);
    if (!s) {
        return ERR_NOMEM;
    }
    for (size_t i = 0; i < nslots; i++) {
        s[i] = -1;
    }
    for (size_t r = 0; r < b->n; r++) {
        size_t i = hash_key(b->rules[r].key, b->rules[r].extension, b->rules[r].artifact) &
                   (nslots - 1);
        while (s[i] >= 0) {
            i = (i + 1) & (nslots - 1);
        }
        s[i] = (int32_t)r;
    }
    free(b->slots);
    b->slots = s;
    b->nslots = nslots;
    return ERR_OK;
}

static void rule_clear(struct bp_rule *r)
{
    free(r->key);
    for (size_t i = 0; i < r->nkeywords; i++) {
        free(r->keywords[i]);
    }
    free(r->keywords);
    free(r->deflt);
    free(r->literal);
    free(r->func);
    bpx_free(r->expr);
    free(r->file);
    free(r->artifact);
    memset(r, 0, sizeof *r);
}

void bp_free(struct bp *b)
{
    if (!b) {
        return;
    }
    for (size_t i = 0; i < b->n; i++) {
        rule_clear(&b->rules[i]);
    }
    free(b->rules);
    free(b->slots);
    free(b->cur_art);
    free(b->cur_dir);
    for (size_t i = 0; i < b->ntables; i++) {
        bpt_free(b->tables[i]);
    }
    for (size_t i = 0; i < b->nvars; i++) {
        free(b->vars[i]);
    }
    free(b);
}

/* Store @p r (takes its strings). Replaces an existing rule of the same key and extension. */
static enum err put_rule(struct bp *b, struct bp_rule *r, struct err_info *ei)
{
    int32_t at = find_index(b, r->key, r->extension, r->artifact);
    if (at >= 0) {
        rule_clear(&b->rules[at]);
        b->rules[at] = *r;
        memset(r, 0, sizeof *r);
        return ERR_OK;
    }
    if (b->n >= BP_MAX_RULES) {
        rule_clear(r);
        return err_set(ei, ERR_TOO_LARGE, "blueprint has more than %d rules", BP_MAX_RULES);
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 128;
        struct bp_rule *p = realloc(b->rules, cap * sizeof *p);
        if (!p) {
            rule_clear(r);
            return err_set(ei, ERR_NOMEM, "out of memory building a blueprint");
        }
        b->rules = p;
        b->cap = cap;
    }
    b->rules[b->n++] = *r;
    memset(r, 0, sizeof *r);
    if (b->n * 2 > b->nslots) {
        if (rehash(b, b->nslots ? b->nslots * 2 : 256) != ERR_OK) {
            b->n--;
            rule_clear(&b->rules[b->n]);
            return err_set(ei, ERR_NOMEM, "out of memory building a blueprint");
        }
    } else {
        const struct bp_rule *nr = &b->rules[b->n - 1];
        size_t i = hash_key(nr->key, nr->extension, nr->artifact) & (b->nslots - 1);
        while (b->slots[i] >= 0) {
            i = (i + 1) & (b->nslots - 1);
        }
        b->slots[i] = (int32_t)(b->n - 1);
    }
    const struct bp_rule *added = &b->rules[b->n - 1];
    uint32_t hk = fnv(added->key);
    b->keybits[(hk >> 6) & 7] |= UINT64_C(1) << (hk & 63);
    b->has_art = b->has_art || added->artifact != NULL;
    b->has_ext = b->has_ext || added->extension >= 0;
    b->prefixes |= prefix_bits(added->key);
    return ERR_OK;
}

static enum err make_rule(const struct bp *b, struct bp_rule *r, const char *key,
                          enum bp_kind kind, int ext, bool user, const char *file, int line)
{
    memset(r, 0, sizeof *r);
    r->key = str_dup(key);
    r->file = str_dup(file ? file : "");
    if (user && b->cur_art) {
        r->artifact = str_dup(b->cur_art);
        if (!r->artifact) {
            return ERR_NOMEM;
        }
    }
    r->kind = kind;
    r->extension = ext;
    r->user = user;
    r->line = line;
    return (r->key && r->file) ? ERR_OK : ERR_NOMEM;
}

static enum err set_lookup(struct bp *b, const char *key, const char *const *kw, size_t n,
                           const char *deflt, int ext, bool user, const char *file, int line,
                           struct err_info *ei)
{
    struct bp_rule r;
    enum err e = make_rule(b, &r, key, BP_LOOKUP, ext, user, file, line);
    if (e == ERR_OK && n > 0) {
        r.keywords = calloc(n, sizeof *r.keywords);
        if (!r.keywords) {
            e = ERR_NOMEM;
        }
        for (size_t i = 0; e == ERR_OK && i < n; i++) {
            r.keywords[i] = str_dup(kw[i]);
            r.nkeywords = i + 1;
            if (!r.keywords[i]) {
                e = ERR_NOMEM;
            }
        }
    }
    if (e == ERR_OK && deflt) {
        r.deflt = str_dup(deflt);
        if (!r.deflt) {
            e = ERR_NOMEM;
        }
    }
    if (e != ERR_OK) {
        rule_clear(&r);
        return err_set(ei, e, "out of memory building a blueprint");
    }
    return put_rule(b, &r, ei);
}

static enum err set_literal(struct bp *b, const char *key, const char *value, int ext, bool user,
                            const char *file, int line, struct err_info *ei)
{
    struct bp_rule r;
    enum err e = make_rule(b, &r, key, BP_LITERAL, ext, user, file, line);
    if (e == ERR_OK) {
        r.literal = str_dup(value);
        if (!r.literal) {
            e = ERR_NOMEM;
        }
    }
    if (e != ERR_OK) {
        rule_clear(&r);
        return err_set(ei, e, "out of memory building a blueprint");
    }
    return put_rule(b, &r, ei);
}

/* an expression rule: compiled now, so a syntax error names the file and line at load */
static enum err set_expr(struct bp *b, const char *key, const char *text, int ext,
                         const char *file, int line, struct err_info *ei)
{
    struct bp_rule r;
    struct bp_expr *x = NULL;
    enum err e = bpx_compile(b, text, file, line, key, &x, ei);
    if (e != ERR_OK) {
        return e;
    }
    e = make_rule(b, &r, key, BP_EXPR, ext, true, file, line);
    r.expr = x;
    if (e == ERR_OK && !(r.literal = str_dup(text))) {
        e = ERR_NOMEM;
    }
    if (e != ERR_OK) {
        rule_clear(&r);
        return err_set(ei, e, "out of memory building a blueprint");
    }
    return put_rule(b, &r, ei);
}

enum err bp_set_literal(struct bp *b, const char *key, const char *value, int extension,
                        struct err_info *ei)
{
    if (!bp_is_element(key)) {
        return err_set_field(ei, ERR_INVALID, key, "unrecognized blueprint element \"%s\"", key);
    }
    return set_literal(b, key, value, extension, true, "", 0, ei);
}

enum err bp_set_lookup(struct bp *b, const char *key, const char *const *keywords, size_t n,
                       const char *deflt, int extension, struct err_info *ei)
{
    if (!bp_is_element(key)) {
        return err_set_field(ei, ERR_INVALID, key, "unrecognized blueprint element \"%s\"", key);
    }
    if (n > BP_MAX_KEYWORDS) {
        return err_set_field(ei, ERR_TOO_LARGE, key, "more than %d keywords", BP_MAX_KEYWORDS);
    }
    return set_lookup(b, key, keywords, n, deflt, extension, true, "", 0, ei);
}

const struct bp_rule *bp_get_art(const struct bp *b, const char *key, int hdu, const char *uri)
{
    int32_t i = -1;
    uint32_t hk = fnv(key);
    if (!(b->keybits[(hk >> 6) & 7] & (UINT64_C(1) << (hk & 63)))) {
        return NULL;
    }
    if (uri && b->has_art) {
        uint32_t ha = fnv(uri);
        i = hdu >= 0 && b->has_ext ? find_hashed(b, key, hk, hdu, uri, ha) : -1;
        if (i < 0) {
            i = find_hashed(b, key, hk, -1, uri, ha);
        }
    }
    if (i < 0 && hdu >= 0 && b->has_ext) {
        i = find_hashed(b, key, hk, hdu, NULL, 0);
    }
    if (i < 0) {
        i = find_hashed(b, key, hk, -1, NULL, 0);
    }
    return i >= 0 ? &b->rules[i] : NULL;
}

const struct bp_rule *bp_get(const struct bp *b, const char *key, int hdu)
{
    return bp_get_art(b, key, hdu, NULL);
}

size_t bp_rule_count(const struct bp *b)
{
    return b->n;
}

const struct bp_rule *bp_rule_at(const struct bp *b, size_t i)
{
    return i < b->n ? &b->rules[i] : NULL;
}

bool bp_has_prefix(const struct bp *b, const char *prefix)
{
    for (size_t i = 0; i < ARRAY_LEN(k_prefixes); i++) {
        if (strcmp(prefix, k_prefixes[i]) == 0) {
            return (b->prefixes & (1u << i)) != 0;
        }
    }
    size_t n = strlen(prefix);
    for (size_t i = 0; i < b->n; i++) {
        if (strncmp(b->rules[i].key, prefix, n) == 0) {
            return true;
        }
    }
    return false;
}

/* ---- default blueprint and per-axis configuration ----------------------------------------- */

#define KW(...) ((const char *const[]){__VA_ARGS__})
#define NKW(...) (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))
#define LOOKUP(key, dflt, ...) set_lookup(b, key, KW(__VA_ARGS__), NKW(__VA_ARGS__), dflt, -1, \
                                          false, "", 0, ei)

enum err bp_new(struct bp **out, struct err_info *ei)
{
    struct bp *b = calloc(1, sizeof *b);
    enum err e = ERR_OK;
    if (!b) {
        return err_set(ei, ERR_NOMEM, "out of memory building a blueprint");
    }
    if ((e = LOOKUP("Observation.metaRelease", NULL, "DATE", "DATE-OBS", "UTCOBS", "UTCDATE",
                    "UTC-DATE", "MJDOBS", "MJD_OBS")) ||
        (e = LOOKUP("Observation.instrument.name", NULL, "INSTRUME")) ||
        (e = LOOKUP("Observation.instrument.keywords", NULL, "INSTMODE")) ||
        (e = LOOKUP("Observation.type", NULL, "OBSTYPE")) ||
        (e = LOOKUP("Observation.environment.ambientTemp", NULL, "TEMPERAT")) ||
        (e = LOOKUP("Observation.algorithm.name", "exposure", "PROCNAME")) ||
        (e = LOOKUP("Observation.proposal.id", NULL, "RUNID")) ||
        (e = LOOKUP("Observation.target.name", NULL, "OBJECT")) ||
        (e = LOOKUP("Observation.telescope.name", NULL, "TELESCOP")) ||
        (e = LOOKUP("Observation.telescope.geoLocationX", NULL, "OBSGEO-X")) ||
        (e = LOOKUP("Observation.telescope.geoLocationY", NULL, "OBSGEO-Y")) ||
        (e = LOOKUP("Observation.telescope.geoLocationZ", NULL, "OBSGEO-Z")) ||
        (e = LOOKUP("Observation.observationID", NULL, "OBSID")) ||
        (e = set_lookup(b, "Plane.calibrationLevel", NULL, 0, "1", -1, false, "", 0, ei)) ||
        (e = set_lookup(b, "Plane.dataProductType", NULL, 0, "image", -1, false, "", 0, ei)) ||
        (e = LOOKUP("Plane.metaRelease", NULL, "RELEASE", "REL_DATE")) ||
        (e = LOOKUP("Plane.dataRelease", NULL, "RELEASE", "REL_DATE")) ||
        (e = LOOKUP("Plane.productID", NULL, "RUNID")) ||
        (e = LOOKUP("Plane.provenance.name", NULL, "XPRVNAME")) ||
        (e = LOOKUP("Plane.provenance.project", NULL, "ADC_ARCH")) ||
        (e = LOOKUP("Plane.provenance.producer", NULL, "ORIGIN")) ||
        (e = LOOKUP("Plane.provenance.reference", NULL, "XREFER")) ||
        (e = LOOKUP("Plane.provenance.lastExecuted", NULL, "DATE-FTS")) ||
        (e = set_lookup(b, "Artifact.releaseType", NULL, 0, "data", -1, false, "", 0, ei)) ||
        (e = set_literal(b, "Chunk", "include", -1, false, "", 0, ei))) {
        bp_free(b);
        return e;
    }
    *out = b;
    return ERR_OK;
}

/* configure one element: keyword "<pfx><i>" unless a user rule names it already */
static enum err conf(struct bp *b, const char *key, const char *kw1, const char *kw2,
                     struct err_info *ei)
{
    const struct bp_rule *r = bp_get(b, key, -1);
    const char *kws[2] = {kw1, kw2};
    if (r && r->user) {
        return ERR_OK;
    }
    return set_lookup(b, key, kws, kw2 ? 2 : 1, NULL, -1, false, "", 0, ei);
}

static enum err confn(struct bp *b, const char *key, const char *pfx, int i, struct err_info *ei)
{
    char kw[24];
    snprintf(kw, sizeof kw, "%s%d", pfx, i);
    return conf(b, key, kw, NULL, ei);
}

static enum err confnn(struct bp *b, const char *key, int i, int j, struct err_info *ei)
{
    char kw[24];
    snprintf(kw, sizeof kw, "CD%d_%d", i, j);
    return conf(b, key, kw, NULL, ei);
}

static bool bad_axis(int i)
{
    return i < 1 || i > 99;
}

enum err bp_configure_position(struct bp *b, int i, int j, struct err_info *ei)
{
    enum err e;
    char z1[24], n1[24], z2[24], n2[24];
    if (bad_axis(i) || bad_axis(j) || i == j) {
        return err_set(ei, ERR_INVALID, "invalid position axes %d, %d", i, j);
    }
    snprintf(z1, sizeof z1, "ZNAXIS%d", i);
    snprintf(n1, sizeof n1, "NAXIS%d", i);
    snprintf(z2, sizeof z2, "ZNAXIS%d", j);
    snprintf(n2, sizeof n2, "NAXIS%d", j);
    if ((e = conf(b, "Chunk.position.coordsys", "RADESYS", NULL, ei)) ||
        (e = conf(b, "Chunk.position.equinox", "EQUINOX", "EPOCH", ei)) ||
        (e = confn(b, "Chunk.position.axis.axis1.ctype", "CTYPE", i, ei)) ||
        (e = confn(b, "Chunk.position.axis.axis1.cunit", "CUNIT", i, ei)) ||
        (e = confn(b, "Chunk.position.axis.axis2.ctype", "CTYPE", j, ei)) ||
        (e = confn(b, "Chunk.position.axis.axis2.cunit", "CUNIT", j, ei)) ||
        (e = confn(b, "Chunk.position.axis.error1.syser", "CSYER", i, ei)) ||
        (e = confn(b, "Chunk.position.axis.error1.rnder", "CRDER", i, ei)) ||
        (e = confn(b, "Chunk.position.axis.error2.syser", "CSYER", j, ei)) ||
        (e = confn(b, "Chunk.position.axis.error2.rnder", "CRDER", j, ei)) ||
        (e = confnn(b, "Chunk.position.axis.function.cd11", i, i, ei)) ||
        (e = confnn(b, "Chunk.position.axis.function.cd12", i, j, ei)) ||
        (e = confnn(b, "Chunk.position.axis.function.cd21", j, i, ei)) ||
        (e = confnn(b, "Chunk.position.axis.function.cd22", j, j, ei)) ||
        (e = conf(b, "Chunk.position.axis.function.dimension.naxis1", z1, n1, ei)) ||
        (e = conf(b, "Chunk.position.axis.function.dimension.naxis2", z2, n2, ei)) ||
        (e = confn(b, "Chunk.position.axis.function.refCoord.coord1.pix", "CRPIX", i, ei)) ||
        (e = confn(b, "Chunk.position.axis.function.refCoord.coord1.val", "CRVAL", i, ei)) ||
        (e = confn(b, "Chunk.position.axis.function.refCoord.coord2.pix", "CRPIX", j, ei)) ||
        (e = confn(b, "Chunk.position.axis.function.refCoord.coord2.val", "CRVAL", j, ei))) {
        return e;
    }
    return ERR_OK;
}

/* the six axis lookups every 1-D axis gets */
static enum err conf_axis1d(struct bp *b, const char *pfx, int i, bool errors, struct err_info *ei)
{
    static const char *const el[] = {"axis.ctype", "axis.cunit", "function.naxis",
                                     "function.delta", "function.refCoord.pix",
                                     "function.refCoord.val", "error.syser", "error.rnder"};
    static const char *const kw[] = {"CTYPE", "CUNIT", "NAXIS", "CDELT", "CRPIX", "CRVAL",
                                     "CSYER", "CRDER"};
    char key[96];
    size_t n = errors ? ARRAY_LEN(el) : 6;
    for (size_t k = 0; k < n; k++) {
        snprintf(key, sizeof key, "Chunk.%s.axis.%s", pfx, el[k]);
        enum err e = confn(b, key, kw[k], i, ei);
        if (e != ERR_OK) {
            return e;
        }
    }
    return ERR_OK;
}

enum err bp_configure_energy(struct bp *b, int i, struct err_info *ei)
{
    enum err e;
    if (bad_axis(i)) {
        return err_set(ei, ERR_INVALID, "invalid energy axis %d", i);
    }
    if ((e = conf(b, "Chunk.energy.specsys", "SPECSYS", NULL, ei)) ||
        (e = conf(b, "Chunk.energy.ssysobs", "SSYSOBS", NULL, ei)) ||
        (e = conf(b, "Chunk.energy.restfrq", "RESTFRQ", NULL, ei)) ||
        (e = conf(b, "Chunk.energy.restwav", "RESTWAV", NULL, ei)) ||
        (e = conf(b, "Chunk.energy.velosys", "VELOSYS", NULL, ei)) ||
        (e = conf(b, "Chunk.energy.zsource", "ZSOURCE", NULL, ei)) ||
        (e = conf(b, "Chunk.energy.ssyssrc", "SSYSSRC", NULL, ei)) ||
        (e = conf(b, "Chunk.energy.velang", "VELANG", NULL, ei))) {
        return e;
    }
    return conf_axis1d(b, "energy", i, true, ei);
}

enum err bp_configure_time(struct bp *b, int i, struct err_info *ei)
{
    enum err e;
    if (bad_axis(i)) {
        return err_set(ei, ERR_INVALID, "invalid time axis %d", i);
    }
    if ((e = conf(b, "Chunk.time.exposure", "EXPTIME", "INTTIME", ei)) ||
        (e = conf(b, "Chunk.time.timesys", "TIMESYS", NULL, ei)) ||
        (e = conf(b, "Chunk.time.trefpos", "TREFPOS", NULL, ei)) ||
        (e = conf(b, "Chunk.time.mjdref", "MJDREF", NULL, ei)) ||
        (e = conf(b, "Chunk.time.resolution", "TIMEDEL", NULL, ei))) {
        return e;
    }
    return conf_axis1d(b, "time", i, true, ei);
}

enum err bp_configure_polarization(struct bp *b, int i, struct err_info *ei)
{
    if (bad_axis(i)) {
        return err_set(ei, ERR_INVALID, "invalid polarization axis %d", i);
    }
    return conf_axis1d(b, "polarization", i, false, ei);
}

enum err bp_configure_custom(struct bp *b, int i, struct err_info *ei)
{
    if (bad_axis(i)) {
        return err_set(ei, ERR_INVALID, "invalid custom axis %d", i);
    }
    return conf_axis1d(b, "custom", i, false, ei);
}

enum err bp_configure_observable(struct bp *b, int i, struct err_info *ei)
{
    enum err e;
    if (bad_axis(i)) {
        return err_set(ei, ERR_INVALID, "invalid observable axis %d", i);
    }
    if ((e = confn(b, "Chunk.observable.axis.axis.ctype", "CTYPE", i, ei)) ||
        (e = confn(b, "Chunk.observable.axis.axis.cunit", "CUNIT", i, ei)) ||
        (e = confn(b, "Chunk.observable.axis.function.refCoord.pix", "CRPIX", i, ei))) {
        return e;
    }
    return ERR_OK;
}

/* ---- file parser -------------------------------------------------------------------------- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) {
        s[--n] = '\0';
    }
    return s;
}

/* cut a comment: '#' at the start or after whitespace, outside quotes */
static void cut_comment(char *s)
{
    char q = 0;
    for (char *p = s; *p; p++) {
        if (q) {
            if (*p == q) {
                q = 0;
            }
        } else if (*p == '\'' || *p == '"') {
            q = *p;
        } else if (*p == '#' && (p == s || p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            return;
        }
    }
}

/* strip one level of matching quotes in place */
static char *unquote(char *s)
{
    size_t n = strlen(s);
    if (n >= 2 && (s[0] == '\'' || s[0] == '"') && s[n - 1] == s[0]) {
        s[n - 1] = '\0';
        return s + 1;
    }
    return s;
}

/* Parse "['A', 'B']" at *p; advances *p past ']'. Items go to items[] (pointers into s). */
static bool parse_list(char **p, char **items, size_t *n)
{
    char *s = *p;
    *n = 0;
    if (*s != '[') {
        return false;
    }
    s++;
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (*s == ']') {
        *p = s + 1;
        return true;
    }
    for (;;) {
        char *item;
        char delim;
        while (*s == ' ' || *s == '\t') {
            s++;
        }
        if (*s == '\'' || *s == '"') {
            char q = *s++;
            item = s;
            while (*s && *s != q) {
                s++;
            }
            if (*s != q) {
                return false;
            }
            *s++ = '\0';
            while (*s == ' ' || *s == '\t') {
                s++;
            }
            delim = *s;
        } else {
            item = s;
            while (*s && *s != ',' && *s != ']') {
                s++;
            }
            delim = *s;
            char *e = s;
            while (e > item && (e[-1] == ' ' || e[-1] == '\t')) {
                e--;
            }
            *e = '\0';
        }
        if (*n >= BP_MAX_KEYWORDS || *item == '\0') {
            return false;
        }
        items[(*n)++] = item;
        if (delim == ',') {
            s++;
            continue;
        }
        if (delim == ']') {
            *p = s + 1;
            return true;
        }
        return false;
    }
}

static bool is_ident(const char *s, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_')) {
        return false;
    }
    for (size_t i = 1; i < n; i++) {
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.')) {
            return false;
        }
    }
    return true;
}

static enum err perr(struct err_info *ei, const char *name, int line, const char *what,
                     const char *text)
{
    return err_set(ei, ERR_PARSE, "blueprint \"%s\" line %d: %s: \"%s\"", name, line, what, text);
}

/* a '(' outside quoted text: a call inside a call */
static bool paren_outside_quotes(const char *s)
{
    char q = 0;
    for (; *s; s++) {
        if (q) {
            q = *s == q ? 0 : q;
        } else if (*s == '\'' || *s == '"') {
            q = *s;
        } else if (*s == '(') {
            return true;
        }
    }
    return false;
}

static enum err parse_value(struct bp *b, const char *name, int line, int ext, const char *key,
                            char *v, struct err_info *ei)
{
    if (*v == '[') {
        char *items[BP_MAX_KEYWORDS];
        size_t n = 0;
        char *p = v;
        if (!parse_list(&p, items, &n)) {
            return perr(ei, name, line, "malformed keyword list", v);
        }
        char *rest = trim(p);
        const char *deflt = NULL;
        if (*rest == ',') {
            rest = trim(rest + 1);
            if (strncmp(rest, "default", 7) != 0) {
                return perr(ei, name, line, "expected \"default = <value>\" after the keyword list",
                            rest);
            }
            rest = trim(rest + 7);
            if (*rest != '=') {
                return perr(ei, name, line, "expected \"default = <value>\" after the keyword list",
                            rest);
            }
            rest = unquote(trim(rest + 1));
            deflt = strcmp(rest, "None") == 0 ? NULL : rest;
        } else if (*rest != '\0') {
            return perr(ei, name, line, "unexpected text after the keyword list", rest);
        }
        return set_lookup(b, key, (const char *const *)items, n, deflt, ext, true, name, line, ei);
    }
    if (strcmp(v, "None") == 0) {
        struct bp_rule r;
        if (make_rule(b, &r, key, BP_UNSET, ext, true, name, line) != ERR_OK) {
            rule_clear(&r);
            return err_set(ei, ERR_NOMEM, "out of memory building a blueprint");
        }
        return put_rule(b, &r, ei);
    }
    size_t vl = strlen(v);
    char *paren = strchr(v, '(');
    if (paren && vl > 0 && v[vl - 1] == ')' && !strchr(v, '/') && v[0] != '\'' && v[0] != '"' &&
        is_ident(v, (size_t)(paren - v)) && paren_outside_quotes(paren + 1)) {
        /* a call with a call inside: an expression (the flat form below read the inner call's
         * text as keyword names) */
        return set_expr(b, key, v, ext, name, line, ei);
    }
    if (paren && vl > 0 && v[vl - 1] == ')' && !strchr(v, '/') && v[0] != '\'' && v[0] != '"' &&
        is_ident(v, (size_t)(paren - v))) {
        struct bp_rule r;
        char *args[BP_MAX_KEYWORDS];
        size_t n = 0;
        *paren = '\0';
        v[vl - 1] = '\0';
        char *a = trim(paren + 1);
        while (*a) {
            char *start = a;
            char q = 0;
            while (*a && (q || *a != ',')) {
                if (q && *a == q) {
                    q = 0;
                } else if (!q && (*a == '\'' || *a == '"')) {
                    q = *a;
                }
                a++;
            }
            if (q) {
                return perr(ei, name, line, "unterminated string in function arguments", start);
            }
            bool more = *a == ',';
            *a = '\0';
            if (n >= BP_MAX_KEYWORDS) {
                return perr(ei, name, line, "too many function arguments", v);
            }
            args[n++] = trim(start);
            if (*args[n - 1] == '\0') {
                return perr(ei, name, line, "empty function argument", v);
            }
            if ((*args[n - 1] == '\'' || *args[n - 1] == '"') &&
                strlen(args[n - 1]) >= BP_ARG_MAX + 2) {
                /* a longer quoted argument used to evaluate silently to "no value" */
                return err_set(ei, ERR_PARSE, "blueprint \"%s\" line %d: quoted function "
                               "argument longer than %d bytes", name, line, BP_ARG_MAX - 1);
            }
            if (more) {
                a++;
            }
        }
        if (make_rule(b, &r, key, BP_FUNC, ext, true, name, line) != ERR_OK ||
            !(r.func = str_dup(v))) {
            rule_clear(&r);
            return err_set(ei, ERR_NOMEM, "out of memory building a blueprint");
        }
        if (n > 0) {
            /* every argument checked: a failed copy in the middle used to be stored as NULL
             * and crash the evaluation */
            bool ok = (r.keywords = calloc(n, sizeof *r.keywords)) != NULL;
            for (size_t i = 0; ok && i < n; i++) {
                r.keywords[i] = str_dup(args[i]);
                r.nkeywords = i + 1;
                ok = r.keywords[i] != NULL;
            }
            if (!ok) {
                rule_clear(&r);
                return err_set(ei, ERR_NOMEM, "out of memory building a blueprint");
            }
        }
        return put_rule(b, &r, ei);
    }
    return set_literal(b, key, unquote(v), ext, true, name, line, ei);
}

static bool reserved(const char *n)
{
    static const char *const k_words[] = {"true", "false", "none", "and", "or", "not"};
    for (size_t i = 0; i < ARRAY_LEN(k_words); i++) {
        if (strcmp(n, k_words[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* "let NAME = expr" (a variable later rules use by name) or "table NAME = 'file.csv'" */
static enum err let_or_table(struct bp *b, const char *name, int line, int ext, char *t,
                             struct err_info *ei)
{
    bool let = t[0] == 'l';
    char *n = trim(t + (let ? 4 : 6));
    char *eq = strchr(n, '=');
    if (!eq) {
        return perr(ei, name, line, let ? "expected \"let <name> = <expression>\""
                                        : "expected \"table <name> = '<file.csv>'\"", t);
    }
    *eq = '\0';
    n = trim(n);
    char *val = trim(eq + 1);
    if (!is_ident(n, strlen(n)) || strchr(n, '.') || strlen(n) > 63 || reserved(n)) {
        return perr(ei, name, line, let ? "invalid variable name" : "invalid table name", n);
    }
    if (*val == '\0') {
        return perr(ei, name, line, "missing value", n);
    }
    if (let) {
        char key[80];
        snprintf(key, sizeof key, "%s%s", BP_VAR_PREFIX, n);
        enum err e = set_expr(b, key, val, ext, name, line, ei);
        if (e != ERR_OK || bp__has_var(b, n)) {
            return e;
        }
        if (b->nvars >= BP_MAX_VARS) {
            return err_set(ei, ERR_TOO_LARGE, "blueprint \"%s\" line %d: more than %d let "
                           "variables", name, line, BP_MAX_VARS);
        }
        if (!(b->vars[b->nvars] = str_dup(n))) {
            return err_set(ei, ERR_NOMEM, "out of memory building a blueprint");
        }
        b->nvars++;
        return ERR_OK;
    }
    char *file = unquote(val);
    char path[4096];
    if (file[0] != '/' && !b->cur_dir) {
        return perr(ei, name, line, "a lookup table path is relative to the blueprint file, "
                    "and this blueprint was not read from a file", file);
    }
    if (file[0] == '/' ? !str_copy(path, sizeof path, file)
                       : snprintf(path, sizeof path, "%s/%s", b->cur_dir, file) >=
                             (int)sizeof path) {
        return perr(ei, name, line, "lookup table path too long", file);
    }
    struct bp_table *tb = NULL;
    enum err e = bpt_load(n, path, &tb, ei);
    if (e != ERR_OK) {
        err_prefix(ei, "blueprint \"%s\" line %d: ", name, line);
        return e;
    }
    for (size_t i = 0; i < b->ntables; i++) {
        if (strcmp(bpt_name(b->tables[i]), n) == 0) { /* a later file replaces the table */
            bpt_free(b->tables[i]);
            b->tables[i] = tb;
            return ERR_OK;
        }
    }
    if (b->ntables >= BP_MAX_TABLES) {
        bpt_free(tb);
        return err_set(ei, ERR_TOO_LARGE, "blueprint \"%s\" line %d: more than %d lookup "
                       "tables", name, line, BP_MAX_TABLES);
    }
    b->tables[b->ntables++] = tb;
    return ERR_OK;
}

static enum err load_lines(struct bp *b, const char *name, const char *text, size_t len,
                           struct err_info *ei);

enum err bp_load_text(struct bp *b, const char *name, const char *text, size_t len,
                      struct err_info *ei)
{
    return bp_load_text_dir(b, name, NULL, text, len, ei);
}

enum err bp_load_text_dir(struct bp *b, const char *name, const char *dir, const char *text,
                          size_t len, struct err_info *ei)
{
    if (len > BP_MAX_FILE) {
        return err_set(ei, ERR_TOO_LARGE, "blueprint \"%s\" is larger than %u bytes", name,
                       (unsigned)BP_MAX_FILE);
    }
    free(b->cur_art);
    b->cur_art = NULL;
    if (dir && !(b->cur_dir = str_dup(dir))) {
        return err_set(ei, ERR_NOMEM, "out of memory reading \"%s\"", name);
    }
    enum err e = load_lines(b, name, text, len, ei);
    free(b->cur_art);
    b->cur_art = NULL;
    free(b->cur_dir);
    b->cur_dir = NULL;
    return e;
}

static enum err load_lines(struct bp *b, const char *name, const char *text, size_t len,
                           struct err_info *ei)
{
    int ext = -1;
    int line = 0;
    size_t pos = 0;
    char buf[4096];
    while (pos < len) {
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - s) : len - pos;
        pos += ll + (nl ? 1 : 0);
        line++;
        if (ll >= sizeof buf) {
            return err_set(ei, ERR_PARSE, "blueprint \"%s\" line %d: line too long", name, line);
        }
        if (memchr(s, '\0', ll)) {
            return err_set(ei, ERR_PARSE, "blueprint \"%s\" line %d: binary data", name, line);
        }
        memcpy(buf, s, ll);
        buf[ll] = '\0';
        cut_comment(buf);
        char *t = trim(buf);
        if (*t == '\0') {
            continue;
        }
        if (strncmp(t, "artifact ", 9) == 0 && t[strlen(t) - 1] == ':') {
            t[strlen(t) - 1] = '\0';
            char *uri = trim(t + 9);
            if (*uri == '\0' || strpbrk(uri, " \t'\"")) {
                free(b->cur_art);
                b->cur_art = NULL;
                return perr(ei, name, line, "invalid artifact URI", uri);
            }
            free(b->cur_art);
            b->cur_art = str_dup(uri);
            if (!b->cur_art) {
                return err_set(ei, ERR_NOMEM, "out of memory building a blueprint");
            }
            ext = -1;
            continue;
        }
        if (strncmp(t, "extension", 9) == 0 && t[strlen(t) - 1] == ':') {
            t[strlen(t) - 1] = '\0';
            char *num = trim(t + 9);
            int64_t v = 0;
            if (str_to_i64(num, 0, BP_MAX_EXTENSION, &v) != ERR_OK) {
                return perr(ei, name, line, "invalid extension number", num);
            }
            ext = (int)v;
            continue;
        }
        if (strncmp(t, "let ", 4) == 0 || strncmp(t, "table ", 6) == 0) {
            enum err e = let_or_table(b, name, line, ext, t, ei);
            if (e != ERR_OK) {
                return e;
            }
            continue;
        }
        char *eq = strchr(t, '=');
        if (!eq) {
            return perr(ei, name, line, "malformed line, expected \"<element> = <value>\"", t);
        }
        bool is_expr = eq > t && eq[-1] == ':';
        *eq = '\0';
        if (is_expr) {
            eq[-1] = '\0';
        }
        char *key = trim(t);
        char *val = trim(eq + 1);
        if (!bp_is_element(key)) {
            return perr(ei, name, line, "unrecognized blueprint element", key);
        }
        if (ext >= 0 && strncmp(key, "Chunk", 5) != 0 && strncmp(key, "Part", 4) != 0 &&
            strncmp(key, "Header.", 7) != 0) {
            return perr(ei, name, line, "only Chunk and Part elements may be set per extension",
                        key);
        }
        if (b->cur_art && strncmp(key, "Chunk", 5) != 0 && strncmp(key, "Part", 4) != 0 &&
            strncmp(key, "Header.", 7) != 0 && strncmp(key, "Artifact.", 9) != 0) {
            return perr(ei, name, line, "only Artifact, Part and Chunk elements may be set per "
                        "artifact", key);
        }
        if (*val == '\0') {
            return perr(ei, name, line, "missing value", key);
        }
        enum err e = is_expr ? set_expr(b, key, val, ext, name, line, ei)
                             : parse_value(b, name, line, ext, key, val, ei);
        if (e != ERR_OK) {
            return e;
        }
    }
    return ERR_OK;
}

enum err bp_load_file(struct bp *b, const char *path, struct err_info *ei)
{
    FILE *fp = fopen(path, "rb");
    char *data = NULL;
    size_t n = 0;
    enum err e;
    if (!fp) {
        return err_set(ei, ERR_IO, "could not open blueprint \"%s\": %s", path, ERR_ERRNO(errno));
    }
    data = malloc(BP_MAX_FILE + 1);
    if (!data) {
        fclose(fp);
        return err_set(ei, ERR_NOMEM, "out of memory reading \"%s\"", path);
    }
    n = fread(data, 1, BP_MAX_FILE + 1, fp);
    bool bad = ferror(fp) != 0;
    fclose(fp);
    if (bad) {
        e = err_set(ei, ERR_IO, "could not read blueprint \"%s\"", path);
    } else {
        const char *base = strrchr(path, '/');
        char *dir = base ? str_ndup(path, (size_t)(base - path)) : str_dup(".");
        if (!dir) {
            e = err_set(ei, ERR_NOMEM, "out of memory reading \"%s\"", path);
        } else {
            e = bp_load_text_dir(b, base ? base + 1 : path, *dir ? dir : "/", data, n, ei);
        }
        free(dir);
    }
    free(data);
    return e;
}

/* One rule in file syntax. */
static enum err rule_text(struct buf *out, const struct bp_rule *r)
{
    if (r->kind == BP_EXPR) {
        bool let = strncmp(r->key, BP_VAR_PREFIX, strlen(BP_VAR_PREFIX)) == 0;
        return let ? buf_printf(out, "let %s = %s\n", r->key + strlen(BP_VAR_PREFIX), r->literal)
                   : buf_printf(out, "%s := %s\n", r->key, r->literal);
    }
    enum err e = buf_printf(out, "%s = ", r->key);
    switch (r->kind) {
    case BP_LOOKUP:
        e = e ? e : buf_puts(out, "[");
        for (size_t k = 0; k < r->nkeywords && !e; k++) {
            e = buf_printf(out, "%s'%s'", k ? ", " : "", r->keywords[k]);
        }
        e = e ? e : buf_printf(out, "], default = %s", r->deflt ? r->deflt : "None");
        break;
    case BP_LITERAL: e = e ? e : buf_puts(out, r->literal); break;
    case BP_UNSET: e = e ? e : buf_puts(out, "None"); break;
    case BP_EXPR: break; /* written above */
    case BP_FUNC:
        e = e ? e : buf_printf(out, "%s(", r->func);
        for (size_t k = 0; k < r->nkeywords && !e; k++) {
            e = buf_printf(out, "%s%s", k ? ", " : "", r->keywords[k]);
        }
        e = e ? e : buf_puts(out, ")");
        break;
    }
    return e ? e : buf_puts(out, "\n");
}

/* The rules of one artifact section (@p art, NULL = outside any), extension -1 first, then
 * each extension in order under its "extension N:" line. */
static enum err section_text(struct buf *out, const struct bp *b, const char *art)
{
    enum err e = ERR_OK;
    for (int pass = -1; pass <= BP_MAX_EXTENSION && e == ERR_OK; pass++) {
        bool header = false, more = false;
        for (size_t i = 0; i < b->n && e == ERR_OK; i++) {
            const struct bp_rule *r = &b->rules[i];
            if (!same_art(r->artifact, art)) {
                continue;
            }
            more = more || r->extension > pass;
            if (r->extension != pass) {
                continue;
            }
            if (pass >= 0 && !header) {
                e = buf_printf(out, "extension %d:\n", pass);
                header = true;
            }
            e = e ? e : rule_text(out, r);
        }
        if (!more) {
            break;
        }
    }
    return e;
}

char *bp_to_text(const struct bp *b)
{
    struct buf out;
    buf_init(&out, 1u << 20);
    enum err e = ERR_OK;
    /* the lookup tables (as declared: a path relative to the blueprint that named them) */
    for (size_t i = 0; i < b->ntables && e == ERR_OK; i++) {
        const char *f = bpt_file(b->tables[i]);
        const char *base = strrchr(f, '/');
        e = buf_printf(&out, "table %s = '%s'\n", bpt_name(b->tables[i]), base ? base + 1 : f);
    }
    /* the rules for every artifact, then each "artifact URI:" section in order of appearance */
    e = e ? e : section_text(&out, b, NULL);
    for (size_t i = 0; i < b->n && e == ERR_OK; i++) {
        const char *art = b->rules[i].artifact;
        bool first = art != NULL;
        for (size_t j = 0; j < i && first; j++) {
            first = !same_art(b->rules[j].artifact, art);
        }
        if (first) {
            e = buf_printf(&out, "\nartifact %s:\n", art);
            e = e ? e : section_text(&out, b, art);
        }
    }
    if (e == ERR_OK && out.len == 0) {
        e = buf_puts(&out, "");
    }
    if (e != ERR_OK) {
        goto fail;
    }
    return buf_take(&out);
fail:
    buf_free(&out);
    return NULL;
}
