/* feed_test — the conversation feed from bus events to JSON lines, against
 * fake streams and a fake pacer: every event type, latency from origins,
 * who speaks when, barge-in, several streams, and sessions that go away. */
#include "feed.h"
#include "log.h"
#include "test.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    GPtrArray *lines;           /* char *, as sent */
    GArray *droppable;          /* gboolean per line */
    bool closed;
} s_stream_t;

static long s_queued = 0;       /* what the fake pacer says */

static int s_send(void *stream, const char *json, size_t len, bool droppable)
{
    s_stream_t *st = stream;
    if (strlen(json) != len || strchr(json, '\n')) abort();   /* one line, NUL-terminated */
    g_ptr_array_add(st->lines, g_strndup(json, len));
    gboolean d = droppable;
    g_array_append_val(st->droppable, d);
    return 0;
}

static void s_close(void *stream)
{
    ((s_stream_t *)stream)->closed = true;
}

static long s_queued_ms(void *arg, const char *id)
{
    (void)arg; (void)id;
    return s_queued;
}

static void s_stream_init(s_stream_t *st)
{
    st->lines = g_ptr_array_new_with_free_func(g_free);
    st->droppable = g_array_new(FALSE, FALSE, sizeof(gboolean));
    st->closed = false;
}

static void s_stream_clear(s_stream_t *st)
{
    g_ptr_array_free(st->lines, TRUE);
    g_array_free(st->droppable, TRUE);
}

static size_t s_count(const s_stream_t *st) { return st->lines->len; }
static const char *s_line(const s_stream_t *st, size_t i)
{
    return i < st->lines->len ? g_ptr_array_index(st->lines, i) : "";
}
static const char *s_last(const s_stream_t *st) { return st->lines->len ? s_line(st, st->lines->len - 1) : ""; }
static bool s_last_droppable(const s_stream_t *st)
{
    return st->droppable->len && g_array_index(st->droppable, gboolean, st->droppable->len - 1);
}

#define SID "0123456789abcdef0123456789abcdef"
#define T0 1700000000000000LL   /* the caller's end of speech, wall clock µs */

static void s_transcript(feed_t *f, bool final, uint64_t utt, const char *text, int64_t origin, int64_t now)
{
    Voxmesh__Transcript t = VOXMESH__TRANSCRIPT__INIT;
    t.utterance_id = utt;
    t.text = (char *)text;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = SID;
    ev.origin_ts_us = origin;
    ev.payload_case = final ? VOXMESH__ENVELOPE__PAYLOAD_STT_FINAL : VOXMESH__ENVELOPE__PAYLOAD_STT_PARTIAL;
    if (final) ev.stt_final = &t;
    else ev.stt_partial = &t;
    feed_bus(f, SID, &ev, now);
}

static void s_llm_text(feed_t *f, int kind, uint64_t turn, uint32_t index, const char *text, int64_t now)
{
    Voxmesh__LlmText t = VOXMESH__LLM_TEXT__INIT;
    t.turn_id = turn;
    t.index = index;
    t.text = (char *)text;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.origin_ts_us = T0;
    ev.payload_case = kind;
    if (kind == VOXMESH__ENVELOPE__PAYLOAD_LLM_DELTA) ev.llm_delta = &t;
    else if (kind == VOXMESH__ENVELOPE__PAYLOAD_LLM_SENTENCE) ev.llm_sentence = &t;
    else ev.tts_spoken = &t;
    feed_bus(f, SID, &ev, now);
}

static void s_simple(feed_t *f, int kind, int64_t origin, int64_t now)
{
    Voxmesh__VadSpeechStart st = VOXMESH__VAD_SPEECH_START__INIT;
    Voxmesh__VadSpeechEnd en = VOXMESH__VAD_SPEECH_END__INIT;
    Voxmesh__TurnInterrupt ti = VOXMESH__TURN_INTERRUPT__INIT;
    Voxmesh__LlmDone done = VOXMESH__LLM_DONE__INIT;
    ti.reason = "barge-in";
    ti.speech_onset_us = origin - 100000;
    done.turn_id = 3;
    done.reason = "complete";
    done.sentences = 2;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.origin_ts_us = origin;
    ev.payload_case = kind;
    ev.vad_speech_start = &st;      /* a oneof: only the member of `kind` is read */
    if (kind == VOXMESH__ENVELOPE__PAYLOAD_VAD_SPEECH_END) ev.vad_speech_end = &en;
    if (kind == VOXMESH__ENVELOPE__PAYLOAD_TURN_INTERRUPT) ev.turn_interrupt = &ti;
    if (kind == VOXMESH__ENVELOPE__PAYLOAD_LLM_DONE) ev.llm_done = &done;
    feed_bus(f, SID, &ev, now);
}

int main(void)
{
    log_init("feed_test", LOG_LEVEL_ERROR, false);
    const feed_ops_t ops = { .send = s_send, .close = s_close, .queued_ms = s_queued_ms };
    feed_t *f = feed_new(&ops, NULL);
    s_stream_t a, b;
    s_stream_init(&a);
    s_stream_init(&b);

    /* Nobody watches: nothing is kept or sent. */
    s_transcript(f, true, 1, "unseen", T0, T0 + 1000);
    CHECK(feed_sessions(f) == 0, "no state for a session without a stream");

    CHECK(feed_attach(f, SID, &a) == 0 && feed_sessions(f) == 1, "a stream attaches");
    CHECK(!strcmp(s_last(&a), "{\"type\":\"ready\",\"session\":\"" SID "\",\"caller_speaking\":false,"
                              "\"agent_speaking\":false}"), "it hears ready: %s", s_last(&a));

    /* The caller speaks: VAD, partials (droppable), the final. */
    s_simple(f, VOXMESH__ENVELOPE__PAYLOAD_VAD_SPEECH_START, T0 - 2000000, T0 - 1990000);
    CHECK(!strcmp(s_last(&a), "{\"type\":\"caller_speaking\",\"speaking\":true,\"lag_ms\":10}"),
          "speech start: %s", s_last(&a));
    size_t n = s_count(&a);
    s_simple(f, VOXMESH__ENVELOPE__PAYLOAD_VAD_SPEECH_START, T0 - 1000000, T0 - 990000);
    CHECK(s_count(&a) == n, "a second start while speaking says nothing");
    s_transcript(f, false, 3, "hello wh", T0 - 500000, T0 - 492000);
    CHECK(!strcmp(s_last(&a), "{\"type\":\"partial\",\"utterance\":3,\"text\":\"hello wh\",\"lag_ms\":8}")
          && s_last_droppable(&a), "partial, droppable: %s", s_last(&a));
    s_simple(f, VOXMESH__ENVELOPE__PAYLOAD_VAD_SPEECH_END, T0 + 500000, T0 + 501000);
    CHECK(strstr(s_last(&a), "\"type\":\"caller_speaking\",\"speaking\":false"), "speech end: %s", s_last(&a));
    s_transcript(f, true, 3, "hello \"what\"\nis your name", T0, T0 + 583300);
    CHECK(!strcmp(s_last(&a), "{\"type\":\"final\",\"utterance\":3,\"text\":\"hello \\\"what\\\"\\nis your name\","
                              "\"lag_ms\":583.3}") && !s_last_droppable(&a),
          "final, escaped, its lag = the STT's share: %s", s_last(&a));

    /* The reply streams; its first audio completes the turn's latency. */
    s_llm_text(f, VOXMESH__ENVELOPE__PAYLOAD_LLM_DELTA, 3, 0, "My ", T0 + 583500);
    CHECK(!strcmp(s_last(&a), "{\"type\":\"reply_delta\",\"turn\":3,\"index\":0,\"text\":\"My \"}")
          && s_last_droppable(&a), "delta, droppable: %s", s_last(&a));
    s_llm_text(f, VOXMESH__ENVELOPE__PAYLOAD_LLM_SENTENCE, 3, 0, "My name is Vox.", T0 + 600000);
    CHECK(!strcmp(s_last(&a), "{\"type\":\"reply_sentence\",\"turn\":3,\"index\":0,\"text\":\"My name is Vox.\","
                              "\"lag_ms\":600}"), "sentence: %s", s_last(&a));
    s_llm_text(f, VOXMESH__ENVELOPE__PAYLOAD_LLM_SENTENCE, 3, 1, "I am a demo.", T0 + 650000);
    n = s_count(&a);
    feed_audio_out(f, SID, 3, T0, T0 + 700000);
    CHECK(s_count(&a) == n + 2, "first audio: two events");
    CHECK(!strcmp(s_line(&a, n), "{\"type\":\"agent_speaking\",\"speaking\":true,\"turn\":3}"), "agent speaks: %s",
          s_line(&a, n));
    CHECK(!strcmp(s_line(&a, n + 1), "{\"type\":\"latency\",\"turn\":3,\"voice_to_voice_ms\":700,\"stt_ms\":583.3,"
                                     "\"llm_first_sentence_ms\":16.7,\"tts_first_audio_ms\":100}"),
          "latency: stages from the previous mark, adding up: %s", s_line(&a, n + 1));
    feed_audio_out(f, SID, 3, T0, T0 + 720000);
    CHECK(s_count(&a) == n + 2, "later audio of the turn says nothing more");
    s_simple(f, VOXMESH__ENVELOPE__PAYLOAD_LLM_DONE, T0, T0 + 650100);
    CHECK(!strcmp(s_last(&a), "{\"type\":\"reply_done\",\"turn\":3,\"reason\":\"complete\",\"detail\":\"\","
                              "\"sentences\":2,\"lag_ms\":650.1}"), "done: %s", s_last(&a));

    /* The agent stops when the pacer ran dry and no frame came for a while. */
    n = s_count(&a);
    s_queued = 40;
    feed_tick(f, T0 + 2000000);
    CHECK(s_count(&a) == n, "still speaking while audio is queued");
    s_queued = 0;
    feed_audio_out(f, SID, 3, T0, T0 + 2000000);
    feed_tick(f, T0 + 2000000 + FEED_AGENT_QUIET_US / 2);
    CHECK(s_count(&a) == n, "still speaking right after the last frame");
    feed_tick(f, T0 + 2000000 + FEED_AGENT_QUIET_US);
    CHECK(!strcmp(s_last(&a), "{\"type\":\"agent_speaking\",\"speaking\":false,\"turn\":3,\"reason\":\"done\"}"),
          "then silent: %s", s_last(&a));
    n = s_count(&a);
    feed_tick(f, T0 + 3000000);
    CHECK(s_count(&a) == n, "said once");

    /* A second stream hears the state as it is now, then everything. */
    CHECK(feed_attach(f, SID, &b) == 0 && feed_sessions(f) == 1, "a second stream of the session");
    CHECK(strstr(s_last(&b), "\"type\":\"ready\"") && s_count(&b) == 1, "it hears ready only");

    /* Barge-in: a reply plays, the caller cuts it. */
    s_transcript(f, true, 4, "tell me a story", T0 + 5000000, T0 + 5400000);
    feed_audio_out(f, SID, 4, T0 + 5000000, T0 + 6000000);
    CHECK(strstr(s_line(&b, s_count(&b) - 2), "\"speaking\":true,\"turn\":4"), "turn 4 plays");
    CHECK(strstr(s_last(&b), "\"voice_to_voice_ms\":1000,\"stt_ms\":400,\"llm_first_sentence_ms\":null"),
          "a stage that was not seen is null: %s", s_last(&b));
    s_simple(f, VOXMESH__ENVELOPE__PAYLOAD_TURN_INTERRUPT, T0 + 7000000, T0 + 7050000);
    CHECK(!strcmp(s_line(&b, s_count(&b) - 2), "{\"type\":\"interrupt\",\"turn\":4,\"reason\":\"barge-in\",\"lag_ms\":50}"),
          "interrupt names the cut turn: %s", s_line(&b, s_count(&b) - 2));
    CHECK(!strcmp(s_last(&b), "{\"type\":\"agent_speaking\",\"speaking\":false,\"turn\":4,\"reason\":\"interrupt\"}"),
          "and the agent is silent at once: %s", s_last(&b));
    CHECK(!strcmp(s_last(&a), s_last(&b)), "both streams heard it");
    s_llm_text(f, VOXMESH__ENVELOPE__PAYLOAD_TTS_SPOKEN, 4, 0, "Here is a long", T0 + 7100000);
    CHECK(!strcmp(s_last(&b), "{\"type\":\"spoken\",\"turn\":4,\"text\":\"Here is a long\"}"), "what was heard: %s",
          s_last(&b));

    /* Audio that is not a turn's (a greeting, an echo): speaking, no latency. */
    n = s_count(&b);
    feed_audio_out(f, SID, 0, T0 + 8000000, T0 + 8000000);
    CHECK(s_count(&b) == n + 1 && !strcmp(s_last(&b), "{\"type\":\"agent_speaking\",\"speaking\":true}"),
          "turn 0 audio: %s", s_last(&b));

    /* Streams go; the session's state goes with the last one. */
    feed_detach(f, SID, &a);
    n = s_count(&a);
    s_transcript(f, false, 5, "x", T0, T0);
    CHECK(s_count(&a) == n && feed_sessions(f) == 1, "a detached stream hears nothing more");
    s_queued = -1;                              /* the session is gone */
    feed_tick(f, T0 + 9000000);
    CHECK(b.closed && !a.closed, "a gone session's streams are closed");
    feed_detach(f, SID, &b);
    CHECK(feed_sessions(f) == 0, "no state after the last stream");
    feed_audio_out(f, SID, 6, T0, T0);
    feed_detach(f, SID, &b);
    feed_detach(f, NULL, &b);
    CHECK(feed_sessions(f) == 0, "events and detaches for unknown sessions are ignored");

    feed_destroy(&f);
    CHECK(f == NULL, "destroy clears the pointer");
    s_stream_clear(&a);
    s_stream_clear(&b);
    return TEST_DONE();
}
