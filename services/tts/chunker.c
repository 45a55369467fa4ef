/* chunker — see chunker.h. */
#include "chunker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct tts_chunker {
    int16_t *buf;
    size_t cap;          /* frames */
    size_t start, end;   /* held: buf[start..end) */
    size_t chunk;
    bool has_odd;
    uint8_t odd;         /* the low byte of a sample whose high byte is still to come */
};

tts_chunker_t *tts_chunker_new(size_t chunk_frames, size_t max_frames)
{
    if (chunk_frames == 0) return NULL;
    if (max_frames < chunk_frames) max_frames = chunk_frames * 16;
    tts_chunker_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->buf = malloc(max_frames * sizeof *self->buf);
    if (!self->buf) {
        free(self);
        return NULL;
    }
    self->cap = max_frames;
    self->chunk = chunk_frames;
    return self;
}

void tts_chunker_destroy(tts_chunker_t **self_p)
{
    if (!self_p || !*self_p) return;
    free((*self_p)->buf);
    free(*self_p);
    *self_p = NULL;
}

/* Room for n more frames at the end, moving what is held to the front. */
static int s_reserve(tts_chunker_t *self, size_t n)
{
    if (self->end - self->start + n > self->cap) return -ENOSPC;
    if (self->end + n > self->cap) {
        memmove(self->buf, self->buf + self->start, (self->end - self->start) * sizeof *self->buf);
        self->end -= self->start;
        self->start = 0;
    }
    return 0;
}

int tts_chunker_put(tts_chunker_t *self, const int16_t *samples, size_t n)
{
    if (s_reserve(self, n) < 0) return -ENOSPC;
    memcpy(self->buf + self->end, samples, n * sizeof *samples);
    self->end += n;
    return 0;
}

int tts_chunker_put_bytes(tts_chunker_t *self, const uint8_t *data, size_t len)
{
    size_t whole = ((self->has_odd ? 1 : 0) + len) / 2;
    if (s_reserve(self, whole) < 0) return -ENOSPC;
    if (self->has_odd && len > 0) {
        self->buf[self->end++] = (int16_t)(uint16_t)(self->odd | (uint16_t)data[0] << 8);
        self->has_odd = false;
        data++;
        len--;
    }
    for (; len >= 2; data += 2, len -= 2)
        self->buf[self->end++] = (int16_t)(uint16_t)(data[0] | (uint16_t)data[1] << 8);
    if (len == 1) {
        self->odd = data[0];
        self->has_odd = true;
    }
    return 0;
}

size_t tts_chunker_take(tts_chunker_t *self, const int16_t **out, bool flush)
{
    size_t held = self->end - self->start;
    size_t n = held >= self->chunk ? self->chunk : flush ? held : 0;
    *out = n ? self->buf + self->start : NULL;
    self->start += n;
    if (self->start == self->end) self->start = self->end = 0;
    return n;
}

bool tts_chunker_odd(const tts_chunker_t *self)
{
    return self->has_odd;
}

size_t tts_chunker_frames(const tts_chunker_t *self)
{
    return self->end - self->start;
}

void tts_chunker_reset(tts_chunker_t *self)
{
    self->start = self->end = 0;
    self->has_odd = false;
}
