/* voxmesh-vad — voice activity, turn-taking and barge-in.
 *
 * Caller audio (any rate) -> 16 kHz frames -> detector -> turn logic ->
 * speech start/end events, the utterance as growing speech segments for STT,
 * and a turn interrupt when the caller speaks over the agent. The agent is
 * "speaking" while the outbound audio it has seen for the session would
 * still be playing (each audio.out.opus. event is 20 ms of it). */
#include "service.h"
#include "session.h"
#include "session_map.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    service_t *svc;
    vad_session_config_t cfg;
    session_map_t *sessions;        /* id -> s_entry_t */
    long max_sessions, idle_ms;
    log_ratelimit_t rl;
    metric_t *m_sessions, *m_starts, *m_interrupts, *m_rejected;
} s_vad_t;

typedef struct {
    s_vad_t *vad;
    char *id;
    vad_session_t *session;
    int64_t origin_ts_us;           /* of the audio being processed */
    int64_t speech_end_ts_us;       /* wall-clock capture time of the last speech end */
} s_entry_t;

static void s_entry_free(s_entry_t *e)
{
    vad_session_destroy(&e->session);
    free(e->id);
    free(e);
}

static void s_publish(s_entry_t *e, const char *topic, event_t *ev)
{
    ev->session_id = e->id;
    ev->origin_ts_us = e->origin_ts_us;
    bus_publish(service_bus(e->vad->svc), topic, ev);
}

static void s_on_turn(void *arg, const turn_event_t *t)
{
    s_entry_t *e = arg;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    if (t->type == TURN_SPEECH_START) {
        Voxmesh__VadSpeechStart s = VOXMESH__VAD_SPEECH_START__INIT;
        s.at_us = t->start_us;
        ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_VAD_SPEECH_START;
        ev.vad_speech_start = &s;
        s_publish(e, TOPIC_VAD_EVENT, &ev);
        metric_add(e->vad->m_starts, 1);
        log_debug("session %s: speech start at %.2f s", e->id, t->start_us / 1e6);
    } else if (t->type == TURN_SPEECH_END) {
        Voxmesh__VadSpeechEnd s = VOXMESH__VAD_SPEECH_END__INIT;
        s.at_us = t->end_us;
        s.duration_us = t->end_us - t->start_us;
        ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_VAD_SPEECH_END;
        ev.vad_speech_end = &s;
        /* The end of speech as a capture time: the audio being processed
         * was captured at origin_ts_us and is stream_us into the stream. */
        e->speech_end_ts_us = e->origin_ts_us - (vad_session_stream_us(e->session) - t->end_us);
        s_publish(e, TOPIC_VAD_EVENT, &ev);
        log_debug("session %s: speech end at %.2f s", e->id, t->end_us / 1e6);
    } else if (t->type == TURN_INTERRUPT) {
        Voxmesh__TurnInterrupt s = VOXMESH__TURN_INTERRUPT__INIT;
        s.reason = "barge-in";
        s.speech_onset_us = t->start_us;
        ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_TURN_INTERRUPT;
        ev.turn_interrupt = &s;
        s_publish(e, TOPIC_TURN_INTERRUPT, &ev);
        metric_add(e->vad->m_interrupts, 1);
        log_session_info(e->id, "barge-in at %.2f s", t->start_us / 1e6);
    }
}

static void s_on_segment(void *arg, uint64_t utterance, const pcm_t *audio, int64_t start_us, bool final)
{
    s_entry_t *e = arg;
    Voxmesh__PcmAudio p = VOXMESH__PCM_AUDIO__INIT;
    p.sample_rate = pcm_rate(audio);
    p.channels = pcm_channels(audio);
    p.format = VOXMESH__SAMPLE_FORMAT__SAMPLE_FORMAT_S16;
    p.samples.data = pcm_data(audio);
    p.samples.len = pcm_bytes(audio);
    Voxmesh__SpeechSegment s = VOXMESH__SPEECH_SEGMENT__INIT;
    s.utterance_id = utterance;
    s.audio = &p;
    s.final = final;
    s.start_us = start_us;
    if (final) s.speech_end_ts_us = e->speech_end_ts_us;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_SPEECH_SEGMENT;
    ev.speech_segment = &s;
    s_publish(e, TOPIC_SPEECH_SEGMENT, &ev);
}

static void *s_make_entry(const char *id, void *arg)
{
    s_vad_t *v = arg;
    s_entry_t *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->vad = v;
    e->id = strdup(id);
    vad_session_cb_t cb = { s_on_turn, s_on_segment, e };
    e->session = vad_session_new(&v->cfg, &cb);
    if (!e->id || !e->session) {
        s_entry_free(e);
        return NULL;
    }
    return e;
}

static void s_free_entry(void *state, const char *id, const char *why, void *arg)
{
    (void)id; (void)why; (void)arg;
    s_entry_t *e = state;
    vad_session_end(e->session);      /* closes an open turn: its end and last segment go out */
    s_entry_free(e);
}

static s_entry_t *s_entry(s_vad_t *v, const char *id)
{
    s_entry_t *e = session_map_open(v->sessions, id);
    metric_set(v->m_sessions, (double)session_map_size(v->sessions));
    return e;
}

static void s_end(s_vad_t *v, const char *id)
{
    session_map_end(v->sessions, id, "ended");
    metric_set(v->m_sessions, (double)session_map_size(v->sessions));
}

static int s_on_pcm(service_t *svc, bus_msg_t *msg, void *arg)
{
    (void)svc;
    s_vad_t *v = arg;
    event_t *in = msg->ev;
    if (in->payload_case != VOXMESH__ENVELOPE__PAYLOAD_PCM_AUDIO) return 0;
    Voxmesh__PcmAudio *p = in->pcm_audio;
    const char *why = pcm_bytes_error(p->sample_rate, p->channels, (int)p->format, p->samples.len);
    pcm_t *pcm = why ? NULL : pcm_from_bytes(p->sample_rate, p->channels, (pcm_format_t)p->format,
                                             p->samples.data, p->samples.len);
    if (!pcm) {
        metric_add(v->m_rejected, 1);
        uint64_t sup = 0;
        if (log_ratelimit_ok(&v->rl, &sup))
            log_session_warn(in->session_id, "PCM event dropped: %s (%llu similar suppressed)",
                             why ? why : "out of memory", (unsigned long long)sup);
        return 0;
    }
    s_entry_t *e = s_entry(v, in->session_id);
    if (e) {
        e->origin_ts_us = in->origin_ts_us;
        vad_session_feed(e->session, pcm);
    }
    pcm_destroy(&pcm);
    return 0;
}

static int s_on_agent_audio(service_t *svc, bus_msg_t *msg, void *arg)
{
    (void)svc;
    s_vad_t *v = arg;
    if (msg->ev->payload_case != VOXMESH__ENVELOPE__PAYLOAD_ENCODED_AUDIO) return 0;
    /* The agent may speak first (a greeting): the session starts here then. */
    s_entry_t *e = s_entry(v, msg->ev->session_id);
    uint32_t d = msg->ev->encoded_audio->duration_us;
    if (e) vad_session_agent_audio(e->session, d > 0 && d <= 120000 ? d : 20000);
    return 0;
}

static int s_on_session(service_t *svc, bus_msg_t *msg, void *arg)
{
    (void)svc;
    if (msg->ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_SESSION_ENDED) s_end(arg, msg->ev->session_id);
    return 0;
}

static int s_reap_idle(service_t *svc, void *arg)
{
    (void)svc;
    s_vad_t *v = arg;
    if (session_map_reap(v->sessions)) metric_set(v->m_sessions, (double)session_map_size(v->sessions));
    return 0;
}

static const service_option_t s_options[] = {
    { "silence-ms", "500", "silence that ends a turn" },
    { "min-speech-ms", "200", "speech needed before a turn starts (coughs and clicks are shorter)" },
    { "preroll-ms", "200", "audio before the onset included in the speech segment" },
    { "aggressiveness", "2", "detector aggressiveness 0..3 (higher: less noise taken for speech)" },
    { "barge-in", "true", "interrupt the agent when the caller speaks over it" },
    { "barge-in-ms", "100", "caller speech that interrupts the agent (0: as much as --min-speech-ms)" },
    { "max-sessions", "1000", "sessions held at once" },
    { "idle-timeout-ms", "60000", "free a session's state after this long without audio" },
    { NULL, NULL, NULL }
};

int main(int argc, char **argv)
{
    service_t *svc = service_new("vad", "Voice activity, turn-taking and barge-in.", s_options, argc, argv);
    if (!svc) return 2;
    s_vad_t v = { .svc = svc, .rl = LOG_RATELIMIT_INIT(5000, 10) };
    vad_session_config_default(&v.cfg);
    long silence, min_speech, preroll, aggr, barge_ms;
    if (service_opt_int(svc, "silence-ms", 100, 10000, &silence) < 0
        || service_opt_int(svc, "min-speech-ms", 20, 5000, &min_speech) < 0
        || service_opt_int(svc, "preroll-ms", 0, 1000, &preroll) < 0
        || service_opt_int(svc, "aggressiveness", 0, 3, &aggr) < 0
        || service_opt_int(svc, "barge-in-ms", 0, 5000, &barge_ms) < 0
        || service_opt_int(svc, "max-sessions", 1, 100000, &v.max_sessions) < 0
        || service_opt_int(svc, "idle-timeout-ms", 1000, 86400000, &v.idle_ms) < 0) {
        service_destroy(&svc);
        return 2;
    }
    v.cfg.turn.end_silence_ms = (int)silence;
    v.cfg.turn.min_speech_ms = (int)min_speech;
    v.cfg.turn.preroll_ms = (int)preroll;
    v.cfg.turn.interrupt_min_ms = (int)barge_ms;
    v.cfg.aggressiveness = (int)aggr;
    v.cfg.barge_in = service_opt_bool(svc, "barge-in");

    service_publishes(svc, TOPIC_VAD_EVENT);
    service_publishes(svc, TOPIC_SPEECH_SEGMENT);
    service_publishes(svc, TOPIC_TURN_INTERRUPT);
    service_on(svc, TOPIC_AUDIO_IN_PCM, s_on_pcm, &v);
    service_on(svc, TOPIC_AUDIO_OUT_OPUS, s_on_agent_audio, &v);
    service_on(svc, TOPIC_SESSION, s_on_session, &v);
    service_every(svc, 5000, s_reap_idle, &v);
    int rc = service_start(svc);
    if (rc == 0) {
        metrics_t *m = service_metrics(svc);
        v.m_sessions = metrics_gauge(m, "voxmesh_vad_sessions", NULL, "Sessions with VAD state");
        v.m_starts = metrics_counter(m, "voxmesh_vad_turns_total", NULL, "Turns started");
        v.m_interrupts = metrics_counter(m, "voxmesh_vad_interrupts_total", NULL, "Barge-ins");
        v.m_rejected = metrics_counter(m, "voxmesh_vad_pcm_rejected_total", NULL, "PCM events rejected");
        v.sessions = session_map_new((size_t)v.max_sessions, (int64_t)v.idle_ms * 1000, s_make_entry,
                                     s_free_entry, &v);
        rc = service_run(svc);
    }
    session_map_destroy(&v.sessions);
    service_destroy(&svc);
    return rc < 0 ? 1 : rc == 1 ? 0 : rc;
}
