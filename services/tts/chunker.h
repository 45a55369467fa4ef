/* chunker — turns PCM that arrives in pieces of any size into chunks of a
 * fixed number of frames (mono S16).
 *
 * HTTP providers stream raw s16le bytes, and a TCP read can split a sample
 * between two pieces: the odd byte is held until its partner arrives. flite
 * calls back with a few hundred samples at a time; publishing each as a bus
 * event would be wasteful, so they are gathered too. */
#ifndef VOXMESH_TTS_CHUNKER_H
#define VOXMESH_TTS_CHUNKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tts_chunker tts_chunker_t;

/* chunk_frames > 0; max_frames bounds what it holds (0: 16 chunks). */
tts_chunker_t *tts_chunker_new(size_t chunk_frames, size_t max_frames);
void tts_chunker_destroy(tts_chunker_t **self_p);

/* Appends little-endian s16 bytes, any length (an odd last byte is kept for
 * the next call). Returns 0, or -ENOSPC when more than max_frames would be
 * held (take chunks first). */
int tts_chunker_put_bytes(tts_chunker_t *self, const uint8_t *data, size_t len);

/* Appends samples in host order. Same return values. */
int tts_chunker_put(tts_chunker_t *self, const int16_t *samples, size_t n);

/* The next whole chunk (flush: or whatever is left, however short). Returns
 * its frame count (0: none) and points *out at the samples, valid until the
 * next put or take. */
size_t tts_chunker_take(tts_chunker_t *self, const int16_t **out, bool flush);

/* True when a byte without its partner is held (at the end: a truncated
 * stream); tts_chunker_reset() drops it. */
bool tts_chunker_odd(const tts_chunker_t *self);

/* Frames held, not yet taken. */
size_t tts_chunker_frames(const tts_chunker_t *self);

/* Forgets everything held (a new stream). */
void tts_chunker_reset(tts_chunker_t *self);

#endif
