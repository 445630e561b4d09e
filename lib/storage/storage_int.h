/* storage_int.h - internals shared by the files of lib/storage only.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_STORAGE_STORAGE_INT_H
#define OBSFLOW_STORAGE_STORAGE_INT_H

#include "storage/storage.h"

#include "httpc/httpc.h"

#define STORAGE__TEMPLATE_MAX 2048
#define STORAGE__TOKEN_MAX    4096

struct storage {
    char roots[STORAGE_MAX_ROOTS][STORAGE_PATH_MAX]; /* realpath()ed data roots */
    size_t n_roots;
    struct storage_s3_config s3;                    /* endpoint without trailing "/" */
    bool s3_signed;                                 /* credentials present */
    char archive_template[STORAGE__TEMPLATE_MAX];
    char archive_token[STORAGE__TOKEN_MAX];         /* "" = none */
    uint64_t max_object;
    uint64_t multipart_threshold;
    uint64_t part_size;
    int page_size;
    char fixed_amz_date[17];                        /* "" = now */
    struct httpc_options http;                      /* options for per-call clients */
};

/* storage_file.c */
NODISCARD enum err storage__file_get(struct storage *st, const struct storage_uri *u,
                                     const char *dest, struct buf *mem, size_t mem_max,
                                     const struct storage_xfer_opts *opts,
                                     struct storage_stat *stat, struct err_info *ei);
NODISCARD enum err storage__file_put(struct storage *st, const struct storage_uri *u,
                                     const char *src, const void *data, size_t len,
                                     const struct storage_xfer_opts *opts,
                                     struct storage_stat *stat, struct err_info *ei);
NODISCARD enum err storage__file_head(struct storage *st, const struct storage_uri *u,
                                      struct storage_stat *stat, struct err_info *ei);
NODISCARD enum err storage__file_delete(struct storage *st, const struct storage_uri *u,
                                        struct err_info *ei);
NODISCARD enum err storage__file_list(struct storage *st, const struct storage_uri *u,
                                      storage_list_fn fn, void *ud, struct err_info *ei);
NODISCARD enum err storage__file_walk(struct storage *st, const struct storage_uri *u,
                                      bool recursive, storage_list_fn fn, void *ud,
                                      struct err_info *ei);
NODISCARD enum err storage__confine(struct storage *st, const char *path, bool for_write,
                                    char *out, size_t cap, struct err_info *ei);

/* storage_s3.c */
NODISCARD enum err storage__s3_get(struct storage *st, const struct storage_uri *u,
                                   const char *dest, struct buf *mem, size_t mem_max,
                                   const struct storage_xfer_opts *opts,
                                   struct storage_stat *stat, struct err_info *ei);
NODISCARD enum err storage__s3_put(struct storage *st, const struct storage_uri *u,
                                   const char *src, const void *data, size_t len,
                                   const struct storage_xfer_opts *opts,
                                   struct storage_stat *stat, struct err_info *ei);
NODISCARD enum err storage__s3_head(struct storage *st, const struct storage_uri *u,
                                    struct storage_stat *stat, struct err_info *ei);
NODISCARD enum err storage__s3_delete(struct storage *st, const struct storage_uri *u,
                                      struct err_info *ei);
NODISCARD enum err storage__s3_list(struct storage *st, const struct storage_uri *u,
                                    storage_list_fn fn, void *ud, struct err_info *ei);
/* keys under the "directory" u->key (a "/" is appended when missing), delimiter "/" unless
 * @p recursive, at most STORAGE_WALK_MAX */
NODISCARD enum err storage__s3_walk(struct storage *st, const struct storage_uri *u,
                                    bool recursive, storage_list_fn fn, void *ud,
                                    struct err_info *ei);
NODISCARD enum err storage__s3_make_bucket(struct storage *st, const struct storage_uri *u,
                                           struct err_info *ei);

/* storage_http.c (http, https and astroquery downloads) */
NODISCARD enum err storage__http_get(struct storage *st, const char *url, const char *token,
                                     const char *dest, struct buf *mem, size_t mem_max,
                                     const struct storage_xfer_opts *opts,
                                     struct storage_stat *stat, struct err_info *ei);
NODISCARD enum err storage__http_head(struct storage *st, const char *url, const char *token,
                                      struct storage_stat *stat, struct err_info *ei);
/* the URI list at @p url downloaded to a scratch file under @p scratch_dir, then each line's
 * URI reported (storage_walk) */
NODISCARD enum err storage__http_walk(struct storage *st, const char *url,
                                      const char *scratch_dir, storage_list_fn fn, void *ud,
                                      struct err_info *ei);
/** Fill @p stat's size/etag/mtime from response headers. */
void storage__stat_from_headers(const struct httpc_response *rs, struct storage_stat *stat);
/* One ranged GET: "Range: bytes=off-(off+len-1)"; a 206 is checked against Content-Range and
 * gives the object's size, a 200 (range ignored) is cut to the asked bytes. */
NODISCARD enum err storage__http_get_range(struct storage *st, const char *url, const char *token,
                                           uint64_t off, size_t len, struct buf *mem,
                                           struct storage_stat *stat, struct err_info *ei);
NODISCARD enum err storage__s3_get_range(struct storage *st, const struct storage_uri *u,
                                         uint64_t off, size_t len, struct buf *mem,
                                         struct storage_stat *stat, struct err_info *ei);
/* The answer of a ranged GET into @p mem and @p stat (size = the whole object's). */
NODISCARD enum err storage__range_finish(const struct httpc_response *rs, uint64_t off,
                                         size_t len, struct buf *mem, struct storage_stat *stat,
                                         const char *what, struct err_info *ei);
/** Create a per-call HTTP client with the handle's options. */
NODISCARD enum err storage__client(struct storage *st, struct httpc **out, struct err_info *ei);
/** Map a storage digest choice to httpc's. */
enum httpc_sum storage__sum(enum storage_sum s);
/** The digest to compute for a transfer: @p s, or when that is none and an expected digest is
 * given, the algorithm its length names (32 hex digits MD5, otherwise SHA-256). */
enum httpc_sum storage__sum_for(enum storage_sum s, const char *expect);
/** Copy ETag @p src into @p dst (@p cap bytes), without surrounding quotes, truncated. */
void storage__etag_copy(char *dst, size_t cap, const char *src);

/** Adapter from httpc progress to a storage_progress_fn over a whole (multipart) transfer. */
struct storage__prog {
    storage_progress_fn fn; /* the caller's callback (not NULL when used) */
    void *ud;
    uint64_t base;          /* bytes of earlier parts */
    uint64_t total;         /* whole transfer size, 0 = take libcurl's */
    bool upload;            /* report the upload direction */
};
/** httpc_progress_fn that forwards to a struct storage__prog. */
bool storage__prog_cb(void *ud, uint64_t down_done, uint64_t down_total, uint64_t up_done,
                      uint64_t up_total);

/* storage_lines.c: the URI-list line splitter of storage_walk (fuzzed:
 * tests/storage/fuzz_storage_lines.c). Bytes are fed in chunks of any size; each complete
 * line is trimmed (blanks, tabs, CR), blank lines and "#" comments are skipped, and the rest
 * goes to the callback with its 1-based line number. At most one line is held. */
struct storage__lines {
    char line[STORAGE_URI_MAX + 2]; /* the line being read (raw) */
    size_t len;                      /* bytes in line */
    uint64_t lineno;                 /* number of the line being read, from 1 */
};
/** Called per non-blank, non-comment line; @p text is trimmed, NUL-terminated, borrowed. A
 * value other than ERR_OK stops the splitter and is returned by feed/finish. */
typedef enum err (*storage__line_fn)(void *ud, uint64_t lineno, const char *text,
                                     struct err_info *ei);
void storage__lines_init(struct storage__lines *l);
/** Feed @p n bytes. ERR_TOO_LARGE a line longer than STORAGE_URI_MAX bytes; ERR_INVALID a
 * line holding a NUL byte (both name the line); or what @p fn returned. */
NODISCARD enum err storage__lines_feed(struct storage__lines *l, const char *p, size_t n,
                                       storage__line_fn fn, void *ud, struct err_info *ei);
/** End of input: the last line when it has no newline. */
NODISCARD enum err storage__lines_finish(struct storage__lines *l, storage__line_fn fn,
                                         void *ud, struct err_info *ei);

/* storage_xml.c: the few S3 XML responses, scanned without a DOM */
/** Find the text of the first <tag>...</tag> in [p, end), XML-unescaped into @p out. */
NODISCARD enum err storage__xml_text(const char *p, const char *end, const char *tag,
                                     char *out, size_t cap, const char **after);
/** Escape @p s for XML text into @p b. */
NODISCARD enum err storage__xml_escape(struct buf *b, const char *s);

#endif
