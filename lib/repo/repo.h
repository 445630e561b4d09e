/* repo.h - the CAOM repository: a store over PostgreSQL with torkeep's semantics (create by
 * PUT, replace by POST with If-Match, delete with a deletion record, lists by maxLastModified,
 * server-side checksums and timestamps), the per-collection configuration and access rules,
 * and the push client that decides create, update, unchanged or replace against either this
 * store (no HTTP hop) or a remote caom2 repository over HTTP, through one decision path.
 *
 * Errors carry torkeep's message texts in ei->msg ("not found: caom:C/ID", "already exists:
 * caom:C/ID", "invalid input: ...", "update blocked: current entity is : md5:...") so the
 * HTTP layer sends them unchanged as text/plain; repo_status() maps an error to its status.
 *
 * Threading: a struct repo_store and a struct repo_collections are shared by every thread
 * (read-only after creation). A struct repo_target is used by one thread at a time (a remote
 * target holds one HTTP client); give each worker its own.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_REPO_REPO_H
#define OBSFLOW_REPO_REPO_H

#include "caom/caom.h"
#include "core/buf.h"
#include "core/compiler.h"
#include "core/err.h"
#include "db/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- limits -------------------------------------------------------------------------------- */
#define REPO_DOC_MAX          CAOM_XML_MAX_BYTES /* request body limit (20 MiB), else 413 */
#define REPO_LIST_MAXREC      100000             /* default and cap of maxrec */
#define REPO_NAME_MAX         128  /* bytes of a collection name */
#define REPO_OBSID_MAX        256  /* bytes of an observationID */
#define REPO_URI_MAX          (8 + REPO_NAME_MAX + REPO_OBSID_MAX) /* "caom:C/ID" + NUL */
#define REPO_COLLECTIONS_MAX  1024 /* configured collections */
#define REPO_TOKEN_MAX        256  /* bytes of a read or write token */
#define REPO_PUSH_ROUNDS      5    /* GET-merge-write rounds on 409/412 races */
#define REPO_RETRY_AFTER_CAP  128  /* seconds: the most a Retry-After is honoured (cadcutils) */
#define REPO_RETRIES          6    /* retries of 503/504/408 per request (cadcutils) */
#define REPO_DATE_LEN         32   /* "yyyy-MM-ddTHH:mm:ss.SSS" + NUL, rounded */

/** Standard IDs of the capabilities the repository offers (VOSI). */
#define REPO_STD_OBS "vos://cadc.nrc.ca~vospace/CADC/std/CAOM2Repository#obs-1.2"
#define REPO_STD_DEL "vos://cadc.nrc.ca~vospace/CADC/std/CAOM2Repository#del-1.0"

/** The HTTP status a repository error is answered with (torkeep's mapping): 400 for
 * ERR_PARSE/ERR_INVALID/ERR_XML/ERR_WCS/ERR_CHECKSUM, 401, 403, 404, 409, 412, 413, 503 for
 * ERR_UNAVAILABLE/ERR_DB_RETRY/ERR_TIMEOUT, 500 otherwise. */
int repo_status(enum err e);

/* ---- collections and access ---------------------------------------------------------------- */

struct repo_collections; /* opaque: which collections are served, and their rules */

/** The access a request asks for. */
enum repo_access {
    REPO_READ = 0,
    REPO_WRITE,
};

/**
 * Parse the OBSFLOW_CAOM_COLLECTIONS form: comma-separated "NAME" or "NAME:compute" entries,
 * or "*" (any collection, no computation) possibly beside named ones. Empty = none served.
 * @param[out] out owned (repo_collections_free).
 * @return ERR_OK; ERR_INVALID naming the bad entry.
 */
NODISCARD enum err
repo_collections_parse(const char *spec, struct repo_collections **out, struct err_info *ei);

/**
 * Add the entries of a collections file (one collection per line:
 * "NAME [compute] [read-token=T] [write-token=T]", '#' starts a comment) of @p len bytes.
 * An entry for a name already configured replaces its settings. @p name labels messages.
 * @return ERR_OK; ERR_INVALID naming the line; ERR_TOO_LARGE past REPO_COLLECTIONS_MAX.
 */
NODISCARD enum err repo_collections_add_file(struct repo_collections *c,
                                             const char *text,
                                             size_t len,
                                             const char *name,
                                             struct err_info *ei);

void repo_collections_free(struct repo_collections *c);

/** Is @p collection served? Sets *@p compute when plane metadata is recomputed on write. */
bool repo_collection_known(const struct repo_collections *c, const char *collection, bool *compute);

/** Number of explicitly named collections, and the i-th name (sorted), for the collection list. */
size_t repo_collections_count(const struct repo_collections *c);
const char *repo_collections_name(const struct repo_collections *c, size_t i);
/** True when "*" was given (collections that have rows are listed too). */
bool repo_collections_any(const struct repo_collections *c);

/**
 * May a caller presenting bearer @p token (NULL = none) have @p access to @p collection?
 * Reads are open unless the collection has a read token; writes need @p api_token (when set)
 * or the collection's write token (when set); a collection with neither is open for writing
 * only when @p api_token is unset. The write token also grants reads.
 * As torkeep: ERR_FORBIDDEN "permission denied: no write grants for caom:C/" for an anonymous
 * caller or a token of this service that does not grant it; ERR_UNAUTHORIZED for a token this
 * service never issued (none of the API, read or write tokens).
 * @return ERR_OK, ERR_FORBIDDEN or ERR_UNAUTHORIZED.
 */
NODISCARD enum err repo_authorize(const struct repo_collections *c,
                                  const char *api_token,
                                  const char *collection,
                                  enum repo_access access,
                                  const char *token,
                                  struct err_info *ei);

/* ---- the store ----------------------------------------------------------------------------- */

struct repo_store; /* opaque: the repository in one PostgreSQL database */

/**
 * @param pool borrowed; must outlive the store. @param cols borrowed, may be NULL (= "*").
 * The XSD is built into the binary (CAOM-2.4) and loaded here.
 * @param[out] out owned (repo_store_free).
 */
NODISCARD enum err repo_store_create(struct db_pool *pool,
                                     const struct repo_collections *cols,
                                     struct repo_store **out,
                                     struct err_info *ei);
void repo_store_free(struct repo_store *s);

/** How plane metadata of compute collections is computed (borrowed, copied); default: lib/caom's
 * (wcslib through caom_wcs_pix2sky, as every client of obsflow computes). For tests. Call
 * before the store is shared between threads. */
void repo_store_set_compute(struct repo_store *s, const struct caom_compute_opts *opts);

/** The collections the store serves (borrowed). */
const struct repo_collections *repo_store_collections(const struct repo_store *s);

/** A stored document as served by GET. */
struct repo_doc {
    char *xml;    /* the CAOM-2.4 document (owned, NUL-terminated) */
    size_t len;   /* bytes of xml */
    char acc_meta_checksum[CAOM_CHECKSUM_URI_MAX]; /* "md5:<hex>": the ETag */
    char max_last_modified[REPO_DATE_LEN];         /* "yyyy-MM-ddTHH:mm:ss.SSS" UTC */
};
void repo_doc_free(struct repo_doc *d);

/**
 * GET: the document of caom:@p collection/@p obs_id.
 * @return ERR_OK; ERR_NOT_FOUND ("not found: caom:C/ID", also for a collection not served).
 */
NODISCARD enum err repo_get(struct repo_store *s,
                            const char *collection,
                            const char *obs_id,
                            struct repo_doc *out,
                            struct err_info *ei);

/** What a write did. */
struct repo_write_result {
    char acc_meta_checksum[CAOM_CHECKSUM_URI_MAX]; /* stored accMetaChecksum */
    char max_last_modified[REPO_DATE_LEN];
};

/**
 * PUT (create) from the request body: XSD-validated, parsed, URI equal to the path, model
 * rules checked, computed where the collection says so, checksums and timestamps set by the
 * server. Exists by UUID or by URI: ERR_CONFLICT "already exists: caom:C/ID".
 * @return ERR_OK; ERR_PARSE "invalid input: ..." (XSD, XML, path/document mismatch, model
 *         rule); ERR_NOT_FOUND (collection not served); ERR_CONFLICT; ERR_TOO_LARGE; store
 *         errors (ERR_UNAVAILABLE ...; detail logged, not in the message).
 */
NODISCARD enum err repo_put(struct repo_store *s,
                            const char *collection,
                            const char *obs_id,
                            const char *body,
                            size_t len,
                            struct repo_write_result *res,
                            struct err_info *ei);

/**
 * POST (replace) from the request body, matched by observation UUID; with @p if_match (an
 * accMetaChecksum URI, quotes allowed; NULL = unconditional) compared under the row lock.
 * Entities absent from the document are deleted; lastModified moves only where an entity's
 * metaChecksum changed.
 * @return as repo_put, and ERR_NOT_FOUND when no observation has the document's UUID,
 *         ERR_PRECONDITION "update blocked: current entity is : md5:...".
 */
NODISCARD enum err repo_post(struct repo_store *s,
                             const char *collection,
                             const char *obs_id,
                             const char *body,
                             size_t len,
                             const char *if_match,
                             struct repo_write_result *res,
                             struct err_info *ei);

/** DELETE: ERR_OK (a deletion record is kept) or ERR_NOT_FOUND. */
NODISCARD enum err repo_delete(struct repo_store *s,
                               const char *collection,
                               const char *obs_id,
                               struct err_info *ei);

/** Parameters of a list or deletions request. */
struct repo_list_query {
    const char *collection;
    int64_t maxrec;   /* 1..REPO_LIST_MAXREC; 0 = REPO_LIST_MAXREC */
    bool has_start;   /* start (inclusive), ms since the epoch */
    int64_t start_ms;
    bool has_end;     /* end (inclusive) */
    int64_t end_ms;
    bool desc;        /* order=desc */
};

/**
 * Parse list parameters given as (name, value) pairs, names case-insensitive: maxrec, start,
 * end, order. Unknown names are ignored (as torkeep does).
 * @return ERR_OK; ERR_PARSE "invalid input: ..." naming the parameter.
 */
NODISCARD enum err repo_list_query_parse(const char *const *names,
                                         const char *const *values,
                                         size_t n,
                                         struct repo_list_query *q,
                                         struct err_info *ei);

/** List: TSV rows "collection\tobservationID\tmaxLastModified\taccMetaChecksum\n" appended to
 * @p out, ordered by maxLastModified (then observationID). ERR_NOT_FOUND for a collection not
 * served. */
NODISCARD enum err repo_list(struct repo_store *s,
                             const struct repo_list_query *q,
                             struct buf *out,
                             struct err_info *ei);

/** Deletions: TSV rows "id\tcollection\tobservationID\tlastModified\n". */
NODISCARD enum err repo_deletions(struct repo_store *s,
                                  const struct repo_list_query *q,
                                  struct buf *out,
                                  struct err_info *ei);

/** The collection list: one name per line (configured names, plus those with rows when "*"). */
NODISCARD enum err repo_list_collections(struct repo_store *s, struct buf *out, struct err_info *ei);

/* ---- the push client ----------------------------------------------------------------------- */

struct repo_target; /* opaque: where pushes go (this store, or a remote repository) */

/** A remote repository. */
struct repo_remote_opts {
    const char *url;         /* base URL ("https://h/caom2" or ".../observations"), or a
                                VOSI capabilities URL (ends in "/capabilities") from which the
                                #obs-1.2 base is read */
    const char *token;       /* bearer token, or NULL */
    const char *cert;        /* client certificate + key PEM (CADC proxy certificate), or NULL */
    const char *ca_file;     /* PEM bundle to verify the server, or NULL = system store */
    long timeout_ms;         /* per request; 0 = 120 s (cadcutils) */
    int retries;             /* 503/504/408 retries; 0 = REPO_RETRIES; -1 = none */
    int retry_after_cap_s;   /* 0 = REPO_RETRY_AFTER_CAP */
    long retry_base_ms;      /* first delay without Retry-After; 0 = 30000, doubles (cadcutils) */
};

/** A target over this store (borrowed; must outlive the target). */
NODISCARD enum err
repo_target_local(struct repo_store *s, struct repo_target **out, struct err_info *ei);
/** A target over HTTP. Resolves a capabilities URL on first use. */
NODISCARD enum err repo_target_remote(const struct repo_remote_opts *o,
                                      struct repo_target **out,
                                      struct err_info *ei);
void repo_target_free(struct repo_target *t);

/* The single operations, with torkeep semantics whatever the target (for the CLI). */
NODISCARD enum err repo_target_get(struct repo_target *t,
                                   const char *collection,
                                   const char *obs_id,
                                   struct repo_doc *out,
                                   struct err_info *ei);
NODISCARD enum err repo_target_put(struct repo_target *t,
                                   const char *collection,
                                   const char *obs_id,
                                   const char *xml,
                                   size_t len,
                                   struct err_info *ei);
NODISCARD enum err repo_target_post(struct repo_target *t,
                                    const char *collection,
                                    const char *obs_id,
                                    const char *xml,
                                    size_t len,
                                    const char *if_match,
                                    struct err_info *ei);
NODISCARD enum err repo_target_delete(struct repo_target *t,
                                      const char *collection,
                                      const char *obs_id,
                                      struct err_info *ei);
/** One list page as TSV text (as repo_list). */
NODISCARD enum err repo_target_list(struct repo_target *t,
                                    const struct repo_list_query *q,
                                    struct buf *out,
                                    struct err_info *ei);

enum repo_outcome {
    REPO_CREATED = 0, /* PUT */
    REPO_UPDATED,     /* merged into the stored tree and POSTed with If-Match */
    REPO_UNCHANGED,   /* merged tree equals the stored one: nothing written */
    REPO_REPLACED,    /* Simple <-> Derived: DELETE then PUT */
};
/** "created", "updated", "unchanged", "replaced". */
const char *repo_outcome_name(enum repo_outcome o);

struct repo_push_result {
    enum repo_outcome outcome;
    char uri[REPO_URI_MAX];                        /* caom:C/ID */
    char acc_meta_checksum[CAOM_CHECKSUM_URI_MAX]; /* as stored after the push */
    int rounds;                                    /* GET-merge-write rounds (1 = no race) */
};

/**
 * Push @p fresh (borrowed, not changed): GET; 404 -> PUT (409 -> again from GET); 200 -> merge
 * into the stored tree keeping every stored UUID -> unchanged when the merged accMetaChecksum
 * equals the stored one -> else POST with If-Match (412 -> again from GET); a kind change ->
 * DELETE then PUT. At most REPO_PUSH_ROUNDS rounds.
 * @return ERR_OK; the target's final error otherwise (4xx named, never retried).
 */
NODISCARD enum err repo_push(struct repo_target *t,
                             const struct caom_observation *fresh,
                             struct repo_push_result *res,
                             struct err_info *ei);

#endif
