/* openai — see openai.h.
 *
 * A reply is a small state machine: SEND (one streamed chat request, with
 * its first-token timer) -> on success either the end, or TOOLS (the
 * webhooks of the calls the model asked for, in parallel) -> SEND again;
 * on a retryable failure before anything was said, WAIT (backoff timer)
 * -> SEND. Every path ends in s_finish (on_done) or in cancel. */
#include "openai.h"
#include "chat_stream.h"
#include "log.h"
#include "svc_timer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPENAI_ERRBODY_MAX 4096        /* of a non-200 response, for the error detail */
#define OPENAI_TOOL_RESULT_MAX (16u << 10)
#define OPENAI_BACKOFF_MAX_MS 5000

typedef struct {
    provider_t base;           /* first: the table */
    service_t *svc;
    http_client_t *http;
    char *url, *model, *system_prompt, *auth;
    double temperature;
    int first_token_ms, total_ms, max_retries, retry_base_ms, tool_timeout_ms, max_tool_rounds;
    const tools_t *tools;
} s_openai_t;

typedef struct {
    reply_t *reply;
    http_request_t *req;
    char *id, *name;
    long status;
    json_buf_t body;           /* the webhook's answer */
    char *result;              /* what the model will read */
} s_call_t;

struct reply {
    s_openai_t *p;
    reply_cb_t cb;
    void *user;
    char *label;
    http_request_t *req;       /* the chat request in flight */
    sse_parser_t *sse;
    chat_stream_t *stream;
    svc_timer_t *first_token_timer, *retry_timer;
    int attempt;               /* retries of the current request */
    int round;                 /* tool rounds done */
    bool spoke;                /* text was delivered: no more retries */
    bool got_token;            /* this request delivered a delta */
    long status;
    char ctype[64];
    json_buf_t errbody;
    bool failed;               /* a callback aborted the request; why is in error */
    char error[512];
    s_call_t calls[CHAT_MAX_TOOL_CALLS];
    size_t ncalls, pending;
};

static int s_send(reply_t *r);

/* ---- the end ---------------------------------------------------------------------------- */

static void s_calls_free(reply_t *r)
{
    for (size_t i = 0; i < r->ncalls; i++) {
        s_call_t *c = &r->calls[i];
        http_request_cancel(c->req);
        free(c->id);
        free(c->name);
        free(c->result);
        json_buf_free(&c->body);
    }
    r->ncalls = r->pending = 0;
}

static void s_free(reply_t *r)
{
    http_request_cancel(r->req);
    svc_timer_cancel(&r->first_token_timer);
    svc_timer_cancel(&r->retry_timer);
    s_calls_free(r);
    sse_parser_destroy(&r->sse);
    chat_stream_destroy(&r->stream);
    json_buf_free(&r->errbody);
    free(r->label);
    free(r);
}

static void s_finish(reply_t *r, const char *error)
{
    reply_cb_t cb = r->cb;
    void *user = r->user;
    char why[sizeof r->error];
    snprintf(why, sizeof why, "%s", error ? error : "");
    s_free(r);
    cb.on_done(user, error ? why : NULL);
}

/* ---- streaming ----------------------------------------------------------------------------- */

static void s_got_token(reply_t *r)
{
    if (r->got_token) return;
    r->got_token = true;
    svc_timer_cancel(&r->first_token_timer);
}

static void s_on_delta(void *user, const char *text, size_t len)
{
    reply_t *r = user;
    s_got_token(r);
    r->spoke = true;
    r->cb.on_text(r->user, text, len);
}

static int s_on_event(const char *event, const char *data, size_t len, void *user)
{
    (void)event;
    reply_t *r = user;
    char err[256];
    if (chat_stream_feed(r->stream, data, len, s_on_delta, r, err, sizeof err) < 0) {
        snprintf(r->error, sizeof r->error, "%s", err);
        r->failed = true;
        return -1;
    }
    if (chat_stream_tool_calls(r->stream)) s_got_token(r);   /* a tool call is a first token too */
    return 0;
}

static int s_on_status(http_request_t *req, long status, const char *ct, void *user)
{
    (void)req;
    reply_t *r = user;
    r->status = status;
    snprintf(r->ctype, sizeof r->ctype, "%s", ct ? ct : "");
    return 0;
}

static int s_on_data(http_request_t *req, const uint8_t *data, size_t len, void *user)
{
    (void)req;
    reply_t *r = user;
    if (r->status != 200) {
        size_t room = OPENAI_ERRBODY_MAX > r->errbody.len ? OPENAI_ERRBODY_MAX - r->errbody.len : 0;
        json_buf_printf(&r->errbody, "%.*s", (int)(len < room ? len : room), (const char *)data);
        return 0;
    }
    int rc = sse_parser_feed(r->sse, data, len);
    if (rc == -2) {
        snprintf(r->error, sizeof r->error, "an event larger than 1 MiB in the stream");
        r->failed = true;
    }
    return rc < 0 ? -1 : 0;
}

/* "HTTP 429: Rate limit reached" from an error body (JSON or not). */
static void s_http_error(reply_t *r, char *out, size_t size)
{
    json_t *v = json_parse(r->errbody.data, r->errbody.len, NULL, 0);
    const char *msg = json_str(json_get(json_get(v, "error"), "message"));
    if (!msg) msg = json_str(json_get(v, "error"));
    if (!msg) msg = json_str(json_get(v, "message"));
    if (msg) snprintf(out, size, "HTTP %ld: %.300s", r->status, msg);
    else if (r->errbody.len) snprintf(out, size, "HTTP %ld: %.200s", r->status, r->errbody.data);
    else snprintf(out, size, "HTTP %ld", r->status);
    json_destroy(&v);
}

/* ---- retries ---------------------------------------------------------------------------------- */

static void s_on_retry_timer(void *arg)
{
    reply_t *r = arg;
    if (s_send(r) < 0) s_finish(r, "cannot start the request");
}

static bool s_retry(reply_t *r, const char *why)
{
    if (r->spoke || r->attempt >= r->p->max_retries) return false;
    r->attempt++;
    long delay = (long)r->p->retry_base_ms << (r->attempt - 1);
    if (delay > OPENAI_BACKOFF_MAX_MS) delay = OPENAI_BACKOFF_MAX_MS;
    delay = delay * (75 + rand() % 51) / 100;   /* +-25%: callers failing together retry apart */
    log_info("session %s: retry %d of %d in %ld ms: %s", r->label, r->attempt, r->p->max_retries, delay, why);
    if (r->cb.on_retry) r->cb.on_retry(r->user, why);
    return svc_timer_start(r->p->svc, (int)delay, s_on_retry_timer, r, &r->retry_timer) == 0;
}

/* ---- tools -------------------------------------------------------------------------------------- */

static void s_tools_complete(reply_t *r)
{
    json_buf_t m;
    json_buf_init(&m);
    chat_stream_write_tool_message(r->stream, &m);
    if (!m.oom) r->cb.on_message(r->user, "assistant", m.data);
    for (size_t i = 0; i < r->ncalls && m.data; i++) {
        m.len = 0;
        m.data[0] = 0;
        json_buf_raw(&m, "{\"role\":\"tool\",\"tool_call_id\":");
        json_buf_str(&m, r->calls[i].id);
        json_buf_raw(&m, ",\"content\":");
        json_buf_str(&m, r->calls[i].result);
        json_buf_raw(&m, "}");
        if (!m.oom) r->cb.on_message(r->user, "tool", m.data);
    }
    bool oom = m.oom;
    json_buf_free(&m);
    s_calls_free(r);
    r->attempt = 0;
    if (oom) s_finish(r, "out of memory");
    else if (s_send(r) < 0) s_finish(r, "cannot start the request");
}

static void s_call_result(s_call_t *c, const char *fmt, const char *detail)
{
    size_t n = strlen(fmt) + strlen(detail) + 1;
    c->result = malloc(n);
    if (c->result) snprintf(c->result, n, fmt, detail);
}

static int s_on_tool_status(http_request_t *req, long status, const char *ct, void *user)
{
    (void)req; (void)ct;
    ((s_call_t *)user)->status = status;
    return 0;
}

static int s_on_tool_data(http_request_t *req, const uint8_t *data, size_t len, void *user)
{
    (void)req;
    s_call_t *c = user;
    if (c->body.len + len > OPENAI_TOOL_RESULT_MAX) return -1;
    json_buf_printf(&c->body, "%.*s", (int)len, (const char *)data);
    return 0;
}

static void s_on_tool_done(http_request_t *req, long status, const char *error, void *user)
{
    (void)req;
    s_call_t *c = user;
    reply_t *r = c->reply;
    c->req = NULL;
    char detail[320];
    if (error && http_request_error(req) == HTTP_ERR_ABORTED) {
        s_call_result(c, "error: the tool's answer is larger than %s bytes", "16384");
    } else if (error) {
        s_call_result(c, "error: the tool did not answer: %s", error);
    } else if (status != 200) {
        snprintf(detail, sizeof detail, "HTTP %ld: %.200s", status, c->body.data);
        s_call_result(c, "error: the tool failed: %s", detail);
    } else {
        c->result = strdup(c->body.data);
    }
    log_info("session %s: tool %s -> %s", r->label, c->name, error ? error : status == 200 ? "ok" : "failed");
    if (--r->pending == 0) s_tools_complete(r);
}

/* Runs the calls the model asked for: each one's arguments POSTed to its
 * webhook, all at once. */
static void s_tools(reply_t *r)
{
    s_openai_t *p = r->p;
    if (r->round >= p->max_tool_rounds) {
        s_finish(r, "the model kept calling tools (too many rounds)");
        return;
    }
    r->round++;
    size_t n = chat_stream_tool_calls(r->stream);
    r->ncalls = n;
    r->pending = n;
    for (size_t i = 0; i < n; i++) {
        s_call_t *c = &r->calls[i];
        memset(c, 0, sizeof *c);
        c->reply = r;
        c->id = strdup(chat_stream_tool_id(r->stream, i));
        c->name = strdup(chat_stream_tool_name(r->stream, i));
        json_buf_init(&c->body);
    }
    /* The results are only told to the session when all are in, so that a
     * turn cut short never leaves a call without its result. */
    for (size_t i = 0; i < n; i++) {
        s_call_t *c = &r->calls[i];
        const char *args = chat_stream_tool_arguments(r->stream, i);
        if (!*args) args = "{}";
        const char *url = tools_url(p->tools, c->name);
        json_t *parsed = json_parse(args, strlen(args), NULL, 0);
        bool object = json_type(parsed) == JSON_OBJECT;
        json_destroy(&parsed);
        if (!c->id || !c->name) {
            s_call_result(c, "error: %s", "out of memory");
        } else if (!url) {
            s_call_result(c, "error: there is no tool named '%s'", c->name);
        } else if (!object) {
            s_call_result(c, "error: the arguments are not a JSON object: %.200s", args);
        } else {
            const char *const headers[] = { "Content-Type: application/json", NULL };
            http_request_config_t cfg = {
                .method = "POST", .url = url, .headers = headers, .body = args, .body_len = strlen(args),
                .first_byte_ms = p->tool_timeout_ms, .total_ms = p->tool_timeout_ms, .label = r->label,
                .on_status = s_on_tool_status, .on_data = s_on_tool_data, .on_done = s_on_tool_done, .user = c,
            };
            log_info("session %s: calling tool %s", r->label, c->name);
            if ((c->req = http_request_start(p->http, &cfg))) continue;
            s_call_result(c, "error: %s", "the tool could not be called");
        }
        if (!c->result) s_call_result(c, "%s", "error");
        r->pending--;
    }
    if (r->pending == 0) s_tools_complete(r);
}

/* ---- one chat request -------------------------------------------------------------------------- */

static void s_on_chat_done(http_request_t *req, long status, const char *error, void *user)
{
    reply_t *r = user;
    s_openai_t *p = r->p;
    r->req = NULL;
    svc_timer_cancel(&r->first_token_timer);
    char why[sizeof r->error];
    if (r->failed) {
        s_finish(r, r->error);
    } else if (error) {
        http_error_t kind = http_request_error(req);
        if (kind == HTTP_ERR_FIRST_BYTE) {
            snprintf(why, sizeof why, "timeout: no first token within %d ms", p->first_token_ms);
            s_finish(r, why);
        } else if (kind == HTTP_ERR_CONNECT && s_retry(r, error)) {
            return;
        } else {
            s_finish(r, error);
        }
    } else if (status == 429 || (status >= 500 && status < 600)) {
        s_http_error(r, why, sizeof why);
        if (!s_retry(r, why)) s_finish(r, why);
    } else if (status != 200) {
        s_http_error(r, why, sizeof why);
        s_finish(r, why);
    } else if (!chat_stream_done(r->stream) && !*chat_stream_finish_reason(r->stream)) {
        snprintf(why, sizeof why, "the stream ended early (no [DONE]; content type '%s')", r->ctype);
        s_finish(r, why);
    } else if (chat_stream_tool_calls(r->stream)) {
        s_tools(r);
    } else {
        s_finish(r, NULL);
    }
}

static void s_on_first_token_timeout(void *arg)
{
    reply_t *r = arg;
    char why[96];
    snprintf(why, sizeof why, "timeout: no first token within %d ms", r->p->first_token_ms);
    s_finish(r, why);   /* cancels the request */
}

static void s_body(reply_t *r, json_buf_t *b)
{
    s_openai_t *p = r->p;
    json_buf_raw(b, "{\"model\":");
    json_buf_str(b, p->model);
    json_buf_raw(b, ",\"stream\":true");
    if (p->temperature >= 0) {
        json_buf_raw(b, ",\"temperature\":");
        json_buf_num(b, p->temperature);
    }
    json_buf_raw(b, ",\"messages\":[");
    size_t before = b->len;
    if (p->system_prompt && *p->system_prompt) {
        json_buf_raw(b, "{\"role\":\"system\",\"content\":");
        json_buf_str(b, p->system_prompt);
        json_buf_raw(b, "}");
    }
    json_buf_t m;
    json_buf_init(&m);
    r->cb.messages(r->user, &m);
    if (m.len) {
        if (b->len > before) json_buf_raw(b, ",");
        json_buf_raw(b, m.data);
    }
    if (m.oom) b->oom = true;
    json_buf_free(&m);
    json_buf_raw(b, "]");
    if (tools_count(p->tools)) {
        json_buf_raw(b, ",\"tools\":");
        tools_write(p->tools, b);
        /* The last round allowed: the model must answer in words now. */
        json_buf_raw(b, r->round >= p->max_tool_rounds ? ",\"tool_choice\":\"none\"" : ",\"tool_choice\":\"auto\"");
    }
    json_buf_raw(b, "}");
}

/* Starts the chat request (first, retry, or after tools). */
static int s_send(reply_t *r)
{
    s_openai_t *p = r->p;
    sse_parser_destroy(&r->sse);
    if (!(r->sse = sse_parser_new(s_on_event, r))) return -1;
    chat_stream_reset(r->stream);
    r->errbody.len = 0;
    if (r->errbody.data) r->errbody.data[0] = 0;
    r->status = 0;
    r->got_token = false;
    r->failed = false;
    json_buf_t body;
    json_buf_init(&body);
    s_body(r, &body);
    const char *headers[] = { "Content-Type: application/json", "Accept: text/event-stream", p->auth, NULL };
    http_request_config_t cfg = {
        .method = "POST", .url = p->url, .headers = headers, .body = body.data, .body_len = body.len,
        .first_byte_ms = p->first_token_ms, .total_ms = p->total_ms, .label = r->label,
        .on_status = s_on_status, .on_data = s_on_data, .on_done = s_on_chat_done, .user = r,
    };
    r->req = body.oom ? NULL : http_request_start(p->http, &cfg);
    json_buf_free(&body);
    if (!r->req) return -1;
    if (svc_timer_start(p->svc, p->first_token_ms, s_on_first_token_timeout, r, &r->first_token_timer) < 0) {
        http_request_cancel(r->req);
        r->req = NULL;
        return -1;
    }
    return 0;
}

/* ---- the provider table -------------------------------------------------------------------------- */

static reply_t *s_start(provider_t *base, const char *transcript, const char *label, const reply_cb_t *cb, void *user)
{
    (void)transcript;   /* it is the last user message of the conversation */
    s_openai_t *p = (s_openai_t *)base;
    reply_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->p = p;
    r->cb = *cb;
    r->user = user;
    json_buf_init(&r->errbody);
    r->label = strdup(label ? label : "-");
    r->stream = chat_stream_new();
    if (!r->label || !r->stream || s_send(r) < 0) {
        s_free(r);
        return NULL;
    }
    return r;
}

static void s_cancel(reply_t *r)
{
    if (r) s_free(r);
}

static void s_destroy(provider_t *base)
{
    s_openai_t *p = (s_openai_t *)base;
    free(p->url);
    free(p->model);
    free(p->system_prompt);
    if (p->auth) {
        explicit_bzero(p->auth, strlen(p->auth));
        free(p->auth);
    }
    free(p);
}

provider_t *openai_provider_new(service_t *svc, http_client_t *http, const openai_config_t *cfg)
{
    s_openai_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->base = (provider_t){ "openai", s_start, s_cancel, s_destroy };
    p->svc = svc;
    p->http = http;
    size_t ulen = strlen(cfg->base_url);
    while (ulen && cfg->base_url[ulen - 1] == '/') ulen--;
    if ((p->url = malloc(ulen + sizeof "/chat/completions"))) {
        memcpy(p->url, cfg->base_url, ulen);
        strcpy(p->url + ulen, "/chat/completions");
    }
    p->model = strdup(cfg->model);
    p->system_prompt = cfg->system_prompt ? strdup(cfg->system_prompt) : NULL;
    if (cfg->api_key && *cfg->api_key) {
        size_t n = strlen(cfg->api_key) + sizeof "Authorization: Bearer ";
        if ((p->auth = malloc(n))) snprintf(p->auth, n, "Authorization: Bearer %s", cfg->api_key);
    }
    p->temperature = cfg->temperature;
    p->first_token_ms = cfg->first_token_ms;
    p->total_ms = cfg->total_ms;
    p->max_retries = cfg->max_retries;
    p->retry_base_ms = cfg->retry_base_ms;
    p->tool_timeout_ms = cfg->tool_timeout_ms;
    p->max_tool_rounds = cfg->max_tool_rounds;
    p->tools = cfg->tools;
    if (!p->url || !p->model || (cfg->system_prompt && !p->system_prompt)
        || (cfg->api_key && *cfg->api_key && !p->auth)) {
        s_destroy(&p->base);
        return NULL;
    }
    return &p->base;
}
