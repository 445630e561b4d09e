/* dataset.c - HST dataset names (CALDP caldp/process.py rules) and configured regex rules.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dataset/dataset.h"

#include "core/re_check.h"
#include "core/str.h"

#include <ctype.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

struct hst_instr {
    char letter;
    const char *name;
    bool processable;
    const char *suffixes[DATASET_SUFFIX_MAX];
};

/* First letter of an ipppssoot -> instrument (CALDP IPPPSSOOT_INSTR); suffixes from the
 * managers' download_suffixes. Only ACS, WFC3, STIS and COS have managers. */
static const struct hst_instr hst_instrs[] = {
    {'j', "acs", true, {"asn", "raw"}},
    {'i', "wfc3", true, {"asn", "raw"}},
    {'o', "stis", true, {"asn", "raw", "epc", "tag", "wav"}},
    {'l', "cos", true,
     {"asn", "raw", "epc", "spt", "rawaccum", "rawaccum_a", "rawaccum_b", "rawacq", "rawtag",
      "rawtag_a", "rawtag_b", "pha_a", "pha_b"}},
    {'u', "wfpc2", false, {"raw"}},
    {'n', "nicmos", false, {"raw"}},
    {'w', "wfpc", false, {"raw"}},
    {'x', "foc", false, {"raw"}},
    {'y', "fos", false, {"raw"}},
    {'z', "hrs", false, {"raw"}},
    {'v', "hsp", false, {"raw"}},
    {'f', "fgs", false, {"raw"}},
    {'e', "eng", false, {"raw"}},
};

static const struct hst_instr *hst_find(char letter)
{
    char l = (char)tolower((unsigned char)letter);
    for (size_t i = 0; i < ARRAY_LEN(hst_instrs); i++) {
        if (hst_instrs[i].letter == l) {
            return &hst_instrs[i];
        }
    }
    return NULL;
}

const char *dataset_hst_instrument(char letter)
{
    const struct hst_instr *h = hst_find(letter);
    return h ? h->name : NULL;
}

static void fill_suffixes(struct dataset_info *out, const char *const *sfx)
{
    out->n_suffixes = 0;
    for (size_t i = 0; i < DATASET_SUFFIX_MAX && sfx[i]; i++) {
        out->suffixes[out->n_suffixes++] = sfx[i];
    }
}

static bool all_alnum(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

static bool all_digit(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

static void lower_copy(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++) {
        dst[i] = (char)tolower((unsigned char)src[i]);
    }
    dst[i] = '\0';
}

/* SVM: (acs|wfc3)_xxx_yy, xxx three and yy two alphanumerics. */
static bool parse_svm(const char *lc, struct dataset_info *out)
{
    const char *p;
    const char *instr;
    char letter;
    if (str_starts_with(lc, "acs_")) {
        p = lc + 4;
        instr = "acs";
        letter = 'j';
    } else if (str_starts_with(lc, "wfc3_")) {
        p = lc + 5;
        instr = "wfc3";
        letter = 'i';
    } else {
        return false;
    }
    if (strlen(p) != 6 || p[3] != '_' || !all_alnum(p, 3) || !all_alnum(p + 4, 2)) {
        return false;
    }
    static const char *const svm_sfx[] = {"flc", NULL};
    out->kind = DATASET_SVM;
    str_copy(out->instrument, sizeof out->instrument, instr);
    out->obsset[0] = letter;
    memcpy(out->obsset + 1, p, 3);
    memcpy(out->obsset + 4, p + 4, 2);
    out->obsset[6] = '\0';
    out->processable = true;
    fill_suffixes(out, svm_sfx);
    return true;
}

/* MVM: skycell-pNNNNxNNyNN */
static bool parse_mvm(const char *lc, struct dataset_info *out)
{
    static const char *const mvm_sfx[] = {"flc", NULL};
    const char *p = lc;
    if (!str_starts_with(p, "skycell-p")) {
        return false;
    }
    p += 9;
    if (strlen(p) != 10 || !all_digit(p, 4) || p[4] != 'x' || !all_digit(p + 5, 2) ||
        p[7] != 'y' || !all_digit(p + 8, 2)) {
        return false;
    }
    out->kind = DATASET_MVM;
    str_copy(out->instrument, sizeof out->instrument, "mvm");
    out->obsset[0] = '\0';
    out->processable = true;
    fill_suffixes(out, mvm_sfx);
    return true;
}

enum err dataset_parse_hst(const char *name, struct dataset_info *out, struct err_info *ei)
{
    struct dataset_info d;
    char lc[DATASET_NAME_MAX];
    if (!name || !*name) {
        return err_set_field(ei, ERR_INVALID, "dataset", "dataset name is empty");
    }
    size_t len = strlen(name);
    if (len >= DATASET_NAME_MAX) {
        return err_set_field(ei, ERR_INVALID, "dataset", "dataset name is longer than %d bytes",
                             DATASET_NAME_MAX - 1);
    }
    memset(&d, 0, sizeof d);
    lower_copy(lc, sizeof lc, name);
    str_copy(d.name, sizeof d.name, lc);
    if (len == 9 && all_alnum(lc, 9)) {
        const struct hst_instr *h = hst_find(lc[0]);
        if (!h) {
            return err_set_field(ei, ERR_INVALID, "dataset",
                                 "unrecognized HST instrument letter \"%c\" in dataset \"%s\"",
                                 name[0], name);
        }
        d.kind = DATASET_IPST;
        str_copy(d.instrument, sizeof d.instrument, h->name);
        memcpy(d.obsset, lc, 6);
        d.obsset[6] = '\0';
        d.processable = h->processable;
        fill_suffixes(&d, h->suffixes);
        *out = d;
        return ERR_OK;
    }
    if (parse_svm(lc, &d) || parse_mvm(lc, &d)) {
        *out = d;
        return ERR_OK;
    }
    return err_set_field(ei, ERR_INVALID, "dataset",
                         "invalid dataset name \"%s\": expected an HST ipppssoot (9 "
                         "alphanumerics), an SVM name such as acs_8ph_01 or an MVM name such as "
                         "skycell-p1234x05y06",
                         name);
}

/* ---- configured rules ------------------------------------------------------------------ */

struct dataset_rule {
    char *collection;
    char *pattern;
    regex_t re;
    size_t ngroups;                         /* capturing groups in the translated pattern */
    size_t nnamed;                          /* named groups */
    size_t group_of[DATASET_FIELDS_MAX];    /* named group -> capture index */
    char names[DATASET_FIELDS_MAX][32];
};

#define DATASET_GROUPS_MAX 64 /* capturing groups a rule may have (named or not) */

void dataset_rule_destroy(struct dataset_rule *r)
{
    if (!r) {
        return;
    }
    if (r->pattern) {
        regfree(&r->re);
    }
    free(r->collection);
    free(r->pattern);
    free(r);
}

const char *dataset_rule_collection(const struct dataset_rule *r)
{
    return r->collection;
}

/* Translate "(?<name>" into "(" recording names, count groups, anchor with ^...$. */
static enum err translate(struct dataset_rule *r, const char *pat, char *out, size_t cap,
                          struct err_info *ei)
{
    size_t o = 0;
    size_t group = 0;
    bool in_bracket = false;
#define PUT(c)                                                                                     \
    do {                                                                                           \
        if (o + 2 >= cap) {                                                                        \
            return err_set(ei, ERR_TOO_LARGE, "dataset pattern is too long");                      \
        }                                                                                          \
        out[o++] = (c);                                                                            \
    } while (0)
    PUT('^');
    PUT('(');
    group++; /* the wrapping group */
    for (size_t i = 0; pat[i]; i++) {
        char c = pat[i];
        if (c == '\\' && pat[i + 1]) {
            PUT(c);
            PUT(pat[++i]);
            continue;
        }
        if (in_bracket) {
            if (c == ']') {
                in_bracket = false;
            }
            PUT(c);
            continue;
        }
        if (c == '[') {
            in_bracket = true;
            PUT(c);
            if (pat[i + 1] == '^') {
                PUT(pat[++i]);
            }
            if (pat[i + 1] == ']') {
                PUT(pat[++i]);
            }
            continue;
        }
        if (c == '(') {
            group++;
            if (group > DATASET_GROUPS_MAX) {
                return err_set(ei, ERR_TOO_LARGE, "dataset pattern has more than %d groups",
                               DATASET_GROUPS_MAX);
            }
            if (pat[i + 1] == '?') {
                if (pat[i + 2] != '<') {
                    return err_set(ei, ERR_INVALID,
                                   "unsupported group syntax at offset %zu of dataset pattern "
                                   "\"%s\": only (?<name>...) is supported",
                                   i, pat);
                }
                size_t j = i + 3;
                size_t n = 0;
                char nm[32];
                while (pat[j] && pat[j] != '>') {
                    char g = pat[j];
                    if (!(isalnum((unsigned char)g) || g == '_') || n + 1 >= sizeof nm) {
                        return err_set(ei, ERR_INVALID,
                                       "invalid group name at offset %zu of dataset pattern "
                                       "\"%s\"",
                                       i, pat);
                    }
                    nm[n++] = g;
                    j++;
                }
                if (pat[j] != '>' || n == 0) {
                    return err_set(ei, ERR_INVALID,
                                   "unterminated group name at offset %zu of dataset pattern "
                                   "\"%s\"",
                                   i, pat);
                }
                nm[n] = '\0';
                if (r->nnamed >= DATASET_FIELDS_MAX) {
                    return err_set(ei, ERR_TOO_LARGE,
                                   "dataset pattern has more than %d named groups",
                                   DATASET_FIELDS_MAX);
                }
                for (size_t k = 0; k < r->nnamed; k++) {
                    if (strcmp(r->names[k], nm) == 0) {
                        return err_set(ei, ERR_INVALID,
                                       "duplicate group name \"%s\" in dataset pattern", nm);
                    }
                }
                str_copy(r->names[r->nnamed], sizeof r->names[0], nm);
                r->group_of[r->nnamed] = group;
                r->nnamed++;
                i = j;
                PUT('(');
                continue;
            }
        }
        PUT(c);
    }
    PUT(')');
    PUT('$');
    out[o] = '\0';
    r->ngroups = group;
    return ERR_OK;
#undef PUT
}

enum err dataset_rule_create(const char *collection, const char *pattern,
                             struct dataset_rule **out, struct err_info *ei)
{
    enum err rc;
    struct dataset_rule *r = calloc(1, sizeof *r);
    char tr[1024];
    if (!r) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    rc = re_check_ere(pattern, ei);
    if (rc != ERR_OK) {
        err_prefix(ei, "dataset rule of collection \"%s\": ", collection ? collection : "");
        goto fail;
    }
    rc = translate(r, pattern, tr, sizeof tr, ei);
    if (rc != ERR_OK) {
        goto fail;
    }
    int rrc = regcomp(&r->re, tr, REG_EXTENDED);
    if (rrc != 0) {
        char msg[128];
        regerror(rrc, &r->re, msg, sizeof msg);
        rc = err_set(ei, ERR_INVALID, "invalid dataset pattern \"%s\": %s", pattern, msg);
        goto fail;
    }
    r->collection = str_dup(collection ? collection : "");
    r->pattern = str_dup(pattern);
    if (!r->collection || !r->pattern) {
        if (r->pattern) {
            free(r->pattern);
            r->pattern = NULL;
        }
        regfree(&r->re);
        rc = err_set(ei, ERR_NOMEM, "out of memory");
        goto fail;
    }
    *out = r;
    return ERR_OK;
fail:
    free(r->collection);
    free(r);
    return rc;
}

enum err dataset_rule_match(const struct dataset_rule *r, const char *name,
                            struct dataset_fields *fields, struct dataset_info *info,
                            struct err_info *ei)
{
    regmatch_t m[DATASET_GROUPS_MAX + 2];
    struct dataset_fields f;
    if (!name || strlen(name) >= DATASET_NAME_MAX) {
        return err_set_field(ei, ERR_INVALID, "dataset", "dataset name is empty or too long");
    }
    if (regexec(&r->re, name, r->ngroups + 1, m, 0) != 0) {
        return err_set_field(ei, ERR_INVALID, "dataset",
                             "dataset name \"%s\" does not match the pattern \"%s\" of collection "
                             "\"%s\"",
                             name, r->pattern, r->collection);
    }
    memset(&f, 0, sizeof f);
    for (size_t k = 0; k < r->nnamed; k++) {
        regmatch_t g = m[r->group_of[k]];
        str_copy(f.name[k], sizeof f.name[k], r->names[k]);
        if (g.rm_so >= 0) {
            size_t n = (size_t)(g.rm_eo - g.rm_so);
            if (n >= DATASET_FIELD_LEN) {
                return err_set_field(ei, ERR_TOO_LARGE, r->names[k],
                                     "group \"%s\" of dataset \"%s\" is too long", r->names[k],
                                     name);
            }
            memcpy(f.value[k], name + g.rm_so, n);
            f.value[k][n] = '\0';
        }
    }
    f.n = r->nnamed;
    if (info) {
        memset(info, 0, sizeof *info);
        info->kind = DATASET_OTHER;
        str_copy(info->name, sizeof info->name, name);
        const char *instr = dataset_fields_get(&f, "instrument");
        lower_copy(info->instrument, sizeof info->instrument, instr ? instr : r->collection);
        info->processable = true;
    }
    if (fields) {
        *fields = f;
    }
    return ERR_OK;
}

const char *dataset_fields_get(const struct dataset_fields *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->name[i], name) == 0) {
            return f->value[i];
        }
    }
    return NULL;
}
