/* fuzz_fits2caom.c - libFuzzer target: header text -> observation with the default blueprint
 * (WCS derivation, value conversion, chunk building) -> CAOM-2.4 XML, then again with structure
 * rules (Part = image, members and inputs from keyword families, a derived observation only
 * with members). Bad headers must give an error, never undefined behaviour.
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>

#include "blueprint/blueprint.h"
#include "caom/caom.h"
#include "fits/fits.h"
#include "fits2caom/fits2caom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__asan_default_options(void);

const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fhdr_file *f = NULL;
    struct bp *bp = NULL;
    struct caom_observation *o = NULL;
    static const char k_struct[] =
        "Part := if(has(XTENSION), case(XTENSION, 'BINTABLE', 'image', 'all'), 'all')\n"
        "DerivedObservation.members := family('ID_*', concat('caom:FUZZ/', "
        "split(basename(value), '.', 0)))\n"
        "Plane.provenance.name := first(INSTRUME, 'x')\n"
        "Plane.provenance.inputs := family('I[DN]_[0-9]*', format('caom:FUZZ/%s/%s', "
        "basename(value), keyword))\n";
    struct err_info ei;
    char *xml = NULL;
    size_t len = 0;
    if (fhdr_file_parse_text("fuzz.fits.header", (const char *)data, size, &f, &ei) == ERR_OK) {
        struct f2c_input in = {.headers = f};
        struct f2c_opts opts = {.collection = "FUZZ"};
        for (int pass = 0; pass < 2; pass++) {
            if (bp_new(&bp, &ei) == ERR_OK &&
                (pass == 0 || bp_load_text(bp, "s.bp", k_struct, sizeof k_struct - 1, &ei) ==
                                  ERR_OK) &&
                f2c_build(bp, &opts, &in, 1, &o, &ei) == ERR_OK &&
                caom_xml_write(o, &xml, &len, &ei) == ERR_OK) {
                free(xml);
                xml = NULL;
            }
            caom_observation_free(o);
            o = NULL;
            bp_free(bp);
            bp = NULL;
        }
    }
    fhdr_file_destroy(f);
    return 0;
}
