/* repo_int.h - internals shared by the files of lib/repo (and its unit tests); not a public
 * header. SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_REPO_REPO_INT_H
#define OBSFLOW_REPO_REPO_INT_H

#include "repo/repo.h"

#include <stdbool.h>
#include <stddef.h>

/* ---- store and collections (repo_store.c, repo_collections.c) ---- */

/** A collection name or observationID usable as a URI path component (1..@p max bytes of
 * printable ASCII without blanks and / \ % ? # , : = " '). */
bool repo__name_ok(const char *s, size_t max);

/** torkeep's list date: "yyyy-MM-dd'T'HH:mm:ss.SSS" UTC, anything after it ignored (a "Z").
 * @return ERR_OK with ms since the epoch; ERR_PARSE. */
NODISCARD enum err repo__date_parse(const char *s, int64_t *ms);

/** qsort comparator of char* by strcmp. */
int repo__strcmp_p(const void *a, const void *b);

/* ---- push client (repo_target.c, repo_push.c) ---- */

#define REPO__BASE_MAX         2048  /* bytes of a repository base URL (after normalisation) */
#define REPO__ERR_LINE_MAX     300   /* bytes of a server message kept in ei->msg */
#define REPO__CLIENT_TOKEN_MAX 4096  /* bytes of the bearer token a client sends */
#define REPO__TIMEOUT_MS       120000L /* per request when repo_remote_opts.timeout_ms is 0 */
#define REPO__RETRY_BASE_MS    30000L  /* first delay without Retry-After (cadcutils) */
#define REPO__CAPS_MAX         ((uint64_t)CAOM_VOSI_MAX_BYTES) /* a capabilities document */
#define REPO__LIST_BODY_MAX    ((uint64_t)64 << 20) /* bytes of one list page */
#define REPO__STD_OBS_FALLBACK "vos://cadc.nrc.ca~vospace/CADC/std/CAOM2Repository#obs-1.1"
#define REPO__SEC_TOKEN        "ivo://ivoa.net/sso#token"
#define REPO__SEC_CERT         "ivo://ivoa.net/sso#tls-with-certificate"

/** Normalise a repository base URL into @p out (@p cap bytes): http(s) only, no query or
 * fragment, trailing '/' dropped, "/observations" appended unless it already ends so.
 * @return ERR_OK; ERR_INVALID naming the URL; ERR_TOO_LARGE past @p cap. */
NODISCARD enum err repo__base_normalise(const char *url, char *out, size_t cap, struct err_info *ei);

/** True when @p url names a VOSI capabilities document (path ends in "/capabilities"). */
bool repo__is_capabilities_url(const char *url);

/** The securityMethod of the interface to use: token, else certificate, else NULL (anon). */
const char *repo__security_method(bool has_token, bool has_cert);

/** Append "{base}/{collection}[/{obs_id}]" to @p out, each segment percent-encoded
 * (httpc_url_encode, '/' encoded too); @p obs_id NULL = the collection (list) URL.
 * @return ERR_OK; ERR_INVALID (empty segment); the buf error (ERR_TOO_LARGE, ERR_NOMEM). */
NODISCARD enum err repo__obs_url(struct buf *out, const char *base, const char *collection,
                                 const char *obs_id, struct err_info *ei);

/** Append the list URL of @p q (collection, maxrec, start, end, order) to @p out. */
NODISCARD enum err repo__list_url(struct buf *out, const char *base,
                                  const struct repo_list_query *q, struct err_info *ei);

/** The error a final HTTP @p status means: 2xx ERR_OK; 400 ERR_PARSE; 401 ERR_UNAUTHORIZED;
 * 403 ERR_FORBIDDEN; 404/410 ERR_NOT_FOUND; 408/504 ERR_TIMEOUT; 409 ERR_CONFLICT; 412
 * ERR_PRECONDITION; 413 ERR_TOO_LARGE; 415 ERR_UNSUPPORTED; 429/503 ERR_UNAVAILABLE; every
 * other status ERR_HTTP. */
enum err repo__status_err(long status);

/** Is a response with @p status retried? 408, 502, 503, 504. */
bool repo__status_retryable(long status);

/** Is a transport failure of httpc_do (@p e, message @p msg) retried? Timeouts, refused or
 * reset connections and truncated answers are; certificate problems, size caps, bad URLs and
 * out-of-memory are not. */
bool repo__transport_retryable(enum err e, const char *msg);

/** A Retry-After value in ms: delta-seconds or an HTTP date (relative to @p now_s, seconds
 * since the epoch; a past date is 0), capped at @p cap_s seconds; -1 when NULL or invalid. */
long repo__retry_after_ms(const char *value, int64_t now_s, int cap_s);

/** The delay before retry number @p retry (1 = the first retry) after an answer of @p status
 * (0 = a transport failure) carrying @p retry_after (or NULL): a 503's valid Retry-After,
 * else @p base_ms doubled per earlier retry; always capped at @p cap_s seconds. */
long repo__retry_delay_ms(long status, const char *retry_after, int retry, long base_ms,
                          int cap_s, int64_t now_s);

/** The first line of a server message (@p len bytes of @p body), blanks trimmed and control
 * characters dropped, at most REPO__ERR_LINE_MAX - 1 bytes, into @p out; "" when empty. */
void repo__body_line(const char *body, size_t len, char *out, size_t cap);

/** An ETag value as an accMetaChecksum URI: W/ and quotes stripped. False when empty or too
 * long for @p cap (out is then ""). */
bool repo__etag_value(const char *etag, char *out, size_t cap);

/** The value of attribute @p name (with or without a namespace prefix) of the root element of
 * the XML document (@p len bytes), e.g. "maxLastModified". False when absent or too long. */
bool repo__root_attr(const char *xml, size_t len, const char *name, char *out, size_t cap);

/** PUT and POST with the write result (@p res may be NULL; for a remote target its fields are
 * what the answer carried: the ETag, else ""). Otherwise as repo_target_put/post. */
NODISCARD enum err repo__target_put(struct repo_target *t, const char *collection,
                                    const char *obs_id, const char *xml, size_t len,
                                    struct repo_write_result *res, struct err_info *ei);
NODISCARD enum err repo__target_post(struct repo_target *t, const char *collection,
                                     const char *obs_id, const char *xml, size_t len,
                                     const char *if_match, struct repo_write_result *res,
                                     struct err_info *ei);

/* ---- end of the push client section ---- */

#endif
