/* test_dataset.c - dataset names: HST ipppssoot/SVM/MVM and configured regex rules.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dataset/dataset.h"

#include <string.h>

static bool has_suffix(const struct dataset_info *d, const char *s)
{
    for (size_t i = 0; i < d->n_suffixes; i++) {
        if (strcmp(d->suffixes[i], s) == 0) {
            return true;
        }
    }
    return false;
}

static void test_hst_instruments(void **state)
{
    (void)state;
    struct dataset_info d;
    struct err_info ei;
    assert_int_equal(dataset_parse_hst("j8bt05njq", &d, &ei), ERR_OK);
    assert_int_equal(d.kind, DATASET_IPST);
    assert_string_equal(d.instrument, "acs");
    assert_true(d.processable);
    assert_int_equal(d.n_suffixes, 2);
    assert_true(has_suffix(&d, "asn") && has_suffix(&d, "raw"));
    assert_string_equal(d.obsset, "j8bt05");

    assert_int_equal(dataset_parse_hst("IB8T01010", &d, &ei), ERR_OK);
    assert_string_equal(d.instrument, "wfc3");
    assert_string_equal(d.name, "ib8t01010");

    assert_int_equal(dataset_parse_hst("o4sp040b0", &d, &ei), ERR_OK);
    assert_string_equal(d.instrument, "stis");
    assert_int_equal(d.n_suffixes, 5);
    assert_true(has_suffix(&d, "wav") && has_suffix(&d, "tag") && has_suffix(&d, "epc"));

    assert_int_equal(dataset_parse_hst("la8q99030", &d, &ei), ERR_OK);
    assert_string_equal(d.instrument, "cos");
    assert_true(has_suffix(&d, "rawtag_b") && has_suffix(&d, "pha_a"));

    assert_int_equal(dataset_parse_hst("u2xz0101t", &d, &ei), ERR_OK);
    assert_string_equal(d.instrument, "wfpc2");
    assert_false(d.processable);
}

static void test_svm_mvm(void **state)
{
    (void)state;
    struct dataset_info d;
    assert_int_equal(dataset_parse_hst("acs_8ph_01", &d, NULL), ERR_OK);
    assert_int_equal(d.kind, DATASET_SVM);
    assert_string_equal(d.instrument, "acs");
    assert_string_equal(d.obsset, "j8ph01");
    assert_true(has_suffix(&d, "flc"));
    assert_int_equal(dataset_parse_hst("wfc3_b1x_02", &d, NULL), ERR_OK);
    assert_string_equal(d.obsset, "ib1x02");
    assert_int_equal(dataset_parse_hst("skycell-p1234x05y06", &d, NULL), ERR_OK);
    assert_int_equal(d.kind, DATASET_MVM);
}

static void test_bad_names(void **state)
{
    (void)state;
    struct dataset_info d;
    struct err_info ei;
    const char *bad[] = {"", "j8bt05nj", "j8bt05njqq", "q8bt05njq", "j8bt05nj!", "acs_8ph_1",
                         "nic_8ph_01", "skycell-p123x05y06", "../etc/pas", "j8bt05njq/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err_info_clear(&ei);
        assert_int_equal(dataset_parse_hst(bad[i], &d, &ei), ERR_INVALID);
        assert_string_equal(ei.field, "dataset");
        assert_true(strlen(ei.msg) > 10);
    }
    assert_int_equal(dataset_parse_hst("q8bt05njq", &d, &ei), ERR_INVALID);
    assert_non_null(strstr(ei.msg, "unrecognized HST instrument letter \"q\""));
    assert_int_equal(dataset_parse_hst("hello", &d, &ei), ERR_INVALID);
    assert_non_null(strstr(ei.msg, "\"hello\""));
}

static void test_rule(void **state)
{
    (void)state;
    struct dataset_rule *r = NULL;
    struct dataset_fields f;
    struct dataset_info d;
    struct err_info ei;
    assert_int_equal(dataset_rule_create("kast",
                                         "(?<instrument>kast[br])_(?<night>[0-9]{8})_"
                                         "(?<frame>[0-9]+)(\\.fits)?",
                                         &r, &ei),
                     ERR_OK);
    assert_int_equal(dataset_rule_match(r, "kastb_20150520_27", &f, &d, &ei), ERR_OK);
    assert_string_equal(dataset_fields_get(&f, "instrument"), "kastb");
    assert_string_equal(dataset_fields_get(&f, "night"), "20150520");
    assert_string_equal(dataset_fields_get(&f, "frame"), "27");
    assert_null(dataset_fields_get(&f, "nope"));
    assert_string_equal(d.instrument, "kastb");
    assert_int_equal(d.kind, DATASET_OTHER);
    /* anchored: a prefix or suffix does not match */
    assert_int_equal(dataset_rule_match(r, "xkastb_20150520_27", &f, &d, &ei), ERR_INVALID);
    assert_int_equal(dataset_rule_match(r, "kastb_20150520_27z", &f, &d, &ei), ERR_INVALID);
    assert_non_null(strstr(ei.msg, "kast"));
    dataset_rule_destroy(r);

    /* a bracket expression with parentheses is not a group */
    assert_int_equal(dataset_rule_create("c", "[(](?<a>x+)[)]", &r, &ei), ERR_OK);
    assert_int_equal(dataset_rule_match(r, "(xx)", &f, NULL, &ei), ERR_OK);
    assert_string_equal(dataset_fields_get(&f, "a"), "xx");
    dataset_rule_destroy(r);

    assert_int_equal(dataset_rule_create("c", "(?P<a>x)", &r, &ei), ERR_INVALID);
    assert_int_equal(dataset_rule_create("c", "(?<a>x)(?<a>y)", &r, &ei), ERR_INVALID);
    assert_non_null(strstr(ei.msg, "duplicate"));
    assert_int_equal(dataset_rule_create("c", "(?<a>x", &r, &ei), ERR_INVALID);
    assert_int_equal(dataset_rule_create("c", "(?<>x)", &r, &ei), ERR_INVALID);
    /* patterns that make glibc's regex compiler explode are refused */
    assert_int_equal(dataset_rule_create("c", "ac+++++++++++++++++++++++++++++s", &r, &ei),
                     ERR_INVALID);
    assert_non_null(strstr(ei.msg, "repeated quantifier"));
    assert_int_equal(dataset_rule_create("c", "a{1000}", &r, &ei), ERR_INVALID);
    assert_int_equal(dataset_rule_create("c", "((a{200}){200}){200}", &r, &ei), ERR_INVALID);
    assert_int_equal(dataset_rule_create("c", "((((((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+", &r, &ei),
                     ERR_INVALID);
    assert_int_equal(dataset_rule_create("c", "[[:alpha:]]{2}[]x]+", &r, &ei), ERR_OK);
    assert_int_equal(dataset_rule_match(r, "ab]]x", NULL, NULL, &ei), ERR_OK);
    dataset_rule_destroy(r);
    assert_int_equal(dataset_rule_create("c", "a{3", &r, &ei), ERR_INVALID);
    assert_int_equal(dataset_rule_create("c", "[a-z]{2,8}_[0-9]{4}\\+x?", &r, &ei), ERR_OK);
    assert_int_equal(dataset_rule_match(r, "ab_1234+", NULL, NULL, &ei), ERR_OK);
    assert_int_equal(dataset_rule_match(r, "ab_1234+x", NULL, NULL, &ei), ERR_OK);
    dataset_rule_destroy(r);
    dataset_rule_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hst_instruments),
        cmocka_unit_test(test_svm_mvm),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
