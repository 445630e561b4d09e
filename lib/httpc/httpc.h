/* httpc.h - outbound HTTP for obsflow: the only module that includes curl/curl.h.
 * One call = one logical request: connect and total timeouts are always set, 5xx/429 answers,
 * timeouts and connection failures are retried a bounded number of times with exponential
 * backoff, response bodies are capped and can be hashed (MD5/SHA-256) as they arrive, and a
 * request can carry a bearer token or be signed with AWS Signature V4 (CURLOPT_AWS_SIGV4).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_HTTPC_HTTPC_H
#define OBSFLOW_HTTPC_HTTPC_H

#include "core/buf.h"
#include "core/compiler.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Threading: httpc_global_init() once from main before any thread starts. A struct httpc is
 * used by one thread at a time (it holds one libcurl easy handle and its connection cache);
 * give each worker thread its own. Everything else here is reentrant. */

/* ---- limits and defaults (named caps; every field below that is 0 takes these) ---------- */
#define HTTPC_DEFAULT_CONNECT_TIMEOUT_MS 10000L            /* TCP + TLS handshake */
#define HTTPC_DEFAULT_TOTAL_TIMEOUT_MS   300000L           /* whole transfer, per attempt */
#define HTTPC_DEFAULT_MAX_ATTEMPTS       4                 /* idempotent methods; POST/PATCH: 1 */
#define HTTPC_MAX_ATTEMPTS_CAP           10                /* upper bound for max_attempts */
#define HTTPC_DEFAULT_BACKOFF_MS         200L              /* first retry delay; doubles */
#define HTTPC_MAX_BACKOFF_MS             10000L            /* cap on one retry delay */
#define HTTPC_DEFAULT_MAX_BODY           ((uint64_t)64 << 20) /* memory bodies: 64 MiB */
#define HTTPC_DEFAULT_MAX_FILE_BODY      ((uint64_t)64 << 30) /* file downloads: 64 GiB */
#define HTTPC_ERROR_BODY_MAX             ((size_t)64 << 10)   /* non-2xx bodies kept, 64 KiB */
#define HTTPC_MAX_RESPONSE_HEADERS       128               /* more headers: ERR_TOO_LARGE */
#define HTTPC_MAX_HEADER_LINE            8192              /* longer header line: ERR_TOO_LARGE */
#define HTTPC_MAX_REQUEST_HEADERS        64                /* caller-supplied header lines */
#define HTTPC_URL_MAX                    8192              /* longer URL: ERR_INVALID */

/** Digest computed over a response (download) body as it arrives, or over a request body. */
enum httpc_sum {
    HTTPC_SUM_NONE = 0, /* no digest */
    HTTPC_SUM_MD5,      /* 32 lower-case hex digits */
    HTTPC_SUM_SHA256,   /* 64 lower-case hex digits */
};
#define HTTPC_SUM_HEX_MAX 65 /* hex digest + NUL, enough for either */

enum httpc_method {
    HTTPC_GET = 0,
    HTTPC_HEAD,
    HTTPC_POST,
    HTTPC_PUT,
    HTTPC_DELETE,
    HTTPC_PATCH,
};

/** Client-wide settings, copied by httpc_create(). Zero fields take the defaults above. */
struct httpc_options {
    long connect_timeout_ms;  /* default per request; 0 = HTTPC_DEFAULT_CONNECT_TIMEOUT_MS */
    long total_timeout_ms;    /* default per request; 0 = HTTPC_DEFAULT_TOTAL_TIMEOUT_MS */
    int max_attempts;         /* default for idempotent methods; 0 = HTTPC_DEFAULT_MAX_ATTEMPTS */
    long backoff_ms;          /* first retry delay (then x2, capped, with jitter); 0 = default */
    const char *user_agent;   /* NULL = "obsflow/<version>" */
    const char *ca_file;      /* PEM bundle to verify servers with; NULL = system store */
    const char *client_cert;  /* PEM client certificate for mutual TLS; NULL = none */
    const char *client_key;   /* PEM private key of client_cert; NULL = in client_cert */
    bool insecure_skip_verify; /* tests only: do not verify TLS peers (never in production) */
};

/** AWS Signature V4 credentials and scope for one request (all borrowed). */
struct httpc_sigv4 {
    const char *access_key_id;     /* AWS_ACCESS_KEY_ID; required */
    const char *secret_access_key; /* AWS_SECRET_ACCESS_KEY; required */
    const char *session_token;     /* AWS_SESSION_TOKEN, sent as x-amz-security-token; or NULL */
    const char *region;            /* "us-east-1"; required */
    const char *service;           /* "s3"; required */
    const char *amz_date;          /* fixed "YYYYMMDDTHHMMSSZ" (tests); NULL = now */
    bool unsigned_payload;         /* x-amz-content-sha256: UNSIGNED-PAYLOAD instead of the hash */
};

/**
 * Progress of a transfer: @p down_done of @p down_total (0 = unknown) bytes received and
 * @p up_done of @p up_total sent in the current attempt. Return false to cancel.
 */
typedef bool (*httpc_progress_fn)(void *ud, uint64_t down_done, uint64_t down_total,
                                  uint64_t up_done, uint64_t up_total);

/**
 * One request. Zero-initialise and set what you need; everything is borrowed for the call.
 * Body: at most one of (body, body_len) and body_file. Destination of a 2xx response body:
 * out_file if set (written to a temporary file beside it and renamed into place only when the
 * whole body arrived and its checksum matched, so a reader never sees a partial file), else
 * httpc_response.body in memory. Non-2xx bodies always go to memory, capped at
 * HTTPC_ERROR_BODY_MAX, and out_file is then left untouched.
 */
struct httpc_request {
    enum httpc_method method;         /* HTTPC_GET when zero */
    const char *url;                  /* absolute http:// or https:// URL; required */
    const char *const *headers;       /* NULL-terminated "Name: value" lines, or NULL */
    const char *bearer_token;         /* sends "Authorization: Bearer <token>"; or NULL */
    const struct httpc_sigv4 *sigv4;  /* sign with AWS SigV4; or NULL (exclusive with bearer) */
    const void *body;                 /* request body in memory; or NULL */
    size_t body_len;                  /* bytes of body */
    const char *body_file;            /* upload the body from this file; or NULL */
    uint64_t body_file_offset;        /* first byte of body_file to send */
    uint64_t body_file_len;           /* bytes to send; 0 = from offset to end of file */
    const char *out_file;             /* write a 2xx response body here (atomically); or NULL */
    uint64_t max_body;                /* cap on the response body; 0 = HTTPC_DEFAULT_MAX_BODY
                                         (memory) or HTTPC_DEFAULT_MAX_FILE_BODY (out_file) */
    long connect_timeout_ms;          /* 0 = client default */
    long total_timeout_ms;            /* per attempt; 0 = client default */
    int max_attempts;                 /* total attempts; 0 = client default for GET, HEAD, PUT,
                                         DELETE and 1 for POST/PATCH (set it to retry those) */
    enum httpc_sum sum;               /* digest to compute over a 2xx response body */
    const char *expect_sum;           /* expected hex digest (case-insensitive); mismatch =
                                         ERR_CHECKSUM and no out_file; or NULL */
    const char *expect_sum_header;    /* also compare the digest with this response header
                                         (quotes stripped) when it holds a plain hex digest of
                                         the right length, e.g. "ETag" of a single-part S3
                                         object with HTTPC_SUM_MD5; mismatch = ERR_CHECKSUM */
    bool fail_on_status;              /* non-2xx final status becomes an error (httpc_check) */
    httpc_progress_fn progress;       /* called as bytes move (at most ~1/s by libcurl, and at
                                         every attempt); returning false cancels the request
                                         with ERR_CANCELLED; or NULL */
    void *progress_ud;                /* passed to progress */
};

/** One response header (both strings owned by the response). */
struct httpc_header {
    char *name;  /* as sent by the server; compare case-insensitively */
    char *value; /* leading/trailing blanks trimmed */
};

/** What came back. Value record: its fields are the API. Free with httpc_response_free(). */
struct httpc_response {
    long status;                     /* final HTTP status (after retries); 0 if none arrived */
    struct buf body;                 /* body when not written to out_file (NUL-terminated) */
    uint64_t body_bytes;             /* bytes of the final body (memory or file) */
    struct httpc_header *headers;    /* headers of the final response, in order */
    size_t n_headers;                /* entries in headers */
    char sum_hex[HTTPC_SUM_HEX_MAX]; /* digest of the 2xx body if requested, else "" */
    int attempts;                    /* attempts made (1 = no retry) */
    char effective_url[256];         /* last URL used (after redirects), truncated */
};

/** One-time process setup of libcurl (call from main before threads). ERR_INTERNAL on failure. */
NODISCARD enum err httpc_global_init(struct err_info *ei);

/** Release libcurl's global state at exit (after every struct httpc is destroyed). */
void httpc_global_cleanup(void);

struct httpc;

/**
 * Create a client.
 * @param[in]  opts  settings (borrowed, copied; strings duplicated); NULL = all defaults
 * @param[out] out   the client (owned; httpc_destroy); written only on success
 * @return ERR_OK, ERR_NOMEM, ERR_INTERNAL (libcurl could not create a handle)
 */
NODISCARD enum err httpc_create(const struct httpc_options *opts, struct httpc **out,
                                struct err_info *ei);

/** Destroy a client and its connections; NULL is a no-op. */
void httpc_destroy(struct httpc *c);

/** Initialise @p resp to empty (so httpc_response_free is always safe). */
void httpc_response_init(struct httpc_response *resp);

/** Free what @p resp owns and leave it empty; NULL is a no-op. */
void httpc_response_free(struct httpc_response *resp);

/**
 * Perform @p req with retries.
 * Retried (up to max_attempts, exponential backoff with jitter; a Retry-After of a few seconds
 * on 429/503 is honoured up to HTTPC_MAX_BACKOFF_MS): connection failures, timeouts, truncated
 * bodies (fewer bytes than Content-Length), 5xx and 429 answers. Not retried: other statuses,
 * size cap, checksum mismatch, TLS verification failures, local file errors, cancellation.
 * @param[in]     c     client (used by this thread only for the duration)
 * @param[in]     req   the request (borrowed)
 * @param[in,out] resp  initialised with httpc_response_init(); filled with the final response
 *                      (also on a failure after a response arrived, for diagnostics)
 * @return ERR_OK when a complete response arrived (any status unless fail_on_status);
 *         ERR_INVALID bad request fields or URL, or our own client certificate, key or CA
 *         bundle unusable; ERR_UNAUTHORIZED the TLS handshake failed (certificate refused
 *         either way); ERR_TIMEOUT no complete answer in time; ERR_UNAVAILABLE could not
 *         connect / resolve; ERR_HTTP protocol failure, truncated body, another TLS failure,
 *         or (fail_on_status) a 5xx; ERR_TOO_LARGE body or headers over the
 *         cap; ERR_CHECKSUM digest differs from expect_sum; ERR_IO body_file/out_file failure;
 *         ERR_CANCELLED the progress callback returned false;
 *         ERR_NOT_FOUND / ERR_UNAUTHORIZED / ERR_FORBIDDEN / ERR_CONFLICT (fail_on_status).
 *         @p ei names the URL (without query credentials) and the reason.
 */
NODISCARD enum err httpc_do(struct httpc *c, const struct httpc_request *req,
                            struct httpc_response *resp, struct err_info *ei);

/**
 * Map a response's status to an error: 2xx = ERR_OK; 404/410 ERR_NOT_FOUND; 401
 * ERR_UNAUTHORIZED; 403 ERR_FORBIDDEN; 409/412 ERR_CONFLICT; 413 ERR_TOO_LARGE; 408/504
 * ERR_TIMEOUT; 503/429 ERR_UNAVAILABLE; every other non-2xx status ERR_HTTP.
 * The message names @p what (e.g. the URI) and the status, plus the start of the body.
 */
NODISCARD enum err httpc_check(const struct httpc_response *resp, const char *what,
                               struct err_info *ei);

/** Last value of header @p name (case-insensitive) in @p resp, borrowed; NULL if absent. */
const char *httpc_response_header(const struct httpc_response *resp, const char *name);

/**
 * Digest @p len bytes at @p data into lower-case hex (@p hex of HTTPC_SUM_HEX_MAX bytes).
 * @return ERR_OK, ERR_INVALID (HTTPC_SUM_NONE), ERR_INTERNAL (libcrypto failure)
 */
NODISCARD enum err httpc_sum_mem(enum httpc_sum alg, const void *data, size_t len,
                                 char hex[HTTPC_SUM_HEX_MAX], struct err_info *ei);

/**
 * Digest @p len bytes of file @p path from @p offset (len 0 = to the end) into hex.
 * @return ERR_OK, ERR_IO (cannot open or read, short file), ERR_INVALID, ERR_INTERNAL
 */
NODISCARD enum err httpc_sum_file(enum httpc_sum alg, const char *path, uint64_t offset,
                                  uint64_t len, char hex[HTTPC_SUM_HEX_MAX], struct err_info *ei);

/**
 * Percent-encode @p s for a URL path (RFC 3986 unreserved kept, "/" kept when @p keep_slash,
 * everything else %XX upper-case, as AWS canonical URIs need) and append it to @p out.
 * @return ERR_OK or the buf_append error (ERR_TOO_LARGE, ERR_NOMEM)
 */
NODISCARD enum err httpc_url_encode(struct buf *out, const char *s, bool keep_slash);

/** Parse an HTTP date (RFC 7231 IMF-fixdate and the obsolete forms) or an ISO 8601 / RFC 3339
 * UTC timestamp ("2026-11-21T21:22:28.000Z"); returns seconds since the epoch, -1 if invalid. */
int64_t httpc_parse_date(const char *s);

/** Name of @p m as sent on the wire ("GET"...); never NULL. */
const char *httpc_method_name(enum httpc_method m);

#endif
