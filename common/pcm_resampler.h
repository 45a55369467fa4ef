/* pcm_resampler — streaming rate, channel and format conversion of one audio
 * stream (one object per session and direction; see docs/pcm.md).
 *
 * Keeps the filter state between calls so that consecutive chunks (20 ms
 * frames from the bus) join exactly as if the whole signal had been
 * resampled at once: no clicks at chunk boundaries. Rate changes use libsoxr
 * tuned for low latency (minimum phase, small DFT blocks): the output lags
 * the input by about 1.5 ms on average, 2.75 ms at most, for 48 <-> 16 kHz
 * (docs/pcm.md lists other rates). Same-rate conversions never touch soxr
 * and add no delay.
 *
 * Not thread-safe; one instance per stream. */
#ifndef VOXMESH_PCM_RESAMPLER_H
#define VOXMESH_PCM_RESAMPLER_H

#include "pcm.h"

typedef struct _pcm_resampler_t pcm_resampler_t;

/* Creates a converter from in_rate/in_ch (any sample format) to
 * out_rate/out_ch/out_fmt. Returns NULL (errno EINVAL) when either side is
 * not a valid format, or NULL (ENOMEM) when soxr cannot be set up. */
pcm_resampler_t *pcm_resampler_new(uint32_t in_rate, uint32_t in_ch,
                                   uint32_t out_rate, uint32_t out_ch, pcm_format_t out_fmt);

/* Destroys the resampler and sets *self_p to NULL; NULL-safe. */
void pcm_resampler_destroy(pcm_resampler_t **self_p);

/* Converts the next chunk of the stream and returns the output available so
 * far as a new object. It may be shorter than the input's duration (soxr
 * holds back a few ms, returned by later calls or by flush) and may be
 * empty. NULL with errno EINVAL when in's rate or channel count differ from
 * those given to pcm_resampler_new (any sample format is accepted). */
pcm_t *pcm_resampler_process(pcm_resampler_t *self, const pcm_t *in);

/* Ends the stream: returns the held-back tail as a new object (maybe empty)
 * and resets the state, so the next process() starts a new stream. */
pcm_t *pcm_resampler_flush(pcm_resampler_t *self);

/* Drops the held-back audio and the filter history (barge-in) without
 * producing output. */
void pcm_resampler_reset(pcm_resampler_t *self);

/* Audio currently held back inside the resampler, in output frames (0 for
 * same-rate conversions). Lets a caller keep stream timestamps exact. */
double pcm_resampler_delay_frames(const pcm_resampler_t *self);

/* True when the conversion changes the rate (and so goes through soxr). */
bool pcm_resampler_resamples(const pcm_resampler_t *self);

#endif
