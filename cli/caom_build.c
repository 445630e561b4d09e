/* caom_build.c - the build options shared by `obsflow caom` and `obsflow repo push`.
 * SPDX-License-Identifier: Apache-2.0 */
#include "caom_build.h"

#include "core/str.h"

#include <stdlib.h>
#include <string.h>

/* --content-checksum: a checksum URI <algorithm>:<hex> (md5:<32 hex> from CADC's storage; test
 * data carry shorter mock values), or "-" for none */
static bool content_checksum_arg(const char *arg)
{
    if (strcmp(arg, "-") == 0) {
        return true;
    }
    size_t alg = strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789-");
    if (alg == 0 || alg > 16 || arg[alg] != ':') {
        return false;
    }
    const char *hex = arg + alg + 1;
    size_t n = strspn(hex, "0123456789abcdef");
    return n > 0 && n <= 128 && hex[n] == '\0';
}

void caom_build_init(struct caom_build *b, const char *cmd)
{
    memset(b, 0, sizeof *b);
    b->opts.content_metadata = true;
    b->cmd = cmd;
}

int caom_build_option(struct caom_build *b, int ch, const char *arg, const char *cmd)
{
    switch (ch) {
    case 'c':
        b->opts.collection = arg;
        return 1;
    case 'b':
        if (b->nbp == ARRAY_LEN(b->blueprints)) {
            fprintf(stderr, "obsflow %s: too many --blueprint options\n", cmd);
            return -1;
        }
        b->blueprints[b->nbp++] = arg;
        return 1;
    case 'O':
        b->opts.observation_id = arg;
        return 1;
    case 'P':
        b->opts.product_id = arg;
        return 1;
    case 'u':
        if (b->nuris == ARRAY_LEN(b->uris)) {
            fprintf(stderr, "obsflow %s: too many --artifact-uri options\n", cmd);
            return -1;
        }
        b->uris[b->nuris++] = arg;
        return 1;
    case 's':
        b->opts.scheme = arg;
        return 1;
    case 'n':
        b->opts.content_metadata = false;
        return 1;
    case 'C':
        b->compute = true;
        return 1;
    case 'L':
        if (b->nlengths == ARRAY_LEN(b->lengths)) {
            fprintf(stderr, "obsflow %s: too many --content-length options\n", cmd);
            return -1;
        }
        if (strcmp(arg, "-") == 0) {
            b->lengths[b->nlengths] = -1; /* the storage reported no length */
        } else if (str_to_i64(arg, 0, INT64_MAX, &b->lengths[b->nlengths]) != ERR_OK) {
            fprintf(stderr, "obsflow %s: --content-length %s: not a byte count\n", cmd, arg);
            return -1;
        }
        b->nlengths++;
        return 1;
    case 'K':
        if (b->nchecksums == ARRAY_LEN(b->checksums)) {
            fprintf(stderr, "obsflow %s: too many --content-checksum options\n", cmd);
            return -1;
        }
        if (!content_checksum_arg(arg)) {
            fprintf(stderr,
                    "obsflow %s: --content-checksum %s: expected a checksum URI (md5:<lower-case "
                    "hex>) or -\n",
                    cmd, arg);
            return -1;
        }
        b->checksums[b->nchecksums++] = strcmp(arg, "-") == 0 ? NULL : arg;
        return 1;
    default:
        return 0;
    }
}

int caom_build_check(const struct caom_build *b,
                     size_t nfiles,
                     const char *cmd,
                     void (*usage)(FILE *f))
{
    if (!b->opts.collection || nfiles == 0) {
        fprintf(stderr, "obsflow %s: %s\n", cmd,
                !b->opts.collection ? "--collection is required" : "no input files");
        usage(stderr);
        return 2;
    }
    if (nfiles > CAOM_BUILD_MAX_FILES) {
        fprintf(stderr, "obsflow %s: more than %d input files\n", cmd, CAOM_BUILD_MAX_FILES);
        return 2;
    }
    if (b->nuris > 0 && b->nuris != nfiles) {
        fprintf(stderr,
                "obsflow %s: %zu --artifact-uri options for %zu files (give one per "
                "file, in order)\n",
                cmd, b->nuris, nfiles);
        return 2;
    }
    if ((b->nlengths > 0 && b->nlengths != nfiles) ||
        (b->nchecksums > 0 && b->nchecksums != nfiles)) {
        fprintf(stderr,
                "obsflow %s: %zu --content-length and %zu --content-checksum options for %zu "
                "files (give one per file, in order)\n",
                cmd, b->nlengths, b->nchecksums, nfiles);
        return 2;
    }
    if (b->nchecksums > 0 && b->nlengths == 0) {
        fprintf(stderr, "obsflow %s: --content-checksum goes with --content-length (what the "
                        "storage reports for the file)\n", cmd);
        return 2;
    }
    for (size_t i = 0; i < b->nchecksums; i++) {
        if (b->checksums[i] && b->lengths[i] == 0) {
            fprintf(stderr, "obsflow %s: file %zu: a --content-checksum goes with a byte count "
                            "or \"-\" as --content-length (0 measures the file)\n", cmd, i + 1);
            return 2;
        }
    }
    return 0;
}

/* A plane quantity --compute left out: one warning line, the document is still written. */
static void compute_warn(void *ctx, const char *msg)
{
    const struct caom_build *b = ctx;
    fprintf(stderr, "obsflow %s: warning: %s\n", b->cmd ? b->cmd : "caom", msg);
}

enum err caom_build_run(const struct caom_build *b,
                        char *const *files,
                        size_t nfiles,
                        struct caom_observation **out,
                        struct err_info *ei)
{
    struct f2c_files in = {
        .blueprints = b->blueprints,
        .nbp = b->nbp,
        .paths = (const char *const *)files,
        .n = nfiles,
        .artifact_uris = b->nuris ? b->uris : NULL,
        .content_lengths = b->nlengths ? b->lengths : NULL,
        .content_checksums = b->nchecksums ? b->checksums : NULL,
        .compute = b->compute,
        .warn = compute_warn,
        .warn_ctx = (void *)(uintptr_t)b,
    };
    return f2c_build_files(&b->opts, &in, out, ei);
}
