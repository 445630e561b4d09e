/* test_profile.c - lib/profile: a good profile loads; unknown keys, wrong types, missing
 * required keys, a missing blueprint file, bad YAML and duplicate names are refused with
 * "file:line: what is wrong"; a missing directory is no profiles; params.profile fills an
 * ingest job's params, and an unknown one is refused naming params.profile (in
 * the submit path (kinds table + queue rules) too). SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kinds.h"
#include "ingest/ingest.h"
#include "profile/profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What POST /v1/jobs runs on each job: the queue's rules over obsflowd's kinds table. */
static enum err
specs_validate(const json_t *doc, const struct profile_set *profiles, struct err_info *ei)
{
    struct queue_kind k[KINDS_MAX];
    int n = kinds_queue_table(profiles, k);
    return queue_specs_validate(k, n, doc, ei);
}

static char root[1024], bpdir[1100], pdir[1100];

static void put(const char *dir, const char *name, const char *text)
{
    char path[2300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void rm(const char *dir, const char *name)
{
    char path[2300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

static int setup(void **state)
{
    (void)state;
    const char *t = getenv("OBSFLOW_TEST_TMP");
    snprintf(root, sizeof root, "%s/profile.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(root)) {
        return -1;
    }
    snprintf(bpdir, sizeof bpdir, "%s/blueprints", root);
    snprintf(pdir, sizeof pdir, "%s/profiles", root);
    if (mkdir(bpdir, 0700) != 0 || mkdir(pdir, 0700) != 0) {
        return -1;
    }
    put(bpdir, "w.blueprint", "Plane.dataProductType = cube\n");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static const char GOOD[] = "# a comment\n"
                           "name: wallaby\n"
                           "collection: WALLABY\n"
                           "scheme: cadc\n"
                           "blueprints: [w.blueprint]\n"
                           "compute: false\n"
                           "queue: ingest\n";

static void test_good_and_missing_dir(void **state)
{
    (void)state;
    struct err_info ei;
    struct profile_set *s = NULL;
    put(pdir, "wallaby.yaml", GOOD);
    put(pdir, "hst.yml",
        "name: acs\ncollection: HST\ninstrument: acs\ndataset_rule: '^j[a-z0-9]{8}$'\n"
        "output: 'file:/out/{dataset}/'\nmissing_reference: skip\n");
    put(pdir, "notes.txt", "not a profile");
    assert_int_equal(profile_set_load_dir(pdir, bpdir, &s, &ei), ERR_OK);
    assert_int_equal(profile_set_count(s), 2);
    const struct profile *p = profile_set_find(s, "wallaby");
    assert_non_null(p);
    assert_string_equal(p->collection, "WALLABY");
    assert_string_equal(p->scheme, "cadc");
    assert_int_equal(p->nbp, 1);
    assert_string_equal(p->blueprints[0], "w.blueprint");
    assert_true(p->has_compute);
    assert_false(p->compute);
    assert_string_equal(p->queue, "ingest");
    assert_null(profile_set_find(s, "nope"));
    assert_string_equal(profile_set_find(s, "acs")->instrument, "acs");
    assert_string_equal(profile_set_find(s, "acs")->missing_reference, "skip");
    assert_null(p->missing_reference);
    json_t *j = profile_set_json(s);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "profiles")), 2);
    json_decref(j);
    profile_set_destroy(s);
    rm(pdir, "hst.yml");
    rm(pdir, "wallaby.yaml");
    rm(pdir, "notes.txt");

    char missing[1200];
    snprintf(missing, sizeof missing, "%s/none", root);
    assert_int_equal(profile_set_load_dir(missing, bpdir, &s, &ei), ERR_OK);
    assert_int_equal(profile_set_count(s), 0);
    profile_set_destroy(s);
}

/* @p text as profiles/bad.yaml fails the load with a message ending in @p tail, prefixed by
 * the file's path and ":<line>: ". */
static void refused(const char *text, int line, const char *tail)
{
    struct err_info ei;
    struct profile_set *s = NULL;
    char want[2400];
    put(pdir, "bad.yaml", text);
    assert_int_not_equal(profile_set_load_dir(pdir, bpdir, &s, &ei), ERR_OK);
    assert_null(s);
    snprintf(want, sizeof want, "%s/bad.yaml:%d: %s", pdir, line, tail);
    if (strcmp(ei.msg, want) != 0) {
        fail_msg("got \"%s\", expected \"%s\"", ei.msg, want);
    }
    rm(pdir, "bad.yaml");
}

static void test_errors(void **state)
{
    (void)state;
    refused("name: a\ncollection: C\ncolour: red\n", 3, "unknown key \"colour\"");
    refused("name: a\ncollection: C\ncompute: 'no'\n", 3, "compute must be true or false");
    refused("name: a\n\ncollection: 12\n", 3, "collection must be a non-empty string");
    refused("name: a\nblueprints: w.blueprint\ncollection: C\n", 2,
            "blueprints must be a list of 1 to 64 file names");
    refused("name: a\ncollection: C\nqueue: [x]\n", 3, "queue must be a non-empty string");
}

/* Ground CCD profiles: ccd, calibrations and file_template parsed, bad ones refused with the
 * key's line (issue 13). */
static void test_ccd_profiles(void **state)
{
    (void)state;
    static const char kast[] =
        "name: kccd\ncollection: KAST\nregistry_run: 'KAST/runs/{date}'\n"
        "calibrations: [KAST/calib, KAST/calib/old]\n"
        "ccd: {overscan: '[2050:2080,1:350]', trim: '[1:2048,1:350]', gain: 1.2, "
        "readnoise: 3.7, arithmetic: ccdproc}\n"
        "file_template: '{run}/{dataset_type}/{instrument}/{exposure:?}/"
        "{dataset_type}_{instrument}_{id}.fits'\n";
    struct err_info ei;
    struct profile_set *s = NULL;
    enum err pe = profile_set_parse(kast, strlen(kast), "k.yaml", bpdir, &s, &ei);
    if (pe != ERR_OK) {
        fail_msg("%s", ei.msg);
    }
    const struct profile *p = profile_set_at(s, 0);
    assert_true(p->has_ccd);
    assert_string_equal(p->ccd.overscan, "[2050:2080,1:350]");
    assert_string_equal(p->ccd.trim, "[1:2048,1:350]");
    assert_true(p->ccd.has_gain && p->ccd.gain == 1.2);
    assert_true(p->ccd.has_readnoise && p->ccd.readnoise == 3.7);
    assert_true(p->ccd.ccdproc);
    assert_int_equal(p->ncalibrations, 2);
    assert_string_equal(p->calibrations[1], "KAST/calib/old");
    assert_non_null(strstr(p->file_template, "{exposure:?}"));
    json_t *j = profile_set_json(s);
    json_t *jp = json_array_get(json_object_get(j, "profiles"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(jp, "ccd"),
                                                          "arithmetic")),
                        "ccdproc");
    assert_int_equal(json_array_size(json_object_get(jp, "calibrations")), 2);
    json_decref(j);
    profile_set_destroy(s);
    /* {job} in registry_run: a run per job */
    static const char perjob[] = "name: j\ncollection: K\nregistry_run: 'K/runs/{date}/{job}'\n";
    char run[PROFILE_RUN_MAX];
    assert_int_equal(profile_set_parse(perjob, strlen(perjob), "j.yaml", bpdir, &s, &ei), ERR_OK);
    assert_true(profile_registry_run(profile_set_at(s, 0), 86400, "abc-1", run, sizeof run));
    assert_string_equal(run, "K/runs/1970-01-02/abc-1");
    assert_false(profile_registry_run(profile_set_at(s, 0), 86400, NULL, run, sizeof run));
    profile_set_destroy(s);
    refused("name: a\ncollection: C\nregistry_run: 'K/{user}'\n", 3,
            "registry_run must make a collection name: 1 to 128 of [A-Za-z0-9._/-], {date} and "
            "{job} the only fields");
    /* one collection as a plain string */
    static const char one[] = "name: k\ncollection: K\ncalibrations: KAST/calib\nccd: {}\n";
    assert_int_equal(profile_set_parse(one, strlen(one), "o.yaml", bpdir, &s, &ei), ERR_OK);
    assert_int_equal(profile_set_at(s, 0)->ncalibrations, 1);
    assert_false(profile_set_at(s, 0)->ccd.ccdproc);
    profile_set_destroy(s);

    refused("name: a\ncollection: C\nccd: {gain: -1}\n", 3, "ccd.gain must be a number > 0");
    refused("name: a\ncollection: C\nccd: {readnoise: x}\n", 3,
            "ccd.readnoise must be a number >= 0");
    refused("name: a\ncollection: C\nccd: {colour: 1}\n", 3,
            "ccd: unknown key \"colour\" (overscan, trim, gain, readnoise, arithmetic)");
    refused("name: a\ncollection: C\nccd: {arithmetic: iraf}\n", 3,
            "ccd.arithmetic must be ccdproc or calacs");
    refused("name: a\ncollection: C\nccd: {readnoise: 3, arithmetic: ccdproc}\n", 3,
            "ccd: ccdproc arithmetic needs gain with readnoise (as ccd_process does)");
    refused("name: a\ncollection: C\nccd: [1]\n", 3,
            "ccd must be a mapping of overscan, trim, gain, readnoise, arithmetic");
    refused("name: a\ncollection: C\ncalibrations: [K/calib]\n", 3,
            "calibrations needs a ccd section (the registry's bias and flat calibrate ground CCD "
            "frames)");
    refused("name: a\ncollection: C\nccd: {}\ncalibrations: ['a b']\n", 4,
            "calibrations[0] is not a registry collection name (1 to 128 of [A-Za-z0-9._/-])");
    refused("name: a\ncollection: C\nccd: {}\ncalibrations: []\n", 4,
            "calibrations must be a collection name or a list of 1 to 16");
    /* messages with lib/calib's and lib/registry's own detail: the start is ours */
    static const struct {
        const char *text, *start;
    } partial[] = {
        {"name: a\ncollection: C\nccd: {trim: '[5:1,1:2]'}\n",
         ":3: ccd.trim must be a FITS section such as '[1:2048,1:350]': "},
        /* no {run} or {id}: two runs' datasets would share a path */
        {"name: a\ncollection: C\nfile_template: '{dataset_type}/{instrument}_{exposure}.fits'\n",
         ":3: file_template: "},
        /* {exposure} not optional: the masters (no exposure) could not be placed */
        {"name: a\ncollection: C\nfile_template: '{run}/{dataset_type}_{exposure}.fits'\n",
         ":3: file_template: "},
        {"name: a\ncollection: C\nfile_template: '{run}/{colour}.fits'\n",
         ":3: file_template: "},
    };
    for (size_t i = 0; i < sizeof partial / sizeof partial[0]; i++) {
        put(pdir, "bad.yaml", partial[i].text);
        assert_int_not_equal(profile_set_load_dir(pdir, bpdir, &s, &ei), ERR_OK);
        assert_null(s);
        if (!strstr(ei.msg, partial[i].start)) {
            fail_msg("got \"%s\", expected it to hold \"%s\"", ei.msg, partial[i].start);
        }
        rm(pdir, "bad.yaml");
    }
}

static void test_missing_and_blueprints(void **state)
{
    (void)state;
    refused("collection: C\n", 1, "missing required key \"name\"");
    refused("name: a\nscheme: cadc\n", 1, "missing required key \"collection\"");
    char tail[1400];
    snprintf(tail, sizeof tail, "blueprints: %s/nope.blueprint does not exist", bpdir);
    refused("name: a\ncollection: C\nblueprints: [w.blueprint, nope.blueprint]\n", 3, tail);
    refused("name: a\ncollection: C\nblueprints: [../w.blueprint]\n", 3,
            "blueprints: \"../w.blueprint\" is not a relative blueprint path");
    refused("name: a b\ncollection: C\n", 1,
            "name \"a b\" is not a profile name (1 to 64 of [A-Za-z0-9._-])");
    refused("name: a\ncollection: C\ndataset_rule: '(['\n", 3, "dataset_rule is not a valid regex");
    refused("name: a\ncollection: C\noutput: 'file:/out/'\n", 3, "output must hold {dataset}");
    refused("name: a\ncollection: C\nmissing_reference: maybe\n", 3,
            "missing_reference must be fail or skip, not \"maybe\"");
    refused("name: a\ncollection: C\npreviews: 'no'\n", 3, "previews must be true or false");
    refused("name: a\ncollection: C\nexpectations: ../x.yaml\n", 3,
            "expectations: \"../x.yaml\" is not a file name of expectations/");
    snprintf(tail, sizeof tail, "reference_catalog: %s/../references/none.yaml does not exist",
             bpdir);
    refused("name: a\ncollection: C\nreference_catalog: none.yaml\n", 3, tail);
    refused("- a\n- b\n", 1, "a profile must be a YAML mapping");
}

static void test_yaml_and_duplicates(void **state)
{
    (void)state;
    struct err_info ei;
    struct profile_set *s = NULL;
    put(pdir, "bad.yaml", "name: a\ncollection: [unclosed\n");
    assert_int_not_equal(profile_set_load_dir(pdir, bpdir, &s, &ei), ERR_OK);
    char want[1300];
    snprintf(want, sizeof want, "%s/bad.yaml:", pdir);
    assert_non_null(strstr(ei.msg, want));
    assert_null(strstr(ei.msg, ": line "));
    rm(pdir, "bad.yaml");

    put(pdir, "a.yaml", GOOD);
    put(pdir, "b.yaml", "collection: OTHER\nname: wallaby\n");
    assert_int_equal(profile_set_load_dir(pdir, bpdir, &s, &ei), ERR_INVALID);
    snprintf(want, sizeof want, "%s/b.yaml:2: duplicate profile name \"wallaby\" (also in %s/a.yaml)",
             pdir, pdir);
    assert_string_equal(ei.msg, want);
    rm(pdir, "a.yaml");
    rm(pdir, "b.yaml");
}

static void test_ingest_params_profile(void **state)
{
    (void)state;
    struct err_info ei;
    struct profile_set *s = NULL;
    assert_int_equal(profile_set_parse(GOOD, strlen(GOOD), "g.yaml", bpdir, &s, &ei), ERR_OK);
    struct ingest_params *ip = malloc(sizeof *ip);
    assert_non_null(ip);

    /* the profile fills what the params leave out */
    json_t *p = json_pack("{s:s, s:[s]}", "profile", "wallaby", "uris", "file:/d/x.fits");
    assert_int_equal(ingest_params_parse(p, "", s, ip, &ei), ERR_OK);
    assert_string_equal(ip->collection, "WALLABY");
    assert_string_equal(ip->scheme, "cadc");
    assert_int_equal(ip->nbp, 1);
    assert_string_equal(ip->blueprints[0], "w.blueprint");
    assert_false(ip->compute);
    json_decref(p);

    /* what the params give wins */
    p = json_pack("{s:s, s:s, s:b, s:[s], s:[s]}", "profile", "wallaby", "collection", "MINE",
                  "compute", 1, "blueprints", "other.blueprint", "uris", "file:/d/x.fits");
    assert_int_equal(ingest_params_parse(p, "", s, ip, &ei), ERR_OK);
    assert_string_equal(ip->collection, "MINE");
    assert_true(ip->compute);
    assert_string_equal(ip->blueprints[0], "other.blueprint");
    json_decref(p);

    /* an unknown profile: 422 naming params.profile, in the submit path (kinds table + queue rules) too */
    p = json_pack("{s:s, s:[s]}", "profile", "nope", "uris", "file:/d/x.fits");
    assert_int_equal(ingest_params_validate(p, "", s, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "params.profile");
    assert_int_equal(ingest_params_validate(p, "", NULL, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "params.profile");
    json_t *job = json_pack("[{s:s, s:O}]", "kind", "ingest", "params", p);
    assert_int_equal(specs_validate(job, s, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "[0].params.profile");
    json_decref(job);
    json_decref(p);
    p = json_pack("{s:i, s:[s]}", "profile", 3, "uris", "file:/d/x.fits");
    assert_int_equal(ingest_params_validate(p, "", s, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "params.profile");
    json_decref(p);

    /* no profile and no collection: still params.collection */
    p = json_pack("{s:[s]}", "uris", "file:/d/x.fits");
    assert_int_equal(ingest_params_validate(p, "", s, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "params.collection");
    json_decref(p);
    free(ip);
    profile_set_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_and_missing_dir),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_ccd_profiles),
        cmocka_unit_test(test_missing_and_blueprints),
        cmocka_unit_test(test_yaml_and_duplicates),
        cmocka_unit_test(test_ingest_params_profile),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
