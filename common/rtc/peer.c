/* peer — see peer.h and docs/webrtc-transport.md.
 *
 * Re-entrancy. libnice emits its signals synchronously at the end of API
 * calls (e.g. "component-state-changed" inside nice_agent_set_remote_
 * candidates) and calls the receive callback from its socket sources; user
 * callbacks may call back into us, including rtc_peer_destroy(). Every entry
 * point therefore runs between s_enter()/s_leave(): depth counts the frames of
 * this peer on the stack, and a destroy requested inside a frame only marks
 * the peer dead; the outermost s_leave() frees it. User-visible events
 * (state, gathered) raised while an rtc_peer_* call is on the stack are
 * delivered from an idle source instead, so callbacks never run inside the
 * caller's own calls. When the outermost frame is a libnice callback, the
 * agent is released from an idle source too, never while libnice is still
 * executing on it. */
#include "rtc/peer.h"

#include "log.h"
#include "rtc/srtp_ctx.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nice/agent.h>

#define COMPONENT 1                 /* rtcp-mux + BUNDLE: the only component */
#define MAX_PACKET 1500             /* RTP/RTCP we send, before SRTP overhead */
#define RECV_BUF 2048               /* larger datagrams are dropped */
#define EARLY_DTLS_MAX 8            /* DTLS datagrams kept until ICE is up */
#define DEFAULT_CONNECT_TIMEOUT_MS 30000

typedef enum { FRAME_API, FRAME_NICE, FRAME_SOURCE } frame_t;

typedef struct {
    size_t len;
    uint8_t data[MAX_PACKET];
} early_t;

struct rtc_peer {
    char label[64];
    GMainContext *ctx;
    NiceAgent *agent;
    guint stream_id;
    rtc_cert_t *cert;

    /* user callbacks (cleared on destroy) */
    void (*on_state)(rtc_peer_t *, rtc_peer_state_t, void *);
    void (*on_gathered)(rtc_peer_t *, void *);
    void (*on_rtp)(rtc_peer_t *, uint8_t *, size_t, void *);
    void (*on_rtcp)(rtc_peer_t *, uint8_t *, size_t, void *);
    void *user;

    /* state */
    rtc_peer_state_t state;
    rtc_peer_state_t reported;      /* last state given to on_state */
    char failure[256];
    bool gathering, gathered, gathered_reported;
    bool remote_creds;
    bool ice_up;                    /* component CONNECTED/READY at least once */
    char *local_ufrag, *local_pwd;

    /* DTLS-SRTP */
    rtc_dtls_role_t dtls_role;
    bool have_fingerprint;
    char remote_fingerprint[256];
    unsigned dtls_timeout_ms;
    unsigned connect_timeout_ms;
    rtc_dtls_t *dtls;
    rtc_srtp_t *srtp;
    rtc_srtp_profile_t profile;
    early_t *early;                 /* EARLY_DTLS_MAX slots, allocated on demand */
    int n_early;

    /* our sources on ctx */
    GSource *dtls_timer;
    GSource *connect_timer;
    GSource *notify_idle;

    /* re-entrancy (see the top of this file) */
    int depth, api_depth;
    bool dead;

    /* stats */
    rtc_peer_stats_t st;
    log_ratelimit_t rl;             /* dropped datagrams (debug) */
    log_ratelimit_t rl_signal;      /* bad signalling input (warn) */

    uint8_t rbuf[RECV_BUF];                             /* receive + unprotect */
    uint8_t sbuf[MAX_PACKET + RTC_SRTP_MAX_OVERHEAD];   /* copy + protect */
};

static void s_free(rtc_peer_t *p, bool in_nice);

/* Warnings about what the remote side signalled (candidates, credentials):
 * a client can send any number of them, so they are rate-limited. */
#define WARN_RL(p, ...) do { \
        if (log_ratelimit_ok(&(p)->rl_signal, NULL)) log_warn(__VA_ARGS__); \
    } while (0)

static void s_dtls_maybe_start(rtc_peer_t *p);

/* A log-safe copy of peer-supplied text: no control characters (a newline
 * would forge log lines), at most size-1 bytes. */
static const char *s_printable(const char *in, char *out, size_t size)
{
    size_t i = 0;
    for (; in && in[i] && i + 1 < size; i++)
        out[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
    out[i] = '\0';
    return out;
}

/* ---- frames, deferred free ---------------------------------------------------- */

static void s_enter(rtc_peer_t *p, frame_t f)
{
    p->depth++;
    if (f == FRAME_API) p->api_depth++;
}

/* Returns true when the peer was freed: the caller must not touch it. */
static bool s_leave(rtc_peer_t *p, frame_t f)
{
    p->depth--;
    if (f == FRAME_API) p->api_depth--;
    if (p->depth == 0 && p->dead) {
        s_free(p, f == FRAME_NICE);
        return true;
    }
    return false;
}

static void s_source_clear(GSource **s)
{
    if (*s) {
        g_source_destroy(*s);
        g_source_unref(*s);
        *s = NULL;
    }
}

static GSource *s_timeout_new(rtc_peer_t *p, unsigned ms, GSourceFunc fn)
{
    GSource *s = ms ? g_timeout_source_new(ms) : g_idle_source_new();
    /* Idle sources default to a priority below I/O and timers; with hundreds
     * of agents on one context something of default priority is nearly
     * always ready, and our events would starve. */
    g_source_set_priority(s, G_PRIORITY_DEFAULT);
    g_source_set_callback(s, fn, p, NULL);
    g_source_attach(s, p->ctx);
    return s;
}

/* ---- state and notifications ---------------------------------------------------- */

const char *rtc_peer_state_name(rtc_peer_state_t state)
{
    switch (state) {
    case RTC_PEER_NEW: return "new";
    case RTC_PEER_CHECKING: return "checking";
    case RTC_PEER_CONNECTED: return "connected";
    case RTC_PEER_FAILED: return "failed";
    case RTC_PEER_CLOSED: return "closed";
    }
    return "?";
}

static bool s_terminal(const rtc_peer_t *p)
{
    return p->state == RTC_PEER_FAILED || p->state == RTC_PEER_CLOSED;
}

/* Delivers pending events; only from a frame with no rtc_peer_* call on the
 * stack. Stops as soon as a callback destroys the peer. */
static void s_deliver(rtc_peer_t *p)
{
    while (!p->dead) {
        if (p->gathered && !p->gathered_reported) {
            p->gathered_reported = true;
            if (p->on_gathered)
                p->on_gathered(p, p->user);
            continue;
        }
        if (p->reported != p->state) {
            rtc_peer_state_t st = p->state;
            p->reported = st;
            if (p->on_state)
                p->on_state(p, st, p->user);
            continue;
        }
        break;
    }
}

static gboolean s_notify_idle(gpointer data)
{
    rtc_peer_t *p = data;
    s_source_clear(&p->notify_idle);
    s_enter(p, FRAME_SOURCE);
    s_deliver(p);
    s_leave(p, FRAME_SOURCE);
    return G_SOURCE_REMOVE;
}

static void s_notify(rtc_peer_t *p)
{
    if (p->dead)
        return;
    if (p->api_depth > 0) {
        if (!p->notify_idle)
            p->notify_idle = s_timeout_new(p, 0, s_notify_idle);
        return;
    }
    s_deliver(p);
}

static void s_set_state(rtc_peer_t *p, rtc_peer_state_t st, const char *why)
{
    if (s_terminal(p) || p->state == st)
        return;
    if (st == RTC_PEER_FAILED) {
        snprintf(p->failure, sizeof p->failure, "%s", why ? why : "failed");
        log_warn("peer %s: %s -> failed: %s", p->label, rtc_peer_state_name(p->state), p->failure);
    } else {
        log_info("peer %s: %s -> %s%s%s", p->label, rtc_peer_state_name(p->state),
                 rtc_peer_state_name(st), why ? ": " : "", why ? why : "");
    }
    p->state = st;
    if (s_terminal(p) || st == RTC_PEER_CONNECTED)
        s_source_clear(&p->connect_timer);
    if (s_terminal(p)) {
        s_source_clear(&p->dtls_timer);
        p->n_early = 0;
    }
    s_notify(p);
}

/* ---- DTLS ------------------------------------------------------------------------ */

static void s_dtls_send(const uint8_t *data, size_t len, void *user)
{
    rtc_peer_t *p = user;
    gint n = nice_agent_send(p->agent, p->stream_id, COMPONENT, (guint)len, (const gchar *)data);
    if (n < 0 || (size_t)n != len) {
        p->st.send_errors++;
        return;
    }
    p->st.dtls_out++;
    p->st.packets_out++;
    p->st.bytes_out += len;
}

static gboolean s_dtls_timer_cb(gpointer data);

static void s_dtls_arm(rtc_peer_t *p)
{
    s_source_clear(&p->dtls_timer);
    if (p->dead || !p->dtls || s_terminal(p))
        return;
    int ms = rtc_dtls_timeout_ms(p->dtls);
    if (ms >= 0)
        p->dtls_timer = s_timeout_new(p, (unsigned)ms, s_dtls_timer_cb);
}

/* Acts on the DTLS state after every DTLS call. */
static void s_dtls_check(rtc_peer_t *p)
{
    if (!p->dtls || s_terminal(p))
        return;
    switch (rtc_dtls_state(p->dtls)) {
    case RTC_DTLS_FAILED: {
        char why[300];
        snprintf(why, sizeof why, "DTLS: %s", rtc_dtls_failure(p->dtls));
        s_set_state(p, RTC_PEER_FAILED, why);
        return;
    }
    case RTC_DTLS_CLOSED:
        s_set_state(p, RTC_PEER_CLOSED, "DTLS close_notify from remote");
        return;
    case RTC_DTLS_CONNECTED:
        if (!p->srtp) {
            rtc_srtp_keys_t keys;
            if (rtc_dtls_srtp_keys(p->dtls, &keys) < 0) {
                s_set_state(p, RTC_PEER_FAILED, "DTLS: cannot export SRTP keys");
                return;
            }
            p->srtp = rtc_srtp_new(&keys, p->label);
            p->profile = keys.profile;
            explicit_bzero(&keys, sizeof keys);
            if (!p->srtp) {
                s_set_state(p, RTC_PEER_FAILED, "SRTP: cannot create sessions");
                return;
            }
            log_debug("peer %s: SRTP keyed (%s)", p->label, rtc_srtp_profile_name(p->profile));
            s_set_state(p, RTC_PEER_CONNECTED, NULL);
        }
        break;
    default:
        break;
    }
    s_dtls_arm(p);
}

static gboolean s_dtls_timer_cb(gpointer data)
{
    rtc_peer_t *p = data;
    s_source_clear(&p->dtls_timer);
    s_enter(p, FRAME_SOURCE);
    rtc_dtls_handle_timeout(p->dtls);
    s_dtls_check(p);
    s_leave(p, FRAME_SOURCE);
    return G_SOURCE_REMOVE;
}

/* DTLS starts once ICE has a working pair and the remote fingerprint is
 * known. Datagrams that arrive earlier (the remote saw ICE complete first, or
 * the answer carrying the fingerprint is still on its way) are kept and
 * replayed now, so set-up does not wait for a retransmission. */
static void s_dtls_maybe_start(rtc_peer_t *p)
{
    if (p->dead || p->dtls || !p->ice_up || !p->have_fingerprint || s_terminal(p))
        return;
    rtc_dtls_config_t dc = {
        .label = p->label,
        .role = p->dtls_role,
        .cert = p->cert,
        .remote_fingerprint = p->remote_fingerprint,
        .handshake_timeout_ms = p->dtls_timeout_ms,
        .send = s_dtls_send,
        .user = p,
    };
    p->dtls = rtc_dtls_new(&dc);
    if (!p->dtls) {
        s_set_state(p, RTC_PEER_FAILED, "DTLS: cannot create endpoint");
        return;
    }
    log_debug("peer %s: DTLS %s starting", p->label,
              p->dtls_role == RTC_DTLS_ROLE_CLIENT ? "client" : "server");
    rtc_dtls_start(p->dtls);
    for (int i = 0; i < p->n_early && rtc_dtls_state(p->dtls) == RTC_DTLS_CONNECTING; i++)
        rtc_dtls_input(p->dtls, p->early[i].data, p->early[i].len);
    p->n_early = 0;
    free(p->early);
    p->early = NULL;
    s_dtls_check(p);
}

static void s_on_dtls(rtc_peer_t *p, const uint8_t *buf, size_t len)
{
    p->st.dtls_in++;
    if (s_terminal(p))
        return;
    if (!p->dtls) {
        if (len > MAX_PACKET || p->n_early >= EARLY_DTLS_MAX) {
            p->st.dropped++;
            return;
        }
        if (!p->early && !(p->early = malloc(sizeof *p->early * EARLY_DTLS_MAX))) {
            p->st.dropped++;
            return;
        }
        memcpy(p->early[p->n_early].data, buf, len);
        p->early[p->n_early].len = len;
        p->n_early++;
        log_debug("peer %s: DTLS datagram before ICE is up (or no fingerprint yet): kept",
                  p->label);
        return;
    }
    rtc_dtls_input(p->dtls, buf, len);
    s_dtls_check(p);
}

/* ---- SRTP receive ------------------------------------------------------------------ */

static void s_log_drop(rtc_peer_t *p, const char *what, size_t len, int first)
{
    uint64_t sup = 0;
    if (log_ratelimit_ok(&p->rl, &sup))
        log_debug("peer %s: dropped %zu-byte datagram (%s, first byte %d)%s", p->label, len,
                  what, first, sup ? " (more suppressed)" : "");
}

static void s_on_srtp(rtc_peer_t *p, const uint8_t *buf, size_t len)
{
    if (!p->srtp || p->state != RTC_PEER_CONNECTED) {
        p->st.dropped++;   /* media before keys: the handshake is still under way */
        return;
    }
    /* RFC 5761 4: RTCP packet types 192..223 occupy the RTP payload-type (and
     * marker) byte range that RTP must not use with rtcp-mux. */
    bool rtcp = len >= 2 && buf[1] >= 192 && buf[1] <= 223;
    memcpy(p->rbuf, buf, len);
    size_t n = len;
    int r = rtcp ? rtc_srtp_unprotect_rtcp(p->srtp, p->rbuf, &n)
                 : rtc_srtp_unprotect_rtp(p->srtp, p->rbuf, &n);
    if (r < 0)
        return;   /* counted and rate-limit logged by srtp_ctx */
    if (rtcp) {
        p->st.rtcp_in++;
        if (p->on_rtcp) p->on_rtcp(p, p->rbuf, n, p->user);
    } else {
        p->st.rtp_in++;
        if (p->on_rtp) p->on_rtp(p, p->rbuf, n, p->user);
    }
}

/* RFC 7983 demultiplexing by the first byte: 0..3 STUN (libnice consumed
 * those already), 20..63 DTLS, 64..79 TURN channel (not used), 128..191
 * RTP/RTCP. Anything else is dropped and counted; it must never disturb the
 * session. */
static void s_on_recv(NiceAgent *agent, guint stream_id, guint component_id, guint len,
                      gchar *buf, gpointer data)
{
    (void)agent;
    (void)stream_id;
    (void)component_id;
    rtc_peer_t *p = data;
    if (p->dead)
        return;
    s_enter(p, FRAME_NICE);
    p->st.packets_in++;
    p->st.bytes_in += len;
    const uint8_t *b = (const uint8_t *)buf;
    if (len == 0 || len > RECV_BUF) {
        p->st.dropped++;
        s_log_drop(p, "size", len, len ? b[0] : -1);
    } else if (b[0] >= 20 && b[0] <= 63) {
        s_on_dtls(p, b, len);
    } else if (b[0] >= 128 && b[0] <= 191) {
        s_on_srtp(p, b, len);
    } else {
        p->st.dropped++;
        s_log_drop(p, "not DTLS/RTP", len, b[0]);
    }
    s_leave(p, FRAME_NICE);
}

/* ---- libnice signals -------------------------------------------------------------- */

static void s_refresh_credentials(rtc_peer_t *p)
{
    gchar *u = NULL, *w = NULL;
    if (nice_agent_get_local_credentials(p->agent, p->stream_id, &u, &w)) {
        g_free(p->local_ufrag);
        g_free(p->local_pwd);
        p->local_ufrag = u;
        p->local_pwd = w;
    }
}

static void s_on_gathering_done(NiceAgent *agent, guint stream_id, gpointer data)
{
    (void)agent;
    rtc_peer_t *p = data;
    if (p->dead || stream_id != p->stream_id)
        return;
    s_enter(p, FRAME_NICE);
    if (!p->gathered) {
        p->gathered = true;
        GSList *l = nice_agent_get_local_candidates(p->agent, p->stream_id, COMPONENT);
        log_info("peer %s: gathered %u local candidate(s)", p->label, g_slist_length(l));
        g_slist_free_full(l, (GDestroyNotify)nice_candidate_free);
        s_notify(p);
    }
    s_leave(p, FRAME_NICE);
}

static void s_on_component_state(NiceAgent *agent, guint stream_id, guint component_id,
                                 guint state, gpointer data)
{
    (void)agent;
    rtc_peer_t *p = data;
    if (p->dead || stream_id != p->stream_id || component_id != COMPONENT)
        return;
    s_enter(p, FRAME_NICE);
    log_debug("peer %s: ICE %s", p->label, nice_component_state_to_string(state));
    switch (state) {
    case NICE_COMPONENT_STATE_CONNECTING:
        if (p->state == RTC_PEER_NEW)
            s_set_state(p, RTC_PEER_CHECKING, NULL);
        break;
    case NICE_COMPONENT_STATE_CONNECTED:
    case NICE_COMPONENT_STATE_READY:
        /* Both are usable: CONNECTED has a working pair, READY has also
         * concluded nomination. */
        if (p->state == RTC_PEER_NEW)
            s_set_state(p, RTC_PEER_CHECKING, NULL);
        if (!p->ice_up) {
            p->ice_up = true;
            s_dtls_maybe_start(p);
        }
        break;
    case NICE_COMPONENT_STATE_FAILED:
        s_set_state(p, RTC_PEER_FAILED, p->ice_up ? "ICE failed (connectivity or consent lost)"
                                                  : "ICE failed (no working candidate pair)");
        break;
    default:
        break;
    }
    s_leave(p, FRAME_NICE);
}

static const char *s_cand_type(NiceCandidateType t)
{
    switch (t) {
    case NICE_CANDIDATE_TYPE_HOST: return "host";
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE: return "srflx";
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE: return "prflx";
    case NICE_CANDIDATE_TYPE_RELAYED: return "relay";
    }
    return "?";
}

static void s_addr_str(const NiceAddress *a, char *out, size_t size)
{
    char ip[NICE_ADDRESS_STRING_LEN];
    nice_address_to_string(a, ip);
    if (strchr(ip, ':'))
        snprintf(out, size, "[%s]:%u", ip, nice_address_get_port(a));
    else
        snprintf(out, size, "%s:%u", ip, nice_address_get_port(a));
}

static void s_on_selected_pair(NiceAgent *agent, guint stream_id, guint component_id,
                               NiceCandidate *lc, NiceCandidate *rc, gpointer data)
{
    (void)agent;
    rtc_peer_t *p = data;
    if (p->dead || stream_id != p->stream_id || component_id != COMPONENT || !lc || !rc)
        return;
    s_enter(p, FRAME_NICE);
    s_addr_str(&lc->addr, p->st.local_addr, sizeof p->st.local_addr);
    s_addr_str(&rc->addr, p->st.remote_addr, sizeof p->st.remote_addr);
    snprintf(p->st.local_type, sizeof p->st.local_type, "%s", s_cand_type(lc->type));
    snprintf(p->st.remote_type, sizeof p->st.remote_type, "%s", s_cand_type(rc->type));
    log_info("peer %s: ICE selected pair %s %s <-> %s %s", p->label, p->st.local_type,
             p->st.local_addr, p->st.remote_type, p->st.remote_addr);
    s_leave(p, FRAME_NICE);
}

/* ---- lifecycle --------------------------------------------------------------------- */

static gboolean s_connect_timeout_cb(gpointer data)
{
    rtc_peer_t *p = data;
    s_source_clear(&p->connect_timer);
    s_enter(p, FRAME_SOURCE);
    char why[96];
    snprintf(why, sizeof why, "not connected within %u ms (%s)", p->connect_timeout_ms,
             !p->ice_up ? "ICE" : !p->dtls ? "no remote fingerprint" : "DTLS");
    s_set_state(p, RTC_PEER_FAILED, why);
    s_leave(p, FRAME_SOURCE);
    return G_SOURCE_REMOVE;
}

static void s_set_bool_if_exists(NiceAgent *agent, const char *prop, gboolean v)
{
    if (g_object_class_find_property(G_OBJECT_GET_CLASS(agent), prop))
        g_object_set(agent, prop, v, NULL);
}

rtc_peer_t *rtc_peer_new(GMainContext *ctx, const rtc_peer_config_t *cfg)
{
    const char *label = cfg && cfg->label ? cfg->label : "?";
    if (!ctx || !cfg || !cfg->cert) {
        log_error("peer %s: a main context and a certificate are required", label);
        return NULL;
    }
    if (cfg->port_min > cfg->port_max) {
        log_error("peer %s: bad port range %u-%u", label, cfg->port_min, cfg->port_max);
        return NULL;
    }
    rtc_fingerprint_t fp;
    if (cfg->remote_fingerprint && rtc_fingerprint_parse(cfg->remote_fingerprint, &fp) < 0) {
        log_error("peer %s: bad remote fingerprint \"%.120s\"", label, cfg->remote_fingerprint);
        return NULL;
    }
    rtc_peer_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    snprintf(p->label, sizeof p->label, "%s", label);
    p->ctx = g_main_context_ref(ctx);
    p->cert = rtc_cert_ref(cfg->cert);
    p->on_state = cfg->on_state;
    p->on_gathered = cfg->on_gathered;
    p->on_rtp = cfg->on_rtp;
    p->on_rtcp = cfg->on_rtcp;
    p->user = cfg->user;
    p->state = p->reported = RTC_PEER_NEW;
    p->dtls_role = cfg->dtls_role;
    p->dtls_timeout_ms = cfg->dtls_timeout_ms;
    p->connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms
                                                    : DEFAULT_CONNECT_TIMEOUT_MS;
    if (cfg->remote_fingerprint) {
        snprintf(p->remote_fingerprint, sizeof p->remote_fingerprint, "%s", cfg->remote_fingerprint);
        p->have_fingerprint = true;
    }
    p->rl = (log_ratelimit_t)LOG_RATELIMIT_INIT(5000, 5);
    p->rl_signal = (log_ratelimit_t)LOG_RATELIMIT_INIT(5000, 5);

    /* Trickle mode: libnice does not declare failure while more remote
     * candidates may come; rtc_peer_remote_end_of_candidates() ends that,
     * and the connect timeout bounds it. Aggressive nomination (the default
     * without REGULAR_NOMINATION) when we control: fastest to a usable pair. */
    NiceAgentOption opts = NICE_AGENT_OPTION_ICE_TRICKLE;
    if (cfg->consent_freshness)
        opts |= NICE_AGENT_OPTION_CONSENT_FRESHNESS;
    p->agent = nice_agent_new_full(ctx, NICE_COMPATIBILITY_RFC5245, opts);
    if (!p->agent) {
        log_error("peer %s: nice_agent_new_full failed", p->label);
        goto fail;
    }
    /* UDP only: browsers' ICE-TCP is a fallback we do not need for a server
     * with a reachable UDP port, and it would widen the attack surface. */
    g_object_set(p->agent, "controlling-mode", cfg->controlling ? TRUE : FALSE,
                 "ice-udp", TRUE, "ice-tcp", FALSE, NULL);
    /* UPnP discovery would delay gathering by seconds for nothing. */
    s_set_bool_if_exists(p->agent, "upnp", FALSE);
    if (cfg->stun_server) {
        NiceAddress a;
        if (!nice_address_set_from_string(&a, cfg->stun_server)) {
            log_error("peer %s: STUN server must be an IP address: \"%s\"", p->label, cfg->stun_server);
            goto fail;
        }
        g_object_set(p->agent, "stun-server", cfg->stun_server,
                     "stun-server-port", (guint)(cfg->stun_port ? cfg->stun_port : 3478), NULL);
    }
    for (const char *const *a = cfg->bind_addrs; a && *a; a++) {
        NiceAddress na;
        if (!nice_address_set_from_string(&na, *a)) {
            log_error("peer %s: bad bind address \"%s\"", p->label, *a);
            goto fail;
        }
        nice_address_set_port(&na, 0);
        nice_agent_add_local_address(p->agent, &na);
    }
    g_signal_connect(p->agent, "candidate-gathering-done", G_CALLBACK(s_on_gathering_done), p);
    g_signal_connect(p->agent, "component-state-changed", G_CALLBACK(s_on_component_state), p);
    g_signal_connect(p->agent, "new-selected-pair-full", G_CALLBACK(s_on_selected_pair), p);
    p->stream_id = nice_agent_add_stream(p->agent, 1);
    if (!p->stream_id) {
        log_error("peer %s: nice_agent_add_stream failed", p->label);
        goto fail;
    }
    if (cfg->port_min || cfg->port_max)
        nice_agent_set_port_range(p->agent, p->stream_id, COMPONENT, cfg->port_min, cfg->port_max);
    if (!nice_agent_attach_recv(p->agent, p->stream_id, COMPONENT, ctx, s_on_recv, p)) {
        log_error("peer %s: nice_agent_attach_recv failed", p->label);
        goto fail;
    }
    s_refresh_credentials(p);
    if (!p->local_ufrag || !p->local_pwd) {
        log_error("peer %s: no local ICE credentials", p->label);
        goto fail;
    }
    log_debug("peer %s: created (ICE %s, DTLS %s)", p->label,
              cfg->controlling ? "controlling" : "controlled",
              p->dtls_role == RTC_DTLS_ROLE_CLIENT ? "client" : "server");
    return p;
fail:
    s_free(p, false);
    return NULL;
}

static gboolean s_unref_agent_idle(gpointer data)
{
    g_object_unref(data);
    return G_SOURCE_REMOVE;
}

static void s_free(rtc_peer_t *p, bool in_nice)
{
    s_source_clear(&p->dtls_timer);
    s_source_clear(&p->connect_timer);
    s_source_clear(&p->notify_idle);
    if (p->agent) {
        g_signal_handlers_disconnect_by_data(p->agent, p);
        if (p->stream_id)
            nice_agent_attach_recv(p->agent, p->stream_id, COMPONENT, p->ctx, NULL, NULL);
        if (in_nice) {
            /* libnice is still running on this agent further up the stack. */
            GSource *s = g_idle_source_new();
            g_source_set_callback(s, s_unref_agent_idle, p->agent, NULL);
            g_source_attach(s, p->ctx);
            g_source_unref(s);
        } else {
            g_object_unref(p->agent);
        }
        p->agent = NULL;
    }
    rtc_dtls_destroy(&p->dtls);
    rtc_srtp_destroy(&p->srtp);
    rtc_cert_destroy(&p->cert);
    free(p->early);
    g_free(p->local_ufrag);
    g_free(p->local_pwd);
    g_main_context_unref(p->ctx);
    free(p);
}

void rtc_peer_destroy(rtc_peer_t **pp)
{
    if (!pp || !*pp)
        return;
    rtc_peer_t *p = *pp;
    *pp = NULL;
    if (p->dead)
        return;
    log_debug("peer %s: destroy", p->label);
    p->dead = true;
    p->on_state = NULL;
    p->on_gathered = NULL;
    p->on_rtp = NULL;
    p->on_rtcp = NULL;
    if (p->depth == 0)
        s_free(p, false);
    /* else: the outermost frame frees it (s_leave) */
}

/* ---- API ------------------------------------------------------------------------------ */

int rtc_peer_gather(rtc_peer_t *p)
{
    if (!p || p->dead)
        return -EINVAL;
    if (p->gathering)
        return 0;
    s_enter(p, FRAME_API);
    int r = 0;
    if (!nice_agent_gather_candidates(p->agent, p->stream_id)) {
        log_error("peer %s: gathering failed (no usable local address or free port)", p->label);
        r = -EIO;
    } else {
        p->gathering = true;
    }
    s_leave(p, FRAME_API);
    return r;
}

bool rtc_peer_gathered(const rtc_peer_t *p)
{
    return p && p->gathered;
}

const char *rtc_peer_local_ufrag(const rtc_peer_t *p)
{
    return p ? p->local_ufrag : NULL;
}

const char *rtc_peer_local_pwd(const rtc_peer_t *p)
{
    return p ? p->local_pwd : NULL;
}

char **rtc_peer_local_candidates(rtc_peer_t *p)
{
    GPtrArray *arr = g_ptr_array_new();
    if (p && !p->dead) {
        s_enter(p, FRAME_API);
        GSList *l = nice_agent_get_local_candidates(p->agent, p->stream_id, COMPONENT);
        for (GSList *i = l; i; i = i->next) {
            gchar *sdp = nice_agent_generate_local_candidate_sdp(p->agent, i->data);
            if (!sdp)
                continue;
            const char *s = g_str_has_prefix(sdp, "a=") ? sdp + 2 : sdp;
            g_ptr_array_add(arr, g_strdup(s));
            g_free(sdp);
        }
        g_slist_free_full(l, (GDestroyNotify)nice_candidate_free);
        s_leave(p, FRAME_API);
    }
    g_ptr_array_add(arr, NULL);
    return (char **)g_ptr_array_free(arr, FALSE);
}

int rtc_peer_set_dtls(rtc_peer_t *p, rtc_dtls_role_t role, const char *remote_fingerprint)
{
    if (!p || p->dead || (role != RTC_DTLS_ROLE_CLIENT && role != RTC_DTLS_ROLE_SERVER))
        return -EINVAL;
    rtc_fingerprint_t fp;
    if (!remote_fingerprint || rtc_fingerprint_parse(remote_fingerprint, &fp) < 0) {
        char safe[160];
        WARN_RL(p, "peer %s: bad remote fingerprint \"%s\"", p->label,
                s_printable(remote_fingerprint ? remote_fingerprint : "(none)", safe, sizeof safe));
        return -EINVAL;
    }
    if (p->dtls)
        return -EBUSY;
    s_enter(p, FRAME_API);
    p->dtls_role = role;
    snprintf(p->remote_fingerprint, sizeof p->remote_fingerprint, "%s", remote_fingerprint);
    p->have_fingerprint = true;
    s_dtls_maybe_start(p);   /* ICE may already be up, waiting for us */
    s_leave(p, FRAME_API);
    return 0;
}

/* ice-char = ALPHA / DIGIT / "+" / "/" (RFC 8839 5.4); ufrag 4..256, pwd
 * 22..256 characters. */
static bool s_ice_string_ok(const char *s, size_t min)
{
    if (!s)
        return false;
    size_t n = 0;
    for (; s[n]; n++)
        if (!isalnum((unsigned char)s[n]) && s[n] != '+' && s[n] != '/')
            return false;
    return n >= min && n <= 256;
}

int rtc_peer_set_remote_credentials(rtc_peer_t *p, const char *ufrag, const char *pwd)
{
    if (!p || p->dead)
        return -EINVAL;
    if (!s_ice_string_ok(ufrag, 4) || !s_ice_string_ok(pwd, 22)) {
        WARN_RL(p, "peer %s: invalid remote ICE credentials", p->label);
        return -EINVAL;
    }
    s_enter(p, FRAME_API);
    int r = 0;
    if (!nice_agent_set_remote_credentials(p->agent, p->stream_id, ufrag, pwd)) {
        log_error("peer %s: nice_agent_set_remote_credentials failed", p->label);
        r = -EINVAL;
    } else {
        p->remote_creds = true;
        if (!p->connect_timer && p->state != RTC_PEER_CONNECTED && !s_terminal(p))
            p->connect_timer = s_timeout_new(p, p->connect_timeout_ms, s_connect_timeout_cb);
    }
    s_leave(p, FRAME_API);
    return r;
}

int rtc_peer_add_remote_candidate(rtc_peer_t *p, const char *cand)
{
    if (!p || p->dead || !cand)
        return -EINVAL;
    char safe[160];
    while (isspace((unsigned char)*cand)) cand++;
    if (!strncmp(cand, "a=", 2)) cand += 2;
    size_t n = strlen(cand);
    while (n && isspace((unsigned char)cand[n - 1])) n--;   /* SDP line ending */
    if (n < 10 || n > 1024 || strncmp(cand, "candidate:", 10) != 0) {
        WARN_RL(p, "peer %s: invalid remote candidate \"%s\"", p->label, s_printable(cand, safe, sizeof safe));
        return -EINVAL;
    }
    char line[1100];
    snprintf(line, sizeof line, "a=%.*s", (int)n, cand);

    /* Look at component, transport and address before libnice does, to
     * tell "not for us" from "invalid":
     * candidate:<foundation> <component> <transport> <priority> <addr> <port> typ <type> */
    char comp[16] = "", transport[16] = "", addr[256] = "", port[16] = "";
    char *end = NULL;
    if (sscanf(line + 12, "%*s %15s %15s %*s %255s %15s", comp, transport, addr, port) != 4
        || strtoul(port, &end, 10) > 65535 || !end || *end || !isdigit((unsigned char)port[0])) {
        /* libnice would silently truncate an out-of-range port */
        WARN_RL(p, "peer %s: invalid remote candidate \"%s\"", p->label, s_printable(cand, safe, sizeof safe));
        return -EINVAL;
    }
    size_t alen = strlen(addr);
    if (strcasecmp(transport, "udp") != 0 || strcmp(comp, "1") != 0
        || (alen > 6 && !strcasecmp(addr + alen - 6, ".local"))) {
        /* TCP: we do UDP only. Component 2: the remote offers a separate RTCP
         * port, but with rtcp-mux only component 1 is used. mDNS: Chromium
         * hides host addresses behind random .local names when the page has
         * no media permission; we cannot resolve them, and connectivity
         * comes from its other candidates or from peer-reflexive ones learnt
         * from its checks. */
        log_debug("peer %s: ignoring remote candidate \"%s\"", p->label, s_printable(cand, safe, sizeof safe));
        return 1;
    }
    s_enter(p, FRAME_API);
    int r = 0;
    NiceCandidate *c = nice_agent_parse_remote_candidate_sdp(p->agent, p->stream_id, line);
    if (!c) {
        WARN_RL(p, "peer %s: invalid remote candidate \"%s\"", p->label, s_printable(cand, safe, sizeof safe));
        r = -EINVAL;
    } else {
        GSList one = { .data = c, .next = NULL };
        if (nice_agent_set_remote_candidates(p->agent, p->stream_id, COMPONENT, &one) < 0) {
            WARN_RL(p, "peer %s: remote candidate refused \"%s\"", p->label, s_printable(cand, safe, sizeof safe));
            r = -EINVAL;
        } else {
            log_debug("peer %s: remote candidate %s", p->label, s_printable(cand, safe, sizeof safe));
        }
        nice_candidate_free(c);
    }
    s_leave(p, FRAME_API);
    return r;
}

int rtc_peer_remote_end_of_candidates(rtc_peer_t *p)
{
    if (!p || p->dead)
        return -EINVAL;
    s_enter(p, FRAME_API);
    nice_agent_peer_candidate_gathering_done(p->agent, p->stream_id);
    s_leave(p, FRAME_API);
    return 0;
}

int rtc_peer_ice_restart(rtc_peer_t *p, const char *remote_ufrag, const char *remote_pwd)
{
    if (!p || p->dead || s_terminal(p))
        return -EINVAL;
    if ((remote_ufrag || remote_pwd)
        && (!s_ice_string_ok(remote_ufrag, 4) || !s_ice_string_ok(remote_pwd, 22))) {
        WARN_RL(p, "peer %s: invalid remote ICE credentials for restart", p->label);
        return -EINVAL;
    }
    s_enter(p, FRAME_API);
    int r = 0;
    if (!nice_agent_restart_stream(p->agent, p->stream_id)) {
        log_error("peer %s: ICE restart failed", p->label);
        r = -EIO;
    } else {
        s_refresh_credentials(p);
        log_info("peer %s: ICE restart (%s)", p->label, remote_ufrag ? "remote" : "local");
        if (remote_ufrag && !nice_agent_set_remote_credentials(p->agent, p->stream_id,
                                                               remote_ufrag, remote_pwd))
            r = -EINVAL;
    }
    s_leave(p, FRAME_API);
    return r;
}

static int s_send(rtc_peer_t *p, const uint8_t *data, size_t len, bool rtcp)
{
    if (!p || p->dead || !data)
        return -EINVAL;
    if (p->state != RTC_PEER_CONNECTED || !p->srtp)
        return -ENOTCONN;
    if (len > MAX_PACKET)
        return -EMSGSIZE;
    memcpy(p->sbuf, data, len);
    size_t n = len;
    int r = rtcp ? rtc_srtp_protect_rtcp(p->srtp, p->sbuf, &n, sizeof p->sbuf)
                 : rtc_srtp_protect_rtp(p->srtp, p->sbuf, &n, sizeof p->sbuf);
    if (r < 0)
        return r;
    s_enter(p, FRAME_API);
    gint sent = nice_agent_send(p->agent, p->stream_id, COMPONENT, (guint)n, (const gchar *)p->sbuf);
    if (sent < 0 || (size_t)sent != n) {
        p->st.send_errors++;
        r = -EIO;
    } else {
        p->st.packets_out++;
        p->st.bytes_out += n;
        if (rtcp) p->st.rtcp_out++;
        else p->st.rtp_out++;
    }
    s_leave(p, FRAME_API);
    return r;
}

int rtc_peer_send_rtp(rtc_peer_t *p, const uint8_t *data, size_t len)
{
    return s_send(p, data, len, false);
}

int rtc_peer_send_rtcp(rtc_peer_t *p, const uint8_t *data, size_t len)
{
    return s_send(p, data, len, true);
}

void rtc_peer_close(rtc_peer_t *p)
{
    if (!p || p->dead || s_terminal(p))
        return;
    s_enter(p, FRAME_API);
    if (p->dtls)
        rtc_dtls_close(p->dtls);
    s_set_state(p, RTC_PEER_CLOSED, "closed locally");
    p->reported = RTC_PEER_CLOSED;   /* the caller knows: no callback */
    s_leave(p, FRAME_API);
}

rtc_peer_state_t rtc_peer_state(const rtc_peer_t *p)
{
    return p ? p->state : RTC_PEER_FAILED;
}

const char *rtc_peer_label(const rtc_peer_t *p)
{
    return p ? p->label : "?";
}

const char *rtc_peer_failure(const rtc_peer_t *p)
{
    return p && p->state == RTC_PEER_FAILED ? p->failure : "";
}

void rtc_peer_stats(const rtc_peer_t *p, rtc_peer_stats_t *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!p)
        return;
    *out = p->st;
    out->state = p->state;
    out->dtls_state = p->dtls ? rtc_dtls_state(p->dtls) : RTC_DTLS_NEW;
    out->dtls_dropped = rtc_dtls_dropped(p->dtls);
    out->srtp_profile = rtc_srtp_profile_name(p->srtp ? p->profile : RTC_SRTP_NONE);
    if (p->srtp) {
        rtc_srtp_stats_t s;
        rtc_srtp_stats(p->srtp, &s);
        out->srtp_auth_fail = s.auth_fail;
        out->srtp_replay_fail = s.replay_fail;
        out->srtp_other_fail = s.other_fail;
    }
}
