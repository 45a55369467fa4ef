/* voxmesh-codec — the media codec service.
 *
 * Inbound: Opus from the edge -> decode (PLC/FEC for gaps) -> resample to
 * the rate the consumers ask for -> PCM events. Outbound: PCM events at any
 * rate (TTS, parrot) -> 48 kHz -> 20 ms Opus frames -> the edge.
 * Per-session state is made on the first event of a session and freed on its
 * end (or after an idle timeout, should the end event be lost). */
#include "service.h"
#include "session.h"
#include "session_map.h"
#include "video.h"
#include "log.h"

#include <string.h>

typedef struct {
    codec_config_t cfg;
    session_map_t *sessions;    /* id -> codec_session_t */
    codec_video_t *video;
    long max_sessions;
    long idle_ms;
    log_ratelimit_t rl;
    metric_t *m_sessions, *m_decode_errors, *m_rejected, *m_lost, *m_concealed, *m_out, *m_cut, *m_repeated;
} s_codec_t;

static void s_warn(s_codec_t *c, const char *session, const char *what, const char *why)
{
    uint64_t suppressed = 0;
    if (log_ratelimit_ok(&c->rl, &suppressed))
        log_warn("session %s: %s dropped: %s (%llu similar suppressed)", session, what, why,
                 (unsigned long long)suppressed);
}

static void *s_make_session(const char *id, void *arg)
{
    s_codec_t *c = arg;
    log_debug("session %s: codec state created", id);
    return codec_session_new(id, &c->cfg);
}

static void s_free_session(void *state, const char *id, const char *why, void *arg)
{
    s_codec_t *c = arg;
    codec_session_t *s = state;
    codec_stats_t st = codec_session_stats(s);
    log_info("session %s: %s; in %llu packets (%llu lost, %llu ms concealed, %llu FEC), out %llu packets",
             id, why, (unsigned long long)st.packets_in, (unsigned long long)st.packets_lost,
             (unsigned long long)st.concealed_ms, (unsigned long long)st.fec_recovered,
             (unsigned long long)st.packets_out);
    codec_session_destroy(&s);
    codec_video_end(c->video, id);
}

static codec_session_t *s_session(s_codec_t *c, const char *id)
{
    codec_session_t *s = session_map_open(c->sessions, id);
    metric_set(c->m_sessions, (double)session_map_size(c->sessions));
    return s;
}

static void s_end_session(s_codec_t *c, const char *id, const char *why)
{
    session_map_end(c->sessions, id, why);
    metric_set(c->m_sessions, (double)session_map_size(c->sessions));
}

static int s_on_session(service_t *svc, bus_msg_t *msg, void *arg)
{
    (void)svc;
    s_codec_t *c = arg;
    if (msg->ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_SESSION_STARTED) s_session(c, msg->ev->session_id);
    else if (msg->ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_SESSION_ENDED)
        s_end_session(c, msg->ev->session_id, "ended");
    return 0;
}

static int s_on_opus(service_t *svc, bus_msg_t *msg, void *arg)
{
    s_codec_t *c = arg;
    event_t *in = msg->ev;
    if (in->payload_case != VOXMESH__ENVELOPE__PAYLOAD_ENCODED_AUDIO) return 0;
    codec_session_t *s = s_session(c, in->session_id);
    if (!s) return 0;
    Voxmesh__EncodedAudio *a = in->encoded_audio;
    uint64_t lost_before = codec_session_stats(s).packets_lost;
    const char *why = NULL;
    pcm_t *pcm = codec_session_decode(s, a->data.data, a->data.len, a->rtp_seq, &why);
    codec_stats_t st = codec_session_stats(s);
    metric_add(c->m_lost, (double)(st.packets_lost - lost_before));
    if (!pcm) {
        if (why && strcmp(why, "late or duplicate packet") != 0) {
            metric_add(c->m_decode_errors, 1);
            s_warn(c, in->session_id, "Opus packet", why);
        }
        return 0;
    }
    if (pcm_frames(pcm) > 0) {
        Voxmesh__PcmAudio p = VOXMESH__PCM_AUDIO__INIT;
        p.sample_rate = pcm_rate(pcm);
        p.channels = pcm_channels(pcm);
        p.format = VOXMESH__SAMPLE_FORMAT__SAMPLE_FORMAT_S16;
        p.samples.data = pcm_data(pcm);
        p.samples.len = pcm_bytes(pcm);
        event_t out = VOXMESH__ENVELOPE__INIT;
        out.session_id = in->session_id;
        out.origin_ts_us = in->origin_ts_us;
        out.payload_case = VOXMESH__ENVELOPE__PAYLOAD_PCM_AUDIO;
        out.pcm_audio = &p;
        bus_publish(service_bus(svc), TOPIC_AUDIO_IN_PCM, &out);
    }
    pcm_destroy(&pcm);
    return 0;
}

static int s_on_pcm_out(service_t *svc, bus_msg_t *msg, void *arg)
{
    s_codec_t *c = arg;
    event_t *in = msg->ev;
    if (in->payload_case != VOXMESH__ENVELOPE__PAYLOAD_PCM_AUDIO) return 0;
    codec_session_t *s = s_session(c, in->session_id);
    if (!s) return 0;
    Voxmesh__PcmAudio *p = in->pcm_audio;
    if (turn_cut_drop(codec_session_turns(s), p->turn_id)) {
        metric_add(c->m_cut, 1);   /* a reply the caller interrupted: its tail must not play */
        return 0;
    }
    const uint8_t *data = p->samples.data;
    size_t len = p->samples.len;
    size_t frame = p->channels * (p->format == VOXMESH__SAMPLE_FORMAT__SAMPLE_FORMAT_F32 ? 4 : 2);
    if (p->sentence && p->channels > 0 && p->channels <= 8 && len % frame == 0) {
        /* A worker that took the session over says a sentence again: the
         * part already received is not played twice. */
        size_t frames = len / frame;
        size_t skip = sentence_dedup_skip(codec_session_sentences(s), p->turn_id, p->sentence, p->sentence_offset,
                                          frames);
        if (skip) metric_add(c->m_repeated, (double)skip / (p->sample_rate ? p->sample_rate : 1));
        if (skip == frames) return 0;
        data += skip * frame;
        len -= skip * frame;
    }
    const char *why = NULL;
    if (codec_session_put(s, p->sample_rate, p->channels, (int)p->format, data, len, &why) < 0) {
        metric_add(c->m_rejected, 1);
        s_warn(c, in->session_id, "outbound PCM", why ? why : "out of memory");
        return 0;
    }
    uint8_t pkt[1500];
    uint32_t ts;
    int n;
    while ((n = codec_session_encode(s, pkt, sizeof pkt, &ts)) > 0) {
        Voxmesh__EncodedAudio a = VOXMESH__ENCODED_AUDIO__INIT;
        a.codec = "opus";
        a.sample_rate = 48000;
        a.channels = 1;
        a.rtp_timestamp = ts;
        a.duration_us = 20000;
        a.data.data = pkt;
        a.data.len = (size_t)n;
        a.turn_id = p->turn_id;
        event_t out = VOXMESH__ENVELOPE__INIT;
        out.session_id = in->session_id;
        out.origin_ts_us = in->origin_ts_us;
        out.payload_case = VOXMESH__ENVELOPE__PAYLOAD_ENCODED_AUDIO;
        out.encoded_audio = &a;
        bus_publish(service_bus(svc), TOPIC_AUDIO_OUT_OPUS, &out);
        metric_add(c->m_out, 1);
    }
    return 0;
}

static int s_on_interrupt(service_t *svc, bus_msg_t *msg, void *arg)
{
    (void)svc;
    s_codec_t *c = arg;
    codec_session_t *s = session_map_get(c->sessions, msg->ev->session_id);
    if (s) {
        turn_cut_interrupt(codec_session_turns(s));
        codec_session_flush(s);
        log_debug("session %s: outbound audio flushed (barge-in)", msg->ev->session_id);
    }
    return 0;
}

/* The TTS's word that a turn is over after a cut: audio of it that was on
 * its way when the interrupt came is dropped now. */
static int s_on_spoken(service_t *svc, bus_msg_t *msg, void *arg)
{
    (void)svc;
    s_codec_t *c = arg;
    if (msg->ev->payload_case != VOXMESH__ENVELOPE__PAYLOAD_TTS_SPOKEN) return 0;
    codec_session_t *s = session_map_get(c->sessions, msg->ev->session_id);
    if (s && turn_cut_upto(codec_session_turns(s), msg->ev->tts_spoken->turn_id)) {
        codec_session_flush(s);
        log_debug("session %s: turn %llu over: outbound audio flushed", msg->ev->session_id,
                  (unsigned long long)msg->ev->tts_spoken->turn_id);
    }
    return 0;
}

static int s_on_video(service_t *svc, bus_msg_t *msg, void *arg)
{
    s_codec_t *c = arg;
    if (msg->ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_ENCODED_VIDEO)
        codec_video_handle(c->video, service_bus(svc), msg->ev);
    return 0;
}

/* Frees the state of sessions that went quiet without an end event. */
static int s_reap_idle(service_t *svc, void *arg)
{
    (void)svc;
    s_codec_t *c = arg;
    if (session_map_reap(c->sessions)) metric_set(c->m_sessions, (double)session_map_size(c->sessions));
    return 0;
}

static const service_option_t s_options[] = {
    { "rate", "16000", "sample rate of the PCM published for consumers" },
    { "channels", "1", "channels of the PCM published for consumers" },
    { "bitrate", "32000", "outbound Opus bitrate, bits/s" },
    { "dtx", "false", "discontinuous transmission on outbound silence" },
    { "fec", "true", "in-band FEC in outbound Opus" },
    { "complexity", "5", "outbound Opus encoder complexity 0..10 (CPU against quality)" },
    { "low-delay", "false", "outbound Opus in its low-delay mode: 2.5 ms look-ahead instead of 6.5, no FEC" },
    { "video-fps", "5", "at most this many decoded video frames per second and session" },
    { "max-sessions", "1000", "sessions held at once" },
    { "idle-timeout-ms", "60000", "free a session's state after this long without events" },
    { NULL, NULL, NULL }
};

int main(int argc, char **argv)
{
    service_t *svc = service_new("codec", "Opus/VP8 decode and encode, resampling.", s_options, argc, argv);
    if (!svc) return 2;
    s_codec_t c = { .rl = LOG_RATELIMIT_INIT(5000, 10) };
    codec_config_defaults(&c.cfg);
    long rate, channels, bitrate, fps, complexity;
    if (service_opt_int(svc, "rate", 8000, 48000, &rate) < 0
        || service_opt_int(svc, "channels", 1, 2, &channels) < 0
        || service_opt_int(svc, "bitrate", 6000, 510000, &bitrate) < 0
        || service_opt_int(svc, "video-fps", 1, 60, &fps) < 0
        || service_opt_int(svc, "complexity", 0, 10, &complexity) < 0
        || service_opt_int(svc, "max-sessions", 1, 100000, &c.max_sessions) < 0
        || service_opt_int(svc, "idle-timeout-ms", 1000, 86400000, &c.idle_ms) < 0) {
        service_destroy(&svc);
        return 2;
    }
    c.cfg.out_rate = (uint32_t)rate;
    c.cfg.out_channels = (uint32_t)channels;
    c.cfg.bitrate = (int)bitrate;
    c.cfg.complexity = (int)complexity;
    c.cfg.low_delay = service_opt_bool(svc, "low-delay");
    c.cfg.dtx = service_opt_bool(svc, "dtx");
    c.cfg.fec = service_opt_bool(svc, "fec");

    service_publishes(svc, TOPIC_AUDIO_IN_PCM);
    service_publishes(svc, TOPIC_AUDIO_OUT_OPUS);
    service_publishes(svc, TOPIC_VIDEO_FRAME);
    service_on(svc, TOPIC_SESSION, s_on_session, &c);
    service_on(svc, TOPIC_AUDIO_IN_OPUS, s_on_opus, &c);
    service_on(svc, TOPIC_AUDIO_OUT_PCM, s_on_pcm_out, &c);
    service_on(svc, TOPIC_TURN_INTERRUPT, s_on_interrupt, &c);
    service_on_optional(svc, TOPIC_TTS_SPOKEN, s_on_spoken, &c);
    service_on(svc, TOPIC_VIDEO_IN_VP8, s_on_video, &c);
    service_every(svc, 5000, s_reap_idle, &c);
    int rc = service_start(svc);
    if (rc == 0) {
        metrics_t *m = service_metrics(svc);
        c.m_sessions = metrics_gauge(m, "voxmesh_codec_sessions", NULL, "Sessions with codec state");
        c.m_decode_errors = metrics_counter(m, "voxmesh_codec_decode_errors_total", NULL, "Corrupt Opus packets");
        c.m_rejected = metrics_counter(m, "voxmesh_codec_pcm_rejected_total", NULL, "Outbound PCM events rejected");
        c.m_lost = metrics_counter(m, "voxmesh_codec_packets_lost_total", NULL, "Inbound packets missing");
        c.m_out = metrics_counter(m, "voxmesh_codec_packets_out_total", NULL, "Outbound Opus packets");
        c.m_cut = metrics_counter(m, "voxmesh_codec_cut_audio_total", NULL, "Outbound PCM events of a cut turn dropped");
        c.m_repeated = metrics_counter(m, "voxmesh_codec_repeated_audio_seconds_total", NULL,
                                       "Agent audio received twice (a TTS takeover) and played once");
        c.video = codec_video_new((int)fps, m);
        c.sessions = session_map_new((size_t)c.max_sessions, (int64_t)c.idle_ms * 1000, s_make_session,
                                     s_free_session, &c);
        if (c.sessions && c.video) rc = service_run(svc);
        else rc = 1;
    }
    session_map_destroy(&c.sessions);
    codec_video_destroy(&c.video);
    service_destroy(&svc);
    return rc < 0 ? 1 : rc == 1 ? 0 : rc;
}
