/* dtls_test — cert, DTLS-SRTP handshake and SRTP contexts, without ICE: two
 * rtc_dtls_t endpoints wired back to back through in-memory queues. */
#include "rtc/cert.h"
#include "rtc/dtls.h"
#include "rtc/srtp_ctx.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

static int s_failures;
#define CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    s_failures++; } } while (0)

/* ---- a lossy in-memory link -------------------------------------------------- */

#define QMAX 64
typedef struct {
    uint8_t data[2048];
    size_t len;
} dgram_t;

typedef struct side side_t;
struct side {
    rtc_dtls_t *dtls;
    side_t *other;
    dgram_t q[QMAX];     /* datagrams in flight towards this side */
    int qn;
    int drop_next;       /* drop this many datagrams sent by this side */
    bool split_hello;    /* send a ClientHello as two handshake fragments */
    bool shift_seq;      /* after a split: epoch-0 record numbers are one higher */
    bool drop_all;
    int sent;
};

static size_t s_max_sent;

static void s_enqueue(side_t *to, const uint8_t *data, size_t len)
{
    if (to->qn == QMAX || len > sizeof to->q[0].data) return;
    memcpy(to->q[to->qn].data, data, len);
    to->q[to->qn].len = len;
    to->qn++;
}

static void s_put24(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 16); p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)v;
}

/* Re-sends a single-record ClientHello as two records carrying two
 * fragments of the handshake message (RFC 6347 4.2.3). */
static bool s_split_client_hello(side_t *to, const uint8_t *d, size_t len)
{
    /* record: type(1) version(2) epoch(2) seq(6) length(2); handshake:
     * type(1) length(3) message_seq(2) fragment_offset(3) fragment_length(3) */
    if (len < 13 + 12 + 2 || d[0] != 22 || d[13] != 1)
        return false;
    size_t body = len - 25;
    if (((size_t)d[14] << 16 | (size_t)d[15] << 8 | d[16]) != body)
        return false;
    size_t half = body / 2;
    uint8_t a[2048], b[2048];
    memcpy(a, d, 25 + half);
    a[11] = (uint8_t)((12 + half) >> 8); a[12] = (uint8_t)(12 + half);
    s_put24(a + 22, half);
    memcpy(b, d, 25);
    memcpy(b + 25, d + 25 + half, body - half);
    b[10] = (uint8_t)(b[10] + 1);    /* next record sequence number */
    b[11] = (uint8_t)((12 + body - half) >> 8); b[12] = (uint8_t)(12 + body - half);
    s_put24(b + 19, half);
    s_put24(b + 22, body - half);
    /* second fragment first: reassembly must not depend on order */
    s_enqueue(to, b, 25 + body - half);
    s_enqueue(to, a, 25 + half);
    return true;
}

static void s_send(const uint8_t *data, size_t len, void *user)
{
    side_t *me = user;
    me->sent++;
    if (len > s_max_sent) s_max_sent = len;
    if (me->drop_all) return;
    if (me->drop_next > 0) { me->drop_next--; return; }
    if (me->split_hello && s_split_client_hello(me->other, data, len)) {
        me->split_hello = false;
        me->shift_seq = true;
        return;
    }
    if (me->shift_seq) {
        /* The split used one more record number than the sender knows of;
         * renumber its later plaintext records so they are not replays. */
        uint8_t copy[2048];
        memcpy(copy, data, len);
        for (size_t off = 0; off + 13 <= len; off += 13 + ((size_t)copy[off + 11] << 8 | copy[off + 12])) {
            if (copy[off + 3] || copy[off + 4])
                continue;   /* epoch 1+: encrypted, own numbering */
            for (int i = 10; i >= 5 && ++copy[off + i] == 0; i--) {}
        }
        s_enqueue(me->other, copy, len);
        return;
    }
    s_enqueue(me->other, data, len);
}

/* Delivers queued datagrams and fires due timers until both sides settle or
 * deadline_ms passes. */
static void s_pump(side_t *a, side_t *b, int deadline_ms)
{
    int64_t end = time_mono_us() + (int64_t)deadline_ms * 1000;
    while (time_mono_us() < end) {
        bool moved = false;
        side_t *sides[2] = { a, b };
        for (int i = 0; i < 2; i++) {
            side_t *s = sides[i];
            while (s->qn > 0) {
                dgram_t d = s->q[0];
                memmove(s->q, s->q + 1, sizeof s->q[0] * (size_t)(s->qn - 1));
                s->qn--;
                rtc_dtls_input(s->dtls, d.data, d.len);
                moved = true;
            }
        }
        rtc_dtls_state_t sa = rtc_dtls_state(a->dtls), sb = rtc_dtls_state(b->dtls);
        bool settled_a = sa == RTC_DTLS_CONNECTED || sa == RTC_DTLS_FAILED || sa == RTC_DTLS_CLOSED;
        bool settled_b = sb == RTC_DTLS_CONNECTED || sb == RTC_DTLS_FAILED || sb == RTC_DTLS_CLOSED;
        if (settled_a && settled_b && !a->qn && !b->qn)
            return;
        if (moved)
            continue;
        for (int i = 0; i < 2; i++) {
            int ms = rtc_dtls_timeout_ms(sides[i]->dtls);
            if (ms == 0)
                rtc_dtls_handle_timeout(sides[i]->dtls);
        }
        usleep(2000);
    }
}

typedef struct {
    const char *client_profiles, *server_profiles;
    const char *client_sees_fp, *server_sees_fp;   /* NULL = the right one */
    unsigned timeout_ms;
    unsigned client_mtu;
} pair_opts_t;

static void s_pair(side_t *c, side_t *s, rtc_cert_t *cc, rtc_cert_t *sc, const pair_opts_t *o)
{
    memset(c, 0, sizeof *c);
    memset(s, 0, sizeof *s);
    c->other = s;
    s->other = c;
    rtc_dtls_config_t cfg = {
        .label = "test-client", .role = RTC_DTLS_ROLE_CLIENT, .cert = cc,
        .remote_fingerprint = o->client_sees_fp ? o->client_sees_fp : rtc_cert_fingerprint(sc),
        .handshake_timeout_ms = o->timeout_ms, .srtp_profiles = o->client_profiles,
        .mtu = o->client_mtu, .send = s_send, .user = c,
    };
    c->dtls = rtc_dtls_new(&cfg);
    cfg.mtu = 0;
    cfg.label = "test-server";
    cfg.role = RTC_DTLS_ROLE_SERVER;
    cfg.cert = sc;
    cfg.remote_fingerprint = o->server_sees_fp ? o->server_sees_fp : rtc_cert_fingerprint(cc);
    cfg.srtp_profiles = o->server_profiles;
    cfg.user = s;
    s->dtls = rtc_dtls_new(&cfg);
    CHECK(c->dtls && s->dtls);
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_cert(void)
{
    rtc_cert_t *c = rtc_cert_new();
    CHECK(c);
    const char *fp = rtc_cert_fingerprint(c);
    CHECK(fp && strlen(fp) == 8 + 32 * 3 - 1 && !strncmp(fp, "sha-256 ", 8));
    rtc_fingerprint_t f;
    CHECK(rtc_fingerprint_parse(fp, &f) == 0 && f.len == 32);
    CHECK(rtc_fingerprint_match(&f, rtc_cert_x509(c)));

    /* Case-insensitive, SDP prefixes and trailing CRLF accepted. */
    char buf[256];
    snprintf(buf, sizeof buf, "a=fingerprint:SHA-256 %s\r\n", fp + 8);
    for (char *p = buf + 22; *p; p++) *p = (char)tolower((unsigned char)*p);
    CHECK(rtc_fingerprint_parse(buf, &f) == 0 && rtc_fingerprint_match(&f, rtc_cert_x509(c)));

    /* Another certificate does not match. */
    rtc_cert_t *other = rtc_cert_new();
    CHECK(other && strcmp(rtc_cert_fingerprint(other), fp) != 0);
    CHECK(!rtc_fingerprint_match(&f, rtc_cert_x509(other)));

    /* Bad fingerprints. */
    CHECK(rtc_fingerprint_parse("sha-1 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD", &f) < 0);
    CHECK(rtc_fingerprint_parse("sha-256 AA:BB", &f) < 0);
    CHECK(rtc_fingerprint_parse("sha-256", &f) < 0);
    CHECK(rtc_fingerprint_parse("", &f) < 0);
    CHECK(rtc_fingerprint_parse(NULL, &f) < 0);
    snprintf(buf, sizeof buf, "%s:00", fp);
    CHECK(rtc_fingerprint_parse(buf, &f) < 0);
    snprintf(buf, sizeof buf, "%s", fp);
    buf[10] = 'G';
    CHECK(rtc_fingerprint_parse(buf, &f) < 0);

    /* sha-384 / sha-512 variants computed here match. */
    for (int i = 0; i < 2; i++) {
        const EVP_MD *md = i ? EVP_sha512() : EVP_sha384();
        uint8_t d[64];
        unsigned n = 0;
        X509_digest(rtc_cert_x509(c), md, d, &n);
        int off = snprintf(buf, sizeof buf, "%s ", i ? "sha-512" : "sha-384");
        for (unsigned k = 0; k < n; k++)
            off += snprintf(buf + off, sizeof buf - (size_t)off, k ? ":%02X" : "%02X", d[k]);
        CHECK(rtc_fingerprint_parse(buf, &f) == 0 && f.len == n);
        CHECK(rtc_fingerprint_match(&f, rtc_cert_x509(c)));
    }

    /* Load from PEM; a key from another certificate is refused. */
    char cpath[] = "/tmp/voxmesh-cert-XXXXXX", kpath[] = "/tmp/voxmesh-key-XXXXXX",
         k2path[] = "/tmp/voxmesh-key2-XXXXXX";
    int cfd = mkstemp(cpath), kfd = mkstemp(kpath), k2fd = mkstemp(k2path);
    CHECK(cfd >= 0 && kfd >= 0 && k2fd >= 0);
    FILE *cf = fdopen(cfd, "w"), *kf = fdopen(kfd, "w"), *k2f = fdopen(k2fd, "w");
    PEM_write_X509(cf, rtc_cert_x509(c));
    PEM_write_PrivateKey(kf, rtc_cert_pkey(c), NULL, NULL, 0, NULL, NULL);
    PEM_write_PrivateKey(k2f, rtc_cert_pkey(other), NULL, NULL, 0, NULL, NULL);
    fclose(cf); fclose(kf); fclose(k2f);
    rtc_cert_t *loaded = rtc_cert_load(cpath, kpath);
    CHECK(loaded && !strcmp(rtc_cert_fingerprint(loaded), fp));
    CHECK(rtc_cert_load(cpath, k2path) == NULL);
    CHECK(rtc_cert_load("/nonexistent/cert.pem", kpath) == NULL);
    unlink(cpath); unlink(kpath); unlink(k2path);

    /* Reference counting. */
    rtc_cert_t *r = rtc_cert_ref(loaded);
    rtc_cert_destroy(&r);
    CHECK(r == NULL && rtc_cert_fingerprint(loaded));
    rtc_cert_destroy(&loaded);
    CHECK(loaded == NULL);
    rtc_cert_destroy(&loaded);   /* no-op */
    rtc_cert_destroy(&other);
    rtc_cert_destroy(&c);
}

static void test_key_order(void)
{
    uint8_t m[60];
    for (int i = 0; i < 60; i++) m[i] = (uint8_t)i;
    rtc_srtp_keys_t ck, sk;
    CHECK(rtc_srtp_keys_from_material(&ck, RTC_SRTP_AES128_CM_SHA1_80, m, 60, true) == 0);
    CHECK(rtc_srtp_keys_from_material(&sk, RTC_SRTP_AES128_CM_SHA1_80, m, 60, false) == 0);
    /* client key = bytes 0..15, server key 16..31, client salt 32..45, server salt 46..59 */
    CHECK(ck.local_key[0] == 0 && ck.remote_key[0] == 16 && ck.local_salt[0] == 32 && ck.remote_salt[0] == 46);
    CHECK(sk.local_key[0] == 16 && sk.remote_key[0] == 0 && sk.local_salt[0] == 46 && sk.remote_salt[0] == 32);
    CHECK(rtc_srtp_keys_from_material(&ck, RTC_SRTP_AEAD_AES_128_GCM, m, 56, true) == 0);
    CHECK(ck.salt_len == 12 && ck.local_salt[0] == 32 && ck.remote_salt[0] == 44);
    CHECK(rtc_srtp_keys_from_material(&ck, RTC_SRTP_AEAD_AES_128_GCM, m, 60, true) == -EINVAL);
    CHECK(rtc_srtp_keys_from_material(&ck, RTC_SRTP_NONE, m, 60, true) == -EINVAL);
}

static size_t s_make_rtp(uint8_t *b, uint16_t seq, uint32_t ssrc, size_t payload)
{
    b[0] = 0x80; b[1] = 111;
    b[2] = (uint8_t)(seq >> 8); b[3] = (uint8_t)seq;
    uint32_t ts = seq * 960u;
    b[4] = (uint8_t)(ts >> 24); b[5] = (uint8_t)(ts >> 16); b[6] = (uint8_t)(ts >> 8); b[7] = (uint8_t)ts;
    b[8] = (uint8_t)(ssrc >> 24); b[9] = (uint8_t)(ssrc >> 16); b[10] = (uint8_t)(ssrc >> 8); b[11] = (uint8_t)ssrc;
    for (size_t i = 0; i < payload; i++) b[12 + i] = (uint8_t)(i * 7 + seq);
    return 12 + payload;
}

static size_t s_make_rtcp_rr(uint8_t *b, uint32_t ssrc)
{
    memset(b, 0, 8);
    b[0] = 0x80; b[1] = 201; b[3] = 1;   /* RR, no report blocks, length 1 */
    b[4] = (uint8_t)(ssrc >> 24); b[5] = (uint8_t)(ssrc >> 16); b[6] = (uint8_t)(ssrc >> 8); b[7] = (uint8_t)ssrc;
    return 8;
}

/* Protect on one side, unprotect on the other, with keys from a handshake. */
static void s_srtp_roundtrip(rtc_dtls_t *client, rtc_dtls_t *server, rtc_srtp_profile_t want)
{
    rtc_srtp_keys_t ck, sk;
    CHECK(rtc_dtls_srtp_keys(client, &ck) == 0);
    CHECK(rtc_dtls_srtp_keys(server, &sk) == 0);
    CHECK(ck.profile == want && sk.profile == want);
    CHECK(!memcmp(ck.local_key, sk.remote_key, 16) && !memcmp(ck.remote_key, sk.local_key, 16));
    CHECK(!memcmp(ck.local_salt, sk.remote_salt, ck.salt_len));
    CHECK(memcmp(ck.local_key, ck.remote_key, 16) != 0);
    rtc_srtp_t *cs = rtc_srtp_new(&ck, "test-client"), *ss = rtc_srtp_new(&sk, "test-server");
    CHECK(cs && ss);
    if (!cs || !ss) goto out;

    uint8_t pkt[1500], orig[1500], copy[1500];
    for (uint16_t seq = 1; seq <= 20; seq++) {
        size_t n = s_make_rtp(pkt, seq, 0x1234, 160), len = n;
        memcpy(orig, pkt, n);
        CHECK(rtc_srtp_protect_rtp(cs, pkt, &len, sizeof pkt) == 0 && len > n);
        CHECK(memcmp(pkt + 12, orig + 12, 160) != 0);   /* encrypted */
        memcpy(copy, pkt, len);
        size_t clen = len;
        CHECK(rtc_srtp_unprotect_rtp(ss, pkt, &len) == 0 && len == n && !memcmp(pkt, orig, n));
        /* The same packet again is a replay. */
        CHECK(rtc_srtp_unprotect_rtp(ss, copy, &clen) == -EALREADY);
    }
    /* Server to client as well, several SSRCs (BUNDLE). */
    for (uint16_t seq = 1; seq <= 5; seq++) {
        size_t n = s_make_rtp(pkt, seq, 0x1000u + seq, 50), len = n;
        memcpy(orig, pkt, n);
        CHECK(rtc_srtp_protect_rtp(ss, pkt, &len, sizeof pkt) == 0);
        CHECK(rtc_srtp_unprotect_rtp(cs, pkt, &len) == 0 && len == n && !memcmp(pkt, orig, n));
    }
    /* Tampering is an authentication failure, counted. */
    size_t n = s_make_rtp(pkt, 100, 0x1234, 160), len = n;
    CHECK(rtc_srtp_protect_rtp(cs, pkt, &len, sizeof pkt) == 0);
    pkt[20] ^= 1;
    CHECK(rtc_srtp_unprotect_rtp(ss, pkt, &len) == -EBADMSG);
    rtc_srtp_stats_t st;
    rtc_srtp_stats(ss, &st);
    CHECK(st.auth_fail == 1 && st.replay_fail == 20 && st.rtp_unprotected == 20);

    /* RTCP both ways. */
    for (int i = 0; i < 3; i++) {
        n = s_make_rtcp_rr(pkt, 0x1234);
        len = n;
        memcpy(orig, pkt, n);
        CHECK(rtc_srtp_protect_rtcp(cs, pkt, &len, sizeof pkt) == 0 && len > n);
        CHECK(rtc_srtp_unprotect_rtcp(ss, pkt, &len) == 0 && len == n && !memcmp(pkt, orig, n));
        len = n;
        CHECK(rtc_srtp_protect_rtcp(ss, pkt, &len, sizeof pkt) == 0);
        CHECK(rtc_srtp_unprotect_rtcp(cs, pkt, &len) == 0 && len == n && !memcmp(pkt, orig, n));
    }

    /* Capacity and shape checks. */
    n = s_make_rtp(pkt, 200, 0x1234, 100);
    len = n;
    CHECK(rtc_srtp_protect_rtp(cs, pkt, &len, n + 4) == -ENOSPC && len == n);
    len = 8;
    CHECK(rtc_srtp_protect_rtp(cs, pkt, &len, sizeof pkt) == -EINVAL);
    len = 3;
    CHECK(rtc_srtp_unprotect_rtp(ss, pkt, &len) == -EBADMSG);
    pkt[0] = 0x8f;   /* 15 CSRCs claimed in a short packet */
    len = 40;
    CHECK(rtc_srtp_unprotect_rtp(ss, pkt, &len) == -EBADMSG);
    pkt[0] = 0x90; pkt[12] = 0xbe; pkt[13] = 0xde; pkt[14] = 0xff; pkt[15] = 0xff;  /* huge extension */
    len = 40;
    CHECK(rtc_srtp_unprotect_rtp(ss, pkt, &len) == -EBADMSG);
    /* Random garbage shaped like RTP. */
    srand(7);
    for (int i = 0; i < 2000; i++) {
        len = (size_t)(rand() % 300);
        for (size_t k = 0; k < len; k++) pkt[k] = (uint8_t)rand();
        if (len) pkt[0] = (uint8_t)(0x80 | (pkt[0] & 0x3f));
        CHECK(rtc_srtp_unprotect_rtp(ss, pkt, &len) < 0);
        len = (size_t)(rand() % 300);
        for (size_t k = 0; k < len; k++) pkt[k] = (uint8_t)rand();
        CHECK(rtc_srtp_unprotect_rtcp(ss, pkt, &len) < 0);
    }
    /* Still working afterwards. */
    n = s_make_rtp(pkt, 300, 0x1234, 10);
    len = n;
    CHECK(rtc_srtp_protect_rtp(cs, pkt, &len, sizeof pkt) == 0);
    CHECK(rtc_srtp_unprotect_rtp(ss, pkt, &len) == 0 && len == n);
out:
    rtc_srtp_destroy(&cs);
    rtc_srtp_destroy(&ss);
    CHECK(cs == NULL && ss == NULL);
}

static void test_handshake(rtc_cert_t *cc, rtc_cert_t *sc, const char *cprof, const char *sprof,
                           rtc_srtp_profile_t want)
{
    side_t c, s;
    pair_opts_t o = { .client_profiles = cprof, .server_profiles = sprof };
    s_pair(&c, &s, cc, sc, &o);
    CHECK(rtc_dtls_state(c.dtls) == RTC_DTLS_NEW);
    rtc_srtp_keys_t k;
    CHECK(rtc_dtls_srtp_keys(c.dtls, &k) == -ENOTCONN);
    CHECK(rtc_dtls_start(c.dtls) == 0 && c.sent >= 1);
    CHECK(rtc_dtls_timeout_ms(c.dtls) > 0);
    CHECK(rtc_dtls_start(s.dtls) == 0);
    s_pump(&c, &s, 5000);
    CHECK(rtc_dtls_state(c.dtls) == RTC_DTLS_CONNECTED);
    CHECK(rtc_dtls_state(s.dtls) == RTC_DTLS_CONNECTED);
    /* No timers left running once connected (nothing to retransmit). */
    CHECK(rtc_dtls_timeout_ms(c.dtls) == -1 && rtc_dtls_timeout_ms(s.dtls) == -1);
    s_srtp_roundtrip(c.dtls, s.dtls, want);

    /* Garbage after the handshake (shaped like DTLS records, or not) is
     * discarded by DTLS without failing the connection. */
    srand(11);
    uint8_t junk[300];
    for (int i = 0; i < 500; i++) {
        size_t len = 1 + (size_t)(rand() % (int)sizeof junk);
        for (size_t j = 0; j < len; j++) junk[j] = (uint8_t)rand();
        junk[0] = (uint8_t)(20 + rand() % 44);
        if (i % 2 && len > 13) { junk[1] = 0xfe; junk[2] = 0xfd; }   /* DTLS 1.2 version */
        rtc_dtls_input(s.dtls, junk, len);
        rtc_dtls_input(c.dtls, junk, len);
    }
    CHECK(rtc_dtls_state(c.dtls) == RTC_DTLS_CONNECTED);
    CHECK(rtc_dtls_state(s.dtls) == RTC_DTLS_CONNECTED);

    /* close_notify reaches the other side. */
    c.qn = s.qn = 0;
    rtc_dtls_close(c.dtls);
    CHECK(rtc_dtls_state(c.dtls) == RTC_DTLS_CLOSED);
    s_pump(&c, &s, 1000);
    CHECK(rtc_dtls_state(s.dtls) == RTC_DTLS_CLOSED);
    rtc_dtls_destroy(&c.dtls);
    rtc_dtls_destroy(&s.dtls);
    CHECK(c.dtls == NULL && s.dtls == NULL);
}

static void test_mismatch(rtc_cert_t *cc, rtc_cert_t *sc, rtc_cert_t *stranger, bool server_checks)
{
    side_t c, s;
    pair_opts_t o = { .timeout_ms = 3000 };
    if (server_checks) o.server_sees_fp = rtc_cert_fingerprint(stranger);
    else o.client_sees_fp = rtc_cert_fingerprint(stranger);
    s_pair(&c, &s, cc, sc, &o);
    int64_t t0 = time_mono_us();
    rtc_dtls_start(s.dtls);
    rtc_dtls_start(c.dtls);
    s_pump(&c, &s, 5000);
    rtc_dtls_t *checker = server_checks ? s.dtls : c.dtls;
    rtc_dtls_t *other = server_checks ? c.dtls : s.dtls;
    CHECK(rtc_dtls_state(checker) == RTC_DTLS_FAILED);
    CHECK(strstr(rtc_dtls_failure(checker), "fingerprint") != NULL);
    /* The fatal alert makes the other side fail too, well before its deadline. */
    CHECK(rtc_dtls_state(other) == RTC_DTLS_FAILED);
    CHECK(time_mono_us() - t0 < 2000000);
    rtc_srtp_keys_t k;
    CHECK(rtc_dtls_srtp_keys(checker, &k) == -ENOTCONN);
    CHECK(rtc_dtls_timeout_ms(checker) == -1);
    rtc_dtls_destroy(&c.dtls);
    rtc_dtls_destroy(&s.dtls);
}

static void test_loss(rtc_cert_t *cc, rtc_cert_t *sc)
{
    side_t c, s;
    pair_opts_t o = { 0 };
    s_pair(&c, &s, cc, sc, &o);
    c.drop_next = 1;   /* the first ClientHello */
    s.drop_next = 2;   /* part of the first server flight */
    int64_t t0 = time_mono_us();
    rtc_dtls_start(s.dtls);
    rtc_dtls_start(c.dtls);
    s_pump(&c, &s, 8000);
    CHECK(rtc_dtls_state(c.dtls) == RTC_DTLS_CONNECTED);
    CHECK(rtc_dtls_state(s.dtls) == RTC_DTLS_CONNECTED);
    /* 400 ms then 800 ms retransmissions, not OpenSSL's 1 s + 2 s */
    CHECK(time_mono_us() - t0 < 2500000);
    rtc_dtls_destroy(&c.dtls);
    rtc_dtls_destroy(&s.dtls);
}

static void test_timeout(rtc_cert_t *cc, rtc_cert_t *sc)
{
    side_t c, s;
    pair_opts_t o = { .timeout_ms = 600 };
    s_pair(&c, &s, cc, sc, &o);
    c.drop_all = true;
    int64_t t0 = time_mono_us();
    rtc_dtls_start(s.dtls);
    rtc_dtls_start(c.dtls);
    s_pump(&c, &s, 3000);
    int64_t dt = time_mono_us() - t0;
    CHECK(rtc_dtls_state(c.dtls) == RTC_DTLS_FAILED);
    CHECK(rtc_dtls_state(s.dtls) == RTC_DTLS_FAILED);
    CHECK(strstr(rtc_dtls_failure(c.dtls), "timeout") != NULL);
    CHECK(dt >= 550000 && dt < 1500000);
    CHECK(c.sent >= 2);   /* retransmitted at least once before giving up */
    rtc_dtls_destroy(&c.dtls);
    rtc_dtls_destroy(&s.dtls);
}

static void test_bad_config(rtc_cert_t *cc)
{
    side_t dummy = { 0 };
    rtc_dtls_config_t cfg = { .label = "bad", .cert = cc, .remote_fingerprint = "sha-256 00:11",
                              .send = s_send, .user = &dummy };
    CHECK(rtc_dtls_new(&cfg) == NULL);
    cfg.remote_fingerprint = NULL;
    CHECK(rtc_dtls_new(&cfg) == NULL);
    cfg.remote_fingerprint = rtc_cert_fingerprint(cc);
    cfg.cert = NULL;
    CHECK(rtc_dtls_new(&cfg) == NULL);
    CHECK(rtc_dtls_input(NULL, (const uint8_t *)"x", 1) < 0);
    rtc_dtls_destroy(NULL);
}

/* Garbage into a fresh server before any real ClientHello, then a real
 * handshake on the same endpoint. */
static void test_garbage_first(rtc_cert_t *cc, rtc_cert_t *sc)
{
    side_t c, s;
    pair_opts_t o = { 0 };
    s_pair(&c, &s, cc, sc, &o);
    srand(5);
    uint8_t junk[200];
    for (int i = 0; i < 200; i++) {
        size_t len = 1 + (size_t)(rand() % (int)sizeof junk);
        for (size_t j = 0; j < len; j++) junk[j] = (uint8_t)rand();
        junk[0] = 23;   /* application data record type: never valid at epoch 0 */
        rtc_dtls_input(s.dtls, junk, len);
    }
    CHECK(rtc_dtls_state(s.dtls) == RTC_DTLS_CONNECTING);
    rtc_dtls_start(c.dtls);
    s_pump(&c, &s, 5000);
    CHECK(rtc_dtls_state(c.dtls) == RTC_DTLS_CONNECTED);
    CHECK(rtc_dtls_state(s.dtls) == RTC_DTLS_CONNECTED);
    rtc_dtls_destroy(&c.dtls);
    rtc_dtls_destroy(&s.dtls);
}

/* A ClientHello split over several datagrams must be reassembled: Firefox
 * 146+ (and Chromium with post-quantum key shares) send ClientHellos larger
 * than one datagram. A tiny client MTU forces the same fragmentation. */
static void test_fragmented_client_hello(rtc_cert_t *cc, rtc_cert_t *sc)
{
    side_t c, s;
    pair_opts_t o = { 0 };
    s_pair(&c, &s, cc, sc, &o);
    c.split_hello = true;
    int64_t t0 = time_mono_us();
    rtc_dtls_start(c.dtls);
    CHECK(!c.split_hello && s.qn == 2);
    s_pump(&c, &s, 5000);
    CHECK(rtc_dtls_state(c.dtls) == RTC_DTLS_CONNECTED);
    CHECK(rtc_dtls_state(s.dtls) == RTC_DTLS_CONNECTED);
    fprintf(stderr, "fragmented ClientHello: handshake in %.1f ms\n", (double)(time_mono_us() - t0) / 1000.0);
    CHECK(time_mono_us() - t0 < 300000);   /* no retransmission needed */
    rtc_dtls_destroy(&c.dtls);
    rtc_dtls_destroy(&s.dtls);
    /* Our own datagrams respect the default MTU. */
    s_max_sent = 0;
    pair_opts_t d = { 0 };
    s_pair(&c, &s, cc, sc, &d);
    rtc_dtls_start(c.dtls);
    s_pump(&c, &s, 5000);
    CHECK(rtc_dtls_state(s.dtls) == RTC_DTLS_CONNECTED);
    CHECK(s_max_sent > 0 && s_max_sent <= 1200);
    rtc_dtls_destroy(&c.dtls);
    rtc_dtls_destroy(&s.dtls);
}


/* Spoofed records after the handshake: every shape a forger can send
 * (each content type, version, epoch, sequence and length, true or lying,
 * many in one datagram) must be dropped without ending the connection, and
 * the connection must still carry close_notify afterwards. */
static int s_spoof_record(uint8_t *b, size_t cap, uint8_t type, uint16_t version, uint16_t epoch,
                          uint64_t seq, size_t body, int lie)
{
    if (13 + body > cap) return -1;
    b[0] = type; b[1] = (uint8_t)(version >> 8); b[2] = (uint8_t)version;
    b[3] = (uint8_t)(epoch >> 8); b[4] = (uint8_t)epoch;
    for (int i = 0; i < 6; i++) b[5 + i] = (uint8_t)(seq >> (8 * (5 - i)));
    size_t l = lie == 0 ? body : lie == 1 ? body + 1 + (size_t)(rand() % 3000) : (size_t)(rand() % 65536);
    b[11] = (uint8_t)(l >> 8); b[12] = (uint8_t)l;
    for (size_t j = 0; j < body; j++) b[13 + j] = (uint8_t)rand();
    if (type == 21 && body >= 2) { b[13] = (uint8_t)(1 + rand() % 2); b[14] = (uint8_t)(rand() % 2 ? 0 : rand() % 120); }
    if (type == 22 && body >= 12) {
        static const uint8_t hs[] = { 0, 1, 2, 3, 11, 12, 14, 15, 16, 20, 4, 13 };
        b[13] = hs[rand() % 12];
        size_t m = body - 12;
        b[14] = 0; b[15] = (uint8_t)(m >> 8); b[16] = (uint8_t)m;
        b[17] = (uint8_t)(rand() % 2); b[18] = (uint8_t)(rand() % 8);
        b[19] = b[20] = b[21] = 0;
        b[22] = 0; b[23] = (uint8_t)(m >> 8); b[24] = (uint8_t)m;
    }
    if (type == 20 && body >= 1) b[13] = 1;
    return (int)(13 + body);
}

static int s_spoof_battery(rtc_dtls_t *victim, unsigned seed, int rounds)
{
    static const uint8_t types[] = { 20, 21, 22, 23, 24, 25, 26, 63 };
    static const uint16_t versions[] = { 0xfefd, 0xfeff, 0xfefc, 0x0303 };
    static const size_t bodies[] = { 0, 1, 2, 3, 8, 12, 13, 16, 24, 25, 28, 29, 40, 41, 64, 100, 300, 599, 1200, 1400 };
    uint8_t dg[4096];
    srand(seed);
    for (int r = 0; r < rounds; r++) {
        size_t at = 0;
        int nrec = 1 + (rand() % 4 == 0 ? rand() % 4 : 0);
        for (int k = 0; k < nrec; k++) {
            uint64_t seq = rand() % 3 == 0 ? (uint64_t)(rand() % 16) : ((uint64_t)rand() << 16 | (uint64_t)rand());
            int n = s_spoof_record(dg + at, sizeof dg - at, types[rand() % 8], versions[rand() % 4],
                                   (uint16_t)(rand() % 5 == 0 ? rand() : rand() % 3), seq,
                                   bodies[rand() % 20], rand() % 4 == 0 ? 1 + rand() % 2 : 0);
            if (n < 0) break;
            at += (size_t)n;
        }
        if (rand() % 8 == 0 && at > 1) at -= (size_t)(rand() % (int)at);   /* truncated */
        rtc_dtls_input(victim, dg, at);
        if (rtc_dtls_state(victim) != RTC_DTLS_CONNECTED) {
            fprintf(stderr, "spoofed datagram %d (seed %u, %zu bytes:", r, seed, at);
            for (size_t j = 0; j < at && j < 32; j++) fprintf(stderr, " %02x", dg[j]);
            fprintf(stderr, ") ended the connection: %s\n", rtc_dtls_failure(victim));
            return -1;
        }
    }
    return 0;
}

static void test_spoofed_after_handshake(rtc_cert_t *cc, rtc_cert_t *sc)
{
    for (int role = 0; role < 2; role++) {
        side_t c, s;
        pair_opts_t o = { 0 };
        s_pair(&c, &s, cc, sc, &o);
        rtc_dtls_start(c.dtls);
        s_pump(&c, &s, 5000);
        CHECK(rtc_dtls_state(c.dtls) == RTC_DTLS_CONNECTED && rtc_dtls_state(s.dtls) == RTC_DTLS_CONNECTED);
        rtc_dtls_t *victim = role ? c.dtls : s.dtls;
        CHECK(s_spoof_battery(victim, 1234u + (unsigned)role, 20000) == 0);
        CHECK(rtc_dtls_state(victim) == RTC_DTLS_CONNECTED);
        /* still a working DTLS connection: the other side's close_notify ends it */
        c.qn = s.qn = 0;
        rtc_dtls_close(role ? s.dtls : c.dtls);
        s_pump(&c, &s, 1000);
        CHECK(rtc_dtls_state(victim) == RTC_DTLS_CLOSED);
        rtc_dtls_destroy(&c.dtls);
        rtc_dtls_destroy(&s.dtls);
    }
}

int main(void)
{
    log_init("dtls_test", getenv("VERBOSE") ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN, false);
    test_cert();
    test_key_order();
    rtc_cert_t *cc = rtc_cert_new(), *sc = rtc_cert_new(), *stranger = rtc_cert_new();
    CHECK(cc && sc && stranger);
    test_bad_config(cc);
    test_handshake(cc, sc, NULL, NULL, RTC_SRTP_AEAD_AES_128_GCM);
    test_handshake(cc, sc, "SRTP_AES128_CM_SHA1_80", NULL, RTC_SRTP_AES128_CM_SHA1_80);
    test_handshake(cc, sc, NULL, "SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_128_GCM",
                   RTC_SRTP_AES128_CM_SHA1_80);
    test_mismatch(cc, sc, stranger, true);
    test_mismatch(cc, sc, stranger, false);
    test_loss(cc, sc);
    test_timeout(cc, sc);
    test_garbage_first(cc, sc);
    test_fragmented_client_hello(cc, sc);
    test_spoofed_after_handshake(cc, sc);
    rtc_cert_destroy(&cc);
    rtc_cert_destroy(&sc);
    rtc_cert_destroy(&stranger);
    if (s_failures) {
        fprintf(stderr, "dtls_test: %d check(s) failed\n", s_failures);
        return 1;
    }
    fprintf(stderr, "dtls_test: ok\n");
    return 0;
}
