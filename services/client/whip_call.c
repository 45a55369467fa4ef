/* whip_call — see whip_call.h.
 *
 * Everything runs on one thread: libcurl's requests are blocking (before
 * media and after it), and between them the GMainContext is iterated until
 * the call is over. ICE checks that the edge sends while we wait for the
 * POST's answer queue up on the socket and are answered right after. */
#include "whip_call.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib-unix.h>

#include "log.h"
#include "pacer.h"
#include "rtc/cert.h"
#include "rtc/peer.h"
#include "rtc/rtcp.h"
#include "rtc/rtp.h"
#include "rtc/sdp.h"
#include "rtp_rx.h"
#include "video_tx.h"
#include "whip_http.h"
#include "whip_sdp.h"

#define S_RTCP_INTERVAL_MS 1000
#define S_DELETE_MIN_MS 1000       /* the hang-up may run this far past the deadline */

typedef struct {
    const client_opts_t *o;
    int64_t deadline_us;
    GMainContext *ctx;
    rtc_cert_t *cert;
    rtc_peer_t *peer;
    source_t *src;
    recorder_t *rec;
    rtp_rx_t *rx;
    video_tx_t *video;
    GSource *pump, *rtcp, *alarm, *sigint, *sigterm;
    pacer_t pace;
    size_t next;                /* next source packet */
    uint8_t opus_pt;
    uint32_t ssrc, ts0;
    uint16_t seq;
    uint32_t packets_sent, octets_sent;
    int64_t t_post, t_connected, t0, t_input_end, t_stop;
    int64_t t_last_voiced;      /* send time of the last voiced packet */
    int64_t t_last_sent;
    bool gathered, connected, done;
    bool failed;                /* the peer FAILED or CLOSED */
    char failure[256];
    char cname[24];
    double rtt_ms;
    uint64_t send_errors, pli;
    log_ratelimit_t rl;
} s_call_t;

/* ---- peer callbacks ------------------------------------------------------------ */

static void s_on_state(rtc_peer_t *peer, rtc_peer_state_t st, void *user)
{
    s_call_t *c = user;
    if (st == RTC_PEER_CONNECTED && !c->connected) {
        c->connected = true;
        c->t_connected = time_mono_us();
    } else if (st == RTC_PEER_FAILED || st == RTC_PEER_CLOSED) {
        c->failed = true;
        snprintf(c->failure, sizeof c->failure, "%s",
                 st == RTC_PEER_CLOSED ? "the edge closed the connection (DTLS close_notify)"
                                       : *rtc_peer_failure(peer) ? rtc_peer_failure(peer)
                                                                 : "ICE/DTLS failed");
    }
}

static void s_on_gathered(rtc_peer_t *peer, void *user)
{
    (void)peer;
    ((s_call_t *)user)->gathered = true;
}

static void s_on_rtp(rtc_peer_t *peer, uint8_t *data, size_t len, void *user)
{
    (void)peer;
    s_call_t *c = user;
    rtp_packet_t pkt;
    if (rtp_parse(data, len, &pkt, NULL) < 0 || !c->rx)
        return;
    rtp_rx_packet(c->rx, &pkt, time_mono_us());
}

static void s_on_rtcp(rtc_peer_t *peer, uint8_t *data, size_t len, void *user)
{
    (void)peer;
    s_call_t *c = user;
    rtcp_packet_t pkts[8];
    int n = rtcp_parse(data, len, pkts, 8, NULL);
    int64_t now = time_mono_us();
    rtp_rx_stats_t *st = c->rx ? rtp_rx_stats(c->rx) : NULL;
    for (int i = 0; i < n && i < 8; i++) {
        const rtcp_packet_t *p = &pkts[i];
        if (p->pt == RTCP_SR && st && p->sender_ssrc == st->ssrc)
            rtcp_note_sr(st, p, now);
        if (p->pt == RTCP_SR || p->pt == RTCP_RR) {
            for (int k = 0; k < p->rb_count; k++) {
                if (p->rb[k].ssrc != c->ssrc)
                    continue;
                int64_t rtt = rtcp_rtt_us(&p->rb[k], rtcp_ntp_from_unix_us(time_now_us()));
                if (rtt >= 0)
                    c->rtt_ms = (double)rtt / 1000.0;
            }
        }
        if (p->pt == RTCP_PSFB && (p->fmt == RTCP_PSFB_PLI || p->fmt == RTCP_PSFB_FIR))
            c->pli++;   /* an IVF file cannot make a keyframe on demand */
    }
}

/* ---- the loop ------------------------------------------------------------------- */

/* SIGINT/SIGTERM: stop, but still hang up (DELETE) on the way out. */
static gboolean s_on_signal(gpointer data)
{
    s_call_t *c = data;
    if (!c->failed) {
        c->failed = true;
        snprintf(c->failure, sizeof c->failure, "interrupted by a signal");
    }
    return G_SOURCE_CONTINUE;
}

static gboolean s_wake(gpointer data)
{
    (void)data;
    return G_SOURCE_CONTINUE;   /* only ends a blocking iteration */
}

/* Iterates the context until *flag, a failure, or the deadline. */
static bool s_run_until(s_call_t *c, const bool *flag)
{
    pacer_source_wake(c->alarm, c->deadline_us);
    while (!*flag && !c->failed && time_mono_us() < c->deadline_us)
        g_main_context_iteration(c->ctx, TRUE);
    return *flag;
}

static int s_send_video(void *arg, const uint8_t *pkt, size_t len)
{
    s_call_t *c = arg;
    return rtc_peer_send_rtp(c->peer, pkt, len);
}

static void s_send_audio(s_call_t *c, const source_frame_t *f, int64_t now)
{
    uint8_t pkt[RTP_MAX_PACKET];
    rtp_packet_t hdr = {
        .version = 2, .pt = c->opus_pt, .marker = c->packets_sent == 0,
        .seq = c->seq, .ts = c->ts0 + (uint32_t)c->pace.samples, .ssrc = c->ssrc,
    };
    int hl = rtp_header_write(&hdr, pkt, sizeof pkt);
    if (hl < 0 || (size_t)hl + f->len > sizeof pkt) {
        c->send_errors++;
        return;
    }
    memcpy(pkt + hl, f->data, f->len);
    int r = rtc_peer_send_rtp(c->peer, pkt, (size_t)hl + f->len);
    c->seq++;
    if (r < 0) {
        c->send_errors++;
        if (log_ratelimit_ok(&c->rl, NULL))
            log_warn("sending RTP: %s", strerror(-r));
        return;
    }
    c->packets_sent++;
    c->octets_sent += (uint32_t)f->len;
    c->t_last_sent = now;
    if (f->voiced)
        c->t_last_voiced = now;
}

/* The pacer: sends whatever is due (audio and video), then sleeps until
 * the next deadline. */
static gboolean s_pump(gpointer data)
{
    s_call_t *c = data;
    int64_t now = time_mono_us();
    size_t count = source_count(c->src);
    while (c->next < count && pacer_due(&c->pace, now)) {
        const source_frame_t *f = source_frame(c->src, c->next++);
        s_send_audio(c, f, now);
        pacer_advance(&c->pace, f->samples48);
    }
    while (c->video && video_tx_next_us(c->video) >= 0
           && c->t0 + video_tx_next_us(c->video) <= now && (!c->t_stop || now < c->t_stop)) {
        if (video_tx_send(c->video, s_send_video, c) < 0)
            c->send_errors++;
    }
    if (c->next == count && !c->t_input_end) {
        c->t_input_end = pacer_next_us(&c->pace);
        c->t_stop = c->t_input_end + (int64_t)c->o->tail_ms * 1000;
    }
    if (c->t_stop && now >= c->t_stop) {
        c->done = true;
        return G_SOURCE_CONTINUE;
    }
    int64_t wake = c->next < count ? pacer_next_us(&c->pace) : c->t_stop;
    if (c->video && video_tx_next_us(c->video) >= 0 && c->t0 + video_tx_next_us(c->video) < wake)
        wake = c->t0 + video_tx_next_us(c->video);
    pacer_source_wake(c->pump, wake);
    return G_SOURCE_CONTINUE;
}

/* SR for what we sent (audio, video) with a report block on what we
 * receive, SDES CNAME; RR when nothing was sent yet; BYE appended at the end. */
static void s_send_rtcp(s_call_t *c, bool bye)
{
    uint8_t buf[512];
    int64_t now = time_mono_us();
    rtcp_report_block_t rb;
    int nrb = 0;
    rtp_rx_stats_t *st = c->rx ? rtp_rx_stats(c->rx) : NULL;
    if (st && st->received) {
        rtcp_report_block_fill(&rb, st, now);
        nrb = 1;
    }
    uint64_t ntp = rtcp_ntp_from_unix_us(time_now_us());
    rtcp_sr_t sr = {
        .ssrc = c->ssrc, .ntp = ntp,
        .rtp_ts = c->ts0 + (uint32_t)((now - c->t0) * 48 / 1000),
        .packet_count = c->packets_sent, .octet_count = c->octets_sent,
    };
    int n = rtcp_write_report(buf, sizeof buf, c->packets_sent ? &sr : NULL, c->ssrc,
                              nrb ? &rb : NULL, nrb, c->cname);
    if (n > 0 && c->video) {
        uint32_t vp, vo, vf;
        video_tx_counts(c->video, &vp, &vo, &vf);
        rtcp_sr_t vsr = { .ssrc = video_tx_ssrc(c->video), .ntp = ntp,
                          .rtp_ts = video_tx_ts_at(c->video, now - c->t0),
                          .packet_count = vp, .octet_count = vo };
        if (vp) {
            int k = rtcp_write_sr(buf + n, sizeof buf - (size_t)n, &vsr, NULL, 0);
            if (k > 0)
                n += k;
        }
    }
    if (n > 0 && bye) {
        uint32_t ssrcs[2] = { c->ssrc, c->video ? video_tx_ssrc(c->video) : 0 };
        int k = rtcp_write_bye(buf + n, sizeof buf - (size_t)n, ssrcs, c->video ? 2 : 1);
        if (k > 0)
            n += k;
    }
    if (n > 0)
        rtc_peer_send_rtcp(c->peer, buf, (size_t)n);
}

static gboolean s_rtcp_timer(gpointer data)
{
    s_send_rtcp(data, false);
    return G_SOURCE_CONTINUE;
}

/* ---- phases --------------------------------------------------------------------- */

static long s_remaining_ms(const s_call_t *c)
{
    int64_t left = (c->deadline_us - time_mono_us()) / 1000;
    return left > 0 ? (long)left : 0;
}

static int s_fail(s_call_t *c, const char *what)
{
    if (c->failed)
        log_error("%s: %s", what, c->failure);
    else
        log_error("%s: timed out after --timeout-ms %d", what, c->o->timeout_ms);
    return -1;
}

/* POST the offer; on 201 apply the answer. Sets *location. */
static int s_signal(s_call_t *c, const char *url, char **location)
{
    char err[512] = "";
    c->ssrc = g_random_int();
    uint32_t vssrc = g_random_int();
    char *offer = whip_offer_build(c->peer, c->cert, c->cname, c->ssrc, c->o->video_path != NULL,
                                   vssrc, err, sizeof err);
    if (!offer) {
        log_error("cannot build the offer: %s", err);
        return -1;
    }
    whip_response_t r;
    c->t_post = time_mono_us();
    int rc = whip_http_post(url, c->o->token, offer, s_remaining_ms(c), &r, err, sizeof err);
    free(offer);
    if (rc < 0) {
        log_error("cannot reach the edge: %s", err);
        return -1;
    }
    if (r.status != 201) {
        char reason[256];
        whip_body_reason(&r, reason, sizeof reason);
        log_error("edge refused the offer: %ld %s", r.status, *reason ? reason : "(no reason given)");
        whip_response_clear(&r);
        return -1;
    }
    if (!r.location) {
        log_error("the edge answered 201 without a Location header");
        whip_response_clear(&r);
        return -1;
    }
    *location = whip_url_resolve(url, r.location);
    whip_answer_info_t info;
    rc = whip_answer_apply(c->peer, r.body, r.body_len, &info, err, sizeof err);
    whip_response_clear(&r);
    if (!*location) {
        log_error("the edge's Location does not resolve to a URL");
        return -1;
    }
    if (rc < 0) {
        log_error("%s", err);
        return -1;
    }
    c->opus_pt = (uint8_t)info.opus_pt;
    c->rx = rtp_rx_new(info.opus_pt, c->rec);
    if (!c->rx) {
        log_error("out of memory");
        return -1;
    }
    if (c->o->video_path && info.vp8_pt < 0) {
        log_warn("the edge did not accept video: sending audio only");
        video_tx_destroy(&c->video);
    } else if (c->video) {
        video_tx_destroy(&c->video);
        c->video = video_tx_new(c->o->video_path, (uint8_t)info.vp8_pt, vssrc, err, sizeof err);
        if (!c->video) {
            log_error("%s", err);
            return -1;
        }
    }
    log_info("answer applied: Opus pt %d, %d remote candidate(s), DTLS %s", info.opus_pt,
             info.candidates, info.dtls_role == RTC_DTLS_ROLE_CLIENT ? "client" : "server");
    return 0;
}

static int s_delete(s_call_t *c, const char *location, summary_t *sum)
{
    char err[512];
    whip_response_t r;
    long t = s_remaining_ms(c);
    if (t < S_DELETE_MIN_MS)
        t = S_DELETE_MIN_MS;        /* hang up properly even at the deadline */
    if (whip_http_delete(location, c->o->token, t, &r, err, sizeof err) < 0) {
        log_error("DELETE failed: %s", err);
        return -1;
    }
    sum->delete_status = (int)r.status;
    int rc = 0;
    if (r.status != 200) {
        char reason[256];
        whip_body_reason(&r, reason, sizeof reason);
        log_error("DELETE %s: %ld %s", location, r.status, reason);
        rc = -1;
    }
    whip_response_clear(&r);
    return rc;
}

static void s_summarize(s_call_t *c, summary_t *sum)
{
    if (c->t_connected)
        sum->connect_ms = (double)(c->t_connected - c->t_post) / 1000.0;
    sum->packets_sent = c->packets_sent;
    sum->sent_ms = (double)c->pace.samples / 48.0;
    int64_t first = recorder_first_voiced_us(c->rec), last = recorder_last_voiced_us(c->rec);
    if (first >= 0 && c->t0)
        sum->first_audio_ms = (double)(first - c->t0) / 1000.0;
    int64_t ref = c->t_last_voiced ? c->t_last_voiced : c->t_last_sent;
    if (last >= 0 && ref)
        sum->reply_latency_ms = (double)(last - ref) / 1000.0;
    sum->received_ms = (double)recorder_received_frames(c->rec) * 1000.0 / recorder_rate(c->rec);
    if (c->rx) {
        rtp_rx_counts_t k;
        rtp_rx_counts(c->rx, &k);
        sum->packets_received = k.packets;
        sum->packets_concealed = k.concealed;
        rtp_rx_stats_t *st = rtp_rx_stats(c->rx);
        if (st) {
            int32_t lost = rtp_rx_stats_lost(st);
            sum->packets_lost = lost > 0 ? lost : 0;
            sum->jitter_ms = rtp_rx_stats_jitter(st) / 48.0;
        }
    }
    if (c->rtt_ms >= 0)
        sum->rtt_ms = c->rtt_ms;
    if (c->video) {
        uint32_t vp, vo, vf;
        video_tx_counts(c->video, &vp, &vo, &vf);
        sum->video_frames_sent = vf;
        sum->video_packets_sent = vp;
    }
}

static int s_call(s_call_t *c, const char *url, char **location)
{
    const char *bind[2] = { c->o->bind, NULL };
    rtc_peer_config_t cfg = {
        .label = "client", .controlling = true, .dtls_role = RTC_DTLS_ROLE_CLIENT,
        .bind_addrs = bind, .cert = c->cert,
        .connect_timeout_ms = (unsigned)s_remaining_ms(c) + 1,
        .on_state = s_on_state, .on_gathered = s_on_gathered,
        .on_rtp = s_on_rtp, .on_rtcp = s_on_rtcp, .user = c,
    };
    c->peer = rtc_peer_new(c->ctx, &cfg);
    if (!c->peer)
        return -1;
    if (rtc_peer_gather(c->peer) < 0)
        return -1;
    if (!s_run_until(c, &c->gathered))
        return s_fail(c, "gathering ICE candidates");
    if (s_signal(c, url, location) < 0)
        return -1;
    if (!s_run_until(c, &c->connected))
        return s_fail(c, "connecting (ICE + DTLS)");
    rtc_peer_stats_t ps;
    rtc_peer_stats(c->peer, &ps);
    log_info("connected in %.1f ms: %s -> %s, %s", (double)(c->t_connected - c->t_post) / 1000.0,
             ps.local_addr, ps.remote_addr, ps.srtp_profile);

    /* media: the first packet goes out now, t0 */
    c->t0 = time_mono_us();
    recorder_set_t0(c->rec, c->t0);
    pacer_init(&c->pace, c->t0, 48000);
    c->ts0 = g_random_int();
    c->seq = (uint16_t)g_random_int();
    c->rtcp = g_timeout_source_new(S_RTCP_INTERVAL_MS);
    g_source_set_callback(c->rtcp, s_rtcp_timer, c, NULL);
    g_source_attach(c->rtcp, c->ctx);
    c->pump = pacer_source_new(s_pump, c);
    g_source_attach(c->pump, c->ctx);
    s_pump(c);
    bool ok = s_run_until(c, &c->done);
    if (c->rx) {
        rtp_rx_counts_t k;
        rtp_rx_counts(c->rx, &k);
        log_info("received %llu RTP packets: %llu decoded, %llu concealed (%llu by FEC), %llu late, "
                 "%llu duplicate, %llu undecodable, %llu timestamp jumps; %llu send errors, %llu PLI",
                 (unsigned long long)k.packets, (unsigned long long)k.decoded,
                 (unsigned long long)k.concealed, (unsigned long long)k.fec, (unsigned long long)k.late,
                 (unsigned long long)k.duplicates, (unsigned long long)k.errors,
                 (unsigned long long)k.ts_jumps, (unsigned long long)c->send_errors,
                 (unsigned long long)c->pli);
    }
    if (!ok)
        return s_fail(c, c->t_input_end ? "recording the reply" : "sending");
    s_send_rtcp(c, true);
    return 0;
}

static void s_source_free(GSource **s)
{
    if (*s) {
        g_source_destroy(*s);
        g_source_unref(*s);
        *s = NULL;
    }
}

int whip_call_run(const client_opts_t *o, source_t *src, recorder_t *rec,
                  int64_t deadline_us, summary_t *sum)
{
    char *url = whip_url_endpoint(o->url, "/whip", 0);
    if (!url) {
        log_error("bad --url \"%s\"", o->url);
        return -1;
    }
    s_call_t c = { .o = o, .deadline_us = deadline_us, .src = src, .rec = rec, .rtt_ms = -1,
                   .rl = LOG_RATELIMIT_INIT(5000, 3) };
    snprintf(c.cname, sizeof c.cname, "vmc-%08x", g_random_int());
    c.ctx = g_main_context_new();
    g_main_context_push_thread_default(c.ctx);
    c.alarm = pacer_source_new(s_wake, NULL);
    g_source_attach(c.alarm, c.ctx);
    c.sigint = g_unix_signal_source_new(SIGINT);
    c.sigterm = g_unix_signal_source_new(SIGTERM);
    g_source_set_callback(c.sigint, s_on_signal, &c, NULL);
    g_source_set_callback(c.sigterm, s_on_signal, &c, NULL);
    g_source_attach(c.sigint, c.ctx);
    g_source_attach(c.sigterm, c.ctx);
    c.cert = rtc_cert_new();
    char *location = NULL;
    int rc = -1;
    char err[512];
    if (o->video_path) {
        /* opened now to report a bad file before calling; reopened with the answer's pt */
        c.video = video_tx_new(o->video_path, SDP_OFFER_VP8_PT, 0, err, sizeof err);
        if (!c.video)
            log_error("%s", err);
    }
    if (c.cert && (c.video || !o->video_path)) {
        rc = s_call(&c, url, &location);
        s_summarize(&c, sum);
    }
    if (location) {
        snprintf(sum->session, sizeof sum->session, "%s", location);
        if (s_delete(&c, location, sum) < 0)
            rc = -1;
        else
            log_info("session %s deleted", location);
        free(location);
    }
    if (c.peer)
        rtc_peer_close(c.peer);
    s_source_free(&c.pump);
    s_source_free(&c.rtcp);
    s_source_free(&c.alarm);
    s_source_free(&c.sigint);
    s_source_free(&c.sigterm);
    rtc_peer_destroy(&c.peer);
    while (g_main_context_iteration(c.ctx, FALSE))
        ;   /* deferred unrefs of the peer */
    video_tx_destroy(&c.video);
    rtp_rx_destroy(&c.rx);
    rtc_cert_destroy(&c.cert);
    g_main_context_pop_thread_default(c.ctx);
    g_main_context_unref(c.ctx);
    free(url);
    return rc;
}
