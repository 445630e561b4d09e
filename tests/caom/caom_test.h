/* caom_test.h - helpers shared by the lib/caom tests: where ../shared is (OBSFLOW_SHARED), and
 * the shared CAOM documents read with cmocka assertions (a failure fails the calling test).
 * Include after <cmocka.h>. Single-threaded test code.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_TESTS_CAOM_CAOM_TEST_H
#define OBSFLOW_TESTS_CAOM_CAOM_TEST_H

#include "caom/caom.h"

#include <stddef.h>

/** Read OBSFLOW_SHARED; 0, or 77 (skip: message on stderr) when it is not set. Call first. */
int caom_test_setup(void);

/** The shared directory (borrowed, valid after caom_test_setup). */
const char *caom_test_shared(void);

/** Every shared CAOM observation document (paths below testdata/caom2), for tests that walk
 * them all. */
extern const char *const caom_test_docs[];
extern const size_t caom_test_ndocs;

/** "<shared>/testdata/caom2/<rel>" into @p out (@p cap bytes). */
void caom_test_path(char *out, size_t cap, const char *rel);

/** The shared CAOM document @p rel read into a new observation (owned: caom_observation_free);
 * the read must succeed. */
struct caom_observation *caom_test_load(const char *rel);

/** The bytes of the shared document @p rel (owned: free), length in *@p len. */
char *caom_test_slurp(const char *rel, size_t *len);

#endif
