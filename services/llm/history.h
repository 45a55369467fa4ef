/* history — one session's conversation as the model will see it: user
 * turns, assistant replies (what was actually spoken) and the tool calls
 * of a turn, bounded by a number of turns and of bytes.
 *
 * A turn is every message with one turn id (the utterance it answers).
 * When a bound is exceeded the oldest turns are dropped whole (a tool call
 * is never kept without its result, nor a reply without its question); the
 * newest turn is always kept, and one message is at most half the byte
 * bound (longer text is cut). */
#ifndef VOXMESH_LLM_HISTORY_H
#define VOXMESH_LLM_HISTORY_H

#include "json.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct history history_t;

history_t *history_new(size_t max_turns, size_t max_bytes);
void history_destroy(history_t **self_p);

/* Appends a plain message ("user" or "assistant"). 0 or -ENOMEM. */
int history_add(history_t *self, uint64_t turn, const char *role, const char *content);

/* Appends a message given as a JSON object (an assistant message with
 * tool_calls, a tool result); `role` is for history_role(). */
int history_add_json(history_t *self, uint64_t turn, const char *role, const char *message_json);

/* Sets what the assistant said in a turn: replaces the turn's plain
 * assistant message, or appends one. cut: the reply was interrupted
 * ("…" is appended, so the model knows it was cut off). */
int history_set_reply(history_t *self, uint64_t turn, const char *text, bool cut);

bool history_has_turn(const history_t *self, uint64_t turn);

/* Writes the messages as JSON objects separated by commas (the inside of
 * a "messages" array, without the brackets). */
void history_write(const history_t *self, json_buf_t *out);

size_t history_len(const history_t *self);     /* messages */
size_t history_turns(const history_t *self);
size_t history_bytes(const history_t *self);
const char *history_role(const history_t *self, size_t i);
const char *history_content(const history_t *self, size_t i);   /* text, or the JSON object */
uint64_t history_turn(const history_t *self, size_t i);

#endif
