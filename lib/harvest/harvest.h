/* harvest.h - collection harvests (issue 10) over PostgreSQL: the stored definitions (from the
 * API or the YAML files of the config directory), the `collection` job that lists a source,
 * tells new and changed entries from those seen before (the file-state table), groups them
 * into observations with the definition's rule and fans out one child job per observation
 * (each batch of children committed with the state it changes), waits for the children and
 * reports; bookmarks, schedules that one replica enqueues per slot, and the operator views.
 * Every statement on the collection tables (migration 0009) is here.
 * Thread-safe: one struct harv serves every thread of a process. SPDX-License-Identifier:
 * Apache-2.0 */
#ifndef OBSFLOW_HARVEST_HARVEST_H
#define OBSFLOW_HARVEST_HARVEST_H

#include "collection/collection.h"
#include "core/compiler.h"
#include "core/err.h"
#include "db/db.h"
#include "queue/queue.h"
#include "storage/storage.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define HARV_KIND           "collection" /* the job kind */
#define HARV_QUEUE          "collection" /* its default queue */
#define HARV_BATCH          1000 /* source entries compared and recorded per transaction */
#define HARV_FANOUT_BATCH   500  /* observations (child jobs) enqueued per transaction */
#define HARV_TODO_MAX       10000 /* URIs of an explicit todo list */
#define HARV_FILES_PAGE_MAX 1000 /* largest page of harv_files */
#define HARV_FILES_PAGE_DEFAULT 100
#define HARV_REPORT_FAILURES 100 /* failures named in a run's report */
#define HARV_FAILING_SHOWN  20   /* failing entries shown by harv_get */
#define HARV_LIST_MAX       1000 /* collections harv_list returns */
#define HARV_BOOKMARK_MARGIN_NS (2LL * 1000 * 1000 * 1000) /* the bookmark stays this far behind
                                                              the run's start */

struct harv; /* opaque */

/** @p pool, @p q, @p env (what definitions may name) borrowed; must outlive the handle. */
NODISCARD enum err harv_create(struct db_pool *pool, struct queue *q, const struct coll_env *env,
                               struct harv **out, struct err_info *ei);
void harv_destroy(struct harv *h);

/* ---- definitions -------------------------------------------------------------------------- */

enum harv_origin { HARV_ORIGIN_API, HARV_ORIGIN_FILE };

/**
 * Store a definition (parsed and checked by coll_def_parse first: ERR_INVALID naming the
 * field). A changed definition resets the bookmark (a new rule must see every entry) and next
 * schedule slot. The API may not replace a definition that comes from a file (ERR_CONFLICT).
 * @param[out] created true when the name was new (may be NULL).
 */
NODISCARD enum err harv_put(struct harv *h, const char *name, const json_t *doc,
                            enum harv_origin origin, bool *created, struct err_info *ei);

/**
 * Load the definitions of @p dir (every "*.yaml"/"*.yml", the name is the file's base name),
 * with file:line errors (ERR_INVALID: the service refuses to start). @p dir missing: ERR_OK,
 * none. @param[out] loaded may be NULL.
 */
NODISCARD enum err harv_load_dir(struct harv *h, const char *dir, int *loaded,
                                 struct err_info *ei);

/**
 * One collection: {"name","definition","origin","created_at","updated_at","bookmark"
 * (RFC 3339 or null),"next_run_at","last_run":{"job_id","state","trigger","counts",
 * "created_at","finished_at"}|null,"files":{"total","pending","queued","succeeded","failed",
 * "rejected","cancelled"},"failing":[{"uri","outcome","reason","obs_id","updated_at"}]}.
 * @return ERR_OK; ERR_INVALID bad name (field "name"); ERR_NOT_FOUND.
 */
NODISCARD enum err harv_get(struct harv *h, const char *name, json_t **out, struct err_info *ei);

/** Every collection, by name: {"items":[{"name","source","origin","schedule","next_run_at",
 * "last_run"}]}. */
NODISCARD enum err harv_list(struct harv *h, json_t **out, struct err_info *ei);

/**
 * Entries of a collection, by URI (keyset paging): {"items":[{"uri","size","mtime","etag",
 * "obs_id","product_id","dataset","outcome","reason","child_id","updated_at"}],
 * "next_cursor"}. @p outcome NULL or one of pending|queued|succeeded|failed|rejected|cancelled
 * (else ERR_INVALID field "outcome"); @p cursor NULL or a previous next_cursor (bad:
 * ERR_PARSE field "cursor"); @p limit 0 (default) or 1..HARV_FILES_PAGE_MAX (ERR_INVALID
 * field "limit").
 */
NODISCARD enum err harv_files(struct harv *h, const char *name, const char *outcome,
                              const char *cursor, int limit, json_t **out, struct err_info *ei);

/* ---- runs --------------------------------------------------------------------------------- */

/**
 * Enqueue a run of @p name now (POST /v1/collections/{name}/run): a `collection` job with
 * params {"collection": name} (and "retry": true with @p retry, which first puts the failed
 * entries back to pending: POST .../retry). @param[out] job owned: the new job (queue shape).
 * @return ERR_OK; ERR_NOT_FOUND; ERR_CONFLICT when a run of the collection is queued or running
 *         (ei->msg names its job id; @p active_id gets it when non-NULL).
 */
NODISCARD enum err harv_run_now(struct harv *h, const char *name, bool retry, json_t **job,
                                char active_id[QUEUE_ID_LEN + 1], struct err_info *ei);

/**
 * Enqueue the runs whose schedule slot is due, once per (collection, slot) whatever number of
 * replicas call this at once. After a downtime the overdue slot runs once, late, and the next
 * slot is the first one after now: the slots missed in between are not made up. A slot whose
 * previous run is still active is skipped.
 * @param[out] enqueued may be NULL.
 */
NODISCARD enum err harv_schedule_tick(struct harv *h, int *enqueued, struct err_info *ei);

/**
 * The validator of the `collection` job's params: {"collection": NAME (required, a defined
 * collection), "todo": [URI, ...] (1..HARV_TODO_MAX storage URIs: only these entries, no
 * listing, no bookmark), "retry": bool}. Field names "<pfx>params.collection" etc. @p ctx is
 * the struct harv (NULL: the collection is not looked up).
 */
NODISCARD enum err harv_params_validate(const json_t *params, const char *pfx, const void *ctx,
                                        struct err_info *ei);

/** Where a run executes. Everything borrowed. */
struct harv_run_env {
    struct storage *storage;       /* lists the source */
    const char *scratch_dir;       /* where an http(s) URI list is downloaded (NULL: refused) */
    const char *job_id;            /* the collection job */
    int attempt;
    bool (*cancelled)(void *ud);   /* polled between batches and while waiting */
    /* progress: step ("listing", "fanout", "waiting"), detail ("listed 12000, new 40, ...") */
    void (*progress)(void *ud, const char *step, int index, int nsteps, const char *detail);
    void *ud;
    int wait_poll_ms;              /* children looked at again after this while waiting (0:
                                      1000) */
};

/**
 * Run the `collection` job: list (or take the todo list), compare with the file-state table,
 * record and fan out; while children are active return ERR_OK with *snooze_ms > 0 and no
 * report (the caller runs it again after that long: the phase is kept, so the next call only
 * looks at the children); when every child has ended record each entry's outcome and return
 * the report {"collection","trigger","counts":{"listed","new","changed","skipped",
 * "rejected","children","succeeded","failed","cancelled"},"bookmark","failures":[{"uri",
 * "obs_id","child_id","error"}]} (owned). A rerun of the same job after a crash continues:
 * entries recorded before are neither lost nor fanned out twice.
 * @return ERR_OK; ERR_NOT_FOUND (collection gone); ERR_INVALID (its definition no longer
 *         parses: a failed run naming it); the source's errors (the bookmark stays);
 *         ERR_CANCELLED; database errors.
 */
NODISCARD enum err harv_run(struct harv *h, const struct harv_run_env *env, const json_t *params,
                            json_t **report, int64_t *snooze_ms, struct err_info *ei);

/** The counts of the run of job @p job_id ({"listed",...,"children","phase"}), or *out NULL
 * when the job is no collection run. For GET /v1/jobs/{id}. */
NODISCARD enum err harv_run_counts(struct harv *h, const char *job_id, json_t **out,
                                   struct err_info *ei);

#endif
