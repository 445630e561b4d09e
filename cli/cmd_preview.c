/* cmd_preview.c - `obsflow preview [--size N] -o OUT.jpg IN.fits`: one fitscut-style JPEG
 * (CALDP settings: autoscale 99.5, asinh, BADPIX/GOODMIN/GOODMAX, quality 75).
 * Exit codes: 0 written, 2 usage, 28 (CALDP CREATE_PREVIEWS_ERROR) the preview failed.
 * SPDX-License-Identifier: Apache-2.0 */
#include "pipeline/pipeline.h"

#include "core/str.h"
#include "preview/preview.h"

#include <getopt.h>
#include <stdio.h>

int cli_cmd_preview(int argc, char **argv);
extern const char cli_help_preview[];
const char cli_help_preview[] = "JPEG preview of a FITS image: preview [--size N] -o OUT.jpg IN.fits";

static void usage(void)
{
    fprintf(stderr,
            "usage: obsflow preview [--size N] [--quality Q] [--no-badpix] [--fsync] -o OUT.jpg "
            "IN.fits\n"
            "  --size N     long side of the output in pixels (128 = CALDP thumbnail; default:\n"
            "               full resolution)\n"
            "  --quality Q  JPEG quality 1..100 (default 75, as CALDP's fitscut)\n"
            "  --no-badpix  keep pixels equal to BADPIX or outside GOODMIN..GOODMAX\n"
            "  --fsync      make the written file durable (it is always replaced atomically)\n");
}

int cli_cmd_preview(int argc, char **argv)
{
    static const struct option opts[] = {
        {"size", required_argument, NULL, 's'},
        {"quality", required_argument, NULL, 'q'},
        {"no-badpix", no_argument, NULL, 'b'},
        {"fsync", no_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct preview_opts po;
    struct preview_result res;
    struct err_info ei;
    const char *out = NULL;
    int64_t v;
    int c;
    preview_opts_default(&po);
    err_info_clear(&ei);
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:q:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (str_to_i64(optarg, 0, PREVIEW_MAX_SIZE, &v) != ERR_OK) {
                fprintf(stderr, "obsflow preview: invalid --size \"%s\" (0..%d)\n", optarg,
                        PREVIEW_MAX_SIZE);
                return PIPELINE_CMDLINE_ERROR;
            }
            po.size = (int)v;
            break;
        case 'q':
            if (str_to_i64(optarg, 1, 100, &v) != ERR_OK) {
                fprintf(stderr, "obsflow preview: invalid --quality \"%s\" (1..100)\n", optarg);
                return PIPELINE_CMDLINE_ERROR;
            }
            po.quality = (int)v;
            break;
        case 'b':
            po.badpix = false;
            break;
        case 'f':
            po.durable = true;
            break;
        case 'o':
            out = optarg;
            break;
        case 'h':
            usage();
            return 0;
        default:
            usage();
            return PIPELINE_CMDLINE_ERROR;
        }
    }
    if (!out || optind != argc - 1) {
        usage();
        return PIPELINE_CMDLINE_ERROR;
    }
    if (preview_file(argv[optind], out, &po, &res, &ei) != ERR_OK) {
        fprintf(stderr, "obsflow preview: %s\n", ei.msg);
        return PIPELINE_CREATE_PREVIEWS_ERROR;
    }
    return 0;
}
