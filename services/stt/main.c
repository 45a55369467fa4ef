/* voxmesh-stt — speech to text: the caller's utterances (speech.segment.,
 * growing while they speak) become partial transcripts as they grow and a
 * final one at their end (stt.partial., stt.final.).
 *
 * The recogniser is an engine (engine.h): PocketSphinx, offline and
 * streaming (engine_ps.h: each segment is decoded as it arrives, so the
 * final costs only the last piece's decoding; with --lm-text the daemon
 * builds a domain language model from example sentences at start), or a
 * cloud provider (engine_http.h: the utterance is sent whole at its end).
 * This file holds what does not depend on the engine: per-session state,
 * utterances waiting for a decoder, the order of finals, metrics.
 *
 * The final transcript's origin is the caller's end of speech (from the
 * VAD), so every later stage measures its latency from there.
 *
 * Scaled out (docs/workers.md), every worker receives every session's
 * segments and keeps the current utterance of each (the shadow), but only
 * the worker the dispatcher assigned the session to decodes it (lease.h).
 * A worker that is given a session whose worker died redoes the utterance
 * in flight from its shadow; the shadow is dropped once some worker's final
 * for it is seen. */
#include "service.h"
#include "lease.h"
#include "session_map.h"
#include "log.h"
#include "engine.h"
#include "engine_http.h"
#include "engine_ps.h"
#include "http_client.h"
#include "lm_build.h"
#include "pcm.h"
#include "wav.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STT_MODEL_DIR "/usr/share/pocketsphinx/model/en-us"
/* Utterances of one session whose finals are on their way (a slow
 * provider); at more, the oldest is given up. */
#define STT_TURNS_MAX 4

typedef struct s_stt s_stt_t;
typedef struct s_entry s_entry_t;

/* A finished utterance waiting for its result. A session keeps them in
 * utterance order and publishes finals in that order: a provider may
 * answer the second utterance before the first, and the LLM takes each new
 * final as the caller's latest words. */
typedef struct s_turn {
    struct s_turn *next;
    s_entry_t *e;
    uint64_t utterance;
    stt_utt_t *utt;                /* the engine's, until its result */
    bool resolved;
    char *text;                    /* NULL: failed or nothing recognised */
    float confidence;
    int64_t origin_ts_us;          /* of the final segment */
    int64_t speech_end_ts_us;      /* from the final segment */
    int64_t final_rx_us;           /* monotonic: when the final segment arrived */
    size_t fed;                    /* samples */
} s_turn_t;

struct s_entry {
    s_stt_t *stt;
    char *id;
    void *caller;                  /* the engine's per-caller state, kept between utterances */
    uint64_t utterance;            /* the one being fed or waiting (0: none) */
    stt_utt_t *utt;                /* its engine utterance, once it has one */
    int16_t *waiting;              /* its audio while the engine has no room */
    size_t nwaiting, capwaiting;
    bool final_seen;               /* its last segment came while waiting */
    int64_t waiting_since_us;      /* monotonic, while waiting for a decoder */
    int64_t origin_ts_us;          /* of the latest segment */
    int64_t speech_end_ts_us;      /* from the final segment */
    int64_t final_rx_us;           /* monotonic: when the final segment arrived */
    size_t since_partial;          /* samples fed since the last partial */
    size_t fed;                    /* samples of the utterance fed */
    char partial[STT_TEXT_MAX];
    s_turn_t *turns;               /* finished, oldest first */
    size_t nturns;
    /* The shadow: the current utterance as received, whoever decodes it. */
    int16_t *shadow;
    size_t nshadow, capshadow;
    uint64_t shadow_utt;           /* 0: none */
    bool shadow_final;             /* its last segment is in */
    bool shadow_done;              /* a final for it was seen on the bus */
    int64_t shadow_final_us;       /* monotonic: when its last segment came */
    int64_t shadow_origin_us, shadow_speech_end_us;
};

struct s_stt {
    service_t *svc;
    stt_engine_t engine;
    bool have_engine;
    session_map_t *sessions;
    long partial_ms, max_utt_s;
    char lm_path[256];             /* a built domain model, removed at exit */
    log_ratelimit_t rl;
    lease_t *lease;                /* which sessions are this worker's (all, without a dispatcher) */
    long decoders;                 /* the engine's capacity, for the heartbeat */
    double errors_seen;            /* for the health tick */
    metric_t *m_finals, *m_partials, *m_rejected, *m_waits, *m_final_latency, *m_decode_after_end, *m_busy;
    metric_t *m_errors, *m_takeovers, *m_redone;
};

static void s_busy(s_stt_t *s)
{
    metric_set(s->m_busy, s->engine.busy(s->engine.impl));
}

static void s_publish(s_entry_t *e, uint64_t utterance, const char *text, float confidence, int64_t origin_us,
                      bool final)
{
    Voxmesh__Transcript t = VOXMESH__TRANSCRIPT__INIT;
    t.utterance_id = utterance;
    t.text = (char *)text;
    t.confidence = confidence;
    t.worker = (char *)service_name(e->stt->svc);
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = e->id;
    ev.origin_ts_us = origin_us;
    if (final) {
        ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_STT_FINAL;
        ev.stt_final = &t;
    } else {
        ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_STT_PARTIAL;
        ev.stt_partial = &t;
    }
    bus_publish(service_bus(e->stt->svc), final ? TOPIC_STT_FINAL : TOPIC_STT_PARTIAL, &ev);
}

/* Forgets the utterance being fed (or waiting); finished ones stay. */
static void s_reset(s_entry_t *e)
{
    if (e->utt) e->stt->engine.cancel(e->utt);
    e->utt = NULL;
    e->utterance = 0;
    e->nwaiting = 0;
    e->final_seen = false;
    e->since_partial = e->fed = 0;
    e->partial[0] = 0;
    e->speech_end_ts_us = 0;
}

/* ---- finals, in utterance order ------------------------------------------------------ */

static void s_turn_free(s_turn_t *t)
{
    if (t->utt) t->e->stt->engine.cancel(t->utt);
    free(t->text);
    free(t);
}

/* Publishes the results at the head of the list, as long as they are in. */
static void s_flush(s_entry_t *e)
{
    s_stt_t *s = e->stt;
    while (e->turns && e->turns->resolved) {
        s_turn_t *t = e->turns;
        e->turns = t->next;
        e->nturns--;
        if (t->text && !lease_mine(s->lease, e->id)) {
            log_debug("session %s: utterance %llu: not published: the session moved to another worker", e->id,
                      (unsigned long long)t->utterance);
        } else if (t->text) {
            int64_t origin = t->speech_end_ts_us > 0 ? t->speech_end_ts_us : t->origin_ts_us;
            s_publish(e, t->utterance, t->text, t->confidence, origin, true);
            metric_add(s->m_finals, 1);
            if (t->speech_end_ts_us > 0) metric_observe(s->m_final_latency, (time_now_us() - t->speech_end_ts_us) / 1e6);
            if (t->confidence > 0)
                log_info("session %s: utterance %llu: \"%s\" (%.1f s of audio, confidence %.2f)", e->id,
                         (unsigned long long)t->utterance, t->text, t->fed / 16000.0, t->confidence);
            else
                log_info("session %s: utterance %llu: \"%s\" (%.1f s of audio)", e->id,
                         (unsigned long long)t->utterance, t->text, t->fed / 16000.0);
        }
        s_turn_free(t);
    }
}

/* The engine's result for a finished utterance (now or later). */
static void s_on_result(void *arg, const char *text, float confidence, const char *error)
{
    s_turn_t *t = arg;
    s_entry_t *e = t->e;
    s_stt_t *s = e->stt;
    t->utt = NULL;                 /* the engine is done with it */
    t->resolved = true;
    if (error) {
        /* No final: the caller gets no answer to this utterance (docs/stt.md). */
        metric_add(s->m_errors, 1);
        log_warn("session %s: utterance %llu: %s transcription failed: %s (%.1f s of audio)", e->id,
                 (unsigned long long)t->utterance, s->engine.name, error, t->fed / 16000.0);
    } else {
        metric_observe(s->m_decode_after_end, (time_mono_us() - t->final_rx_us) / 1e6);
        if (!*text) log_debug("session %s: utterance %llu: nothing recognised", e->id, (unsigned long long)t->utterance);
        else if (!(t->text = strdup(text))) log_warn("session %s: out of memory for a transcript", e->id);
        t->confidence = confidence;
        if (t != e->turns && t->text)
            log_debug("session %s: utterance %llu: held until the utterance before it is answered", e->id,
                      (unsigned long long)t->utterance);
    }
    s_flush(e);
    s_busy(s);
}

static void s_serve_waiting(s_stt_t *s);

/* The utterance is over: its result is asked for, its decoder given back. */
static void s_finish(s_entry_t *e)
{
    s_stt_t *s = e->stt;
    if (e->nturns >= STT_TURNS_MAX) {
        s_turn_t *old = e->turns;   /* unresolved: resolved ones at the head are flushed at once */
        e->turns = old->next;
        e->nturns--;
        metric_add(s->m_errors, 1);
        log_warn("session %s: utterance %llu: given up: %d later utterances are waiting for %s", e->id,
                 (unsigned long long)old->utterance, STT_TURNS_MAX, s->engine.name);
        s_turn_free(old);
        s_flush(e);
    }
    s_turn_t *t = calloc(1, sizeof *t);
    if (!t) {
        log_warn("session %s: utterance %llu: out of memory: dropped", e->id, (unsigned long long)e->utterance);
        s_reset(e);
        s_busy(s);
        s_serve_waiting(s);
        return;
    }
    t->e = e;
    t->utterance = e->utterance;
    t->origin_ts_us = e->origin_ts_us;
    t->speech_end_ts_us = e->speech_end_ts_us;
    t->final_rx_us = e->final_rx_us;
    t->fed = e->fed;
    t->utt = e->utt;
    s_turn_t **tail = &e->turns;
    while (*tail) tail = &(*tail)->next;
    *tail = t;
    e->nturns++;
    e->utt = NULL;                 /* the turn has it now */
    s_reset(e);
    s->engine.finish(t->utt, s_on_result, t);   /* t may be gone when it returns */
    s_busy(s);
    s_serve_waiting(s);
}

/* Feeds samples to the utterance's engine; a partial now and then. */
static void s_feed(s_entry_t *e, const int16_t *x, size_t n)
{
    s_stt_t *s = e->stt;
    if (s->engine.feed(e->utt, x, n) < 0) return;
    e->fed += n;
    e->since_partial += n;
    if (!s->engine.partial || e->since_partial < (size_t)s->partial_ms * 16) return;
    e->since_partial = 0;
    const char *h = s->engine.partial(e->utt);
    if (*h && strcmp(h, e->partial)) {
        snprintf(e->partial, sizeof e->partial, "%s", h);
        s_publish(e, e->utterance, h, 0, e->origin_ts_us, false);
        metric_add(s->m_partials, 1);
    }
}

static int s_keep_waiting(s_entry_t *e, const int16_t *x, size_t n)
{
    size_t max = (size_t)e->stt->max_utt_s * 16000;
    if (e->nwaiting + n > max) return -ENOSPC;
    if (e->nwaiting + n > e->capwaiting) {
        size_t cap = e->capwaiting ? e->capwaiting * 2 : 16000 * 4;
        while (cap < e->nwaiting + n) cap *= 2;
        int16_t *w = realloc(e->waiting, cap * sizeof *w);
        if (!w) return -ENOMEM;
        e->waiting = w;
        e->capwaiting = cap;
    }
    memcpy(e->waiting + e->nwaiting, x, n * sizeof *x);
    e->nwaiting += n;
    return 0;
}

/* Starts the session's utterance in the engine if it has room; its kept
 * audio first. */
static bool s_try_start(s_entry_t *e)
{
    s_stt_t *s = e->stt;
    if (e->utt) return true;
    e->utt = s->engine.start(s->engine.impl, e->caller, e->id, e->utterance);
    if (!e->utt) return false;
    s_busy(s);
    if (e->nwaiting) s_feed(e, e->waiting, e->nwaiting);
    e->nwaiting = 0;
    if (e->final_seen) s_finish(e);
    return true;
}

static void s_oldest_waiting(const char *id, void *state, void *arg)
{
    (void)id;
    s_entry_t **best = arg, *e = state;
    if (!e->utterance || e->utt) return;
    if (!*best || e->waiting_since_us < (*best)->waiting_since_us) *best = e;
}

/* Room in the engine: the utterance that has waited longest gets it. */
static void s_serve_waiting(s_stt_t *s)
{
    for (;;) {
        s_entry_t *best = NULL;
        session_map_foreach(s->sessions, s_oldest_waiting, &best);
        if (!best || !s_try_start(best)) return;
    }
}

static void s_take(s_entry_t *e, const int16_t *x, size_t n, bool final);

/* ---- the shadow: every session's current utterance, for a takeover ---------------------- */

#define STT_REDO_WINDOW_US (5 * 1000000LL)   /* a finished utterance older than this is not redone */

static void s_shadow_add(s_entry_t *e, const Voxmesh__SpeechSegment *seg, int64_t origin_us)
{
    if (e->shadow_utt != seg->utterance_id) {
        e->shadow_utt = seg->utterance_id;
        e->nshadow = 0;
        e->shadow_final = e->shadow_done = false;
    }
    if (e->shadow_done) return;
    e->shadow_origin_us = origin_us;
    if (seg->final) {
        e->shadow_final = true;
        e->shadow_final_us = time_mono_us();
        e->shadow_speech_end_us = seg->speech_end_ts_us;
    }
    size_t n = seg->audio->samples.len / 2, max = (size_t)e->stt->max_utt_s * 16000;
    if (e->nshadow + n > max) return;     /* the decoding worker drops it too */
    if (e->nshadow + n > e->capshadow) {
        size_t cap = e->capshadow ? e->capshadow * 2 : 16000 * 4;
        while (cap < e->nshadow + n) cap *= 2;
        int16_t *w = realloc(e->shadow, cap * sizeof *w);
        if (!w) return;
        e->shadow = w;
        e->capshadow = cap;
    }
    memcpy(e->shadow + e->nshadow, seg->audio->samples.data, n * sizeof *e->shadow);
    e->nshadow += n;
}

/* Some worker's final for the session's utterance: nothing to redo. */
static int s_on_final_seen(service_t *svc, bus_msg_t *m, void *arg)
{
    (void)svc;
    s_stt_t *s = arg;
    const event_t *ev = m->ev;
    if (ev->payload_case != VOXMESH__ENVELOPE__PAYLOAD_STT_FINAL || !ev->session_id) return 0;
    s_entry_t *e = session_map_get(s->sessions, ev->session_id);
    if (e && e->shadow_utt == ev->stt_final->utterance_id) {
        e->shadow_done = true;
        e->nshadow = 0;
    }
    return 0;
}

/* The session is this worker's now: a new one, or taken over from a worker
 * that died, in which case the utterance in flight is decoded here again. */
static void s_on_gain(void *arg, const char *session)
{
    s_stt_t *s = arg;
    s_entry_t *e = session_map_get(s->sessions, session);
    if (!e || !e->shadow_utt || e->shadow_done || !e->nshadow) return;
    if (e->shadow_final && time_mono_us() - e->shadow_final_us > STT_REDO_WINDOW_US) return;
    if (e->utterance == e->shadow_utt) return;   /* decoding it already */
    metric_add(s->m_takeovers, 1);
    metric_add(s->m_redone, e->nshadow / 16000.0);
    log_info("session %s: utterance %llu taken over: %.2f s of audio decoded again%s", e->id,
             (unsigned long long)e->shadow_utt, e->nshadow / 16000.0, e->shadow_final ? " (complete)" : "");
    s_reset(e);
    e->utterance = e->shadow_utt;
    e->origin_ts_us = e->shadow_origin_us;
    if (e->shadow_final) {
        e->speech_end_ts_us = e->shadow_speech_end_us;
        e->final_rx_us = time_mono_us();
    }
    s_take(e, e->shadow, e->nshadow, e->shadow_final);
}

/* The session moved to another worker: what is in flight here is dropped. */
static void s_on_loss(void *arg, const char *session)
{
    s_stt_t *s = arg;
    s_entry_t *e = session_map_get(s->sessions, session);
    if (!e) return;
    s_reset(e);
    while (e->turns) {
        s_turn_t *t = e->turns;
        e->turns = t->next;
        s_turn_free(t);
    }
    e->nturns = 0;
    s_busy(s);
    s_serve_waiting(s);
}

static void s_load(void *arg, unsigned *busy, unsigned *capacity)
{
    s_stt_t *s = arg;
    *busy = s->have_engine ? (unsigned)s->engine.busy(s->engine.impl) : 0;
    *capacity = (unsigned)s->decoders;
}

static int s_on_segment(service_t *svc, bus_msg_t *m, void *arg)
{
    (void)svc;
    s_stt_t *s = arg;
    const event_t *ev = m->ev;
    if (ev->payload_case != VOXMESH__ENVELOPE__PAYLOAD_SPEECH_SEGMENT || !ev->speech_segment->audio) return 0;
    const Voxmesh__SpeechSegment *seg = ev->speech_segment;
    const Voxmesh__PcmAudio *a = seg->audio;
    const char *why = pcm_bytes_error(a->sample_rate, a->channels, a->format, a->samples.len);
    if (!why && (a->sample_rate != 16000 || a->channels != 1 || a->format != VOXMESH__SAMPLE_FORMAT__SAMPLE_FORMAT_S16))
        why = "not 16 kHz mono s16";
    if (why || !seg->utterance_id) {
        uint64_t sup = 0;
        metric_add(s->m_rejected, 1);
        if (log_ratelimit_ok(&s->rl, &sup))
            log_warn("session %s: speech segment dropped: %s%s", ev->session_id ? ev->session_id : "-",
                     why ? why : "no utterance id", sup ? " (more suppressed)" : "");
        return 0;
    }
    s_entry_t *e = session_map_open(s->sessions, ev->session_id);
    if (!e) return 0;
    s_shadow_add(e, seg, ev->origin_ts_us);
    if (!lease_mine(s->lease, e->id)) return 0;   /* another worker's: only the shadow is kept */
    if (e->utterance != seg->utterance_id) {
        if (e->utterance) log_debug("session %s: utterance %llu abandoned for %llu", e->id,
                                    (unsigned long long)e->utterance, (unsigned long long)seg->utterance_id);
        s_reset(e);
        e->utterance = seg->utterance_id;
    }
    e->origin_ts_us = ev->origin_ts_us;
    const int16_t *x = (const int16_t *)a->samples.data;
    size_t n = a->samples.len / 2;
    if (seg->final) {
        e->speech_end_ts_us = seg->speech_end_ts_us;
        e->final_rx_us = time_mono_us();
    }
    s_take(e, x, n, seg->final);
    return 0;
}

/* The utterance's audio, to decode: now if a decoder is free, else kept
 * until one is. */
static void s_take(s_entry_t *e, const int16_t *x, size_t n, bool final)
{
    s_stt_t *s = e->stt;
    if (s_try_start(e)) {
        s_feed(e, x, n);
        if (final) s_finish(e);
        return;
    }
    /* Every decoder is busy: keep the audio until one is free. */
    metric_add(s->m_waits, 1);
    if (!e->nwaiting) e->waiting_since_us = time_mono_us();
    if (s_keep_waiting(e, x, n) < 0) {
        log_warn("session %s: utterance %llu longer than %ld s while waiting for a decoder: dropped", e->id,
                 (unsigned long long)e->utterance, s->max_utt_s);
        s_reset(e);
        return;
    }
    if (final) e->final_seen = true;
}

static int s_on_session(service_t *svc, bus_msg_t *m, void *arg)
{
    (void)svc;
    s_stt_t *s = arg;
    if (m->ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_SESSION_ENDED && m->ev->session_id) {
        session_map_end(s->sessions, m->ev->session_id, "ended");
        lease_end(s->lease, m->ev->session_id);
        s_busy(s);
        s_serve_waiting(s);
    }
    return 0;
}

static int s_on_reap(service_t *svc, void *arg)
{
    (void)svc;
    s_stt_t *s = arg;
    if (session_map_reap(s->sessions)) {
        s_busy(s);
        s_serve_waiting(s);
    }
    return 0;
}

/* Failures made visible: a health event says "degraded" right after a
 * second in which transcriptions failed. */
static int s_on_health(service_t *svc, void *arg)
{
    s_stt_t *s = arg;
    double errors = metric_value(s->m_errors);
    if (errors > s->errors_seen) {
        char detail[96];
        snprintf(detail, sizeof detail, "%.0f transcriptions failed (see the log)", errors - s->errors_seen);
        service_publish_health(svc, "degraded", detail);
        s->errors_seen = errors;
    }
    return 0;
}

static void *s_make(const char *id, void *arg)
{
    s_stt_t *s = arg;
    s_entry_t *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->stt = s;
    e->id = strdup(id);
    if (s->engine.caller_new) e->caller = s->engine.caller_new(s->engine.impl);
    if (!e->id || (s->engine.caller_new && !e->caller)) {
        free(e->id);
        free(e);
        return NULL;
    }
    return e;
}

/* The session's end: its utterances are dropped, requests in flight
 * cancelled (the provider sees the connection close). */
static void s_free(void *state, const char *id, const char *why, void *arg)
{
    (void)id; (void)arg;
    s_entry_t *e = state;
    s_stt_t *s = e->stt;
    if (e->nturns) log_debug("session %s %s: %zu transcriptions in flight cancelled", e->id, why, e->nturns);
    while (e->turns) {
        s_turn_t *t = e->turns;
        e->turns = t->next;
        s_turn_free(t);
    }
    if (e->utt) s->engine.cancel(e->utt);
    if (e->caller) s->engine.caller_free(s->engine.impl, e->caller);
    free(e->waiting);
    free(e->shadow);
    free(e->id);
    free(e);
}

/* The language model: a domain one built from --lm-text, else --lm. */
static int s_language_model(s_stt_t *s, const char **lm)
{
    const char *text = service_opt(s->svc, "lm-text");
    *lm = service_opt(s->svc, "lm");
    if (!text || !*text) return 0;
    char err[512];
    size_t unknown = 0;
    snprintf(s->lm_path, sizeof s->lm_path, "/tmp/voxmesh-stt-%d.arpa", (int)getpid());
    int n = lm_build_arpa(text, service_opt(s->svc, "dict"), s->lm_path, &unknown, err, sizeof err);
    if (n < 0) {
        log_error("--lm-text: %s", err);
        s->lm_path[0] = 0;
        return -1;
    }
    log_info("domain language model from %s: %d sentences%s", text, n,
             unknown ? " (some words are not in the dictionary and were left out)" : "");
    *lm = s->lm_path;
    return 0;
}

static const service_option_t s_options[] = {
    { "provider", "pocketsphinx", "pocketsphinx (offline), openai (any OpenAI-compatible server) or deepgram" },
    { "hmm", STT_MODEL_DIR "/en-us", "pocketsphinx: acoustic model directory" },
    { "dict", STT_MODEL_DIR "/cmudict-en-us.dict", "pocketsphinx: pronunciation dictionary" },
    { "lm", STT_MODEL_DIR "/en-us.lm.bin", "pocketsphinx: language model (generic English)" },
    { "lm-text", NULL, "pocketsphinx: build a domain language model from these example sentences instead of --lm" },
    { "decoders", "2", "pocketsphinx: utterances decoded at once (each decoder holds a loaded model)" },
    { "fast", "false", "pocketsphinx: narrower search: about twice as fast, less accurate" },
    { "denoise", "true", "pocketsphinx: suppress stationary noise before decoding" },
    { "partial-ms", "300", "pocketsphinx: a partial transcript after each this much new audio" },
    { "base-url", NULL, "providers: default https://api.openai.com, https://api.deepgram.com "
                        "(POST {base-url}/v1/audio/transcriptions, {base-url}/v1/listen; a trailing /v1 is not doubled)" },
    { "model", NULL, "providers: default whisper-1 (openai), nova-3 (deepgram)" },
    { "language", NULL, "providers: the caller's language (en, en-US, ...); default: the provider detects it" },
    { "api-key-env", NULL, "providers: environment variable holding the API key "
                           "(default OPENAI_API_KEY / DEEPGRAM_API_KEY)" },
    { "first-byte-ms", "10000", "providers: deadline for the response to start, per attempt" },
    { "total-ms", "20000", "providers: deadline for an utterance's transcript, all attempts together" },
    { "max-retries", "2", "providers: retries after 429, 5xx or no response" },
    { "retry-backoff-ms", "200", "providers: delay before the first retry (doubles each time, +-25 %)" },
    { "max-requests", "64", "providers: utterances in flight at once" },
    { "max-utterance-s", "30", "audio kept per utterance (waiting for a decoder; sent to a provider)" },
    { "max-sessions", "1000", "sessions tracked at once" },
    { "transcribe", NULL, "pocketsphinx: transcribe these WAV files (comma-separated), print one line each, and exit" },
    { NULL, NULL, NULL }
};

/* --transcribe: the same engine on files, without the bus. */
static int s_transcribe(ps_engine_t *pool, const char *files)
{
    char *list = strdup(files), *save = NULL;
    int rc = 0;
    ps_channel_t channel = { .len = 0 };   /* the files are one caller's utterances */
    for (char *f = strtok_r(list, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
        pcm_t *in = NULL, *x = NULL;
        const char *why = NULL;
        if (wav_read_file(f, &in, &why) < 0 || !(x = pcm_resample(in, 16000, 1, PCM_S16))) {
            fprintf(stderr, "%s: %s\n", f, why ? why : "cannot read");
            pcm_destroy(&in);
            rc = 1;
            continue;
        }
        ps_utt_t *u = ps_utt_start(pool, &channel);
        const int16_t *samples = pcm_data(x);
        size_t n = pcm_frames(x);
        for (size_t at = 0; u && at < n; at += 1600) ps_utt_feed(u, samples + at, n - at < 1600 ? n - at : 1600);
        char text[STT_TEXT_MAX] = "";
        if (u) ps_utt_finish(&u, text, sizeof text, &channel);
        printf("%s\t%s\n", f, text);
        fflush(stdout);
        pcm_destroy(&in);
        pcm_destroy(&x);
    }
    free(list);
    return rc;
}

/* PocketSphinx: the language model, the decoder pool; --transcribe runs
 * here and exits (returns 1). */
static int s_engine_ps(s_stt_t *s, const char *files)
{
    service_t *svc = s->svc;
    long decoders = 0;
    const char *lm = NULL;
    if (service_opt_int(svc, "decoders", 1, 64, &decoders) < 0
        || service_opt_int(svc, "partial-ms", 50, 10000, &s->partial_ms) < 0 || s_language_model(s, &lm) < 0)
        return -1;
    char err[512];
    ps_engine_config_t cfg = { service_opt(svc, "hmm"), service_opt(svc, "dict"), lm, (int)decoders,
                               service_opt_bool(svc, "fast"), service_opt_bool(svc, "denoise") };
    int64_t t0 = time_mono_us();
    ps_engine_t *pool = ps_engine_new(&cfg, err, sizeof err);
    if (!pool) {
        log_error("%s", err);
        return -1;
    }
    s->decoders = decoders;
    log_info("%ld decoder(s) loaded in %.1f s (%s)", decoders, (time_mono_us() - t0) / 1e6, lm);
    if (files) {
        int rc = s_transcribe(pool, files);
        ps_engine_destroy(&pool);
        return rc ? -1 : 1;
    }
    s->engine = engine_ps(pool);
    s->have_engine = true;
    return 0;
}

/* A cloud provider. The key comes from the environment only: never from an
 * option, so never from a graph file or a command line. */
static int s_engine_http(s_stt_t *s, const char *provider)
{
    service_t *svc = s->svc;
    long first_byte, total, retries, backoff, requests;
    if (service_opt_int(svc, "first-byte-ms", 100, 600000, &first_byte) < 0
        || service_opt_int(svc, "total-ms", 100, 3600000, &total) < 0
        || service_opt_int(svc, "max-retries", 0, 10, &retries) < 0
        || service_opt_int(svc, "retry-backoff-ms", 1, 60000, &backoff) < 0
        || service_opt_int(svc, "max-requests", 1, HTTP_CLIENT_MAX_REQUESTS, &requests) < 0)
        return -1;
    const char *env = service_opt(svc, "api-key-env");
    if (!env || !*env) env = !strcmp(provider, "openai") ? "OPENAI_API_KEY" : "DEEPGRAM_API_KEY";
    const char *key = getenv(env);
    if ((!key || !*key) && !strcmp(provider, "openai"))
        log_warn("openai: no API key in $%s: requests go without one (fine for a local server)", env);
    engine_http_config_t cfg = {
        .provider = provider, .base_url = service_opt(svc, "base-url"), .model = service_opt(svc, "model"),
        .language = service_opt(svc, "language"), .api_key = key, .first_byte_ms = (int)first_byte,
        .total_ms = (int)total, .max_retries = (int)retries, .retry_backoff_ms = (int)backoff,
        .max_requests = (size_t)requests, .max_utterance_s = (unsigned)s->max_utt_s,
    };
    char err[256];
    if (engine_http_new(svc, &cfg, &s->engine, err, sizeof err) < 0) {
        log_error("%s", err);
        return -1;
    }
    s->have_engine = true;
    log_info("%s: %ld requests at once, deadlines %ld ms first byte, %ld ms total, %ld retries", provider, requests,
             first_byte, total, retries);
    return 0;
}

static void s_metrics(s_stt_t *s)
{
    metrics_t *mx = service_metrics(s->svc);
    s->m_finals = metrics_counter(mx, "voxmesh_stt_finals_total", NULL, "Final transcripts");
    s->m_partials = metrics_counter(mx, "voxmesh_stt_partials_total", NULL, "Partial transcripts");
    s->m_rejected = metrics_counter(mx, "voxmesh_stt_segments_rejected_total", NULL, "Speech segments rejected");
    s->m_waits = metrics_counter(mx, "voxmesh_stt_decoder_waits_total", NULL, "Segments kept: no free decoder");
    s->m_errors = metrics_counter(mx, "voxmesh_stt_errors_total", NULL, "Utterances without a transcript: failures");
    s->m_takeovers = metrics_counter(mx, "voxmesh_stt_takeovers_total", NULL,
                                     "Utterances decoded again here after their worker died");
    s->m_redone = metrics_counter(mx, "voxmesh_stt_redone_seconds_total", NULL,
                                  "Audio decoded again after a takeover");
    s->m_busy = metrics_gauge(mx, s->engine.busy_metric, NULL, s->engine.busy_help);
    s->m_final_latency = metrics_histogram(mx, "voxmesh_stt_final_seconds", NULL,
                                           "Caller's end of speech to the final transcript", NULL, 0);
    s->m_decode_after_end = metrics_histogram(mx, "voxmesh_stt_decode_after_end_seconds", NULL,
                                              "Final segment received to final transcript", NULL, 0);
}

int main(int argc, char **argv)
{
    service_t *svc = service_new("stt", "Speech to text: partial and final transcripts (PocketSphinx, "
                                 "OpenAI-compatible, Deepgram).", s_options, argc, argv);
    if (!svc) return 2;
    s_stt_t s = { .svc = svc, .rl = LOG_RATELIMIT_INIT(5000, 5) };
    service_publishes(svc, TOPIC_STT_PARTIAL);
    service_publishes(svc, TOPIC_STT_FINAL);
    service_on(svc, TOPIC_SPEECH_SEGMENT, s_on_segment, &s);
    service_on(svc, TOPIC_SESSION, s_on_session, &s);
    service_on_optional(svc, TOPIC_STT_FINAL, s_on_final_seen, &s);
    const char *files = service_opt(svc, "transcribe");
    lease_config_t lc = { "stt", s_on_gain, s_on_loss, &s, s_load };
    if (!files && !(s.lease = lease_new(svc, &lc))) {
        service_destroy(&svc);
        return 1;
    }
    service_every(svc, 5000, s_on_reap, &s);
    service_every(svc, 1000, s_on_health, &s);
    const char *provider = service_opt(svc, "provider");
    int rc = files ? 0 : service_start(svc);
    long max_sessions = 0;
    if (rc == 0 && (service_opt_int(svc, "max-utterance-s", 1, 600, &s.max_utt_s) < 0
                    || service_opt_int(svc, "max-sessions", 1, 100000, &max_sessions) < 0))
        rc = -1;
    if (rc == 0) {
        if (!strcmp(provider, "pocketsphinx")) {
            rc = s_engine_ps(&s, files);
        } else if (!strcmp(provider, "openai") || !strcmp(provider, "deepgram")) {
            if (files) log_error("--transcribe runs the offline engine only (--provider=pocketsphinx)");
            rc = files ? -1 : s_engine_http(&s, provider);
        } else {
            log_error("--provider: '%s' is not known (pocketsphinx, openai, deepgram)", provider);
            rc = -1;
        }
    }
    if (rc == 0) {
        s_metrics(&s);
        s.sessions = session_map_new((size_t)max_sessions, 120 * 1000000LL, s_make, s_free, &s);
        rc = s.sessions ? service_run(svc) : -1;
    }
    session_map_destroy(&s.sessions);   /* cancels what is in flight: before the engine goes */
    if (s.have_engine) s.engine.destroy(s.engine.impl);
    lease_destroy(&s.lease);
    if (s.lm_path[0]) unlink(s.lm_path);
    service_destroy(&svc);
    return rc < 0 ? 1 : rc == 1 ? 0 : rc;
}
