/* refstore.c - the reference cache: index, single-flight fetches, digests, LRU eviction and
 * pins. One mutex guards the index; downloads, digests and FITS checks run outside it.
 * SPDX-License-Identifier: Apache-2.0 */
#include "refstore_int.h"

#include "core/rand.h"
#include "core/str.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OBS_MAX 32

enum sum_kind { SUM_NONE = 0, SUM_SHA1, SUM_SHA256 };

/* A download in progress, shared by the thread that runs it and the threads waiting for it. */
struct flight {
    int refs; /* the fetcher and each waiter */
    bool done;
    enum err rc;
    struct err_info ei;
};

/* One cached (or being fetched) file. */
struct entry {
    struct entry *prev, *next;
    char name[REFSTORE_NAME_MAX + 1];
    uint64_t size;
    uint64_t tick;          /* last use: larger = more recent */
    unsigned pins;
    bool ready;             /* the file is in place */
    struct flight *flight;  /* non-NULL while it is being fetched */
    char sha1[41];          /* lower-case hex, "" = not computed */
    char sha256[65];
};

struct refstore_pin {
    struct refstore *rs;
    struct entry *e;
    char path[REFSTORE_PATH_MAX];
};

struct refstore {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct storage *st;
    struct storage_uri src;          /* the parsed source */
    char uri[STORAGE_URI_MAX];       /* as configured */
    char obs[OBS_MAX];
    char cache[REFSTORE_PATH_MAX];   /* absolute */
    char refdir[REFSTORE_PATH_MAX];  /* <cache>/references/<obs> */
    char tmpdir[REFSTORE_PATH_MAX];  /* <cache>/.tmp */
    struct entry *head;              /* all entries (no order) */
    size_t nentries;
    uint64_t tick;
    struct refstore_stats stats;     /* files, bytes, pinned kept current */
    void (*fetch_hook)(void *ud, const char *name);
    void *fetch_hook_ud;
};

/* ---- small helpers ----------------------------------------------------------------------- */

static bool name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || s[0] == '.') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '.' && c != '_' && c != '-') {
            return false;
        }
    }
    return true;
}

static enum err mkdirs(const char *path, struct err_info *ei)
{
    char p[REFSTORE_PATH_MAX];
    if (!str_copy(p, sizeof p, path)) {
        return err_set(ei, ERR_TOO_LARGE, "cache path too long");
    }
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                return err_set(ei, ERR_IO, "cannot create directory \"%s\" (errno %d)", p,
                               errno);
            }
            *s = c;
            if (c == '\0') {
                break;
            }
        }
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        return err_set(ei, ERR_IO, "\"%s\" is not a directory", path);
    }
    return ERR_OK;
}

/* "sha1:HEX", "sha256:HEX" or bare hex (40 / 64 digits) -> kind and lower-case hex. */
static enum err parse_sum(const char *s, enum sum_kind *kind, char hex[65], struct err_info *ei)
{
    const char *h = s;
    size_t want = 0;
    if (strncasecmp(s, "sha1:", 5) == 0) {
        h = s + 5;
        want = 40;
    } else if (strncasecmp(s, "sha256:", 7) == 0) {
        h = s + 7;
        want = 64;
    }
    size_t n = strlen(h);
    if (want ? n != want : (n != 40 && n != 64)) {
        return err_set(ei, ERR_INVALID, "checksum \"%.80s\" is not sha1 (40 hex digits) or "
                                        "sha256 (64)", s);
    }
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)h[i])) {
            return err_set(ei, ERR_INVALID, "checksum \"%.80s\" is not hexadecimal", s);
        }
        hex[i] = (char)tolower((unsigned char)h[i]);
    }
    hex[n] = '\0';
    *kind = n == 40 ? SUM_SHA1 : SUM_SHA256;
    return ERR_OK;
}

/* SHA-1 and SHA-256 of a file in one pass. */
static enum err digest_file(const char *path, char sha1[41], char sha256[65], struct err_info *ei)
{
    enum err e = ERR_OK;
    EVP_MD_CTX *c1 = EVP_MD_CTX_new(), *c2 = EVP_MD_CTX_new();
    unsigned char *buf = malloc(1 << 16);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (!c1 || !c2 || !buf) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    if (fd < 0) {
        e = err_set(ei, ERR_IO, "cannot open \"%s\" (errno %d)", path, errno);
        goto out;
    }
    if (EVP_DigestInit_ex(c1, EVP_sha1(), NULL) != 1 ||
        EVP_DigestInit_ex(c2, EVP_sha256(), NULL) != 1) {
        e = err_set(ei, ERR_INTERNAL, "digest initialisation failed");
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, buf, 1 << 16);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            e = err_set(ei, ERR_IO, "cannot read \"%s\" (errno %d)", path, errno);
            goto out;
        }
        if (r == 0) {
            break;
        }
        if (EVP_DigestUpdate(c1, buf, (size_t)r) != 1 ||
            EVP_DigestUpdate(c2, buf, (size_t)r) != 1) {
            e = err_set(ei, ERR_INTERNAL, "digest failed");
            goto out;
        }
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(c1, md, &len) != 1 || len != 20) {
        e = err_set(ei, ERR_INTERNAL, "digest failed");
        goto out;
    }
    for (unsigned i = 0; i < len; i++) {
        snprintf(sha1 + 2 * i, 3, "%02x", md[i]);
    }
    if (EVP_DigestFinal_ex(c2, md, &len) != 1 || len != 32) {
        e = err_set(ei, ERR_INTERNAL, "digest failed");
        goto out;
    }
    for (unsigned i = 0; i < len; i++) {
        snprintf(sha256 + 2 * i, 3, "%02x", md[i]);
    }
out:
    if (fd >= 0) {
        close(fd);
    }
    free(buf);
    EVP_MD_CTX_free(c1);
    EVP_MD_CTX_free(c2);
    return e;
}

static void entry_path(const struct refstore *rs, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", rs->refdir, name);
}

static struct entry *find(struct refstore *rs, const char *name)
{
    for (struct entry *e = rs->head; e; e = e->next) {
        if (strcmp(e->name, name) == 0) {
            return e;
        }
    }
    return NULL;
}

static void link_entry(struct refstore *rs, struct entry *e)
{
    e->prev = NULL;
    e->next = rs->head;
    if (rs->head) {
        rs->head->prev = e;
    }
    rs->head = e;
    rs->nentries++;
}

static void unlink_entry(struct refstore *rs, struct entry *e)
{
    if (e->prev) {
        e->prev->next = e->next;
    } else {
        rs->head = e->next;
    }
    if (e->next) {
        e->next->prev = e->prev;
    }
    rs->nentries--;
}

/* Drop a ready, unpinned entry and its file. Called with the lock held. */
static void drop_locked(struct refstore *rs, struct entry *e)
{
    char p[REFSTORE_PATH_MAX];
    entry_path(rs, e->name, p, sizeof p);
    (void)unlink(p);
    unlink_entry(rs, e);
    rs->stats.bytes -= e->size;
    rs->stats.files--;
    free(e);
}

/* Evict least recently used unpinned files until the cache is within its cap (or only pinned
 * files are left). Called with the lock held. */
static void evict_locked(struct refstore *rs)
{
    while (rs->stats.bytes > rs->stats.max_bytes) {
        struct entry *lru = NULL;
        for (struct entry *e = rs->head; e; e = e->next) {
            if (e->ready && e->pins == 0 && (!lru || e->tick < lru->tick)) {
                lru = e;
            }
        }
        if (!lru) {
            return; /* everything left is in use */
        }
        drop_locked(rs, lru);
        rs->stats.evictions++;
    }
}

/* ---- create / destroy -------------------------------------------------------------------- */

struct scanned {
    char name[REFSTORE_NAME_MAX + 1];
    uint64_t size;
    int64_t mtime_ns;
};

static int by_mtime(const void *a, const void *b)
{
    const struct scanned *x = a, *y = b;
    if (x->mtime_ns != y->mtime_ns) {
        return x->mtime_ns < y->mtime_ns ? -1 : 1;
    }
    return strcmp(x->name, y->name);
}

/* Remove leftovers of interrupted downloads. */
static void clean_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        char p[REFSTORE_PATH_MAX];
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, de->d_name) < sizeof p) {
            (void)unlink(p);
        }
    }
    closedir(d);
}

/* Index what an earlier process left in the cache, oldest first. */
static enum err scan_cache(struct refstore *rs, struct err_info *ei)
{
    DIR *d = opendir(rs->refdir);
    struct scanned *v = NULL;
    size_t n = 0, cap = 0;
    enum err e = ERR_OK;
    if (!d) {
        return err_set(ei, ERR_IO, "cannot read \"%s\" (errno %d)", rs->refdir, errno);
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct stat sb;
        char p[REFSTORE_PATH_MAX];
        if (!name_ok(de->d_name, REFSTORE_NAME_MAX)) {
            continue;
        }
        entry_path(rs, de->d_name, p, sizeof p);
        if (lstat(p, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            continue;
        }
        if (n >= REFSTORE_FILES_MAX) {
            e = err_set(ei, ERR_TOO_LARGE, "cache \"%s\" holds more than %d files", rs->refdir,
                        REFSTORE_FILES_MAX);
            goto out;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            struct scanned *nv = realloc(v, nc * sizeof *v);
            if (!nv) {
                e = err_set(ei, ERR_NOMEM, "out of memory");
                goto out;
            }
            v = nv;
            cap = nc;
        }
        str_copy(v[n].name, sizeof v[n].name, de->d_name);
        v[n].size = (uint64_t)sb.st_size;
        v[n].mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
        n++;
    }
    if (n > 1) {
        qsort(v, n, sizeof *v, by_mtime);
    }
    for (size_t i = 0; i < n; i++) {
        struct entry *en = calloc(1, sizeof *en);
        if (!en) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
            goto out;
        }
        str_copy(en->name, sizeof en->name, v[i].name);
        en->size = v[i].size;
        en->tick = ++rs->tick;
        en->ready = true;
        link_entry(rs, en);
        rs->stats.files++;
        rs->stats.bytes += en->size;
    }
out:
    free(v);
    closedir(d);
    return e;
}

enum err refstore_create(const struct refstore_config *cfg, struct refstore **out,
                         struct err_info *ei)
{
    struct refstore *rs = NULL;
    enum err e;
    bool mu = false, cv = false;
    if (!cfg || !cfg->uri || !*cfg->uri) {
        return err_set_field(ei, ERR_INVALID, "uri", "no reference store URI");
    }
    if (!cfg->cache_dir || !*cfg->cache_dir) {
        return err_set_field(ei, ERR_INVALID, "cache_dir", "no reference cache directory");
    }
    rs = calloc(1, sizeof *rs);
    if (!rs) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    e = storage_uri_parse(cfg->uri, &rs->src, ei);
    if (e != ERR_OK) {
        err_prefix(ei, "reference store URI: ");
        e = ERR_INVALID;
        goto fail;
    }
    if (rs->src.scheme == STORAGE_ASTROQUERY) {
        e = err_set_field(ei, ERR_INVALID, "uri",
                          "reference store URI must be file:, http(s):// or s3://, not %s",
                          storage_scheme_name(rs->src.scheme));
        goto fail;
    }
    str_copy(rs->uri, sizeof rs->uri, cfg->uri);
    const char *obs = cfg->observatory ? cfg->observatory : "hst";
    if (!name_ok(obs, OBS_MAX - 1)) {
        e = err_set_field(ei, ERR_INVALID, "observatory", "bad observatory name \"%.40s\"", obs);
        goto fail;
    }
    str_copy(rs->obs, sizeof rs->obs, obs);
    /* trailing slashes of the source are not part of the layout */
    char *tail = rs->src.scheme == STORAGE_FILE ? rs->src.path
                 : rs->src.scheme == STORAGE_S3 ? rs->src.key
                                                : rs->src.url;
    for (size_t n = strlen(tail); n > 1 && tail[n - 1] == '/'; n--) {
        tail[n - 1] = '\0';
    }
    if (rs->src.scheme == STORAGE_S3 && strcmp(rs->src.key, "/") == 0) {
        rs->src.key[0] = '\0';
    }
    if (rs->src.scheme == STORAGE_FILE && rs->src.path[0] != '/') {
        e = err_set_field(ei, ERR_INVALID, "uri", "file: reference store must be an absolute "
                                                  "directory");
        goto fail;
    }
    char cache[REFSTORE_PATH_MAX];
    if (cfg->cache_dir[0] != '/') {
        char cwd[REFSTORE_PATH_MAX];
        if (!getcwd(cwd, sizeof cwd) ||
            (size_t)snprintf(cache, sizeof cache, "%s/%s", cwd, cfg->cache_dir) >= sizeof cache) {
            e = err_set_field(ei, ERR_INVALID, "cache_dir", "cache directory path too long");
            goto fail;
        }
    } else if (!str_copy(cache, sizeof cache, cfg->cache_dir)) {
        e = err_set_field(ei, ERR_INVALID, "cache_dir", "cache directory path too long");
        goto fail;
    }
    str_copy(rs->cache, sizeof rs->cache, cache);
    if ((size_t)snprintf(rs->refdir, sizeof rs->refdir, "%s/references/%s", cache, rs->obs) >=
            sizeof rs->refdir - REFSTORE_NAME_MAX - 2 ||
        (size_t)snprintf(rs->tmpdir, sizeof rs->tmpdir, "%s/.tmp", cache) >=
            sizeof rs->tmpdir - REFSTORE_NAME_MAX - 40) {
        e = err_set_field(ei, ERR_INVALID, "cache_dir", "cache directory path too long");
        goto fail;
    }
    e = mkdirs(rs->refdir, ei);
    if (e == ERR_OK) {
        e = mkdirs(rs->tmpdir, ei);
    }
    if (e != ERR_OK) {
        goto fail;
    }
    rs->stats.max_bytes = cfg->max_bytes ? cfg->max_bytes : REFSTORE_DEFAULT_MAX;
    struct storage_config sc = {
        .data_roots = rs->src.scheme == STORAGE_FILE ? rs->src.path : NULL,
        .s3 = cfg->s3,
        .max_object_size = rs->stats.max_bytes,
        .max_attempts = cfg->max_attempts,
        .total_timeout_ms = cfg->total_timeout_ms,
    };
    e = storage_create(&sc, &rs->st, ei);
    if (e != ERR_OK) {
        err_prefix(ei, "reference store %s: ", cfg->uri);
        goto fail;
    }
    if (pthread_mutex_init(&rs->mu, NULL) != 0) {
        e = err_set(ei, ERR_NOMEM, "cannot create a mutex");
        goto fail;
    }
    mu = true;
    if (pthread_cond_init(&rs->cv, NULL) != 0) {
        e = err_set(ei, ERR_NOMEM, "cannot create a condition variable");
        goto fail;
    }
    cv = true;
    rs->fetch_hook = cfg->fetch_hook;
    rs->fetch_hook_ud = cfg->fetch_hook_ud;
    clean_tmp(rs->tmpdir);
    e = scan_cache(rs, ei);
    if (e != ERR_OK) {
        goto fail;
    }
    evict_locked(rs); /* the cap may have been lowered since the last run */
    *out = rs;
    return ERR_OK;
fail:
    while (rs->head) {
        struct entry *en = rs->head;
        unlink_entry(rs, en);
        free(en);
    }
    if (cv) {
        pthread_cond_destroy(&rs->cv);
    }
    if (mu) {
        pthread_mutex_destroy(&rs->mu);
    }
    storage_destroy(rs->st);
    free(rs);
    return e;
}

void refstore_destroy(struct refstore *rs)
{
    if (!rs) {
        return;
    }
    while (rs->head) {
        struct entry *en = rs->head;
        unlink_entry(rs, en);
        free(en);
    }
    pthread_cond_destroy(&rs->cv);
    pthread_mutex_destroy(&rs->mu);
    storage_destroy(rs->st);
    free(rs);
}

const char *refstore_uri(const struct refstore *rs)
{
    return rs->uri;
}

const char *refstore_cache_dir(const struct refstore *rs)
{
    return rs->cache;
}

void refstore_stats_get(struct refstore *rs, struct refstore_stats *out)
{
    pthread_mutex_lock(&rs->mu);
    *out = rs->stats;
    pthread_mutex_unlock(&rs->mu);
}

/* ---- fetching ---------------------------------------------------------------------------- */

/* The source URI of @p name, flat (@p sub NULL) or under an instrument directory. */
static enum err source_uri(const struct refstore *rs, const char *sub, const char *name,
                           char *out, size_t cap, struct err_info *ei)
{
    char rel[REFSTORE_PATH_MAX];
    snprintf(rel, sizeof rel, "references/%s/%s%s%s", rs->obs, sub ? sub : "", sub ? "/" : "",
             name);
    size_t n;
    switch (rs->src.scheme) {
    case STORAGE_FILE:
        n = (size_t)snprintf(out, cap, "file:%s/%s", rs->src.path, rel);
        break;
    case STORAGE_S3:
        n = (size_t)snprintf(out, cap, "s3://%s/%s%s%s", rs->src.bucket, rs->src.key,
                             rs->src.key[0] ? "/" : "", rel);
        break;
    default:
        n = (size_t)snprintf(out, cap, "%s/%s", rs->src.url, rel);
        break;
    }
    if (n >= cap) {
        return err_set(ei, ERR_TOO_LARGE, "reference URI too long");
    }
    return ERR_OK;
}

static bool cancelled(const struct refstore_cancel *c)
{
    return c && c->fn && c->fn(c->ud);
}

/* storage's progress callback: false stops the transfer */
static bool go_on(void *ud, uint64_t done, uint64_t total)
{
    (void)done;
    (void)total;
    return !cancelled(ud);
}

/* Download @p name into the cache (temporary, checks, rename). On success the digests and
 * size are filled in. Runs without the lock. */
static enum err fetch(struct refstore *rs, const char *instrument, const char *name,
                      enum sum_kind kind, const char *want, const struct refstore_cancel *cancel,
                      struct entry *out, struct err_info *ei)
{
    char tmp[REFSTORE_PATH_MAX], dst[REFSTORE_PATH_MAX], uri[STORAGE_URI_MAX];
    struct storage_stat sst;
    struct refstore_cancel cc = {.fn = cancel ? cancel->fn : NULL,
                                 .ud = cancel ? cancel->ud : NULL};
    struct storage_xfer_opts xo = {.progress = cc.fn ? go_on : NULL, .progress_ud = &cc};
    enum err e;
    bool placed = false;
    snprintf(tmp, sizeof tmp, "%s/%s.%016llx", rs->tmpdir, name, (unsigned long long)rand_u64());
    entry_path(rs, name, dst, sizeof dst);
    if (rs->fetch_hook) {
        rs->fetch_hook(rs->fetch_hook_ud, name);
    }
    e = source_uri(rs, NULL, name, uri, sizeof uri, ei);
    if (e == ERR_OK) {
        e = storage_get_file(rs->st, uri, tmp, &xo, &sst, ei);
    }
    if (e == ERR_NOT_FOUND && instrument && *instrument) {
        struct err_info flat = *ei;
        e = source_uri(rs, instrument, name, uri, sizeof uri, ei);
        if (e == ERR_OK) {
            e = storage_get_file(rs->st, uri, tmp, &xo, &sst, ei);
        }
        if (e == ERR_NOT_FOUND) {
            *ei = flat;
        }
    }
    if (e == ERR_NOT_FOUND) {
        e = err_set(ei, ERR_NOT_FOUND, "reference %s is not in the reference store %s", name,
                    rs->uri);
        goto out;
    }
    if (e == ERR_CANCELLED) {
        e = err_set(ei, ERR_CANCELLED, "download of reference %s cancelled", name);
        goto out;
    }
    if (e != ERR_OK) {
        err_prefix(ei, "reference %s from %s: ", name, rs->uri);
        goto out;
    }
    e = refstore_fits_check_file(tmp, ei);
    if (e != ERR_OK) {
        err_prefix(ei, "reference %s from %s: ", name, rs->uri);
        goto out;
    }
    e = digest_file(tmp, out->sha1, out->sha256, ei);
    if (e != ERR_OK) {
        goto out;
    }
    if (kind != SUM_NONE && strcmp(kind == SUM_SHA1 ? out->sha1 : out->sha256, want) != 0) {
        e = err_set(ei, ERR_CHECKSUM, "reference %s from %s: %s %s, the catalog says %s", name,
                    rs->uri, kind == SUM_SHA1 ? "sha1" : "sha256",
                    kind == SUM_SHA1 ? out->sha1 : out->sha256, want);
        goto out;
    }
    if (rename(tmp, dst) != 0) {
        e = err_set(ei, ERR_IO, "cannot place reference %s in the cache (errno %d)", name,
                    errno);
        goto out;
    }
    placed = true;
    int dfd = open(rs->refdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    out->size = sst.size;
out:
    if (!placed) {
        (void)unlink(tmp);
    }
    return e;
}

static void flight_release_locked(struct flight *f)
{
    if (--f->refs == 0) {
        free(f);
    }
}

enum err refstore_get(struct refstore *rs, const char *instrument, const char *name,
                      const char *sum, const struct refstore_cancel *cancel,
                      struct refstore_pin **out, struct err_info *ei)
{
    enum sum_kind kind = SUM_NONE;
    char want[65] = "";
    enum err e;
    bool waited = false;
    if (!name || !name_ok(name, REFSTORE_NAME_MAX)) {
        return err_set_field(ei, ERR_INVALID, "name", "bad reference file name \"%.140s\"",
                             name ? name : "");
    }
    if (instrument && *instrument && !name_ok(instrument, 32)) {
        return err_set_field(ei, ERR_INVALID, "instrument", "bad instrument \"%.40s\"",
                             instrument);
    }
    if (sum && *sum && (e = parse_sum(sum, &kind, want, ei)) != ERR_OK) {
        return e;
    }
    struct refstore_pin *pin = calloc(1, sizeof *pin);
    if (!pin) {
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    pin->rs = rs;
    entry_path(rs, name, pin->path, sizeof pin->path);
    pthread_mutex_lock(&rs->mu);
    for (;;) {
        struct entry *en = find(rs, name);
        if (en && en->ready) {
            const char *have = kind == SUM_SHA1 ? en->sha1 : en->sha256;
            if (kind != SUM_NONE && !have[0]) {
                /* indexed at start: digest the cached copy once, pinned, without the lock */
                char s1[41], s256[65];
                struct err_info dei;
                en->pins++;
                rs->stats.pinned++;
                pthread_mutex_unlock(&rs->mu);
                e = digest_file(pin->path, s1, s256, &dei);
                pthread_mutex_lock(&rs->mu);
                en->pins--;
                rs->stats.pinned--;
                if (e != ERR_OK && en->pins == 0) {
                    drop_locked(rs, en); /* unreadable: fetch it again */
                    continue;
                }
                if (e != ERR_OK) {
                    pthread_mutex_unlock(&rs->mu);
                    free(pin);
                    if (ei) {
                        *ei = dei;
                    }
                    return e;
                }
                str_copy(en->sha1, sizeof en->sha1, s1);
                str_copy(en->sha256, sizeof en->sha256, s256);
                continue;
            }
            if (kind != SUM_NONE && strcmp(have, want) != 0) {
                if (en->pins == 0) {
                    drop_locked(rs, en); /* the catalog says otherwise: fetch it again */
                    continue;
                }
                e = err_set(ei, ERR_CHECKSUM, "cached reference %s has %s %s, the catalog says "
                                              "%s (in use, not replaced)",
                            name, kind == SUM_SHA1 ? "sha1" : "sha256", have, want);
                pthread_mutex_unlock(&rs->mu);
                free(pin);
                return e;
            }
            /* touched, so that the LRU order survives restarts; a file removed behind the
             * store's back (someone cleaned the cache) is forgotten and fetched again */
            if (utimensat(AT_FDCWD, pin->path, NULL, 0) != 0 && errno == ENOENT) {
                if (en->pins > 0) {
                    pthread_mutex_unlock(&rs->mu);
                    free(pin);
                    return err_set(ei, ERR_IO, "cached reference %s was removed while in use",
                                   name);
                }
                drop_locked(rs, en);
                continue;
            }
            en->pins++;
            en->tick = ++rs->tick;
            rs->stats.pinned++;
            if (!waited) {
                rs->stats.hits++;
            }
            pthread_mutex_unlock(&rs->mu);
            pin->e = en;
            *out = pin;
            return ERR_OK;
        }
        if (en && en->flight) {
            struct flight *f = en->flight;
            f->refs++;
            rs->stats.waits++;
            waited = true;
            bool gave_up = false;
            while (!f->done && !(gave_up = cancelled(cancel))) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 100 * 1000000L;
                if (ts.tv_nsec >= 1000000000L) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000L;
                }
                (void)pthread_cond_timedwait(&rs->cv, &rs->mu, &ts);
            }
            e = gave_up ? ERR_CANCELLED : f->rc;
            if (e != ERR_OK && ei) {
                *ei = f->ei;
            }
            flight_release_locked(f);
            if (gave_up) {
                pthread_mutex_unlock(&rs->mu);
                free(pin);
                return err_set(ei, ERR_CANCELLED, "cancelled while waiting for reference %s",
                               name);
            }
            if (e == ERR_CANCELLED) {
                continue; /* its fetcher was cancelled, not this caller: fetch it here */
            }
            if (e != ERR_OK) {
                pthread_mutex_unlock(&rs->mu);
                free(pin);
                return e;
            }
            continue; /* normally ready now (unless evicted meanwhile: then fetched again) */
        }
        break;
    }
    if (cancelled(cancel)) {
        pthread_mutex_unlock(&rs->mu);
        free(pin);
        return err_set(ei, ERR_CANCELLED, "cancelled before fetching reference %s", name);
    }
    /* a miss: this thread fetches, others wait on its flight */
    if (rs->nentries >= REFSTORE_FILES_MAX) {
        pthread_mutex_unlock(&rs->mu);
        free(pin);
        return err_set(ei, ERR_TOO_LARGE, "the reference cache indexes %d files already",
                       REFSTORE_FILES_MAX);
    }
    struct entry *en = calloc(1, sizeof *en);
    struct flight *f = calloc(1, sizeof *f);
    if (!en || !f) {
        pthread_mutex_unlock(&rs->mu);
        free(en);
        free(f);
        free(pin);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    str_copy(en->name, sizeof en->name, name);
    en->flight = f;
    f->refs = 1;
    link_entry(rs, en);
    rs->stats.misses++;
    pthread_mutex_unlock(&rs->mu);

    struct err_info fei;
    err_info_clear(&fei);
    e = fetch(rs, instrument, name, kind, want, cancel, en, &fei);

    pthread_mutex_lock(&rs->mu);
    en->flight = NULL;
    f->done = true;
    f->rc = e;
    f->ei = fei;
    if (e == ERR_OK) {
        en->ready = true;
        en->pins = 1;
        en->tick = ++rs->tick;
        rs->stats.fetches++;
        rs->stats.files++;
        rs->stats.bytes += en->size;
        rs->stats.pinned++;
        evict_locked(rs);
        pin->e = en;
    } else {
        unlink_entry(rs, en);
        free(en);
        rs->stats.fetch_failures++;
    }
    flight_release_locked(f);
    pthread_cond_broadcast(&rs->cv);
    pthread_mutex_unlock(&rs->mu);
    if (e != ERR_OK) {
        if (ei) {
            *ei = fei;
        }
        free(pin);
        return e;
    }
    *out = pin;
    return ERR_OK;
}

const char *refstore_pin_path(const struct refstore_pin *p)
{
    return p->path;
}

void refstore_unpin(struct refstore_pin *p)
{
    if (!p) {
        return;
    }
    struct refstore *rs = p->rs;
    pthread_mutex_lock(&rs->mu);
    p->e->pins--;
    rs->stats.pinned--;
    evict_locked(rs);
    pthread_mutex_unlock(&rs->mu);
    free(p);
}

enum err refstore_size_parse(const char *s, uint64_t *out, struct err_info *ei)
{
    uint64_t v = 0;
    size_t i = 0;
    if (!s) {
        s = "";
    }
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        if (v > (UINT64_C(1) << 60)) {
            break;
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    static const struct {
        const char *suffix;
        unsigned shift;
    } units[] = {{"", 0},     {"b", 0},      {"k", 10},     {"kib", 10}, {"m", 20},
                 {"mib", 20}, {"g", 30},     {"gib", 30},   {"t", 40},   {"tib", 40}};
    bool ok = i > 0 && i <= 19;
    unsigned shift = 0;
    bool unit = false;
    for (size_t u = 0; ok && u < sizeof units / sizeof units[0]; u++) {
        if (strcasecmp(s + i, units[u].suffix) == 0) {
            shift = units[u].shift;
            unit = true;
            break;
        }
    }
    if (!ok || !unit || v == 0 || v > (UINT64_C(1) << (60 - shift))) {
        return err_set(ei, ERR_INVALID,
                       "cache size \"%.40s\" is not a size such as 10GiB, 500M or 1048576 (1 byte "
                       "to 1 EiB)", s);
    }
    *out = v << shift;
    return ERR_OK;
}
