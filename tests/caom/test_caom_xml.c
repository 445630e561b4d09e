/* test_caom_xml.c - CAOM XML read/write round trips over the shared expected documents, XSD
 * validation of what we write, checksum vectors and sample-document checksums, bad input.
 * SPDX-License-Identifier: Apache-2.0 */
#include "caom/caom.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "caom_test.h"
#include <openssl/evp.h>

static char g_xsd[1100];


static void md5_hex(const void *p, size_t n, char out[33])
{
    uint8_t d[16];
    unsigned int len = 16;
    EVP_Digest(p, n, d, &len, EVP_md5(), NULL);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* caom2.md 2.7 single-value vectors: our encodings feed MD5 the same bytes as Java. */
static void test_value_vectors(void **state)
{
    (void)state;
    char hex[33];
    uint8_t b1 = 1, b0 = 0;
    md5_hex(&b1, 1, hex);
    assert_string_equal(hex, "55a54008ad1ba589aa210d2629c1df41");
    md5_hex(&b0, 1, hex);
    assert_string_equal(hex, "93b885adfe0da089cdf634904fd59f71");
    md5_hex("hello", 5, hex);
    assert_string_equal(hex, "5d41402abc4b2a76b9719d911017c592");
    uint8_t i3[4] = {0, 0, 0, 3};
    md5_hex(i3, 4, hex);
    assert_string_equal(hex, "584a15a90f2f959d0703594ad447ae93");
    int64_t l = 12345678910LL;
    uint8_t lb[8];
    for (int i = 0; i < 8; i++)
        lb[i] = (uint8_t)((uint64_t)l >> (56 - 8 * i));
    md5_hex(lb, 8, hex);
    assert_string_equal(hex, "f61cbb413a37d320af998a215530bc78");
    double d = 2.2;
    uint64_t u;
    memcpy(&u, &d, 8);
    uint8_t db[8];
    for (int i = 0; i < 8; i++)
        db[i] = (uint8_t)(u >> (56 - 8 * i));
    md5_hex(db, 8, hex);
    assert_string_equal(hex, "0fec383169e99d1a6bebd89d1cd8fad9");
    int64_t ms = 0, ms0 = 0;
    assert_int_equal(caom_date_parse("2012-07-11T13:26:37.123", &ms), ERR_OK);
    assert_int_equal(caom_date_parse("2012-07-11T13:26:37.000", &ms0), ERR_OK);
    assert_int_equal(ms / 1000, ms0 / 1000);
    for (int i = 0; i < 8; i++)
        lb[i] = (uint8_t)((uint64_t)(ms / 1000) >> (56 - 8 * i));
    md5_hex(lb, 8, hex);
    assert_string_equal(hex, "aedbcf5e27a17fc2daa5a0e0d7840009");
    md5_hex("ad:file", 7, hex);
    assert_string_equal(hex, "effad6d4f11ff5a2a8fdd4880b7f2081");
    uint8_t id[16];
    assert_int_equal(caom_uuid_parse("00000000-0000-0000-9d25-b0383f3182a5", id), ERR_OK);
    md5_hex(id, 16, hex);
    assert_string_equal(hex, "5b71d023d4729575d550536dce8439e6");
}

/* A document whose every entity carries meta and acc checksums computed by the Java
 * reference: our recomputation must match each one exactly. */
static void check_sample(const char *rel, const char *obs_meta, const char *obs_acc)
{
    struct caom_observation *o = caom_test_load(rel);
    assert_string_equal(o->e.meta_checksum, obs_meta);
    assert_string_equal(o->e.acc_meta_checksum, obs_acc);
    struct err_info ei = {0};
    enum err rc = caom_checksum_verify(o, &ei);
    if (rc)
        fprintf(stderr, "%s: %s\n", rel, ei.msg);
    assert_int_equal(rc, ERR_OK);
    /* count that the verifier really compared: every entity has stored values */
    size_t n = 1;
    for (size_t i = 0; i < o->n_planes; i++) {
        assert_true(o->planes[i]->e.meta_checksum[0] != '\0');
        n++;
        for (size_t j = 0; j < o->planes[i]->n_artifacts; j++) {
            const struct caom_artifact *a = o->planes[i]->artifacts[j];
            assert_true(a->e.acc_meta_checksum[0] != '\0');
            n++;
            for (size_t k = 0; k < a->n_parts; k++)
                n += 1 + a->parts[k]->n_chunks;
        }
    }
    assert_true(n > 3);
    uint8_t d[16];
    char s[CAOM_CHECKSUM_URI_MAX];
    caom_meta_checksum_observation(o, d);
    caom_checksum_format(d, s);
    assert_string_equal(s, obs_meta);
    caom_acc_checksum_observation(o, d);
    caom_checksum_format(d, s);
    assert_string_equal(s, obs_acc);
    /* a one-character change is detected */
    o->collection[0] = (char)(o->collection[0] == 'X' ? 'Y' : 'X');
    assert_int_equal(caom_checksum_verify(o, &ei), ERR_CHECKSUM);
    caom_observation_free(o);
}

static void test_sample_derived_checksums(void **state)
{
    (void)state;
    check_sample("caom2tools/SampleDerived-CAOM-2.4.xml", "md5:5a502c87acd929a940d995ff10f77c72",
                 "md5:b867568f4c08afe0717ab818486d82b0");
}

static void test_sample_simple_checksums(void **state)
{
    (void)state;
    check_sample("caom2tools/SampleSimple-CAOM-2.3.xml", "md5:975eed2b3ecb42344616a9ca89d75f59",
                 "md5:ab5e46a8f7f542756d61eb186921271b");
}

/* UUIDComparator: version first, then unsigned; Java's signed compareTo would differ. */
static void test_uuid_order(void **state)
{
    (void)state;
    struct caom_observation *o = caom_observation_new(CAOM_OBS_SIMPLE, "C", "o");
    assert_non_null(o);
    assert_int_equal(caom_str_set(&o->algorithm_name, "exposure"), ERR_OK);
    struct caom_plane *a = caom_plane_new("a"), *b = caom_plane_new("b");
    assert_int_equal(caom_uuid_parse("80000000-0000-4000-8000-000000000000", a->e.id), ERR_OK);
    assert_int_equal(caom_uuid_parse("10000000-0000-4000-8000-000000000000", b->e.id), ERR_OK);
    assert_int_equal(caom_observation_add_plane(o, a), ERR_OK);
    assert_int_equal(caom_observation_add_plane(o, b), ERR_OK);
    uint8_t acc1[16], acc2[16], ma[16], mb[16], meta[16];
    caom_acc_checksum_observation(o, acc1);
    /* expected: meta(obs), acc(b) [0x10.. unsigned smaller], acc(a) */
    caom_meta_checksum_observation(o, meta);
    caom_acc_checksum_plane(a, ma);
    caom_acc_checksum_plane(b, mb);
    uint8_t buf[48];
    memcpy(buf, meta, 16);
    memcpy(buf + 16, mb, 16);
    memcpy(buf + 32, ma, 16);
    unsigned int len = 16;
    EVP_Digest(buf, 48, acc2, &len, EVP_md5(), NULL);
    assert_memory_equal(acc1, acc2, 16);
    /* order of insertion does not matter */
    o->planes[0] = b;
    o->planes[1] = a;
    caom_acc_checksum_observation(o, acc2);
    assert_memory_equal(acc1, acc2, 16);
    /* version dominates: a v1 uuid with larger bits sorts before a v4 one */
    assert_int_equal(caom_uuid_parse("ffffffff-0000-1000-8000-000000000000", a->e.id), ERR_OK);
    caom_meta_checksum_observation(o, meta);
    caom_acc_checksum_plane(a, ma);
    memcpy(buf + 16, ma, 16);
    memcpy(buf + 32, mb, 16);
    EVP_Digest(buf, 48, acc2, &len, EVP_md5(), NULL);
    caom_acc_checksum_observation(o, acc1);
    assert_memory_equal(acc1, acc2, 16);
    caom_observation_free(o);
}

/* read -> write -> read of every shared document: equal models, and what we write validates
 * against the CAOM-2.4 XSD; writing again gives identical bytes. */
static void test_round_trip_all(void **state)
{
    (void)state;
    struct caom_schema *schema = NULL;
    struct err_info ei = {0};
    enum err rc = caom_schema_load(g_xsd, &schema, &ei);
    if (rc)
        fprintf(stderr, "%s\n", ei.msg);
    assert_int_equal(rc, ERR_OK);
    for (size_t i = 0; i < caom_test_ndocs; i++) {
        struct caom_observation *o = caom_test_load(caom_test_docs[i]), *o2 = NULL;
        char *xml = NULL, *xml2 = NULL;
        size_t len = 0, len2 = 0;
        rc = caom_xml_write(o, &xml, &len, &ei);
        if (rc)
            fprintf(stderr, "%s: write: %s\n", caom_test_docs[i], ei.msg);
        assert_int_equal(rc, ERR_OK);
        rc = caom_schema_validate(schema, xml, len, &ei);
        if (rc)
            fprintf(stderr, "%s: validate: %s\n", caom_test_docs[i], ei.msg);
        assert_int_equal(rc, ERR_OK);
        rc = caom_xml_read(xml, len, caom_test_docs[i], &o2, &ei);
        if (rc)
            fprintf(stderr, "%s: reread: %s\n", caom_test_docs[i], ei.msg);
        assert_int_equal(rc, ERR_OK);
        char where[256] = "";
        bool eq = caom_observation_equal(o, o2, true, where, sizeof where);
        if (!eq)
            fprintf(stderr, "%s: differs at %s\n", caom_test_docs[i], where);
        assert_true(eq);
        /* checksum attributes survive the trip */
        assert_string_equal(o->e.acc_meta_checksum, o2->e.acc_meta_checksum);
        rc = caom_xml_write(o2, &xml2, &len2, &ei);
        assert_int_equal(rc, ERR_OK);
        assert_int_equal(len, len2);
        assert_memory_equal(xml, xml2, len);
        free(xml);
        free(xml2);
        caom_observation_free(o);
        caom_observation_free(o2);
    }
    caom_schema_free(schema);
}

/* The shared 2.4 expected documents already validate; a broken order does not. */
static void test_validate_catches_order(void **state)
{
    (void)state;
    const char *doc =
        "<?xml version=\"1.0\"?>\n"
        "<caom2:Observation xmlns:caom2=\"http://www.opencadc.org/caom2/xml/v2.4\" "
        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"caom2:SimpleObservation\" "
        "caom2:id=\"00000000-0000-0000-0000-000000000001\">\n"
        "  <caom2:observationID>x</caom2:observationID>\n"
        "  <caom2:collection>C</caom2:collection>\n"
        "  <caom2:algorithm><caom2:name>exposure</caom2:name></caom2:algorithm>\n"
        "</caom2:Observation>\n";
    struct err_info ei = {0};
    assert_int_equal(caom_xml_validate(doc, strlen(doc), g_xsd, &ei), ERR_XML);
    assert_non_null(strstr(ei.msg, "line 3"));
    /* our lenient reader still takes it */
    struct caom_observation *o = NULL;
    assert_int_equal(caom_xml_read(doc, strlen(doc), "t.xml", &o, &ei), ERR_OK);
    assert_string_equal(o->collection, "C");
    char *xml = NULL;
    size_t len = 0;
    assert_int_equal(caom_xml_write(o, &xml, &len, &ei), ERR_OK);
    assert_int_equal(caom_xml_validate(xml, len, g_xsd, &ei), ERR_OK);
    free(xml);
    caom_observation_free(o);
    /* missing schema file */
    assert_int_equal(caom_xml_validate(doc, strlen(doc), "/nonexistent/x.xsd", &ei), ERR_IO);
}

struct bad_case {
    const char *doc;          /* input */
    const char *want;         /* substring of the message */
};

static void test_bad_input(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {"", "empty document"},
        {"<caom2:Observation", "invalid xml"},
        {"<?xml version=\"1.0\"?>\n<foo/>", "not a caom2 Observation"},
        {"<?xml version=\"1.0\"?>\n<caom2:Observation xmlns:caom2=\"urn:other\"/>",
         "not a caom2 Observation"},
        {"<?xml version=\"1.0\"?>\n<caom2:Observation xmlns:caom2=\"http://www.opencadc.org/caom2/xml/v2.4\" "
         "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"caom2:SimpleObservation\" "
         "caom2:id=\"zz\"/>",
         "not a uuid"},
        {"<?xml version=\"1.0\"?>\n<caom2:Observation xmlns:caom2=\"http://www.opencadc.org/caom2/xml/v2.4\" "
         "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"caom2:SimpleObservation\" "
         "caom2:id=\"00000000-0000-0000-0000-000000000001\">\n"
         "<caom2:collection>C</caom2:collection>\n<caom2:observationID>o</caom2:observationID>\n"
         "<caom2:sequenceNumber>12x</caom2:sequenceNumber>\n</caom2:Observation>",
         "line 5: element \"sequenceNumber\""},
        {"<?xml version=\"1.0\"?>\n<caom2:Observation xmlns:caom2=\"http://www.opencadc.org/caom2/xml/v2.4\" "
         "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"caom2:SimpleObservation\" "
         "caom2:id=\"00000000-0000-0000-0000-000000000001\">\n"
         "<caom2:collection>C</caom2:collection>\n<caom2:observationID>o</caom2:observationID>\n"
         "<caom2:algorithm><caom2:name>e</caom2:name></caom2:algorithm>\n<caom2:bogus/>\n"
         "</caom2:Observation>",
         "line 6: element \"bogus\": unexpected element in observation"},
        {"<?xml version=\"1.0\"?>\n<caom2:Observation xmlns:caom2=\"http://www.opencadc.org/caom2/xml/v2.4\" "
         "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"caom2:SimpleObservation\" "
         "caom2:id=\"00000000-0000-0000-0000-000000000001\">\n"
         "<caom2:collection>C</caom2:collection>\n<caom2:observationID>o</caom2:observationID>\n"
         "<caom2:algorithm><caom2:name>e</caom2:name></caom2:algorithm>\n<caom2:planes>\n"
         "<caom2:bogus/></caom2:planes>\n</caom2:Observation>",
         "line 7: element \"bogus\": unexpected element in planes"},
        {"<?xml version=\"1.0\"?>\n<caom2:Observation xmlns:caom2=\"http://www.opencadc.org/caom2/xml/v2.4\" "
         "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"caom2:SimpleObservation\" "
         "caom2:id=\"00000000-0000-0000-0000-000000000001\">\n"
         "<caom2:collection>C</caom2:collection>\n<caom2:observationID>o</caom2:observationID>\n"
         "</caom2:Observation>",
         "missing required element \"algorithm\""},
        {"<?xml version=\"1.0\"?>\n<!DOCTYPE x [<!ENTITY a SYSTEM \"file:///etc/passwd\">]>\n"
         "<caom2:Observation xmlns:caom2=\"http://www.opencadc.org/caom2/xml/v2.4\" "
         "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"caom2:SimpleObservation\" "
         "caom2:id=\"00000000-0000-0000-0000-000000000001\">\n"
         "<caom2:collection>&a;</caom2:collection>\n<caom2:observationID>o</caom2:observationID>\n"
         "</caom2:Observation>",
         "missing required element"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct err_info ei = {0};
        struct caom_observation *o = NULL;
        enum err rc = caom_xml_read(cases[i].doc, strlen(cases[i].doc), "bad.xml", &o, &ei);
        if (rc == ERR_OK || !strstr(ei.msg, cases[i].want))
            fprintf(stderr, "case %zu: rc=%d msg=%s\n", i, rc, ei.msg);
        assert_int_not_equal(rc, ERR_OK);
        assert_null(o);
        assert_non_null(strstr(ei.msg, cases[i].want));
        assert_non_null(strstr(ei.msg, "bad.xml"));
    }
}

/* Truncating a real document at every 97th byte never crashes and always fails cleanly. */
static void test_truncations(void **state)
{
    (void)state;
    char p[2048];
    caom_test_path(p, sizeof p, "possum2caom2/possum/PSM_pilot1_944MHz_18asec_2226-5552_11268_p3d_v1_coeff0.expected.xml");
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(n > 1000);
    size_t failures = 0;
    for (size_t cut = 1; cut + 20 < n; cut += 97) {
        struct err_info ei = {0};
        struct caom_observation *o = NULL;
        enum err rc = caom_xml_read(buf, cut, "cut.xml", &o, &ei);
        assert_int_not_equal(rc, ERR_OK);
        assert_non_null(strstr(ei.msg, "line"));
        failures++;
    }
    assert_true(failures > 10);
}

static void test_write_requires_fields(void **state)
{
    (void)state;
    struct caom_observation *o = caom_observation_new(CAOM_OBS_DERIVED, "C", "o");
    char *xml = NULL;
    size_t len = 0;
    struct err_info ei = {0};
    assert_int_equal(caom_xml_write(o, &xml, &len, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "observation.algorithm.name");
    assert_int_equal(caom_str_set(&o->algorithm_name, "composite"), ERR_OK);
    assert_int_equal(caom_strlist_add(&o->members, "caom:C/a"), ERR_OK);
    struct caom_plane *p = caom_plane_new("p");
    assert_int_equal(caom_observation_add_plane(o, p), ERR_OK);
    struct caom_artifact *a = caom_artifact_new("ad:C/f.fits", "science", CAOM_RELEASE_UNSET);
    assert_int_equal(caom_plane_add_artifact(p, a), ERR_OK);
    assert_int_equal(caom_xml_write(o, &xml, &len, &ei), ERR_INVALID);
    assert_string_equal(ei.field, "artifact.releaseType");
    a->release_type = CAOM_RELEASE_DATA;
    assert_int_equal(caom_xml_write(o, &xml, &len, &ei), ERR_OK);
    assert_int_equal(caom_xml_validate(xml, len, g_xsd, &ei), ERR_OK);
    assert_non_null(strstr(xml, "xsi:type=\"caom2:DerivedObservation\""));
    assert_non_null(strstr(xml, "<caom2:observationURI>caom:C/a</caom2:observationURI>"));
    free(xml);
    xml = NULL;
    /* a control character XML 1.0 cannot carry (e.g. from a FITS header) is refused, naming
     * the element, instead of a document no reader accepts; tab/newline are fine */
    assert_int_equal(caom_str_set(&p->creator_id, "ivo://x/\x01y"), ERR_OK);
    assert_int_equal(caom_xml_write(o, &xml, &len, &ei), ERR_INVALID);
    assert_null(xml);
    assert_string_equal(ei.field, "creatorID");
    assert_non_null(strstr(ei.msg, "0x01"));
    /* so is text that is not UTF-8 (Latin-1, a truncated sequence, a surrogate) */
    static const char *const bad_utf8[] = {"caf\xe9", "x\xc3", "\xed\xa0\x80", "\xc0\xaf",
                                           "\xf4\x90\x80\x80"};
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
        assert_int_equal(caom_str_set(&p->creator_id, bad_utf8[i]), ERR_OK);
        assert_int_equal(caom_xml_write(o, &xml, &len, &ei), ERR_INVALID);
        assert_non_null(strstr(ei.msg, "UTF-8"));
    }
    assert_int_equal(caom_str_set(&p->creator_id, NULL), ERR_OK);
    /* tab, newline, CR and real multi-byte text write and read back */
    assert_int_equal(caom_str_set(&o->algorithm_name, "a\tb\nc\rd caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\xad"),
                     ERR_OK);
    assert_int_equal(caom_xml_write(o, &xml, &len, &ei), ERR_OK);
    struct caom_observation *back = NULL;
    assert_int_equal(caom_xml_read(xml, len, "w.xml", &back, &ei), ERR_OK);
    assert_true(caom_observation_equal(o, back, true, NULL, 0));
    caom_observation_free(back);
    free(xml);
    caom_observation_free(o);
}

/* CAOM 2.2: old namespace, numeric ids, polygons with vertices only; written back as 2.4. */
static void test_read_22(void **state)
{
    (void)state;
    const char *doc =
        "<?xml version=\"1.0\"?>\n"
        "<caom2:Observation xmlns:caom2=\"vos://cadc.nrc.ca!vospace/CADC/xml/CAOM/v2.2\" "
        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"caom2:CompositeObservation\" "
        "caom2:id=\"123456789\">\n"
        "<caom2:collection>OLD</caom2:collection><caom2:observationID>o</caom2:observationID>\n"
        "<caom2:algorithm><caom2:name>stack</caom2:name></caom2:algorithm>\n"
        "<caom2:planes><caom2:plane caom2:id=\"42\"><caom2:productID>p</caom2:productID>\n"
        "<caom2:position><caom2:bounds xsi:type=\"caom2:Polygon\"><caom2:vertices>\n"
        "<caom2:vertex><caom2:cval1>1</caom2:cval1><caom2:cval2>1</caom2:cval2><caom2:type>2</caom2:type></caom2:vertex>\n"
        "<caom2:vertex><caom2:cval1>2</caom2:cval1><caom2:cval2>1</caom2:cval2><caom2:type>1</caom2:type></caom2:vertex>\n"
        "<caom2:vertex><caom2:cval1>2</caom2:cval1><caom2:cval2>2</caom2:cval2><caom2:type>1</caom2:type></caom2:vertex>\n"
        "<caom2:vertex><caom2:cval1>0</caom2:cval1><caom2:cval2>0</caom2:cval2><caom2:type>0</caom2:type></caom2:vertex>\n"
        "</caom2:vertices></caom2:bounds></caom2:position></caom2:plane></caom2:planes>\n"
        "<caom2:members><caom2:observationURI>caom:OLD/a</caom2:observationURI></caom2:members>\n"
        "</caom2:Observation>\n";
    struct err_info ei = {0};
    struct caom_observation *o = NULL;
    enum err rc = caom_xml_read(doc, strlen(doc), "old.xml", &o, &ei);
    if (rc)
        fprintf(stderr, "%s\n", ei.msg);
    assert_int_equal(rc, ERR_OK);
    assert_int_equal(o->kind, CAOM_OBS_DERIVED);
    char id[37];
    caom_uuid_format(o->e.id, id);
    assert_string_equal(id, "00000000-0000-0000-0000-0000075bcd15");
    const struct caom_polygon *g = &o->planes[0]->position->bounds->polygon;
    assert_int_equal(g->n_samples, 4);
    assert_int_equal(g->n_points, 3);
    assert_true(g->points[2].cval1 == 2.0 && g->points[2].cval2 == 2.0);
    assert_int_equal(o->members.n, 1);
    char *xml = NULL;
    size_t len = 0;
    assert_int_equal(caom_xml_write(o, &xml, &len, &ei), ERR_OK);
    rc = caom_xml_validate(xml, len, g_xsd, &ei);
    if (rc)
        fprintf(stderr, "%s\n", ei.msg);
    assert_int_equal(rc, ERR_OK);
    assert_non_null(strstr(xml, CAOM_XML_NS_24));
    free(xml);
    caom_observation_free(o);
}

static void test_dates_and_numbers(void **state)
{
    (void)state;
    int64_t ms = 0;
    char out[32];
    assert_int_equal(caom_date_parse("1996-02-28T17:38:41.000", &ms), ERR_OK);
    caom_date_format(ms, out);
    assert_string_equal(out, "1996-02-28T17:38:41.000");
    assert_int_equal(caom_date_parse("2024-11-06T21:32:57.646", &ms), ERR_OK);
    assert_int_equal(ms, 1730928777646LL);
    caom_date_format(ms, out);
    assert_string_equal(out, "2024-11-06T21:32:57.646");
    assert_int_equal(caom_date_parse("1960-01-01T00:00:00", &ms), ERR_OK);
    caom_date_format(ms, out);
    assert_string_equal(out, "1960-01-01T00:00:00.000");
    assert_int_equal(caom_date_parse("2024-13-01T00:00:00", &ms), ERR_PARSE);
    assert_int_equal(caom_date_parse("yesterday", &ms), ERR_PARSE);
    /* the formatter against gmtime_r over years 1 to 9999 and beyond */
    uint64_t r = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 20000; i++) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        int64_t t = (int64_t)(r % 320000000000000ULL) - 62135596800000LL - 1000;
        time_t secs = (time_t)(t >= 0 ? t / 1000 : -((-t + 999) / 1000));
        struct tm tm;
        char want[64];
        assert_non_null(gmtime_r(&secs, &tm));
        snprintf(want, sizeof want, "%04lld-%02d-%02dT%02d:%02d:%02d.%03lld",
                 (long long)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec, (long long)(t - (int64_t)secs * 1000));
        caom_date_format(t, out);
        assert_string_equal(out, want);
    }
}

int main(void)
{
    int setup = caom_test_setup();
    if (setup)
        return setup;
    snprintf(g_xsd, sizeof g_xsd, "%s/reference/caom2/CAOM-2.4.xsd", caom_test_shared());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_vectors),
        cmocka_unit_test(test_sample_derived_checksums),
        cmocka_unit_test(test_sample_simple_checksums),
        cmocka_unit_test(test_uuid_order),
        cmocka_unit_test(test_round_trip_all),
        cmocka_unit_test(test_validate_catches_order),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_write_requires_fields),
        cmocka_unit_test(test_read_22),
        cmocka_unit_test(test_dates_and_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
