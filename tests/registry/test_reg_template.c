/* test_reg_template.c - Butler-style file templates (lib/registry reg_template_*): the issue's
 * template rendered for a Kast frame, optional fields taking their literal along, slashes in
 * values, zero padding, path safety, and the start-up check that refuses templates that cannot
 * make unique paths (naming what is missing). SPDX-License-Identifier: Apache-2.0 */
#include "registry/registry.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static const char *const RAW[] = {"detector", "exposure", "instrument", NULL};
static const char *const BIAS[] = {"detector", "instrument", NULL};

static const char ISSUE[] = "{run}/{dataset_type}/{instrument}/{exposure}/"
                            "{dataset_type}_{instrument}_{exposure}_{detector}.fits";

static struct reg_template *parse(const char *text)
{
    struct reg_template *t = NULL;
    struct err_info ei = {0};
    if (reg_template_parse(text, &t, &ei) != ERR_OK) {
        fail_msg("\"%s\": %s", text, ei.msg);
    }
    return t;
}

static void render(const char *text, const char *run, const char *did, const char *want)
{
    struct reg_template *t = parse(text);
    json_error_t je;
    json_t *d = json_loads(did, 0, &je);
    char out[REG_PATH_MAX];
    struct err_info ei = {0};
    assert_non_null(d);
    if (reg_template_render(t, run, "raw", "0190f0c2-1234-7000-8000-000000000001", d, out,
                            sizeof out, &ei) != ERR_OK) {
        fail_msg("\"%s\": %s", text, ei.msg);
    }
    assert_string_equal(out, want);
    json_decref(d);
    reg_template_free(t);
}

static void check_bad(const char *text, const char *const *dims, const char *needle)
{
    struct reg_template *t = NULL;
    struct err_info ei = {0};
    enum err e = reg_template_parse(text, &t, &ei);
    if (e == ERR_OK) {
        e = reg_template_check(t, dims, "raw", &ei);
    }
    reg_template_free(t);
    if (e != ERR_INVALID || !strstr(ei.msg, needle) || strcmp(ei.field, "template") != 0) {
        fail_msg("\"%s\": got %d \"%s\", wanted \"%s\"", text, e, ei.msg, needle);
    }
}

static void test_issue_template(void **state)
{
    (void)state;
    struct reg_template *t = parse(ISSUE);
    struct err_info ei = {0};
    assert_int_equal(reg_template_check(t, RAW, "raw", &ei), ERR_OK);
    assert_int_equal(reg_template_check(t, BIAS, "bias", &ei), ERR_INVALID);
    assert_non_null(strstr(ei.msg, "exposure"));
    reg_template_free(t);
    render(ISSUE, "KAST/runs/20240105", "{\"instrument\":\"KAST\",\"exposure\":102,\"detector\":0}",
           "KAST_runs_20240105/raw/KAST/102/raw_KAST_102_0.fits");
}

static void test_formats(void **state)
{
    (void)state;
    render("{run:/}/{dataset_type}/{exposure:06d}_{detector:03d}", "KAST/runs/1",
           "{\"exposure\":102,\"detector\":7}", "KAST/runs/1/raw/000102_007");
    /* an absent optional field takes the literal before it along, unless it has a '/' */
    render("{run}/{dataset_type}_{exposure:?}_{detector}/x{physical_filter:?}/{id}", "R",
           "{\"detector\":1}", "R/raw_1/x/0190f0c2-1234-7000-8000-000000000001");
    render("{run}/{instrument}/{physical_filter:?}.fits", "R",
           "{\"instrument\":\"KAST\",\"physical_filter\":\"g band\"}", "R/KAST/g_band.fits");
    /* values never escape: '..' and separators are neutralised */
    render("{run:/}/{instrument}/f", "../../etc", "{\"instrument\":\"a/b*c\"}", "_/_/etc/a_b_c/f");
    render("/{run}//{instrument}/", "r", "{\"instrument\":\"..\"}", "r/_");
}

static void test_check(void **state)
{
    (void)state;
    check_bad("{dataset_type}/{instrument}/{exposure}_{detector}", RAW, "{run} or {id}");
    check_bad("{run}/{instrument}/{exposure}", RAW, "differ only in detector");
    check_bad("{run}/{instrument}/{exposure}_{detector:?}", RAW, "differ only in detector");
    check_bad("{run}/{instrument}_{detector}_{exposure}", BIAS, "not a dimension");
    check_bad("{run:?}/{id:?}/{instrument}_{detector}", BIAS, "{run} or {id}");
    struct reg_template *t = parse("{id}.fits");
    struct err_info ei = {0};
    assert_int_equal(reg_template_check(t, RAW, "raw", &ei), ERR_OK);
    reg_template_free(t);
    t = parse("{run}/{instrument}_{detector}_{exposure:?}");
    assert_int_equal(reg_template_check(t, BIAS, "bias", &ei), ERR_OK);
    reg_template_free(t);
}

static void test_syntax(void **state)
{
    (void)state;
    check_bad("{run}/{visit}", RAW, "unknown field \"visit\"");
    check_bad("{run", RAW, "'{' without '}'");
    check_bad("run}", RAW, "'}' without '{'");
    check_bad("{run}/{}", RAW, "empty");
    check_bad("{run:x}", RAW, "a format is");
    check_bad("{instrument:03d}", RAW, "a width is");
    check_bad("{run}\\{id}", RAW, "backslash");
    check_bad("", RAW, "1 to");
    struct reg_template *t = NULL;
    struct err_info ei = {0};
    char many[512] = "";
    for (int i = 0; i <= REG_TEMPLATE_FIELDS_MAX; i++) {
        strcat(many, "{run}");
    }
    assert_int_equal(reg_template_parse(many, &t, &ei), ERR_TOO_LARGE);
    assert_null(t);
}

static void test_render_errors(void **state)
{
    (void)state;
    struct reg_template *t = parse("{run}/{detector}");
    json_t *d = json_object();
    char out[16];
    struct err_info ei = {0};
    assert_int_equal(reg_template_render(t, "r", "raw", NULL, d, out, sizeof out, &ei),
                     ERR_INVALID);
    assert_non_null(strstr(ei.msg, "{detector}"));
    json_object_set_new(d, "detector", json_integer(1));
    assert_int_equal(
        reg_template_render(t, "a-very-long-run-name", "raw", NULL, d, out, sizeof out, &ei),
        ERR_TOO_LARGE);
    json_decref(d);
    reg_template_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_template), cmocka_unit_test(test_formats),
        cmocka_unit_test(test_check),          cmocka_unit_test(test_syntax),
        cmocka_unit_test(test_render_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
