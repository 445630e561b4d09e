/* test_caom_vosi.c - lib/caom caom_vosi_find: the capability by standardID, the interface by
 * security method with the anonymous fallback, https preference, accessURL use="base",
 * trimming, and the refusals (malformed, wrong root, entities, size caps, not found).
 * SPDX-License-Identifier: Apache-2.0 */
#include "caom/caom.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define OBS "vos://cadc.nrc.ca~vospace/CADC/std/CAOM2Repository#obs-1.2"
#define OBS_OLD "vos://cadc.nrc.ca~vospace/CADC/std/CAOM2Repository#obs-1.1"
#define CERT "ivo://ivoa.net/sso#tls-with-certificate"
#define TOKEN "ivo://ivoa.net/sso#token"
#define COOKIE "ivo://ivoa.net/sso#cookie"

#define HEAD                                                                                       \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"                                                 \
    "<vosi:capabilities xmlns:vosi=\"http://www.ivoa.net/xml/VOSICapabilities/v1.0\"\n"            \
    "    xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"\n"                                \
    "    xmlns:vs=\"http://www.ivoa.net/xml/VODataService/v1.1\">\n"
#define TAIL "</vosi:capabilities>\n"

/* Shaped like a torkeep deployment's capabilities, with our own host. */
static const char k_caps[] =
    HEAD
    "  <capability standardID=\"ivo://ivoa.net/std/VOSI#capabilities\">\n"
    "    <interface xsi:type=\"vs:ParamHTTP\" role=\"std\">\n"
    "      <accessURL use=\"full\">https://caom.example.org/torkeep/capabilities</accessURL>\n"
    "    </interface>\n"
    "  </capability>\n"
    "  <capability standardID=\"ivo://ivoa.net/std/VOSI#availability\">\n"
    "    <interface xsi:type=\"vs:ParamHTTP\" role=\"std\">\n"
    "      <accessURL use=\"full\">https://caom.example.org/torkeep/availability</accessURL>\n"
    "    </interface>\n"
    "  </capability>\n"
    "  <capability standardID=\"" OBS "\">\n"
    "    <interface xsi:type=\"vs:ParamHTTP\" role=\"std\" version=\"1.2\">\n"
    "      <accessURL use=\"base\">http://caom.example.org/torkeep/pub/obs</accessURL>\n"
    "    </interface>\n"
    "    <interface xsi:type=\"vs:ParamHTTP\" role=\"std\" version=\"1.2\">\n"
    "      <accessURL use=\"base\">\n        https://caom.example.org/torkeep/pub/obs  \n"
    "      </accessURL>\n"
    "    </interface>\n"
    "    <interface xsi:type=\"vs:ParamHTTP\" role=\"std\" version=\"1.2\">\n"
    "      <accessURL use=\"base\">https://caom.example.org/torkeep/auth/obs</accessURL>\n"
    "      <securityMethod standardID=\"" CERT "\"/>\n"
    "    </interface>\n"
    "    <interface xsi:type=\"vs:ParamHTTP\" role=\"std\" version=\"1.2\">\n"
    "      <accessURL use=\"base\">https://caom.example.org/torkeep/token/obs</accessURL>\n"
    "      <securityMethod standardID=\"" COOKIE "\"/>\n"
    "      <securityMethod standardID=\"" TOKEN "\"/>\n"
    "    </interface>\n"
    "  </capability>\n" TAIL;

static enum err find(const char *doc, const char *id, const char *sm, char *out, size_t cap,
                     struct err_info *ei)
{
    return caom_vosi_find(doc, strlen(doc), id, sm, out, cap, ei);
}

static void test_security_methods(void **state)
{
    (void)state;
    char url[256];
    struct err_info ei = {0};
    /* anonymous: the https anonymous interface wins over the http one listed first */
    assert_int_equal(find(k_caps, OBS, NULL, url, sizeof url, &ei), ERR_OK);
    assert_string_equal(url, "https://caom.example.org/torkeep/pub/obs");
    assert_int_equal(find(k_caps, OBS, CERT, url, sizeof url, &ei), ERR_OK);
    assert_string_equal(url, "https://caom.example.org/torkeep/auth/obs");
    /* an interface listing several methods matches any of them */
    assert_int_equal(find(k_caps, OBS, TOKEN, url, sizeof url, &ei), ERR_OK);
    assert_string_equal(url, "https://caom.example.org/torkeep/token/obs");
    assert_int_equal(find(k_caps, OBS, COOKIE, url, sizeof url, &ei), ERR_OK);
    assert_string_equal(url, "https://caom.example.org/torkeep/token/obs");
    /* a method nobody lists falls back to the anonymous interface */
    assert_int_equal(find(k_caps, OBS, "ivo://ivoa.net/sso#BasicAA", url, sizeof url, &ei),
                     ERR_OK);
    assert_string_equal(url, "https://caom.example.org/torkeep/pub/obs");
    /* use="full" URLs of other capabilities */
    assert_int_equal(find(k_caps, "ivo://ivoa.net/std/VOSI#availability", NULL, url, sizeof url,
                          &ei),
                     ERR_OK);
    assert_string_equal(url, "https://caom.example.org/torkeep/availability");
}

static void test_not_found(void **state)
{
    (void)state;
    char url[64] = "untouched";
    struct err_info ei = {0};
    assert_int_equal(find(k_caps, OBS_OLD, NULL, url, sizeof url, &ei), ERR_NOT_FOUND);
    assert_string_equal(ei.msg, "capability " OBS_OLD " not found");
    assert_string_equal(url, "untouched");
    /* only authenticated interfaces: no anonymous fallback */
    static const char auth_only[] =
        HEAD "<capability standardID=\"" OBS "\">"
             "<interface xsi:type=\"vs:ParamHTTP\"><accessURL use=\"base\">https://h/a</accessURL>"
             "<securityMethod standardID=\"" CERT "\"/></interface></capability>" TAIL;
    assert_int_equal(find(auth_only, OBS, NULL, url, sizeof url, &ei), ERR_NOT_FOUND);
    assert_non_null(strstr(ei.msg, "no anonymous ParamHTTP interface"));
    assert_int_equal(find(auth_only, OBS, TOKEN, url, sizeof url, &ei), ERR_NOT_FOUND);
    assert_non_null(strstr(ei.msg, TOKEN));
    assert_int_equal(find(auth_only, OBS, CERT, url, sizeof url, &ei), ERR_OK);
    assert_string_equal(url, "https://h/a");
    /* interfaces of another type do not count */
    static const char browser[] =
        HEAD "<capability standardID=\"" OBS "\">"
             "<interface xsi:type=\"vr:WebBrowser\"><accessURL>https://h/b</accessURL></interface>"
             "</capability>" TAIL;
    assert_int_equal(find(browser, OBS, NULL, url, sizeof url, &ei), ERR_NOT_FOUND);
}

static void test_interface_details(void **state)
{
    (void)state;
    char url[64];
    struct err_info ei = {0};
    /* accessURL use="base" wins over an earlier one; a securityMethod without standardID is
     * anonymous; CDATA text; another prefix for the ParamHTTP type */
    static const char doc[] =
        HEAD "<capability standardID=\"" OBS "\">"
             "<interface xmlns:x=\"http://www.ivoa.net/xml/VODataService/v1.1\""
             " xsi:type=\"x:ParamHTTP\">"
             "<accessURL use=\"full\">https://h/full</accessURL>"
             "<accessURL use=\"base\"><![CDATA[https://h/base]]></accessURL>"
             "<securityMethod/></interface></capability>" TAIL;
    assert_int_equal(find(doc, OBS, NULL, url, sizeof url, &ei), ERR_OK);
    assert_string_equal(url, "https://h/base");
    assert_int_equal(find(doc, OBS, CERT, url, sizeof url, &ei), ERR_OK);
    assert_string_equal(url, "https://h/base");
    /* the URL must fit: one byte short is refused and the buffer left alone */
    char small[14] = "untouched"; /* strlen("https://h/base") == 14, no room for the NUL */
    assert_int_equal(find(doc, OBS, NULL, small, sizeof small, &ei), ERR_TOO_LARGE);
    assert_string_equal(small, "untouched");
    char fits[15];
    assert_int_equal(find(doc, OBS, NULL, fits, sizeof fits, &ei), ERR_OK);
    assert_string_equal(fits, "https://h/base");
    /* an interface of the wanted capability without accessURL is malformed */
    static const char no_url[] =
        HEAD "<capability standardID=\"" OBS "\"><interface xsi:type=\"vs:ParamHTTP\"/>"
             "</capability>" TAIL;
    assert_int_equal(find(no_url, OBS, NULL, url, sizeof url, &ei), ERR_XML);
    assert_non_null(strstr(ei.msg, "no accessURL"));
}

static void test_bad_documents(void **state)
{
    (void)state;
    char url[64];
    struct err_info ei = {0};
    assert_int_equal(find("", OBS, NULL, url, sizeof url, &ei), ERR_XML);
    assert_int_equal(find("<vosi:capabilities", OBS, NULL, url, sizeof url, &ei), ERR_XML);
    assert_non_null(strstr(ei.msg, "invalid xml"));
    assert_int_equal(find("<capabilities/>", OBS, NULL, url, sizeof url, &ei), ERR_XML);
    assert_non_null(strstr(ei.msg, "root element is not capabilities"));
    /* entity declarations are refused (no expansion, internal or external) */
    static const char ent[] =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE c [<!ENTITY a \"https://h/x\">]>\n"
        "<vosi:capabilities xmlns:vosi=\"http://www.ivoa.net/xml/VOSICapabilities/v1.0\">"
        "<capability standardID=\"" OBS "\"><interface><accessURL>&a;</accessURL></interface>"
        "</capability></vosi:capabilities>";
    assert_int_equal(find(ent, OBS, NULL, url, sizeof url, &ei), ERR_XML);
    static const char ext[] =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE c SYSTEM \"http://127.0.0.1:9/x.dtd\">\n"
        "<vosi:capabilities xmlns:vosi=\"http://www.ivoa.net/xml/VOSICapabilities/v1.0\"/>";
    assert_int_equal(find(ext, OBS, NULL, url, sizeof url, &ei), ERR_NOT_FOUND);
    /* more than 1 MiB is refused before parsing */
    size_t big = CAOM_VOSI_MAX_BYTES + 1;
    char *buf = malloc(big);
    assert_non_null(buf);
    memset(buf, ' ', big);
    assert_int_equal(caom_vosi_find(buf, big, OBS, NULL, url, sizeof url, &ei), ERR_TOO_LARGE);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_security_methods),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_interface_details),
        cmocka_unit_test(test_bad_documents),
    };
    return cmocka_run_group_tests_name("lib.caom.caom_vosi", tests, NULL, NULL);
}
