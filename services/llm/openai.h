/* openai — replies from any OpenAI-compatible /v1/chat/completions server
 * (OpenAI, vLLM, llama.cpp, Ollama, LiteLLM, ...), streamed ("stream":
 * true) over the service loop's HTTP client.
 *
 * Per reply: the request carries the system prompt and the session's
 * conversation; content deltas stream out as they arrive; a first-token
 * deadline and a total deadline apply to every request; a 429, a 5xx or a
 * connection that never got a response is retried with exponential backoff
 * (plus jitter), but only before anything was said; tool calls are run by
 * POSTing their arguments to the tool's webhook, their results appended,
 * and the reply continued with a new request (at most max_tool_rounds
 * rounds; the last request forbids more calls). */
#ifndef VOXMESH_LLM_OPENAI_H
#define VOXMESH_LLM_OPENAI_H

#include "http_client.h"
#include "provider.h"
#include "service.h"
#include "tools.h"

typedef struct {
    const char *base_url;          /* ".../v1": POST base_url + "/chat/completions" */
    const char *model;
    double temperature;            /* < 0: not sent */
    const char *system_prompt;     /* NULL or "": none */
    const char *api_key;           /* NULL: no Authorization header */
    int first_token_ms, total_ms;  /* per request */
    int max_retries, retry_base_ms;
    int tool_timeout_ms, max_tool_rounds;
    const tools_t *tools;          /* NULL: no tools (borrowed) */
} openai_config_t;

/* Copies the strings of cfg. */
provider_t *openai_provider_new(service_t *svc, http_client_t *http, const openai_config_t *cfg);

#endif
