/* opus_codec — see opus_codec.h. */
#include "opus_codec.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <opus/opus.h>

/* TOC configurations 0..11 are SILK-only, 12..15 hybrid, 16..31 CELT-only
 * (RFC 6716 section 3.1). */
enum { S_MODE_NONE, S_MODE_SILK, S_MODE_HYBRID, S_MODE_CELT };

struct _opus_dec_t {
    OpusDecoder *dec;
    int rate;
    int channels;
    int last_frames;         /* duration of the last decoded packet */
    int last_mode;           /* S_MODE_* of the last decoded packet */
    opus_dec_stats_t stats;
};

struct _opus_enc_t {
    OpusEncoder *enc;
    opus_enc_config_t cfg;
    int frame_size;
    bool last_dtx;
};

static int s_errno_of(int opus_err)
{
    switch (opus_err) {
    case OPUS_BAD_ARG: return -EINVAL;
    case OPUS_BUFFER_TOO_SMALL: return -ENOBUFS;
    case OPUS_INVALID_PACKET: return -EBADMSG;
    case OPUS_ALLOC_FAIL: return -ENOMEM;
    case OPUS_UNIMPLEMENTED: return -ENOTSUP;
    default: return -EIO;
    }
}

static int s_toc_mode(uint8_t toc)
{
    int config = toc >> 3;
    return config < 12 ? S_MODE_SILK : config < 16 ? S_MODE_HYBRID : S_MODE_CELT;
}

bool opus_rate_valid(int rate)
{
    return rate == 8000 || rate == 12000 || rate == 16000 || rate == 24000 || rate == 48000;
}

int opus_packet_validate(const uint8_t *pkt, size_t len)
{
    /* opus_packet_parse() checks the framing (frame count, lengths, padding);
     * the 120 ms limit is checked separately because parse does not. The
     * length cap only keeps the opus_int32 conversion exact. */
    if (!pkt || len == 0 || len > INT32_MAX)
        return -EBADMSG;
    const unsigned char *frames[48];
    opus_int16 sizes[48];
    int n = opus_packet_parse(pkt, (opus_int32) len, NULL, frames, sizes, NULL);
    if (n <= 0)
        return -EBADMSG;
    int dur = opus_packet_get_nb_samples(pkt, (opus_int32) len, 48000);
    if (dur <= 0 || dur > OPUS_CODEC_MAX_FRAMES_48K)
        return -EBADMSG;
    return 0;
}

int opus_packet_duration(const uint8_t *pkt, size_t len, int rate)
{
    if (!opus_rate_valid(rate))
        return -EINVAL;
    if (opus_packet_validate(pkt, len) < 0)
        return -EBADMSG;
    return opus_packet_get_nb_samples(pkt, (opus_int32) len, rate);
}

bool opus_packet_has_fec(const uint8_t *pkt, size_t len)
{
    /* Same test as libopus 1.5's opus_packet_has_lbrr(), which 1.3 lacks. The
     * SILK frame header starts with one VAD flag per 20 ms SILK frame and then
     * the LBRR flag, each coded with probability 1/2, so for the first range
     * coder symbols they are plain bits of the first payload byte. */
    if (opus_packet_validate(pkt, len) < 0 || s_toc_mode(pkt[0]) == S_MODE_CELT)
        return false;
    const unsigned char *frames[48];
    opus_int16 sizes[48];
    if (opus_packet_parse(pkt, (opus_int32) len, NULL, frames, sizes, NULL) <= 0 || sizes[0] == 0)
        return false;
    int frame_size = opus_packet_get_samples_per_frame(pkt, 48000);
    int silk_frames = frame_size > 960 ? frame_size / 960 : 1;
    int lbrr = (frames[0][0] >> (7 - silk_frames)) & 1;
    if (opus_packet_get_nb_channels(pkt) == 2)
        lbrr |= (frames[0][0] >> (6 - 2 * silk_frames)) & 1;
    return lbrr != 0;
}

/* ---- decoder ----------------------------------------------------------------- */

opus_dec_t *opus_dec_new(int rate, int channels)
{
    if (!opus_rate_valid(rate) || (channels != 1 && channels != 2)) {
        errno = EINVAL;
        return NULL;
    }
    opus_dec_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    int err = OPUS_OK;
    self->dec = opus_decoder_create(rate, channels, &err);
    if (!self->dec || err != OPUS_OK) {
        free(self);
        errno = -s_errno_of(err);
        return NULL;
    }
    self->rate = rate;
    self->channels = channels;
    self->last_frames = rate / 50;
    return self;
}

void opus_dec_destroy(opus_dec_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    opus_decoder_destroy((*self_p)->dec);
    free(*self_p);
    *self_p = NULL;
}

int opus_dec_rate(const opus_dec_t *self)
{
    return self->rate;
}

int opus_dec_channels(const opus_dec_t *self)
{
    return self->channels;
}

int opus_dec_decode(opus_dec_t *self, const uint8_t *pkt, size_t len,
                    int16_t *out, int max_frames)
{
    if (!self || !out || max_frames <= 0)
        return -EINVAL;
    /* Validate before calling libopus so that a corrupt packet is reported as
     * such and never reaches the decoder state; the duration check also turns
     * "buffer too small" into a clear error instead of a partial decode. */
    int frames = opus_packet_duration(pkt, len, self->rate);
    if (frames < 0) {
        self->stats.errors++;
        return frames;
    }
    if (frames > max_frames)
        return -ENOBUFS;
    int n = opus_decode(self->dec, pkt, (opus_int32) len, out, max_frames, 0);
    if (n < 0) {
        self->stats.errors++;
        return s_errno_of(n);
    }
    self->last_frames = n;
    self->last_mode = s_toc_mode(pkt[0]);
    self->stats.packets++;
    return n;
}

int opus_dec_conceal(opus_dec_t *self, const uint8_t *next, size_t next_len,
                     int16_t *out, int frames, bool *used_fec)
{
    if (used_fec)
        *used_fec = false;
    if (!self || !out || frames < 0)
        return -EINVAL;
    if (frames == 0)
        frames = self->last_frames;
    /* libopus only conceals in whole 2.5 ms steps; rounding for the caller
     * would silently shift its timeline, so refuse instead. */
    if (frames % (self->rate / 400) != 0)
        return -EINVAL;

    /* FEC is usable when the next packet has LBRR data, the gap is at least
     * that packet's length (LBRR describes exactly one packet-duration before
     * it) and the decoder was not in CELT mode, whose state SILK LBRR cannot
     * continue. libopus applies the same rules and quietly falls back to PLC;
     * checking them here only serves to report which path was taken. */
    bool fec = false;
    if (next && next_len > 0 && opus_packet_has_fec(next, next_len)) {
        int next_frames = opus_packet_duration(next, next_len, self->rate);
        fec = next_frames > 0 && frames >= next_frames && self->last_mode != S_MODE_CELT;
    }
    int n;
    if (fec)
        n = opus_decode(self->dec, next, (opus_int32) next_len, out, frames, 1);
    else
        n = opus_decode(self->dec, NULL, 0, out, frames, 0);
    if (n < 0)
        return s_errno_of(n);
    if (fec) {
        self->stats.recovered++;
        self->last_mode = s_toc_mode(next[0]);
    } else {
        self->stats.concealed++;
    }
    if (used_fec)
        *used_fec = fec;
    return n;
}

int opus_dec_last_duration(const opus_dec_t *self)
{
    return self->last_frames;
}

void opus_dec_reset(opus_dec_t *self)
{
    opus_decoder_ctl(self->dec, OPUS_RESET_STATE);
    self->last_frames = self->rate / 50;
    self->last_mode = S_MODE_NONE;
}

void opus_dec_stats(const opus_dec_t *self, opus_dec_stats_t *stats)
{
    *stats = self->stats;
}

/* ---- encoder ----------------------------------------------------------------- */

void opus_enc_config_defaults(opus_enc_config_t *cfg)
{
    *cfg = (opus_enc_config_t) {
        .rate = 48000,
        .channels = 1,
        .frame_ms = 20,
        .bitrate = 32000,
        .fec = true,
        .loss_pct = 10,
        .dtx = false,
        .complexity = 9,
    };
}

static bool s_config_valid(const opus_enc_config_t *cfg)
{
    return cfg && opus_rate_valid(cfg->rate)
        && (cfg->channels == 1 || cfg->channels == 2)
        && (cfg->frame_ms == 10 || cfg->frame_ms == 20 || cfg->frame_ms == 40 || cfg->frame_ms == 60)
        && (cfg->bitrate == 0 || (cfg->bitrate >= 500 && cfg->bitrate <= 512000))
        && cfg->loss_pct >= 0 && cfg->loss_pct <= 100
        && cfg->complexity >= 0 && cfg->complexity <= 10;
}

opus_enc_t *opus_enc_new(const opus_enc_config_t *cfg)
{
    if (!s_config_valid(cfg)) {
        errno = EINVAL;
        return NULL;
    }
    opus_enc_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    int err = OPUS_OK;
    self->enc = opus_encoder_create(cfg->rate, cfg->channels,
                                    cfg->low_delay ? OPUS_APPLICATION_RESTRICTED_LOWDELAY : OPUS_APPLICATION_VOIP, &err);
    if (!self->enc || err != OPUS_OK) {
        free(self);
        errno = -s_errno_of(err);
        return NULL;
    }
    self->cfg = *cfg;
    self->frame_size = cfg->rate / 1000 * cfg->frame_ms;
    opus_encoder_ctl(self->enc, OPUS_SET_BITRATE(cfg->bitrate ? cfg->bitrate : OPUS_AUTO));
    opus_encoder_ctl(self->enc, OPUS_SET_INBAND_FEC(cfg->fec ? 1 : 0));
    opus_encoder_ctl(self->enc, OPUS_SET_PACKET_LOSS_PERC(cfg->loss_pct));
    opus_encoder_ctl(self->enc, OPUS_SET_DTX(cfg->dtx ? 1 : 0));
    opus_encoder_ctl(self->enc, OPUS_SET_COMPLEXITY(cfg->complexity));
    /* Voice: lets the encoder pick SILK/hybrid, the modes that carry FEC. */
    opus_encoder_ctl(self->enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
    return self;
}

void opus_enc_destroy(opus_enc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    opus_encoder_destroy((*self_p)->enc);
    free(*self_p);
    *self_p = NULL;
}

int opus_enc_frame_size(const opus_enc_t *self)
{
    return self->frame_size;
}

int opus_enc_lookahead(const opus_enc_t *self)
{
    opus_int32 la = 0;
    opus_encoder_ctl(self->enc, OPUS_GET_LOOKAHEAD(&la));
    /* libopus reports it at the encoder's rate; Ogg pre-skip is at 48 kHz. */
    return (int) (la * (48000 / self->cfg.rate));
}

int opus_enc_encode(opus_enc_t *self, const int16_t *pcm, uint8_t *out, size_t max_len)
{
    if (!self || !pcm || !out || max_len < 1)
        return -EINVAL;
    opus_int32 cap = max_len > OPUS_CODEC_MAX_PACKET ? OPUS_CODEC_MAX_PACKET : (opus_int32) max_len;
    int n = opus_encode(self->enc, pcm, self->frame_size, out, cap);
    if (n < 0)
        return s_errno_of(n);
    /* A packet of 1-2 bytes codes no audio: that is what the encoder emits
     * while in DTX, and the same test a receiver applies to the packet. */
    self->last_dtx = n <= 2;
    return n;
}

bool opus_enc_last_was_dtx(const opus_enc_t *self)
{
    return self->last_dtx;
}

int opus_enc_set_bitrate(opus_enc_t *self, int bitrate)
{
    if (bitrate != 0 && (bitrate < 500 || bitrate > 512000))
        return -EINVAL;
    self->cfg.bitrate = bitrate;
    return opus_encoder_ctl(self->enc, OPUS_SET_BITRATE(bitrate ? bitrate : OPUS_AUTO)) == OPUS_OK
        ? 0 : -EINVAL;
}

int opus_enc_set_loss_pct(opus_enc_t *self, int loss_pct)
{
    if (loss_pct < 0 || loss_pct > 100)
        return -EINVAL;
    self->cfg.loss_pct = loss_pct;
    return opus_encoder_ctl(self->enc, OPUS_SET_PACKET_LOSS_PERC(loss_pct)) == OPUS_OK ? 0 : -EINVAL;
}
