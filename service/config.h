/* config.h - obsflowd configuration: environment variables (DESIGN.md, Configuration),
 * overridden by command-line flags, validated at start (fail fast with one message).
 * Not thread-safe; built once by main. SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_SERVICE_CONFIG_H
#define OBSFLOW_SERVICE_CONFIG_H

#include "core/compiler.h"
#include "core/err.h"
#include "core/log.h"

#include <stdbool.h>

#define CONFIG_STR_MAX     1024
#define CONFIG_WORKERS_MAX 256
#define CONFIG_QUEUES_MAX  32 /* entries of OBSFLOW_QUEUES */
#define CONFIG_QUEUE_NAME  64 /* queue name: 1..64 of [A-Za-z0-9_.-] (QUEUE_NAME_MAX) */

/** One entry of OBSFLOW_QUEUES. */
struct config_queue {
    char name[CONFIG_QUEUE_NAME + 1];
    int workers; /* 1..CONFIG_WORKERS_MAX */
};

struct config {
    char database_url[CONFIG_STR_MAX]; /* OBSFLOW_DATABASE_URL / --database-url */
    char listen_host[256];             /* OBSFLOW_LISTEN host part, / --listen */
    int listen_port;                   /* 0 = any free port */
    int workers;                       /* OBSFLOW_WORKERS / --workers; default cores; 0 = no
                                          workers (an API-only replica). With OBSFLOW_QUEUES
                                          (and not 0): the sum of the queues' counts */
    int workers_given;                 /* OBSFLOW_WORKERS / --workers as given; -1 = unset */
    struct config_queue queues[CONFIG_QUEUES_MAX]; /* OBSFLOW_QUEUES "calib=2,ingest=8": each
                                          queue's concurrent jobs in this process; only these
                                          queues are claimed */
    int nqueues;                       /* 0 = unset: every queue, OBSFLOW_WORKERS threads */
    char api_token[CONFIG_STR_MAX];    /* OBSFLOW_API_TOKEN; "" = open */
    int shutdown_grace_s;              /* OBSFLOW_SHUTDOWN_GRACE (25) */
    int db_pool_size;                  /* OBSFLOW_DB_POOL (3 * cores + 1) */
    int http_threads;                  /* OBSFLOW_HTTP_THREADS (2 * cores) */
    enum log_level log_level;          /* OBSFLOW_LOG_LEVEL (info) */
    enum log_format log_format;        /* OBSFLOW_LOG_FORMAT (json) */
    char port_file[CONFIG_STR_MAX];    /* --port-file: write "host:port" once listening */
    char openapi_path[CONFIG_STR_MAX]; /* OBSFLOW_OPENAPI / --openapi; "" = search */
    char caom_collections[CONFIG_STR_MAX]; /* OBSFLOW_CAOM_COLLECTIONS ("*") */
    char caom_base[64];                    /* OBSFLOW_CAOM_BASE ("/caom2") */
    char config_dir[CONFIG_STR_MAX];       /* OBSFLOW_CONFIG_DIR ("config") */
    char caom_repo_url[CONFIG_STR_MAX];    /* OBSFLOW_CAOM_REPO_URL: ingest jobs push there;
                                              "" = the built-in repository */
    char caom_repo_token[CONFIG_STR_MAX];  /* OBSFLOW_CAOM_REPO_TOKEN ("" = none) */
    char caom_repo_cert[CONFIG_STR_MAX];   /* OBSFLOW_CAOM_REPO_CERT: client cert+key PEM */
    char data_roots[CONFIG_STR_MAX];       /* OBSFLOW_DATA_ROOTS: dirs file: inputs may read
                                              (colon-separated; "" = file: refused) */
    char reference_uri[CONFIG_STR_MAX];    /* OBSFLOW_REFERENCE_URI: the reference store of
                                              dataset jobs (file:, http(s)://, s3://; "" =
                                              none: only local references) */
    char reference_cache[CONFIG_STR_MAX];  /* OBSFLOW_REFERENCE_CACHE ("" = <work dir>/
                                              reference-cache) */
    uint64_t reference_cache_max;          /* OBSFLOW_REFERENCE_CACHE_MAX (10 GiB) */
    char work_dir[CONFIG_STR_MAX];         /* OBSFLOW_WORK_DIR: scratch of remote inputs
                                              ("" = the system temporary directory) */
    bool show_help;
    bool show_version;
};

/**
 * Fill @p cfg from the environment, then from @p argv (flags win).
 * @return ERR_OK; ERR_INVALID with a message naming the variable or flag.
 */
NODISCARD enum err config_load(struct config *cfg, int argc, char **argv, struct err_info *ei);

/**
 * Parse OBSFLOW_QUEUES ("NAME=COUNT,..."; spaces around entries allowed) into @p out (room for
 * CONFIG_QUEUES_MAX) and @p n. Names 1..64 of [A-Za-z0-9_.-], counts 1..256, no name twice,
 * counts adding up to at most 256. @return ERR_OK; ERR_INVALID (field OBSFLOW_QUEUES) with a
 * message naming the offending entry.
 */
NODISCARD enum err
config_parse_queues(const char *s, struct config_queue *out, int *n, struct err_info *ei);

/** Parse "host:port", "[v6]:port" or ":port" into @p host / @p port. */
NODISCARD enum err
config_parse_listen(const char *s, char *host, size_t cap, int *port, struct err_info *ei);

/** The usage text of obsflowd. */
extern const char config_usage[];

#endif
