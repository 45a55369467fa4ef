/* sentences — cuts streamed reply text into sentences the moment each one
 * is complete, so that TTS can start speaking the first while the model is
 * still writing the rest.
 *
 * A sentence ends at '.', '!', '?' or '…' (runs such as "?!" or "..."
 * count as one), optionally followed by closing quotes or brackets, and then
 * whitespace; or at a newline (list items without a full stop); or at a
 * CJK full stop, exclamation or question mark. Not an end: a '.' inside a
 * number (3.14), after a common abbreviation (Mr. Dr. e.g. etc. vs. ...),
 * after an initial (J. R. R.), after a word with dots in it (U.S.), or a
 * list number standing alone ("1."). A '.' at the end of the text so far is
 * undecided until the next piece arrives. A sentence longer than max_len
 * bytes is cut at the last comma, semicolon, colon or space before it. */
#ifndef VOXMESH_LLM_SENTENCES_H
#define VOXMESH_LLM_SENTENCES_H

#include <stddef.h>

typedef struct sentences sentences_t;

/* One sentence, trimmed, never empty (text is not NUL-terminated). */
typedef void (sentence_fn)(const char *text, size_t len, void *user);

/* max_len: 0 for the default (400 bytes). */
sentences_t *sentences_new(size_t max_len);
void sentences_destroy(sentences_t **self_p);

/* Appends a piece of the stream; calls fn for every sentence it completes.
 * Returns 0, or -ENOMEM (the piece is dropped). */
int sentences_push(sentences_t *self, const char *text, size_t len, sentence_fn *fn, void *user);

/* The end of the stream: what is left, if anything but blanks, is the last
 * sentence. The splitter is then empty, ready for another stream. */
void sentences_flush(sentences_t *self, sentence_fn *fn, void *user);

/* Forgets what is buffered (a reply that was cut off). */
void sentences_reset(sentences_t *self);

#endif
