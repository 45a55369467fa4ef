/* pcm — see pcm.h and docs/pcm.md. */
#include "pcm.h"
#include "pcm_resampler.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct _pcm_t {
    uint32_t rate;
    uint32_t channels;
    pcm_format_t fmt;
    size_t frames;      /* frames in use */
    size_t capacity;    /* frames allocated; always >= 1 so data is never NULL */
    void *data;
};

#define S_HOST_LE (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)

/* ---- validation ------------------------------------------------------------ */

const char *pcm_format_error(uint32_t rate, uint32_t channels, int fmt)
{
    if (rate < PCM_RATE_MIN || rate > PCM_RATE_MAX)
        return "sample rate out of range (8000..192000 Hz)";
    if (channels < 1 || channels > PCM_CHANNELS_MAX)
        return "channel count out of range (1..8)";
    if (fmt != PCM_S16 && fmt != PCM_F32)
        return "unknown sample format (want S16 or F32)";
    return NULL;
}

bool pcm_format_valid(uint32_t rate, uint32_t channels, int fmt)
{
    return pcm_format_error(rate, channels, fmt) == NULL;
}

const char *pcm_bytes_error(uint32_t rate, uint32_t channels, int fmt, size_t len)
{
    const char *why = pcm_format_error(rate, channels, fmt);
    if (why) return why;
    if (len % (channels * pcm_sample_size(fmt)))
        return "byte length is not a whole number of frames";
    return NULL;
}

size_t pcm_sample_size(int fmt)
{
    return fmt == PCM_S16 ? 2 : fmt == PCM_F32 ? 4 : 0;
}

/* ---- life cycle -------------------------------------------------------------- */

static size_t s_frame_size(const pcm_t *self)
{
    return self->channels * pcm_sample_size(self->fmt);
}

/* Grows the allocation to hold at least `frames`, doubling so that repeated
 * appends cost amortised O(1). Newly allocated bytes are not cleared. */
static int s_reserve(pcm_t *self, size_t frames)
{
    if (frames <= self->capacity) return 0;
    size_t fs = s_frame_size(self);
    if (frames > SIZE_MAX / 2 / fs) return -ENOMEM;
    size_t cap = self->capacity * 2 > frames ? self->capacity * 2 : frames;
    void *data = realloc(self->data, cap * fs);
    if (!data) return -ENOMEM;
    self->data = data;
    self->capacity = cap;
    return 0;
}

pcm_t *pcm_new(uint32_t rate, uint32_t channels, pcm_format_t fmt, size_t frames)
{
    if (!pcm_format_valid(rate, channels, fmt)) {
        errno = EINVAL;
        return NULL;
    }
    pcm_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->rate = rate;
    self->channels = channels;
    self->fmt = fmt;
    if (s_reserve(self, frames ? frames : 1)) {
        pcm_destroy(&self);
        errno = ENOMEM;
        return NULL;
    }
    memset(self->data, 0, self->capacity * s_frame_size(self));
    self->frames = frames;
    return self;
}

void pcm_destroy(pcm_t **self_p)
{
    if (!self_p || !*self_p) return;
    free((*self_p)->data);
    free(*self_p);
    *self_p = NULL;
}

/* ---- wire bytes ---------------------------------------------------------------- */

/* Copies n samples of `size` bytes between little-endian and host order
 * (the same operation in both directions). */
static void s_copy_le(void *dst, const void *src, size_t n, size_t size)
{
    if (n == 0) return;     /* src may be NULL then */
    if (S_HOST_LE) {
        memcpy(dst, src, n * size);
        return;
    }
    const unsigned char *s = src;
    unsigned char *d = dst;
    for (size_t i = 0; i < n; i++, s += size, d += size)
        for (size_t b = 0; b < size; b++)
            d[b] = s[size - 1 - b];
}

static void s_zero_non_finite(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) x[i] = 0.0f;
}

pcm_t *pcm_from_bytes(uint32_t rate, uint32_t channels, pcm_format_t fmt,
                      const void *bytes, size_t len)
{
    if (pcm_bytes_error(rate, channels, fmt, len) || (len && !bytes)) {
        errno = EINVAL;
        return NULL;
    }
    size_t ss = pcm_sample_size(fmt);
    pcm_t *self = pcm_new(rate, channels, fmt, len / (ss * channels));
    if (!self) return NULL;
    s_copy_le(self->data, bytes, len / ss, ss);
    if (fmt == PCM_F32) s_zero_non_finite(self->data, len / ss);
    return self;
}

ssize_t pcm_to_bytes(const pcm_t *self, void *buf, size_t size)
{
    size_t len = pcm_bytes(self);
    if (size < len) return -ENOSPC;
    size_t ss = pcm_sample_size(self->fmt);
    s_copy_le(buf, self->data, len / ss, ss);
    return (ssize_t) len;
}

/* ---- accessors ------------------------------------------------------------------ */

uint32_t pcm_rate(const pcm_t *self) { return self->rate; }
uint32_t pcm_channels(const pcm_t *self) { return self->channels; }
pcm_format_t pcm_format(const pcm_t *self) { return self->fmt; }
size_t pcm_frames(const pcm_t *self) { return self->frames; }
void *pcm_data(const pcm_t *self) { return self->data; }
size_t pcm_bytes(const pcm_t *self) { return self->frames * s_frame_size(self); }

int64_t pcm_duration_us(const pcm_t *self)
{
    return (int64_t) ((uint64_t) self->frames * 1000000u / self->rate);
}

size_t pcm_ms_to_frames(uint32_t rate, uint32_t ms)
{
    return (size_t) ((uint64_t) ms * rate / 1000u);
}

/* ---- sample conversion ------------------------------------------------------------ */

void pcm_s16_to_f32(const int16_t *in, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (float) in[i] * (1.0f / 32768.0f);
}

void pcm_f32_to_s16(const float *in, int16_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = in[i] * 32768.0f;
        if (v >= 32767.0f) out[i] = 32767;
        else if (v <= -32768.0f) out[i] = -32768;
        else if (isnan(v)) out[i] = 0;
        else out[i] = (int16_t) lrintf(v);
    }
}

static void s_downmix(const float *in, uint32_t in_ch, float *out, uint32_t out_ch, size_t frames)
{
    for (size_t f = 0; f < frames; f++, in += in_ch, out += out_ch)
        for (uint32_t j = 0; j < out_ch; j++) {
            float sum = 0;
            uint32_t n = 0;
            for (uint32_t k = j; k < in_ch; k += out_ch, n++) sum += in[k];
            out[j] = sum / (float) n;
        }
}

static void s_upmix(const float *in, uint32_t in_ch, float *out, uint32_t out_ch, size_t frames)
{
    for (size_t f = 0; f < frames; f++, in += in_ch, out += out_ch)
        for (uint32_t j = 0; j < out_ch; j++) out[j] = in[j % in_ch];
}

void pcm_mix_f32(const float *in, uint32_t in_ch, float *out, uint32_t out_ch, size_t frames)
{
    if (in_ch == out_ch) memcpy(out, in, frames * in_ch * sizeof(float));
    else if (out_ch < in_ch) s_downmix(in, in_ch, out, out_ch, frames);
    else s_upmix(in, in_ch, out, out_ch, frames);
}

/* Converts n samples between formats (or copies when equal). */
static void s_convert_samples(const void *in, pcm_format_t in_fmt, void *out, pcm_format_t out_fmt, size_t n)
{
    if (in_fmt == out_fmt) memcpy(out, in, n * pcm_sample_size(in_fmt));
    else if (in_fmt == PCM_S16) pcm_s16_to_f32(in, out, n);
    else pcm_f32_to_s16(in, out, n);
}

pcm_t *pcm_copy(const pcm_t *self)
{
    return pcm_convert(self, self->fmt);
}

pcm_t *pcm_convert(const pcm_t *self, pcm_format_t fmt)
{
    pcm_t *out = pcm_new(self->rate, self->channels, fmt, self->frames);
    if (out) s_convert_samples(self->data, self->fmt, out->data, fmt, self->frames * self->channels);
    return out;
}

/* Same rate, other channel count and/or format; mixing happens in float. */
static pcm_t *s_remix(const pcm_t *self, uint32_t channels, pcm_format_t fmt)
{
    if (channels == self->channels) return pcm_convert(self, fmt);
    pcm_t *in = pcm_convert(self, PCM_F32);
    pcm_t *mixed = in ? pcm_new(self->rate, channels, PCM_F32, self->frames) : NULL;
    if (mixed) pcm_mix_f32(in->data, in->channels, mixed->data, channels, self->frames);
    pcm_destroy(&in);
    if (!mixed || fmt == PCM_F32) return mixed;
    pcm_t *out = pcm_convert(mixed, fmt);
    pcm_destroy(&mixed);
    return out;
}

/* ---- resample, append ------------------------------------------------------------------ */

/* Appends src, which must have self's format, without conversion. */
static int s_append_raw(pcm_t *self, const pcm_t *src)
{
    if (s_reserve(self, self->frames + src->frames)) return -ENOMEM;
    memcpy((char *) self->data + pcm_bytes(self), src->data, pcm_bytes(src));
    self->frames += src->frames;
    return 0;
}

/* One-shot: a streaming resampler fed the whole signal, then flushed, so the
 * result equals what a stream of chunks would give. */
static pcm_t *s_resample_oneshot(const pcm_t *self, uint32_t rate, uint32_t channels, pcm_format_t fmt)
{
    pcm_resampler_t *r = pcm_resampler_new(self->rate, self->channels, rate, channels, fmt);
    pcm_t *out = r ? pcm_resampler_process(r, self) : NULL;
    pcm_t *tail = out ? pcm_resampler_flush(r) : NULL;
    if (out && (!tail || s_append_raw(out, tail))) {
        pcm_destroy(&out);
        errno = ENOMEM;
    }
    pcm_destroy(&tail);
    pcm_resampler_destroy(&r);
    return out;
}

pcm_t *pcm_resample(const pcm_t *self, uint32_t rate, uint32_t channels, pcm_format_t fmt)
{
    if (!pcm_format_valid(rate, channels, fmt)) {
        errno = EINVAL;
        return NULL;
    }
    if (rate == self->rate) return s_remix(self, channels, fmt);
    return s_resample_oneshot(self, rate, channels, fmt);
}

int pcm_append(pcm_t *self, const pcm_t *src)
{
    if (!self || !src) return -EINVAL;
    if (src->rate == self->rate && src->channels == self->channels && src->fmt == self->fmt)
        return s_append_raw(self, src);
    pcm_t *conv = pcm_resample(src, self->rate, self->channels, self->fmt);
    if (!conv) return -ENOMEM;
    int rc = s_append_raw(self, conv);
    pcm_destroy(&conv);
    return rc;
}

void pcm_clear(pcm_t *self)
{
    self->frames = 0;
}

/* ---- slices and chunks -------------------------------------------------------------------- */

pcm_t *pcm_slice(const pcm_t *self, size_t first, size_t nframes)
{
    if (first > self->frames) first = self->frames;
    if (nframes > self->frames - first) nframes = self->frames - first;
    pcm_t *out = pcm_new(self->rate, self->channels, self->fmt, nframes);
    if (out) memcpy(out->data, (char *) self->data + first * s_frame_size(self), nframes * s_frame_size(self));
    return out;
}

pcm_t *pcm_head(const pcm_t *self, uint32_t ms)
{
    return pcm_slice(self, 0, pcm_ms_to_frames(self->rate, ms));
}

pcm_t *pcm_tail(const pcm_t *self, uint32_t ms)
{
    size_t n = pcm_ms_to_frames(self->rate, ms);
    if (n > self->frames) n = self->frames;
    return pcm_slice(self, self->frames - n, n);
}

/* Chunk length and hop in frames; false when the split is meaningless. */
static bool s_chunk_geometry(const pcm_t *self, uint32_t chunk_ms, uint32_t overlap_ms,
                             size_t *len, size_t *hop)
{
    *len = pcm_ms_to_frames(self->rate, chunk_ms);
    size_t overlap = pcm_ms_to_frames(self->rate, overlap_ms);
    if (*len == 0 || overlap_ms >= chunk_ms || overlap >= *len) return false;
    *hop = *len - overlap;
    return true;
}

size_t pcm_chunk_count(const pcm_t *self, uint32_t chunk_ms, uint32_t overlap_ms)
{
    size_t len = 0, hop = 0;
    if (!s_chunk_geometry(self, chunk_ms, overlap_ms, &len, &hop) || self->frames == 0) return 0;
    if (self->frames <= len) return 1;
    return 1 + (self->frames - len + hop - 1) / hop;
}

pcm_t *pcm_chunk(const pcm_t *self, uint32_t chunk_ms, uint32_t overlap_ms, size_t index)
{
    size_t len = 0, hop = 0;
    if (index >= pcm_chunk_count(self, chunk_ms, overlap_ms)) {
        errno = EINVAL;
        return NULL;
    }
    s_chunk_geometry(self, chunk_ms, overlap_ms, &len, &hop);
    return pcm_slice(self, index * hop, len);
}
