/* db_migrate.c - apply the embedded migrations/NNNN_<what>.sql in order, each in its own
 * transaction, under a session advisory lock so concurrent starters never collide.
 * SPDX-License-Identifier: Apache-2.0 */
#include "db_int.h"

#include "core/str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Advisory lock key of the migrations runner ("obsflowm" as a 64-bit number). */
#define DB_MIGRATE_LOCK            "7957695335424503149"
#define DB_MIGRATE_LOCK_TIMEOUT_MS 120000

static const char db_mig_table_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now());"
    "COMMENT ON TABLE schema_migrations IS 'migrations/NNNN_<what>.sql applied to this database "
    "(lib/db db_migrate)';"
    "COMMENT ON COLUMN schema_migrations.version IS 'the NNNN of the file';"
    "COMMENT ON COLUMN schema_migrations.name IS 'file name';"
    "COMMENT ON COLUMN schema_migrations.applied_at IS 'when it was applied'";

int db_migrations_known(void)
{
    int n = 0;
    while (db__migrations[n].sql != NULL) {
        n++;
    }
    return n;
}

static int db_mig_latest(void)
{
    int n = db_migrations_known();
    return n > 0 ? db__migrations[n - 1].version : 0;
}

/* Is version @p v listed in @p res (one column of versions)? */
static bool db_mig_listed(const struct db_res *res, int v)
{
    for (int i = 0; i < db_res_rows(res); i++) {
        int64_t x = 0;
        const char *s = db_res_get(res, i, 0);
        if (s != NULL && str_to_i64(s, 0, INT32_MAX, &x) == ERR_OK && x == v) {
            return true;
        }
    }
    return false;
}

static enum err
db_mig_apply_one(struct db_conn *c, const struct db__migration *m, struct err_info *ei)
{
    char ver[16];
    snprintf(ver, sizeof ver, "%d", m->version);
    const char *params[] = {ver, m->name};
    enum err e = db_exec(c, NULL, "BEGIN", 0, NULL, NULL, ei);
    if (e == ERR_OK) {
        e = db_exec(c, NULL, m->sql, 0, NULL, NULL, ei);
        if (e != ERR_OK) {
            err_prefix(ei, "migration \"%s\": ", m->name);
        }
    }
    if (e == ERR_OK) {
        e = db_exec(c, NULL, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2,
                    params, NULL, ei);
    }
    if (e == ERR_OK) {
        e = db_exec(c, NULL, "COMMIT", 0, NULL, NULL, ei);
    }
    if (e != ERR_OK) {
        struct err_info ignored;
        if (db_exec(c, NULL, "ROLLBACK", 0, NULL, NULL, &ignored) != ERR_OK) {
            /* the connection is gone or broken: db_release closes it */
        }
        if (e != ERR_UNAVAILABLE) {
            e = ERR_DB;
            if (ei != NULL) {
                ei->code = ERR_DB;
            }
        }
    }
    return e;
}

enum err db_migrate(struct db_pool *pool, int *applied, struct err_info *ei)
{
    struct db_conn *c = NULL;
    struct db_res *done = NULL;
    bool locked = false;
    int count = 0;
    enum err e = db_acquire(pool, DB_ACQUIRE_TIMEOUT_MS, &c, ei);
    if (e != ERR_OK) {
        return e;
    }
    /* Wait (bounded) for another process that is migrating right now. */
    e = db_exec(c, NULL,
                "SET lock_timeout = "
                "120000",
                0, NULL, NULL, ei);
    if (e == ERR_OK) {
        e = db_exec(c, NULL, "SELECT pg_advisory_lock(" DB_MIGRATE_LOCK ")", 0, NULL, NULL, ei);
        locked = e == ERR_OK;
    }
    if (e == ERR_OK) {
        e = db_exec(c, NULL, "RESET lock_timeout", 0, NULL, NULL, ei);
    }
    if (e == ERR_OK) {
        e = db_exec(c, NULL, db_mig_table_sql, 0, NULL, NULL, ei);
    }
    if (e == ERR_OK) {
        e = db_exec(c, NULL, "SELECT version FROM schema_migrations ORDER BY version", 0, NULL,
                    &done, ei);
    }
    for (int i = 0; e == ERR_OK && db__migrations[i].sql != NULL; i++) {
        if (db_mig_listed(done, db__migrations[i].version)) {
            continue;
        }
        e = db_mig_apply_one(c, &db__migrations[i], ei);
        if (e == ERR_OK) {
            count++;
        }
    }
    db_res_free(done);
    if (locked) {
        struct err_info ignored;
        if (db_exec(c, NULL, "SELECT pg_advisory_unlock(" DB_MIGRATE_LOCK ")", 0, NULL, NULL,
                    &ignored) != ERR_OK) {
            /* a lost session releases its advisory locks itself */
        }
    }
    db_release(pool, c);
    if (e == ERR_OK && applied != NULL) {
        *applied = count;
    }
    return e;
}

enum err db_migrations_applied(struct db_pool *pool, bool *ok, struct err_info *ei)
{
    struct db_conn *c = NULL;
    struct db_res *r = NULL;
    enum err e = db_acquire(pool, 2000, &c, ei);
    if (e != ERR_OK) {
        return e;
    }
    e = db_exec(c, "db_mig_applied",
                "SELECT coalesce(max(version), 0) FROM schema_migrations"
                " WHERE to_regclass('schema_migrations') IS NOT NULL",
                0, NULL, &r, ei);
    if (e != ERR_OK && strcmp(db_conn_sqlstate(c), "42P01") == 0) {
        /* no table yet: nothing applied */
        db_release(pool, c);
        *ok = db_mig_latest() == 0;
        return ERR_OK;
    }
    if (e == ERR_OK) {
        int64_t v = 0;
        const char *s = db_res_get(r, 0, 0);
        if (s == NULL || str_to_i64(s, 0, INT32_MAX, &v) != ERR_OK) {
            e = err_set(ei, ERR_DB, "unexpected schema_migrations version \"%s\"", s ? s : "");
        } else {
            *ok = v >= db_mig_latest();
        }
    }
    db_res_free(r);
    db_release(pool, c);
    return e;
}
