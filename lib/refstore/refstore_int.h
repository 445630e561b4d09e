/* refstore_int.h - internals of lib/refstore shared between its files and its tests.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_REFSTORE_REFSTORE_INT_H
#define OBSFLOW_REFSTORE_REFSTORE_INT_H

#include "refstore.h"

#define REFSTORE_FITS_BLOCK      2880
#define REFSTORE_FITS_HDUS_MAX   1000 /* HDUs walked in one file */
#define REFSTORE_FITS_HBLOCKS_MAX 1000 /* header blocks of one HDU (2.8 MB of cards) */

/** Read @p len bytes at @p off into @p buf; return the bytes read (short at the end), -1 on
 *  an error. */
typedef long (*refstore__read_fn)(void *ud, uint64_t off, void *buf, size_t len);

/** The FITS completeness check over a reader of a @p size byte file. */
NODISCARD enum err refstore__fits_check(refstore__read_fn rd, void *ud, uint64_t size,
                                        const char *what, struct err_info *ei);

/** The same over memory (the fuzz target's entry). */
NODISCARD enum err refstore__fits_check_mem(const void *data, size_t len, struct err_info *ei);

#endif
