/* test_core_path.c - unit tests of path_has_dotdot (lib/core/path.h), the check behind the
 * file: back end's ".." refusal and the tar member-name check of obsflow process.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/path.h"

static void test_dotdot_segments(void **state)
{
    (void)state;
    assert_true(path_has_dotdot(".."));
    assert_true(path_has_dotdot("../x"));
    assert_true(path_has_dotdot("/.."));
    assert_true(path_has_dotdot("/data/../etc/passwd"));
    assert_true(path_has_dotdot("a/b/.."));
    assert_true(path_has_dotdot("a/../"));
    assert_true(path_has_dotdot("a//../b"));
    assert_true(path_has_dotdot("./.."));
}

static void test_ordinary_names(void **state)
{
    (void)state;
    assert_false(path_has_dotdot(""));
    assert_false(path_has_dotdot("/"));
    assert_false(path_has_dotdot("."));
    assert_false(path_has_dotdot("./x"));
    assert_false(path_has_dotdot("..."));
    assert_false(path_has_dotdot(".../x"));
    assert_false(path_has_dotdot("..x"));
    assert_false(path_has_dotdot("x.."));
    assert_false(path_has_dotdot("a/..b/c"));
    assert_false(path_has_dotdot("a/b../c"));
    assert_false(path_has_dotdot("/data/in/j8cb01u2q_raw.fits"));
    assert_false(path_has_dotdot("a//b/"));
    assert_false(path_has_dotdot("a/.\\.\\/b")); /* backslash is not a separator */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dotdot_segments),
        cmocka_unit_test(test_ordinary_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
