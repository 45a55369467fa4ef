/* peer — one WebRTC peer connection's transport: ICE (libnice, full ICE,
 * UDP only) + DTLS-SRTP + SRTP/SRTCP, with BUNDLE and rtcp-mux (one stream,
 * one component, one 5-tuple for everything).
 *
 * Threading: a peer lives on the GMainContext given to rtc_peer_new(). Every
 * rtc_peer_* call must be made from the thread that iterates that context,
 * and every callback runs there. Callbacks are never invoked from inside an
 * rtc_peer_* call (state changes libnice reports synchronously are delivered
 * from the context on its next iteration), so a callback may call any
 * rtc_peer_* function, including rtc_peer_destroy() on its own peer.
 *
 * Typical WHIP server use: new (controlled, DTLS server, fingerprint from the
 * offer) -> set_remote_credentials + add_remote_candidate (+ remote_end_of_
 * candidates unless the offer has a=ice-options:trickle) -> gather ->
 * on_gathered: answer with local credentials, candidates, a=setup:passive and
 * rtc_cert_fingerprint() -> on_state(CONNECTED) -> media.
 * Client use: new (controlling) -> gather -> offer (a=setup:actpass) ->
 * answer: set_dtls(CLIENT for a=setup:passive, fingerprint),
 * set_remote_credentials, add_remote_candidate, remote_end_of_candidates.
 *
 * on_state reports the current state; quick successions may be coalesced.
 * FAILED and CLOSED are terminal: the owner then destroys the peer (from the
 * callback if it likes). */
#ifndef VOXMESH_RTC_PEER_H
#define VOXMESH_RTC_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "rtc/cert.h"
#include "rtc/dtls.h"

typedef enum {
    RTC_PEER_NEW,         /* created, possibly gathering */
    RTC_PEER_CHECKING,    /* ICE checks and/or DTLS handshake under way */
    RTC_PEER_CONNECTED,   /* ICE usable, DTLS done, SRTP keyed: media flows */
    RTC_PEER_FAILED,      /* terminal: ICE failed, DTLS failed, or timed out */
    RTC_PEER_CLOSED,      /* terminal: DTLS close_notify received (or rtc_peer_close) */
} rtc_peer_state_t;

typedef struct rtc_peer rtc_peer_t;

typedef struct {
    const char *label;              /* session id: prefixes every log line; copied */
    bool controlling;               /* ICE role: the offerer controls */
    rtc_dtls_role_t dtls_role;      /* may be changed by rtc_peer_set_dtls() */
    const char *const *bind_addrs;  /* NULL-terminated IP literals; NULL = all local */
    uint16_t port_min, port_max;    /* UDP port range; 0,0 = any */
    rtc_cert_t *cert;               /* required; the peer takes a reference */
    const char *remote_fingerprint; /* "sha-256 AA:..."; NULL = set later */
    const char *stun_server;        /* IP literal, NULL = none (srflx candidates) */
    uint16_t stun_port;             /* 0 = 3478 */
    unsigned connect_timeout_ms;    /* remote credentials -> CONNECTED; 0 = 30000 */
    unsigned dtls_timeout_ms;       /* DTLS handshake; 0 = 10000 */
    bool consent_freshness;         /* RFC 7675: FAILED ~30 s after the remote
                                       stops answering consent checks */
    void (*on_state)(rtc_peer_t *peer, rtc_peer_state_t state, void *user);
    void (*on_gathered)(rtc_peer_t *peer, void *user);   /* all local candidates known */
    /* Decrypted packets; data may be modified in place, valid during the call. */
    void (*on_rtp)(rtc_peer_t *peer, uint8_t *data, size_t len, void *user);
    void (*on_rtcp)(rtc_peer_t *peer, uint8_t *data, size_t len, void *user);
    void *user;
} rtc_peer_config_t;

typedef struct {
    uint64_t bytes_in, bytes_out;        /* UDP payload bytes, STUN excluded */
    uint64_t packets_in, packets_out;
    uint64_t rtp_in, rtp_out, rtcp_in, rtcp_out;   /* after unprotect / before protect */
    uint64_t dtls_in, dtls_out;          /* datagrams */
    uint64_t dtls_dropped;               /* after the handshake, not the peer's (forged) */
    uint64_t dropped;                    /* unknown first byte, too big, or no keys yet */
    uint64_t send_errors;                /* nice_agent_send refused */
    uint64_t srtp_auth_fail, srtp_replay_fail, srtp_other_fail;
    rtc_peer_state_t state;
    rtc_dtls_state_t dtls_state;
    const char *srtp_profile;            /* static string, "none" before keys */
    char local_addr[64];                 /* selected pair, "ip:port", "" if none */
    char remote_addr[64];
    char local_type[8], remote_type[8];  /* "host", "srflx", "prflx", "relay" */
} rtc_peer_stats_t;

/* Creates a peer on ctx (not yet gathering). Returns NULL on a bad config or
 * a libnice/OpenSSL failure (logged). */
rtc_peer_t *rtc_peer_new(GMainContext *ctx, const rtc_peer_config_t *cfg);

/* Frees the peer and sets *p to NULL: sources detached, agent released,
 * sockets closed, no callback afterwards. Safe from inside a callback. Does
 * not send close_notify (see rtc_peer_close). */
void rtc_peer_destroy(rtc_peer_t **p);

/* Starts gathering local candidates; on_gathered fires (from the context)
 * once all are known. Returns 0 or -EIO (no usable address/port). */
int rtc_peer_gather(rtc_peer_t *peer);

/* True once gathering is complete. */
bool rtc_peer_gathered(const rtc_peer_t *peer);

/* Local ICE credentials; valid until the next ICE restart or destroy. */
const char *rtc_peer_local_ufrag(const rtc_peer_t *peer);
const char *rtc_peer_local_pwd(const rtc_peer_t *peer);

/* Local candidates as "candidate:..." strings (no "a=", no CRLF), a
 * NULL-terminated array to free with g_strfreev(). Never NULL. */
char **rtc_peer_local_candidates(rtc_peer_t *peer);

/* Sets the DTLS role and the remote fingerprint, before DTLS starts (i.e.
 * before ICE connects). Returns 0, -EINVAL (bad fingerprint) or -EBUSY. */
int rtc_peer_set_dtls(rtc_peer_t *peer, rtc_dtls_role_t role, const char *remote_fingerprint);

/* Sets the remote ice-ufrag/ice-pwd and starts connectivity checks and the
 * connect timeout. Returns 0 or -EINVAL. */
int rtc_peer_set_remote_credentials(rtc_peer_t *peer, const char *ufrag, const char *pwd);

/* Adds one remote candidate ("candidate:..." or "a=candidate:...").
 * Returns 0 when added, 1 when ignored on purpose (TCP, mDNS ".local" host,
 * or an RTCP component-2 candidate: we use rtcp-mux), -EINVAL when invalid. */
int rtc_peer_add_remote_candidate(rtc_peer_t *peer, const char *candidate);

/* The remote side sent end-of-candidates (or was not trickling): ICE may now
 * fail once all pairs have failed, instead of waiting for the timeout. */
int rtc_peer_remote_end_of_candidates(rtc_peer_t *peer);

/* ICE restart (RFC 8445 9). Makes new local credentials; the caller signals
 * them with rtc_peer_local_candidates() (candidates are kept). remote_ufrag/
 * remote_pwd: the peer's new credentials when reacting to its restart, NULL
 * when we initiate (then rtc_peer_set_remote_credentials() on the answer).
 * Media keeps flowing on the old pair until a new one is selected; DTLS and
 * SRTP are unaffected. Returns 0, -EINVAL or -EIO. */
int rtc_peer_ice_restart(rtc_peer_t *peer, const char *remote_ufrag, const char *remote_pwd);

/* Protects and sends one RTP / RTCP packet (data is not modified; len up to
 * 1500). Returns 0, -ENOTCONN before CONNECTED, -EINVAL, -EMSGSIZE or -EIO. */
int rtc_peer_send_rtp(rtc_peer_t *peer, const uint8_t *data, size_t len);
int rtc_peer_send_rtcp(rtc_peer_t *peer, const uint8_t *data, size_t len);

/* Sends DTLS close_notify (if connected) and moves to CLOSED, without an
 * on_state callback (the caller knows). For WHIP DELETE/session end. */
void rtc_peer_close(rtc_peer_t *peer);

rtc_peer_state_t rtc_peer_state(const rtc_peer_t *peer);
const char *rtc_peer_state_name(rtc_peer_state_t state);
const char *rtc_peer_label(const rtc_peer_t *peer);

/* Why the peer FAILED, or "". */
const char *rtc_peer_failure(const rtc_peer_t *peer);

void rtc_peer_stats(const rtc_peer_t *peer, rtc_peer_stats_t *out);

#endif
