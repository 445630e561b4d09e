/* calib_combine.c - master-frame combiner: reads every input band by band (each file opened
 * once), rejects (extrema, min/max, sigma clip), combines (average, median, sum) and writes
 * SCI/ERR/DQ band by band. Memory is the band buffers, independent of the frame count.
 * SPDX-License-Identifier: Apache-2.0 */
#include "calib/calib.h"

#include "calib/calib_internal.h"
#include "core/str.h"
#include "fits/fits_image.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAD_TO_SIGMA 1.482602218505602

/* Sort (value, index) pairs by value, NaN last, ties by index (numpy argsort puts NaN last). */
static void sort_idx(const double *v, size_t *idx, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        idx[i] = i;
    }
    for (size_t i = 1; i < n; i++) {
        size_t t = idx[i];
        double x = v[t];
        size_t j = i;
        while (j > 0) {
            double y = v[idx[j - 1]];
            bool greater = isnan(y) ? !isnan(x) : (!isnan(x) && y > x);
            if (!greater) {
                break;
            }
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = t;
    }
}

void calib_combine_pixel(const double *v, bool *reject, size_t n,
                         const struct calib_combine_opts *o, const double *scale, double *scratch,
                         double *value, double *sigma, bool *all_rejected)
{
    bool rej_local[CALIB_MAX_INPUTS];
    bool *rej = reject ? reject : rej_local;
    if (!reject) {
        memset(rej_local, 0, n * sizeof(bool));
    }
    const bool ccdproc = o->mode == CALIB_MODE_CCDPROC;
    bool any_nan = false;
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i])) {
            rej[i] = true; /* nan-aware combination functions skip NaN */
            any_nan = true;
        }
    }
    if (o->clip_extrema && (o->nlow > 0 || o->nhigh > 0)) {
        size_t idx[CALIB_MAX_INPUTS];
        if (ccdproc) {
            sort_idx(v, idx, n); /* 2.4.0 ranks every value, rejected or not */
            for (int k = 0; k < o->nlow && (size_t)k < n; k++) {
                rej[idx[k]] = true;
            }
            for (int k = 0; k < o->nhigh && (size_t)k < n; k++) {
                rej[idx[n - 1 - (size_t)k]] = true;
            }
        } else {
            double *tmp = scratch; /* free until the kept values are gathered */
            size_t m = 0;
            size_t map[CALIB_MAX_INPUTS];
            for (size_t i = 0; i < n; i++) {
                if (!rej[i]) {
                    map[m] = i;
                    tmp[m++] = v[i];
                }
            }
            sort_idx(tmp, idx, m);
            for (int k = 0; k < o->nlow && (size_t)k < m; k++) {
                rej[map[idx[k]]] = true;
            }
            for (int k = 0; k < o->nhigh && (size_t)k < m; k++) {
                rej[map[idx[m - 1 - (size_t)k]]] = true;
            }
        }
    }
    if (o->has_min_clip || o->has_max_clip) {
        for (size_t i = 0; i < n; i++) {
            if ((o->has_min_clip && v[i] < o->min_clip) ||
                (o->has_max_clip && v[i] > o->max_clip)) {
                rej[i] = true;
            }
        }
    }
    if (o->sigma_clip) {
        if (ccdproc) {
            /* astropy sigma_clip(maxiters=1, cenfunc=ma.mean, stdfunc=ma.std) on the raw stack;
             * the result replaces every earlier rejection (ccdproc 2.4.0). */
            double sum = v[0];
            for (size_t i = 1; i < n; i++) {
                sum += v[i];
            }
            double mean = sum / (double)n;
            double ss = 0;
            for (size_t i = 0; i < n; i++) {
                double d = v[i] - mean;
                ss += d * d;
            }
            double sd = sqrt(ss / (double)n);
            double lo = mean - sd * o->sigma_low;
            double hi = mean + sd * o->sigma_high;
            for (size_t i = 0; i < n; i++) {
                rej[i] = !isfinite(v[i]) || (!any_nan && (v[i] < lo || v[i] > hi));
            }
        } else {
            double sum = 0;
            size_t m = 0;
            for (size_t i = 0; i < n; i++) {
                if (!rej[i]) {
                    sum += v[i];
                    m++;
                }
            }
            if (m > 0) {
                double mean = sum / (double)m;
                double ss = 0;
                for (size_t i = 0; i < n; i++) {
                    if (!rej[i]) {
                        double d = v[i] - mean;
                        ss += d * d;
                    }
                }
                double sd = sqrt(ss / (double)m);
                for (size_t i = 0; i < n; i++) {
                    if (!rej[i] && ((o->sigma_low > 0 && v[i] < mean - sd * o->sigma_low) ||
                                    (o->sigma_high > 0 && v[i] > mean + sd * o->sigma_high))) {
                        rej[i] = true;
                    }
                }
            }
        }
    }

    /* the kept values, scaled */
    double *d = scratch;
    double *work = scratch + n;
    size_t m = 0;
    double wsum_all = 0, wsum_kept = 0, wdot = 0;
    for (size_t i = 0; i < n; i++) {
        double w = o->weights ? o->weights[i] : 1.0;
        wsum_all += w;
        if (rej[i]) {
            continue;
        }
        double x = scale ? v[i] * scale[i] : v[i];
        d[m++] = x;
        if (o->weights) {
            wdot += x * w;
            wsum_kept += w;
        }
    }
    *all_rejected = m == 0;
    if (m == 0) {
        *value = o->method == CALIB_COMBINE_SUM ? 0.0 : NAN;
        *sigma = NAN;
        return;
    }
    /* nanstd(ddof=0) of the kept values, then the per-method scaling */
    double sum = 0;
    for (size_t i = 0; i < m; i++) {
        sum += d[i];
    }
    double mean = sum / (double)m;
    double ss = 0;
    for (size_t i = 0; i < m; i++) {
        double t = d[i] - mean;
        ss += t * t;
    }
    double sd = sqrt(ss / (double)m);
    double rootm = sqrt((double)m);
    switch (o->method) {
    case CALIB_COMBINE_AVERAGE:
        if (o->weights) {
            *value = wdot / (ccdproc ? wsum_all : wsum_kept);
        } else {
            *value = mean;
        }
        *sigma = sd / rootm;
        break;
    case CALIB_COMBINE_SUM:
        *value = o->weights ? wdot : sum;
        *sigma = sd / rootm * (double)m;
        break;
    case CALIB_COMBINE_MEDIAN:
    default: {
        memcpy(work, d, m * sizeof(double));
        double med = calib_median_inplace(work, m);
        for (size_t i = 0; i < m; i++) {
            work[i] = fabs(d[i] - med);
        }
        double mad = calib_median_inplace(work, m);
        *value = med;
        *sigma = mad * MAD_TO_SIGMA / rootm;
        break;
    }
    }
}

/* ------------------------------------------------------------------------------------------- */

struct input {
    struct fitsimg *f;
    int sci_hdu;
    int dq_hdu;  /* -1: no DQ plane to honour */
};

struct band_job {
    const struct calib_combine_opts *o;
    const double *scale;
    double **stack;      /* [n] band buffers, nx*rows each */
    uint16_t **dqs;      /* [n] or NULL */
    size_t n;
    int64_t nx;
    int64_t row0, row1;  /* rows of the band this job computes (band-relative) */
    double *osci, *oerr;
    uint16_t *odq;
    int64_t nrej_all;
};

static void *band_work(void *arg)
{
    struct band_job *j = arg;
    double v[CALIB_MAX_INPUTS];
    bool rej[CALIB_MAX_INPUTS];
    double scratch[2 * CALIB_MAX_INPUTS];
    for (int64_t y = j->row0; y < j->row1; y++) {
        for (int64_t x = 0; x < j->nx; x++) {
            size_t p = (size_t)(y * j->nx + x);
            uint16_t dqor = 0;
            for (size_t i = 0; i < j->n; i++) {
                v[i] = j->stack[i][p];
                rej[i] = false;
                if (j->dqs && j->dqs[i]) {
                    uint16_t q = j->dqs[i][p];
                    rej[i] = q != 0;
                    dqor |= q;
                }
            }
            double val, sig;
            bool all;
            calib_combine_pixel(v, rej, j->n, j->o, j->scale, scratch, &val, &sig, &all);
            j->osci[p] = val;
            j->oerr[p] = sig;
            j->odq[p] = all ? (uint16_t)(CALIB_DQ_DATAREJECT | dqor) : 0;
            if (all) {
                j->nrej_all++;
            }
        }
    }
    return NULL;
}

static const char *method_name(enum calib_combine_method m)
{
    switch (m) {
    case CALIB_COMBINE_AVERAGE: return "average";
    case CALIB_COMBINE_MEDIAN: return "median";
    case CALIB_COMBINE_SUM: return "sum";
    }
    return "?";
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* 1/median of one input, read whole (one frame of memory, released before the bands). */
static enum err inv_median(struct input *in, double *out, struct err_info *ei)
{
    enum err e = fitsimg_select(in->f, in->sci_hdu, ei);
    if (e != ERR_OK) {
        return e;
    }
    double *img = NULL;
    int64_t nx = 0, ny = 0;
    e = fitsimg_read_all(in->f, &img, &nx, &ny, ei);
    if (e != ERR_OK) {
        return e;
    }
    size_t m = 0;
    for (int64_t i = 0; i < nx * ny; i++) {
        if (!isnan(img[i])) {
            img[m++] = img[i];
        }
    }
    double med = calib_median_inplace(img, m);
    free(img);
    if (!(med != 0) || !isfinite(med)) {
        return err_set(ei, ERR_CALIB, "file \"%s\": median %g cannot scale", fitsimg_path(in->f),
                       med);
    }
    *out = 1.0 / med;
    return ERR_OK;
}

enum err calib_combine_files(const char *const *inputs, size_t n, const char *out_path,
                             const struct calib_combine_opts *o, struct calib_combine_stats *st,
                             struct err_info *ei)
{
    struct calib_combine_stats stats;
    memset(&stats, 0, sizeof(stats));
    if (n < 1 || n > CALIB_MAX_INPUTS) {
        return err_set(ei, ERR_INVALID, "combine needs 1 to %d input frames, not %zu",
                       CALIB_MAX_INPUTS, n);
    }
    if (o->sigma_clip && o->mode == CALIB_MODE_CCDPROC &&
        (!(o->sigma_low >= 0) || !(o->sigma_high >= 0))) {
        return err_set(ei, ERR_INVALID, "sigma-clip thresholds must be >= 0");
    }
    enum err e = ERR_OK;
    struct input *in = calloc(n, sizeof(*in));
    double **stack = calloc(n, sizeof(double *));
    uint16_t **dqs = calloc(n, sizeof(uint16_t *));
    double *dqrow = NULL;
    double *scale = NULL;
    double *osci = NULL, *oerr = NULL;
    uint16_t *odq = NULL;
    struct fitsimg_writer *w = NULL;
    if (!in || !stack || !dqs) {
        e = err_set(ei, ERR_NOMEM, "out of memory");
        goto out;
    }
    int64_t nx = 0, ny = 0;
    bool any_dq = false;
    char bunit[72] = "";
    for (size_t i = 0; i < n; i++) {
        e = fitsimg_open(inputs[i], &in[i].f, ei);
        if (e != ERR_OK) {
            goto out;
        }
        struct err_info tmp;
        if (fitsimg_select_name(in[i].f, "SCI", 1, &tmp) != ERR_OK) {
            e = fitsimg_select_first_image(in[i].f, ei);
            if (e != ERR_OK) {
                goto out;
            }
        }
        struct fitsimg_info info;
        fitsimg_get_info(in[i].f, &info);
        in[i].sci_hdu = info.hdu;
        in[i].dq_hdu = -1;
        if (info.nplanes > 1) {
            e = err_set(ei, ERR_UNSUPPORTED, "file \"%s\": a cube is not a frame", inputs[i]);
            goto out;
        }
        if (i == 0) {
            nx = info.nx;
            ny = info.ny;
            if (fitsimg_key_str(in[i].f, "BUNIT", bunit, sizeof(bunit), NULL) != ERR_OK) {
                bunit[0] = '\0';
            }
        } else if (info.nx != nx || info.ny != ny) {
            e = err_set(ei, ERR_CALIB, "shape mismatch: \"%s\" is %lldx%lld but \"%s\" is %lldx%lld",
                        inputs[i], (long long)info.nx, (long long)info.ny, inputs[0],
                        (long long)nx, (long long)ny);
            goto out;
        }
        if (o->mode == CALIB_MODE_DEFAULT && strcasecmp(info.extname, "SCI") == 0 &&
            fitsimg_select_name(in[i].f, "DQ", info.extver, &tmp) == ERR_OK) {
            struct fitsimg_info dqi;
            fitsimg_get_info(in[i].f, &dqi);
            if (dqi.nx == nx && dqi.ny == ny && !(dqi.constant && dqi.pixvalue == 0)) {
                in[i].dq_hdu = dqi.hdu;
                any_dq = true;
            }
        }
    }
    if (o->scale) {
        scale = malloc(n * sizeof(double));
        if (!scale) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
            goto out;
        }
        memcpy(scale, o->scale, n * sizeof(double));
    } else if (o->scale_inv_median) {
        scale = malloc(n * sizeof(double));
        if (!scale) {
            e = err_set(ei, ERR_NOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            e = inv_median(&in[i], &scale[i], ei);
            if (e != ERR_OK) {
                goto out;
            }
        }
    }

    /* band size: the stack of n input bands plus the output band fit the budget */
    size_t budget = o->band_bytes ? o->band_bytes : CALIB_BAND_BYTES;
    size_t per_row = (size_t)nx * (n * sizeof(double) + (any_dq ? n * sizeof(uint16_t) : 0) +
                                   2 * sizeof(double) + sizeof(uint16_t));
    int64_t band = (int64_t)(budget / per_row);
    if (band < 1) {
        band = 1;
    }
    if (band > ny) {
        band = ny;
    }
    stats.nx = nx;
    stats.ny = ny;
    stats.band_rows = band;
    stats.band_bytes = per_row * (size_t)band + (any_dq ? (size_t)nx * (size_t)band * 8 : 0);
    for (size_t i = 0; i < n; i++) {
        stack[i] = malloc((size_t)(band * nx) * sizeof(double));
        if (!stack[i]) {
            e = err_set(ei, ERR_NOMEM, "out of memory for the band buffers");
            goto out;
        }
        if (in[i].dq_hdu >= 0) {
            dqs[i] = malloc((size_t)(band * nx) * sizeof(uint16_t));
            if (!dqs[i]) {
                e = err_set(ei, ERR_NOMEM, "out of memory for the band buffers");
                goto out;
            }
        }
    }
    osci = malloc((size_t)(band * nx) * sizeof(double));
    oerr = malloc((size_t)(band * nx) * sizeof(double));
    odq = malloc((size_t)(band * nx) * sizeof(uint16_t));
    if (any_dq) {
        dqrow = malloc((size_t)(band * nx) * sizeof(double));
    }
    if (!osci || !oerr || !odq || (any_dq && !dqrow)) {
        e = err_set(ei, ERR_NOMEM, "out of memory for the band buffers");
        goto out;
    }

    /* the product: primary and SCI headers from the first input */
    e = fitsimg_writer_create(out_path, &w, ei);
    if (e != ERR_OK) {
        goto out;
    }
    fitsimg_writer_set_checksum(w, o->checksum);
    if ((e = fitsimg_select(in[0].f, 0, ei)) != ERR_OK ||
        (e = fitsimg_writer_copy_keys(w, in[0].f, ei)) != ERR_OK) {
        goto out;
    }
    if ((e = fitsimg_writer_key_int(w, "NCOMBINE", (int64_t)n, "number of frames combined",
                                    ei)) != ERR_OK ||
        (e = fitsimg_writer_key_str(w, "COMBMETH", method_name(o->method), "combination method",
                                    ei)) != ERR_OK ||
        (e = fitsimg_writer_key_str(w, "CALMODE",
                                    o->mode == CALIB_MODE_CCDPROC ? "ccdproc-2.4" : "calacs",
                                    "arithmetic of obsflow combine", ei)) != ERR_OK) {
        goto out;
    }
    if (o->sigma_clip) {
        if ((e = fitsimg_writer_key_double(w, "CLIPLOW", o->sigma_low, "sigma clip low", ei)) !=
                ERR_OK ||
            (e = fitsimg_writer_key_double(w, "CLIPHIGH", o->sigma_high, "sigma clip high", ei)) !=
                ERR_OK) {
            goto out;
        }
    }
    for (size_t i = 0; i < n && i < 999; i++) {
        char key[16];
        snprintf(key, sizeof(key), "IMCMB%03zu", i + 1);
        if ((e = fitsimg_writer_key_str(w, key, base_name(inputs[i]), NULL, ei)) != ERR_OK) {
            goto out;
        }
    }
    enum fitsimg_type ft = o->float32_out ? FITSIMG_F32 : FITSIMG_F64;
    int h_sci = 0, h_err = 0, h_dq = 0;
    if ((e = fitsimg_writer_add_image(w, "SCI", 1, ft, nx, ny, &h_sci, ei)) != ERR_OK) {
        goto out;
    }
    if (in[0].sci_hdu != 0) {
        if ((e = fitsimg_select(in[0].f, in[0].sci_hdu, ei)) != ERR_OK ||
            (e = fitsimg_writer_copy_keys(w, in[0].f, ei)) != ERR_OK) {
            goto out;
        }
    }
    if (bunit[0] && (e = fitsimg_writer_key_str(w, "BUNIT", bunit, NULL, ei)) != ERR_OK) {
        goto out;
    }
    if ((e = fitsimg_writer_add_image(w, "ERR", 1, ft, nx, ny, &h_err, ei)) != ERR_OK) {
        goto out;
    }
    if (bunit[0] && (e = fitsimg_writer_key_str(w, "BUNIT", bunit, NULL, ei)) != ERR_OK) {
        goto out;
    }
    if ((e = fitsimg_writer_add_image(w, "DQ", 1, FITSIMG_I16, nx, ny, &h_dq, ei)) != ERR_OK) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if ((e = fitsimg_select(in[i].f, in[i].sci_hdu, ei)) != ERR_OK) {
            goto out;
        }
    }

    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int nthreads = ncpu >= 2 ? 2 : 1;
    for (int64_t row0 = 0; row0 < ny; row0 += band) {
        int64_t rows = row0 + band <= ny ? band : ny - row0;
        for (size_t i = 0; i < n; i++) {
            if (in[i].dq_hdu >= 0) {
                if ((e = fitsimg_select(in[i].f, in[i].dq_hdu, ei)) != ERR_OK ||
                    (e = fitsimg_read_rows(in[i].f, row0, rows, dqrow, ei)) != ERR_OK ||
                    (e = fitsimg_select(in[i].f, in[i].sci_hdu, ei)) != ERR_OK) {
                    goto out;
                }
                for (int64_t k = 0; k < rows * nx; k++) {
                    double q = dqrow[k];
                    dqs[i][k] = (uint16_t)(q > 0 && q < 65536 ? (uint32_t)q : 0);
                }
            }
            e = fitsimg_read_rows(in[i].f, row0, rows, stack[i], ei);
            if (e != ERR_OK) {
                goto out;
            }
        }
        struct band_job jobs[2];
        int64_t split = nthreads > 1 && rows > 1 ? rows / 2 : rows;
        for (int t = 0; t < 2; t++) {
            jobs[t] = (struct band_job){.o = o, .scale = scale, .stack = stack,
                                        .dqs = any_dq ? dqs : NULL, .n = n, .nx = nx,
                                        .row0 = t == 0 ? 0 : split, .row1 = t == 0 ? split : rows,
                                        .osci = osci, .oerr = oerr, .odq = odq, .nrej_all = 0};
        }
        pthread_t th;
        bool threaded = split < rows && pthread_create(&th, NULL, band_work, &jobs[1]) == 0;
        band_work(&jobs[0]);
        if (threaded) {
            pthread_join(th, NULL);
        } else if (split < rows) {
            band_work(&jobs[1]);
        }
        stats.all_rejected += jobs[0].nrej_all + jobs[1].nrej_all;
        if ((e = fitsimg_writer_select(w, h_sci, ei)) != ERR_OK ||
            (e = fitsimg_writer_write_rows(w, row0, rows, FITSIMG_F64, osci, ei)) != ERR_OK ||
            (e = fitsimg_writer_select(w, h_err, ei)) != ERR_OK ||
            (e = fitsimg_writer_write_rows(w, row0, rows, FITSIMG_F64, oerr, ei)) != ERR_OK ||
            (e = fitsimg_writer_select(w, h_dq, ei)) != ERR_OK ||
            (e = fitsimg_writer_write_rows(w, row0, rows, FITSIMG_U16, odq, ei)) != ERR_OK) {
            goto out;
        }
        if (o->progress) {
            o->progress(row0 + rows, ny, o->progress_arg);
        }
    }
    if ((e = fitsimg_writer_select(w, 0, ei)) != ERR_OK ||
        (e = fitsimg_writer_history(w, "combined by obsflow combine", ei)) != ERR_OK) {
        goto out;
    }
    e = fitsimg_writer_commit(w, ei);
out:
    fitsimg_writer_destroy(w);
    if (in) {
        for (size_t i = 0; i < n; i++) {
            fitsimg_close(in[i].f);
        }
    }
    if (stack) {
        for (size_t i = 0; i < n; i++) {
            free(stack[i]);
        }
    }
    if (dqs) {
        for (size_t i = 0; i < n; i++) {
            free(dqs[i]);
        }
    }
    free(in);
    free(stack);
    free(dqs);
    free(dqrow);
    free(scale);
    free(osci);
    free(oerr);
    free(odq);
    if (st) {
        *st = stats;
    }
    return e;
}
