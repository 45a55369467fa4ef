/* compare — see compare.h.
 *
 * Direct O(n * lags) correlation: a few seconds at 8 kHz with +-1 s of lag
 * is a few hundred million multiply-adds, well under a second, so an FFT
 * would only add code. */
#include "compare.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcm.h"
#include "wav.h"

static void s_windows(const float *a, size_t na, const float *b, size_t nb, int rate,
                      int max_lag, compare_result_t *out);

int compare_signals(const float *a, size_t na, const float *b, size_t nb, int rate,
                    int max_lag, compare_result_t *out)
{
    double ea = 0, eb = 0;
    for (size_t i = 0; i < na; i++) ea += (double)a[i] * a[i];
    for (size_t i = 0; i < nb; i++) eb += (double)b[i] * b[i];
    if (!na || !nb || ea <= 0 || eb <= 0 || rate <= 0)
        return -1;
    double norm = sqrt(ea * eb);
    double best = -2;
    int best_lag = 0;
    for (int lag = -max_lag; lag <= max_lag; lag++) {
        /* sum over t of a[t] * b[t + lag], t within both signals */
        size_t t0 = lag < 0 ? (size_t)-lag : 0;
        size_t t1 = na;
        if ((int64_t)nb - lag < (int64_t)t1)
            t1 = (int64_t)nb - lag > 0 ? (size_t)((int64_t)nb - lag) : 0;
        float acc = 0;
        double sum = 0;
        size_t k = 0;
        for (size_t t = t0; t < t1; t++) {
            acc += a[t] * b[(int64_t)t + lag];
            if (++k == 4096) {      /* float speed, double range */
                sum += acc;
                acc = 0;
                k = 0;
            }
        }
        sum += acc;
        double c = sum / norm;
        if (c > best) {
            best = c;
            best_lag = lag;
        }
    }
    out->peak = best;
    out->lag_ms = (double)best_lag * 1000.0 / rate;
    s_windows(a, na, b, nb, rate, max_lag, out);
    return 0;
}

static int s_cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* Window by window: each window of a with sound against b at every lag. */
static void s_windows(const float *a, size_t na, const float *b, size_t nb, int rate,
                      int max_lag, compare_result_t *out)
{
    size_t win = (size_t)rate * COMPARE_WINDOW_MS / 1000;
    size_t nw = na / win;
    /* prefix sums of b^2, for the energy of any stretch of b in O(1) */
    double *eb = malloc((nb + 1) * sizeof *eb);
    double *peaks = malloc((nw + 1) * sizeof *peaks), *lags = malloc((nw + 1) * sizeof *lags);
    out->windows = 0;
    out->window_peak = -1;
    out->window_lag_ms = 0;
    if (!eb || !peaks || !lags || !nw)
        goto done;
    eb[0] = 0;
    for (size_t i = 0; i < nb; i++)
        eb[i + 1] = eb[i] + (double)b[i] * b[i];
    double emax = 0;
    for (size_t w = 0; w < nw; w++) {
        double e = 0;
        for (size_t t = w * win; t < (w + 1) * win; t++) e += (double)a[t] * a[t];
        if (e > emax) emax = e;
    }
    int n = 0;
    for (size_t w = 0; w < nw; w++) {
        const float *x = a + w * win;
        double ea = 0;
        for (size_t t = 0; t < win; t++) ea += (double)x[t] * x[t];
        if (ea <= emax * 1e-3)      /* 30 dB under the loudest window: a pause */
            continue;
        double best = -2;
        int best_lag = 0;
        for (int lag = -max_lag; lag <= max_lag; lag++) {
            int64_t s0 = (int64_t)(w * win) + lag;
            if (s0 < 0 || s0 + (int64_t)win > (int64_t)nb)
                continue;
            double e = eb[s0 + win] - eb[s0];
            if (e <= 0)
                continue;
            float acc = 0;
            for (size_t t = 0; t < win; t++)
                acc += x[t] * b[s0 + (int64_t)t];
            double c = acc / sqrt(ea * e);
            if (c > best) {
                best = c;
                best_lag = lag;
            }
        }
        if (best > -2) {
            peaks[n] = best;
            lags[n] = (double)best_lag * 1000.0 / rate;
            n++;
        }
    }
    if (n) {
        qsort(peaks, (size_t)n, sizeof *peaks, s_cmp_double);
        qsort(lags, (size_t)n, sizeof *lags, s_cmp_double);
        out->windows = n;
        out->window_peak = peaks[n / 2];
        out->window_lag_ms = lags[n / 2];
    }
done:
    free(eb);
    free(peaks);
    free(lags);
}

static float *s_load(const char *path, size_t *n, char *err, size_t err_size)
{
    pcm_t *in = NULL;
    const char *why = NULL;
    int rc = wav_read_file(path, &in, &why);
    if (rc < 0) {
        snprintf(err, err_size, "%s: %s", path, why ? why : strerror(-rc));
        return NULL;
    }
    pcm_t *f = pcm_resample(in, COMPARE_RATE, 1, PCM_F32);
    pcm_destroy(&in);
    if (!f) {
        snprintf(err, err_size, "%s: cannot convert the audio", path);
        return NULL;
    }
    *n = pcm_frames(f);
    float *out = malloc((*n + 1) * sizeof *out);
    if (out)
        memcpy(out, pcm_data(f), *n * sizeof *out);
    else
        snprintf(err, err_size, "out of memory");
    pcm_destroy(&f);
    return out;
}

int compare_files(const char *a_path, const char *b_path, int max_lag_ms,
                  compare_result_t *out, char *err, size_t err_size)
{
    size_t na = 0, nb = 0;
    float *a = s_load(a_path, &na, err, err_size);
    float *b = a ? s_load(b_path, &nb, err, err_size) : NULL;
    int rc = -1;
    if (a && b) {
        rc = compare_signals(a, na, b, nb, COMPARE_RATE, max_lag_ms * COMPARE_RATE / 1000, out);
        if (rc < 0)
            snprintf(err, err_size, "%s or %s is empty or silent", a_path, b_path);
    }
    free(a);
    free(b);
    return rc;
}
