/* rtp_fuzz — libFuzzer target for common/rtc/rtp.c: RTP packets off the
 * wire (after SRTP), their header extensions and VP8 payloads.
 *
 * The input is parsed as one packet, then as a stream of packets, each
 * prefixed by a 2-byte length, fed to the receiver statistics and the VP8
 * frame assembler. Checks: parsed lengths add up; a parsed header writes
 * back and parses to the same fields; extension elements stay inside the
 * packet; assembled frames stay within the size limit. */
#include "rtc/rtp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void s_one(const uint8_t *data, size_t size, rtp_rx_stats_t *st, vp8_assembler_t *asm_,
                  int64_t t)
{
    (void)rtc_demux(data, size);
    rtp_packet_t p;
    const char *why = NULL;
    if (rtp_parse(data, size, &p, &why) < 0) {
        if (!why)
            abort();
        return;
    }
    if (p.header_len + p.payload_len + p.padding_len != size || p.payload != data + p.header_len)
        abort();
    rtp_ext_t e[16];
    int n = rtp_ext_parse(&p, e, 16, &why);
    for (int i = 0; i < n; i++) {
        if (e[i].data < p.ext || e[i].data + e[i].len > p.ext + p.ext_len)
            abort();
        rtp_ext_t f;
        if (!rtp_ext_find(&p, e[i].id, &f))
            abort();
    }
    uint8_t out[RTP_HEADER_MIN + 60 + 4 + 1024];
    if (p.ext_len <= 1024) {
        int hl = rtp_header_write(&p, out, sizeof out);
        rtp_packet_t q;
        if (hl != (int)p.header_len || rtp_parse(out, (size_t)hl, &q, NULL) < 0 ||
            q.seq != p.seq || q.ts != p.ts || q.ssrc != p.ssrc || q.pt != p.pt ||
            q.marker != p.marker || q.csrc_count != p.csrc_count || q.ext_len != p.ext_len ||
            q.ext_profile != p.ext_profile || memcmp(q.csrc, p.csrc, sizeof q.csrc))
            abort();
        if (n > 0) {
            uint8_t eb[1100];
            uint16_t prof;
            int el = rtp_ext_write(e, n, eb, sizeof eb, &prof);
            if (el < 0 || el % 4)
                abort();
        }
    }
    vp8_desc_t d;
    if (vp8_desc_parse(p.payload, p.payload_len, &d, &why) == 0) {
        if (d.desc_len + d.payload_len != p.payload_len)
            abort();
        uint16_t w, h;
        (void)vp8_is_keyframe(d.payload, d.payload_len);
        (void)vp8_keyframe_size(d.payload, d.payload_len, &w, &h, NULL, NULL);
    }
    if (st)
        (void)rtp_rx_stats_update(st, p.seq, p.ts, t);
    if (asm_) {
        int r = vp8_assembler_push(asm_, &p, &why);
        size_t len;
        vp8_frame_info_t info;
        const uint8_t *fr = vp8_assembler_frame(asm_, &len, &info);
        if ((r == VP8_ASM_FRAME) != (fr != NULL) || (fr && len > 4096) ||
            (fr && !info.keyframe && vp8_assembler_waiting_keyframe(asm_)))
            abort();
    }
    rtp_packet_t r = p;
    (void)rtp_rtx_unwrap(&r, 96, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_one(data, size, NULL, NULL, 0);

    rtp_rx_stats_t st;
    rtp_rx_stats_init(&st, 1, 90000);
    vp8_assembler_t *a = vp8_assembler_new(4096);
    if (!a)
        return 0;
    size_t off = 0;
    int64_t t = 0;
    while (off + 2 <= size) {
        size_t n = (size_t)data[off] << 8 | data[off + 1];
        off += 2;
        if (n > size - off)
            n = size - off;
        t += 20000 + (int64_t)(n & 0xff) * 100;
        s_one(data + off, n, &st, a, t);
        off += n;
    }
    (void)rtp_rx_stats_lost(&st);
    (void)rtp_rx_stats_fraction_lost(&st);
    (void)rtp_rx_stats_jitter(&st);
    if (rtp_rx_stats_fraction_lost(&st) != 0)
        abort(); /* nothing new since the previous call */
    vp8_assembler_destroy(&a);
    return 0;
}
