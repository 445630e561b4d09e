/* bp_table.c - lookup tables for blueprint expressions (CSV or YAML files shipped beside a
 * blueprint or with a profile): exact keys, then fnmatch pattern keys in file order.
 * SPDX-License-Identifier: Apache-2.0 */
#include "blueprint/bp_int.h"

#include "core/str.h"
#include "yaml/yaml.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct bp_table {
    char *name;     /* name used in expressions */
    char *file;     /* file name for messages */
    char **cells;   /* rows * cols cells, row 0 the header */
    size_t rows;    /* data rows + 1 */
    size_t cols;
};

void bpt_free(struct bp_table *t)
{
    if (!t) {
        return;
    }
    for (size_t i = 0; i < t->rows * t->cols; i++) {
        free(t->cells[i]);
    }
    free(t->cells);
    free(t->name);
    free(t->file);
    free(t);
}

const char *bpt_name(const struct bp_table *t)
{
    return t->name;
}

const char *bpt_file(const struct bp_table *t)
{
    return t->file;
}

/* split one CSV line into at most BP_TABLE_COLS trimmed fields (in place) */
static bool split_line(char *s, char **f, size_t *n)
{
    *n = 0;
    for (;;) {
        while (*s == ' ' || *s == '\t') {
            s++;
        }
        if (*n >= BP_TABLE_COLS) {
            return false;
        }
        char *start = s;
        if (*s == '"') {
            char *w = s;
            start = w;
            s++;
            for (;;) {
                if (*s == '\0') {
                    return false;
                }
                if (*s == '"' && s[1] == '"') {
                    *w++ = '"';
                    s += 2;
                } else if (*s == '"') {
                    s++;
                    break;
                } else {
                    *w++ = *s++;
                }
            }
            char *end = w;
            while (*s == ' ' || *s == '\t') {
                s++;
            }
            if (*s != ',' && *s != '\0') {
                return false;
            }
            bool more = *s == ',';
            *end = '\0';
            f[(*n)++] = start;
            if (!more) {
                return true;
            }
            s++;
            continue;
        }
        while (*s && *s != ',') {
            s++;
        }
        bool more = *s == ',';
        char *end = s;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) {
            end--;
        }
        *end = '\0';
        f[(*n)++] = start;
        if (!more) {
            return true;
        }
        s++;
    }
}

/* ---- YAML ------------------------------------------------------------------------------- */

#define YAML_KEY_COLUMN "key" /* the key column of a mapping of key -> mapping */

/* a scalar cell: its text; null (~, null, an empty plain scalar) is an empty cell */
static bool yaml_cell(const struct yamlx_node *v, const char **text)
{
    if (!v) {
        *text = "";
        return true;
    }
    if (yamlx_node_kind(v) != YAMLX_SCALAR || strlen(yamlx_scalar(v)) != yamlx_scalar_len(v)) {
        return false;
    }
    const char *s = yamlx_scalar(v);
    *text = yamlx_scalar_plain(v) && (strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
                                      strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0)
                ? "" : s;
    return true;
}

/* column @p col of @p t (adding it to the header row while columns are being collected) */
static enum err yaml_column(struct bp_table *t, const char *col, size_t *at, bool add)
{
    for (size_t c = 0; c < t->cols; c++) {
        if (strcmp(t->cells[c], col) == 0) {
            *at = c;
            return ERR_OK;
        }
    }
    if (!add) {
        return ERR_NOT_FOUND;
    }
    if (t->cols >= BP_TABLE_COLS) {
        return ERR_TOO_LARGE;
    }
    if (!(t->cells[t->cols] = str_dup(col))) {
        return ERR_NOMEM;
    }
    *at = t->cols++;
    return ERR_OK;
}

/*
 * A YAML table: a sequence of mappings (the first field of each row is its key, and names the
 * key column, as a CSV header's first column), or a mapping of key -> mapping (key column
 * "key"). Columns are the fields in order of first appearance; a field a row lacks is empty.
 */
static enum err yaml_table(struct bp_table *t, const struct yamlx_node *root, struct err_info *ei)
{
    bool seq = yamlx_node_kind(root) == YAMLX_SEQUENCE;
    size_t nrows = yamlx_node_size(root);
    enum err e = ERR_OK;
    if (!seq && yamlx_node_kind(root) != YAMLX_MAPPING) {
        return err_set(ei, ERR_PARSE, "lookup table \"%s\" line %zu: expected a list of "
                       "mappings or a mapping of key -> mapping", t->file, yamlx_node_line(root));
    }
    if (nrows > BP_TABLE_ROWS) {
        return err_set(ei, ERR_TOO_LARGE, "lookup table \"%s\" has more than %d rows", t->file,
                       BP_TABLE_ROWS);
    }
    /* the header row first (columns collected from every row), then one row per entry */
    t->cells = calloc(BP_TABLE_COLS, sizeof *t->cells);
    if (!t->cells) {
        return err_set(ei, ERR_NOMEM, "out of memory reading a lookup table");
    }
    t->rows = 1;
    size_t at = 0;
    if (!seq && (e = yaml_column(t, YAML_KEY_COLUMN, &at, true)) != ERR_OK) {
        return err_set(ei, e, "out of memory reading a lookup table");
    }
    for (size_t r = 0; r < nrows; r++) {
        const struct yamlx_node *row = seq ? yamlx_seq_item(root, r) : yamlx_map_value(root, r);
        const struct yamlx_node *rowkey = seq ? NULL : yamlx_map_key(root, r);
        const char *text = NULL;
        if (!row || yamlx_node_kind(row) != YAMLX_MAPPING || yamlx_node_size(row) == 0) {
            const struct yamlx_node *where = row ? row : root;
            return err_set(ei, ERR_PARSE, "lookup table \"%s\" line %zu: a row is a mapping of "
                           "column -> value", t->file, yamlx_node_line(where));
        }
        if (rowkey && (!yaml_cell(rowkey, &text) || !*text)) {
            return err_set(ei, ERR_PARSE, "lookup table \"%s\" line %zu: a row's key is a "
                           "non-empty text", t->file, yamlx_node_line(rowkey));
        }
        for (size_t i = 0; i < yamlx_node_size(row); i++) {
            const struct yamlx_node *k = yamlx_map_key(row, i);
            const struct yamlx_node *v = yamlx_map_value(row, i);
            const char *col = NULL;
            if (!yaml_cell(k, &col) || !*col) {
                return err_set(ei, ERR_PARSE, "lookup table \"%s\" line %zu: a column name is "
                               "a non-empty text", t->file, yamlx_node_line(k));
            }
            if (!yaml_cell(v, &text)) {
                return err_set(ei, ERR_PARSE, "lookup table \"%s\" line %zu: the value of "
                               "\"%s\" is not a single value", t->file, yamlx_node_line(v), col);
            }
            if (seq && i == 0 && r > 0 && strcmp(col, t->cells[0]) != 0) {
                return err_set(ei, ERR_PARSE, "lookup table \"%s\" line %zu: the first field of "
                               "every row is the key \"%s\", not \"%s\"", t->file,
                               yamlx_node_line(k), t->cells[0], col);
            }
            if (!seq && strcmp(col, YAML_KEY_COLUMN) == 0) {
                return err_set(ei, ERR_PARSE, "lookup table \"%s\" line %zu: \"%s\" names "
                               "the key column of a mapping table", t->file, yamlx_node_line(k),
                               YAML_KEY_COLUMN);
            }
            if ((e = yaml_column(t, col, &at, true)) != ERR_OK) {
                return e == ERR_TOO_LARGE
                           ? err_set(ei, e, "lookup table \"%s\" has more than %d columns",
                                     t->file, BP_TABLE_COLS)
                           : err_set(ei, e, "out of memory reading a lookup table");
            }
        }
    }
    char **cells = realloc(t->cells, (nrows + 1) * t->cols * sizeof *cells);
    if (!cells) {
        return err_set(ei, ERR_NOMEM, "out of memory reading a lookup table");
    }
    t->cells = cells;
    for (size_t i = t->cols; i < (nrows + 1) * t->cols; i++) {
        t->cells[i] = NULL;
    }
    for (size_t r = 0; r < nrows; r++) {
        const struct yamlx_node *row = seq ? yamlx_seq_item(root, r) : yamlx_map_value(root, r);
        char **cell = t->cells + t->rows * t->cols;
        t->rows++; /* the row's cells are freed with the table from here on */
        if (!seq) {
            const char *text = NULL;
            (void)yaml_cell(yamlx_map_key(root, r), &text);
            for (size_t p = 1; p < t->rows - 1; p++) {
                if (strcmp(t->cells[p * t->cols], text) == 0) {
                    return err_set(ei, ERR_PARSE, "lookup table \"%s\" line %zu: key \"%s\" "
                                   "given twice", t->file,
                                   yamlx_node_line(yamlx_map_key(root, r)), text);
                }
            }
            if (!(cell[0] = str_dup(text))) {
                return err_set(ei, ERR_NOMEM, "out of memory reading a lookup table");
            }
        }
        for (size_t i = 0; i < yamlx_node_size(row); i++) {
            const char *col = NULL, *text = NULL;
            (void)yaml_cell(yamlx_map_key(row, i), &col);
            (void)yaml_cell(yamlx_map_value(row, i), &text);
            (void)yaml_column(t, col, &at, false);
            if (cell[at]) {
                return err_set(ei, ERR_PARSE, "lookup table \"%s\" line %zu: column \"%s\" "
                               "given twice", t->file, yamlx_node_line(yamlx_map_key(row, i)),
                               col);
            }
            if (!(cell[at] = str_dup(text))) {
                return err_set(ei, ERR_NOMEM, "out of memory reading a lookup table");
            }
        }
        for (size_t c = 0; c < t->cols; c++) {
            if (!cell[c] && !(cell[c] = str_dup(""))) {
                return err_set(ei, ERR_NOMEM, "out of memory reading a lookup table");
            }
        }
        if (!cell[0][0]) {
            return err_set(ei, ERR_PARSE, "lookup table \"%s\" line %zu: a row without a key",
                           t->file, yamlx_node_line(row));
        }
    }
    return ERR_OK;
}

static bool is_yaml_name(const char *path)
{
    return str_ends_with(path, ".yaml") || str_ends_with(path, ".yml");
}

static enum err yaml_text(struct bp_table *t, const char *text, size_t len, struct err_info *ei)
{
    static const struct yamlx_limits lim = {.max_bytes = BP_MAX_FILE * 4, .max_depth = 4,
                                            .max_nodes = 4000000};
    struct yamlx_doc *doc = NULL;
    enum err e = yamlx_doc_parse(text, len, &lim, &doc, ei);
    if (e != ERR_OK) {
        if (e != ERR_NOMEM) {
            err_prefix(ei, "lookup table \"%s\": ", t->file);
        }
        return e;
    }
    e = yamlx_doc_root(doc) ? yaml_table(t, yamlx_doc_root(doc), ei)
                            : err_set(ei, ERR_PARSE, "lookup table \"%s\" is empty", t->file);
    yamlx_doc_destroy(doc);
    return e;
}

static enum err yaml_load(struct bp_table *t, FILE *fp, struct err_info *ei)
{
    char *text = malloc(BP_MAX_FILE * 4 + 1);
    enum err e = ERR_OK;
    if (!text) {
        return err_set(ei, ERR_NOMEM, "out of memory reading a lookup table");
    }
    size_t len = fread(text, 1, BP_MAX_FILE * 4 + 1, fp);
    e = ferror(fp) ? err_set(ei, ERR_IO, "could not read lookup table \"%s\"", t->file)
                   : yaml_text(t, text, len, ei);
    free(text);
    return e;
}

enum err bpt_yaml_text(const char *name, const char *file, const char *text, size_t len,
                       struct bp_table **out, struct err_info *ei)
{
    struct bp_table *t = calloc(1, sizeof *t);
    enum err e;
    *out = NULL;
    if (!t || !(t->name = str_dup(name)) || !(t->file = str_dup(file))) {
        bpt_free(t);
        return err_set(ei, ERR_NOMEM, "out of memory reading a lookup table");
    }
    if ((e = yaml_text(t, text, len, ei)) != ERR_OK) {
        bpt_free(t);
        return e;
    }
    *out = t;
    return ERR_OK;
}

/* ---- CSV and loading ------------------------------------------------------------------- */

enum err bpt_load(const char *name, const char *path, struct bp_table **out, struct err_info *ei)
{
    enum err e = ERR_OK;
    char line[4096];
    int lineno = 0;
    size_t cap = 0;
    struct bp_table *t = calloc(1, sizeof *t);
    const char *base = strrchr(path, '/');
    FILE *fp = NULL;
    *out = NULL;
    if (!t || !(t->name = str_dup(name)) || !(t->file = str_dup(base ? base + 1 : path))) {
        e = err_set(ei, ERR_NOMEM, "out of memory reading a lookup table");
        goto out;
    }
    fp = fopen(path, "r");
    if (!fp) {
        e = err_set(ei, ERR_IO, "could not open lookup table \"%s\": %s", t->file,
                    ERR_ERRNO(errno));
        goto out;
    }
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > BP_MAX_FILE * 4) {
        e = err_set(ei, ERR_INVALID, "lookup table \"%s\" is not a regular file of at most "
                    "%u bytes", t->file, (unsigned)BP_MAX_FILE * 4);
        goto out;
    }
    if (is_yaml_name(path)) {
        if ((e = yaml_load(t, fp, ei)) != ERR_OK) {
            goto out;
        }
        *out = t;
        t = NULL;
        goto out;
    }
    while (fgets(line, sizeof line, fp)) {
        char *f[BP_TABLE_COLS];
        size_t n = 0;
        lineno++;
        size_t ll = strlen(line);
        if (ll == sizeof line - 1 && line[ll - 1] != '\n') {
            e = err_set(ei, ERR_PARSE, "lookup table \"%s\" line %d: line too long", t->file,
                        lineno);
            goto out;
        }
        while (ll > 0 && (line[ll - 1] == '\n' || line[ll - 1] == '\r')) {
            line[--ll] = '\0';
        }
        char *p = line;
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        if (*p == '\0' || *p == '#') {
            continue;
        }
        if (!split_line(p, f, &n)) {
            e = err_set(ei, ERR_PARSE, "lookup table \"%s\" line %d: malformed CSV line "
                        "(unterminated quote or more than %d columns)", t->file, lineno,
                        BP_TABLE_COLS);
            goto out;
        }
        if (t->rows == 0) {
            t->cols = n;
        } else if (n != t->cols) {
            e = err_set(ei, ERR_PARSE, "lookup table \"%s\" line %d: %zu columns, the header "
                        "has %zu", t->file, lineno, n, t->cols);
            goto out;
        }
        if (t->rows > BP_TABLE_ROWS) {
            e = err_set(ei, ERR_TOO_LARGE, "lookup table \"%s\" has more than %d rows", t->file,
                        BP_TABLE_ROWS);
            goto out;
        }
        if ((t->rows + 1) * t->cols > cap) {
            size_t nc = cap ? cap * 2 : 64 * t->cols;
            while (nc < (t->rows + 1) * t->cols) {
                nc *= 2;
            }
            char **c = realloc(t->cells, nc * sizeof *c);
            if (!c) {
                e = err_set(ei, ERR_NOMEM, "out of memory reading a lookup table");
                goto out;
            }
            t->cells = c;
            cap = nc;
        }
        for (size_t i = 0; i < n; i++) {
            t->cells[t->rows * t->cols + i] = NULL;
        }
        t->rows++;
        for (size_t i = 0; i < n; i++) {
            if (!(t->cells[(t->rows - 1) * t->cols + i] = str_dup(f[i]))) {
                e = err_set(ei, ERR_NOMEM, "out of memory reading a lookup table");
                goto out;
            }
        }
    }
    if (ferror(fp)) {
        e = err_set(ei, ERR_IO, "could not read lookup table \"%s\"", t->file);
        goto out;
    }
    if (t->rows == 0) {
        e = err_set(ei, ERR_PARSE, "lookup table \"%s\" has no header row", t->file);
        goto out;
    }
    *out = t;
    t = NULL;
out:
    if (fp) {
        fclose(fp);
    }
    bpt_free(t);
    return e;
}

static bool is_pattern(const char *k)
{
    return strpbrk(k, "*?[") != NULL;
}

enum err bpt_get(const struct bp_table *t, const char *key, const char *col, const char **cell)
{
    size_t c = 0;
    *cell = NULL;
    for (c = 0; c < t->cols; c++) {
        if (strcmp(t->cells[c], col) == 0) {
            break;
        }
    }
    if (c == t->cols) {
        return ERR_INVALID;
    }
    for (size_t r = 1; r < t->rows; r++) {
        const char *k = t->cells[r * t->cols];
        if (!is_pattern(k) && strcmp(k, key) == 0) {
            *cell = t->cells[r * t->cols + c];
            return ERR_OK;
        }
    }
    for (size_t r = 1; r < t->rows; r++) {
        const char *k = t->cells[r * t->cols];
        if (is_pattern(k) && fnmatch(k, key, 0) == 0) {
            *cell = t->cells[r * t->cols + c];
            return ERR_OK;
        }
    }
    return ERR_NOT_FOUND;
}
