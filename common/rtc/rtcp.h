/* rtcp — RTCP (RFC 3550) with the feedback WebRTC uses (RFC 4585 NACK and
 * PLI, RFC 5104 FIR, REMB kept opaque): compound packet parsing and
 * validation, and builders for what we send.
 *
 * Parsed packets are views into the caller's buffer. Builders write into a
 * caller buffer and return the bytes written, or -1 when it does not fit or
 * an argument is out of range; concatenate them to make a compound packet
 * (it must start with SR or RR and carry an SDES CNAME: rtcp_write_report()). */
#ifndef VOXMESH_RTC_RTCP_H
#define VOXMESH_RTC_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtc/rtp.h"

enum {
    RTCP_SR = 200, RTCP_RR = 201, RTCP_SDES = 202, RTCP_BYE = 203, RTCP_APP = 204,
    RTCP_RTPFB = 205, RTCP_PSFB = 206, RTCP_XR = 207,
};
enum { RTCP_RTPFB_NACK = 1, RTCP_RTPFB_TWCC = 15 };
enum { RTCP_PSFB_PLI = 1, RTCP_PSFB_FIR = 4, RTCP_PSFB_AFB = 15 };

#define RTCP_MAX_RB        31   /* the 5-bit count */
#define RTCP_MAX_CHUNKS    31
#define RTCP_MAX_FIR       32   /* FIR entries kept; more are ignored */

typedef struct {
    uint32_t ssrc;              /* source this block reports on */
    uint8_t fraction_lost;      /* 1/256 */
    int32_t cumulative_lost;    /* 24-bit signed */
    uint32_t ext_highest_seq;
    uint32_t jitter;            /* timestamp units */
    uint32_t lsr;               /* middle 32 bits of the last SR's NTP time */
    uint32_t dlsr;              /* 1/65536 s since that SR */
} rtcp_report_block_t;

typedef struct {
    uint32_t ssrc;
    uint64_t ntp;               /* NTP 32.32 wall clock */
    uint32_t rtp_ts;
    uint32_t packet_count;
    uint32_t octet_count;
} rtcp_sr_t;

typedef struct {
    uint32_t ssrc;
    const char *cname;          /* not NUL-terminated: cname_len bytes; NULL if no CNAME */
    size_t cname_len;
} rtcp_sdes_chunk_t;

typedef struct {
    uint32_t ssrc;
    uint8_t seq_nr;
} rtcp_fir_entry_t;

/* One packet of a compound. Fields are filled according to pt (and fmt). */
typedef struct {
    uint8_t pt;                 /* RTCP_SR...; other values are kept opaque */
    uint8_t fmt;                /* the 5-bit count / FMT field */
    const uint8_t *data;        /* the whole packet, header included, no padding */
    size_t len;
    uint32_t sender_ssrc;       /* SR, RR, RTPFB, PSFB */
    rtcp_sr_t sr;               /* SR: sender info (sr.ssrc == sender_ssrc) */
    rtcp_report_block_t rb[RTCP_MAX_RB]; /* SR, RR */
    int rb_count;
    rtcp_sdes_chunk_t chunks[RTCP_MAX_CHUNKS]; /* SDES */
    int chunk_count;
    uint32_t bye_ssrc[RTCP_MAX_CHUNKS]; /* BYE */
    int bye_count;
    const char *bye_reason;     /* not NUL-terminated, NULL if none */
    size_t bye_reason_len;
    uint32_t media_ssrc;        /* RTPFB, PSFB */
    const uint8_t *fci;         /* feedback control information, RTPFB/PSFB */
    size_t fci_len;
    int nack_count;             /* RTPFB NACK: number of PID/BLP items in fci */
    rtcp_fir_entry_t fir[RTCP_MAX_FIR]; /* PSFB FIR */
    int fir_count;
    bool remb;                  /* PSFB AFB whose FCI starts with "REMB" (opaque) */
} rtcp_packet_t;

/* Parses and validates a compound packet (RFC 3550 A.2: version 2, lengths
 * that add up, padding only on the last packet; per-type sizes). Reduced-size
 * packets (RFC 5506) are accepted: the first need not be SR/RR. Fills up to
 * max packets (the rest are still validated). Returns the number of packets
 * in the compound, or -1 + reason. */
int rtcp_parse(const uint8_t *buf, size_t len, rtcp_packet_t *pkts, int max, const char **reason);

/* Expands a NACK's items into sequence numbers. Returns how many were
 * written (at most max). */
int rtcp_nack_seqs(const rtcp_packet_t *pkt, uint16_t *out, int max);

/* ---- builders ------------------------------------------------------------------ */

int rtcp_write_sr(uint8_t *buf, size_t size, const rtcp_sr_t *sr,
                  const rtcp_report_block_t *rb, int n);
int rtcp_write_rr(uint8_t *buf, size_t size, uint32_t ssrc,
                  const rtcp_report_block_t *rb, int n);
/* SDES with one chunk holding a CNAME (1-255 bytes). */
int rtcp_write_sdes_cname(uint8_t *buf, size_t size, uint32_t ssrc, const char *cname);
int rtcp_write_bye(uint8_t *buf, size_t size, const uint32_t *ssrcs, int n);
/* Picture Loss Indication (RFC 4585 6.3.1). */
int rtcp_write_pli(uint8_t *buf, size_t size, uint32_t sender_ssrc, uint32_t media_ssrc);
/* Full Intra Request (RFC 5104 4.3.1); seq_nr increases with each new request. */
int rtcp_write_fir(uint8_t *buf, size_t size, uint32_t sender_ssrc, uint32_t media_ssrc,
                   uint8_t seq_nr);
/* Generic NACK (RFC 4585 6.2.1) for the given sequence numbers, any order. */
int rtcp_write_nack(uint8_t *buf, size_t size, uint32_t sender_ssrc, uint32_t media_ssrc,
                    const uint16_t *seqs, int n);

/* The start of every compound we send: SR when sr is not NULL (its ssrc is
 * ours), else RR from `ssrc`; then SDES CNAME. */
int rtcp_write_report(uint8_t *buf, size_t size, const rtcp_sr_t *sr, uint32_t ssrc,
                      const rtcp_report_block_t *rb, int n, const char *cname);

/* ---- time and statistics ---------------------------------------------------------- */

/* NTP 32.32 timestamp from Unix time in microseconds. */
uint64_t rtcp_ntp_from_unix_us(int64_t unix_us);

/* The middle 32 bits of an NTP timestamp (LSR, RTT arithmetic). */
uint32_t rtcp_ntp_mid32(uint64_t ntp);

/* Remembers an SR from a source we receive, for LSR/DLSR in our reports.
 * arrival_us is on the clock later given to rtcp_report_block_fill(). */
void rtcp_note_sr(rtp_rx_stats_t *s, const rtcp_packet_t *sr, int64_t arrival_us);

/* Fills a report block on a source from its statistics; starts a new loss
 * interval (fraction lost). */
void rtcp_report_block_fill(rtcp_report_block_t *rb, rtp_rx_stats_t *s, int64_t now_us);

/* Round-trip time from a report block on our stream received at
 * arrival_ntp (RFC 3550 6.4.1: A - LSR - DLSR). Returns microseconds, or -1
 * when the block has no LSR or the result is negative. */
int64_t rtcp_rtt_us(const rtcp_report_block_t *rb, uint64_t arrival_ntp);

#endif
