/* fuzz_expect_yaml.c - libFuzzer target: YAML expectation parsing and compiling, then a check
 * of a small fixed header against whatever compiled (alone, and as a product of itself),
 * plus the dataset name rules.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dataset/dataset.h"
#include "expect/expect.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct expect *e = NULL;
    struct err_info ei;
    if (expect_parse((const char *)data, size, "fuzz", &e, &ei) == ERR_OK) {
        struct expect_header *h = NULL;
        if (expect_header_create(&h, NULL) == ERR_OK) {
            json_t *rep = NULL;
            if (expect_header_add_hdu(h, 0, "", 1, 16, 0, NULL) == ERR_OK &&
                expect_header_add_card(h, "INSTRUME= 'ACS     '", NULL) == ERR_OK &&
                expect_header_add_card(h, "CCDGAIN =                    2", NULL) == ERR_OK &&
                expect_header_add_hdu(h, 1, "SCI", 1, 16, 2, NULL) == ERR_OK) {
                if (expect_validate(e, h, "f", &rep, &ei) == ERR_INVALID) {
                    json_decref(rep);
                }
                /* the same header as the product of itself: the rules relating the two */
                rep = NULL;
                if (expect_header_add_card(h, "NAXIS1  =                   10", NULL) == ERR_OK &&
                    expect_header_add_hdu(h, 2, "ERR", 1, -32, 0, NULL) == ERR_OK &&
                    expect_header_add_card(h, "NPIX1   =                   12", NULL) == ERR_OK &&
                    expect_validate_input(e, h, h, "f", &rep, &ei) == ERR_INVALID) {
                    json_decref(rep);
                }
            }
            expect_header_destroy(h);
        }
        expect_destroy(e);
    }
    /* the same bytes as a card and as a dataset name */
    char buf[96];
    size_t n = size < sizeof buf - 1 ? size : sizeof buf - 1;
    memcpy(buf, data, n);
    buf[n] = '\0';
    char key[72], val[128];
    enum expect_vtype t;
    enum err rc = expect_card_parse(buf, n, key, val, sizeof val, &t, NULL);
    struct dataset_info d;
    rc = dataset_parse_hst(buf, &d, NULL);
    struct dataset_rule *r = NULL;
    if (dataset_rule_create("fuzz", buf, &r, NULL) == ERR_OK) {
        rc = dataset_rule_match(r, "j8bt05njq", NULL, NULL, NULL);
        dataset_rule_destroy(r);
    }
    (void)rc;
    return 0;
}
