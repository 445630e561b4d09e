/* caom_xml_read.c - CAOM 2.2/2.3/2.4 XML reader (libxml2 DOM), and XSD validation.
 * The reader accepts children in any order (old writers differ), refuses unknown elements,
 * and names the line and element of every error.
 * SPDX-License-Identifier: Apache-2.0 */
#include "caom/caom.h"
#include "caom_int.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>
#include <libxml/xmlschemastypes.h>

#include <errno.h>
#include <pthread.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAOM_XML_ELEMENT_MAX 5000000u /* element nodes visited per document */

struct rd {
    const char *name;         /* file name for messages */
    struct err_info *ei;      /* error detail */
    const xmlChar *ns;        /* the document's CAOM namespace */
    size_t visited;           /* elements visited (capped) */
};

static enum err bad(struct rd *r, const xmlNode *n, enum err code, const char *fmt, ...)
    PRINTF_LIKE(4, 5);

static enum err bad(struct rd *r, const xmlNode *n, enum err code, const char *fmt, ...)
{
    char msg[ERR_INFO_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set_field(r->ei, code, n ? (const char *)n->name : "", "%s: line %ld: element \"%s\": %s",
                         r->name, n ? xmlGetLineNo(n) : 0L, n ? (const char *)n->name : "", msg);
}

static enum err nomem(struct rd *r, const xmlNode *n)
{
    return bad(r, n, ERR_NOMEM, "out of memory");
}

/* Next element sibling starting at @p n (inclusive). */
static xmlNode *el(xmlNode *n)
{
    while (n && n->type != XML_ELEMENT_NODE)
        n = n->next;
    return n;
}

#define FOR_EL(parent, c) for (xmlNode *c = el((parent)->children); c; c = el(c->next))

static bool is(const xmlNode *n, const char *name)
{
    return strcmp((const char *)n->name, name) == 0;
}

static enum err check_ns(struct rd *r, const xmlNode *c)
{
    if (++r->visited > CAOM_XML_ELEMENT_MAX)
        return bad(r, c, ERR_TOO_LARGE, "document has more than %u elements",
                   CAOM_XML_ELEMENT_MAX);
    if (!c->ns || !xmlStrEqual(c->ns->href, r->ns))
        return bad(r, c, ERR_XML, "element is not in the document's caom2 namespace");
    return ERR_OK;
}

static enum err unknown(struct rd *r, const xmlNode *c, const char *parent)
{
    return bad(r, c, ERR_XML, "unexpected element in %s", parent);
}

static enum err missing(struct rd *r, const xmlNode *n, const char *child)
{
    return bad(r, n, ERR_XML, "missing required element \"%s\"", child);
}

/* Trimmed text content as a new malloc'd string, or NULL (error set). */
static char *trimmed_copy(struct rd *r, const xmlNode *n, const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t len = strlen(s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' ||
                       s[len - 1] == '\r'))
        len--;
    char *out = malloc(len + 1);
    if (!out) {
        nomem(r, n);
        return NULL;
    }
    memcpy(out, s, len);
    out[len] = '\0';
    return out;
}

static char *text(struct rd *r, const xmlNode *n)
{
    /* fast path: a leaf holding one text node */
    if (!n->children)
        return trimmed_copy(r, n, "");
    if (n->children->type == XML_TEXT_NODE && !n->children->next && n->children->content)
        return trimmed_copy(r, n, (const char *)n->children->content);
    /* mixed content (comments, entity references, several text nodes): let libxml2 join it */
    xmlChar *c = xmlNodeGetContent(n);
    char *out = trimmed_copy(r, n, c ? (const char *)c : "");
    xmlFree(c);
    return out;
}

static enum err rd_str(struct rd *r, const xmlNode *n, char **dst)
{
    enum err rc = check_ns(r, n);
    if (rc)
        return rc;
    char *s = text(r, n);
    if (!s)
        return r->ei ? r->ei->code : ERR_NOMEM;
    free(*dst);
    *dst = s;
    return ERR_OK;
}

static enum err rd_dbl(struct rd *r, const xmlNode *n, double *out)
{
    enum err rc = check_ns(r, n);
    if (rc)
        return rc;
    char *s = text(r, n);
    if (!s)
        return ERR_NOMEM;
    rc = ERR_OK;
    if (strcmp(s, "INF") == 0 || strcmp(s, "Infinity") == 0) {
        *out = INFINITY;
    } else if (strcmp(s, "-INF") == 0 || strcmp(s, "-Infinity") == 0) {
        *out = -INFINITY;
    } else if (strcmp(s, "NaN") == 0) {
        *out = NAN;
    } else {
        char *end = NULL;
        errno = 0;
        double v = strtod(s, &end);
        if (!*s || *end || (errno == ERANGE && fabs(v) > 1.0) || isnan(v) || isinf(v))
            rc = bad(r, n, ERR_XML, "\"%.60s\" is not a number", s);
        else
            *out = v;
    }
    free(s);
    return rc;
}

static enum err rd_optd(struct rd *r, const xmlNode *n, struct caom_optd *out)
{
    enum err rc = rd_dbl(r, n, &out->v);
    out->set = rc == ERR_OK;
    return rc;
}

static enum err rd_long(struct rd *r, const xmlNode *n, int64_t lo, int64_t hi, int64_t *out)
{
    enum err rc = check_ns(r, n);
    if (rc)
        return rc;
    char *s = text(r, n);
    if (!s)
        return ERR_NOMEM;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno == ERANGE || v < lo || v > hi)
        rc = bad(r, n, ERR_XML, "\"%.60s\" is not an integer in range", s);
    else
        *out = (int64_t)v;
    free(s);
    return rc;
}

static enum err rd_opti(struct rd *r, const xmlNode *n, struct caom_opti *out)
{
    int64_t v = 0;
    enum err rc = rd_long(r, n, INT32_MIN, INT32_MAX, &v);
    out->set = rc == ERR_OK;
    out->v = (int32_t)v;
    return rc;
}

static enum err rd_optl(struct rd *r, const xmlNode *n, struct caom_optl *out)
{
    enum err rc = rd_long(r, n, INT64_MIN, INT64_MAX, &out->v);
    out->set = rc == ERR_OK;
    return rc;
}

static enum err rd_bool(struct rd *r, const xmlNode *n, enum caom_bool *out)
{
    enum err rc = check_ns(r, n);
    if (rc)
        return rc;
    char *s = text(r, n);
    if (!s)
        return ERR_NOMEM;
    if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
        *out = CAOM_BOOL_TRUE;
    else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
        *out = CAOM_BOOL_FALSE;
    else
        rc = bad(r, n, ERR_XML, "\"%.60s\" is not a boolean", s);
    free(s);
    return rc;
}

static enum err parse_date_str(struct rd *r, const xmlNode *n, const char *s, int64_t *ms)
{
    if (caom_date_parse(s, ms) != ERR_OK)
        return bad(r, n, ERR_XML, "\"%.60s\" is not an IVOA date (yyyy-MM-ddTHH:mm:ss.SSS)", s);
    return ERR_OK;
}

static enum err rd_date(struct rd *r, const xmlNode *n, struct caom_optdate *out)
{
    enum err rc = check_ns(r, n);
    if (rc)
        return rc;
    char *s = text(r, n);
    if (!s)
        return ERR_NOMEM;
    rc = parse_date_str(r, n, s, &out->ms);
    out->set = rc == ERR_OK;
    free(s);
    return rc;
}

static enum err rd_list(struct rd *r, const xmlNode *n, const char *item, struct caom_strlist *l)
{
    enum err rc = check_ns(r, n);
    FOR_EL(n, c) {
        if (rc)
            break;
        if (!is(c, item)) {
            rc = unknown(r, c, (const char *)n->name);
            break;
        }
        char *s = NULL;
        rc = rd_str(r, c, &s);
        if (rc)
            break;
        rc = caom_strlist_add(l, s);
        free(s);
        if (rc)
            rc = bad(r, c, rc, "could not add list item");
    }
    return rc;
}

/* Grow a value array by one zeroed element. */
static enum err grow(struct rd *r, const xmlNode *n, void **arr, size_t *count, size_t size)
{
    if (*count >= CAOM_MAX_LIST)
        return bad(r, n, ERR_TOO_LARGE, "more than %u items", CAOM_MAX_LIST);
    void *v = realloc(*arr, (*count + 1) * size);
    if (!v)
        return nomem(r, n);
    memset((char *)v + *count * size, 0, size);
    *arr = v;
    (*count)++;
    return ERR_OK;
}

#define ALLOC(r, n, ptr)                                                                          \
    do {                                                                                          \
        if (!(ptr)) {                                                                             \
            (ptr) = calloc(1, sizeof(*(ptr)));                                                    \
            if (!(ptr))                                                                           \
                return nomem(r, n);                                                               \
        }                                                                                         \
    } while (0)

/* Read the children of container element @p c (<planes>, <artifacts>, <parts>, <chunks>):
 * each must be an @p item element; it is allocated as @p type, attached to @p parent with
 * @p add (and freed with @p free_fn if that fails), then read with @p rd_fn. Like ALLOC, it
 * returns from the calling function on most errors; the status of the last step (the
 * namespace check when there are no children, else reading the last child) is left in @p rc. */
#define RD_CHILDREN(r, c, rc, item, type, add, parent, free_fn, rd_fn)                           \
    do {                                                                                          \
        (rc) = check_ns(r, c);                                                                    \
        FOR_EL(c, child_) {                                                                       \
            if (rc)                                                                               \
                return rc;                                                                        \
            if (!is(child_, item))                                                                \
                return unknown(r, child_, (const char *)(c)->name);                               \
            type *new_ = calloc(1, sizeof(*new_));                                                \
            if (!new_)                                                                            \
                return nomem(r, child_);                                                          \
            (rc) = add(parent, new_);                                                             \
            if (rc) {                                                                             \
                free_fn(new_);                                                                    \
                return bad(r, child_, rc, "could not add %s", item);                              \
            }                                                                                     \
            (rc) = rd_fn(r, child_, new_);                                                        \
        }                                                                                         \
    } while (0)

/* ---- WCS ------------------------------------------------------------------------------- */

static enum err rd_axis(struct rd *r, const xmlNode *n, struct caom_axis *a)
{
    enum err rc = check_ns(r, n);
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "ctype"))
            rc = rd_str(r, c, &a->ctype);
        else if (is(c, "cunit"))
            rc = rd_str(r, c, &a->cunit);
        else
            rc = unknown(r, c, "axis");
    }
    if (!rc && !a->ctype)
        rc = missing(r, n, "ctype");
    return rc;
}

static enum err rd_error(struct rd *r, const xmlNode *n, struct caom_coord_error **pe)
{
    ALLOC(r, n, *pe);
    enum err rc = check_ns(r, n);
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "syser"))
            rc = rd_optd(r, c, &(*pe)->syser);
        else if (is(c, "rnder"))
            rc = rd_optd(r, c, &(*pe)->rnder);
        else
            rc = unknown(r, c, "error");
    }
    return rc;
}

static enum err rd_refcoord(struct rd *r, const xmlNode *n, struct caom_ref_coord *rc_)
{
    enum err rc = check_ns(r, n);
    bool p = false, v = false;
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "pix")) {
            rc = rd_dbl(r, c, &rc_->pix);
            p = true;
        } else if (is(c, "val")) {
            rc = rd_dbl(r, c, &rc_->val);
            v = true;
        } else {
            rc = unknown(r, c, (const char *)n->name);
        }
    }
    if (!rc && !p)
        rc = missing(r, n, "pix");
    if (!rc && !v)
        rc = missing(r, n, "val");
    return rc;
}

static enum err rd_range1d(struct rd *r, const xmlNode *n, struct caom_coord_range1d *g)
{
    enum err rc = check_ns(r, n);
    bool s = false, e = false;
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "start")) {
            rc = rd_refcoord(r, c, &g->start);
            s = true;
        } else if (is(c, "end")) {
            rc = rd_refcoord(r, c, &g->end);
            e = true;
        } else {
            rc = unknown(r, c, "range");
        }
    }
    if (!rc && !s)
        rc = missing(r, n, "start");
    if (!rc && !e)
        rc = missing(r, n, "end");
    return rc;
}

static enum err rd_bounds1d(struct rd *r, const xmlNode *n, struct caom_coord_bounds1d **pb)
{
    ALLOC(r, n, *pb);
    struct caom_coord_bounds1d *b = *pb;
    enum err rc = check_ns(r, n);
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (!is(c, "samples"))
            return unknown(r, c, "bounds");
        rc = check_ns(r, c);
        FOR_EL(c, s) {
            if (rc)
                return rc;
            if (!is(s, "range"))
                return unknown(r, s, "samples");
            rc = grow(r, s, (void **)&b->samples, &b->n_samples, sizeof(*b->samples));
            if (!rc)
                rc = rd_range1d(r, s, &b->samples[b->n_samples - 1]);
        }
    }
    return rc;
}

static enum err rd_function1d(struct rd *r, const xmlNode *n, struct caom_coord_function1d **pf)
{
    ALLOC(r, n, *pf);
    struct caom_coord_function1d *f = *pf;
    enum err rc = check_ns(r, n);
    bool nx = false, d = false, rf = false;
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "naxis")) {
            rc = rd_long(r, c, INT64_MIN, INT64_MAX, &f->naxis);
            nx = true;
        } else if (is(c, "delta")) {
            rc = rd_dbl(r, c, &f->delta);
            d = true;
        } else if (is(c, "refCoord")) {
            rc = rd_refcoord(r, c, &f->ref_coord);
            rf = true;
        } else {
            rc = unknown(r, c, "function");
        }
    }
    if (!rc && !nx)
        rc = missing(r, n, "naxis");
    if (!rc && !d)
        rc = missing(r, n, "delta");
    if (!rc && !rf)
        rc = missing(r, n, "refCoord");
    return rc;
}

static enum err rd_axis1d(struct rd *r, const xmlNode *n, struct caom_coord_axis1d *a)
{
    enum err rc = check_ns(r, n);
    bool ax = false;
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "axis")) {
            rc = rd_axis(r, c, &a->axis);
            ax = true;
        } else if (is(c, "error")) {
            rc = rd_error(r, c, &a->error);
        } else if (is(c, "range")) {
            ALLOC(r, c, a->range);
            rc = rd_range1d(r, c, a->range);
        } else if (is(c, "bounds")) {
            rc = rd_bounds1d(r, c, &a->bounds);
        } else if (is(c, "function")) {
            rc = rd_function1d(r, c, &a->function);
        } else {
            rc = unknown(r, c, "axis");
        }
    }
    if (!rc && !ax)
        rc = missing(r, n, "axis");
    return rc;
}

static enum err rd_coord2d(struct rd *r, const xmlNode *n, struct caom_coord2d *v)
{
    enum err rc = check_ns(r, n);
    bool a = false, b = false;
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "coord1")) {
            rc = rd_refcoord(r, c, &v->coord1);
            a = true;
        } else if (is(c, "coord2")) {
            rc = rd_refcoord(r, c, &v->coord2);
            b = true;
        } else {
            rc = unknown(r, c, (const char *)n->name);
        }
    }
    if (!rc && !a)
        rc = missing(r, n, "coord1");
    if (!rc && !b)
        rc = missing(r, n, "coord2");
    return rc;
}

static enum err rd_vcoord2d(struct rd *r, const xmlNode *n, struct caom_value_coord2d *v)
{
    enum err rc = check_ns(r, n);
    bool a = false, b = false;
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "coord1")) {
            rc = rd_dbl(r, c, &v->coord1);
            a = true;
        } else if (is(c, "coord2")) {
            rc = rd_dbl(r, c, &v->coord2);
            b = true;
        } else {
            rc = unknown(r, c, (const char *)n->name);
        }
    }
    if (!rc && !a)
        rc = missing(r, n, "coord1");
    if (!rc && !b)
        rc = missing(r, n, "coord2");
    return rc;
}

static enum err rd_dim2d(struct rd *r, const xmlNode *n, struct caom_dimension2d *d)
{
    enum err rc = check_ns(r, n);
    bool a = false, b = false;
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "naxis1")) {
            rc = rd_long(r, c, INT64_MIN, INT64_MAX, &d->naxis1);
            a = true;
        } else if (is(c, "naxis2")) {
            rc = rd_long(r, c, INT64_MIN, INT64_MAX, &d->naxis2);
            b = true;
        } else {
            rc = unknown(r, c, "dimension");
        }
    }
    if (!rc && !a)
        rc = missing(r, n, "naxis1");
    if (!rc && !b)
        rc = missing(r, n, "naxis2");
    return rc;
}

static enum err rd_bounds2d(struct rd *r, const xmlNode *n, struct caom_coord_bounds2d **pb)
{
    ALLOC(r, n, *pb);
    struct caom_coord_bounds2d *b = *pb;
    enum err rc = check_ns(r, n);
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (b->kind)
            return bad(r, c, ERR_XML, "bounds has more than one shape");
        if (is(c, "circle")) {
            b->kind = CAOM_BOUNDS2D_CIRCLE;
            rc = check_ns(r, c);
            bool ce = false, ra = false;
            FOR_EL(c, k) {
                if (rc)
                    return rc;
                if (is(k, "center")) {
                    rc = rd_vcoord2d(r, k, &b->circle.center);
                    ce = true;
                } else if (is(k, "radius")) {
                    rc = rd_dbl(r, k, &b->circle.radius);
                    ra = true;
                } else {
                    rc = unknown(r, k, "circle");
                }
            }
            if (!rc && !ce)
                rc = missing(r, c, "center");
            if (!rc && !ra)
                rc = missing(r, c, "radius");
        } else if (is(c, "polygon")) {
            b->kind = CAOM_BOUNDS2D_POLYGON;
            rc = check_ns(r, c);
            FOR_EL(c, vs) {
                if (rc)
                    return rc;
                if (!is(vs, "vertices"))
                    return unknown(r, vs, "polygon");
                rc = check_ns(r, vs);
                FOR_EL(vs, v) {
                    if (rc)
                        return rc;
                    if (!is(v, "vertex"))
                        return unknown(r, v, "vertices");
                    struct caom_coord_polygon2d *p = &b->polygon;
                    rc = grow(r, v, (void **)&p->vertices, &p->n_vertices, sizeof(*p->vertices));
                    if (!rc)
                        rc = rd_vcoord2d(r, v, &p->vertices[p->n_vertices - 1]);
                }
            }
        } else {
            rc = unknown(r, c, "bounds");
        }
    }
    if (!rc && !b->kind)
        rc = missing(r, n, "circle or polygon");
    return rc;
}

static enum err rd_function2d(struct rd *r, const xmlNode *n, struct caom_coord_function2d **pf)
{
    ALLOC(r, n, *pf);
    struct caom_coord_function2d *f = *pf;
    enum err rc = check_ns(r, n);
    bool d = false, rf = false;
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "dimension")) {
            rc = rd_dim2d(r, c, &f->dimension);
            d = true;
        } else if (is(c, "refCoord")) {
            rc = rd_coord2d(r, c, &f->ref_coord);
            rf = true;
        } else if (is(c, "cd11")) {
            rc = rd_optd(r, c, &f->cd11);
        } else if (is(c, "cd12")) {
            rc = rd_optd(r, c, &f->cd12);
        } else if (is(c, "cd21")) {
            rc = rd_optd(r, c, &f->cd21);
        } else if (is(c, "cd22")) {
            rc = rd_optd(r, c, &f->cd22);
        } else {
            rc = unknown(r, c, "function");
        }
    }
    if (!rc && !d)
        rc = missing(r, n, "dimension");
    if (!rc && !rf)
        rc = missing(r, n, "refCoord");
    return rc;
}

static enum err rd_axis2d(struct rd *r, const xmlNode *n, struct caom_coord_axis2d *a)
{
    enum err rc = check_ns(r, n);
    bool a1 = false, a2 = false;
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "axis1")) {
            rc = rd_axis(r, c, &a->axis1);
            a1 = true;
        } else if (is(c, "axis2")) {
            rc = rd_axis(r, c, &a->axis2);
            a2 = true;
        } else if (is(c, "error1")) {
            rc = rd_error(r, c, &a->error1);
        } else if (is(c, "error2")) {
            rc = rd_error(r, c, &a->error2);
        } else if (is(c, "range")) {
            ALLOC(r, c, a->range);
            rc = check_ns(r, c);
            bool s = false, e = false;
            FOR_EL(c, k) {
                if (rc)
                    return rc;
                if (is(k, "start")) {
                    rc = rd_coord2d(r, k, &a->range->start);
                    s = true;
                } else if (is(k, "end")) {
                    rc = rd_coord2d(r, k, &a->range->end);
                    e = true;
                } else {
                    rc = unknown(r, k, "range");
                }
            }
            if (!rc && (!s || !e))
                rc = missing(r, c, s ? "end" : "start");
        } else if (is(c, "bounds")) {
            rc = rd_bounds2d(r, c, &a->bounds);
        } else if (is(c, "function")) {
            rc = rd_function2d(r, c, &a->function);
        } else {
            rc = unknown(r, c, "axis");
        }
    }
    if (!rc && !a1)
        rc = missing(r, n, "axis1");
    if (!rc && !a2)
        rc = missing(r, n, "axis2");
    return rc;
}

static enum err rd_transition(struct rd *r, const xmlNode *n, struct caom_energy_transition **pt)
{
    ALLOC(r, n, *pt);
    struct caom_energy_transition *t = *pt;
    enum err rc = check_ns(r, n);
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "species"))
            rc = rd_str(r, c, &t->species);
        else if (is(c, "transition"))
            rc = rd_str(r, c, &t->transition);
        else
            rc = unknown(r, c, "transition");
    }
    if (!rc && !t->species)
        rc = missing(r, n, "species");
    if (!rc && !t->transition)
        rc = missing(r, n, "transition");
    return rc;
}

static enum err rd_slice(struct rd *r, const xmlNode *n, struct caom_slice *s)
{
    enum err rc = check_ns(r, n);
    bool a = false, b = false;
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "axis")) {
            rc = rd_axis(r, c, &s->axis);
            a = true;
        } else if (is(c, "bin")) {
            rc = rd_long(r, c, INT64_MIN, INT64_MAX, &s->bin);
            b = true;
        } else {
            rc = unknown(r, c, (const char *)n->name);
        }
    }
    if (!rc && !a)
        rc = missing(r, n, "axis");
    if (!rc && !b)
        rc = missing(r, n, "bin");
    return rc;
}

static enum err rd_spatial(struct rd *r, const xmlNode *n, struct caom_spatial_wcs *p)
{
    enum err rc = check_ns(r, n);
    bool ax = false;
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "axis")) {
            rc = rd_axis2d(r, c, &p->axis);
            ax = true;
        } else if (is(c, "coordsys")) {
            rc = rd_str(r, c, &p->coordsys);
        } else if (is(c, "equinox")) {
            rc = rd_optd(r, c, &p->equinox);
        } else if (is(c, "resolution")) {
            rc = rd_optd(r, c, &p->resolution);
        } else {
            rc = unknown(r, c, "position");
        }
    }
    if (!rc && !ax)
        rc = missing(r, n, "axis");
    return rc;
}

static enum err rd_spectral(struct rd *r, const xmlNode *n, struct caom_spectral_wcs *e)
{
    enum err rc = check_ns(r, n);
    bool ax = false;
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "axis")) {
            rc = rd_axis1d(r, c, &e->axis);
            ax = true;
        } else if (is(c, "specsys")) {
            rc = rd_str(r, c, &e->specsys);
        } else if (is(c, "ssysobs")) {
            rc = rd_str(r, c, &e->ssysobs);
        } else if (is(c, "ssyssrc")) {
            rc = rd_str(r, c, &e->ssyssrc);
        } else if (is(c, "restfrq")) {
            rc = rd_optd(r, c, &e->restfrq);
        } else if (is(c, "restwav")) {
            rc = rd_optd(r, c, &e->restwav);
        } else if (is(c, "velosys")) {
            rc = rd_optd(r, c, &e->velosys);
        } else if (is(c, "zsource")) {
            rc = rd_optd(r, c, &e->zsource);
        } else if (is(c, "velang")) {
            rc = rd_optd(r, c, &e->velang);
        } else if (is(c, "bandpassName")) {
            rc = rd_str(r, c, &e->bandpass_name);
        } else if (is(c, "resolvingPower")) {
            rc = rd_optd(r, c, &e->resolving_power);
        } else if (is(c, "transition")) {
            rc = rd_transition(r, c, &e->transition);
        } else {
            rc = unknown(r, c, "energy");
        }
    }
    if (!rc && !ax)
        rc = missing(r, n, "axis");
    return rc; /* specsys may be absent in 2.2/2.3 documents */
}

static enum err rd_temporal(struct rd *r, const xmlNode *n, struct caom_temporal_wcs *t)
{
    enum err rc = check_ns(r, n);
    bool ax = false;
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "axis")) {
            rc = rd_axis1d(r, c, &t->axis);
            ax = true;
        } else if (is(c, "timesys")) {
            rc = rd_str(r, c, &t->timesys);
        } else if (is(c, "trefpos")) {
            rc = rd_str(r, c, &t->trefpos);
        } else if (is(c, "mjdref")) {
            rc = rd_optd(r, c, &t->mjdref);
        } else if (is(c, "exposure")) {
            rc = rd_optd(r, c, &t->exposure);
        } else if (is(c, "resolution")) {
            rc = rd_optd(r, c, &t->resolution);
        } else {
            rc = unknown(r, c, "time");
        }
    }
    if (!rc && !ax)
        rc = missing(r, n, "axis");
    return rc;
}

static enum err rd_axis_only(struct rd *r, const xmlNode *n, struct caom_coord_axis1d *a)
{
    enum err rc = check_ns(r, n);
    bool ax = false;
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "axis")) {
            rc = rd_axis1d(r, c, a);
            ax = true;
        } else {
            rc = unknown(r, c, (const char *)n->name);
        }
    }
    if (!rc && !ax)
        rc = missing(r, n, "axis");
    return rc;
}

/* ---- entities ------------------------------------------------------------------------- */

static xmlChar *attr(struct rd *r, const xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetNsProp(n, (const xmlChar *)name, r->ns);
    if (!v)
        v = xmlGetNoNsProp(n, (const xmlChar *)name);
    return v;
}

static enum err rd_checksum_attr(struct rd *r, const xmlNode *n, const char *name, char *dst)
{
    xmlChar *v = attr(r, n, name);
    if (!v)
        return ERR_OK;
    enum err rc = ERR_OK;
    if (xmlStrlen(v) >= CAOM_CHECKSUM_URI_MAX)
        rc = bad(r, n, ERR_XML, "attribute %s is too long", name);
    else
        memcpy(dst, v, (size_t)xmlStrlen(v) + 1);
    xmlFree(v);
    return rc;
}

static enum err rd_date_attr(struct rd *r, const xmlNode *n, const char *name,
                             struct caom_optdate *dst)
{
    xmlChar *v = attr(r, n, name);
    if (!v)
        return ERR_OK;
    enum err rc = parse_date_str(r, n, (const char *)v, &dst->ms);
    dst->set = rc == ERR_OK;
    xmlFree(v);
    return rc;
}

static enum err rd_entity(struct rd *r, const xmlNode *n, struct caom_entity *e)
{
    enum err rc = check_ns(r, n);
    if (rc)
        return rc;
    xmlChar *id = attr(r, n, "id");
    if (!id)
        return bad(r, n, ERR_XML, "missing attribute caom2:id");
    if (caom_uuid_parse((const char *)id, e->id) != ERR_OK) {
        /* CAOM 2.0-2.2 wrote numeric (long) ids: map to 00000000-0000-0000-xxxx-xxxxxxxxxxxx */
        char *end = NULL;
        errno = 0;
        long long v = strtoll((const char *)id, &end, 10);
        if (!*id || *end || errno) {
            rc = bad(r, n, ERR_XML, "attribute caom2:id \"%.60s\" is not a uuid", (const char *)id);
            xmlFree(id);
            return rc;
        }
        memset(e->id, 0, 16);
        for (int i = 0; i < 8; i++)
            e->id[15 - i] = (uint8_t)((unsigned long long)v >> (8 * i));
    }
    xmlFree(id);
    rc = rd_date_attr(r, n, "lastModified", &e->last_modified);
    if (!rc)
        rc = rd_date_attr(r, n, "maxLastModified", &e->max_last_modified);
    if (!rc)
        rc = rd_checksum_attr(r, n, "metaChecksum", e->meta_checksum);
    if (!rc)
        rc = rd_checksum_attr(r, n, "accMetaChecksum", e->acc_meta_checksum);
    if (!rc) {
        xmlChar *mp = attr(r, n, "metaProducer");
        if (mp) {
            rc = caom_str_set(&e->meta_producer, (const char *)mp);
            xmlFree(mp);
            if (rc)
                rc = nomem(r, n);
        }
    }
    return rc;
}

static enum err rd_chunk(struct rd *r, const xmlNode *n, struct caom_chunk *k)
{
    enum err rc = rd_entity(r, n, &k->e);
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "productType")) {
            rc = rd_str(r, c, &k->product_type);
        } else if (is(c, "naxis")) {
            rc = rd_opti(r, c, &k->naxis);
        } else if (is(c, "observableAxis")) {
            rc = rd_opti(r, c, &k->observable_axis);
        } else if (is(c, "positionAxis1")) {
            rc = rd_opti(r, c, &k->position_axis1);
        } else if (is(c, "positionAxis2")) {
            rc = rd_opti(r, c, &k->position_axis2);
        } else if (is(c, "energyAxis")) {
            rc = rd_opti(r, c, &k->energy_axis);
        } else if (is(c, "timeAxis")) {
            rc = rd_opti(r, c, &k->time_axis);
        } else if (is(c, "polarizationAxis")) {
            rc = rd_opti(r, c, &k->polarization_axis);
        } else if (is(c, "customAxis")) {
            rc = rd_opti(r, c, &k->custom_axis);
        } else if (is(c, "observable")) {
            ALLOC(r, c, k->observable);
            rc = check_ns(r, c);
            bool dep = false;
            FOR_EL(c, s) {
                if (rc)
                    return rc;
                if (is(s, "dependent")) {
                    rc = rd_slice(r, s, &k->observable->dependent);
                    dep = true;
                } else if (is(s, "independent")) {
                    ALLOC(r, s, k->observable->independent);
                    rc = rd_slice(r, s, k->observable->independent);
                } else {
                    rc = unknown(r, s, "observable");
                }
            }
            if (!rc && !dep)
                rc = missing(r, c, "dependent");
        } else if (is(c, "position")) {
            ALLOC(r, c, k->position);
            rc = rd_spatial(r, c, k->position);
        } else if (is(c, "energy")) {
            ALLOC(r, c, k->energy);
            rc = rd_spectral(r, c, k->energy);
        } else if (is(c, "time")) {
            ALLOC(r, c, k->time);
            rc = rd_temporal(r, c, k->time);
        } else if (is(c, "polarization")) {
            ALLOC(r, c, k->polarization);
            rc = rd_axis_only(r, c, &k->polarization->axis);
        } else if (is(c, "custom")) {
            ALLOC(r, c, k->custom);
            rc = rd_axis_only(r, c, &k->custom->axis);
        } else {
            rc = unknown(r, c, "chunk");
        }
    }
    return rc;
}

static enum err rd_part(struct rd *r, const xmlNode *n, struct caom_part *p)
{
    enum err rc = rd_entity(r, n, &p->e);
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "name")) {
            rc = rd_str(r, c, &p->name);
        } else if (is(c, "productType")) {
            rc = rd_str(r, c, &p->product_type);
        } else if (is(c, "chunks")) {
            RD_CHILDREN(r, c, rc, "chunk", struct caom_chunk, caom_part_add_chunk, p,
                        caom_chunk_free, rd_chunk);
        } else {
            rc = unknown(r, c, "part");
        }
    }
    if (!rc && !p->name)
        rc = missing(r, n, "name");
    return rc;
}

static enum err rd_release_type(struct rd *r, const xmlNode *n, enum caom_release_type *out)
{
    char *s = NULL;
    enum err rc = rd_str(r, n, &s);
    if (rc)
        return rc;
    if (strcmp(s, "data") == 0)
        *out = CAOM_RELEASE_DATA;
    else if (strcmp(s, "meta") == 0)
        *out = CAOM_RELEASE_META;
    else
        rc = bad(r, n, ERR_XML, "\"%.60s\" is not a release type (data, meta)", s);
    free(s);
    return rc;
}

static enum err rd_artifact(struct rd *r, const xmlNode *n, struct caom_artifact *a)
{
    enum err rc = rd_entity(r, n, &a->e);
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "uri")) {
            rc = rd_str(r, c, &a->uri);
        } else if (is(c, "productType")) {
            rc = rd_str(r, c, &a->product_type);
        } else if (is(c, "releaseType")) {
            rc = rd_release_type(r, c, &a->release_type);
        } else if (is(c, "contentRelease")) {
            rc = rd_date(r, c, &a->content_release);
        } else if (is(c, "contentReadGroups")) {
            rc = rd_list(r, c, "groupURI", &a->content_read_groups);
        } else if (is(c, "contentType")) {
            rc = rd_str(r, c, &a->content_type);
        } else if (is(c, "contentLength")) {
            rc = rd_optl(r, c, &a->content_length);
        } else if (is(c, "contentChecksum")) {
            rc = rd_str(r, c, &a->content_checksum);
        } else if (is(c, "parts")) {
            RD_CHILDREN(r, c, rc, "part", struct caom_part, caom_artifact_add_part, a,
                        caom_part_free, rd_part);
        } else {
            rc = unknown(r, c, "artifact");
        }
    }
    if (!rc && !a->uri)
        rc = missing(r, n, "uri");
    if (!rc && !a->product_type)
        rc = missing(r, n, "productType");
    if (!rc && !a->release_type)
        rc = missing(r, n, "releaseType");
    return rc;
}

static enum err rd_interval(struct rd *r, const xmlNode *n, struct caom_interval *i)
{
    enum err rc = check_ns(r, n);
    bool lo = false, hi = false;
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "lower")) {
            rc = rd_dbl(r, c, &i->lower);
            lo = true;
        } else if (is(c, "upper")) {
            rc = rd_dbl(r, c, &i->upper);
            hi = true;
        } else {
            rc = unknown(r, c, (const char *)n->name);
        }
    }
    if (!rc && !lo)
        rc = missing(r, n, "lower");
    if (!rc && !hi)
        rc = missing(r, n, "upper");
    return rc;
}

static enum err rd_sinterval(struct rd *r, const xmlNode *n, struct caom_sampled_interval **ps)
{
    ALLOC(r, n, *ps);
    struct caom_sampled_interval *s = *ps;
    enum err rc = check_ns(r, n);
    bool lo = false, hi = false;
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "lower")) {
            rc = rd_dbl(r, c, &s->lower);
            lo = true;
        } else if (is(c, "upper")) {
            rc = rd_dbl(r, c, &s->upper);
            hi = true;
        } else if (is(c, "samples")) {
            rc = check_ns(r, c);
            FOR_EL(c, k) {
                if (rc)
                    return rc;
                if (!is(k, "sample"))
                    return unknown(r, k, "samples");
                rc = grow(r, k, (void **)&s->samples, &s->n_samples, sizeof(*s->samples));
                if (!rc)
                    rc = rd_interval(r, k, &s->samples[s->n_samples - 1]);
            }
        } else {
            rc = unknown(r, c, (const char *)n->name);
        }
    }
    if (!rc && !lo)
        rc = missing(r, n, "lower");
    if (!rc && !hi)
        rc = missing(r, n, "upper");
    return rc;
}

static enum err rd_point(struct rd *r, const xmlNode *n, struct caom_point *p)
{
    enum err rc = check_ns(r, n);
    bool a = false, b = false;
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "cval1")) {
            rc = rd_dbl(r, c, &p->cval1);
            a = true;
        } else if (is(c, "cval2")) {
            rc = rd_dbl(r, c, &p->cval2);
            b = true;
        } else {
            rc = unknown(r, c, (const char *)n->name);
        }
    }
    if (!rc && !a)
        rc = missing(r, n, "cval1");
    if (!rc && !b)
        rc = missing(r, n, "cval2");
    return rc;
}

static enum err rd_vertices(struct rd *r, const xmlNode *n, struct caom_polygon *g)
{
    enum err rc = check_ns(r, n);
    FOR_EL(n, v) {
        if (rc)
            return rc;
        if (!is(v, "vertex"))
            return unknown(r, v, "vertices");
        rc = grow(r, v, (void **)&g->samples, &g->n_samples, sizeof(*g->samples));
        if (rc)
            return rc;
        struct caom_vertex *x = &g->samples[g->n_samples - 1];
        rc = check_ns(r, v);
        bool a = false, b = false, t = false;
        FOR_EL(v, c) {
            if (rc)
                return rc;
            if (is(c, "cval1")) {
                rc = rd_dbl(r, c, &x->cval1);
                a = true;
            } else if (is(c, "cval2")) {
                rc = rd_dbl(r, c, &x->cval2);
                b = true;
            } else if (is(c, "type")) {
                int64_t ty = 0;
                rc = rd_long(r, c, 0, 2, &ty);
                x->type = (enum caom_segment)ty;
                t = true;
            } else {
                rc = unknown(r, c, "vertex");
            }
        }
        if (!rc && (!a || !b || !t))
            rc = missing(r, v, !a ? "cval1" : !b ? "cval2" : "type");
    }
    return rc;
}

/* CAOM 2.2 polygons had only vertices: derive the points from the non-CLOSE vertices. */
static enum err points_from_samples(struct rd *r, const xmlNode *n, struct caom_polygon *g)
{
    for (size_t i = 0; i < g->n_samples; i++) {
        if (g->samples[i].type == CAOM_SEG_CLOSE)
            continue;
        enum err rc = grow(r, n, (void **)&g->points, &g->n_points, sizeof(*g->points));
        if (rc)
            return rc;
        g->points[g->n_points - 1].cval1 = g->samples[i].cval1;
        g->points[g->n_points - 1].cval2 = g->samples[i].cval2;
    }
    return ERR_OK;
}

static enum err rd_shape(struct rd *r, const xmlNode *n, struct caom_shape **ps)
{
    ALLOC(r, n, *ps);
    struct caom_shape *s = *ps;
    enum err rc = check_ns(r, n);
    if (rc)
        return rc;
    xmlChar *ty = xmlGetNsProp(n, (const xmlChar *)"type", (const xmlChar *)CAOM_XML_NS_XSI);
    const char *t = ty ? strchr((const char *)ty, ':') : NULL;
    t = t ? t + 1 : (const char *)ty;
    if (t && strcmp(t, "Circle") == 0)
        s->kind = CAOM_SHAPE_CIRCLE;
    else if (!t || strcmp(t, "Polygon") == 0)
        s->kind = CAOM_SHAPE_POLYGON;
    else
        rc = bad(r, n, ERR_XML, "unsupported shape type \"%.60s\"", t);
    xmlFree(ty);
    bool only_vertices = false;
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (s->kind == CAOM_SHAPE_CIRCLE && is(c, "center")) {
            rc = rd_point(r, c, &s->circle.center);
        } else if (s->kind == CAOM_SHAPE_CIRCLE && is(c, "radius")) {
            rc = rd_dbl(r, c, &s->circle.radius);
        } else if (s->kind == CAOM_SHAPE_POLYGON && is(c, "points")) {
            rc = check_ns(r, c);
            FOR_EL(c, p) {
                if (rc)
                    return rc;
                if (!is(p, "point"))
                    return unknown(r, p, "points");
                struct caom_polygon *g = &s->polygon;
                rc = grow(r, p, (void **)&g->points, &g->n_points, sizeof(*g->points));
                if (!rc)
                    rc = rd_point(r, p, &g->points[g->n_points - 1]);
            }
        } else if (s->kind == CAOM_SHAPE_POLYGON && is(c, "samples")) {
            rc = check_ns(r, c);
            FOR_EL(c, v) {
                if (rc)
                    return rc;
                if (!is(v, "vertices"))
                    return unknown(r, v, "samples");
                rc = rd_vertices(r, v, &s->polygon);
            }
        } else if (s->kind == CAOM_SHAPE_POLYGON && is(c, "vertices")) {
            rc = rd_vertices(r, c, &s->polygon);
            only_vertices = true;
        } else {
            rc = unknown(r, c, "bounds");
        }
    }
    if (!rc && only_vertices && s->polygon.n_points == 0)
        rc = points_from_samples(r, n, &s->polygon);
    return rc;
}

static enum err rd_band(struct rd *r, const xmlNode *n, struct caom_energy *e)
{
    char *s = NULL;
    enum err rc = rd_str(r, n, &s);
    if (rc)
        return rc;
    enum caom_energy_band b = CAOM_BAND_UNSET;
    for (int i = 1; i < CAOM_BAND__COUNT; i++)
        if (strcmp(s, caom_energy_band_name((enum caom_energy_band)i)) == 0)
            b = (enum caom_energy_band)i;
    if (!b)
        rc = bad(r, n, ERR_XML, "\"%.60s\" is not an energy band", s);
    free(s);
    if (!rc)
        rc = grow(r, n, (void **)&e->bands, &e->n_bands, sizeof(*e->bands));
    if (!rc)
        e->bands[e->n_bands - 1] = b;
    return rc;
}

static enum err rd_energy(struct rd *r, const xmlNode *n, struct caom_energy *e)
{
    enum err rc = check_ns(r, n);
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "bounds")) {
            rc = rd_sinterval(r, c, &e->bounds);
        } else if (is(c, "dimension")) {
            rc = rd_optl(r, c, &e->dimension);
        } else if (is(c, "resolvingPower")) {
            rc = rd_optd(r, c, &e->resolving_power);
        } else if (is(c, "resolvingPowerBounds")) {
            ALLOC(r, c, e->resolving_power_bounds);
            rc = rd_interval(r, c, e->resolving_power_bounds);
        } else if (is(c, "sampleSize")) {
            rc = rd_optd(r, c, &e->sample_size);
        } else if (is(c, "bandpassName")) {
            rc = rd_str(r, c, &e->bandpass_name);
        } else if (is(c, "energyBands")) {
            rc = check_ns(r, c);
            FOR_EL(c, b) {
                if (rc)
                    return rc;
                if (!is(b, "emBand"))
                    return unknown(r, b, "energyBands");
                rc = rd_band(r, b, e);
            }
        } else if (is(c, "emBand")) { /* CAOM 2.3: a single band */
            rc = rd_band(r, c, e);
        } else if (is(c, "restwav")) {
            rc = rd_optd(r, c, &e->restwav);
        } else if (is(c, "transition")) {
            rc = rd_transition(r, c, &e->transition);
        } else {
            rc = unknown(r, c, "energy");
        }
    }
    return rc;
}

static enum err rd_time(struct rd *r, const xmlNode *n, struct caom_time *t)
{
    enum err rc = check_ns(r, n);
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "bounds")) {
            rc = rd_sinterval(r, c, &t->bounds);
        } else if (is(c, "dimension")) {
            rc = rd_optl(r, c, &t->dimension);
        } else if (is(c, "resolution")) {
            rc = rd_optd(r, c, &t->resolution);
        } else if (is(c, "resolutionBounds")) {
            ALLOC(r, c, t->resolution_bounds);
            rc = rd_interval(r, c, t->resolution_bounds);
        } else if (is(c, "sampleSize")) {
            rc = rd_optd(r, c, &t->sample_size);
        } else if (is(c, "exposure")) {
            rc = rd_optd(r, c, &t->exposure);
        } else {
            rc = unknown(r, c, "time");
        }
    }
    return rc;
}

static enum err rd_position(struct rd *r, const xmlNode *n, struct caom_position *p)
{
    enum err rc = check_ns(r, n);
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "bounds")) {
            rc = rd_shape(r, c, &p->bounds);
        } else if (is(c, "dimension")) {
            ALLOC(r, c, p->dimension);
            rc = rd_dim2d(r, c, p->dimension);
        } else if (is(c, "resolution")) {
            rc = rd_optd(r, c, &p->resolution);
        } else if (is(c, "resolutionBounds")) {
            ALLOC(r, c, p->resolution_bounds);
            rc = rd_interval(r, c, p->resolution_bounds);
        } else if (is(c, "sampleSize")) {
            rc = rd_optd(r, c, &p->sample_size);
        } else if (is(c, "timeDependent")) {
            rc = rd_bool(r, c, &p->time_dependent);
        } else {
            rc = unknown(r, c, "position");
        }
    }
    return rc;
}

static enum err rd_polarization(struct rd *r, const xmlNode *n, struct caom_polarization *p)
{
    enum err rc = check_ns(r, n);
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "states")) {
            rc = check_ns(r, c);
            FOR_EL(c, s) {
                if (rc)
                    return rc;
                if (!is(s, "state"))
                    return unknown(r, s, "states");
                char *v = NULL;
                rc = rd_str(r, s, &v);
                if (rc)
                    return rc;
                enum caom_pol_state st = CAOM_POL_UNSET;
                for (int i = 1; i < CAOM_POL__COUNT; i++)
                    if (strcmp(v, caom_pol_state_name((enum caom_pol_state)i)) == 0)
                        st = (enum caom_pol_state)i;
                if (!st)
                    rc = bad(r, s, ERR_XML, "\"%.60s\" is not a polarization state", v);
                free(v);
                if (!rc)
                    rc = grow(r, s, (void **)&p->states, &p->n_states, sizeof(*p->states));
                if (!rc)
                    p->states[p->n_states - 1] = st;
            }
        } else if (is(c, "dimension")) {
            rc = rd_optl(r, c, &p->dimension);
        } else {
            rc = unknown(r, c, "polarization");
        }
    }
    return rc;
}

static enum err rd_provenance(struct rd *r, const xmlNode *n, struct caom_provenance *p)
{
    enum err rc = check_ns(r, n);
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "name"))
            rc = rd_str(r, c, &p->name);
        else if (is(c, "version"))
            rc = rd_str(r, c, &p->version);
        else if (is(c, "project"))
            rc = rd_str(r, c, &p->project);
        else if (is(c, "producer"))
            rc = rd_str(r, c, &p->producer);
        else if (is(c, "runID"))
            rc = rd_str(r, c, &p->run_id);
        else if (is(c, "reference"))
            rc = rd_str(r, c, &p->reference);
        else if (is(c, "lastExecuted"))
            rc = rd_date(r, c, &p->last_executed);
        else if (is(c, "keywords"))
            rc = rd_list(r, c, "keyword", &p->keywords);
        else if (is(c, "inputs"))
            rc = rd_list(r, c, "planeURI", &p->inputs);
        else
            rc = unknown(r, c, "provenance");
    }
    if (!rc && !p->name)
        rc = missing(r, n, "name");
    return rc;
}

static enum err rd_metrics(struct rd *r, const xmlNode *n, struct caom_metrics *m)
{
    enum err rc = check_ns(r, n);
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "sourceNumberDensity"))
            rc = rd_optd(r, c, &m->source_number_density);
        else if (is(c, "background"))
            rc = rd_optd(r, c, &m->background);
        else if (is(c, "backgroundStddev"))
            rc = rd_optd(r, c, &m->background_stddev);
        else if (is(c, "fluxDensityLimit"))
            rc = rd_optd(r, c, &m->flux_density_limit);
        else if (is(c, "magLimit"))
            rc = rd_optd(r, c, &m->mag_limit);
        else if (is(c, "sampleSNR"))
            rc = rd_optd(r, c, &m->sample_snr);
        else
            rc = unknown(r, c, "metrics");
    }
    return rc;
}

/* Read <x><flag>value</flag></x> and check the value is @p want. */
static enum err rd_flag(struct rd *r, const xmlNode *n, const char *want, bool *seen)
{
    enum err rc = check_ns(r, n);
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (!is(c, "flag"))
            return unknown(r, c, (const char *)n->name);
        char *s = NULL;
        rc = rd_str(r, c, &s);
        if (!rc && strcmp(s, want) != 0)
            rc = bad(r, c, ERR_XML, "\"%.60s\" is not a valid flag (%s)", s, want);
        free(s);
        *seen = true;
    }
    if (!rc && !*seen)
        rc = missing(r, n, "flag");
    return rc;
}

static enum err rd_plane(struct rd *r, const xmlNode *n, struct caom_plane *p)
{
    enum err rc = rd_entity(r, n, &p->e);
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "productID")) {
            rc = rd_str(r, c, &p->product_id);
        } else if (is(c, "creatorID")) {
            rc = rd_str(r, c, &p->creator_id);
        } else if (is(c, "metaRelease")) {
            rc = rd_date(r, c, &p->meta_release);
        } else if (is(c, "metaReadGroups")) {
            rc = rd_list(r, c, "groupURI", &p->meta_read_groups);
        } else if (is(c, "dataRelease")) {
            rc = rd_date(r, c, &p->data_release);
        } else if (is(c, "dataReadGroups")) {
            rc = rd_list(r, c, "groupURI", &p->data_read_groups);
        } else if (is(c, "dataProductType")) {
            rc = rd_str(r, c, &p->data_product_type);
        } else if (is(c, "calibrationLevel")) {
            rc = rd_opti(r, c, &p->calibration_level);
        } else if (is(c, "provenance")) {
            ALLOC(r, c, p->provenance);
            rc = rd_provenance(r, c, p->provenance);
        } else if (is(c, "observable")) {
            rc = check_ns(r, c);
            FOR_EL(c, u) {
                if (rc)
                    return rc;
                if (!is(u, "ucd"))
                    return unknown(r, u, "observable");
                rc = rd_str(r, u, &p->observable_ucd);
            }
            if (!rc && !p->observable_ucd)
                rc = missing(r, c, "ucd");
        } else if (is(c, "metrics")) {
            ALLOC(r, c, p->metrics);
            rc = rd_metrics(r, c, p->metrics);
        } else if (is(c, "quality")) {
            bool seen = false;
            rc = rd_flag(r, c, "junk", &seen);
            p->quality = CAOM_QUALITY_JUNK;
        } else if (is(c, "position")) {
            ALLOC(r, c, p->position);
            rc = rd_position(r, c, p->position);
        } else if (is(c, "energy")) {
            ALLOC(r, c, p->energy);
            rc = rd_energy(r, c, p->energy);
        } else if (is(c, "time")) {
            ALLOC(r, c, p->time);
            rc = rd_time(r, c, p->time);
        } else if (is(c, "polarization")) {
            ALLOC(r, c, p->polarization);
            rc = rd_polarization(r, c, p->polarization);
        } else if (is(c, "custom")) {
            ALLOC(r, c, p->custom);
            rc = check_ns(r, c);
            FOR_EL(c, k) {
                if (rc)
                    return rc;
                if (is(k, "ctype"))
                    rc = rd_str(r, k, &p->custom->ctype);
                else if (is(k, "bounds"))
                    rc = rd_sinterval(r, k, &p->custom->bounds);
                else if (is(k, "dimension"))
                    rc = rd_optl(r, k, &p->custom->dimension);
                else
                    rc = unknown(r, k, "custom");
            }
            if (!rc && !p->custom->ctype)
                rc = missing(r, c, "ctype");
        } else if (is(c, "artifacts")) {
            RD_CHILDREN(r, c, rc, "artifact", struct caom_artifact, caom_plane_add_artifact, p,
                        caom_artifact_free, rd_artifact);
        } else {
            rc = unknown(r, c, "plane");
        }
    }
    if (!rc && !p->product_id)
        rc = missing(r, n, "productID");
    return rc;
}

static enum err rd_keyworded(struct rd *r, const xmlNode *n, char **name,
                             struct caom_strlist *kw, const char *what)
{
    enum err rc = check_ns(r, n);
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "name"))
            rc = rd_str(r, c, name);
        else if (is(c, "keywords"))
            rc = rd_list(r, c, "keyword", kw);
        else
            rc = unknown(r, c, what);
    }
    if (!rc && !*name)
        rc = missing(r, n, "name");
    return rc;
}

static enum err rd_target(struct rd *r, const xmlNode *n, struct caom_target *t)
{
    enum err rc = check_ns(r, n);
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "name")) {
            rc = rd_str(r, c, &t->name);
        } else if (is(c, "targetID")) {
            rc = rd_str(r, c, &t->target_id);
        } else if (is(c, "type")) {
            char *s = NULL;
            rc = rd_str(r, c, &s);
            if (!rc) {
                if (strcmp(s, "object") == 0)
                    t->type = CAOM_TARGET_OBJECT;
                else if (strcmp(s, "field") == 0)
                    t->type = CAOM_TARGET_FIELD;
                else
                    rc = bad(r, c, ERR_XML, "\"%.60s\" is not a target type (object, field)", s);
            }
            free(s);
        } else if (is(c, "standard")) {
            rc = rd_bool(r, c, &t->standard);
        } else if (is(c, "redshift")) {
            rc = rd_optd(r, c, &t->redshift);
        } else if (is(c, "moving")) {
            rc = rd_bool(r, c, &t->moving);
        } else if (is(c, "keywords")) {
            rc = rd_list(r, c, "keyword", &t->keywords);
        } else {
            rc = unknown(r, c, "target");
        }
    }
    if (!rc && !t->name)
        rc = missing(r, n, "name");
    return rc;
}

static enum err rd_observation(struct rd *r, const xmlNode *n, struct caom_observation *o)
{
    enum err rc = rd_entity(r, n, &o->e);
    bool algorithm = false;
    FOR_EL(n, c) {
        if (rc)
            return rc;
        if (is(c, "collection")) {
            rc = rd_str(r, c, &o->collection);
        } else if (is(c, "observationID")) {
            rc = rd_str(r, c, &o->observation_id);
        } else if (is(c, "metaRelease")) {
            rc = rd_date(r, c, &o->meta_release);
        } else if (is(c, "metaReadGroups")) {
            rc = rd_list(r, c, "groupURI", &o->meta_read_groups);
        } else if (is(c, "sequenceNumber")) {
            rc = rd_opti(r, c, &o->sequence_number);
        } else if (is(c, "algorithm")) {
            struct caom_strlist none = {0};
            rc = rd_keyworded(r, c, &o->algorithm_name, &none, "algorithm");
            if (!rc && none.n > 0)
                rc = bad(r, c, ERR_XML, "algorithm has no keywords");
            caom_strlist_clear(&none);
            algorithm = true;
        } else if (is(c, "type")) {
            rc = rd_str(r, c, &o->type);
        } else if (is(c, "intent")) {
            char *s = NULL;
            rc = rd_str(r, c, &s);
            if (!rc) {
                if (strcmp(s, "science") == 0)
                    o->intent = CAOM_INTENT_SCIENCE;
                else if (strcmp(s, "calibration") == 0)
                    o->intent = CAOM_INTENT_CALIBRATION;
                else
                    rc = bad(r, c, ERR_XML, "\"%.60s\" is not an intent (science, calibration)", s);
            }
            free(s);
        } else if (is(c, "proposal")) {
            ALLOC(r, c, o->proposal);
            struct caom_proposal *p = o->proposal;
            rc = check_ns(r, c);
            FOR_EL(c, k) {
                if (rc)
                    return rc;
                if (is(k, "id"))
                    rc = rd_str(r, k, &p->id);
                else if (is(k, "pi"))
                    rc = rd_str(r, k, &p->pi);
                else if (is(k, "project"))
                    rc = rd_str(r, k, &p->project);
                else if (is(k, "title"))
                    rc = rd_str(r, k, &p->title);
                else if (is(k, "keywords"))
                    rc = rd_list(r, k, "keyword", &p->keywords);
                else
                    rc = unknown(r, k, "proposal");
            }
            if (!rc && !p->id)
                rc = missing(r, c, "id");
        } else if (is(c, "target")) {
            ALLOC(r, c, o->target);
            rc = rd_target(r, c, o->target);
        } else if (is(c, "targetPosition")) {
            ALLOC(r, c, o->target_position);
            struct caom_target_position *t = o->target_position;
            rc = check_ns(r, c);
            bool co = false;
            FOR_EL(c, k) {
                if (rc)
                    return rc;
                if (is(k, "coordsys")) {
                    rc = rd_str(r, k, &t->coordsys);
                } else if (is(k, "equinox")) {
                    rc = rd_optd(r, k, &t->equinox);
                } else if (is(k, "coordinates")) {
                    rc = rd_point(r, k, &t->coordinates);
                    co = true;
                } else {
                    rc = unknown(r, k, "targetPosition");
                }
            }
            if (!rc && !t->coordsys)
                rc = missing(r, c, "coordsys");
            if (!rc && !co)
                rc = missing(r, c, "coordinates");
        } else if (is(c, "requirements")) {
            bool seen = false;
            rc = rd_flag(r, c, "fail", &seen);
            o->requirements = CAOM_STATUS_FAIL;
        } else if (is(c, "telescope")) {
            ALLOC(r, c, o->telescope);
            struct caom_telescope *t = o->telescope;
            rc = check_ns(r, c);
            FOR_EL(c, k) {
                if (rc)
                    return rc;
                if (is(k, "name"))
                    rc = rd_str(r, k, &t->name);
                else if (is(k, "geoLocationX"))
                    rc = rd_optd(r, k, &t->geo_x);
                else if (is(k, "geoLocationY"))
                    rc = rd_optd(r, k, &t->geo_y);
                else if (is(k, "geoLocationZ"))
                    rc = rd_optd(r, k, &t->geo_z);
                else if (is(k, "keywords"))
                    rc = rd_list(r, k, "keyword", &t->keywords);
                else
                    rc = unknown(r, k, "telescope");
            }
            if (!rc && !t->name)
                rc = missing(r, c, "name");
        } else if (is(c, "instrument")) {
            ALLOC(r, c, o->instrument);
            rc = rd_keyworded(r, c, &o->instrument->name, &o->instrument->keywords,
                              "instrument");
        } else if (is(c, "environment")) {
            ALLOC(r, c, o->environment);
            struct caom_environment *e = o->environment;
            rc = check_ns(r, c);
            FOR_EL(c, k) {
                if (rc)
                    return rc;
                if (is(k, "seeing"))
                    rc = rd_optd(r, k, &e->seeing);
                else if (is(k, "humidity"))
                    rc = rd_optd(r, k, &e->humidity);
                else if (is(k, "elevation"))
                    rc = rd_optd(r, k, &e->elevation);
                else if (is(k, "tau"))
                    rc = rd_optd(r, k, &e->tau);
                else if (is(k, "wavelengthTau"))
                    rc = rd_optd(r, k, &e->wavelength_tau);
                else if (is(k, "ambientTemp"))
                    rc = rd_optd(r, k, &e->ambient_temp);
                else if (is(k, "photometric"))
                    rc = rd_bool(r, k, &e->photometric);
                else
                    rc = unknown(r, k, "environment");
            }
        } else if (is(c, "planes")) {
            RD_CHILDREN(r, c, rc, "plane", struct caom_plane, caom_observation_add_plane, o,
                        caom_plane_free, rd_plane);
        } else if (is(c, "members") && o->kind == CAOM_OBS_DERIVED) {
            rc = rd_list(r, c, "observationURI", &o->members);
        } else {
            rc = unknown(r, c, "observation");
        }
    }
    if (!rc && !o->collection)
        rc = missing(r, n, "collection");
    if (!rc && !o->observation_id)
        rc = missing(r, n, "observationID");
    if (!rc && !algorithm)
        rc = missing(r, n, "algorithm");
    return rc;
}

/* libxml2 reports some problems (xml:id validity) through its process-wide generic handler
 * even with XML_PARSE_NOERROR: silence it once; lib/caom is the only libxml2 user. */
static void silent(void *ctx, const char *fmt, ...)
{
    (void)ctx;
    (void)fmt;
}

static pthread_once_t g_xml_once = PTHREAD_ONCE_INIT;

/* xmlSchemaParse builds libxml2's built-in type tables on first use without a lock: build
 * them here, once, so that schemas may be loaded from several threads at once. */
static void xml_init(void)
{
    xmlInitParser();
    xmlSchemaInitTypes();
    xmlThrDefSetGenericErrorFunc(NULL, silent); /* default for threads created later */
}

/* The generic handler is per thread in libxml2: set it for the calling thread too. */
void caom__xml_quiet(void)
{
    pthread_once(&g_xml_once, xml_init);
    xmlSetGenericErrorFunc(NULL, silent);
}

static bool known_ns(const xmlChar *href)
{
    static const char *const nss[] = {
        CAOM_XML_NS_24,
        CAOM_XML_NS_23,
        CAOM_XML_NS_22,
        "vos://cadc.nrc.ca!vospace/CADC/xml/CAOM/v2.1",
        "vos://cadc.nrc.ca!vospace/CADC/xml/CAOM/v2.0",
    };
    for (size_t i = 0; i < ARRAY_LEN(nss); i++)
        if (xmlStrEqual(href, (const xmlChar *)nss[i]))
            return true;
    return false;
}

static enum err parse_doc(const char *buf, size_t len, const char *name, xmlDoc **out,
                          struct err_info *ei)
{
    if (len > CAOM_XML_MAX_BYTES)
        return err_set(ei, ERR_TOO_LARGE, "%s: document of %zu bytes exceeds the limit of %u",
                       name, len, CAOM_XML_MAX_BYTES);
    if (len == 0)
        return err_set(ei, ERR_XML, "%s: line 1: empty document", name);
    caom__xml_quiet();
    xmlParserCtxt *ctx = xmlNewParserCtxt();
    if (!ctx)
        return err_set(ei, ERR_NOMEM, "%s: out of memory", name);
    xmlDoc *doc = xmlCtxtReadMemory(ctx, buf, (int)len, NULL, NULL,
                                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                        XML_PARSE_NOCDATA);
    if (!doc) {
        const xmlError *e = xmlCtxtGetLastError(ctx);
        char msg[256] = "not well-formed";
        int line = 0;
        if (e && e->message) {
            snprintf(msg, sizeof msg, "%s", e->message);
            size_t n = strlen(msg);
            while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
                msg[--n] = '\0';
            line = e->line;
        }
        xmlFreeParserCtxt(ctx);
        return err_set(ei, ERR_XML, "%s: line %d: invalid xml: %s", name, line, msg);
    }
    xmlFreeParserCtxt(ctx);
    *out = doc;
    return ERR_OK;
}

/* The observation of a parsed document (@p doc is freed here). */
static enum err read_doc(xmlDoc *doc, const char *name, struct caom_observation **out,
                         struct err_info *ei)
{
    struct caom_observation *o = NULL;
    enum err rc = ERR_OK;
    xmlNode *root = xmlDocGetRootElement(doc);
    struct rd r = {.name = name, .ei = ei};
    if (!root || !is(root, "Observation") || !root->ns || !known_ns(root->ns->href)) {
        rc = bad(&r, root, ERR_XML, "root element is not a caom2 Observation (namespaces %s, %s, %s)",
                 CAOM_XML_NS_24, CAOM_XML_NS_23, CAOM_XML_NS_22);
        goto out;
    }
    r.ns = root->ns->href;
    xmlChar *ty = xmlGetNsProp(root, (const xmlChar *)"type", (const xmlChar *)CAOM_XML_NS_XSI);
    const char *t = ty ? strchr((const char *)ty, ':') : NULL;
    t = t ? t + 1 : (const char *)ty;
    enum caom_obs_kind kind = CAOM_OBS_SIMPLE;
    if (t && (strcmp(t, "DerivedObservation") == 0 || strcmp(t, "CompositeObservation") == 0)) {
        kind = CAOM_OBS_DERIVED;
    } else if (!t || strcmp(t, "SimpleObservation") != 0) {
        rc = bad(&r, root, ERR_XML, "xsi:type \"%.60s\" is not SimpleObservation or DerivedObservation",
                 t ? t : "");
        xmlFree(ty);
        goto out;
    }
    xmlFree(ty);
    o = calloc(1, sizeof(*o));
    if (!o) {
        rc = nomem(&r, root);
        goto out;
    }
    o->kind = kind;
    rc = rd_observation(&r, root, o);
out:
    xmlFreeDoc(doc);
    if (rc) {
        caom_observation_free(o);
        return rc;
    }
    *out = o;
    return ERR_OK;
}

enum err caom_xml_read(const char *buf, size_t len, const char *name,
                       struct caom_observation **out, struct err_info *ei)
{
    xmlDoc *doc = NULL;
    if (!name)
        name = "<document>";
    enum err rc = parse_doc(buf, len, name, &doc, ei);
    if (rc)
        return rc;
    return read_doc(doc, name, out, ei);
}

enum err caom_xml_read_file(const char *path, struct caom_observation **out, struct err_info *ei)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(ei, ERR_IO, "could not open \"%s\": %s", path, ERR_ERRNO(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    enum err rc = ERR_OK;
    for (;;) {
        if (len + 65536 > cap) {
            if (cap > CAOM_XML_MAX_BYTES) {
                rc = err_set(ei, ERR_TOO_LARGE, "%s: document exceeds the limit of %u bytes",
                             path, CAOM_XML_MAX_BYTES);
                break;
            }
            size_t ncap = cap ? cap * 2 : 131072;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                rc = err_set(ei, ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f))
                rc = err_set(ei, ERR_IO, "could not read \"%s\"", path);
            break;
        }
    }
    fclose(f);
    if (!rc)
        rc = caom_xml_read(buf, len, path, out, ei);
    free(buf);
    return rc;
}

/* ---- XSD validation -------------------------------------------------------------------- */

struct caom_schema {
    xmlSchemaPtr schema;      /* parsed schema, read-only once loaded */
};

struct verr {
    char msg[300];            /* first error message */
    int line;                 /* its line */
    bool set;                 /* an error was recorded */
};

static void verr_cb(void *ctx, xmlErrorPtr e)
{
    struct verr *v = ctx;
    if (v->set || !e)
        return;
    v->set = true;
    v->line = e->line;
    snprintf(v->msg, sizeof v->msg, "%s", e->message ? e->message : "invalid");
    size_t n = strlen(v->msg);
    while (n > 0 && (v->msg[n - 1] == '\n' || v->msg[n - 1] == ' '))
        v->msg[--n] = '\0';
}

/* Parse the schema behind @p pc (consumed) into a new caom_schema; @p what names the source
 * in messages. */
static enum err schema_parse(xmlSchemaParserCtxtPtr pc, const char *what, struct caom_schema **out,
                             struct err_info *ei)
{
    struct verr v = {0};
    struct caom_schema *cs = NULL;
    xmlSchemaPtr s = NULL;
    enum err rc = ERR_OK;
    if (!pc)
        return err_set(ei, ERR_NOMEM, "out of memory loading schema \"%s\"", what);
    xmlSchemaSetParserStructuredErrors(pc, verr_cb, &v);
    s = xmlSchemaParse(pc);
    if (!s) {
        rc = err_set(ei, ERR_XML, "%s: line %d: invalid schema: %s", what, v.line,
                     v.set ? v.msg : "unknown failure");
        goto out;
    }
    cs = calloc(1, sizeof(*cs));
    if (!cs) {
        rc = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    cs->schema = s;
    s = NULL;
    *out = cs;
out:
    xmlSchemaFree(s);
    xmlSchemaFreeParserCtxt(pc);
    return rc;
}

enum err caom_schema_load(const char *xsd_path, struct caom_schema **out, struct err_info *ei)
{
    caom__xml_quiet();
    FILE *f = fopen(xsd_path, "rb");
    if (!f)
        return err_set(ei, ERR_IO, "could not open schema \"%s\": %s", xsd_path, ERR_ERRNO(errno));
    fclose(f);
    return schema_parse(xmlSchemaNewParserCtxt(xsd_path), xsd_path, out, ei);
}

enum err caom_schema_load_builtin(struct caom_schema **out, struct err_info *ei)
{
    caom__xml_quiet();
    if (caom__xsd_24_len > (size_t)INT32_MAX)
        return err_set(ei, ERR_INTERNAL, "built-in schema of %zu bytes is too large",
                       caom__xsd_24_len);
    xmlSchemaParserCtxtPtr pc =
        xmlSchemaNewMemParserCtxt((const char *)caom__xsd_24, (int)caom__xsd_24_len);
    return schema_parse(pc, "<built-in CAOM-2.4.xsd>", out, ei);
}

void caom_schema_free(struct caom_schema *s)
{
    if (!s)
        return;
    xmlSchemaFree(s->schema);
    free(s);
}

/* Validate a parsed document against @p s. */
static enum err validate_doc(const struct caom_schema *s, xmlDoc *doc, struct err_info *ei)
{
    struct verr v = {0};
    xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(s->schema);
    if (!vc)
        return err_set(ei, ERR_NOMEM, "out of memory");
    xmlSchemaSetValidStructuredErrors(vc, verr_cb, &v);
    int res = xmlSchemaValidateDoc(vc, doc);
    xmlSchemaFreeValidCtxt(vc);
    if (res != 0)
        return err_set(ei, ERR_XML, "line %d: document does not validate against the schema: %s",
                       v.line, v.set ? v.msg : "internal validation failure");
    return ERR_OK;
}

enum err caom_schema_validate(const struct caom_schema *s, const char *buf, size_t len,
                              struct err_info *ei)
{
    xmlDoc *doc = NULL;
    enum err rc = parse_doc(buf, len, "<document>", &doc, ei);
    if (rc)
        return rc;
    rc = validate_doc(s, doc, ei);
    xmlFreeDoc(doc);
    return rc;
}

enum err caom_xml_read_valid(const struct caom_schema *s, const char *buf, size_t len,
                             const char *name, struct caom_observation **out, struct err_info *ei)
{
    xmlDoc *doc = NULL;
    if (!name)
        name = "<document>";
    enum err rc = parse_doc(buf, len, name, &doc, ei);
    if (rc)
        return rc;
    xmlNode *root = xmlDocGetRootElement(doc);
    bool v24 = root && root->ns && strcmp((const char *)root->ns->href, CAOM_XML_NS_24) == 0;
    rc = v24 ? validate_doc(s, doc, ei) : ERR_OK;
    if (rc) {
        xmlFreeDoc(doc);
        return rc;
    }
    return read_doc(doc, name, out, ei);
}

enum err caom_xml_validate(const char *buf, size_t len, const char *xsd_path,
                           struct err_info *ei)
{
    struct caom_schema *s = NULL;
    enum err rc = caom_schema_load(xsd_path, &s, ei);
    if (rc)
        return rc;
    rc = caom_schema_validate(s, buf, len, ei);
    caom_schema_free(s);
    return rc;
}
