/* cfgdir.h - the YAML files of a configuration directory (profiles/, expectations/,
 * collections/ under OBSFLOW_CONFIG_DIR): their names in a stable order, and their text read
 * whole with a cap. One reader for every module that loads such a directory.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_CORE_CFGDIR_H
#define OBSFLOW_CORE_CFGDIR_H

#include "core/compiler.h"
#include "core/err.h"

#include <stddef.h>

/**
 * The names (not paths) of the files of @p dir ending in ".yaml" or ".yml", hidden ones left
 * out, sorted bytewise. @param max at most this many (more: ERR_TOO_LARGE "<dir>: more than
 * <max> <what>"). @param[out] names owned (cfgdir_names_free), @p n their number.
 * @return ERR_OK; ERR_NOT_FOUND when @p dir does not exist; ERR_IO when it cannot be read;
 *         ERR_TOO_LARGE; ERR_NOMEM.
 */
NODISCARD enum err cfgdir_yaml_names(const char *dir, size_t max, const char *what,
                                     char ***names, size_t *n, struct err_info *ei);
void cfgdir_names_free(char **names, size_t n);

/**
 * Read the whole file @p path, at most @p max bytes, NUL-terminated. Errors name the file as
 * "<path>:1: ..." (cannot open, read error, larger than @p max bytes).
 * @param[out] text owned (free); @p len its length without the terminator.
 * @return ERR_OK; ERR_NOT_FOUND; ERR_IO; ERR_TOO_LARGE; ERR_NOMEM.
 */
NODISCARD enum err cfgdir_read(const char *path, size_t max, char **text, size_t *len,
                               struct err_info *ei);

#endif
