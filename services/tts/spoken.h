/* spoken — what of a reply the caller has heard, estimated from the audio
 * published for it (docs/tts.md, "What was heard").
 *
 * One record per turn: its pieces of text in the order they were spoken,
 * each with the frames of audio published for it, and when those frames
 * play. The edge paces agent audio in real time from when it arrives, so a
 * chunk published at t plays from max(t, the end of the audio before it)
 * for its duration; a pause in synthesis (a slow provider) is a gap in
 * playback, not a shift of everything after it.
 *
 * At a cut at time t the caller has heard every piece whose audio had
 * completely played, plus, of the piece playing at t, the words whose
 * middle had played, taking the piece's words to be spread over its audio
 * in proportion to their length in characters. */
#ifndef VOXMESH_TTS_SPOKEN_H
#define VOXMESH_TTS_SPOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tts_spoken tts_spoken_t;

/* rate: frames per second of the audio; max_pieces bounds the record. */
tts_spoken_t *tts_spoken_new(uint32_t rate, size_t max_pieces);
void tts_spoken_destroy(tts_spoken_t **self_p);

/* Forgets the turn (a new reply begins). */
void tts_spoken_reset(tts_spoken_t *self);

/* A new piece of text starts; the audio that follows is its own. Returns 0,
 * or -ENOSPC when the record is full (its audio is then not attributed). */
int tts_spoken_begin(tts_spoken_t *self, const char *text);

/* `frames` of the current piece were published at now_us. */
void tts_spoken_audio(tts_spoken_t *self, size_t frames, int64_t now_us);

/* The current piece's audio is complete (what was published is all). */
void tts_spoken_end(tts_spoken_t *self);

/* Frames of the turn played by t_us. */
size_t tts_spoken_played(const tts_spoken_t *self, int64_t t_us);

/* When everything published so far will have played (0: nothing yet). */
int64_t tts_spoken_play_end(const tts_spoken_t *self);

/* Frames published for the turn. */
size_t tts_spoken_frames(const tts_spoken_t *self);

/* The text heard by t_us (malloc'd, "" when none; NULL out of memory).
 * frames_per_char estimates the length of a piece still being synthesised. */
char *tts_spoken_heard(const tts_spoken_t *self, int64_t t_us, double frames_per_char);

#endif
