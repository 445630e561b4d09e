/* cmd_migrate.c - `obsflow migrate`: apply the database migrations built into this binary
 * (the same runner obsflowd uses at start), under the advisory lock, then report the state.
 * Exit codes: 0 done (or --status: up to date), 1 failure (or --status: migrations pending),
 * 2 usage. SPDX-License-Identifier: Apache-2.0 */
#include "db/db.h"

#include "core/str.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_cmd_migrate(int argc, char **argv);
extern const char cli_help_migrate[];

const char cli_help_migrate[] = "apply the database migrations (OBSFLOW_DATABASE_URL)";

#define MIGRATE_CONNINFO_MAX 4200

static void migrate_usage(FILE *f)
{
    fprintf(f, "usage: obsflow migrate [--database-url URL] [--status]\n"
               "  applies migrations/NNNN_*.sql embedded in this binary, each once, in order;\n"
               "  the database comes from --database-url, else OBSFLOW_DATABASE_URL, else the\n"
               "  private cluster of `make run` (./var/pg, database obsflow)\n"
               "  --status  only report whether every migration is applied (exit 1 if not)\n");
}

/* The default of `make run`: the unix socket directory ./var/pg, database obsflow. */
static bool migrate_default_url(char *out, size_t cap)
{
    char dir[PATH_MAX];
    if (realpath("var/pg", dir) == NULL) {
        return false;
    }
    int n = snprintf(out, cap, "host=%s user=postgres dbname=obsflow", dir);
    return n > 0 && (size_t)n < cap;
}

int cli_cmd_migrate(int argc, char **argv)
{
    const char *url = NULL;
    bool status_only = false;
    char def[MIGRATE_CONNINFO_MAX];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--database-url") == 0 && i + 1 < argc) {
            url = argv[++i];
        } else if (strcmp(argv[i], "--status") == 0) {
            status_only = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            migrate_usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "obsflow migrate: unrecognized argument \"%s\"\n", argv[i]);
            migrate_usage(stderr);
            return 2;
        }
    }
    if (url == NULL) {
        url = getenv("OBSFLOW_DATABASE_URL");
    }
    if (url == NULL || url[0] == '\0') {
        if (!migrate_default_url(def, sizeof def)) {
            fprintf(stderr, "obsflow migrate: no database given: set OBSFLOW_DATABASE_URL or "
                            "pass --database-url\n");
            return 2;
        }
        url = def;
    }
    struct db_pool *pool = NULL;
    struct err_info ei;
    err_info_clear(&ei);
    int rc = 1;
    if (db_pool_create(url, 1, &pool, &ei) != ERR_OK) {
        fprintf(stderr, "obsflow migrate: %s\n", ei.msg);
        return 1;
    }
    if (status_only) {
        bool ok = false;
        if (db_migrations_applied(pool, &ok, &ei) != ERR_OK) {
            fprintf(stderr, "obsflow migrate: %s\n", ei.msg);
        } else {
            printf("%s (%d migrations in this binary)\n", ok ? "up to date" : "migrations pending",
                   db_migrations_known());
            rc = ok ? 0 : 1;
        }
    } else {
        int applied = 0;
        if (db_migrate(pool, &applied, &ei) != ERR_OK) {
            fprintf(stderr, "obsflow migrate: %s\n", ei.msg);
        } else {
            printf("applied %d migrations; database is up to date (%d known)\n", applied,
                   db_migrations_known());
            rc = 0;
        }
    }
    db_pool_destroy(pool);
    return rc;
}
