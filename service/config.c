/* config.c - environment and flags of obsflowd.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "core/str.h"
#include "refstore/refstore.h"
#include "storage/storage.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char config_usage[] =
    "usage: obsflowd [--listen HOST:PORT] [--port-file FILE] [--workers N]\n"
    "                [--database-url URL] [--shutdown-grace S] [--openapi FILE]\n"
    "                [--log-level debug|info|warn|error] [--log-format json|text]\n"
    "environment: OBSFLOW_LISTEN (127.0.0.1:8080), OBSFLOW_DATABASE_URL (the private cluster of\n"
    "  `make run`: unix socket <cwd>/var/pg, database obsflow, user postgres), OBSFLOW_WORKERS\n"
    "  (cores), OBSFLOW_API_TOKEN (unset = open), OBSFLOW_SHUTDOWN_GRACE (25), OBSFLOW_DB_POOL,\n"
    "  OBSFLOW_HTTP_THREADS, OBSFLOW_LOG_LEVEL (info), OBSFLOW_LOG_FORMAT (json),\n"
    "  OBSFLOW_CAOM_COLLECTIONS (*: the built-in repository serves any collection; NAME[:compute],...),\n"
    "  OBSFLOW_CAOM_BASE (/caom2), OBSFLOW_CONFIG_DIR (config; caom2-collections.conf read from it,\n"
    "  ingest blueprints from its blueprints/), OBSFLOW_CAOM_REPO_URL (unset = ingest jobs push to\n"
    "  the built-in repository), OBSFLOW_CAOM_REPO_TOKEN, OBSFLOW_CAOM_REPO_CERT (PEM cert+key),\n"
    "  OBSFLOW_DATA_ROOTS (dirs file: URIs may touch, colon-separated; unset = ./var/data when\n"
    "  it exists, as `make run` makes it, else none),\n"
    "  OBSFLOW_WORK_DIR (scratch of http(s)/s3 inputs; $TMPDIR or /tmp),\n"
  "  OBSFLOW_REFERENCE_URI (reference store of dataset jobs in the CRDS layout: file:DIR,\n"
  "  http(s)://..., s3://bucket/prefix; unset = local references only), OBSFLOW_REFERENCE_CACHE\n"
  "  (its local cache; <work dir>/reference-cache), OBSFLOW_REFERENCE_CACHE_MAX (10GiB),\n"
    "  OBSFLOW_QUEUES (unset = every queue on OBSFLOW_WORKERS threads; NAME=COUNT,... = only\n"
    "  these queues, each with COUNT threads of its own, e.g. calib=2,ingest=8,default=4,\n"
    "  collection=1: collection runs are jobs of the queue \"collection\");\n"
    "  collection definitions: <config dir>/collections/NAME.yaml, or PUT /v1/collections/NAME\n";

static int cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (n > 64 ? 64 : (int)n);
}

enum err config_parse_listen(const char *s, char *host, size_t cap, int *port, struct err_info *ei)
{
    const char *colon;
    const char *h = s;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') {
            return err_set_field(ei, ERR_INVALID, "OBSFLOW_LISTEN",
                                 "invalid listen address \"%.64s\": expected [v6addr]:port", s);
        }
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) {
            return err_set_field(ei, ERR_INVALID, "OBSFLOW_LISTEN",
                                 "invalid listen address \"%.64s\": expected host:port", s);
        }
        hlen = (size_t)(colon - s);
    }
    if (hlen + 1 > cap) {
        return err_set_field(ei, ERR_INVALID, "OBSFLOW_LISTEN", "listen host too long");
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (hlen == 0) {
        str_copy(host, cap, "0.0.0.0");
    }
    int64_t p = 0;
    if (str_to_i64(colon + 1, 0, 65535, &p) != ERR_OK) {
        return err_set_field(ei, ERR_INVALID, "OBSFLOW_LISTEN",
                             "invalid port \"%.16s\" in listen address: 0..65535", colon + 1);
    }
    *port = (int)p;
    return ERR_OK;
}

enum err config_parse_queues(const char *s, struct config_queue *out, int *n, struct err_info *ei)
{
    static const char name_chars[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
    const char *v = "OBSFLOW_QUEUES";
    int sum = 0;
    *n = 0;
    for (const char *p = s;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
            len--;
        }
        char entry[96];
        snprintf(entry, sizeof entry, "%.*s", (int)(len < 80 ? len : 80), p);
        if (len == 0) {
            return err_set_field(ei, ERR_INVALID, v,
                                 "%s entry %d is empty: expected NAME=COUNT[,NAME=COUNT...]", v,
                                 *n + 1);
        }
        const char *eq = memchr(p, '=', len);
        if (!eq) {
            return err_set_field(ei, ERR_INVALID, v, "%s entry \"%s\": expected NAME=COUNT", v,
                                 entry);
        }
        size_t nlen = (size_t)(eq - p);
        if (nlen == 0 || nlen > CONFIG_QUEUE_NAME || strspn(p, name_chars) != nlen) {
            return err_set_field(ei, ERR_INVALID, v,
                                 "%s entry \"%s\": the queue name must be 1 to %d characters of "
                                 "A-Z a-z 0-9 _ . -",
                                 v, entry, CONFIG_QUEUE_NAME);
        }
        char count[32];
        size_t clen = len - nlen - 1;
        int64_t c = 0;
        snprintf(count, sizeof count, "%.*s", (int)(clen < 31 ? clen : 31), eq + 1);
        if (clen == 0 || clen > 30 || str_to_i64(count, 1, CONFIG_WORKERS_MAX, &c) != ERR_OK) {
            return err_set_field(ei, ERR_INVALID, v,
                                 "%s entry \"%s\": the count must be an integer from 1 to %d", v,
                                 entry, CONFIG_WORKERS_MAX);
        }
        for (int i = 0; i < *n; i++) {
            if (strlen(out[i].name) == nlen && memcmp(out[i].name, p, nlen) == 0) {
                return err_set_field(ei, ERR_INVALID, v,
                                     "%s entry \"%s\": queue %.*s is named twice", v, entry,
                                     (int)nlen, p);
            }
        }
        if (*n == CONFIG_QUEUES_MAX) {
            return err_set_field(ei, ERR_INVALID, v, "%s entry \"%s\": more than %d queues", v,
                                 entry, CONFIG_QUEUES_MAX);
        }
        memcpy(out[*n].name, p, nlen);
        out[*n].name[nlen] = '\0';
        out[*n].workers = (int)c;
        sum += (int)c;
        (*n)++;
        if (!end) {
            break;
        }
        p = end + 1;
    }
    if (sum > CONFIG_WORKERS_MAX) {
        *n = 0;
        return err_set_field(ei, ERR_INVALID, v,
                             "%s: the counts add up to %d worker threads; at most %d", v, sum,
                             CONFIG_WORKERS_MAX);
    }
    return ERR_OK;
}

static enum err
int_setting(const char *name, const char *v, int64_t lo, int64_t hi, int *out, struct err_info *ei)
{
    int64_t n = 0;
    if (str_to_i64(v, lo, hi, &n) != ERR_OK) {
        return err_set_field(ei, ERR_INVALID, name,
                             "invalid %s \"%.32s\": an integer from %lld to %lld", name, v,
                             (long long)lo, (long long)hi);
    }
    *out = (int)n;
    return ERR_OK;
}

static enum err apply(struct config *cfg, const char *name, const char *v, struct err_info *ei)
{
    if (strcmp(name, "OBSFLOW_DATABASE_URL") == 0) {
        if (!str_copy(cfg->database_url, sizeof cfg->database_url, v)) {
            return err_set_field(ei, ERR_INVALID, name, "%s is too long", name);
        }
        return ERR_OK;
    }
    if (strcmp(name, "OBSFLOW_LISTEN") == 0) {
        return config_parse_listen(v, cfg->listen_host, sizeof cfg->listen_host, &cfg->listen_port,
                                   ei);
    }
    if (strcmp(name, "OBSFLOW_WORKERS") == 0) {
        enum err e = int_setting(name, v, 0, CONFIG_WORKERS_MAX, &cfg->workers, ei);
        cfg->workers_given = cfg->workers;
        return e;
    }
    if (strcmp(name, "OBSFLOW_QUEUES") == 0) {
        return config_parse_queues(v, cfg->queues, &cfg->nqueues, ei);
    }
    if (strcmp(name, "OBSFLOW_API_TOKEN") == 0) {
        if (v[0] == '\0') { /* a missing Secret key must not run the API open */
            return err_set_field(ei, ERR_INVALID, name,
                                 "%s is set but empty: give the token, or unset it to run the API "
                                 "without authentication",
                                 name);
        }
        if (!str_copy(cfg->api_token, sizeof cfg->api_token, v)) {
            return err_set_field(ei, ERR_INVALID, name, "%s is too long", name);
        }
        return ERR_OK;
    }
    if (strcmp(name, "OBSFLOW_SHUTDOWN_GRACE") == 0) {
        return int_setting(name, v, 0, 3600, &cfg->shutdown_grace_s, ei);
    }
    if (strcmp(name, "OBSFLOW_DB_POOL") == 0) {
        return int_setting(name, v, 1, 64, &cfg->db_pool_size, ei);
    }
    if (strcmp(name, "OBSFLOW_HTTP_THREADS") == 0) {
        return int_setting(name, v, 1, 64, &cfg->http_threads, ei);
    }
    if (strcmp(name, "OBSFLOW_LOG_LEVEL") == 0) {
        if (!log_level_parse(v, &cfg->log_level)) {
            return err_set_field(ei, ERR_INVALID, name,
                                 "unrecognized log level \"%.16s\": debug, info, warn or error", v);
        }
        return ERR_OK;
    }
    if (strcmp(name, "OBSFLOW_LOG_FORMAT") == 0) {
        if (strcmp(v, "json") == 0) {
            cfg->log_format = LOG_FORMAT_JSON;
        } else if (strcmp(v, "text") == 0) {
            cfg->log_format = LOG_FORMAT_TEXT;
        } else {
            return err_set_field(ei, ERR_INVALID, name,
                                 "unrecognized log format \"%.16s\": json or text", v);
        }
        return ERR_OK;
    }
    if (strcmp(name, "OBSFLOW_OPENAPI") == 0) {
        if (!str_copy(cfg->openapi_path, sizeof cfg->openapi_path, v)) {
            return err_set_field(ei, ERR_INVALID, name, "%s is too long", name);
        }
        return ERR_OK;
    }
    if (strcmp(name, "OBSFLOW_CAOM_COLLECTIONS") == 0) {
        if (!str_copy(cfg->caom_collections, sizeof cfg->caom_collections, v)) {
            return err_set_field(ei, ERR_INVALID, name, "%s is too long", name);
        }
        return ERR_OK;
    }
    if (strcmp(name, "OBSFLOW_CAOM_BASE") == 0) {
        size_t n = strlen(v);
        if (n < 2 || n >= sizeof cfg->caom_base || v[0] != '/' || v[n - 1] == '/' ||
            strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_-.") != n ||
            strstr(v, "//") || strcmp(v, "/v1") == 0 || strncmp(v, "/v1/", 4) == 0) {
            return err_set_field(ei, ERR_INVALID, name,
                                 "%s must be a path like /caom2 (letters, digits, _ - . /, no "
                                 "trailing slash, not under /v1)",
                                 name);
        }
        memcpy(cfg->caom_base, v, n + 1);
        return ERR_OK;
    }
    if (strcmp(name, "OBSFLOW_REFERENCE_URI") == 0) {
        struct storage_uri *u = malloc(sizeof *u);
        enum err e = u ? storage_uri_parse(v, u, ei) : ERR_NOMEM;
        bool ok = e == ERR_OK && u->scheme != STORAGE_ASTROQUERY &&
                  (u->scheme != STORAGE_FILE || u->path[0] == '/');
        free(u);
        if (!ok || !str_copy(cfg->reference_uri, sizeof cfg->reference_uri, v)) {
            return err_set_field(ei, ERR_INVALID, name,
                                 "%s=\"%.200s\" is not file:/absolute/dir, http(s)://... or "
                                 "s3://bucket[/prefix]",
                                 name, v);
        }
        return ERR_OK;
    }
    if (strcmp(name, "OBSFLOW_REFERENCE_CACHE") == 0) {
        if (!str_copy(cfg->reference_cache, sizeof cfg->reference_cache, v)) {
            return err_set_field(ei, ERR_INVALID, name, "%s is too long", name);
        }
        return ERR_OK;
    }
    if (strcmp(name, "OBSFLOW_REFERENCE_CACHE_MAX") == 0) {
        struct err_info sei;
        if (refstore_size_parse(v, &cfg->reference_cache_max, &sei) != ERR_OK) {
            return err_set_field(ei, ERR_INVALID, name, "%s: %s", name, sei.msg);
        }
        return ERR_OK;
    }
    if (strcmp(name, "OBSFLOW_CONFIG_DIR") == 0) {
        if (!str_copy(cfg->config_dir, sizeof cfg->config_dir, v)) {
            return err_set_field(ei, ERR_INVALID, name, "%s is too long", name);
        }
        return ERR_OK;
    }
    static const struct {
        const char *name;
        size_t off;
    } strs[] = {
        {"OBSFLOW_CAOM_REPO_URL", offsetof(struct config, caom_repo_url)},
        {"OBSFLOW_CAOM_REPO_TOKEN", offsetof(struct config, caom_repo_token)},
        {"OBSFLOW_CAOM_REPO_CERT", offsetof(struct config, caom_repo_cert)},
        {"OBSFLOW_DATA_ROOTS", offsetof(struct config, data_roots)},
        {"OBSFLOW_WORK_DIR", offsetof(struct config, work_dir)},
    };
    for (size_t i = 0; i < ARRAY_LEN(strs); i++) {
        if (strcmp(name, strs[i].name) == 0) {
            if (!str_copy((char *)cfg + strs[i].off, CONFIG_STR_MAX, v)) {
                return err_set_field(ei, ERR_INVALID, name, "%s is too long", name);
            }
            if (i == 0 && strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
                return err_set_field(ei, ERR_INVALID, name, "%s must be an http(s) URL", name);
            }
            return ERR_OK;
        }
    }
    if (strcmp(name, "PORT_FILE") == 0) {
        if (!str_copy(cfg->port_file, sizeof cfg->port_file, v)) {
            return err_set_field(ei, ERR_INVALID, "--port-file", "--port-file is too long");
        }
        return ERR_OK;
    }
    return err_set(ei, ERR_INTERNAL, "unhandled setting %s", name);
}

static const char *const env_names[] = {
    "OBSFLOW_DATABASE_URL",   "OBSFLOW_LISTEN",  "OBSFLOW_WORKERS",      "OBSFLOW_API_TOKEN",
    "OBSFLOW_SHUTDOWN_GRACE", "OBSFLOW_DB_POOL", "OBSFLOW_HTTP_THREADS", "OBSFLOW_LOG_LEVEL",
    "OBSFLOW_LOG_FORMAT",     "OBSFLOW_OPENAPI", "OBSFLOW_CAOM_COLLECTIONS", "OBSFLOW_CAOM_BASE",
    "OBSFLOW_CONFIG_DIR",     "OBSFLOW_CAOM_REPO_URL", "OBSFLOW_CAOM_REPO_TOKEN",
    "OBSFLOW_CAOM_REPO_CERT", "OBSFLOW_DATA_ROOTS", "OBSFLOW_WORK_DIR", "OBSFLOW_QUEUES",
    "OBSFLOW_REFERENCE_URI",  "OBSFLOW_REFERENCE_CACHE", "OBSFLOW_REFERENCE_CACHE_MAX",
};

static const struct {
    const char *flag;
    const char *setting;
} flags[] = {
    {"--database-url", "OBSFLOW_DATABASE_URL"}, {"--listen", "OBSFLOW_LISTEN"},
    {"--workers", "OBSFLOW_WORKERS"},           {"--shutdown-grace", "OBSFLOW_SHUTDOWN_GRACE"},
    {"--log-level", "OBSFLOW_LOG_LEVEL"},       {"--log-format", "OBSFLOW_LOG_FORMAT"},
    {"--openapi", "OBSFLOW_OPENAPI"},           {"--port-file", "PORT_FILE"},
};

enum err config_load(struct config *cfg, int argc, char **argv, struct err_info *ei)
{
    memset(cfg, 0, sizeof *cfg);
    str_copy(cfg->listen_host, sizeof cfg->listen_host, "127.0.0.1");
    cfg->listen_port = 8080;
    cfg->shutdown_grace_s = 25;
    cfg->workers = -1;
    cfg->workers_given = -1;
    cfg->log_level = LOG_LEVEL_INFO;
    cfg->log_format = LOG_FORMAT_JSON;
    str_copy(cfg->caom_collections, sizeof cfg->caom_collections, "*");
    str_copy(cfg->caom_base, sizeof cfg->caom_base, "/caom2");
    str_copy(cfg->config_dir, sizeof cfg->config_dir, "config");
    char cwd[CONFIG_STR_MAX - 64];
    if (!getcwd(cwd, sizeof cwd)) {
        return err_set(ei, ERR_INVALID, "could not read the working directory");
    }
    snprintf(cfg->database_url, sizeof cfg->database_url,
             "host=%s/var/pg dbname=obsflow user=postgres", cwd);
    for (size_t i = 0; i < ARRAY_LEN(env_names); i++) {
        const char *v = getenv(env_names[i]);
        if (v && (v[0] || strcmp(env_names[i], "OBSFLOW_API_TOKEN") == 0)) {
            enum err e = apply(cfg, env_names[i], v, ei);
            if (e != ERR_OK) {
                return e;
            }
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cfg->show_help = true;
            continue;
        }
        if (strcmp(a, "--version") == 0) {
            cfg->show_version = true;
            continue;
        }
        bool done = false;
        for (size_t f = 0; f < ARRAY_LEN(flags) && !done; f++) {
            size_t n = strlen(flags[f].flag);
            const char *v = NULL;
            if (strcmp(a, flags[f].flag) == 0) {
                if (i + 1 >= argc) {
                    return err_set_field(ei, ERR_INVALID, flags[f].flag, "%s needs a value",
                                         flags[f].flag);
                }
                v = argv[++i];
            } else if (strncmp(a, flags[f].flag, n) == 0 && a[n] == '=') {
                v = a + n + 1;
            } else {
                continue;
            }
            enum err e = apply(cfg, flags[f].setting, v, ei);
            if (e != ERR_OK) {
                return e;
            }
            done = true;
        }
        if (!done) {
            return err_set_field(ei, ERR_INVALID, a, "unrecognized argument \"%.64s\"", a);
        }
    }
    int nc = cores();
    if (cfg->workers < 0) {
        cfg->workers = nc;
    }
    if (cfg->nqueues > 0 && cfg->workers > 0) {
        /* each queue gets its own threads; OBSFLOW_WORKERS=0 still means no workers */
        cfg->workers = 0;
        for (int i = 0; i < cfg->nqueues; i++) {
            cfg->workers += cfg->queues[i].workers;
        }
    }
    if (cfg->http_threads == 0) {
        cfg->http_threads = 2 * nc; /* handlers block on one short query each */
    }
    if (!cfg->data_roots[0]) {
        /* the embedded default of `make run`, which creates var/data (DESIGN.md) */
        char dr[CONFIG_STR_MAX - 16];
        struct stat st;
        if (getcwd(dr, sizeof dr) && stat("var/data", &st) == 0 && S_ISDIR(st.st_mode)) {
            snprintf(cfg->data_roots, sizeof cfg->data_roots, "%s/var/data", dr);
        }
    }
    if (!cfg->work_dir[0]) {
        const char *t = getenv("TMPDIR");
        (void)str_copy(cfg->work_dir, sizeof cfg->work_dir, t && t[0] ? t : "/tmp");
    }
    if (!cfg->reference_cache[0] &&
        (size_t)snprintf(cfg->reference_cache, sizeof cfg->reference_cache, "%s/%s",
                         cfg->work_dir, REFSTORE_CACHE_SUBDIR) >= sizeof cfg->reference_cache) {
        return err_set_field(ei, ERR_INVALID, "OBSFLOW_WORK_DIR", "OBSFLOW_WORK_DIR is too long");
    }
    if (cfg->reference_cache_max == 0) {
        cfg->reference_cache_max = REFSTORE_DEFAULT_MAX;
    }
    if (cfg->db_pool_size == 0) {
        cfg->db_pool_size = 3 * nc + 1; /* sized to cores: HTTP threads plus the pool's loops */
    }
    return ERR_OK;
}
