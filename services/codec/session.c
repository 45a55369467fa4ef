/* codec_session — see session.h and docs/codec.md. */
#include "session.h"
#include "audio_queue.h"
#include "opus_codec.h"
#include "pcm_resampler.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define OPUS_RATE 48000
#define FRAME_MS 20
#define FRAME_SAMPLES (OPUS_RATE / 1000 * FRAME_MS)
#define MAX_PACKET_FRAMES (OPUS_RATE * 120 / 1000)   /* the longest Opus packet */

struct codec_session_t {
    char *id;
    codec_config_t cfg;
    /* inbound */
    opus_dec_t *dec;
    pcm_resampler_t *in_rs;
    bool have_seq;
    uint16_t next_seq;
    /* outbound */
    turn_cut_t turns;
    sentence_dedup_t sentences;
    pcm_resampler_t *out_rs;          /* for the current outbound format */
    uint32_t out_rs_rate, out_rs_ch;
    audio_queue_t *queue;             /* 48 kHz mono s16, what the encoder eats */
    opus_enc_t *enc;
    uint32_t rtp_ts;
    codec_stats_t stats;
};

void codec_config_defaults(codec_config_t *cfg)
{
    *cfg = (codec_config_t){ .out_rate = 16000, .out_channels = 1, .bitrate = 32000, .dtx = false,
                             .fec = true, .complexity = 5, .max_conceal_ms = 100, .queue_ms = 60000 };
}

codec_session_t *codec_session_new(const char *id, const codec_config_t *cfg)
{
    codec_session_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->id = strdup(id);
    self->cfg = *cfg;
    self->dec = opus_dec_new(OPUS_RATE, 1);
    self->in_rs = pcm_resampler_new(OPUS_RATE, 1, cfg->out_rate, cfg->out_channels, PCM_S16);
    self->queue = audio_queue_new(OPUS_RATE, 1, PCM_S16, cfg->queue_ms);
    opus_enc_config_t ec;
    opus_enc_config_defaults(&ec);
    ec.rate = OPUS_RATE;
    ec.channels = 1;
    ec.frame_ms = FRAME_MS;
    ec.bitrate = cfg->bitrate;
    ec.dtx = cfg->dtx;
    ec.fec = cfg->fec;
    ec.loss_pct = cfg->fec ? 5 : 0;
    ec.complexity = cfg->complexity;
    ec.low_delay = cfg->low_delay;
    self->enc = opus_enc_new(&ec);
    self->rtp_ts = (uint32_t)random();
    if (!self->id || !self->dec || !self->in_rs || !self->queue || !self->enc) {
        codec_session_destroy(&self);
        return NULL;
    }
    return self;
}

void codec_session_destroy(codec_session_t **self_p)
{
    if (!self_p || !*self_p) return;
    codec_session_t *self = *self_p;
    opus_dec_destroy(&self->dec);
    opus_enc_destroy(&self->enc);
    pcm_resampler_destroy(&self->in_rs);
    pcm_resampler_destroy(&self->out_rs);
    audio_queue_destroy(&self->queue);
    free(self->id);
    free(self);
    *self_p = NULL;
}

const char *codec_session_id(const codec_session_t *self) { return self->id; }
codec_stats_t codec_session_stats(const codec_session_t *self)
{
    codec_stats_t s = self->stats;
    s.queue_dropped_frames = audio_queue_dropped_frames(self->queue);
    return s;
}

/* Conceals `lost` missing packets before `pkt` into buf; returns frames. */
static int s_conceal(codec_session_t *self, uint16_t lost, const uint8_t *pkt, size_t len,
                     int16_t *buf, int max_frames)
{
    int per = opus_dec_last_duration(self->dec);
    if (per <= 0) per = FRAME_SAMPLES;
    int frames = per * lost;
    if (frames > max_frames) frames = max_frames / per * per;
    bool fec = false;
    int n = opus_dec_conceal(self->dec, pkt, len, buf, frames, &fec);
    if (n < 0) return 0;
    self->stats.concealed_ms += (uint64_t)n * 1000 / OPUS_RATE;
    if (fec) self->stats.fec_recovered++;
    return n;
}

pcm_t *codec_session_decode(codec_session_t *self, const uint8_t *pkt, size_t len, uint32_t rtp_seq,
                            const char **error)
{
    static const char *none = NULL;
    if (!error) error = &none;
    *error = NULL;
    uint16_t seq = (uint16_t)rtp_seq;
    uint16_t lost = 0;
    if (self->have_seq) {
        int16_t ahead = (int16_t)(seq - self->next_seq);
        if (ahead < 0) {                  /* late or duplicate: its moment has passed */
            self->stats.late_packets++;
            *error = "late or duplicate packet";
            return NULL;
        }
        lost = (uint16_t)ahead;
    }
    self->have_seq = true;
    self->next_seq = (uint16_t)(seq + 1);
    self->stats.packets_in++;
    self->stats.packets_lost += lost;

    if (opus_packet_validate(pkt, len) < 0) {
        self->stats.decode_errors++;
        *error = "corrupt Opus packet";
        return NULL;
    }
    int max_conceal = (int)(self->cfg.max_conceal_ms * OPUS_RATE / 1000);
    int16_t *buf = malloc(sizeof(int16_t) * (size_t)(max_conceal + MAX_PACKET_FRAMES));
    if (!buf) return NULL;
    int frames = 0;
    if (lost > 0) {
        if ((int)lost * FRAME_SAMPLES > max_conceal) opus_dec_reset(self->dec);  /* too long: start over */
        else frames = s_conceal(self, lost, pkt, len, buf, max_conceal);
    }
    int n = opus_dec_decode(self->dec, pkt, len, buf + frames, MAX_PACKET_FRAMES);
    if (n < 0) {
        self->stats.decode_errors++;
        *error = "Opus packet does not decode";
        if (frames == 0) {
            free(buf);
            return NULL;
        }
        n = 0;
    }
    pcm_t *raw = pcm_from_bytes(OPUS_RATE, 1, PCM_S16, buf, sizeof(int16_t) * (size_t)(frames + n));
    free(buf);
    if (!raw) return NULL;
    if (!pcm_resampler_resamples(self->in_rs)) return raw;
    pcm_t *out = pcm_resampler_process(self->in_rs, raw);
    pcm_destroy(&raw);
    return out;
}

int codec_session_put(codec_session_t *self, uint32_t rate, uint32_t channels, int fmt,
                      const void *bytes, size_t len, const char **error)
{
    const char *why = pcm_bytes_error(rate, channels, fmt, len);
    if (why) {
        self->stats.pcm_rejected++;
        if (error) *error = why;
        return -EINVAL;
    }
    pcm_t *in = pcm_from_bytes(rate, channels, (pcm_format_t)fmt, bytes, len);
    if (!in) return -ENOMEM;
    if (rate == OPUS_RATE && channels == 1) {
        int rc = audio_queue_put(self->queue, in);
        pcm_destroy(&in);
        return rc;
    }
    /* A stream at another rate: one streaming resampler per format, kept so
     * that consecutive chunks join without clicks. */
    if (!self->out_rs || self->out_rs_rate != rate || self->out_rs_ch != channels) {
        pcm_resampler_destroy(&self->out_rs);
        self->out_rs = pcm_resampler_new(rate, channels, OPUS_RATE, 1, PCM_S16);
        self->out_rs_rate = rate;
        self->out_rs_ch = channels;
        if (!self->out_rs) {
            pcm_destroy(&in);
            return -ENOMEM;
        }
    }
    pcm_t *rs = pcm_resampler_process(self->out_rs, in);
    pcm_destroy(&in);
    if (!rs) return -ENOMEM;
    int rc = audio_queue_put(self->queue, rs);
    pcm_destroy(&rs);
    return rc;
}

int codec_session_encode(codec_session_t *self, uint8_t *out, size_t max, uint32_t *rtp_ts)
{
    pcm_t *frame = audio_queue_take_exact(self->queue, FRAME_MS);
    if (!frame) return 0;
    int n = opus_enc_encode(self->enc, pcm_data(frame), out, max);
    pcm_destroy(&frame);
    if (n < 0) return n;
    *rtp_ts = self->rtp_ts;
    self->rtp_ts += FRAME_SAMPLES;
    self->stats.packets_out++;
    if (opus_enc_last_was_dtx(self->enc)) self->stats.dtx_packets++;
    return n;
}

turn_cut_t *codec_session_turns(codec_session_t *self) { return &self->turns; }
sentence_dedup_t *codec_session_sentences(codec_session_t *self) { return &self->sentences; }

void codec_session_flush(codec_session_t *self)
{
    audio_queue_clear(self->queue);
    if (self->out_rs) pcm_resampler_reset(self->out_rs);
}
