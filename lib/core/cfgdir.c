/* cfgdir.c - see cfgdir.h. SPDX-License-Identifier: Apache-2.0 */
#include "core/cfgdir.h"

#include "core/str.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void cfgdir_names_free(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++) {
        free(names[i]);
    }
    free(names);
}

enum err cfgdir_yaml_names(const char *dir, size_t max, const char *what, char ***names,
                           size_t *n, struct err_info *ei)
{
    char **v = calloc(max + 1, sizeof *v);
    size_t k = 0;
    enum err e = ERR_OK;
    if (!v) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    DIR *d = opendir(dir);
    if (!d) {
        int errnum = errno;
        free(v);
        return errnum == ENOENT
                   ? err_set(ei, ERR_NOT_FOUND, "%s: no such directory", dir)
                   : err_set(ei, ERR_IO, "%s: cannot open directory: %s", dir, ERR_ERRNO(errnum));
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' ||
            !(str_ends_with(de->d_name, ".yaml") || str_ends_with(de->d_name, ".yml"))) {
            continue;
        }
        if (k == max) {
            e = err_set(ei, ERR_TOO_LARGE, "%s: more than %zu %s", dir, max, what);
            break;
        }
        if (!(v[k] = str_dup(de->d_name))) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
            break;
        }
        k++;
    }
    closedir(d);
    if (e != ERR_OK) {
        cfgdir_names_free(v, k);
        return e;
    }
    qsort(v, k, sizeof v[0], cmp_names);
    *names = v;
    *n = k;
    return ERR_OK;
}

enum err cfgdir_read(const char *path, size_t max, char **text, size_t *len, struct err_info *ei)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int errnum = errno;
        return err_set(ei, errnum == ENOENT ? ERR_NOT_FOUND : ERR_IO, "%s:1: cannot open: %s",
                       path, ERR_ERRNO(errnum));
    }
    char *b = malloc(max + 1);
    if (!b) {
        fclose(f);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    size_t got = fread(b, 1, max + 1, f);
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad || got > max) {
        free(b);
        return bad ? err_set(ei, ERR_IO, "%s:1: read error", path)
                   : err_set(ei, ERR_TOO_LARGE, "%s:1: larger than %zu bytes", path, max);
    }
    b[got] = '\0';
    *text = b;
    *len = got;
    return ERR_OK;
}
