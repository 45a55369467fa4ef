/* split — a sentence in pieces of bounded length, so that no synthesis job
 * runs long (another session waits at most one piece) and the first audio
 * of a long sentence does not wait for all of its text to be analysed.
 * Pieces end at a clause break (", ; : )" before a space) in the last two
 * thirds of the limit, else at a space, else at a UTF-8 character
 * boundary; they are trimmed of white space. */
#ifndef VOXMESH_TTS_SPLIT_H
#define VOXMESH_TTS_SPLIT_H

#include <stddef.h>

/* Called for each piece (not NUL-terminated); a negative return stops. */
typedef int (tts_piece_fn)(const char *piece, size_t len, void *arg);

/* Splits text[0..len) into pieces of at most max_chars bytes (at least 8).
 * Returns 0, or what fn returned when negative. */
int tts_split(const char *text, size_t len, size_t max_chars, tts_piece_fn *fn, void *arg);

#endif
