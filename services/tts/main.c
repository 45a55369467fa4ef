/* voxmesh-tts — speaks the agent's replies: llm.sentence. events in, the
 * session's outbound audio (audio.out.pcm., turn_id set) out, sentence by
 * sentence and, within a sentence, chunk by chunk as the engine makes it.
 * A turn.interrupt. cuts the reply at once and publishes what the caller
 * heard of it (tts.spoken.). Engines: flite offline (default), or an
 * OpenAI-compatible or ElevenLabs streaming endpoint. docs/tts.md.
 *
 * Scaled out (docs/workers.md), every worker receives every session's
 * sentences and keeps those of the current turn not yet all published (the
 * shadow: tts.progress. says which are), but only the worker the dispatcher
 * assigned the session to speaks them (lease.h). A worker given a session
 * whose worker died speaks the rest of the turn from its shadow; audio is
 * tagged with its sentence and offset, so the codec drops what the dead
 * worker had already sent of the sentence it was in. */
#include "service.h"
#include "lease.h"
#include "queue.h"
#include "session_map.h"
#include "engine_flite.h"
#include "provider_http.h"
#include "log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* A sentence of the current turn, kept until some worker has published
 * all of its audio. */
typedef struct {
    uint32_t index;
    int64_t origin_us;
    char *text;
} s_line_t;

#define TTS_SHADOW_LINES 256

typedef struct {
    uint64_t turn, cut_turn;
    s_line_t lines[TTS_SHADOW_LINES];
    size_t n;
} s_shadow_t;

typedef struct {
    service_t *svc;
    lease_t *lease;
    session_map_t *shadows;
    long workers;
    metric_t *m_takeovers;
    tts_queue_t *queue;
    engine_flite_t *flite;
    provider_http_t *http;
    uint64_t errors_seen;
} s_tts_t;

/* ---- engine results -> queue ------------------------------------------------------------ */

static void s_engine_audio(void *owner, uint64_t job, const int16_t *samples, size_t frames)
{
    s_tts_t *t = owner;
    tts_queue_audio(t->queue, job, samples, frames, time_now_us());
}

static void s_engine_done(void *owner, uint64_t job, const char *error)
{
    s_tts_t *t = owner;
    tts_queue_done(t->queue, job, error, time_now_us());
}

static int s_on_flite(service_t *svc, int fd, short revents, void *arg)
{
    (void)svc; (void)fd; (void)revents;
    s_tts_t *t = arg;
    engine_flite_dispatch(t->flite);
    return 0;
}

/* ---- queue output -> bus ---------------------------------------------------------------- */

static void s_publish_audio(void *user, const tts_audio_t *a)
{
    s_tts_t *t = user;
    Voxmesh__PcmAudio p = VOXMESH__PCM_AUDIO__INIT;
    p.sample_rate = a->rate;
    p.channels = 1;
    p.format = VOXMESH__SAMPLE_FORMAT__SAMPLE_FORMAT_S16;
    p.samples.data = (uint8_t *)a->samples;      /* host order is little endian on our targets */
    p.samples.len = a->frames * sizeof(int16_t);
    p.stream_offset = a->offset;
    p.turn_id = a->turn;
    p.sentence = a->sentence;
    p.sentence_offset = a->sentence_offset;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = (char *)a->session;
    ev.origin_ts_us = a->origin_us;
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_PCM_AUDIO;
    ev.pcm_audio = &p;
    bus_publish(service_bus(t->svc), TOPIC_AUDIO_OUT_PCM, &ev);
}

static void s_publish_spoken(void *user, const char *session, uint64_t turn, int64_t origin_us, const char *text)
{
    s_tts_t *t = user;
    Voxmesh__LlmText s = VOXMESH__LLM_TEXT__INIT;
    s.turn_id = turn;
    s.text = (char *)text;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = (char *)session;
    ev.origin_ts_us = origin_us;
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_TTS_SPOKEN;
    ev.tts_spoken = &s;
    bus_publish(service_bus(t->svc), TOPIC_TTS_SPOKEN, &ev);
}

static void s_publish_progress(void *user, const char *session, uint64_t turn, uint32_t index, int64_t origin_us)
{
    s_tts_t *t = user;
    Voxmesh__LlmText s = VOXMESH__LLM_TEXT__INIT;
    s.turn_id = turn;
    s.index = index;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = (char *)session;
    ev.origin_ts_us = origin_us;
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_TTS_PROGRESS;
    ev.tts_progress = &s;
    bus_publish(service_bus(t->svc), TOPIC_TTS_PROGRESS, &ev);
}

/* ---- the shadow: every session's unfinished sentences, for a takeover ------------------- */

static void s_lines_clear(s_shadow_t *sh)
{
    for (size_t i = 0; i < sh->n; i++) free(sh->lines[i].text);
    sh->n = 0;
}

static void *s_shadow_make(const char *id, void *arg)
{
    (void)id; (void)arg;
    return calloc(1, sizeof(s_shadow_t));
}

static void s_shadow_free(void *state, const char *id, const char *why, void *arg)
{
    (void)id; (void)why; (void)arg;
    s_lines_clear(state);
    free(state);
}

static void s_shadow_sentence(s_tts_t *t, const char *session, uint64_t turn, uint32_t index, const char *text,
                              int64_t origin_us)
{
    s_shadow_t *sh = session_map_open(t->shadows, session);
    if (!sh || turn < sh->turn || turn <= sh->cut_turn) return;
    if (turn > sh->turn) {
        s_lines_clear(sh);
        sh->turn = turn;
    }
    if (sh->n == TTS_SHADOW_LINES || !text) return;
    char *copy = strdup(text);
    if (!copy) return;
    sh->lines[sh->n++] = (s_line_t){ index, origin_us, copy };
}

static int s_on_progress(service_t *svc, bus_msg_t *msg, void *arg)
{
    (void)svc;
    s_tts_t *t = arg;
    const event_t *ev = msg->ev;
    if (ev->payload_case != VOXMESH__ENVELOPE__PAYLOAD_TTS_PROGRESS || !ev->session_id) return 0;
    s_shadow_t *sh = session_map_get(t->shadows, ev->session_id);
    if (!sh || ev->tts_progress->turn_id != sh->turn) return 0;
    size_t keep = 0;
    for (size_t i = 0; i < sh->n; i++) {
        if (sh->lines[i].index <= ev->tts_progress->index) free(sh->lines[i].text);
        else sh->lines[keep++] = sh->lines[i];
    }
    sh->n = keep;
    return 0;
}

/* The session is this worker's now; if its worker died, the rest of the
 * current turn is spoken here. */
static void s_on_gain(void *arg, const char *session)
{
    s_tts_t *t = arg;
    s_shadow_t *sh = session_map_get(t->shadows, session);
    if (!sh || !sh->n || sh->turn <= sh->cut_turn) return;
    metric_add(t->m_takeovers, 1);
    log_info("session %s: turn %" PRIu64 " taken over: %zu sentences from sentence %u on are spoken here", session,
             sh->turn, sh->n, sh->lines[0].index);
    int64_t now = time_now_us();
    for (size_t i = 0; i < sh->n; i++)
        tts_queue_sentence(t->queue, session, sh->turn, sh->lines[i].index, sh->lines[i].text, sh->lines[i].origin_us,
                           now);
}

/* The session moved to another worker: everything of it here is dropped. */
static void s_on_loss(void *arg, const char *session)
{
    s_tts_t *t = arg;
    tts_queue_end(t->queue, session);
}

static void s_load(void *arg, unsigned *busy, unsigned *capacity)
{
    s_tts_t *t = arg;
    *busy = t->queue ? (unsigned)tts_queue_active(t->queue) : 0;
    *capacity = (unsigned)t->workers;
}

/* ---- bus events ------------------------------------------------------------------------- */

static int s_on_sentence(service_t *svc, bus_msg_t *msg, void *arg)
{
    (void)svc;
    s_tts_t *t = arg;
    event_t *ev = msg->ev;
    if (ev->payload_case != VOXMESH__ENVELOPE__PAYLOAD_LLM_SENTENCE) return 0;
    Voxmesh__LlmText *s = ev->llm_sentence;
    if (!ev->session_id || !*ev->session_id) return 0;
    s_shadow_sentence(t, ev->session_id, s->turn_id, s->index, s->text, ev->origin_ts_us);
    if (!lease_mine(t->lease, ev->session_id)) return 0;
    tts_queue_sentence(t->queue, ev->session_id, s->turn_id, s->index, s->text, ev->origin_ts_us, time_now_us());
    return 0;
}

static int s_on_interrupt(service_t *svc, bus_msg_t *msg, void *arg)
{
    (void)svc;
    s_tts_t *t = arg;
    if (msg->ev->payload_case != VOXMESH__ENVELOPE__PAYLOAD_TURN_INTERRUPT || !msg->ev->session_id) return 0;
    s_shadow_t *sh = session_map_get(t->shadows, msg->ev->session_id);
    if (sh) {
        sh->cut_turn = sh->turn;
        s_lines_clear(sh);
    }
    if (!lease_mine(t->lease, msg->ev->session_id)) return 0;
    tts_queue_interrupt(t->queue, msg->ev->session_id, msg->ev->origin_ts_us, time_now_us());
    return 0;
}

static int s_on_session(service_t *svc, bus_msg_t *msg, void *arg)
{
    (void)svc;
    s_tts_t *t = arg;
    if (msg->ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_SESSION_ENDED && msg->ev->session_id) {
        tts_queue_end(t->queue, msg->ev->session_id);
        session_map_end(t->shadows, msg->ev->session_id, "ended");
        lease_end(t->lease, msg->ev->session_id);
    }
    return 0;
}

/* Idle sessions, and synthesis failures made visible: a health event says
 * "degraded" right after a second in which jobs failed. */
static int s_tick(service_t *svc, void *arg)
{
    s_tts_t *t = arg;
    tts_queue_reap(t->queue);
    session_map_reap(t->shadows);
    tts_queue_stats_t st = tts_queue_stats(t->queue);
    if (st.errors > t->errors_seen) {
        char detail[128];
        snprintf(detail, sizeof detail, "%llu synthesis jobs failed (see the log)",
                 (unsigned long long)(st.errors - t->errors_seen));
        service_publish_health(svc, "degraded", detail);
        t->errors_seen = st.errors;
    }
    return 0;
}

/* ---- setup ------------------------------------------------------------------------------ */

static const service_option_t s_options[] = {
    { "provider", "flite", "flite (offline), openai or elevenlabs" },
    { "voice", NULL, "flite: slt, kal, kal16, awb, rms (default slt); openai: a voice name (default alloy); "
                     "elevenlabs: a voice id" },
    { "workers", "2", "flite: synthesis threads (jobs at once)" },
    { "chunk-ms", "100", "audio is published in chunks of at most this length" },
    { "base-url", NULL, "openai: default https://api.openai.com/v1 (POST {base-url}/audio/speech); "
                        "elevenlabs: default https://api.elevenlabs.io" },
    { "model", NULL, "openai: default gpt-4o-mini-tts; elevenlabs: default eleven_flash_v2_5" },
    { "api-key-env", NULL, "environment variable holding the API key (default OPENAI_API_KEY / ELEVENLABS_API_KEY)" },
    { "first-byte-ms", "5000", "providers: deadline for the response to start" },
    { "total-ms", "60000", "providers: deadline for one request (one piece of text)" },
    { "max-requests", "64", "providers: requests in flight at once" },
    { "max-audio-s", "120", "providers: audio one request may bring (an endless stream is cut)" },
    { "max-sessions", "1000", "sessions held at once" },
    { "idle-timeout-ms", "120000", "free a session's state after this long without events" },
    { "max-pending", "256", "sentence pieces waiting per session" },
    { "max-piece-chars", "200", "a longer sentence is synthesised in pieces (clause or word boundaries)" },
    { "max-sentence-chars", "2000", "a longer sentence is cut short" },
    { "trim-lead-ms", "400", "drop up to this much leading silence from a reply's first audio (0: none)" },
    { NULL, NULL, NULL }
};

static int s_queue_config(service_t *svc, tts_queue_config_t *q)
{
    long sessions, idle, pending, piece, sentence, trim;
    if (service_opt_int(svc, "max-sessions", 1, 100000, &sessions) < 0
        || service_opt_int(svc, "idle-timeout-ms", 1000, 86400000, &idle) < 0
        || service_opt_int(svc, "max-pending", 1, 100000, &pending) < 0
        || service_opt_int(svc, "max-piece-chars", 20, 100000, &piece) < 0
        || service_opt_int(svc, "max-sentence-chars", 1, 1000000, &sentence) < 0
        || service_opt_int(svc, "trim-lead-ms", 0, 5000, &trim) < 0)
        return -1;
    tts_queue_config_defaults(q);
    q->max_sessions = (size_t)sessions;
    q->idle_us = (int64_t)idle * 1000;
    q->max_pending = (size_t)pending;
    q->max_piece_chars = (size_t)piece;
    q->max_sentence_chars = (size_t)sentence;
    q->trim_lead_us = (int64_t)trim * 1000;
    return 0;
}

/* The engine the options ask for. */
static int s_engine(s_tts_t *t, tts_engine_t *engine)
{
    service_t *svc = t->svc;
    const char *provider = service_opt(svc, "provider");
    tts_engine_sink_t sink = { s_engine_audio, s_engine_done, t };
    char err[256];
    if (!strcmp(provider, "flite")) {
        long workers, chunk_ms;
        if (service_opt_int(svc, "workers", 1, 64, &workers) < 0
            || service_opt_int(svc, "chunk-ms", 10, 2000, &chunk_ms) < 0)
            return -1;
        engine_flite_config_t fc = { service_opt(svc, "voice"), (size_t)workers, (uint32_t)chunk_ms };
        t->flite = engine_flite_new(&fc, &sink, err, sizeof err);
        if (!t->flite) {
            log_error("%s", err);
            return -1;
        }
        if (service_watch_fd(svc, engine_flite_fd(t->flite), ZMQ_POLLIN, s_on_flite, t) < 0) {
            log_error("flite: cannot watch the result pipe");
            return -1;
        }
        *engine = engine_flite_engine(t->flite);
        t->workers = workers;
        log_info("flite voice %s at %u Hz, %ld workers", fc.voice ? fc.voice : "slt", engine->rate, workers);
        return 0;
    }
    if (!strcmp(provider, "openai") || !strcmp(provider, "elevenlabs")) {
        long first_byte, total, requests, chunk_ms, max_audio;
        if (service_opt_int(svc, "first-byte-ms", 100, 600000, &first_byte) < 0
            || service_opt_int(svc, "total-ms", 100, 3600000, &total) < 0
            || service_opt_int(svc, "max-requests", 1, 1024, &requests) < 0
            || service_opt_int(svc, "chunk-ms", 10, 2000, &chunk_ms) < 0
            || service_opt_int(svc, "max-audio-s", 1, 3600, &max_audio) < 0)
            return -1;
        const char *env = service_opt(svc, "api-key-env");
        if (!env) env = !strcmp(provider, "openai") ? "OPENAI_API_KEY" : "ELEVENLABS_API_KEY";
        const char *key = getenv(env);
        if (!key || !*key) log_warn("%s: no API key in $%s", provider, env);
        provider_http_config_t pc = {
            .provider = provider, .base_url = service_opt(svc, "base-url"), .model = service_opt(svc, "model"),
            .voice = service_opt(svc, "voice"), .api_key = key, .first_byte_ms = (int)first_byte,
            .total_ms = (int)total, .max_requests = (size_t)requests, .chunk_ms = (uint32_t)chunk_ms,
            .max_audio_s = (uint32_t)max_audio,
        };
        t->http = provider_http_new(svc, &pc, &sink, err, sizeof err);
        if (!t->http) {
            log_error("%s", err);
            return -1;
        }
        *engine = provider_http_engine(t->http);
        t->workers = requests;
        log_info("%s at %u Hz, %ld requests at once", provider, engine->rate, requests);
        return 0;
    }
    log_error("--provider: unknown provider \"%s\" (flite, openai, elevenlabs)", provider);
    return -1;
}

int main(int argc, char **argv)
{
    service_t *svc = service_new("tts", "Speaks the agent's sentences (flite, OpenAI, ElevenLabs); cut at barge-in.",
                                 s_options, argc, argv);
    if (!svc) return 2;
    s_tts_t t = { .svc = svc };
    service_publishes(svc, TOPIC_AUDIO_OUT_PCM);
    service_publishes(svc, TOPIC_TTS_SPOKEN);
    service_publishes(svc, TOPIC_TTS_PROGRESS);
    service_on_optional(svc, TOPIC_TTS_PROGRESS, s_on_progress, &t);
    lease_config_t lc = { "tts", s_on_gain, s_on_loss, &t, s_load };
    if (!(t.lease = lease_new(svc, &lc))) {
        service_destroy(&svc);
        return 1;
    }
    service_on(svc, TOPIC_LLM_SENTENCE, s_on_sentence, &t);
    service_on(svc, TOPIC_TURN_INTERRUPT, s_on_interrupt, &t);
    service_on(svc, TOPIC_SESSION, s_on_session, &t);
    service_every(svc, 1000, s_tick, &t);
    int rc = service_start(svc);
    tts_queue_config_t qc;
    tts_engine_t engine;
    if (rc == 0 && (s_queue_config(svc, &qc) < 0 || s_engine(&t, &engine) < 0)) rc = -1;
    if (rc == 0) {
        tts_output_t out = { s_publish_audio, s_publish_spoken, s_publish_progress, &t };
        t.queue = tts_queue_new(&qc, &engine, &out, service_metrics(svc));
        t.shadows = session_map_new(qc.max_sessions, qc.idle_us, s_shadow_make, s_shadow_free, &t);
        t.m_takeovers = metrics_counter(service_metrics(svc), "voxmesh_tts_takeovers_total", NULL,
                                        "Turns spoken here after their worker died");
        if (!t.queue || !t.shadows) {
            log_error("out of memory");
            rc = -1;
        }
    }
    if (rc == 0) rc = service_run(svc);
    tts_queue_destroy(&t.queue);       /* cancels jobs: before the engines go */
    session_map_destroy(&t.shadows);
    lease_destroy(&t.lease);
    if (t.flite) service_unwatch_fd(svc, engine_flite_fd(t.flite));
    engine_flite_destroy(&t.flite);
    provider_http_destroy(&t.http);
    service_destroy(&svc);
    return rc < 0 ? 1 : rc == 1 ? 0 : rc;
}
