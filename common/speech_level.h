/* speech_level — how loud speech is, the way SNRs of noisy speech are
 * stated: the active speech level of ITU-T P.56 (method B), and noise
 * mixed in at a given SNR against that level.
 *
 * "10 dB of noise" means the noise's mean power is 10 dB below the speech's
 * active level: the mean power over the samples where speech is active (an
 * envelope with a 30 ms time constant above an adaptive threshold, 200 ms of
 * hangover, 15.9 dB of margin), so pauses neither dilute the speech's power
 * (as a whole-file RMS does) nor are the quiet samples inside a word left
 * out (as a sample-amplitude threshold does). The noisy-speech corpora
 * (Aurora-2 and after) state their SNRs this way; our WER tests use it
 * so that their "10 dB" means what it says (docs/stt.md). */
#ifndef VOXMESH_SPEECH_LEVEL_H
#define VOXMESH_SPEECH_LEVEL_H

#include <stddef.h>
#include <stdint.h>

/* The active speech level of n samples at rate, in dB relative to a
 * mean square of 1 (a full-scale square wave is +90.3 dB). *activity (may
 * be NULL) gets the fraction of samples judged active. Returns -INFINITY
 * for silence (nothing above the lowest threshold). */
double speech_level_db(const int16_t *x, size_t n, uint32_t rate, double *activity);

/* Adds pink (1/f) noise whose mean power is snr_db below the active level
 * of x (from an LCG seeded with seed, through Paul Kellet's economy pink
 * filter), clipping at full scale. Returns 0, or -1 when x is silence or
 * the noise buffer cannot be allocated (x is then unchanged). */
int speech_level_add_pink(int16_t *x, size_t n, uint32_t rate, double snr_db, uint32_t seed);

#endif
