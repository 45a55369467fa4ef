/* voxmesh-edge — where callers enter the mesh: WebRTC over WHIP and audio
 * over a WebSocket, turned into session and audio events on the bus; the
 * mesh's audio for each session paced back to its caller.
 *
 * One GLib main loop runs everything: libwebsockets (HTTP, WHIP, /ws),
 * libnice and DTLS/SRTP of every peer, the pacers, and the bus's SUB socket
 * (its ZMQ_FD is edge-triggered: always drained to empty).
 *
 * The feed (feed.h) turns the session's transcripts, reply text, VAD and
 * turn events into the page's event stream (GET /whip/<id>/events). */
#include "edge.h"
#include "feed.h"
#include "rtc_session.h"
#include "ws_session.h"
#include "opus_codec.h"
#include "log.h"

#include <glib-unix.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The conversation feed of the page's event streams: one per process, like
 * the loop it runs on (edge_t is shared with the session code, which has no
 * business with it). */
static feed_t *s_feed;

/* ---- the HTTP front's backend -------------------------------------------------- */

static size_t s_count(void *arg)
{
    return g_hash_table_size(((edge_t *)arg)->sessions);
}

static void s_metrics(void *arg, GString *out)
{
    char *text = metrics_render(((edge_t *)arg)->metrics);
    if (text) g_string_append(out, text);
    free(text);
}

static void s_whip_offer(void *arg, const char *id, const char *sdp, size_t len, edge_whip_reply_t *reply)
{
    rtc_session_offer(arg, id, sdp, len, reply);
}

static void s_whip_patch(void *arg, const char *id, void *session, const char *frag, size_t len,
                         bool if_match_any, edge_whip_reply_t *reply)
{
    (void)arg; (void)id; (void)if_match_any;
    rtc_session_patch(session, frag, len, reply);
}

static void s_whip_delete(void *arg, const char *id, void *session)
{
    (void)arg; (void)id;
    if (session) rtc_session_delete(session);
}

static int s_ws_open(void *arg, edge_ws_t *conn, const ws_hello_t *hello, const char **reason)
{
    return ws_session_open(arg, conn, hello, reason);
}

static void s_ws_audio(void *arg, edge_ws_t *conn, const uint8_t *data, size_t len)
{
    (void)arg;
    ws_session_audio(conn, data, len);
}

static void s_ws_close(void *arg, edge_ws_t *conn)
{
    (void)arg;
    ws_session_close(conn);
}

static int s_events_open(void *arg, const char *id, edge_sse_t *stream, const char **reason)
{
    edge_t *edge = arg;
    if (!g_hash_table_lookup(edge->sessions, id)) {
        *reason = "no such session";    /* answered, not yet connected, or ending */
        return -ENOENT;
    }
    return feed_attach(s_feed, id, stream);
}

static void s_events_close(void *arg, edge_sse_t *stream)
{
    (void)arg;
    feed_detach(s_feed, edge_sse_session(stream), stream);
}

/* ---- the feed's view of streams and pacers ------------------------------------ */

static int s_feed_send(void *stream, const char *json, size_t len, bool droppable)
{
    return edge_sse_send(stream, json, len, droppable);
}

static void s_feed_close(void *stream)
{
    edge_sse_close(stream);
}

static long s_feed_queued(void *arg, const char *id)
{
    edge_session_t *s = g_hash_table_lookup(((edge_t *)arg)->sessions, id);
    return s && s->pacer ? (long)pacer_queued_ms(s->pacer) : -1;
}

/* ---- the bus -------------------------------------------------------------------- */

static void s_on_event(edge_t *edge, bus_msg_t *m)
{
    edge_session_t *s = m->ev->session_id ? g_hash_table_lookup(edge->sessions, m->ev->session_id) : NULL;
    if (!s) return;                   /* not ours: another edge replica's, or ended */
    if (m->ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_ENCODED_AUDIO
        && !strncmp(m->topic, TOPIC_AUDIO_OUT_OPUS, strlen(TOPIC_AUDIO_OUT_OPUS))) {
        Voxmesh__EncodedAudio *a = m->ev->encoded_audio;
        uint64_t seen = s->turns.latest;
        if (turn_cut_drop(&s->turns, a->turn_id)) {
            metric_add(edge->m_cut_audio, 1);   /* the tail of a reply the caller cut */
            return;
        }
        if (a->turn_id > seen && m->ev->origin_ts_us > 0)   /* a reply's first audio: its origin is the end of speech */
            metric_observe(edge->m_voice_to_voice, (time_now_us() - m->ev->origin_ts_us) / 1e6);
        pacer_push(s->pacer, a->data.data, a->data.len, a->duration_us, m->ev->origin_ts_us);
        metric_add(edge->m_audio_out, 1);
        feed_audio_out(s_feed, s->id, a->turn_id, m->ev->origin_ts_us, time_now_us());
    } else if (m->ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_TTS_SPOKEN) {
        /* The TTS is done with a cut turn: whatever of it was still on its
         * way when the interrupt came goes now. */
        if (turn_cut_upto(&s->turns, m->ev->tts_spoken->turn_id)) {
            size_t n = pacer_flush(s->pacer);
            if (n) log_session_info(s->id, "turn %llu over: %zu queued frame(s) dropped",
                                    (unsigned long long)m->ev->tts_spoken->turn_id, n);
        }
    } else if (m->ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_TURN_INTERRUPT) {
        turn_cut_interrupt(&s->turns);
        size_t n = pacer_flush(s->pacer);
        /* Without packets the caller's decoder would conceal, extrapolating
         * the cut audio for a couple of hundred ms; a little real silence
         * makes it go quiet at once. */
        for (int i = 0; i < 2 && edge->silence_len; i++)
            pacer_push(s->pacer, edge->silence, edge->silence_len, 20000, m->ev->origin_ts_us);
        metric_add(edge->m_flushes, 1);
        log_session_info(s->id, "barge-in: %zu queued frame(s) dropped", n);
    }
    feed_bus(s_feed, s->id, m->ev, time_now_us());   /* transcripts, replies, VAD, cuts */
}

static void s_drain_bus(edge_t *edge)
{
    bus_msg_t *m;
    while ((m = bus_recv(edge->bus, 0))) {
        s_on_event(edge, m);
        bus_msg_destroy(&m);
    }
}

static gboolean s_on_bus_fd(gint fd, GIOCondition cond, gpointer data)
{
    (void)fd; (void)cond;
    s_drain_bus(data);
    return G_SOURCE_CONTINUE;
}

/* Housekeeping: watchdog, health, and a safety drain of the bus. */
static gboolean s_on_tick(gpointer data)
{
    edge_t *edge = data;
    s_drain_bus(edge);
    feed_tick(s_feed, time_now_us());
    service_watchdog(edge->svc);
    return G_SOURCE_CONTINUE;
}

static gboolean s_on_health(gpointer data)
{
    edge_t *edge = data;
    char detail[64];
    snprintf(detail, sizeof detail, "%u sessions", g_hash_table_size(edge->sessions));
    service_publish_health(edge->svc, "ready", detail);
    return G_SOURCE_CONTINUE;
}

static gboolean s_on_signal(gint fd, GIOCondition cond, gpointer data)
{
    (void)fd; (void)cond;
    g_main_loop_quit(((edge_t *)data)->loop);
    return G_SOURCE_REMOVE;
}

/* ---- start-up ------------------------------------------------------------------- */

static const service_option_t s_options[] = {
    { "listen", "127.0.0.1:8080", "HTTP address:port (WHIP at /whip, WebSocket at /ws, page at /)" },
    { "token", NULL, "require `Authorization: Bearer TOKEN` on every request but the preflight" },
    { "cors-origin", "*", "Access-Control-Allow-Origin" },
    { "max-sessions", "256", "WHIP sessions at once (503 beyond)" },
    { "ice-addr", NULL, "comma-separated addresses for ICE candidates (default: the listen address, or all)" },
    { "ice-ports", "0-0", "UDP port range for ICE, e.g. 20000-20999 (0-0: any)" },
    { "cert", NULL, "DTLS certificate (PEM); default: made at start-up" },
    { "key", NULL, "DTLS private key (PEM), with --cert" },
    { "video", "true", "accept VP8 video from callers" },
    { "queue-ms", "60000", "outbound audio buffered per session" },
    { "pacer-jitter-ms", "10", "live outbound audio absorbs this much delay spread (smooth arrivals for the caller)" },
    { NULL, NULL, NULL }
};

static int s_configure(edge_t *edge, edge_http_config_t *http)
{
    service_t *svc = edge->svc;
    edge_http_config_defaults(http);
    static char addr[64];
    const char *listen = service_opt(svc, "listen");
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof addr) {
        log_error("--listen: '%s' is not ADDRESS:PORT", listen);
        return -EINVAL;
    }
    snprintf(addr, sizeof addr, "%.*s", (int)(colon - listen), listen);
    http->listen_addr = addr;
    http->port = atoi(colon + 1);
    http->bearer_token = service_opt(svc, "token");
    http->cors_origin = service_opt(svc, "cors-origin");
    long max, queue, jitter;
    if (service_opt_int(svc, "max-sessions", 1, 100000, &max) < 0
        || service_opt_int(svc, "queue-ms", 100, 600000, &queue) < 0
        || service_opt_int(svc, "pacer-jitter-ms", 0, 200, &jitter) < 0)
        return -EINVAL;
    http->max_sessions = (size_t)max;
    edge->queue_ms = (uint32_t)queue;
    edge->pacer_jitter_ms = (uint32_t)jitter;
    unsigned lo = 0, hi = 0;
    if (sscanf(service_opt(svc, "ice-ports"), "%u-%u", &lo, &hi) != 2 || lo > hi || hi > 65535) {
        log_error("--ice-ports: '%s' is not LOW-HIGH", service_opt(svc, "ice-ports"));
        return -EINVAL;
    }
    edge->port_min = (uint16_t)lo;
    edge->port_max = (uint16_t)hi;
    const char *ice = service_opt(svc, "ice-addr");
    if (ice) edge->ice_addrs = g_strsplit(ice, ",", 16);
    else if (strcmp(addr, "0.0.0.0") && strcmp(addr, "::")) edge->ice_addrs = g_strsplit(addr, ",", 2);
    edge->accept_video = service_opt_bool(svc, "video");
    const char *cert = service_opt(svc, "cert"), *key = service_opt(svc, "key");
    edge->cert = cert ? rtc_cert_load(cert, key ? key : cert) : rtc_cert_new();
    if (!edge->cert) {
        log_error("no DTLS certificate%s%s", cert ? ": cannot load " : "", cert ? cert : "");
        return -EINVAL;
    }
    return 0;
}

static void s_register_metrics(edge_t *edge)
{
    metrics_t *m = edge->metrics;
    edge->m_sessions = metrics_gauge(m, "voxmesh_edge_sessions", NULL, "Sessions (WHIP and WebSocket)");
    edge->m_audio_in = metrics_counter(m, "voxmesh_edge_audio_in_total", NULL, "Audio packets from callers");
    edge->m_audio_out = metrics_counter(m, "voxmesh_edge_audio_out_total", NULL, "Audio events for callers");
    edge->m_bad_packets = metrics_counter(m, "voxmesh_edge_bad_packets_total", NULL, "Malformed packets dropped");
    edge->m_flushes = metrics_counter(m, "voxmesh_edge_flushes_total", NULL, "Outbound queues flushed on barge-in");
    edge->m_mesh_latency = metrics_histogram(m, "voxmesh_edge_mesh_latency_seconds", NULL,
                                             "Edge in to edge out, from envelope origin timestamps", NULL, 0);
    edge->m_voice_to_voice = metrics_histogram(m, "voxmesh_edge_voice_to_voice_seconds", NULL,
                                               "Caller's end of speech to the reply's first audio leaving the edge",
                                               NULL, 0);
    edge->m_cut_audio = metrics_counter(m, "voxmesh_edge_cut_audio_total", NULL,
                                        "Outbound audio of a turn the caller cut, dropped");
}

/* Encodes 20 ms of silence once, the frame sent after a barge-in flush. */
static void s_make_silence(edge_t *edge)
{
    opus_enc_config_t cfg;
    opus_enc_config_defaults(&cfg);
    cfg.rate = 48000;
    cfg.channels = 1;
    cfg.frame_ms = 20;
    opus_enc_t *enc = opus_enc_new(&cfg);
    int16_t zeros[960] = { 0 };
    int n = enc ? opus_enc_encode(enc, zeros, edge->silence, sizeof edge->silence) : -1;
    edge->silence_len = n > 0 ? (size_t)n : 0;
    opus_enc_destroy(&enc);
}

static void s_end_all(edge_t *edge)
{
    GList *all = g_hash_table_get_values(edge->sessions);
    for (GList *l = all; l; l = l->next) {
        edge_session_t *s = l->data;
        if (s->kind == EDGE_WHIP) rtc_session_delete(s);
        else edge_session_end(s, "edge stopping");
    }
    g_list_free(all);
    while (g_main_context_iteration(edge->ctx, FALSE)) {}   /* run the deferred frees */
}

int main(int argc, char **argv)
{
    service_t *svc = service_new("edge", "WebRTC (WHIP) and WebSocket edge of the mesh.", s_options, argc, argv);
    if (!svc) return 2;
    service_publishes(svc, TOPIC_SESSION);
    service_publishes(svc, TOPIC_AUDIO_IN_OPUS);
    service_publishes(svc, TOPIC_AUDIO_IN_PCM);
    service_publishes(svc, TOPIC_VIDEO_IN_VP8);
    service_subscribes(svc, TOPIC_AUDIO_OUT_OPUS);
    service_subscribes(svc, TOPIC_TURN_INTERRUPT);
    service_listens(svc, TOPIC_TTS_SPOKEN);
    /* For the page's conversation view only: a graph without them is fine. */
    service_listens(svc, TOPIC_STT);
    service_listens(svc, TOPIC_LLM);
    service_listens(svc, TOPIC_VAD_EVENT);
    int rc = service_start(svc);
    if (rc != 0) {
        service_destroy(&svc);
        return rc > 0 ? 0 : 1;
    }
    edge_t edge = { .svc = svc, .bus = service_bus(svc), .metrics = service_metrics(svc),
                    .rl = LOG_RATELIMIT_INIT(5000, 10) };
    edge.ctx = g_main_context_default();
    edge.loop = g_main_loop_new(edge.ctx, FALSE);
    edge.sessions = g_hash_table_new(g_str_hash, g_str_equal);
    edge_http_config_t http_cfg;
    const feed_ops_t feed_ops = { .send = s_feed_send, .close = s_feed_close, .queued_ms = s_feed_queued };
    s_feed = feed_new(&feed_ops, &edge);
    rc = 1;
    if (s_feed && s_configure(&edge, &http_cfg) == 0) {
        s_register_metrics(&edge);
        s_make_silence(&edge);
        const edge_http_backend_t backend = {
            .session_count = s_count, .metrics = s_metrics, .whip_offer = s_whip_offer,
            .whip_patch = s_whip_patch, .whip_delete = s_whip_delete, .ws_open = s_ws_open,
            .ws_audio = s_ws_audio, .ws_close = s_ws_close,
            .events_open = s_events_open, .events_close = s_events_close,
        };
        edge.http = edge_http_new(&http_cfg, &backend, &edge, edge.loop);
    }
    if (edge.http) {
        log_info("listening on http://%s:%d/ (WHIP /whip, WebSocket /ws)", http_cfg.listen_addr,
                 edge_http_port(edge.http));
        g_unix_fd_add(bus_sub_fd(edge.bus), G_IO_IN, s_on_bus_fd, &edge);
        g_unix_fd_add(service_signal_fd(svc), G_IO_IN, s_on_signal, &edge);
        g_timeout_add(50, s_on_tick, &edge);
        long health = service_health_interval_ms(svc);
        if (health > 0) g_timeout_add((guint)health, s_on_health, &edge);
        service_publish_health(svc, "ready", NULL);
        service_notify_ready(svc);
        if (!service_stopping(svc)) g_main_loop_run(edge.loop);
        service_publish_health(svc, "stopping", NULL);
        s_end_all(&edge);
        edge_http_destroy(&edge.http);      /* the streams detach from the feed in here */
        rc = 0;
    }
    feed_destroy(&s_feed);
    g_hash_table_destroy(edge.sessions);
    g_strfreev(edge.ice_addrs);
    rtc_cert_destroy(&edge.cert);
    g_main_loop_unref(edge.loop);
    service_destroy(&svc);
    return rc;
}
