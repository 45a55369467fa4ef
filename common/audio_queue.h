/* audio_queue — a bounded FIFO of audio in one fixed format (see docs/pcm.md).
 *
 * Sits between a producer and a paced consumer (jitter buffer in front of the
 * Opus encoder, TTS audio waiting for playout, ...). The format is fixed at
 * creation; put() converts whatever it is given. Storage is a ring buffer
 * that grows by doubling up to the limit and is then reused, so the 20 ms hot
 * path copies samples but does not reallocate.
 *
 * Overflow policy: when a put would exceed the limit, the OLDEST audio is
 * dropped (latency matters more than completeness in a live call) and the
 * dropped frames are counted.
 *
 * Not thread-safe; one owner thread. */
#ifndef VOXMESH_AUDIO_QUEUE_H
#define VOXMESH_AUDIO_QUEUE_H

#include "pcm.h"

typedef struct _audio_queue_t audio_queue_t;

/* For audio_queue_take: no upper bound. */
#define AUDIO_QUEUE_ALL UINT32_MAX

/* Creates an empty queue for rate/channels/fmt holding at most limit_ms
 * (at least one frame). NULL with errno EINVAL on a bad format or a limit of
 * 0, ENOMEM otherwise. */
audio_queue_t *audio_queue_new(uint32_t rate, uint32_t channels, pcm_format_t fmt, uint32_t limit_ms);

/* Destroys the queue and sets *self_p to NULL; NULL-safe. */
void audio_queue_destroy(audio_queue_t **self_p);

/* Appends pcm (not taken over; the caller still owns it). Another sample
 * format or channel count is converted on the spot; another rate goes
 * through a streaming resampler kept by the queue so that a stream of chunks
 * joins without clicks; it holds back a few ms until more input arrives or
 * audio_queue_end_stream(). Returns 0, -EINVAL (NULL) or -ENOMEM (nothing
 * of pcm appended then). */
int audio_queue_put(audio_queue_t *self, const pcm_t *pcm);

/* Pushes the audio the resampler of put() still holds (end of an utterance
 * or a stream at another rate) into the queue. No-op without resampling.
 * Returns 0 or -ENOMEM. */
int audio_queue_end_stream(audio_queue_t *self);

/* Removes and returns the oldest audio, up to max_ms (AUDIO_QUEUE_ALL: all
 * of it); may be shorter. NULL with errno EAGAIN when the queue is empty
 * (or ENOMEM; nothing is removed then). */
pcm_t *audio_queue_take(audio_queue_t *self, uint32_t max_ms);

/* Removes and returns exactly ms of the oldest audio (pcm_ms_to_frames
 * frames). When less is buffered returns NULL with errno EAGAIN and removes
 * nothing, so a paced consumer can wait for a full frame or decide to pad. */
pcm_t *audio_queue_take_exact(audio_queue_t *self, uint32_t ms);

/* Buffered audio in frames, and in ms (rounded down). */
size_t audio_queue_available_frames(const audio_queue_t *self);
uint32_t audio_queue_available_ms(const audio_queue_t *self);

/* Frames dropped by overflow since creation (clear does not count). */
uint64_t audio_queue_dropped_frames(const audio_queue_t *self);

/* Empties the queue, including audio held in the resampler (barge-in). */
void audio_queue_clear(audio_queue_t *self);

#endif
