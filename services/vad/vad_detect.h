/* vad_detect — frame-level voice activity detector (see docs/vad.md).
 *
 * A statistical-model detector (Sohn et al. 1999): every 10 ms frame is
 * compared bin by bin with an adaptive noise spectrum, the per-bin Gaussian
 * likelihood ratios of the 200–4000 Hz band are averaged, smoothed over time
 * and thresholded, and a short hangover bridges the dips between syllables.
 * The noise spectrum follows the floor continuously (minimum statistics plus
 * speech-presence-weighted averaging), so the detector needs no calibration.
 *
 * Pure algorithm: no I/O, no clock, no allocation after vad_detect_new().
 * Not thread-safe; one instance per audio stream. */
#ifndef VOXMESH_VAD_DETECT_H
#define VOXMESH_VAD_DETECT_H

#include <stddef.h>
#include <stdint.h>

typedef struct _vad_detect_t vad_detect_t;

/* Creates a detector. sample_rate is 8000, 16000, 32000 or 48000 Hz;
 * aggressiveness 0..3 trades recall for precision like WebRTC's modes
 * (0 = keep every bit of speech, 3 = report only clear speech; 2 is the
 * default used by the VAD daemon). Returns NULL on bad arguments. */
vad_detect_t *vad_detect_new(int sample_rate, int aggressiveness);

/* Destroys the detector and sets *self_p to NULL. */
void vad_detect_destroy(vad_detect_t **self_p);

/* Number of samples in one frame (10 ms: 160 at 16 kHz). */
size_t vad_detect_frame_samples(const vad_detect_t *self);

/* Duration of one frame in microseconds (always 10000). */
int64_t vad_detect_frame_us(const vad_detect_t *self);

/* Sets the hangover: how long a decision stays "speech" after the evidence
 * drops (0..1000 ms, default 40). The turn module bridges longer pauses;
 * this one only smooths the frame decisions. Returns 0 or -EINVAL. */
int vad_detect_set_hangover(vad_detect_t *self, int ms);

/* Processes one frame of exactly vad_detect_frame_samples() mono samples.
 * Returns 1 for speech, 0 for non-speech, -EINVAL when n is wrong. When
 * prob_out is not NULL it receives a speech probability in [0, 1] (before
 * hangover), useful for logging and for callers with their own threshold. */
int vad_detect_process(vad_detect_t *self, const int16_t *frame, size_t n, float *prob_out);

/* Same with float samples in [-1, 1]. */
int vad_detect_process_float(vad_detect_t *self, const float *frame, size_t n, float *prob_out);

/* Forgets the stream: noise estimate, smoothing and hangover start afresh. */
void vad_detect_reset(vad_detect_t *self);

/* Current noise floor estimate over the 200–4000 Hz band, in dBFS (as the
 * level of a full-band white noise with that in-band density). Diagnostics. */
double vad_detect_noise_dbfs(const vad_detect_t *self);

#endif
