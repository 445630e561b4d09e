/* isodate.h - ISO-8601 calendar dates to MJD for the metadata path (FITS DATE-OBS values,
 * blueprint date functions): one parser shared by lib/wcs and lib/blueprint.
 * Thread-safe. SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_CORE_ISODATE_H
#define OBSFLOW_CORE_ISODATE_H

#include <stdbool.h>

/**
 * Parse yyyy-mm-dd[(T| |,)hh:mm[:ss[.fff]]], also with '/' between the date fields, optional
 * trailing 'Z' and blanks, as a UTC date on the proleptic Gregorian calendar.
 * @param s   [in] borrowed text; NULL is malformed.
 * @param mjd [out] Modified Julian Date, set only when the text is well formed.
 * @return false when malformed (month 1-12, day 1-31, hour 0-24, minute 0-59, seconds
 *         0 <= s < 61 written with a leading digit).
 */
bool isodate_to_mjd(const char *s, double *mjd);

#endif
