/* vad_detect — see vad_detect.h and docs/vad.md. */
#include "vad_detect.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define S_FRAME_MS      10      /* decision granularity */
#define S_WINDOW_MS     25      /* analysis window: enough resolution for pitch harmonics */
#define S_BAND_LO_HZ    200.0   /* below: hum, rumble, handling noise */
#define S_BAND_MID_HZ   4000.0  /* voiced band below, fricative band above */
#define S_BAND_HI_HZ    7600.0  /* keeps clear of the anti-aliasing roll-off at 16 kHz */

/* Noise tracking (MCRA, Cohen & Berdugo 2002, simplified). The minimum of the
 * smoothed power over ~1.5 s follows the floor even while someone talks; bins
 * clearly above it are "speech present" and keep their noise estimate, the
 * others update it with a 200 ms time constant. */
#define S_SMOOTH_T      0.7f    /* time smoothing of the periodogram for the minimum */
#define S_MIN_SUBWIN    15      /* frames per minimum sub-window */
#define S_MIN_NSUB      10      /* sub-windows: 15 * 10 * 10 ms = 1.5 s */
#define S_MCRA_DELTA    5.0f    /* S/Smin above this: speech present in the bin */
#define S_MCRA_ALPHA_P  0.2f    /* smoothing of the per-bin presence */
#define S_NOISE_ALPHA   0.95f   /* noise averaging, 200 ms at 10 ms frames */
/* Smin underestimates the mean noise power (it is the minimum of ~150 noisy
 * values): measured on white noise with this smoothing it is 0.36 times it
 * (-4.4 dB). The noise estimate is never allowed below Smin * 2.5, just
 * under the true level; that floor is what lifts the estimate within ~1.5 s
 * after the noise gets louder, when every bin looks "speech present". */
#define S_MIN_BIAS      2.5f

/* Statistical model (Sohn, Kim & Sung 1999) with the decision-directed a
 * priori SNR of Ephraim & Malah. A lower S_DD_ALPHA reacts faster but makes
 * noise-only frames score higher: at 0.85 stationary noise already trips
 * the detector, at 0.96 it does not in the tests. */
#define S_DD_ALPHA      0.96f
#define S_XI_MIN        0.003f  /* -25 dB: keeps the LR of noise bins near 0 */
#define S_LLR_MAX       15.0f   /* per-bin cap: a few tonal bins must not decide alone */

/* Lowest noise power the detector will assume, as a per-sample variance in
 * int16 units: white noise at -85 dBFS. Digital silence would otherwise make
 * any dither look like speech at infinite SNR; real microphones and codecs
 * sit well above it, so it only matters for synthetic or gated audio. */
#define S_NOISE_FLOOR   (32768.0f * 32768.0f * 3.16e-9f)

/* The frame score is smoothed with a one-pole filter (one frame of memory)
 * after clipping: a loud vowel scores 5-15, and unclipped it would take
 * several frames of silence to decay below threshold, delaying every end. */
#define S_SCORE_CAP     1.0f
#define S_SCORE_SMOOTH  0.5f

#define S_HANGOVER_MS   40
#define S_HANGOVER_MIN_RUN 3    /* only runs of >= 30 ms earn a hangover */

struct _vad_detect_t {
    int sample_rate;
    int aggressiveness;
    size_t hop;                 /* samples per frame */
    size_t win;                 /* analysis window */
    size_t nfft;
    size_t k_lo, k_hi;          /* analysed bins, inclusive */
    size_t nbins;               /* k_hi - k_lo + 1 */
    size_t n_low;               /* bins of the voiced band (below S_BAND_MID_HZ) */

    float *window;              /* Hann, win */
    float *hist;                /* last `win` input samples (int16 scale) */
    float *re, *im;             /* FFT work, nfft */
    float *twr, *twi;           /* twiddles, nfft / 2 */
    size_t *bitrev;             /* nfft */
    double win_energy;

    /* Per band bin state (index k - k_lo, with one guard bin each side for
     * the frequency smoothing kept in `pow`). */
    float *pow;                 /* periodogram of this frame, nbins + 2 */
    float *smooth;              /* S: time-smoothed, frequency-smoothed power */
    float *min_cur;             /* running minimum in the current sub-window */
    float *min_sub;             /* S_MIN_NSUB sub-window minima, nbins each */
    float *smin;                /* minimum over the whole window */
    float *presence;            /* MCRA per-bin speech presence */
    float *noise;               /* noise power estimate */
    float *clean_prev;          /* previous clean-speech power estimate (DD) */

    size_t min_frame;           /* frames into the current sub-window */
    size_t min_slot;            /* next sub-window slot to overwrite */
    size_t min_filled;          /* sub-windows filled so far */
    uint64_t frames;            /* frames since reset */
    uint64_t noise_frames;      /* noise updates since the window filled */

    /* DC blocker */
    float dc_x1, dc_y1;

    /* Decision */
    float score;                /* smoothed mean log likelihood ratio */
    bool active;                /* thresholded state before hangover */
    int run;                    /* frames in the current active run */
    int hang_frames;            /* configured hangover */
    int hang_left;
};

/* Thresholds on the smoothed mean per-bin log likelihood ratio, per
 * aggressiveness. Speech is declared above `on` and held until below `off`;
 * the gap stops the decision from flickering on a decaying vowel. */
static const float s_thr_on[4]  = { 0.10f, 0.12f, 0.15f, 0.22f };
static const float s_thr_off[4] = { 0.05f, 0.06f, 0.08f, 0.12f };

static size_t s_next_pow2(size_t n)
{
    size_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

static void s_fft_init(vad_detect_t *self)
{
    size_t n = self->nfft, bits = 0;
    while (((size_t) 1 << bits) < n)
        bits++;
    for (size_t i = 0; i < n; i++) {
        size_t r = 0;
        for (size_t b = 0; b < bits; b++)
            if (i & ((size_t) 1 << b))
                r |= (size_t) 1 << (bits - 1 - b);
        self->bitrev[i] = r;
    }
    for (size_t i = 0; i < n / 2; i++) {
        double a = -2.0 * M_PI * (double) i / (double) n;
        self->twr[i] = (float) cos(a);
        self->twi[i] = (float) sin(a);
    }
}

/* In-place iterative radix-2 FFT of re/im (input already bit-reversed). */
static void s_fft(vad_detect_t *self)
{
    size_t n = self->nfft;
    float *re = self->re, *im = self->im;
    for (size_t len = 2; len <= n; len <<= 1) {
        size_t half = len / 2, step = n / len;
        for (size_t i = 0; i < n; i += len) {
            for (size_t j = 0; j < half; j++) {
                float wr = self->twr[j * step], wi = self->twi[j * step];
                size_t a = i + j, b = a + half;
                float xr = re[b] * wr - im[b] * wi;
                float xi = re[b] * wi + im[b] * wr;
                re[b] = re[a] - xr;
                im[b] = im[a] - xi;
                re[a] += xr;
                im[a] += xi;
            }
        }
    }
}

vad_detect_t *vad_detect_new(int sample_rate, int aggressiveness)
{
    if (sample_rate != 8000 && sample_rate != 16000 && sample_rate != 32000
        && sample_rate != 48000)
        return NULL;
    if (aggressiveness < 0 || aggressiveness > 3)
        return NULL;

    vad_detect_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->sample_rate = sample_rate;
    self->aggressiveness = aggressiveness;
    self->hop = (size_t) sample_rate * S_FRAME_MS / 1000;
    self->win = (size_t) sample_rate * S_WINDOW_MS / 1000;
    self->nfft = s_next_pow2(self->win);
    double bin_hz = (double) sample_rate / (double) self->nfft;
    self->k_lo = (size_t) ceil(S_BAND_LO_HZ / bin_hz);
    self->k_hi = (size_t) floor(S_BAND_HI_HZ / bin_hz);
    if (self->k_hi > self->nfft / 2 - 2)     /* 8 kHz: keep a guard bin below Nyquist */
        self->k_hi = self->nfft / 2 - 2;
    self->nbins = self->k_hi - self->k_lo + 1;
    size_t k_mid = (size_t) ceil(S_BAND_MID_HZ / bin_hz);
    self->n_low = k_mid > self->k_hi ? self->nbins : k_mid - self->k_lo;
    self->hang_frames = S_HANGOVER_MS / S_FRAME_MS;

    size_t nb = self->nbins;
    self->window = calloc(self->win, sizeof(float));
    self->hist = calloc(self->win, sizeof(float));
    self->re = calloc(self->nfft, sizeof(float));
    self->im = calloc(self->nfft, sizeof(float));
    self->twr = calloc(self->nfft / 2, sizeof(float));
    self->twi = calloc(self->nfft / 2, sizeof(float));
    self->bitrev = calloc(self->nfft, sizeof(size_t));
    self->pow = calloc(nb + 2, sizeof(float));
    self->smooth = calloc(nb, sizeof(float));
    self->min_cur = calloc(nb, sizeof(float));
    self->min_sub = calloc(nb * S_MIN_NSUB, sizeof(float));
    self->smin = calloc(nb, sizeof(float));
    self->presence = calloc(nb, sizeof(float));
    self->noise = calloc(nb, sizeof(float));
    self->clean_prev = calloc(nb, sizeof(float));
    if (!self->window || !self->hist || !self->re || !self->im || !self->twr
        || !self->twi || !self->bitrev || !self->pow || !self->smooth
        || !self->min_cur || !self->min_sub || !self->smin || !self->presence
        || !self->noise || !self->clean_prev) {
        vad_detect_destroy(&self);
        return NULL;
    }

    /* Periodic Hann: overlapping frames sum to a constant, no bin favoured. */
    double e = 0;
    for (size_t i = 0; i < self->win; i++) {
        self->window[i] = (float) (0.5 - 0.5 * cos(2.0 * M_PI * (double) i / (double) self->win));
        e += (double) self->window[i] * self->window[i];
    }
    self->win_energy = e;
    s_fft_init(self);
    vad_detect_reset(self);
    return self;
}

void vad_detect_destroy(vad_detect_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    vad_detect_t *self = *self_p;
    free(self->window);
    free(self->hist);
    free(self->re);
    free(self->im);
    free(self->twr);
    free(self->twi);
    free(self->bitrev);
    free(self->pow);
    free(self->smooth);
    free(self->min_cur);
    free(self->min_sub);
    free(self->smin);
    free(self->presence);
    free(self->noise);
    free(self->clean_prev);
    free(self);
    *self_p = NULL;
}

size_t vad_detect_frame_samples(const vad_detect_t *self)
{
    return self->hop;
}

int64_t vad_detect_frame_us(const vad_detect_t *self)
{
    (void) self;
    return S_FRAME_MS * 1000;
}

int vad_detect_set_hangover(vad_detect_t *self, int ms)
{
    if (ms < 0 || ms > 1000)
        return -EINVAL;
    self->hang_frames = (ms + S_FRAME_MS / 2) / S_FRAME_MS;
    return 0;
}

void vad_detect_reset(vad_detect_t *self)
{
    size_t nb = self->nbins;
    memset(self->hist, 0, self->win * sizeof(float));
    memset(self->presence, 0, nb * sizeof(float));
    memset(self->clean_prev, 0, nb * sizeof(float));
    self->min_frame = 0;
    self->min_slot = 0;
    self->min_filled = 0;
    self->frames = 0;
    self->noise_frames = 0;
    self->dc_x1 = self->dc_y1 = 0;
    self->score = 0;
    self->active = false;
    self->run = 0;
    self->hang_left = 0;
}

double vad_detect_noise_dbfs(const vad_detect_t *self)
{
    if (self->frames == 0)
        return -INFINITY;
    double sum = 0;
    for (size_t i = 0; i < self->n_low; i++)
        sum += self->noise[i];
    double var = sum / (double) self->n_low;
    return 10.0 * log10(var / (32768.0 * 32768.0) + 1e-20);
}

/* Updates the noise model from this frame's spectrum (self->pow). */
static void s_track_noise(vad_detect_t *self, bool first)
{
    size_t nb = self->nbins;

    for (size_t i = 0; i < nb; i++) {
        /* pow[] has a guard bin each side: i + 1 is bin k_lo + i */
        float pf = 0.25f * self->pow[i] + 0.5f * self->pow[i + 1] + 0.25f * self->pow[i + 2];
        float s = first ? pf : S_SMOOTH_T * self->smooth[i] + (1 - S_SMOOTH_T) * pf;
        self->smooth[i] = s;
        if (first || self->min_frame == 0 || s < self->min_cur[i])
            self->min_cur[i] = s;
    }

    /* Window minimum: the filled sub-windows plus the one in progress. */
    for (size_t i = 0; i < nb; i++) {
        float m = self->min_cur[i];
        for (size_t j = 0; j < self->min_filled; j++) {
            float v = self->min_sub[j * nb + i];
            if (v < m)
                m = v;
        }
        self->smin[i] = m;
    }
    if (++self->min_frame == S_MIN_SUBWIN) {
        memcpy(self->min_sub + self->min_slot * nb, self->min_cur, nb * sizeof(float));
        self->min_slot = (self->min_slot + 1) % S_MIN_NSUB;
        if (self->min_filled < S_MIN_NSUB)
            self->min_filled++;
        self->min_frame = 0;
    }

    /* Right after a reset the estimate rests on a few frames: average the
     * first ones plainly (running mean) before settling on S_NOISE_ALPHA. */
    float base = S_NOISE_ALPHA;
    if (!first) {
        float n = (float) self->noise_frames++;
        if (n / (n + 1) < base)
            base = n / (n + 1);
    }
    for (size_t i = 0; i < nb; i++) {
        float p = self->pow[i + 1];
        if (first) {
            self->noise[i] = fmaxf(self->smooth[i], S_NOISE_FLOOR);
            continue;
        }
        float ind = self->smooth[i] > S_MCRA_DELTA * self->smin[i] ? 1.0f : 0.0f;
        self->presence[i] = S_MCRA_ALPHA_P * self->presence[i] + (1 - S_MCRA_ALPHA_P) * ind;
        float a = base + (1 - base) * self->presence[i];
        float n = a * self->noise[i] + (1 - a) * p;
        float lo = S_MIN_BIAS * self->smin[i];
        if (n < lo)
            n = lo;
        self->noise[i] = fmaxf(n, S_NOISE_FLOOR);
    }
}

/* Mean over a band of the per-bin log likelihood ratio of "speech +
 * noise" against "noise" under the Gaussian model. The voiced band and the
 * fricative band are averaged separately and the larger wins: an /s/ fills
 * the upper band while leaving the lower one at noise level, and averaged
 * over both it would be diluted below threshold. */
static float s_likelihood(vad_detect_t *self)
{
    double sum_lo = 0, sum_hi = 0;
    for (size_t i = 0; i < self->nbins; i++) {
        float p = self->pow[i + 1];
        float n = self->noise[i];
        float gamma = p / n;
        if (gamma > 1e4f)
            gamma = 1e4f;
        float ml = gamma - 1 > 0 ? gamma - 1 : 0;
        float xi = S_DD_ALPHA * self->clean_prev[i] / n + (1 - S_DD_ALPHA) * ml;
        if (xi < S_XI_MIN)
            xi = S_XI_MIN;
        float llr = gamma * xi / (1 + xi) - logf(1 + xi);
        if (llr > S_LLR_MAX)
            llr = S_LLR_MAX;
        if (i < self->n_low)
            sum_lo += llr;
        else
            sum_hi += llr;
        float g = xi / (1 + xi);                /* Wiener gain */
        self->clean_prev[i] = g * g * p;
    }
    float lo = (float) (sum_lo / (double) self->n_low);
    size_t n_high = self->nbins - self->n_low;
    float hi = n_high ? (float) (sum_hi / (double) n_high) : 0.0f;
    return lo > hi ? lo : hi;
}

static int s_process(vad_detect_t *self, float *prob_out)
{
    /* Windowed FFT of the last `win` samples, zero-padded to nfft. */
    for (size_t i = 0; i < self->nfft; i++) {
        size_t r = self->bitrev[i];
        self->re[r] = i < self->win ? self->hist[i] * self->window[i] : 0.0f;
        self->im[r] = 0.0f;
    }
    s_fft(self);
    float scale = (float) (1.0 / self->win_energy);
    for (size_t i = 0; i < self->nbins + 2; i++) {
        size_t k = self->k_lo + i - 1;
        self->pow[i] = (self->re[k] * self->re[k] + self->im[k] * self->im[k]) * scale;
    }

    /* The likelihood is judged against the noise model of the previous frame,
     * so a speech onset is not partly absorbed into the noise it is compared
     * with. Until the window has filled, part of it is the zeros left by the
     * reset: those frames only seed the noise model. */
    bool warm = self->frames * self->hop >= self->win;
    float llr = warm ? s_likelihood(self) : 0.0f;
    s_track_noise(self, !warm);
    self->frames++;

    /* One noisy frame neither starts nor ends speech; the delay stays
     * around one frame (see S_SCORE_CAP). */
    if (llr > S_SCORE_CAP)
        llr = S_SCORE_CAP;
    self->score = S_SCORE_SMOOTH * self->score + (1 - S_SCORE_SMOOTH) * llr;

    int a = self->aggressiveness;
    float thr_on = s_thr_on[a], thr_off = s_thr_off[a];
    if (self->active)
        self->active = self->score > thr_off;
    else
        self->active = self->score > thr_on;

    bool speech;
    if (self->active) {
        /* A click earns no hangover, but does not cancel one either. */
        if (++self->run >= S_HANGOVER_MIN_RUN)
            self->hang_left = self->hang_frames;
        speech = true;
    } else {
        self->run = 0;
        speech = self->hang_left > 0;
        if (self->hang_left > 0)
            self->hang_left--;
    }

    if (prob_out) {
        /* Logistic around the onset threshold: 0.5 exactly at it. */
        float z = (self->score - s_thr_on[a]) * (4.0f / s_thr_on[a]);
        *prob_out = 1.0f / (1.0f + expf(-z));
    }
    return speech ? 1 : 0;
}

static float s_dc_block(vad_detect_t *self, float x)
{
    /* DC blocker (pole at 0.995, ~13 Hz at 16 kHz): cheap microphones and
     * codecs add offsets that would leak into the low band bins. */
    float y = x - self->dc_x1 + 0.995f * self->dc_y1;
    self->dc_x1 = x;
    self->dc_y1 = y;
    return y;
}

int vad_detect_process(vad_detect_t *self, const int16_t *frame, size_t n, float *prob_out)
{
    if (!self || !frame || n != self->hop)
        return -EINVAL;
    size_t keep = self->win - self->hop;
    memmove(self->hist, self->hist + self->hop, keep * sizeof(float));
    for (size_t i = 0; i < n; i++)
        self->hist[keep + i] = s_dc_block(self, (float) frame[i]);
    return s_process(self, prob_out);
}

int vad_detect_process_float(vad_detect_t *self, const float *frame, size_t n, float *prob_out)
{
    if (!self || !frame || n != self->hop)
        return -EINVAL;
    size_t keep = self->win - self->hop;
    memmove(self->hist, self->hist + self->hop, keep * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        /* A broken upstream must not poison the noise model for good:
         * NaN becomes silence, out-of-range values (and infinities) clip. */
        float x = frame[i];
        if (isnan(x))
            x = 0;
        else if (x > 1.0f)
            x = 1.0f;
        else if (x < -1.0f)
            x = -1.0f;
        self->hist[keep + i] = s_dc_block(self, x * 32768.0f);
    }
    return s_process(self, prob_out);
}
