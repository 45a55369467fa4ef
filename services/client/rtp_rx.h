/* rtp_rx — the edge's audio as it arrives over RTP: receiver statistics
 * (loss, jitter: RFC 3550 A.1/A.3/A.8 via rtp_rx_stats_t), Opus decoding
 * with loss concealment, and placement on the recorder's timeline.
 *
 * Placement follows the RTP timestamps: the first packet is put where it
 * arrived (recorder.h), every later one at the first one's
 * position plus its timestamp difference, the way a playout buffer would.
 * A gap in sequence numbers is concealed (FEC from the packet after the gap
 * when it has some, PLC otherwise) before that packet is decoded; packets
 * that arrive after their gap was concealed are counted and dropped. */
#ifndef VOXMESH_CLIENT_RTP_RX_H
#define VOXMESH_CLIENT_RTP_RX_H

#include <stdint.h>

#include "recorder.h"
#include "rtc/rtp.h"

typedef struct rtp_rx rtp_rx_t;

typedef struct {
    uint64_t packets;           /* RTP packets of the audio payload type */
    uint64_t decoded;           /* decoded and recorded */
    uint64_t concealed;         /* lost packets concealed (PLC or FEC) */
    uint64_t fec;               /* of which rebuilt from FEC */
    uint64_t late;              /* arrived after their gap was concealed */
    uint64_t duplicates;
    uint64_t errors;            /* undecodable payloads */
    uint64_t other_pt;          /* other payload types, ignored */
    uint64_t ts_jumps;          /* in-order packets whose timestamp did not follow on */
} rtp_rx_counts_t;

/* Creates a receiver for Opus payload type `pt` decoding into `rec` (at the
 * recorder's rate, mono). The recorder is borrowed. Returns NULL on ENOMEM. */
rtp_rx_t *rtp_rx_new(int pt, recorder_t *rec);

/* Frees the receiver and sets *p to NULL. */
void rtp_rx_destroy(rtp_rx_t **p);

/* Accounts and decodes one packet that arrived at `arrival_us` (monotonic). */
void rtp_rx_packet(rtp_rx_t *rx, const rtp_packet_t *pkt, int64_t arrival_us);

/* The statistics of the current source (NULL before the first packet):
 * rtp_rx_stats_lost(), rtp_rx_stats_jitter() (48 kHz units), and what
 * rtcp_report_block_fill() / rtcp_note_sr() work on. */
rtp_rx_stats_t *rtp_rx_stats(rtp_rx_t *rx);

void rtp_rx_counts(const rtp_rx_t *rx, rtp_rx_counts_t *out);

#endif
