/* qtest.h - helpers of the queue tests: a fresh database per test in the private cluster.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_TESTS_QUEUE_QTEST_H
#define OBSFLOW_TESTS_QUEUE_QTEST_H

#include "db/db.h"
#include "queue/queue.h"

#include <stdbool.h>

#define QT_CONNINFO_MAX 512

/** A database created for one test, migrated, with a pool on it. */
struct qt_db {
    char name[64];
    char conninfo[QT_CONNINFO_MAX];
    struct db_pool *pool;
};

/** The kinds the queue tests' queues run (queue_config.kinds): noop, dataset (queue calib),
 * ingest (queue ingest) and collection, params unchecked (the kinds' own validators are tested
 * through obsflowd). */
#define QT_NKINDS 4
extern const struct queue_kind qt_kinds[QT_NKINDS];

/** Skip (exit 77) when no private cluster is configured (PGHOST unset). */
void qt_require_pg(void);
/** Create a uniquely named database; with @p migrate, apply the migrations. Aborts on failure. */
void qt_db_create(struct qt_db *db, bool migrate);
/** Drop the database (WITH FORCE) and free the pool. */
void qt_db_drop(struct qt_db *db);
/** Run SQL without results on @p db; aborts the test on failure. */
void qt_sql(struct qt_db *db, const char *sql);
/** Run SQL returning one value as an integer. */
long long qt_sql_int(struct qt_db *db, const char *sql);

#endif
