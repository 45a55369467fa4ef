/* rtp — see rtp.h. */
#include "rtc/rtp.h"

#include <stdlib.h>
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

/* ---- packets ------------------------------------------------------------------ */

int rtp_parse(const uint8_t *buf, size_t len, rtp_packet_t *pkt, const char **reason)
{
    memset(pkt, 0, sizeof *pkt);
    if (!buf || len < RTP_HEADER_MIN)
        S_FAIL("RTP packet shorter than 12 bytes");
    pkt->version = buf[0] >> 6;
    if (pkt->version != 2)
        S_FAIL("RTP version is not 2");
    pkt->padding = buf[0] & 0x20;
    pkt->extension = buf[0] & 0x10;
    pkt->csrc_count = buf[0] & 0x0f;
    pkt->marker = buf[1] & 0x80;
    pkt->pt = buf[1] & 0x7f;
    pkt->seq = s_be16(buf + 2);
    pkt->ts = s_be32(buf + 4);
    pkt->ssrc = s_be32(buf + 8);
    size_t off = RTP_HEADER_MIN + 4u * pkt->csrc_count;
    if (off > len)
        S_FAIL("RTP CSRC list overruns the packet");
    for (int i = 0; i < pkt->csrc_count; i++)
        pkt->csrc[i] = s_be32(buf + RTP_HEADER_MIN + 4 * i);
    if (pkt->extension) {
        if (off + 4 > len)
            S_FAIL("RTP extension header overruns the packet");
        pkt->ext_profile = s_be16(buf + off);
        pkt->ext_len = 4u * s_be16(buf + off + 2);
        off += 4;
        if (pkt->ext_len > len - off)
            S_FAIL("RTP extension overruns the packet");
        pkt->ext = buf + off;
        off += pkt->ext_len;
    }
    size_t end = len;
    if (pkt->padding) {
        /* the count includes itself, so 0 is invalid (RFC 3550 5.1) */
        uint8_t pad = buf[len - 1];
        if (pad == 0 || pad > len - off)
            S_FAIL("bad RTP padding length");
        pkt->padding_len = pad;
        end -= pad;
    }
    pkt->header_len = off;
    pkt->payload = buf + off;
    pkt->payload_len = end - off;
    return 0;
}

int rtp_header_write(const rtp_packet_t *hdr, uint8_t *buf, size_t size)
{
    if (!hdr || !buf || hdr->csrc_count > RTP_MAX_CSRC || hdr->pt > 127)
        return -1;
    bool ext = hdr->ext_len > 0 || hdr->extension;
    if (hdr->ext_len % 4 || hdr->ext_len > 4u * 0xffff || (hdr->ext_len && !hdr->ext))
        return -1;
    size_t need = RTP_HEADER_MIN + 4u * hdr->csrc_count + (ext ? 4 + hdr->ext_len : 0);
    if (need > size)
        return -1;
    buf[0] = (uint8_t)(2 << 6 | (ext ? 0x10 : 0) | hdr->csrc_count);
    buf[1] = (uint8_t)((hdr->marker ? 0x80 : 0) | hdr->pt);
    s_put16(buf + 2, hdr->seq);
    s_put32(buf + 4, hdr->ts);
    s_put32(buf + 8, hdr->ssrc);
    size_t off = RTP_HEADER_MIN;
    for (int i = 0; i < hdr->csrc_count; i++, off += 4)
        s_put32(buf + off, hdr->csrc[i]);
    if (ext) {
        s_put16(buf + off, hdr->ext_profile);
        s_put16(buf + off + 2, (uint16_t)(hdr->ext_len / 4));
        off += 4;
        if (hdr->ext_len)
            memcpy(buf + off, hdr->ext, hdr->ext_len);
        off += hdr->ext_len;
    }
    return (int)off;
}

/* ---- header extensions ------------------------------------------------------ */

/* Next element at *off: 1 found, 0 end of block, -1 overrun. */
static int s_ext_next(const rtp_packet_t *pkt, size_t *off, rtp_ext_t *e)
{
    const uint8_t *d = pkt->ext;
    size_t n = pkt->ext_len;
    bool one = pkt->ext_profile == RTP_EXT_ONE_BYTE;
    while (*off < n) {
        uint8_t b = d[*off];
        if (b == 0) { /* padding byte, in both forms */
            (*off)++;
            continue;
        }
        size_t len;
        if (one) {
            /* id 15 is reserved: stop processing (RFC 8285 4.2); id 0 with a
             * length is no padding byte either: stop, as libwebrtc does */
            if (b >> 4 == 15 || b >> 4 == 0)
                return 0;
            e->id = b >> 4;
            len = (size_t)(b & 0x0f) + 1;
            (*off)++;
        } else {
            if (*off + 1 >= n)
                return -1;
            e->id = b;
            len = d[*off + 1];
            *off += 2;
        }
        if (len > n - *off)
            return -1;
        e->len = (uint8_t)len;
        e->data = d + *off;
        *off += len;
        return 1;
    }
    return 0;
}

static bool s_ext_known(const rtp_packet_t *pkt)
{
    return pkt->ext && (pkt->ext_profile == RTP_EXT_ONE_BYTE ||
                        (pkt->ext_profile & 0xfff0) == RTP_EXT_TWO_BYTE);
}

int rtp_ext_parse(const rtp_packet_t *pkt, rtp_ext_t *out, int max, const char **reason)
{
    if (!pkt || !s_ext_known(pkt))
        return 0;
    size_t off = 0;
    int count = 0;
    rtp_ext_t e;
    int rc;
    while (count < max && (rc = s_ext_next(pkt, &off, &e)) != 0) {
        if (rc < 0)
            S_FAIL("RTP header extension element overruns its block");
        out[count++] = e;
    }
    return count;
}

bool rtp_ext_find(const rtp_packet_t *pkt, uint8_t id, rtp_ext_t *out)
{
    if (!pkt || !s_ext_known(pkt))
        return false;
    size_t off = 0;
    rtp_ext_t e;
    while (s_ext_next(pkt, &off, &e) > 0)
        if (e.id == id) {
            if (out)
                *out = e;
            return true;
        }
    return false;
}

int rtp_ext_write(const rtp_ext_t *ext, int n, uint8_t *buf, size_t size, uint16_t *profile)
{
    if (n < 0 || (n && !ext) || !buf || !profile)
        return -1;
    bool one = true;
    for (int i = 0; i < n; i++) {
        if (ext[i].id == 0 || (ext[i].len && !ext[i].data))
            return -1;
        if (ext[i].id > 14 || ext[i].len < 1 || ext[i].len > 16)
            one = false;
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        size_t hdr = one ? 1 : 2;
        if (off + hdr + ext[i].len > size)
            return -1;
        if (one) {
            buf[off++] = (uint8_t)(ext[i].id << 4 | (ext[i].len - 1));
        } else {
            buf[off++] = ext[i].id;
            buf[off++] = ext[i].len;
        }
        if (ext[i].len)
            memcpy(buf + off, ext[i].data, ext[i].len);
        off += ext[i].len;
    }
    while (off % 4) {
        if (off >= size)
            return -1;
        buf[off++] = 0;
    }
    *profile = one ? RTP_EXT_ONE_BYTE : RTP_EXT_TWO_BYTE;
    return (int)off;
}

/* ---- demultiplexing ---------------------------------------------------------- */

rtc_pkt_kind_t rtc_demux(const uint8_t *buf, size_t len)
{
    if (!buf || len < 1)
        return RTC_PKT_UNKNOWN;
    uint8_t b = buf[0];
    if (b <= 3)
        return len >= 20 ? RTC_PKT_STUN : RTC_PKT_UNKNOWN;  /* STUN header is 20 bytes */
    if (b >= 20 && b <= 63)
        return len >= 13 ? RTC_PKT_DTLS : RTC_PKT_UNKNOWN;  /* DTLS record header */
    if (b >= 128 && b <= 191 && len >= 4) {
        /* RFC 5761 4: RTCP types 192-223 are RTP types 64-95 with the marker
         * set, which is why RTP must not use those payload types */
        uint8_t pt = buf[1] & 0x7f;
        if (pt >= 64 && pt <= 95)
            return len >= 8 ? RTC_PKT_RTCP : RTC_PKT_UNKNOWN;
        return len >= RTP_HEADER_MIN ? RTC_PKT_RTP : RTC_PKT_UNKNOWN;
    }
    return RTC_PKT_UNKNOWN; /* ZRTP 16-19, TURN channels 64-79, other */
}

/* ---- RTX ----------------------------------------------------------------------- */

int rtp_rtx_unwrap(rtp_packet_t *pkt, uint8_t media_pt, uint32_t media_ssrc)
{
    if (!pkt || pkt->payload_len < 2)
        return -1;
    pkt->seq = s_be16(pkt->payload);
    pkt->payload += 2;
    pkt->payload_len -= 2;
    pkt->pt = media_pt & 0x7f;
    pkt->ssrc = media_ssrc;
    return 0;
}

/* ---- receiver statistics ---------------------------------------------------------- */

#define S_SEQ_MOD      (1u << 16)
#define S_MAX_DROPOUT  3000
#define S_MAX_MISORDER 100
#define S_MIN_SEQUENTIAL 2

void rtp_rx_stats_init(rtp_rx_stats_t *s, uint32_t ssrc, uint32_t clock_rate)
{
    memset(s, 0, sizeof *s);
    s->ssrc = ssrc;
    s->clock_rate = clock_rate;
}

static void s_init_seq(rtp_rx_stats_t *s, uint16_t seq)
{
    s->base_seq = seq;
    s->max_seq = seq;
    s->bad_seq = S_SEQ_MOD + 1; /* so seq == bad_seq is false */
    s->cycles = 0;
    s->received = 0;
    s->received_prior = 0;
    s->expected_prior = 0;
    s->window = 1;
}

/* Arrival time in timestamp units, modulo 2^32 like the timestamps. */
static uint32_t s_arrival_units(int64_t us, uint32_t rate)
{
    int64_t sec = us / 1000000, rem = us % 1000000;
    return (uint32_t)((uint64_t)sec * rate + (uint64_t)(rem * (int64_t)rate / 1000000));
}

static void s_jitter(rtp_rx_stats_t *s, uint32_t ts, int64_t arrival_us)
{
    if (!s->clock_rate)
        return;
    uint32_t transit = s_arrival_units(arrival_us, s->clock_rate) - ts;
    if (s->have_transit) {
        int64_t d = (int32_t)(transit - s->transit);
        if (d < 0)
            d = -d;
        /* J += (|D| - J) / 16, in the RFC's integer form with J scaled by 16 */
        int64_t j = (int64_t)s->jitter_q4 + d - (((int64_t)s->jitter_q4 + 8) >> 4);
        s->jitter_q4 = j < 0 ? 0 : j > UINT32_MAX ? UINT32_MAX : (uint32_t)j;
    }
    s->transit = transit;
    s->have_transit = true;
}

int rtp_rx_stats_update(rtp_rx_stats_t *s, uint16_t seq, uint32_t ts, int64_t arrival_us)
{
    if (!s->started) {
        s->started = true;
        s_init_seq(s, seq);
        s->max_seq = (uint16_t)(seq - 1);
        s->probation = S_MIN_SEQUENTIAL;
    }
    uint16_t udelta = (uint16_t)(seq - s->max_seq);
    int rc = RTP_SEQ_OK;
    if (s->probation) {
        /* a source is valid after MIN_SEQUENTIAL packets in sequence */
        if (seq == (uint16_t)(s->max_seq + 1)) {
            s->probation--;
            s->max_seq = seq;
            if (s->probation == 0) {
                s_init_seq(s, seq);
                s->received++;
                s_jitter(s, ts, arrival_us);
                return RTP_SEQ_OK;
            }
        } else {
            s->probation = S_MIN_SEQUENTIAL - 1;
            s->max_seq = seq;
        }
        s_jitter(s, ts, arrival_us); /* a baseline for the first counted packet */
        return RTP_SEQ_PROBATION;
    }
    if (udelta == 0) {
        s->duplicates++;
        return RTP_SEQ_DUPLICATE;
    }
    if (udelta < S_MAX_DROPOUT) {
        /* in order, with a permissible gap */
        if (seq < s->max_seq)
            s->cycles += S_SEQ_MOD;
        s->max_seq = seq;
        s->window = udelta >= 64 ? 1 : (s->window << udelta) | 1;
    } else if (udelta <= S_SEQ_MOD - S_MAX_MISORDER) {
        /* a very large jump: only believe it when the next packet follows it */
        if (seq != s->bad_seq) {
            s->bad_seq = (seq + 1u) & (S_SEQ_MOD - 1);
            return RTP_SEQ_JUMP;
        }
        s_init_seq(s, seq);
        s->restarts++;
        s->have_transit = false;
        rc = RTP_SEQ_RESTART;
    } else {
        /* older than max_seq: reordered or duplicated. Counted (A.1), but not
         * in the jitter: a late or retransmitted packet's transit says
         * nothing about network jitter. */
        uint16_t back = (uint16_t)(s->max_seq - seq);
        if (back < 64) {
            if (s->window & (1ull << back)) {
                s->duplicates++;
                return RTP_SEQ_DUPLICATE;
            }
            s->window |= 1ull << back;
        }
        s->late++;
        s->received++;
        return RTP_SEQ_LATE;
    }
    s->received++;
    s_jitter(s, ts, arrival_us);
    return rc;
}

uint32_t rtp_rx_stats_ext_max(const rtp_rx_stats_t *s)
{
    return s->cycles + s->max_seq;
}

static uint32_t s_expected(const rtp_rx_stats_t *s)
{
    return rtp_rx_stats_ext_max(s) - s->base_seq + 1;
}

int32_t rtp_rx_stats_lost(const rtp_rx_stats_t *s)
{
    if (!s->received)
        return 0;
    int64_t lost = (int64_t)s_expected(s) - s->received;
    if (lost > 0x7fffff)
        lost = 0x7fffff;
    if (lost < -0x800000)
        lost = -0x800000;
    return (int32_t)lost;
}

uint8_t rtp_rx_stats_fraction_lost(rtp_rx_stats_t *s)
{
    if (!s->received)
        return 0;
    uint32_t expected = s_expected(s);
    uint32_t expected_interval = expected - s->expected_prior;
    uint32_t received_interval = s->received - s->received_prior;
    s->expected_prior = expected;
    s->received_prior = s->received;
    int64_t lost_interval = (int64_t)expected_interval - received_interval;
    if (expected_interval == 0 || lost_interval <= 0)
        return 0;
    int64_t f = (lost_interval << 8) / expected_interval;
    return f > 255 ? 255 : (uint8_t)f;
}

uint32_t rtp_rx_stats_jitter(const rtp_rx_stats_t *s)
{
    return s->jitter_q4 >> 4;
}

/* ---- VP8 ------------------------------------------------------------------------ */

int vp8_desc_parse(const uint8_t *p, size_t len, vp8_desc_t *d, const char **reason)
{
    memset(d, 0, sizeof *d);
    if (!p || len < 1)
        S_FAIL("empty VP8 payload");
    d->x = p[0] & 0x80;
    d->n = p[0] & 0x20;
    d->s = p[0] & 0x10;
    d->pid = p[0] & 0x07;
    size_t off = 1;
    if (d->x) {
        if (off >= len)
            S_FAIL("VP8 descriptor truncated");
        uint8_t x = p[off++];
        bool i = x & 0x80, l = x & 0x40, t = x & 0x20, k = x & 0x10;
        if (i) {
            if (off >= len)
                S_FAIL("VP8 descriptor truncated");
            d->has_picture_id = true;
            if (p[off] & 0x80) {
                if (off + 1 >= len)
                    S_FAIL("VP8 descriptor truncated");
                d->picture_id_15 = true;
                d->picture_id = (uint16_t)((p[off] & 0x7f) << 8 | p[off + 1]);
                off += 2;
            } else {
                d->picture_id = p[off] & 0x7f;
                off += 1;
            }
        }
        if (l) {
            if (off >= len)
                S_FAIL("VP8 descriptor truncated");
            d->has_tl0picidx = true;
            d->tl0picidx = p[off++];
        }
        if (t || k) {
            if (off >= len)
                S_FAIL("VP8 descriptor truncated");
            uint8_t b = p[off++];
            if (t) {
                d->has_tid = true;
                d->tid = b >> 6;
                d->y = b & 0x20;
            }
            if (k) {
                d->has_keyidx = true;
                d->keyidx = b & 0x1f;
            }
        }
    }
    if (off >= len)
        S_FAIL("VP8 payload without data");
    d->desc_len = off;
    d->payload = p + off;
    d->payload_len = len - off;
    return 0;
}

bool vp8_is_keyframe(const uint8_t *frame, size_t len)
{
    return frame && len >= 3 && !(frame[0] & 0x01);
}

int vp8_keyframe_size(const uint8_t *f, size_t len, uint16_t *width, uint16_t *height,
                      uint8_t *hscale, uint8_t *vscale)
{
    /* frame tag (3 bytes): P bit 0 = keyframe, version 0-3; then start code */
    if (!f || len < 10 || (f[0] & 0x01) || ((f[0] >> 1) & 0x07) > 3)
        return -1;
    if (f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a)
        return -1;
    uint16_t w = (uint16_t)(f[6] | f[7] << 8), h = (uint16_t)(f[8] | f[9] << 8);
    if (!(w & 0x3fff) || !(h & 0x3fff))
        return -1;
    if (width)
        *width = w & 0x3fff;
    if (height)
        *height = h & 0x3fff;
    if (hscale)
        *hscale = (uint8_t)(w >> 14);
    if (vscale)
        *vscale = (uint8_t)(h >> 14);
    return 0;
}

/* ---- VP8 frame assembler ------------------------------------------------------------ */

struct vp8_assembler_t {
    uint8_t *buf;
    size_t cap, len, max;
    bool collecting;            /* a frame is under way */
    uint32_t ts;
    bool have_last;
    uint16_t last_seq;          /* last packet taken, for gap detection */
    bool waiting_key;
    bool ready;
    vp8_frame_info_t info;
    uint64_t frames, dropped;
};

vp8_assembler_t *vp8_assembler_new(size_t max_frame)
{
    vp8_assembler_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->max = max_frame ? max_frame : VP8_MAX_FRAME_DEFAULT;
    self->waiting_key = true; /* a decoder starts from a keyframe */
    return self;
}

void vp8_assembler_destroy(vp8_assembler_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->buf);
    free(*self_p);
    *self_p = NULL;
}

/* Drops the frame under way (or a frame lost whole): decoding must resume
 * from a keyframe. */
static int s_drop(vp8_assembler_t *self)
{
    self->collecting = false;
    self->waiting_key = true;
    self->dropped++;
    return VP8_ASM_NEED_KEYFRAME;
}

static bool s_append(vp8_assembler_t *self, const uint8_t *data, size_t n)
{
    if (n > self->max - self->len)
        return false;
    if (self->len + n > self->cap) {
        size_t cap = self->cap ? self->cap : 16384;
        while (cap < self->len + n)
            cap *= 2;
        if (cap > self->max)
            cap = self->max;
        uint8_t *b = realloc(self->buf, cap);
        if (!b)
            return false;
        self->buf = b;
        self->cap = cap;
    }
    memcpy(self->buf + self->len, data, n);
    self->len += n;
    return true;
}

int vp8_assembler_push(vp8_assembler_t *self, const rtp_packet_t *pkt, const char **reason)
{
    self->ready = false;
    vp8_desc_t d;
    if (!pkt)
        return -1;
    /* Padding-only packets (libwebrtc's bandwidth probes when RTX is not
     * negotiated) carry no VP8 but use sequence numbers: account for them
     * like any packet so they do not look like a loss. A malformed payload
     * is not accounted: the next packet sees the gap and drops its frame. */
    bool padding_only = pkt->payload_len == 0 && pkt->padding;
    if (!padding_only && vp8_desc_parse(pkt->payload, pkt->payload_len, &d, reason) < 0)
        return -1;
    int16_t step = (int16_t)(pkt->seq - self->last_seq);
    if (self->have_last && step <= 0 && step > -1000)
        return VP8_ASM_PENDING; /* duplicate or too late: the frame moved on */
    /* a big step back is a sender restarting its sequence: a gap like any other */
    bool gap = self->have_last && pkt->seq != (uint16_t)(self->last_seq + 1);
    self->have_last = true;
    self->last_seq = pkt->seq;

    int rc = VP8_ASM_PENDING;
    if (self->collecting && (gap || pkt->ts != self->ts))
        rc = s_drop(self); /* lost a middle packet, or the tail (new timestamp) */
    else if (!self->collecting && gap)
        rc = s_drop(self); /* lost packets between frames: maybe a whole frame */
    if (padding_only)
        return rc;

    if (!self->collecting) {
        if (!d.s || d.pid != 0)
            return rc; /* the rest of a frame whose start we do not have */
        self->collecting = true;
        self->ts = pkt->ts;
        self->len = 0;
        self->info = (vp8_frame_info_t){ .ts = pkt->ts, .first_seq = pkt->seq,
                                         .has_picture_id = d.has_picture_id,
                                         .picture_id = d.picture_id };
    }
    if (!s_append(self, d.payload, d.payload_len)) {
        if (reason)
            *reason = "VP8 frame too large";
        return s_drop(self);
    }
    if (!pkt->marker)
        return rc;

    self->collecting = false;
    self->info.last_seq = pkt->seq;
    self->info.keyframe = vp8_is_keyframe(self->buf, self->len) &&
                          vp8_keyframe_size(self->buf, self->len, &self->info.width,
                                            &self->info.height, NULL, NULL) == 0;
    if (self->info.keyframe)
        self->waiting_key = false;
    if (self->waiting_key) {
        self->dropped++;
        return VP8_ASM_NEED_KEYFRAME;
    }
    self->frames++;
    self->ready = true;
    return VP8_ASM_FRAME;
}

const uint8_t *vp8_assembler_frame(vp8_assembler_t *self, size_t *len, vp8_frame_info_t *info)
{
    if (!self || !self->ready)
        return NULL;
    if (len)
        *len = self->len;
    if (info)
        *info = self->info;
    return self->buf;
}

bool vp8_assembler_waiting_keyframe(const vp8_assembler_t *self)
{
    return self->waiting_key;
}

void vp8_assembler_counts(const vp8_assembler_t *self, uint64_t *frames, uint64_t *dropped)
{
    if (frames)
        *frames = self->frames;
    if (dropped)
        *dropped = self->dropped;
}
