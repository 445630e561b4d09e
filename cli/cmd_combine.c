/* cmd_combine.c - `obsflow combine`: master frames from many exposures, read band by band.
 * Exit codes: 0 written, 2 usage, 23 combination failed (unreadable or mismatched inputs),
 * 32 out of memory.
 * SPDX-License-Identifier: Apache-2.0 */
#include "calib/calib.h"
#include "calib_cli.h"
#include "core/str.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

int cli_cmd_combine(int argc, char **argv);
extern const char cli_help_combine[];
const char cli_help_combine[] =
    "master frame: combine --method average|median|sum [--sigma-clip LOW,HIGH] [--ccdproc] "
    "-o OUT.fits IN.fits...";

static void usage(void)
{
    fprintf(stderr,
            "usage: obsflow combine [--method average|median|sum] [--sigma-clip LOW,HIGH]\n"
            "                       [--clip-extrema NLOW,NHIGH] [--min-clip V] [--max-clip V]\n"
            "                       [--scale median|S1,S2,...] [--weights W1,W2,...] [--ccdproc]\n"
            "                       [--float32] [--checksum] [--no-fsync] [--band-mb N] [--stats]\n"
            "                       -o OUT.fits IN.fits...\n"
            "  --ccdproc   reproduce python3-ccdproc 2.4 combine() arithmetic\n"
            "  --scale     multiply each input by 1/median(input), or by the given factors\n"
            "  --band-mb   band buffer budget in MiB (default %u)\n"
            "  --stats     print the band layout as one JSON line on stdout\n",
            CALIB_BAND_BYTES >> 20);
}

int cli_cmd_combine(int argc, char **argv)
{
    static const struct option opts[] = {
        {"method", required_argument, NULL, 'm'},
        {"sigma-clip", required_argument, NULL, 's'},
        {"clip-extrema", required_argument, NULL, 'x'},
        {"min-clip", required_argument, NULL, 'a'},
        {"max-clip", required_argument, NULL, 'b'},
        {"scale", required_argument, NULL, 'S'},
        {"weights", required_argument, NULL, 'w'},
        {"ccdproc", no_argument, NULL, 'c'},
        {"float32", no_argument, NULL, 'f'},
        {"checksum", no_argument, NULL, 'k'},
        {"no-fsync", no_argument, NULL, 'N'},
        {"band-mb", required_argument, NULL, 'B'},
        {"stats", no_argument, NULL, 't'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct calib_combine_opts o;
    memset(&o, 0, sizeof(o));
    o.method = CALIB_COMBINE_AVERAGE;
    static double scale[CALIB_MAX_INPUTS], weights[CALIB_MAX_INPUTS];
    size_t nscale = 0, nweights = 0;
    const char *out = NULL;
    bool stats = false;
    double pair[2];
    size_t np = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (strcmp(optarg, "average") == 0) {
                o.method = CALIB_COMBINE_AVERAGE;
            } else if (strcmp(optarg, "median") == 0) {
                o.method = CALIB_COMBINE_MEDIAN;
            } else if (strcmp(optarg, "sum") == 0) {
                o.method = CALIB_COMBINE_SUM;
            } else {
                fprintf(stderr, "obsflow combine: unknown --method \"%s\" (average, median, sum)\n",
                        optarg);
                return CALIB_CLI_EXIT_USAGE;
            }
            break;
        case 's':
            if (!calib_cli_parse_list(optarg, pair, 2, &np) || np != 2 || pair[0] < 0 ||
                pair[1] < 0) {
                fprintf(stderr, "obsflow combine: --sigma-clip wants LOW,HIGH (>= 0), not \"%s\"\n",
                        optarg);
                return CALIB_CLI_EXIT_USAGE;
            }
            o.sigma_clip = true;
            o.sigma_low = pair[0];
            o.sigma_high = pair[1];
            break;
        case 'x':
            if (!calib_cli_parse_list(optarg, pair, 2, &np) || np != 2 || pair[0] < 0 ||
                pair[1] < 0 || pair[0] > 100 || pair[1] > 100 || pair[0] != (int)pair[0] ||
                pair[1] != (int)pair[1]) {
                fprintf(stderr, "obsflow combine: --clip-extrema wants NLOW,NHIGH, not \"%s\"\n",
                        optarg);
                return CALIB_CLI_EXIT_USAGE;
            }
            o.clip_extrema = true;
            o.nlow = (int)pair[0];
            o.nhigh = (int)pair[1];
            break;
        case 'a':
            if (!calib_cli_parse_double(optarg, &o.min_clip)) {
                fprintf(stderr, "obsflow combine: bad --min-clip \"%s\"\n", optarg);
                return CALIB_CLI_EXIT_USAGE;
            }
            o.has_min_clip = true;
            break;
        case 'b':
            if (!calib_cli_parse_double(optarg, &o.max_clip)) {
                fprintf(stderr, "obsflow combine: bad --max-clip \"%s\"\n", optarg);
                return CALIB_CLI_EXIT_USAGE;
            }
            o.has_max_clip = true;
            break;
        case 'S':
            if (strcmp(optarg, "median") == 0) {
                o.scale_inv_median = true;
            } else if (!calib_cli_parse_list(optarg, scale, CALIB_MAX_INPUTS, &nscale)) {
                fprintf(stderr, "obsflow combine: bad --scale \"%s\"\n", optarg);
                return CALIB_CLI_EXIT_USAGE;
            }
            break;
        case 'w':
            if (!calib_cli_parse_list(optarg, weights, CALIB_MAX_INPUTS, &nweights)) {
                fprintf(stderr, "obsflow combine: bad --weights \"%s\"\n", optarg);
                return CALIB_CLI_EXIT_USAGE;
            }
            break;
        case 'c': o.mode = CALIB_MODE_CCDPROC; break;
        case 'f': o.float32_out = true; break;
        case 'k': o.checksum = true; break;
        case 'N': o.no_sync = true; break;
        case 't': stats = true; break;
        case 'B': {
            int64_t mb = 0;
            if (str_to_i64(optarg, 1, 4096, &mb) != ERR_OK) {
                fprintf(stderr, "obsflow combine: --band-mb wants 1..4096, not \"%s\"\n", optarg);
                return CALIB_CLI_EXIT_USAGE;
            }
            o.band_bytes = (size_t)mb << 20;
            break;
        }
        case 'o': out = optarg; break;
        case 'h': usage(); return 0;
        default: usage(); return CALIB_CLI_EXIT_USAGE;
        }
    }
    size_t n = (size_t)(argc - optind);
    if (!out || n < 1) {
        usage();
        return CALIB_CLI_EXIT_USAGE;
    }
    if (n > CALIB_MAX_INPUTS) {
        fprintf(stderr, "obsflow combine: at most %d inputs\n", CALIB_MAX_INPUTS);
        return CALIB_CLI_EXIT_USAGE;
    }
    if ((nscale && nscale != n) || (nweights && nweights != n)) {
        fprintf(stderr, "obsflow combine: --scale and --weights need one value per input (%zu)\n",
                n);
        return CALIB_CLI_EXIT_USAGE;
    }
    if (nscale) {
        o.scale = scale;
    }
    if (nweights) {
        o.weights = weights;
    }
    o.progress = calib_cli_progress;
    o.progress_arg = (void *)(uintptr_t) "combine";
    struct calib_combine_stats st;
    struct err_info ei;
    err_info_clear(&ei);
    enum err e = calib_combine_files((const char *const *)(argv + optind), n, out, &o, &st, &ei);
    if (e != ERR_OK) {
        return calib_cli_fail("combine", e, &ei);
    }
    if (stats) {
        printf("{\"nx\":%lld,\"ny\":%lld,\"inputs\":%zu,\"band_rows\":%lld,\"band_bytes\":%zu,"
               "\"all_rejected\":%lld}\n",
               (long long)st.nx, (long long)st.ny, n, (long long)st.band_rows, st.band_bytes,
               (long long)st.all_rejected);
    }
    return 0;
}
