/* test_fits_caps.c - lib/fits caps that take a large input to reach (a million cards): kept
 * out of the unit tests, which also run under valgrind.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fits/fits.h"

/* the file-wide card cap: many HDUs of allowed size still stop at FHDR_MAX_FILE_CARDS, with a
 * message naming the file and the HDU */
static void test_file_card_cap(void **state)
{
    (void)state;
    const char line[] = "COMMENT\n";
    size_t per_hdu = FHDR_MAX_CARDS / 2;
    size_t nhdu = FHDR_MAX_FILE_CARDS / per_hdu + 1;
    size_t marker = 16;
    size_t cap = nhdu * (marker + per_hdu * (sizeof line - 1));
    char *t = malloc(cap);
    size_t n = 0;
    assert_non_null(t);
    for (size_t h = 0; h < nhdu; h++) {
        n += (size_t)snprintf(t + n, cap - n, "# HDU %zu in x:\n", h);
        for (size_t k = 0; k < per_hdu; k++) {
            memcpy(t + n, line, sizeof line - 1);
            n += sizeof line - 1;
        }
    }
    struct fhdr_file *f = NULL;
    struct err_info ei = {0};
    assert_int_equal(fhdr_file_parse_text("many.header", t, n, &f, &ei), ERR_TOO_LARGE);
    assert_null(f);
    assert_non_null(strstr(ei.msg, "\"many.header\" has more than"));
    assert_non_null(strstr(ei.msg, "HDU 20"));
    /* one HDU fewer is within the cap */
    size_t ok_len = (size_t)(strstr(t, "# HDU 20 in") - t);
    assert_int_equal(fhdr_file_parse_text("many.header", t, ok_len, &f, &ei), ERR_OK);
    assert_int_equal(fhdr_file_hdu_count(f), 20);
    fhdr_file_destroy(f);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_card_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
