/* pcm_resampler — see pcm_resampler.h and docs/pcm.md. */
#include "pcm_resampler.h"
#include <errno.h>
#include <soxr.h>
#include <stdlib.h>
#include <string.h>

/* Smallest DFT blocks soxr allows (2^8): its default (2^10 .. 2^17) makes it
 * hold back 20-40 ms of output, which breaks the < 5 ms-per-hop budget. */
#define S_LOG2_DFT 8

struct _pcm_resampler_t {
    uint32_t in_rate, in_ch;
    uint32_t out_rate, out_ch;
    pcm_format_t out_fmt;
    uint32_t soxr_ch;       /* channels soxr works on: min(in_ch, out_ch) */
    soxr_t soxr;            /* NULL when the rate does not change */
    /* Scratch buffers, grown on demand and reused, so that the 20 ms hot path
     * does not allocate beyond the returned pcm_t. */
    float *in_buf;          /* input as float, in_ch channels */
    size_t in_cap;          /* in floats */
    float *mix_buf;         /* input downmixed to soxr_ch channels */
    size_t mix_cap;
    float *out_buf;         /* soxr output, soxr_ch channels */
    size_t out_cap;         /* in frames */
};

/* Low latency for speech: soxr's 'low' 16-bit recipe (-3 dB at 0.82 of the
 * lower Nyquist, e.g. 6.5 kHz at 16 kHz) with a minimum-phase filter, whose
 * energy comes first instead of in the middle, and small DFT blocks. */
static soxr_t s_soxr_new(uint32_t in_rate, uint32_t out_rate, uint32_t channels)
{
    soxr_quality_spec_t quality = soxr_quality_spec(SOXR_LQ | SOXR_MINIMUM_PHASE, 0);
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_runtime_spec_t runtime = soxr_runtime_spec(1);
    runtime.log2_min_dft_size = S_LOG2_DFT;
    runtime.log2_large_dft_size = S_LOG2_DFT;
    soxr_error_t err = NULL;
    soxr_t soxr = soxr_create(in_rate, out_rate, channels, &err, &io, &quality, &runtime);
    return err ? NULL : soxr;
}

pcm_resampler_t *pcm_resampler_new(uint32_t in_rate, uint32_t in_ch,
                                   uint32_t out_rate, uint32_t out_ch, pcm_format_t out_fmt)
{
    if (!pcm_format_valid(in_rate, in_ch, PCM_F32) || !pcm_format_valid(out_rate, out_ch, out_fmt)) {
        errno = EINVAL;
        return NULL;
    }
    pcm_resampler_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->in_rate = in_rate;
    self->in_ch = in_ch;
    self->out_rate = out_rate;
    self->out_ch = out_ch;
    self->out_fmt = out_fmt;
    self->soxr_ch = in_ch < out_ch ? in_ch : out_ch;
    if (in_rate != out_rate) {
        self->soxr = s_soxr_new(in_rate, out_rate, self->soxr_ch);
        if (!self->soxr) {
            pcm_resampler_destroy(&self);
            errno = ENOMEM;
        }
    }
    return self;
}

void pcm_resampler_destroy(pcm_resampler_t **self_p)
{
    if (!self_p || !*self_p) return;
    pcm_resampler_t *self = *self_p;
    if (self->soxr) soxr_delete(self->soxr);
    free(self->in_buf);
    free(self->mix_buf);
    free(self->out_buf);
    free(self);
    *self_p = NULL;
}

/* Makes *buf hold at least n floats; the old contents may be lost. */
static int s_scratch(float **buf, size_t *cap, size_t n)
{
    if (n <= *cap) return 0;
    if (n > SIZE_MAX / sizeof(float) / 2) return -ENOMEM;
    float *p = realloc(*buf, 2 * n * sizeof(float));
    if (!p) return -ENOMEM;
    *buf = p;
    *cap = 2 * n;
    return 0;
}

/* Makes room for `frames` more output frames after the first `used`,
 * keeping what is there. */
static int s_out_room(pcm_resampler_t *self, size_t used, size_t frames)
{
    if (used + frames <= self->out_cap) return 0;
    size_t cap = 2 * (used + frames);
    float *p = realloc(self->out_buf, cap * self->soxr_ch * sizeof(float));
    if (!p) return -ENOMEM;
    self->out_buf = p;
    self->out_cap = cap;
    return 0;
}

/* The input as float frames with soxr_ch channels, in scratch or in place. */
static const float *s_prepare_input(pcm_resampler_t *self, const pcm_t *in)
{
    size_t frames = pcm_frames(in), n = frames * self->in_ch;
    const float *f = pcm_data(in);
    if (pcm_format(in) != PCM_F32) {
        if (s_scratch(&self->in_buf, &self->in_cap, n)) return NULL;
        pcm_s16_to_f32(pcm_data(in), self->in_buf, n);
        f = self->in_buf;
    }
    if (self->soxr_ch == self->in_ch) return f;
    if (s_scratch(&self->mix_buf, &self->mix_cap, frames * self->soxr_ch)) return NULL;
    pcm_mix_f32(f, self->in_ch, self->mix_buf, self->soxr_ch, frames);
    return self->mix_buf;
}

/* Runs soxr over `frames` input frames (in NULL: end of input, drain it) and
 * leaves the output in out_buf. Returns the number of output frames or -1. */
static ssize_t s_run_soxr(pcm_resampler_t *self, const float *in, size_t frames)
{
    size_t consumed = 0, produced = 0, odone = 0, room = 0;
    do {
        size_t want = (size_t) ((double) (frames - consumed) * self->out_rate / self->in_rate) + 512;
        if (s_out_room(self, produced, want)) return -1;
        room = self->out_cap - produced;
        size_t idone = 0;
        soxr_error_t err = soxr_process(self->soxr, in ? in + consumed * self->soxr_ch : NULL,
                                        frames - consumed, &idone,
                                        self->out_buf + produced * self->soxr_ch, room, &odone);
        if (err || (in && consumed < frames && !idone && !odone)) return -1;   /* no progress */
        consumed += idone;
        produced += odone;
    } while (consumed < frames || odone == room || (!in && odone));
    return (ssize_t) produced;
}

/* Wraps n frames of out_buf (soxr_ch channels) as a new pcm_t in the output
 * format, upmixing when more output channels are wanted. */
static pcm_t *s_emit(pcm_resampler_t *self, size_t n)
{
    pcm_t *f = pcm_new(self->out_rate, self->out_ch, PCM_F32, n);
    if (!f) return NULL;
    pcm_mix_f32(self->out_buf, self->soxr_ch, pcm_data(f), self->out_ch, n);
    if (self->out_fmt == PCM_F32) return f;
    pcm_t *out = pcm_convert(f, self->out_fmt);
    pcm_destroy(&f);
    return out;
}

pcm_t *pcm_resampler_process(pcm_resampler_t *self, const pcm_t *in)
{
    if (!self || !in || pcm_rate(in) != self->in_rate || pcm_channels(in) != self->in_ch) {
        errno = EINVAL;
        return NULL;
    }
    if (!self->soxr) return pcm_resample(in, self->out_rate, self->out_ch, self->out_fmt);
    const float *f = s_prepare_input(self, in);
    ssize_t n = f ? s_run_soxr(self, f, pcm_frames(in)) : -1;
    if (n < 0) {
        errno = ENOMEM;
        return NULL;
    }
    return s_emit(self, (size_t) n);
}

pcm_t *pcm_resampler_flush(pcm_resampler_t *self)
{
    if (!self->soxr) return pcm_new(self->out_rate, self->out_ch, self->out_fmt, 0);
    ssize_t n = s_run_soxr(self, NULL, 0);
    pcm_t *out = n < 0 ? NULL : s_emit(self, (size_t) n);
    /* soxr accepts no input after end-of-input until cleared. */
    soxr_clear(self->soxr);
    if (!out) errno = ENOMEM;
    return out;
}

void pcm_resampler_reset(pcm_resampler_t *self)
{
    if (self->soxr) soxr_clear(self->soxr);
}

double pcm_resampler_delay_frames(const pcm_resampler_t *self)
{
    return self->soxr ? soxr_delay(self->soxr) : 0.0;
}

bool pcm_resampler_resamples(const pcm_resampler_t *self)
{
    return self->soxr != NULL;
}
