/* db.h - the only door to PostgreSQL (libpq is included nowhere else): a fixed-size connection
 * pool with lazy connect and automatic reconnect, typed statement execution with per-connection
 * prepared statements, one transaction helper that retries serialization failures and
 * deadlocks, the migrations runner (SQL embedded at build time) and a LISTEN helper.
 * Thread-safe unless a function says otherwise. SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_DB_DB_H
#define OBSFLOW_DB_DB_H

#include "core/compiler.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Largest pool the module accepts (each connection is a PostgreSQL backend). */
#define DB_POOL_MAX 64
/** Most parameters one statement may take. */
#define DB_PARAMS_MAX 32
/** Retries of db_txn_run on SQLSTATE 40001/40P01 or a connection lost before COMMIT. */
#define DB_TXN_RETRIES 6
/** Default db_acquire wait in milliseconds. */
#define DB_ACQUIRE_TIMEOUT_MS 10000

struct db_pool;     /* opaque: a pool of connections to one database */
struct db_conn;     /* opaque: one connection, borrowed from its pool between acquire/release */
struct db_res;      /* opaque: the rows of one statement (text format) */
struct db_listener; /* opaque: a thread holding LISTEN on one channel */

/* ---- pool ---------------------------------------------------------------------------------- */

/**
 * Create a pool of at most @p size connections to @p conninfo (a libpq key=value string or a
 * postgresql:// URI; libpq's PG* environment variables fill what it leaves out).
 * Connections are opened lazily by db_acquire, so this succeeds while PostgreSQL is down.
 * Size it to the machine's cores (e.g. 2 * cores + 1), not to worker threads.
 * Each connection sets application_name "obsflow", connect_timeout 5 s (unless @p conninfo
 * says otherwise) and idle_in_transaction_session_timeout 60 s.
 * @param[in]  conninfo borrowed, copied.
 * @param[in]  size     1..DB_POOL_MAX.
 * @param[out] out      owned by the caller on success (db_pool_destroy); untouched on failure.
 * @return ERR_OK; ERR_INVALID for a bad size; ERR_NOMEM.
 */
NODISCARD enum err
db_pool_create(const char *conninfo, int size, struct db_pool **out, struct err_info *ei);

/** Close every connection and free the pool; NULL is a no-op. No connection may be borrowed. */
void db_pool_destroy(struct db_pool *pool);

/** The conninfo the pool was created with (borrowed, lives as long as the pool). */
const char *db_pool_conninfo(const struct db_pool *pool);
/** Configured size of the pool. */
int db_pool_size(const struct db_pool *pool);
/**
 * What libpq reports outside a statement's result: a server NOTICE or WARNING, or the message
 * of a server that ends an idle session ("terminating connection due to administrator
 * command"). @p severity is PostgreSQL's ("FATAL", "WARNING", "NOTICE", ...), @p message the
 * primary message without the severity or a trailing newline. Called on the thread that owns
 * the connection; both strings live for the call only.
 */
typedef void (*db_notice_fn)(void *ud, const char *severity, const char *message);

/**
 * Send the notices of every connection lib/db opens from now on (pool and listener) to @p fn,
 * or drop them when @p fn is NULL (the default: libpq would print them on stderr). The module
 * logs nothing itself. Call from main before the connections open (not thread-safe).
 */
void db_notice_hook_set(db_notice_fn fn, void *ud);

/** Connections borrowed right now (the "database pool use" gauge). */
int db_pool_in_use(const struct db_pool *pool);

/**
 * Borrow a connection, waiting up to @p timeout_ms for one to be free, (re)connecting it if it
 * was never opened or was lost (PostgreSQL restarted). Return it with db_release.
 * @return ERR_OK; ERR_TIMEOUT if none became free; ERR_UNAVAILABLE if PostgreSQL cannot be
 *         reached (message says why, without the password).
 */
NODISCARD enum err
db_acquire(struct db_pool *pool, int64_t timeout_ms, struct db_conn **out, struct err_info *ei);

/** Give @p conn back (NULL is a no-op). A connection left inside a transaction is rolled back;
 * a broken one is closed and reopened on its next acquire. */
void db_release(struct db_pool *pool, struct db_conn *conn);

/** Work on a borrowed connection (db_pool_run); same shape as db_txn_fn. */
typedef enum err (*db_conn_fn)(struct db_conn *conn, void *arg, struct err_info *ei);

/**
 * Borrow a connection (db_acquire, waiting up to @p timeout_ms), run @p fn on it, release it
 * (db_release: a transaction @p fn left open is rolled back). No transaction of its own and no
 * retry: what @p fn sent on a connection that was lost has an unknown outcome.
 * @return db_acquire's ERR_TIMEOUT / ERR_UNAVAILABLE, else what @p fn returned.
 */
NODISCARD enum err db_pool_run(struct db_pool *pool,
                               int64_t timeout_ms,
                               db_conn_fn fn,
                               void *arg,
                               struct err_info *ei);

/**
 * One statement on a pooled connection: db_acquire (waiting up to @p timeout_ms), db_exec,
 * db_release. Parameters, @p out and the error mapping as db_exec; no retry (a statement lost
 * with its connection is not repeated: its outcome is unknown).
 * @return db_acquire's ERR_TIMEOUT / ERR_UNAVAILABLE, else db_exec's result.
 */
NODISCARD enum err db_pool_exec(struct db_pool *pool,
                                int64_t timeout_ms,
                                const char *name,
                                const char *sql,
                                int nparams,
                                const char *const *params,
                                struct db_res **out,
                                struct err_info *ei);

/**
 * Cheap readiness probe for /readyz: borrow a connection and run `SELECT 1`.
 * @return ERR_OK, ERR_UNAVAILABLE, ERR_TIMEOUT.
 */
NODISCARD enum err db_ping(struct db_pool *pool, struct err_info *ei);

/* ---- statements ---------------------------------------------------------------------------- */

/**
 * Run one statement on a borrowed connection. Not thread-safe per connection.
 * @param[in] conn    borrowed from db_acquire (or the one db_txn_run passes).
 * @param[in] name    prepared statement name (a string literal unique per SQL text), or NULL
 *                    for a one-off statement. Named statements are prepared once per
 *                    connection and re-prepared after a reconnect.
 * @param[in] sql     the SQL with $1..$n placeholders; several statements only when
 *                    @p name is NULL and @p nparams is 0.
 * @param[in] nparams 0..DB_PARAMS_MAX.
 * @param[in] params  text values, NULL entries are SQL NULL; borrowed.
 * @param[out] out    rows (owned, db_res_free) when non-NULL and the statement succeeded.
 * @return ERR_OK; ERR_DB_RETRY (40001, 40P01); ERR_UNAVAILABLE (connection lost, server
 *         shutting down); ERR_CONFLICT (23505 unique violation); ERR_INVALID (23503, 23514,
 *         22xxx: bad value); ERR_TIMEOUT (57014 statement timeout); ERR_DB otherwise.
 *         ei->msg carries the server message and SQLSTATE (for logs, not for clients).
 */
NODISCARD enum err db_exec(struct db_conn *conn,
                           const char *name,
                           const char *sql,
                           int nparams,
                           const char *const *params,
                           struct db_res **out,
                           struct err_info *ei);

/** Rows in @p res. */
int db_res_rows(const struct db_res *res);
/** Columns in @p res. */
int db_res_cols(const struct db_res *res);
/** Rows affected by the statement (UPDATE/DELETE/INSERT), 0 when not applicable. */
int64_t db_res_affected(const struct db_res *res);
/** Text value at (@p row, @p col), NULL for SQL NULL or out of range; borrowed from @p res. */
const char *db_res_get(const struct db_res *res, int row, int col);
/** Free @p res; NULL is a no-op. */
void db_res_free(struct db_res *res);

/** SQLSTATE of the last failed statement on @p conn ("" if none); borrowed. */
const char *db_conn_sqlstate(const struct db_conn *conn);

/* ---- transactions -------------------------------------------------------------------------- */

/** Body of a transaction. It must have no side effects outside the database (it may run
 * several times) and returns the error that ends the transaction (anything but ERR_OK rolls
 * back). */
typedef enum err (*db_txn_fn)(struct db_conn *conn, void *arg, struct err_info *ei);

/**
 * Borrow a connection, BEGIN, run @p fn, COMMIT, release. Retries with bounded, jittered
 * backoff (up to DB_TXN_RETRIES) when @p fn or COMMIT fails with ERR_DB_RETRY, and when the
 * connection was lost before COMMIT was sent (a lost COMMIT is reported, never retried:
 * its outcome is unknown).
 * @return ERR_OK or the error of the last attempt.
 */
NODISCARD enum err db_txn_run(struct db_pool *pool, db_txn_fn fn, void *arg, struct err_info *ei);

/* ---- migrations ---------------------------------------------------------------------------- */

/** Number of migrations built into this binary (migrations/NNNN_<what>.sql). */
int db_migrations_known(void);

/**
 * Apply every embedded migration not yet recorded in table schema_migrations, in order, each
 * in its own transaction, while holding a session advisory lock so that several processes
 * starting at once apply each migration exactly once (the others wait, then find nothing to do).
 * @param[out] applied number applied by this call (may be NULL).
 * @return ERR_OK; ERR_UNAVAILABLE when PostgreSQL is unreachable (caller retries with
 *         backoff); ERR_DB when a migration fails (message names the file); ERR_INVALID when
 *         the database has a migration newer than this binary knows.
 */
NODISCARD enum err db_migrate(struct db_pool *pool, int *applied, struct err_info *ei);

/**
 * Readiness check: are all embedded migrations applied?
 * @param[out] ok true when the database is at (or beyond) this binary's latest migration.
 * @return ERR_OK (then *ok is set), ERR_UNAVAILABLE, ERR_DB.
 */
NODISCARD enum err db_migrations_applied(struct db_pool *pool, bool *ok, struct err_info *ei);

/* ---- LISTEN -------------------------------------------------------------------------------- */

/** Called on the listener's thread for each notification (and once after every reconnect,
 * since notifications may have been missed). Must be quick and thread-safe. */
typedef void (*db_notify_fn)(void *arg);

/**
 * Start a thread with its own connection (not from a pool) that LISTENs on @p channel and calls
 * @p fn for each notification; it reconnects by itself with backoff when the connection drops.
 * @param[in] conninfo borrowed, copied. @param[in] channel a plain identifier, copied.
 * @param[out] out owned (db_listener_destroy).
 * @return ERR_OK (even when PostgreSQL is down: the thread keeps trying); ERR_INVALID for a bad
 *         channel name; ERR_NOMEM; ERR_INTERNAL if the thread cannot start.
 */
NODISCARD enum err db_listener_create(const char *conninfo,
                                      const char *channel,
                                      db_notify_fn fn,
                                      void *arg,
                                      struct db_listener **out,
                                      struct err_info *ei);

/** Stop the thread and close its connection; NULL is a no-op. */
void db_listener_destroy(struct db_listener *l);

#endif
