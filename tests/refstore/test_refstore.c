/* test_refstore.c - lib/refstore over a file: source in the CRDS layout: a miss fetches and a
 * second request hits; eight threads asking for one file at once cause one download (the
 * source read is counted by the fetch hook, which holds the download open until the seven
 * others are waiting on it); a digest mismatch or an incomplete FITS file is refused and
 * leaves nothing in the cache; eviction keeps the cap, takes the least recently used file and
 * never a pinned one; a new store on the same directory finds the files (no download) and
 * clears interrupted temporaries; a cancelled fetcher stops its download (a caller waiting on
 * it then fetches the file itself) and a cancelled waiter returns while the download goes on;
 * the FITS walker's verdicts.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "refstore/refstore.h"
#include "refstore/refstore_int.h"

static char src[1024];   /* the source root (CRDS layout) */
static char cache[1024]; /* the cache directory */
static char srcuri[1100];

static void mkdir_p(const char *dir)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* FITS bytes: a primary header with NAXIS1 = @p n bytes of @p fill, padded. */
static size_t make_fits(unsigned char *buf, size_t cap, size_t n, unsigned char fill)
{
    const char *cards[] = {"SIMPLE  =                    T", "BITPIX  =                    8",
                           "NAXIS   =                    1", NULL, "END"};
    char naxis1[81];
    snprintf(naxis1, sizeof naxis1, "NAXIS1  = %20zu", n);
    cards[3] = naxis1;
    size_t hlen = 2880, dlen = (n + 2879) / 2880 * 2880;
    assert_true(hlen + dlen <= cap);
    memset(buf, ' ', hlen);
    for (int i = 0; i < 5; i++) {
        memcpy(buf + i * 80, cards[i], strlen(cards[i]));
    }
    memset(buf + hlen, 0, dlen);
    memset(buf + hlen, fill, n);
    return hlen + dlen;
}

/* A reference in the source: references/hst[/sub]/name, @p n data bytes; @p cut bytes short. */
static void put_ref(const char *sub, const char *name, size_t n, unsigned char fill, size_t cut)
{
    static unsigned char buf[64 * 2880];
    size_t len = make_fits(buf, sizeof buf, n, fill);
    char dir[1200], path[1400];
    snprintf(dir, sizeof dir, "%s/references/hst%s%s", src, sub ? "/" : "", sub ? sub : "");
    mkdir_p(dir);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len - cut, f), len - cut);
    fclose(f);
}

static bool cached(const char *name)
{
    char p[1200];
    struct stat sb;
    snprintf(p, sizeof p, "%s/references/hst/%s", cache, name);
    return stat(p, &sb) == 0;
}

static int count_dir(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    if (!d) {
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        n += de->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

/* The fetch hook: counts downloads; with @p hold, keeps the download from starting until
 * @p hold other threads wait on it (bounded, so a broken single flight fails, not hangs). */
struct hook {
    pthread_mutex_t mu;
    int calls;
    int hold;
    struct refstore *rs;
};

static void fetch_hook(void *ud, const char *name)
{
    struct hook *h = ud;
    (void)name;
    pthread_mutex_lock(&h->mu);
    h->calls++;
    int hold = h->hold;
    pthread_mutex_unlock(&h->mu);
    for (int i = 0; hold > 0 && i < 20000; i++) {
        struct refstore_stats s;
        refstore_stats_get(h->rs, &s);
        if (s.waits >= (uint64_t)hold) {
            break;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

static struct hook hk = {.mu = PTHREAD_MUTEX_INITIALIZER};

static struct refstore *open_store(uint64_t max)
{
    struct refstore_config cfg = {
        .uri = srcuri,
        .cache_dir = cache,
        .max_bytes = max,
        .fetch_hook = fetch_hook,
        .fetch_hook_ud = &hk,
    };
    struct refstore *rs = NULL;
    struct err_info ei = {0};
    enum err e = refstore_create(&cfg, &rs, &ei);
    if (e != ERR_OK) {
        fprintf(stderr, "refstore_create: %s\n", ei.msg);
    }
    assert_int_equal(e, ERR_OK);
    hk.rs = rs;
    return rs;
}

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("OBSFLOW_TEST_TMP");
    if (!tmp) {
        return -1;
    }
    snprintf(src, sizeof src, "%s/src", tmp);
    snprintf(cache, sizeof cache, "%s/cache", tmp);
    snprintf(srcuri, sizeof srcuri, "file:%s/", src);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' && mkdir -p '%s/references/hst'", src, cache, src);
    if (system(cmd) != 0) {
        return -1;
    }
    hk.calls = 0;
    hk.hold = 0;
    return 0;
}

static void test_miss_then_hit(void **state)
{
    (void)state;
    put_ref(NULL, "a_bia.fits", 100, 7, 0);
    put_ref("acs", "b_drk.fits", 100, 8, 0);
    struct refstore *rs = open_store(0);
    struct refstore_pin *p = NULL, *q = NULL;
    struct err_info ei = {0};
    assert_int_equal(refstore_get(rs, "acs", "a_bia.fits", NULL, NULL, &p, &ei), ERR_OK);
    char want[1200];
    snprintf(want, sizeof want, "%s/references/hst/a_bia.fits", cache);
    assert_string_equal(refstore_pin_path(p), want);
    assert_int_equal(refstore_get(rs, "acs", "a_bia.fits", NULL, NULL, &q, &ei), ERR_OK);
    struct refstore_stats s;
    refstore_stats_get(rs, &s);
    assert_int_equal(s.misses, 1);
    assert_int_equal(s.hits, 1);
    assert_int_equal(s.fetches, 1);
    assert_int_equal(s.pinned, 2);
    assert_int_equal(s.bytes, 5760);
    assert_int_equal(hk.calls, 1);
    refstore_unpin(p);
    refstore_unpin(q);
    /* the instrument directory of the CRDS "instrument" layout */
    assert_int_equal(refstore_get(rs, "acs", "b_drk.fits", NULL, NULL, &p, &ei), ERR_OK);
    refstore_unpin(p);
    assert_true(cached("b_drk.fits"));
    /* a cached file removed behind the store's back is fetched again */
    char gone[1200];
    snprintf(gone, sizeof gone, "%s/references/hst/b_drk.fits", cache);
    assert_int_equal(unlink(gone), 0);
    assert_int_equal(refstore_get(rs, "acs", "b_drk.fits", NULL, NULL, &p, &ei), ERR_OK);
    refstore_unpin(p);
    assert_true(cached("b_drk.fits"));
    assert_int_equal(hk.calls, 3);
    /* absent: ERR_NOT_FOUND naming the file, nothing cached, a later request asks again */
    assert_int_equal(refstore_get(rs, "acs", "nope_bia.fits", NULL, NULL, &p, &ei), ERR_NOT_FOUND);
    assert_non_null(strstr(ei.msg, "nope_bia.fits"));
    assert_int_equal(refstore_get(rs, "acs", "nope_bia.fits", NULL, NULL, &p, &ei), ERR_NOT_FOUND);
    refstore_stats_get(rs, &s);
    assert_int_equal(s.fetch_failures, 2);
    assert_int_equal(s.files, 2);
    assert_false(cached("nope_bia.fits"));
    /* names that could leave the cache are refused */
    assert_int_equal(refstore_get(rs, NULL, "../x.fits", NULL, NULL, &p, &ei), ERR_INVALID);
    assert_int_equal(refstore_get(rs, NULL, ".hidden", NULL, NULL, &p, &ei), ERR_INVALID);
    assert_int_equal(refstore_get(rs, "a/b", "a_bia.fits", NULL, NULL, &p, &ei), ERR_INVALID);
    refstore_destroy(rs);
}

struct asker {
    struct refstore *rs;
    enum err rc;
    char path[1200];
};

static void *ask(void *arg)
{
    struct asker *a = arg;
    struct refstore_pin *p = NULL;
    struct err_info ei = {0};
    a->rc = refstore_get(a->rs, "acs", "big_flt.fits", NULL, NULL, &p, &ei);
    if (a->rc == ERR_OK) {
        snprintf(a->path, sizeof a->path, "%s", refstore_pin_path(p));
        refstore_unpin(p);
    }
    return NULL;
}

static void test_single_flight(void **state)
{
    (void)state;
    enum { N = 8 };
    put_ref(NULL, "big_flt.fits", 40 * 2880, 3, 0);
    struct refstore *rs = open_store(0);
    hk.hold = N - 1; /* the download waits until the 7 others are waiting on it */
    pthread_t t[N];
    struct asker a[N];
    for (int i = 0; i < N; i++) {
        a[i].rs = rs;
        a[i].rc = ERR_INTERNAL;
        assert_int_equal(pthread_create(&t[i], NULL, ask, &a[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].rc, ERR_OK);
        assert_string_equal(a[i].path, a[0].path);
    }
    struct refstore_stats s;
    refstore_stats_get(rs, &s);
    assert_int_equal(hk.calls, 1); /* one download */
    assert_int_equal(s.fetches, 1);
    assert_int_equal(s.misses, 1);
    assert_int_equal(s.waits, N - 1);
    assert_int_equal(s.pinned, 0);
    assert_int_equal(s.bytes, 41 * 2880);
    refstore_destroy(rs);
}

/* A failed download is reported to every waiter, and nothing is cached. */
static void *ask_missing(void *arg)
{
    struct asker *a = arg;
    struct refstore_pin *p = NULL;
    struct err_info ei = {0};
    a->rc = refstore_get(a->rs, NULL, "gone_flt.fits", NULL, NULL, &p, &ei);
    snprintf(a->path, sizeof a->path, "%s", ei.msg);
    return NULL;
}

static void test_single_flight_failure(void **state)
{
    (void)state;
    enum { N = 4 };
    struct refstore *rs = open_store(0);
    hk.hold = N - 1;
    pthread_t t[N];
    struct asker a[N];
    for (int i = 0; i < N; i++) {
        a[i].rs = rs;
        assert_int_equal(pthread_create(&t[i], NULL, ask_missing, &a[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].rc, ERR_NOT_FOUND);
        assert_non_null(strstr(a[i].path, "gone_flt.fits"));
    }
    assert_int_equal(hk.calls, 1);
    struct refstore_stats s;
    refstore_stats_get(rs, &s);
    assert_int_equal(s.fetch_failures, 1);
    assert_int_equal(s.files, 0);
    refstore_destroy(rs);
}

/* ---- cancellation ------------------------------------------------------------------------ */

static atomic_int flag_a, flag_b, b_done; /* cancel flags of two callers; B has returned */

static bool cancel_a(void *ud)
{
    (void)ud;
    return atomic_load(&flag_a) != 0;
}

static bool cancel_b(void *ud)
{
    (void)ud;
    return atomic_load(&flag_b) != 0;
}

/* the hook of the cancellation tests: `mode` says what happens during the first download */
static int cancel_mode;
static atomic_int cancel_calls;

static void cancel_hook(void *ud, const char *name)
{
    struct refstore *rs = *(struct refstore **)ud;
    (void)name;
    int call = atomic_fetch_add(&cancel_calls, 1);
    if (call > 0) {
        return; /* later downloads run freely */
    }
    for (int i = 0; i < 20000; i++) { /* until the other caller waits on this download */
        struct refstore_stats s;
        refstore_stats_get(rs, &s);
        if (s.waits >= 1) {
            break;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    if (cancel_mode == 1) {
        atomic_store(&flag_a, 1); /* the fetcher (A) is cancelled mid-download */
    } else {
        atomic_store(&flag_b, 1); /* the waiter (B) is cancelled; A's download waits for B */
        for (int i = 0; i < 20000 && !atomic_load(&b_done); i++) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
}

struct caller {
    struct refstore *rs;
    const struct refstore_cancel *cancel;
    enum err rc;
    atomic_int *done;
};

static void *call_get(void *arg)
{
    struct caller *c = arg;
    struct refstore_pin *p = NULL;
    struct err_info ei = {0};
    c->rc = refstore_get(c->rs, NULL, "cx_drk.fits", NULL, c->cancel, &p, &ei);
    refstore_unpin(c->rc == ERR_OK ? p : NULL);
    if (c->done) {
        atomic_store(c->done, 1);
    }
    return NULL;
}

static void run_cancel_case(int mode, enum err *ra, enum err *rb, int *calls)
{
    static struct refstore *rs;
    struct refstore_config cfg = {.uri = srcuri, .cache_dir = cache, .fetch_hook = cancel_hook,
                                  .fetch_hook_ud = &rs};
    struct err_info ei = {0};
    atomic_store(&flag_a, 0);
    atomic_store(&flag_b, 0);
    atomic_store(&b_done, 0);
    atomic_store(&cancel_calls, 0);
    cancel_mode = mode;
    put_ref(NULL, "cx_drk.fits", 20 * 2880, 4, 0);
    assert_int_equal(refstore_create(&cfg, &rs, &ei), ERR_OK);
    struct refstore_cancel ca = {.fn = cancel_a}, cb = {.fn = cancel_b};
    struct caller a = {.rs = rs, .cancel = &ca}, b = {.rs = rs, .cancel = &cb, .done = &b_done};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, call_get, &a), 0);
    for (int i = 0; i < 20000 && atomic_load(&cancel_calls) == 0; i++) { /* A fetches first */
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(pthread_create(&tb, NULL, call_get, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    *ra = a.rc;
    *rb = b.rc;
    *calls = atomic_load(&cancel_calls);
    struct refstore_stats s;
    refstore_stats_get(rs, &s);
    assert_int_equal(s.pinned, 0);
    refstore_destroy(rs);
}

/* The fetching caller is cancelled mid-download: it gets ERR_CANCELLED and nothing is cached
 * by its download; the caller waiting on it is not cancelled, so it fetches the file itself. */
static void test_cancel_fetcher(void **state)
{
    (void)state;
    enum err ra, rb;
    int calls;
    run_cancel_case(1, &ra, &rb, &calls);
    assert_int_equal(ra, ERR_CANCELLED);
    assert_int_equal(rb, ERR_OK);
    assert_int_equal(calls, 2);
    assert_true(cached("cx_drk.fits"));
    char tmpd[1200];
    snprintf(tmpd, sizeof tmpd, "%s/.tmp", cache);
    assert_int_equal(count_dir(tmpd), 0);
}

/* A waiting caller that is cancelled returns at once; the download goes on for the fetcher. */
static void test_cancel_waiter(void **state)
{
    (void)state;
    enum err ra, rb;
    int calls;
    run_cancel_case(2, &ra, &rb, &calls);
    assert_int_equal(rb, ERR_CANCELLED);
    assert_int_equal(ra, ERR_OK);
    assert_int_equal(calls, 1);
    assert_true(cached("cx_drk.fits"));
}

static void test_checksum(void **state)
{
    (void)state;
    put_ref(NULL, "c_pfl.fits", 100, 9, 0);
    char p[1200], cmd[1400], sha1[41], sha256[65];
    snprintf(p, sizeof p, "%s/references/hst/c_pfl.fits", src);
    snprintf(cmd, sizeof cmd, "sha1sum '%s' | cut -c1-40; sha256sum '%s' | cut -c1-64", p, p);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%40s %64s", sha1, sha256), 2);
    pclose(f);
    struct refstore *rs = open_store(0);
    struct refstore_pin *pin = NULL;
    struct err_info ei = {0};
    char bad[80];
    snprintf(bad, sizeof bad, "sha256:%064d", 0);
    /* wrong digest: refused, not cached, no temporary left */
    assert_int_equal(refstore_get(rs, NULL, "c_pfl.fits", bad, NULL, &pin, &ei), ERR_CHECKSUM);
    assert_non_null(strstr(ei.msg, sha256));
    assert_false(cached("c_pfl.fits"));
    char tmpd[1200];
    snprintf(tmpd, sizeof tmpd, "%s/.tmp", cache);
    assert_int_equal(count_dir(tmpd), 0);
    /* right digests (sha1 as CRDS catalogs carry it, bare or prefixed; sha256) */
    assert_int_equal(refstore_get(rs, NULL, "c_pfl.fits", sha1, NULL, &pin, &ei), ERR_OK);
    refstore_unpin(pin);
    char s2[80];
    snprintf(s2, sizeof s2, "SHA256:%s", sha256);
    assert_int_equal(refstore_get(rs, NULL, "c_pfl.fits", s2, NULL, &pin, &ei), ERR_OK);
    refstore_unpin(pin);
    assert_int_equal(hk.calls, 2);
    /* malformed digests */
    assert_int_equal(refstore_get(rs, NULL, "c_pfl.fits", "sha1:xyz", NULL, &pin, &ei), ERR_INVALID);
    assert_int_equal(refstore_get(rs, NULL, "c_pfl.fits", "abc", NULL, &pin, &ei), ERR_INVALID);
    /* a cached copy that differs from the catalog is fetched again (here the source changed) */
    put_ref(NULL, "c_pfl.fits", 100, 10, 0);
    f = popen(cmd, "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%40s %64s", sha1, sha256), 2);
    pclose(f);
    assert_int_equal(refstore_get(rs, NULL, "c_pfl.fits", sha1, NULL, &pin, &ei), ERR_OK);
    refstore_unpin(pin);
    assert_int_equal(hk.calls, 3);
    refstore_destroy(rs);
}

static void test_incomplete_fits(void **state)
{
    (void)state;
    put_ref(NULL, "t_drk.fits", 3 * 2880, 1, 2000); /* data cut short */
    struct refstore *rs = open_store(0);
    struct refstore_pin *pin = NULL;
    struct err_info ei = {0};
    assert_int_equal(refstore_get(rs, NULL, "t_drk.fits", NULL, NULL, &pin, &ei), ERR_FITS);
    assert_non_null(strstr(ei.msg, "truncated"));
    assert_false(cached("t_drk.fits"));
    /* not FITS at all */
    char p[1200];
    snprintf(p, sizeof p, "%s/references/hst/n_drk.fits", src);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    for (int i = 0; i < 2880; i++) {
        fputc('x', f);
    }
    fclose(f);
    assert_int_equal(refstore_get(rs, NULL, "n_drk.fits", NULL, NULL, &pin, &ei), ERR_FITS);
    assert_false(cached("n_drk.fits"));
    refstore_destroy(rs);
}

static void get_unpin(struct refstore *rs, const char *name)
{
    struct refstore_pin *p = NULL;
    struct err_info ei = {0};
    assert_int_equal(refstore_get(rs, NULL, name, NULL, NULL, &p, &ei), ERR_OK);
    refstore_unpin(p);
}

static void test_eviction_and_pins(void **state)
{
    (void)state;
    const uint64_t one = 2 * 2880; /* each file: header + one data block */
    const char *names[] = {"e1.fits", "e2.fits", "e3.fits", "e4.fits", "e5.fits", "e6.fits"};
    for (int i = 0; i < 6; i++) {
        put_ref(NULL, names[i], 10, (unsigned char)i, 0);
    }
    struct refstore *rs = open_store(3 * one);
    get_unpin(rs, "e1.fits");
    get_unpin(rs, "e2.fits");
    get_unpin(rs, "e3.fits");
    get_unpin(rs, "e1.fits"); /* e1 used again: e2 is now the least recently used */
    get_unpin(rs, "e4.fits");
    struct refstore_stats s;
    refstore_stats_get(rs, &s);
    assert_int_equal(s.bytes, 3 * one);
    assert_int_equal(s.evictions, 1);
    assert_false(cached("e2.fits"));
    assert_true(cached("e1.fits") && cached("e3.fits") && cached("e4.fits"));
    /* a pinned file is never evicted, even as the oldest */
    struct refstore_pin *p3 = NULL;
    struct err_info ei = {0};
    assert_int_equal(refstore_get(rs, NULL, "e3.fits", NULL, NULL, &p3, &ei), ERR_OK);
    get_unpin(rs, "e1.fits");
    get_unpin(rs, "e4.fits"); /* e3 is now the least recently used, but pinned */
    get_unpin(rs, "e5.fits");
    get_unpin(rs, "e6.fits");
    assert_true(cached("e3.fits"));
    refstore_stats_get(rs, &s);
    assert_true(s.bytes <= 3 * one);
    assert_false(cached("e1.fits")); /* the unpinned ones went instead */
    /* pins may hold the cache over its cap; unpinning brings it back */
    struct refstore_pin *pp[3];
    assert_int_equal(refstore_get(rs, NULL, "e5.fits", NULL, NULL, &pp[0], &ei), ERR_OK);
    assert_int_equal(refstore_get(rs, NULL, "e6.fits", NULL, NULL, &pp[1], &ei), ERR_OK);
    assert_int_equal(refstore_get(rs, NULL, "e1.fits", NULL, NULL, &pp[2], &ei), ERR_OK);
    refstore_stats_get(rs, &s);
    assert_int_equal(s.files, 4); /* e3, e5, e6, e1 all pinned */
    assert_int_equal(s.bytes, 4 * one);
    for (int i = 0; i < 3; i++) {
        assert_true(access(refstore_pin_path(pp[i]), R_OK) == 0);
    }
    refstore_unpin(p3);
    refstore_stats_get(rs, &s);
    assert_int_equal(s.bytes, 3 * one);
    assert_false(cached("e3.fits"));
    for (int i = 0; i < 3; i++) {
        refstore_unpin(pp[i]);
    }
    refstore_stats_get(rs, &s);
    assert_int_equal(s.bytes, 3 * one);
    assert_int_equal(s.pinned, 0);
    /* a file larger than the whole cache */
    put_ref(NULL, "huge.fits", 10 * 2880, 1, 0);
    struct refstore_pin *ph = NULL;
    assert_int_equal(refstore_get(rs, NULL, "huge.fits", NULL, NULL, &ph, &ei), ERR_TOO_LARGE);
    assert_false(cached("huge.fits"));
    refstore_destroy(rs);
}

static void test_restart(void **state)
{
    (void)state;
    put_ref(NULL, "r1.fits", 10, 1, 0);
    put_ref(NULL, "r2.fits", 10, 2, 0);
    struct refstore *rs = open_store(0);
    get_unpin(rs, "r1.fits");
    get_unpin(rs, "r2.fits");
    refstore_destroy(rs);
    assert_int_equal(hk.calls, 2);
    /* an interrupted download left a temporary */
    char p[1200];
    snprintf(p, sizeof p, "%s/.tmp/r3.fits.0123456789abcdef", cache);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs("partial", f);
    fclose(f);
    rs = open_store(0);
    struct refstore_stats s;
    refstore_stats_get(rs, &s);
    assert_int_equal(s.files, 2);
    assert_int_equal(s.bytes, 4 * 2880);
    get_unpin(rs, "r1.fits");
    get_unpin(rs, "r2.fits");
    refstore_stats_get(rs, &s);
    assert_int_equal(s.hits, 2);
    assert_int_equal(s.misses, 0);
    assert_int_equal(hk.calls, 2); /* nothing downloaded again */
    char tmpd[1200];
    snprintf(tmpd, sizeof tmpd, "%s/.tmp", cache);
    assert_int_equal(count_dir(tmpd), 0);
    refstore_destroy(rs);
    /* a lower cap at start evicts the least recently used (r1 was touched first) */
    rs = open_store(2 * 2880);
    refstore_stats_get(rs, &s);
    assert_int_equal(s.files, 1);
    assert_int_equal(s.evictions, 1);
    assert_true(cached("r2.fits"));
    assert_false(cached("r1.fits"));
    refstore_destroy(rs);
}

static void test_create_errors(void **state)
{
    (void)state;
    struct refstore *rs = NULL;
    struct err_info ei = {0};
    struct refstore_config c = {.uri = "ftp://example.org/crds", .cache_dir = cache};
    assert_int_equal(refstore_create(&c, &rs, &ei), ERR_INVALID);
    c.uri = "astroquery:x";
    assert_int_equal(refstore_create(&c, &rs, &ei), ERR_INVALID);
    c.uri = "file:relative/dir";
    assert_int_equal(refstore_create(&c, &rs, &ei), ERR_INVALID);
    char missing[1200];
    snprintf(missing, sizeof missing, "file:%s/does-not-exist", src);
    c.uri = missing;
    assert_int_not_equal(refstore_create(&c, &rs, &ei), ERR_OK);
    c.uri = srcuri;
    c.cache_dir = "";
    assert_int_equal(refstore_create(&c, &rs, &ei), ERR_INVALID);
    c.cache_dir = cache;
    c.observatory = "../x";
    assert_int_equal(refstore_create(&c, &rs, &ei), ERR_INVALID);
    assert_null(rs);
    /* http(s) and s3 sources are accepted (nothing is fetched at creation) */
    c.observatory = NULL;
    c.uri = "https://hst-crds.stsci.edu/unchecked_get";
    assert_int_equal(refstore_create(&c, &rs, &ei), ERR_OK);
    assert_string_equal(refstore_uri(rs), c.uri);
    refstore_destroy(rs);
    c.uri = "s3://crds-bucket/cache";
    assert_int_equal(refstore_create(&c, &rs, &ei), ERR_OK);
    refstore_destroy(rs);
    refstore_destroy(NULL);
    refstore_unpin(NULL);
}

static void test_fits_walker(void **state)
{
    (void)state;
    static unsigned char buf[8 * 2880];
    struct err_info ei = {0};
    size_t n = make_fits(buf, sizeof buf, 3000, 1);
    assert_int_equal(refstore__fits_check_mem(buf, n, &ei), ERR_OK);
    assert_int_equal(refstore__fits_check_mem(buf, n - 2880, &ei), ERR_FITS); /* data cut */
    assert_int_equal(refstore__fits_check_mem(buf, n - 1, &ei), ERR_FITS);
    assert_int_equal(refstore__fits_check_mem(buf, 2880, &ei), ERR_FITS);
    assert_int_equal(refstore__fits_check_mem(buf, 0, &ei), ERR_FITS);
    /* padding blocks after the last HDU are fine; other bytes are not */
    memset(buf + n, 0, 2880);
    assert_int_equal(refstore__fits_check_mem(buf, n + 2880, &ei), ERR_OK);
    memset(buf + n, 'q', 2880);
    assert_int_equal(refstore__fits_check_mem(buf, n + 2880, &ei), ERR_FITS);
    /* a header without END */
    memset(buf, ' ', 2880);
    memcpy(buf, "SIMPLE  =                    T", 30);
    assert_int_equal(refstore__fits_check_mem(buf, 2880, &ei), ERR_FITS);
    /* an absurd axis does not overflow */
    n = make_fits(buf, sizeof buf, 1, 1);
    memcpy(buf + 3 * 80, "NAXIS1  = 9223372036854775807", 29);
    assert_int_equal(refstore__fits_check_mem(buf, n, &ei), ERR_FITS);
}

static void test_size_parse(void **state)
{
    (void)state;
    uint64_t v = 0;
    struct err_info ei = {0};
    assert_int_equal(refstore_size_parse("1048576", &v, &ei), ERR_OK);
    assert_int_equal(v, 1048576);
    assert_int_equal(refstore_size_parse("10GiB", &v, &ei), ERR_OK);
    assert_int_equal(v, (uint64_t)10 << 30);
    assert_int_equal(refstore_size_parse("500m", &v, &ei), ERR_OK);
    assert_int_equal(v, (uint64_t)500 << 20);
    assert_int_equal(refstore_size_parse("2T", &v, &ei), ERR_OK);
    assert_int_equal(v, (uint64_t)2 << 40);
    static const char *const bad[] = {"", "0", "-1", "10 GiB", "10GB", "1.5G", "G",
                                      "99999999999999999999", "2000000000T", "12x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(refstore_size_parse(bad[i], &v, &ei), ERR_INVALID);
    }
    assert_non_null(strstr(ei.msg, "12x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_miss_then_hit, setup),
        cmocka_unit_test_setup(test_single_flight, setup),
        cmocka_unit_test_setup(test_single_flight_failure, setup),
        cmocka_unit_test_setup(test_cancel_fetcher, setup),
        cmocka_unit_test_setup(test_cancel_waiter, setup),
        cmocka_unit_test_setup(test_checksum, setup),
        cmocka_unit_test_setup(test_incomplete_fits, setup),
        cmocka_unit_test_setup(test_eviction_and_pins, setup),
        cmocka_unit_test_setup(test_restart, setup),
        cmocka_unit_test_setup(test_create_errors, setup),
        cmocka_unit_test(test_fits_walker),
        cmocka_unit_test(test_size_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
