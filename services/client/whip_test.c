/* whip_test — the WHIP client's signalling without an edge: our offer,
 * answered in-process by sdp_answer_build() the way the edge answers, then
 * applied with whip_answer_apply() until both peers are CONNECTED and RTP
 * flows; the refusals of bad answers; the URL helpers. */
#include "whip_http.h"
#include "whip_sdp.h"
#include "log.h"
#include "rtc/sdp.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

static const char *const s_loopback[] = { "127.0.0.1", NULL };

typedef struct {
    rtc_peer_t *peer;
    bool gathered, connected;
    int rtp;
} s_side_t;

static void s_on_state(rtc_peer_t *peer, rtc_peer_state_t st, void *user)
{
    (void)peer;
    if (st == RTC_PEER_CONNECTED)
        ((s_side_t *)user)->connected = true;
}

static void s_on_gathered(rtc_peer_t *peer, void *user)
{
    (void)peer;
    ((s_side_t *)user)->gathered = true;
}

static void s_on_rtp(rtc_peer_t *peer, uint8_t *data, size_t len, void *user)
{
    (void)peer;
    (void)data;
    (void)len;
    ((s_side_t *)user)->rtp++;
}

static bool s_run(GMainContext *ctx, bool *a, bool *b, int ms)
{
    int64_t end = time_mono_us() + ms * 1000;
    while (!(*a && *b) && time_mono_us() < end)
        if (!g_main_context_iteration(ctx, FALSE)) g_usleep(1000);
    return *a && *b;
}

static rtc_peer_t *s_peer(GMainContext *ctx, s_side_t *s, bool controlling, rtc_dtls_role_t role,
                          rtc_cert_t *cert, const char *remote_fp)
{
    rtc_peer_config_t cfg = {
        .label = controlling ? "client" : "edge", .controlling = controlling, .dtls_role = role,
        .bind_addrs = s_loopback, .cert = cert, .remote_fingerprint = remote_fp,
        .on_state = s_on_state, .on_gathered = s_on_gathered, .on_rtp = s_on_rtp, .user = s,
    };
    s->peer = rtc_peer_new(ctx, &cfg);
    return s->peer;
}

/* The edge's side: parses the offer, answers after gathering. */
static char *s_answer(GMainContext *ctx, s_side_t *edge, rtc_cert_t *cert, const char *offer_text,
                      bool accept_video)
{
    char err[SDP_ERR_MAX];
    sdp_t *offer = sdp_offer_parse(offer_text, strlen(offer_text), err, sizeof err);
    CHECK(offer != NULL, "the edge's parser takes our offer %s", offer ? "" : err);
    if (!offer)
        return NULL;
    const sdp_media_t *m = &offer->media[offer->codecs.audio];
    char fp[256];
    sdp_fingerprint_format(&m->fingerprint, fp, sizeof fp);
    s_peer(ctx, edge, false, RTC_DTLS_ROLE_SERVER, cert, fp);
    rtc_peer_set_remote_credentials(edge->peer, m->ice_ufrag, m->ice_pwd);
    for (int i = 0; i < m->candidate_count; i++) {
        char line[512];
        sdp_candidate_format(&m->candidates[i], line, sizeof line);
        rtc_peer_add_remote_candidate(edge->peer, line);
    }
    rtc_peer_remote_end_of_candidates(edge->peer);
    rtc_peer_gather(edge->peer);
    bool yes = true;
    s_run(ctx, &edge->gathered, &yes, 3000);
    sdp_candidate_t cands[8];
    int n = 0;
    char **local = rtc_peer_local_candidates(edge->peer);
    for (char **c = local; *c && n < 8; c++)
        if (sdp_candidate_parse(*c, &cands[n], err, sizeof err) == 0)
            n++;
    g_strfreev(local);
    sdp_fingerprint_t myfp;
    sdp_fingerprint_parse(rtc_cert_fingerprint(cert), &myfp);
    sdp_answer_params_t p = {
        .ice_ufrag = rtc_peer_local_ufrag(edge->peer), .ice_pwd = rtc_peer_local_pwd(edge->peer),
        .candidates = cands, .candidate_count = n, .fingerprint = &myfp,
        .cname = "edge", .audio_ssrc = 42, .accept_video = accept_video,
    };
    char *answer = sdp_answer_build(offer, &p, err, sizeof err);
    CHECK(answer != NULL, "answer built %s", answer ? "" : err);
    sdp_destroy(&offer);
    return answer;
}

static void s_test_offer_answer(bool video)
{
    GMainContext *ctx = g_main_context_new();
    rtc_cert_t *ccert = rtc_cert_new(), *ecert = rtc_cert_new();
    s_side_t client = { 0 }, edge = { 0 };
    s_peer(ctx, &client, true, RTC_DTLS_ROLE_CLIENT, ccert, NULL);
    CHECK(client.peer && rtc_peer_gather(client.peer) == 0, "client peer gathers");
    bool yes = true;
    s_run(ctx, &client.gathered, &yes, 3000);
    char err[512];
    char *offer = whip_offer_build(client.peer, ccert, "cname-1", 1111, video, 2222, err, sizeof err);
    CHECK(offer != NULL, "offer built (video %d)", video);
    if (!offer)
        return;
    CHECK(strstr(offer, "a=setup:actpass") && strstr(offer, "a=sendrecv") && strstr(offer, "opus/48000/2")
          && strstr(offer, "typ host") && strstr(offer, "127.0.0.1") && strstr(offer, "a=end-of-candidates"),
          "offer: actpass, sendrecv Opus, host candidates on 127.0.0.1, end-of-candidates");
    CHECK(!video == !(strstr(offer, "m=video") && strstr(offer, "VP8/90000") && strstr(offer, "a=sendonly")),
          "video m-line (VP8 sendonly) only when asked");
    CHECK(strstr(offer, rtc_cert_fingerprint(ccert)) != NULL, "our fingerprint");

    char *answer = s_answer(ctx, &edge, ecert, offer, video);
    whip_answer_info_t info;
    err[0] = '\0';
    CHECK(answer && whip_answer_apply(client.peer, answer, strlen(answer), &info, err, sizeof err) == 0,
          "answer applied %s", err);
    CHECK(info.opus_pt == 111 && info.dtls_role == RTC_DTLS_ROLE_CLIENT && info.candidates >= 1,
          "Opus pt 111, DTLS client (edge passive), %d candidate(s)", info.candidates);
    CHECK(video ? info.vp8_pt == 96 : info.vp8_pt == -1, "VP8 pt %d", info.vp8_pt);
    CHECK(s_run(ctx, &client.connected, &edge.connected, 8000), "both peers CONNECTED");
    uint8_t pkt[100] = { 0x80, 111 };
    for (int i = 0; i < 5; i++) {
        pkt[3] = (uint8_t)i;
        rtc_peer_send_rtp(client.peer, pkt, sizeof pkt);
    }
    int64_t end = time_mono_us() + 2000000;
    while (edge.rtp < 5 && time_mono_us() < end)
        if (!g_main_context_iteration(ctx, FALSE)) g_usleep(1000);
    CHECK(edge.rtp == 5, "SRTP flows client -> edge");

    /* a second client peer refuses bad answers with a reason */
    s_side_t other = { 0 };
    s_peer(ctx, &other, true, RTC_DTLS_ROLE_CLIENT, ccert, NULL);
    CHECK(whip_answer_apply(other.peer, "garbage", 7, &info, err, sizeof err) == -1
          && strstr(err, "unusable answer from the edge"), "garbage answer: %s", err);
    char *noopus = answer ? strdup(answer) : NULL;
    char *o = noopus ? strstr(noopus, "opus/48000") : NULL;
    if (o)
        memcpy(o, "xxxx", 4);
    CHECK(noopus && whip_answer_apply(other.peer, noopus, strlen(noopus), &info, err, sizeof err) == -1,
          "answer without Opus: %s", err);
    free(noopus);
    rtc_peer_destroy(&other.peer);

    free(offer);
    free(answer);
    rtc_peer_destroy(&client.peer);
    rtc_peer_destroy(&edge.peer);
    while (g_main_context_iteration(ctx, FALSE))
        ;
    rtc_cert_destroy(&ccert);
    rtc_cert_destroy(&ecert);
    g_main_context_unref(ctx);
}

static void s_test_urls(void)
{
    char *u = whip_url_endpoint("http://127.0.0.1:8080", "/whip", 0);
    CHECK(u && !strcmp(u, "http://127.0.0.1:8080/whip"), "base URL -> /whip: %s", u);
    free(u);
    u = whip_url_endpoint("http://127.0.0.1:8080/", "/ws", 1);
    CHECK(u && !strcmp(u, "ws://127.0.0.1:8080/ws"), "base URL -> ws://.../ws: %s", u);
    free(u);
    u = whip_url_endpoint("https://edge.example/custom/whip", "/whip", 0);
    CHECK(u && !strcmp(u, "https://edge.example/custom/whip"), "a path is kept: %s", u);
    free(u);
    u = whip_url_endpoint("https://edge.example", "/ws", 1);
    CHECK(u && !strcmp(u, "wss://edge.example/ws"), "https -> wss: %s", u);
    free(u);
    u = whip_url_endpoint("ws://127.0.0.1:9/ws", "/ws", 1);
    CHECK(u && !strcmp(u, "ws://127.0.0.1:9/ws"), "a ws:// URL as it is: %s", u);
    free(u);
    CHECK(whip_url_endpoint("not a url", "/whip", 0) == NULL, "garbage URL refused");
    u = whip_url_resolve("http://127.0.0.1:8080/whip", "/whip/abc");
    CHECK(u && !strcmp(u, "http://127.0.0.1:8080/whip/abc"), "relative Location: %s", u);
    free(u);
    u = whip_url_resolve("http://127.0.0.1:8080/whip", "http://other:1/x");
    CHECK(u && !strcmp(u, "http://other:1/x"), "absolute Location: %s", u);
    free(u);
    char *host = NULL, *path = NULL;
    int port = 0, tls = -1;
    CHECK(whip_url_split("ws://127.0.0.1:18600/ws?access_token=x", &host, &port, &path, &tls) == 0
          && !strcmp(host, "127.0.0.1") && port == 18600 && !strcmp(path, "/ws?access_token=x") && !tls,
          "split ws URL: %s %d %s", host, port, path);
    free(host);
    free(path);
    CHECK(whip_url_split("wss://[::1]/ws", &host, &port, &path, &tls) == 0 && !strcmp(host, "::1")
          && port == 443 && tls, "split wss URL with IPv6: %s %d", host, port);
    free(host);
    free(path);
    whip_response_t r = { .body = (char *)"  no Opus codec offered\r\nmore\n" };
    char reason[64];
    whip_body_reason(&r, reason, sizeof reason);
    CHECK(!strcmp(reason, "no Opus codec offered"), "reason = first line: '%s'", reason);
}

int main(void)
{
    log_init("whip_test", LOG_LEVEL_WARN, false);
    s_test_urls();
    s_test_offer_answer(false);
    s_test_offer_answer(true);
    return TEST_DONE();
}
