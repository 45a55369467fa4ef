/* sdp_test — offer parsing (a Chrome 120+ WHIP offer), answer building and
 * re-parsing, our own offers, error reasons, sdpfrag / ICE restart. */
#include "rtc/sdp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_fails;
#define CHECK(c) do { \
        if (!(c)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); s_fails++; } \
    } while (0)
#define CHECK_STR(a, b) do { \
        const char *a_ = (a), *b_ = (b); \
        if (!a_ || strcmp(a_, b_)) { \
            fprintf(stderr, "%s:%d: '%s' != '%s' (%s)\n", __FILE__, __LINE__, a_ ? a_ : "(null)", b_, #a); \
            s_fails++; \
        } \
    } while (0)

#define FP_CHROME "7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08"

/* What Chrome 120+ POSTs to a WHIP endpoint for getUserMedia audio+video
 * (sendrecv audio for a voice agent, sendonly camera), after gathering. */
static const char *s_chrome_offer =
    "v=0\r\n"
    "o=- 4215775240449105457 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0 1\r\n"
    "a=extmap-allow-mixed\r\n"
    "a=msid-semantic: WMS 3d6d4a9e-7b0b-4a4c-8f8a-1f0c2c7c9d0e\r\n"
    "m=audio 54321 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n"
    "c=IN IP4 203.0.113.7\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=candidate:3502345362 1 udp 2113937151 5c3ec6a4-7f9b-4f5e-9b5a-2d3b0d6c6c3a.local 54321 typ host generation 0 network-cost 999\r\n"
    "a=candidate:842163049 1 udp 1677729535 203.0.113.7 54321 typ srflx raddr 0.0.0.0 rport 0 generation 0 network-cost 999\r\n"
    "a=candidate:1387637174 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active generation 0 network-id 1\r\n"
    "a=end-of-candidates\r\n"
    "a=ice-ufrag:Lq3B\r\n"
    "a=ice-pwd:Zt6gK0WgBJ3oT1dXaQ8cE1vP\r\n"
    "a=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 " FP_CHROME "\r\n"
    "a=setup:actpass\r\n"
    "a=mid:0\r\n"
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
    "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
    "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=sendrecv\r\n"
    "a=msid:3d6d4a9e-7b0b-4a4c-8f8a-1f0c2c7c9d0e 8f2e6c1a-5b3d-4e7f-9a0b-1c2d3e4f5a6b\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=rtcp-fb:111 transport-cc\r\n"
    "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
    "a=rtpmap:63 red/48000/2\r\n"
    "a=fmtp:63 111/111\r\n"
    "a=rtpmap:9 G722/8000\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:13 CN/8000\r\n"
    "a=rtpmap:110 telephone-event/48000\r\n"
    "a=rtpmap:126 telephone-event/8000\r\n"
    "a=ssrc:1001263927 cname:q9V3k3yHfYv0Zx6N\r\n"
    "a=ssrc:1001263927 msid:3d6d4a9e-7b0b-4a4c-8f8a-1f0c2c7c9d0e 8f2e6c1a-5b3d-4e7f-9a0b-1c2d3e4f5a6b\r\n"
    "m=video 54321 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107 108 109 127 125 39 40 45 46 98 99 100 101 112 113 116 117 118\r\n"
    "c=IN IP4 203.0.113.7\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=candidate:3502345362 1 udp 2113937151 5c3ec6a4-7f9b-4f5e-9b5a-2d3b0d6c6c3a.local 54321 typ host generation 0 network-cost 999\r\n"
    "a=candidate:842163049 1 udp 1677729535 203.0.113.7 54321 typ srflx raddr 0.0.0.0 rport 0 generation 0 network-cost 999\r\n"
    "a=end-of-candidates\r\n"
    "a=ice-ufrag:Lq3B\r\n"
    "a=ice-pwd:Zt6gK0WgBJ3oT1dXaQ8cE1vP\r\n"
    "a=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 " FP_CHROME "\r\n"
    "a=setup:actpass\r\n"
    "a=mid:1\r\n"
    "a=extmap:14 urn:ietf:params:rtp-hdrext:toffset\r\n"
    "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
    "a=extmap:13 urn:3gpp:video-orientation\r\n"
    "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
    "a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r\n"
    "a=extmap:6 http://www.webrtc.org/experiments/rtp-hdrext/video-content-type\r\n"
    "a=extmap:7 http://www.webrtc.org/experiments/rtp-hdrext/video-timing\r\n"
    "a=extmap:8 http://www.webrtc.org/experiments/rtp-hdrext/color-space\r\n"
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n"
    "a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r\n"
    "a=sendonly\r\n"
    "a=msid:3d6d4a9e-7b0b-4a4c-8f8a-1f0c2c7c9d0e 0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:96 VP8/90000\r\n"
    "a=rtcp-fb:96 goog-remb\r\n"
    "a=rtcp-fb:96 transport-cc\r\n"
    "a=rtcp-fb:96 ccm fir\r\n"
    "a=rtcp-fb:96 nack\r\n"
    "a=rtcp-fb:96 nack pli\r\n"
    "a=rtpmap:97 rtx/90000\r\n"
    "a=fmtp:97 apt=96\r\n"
    "a=rtpmap:102 H264/90000\r\n"
    "a=rtcp-fb:102 goog-remb\r\n"
    "a=rtcp-fb:102 transport-cc\r\n"
    "a=rtcp-fb:102 ccm fir\r\n"
    "a=rtcp-fb:102 nack\r\n"
    "a=rtcp-fb:102 nack pli\r\n"
    "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n"
    "a=rtpmap:103 rtx/90000\r\n"
    "a=fmtp:103 apt=102\r\n"
    "a=rtpmap:104 H264/90000\r\n"
    "a=rtcp-fb:104 nack\r\n"
    "a=rtcp-fb:104 nack pli\r\n"
    "a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f\r\n"
    "a=rtpmap:105 rtx/90000\r\n"
    "a=fmtp:105 apt=104\r\n"
    "a=rtpmap:106 H264/90000\r\n"
    "a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
    "a=rtpmap:107 rtx/90000\r\n"
    "a=fmtp:107 apt=106\r\n"
    "a=rtpmap:108 H264/90000\r\n"
    "a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f\r\n"
    "a=rtpmap:109 rtx/90000\r\n"
    "a=fmtp:109 apt=108\r\n"
    "a=rtpmap:127 H264/90000\r\n"
    "a=fmtp:127 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f\r\n"
    "a=rtpmap:125 rtx/90000\r\n"
    "a=fmtp:125 apt=127\r\n"
    "a=rtpmap:39 H264/90000\r\n"
    "a=fmtp:39 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=4d001f\r\n"
    "a=rtpmap:40 rtx/90000\r\n"
    "a=fmtp:40 apt=39\r\n"
    "a=rtpmap:45 AV1/90000\r\n"
    "a=rtcp-fb:45 nack pli\r\n"
    "a=fmtp:45 level-idx=5;profile=0;tier=0\r\n"
    "a=rtpmap:46 rtx/90000\r\n"
    "a=fmtp:46 apt=45\r\n"
    "a=rtpmap:98 VP9/90000\r\n"
    "a=rtcp-fb:98 nack pli\r\n"
    "a=fmtp:98 profile-id=0\r\n"
    "a=rtpmap:99 rtx/90000\r\n"
    "a=fmtp:99 apt=98\r\n"
    "a=rtpmap:100 VP9/90000\r\n"
    "a=fmtp:100 profile-id=2\r\n"
    "a=rtpmap:101 rtx/90000\r\n"
    "a=fmtp:101 apt=100\r\n"
    "a=rtpmap:112 H264/90000\r\n"
    "a=fmtp:112 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f\r\n"
    "a=rtpmap:113 rtx/90000\r\n"
    "a=fmtp:113 apt=112\r\n"
    "a=rtpmap:116 red/90000\r\n"
    "a=rtpmap:117 rtx/90000\r\n"
    "a=fmtp:117 apt=116\r\n"
    "a=rtpmap:118 ulpfec/90000\r\n"
    "a=ssrc-group:FID 2231627014 632943048\r\n"
    "a=ssrc:2231627014 cname:q9V3k3yHfYv0Zx6N\r\n"
    "a=ssrc:2231627014 msid:3d6d4a9e-7b0b-4a4c-8f8a-1f0c2c7c9d0e 0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5\r\n"
    "a=ssrc:632943048 cname:q9V3k3yHfYv0Zx6N\r\n"
    "a=ssrc:632943048 msid:3d6d4a9e-7b0b-4a4c-8f8a-1f0c2c7c9d0e 0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5\r\n";

/* Replaces every `from` with `to`; malloc'd. */
static char *s_replace(const char *src, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    for (const char *p = src; (p = strstr(p, from)); p += fl)
        n++;
    char *out = malloc(strlen(src) + n * tl + 1), *w = out;
    const char *p = src, *q;
    while ((q = strstr(p, from))) {
        memcpy(w, p, (size_t)(q - p));
        w += q - p;
        memcpy(w, to, tl);
        w += tl;
        p = q + fl;
    }
    strcpy(w, p);
    return out;
}

static sdp_fingerprint_t s_our_fp(void)
{
    sdp_fingerprint_t fp = { .algo = "sha-256", .len = 32 };
    for (int i = 0; i < 32; i++)
        fp.digest[i] = (uint8_t)(0xA0 + i);
    return fp;
}

static sdp_candidate_t s_cand(const char *addr, uint16_t port, const char *type, uint32_t prio)
{
    sdp_candidate_t c = { .component = 1, .priority = prio, .port = port };
    strcpy(c.foundation, "1");
    strcpy(c.transport, "udp");
    strcpy(c.address, addr);
    strcpy(c.type, type);
    return c;
}

static void test_parse_chrome_offer(void)
{
    char err[SDP_ERR_MAX] = "";
    sdp_t *o = sdp_offer_parse(s_chrome_offer, strlen(s_chrome_offer), err, sizeof err);
    if (!o) {
        fprintf(stderr, "offer rejected: %s\n", err);
        s_fails++;
        return;
    }
    CHECK_STR(o->origin_sess_id, "4215775240449105457");
    CHECK(o->origin_sess_version == 2);
    CHECK(o->bundle_count == 2);
    CHECK_STR(o->bundle[0], "0");
    CHECK_STR(o->bundle[1], "1");
    CHECK(o->extmap_allow_mixed);
    CHECK(!o->ice_lite);
    CHECK(o->media_count == 2);

    const sdp_media_t *a = &o->media[0];
    CHECK(a->kind == SDP_MEDIA_AUDIO);
    CHECK(a->port == 54321);
    CHECK_STR(a->proto, "UDP/TLS/RTP/SAVPF");
    CHECK(a->rtp);
    CHECK_STR(a->mid, "0");
    CHECK(a->direction == SDP_SENDRECV);
    CHECK_STR(a->ice_ufrag, "Lq3B");
    CHECK_STR(a->ice_pwd, "Zt6gK0WgBJ3oT1dXaQ8cE1vP");
    CHECK(a->ice_trickle);
    CHECK_STR(a->fingerprint.algo, "sha-256");
    CHECK(a->fingerprint.len == 32 && a->fingerprint.digest[0] == 0x7B && a->fingerprint.digest[31] == 0x08);
    CHECK(a->setup == SDP_SETUP_ACTPASS);
    CHECK(a->rtcp_mux && a->rtcp_rsize);
    CHECK(a->format_count == 8);
    const sdp_format_t *opus = sdp_media_format(a, 111);
    CHECK(opus && !strcmp(opus->name, "opus") && opus->clock_rate == 48000 && opus->channels == 2);
    CHECK(opus && opus->fmtp && !strcmp(opus->fmtp, "minptime=10;useinbandfec=1"));
    CHECK(opus && sdp_format_has_fb(opus, "transport-cc"));
    const sdp_format_t *te = sdp_media_format(a, 126);
    CHECK(te && !strcmp(te->name, "telephone-event") && te->clock_rate == 8000 && te->channels == 0);
    CHECK(a->extmap_count == 4);
    CHECK(a->extmaps[0].id == 1 && !strcmp(a->extmaps[0].uri, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"));
    CHECK(a->ssrc_count == 1 && a->ssrcs[0].ssrc == 1001263927u);
    CHECK_STR(a->ssrcs[0].cname, "q9V3k3yHfYv0Zx6N");
    CHECK_STR(a->ssrcs[0].msid, "3d6d4a9e-7b0b-4a4c-8f8a-1f0c2c7c9d0e 8f2e6c1a-5b3d-4e7f-9a0b-1c2d3e4f5a6b");
    CHECK_STR(a->msid, "3d6d4a9e-7b0b-4a4c-8f8a-1f0c2c7c9d0e 8f2e6c1a-5b3d-4e7f-9a0b-1c2d3e4f5a6b");
    CHECK(a->end_of_candidates);
    CHECK(a->candidate_count == 3);
    const sdp_candidate_t *c0 = &a->candidates[0], *c1 = &a->candidates[1], *c2 = &a->candidates[2];
    CHECK_STR(c0->foundation, "3502345362");
    CHECK(c0->component == 1 && c0->priority == 2113937151u && c0->port == 54321);
    CHECK_STR(c0->transport, "udp");
    CHECK_STR(c0->address, "5c3ec6a4-7f9b-4f5e-9b5a-2d3b0d6c6c3a.local");
    CHECK_STR(c0->type, "host");
    CHECK_STR(c0->raddr, "");
    CHECK_STR(c1->type, "srflx");
    CHECK_STR(c1->address, "203.0.113.7");
    CHECK_STR(c1->raddr, "0.0.0.0");
    CHECK(c1->rport == 0);
    CHECK_STR(c2->transport, "tcp");
    CHECK_STR(c2->tcptype, "active");
    CHECK(c2->port == 9);

    const sdp_media_t *v = &o->media[1];
    CHECK(v->kind == SDP_MEDIA_VIDEO);
    CHECK_STR(v->mid, "1");
    CHECK(v->direction == SDP_SENDONLY);
    CHECK(v->format_count == 25);
    const sdp_format_t *vp8 = sdp_media_format(v, 96);
    CHECK(vp8 && !strcmp(vp8->name, "VP8") && vp8->clock_rate == 90000);
    CHECK(vp8 && vp8->rtcp_fb_count == 5 && sdp_format_has_fb(vp8, "nack pli") &&
          sdp_format_has_fb(vp8, "ccm fir") && sdp_format_has_fb(vp8, "nack"));
    const sdp_format_t *h264 = sdp_media_format(v, 102);
    char val[32];
    CHECK(h264 && sdp_fmtp_get(h264->fmtp, "profile-level-id", val, sizeof val) && !strcmp(val, "42001f"));
    CHECK(h264 && sdp_fmtp_get_int(h264->fmtp, "packetization-mode", -1) == 1);
    CHECK(v->extmap_count == 11);
    CHECK(v->ssrc_group_count == 1);
    CHECK_STR(v->ssrc_groups[0].semantics, "FID");
    CHECK(v->ssrc_groups[0].count == 2 && v->ssrc_groups[0].ssrcs[0] == 2231627014u &&
          v->ssrc_groups[0].ssrcs[1] == 632943048u);
    CHECK(v->ssrc_count == 2);
    CHECK(v->candidate_count == 2);

    /* what validation chose */
    CHECK(o->codecs.audio == 0 && o->codecs.opus_pt == 111);
    CHECK(o->codecs.opus.useinbandfec && o->codecs.opus.minptime == 10 && !o->codecs.opus.stereo);
    CHECK(o->codecs.video == 1 && o->codecs.vp8_pt == 96 && o->codecs.vp8_rtx_pt == 97);
    CHECK(sdp_media_by_mid(o, "1") == v);
    CHECK(sdp_media_by_mid(o, "7") == NULL);
    sdp_destroy(&o);
    CHECK(o == NULL);
    sdp_destroy(&o); /* harmless */
}

/* The same offer as sent before gathering (WHIP with trickle): no
 * candidates, port 9, c=0.0.0.0. */
static void test_offer_without_candidates(void)
{
    char *text = malloc(strlen(s_chrome_offer) + 1), *w = text;
    for (const char *p = s_chrome_offer; *p;) {
        const char *e = strstr(p, "\r\n") + 2;
        if (strncmp(p, "a=candidate:", 12) && strncmp(p, "a=end-of-candidates", 19)) {
            memcpy(w, p, (size_t)(e - p));
            w += e - p;
        }
        p = e;
    }
    *w = '\0';
    char *t2 = s_replace(text, " 54321 UDP", " 9 UDP");
    char *t3 = s_replace(t2, "c=IN IP4 203.0.113.7", "c=IN IP4 0.0.0.0");
    char err[SDP_ERR_MAX] = "";
    sdp_t *o = sdp_offer_parse(t3, strlen(t3), err, sizeof err);
    CHECK(o);
    CHECK(o && o->media[0].port == 9 && o->media[0].candidate_count == 0 &&
          !o->media[0].end_of_candidates && o->media[1].candidate_count == 0);
    CHECK(o && o->codecs.opus_pt == 111 && o->codecs.vp8_pt == 96);
    sdp_destroy(&o);
    free(text);
    free(t2);
    free(t3);
}

static void test_answer_roundtrip(void)
{
    char err[SDP_ERR_MAX] = "";
    sdp_t *o = sdp_offer_parse(s_chrome_offer, strlen(s_chrome_offer), err, sizeof err);
    CHECK(o);
    if (!o)
        return;
    sdp_fingerprint_t fp = s_our_fp();
    sdp_candidate_t cands[2] = { s_cand("192.0.2.10", 40000, "host", 2130706431u),
                                 s_cand("198.51.100.20", 40000, "srflx", 1694498815u) };
    strcpy(cands[1].foundation, "2");
    strcpy(cands[1].raddr, "192.0.2.10");
    cands[1].rport = 40000;
    sdp_answer_params_t p = {
        .ice_ufrag = "srvU", .ice_pwd = "0123456789abcdefABCDEF+/", .trickle = true,
        .candidates = cands, .candidate_count = 2, .fingerprint = &fp,
        .cname = "voxmesh-edge", .audio_ssrc = 0x11223344, .accept_video = true,
        .session_id = 123456789,
    };
    char *ans = sdp_answer_build(o, &p, err, sizeof err);
    if (!ans) {
        fprintf(stderr, "answer build failed: %s\n", err);
        s_fails++;
        sdp_destroy(&o);
        return;
    }
    CHECK(strstr(ans, "a=group:BUNDLE 0 1\r\n"));
    CHECK(strstr(ans, "a=setup:passive\r\n"));
    CHECK(strstr(ans, "a=ice-options:trickle\r\n"));
    CHECK(strstr(ans, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"));
    CHECK(strstr(ans, "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"));
    CHECK(!strstr(ans, "rtx"));
    CHECK(strstr(ans, "a=candidate:2 1 udp 1694498815 198.51.100.20 40000 typ srflx raddr 192.0.2.10 rport 40000\r\n"));
    CHECK(strstr(ans, "o=- 123456789 2 IN IP4"));

    sdp_t *a = sdp_answer_parse(ans, strlen(ans), err, sizeof err);
    if (!a) {
        fprintf(stderr, "own answer rejected: %s\n%s", err, ans);
        s_fails++;
        free(ans);
        sdp_destroy(&o);
        return;
    }
    CHECK(a->bundle_count == 2);
    CHECK(a->media_count == 2);
    CHECK(a->extmap_allow_mixed);
    const sdp_media_t *am = &a->media[0], *vm = &a->media[1];
    CHECK(am->kind == SDP_MEDIA_AUDIO && am->port == 9);
    CHECK_STR(am->mid, "0");
    CHECK(am->direction == SDP_SENDRECV);
    CHECK_STR(am->ice_ufrag, "srvU");
    CHECK_STR(am->ice_pwd, "0123456789abcdefABCDEF+/");
    CHECK(am->ice_trickle);
    CHECK(am->fingerprint.len == 32 && !memcmp(am->fingerprint.digest, fp.digest, 32));
    CHECK(am->setup == SDP_SETUP_PASSIVE);
    CHECK(am->rtcp_mux && !am->rtcp_rsize);
    CHECK(am->format_count == 1 && am->formats[0].pt == 111);
    CHECK_STR(am->formats[0].fmtp, "minptime=10;useinbandfec=1");
    CHECK(am->candidate_count == 2 && am->end_of_candidates);
    CHECK_STR(am->candidates[0].address, "192.0.2.10");
    CHECK(am->candidates[0].priority == 2130706431u);
    CHECK_STR(am->candidates[1].raddr, "192.0.2.10");
    CHECK(am->ssrc_count == 1 && am->ssrcs[0].ssrc == 0x11223344);
    CHECK_STR(am->ssrcs[0].cname, "voxmesh-edge");
    CHECK_STR(am->msid, "voxmesh audio");
    CHECK(am->extmap_count == 2);
    CHECK(am->extmaps[0].id == 4 && !strcmp(am->extmaps[0].uri, "urn:ietf:params:rtp-hdrext:sdes:mid"));
    CHECK(am->extmaps[1].id == 1);

    CHECK(vm->kind == SDP_MEDIA_VIDEO && vm->port == 9);
    CHECK_STR(vm->mid, "1");
    CHECK(vm->direction == SDP_RECVONLY);
    CHECK(vm->candidate_count == 0); /* candidates live in the BUNDLE tag only */
    CHECK_STR(vm->ice_ufrag, "srvU");
    CHECK(vm->setup == SDP_SETUP_PASSIVE);
    CHECK(vm->format_count == 1);
    const sdp_format_t *vp8 = sdp_media_format(vm, 96);
    CHECK(vp8 && !strcmp(vp8->name, "VP8") && vp8->rtcp_fb_count == 3);
    CHECK(sdp_format_has_fb(vp8, "nack") && sdp_format_has_fb(vp8, "nack pli") &&
          sdp_format_has_fb(vp8, "ccm fir"));
    CHECK(vm->ssrc_count == 0 && vm->msid == NULL);
    CHECK(vm->extmap_count == 1 && vm->extmaps[0].id == 4);
    CHECK(a->codecs.audio == 0 && a->codecs.opus_pt == 111);
    CHECK(a->codecs.video == 1 && a->codecs.vp8_pt == 96 && a->codecs.vp8_rtx_pt == -1);
    sdp_destroy(&a);
    free(ans);

    /* with rtx, without trickle */
    p.video_rtx = true;
    p.trickle = false;
    ans = sdp_answer_build(o, &p, err, sizeof err);
    CHECK(ans && strstr(ans, "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n") && strstr(ans, "a=fmtp:97 apt=96\r\n"));
    CHECK(ans && !strstr(ans, "ice-options"));
    a = ans ? sdp_answer_parse(ans, strlen(ans), err, sizeof err) : NULL;
    CHECK(a && a->codecs.vp8_rtx_pt == 97);
    sdp_destroy(&a);
    free(ans);

    /* video not accepted: port 0, out of the BUNDLE group, mid kept */
    p.accept_video = false;
    ans = sdp_answer_build(o, &p, err, sizeof err);
    CHECK(ans && strstr(ans, "a=group:BUNDLE 0\r\n") && strstr(ans, "m=video 0 UDP/TLS/RTP/SAVPF 96\r\n"));
    a = ans ? sdp_answer_parse(ans, strlen(ans), err, sizeof err) : NULL;
    CHECK(a && a->media_count == 2 && a->media[1].port == 0 && !strcmp(a->media[1].mid, "1"));
    CHECK(a && a->codecs.video == -1);
    sdp_destroy(&a);
    free(ans);

    /* DTLS role: a passive offerer makes us active; our own choice is checked */
    p.setup = SDP_SETUP_ACTPASS;
    CHECK(sdp_answer_build(o, &p, err, sizeof err) == NULL);
    p.setup = SDP_SETUP_NONE;
    sdp_destroy(&o);
    char *pas = s_replace(s_chrome_offer, "a=setup:actpass", "a=setup:passive");
    o = sdp_offer_parse(pas, strlen(pas), err, sizeof err);
    CHECK(o && o->media[0].setup == SDP_SETUP_PASSIVE);
    ans = o ? sdp_answer_build(o, &p, err, sizeof err) : NULL;
    CHECK(ans && strstr(ans, "a=setup:active\r\n"));
    free(ans);
    p.setup = SDP_SETUP_PASSIVE;
    CHECK(o && !sdp_answer_build(o, &p, err, sizeof err) && strstr(err, "DTLS role conflict"));
    sdp_destroy(&o);
    free(pas);

    /* WHIP ingest style: browser sends only; we answer recvonly without SSRCs */
    char *so = s_replace(s_chrome_offer, "a=sendrecv", "a=sendonly");
    o = sdp_offer_parse(so, strlen(so), err, sizeof err);
    p.setup = SDP_SETUP_NONE;
    ans = o ? sdp_answer_build(o, &p, err, sizeof err) : NULL;
    a = ans ? sdp_answer_parse(ans, strlen(ans), err, sizeof err) : NULL;
    CHECK(a && a->media[0].direction == SDP_RECVONLY && a->media[0].ssrc_count == 0);
    sdp_destroy(&a);
    sdp_destroy(&o);
    free(ans);
    free(so);
}

static void test_datachannel_rejected(void)
{
    /* Firefox-ish: session-level ICE/fingerprint, datachannel, no video */
    const char *offer =
        "v=0\n"
        "o=mozilla...THIS_IS_SDPARTA-99.0 7216484393216432781 0 IN IP4 0.0.0.0\n"
        "s=-\n"
        "t=0 0\n"
        "a=fingerprint:sha-256 " FP_CHROME "\n"
        "a=fingerprint:sha-1 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD\n"
        "a=group:BUNDLE 0 1\n"
        "a=ice-options:trickle\n"
        "a=msid-semantic:WMS *\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 109 9 0 8 101\n"
        "c=IN IP4 0.0.0.0\n"
        "a=sendrecv\n"
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\n"
        "a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1\n"
        "a=fmtp:101 0-15\n"
        "a=ice-pwd:e4ba4cc6d5e4a0ba8a1c9e5d8f2a1b3c\n"
        "a=ice-ufrag:2fd3c0b4\n"
        "a=mid:0\n"
        "a=rtcp-mux\n"
        "a=rtpmap:109 opus/48000/2\n"
        "a=rtpmap:9 G722/8000/1\n"
        "a=rtpmap:0 PCMU/8000\n"
        "a=rtpmap:8 PCMA/8000\n"
        "a=rtpmap:101 telephone-event/8000/1\n"
        "a=setup:actpass\n"
        "a=ssrc:3466409580 cname:{e2ec2c4f-4a4f-4d6f-8a5e-2b5f3e5f1c1d}\n"
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\n"
        "c=IN IP4 0.0.0.0\n"
        "a=sendrecv\n"
        "a=ice-pwd:e4ba4cc6d5e4a0ba8a1c9e5d8f2a1b3c\n"
        "a=ice-ufrag:2fd3c0b4\n"
        "a=mid:1\n"
        "a=setup:actpass\n"
        "a=sctp-port:5000\n"
        "a=max-message-size:1073741823\n";
    char err[SDP_ERR_MAX] = "";
    sdp_t *o = sdp_offer_parse(offer, strlen(offer), err, sizeof err);
    if (!o) {
        fprintf(stderr, "firefox-style offer rejected: %s\n", err);
        s_fails++;
        return;
    }
    CHECK(o->media[0].fingerprint.len == 32); /* session-level, folded in */
    CHECK(o->media[0].ice_trickle);
    CHECK(o->media[1].kind == SDP_MEDIA_APPLICATION && !o->media[1].rtp);
    CHECK_STR(o->media[1].fmt, "webrtc-datachannel");
    CHECK(o->codecs.opus_pt == 109 && o->codecs.opus.stereo && o->codecs.opus.maxplaybackrate == 48000);
    CHECK(o->codecs.video == -1);
    sdp_fingerprint_t fp = s_our_fp();
    sdp_answer_params_t p = { .ice_ufrag = "abcd", .ice_pwd = "0123456789012345678901",
                              .fingerprint = &fp, .cname = "x", .audio_ssrc = 7, .accept_video = true,
                              .ice_lite = true };
    char *ans = sdp_answer_build(o, &p, err, sizeof err);
    CHECK(ans && strstr(ans, "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"));
    CHECK(ans && strstr(ans, "a=group:BUNDLE 0\r\n") && strstr(ans, "a=ice-lite\r\n"));
    CHECK(ans && strstr(ans, "a=end-of-candidates\r\n"));
    sdp_t *a = ans ? sdp_answer_parse(ans, strlen(ans), err, sizeof err) : NULL;
    CHECK(a && a->ice_lite && a->media_count == 2 && a->media[1].port == 0);
    CHECK(a && !strcmp(a->media[1].mid, "1") && a->codecs.opus_pt == 109);
    sdp_destroy(&a);
    sdp_destroy(&o);
    free(ans);
}

static void test_own_offer(void)
{
    sdp_fingerprint_t fp = s_our_fp();
    sdp_candidate_t c = s_cand("10.0.0.2", 5000, "host", 2130706431u);
    sdp_offer_params_t p = { .ice_ufrag = "cli1", .ice_pwd = "abcdefghijklmnopqrstuvwx",
                             .trickle = true, .candidates = &c, .candidate_count = 1,
                             .end_of_candidates = true, .fingerprint = &fp, .cname = "client",
                             .audio_ssrc = 1111, .video = true, .video_ssrc = 2222 };
    char err[SDP_ERR_MAX] = "";
    char *offer = sdp_offer_build(&p, err, sizeof err);
    CHECK(offer);
    if (!offer)
        return;
    sdp_t *o = sdp_offer_parse(offer, strlen(offer), err, sizeof err);
    if (!o) {
        fprintf(stderr, "own offer rejected: %s\n%s", err, offer);
        s_fails++;
        free(offer);
        return;
    }
    CHECK(o->media_count == 2 && o->bundle_count == 2);
    CHECK(o->media[0].setup == SDP_SETUP_ACTPASS && o->media[0].candidate_count == 1);
    CHECK(o->media[0].end_of_candidates && o->media[0].ice_trickle);
    CHECK(o->media[1].direction == SDP_SENDONLY);
    CHECK(o->codecs.opus_pt == SDP_OFFER_OPUS_PT && o->codecs.vp8_pt == SDP_OFFER_VP8_PT);
    CHECK(o->media[1].ssrc_count == 1 && o->media[1].ssrcs[0].ssrc == 2222);

    /* the server side answers it, and the client parses that answer */
    sdp_answer_params_t ap = { .ice_ufrag = "srv1", .ice_pwd = "ABCDEFGHIJKLMNOPQRSTUVWX",
                               .fingerprint = &fp, .cname = "srv", .audio_ssrc = 3333,
                               .accept_video = true };
    char *ans = sdp_answer_build(o, &ap, err, sizeof err);
    sdp_t *a = ans ? sdp_answer_parse(ans, strlen(ans), err, sizeof err) : NULL;
    CHECK(a);
    CHECK(a && a->codecs.audio == 0 && a->codecs.video == 1);
    CHECK(a && a->media[0].setup == SDP_SETUP_PASSIVE && a->media[1].direction == SDP_RECVONLY);
    sdp_destroy(&a);
    free(ans);
    sdp_destroy(&o);
    free(offer);

    /* audio only */
    p.video = false;
    offer = sdp_offer_build(&p, err, sizeof err);
    o = offer ? sdp_offer_parse(offer, strlen(offer), err, sizeof err) : NULL;
    CHECK(o && o->media_count == 1 && o->codecs.video == -1);
    sdp_destroy(&o);
    free(offer);

    /* bad parameters are refused, not written */
    p.ice_pwd = "short";
    CHECK(!sdp_offer_build(&p, err, sizeof err) && strstr(err, "ice-pwd"));
    p.ice_pwd = "abcdefghijklmnopqrstuvwx";
    p.cname = "two words";
    CHECK(!sdp_offer_build(&p, err, sizeof err));
}

/* Each broken offer fails with its own reason. */
static void test_errors(void)
{
    static const struct {
        const char *from, *to, *reason;
    } cases[] = {
        { "m=audio", "m=text", "no audio m-line" },
        { "opus/48000/2", "foo/48000/2", "no Opus codec offered" },
        { "opus/48000/2", "opus/48000/1", "no Opus codec offered" },
        { "a=ice-ufrag:Lq3B\r\n", "", "missing a=ice-ufrag" },
        { "a=ice-pwd:Zt6gK0WgBJ3oT1dXaQ8cE1vP\r\n", "", "missing a=ice-pwd" },
        { "a=ice-pwd:Zt6gK0WgBJ3oT1dXaQ8cE1vP\r\n", "a=ice-pwd:short\r\n", "a=ice-pwd too short" },
        { "a=fingerprint:sha-256 " FP_CHROME "\r\n", "", "missing a=fingerprint" },
        { "a=fingerprint:sha-256 " FP_CHROME, "a=fingerprint:sha-1 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64",
          "unsupported a=fingerprint hash sha-1" },
        { "a=fingerprint:sha-256 " FP_CHROME, "a=fingerprint:sha-256 7B:8B", "bad a=fingerprint" },
        { "a=setup:actpass", "a=setup:holdconn", "bad a=setup value 'holdconn'" },
        { "a=rtcp-mux\r\n", "", "missing a=rtcp-mux" },
        { "m=audio 54321", "m=audio 0", "audio m-line rejected" },
        { "UDP/TLS/RTP/SAVPF 111", "RTP/AVP 111", "not DTLS-SRTP" },
        { "typ srflx", "typx srflx", "bad a=candidate (no typ)" },
        { "2113937151 5c3ec6a4", "21139371519999 5c3ec6a4", "bad a=candidate priority" },
        { "a=group:BUNDLE 0 1", "a=group:BUNDLE 0 7", "unknown mid" },
        { "a=mid:1", "a=mid:0", "duplicate a=mid" },
        { "a=rtpmap:111 opus/48000/2", "a=rtpmap:111 opus", "bad a=rtpmap" },
        { "v=0\r\n", "v=1\r\n", "must start with v=0" },
        { "o=- 4215775240449105457 2 IN IP4 127.0.0.1\r\n", "", "missing o= line" },
        { "a=extmap:14 ", "a=extmap:2 ", "duplicate a=extmap" },
        { "s=-\r\n", "s=-\001\r\n", "control character" },
        { "s=-\r\n", "s\r\n", "not an SDP <type>=<value> line" },
    };
    char err[SDP_ERR_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = s_replace(s_chrome_offer, cases[i].from, cases[i].to);
        err[0] = '\0';
        sdp_t *o = sdp_offer_parse(text, strlen(text), err, sizeof err);
        if (o || !strstr(err, cases[i].reason)) {
            fprintf(stderr, "case %zu: want '%s', got %s '%s'\n", i, cases[i].reason,
                    o ? "success" : "error", err);
            s_fails++;
        }
        sdp_destroy(&o);
        free(text);
    }
    /* sha-384 and sha-512 are fine too */
    char fp384[200] = "a=fingerprint:sha-384 ";
    for (int i = 0; i < 48; i++)
        sprintf(fp384 + strlen(fp384), i ? ":%02x" : "%02x", i);
    char *text = s_replace(s_chrome_offer, "a=fingerprint:sha-256 " FP_CHROME, fp384);
    sdp_t *o = sdp_offer_parse(text, strlen(text), err, sizeof err);
    CHECK(o && !strcmp(o->media[0].fingerprint.algo, "sha-384") && o->media[0].fingerprint.len == 48);
    sdp_destroy(&o);
    free(text);

    /* limits */
    CHECK(!sdp_parse("", 0, err, sizeof err) && strstr(err, "empty"));
    char *big = malloc(SDP_MAX_SIZE + 2);
    memset(big, 'a', SDP_MAX_SIZE + 1);
    big[SDP_MAX_SIZE + 1] = '\0';
    CHECK(!sdp_parse(big, SDP_MAX_SIZE + 1, err, sizeof err) && strstr(err, "too large"));
    memcpy(big, "v=0\r\ns=", 7);
    big[4000] = '\0';
    CHECK(!sdp_parse(big, 4000, err, sizeof err) && strstr(err, "too long"));
    free(big);
    char many[4096] = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n";
    for (int i = 0; i <= SDP_MAX_MEDIA; i++)
        strcat(many, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n");
    CHECK(!sdp_parse(many, strlen(many), err, sizeof err) && strstr(err, "too many m-lines"));
    char *lines = malloc(4 * (SDP_MAX_LINES + 10) + 64);
    strcpy(lines, "v=0\r\n");
    for (int i = 0; i < SDP_MAX_LINES + 5; i++)
        strcat(lines, "b=\r\n");
    CHECK(!sdp_parse(lines, strlen(lines), err, sizeof err) && strstr(err, "too many lines"));
    free(lines);

    /* not validated -> no answer */
    sdp_t *raw = sdp_parse(s_chrome_offer, strlen(s_chrome_offer), err, sizeof err);
    CHECK(raw);
    sdp_fingerprint_t fp = s_our_fp();
    sdp_answer_params_t p = { .ice_ufrag = "abcd", .ice_pwd = "0123456789012345678901",
                              .fingerprint = &fp, .cname = "x" };
    CHECK(raw && !sdp_answer_build(raw, &p, err, sizeof err) && strstr(err, "not validated"));
    sdp_destroy(&raw);

    /* an answer may not say actpass */
    text = s_replace(s_chrome_offer, "a=setup:actpass", "a=setup:actpass");
    o = sdp_answer_parse(text, strlen(text), err, sizeof err);
    CHECK(!o && strstr(err, "actpass"));
    free(text);
}

static void test_candidates_fingerprints(void)
{
    sdp_candidate_t c;
    char err[SDP_ERR_MAX], buf[256];
    CHECK(sdp_candidate_parse("a=candidate:1 1 UDP 2130706431 2001:db8::1 3478 typ relay raddr 2001:db8::2 rport 5000", &c, err, sizeof err) == 0);
    CHECK_STR(c.transport, "udp");
    CHECK_STR(c.address, "2001:db8::1");
    CHECK_STR(c.type, "relay");
    CHECK(c.rport == 5000);
    CHECK(sdp_candidate_format(&c, buf, sizeof buf) > 0);
    CHECK_STR(buf, "candidate:1 1 udp 2130706431 2001:db8::1 3478 typ relay raddr 2001:db8::2 rport 5000");
    sdp_candidate_t d;
    CHECK(sdp_candidate_parse(buf, &d, err, sizeof err) == 0 && !memcmp(&c, &d, sizeof c));
    /* unknown type or transport: parsed but flagged */
    CHECK(sdp_candidate_parse("candidate:1 1 udp 1 1.2.3.4 5 typ weird", &c, err, sizeof err) == 1);
    CHECK(sdp_candidate_parse("candidate:1 1 sctp 1 1.2.3.4 5 typ host", &c, err, sizeof err) == 1);
    CHECK(sdp_candidate_parse("candidate:1 1 udp 1 1.2.3.4 65536 typ host", &c, err, sizeof err) < 0);
    CHECK(sdp_candidate_parse("candidate:1 0 udp 1 1.2.3.4 5 typ host", &c, err, sizeof err) < 0);
    CHECK(sdp_candidate_parse("candidate:1 1 udp 1 1.2.3.4\"; 5 typ host", &c, err, sizeof err) < 0);
    CHECK(sdp_candidate_parse("candidate:1 1 udp 1 1.2.3.4 5 type host", &c, err, sizeof err) < 0);
    /* a srflx without a related address gets the privacy placeholder */
    sdp_candidate_t s = s_cand("198.51.100.1", 1000, "srflx", 5);
    CHECK(sdp_candidate_format(&s, buf, sizeof buf) > 0 && strstr(buf, "raddr 0.0.0.0 rport 0"));
    CHECK(sdp_candidate_format(&s, buf, 20) < 0);
    strcpy(s.type, "bogus");
    CHECK(sdp_candidate_format(&s, buf, sizeof buf) < 0);

    sdp_fingerprint_t fp;
    CHECK(sdp_fingerprint_parse("SHA-256 " FP_CHROME, &fp) == 0 && !strcmp(fp.algo, "sha-256"));
    CHECK(sdp_fingerprint_format(&fp, buf, sizeof buf) > 0);
    CHECK_STR(buf, "sha-256 " FP_CHROME);
    CHECK(sdp_fingerprint_parse("md5 00:11", &fp) == 1 && fp.len == 0 && !strcmp(fp.algo, "md5"));
    CHECK(sdp_fingerprint_parse("sha-256 7B:8B:", &fp) < 0);
    CHECK(sdp_fingerprint_parse("sha-256", &fp) < 0);
    CHECK(sdp_fingerprint_parse("sha-256 " FP_CHROME ":00", &fp) < 0);

    char v[16];
    CHECK(sdp_fmtp_get("minptime=10; useinbandfec=1", "useinbandfec", v, sizeof v) && !strcmp(v, "1"));
    CHECK(!sdp_fmtp_get("minptime=10;useinbandfec=1", "inband", v, sizeof v));
    CHECK(sdp_fmtp_get_int("apt=96", "apt", -1) == 96);
    CHECK(sdp_fmtp_get_int("apt=x", "apt", -1) == -1);
    CHECK(sdp_fmtp_get_int(NULL, "apt", -1) == -1);
}

static void test_sdpfrag(void)
{
    /* RFC 9725 4.3.1: a trickle PATCH of the current ICE generation */
    const char *trickle =
        "a=group:BUNDLE 0 1\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
        "a=mid:0\r\n"
        "a=ice-ufrag:EsAw\r\n"
        "a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n"
        "a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1\r\n"
        "a=candidate:3471623853 1 udp 2122194687 198.51.100.2 61765 typ host generation 0 ufrag EsAw network-id 2\r\n"
        "a=candidate:473322822 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active generation 0 ufrag EsAw network-id 1\r\n"
        "a=candidate:2154773085 1 tcp 1518214911 198.51.100.2 9 typ host tcptype active generation 0 ufrag EsAw network-id 2\r\n"
        "a=end-of-candidates\r\n";
    sdp_frag_t f;
    char err[SDP_ERR_MAX] = "";
    CHECK(sdp_frag_parse(trickle, strlen(trickle), &f, err, sizeof err) == 0);
    CHECK_STR(f.ice_ufrag, "EsAw");
    CHECK_STR(f.ice_pwd, "P2uYro0UCOQ4zxjKXaWCBui1");
    CHECK(f.bundle_count == 2 && !strcmp(f.bundle[1], "1"));
    CHECK(f.media_count == 1 && !strcmp(f.mids[0], "0"));
    CHECK_STR(f.mline[0], "audio 9 UDP/TLS/RTP/SAVPF 111");
    CHECK(f.candidate_count == 4 && f.candidate_media[0] == 0 && f.end_of_candidates);
    CHECK_STR(f.candidates[1].address, "198.51.100.2");
    CHECK_STR(f.candidates[3].tcptype, "active");
    CHECK(!sdp_frag_is_ice_restart(&f, "EsAw", "P2uYro0UCOQ4zxjKXaWCBui1"));

    /* RFC 9725 4.4.1: an ICE restart */
    const char *restart =
        "a=ice-options:trickle ice2\r\n"
        "a=group:BUNDLE 0 1\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
        "a=mid:0\r\n"
        "a=ice-ufrag:ysXw\r\n"
        "a=ice-pwd:vw5LmwG4y/e6dPP/zAP9Gp5k\r\n"
        "a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag ysXw network-id 1\r\n";
    CHECK(sdp_frag_parse(restart, strlen(restart), &f, err, sizeof err) == 0);
    CHECK(f.ice_trickle && !strcmp(f.ice_options, "trickle ice2"));
    CHECK(sdp_frag_is_ice_restart(&f, "EsAw", "P2uYro0UCOQ4zxjKXaWCBui1"));
    CHECK(sdp_frag_is_ice_restart(&f, "ysXw", "other-password-xxxxxxxx"));
    CHECK(!sdp_frag_is_ice_restart(&f, "ysXw", "vw5LmwG4y/e6dPP/zAP9Gp5k"));
    CHECK(!f.end_of_candidates && f.candidate_count == 1);

    /* our reply: new credentials and candidates, mirroring the request */
    sdp_candidate_t c = s_cand("198.51.100.1", 39132, "host", 2130706431u);
    sdp_frag_params_t p = { .ice_ufrag = "289b31b754eaa438", .ice_pwd = "0b66f472495ef0ccac7bda24c8f8d4f5",
                            .ice_lite = true, .trickle = true, .candidates = &c, .candidate_count = 1,
                            .end_of_candidates = true, .request = &f };
    char *out = sdp_frag_build(&p, err, sizeof err);
    CHECK(out);
    if (out) {
        CHECK(strstr(out, "a=ice-lite\r\n") && strstr(out, "a=group:BUNDLE 0 1\r\n"));
        CHECK(strstr(out, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"));
        sdp_frag_t g;
        CHECK(sdp_frag_parse(out, strlen(out), &g, err, sizeof err) == 0);
        CHECK_STR(g.ice_ufrag, "289b31b754eaa438");
        CHECK_STR(g.ice_pwd, "0b66f472495ef0ccac7bda24c8f8d4f5");
        CHECK(g.candidate_count == 1 && g.candidates[0].port == 39132 && g.end_of_candidates);
        CHECK(!strcmp(g.mids[0], "0") && g.bundle_count == 2);
        free(out);
    }
    /* client trickle without a request */
    p.request = NULL;
    p.mid = "3";
    p.ice_lite = false;
    out = sdp_frag_build(&p, err, sizeof err);
    CHECK(out && strstr(out, "a=mid:3\r\n") && !strstr(out, "group"));
    free(out);

    /* candidates only: trickle of the current generation; errors */
    const char *bare = "a=candidate:1 1 udp 5 192.0.2.9 1000 typ host\r\n";
    CHECK(sdp_frag_parse(bare, strlen(bare), &f, err, sizeof err) == 0);
    CHECK(f.candidate_count == 1 && f.candidate_media[0] == -1);
    CHECK(!sdp_frag_is_ice_restart(&f, "EsAw", "x"));
    const char *half = "a=ice-ufrag:abcd\r\n";
    CHECK(sdp_frag_parse(half, strlen(half), &f, err, sizeof err) < 0 && strstr(err, "without a=ice-pwd"));
    const char *badc = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=candidate:1 1 udp\r\n";
    CHECK(sdp_frag_parse(badc, strlen(badc), &f, err, sizeof err) < 0 && strstr(err, "line 2"));
    const char *twouf = "a=ice-ufrag:abcd\r\na=ice-ufrag:efgh\r\n";
    CHECK(sdp_frag_parse(twouf, strlen(twouf), &f, err, sizeof err) < 0 && strstr(err, "conflicting"));
}

int main(void)
{
    test_parse_chrome_offer();
    test_offer_without_candidates();
    test_answer_roundtrip();
    test_datachannel_rejected();
    test_own_offer();
    test_errors();
    test_candidates_fingerprints();
    test_sdpfrag();
    if (s_fails)
        fprintf(stderr, "sdp_test: %d failures\n", s_fails);
    else
        printf("sdp_test: ok\n");
    return s_fails ? 1 : 0;
}
