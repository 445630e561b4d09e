/* bp_table.c - lookup tables for blueprint expressions (CSV files shipped beside a blueprint or
 * with a profile): exact keys, then fnmatch pattern keys in file order.
 * SPDX-License-Identifier: Apache-2.0 */
#include "blueprint/bp_int.h"

#include "core/str.h"

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
