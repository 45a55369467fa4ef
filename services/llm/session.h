/* session — one caller's conversation with the agent: its history and at
 * most one reply in flight.
 *
 *   stt.final      -> a new turn: the transcript joins the history and a
 *                     reply starts (one still streaming is cancelled first,
 *                     reason "interrupted": the caller spoke again);
 *   reply text     -> llm.delta. per piece, llm.sentence. per complete
 *                     sentence (index 0, 1, ...), the rest at the end,
 *                     then llm.done. "complete";
 *   turn.interrupt -> the reply is cancelled at once, llm.done.
 *                     "interrupted"; the history keeps the sentences
 *                     already published, marked cut;
 *   tts.spoken.    -> what the caller actually heard of a turn replaces
 *                     that turn's reply in the history (marked cut);
 *   failure        -> one llm.sentence. with an apology, then llm.done.
 *                     "error" with the detail.
 * Every event carries the session id and the stt.final's origin time. */
#ifndef VOXMESH_LLM_SESSION_H
#define VOXMESH_LLM_SESSION_H

#include "llm.h"

typedef struct llm_session llm_session_t;

llm_session_t *llm_session_new(llm_t *llm, const char *id);
/* Cancels a reply in flight (no events) and frees the session. */
void llm_session_destroy(llm_session_t **self_p);

void llm_session_final(llm_session_t *self, const event_t *ev);
void llm_session_interrupt(llm_session_t *self, const event_t *ev);
void llm_session_spoken(llm_session_t *self, const event_t *ev);

/* For tests: the conversation as the provider sees it (JSON objects
 * separated by commas), and whether a reply is in flight. */
void llm_session_messages(llm_session_t *self, json_buf_t *out);
bool llm_session_busy(const llm_session_t *self);

#endif
