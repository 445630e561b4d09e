/* expect.h - input expectations in the spirit of Roman datamodels/RAD: per instrument and kind
 * of input ("acs"/"raw"), the keywords each HDU must carry (type, enum, pattern, range) and the
 * HDUs that must exist (EXTNAME/EXTVER, BITPIX, NAXIS). A file is checked at intake and every
 * violation is reported together in one structured JSON report:
 *   {"error":"validation_failed","file":F,"expectation":"acs/raw",
 *    "violations":[{"path":"PRIMARY.CCDGAIN","rule":"type","expected":"number","found":"'abc'"}]}
 * Expectation files are YAML (config/expectations/<instrument>_<kind>.yaml, format in
 * config/expectations/README.md); products (kind "flt") are checked the same way after
 * calibration, with rules relating them to the raw they were made from. The checker knows nothing of FITS libraries: callers describe
 * the file with an expect_header (HDUs and their 80-column cards), or let
 * expect_header_from_fits() read one through lib/fits.
 * Thread-safe: a loaded expect_set is read-only and may be shared; headers are per caller.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_EXPECT_H
#define OBSFLOW_EXPECT_H

#include "core/compiler.h"
#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define EXPECT_FILE_MAX       ((size_t)1 << 20) /* largest expectation file, bytes */
#define EXPECT_YAML_DEPTH_MAX 32                /* deepest YAML nesting */
#define EXPECT_YAML_NODES_MAX 100000            /* most YAML nodes in one document */
#define EXPECT_FILES_MAX      256               /* most expectation files in a directory */
#define EXPECT_HDUS_MAX       4096              /* most HDUs described in one header */
#define EXPECT_CARDS_MAX      100000            /* most cards in one header */
#define EXPECT_VIOLATIONS_MAX 1000              /* violations reported before "truncated" */

/**
 * Parse YAML text into a JSON value (mappings -> objects in document order, sequences ->
 * arrays; plain scalars that read as integers, reals, true/false or null become those types,
 * quoted scalars stay strings). Aliases and anchored scalars are refused; tags are ignored.
 * Read through lib/yaml (yamlx_json_parse) under the caps above.
 * @param[out] out new reference (owned, json_decref) on success
 * @return ERR_OK; ERR_PARSE naming line and column; ERR_TOO_LARGE past the caps above.
 */
NODISCARD enum err expect_yaml_parse(const char *text, size_t len, json_t **out,
                                     struct err_info *ei);

/** Read @p path (at most EXPECT_FILE_MAX bytes) and parse it as with expect_yaml_parse;
 *  messages name the file. */
NODISCARD enum err expect_yaml_load(const char *path, json_t **out, struct err_info *ei);

/** One compiled expectation (opaque). */
struct expect;

/**
 * Compile an expectation from its parsed document.
 * @param[in] doc  the document (borrowed)
 * @param[in] name where it came from, for messages (file name)
 * @return ERR_OK; ERR_INVALID naming the offending field (e.g. "hdus[1].keywords.CCDGAIN.type").
 */
NODISCARD enum err expect_compile(const json_t *doc, const char *name, struct expect **out,
                                  struct err_info *ei);

/** Parse and compile YAML text (used by the fuzz target and tests). */
NODISCARD enum err expect_parse(const char *yaml, size_t len, const char *name,
                                struct expect **out, struct err_info *ei);

void expect_destroy(struct expect *e);

/** "instrument/kind" of @p e (borrowed). */
const char *expect_id(const struct expect *e);

/** All expectations of a directory (opaque). */
struct expect_set;

/** Load every *.yaml / *.yml file of @p dir. A bad file fails the whole load, naming it. */
NODISCARD enum err expect_set_load_dir(const char *dir, struct expect_set **out,
                                       struct err_info *ei);
void expect_set_destroy(struct expect_set *s);

/** Expectation for @p instrument and @p kind (case-insensitive), or NULL (borrowed). */
const struct expect *expect_set_find(const struct expect_set *s, const char *instrument,
                                     const char *kind);

/** Number of expectations in @p s. */
size_t expect_set_count(const struct expect_set *s);

/* ---- describing a file ----------------------------------------------------------------- */

/** The header of a file as the checker sees it (opaque builder). */
struct expect_header;

NODISCARD enum err expect_header_create(struct expect_header **out, struct err_info *ei);
void expect_header_destroy(struct expect_header *h);

/** Start a new HDU (index 0 is the primary). @p extname may be "" (copied). */
NODISCARD enum err expect_header_add_hdu(struct expect_header *h, int index, const char *extname,
                                         int extver, int bitpix, int naxis, struct err_info *ei);

/** Add one 80-column card (fewer columns are padded) to the last HDU. Cards without a value
 *  indicator (COMMENT, HISTORY, blank) are ignored. */
NODISCARD enum err expect_header_add_card(struct expect_header *h, const char *card,
                                          struct err_info *ei);

/**
 * Describe FITS file @p path: every HDU (index, EXTNAME, EXTVER, BITPIX, NAXIS) and its
 * cards, read through lib/fits.
 * @return ERR_OK; the lib/fits error (ERR_FITS, ERR_NOT_FOUND, ...) naming the file otherwise.
 */
NODISCARD enum err expect_header_from_fits(const char *path, struct expect_header **out,
                                           struct err_info *ei);

/** Value kinds a card can have. */
enum expect_vtype { EXPECT_V_STRING, EXPECT_V_INT, EXPECT_V_REAL, EXPECT_V_BOOL, EXPECT_V_NONE };

/**
 * Parse the value of a card with lib/fits's card parser (fhdr_card_parse, the one FITS card
 * parser) and map its kinds: keyword (HIERARCH names included), value text (strings unquoted
 * with '' folded and trailing blanks removed), and kind (complex and empty values are
 * EXPECT_V_NONE).
 * @return ERR_OK; ERR_NOT_FOUND for commentary cards and cards without a value indicator;
 *         ERR_PARSE (field = the keyword) for a valued card that is not FITS (unterminated
 *         string, control bytes, bad keyword characters).
 */
NODISCARD enum err expect_card_parse(const char *card, size_t len, char key[72], char *value,
                                     size_t cap, enum expect_vtype *type, struct err_info *ei);

/**
 * Check @p h against @p e.
 * @param[in]  file   file name for the report
 * @param[out] report on violations: the structured report (owned, json_decref); else NULL
 * @return ERR_OK when nothing is violated; ERR_INVALID with *report and a one-line summary in
 *         @p ei ("N violations of acs/raw: PRIMARY.CCDGAIN type, ...").
 */
NODISCARD enum err expect_validate(const struct expect *e, const struct expect_header *h,
                                   const char *file, json_t **report, struct err_info *ei);

/**
 * Check a product @p h made from @p input (its raw; NULL = none) against @p e, as
 * expect_validate does, with the rules that compare the two: `versions: input` (one HDU per
 * EXTVER the input has under that EXTNAME; without an input, those the product has),
 * `shape_within_input` (each axis at most the input HDU's NAXISn, or NPIXn of a constant
 * array) and keyword `same_as_input` (the value of the input HDU's keyword, when it has one).
 * Rules comparing with an absent input or input HDU are not checked.
 */
NODISCARD enum err expect_validate_input(const struct expect *e, const struct expect_header *h,
                                         const struct expect_header *input, const char *file,
                                         json_t **report, struct err_info *ei);

#endif
