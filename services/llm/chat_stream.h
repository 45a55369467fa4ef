/* chat_stream — reads an OpenAI-compatible /v1/chat/completions stream
 * ("stream": true), one server-sent event's data at a time: content deltas
 * go to a callback as they come; tool calls are accumulated across chunks
 * (tool_calls[i].function.arguments arrives in pieces, the id and name
 * usually in the first); the finish reason and the final [DONE] are noted.
 *
 * Untrusted input: malformed JSON, an {"error": ...} object, more than
 * CHAT_MAX_TOOL_CALLS calls or over-long fields are errors with a message. */
#ifndef VOXMESH_LLM_CHAT_STREAM_H
#define VOXMESH_LLM_CHAT_STREAM_H

#include "json.h"

#include <stdbool.h>
#include <stddef.h>

#define CHAT_MAX_TOOL_CALLS 8
#define CHAT_MAX_ARGUMENTS (64u << 10)

typedef struct chat_stream chat_stream_t;
typedef void (chat_text_fn)(void *user, const char *text, size_t len);

chat_stream_t *chat_stream_new(void);
void chat_stream_destroy(chat_stream_t **self_p);

/* Forgets everything: a new response (a retry, the next tool round). */
void chat_stream_reset(chat_stream_t *self);

/* One event's data. Returns 1 at "[DONE]" (and for anything after it), 0
 * to go on, -1 on an error described in err. Content goes to fn. */
int chat_stream_feed(chat_stream_t *self, const char *data, size_t len, chat_text_fn *fn, void *user,
                     char *err, size_t errlen);

bool chat_stream_done(const chat_stream_t *self);            /* [DONE] seen */
const char *chat_stream_finish_reason(const chat_stream_t *self);   /* "" until one came */
size_t chat_stream_content_bytes(const chat_stream_t *self);

size_t chat_stream_tool_calls(const chat_stream_t *self);
const char *chat_stream_tool_id(const chat_stream_t *self, size_t i);
const char *chat_stream_tool_name(const chat_stream_t *self, size_t i);
const char *chat_stream_tool_arguments(const chat_stream_t *self, size_t i);

/* The assistant message that asked for the tool calls, as a JSON object
 * (to append to the conversation before the tool results). */
void chat_stream_write_tool_message(const chat_stream_t *self, json_buf_t *out);

#endif
