/* cmd_repo.c - obsflow repo: the caom2 repository client (torkeep protocol, lib/repo).
 *   obsflow repo get C ID                 print the stored document
 *   obsflow repo put FILE                 create from a CAOM XML file (collection/ID from it)
 *   obsflow repo post [--if-match M] FILE replace from a CAOM XML file
 *   obsflow repo delete C ID
 *   obsflow repo list C [--maxrec N] [--start T] [--end T] [--order asc|desc]
 *                                         every row as TSV, paged as the Java RepoClient does
 *   obsflow repo push <obsflow caom build options> FILE...
 *                                         build, then create/update/replace or leave unchanged
 * Target: --url (OBSFLOW_CAOM_REPO_URL), --token (OBSFLOW_CAOM_REPO_TOKEN), --cert
 * (OBSFLOW_CAOM_REPO_CERT), --ca-file, --timeout-ms, --retries, --retry-base-ms,
 * --retry-after-cap.
 * Exit codes: 0 ok; 1 the repository refused or failed, or the build failed (one line naming
 * why); 2 usage (also an unreadable input file or a bad URL).
 * SPDX-License-Identifier: Apache-2.0 */
#include "caom_build.h"

#include "caom/caom.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/str.h"
#include "httpc/httpc.h"
#include "repo/repo.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_cmd_repo(int argc, char **argv);
extern const char cli_help_repo[];
const char cli_help_repo[] = "caom2 repository client: get, put, post, delete, list, push";

#define REPO_CLI_PAGE     10000              /* list rows per request unless --maxrec */
#define REPO_CLI_LIST_MAX ((size_t)64 << 20) /* bytes of one list page held in memory */

enum repo_cli_opt {
    OPT_URL = 256,
    OPT_TOKEN,
    OPT_CERT,
    OPT_CA_FILE,
    OPT_TIMEOUT_MS,
    OPT_RETRIES,
    OPT_RETRY_BASE_MS,
    OPT_RETRY_AFTER_CAP,
    OPT_IF_MATCH,
    OPT_MAXREC,
    OPT_START,
    OPT_END,
    OPT_ORDER,
};

static void repo_cli_usage(FILE *f)
{
    fprintf(
        f,
        "usage: obsflow repo get C ID\n"
        "       obsflow repo put FILE\n"
        "       obsflow repo post [--if-match md5:...] FILE\n"
        "       obsflow repo delete C ID\n"
        "       obsflow repo list C [--maxrec N] [--start T] [--end T] [--order asc|desc]\n"
        "       obsflow repo push --collection C [--blueprint FILE]... [--observation-id ID]\n"
        "                         [--product-id ID] [--artifact-uri URI]... [--scheme S]\n"
        "                         [--content-length N|- [--content-checksum md5:HEX]]...\n"
        "                         [--no-content] [--compute] FILE...\n"
        "target: --url URL (OBSFLOW_CAOM_REPO_URL; a base such as https://h/caom2, its\n"
        "        .../observations, or a .../capabilities URL), --token T\n"
        "        (OBSFLOW_CAOM_REPO_TOKEN), --cert PEM (OBSFLOW_CAOM_REPO_CERT), --ca-file PEM,\n"
        "        --timeout-ms MS (120000), --retries N (6), --retry-base-ms MS (30000),\n"
        "        --retry-after-cap S (128)\n"
        "list prints every row (TSV), asking for N+1 rows per request (N = 10000)\n"
        "T is yyyy-MM-ddTHH:mm:ss.SSS (UTC)\n"
        "exit codes: 0 ok, 1 refused or failed, 2 usage\n");
}

static int repo_cli_fail(const struct err_info *ei, enum err e)
{
    fprintf(stderr, "obsflow repo: %s\n", ei->msg[0] ? ei->msg : err_str(e));
    return 1;
}

static int repo_cli_usage_error(const char *what)
{
    fprintf(stderr, "obsflow repo: %s\n", what);
    return 2;
}

/* A whole number option in [min, max]; false after printing the usage error. */
static bool int_opt(const char *name, const char *v, int64_t min, int64_t max, int64_t *out)
{
    if (str_to_i64(v, min, max, out) != ERR_OK) {
        fprintf(stderr, "obsflow repo: %s must be a whole number between %lld and %lld: \"%s\"\n",
                name, (long long)min, (long long)max, v);
        return false;
    }
    return true;
}

/* Read a CAOM XML file ("-" = standard input) of at most REPO_DOC_MAX bytes into @p out. */
static enum err read_doc(const char *path, struct buf *out, struct err_info *ei)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        return err_set(ei, ERR_IO, "could not open \"%s\"", path);
    }
    enum err e = ERR_OK;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if ((e = buf_append(out, chunk, n)) != ERR_OK) {
            e = err_set(ei, e, "\"%s\" is larger than %u bytes", path, (unsigned)REPO_DOC_MAX);
            break;
        }
    }
    if (e == ERR_OK && ferror(f)) {
        e = err_set(ei, ERR_IO, "could not read \"%s\"", path);
    }
    if (f != stdin) {
        (void)fclose(f); /* read only: nothing to lose */
    }
    return e;
}

/* put/post FILE: the document's own collection and observationID name the target. */
static int cmd_write(struct repo_target *t, bool post, const char *path, const char *if_match)
{
    struct err_info ei;
    err_info_clear(&ei);
    struct buf doc;
    buf_init(&doc, (size_t)REPO_DOC_MAX);
    struct caom_observation *o = NULL;
    int rc = 2;
    enum err e = read_doc(path, &doc, &ei);
    if (e == ERR_OK) {
        e = caom_xml_read(buf_cstr(&doc), doc.len, path, &o, &ei);
    }
    if (e != ERR_OK) {
        fprintf(stderr, "obsflow repo: %s\n", ei.msg[0] ? ei.msg : err_str(e));
        goto out;
    }
    if (!o->collection || !o->observation_id) {
        fprintf(stderr, "obsflow repo: \"%s\" names no collection and observationID\n", path);
        goto out;
    }
    e = post ? repo_target_post(t, o->collection, o->observation_id, buf_cstr(&doc), doc.len,
                                if_match, &ei)
             : repo_target_put(t, o->collection, o->observation_id, buf_cstr(&doc), doc.len, &ei);
    if (e != ERR_OK) {
        rc = repo_cli_fail(&ei, e);
        goto out;
    }
    printf("%s caom:%s/%s\n", post ? "updated" : "created", o->collection, o->observation_id);
    rc = 0;
out:
    caom_observation_free(o);
    buf_free(&doc);
    return rc;
}

static int cmd_get(struct repo_target *t, const char *coll, const char *id)
{
    struct err_info ei;
    err_info_clear(&ei);
    struct repo_doc d;
    enum err e = repo_target_get(t, coll, id, &d, &ei);
    if (e != ERR_OK) {
        return repo_cli_fail(&ei, e);
    }
    int rc = 0;
    if (fwrite(d.xml, 1, d.len, stdout) != d.len || fflush(stdout) != 0) {
        fprintf(stderr, "obsflow repo: could not write the document to standard output\n");
        rc = 1;
    }
    repo_doc_free(&d);
    return rc;
}

static int cmd_delete(struct repo_target *t, const char *coll, const char *id)
{
    struct err_info ei;
    err_info_clear(&ei);
    enum err e = repo_target_delete(t, coll, id, &ei);
    if (e != ERR_OK) {
        return repo_cli_fail(&ei, e);
    }
    printf("deleted caom:%s/%s\n", coll, id);
    return 0;
}

/* The observationIDs already printed at the paging boundary timestamp. */
struct seen {
    char ts[REPO_DATE_LEN + 8];
    char **ids;
    size_t n;
    size_t cap;
};

static void seen_clear(struct seen *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->ids[i]);
    }
    s->n = 0;
}

static bool seen_has(const struct seen *s, const char *ts, const char *id)
{
    if (strcmp(s->ts, ts) != 0) {
        return false;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->ids[i], id) == 0) {
            return true;
        }
    }
    return false;
}

static bool seen_add(struct seen *s, const char *ts, const char *id)
{
    if (strcmp(s->ts, ts) != 0) {
        seen_clear(s);
        (void)str_copy(s->ts, sizeof s->ts, ts);
    }
    if (seen_has(s, ts, id)) {
        return true;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **v = realloc(s->ids, cap * sizeof *v);
        if (!v) {
            return false;
        }
        s->ids = v;
        s->cap = cap;
    }
    s->ids[s->n] = str_dup(id);
    return s->ids[s->n++] != NULL;
}

/* The observationID and maxLastModified of one list row ("collection \t observationID \t
 * maxLastModified \t accMetaChecksum") of @p ll bytes; false when malformed. */
static bool list_row(const char *p, size_t ll, char *id, size_t idcap, char *ts, size_t tscap)
{
    const char *f1 = memchr(p, '\t', ll);
    const char *f2 = f1 ? memchr(f1 + 1, '\t', (size_t)(p + ll - f1 - 1)) : NULL;
    if (!f2 || f2 == f1 + 1) {
        return false;
    }
    const char *f3 = memchr(f2 + 1, '\t', (size_t)(p + ll - f2 - 1));
    const char *ts_end = f3 ? f3 : p + ll;
    size_t idl = (size_t)(f2 - f1 - 1);
    size_t tsl = (size_t)(ts_end - f2 - 1);
    if (idl >= idcap || tsl >= tscap) {
        return false;
    }
    memcpy(id, f1 + 1, idl);
    id[idl] = '\0';
    memcpy(ts, f2 + 1, tsl);
    ts[tsl] = '\0';
    return true;
}

/* Print the rows of one page not printed before; *@p rows and *@p fresh count all and new
 * rows, @p last_ts receives the last row's maxLastModified. 0, or 1 after printing why. */
static int list_page(const struct buf *page,
                     struct seen *seen,
                     int64_t *rows,
                     int64_t *fresh,
                     char *last_ts,
                     size_t ts_cap)
{
    const char *p = page->data;
    const char *end = page->data ? page->data + page->len : NULL;
    *rows = 0;
    *fresh = 0;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *next = nl ? nl + 1 : end;
        size_t ll = (size_t)((nl ? nl : end) - p);
        if (ll > 0 && p[ll - 1] == '\r') {
            ll--;
        }
        if (ll == 0) {
            p = next;
            continue;
        }
        char id[REPO_OBSID_MAX * 3 + 1];
        if (!list_row(p, ll, id, sizeof id, last_ts, ts_cap)) {
            fprintf(stderr, "obsflow repo: malformed list row from the repository: \"%.*s\"\n",
                    (int)(ll > 200 ? 200 : ll), p);
            return 1;
        }
        (*rows)++;
        if (!seen_has(seen, last_ts, id)) {
            (void)fwrite(p, 1, ll, stdout);
            (void)fputc('\n', stdout);
            (*fresh)++;
        }
        if (!seen_add(seen, last_ts, id)) {
            fprintf(stderr, "obsflow repo: out of memory\n");
            return 1;
        }
        p = next;
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "obsflow repo: could not write to standard output\n");
        return 1;
    }
    return 0;
}

/* list: every row, page by page (ask page+1 rows; the next page starts at the last row's
 * maxLastModified; rows already printed at that timestamp are dropped; a short page ends). */
static int cmd_list(struct repo_target *t, struct repo_list_query q, int64_t page)
{
    struct err_info ei;
    err_info_clear(&ei);
    struct buf out;
    buf_init(&out, REPO_CLI_LIST_MAX);
    struct seen seen = {.n = 0};
    int rc = 1;
    q.maxrec = page + 1;
    for (;;) {
        buf_reset(&out);
        enum err e = repo_target_list(t, &q, &out, &ei);
        if (e != ERR_OK) {
            rc = repo_cli_fail(&ei, e);
            goto out;
        }
        int64_t rows = 0;
        int64_t fresh = 0;
        char last_ts[REPO_DATE_LEN + 8] = "";
        if (list_page(&out, &seen, &rows, &fresh, last_ts, sizeof last_ts) != 0) {
            goto out;
        }
        if (rows < q.maxrec) {
            break;
        }
        if (fresh == 0) {
            fprintf(stderr,
                    "obsflow repo: more than %lld observations share maxLastModified %s; list "
                    "with a larger --maxrec\n",
                    (long long)page, last_ts);
            goto out;
        }
        int64_t ms = 0;
        if (caom_date_parse(last_ts, &ms) != ERR_OK) {
            fprintf(stderr, "obsflow repo: malformed maxLastModified from the repository: \"%s\"\n",
                    last_ts);
            goto out;
        }
        if (q.desc) {
            q.has_end = true;
            q.end_ms = ms;
        } else {
            q.has_start = true;
            q.start_ms = ms;
        }
    }
    rc = 0;
out:
    seen_clear(&seen);
    free(seen.ids);
    buf_free(&out);
    return rc;
}

static int
cmd_push(struct repo_target *t, const struct caom_build *b, char *const *files, size_t nfiles)
{
    struct err_info ei;
    err_info_clear(&ei);
    struct caom_observation *o = NULL;
    enum err e = caom_build_run(b, files, nfiles, &o, &ei);
    if (e != ERR_OK) {
        return repo_cli_fail(&ei, e);
    }
    struct repo_push_result r;
    e = repo_push(t, o, &r, &ei);
    caom_observation_free(o);
    if (e != ERR_OK) {
        return repo_cli_fail(&ei, e);
    }
    printf("%s %s %s\n", repo_outcome_name(r.outcome), r.uri, r.acc_meta_checksum);
    return 0;
}

static const char *env_or(const char *v, const char *name)
{
    if (v) {
        return v;
    }
    const char *e = getenv(name);
    return e && e[0] ? e : NULL;
}

/* Everything the command line says. */
struct repo_cli {
    struct caom_build build;
    struct repo_remote_opts ro;
    const char *if_match;
    struct repo_list_query q;
    int64_t page;    /* list rows per request */
    bool build_used; /* a build option was given (push only) */
    bool list_used;  /* a list option was given (list only) */
};

/* A list option: -1 taken; otherwise the exit code (after printing why). */
static int repo_cli_list_option(struct repo_cli *c, int ch, const char *arg)
{
    int64_t ms = 0;
    if (ch == OPT_MAXREC) {
        return int_opt("--maxrec", arg, 1, REPO_LIST_MAXREC - 1, &c->page) ? -1 : 2;
    }
    if (ch == OPT_ORDER) {
        if (strcmp(arg, "asc") != 0 && strcmp(arg, "desc") != 0) {
            fprintf(stderr, "obsflow repo: --order must be asc or desc: \"%s\"\n", arg);
            return 2;
        }
        c->q.desc = strcmp(arg, "desc") == 0;
        return -1;
    }
    if (caom_date_parse(arg, &ms) != ERR_OK) {
        fprintf(stderr, "obsflow repo: %s must be yyyy-MM-ddTHH:mm:ss.SSS: \"%s\"\n",
                ch == OPT_START ? "--start" : "--end", arg);
        return 2;
    }
    if (ch == OPT_START) {
        c->q.has_start = true;
        c->q.start_ms = ms;
    } else {
        c->q.has_end = true;
        c->q.end_ms = ms;
    }
    return -1;
}

/* A target or list option. -1 taken; otherwise the exit code (after printing why). */
static int repo_cli_option(struct repo_cli *c, int ch, const char *arg)
{
    int64_t v = 0;
    switch (ch) {
    case OPT_URL:
        c->ro.url = arg;
        return -1;
    case OPT_TOKEN:
        c->ro.token = arg;
        return -1;
    case OPT_CERT:
        c->ro.cert = arg;
        return -1;
    case OPT_CA_FILE:
        c->ro.ca_file = arg;
        return -1;
    case OPT_IF_MATCH:
        c->if_match = arg;
        return -1;
    case OPT_TIMEOUT_MS:
        c->ro.timeout_ms = int_opt("--timeout-ms", arg, 1, 3600000, &v) ? (long)v : -1;
        return c->ro.timeout_ms > 0 ? -1 : 2;
    case OPT_RETRIES:
        if (!int_opt("--retries", arg, 0, 100, &v)) {
            return 2;
        }
        c->ro.retries = v == 0 ? -1 : (int)v; /* the library's 0 means its default */
        return -1;
    case OPT_RETRY_BASE_MS:
        c->ro.retry_base_ms = int_opt("--retry-base-ms", arg, 1, 3600000, &v) ? (long)v : -1;
        return c->ro.retry_base_ms > 0 ? -1 : 2;
    case OPT_RETRY_AFTER_CAP:
        c->ro.retry_after_cap_s = int_opt("--retry-after-cap", arg, 1, 3600, &v) ? (int)v : -1;
        return c->ro.retry_after_cap_s > 0 ? -1 : 2;
    case OPT_MAXREC:
    case OPT_START:
    case OPT_END:
    case OPT_ORDER:
        c->list_used = true;
        return repo_cli_list_option(c, ch, arg);
    case 'h':
        repo_cli_usage(stdout);
        return 0;
    default:
        repo_cli_usage(stderr);
        return 2;
    }
}

/* Parse the options (before or after the subcommand). -1 to go on; otherwise the exit code. */
static int repo_cli_parse(struct repo_cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {
        CAOM_BUILD_LONGOPTS,
        {"url", required_argument, NULL, OPT_URL},
        {"token", required_argument, NULL, OPT_TOKEN},
        {"cert", required_argument, NULL, OPT_CERT},
        {"ca-file", required_argument, NULL, OPT_CA_FILE},
        {"timeout-ms", required_argument, NULL, OPT_TIMEOUT_MS},
        {"retries", required_argument, NULL, OPT_RETRIES},
        {"retry-base-ms", required_argument, NULL, OPT_RETRY_BASE_MS},
        {"retry-after-cap", required_argument, NULL, OPT_RETRY_AFTER_CAP},
        {"if-match", required_argument, NULL, OPT_IF_MATCH},
        {"maxrec", required_argument, NULL, OPT_MAXREC},
        {"start", required_argument, NULL, OPT_START},
        {"end", required_argument, NULL, OPT_END},
        {"order", required_argument, NULL, OPT_ORDER},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int taken = caom_build_option(&c->build, ch, optarg, "repo");
        if (taken < 0) {
            return 2;
        }
        if (taken > 0) {
            c->build_used = true;
            continue;
        }
        int rc = repo_cli_option(c, ch, optarg);
        if (rc >= 0) {
            return rc;
        }
    }
    return -1;
}

/* The subcommands and what they take. */
enum repo_sub {
    SUB_GET,
    SUB_PUT,
    SUB_POST,
    SUB_DELETE,
    SUB_LIST,
    SUB_PUSH,
};

/* Check the subcommand against the options and arguments. -1 to go on; else the exit code. */
static int
repo_cli_check(const struct repo_cli *c, const char *name, enum repo_sub *sub, size_t nargs)
{
    static const char *const names[] = {"get", "put", "post", "delete", "list", "push"};
    size_t i = 0;
    while (i < ARRAY_LEN(names) && strcmp(names[i], name) != 0) {
        i++;
    }
    if (i == ARRAY_LEN(names)) {
        fprintf(stderr, "obsflow repo: unrecognized subcommand \"%s\"\n", name);
        repo_cli_usage(stderr);
        return 2;
    }
    *sub = (enum repo_sub)i;
    if (c->build_used && *sub != SUB_PUSH) {
        return repo_cli_usage_error("the build options are only for push");
    }
    if (c->list_used && *sub != SUB_LIST) {
        return repo_cli_usage_error("--maxrec, --start, --end and --order are only for list");
    }
    if (c->if_match && *sub != SUB_POST) {
        return repo_cli_usage_error("--if-match is only for post");
    }
    if (*sub == SUB_PUSH) {
        int rc = caom_build_check(&c->build, nargs, "repo", repo_cli_usage);
        return rc ? rc : -1;
    }
    bool two = *sub == SUB_GET || *sub == SUB_DELETE;
    if (nargs != (two ? 2u : 1u)) {
        fprintf(stderr, "obsflow repo: %s takes %s\n", name,
                two                ? "a collection and an observationID"
                : *sub == SUB_LIST ? "a collection"
                                   : "one file");
        return 2;
    }
    return -1;
}

int cli_cmd_repo(int argc, char **argv)
{
    struct repo_cli c = {.page = REPO_CLI_PAGE};
    struct repo_target *t = NULL;
    struct err_info ei;
    enum repo_sub sub = SUB_GET;
    int rc;

    err_info_clear(&ei);
    caom_build_init(&c.build, "repo");
    if ((rc = repo_cli_parse(&c, argc, argv)) >= 0) {
        return rc;
    }
    if (optind >= argc) {
        repo_cli_usage(stderr);
        return 2;
    }
    const char *name = argv[optind++];
    char **args = argv + optind;
    size_t nargs = (size_t)(argc - optind);
    if ((rc = repo_cli_check(&c, name, &sub, nargs)) >= 0) {
        return rc;
    }
    c.ro.url = env_or(c.ro.url, "OBSFLOW_CAOM_REPO_URL");
    c.ro.token = env_or(c.ro.token, "OBSFLOW_CAOM_REPO_TOKEN");
    c.ro.cert = env_or(c.ro.cert, "OBSFLOW_CAOM_REPO_CERT");
    if (!c.ro.url) {
        return repo_cli_usage_error("no repository: give --url or set OBSFLOW_CAOM_REPO_URL");
    }
    if (httpc_global_init(&ei) != ERR_OK) {
        fprintf(stderr, "obsflow repo: %s\n", ei.msg);
        return 1;
    }
    enum err e = repo_target_remote(&c.ro, &t, &ei);
    if (e != ERR_OK) {
        fprintf(stderr, "obsflow repo: %s\n", ei.msg[0] ? ei.msg : err_str(e));
        rc = e == ERR_INVALID ? 2 : 1;
        goto out;
    }
    switch (sub) {
    case SUB_GET:
        rc = cmd_get(t, args[0], args[1]);
        break;
    case SUB_DELETE:
        rc = cmd_delete(t, args[0], args[1]);
        break;
    case SUB_PUT:
        rc = cmd_write(t, false, args[0], NULL);
        break;
    case SUB_POST:
        rc = cmd_write(t, true, args[0], c.if_match);
        break;
    case SUB_LIST:
        c.q.collection = args[0];
        rc = cmd_list(t, c.q, c.page);
        break;
    case SUB_PUSH:
        rc = cmd_push(t, &c.build, args, nargs);
        break;
    }
out:
    repo_target_free(t);
    httpc_global_cleanup();
    return rc;
}
