/* harvest_int.h - shared between the files of lib/harvest. SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_HARVEST_HARVEST_INT_H
#define OBSFLOW_HARVEST_HARVEST_INT_H

#include "harvest.h"

#include "core/str.h"

/* wait for a pooled connection, for the statements outside transactions */
#define HARV_ACQUIRE_MS 5000

struct harv {
    struct db_pool *pool;
    struct queue *q;
    struct coll_env env;
};

/* RFC 3339 UTC text of a timestamptz expression, as lib/queue renders job times */
#define HARV_TS(x) "to_char(" x " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* Serialises the writers of one collection's file states (runs of one collection never
 * interleave their batches, whoever started them). */
#define HARV_SQL_LOCK "SELECT pg_advisory_xact_lock(hashtextextended('obsflow.collection:' || $1, 0))"
/* HARV_SQL_LOCK for the batches of a run, which look rows up by key (at most a thousand keys
 * each): index lookups only for the rest of the transaction. The tables grow from nothing to
 * millions of rows within one run, faster than autovacuum's statistics follow, and plans from
 * stale statistics hashed or scanned the whole table for every batch. The ANALYZE after a
 * listing (refresh_stats) comes too late for the listing's own batches: kept (measured in
 * docs/performance.md, 2026-12-08). */
#define HARV_SQL_LOCK_KEYED                                                                        \
    HARV_SQL_LOCK ", set_config('enable_seqscan', 'off', true),"                                   \
    " set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)"

/* The pending entries of observation @p obs of collection @p coll (the value of
 * collection_obs.pending_n for a row the statement inserts: migration 0012). */
#define HARV_SQL_PENDING_N(coll, obs)                                                              \
    "(SELECT count(*) FROM collection_files pf WHERE pf.collection = " coll                        \
    " AND pf.obs_id = " obs " AND pf.outcome = 'pending')"

/** The definition of @p name parsed (coll_def_destroy), its hash and bookmark (0: none).
 * ERR_NOT_FOUND; ERR_INVALID when it no longer parses (a kind or profile gone). */
NODISCARD enum err harv__load_def(struct harv *h, const char *name, struct coll_def **def,
                                  char hash[33], int64_t *bookmark_ns, int64_t *now_ns,
                                  struct err_info *ei);

/** Enqueue a collection job for @p name on @p c (in a transaction) and record its run row. */
NODISCARD enum err harv__enqueue_run(struct harv *h, struct db_conn *c, const char *name,
                                     const char *trigger, const char *slot_epoch, bool retry,
                                     char id[QUEUE_ID_LEN + 1], struct err_info *ei);

/** The id of a queued/running/retrying run of @p name, "" when none (on @p c). */
NODISCARD enum err harv__active_run(struct db_conn *c, const char *name,
                                    char id[QUEUE_ID_LEN + 1], struct err_info *ei);

/** @p strings (a JSON array of strings) as a PostgreSQL text[] literal ({"a","b\\"c"}), so
 * that "= ANY($n::text[])" lets the planner use an index (a set-returning function over a JSON
 * parameter hid the count from it); NULL when out of memory. Owned (free). */
char *harv__text_array(const json_t *strings);

/** The integer a statement returned in @p s, or @p dflt (NULL, not a number). */
static inline int64_t harv__i64(const char *s, int64_t dflt)
{
    int64_t v = 0;
    return s && str_to_i64(s, INT64_MIN, INT64_MAX, &v) == ERR_OK ? v : dflt;
}

#endif
