/* source — the input file as the packets a transport sends: 20 ms Opus
 * packets (WHIP, ws opus) or 20 ms s16 mono frames (ws pcm16).
 *
 * Input is a WAV of any rate and channel count (downmixed to mono,
 * resampled to the wanted rate, then encoded for Opus) or an Ogg/Opus file
 * (its packets sent as they are, each paced by its own duration; decoded
 * for pcm16, and re-encoded to mono when it is stereo). The whole file is prepared up front so that nothing but
 * sending happens on the real-time path. */
#ifndef VOXMESH_CLIENT_SOURCE_H
#define VOXMESH_CLIENT_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    SOURCE_OPUS,                /* Opus packets */
    SOURCE_PCM16,               /* s16 mono frames at the rate */
} source_kind_t;

typedef struct source source_t;

typedef struct {
    const uint8_t *data;        /* Opus packet, or little-endian s16 samples */
    size_t len;                 /* bytes */
    const int16_t *pcm;         /* SOURCE_PCM16: the samples (host order) */
    size_t frames;              /* SOURCE_PCM16: samples in pcm */
    uint32_t samples48;         /* duration in 48 kHz samples */
    bool voiced;                /* not silent (recorder.h's threshold) */
} source_frame_t;

/* Loads `path` for sending as `kind` at `rate` (Opus: the encoder's input
 * rate, 48000 for WHIP). Returns NULL and a reason in err on failure. */
source_t *source_new(const char *path, source_kind_t kind, int rate, char *err, size_t err_size);

/* Frees the source and sets *p to NULL. */
void source_destroy(source_t **p);

/* Number of packets, and packet i (valid until destroy). */
size_t source_count(const source_t *s);
const source_frame_t *source_frame(const source_t *s, size_t i);

/* Total duration in microseconds. */
int64_t source_duration_us(const source_t *s);

/* Opus only: channels of the packets (always 1) and the pre-skip (48 kHz
 * samples) to announce in an Ogg/Opus header. */
int source_channels(const source_t *s);
int source_preskip(const source_t *s);

/* The input as mono s16 at `rate` (for tests and --compare). */
const int16_t *source_pcm(const source_t *s, size_t *frames);

#endif
