/* engine_flite_test — flite in worker threads, streaming.
 *
 * Streaming gives the samples one-shot synthesis gives (exactly for the
 * diphone voice kal; for the clustergen voice slt, whose excitation is
 * partly random, the same length and a close waveform), in more than one
 * chunk for a long sentence; two jobs run at once on two workers; a
 * cancelled job delivers nothing more, and the next job still works.
 * Prints the time to the first chunk and the real-time factor. */
#include "engine_flite.h"
#include "log.h"
#include "test.h"

#include <flite/flite.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

cst_voice *register_cmu_us_slt(const char *voxdir);
cst_voice *register_cmu_us_kal(const char *voxdir);

#define LONG_TEXT "The quick brown fox jumps over the lazy dog, and then it runs far away into the deep dark " \
                  "forest, where nobody will ever find it again, not even the hunters with their clever dogs."

typedef struct {
    int16_t *samples;
    size_t n, cap;
    size_t chunks;
    bool done;
    char error[128];
    int64_t start_us, first_us, done_us;
} s_got_t;

static s_got_t s_got[8];               /* by job id */

static void s_audio(void *owner, uint64_t job, const int16_t *samples, size_t frames)
{
    (void)owner;
    s_got_t *g = &s_got[job % 8];
    if (g->n + frames > g->cap) {
        g->cap = (g->n + frames) * 2;
        g->samples = realloc(g->samples, g->cap * sizeof *g->samples);
    }
    memcpy(g->samples + g->n, samples, frames * sizeof *samples);
    g->n += frames;
    if (!g->chunks++) g->first_us = time_mono_us();
}

static void s_done(void *owner, uint64_t job, const char *error)
{
    (void)owner;
    s_got_t *g = &s_got[job % 8];
    g->done = true;
    g->done_us = time_mono_us();
    snprintf(g->error, sizeof g->error, "%s", error ? error : "");
}

static void s_clear(void)
{
    for (int i = 0; i < 8; i++) {
        free(s_got[i].samples);
        s_got[i] = (s_got_t){ 0 };
    }
}

/* Runs the loop side until job is done or ms pass. */
static void s_wait(engine_flite_t *e, uint64_t job, int ms)
{
    int64_t end = time_mono_us() + (int64_t)ms * 1000;
    while (!s_got[job % 8].done && time_mono_us() < end) {
        struct pollfd p = { engine_flite_fd(e), POLLIN, 0 };
        if (poll(&p, 1, 50) > 0) engine_flite_dispatch(e);
    }
}

/* Energy per 20 ms frame of a and b: the normalised correlation of the two
 * envelopes (1: same shape). */
static double s_envelope_corr(const int16_t *a, const int16_t *b, size_t n, size_t frame)
{
    double sab = 0, saa = 0, sbb = 0;
    for (size_t at = 0; at + frame <= n; at += frame) {
        double ea = 0, eb = 0;
        for (size_t i = at; i < at + frame; i++) {
            ea += (double)a[i] * a[i];
            eb += (double)b[i] * b[i];
        }
        ea = sqrt(ea / frame);
        eb = sqrt(eb / frame);
        sab += ea * eb;
        saa += ea * ea;
        sbb += eb * eb;
    }
    return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : 0;
}

static void s_test_voice(const char *voice, bool exact)
{
    s_clear();
    tts_engine_sink_t sink = { s_audio, s_done, NULL };
    engine_flite_config_t cfg = { voice, 2, 100 };
    char err[256];
    engine_flite_t *e = engine_flite_new(&cfg, &sink, err, sizeof err);
    CHECK(e != NULL, "%s: engine made (%s)", voice, e ? "ok" : err);
    if (!e) return;
    tts_engine_t eng = engine_flite_engine(e);
    CHECK(eng.capacity == 2 && eng.rate == (strcmp(voice, "kal") ? 16000u : 8000u), "%s: 2 workers, %u Hz", voice,
          eng.rate);

    s_got[1].start_us = time_mono_us();
    CHECK(eng.start(eng.impl, 1, "test", LONG_TEXT) == 0, "%s: job started", voice);
    s_wait(e, 1, 20000);
    s_got_t *g = &s_got[1];
    CHECK(g->done && !g->error[0], "%s: job done without error", voice);

    cst_voice *v = strcmp(voice, "kal") ? register_cmu_us_slt(NULL) : register_cmu_us_kal(NULL);
    int64_t t = time_mono_us();
    cst_wave *w = flite_text_to_wave(LONG_TEXT, v);
    int64_t oneshot_us = time_mono_us() - t;
    double audio_s = (double)g->n / eng.rate;
    CHECK(w && (size_t)w->num_samples == g->n, "%s: streaming gives as many samples as one-shot (%zu, %d)", voice,
          g->n, w ? w->num_samples : -1);
    CHECK(g->chunks > 1 && g->chunks >= (size_t)(audio_s * 10) - 1,
          "%s: in chunks of 100 ms as it is made (%zu chunks for %.1f s)", voice, g->chunks, audio_s);
    if (w && (size_t)w->num_samples == g->n) {
        if (exact) {
            CHECK(!memcmp(w->samples, g->samples, g->n * sizeof *g->samples), "%s: the very same samples", voice);
        } else {
            double c = s_envelope_corr(w->samples, g->samples, g->n, eng.rate / 50);
            CHECK(c > 0.95, "%s: the same energy envelope in 20 ms frames (correlation %.3f)", voice, c);
        }
    }
    printf("     %s: %.2f s of audio: first chunk after %.1f ms, all after %.1f ms (one-shot %.1f ms), "
           "real-time factor %.3f\n", voice, audio_s, (g->first_us - g->start_us) / 1e3,
           (g->done_us - g->start_us) / 1e3, oneshot_us / 1e3, (g->done_us - g->start_us) / 1e6 / audio_s);
    if (w) delete_wave(w);

    /* Two jobs at once on the two workers: both complete, same lengths. */
    eng.start(eng.impl, 2, "a", LONG_TEXT);
    eng.start(eng.impl, 3, "b", LONG_TEXT);
    s_wait(e, 2, 20000);
    s_wait(e, 3, 20000);
    CHECK(s_got[2].done && s_got[3].done && s_got[2].n == g->n && s_got[3].n == g->n,
          "%s: two jobs at once both give the whole sentence", voice);
    if (exact)
        CHECK(!memcmp(s_got[2].samples, g->samples, g->n * 2) && !memcmp(s_got[3].samples, g->samples, g->n * 2),
              "%s: and the same samples (threads do not disturb each other)", voice);

    /* Cancel as soon as the first chunk is out: nothing more is delivered. */
    eng.start(eng.impl, 4, "c", LONG_TEXT LONG_TEXT);
    int64_t end = time_mono_us() + 20000000;
    while (!s_got[4].chunks && time_mono_us() < end) {
        struct pollfd p = { engine_flite_fd(e), POLLIN, 0 };
        if (poll(&p, 1, 1) > 0) engine_flite_dispatch(e);
    }
    eng.cancel(eng.impl, 4);
    size_t at_cancel = s_got[4].n;
    eng.start(eng.impl, 5, "d", "After the cut.");
    s_wait(e, 5, 20000);
    CHECK(s_got[4].n == at_cancel && !s_got[4].done, "%s: after cancel no audio and no end for the job (%zu samples)",
          voice, at_cancel);
    CHECK(s_got[5].done && s_got[5].n > 0, "%s: the next job works", voice);
    engine_flite_destroy(&e);
    CHECK(e == NULL, "%s: destroyed", voice);
}

int main(void)
{
    log_init("engine_flite_test", LOG_LEVEL_ERROR, false);
    s_test_voice("kal", true);
    s_test_voice("slt", false);

    char err[256];
    tts_engine_sink_t sink = { s_audio, s_done, NULL };
    engine_flite_config_t cfg = { "nope", 1, 100 };
    CHECK(engine_flite_new(&cfg, &sink, err, sizeof err) == NULL && strstr(err, "unknown flite voice"),
          "an unknown voice is refused: %s", err);
    cfg.voice = "awb";
    engine_flite_t *e = engine_flite_new(&cfg, &sink, err, sizeof err);
    CHECK(e != NULL, "a voice that is not linked in (awb) is loaded at run time (%s)", e ? "ok" : err);
    engine_flite_destroy(&e);

    char *t = engine_flite_text("\xe2\x80\x9cIt\xe2\x80\x99s caf\xc3\xa9 time\xe2\x80\x9d \xe2\x80\x94 ok\xe2\x80\xa6\x01"
                                "\xf0\x9f\x98\x80!\xff");
    CHECK(t && !strcmp(t, "\"It's cafe time\" ,  ok...  ! "), "text for flite: ASCII punctuation, plain letters (%s)", t);
    free(t);
    s_clear();
    return TEST_DONE();
}
