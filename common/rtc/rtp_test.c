/* rtp_test — header + extensions, demux, RTX, receiver statistics (loss,
 * reorder, duplicates, wrap, jitter), VP8 descriptor, keyframe header and the
 * frame assembler. */
#include "rtc/rtp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_fails;
#define CHECK(c) do { \
        if (!(c)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); s_fails++; } \
    } while (0)

static void test_header_and_extensions(void)
{
    /* Build: 2 CSRCs, one-byte extensions (audio level, mid), payload, padding */
    uint8_t level = 0x80 | 42, mid = '0';
    rtp_ext_t ext[2] = { { .id = 1, .len = 1, .data = &level }, { .id = 4, .len = 1, .data = &mid } };
    uint8_t extbuf[32];
    uint16_t profile = 0;
    int elen = rtp_ext_write(ext, 2, extbuf, sizeof extbuf, &profile);
    CHECK(elen == 4 && profile == RTP_EXT_ONE_BYTE);
    CHECK(extbuf[0] == 0x10 && extbuf[1] == level && extbuf[2] == 0x40 && extbuf[3] == '0');

    rtp_packet_t h = { .marker = true, .pt = 111, .seq = 65535, .ts = 0xdeadbeef, .ssrc = 0x01020304,
                       .csrc_count = 2, .csrc = { 7, 8 }, .ext_profile = profile, .ext = extbuf,
                       .ext_len = (size_t)elen };
    uint8_t pkt[128];
    int hl = rtp_header_write(&h, pkt, sizeof pkt);
    CHECK(hl == 12 + 8 + 4 + 4);
    memcpy(pkt + hl, "opus", 4);
    /* 4 bytes of padding, the last one counting them */
    memset(pkt + hl + 4, 0, 4);
    pkt[hl + 7] = 4;
    pkt[0] |= 0x20;
    size_t len = (size_t)hl + 8;

    rtp_packet_t p;
    const char *why = NULL;
    CHECK(rtp_parse(pkt, len, &p, &why) == 0);
    CHECK(p.version == 2 && p.padding && p.extension && p.marker);
    CHECK(p.pt == 111 && p.seq == 65535 && p.ts == 0xdeadbeef && p.ssrc == 0x01020304);
    CHECK(p.csrc_count == 2 && p.csrc[0] == 7 && p.csrc[1] == 8);
    CHECK(p.ext_profile == RTP_EXT_ONE_BYTE && p.ext_len == 4);
    CHECK(p.header_len == (size_t)hl && p.payload_len == 4 && !memcmp(p.payload, "opus", 4));
    CHECK(p.padding_len == 4);
    rtp_ext_t e[8];
    CHECK(rtp_ext_parse(&p, e, 8, &why) == 2);
    CHECK(e[0].id == 1 && e[0].len == 1 && e[0].data[0] == level);
    CHECK(e[1].id == 4 && e[1].len == 1 && e[1].data[0] == '0');
    rtp_ext_t f;
    CHECK(rtp_ext_find(&p, 4, &f) && f.data[0] == '0');
    CHECK(!rtp_ext_find(&p, 5, &f));

    /* One-byte: padding bytes between elements, id 15 stops processing */
    const uint8_t ob[] = { 0x90, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 0xbe, 0xde, 0, 3,
                           0x22, 0xaa, 0xbb, 0xcc, 0x00, 0x00, 0x30, 0x55 /* id 3 */,
                           0xf0, 0x10, 0x01, 0x00 /* after id 15: not an element */ };
    CHECK(rtp_parse(ob, sizeof ob, &p, &why) == 0);
    CHECK(rtp_ext_parse(&p, e, 8, &why) == 2 && e[0].id == 2 && e[0].len == 3 && e[1].id == 3 &&
          e[1].data[0] == 0x55);

    /* Two-byte header (RFC 8285 4.3): padding, a zero-length element, id > 14 */
    const uint8_t tb[] = { 0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 0x10, 0x00, 0, 2,
                           0x00, 0x05, 0x00, 0x20, 0x02, 0xca, 0xfe, 0x00, 'x' };
    CHECK(rtp_parse(tb, sizeof tb, &p, &why) == 0);
    CHECK(p.payload_len == 1 && p.payload[0] == 'x');
    int n = rtp_ext_parse(&p, e, 8, &why);
    CHECK(n == 2 && e[0].id == 5 && e[0].len == 0 && e[1].id == 0x20 && e[1].len == 2 &&
          e[1].data[0] == 0xca);
    /* writing picks two-byte when it must */
    rtp_ext_t big = { .id = 20, .len = 2, .data = (const uint8_t *)"hi" };
    CHECK(rtp_ext_write(&big, 1, extbuf, sizeof extbuf, &profile) == 4 && profile == RTP_EXT_TWO_BYTE);
    CHECK(rtp_ext_write(&big, 1, extbuf, 3, &profile) < 0);

    /* one-byte id 0 with a length is not padding: parsing stops there */
    const uint8_t id0[] = { 0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 0xbe, 0xde, 0, 1,
                            0x02, 0x10, 0xaa, 0x00 };
    CHECK(rtp_parse(id0, sizeof id0, &p, &why) == 0 && rtp_ext_parse(&p, e, 8, &why) == 0);

    /* an element running past its block */
    const uint8_t bad_ext[] = { 0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 0xbe, 0xde, 0, 1,
                                0x13, 0xaa, 0xbb, 0xcc };
    CHECK(rtp_parse(bad_ext, sizeof bad_ext, &p, &why) == 0);
    CHECK(rtp_ext_parse(&p, e, 8, &why) < 0);
    CHECK(!rtp_ext_find(&p, 1, &f));

    /* validation */
    uint8_t b[64] = { 0x80, 111 };
    CHECK(rtp_parse(b, 11, &p, &why) < 0 && strstr(why, "shorter"));
    b[0] = 0x40;
    CHECK(rtp_parse(b, 12, &p, &why) < 0 && strstr(why, "version"));
    b[0] = 0x83;
    CHECK(rtp_parse(b, 20, &p, &why) < 0 && strstr(why, "CSRC"));
    b[0] = 0x90;
    CHECK(rtp_parse(b, 14, &p, &why) < 0 && strstr(why, "extension header"));
    b[14] = 0;
    b[15] = 2;
    CHECK(rtp_parse(b, 20, &p, &why) < 0 && strstr(why, "extension overruns"));
    b[0] = 0xa0;
    b[19] = 0;
    CHECK(rtp_parse(b, 20, &p, &why) < 0 && strstr(why, "padding"));
    b[19] = 9;
    CHECK(rtp_parse(b, 20, &p, &why) < 0 && strstr(why, "padding"));
    b[19] = 8;
    CHECK(rtp_parse(b, 20, &p, &why) == 0 && p.payload_len == 0);
    h.csrc_count = 16;
    CHECK(rtp_header_write(&h, pkt, sizeof pkt) < 0);
    h.csrc_count = 0;
    CHECK(rtp_header_write(&h, pkt, 12) < 0);
}

static void test_demux_rtx(void)
{
    uint8_t stun[20] = { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42 };
    uint8_t dtls[13] = { 22, 0xfe, 0xfd };
    uint8_t rtp[12] = { 0x80, 0xef };   /* marker + PT 111 */
    uint8_t rtcp[8] = { 0x81, 200 };    /* SR */
    uint8_t rtcp_fb[8] = { 0x81, 206 }; /* PSFB */
    uint8_t turn[8] = { 0x40, 0 };
    CHECK(rtc_demux(stun, sizeof stun) == RTC_PKT_STUN);
    CHECK(rtc_demux(stun, 10) == RTC_PKT_UNKNOWN);
    CHECK(rtc_demux(dtls, sizeof dtls) == RTC_PKT_DTLS);
    CHECK(rtc_demux(rtp, sizeof rtp) == RTC_PKT_RTP);
    CHECK(rtc_demux(rtcp, sizeof rtcp) == RTC_PKT_RTCP);
    CHECK(rtc_demux(rtcp_fb, sizeof rtcp_fb) == RTC_PKT_RTCP);
    CHECK(rtc_demux(turn, sizeof turn) == RTC_PKT_UNKNOWN);
    CHECK(rtc_demux(rtp, 0) == RTC_PKT_UNKNOWN);
    rtp[1] = 96;
    CHECK(rtc_demux(rtp, sizeof rtp) == RTC_PKT_RTP);

    /* RTX: OSN 0x1234 then the original payload */
    uint8_t rtx[] = { 0x80, 97, 0, 5, 0, 0, 0, 1, 0, 0, 0, 2, 0x12, 0x34, 'v', 'p' };
    rtp_packet_t p;
    CHECK(rtp_parse(rtx, sizeof rtx, &p, NULL) == 0);
    CHECK(rtp_rtx_unwrap(&p, 96, 0xabc) == 0);
    CHECK(p.seq == 0x1234 && p.pt == 96 && p.ssrc == 0xabc && p.payload_len == 2 && p.payload[0] == 'v');
    p.payload_len = 1;
    CHECK(rtp_rtx_unwrap(&p, 96, 0xabc) < 0);
}

static void test_rx_stats(void)
{
    rtp_rx_stats_t s;
    rtp_rx_stats_init(&s, 42, 48000);
    /* 100..199, 20 ms Opus frames on a perfect network, except: 110, 150, 151
     * lost; 121 arrives before 120; 130 is duplicated. */
    int64_t t0 = 5000000;
    int codes[8] = { 0 };
    for (int seq = 100; seq < 200; seq++) {
        if (seq == 110 || seq == 150 || seq == 151)
            continue;
        int order[2] = { seq, -1 };
        if (seq == 120)
            continue; /* sent after 121 */
        if (seq == 121) {
            order[0] = 121;
            order[1] = 120;
        }
        for (int k = 0; k < 2 && order[k] >= 0; k++) {
            int q = order[k];
            int rc = rtp_rx_stats_update(&s, (uint16_t)q, (uint32_t)(q * 960),
                                         t0 + (int64_t)q * 20000 + (k ? 1000 : 0));
            codes[rc + 1]++;
            if (q == 100)
                CHECK(rc == RTP_SEQ_PROBATION);
            if (q == 101)
                CHECK(rc == RTP_SEQ_OK);
            if (q == 120)
                CHECK(rc == RTP_SEQ_LATE);
        }
        if (seq == 130)
            CHECK(rtp_rx_stats_update(&s, 130, 130 * 960, t0 + 130 * 20000 + 500) == RTP_SEQ_DUPLICATE);
    }
    /* the probation packet (100) is outside the statistics: base is 101 */
    CHECK(s.base_seq == 101);
    CHECK(rtp_rx_stats_ext_max(&s) == 199);
    CHECK(s.received == 96);              /* 99 expected, 3 lost, dup not counted */
    CHECK(rtp_rx_stats_lost(&s) == 3);
    CHECK(rtp_rx_stats_fraction_lost(&s) == 3 * 256 / 99);
    CHECK(rtp_rx_stats_fraction_lost(&s) == 0); /* new interval, nothing new */
    CHECK(s.duplicates == 1 && s.late == 1);
    CHECK(rtp_rx_stats_jitter(&s) == 0);  /* constant transit; late packet ignored */
    CHECK(codes[RTP_SEQ_PROBATION + 1] == 1 && codes[RTP_SEQ_LATE + 1] == 1);

    /* next interval: 10 packets, 5 lost */
    for (int seq = 200; seq < 210; seq++)
        if (seq % 2)
            rtp_rx_stats_update(&s, (uint16_t)seq, (uint32_t)(seq * 960), t0 + seq * 20000);
    CHECK(rtp_rx_stats_fraction_lost(&s) == 5 * 256 / 10 - 0);  /* 209 max: 10 expected, 5 got */
    CHECK(rtp_rx_stats_lost(&s) == 8);

    /* jitter: arrivals alternately 0 and 2 ms late -> |D| = 96 units at 48 kHz */
    rtp_rx_stats_init(&s, 1, 48000);
    for (int i = 0; i < 1000; i++)
        rtp_rx_stats_update(&s, (uint16_t)(1000 + i), (uint32_t)(i * 960), i * 20000 + (i % 2) * 2000);
    uint32_t j = rtp_rx_stats_jitter(&s);
    CHECK(j >= 94 && j <= 96);
    CHECK(rtp_rx_stats_lost(&s) == 0);

    /* wrap-around */
    rtp_rx_stats_init(&s, 2, 8000);
    for (int i = 0; i < 20; i++)
        rtp_rx_stats_update(&s, (uint16_t)(65526 + i), 0, i * 1000);
    CHECK(s.cycles == 65536 && rtp_rx_stats_ext_max(&s) == 65536 + 9);
    CHECK(rtp_rx_stats_lost(&s) == 0 && s.received == 19);

    /* a large jump is dropped, then believed when the next packet follows it */
    CHECK(rtp_rx_stats_update(&s, 30000, 0, 0) == RTP_SEQ_JUMP);
    CHECK(rtp_rx_stats_update(&s, 30001, 0, 0) == RTP_SEQ_RESTART);
    CHECK(s.base_seq == 30001 && s.received == 1 && s.restarts == 1);
    CHECK(rtp_rx_stats_update(&s, 30002, 0, 0) == RTP_SEQ_OK);
    /* a jump not confirmed stays dropped */
    CHECK(rtp_rx_stats_update(&s, 5000, 0, 0) == RTP_SEQ_JUMP);
    CHECK(rtp_rx_stats_update(&s, 30003, 0, 0) == RTP_SEQ_OK);
    CHECK(rtp_rx_stats_lost(&s) == 0);

    /* probation restarts on a non-sequential packet */
    rtp_rx_stats_init(&s, 3, 8000);
    CHECK(rtp_rx_stats_update(&s, 10, 0, 0) == RTP_SEQ_PROBATION);
    CHECK(rtp_rx_stats_update(&s, 50, 0, 0) == RTP_SEQ_PROBATION);
    CHECK(rtp_rx_stats_update(&s, 51, 0, 0) == RTP_SEQ_OK);
    CHECK(rtp_rx_stats_lost(&s) == 0 && rtp_rx_stats_fraction_lost(&s) == 0);
}

/* A VP8 keyframe header per RFC 6386 9.1: frame tag (keyframe, version 0,
 * shown, first partition size), start code, 14-bit sizes with 2-bit scale. */
static size_t s_keyframe(uint8_t *out, uint16_t w, uint16_t h, uint8_t hscale, size_t body)
{
    uint32_t first_part = 1234;
    uint32_t tag = first_part << 5 | 1 << 4 | 0 << 1 | 0;
    out[0] = (uint8_t)tag;
    out[1] = (uint8_t)(tag >> 8);
    out[2] = (uint8_t)(tag >> 16);
    out[3] = 0x9d;
    out[4] = 0x01;
    out[5] = 0x2a;
    uint16_t ws = (uint16_t)(w | hscale << 14);
    out[6] = (uint8_t)ws;
    out[7] = (uint8_t)(ws >> 8);
    out[8] = (uint8_t)h;
    out[9] = (uint8_t)(h >> 8);
    for (size_t i = 10; i < 10 + body; i++)
        out[i] = (uint8_t)i;
    return 10 + body;
}

static void test_vp8_desc_keyframe(void)
{
    vp8_desc_t d;
    const char *why;
    /* X S PID0 | I L T K | M + 15-bit picture id | TL0PICIDX | TID Y KEYIDX */
    const uint8_t full[] = { 0x90, 0xf0, 0x80 | 0x12, 0x34, 77, 0x80 | 0x20 | 5, 0xaa };
    CHECK(vp8_desc_parse(full, sizeof full, &d, &why) == 0);
    CHECK(d.x && d.s && !d.n && d.pid == 0);
    CHECK(d.has_picture_id && d.picture_id_15 && d.picture_id == 0x1234);
    CHECK(d.has_tl0picidx && d.tl0picidx == 77);
    CHECK(d.has_tid && d.tid == 2 && d.y && d.has_keyidx && d.keyidx == 5);
    CHECK(d.desc_len == 6 && d.payload_len == 1 && d.payload[0] == 0xaa);
    const uint8_t seven[] = { 0xa3, 0x80, 0x55, 0xbb };
    CHECK(vp8_desc_parse(seven, sizeof seven, &d, &why) == 0);
    CHECK(d.n && !d.s && d.pid == 3 && !d.picture_id_15 && d.picture_id == 0x55 && d.desc_len == 3);
    const uint8_t plain[] = { 0x10, 0x01 };
    CHECK(vp8_desc_parse(plain, 2, &d, &why) == 0 && !d.x && d.desc_len == 1);
    CHECK(vp8_desc_parse(full, 3, &d, &why) < 0);
    CHECK(vp8_desc_parse(full, 6, &d, &why) < 0 && strstr(why, "without data"));
    CHECK(vp8_desc_parse(full, 0, &d, &why) < 0);
    CHECK(vp8_desc_parse(plain, 1, &d, &why) < 0);

    uint8_t kf[64];
    size_t n = s_keyframe(kf, 640, 480, 0, 10);
    uint16_t w = 0, h = 0;
    uint8_t hs = 9, vs = 9;
    CHECK(vp8_is_keyframe(kf, n));
    CHECK(vp8_keyframe_size(kf, n, &w, &h, &hs, &vs) == 0 && w == 640 && h == 480 && hs == 0 && vs == 0);
    n = s_keyframe(kf, 1280, 720, 1, 0);
    CHECK(vp8_keyframe_size(kf, n, &w, &h, &hs, NULL) == 0 && w == 1280 && h == 720 && hs == 1);
    CHECK(vp8_keyframe_size(kf, 9, &w, &h, NULL, NULL) < 0);
    kf[4] = 0x02;
    CHECK(vp8_keyframe_size(kf, n, &w, &h, NULL, NULL) < 0);
    kf[4] = 0x01;
    kf[0] |= 1; /* interframe */
    CHECK(!vp8_is_keyframe(kf, n) && vp8_keyframe_size(kf, n, &w, &h, NULL, NULL) < 0);
}

/* One VP8 RTP packet: descriptor with a 15-bit picture id, then data. */
static size_t s_vp8_packet(uint8_t *buf, uint16_t seq, uint32_t ts, bool marker, bool start,
                           uint16_t pic, const uint8_t *data, size_t n, rtp_packet_t *out)
{
    rtp_packet_t h = { .marker = marker, .pt = 96, .seq = seq, .ts = ts, .ssrc = 0x5678 };
    int hl = rtp_header_write(&h, buf, 1500);
    uint8_t *p = buf + hl;
    p[0] = (uint8_t)(0x80 | (start ? 0x10 : 0));
    p[1] = 0x80;
    p[2] = (uint8_t)(0x80 | pic >> 8);
    p[3] = (uint8_t)pic;
    memcpy(p + 4, data, n);
    size_t len = (size_t)hl + 4 + n;
    rtp_parse(buf, len, out, NULL);
    return len;
}

static void test_vp8_assembler(void)
{
    vp8_assembler_t *a = vp8_assembler_new(0);
    CHECK(a && vp8_assembler_waiting_keyframe(a));
    uint8_t kf[200], delta[50], buf[1600];
    size_t kn = s_keyframe(kf, 320, 240, 0, 150);
    memset(delta, 0x11, sizeof delta);
    delta[0] = 0x01; /* P bit: interframe */
    rtp_packet_t p;
    const char *why;
    size_t len;
    vp8_frame_info_t info;

    /* a delta frame before any keyframe is of no use */
    s_vp8_packet(buf, 9, 1000, true, true, 1, delta, 20, &p);
    CHECK(vp8_assembler_push(a, &p, &why) == VP8_ASM_NEED_KEYFRAME);

    /* keyframe in three packets: 10 11 12 */
    s_vp8_packet(buf, 10, 3000, false, true, 2, kf, 60, &p);
    CHECK(vp8_assembler_push(a, &p, &why) == VP8_ASM_PENDING);
    CHECK(vp8_assembler_frame(a, &len, &info) == NULL);
    s_vp8_packet(buf, 11, 3000, false, false, 2, kf + 60, 60, &p);
    CHECK(vp8_assembler_push(a, &p, &why) == VP8_ASM_PENDING);
    s_vp8_packet(buf, 11, 3000, false, false, 2, kf + 60, 60, &p); /* duplicate: ignored */
    CHECK(vp8_assembler_push(a, &p, &why) == VP8_ASM_PENDING);
    s_vp8_packet(buf, 12, 3000, true, false, 2, kf + 120, kn - 120, &p);
    CHECK(vp8_assembler_push(a, &p, &why) == VP8_ASM_FRAME);
    const uint8_t *fr = vp8_assembler_frame(a, &len, &info);
    CHECK(fr && len == kn && !memcmp(fr, kf, kn));
    CHECK(info.keyframe && info.width == 320 && info.height == 240 && info.ts == 3000);
    CHECK(info.first_seq == 10 && info.last_seq == 12 && info.has_picture_id && info.picture_id == 2);
    CHECK(!vp8_assembler_waiting_keyframe(a));

    /* delta frame 13 14 15 with 14 missing: dropped, keyframe needed */
    s_vp8_packet(buf, 13, 6000, false, true, 3, delta, 20, &p);
    CHECK(vp8_assembler_push(a, &p, &why) == VP8_ASM_PENDING);
    s_vp8_packet(buf, 15, 6000, true, false, 3, delta + 40, 10, &p);
    CHECK(vp8_assembler_push(a, &p, &why) == VP8_ASM_NEED_KEYFRAME);
    CHECK(vp8_assembler_frame(a, &len, &info) == NULL);
    CHECK(vp8_assembler_waiting_keyframe(a));
    /* the next complete delta frame is still dropped */
    s_vp8_packet(buf, 16, 9000, true, true, 4, delta, 20, &p);
    CHECK(vp8_assembler_push(a, &p, &why) == VP8_ASM_NEED_KEYFRAME);
    /* a keyframe resumes */
    s_vp8_packet(buf, 17, 12000, false, true, 5, kf, 100, &p);
    CHECK(vp8_assembler_push(a, &p, &why) == VP8_ASM_PENDING);
    s_vp8_packet(buf, 18, 12000, true, false, 5, kf + 100, kn - 100, &p);
    CHECK(vp8_assembler_push(a, &p, &why) == VP8_ASM_FRAME);
    CHECK(!vp8_assembler_waiting_keyframe(a));
    s_vp8_packet(buf, 19, 15000, true, true, 6, delta, 30, &p);
    CHECK(vp8_assembler_push(a, &p, &why) == VP8_ASM_FRAME);
    fr = vp8_assembler_frame(a, &len, &info);
    CHECK(fr && len == 30 && !info.keyframe && info.width == 0);

    /* padding-only packets between frames (probes) are no loss */
    {
        rtp_packet_t h = { .pt = 96, .seq = 20, .ts = 15000, .ssrc = 0x5678 };
        uint8_t pad[12 + 255];
        int hl = rtp_header_write(&h, pad, sizeof pad);
        memset(pad + hl, 0, 255);
        pad[0] |= 0x20;
        pad[hl + 254] = 255;
        CHECK(rtp_parse(pad, (size_t)hl + 255, &p, &why) == 0 && p.payload_len == 0);
        CHECK(vp8_assembler_push(a, &p, &why) == VP8_ASM_PENDING);
        s_vp8_packet(buf, 21, 16000, true, true, 7, delta, 30, &p);
        CHECK(vp8_assembler_push(a, &p, &why) == VP8_ASM_FRAME);
        /* an empty payload without padding is not VP8 */
        p.payload_len = 0;
        p.seq = 22;
        CHECK(vp8_assembler_push(a, &p, &why) < 0);
    }

    /* lost tail: 22 starts a frame, 23 (its marker) lost, 24 starts the next */
    s_vp8_packet(buf, 22, 18000, false, true, 7, delta, 30, &p);
    CHECK(vp8_assembler_push(a, &p, &why) == VP8_ASM_PENDING);
    s_vp8_packet(buf, 24, 21000, true, true, 8, delta, 30, &p);
    CHECK(vp8_assembler_push(a, &p, &why) == VP8_ASM_NEED_KEYFRAME);
    /* lost between frames: 25 keyframe ok, 27 (26 lost) delta is dropped */
    s_vp8_packet(buf, 25, 24000, true, true, 9, kf, kn, &p);
    CHECK(vp8_assembler_push(a, &p, &why) == VP8_ASM_FRAME);
    s_vp8_packet(buf, 27, 30000, true, true, 11, delta, 30, &p);
    CHECK(vp8_assembler_push(a, &p, &why) == VP8_ASM_NEED_KEYFRAME);
    /* missing start: 29 (28 lost) is the middle of a frame whose start (no S bit) is gone */
    s_vp8_packet(buf, 29, 33000, true, false, 12, delta, 30, &p);
    CHECK(vp8_assembler_push(a, &p, &why) == VP8_ASM_NEED_KEYFRAME);
    /* not VP8 at all */
    p.payload_len = 0;
    CHECK(vp8_assembler_push(a, &p, &why) < 0);
    uint64_t frames, dropped;
    vp8_assembler_counts(a, &frames, &dropped);
    CHECK(frames == 5 && dropped == 8);
    vp8_assembler_destroy(&a);
    CHECK(a == NULL);

    /* frame size limit */
    a = vp8_assembler_new(100);
    s_vp8_packet(buf, 1, 0, false, true, 1, kf, 80, &p);
    CHECK(vp8_assembler_push(a, &p, &why) == VP8_ASM_PENDING);
    s_vp8_packet(buf, 2, 0, true, false, 1, kf + 80, 80, &p);
    CHECK(vp8_assembler_push(a, &p, &why) == VP8_ASM_NEED_KEYFRAME && strstr(why, "too large"));
    vp8_assembler_destroy(&a);
}

int main(void)
{
    test_header_and_extensions();
    test_demux_rtx();
    test_rx_stats();
    test_vp8_desc_keyframe();
    test_vp8_assembler();
    if (s_fails)
        fprintf(stderr, "rtp_test: %d failures\n", s_fails);
    else
        printf("rtp_test: ok\n");
    return s_fails ? 1 : 0;
}
