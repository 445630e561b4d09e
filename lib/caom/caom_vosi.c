/* caom_vosi.c - the service URL of one capability in a VOSI capabilities document, picked the
 * way cadcutils' WsCapabilities / CapabilitiesReader (opencadc/cadctools) pick it for the
 * caom2repo client: capability by standardID, ParamHTTP interface by security method with
 * the anonymous interface as fallback, https preferred over http. libxml2 DOM, no network,
 * no DTD loading, no entity substitution; documents that declare entities are refused.
 * SPDX-License-Identifier: Apache-2.0 */
#include "caom/caom.h"
#include "caom_int.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define VOSI_ID_SHOWN 200 /* bytes of a standardID quoted in a message */

enum rank {
    RANK_NONE = 0,            /* interface not usable for the request */
    RANK_ANON,                /* anonymous interface (the fallback) */
    RANK_LISTED               /* lists the requested security method */
};

struct pick {
    char *url;                /* best accessURL so far (owned, trimmed) */
    enum rank rank;           /* its rank */
    bool https;               /* it is an https URL */
};

static bool is_elem(const xmlNode *n, const char *local)
{
    return n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, (const xmlChar *)local);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Trim XML white space in place; returns the start within @p s. */
static char *trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && is_space(s[n - 1]))
        s[--n] = '\0';
    while (is_space(*s))
        s++;
    return s;
}

/* Whether the attribute @p name of @p n (no namespace), trimmed, equals @p want. An absent
 * attribute never matches; *present tells whether it was there. */
static bool attr_equals(const xmlNode *n, const char *name, const char *want, bool *present)
{
    xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
    *present = v != NULL;
    bool eq = false;
    if (v) {
        eq = strcmp(trim((char *)v), want) == 0;
        xmlFree(v);
    }
    return eq;
}

/* The interface's xsi:type names ParamHTTP (any prefix: the QName's local part). */
static bool is_param_http(const xmlNode *n)
{
    xmlChar *t = xmlGetNsProp(n, (const xmlChar *)"type", (const xmlChar *)CAOM_XML_NS_XSI);
    if (!t)
        return false;
    const char *s = trim((char *)t);
    const char *colon = strchr(s, ':');
    bool ok = strcmp(colon ? colon + 1 : s, "ParamHTTP") == 0;
    xmlFree(t);
    return ok;
}

/* The text of element @p n (its text and CDATA children), trimmed, into a new string in
 * *@p out. ERR_XML for an entity reference inside, ERR_NOMEM. */
static enum err element_text(const xmlNode *n, char **out, struct err_info *ei)
{
    size_t len = 0;
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (c->type == XML_ENTITY_REF_NODE)
            return err_set(ei, ERR_XML, "line %ld: entity reference in element \"%s\"",
                           xmlGetLineNo(n), (const char *)n->name);
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content)
            len += strlen((const char *)c->content);
    }
    char *buf = malloc(len + 1);
    if (!buf)
        return err_set(ei, ERR_NOMEM, "out of memory");
    size_t at = 0;
    for (const xmlNode *c = n->children; c; c = c->next) {
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content) {
            size_t k = strlen((const char *)c->content);
            memcpy(buf + at, c->content, k);
            at += k;
        }
    }
    buf[at] = '\0';
    char *t = trim(buf);
    memmove(buf, t, strlen(t) + 1);
    *out = buf;
    return ERR_OK;
}

/* Rank one interface for @p sm (NULL: anonymous wanted). */
static enum rank rank_of(const xmlNode *itf, const char *sm)
{
    bool any = false, anon = false, listed = false;
    for (const xmlNode *c = itf->children; c; c = c->next) {
        if (!is_elem(c, "securityMethod"))
            continue;
        any = true;
        bool present = false;
        bool eq = attr_equals(c, "standardID", sm ? sm : "", &present);
        if (!present)
            anon = true;
        else if (sm && eq)
            listed = true;
    }
    if (listed)
        return RANK_LISTED;
    return (!any || anon) ? RANK_ANON : RANK_NONE;
}

/* Consider interface @p itf of the wanted capability: keep its URL in @p best when it ranks
 * higher, or equal and https where the kept one is not. */
static enum err consider(const xmlNode *itf, const char *sm, const char *cap_id,
                         struct pick *best, struct err_info *ei)
{
    if (!is_param_http(itf))
        return ERR_OK;
    enum rank r = rank_of(itf, sm);
    if (r == RANK_NONE || r < best->rank)
        return ERR_OK;
    const xmlNode *url_el = NULL;
    for (const xmlNode *c = itf->children; c; c = c->next) {
        if (!is_elem(c, "accessURL"))
            continue;
        bool present = false;
        if (attr_equals(c, "use", "base", &present)) {
            url_el = c;
            break;
        }
        if (!url_el)
            url_el = c;
    }
    if (!url_el)
        return err_set(ei, ERR_XML, "line %ld: interface of capability \"%.*s\" has no accessURL",
                       xmlGetLineNo(itf), VOSI_ID_SHOWN, cap_id);
    char *url = NULL;
    enum err rc = element_text(url_el, &url, ei);
    if (rc)
        return rc;
    if (!url[0]) {
        free(url);
        return err_set(ei, ERR_XML, "line %ld: empty accessURL in capability \"%.*s\"",
                       xmlGetLineNo(url_el), VOSI_ID_SHOWN, cap_id);
    }
    bool https = strncasecmp(url, "https:", 6) == 0;
    if (r > best->rank || (https && !best->https)) {
        free(best->url);
        best->url = url;
        best->rank = r;
        best->https = https;
    } else {
        free(url);
    }
    return ERR_OK;
}

static enum err parse(const char *xml, size_t len, xmlDoc **out, struct err_info *ei)
{
    caom__xml_quiet();
    xmlParserCtxt *ctx = xmlNewParserCtxt();
    if (!ctx)
        return err_set(ei, ERR_NOMEM, "out of memory");
    /* no XML_PARSE_NOENT (entities stay references), no XML_PARSE_DTDLOAD, no network */
    xmlDoc *doc = xmlCtxtReadMemory(ctx, xml, (int)len, NULL, NULL,
                                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        const xmlError *e = xmlCtxtGetLastError(ctx);
        char msg[256] = "not well-formed";
        int line = 0;
        if (e && e->message) {
            snprintf(msg, sizeof msg, "%s", e->message);
            char *t = trim(msg);
            memmove(msg, t, strlen(t) + 1);
            line = e->line;
        }
        xmlFreeParserCtxt(ctx);
        return err_set(ei, ERR_XML, "capabilities: line %d: invalid xml: %s", line, msg);
    }
    xmlFreeParserCtxt(ctx);
    if (doc->intSubset && (doc->intSubset->entities || doc->intSubset->pentities)) {
        xmlFreeDoc(doc);
        return err_set(ei, ERR_XML, "capabilities: entity declarations are not accepted");
    }
    *out = doc;
    return ERR_OK;
}

enum err caom_vosi_find(const char *xml, size_t len, const char *standard_id,
                        const char *security_method, char *out, size_t cap, struct err_info *ei)
{
    assert(standard_id && out);
    xmlDoc *doc = NULL;
    struct pick best = {0};
    bool found_cap = false;
    enum err rc = ERR_OK;
    if (len > CAOM_VOSI_MAX_BYTES)
        return err_set(ei, ERR_TOO_LARGE,
                       "capabilities document of %zu bytes exceeds the limit of %u", len,
                       CAOM_VOSI_MAX_BYTES);
    if (!xml || len == 0)
        return err_set(ei, ERR_XML, "capabilities: line 1: empty document");
    rc = parse(xml, len, &doc, ei);
    if (rc)
        return rc;
    const xmlNode *root = xmlDocGetRootElement(doc);
    if (!root || !is_elem(root, "capabilities") || !root->ns ||
        !xmlStrEqual(root->ns->href, (const xmlChar *)CAOM_VOSI_NS)) {
        rc = err_set(ei, ERR_XML, "capabilities: line %ld: root element is not capabilities in %s",
                     root ? xmlGetLineNo(root) : 0L, CAOM_VOSI_NS);
        goto out;
    }
    for (const xmlNode *c = root->children; c && !rc; c = c->next) {
        if (!is_elem(c, "capability"))
            continue;
        bool present = false;
        if (!attr_equals(c, "standardID", standard_id, &present))
            continue;
        found_cap = true;
        for (const xmlNode *itf = c->children; itf && !rc; itf = itf->next)
            if (is_elem(itf, "interface"))
                rc = consider(itf, security_method, standard_id, &best, ei);
    }
    if (rc)
        goto out;
    if (!found_cap) {
        rc = err_set(ei, ERR_NOT_FOUND, "capability %.*s not found", VOSI_ID_SHOWN, standard_id);
        goto out;
    }
    if (!best.url) {
        if (security_method)
            rc = err_set(ei, ERR_NOT_FOUND,
                         "capability %.*s has no ParamHTTP interface for %.*s and no anonymous one",
                         VOSI_ID_SHOWN, standard_id, VOSI_ID_SHOWN, security_method);
        else
            rc = err_set(ei, ERR_NOT_FOUND, "capability %.*s has no anonymous ParamHTTP interface",
                         VOSI_ID_SHOWN, standard_id);
        goto out;
    }
    size_t n = strlen(best.url);
    if (n + 1 > cap) {
        rc = err_set(ei, ERR_TOO_LARGE,
                     "accessURL of %zu bytes for capability %.*s does not fit in %zu", n,
                     VOSI_ID_SHOWN, standard_id, cap);
        goto out;
    }
    memcpy(out, best.url, n + 1);
out:
    free(best.url);
    xmlFreeDoc(doc);
    return rc;
}
