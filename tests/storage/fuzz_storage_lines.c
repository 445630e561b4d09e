/* fuzz_storage_lines.c - libFuzzer target for the URI-list line splitter of storage_walk
 * (storage__lines_*): any bytes, fed whole and in chunks whose sizes come from the input's
 * first byte, must give the same lines (same count, numbers and text hash) or the same error,
 * each reported line trimmed, not blank, not a comment, without newline or NUL, within
 * STORAGE_URI_MAX bytes, with increasing line numbers; each reported line is also given to
 * storage_uri_parse as storage_walk does. Never a crash.
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/storage.h"
#include "storage/storage_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct tally {
    size_t n;
    uint64_t last_lineno;
    uint64_t hash;
    struct storage_uri *u;
};

static enum err on_line(void *ud, uint64_t lineno, const char *text, struct err_info *ei)
{
    struct tally *t = ud;
    size_t len = strlen(text);
    if (len == 0 || len > STORAGE_URI_MAX || text[0] == '#' || strchr(text, '\n') ||
        text[0] == ' ' || text[0] == '\t' || text[len - 1] == ' ' || text[len - 1] == '\r' ||
        lineno <= t->last_lineno) {
        abort();
    }
    t->last_lineno = lineno;
    t->n++;
    t->hash = t->hash * 1099511628211ULL + lineno;
    for (size_t i = 0; i < len; i++) {
        t->hash = (t->hash ^ (unsigned char)text[i]) * 1099511628211ULL;
    }
    struct err_info pe = {0};
    if (storage_uri_parse(text, t->u, &pe) != ERR_OK && !pe.msg[0]) {
        abort(); /* every failure explains itself */
    }
    (void)ei;
    return ERR_OK;
}

static enum err run(const uint8_t *data, size_t size, size_t step, struct tally *t,
                    struct err_info *ei)
{
    struct storage__lines *l = malloc(sizeof *l);
    if (!l) {
        return ERR_NOMEM;
    }
    storage__lines_init(l);
    enum err e = ERR_OK;
    for (size_t at = 0; e == ERR_OK && at < size;) {
        size_t n = step && size - at > step ? step : size - at;
        e = storage__lines_feed(l, (const char *)data + at, n, on_line, t, ei);
        at += n;
    }
    if (e == ERR_OK) {
        e = storage__lines_finish(l, on_line, t, ei);
    }
    free(l);
    return e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 4 * STORAGE_URI_MAX) {
        return 0;
    }
    size_t step = (size_t)data[0] % 17 + 1;
    data++;
    size--;
    struct storage_uri *u = malloc(sizeof *u);
    if (!u) {
        return 0;
    }
    struct tally a = {.u = u};
    struct tally b = {.u = u};
    struct err_info ea = {0};
    struct err_info eb = {0};
    enum err ra = run(data, size, 0, &a, &ea);
    enum err rb = run(data, size, step, &b, &eb);
    if (ra == ERR_NOMEM || rb == ERR_NOMEM) {
        free(u);
        return 0;
    }
    if (ra != rb || a.n != b.n || a.hash != b.hash || strcmp(ea.msg, eb.msg) != 0 ||
        (ra != ERR_OK && !ea.msg[0])) {
        abort();
    }
    free(u);
    return 0;
}
