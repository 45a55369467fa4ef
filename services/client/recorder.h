/* recorder — the audio that comes back, laid out on a timeline, and the
 * times at which non-silent audio arrived.
 *
 * Frame 0 of the timeline is the moment the first input packet was sent
 * (t0), so in the WAV written at the end the reply sits where it was heard:
 * a cross-correlation with the input gives the round-trip latency as its
 * lag. Audio is mono s16 at one rate. Writes past `max_frames` are dropped
 * (the run is bounded by --timeout-ms anyway). */
#ifndef VOXMESH_CLIENT_RECORDER_H
#define VOXMESH_CLIENT_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A frame is "voiced" (not silent) when its RMS is above this level. */
#define RECORDER_VOICED_DBFS (-45.0)

typedef struct recorder recorder_t;

/* True when the RMS of n samples is above RECORDER_VOICED_DBFS. */
bool audio_voiced(const int16_t *pcm, size_t n);

/* Where audio goes: the position of the moment it arrived, so an echo that
 * comes back at once lines up with the input (which is sent at the start of
 * each packet's interval) and the lag of a correlation is the latency. */

/* Creates an empty timeline at `rate` Hz starting at t0_us (monotonic). */
recorder_t *recorder_new(int rate, int64_t t0_us, size_t max_frames);

/* Destroys the recorder and sets *p to NULL. */
void recorder_destroy(recorder_t **p);

int recorder_rate(const recorder_t *r);

/* Moves t0 (before anything was put): the start of sending. */
void recorder_set_t0(recorder_t *r, int64_t t0_us);

/* Converts a monotonic time to a timeline position (frames, may be < 0). */
int64_t recorder_pos(const recorder_t *r, int64_t at_us);

/* Writes n frames at position pos (frames before 0 are dropped, later
 * writes overwrite earlier ones). `arrival_us` is when this audio arrived;
 * `concealed` marks PLC output, which is recorded but neither counted as
 * received nor taken as a sign that audio came back. */
void recorder_put(recorder_t *r, int64_t pos, const int16_t *pcm, size_t n,
                  int64_t arrival_us, bool concealed);

/* For streams without timestamps (WebSocket frames over TCP): appends after
 * the previous chunk; the first chunk, and any chunk arriving more than
 * 200 ms later than the running position says (the sender paused), is
 * placed at its arrival time. */
void recorder_put_stream(recorder_t *r, const int16_t *pcm, size_t n, int64_t arrival_us);

/* Arrival of the first / last voiced chunk (monotonic us), -1 when none. */
int64_t recorder_first_voiced_us(const recorder_t *r);
int64_t recorder_last_voiced_us(const recorder_t *r);

/* Frames received (concealment excluded), and frames of concealment. */
uint64_t recorder_received_frames(const recorder_t *r);
uint64_t recorder_concealed_frames(const recorder_t *r);

/* Timeline length in frames (up to the end of the last write). */
size_t recorder_frames(const recorder_t *r);

/* Interarrival jitter of the recorded stream (RFC 3550 A.8 formula applied
 * to the chunks of recorder_put_stream), in ms. */
double recorder_stream_jitter_ms(const recorder_t *r);

/* Writes the timeline as a mono s16 WAV; `min_ms` pads it with silence to
 * at least that length. Returns 0 or -errno. */
int recorder_write_wav(const recorder_t *r, const char *path, int min_ms);

#endif
