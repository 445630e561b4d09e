/* bp_int.h - internals shared by lib/blueprint sources; include only from lib/blueprint.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_BLUEPRINT_BP_INT_H
#define OBSFLOW_BLUEPRINT_BP_INT_H

#include "blueprint/blueprint.h"

/* ISO date (yyyy-mm-dd[Thh:mm:ss[.f]], yyyy/mm/dd, trailing Z) to MJD; false when malformed. */
bool bp__iso_to_mjd(const char *s, double *mjd);

#endif
