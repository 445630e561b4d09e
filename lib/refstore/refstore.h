/* refstore.h - calibration reference files from a reference store, as CALDP's configurations
 * find them (/grp/crds/cache, the CRDS server, an S3 bucket): a source in the CRDS cache
 * layout (<source>/references/<observatory>/<name>, or .../<observatory>/<instrument>/<name>)
 * fetched on demand through lib/storage into a bounded local cache directory:
 *   - one download per file however many threads ask at once (single flight: the others wait
 *     for the fetch in progress and share its outcome);
 *   - the digest is checked when the caller knows it (CRDS catalogs carry sha1sum; ours may
 *     carry sha1 or sha256), and every file must be a complete FITS file (each HDU's header
 *     and data present) before it is placed;
 *   - placed atomically (temporary in <cache>/.tmp, then rename), so the cache survives
 *     restarts: refstore_create indexes what is there (oldest modification first);
 *   - size-capped with least-recently-used eviction that never removes a pinned file (one a
 *     caller is using). Pinned files may hold the cache above its cap until they are unpinned.
 * The cache itself has the CRDS layout (<cache>/references/<observatory>/<name>), so it can be
 * handed to CRDS tools or used as another store's file: source.
 *
 * Threading: a struct refstore is shared by all threads of a process; every function is
 * thread-safe. The module reads no environment and prints nothing.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_REFSTORE_REFSTORE_H
#define OBSFLOW_REFSTORE_REFSTORE_H

#include "core/compiler.h"
#include "core/err.h"
#include "storage/storage.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REFSTORE_NAME_MAX     128 /* reference file name bytes ([A-Za-z0-9._-], no leading .) */
#define REFSTORE_PATH_MAX     4096
#define REFSTORE_FILES_MAX    100000 /* files the cache indexes */
#define REFSTORE_DEFAULT_MAX  ((uint64_t)10 << 30) /* default cap: 10 GiB */
#define REFSTORE_SUM_MAX      72 /* "sha256:" + 64 hex + NUL fits */
#define REFSTORE_CACHE_SUBDIR "reference-cache" /* default cache: <work dir>/reference-cache */

/** How a store is set up. Strings borrowed and copied by refstore_create. */
struct refstore_config {
    /* the source: file:DIR, http(s)://host/base, s3://bucket[/prefix]; the root of a CRDS
     * cache layout (for the CRDS server: https://hst-crds.stsci.edu/unchecked_get) */
    const char *uri;
    const char *cache_dir;   /* local cache directory (created when missing) */
    uint64_t max_bytes;      /* cap on the cached bytes; 0 = REFSTORE_DEFAULT_MAX */
    const char *observatory; /* CRDS observatory directory; NULL = "hst" */
    const struct storage_s3_config *s3; /* s3:// sources; NULL = anonymous defaults */
    int max_attempts;        /* per request (transient failures retried); 0 = storage default */
    long total_timeout_ms;   /* per request attempt; 0 = storage default */
    /* tests: called on the fetching thread right before each download starts (counts
     * fetches, holds one open while others arrive); NULL = none */
    void (*fetch_hook)(void *ud, const char *name);
    void *fetch_hook_ud;
};

struct refstore;

/**
 * Create a store: check the source URI, create the cache directory, remove temporaries a
 * killed process left in <cache>/.tmp, index the files already cached and evict down to the
 * cap. Nothing is fetched yet.
 * @param[out] out  owned (refstore_destroy); written only on success
 * @return ERR_OK; ERR_INVALID (bad URI or scheme, no cache directory, bad observatory);
 *         ERR_IO (the cache cannot be created or read); ERR_NOMEM
 */
NODISCARD enum err refstore_create(const struct refstore_config *cfg, struct refstore **out,
                                   struct err_info *ei);

/** Destroy a store (files stay in the cache). Every pin must have been released; NULL is a
 *  no-op. */
void refstore_destroy(struct refstore *rs);

/** A reference file held in the cache for a caller: it is not evicted while pinned. */
struct refstore_pin;

/** Cancellation of a request: fn(ud) returns true when the caller wants to stop. It may be
 *  called with the store's lock held: it must be quick and must not call the store. */
struct refstore_cancel {
    bool (*fn)(void *ud);
    void *ud;
};

/**
 * The local path of reference @p name, fetched into the cache first when it is not there.
 * Tries <source>/references/<obs>/<name>, then (only when that is missing and @p instrument
 * is given) <source>/references/<obs>/<instrument>/<name>.
 * @param instrument  lower-case instrument ("acs") or NULL
 * @param sum         expected digest, "sha1:HEX", "sha256:HEX" or bare hex (40 digits sha1, 64
 *                    sha256), or NULL; a fetched file that differs is refused and not cached;
 *                    a cached copy that differs is dropped and fetched again
 * @param cancel      may be NULL; checked every 100 ms while waiting for another thread's
 *                    download (a cancelled waiter returns, the download goes on for the
 *                    others) and per transferred chunk of this thread's own download (which
 *                    then stops and caches nothing; the threads that waited on it fetch the
 *                    file themselves)
 * @param[out] out    pinned handle (owned; refstore_unpin); written only on success
 * @return ERR_OK; ERR_CANCELLED; ERR_INVALID (bad name or digest); ERR_NOT_FOUND (no such reference in the
 *         source); ERR_CHECKSUM (digest differs); ERR_FITS (not a complete FITS file);
 *         ERR_TOO_LARGE (larger than the whole cache); the transfer errors of storage_get_file
 *         (ERR_UNAVAILABLE, ERR_TIMEOUT, ERR_HTTP, ERR_STORAGE, ERR_FORBIDDEN, ...); ERR_IO
 *         (the cache); ERR_NOMEM. Threads waiting on one fetch get its outcome.
 */
NODISCARD enum err refstore_get(struct refstore *rs, const char *instrument, const char *name,
                                const char *sum, const struct refstore_cancel *cancel,
                                struct refstore_pin **out, struct err_info *ei);

/** Path of the pinned file (borrowed; valid until refstore_unpin). */
const char *refstore_pin_path(const struct refstore_pin *p);

/** Release a pin (NULL is a no-op); the cache then evicts down to its cap if it is over. */
void refstore_unpin(struct refstore_pin *p);

/** Counters of a store since it was created (a consistent snapshot). */
struct refstore_stats {
    uint64_t hits;        /* refstore_get answered from the cache */
    uint64_t misses;      /* refstore_get that started a download */
    uint64_t waits;       /* refstore_get that waited for another thread's download */
    uint64_t fetches;     /* downloads completed and placed */
    uint64_t fetch_failures; /* downloads that failed (not found, digest, transfer...) */
    uint64_t evictions;   /* files removed to keep the cap */
    uint64_t files;       /* files in the cache now */
    uint64_t bytes;       /* their total size */
    uint64_t pinned;      /* pins held now */
    uint64_t max_bytes;   /* the cap */
};

void refstore_stats_get(struct refstore *rs, struct refstore_stats *out);

/** The source URI (borrowed, as configured) and the cache directory (absolute). */
const char *refstore_uri(const struct refstore *rs);
const char *refstore_cache_dir(const struct refstore *rs);

/**
 * Parse a cache size: decimal bytes with an optional binary suffix K, M, G or T (also KiB,
 * MiB, GiB, TiB; case-insensitive), e.g. "10GiB", "500M", "1048576". 1 byte .. 2^60.
 * @return ERR_OK; ERR_INVALID naming the text
 */
NODISCARD enum err refstore_size_parse(const char *s, uint64_t *out, struct err_info *ei);

/**
 * Check that the file at @p path is a complete FITS file: every HDU's header ends with END and
 * its data (BITPIX, NAXISn, PCOUNT, GCOUNT) is present, padded to 2880 bytes; trailing bytes
 * after the last HDU may only be blank blocks.
 * @return ERR_OK; ERR_FITS naming what is wrong and where; ERR_IO
 */
NODISCARD enum err refstore_fits_check_file(const char *path, struct err_info *ei);

#endif
