/* cmd_registry.c - obsflow registry VERB ...: the dataset registry of obsflowd with the verbs
 * Butler users know (query-datasets, query-collections, collection-chain, certify-calibrations,
 * decertify, ingest-files, remove-runs); thin adapters over /v1/datasets, /v1/registry/... and
 * /v1/calibrations/... SPDX-License-Identifier: Apache-2.0 */
#include "client.h"

#include "core/buf.h"
#include "core/str.h"
#include "httpc/httpc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REG_CLI_ARGS_MAX  64      /* positional arguments */
#define REG_CLI_BATCH     1000    /* datasets registered per request by ingest-files */
#define REG_CLI_LINE_MAX  8192    /* bytes of one line of an ingest table */
#define REG_CLI_LINES_MAX 1000000 /* lines of an ingest table */

int cli_cmd_registry(int argc, char **argv);
extern const char cli_help_registry[];
const char cli_help_registry[] =
    "the dataset registry: query-datasets, query-collections, collection-chain, "
    "certify-calibrations, decertify, ingest-files, remove-runs";

static const char usage[] =
    "usage: obsflow registry query-datasets TYPE --collections C[,C...] [--where EXPR]\n"
    "                        [--find-first] [--limit N] [--json]\n"
    "       obsflow registry query-collections [GLOB] [--collection-type T]\n"
    "                        [--chains table|flatten] [--json]\n"
    "       obsflow registry collection-chain PARENT [CHILD...]\n"
    "                        [--mode redefine|extend|prepend|remove] [--json]\n"
    "       obsflow registry certify-calibrations INPUT OUTPUT TYPE [--begin-date T]\n"
    "                        [--end-date T] [--json]\n"
    "       obsflow registry decertify COLLECTION TYPE [--begin-date T] [--end-date T] [--json]\n"
    "       obsflow registry ingest-files TYPE RUN TABLE|- [--json]\n"
    "       obsflow registry remove-runs RUN... [--force] [--json]\n"
    "       obsflow registry associate TAGGED DATASET_ID... [--disassociate] [--json]\n"
    "       obsflow registry find-calibration TYPE --collections C[,C...] key=value... \n"
    "                        [--begin-date T --end-date T] [--json]\n"
    "  query-datasets: one line per dataset \"<id>  <run>  <collection>  <data ID>  "
    "[<validity>]  <uri>\";\n"
    "    EXPR is the WHERE language (docs/registry.md), e.g. \"detector = 1 AND exposure IN "
    "(5, 6)\"\n"
    "  query-collections: \"<name>  <type>  <children or flattened chain>\"\n"
    "  collection-chain: define or change a CHAINED collection (the default mode redefines)\n"
    "  certify-calibrations: every TYPE dataset found in INPUT, valid in the CALIBRATION\n"
    "    collection OUTPUT over [begin, end) (ISO-8601, UTC unless an offset; absent: "
    "unbounded)\n"
    "  decertify: clear [begin, end) in COLLECTION for TYPE (ranges trimmed or split)\n"
    "  ingest-files: TABLE lines \"URI<TAB>key=value,key=value[<TAB>SIZE[<TAB>CHECKSUM]]\"\n"
    "    (# comments); registered in RUN, 1000 per transaction\n"
    "  remove-runs: remove RUNs with their datasets; refused while a dataset is an input of\n"
    "    another run's, unless --force\n"
    "  associate: tag datasets into a TAGGED collection (or take them out)\n"
    "  find-calibration: the TYPE dataset valid for a data ID (e.g. instrument=KAST detector=0\n"
    "    exposure=102: the exposure's time span) \"<id>  <collection>  [<begin>, <end>)  <uri>\";\n"
    "    ambiguous (an exposure across two ranges) is refused naming both\n" CLIENT_EXIT_CODES_HELP;


/* Options shared by the verbs. */
struct opts {
    const char *pos[REG_CLI_ARGS_MAX];
    int npos;
    const char *collections, *where, *limit, *type, *chains, *mode, *begin, *end;
    bool find_first, json, force, disassociate;
};

static int parse(int argc, char **argv, struct opts *o)
{
    static const struct {
        const char *name;
        size_t off;
    } valued[] = {
        {"--collections", offsetof(struct opts, collections)},
        {"--where", offsetof(struct opts, where)},
        {"--limit", offsetof(struct opts, limit)},
        {"--collection-type", offsetof(struct opts, type)},
        {"--chains", offsetof(struct opts, chains)},
        {"--mode", offsetof(struct opts, mode)},
        {"--begin-date", offsetof(struct opts, begin)},
        {"--end-date", offsetof(struct opts, end)},
    };
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        size_t k = 0;
        for (; k < sizeof valued / sizeof valued[0]; k++) {
            if (strcmp(a, valued[k].name) == 0) {
                break;
            }
        }
        if (k < sizeof valued / sizeof valued[0]) {
            if (i + 1 >= argc) {
                return client_usage_error("registry", "%s needs a value", a);
            }
            *(const char **)(void *)((char *)o + valued[k].off) = argv[++i];
        } else if (strcmp(a, "--find-first") == 0) {
            o->find_first = true;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--force") == 0) {
            o->force = true;
        } else if (strcmp(a, "--disassociate") == 0) {
            o->disassociate = true;
        } else if (a[0] == '-' && a[1] == '-') {
            return client_usage_error("registry", "unrecognized option \"%s\"\n%s", a, usage);
        } else if (o->npos >= REG_CLI_ARGS_MAX) {
            return client_usage_error("registry", "more than %d arguments", REG_CLI_ARGS_MAX);
        } else {
            o->pos[o->npos++] = a;
        }
    }
    return CLIENT_EXIT_OK;
}

/* Append "&key=<value percent-encoded>" (or "?key=" first). */
static int add_param(struct buf *path, const char *key, const char *value)
{
    if (!value) {
        return CLIENT_EXIT_OK;
    }
    if (buf_printf(path, "%c%s=", strchr(buf_cstr(path), '?') ? '&' : '?', key) != ERR_OK ||
        httpc_url_encode(path, value, false) != ERR_OK) {
        return client_usage_error("registry", "request too long");
    }
    return CLIENT_EXIT_OK;
}

/* "k=v,k=v" of a data ID, in the object's order. */
static void print_data_id(const json_t *did)
{
    const char *k;
    const json_t *v;
    bool first = true;
    json_object_foreach((json_t *)(uintptr_t)did, k, v)
    {
        if (json_is_integer(v)) {
            printf("%s%s=%lld", first ? "" : ",", k, (long long)json_integer_value(v));
        } else {
            printf("%s%s=%s", first ? "" : ",", k,
                   json_string_value(v) ? json_string_value(v) : "?");
        }
        first = false;
    }
}

static int
call(struct client *c, const char *method, const char *path, const json_t *body, json_t **out)
{
    char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (body && !s) {
        fprintf(stderr, "obsflow registry: out of memory\n");
        return CLIENT_EXIT_FAILED;
    }
    int rc = client_call(c, method, path, s, s ? strlen(s) : 0, NULL, out, NULL);
    free(s);
    return rc;
}

static int query_datasets(struct client *c, const struct opts *o)
{
    if (o->npos != 1 || !o->collections) {
        return client_usage_error("registry", "query-datasets takes TYPE and --collections\n%s",
                                  usage);
    }
    struct buf path;
    buf_init(&path, 16384);
    json_t *out = NULL;
    int rc = buf_puts(&path, "/v1/datasets") == ERR_OK ? CLIENT_EXIT_OK : CLIENT_EXIT_FAILED;
    if (rc == CLIENT_EXIT_OK) {
        rc = add_param(&path, "type", o->pos[0]);
    }
    if (rc == CLIENT_EXIT_OK) {
        rc = add_param(&path, "collections", o->collections);
    }
    if (rc == CLIENT_EXIT_OK) {
        rc = add_param(&path, "where", o->where);
    }
    if (rc == CLIENT_EXIT_OK) {
        rc = add_param(&path, "limit", o->limit);
    }
    if (rc == CLIENT_EXIT_OK && o->find_first) {
        rc = add_param(&path, "find_first", "true");
    }
    if (rc == CLIENT_EXIT_OK) {
        rc = call(c, "GET", buf_cstr(&path), NULL, &out);
    }
    if (rc == CLIENT_EXIT_OK && o->json) {
        client_print_json(out);
    } else if (rc == CLIENT_EXIT_OK) {
        const json_t *items = json_object_get(out, "items");
        for (size_t i = 0; i < json_array_size(items); i++) {
            const json_t *it = json_array_get(items, i);
            const json_t *val = json_object_get(it, "validity");
            const json_t *f0 = json_array_get(json_object_get(it, "files"), 0);
            printf("%s  %s  %s  ", json_string_value(json_object_get(it, "id")),
                   json_string_value(json_object_get(it, "run")),
                   json_string_value(json_object_get(it, "collection")));
            print_data_id(json_object_get(it, "data_id"));
            if (json_is_object(val)) {
                const char *b = json_string_value(json_object_get(val, "begin"));
                const char *e = json_string_value(json_object_get(val, "end"));
                printf("  [%s, %s)", b ? b : "-infinity", e ? e : "infinity");
            }
            const char *uri = json_string_value(json_object_get(f0, "uri"));
            printf("  %s\n", uri ? uri : "-");
        }
        if (json_is_true(json_object_get(out, "truncated"))) {
            fprintf(stderr, "obsflow registry: more datasets than shown (--limit)\n");
        }
    }
    json_decref(out);
    buf_free(&path);
    return rc;
}

static int query_collections(struct client *c, const struct opts *o)
{
    if (o->npos > 1) {
        return client_usage_error("registry", "query-collections takes at most one GLOB\n%s",
                                  usage);
    }
    bool flatten = o->chains && strcmp(o->chains, "flatten") == 0;
    if (o->chains && !flatten && strcmp(o->chains, "table") != 0) {
        return client_usage_error("registry", "--chains is table or flatten");
    }
    struct buf path;
    buf_init(&path, 4096);
    json_t *out = NULL;
    int rc =
        buf_puts(&path, "/v1/registry/collections") == ERR_OK ? CLIENT_EXIT_OK : CLIENT_EXIT_FAILED;
    if (rc == CLIENT_EXIT_OK) {
        rc = add_param(&path, "glob", o->npos ? o->pos[0] : NULL);
    }
    if (rc == CLIENT_EXIT_OK) {
        rc = add_param(&path, "type", o->type);
    }
    if (rc == CLIENT_EXIT_OK && flatten) {
        rc = add_param(&path, "flatten", "true");
    }
    if (rc == CLIENT_EXIT_OK) {
        rc = call(c, "GET", buf_cstr(&path), NULL, &out);
    }
    if (rc == CLIENT_EXIT_OK && o->json) {
        client_print_json(out);
    } else if (rc == CLIENT_EXIT_OK) {
        const json_t *items = json_object_get(out, "items");
        for (size_t i = 0; i < json_array_size(items); i++) {
            const json_t *it = json_array_get(items, i);
            const json_t *ch = json_object_get(it, flatten ? "flattened" : "children");
            printf("%s  %s", json_string_value(json_object_get(it, "name")),
                   json_string_value(json_object_get(it, "type")));
            if (json_is_array(ch)) {
                printf("  [");
                for (size_t k = 0; k < json_array_size(ch); k++) {
                    printf("%s%s", k ? ", " : "", json_string_value(json_array_get(ch, k)));
                }
                printf("]");
            } else {
                printf("  %lld datasets",
                       (long long)json_integer_value(json_object_get(it, "datasets")));
            }
            printf("\n");
        }
    }
    json_decref(out);
    buf_free(&path);
    return rc;
}

static int collection_chain(struct client *c, const struct opts *o)
{
    if (o->npos < 1) {
        return client_usage_error("registry", "collection-chain takes PARENT [CHILD...]\n%s",
                                  usage);
    }
    json_t *children = json_array();
    for (int i = 1; children && i < o->npos; i++) {
        json_array_append_new(children, json_string(o->pos[i]));
    }
    json_t *body = json_pack("{s:s,s:s,s:o,s:s}", "name", o->pos[0], "type", "CHAINED", "children",
                             children, "mode", o->mode ? o->mode : "redefine");
    json_t *out = NULL;
    int rc = body ? call(c, "PUT", "/v1/registry/collections", body, &out) : CLIENT_EXIT_FAILED;
    if (rc == CLIENT_EXIT_OK && o->json) {
        client_print_json(out);
    } else if (rc == CLIENT_EXIT_OK) {
        const json_t *ch = json_object_get(out, "children");
        printf("%s  [", o->pos[0]);
        for (size_t k = 0; k < json_array_size(ch); k++) {
            printf("%s%s", k ? ", " : "", json_string_value(json_array_get(ch, k)));
        }
        printf("]\n");
    }
    json_decref(out);
    json_decref(body);
    return rc;
}

static int certify(struct client *c, const struct opts *o)
{
    if (o->npos != 3) {
        return client_usage_error("registry", "certify-calibrations takes INPUT OUTPUT TYPE\n%s",
                                  usage);
    }
    json_t *body =
        json_pack("{s:s,s:s,s:s,s:s?,s:s?}", "input_collection", o->pos[0], "collection", o->pos[1],
                  "dataset_type", o->pos[2], "begin", o->begin, "end", o->end);
    json_t *out = NULL;
    int rc = body ? call(c, "POST", "/v1/calibrations/certify", body, &out) : CLIENT_EXIT_FAILED;
    if (rc == CLIENT_EXIT_OK && o->json) {
        client_print_json(out);
    } else if (rc == CLIENT_EXIT_OK) {
        printf("%lld %s certified in %s over [%s, %s)\n",
               (long long)json_integer_value(json_object_get(out, "certified")), o->pos[2],
               o->pos[1], o->begin ? o->begin : "-infinity", o->end ? o->end : "infinity");
    }
    json_decref(out);
    json_decref(body);
    return rc;
}

static int decertify(struct client *c, const struct opts *o)
{
    if (o->npos != 2) {
        return client_usage_error("registry", "decertify takes COLLECTION TYPE\n%s", usage);
    }
    json_t *body = json_pack("{s:s,s:s,s:s?,s:s?}", "collection", o->pos[0], "dataset_type",
                             o->pos[1], "begin", o->begin, "end", o->end);
    json_t *out = NULL;
    int rc = body ? call(c, "POST", "/v1/calibrations/decertify", body, &out) : CLIENT_EXIT_FAILED;
    if (rc == CLIENT_EXIT_OK && o->json) {
        client_print_json(out);
    } else if (rc == CLIENT_EXIT_OK) {
        printf("removed %lld, trimmed %lld, split %lld\n",
               (long long)json_integer_value(json_object_get(out, "removed")),
               (long long)json_integer_value(json_object_get(out, "trimmed")),
               (long long)json_integer_value(json_object_get(out, "split")));
    }
    json_decref(out);
    json_decref(body);
    return rc;
}

/* One table line into a dataset object; NULL after a message on a bad line. */
static json_t *ingest_line(char *line, const char *table, long lineno)
{
    char *field[4] = {NULL, NULL, NULL, NULL};
    int n = 0;
    for (char *p = line; n < 4;) {
        field[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab) {
            break;
        }
        *tab = '\0';
        p = tab + 1;
    }
    json_t *did = json_object();
    for (char *kv = n >= 2 ? field[1] : NULL; did && kv && *kv;) {
        char *comma = strchr(kv, ',');
        if (comma) {
            *comma = '\0';
        }
        char *eq = strchr(kv, '=');
        if (!eq || eq == kv) {
            fprintf(stderr, "obsflow registry: %s:%ld: data ID \"%s\" is not key=value\n", table,
                    lineno, kv);
            json_decref(did);
            return NULL;
        }
        *eq = '\0';
        int64_t x = 0;
        json_object_set_new(did, kv,
                            str_to_i64(eq + 1, 0, INT64_MAX, &x) == ERR_OK ? json_integer(x)
                                                                           : json_string(eq + 1));
        kv = comma ? comma + 1 : NULL;
    }
    if (n < 2 || !did || json_object_size(did) == 0) {
        fprintf(stderr, "obsflow registry: %s:%ld: want URI<TAB>key=value,...\n", table, lineno);
        json_decref(did);
        return NULL;
    }
    json_t *file = json_pack("{s:s}", "uri", field[0]);
    int64_t size = 0;
    if (n >= 3 && field[2][0]) {
        if (str_to_i64(field[2], 0, INT64_MAX, &size) != ERR_OK) {
            fprintf(stderr, "obsflow registry: %s:%ld: size \"%s\" is not a number\n", table,
                    lineno, field[2]);
            json_decref(did);
            json_decref(file);
            return NULL;
        }
        json_object_set_new(file, "size", json_integer(size));
    }
    if (n >= 4 && field[3][0]) {
        json_object_set_new(file, "checksum", json_string(field[3]));
    }
    return json_pack("{s:o,s:[o]}", "data_id", did, "files", file);
}

static int flush_batch(struct client *c, const struct opts *o, json_t *batch, long *total)
{
    if (json_array_size(batch) == 0) {
        return CLIENT_EXIT_OK;
    }
    json_t *body =
        json_pack("{s:s,s:s,s:O}", "run", o->pos[1], "dataset_type", o->pos[0], "datasets", batch);
    json_t *out = NULL;
    int rc = body ? call(c, "POST", "/v1/datasets", body, &out) : CLIENT_EXIT_FAILED;
    if (rc == CLIENT_EXIT_OK) {
        const json_t *ids = json_object_get(out, "ids");
        *total += (long)json_array_size(ids);
        if (o->json) {
            client_print_json(out);
        }
    }
    json_array_clear(batch);
    json_decref(out);
    json_decref(body);
    return rc;
}

static int ingest_files(struct client *c, const struct opts *o)
{
    if (o->npos != 3) {
        return client_usage_error("registry", "ingest-files takes TYPE RUN TABLE\n%s", usage);
    }
    const char *table = o->pos[2];
    FILE *f = strcmp(table, "-") == 0 ? stdin : fopen(table, "r");
    if (!f) {
        return client_usage_error("registry", "could not open \"%s\": %s", table, ERR_ERRNO(errno));
    }
    char line[REG_CLI_LINE_MAX];
    long lineno = 0, total = 0;
    int rc = CLIENT_EXIT_OK;
    json_t *batch = json_array();
    while (rc == CLIENT_EXIT_OK && batch && fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        if (++lineno > REG_CLI_LINES_MAX || (n == sizeof line - 1 && line[n - 1] != '\n')) {
            rc = client_usage_error("registry", "%s:%ld: line too long or too many lines", table,
                                    lineno);
            break;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
            line[--n] = '\0';
        }
        if (n == 0 || line[0] == '#') {
            continue;
        }
        json_t *ds = ingest_line(line, table, lineno);
        if (!ds) {
            rc = CLIENT_EXIT_USAGE;
            break;
        }
        json_array_append_new(batch, ds);
        if (json_array_size(batch) >= REG_CLI_BATCH) {
            rc = flush_batch(c, o, batch, &total);
        }
    }
    if (rc == CLIENT_EXIT_OK) {
        rc = flush_batch(c, o, batch, &total);
    }
    if (rc == CLIENT_EXIT_OK && !o->json) {
        printf("%ld %s registered in %s\n", total, o->pos[0], o->pos[1]);
    }
    json_decref(batch);
    if (f != stdin) {
        fclose(f);
    }
    return rc;
}

static int remove_runs(struct client *c, const struct opts *o)
{
    if (o->npos < 1) {
        return client_usage_error("registry", "remove-runs takes RUN...\n%s", usage);
    }
    json_t *runs = json_array();
    for (int i = 0; runs && i < o->npos; i++) {
        json_array_append_new(runs, json_string(o->pos[i]));
    }
    json_t *body = json_pack("{s:o,s:b}", "runs", runs, "force", o->force);
    json_t *out = NULL;
    int rc = body ? call(c, "POST", "/v1/registry/remove-runs", body, &out) : CLIENT_EXIT_FAILED;
    if (rc == CLIENT_EXIT_OK && o->json) {
        client_print_json(out);
    } else if (rc == CLIENT_EXIT_OK) {
        const json_t *names = json_object_get(out, "removed");
        for (size_t i = 0; i < json_array_size(names); i++) {
            printf("removed %s\n", json_string_value(json_array_get(names, i)));
        }
        printf("%lld datasets removed\n",
               (long long)json_integer_value(json_object_get(out, "datasets")));
    }
    json_decref(out);
    json_decref(body);
    return rc;
}

static int associate(struct client *c, const struct opts *o)
{
    if (o->npos < 2) {
        return client_usage_error("registry", "associate takes TAGGED DATASET_ID...\n%s", usage);
    }
    json_t *ids = json_array();
    for (int i = 1; ids && i < o->npos; i++) {
        json_array_append_new(ids, json_string(o->pos[i]));
    }
    json_t *body = json_pack("{s:s,s:o,s:b}", "collection", o->pos[0], "datasets", ids,
                             "disassociate", o->disassociate);
    json_t *out = NULL;
    int rc = body ? call(c, "POST", "/v1/registry/associate", body, &out) : CLIENT_EXIT_FAILED;
    if (rc == CLIENT_EXIT_OK && o->json) {
        client_print_json(out);
    } else if (rc == CLIENT_EXIT_OK) {
        printf("%lld %s %s\n",
               (long long)json_integer_value(
                   json_object_get(out, o->disassociate ? "disassociated" : "associated")),
               o->disassociate ? "disassociated from" : "associated with", o->pos[0]);
    }
    json_decref(out);
    json_decref(body);
    return rc;
}

static int find_calibration(struct client *c, const struct opts *o)
{
    if (o->npos < 2 || !o->collections) {
        return client_usage_error(
            "registry", "find-calibration takes TYPE, --collections and key=value...\n%s", usage);
    }
    struct buf path;
    buf_init(&path, 16384);
    json_t *out = NULL;
    int rc =
        buf_puts(&path, "/v1/calibrations/lookup") == ERR_OK ? CLIENT_EXIT_OK : CLIENT_EXIT_FAILED;
    if (rc == CLIENT_EXIT_OK) {
        rc = add_param(&path, "type", o->pos[0]);
    }
    if (rc == CLIENT_EXIT_OK) {
        rc = add_param(&path, "collections", o->collections);
    }
    for (int i = 1; rc == CLIENT_EXIT_OK && i < o->npos; i++) {
        char key[64];
        const char *eq = strchr(o->pos[i], '=');
        if (!eq || eq == o->pos[i] || (size_t)(eq - o->pos[i]) >= sizeof key) {
            rc = client_usage_error("registry", "\"%s\" is not key=value", o->pos[i]);
            break;
        }
        memcpy(key, o->pos[i], (size_t)(eq - o->pos[i]));
        key[eq - o->pos[i]] = '\0';
        rc = add_param(&path, key, eq + 1);
    }
    if (rc == CLIENT_EXIT_OK) {
        rc = add_param(&path, "begin", o->begin);
    }
    if (rc == CLIENT_EXIT_OK) {
        rc = add_param(&path, "end", o->end);
    }
    if (rc == CLIENT_EXIT_OK) {
        rc = call(c, "GET", buf_cstr(&path), NULL, &out);
    }
    if (rc == CLIENT_EXIT_OK && o->json) {
        client_print_json(out);
    } else if (rc == CLIENT_EXIT_OK) {
        const json_t *val = json_object_get(out, "validity");
        const json_t *f0 = json_array_get(json_object_get(out, "files"), 0);
        const char *b = json_string_value(json_object_get(val, "begin"));
        const char *e = json_string_value(json_object_get(val, "end"));
        const char *uri = json_string_value(json_object_get(f0, "uri"));
        printf("%s  %s  [%s, %s)  %s\n", json_string_value(json_object_get(out, "id")),
               json_string_value(json_object_get(out, "collection")), b ? b : "-infinity",
               e ? e : "infinity", uri ? uri : "-");
    }
    json_decref(out);
    buf_free(&path);
    return rc;
}

int cli_cmd_registry(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLIENT_EXIT_USAGE : CLIENT_EXIT_OK;
    }
    static const struct {
        const char *name;
        int (*fn)(struct client *, const struct opts *);
    } verbs[] = {
        {"query-datasets", query_datasets},
        {"query-collections", query_collections},
        {"collection-chain", collection_chain},
        {"certify-calibrations", certify},
        {"decertify", decertify},
        {"ingest-files", ingest_files},
        {"remove-runs", remove_runs},
        {"associate", associate},
        {"find-calibration", find_calibration},
    };
    size_t v = 0;
    while (v < sizeof verbs / sizeof verbs[0] && strcmp(verbs[v].name, argv[1]) != 0) {
        v++;
    }
    if (v == sizeof verbs / sizeof verbs[0]) {
        return client_usage_error("registry", "unknown verb \"%s\"\n%s", argv[1], usage);
    }
    struct opts o = {0};
    int rc = parse(argc, argv, &o);
    if (rc != CLIENT_EXIT_OK) {
        return rc;
    }
    struct client *c = client_new("registry", &rc);
    if (!c) {
        return rc;
    }
    rc = verbs[v].fn(c, &o);
    client_free(c);
    return rc;
}
