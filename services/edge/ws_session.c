/* ws_session — see ws_session.h and docs/edge.md.
 *
 * pcm16 callers: their audio goes on the bus as PCM at the negotiated rate
 * (no lossy codec round trip); Opus callers: the Ogg pages are unwrapped and
 * the packets go on the bus as encoded audio, like WebRTC's. Outbound audio
 * is always Opus from the codec: re-wrapped in Ogg pages, or decoded to
 * pcm16 at the caller's rate. */
#include "ws_session.h"
#include "oggopus.h"
#include "opus_codec.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    edge_session_t base;
    edge_ws_t *conn;
    ws_hello_t hello;
    oggopus_reader_t *in_ogg;
    oggopus_writer_t *out_ogg;
    opus_dec_t *out_dec;            /* pcm16 callers */
    uint8_t carry;                  /* an odd byte left from the last pcm16 frame */
    bool have_carry;
    uint16_t in_seq;
    uint64_t in_frames;
    bool ended;
} ws_session_t;

static void s_destroy(edge_session_t *base)
{
    ws_session_t *s = (ws_session_t *)base;
    oggopus_reader_destroy(&s->in_ogg);
    oggopus_writer_destroy(&s->out_ogg);
    opus_dec_destroy(&s->out_dec);
    free(s);
}

static int s_ws_sink(void *arg, const uint8_t *data, size_t len)
{
    ws_session_t *s = arg;
    return edge_ws_send(s->conn, data, len) < 0 ? -1 : 0;
}

static void s_pace(void *arg, const uint8_t *data, size_t len, uint32_t duration_us, int64_t origin_ts_us,
                   unsigned gaps)
{
    (void)duration_us; (void)gaps;
    ws_session_t *s = arg;
    if (s->ended) return;
    if (s->hello.format == WS_FORMAT_OPUS) {
        if (oggopus_writer_write(s->out_ogg, data, len) < 0) return;
    } else {
        int16_t pcm[5760];
        int n = opus_dec_decode(s->out_dec, data, len, pcm, 5760);
        if (n <= 0 || edge_ws_send(s->conn, (const uint8_t *)pcm, (size_t)n * sizeof(int16_t)) < 0) return;
    }
    metric_add(s->base.m_packets_out, 1);
    edge_observe_latency(s->base.edge, origin_ts_us);
}

int ws_session_open(edge_t *edge, edge_ws_t *conn, const ws_hello_t *hello, const char **reason)
{
    ws_session_t *s = calloc(1, sizeof *s);
    if (!s) {
        *reason = "out of memory";
        return -1;
    }
    snprintf(s->base.id, sizeof s->base.id, "%s", edge_ws_id(conn));
    s->base.kind = EDGE_WS;
    s->base.edge = edge;
    s->base.impl = s;
    s->base.destroy = s_destroy;
    s->conn = conn;
    s->hello = *hello;
    if (hello->format == WS_FORMAT_OPUS) {
        oggopus_writer_config_t cfg;
        oggopus_writer_config_defaults(&cfg);
        cfg.channels = 1;
        cfg.input_rate = 48000;
        cfg.flush_ms = 0;              /* a page per packet: lowest latency */
        s->in_ogg = oggopus_reader_new();
        s->out_ogg = oggopus_writer_new(&cfg, s_ws_sink, s);
        if (!s->in_ogg || !s->out_ogg) goto fail;
    } else {
        s->out_dec = opus_dec_new(hello->sample_rate, 1);
        if (!s->out_dec) goto fail;
    }
    const char *codec = hello->format == WS_FORMAT_OPUS ? "opus" : "pcm16";
    uint32_t rate = hello->format == WS_FORMAT_OPUS ? 48000 : (uint32_t)hello->sample_rate;
    if (edge_session_register(&s->base, "ws", codec, rate, false, s_pace) < 0) goto fail;
    edge_ws_set_user(conn, &s->base);
    return 0;
fail:
    s_destroy(&s->base);
    *reason = "cannot create the session";
    return -1;
}

static void s_publish_pcm(ws_session_t *s, const uint8_t *data, size_t len)
{
    Voxmesh__PcmAudio p = VOXMESH__PCM_AUDIO__INIT;
    p.sample_rate = (uint32_t)s->hello.sample_rate;
    p.channels = 1;
    p.format = VOXMESH__SAMPLE_FORMAT__SAMPLE_FORMAT_S16;
    p.samples.data = (uint8_t *)data;
    p.samples.len = len;
    p.stream_offset = s->in_frames;
    s->in_frames += len / 2;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.origin_ts_us = time_now_us();
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_PCM_AUDIO;
    ev.pcm_audio = &p;
    edge_publish(&s->base, TOPIC_AUDIO_IN_PCM, &ev);
}

static void s_in_pcm16(ws_session_t *s, const uint8_t *data, size_t len)
{
    /* WebSocket frames need not hold whole samples: carry an odd byte over. */
    uint8_t *buf = malloc(len + 1);
    if (!buf) return;
    size_t n = 0;
    if (s->have_carry) buf[n++] = s->carry;
    memcpy(buf + n, data, len);
    n += len;
    s->have_carry = n % 2;
    if (s->have_carry) s->carry = buf[--n];
    if (n) s_publish_pcm(s, buf, n);
    free(buf);
    metric_add(s->base.m_packets_in, 1);
    metric_add(s->base.edge->m_audio_in, 1);
}

static void s_in_opus(ws_session_t *s, const uint8_t *data, size_t len)
{
    if (oggopus_reader_feed(s->in_ogg, data, len) < 0) goto bad;
    oggopus_packet_t pkt;
    int r;
    while ((r = oggopus_reader_next(s->in_ogg, &pkt)) == 1) {
        if (pkt.len == 0) continue;
        Voxmesh__EncodedAudio a = VOXMESH__ENCODED_AUDIO__INIT;
        a.codec = "opus";
        a.sample_rate = 48000;
        a.channels = 1;
        a.rtp_seq = s->in_seq++;
        a.rtp_timestamp = (uint32_t)pkt.granulepos;
        a.duration_us = (uint32_t)((int64_t)pkt.samples * 1000000 / 48000);
        a.data.data = (uint8_t *)pkt.data;
        a.data.len = pkt.len;
        event_t ev = VOXMESH__ENVELOPE__INIT;
        ev.origin_ts_us = time_now_us();
        ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_ENCODED_AUDIO;
        ev.encoded_audio = &a;
        edge_publish(&s->base, TOPIC_AUDIO_IN_OPUS, &ev);
        metric_add(s->base.m_packets_in, 1);
        metric_add(s->base.edge->m_audio_in, 1);
    }
    if (r == 0) return;
bad:
    log_session_warn(s->base.id, "bad Ogg/Opus stream: %s", oggopus_reader_strerror(s->in_ogg));
    metric_add(s->base.edge->m_bad_packets, 1);
    edge_ws_close(s->conn, "bad Ogg/Opus stream");
}

void ws_session_audio(edge_ws_t *conn, const uint8_t *data, size_t len)
{
    ws_session_t *s = edge_ws_user(conn);
    if (!s || s->ended) return;
    if (s->hello.format == WS_FORMAT_OPUS) s_in_opus(s, data, len);
    else s_in_pcm16(s, data, len);
}

void ws_session_close(edge_ws_t *conn)
{
    ws_session_t *s = edge_ws_user(conn);
    if (!s || s->ended) return;
    s->ended = true;
    edge_ws_set_user(conn, NULL);
    s->conn = NULL;
    edge_session_end(&s->base, "websocket closed");
}
