/* calib_refcat.c - best-reference selection from a YAML catalog modelled on CRDS rmaps
 * (caldp-calibration.md section 3): per reference type, rules match a tuple of normalised
 * header values (literals, a|b alternatives, globs, (regex), {literal}, # relational #,
 * between lo hi, not X, N/A) and are ranked by weight; the winning weight group's USEAFTER
 * tables are merged and the latest date not after the observation is chosen.
 *
 * Catalog layout:
 *   instrument: ACS
 *   types:
 *     biasfile:
 *       parkeys: [DETECTOR, CCDAMP, CCDGAIN]
 *       rules:
 *         - match: [HRC, "A|B|C|D", 2.0]        # or a mapping {DETECTOR: HRC, ...}
 *           useafter: {"2002-03-01 00:00:00": m4r1753rj_bia.fits}
 *         - match: [WFC, "*", N/A]
 *           file: xyz_bia.fits                  # a rule without dates
 *     flshfile: N/A                             # the type never applies
 *   checksums:                                  # optional: digest per file name, checked
 *     m4r1753rj_bia.fits: sha1:<40 hex>         # when a reference store fetches it (CRDS
 *                                               # rmaps carry sha1sum; sha256:<64 hex> too)
 * SPDX-License-Identifier: Apache-2.0 */
#include "calib/calib.h"

#include "core/str.h"
#include "yaml/yaml.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RC_FILE_MAX 256
#define RC_VALUE_MAX 256

struct rc_date {
    char when[20];
    char file[RC_FILE_MAX];
};

struct rc_rule {
    char *vals[CALIB_REFCAT_MAX_PARKEYS];
    char file[RC_FILE_MAX]; /* plain result when ndates == 0 */
    struct rc_date *dates;
    size_t ndates;
    int line;
};

struct rc_type {
    char name[64];
    bool na;
    char *parkeys[CALIB_REFCAT_MAX_PARKEYS + 1]; /* NULL-terminated */
    size_t nparkeys;
    struct rc_rule *rules;
    size_t nrules;
};

struct rc_sum {
    char file[RC_FILE_MAX];
    char sum[72]; /* "sha1:<hex>" or "sha256:<hex>", lower case */
};

struct calib_refcat {
    char instrument[64];
    char name[256];
    struct rc_type *types;
    size_t ntypes;
    size_t total_rules, total_dates;
    struct rc_sum *sums;
    size_t nsums;
};

/* ------------------------------------------------------------------------------------------- */
/* Normalisation */

/* Python's repr of a float (shortest round trip; exponent outside [-4, 16)). */
static void py_float(double v, char *out, size_t cap)
{
    if (v == 0) {
        str_copy(out, cap, signbit(v) ? "-0.0" : "0.0");
        return;
    }
    if (isinf(v)) {
        str_copy(out, cap, v > 0 ? "INF" : "-INF");
        return;
    }
    char buf[40];
    int prec = 0;
    for (prec = 0; prec < 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*e", prec, v);
        if (strtod(buf, NULL) == v) {
            break;
        }
    }
    /* buf: [-]d[.ddd]e[+-]XX */
    char digits[24];
    size_t nd = 0;
    const char *p = buf;
    bool neg = *p == '-';
    if (neg) {
        p++;
    }
    for (; *p && *p != 'e'; p++) {
        if (*p >= '0' && *p <= '9' && nd < sizeof(digits) - 1) {
            digits[nd++] = *p;
        }
    }
    digits[nd] = '\0';
    int exp10 = *p == 'e' ? (int)strtol(p + 1, NULL, 10) : 0;
    while (nd > 1 && digits[nd - 1] == '0') {
        digits[--nd] = '\0';
    }
    char res[64];
    size_t k = 0;
    if (neg) {
        res[k++] = '-';
    }
    if (exp10 >= -4 && exp10 < 16) {
        if (exp10 < 0) {
            res[k++] = '0';
            res[k++] = '.';
            for (int i = 0; i < -exp10 - 1; i++) {
                res[k++] = '0';
            }
            for (size_t i = 0; i < nd; i++) {
                res[k++] = digits[i];
            }
        } else {
            for (int i = 0; i <= exp10; i++) {
                res[k++] = (size_t)i < nd ? digits[i] : '0';
            }
            res[k++] = '.';
            if ((size_t)(exp10 + 1) < nd) {
                for (size_t i = (size_t)exp10 + 1; i < nd; i++) {
                    res[k++] = digits[i];
                }
            } else {
                res[k++] = '0';
            }
        }
        res[k] = '\0';
    } else {
        res[k++] = digits[0];
        if (nd > 1) {
            res[k++] = '.';
            for (size_t i = 1; i < nd; i++) {
                res[k++] = digits[i];
            }
        }
        res[k] = '\0';
        char e[16];
        snprintf(e, sizeof(e), "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
        str_copy(res + k, sizeof(res) - k, e);
    }
    str_copy(out, cap, res);
}

void calib_refcat_condition(const char *raw, char *out, size_t cap)
{
    if (cap == 0) {
        return;
    }
    if (!raw) {
        str_copy(out, cap, "UNDEFINED");
        return;
    }
    char buf[RC_VALUE_MAX];
    while (*raw && isspace((unsigned char)*raw)) {
        raw++;
    }
    size_t n = strnlen(raw, sizeof(buf) - 1);
    while (n > 0 && isspace((unsigned char)raw[n - 1])) {
        n--;
    }
    for (size_t i = 0; i < n; i++) {
        buf[i] = (char)toupper((unsigned char)raw[i]);
    }
    buf[n] = '\0';
    /* numbers: Python float text */
    if (n > 0) {
        char *end = NULL;
        errno = 0;
        double v = strtod(buf, &end);
        bool hexlike = strchr(buf, 'X') != NULL || strstr(buf, "INF") || strstr(buf, "NAN") ||
                       strchr(buf, 'P') != NULL;
        if (end && *end == '\0' && !hexlike && errno == 0 && isfinite(v)) {
            if (v == -2147483648.0) {
                str_copy(out, cap, "N/A");
                return;
            }
            if (v == 4294967295.0) {
                str_copy(out, cap, "-1.0");
                return;
            }
            py_float(v, out, cap);
            return;
        }
    }
    if (strcmp(buf, "ANY") == 0) {
        str_copy(out, cap, "*");
    } else if (strcmp(buf, "N/A") == 0 || strcmp(buf, "NOT APPLICABLE") == 0 ||
               strcmp(buf, "NOT_APPLICABLE") == 0 || strcmp(buf, "()") == 0) {
        str_copy(out, cap, "N/A");
    } else if (strcmp(buf, "T") == 0 || strcmp(buf, "TRUE") == 0) {
        str_copy(out, cap, "T");
    } else if (strcmp(buf, "F") == 0 || strcmp(buf, "FALSE") == 0) {
        str_copy(out, cap, "F");
    } else {
        str_copy(out, cap, buf);
    }
}

/* ------------------------------------------------------------------------------------------- */
/* Dates */

static int month_index(const char *m)
{
    static const char *const names[12] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
    for (int i = 0; i < 12; i++) {
        if (strncasecmp(m, names[i], 3) == 0) {
            return i + 1;
        }
    }
    return 0;
}

static bool parse_hms(const char *s, int *h, int *mi, int *sec)
{
    *h = *mi = *sec = 0;
    if (!s || !*s) {
        return true;
    }
    int n = 0;
    double fs = 0;
    if (sscanf(s, "%2d:%2d:%lf%n", h, mi, &fs, &n) == 3) {
        if (!(fs >= 0 && fs < 61)) {
            return false;
        }
        *sec = (int)fs;
    } else if (sscanf(s, "%2d:%2d%n", h, mi, &n) == 2) {
        *sec = 0;
    } else {
        return false;
    }
    while (s[n] == ' ') {
        n++;
    }
    return (s[n] == '\0' || s[n] == 'Z') && *h >= 0 && *h <= 23 && *mi >= 0 && *mi <= 59 &&
           *sec >= 0 && *sec <= 60;
}

enum err calib_refcat_date(const char *date, const char *time, char out[20], struct err_info *ei)
{
    out[0] = '\0';
    if (!date) {
        return err_set(ei, ERR_INVALID, "observation date is missing");
    }
    char d[64];
    if (!str_copy(d, sizeof(d), date)) {
        return err_set(ei, ERR_INVALID, "observation date \"%.60s...\" is too long", date);
    }
    int y = 0, mo = 0, dd = 0, h = 0, mi = 0, s = 0, n = 0;
    char mon[16] = "";
    char rest[64] = "";
    const char *t = time;
    if (sscanf(d, "%4d-%2d-%2d%n", &y, &mo, &dd, &n) == 3) {
        if (d[n] == 'T' || d[n] == ' ') {
            t = d + n + 1; /* the date carries its own time */
        } else if (d[n] != '\0') {
            goto bad;
        }
    } else if (sscanf(d, "%2d/%2d/%2d%n", &dd, &mo, &y, &n) == 3 && d[n] == '\0') {
        y += y < 50 ? 2000 : 1900;
    } else if (sscanf(d, "%15s %2d %4d%n", mon, &dd, &y, &n) == 3) {
        mo = month_index(mon);
        while (d[n] == ' ') {
            n++;
        }
        if (d[n]) {
            str_copy(rest, sizeof(rest), d + n);
            t = rest;
        }
    } else {
        goto bad;
    }
    if (y < 1900 || y > 2999 || mo < 1 || mo > 12 || dd < 1 || dd > 31) {
        goto bad;
    }
    if (!parse_hms(t, &h, &mi, &s)) {
        return err_set(ei, ERR_INVALID, "observation time \"%.40s\" is not HH:MM:SS", t);
    }
    snprintf(out, 20, "%04d-%02d-%02d %02d:%02d:%02d", y, mo, dd, h, mi, s > 59 ? 59 : s);
    return ERR_OK;
bad:
    return err_set(ei, ERR_INVALID,
                   "observation date \"%s\" is not YYYY-MM-DD[THH:MM:SS], Mon DD YYYY or DD/MM/YY",
                   d);
}

/* ------------------------------------------------------------------------------------------- */
/* Loading */

void calib_refcat_destroy(struct calib_refcat *c)
{
    if (!c) {
        return;
    }
    for (size_t i = 0; i < c->ntypes; i++) {
        struct rc_type *t = &c->types[i];
        for (size_t k = 0; k < t->nparkeys; k++) {
            free(t->parkeys[k]);
        }
        for (size_t r = 0; r < t->nrules; r++) {
            for (size_t k = 0; k < t->nparkeys; k++) {
                free(t->rules[r].vals[k]);
            }
            free(t->rules[r].dates);
        }
        free(t->rules);
    }
    free(c->types);
    free(c->sums);
    free(c);
}

struct loader {
    struct calib_refcat *c;
    struct err_info *ei;
};

typedef struct yamlx_node ynode;

static enum err bad(struct loader *L, const ynode *n, const char *what)
{
    return err_set(L->ei, ERR_PARSE, "reference catalog \"%s\", line %lu: %s", L->c->name,
                   (unsigned long)yamlx_node_line(n), what);
}

static const char *scalar(const ynode *n)
{
    return yamlx_scalar(n);
}

/* The value of the first key equal to @p key ignoring case (NULL if none, or not a mapping). */
static const ynode *map_get(const ynode *map, const char *key)
{
    for (size_t i = 0; i < yamlx_node_size(map); i++) {
        const char *k = scalar(yamlx_map_key(map, i));
        if (k && strcasecmp(k, key) == 0) {
            return yamlx_map_value(map, i);
        }
    }
    return NULL;
}

static bool is_na(const char *s)
{
    char c[32];
    calib_refcat_condition(s, c, sizeof(c));
    return strcmp(c, "N/A") == 0;
}

static enum err copy_file(struct loader *L, const ynode *n, char *dst)
{
    const char *s = scalar(n);
    if (!s || !*s) {
        return bad(L, n, "a reference file name must be a non-empty string");
    }
    if (strchr(s, '/') && !is_na(s)) {
        return bad(L, n, "a reference file name must not contain '/'");
    }
    if (!str_copy(dst, RC_FILE_MAX, s)) {
        return bad(L, n, "reference file name too long");
    }
    if (is_na(s)) {
        str_copy(dst, RC_FILE_MAX, "N/A");
    }
    return ERR_OK;
}

/* checksums: {file: "sha1:<40 hex>" | "sha256:<64 hex>" | bare hex} */
static enum err load_sums(struct loader *L, const ynode *m)
{
    if (yamlx_node_kind(m) != YAMLX_MAPPING) {
        return bad(L, m, "checksums must map reference file names to sha1 or sha256 digests");
    }
    size_t n = yamlx_node_size(m);
    if (n > CALIB_REFCAT_MAX_RULES) {
        return bad(L, m, "too many checksums");
    }
    L->c->sums = calloc(n ? n : 1, sizeof(*L->c->sums));
    if (!L->c->sums) {
        return err_set(L->ei, ERR_NOMEM, "out of memory");
    }
    for (size_t pi = 0; pi < n; pi++) {
        const ynode *kn = yamlx_map_key(m, pi);
        const ynode *vn = yamlx_map_value(m, pi);
        struct rc_sum *s = &L->c->sums[L->c->nsums];
        enum err e = copy_file(L, kn, s->file);
        if (e != ERR_OK) {
            return e;
        }
        const char *v = scalar(vn);
        const char *hex = v;
        size_t want = 0;
        if (v && strncasecmp(v, "sha1:", 5) == 0) {
            hex = v + 5;
            want = 40;
        } else if (v && strncasecmp(v, "sha256:", 7) == 0) {
            hex = v + 7;
            want = 64;
        }
        size_t len = hex ? strlen(hex) : 0;
        bool ok = hex && (want ? len == want : (len == 40 || len == 64));
        for (size_t i = 0; ok && i < len; i++) {
            ok = isxdigit((unsigned char)hex[i]) != 0;
        }
        if (!ok) {
            return bad(L, vn ? vn : kn, "a checksum is sha1:<40 hex digits> or "
                                        "sha256:<64 hex digits>");
        }
        for (size_t i = 0; i < L->c->nsums; i++) {
            if (strcmp(L->c->sums[i].file, s->file) == 0) {
                return bad(L, kn, "checksum listed twice for one file");
            }
        }
        int k = snprintf(s->sum, sizeof(s->sum), "%s:", len == 40 ? "sha1" : "sha256");
        for (size_t i = 0; i < len; i++) {
            s->sum[(size_t)k + i] = (char)tolower((unsigned char)hex[i]);
        }
        s->sum[(size_t)k + len] = '\0';
        L->c->nsums++;
    }
    return ERR_OK;
}

static enum err load_rule(struct loader *L, struct rc_type *t, const ynode *rn,
                          struct rc_rule *r)
{
    memset(r, 0, sizeof(*r));
    r->line = (int)yamlx_node_line(rn);
    if (yamlx_node_kind(rn) != YAMLX_MAPPING) {
        return bad(L, rn, "a rule must be a mapping with match and file or useafter");
    }
    const ynode *m = map_get(rn, "match");
    if (!m) {
        return bad(L, rn, "rule without match");
    }
    for (size_t k = 0; k < t->nparkeys; k++) {
        const char *v = NULL;
        const ynode *vn = NULL;
        if (yamlx_node_kind(m) == YAMLX_SEQUENCE) {
            size_t cnt = yamlx_node_size(m);
            if (cnt != t->nparkeys) {
                return bad(L, m, "match tuple length differs from parkeys");
            }
            vn = yamlx_seq_item(m, k);
        } else if (yamlx_node_kind(m) == YAMLX_MAPPING) {
            vn = map_get(m, t->parkeys[k]);
            if (!vn) {
                return bad(L, m, "match mapping lacks a parkey (write N/A to match anything)");
            }
        } else {
            return bad(L, m, "match must be a sequence or a mapping");
        }
        v = scalar(vn);
        if (!v || strlen(v) >= RC_VALUE_MAX) {
            return bad(L, vn ? vn : m, "match values must be short scalars");
        }
        r->vals[k] = str_dup(v);
        if (!r->vals[k]) {
            return err_set(L->ei, ERR_NOMEM, "out of memory");
        }
    }
    if (yamlx_node_kind(m) == YAMLX_MAPPING) {
        size_t cnt = yamlx_node_size(m);
        if (cnt != t->nparkeys) {
            return bad(L, m, "match mapping names a keyword that is not a parkey");
        }
    }
    const ynode *f = map_get(rn, "file");
    const ynode *u = map_get(rn, "useafter");
    if ((f != NULL) == (u != NULL)) {
        return bad(L, rn, "a rule needs exactly one of file or useafter");
    }
    if (f) {
        return copy_file(L, f, r->file);
    }
    if (yamlx_node_kind(u) != YAMLX_MAPPING) {
        return bad(L, u, "useafter must map dates to file names");
    }
    size_t cnt = yamlx_node_size(u);
    if (cnt == 0) {
        return bad(L, u, "useafter is empty");
    }
    if (L->c->total_dates + cnt > CALIB_REFCAT_MAX_DATES) {
        return bad(L, u, "too many useafter dates");
    }
    L->c->total_dates += cnt;
    r->dates = calloc(cnt, sizeof(*r->dates));
    if (!r->dates) {
        return err_set(L->ei, ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < cnt; i++) {
        const ynode *kn = yamlx_map_key(u, i);
        const char *ks = scalar(kn);
        struct err_info tmp;
        struct rc_date *d = &r->dates[r->ndates];
        if (!ks || calib_refcat_date(ks, NULL, d->when, &tmp) != ERR_OK) {
            return bad(L, kn, "useafter date is not YYYY-MM-DD HH:MM:SS (or Mon DD YYYY HH:MM:SS)");
        }
        enum err e = copy_file(L, yamlx_map_value(u, i), d->file);
        if (e != ERR_OK) {
            return e;
        }
        r->ndates++;
    }
    return ERR_OK;
}

static int cmp_date(const void *a, const void *b)
{
    return strcmp(((const struct rc_date *)a)->when, ((const struct rc_date *)b)->when);
}

static enum err load_type(struct loader *L, const char *name, const ynode *tn, struct rc_type *t)
{
    if (!str_copy(t->name, sizeof(t->name), name) || !*name) {
        return bad(L, tn, "reference type name empty or too long");
    }
    for (char *p = t->name; *p; p++) {
        *p = (char)tolower((unsigned char)*p);
    }
    if (yamlx_node_kind(tn) == YAMLX_SCALAR) {
        if (!is_na(scalar(tn))) {
            return bad(L, tn, "a reference type is N/A or a mapping with parkeys and rules");
        }
        t->na = true;
        return ERR_OK;
    }
    if (yamlx_node_kind(tn) != YAMLX_MAPPING) {
        return bad(L, tn, "a reference type must be a mapping with parkeys and rules");
    }
    const ynode *pk = map_get(tn, "parkeys");
    const ynode *rules = map_get(tn, "rules");
    if (!pk || yamlx_node_kind(pk) != YAMLX_SEQUENCE) {
        return bad(L, pk ? pk : tn, "parkeys must be a list of header keywords");
    }
    if (!rules || yamlx_node_kind(rules) != YAMLX_SEQUENCE) {
        return bad(L, rules ? rules : tn, "rules must be a list");
    }
    for (size_t i = 0; i < yamlx_node_size(pk); i++) {
        const ynode *kn = yamlx_seq_item(pk, i);
        const char *k = scalar(kn);
        if (!k || !*k || strlen(k) > 70) {
            return bad(L, kn ? kn : pk, "parkey must be a header keyword");
        }
        if (t->nparkeys >= CALIB_REFCAT_MAX_PARKEYS) {
            return bad(L, pk, "too many parkeys");
        }
        char *dup = str_dup(k);
        if (!dup) {
            return err_set(L->ei, ERR_NOMEM, "out of memory");
        }
        for (char *p = dup; *p; p++) {
            *p = (char)toupper((unsigned char)*p);
        }
        t->parkeys[t->nparkeys++] = dup;
    }
    t->parkeys[t->nparkeys] = NULL;
    size_t cnt = yamlx_node_size(rules);
    if (L->c->total_rules + cnt > CALIB_REFCAT_MAX_RULES) {
        return bad(L, rules, "too many rules");
    }
    L->c->total_rules += cnt;
    t->rules = calloc(cnt ? cnt : 1, sizeof(*t->rules));
    if (!t->rules) {
        return err_set(L->ei, ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < cnt; i++) {
        const ynode *rn = yamlx_seq_item(rules, i);
        if (!rn) {
            return bad(L, rules, "bad rule");
        }
        struct rc_rule *r = &t->rules[t->nrules];
        enum err e = load_rule(L, t, rn, r);
        t->nrules++; /* counted even on failure so that destroy frees its parts */
        if (e != ERR_OK) {
            return e;
        }
        if (r->ndates > 1) {
            qsort(r->dates, r->ndates, sizeof(*r->dates), cmp_date);
        }
    }
    return ERR_OK;
}

enum err calib_refcat_parse(const char *text, size_t len, const char *name,
                            struct calib_refcat **out, struct err_info *ei)
{
    *out = NULL;
    if (len > CALIB_REFCAT_MAX_BYTES) {
        return err_set(ei, ERR_TOO_LARGE, "reference catalog \"%s\" is larger than %u bytes",
                       name, CALIB_REFCAT_MAX_BYTES);
    }
    struct calib_refcat *c = calloc(1, sizeof(*c));
    if (!c) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    str_copy(c->name, sizeof(c->name), name ? name : "(memory)");
    static const struct yamlx_limits lim = {.max_bytes = CALIB_REFCAT_MAX_BYTES,
                                            .max_depth = CALIB_REFCAT_MAX_DEPTH,
                                            .max_nodes = CALIB_REFCAT_MAX_NODES};
    struct yamlx_doc *doc = NULL;
    struct loader L = {.c = c, .ei = ei};
    enum err e = yamlx_doc_parse(text, len, &lim, &doc, ei);
    if (e != ERR_OK) {
        /* "line L column C: problem" from lib/yaml */
        err_prefix(ei, "reference catalog \"%s\", ", c->name);
        goto out;
    }
    const ynode *root = yamlx_doc_root(doc);
    if (!root || yamlx_node_kind(root) != YAMLX_MAPPING) {
        e = bad(&L, root, "the catalog must be a mapping with instrument and types");
        goto out;
    }
    const char *inst = scalar(map_get(root, "instrument"));
    if (!inst || !*inst || !str_copy(c->instrument, sizeof(c->instrument), inst)) {
        e = bad(&L, root, "instrument must be a short string");
        goto out;
    }
    for (char *p = c->instrument; *p; p++) {
        *p = (char)toupper((unsigned char)*p);
    }
    const ynode *types = map_get(root, "types");
    if (!types || yamlx_node_kind(types) != YAMLX_MAPPING) {
        e = bad(&L, types ? types : root, "types must map reference types to rules");
        goto out;
    }
    size_t nt = yamlx_node_size(types);
    if (nt > CALIB_REFCAT_MAX_TYPES) {
        e = bad(&L, types, "too many reference types");
        goto out;
    }
    c->types = calloc(nt ? nt : 1, sizeof(*c->types));
    if (!c->types) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t ti = 0; ti < nt; ti++) {
        const ynode *kn = yamlx_map_key(types, ti);
        const char *tname = scalar(kn);
        if (!tname) {
            e = bad(&L, kn, "reference type names are strings");
            goto out;
        }
        for (size_t i = 0; i < c->ntypes; i++) {
            if (strcasecmp(c->types[i].name, tname) == 0) {
                e = bad(&L, kn, "reference type listed twice");
                goto out;
            }
        }
        struct rc_type *t = &c->types[c->ntypes++];
        e = load_type(&L, tname, yamlx_map_value(types, ti), t);
        if (e != ERR_OK) {
            goto out;
        }
    }
    const ynode *sums = map_get(root, "checksums");
    if (sums) {
        e = load_sums(&L, sums);
        if (e != ERR_OK) {
            goto out;
        }
    }
out:
    yamlx_doc_destroy(doc);
    if (e != ERR_OK) {
        calib_refcat_destroy(c);
        return e;
    }
    *out = c;
    return ERR_OK;
}

enum err calib_refcat_load(const char *path, struct calib_refcat **out, struct err_info *ei)
{
    *out = NULL;
    FILE *fh = fopen(path, "rb");
    if (!fh) {
        return err_set(ei, errno == ENOENT ? ERR_NOT_FOUND : ERR_IO,
                       "could not open reference catalog \"%s\": %s", path, ERR_ERRNO(errno));
    }
    char *buf = malloc(CALIB_REFCAT_MAX_BYTES + 1);
    if (!buf) {
        fclose(fh);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    size_t n = fread(buf, 1, CALIB_REFCAT_MAX_BYTES + 1, fh);
    bool rerr = ferror(fh) != 0;
    fclose(fh);
    enum err e;
    if (rerr) {
        e = err_set(ei, ERR_IO, "could not read reference catalog \"%s\"", path);
    } else {
        e = calib_refcat_parse(buf, n, path, out, ei);
    }
    free(buf);
    return e;
}

const char *calib_refcat_checksum(const struct calib_refcat *c, const char *file)
{
    for (size_t i = 0; c && file && i < c->nsums; i++) {
        if (strcmp(c->sums[i].file, file) == 0) {
            return c->sums[i].sum;
        }
    }
    return NULL;
}

const char *calib_refcat_instrument(const struct calib_refcat *c)
{
    return c->instrument;
}

size_t calib_refcat_ntypes(const struct calib_refcat *c)
{
    return c->ntypes;
}

const char *calib_refcat_type(const struct calib_refcat *c, size_t i)
{
    return i < c->ntypes ? c->types[i].name : NULL;
}

static const struct rc_type *find_type(const struct calib_refcat *c, const char *type)
{
    for (size_t i = 0; i < c->ntypes; i++) {
        if (strcasecmp(c->types[i].name, type) == 0) {
            return &c->types[i];
        }
    }
    return NULL;
}

const char *const *calib_refcat_parkeys(const struct calib_refcat *c, const char *type)
{
    const struct rc_type *t = find_type(c, type);
    return t ? (const char *const *)t->parkeys : NULL;
}

/* ------------------------------------------------------------------------------------------- */
/* Matching */

static bool rel_term(const char *term, double v, bool *ok)
{
    while (*term == ' ') {
        term++;
    }
    const char *ops[] = {">=", "<=", "==", "!=", ">", "<"};
    for (size_t i = 0; i < ARRAY_LEN(ops); i++) {
        size_t n = strlen(ops[i]);
        if (strncmp(term, ops[i], n) == 0) {
            double x = 0;
            if (str_to_double(term + n, &x) != ERR_OK) {
                /* str_to_double refuses surrounding blanks: trim them */
                char b[64];
                const char *s = term + n;
                while (*s == ' ') {
                    s++;
                }
                if (!str_copy(b, sizeof(b), s)) {
                    *ok = false;
                    return false;
                }
                size_t l = strlen(b);
                while (l > 0 && b[l - 1] == ' ') {
                    b[--l] = '\0';
                }
                if (str_to_double(b, &x) != ERR_OK) {
                    *ok = false;
                    return false;
                }
            }
            switch (i) {
            case 0: return v >= x;
            case 1: return v <= x;
            case 2: return v == x;
            case 3: return v != x;
            case 4: return v > x;
            default: return v < x;
            }
        }
    }
    *ok = false;
    return false;
}

/* "# >1 and <37 #": terms joined by "and" / "or" (left to right, and binds tighter). */
static bool relational(const char *expr, const char *hv)
{
    double v = 0;
    if (str_to_double(hv, &v) != ERR_OK) {
        return false;
    }
    char buf[RC_VALUE_MAX];
    if (!str_copy(buf, sizeof(buf), expr)) {
        return false;
    }
    bool any_or = false;
    /* split on " or " then " and " */
    char *p = buf;
    while (p) {
        char *orp = strstr(p, " or ");
        if (orp) {
            *orp = '\0';
        }
        bool all = true, ok = true;
        char *q = p;
        while (q) {
            char *andp = strstr(q, " and ");
            if (andp) {
                *andp = '\0';
            }
            if (!rel_term(q, v, &ok)) {
                all = false;
            }
            q = andp ? andp + 5 : NULL;
        }
        if (ok && all) {
            any_or = true;
        }
        p = orp ? orp + 4 : NULL;
    }
    return any_or;
}

/* -1 no match, 0 matches with weight 0 (N/A), 1 matches. */
static int match_value(const char *pat_raw, const char *hv)
{
    char pat[RC_VALUE_MAX];
    str_copy(pat, sizeof(pat), pat_raw);
    /* trim */
    char *p = pat;
    while (*p == ' ') {
        p++;
    }
    size_t n = strlen(p);
    while (n > 0 && p[n - 1] == ' ') {
        p[--n] = '\0';
    }
    if (is_na(p)) {
        return 0;
    }
    if (strcmp(hv, "*") == 0) {
        return 1;
    }
    if (strcmp(hv, "N/A") == 0) {
        return 0;
    }
    if (strncasecmp(p, "not ", 4) == 0) {
        int r = match_value(p + 4, hv);
        return r == 1 ? -1 : 1;
    }
    if (n >= 2 && p[0] == '{' && p[n - 1] == '}') {
        p[n - 1] = '\0';
        char c[RC_VALUE_MAX];
        calib_refcat_condition(p + 1, c, sizeof(c));
        return strcmp(c, hv) == 0 ? 1 : -1;
    }
    if (n >= 2 && p[0] == '#' && p[n - 1] == '#') {
        p[n - 1] = '\0';
        return relational(p + 1, hv) ? 1 : -1;
    }
    if (strncasecmp(p, "between ", 8) == 0) {
        double lo = 0, hi = 0, v = 0;
        char extra = 0;
        if (sscanf(p + 8, "%lf %lf %c", &lo, &hi, &extra) != 2 ||
            str_to_double(hv, &v) != ERR_OK) {
            return -1;
        }
        return v >= lo && v < hi ? 1 : -1;
    }
    if (n >= 2 && p[0] == '(' && p[n - 1] == ')') {
        char re[RC_VALUE_MAX + 4];
        snprintf(re, sizeof(re), "^(%s)$", p);
        regex_t rx;
        if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB | REG_ICASE) != 0) {
            return -1;
        }
        int r = regexec(&rx, hv, 0, NULL, 0);
        regfree(&rx);
        return r == 0 ? 1 : -1;
    }
    /* alternatives, each a literal or an anchored glob */
    for (char *alt = p, *bar = NULL; alt; alt = bar ? bar + 1 : NULL) {
        bar = strchr(alt, '|');
        if (bar) {
            *bar = '\0';
        }
        char c[RC_VALUE_MAX];
        if (strchr(alt, '*') || strchr(alt, '?')) {
            char up[RC_VALUE_MAX];
            size_t k = 0;
            for (const char *s = alt; *s && k < sizeof(up) - 1; s++) {
                if (*s != ' ' || (k > 0 && s[1] != '\0')) {
                    up[k++] = (char)toupper((unsigned char)*s);
                }
            }
            up[k] = '\0';
            if (fnmatch(up, hv, 0) == 0) {
                return 1;
            }
            continue;
        }
        calib_refcat_condition(alt, c, sizeof(c));
        if (strcmp(c, hv) == 0) {
            return 1;
        }
    }
    return -1;
}

struct cand {
    size_t rule;
    int weight;
    int matched; /* keys that matched, for "nearest" */
    int first_miss;
};

static int cmp_cand(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->weight != y->weight) {
        return y->weight - x->weight;
    }
    return (x->rule > y->rule) - (x->rule < y->rule);
}

static void append(char *buf, size_t cap, const char *fmt, ...) PRINTF_LIKE(3, 4);
static void append(char *buf, size_t cap, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n + 1 >= cap) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, cap - n, fmt, ap);
    va_end(ap);
}

static void rule_text(const struct rc_type *t, const struct rc_rule *r, char *buf, size_t cap)
{
    buf[0] = '\0';
    append(buf, cap, "[");
    for (size_t k = 0; k < t->nparkeys; k++) {
        append(buf, cap, "%s%s", k ? ", " : "", r->vals[k]);
    }
    append(buf, cap, "]");
}

enum err calib_refcat_select(const struct calib_refcat *c, const char *type, calib_header_get get,
                             void *arg, const char *obs_time, struct calib_refsel *out,
                             struct err_info *ei)
{
    memset(out, 0, sizeof(*out));
    const struct rc_type *t = find_type(c, type);
    if (!t) {
        return err_set_field(ei, ERR_NOT_FOUND, type,
                             "reference catalog \"%s\" (%s) has no reference type %s", c->name,
                             c->instrument, type);
    }
    if (t->na) {
        str_copy(out->file, sizeof(out->file), "N/A");
        out->not_applicable = true;
        return ERR_OK;
    }
    char obs[20] = "";
    if (obs_time && calib_refcat_date(obs_time, NULL, obs, ei) != ERR_OK) {
        return ERR_INVALID;
    }
    char hv[CALIB_REFCAT_MAX_PARKEYS][RC_VALUE_MAX];
    char hdr[400] = "";
    for (size_t k = 0; k < t->nparkeys; k++) {
        const char *raw = get ? get(t->parkeys[k], arg) : NULL;
        calib_refcat_condition(raw, hv[k], sizeof(hv[k]));
        append(hdr, sizeof(hdr), "%s%s='%s'", k ? " " : "", t->parkeys[k], hv[k]);
    }
    struct cand *cands = calloc(t->nrules ? t->nrules : 1, sizeof(*cands));
    struct cand *near = calloc(t->nrules ? t->nrules : 1, sizeof(*near));
    if (!cands || !near) {
        free(cands);
        free(near);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    size_t nc = 0;
    for (size_t r = 0; r < t->nrules; r++) {
        int w = 0, matched = 0, miss = -1;
        bool dropped = false;
        for (size_t k = 0; k < t->nparkeys; k++) {
            int s = match_value(t->rules[r].vals[k], hv[k]);
            if (s < 0) {
                dropped = true;
                if (miss < 0) {
                    miss = (int)k;
                }
            } else {
                w += s;
                matched++;
            }
        }
        near[r] = (struct cand){.rule = r, .weight = matched, .matched = matched,
                                .first_miss = miss};
        if (!dropped) {
            cands[nc++] = (struct cand){.rule = r, .weight = w, .matched = matched};
        }
    }
    qsort(cands, nc, sizeof(*cands), cmp_cand);
    char msg[ERR_INFO_MSG_MAX];
    char rt[160];
    enum err e = ERR_CALIB;
    char later[300] = "";
    size_t i = 0;
    while (i < nc) {
        size_t j = i;
        while (j < nc && cands[j].weight == cands[i].weight) {
            j++;
        }
        /* one weight group: plain files and merged USEAFTER tables */
        const char *plain = NULL;
        bool ambiguous = false, have_dates = false;
        const struct rc_date *best = NULL;
        const struct rc_date *tie = NULL;
        for (size_t g = i; g < j; g++) {
            const struct rc_rule *r = &t->rules[cands[g].rule];
            if (r->ndates == 0) {
                if (plain && strcmp(plain, r->file) != 0) {
                    ambiguous = true;
                }
                plain = r->file;
                continue;
            }
            have_dates = true;
            for (size_t d = 0; d < r->ndates; d++) {
                if (obs[0] && strcmp(r->dates[d].when, obs) > 0) {
                    if (!later[0]) {
                        rule_text(t, r, rt, sizeof(rt));
                        snprintf(later, sizeof(later), "%s from %s (%s)", rt, r->dates[d].when,
                                 r->dates[d].file);
                    }
                    continue;
                }
                if (!best || strcmp(r->dates[d].when, best->when) > 0) {
                    best = &r->dates[d];
                    tie = NULL;
                } else if (strcmp(r->dates[d].when, best->when) == 0 &&
                           strcmp(r->dates[d].file, best->file) != 0) {
                    tie = &r->dates[d];
                }
            }
        }
        if (ambiguous || (plain && have_dates) || tie) {
            snprintf(msg, sizeof(msg), "ambiguous %s for %s: rules of equal weight %d give %s and %s",
                     t->name, hdr, cands[i].weight,
                     tie ? best->file : plain ? plain : "?",
                     tie ? tie->file : (have_dates && best ? best->file : "another file"));
            e = err_set(ei, ERR_CALIB, "%s", msg);
            goto out;
        }
        if (plain) {
            str_copy(out->file, sizeof(out->file), plain);
            out->weight = cands[i].weight;
            out->not_applicable = strcmp(plain, "N/A") == 0;
            e = ERR_OK;
            goto out;
        }
        if (best) {
            str_copy(out->file, sizeof(out->file), best->file);
            str_copy(out->useafter, sizeof(out->useafter), best->when);
            out->weight = cands[i].weight;
            out->not_applicable = strcmp(best->file, "N/A") == 0;
            e = ERR_OK;
            goto out;
        }
        i = j; /* every date of this group is later than the observation: next weight */
    }
    /* failure: name the type, the header values and the nearest candidates */
    if (nc > 0) {
        snprintf(msg, sizeof(msg), "no %s for %s at %s: no USEAFTER on or before it; earliest "
                                   "candidate: %s",
                 t->name, hdr, obs[0] ? obs : "(no time)", later[0] ? later : "none");
    } else {
        snprintf(msg, sizeof(msg), "no %s rule matches %s; nearest candidates:", t->name, hdr);
        qsort(near, t->nrules, sizeof(*near), cmp_cand);
        for (size_t k = 0; k < t->nrules && k < 3; k++) {
            const struct rc_rule *r = &t->rules[near[k].rule];
            rule_text(t, r, rt, sizeof(rt));
            append(msg, sizeof(msg), "%s %s (line %d, %s differs)", k ? ";" : "", rt, r->line,
                   near[k].first_miss >= 0 ? t->parkeys[near[k].first_miss] : "?");
        }
        if (t->nrules == 0) {
            append(msg, sizeof(msg), " none (the type has no rules)");
        }
    }
    e = err_set_field(ei, ERR_CALIB, t->name, "%s", msg);
out:
    free(cands);
    free(near);
    return e;
}
