/* voxmesh-llm — the agent's words: transcripts in, reply text out, as
 * sentences ready to speak (docs/llm.md).
 *
 * Two providers: `rules` (the default: a rules file, offline, NOT a
 * language model) and `openai` (any OpenAI-compatible chat completions
 * server, streamed, with retries and tool calling). Every session has its
 * own history and at most one reply in flight; all provider I/O is
 * asynchronous on the service loop, so a stuck provider delays no other
 * session. */
#include "http_client.h"
#include "llm.h"
#include "log.h"
#include "openai.h"
#include "rules_provider.h"
#include "session.h"
#include "session_map.h"
#include "svc_timer.h"
#include "tools.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    llm_t llm;
    session_map_t *sessions;
    http_client_t *http;
    tools_t *tools;
    metric_t *m_sessions;
} s_daemon_t;

static const service_option_t s_options[] = {
    { "provider", "rules", "rules (offline, a rules file; not a language model) or openai (any compatible server)" },
    { "rules", "deploy/rules/agent.rules", "rules file of the rules provider (absolute, or relative to the current directory)" },
    { "base-url", "https://api.openai.com/v1", "openai: the API base; requests go to BASE/chat/completions" },
    { "model", "gpt-4o-mini", "openai: the model" },
    { "temperature", "0.7", "openai: sampling temperature (empty: the server's default)" },
    { "system-prompt", "You are a helpful voice assistant. Answer in a few short spoken sentences, without lists or markup.",
      "openai: the system message" },
    { "api-key-env", "OPENAI_API_KEY", "openai: name of the environment variable holding the API key (never the key itself)" },
    { "first-token-ms", "5000", "openai: deadline for the first token of each request" },
    { "total-ms", "30000", "openai: deadline for each whole request" },
    { "max-retries", "2", "openai: retries of a 429, 5xx or connection failure, before the first token only" },
    { "retry-backoff-ms", "250", "openai: first retry delay, doubled each time (+-25% jitter)" },
    { "tools", NULL, "openai: JSON file of tools the model may call (docs/llm.md)" },
    { "tool-timeout-ms", "5000", "openai: deadline of a tool's webhook" },
    { "max-tool-rounds", "3", "openai: tool rounds per reply" },
    { "history-turns", "20", "turns of conversation kept per session" },
    { "history-bytes", "32768", "bytes of conversation kept per session" },
    { "max-sessions", "1000", "sessions held at once" },
    { "idle-timeout-ms", "600000", "free a session's state after this long without events" },
    { NULL, NULL, NULL }
};

/* ---- sessions --------------------------------------------------------------------------------- */

static void *s_make(const char *id, void *arg)
{
    return llm_session_new(&((s_daemon_t *)arg)->llm, id);
}

static void s_free(void *state, const char *id, const char *why, void *arg)
{
    (void)arg;
    llm_session_t *s = state;
    log_debug("session %s: freed (%s)", id, why);
    llm_session_destroy(&s);
}

static void s_count(s_daemon_t *d)
{
    metric_set(d->m_sessions, (double)session_map_size(d->sessions));
}

static int s_on_final(service_t *svc, bus_msg_t *msg, void *arg)
{
    (void)svc;
    s_daemon_t *d = arg;
    if (msg->ev->payload_case != VOXMESH__ENVELOPE__PAYLOAD_STT_FINAL) return 0;
    llm_session_t *s = session_map_open(d->sessions, msg->ev->session_id);
    s_count(d);
    if (s) llm_session_final(s, msg->ev);
    return 0;
}

static int s_on_interrupt(service_t *svc, bus_msg_t *msg, void *arg)
{
    (void)svc;
    s_daemon_t *d = arg;
    if (msg->ev->payload_case != VOXMESH__ENVELOPE__PAYLOAD_TURN_INTERRUPT) return 0;
    llm_session_t *s = session_map_get(d->sessions, msg->ev->session_id);
    if (s) llm_session_interrupt(s, msg->ev);
    return 0;
}

static int s_on_spoken(service_t *svc, bus_msg_t *msg, void *arg)
{
    (void)svc;
    s_daemon_t *d = arg;
    if (msg->ev->payload_case != VOXMESH__ENVELOPE__PAYLOAD_TTS_SPOKEN) return 0;
    llm_session_t *s = session_map_get(d->sessions, msg->ev->session_id);
    if (s) llm_session_spoken(s, msg->ev);
    return 0;
}

static int s_on_session(service_t *svc, bus_msg_t *msg, void *arg)
{
    (void)svc;
    s_daemon_t *d = arg;
    if (msg->ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_SESSION_ENDED) {
        session_map_end(d->sessions, msg->ev->session_id, "ended");
        s_count(d);
    }
    return 0;
}

static int s_reap(service_t *svc, void *arg)
{
    (void)svc;
    s_daemon_t *d = arg;
    if (session_map_reap(d->sessions)) s_count(d);
    return 0;
}

/* ---- set-up ------------------------------------------------------------------------------------- */

static int s_int(service_t *svc, const char *name, long min, long max, int *out)
{
    long v;
    if (service_opt_int(svc, name, min, max, &v) < 0) return -1;
    *out = (int)v;
    return 0;
}

static provider_t *s_rules_provider(service_t *svc)
{
    const char *path = service_opt(svc, "rules");
    char err[512];
    rules_t *rules = rules_load(path, err, sizeof err);
    if (!rules) {
        log_error("bad rules file: %s", err);
        return NULL;
    }
    log_info("provider: rules (not a language model), %zu rules from %s", rules_count(rules), path);
    provider_t *p = rules_provider_new(svc, rules);
    if (!p) rules_destroy(&rules);
    return p;
}

static provider_t *s_openai_provider(service_t *svc, s_daemon_t *d)
{
    openai_config_t cfg = {
        .base_url = service_opt(svc, "base-url"),
        .model = service_opt(svc, "model"),
        .system_prompt = service_opt(svc, "system-prompt"),
        .temperature = -1,
    };
    const char *temp = service_opt(svc, "temperature");
    if (temp && *temp) {
        char *end;
        cfg.temperature = strtod(temp, &end);
        if (*end || cfg.temperature < 0 || cfg.temperature > 2) {
            log_error("--temperature: '%s' is not a number from 0 to 2", temp);
            return NULL;
        }
    }
    if (!cfg.base_url || (strncmp(cfg.base_url, "http://", 7) && strncmp(cfg.base_url, "https://", 8))) {
        log_error("--base-url: '%s' is not an http(s) URL", cfg.base_url ? cfg.base_url : "");
        return NULL;
    }
    if (!cfg.model || !*cfg.model) {
        log_error("--model: empty");
        return NULL;
    }
    if (s_int(svc, "first-token-ms", 100, 600000, &cfg.first_token_ms) < 0
        || s_int(svc, "total-ms", 100, 3600000, &cfg.total_ms) < 0
        || s_int(svc, "max-retries", 0, 10, &cfg.max_retries) < 0
        || s_int(svc, "retry-backoff-ms", 1, 60000, &cfg.retry_base_ms) < 0
        || s_int(svc, "tool-timeout-ms", 100, 600000, &cfg.tool_timeout_ms) < 0
        || s_int(svc, "max-tool-rounds", 0, 10, &cfg.max_tool_rounds) < 0)
        return NULL;
    const char *key_env = service_opt(svc, "api-key-env");
    cfg.api_key = key_env && *key_env ? getenv(key_env) : NULL;
    if (!cfg.api_key || !*cfg.api_key)
        log_warn("provider: no API key in $%s: requests go without Authorization", key_env ? key_env : "");
    const char *tools_path = service_opt(svc, "tools");
    if (tools_path && *tools_path) {
        char err[512];
        if (!(d->tools = tools_load(tools_path, err, sizeof err))) {
            log_error("bad tools file: %s", err);
            return NULL;
        }
        cfg.tools = d->tools;
    }
    if (!(d->http = http_client_new(svc))) return NULL;
    log_info("provider: openai, model %s at %s (key from $%s: %s), %zu tools", cfg.model, cfg.base_url,
             key_env ? key_env : "", cfg.api_key && *cfg.api_key ? "set" : "unset", tools_count(d->tools));
    return openai_provider_new(svc, d->http, &cfg);
}

static void s_metrics(s_daemon_t *d)
{
    metrics_t *m = service_metrics(d->llm.svc);
    llm_t *l = &d->llm;
    l->m_turns = metrics_counter(m, "voxmesh_llm_turns_total", NULL, "Replies started (one per final transcript)");
    l->m_errors = metrics_counter(m, "voxmesh_llm_errors_total", NULL, "Replies that failed (the caller heard the apology)");
    l->m_interrupts = metrics_counter(m, "voxmesh_llm_interrupts_total", NULL, "Replies cut off by a barge-in or a new transcript");
    l->m_retries = metrics_counter(m, "voxmesh_llm_retries_total", NULL, "Provider requests retried (429, 5xx, no connection)");
    l->m_tool_calls = metrics_counter(m, "voxmesh_llm_tool_calls_total", NULL, "Tool webhooks called");
    l->m_first_token = metrics_histogram(m, "voxmesh_llm_first_token_seconds", NULL,
                                         "From receiving stt.final to the first token of the reply", NULL, 0);
    l->m_first_sentence = metrics_histogram(m, "voxmesh_llm_first_sentence_seconds", NULL,
                                            "From receiving stt.final to publishing the first sentence", NULL, 0);
    l->m_first_sentence_origin = metrics_histogram(m, "voxmesh_llm_first_sentence_from_origin_seconds", NULL,
                                                   "From the caller's end of speech (envelope origin) to the first sentence",
                                                   NULL, 0);
    d->m_sessions = metrics_gauge(m, "voxmesh_llm_sessions", NULL, "Sessions with state here");
}

int main(int argc, char **argv)
{
    service_t *svc = service_new("llm", "Turns final transcripts into the agent's reply, sentence by sentence.",
                                 s_options, argc, argv);
    if (!svc) return 2;
    s_daemon_t d = { .llm.svc = svc };
    service_publishes(svc, TOPIC_LLM_DELTA);
    service_publishes(svc, TOPIC_LLM_SENTENCE);
    service_publishes(svc, TOPIC_LLM_DONE);
    service_on(svc, TOPIC_STT_FINAL, s_on_final, &d);
    service_on(svc, TOPIC_TURN_INTERRUPT, s_on_interrupt, &d);
    service_on(svc, TOPIC_SESSION, s_on_session, &d);
    service_on(svc, TOPIC_TTS_SPOKEN, s_on_spoken, &d);
    int rc = service_start(svc);
    int status = rc > 0 ? 0 : 1;   /* --describe/--help answered: 0; a failed start: 1 */
    if (rc != 0) goto out;
    long turns, bytes, max_sessions, idle_ms;
    if (service_opt_int(svc, "history-turns", 1, 1000, &turns) < 0
        || service_opt_int(svc, "history-bytes", 256, 16 << 20, &bytes) < 0
        || service_opt_int(svc, "max-sessions", 1, 1000000, &max_sessions) < 0
        || service_opt_int(svc, "idle-timeout-ms", 1000, 86400000, &idle_ms) < 0)
        goto out;
    d.llm.history_turns = (size_t)turns;
    d.llm.history_bytes = (size_t)bytes;
    const char *provider = service_opt(svc, "provider");
    if (!strcmp(provider, "rules")) d.llm.provider = s_rules_provider(svc);
    else if (!strcmp(provider, "openai")) d.llm.provider = s_openai_provider(svc, &d);
    else log_error("--provider: '%s' is neither rules nor openai", provider);
    if (!d.llm.provider) goto out;
    s_metrics(&d);
    d.sessions = session_map_new((size_t)max_sessions, (int64_t)idle_ms * 1000, s_make, s_free, &d);
    if (!d.sessions) goto out;
    srand((unsigned)(time(NULL) ^ getpid()));
    service_every(svc, 10000, s_reap, &d);
    status = service_run(svc);
out:
    session_map_destroy(&d.sessions);        /* cancels replies in flight */
    if (d.llm.provider) d.llm.provider->destroy(d.llm.provider);
    http_client_destroy(&d.http);
    svc_timers_shutdown(svc);
    tools_destroy(&d.tools);
    service_destroy(&svc);
    return status;
}
