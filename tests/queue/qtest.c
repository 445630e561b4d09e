/* qtest.c - see qtest.h. SPDX-License-Identifier: Apache-2.0 */
#include "qtest.h"

const struct queue_kind qt_kinds[QT_NKINDS] = {
    {.name = "noop"},
    {.name = "dataset", .queue = "calib"},
    {.name = "ingest", .queue = "ingest"},
    {.name = "collection"},
};

#include "core/str.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* cmocka needs stdarg.h, stddef.h and setjmp.h first */
#include <cmocka.h>

void qt_require_pg(void)
{
    const char *h = getenv("PGHOST");
    if (h == NULL || h[0] == '\0') {
        fprintf(stderr, "PGHOST is not set: skipping (run under ctest with the PG fixture)\n");
        exit(77);
    }
}

static void qt_admin(const char *sql)
{
    struct db_pool *p = NULL;
    struct db_conn *c = NULL;
    struct err_info ei;
    if (db_pool_create("dbname=postgres", 1, &p, &ei) != ERR_OK ||
        db_acquire(p, 10000, &c, &ei) != ERR_OK ||
        db_exec(c, NULL, sql, 0, NULL, NULL, &ei) != ERR_OK) {
        fail_msg("admin sql \"%s\": %s", sql, ei.msg);
    }
    db_release(p, c);
    db_pool_destroy(p);
}

void qt_db_create(struct qt_db *db, bool migrate)
{
    static atomic_int counter;
    char sql[160];
    struct err_info ei;
    memset(db, 0, sizeof *db);
    snprintf(db->name, sizeof db->name, "qt_%d_%d_%ld", (int)getpid(),
             atomic_fetch_add(&counter, 1), (long)(time(NULL) % 100000));
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db->name);
    qt_admin(sql);
    snprintf(db->conninfo, sizeof db->conninfo, "dbname=%s", db->name);
    if (db_pool_create(db->conninfo, 8, &db->pool, &ei) != ERR_OK) {
        fail_msg("pool: %s", ei.msg);
    }
    if (migrate) {
        int n = 0;
        if (db_migrate(db->pool, &n, &ei) != ERR_OK) {
            fail_msg("migrate: %s", ei.msg);
        }
        assert_int_equal(n, db_migrations_known());
    }
}

void qt_db_drop(struct qt_db *db)
{
    char sql[160];
    db_pool_destroy(db->pool);
    db->pool = NULL;
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db->name);
    qt_admin(sql);
}

void qt_sql(struct qt_db *db, const char *sql)
{
    struct err_info ei;
    if (db_pool_exec(db->pool, 10000, NULL, sql, 0, NULL, NULL, &ei) != ERR_OK) {
        fail_msg("sql \"%s\": %s", sql, ei.msg);
    }
}

long long qt_sql_int(struct qt_db *db, const char *sql)
{
    struct db_res *r = NULL;
    struct err_info ei;
    int64_t v = 0;
    if (db_pool_exec(db->pool, 10000, NULL, sql, 0, NULL, &r, &ei) != ERR_OK) {
        fail_msg("sql \"%s\": %s", sql, ei.msg);
    }
    const char *s = db_res_get(r, 0, 0);
    if (s == NULL || str_to_i64(s, INT64_MIN, INT64_MAX, &v) != ERR_OK) {
        fail_msg("sql \"%s\": no integer result", sql);
    }
    db_res_free(r);
    return (long long)v;
}
