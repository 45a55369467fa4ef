/* voxmesh-stt — speech to text: the caller's utterances (speech.segment.,
 * growing while they speak) become partial transcripts as they grow and a
 * final one at their end (stt.partial., stt.final.).
 *
 * Offline default: PocketSphinx (ps_engine.h), streaming — each segment is
 * decoded as it arrives, so the final costs only the last piece's decoding.
 * With --lm-text the daemon builds a domain language model from example
 * sentences at start (lm_build.h); else --lm (the generic English model).
 * The final transcript's origin is the caller's end of speech (from the VAD),
 * so every later stage measures its latency from there. */
#include "service.h"
#include "session_map.h"
#include "log.h"
#include "ps_engine.h"
#include "lm_build.h"
#include "pcm.h"
#include "wav.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STT_MODEL_DIR "/usr/share/pocketsphinx/model/en-us"
#define STT_TEXT_MAX 2048

typedef struct s_stt s_stt_t;

typedef struct {
    s_stt_t *stt;
    char *id;
    uint64_t utterance;            /* the one being decoded or waiting (0: none) */
    ps_utt_t *utt;                 /* its decoder, once it has one */
    int16_t *waiting;              /* its audio while no decoder is free */
    size_t nwaiting, capwaiting;
    bool final_seen;               /* its last segment came while waiting */
    int64_t waiting_since_us;      /* monotonic, while waiting for a decoder */
    int64_t origin_ts_us;          /* of the latest segment */
    int64_t speech_end_ts_us;      /* from the final segment */
    int64_t final_rx_us;           /* monotonic: when the final segment arrived */
    size_t since_partial;          /* samples fed since the last partial */
    size_t fed;                    /* samples of the utterance fed */
    ps_channel_t channel;          /* this caller's cepstral mean, kept between utterances */
    char partial[STT_TEXT_MAX];
} s_entry_t;

struct s_stt {
    service_t *svc;
    ps_engine_t *engine;
    session_map_t *sessions;
    long partial_ms, max_utt_s;
    char lm_path[256];             /* a built domain model, removed at exit */
    log_ratelimit_t rl;
    metric_t *m_finals, *m_partials, *m_rejected, *m_waits, *m_final_latency, *m_decode_after_end, *m_busy;
};

static void s_publish(s_entry_t *e, const char *text, bool final)
{
    Voxmesh__Transcript t = VOXMESH__TRANSCRIPT__INIT;
    t.utterance_id = e->utterance;
    t.text = (char *)text;
    t.confidence = 0;   /* PocketSphinx's scores are not probabilities: not reported */
    t.worker = (char *)service_name(e->stt->svc);
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = e->id;
    ev.origin_ts_us = final && e->speech_end_ts_us > 0 ? e->speech_end_ts_us : e->origin_ts_us;
    if (final) {
        ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_STT_FINAL;
        ev.stt_final = &t;
    } else {
        ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_STT_PARTIAL;
        ev.stt_partial = &t;
    }
    bus_publish(service_bus(e->stt->svc), final ? TOPIC_STT_FINAL : TOPIC_STT_PARTIAL, &ev);
}

static void s_reset(s_entry_t *e)
{
    ps_utt_abandon(&e->utt);
    e->utterance = 0;
    e->nwaiting = 0;
    e->final_seen = false;
    e->since_partial = e->fed = 0;
    e->partial[0] = 0;
    e->speech_end_ts_us = 0;
}

static void s_serve_waiting(s_stt_t *s);

/* The utterance is over: its final transcript, and its decoder back. */
static void s_finish(s_entry_t *e)
{
    s_stt_t *s = e->stt;
    char text[STT_TEXT_MAX];
    if (ps_utt_finish(&e->utt, text, sizeof text, &e->channel) < 0) {
        log_warn("session %s: utterance %llu: the decoder failed", e->id, (unsigned long long)e->utterance);
        text[0] = 0;
    }
    metric_observe(s->m_decode_after_end, (time_mono_us() - e->final_rx_us) / 1e6);
    if (text[0]) {
        s_publish(e, text, true);
        metric_add(s->m_finals, 1);
        if (e->speech_end_ts_us > 0) metric_observe(s->m_final_latency, (time_now_us() - e->speech_end_ts_us) / 1e6);
        log_info("session %s: utterance %llu: \"%s\" (%.1f s of audio)", e->id, (unsigned long long)e->utterance,
                 text, e->fed / 16000.0);
    } else {
        log_debug("session %s: utterance %llu: nothing recognised", e->id, (unsigned long long)e->utterance);
    }
    s_reset(e);
    metric_set(s->m_busy, ps_engine_size(s->engine) - ps_engine_free_decoders(s->engine));
    s_serve_waiting(s);
}

/* Feeds samples to the utterance's decoder; a partial now and then. */
static void s_feed(s_entry_t *e, const int16_t *x, size_t n)
{
    if (ps_utt_feed(e->utt, x, n) < 0) return;
    e->fed += n;
    e->since_partial += n;
    if (e->since_partial < (size_t)e->stt->partial_ms * 16) return;
    e->since_partial = 0;
    const char *h = ps_utt_partial(e->utt);
    if (*h && strcmp(h, e->partial)) {
        snprintf(e->partial, sizeof e->partial, "%s", h);
        s_publish(e, h, false);
        metric_add(e->stt->m_partials, 1);
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

/* Gives a decoder to the session if one is free; its kept audio first. */
static bool s_try_start(s_entry_t *e)
{
    if (e->utt) return true;
    e->utt = ps_utt_start(e->stt->engine, &e->channel);
    if (!e->utt) return false;
    metric_set(e->stt->m_busy, ps_engine_size(e->stt->engine) - ps_engine_free_decoders(e->stt->engine));
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

/* A decoder came free: the utterance that has waited longest gets it. */
static void s_serve_waiting(s_stt_t *s)
{
    while (ps_engine_free_decoders(s->engine) > 0) {
        s_entry_t *best = NULL;
        session_map_foreach(s->sessions, s_oldest_waiting, &best);
        if (!best || !s_try_start(best)) return;
    }
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
    if (s_try_start(e)) {
        s_feed(e, x, n);
        if (seg->final) s_finish(e);
        return 0;
    }
    /* Every decoder is busy: keep the audio until one is free. */
    metric_add(s->m_waits, 1);
    if (!e->nwaiting) e->waiting_since_us = time_mono_us();
    if (s_keep_waiting(e, x, n) < 0) {
        log_warn("session %s: utterance %llu longer than %ld s while waiting for a decoder: dropped", e->id,
                 (unsigned long long)e->utterance, s->max_utt_s);
        s_reset(e);
        return 0;
    }
    if (seg->final) e->final_seen = true;
    return 0;
}

static int s_on_session(service_t *svc, bus_msg_t *m, void *arg)
{
    (void)svc;
    s_stt_t *s = arg;
    if (m->ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_SESSION_ENDED && m->ev->session_id) {
        session_map_end(s->sessions, m->ev->session_id, "ended");
        s_serve_waiting(s);
    }
    return 0;
}

static int s_on_reap(service_t *svc, void *arg)
{
    (void)svc;
    s_stt_t *s = arg;
    if (session_map_reap(s->sessions)) s_serve_waiting(s);
    return 0;
}

static void *s_make(const char *id, void *arg)
{
    s_entry_t *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->stt = arg;
    e->id = strdup(id);
    if (!e->id) {
        free(e);
        return NULL;
    }
    return e;
}

static void s_free(void *state, const char *id, const char *why, void *arg)
{
    (void)id; (void)why; (void)arg;
    s_entry_t *e = state;
    ps_utt_abandon(&e->utt);
    free(e->waiting);
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
    { "provider", "pocketsphinx", "pocketsphinx (offline)" },
    { "hmm", STT_MODEL_DIR "/en-us", "PocketSphinx acoustic model directory" },
    { "dict", STT_MODEL_DIR "/cmudict-en-us.dict", "pronunciation dictionary" },
    { "lm", STT_MODEL_DIR "/en-us.lm.bin", "language model (generic English)" },
    { "lm-text", NULL, "build a domain language model from these example sentences instead of --lm" },
    { "decoders", "2", "utterances decoded at once (each decoder holds a loaded model)" },
    { "fast", "false", "narrower search: about twice as fast, less accurate" },
    { "denoise", "true", "suppress stationary noise before decoding" },
    { "partial-ms", "300", "a partial transcript after each this much new audio" },
    { "max-utterance-s", "30", "audio kept per utterance while waiting for a decoder" },
    { "max-sessions", "1000", "sessions tracked at once" },
    { "transcribe", NULL, "transcribe these WAV files (comma-separated), print one line each, and exit" },
    { NULL, NULL, NULL }
};

/* --transcribe: the same engine on files, without the bus. */
static int s_transcribe(s_stt_t *s, const char *files)
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
        ps_utt_t *u = ps_utt_start(s->engine, &channel);
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

int main(int argc, char **argv)
{
    service_t *svc = service_new("stt", "Speech to text: partial and final transcripts (PocketSphinx).", s_options,
                                 argc, argv);
    if (!svc) return 2;
    s_stt_t s = { .svc = svc, .rl = LOG_RATELIMIT_INIT(5000, 5) };
    service_publishes(svc, TOPIC_STT_PARTIAL);
    service_publishes(svc, TOPIC_STT_FINAL);
    service_on(svc, TOPIC_SPEECH_SEGMENT, s_on_segment, &s);
    service_on(svc, TOPIC_SESSION, s_on_session, &s);
    service_every(svc, 5000, s_on_reap, &s);
    const char *files = service_opt(svc, "transcribe");
    int rc = files ? 0 : service_start(svc);
    long decoders = 0, max_sessions = 0;
    const char *lm = NULL;
    if (rc == 0 && strcmp(service_opt(svc, "provider"), "pocketsphinx")) {
        log_error("--provider: '%s' is not known (pocketsphinx)", service_opt(svc, "provider"));
        rc = -1;
    }
    if (rc == 0 && (service_opt_int(svc, "decoders", 1, 64, &decoders) < 0
                    || service_opt_int(svc, "partial-ms", 50, 10000, &s.partial_ms) < 0
                    || service_opt_int(svc, "max-utterance-s", 1, 600, &s.max_utt_s) < 0
                    || service_opt_int(svc, "max-sessions", 1, 100000, &max_sessions) < 0
                    || s_language_model(&s, &lm) < 0))
        rc = -1;
    if (rc == 0) {
        char err[512];
        ps_engine_config_t cfg = { service_opt(svc, "hmm"), service_opt(svc, "dict"), lm, (int)decoders,
                                   service_opt_bool(svc, "fast"), service_opt_bool(svc, "denoise") };
        int64_t t0 = time_mono_us();
        s.engine = ps_engine_new(&cfg, err, sizeof err);
        if (!s.engine) {
            log_error("%s", err);
            rc = -1;
        } else {
            log_info("%ld decoder(s) loaded in %.1f s (%s)", decoders, (time_mono_us() - t0) / 1e6, lm);
        }
    }
    if (rc == 0 && files) {
        rc = s_transcribe(&s, files);
        ps_engine_destroy(&s.engine);
        if (s.lm_path[0]) unlink(s.lm_path);
        service_destroy(&svc);
        return rc;
    }
    if (rc == 0) {
        metrics_t *mx = service_metrics(svc);
        s.m_finals = metrics_counter(mx, "voxmesh_stt_finals_total", NULL, "Final transcripts");
        s.m_partials = metrics_counter(mx, "voxmesh_stt_partials_total", NULL, "Partial transcripts");
        s.m_rejected = metrics_counter(mx, "voxmesh_stt_segments_rejected_total", NULL, "Speech segments rejected");
        s.m_waits = metrics_counter(mx, "voxmesh_stt_decoder_waits_total", NULL, "Segments kept: no free decoder");
        s.m_busy = metrics_gauge(mx, "voxmesh_stt_decoders_busy", NULL, "Decoders in use");
        s.m_final_latency = metrics_histogram(mx, "voxmesh_stt_final_seconds", NULL,
                                              "Caller's end of speech to the final transcript", NULL, 0);
        s.m_decode_after_end = metrics_histogram(mx, "voxmesh_stt_decode_after_end_seconds", NULL,
                                                 "Final segment received to final transcript", NULL, 0);
        s.sessions = session_map_new((size_t)max_sessions, 120 * 1000000LL, s_make, s_free, &s);
        rc = s.sessions ? service_run(svc) : -1;
    }
    session_map_destroy(&s.sessions);
    ps_engine_destroy(&s.engine);
    if (s.lm_path[0]) unlink(s.lm_path);
    service_destroy(&svc);
    return rc < 0 ? 1 : rc == 1 ? 0 : rc;
}
