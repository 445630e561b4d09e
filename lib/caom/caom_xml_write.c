/* caom_xml_write.c - CAOM-2.4 XML writer (XSD element order, prefix caom2, 2-space indent).
 * Writes text directly into a capped buffer; no libxml2 needed for output.
 * SPDX-License-Identifier: Apache-2.0 */
#include "caom/caom.h"
#include "caom/caom_int.h"
#include "core/buf.h"
#include "core/numfmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAOM_XML_WRITE_MAX (256u * 1024u * 1024u) /* cap on one written document */

struct w {
    struct buf b;             /* output */
    int depth;                /* current indentation level */
    enum err rc;              /* first error; later writes are no-ops */
    struct err_info *ei;      /* error detail */
};

static void w_grow(struct w *w, const char *s, size_t n)
{
    if (w->rc)
        return;
    w->rc = buf_append(&w->b, s, n);
}

/* Appends straight into the buffer while it has room (the writer's pieces are a few bytes
 * each, thousands per document; the terminator is written once, at the end); buf_append
 * grows it otherwise. */
static inline void w_raw(struct w *w, const char *s, size_t n)
{
    if (n < w->b.cap - w->b.len && n <= w->b.max - w->b.len && !w->rc) {
        memcpy(w->b.data + w->b.len, s, n);
        w->b.len += n;
        return;
    }
    w_grow(w, s, n);
}

static void w_puts(struct w *w, const char *s)
{
    w_raw(w, s, strlen(s));
}

static void w_indent(struct w *w)
{
    static const char spaces[] = "                                                                ";
    size_t n = (size_t)w->depth * 2;
    while (n > 0) {
        size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;
        w_raw(w, spaces, k);
        n -= k;
    }
}

/* the indentation and "<caom2:" (@p close false) or "</caom2:" in one piece (most elements are
 * less than 32 levels deep) */
static void w_indent_tag(struct w *w, bool close)
{
#define SP64 "                                                                "
    static const char open_lead[] = SP64 "<caom2:", close_lead[] = SP64 "</caom2:";
#undef SP64
    const char *lead = close ? close_lead : open_lead;
    size_t tl = close ? 8 : 7;
    size_t n = (size_t)w->depth * 2;
    if (n <= 64) {
        w_raw(w, lead + 64 - n, n + tl);
        return;
    }
    w_indent(w);
    w_raw(w, lead + 64, tl);
}

/* Bytes of the well-formed UTF-8 sequence at @p p (RFC 3629: no overlong forms, no
 * surrogates, at most U+10FFFF), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *p)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

/* 1 for the bytes written as they are in text and attributes: printable ASCII other than
 * < > & " (DEL included, as before); everything else goes through the checks below */
static const unsigned char k_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* Escape @p s as element text or attribute value. Control characters other than tab, newline
 * and carriage return cannot appear in XML 1.0 at all (not even as character references),
 * and the document is UTF-8: either is ERR_INVALID naming @p name, rather than a document no
 * reader accepts. */
static void w_escaped(struct w *w, const char *name, const char *s, bool attr)
{
    const char *run = s;
    const char *p = s;
    for (;; p++) {
        unsigned char c = (unsigned char)*p;
        if (k_plain[c]) /* printable ASCII other than < > & " is written as it is */
            continue;
        if (c == '\0')
            break;
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            if (!w->rc)
                w->rc = err_set_field(w->ei, ERR_INVALID, name,
                                      "element \"%s\": control character 0x%02x cannot be "
                                      "written in XML",
                                      name, (unsigned)c);
            return;
        }
        if (c >= 0x80) {
            size_t n = utf8_seq((const unsigned char *)p);
            if (n == 0) {
                if (!w->rc)
                    w->rc = err_set_field(w->ei, ERR_INVALID, name,
                                          "element \"%s\": invalid UTF-8 at byte 0x%02x",
                                          name, (unsigned)c);
                return;
            }
            p += n - 1;
            continue;
        }
        const char *rep = NULL;
        switch (*p) {
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '&': rep = "&amp;"; break;
        case '"': rep = attr ? "&quot;" : NULL; break;
        case '\r': rep = "&#13;"; break;
        case '\t': rep = attr ? "&#9;" : NULL; break;
        case '\n': rep = attr ? "&#10;" : NULL; break;
        default: break;
        }
        if (rep) {
            w_raw(w, run, (size_t)(p - run));
            w_puts(w, rep);
            run = p + 1;
        }
    }
    w_raw(w, run, (size_t)(p - run));
}

static void w_open(struct w *w, const char *name)
{
    w_indent_tag(w, false);
    w_puts(w, name);
    w_raw(w, ">\n", 2);
    w->depth++;
}

static void w_open_typed(struct w *w, const char *name, const char *xsi_type)
{
    w_indent_tag(w, false);
    w_puts(w, name);
    w_puts(w, " xsi:type=\"caom2:");
    w_puts(w, xsi_type);
    w_puts(w, "\">\n");
    w->depth++;
}

static void w_close(struct w *w, const char *name)
{
    w->depth--;
    w_indent_tag(w, true);
    w_puts(w, name);
    w_raw(w, ">\n", 2);
}

static void w_text(struct w *w, const char *name, const char *val)
{
    size_t nl = strlen(name);
    w_indent_tag(w, false);
    w_raw(w, name, nl);
    w_raw(w, ">", 1);
    w_escaped(w, name, val, false);
    w_raw(w, "</caom2:", 8);
    w_raw(w, name, nl);
    w_raw(w, ">\n", 2);
}

static void w_str(struct w *w, const char *name, const char *val)
{
    if (val)
        w_text(w, name, val);
}

/* Required string: missing is ERR_INVALID naming the element. */
static void w_req(struct w *w, const char *path, const char *name, const char *val)
{
    if (!val) {
        if (!w->rc)
            w->rc = err_set_field(w->ei, ERR_INVALID, path, "required element %s is missing",
                                  path);
        return;
    }
    w_text(w, name, val);
}

/* Fast path of caom_fmt_double for the common values: plain decimals with at most 15
 * significant digits and at most 9 decimals, in the range where "%.15g" prints without an
 * exponent. When m / 10^k is exactly v, the 15-digit rounding of v is that decimal, so the
 * output is byte-identical to the snprintf loop below; anything else returns false. */
static bool fmt_double_fast(double v, char out[40])
{
    static const double p10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    double a = fabs(v);
    size_t n = 0;
    if (a == 0.0) {
        memcpy(out, signbit(v) ? "-0.0" : "0.0", signbit(v) ? 5 : 4);
        return true;
    }
    if (!(a >= 1e-4 && a < 1e15)) {
        return false;
    }
    for (int k = 0; k < 10; k++) {
        double m = nearbyint(a * p10[k]);
        if (m >= 1e15) {
            return false;
        }
        if (m / p10[k] != a) {
            continue;
        }
        uint64_t im = (uint64_t)m;
        uint64_t scale = (uint64_t)p10[k];
        uint64_t ip = im / scale;
        uint64_t fp = im % scale;
        char digits[24];
        size_t nd = 0;
        if (v < 0) {
            out[n++] = '-';
        }
        do {
            digits[nd++] = (char)('0' + ip % 10);
            ip /= 10;
        } while (ip > 0);
        while (nd > 0) {
            out[n++] = digits[--nd];
        }
        out[n++] = '.';
        if (k == 0) {
            out[n++] = '0';
        } else {
            for (int i = k - 1; i >= 0; i--) {
                digits[i] = (char)('0' + fp % 10);
                fp /= 10;
            }
            memcpy(out + n, digits, (size_t)k);
            n += (size_t)k;
        }
        out[n] = '\0';
        return true;
    }
    return false;
}

/* Exact path of caom_fmt_double for the values in the fixed-notation range that have more
 * digits than the fast path takes (MJDs, geocentric metres, computed WCS values): the
 * "%.15g".."%.17g" roundings (numfmt_round) and their read-back test done in 128-bit integers
 * on the double's own bits, so the result is the snprintf/strtod loop's byte for byte without
 * calling either.
 * An exact tie in a rounding or in the read-back, or the lowest mantissa of a binade (its
 * rounding interval is not symmetric), returns false for the general path. */
__extension__ typedef unsigned __int128 u128;

static u128 pow10_128(int k)
{
    u128 p = 1;
    while (k-- > 0) {
        p *= 10;
    }
    return p;
}

/* decimal digits of @p q (q > 0) into @p d, most significant first; returns the count */
static size_t u64_digits(uint64_t q, char d[24])
{
    char t[24];
    size_t n = 0;
    do {
        t[n++] = (char)('0' + q % 10);
        q /= 10;
    } while (q > 0);
    for (size_t i = 0; i < n; i++) {
        d[i] = t[n - 1 - i];
    }
    return n;
}

/* "%.Pg" of digits @p q (P of them, the first non-zero) with decimal exponent @p x in the
 * fixed-notation range -4 <= x < P, trailing zeros dropped, ".0" when no fraction is left */
static void put_fixed(bool neg, uint64_t q, int x, char out[40])
{
    char d[24];
    size_t nd = u64_digits(q, d);
    size_t n = 0;
    while (nd > 1 && d[nd - 1] == '0') {
        nd--;
    }
    if (neg) {
        out[n++] = '-';
    }
    if (x >= 0) {
        size_t ip = (size_t)x + 1;
        for (size_t i = 0; i < ip; i++) {
            out[n++] = i < nd ? d[i] : '0';
        }
        out[n++] = '.';
        if (nd <= ip) {
            out[n++] = '0';
        } else {
            memcpy(out + n, d + ip, nd - ip);
            n += nd - ip;
        }
    } else {
        out[n++] = '0';
        out[n++] = '.';
        for (int i = -1; i > x; i--) {
            out[n++] = '0';
        }
        memcpy(out + n, d, nd);
        n += nd;
    }
    out[n] = '\0';
}

static bool fmt_double_exact(double v, char out[40])
{
    double a = fabs(v);
    if (!(a >= 1e-4 && a < 1e15)) {
        return false;
    }
    uint64_t bits;
    memcpy(&bits, &a, sizeof bits);
    uint64_t f = (bits & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1) << 52);
    int s = 1075 - (int)((bits >> 52) & 0x7ff); /* a = f / 2^s exactly, 3 <= s <= 66 */
    if (f == (UINT64_C(1) << 52)) {
        return false;
    }
    for (int P = 15; P <= 17; P++) {
        uint64_t q = 0;
        int x = 0;
        if (!numfmt_round(a, P, &q, &x) || x < -4 || x >= P) {
            return false;
        }
        /* reads back as a when |q / 10^k - f / 2^s| < 1 / 2^(s+1), i.e.
         * |q * 2^(s+1) - 2 f 10^k| < 10^k */
        u128 pk = pow10_128(P - 1 - x);
        u128 lhs = (u128)q << (s + 1);
        u128 rhs = ((u128)f * pk) << 1;
        u128 d = lhs > rhs ? lhs - rhs : rhs - lhs;
        if (d == pk) {
            return false;
        }
        if (d < pk) {
            put_fixed(v < 0, q, x, out);
            return true;
        }
    }
    return false;
}

/* Values below 1e-4 ("%.15g" writes them with an exponent) that are a decimal of at most 15
 * significant digits: m / 10^j == |v| exactly proves it (both exact doubles, j <= 22), and
 * then "%.15g" prints m's digits. */
static bool fmt_double_small(double v, char out[40])
{
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    double a = fabs(v);
    if (!(a >= 1e-22 && a < 1e-4)) {
        return false;
    }
    int x = (int)floor(log10(a));
    for (int j = -x - 1; j <= 22; j++) {
        if (j < 0) {
            continue;
        }
        double m = nearbyint(a * p10[j]);
        if (m >= 1e15) {
            return false;
        }
        if (m < 1.0 || m / p10[j] != a) {
            continue;
        }
        char d[24];
        size_t nd = u64_digits((uint64_t)m, d);
        int ex = (int)nd - 1 - j;
        if (ex >= -4) {
            return false;
        }
        while (nd > 1 && d[nd - 1] == '0') {
            nd--;
        }
        size_t n = 0;
        if (v < 0) {
            out[n++] = '-';
        }
        out[n++] = d[0];
        if (nd > 1) {
            out[n++] = '.';
            memcpy(out + n, d + 1, nd - 1);
            n += nd - 1;
        }
        out[n++] = 'e';
        out[n++] = '-';
        int ax = -ex;
        if (ax >= 100) {
            out[n++] = (char)('0' + ax / 100);
        }
        out[n++] = (char)('0' + ax / 10 % 10);
        out[n++] = (char)('0' + ax % 10);
        out[n] = '\0';
        return true;
    }
    return false;
}

/* Shortest of "%.15g".."%.17g" that reads back as v, kept floating point ("1.0") as Java's
 * Double.toString is; the fast and exact paths above cover most values without
 * snprintf/strtod. */
void caom_fmt_double(double v, char out[40])
{
    if (isnan(v)) {
        snprintf(out, 40, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, 40, v > 0 ? "INF" : "-INF");
        return;
    }
    if (fmt_double_fast(v, out) || fmt_double_exact(v, out) || fmt_double_small(v, out)) {
        return;
    }
    caom__fmt_double_slow(v, out);
}

void caom__fmt_double_slow(double v, char out[40])
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, 40, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            break;
    }
    /* keep it recognisably floating point, as Java's Double.toString does */
    size_t n = strlen(out);
    if (!strpbrk(out, ".eEn") && n + 2 < 40)
        memcpy(out + n, ".0", 3);
}

static void w_dval(struct w *w, const char *name, double v)
{
    char tmp[40];
    caom_fmt_double(v, tmp);
    w_text(w, name, tmp);
}

static void w_d(struct w *w, const char *name, struct caom_optd v)
{
    if (v.set)
        w_dval(w, name, v.v);
}

static void w_lval(struct w *w, const char *name, int64_t v)
{
    char tmp[32];
    char *p = tmp + sizeof tmp - 1;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v; /* INT64_MIN too */
    *p = '\0';
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (v < 0)
        *--p = '-';
    w_text(w, name, p);
}

static void w_i(struct w *w, const char *name, struct caom_opti v)
{
    if (v.set)
        w_lval(w, name, v.v);
}

static void w_l(struct w *w, const char *name, struct caom_optl v)
{
    if (v.set)
        w_lval(w, name, v.v);
}

static void w_b(struct w *w, const char *name, enum caom_bool v)
{
    if (v != CAOM_BOOL_UNSET)
        w_text(w, name, v == CAOM_BOOL_TRUE ? "true" : "false");
}

static void w_date(struct w *w, const char *name, struct caom_optdate v)
{
    if (v.set) {
        char tmp[32];
        caom_date_format(v.ms, tmp);
        w_text(w, name, tmp);
    }
}

static void w_strlist(struct w *w, const char *name, const char *item,
                      const struct caom_strlist *l)
{
    if (l->n == 0)
        return;
    w_open(w, name);
    for (size_t i = 0; i < l->n; i++)
        w_text(w, item, l->v[i]);
    w_close(w, name);
}

static void w_entity_attrs(struct w *w, const struct caom_entity *e)
{
    char tmp[40];
    caom_uuid_format(e->id, tmp);
    w_puts(w, " caom2:id=\"");
    w_puts(w, tmp);
    w_puts(w, "\"");
    if (e->last_modified.set) {
        caom_date_format(e->last_modified.ms, tmp);
        w_puts(w, " caom2:lastModified=\"");
        w_puts(w, tmp);
        w_puts(w, "\"");
    }
    if (e->max_last_modified.set) {
        caom_date_format(e->max_last_modified.ms, tmp);
        w_puts(w, " caom2:maxLastModified=\"");
        w_puts(w, tmp);
        w_puts(w, "\"");
    }
    if (e->meta_checksum[0]) {
        w_puts(w, " caom2:metaChecksum=\"");
        w_escaped(w, "metaChecksum", e->meta_checksum, true);
        w_puts(w, "\"");
    }
    if (e->acc_meta_checksum[0]) {
        w_puts(w, " caom2:accMetaChecksum=\"");
        w_escaped(w, "accMetaChecksum", e->acc_meta_checksum, true);
        w_puts(w, "\"");
    }
    if (e->meta_producer) {
        w_puts(w, " caom2:metaProducer=\"");
        w_escaped(w, "metaProducer", e->meta_producer, true);
        w_puts(w, "\"");
    }
}

static void w_open_entity(struct w *w, const char *name, const struct caom_entity *e)
{
    w_indent_tag(w, false);
    w_puts(w, name);
    w_entity_attrs(w, e);
    w_puts(w, ">\n");
    w->depth++;
}

/* ---- WCS ------------------------------------------------------------------------------- */

static void w_axis(struct w *w, const char *name, const struct caom_axis *a)
{
    w_open(w, name);
    w_req(w, "axis.ctype", "ctype", a->ctype);
    w_str(w, "cunit", a->cunit);
    w_close(w, name);
}

static void w_error(struct w *w, const char *name, const struct caom_coord_error *e)
{
    if (!e)
        return;
    w_open(w, name);
    w_d(w, "syser", e->syser);
    w_d(w, "rnder", e->rnder);
    w_close(w, name);
}

static void w_refcoord(struct w *w, const char *name, const struct caom_ref_coord *r)
{
    w_open(w, name);
    w_dval(w, "pix", r->pix);
    w_dval(w, "val", r->val);
    w_close(w, name);
}

static void w_range1d(struct w *w, const char *name, const struct caom_coord_range1d *r)
{
    w_open(w, name);
    w_refcoord(w, "start", &r->start);
    w_refcoord(w, "end", &r->end);
    w_close(w, name);
}

static void w_axis1d(struct w *w, const char *name, const struct caom_coord_axis1d *a)
{
    w_open(w, name);
    w_axis(w, "axis", &a->axis);
    w_error(w, "error", a->error);
    if (a->range)
        w_range1d(w, "range", a->range);
    if (a->bounds) {
        w_open(w, "bounds");
        w_open(w, "samples");
        for (size_t i = 0; i < a->bounds->n_samples; i++)
            w_range1d(w, "range", &a->bounds->samples[i]);
        w_close(w, "samples");
        w_close(w, "bounds");
    }
    if (a->function) {
        w_open(w, "function");
        w_lval(w, "naxis", a->function->naxis);
        w_dval(w, "delta", a->function->delta);
        w_refcoord(w, "refCoord", &a->function->ref_coord);
        w_close(w, "function");
    }
    w_close(w, name);
}

static void w_coord2d(struct w *w, const char *name, const struct caom_coord2d *c)
{
    w_open(w, name);
    w_refcoord(w, "coord1", &c->coord1);
    w_refcoord(w, "coord2", &c->coord2);
    w_close(w, name);
}

static void w_vcoord2d(struct w *w, const char *name, const struct caom_value_coord2d *c)
{
    w_open(w, name);
    w_dval(w, "coord1", c->coord1);
    w_dval(w, "coord2", c->coord2);
    w_close(w, name);
}

static void w_dim2d(struct w *w, const char *name, const struct caom_dimension2d *d)
{
    w_open(w, name);
    w_lval(w, "naxis1", d->naxis1);
    w_lval(w, "naxis2", d->naxis2);
    w_close(w, name);
}

static void w_axis2d(struct w *w, const struct caom_coord_axis2d *a)
{
    w_open(w, "axis");
    w_axis(w, "axis1", &a->axis1);
    w_axis(w, "axis2", &a->axis2);
    w_error(w, "error1", a->error1);
    w_error(w, "error2", a->error2);
    if (a->range) {
        w_open(w, "range");
        w_coord2d(w, "start", &a->range->start);
        w_coord2d(w, "end", &a->range->end);
        w_close(w, "range");
    }
    if (a->bounds) {
        w_open(w, "bounds");
        if (a->bounds->kind == CAOM_BOUNDS2D_CIRCLE) {
            w_open(w, "circle");
            w_vcoord2d(w, "center", &a->bounds->circle.center);
            w_dval(w, "radius", a->bounds->circle.radius);
            w_close(w, "circle");
        } else {
            w_open(w, "polygon");
            w_open(w, "vertices");
            for (size_t i = 0; i < a->bounds->polygon.n_vertices; i++)
                w_vcoord2d(w, "vertex", &a->bounds->polygon.vertices[i]);
            w_close(w, "vertices");
            w_close(w, "polygon");
        }
        w_close(w, "bounds");
    }
    if (a->function) {
        w_open(w, "function");
        w_dim2d(w, "dimension", &a->function->dimension);
        w_coord2d(w, "refCoord", &a->function->ref_coord);
        w_d(w, "cd11", a->function->cd11);
        w_d(w, "cd12", a->function->cd12);
        w_d(w, "cd21", a->function->cd21);
        w_d(w, "cd22", a->function->cd22);
        w_close(w, "function");
    }
    w_close(w, "axis");
}

static void w_transition(struct w *w, const struct caom_energy_transition *t)
{
    if (!t)
        return;
    w_open(w, "transition");
    w_req(w, "transition.species", "species", t->species);
    w_req(w, "transition.transition", "transition", t->transition);
    w_close(w, "transition");
}

static void w_slice(struct w *w, const char *name, const struct caom_slice *s)
{
    w_open(w, name);
    w_axis(w, "axis", &s->axis);
    w_lval(w, "bin", s->bin);
    w_close(w, name);
}

static void w_chunk(struct w *w, const struct caom_chunk *c)
{
    w_open_entity(w, "chunk", &c->e);
    w_str(w, "productType", c->product_type);
    w_i(w, "naxis", c->naxis);
    w_i(w, "observableAxis", c->observable_axis);
    w_i(w, "positionAxis1", c->position_axis1);
    w_i(w, "positionAxis2", c->position_axis2);
    w_i(w, "energyAxis", c->energy_axis);
    w_i(w, "timeAxis", c->time_axis);
    w_i(w, "polarizationAxis", c->polarization_axis);
    w_i(w, "customAxis", c->custom_axis);
    if (c->observable) {
        w_open(w, "observable");
        w_slice(w, "dependent", &c->observable->dependent);
        if (c->observable->independent)
            w_slice(w, "independent", c->observable->independent);
        w_close(w, "observable");
    }
    if (c->position) {
        w_open(w, "position");
        w_axis2d(w, &c->position->axis);
        w_str(w, "coordsys", c->position->coordsys);
        w_d(w, "equinox", c->position->equinox);
        w_d(w, "resolution", c->position->resolution);
        w_close(w, "position");
    }
    if (c->energy) {
        const struct caom_spectral_wcs *e = c->energy;
        w_open(w, "energy");
        w_axis1d(w, "axis", &e->axis);
        w_req(w, "chunk.energy.specsys", "specsys", e->specsys);
        w_str(w, "ssysobs", e->ssysobs);
        w_str(w, "ssyssrc", e->ssyssrc);
        w_d(w, "restfrq", e->restfrq);
        w_d(w, "restwav", e->restwav);
        w_d(w, "velosys", e->velosys);
        w_d(w, "zsource", e->zsource);
        w_d(w, "velang", e->velang);
        w_str(w, "bandpassName", e->bandpass_name);
        w_d(w, "resolvingPower", e->resolving_power);
        w_transition(w, e->transition);
        w_close(w, "energy");
    }
    if (c->time) {
        const struct caom_temporal_wcs *t = c->time;
        w_open(w, "time");
        w_axis1d(w, "axis", &t->axis);
        w_str(w, "timesys", t->timesys);
        w_str(w, "trefpos", t->trefpos);
        w_d(w, "mjdref", t->mjdref);
        w_d(w, "exposure", t->exposure);
        w_d(w, "resolution", t->resolution);
        w_close(w, "time");
    }
    if (c->polarization) {
        w_open(w, "polarization");
        w_axis1d(w, "axis", &c->polarization->axis);
        w_close(w, "polarization");
    }
    if (c->custom) {
        w_open(w, "custom");
        w_axis1d(w, "axis", &c->custom->axis);
        w_close(w, "custom");
    }
    w_close(w, "chunk");
}

/* ---- plane computed ------------------------------------------------------------------ */

static void w_interval(struct w *w, const char *name, const struct caom_interval *i)
{
    if (!i)
        return;
    w_open(w, name);
    w_dval(w, "lower", i->lower);
    w_dval(w, "upper", i->upper);
    w_close(w, name);
}

static void w_sinterval(struct w *w, const char *name, const struct caom_sampled_interval *s)
{
    if (!s)
        return;
    w_open(w, name);
    w_dval(w, "lower", s->lower);
    w_dval(w, "upper", s->upper);
    w_open(w, "samples");
    for (size_t i = 0; i < s->n_samples; i++)
        w_interval(w, "sample", &s->samples[i]);
    w_close(w, "samples");
    w_close(w, name);
}

static void w_point(struct w *w, const char *name, const struct caom_point *p)
{
    w_open(w, name);
    w_dval(w, "cval1", p->cval1);
    w_dval(w, "cval2", p->cval2);
    w_close(w, name);
}

static void w_position(struct w *w, const struct caom_position *p)
{
    w_open(w, "position");
    if (p->bounds) {
        if (p->bounds->kind == CAOM_SHAPE_CIRCLE) {
            w_open_typed(w, "bounds", "Circle");
            w_point(w, "center", &p->bounds->circle.center);
            w_dval(w, "radius", p->bounds->circle.radius);
        } else {
            const struct caom_polygon *g = &p->bounds->polygon;
            w_open_typed(w, "bounds", "Polygon");
            w_open(w, "points");
            for (size_t i = 0; i < g->n_points; i++)
                w_point(w, "point", &g->points[i]);
            w_close(w, "points");
            w_open(w, "samples");
            w_open(w, "vertices");
            for (size_t i = 0; i < g->n_samples; i++) {
                w_open(w, "vertex");
                w_dval(w, "cval1", g->samples[i].cval1);
                w_dval(w, "cval2", g->samples[i].cval2);
                w_lval(w, "type", (int64_t)g->samples[i].type);
                w_close(w, "vertex");
            }
            w_close(w, "vertices");
            w_close(w, "samples");
        }
        w_close(w, "bounds");
    }
    if (p->dimension)
        w_dim2d(w, "dimension", p->dimension);
    w_d(w, "resolution", p->resolution);
    w_interval(w, "resolutionBounds", p->resolution_bounds);
    w_d(w, "sampleSize", p->sample_size);
    w_b(w, "timeDependent", p->time_dependent);
    w_close(w, "position");
}

static void w_energy(struct w *w, const struct caom_energy *e)
{
    w_open(w, "energy");
    w_sinterval(w, "bounds", e->bounds);
    w_l(w, "dimension", e->dimension);
    w_d(w, "resolvingPower", e->resolving_power);
    w_interval(w, "resolvingPowerBounds", e->resolving_power_bounds);
    w_d(w, "sampleSize", e->sample_size);
    w_str(w, "bandpassName", e->bandpass_name);
    if (e->n_bands > 0) {
        w_open(w, "energyBands");
        for (size_t i = 0; i < e->n_bands; i++) {
            const char *nm = caom_energy_band_name(e->bands[i]);
            if (nm)
                w_text(w, "emBand", nm);
        }
        w_close(w, "energyBands");
    }
    w_d(w, "restwav", e->restwav);
    w_transition(w, e->transition);
    w_close(w, "energy");
}

static void w_time(struct w *w, const struct caom_time *t)
{
    w_open(w, "time");
    w_sinterval(w, "bounds", t->bounds);
    w_l(w, "dimension", t->dimension);
    w_d(w, "resolution", t->resolution);
    w_interval(w, "resolutionBounds", t->resolution_bounds);
    w_d(w, "sampleSize", t->sample_size);
    w_d(w, "exposure", t->exposure);
    w_close(w, "time");
}

static void w_plane(struct w *w, const struct caom_plane *p)
{
    w_open_entity(w, "plane", &p->e);
    w_req(w, "plane.productID", "productID", p->product_id);
    w_str(w, "creatorID", p->creator_id);
    w_date(w, "metaRelease", p->meta_release);
    w_strlist(w, "metaReadGroups", "groupURI", &p->meta_read_groups);
    w_date(w, "dataRelease", p->data_release);
    w_strlist(w, "dataReadGroups", "groupURI", &p->data_read_groups);
    w_str(w, "dataProductType", p->data_product_type);
    w_i(w, "calibrationLevel", p->calibration_level);
    if (p->provenance) {
        const struct caom_provenance *v = p->provenance;
        w_open(w, "provenance");
        w_req(w, "plane.provenance.name", "name", v->name);
        w_str(w, "version", v->version);
        w_str(w, "project", v->project);
        w_str(w, "producer", v->producer);
        w_str(w, "runID", v->run_id);
        w_str(w, "reference", v->reference);
        w_date(w, "lastExecuted", v->last_executed);
        w_strlist(w, "keywords", "keyword", &v->keywords);
        w_strlist(w, "inputs", "planeURI", &v->inputs);
        w_close(w, "provenance");
    }
    if (p->observable_ucd) {
        w_open(w, "observable");
        w_text(w, "ucd", p->observable_ucd);
        w_close(w, "observable");
    }
    if (p->metrics) {
        const struct caom_metrics *m = p->metrics;
        w_open(w, "metrics");
        w_d(w, "sourceNumberDensity", m->source_number_density);
        w_d(w, "background", m->background);
        w_d(w, "backgroundStddev", m->background_stddev);
        w_d(w, "fluxDensityLimit", m->flux_density_limit);
        w_d(w, "magLimit", m->mag_limit);
        w_d(w, "sampleSNR", m->sample_snr);
        w_close(w, "metrics");
    }
    if (p->quality == CAOM_QUALITY_JUNK) {
        w_open(w, "quality");
        w_text(w, "flag", "junk");
        w_close(w, "quality");
    }
    if (p->position)
        w_position(w, p->position);
    if (p->energy)
        w_energy(w, p->energy);
    if (p->time)
        w_time(w, p->time);
    if (p->polarization) {
        w_open(w, "polarization");
        if (p->polarization->n_states > 0) {
            w_open(w, "states");
            for (size_t i = 0; i < p->polarization->n_states; i++) {
                const char *nm = caom_pol_state_name(p->polarization->states[i]);
                if (nm)
                    w_text(w, "state", nm);
            }
            w_close(w, "states");
        }
        w_l(w, "dimension", p->polarization->dimension);
        w_close(w, "polarization");
    }
    if (p->custom) {
        w_open(w, "custom");
        w_req(w, "plane.custom.ctype", "ctype", p->custom->ctype);
        w_sinterval(w, "bounds", p->custom->bounds);
        w_l(w, "dimension", p->custom->dimension);
        w_close(w, "custom");
    }
    if (p->n_artifacts > 0) {
        w_open(w, "artifacts");
        for (size_t i = 0; i < p->n_artifacts; i++) {
            const struct caom_artifact *a = p->artifacts[i];
            w_open_entity(w, "artifact", &a->e);
            w_req(w, "artifact.uri", "uri", a->uri);
            w_req(w, "artifact.productType", "productType", a->product_type);
            w_req(w, "artifact.releaseType", "releaseType",
                  caom_release_type_name(a->release_type));
            w_date(w, "contentRelease", a->content_release);
            w_strlist(w, "contentReadGroups", "groupURI", &a->content_read_groups);
            w_str(w, "contentType", a->content_type);
            w_l(w, "contentLength", a->content_length);
            w_str(w, "contentChecksum", a->content_checksum);
            if (a->n_parts > 0) {
                w_open(w, "parts");
                for (size_t j = 0; j < a->n_parts; j++) {
                    const struct caom_part *pt = a->parts[j];
                    w_open_entity(w, "part", &pt->e);
                    w_req(w, "part.name", "name", pt->name);
                    w_str(w, "productType", pt->product_type);
                    if (pt->n_chunks > 0) {
                        w_open(w, "chunks");
                        for (size_t k = 0; k < pt->n_chunks; k++)
                            w_chunk(w, pt->chunks[k]);
                        w_close(w, "chunks");
                    }
                    w_close(w, "part");
                }
                w_close(w, "parts");
            }
            w_close(w, "artifact");
        }
        w_close(w, "artifacts");
    }
    w_close(w, "plane");
}

enum err caom_xml_write(const struct caom_observation *o, char **out, size_t *out_len,
                        struct err_info *ei)
{
    struct w w = {.depth = 0, .rc = ERR_OK, .ei = ei};
    buf_init(&w.b, CAOM_XML_WRITE_MAX);
    w.rc = buf_reserve(&w.b, 16384); /* most documents fit: no regrowth */
    w_puts(&w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    w_puts(&w, "<caom2:Observation xmlns:caom2=\"" CAOM_XML_NS_24 "\" xmlns:xsi=\"" CAOM_XML_NS_XSI
               "\" xsi:type=\"caom2:");
    w_puts(&w, o->kind == CAOM_OBS_DERIVED ? "DerivedObservation" : "SimpleObservation");
    w_puts(&w, "\"");
    w_entity_attrs(&w, &o->e);
    w_puts(&w, ">\n");
    w.depth = 1;
    w_req(&w, "observation.collection", "collection", o->collection);
    w_req(&w, "observation.observationID", "observationID", o->observation_id);
    w_date(&w, "metaRelease", o->meta_release);
    w_strlist(&w, "metaReadGroups", "groupURI", &o->meta_read_groups);
    w_i(&w, "sequenceNumber", o->sequence_number);
    w_open(&w, "algorithm");
    w_req(&w, "observation.algorithm.name", "name", o->algorithm_name);
    w_close(&w, "algorithm");
    w_str(&w, "type", o->type);
    w_str(&w, "intent", caom_intent_name(o->intent));
    if (o->proposal) {
        w_open(&w, "proposal");
        w_req(&w, "observation.proposal.id", "id", o->proposal->id);
        w_str(&w, "pi", o->proposal->pi);
        w_str(&w, "project", o->proposal->project);
        w_str(&w, "title", o->proposal->title);
        w_strlist(&w, "keywords", "keyword", &o->proposal->keywords);
        w_close(&w, "proposal");
    }
    if (o->target) {
        const struct caom_target *t = o->target;
        w_open(&w, "target");
        w_req(&w, "observation.target.name", "name", t->name);
        w_str(&w, "targetID", t->target_id);
        w_str(&w, "type", caom_target_type_name(t->type));
        w_b(&w, "standard", t->standard);
        w_d(&w, "redshift", t->redshift);
        w_b(&w, "moving", t->moving);
        w_strlist(&w, "keywords", "keyword", &t->keywords);
        w_close(&w, "target");
    }
    if (o->target_position) {
        const struct caom_target_position *t = o->target_position;
        w_open(&w, "targetPosition");
        w_req(&w, "observation.targetPosition.coordsys", "coordsys", t->coordsys);
        w_d(&w, "equinox", t->equinox);
        w_point(&w, "coordinates", &t->coordinates);
        w_close(&w, "targetPosition");
    }
    if (o->requirements == CAOM_STATUS_FAIL) {
        w_open(&w, "requirements");
        w_text(&w, "flag", "fail");
        w_close(&w, "requirements");
    }
    if (o->telescope) {
        const struct caom_telescope *t = o->telescope;
        w_open(&w, "telescope");
        w_req(&w, "observation.telescope.name", "name", t->name);
        w_d(&w, "geoLocationX", t->geo_x);
        w_d(&w, "geoLocationY", t->geo_y);
        w_d(&w, "geoLocationZ", t->geo_z);
        w_strlist(&w, "keywords", "keyword", &t->keywords);
        w_close(&w, "telescope");
    }
    if (o->instrument) {
        w_open(&w, "instrument");
        w_req(&w, "observation.instrument.name", "name", o->instrument->name);
        w_strlist(&w, "keywords", "keyword", &o->instrument->keywords);
        w_close(&w, "instrument");
    }
    if (o->environment) {
        const struct caom_environment *e = o->environment;
        w_open(&w, "environment");
        w_d(&w, "seeing", e->seeing);
        w_d(&w, "humidity", e->humidity);
        w_d(&w, "elevation", e->elevation);
        w_d(&w, "tau", e->tau);
        w_d(&w, "wavelengthTau", e->wavelength_tau);
        w_d(&w, "ambientTemp", e->ambient_temp);
        w_b(&w, "photometric", e->photometric);
        w_close(&w, "environment");
    }
    if (o->n_planes > 0) {
        w_open(&w, "planes");
        for (size_t i = 0; i < o->n_planes; i++)
            w_plane(&w, o->planes[i]);
        w_close(&w, "planes");
    }
    if (o->kind == CAOM_OBS_DERIVED)
        w_strlist(&w, "members", "observationURI", &o->members);
    w.depth = 0;
    w_puts(&w, "</caom2:Observation>\n");
    if (w.rc) {
        enum err rc = w.rc;
        if (ei && ei->code != rc)
            err_set(ei, rc, "could not write caom xml: %s", err_code(rc));
        buf_free(&w.b);
        return rc;
    }
    w.b.data[w.b.len] = '\0'; /* w_raw leaves room for it */
    *out_len = w.b.len;
    *out = buf_take(&w.b);
    return ERR_OK;
}
