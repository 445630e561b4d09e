/* db.c - connection pool with lazy connect and reconnect, statement execution with
 * per-connection prepared statements, SQLSTATE mapping, and db_txn_run.
 * SPDX-License-Identifier: Apache-2.0 */
#include "db_int.h"

#include "core/clock.h"
#include "core/str.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DB_PREPARED_MAX  96 /* named statements remembered per connection */
#define DB_STMT_NAME_MAX 64

struct db_conn {
    PGconn *pg;                                       /* NULL until first use */
    bool in_use;                                      /* borrowed (guarded by pool->mu) */
    bool broken;                                      /* close and reopen on next acquire */
    int nprepared;                                    /* entries of prepared[] */
    char prepared[DB_PREPARED_MAX][DB_STMT_NAME_MAX]; /* statement names prepared here */
    char sqlstate[6];                                 /* of the last failure, "" if none */
};

struct db_pool {
    char *conninfo;        /* owned copy */
    int size;              /* entries of conns */
    struct db_conn *conns; /* owned array */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled when a connection is released */
    atomic_int in_use; /* borrowed count, readable without the lock */
};

/* Small per-thread PRNG for jitter (rand() is banned). */
static _Thread_local uint64_t db_rng_state;

static double db_rnd01(void)
{
    if (db_rng_state == 0) {
        db_rng_state =
            (uint64_t)clock_mono_ns() ^ (uint64_t)(uintptr_t)&db_rng_state ^ 0x9e3779b97f4a7c15ULL;
    }
    db_rng_state ^= db_rng_state << 13;
    db_rng_state ^= db_rng_state >> 7;
    db_rng_state ^= db_rng_state << 17;
    return (double)(db_rng_state >> 11) / 9007199254740992.0;
}

enum err db_pool_create(const char *conninfo, int size, struct db_pool **out, struct err_info *ei)
{
    struct db_pool *p = NULL;
    if (conninfo == NULL || out == NULL) {
        return err_set(ei, ERR_INVALID, "database connection string is missing");
    }
    if (size < 1 || size > DB_POOL_MAX) {
        return err_set(ei, ERR_INVALID, "database pool size %d is out of range 1..%d", size,
                       DB_POOL_MAX);
    }
    p = calloc(1, sizeof *p);
    if (p == NULL) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    p->conninfo = str_dup(conninfo);
    p->conns = calloc((size_t)size, sizeof *p->conns);
    if (p->conninfo == NULL || p->conns == NULL) {
        free(p->conninfo);
        free(p->conns);
        free(p);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    p->size = size;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&p->in_use, 0);
    *out = p;
    return ERR_OK;
}

static void db_conn_close(struct db_conn *c)
{
    if (c->pg != NULL) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    c->nprepared = 0;
    c->broken = false;
}

void db_pool_destroy(struct db_pool *pool)
{
    if (pool == NULL) {
        return;
    }
    for (int i = 0; i < pool->size; i++) {
        db_conn_close(&pool->conns[i]);
    }
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->cv);
    free(pool->conns);
    free(pool->conninfo);
    free(pool);
}

const char *db_pool_conninfo(const struct db_pool *pool)
{
    return pool->conninfo;
}
int db_pool_size(const struct db_pool *pool)
{
    return pool->size;
}
int db_pool_in_use(const struct db_pool *pool)
{
    return atomic_load(&((struct db_pool *)(uintptr_t)pool)->in_use);
}

/* Copy libpq's message without its trailing newline. */
static void db_msg_trim(char *dst, size_t cap, const char *src)
{
    str_copy(dst, cap, src != NULL ? src : "");
    size_t n = strlen(dst);
    while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == ' ')) {
        dst[--n] = '\0';
    }
}

/* Set before the connections open (db_notice_hook_set), then only read. */
static struct {
    db_notice_fn fn;
    void *ud;
} db_notice_hook;

void db_notice_hook_set(db_notice_fn fn, void *ud)
{
    db_notice_hook.fn = fn;
    db_notice_hook.ud = ud;
}

/* libpq's notice receiver: never stderr; the application's hook, if any, gets one line. */
static void db_notice_receive(void *arg, const PGresult *res)
{
    (void)arg;
    if (db_notice_hook.fn == NULL) {
        return;
    }
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (sev == NULL) {
        sev = PQresultErrorField(res, PG_DIAG_SEVERITY);
    }
    const char *prim = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    char m[ERR_INFO_MSG_MAX];
    db_msg_trim(m, sizeof m, prim != NULL ? prim : PQresultErrorMessage(res));
    db_notice_hook.fn(db_notice_hook.ud, sev != NULL ? sev : "NOTICE", m);
}

void db__notice_attach(struct pg_conn *pg)
{
    (void)PQsetNoticeReceiver(pg, db_notice_receive, NULL);
}

static enum err db_connect(const char *conninfo, PGconn **out, struct err_info *ei)
{
    /* Later keywords override earlier ones: the caller's conninfo (expanded from "dbname")
     * overrides our connect_timeout and options. */
    const char *const keys[] = {"connect_timeout",           "options",         "dbname",
                                "fallback_application_name", "client_encoding", NULL};
    const char *const vals[] = {
        "5", "-c idle_in_transaction_session_timeout=60000", conninfo, "obsflow", "UTF8", NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (pg == NULL) {
        return err_set(ei, ERR_NOMEM, "out of memory for a database connection");
    }
    if (PQstatus(pg) != CONNECTION_OK) {
        char m[ERR_INFO_MSG_MAX];
        db_msg_trim(m, sizeof m, PQerrorMessage(pg));
        PQfinish(pg);
        return err_set(ei, ERR_UNAVAILABLE, "could not connect to the database: %s", m);
    }
    db__notice_attach(pg);
    *out = pg;
    return ERR_OK;
}

static struct timespec db_deadline(int64_t timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (timeout_ms % 1000) * 1000000;
    ts.tv_sec += (time_t)(timeout_ms / 1000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    return ts;
}

enum err
db_acquire(struct db_pool *pool, int64_t timeout_ms, struct db_conn **out, struct err_info *ei)
{
    struct db_conn *c = NULL;
    struct timespec dl = db_deadline(timeout_ms < 0 ? 0 : timeout_ms);
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        struct db_conn *fresh = NULL;
        for (int i = 0; i < pool->size; i++) {
            struct db_conn *k = &pool->conns[i];
            if (k->in_use) {
                continue;
            }
            if (k->pg != NULL && !k->broken) {
                c = k;
                break;
            }
            if (fresh == NULL) {
                fresh = k;
            }
        }
        if (c == NULL) {
            c = fresh;
        }
        if (c != NULL) {
            break;
        }
        int rc = pthread_cond_timedwait(&pool->cv, &pool->mu, &dl);
        if (rc == ETIMEDOUT) {
            pthread_mutex_unlock(&pool->mu);
            return err_set(ei, ERR_TIMEOUT, "no database connection became free within %lld ms",
                           (long long)timeout_ms);
        }
    }
    c->in_use = true;
    atomic_fetch_add(&pool->in_use, 1);
    pthread_mutex_unlock(&pool->mu);

    if (c->pg != NULL && !c->broken) {
        /* An idle connection has nothing to read unless the server said goodbye (restart,
         * terminate): notice it here instead of failing the caller's first statement. */
        struct pollfd pf = {.fd = PQsocket(c->pg), .events = POLLIN};
        if (pf.fd < 0 || (poll(&pf, 1, 0) > 0 && PQconsumeInput(c->pg) == 0)) {
            c->broken = true;
        }
    }
    if (c->broken || (c->pg != NULL && PQstatus(c->pg) != CONNECTION_OK)) {
        db_conn_close(c);
    }
    if (c->pg == NULL) {
        enum err e = db_connect(pool->conninfo, &c->pg, ei);
        if (e != ERR_OK) {
            db_release(pool, c);
            return e;
        }
    }
    c->sqlstate[0] = '\0';
    *out = c;
    return ERR_OK;
}

void db_release(struct db_pool *pool, struct db_conn *conn)
{
    if (conn == NULL) {
        return;
    }
    if (conn->pg != NULL && !conn->broken) {
        PGTransactionStatusType ts = PQtransactionStatus(conn->pg);
        if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
            PGresult *r = PQexec(conn->pg, "ROLLBACK");
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                conn->broken = true;
            }
            PQclear(r);
        } else if (ts != PQTRANS_IDLE) {
            conn->broken = true;
        }
    }
    if (conn->broken) {
        db_conn_close(conn);
    }
    pthread_mutex_lock(&pool->mu);
    conn->in_use = false;
    atomic_fetch_sub(&pool->in_use, 1);
    pthread_cond_signal(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
}

const char *db_conn_sqlstate(const struct db_conn *conn)
{
    return conn->sqlstate;
}

/* Map a failed result (or none) to enum err, marking the connection broken when it is gone. */
static enum err db_fail(struct db_conn *c, PGresult *r, const char *what, struct err_info *ei)
{
    const char *st = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    char m[ERR_INFO_MSG_MAX];
    db_msg_trim(m, sizeof m, r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(c->pg));
    if (m[0] == '\0') {
        db_msg_trim(m, sizeof m, PQerrorMessage(c->pg));
    }
    str_copy(c->sqlstate, sizeof c->sqlstate, st != NULL ? st : "");
    enum err e = ERR_DB;
    if (PQstatus(c->pg) != CONNECTION_OK) {
        c->broken = true;
        e = ERR_UNAVAILABLE;
    } else if (st == NULL) {
        e = ERR_DB;
    } else if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0) {
        e = ERR_DB_RETRY;
    } else if (strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 || strcmp(st, "57P02") == 0 ||
               strcmp(st, "57P03") == 0) {
        c->broken = true;
        e = ERR_UNAVAILABLE;
    } else if (strcmp(st, "23505") == 0) {
        e = ERR_CONFLICT;
    } else if (strcmp(st, "23503") == 0 || strcmp(st, "23514") == 0 || strncmp(st, "22", 2) == 0) {
        e = ERR_INVALID;
    } else if (strcmp(st, "57014") == 0) {
        e = ERR_TIMEOUT;
    }
    return err_set(ei, e, "%s failed (sqlstate %s): %s", what, st != NULL ? st : "none", m);
}

static bool db_is_prepared(const struct db_conn *c, const char *name)
{
    for (int i = 0; i < c->nprepared; i++) {
        if (strcmp(c->prepared[i], name) == 0) {
            return true;
        }
    }
    return false;
}

enum err db_exec(struct db_conn *conn,
                 const char *name,
                 const char *sql,
                 int nparams,
                 const char *const *params,
                 struct db_res **out,
                 struct err_info *ei)
{
    PGresult *r = NULL;
    if (nparams < 0 || nparams > DB_PARAMS_MAX) {
        return err_set(ei, ERR_INTERNAL, "statement has %d parameters, more than %d", nparams,
                       DB_PARAMS_MAX);
    }
    if (conn->pg == NULL || conn->broken) {
        return err_set(ei, ERR_UNAVAILABLE, "database connection is closed");
    }
    if (name != NULL && !db_is_prepared(conn, name) && conn->nprepared >= DB_PREPARED_MAX) {
        name = NULL; /* cache full: run it unnamed rather than fail on a duplicate name */
        if (nparams == 0) {
            r = PQexecParams(conn->pg, sql, 0, NULL, NULL, NULL, NULL, 0);
            goto done;
        }
    }
    if (name != NULL) {
        if (!db_is_prepared(conn, name)) {
            r = PQprepare(conn->pg, name, sql, nparams, NULL);
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                enum err e = db_fail(conn, r, name, ei);
                PQclear(r);
                return e;
            }
            PQclear(r);
            if (conn->nprepared < DB_PREPARED_MAX &&
                str_copy(conn->prepared[conn->nprepared], DB_STMT_NAME_MAX, name)) {
                conn->nprepared++;
            }
        }
        r = PQexecPrepared(conn->pg, name, nparams, params, NULL, NULL, 0);
    } else if (nparams == 0) {
        r = PQexec(conn->pg, sql);
    } else {
        r = PQexecParams(conn->pg, sql, nparams, NULL, params, NULL, NULL, 0);
    }
done:;
    ExecStatusType st = PQresultStatus(r);
    if (r == NULL || (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)) {
        enum err e = db_fail(conn, r, name != NULL ? name : "statement", ei);
        PQclear(r);
        return e;
    }
    if (out != NULL) {
        *out = (struct db_res *)(void *)r;
    } else {
        PQclear(r);
    }
    return ERR_OK;
}

int db_res_rows(const struct db_res *res)
{
    return PQntuples((const PGresult *)(const void *)res);
}
int db_res_cols(const struct db_res *res)
{
    return PQnfields((const PGresult *)(const void *)res);
}

int64_t db_res_affected(const struct db_res *res)
{
    const char *s = PQcmdTuples((PGresult *)(uintptr_t)res);
    int64_t v = 0;
    if (s == NULL || s[0] == '\0' || str_to_i64(s, 0, INT64_MAX, &v) != ERR_OK) {
        return 0;
    }
    return v;
}

const char *db_res_get(const struct db_res *res, int row, int col)
{
    const PGresult *r = (const PGresult *)(const void *)res;
    if (row < 0 || col < 0 || row >= PQntuples(r) || col >= PQnfields(r) ||
        PQgetisnull(r, row, col)) {
        return NULL;
    }
    return PQgetvalue(r, row, col);
}

void db_res_free(struct db_res *res)
{
    PQclear((PGresult *)(void *)res);
}

enum err
db_pool_run(struct db_pool *pool, int64_t timeout_ms, db_conn_fn fn, void *arg, struct err_info *ei)
{
    struct db_conn *c = NULL;
    enum err e = db_acquire(pool, timeout_ms, &c, ei);
    if (e != ERR_OK) {
        return e;
    }
    e = fn(c, arg, ei);
    db_release(pool, c);
    return e;
}

enum err db_pool_exec(struct db_pool *pool,
                      int64_t timeout_ms,
                      const char *name,
                      const char *sql,
                      int nparams,
                      const char *const *params,
                      struct db_res **out,
                      struct err_info *ei)
{
    struct db_conn *c = NULL;
    enum err e = db_acquire(pool, timeout_ms, &c, ei);
    if (e != ERR_OK) {
        return e;
    }
    e = db_exec(c, name, sql, nparams, params, out, ei);
    db_release(pool, c);
    return e;
}

enum err db_ping(struct db_pool *pool, struct err_info *ei)
{
    return db_pool_exec(pool, 2000, "db_ping", "SELECT 1", 0, NULL, NULL, ei);
}

static void db_backoff_sleep(int attempt)
{
    int64_t ms = 10LL << (attempt < 6 ? attempt : 6); /* 10, 20, 40 ... 640 ms */
    ms = (int64_t)((double)ms * (0.5 + db_rnd01()));
    clock_sleep_ms(ms);
}

enum err db_txn_run(struct db_pool *pool, db_txn_fn fn, void *arg, struct err_info *ei)
{
    enum err e = ERR_INTERNAL;
    for (int attempt = 0; attempt <= DB_TXN_RETRIES; attempt++) {
        struct db_conn *c = NULL;
        bool committing = false;
        if (attempt > 0) {
            db_backoff_sleep(attempt - 1);
        }
        e = db_acquire(pool, DB_ACQUIRE_TIMEOUT_MS, &c, ei);
        if (e == ERR_UNAVAILABLE && attempt < 2) {
            continue; /* PostgreSQL may be coming back: one or two quick retries */
        }
        if (e != ERR_OK) {
            return e;
        }
        e = db_exec(c, "db_begin", "BEGIN", 0, NULL, NULL, ei);
        if (e == ERR_OK) {
            e = fn(c, arg, ei);
        }
        if (e == ERR_OK) {
            committing = true;
            e = db_exec(c, "db_commit", "COMMIT", 0, NULL, NULL, ei);
        }
        db_release(pool, c); /* rolls back when needed */
        if (e == ERR_OK) {
            return ERR_OK;
        }
        if (e == ERR_DB_RETRY) {
            continue;
        }
        if (e == ERR_UNAVAILABLE && !committing) {
            continue;
        }
        return e;
    }
    return e;
}
