/* vad_session — see session.h and docs/vad.md. */
#include "session.h"
#include "pcm_resampler.h"
#include "vad_detect.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define VAD_RATE 16000
#define HISTORY_SAMPLES (VAD_RATE * 4)        /* 4 s: pre-roll + confirmation with room */

struct vad_session_t {
    vad_session_config_t cfg;
    vad_session_cb_t cb;
    pcm_resampler_t *rs;
    uint32_t rs_rate, rs_ch;
    vad_detect_t *det;
    turn_t *turn;
    size_t frame_samples;
    int16_t *frame;                 /* the frame being filled */
    size_t frame_fill;
    int16_t history[HISTORY_SAMPLES];
    uint64_t consumed;              /* samples of stream seen (framed) */
    /* utterance being handed on */
    uint64_t utterance_id;
    pcm_t *pending;                 /* not yet handed on */
    int64_t pending_start_us;
    bool in_utterance;
    /* agent playback estimate */
    bool agent_playing;
    int64_t agent_until_us;
};

void vad_session_config_default(vad_session_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    turn_config_default(&cfg->turn);
    cfg->aggressiveness = 2;
    cfg->barge_in = true;
    cfg->segment_chunk_ms = 100;
}

vad_session_t *vad_session_new(const vad_session_config_t *cfg, const vad_session_cb_t *cb)
{
    vad_session_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->cfg = *cfg;
    self->cb = *cb;
    self->det = vad_detect_new(VAD_RATE, cfg->aggressiveness);
    self->turn = turn_new(&cfg->turn);
    if (!self->det || !self->turn) {
        vad_session_destroy(&self);
        return NULL;
    }
    self->frame_samples = vad_detect_frame_samples(self->det);
    self->frame = calloc(self->frame_samples, sizeof *self->frame);
    if (!self->frame) vad_session_destroy(&self);
    return self;
}

void vad_session_destroy(vad_session_t **self_p)
{
    if (!self_p || !*self_p) return;
    vad_session_t *self = *self_p;
    pcm_resampler_destroy(&self->rs);
    vad_detect_destroy(&self->det);
    turn_destroy(&self->turn);
    pcm_destroy(&self->pending);
    free(self->frame);
    free(self);
    *self_p = NULL;
}

static int64_t s_us(uint64_t samples) { return (int64_t)(samples * 1000000 / VAD_RATE); }
static uint64_t s_samples(int64_t us) { return us <= 0 ? 0 : (uint64_t)us * VAD_RATE / 1000000; }

static void s_hand_on(vad_session_t *self, bool final)
{
    if (!self->pending) return;
    if (self->cb.on_segment) self->cb.on_segment(self->cb.arg, self->utterance_id, self->pending,
                                                 self->pending_start_us, final);
    pcm_destroy(&self->pending);
}

/* Appends stream interval [from, to) from the history to the pending piece. */
static void s_collect(vad_session_t *self, int64_t from_us, int64_t to_us)
{
    uint64_t from = s_samples(from_us), to = s_samples(to_us);
    if (to > self->consumed) to = self->consumed;
    if (self->consumed > HISTORY_SAMPLES && from < self->consumed - HISTORY_SAMPLES)
        from = self->consumed - HISTORY_SAMPLES;   /* older than we kept: start later */
    if (to <= from) return;
    pcm_t *piece = pcm_new(VAD_RATE, 1, PCM_S16, (size_t)(to - from));
    if (!piece) return;
    int16_t *d = pcm_data(piece);
    for (uint64_t i = from; i < to; i++) d[i - from] = self->history[i % HISTORY_SAMPLES];
    if (!self->pending) {
        self->pending = piece;
        self->pending_start_us = s_us(from);
    } else {
        pcm_append(self->pending, piece);
        pcm_destroy(&piece);
    }
}

static void s_on_result(vad_session_t *self, const turn_result_t *r)
{
    bool ended = false;
    for (size_t i = 0; i < r->n_events; i++) {
        const turn_event_t *ev = &r->events[i];
        if (ev->type == TURN_SPEECH_START) {
            self->utterance_id++;
            self->in_utterance = true;
        }
        if (ev->type == TURN_INTERRUPT && !self->cfg.barge_in) continue;
        if (ev->type == TURN_INTERRUPT) vad_session_agent_stopped(self);
        if (self->cb.on_turn) self->cb.on_turn(self->cb.arg, ev);
        if (ev->type == TURN_SPEECH_END) ended = true;
    }
    if (r->seg_to_us > r->seg_from_us && self->in_utterance) s_collect(self, r->seg_from_us, r->seg_to_us);
    if (ended) {
        s_hand_on(self, true);
        self->in_utterance = false;
    } else if (self->pending && pcm_duration_us(self->pending) >= self->cfg.segment_chunk_ms * 1000) {
        s_hand_on(self, false);
    }
}

static void s_process_frame(vad_session_t *self)
{
    int64_t start = s_us(self->consumed);
    for (size_t i = 0; i < self->frame_samples; i++)
        self->history[(self->consumed + i) % HISTORY_SAMPLES] = self->frame[i];
    self->consumed += self->frame_samples;
    int64_t dur = s_us(self->consumed) - start;
    if (self->agent_playing && start >= self->agent_until_us) {
        self->agent_playing = false;
        turn_agent_playing(self->turn, false, self->agent_until_us);
    }
    float prob = 0;
    int speech = vad_detect_process(self->det, self->frame, self->frame_samples, &prob);
    turn_result_t r;
    if (turn_process(self->turn, start, dur, speech > 0, &r) == 0) s_on_result(self, &r);
}

int vad_session_feed(vad_session_t *self, const pcm_t *pcm)
{
    pcm_t *conv = NULL;
    const pcm_t *in = pcm;
    if (pcm_rate(pcm) != VAD_RATE || pcm_channels(pcm) != 1 || pcm_format(pcm) != PCM_S16) {
        if (!self->rs || self->rs_rate != pcm_rate(pcm) || self->rs_ch != pcm_channels(pcm)) {
            pcm_resampler_destroy(&self->rs);
            self->rs = pcm_resampler_new(pcm_rate(pcm), pcm_channels(pcm), VAD_RATE, 1, PCM_S16);
            self->rs_rate = pcm_rate(pcm);
            self->rs_ch = pcm_channels(pcm);
            if (!self->rs) return -ENOMEM;
        }
        conv = pcm_resampler_process(self->rs, pcm);
        if (!conv) return -ENOMEM;
        in = conv;
    }
    const int16_t *s = pcm_data(in);
    size_t n = pcm_frames(in);
    for (size_t i = 0; i < n; i++) {
        self->frame[self->frame_fill++] = s[i];
        if (self->frame_fill == self->frame_samples) {
            s_process_frame(self);
            self->frame_fill = 0;
        }
    }
    pcm_destroy(&conv);
    return 0;
}

void vad_session_agent_audio(vad_session_t *self, int64_t duration_us)
{
    int64_t now = s_us(self->consumed);
    if (!self->agent_playing) {
        self->agent_playing = true;
        self->agent_until_us = now;
        turn_agent_playing(self->turn, true, now);
    }
    if (self->agent_until_us < now) self->agent_until_us = now;
    self->agent_until_us += duration_us;
}

void vad_session_agent_stopped(vad_session_t *self)
{
    if (!self->agent_playing) return;
    self->agent_playing = false;
    turn_agent_playing(self->turn, false, s_us(self->consumed));
}

void vad_session_end(vad_session_t *self)
{
    turn_result_t r;
    if (turn_flush(self->turn, s_us(self->consumed), &r) == 0) s_on_result(self, &r);
    if (self->in_utterance) {
        s_hand_on(self, true);
        self->in_utterance = false;
    }
}

int64_t vad_session_stream_us(const vad_session_t *self) { return s_us(self->consumed); }
