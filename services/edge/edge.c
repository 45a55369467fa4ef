/* edge — the session bookkeeping shared by both session kinds (edge.h). */
#include "edge.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void edge_publish(edge_session_t *s, const char *topic, event_t *ev)
{
    ev->session_id = s->id;
    bus_publish(s->edge->bus, topic, ev);
}

void edge_observe_latency(edge_t *edge, int64_t origin_ts_us)
{
    if (origin_ts_us > 0) metric_observe(edge->m_mesh_latency, (time_now_us() - origin_ts_us) / 1e6);
}

static void s_session_metrics(edge_session_t *s, bool add)
{
    metrics_t *m = s->edge->metrics;
    if (!add) {
        metrics_remove(m, &s->m_packets_in);
        metrics_remove(m, &s->m_packets_out);
        metrics_remove(m, &s->m_lost);
        metrics_remove(m, &s->m_jitter);
        metrics_remove(m, &s->m_rtt);
        metrics_remove(m, &s->m_rejected);
        return;
    }
    char labels[96];
    snprintf(labels, sizeof labels, "session=\"%s\"", s->id);
    s->m_packets_in = metrics_counter(m, "voxmesh_edge_session_packets_in_total", labels, "Audio packets from the caller");
    s->m_packets_out = metrics_counter(m, "voxmesh_edge_session_packets_out_total", labels, "Audio packets to the caller");
    s->m_lost = metrics_gauge(m, "voxmesh_edge_session_packets_lost", labels, "Packets from the caller lost (RTP)");
    s->m_jitter = metrics_gauge(m, "voxmesh_edge_session_jitter_seconds", labels, "Interarrival jitter (RTP)");
    s->m_rtt = metrics_gauge(m, "voxmesh_edge_session_rtt_seconds", labels, "Round trip time from RTCP");
    s->m_rejected = metrics_gauge(m, "voxmesh_edge_session_rejected_datagrams", labels,
                                  "Datagrams dropped before the session: unknown kind, SRTP auth or replay failure");
}

int edge_session_register(edge_session_t *s, const char *transport, const char *codec, uint32_t rate,
                          bool video, pacer_send_fn *pace)
{
    edge_t *edge = s->edge;
    s->pacer = pacer_new(edge->ctx, edge->queue_ms, edge->pacer_jitter_ms, pace, s->impl);
    if (!s->pacer) return -ENOMEM;
    g_hash_table_insert(edge->sessions, s->id, s);
    s_session_metrics(s, true);
    metric_set(edge->m_sessions, g_hash_table_size(edge->sessions));

    Voxmesh__AudioFormat in = VOXMESH__AUDIO_FORMAT__INIT, out = VOXMESH__AUDIO_FORMAT__INIT;
    in.codec = out.codec = (char *)codec;
    in.sample_rate = out.sample_rate = rate;
    in.channels = out.channels = 1;
    Voxmesh__SessionStarted st = VOXMESH__SESSION_STARTED__INIT;
    st.transport = (char *)transport;
    st.audio_in = &in;
    st.audio_out = &out;
    st.has_video = video;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_SESSION_STARTED;
    ev.session_started = &st;
    edge_publish(s, TOPIC_SESSION, &ev);
    log_session_info(s->id, "started (%s, %s %u Hz%s)", transport, codec, rate, video ? ", video" : "");
    return 0;
}

static gboolean s_destroy_later(gpointer data)
{
    edge_session_t *s = data;
    s->destroy(s);
    return G_SOURCE_REMOVE;
}

void edge_session_end(edge_session_t *s, const char *reason)
{
    edge_t *edge = s->edge;
    if (s->pacer) {
        /* Registered: tell the mesh, stop sending at once. */
        Voxmesh__SessionEnded en = VOXMESH__SESSION_ENDED__INIT;
        en.reason = (char *)reason;
        event_t ev = VOXMESH__ENVELOPE__INIT;
        ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_SESSION_ENDED;
        ev.session_ended = &en;
        edge_publish(s, TOPIC_SESSION, &ev);
        pacer_destroy(&s->pacer);
        g_hash_table_remove(edge->sessions, s->id);
        s_session_metrics(s, false);
        metric_set(edge->m_sessions, g_hash_table_size(edge->sessions));
        log_session_info(s->id, "ended: %s", reason);
    }
    g_idle_add(s_destroy_later, s);
}

