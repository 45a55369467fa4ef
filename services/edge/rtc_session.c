/* rtc_session — see rtc_session.h and docs/edge.md. */
#include "rtc_session.h"
#include "rtc/peer.h"
#include "rtc/rtcp.h"
#include "rtc/rtp.h"
#include "rtc/sdp.h"
#include "opus_codec.h"
#include "log.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RTCP_INTERVAL_MS 1000
#define PLI_MIN_INTERVAL_US 500000
#define OPUS_CLOCK 48000

typedef struct {
    edge_session_t base;
    rtc_peer_t *peer;
    edge_whip_reply_t *reply;          /* until the answer is sent */
    bool deleted;                      /* ended by the HTTP side: no whip_end */
    bool ending;
    int opus_pt, vp8_pt;
    bool video;
    char mid[SDP_MID_MAX + 1];
    char remote_ufrag[SDP_ICE_MAX + 1], remote_pwd[SDP_ICE_MAX + 1];
    sdp_t *offer;                      /* kept until the answer is built */
    char cname[24];
    uint32_t ssrc;                     /* our audio */
    uint16_t seq;
    uint32_t ts;
    bool marker;
    uint32_t sent_packets, sent_octets;
    rtp_rx_stats_t rx_audio, rx_video;
    bool have_audio, have_video;
    /* Capture-time estimate of the caller's audio: its RTP clock mapped to
     * our wall clock at the least delay seen (docs/edge.md). */
    uint32_t clock_last_ts;
    int64_t clock_media_us;            /* unwrapped RTP time of the last packet */
    int64_t clock_offset_us;           /* wall - media, the least seen */
    vp8_assembler_t *vp8;
    int64_t last_pli_us;
    int64_t rtt_us;
    guint rtcp_timer;
} rtc_session_t;

static uint32_t s_random32(void)
{
    uint32_t v;
    if (RAND_bytes((unsigned char *)&v, sizeof v) != 1) v = (uint32_t)g_random_int();
    return v;
}

static rtc_session_t *s_of(edge_session_t *s) { return (rtc_session_t *)s; }

static void s_destroy(edge_session_t *base)
{
    rtc_session_t *s = s_of(base);
    if (s->rtcp_timer) g_source_remove(s->rtcp_timer);
    rtc_peer_destroy(&s->peer);
    vp8_assembler_destroy(&s->vp8);
    sdp_destroy(&s->offer);
    free(s);
}

static void s_end(rtc_session_t *s, const char *reason)
{
    if (s->ending) return;
    s->ending = true;
    if (!s->deleted && !s->reply) edge_http_whip_end(s->base.edge->http, s->base.id);
    edge_session_end(&s->base, reason);
}

/* ---- outbound ----------------------------------------------------------------- */

static void s_pace(void *arg, const uint8_t *data, size_t len, uint32_t duration_us, int64_t origin_ts_us,
                   unsigned gaps)
{
    rtc_session_t *s = arg;
    if (!s->peer || rtc_peer_state(s->peer) != RTC_PEER_CONNECTED || len > 1200) return;
    uint32_t step = (uint32_t)((uint64_t)duration_us * OPUS_CLOCK / 1000000);
    s->ts += gaps * step;                 /* the silence that went by, as DTX would */
    uint8_t pkt[1280];
    rtp_packet_t h = { 0 };
    h.version = 2;
    h.marker = s->marker || gaps > 0;     /* start of a talk spurt */
    h.pt = (uint8_t)s->opus_pt;
    h.seq = s->seq++;
    h.ts = s->ts;
    h.ssrc = s->ssrc;
    int hl = rtp_header_write(&h, pkt, sizeof pkt);
    if (hl < 0) return;
    memcpy(pkt + hl, data, len);
    s->ts += step;
    s->marker = false;
    if (rtc_peer_send_rtp(s->peer, pkt, (size_t)hl + len) == 0) {
        s->sent_packets++;
        s->sent_octets += (uint32_t)len;
        metric_add(s->base.m_packets_out, 1);
        edge_observe_latency(s->base.edge, origin_ts_us);
    }
}

/* ---- inbound ------------------------------------------------------------------ */

static void s_bad_packet(rtc_session_t *s, const char *why)
{
    metric_add(s->base.edge->m_bad_packets, 1);
    uint64_t sup = 0;
    if (log_ratelimit_ok(&s->base.edge->rl, &sup))
        log_session_warn(s->base.id, "RTP packet dropped: %s (%llu similar suppressed)", why,
                         (unsigned long long)sup);
}

static void s_send_pli(rtc_session_t *s)
{
    int64_t now = time_mono_us();
    if (!s->have_video || now - s->last_pli_us < PLI_MIN_INTERVAL_US) return;
    s->last_pli_us = now;
    uint8_t buf[64];
    int n = rtcp_write_pli(buf, sizeof buf, s->ssrc, s->rx_video.ssrc);
    if (n > 0) rtc_peer_send_rtcp(s->peer, buf, (size_t)n);
}

static void s_on_video(rtc_session_t *s, const rtp_packet_t *p)
{
    if (!s->have_video) {
        rtp_rx_stats_init(&s->rx_video, p->ssrc, 90000);
        s->have_video = true;
    }
    rtp_rx_stats_update(&s->rx_video, p->seq, p->ts, time_mono_us());
    const char *why = NULL;
    int r = vp8_assembler_push(s->vp8, p, &why);
    if (r == VP8_ASM_NEED_KEYFRAME) {
        s_send_pli(s);
        return;
    }
    if (r != VP8_ASM_FRAME) {
        if (r < 0) s_bad_packet(s, why ? why : "bad VP8 packet");
        return;
    }
    size_t len = 0;
    vp8_frame_info_t info;
    const uint8_t *frame = vp8_assembler_frame(s->vp8, &len, &info);
    if (!frame) return;
    Voxmesh__EncodedVideo v = VOXMESH__ENCODED_VIDEO__INIT;
    v.codec = "vp8";
    v.rtp_timestamp = p->ts;
    v.keyframe = vp8_is_keyframe(frame, len);
    uint16_t w = 0, h = 0;
    uint8_t hs, vs;
    if (v.keyframe && vp8_keyframe_size(frame, len, &w, &h, &hs, &vs) == 0) {
        v.width = w;
        v.height = h;
    }
    v.data.data = (uint8_t *)frame;
    v.data.len = len;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_ENCODED_VIDEO;
    ev.encoded_video = &v;
    edge_publish(&s->base, TOPIC_VIDEO_IN_VP8, &ev);
}

/* The capture time of an audio packet on our wall clock: its RTP timestamp
 * mapped with the smallest (arrival - media time) seen so far, so that
 * network jitter does not show in origin timestamps (consecutive 20 ms
 * packets are 20 ms apart, however they arrive). The offset creeps up by
 * 100 ppm so that a sender clock slower than ours is followed. */
static int64_t s_capture_time(rtc_session_t *s, uint32_t rtp_ts, int64_t arrival_us, bool first)
{
    if (first) {
        s->clock_media_us = 0;
        s->clock_offset_us = arrival_us;
    } else {
        s->clock_media_us += (int64_t)(int32_t)(rtp_ts - s->clock_last_ts) * 1000000 / OPUS_CLOCK;
    }
    s->clock_last_ts = rtp_ts;
    int64_t offset = arrival_us - s->clock_media_us;
    if (offset < s->clock_offset_us) s->clock_offset_us = offset;
    else s->clock_offset_us += 2;            /* 100 ppm of a 20 ms packet */
    int64_t t = s->clock_media_us + s->clock_offset_us;
    return t < arrival_us ? t : arrival_us;
}

static void s_on_rtp(rtc_peer_t *peer, uint8_t *data, size_t len, void *user)
{
    (void)peer;
    rtc_session_t *s = user;
    rtp_packet_t p;
    const char *why = NULL;
    if (rtp_parse(data, len, &p, &why) < 0) {
        s_bad_packet(s, why ? why : "malformed RTP");
        return;
    }
    if (p.pt == s->vp8_pt && s->video) {
        s_on_video(s, &p);
        return;
    }
    if (p.pt != s->opus_pt) return;        /* RED, DTMF, RTX: not taken */
    bool first = !s->have_audio || p.ssrc != s->rx_audio.ssrc;
    if (first) {
        rtp_rx_stats_init(&s->rx_audio, p.ssrc, OPUS_CLOCK);
        s->have_audio = true;
    }
    int64_t capture_us = s_capture_time(s, p.ts, time_now_us(), first);
    rtp_rx_stats_update(&s->rx_audio, p.seq, p.ts, time_mono_us());
    if (p.payload_len == 0) return;
    int frames = opus_packet_duration(p.payload, p.payload_len, OPUS_CLOCK);
    if (frames <= 0) {
        s_bad_packet(s, "not an Opus packet");
        return;
    }
    metric_add(s->base.m_packets_in, 1);
    metric_add(s->base.edge->m_audio_in, 1);
    Voxmesh__EncodedAudio a = VOXMESH__ENCODED_AUDIO__INIT;
    a.codec = "opus";
    a.sample_rate = OPUS_CLOCK;
    a.channels = 1;
    a.rtp_timestamp = p.ts;
    a.rtp_seq = p.seq;
    a.duration_us = (uint32_t)((int64_t)frames * 1000000 / OPUS_CLOCK);
    a.data.data = (uint8_t *)p.payload;
    a.data.len = p.payload_len;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.origin_ts_us = capture_us;
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_ENCODED_AUDIO;
    ev.encoded_audio = &a;
    edge_publish(&s->base, TOPIC_AUDIO_IN_OPUS, &ev);
}

static void s_on_rtcp(rtc_peer_t *peer, uint8_t *data, size_t len, void *user)
{
    (void)peer;
    rtc_session_t *s = user;
    rtcp_packet_t pkts[8];
    const char *why = NULL;
    int n = rtcp_parse(data, len, pkts, 8, &why);
    if (n < 0) {
        s_bad_packet(s, why ? why : "malformed RTCP");
        return;
    }
    int64_t now_mono = time_mono_us();
    uint64_t now_ntp = rtcp_ntp_from_unix_us(time_now_us());
    for (int i = 0; i < n; i++) {
        const rtcp_packet_t *p = &pkts[i];
        if (p->pt == RTCP_SR) {
            if (s->have_audio && p->sender_ssrc == s->rx_audio.ssrc) rtcp_note_sr(&s->rx_audio, p, now_mono);
            if (s->have_video && p->sender_ssrc == s->rx_video.ssrc) rtcp_note_sr(&s->rx_video, p, now_mono);
        }
        if (p->pt == RTCP_SR || p->pt == RTCP_RR) {
            for (int b = 0; b < p->rb_count; b++) {
                if (p->rb[b].ssrc != s->ssrc) continue;
                int64_t rtt = rtcp_rtt_us(&p->rb[b], now_ntp);
                if (rtt >= 0) {
                    s->rtt_us = rtt;
                    metric_set(s->base.m_rtt, rtt / 1e6);
                }
            }
        }
    }
}

/* Sender and receiver reports, once a second. */
static gboolean s_on_rtcp_timer(gpointer user)
{
    rtc_session_t *s = user;
    if (!s->peer || rtc_peer_state(s->peer) != RTC_PEER_CONNECTED) return G_SOURCE_CONTINUE;
    int64_t now_mono = time_mono_us();
    rtcp_report_block_t rb[2];
    int nrb = 0;
    if (s->have_audio) rtcp_report_block_fill(&rb[nrb++], &s->rx_audio, now_mono);
    if (s->have_video) rtcp_report_block_fill(&rb[nrb++], &s->rx_video, now_mono);
    rtcp_sr_t sr = { .ssrc = s->ssrc, .ntp = rtcp_ntp_from_unix_us(time_now_us()), .rtp_ts = s->ts,
                     .packet_count = s->sent_packets, .octet_count = s->sent_octets };
    uint8_t buf[512];
    int n = rtcp_write_report(buf, sizeof buf, s->sent_packets ? &sr : NULL, s->ssrc, rb, nrb, s->cname);
    if (n > 0) rtc_peer_send_rtcp(s->peer, buf, (size_t)n);
    if (s->have_audio) {
        metric_set(s->base.m_lost, (double)rtp_rx_stats_lost(&s->rx_audio));
        metric_set(s->base.m_jitter, rtp_rx_stats_jitter(&s->rx_audio) / (double)OPUS_CLOCK);
    }
    if (s->have_video && vp8_assembler_waiting_keyframe(s->vp8)) s_send_pli(s);
    rtc_peer_stats_t st;
    rtc_peer_stats(s->peer, &st);
    metric_set(s->base.m_rejected, (double)(st.dropped + st.dtls_dropped + st.srtp_auth_fail + st.srtp_replay_fail + st.srtp_other_fail));
    return G_SOURCE_CONTINUE;
}

/* ---- signalling ------------------------------------------------------------ */

static void s_on_state(rtc_peer_t *peer, rtc_peer_state_t state, void *user)
{
    rtc_session_t *s = user;
    log_session_info(s->base.id, "%s", rtc_peer_state_name(state));
    if (state == RTC_PEER_CONNECTED) {
        rtc_peer_stats_t st;
        rtc_peer_stats(peer, &st);
        log_session_info(s->base.id, "connected %s <-> %s (%s)", st.local_addr, st.remote_addr,
                         st.srtp_profile);
        s->marker = true;
    } else if (state == RTC_PEER_FAILED || state == RTC_PEER_CLOSED) {
        const char *why = rtc_peer_failure(peer);
        s_end(s, state == RTC_PEER_FAILED ? (why ? why : "failed") : "closed by the caller");
    }
}

/* Local candidates as parsed structs, for the SDP builders. */
static int s_local_candidates(rtc_session_t *s, sdp_candidate_t *out, int max)
{
    char **list = rtc_peer_local_candidates(s->peer);
    int n = 0;
    char err[SDP_ERR_MAX];
    for (char **c = list; *c && n < max; c++)
        if (sdp_candidate_parse(*c, &out[n], err, sizeof err) == 0) n++;
    g_strfreev(list);
    return n;
}

static void s_on_gathered(rtc_peer_t *peer, void *user)
{
    (void)peer;
    rtc_session_t *s = user;
    if (!s->reply) return;               /* re-gathering after an ICE restart */
    edge_whip_reply_t *reply = s->reply;
    sdp_candidate_t cands[SDP_MAX_CANDIDATES];
    int ncands = s_local_candidates(s, cands, SDP_MAX_CANDIDATES);
    sdp_fingerprint_t fp;
    sdp_fingerprint_parse(rtc_cert_fingerprint(s->base.edge->cert), &fp);
    sdp_answer_params_t p = { 0 };
    p.ice_ufrag = rtc_peer_local_ufrag(s->peer);
    p.ice_pwd = rtc_peer_local_pwd(s->peer);
    p.trickle = true;
    p.candidates = cands;
    p.candidate_count = ncands;
    p.fingerprint = &fp;
    p.cname = s->cname;
    p.audio_ssrc = s->ssrc;
    p.accept_video = s->video;
    char err[SDP_ERR_MAX];
    char *answer = sdp_answer_build(s->offer, &p, err, sizeof err);
    sdp_destroy(&s->offer);
    s->reply = NULL;
    if (!answer) {
        log_session_warn(s->base.id, "cannot answer: %s", err);
        edge_http_whip_answer(reply, 400, err, NULL);
        s->deleted = true;
        s_end(s, err);
        return;
    }
    edge_http_whip_answer(reply, 201, answer, &s->base);
    free(answer);
}

static void s_fail_offer(edge_whip_reply_t *reply, const char *id, int status, const char *reason)
{
    log_session_warn(id, "offer refused (%d): %s", status, reason);
    edge_http_whip_answer(reply, status, reason, NULL);
}

void rtc_session_offer(edge_t *edge, const char *id, const char *text, size_t len, edge_whip_reply_t *reply)
{
    char err[SDP_ERR_MAX];
    sdp_t *offer = sdp_offer_parse(text, len, err, sizeof err);
    if (!offer) {
        s_fail_offer(reply, id, 400, err);
        return;
    }
    const sdp_media_t *audio = &offer->media[offer->codecs.audio];
    const char *ufrag = audio->ice_ufrag ? audio->ice_ufrag : offer->ice_ufrag;
    const char *pwd = audio->ice_pwd ? audio->ice_pwd : offer->ice_pwd;
    const sdp_fingerprint_t *rfp = audio->fingerprint.len ? &audio->fingerprint : &offer->fingerprint;
    sdp_setup_t setup = audio->setup ? audio->setup : offer->setup;
    char fp_text[256];
    if (sdp_fingerprint_format(rfp, fp_text, sizeof fp_text) < 0) {
        sdp_destroy(&offer);
        s_fail_offer(reply, id, 400, "unusable a=fingerprint");
        return;
    }

    rtc_session_t *s = calloc(1, sizeof *s);
    if (!s) {
        sdp_destroy(&offer);
        s_fail_offer(reply, id, 503, "out of memory");
        return;
    }
    snprintf(s->base.id, sizeof s->base.id, "%s", id);
    s->base.kind = EDGE_WHIP;
    s->base.edge = edge;
    s->base.impl = s;
    s->base.destroy = s_destroy;
    s->offer = offer;
    s->reply = reply;
    s->opus_pt = offer->codecs.opus_pt;
    s->video = edge->accept_video && offer->codecs.video >= 0;
    s->vp8_pt = s->video ? offer->codecs.vp8_pt : -1;
    snprintf(s->mid, sizeof s->mid, "%s", audio->mid ? audio->mid : "0");
    snprintf(s->remote_ufrag, sizeof s->remote_ufrag, "%s", ufrag ? ufrag : "");
    snprintf(s->remote_pwd, sizeof s->remote_pwd, "%s", pwd ? pwd : "");
    s->ssrc = s_random32();
    s->seq = (uint16_t)s_random32();
    s->ts = s_random32();
    snprintf(s->cname, sizeof s->cname, "vm%08x", s_random32());
    s->vp8 = s->video ? vp8_assembler_new(VP8_MAX_FRAME_DEFAULT) : NULL;

    rtc_peer_config_t cfg = { 0 };
    cfg.label = id;
    cfg.controlling = false;                       /* the offerer controls */
    cfg.dtls_role = setup == SDP_SETUP_PASSIVE ? RTC_DTLS_ROLE_CLIENT : RTC_DTLS_ROLE_SERVER;
    cfg.bind_addrs = (const char *const *)edge->ice_addrs;
    cfg.port_min = edge->port_min;
    cfg.port_max = edge->port_max;
    cfg.cert = edge->cert;
    cfg.remote_fingerprint = fp_text;
    cfg.consent_freshness = true;
    cfg.on_state = s_on_state;
    cfg.on_gathered = s_on_gathered;
    cfg.on_rtp = s_on_rtp;
    cfg.on_rtcp = s_on_rtcp;
    cfg.user = s;
    s->peer = rtc_peer_new(edge->ctx, &cfg);
    if (!s->peer || (s->video && !s->vp8)) {
        s->reply = NULL;
        s_destroy(&s->base);
        s_fail_offer(reply, id, 503, "cannot create the peer connection");
        return;
    }
    if (edge_session_register(&s->base, "whip", "opus", OPUS_CLOCK, s->video, s_pace) < 0) {
        s->reply = NULL;
        s_destroy(&s->base);
        s_fail_offer(reply, id, 503, "cannot register the session");
        return;
    }
    rtc_peer_set_remote_credentials(s->peer, s->remote_ufrag, s->remote_pwd);
    for (int i = 0; i < audio->candidate_count; i++) {
        char c[256];
        if (sdp_candidate_format(&audio->candidates[i], c, sizeof c) > 0)
            rtc_peer_add_remote_candidate(s->peer, c);
    }
    if (audio->end_of_candidates) rtc_peer_remote_end_of_candidates(s->peer);
    s->rtcp_timer = g_timeout_add(RTCP_INTERVAL_MS, s_on_rtcp_timer, s);
    if (rtc_peer_gather(s->peer) < 0) {
        s->reply = NULL;
        s->deleted = true;
        s_fail_offer(reply, id, 503, "no address to gather ICE candidates on");
        edge_session_end(&s->base, "gathering failed");
    }
}

void rtc_session_patch(edge_session_t *base, const char *text, size_t len, edge_whip_reply_t *reply)
{
    rtc_session_t *s = s_of(base);
    sdp_frag_t frag;
    char err[SDP_ERR_MAX];
    if (sdp_frag_parse(text, len, &frag, err, sizeof err) < 0) {
        log_session_warn(base->id, "PATCH refused: %s", err);
        edge_http_whip_answer(reply, 400, err, base);
        return;
    }
    if (sdp_frag_is_ice_restart(&frag, s->remote_ufrag, s->remote_pwd)) {
        if (rtc_peer_ice_restart(s->peer, frag.ice_ufrag, frag.ice_pwd) < 0) {
            edge_http_whip_answer(reply, 500, "ICE restart failed", base);
            return;
        }
        snprintf(s->remote_ufrag, sizeof s->remote_ufrag, "%s", frag.ice_ufrag);
        snprintf(s->remote_pwd, sizeof s->remote_pwd, "%s", frag.ice_pwd);
        for (int i = 0; i < frag.candidate_count; i++) {
            char c[256];
            if (sdp_candidate_format(&frag.candidates[i], c, sizeof c) > 0) rtc_peer_add_remote_candidate(s->peer, c);
        }
        sdp_candidate_t cands[SDP_MAX_CANDIDATES];
        int n = s_local_candidates(s, cands, SDP_MAX_CANDIDATES);
        sdp_frag_params_t p = { .ice_ufrag = rtc_peer_local_ufrag(s->peer), .ice_pwd = rtc_peer_local_pwd(s->peer),
                                .trickle = true, .candidates = cands, .candidate_count = n,
                                .end_of_candidates = true, .request = &frag, .mid = s->mid };
        char *body = sdp_frag_build(&p, err, sizeof err);
        if (!body) {
            edge_http_whip_answer(reply, 500, err, base);
            return;
        }
        log_session_info(base->id, "ICE restart");
        edge_http_whip_answer(reply, 200, body, base);
        free(body);
        return;
    }
    int added = 0;
    for (int i = 0; i < frag.candidate_count; i++) {
        char c[256];
        if (sdp_candidate_format(&frag.candidates[i], c, sizeof c) > 0
            && rtc_peer_add_remote_candidate(s->peer, c) == 0)
            added++;
    }
    if (frag.end_of_candidates) rtc_peer_remote_end_of_candidates(s->peer);
    log_debug("session %s: %d trickled candidate(s)", base->id, added);
    edge_http_whip_answer(reply, 204, NULL, base);
}

void rtc_session_delete(edge_session_t *base)
{
    rtc_session_t *s = s_of(base);
    s->deleted = true;
    s->reply = NULL;
    if (s->peer) rtc_peer_close(s->peer);
    s_end(s, "deleted by the caller");
}

