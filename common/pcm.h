/* pcm — audio samples that always carry their format (see docs/pcm.md).
 *
 * A pcm_t owns interleaved samples in host byte order together with their
 * sample rate, channel count and sample format. On the bus PCM travels as
 * little-endian bytes next to the same three fields (PcmAudio in
 * proto/voxmesh.proto); pcm_from_bytes() / pcm_to_bytes() cross that border
 * and validate what a peer sent.
 *
 * Every function that returns a pcm_t * returns a new object owned by the
 * caller (pcm_destroy), or NULL with errno set (EINVAL for bad arguments,
 * ENOMEM). Inputs are never modified except by pcm_append / pcm_clear.
 * Not thread-safe; a pcm_t belongs to one thread at a time. */
#ifndef VOXMESH_PCM_H
#define VOXMESH_PCM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Values match SampleFormat in proto/voxmesh.proto, so a wire value can be
 * cast directly (pcm_format_valid rejects the others). */
typedef enum {
    PCM_S16 = 1,    /* signed 16-bit */
    PCM_F32 = 2,    /* IEEE float, nominal range [-1, 1] */
} pcm_format_t;

#define PCM_RATE_MIN     8000
#define PCM_RATE_MAX     192000
#define PCM_CHANNELS_MAX 8

typedef struct _pcm_t pcm_t;

/* NULL when rate, channels and fmt describe usable audio, otherwise a
 * static sentence saying what is wrong ("sample rate out of range ..."). */
const char *pcm_format_error(uint32_t rate, uint32_t channels, int fmt);

/* True when rate is 8000..192000 Hz, channels 1..8 and fmt PCM_S16/PCM_F32. */
bool pcm_format_valid(uint32_t rate, uint32_t channels, int fmt);

/* Like pcm_format_error, and also rejects a byte length that is not a whole
 * number of frames. Use it to explain why pcm_from_bytes() refused. */
const char *pcm_bytes_error(uint32_t rate, uint32_t channels, int fmt, size_t len);

/* Bytes per sample of fmt (2 or 4); 0 for an unknown format. */
size_t pcm_sample_size(int fmt);

/* Creates `frames` frames of silence. */
pcm_t *pcm_new(uint32_t rate, uint32_t channels, pcm_format_t fmt, size_t frames);

/* Destroys the object and sets *self_p to NULL; NULL-safe. */
void pcm_destroy(pcm_t **self_p);

/* Creates PCM from little-endian wire bytes. Fails (EINVAL) on an invalid
 * format or a length that is not a whole number of frames; pcm_bytes_error()
 * gives the reason. Non-finite float samples become 0 so that one bad packet
 * cannot poison a resampler's filter state. */
pcm_t *pcm_from_bytes(uint32_t rate, uint32_t channels, pcm_format_t fmt,
                      const void *bytes, size_t len);

/* Writes the samples as little-endian bytes into buf (pcm_bytes() of them).
 * Returns the byte count or -ENOSPC when size is too small. */
ssize_t pcm_to_bytes(const pcm_t *self, void *buf, size_t size);

/* Format accessors. */
uint32_t pcm_rate(const pcm_t *self);
uint32_t pcm_channels(const pcm_t *self);
pcm_format_t pcm_format(const pcm_t *self);

/* Number of sample frames (one sample per channel). */
size_t pcm_frames(const pcm_t *self);

/* Duration in microseconds, rounded down. */
int64_t pcm_duration_us(const pcm_t *self);

/* Interleaved samples in host byte order (int16_t or float), pcm_bytes()
 * long; writable so that producers can fill a pcm_new() buffer. Valid until
 * the next pcm_append / pcm_destroy. */
void *pcm_data(const pcm_t *self);

/* Byte length of pcm_data(). */
size_t pcm_bytes(const pcm_t *self);

/* Number of frames in `ms` milliseconds at `rate`, rounded down. */
size_t pcm_ms_to_frames(uint32_t rate, uint32_t ms);

/* A deep copy. */
pcm_t *pcm_copy(const pcm_t *self);

/* A copy in sample format fmt: S16 -> F32 divides by 32768, F32 -> S16
 * multiplies by 32768, rounds and clips, so S16 -> F32 -> S16 is exact. */
pcm_t *pcm_convert(const pcm_t *self, pcm_format_t fmt);

/* A copy at another rate, channel count and format. Rate changes use a
 * one-shot resampler (whole signal, tail included): fine for files and
 * prompts, not for a stream of chunks (use pcm_resampler_t). Channel rules
 * are those of pcm_resampler_t. */
pcm_t *pcm_resample(const pcm_t *self, uint32_t rate, uint32_t channels, pcm_format_t fmt);

/* Appends src to self, converting src's format, channels and rate to self's
 * as needed (rate via pcm_resample, so appending consecutive chunks of a
 * stream at another rate is not click-free). Returns 0, -EINVAL or -ENOMEM;
 * self is unchanged on error. */
int pcm_append(pcm_t *self, const pcm_t *src);

/* Removes all frames, keeping format and allocated memory. */
void pcm_clear(pcm_t *self);

/* A copy of nframes frames starting at frame first, clipped to what exists
 * (so the result may be shorter, or empty). */
pcm_t *pcm_slice(const pcm_t *self, size_t first, size_t nframes);

/* A copy of the first / last `ms` milliseconds (all of it when shorter). */
pcm_t *pcm_head(const pcm_t *self, uint32_t ms);
pcm_t *pcm_tail(const pcm_t *self, uint32_t ms);

/* Fixed-size chunks of chunk_ms, each starting (chunk_ms - overlap_ms) after
 * the previous one. Counts the chunks needed to cover every frame; only the
 * last one may be shorter than chunk_ms. Returns 0 for empty audio and when
 * chunk_ms is 0, shorter than one frame, or not greater than overlap_ms. */
size_t pcm_chunk_count(const pcm_t *self, uint32_t chunk_ms, uint32_t overlap_ms);

/* Chunk number index (0-based) of the split above, as a new object; NULL
 * with EINVAL when index >= pcm_chunk_count(). */
pcm_t *pcm_chunk(const pcm_t *self, uint32_t chunk_ms, uint32_t overlap_ms, size_t index);

/* Sample conversions used by the functions above, exposed for codecs and
 * detectors: F32 -> S16 clips to [-1, 1) and maps NaN to 0. */
void pcm_s16_to_f32(const int16_t *in, float *out, size_t n);
void pcm_f32_to_s16(const float *in, int16_t *out, size_t n);

/* Maps interleaved float frames between channel counts (in and out must not
 * overlap). Downmix: output channel j is the mean of input channels k with
 * k % out_ch == j (to mono: the mean of all). Upmix: output channel j is
 * input channel j % in_ch (from mono: duplicated). No speaker layouts. */
void pcm_mix_f32(const float *in, uint32_t in_ch, float *out, uint32_t out_ch, size_t frames);

#endif
