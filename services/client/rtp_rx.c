/* rtp_rx — see rtp_rx.h. */
#include "rtp_rx.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "opus_codec.h"

/* Longer gaps are not concealed (PLC has faded to silence long before). */
#define S_MAX_CONCEAL_PACKETS 25

struct rtp_rx {
    int pt;
    recorder_t *rec;
    int rate;
    opus_dec_t *dec;
    bool started;
    rtp_rx_stats_t stats;
    uint32_t ssrc;
    uint32_t anchor_ts;         /* RTP timestamp at timeline position anchor_pos */
    int64_t anchor_pos;
    uint16_t next_seq;          /* expected sequence number */
    uint32_t next_ts;           /* where the expected packet starts */
    rtp_rx_counts_t counts;
    int16_t pcm[OPUS_CODEC_MAX_FRAMES_48K];
};

rtp_rx_t *rtp_rx_new(int pt, recorder_t *rec)
{
    rtp_rx_t *rx = calloc(1, sizeof *rx);
    if (!rx)
        return NULL;
    rx->pt = pt;
    rx->rec = rec;
    rx->rate = recorder_rate(rec);
    rx->dec = opus_dec_new(rx->rate, 1);
    if (!rx->dec) {
        free(rx);
        return NULL;
    }
    return rx;
}

void rtp_rx_destroy(rtp_rx_t **p)
{
    if (!p || !*p)
        return;
    opus_dec_destroy(&(*p)->dec);
    free(*p);
    *p = NULL;
}

/* Timeline position of RTP timestamp ts (48 kHz clock). */
static int64_t s_pos(const rtp_rx_t *rx, uint32_t ts)
{
    int32_t d = (int32_t)(ts - rx->anchor_ts);
    return rx->anchor_pos + (int64_t)d * rx->rate / 48000;
}

static void s_start(rtp_rx_t *rx, const rtp_packet_t *pkt, int64_t arrival_us)
{
    rx->started = true;
    rx->ssrc = pkt->ssrc;
    rtp_rx_stats_init(&rx->stats, pkt->ssrc, 48000);
    rx->anchor_ts = pkt->ts;
    rx->anchor_pos = recorder_pos(rx->rec, arrival_us);
    rx->next_seq = pkt->seq;
    rx->next_ts = pkt->ts;
    opus_dec_reset(rx->dec);
}

/* Conceals `missing` packets before pkt, starting at next_ts. */
static void s_conceal(rtp_rx_t *rx, const rtp_packet_t *pkt, int missing, int64_t arrival_us)
{
    int64_t pos = s_pos(rx, rx->next_ts);
    int64_t end = s_pos(rx, pkt->ts);
    for (int i = 0; i < missing && pos < end; i++) {
        int frames = opus_dec_last_duration(rx->dec);
        if (frames <= 0 || frames > OPUS_CODEC_MAX_FRAMES_48K)
            frames = rx->rate / 50;
        bool last = i == missing - 1;
        bool used_fec = false;
        int n = opus_dec_conceal(rx->dec, last ? pkt->payload : NULL, last ? pkt->payload_len : 0,
                                 rx->pcm, frames, &used_fec);
        if (n <= 0)
            break;
        recorder_put(rx->rec, pos, rx->pcm, (size_t)n, arrival_us, true);
        pos += n;
        rx->counts.concealed++;
        if (used_fec)
            rx->counts.fec++;
    }
}

void rtp_rx_packet(rtp_rx_t *rx, const rtp_packet_t *pkt, int64_t arrival_us)
{
    if (pkt->pt != rx->pt) {
        rx->counts.other_pt++;
        return;
    }
    rx->counts.packets++;
    if (!rx->started || pkt->ssrc != rx->ssrc)
        s_start(rx, pkt, arrival_us);
    int r = rtp_rx_stats_update(&rx->stats, pkt->seq, pkt->ts, arrival_us);
    if (r == RTP_SEQ_RESTART)
        s_start(rx, pkt, arrival_us);   /* the source started over: re-anchor */
    if (r == RTP_SEQ_DUPLICATE) {
        rx->counts.duplicates++;
        return;
    }
    int16_t gap = (int16_t)(pkt->seq - rx->next_seq);
    if (gap < 0) {
        rx->counts.late++;      /* its place was already concealed */
        return;
    }
    if (gap == 0 && pkt->ts != rx->next_ts && rx->counts.decoded) {
        /* the sender's clock jumped (DTX, a pause, a glitch): audio is still
         * placed by timestamp, the jump stays audible as silence or overlap */
        rx->counts.ts_jumps++;
        log_debug("rtp: seq %u: timestamp jumps by %d samples", pkt->seq,
                  (int)(int32_t)(pkt->ts - rx->next_ts));
    }
    if (gap > 0 && gap <= S_MAX_CONCEAL_PACKETS)
        s_conceal(rx, pkt, gap, arrival_us);
    int n = opus_dec_decode(rx->dec, pkt->payload, pkt->payload_len, rx->pcm,
                            OPUS_CODEC_MAX_FRAMES_48K);
    if (n < 0) {
        rx->counts.errors++;
        n = 0;
    } else {
        recorder_put(rx->rec, s_pos(rx, pkt->ts), rx->pcm, (size_t)n, arrival_us, false);
        rx->counts.decoded++;
    }
    rx->next_seq = (uint16_t)(pkt->seq + 1);
    rx->next_ts = pkt->ts + (uint32_t)((int64_t)n * 48000 / rx->rate);
}

rtp_rx_stats_t *rtp_rx_stats(rtp_rx_t *rx)
{
    return rx->started ? &rx->stats : NULL;
}

void rtp_rx_counts(const rtp_rx_t *rx, rtp_rx_counts_t *out)
{
    *out = rx->counts;
}
