/* edge — what the edge daemon's sessions share: the bus, the metrics, the
 * GLib loop they all run on, the DTLS certificate, the HTTP front and the
 * table of live sessions (by id), plus the session kinds' common face.
 *
 * Threading: everything runs on one GLib main loop — libwebsockets, libnice,
 * DTLS/SRTP timers, the pacers and the bus — so sessions need no locks
 * (docs/edge.md says why and what that costs). */
#ifndef VOXMESH_EDGE_H
#define VOXMESH_EDGE_H

#include <glib.h>
#include <stdbool.h>
#include "bus.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "pacer.h"
#include "turn_cut.h"
#include "service.h"
#include "rtc/cert.h"

typedef struct edge_session edge_session_t;

typedef struct {
    service_t *svc;
    bus_t *bus;
    metrics_t *metrics;
    GMainLoop *loop;
    GMainContext *ctx;
    edge_http_t *http;
    rtc_cert_t *cert;
    GHashTable *sessions;           /* id -> edge_session_t */
    char **ice_addrs;               /* NULL-terminated; NULL: all local addresses */
    uint16_t port_min, port_max;
    bool accept_video;
    uint32_t queue_ms;              /* outbound audio queue per session */
    uint32_t pacer_jitter_ms;       /* delay spread live audio absorbs (pacer.h) */
    metric_t *m_sessions, *m_audio_in, *m_audio_out, *m_bad_packets, *m_flushes;
    metric_t *m_mesh_latency;       /* edge in -> edge out, from envelope timestamps */
    metric_t *m_voice_to_voice;     /* caller's end of speech -> first reply audio out */
    metric_t *m_cut_audio;          /* audio of a cut turn dropped */
    uint8_t silence[64];            /* 20 ms of Opus silence: ends a cut talk spurt cleanly */
    size_t silence_len;
    log_ratelimit_t rl;
} edge_t;

typedef enum { EDGE_WHIP, EDGE_WS } edge_kind_t;

/* The common face of a session: what bus events need to reach it. */
struct edge_session {
    char id[64];
    edge_kind_t kind;
    edge_t *edge;
    pacer_t *pacer;                 /* outbound audio, paced */
    turn_cut_t turns;               /* agent turns cut by barge-in (turn_cut.h) */
    void *impl;                     /* rtc_session_t or ws_session_t */
    void (*destroy)(edge_session_t *s);
    metric_t *m_packets_in, *m_packets_out, *m_lost, *m_jitter, *m_rtt, *m_rejected;
};

/* Publishes an event for the session (session id filled in). */
void edge_publish(edge_session_t *s, const char *topic, event_t *ev);

/* Registers the session (and its per-session metrics), publishes
 * session_started; `pace` is what the pacer calls per outbound frame. */
int edge_session_register(edge_session_t *s, const char *transport, const char *codec, uint32_t rate,
                          bool video, pacer_send_fn *pace);

/* Publishes session_ended, unregisters, frees (via s->destroy). Deferred to
 * an idle callback, so it is safe from any callback of the session. */
void edge_session_end(edge_session_t *s, const char *reason);

/* Observes the mesh's own latency for an outbound frame. */
void edge_observe_latency(edge_t *edge, int64_t origin_ts_us);

#endif
