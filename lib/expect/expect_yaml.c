/* expect_yaml.c - YAML (libyaml events) to jansson values, with caps on size, depth and nodes.
 * SPDX-License-Identifier: Apache-2.0 */
#include "expect/expect.h"

#include "core/str.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

struct frame {
    json_t *container; /* object or array (owned by the stack until attached) */
    char *key;         /* pending key of an object, owned */
};

static json_t *scalar_value(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
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

/* Attach @p v (reference stolen) to the top frame, or make it the root. */
static enum err attach(struct frame *st, size_t depth, json_t **root, json_t *v,
                       const yaml_event_t *ev, struct err_info *ei)
{
    if (!v) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    if (depth == 0) {
        if (*root) {
            json_decref(v);
            return err_set(ei, ERR_PARSE, "more than one YAML document");
        }
        *root = v;
        return ERR_OK;
    }
    struct frame *f = &st[depth - 1];
    if (json_is_array(f->container)) {
        if (json_array_append_new(f->container, v) != 0) {
            return err_set(ei, ERR_NOMEM, "out of memory");
        }
        return ERR_OK;
    }
    if (!f->key) {
        /* v is a key: only scalars may be keys */
        if (!json_is_string(v)) {
            char tmp[64];
            if (json_is_integer(v)) {
                snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            } else if (json_is_real(v)) {
                snprintf(tmp, sizeof tmp, "%.17g", json_real_value(v));
            } else if (json_is_boolean(v)) {
                snprintf(tmp, sizeof tmp, "%s", json_is_true(v) ? "true" : "false");
            } else if (json_is_null(v)) {
                tmp[0] = '\0';
            } else {
                json_decref(v);
                return err_set(ei, ERR_PARSE, "line %zu column %zu: a mapping key must be a scalar",
                               ev->start_mark.line + 1, ev->start_mark.column + 1);
            }
            f->key = str_dup(tmp);
        } else {
            f->key = str_dup(json_string_value(v));
        }
        json_decref(v);
        if (!f->key) {
            return err_set(ei, ERR_NOMEM, "out of memory");
        }
        if (json_object_get(f->container, f->key)) {
            enum err rc = err_set(ei, ERR_PARSE, "line %zu column %zu: duplicate key \"%s\"",
                                  ev->start_mark.line + 1, ev->start_mark.column + 1, f->key);
            free(f->key);
            f->key = NULL;
            return rc;
        }
        return ERR_OK;
    }
    int r = json_object_set_new(f->container, f->key, v);
    free(f->key);
    f->key = NULL;
    if (r != 0) {
        return err_set(ei, ERR_PARSE, "line %zu: invalid mapping key", ev->start_mark.line + 1);
    }
    return ERR_OK;
}

enum err expect_yaml_parse(const char *text, size_t len, json_t **out, struct err_info *ei)
{
    yaml_parser_t p;
    yaml_event_t ev;
    struct frame st[EXPECT_YAML_DEPTH_MAX];
    size_t depth = 0;
    size_t nodes = 0;
    json_t *root = NULL;
    enum err rc = ERR_OK;
    bool done = false;

    if (len > EXPECT_FILE_MAX) {
        return err_set(ei, ERR_TOO_LARGE, "YAML text is larger than %zu bytes", EXPECT_FILE_MAX);
    }
    if (!yaml_parser_initialize(&p)) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    while (!done) {
        if (!yaml_parser_parse(&p, &ev)) {
            rc = err_set(ei, ERR_PARSE, "line %zu column %zu: %s", p.problem_mark.line + 1,
                         p.problem_mark.column + 1, p.problem ? p.problem : "invalid YAML");
            break;
        }
        if (++nodes > EXPECT_YAML_NODES_MAX) {
            yaml_event_delete(&ev);
            rc = err_set(ei, ERR_TOO_LARGE, "YAML has more than %d nodes", EXPECT_YAML_NODES_MAX);
            break;
        }
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
            rc = attach(st, depth, &root, scalar_value(&ev), &ev, ei);
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (depth >= EXPECT_YAML_DEPTH_MAX) {
                rc = err_set(ei, ERR_TOO_LARGE, "line %zu: YAML nested deeper than %d",
                             ev.start_mark.line + 1, EXPECT_YAML_DEPTH_MAX);
                break;
            }
            /* a container used as a mapping key is refused when it is attached */
            if (depth > 0 && json_is_object(st[depth - 1].container) && !st[depth - 1].key) {
                rc = err_set(ei, ERR_PARSE, "line %zu column %zu: a mapping key must be a scalar",
                             ev.start_mark.line + 1, ev.start_mark.column + 1);
                break;
            }
            st[depth].container =
                ev.type == YAML_SEQUENCE_START_EVENT ? json_array() : json_object();
            st[depth].key = NULL;
            if (!st[depth].container) {
                rc = err_set(ei, ERR_NOMEM, "out of memory");
                break;
            }
            depth++;
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
            depth--;
            json_t *c = st[depth].container;
            free(st[depth].key);
            st[depth].key = NULL;
            rc = attach(st, depth, &root, c, &ev, ei);
            break;
        }
        default:
            break;
        }
        yaml_event_delete(&ev);
        if (rc != ERR_OK) {
            break;
        }
    }
    while (depth > 0) {
        depth--;
        json_decref(st[depth].container);
        free(st[depth].key);
    }
    yaml_parser_delete(&p);
    if (rc != ERR_OK) {
        json_decref(root);
        return rc;
    }
    if (!root) {
        root = json_null();
    }
    *out = root;
    return ERR_OK;
}

enum err expect_yaml_load(const char *path, json_t **out, struct err_info *ei)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;
    enum err rc;
    if (!fp) {
        return err_set(ei, ERR_NOT_FOUND, "could not open file \"%s\": %s", path,
                       ERR_ERRNO(errno));
    }
    buf = malloc(EXPECT_FILE_MAX + 1);
    if (!buf) {
        fclose(fp);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    n = fread(buf, 1, EXPECT_FILE_MAX + 1, fp);
    if (ferror(fp)) {
        rc = err_set(ei, ERR_IO, "could not read file \"%s\"", path);
    } else if (n > EXPECT_FILE_MAX) {
        rc = err_set(ei, ERR_TOO_LARGE, "file \"%s\" is larger than %zu bytes", path,
                     EXPECT_FILE_MAX);
    } else {
        rc = expect_yaml_parse(buf, n, out, ei);
        if (rc != ERR_OK) {
            err_prefix(ei, "file \"%s\": ", path);
        }
    }
    free(buf);
    fclose(fp);
    return rc;
}
