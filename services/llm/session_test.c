/* session_test — one session's turn logic against a fake provider that
 * the test drives by hand: deltas and sentences in order with the turn id,
 * session and origin; the remainder at the end; a barge-in cancels at once
 * and the history keeps what was published, then what tts.spoken says was
 * heard; a new transcript cuts the old reply; failures end with the
 * apology; tool messages join the conversation. */
#include "history.h"
#include "log.h"
#include "session.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

/* ---- a provider driven by the test ---------------------------------------------------------- */

struct reply {
    int id;
};

static struct {
    int started, cancelled;
    const reply_cb_t *cb;
    void *user;
    char transcript[256];
    struct reply r;
    bool fail_start;
} s_fake;

static reply_t *s_fake_start(provider_t *p, const char *transcript, const char *label, const reply_cb_t *cb, void *user)
{
    (void)p; (void)label;
    if (s_fake.fail_start) return NULL;
    s_fake.started++;
    s_fake.cb = cb;
    s_fake.user = user;
    snprintf(s_fake.transcript, sizeof s_fake.transcript, "%s", transcript);
    s_fake.r.id = s_fake.started;
    return &s_fake.r;
}

static void s_fake_cancel(reply_t *r)
{
    (void)r;
    s_fake.cancelled++;
    s_fake.cb = NULL;
}

static provider_t s_provider = { "fake", s_fake_start, s_fake_cancel, NULL };

static void s_text(const char *t) { s_fake.cb->on_text(s_fake.user, t, strlen(t)); }

static void s_done(const char *error)
{
    const reply_cb_t *cb = s_fake.cb;
    s_fake.cb = NULL;
    cb->on_done(s_fake.user, error);
}

/* ---- what the session publishes ----------------------------------------------------------------- */

typedef struct {
    char topic[32], session[32], text[512], reason[32], detail[128];
    uint64_t turn;
    uint32_t index, sentences;
    int64_t origin;
} s_event_t;

static s_event_t s_events[256];
static int s_nevents;

static void s_capture(void *arg, const char *topic, event_t *ev)
{
    (void)arg;
    if (s_nevents == 256) return;
    s_event_t *e = &s_events[s_nevents++];
    memset(e, 0, sizeof *e);
    snprintf(e->topic, sizeof e->topic, "%s", topic);
    snprintf(e->session, sizeof e->session, "%s", ev->session_id);
    e->origin = ev->origin_ts_us;
    const Voxmesh__LlmText *t = ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_LLM_DELTA ? ev->llm_delta
                              : ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_LLM_SENTENCE ? ev->llm_sentence : NULL;
    if (t) {
        snprintf(e->text, sizeof e->text, "%s", t->text);
        e->turn = t->turn_id;
        e->index = t->index;
    } else if (ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_LLM_DONE) {
        snprintf(e->reason, sizeof e->reason, "%s", ev->llm_done->reason);
        snprintf(e->detail, sizeof e->detail, "%s", ev->llm_done->detail);
        e->turn = ev->llm_done->turn_id;
        e->sentences = ev->llm_done->sentences;
    }
}

/* The sentences published since event `from`, joined with '|'. */
static const char *s_sentences(int from)
{
    static char out[2048];
    out[0] = 0;
    for (int i = from; i < s_nevents; i++)
        if (!strcmp(s_events[i].topic, TOPIC_LLM_SENTENCE)) {
            if (*out) strcat(out, "|");
            strncat(out, s_events[i].text, sizeof out - strlen(out) - 2);
        }
    return out;
}

static const s_event_t *s_last(const char *topic)
{
    for (int i = s_nevents - 1; i >= 0; i--)
        if (!strcmp(s_events[i].topic, topic)) return &s_events[i];
    return NULL;
}

static int s_count(const char *topic, int from)
{
    int n = 0;
    for (int i = from; i < s_nevents; i++) n += !strcmp(s_events[i].topic, topic);
    return n;
}

static void s_final(llm_session_t *s, uint64_t utterance, const char *text, int64_t origin)
{
    Voxmesh__Transcript t = VOXMESH__TRANSCRIPT__INIT;
    t.utterance_id = utterance;
    t.text = (char *)text;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = "s1";
    ev.origin_ts_us = origin;
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_STT_FINAL;
    ev.stt_final = &t;
    llm_session_final(s, &ev);
}

static void s_interrupt(llm_session_t *s)
{
    Voxmesh__TurnInterrupt ti = VOXMESH__TURN_INTERRUPT__INIT;
    ti.reason = "barge-in";
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = "s1";
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_TURN_INTERRUPT;
    ev.turn_interrupt = &ti;
    llm_session_interrupt(s, &ev);
}

static void s_spoken(llm_session_t *s, uint64_t turn, const char *text)
{
    Voxmesh__LlmText t = VOXMESH__LLM_TEXT__INIT;
    t.turn_id = turn;
    t.text = (char *)text;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = "s1";
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_TTS_SPOKEN;
    ev.tts_spoken = &t;
    llm_session_spoken(s, &ev);
}

/* The conversation as JSON, for assertions on what the model will see. */
static json_t *s_conversation(llm_session_t *s)
{
    json_buf_t b;
    json_buf_init(&b);
    json_buf_raw(&b, "[");
    llm_session_messages(s, &b);
    json_buf_raw(&b, "]");
    json_t *v = json_parse(b.data, b.len, NULL, 0);
    json_buf_free(&b);
    return v;
}

static const char *s_msg(json_t *conv, size_t i, const char *field)
{
    const char *v = json_str(json_get(json_index(conv, i), field));
    return v ? v : "(none)";
}

int main(void)
{
    log_init("session_test", LOG_LEVEL_ERROR, false);
    llm_t llm = { .provider = &s_provider, .history_turns = 10, .history_bytes = 10000, .publish = s_capture };
    llm_session_t *s = llm_session_new(&llm, "s1");
    CHECK(s != NULL, "a session");

    /* A complete turn. */
    s_final(s, 7, "Hello there!", 1234567);
    CHECK(s_fake.started == 1 && !strcmp(s_fake.transcript, "Hello there!") && llm_session_busy(s),
          "a final transcript starts a reply");
    s_text("Hello! Nice to");
    CHECK(s_count(TOPIC_LLM_DELTA, 0) == 1 && !strcmp(s_sentences(0), "Hello!"),
          "the first sentence is out as soon as it is complete");
    s_text(" meet you. I am 3.");
    s_text("5 years old");
    s_done(NULL);
    CHECK(!strcmp(s_sentences(0), "Hello!|Nice to meet you.|I am 3.5 years old"), "sentences in order, the rest at the end: %s",
          s_sentences(0));
    const s_event_t *d = s_last(TOPIC_LLM_DONE);
    CHECK(d && !strcmp(d->reason, "complete") && d->sentences == 3 && d->turn == 7, "llm.done complete, 3 sentences, turn 7");
    bool stamped = true;
    for (int i = 0; i < s_nevents; i++)
        if (strcmp(s_events[i].session, "s1") || s_events[i].origin != 1234567 || s_events[i].turn != 7) stamped = false;
    CHECK(stamped, "every event has the session, the turn and the stt.final's origin");
    bool indexed = true;
    for (int i = 0, k = 0; i < s_nevents; i++)
        if (!strcmp(s_events[i].topic, TOPIC_LLM_SENTENCE) && s_events[i].index != (uint32_t)k++) indexed = false;
    CHECK(indexed && !llm_session_busy(s), "sentence index 0, 1, 2; nothing in flight");
    json_t *conv = s_conversation(s);
    CHECK(json_len(conv) == 2 && !strcmp(s_msg(conv, 0, "content"), "Hello there!")
          && !strcmp(s_msg(conv, 1, "role"), "assistant") && !strcmp(s_msg(conv, 1, "content"), "Hello! Nice to meet you. I am 3.5 years old"),
          "the history: the question and the whole reply");
    json_destroy(&conv);

    /* A barge-in mid-reply, then what the caller heard. */
    int mark = s_nevents;
    s_final(s, 8, "Tell me a story.", 2000000);
    s_text("Once upon a time. There was a");
    s_interrupt(s);
    CHECK(s_fake.cancelled == 1 && !llm_session_busy(s), "the interrupt cancels the reply at once");
    d = s_last(TOPIC_LLM_DONE);
    CHECK(d && !strcmp(d->reason, "interrupted") && d->sentences == 1 && d->turn == 8, "llm.done interrupted after 1 sentence");
    conv = s_conversation(s);
    CHECK(json_len(conv) == 4 && !strcmp(s_msg(conv, 3, "content"), "Once upon a time.\xE2\x80\xA6"),
          "the history keeps the published sentence, marked cut: %s", s_msg(conv, 3, "content"));
    json_destroy(&conv);
    s_spoken(s, 8, "Once upon");
    conv = s_conversation(s);
    CHECK(json_len(conv) == 4 && !strcmp(s_msg(conv, 3, "content"), "Once upon\xE2\x80\xA6"),
          "tts.spoken replaces it with what was heard: %s", s_msg(conv, 3, "content"));
    json_destroy(&conv);
    s_spoken(s, 99, "unknown turn");
    CHECK(s_count(TOPIC_LLM_DONE, mark) == 1, "tts.spoken for an unknown turn changes nothing");
    s_interrupt(s);
    CHECK(s_count(TOPIC_LLM_DONE, mark) == 1, "an interrupt with nothing in flight publishes nothing");

    /* A new transcript while a reply streams. */
    mark = s_nevents;
    s_final(s, 9, "one", 3000000);
    s_text("Thinking about");
    s_final(s, 10, "two", 4000000);
    CHECK(s_fake.cancelled == 2 && s_fake.started == 4 && !strcmp(s_fake.transcript, "two"),
          "a new transcript cancels the reply in flight and starts another");
    d = NULL;
    for (int i = mark; i < s_nevents; i++)
        if (!strcmp(s_events[i].topic, TOPIC_LLM_DONE)) d = &s_events[i];
    CHECK(d && d->turn == 9 && !strcmp(d->reason, "interrupted"), "the old turn ends interrupted");
    s_final(s, 10, "two", 4000000);
    CHECK(s_fake.started == 4, "the same utterance again is ignored");
    s_final(s, 11, "  ... ", 4000000);
    CHECK(s_fake.started == 4 && llm_session_busy(s), "a transcript without words is ignored");

    /* A failure after one sentence. */
    mark = s_nevents;
    s_text("First part. Second");
    s_done("HTTP 500: boom");
    CHECK(!strcmp(s_sentences(mark), "First part.|Sorry, I could not reach my language model. Please try again."),
          "the apology follows what was said: %s", s_sentences(mark));
    d = s_last(TOPIC_LLM_DONE);
    CHECK(d && !strcmp(d->reason, "error") && !strcmp(d->detail, "HTTP 500: boom") && d->sentences == 2 && d->turn == 10,
          "llm.done error with the detail");

    /* A provider that cannot start. */
    mark = s_nevents;
    s_fake.fail_start = true;
    s_final(s, 12, "three", 5000000);
    s_fake.fail_start = false;
    CHECK(!strcmp(s_sentences(mark), LLM_APOLOGY) && !strcmp(s_last(TOPIC_LLM_DONE)->reason, "error") && !llm_session_busy(s),
          "a reply that cannot start: the apology and an error");

    /* Tool messages of a turn. */
    s_final(s, 13, "weather?", 6000000);
    s_fake.cb->on_message(s_fake.user, "assistant",
                          "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
                          "\"function\":{\"name\":\"w\",\"arguments\":\"{}\"}}]}");
    s_fake.cb->on_message(s_fake.user, "tool", "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"sunny\"}");
    json_buf_t b;
    json_buf_init(&b);
    s_fake.cb->messages(s_fake.user, &b);
    CHECK(strstr(b.data, "{\"role\":\"user\",\"content\":\"weather?\"},{\"role\":\"assistant\",\"content\":null,\"tool_calls\"")
          && strstr(b.data, "\"tool_call_id\":\"c1\""), "the provider sees its tool messages after the question");
    json_buf_free(&b);
    s_text("It is sunny.");
    s_done(NULL);
    conv = s_conversation(s);
    size_t n = json_len(conv);
    CHECK(n >= 3 && !strcmp(s_msg(conv, n - 1, "content"), "It is sunny.") && !strcmp(s_msg(conv, n - 2, "role"), "tool"),
          "the reply follows the tool result in the history");
    json_destroy(&conv);

    /* Destroyed with a reply in flight: cancelled, nothing published. */
    s_final(s, 14, "last", 7000000);
    mark = s_nevents;
    int cancelled = s_fake.cancelled;
    llm_session_destroy(&s);
    CHECK(s == NULL && s_fake.cancelled == cancelled + 1 && s_nevents == mark, "destroy cancels quietly");
    return TEST_DONE();
}
