/* speech_level_test — the P.56 active level and noise at a stated SNR. */
#include "speech_level.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RATE 16000

/* A 440 Hz tone of amplitude amp, on for on_s and off for off_s, cycles times. */
static int16_t *s_bursts(double amp, double on_s, double off_s, int cycles, size_t *n)
{
    size_t on = (size_t)(on_s * RATE), off = (size_t)(off_s * RATE);
    *n = (on + off) * (size_t)cycles;
    int16_t *x = calloc(*n, sizeof *x);
    for (int c = 0; c < cycles; c++)
        for (size_t i = 0; i < on; i++)
            x[(size_t)c * (on + off) + i] = (int16_t)lrint(amp * sin(2 * M_PI * 440 * (double)i / RATE));
    return x;
}

static double s_power_db(const int16_t *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return 10 * log10(s / (double)n);
}

int main(void)
{
    size_t n;
    double act;
    int16_t *x = s_bursts(8000, 3, 0, 1, &n);
    double tone = 10 * log10(8000.0 * 8000 / 2), lv = speech_level_db(x, n, RATE, &act);
    CHECK(fabs(lv - tone) < 0.3 && act > 0.95, "a steady tone's level is its power: %.2f dB (power %.2f), activity %.2f",
          lv, tone, act);
    free(x);

    x = s_bursts(8000, 1, 1, 4, &n);
    lv = speech_level_db(x, n, RATE, &act);
    double rms = s_power_db(x, n);
    /* Active: each 1 s burst and its 200 ms of hangover. */
    double expect = tone + 10 * log10(1 / 1.2);
    CHECK(fabs(lv - expect) < 0.4 && act > 0.55 && act < 0.7,
          "pauses do not dilute it: on 1 s / off 1 s: %.2f dB (the tone over 1.2 s of each 2: %.2f; whole-file RMS %.2f), "
          "activity %.2f", lv, expect, rms, act);
    CHECK(lv - rms > 1.5, "the whole-file RMS is %.2f dB lower", lv - rms);
    free(x);

    int16_t *a = s_bursts(2000, 1, 0.5, 3, &n), *b = s_bursts(4000, 1, 0.5, 3, &n);
    double la = speech_level_db(a, n, RATE, NULL), lb = speech_level_db(b, n, RATE, NULL);
    CHECK(fabs(lb - la - 6.02) < 0.3, "twice the amplitude is 6 dB more: %.2f dB", lb - la);
    free(b);

    int16_t *z = calloc(RATE, sizeof *z);
    CHECK(isinf(speech_level_db(z, RATE, RATE, &act)) && act == 0, "silence has no level");
    CHECK(speech_level_add_pink(z, RATE, RATE, 10, 1) == -1 && z[0] == 0 && z[RATE / 2] == 0,
          "noise is not added to silence (no level to set it against)");
    free(z);

    /* The noise added is 10 dB below the level, whatever the seed. */
    int16_t *y = malloc(n * sizeof *y), *y2 = malloc(n * sizeof *y2);
    memcpy(y, a, n * sizeof *y);
    memcpy(y2, a, n * sizeof *y2);
    CHECK(speech_level_add_pink(y, n, RATE, 10, 7) == 0 && speech_level_add_pink(y2, n, RATE, 10, 8) == 0,
          "pink noise added");
    double d1 = 0, d2 = 0;
    for (size_t i = 0; i < n; i++) {
        double e1 = (double)y[i] - a[i], e2 = (double)y2[i] - a[i];
        d1 += e1 * e1, d2 += e2 * e2;
    }
    d1 = 10 * log10(d1 / (double)n), d2 = 10 * log10(d2 / (double)n);
    CHECK(fabs(la - d1 - 10) < 0.2 && fabs(la - d2 - 10) < 0.2, "SNR against the active level: %.2f and %.2f dB",
          la - d1, la - d2);
    CHECK(memcmp(y, y2, n * sizeof *y) != 0, "another seed, other noise");
    memcpy(y2, a, n * sizeof *y2);
    speech_level_add_pink(y2, n, RATE, 10, 7);
    CHECK(memcmp(y, y2, n * sizeof *y) == 0, "the same seed, the same noise");

    /* Pink: -3 dB per octave. Power of the noise's first difference (a
     * high-pass) against the noise's own: white noise would gain
     * 3 dB; pink noise puts its power low, so the difference loses much. */
    double nz = 0, dz = 0;
    for (size_t i = 1; i < n; i++) {
        double e = (double)y[i] - a[i], e0 = (double)y[i - 1] - a[i - 1];
        nz += e * e, dz += (e - e0) * (e - e0);
    }
    CHECK(10 * log10(dz / nz) < -3, "the noise's power is low in frequency (pink): difference/noise %.1f dB",
          10 * log10(dz / nz));
    free(y);
    free(y2);
    free(a);
    return TEST_DONE();
}
