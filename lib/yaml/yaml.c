/* yaml.c - libyaml events to a tree with source positions, and the tree to jansson values,
 * with caps on size, depth and nodes.
 * SPDX-License-Identifier: Apache-2.0 */
#include "yaml/yaml.h"

#include "core/str.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

struct yamlx_node {
    enum yamlx_kind kind;
    bool plain;
    size_t line, column;
    char *text; /* scalar, NUL-terminated */
    size_t len;
    struct yamlx_node **kids; /* sequence items, or mapping keys and values alternately */
    size_t nkids, cap;
};

struct yamlx_doc {
    struct yamlx_node *root;
};

static void node_free(struct yamlx_node *n)
{
    if (!n) {
        return;
    }
    for (size_t i = 0; i < n->nkids; i++) {
        node_free(n->kids[i]); /* recursion bounded by the parse's depth cap */
    }
    free(n->kids);
    free(n->text);
    free(n);
}

void yamlx_doc_destroy(struct yamlx_doc *d)
{
    if (!d) {
        return;
    }
    node_free(d->root);
    free(d);
}

static struct yamlx_node *node_new(enum yamlx_kind kind, const yaml_event_t *ev)
{
    struct yamlx_node *n = calloc(1, sizeof(*n));
    if (!n) {
        return NULL;
    }
    n->kind = kind;
    n->line = ev->start_mark.line + 1;
    n->column = ev->start_mark.column + 1;
    if (kind == YAMLX_SCALAR) {
        n->len = ev->data.scalar.length;
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        n->text = malloc(n->len + 1);
        if (!n->text) {
            free(n);
            return NULL;
        }
        memcpy(n->text, ev->data.scalar.value, n->len);
        n->text[n->len] = '\0';
    }
    return n;
}

/* Attach @p n (ownership taken, also on failure) to @p parent, or make it the root. */
static enum err attach(struct yamlx_doc *d, struct yamlx_node *parent, struct yamlx_node *n,
                       struct err_info *ei)
{
    if (!n) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    if (!parent) {
        if (d->root) {
            node_free(n);
            return err_set(ei, ERR_PARSE, "more than one YAML document");
        }
        d->root = n;
        return ERR_OK;
    }
    if (parent->nkids == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 4;
        struct yamlx_node **k = realloc(parent->kids, cap * sizeof(*k));
        if (!k) {
            node_free(n);
            return err_set(ei, ERR_NOMEM, "out of memory");
        }
        parent->kids = k;
        parent->cap = cap;
    }
    parent->kids[parent->nkids++] = n;
    return ERR_OK;
}

enum err yamlx_doc_parse(const char *text, size_t len, const struct yamlx_limits *lim,
                         struct yamlx_doc **out, struct err_info *ei)
{
    yaml_parser_t p;
    yaml_event_t ev;
    struct yamlx_node *st[YAMLX_DEPTH_MAX];
    size_t depth = 0;
    size_t nodes = 0;
    size_t max_depth = lim->max_depth < YAMLX_DEPTH_MAX ? lim->max_depth : YAMLX_DEPTH_MAX;
    enum err rc = ERR_OK;
    bool done = false;

    *out = NULL;
    if (len > lim->max_bytes) {
        return err_set(ei, ERR_TOO_LARGE, "YAML text is larger than %zu bytes", lim->max_bytes);
    }
    struct yamlx_doc *d = calloc(1, sizeof(*d));
    if (!d) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    if (!yaml_parser_initialize(&p)) {
        free(d);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    while (!done) {
        if (!yaml_parser_parse(&p, &ev)) {
            if (p.error == YAML_MEMORY_ERROR) {
                rc = err_set(ei, ERR_NOMEM, "out of memory");
            } else {
                rc = err_set(ei, ERR_PARSE, "line %zu column %zu: %s", p.problem_mark.line + 1,
                             p.problem_mark.column + 1, p.problem ? p.problem : "invalid YAML");
            }
            break;
        }
        if (++nodes > lim->max_nodes) {
            yaml_event_delete(&ev);
            rc = err_set(ei, ERR_TOO_LARGE, "YAML has more than %zu nodes", lim->max_nodes);
            break;
        }
        struct yamlx_node *top = depth ? st[depth - 1] : NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_ALIAS_EVENT:
            rc = err_set(ei, ERR_PARSE, "line %zu: YAML aliases are not supported",
                         ev.start_mark.line + 1);
            break;
        case YAML_SCALAR_EVENT:
            if (ev.data.scalar.anchor) {
                rc = err_set(ei, ERR_PARSE, "line %zu: YAML anchors are not supported",
                             ev.start_mark.line + 1);
                break;
            }
            rc = attach(d, top, node_new(YAMLX_SCALAR, &ev), ei);
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            if (depth >= max_depth) {
                rc = err_set(ei, ERR_TOO_LARGE, "line %zu: YAML nested deeper than %zu",
                             ev.start_mark.line + 1, max_depth);
                break;
            }
            struct yamlx_node *n = node_new(
                ev.type == YAML_SEQUENCE_START_EVENT ? YAMLX_SEQUENCE : YAMLX_MAPPING, &ev);
            rc = attach(d, top, n, ei);
            if (rc == ERR_OK) {
                st[depth++] = n;
            }
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
        if (rc != ERR_OK) {
            break;
        }
    }
    yaml_parser_delete(&p);
    if (rc != ERR_OK) {
        yamlx_doc_destroy(d);
        return rc;
    }
    *out = d;
    return ERR_OK;
}

const struct yamlx_node *yamlx_doc_root(const struct yamlx_doc *d)
{
    return d ? d->root : NULL;
}

enum yamlx_kind yamlx_node_kind(const struct yamlx_node *n)
{
    return n->kind;
}

size_t yamlx_node_line(const struct yamlx_node *n)
{
    return n ? n->line : 0;
}

size_t yamlx_node_column(const struct yamlx_node *n)
{
    return n ? n->column : 0;
}

const char *yamlx_scalar(const struct yamlx_node *n)
{
    return n && n->kind == YAMLX_SCALAR ? n->text : NULL;
}

size_t yamlx_scalar_len(const struct yamlx_node *n)
{
    return n && n->kind == YAMLX_SCALAR ? n->len : 0;
}

bool yamlx_scalar_plain(const struct yamlx_node *n)
{
    return n && n->kind == YAMLX_SCALAR && n->plain;
}

size_t yamlx_node_size(const struct yamlx_node *n)
{
    if (!n || n->kind == YAMLX_SCALAR) {
        return 0;
    }
    return n->kind == YAMLX_MAPPING ? n->nkids / 2 : n->nkids;
}

const struct yamlx_node *yamlx_seq_item(const struct yamlx_node *n, size_t i)
{
    return n && n->kind == YAMLX_SEQUENCE && i < n->nkids ? n->kids[i] : NULL;
}

const struct yamlx_node *yamlx_map_key(const struct yamlx_node *n, size_t i)
{
    return n && n->kind == YAMLX_MAPPING && i < n->nkids / 2 ? n->kids[2 * i] : NULL;
}

const struct yamlx_node *yamlx_map_value(const struct yamlx_node *n, size_t i)
{
    return n && n->kind == YAMLX_MAPPING && i < n->nkids / 2 ? n->kids[2 * i + 1] : NULL;
}

/* ------------------------------------------------------------------------------------------- */
/* To JSON */

static json_t *scalar_value(const struct yamlx_node *n)
{
    const char *v = n->text;
    size_t len = n->len;
    if (!n->plain) {
        return json_stringn(v, len);
    }
    if (len == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
        strcmp(v, "NULL") == 0) {
        return json_null();
    }
    if (strcmp(v, "true") == 0 || strcmp(v, "True") == 0 || strcmp(v, "TRUE") == 0) {
        return json_true();
    }
    if (strcmp(v, "false") == 0 || strcmp(v, "False") == 0 || strcmp(v, "FALSE") == 0) {
        return json_false();
    }
    int64_t i;
    if (strlen(v) == len && str_to_i64(v, INT64_MIN, INT64_MAX, &i) == ERR_OK) {
        return json_integer((json_int_t)i);
    }
    double d;
    if (strlen(v) == len && (v[0] == '-' || v[0] == '+' || v[0] == '.' ||
                             (v[0] >= '0' && v[0] <= '9')) &&
        str_to_double(v, &d) == ERR_OK) {
        return json_real(d);
    }
    return json_stringn(v, len);
}

/* The object key a scalar key node stands for: its JSON value, written back as text. */
static enum err key_text(const struct yamlx_node *k, char **out, struct err_info *ei)
{
    *out = NULL;
    if (k->kind != YAMLX_SCALAR) {
        return err_set(ei, ERR_PARSE, "line %zu column %zu: a mapping key must be a scalar",
                       k->line, k->column);
    }
    json_t *v = scalar_value(k);
    if (!v) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    char tmp[64];
    if (json_is_string(v)) {
        *out = str_dup(json_string_value(v));
    } else {
        if (json_is_integer(v)) {
            snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        } else if (json_is_real(v)) {
            snprintf(tmp, sizeof tmp, "%.17g", json_real_value(v));
        } else if (json_is_boolean(v)) {
            snprintf(tmp, sizeof tmp, "%s", json_is_true(v) ? "true" : "false");
        } else {
            tmp[0] = '\0';
        }
        *out = str_dup(tmp);
    }
    json_decref(v);
    return *out ? ERR_OK : err_set(ei, ERR_NOMEM, "out of memory");
}

enum err yamlx_node_to_json(const struct yamlx_node *n, json_t **out, struct err_info *ei)
{
    *out = NULL;
    if (!n) {
        *out = json_null();
        return ERR_OK;
    }
    if (n->kind == YAMLX_SCALAR) {
        *out = scalar_value(n);
        return *out ? ERR_OK : err_set(ei, ERR_NOMEM, "out of memory");
    }
    json_t *c = n->kind == YAMLX_SEQUENCE ? json_array() : json_object();
    if (!c) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    enum err rc = ERR_OK;
    if (n->kind == YAMLX_SEQUENCE) {
        for (size_t i = 0; i < n->nkids && rc == ERR_OK; i++) {
            json_t *v = NULL;
            rc = yamlx_node_to_json(n->kids[i], &v, ei); /* bounded by the depth cap */
            if (rc == ERR_OK && json_array_append_new(c, v) != 0) {
                rc = err_set(ei, ERR_NOMEM, "out of memory");
            }
        }
    } else {
        for (size_t i = 0; i + 1 < n->nkids && rc == ERR_OK; i += 2) {
            const struct yamlx_node *k = n->kids[i];
            char *key = NULL;
            json_t *v = NULL;
            rc = key_text(k, &key, ei);
            if (rc == ERR_OK && json_object_get(c, key)) {
                rc = err_set(ei, ERR_PARSE, "line %zu column %zu: duplicate key \"%s\"", k->line,
                             k->column, key);
            }
            if (rc == ERR_OK) {
                rc = yamlx_node_to_json(n->kids[i + 1], &v, ei);
            }
            /* keys are valid UTF-8 (libyaml checks its input): a failure is memory */
            if (rc == ERR_OK && json_object_set_new(c, key, v) != 0) {
                rc = err_set(ei, ERR_NOMEM, "out of memory");
            }
            free(key);
        }
    }
    if (rc != ERR_OK) {
        json_decref(c);
        return rc;
    }
    *out = c;
    return ERR_OK;
}

enum err yamlx_json_parse(const char *text, size_t len, const struct yamlx_limits *lim,
                          json_t **out, struct err_info *ei)
{
    struct yamlx_doc *d = NULL;
    *out = NULL;
    enum err rc = yamlx_doc_parse(text, len, lim, &d, ei);
    if (rc == ERR_OK) {
        rc = yamlx_node_to_json(d->root, out, ei);
    }
    yamlx_doc_destroy(d);
    return rc;
}
