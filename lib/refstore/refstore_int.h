/* refstore_int.h - internals of lib/refstore shared between its files and its tests.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_REFSTORE_REFSTORE_INT_H
#define OBSFLOW_REFSTORE_REFSTORE_INT_H

#include "refstore.h"

/** The same over memory (the fuzz target's entry). */
NODISCARD enum err refstore__fits_check_mem(const void *data, size_t len, struct err_info *ei);

#endif
