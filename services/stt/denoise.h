/* denoise — stationary-noise suppression in front of the recogniser.
 *
 * PocketSphinx's acoustic model was trained on clean speech: at 10 dB SNR
 * its word error rate goes from a few per cent to most of the words
 * (measured in wer_test). A classic short-time spectral Wiener filter fixes
 * most of that: 32 ms frames, 50 % overlap, sqrt-Hann windows; the noise
 * spectrum is estimated from the utterance's first frames (the VAD's
 * pre-roll is audio from before the speech began) and kept up to date in
 * frames that look like noise; the gain per bin follows the decision-
 * directed a-priori SNR (Ephraim & Malah 1984) with a floor, so the
 * residual noise stays smooth rather than "musical".
 *
 * Streaming, per utterance: samples in, the same number of samples out,
 * 16 ms (one hop) later. 16 kHz mono s16. */
#ifndef VOXMESH_STT_DENOISE_H
#define VOXMESH_STT_DENOISE_H

#include <stddef.h>
#include <stdint.h>

typedef struct denoise denoise_t;

denoise_t *denoise_new(void);
void denoise_destroy(denoise_t **self_p);

/* Starts over (a new utterance). */
void denoise_reset(denoise_t *d);

/* Filters n samples; writes the output produced so far into out (capacity
 * n + DENOISE_HOP) and returns its length. */
#define DENOISE_HOP 256
size_t denoise_process(denoise_t *d, const int16_t *in, size_t n, int16_t *out);

/* The samples held back, followed by a little silence (at most
 * 2 * DENOISE_HOP into out); then starts over. */
size_t denoise_flush(denoise_t *d, int16_t *out);

#endif
