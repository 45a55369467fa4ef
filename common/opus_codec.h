/* opus_codec — Opus encoder and decoder objects on plain interleaved int16_t
 * buffers (libopus underneath).
 *
 * Sizes are counted in frames: one frame is one sample per channel, so a
 * buffer of `n` frames holds n * channels int16_t values.
 *
 * Errors are negative errno values: -EINVAL (bad argument), -EBADMSG (packet
 * that is not valid Opus), -ENOBUFS (output buffer too small), -EIO (libopus
 * internal error), -ENOMEM. Nothing here logs: the caller counts and logs
 * (rate-limited when a peer can trigger it). See docs/codecs.md. */
#ifndef VOXMESH_OPUS_CODEC_H
#define VOXMESH_OPUS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest Opus packet duration (120 ms) in frames at 48 kHz; sizes the output
 * buffer of a decoder that may receive any legal packet. */
#define OPUS_CODEC_MAX_FRAMES_48K 5760
/* Largest packet the encoder is asked to produce (RFC 6716: 1275 bytes per
 * frame, at most three 20 ms frames for a 60 ms packet, plus framing). */
#define OPUS_CODEC_MAX_PACKET 4000

/* True for the rates libopus can encode and decode at. */
bool opus_rate_valid(int rate);

/* Duration of a packet in frames at `rate`, or -EBADMSG when the packet's
 * framing is invalid (also checks the whole packet parses, not just the TOC
 * byte), -EINVAL for a bad rate. */
int opus_packet_duration(const uint8_t *pkt, size_t len, int rate);

/* 0 when the packet is structurally valid Opus (RFC 6716 section 3 framing,
 * at most 120 ms), -EBADMSG otherwise. A valid structure does not guarantee
 * the payload bits are sane: libopus decodes any such payload to something. */
int opus_packet_validate(const uint8_t *pkt, size_t len);

/* True when the packet carries in-band FEC (SILK LBRR data) for the packet
 * before it. Always false for CELT-only packets. */
bool opus_packet_has_fec(const uint8_t *pkt, size_t len);

/* ---- decoder ----------------------------------------------------------------- */

typedef struct _opus_dec_t opus_dec_t;

typedef struct {
    uint64_t packets;        /* decoded normally */
    uint64_t concealed;      /* opus_dec_conceal() calls answered by PLC only */
    uint64_t recovered;      /* opus_dec_conceal() calls that used FEC */
    uint64_t errors;         /* packets rejected as corrupt */
} opus_dec_stats_t;

/* Creates a decoder producing `channels` (1 or 2) at `rate` (8000, 12000,
 * 16000, 24000 or 48000). Returns NULL with errno set on bad arguments. */
opus_dec_t *opus_dec_new(int rate, int channels);

/* Destroys the decoder and sets *self_p to NULL. */
void opus_dec_destroy(opus_dec_t **self_p);

int opus_dec_rate(const opus_dec_t *self);
int opus_dec_channels(const opus_dec_t *self);

/* Decodes one packet into `out` (room for `max_frames` frames). Returns the
 * number of frames written, or a negative error; a corrupt packet leaves the
 * decoder usable and is counted in the stats. An empty packet is an error: a
 * missing packet is opus_dec_conceal()'s job. */
int opus_dec_decode(opus_dec_t *self, const uint8_t *pkt, size_t len,
                    int16_t *out, int max_frames);

/* Produces `frames` frames (a multiple of 2.5 ms, i.e. of rate/400; 0 means
 * one packet as long as the last one) for audio that never arrived. When
 * `next` (the packet after the gap) is given and carries FEC, the last
 * packet-duration of the gap is rebuilt from it and the rest is PLC;
 * otherwise all of it is PLC. Either way `next` is not consumed:
 * decode it with opus_dec_decode() afterwards. Returns the frames written
 * or a negative error; *used_fec (may be NULL) tells which path was taken. */
int opus_dec_conceal(opus_dec_t *self, const uint8_t *next, size_t next_len,
                     int16_t *out, int frames, bool *used_fec);

/* Frames of the last decoded packet (what a PLC call would naturally produce),
 * or 20 ms worth before the first packet. */
int opus_dec_last_duration(const opus_dec_t *self);

/* Forgets the stream history (new talk spurt after a long gap, new source). */
void opus_dec_reset(opus_dec_t *self);

void opus_dec_stats(const opus_dec_t *self, opus_dec_stats_t *stats);

/* ---- encoder ----------------------------------------------------------------- */

typedef struct _opus_enc_t opus_enc_t;

typedef struct {
    int rate;          /* input rate: 8000, 12000, 16000, 24000, 48000 */
    int channels;      /* 1 or 2 */
    int frame_ms;      /* 10, 20, 40 or 60 */
    int bitrate;       /* bits per second, 0 = libopus default for the setup */
    bool fec;          /* in-band FEC (LBRR): each packet carries a low-rate copy of the previous one */
    int loss_pct;      /* expected packet loss 0..100; FEC is only spent when > 0 */
    bool dtx;          /* discontinuous transmission: ~1-byte packets on silence */
    int complexity;    /* 0..10 */
    bool low_delay;    /* CELT only (RESTRICTED_LOWDELAY): 2.5 ms of look-ahead instead of
                          6.5 ms, at the cost of SILK's quality at low bitrates and its FEC */
} opus_enc_config_t;

/* Fills in the voice defaults: 48 kHz mono, 20 ms, 32 kbit/s, FEC on at 10 %
 * expected loss, DTX off, complexity 9. */
void opus_enc_config_defaults(opus_enc_config_t *cfg);

/* Creates a VOIP-application encoder. Returns NULL with errno set when the
 * configuration is invalid. */
opus_enc_t *opus_enc_new(const opus_enc_config_t *cfg);

/* Destroys the encoder and sets *self_p to NULL. */
void opus_enc_destroy(opus_enc_t **self_p);

/* Frames per packet: rate * frame_ms / 1000. opus_enc_encode() takes exactly
 * that many. */
int opus_enc_frame_size(const opus_enc_t *self);

/* Encoder delay in frames at 48 kHz: the Ogg pre-skip, and how far decoded
 * audio lags the input. */
int opus_enc_lookahead(const opus_enc_t *self);

/* Encodes one packet's worth of interleaved input (opus_enc_frame_size()
 * frames) into `out`. Returns the packet length in bytes or a negative error.
 * With DTX, silence gives packets of 1-2 bytes (see opus_enc_last_was_dtx);
 * the caller may skip sending those. */
int opus_enc_encode(opus_enc_t *self, const int16_t *pcm, uint8_t *out, size_t max_len);

/* True when the last packet was a DTX packet (1-2 bytes, no audio). */
bool opus_enc_last_was_dtx(const opus_enc_t *self);

/* Runtime changes, e.g. from congestion or loss feedback. 0 or -EINVAL. */
int opus_enc_set_bitrate(opus_enc_t *self, int bitrate);
int opus_enc_set_loss_pct(opus_enc_t *self, int loss_pct);

#endif
