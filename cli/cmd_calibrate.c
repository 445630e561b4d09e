/* cmd_calibrate.c - `obsflow calibrate`: one frame through DQ init, overscan, trim, bias, gain,
 * ERR, dark and flat; writes SCI, ERR and DQ as image extensions 1-3.
 * Exit codes: 0 written, 2 usage, 23 calibration failed (unreadable or corrupt FITS, shape
 * mismatch between frame and reference, bad section), 32 out of memory.
 * SPDX-License-Identifier: Apache-2.0 */
#include "calib/calib.h"
#include "calib_cli.h"
#include "core/str.h"
#include "fits/fits_image.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_cmd_calibrate(int argc, char **argv);
extern const char cli_help_calibrate[];
const char cli_help_calibrate[] =
    "calibrate one frame: calibrate [--overscan SEC] [--trim SEC] [--bias F] [--dark F] "
    "[--flat F] [--gain G] [--readnoise R] [--ccdproc] -o OUT.fits IN.fits";

static void usage(void)
{
    fprintf(stderr,
            "usage: obsflow calibrate [--overscan SECTION] [--overscan-stat mean|median]\n"
            "         [--overscan-fit] [--trim SECTION] [--bias F] [--dark F] [--flat F]\n"
            "         [--gain G] [--readnoise R] [--bpm F] [--bpixtab F] [--atodsat DN]\n"
            "         [--fullwell E] [--dark-scale] [--flat-min V] [--hdu HDU] [--ccdproc]\n"
            "         [--float32] [--checksum] [--no-fsync] [--band-mb N] [--in-memory]\n"
            "         -o OUT.fits IN.fits\n"
            "  SECTION      FITS section, 1-based inclusive, x first: [2050:2080,1:350]\n"
            "  --ccdproc    reproduce python3-ccdproc 2.4 ccd_process() arithmetic and order\n"
            "  --bpixtab    HST bad-pixel table (rows matched on CCDAMP/CCDGAIN, shifted by LTV)\n"
            "  --in-memory  hold whole frames instead of streaming bands (same results)\n");
}

static void step(const char *what)
{
    if (isatty(STDERR_FILENO)) {
        fprintf(stderr, "\rcalibrate: %-40s", what);
        if (strcmp(what, "done") == 0) {
            fputc('\n', stderr);
        }
        fflush(stderr);
    }
}

/* CCDAMP, CCDGAIN and LTV1/LTV2 of the input, for matching bad-pixel table rows. */
static enum err bpix_context(const char *path, const char *hdu, char *amp, size_t cap,
                             double *gain, double *ltv1, double *ltv2, struct err_info *ei)
{
    struct fitsimg *f = NULL;
    enum err e = fitsimg_open(path, &f, ei);
    if (e != ERR_OK) {
        return e;
    }
    amp[0] = '\0';
    *gain = 0;
    *ltv1 = *ltv2 = 0;
    if (fitsimg_key_str(f, "CCDAMP", amp, cap, NULL) != ERR_OK) {
        amp[0] = '\0';
    }
    if (fitsimg_key_double(f, "CCDGAIN", gain, NULL) != ERR_OK) {
        *gain = 0;
    }
    struct err_info tmp;
    e = hdu ? fitsimg_select_spec(f, hdu, ei)
            : (fitsimg_select_name(f, "SCI", 1, &tmp) == ERR_OK ? ERR_OK
                                                                 : fitsimg_select_first_image(f, ei));
    if (e == ERR_OK) {
        if (fitsimg_key_double(f, "LTV1", ltv1, NULL) != ERR_OK) {
            *ltv1 = 0;
        }
        if (fitsimg_key_double(f, "LTV2", ltv2, NULL) != ERR_OK) {
            *ltv2 = 0;
        }
    }
    fitsimg_close(f);
    return e;
}

int cli_cmd_calibrate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"overscan", required_argument, NULL, 'O'},
        {"overscan-stat", required_argument, NULL, 'M'},
        {"overscan-fit", no_argument, NULL, 'F'},
        {"trim", required_argument, NULL, 'T'},
        {"bias", required_argument, NULL, 'b'},
        {"dark", required_argument, NULL, 'd'},
        {"flat", required_argument, NULL, 'f'},
        {"gain", required_argument, NULL, 'g'},
        {"readnoise", required_argument, NULL, 'r'},
        {"bpm", required_argument, NULL, 'p'},
        {"bpixtab", required_argument, NULL, 'P'},
        {"atodsat", required_argument, NULL, 'A'},
        {"fullwell", required_argument, NULL, 'W'},
        {"dark-scale", no_argument, NULL, 'D'},
        {"flat-min", required_argument, NULL, 'm'},
        {"hdu", required_argument, NULL, 'H'},
        {"ccdproc", no_argument, NULL, 'c'},
        {"float32", no_argument, NULL, '3'},
        {"checksum", no_argument, NULL, 'k'},
        {"no-fsync", no_argument, NULL, 'S'},
        {"in-memory", no_argument, NULL, 'I'},
        {"band-mb", required_argument, NULL, 'B'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct calib_plan plan;
    memset(&plan, 0, sizeof(plan));
    plan.oscan_stat = CALIB_OSCAN_MEDIAN;
    const char *out = NULL, *bias = NULL, *dark = NULL, *flat = NULL, *bpm = NULL, *bpix = NULL;
    const char *hdu = NULL;
    struct calib_write_opts wo = {false, false, false};
    bool in_memory = false;
    size_t band_bytes = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'O': plan.overscan = optarg; break;
        case 'M':
            if (strcmp(optarg, "mean") == 0) {
                plan.oscan_stat = CALIB_OSCAN_MEAN;
            } else if (strcmp(optarg, "median") == 0) {
                plan.oscan_stat = CALIB_OSCAN_MEDIAN;
            } else {
                fprintf(stderr, "obsflow calibrate: --overscan-stat is mean or median\n");
                return CALIB_CLI_EXIT_USAGE;
            }
            break;
        case 'F': plan.oscan_fit = true; break;
        case 'T': plan.trim = optarg; break;
        case 'b': bias = optarg; break;
        case 'd': dark = optarg; break;
        case 'f': flat = optarg; break;
        case 'p': bpm = optarg; break;
        case 'P': bpix = optarg; break;
        case 'H': hdu = optarg; break;
        case 'g':
            if (!calib_cli_parse_double(optarg, &plan.gain) || !(plan.gain > 0)) {
                fprintf(stderr, "obsflow calibrate: --gain must be a number > 0\n");
                return CALIB_CLI_EXIT_USAGE;
            }
            plan.has_gain = true;
            break;
        case 'r':
            if (!calib_cli_parse_double(optarg, &plan.readnoise) || plan.readnoise < 0) {
                fprintf(stderr, "obsflow calibrate: --readnoise must be a number >= 0\n");
                return CALIB_CLI_EXIT_USAGE;
            }
            plan.has_readnoise = true;
            break;
        case 'A':
            if (!calib_cli_parse_double(optarg, &plan.atodsat) || !(plan.atodsat > 0)) {
                fprintf(stderr, "obsflow calibrate: --atodsat must be a number > 0\n");
                return CALIB_CLI_EXIT_USAGE;
            }
            break;
        case 'W':
            if (!calib_cli_parse_double(optarg, &plan.fullwell) || !(plan.fullwell > 0)) {
                fprintf(stderr, "obsflow calibrate: --fullwell must be a number > 0\n");
                return CALIB_CLI_EXIT_USAGE;
            }
            break;
        case 'D': plan.dark_scale = true; break;
        case 'm':
            if (!calib_cli_parse_double(optarg, &plan.flat_min)) {
                fprintf(stderr, "obsflow calibrate: bad --flat-min\n");
                return CALIB_CLI_EXIT_USAGE;
            }
            plan.has_flat_min = true;
            break;
        case 'c': plan.mode = CALIB_MODE_CCDPROC; break;
        case '3': wo.float32 = true; break;
        case 'k': wo.checksum = true; break;
        case 'S': wo.no_sync = true; break;
        case 'I': in_memory = true; break;
        case 'B': {
            int64_t mb = 0;
            if (str_to_i64(optarg, 1, 4096, &mb) != ERR_OK) {
                fprintf(stderr, "obsflow calibrate: --band-mb wants 1..4096, not \"%s\"\n", optarg);
                return CALIB_CLI_EXIT_USAGE;
            }
            band_bytes = (size_t)mb << 20;
            break;
        }
        case 'o': out = optarg; break;
        case 'h': usage(); return 0;
        default: usage(); return CALIB_CLI_EXIT_USAGE;
        }
    }
    if (!out || argc - optind != 1) {
        usage();
        return CALIB_CLI_EXIT_USAGE;
    }
    if (plan.mode == CALIB_MODE_CCDPROC && plan.has_readnoise && !plan.has_gain) {
        fprintf(stderr, "obsflow calibrate: --ccdproc needs --gain with --readnoise (as "
                        "ccd_process does)\n");
        return CALIB_CLI_EXIT_USAGE;
    }
    const char *in = argv[optind];
    struct calib_frame frame, fb, fd, ff, fm;
    memset(&frame, 0, sizeof(frame));
    memset(&fb, 0, sizeof(fb));
    memset(&fd, 0, sizeof(fd));
    memset(&ff, 0, sizeof(ff));
    memset(&fm, 0, sizeof(fm));
    struct calib_bpix *rows = NULL;
    struct calib_record *rec = calloc(1, sizeof(*rec));
    struct err_info ei;
    err_info_clear(&ei);
    enum err e = ERR_OK;
    if (!rec) {
        e = err_set(&ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    if (bpix) {
        char amp[32];
        double g = 0, l1 = 0, l2 = 0;
        if ((e = bpix_context(in, hdu, amp, sizeof(amp), &g, &l1, &l2, &ei)) != ERR_OK ||
            (e = calib_bpix_read(bpix, amp[0] ? amp : NULL, g, l1, l2, &rows, &plan.nbpix, &ei)) !=
                ERR_OK) {
            goto out;
        }
        plan.bpix = rows;
        plan.bpix_name = bpix;
    }
    if (!in_memory) {
        struct calib_ref_paths refs = {bias, dark, flat, bpm};
        plan.progress = calib_cli_progress;
        plan.progress_arg = (void *)(uintptr_t) "calibrate";
        e = calib_run_file(in, hdu, &plan, &refs, out, &wo, band_bytes, rec, &ei);
        goto out;
    }
    step("reading");
    if ((e = calib_frame_read(in, hdu, &frame, &ei)) != ERR_OK) {
        goto out;
    }
    if (bias) {
        if ((e = calib_frame_read(bias, NULL, &fb, &ei)) != ERR_OK) {
            goto out;
        }
        plan.bias = &fb;
    }
    if (dark) {
        if ((e = calib_frame_read(dark, NULL, &fd, &ei)) != ERR_OK) {
            goto out;
        }
        plan.dark = &fd;
    }
    if (flat) {
        if ((e = calib_frame_read(flat, NULL, &ff, &ei)) != ERR_OK) {
            goto out;
        }
        plan.flat = &ff;
    }
    if (bpm) {
        if ((e = calib_frame_read(bpm, NULL, &fm, &ei)) != ERR_OK) {
            goto out;
        }
        plan.mask = &fm;
    }
    step("calibrating");
    if ((e = calib_run(&frame, &plan, rec, &ei)) != ERR_OK) {
        goto out;
    }
    step("writing");
    e = calib_frame_write(&frame, out, in, rec, &wo, &ei);
    if (e == ERR_OK) {
        step("done");
    }
out:
    if (e != ERR_OK && isatty(STDERR_FILENO) && in_memory) {
        fputc('\n', stderr);
    }
    calib_frame_free(&frame);
    calib_frame_free(&fb);
    calib_frame_free(&fd);
    calib_frame_free(&ff);
    calib_frame_free(&fm);
    free(rows);
    free(rec);
    if (e != ERR_OK) {
        return calib_cli_fail("calibrate", e, &ei);
    }
    return 0;
}
