/* rtcp_test — SR/RR/SDES/BYE/PLI/FIR/NACK build -> parse round trips, a
 * Chrome-like compound, REMB, validation, report blocks from receiver
 * statistics and RTT. */
#include "rtc/rtcp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_fails;
#define CHECK(c) do { \
        if (!(c)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); s_fails++; } \
    } while (0)

static rtcp_packet_t s_pkts[8];

static bool s_rb_eq(const rtcp_report_block_t *a, const rtcp_report_block_t *b)
{
    return a->ssrc == b->ssrc && a->fraction_lost == b->fraction_lost &&
           a->cumulative_lost == b->cumulative_lost && a->ext_highest_seq == b->ext_highest_seq &&
           a->jitter == b->jitter && a->lsr == b->lsr && a->dlsr == b->dlsr;
}

static void test_sr_rr_roundtrip(void)
{
    rtcp_report_block_t rb[2] = {
        { .ssrc = 0x1111, .fraction_lost = 25, .cumulative_lost = 1234, .ext_highest_seq = 0x10005,
          .jitter = 77, .lsr = 0xabcd1234, .dlsr = 65536 },
        { .ssrc = 0x2222, .fraction_lost = 0, .cumulative_lost = -5, .ext_highest_seq = 9,
          .jitter = 0, .lsr = 0, .dlsr = 0 },
    };
    rtcp_sr_t sr = { .ssrc = 0xcafe, .ntp = 0xe8f0a1b2c3d4e5f6ULL, .rtp_ts = 480000,
                     .packet_count = 1000, .octet_count = 160000 };
    uint8_t buf[512];
    int n = rtcp_write_report(buf, sizeof buf, &sr, 0, rb, 2, "voxmesh-edge");
    CHECK(n == 28 + 48 + 4 + 20);
    const char *why = NULL;
    int c = rtcp_parse(buf, (size_t)n, s_pkts, 8, &why);
    CHECK(c == 2);
    rtcp_packet_t *p = &s_pkts[0];
    CHECK(p->pt == RTCP_SR && p->fmt == 2 && p->rb_count == 2 && p->len == 76);
    CHECK(p->sender_ssrc == 0xcafe && p->sr.ntp == sr.ntp && p->sr.rtp_ts == 480000);
    CHECK(p->sr.packet_count == 1000 && p->sr.octet_count == 160000);
    CHECK(s_rb_eq(&p->rb[0], &rb[0]));
    CHECK(s_rb_eq(&p->rb[1], &rb[1]));
    CHECK(p->rb[1].cumulative_lost == -5);
    p = &s_pkts[1];
    CHECK(p->pt == RTCP_SDES && p->chunk_count == 1 && p->chunks[0].ssrc == 0xcafe);
    CHECK(p->chunks[0].cname_len == 12 && !memcmp(p->chunks[0].cname, "voxmesh-edge", 12));

    /* RR with one block; a CNAME that fills its word exactly still needs a
     * whole word of null octets after it */
    n = rtcp_write_report(buf, sizeof buf, NULL, 0xbeef, rb, 1, "ab");
    CHECK(n == 8 + 24 + 16);
    c = rtcp_parse(buf, (size_t)n, s_pkts, 8, &why);
    CHECK(c == 2 && s_pkts[0].pt == RTCP_RR && s_pkts[0].sender_ssrc == 0xbeef && s_pkts[0].rb_count == 1);
    CHECK(s_rb_eq(&s_pkts[0].rb[0], &rb[0]));
    CHECK(s_pkts[1].chunks[0].cname_len == 2 && s_pkts[1].chunks[0].ssrc == 0xbeef);

    /* an empty RR, and limits of the builders */
    CHECK(rtcp_write_rr(buf, sizeof buf, 1, NULL, 0) == 8);
    CHECK(rtcp_write_rr(buf, 31, 1, rb, 1) < 0);
    CHECK(rtcp_write_sr(buf, sizeof buf, &sr, rb, 32) < 0);
    CHECK(rtcp_write_sdes_cname(buf, sizeof buf, 1, "") < 0);
    CHECK(rtcp_write_report(buf, 40, NULL, 1, rb, 1, "too-long-for-that-buffer") < 0);

    /* cumulative loss saturates at 24 bits */
    rb[0].cumulative_lost = 0x7fffffff;
    n = rtcp_write_rr(buf, sizeof buf, 1, rb, 1);
    CHECK(rtcp_parse(buf, (size_t)n, s_pkts, 8, &why) == 1 && s_pkts[0].rb[0].cumulative_lost == 0x7fffff);
}

static void test_feedback(void)
{
    uint8_t buf[512];
    int n = rtcp_write_rr(buf, sizeof buf, 0xaaaa, NULL, 0);
    n += rtcp_write_sdes_cname(buf + n, sizeof buf - (size_t)n, 0xaaaa, "c");
    int pli_at = n;
    n += rtcp_write_pli(buf + n, sizeof buf - (size_t)n, 0xaaaa, 0x5555);
    n += rtcp_write_fir(buf + n, sizeof buf - (size_t)n, 0xaaaa, 0x5555, 7);
    const uint16_t seqs[] = { 100, 101, 105, 116, 117, 200, 105 };
    int k = rtcp_write_nack(buf + n, sizeof buf - (size_t)n, 0xaaaa, 0x5555, seqs, 7);
    CHECK(k == 12 + 3 * 4);
    n += k;
    const uint16_t wrap[] = { 65535, 0, 1 };
    k = rtcp_write_nack(buf + n, sizeof buf - (size_t)n, 0xaaaa, 0x6666, wrap, 3);
    CHECK(k == 16);
    n += k;
    const uint32_t bye[] = { 0xaaaa };
    n += rtcp_write_bye(buf + n, sizeof buf - (size_t)n, bye, 1);

    const char *why = NULL;
    int c = rtcp_parse(buf, (size_t)n, s_pkts, 8, &why);
    CHECK(c == 7);
    CHECK(buf[pli_at] == 0x81 && buf[pli_at + 1] == 206 && buf[pli_at + 3] == 2);
    rtcp_packet_t *p = &s_pkts[2];
    CHECK(p->pt == RTCP_PSFB && p->fmt == RTCP_PSFB_PLI && p->sender_ssrc == 0xaaaa && p->media_ssrc == 0x5555);
    CHECK(p->fci_len == 0);
    p = &s_pkts[3];
    CHECK(p->pt == RTCP_PSFB && p->fmt == RTCP_PSFB_FIR && p->media_ssrc == 0);
    CHECK(p->fir_count == 1 && p->fir[0].ssrc == 0x5555 && p->fir[0].seq_nr == 7);
    p = &s_pkts[4];
    CHECK(p->pt == RTCP_RTPFB && p->fmt == RTCP_RTPFB_NACK && p->media_ssrc == 0x5555 && p->nack_count == 3);
    uint16_t out[64];
    int m = rtcp_nack_seqs(p, out, 64);
    CHECK(m == 6 && out[0] == 100 && out[1] == 101 && out[2] == 105 && out[3] == 116 &&
          out[4] == 117 && out[5] == 200);
    CHECK(rtcp_nack_seqs(p, out, 2) == 2);
    m = rtcp_nack_seqs(&s_pkts[5], out, 64);
    CHECK(m == 3 && out[0] == 65535 && out[1] == 0 && out[2] == 1);
    CHECK(rtcp_nack_seqs(&s_pkts[2], out, 64) == 0);
    p = &s_pkts[6];
    CHECK(p->pt == RTCP_BYE && p->bye_count == 1 && p->bye_ssrc[0] == 0xaaaa && !p->bye_reason);

    /* max given smaller than the compound: counted, not stored */
    CHECK(rtcp_parse(buf, (size_t)n, s_pkts, 2, &why) == 7);
    CHECK(rtcp_write_nack(buf, 15, 1, 2, seqs, 1) < 0);
    CHECK(rtcp_write_nack(buf, 16, 1, 2, seqs, 7) < 0);
    CHECK(rtcp_write_pli(buf, 11, 1, 2) < 0);
}

/* What Chrome sends while receiving our audio: RR + SDES, a REMB, and a BYE
 * with a reason, written out by hand. */
static void test_chrome_like(void)
{
    const uint8_t pkt[] = {
        /* RR, 1 block */
        0x81, 0xc9, 0x00, 0x07, 0x4d, 0xe1, 0x7e, 0x11,
        0x11, 0x22, 0x33, 0x44, 0x02, 0x00, 0x00, 0x03, 0x00, 0x00, 0x12, 0x34,
        0x00, 0x00, 0x00, 0x20, 0x12, 0x34, 0x56, 0x78, 0x00, 0x01, 0x00, 0x00,
        /* SDES: CNAME of 16 characters, null item, pad */
        0x81, 0xca, 0x00, 0x06, 0x4d, 0xe1, 0x7e, 0x11, 0x01, 0x10,
        'q', '9', 'V', '3', 'k', '3', 'y', 'H', 'f', 'Y', 'v', '0', 'Z', 'x', '6', 'N',
        0x00, 0x00,
        /* PSFB AFB REMB: 1 SSRC, exp 2 mantissa 250000 -> 1 Mbit/s */
        0x8f, 0xce, 0x00, 0x05, 0x4d, 0xe1, 0x7e, 0x11, 0x00, 0x00, 0x00, 0x00,
        'R', 'E', 'M', 'B', 0x01, 0x0b, 0xd0, 0x90, 0x11, 0x22, 0x33, 0x44,
        /* BYE with reason "bye", padded */
        0x81, 0xcb, 0x00, 0x02, 0x4d, 0xe1, 0x7e, 0x11, 0x03, 'b', 'y', 'e',
    };
    const char *why = NULL;
    int c = rtcp_parse(pkt, sizeof pkt, s_pkts, 8, &why);
    if (c != 4)
        fprintf(stderr, "chrome-like compound: %d (%s)\n", c, why ? why : "");
    CHECK(c == 4);
    rtcp_report_block_t *rb = &s_pkts[0].rb[0];
    CHECK(s_pkts[0].sender_ssrc == 0x4de17e11 && rb->ssrc == 0x11223344 && rb->fraction_lost == 2);
    CHECK(rb->cumulative_lost == 3 && rb->ext_highest_seq == 0x1234 && rb->jitter == 32);
    CHECK(rb->lsr == 0x12345678 && rb->dlsr == 0x10000);
    CHECK(s_pkts[1].chunk_count == 1 && s_pkts[1].chunks[0].cname_len == 16);
    CHECK(s_pkts[2].pt == RTCP_PSFB && s_pkts[2].fmt == RTCP_PSFB_AFB && s_pkts[2].remb && s_pkts[2].fci_len == 12);
    CHECK(s_pkts[3].bye_count == 1 && s_pkts[3].bye_reason_len == 3 && !memcmp(s_pkts[3].bye_reason, "bye", 3));

    /* transport-cc and XR stay opaque */
    const uint8_t twcc[] = { 0x8f, 0xcd, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 0xde, 0xad, 0xbe, 0xef,
                             0x80, 0xcf, 0x00, 0x00 };
    c = rtcp_parse(twcc, sizeof twcc, s_pkts, 8, &why);
    CHECK(c == 2 && s_pkts[0].pt == RTCP_RTPFB && s_pkts[0].fmt == RTCP_RTPFB_TWCC && s_pkts[0].fci_len == 4);
    CHECK(s_pkts[1].pt == RTCP_XR && s_pkts[1].len == 4);
}

static void test_validation(void)
{
    const char *why;
    uint8_t b[64];
    memset(b, 0, sizeof b);
    CHECK(rtcp_parse(b, 3, s_pkts, 8, &why) < 0);
    CHECK(rtcp_parse(b, 6, s_pkts, 8, &why) < 0 && strstr(why, "multiple of 4"));
    b[0] = 0x40;
    b[1] = 201;
    CHECK(rtcp_parse(b, 8, s_pkts, 8, &why) < 0 && strstr(why, "version"));
    b[0] = 0x80;
    b[3] = 5; /* 24 bytes claimed, 8 given */
    CHECK(rtcp_parse(b, 8, s_pkts, 8, &why) < 0 && strstr(why, "overruns"));
    b[3] = 1;
    b[0] = 0x81; /* RR claims one block but has 8 bytes */
    CHECK(rtcp_parse(b, 8, s_pkts, 8, &why) < 0 && strstr(why, "RR too short"));
    b[0] = 0x81;
    b[1] = 200;
    b[3] = 6; /* SR of 28 bytes with RC 1 */
    CHECK(rtcp_parse(b, 28, s_pkts, 8, &why) < 0 && strstr(why, "SR too short"));
    /* an RR with 4 bytes of padding; bad padding counts */
    memset(b, 0, sizeof b);
    b[0] = 0xa0;
    b[1] = 201;
    b[3] = 2;
    b[11] = 4;
    CHECK(rtcp_parse(b, 12, s_pkts, 8, &why) == 1 && s_pkts[0].len == 8);
    b[11] = 9;
    CHECK(rtcp_parse(b, 12, s_pkts, 8, &why) < 0 && strstr(why, "padding"));
    b[11] = 0;
    CHECK(rtcp_parse(b, 12, s_pkts, 8, &why) < 0 && strstr(why, "padding"));
    /* padding only on the last packet */
    b[11] = 4;
    b[12] = 0x80;
    b[13] = 201;
    b[15] = 1;
    CHECK(rtcp_parse(b, 20, s_pkts, 8, &why) < 0 && strstr(why, "not the last"));
    /* NACK with a partial item, FIR with a partial entry, short feedback */
    memset(b, 0, sizeof b);
    b[0] = 0x81;
    b[1] = 205;
    b[3] = 2;
    CHECK(rtcp_parse(b, 12, s_pkts, 8, &why) < 0 && strstr(why, "NACK"));
    b[0] = 0x84;
    b[1] = 206;
    b[3] = 3;
    CHECK(rtcp_parse(b, 16, s_pkts, 8, &why) < 0 && strstr(why, "FIR"));
    b[3] = 1;
    CHECK(rtcp_parse(b, 8, s_pkts, 8, &why) < 0 && strstr(why, "shorter than 12"));
    /* SDES chunk without its null item */
    const uint8_t sdes[] = { 0x81, 0xca, 0x00, 0x02, 0, 0, 0, 1, 0x01, 0x02, 'a', 'b' };
    CHECK(rtcp_parse(sdes, sizeof sdes, s_pkts, 8, &why) < 0 && strstr(why, "SDES"));
    const uint8_t sdes2[] = { 0x81, 0xca, 0x00, 0x02, 0, 0, 0, 1, 0x01, 0x09, 'a', 'b' };
    CHECK(rtcp_parse(sdes2, sizeof sdes2, s_pkts, 8, &why) < 0 && strstr(why, "SDES"));
    const uint8_t bye[] = { 0x82, 0xcb, 0x00, 0x01, 0, 0, 0, 1 };
    CHECK(rtcp_parse(bye, sizeof bye, s_pkts, 8, &why) < 0 && strstr(why, "BYE"));
    const uint8_t bye2[] = { 0x81, 0xcb, 0x00, 0x02, 0, 0, 0, 1, 9, 'a', 'b', 'c' };
    CHECK(rtcp_parse(bye2, sizeof bye2, s_pkts, 8, &why) < 0 && strstr(why, "BYE"));
}

static void test_stats_rtt(void)
{
    CHECK(rtcp_ntp_from_unix_us(0) == 2208988800ULL << 32);
    CHECK(rtcp_ntp_from_unix_us(1500000) == ((2208988801ULL << 32) | 0x80000000ULL));
    CHECK(rtcp_ntp_mid32(0x0001234567890000ULL) == 0x23456789);

    /* a source we receive: 50 packets, 5 lost, then its SR */
    rtp_rx_stats_t s;
    rtp_rx_stats_init(&s, 0x9999, 48000);
    for (int i = 0; i < 50; i++)
        if (i % 10 != 5)
            rtp_rx_stats_update(&s, (uint16_t)(1000 + i), (uint32_t)(i * 960), 1000000 + i * 20000);
    int64_t now_wall = 1700000000LL * 1000000; /* the peer's clock, Unix us */
    rtcp_sr_t sr = { .ssrc = 0x9999, .ntp = rtcp_ntp_from_unix_us(now_wall) };
    uint8_t buf[128];
    int n = rtcp_write_sr(buf, sizeof buf, &sr, NULL, 0);
    CHECK(rtcp_parse(buf, (size_t)n, s_pkts, 8, NULL) == 1);
    rtcp_note_sr(&s, &s_pkts[0], 2000000);  /* arrival on our monotonic clock */

    rtcp_report_block_t rb;
    rtcp_report_block_fill(&rb, &s, 2500000); /* we report 0.5 s later */
    CHECK(rb.ssrc == 0x9999 && rb.cumulative_lost == 5 && rb.ext_highest_seq == 1049);
    CHECK(rb.fraction_lost == 5 * 256 / 49);
    CHECK(rb.lsr == rtcp_ntp_mid32(sr.ntp) && rb.dlsr == 32768);
    CHECK(rb.jitter == 0);

    /* the peer gets our block 0.5 s + 100 ms of network after its SR */
    int64_t rtt = rtcp_rtt_us(&rb, rtcp_ntp_from_unix_us(now_wall + 600000));
    CHECK(rtt >= 99900 && rtt <= 100100);
    rb.lsr = 0;
    CHECK(rtcp_rtt_us(&rb, 0) == -1);
}

int main(void)
{
    test_sr_rr_roundtrip();
    test_feedback();
    test_chrome_like();
    test_validation();
    test_stats_rtt();
    if (s_fails)
        fprintf(stderr, "rtcp_test: %d failures\n", s_fails);
    else
        printf("rtcp_test: ok\n");
    return s_fails ? 1 : 0;
}
