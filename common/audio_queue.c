/* audio_queue — see audio_queue.h and docs/pcm.md. */
#include "audio_queue.h"
#include "pcm_resampler.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* First allocation: enough for typical jitter (200 ms) without reserving the
 * whole limit, which may be many seconds for 100 sessions. */
#define S_INITIAL_MS 200

struct _audio_queue_t {
    uint32_t rate, channels;
    pcm_format_t fmt;
    size_t frame_size;          /* bytes */
    size_t limit;               /* frames */
    uint8_t *ring;
    size_t capacity;            /* frames allocated, <= limit */
    size_t head;                /* index of the oldest frame */
    size_t count;               /* frames buffered */
    uint64_t dropped;
    pcm_resampler_t *resampler; /* for puts at another rate; NULL otherwise */
    uint32_t rs_rate, rs_channels;  /* the resampler's input format */
};

audio_queue_t *audio_queue_new(uint32_t rate, uint32_t channels, pcm_format_t fmt, uint32_t limit_ms)
{
    size_t limit = pcm_ms_to_frames(rate, limit_ms);
    if (!pcm_format_valid(rate, channels, fmt) || limit == 0) {
        errno = EINVAL;
        return NULL;
    }
    audio_queue_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->rate = rate;
    self->channels = channels;
    self->fmt = fmt;
    self->frame_size = channels * pcm_sample_size(fmt);
    self->limit = limit;
    return self;
}

void audio_queue_destroy(audio_queue_t **self_p)
{
    if (!self_p || !*self_p) return;
    audio_queue_t *self = *self_p;
    pcm_resampler_destroy(&self->resampler);
    free(self->ring);
    free(self);
    *self_p = NULL;
}

/* ---- ring ------------------------------------------------------------------------ */

/* Copies n frames starting at ring index `from` out of the ring (wrapping). */
static void s_ring_read(const audio_queue_t *self, size_t from, uint8_t *dst, size_t n)
{
    size_t first = self->capacity - from < n ? self->capacity - from : n;
    memcpy(dst, self->ring + from * self->frame_size, first * self->frame_size);
    memcpy(dst + first * self->frame_size, self->ring, (n - first) * self->frame_size);
}

/* Copies n frames into the ring at index `to` (wrapping). */
static void s_ring_write(audio_queue_t *self, size_t to, const uint8_t *src, size_t n)
{
    size_t first = self->capacity - to < n ? self->capacity - to : n;
    memcpy(self->ring + to * self->frame_size, src, first * self->frame_size);
    memcpy(self->ring, src + first * self->frame_size, (n - first) * self->frame_size);
}

/* Makes the ring hold `frames` (<= limit), doubling so that growth happens a
 * handful of times per queue lifetime; the content is unwrapped to index 0. */
static int s_grow(audio_queue_t *self, size_t frames)
{
    if (frames <= self->capacity) return 0;
    size_t cap = self->capacity ? self->capacity : pcm_ms_to_frames(self->rate, S_INITIAL_MS);
    while (cap < frames) cap *= 2;
    if (cap > self->limit) cap = self->limit;
    uint8_t *ring = malloc(cap * self->frame_size);
    if (!ring) return -ENOMEM;
    if (self->count) s_ring_read(self, self->head, ring, self->count);
    free(self->ring);
    self->ring = ring;
    self->capacity = cap;
    self->head = 0;
    return 0;
}

static void s_drop_oldest(audio_queue_t *self, size_t n)
{
    self->head = (self->head + n) % self->capacity;
    self->count -= n;
    self->dropped += n;
}

/* Appends n frames in the queue's format, dropping the oldest on overflow. */
static int s_write(audio_queue_t *self, const uint8_t *src, size_t n)
{
    if (n > self->limit) {     /* only the newest `limit` frames can stay */
        self->dropped += n - self->limit;
        src += (n - self->limit) * self->frame_size;
        n = self->limit;
    }
    if (s_grow(self, self->count + n > self->limit ? self->limit : self->count + n)) return -ENOMEM;
    if (self->count + n > self->limit) s_drop_oldest(self, self->count + n - self->limit);
    if (!n) return 0;
    s_ring_write(self, (self->head + self->count) % self->capacity, src, n);
    self->count += n;
    return 0;
}

static int s_write_pcm(audio_queue_t *self, pcm_t *pcm)
{
    if (!pcm) return -ENOMEM;
    int rc = s_write(self, pcm_data(pcm), pcm_frames(pcm));
    pcm_destroy(&pcm);
    return rc;
}

/* ---- put ------------------------------------------------------------------------------ */

int audio_queue_end_stream(audio_queue_t *self)
{
    if (!self->resampler) return 0;
    int rc = s_write_pcm(self, pcm_resampler_flush(self->resampler));
    pcm_resampler_destroy(&self->resampler);
    return rc;
}

static bool s_same_format(const audio_queue_t *self, const pcm_t *pcm)
{
    return pcm_rate(pcm) == self->rate && pcm_channels(pcm) == self->channels && pcm_format(pcm) == self->fmt;
}

/* Feeds pcm to the queue's resampler. A resampler made for another input
 * rate or channel count is flushed first, so that its tail keeps its place. */
static int s_put_resampled(audio_queue_t *self, const pcm_t *pcm)
{
    if (self->resampler && (self->rs_rate != pcm_rate(pcm) || self->rs_channels != pcm_channels(pcm))) {
        int rc = audio_queue_end_stream(self);
        if (rc) return rc;
    }
    if (!self->resampler) {
        self->resampler = pcm_resampler_new(pcm_rate(pcm), pcm_channels(pcm),
                                            self->rate, self->channels, self->fmt);
        if (!self->resampler) return -ENOMEM;
        self->rs_rate = pcm_rate(pcm);
        self->rs_channels = pcm_channels(pcm);
    }
    return s_write_pcm(self, pcm_resampler_process(self->resampler, pcm));
}

int audio_queue_put(audio_queue_t *self, const pcm_t *pcm)
{
    if (!self || !pcm) return -EINVAL;
    if (pcm_rate(pcm) != self->rate) return s_put_resampled(self, pcm);
    int rc = audio_queue_end_stream(self);
    if (rc) return rc;
    if (s_same_format(self, pcm)) return s_write(self, pcm_data(pcm), pcm_frames(pcm));
    return s_write_pcm(self, pcm_resample(pcm, self->rate, self->channels, self->fmt));
}

/* ---- take -------------------------------------------------------------------------------- */

/* Removes the n (<= count) oldest frames as a new pcm_t. */
static pcm_t *s_take(audio_queue_t *self, size_t n)
{
    pcm_t *out = pcm_new(self->rate, self->channels, self->fmt, n);
    if (!out) return NULL;
    if (n) s_ring_read(self, self->head, pcm_data(out), n);
    self->count -= n;
    /* Restarting at 0 when empty keeps later writes in one piece. */
    self->head = self->count ? (self->head + n) % self->capacity : 0;
    return out;
}

pcm_t *audio_queue_take(audio_queue_t *self, uint32_t max_ms)
{
    if (!self->count) {
        errno = EAGAIN;
        return NULL;
    }
    size_t n = max_ms == AUDIO_QUEUE_ALL ? self->count : pcm_ms_to_frames(self->rate, max_ms);
    return s_take(self, n < self->count ? n : self->count);
}

pcm_t *audio_queue_take_exact(audio_queue_t *self, uint32_t ms)
{
    size_t n = pcm_ms_to_frames(self->rate, ms);
    if (n > self->count || !self->count) {
        errno = EAGAIN;
        return NULL;
    }
    return s_take(self, n);
}

/* ---- state ---------------------------------------------------------------------------------- */

size_t audio_queue_available_frames(const audio_queue_t *self)
{
    return self->count;
}

uint32_t audio_queue_available_ms(const audio_queue_t *self)
{
    return (uint32_t) ((uint64_t) self->count * 1000u / self->rate);
}

uint64_t audio_queue_dropped_frames(const audio_queue_t *self)
{
    return self->dropped;
}

void audio_queue_clear(audio_queue_t *self)
{
    self->count = 0;
    self->head = 0;
    if (self->resampler) pcm_resampler_reset(self->resampler);
}
