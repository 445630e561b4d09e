/* test_repo_collections.c - the repository's collection configuration (OBSFLOW_CAOM_COLLECTIONS
 * and caom2-collections.conf), the access decision of every request, torkeep's list
 * parameters and the status mapping of repository errors.
 * SPDX-License-Identifier: Apache-2.0 */
#include "repo/repo.h"
#include "repo/repo_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static struct repo_collections *parse_ok(const char *spec)
{
    struct repo_collections *c = NULL;
    struct err_info ei;
    assert_int_equal(repo_collections_parse(spec, &c, &ei), ERR_OK);
    assert_non_null(c);
    return c;
}

static void spec_forms(void **state)
{
    (void)state;
    bool compute = true;
    struct repo_collections *c = parse_ok("OMM, VLASS:compute");
    assert_true(repo_collection_known(c, "OMM", &compute));
    assert_false(compute);
    assert_true(repo_collection_known(c, "VLASS", &compute));
    assert_true(compute);
    assert_false(repo_collection_known(c, "omm", NULL)); /* names are case-sensitive */
    assert_false(repo_collections_any(c));
    assert_int_equal(repo_collections_count(c), 2);
    assert_string_equal(repo_collections_name(c, 0), "OMM");
    assert_string_equal(repo_collections_name(c, 1), "VLASS");
    repo_collections_free(c);

    c = parse_ok("*");
    assert_true(repo_collections_any(c));
    assert_true(repo_collection_known(c, "ANY_thing-1", &compute));
    assert_false(compute);
    assert_false(repo_collection_known(c, "a/b", NULL));
    assert_false(repo_collection_known(c, "", NULL));
    repo_collections_free(c);

    c = parse_ok(""); /* none served */
    assert_false(repo_collection_known(c, "OMM", NULL));
    repo_collections_free(c);
}

static void spec_errors(void **state)
{
    (void)state;
    const char *bad[] = {"OMM,", ",OMM", "OMM,,X", "OMM:fast", "*:compute", "a b", "a/b", "x%y"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct repo_collections *c = NULL;
        struct err_info ei;
        err_info_clear(&ei);
        assert_int_equal(repo_collections_parse(bad[i], &c, &ei), ERR_INVALID);
        assert_null(c);
        assert_string_equal(ei.field, "OBSFLOW_CAOM_COLLECTIONS");
        assert_true(ei.msg[0] != '\0');
    }
}

static void file_entries(void **state)
{
    (void)state;
    struct repo_collections *c = parse_ok("OMM");
    const char text[] = "# repository collections\n"
                        "OMM compute read-token=r1   # replaces the env entry\n"
                        "\n"
                        "   VLASS write-token=w2\r\n"
                        "CGPS";
    struct err_info ei;
    assert_int_equal(repo_collections_add_file(c, text, sizeof text - 1, "f.conf", &ei), ERR_OK);
    bool compute = false;
    assert_true(repo_collection_known(c, "OMM", &compute));
    assert_true(compute);
    assert_true(repo_collection_known(c, "VLASS", NULL));
    assert_true(repo_collection_known(c, "CGPS", NULL));
    assert_int_equal(repo_collections_count(c), 3);

    /* reads: OMM needs its read token (or the API token); the others are open */
    /* as torkeep: anonymous = 403, a token nobody issued = 401, a token without the grant = 403 */
    assert_int_equal(repo_authorize(c, "api", "OMM", REPO_READ, NULL, &ei), ERR_FORBIDDEN);
    assert_string_equal(ei.msg, "permission denied: no read grants for caom:OMM/");
    assert_int_equal(repo_authorize(c, "api", "OMM", REPO_READ, "r1", &ei), ERR_OK);
    assert_int_equal(repo_authorize(c, "api", "OMM", REPO_READ, "api", &ei), ERR_OK);
    assert_int_equal(repo_authorize(c, "api", "OMM", REPO_READ, "w2", &ei), ERR_FORBIDDEN);
    assert_int_equal(repo_authorize(c, "api", "OMM", REPO_READ, "nope", &ei), ERR_UNAUTHORIZED);
    assert_int_equal(repo_authorize(c, "api", "CGPS", REPO_READ, NULL, &ei), ERR_OK);
    /* writes: the API token everywhere, a collection's write token on that collection only */
    assert_int_equal(repo_authorize(c, "api", "CGPS", REPO_WRITE, NULL, &ei), ERR_FORBIDDEN);
    assert_int_equal(repo_authorize(c, "api", "CGPS", REPO_WRITE, "api", &ei), ERR_OK);
    assert_int_equal(repo_authorize(c, "api", "VLASS", REPO_WRITE, "w2", &ei), ERR_OK);
    assert_int_equal(repo_authorize(c, "api", "CGPS", REPO_WRITE, "w2", &ei), ERR_FORBIDDEN);
    assert_int_equal(repo_authorize(c, "api", "OMM", REPO_WRITE, "r1", &ei), ERR_FORBIDDEN);
    assert_int_equal(repo_authorize(c, "api", "OMM", REPO_WRITE, "junk", &ei), ERR_UNAUTHORIZED);
    /* no API token: collections without a write token are open for writing */
    assert_int_equal(repo_authorize(c, "", "CGPS", REPO_WRITE, NULL, &ei), ERR_OK);
    assert_int_equal(repo_authorize(c, NULL, "VLASS", REPO_WRITE, NULL, &ei), ERR_FORBIDDEN);
    repo_collections_free(c);
}

static void file_errors(void **state)
{
    (void)state;
    const char *bad[] = {"OMM colour\n", "OMM read-token=\n", "a/b\n", "* compute\n",
                         "OMM a b c d e f g h i\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct repo_collections *c = parse_ok("");
        struct err_info ei;
        err_info_clear(&ei);
        assert_int_equal(repo_collections_add_file(c, bad[i], strlen(bad[i]), "x.conf", &ei),
                         ERR_INVALID);
        assert_non_null(strstr(ei.msg, "x.conf:1"));
        repo_collections_free(c);
    }
}

static void list_query(void **state)
{
    (void)state;
    struct repo_list_query q;
    struct err_info ei;
    const char *n1[] = {"MAXREC", "Start", "END", "order", "unknown"};
    const char *v1[] = {"5", "2024-01-02T03:04:05.678", "2024-01-02T03:04:06.000Z", "desc", "x"};
    assert_int_equal(repo_list_query_parse(n1, v1, 5, &q, &ei), ERR_OK);
    assert_int_equal(q.maxrec, 5);
    assert_true(q.has_start && q.has_end && q.desc);
    assert_int_equal(q.start_ms, 1704164645678LL);
    assert_int_equal(q.end_ms, 1704164646000LL);

    const char *n2[] = {"maxrec"};
    const char *v2[] = {"999999999"};
    assert_int_equal(repo_list_query_parse(n2, v2, 1, &q, &ei), ERR_OK);
    assert_int_equal(q.maxrec, REPO_LIST_MAXREC); /* clamped, as torkeep */
    assert_int_equal(repo_list_query_parse(NULL, NULL, 0, &q, &ei), ERR_OK);
    assert_int_equal(q.maxrec, REPO_LIST_MAXREC);
    assert_false(q.has_start || q.has_end || q.desc);

    struct {
        const char *name, *value, *msg;
    } bad[] = {
        {"maxrec", "abc", "invalid maxrec value: abc"},
        {"maxrec", "0", "invalid maxrec value: 0, maxrec must be > 0"},
        {"start", "2024-01-02T03:04:05", "invalid date format: 2024-01-02T03:04:05"},
        {"end", "2024-13-02T03:04:05.000", "invalid date format: 2024-13-02T03:04:05.000"},
        {"order", "up", "invalid order value: up"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err_info_clear(&ei);
        assert_int_equal(repo_list_query_parse(&bad[i].name, &bad[i].value, 1, &q, &ei),
                         ERR_PARSE);
        assert_string_equal(ei.msg, bad[i].msg);
        assert_int_equal(repo_status(ERR_PARSE), 400);
    }
}

static void statuses(void **state)
{
    (void)state;
    assert_int_equal(repo_status(ERR_NOT_FOUND), 404);
    assert_int_equal(repo_status(ERR_CONFLICT), 409);
    assert_int_equal(repo_status(ERR_PRECONDITION), 412);
    assert_int_equal(repo_status(ERR_TOO_LARGE), 413);
    assert_int_equal(repo_status(ERR_UNAUTHORIZED), 401);
    assert_int_equal(repo_status(ERR_FORBIDDEN), 403);
    assert_int_equal(repo_status(ERR_XML), 400);
    assert_int_equal(repo_status(ERR_UNAVAILABLE), 503);
    assert_int_equal(repo_status(ERR_DB), 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spec_forms),  cmocka_unit_test(spec_errors),
        cmocka_unit_test(file_entries), cmocka_unit_test(file_errors),
        cmocka_unit_test(list_query),  cmocka_unit_test(statuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
