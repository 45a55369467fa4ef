/* audio_queue_test — order, exact takes, overflow, conversion, clear.
 * Prints one line per check. */
#include "audio_queue.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int s_failures;

#define CHECK(cond, ...) do { \
        bool ok_ = (cond); \
        printf("%s ", ok_ ? "ok  " : "FAIL"); \
        printf(__VA_ARGS__); \
        if (!ok_) { printf("   [%s:%d: %s]", __FILE__, __LINE__, #cond); s_failures++; } \
        printf("\n"); \
    } while (0)

/* Mono S16 frames whose values count on from `seq` (mod 32768), so that
 * every frame says where it came from. */
static pcm_t *s_ramp(uint32_t rate, uint64_t seq, size_t frames)
{
    pcm_t *p = pcm_new(rate, 1, PCM_S16, frames);
    int16_t *x = pcm_data(p);
    for (size_t i = 0; i < frames; i++) x[i] = (int16_t) ((seq + i) % 32768);
    return p;
}

/* True when p is the ramp starting at seq. */
static bool s_is_ramp(const pcm_t *p, uint64_t seq)
{
    const int16_t *x = pcm_data(p);
    for (size_t i = 0; i < pcm_frames(p); i++)
        if (x[i] != (int16_t) ((seq + i) % 32768)) return false;
    return true;
}

static pcm_t *s_sine(uint32_t rate, double freq, size_t start, size_t frames)
{
    pcm_t *p = pcm_new(rate, 1, PCM_F32, frames);
    float *x = pcm_data(p);
    for (size_t i = 0; i < frames; i++) x[i] = (float) (0.5 * sin(2 * M_PI * freq * (double) (start + i) / rate));
    return p;
}

static void test_new(void)
{
    errno = 0;
    CHECK(!audio_queue_new(16000, 1, PCM_S16, 0) && errno == EINVAL, "limit 0 rejected");
    CHECK(!audio_queue_new(1000, 1, PCM_S16, 100) && !audio_queue_new(16000, 9, PCM_S16, 100)
          && !audio_queue_new(16000, 1, 5, 100), "bad formats rejected");
    audio_queue_t *q = audio_queue_new(16000, 1, PCM_S16, 100);
    CHECK(q && audio_queue_available_ms(q) == 0 && audio_queue_dropped_frames(q) == 0, "new queue is empty");
    errno = 0;
    CHECK(!audio_queue_take(q, 20) && errno == EAGAIN, "take on an empty queue: NULL, EAGAIN");
    CHECK(audio_queue_put(q, NULL) == -EINVAL, "put NULL: -EINVAL");
    audio_queue_destroy(&q);
    CHECK(q == NULL, "destroy sets NULL");
}

static void test_order(void)
{
    audio_queue_t *q = audio_queue_new(16000, 1, PCM_S16, 1000);
    for (int i = 0; i < 3; i++) {
        pcm_t *p = s_ramp(16000, (uint64_t) i * 320, 320);
        audio_queue_put(q, p);
        pcm_destroy(&p);
    }
    CHECK(audio_queue_available_ms(q) == 60 && audio_queue_available_frames(q) == 960, "3 x 20 ms buffered = 60 ms");
    pcm_t *a = audio_queue_take(q, 20);
    CHECK(a && pcm_frames(a) == 320 && s_is_ramp(a, 0), "take 20 ms returns the oldest chunk first");
    pcm_t *b = audio_queue_take_exact(q, 40);
    CHECK(b && pcm_frames(b) == 640 && s_is_ramp(b, 320), "take_exact 40 ms returns the next two, in order");
    pcm_destroy(&a);
    pcm_destroy(&b);

    pcm_t *p = s_ramp(16000, 1000, 480);       /* 30 ms */
    audio_queue_put(q, p);
    pcm_destroy(&p);
    errno = 0;
    pcm_t *c = audio_queue_take_exact(q, 40);
    CHECK(!c && errno == EAGAIN && audio_queue_available_ms(q) == 30, "take_exact 40 ms of 30: NULL, EAGAIN, nothing removed");
    c = audio_queue_take_exact(q, 20);
    pcm_t *d = audio_queue_take(q, 100);
    CHECK(c && d && pcm_frames(c) == 320 && s_is_ramp(c, 1000) && pcm_frames(d) == 160 && s_is_ramp(d, 1320),
          "take 100 ms of 10 ms returns what is there");
    CHECK(pcm_rate(d) == 16000 && pcm_channels(d) == 1 && pcm_format(d) == PCM_S16, "taken audio has the queue's format");
    pcm_destroy(&c);
    pcm_destroy(&d);
    p = s_ramp(16000, 5, 1234);
    audio_queue_put(q, p);
    pcm_destroy(&p);
    pcm_t *all = audio_queue_take(q, AUDIO_QUEUE_ALL);
    CHECK(all && pcm_frames(all) == 1234 && s_is_ramp(all, 5) && audio_queue_available_frames(q) == 0,
          "take AUDIO_QUEUE_ALL empties the queue");
    pcm_destroy(&all);
    CHECK(audio_queue_dropped_frames(q) == 0, "nothing dropped below the limit");
    audio_queue_destroy(&q);
}

static void test_overflow(void)
{
    audio_queue_t *q = audio_queue_new(16000, 1, PCM_S16, 100);     /* 1600 frames */
    pcm_t *p = s_ramp(16000, 0, 960), *p2 = s_ramp(16000, 960, 960);
    audio_queue_put(q, p);
    audio_queue_put(q, p2);
    CHECK(audio_queue_available_ms(q) == 100 && audio_queue_dropped_frames(q) == 320,
          "120 ms into a 100 ms queue: 100 ms kept, 320 frames dropped");
    pcm_t *t = audio_queue_take(q, AUDIO_QUEUE_ALL);
    CHECK(t && s_is_ramp(t, 320) && pcm_frames(t) == 1600, "the OLDEST 20 ms were dropped (first frame is #320)");
    pcm_destroy(&p); pcm_destroy(&p2); pcm_destroy(&t);

    p = s_ramp(16000, 100, 500);
    audio_queue_put(q, p);
    pcm_destroy(&p);
    p = s_ramp(16000, 600, 4000);       /* 250 ms in one put */
    audio_queue_put(q, p);
    pcm_destroy(&p);
    t = audio_queue_take(q, AUDIO_QUEUE_ALL);
    CHECK(t && pcm_frames(t) == 1600 && s_is_ramp(t, 600 + 4000 - 1600), "one put larger than the limit keeps its newest 100 ms");
    CHECK(audio_queue_dropped_frames(q) == 320 + 500 + 2400, "dropped counts old and new frames (%llu)",
          (unsigned long long) audio_queue_dropped_frames(q));
    pcm_destroy(&t);
    audio_queue_destroy(&q);
}

/* Random puts and takes against a model: the queue always holds the
 * contiguous run [lo, hi) of a counting sequence. Exercises ring wrap-around
 * and growth. */
static void test_random_model(void)
{
    audio_queue_t *q = audio_queue_new(8000, 1, PCM_S16, 250);      /* 2000 frames */
    uint64_t lo = 0, hi = 0, dropped = 0;
    bool ok = true;
    srand(7);
    for (int i = 0; i < 20000 && ok; i++) {
        int op = rand() % 3;
        if (op == 0) {
            size_t n = rand() % 50 ? (size_t) rand() % 700 : 2500;
            pcm_t *p = s_ramp(8000, hi, n);
            ok = audio_queue_put(q, p) == 0;
            pcm_destroy(&p);
            hi += n;
            if (hi - lo > 2000) { dropped += hi - lo - 2000; lo = hi - 2000; }
        } else {
            uint32_t ms = (uint32_t) rand() % 120;
            size_t want = pcm_ms_to_frames(8000, ms);
            pcm_t *t = op == 1 ? audio_queue_take(q, ms) : audio_queue_take_exact(q, ms);
            size_t expect = op == 1 ? (want < hi - lo ? want : hi - lo) : (want <= hi - lo ? want : 0);
            bool empty_ok = (hi == lo || (op == 2 && want > hi - lo)) && !t;
            ok = empty_ok || (t && pcm_frames(t) == expect && s_is_ramp(t, lo));
            if (t) lo += pcm_frames(t);
            pcm_destroy(&t);
        }
        ok = ok && audio_queue_available_frames(q) == hi - lo && audio_queue_dropped_frames(q) == dropped;
    }
    CHECK(ok, "20000 random puts/takes match the model (%llu frames through, %llu dropped)",
          (unsigned long long) hi, (unsigned long long) dropped);
    audio_queue_destroy(&q);
}

static void test_conversion(void)
{
    audio_queue_t *q = audio_queue_new(16000, 1, PCM_S16, 2000);
    pcm_t *st = pcm_new(16000, 2, PCM_F32, 320);
    float *x = pcm_data(st);
    for (int i = 0; i < 320; i++) { x[2 * i] = 0.5f; x[2 * i + 1] = 0.0f; }
    CHECK(audio_queue_put(q, st) == 0 && audio_queue_available_frames(q) == 320, "put F32 stereo into an S16 mono queue");
    pcm_t *t = audio_queue_take(q, AUDIO_QUEUE_ALL);
    CHECK(t && pcm_format(t) == PCM_S16 && pcm_channels(t) == 1 && ((int16_t *) pcm_data(t))[100] == 8192,
          "converted: mono mean of 0.5 and 0 = 0.25 = 8192");
    pcm_destroy(&st);
    pcm_destroy(&t);

    /* 1 s of a 1 kHz sine at 48 kHz in 20 ms chunks, then 20 ms at 16 kHz. */
    for (size_t pos = 0; pos < 48000; pos += 960) {
        pcm_t *c = s_sine(48000, 1000, pos, 960);
        audio_queue_put(q, c);
        pcm_destroy(&c);
    }
    size_t before_end = audio_queue_available_frames(q);
    pcm_t *tail = s_ramp(16000, 100, 320);
    audio_queue_put(q, tail);
    pcm_destroy(&tail);
    size_t total = audio_queue_available_frames(q);
    CHECK(before_end < 16000 && total == 16000 + 320, "resampled stream: %zu frames held back until the stream ends, "
          "then 16000 + 320 frames", 16000 - before_end);
    t = audio_queue_take(q, AUDIO_QUEUE_ALL);
    pcm_t *last = t ? pcm_tail(t, 20) : NULL;
    CHECK(last && s_is_ramp(last, 100), "audio at the queue's rate comes after the resampled stream's tail");
    pcm_destroy(&last);
    pcm_t *sine = t ? pcm_head(t, 1000) : NULL;
    float *f = NULL;
    if (sine) {
        pcm_t *fs = pcm_convert(sine, PCM_F32);
        f = malloc(pcm_bytes(fs));
        memcpy(f, pcm_data(fs), pcm_bytes(fs));
        pcm_destroy(&fs);
    }
    int crossings = 0;
    double first = -1, lastc = 0, jump = 0;
    for (size_t i = 1600; f && i + 1 < 14400; i++) {
        if (f[i] < 0 && f[i + 1] >= 0) {
            double tt = (double) i + f[i] / (f[i] - f[i + 1]);
            if (first < 0) first = tt;
            lastc = tt;
            crossings++;
        }
        if (fabs(f[i + 1] - f[i]) > jump) jump = fabs(f[i + 1] - f[i]);
    }
    double freq = crossings > 1 ? (crossings - 1) * 16000.0 / (lastc - first) : 0;
    CHECK(fabs(freq - 1000) < 10, "48 kHz chunks put into a 16 kHz queue: 1 kHz comes out at %.2f Hz", freq);
    double limit = 2 * M_PI * 1000 * 0.5 / 16000 * 1.05 + 2.0 / 32768;
    CHECK(jump < limit, "no clicks at chunk joins: max step %.4f < %.4f", jump, limit);
    free(f);
    pcm_destroy(&sine);
    pcm_destroy(&t);
    audio_queue_destroy(&q);
}

static void test_clear(void)
{
    audio_queue_t *q = audio_queue_new(16000, 1, PCM_S16, 100);
    pcm_t *p = s_ramp(16000, 0, 2000);
    audio_queue_put(q, p);
    pcm_destroy(&p);
    pcm_t *h = s_sine(48000, 440, 0, 960);
    audio_queue_put(q, h);          /* leaves audio inside the resampler */
    pcm_destroy(&h);
    uint64_t dropped = audio_queue_dropped_frames(q);
    audio_queue_clear(q);
    errno = 0;
    CHECK(audio_queue_available_ms(q) == 0 && !audio_queue_take(q, 20) && errno == EAGAIN, "clear empties the queue");
    CHECK(audio_queue_end_stream(q) == 0 && audio_queue_available_frames(q) == 0,
          "clear also drops what the resampler held (end_stream adds nothing)");
    CHECK(audio_queue_dropped_frames(q) == dropped, "clear is not counted as dropped");
    p = s_ramp(16000, 42, 320);
    audio_queue_put(q, p);
    pcm_destroy(&p);
    pcm_t *t = audio_queue_take_exact(q, 20);
    CHECK(t && s_is_ramp(t, 42), "the queue works normally after clear");
    pcm_destroy(&t);
    audio_queue_destroy(&q);
}

/* 100 sessions x 60 s of 20 ms put/take at 48 kHz: prints the cost per call. */
static void test_hot_path(void)
{
    enum { SESSIONS = 100, FRAMES = 3000 };
    audio_queue_t *qs[SESSIONS];
    for (int s = 0; s < SESSIONS; s++) qs[s] = audio_queue_new(48000, 1, PCM_S16, 1000);
    pcm_t *chunk = s_ramp(48000, 0, 960);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    size_t taken = 0;
    for (int i = 0; i < FRAMES; i++)
        for (int s = 0; s < SESSIONS; s++) {
            audio_queue_put(qs[s], chunk);
            if (i % 2 == 0) audio_queue_put(qs[s], chunk);     /* jitter: sometimes two */
            pcm_t *t = audio_queue_take_exact(qs[s], 20);
            taken += t ? pcm_frames(t) : 0;
            pcm_destroy(&t);
        }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double us = ((double) (b.tv_sec - a.tv_sec) * 1e6 + (double) (b.tv_nsec - a.tv_nsec) / 1e3) / (SESSIONS * FRAMES);
    CHECK(taken == (size_t) SESSIONS * FRAMES * 960 && audio_queue_available_ms(qs[0]) == 980
          && audio_queue_dropped_frames(qs[0]) == (FRAMES / 2 - 49) * 960,
          "100 sessions x 3000 frames, 1.5 chunks in per chunk out: every take served, surplus dropped at the limit");
    printf("info 20 ms put(s)+take at 48 kHz: %.2f us per session-frame\n", us);
    pcm_destroy(&chunk);
    for (int s = 0; s < SESSIONS; s++) audio_queue_destroy(&qs[s]);
}

int main(void)
{
    test_new();
    test_order();
    test_overflow();
    test_random_model();
    test_conversion();
    test_clear();
    test_hot_path();
    printf("%s: %d failure(s)\n", s_failures ? "FAIL" : "PASS", s_failures);
    return s_failures ? 1 : 0;
}
