/* fuzz_caom_xml.c - libFuzzer target for the CAOM XML reader: any input is either refused
 * with an error or read into a model that writes, re-reads, checksums, renders as JSON and
 * computes plane metadata without crashing.
 * SPDX-License-Identifier: Apache-2.0 */
#include "caom/caom.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct err_info ei = {0};
    struct caom_observation *o = NULL;
    if (caom_xml_read((const char *)data, size, "fuzz.xml", &o, &ei) != ERR_OK)
        return 0;
    char *xml = NULL;
    size_t len = 0;
    if (caom_xml_write(o, &xml, &len, &ei) == ERR_OK) {
        struct caom_observation *o2 = NULL;
        if (caom_xml_read(xml, len, "rewritten.xml", &o2, &ei) != ERR_OK)
            abort(); /* what we write we must read */
        if (!caom_observation_equal(o, o2, true, NULL, 0))
            abort();
        caom_observation_free(o2);
        free(xml);
    }
    enum err rc = caom_checksum_verify(o, &ei);
    (void)rc;
    json_t *j = caom_to_json(o);
    json_decref(j);
    struct caom_observation *c = caom_observation_clone(o);
    if (c) {
        rc = caom_merge(c, o, true, NULL, &ei);
        if (rc == ERR_OK)
            rc = caom_observation_compute(c, NULL, &ei);
        (void)rc;
        caom_checksum_update(c);
        caom_observation_free(c);
    }
    caom_observation_free(o);
    return 0;
}
