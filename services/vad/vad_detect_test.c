/* vad_detect_test — frame-level accuracy of the VAD on a labelled corpus
 * built at test time, and end-of-turn timing of turn on top of it.
 *
 * The corpus: sentences spoken by flite and espeak-ng voices, resampled to
 * 16 kHz by sox, trimmed to their true speech boundaries (energy threshold
 * on the clean signal), levelled to -20/-26/-32 dBFS, and laid end to end
 * with silences of 300..1500 ms. The label of a 10 ms frame is "speech" when
 * most of it lies between an utterance's boundaries (pauses between words
 * count as speech: the task is to find utterances, not phones). Versions:
 * clean (digital silence), white and pink noise at 10 dB SNR over the speech.
 *
 * Set VAD_KEEP_CORPUS=1 to keep the generated files and labels (the path is
 * printed), VAD_DEBUG=1 for per-utterance and per-turn details. */
#include "turn.h"
#include "vad_detect.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RATE        16000
#define FRAME       160                 /* 10 ms */
#define FRAME_US    10000
#define MAX_UTT     16

static int s_failures;

#define CHECK(cond, ...) do {                                               \
        if (!(cond)) {                                                      \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                   \
            fprintf(stderr, "\n");                                          \
            s_failures++;                                                   \
        }                                                                   \
    } while (0)

typedef struct {
    const char *engine;     /* "flite" or "espeak-ng" */
    const char *voice;
    const char *extra;      /* extra engine arguments */
    const char *text;
} utt_spec_t;

/* Different engines, voices, speaking rates, and onsets/offsets that are hard
 * for a VAD: fricatives ("six", "sisters", "fish"), plosives, a one-word
 * utterance, and weak endings ("yet", "instead"). */
static const utt_spec_t s_specs[] = {
    { "flite", "slt", "", "Please transfer me to the billing department." },
    { "espeak-ng", "en-us", "-s 165", "Hello, I would like to book a table for two people tonight." },
    { "flite", "rms", "", "My account number is four seven two nine." },
    { "espeak-ng", "en-gb", "-s 150", "Sorry, I did not quite catch that. Could you repeat it?" },
    { "flite", "awb", "", "Could you check whether the package has shipped yet?" },
    { "espeak-ng", "en-us+f3", "-s 175", "Yes, that sounds fine." },
    { "flite", "kal", "", "Thanks, that is all I needed for today." },
    { "espeak-ng", "en-gb-scotland", "-s 160", "The weather this weekend looks rather stormy." },
    { "flite", "slt", "", "Six fish swam south." },
    { "espeak-ng", "en-us+m3", "-s 190 -p 35", "Actually, cancel the order and send me a refund instead." },
    { "flite", "rms", "", "No." },
    { "espeak-ng", "en+f2", "-s 150", "Sixty six sisters sell sea shells." },
};
#define N_UTT (sizeof s_specs / sizeof s_specs[0])

/* Silence after each utterance. Gaps of 250/300 ms are shorter than the
 * 500 ms end-of-turn silence (the turn must survive them); the others are
 * long enough for the turn to end and the next to start. */
static const int s_gaps_ms[N_UTT] = { 800, 300, 1500, 1000, 250, 900, 1200, 800, 1500, 300, 1000, 1000 };
static const double s_levels_dbfs[3] = { -20, -26, -32 };
#define LEAD_MS 1000

typedef struct {
    int16_t *pcm;           /* trimmed speech */
    size_t n;
} utt_t;

typedef struct {
    float *clean;           /* float, int16 scale, every utterance at -26 dBFS */
    float *varied;          /* the same with levels -20/-26/-32 dBFS in turn */
    size_t n;
    size_t start[MAX_UTT], end[MAX_UTT];    /* sample boundaries of the utterances */
    size_t n_utt;
    bool *frame_label;
    size_t n_frames;
} corpus_t;

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

/* xorshift64*: the noise must be the same on every run. */
static uint64_t s_rng = 0x9E3779B97F4A7C15ull;
static double s_uniform(void)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return (double) ((s_rng * 0x2545F4914F6CDD1Dull) >> 11) * (1.0 / 9007199254740992.0);
}

static double s_gauss(void)
{
    double u1 = s_uniform(), u2 = s_uniform();
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static int s_run(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
    return rc;
}

static int16_t *s_read_raw(const char *path, size_t *n_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    int16_t *pcm = malloc(bytes > 0 ? (size_t) bytes : 1);
    size_t n = pcm ? fread(pcm, sizeof(int16_t), (size_t) bytes / 2, f) : 0;
    fclose(f);
    *n_out = n;
    return pcm;
}

/* Synthesises, resamples and trims one utterance. */
static int s_make_utt(const char *dir, size_t idx, utt_t *u)
{
    const utt_spec_t *sp = &s_specs[idx];
    char wav[512], raw[512], cmd[2048];
    snprintf(wav, sizeof wav, "%s/utt%02zu.wav", dir, idx);
    snprintf(raw, sizeof raw, "%s/utt%02zu.raw", dir, idx);
    if (!strcmp(sp->engine, "flite"))
        snprintf(cmd, sizeof cmd, "flite -voice %s -t '%s' -o '%s'", sp->voice, sp->text, wav);
    else
        snprintf(cmd, sizeof cmd, "espeak-ng -v %s %s -w '%s' '%s'", sp->voice, sp->extra, wav,
                 sp->text);
    if (s_run(cmd) != 0)
        return -1;
    snprintf(cmd, sizeof cmd, "sox '%s' -r %d -c 1 -b 16 -e signed-integer -t raw '%s'", wav,
             RATE, raw);
    if (s_run(cmd) != 0)
        return -1;
    size_t n;
    int16_t *pcm = s_read_raw(raw, &n);
    if (!pcm || n < RATE / 10) {
        free(pcm);
        return -1;
    }

    /* True boundaries: first and last 2 ms block whose energy is within
     * 40 dB of the loudest block of the utterance. TTS silence is (near)
     * digital zero, so this finds the first and last audible sound. */
    const size_t blk = RATE / 500;
    size_t nblk = n / blk;
    double emax = 0;
    for (size_t b = 0; b < nblk; b++) {
        double e = 0;
        for (size_t i = 0; i < blk; i++)
            e += (double) pcm[b * blk + i] * pcm[b * blk + i];
        if (e > emax)
            emax = e;
    }
    double thr = emax * 1e-4;
    size_t first = nblk, last = 0;
    for (size_t b = 0; b < nblk; b++) {
        double e = 0;
        for (size_t i = 0; i < blk; i++)
            e += (double) pcm[b * blk + i] * pcm[b * blk + i];
        if (e > thr) {
            if (first == nblk)
                first = b;
            last = b;
        }
    }
    if (first == nblk) {
        free(pcm);
        return -1;
    }
    size_t s0 = first * blk, s1 = (last + 1) * blk;
    u->n = s1 - s0;
    u->pcm = malloc(u->n * sizeof(int16_t));
    memcpy(u->pcm, pcm + s0, u->n * sizeof(int16_t));
    free(pcm);
    return 0;
}

static int s_build_corpus(const char *dir, corpus_t *c)
{
    utt_t utts[N_UTT];
    memset(utts, 0, sizeof utts);
    size_t total = (size_t) RATE * LEAD_MS / 1000;
    for (size_t i = 0; i < N_UTT; i++) {
        if (s_make_utt(dir, i, &utts[i]) != 0) {
            fprintf(stderr, "cannot synthesise utterance %zu (are flite, espeak-ng, sox installed?)\n", i);
            for (size_t j = 0; j < i; j++)
                free(utts[j].pcm);
            return -1;
        }
        total += utts[i].n + (size_t) RATE * (size_t) s_gaps_ms[i] / 1000;
    }
    c->n = total;
    c->clean = calloc(total, sizeof(float));
    c->varied = calloc(total, sizeof(float));
    c->n_utt = N_UTT;
    size_t pos = (size_t) RATE * LEAD_MS / 1000;
    for (size_t i = 0; i < N_UTT; i++) {
        double e = 0;
        for (size_t k = 0; k < utts[i].n; k++)
            e += (double) utts[i].pcm[k] * utts[i].pcm[k];
        double rms = sqrt(e / (double) utts[i].n);
        double g = 32768.0 * pow(10.0, -26.0 / 20.0) / rms;
        double gv = 32768.0 * pow(10.0, s_levels_dbfs[i % 3] / 20.0) / rms;
        c->start[i] = pos;
        for (size_t k = 0; k < utts[i].n; k++) {
            c->clean[pos + k] = (float) (utts[i].pcm[k] * g);
            c->varied[pos + k] = (float) (utts[i].pcm[k] * gv);
        }
        pos += utts[i].n;
        c->end[i] = pos;
        pos += (size_t) RATE * (size_t) s_gaps_ms[i] / 1000;
        free(utts[i].pcm);
    }

    c->n_frames = c->n / FRAME;
    c->frame_label = calloc(c->n_frames, sizeof(bool));
    for (size_t f = 0; f < c->n_frames; f++) {
        size_t a = f * FRAME, b = a + FRAME, in = 0;
        for (size_t i = 0; i < c->n_utt; i++) {
            size_t lo = a > c->start[i] ? a : c->start[i];
            size_t hi = b < c->end[i] ? b : c->end[i];
            if (hi > lo)
                in += hi - lo;
        }
        c->frame_label[f] = in * 2 > FRAME;
    }
    return 0;
}

/* Speech power over the labelled speech samples. */
static double s_speech_power(const corpus_t *c, const float *x)
{
    double e = 0;
    size_t n = 0;
    for (size_t i = 0; i < c->n_utt; i++)
        for (size_t k = c->start[i]; k < c->end[i]; k++) {
            e += (double) x[k] * x[k];
            n++;
        }
    return e / (double) n;
}

typedef enum { NOISE_NONE, NOISE_WHITE, NOISE_PINK } noise_t;

/* Signal x plus noise at `snr_db` over the speech parts, as int16. */
static int16_t *s_mix(const corpus_t *c, const float *x, noise_t kind, double snr_db)
{
    int16_t *out = malloc(c->n * sizeof(int16_t));
    float *noise = calloc(c->n, sizeof(float));
    if (kind != NOISE_NONE) {
        /* Pink: Paul Kellet's refined filter of white noise (-3 dB/oct). */
        double b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0, b5 = 0, b6 = 0, np = 0;
        for (size_t k = 0; k < c->n; k++) {
            double w = s_gauss(), v = w;
            if (kind == NOISE_PINK) {
                b0 = 0.99886 * b0 + w * 0.0555179;
                b1 = 0.99332 * b1 + w * 0.0750759;
                b2 = 0.96900 * b2 + w * 0.1538520;
                b3 = 0.86650 * b3 + w * 0.3104856;
                b4 = 0.55000 * b4 + w * 0.5329522;
                b5 = -0.7616 * b5 - w * 0.0168980;
                v = b0 + b1 + b2 + b3 + b4 + b5 + b6 + w * 0.5362;
                b6 = w * 0.115926;
            }
            noise[k] = (float) v;
            np += v * v;
        }
        np /= (double) c->n;
        double g = sqrt(s_speech_power(c, x) / pow(10.0, snr_db / 10.0) / np);
        for (size_t k = 0; k < c->n; k++)
            noise[k] = (float) (noise[k] * g);
    }
    for (size_t k = 0; k < c->n; k++) {
        double v = lrint(x[k] + noise[k]);
        out[k] = (int16_t) (v > 32767 ? 32767 : v < -32768 ? -32768 : v);
    }
    free(noise);
    return out;
}

static void s_write_wav(const char *path, const int16_t *pcm, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    uint32_t data = (uint32_t) (n * 2), riff = 36 + data, fmt_len = 16, rate = RATE,
             byte_rate = RATE * 2;
    uint16_t pcm_fmt = 1, ch = 1, align = 2, bits = 16;
    fwrite("RIFF", 1, 4, f); fwrite(&riff, 4, 1, f); fwrite("WAVEfmt ", 1, 8, f);
    fwrite(&fmt_len, 4, 1, f); fwrite(&pcm_fmt, 2, 1, f); fwrite(&ch, 2, 1, f);
    fwrite(&rate, 4, 1, f); fwrite(&byte_rate, 4, 1, f); fwrite(&align, 2, 1, f);
    fwrite(&bits, 2, 1, f); fwrite("data", 1, 4, f); fwrite(&data, 4, 1, f);
    fwrite(pcm, 2, n, f);
    fclose(f);
}

typedef struct {
    double precision, recall, f1;
    double end_err_max_ms;      /* max |detected end - (true end + silence)| */
    double start_err_max_ms;    /* max |reported onset - true onset| */
} score_t;

/* Runs VAD + turn over `pcm`; scores frames and checks every turn's end. */
static score_t s_evaluate(const char *name, const corpus_t *c, const int16_t *pcm, bool check_turns)
{
    score_t sc = { 0 };
    vad_detect_t *vad = vad_detect_new(RATE, 2);
    turn_t *turn = turn_new(NULL);
    turn_config_t cfg;
    turn_config_default(&cfg);
    size_t tp = 0, fp = 0, fn = 0;

    turn_event_t starts[64], ends[64];
    size_t n_starts = 0, n_ends = 0;
    for (size_t f = 0; f < c->n_frames; f++) {
        int r = vad_detect_process(vad, pcm + f * FRAME, FRAME, NULL);
        CHECK(r == 0 || r == 1, "process returned %d", r);
        bool sp = r == 1, lab = c->frame_label[f];
        tp += sp && lab;
        fp += sp && !lab;
        fn += !sp && lab;
        turn_result_t res;
        turn_process(turn, (int64_t) f * FRAME_US, FRAME_US, sp, &res);
        for (size_t e = 0; e < res.n_events; e++) {
            if (res.events[e].type == TURN_SPEECH_START && n_starts < 64)
                starts[n_starts++] = res.events[e];
            if (res.events[e].type == TURN_SPEECH_END && n_ends < 64)
                ends[n_ends++] = res.events[e];
        }
    }
    turn_result_t res;
    turn_flush(turn, (int64_t) c->n_frames * FRAME_US, &res);
    for (size_t e = 0; e < res.n_events; e++)
        if (res.events[e].type == TURN_SPEECH_END && n_ends < 64)
            ends[n_ends++] = res.events[e];

    if (getenv("VAD_DEBUG")) {
        /* Per utterance: recall, and where the decisions start and stop. */
        vad_detect_t *v2 = vad_detect_new(RATE, 2);
        bool *dec = calloc(c->n_frames, sizeof(bool));
        for (size_t f = 0; f < c->n_frames; f++)
            dec[f] = vad_detect_process(v2, pcm + f * FRAME, FRAME, NULL) == 1;
        for (size_t i = 0; i < c->n_utt; i++) {
            size_t a = c->start[i] / FRAME, b = c->end[i] / FRAME, hit = 0, gap = 0, cur = 0;
            for (size_t f = a; f < b; f++) {
                hit += dec[f];
                cur = dec[f] ? 0 : cur + 1;
                if (cur > gap) gap = cur;
            }
            size_t first = a, last = b;
            while (first < b && !dec[first]) first++;
            while (last > a && !dec[last - 1]) last--;
            size_t fpb = 0;
            for (size_t f = b; f < b + (size_t) s_gaps_ms[i] / 10 && f < c->n_frames; f++)
                fpb += dec[f];
            fprintf(stderr, "  utt %2zu %.2fs recall %.2f longest miss %3zu0 ms, onset %+4d0 ms, "
                    "offset %+4d0 ms, fp in gap %zu\n", i, (double) (b - a) / 100,
                    (double) hit / (double) (b - a), gap, (int) first - (int) a,
                    (int) last - (int) b, fpb);
        }
        free(dec);
        vad_detect_destroy(&v2);
    }
    sc.precision = tp + fp ? (double) tp / (double) (tp + fp) : 0;
    sc.recall = tp + fn ? (double) tp / (double) (tp + fn) : 0;
    sc.f1 = sc.precision + sc.recall > 0
                ? 2 * sc.precision * sc.recall / (sc.precision + sc.recall) : 0;

    /* Expected turns: utterances joined across gaps shorter than the end
     * silence. Each must overlap exactly one detected turn, whose onset is
     * within 100 ms of the true one and whose END comes within 100 ms of
     * (true end + end silence); no detected turn may lie in a silence. */
    CHECK(n_starts == n_ends, "%s: %zu starts, %zu ends", name, n_starts, n_ends);
    size_t n_det = n_starts < n_ends ? n_starts : n_ends;
    bool *matched = calloc(n_det + 1, sizeof(bool));
    size_t n_turns = 0;
    double end_lo = 1e9, end_hi = -1e9, on_lo = 1e9, on_hi = -1e9;
    for (size_t i = 0; i < c->n_utt; i++) {
        size_t j = i;
        while (j + 1 < c->n_utt && s_gaps_ms[j] < cfg.end_silence_ms)
            j++;
        double t_start = (double) c->start[i] * 1e6 / RATE;
        double t_end = (double) c->end[j] * 1e6 / RATE;
        double want_end = t_end + cfg.end_silence_ms * 1000.0;
        size_t hits = 0, d_hit = 0;
        for (size_t d = 0; d < n_det; d++)
            if ((double) starts[d].start_us < t_end && (double) ends[d].end_us > t_start) {
                hits++;
                d_hit = d;
                matched[d] = true;
            }
        CHECK(!check_turns || hits == 1, "%s: utterances %zu..%zu (%.2f-%.2f s) overlap %zu detected turns",
              name, i, j, t_start / 1e6, t_end / 1e6, hits);
        if (hits >= 1) {
            double on = ((double) starts[d_hit].start_us - t_start) / 1000.0;
            double end = ((double) ends[d_hit].at_us - want_end) / 1000.0;
            if (on < on_lo) on_lo = on;
            if (on > on_hi) on_hi = on;
            if (end < end_lo) end_lo = end;
            if (end > end_hi) end_hi = end;
            if (getenv("VAD_DEBUG"))
                fprintf(stderr, "  %s turn %zu..%zu onset %+.0f end %+.0f\n", name, i, j, on, end);
            /* Onsets get 150 ms: a weak initial /th/ or /h/ is under the
             * noise at 10 dB, and the 200 ms pre-roll still hands it to STT. */
            CHECK(!check_turns || fabs(on) <= 150, "%s: utterances %zu..%zu onset reported "
                  "%+.0f ms off", name, i, j, on);
            CHECK(!check_turns || fabs(end) <= 100, "%s: utterances %zu..%zu end detected %+.0f ms from "
                      "true end + %d ms", name, i, j, end, cfg.end_silence_ms);
        }
        n_turns++;
        i = j;
    }
    size_t false_turns = 0;
    for (size_t d = 0; d < n_det; d++)
        false_turns += !matched[d];
    free(matched);
    CHECK(!check_turns || false_turns == 0, "%s: %zu turns detected in silence", name, false_turns);
    sc.start_err_max_ms = fmax(fabs(on_lo), fabs(on_hi));
    sc.end_err_max_ms = fmax(fabs(end_lo), fabs(end_hi));

    printf("%-12s precision %.3f  recall %.3f  F1 %.3f | %zu turns: onset err %+.0f..%+.0f ms, "
           "end err %+.0f..%+.0f ms\n", name, sc.precision, sc.recall, sc.f1, n_turns,
           on_lo, on_hi, end_lo, end_hi);
    turn_destroy(&turn);
    vad_detect_destroy(&vad);
    return sc;
}

/* Noise alone, white and pink, 20 s each: hardly any speech frames and no
 * turn at all. */
static void s_test_noise_only(void)
{
    for (int kind = 0; kind < 2; kind++) {
        vad_detect_t *vad = vad_detect_new(RATE, 2);
        turn_t *turn = turn_new(NULL);
        int16_t frame[FRAME];
        double sigma = 32768.0 * pow(10.0, (kind ? -30.0 : -45.0) / 20.0);
        double b0 = 0, b1 = 0, b2 = 0;
        size_t fa = 0, turns = 0, n = 2000;
        for (size_t f = 0; f < n; f++) {
            for (int i = 0; i < FRAME; i++) {
                double w = s_gauss(), v = w;
                if (kind) {         /* cheap pink-ish: three one-pole sections */
                    b0 = 0.997 * b0 + 0.029591 * w;
                    b1 = 0.985 * b1 + 0.032534 * w;
                    b2 = 0.950 * b2 + 0.048056 * w;
                    v = (b0 + b1 + b2 + 0.1848 * w) * 3.0;
                }
                frame[i] = (int16_t) lrint(v * sigma);
            }
            int r = vad_detect_process(vad, frame, FRAME, NULL);
            fa += r == 1;
            turn_result_t res;
            turn_process(turn, (int64_t) f * FRAME_US, FRAME_US, r == 1, &res);
            for (size_t e = 0; e < res.n_events; e++)
                turns += res.events[e].type == TURN_SPEECH_START;
        }
        printf("noise only   %s: %zu/%zu speech frames, %zu turns\n", kind ? "pink" : "white", fa,
               n, turns);
        CHECK(fa * 100 <= n, "%s noise: %zu false speech frames", kind ? "pink" : "white", fa);
        CHECK(turns == 0, "%s noise: %zu false turns", kind ? "pink" : "white", turns);
        turn_destroy(&turn);
        vad_detect_destroy(&vad);
    }
}

/* The noise floor jumps by 20 dB: within 1.8 s the detector must have
 * learnt it and stop calling it speech, then still find speech 10 dB above
 * it. (Without the minimum-statistics floor it takes ~2.5 s.) */
static void s_test_adaptation(const corpus_t *c)
{
    vad_detect_t *vad = vad_detect_new(RATE, 2);
    int16_t frame[FRAME];
    double sigma_lo = 32768.0 * pow(10.0, -55.0 / 20.0);
    double sigma_hi = 32768.0 * pow(10.0, -35.0 / 20.0);
    size_t fp_settled = 0, n_settled = 0;
    int last_fa = -1;
    for (int f = 0; f < 600; f++) {            /* 2 s quiet, 4 s loud */
        double sigma = f < 200 ? sigma_lo : sigma_hi;
        for (int i = 0; i < FRAME; i++)
            frame[i] = (int16_t) lrint(s_gauss() * sigma);
        int r = vad_detect_process(vad, frame, FRAME, NULL);
        if (r == 1)
            last_fa = f;
        if (f >= 380) {                        /* from 1.8 s after the jump */
            n_settled++;
            fp_settled += r == 1;
        }
    }
    double noise_db = vad_detect_noise_dbfs(vad);
    printf("adaptation   noise estimate %.1f dBFS (true -35.0); +20 dB step called speech for "
           "%d ms\n", noise_db, last_fa < 200 ? 0 : (last_fa - 199) * 10);
    CHECK(fp_settled == 0, "false alarms 1.8 s after the noise floor rose: %zu/%zu", fp_settled,
          n_settled);
    CHECK(fabs(noise_db + 35.0) < 3.0, "noise estimate %.1f dBFS", noise_db);

    /* Then utterance 0 at 10 dB above the new floor: mostly found. */
    double ps = 0;
    for (size_t k = c->start[0]; k < c->end[0]; k++)
        ps += (double) c->clean[k] * c->clean[k];
    ps /= (double) (c->end[0] - c->start[0]);
    double g = sigma_hi * sqrt(10.0 / ps);
    size_t hit = 0, tot = 0;
    for (size_t k = c->start[0]; k + FRAME <= c->end[0]; k += FRAME) {
        for (int i = 0; i < FRAME; i++)
            frame[i] = (int16_t) lrint(c->clean[k + (size_t) i] * g + s_gauss() * sigma_hi);
        hit += vad_detect_process(vad, frame, FRAME, NULL) == 1;
        tot++;
    }
    printf("adaptation   speech found after adapting: %zu/%zu frames\n", hit, tot);
    CHECK(hit * 10 >= tot * 8, "speech recall after adaptation %zu/%zu", hit, tot);
    vad_detect_destroy(&vad);
}

static void s_test_api(const int16_t *pcm, const corpus_t *c)
{
    CHECK(vad_detect_new(11025, 2) == NULL, "odd sample rate accepted");
    CHECK(vad_detect_new(RATE, 4) == NULL, "aggressiveness 4 accepted");
    vad_detect_t *v = vad_detect_new(RATE, 2);
    CHECK(vad_detect_frame_samples(v) == FRAME, "frame size %zu", vad_detect_frame_samples(v));
    CHECK(vad_detect_frame_us(v) == FRAME_US, "frame us");
    CHECK(vad_detect_process(v, pcm, FRAME - 1, NULL) == -EINVAL, "short frame accepted");
    CHECK(vad_detect_set_hangover(v, -1) == -EINVAL, "negative hangover accepted");

    /* Float and int16 paths agree; probability separates the classes. */
    vad_detect_t *vf = vad_detect_new(RATE, 2);
    float buf[FRAME];
    size_t disagree = 0;
    double p_sp = 0, p_ns = 0;
    size_t n_sp = 0, n_ns = 0;
    for (size_t f = 0; f < c->n_frames; f++) {
        for (int i = 0; i < FRAME; i++)
            buf[i] = (float) pcm[f * FRAME + (size_t) i] / 32768.0f;
        float p1, p2;
        int a = vad_detect_process(v, pcm + f * FRAME, FRAME, &p1);
        int b = vad_detect_process_float(vf, buf, FRAME, &p2);
        disagree += a != b;
        CHECK(p1 >= 0 && p1 <= 1, "probability %f", p1);
        if (c->frame_label[f]) { p_sp += p1; n_sp++; } else { p_ns += p1; n_ns++; }
    }
    p_sp /= (double) n_sp;
    p_ns /= (double) n_ns;
    printf("api          mean probability: speech %.2f, non-speech %.2f; float/int16 disagree %zu\n",
           p_sp, p_ns, disagree);
    CHECK(disagree <= c->n_frames / 200, "float and int16 disagree on %zu frames", disagree);
    CHECK(p_sp > 0.6 && p_ns < 0.2, "probabilities %.2f / %.2f", p_sp, p_ns);

    /* Reset forgets: the same audio gives the same decisions again. */
    vad_detect_reset(v);
    vad_detect_t *fresh = vad_detect_new(RATE, 2);
    size_t diff = 0;
    for (size_t f = 0; f < 500 && f < c->n_frames; f++)
        diff += vad_detect_process(v, pcm + f * FRAME, FRAME, NULL)
                != vad_detect_process(fresh, pcm + f * FRAME, FRAME, NULL);
    CHECK(diff == 0, "reset instance differs from a fresh one on %zu frames", diff);

    /* Other rates run: an 8 kHz decimation of the same audio (every other
     * sample after a crude 2-tap lowpass) is still mostly right. */
    vad_detect_t *v8 = vad_detect_new(8000, 2);
    int16_t f8[80];
    size_t tp = 0, fp = 0, fn = 0;
    for (size_t f = 0; f < c->n_frames; f++) {
        for (int i = 0; i < 80; i++) {
            size_t k = f * FRAME + 2 * (size_t) i;
            f8[i] = (int16_t) (((int) pcm[k] + pcm[k + 1]) / 2);
        }
        bool sp = vad_detect_process(v8, f8, 80, NULL) == 1, lab = c->frame_label[f];
        tp += sp && lab; fp += sp && !lab; fn += !sp && lab;
    }
    double f1 = 2.0 * (double) tp / (double) (2 * tp + fp + fn);
    printf("api          8 kHz F1 %.3f\n", f1);
    CHECK(f1 >= 0.85, "8 kHz F1 %.3f", f1);

    vad_detect_destroy(&v8);
    vad_detect_destroy(&fresh);
    vad_detect_destroy(&vf);
    vad_detect_destroy(&v);
    CHECK(v == NULL, "destroy did not clear the pointer");
    vad_detect_destroy(&v);         /* idempotent */
}

int main(void)
{
    double t0 = s_now();
    char dir[] = "/tmp/vad_corpus_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    corpus_t c;
    memset(&c, 0, sizeof c);
    if (s_build_corpus(dir, &c) != 0) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        s_run(cmd);
        return 1;
    }
    double speech_s = 0;
    for (size_t i = 0; i < c.n_utt; i++)
        speech_s += (double) (c.end[i] - c.start[i]) / RATE;
    printf("corpus       %zu utterances, %.1f s speech in %.1f s, built in %.2f s (%s)\n", c.n_utt,
           speech_s, (double) c.n / RATE, s_now() - t0, dir);

    /* Clean: levels vary by 12 dB, the detector must not care. Noisy: one
     * level, so that every utterance really is at the stated SNR. */
    int16_t *clean = s_mix(&c, c.varied, NOISE_NONE, 0);
    int16_t *white = s_mix(&c, c.clean, NOISE_WHITE, 10);
    int16_t *pink = s_mix(&c, c.clean, NOISE_PINK, 10);
    int16_t *white5 = s_mix(&c, c.clean, NOISE_WHITE, 5);
    bool keep = getenv("VAD_KEEP_CORPUS") != NULL;
    if (keep) {
        char p[600];
        snprintf(p, sizeof p, "%s/clean.wav", dir); s_write_wav(p, clean, c.n);
        snprintf(p, sizeof p, "%s/white10.wav", dir); s_write_wav(p, white, c.n);
        snprintf(p, sizeof p, "%s/pink10.wav", dir); s_write_wav(p, pink, c.n);
        snprintf(p, sizeof p, "%s/white5.wav", dir); s_write_wav(p, white5, c.n);
        FILE *f;
        snprintf(p, sizeof p, "%s/labels.txt", dir);
        if ((f = fopen(p, "w"))) {
            for (size_t i = 0; i < c.n_utt; i++)
                fprintf(f, "%.3f\t%.3f\tutt%zu\n", (double) c.start[i] / RATE,
                        (double) c.end[i] / RATE, i);
            fclose(f);
        }
    }

    score_t s_clean = s_evaluate("clean", &c, clean, true);
    score_t s_white = s_evaluate("white 10dB", &c, white, true);
    score_t s_pink = s_evaluate("pink 10dB", &c, pink, true);
    CHECK(s_clean.f1 >= 0.9, "clean F1 %.3f", s_clean.f1);
    CHECK(s_white.f1 >= 0.9, "white 10 dB F1 %.3f", s_white.f1);
    CHECK(s_pink.f1 >= 0.9, "pink 10 dB F1 %.3f", s_pink.f1);

    /* 5 dB is beyond the requirement: reported, loosely bounded, and its
     * turns are not checked (a sentence pause can split a turn there). */
    score_t s_white5 = s_evaluate("white 5dB", &c, white5, false);
    CHECK(s_white5.f1 >= 0.8, "white 5 dB F1 %.3f", s_white5.f1);

    s_test_noise_only();
    s_test_adaptation(&c);
    s_test_api(white, &c);

    free(clean);
    free(white);
    free(pink);
    free(white5);
    free(c.clean);
    free(c.varied);
    free(c.frame_label);
    if (!keep) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        s_run(cmd);
    }
    printf("%s in %.2f s\n", s_failures ? "FAILED" : "passed", s_now() - t0);
    return s_failures ? 1 : 0;
}
