/* attack_test — the real voxmesh-edge binary under attack, on a bus of our
 * own: one bad peer, packet or handshake ends (at most) its own session,
 * never another one, never the daemon (docs/testing-edge-attacks.md).
 *
 * A GOOD caller (rtc_peer in-process, WHIP POST, our real certificate) sends
 * 20 ms Opus RTP for the whole run; every packet's arrival on the bus
 * (audio.in.opus., matched by RTP sequence number) is timed. Meanwhile:
 *  1. garbage UDP at the edge's ICE ports from a plain socket: random bytes,
 *     fake STUN (also well-formed binding requests naming the edge's ufrag
 *     with a bad MESSAGE-INTEGRITY and a correct FINGERPRINT), fake DTLS
 *     records, fake RTP/RTCP, oversized and zero-length datagrams;
 *  1b. the same, plus plaintext DTLS alerts, with the source address spoofed
 *     to the good caller's validated 5-tuple (raw socket; skipped without
 *     CAP_NET_RAW), so that it passes libnice and reaches the demultiplexer,
 *     DTLS and SRTP of the live session;
 *  2. a caller whose offer advertises another certificate's fingerprint: its
 *     DTLS handshake fails, its session alone ends;
 *  2b. a caller that completes ICE and never starts DTLS (handshake deadline);
 *  3. a caller that POSTs a valid offer and never answers ICE (connect
 *     timeout, or ICE failure once its checks time out).
 * Then DELETE of the good session (200) and a clean exit on SIGTERM. */
#include "whip_http.h"
#include "whip_sdp.h"
#include "bus.h"
#include "bus_proxy.h"
#include "log.h"
#include "opus_codec.h"
#include "rtc/cert.h"
#include "rtc/peer.h"
#include "rtc/rtp.h"
#include "rtc/sdp.h"
#include "test.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PKTS 3000                  /* 60 s of 20 ms packets */
#define FRAME_US 20000
#define GOOD_RATIO 0.9                 /* of the packets sent in a window, on the bus */

static const char *const s_loopback[] = { "127.0.0.1", NULL };

static GMainContext *s_ctx;
static bus_t *s_sub;
static pid_t s_edge = -1;
static char s_log[64];
static char s_base[64];                /* http://127.0.0.1:PORT */
static int64_t s_t0;

/* ---- callers ----------------------------------------------------------------------- */

typedef struct {
    const char *name;
    GMainContext *ctx;
    rtc_cert_t *cert;                  /* the one the peer uses */
    rtc_peer_t *peer;
    bool gathered;
    rtc_peer_state_t state;
    char failure[256];
    int64_t post_us, connected_us;
    char *answer;
    char *url;                         /* the resource (Location resolved) */
    char id[64];
    bool trickle_empty;                /* offer: trickle ICE, no candidates, no end-of-candidates */
    int edge_port;                     /* the edge's ICE port from the answer */
    char edge_ufrag[SDP_ICE_MAX + 1];
    whip_answer_info_t info;
} caller_t;

/* session_ended events seen on the bus */
typedef struct {
    char id[64];
    char reason[200];
    int64_t at_us;
} ended_t;
static ended_t s_ended[64];
static int s_n_ended;

/* the good caller's audio */
static struct {
    caller_t *c;
    opus_enc_t *enc;
    uint32_t ssrc, ts0;
    uint16_t seq0;
    int64_t start_us;
    int sent, received, dups, send_errors;
    int64_t sent_us[MAX_PKTS], recv_us[MAX_PKTS];
} s_audio;

static double s_sec(int64_t us) { return (us - s_t0) / 1e6; }

static void s_on_state(rtc_peer_t *peer, rtc_peer_state_t st, void *user)
{
    caller_t *c = user;
    c->state = st;
    if (st == RTC_PEER_CONNECTED && !c->connected_us)
        c->connected_us = time_mono_us();
    if (st == RTC_PEER_FAILED)
        snprintf(c->failure, sizeof c->failure, "%s", rtc_peer_failure(peer));
}

static void s_on_gathered(rtc_peer_t *peer, void *user)
{
    (void)peer;
    ((caller_t *)user)->gathered = true;
}

/* ---- the main loop: the peers' context, the good caller's RTP, the bus ------------- */

static void s_send_due(void)
{
    caller_t *c = s_audio.c;
    if (!c || !c->peer || c->state != RTC_PEER_CONNECTED || !s_audio.start_us)
        return;
    int64_t now = time_mono_us();
    while (s_audio.sent < MAX_PKTS && s_audio.start_us + (int64_t)s_audio.sent * FRAME_US <= now) {
        int16_t pcm[960];
        for (int i = 0; i < 960; i++) {
            double n = (double)s_audio.sent * 960 + i;
            pcm[i] = (int16_t)(6000 * sin(2 * M_PI * 440 * n / 48000));
        }
        uint8_t pkt[1500];
        rtp_packet_t h = { 0 };
        h.version = 2;
        h.marker = s_audio.sent == 0;
        h.pt = (uint8_t)c->info.opus_pt;
        h.seq = (uint16_t)(s_audio.seq0 + s_audio.sent);
        h.ts = s_audio.ts0 + (uint32_t)s_audio.sent * 960;
        h.ssrc = s_audio.ssrc;
        int hl = rtp_header_write(&h, pkt, sizeof pkt);
        int n = hl > 0 ? opus_enc_encode(s_audio.enc, pcm, pkt + hl, sizeof pkt - (size_t)hl) : -1;
        if (n <= 0 || rtc_peer_send_rtp(c->peer, pkt, (size_t)hl + (size_t)n) != 0)
            s_audio.send_errors++;
        s_audio.sent_us[s_audio.sent++] = time_mono_us();
    }
}

static void s_drain_bus(void)
{
    bus_msg_t *m;
    while ((m = bus_recv(s_sub, 0))) {
        const char *sid = m->ev->session_id ? m->ev->session_id : "";
        if (!strncmp(m->topic, TOPIC_AUDIO_IN_OPUS, strlen(TOPIC_AUDIO_IN_OPUS)) && s_audio.c
            && !strcmp(sid, s_audio.c->id) && m->ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_ENCODED_AUDIO) {
            int idx = (uint16_t)(m->ev->encoded_audio->rtp_seq - s_audio.seq0);
            if (idx < s_audio.sent) {
                if (s_audio.recv_us[idx]) s_audio.dups++;
                else {
                    s_audio.recv_us[idx] = time_mono_us();
                    s_audio.received++;
                }
            }
        } else if (!strncmp(m->topic, TOPIC_SESSION, strlen(TOPIC_SESSION))
                   && m->ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_SESSION_ENDED
                   && s_n_ended < (int)(sizeof s_ended / sizeof s_ended[0])) {
            ended_t *e = &s_ended[s_n_ended++];
            snprintf(e->id, sizeof e->id, "%s", sid);
            snprintf(e->reason, sizeof e->reason, "%s",
                     m->ev->session_ended->reason ? m->ev->session_ended->reason : "");
            e->at_us = time_mono_us();
        }
        bus_msg_destroy(&m);
    }
}

static void s_pump_once(void)
{
    for (int i = 0; i < 64 && g_main_context_iteration(s_ctx, FALSE); i++) {}
    s_send_due();
    s_drain_bus();
}

static void s_pump(int ms)
{
    int64_t end = time_mono_us() + (int64_t)ms * 1000;
    while (time_mono_us() < end) {
        s_pump_once();
        g_usleep(1000);
    }
}

static const ended_t *s_ended_of(const char *id)
{
    for (int i = 0; i < s_n_ended; i++)
        if (!strcmp(s_ended[i].id, id)) return &s_ended[i];
    return NULL;
}

/* Pumps until the session's session_ended was seen or ms pass. */
static const ended_t *s_wait_ended(const char *id, int ms)
{
    int64_t end = time_mono_us() + (int64_t)ms * 1000;
    while (!s_ended_of(id) && time_mono_us() < end) {
        s_pump_once();
        g_usleep(1000);
    }
    return s_ended_of(id);
}

static bool s_edge_alive(void)
{
    return s_edge > 0 && waitpid(s_edge, NULL, WNOHANG) == 0;
}

/* Of the good caller's packets [from, to): how many reached the bus, and
 * the largest send -> bus delay. */
static int s_window(int from, int to, double *max_delay_ms)
{
    int n = 0;
    int64_t max = 0;
    for (int i = from; i < to && i < s_audio.sent; i++) {
        if (!s_audio.recv_us[i]) continue;
        n++;
        int64_t d = s_audio.recv_us[i] - s_audio.sent_us[i];
        if (d > max) max = d;
    }
    if (max_delay_ms) *max_delay_ms = max / 1000.0;
    return n;
}

/* Checks the window [from, to) after a grace period for the last packets. */
static void s_check_window(const char *what, int from, int to)
{
    s_pump(300);
    double delay;
    int n = s_window(from, to, &delay);
    int sent = to - from;
    CHECK(sent > 0 && n >= GOOD_RATIO * sent && s_audio.c->state == RTC_PEER_CONNECTED,
          "%s: the good session's audio flows: %d of %d packets on the bus, max delay %.1f ms",
          what, n, sent, delay);
}

/* ---- HTTP ---------------------------------------------------------------------------- */

static size_t s_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    g_string_append_len(arg, data, (gssize)(size * nmemb));
    return size * nmemb;
}

/* GET base+path; returns the status (0 on a transport error), *body malloc'd. */
static long s_get(const char *path, char **body)
{
    char url[128];
    snprintf(url, sizeof url, "%s%s", s_base, path);
    GString *s = g_string_new(NULL);
    CURL *c = curl_easy_init();
    long status = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    *body = g_string_free(s, FALSE);
    return status;
}

/* The value of an unlabelled metric line "NAME VALUE", or -1. */
static double s_metric(const char *text, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, name, nl) && p[nl] == ' ') return atof(p + nl + 1);
    return -1;
}

/* The value of "NAME{session="ID"} VALUE", or -1 when absent. */
static double s_session_metric(const char *text, const char *name, const char *id)
{
    char key[200];
    snprintf(key, sizeof key, "\n%s{session=\"%s\"} ", name, id);
    const char *p = strstr(text, key);
    return p ? atof(p + strlen(key)) : -1;
}

static long s_delete(const char *url)
{
    whip_response_t r;
    char err[256];
    long status = whip_http_delete(url, NULL, 5000, &r, err, sizeof err) == 0 ? r.status : 0;
    whip_response_clear(&r);
    return status;
}

/* ---- setting up a caller -------------------------------------------------------------- */

/* A peer on ctx using `use`, gathered, its offer advertising `advertise`'s
 * fingerprint, POSTed. Returns 0 on a 201 with a Location. */
static int s_caller_post(caller_t *c, GMainContext *ctx, rtc_cert_t *use, rtc_cert_t *advertise)
{
    c->ctx = ctx;
    c->cert = use;
    rtc_peer_config_t cfg = {
        .label = c->name, .controlling = true, .dtls_role = RTC_DTLS_ROLE_CLIENT,
        .bind_addrs = s_loopback, .cert = use, .on_state = s_on_state, .on_gathered = s_on_gathered,
        .user = c,
    };
    c->peer = rtc_peer_new(ctx, &cfg);
    if (!c->peer || rtc_peer_gather(c->peer) < 0) return -1;
    int64_t end = time_mono_us() + 3000000;
    while (!c->gathered && time_mono_us() < end) {
        if (ctx != s_ctx) g_main_context_iteration(ctx, FALSE);
        s_pump_once();
        g_usleep(1000);
    }
    if (!c->gathered) return -1;
    char err[512];
    char *offer = NULL;
    if (c->trickle_empty) {
        /* a trickling caller that will never send a candidate nor end-of-candidates */
        sdp_fingerprint_t fp;
        sdp_fingerprint_parse(rtc_cert_fingerprint(advertise), &fp);
        sdp_offer_params_t p = { .ice_ufrag = rtc_peer_local_ufrag(c->peer), .ice_pwd = rtc_peer_local_pwd(c->peer),
                                 .trickle = true, .fingerprint = &fp, .cname = c->name, .audio_ssrc = g_random_int() };
        offer = sdp_offer_build(&p, err, sizeof err);
    } else {
        offer = whip_offer_build(c->peer, advertise, c->name, g_random_int(), false, 0, err, sizeof err);
    }
    if (!offer) {
        printf("# %s: offer: %s\n", c->name, err);
        return -1;
    }
    char url[96];
    snprintf(url, sizeof url, "%s/whip", s_base);
    whip_response_t r;
    c->post_us = time_mono_us();
    int rc = whip_http_post(url, NULL, offer, 5000, &r, err, sizeof err);
    free(offer);
    if (rc < 0) {
        printf("# %s: POST: %s\n", c->name, err);
        return -1;
    }
    if (r.status != 201 || !r.location) {
        printf("# %s: POST answered %ld: %s\n", c->name, r.status, r.body ? r.body : "");
        whip_response_clear(&r);
        return -1;
    }
    c->url = whip_url_resolve(url, r.location);
    const char *slash = strrchr(r.location, '/');
    snprintf(c->id, sizeof c->id, "%s", slash ? slash + 1 : r.location);
    c->answer = strdup(r.body);
    whip_response_clear(&r);
    /* the edge's candidate and ufrag, as an attacker who saw the answer would know them */
    sdp_t *a = sdp_answer_parse(c->answer, strlen(c->answer), err, sizeof err);
    if (a) {
        const sdp_media_t *m = &a->media[a->codecs.audio];
        if (m->candidate_count) c->edge_port = m->candidates[0].port;
        snprintf(c->edge_ufrag, sizeof c->edge_ufrag, "%s", m->ice_ufrag ? m->ice_ufrag : "");
        sdp_destroy(&a);
    }
    return c->url && c->answer ? 0 : -1;
}

/* ICE only: the answer's credentials and candidates, but no fingerprint, so
 * our side never starts DTLS. */
static int s_apply_ice_only(caller_t *c)
{
    char err[SDP_ERR_MAX];
    sdp_t *a = sdp_answer_parse(c->answer, strlen(c->answer), err, sizeof err);
    if (!a) return -1;
    const sdp_media_t *m = &a->media[a->codecs.audio];
    int rc = rtc_peer_set_remote_credentials(c->peer, m->ice_ufrag, m->ice_pwd);
    for (int i = 0; rc == 0 && i < m->candidate_count; i++) {
        char line[512];
        if (sdp_candidate_format(&m->candidates[i], line, sizeof line) > 0)
            rtc_peer_add_remote_candidate(c->peer, line);
    }
    rtc_peer_remote_end_of_candidates(c->peer);
    sdp_destroy(&a);
    return rc;
}

static void s_caller_free(caller_t *c)
{
    rtc_peer_destroy(&c->peer);
    free(c->answer);
    free(c->url);
    c->answer = c->url = NULL;
}

/* ---- garbage ---------------------------------------------------------------------------- */

enum { G_RANDOM, G_STUNISH, G_STUN, G_DTLSISH, G_DTLS, G_RTPISH, G_RTP, G_OTHER, G_OVERSIZED,
       G_EMPTY, G_KINDS };
static const char *const s_kind_names[G_KINDS] = {
    "random", "stun-ish", "stun", "dtls-ish", "dtls", "rtp-ish", "rtp", "other-byte", "oversized", "empty",
};

static void s_random(uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)g_random_int();
}

static uint32_t s_crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}

static size_t s_put_attr(uint8_t *b, size_t at, uint16_t type, const void *v, uint16_t len)
{
    b[at] = (uint8_t)(type >> 8);
    b[at + 1] = (uint8_t)type;
    b[at + 2] = (uint8_t)(len >> 8);
    b[at + 3] = (uint8_t)len;
    memcpy(b + at + 4, v, len);
    size_t n = 4 + len;
    while (n % 4) b[at + n++] = 0;
    return at + n;
}

/* A STUN binding request to `ufrag` (RFC 8445 7.2.2): USERNAME, PRIORITY,
 * ICE-CONTROLLING, a random MESSAGE-INTEGRITY and a correct FINGERPRINT, so
 * that it gets as far as the integrity check. Sometimes an attribute lies
 * about its length. */
static size_t s_stun(uint8_t *b, const char *ufrag)
{
    b[0] = 0x00; b[1] = 0x01;
    uint32_t cookie = htonl(0x2112A442);
    memcpy(b + 4, &cookie, 4);
    s_random(b + 8, 12);
    char user[300];
    int ul = snprintf(user, sizeof user, "%s:%08x", ufrag, g_random_int());
    size_t at = 20;
    at = s_put_attr(b, at, 0x0006, user, (uint16_t)ul);
    uint32_t prio = g_random_int();
    at = s_put_attr(b, at, 0x0024, &prio, 4);
    uint8_t tie[8];
    s_random(tie, 8);
    at = s_put_attr(b, at, 0x802A, tie, 8);
    if (g_random_int_range(0, 2)) at = s_put_attr(b, at, 0x0025, "", 0);     /* USE-CANDIDATE */
    uint8_t hmac[20];
    s_random(hmac, 20);
    at = s_put_attr(b, at, 0x0008, hmac, 20);
    size_t len = at - 20 + 8;                                                /* + FINGERPRINT */
    b[2] = (uint8_t)(len >> 8);
    b[3] = (uint8_t)len;
    uint32_t fp = htonl(s_crc32(b, at) ^ 0x5354554e);
    at = s_put_attr(b, at, 0x8028, &fp, 4);
    if (g_random_int_range(0, 4) == 0) b[22 + g_random_int_range(0, 2)] = 0xff;   /* USERNAME length lies */
    return at;
}

/* A DTLS record (RFC 6347 4.1) of a random content type and epoch; a
 * handshake one looks like a ClientHello fragment. Lengths sometimes lie. */
static size_t s_dtls(uint8_t *b)
{
    static const uint8_t types[] = { 20, 21, 22, 23 };
    size_t body = (size_t)g_random_int_range(1, 600);
    b[0] = types[g_random_int_range(0, 4)];
    b[1] = 0xfe; b[2] = g_random_int_range(0, 2) ? 0xfd : 0xff;
    b[3] = 0; b[4] = (uint8_t)g_random_int_range(0, 3);                      /* epoch 0..2 */
    s_random(b + 5, 6);
    uint16_t l = g_random_int_range(0, 4) ? (uint16_t)body : (uint16_t)g_random_int();
    b[11] = (uint8_t)(l >> 8);
    b[12] = (uint8_t)l;
    s_random(b + 13, body);
    if (b[0] == 22 && body > 12) {
        b[13] = 1;                                                            /* ClientHello */
        b[14] = 0; b[15] = (uint8_t)((body - 12) >> 8); b[16] = (uint8_t)(body - 12);
    }
    if (b[0] == 21 && body >= 2) b[13] = 2;                                   /* fatal */
    return 13 + body;
}

/* An RTP (or RTCP) header with lying CSRC count, padding or extension. */
static size_t s_rtp(uint8_t *b)
{
    size_t len = (size_t)g_random_int_range(12, 1200);
    s_random(b, len);
    b[0] = (uint8_t)(0x80 | (g_random_int() & 0x3f));                        /* P, X, CC random */
    if (g_random_int_range(0, 2)) b[1] = (uint8_t)(111 | (g_random_int() & 0x80));
    if (g_random_int_range(0, 4) == 0) b[1] = (uint8_t)g_random_int_range(192, 224);   /* RTCP */
    if (g_random_int_range(0, 2) && s_audio.ssrc) {                          /* the good caller's SSRC */
        uint32_t ssrc = htonl(s_audio.ssrc);
        memcpy(b + 8, &ssrc, 4);
    }
    return len;
}

static size_t s_garbage(int kind, uint8_t *b, const char *ufrag)
{
    size_t n;
    switch (kind) {
    case G_RANDOM: n = (size_t)g_random_int_range(1, 1500); s_random(b, n); return n;
    case G_STUNISH: n = (size_t)g_random_int_range(1, 600); s_random(b, n); b[0] = (uint8_t)g_random_int_range(0, 4); return n;
    case G_STUN: return s_stun(b, ufrag);
    case G_DTLSISH: n = (size_t)g_random_int_range(1, 1500); s_random(b, n); b[0] = (uint8_t)g_random_int_range(20, 64); return n;
    case G_DTLS: return s_dtls(b);
    case G_RTPISH: n = (size_t)g_random_int_range(1, 1500); s_random(b, n); b[0] = (uint8_t)g_random_int_range(128, 192); return n;
    case G_RTP: return s_rtp(b);
    case G_OTHER: {
        n = (size_t)g_random_int_range(1, 1500);
        s_random(b, n);
        static const uint8_t firsts[] = { 4, 19, 64, 79, 80, 127, 192, 255 };
        b[0] = firsts[g_random_int_range(0, 8)];
        return n;
    }
    case G_OVERSIZED: {
        static const size_t sizes[] = { 1501, 2048, 2049, 4096, 9000, 65507 };
        n = sizes[g_random_int_range(0, 6)];
        s_random(b, n);
        static const uint8_t firsts[] = { 0, 1, 22, 23, 128, 144 };
        b[0] = firsts[g_random_int_range(0, 6)];
        return n;
    }
    default: return 0;
    }
}

/* Datagrams from a raw socket with the source address of our choosing. */
static int s_spoof(int raw, const struct sockaddr_in *src, const struct sockaddr_in *dst,
                   const uint8_t *data, size_t len)
{
    static uint8_t pkt[65536];
    if (len > 65535 - 28) return -1;
    struct iphdr *ip = (struct iphdr *)pkt;
    memset(ip, 0, sizeof *ip);
    ip->version = 4;
    ip->ihl = 5;
    ip->ttl = 64;
    ip->protocol = IPPROTO_UDP;
    ip->tot_len = htons((uint16_t)(28 + len));
    ip->saddr = src->sin_addr.s_addr;
    ip->daddr = dst->sin_addr.s_addr;
    struct udphdr *u = (struct udphdr *)(pkt + 20);
    u->source = src->sin_port;
    u->dest = dst->sin_port;
    u->len = htons((uint16_t)(8 + len));
    u->check = 0;                                   /* none: allowed over IPv4 */
    memcpy(pkt + 28, data, len);
    return sendto(raw, pkt, 28 + len, 0, (const struct sockaddr *)dst, sizeof *dst) < 0 ? -1 : 0;
}

static int s_addr_parse(const char *text, struct sockaddr_in *out)
{
    char ip[64];
    const char *colon = strrchr(text, ':');
    if (!colon || (size_t)(colon - text) >= sizeof ip) return -1;
    memcpy(ip, text, (size_t)(colon - text));
    ip[colon - text] = '\0';
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)atoi(colon + 1));
    return inet_pton(AF_INET, ip, &out->sin_addr) == 1 ? 0 : -1;
}

/* Sends `total` garbage datagrams round-robin at the targets, spread evenly
 * over `ms` (the schedule catches up after a late wake-up, so a loaded
 * machine still sends them all; at most 3 * ms), pumping in between.
 * raw >= 0: spoofed from `src`. Returns the datagrams the kernel took. */
static int s_blast(int fd, int raw, const struct sockaddr_in *src, const struct sockaddr_in *targets,
                   const char *const *ufrags, int ntargets, int total, int ms, int counts[G_KINDS])
{
    static uint8_t buf[65536];
    int sent = 0, tried = 0;
    int64_t start = time_mono_us(), limit = start + (int64_t)ms * 3000;
    while (tried < total && time_mono_us() < limit) {
        int64_t due = (time_mono_us() - start) * total / ((int64_t)ms * 1000) + 1;
        for (int burst = 0; tried < total && tried < due && burst < 200; burst++) {
            int t = tried++ % ntargets;
            int kind = g_random_int_range(0, G_KINDS);
            size_t n = s_garbage(kind, buf, ufrags[t]);
            int rc = raw >= 0 ? s_spoof(raw, src, &targets[t], buf, n)
                              : (int)sendto(fd, buf, n, 0, (const struct sockaddr *)&targets[t], sizeof targets[t]);
            if (rc >= 0) {
                sent++;
                counts[kind]++;
            }
        }
        s_pump_once();
        g_usleep(500);
    }
    return sent;
}

/* ---- the edge ------------------------------------------------------------------------------ */

static pid_t s_start_edge(const char *front, const char *back)
{
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    char path[256], pub[128], sub[128];
    snprintf(path, sizeof path, "%s/bin/voxmesh-edge", build);
    snprintf(pub, sizeof pub, "--bus-pub=%s", front);
    snprintf(sub, sizeof sub, "--bus-sub=%s", back);
    snprintf(s_log, sizeof s_log, "/tmp/attack_test-edge-%d.log", getpid());
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        int fd = open(s_log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        char level[64];
        snprintf(level, sizeof level, "--log-level=%s",
                 getenv("ATTACK_TEST_LOG_LEVEL") ? getenv("ATTACK_TEST_LOG_LEVEL") : "info");
        execl(path, path, "--listen=127.0.0.1:0", pub, sub, "--metrics-port=0", "--log-target=stderr",
              level, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* The edge's HTTP port from its "listening on http://ADDR:PORT/" line. */
static int s_edge_port(int ms)
{
    int64_t end = time_mono_us() + (int64_t)ms * 1000;
    while (time_mono_us() < end && s_edge_alive()) {
        gchar *text = NULL;
        if (g_file_get_contents(s_log, &text, NULL, NULL)) {
            const char *p = strstr(text, "listening on http://127.0.0.1:");
            int port = p ? atoi(p + strlen("listening on http://127.0.0.1:")) : 0;
            g_free(text);
            if (port > 0) return port;
        }
        g_usleep(20000);
    }
    return 0;
}

/* Lines of the edge's log that contain `needle`. */
static int s_log_count(const char *needle)
{
    gchar *text = NULL;
    if (!g_file_get_contents(s_log, &text, NULL, NULL)) return 0;
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++) n++;
    g_free(text);
    return n;
}

static void s_log_tail(void)
{
    gchar *text = NULL;
    if (!g_file_get_contents(s_log, &text, NULL, NULL)) return;
    size_t len = strlen(text);
    printf("# --- last lines of the edge's log (%s) ---\n%s\n", s_log, len > 4000 ? text + len - 4000 : text);
    g_free(text);
}

/* ---- the test ------------------------------------------------------------------------------- */

int main(void)
{
    log_init("attack_test", LOG_LEVEL_ERROR, false);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    s_t0 = time_mono_us();
    /* The garbage is pseudo-random from a fixed seed, so a run is repeatable
     * (ATTACK_TEST_SEED=N tries another one). */
    guint32 seed = getenv("ATTACK_TEST_SEED") ? (guint32)strtoul(getenv("ATTACK_TEST_SEED"), NULL, 10) : 20261203u;
    g_random_set_seed(seed);
    printf("# garbage seed %u\n", seed);
    char front[96], back[96];
    snprintf(front, sizeof front, "ipc://@edge-attack-%d.pub", getpid());
    snprintf(back, sizeof back, "ipc://@edge-attack-%d.sub", getpid());
    bus_proxy_t *proxy = bus_proxy_new(front, back);
    s_sub = bus_new("attack-test", NULL, back, NULL);
    bus_subscribe(s_sub, TOPIC_AUDIO_IN_OPUS);
    bus_subscribe(s_sub, TOPIC_SESSION);
    s_ctx = g_main_context_new();

    s_edge = s_start_edge(front, back);
    int port = s_edge_port(15000);
    for (int i = 0; i < 500 && bus_proxy_subscriptions(proxy, TOPIC_AUDIO_OUT_OPUS) < 1; i++) g_usleep(10000);
    CHECK(port > 0 && bus_proxy_subscriptions(proxy, TOPIC_AUDIO_OUT_OPUS) >= 1
          && bus_proxy_subscriptions(proxy, TOPIC_SESSION) >= 1,
          "voxmesh-edge up on 127.0.0.1:%d, subscribed to the bus (%.1f s)", port, s_sec(time_mono_us()));
    if (port <= 0) {
        s_log_tail();
        if (s_edge > 0) kill(s_edge, SIGKILL);
        return TEST_DONE();
    }
    snprintf(s_base, sizeof s_base, "http://127.0.0.1:%d", port);

    rtc_cert_t *cert = rtc_cert_new(), *other = rtc_cert_new();
    opus_enc_config_t ecfg;
    opus_enc_config_defaults(&ecfg);
    s_audio.enc = opus_enc_new(&ecfg);
    char err[512];
    char *body = NULL;

    /* ---- the good caller -------------------------------------------------------------- */
    caller_t good = { .name = "good" };
    s_audio.c = &good;
    s_audio.ssrc = g_random_int();
    s_audio.ts0 = g_random_int();
    s_audio.seq0 = (uint16_t)g_random_int();
    bool posted = s_caller_post(&good, s_ctx, cert, cert) == 0;
    CHECK(posted && whip_answer_apply(good.peer, good.answer, strlen(good.answer), &good.info, err, sizeof err) == 0,
          "good caller: 201, session %s, edge ICE port %d", good.id, good.edge_port);
    int64_t end = time_mono_us() + 10000000;
    while (posted && good.state != RTC_PEER_CONNECTED && good.state != RTC_PEER_FAILED && time_mono_us() < end)
        s_pump(5);
    CHECK(good.state == RTC_PEER_CONNECTED, "good caller CONNECTED in %.0f ms",
          good.connected_us ? (good.connected_us - good.post_us) / 1000.0 : -1.0);
    if (good.state != RTC_PEER_CONNECTED) {
        s_log_tail();
        kill(s_edge, SIGKILL);
        return TEST_DONE();
    }
    rtc_peer_stats_t gst;
    rtc_peer_stats(good.peer, &gst);
    s_audio.start_us = time_mono_us();
    s_pump(1000);
    s_check_window("baseline (1 s)", 0, s_audio.sent);

    /* ---- attack 2: a DTLS handshake that fails ------------------------------------------ */
    caller_t bad = { .name = "bad-dtls" };
    posted = s_caller_post(&bad, s_ctx, other, cert) == 0;
    CHECK(posted && whip_answer_apply(bad.peer, bad.answer, strlen(bad.answer), &bad.info, err, sizeof err) == 0,
          "bad-dtls caller (offer advertises another certificate's fingerprint): 201, session %s", bad.id);
    int w0 = s_audio.sent;
    const ended_t *e = posted ? s_wait_ended(bad.id, 8000) : NULL;
    CHECK(e && strstr(e->reason, "DTLS"), "bad-dtls: the edge ended its session %.0f ms after the POST: \"%s\"",
          e ? (e->at_us - bad.post_us) / 1000.0 : -1.0, e ? e->reason : "(no session_ended)");
    CHECK(bad.state != RTC_PEER_CONNECTED, "bad-dtls: our side never CONNECTED (%s%s%s)",
          rtc_peer_state_name(bad.state), *bad.failure ? ": " : "", bad.failure);
    s_pump(200);
    long st = s_get("/metrics", &body);
    CHECK(st == 200 && s_metric(body, "voxmesh_edge_sessions") == 1
          && s_session_metric(body, "voxmesh_edge_session_packets_in_total", bad.id) < 0
          && s_session_metric(body, "voxmesh_edge_session_packets_in_total", good.id) > 0,
          "bad-dtls: /metrics: voxmesh_edge_sessions %g, its per-session metrics gone, the good one's there",
          st == 200 ? s_metric(body, "voxmesh_edge_sessions") : -1);
    free(body);
    CHECK(bad.url && s_delete(bad.url) == 404, "bad-dtls: DELETE of its resource -> 404 (gone)");
    s_check_window("during the failed DTLS handshake", w0, s_audio.sent);
    s_caller_free(&bad);

    /* ---- attacks 3 and 2b start: they end by timeouts, while the rest goes on ------------ */
    caller_t mute = { .name = "trickle-silent", .trickle_empty = true };
    GMainContext *mute_ctx = g_main_context_new();
    CHECK(s_caller_post(&mute, mute_ctx, cert, cert) == 0,
          "trickle-silent caller (trickle offer, no candidate, never trickles one): 201, session %s", mute.id);
    caller_t silent = { .name = "silent" };
    GMainContext *silent_ctx = g_main_context_new();    /* gathered, then never iterated again */
    CHECK(s_caller_post(&silent, silent_ctx, cert, cert) == 0,
          "silent caller (valid offer, then never answers ICE): 201, session %s, edge ICE port %d",
          silent.id, silent.edge_port);
    caller_t nodtls = { .name = "no-dtls" };
    posted = s_caller_post(&nodtls, s_ctx, cert, cert) == 0;
    CHECK(posted && s_apply_ice_only(&nodtls) == 0,
          "no-dtls caller (ICE, never a ClientHello): 201, session %s", nodtls.id);

    /* ---- attack 1: garbage at the ICE ports from a plain socket ----------------------------- */
    int udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    int sndbuf = 4 << 20;
    setsockopt(udp, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    struct sockaddr_in targets[4];
    const char *ufrags[4] = { good.edge_ufrag, silent.edge_ufrag, nodtls.edge_ufrag, mute.edge_ufrag };
    int ports[4] = { good.edge_port, silent.edge_port, nodtls.edge_port, mute.edge_port };
    for (int i = 0; i < 4; i++) {
        memset(&targets[i], 0, sizeof targets[i]);
        targets[i].sin_family = AF_INET;
        targets[i].sin_port = htons((uint16_t)ports[i]);
        inet_pton(AF_INET, "127.0.0.1", &targets[i].sin_addr);
    }
    CHECK(good.edge_port > 0 && strstr(gst.remote_addr, ":") && atoi(strrchr(gst.remote_addr, ':') + 1) == good.edge_port,
          "the answer's candidate port %d is the good session's selected pair (%s <-> %s)",
          good.edge_port, gst.local_addr, gst.remote_addr);
    int counts[G_KINDS] = { 0 };
    w0 = s_audio.sent;
    int64_t a0 = time_mono_us();
    /* mostly at the good session's port: two of every three datagrams */
    struct sockaddr_in t3[3] = { targets[0], targets[0], targets[1] };
    const char *u3[3] = { ufrags[0], ufrags[0], ufrags[1] };
    int blasted = s_blast(udp, -1, NULL, t3, u3, 3, 4500, 2500, counts);
    blasted += s_blast(udp, -1, NULL, &targets[2], &ufrags[2], 2, 600, 400, counts);   /* no-dtls, trickle-silent */
    double secs = (time_mono_us() - a0) / 1e6;
    int w1 = s_audio.sent;
    printf("# garbage: %d datagrams in %.1f s:", blasted, secs);
    for (int k = 0; k < G_KINDS; k++) printf(" %s %d", s_kind_names[k], counts[k]);
    printf("\n");
    CHECK(s_edge_alive() && blasted >= 4500, "attack 1: the edge is alive after %d garbage datagrams", blasted);
    s_check_window("attack 1, during the garbage", w0, w1);
    st = s_get("/metrics", &body);
    double in1 = st == 200 ? s_session_metric(body, "voxmesh_edge_session_packets_in_total", good.id) : -1;
    free(body);
    s_pump(1000);
    s_check_window("attack 1, the second after", w1, s_audio.sent);
    st = s_get("/metrics", &body);
    double in2 = st == 200 ? s_session_metric(body, "voxmesh_edge_session_packets_in_total", good.id) : -1;
    CHECK(in1 > 0 && in2 >= in1 + 40, "attack 1: /metrics shows the good session, packets_in %g -> %g a second later",
          in1, in2);
    free(body);
    CHECK(!s_ended_of(silent.id) && !s_ended_of(nodtls.id) && !s_ended_of(mute.id),
          "attack 1: the garbage ended none of the silent, no-dtls, trickle-silent sessions early");

    /* ---- attack 1b: the same, spoofed from the good caller's validated 5-tuple ------------- */
    int raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    struct sockaddr_in src, dst;
    if (raw < 0) {
        SKIP("attack 1b (spoofed datagrams from the good caller's 5-tuple) did not run: no raw socket (%s): "
             "needs CAP_NET_RAW (root)", strerror(errno));
    } else if (s_addr_parse(gst.local_addr, &src) == 0 && s_addr_parse(gst.remote_addr, &dst) == 0) {
        memset(counts, 0, sizeof counts);
        w0 = s_audio.sent;
        a0 = time_mono_us();
        blasted = s_blast(-1, raw, &src, &dst, &ufrags[0], 1, 2500, 1500, counts);
        /* plaintext DTLS alerts and close_notify at epoch 0, fake ones at
         * epoch 1, and epoch-1 records too short for the AEAD or of an
         * unknown type (OpenSSL 3.0 fails the connection on those) */
        static const uint8_t alerts[][15] = {
            { 21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0x70, 0, 2, 2, 40 },   /* fatal handshake_failure */
            { 21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0x71, 0, 2, 1, 0 },    /* close_notify */
            { 21, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 0x72, 0, 2, 1, 0 },    /* close_notify, epoch 1, no MAC */
            { 21, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x73, 0, 2, 2, 10 },   /* DTLS 1.0 unexpected_message */
            { 21, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 0x74, 0, 2, 2, 0 },    /* epoch 1, 2 bytes: no room for a tag */
            { 26, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 0x75, 0, 2, 9, 9 },    /* unknown content type 26 */
        };
        for (size_t i = 0; i < sizeof alerts / sizeof alerts[0]; i++)
            if (s_spoof(raw, &src, &dst, alerts[i], sizeof alerts[i]) == 0) blasted++;
        uint8_t ct[13 + 40];
        memcpy(ct, alerts[2], 13);
        ct[12] = 40;
        s_random(ct + 13, 40);
        if (s_spoof(raw, &src, &dst, ct, sizeof ct) == 0) blasted++;     /* "encrypted" alert, bad tag */
        secs = (time_mono_us() - a0) / 1e6;
        w1 = s_audio.sent;
        printf("# spoofed from %s to %s: %d datagrams in %.1f s:", gst.local_addr, gst.remote_addr, blasted, secs);
        for (int k = 0; k < G_KINDS; k++) printf(" %s %d", s_kind_names[k], counts[k]);
        printf(" + 7 forged DTLS records\n");
        s_pump(300);
        CHECK(s_edge_alive() && blasted >= 2400 && !s_ended_of(good.id),
              "attack 1b: edge alive, the good session not ended by %d spoofed datagrams%s%s",
              blasted, s_ended_of(good.id) ? ": " : "", s_ended_of(good.id) ? s_ended_of(good.id)->reason : "");
        s_check_window("attack 1b, during the spoofed garbage", w0, w1);
        s_pump(700);
        s_check_window("attack 1b, the second after", w1, s_audio.sent);
        char *mbody = NULL;
        double rejected = s_get("/metrics", &mbody) == 200
                              ? s_session_metric(mbody, "voxmesh_edge_session_rejected_datagrams", good.id) : -1;
        free(mbody);
        CHECK(rejected >= 1000, "attack 1b: the spoofed datagrams show in /metrics (rejected_datagrams %g)", rejected);
        close(raw);
    }
    close(udp);
    int bad_lines = s_log_count("RTP packet dropped");
    printf("# edge log: %d \"RTP packet dropped\" line(s) (rate-limited)\n", bad_lines);

    /* ---- attacks 2b and 3 end ----------------------------------------------------------- */
    w0 = s_audio.sent;
    e = s_wait_ended(nodtls.id, (int)(15000 - (time_mono_us() - nodtls.post_us) / 1000));
    CHECK(e != NULL, "no-dtls: ended %.1f s after the POST: \"%s\" (our side: ICE up, no DTLS, %s)",
          e ? (e->at_us - nodtls.post_us) / 1e6 : -1.0, e ? e->reason : "(not ended within 15 s)",
          rtc_peer_state_name(nodtls.state));
    CHECK(nodtls.url && s_delete(nodtls.url) == 404, "no-dtls: DELETE -> 404");
    s_caller_free(&nodtls);
    e = s_wait_ended(silent.id, (int)(33000 - (time_mono_us() - silent.post_us) / 1000));
    CHECK(e != NULL, "silent: ended %.1f s after the POST: \"%s\"",
          e ? (e->at_us - silent.post_us) / 1e6 : -1.0, e ? e->reason : "(not ended within 33 s)");
    CHECK(silent.url && s_delete(silent.url) == 404, "silent: DELETE -> 404");
    /* the edge's connect timeout (30 s from the offer) is all that can end this one */
    e = s_wait_ended(mute.id, (int)(34000 - (time_mono_us() - mute.post_us) / 1000));
    CHECK(e != NULL, "trickle-silent: ended %.1f s after the POST: \"%s\"",
          e ? (e->at_us - mute.post_us) / 1e6 : -1.0, e ? e->reason : "(not ended within 34 s)");
    CHECK(mute.url && s_delete(mute.url) == 404, "trickle-silent: DELETE -> 404");
    s_check_window("while the no-dtls and silent sessions timed out", w0, s_audio.sent);
    s_caller_free(&silent);
    s_caller_free(&mute);
    while (g_main_context_iteration(silent_ctx, FALSE)) {}
    g_main_context_unref(silent_ctx);
    while (g_main_context_iteration(mute_ctx, FALSE)) {}
    g_main_context_unref(mute_ctx);

    /* ---- the whole run, then hang up ------------------------------------------------------- */
    double delay;
    int total = s_window(0, s_audio.sent, &delay);
    CHECK(total >= 0.98 * s_audio.sent && s_audio.dups == 0,
          "whole run: %d of %d packets of the good caller on the bus (%.1f s of audio), max delay %.1f ms, "
          "%d duplicates, %d send errors", total, s_audio.sent, s_audio.sent * 0.02, delay, s_audio.dups,
          s_audio.send_errors);
    st = s_get("/metrics", &body);
    CHECK(st == 200 && s_metric(body, "voxmesh_edge_sessions") == 1
          && s_session_metric(body, "voxmesh_edge_session_packets_in_total", good.id) > 0,
          "/metrics: voxmesh_edge_sessions %g, the good session listed",
          st == 200 ? s_metric(body, "voxmesh_edge_sessions") : -1);
    free(body);
    CHECK(good.state == RTC_PEER_CONNECTED && !s_ended_of(good.id), "the good session is still up");
    CHECK(s_delete(good.url) == 200, "DELETE of the good session -> 200");
    e = s_wait_ended(good.id, 3000);
    CHECK(e && strstr(e->reason, "deleted"), "good: session_ended \"%s\"", e ? e->reason : "(none)");
    s_caller_free(&good);
    for (int i = 0; i < 10; i++) s_pump_once();

    kill(s_edge, SIGTERM);
    int status = -1;
    end = time_mono_us() + 10000000;
    while (waitpid(s_edge, &status, WNOHANG) == 0 && time_mono_us() < end) g_usleep(10000);
    if (time_mono_us() >= end) {
        kill(s_edge, SIGKILL);
        waitpid(s_edge, &status, 0);
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the edge exits cleanly on SIGTERM (status %d)", status);
    CHECK(s_log_count("AddressSanitizer") == 0 && s_log_count("runtime error") == 0
          && s_log_count("LeakSanitizer") == 0, "no sanitizer report in the edge's log");
    printf("# total %.1f s\n", s_sec(time_mono_us()));
    if (test_failures_) s_log_tail();
    else if (!getenv("ATTACK_TEST_KEEP_LOG")) unlink(s_log);
    else printf("# the edge's log: %s\n", s_log);

    opus_enc_destroy(&s_audio.enc);
    rtc_cert_destroy(&cert);
    rtc_cert_destroy(&other);
    while (g_main_context_iteration(s_ctx, FALSE)) {}
    g_main_context_unref(s_ctx);
    bus_destroy(&s_sub);
    bus_proxy_destroy(&proxy);
    curl_global_cleanup();
    return TEST_DONE();
}
