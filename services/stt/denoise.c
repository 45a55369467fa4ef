/* denoise — see denoise.h. */
#include "denoise.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define N DENOISE_HOP * 2           /* frame: 512 samples, 32 ms */
#define H DENOISE_HOP
#define BINS (N / 2 + 1)
#define NOISE_INIT_FRAMES 8         /* ~140 ms of the pre-roll */
/* Tuned on wer_test's corpus: a floor of 0.05 beat 0.12; over-subtraction
 * (noise x 1.5 or 2) and a faster a-priori SNR (0.95) made it worse. */
#define ALPHA_DD 0.98               /* decision-directed smoothing */
#define GAIN_FLOOR 0.05             /* -26 dB */
#define NOISE_UPDATE 0.95           /* noise PSD smoothing in noise-like frames */
/* The gain uses the noise PSD averaged over +-8 bins (+-250 Hz): 8 frames
 * of pre-roll leave each bin's estimate with a spread of about +-35 %,
 * and bins the speech does not reach then get random gains (musical noise
 * the acoustic model takes for phones). Averaging neighbours cuts the
 * spread threefold; a broadband noise's spectrum is smooth at that scale
 * (a hum's line is smeared over 500 Hz: under-suppressed, not amplified). */
#define NOISE_SMOOTH_BINS 8
/* The band the acoustic model hears (its filterbank: 130-6800 Hz), in
 * bins of 31.25 Hz: whether a frame is near the noise level is judged on
 * it alone. Pink noise has much of its power below 130 Hz, where the model
 * does not listen, and that power used to decide for the whole frame.
 * Chosen on the held-out set (docs/stt.md). */
#define BAND_LO 4                   /* 125 Hz */
#define BAND_HI 218                 /* 6812 Hz */

struct denoise {
    float win[N];                   /* sqrt-Hann */
    float in[N];                    /* analysis buffer: the last N input samples */
    size_t fill;                    /* new samples in `in` since the last frame */
    float ola[N];                   /* overlap-add of synthesised frames */
    float noise[BINS];
    float prev_gain2_gamma[BINS];   /* G^2 * gamma of the previous frame */
    int frames;
    float re[N], im[N];
};

static void s_fft(float *re, float *im, bool inverse)
{
    for (size_t i = 1, j = 0; i < N; i++) {
        size_t bit = N >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j ^= bit;
        if (i < j) {
            float t = re[i]; re[i] = re[j]; re[j] = t;
            t = im[i]; im[i] = im[j]; im[j] = t;
        }
    }
    for (size_t len = 2; len <= N; len <<= 1) {
        double ang = 2 * M_PI / (double)len * (inverse ? 1 : -1);
        float wr = (float)cos(ang), wi = (float)sin(ang);
        for (size_t i = 0; i < N; i += len) {
            float cr = 1, ci = 0;
            for (size_t k = 0; k < len / 2; k++) {
                size_t a = i + k, b = i + k + len / 2;
                float tr = re[b] * cr - im[b] * ci, ti = re[b] * ci + im[b] * cr;
                re[b] = re[a] - tr; im[b] = im[a] - ti;
                re[a] += tr; im[a] += ti;
                float nr = cr * wr - ci * wi;
                ci = cr * wi + ci * wr;
                cr = nr;
            }
        }
    }
    if (inverse)
        for (size_t i = 0; i < N; i++) re[i] /= N, im[i] /= N;
}

denoise_t *denoise_new(void)
{
    denoise_t *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    for (size_t i = 0; i < N; i++) d->win[i] = (float)sqrt(0.5 - 0.5 * cos(2 * M_PI * (double)i / N));
    denoise_reset(d);
    return d;
}

void denoise_destroy(denoise_t **self_p)
{
    if (!self_p || !*self_p) return;
    free(*self_p);
    *self_p = NULL;
}

void denoise_reset(denoise_t *d)
{
    memset(d->in, 0, sizeof d->in);
    memset(d->ola, 0, sizeof d->ola);
    memset(d->noise, 0, sizeof d->noise);
    memset(d->prev_gain2_gamma, 0, sizeof d->prev_gain2_gamma);
    d->fill = H;   /* the first frame starts half full of zeros */
    d->frames = 0;
}

/* One frame of N samples in d->in: filtered, overlap-added; the first H
 * samples of the overlap-add are final and go to out. */
static void s_frame(denoise_t *d, int16_t *out)
{
    for (size_t i = 0; i < N; i++) d->re[i] = d->in[i] * d->win[i], d->im[i] = 0;
    s_fft(d->re, d->im, false);
    float power[BINS];
    double frame_p = 0, noise_p = 0;
    for (size_t k = 0; k < BINS; k++) {
        power[k] = d->re[k] * d->re[k] + d->im[k] * d->im[k];
        if (k < BAND_LO || k > BAND_HI) continue;
        frame_p += power[k];
        noise_p += d->noise[k];
    }
    if (d->frames < NOISE_INIT_FRAMES) {
        /* The pre-roll: its average is the first noise estimate. */
        for (size_t k = 0; k < BINS; k++) d->noise[k] += (power[k] - d->noise[k]) / (float)(d->frames + 1);
    } else if (frame_p < 2.0 * noise_p) {
        /* A frame near the noise level: follow slowly changing noise. */
        for (size_t k = 0; k < BINS; k++) d->noise[k] = (float)(NOISE_UPDATE * d->noise[k] + (1 - NOISE_UPDATE) * power[k]);
    }
    d->frames++;
    /* Running sum over the window [k - NOISE_SMOOTH_BINS, k + NOISE_SMOOTH_BINS]. */
    float smooth[BINS];
    double sum = 0;
    size_t lo = 0, hi = 0;   /* the window is [lo, hi) */
    for (size_t k = 0; k < BINS; k++) {
        while (hi < BINS && hi <= k + NOISE_SMOOTH_BINS) sum += d->noise[hi++];
        while (lo + NOISE_SMOOTH_BINS < k) sum -= d->noise[lo++];
        smooth[k] = (float)(sum / (double)(hi - lo));
    }
    for (size_t k = 0; k < BINS; k++) {
        double nk = smooth[k] > 1e-3 ? smooth[k] : 1e-3;
        double gamma = power[k] / nk;                              /* a-posteriori SNR */
        double xi = ALPHA_DD * d->prev_gain2_gamma[k] + (1 - ALPHA_DD) * (gamma > 1 ? gamma - 1 : 0);
        double g = xi / (1 + xi);                                  /* Wiener */
        if (g < GAIN_FLOOR) g = GAIN_FLOOR;
        d->prev_gain2_gamma[k] = (float)(g * g * gamma);
        d->re[k] *= (float)g; d->im[k] *= (float)g;
        if (k > 0 && k < N / 2) {                                  /* keep the spectrum Hermitian */
            d->re[N - k] = d->re[k];
            d->im[N - k] = -d->im[k];
        }
    }
    s_fft(d->re, d->im, true);
    for (size_t i = 0; i < N; i++) d->ola[i] += d->re[i] * d->win[i];
    for (size_t i = 0; i < H; i++) {
        float v = d->ola[i];
        out[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : lrintf(v));
    }
    memmove(d->ola, d->ola + H, (N - H) * sizeof *d->ola);
    memset(d->ola + N - H, 0, H * sizeof *d->ola);
}

size_t denoise_process(denoise_t *d, const int16_t *in, size_t n, int16_t *out)
{
    size_t produced = 0;
    for (size_t i = 0; i < n; i++) {
        d->in[d->fill] = in[i];
        if (++d->fill == N) {
            s_frame(d, out + produced);
            produced += H;
            memmove(d->in, d->in + H, (N - H) * sizeof *d->in);
            d->fill = H;
        }
    }
    return produced;
}

size_t denoise_flush(denoise_t *d, int16_t *out)
{
    /* Zeros after the input push its last samples through both frames that
     * overlap them. */
    int16_t zeros[2 * H] = { 0 };
    size_t n = denoise_process(d, zeros, 2 * H - (d->fill - H), out);
    denoise_reset(d);
    return n;
}
