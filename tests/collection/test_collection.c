/* test_collection.c - collection definitions: the OMM example parsed and matched
 * against CADC's OMM file names (several files to one plane, several planes to one
 * observation), HST dataset names for dataset jobs, and every refusal naming its field.
 * SPDX-License-Identifier: Apache-2.0 */
#include "collection/collection.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static const char *const OMM =
    "{\"source\": \"file:/data/omm/raw\", \"include\": [\"*.fits\", \"*.fits.gz\"],"
    " \"recursive\": true,"
    " \"rule\": \"^(?<obs_id>C\\\\d{6}_[^_]+(_[A-Z])?)_(?<product_id>SCIRED|SCI|CAL)\\\\.fits(\\\\.gz)?$\","
    " \"job\": {\"kind\": \"ingest\", \"profile\": \"omm\", \"queue\": \"ingest\"},"
    " \"schedule\": \"every 15m\", \"retry\": {\"max_attempts\": 3},"
    " \"reject\": [\"missing END card\", \"rule did not match\"]}";

static bool kinds(const char *kind, void *ud)
{
    (void)ud;
    return strcmp(kind, "ingest") == 0 || strcmp(kind, "dataset") == 0;
}

static struct profile_set *omm_profiles(void)
{
    struct profile_set *s = NULL;
    struct err_info ei;
    const char *y = "name: omm\ncollection: OMM\n";
    assert_int_equal(profile_set_parse(y, strlen(y), "omm.yaml", ".", &s, &ei), ERR_OK);
    return s;
}

static struct coll_def *parse_text(const char *text, const struct coll_env *env, enum err want,
                                   const char *field)
{
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    assert_non_null(doc);
    struct coll_def *d = NULL;
    struct err_info ei;
    err_info_clear(&ei);
    enum err e = coll_def_parse("omm", doc, env, &d, &ei);
    json_decref(doc);
    if (e != want) {
        print_error("%s -> %s (%s)\n", text, err_str(e), ei.msg);
    }
    assert_int_equal(e, want);
    if (field) {
        assert_string_equal(ei.field, field);
        assert_non_null(strstr(ei.msg, field));
    }
    return d;
}

static void match(const struct coll_def *d, const char *path, const char *obs, const char *prod,
                  const char *reason)
{
    struct coll_match m;
    struct err_info ei;
    assert_int_equal(coll_def_match(d, path, &m, &ei), ERR_OK);
    if (obs) {
        assert_true(m.matched);
        assert_string_equal(m.obs_id, obs);
        assert_string_equal(m.product_id, prod);
    } else {
        assert_false(m.matched);
        assert_string_equal(m.reason, reason);
    }
}

static void test_omm_example(void **state)
{
    (void)state;
    struct profile_set *ps = omm_profiles();
    struct coll_env env = {.profiles = ps, .kind_known = kinds};
    struct coll_def *d = parse_text(OMM, &env, ERR_OK, NULL);
    assert_string_equal(coll_def_name(d), "omm");
    assert_int_equal(coll_def_source_kind(d), COLL_SOURCE_FILE);
    assert_true(coll_def_recursive(d));
    assert_string_equal(coll_def_job_kind(d), "ingest");
    assert_string_equal(coll_def_job_profile(d), "omm");
    assert_string_equal(coll_def_job_queue(d), "ingest");
    assert_int_equal(coll_def_max_attempts(d), 3);
    assert_int_equal(coll_def_schedule_s(d), 900);
    /* CADC's OMM names (../shared/testdata/caom2/omm2caom2): planes of one observation */
    match(d, "/data/omm/raw/C170318_0121_SCI.fits", "C170318_0121", "SCI", NULL);
    match(d, "/data/omm/raw/2017/C170318_0121_SCIRED.fits.gz", "C170318_0121", "SCIRED", NULL);
    match(d, "C101116_QSO2251+158_I_SCIRED.fits", "C101116_QSO2251+158_I", "SCIRED", NULL);
    match(d, "C101116_QSO2251+158_I_CAL.fits", "C101116_QSO2251+158_I", "CAL", NULL);
    match(d, "/data/omm/raw/notes.txt", NULL, NULL, "not included");
    match(d, "C17_0121_SCI.fits", NULL, NULL, "rule did not match");
    match(d, "C170318_0121_RAW.fits", NULL, NULL, "rule did not match");
    assert_true(coll_def_is_rejection(d, "\"x.fits\": missing END card in HDU 0"));
    assert_false(coll_def_is_rejection(d, "repository unavailable"));
    /* what was accepted round-trips */
    json_t *back = coll_def_json(d);
    struct coll_def *d2 = NULL;
    struct err_info ei;
    assert_int_equal(coll_def_parse("omm", back, &env, &d2, &ei), ERR_OK);
    json_decref(back);
    coll_def_destroy(d2);
    coll_def_destroy(d);
    profile_set_destroy(ps);
}

static void test_dataset_rule(void **state)
{
    (void)state;
    struct coll_def *d = parse_text(
        "{\"source\": \"s3://archive/hst/in\", \"rule\": "
        "\"^(?<dataset>[a-z0-9]{9})_(?<product_id>raw|asn|spt)\\\\.fits$\","
        " \"job\": {\"kind\": \"dataset\"}}",
        NULL, ERR_OK, NULL);
    assert_int_equal(coll_def_source_kind(d), COLL_SOURCE_S3);
    assert_int_equal(coll_def_schedule_s(d), 0);
    struct coll_match m;
    struct err_info ei;
    assert_int_equal(coll_def_match(d, "s3://archive/hst/in/j8bt05njq_raw.fits", &m, &ei),
                     ERR_OK);
    assert_true(m.matched);
    assert_string_equal(m.dataset, "j8bt05njq");
    assert_string_equal(m.product_id, "raw");
    assert_string_equal(m.obs_id, "");
    coll_def_destroy(d);
    /* a dataset job's rule needs the dataset group */
    parse_text("{\"source\": \"s3://archive/hst\", \"rule\": \"^(?<obs_id>.+)\\\\.fits$\","
               " \"job\": {\"kind\": \"dataset\"}}",
               NULL, ERR_INVALID, "rule");
}

static void test_refusals(void **state)
{
    (void)state;
    struct profile_set *ps = omm_profiles();
    struct coll_env env = {.profiles = ps, .kind_known = kinds};
    const char *rule = "\"rule\": \"^(?<obs_id>.+)\\\\.fits$\"";
    char t[1024];
#define REFUSED(FMT, FIELD)                                                                  \
    do {                                                                                     \
        snprintf(t, sizeof t, FMT, rule);                                                    \
        parse_text(t, &env, ERR_INVALID, FIELD);                                             \
    } while (0)
    REFUSED("{%s, \"job\": {\"kind\": \"ingest\"}}", "source");
    REFUSED("{\"source\": \"ftp://h/x\", %s, \"job\": {\"kind\": \"ingest\"}}", "source");
    REFUSED("{\"source\": \"file:rel/dir\", %s, \"job\": {\"kind\": \"ingest\"}}", "source");
    REFUSED("{\"source\": \"file:/a/../b\", %s, \"job\": {\"kind\": \"ingest\"}}", "source");
    REFUSED("{\"source\": \"s3://ab\", %s, \"job\": {\"kind\": \"ingest\"}}", "source");
    REFUSED("{\"source\": \"file:/d\", %s}", "job");
    REFUSED("{\"source\": \"file:/d\", %s, \"job\": {\"kind\": \"nope\"}}", "job.kind");
    REFUSED("{\"source\": \"file:/d\", %s, \"job\": {\"kind\": \"collection\"}}", "job.kind");
    REFUSED("{\"source\": \"file:/d\", %s, \"job\": {\"kind\": \"ingest\", \"profile\": \"x\"}}",
            "job.profile");
    REFUSED("{\"source\": \"file:/d\", %s, \"job\": {\"kind\": \"ingest\", \"queue\": \"a b\"}}",
            "job.queue");
    REFUSED("{\"source\": \"file:/d\", %s, \"job\": {\"kind\": \"ingest\", \"x\": 1}}", "job.x");
    REFUSED("{\"source\": \"file:/d\", %s, \"job\": {\"kind\": \"ingest\"}, \"include\": []}",
            "include");
    REFUSED("{\"source\": \"file:/d\", %s, \"job\": {\"kind\": \"ingest\"}, \"include\": [7]}",
            "include[0]");
    REFUSED("{\"source\": \"file:/d\", %s, \"job\": {\"kind\": \"ingest\"}, \"recursive\": 1}",
            "recursive");
    REFUSED("{\"source\": \"file:/d\", %s, \"job\": {\"kind\": \"ingest\"}, \"schedule\": "
            "\"every 0s\"}",
            "schedule");
    REFUSED("{\"source\": \"file:/d\", %s, \"job\": {\"kind\": \"ingest\"}, \"schedule\": "
            "\"every 5x\"}",
            "schedule");
    REFUSED("{\"source\": \"file:/d\", %s, \"job\": {\"kind\": \"ingest\"}, \"schedule\": "
            "\"hourly\"}",
            "schedule");
    REFUSED("{\"source\": \"file:/d\", %s, \"job\": {\"kind\": \"ingest\"}, \"retry\": "
            "{\"max_attempts\": 0}}",
            "retry.max_attempts");
    REFUSED("{\"source\": \"file:/d\", %s, \"job\": {\"kind\": \"ingest\"}, \"colour\": 1}",
            "colour");
#undef REFUSED
    /* the rule: PCRE2's own message and offset; the obs_id group */
    struct coll_def *d = NULL;
    struct err_info ei;
    json_t *doc = json_pack("{s:s, s:s, s:{s:s}}", "source", "file:/d", "rule", "^(?<obs_id>[a-",
                            "job", "kind", "ingest");
    assert_int_equal(coll_def_parse("omm", doc, &env, &d, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "rule");
    assert_non_null(strstr(ei.msg, "not a valid PCRE2 regex"));
    assert_non_null(strstr(ei.msg, "at offset"));
    json_decref(doc);
    doc = json_pack("{s:s, s:s, s:{s:s}}", "source", "file:/d", "rule", "^(.+)\\.fits$", "job",
                    "kind", "ingest");
    assert_int_equal(coll_def_parse("omm", doc, &env, &d, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "rule");
    assert_non_null(strstr(ei.msg, "obs_id"));
    assert_int_equal(coll_def_parse("bad name", doc, &env, &d, &ei), ERR_INVALID);
    json_decref(doc);
    profile_set_destroy(ps);
}

static void test_long_group(void **state)
{
    (void)state;
    struct coll_def *d = parse_text(
        "{\"source\": \"file:/d\", \"rule\": \"^(?<obs_id>.+)$\", \"job\": {\"kind\": \"ingest\"}}",
        NULL, ERR_OK, NULL);
    char name[COLL_ID_MAX + 10];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    struct coll_match m;
    struct err_info ei;
    assert_int_equal(coll_def_match(d, name, &m, &ei), ERR_TOO_LARGE);
    coll_def_destroy(d);
}

static void test_yaml(void **state)
{
    (void)state;
    struct profile_set *ps = omm_profiles();
    struct coll_env env = {.profiles = ps, .kind_known = kinds};
    const char *good = "# OMM raw files\n"
                       "source: file:/data/omm/raw\n"
                       "include: ['*.fits', '*.fits.gz']\n"
                       "recursive: true\n"
                       "rule: '^(?<obs_id>C\\d{6}_[^_]+(_[A-Z])?)_(?<product_id>SCIRED|SCI|CAL)"
                       "\\.fits(\\.gz)?$'\n"
                       "job: {kind: ingest, profile: omm, queue: ingest}\n"
                       "schedule: every 15m\n";
    struct coll_def *d = NULL;
    struct err_info ei;
    err_info_clear(&ei);
    if (coll_def_parse_yaml("omm", "omm.yaml", good, strlen(good), &env, &d, &ei) != ERR_OK) {
        fail_msg("%s", ei.msg);
    }
    match(d, "C170318_0121_SCIRED.fits", "C170318_0121", "SCIRED", NULL);
    assert_int_equal(coll_def_schedule_s(d), 900);
    coll_def_destroy(d);
    /* errors say file:line of the offending key or value */
    const char *bad = "source: file:/data/omm/raw\n"
                      "rule: '^(?<obs_id>.+)$'\n"
                      "job:\n"
                      "  kind: ingest\n"
                      "  profile: nope\n";
    assert_int_equal(coll_def_parse_yaml("omm", "omm.yaml", bad, strlen(bad), &env, &d, &ei),
                     ERR_INVALID);
    assert_string_equal(ei.field, "job.profile");
    assert_non_null(strstr(ei.msg, "omm.yaml:5: job.profile"));
    const char *bad2 = "source: file:/data/omm/raw\n"
                       "include:\n"
                       "  - '*.fits'\n"
                       "  - 7\n"
                       "rule: '^(?<obs_id>.+)$'\n"
                       "job: {kind: ingest}\n";
    assert_int_equal(coll_def_parse_yaml("omm", "omm.yaml", bad2, strlen(bad2), &env, &d, &ei),
                     ERR_INVALID);
    assert_non_null(strstr(ei.msg, "omm.yaml:4: include[1]"));
    const char *broken = "source: [unclosed\n";
    assert_int_equal(coll_def_parse_yaml("omm", "omm.yaml", broken, strlen(broken), &env, &d,
                                         &ei),
                     ERR_PARSE);
    assert_non_null(strstr(ei.msg, "omm.yaml: "));
    profile_set_destroy(ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_omm_example),
        cmocka_unit_test(test_dataset_rule),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_long_group),
        cmocka_unit_test(test_yaml),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
