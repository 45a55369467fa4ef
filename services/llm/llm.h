/* llm — what the daemon's sessions share: the service, the provider, the
 * bounds and the metrics (main.c sets it up, session.c uses it). */
#ifndef VOXMESH_LLM_LLM_H
#define VOXMESH_LLM_LLM_H

#include "provider.h"
#include "service.h"

#include <stddef.h>

/* What the caller hears when the provider fails. */
#define LLM_APOLOGY "Sorry, I could not reach my language model. Please try again."

typedef struct {
    service_t *svc;                /* NULL in unit tests: events go to publish */
    provider_t *provider;
    size_t history_turns, history_bytes;
    /* Publishes an event (bus_publish by default; tests capture them). */
    void (*publish)(void *arg, const char *topic, event_t *ev);
    void *publish_arg;
    metric_t *m_turns, *m_errors, *m_interrupts, *m_retries, *m_tool_calls;
    metric_t *m_first_token, *m_first_sentence, *m_first_sentence_origin;
} llm_t;

#endif
