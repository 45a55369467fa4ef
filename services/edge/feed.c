/* feed — see feed.h and docs/edge-http.md (the events) / docs/edge.md
 * (the latency definitions). */
#include "feed.h"

#include <errno.h>
#include <glib.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"

/* Turns remembered per session: a reply's events and the next utterance's
 * transcript interleave, so more than one turn is in flight at a time; four
 * is more than a conversation ever has open. */
#define S_TURNS 4

typedef struct {
    uint64_t id;                    /* 0: free slot */
    int64_t origin_us;              /* the caller's end of speech (envelope origin) */
    int64_t final_us;               /* stt.final reached the edge (wall clock) */
    int64_t sentence_us;            /* first llm.sentence reached the edge */
    int64_t audio_us;               /* first reply audio left the edge */
    bool reported;                  /* the latency event went out */
} s_turn_t;

typedef struct {
    char *id;
    GPtrArray *streams;
    s_turn_t turns[S_TURNS];
    unsigned next_slot;
    bool caller_speaking, agent_speaking;
    uint64_t agent_turn;            /* turn of the audio playing (0: none or not a turn's) */
    uint64_t last_turn;             /* highest turn seen */
    int64_t last_audio_us;
} s_conv_t;

struct feed {
    feed_ops_t ops;
    void *arg;
    GHashTable *convs;              /* session id -> s_conv_t */
};

static void s_conv_free(gpointer p)
{
    s_conv_t *c = p;
    g_ptr_array_free(c->streams, TRUE);
    free(c->id);
    free(c);
}

feed_t *feed_new(const feed_ops_t *ops, void *arg)
{
    feed_t *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->ops = *ops;
    f->arg = arg;
    f->convs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, s_conv_free);
    return f;
}

void feed_destroy(feed_t **p)
{
    if (!p || !*p) return;
    g_hash_table_destroy((*p)->convs);
    free(*p);
    *p = NULL;
}

size_t feed_sessions(const feed_t *f)
{
    return f ? g_hash_table_size(f->convs) : 0;
}

/* ---- sending --------------------------------------------------------------------- */

static void s_emit(feed_t *f, s_conv_t *c, json_buf_t *b, bool droppable)
{
    json_buf_raw(b, "}");
    if (!b->oom)
        for (guint i = 0; i < c->streams->len; i++)
            f->ops.send(g_ptr_array_index(c->streams, i), b->data, b->len, droppable);
    json_buf_free(b);
}

/* Starts {"type":"<type>" in b. */
static void s_begin(json_buf_t *b, const char *type)
{
    json_buf_init(b);
    json_buf_printf(b, "{\"type\":\"%s\"", type);
}

/* Milliseconds to 0.1 ms, never negative: two events that took different
 * paths across the bus can arrive in either order (docs/edge.md). */
static double s_ms(int64_t us)
{
    return us > 0 ? round((double)us / 100.0) / 10.0 : 0.0;
}

/* ,"key":ms — or null when either time is unknown. */
static void s_span(json_buf_t *b, const char *key, int64_t from_us, int64_t to_us)
{
    json_buf_printf(b, ",\"%s\":", key);
    if (from_us > 0 && to_us > 0) {
        double ms = s_ms(to_us - from_us);   /* 583.3, 10: plain decimals, for people too */
        json_buf_printf(b, ms == floor(ms) ? "%.0f" : "%.1f", ms);
    } else {
        json_buf_raw(b, "null");
    }
}

/* ,"lag_ms": how long after the envelope's origin the event reached the
 * edge (for a final transcript: the STT's share of the turn). */
static void s_lag(json_buf_t *b, const event_t *ev, int64_t now_us)
{
    if (ev->origin_ts_us > 0) s_span(b, "lag_ms", ev->origin_ts_us, now_us);
}

static void s_text(json_buf_t *b, const char *key, const char *text)
{
    json_buf_printf(b, ",\"%s\":", key);
    json_buf_str(b, text ? text : "");
}

/* ---- per-session state ----------------------------------------------------------- */

static s_turn_t *s_turn(s_conv_t *c, uint64_t id, int64_t origin_us)
{
    s_turn_t *t = NULL;
    for (int i = 0; i < S_TURNS; i++)
        if (c->turns[i].id == id) t = &c->turns[i];
    if (!t) {
        t = &c->turns[c->next_slot];
        c->next_slot = (c->next_slot + 1) % S_TURNS;
        memset(t, 0, sizeof *t);
        t->id = id;
    }
    if (!t->origin_us && origin_us > 0) t->origin_us = origin_us;
    if (id > c->last_turn) c->last_turn = id;
    return t;
}

static void s_agent_speaking(feed_t *f, s_conv_t *c, bool on, const char *why)
{
    json_buf_t b;
    c->agent_speaking = on;
    s_begin(&b, "agent_speaking");
    json_buf_printf(&b, ",\"speaking\":%s", on ? "true" : "false");
    if (c->agent_turn) json_buf_printf(&b, ",\"turn\":%" PRIu64, c->agent_turn);
    if (why) s_text(&b, "reason", why);
    s_emit(f, c, &b, false);
}

int feed_attach(feed_t *f, const char *session_id, void *stream)
{
    s_conv_t *c = g_hash_table_lookup(f->convs, session_id);
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c || !(c->id = strdup(session_id))) {
            free(c);
            return -ENOMEM;
        }
        c->streams = g_ptr_array_new();
        g_hash_table_insert(f->convs, c->id, c);
    }
    g_ptr_array_add(c->streams, stream);
    /* Only the new stream hears "ready": the others know already. */
    json_buf_t b;
    s_begin(&b, "ready");
    s_text(&b, "session", session_id);
    json_buf_printf(&b, ",\"caller_speaking\":%s,\"agent_speaking\":%s}", c->caller_speaking ? "true" : "false",
                    c->agent_speaking ? "true" : "false");
    if (!b.oom) f->ops.send(stream, b.data, b.len, false);
    json_buf_free(&b);
    return 0;
}

void feed_detach(feed_t *f, const char *session_id, void *stream)
{
    s_conv_t *c = session_id ? g_hash_table_lookup(f->convs, session_id) : NULL;
    if (!c) return;
    g_ptr_array_remove(c->streams, stream);
    if (!c->streams->len) g_hash_table_remove(f->convs, session_id);
}

/* ---- events ---------------------------------------------------------------------- */

static void s_transcript(feed_t *f, s_conv_t *c, const event_t *ev, const Voxmesh__Transcript *t, bool final,
                         int64_t now_us)
{
    if (!t) return;
    if (final) {
        s_turn_t *turn = s_turn(c, t->utterance_id, ev->origin_ts_us);
        if (!turn->final_us) turn->final_us = now_us;
    }
    json_buf_t b;
    s_begin(&b, final ? "final" : "partial");
    json_buf_printf(&b, ",\"utterance\":%" PRIu64, t->utterance_id);
    s_text(&b, "text", t->text);
    s_lag(&b, ev, now_us);
    s_emit(f, c, &b, !final);
}

static void s_reply_text(feed_t *f, s_conv_t *c, const event_t *ev, const Voxmesh__LlmText *t, bool sentence,
                         int64_t now_us)
{
    if (!t) return;
    json_buf_t b;
    if (sentence) {
        s_turn_t *turn = s_turn(c, t->turn_id, ev->origin_ts_us);
        if (!turn->sentence_us) turn->sentence_us = now_us;
    }
    s_begin(&b, sentence ? "reply_sentence" : "reply_delta");
    json_buf_printf(&b, ",\"turn\":%" PRIu64 ",\"index\":%" PRIu32, t->turn_id, t->index);
    s_text(&b, "text", t->text);
    if (sentence) s_lag(&b, ev, now_us);
    s_emit(f, c, &b, !sentence);
}

void feed_bus(feed_t *f, const char *session_id, const event_t *ev, int64_t now_us)
{
    s_conv_t *c = session_id ? g_hash_table_lookup(f->convs, session_id) : NULL;
    if (!c || !ev) return;
    json_buf_t b;
    switch (ev->payload_case) {
    case VOXMESH__ENVELOPE__PAYLOAD_STT_PARTIAL:
        s_transcript(f, c, ev, ev->stt_partial, false, now_us);
        break;
    case VOXMESH__ENVELOPE__PAYLOAD_STT_FINAL:
        s_transcript(f, c, ev, ev->stt_final, true, now_us);
        break;
    case VOXMESH__ENVELOPE__PAYLOAD_LLM_DELTA:
        s_reply_text(f, c, ev, ev->llm_delta, false, now_us);
        break;
    case VOXMESH__ENVELOPE__PAYLOAD_LLM_SENTENCE:
        s_reply_text(f, c, ev, ev->llm_sentence, true, now_us);
        break;
    case VOXMESH__ENVELOPE__PAYLOAD_LLM_DONE:
        if (!ev->llm_done) break;
        s_begin(&b, "reply_done");
        json_buf_printf(&b, ",\"turn\":%" PRIu64, ev->llm_done->turn_id);
        s_text(&b, "reason", ev->llm_done->reason);
        s_text(&b, "detail", ev->llm_done->detail);
        json_buf_printf(&b, ",\"sentences\":%" PRIu32, ev->llm_done->sentences);
        s_lag(&b, ev, now_us);
        s_emit(f, c, &b, false);
        break;
    case VOXMESH__ENVELOPE__PAYLOAD_VAD_SPEECH_START:
    case VOXMESH__ENVELOPE__PAYLOAD_VAD_SPEECH_END: {
        bool on = ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_VAD_SPEECH_START;
        if (on == c->caller_speaking) break;
        c->caller_speaking = on;
        s_begin(&b, "caller_speaking");
        json_buf_printf(&b, ",\"speaking\":%s", on ? "true" : "false");
        s_lag(&b, ev, now_us);
        s_emit(f, c, &b, false);
        break;
    }
    case VOXMESH__ENVELOPE__PAYLOAD_TURN_INTERRUPT: {
        /* The edge flushed the caller's audio at once (main.c): the agent
         * is silent from here on. */
        uint64_t cut = c->agent_speaking && c->agent_turn ? c->agent_turn : c->last_turn;
        s_begin(&b, "interrupt");
        if (cut) json_buf_printf(&b, ",\"turn\":%" PRIu64, cut);
        s_text(&b, "reason", ev->turn_interrupt ? ev->turn_interrupt->reason : "");
        s_lag(&b, ev, now_us);      /* (speech_onset_us is a stream position, not a time) */
        s_emit(f, c, &b, false);
        if (c->agent_speaking) s_agent_speaking(f, c, false, "interrupt");
        break;
    }
    case VOXMESH__ENVELOPE__PAYLOAD_TTS_SPOKEN:
        if (!ev->tts_spoken) break;
        s_begin(&b, "spoken");
        json_buf_printf(&b, ",\"turn\":%" PRIu64, ev->tts_spoken->turn_id);
        s_text(&b, "text", ev->tts_spoken->text);
        s_emit(f, c, &b, false);
        break;
    default:
        break;
    }
}

/* The turn's first audio left: voice-to-voice and its stages, each from the
 * previous mark, so that they add up (docs/edge.md). */
static void s_latency(feed_t *f, s_conv_t *c, const s_turn_t *t)
{
    json_buf_t b;
    s_begin(&b, "latency");
    json_buf_printf(&b, ",\"turn\":%" PRIu64, t->id);
    s_span(&b, "voice_to_voice_ms", t->origin_us, t->audio_us);
    s_span(&b, "stt_ms", t->origin_us, t->final_us);
    s_span(&b, "llm_first_sentence_ms", t->final_us, t->sentence_us);
    s_span(&b, "tts_first_audio_ms", t->sentence_us, t->audio_us);
    s_emit(f, c, &b, false);
}

void feed_audio_out(feed_t *f, const char *session_id, uint64_t turn_id, int64_t origin_ts_us, int64_t now_us)
{
    s_conv_t *c = session_id ? g_hash_table_lookup(f->convs, session_id) : NULL;
    if (!c) return;
    c->last_audio_us = now_us;
    if (!c->agent_speaking || c->agent_turn != turn_id) {
        c->agent_turn = turn_id;
        s_agent_speaking(f, c, true, NULL);
    }
    if (!turn_id) return;
    s_turn_t *t = s_turn(c, turn_id, origin_ts_us);
    if (!t->audio_us) t->audio_us = now_us;
    if (!t->reported && t->origin_us > 0) {
        t->reported = true;
        s_latency(f, c, t);
    }
}

void feed_tick(feed_t *f, int64_t now_us)
{
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, f->convs);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        s_conv_t *c = v;
        long queued = f->ops.queued_ms(f->arg, c->id);
        if (queued < 0) {
            /* The session ended without the HTTP side noticing (it normally
             * ends the streams itself): end them here. Detaching happens
             * when they are gone, not in this loop. */
            for (guint i = 0; i < c->streams->len; i++) f->ops.close(g_ptr_array_index(c->streams, i));
            continue;
        }
        if (c->agent_speaking && queued == 0 && now_us - c->last_audio_us >= FEED_AGENT_QUIET_US)
            s_agent_speaking(f, c, false, "done");
    }
}
