/* storage.h - one interface over the places obsflow reads inputs from and writes products to:
 *   file:PATH               local files, confined to configured data roots
 *   http://... https://...  read-only (GET/HEAD) through lib/httpc
 *   s3://bucket/key         S3 REST, AWS Signature V4 (libcurl), path-style requests
 *   astroquery:NAME         an archive product downloaded through a URL template (MAST default)
 * Writes are atomic: files are written to a temporary beside the target and renamed; S3 objects
 * appear only when the PUT or the multipart upload completes. See lib/storage/README.md.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_STORAGE_STORAGE_H
#define OBSFLOW_STORAGE_STORAGE_H

#include "core/buf.h"
#include "core/compiler.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Threading: a struct storage is immutable after storage_create() and may be shared by any
 * number of threads; each call uses its own HTTP client. The lib never reads the environment:
 * callers pass roots and credentials in (storage_s3_config_from_env takes the lookup function). */

/* ---- limits (named caps) ---------------------------------------------------------------- */
#define STORAGE_URI_MAX            4096  /* longer URI: ERR_INVALID */
#define STORAGE_PATH_MAX           4096  /* local paths */
#define STORAGE_BUCKET_MAX         63    /* S3 bucket names: 3..63 of [a-z0-9.-] */
#define STORAGE_KEY_MAX            1024  /* S3 key bytes */
#define STORAGE_NAME_MAX           255   /* astroquery: product name bytes */
#define STORAGE_MAX_ROOTS          32    /* file: data roots */
#define STORAGE_LIST_MAX           1000000 /* entries one storage_list call may report */
#define STORAGE_LIST_DEPTH_MAX     32    /* directory depth of a file: listing or walk */
#define STORAGE_WALK_MAX           10000000 /* entries one storage_walk call may report */
#define STORAGE_S3_PAGE_MAX        1000  /* keys per ListObjectsV2 page (S3's own maximum) */
#define STORAGE_S3_LIST_BODY_MAX   ((uint64_t)16 << 20) /* one list page response */
#define STORAGE_S3_MAX_PARTS       10000 /* S3's limit on multipart parts */
#define STORAGE_S3_MIN_PART        ((uint64_t)5 << 20)  /* S3's minimum part size (not last) */
#define STORAGE_S3_MAX_PART        ((uint64_t)5 << 30)  /* S3's maximum part size */
#define STORAGE_DEFAULT_MULTIPART_THRESHOLD ((uint64_t)64 << 20) /* larger puts go multipart */
#define STORAGE_DEFAULT_PART_SIZE  ((uint64_t)16 << 20)
#define STORAGE_DEFAULT_MAX_OBJECT ((uint64_t)64 << 30) /* cap on one download */
#define STORAGE_DEFAULT_ARCHIVE_TEMPLATE \
    "https://mast.stsci.edu/api/v0.1/Download/file?uri=mast:HST/product/{name}"

/** URI schemes. */
enum storage_scheme {
    STORAGE_FILE = 0,   /* file:PATH, file://PATH, or a bare path */
    STORAGE_HTTP,       /* http://... */
    STORAGE_HTTPS,      /* https://... */
    STORAGE_S3,         /* s3://bucket/key */
    STORAGE_ASTROQUERY, /* astroquery:NAME */
};

/** A parsed URI (value record; no allocation). */
struct storage_uri {
    enum storage_scheme scheme;       /* which back end */
    char path[STORAGE_PATH_MAX];      /* FILE: the path as written (not yet confined) */
    char url[STORAGE_URI_MAX];        /* HTTP/HTTPS: the whole URL */
    char bucket[STORAGE_BUCKET_MAX + 1]; /* S3: bucket */
    char key[STORAGE_KEY_MAX + 1];    /* S3: key or prefix ("" = whole bucket) */
    char name[STORAGE_NAME_MAX + 1];  /* ASTROQUERY: product name, [A-Za-z0-9._-] only */
};

/**
 * Parse @p uri. Rules: "file:" + path (also "file://" + absolute path, "file://localhost/...",
 * or a string with no scheme at all, taken as a path); "http(s)://host..." kept whole;
 * "s3://bucket[/key]" with a valid bucket name and a key without control characters or "//";
 * "astroquery:NAME". Paths and keys may not contain NUL or control characters.
 * @param[in]  uri  NUL-terminated (borrowed)
 * @param[out] out  written only on success
 * @return ERR_OK; ERR_INVALID naming what is wrong (unrecognized scheme, bad bucket, ...);
 *         ERR_TOO_LARGE a component over its cap
 */
NODISCARD enum err storage_uri_parse(const char *uri, struct storage_uri *out, struct err_info *ei);

/** Scheme name ("file", "http", "https", "s3", "astroquery"); never NULL. */
const char *storage_scheme_name(enum storage_scheme s);

/** S3 settings; fixed-size so it can be copied around freely. */
struct storage_s3_config {
    char access_key_id[128];      /* AWS_ACCESS_KEY_ID ("" = anonymous, unsigned requests) */
    char secret_access_key[128];  /* AWS_SECRET_ACCESS_KEY */
    char session_token[2048];     /* AWS_SESSION_TOKEN or "" */
    char region[64];              /* AWS_REGION, else AWS_DEFAULT_REGION, else "us-east-1" */
    char endpoint_url[512];       /* AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else
                                     "https://s3.<region>.amazonaws.com"; no trailing "/" */
};

/** Signature of getenv(3): callers pass getenv itself, tests pass a fake. */
typedef char *(*storage_env_fn)(const char *name);

/**
 * Fill @p out from the standard AWS variables through @p env (the library never calls getenv
 * itself). Reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION,
 * AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL.
 * @return ERR_OK; ERR_INVALID when only one of the key pair is set, a value is over its field
 *         size, or the endpoint is not an http(s) URL
 */
NODISCARD enum err storage_s3_config_from_env(storage_env_fn env, struct storage_s3_config *out,
                                              struct err_info *ei);

/** Configuration of a storage handle; everything borrowed and copied by storage_create(). */
struct storage_config {
    const char *data_roots;        /* colon-separated directories that file: URIs may touch
                                      (OBSFLOW_DATA_ROOTS); NULL or "" = file: refused */
    const struct storage_s3_config *s3; /* NULL = defaults (anonymous, us-east-1, AWS) */
    const char *archive_url_template; /* "{name}" is replaced by the URL-encoded product name;
                                      NULL = STORAGE_DEFAULT_ARCHIVE_TEMPLATE */
    const char *archive_token;     /* bearer token for the archive; NULL = none */
    uint64_t max_object_size;      /* cap on one download; 0 = STORAGE_DEFAULT_MAX_OBJECT */
    uint64_t multipart_threshold;  /* S3 puts above this go multipart; 0 = default */
    uint64_t part_size;            /* multipart part size (5 MiB to 5 GiB); 0 = default */
    long connect_timeout_ms;       /* 0 = httpc default */
    long total_timeout_ms;         /* per request attempt; 0 = httpc default */
    int max_attempts;              /* per request; 0 = httpc default */
    long backoff_ms;               /* first retry delay; 0 = httpc default */
    int s3_page_size;              /* keys per S3 list page; 0 = STORAGE_S3_PAGE_MAX */
    const char *s3_fixed_amz_date; /* tests only: sign with this "YYYYMMDDTHHMMSSZ"; NULL */
};

struct storage;

/**
 * Create a storage handle. Each data root must exist and is canonicalised (realpath) now.
 * @param[in]  cfg  configuration (borrowed, copied)
 * @param[out] out  the handle (owned; storage_destroy); written only on success
 * @return ERR_OK; ERR_INVALID a root is missing or not a directory, too many roots, bad
 *         template (no "{name}"), part size under 5 MiB or over 5 GiB; ERR_NOMEM
 */
NODISCARD enum err storage_create(const struct storage_config *cfg, struct storage **out,
                                  struct err_info *ei);

/** Destroy a handle; NULL is a no-op. */
void storage_destroy(struct storage *st);

/** Digest to compute or check over transferred bytes. */
enum storage_sum {
    STORAGE_SUM_NONE = 0,
    STORAGE_SUM_MD5,    /* 32 hex digits */
    STORAGE_SUM_SHA256, /* 64 hex digits */
};
#define STORAGE_SUM_HEX_MAX 65

/** Metadata of one object or file. */
struct storage_stat {
    uint64_t size;          /* bytes */
    int64_t mtime_ns;       /* last modification, ns since the epoch (0 if unknown) */
    char etag[128];         /* S3/HTTP ETag without quotes, or "" (file:) */
    char sum_hex[STORAGE_SUM_HEX_MAX]; /* digest computed during a get/put if asked, else "" */
};

/**
 * Progress of a transfer: @p done of @p total bytes (total 0 = unknown). Called from the
 * calling thread, about once a second and per chunk or part. Return false to cancel: the call
 * then fails with ERR_CANCELLED and, as for any failure, leaves no partial destination.
 */
typedef bool (*storage_progress_fn)(void *ud, uint64_t done, uint64_t total);

/** Options of a transfer; zero = no digest. */
struct storage_xfer_opts {
    enum storage_sum sum;   /* digest to compute over the bytes (returned in stat.sum_hex) */
    const char *expect_sum; /* expected hex digest (gets): mismatch = ERR_CHECKSUM and the
                               destination is not created; or NULL */
    const char *content_type; /* puts to S3: Content-Type; NULL = application/octet-stream */
    storage_progress_fn progress; /* or NULL */
    void *progress_ud;        /* passed to progress */
};

/**
 * Download @p uri into the local file @p dest_path (a plain path; the caller's own working
 * space, not confined). Written to a temporary beside it and renamed when complete and
 * verified: on failure @p dest_path is unchanged. Parent directory must exist.
 * @param[in]  opts  may be NULL
 * @param[out] stat  may be NULL; filled on success
 * @return ERR_OK; ERR_NOT_FOUND; ERR_FORBIDDEN (file: outside the roots, escapes, S3 403);
 *         ERR_UNAUTHORIZED; ERR_TOO_LARGE; ERR_CHECKSUM; ERR_TIMEOUT; ERR_UNAVAILABLE;
 *         ERR_HTTP / ERR_STORAGE (remote failure); ERR_IO (local); ERR_INVALID (bad URI)
 */
NODISCARD enum err storage_get_file(struct storage *st, const char *uri, const char *dest_path,
                                    const struct storage_xfer_opts *opts,
                                    struct storage_stat *stat, struct err_info *ei);

/**
 * Download @p uri into memory, at most @p max bytes (ERR_TOO_LARGE beyond).
 * @param[in,out] out  buf_init()ed by the caller; appended to on success only
 * Errors as storage_get_file.
 */
NODISCARD enum err storage_get_mem(struct storage *st, const char *uri, size_t max,
                                   struct buf *out, const struct storage_xfer_opts *opts,
                                   struct storage_stat *stat, struct err_info *ei);

/**
 * Bytes [@p off, @p off + @p len) of @p uri appended to @p out (fewer at the end of the object;
 * none past it): file: read in place (confined like every read); http(s), astroquery: and s3:
 * one GET with a Range header (a 206 must carry the matching Content-Range; a server that
 * ignores ranges and answers 200 is accepted when the whole object is at most off + len
 * bytes, else ERR_TOO_LARGE). No digest is checked: a range is not the object.
 * @param[out] stat may be NULL: size = the whole object's size, etag and mtime when known
 * @return ERR_OK; ERR_INVALID (empty range, bad URI); the errors of storage_get_mem.
 */
NODISCARD enum err storage_get_range(struct storage *st, const char *uri, uint64_t off,
                                     size_t len, struct buf *out, struct storage_stat *stat,
                                     struct err_info *ei);

/**
 * Upload local file @p src_path to @p uri (file: or s3:; http(s) and astroquery are read-only:
 * ERR_UNSUPPORTED). file: creates missing parent directories inside the root and renames a
 * temporary into place; s3: single PUT up to the multipart threshold, else a multipart upload
 * that is aborted on failure (the key then keeps its previous content, if any).
 * @param[out] stat  may be NULL; size (and sum_hex if asked) of what was written
 */
NODISCARD enum err storage_put_file(struct storage *st, const char *uri, const char *src_path,
                                    const struct storage_xfer_opts *opts,
                                    struct storage_stat *stat, struct err_info *ei);

/** As storage_put_file, from @p len bytes at @p data (borrowed). */
NODISCARD enum err storage_put_mem(struct storage *st, const char *uri, const void *data,
                                   size_t len, const struct storage_xfer_opts *opts,
                                   struct storage_stat *stat, struct err_info *ei);

/**
 * Metadata of @p uri without its body (file: stat; http(s)/s3: HEAD; astroquery: HEAD on the
 * archive URL). @return ERR_OK, ERR_NOT_FOUND, and the errors of storage_get_file.
 */
NODISCARD enum err storage_head(struct storage *st, const char *uri, struct storage_stat *stat,
                                struct err_info *ei);

/**
 * Create the S3 bucket named by @p uri ("s3://bucket"); an existing bucket owned by us is
 * ERR_OK. For tests and first-time set-up. ERR_UNSUPPORTED for other schemes.
 */
NODISCARD enum err storage_make_bucket(struct storage *st, const char *uri, struct err_info *ei);

/** Delete @p uri (file: unlink; s3: DELETE). Deleting what is absent is ERR_OK. */
NODISCARD enum err storage_delete(struct storage *st, const char *uri, struct err_info *ei);

/**
 * Called once per listed object (storage_list: in lexicographic order of key/path;
 * storage_walk: in the order the source gives them). @p uri is the full URI
 * ("s3://b/k", "file:/abs/path") and @p stat its size/mtime/etag; both borrowed for the call.
 * Return ERR_OK to continue; any other value stops the listing and is returned by storage_list.
 */
typedef enum err (*storage_list_fn)(void *ud, const char *uri, const struct storage_stat *stat);

/**
 * List the objects whose key or path starts with the prefix in @p prefix_uri, recursively
 * (S3 ListObjectsV2 pages followed through continuation tokens; file: a directory walk of
 * regular files inside the roots, symlinks not followed). "s3://b/dir/" lists under dir/;
 * "file:/data/in/j8cb" lists files of /data/in whose relative path starts with "j8cb".
 * http(s) and astroquery: ERR_UNSUPPORTED. More than STORAGE_LIST_MAX entries: ERR_TOO_LARGE.
 */
NODISCARD enum err storage_list(struct storage *st, const char *prefix_uri, storage_list_fn fn,
                                void *ud, struct err_info *ei);

/** Options of storage_walk; zero = non-recursive, no scratch directory. */
struct storage_walk_opts {
    bool recursive;          /* file: descend into subdirectories; s3: every key under the
                                prefix (false: only keys directly under it, delimiter "/") */
    const char *scratch_dir; /* http(s) sources: the list is downloaded into a hidden scratch
                                file here (removed before the call returns), then read line by
                                line; required for http(s), unused otherwise (borrowed) */
};

/**
 * Stream the entries of a collection source to @p fn, with bounded memory whatever their
 * number: nothing is held beyond one S3 page, one open directory per level, one line.
 *  - file:/ABS/DIR: the regular files under the directory (confined to the data roots like
 *    storage_list: URIs are built on the directory's real path; symlinks are not followed;
 *    our own ".*.part.*" temporaries are skipped), in readdir order (not sorted), and those of
 *    subdirectories when recursive (depth <= STORAGE_LIST_DEPTH_MAX, deeper: ERR_TOO_LARGE).
 *    stat: size; mtime_ns = max(st_mtim, st_ctim), so a file renamed, chmod-ed or touched
 *    counts as changed; etag "".
 *  - s3://bucket[/prefix]: ListObjectsV2 pages followed through continuation tokens. The
 *    prefix names a "directory": "s3://b/raw" and "s3://b/raw/" both walk the keys under
 *    "raw/" ("s3://b" the whole bucket); non-recursive sends delimiter "/" (keys directly
 *    under the prefix; deeper "subdirectories" are not reported). stat: size, mtime_ns from
 *    LastModified, etag without quotes.
 *  - http(s)://...: the body is a list of URIs, one per line; it is downloaded to a scratch
 *    file under opts->scratch_dir (never held in memory) and read back line by line. Blank
 *    lines and lines starting with '#' are skipped, surrounding blanks and CR trimmed. Each
 *    URI must pass storage_uri_parse: a bad line stops the walk with ERR_INVALID naming its
 *    line number; a line longer than STORAGE_URI_MAX bytes: ERR_TOO_LARGE naming it. stat is
 *    all zero (unknown). The URIs are reported as written, not confined or checked further.
 * Entries are reported as they are found: a source failing half-way returns its error after
 * the entries reported so far. @p fn returning non-OK stops the walk with that value.
 * @param[in] opts  may be NULL (non-recursive)
 * @return ERR_OK; ERR_NOT_FOUND missing directory, bucket or list URL; ERR_INVALID bad URI,
 *         file: source not a directory, http(s) without scratch_dir, bad list line;
 *         ERR_FORBIDDEN outside the data roots; ERR_UNSUPPORTED another scheme;
 *         ERR_TOO_LARGE more than STORAGE_WALK_MAX entries, too deep, over-long line; the
 *         errors of storage_get_file for the requests made; or the value @p fn returned
 */
NODISCARD enum err storage_walk(struct storage *st, const char *source_uri,
                                const struct storage_walk_opts *opts, storage_list_fn fn,
                                void *ud, struct err_info *ei);

/**
 * Confine a file: URI (or bare path) to the data roots and return the absolute local path.
 * For reads (@p for_write false) the target must exist and its real path (all symlinks
 * resolved) must lie inside a root. For writes the deepest existing ancestor's real path must
 * lie inside a root, and no component may be "..". Useful to callers that need the path
 * itself (extracting a tarball into an output directory, globbing).
 * @param[out] out  @p cap bytes; written only on success
 * @return ERR_OK; ERR_FORBIDDEN (outside the roots, "..", symlink escape, no roots
 *         configured); ERR_NOT_FOUND (read of a missing path); ERR_INVALID (not a file: URI);
 *         ERR_TOO_LARGE (path longer than @p cap)
 */
NODISCARD enum err storage_local_path(struct storage *st, const char *uri, bool for_write,
                                      char *out, size_t cap, struct err_info *ei);

/**
 * The archive URL for astroquery product @p name (template with "{name}" replaced).
 * @return ERR_OK, ERR_INVALID (bad name), ERR_TOO_LARGE (over @p cap)
 */
NODISCARD enum err storage_archive_url(const struct storage *st, const char *name, char *out,
                                       size_t cap, struct err_info *ei);

#endif
