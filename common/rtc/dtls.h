/* dtls — one DTLS 1.2 endpoint of a peer connection, for DTLS-SRTP keying.
 *
 * No socket: received datagrams are fed in with rtc_dtls_input() and the
 * datagrams OpenSSL produces leave through the send callback, one call per
 * datagram (ICE owns the transport and picks the path). The caller owns the
 * clock: after every call it asks rtc_dtls_timeout_ms() and arranges for
 * rtc_dtls_handle_timeout() to run then (retransmissions and the handshake
 * deadline). Single-threaded: all calls from the owner's thread.
 *
 * The remote certificate is accepted only if its digest equals the SDP
 * fingerprint; anything else fails the handshake (fatal alert sent). */
#ifndef VOXMESH_RTC_DTLS_H
#define VOXMESH_RTC_DTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtc/cert.h"
#include "rtc/srtp_ctx.h"

typedef enum {
    RTC_DTLS_ROLE_CLIENT,   /* we sent/received a=setup:active, or offered actpass and got passive */
    RTC_DTLS_ROLE_SERVER,   /* a=setup:passive in our answer */
} rtc_dtls_role_t;

typedef enum {
    RTC_DTLS_NEW,
    RTC_DTLS_CONNECTING,
    RTC_DTLS_CONNECTED,     /* handshake done, fingerprint verified, SRTP profile agreed */
    RTC_DTLS_FAILED,
    RTC_DTLS_CLOSED,        /* close_notify sent or received */
} rtc_dtls_state_t;

/* Sends one datagram; the return value is ignored (DTLS retransmits). */
typedef void (*rtc_dtls_send_fn)(const uint8_t *data, size_t len, void *user);

typedef struct {
    const char *label;               /* peer/session id for logs */
    rtc_dtls_role_t role;
    rtc_cert_t *cert;                /* our identity; a reference is taken */
    const char *remote_fingerprint;  /* "sha-256 AA:BB:..." from the SDP; required */
    unsigned mtu;                    /* max datagram size; 0 = 1200 */
    unsigned handshake_timeout_ms;   /* from rtc_dtls_start(); 0 = 10000 */
    const char *srtp_profiles;       /* OpenSSL list; NULL = GCM then AES-CM-SHA1-80 */
    rtc_dtls_send_fn send;
    void *user;
} rtc_dtls_config_t;

typedef struct rtc_dtls rtc_dtls_t;

/* Creates an endpoint in state NEW. Returns NULL on a bad config (e.g. an
 * unparsable fingerprint) or an OpenSSL failure (logged). */
rtc_dtls_t *rtc_dtls_new(const rtc_dtls_config_t *cfg);

/* Frees the endpoint (no close_notify: see rtc_dtls_close) and sets *p to
 * NULL. */
void rtc_dtls_destroy(rtc_dtls_t **p);

/* Starts the handshake and its deadline: a client sends its ClientHello now,
 * a server waits for one. Returns 0, or -1 if it failed at once (FAILED). */
int rtc_dtls_start(rtc_dtls_t *d);

/* Feeds one received datagram (first byte 20..63). A server in state NEW
 * starts implicitly. Returns 0, or -1 when the endpoint is (now) FAILED.
 * Garbage is discarded by DTLS record processing and is not an error; once
 * connected, only an authenticated fatal alert fails the endpoint and only an
 * authenticated close_notify closes it (RFC 6347 4.1.2.7): every record that
 * cannot be the peer's is dropped and counted (rtc_dtls_dropped). */
int rtc_dtls_input(rtc_dtls_t *d, const uint8_t *data, size_t len);

/* Milliseconds until rtc_dtls_handle_timeout() is due (0 = now), or -1 when
 * no timer is needed. */
int rtc_dtls_timeout_ms(const rtc_dtls_t *d);

/* Retransmits if due, and fails the handshake past its deadline. Returns 0,
 * or -1 when the endpoint is (now) FAILED. */
int rtc_dtls_handle_timeout(rtc_dtls_t *d);

rtc_dtls_state_t rtc_dtls_state(const rtc_dtls_t *d);
const char *rtc_dtls_state_name(rtc_dtls_state_t state);

/* Datagrams dropped after the handshake as not the peer's (forged framing,
 * wrong epoch or version, too short for the cipher). Records that fail
 * authentication inside OpenSSL are dropped by OpenSSL and not counted. */
uint64_t rtc_dtls_dropped(const rtc_dtls_t *d);

/* Why the endpoint FAILED (or "" when it did not). */
const char *rtc_dtls_failure(const rtc_dtls_t *d);

/* The negotiated profile and SRTP master keys ordered for our role (RFC 5764
 * 4.2); valid once CONNECTED. Returns 0 or -ENOTCONN/-EIO. The caller should
 * wipe *out after use. */
int rtc_dtls_srtp_keys(rtc_dtls_t *d, rtc_srtp_keys_t *out);

/* Sends close_notify if connected; state becomes CLOSED. */
void rtc_dtls_close(rtc_dtls_t *d);

#endif
