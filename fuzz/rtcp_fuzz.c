/* rtcp_fuzz — libFuzzer target for common/rtc/rtcp.c: compound RTCP packets
 * off the wire (after SRTCP).
 *
 * Checks: parsed packets lie inside the input and in order; SR/RR rebuild
 * and parse back to the same values; a NACK rebuilt from its sequence
 * numbers covers exactly the same set; statistics helpers take any SR. */
#include "rtc/rtcp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int s_cmp16(const void *a, const void *b)
{
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static int s_uniq(uint16_t *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, s_cmp16);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!m || v[m - 1] != v[i])
            v[m++] = v[i];
    return m;
}

static void s_check_rb(const rtcp_report_block_t *a, const rtcp_report_block_t *b)
{
    if (a->ssrc != b->ssrc || a->fraction_lost != b->fraction_lost ||
        a->cumulative_lost != b->cumulative_lost || a->ext_highest_seq != b->ext_highest_seq ||
        a->jitter != b->jitter || a->lsr != b->lsr || a->dlsr != b->dlsr)
        abort();
}

static rtcp_packet_t s_pkts[4], s_back[2];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = NULL;
    int n = rtcp_parse(data, size, s_pkts, 4, &why);
    if (n < 0) {
        if (!why)
            abort();
        return 0;
    }
    const uint8_t *prev = data;
    for (int i = 0; i < n && i < 4; i++) {
        const rtcp_packet_t *p = &s_pkts[i];
        if (p->data < prev || p->data + p->len > data + size || p->len < 4)
            abort();
        prev = p->data + p->len;
        if (p->fci && (p->fci < p->data || p->fci + p->fci_len > p->data + p->len))
            abort();
        for (int k = 0; k < p->chunk_count; k++)
            if (p->chunks[k].cname &&
                ((const uint8_t *)p->chunks[k].cname + p->chunks[k].cname_len > p->data + p->len))
                abort();

        uint8_t buf[1024];
        if (p->pt == RTCP_SR || p->pt == RTCP_RR) {
            int len = p->pt == RTCP_SR ? rtcp_write_sr(buf, sizeof buf, &p->sr, p->rb, p->rb_count)
                                       : rtcp_write_rr(buf, sizeof buf, p->sender_ssrc, p->rb,
                                                       p->rb_count);
            if (len < 0 || rtcp_parse(buf, (size_t)len, s_back, 2, &why) != 1 ||
                s_back[0].rb_count != p->rb_count || s_back[0].sender_ssrc != p->sender_ssrc ||
                s_back[0].sr.ntp != p->sr.ntp)
                abort();
            for (int k = 0; k < p->rb_count; k++)
                s_check_rb(&s_back[0].rb[k], &p->rb[k]);
            rtp_rx_stats_t st;
            rtp_rx_stats_init(&st, p->sender_ssrc, 48000);
            rtcp_note_sr(&st, p, 1000);
            rtcp_report_block_t rb;
            rtcp_report_block_fill(&rb, &st, 500);
            if (p->rb_count)
                (void)rtcp_rtt_us(&p->rb[0], p->sr.ntp);
        }
        if (p->pt == RTCP_RTPFB && p->fmt == RTCP_RTPFB_NACK) {
            static uint16_t a[17 * 256], b[17 * 256];
            int na = rtcp_nack_seqs(p, a, 17 * 256);
            if (na <= 0 || na > 17 * p->nack_count)
                abort();
            na = s_uniq(a, na);
            int len = rtcp_write_nack(buf, sizeof buf, p->sender_ssrc, p->media_ssrc, a, na);
            if (len > 0) {
                if (rtcp_parse(buf, (size_t)len, s_back, 2, &why) != 1)
                    abort();
                int nb = s_uniq(b, rtcp_nack_seqs(&s_back[0], b, 17 * 256));
                if (nb != na || memcmp(a, b, (size_t)na * sizeof *a))
                    abort();
            }
        }
    }
    return 0;
}
