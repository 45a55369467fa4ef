/* codec_session — one caller's media state in the codec service: the Opus
 * decoder and resampler for what the caller says, and the resampler, queue
 * and Opus encoder for what the agent says back.
 *
 * No bus here: main.c feeds events in and publishes what comes out, so this
 * logic is unit-tested on its own (session_test.c). */
#ifndef VOXMESH_CODEC_SESSION_H
#define VOXMESH_CODEC_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include "pcm.h"
#include "turn_cut.h"
#include "sentence_dedup.h"

typedef struct codec_session_t codec_session_t;

typedef struct {
    uint32_t out_rate;       /* PCM rate for the consumers of inbound audio */
    uint32_t out_channels;
    int bitrate;             /* outbound Opus */
    bool dtx;
    bool fec;
    int complexity;          /* outbound Opus, 0..10: CPU against quality */
    bool low_delay;          /* outbound Opus CELT-only: 4 ms less delay, no FEC */
    uint32_t max_conceal_ms; /* beyond this gap the decoder starts over */
    uint32_t queue_ms;       /* outbound buffer limit */
} codec_config_t;

typedef struct {
    uint64_t packets_in, packets_lost, concealed_ms, fec_recovered, decode_errors, late_packets;
    uint64_t packets_out, dtx_packets, pcm_rejected, queue_dropped_frames;
} codec_stats_t;

void codec_config_defaults(codec_config_t *cfg);

codec_session_t *codec_session_new(const char *id, const codec_config_t *cfg);
void codec_session_destroy(codec_session_t **self_p);
const char *codec_session_id(const codec_session_t *self);

/* Decodes one inbound Opus packet with its RTP sequence number; a gap in the
 * sequence is concealed first (FEC from this packet when it carries it, PLC
 * otherwise). Returns the PCM at the configured rate, or NULL (late or
 * duplicate packet, corrupt packet: counted; *error says why when set). */
pcm_t *codec_session_decode(codec_session_t *self, const uint8_t *pkt, size_t len, uint32_t rtp_seq,
                            const char **error);

/* Queues outbound PCM (any valid rate/channels/format) for encoding. Returns
 * 0, or -EINVAL with *error set for audio that makes no sense. */
int codec_session_put(codec_session_t *self, uint32_t rate, uint32_t channels, int fmt,
                      const void *bytes, size_t len, const char **error);

/* Encodes the next 20 ms when that much is queued: returns the packet length
 * (written to out) and its RTP timestamp, 0 when less than a frame is queued,
 * negative on error. */
int codec_session_encode(codec_session_t *self, uint8_t *out, size_t max, uint32_t *rtp_ts);

/* Barge-in: drops every queued outbound sample at once. */
void codec_session_flush(codec_session_t *self);

codec_stats_t codec_session_stats(const codec_session_t *self);

/* The session's cut agent turns (turn_cut.h): main.c drops outbound audio of
 * a cut turn before it is queued. */
turn_cut_t *codec_session_turns(codec_session_t *self);
/* What of the agent's sentences arrived (sentence_dedup.h). */
sentence_dedup_t *codec_session_sentences(codec_session_t *self);

#endif
