/* queue_worker.c - the worker side of the queue: batch claim (SKIP LOCKED), batched completion,
 * heartbeat, rescue of dead processes' jobs, retention pruning.
 * Every statement here is a single autocommit statement: no transaction outlives it.
 * SPDX-License-Identifier: Apache-2.0 */
#include "queue_int.h"

#include "core/buf.h"
#include "core/str.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* queue_claim: lock runnable rows in claim order without waiting for other claimers, mark them
 * running by this process (attempt charged). The attempt's 'running' event is written with the
 * event that ends it (job_events.started_at), or shown from jobs.started_at meanwhile. */
#define QUEUE_CLAIM_CTES                                                                           \
    " c AS (SELECT id FROM jobs WHERE state IN ('queued', 'retrying') AND run_at <= now()"         \
    " ORDER BY priority, run_at, id LIMIT $3::integer FOR UPDATE SKIP LOCKED),"                    \
    " cl AS (UPDATE jobs j SET state = 'running', attempts = j.attempts + 1, started_at = now(),"  \
    " locked_by = $1::uuid WHERE j.id = ANY (ARRAY(SELECT id FROM c))"                             \
    " RETURNING j.id, j.kind, j.queue, j.attempts, j.max_attempts, j.params::text, j.parent_id,"   \
    " j.priority, j.run_at)"
#define QUEUE_CLAIM_SELECT                                                                         \
    " SELECT 'c', id::text, kind, queue, attempts::text, max_attempts::text, params,"              \
    " parent_id::text, priority::text, (extract(epoch FROM run_at) * 1000000)::bigint::text"       \
    " FROM cl"

/* queue_claim: claim only ($2 unused). Rows come unordered: queue_cc sorts the claimed jobs
 * (cheaper in C than a sort of wide rows in the server). */
static const char queue_sql_claim[] =
    "WITH v AS (SELECT $2::text AS unused)," QUEUE_CLAIM_CTES QUEUE_CLAIM_SELECT;

/* queue_complete: apply many outcomes at once. Guards: still running, by this process, at that
 * attempt. New state: 0 succeeded; cancellation requested or 3 -> cancelled; 4 released ->
 * queued (attempt given back); 1 with attempts left -> retrying after the backoff; else failed. */
#define QUEUE_NEW_STATE                                                                            \
    "(CASE WHEN v.outcome = 0 THEN 'succeeded'"                                                    \
    " WHEN j.cancel_requested OR v.outcome = 3 THEN 'cancelled'"                                   \
    " WHEN v.outcome IN (4, 5) THEN 'queued'"                                                           \
    " WHEN v.outcome = 1 AND j.attempts < j.max_attempts THEN 'retrying'"                          \
    " ELSE 'failed' END)::job_state"
#define QUEUE_COMPLETE_CTES                                                                        \
    " v AS (SELECT * FROM json_to_recordset($2::json) AS v(id uuid, attempt integer,"              \
    " outcome integer, result json, code text, msg text, delay_ms bigint)),"                       \
    " u AS (UPDATE jobs j SET state = " QUEUE_NEW_STATE ","                                        \
    " attempts = CASE WHEN v.outcome IN (4, 5) AND NOT j.cancel_requested"                               \
    "   THEN greatest(j.attempts - 1, 0) ELSE j.attempts END,"                                     \
    " run_at = CASE WHEN " QUEUE_NEW_STATE " = 'retrying' OR (v.outcome = 5 AND NOT j.cancel_requested)"                                       \
    "   THEN now() + v.delay_ms * interval '1 millisecond' ELSE j.run_at END,"                     \
    " finished_at = CASE WHEN " QUEUE_NEW_STATE " IN ('succeeded', 'failed', 'cancelled')"         \
    "   THEN now() ELSE NULL END,"                                                                 \
    " locked_by = NULL,"                                                                           \
    " result = CASE WHEN v.outcome = 0 THEN v.result::jsonb ELSE NULL END,"                        \
    " error_code = CASE WHEN v.outcome = 0 THEN NULL WHEN v.outcome IN (4, 5) THEN j.error_code"         \
    "   WHEN v.outcome <> 3 AND j.cancel_requested THEN 'cancelled' ELSE v.code END,"              \
    " error_message = CASE WHEN v.outcome = 0 THEN NULL WHEN v.outcome IN (4, 5) THEN j.error_message"   \
    "   WHEN v.outcome <> 3 AND j.cancel_requested THEN 'cancelled by request' ELSE v.msg END"     \
    " FROM v WHERE j.id = v.id AND j.state = 'running' AND j.locked_by = $1::uuid"                 \
    " AND j.attempts = v.attempt"                                                                  \
    " RETURNING j.id, j.state, v.attempt, v.outcome, v.msg, j.started_at),"                        \
    " ev AS (INSERT INTO job_events (job_id, state, attempt, started_at, message)"                 \
    " SELECT id, state, attempt, started_at, CASE WHEN state = 'succeeded' THEN 'succeeded'"       \
    "  WHEN outcome = 4 AND state = 'queued' THEN 'released by a draining process'"                \
    "  WHEN state = 'cancelled' THEN coalesce('cancelled: ' || msg, 'cancelled')"                  \
    "  ELSE msg END FROM u WHERE outcome <> 5 OR state <> 'queued')"
#define QUEUE_COMPLETE_SELECT                                                                      \
    " SELECT 's', state::text, count(*)::text, NULL, NULL, NULL, NULL, NULL, NULL, NULL"           \
    " FROM u GROUP BY state"

/* queue_complete: complete only ($3 unused). */
static const char queue_sql_complete[] =
    "WITH " QUEUE_COMPLETE_CTES ", x AS (SELECT $3::integer AS unused)" QUEUE_COMPLETE_SELECT;

/* queue_complete_and_claim: both in one statement (disjoint rows: running vs runnable). */
static const char queue_sql_complete_claim[] =
    "WITH " QUEUE_COMPLETE_CTES "," QUEUE_CLAIM_CTES QUEUE_COMPLETE_SELECT
    " UNION ALL" QUEUE_CLAIM_SELECT;

/* queue_complete_and_claim_queues: the same claim per named queue, each with its own limit
 * (one LATERAL per queue: $3 names, $4 limits); the priority/run_at/id order and SKIP LOCKED
 * hold within each queue. The index jobs_fetch has the queue as its last key column, so rows
 * of other queues ahead are skipped inside the index (migration 0007). */
static const char queue_sql_complete_claim_queues[] =
    "WITH " QUEUE_COMPLETE_CTES ","
    " c AS (SELECT x.id FROM unnest($3::text[], $4::integer[]) AS w(queue, n)"
    " CROSS JOIN LATERAL (SELECT id FROM jobs WHERE queue = w.queue"
    " AND state IN ('queued', 'retrying') AND run_at <= now()"
    " ORDER BY priority, run_at, id LIMIT w.n FOR UPDATE SKIP LOCKED) x),"
    " cl AS (UPDATE jobs j SET state = 'running', attempts = j.attempts + 1, started_at = now(),"
    " locked_by = $1::uuid WHERE j.id = ANY (ARRAY(SELECT id FROM c))"
    " RETURNING j.id, j.kind, j.queue, j.attempts, j.max_attempts, j.params::text, j.parent_id,"
    " j.priority, j.run_at)" QUEUE_COMPLETE_SELECT " UNION ALL" QUEUE_CLAIM_SELECT;

/* Batch sizes claimed with the limit written into the statement text: with a literal limit the
 * generic plan equals the custom one, so PostgreSQL stops re-planning the statement on every
 * call (planning was about an eighth of the server's time). Other sizes use $3. */
static const int queue_literal_limits[] = {1000, 500, 200, 100};

/* The SQL of @p base (which starts with "WITH ") with "$3::integer" replaced by @p lim. */
static void queue_sql_with_limit(const char *base, int lim, char *out, size_t cap)
{
    const char *at = strstr(base, "$3::integer");
    if (at == NULL) {
        str_copy(out, cap, base);
        return;
    }
    /* $3 must still appear (callers pass it): an unused CTE gives it a type */
    snprintf(out, cap, "WITH x3 AS (SELECT $3::integer AS unused), %.*s%d%s", (int)(at - base - 5),
             base + 5, lim, at + strlen("$3::integer"));
}

/* The statements above with each literal limit; written once, read-only afterwards. */
static char queue_sql_cc_lit[ARRAY_LEN(queue_literal_limits)][sizeof queue_sql_complete_claim + 64];
static char queue_sql_c_lit[ARRAY_LEN(queue_literal_limits)][sizeof queue_sql_claim + 64];
static pthread_once_t queue_literal_once = PTHREAD_ONCE_INIT;

static void queue_literal_init(void)
{
    for (size_t k = 0; k < ARRAY_LEN(queue_literal_limits); k++) {
        queue_sql_with_limit(queue_sql_complete_claim, queue_literal_limits[k], queue_sql_cc_lit[k],
                             sizeof queue_sql_cc_lit[k]);
        queue_sql_with_limit(queue_sql_claim, queue_literal_limits[k], queue_sql_c_lit[k],
                             sizeof queue_sql_c_lit[k]);
    }
}

static int queue_cmp_claimed(const void *a, const void *b)
{
    const struct queue_claimed *x = a, *y = b;
    if (x->priority != y->priority) {
        return x->priority < y->priority ? -1 : 1;
    }
    if (x->run_at_us != y->run_at_us) {
        return x->run_at_us < y->run_at_us ? -1 : 1;
    }
    return strcmp(x->id, y->id);
}

/* Length of the well-formed UTF-8 sequence at @p c (the rules PostgreSQL applies: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0 when it is not one. */
static int queue_utf8_len(const unsigned char *c)
{
    unsigned char lo = 0x80, hi = 0xBF;
    int n;
    if (c[0] < 0x80) {
        return 1;
    } else if (c[0] >= 0xC2 && c[0] <= 0xDF) {
        n = 2;
    } else if (c[0] >= 0xE0 && c[0] <= 0xEF) {
        n = 3;
        lo = c[0] == 0xE0 ? 0xA0 : 0x80;
        hi = c[0] == 0xED ? 0x9F : 0xBF;
    } else if (c[0] >= 0xF0 && c[0] <= 0xF4) {
        n = 4;
        lo = c[0] == 0xF0 ? 0x90 : 0x80;
        hi = c[0] == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (c[1] < lo || c[1] > hi) {
        return 0;
    }
    for (int i = 2; i < n; i++) { /* stops at the terminating NUL: it is no continuation byte */
        if (c[i] < 0x80 || c[i] > 0xBF) {
            return 0;
        }
    }
    return n;
}

/* Append @p str as a JSON string literal (or null). Bytes that are not well-formed UTF-8 (a
 * message cut in the middle of a character, a raw byte from a file name or a FITS card) become
 * U+FFFD: PostgreSQL refuses the whole parameter otherwise, and with it every completion of the
 * batch, again at every retry. */
static enum err queue_json_str(struct buf *b, const char *str)
{
    if (str == NULL) {
        return buf_puts(b, "null");
    }
    enum err e = buf_puts(b, "\"");
    const unsigned char *c = (const unsigned char *)str;
    while (e == ERR_OK && *c != '\0') {
        int n = queue_utf8_len(c);
        if (*c == '"' || *c == '\\') {
            char two[3] = {'\\', (char)*c, '\0'};
            e = buf_puts(b, two);
        } else if (*c < 0x20) {
            e = buf_printf(b, "\\u%04x", (unsigned)*c);
        } else if (n == 0) {
            e = buf_puts(b, "\\ufffd");
            n = 1;
        } else {
            e = buf_append(b, c, (size_t)n);
        }
        c += n > 0 ? n : 1;
    }
    return e == ERR_OK ? buf_puts(b, "\"") : e;
}

/* Append the JSON text @p json (jansson's output) with each escaped NUL (\u0000) turned into
 * \ufffd: jsonb cannot hold NUL and refuses the whole completion parameter otherwise. Escapes
 * are consumed in pairs, so an escaped backslash before "u0000" is left alone. */
static enum err queue_json_put_result(struct buf *b, const char *json)
{
    const char *start = json;
    const char *c = json;
    enum err e = ERR_OK;
    while (e == ERR_OK && *c != '\0') {
        if (c[0] != '\\' || c[1] == '\0') {
            c++;
        } else if (strncmp(c + 1, "u0000", 5) == 0) {
            e = buf_append(b, start, (size_t)(c - start));
            if (e == ERR_OK) {
                e = buf_puts(b, "\\ufffd");
            }
            c += 6;
            start = c;
        } else {
            c += 2;
        }
    }
    return e == ERR_OK ? buf_append(b, start, (size_t)(c - start)) : e;
}

/* Completions as the JSON array queue_sql_complete reads (built directly: this is the hot path
 * of every job); NULL on allocation failure. */
static char *queue_completions_json(struct queue *q, const struct queue_completion *c, int n)
{
    struct buf b;
    buf_init(&b, (size_t)n * (QUEUE_ERR_MSG_MAX * 2 + QUEUE_PARAMS_MAX) + 64);
    enum err e = buf_puts(&b, "[");
    for (int i = 0; e == ERR_OK && i < n; i++) {
        const struct queue_completion *k = &c[i];
        int64_t delay = 0;
        if (k->outcome == QUEUE_FAILED) {
            delay = queue_backoff_ms(k->attempt, q->cfg.backoff_base_ms, q->cfg.backoff_cap_ms,
                                     queue__rnd01());
        } else if (k->outcome == QUEUE_SNOOZED) {
            delay = k->snooze_ms;
        }
        char msg[QUEUE_ERR_MSG_MAX];
        str_copy(msg, sizeof msg, k->error_message != NULL ? k->error_message : "");
        bool plain = k->outcome == QUEUE_SUCCEEDED || k->outcome == QUEUE_RELEASED ||
                     k->outcome == QUEUE_SNOOZED;
        const char *code = plain ? NULL : (k->error_code != NULL ? k->error_code : "error");
        const char *m =
            plain
                ? (k->outcome == QUEUE_RELEASED ? "released" : NULL)
                : (msg[0] != '\0' ? msg : (k->outcome == QUEUE_CANCELLED ? "cancelled" : "failed"));
        e = buf_printf(&b,
                       "%s{\"id\":\"%s\",\"attempt\":%d,\"outcome\":%d,\"delay_ms\":%lld,"
                       "\"result\":",
                       i > 0 ? "," : "", k->id, k->attempt, (int)k->outcome, (long long)delay);
        if (e == ERR_OK && k->result != NULL && k->outcome == QUEUE_SUCCEEDED) {
            char *r = json_dumps(k->result, JSON_COMPACT | JSON_ENCODE_ANY);
            e = r != NULL ? queue_json_put_result(&b, r) : ERR_NOMEM;
            free(r);
        } else if (e == ERR_OK) {
            e = buf_puts(&b, "null");
        }
        if (e == ERR_OK) {
            e = buf_puts(&b, ",\"code\":");
        }
        if (e == ERR_OK) {
            e = queue_json_str(&b, code);
        }
        if (e == ERR_OK) {
            e = buf_puts(&b, ",\"msg\":");
        }
        if (e == ERR_OK) {
            e = queue_json_str(&b, m);
        }
        if (e == ERR_OK) {
            e = buf_puts(&b, "}");
        }
    }
    if (e == ERR_OK) {
        e = buf_puts(&b, "]");
    }
    if (e != ERR_OK) {
        buf_free(&b);
        return NULL;
    }
    return buf_take(&b);
}

/* Claim limits per queue of queue_cc, as PostgreSQL array literals (NULL: any queue). */
struct queue_cc_by {
    const char *names;  /* {"calib","ingest"} */
    const char *limits; /* {2,8} */
};

/* Complete @p nc jobs and/or claim up to @p max in one statement (of the queues of @p by with
 * their limits when it is given). */
static enum err queue_cc(struct queue *q,
                         const struct queue_completion *c,
                         int nc,
                         int max,
                         const struct queue_cc_by *by,
                         struct queue_claimed *out,
                         int *n,
                         struct err_info *ei)
{
    struct db_res *r = NULL;
    char *txt = NULL;
    char lim[16];
    enum err e = ERR_OK;
    int got = 0;
    if (n != NULL) {
        *n = 0;
    }
    if (max > QUEUE_CLAIM_MAX) {
        max = QUEUE_CLAIM_MAX;
    }
    if (max < 0 || out == NULL) {
        max = 0;
    }
    if (nc <= 0 && max == 0) {
        return ERR_OK;
    }
    if (nc > 0) {
        txt = queue_completions_json(q, c, nc);
        if (txt == NULL) {
            return err_set(ei, ERR_NOMEM, "out of memory");
        }
    }
    snprintf(lim, sizeof lim, "%d", max);
    const char *p[] = {q->boot_id, txt != NULL ? txt : "[]", lim, NULL};
    int literal = 0;
    if (by != NULL && max > 0) {
        p[2] = by->names;
        p[3] = by->limits;
        e = queue__exec1(q, "queue_cc_queues", queue_sql_complete_claim_queues, 4, p, &r, ei);
        free(txt);
        txt = NULL;
        if (e != ERR_OK) {
            return e;
        }
        goto rows;
    }
    for (size_t i = 0; max > 0 && i < ARRAY_LEN(queue_literal_limits); i++) {
        if (max >= queue_literal_limits[i]) {
            literal = queue_literal_limits[i];
            max = literal; /* claim "up to max": a round number is as good */
            break;
        }
    }
    if (literal > 0) {
        pthread_once(&queue_literal_once, queue_literal_init);
        size_t k = 0;
        while (queue_literal_limits[k] != literal) {
            k++;
        }
        char name[32];
        snprintf(name, sizeof name, "%s_%d", nc > 0 ? "queue_cc" : "queue_claim", literal);
        e = queue__exec1(q, name, nc > 0 ? queue_sql_cc_lit[k] : queue_sql_c_lit[k], 3, p, &r, ei);
    } else if (nc > 0 && max > 0) {
        e = queue__exec1(q, "queue_complete_claim", queue_sql_complete_claim, 3, p, &r, ei);
    } else if (nc > 0) {
        e = queue__exec1(q, "queue_complete", queue_sql_complete, 3, p, &r, ei);
    } else {
        e = queue__exec1(q, "queue_claim", queue_sql_claim, 3, p, &r, ei);
    }
    free(txt);
    if (e != ERR_OK) {
        return e;
    }
rows:
    for (int i = 0; i < db_res_rows(r); i++) {
        const char *tag = db_res_get(r, i, 0);
        if (tag != NULL && tag[0] == 'c' && got < max) {
            struct queue_claimed *k = &out[got++];
            memset(k, 0, sizeof *k);
            str_copy(k->id, sizeof k->id, db_res_get(r, i, 1));
            str_copy(k->kind, sizeof k->kind, db_res_get(r, i, 2));
            str_copy(k->queue, sizeof k->queue, db_res_get(r, i, 3));
            k->attempt = (int)queue__i64(r, i, 4);
            k->max_attempts = (int)queue__i64(r, i, 5);
            const char *params = db_res_get(r, i, 6);
            k->params = params != NULL ? json_loads(params, 0, NULL) : NULL;
            if (k->params == NULL) {
                k->params = json_object();
            }
            const char *parent = db_res_get(r, i, 7);
            str_copy(k->parent_id, sizeof k->parent_id, parent != NULL ? parent : "");
            k->priority = (int)queue__i64(r, i, 8);
            k->run_at_us = queue__i64(r, i, 9);
            continue;
        }
        const char *st = db_res_get(r, i, 1);
        uint64_t cnt = (uint64_t)queue__i64(r, i, 2);
        if (tag == NULL || tag[0] != 's' || st == NULL) {
            continue;
        }
        if (strcmp(st, "succeeded") == 0) {
            atomic_fetch_add(&q->succeeded, cnt);
        } else if (strcmp(st, "failed") == 0) {
            atomic_fetch_add(&q->failed, cnt);
        } else if (strcmp(st, "retrying") == 0) {
            atomic_fetch_add(&q->retried, cnt);
        } else if (strcmp(st, "cancelled") == 0) {
            atomic_fetch_add(&q->cancelled, cnt);
        }
    }
    db_res_free(r);
    if (got > 1) {
        qsort(out, (size_t)got, sizeof *out, queue_cmp_claimed);
    }
    atomic_fetch_add(&q->claimed, (uint64_t)got);
    if (n != NULL) {
        *n = got;
    }
    return ERR_OK;
}

enum err
queue_claim(struct queue *q, int max, struct queue_claimed *out, int *n, struct err_info *ei)
{
    return queue_cc(q, NULL, 0, max, NULL, out, n, ei);
}

enum err
queue_complete(struct queue *q, const struct queue_completion *c, int n, struct err_info *ei)
{
    return queue_cc(q, c, n, 0, NULL, NULL, NULL, ei);
}

enum err queue_complete_and_claim(struct queue *q,
                                  const struct queue_completion *c,
                                  int nc,
                                  int max,
                                  struct queue_claimed *out,
                                  int *n,
                                  struct err_info *ei)
{
    return queue_cc(q, c, nc, max, NULL, out, n, ei);
}

enum err queue_complete_and_claim_queues(struct queue *q,
                                         const struct queue_completion *c,
                                         int nc,
                                         const struct queue_claim_limit *limits,
                                         int nlimits,
                                         struct queue_claimed *out,
                                         int *n,
                                         struct err_info *ei)
{
    char names[QUEUE_CLAIM_QUEUES_MAX * (QUEUE_NAME_MAX + 3) + 3];
    char maxes[QUEUE_CLAIM_QUEUES_MAX * 12 + 3];
    size_t ln = 0, lm = 0;
    int total = 0;
    if (nlimits > QUEUE_CLAIM_QUEUES_MAX) {
        return err_set(ei, ERR_INVALID, "more than %d queues in one claim", QUEUE_CLAIM_QUEUES_MAX);
    }
    names[ln++] = '{';
    maxes[lm++] = '{';
    for (int i = 0; i < nlimits; i++) {
        if (limits[i].max <= 0) {
            continue;
        }
        if (!queue_name_valid(limits[i].queue)) {
            return err_set(ei, ERR_INVALID, "invalid queue name in a claim");
        }
        /* names are [A-Za-z0-9_.-]: quoted, nothing to escape */
        ln += (size_t)snprintf(names + ln, sizeof names - ln, "%s\"%s\"", total > 0 ? "," : "",
                               limits[i].queue);
        lm += (size_t)snprintf(maxes + lm, sizeof maxes - lm, "%s%d", total > 0 ? "," : "",
                               limits[i].max);
        total += limits[i].max;
    }
    names[ln++] = '}';
    names[ln] = '\0';
    maxes[lm++] = '}';
    maxes[lm] = '\0';
    if (total > QUEUE_CLAIM_MAX) {
        return err_set(ei, ERR_INVALID, "a claim of %d jobs exceeds %d", total, QUEUE_CLAIM_MAX);
    }
    struct queue_cc_by by = {.names = names, .limits = maxes};
    return queue_cc(q, c, nc, total, total > 0 ? &by : NULL, out, n, ei);
}

enum err queue_heartbeat(struct queue *q,
                         char (*cancel_ids)[QUEUE_ID_LEN + 1],
                         int cap,
                         int *ncancel,
                         struct err_info *ei)
{
    struct db_res *r = NULL;
    const char *p[] = {q->boot_id, q->name};
    if (ncancel != NULL) {
        *ncancel = 0;
    }
    /* queue_heartbeat: register or refresh this process (started_at kept on refresh). */
    enum err e = queue__exec1(q, "queue_heartbeat",
                              "INSERT INTO queue_processes (id, name) VALUES ($1, $2)"
                              " ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()",
                              2, p, NULL, ei);
    if (e != ERR_OK || cancel_ids == NULL || cap <= 0 || ncancel == NULL) {
        return e;
    }
    /* queue_heartbeat: this process's running jobs whose cancellation was requested. */
    e = queue__exec1(q, "queue_cancel_poll",
                     "SELECT id FROM jobs WHERE state = 'running' AND locked_by = $1::uuid"
                     " AND cancel_requested",
                     1, p, &r, ei);
    if (e != ERR_OK) {
        return e;
    }
    for (int i = 0; i < db_res_rows(r) && i < cap; i++) {
        str_copy(cancel_ids[i], QUEUE_ID_LEN + 1, db_res_get(r, i, 0));
        *ncancel = i + 1;
    }
    db_res_free(r);
    return ERR_OK;
}

/* queue_rescue: forget processes whose heartbeat is older than the lease and requeue (or fail,
 * or cancel) their running jobs; also jobs of processes with no row at all (the UNLOGGED table
 * was emptied by a crash) once this process itself has been registered for a whole lease, so
 * every live process has had time to re-register. Guarded by state and owner. */
static const char queue_sql_rescue[] =
    "WITH dead AS (DELETE FROM queue_processes"
    " WHERE heartbeat_at < now() - make_interval(secs => $1::integer) AND id <> $2::uuid"
    " RETURNING id),"
    " r AS (UPDATE jobs j SET"
    " state = (CASE WHEN j.cancel_requested THEN 'cancelled'"
    "   WHEN j.attempts >= j.max_attempts THEN 'failed' ELSE 'retrying' END)::job_state,"
    " locked_by = NULL, run_at = now(),"
    " finished_at = CASE WHEN j.cancel_requested OR j.attempts >= j.max_attempts THEN now()"
    "   ELSE NULL END,"
    " error_code = 'worker_lost',"
    " error_message = 'the process running the job stopped sending heartbeats'"
    " WHERE j.state = 'running' AND (j.locked_by IN (SELECT id FROM dead)"
    "  OR (j.started_at < now() - make_interval(secs => $1::integer)"
    "      AND NOT EXISTS (SELECT 1 FROM queue_processes p WHERE p.id = j.locked_by)"
    "      AND EXISTS (SELECT 1 FROM queue_processes me WHERE me.id = $2::uuid"
    "                  AND me.started_at < now() - make_interval(secs => $1::integer))))"
    " RETURNING j.id, j.state, j.attempts, j.started_at),"
    " ev AS (INSERT INTO job_events (job_id, state, attempt, started_at, message)"
    " SELECT id, state, attempts, started_at,"
    " 'rescued: the process running it stopped sending heartbeats'"
    " FROM r)"
    " SELECT count(*) FROM r";

enum err queue_rescue(struct queue *q, int *rescued, struct err_info *ei)
{
    struct db_res *r = NULL;
    char lease[16];
    snprintf(lease, sizeof lease, "%d", q->cfg.lease_s);
    const char *p[] = {lease, q->boot_id};
    enum err e = queue__exec1(q, "queue_rescue", queue_sql_rescue, 2, p, &r, ei);
    if (e != ERR_OK) {
        return e;
    }
    int64_t n = queue__i64(r, 0, 0);
    db_res_free(r);
    atomic_fetch_add(&q->rescued, (uint64_t)n);
    if (n > 0) {
        queue_wake(q);
    }
    if (rescued != NULL) {
        *rescued = (int)n;
    }
    return ERR_OK;
}

/* queue_prune: delete the oldest finished jobs past retention with their events. */
static const char queue_sql_prune[] =
    "WITH d AS (DELETE FROM jobs WHERE id IN (SELECT id FROM jobs"
    " WHERE (state IN ('succeeded', 'cancelled')"
    "        AND finished_at < now() - make_interval(secs => $1::integer))"
    "    OR (state = 'failed' AND finished_at < now() - make_interval(secs => $2::integer))"
    " ORDER BY finished_at LIMIT $3::integer) RETURNING id),"
    " e AS (DELETE FROM job_events WHERE job_id IN (SELECT id FROM d)),"
    " k AS (DELETE FROM idempotency_keys WHERE key IN (SELECT key FROM idempotency_keys"
    "  WHERE created_at < now() - make_interval(secs => greatest($1::integer, $2::integer))"
    "  LIMIT $3::integer))"
    " SELECT count(*) FROM d";

enum err queue_prune(struct queue *q, int batch, int *deleted, struct err_info *ei)
{
    struct db_res *r = NULL;
    char a[16], b[16], lim[16];
    snprintf(a, sizeof a, "%d", q->cfg.retention_s);
    snprintf(b, sizeof b, "%d", q->cfg.retention_failed_s);
    snprintf(lim, sizeof lim, "%d", batch > 0 ? batch : 1000);
    const char *p[] = {a, b, lim};
    enum err e = queue__exec1(q, "queue_prune", queue_sql_prune, 3, p, &r, ei);
    if (e != ERR_OK) {
        return e;
    }
    if (deleted != NULL) {
        *deleted = (int)queue__i64(r, 0, 0);
    }
    db_res_free(r);
    /* queue_counts_fold: keep job_count_deltas short when no one reads queue_stats */
    e = queue__exec1(q, "queue_counts_fold",
                     "WITH " QUEUE_SQL_COUNTS_FOLD " SELECT count(*) FROM fold_u", 0, NULL, &r, ei);
    if (e != ERR_OK) {
        return e;
    }
    db_res_free(r);
    return ERR_OK;
}

enum err queue_requeue_orphans(struct queue *q,
                               const char (*known)[QUEUE_ID_LEN + 1],
                               int nknown,
                               int min_age_s,
                               int *requeued,
                               struct err_info *ei)
{
    struct buf ids;
    struct db_res *r = NULL;
    char age[16];
    buf_init(&ids, (size_t)(nknown > 0 ? nknown : 0) * (QUEUE_ID_LEN + 1) + 8);
    enum err e = buf_puts(&ids, "{");
    for (int i = 0; e == ERR_OK && i < nknown; i++) {
        e = buf_printf(&ids, "%s%s", i > 0 ? "," : "", known[i]);
    }
    if (e == ERR_OK) {
        e = buf_puts(&ids, "}");
    }
    if (e != ERR_OK) {
        buf_free(&ids);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    snprintf(age, sizeof age, "%d", min_age_s > 0 ? min_age_s : 1);
    const char *p[] = {q->boot_id, buf_cstr(&ids), age};
    /* queue_requeue_orphans: this process's running jobs it does not hold any more. */
    e = queue__exec1(
        q, "queue_orphans",
        "WITH r AS (UPDATE jobs j SET"
        " state = (CASE WHEN j.cancel_requested THEN 'cancelled'"
        "   WHEN j.attempts >= j.max_attempts THEN 'failed' ELSE 'retrying' END)::job_state,"
        " locked_by = NULL, run_at = now(),"
        " finished_at = CASE WHEN j.cancel_requested OR j.attempts >= j.max_attempts THEN now()"
        "   ELSE NULL END,"
        " error_code = 'worker_lost', error_message = 'the claim of this attempt was lost'"
        " WHERE j.state = 'running' AND j.locked_by = $1::uuid"
        " AND j.started_at < now() - make_interval(secs => $3::integer)"
        " AND NOT (j.id = ANY ($2::uuid[])) RETURNING j.id, j.state, j.attempts, j.started_at),"
        " ev AS (INSERT INTO job_events (job_id, state, attempt, started_at, message)"
        " SELECT id, state, attempts, started_at, 'requeued: the claim of this attempt was lost'"
        " FROM r)"
        " SELECT count(*) FROM r",
        3, p, &r, ei);
    buf_free(&ids);
    if (e != ERR_OK) {
        return e;
    }
    int64_t n = queue__i64(r, 0, 0);
    db_res_free(r);
    atomic_fetch_add(&q->rescued, (uint64_t)n);
    if (requeued != NULL) {
        *requeued = (int)n;
    }
    return ERR_OK;
}

enum err queue_unregister(struct queue *q, struct err_info *ei)
{
    const char *p[] = {q->boot_id};
    /* queue_unregister: clean shutdown. */
    return queue__exec1(q, "queue_unregister", "DELETE FROM queue_processes WHERE id = $1", 1, p,
                        NULL, ei);
}

/* ---- progress ----------------------------------------------------------------------------- */

/* @p s cut to fewer than @p cap bytes at a UTF-8 character boundary, into @p out. */
static const char *queue_cut(char *out, size_t cap, const char *s)
{
    size_t n = strnlen(s, cap);
    if (n < cap) {
        return s;
    }
    n = cap - 1;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80) {
        n--; /* s[n] continues a character: cut before the character's first byte */
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

bool queue_progress_json(const struct queue_progress *p,
                         int attempt,
                         json_t **progress,
                         json_t **event_step,
                         char *message,
                         size_t message_cap)
{
    char step[QUEUE_STEP_MAX + 1], prev[QUEUE_STEP_MAX + 1], detail[QUEUE_DETAIL_MAX + 1];
    const char *st = p->step != NULL ? queue_cut(step, sizeof step, p->step) : NULL;
    json_t *pr = json_object();
    bool ok = pr != NULL;
    ok = ok && queue__set(pr, "step", st != NULL ? json_string(st) : json_null());
    ok = ok && queue__set(pr, "index", json_integer(p->index));
    ok = ok && queue__set(pr, "nsteps", json_integer(p->nsteps));
    ok = ok && queue__set(pr, "detail",
                          p->detail != NULL && p->detail[0] != '\0'
                              ? json_string(queue_cut(detail, sizeof detail, p->detail))
                              : json_null());
    ok = ok && queue__set(pr, "attempt", json_integer(attempt));
    json_t *ev = NULL;
    if (ok && p->event && event_step != NULL) {
        ev = json_object();
        ok = ev != NULL;
        ok = ok && queue__set(ev, "name", st != NULL ? json_string(st) : json_null());
        ok = ok && queue__set(ev, "index", json_integer(p->index));
        ok = ok && queue__set(ev, "nsteps", json_integer(p->nsteps));
        if (ok && p->prev_step != NULL) {
            ok = queue__set(ev, "previous",
                            json_pack("{s:s, s:I}", "name",
                                      queue_cut(prev, sizeof prev, p->prev_step), "duration_ms",
                                      (json_int_t)p->prev_ms));
        }
    }
    if (!ok) {
        json_decref(pr);
        json_decref(ev);
        return false;
    }
    if (message != NULL && message_cap > 0) {
        if (st == NULL) {
            snprintf(message, message_cap, "steps done");
        } else if (p->nsteps > 0) {
            snprintf(message, message_cap, "step %d/%d: %s", p->index, p->nsteps, st);
        } else {
            snprintf(message, message_cap, "step: %s", st);
        }
    }
    *progress = pr;
    if (event_step != NULL) {
        *event_step = ev;
    }
    return true;
}

/* $1 job, $2 attempt, $3 this process, $4 the progress object (NULL: unchanged), $5 the step
 * event's message and $6 its "step" member (both NULL: no event). Only the attempt this process
 * runs changes. */
static const char queue_sql_progress[] =
    "WITH u AS (UPDATE jobs SET progress = CASE WHEN $4::jsonb IS NULL THEN progress"
    " ELSE $4::jsonb || jsonb_build_object('updated_at', " QUEUE_TS(
        "now()") ") END"
                 " WHERE id = $1::uuid AND state = 'running' AND attempts = $2::int"
                 " AND locked_by = $3::uuid RETURNING id)"
                 " INSERT INTO job_events (job_id, state, attempt, message, step)"
                 " SELECT id, 'running', $2::int, $5, $6::jsonb FROM u WHERE $6::text IS NOT NULL";

enum err queue_progress(struct queue *q,
                        const char *id,
                        int attempt,
                        const struct queue_progress *p,
                        struct err_info *ei)
{
    json_t *pr = NULL, *ev = NULL;
    char msg[QUEUE_STEP_MAX + 32];
    char att[16];
    char *pr_txt = NULL, *ev_txt = NULL;
    enum err e = ERR_OK;
    if (!queue_is_uuid(id) || p == NULL) {
        return err_set(ei, ERR_INVALID, "queue_progress: bad job id");
    }
    if (!queue_progress_json(p, attempt, &pr, &ev, msg, sizeof msg)) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    pr_txt = json_dumps(pr, JSON_COMPACT);
    ev_txt = ev != NULL ? json_dumps(ev, JSON_COMPACT) : NULL;
    if (pr_txt == NULL || (ev != NULL && ev_txt == NULL)) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    snprintf(att, sizeof att, "%d", attempt);
    /* the steps are over (step NULL): the progress stays as the last step reported */
    const char *params[] = {
        id, att, q->boot_id, p->step != NULL ? pr_txt : NULL, ev_txt != NULL ? msg : NULL, ev_txt};
    /* a connection only if one is free soon: a job never waits long on its own progress,
     * and the HTTP threads keep theirs (no retry either: the next report replaces this one) */
    e = db_pool_exec(q->pool, QUEUE_PROGRESS_ACQUIRE_MS, "queue_progress", queue_sql_progress, 6,
                     params, NULL, ei);
out:
    free(pr_txt);
    free(ev_txt);
    json_decref(pr);
    json_decref(ev);
    return e;
}
