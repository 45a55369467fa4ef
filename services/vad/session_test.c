/* session_test — the VAD daemon's per-session glue: 48 kHz caller audio in
 * 20 ms chunks (so the resampler and the framing are exercised), real speech
 * from flite between silences, and barge-in with barge-in on and off. */
#include "session.h"
#include "wav.h"
#include "log.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int starts, ends, interrupts, segments, finals;
    int64_t start_us, end_us, seg_us;
    uint64_t last_utt;
} s_seen_t;

static void s_on_turn(void *arg, const turn_event_t *ev)
{
    s_seen_t *s = arg;
    if (ev->type == TURN_SPEECH_START) { s->starts++; s->start_us = ev->start_us; }
    if (ev->type == TURN_SPEECH_END) { s->ends++; s->end_us = ev->end_us; }
    if (ev->type == TURN_INTERRUPT) s->interrupts++;
}

static void s_on_segment(void *arg, uint64_t utt, const pcm_t *audio, int64_t start_us, bool final)
{
    (void)start_us;
    s_seen_t *s = arg;
    s->segments++;
    s->finals += final;
    s->seg_us += pcm_duration_us(audio);
    s->last_utt = utt;
}

/* Feeds `pcm` (any rate) in 20 ms pieces; calls agent audio every piece when asked. */
static void s_feed(vad_session_t *v, const pcm_t *pcm, bool agent_talking)
{
    size_t step = pcm_ms_to_frames(pcm_rate(pcm), 20);
    for (size_t at = 0; at + step <= pcm_frames(pcm); at += step) {
        pcm_t *piece = pcm_slice(pcm, at, step);
        if (agent_talking) vad_session_agent_audio(v, 20000);
        vad_session_feed(v, piece);
        pcm_destroy(&piece);
    }
}

static pcm_t *s_speech_48k(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/vad-session-test-%d.wav", getpid());
    char cmd[256];
    snprintf(cmd, sizeof cmd, "flite -t 'the quick brown fox jumps over the lazy dog' -o %s", path);
    if (system(cmd) != 0) return NULL;
    pcm_t *speech = NULL;
    const char *why = NULL;
    wav_read_file(path, &speech, &why);
    unlink(path);
    if (!speech) return NULL;
    pcm_t *out = pcm_resample(speech, 48000, 1, PCM_S16);
    pcm_destroy(&speech);
    return out;
}

static void s_run(const pcm_t *speech, bool barge_in, bool agent, s_seen_t *seen)
{
    vad_session_config_t cfg;
    vad_session_config_default(&cfg);
    cfg.barge_in = barge_in;
    vad_session_cb_t cb = { s_on_turn, s_on_segment, seen };
    vad_session_t *v = vad_session_new(&cfg, &cb);
    pcm_t *silence = pcm_new(48000, 1, PCM_S16, 48000);   /* 1 s of digital silence */
    s_feed(v, silence, false);
    s_feed(v, speech, agent);
    s_feed(v, silence, false);
    vad_session_end(v);
    pcm_destroy(&silence);
    vad_session_destroy(&v);
}

int main(void)
{
    log_init("session_test", LOG_LEVEL_WARN, false);
    pcm_t *speech = s_speech_48k();
    CHECK(speech != NULL, "flite speech, resampled to 48 kHz");
    if (!speech) return TEST_DONE();
    double speech_s = pcm_duration_us(speech) / 1e6;

    s_seen_t a = { 0 };
    s_run(speech, true, false, &a);
    CHECK(a.starts == 1 && a.ends == 1, "one utterance: %d start(s), %d end(s)", a.starts, a.ends);
    CHECK(a.start_us >= 1000000 && a.start_us < 1300000, "onset after the 1 s of silence (%.3f s)", a.start_us / 1e6);
    CHECK(a.end_us > a.start_us + 1000000 && a.end_us <= 1000000 + (int64_t)(speech_s * 1e6) + 100000,
          "end inside the speech file's span (%.3f s of %.3f s)", a.end_us / 1e6, 1 + speech_s);
    CHECK(a.finals == 1 && a.segments >= 5, "utterance streamed in %d pieces, the last final", a.segments);
    int64_t want = a.end_us - a.start_us + 200000;   /* + pre-roll */
    CHECK(a.seg_us >= want - 60000 && a.seg_us <= want + 700000, "segment audio %.3f s covers the utterance + pre-roll (%.3f s)",
          a.seg_us / 1e6, want / 1e6);
    CHECK(a.interrupts == 0, "no interrupt when the agent is silent");

    s_seen_t b = { 0 };
    s_run(speech, true, true, &b);
    CHECK(b.interrupts == 1, "caller speaking over the agent: one interrupt (%d)", b.interrupts);
    s_seen_t c = { 0 };
    s_run(speech, false, true, &c);
    CHECK(c.interrupts == 0 && c.starts == 1, "barge-in off: no interrupt, the turn still counts");
    pcm_destroy(&speech);
    return TEST_DONE();
}
