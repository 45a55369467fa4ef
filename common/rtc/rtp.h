/* rtp — RTP packets (RFC 3550) on a WebRTC transport: header parsing and
 * building with header extensions (RFC 8285), demultiplexing of what arrives
 * on the one ICE socket (RFC 7983, RFC 5761), receiver statistics (RFC 3550
 * A.1, A.3, A.8), RTX unwrapping (RFC 4588), and VP8 (RFC 7741): payload
 * descriptor, keyframe header (RFC 6386) and a frame assembler.
 *
 * Pure functions over byte buffers, no sockets, no allocation except in the
 * assembler. Parsed views point into the caller's buffer. Failures return -1
 * and, when the caller passes `reason`, a static string saying why. */
#ifndef VOXMESH_RTC_RTP_H
#define VOXMESH_RTC_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTP_HEADER_MIN   12
#define RTP_MAX_CSRC     15
#define RTP_MAX_PACKET   1500   /* what we build into; parsing accepts any length */

/* A parsed RTP packet: a view into the buffer given to rtp_parse(). */
typedef struct {
    uint8_t version;            /* always 2 once parsed */
    bool padding, extension, marker;
    uint8_t csrc_count;
    uint8_t pt;
    uint16_t seq;
    uint32_t ts;
    uint32_t ssrc;
    uint32_t csrc[RTP_MAX_CSRC];
    uint16_t ext_profile;       /* 0xBEDE one-byte, 0x100x two-byte (RFC 8285) */
    const uint8_t *ext;         /* extension data after its 4-byte header, NULL if none */
    size_t ext_len;             /* bytes, a multiple of 4 */
    size_t header_len;          /* fixed header + CSRCs + extension */
    const uint8_t *payload;
    size_t payload_len;         /* without padding */
    uint8_t padding_len;
} rtp_packet_t;

/* Parses and validates an RTP packet (version 2, CSRC/extension/padding
 * lengths). Returns 0, or -1 and the reason. */
int rtp_parse(const uint8_t *buf, size_t len, rtp_packet_t *pkt, const char **reason);

/* Writes the header of `hdr` (fixed part, CSRCs, extension from ext_profile/
 * ext/ext_len; padding and payload fields are ignored) into buf. Returns the
 * header length, or -1 when buf is too small or a field is out of range. */
int rtp_header_write(const rtp_packet_t *hdr, uint8_t *buf, size_t size);

/* ---- header extensions (RFC 8285) ----------------------------------------- */

#define RTP_EXT_ONE_BYTE 0xBEDE
#define RTP_EXT_TWO_BYTE 0x1000 /* the low 4 bits are "appbits" */

typedef struct {
    uint8_t id;                 /* 1-14 (one-byte) or 1-255 (two-byte) */
    uint8_t len;                /* data bytes: 1-16 one-byte, 0-255 two-byte */
    const uint8_t *data;
} rtp_ext_t;

/* Splits the packet's extension block into elements. Returns the number
 * found (at most max, the rest is ignored), 0 when there is no extension or
 * an unknown profile, -1 when an element overruns the block. */
int rtp_ext_parse(const rtp_packet_t *pkt, rtp_ext_t *out, int max, const char **reason);

/* Finds the element with `id`. Returns true and fills out when present. */
bool rtp_ext_find(const rtp_packet_t *pkt, uint8_t id, rtp_ext_t *out);

/* Writes extension elements as an RFC 8285 block body, zero-padded to 4
 * bytes; one-byte form when every id is 1-14 and len 1-16, else two-byte.
 * Sets *profile. Returns the length, or -1 when it does not fit. */
int rtp_ext_write(const rtp_ext_t *ext, int n, uint8_t *buf, size_t size, uint16_t *profile);

/* ---- demultiplexing (RFC 7983, RFC 5761) ------------------------------------ */

typedef enum {
    RTC_PKT_UNKNOWN = 0,
    RTC_PKT_STUN,               /* first byte 0-3 */
    RTC_PKT_DTLS,               /* 20-63 */
    RTC_PKT_RTP,                /* 128-191, second byte & 0x7f not 64-95 */
    RTC_PKT_RTCP,               /* 128-191, payload type 192-223 */
} rtc_pkt_kind_t;

/* Tells what arrived on the ICE transport from its first bytes. */
rtc_pkt_kind_t rtc_demux(const uint8_t *buf, size_t len);

/* ---- RTX (RFC 4588) ---------------------------------------------------------- */

/* Turns a parsed retransmission into the original packet in place: the
 * sequence number comes from the 2-byte OSN that starts the payload, the
 * payload type and SSRC from the caller (the rtx's apt and the media SSRC).
 * Returns 0, or -1 when the payload is too short. */
int rtp_rtx_unwrap(rtp_packet_t *pkt, uint8_t media_pt, uint32_t media_ssrc);

/* ---- receiver statistics (RFC 3550 A.1, A.3, A.8) ----------------------------- */

/* What rtp_rx_stats_update() says about a packet. */
enum {
    RTP_SEQ_JUMP = -1,          /* far from the expected number: dropped until confirmed */
    RTP_SEQ_PROBATION = 0,      /* source not validated yet (first packets) */
    RTP_SEQ_OK = 1,             /* in order, counted */
    RTP_SEQ_LATE = 2,           /* older than the highest seen, counted */
    RTP_SEQ_DUPLICATE = 3,      /* already received: not counted */
    RTP_SEQ_RESTART = 4,        /* the source restarted its sequence: stats reset */
};

typedef struct {
    uint32_t ssrc;
    uint32_t clock_rate;        /* Hz, for jitter */
    bool started;               /* a first packet was seen */
    uint16_t max_seq;           /* highest sequence number seen */
    uint32_t cycles;            /* shifted count of wraps (RFC 3550 A.1) */
    uint32_t base_seq;
    uint32_t bad_seq;
    uint32_t probation;
    uint32_t received;          /* packets counted, duplicates excluded */
    uint32_t expected_prior, received_prior; /* at the last report (A.3) */
    uint64_t window;            /* bit i: max_seq - i received (duplicate detection) */
    uint32_t duplicates, late, restarts;
    /* jitter (A.8), in timestamp units, scaled by 16 as in the RFC's integer form */
    uint32_t jitter_q4;
    uint32_t transit;           /* arrival - timestamp of the last in-order packet */
    bool have_transit;
    /* last SR from this source, for LSR/DLSR in our report block */
    uint32_t lsr;               /* middle 32 bits of its NTP timestamp, 0: none */
    int64_t lsr_arrival_us;
} rtp_rx_stats_t;

/* Starts statistics for a source; the first packet starts its probation. */
void rtp_rx_stats_init(rtp_rx_stats_t *s, uint32_t ssrc, uint32_t clock_rate);

/* Accounts one packet (RFC 3550 A.1 update_seq with MIN_SEQUENTIAL 2,
 * MAX_DROPOUT 3000, MAX_MISORDER 100) and, for in-order packets, the
 * interarrival jitter from its RTP timestamp and arrival time (monotonic
 * microseconds). Returns one of RTP_SEQ_*. */
int rtp_rx_stats_update(rtp_rx_stats_t *s, uint16_t seq, uint32_t ts, int64_t arrival_us);

/* Extended highest sequence number received (cycles + max_seq). */
uint32_t rtp_rx_stats_ext_max(const rtp_rx_stats_t *s);

/* Cumulative number of packets lost (RFC 3550 A.3), clamped to 24-bit signed
 * as in a report block; negative when duplicates were counted by a peer. */
int32_t rtp_rx_stats_lost(const rtp_rx_stats_t *s);

/* Fraction lost since the previous call, in 1/256 (A.3); starts a new interval. */
uint8_t rtp_rx_stats_fraction_lost(rtp_rx_stats_t *s);

/* Interarrival jitter in timestamp units (the report block's value). */
uint32_t rtp_rx_stats_jitter(const rtp_rx_stats_t *s);

/* ---- VP8 (RFC 7741, RFC 6386) ------------------------------------------------ */

/* The VP8 payload descriptor at the start of each RTP payload. */
typedef struct {
    bool x, n, s;               /* extended, non-reference frame, start of partition */
    uint8_t pid;                /* partition index */
    bool has_picture_id;
    bool picture_id_15;         /* 15-bit form (M bit) */
    uint16_t picture_id;
    bool has_tl0picidx;
    uint8_t tl0picidx;
    bool has_tid;
    uint8_t tid;
    bool y;                     /* layer sync */
    bool has_keyidx;
    uint8_t keyidx;
    size_t desc_len;            /* bytes of descriptor */
    const uint8_t *payload;     /* VP8 data after the descriptor */
    size_t payload_len;
} vp8_desc_t;

/* Parses the descriptor of a VP8 RTP payload. Returns 0, or -1 + reason. */
int vp8_desc_parse(const uint8_t *payload, size_t len, vp8_desc_t *d, const char **reason);

/* True when the VP8 frame (the data of the packet with S=1, PID=0, after the
 * descriptor) starts a keyframe: P bit of the frame tag is 0. */
bool vp8_is_keyframe(const uint8_t *frame, size_t len);

/* Reads the dimensions of a keyframe (RFC 6386 9.1: 3-byte frame tag, start
 * code 9d 01 2a, 14-bit width and height with 2-bit scale). Returns 0, or -1
 * when it is not a well-formed keyframe header. Scale pointers may be NULL. */
int vp8_keyframe_size(const uint8_t *frame, size_t len, uint16_t *width, uint16_t *height,
                      uint8_t *hscale, uint8_t *vscale);

/* ---- VP8 frame assembler ---------------------------------------------------- */

/* Collects the packets of one frame in order: a frame starts with S=1, PID=0,
 * shares one timestamp and ends with the marker bit. A gap in sequence
 * numbers drops the frame under way and any frame until the next keyframe,
 * since a decoder cannot use them: the caller should then send a PLI.
 * Packets are expected in order (put a jitter buffer in front). */
typedef struct vp8_assembler_t vp8_assembler_t;

#define VP8_MAX_FRAME_DEFAULT (1024 * 1024)

enum {
    VP8_ASM_PENDING = 0,        /* absorbed, no complete frame yet */
    VP8_ASM_FRAME = 1,          /* a frame is ready: vp8_assembler_frame() */
    VP8_ASM_NEED_KEYFRAME = 2,  /* a frame was dropped (loss, size, no keyframe yet) */
};

typedef struct {
    uint32_t ts;
    uint16_t first_seq, last_seq;
    bool keyframe;
    uint16_t width, height;     /* keyframes only, else 0 */
    bool has_picture_id;
    uint16_t picture_id;
} vp8_frame_info_t;

/* Creates an assembler holding frames up to max_frame bytes (0: default). */
vp8_assembler_t *vp8_assembler_new(size_t max_frame);

/* Destroys an assembler and nulls the pointer. */
void vp8_assembler_destroy(vp8_assembler_t **self_p);

/* Feeds one parsed RTP packet of the VP8 stream. Padding-only packets
 * (Chrome's probes without RTX) only advance the sequence. Returns
 * VP8_ASM_*, or -1 + reason for a packet that is not VP8 (it is ignored). */
int vp8_assembler_push(vp8_assembler_t *self, const rtp_packet_t *pkt, const char **reason);

/* The frame completed by the last push that returned VP8_ASM_FRAME, valid
 * until the next push; NULL otherwise. */
const uint8_t *vp8_assembler_frame(vp8_assembler_t *self, size_t *len, vp8_frame_info_t *info);

/* True while frames are dropped waiting for a keyframe (at start, after loss). */
bool vp8_assembler_waiting_keyframe(const vp8_assembler_t *self);

/* Counters: frames delivered and frames dropped. */
void vp8_assembler_counts(const vp8_assembler_t *self, uint64_t *frames, uint64_t *dropped);

#endif
