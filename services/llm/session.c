/* session — see session.h. */
#include "session.h"
#include "history.h"
#include "log.h"
#include "sentences.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct llm_session {
    llm_t *llm;
    char *id;
    history_t *history;
    sentences_t *splitter;
    uint64_t last_turn;            /* the newest turn started (duplicates are ignored) */
    bool started;
    /* The reply in flight. */
    reply_t *reply;
    uint64_t turn;
    int64_t origin_ts_us;          /* carried over from the stt.final */
    int64_t recv_us;               /* monotonic, when the stt.final arrived */
    uint32_t sentences;
    bool got_text;
    json_buf_t spoken;             /* the sentences published, joined */
};

/* ---- publishing ------------------------------------------------------------------------------ */

static void s_publish(llm_session_t *s, const char *topic, event_t *ev)
{
    ev->session_id = s->id;
    ev->origin_ts_us = s->origin_ts_us;
    llm_t *llm = s->llm;
    if (llm->publish) llm->publish(llm->publish_arg, topic, ev);
    else if (bus_publish(service_bus(llm->svc), topic, ev) < 0)
        log_session_warn(s->id, "%s dropped at the high-water mark", topic);
}

static void s_publish_text(llm_session_t *s, const char *topic, const char *text, size_t len, uint32_t index)
{
    char *t = strndup(text, len);
    if (!t) return;
    Voxmesh__LlmText p = VOXMESH__LLM_TEXT__INIT;
    p.turn_id = s->turn;
    p.text = t;
    p.index = index;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    if (!strcmp(topic, TOPIC_LLM_DELTA)) {
        ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_LLM_DELTA;
        ev.llm_delta = &p;
    } else {
        ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_LLM_SENTENCE;
        ev.llm_sentence = &p;
    }
    s_publish(s, topic, &ev);
    free(t);
}

static void s_publish_done(llm_session_t *s, const char *reason, const char *detail)
{
    Voxmesh__LlmDone d = VOXMESH__LLM_DONE__INIT;
    d.turn_id = s->turn;
    d.reason = (char *)reason;
    d.detail = (char *)(detail ? detail : "");
    d.sentences = s->sentences;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_LLM_DONE;
    ev.llm_done = &d;
    s_publish(s, TOPIC_LLM_DONE, &ev);
}

/* ---- the reply's callbacks ----------------------------------------------------------------------- */

static void s_on_sentence(const char *text, size_t len, void *user)
{
    llm_session_t *s = user;
    if (s->sentences == 0) {
        metric_observe(s->llm->m_first_sentence, (time_mono_us() - s->recv_us) / 1e6);
        if (s->origin_ts_us > 0) metric_observe(s->llm->m_first_sentence_origin, (time_now_us() - s->origin_ts_us) / 1e6);
    }
    s_publish_text(s, TOPIC_LLM_SENTENCE, text, len, s->sentences++);
    if (s->spoken.len) json_buf_raw(&s->spoken, " ");
    json_buf_printf(&s->spoken, "%.*s", (int)len, text);
}

static void s_on_text(void *user, const char *text, size_t len)
{
    llm_session_t *s = user;
    if (!s->got_text) {
        s->got_text = true;
        metric_observe(s->llm->m_first_token, (time_mono_us() - s->recv_us) / 1e6);
    }
    s_publish_text(s, TOPIC_LLM_DELTA, text, len, 0);
    if (sentences_push(s->splitter, text, len, s_on_sentence, s) < 0)
        log_session_warn(s->id, "turn %" PRIu64 ": out of memory, text dropped", s->turn);
}

static void s_messages(void *user, json_buf_t *out)
{
    history_write(((llm_session_t *)user)->history, out);
}

static void s_on_message(void *user, const char *role, const char *message_json)
{
    llm_session_t *s = user;
    if (!strcmp(role, "tool")) metric_add(s->llm->m_tool_calls, 1);
    history_add_json(s->history, s->turn, role, message_json);
}

static void s_on_retry(void *user, const char *why)
{
    (void)why;   /* logged by the provider */
    metric_add(((llm_session_t *)user)->llm->m_retries, 1);
}

static void s_end_turn(llm_session_t *s)
{
    s->reply = NULL;
    sentences_reset(s->splitter);
    s->spoken.len = 0;
    if (s->spoken.data) s->spoken.data[0] = 0;
}

static void s_on_done(void *user, const char *error)
{
    llm_session_t *s = user;
    s->reply = NULL;   /* freed by the provider after this returns */
    if (error) {
        metric_add(s->llm->m_errors, 1);
        log_session_warn(s->id, "turn %" PRIu64 ": the provider failed: %s", s->turn, error);
        /* The history keeps what was said before the failure, not the apology. */
        if (s->sentences) history_set_reply(s->history, s->turn, s->spoken.data, true);
        sentences_reset(s->splitter);
        s_publish_text(s, TOPIC_LLM_SENTENCE, LLM_APOLOGY, strlen(LLM_APOLOGY), s->sentences++);
        s_publish_done(s, "error", error);
    } else {
        sentences_flush(s->splitter, s_on_sentence, s);
        history_set_reply(s->history, s->turn, s->spoken.data, false);
        s_publish_done(s, "complete", NULL);
        log_debug("session %s: turn %" PRIu64 ": %u sentences", s->id, s->turn, s->sentences);
    }
    s_end_turn(s);
}

static const reply_cb_t s_reply_cb = { s_on_text, s_messages, s_on_message, s_on_retry, s_on_done };

/* ---- events ---------------------------------------------------------------------------------------- */

/* Cuts the reply in flight: nothing more from the provider, the history
 * keeps what was published. */
static void s_interrupt(llm_session_t *s, const char *why)
{
    if (!s->reply) return;
    s->llm->provider->cancel(s->reply);
    s->reply = NULL;
    metric_add(s->llm->m_interrupts, 1);
    history_set_reply(s->history, s->turn, s->spoken.data, true);
    s_publish_done(s, "interrupted", why);
    log_session_info(s->id, "turn %" PRIu64 " interrupted (%s) after %u sentences", s->turn, why, s->sentences);
    s_end_turn(s);
}

static bool s_has_words(const char *t)
{
    for (; t && *t; t++)
        if (isalnum((unsigned char)*t) || (unsigned char)*t >= 0x80) return true;
    return false;
}

void llm_session_final(llm_session_t *s, const event_t *ev)
{
    const Voxmesh__Transcript *t = ev->stt_final;
    if (!t || !s_has_words(t->text)) {
        log_debug("session %s: empty transcript ignored", s->id);
        return;
    }
    if (s->started && (t->utterance_id == s->last_turn)) {
        log_debug("session %s: utterance %" PRIu64 " again: ignored", s->id, t->utterance_id);
        return;
    }
    s_interrupt(s, "the caller spoke again");
    s->started = true;
    s->last_turn = t->utterance_id;
    s->turn = t->utterance_id;
    s->origin_ts_us = ev->origin_ts_us;
    s->recv_us = time_mono_us();
    s->sentences = 0;
    s->got_text = false;
    history_add(s->history, s->turn, "user", t->text);
    metric_add(s->llm->m_turns, 1);
    s->reply = s->llm->provider->start(s->llm->provider, t->text, s->id, &s_reply_cb, s);
    if (!s->reply) s_on_done(s, "the request could not be started");
}

void llm_session_interrupt(llm_session_t *s, const event_t *ev)
{
    (void)ev;
    if (s->reply) s_interrupt(s, "barge-in");
    else log_debug("session %s: interrupt with no reply in flight", s->id);
}

void llm_session_spoken(llm_session_t *s, const event_t *ev)
{
    const Voxmesh__LlmText *t = ev->tts_spoken;
    if (!t) return;
    if (s->reply && t->turn_id == s->turn) s_interrupt(s, "barge-in");
    if (!history_has_turn(s->history, t->turn_id)) return;
    history_set_reply(s->history, t->turn_id, t->text ? t->text : "", true);
    log_debug("session %s: turn %" PRIu64 ": the caller heard %zu bytes", s->id, t->turn_id, strlen(t->text ? t->text : ""));
}

/* ---- life ------------------------------------------------------------------------------------------ */

llm_session_t *llm_session_new(llm_t *llm, const char *id)
{
    llm_session_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->llm = llm;
    s->id = strdup(id);
    s->history = history_new(llm->history_turns, llm->history_bytes);
    s->splitter = sentences_new(0);
    json_buf_init(&s->spoken);
    if (!s->id || !s->history || !s->splitter || s->spoken.oom) llm_session_destroy(&s);
    return s;
}

void llm_session_destroy(llm_session_t **self_p)
{
    if (!self_p || !*self_p) return;
    llm_session_t *s = *self_p;
    if (s->reply) s->llm->provider->cancel(s->reply);
    history_destroy(&s->history);
    sentences_destroy(&s->splitter);
    json_buf_free(&s->spoken);
    free(s->id);
    free(s);
    *self_p = NULL;
}

void llm_session_messages(llm_session_t *s, json_buf_t *out)
{
    history_write(s->history, out);
}

bool llm_session_busy(const llm_session_t *s)
{
    return s->reply != NULL;
}
