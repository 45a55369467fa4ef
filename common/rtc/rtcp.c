/* rtcp — see rtcp.h. */
#include "rtc/rtcp.h"

#include <string.h>

static uint16_t s_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t s_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void s_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void s_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

#define S_FAIL(why) do { if (reason) *reason = (why); return -1; } while (0)

/* ---- parsing ------------------------------------------------------------------- */

static void s_read_rb(const uint8_t *p, rtcp_report_block_t *rb)
{
    rb->ssrc = s_be32(p);
    rb->fraction_lost = p[4];
    uint32_t lost = (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
    rb->cumulative_lost = (lost & 0x800000) ? (int32_t)lost - 0x1000000 : (int32_t)lost;
    rb->ext_highest_seq = s_be32(p + 8);
    rb->jitter = s_be32(p + 12);
    rb->lsr = s_be32(p + 16);
    rb->dlsr = s_be32(p + 20);
}

static int s_parse_sdes(const uint8_t *p, size_t n, rtcp_packet_t *pk, const char **reason)
{
    size_t off = 4;
    for (int i = 0; i < pk->fmt; i++) {
        if (off + 4 > n)
            S_FAIL("RTCP SDES chunk overruns the packet");
        rtcp_sdes_chunk_t c = { .ssrc = s_be32(p + off) };
        off += 4;
        for (;;) {
            if (off >= n)
                S_FAIL("RTCP SDES chunk not terminated");
            uint8_t type = p[off];
            if (type == 0) {
                /* null item ends the list; the chunk is padded to 32 bits */
                off = (off + 4) & ~(size_t)3;
                break;
            }
            if (off + 2 > n || off + 2 + p[off + 1] > n)
                S_FAIL("RTCP SDES item overruns the packet");
            if (type == 1 && !c.cname) {
                c.cname = (const char *)p + off + 2;
                c.cname_len = p[off + 1];
            }
            off += 2u + p[off + 1];
        }
        if (off > n)
            S_FAIL("RTCP SDES chunk overruns the packet");
        pk->chunks[pk->chunk_count++] = c;
    }
    return 0;
}

static int s_parse_one(const uint8_t *p, size_t n, rtcp_packet_t *pk, const char **reason)
{
    memset(pk, 0, sizeof *pk);
    pk->pt = p[1];
    pk->fmt = p[0] & 0x1f;
    pk->data = p;
    pk->len = n;
    switch (pk->pt) {
    case RTCP_SR:
        if (n < 28u + 24u * pk->fmt)
            S_FAIL("RTCP SR too short for its report blocks");
        pk->sender_ssrc = s_be32(p + 4);
        pk->sr.ssrc = pk->sender_ssrc;
        pk->sr.ntp = (uint64_t)s_be32(p + 8) << 32 | s_be32(p + 12);
        pk->sr.rtp_ts = s_be32(p + 16);
        pk->sr.packet_count = s_be32(p + 20);
        pk->sr.octet_count = s_be32(p + 24);
        for (int i = 0; i < pk->fmt; i++)
            s_read_rb(p + 28 + 24 * i, &pk->rb[i]);
        pk->rb_count = pk->fmt;
        break;
    case RTCP_RR:
        if (n < 8u + 24u * pk->fmt)
            S_FAIL("RTCP RR too short for its report blocks");
        pk->sender_ssrc = s_be32(p + 4);
        for (int i = 0; i < pk->fmt; i++)
            s_read_rb(p + 8 + 24 * i, &pk->rb[i]);
        pk->rb_count = pk->fmt;
        break;
    case RTCP_SDES:
        return s_parse_sdes(p, n, pk, reason);
    case RTCP_BYE: {
        size_t off = 4u + 4u * pk->fmt;
        if (off > n)
            S_FAIL("RTCP BYE too short for its SSRCs");
        for (int i = 0; i < pk->fmt; i++)
            pk->bye_ssrc[i] = s_be32(p + 4 + 4 * i);
        pk->bye_count = pk->fmt;
        if (off < n) {
            if (off + 1u + p[off] > n)
                S_FAIL("RTCP BYE reason overruns the packet");
            pk->bye_reason = (const char *)p + off + 1;
            pk->bye_reason_len = p[off];
        }
        break;
    }
    case RTCP_RTPFB:
    case RTCP_PSFB:
        if (n < 12)
            S_FAIL("RTCP feedback packet shorter than 12 bytes");
        pk->sender_ssrc = s_be32(p + 4);
        pk->media_ssrc = s_be32(p + 8);
        pk->fci = p + 12;
        pk->fci_len = n - 12;
        if (pk->pt == RTCP_RTPFB && pk->fmt == RTCP_RTPFB_NACK) {
            if (pk->fci_len == 0 || pk->fci_len % 4)
                S_FAIL("bad RTCP NACK length");
            pk->nack_count = (int)(pk->fci_len / 4);
        } else if (pk->pt == RTCP_PSFB && pk->fmt == RTCP_PSFB_FIR) {
            if (pk->fci_len == 0 || pk->fci_len % 8)
                S_FAIL("bad RTCP FIR length");
            for (size_t off = 0; off < pk->fci_len && pk->fir_count < RTCP_MAX_FIR; off += 8) {
                pk->fir[pk->fir_count].ssrc = s_be32(pk->fci + off);
                pk->fir[pk->fir_count++].seq_nr = pk->fci[off + 4];
            }
        } else if (pk->pt == RTCP_PSFB && pk->fmt == RTCP_PSFB_AFB) {
            pk->remb = pk->fci_len >= 4 && !memcmp(pk->fci, "REMB", 4);
        }
        break;
    default:
        break; /* APP, XR, transport-cc...: kept opaque in data/len */
    }
    return 0;
}

int rtcp_parse(const uint8_t *buf, size_t len, rtcp_packet_t *pkts, int max, const char **reason)
{
    if (!buf || len < 4)
        S_FAIL("RTCP packet shorter than 4 bytes");
    if (len % 4)
        S_FAIL("RTCP length is not a multiple of 4");
    size_t off = 0;
    int count = 0;
    rtcp_packet_t scratch;
    while (off < len) {
        const uint8_t *p = buf + off;
        if (len - off < 4)
            S_FAIL("RTCP packet truncated");
        if (p[0] >> 6 != 2)
            S_FAIL("RTCP version is not 2");
        size_t plen = 4u * ((size_t)s_be16(p + 2) + 1);
        if (plen > len - off)
            S_FAIL("RTCP length overruns the compound packet");
        size_t body = plen;
        if (p[0] & 0x20) {
            if (off + plen != len)
                S_FAIL("RTCP padding on a packet that is not the last");
            uint8_t pad = p[plen - 1];
            if (pad == 0 || pad > plen - 4)
                S_FAIL("bad RTCP padding length");
            body = plen - pad;
        }
        rtcp_packet_t *pk = count < max && pkts ? &pkts[count] : &scratch;
        if (s_parse_one(p, body, pk, reason) < 0)
            return -1;
        count++;
        off += plen;
    }
    return count;
}

int rtcp_nack_seqs(const rtcp_packet_t *pkt, uint16_t *out, int max)
{
    int n = 0;
    if (!pkt || pkt->pt != RTCP_RTPFB || pkt->fmt != RTCP_RTPFB_NACK)
        return 0;
    for (int i = 0; i < pkt->nack_count; i++) {
        uint16_t pid = s_be16(pkt->fci + 4 * i), blp = s_be16(pkt->fci + 4 * i + 2);
        if (n < max)
            out[n++] = pid;
        for (int b = 0; b < 16; b++)
            if ((blp & (1u << b)) && n < max)
                out[n++] = (uint16_t)(pid + b + 1);
    }
    return n;
}

/* ---- builders ---------------------------------------------------------------------- */

static void s_hdr(uint8_t *p, int fmt, int pt, size_t bytes)
{
    p[0] = (uint8_t)(0x80 | fmt);
    p[1] = (uint8_t)pt;
    s_put16(p + 2, (uint16_t)(bytes / 4 - 1));
}

static void s_write_rb(uint8_t *p, const rtcp_report_block_t *rb)
{
    s_put32(p, rb->ssrc);
    p[4] = rb->fraction_lost;
    int32_t lost = rb->cumulative_lost;
    if (lost > 0x7fffff)
        lost = 0x7fffff;
    if (lost < -0x800000)
        lost = -0x800000;
    uint32_t l24 = (uint32_t)lost & 0xffffff;
    p[5] = (uint8_t)(l24 >> 16);
    p[6] = (uint8_t)(l24 >> 8);
    p[7] = (uint8_t)l24;
    s_put32(p + 8, rb->ext_highest_seq);
    s_put32(p + 12, rb->jitter);
    s_put32(p + 16, rb->lsr);
    s_put32(p + 20, rb->dlsr);
}

int rtcp_write_sr(uint8_t *buf, size_t size, const rtcp_sr_t *sr,
                  const rtcp_report_block_t *rb, int n)
{
    if (!buf || !sr || n < 0 || n > RTCP_MAX_RB || (n && !rb))
        return -1;
    size_t len = 28u + 24u * (size_t)n;
    if (len > size)
        return -1;
    s_hdr(buf, n, RTCP_SR, len);
    s_put32(buf + 4, sr->ssrc);
    s_put32(buf + 8, (uint32_t)(sr->ntp >> 32));
    s_put32(buf + 12, (uint32_t)sr->ntp);
    s_put32(buf + 16, sr->rtp_ts);
    s_put32(buf + 20, sr->packet_count);
    s_put32(buf + 24, sr->octet_count);
    for (int i = 0; i < n; i++)
        s_write_rb(buf + 28 + 24 * i, &rb[i]);
    return (int)len;
}

int rtcp_write_rr(uint8_t *buf, size_t size, uint32_t ssrc, const rtcp_report_block_t *rb, int n)
{
    if (!buf || n < 0 || n > RTCP_MAX_RB || (n && !rb))
        return -1;
    size_t len = 8u + 24u * (size_t)n;
    if (len > size)
        return -1;
    s_hdr(buf, n, RTCP_RR, len);
    s_put32(buf + 4, ssrc);
    for (int i = 0; i < n; i++)
        s_write_rb(buf + 8 + 24 * i, &rb[i]);
    return (int)len;
}

int rtcp_write_sdes_cname(uint8_t *buf, size_t size, uint32_t ssrc, const char *cname)
{
    size_t cl = cname ? strlen(cname) : 0;
    if (!buf || cl == 0 || cl > 255)
        return -1;
    /* chunk: SSRC, CNAME item, at least one null octet, padded to 32 bits */
    size_t chunk = (4 + 2 + cl + 1 + 3) & ~(size_t)3;
    size_t len = 4 + chunk;
    if (len > size)
        return -1;
    memset(buf, 0, len);
    s_hdr(buf, 1, RTCP_SDES, len);
    s_put32(buf + 4, ssrc);
    buf[8] = 1; /* CNAME */
    buf[9] = (uint8_t)cl;
    memcpy(buf + 10, cname, cl);
    return (int)len;
}

int rtcp_write_bye(uint8_t *buf, size_t size, const uint32_t *ssrcs, int n)
{
    if (!buf || n < 0 || n > RTCP_MAX_CHUNKS || (n && !ssrcs))
        return -1;
    size_t len = 4u + 4u * (size_t)n;
    if (len > size)
        return -1;
    s_hdr(buf, n, RTCP_BYE, len);
    for (int i = 0; i < n; i++)
        s_put32(buf + 4 + 4 * i, ssrcs[i]);
    return (int)len;
}

int rtcp_write_pli(uint8_t *buf, size_t size, uint32_t sender_ssrc, uint32_t media_ssrc)
{
    if (!buf || size < 12)
        return -1;
    s_hdr(buf, RTCP_PSFB_PLI, RTCP_PSFB, 12);
    s_put32(buf + 4, sender_ssrc);
    s_put32(buf + 8, media_ssrc);
    return 12;
}

int rtcp_write_fir(uint8_t *buf, size_t size, uint32_t sender_ssrc, uint32_t media_ssrc,
                   uint8_t seq_nr)
{
    if (!buf || size < 20)
        return -1;
    s_hdr(buf, RTCP_PSFB_FIR, RTCP_PSFB, 20);
    s_put32(buf + 4, sender_ssrc);
    s_put32(buf + 8, 0); /* RFC 5104 4.3.1.2: the media source goes in the FCI */
    s_put32(buf + 12, media_ssrc);
    buf[16] = seq_nr;
    buf[17] = buf[18] = buf[19] = 0;
    return 20;
}

int rtcp_write_nack(uint8_t *buf, size_t size, uint32_t sender_ssrc, uint32_t media_ssrc,
                    const uint16_t *seqs, int n)
{
    if (!buf || n <= 0 || !seqs || size < 16)
        return -1;
    size_t max_items = (size - 12) / 4;
    if (max_items > 0xfffd)
        max_items = 0xfffd;
    size_t items = 0;
    uint8_t *fci = buf + 12;
    for (int i = 0; i < n; i++) {
        bool placed = false;
        for (size_t k = 0; k < items && !placed; k++) {
            uint16_t pid = s_be16(fci + 4 * k);
            uint16_t d = (uint16_t)(seqs[i] - pid);
            if (d == 0) {
                placed = true;
            } else if (d <= 16) {
                uint16_t blp = s_be16(fci + 4 * k + 2) | (uint16_t)(1u << (d - 1));
                s_put16(fci + 4 * k + 2, blp);
                placed = true;
            }
        }
        if (placed)
            continue;
        if (items >= max_items)
            return -1;
        s_put16(fci + 4 * items, seqs[i]);
        s_put16(fci + 4 * items + 2, 0);
        items++;
    }
    size_t len = 12 + 4 * items;
    s_hdr(buf, RTCP_RTPFB_NACK, RTCP_RTPFB, len);
    s_put32(buf + 4, sender_ssrc);
    s_put32(buf + 8, media_ssrc);
    return (int)len;
}

int rtcp_write_report(uint8_t *buf, size_t size, const rtcp_sr_t *sr, uint32_t ssrc,
                      const rtcp_report_block_t *rb, int n, const char *cname)
{
    int a = sr ? rtcp_write_sr(buf, size, sr, rb, n) : rtcp_write_rr(buf, size, ssrc, rb, n);
    if (a < 0)
        return -1;
    int b = rtcp_write_sdes_cname(buf + a, size - (size_t)a, sr ? sr->ssrc : ssrc, cname);
    if (b < 0)
        return -1;
    return a + b;
}

/* ---- time and statistics ----------------------------------------------------------- */

uint64_t rtcp_ntp_from_unix_us(int64_t unix_us)
{
    if (unix_us < 0)
        unix_us = 0;
    uint64_t sec = (uint64_t)(unix_us / 1000000) + 2208988800ULL; /* 1900 -> 1970 */
    uint64_t frac = ((uint64_t)(unix_us % 1000000) << 32) / 1000000;
    return sec << 32 | frac;
}

uint32_t rtcp_ntp_mid32(uint64_t ntp)
{
    return (uint32_t)(ntp >> 16);
}

void rtcp_note_sr(rtp_rx_stats_t *s, const rtcp_packet_t *sr, int64_t arrival_us)
{
    if (!s || !sr || sr->pt != RTCP_SR)
        return;
    s->lsr = rtcp_ntp_mid32(sr->sr.ntp);
    s->lsr_arrival_us = arrival_us;
}

void rtcp_report_block_fill(rtcp_report_block_t *rb, rtp_rx_stats_t *s, int64_t now_us)
{
    memset(rb, 0, sizeof *rb);
    rb->ssrc = s->ssrc;
    rb->fraction_lost = rtp_rx_stats_fraction_lost(s);
    rb->cumulative_lost = rtp_rx_stats_lost(s);
    rb->ext_highest_seq = rtp_rx_stats_ext_max(s);
    rb->jitter = rtp_rx_stats_jitter(s);
    if (s->lsr) {
        int64_t d = now_us - s->lsr_arrival_us;
        if (d < 0)
            d = 0;
        uint64_t dlsr = (uint64_t)d * 65536 / 1000000;
        rb->lsr = s->lsr;
        rb->dlsr = dlsr > UINT32_MAX ? UINT32_MAX : (uint32_t)dlsr;
    }
}

int64_t rtcp_rtt_us(const rtcp_report_block_t *rb, uint64_t arrival_ntp)
{
    if (!rb || !rb->lsr)
        return -1;
    uint32_t a = rtcp_ntp_mid32(arrival_ntp);
    int32_t rtt = (int32_t)(a - rb->lsr - rb->dlsr);
    if (rtt < 0)
        return -1;
    return (int64_t)rtt * 1000000 / 65536;
}
