/* provider — where a reply comes from: the rules file (rules_provider.c)
 * or an OpenAI-compatible server (openai.c). One small table of functions,
 * so that the session logic (session.c) does not care which.
 *
 * A reply is asynchronous: start() returns at once, the text streams to
 * on_text in pieces, and on_done ends it exactly once, unless cancel() came
 * first: after cancel() returns, no callback of that reply runs. The reply
 * is freed by the provider after on_done returns, or by cancel(). The
 * callbacks must not cancel the reply they are called for (they may start
 * or cancel others). */
#ifndef VOXMESH_LLM_PROVIDER_H
#define VOXMESH_LLM_PROVIDER_H

#include "json.h"

#include <stddef.h>

typedef struct reply reply_t;

typedef struct {
    /* A piece of the reply's text. */
    void (*on_text)(void *user, const char *text, size_t len);
    /* The conversation so far as JSON message objects separated by commas
     * (without the system prompt, which is the provider's). */
    void (*messages)(void *user, json_buf_t *out);
    /* Messages the provider added to this turn (an assistant message with
     * tool_calls, then the tool results), JSON objects, in order. */
    void (*on_message)(void *user, const char *role, const char *message_json);
    /* A retry after a failed attempt (metrics, a log line). */
    void (*on_retry)(void *user, const char *why);
    /* The end: error NULL when the reply is complete, else why. */
    void (*on_done)(void *user, const char *error);
} reply_cb_t;

typedef struct provider provider_t;
struct provider {
    const char *name;
    /* transcript: what the caller said in this turn (the last user
     * message); label: the session id, for log lines. NULL: not started. */
    reply_t *(*start)(provider_t *self, const char *transcript, const char *label, const reply_cb_t *cb, void *user);
    void (*cancel)(reply_t *reply);
    void (*destroy)(provider_t *self);
};

#endif
