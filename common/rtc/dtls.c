/* dtls — see dtls.h.
 *
 * Why memory BIOs rather than a socket BIO: the UDP socket belongs to libnice,
 * which also carries STUN and SRTP on it and picks the remote address (the
 * selected ICE pair); DTLS only sees the datagrams demultiplexed to it. The
 * read side is a plain memory BIO holding exactly one datagram at a time. The
 * write side is a tiny custom BIO that hands every BIO_write to the send
 * callback: OpenSSL writes one datagram per call, and a write-side memory BIO
 * would concatenate a whole flight into one blob that can no longer be split
 * into its datagrams (Janus's dtls-bio filter exists for the same reason). */
#include "rtc/dtls.h"

#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define DEFAULT_MTU 1200
#define DEFAULT_HANDSHAKE_TIMEOUT_MS 10000
#define DEFAULT_SRTP_PROFILES "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"
/* First retransmission after 400 ms, doubling up to 3.2 s: OpenSSL's default
 * (1 s, up to 60 s) would leave a lost datagram costing a second of call
 * set-up, and would let a 10 s deadline expire with few retries. */
#define RETRANSMIT_INITIAL_US 400000u
#define RETRANSMIT_MAX_US 3200000u

/* ECDHE only (forward secrecy); ECDSA first as both our certificate and
 * Chromium's are ECDSA P-256, RSA for peers with RSA certificates. AEAD only:
 * every WebRTC stack (libwebrtc, Firefox's NSS, Pion, Janus) offers GCM, and a
 * fixed per-record overhead lets s_record_check() reject a forged record
 * before OpenSSL sees it (see there). */
#define CIPHERS "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:" \
                "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:" \
                "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384"

/* DTLS 1.2 record header: type(1) version(2) epoch(2) sequence(6) length(2). */
#define RECORD_HEADER 13
#define RECORD_MAX (16384 + 2048)       /* DTLSCiphertext.length limit, RFC 6347 4.1 */

struct rtc_dtls {
    char label[64];
    rtc_dtls_role_t role;
    rtc_dtls_state_t state;
    rtc_cert_t *cert;
    rtc_fingerprint_t remote_fp;
    bool fingerprint_ok;
    unsigned mtu;
    unsigned handshake_timeout_ms;
    int64_t deadline_us;          /* handshake deadline, monotonic */
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *rbio;                    /* memory BIO, owned by ssl */
    rtc_dtls_send_fn send;
    void *user;
    size_t aead_overhead;         /* explicit nonce + tag of the negotiated cipher, once connected */
    uint64_t dropped;             /* datagrams discarded after the handshake */
    log_ratelimit_t rl;
    char failure[256];
};

/* ---- the write BIO ---------------------------------------------------------- */

static BIO_METHOD *s_bio_method;
static pthread_once_t s_bio_once = PTHREAD_ONCE_INIT;

static int s_bio_write(BIO *b, const char *data, int len)
{
    rtc_dtls_t *d = BIO_get_data(b);
    if (len <= 0)
        return 0;
    if (d && d->send)
        d->send((const uint8_t *)data, (size_t)len, d->user);
    /* Always "sent": loss is DTLS's business (retransmission timer). */
    return len;
}

static long s_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num;
    (void)ptr;
    rtc_dtls_t *d = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
        return d ? (long)d->mtu : DEFAULT_MTU;
    case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:   /* the MTU we set is the datagram payload */
    case BIO_CTRL_WPENDING:
    case BIO_CTRL_PENDING:
    default:
        return 0;
    }
}

static int s_bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    BIO_set_data(b, NULL);
    return 1;
}

static int s_bio_destroy(BIO *b)
{
    BIO_set_data(b, NULL);
    return 1;
}

/* Created once per process and never freed (a few bytes, still reachable). */
static void s_bio_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "voxmesh-dtls-out");
    if (!m)
        return;
    BIO_meth_set_write(m, s_bio_write);
    BIO_meth_set_ctrl(m, s_bio_ctrl);
    BIO_meth_set_create(m, s_bio_create);
    BIO_meth_set_destroy(m, s_bio_destroy);
    s_bio_method = m;
}

/* ---- helpers -------------------------------------------------------------------- */

static const char *s_ssl_error(char *buf, size_t size)
{
    unsigned long e = ERR_get_error();
    if (!e)
        snprintf(buf, size, "unknown error");
    else
        ERR_error_string_n(e, buf, size);
    ERR_clear_error();
    return buf;
}

static int s_fail(rtc_dtls_t *d, const char *why)
{
    if (d->state != RTC_DTLS_FAILED) {
        d->state = RTC_DTLS_FAILED;
        if (!d->failure[0])
            snprintf(d->failure, sizeof d->failure, "%s", why);
        log_debug("peer %s: dtls failed: %s", d->label, d->failure);
    }
    return -1;
}

/* Replaces chain verification: WebRTC certificates are self-signed, and the
 * only trust anchor is the fingerprint signalled in the SDP (RFC 8122). Runs
 * on both sides; the server requests a client certificate and refuses a
 * handshake without one (SSL_VERIFY_FAIL_IF_NO_PEER_CERT). */
static int s_verify_cert(X509_STORE_CTX *store, void *arg)
{
    (void)arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    rtc_dtls_t *d = ssl ? SSL_get_app_data(ssl) : NULL;
    X509 *cert = X509_STORE_CTX_get0_cert(store);
    if (!d || !cert) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_UNSPECIFIED);
        return 0;
    }
    if (!rtc_fingerprint_match(&d->remote_fp, cert)) {
        snprintf(d->failure, sizeof d->failure,
                 "remote certificate does not match the SDP fingerprint (%s)", d->remote_fp.hash);
        X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
        return 0;
    }
    d->fingerprint_ok = true;
    return 1;
}

static unsigned int s_timer_cb(SSL *ssl, unsigned int timer_us)
{
    (void)ssl;
    if (timer_us == 0)
        return RETRANSMIT_INITIAL_US;
    return timer_us >= RETRANSMIT_MAX_US / 2 ? RETRANSMIT_MAX_US : timer_us * 2;
}

static SSL_CTX *s_ctx_new(const rtc_dtls_config_t *cfg, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(DTLS_method());
    if (!ctx)
        goto fail;
    /* DTLS 1.0 is obsolete (RFC 8996); Chromium speaks 1.2. */
    if (!SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION)
        || !SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION)
        || !SSL_CTX_set_cipher_list(ctx, CIPHERS)
        || !SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384")
        || SSL_CTX_use_certificate(ctx, rtc_cert_x509(cfg->cert)) != 1
        || SSL_CTX_use_PrivateKey(ctx, rtc_cert_pkey(cfg->cert)) != 1
        || SSL_CTX_check_private_key(ctx) != 1)
        goto fail;
    /* Note: 0 means success for this one. */
    if (SSL_CTX_set_tlsext_use_srtp(ctx, cfg->srtp_profiles ? cfg->srtp_profiles
                                                            : DEFAULT_SRTP_PROFILES) != 0)
        goto fail;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_cert_verify_callback(ctx, s_verify_cert, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* No tickets or resumption (a fresh key exchange per call), no
     * renegotiation (a peer could use it to re-key outside our control), no
     * MTU probing (there is no socket to query). */
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_QUERY_MTU
                             | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_read_ahead(ctx, 1);
    return ctx;
fail:
    s_ssl_error(err, errlen);
    SSL_CTX_free(ctx);
    return NULL;
}

/* ---- public --------------------------------------------------------------------- */

rtc_dtls_t *rtc_dtls_new(const rtc_dtls_config_t *cfg)
{
    char err[256];
    const char *label = cfg && cfg->label ? cfg->label : "?";
    if (!cfg || !cfg->cert || !cfg->send) {
        log_error("peer %s: dtls: cert and send callback are required", label);
        return NULL;
    }
    rtc_dtls_t *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    snprintf(d->label, sizeof d->label, "%s", label);
    if (rtc_fingerprint_parse(cfg->remote_fingerprint, &d->remote_fp) < 0) {
        log_error("peer %s: dtls: bad remote fingerprint \"%.120s\"", label,
                  cfg->remote_fingerprint ? cfg->remote_fingerprint : "(none)");
        free(d);
        return NULL;
    }
    d->role = cfg->role;
    d->state = RTC_DTLS_NEW;
    d->cert = rtc_cert_ref(cfg->cert);
    d->mtu = cfg->mtu ? cfg->mtu : DEFAULT_MTU;
    d->handshake_timeout_ms = cfg->handshake_timeout_ms ? cfg->handshake_timeout_ms
                                                        : DEFAULT_HANDSHAKE_TIMEOUT_MS;
    d->send = cfg->send;
    d->user = cfg->user;
    d->rl = (log_ratelimit_t)LOG_RATELIMIT_INIT(5000, 5);

    pthread_once(&s_bio_once, s_bio_init);
    ERR_clear_error();
    BIO *wbio = NULL;
    d->ctx = s_ctx_new(cfg, err, sizeof err);
    if (!d->ctx || !s_bio_method)
        goto fail;
    d->ssl = SSL_new(d->ctx);
    d->rbio = BIO_new(BIO_s_mem());
    wbio = BIO_new(s_bio_method);
    if (!d->ssl || !d->rbio || !wbio) {
        s_ssl_error(err, sizeof err);
        BIO_free(d->rbio);
        d->rbio = NULL;
        BIO_free(wbio);
        goto fail;
    }
    /* An empty read BIO means "wait for the next datagram", not EOF. */
    BIO_set_mem_eof_return(d->rbio, -1);
    BIO_set_data(wbio, d);
    SSL_set_bio(d->ssl, d->rbio, wbio);   /* ssl owns both from here */
    SSL_set_app_data(d->ssl, d);
    if (!SSL_set_mtu(d->ssl, d->mtu)) {
        snprintf(err, sizeof err, "MTU %u too small", d->mtu);
        goto fail;
    }
    DTLS_set_timer_cb(d->ssl, s_timer_cb);
    if (d->role == RTC_DTLS_ROLE_CLIENT)
        SSL_set_connect_state(d->ssl);
    else
        SSL_set_accept_state(d->ssl);
    return d;
fail:
    log_error("peer %s: dtls: %s", label, s_bio_method ? err : "cannot create BIO method");
    rtc_dtls_destroy(&d);
    return NULL;
}

void rtc_dtls_destroy(rtc_dtls_t **p)
{
    if (!p || !*p)
        return;
    rtc_dtls_t *d = *p;
    *p = NULL;
    SSL_free(d->ssl);   /* frees both BIOs and wipes the master secret */
    SSL_CTX_free(d->ctx);
    rtc_cert_destroy(&d->cert);
    free(d);
}

static int s_connected(rtc_dtls_t *d)
{
    /* Belt and braces: the verify callback must have run and accepted. */
    X509 *peer = SSL_get0_peer_certificate(d->ssl);
    if (!peer || !d->fingerprint_ok || !rtc_fingerprint_match(&d->remote_fp, peer))
        return s_fail(d, "remote certificate missing or not verified");
    SRTP_PROTECTION_PROFILE *prof = SSL_get_selected_srtp_profile(d->ssl);
    if (!prof)
        return s_fail(d, "peer did not negotiate use_srtp");
    if (!rtc_srtp_material_len((rtc_srtp_profile_t)prof->id))
        return s_fail(d, "unsupported SRTP profile negotiated");
    switch (SSL_CIPHER_get_cipher_nid(SSL_get_current_cipher(d->ssl))) {
    case NID_aes_128_gcm:
    case NID_aes_256_gcm: d->aead_overhead = 8 + 16; break;   /* explicit nonce + tag */
    case NID_chacha20_poly1305: d->aead_overhead = 16; break;
    default: return s_fail(d, "a non-AEAD cipher was negotiated");
    }
    d->state = RTC_DTLS_CONNECTED;
    log_debug("peer %s: dtls connected as %s, %s, %s", d->label,
              d->role == RTC_DTLS_ROLE_CLIENT ? "client" : "server",
              SSL_get_cipher_name(d->ssl), prof->name);
    return 0;
}

static int s_handshake(rtc_dtls_t *d)
{
    ERR_clear_error();
    int r = SSL_do_handshake(d->ssl);
    if (r == 1)
        return s_connected(d);
    int e = SSL_get_error(d->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    char err[200];
    s_ssl_error(err, sizeof err);
    return s_fail(d, err);
}

/* Why a datagram cannot have come from the peer after the handshake, or NULL
 * when every record in it is plausible.
 *
 * Once connected, the only records the peer sends are protected ones at
 * epoch 1 (no renegotiation): alerts, application data and a retransmitted
 * Finished. Anyone who can forge our caller's source address can send
 * anything else, and OpenSSL 3.0 treats some of it as fatal instead of
 * discarding it as RFC 6347 4.1.2.7 asks (a record at the current epoch too
 * short for the AEAD's nonce and tag, an unknown content type): it fails the
 * connection and sends the peer a fatal alert, so one spoofed datagram hangs
 * up the call. So we check the framing ourselves and let only records through
 * that OpenSSL will either authenticate or silently drop on a bad tag. Epoch 0
 * records (a retransmitted plaintext flight) are dropped here as OpenSSL
 * would drop them. */
static const char *s_record_check(const rtc_dtls_t *d, const uint8_t *data, size_t len)
{
    size_t at = 0;
    if (len < RECORD_HEADER)
        return "shorter than a record header";
    while (at < len) {
        if (len - at < RECORD_HEADER)
            return "trailing bytes after the last record";
        const uint8_t *r = data + at;
        size_t rlen = (size_t)r[11] << 8 | r[12];
        if (r[0] < 20 || r[0] > 23)
            return "unknown content type";
        if (r[1] != 0xfe || r[2] != 0xfd)
            return "not DTLS 1.2";
        if (r[3] != 0 || r[4] != 1)
            return "not the current epoch";
        if (rlen > len - at - RECORD_HEADER)
            return "length beyond the datagram";
        if (rlen < d->aead_overhead || rlen > RECORD_MAX)
            return "length impossible for the cipher";
        at += RECORD_HEADER + rlen;
    }
    return NULL;
}

static void s_drop(rtc_dtls_t *d, const uint8_t *data, size_t len, const char *why)
{
    d->dropped++;
    uint64_t sup = 0;
    if (log_ratelimit_ok(&d->rl, &sup))
        log_info("peer %s: dtls: dropped a %zu-byte datagram after the handshake (type %d, %s)%s",
                 d->label, len, len ? data[0] : -1, why, sup ? " (more suppressed)" : "");
}

static const char *s_ssl_error_name(int e)
{
    switch (e) {
    case SSL_ERROR_SSL: return "SSL_ERROR_SSL";
    case SSL_ERROR_SYSCALL: return "SSL_ERROR_SYSCALL";
    case SSL_ERROR_ZERO_RETURN: return "SSL_ERROR_ZERO_RETURN";
    default: return "SSL error";
    }
}

/* After the handshake, records still arrive: the peer's retransmitted final
 * flight (our last flight was lost: OpenSSL answers it), data-channel
 * application data (unused, discarded), alerts and close_notify. Only what
 * passed s_record_check() and OpenSSL's authentication gets here, so a
 * fatal alert or close_notify is the real peer's. */
static int s_read_records(rtc_dtls_t *d, int type)
{
    uint8_t buf[2048];
    for (int i = 0; i < 16; i++) {
        ERR_clear_error();
        int r = SSL_read(d->ssl, buf, sizeof buf);
        if (r > 0)
            continue;   /* application data: no data channels here */
        int e = SSL_get_error(d->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return 0;
        if (e == SSL_ERROR_ZERO_RETURN) {
            d->state = RTC_DTLS_CLOSED;
            log_debug("peer %s: dtls close_notify received", d->label);
            return 0;
        }
        char err[160], why[240];
        unsigned long code = ERR_peek_error();
        s_ssl_error(err, sizeof err);
        if (!code)
            snprintf(err, sizeof err, "no OpenSSL reason");
        snprintf(why, sizeof why, "%s after the handshake (record type %d): %s",
                 s_ssl_error_name(e), type, err);
        return s_fail(d, why);
    }
    return 0;
}

int rtc_dtls_start(rtc_dtls_t *d)
{
    if (!d)
        return -1;
    if (d->state != RTC_DTLS_NEW)
        return d->state == RTC_DTLS_FAILED ? -1 : 0;
    d->state = RTC_DTLS_CONNECTING;
    d->deadline_us = time_mono_us() + (int64_t)d->handshake_timeout_ms * 1000;
    /* A client's first call sends the ClientHello; a server's returns at once
     * wanting to read. */
    return s_handshake(d);
}

int rtc_dtls_input(rtc_dtls_t *d, const uint8_t *data, size_t len)
{
    if (!d)
        return -1;
    if (d->state == RTC_DTLS_FAILED)
        return -1;
    if (d->state == RTC_DTLS_CLOSED || !data || len == 0 || len > 65535)
        return 0;
    if (d->state == RTC_DTLS_NEW) {
        if (d->role == RTC_DTLS_ROLE_CLIENT)
            return 0;   /* a client speaks first; nothing to receive yet */
        if (rtc_dtls_start(d) < 0)
            return -1;
    }
    if (d->state == RTC_DTLS_CONNECTED) {
        const char *why = s_record_check(d, data, len);
        if (why) {
            s_drop(d, data, len, why);
            return 0;
        }
    }
    if (BIO_write(d->rbio, data, (int)len) != (int)len)
        return 0;
    bool was_connecting = d->state == RTC_DTLS_CONNECTING;
    int r = was_connecting ? s_handshake(d) : s_read_records(d, data[0]);
    /* Exactly one datagram per read: drop whatever DTLS left unread so it
     * cannot be glued to the next datagram. */
    (void)BIO_reset(d->rbio);
    /* Records behind the peer's Finished in the same datagram stay in
     * OpenSSL's record buffer; process them now rather than with the next
     * datagram. */
    if (r == 0 && was_connecting && d->state == RTC_DTLS_CONNECTED)
        r = s_read_records(d, data[0]);
    return r;
}

int rtc_dtls_timeout_ms(const rtc_dtls_t *d)
{
    if (!d || (d->state != RTC_DTLS_CONNECTING && d->state != RTC_DTLS_CONNECTED))
        return -1;
    int64_t ms = -1;
    struct timeval tv;
    if (DTLSv1_get_timeout(d->ssl, &tv) == 1)
        ms = (int64_t)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
    if (d->state == RTC_DTLS_CONNECTING) {
        int64_t left = (d->deadline_us - time_mono_us() + 999) / 1000;
        if (left < 0) left = 0;
        if (ms < 0 || left < ms) ms = left;
    }
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

int rtc_dtls_handle_timeout(rtc_dtls_t *d)
{
    if (!d)
        return -1;
    if (d->state == RTC_DTLS_FAILED)
        return -1;
    if (d->state != RTC_DTLS_CONNECTING && d->state != RTC_DTLS_CONNECTED)
        return 0;
    if (d->state == RTC_DTLS_CONNECTING && time_mono_us() >= d->deadline_us) {
        char why[64];
        snprintf(why, sizeof why, "handshake timeout (%u ms)", d->handshake_timeout_ms);
        return s_fail(d, why);
    }
    ERR_clear_error();
    if (DTLSv1_handle_timeout(d->ssl) < 0) {
        char err[200];
        s_ssl_error(err, sizeof err);
        return s_fail(d, err);
    }
    return 0;
}

rtc_dtls_state_t rtc_dtls_state(const rtc_dtls_t *d)
{
    return d ? d->state : RTC_DTLS_FAILED;
}

const char *rtc_dtls_state_name(rtc_dtls_state_t state)
{
    switch (state) {
    case RTC_DTLS_NEW: return "new";
    case RTC_DTLS_CONNECTING: return "connecting";
    case RTC_DTLS_CONNECTED: return "connected";
    case RTC_DTLS_FAILED: return "failed";
    case RTC_DTLS_CLOSED: return "closed";
    }
    return "?";
}

uint64_t rtc_dtls_dropped(const rtc_dtls_t *d)
{
    return d ? d->dropped : 0;
}

const char *rtc_dtls_failure(const rtc_dtls_t *d)
{
    return d && d->state == RTC_DTLS_FAILED ? d->failure : "";
}

int rtc_dtls_srtp_keys(rtc_dtls_t *d, rtc_srtp_keys_t *out)
{
    if (!d || !out || d->state != RTC_DTLS_CONNECTED)
        return -ENOTCONN;
    SRTP_PROTECTION_PROFILE *prof = SSL_get_selected_srtp_profile(d->ssl);
    rtc_srtp_profile_t profile = prof ? (rtc_srtp_profile_t)prof->id : RTC_SRTP_NONE;
    size_t n = rtc_srtp_material_len(profile);
    uint8_t material[2 * (RTC_SRTP_KEY_LEN + RTC_SRTP_SALT_MAX)];
    if (!n || n > sizeof material)
        return -EIO;
    static const char label[] = "EXTRACTOR-dtls_srtp";   /* RFC 5764 4.2 */
    ERR_clear_error();
    if (SSL_export_keying_material(d->ssl, material, n, label, sizeof label - 1, NULL, 0, 0) != 1) {
        char err[200];
        log_error("peer %s: dtls: exporting SRTP keys: %s", d->label, s_ssl_error(err, sizeof err));
        return -EIO;
    }
    int r = rtc_srtp_keys_from_material(out, profile, material, n,
                                        d->role == RTC_DTLS_ROLE_CLIENT);
    OPENSSL_cleanse(material, sizeof material);
    return r < 0 ? -EIO : 0;
}

void rtc_dtls_close(rtc_dtls_t *d)
{
    if (!d || d->state == RTC_DTLS_CLOSED || d->state == RTC_DTLS_FAILED)
        return;
    if (d->state == RTC_DTLS_CONNECTED) {
        ERR_clear_error();
        (void)SSL_shutdown(d->ssl);   /* sends close_notify; we do not wait for theirs */
        ERR_clear_error();
    }
    d->state = RTC_DTLS_CLOSED;
}
