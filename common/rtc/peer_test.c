/* peer_test — two rtc_peer_t in one process on one GMainContext, over
 * 127.0.0.1: A is ICE controlling + DTLS client (like voxmesh-client), B is
 * ICE controlled + DTLS server (like the edge answering a WHIP offer). */
#include "rtc/peer.h"
#include "log.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static _Atomic int s_failures;
#define CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    s_failures++; } } while (0)

/* One context per thread, like the edge's workers. */
static _Thread_local GMainContext *s_ctx;
static rtc_cert_t *s_cert_a, *s_cert_b, *s_cert_x;
static const char *const s_loopback[] = { "127.0.0.1", NULL };

#define MAXPKT 128
typedef struct {
    const char *name;
    rtc_peer_t *peer;
    rtc_peer_state_t last_state;
    int n_state_cb;
    rtc_peer_state_t states[16];
    bool gathered;
    int n_rtp, n_rtcp;
    size_t rtp_len[MAXPKT];
    uint8_t rtp[MAXPKT][1300];
    size_t rtcp_len[MAXPKT];
    uint8_t rtcp[MAXPKT][200];
    bool destroy_on_failed;
    bool destroy_on_rtp;
    bool echo;           /* send every received RTP packet back */
} side_t;

static void s_on_state(rtc_peer_t *peer, rtc_peer_state_t st, void *user)
{
    side_t *s = user;
    CHECK(peer == s->peer);
    s->last_state = st;
    if (s->n_state_cb < 16) s->states[s->n_state_cb] = st;
    s->n_state_cb++;
    if (st == RTC_PEER_FAILED && s->destroy_on_failed) {
        rtc_peer_destroy(&s->peer);
        CHECK(s->peer == NULL);
    }
}

static void s_on_gathered(rtc_peer_t *peer, void *user)
{
    side_t *s = user;
    CHECK(peer == s->peer);
    CHECK(rtc_peer_gathered(peer));
    s->gathered = true;
}

static void s_on_rtp(rtc_peer_t *peer, uint8_t *data, size_t len, void *user)
{
    side_t *s = user;
    CHECK(peer == s->peer);
    if (s->n_rtp < MAXPKT && len <= sizeof s->rtp[0]) {
        memcpy(s->rtp[s->n_rtp], data, len);
        s->rtp_len[s->n_rtp] = len;
    }
    s->n_rtp++;
    if (s->echo)
        CHECK(rtc_peer_send_rtp(peer, data, len) == 0);   /* re-entrant send */
    if (s->destroy_on_rtp) {
        rtc_peer_destroy(&s->peer);   /* inside libnice's receive callback */
        CHECK(s->peer == NULL);
    }
}

static void s_on_rtcp(rtc_peer_t *peer, uint8_t *data, size_t len, void *user)
{
    side_t *s = user;
    CHECK(peer == s->peer);
    if (s->n_rtcp < MAXPKT && len <= sizeof s->rtcp[0]) {
        memcpy(s->rtcp[s->n_rtcp], data, len);
        s->rtcp_len[s->n_rtcp] = len;
    }
    s->n_rtcp++;
}

static gboolean s_tick(gpointer data)
{
    (void)data;
    return G_SOURCE_CONTINUE;
}

/* Iterates the context until cond(arg) or ms elapse; returns cond's value. */
static bool s_run_until(bool (*cond)(void *), void *arg, int ms)
{
    GSource *tick = g_timeout_source_new(5);   /* bounds each blocking iteration */
    g_source_set_callback(tick, s_tick, NULL, NULL);
    g_source_attach(tick, s_ctx);
    int64_t end = time_mono_us() + (int64_t)ms * 1000;
    bool ok = false;
    while (!(ok = cond && cond(arg)) && time_mono_us() < end)
        g_main_context_iteration(s_ctx, TRUE);
    g_source_destroy(tick);
    g_source_unref(tick);
    return ok;
}

static void s_run(int ms)
{
    s_run_until(NULL, NULL, ms);
}

typedef struct {
    side_t *a, *b;
} pair_t;

static bool s_both_gathered(void *arg)
{
    pair_t *p = arg;
    return p->a->gathered && p->b->gathered;
}

static bool s_both_connected(void *arg)
{
    pair_t *p = arg;
    return rtc_peer_state(p->a->peer) == RTC_PEER_CONNECTED
        && rtc_peer_state(p->b->peer) == RTC_PEER_CONNECTED
        && p->a->last_state == RTC_PEER_CONNECTED && p->b->last_state == RTC_PEER_CONNECTED;
}

static bool s_both_settled(void *arg)
{
    pair_t *p = arg;
    return p->a->last_state >= RTC_PEER_FAILED && p->b->last_state >= RTC_PEER_FAILED;
}

typedef struct {
    const char *a_sees_fp, *b_sees_fp;    /* NULL = the right one */
    rtc_dtls_role_t a_role, b_role;
    unsigned dtls_timeout_ms, connect_timeout_ms;
    uint16_t b_port_min, b_port_max;
    bool consent;
    bool b_late_fingerprint;   /* caller sets B's DTLS parameters later */
} opts_t;

static rtc_peer_t *s_peer(side_t *s, const char *label, bool controlling, rtc_dtls_role_t role,
                          rtc_cert_t *cert, const char *fp, const opts_t *o,
                          uint16_t pmin, uint16_t pmax)
{
    rtc_peer_config_t cfg = {
        .label = label, .controlling = controlling, .dtls_role = role,
        .bind_addrs = s_loopback, .port_min = pmin, .port_max = pmax,
        .cert = cert, .remote_fingerprint = fp,
        .dtls_timeout_ms = o->dtls_timeout_ms, .connect_timeout_ms = o->connect_timeout_ms,
        .consent_freshness = o->consent,
        .on_state = s_on_state, .on_gathered = s_on_gathered,
        .on_rtp = s_on_rtp, .on_rtcp = s_on_rtcp, .user = s,
    };
    s->name = label;
    s->peer = rtc_peer_new(s_ctx, &cfg);
    return s->peer;
}

static void s_exchange_candidates(rtc_peer_t *from, rtc_peer_t *to)
{
    char **c = rtc_peer_local_candidates(from);
    CHECK(c && c[0]);
    for (char **i = c; *i; i++) {
        CHECK(!strncmp(*i, "candidate:", 10) && strstr(*i, "127.0.0.1") && strstr(*i, "typ host"));
        CHECK(rtc_peer_add_remote_candidate(to, *i) == 0);
    }
    g_strfreev(c);
    CHECK(rtc_peer_remote_end_of_candidates(to) == 0);
}

/* Creates A and B, gathers, and exchanges credentials and candidates the way
 * the WHIP flow does (B answers after gathering). Does not wait for them to
 * connect. */
static void s_pair_start(side_t *a, side_t *b, const opts_t *o)
{
    memset(a, 0, sizeof *a);
    memset(b, 0, sizeof *b);
    opts_t def = { 0 };
    if (!o) o = &def;
    s_peer(a, "test-A", true, o->a_role, s_cert_a,
           o->a_sees_fp ? o->a_sees_fp : rtc_cert_fingerprint(s_cert_b), o, 0, 0);
    /* B learns its fingerprint (and role) the way a client learns it from the answer. */
    s_peer(b, "test-B", false, RTC_DTLS_ROLE_CLIENT, s_cert_b, NULL, o, o->b_port_min, o->b_port_max);
    CHECK(a->peer && b->peer);
    if (!a->peer || !b->peer) return;
    if (!o->b_late_fingerprint)
        CHECK(rtc_peer_set_dtls(b->peer, o->b_role ? o->b_role : RTC_DTLS_ROLE_SERVER,
                                o->b_sees_fp ? o->b_sees_fp : rtc_cert_fingerprint(s_cert_a)) == 0);
    CHECK(rtc_peer_gather(a->peer) == 0);
    /* offer -> B: remote credentials and candidates before B gathers */
    CHECK(rtc_peer_set_remote_credentials(b->peer, rtc_peer_local_ufrag(a->peer),
                                          rtc_peer_local_pwd(a->peer)) == 0);
    pair_t p = { a, a };
    CHECK(s_run_until(s_both_gathered, &p, 2000));
    p.b = b;
    s_exchange_candidates(a->peer, b->peer);
    CHECK(rtc_peer_gather(b->peer) == 0);
    CHECK(s_run_until(s_both_gathered, &p, 3000));
    /* No callback ran inside our calls: on_gathered came from the context. */
    CHECK(rtc_peer_set_remote_credentials(a->peer, rtc_peer_local_ufrag(b->peer),
                                          rtc_peer_local_pwd(b->peer)) == 0);
    s_exchange_candidates(b->peer, a->peer);
}

static size_t s_make_rtp(uint8_t *b, uint16_t seq, uint32_t ssrc, size_t payload)
{
    b[0] = 0x80; b[1] = 111;
    b[2] = (uint8_t)(seq >> 8); b[3] = (uint8_t)seq;
    uint32_t ts = seq * 960u;
    b[4] = (uint8_t)(ts >> 24); b[5] = (uint8_t)(ts >> 16); b[6] = (uint8_t)(ts >> 8); b[7] = (uint8_t)ts;
    b[8] = (uint8_t)(ssrc >> 24); b[9] = (uint8_t)(ssrc >> 16); b[10] = (uint8_t)(ssrc >> 8); b[11] = (uint8_t)ssrc;
    for (size_t i = 0; i < payload; i++) b[12 + i] = (uint8_t)(i * 31 + seq + ssrc);
    return 12 + payload;
}

static size_t s_make_rtcp_sr(uint8_t *b, uint32_t ssrc, uint32_t n)
{
    memset(b, 0, 28);
    b[0] = 0x80; b[1] = 200; b[3] = 6;   /* SR, no report blocks, length 6 */
    b[4] = (uint8_t)(ssrc >> 24); b[5] = (uint8_t)(ssrc >> 16); b[6] = (uint8_t)(ssrc >> 8); b[7] = (uint8_t)ssrc;
    b[8] = (uint8_t)n; b[20] = (uint8_t)(n >> 8); b[27] = (uint8_t)n;
    return 28;
}

typedef struct {
    side_t *s;
    int n;
} count_t;

static bool s_got_rtp(void *arg)
{
    count_t *c = arg;
    return c->s->n_rtp >= c->n;
}

static bool s_got_rtcp(void *arg)
{
    count_t *c = arg;
    return c->s->n_rtcp >= c->n;
}

/* Sends n RTP packets from -> to and checks they arrive byte-identical. */
static void s_rtp_flow(side_t *from, side_t *to, int n, uint16_t seq0, uint32_t ssrc)
{
    uint8_t pkt[1300];
    int base = to->n_rtp;
    for (int i = 0; i < n; i++) {
        size_t len = s_make_rtp(pkt, (uint16_t)(seq0 + i), ssrc, 20 + (size_t)(i * 97) % 1100);
        CHECK(rtc_peer_send_rtp(from->peer, pkt, len) == 0);
    }
    count_t c = { to, base + n };
    CHECK(s_run_until(s_got_rtp, &c, 3000));
    CHECK(to->n_rtp == base + n);
    for (int i = 0; i < n && base + i < MAXPKT; i++) {
        size_t len = s_make_rtp(pkt, (uint16_t)(seq0 + i), ssrc, 20 + (size_t)(i * 97) % 1100);
        CHECK(to->rtp_len[base + i] == len && !memcmp(to->rtp[base + i], pkt, len));
    }
}

static void s_rtcp_flow(side_t *from, side_t *to, int n, uint32_t ssrc)
{
    uint8_t pkt[64];
    int base = to->n_rtcp;
    for (int i = 0; i < n; i++) {
        size_t len = s_make_rtcp_sr(pkt, ssrc, (uint32_t)i);
        CHECK(rtc_peer_send_rtcp(from->peer, pkt, len) == 0);
    }
    count_t c = { to, base + n };
    CHECK(s_run_until(s_got_rtcp, &c, 3000));
    for (int i = 0; i < n && base + i < MAXPKT; i++) {
        size_t len = s_make_rtcp_sr(pkt, ssrc, (uint32_t)i);
        CHECK(to->rtcp_len[base + i] == len && !memcmp(to->rtcp[base + i], pkt, len));
    }
}

static int s_candidate_port(rtc_peer_t *peer)
{
    char **c = rtc_peer_local_candidates(peer);
    int port = -1;
    if (c && c[0]) {
        char addr[64];
        if (sscanf(c[0], "candidate:%*s %*s %*s %*s %63s %d", addr, &port) != 2)
            port = -1;
    }
    g_strfreev(c);
    return port;
}

/* A UDP port that was free a moment ago (the kernel's choice). */
static uint16_t s_free_udp_port(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    socklen_t sl = sizeof sa;
    uint16_t port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0
        && getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

static int s_count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

/* ---- tests ------------------------------------------------------------------ */

/* The test process owns libnice's sockets too: finds the UDP socket bound to
 * "127.0.0.1:port" so that datagrams can be sent from A's verified address. */
static int s_find_udp_socket(int port)
{
    DIR *d = opendir("/proc/self/fd");
    int found = -1;
    struct dirent *e;
    while (d && found < 0 && (e = readdir(d))) {
        int fd = atoi(e->d_name);
        struct sockaddr_in sa;
        socklen_t sl = sizeof sa;
        int type = 0;
        socklen_t tl = sizeof type;
        if (fd > 2 && getsockname(fd, (struct sockaddr *)&sa, &sl) == 0 && sa.sin_family == AF_INET
            && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_DGRAM
            && ntohs(sa.sin_port) == port)
            found = fd;
    }
    if (d) closedir(d);
    return found;
}

typedef struct {
    int n_other, n_dtls, n_rtp, n_rtcp;
} garbage_t;

static garbage_t s_send_garbage(int fd, const struct sockaddr_in *to, unsigned seed)
{
    garbage_t g = { 0 };
    srand(seed);
    uint8_t pkt[1400];
    for (int i = 0; i < 200; i++) {
        size_t len = 1 + (size_t)(rand() % 1300);
        for (size_t k = 0; k < len; k++) pkt[k] = (uint8_t)rand();
        switch (i % 4) {
        case 0:   /* neither STUN, DTLS nor RTP */
            pkt[0] = (uint8_t)(64 + rand() % 64);
            g.n_other++;
            break;
        case 1:   /* DTLS record header, random content */
            pkt[0] = (uint8_t)(20 + rand() % 4);
            if (len > 3) { pkt[1] = 0xfe; pkt[2] = 0xfd; }
            g.n_dtls++;
            break;
        case 2:   /* RTP with a bogus auth tag */
            len = s_make_rtp(pkt, (uint16_t)i, 0xdeadbeef, 100 + (size_t)i) + 16;
            g.n_rtp++;
            break;
        case 3:   /* SRTCP with a bogus tag */
            len = s_make_rtcp_sr(pkt, 0xdeadbeef, (uint32_t)i) + 4 + 16;
            pkt[28] = 0x80;
            g.n_rtcp++;
            break;
        }
        CHECK(sendto(fd, pkt, len, 0, (const struct sockaddr *)to, sizeof *to) == (ssize_t)len);
        if (i % 20 == 0) s_run(5);
    }
    /* A short STUN-looking datagram and an empty one. */
    uint8_t stunish[20] = { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42 };
    sendto(fd, stunish, sizeof stunish, 0, (const struct sockaddr *)to, sizeof *to);
    sendto(fd, pkt, 0, 0, (const struct sockaddr *)to, sizeof *to);
    s_run(300);
    return g;
}

/* Garbage to B's ICE port: from a stranger (libnice drops data from
 * addresses without a verified pair before it reaches us), then from A's
 * own socket (the validated 5-tuple: a buggy or hostile remote peer), which
 * our demultiplexer must count and survive. */
static void s_garbage(side_t *a, side_t *b)
{
    int port = s_candidate_port(b->peer);
    CHECK(port > 0);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    rtc_peer_stats_t before, after, sa;
    rtc_peer_stats(b->peer, &before);

    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(fd >= 0);
    s_send_garbage(fd, &to, 1);
    close(fd);
    rtc_peer_stats(b->peer, &after);
    CHECK(after.packets_in == before.packets_in);
    CHECK(rtc_peer_state(b->peer) == RTC_PEER_CONNECTED);

    rtc_peer_stats(a->peer, &sa);
    const char *colon = strrchr(sa.local_addr, ':');
    int afd = colon ? s_find_udp_socket(atoi(colon + 1)) : -1;
    CHECK(afd >= 0);
    if (afd < 0) return;
    before = after;
    garbage_t g = s_send_garbage(afd, &to, 42);
    rtc_peer_stats(b->peer, &after);
    fprintf(stderr, "garbage: B dropped +%llu, dtls_in +%llu, auth_fail +%llu, other_fail +%llu, packets_in +%llu\n",
            (unsigned long long)(after.dropped - before.dropped),
            (unsigned long long)(after.dtls_in - before.dtls_in),
            (unsigned long long)(after.srtp_auth_fail - before.srtp_auth_fail),
            (unsigned long long)(after.srtp_other_fail - before.srtp_other_fail),
            (unsigned long long)(after.packets_in - before.packets_in));
    CHECK(after.dropped >= before.dropped + (uint64_t)g.n_other);
    CHECK(after.dtls_in >= before.dtls_in + (uint64_t)g.n_dtls);
    CHECK(after.srtp_auth_fail >= before.srtp_auth_fail + (uint64_t)g.n_rtp);
    CHECK(after.srtp_auth_fail + after.srtp_other_fail
          >= before.srtp_auth_fail + before.srtp_other_fail + (uint64_t)(g.n_rtp + g.n_rtcp));
    CHECK(after.rtp_in == before.rtp_in && after.rtcp_in == before.rtcp_in);
    CHECK(rtc_peer_state(b->peer) == RTC_PEER_CONNECTED);
    CHECK(rtc_peer_state(a->peer) == RTC_PEER_CONNECTED);
    /* Both still work both ways. */
    s_rtp_flow(a, b, 10, 5000, 0x11111111);
    s_rtp_flow(b, a, 10, 6000, 0x22222222);
}

static void test_connect_media(void)
{
    side_t *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    opts_t o = { .b_port_min = 41000, .b_port_max = 41100, .consent = true };
    int64_t t0 = time_mono_us();
    s_pair_start(a, b, &o);
    pair_t p = { a, b };
    CHECK(s_run_until(s_both_connected, &p, 10000));
    fprintf(stderr, "connected in %.0f ms\n", (double)(time_mono_us() - t0) / 1000.0);
    CHECK(a->states[0] == RTC_PEER_CHECKING && b->states[0] == RTC_PEER_CHECKING);
    CHECK(a->n_state_cb == 2 && b->n_state_cb == 2);
    int port = s_candidate_port(b->peer);
    CHECK(port >= 41000 && port <= 41100);

    rtc_peer_stats_t sa, sb;
    rtc_peer_stats(a->peer, &sa);
    rtc_peer_stats(b->peer, &sb);
    CHECK(sa.state == RTC_PEER_CONNECTED && sa.dtls_state == RTC_DTLS_CONNECTED);
    CHECK(!strcmp(sa.srtp_profile, "SRTP_AEAD_AES_128_GCM"));
    CHECK(!strncmp(sa.local_addr, "127.0.0.1:", 10) && !strncmp(sa.remote_addr, "127.0.0.1:", 10));
    CHECK(!strncmp(sb.local_addr, "127.0.0.1:", 10) && !strcmp(sb.remote_addr, sa.local_addr));
    CHECK(sa.dtls_out > 0 && sa.dtls_in > 0 && sb.dtls_out > 0);
    fprintf(stderr, "A %s %s <-> %s %s\n", sa.local_type, sa.local_addr, sa.remote_type, sa.remote_addr);

    /* 50 RTP packets each way, byte-identical after SRTP, then RTCP. */
    s_rtp_flow(a, b, 50, 1000, 0xaaaa0001);
    s_rtp_flow(b, a, 50, 2000, 0xbbbb0001);
    s_rtcp_flow(a, b, 5, 0xaaaa0001);
    s_rtcp_flow(b, a, 5, 0xbbbb0001);
    rtc_peer_stats(a->peer, &sa);
    rtc_peer_stats(b->peer, &sb);
    CHECK(sa.rtp_out == 50 && sa.rtcp_out == 5 && sa.rtp_in == 50 && sa.rtcp_in == 5);
    CHECK(sb.rtp_in == 50 && sb.rtcp_in == 5 && sb.srtp_auth_fail == 0 && sb.dropped == 0);
    CHECK(sa.bytes_out > 50 * 12 && sb.bytes_in >= sa.bytes_out - sa.dtls_out * 2000);

    /* Too big / not RTP. */
    uint8_t big[1600] = { 0x80, 111 };
    CHECK(rtc_peer_send_rtp(a->peer, big, sizeof big) == -EMSGSIZE);
    CHECK(rtc_peer_send_rtp(a->peer, big, 5) == -EINVAL);

    /* Re-entrant send from on_rtp: B echoes what it gets. */
    b->echo = true;
    int a_before = a->n_rtp;
    s_rtp_flow(a, b, 5, 3000, 0xaaaa0002);
    count_t c = { a, a_before + 5 };
    CHECK(s_run_until(s_got_rtp, &c, 2000));
    b->echo = false;

    s_garbage(a, b);

    /* ICE restart initiated by A; B reacts; media continues. */
    char *old_ufrag = g_strdup(rtc_peer_local_ufrag(a->peer));
    CHECK(rtc_peer_ice_restart(a->peer, NULL, NULL) == 0);
    CHECK(strcmp(old_ufrag, rtc_peer_local_ufrag(a->peer)) != 0);
    g_free(old_ufrag);
    /* Media keeps flowing on the old pair while the restart is signalled. */
    s_rtp_flow(a, b, 5, 6500, 0xaaaa0004);
    s_rtp_flow(b, a, 5, 6600, 0xbbbb0004);
    CHECK(rtc_peer_ice_restart(b->peer, "bad", "short") == -EINVAL);
    CHECK(rtc_peer_ice_restart(b->peer, rtc_peer_local_ufrag(a->peer), rtc_peer_local_pwd(a->peer)) == 0);
    s_rtp_flow(a, b, 5, 6700, 0xaaaa0004);
    s_rtp_flow(b, a, 5, 6800, 0xbbbb0004);
    s_exchange_candidates(a->peer, b->peer);
    CHECK(rtc_peer_set_remote_credentials(a->peer, rtc_peer_local_ufrag(b->peer),
                                          rtc_peer_local_pwd(b->peer)) == 0);
    s_exchange_candidates(b->peer, a->peer);
    s_run(1500);
    CHECK(rtc_peer_state(a->peer) == RTC_PEER_CONNECTED && rtc_peer_state(b->peer) == RTC_PEER_CONNECTED);
    s_rtp_flow(a, b, 10, 7000, 0xaaaa0003);
    s_rtp_flow(b, a, 10, 8000, 0xbbbb0003);

    /* A closes (WHIP DELETE): close_notify makes B CLOSED; A gets no callback. */
    int a_cbs = a->n_state_cb;
    rtc_peer_close(a->peer);
    CHECK(rtc_peer_state(a->peer) == RTC_PEER_CLOSED);
    CHECK(rtc_peer_send_rtp(a->peer, big, 20) == -ENOTCONN);
    s_run_until(s_both_settled, &p, 2000);
    CHECK(b->last_state == RTC_PEER_CLOSED);
    CHECK(a->n_state_cb == a_cbs);
    rtc_peer_destroy(&a->peer);
    rtc_peer_destroy(&b->peer);
    CHECK(a->peer == NULL && b->peer == NULL);
    rtc_peer_destroy(&a->peer);   /* no-op */
    s_run(50);
    free(a);
    free(b);
}

static void test_fingerprint_mismatch(bool b_checks)
{
    side_t *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    opts_t o = { .dtls_timeout_ms = 4000 };
    if (b_checks) o.b_sees_fp = rtc_cert_fingerprint(s_cert_x);
    else o.a_sees_fp = rtc_cert_fingerprint(s_cert_x);
    s_pair_start(a, b, &o);
    side_t *checker = b_checks ? b : a, *other = b_checks ? a : b;
    checker->destroy_on_failed = true;   /* the session is torn down from the callback */
    pair_t p = { a, b };
    int64_t t0 = time_mono_us();
    CHECK(s_run_until(s_both_settled, &p, 6000));
    int64_t dt = time_mono_us() - t0;
    fprintf(stderr, "fingerprint mismatch (%s checks): both failed in %.0f ms\n",
            b_checks ? "server" : "client", (double)dt / 1000.0);
    CHECK(dt < 4000000);
    CHECK(checker->last_state == RTC_PEER_FAILED && checker->peer == NULL);
    CHECK(other->last_state == RTC_PEER_FAILED);
    CHECK(strstr(rtc_peer_failure(other->peer), "DTLS") != NULL);
    CHECK(checker->rtp_len[0] == 0 && other->n_rtp == 0);
    rtc_peer_destroy(&a->peer);
    rtc_peer_destroy(&b->peer);
    s_run(50);
    free(a);
    free(b);
}

static bool s_b_got_dtls(void *arg)
{
    pair_t *p = arg;
    rtc_peer_stats_t s;
    rtc_peer_stats(p->b->peer, &s);
    return s.dtls_in > 0;
}

/* ICE connects and A's ClientHello arrives before B knows the fingerprint:
 * B keeps it and answers as soon as rtc_peer_set_dtls() is called, without
 * waiting for A's retransmission. */
static void test_late_fingerprint(void)
{
    side_t *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    opts_t o = { .b_late_fingerprint = true };
    s_pair_start(a, b, &o);
    pair_t p = { a, b };
    CHECK(s_run_until(s_b_got_dtls, &p, 5000));
    CHECK(rtc_peer_state(b->peer) == RTC_PEER_CHECKING);
    int64_t t0 = time_mono_us();
    CHECK(rtc_peer_set_dtls(b->peer, RTC_DTLS_ROLE_SERVER, rtc_cert_fingerprint(s_cert_a)) == 0);
    CHECK(s_run_until(s_both_connected, &p, 5000));
    CHECK(time_mono_us() - t0 < 300000);
    CHECK(rtc_peer_set_dtls(b->peer, RTC_DTLS_ROLE_SERVER, rtc_cert_fingerprint(s_cert_a)) == -EBUSY);
    s_rtp_flow(a, b, 5, 1, 0x5555);
    rtc_peer_destroy(&a->peer);
    rtc_peer_destroy(&b->peer);
    free(a);
    free(b);
}

static void test_dtls_timeout(void)
{
    side_t *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    /* Both DTLS servers: ICE connects, nobody sends a ClientHello. */
    opts_t o = { .a_role = RTC_DTLS_ROLE_SERVER, .dtls_timeout_ms = 1000 };
    s_pair_start(a, b, &o);
    pair_t p = { a, b };
    int64_t t0 = time_mono_us();
    CHECK(s_run_until(s_both_settled, &p, 4000));
    int64_t dt = time_mono_us() - t0;
    CHECK(a->last_state == RTC_PEER_FAILED && b->last_state == RTC_PEER_FAILED);
    CHECK(strstr(rtc_peer_failure(a->peer), "timeout") != NULL);
    CHECK(dt >= 900000 && dt < 3000000);
    fprintf(stderr, "dtls timeout: failed after %.0f ms: %s\n", (double)dt / 1000.0,
            rtc_peer_failure(a->peer));
    rtc_peer_destroy(&a->peer);
    rtc_peer_destroy(&b->peer);
    free(a);
    free(b);
}

static void test_connect_timeout(void)
{
    side_t *a = calloc(1, sizeof *a);
    opts_t o = { .connect_timeout_ms = 700 };
    s_peer(a, "test-lonely", true, RTC_DTLS_ROLE_CLIENT, s_cert_a, rtc_cert_fingerprint(s_cert_b),
           &o, 0, 0);
    CHECK(rtc_peer_gather(a->peer) == 0);
    /* Credentials of a peer that does not exist, no candidates, no
     * end-of-candidates: trickle ICE would wait forever. */
    CHECK(rtc_peer_set_remote_credentials(a->peer, "abcd", "abcdefghijklmnopqrstuv") == 0);
    CHECK(rtc_peer_add_remote_candidate(a->peer, "candidate:1 1 UDP 2015363327 127.0.0.1 9 typ host") == 0);
    pair_t p = { a, a };
    CHECK(s_run_until(s_both_settled, &p, 3000));
    CHECK(a->last_state == RTC_PEER_FAILED);
    fprintf(stderr, "connect timeout: %s\n", rtc_peer_failure(a->peer));
    rtc_peer_destroy(&a->peer);
    free(a);
}

static void test_api_errors(void)
{
    side_t *a = calloc(1, sizeof *a);
    opts_t o = { 0 };
    CHECK(s_peer(a, "test-api", false, RTC_DTLS_ROLE_SERVER, s_cert_a, NULL, &o, 0, 0));
    rtc_peer_t *p = a->peer;
    uint8_t pkt[100];
    size_t n = s_make_rtp(pkt, 1, 1, 50);
    CHECK(rtc_peer_send_rtp(p, pkt, n) == -ENOTCONN);
    CHECK(rtc_peer_send_rtcp(p, pkt, n) == -ENOTCONN);
    CHECK(rtc_peer_state(p) == RTC_PEER_NEW);
    CHECK(!rtc_peer_gathered(p));
    CHECK(rtc_peer_local_ufrag(p) && strlen(rtc_peer_local_ufrag(p)) >= 4);
    CHECK(rtc_peer_local_pwd(p) && strlen(rtc_peer_local_pwd(p)) >= 22);
    CHECK(!strcmp(rtc_peer_label(p), "test-api"));

    CHECK(rtc_peer_set_remote_credentials(p, "ab", "abcdefghijklmnopqrstuvwxyz") == -EINVAL);
    CHECK(rtc_peer_set_remote_credentials(p, "abcd", "short") == -EINVAL);
    CHECK(rtc_peer_set_remote_credentials(p, "ab d", "abcdefghijklmnopqrstuvwxyz") == -EINVAL);
    CHECK(rtc_peer_set_remote_credentials(p, NULL, NULL) == -EINVAL);
    CHECK(rtc_peer_set_dtls(p, RTC_DTLS_ROLE_SERVER, "sha-256 00:11") == -EINVAL);
    CHECK(rtc_peer_set_dtls(p, RTC_DTLS_ROLE_SERVER, NULL) == -EINVAL);
    CHECK(rtc_peer_set_dtls(p, (rtc_dtls_role_t)7, rtc_cert_fingerprint(s_cert_b)) == -EINVAL);

    CHECK(rtc_peer_gather(p) == 0);
    CHECK(rtc_peer_gather(p) == 0);
    CHECK(!a->gathered);   /* never inside the call */
    pair_t pp = { a, a };
    CHECK(s_run_until(s_both_gathered, &pp, 2000));
    CHECK(rtc_peer_set_remote_credentials(p, "Ab+/", "abcdefghijklmnopqrstuvwxyz") == 0);

    /* Candidates: valid (incl. Chromium's extension attributes), ignored, invalid. */
    CHECK(rtc_peer_add_remote_candidate(p, "candidate:1 1 UDP 2015363327 127.0.0.1 40001 typ host") == 0);
    CHECK(rtc_peer_add_remote_candidate(p, "a=candidate:2 1 udp 2122260223 127.0.0.1 40002 typ host generation 0 ufrag Ab+/ network-id 1 network-cost 10\r\n") == 0);
    CHECK(rtc_peer_add_remote_candidate(p, "candidate:3 1 udp 1686052607 127.0.0.2 40003 typ srflx raddr 127.0.0.1 rport 40002 generation 0 ufrag Ab+/ network-id 1") == 0);
    CHECK(rtc_peer_add_remote_candidate(p, "candidate:4 1 udp 2122262783 ::1 40004 typ host generation 0") == 0);
    CHECK(rtc_peer_add_remote_candidate(p, "candidate:5 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active generation 0") == 1);
    CHECK(rtc_peer_add_remote_candidate(p, "candidate:6 1 udp 2122260223 2d6b1f1c-1a2b-4c3d-9e8f-0123456789ab.local 40006 typ host generation 0") == 1);
    CHECK(rtc_peer_add_remote_candidate(p, "candidate:7 2 udp 2015363326 127.0.0.1 40007 typ host") == 1);
    const char *bad[] = {
        "", "candidate:", "candidate:1", "a=candidate:1 1 udp", "hello world",
        "candidate:1 1 udp 1 127.0.0.1 40001 typ", "candidate:1 1 udp 1 999.0.0.1 40001 typ host",
        "candidate:1 1 udp x y z typ host", "candidate:1 1 udp 1 127.0.0.1 40001 typ bogus",
        "candidate:1 1 udp 1 127.0.0.1 99999999 typ host",
        "candidate:1 1 udp 1 notanaddress 40001 typ host",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = rtc_peer_add_remote_candidate(p, bad[i]);
        if (r != -EINVAL) fprintf(stderr, "candidate \"%s\" -> %d\n", bad[i], r);
        CHECK(r == -EINVAL);
    }
    CHECK(rtc_peer_add_remote_candidate(p, NULL) == -EINVAL);
    /* Random strings, some shaped like candidates: must not crash. */
    srand(3);
    char junk[300];
    for (int i = 0; i < 3000; i++) {
        int len = rand() % 290;
        int off = 0;
        if (i % 2) off = snprintf(junk, sizeof junk, "candidate:%d %d udp ", rand() % 10, rand() % 3);
        for (int k = off; k < len; k++) junk[k] = (char)(1 + rand() % 255);
        junk[len > off ? len : off] = 0;
        int r = rtc_peer_add_remote_candidate(p, junk);
        CHECK(r == -EINVAL || r == 0 || r == 1);
    }
    CHECK(rtc_peer_remote_end_of_candidates(p) == 0);
    s_run(100);
    rtc_peer_destroy(&p);
    a->peer = NULL;
    free(a);

    /* A port range with no free port left: gathering fails cleanly. */
    uint16_t free_port = s_free_udp_port();
    side_t *r1 = calloc(1, sizeof *r1), *r2 = calloc(1, sizeof *r2);
    CHECK(s_peer(r1, "test-range1", true, RTC_DTLS_ROLE_CLIENT, s_cert_a, NULL, &o, free_port, free_port));
    CHECK(s_peer(r2, "test-range2", true, RTC_DTLS_ROLE_CLIENT, s_cert_a, NULL, &o, free_port, free_port));
    CHECK(rtc_peer_gather(r1->peer) == 0);
    CHECK(rtc_peer_gather(r2->peer) == -EIO);
    CHECK(s_candidate_port(r1->peer) == free_port);
    s_run(20);
    rtc_peer_destroy(&r1->peer);
    rtc_peer_destroy(&r2->peer);
    free(r1);
    free(r2);

    /* Bad configs. */
    rtc_peer_config_t cfg = { .label = "bad", .cert = s_cert_a, .port_min = 10, .port_max = 5 };
    CHECK(rtc_peer_new(s_ctx, &cfg) == NULL);
    cfg.port_min = cfg.port_max = 0;
    CHECK(rtc_peer_new(NULL, &cfg) == NULL);
    cfg.remote_fingerprint = "md5 00:11";
    CHECK(rtc_peer_new(s_ctx, &cfg) == NULL);
    cfg.remote_fingerprint = NULL;
    const char *const badaddr[] = { "not-an-ip", NULL };
    cfg.bind_addrs = badaddr;
    CHECK(rtc_peer_new(s_ctx, &cfg) == NULL);
    cfg.bind_addrs = NULL;
    cfg.cert = NULL;
    CHECK(rtc_peer_new(s_ctx, &cfg) == NULL);
}

static bool s_a_dtls_started(void *arg)
{
    pair_t *p = arg;
    rtc_peer_stats_t s;
    rtc_peer_stats(p->a->peer, &s);
    return s.dtls_out > 0;
}

static void test_destroy_mid_handshake(void)
{
    for (int round = 0; round < 3; round++) {
        side_t *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
        s_pair_start(a, b, NULL);
        pair_t p = { a, b };
        if (round == 0) s_run(0);                          /* ICE checks just started */
        if (round == 1) CHECK(s_run_until(s_a_dtls_started, &p, 5000));   /* ClientHello out */
        if (round == 2) { CHECK(s_run_until(s_a_dtls_started, &p, 5000)); s_run(2); }
        rtc_peer_destroy(round == 1 ? &b->peer : &a->peer);
        s_run(30);   /* the survivor sees its partner vanish */
        rtc_peer_destroy(&a->peer);
        rtc_peer_destroy(&b->peer);
        s_run(30);
        free(a);
        free(b);
    }
    /* Destroy from inside the receive callback (libnice frame). */
    side_t *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    s_pair_start(a, b, NULL);
    pair_t p = { a, b };
    CHECK(s_run_until(s_both_connected, &p, 10000));
    b->destroy_on_rtp = true;
    uint8_t pkt[200];
    for (int i = 0; i < 5; i++)
        CHECK(rtc_peer_send_rtp(a->peer, pkt, s_make_rtp(pkt, (uint16_t)i, 9, 100)) == 0);
    s_run(200);
    CHECK(b->peer == NULL && b->n_rtp == 1);
    rtc_peer_destroy(&a->peer);
    s_run(30);
    free(a);
    free(b);
}

static void test_many(void)
{
    int fds0 = s_count_fds();
    opts_t o = { 0 };
    int64_t t0 = time_mono_us();
    /* 200 peers alive at once, then 200 sequential create/gather/destroy. */
    side_t *sides = calloc(200, sizeof *sides);
    for (int i = 0; i < 200; i++) {
        char label[32];
        snprintf(label, sizeof label, "many-%d", i);
        CHECK(s_peer(&sides[i], label, i % 2, RTC_DTLS_ROLE_SERVER, s_cert_a, NULL, &o, 0, 0));
        if (sides[i].peer) CHECK(rtc_peer_gather(sides[i].peer) == 0);
    }
    s_run(100);
    int gathered = 0;
    for (int i = 0; i < 200; i++) gathered += sides[i].gathered;
    if (gathered != 200) fprintf(stderr, "gathered %d/200\n", gathered);
    CHECK(gathered == 200);
    for (int i = 0; i < 200; i++) rtc_peer_destroy(&sides[i].peer);
    s_run(20);
    for (int i = 0; i < 200; i++) {
        side_t s;
        memset(&s, 0, sizeof s);
        CHECK(s_peer(&s, "seq", true, RTC_DTLS_ROLE_CLIENT, s_cert_a, rtc_cert_fingerprint(s_cert_b),
                     &o, 0, 0));
        CHECK(rtc_peer_gather(s.peer) == 0);
        rtc_peer_set_remote_credentials(s.peer, "abcd", "abcdefghijklmnopqrstuv");
        if (i % 10 == 0) s_run(2);
        rtc_peer_destroy(&s.peer);
    }
    s_run(50);
    free(sides);
    int fds1 = s_count_fds();
    fprintf(stderr, "400 peers in %.0f ms, fds before %d after %d\n",
            (double)(time_mono_us() - t0) / 1000.0, fds0, fds1);
    CHECK(fds1 == fds0);
}

/* Two workers, each with its own context and a connected pair, sharing the
 * certificates, running at the same time. */
static void *s_worker(void *arg)
{
    (void)arg;
    s_ctx = g_main_context_new();
    side_t *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    s_pair_start(a, b, NULL);
    pair_t p = { a, b };
    CHECK(s_run_until(s_both_connected, &p, 10000));
    for (int round = 0; round < 2; round++) {
        s_rtp_flow(a, b, 50, (uint16_t)(100 * round), 0x7000);
        s_rtp_flow(b, a, 50, (uint16_t)(100 * round), 0x8000);
    }
    rtc_peer_destroy(&a->peer);
    rtc_peer_destroy(&b->peer);
    s_run(20);
    free(a);
    free(b);
    g_main_context_unref(s_ctx);
    s_ctx = NULL;
    return NULL;
}

static void test_threads(void)
{
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&t[i], NULL, s_worker, NULL) == 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
}

int main(void)
{
    log_init("peer_test", getenv("VERBOSE") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR, false);
    s_ctx = g_main_context_new();
    s_cert_a = rtc_cert_new();
    s_cert_b = rtc_cert_new();
    s_cert_x = rtc_cert_new();
    CHECK(s_cert_a && s_cert_b && s_cert_x);

    test_api_errors();
    test_connect_media();
    test_fingerprint_mismatch(true);
    test_fingerprint_mismatch(false);
    test_late_fingerprint();
    test_dtls_timeout();
    test_connect_timeout();
    test_destroy_mid_handshake();
    test_many();
    test_threads();

    rtc_cert_destroy(&s_cert_a);
    rtc_cert_destroy(&s_cert_b);
    rtc_cert_destroy(&s_cert_x);
    s_run(20);
    g_main_context_unref(s_ctx);
    if (s_failures) {
        fprintf(stderr, "peer_test: %d check(s) failed\n", s_failures);
        return 1;
    }
    fprintf(stderr, "peer_test: ok\n");
    return 0;
}
