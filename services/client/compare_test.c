/* compare_test — the cross-correlation finds a delayed, noisy, re-encoded
 * copy and its lag, and scores unrelated audio low. */
#include "compare.h"
#include "pcm.h"
#include "test.h"
#include "wav.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

static float s_noise(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (float)((*seed >> 8) & 0xffff) / 32768.0f - 1.0f;
}

int main(void)
{
    const int rate = COMPARE_RATE;
    size_t n = (size_t)rate * 2;
    float *a = calloc(n, sizeof *a), *b = calloc(n + 2000, sizeof *b), *c = calloc(n, sizeof *c);
    unsigned seed = 1, seed2 = 99;
    for (size_t i = 0; i < n; i++)
        a[i] = 0.5f * s_noise(&seed) * (float)(0.5 + 0.5 * sin((double)i / 900.0));
    /* b: a delayed by 480 samples (60 ms), attenuated, with noise */
    for (size_t i = 0; i < n; i++)
        b[i + 480] = 0.7f * a[i] + 0.05f * s_noise(&seed2);
    for (size_t i = 0; i < n; i++)
        c[i] = 0.5f * s_noise(&seed2);
    compare_result_t r;
    CHECK(compare_signals(a, n, b, n + 2000, rate, rate, &r) == 0, "compares");
    CHECK(r.peak > 0.95 && fabs(r.lag_ms - 60.0) < 0.01, "delayed copy: peak %.3f at %.1f ms", r.peak, r.lag_ms);
    CHECK(compare_signals(b, n + 2000, a, n, rate, rate, &r) == 0 && fabs(r.lag_ms + 60.0) < 0.01,
          "swapped: lag %.1f ms", r.lag_ms);
    CHECK(r.windows == 4 && r.window_peak > 0.95 && fabs(r.window_lag_ms + 60.0) < 0.01,
          "windows: %d, median peak %.3f at %.1f ms", r.windows, r.window_peak, r.window_lag_ms);
    CHECK(compare_signals(a, n, c, n, rate, rate, &r) == 0 && r.peak < 0.1 && r.window_peak < 0.15,
          "unrelated noise: peak %.3f, window peak %.3f", r.peak, r.window_peak);
    /* a reply whose latency grows from 20 to 100 ms halfway (an underrun) */
    float *d = calloc(n + 2000, sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i + (i < n / 2 ? 160 : 800)] = a[i];
    CHECK(compare_signals(a, n, d, n + 2000, rate, 300 * rate / 1000, &r) == 0 && r.peak < 0.8
          && r.window_peak > 0.95 && r.window_lag_ms >= 20 && r.window_lag_ms <= 100,
          "latency jump: peak %.3f at %.1f ms, window peak %.3f at %.1f ms", r.peak, r.lag_ms,
          r.window_peak, r.window_lag_ms);
    free(d);
    /* half of the reply missing scores about half */
    for (size_t i = n / 2; i < n + 2000; i++)
        b[i] = 0;
    CHECK(compare_signals(a, n, b, n + 2000, rate, rate, &r) == 0 && r.peak > 0.5 && r.peak < 0.8,
          "half the reply: peak %.3f", r.peak);
    float *z = calloc(100, sizeof *z);
    CHECK(compare_signals(a, n, z, 100, rate, 10, &r) == -1, "silence is refused");
    CHECK(compare_signals(a, 0, b, n, rate, 10, &r) == -1, "empty is refused");

    /* files at other rates: a 48 kHz tone and its 16 kHz copy 100 ms late */
    pcm_t *p = pcm_new(48000, 1, PCM_S16, 48000);
    int16_t *x = pcm_data(p);
    for (int i = 0; i < 48000; i++)
        x[i] = (int16_t)(8000 * sin(i * 0.05) * sin(i * 0.0007));
    pcm_t *q16 = pcm_resample(p, 16000, 1, PCM_S16);
    pcm_t *q = pcm_new(16000, 2, PCM_S16, 1600);    /* 100 ms of silence, stereo */
    pcm_append(q, q16);
    char pa[] = "/tmp/compare_test_a.XXXXXX", pb[] = "/tmp/compare_test_b.XXXXXX";
    close(mkstemp(pa));
    close(mkstemp(pb));
    CHECK(wav_write_file(pa, p) == 0 && wav_write_file(pb, q) == 0, "WAV files written");
    char err[256];
    CHECK(compare_files(pa, pb, 1000, &r, err, sizeof err) == 0 && r.peak > 0.9 && fabs(r.lag_ms - 100) < 0.5,
          "files 48k mono vs 16k stereo: peak %.3f at %.1f ms", r.peak, r.lag_ms);
    CHECK(compare_files(pa, "/nonexistent.wav", 1000, &r, err, sizeof err) == -1,
          "missing file: %s", err);
    unlink(pa);
    unlink(pb);
    pcm_destroy(&p);
    pcm_destroy(&q);
    pcm_destroy(&q16);
    free(a);
    free(b);
    free(c);
    free(z);
    return TEST_DONE();
}
