/* engine_http — see engine_http.h.
 *
 * An utterance: FEEDING (audio appended after a WAV header reserved at the
 * front of one buffer, so that nothing is copied to send it) -> finish ->
 * SENDING (one request) -> on a retryable failure WAITING (backoff timer)
 * -> SENDING ... -> the result, exactly once, unless cancelled. */
#include "engine_http.h"
#include "http_client.h"
#include "log.h"
#include "response.h"
#include "svc_timer.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESPONSE_MAX (1u << 20)     /* a transcript's JSON; more is an endless or wrong answer */
#define ERROR_BODY_MAX 4096         /* of an error response, for its message */
#define BACKOFF_MAX_MS 5000
#define RETRY_MIN_LEFT_MS 200       /* no retry that could not get this long */

typedef struct engine_http engine_http_t;
typedef struct s_utt s_utt_t;

struct s_utt {
    engine_http_t *p;
    s_utt_t *prev, *next;        /* the engine's list (for destroy) */
    char *session;
    uint64_t utterance;
    uint8_t *wav;                /* STT_WAV_HEADER bytes, then the samples */
    size_t len, cap;             /* bytes */
    bool truncated;
    bool finished;               /* counted in p->active */
    stt_result_fn *fn;
    void *arg;
    http_request_t *req;
    svc_timer_t *retry_timer;
    int attempt;                 /* retries made */
    int64_t finished_us;         /* monotonic: the total deadline counts from here */
    long status;
    char *body;                  /* the response, up to RESPONSE_MAX (ERROR_BODY_MAX if not 200) */
    size_t body_len, body_cap;
    char why[128];               /* our own reason to abort the transfer */
};

struct engine_http {
    service_t *svc;
    http_client_t *http;
    stt_wire_t wire;
    char *name;
    char *url;
    char *model, *language;
    char *auth_header;           /* "Authorization: Bearer|Token KEY", or NULL */
    char *api_key;               /* to mask it in error messages */
    int first_byte_ms, total_ms, max_retries, retry_backoff_ms;
    size_t max_requests, active;
    size_t max_bytes;            /* header + max_utterance_s of samples */
    unsigned max_utterance_s;
    metric_t *m_retries;
    s_utt_t *utts;
};

/* ---- the WAV ------------------------------------------------------------------------ */

static void s_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

void engine_http_wav_header(uint8_t h[STT_WAV_HEADER], size_t samples)
{
    uint32_t data = (uint32_t)(samples * 2);
    memcpy(h, "RIFF", 4);
    s_le32(h + 4, 36 + data);
    memcpy(h + 8, "WAVEfmt ", 8);
    s_le32(h + 16, 16);                           /* fmt chunk size */
    h[20] = 1, h[21] = 0;                         /* PCM */
    h[22] = 1, h[23] = 0;                         /* mono */
    s_le32(h + 24, 16000);
    s_le32(h + 28, 16000 * 2);                    /* bytes per second */
    h[32] = 2, h[33] = 0;                         /* block align */
    h[34] = 16, h[35] = 0;                        /* bits per sample */
    memcpy(h + 36, "data", 4);
    s_le32(h + 40, data);
}

/* ---- utterances --------------------------------------------------------------------- */

static void s_utt_free(s_utt_t *u)
{
    engine_http_t *p = u->p;
    http_request_cancel(u->req);
    svc_timer_cancel(&u->retry_timer);
    if (u->finished) p->active--;
    if (u->prev) u->prev->next = u->next;
    else if (p->utts == u) p->utts = u->next;
    if (u->next) u->next->prev = u->prev;
    free(u->session);
    free(u->wav);
    free(u->body);
    free(u);
}

/* The result, once; then the utterance is gone. */
static void s_deliver(s_utt_t *u, const char *text, float confidence, const char *error)
{
    stt_result_fn *fn = u->fn;
    void *arg = u->arg;
    char copy[STT_TEXT_MAX];
    snprintf(copy, sizeof copy, "%s", text ? text : error);
    s_utt_free(u);
    fn(arg, text ? copy : NULL, confidence, text ? NULL : copy);
}

static stt_utt_t *s_start(void *impl, void *caller, const char *session, uint64_t utterance)
{
    (void)caller;
    engine_http_t *p = impl;
    s_utt_t *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    u->p = p;
    u->utterance = utterance;
    u->session = strdup(session ? session : "-");
    u->cap = STT_WAV_HEADER + 16000 * 2 * 4;     /* 4 s, grows */
    u->wav = malloc(u->cap);
    if (!u->session || !u->wav) {
        free(u->session);
        free(u->wav);
        free(u);
        return NULL;
    }
    u->len = STT_WAV_HEADER;
    u->next = p->utts;
    if (p->utts) p->utts->prev = u;
    p->utts = u;
    return (stt_utt_t *)u;
}

static int s_feed(stt_utt_t *uu, const int16_t *x, size_t n)
{
    s_utt_t *u = (s_utt_t *)uu;
    engine_http_t *p = u->p;
    size_t bytes = n * 2;
    if (u->len + bytes > p->max_bytes) {
        if (!u->truncated)
            log_warn("session %s: utterance %llu: longer than %u s: the rest is not sent to %s", u->session,
                     (unsigned long long)u->utterance, p->max_utterance_s, p->name);
        u->truncated = true;
        bytes = p->max_bytes - u->len;
    }
    if (u->len + bytes > u->cap) {
        size_t cap = u->cap * 2;
        while (cap < u->len + bytes) cap *= 2;
        if (cap > p->max_bytes) cap = p->max_bytes;
        uint8_t *w = realloc(u->wav, cap);
        if (!w) return -1;
        u->wav = w;
        u->cap = cap;
    }
    memcpy(u->wav + u->len, x, bytes);
    u->len += bytes;
    return 0;
}

/* ---- one request -------------------------------------------------------------------- */

static int s_send(s_utt_t *u);

static int s_on_status(http_request_t *r, long status, const char *content_type, void *user)
{
    (void)r; (void)content_type;   /* servers disagree on it (text/plain, none): the body is what counts */
    s_utt_t *u = user;
    u->status = status;
    u->body_len = 0;
    return 0;
}

static int s_on_data(http_request_t *r, const uint8_t *data, size_t len, void *user)
{
    (void)r;
    s_utt_t *u = user;
    size_t max = u->status == 200 ? RESPONSE_MAX : ERROR_BODY_MAX;
    if (u->body_len + len > max) {
        if (u->status != 200) {                 /* the start of an error message is enough */
            len = max - u->body_len;
            if (!len) return -1;
        } else {
            snprintf(u->why, sizeof u->why, "the response is larger than %u KiB", RESPONSE_MAX >> 10);
            return -1;
        }
    }
    if (u->body_len + len + 1 > u->body_cap) {
        size_t cap = u->body_cap ? u->body_cap : 4096;
        while (cap < u->body_len + len + 1) cap *= 2;
        char *b = realloc(u->body, cap);
        if (!b) return -1;
        u->body = b;
        u->body_cap = cap;
    }
    memcpy(u->body + u->body_len, data, len);
    u->body_len += len;
    u->body[u->body_len] = '\0';
    return 0;
}

static int s_left_ms(const s_utt_t *u)
{
    int64_t left = u->p->total_ms - (time_mono_us() - u->finished_us) / 1000;
    return left > 0 ? (int)left : 0;
}

static void s_on_retry_timer(void *arg)
{
    s_utt_t *u = arg;
    if (s_send(u) < 0) s_deliver(u, NULL, 0, "cannot start the request");
}

/* Tries again later if it may; false when it may not. */
static bool s_retry(s_utt_t *u, const char *why)
{
    engine_http_t *p = u->p;
    if (u->attempt >= p->max_retries) return false;
    long delay = (long)p->retry_backoff_ms << u->attempt;
    if (delay > BACKOFF_MAX_MS) delay = BACKOFF_MAX_MS;
    delay = delay * (75 + rand() % 51) / 100;   /* +-25 %: callers failing together retry apart */
    if (s_left_ms(u) - delay < RETRY_MIN_LEFT_MS) return false;
    if (svc_timer_start(p->svc, (int)delay, s_on_retry_timer, u, &u->retry_timer) < 0) return false;
    u->attempt++;
    metric_add(p->m_retries, 1);
    log_info("session %s: utterance %llu: %s retry %d of %d in %ld ms: %s", u->session,
             (unsigned long long)u->utterance, p->name, u->attempt, p->max_retries, delay, why);
    return true;
}

static void s_on_done(http_request_t *r, long status, const char *error, void *user)
{
    (void)status;   /* as on_status said: u->status */
    s_utt_t *u = user;
    engine_http_t *p = u->p;
    u->req = NULL;                               /* the client frees it when we return */
    char why[STT_TEXT_MAX];
    http_error_t kind = http_request_error(r);
    if (u->why[0]) {
        s_deliver(u, NULL, 0, u->why);
        return;
    }
    if (u->status == 429 || (u->status >= 500 && u->status < 600)) {
        /* An error status, whatever became of its body: worth another try. */
        stt_response_error(u->status, u->body, u->body_len, p->api_key, why, sizeof why);
        if (!s_retry(u, why)) s_deliver(u, NULL, 0, why);
        return;
    }
    if (u->status && u->status != 200) {
        /* Also when the transfer then failed or we stopped reading it. */
        stt_response_error(u->status, u->body, u->body_len, p->api_key, why, sizeof why);
        s_deliver(u, NULL, 0, why);
        return;
    }
    if (error) {
        if (kind == HTTP_ERR_CONNECT && s_retry(u, error)) return;
        s_deliver(u, NULL, 0, error);
        return;
    }
    char text[STT_TEXT_MAX], err[200];
    float confidence = 0;
    if (stt_response_parse(p->wire, u->body ? u->body : "", u->body_len, text, sizeof text, &confidence, err,
                           sizeof err) < 0) {
        snprintf(why, sizeof why, "HTTP 200 but %s", err);
        s_deliver(u, NULL, 0, why);
        return;
    }
    s_deliver(u, text, confidence, NULL);
}

static int s_send(s_utt_t *u)
{
    engine_http_t *p = u->p;
    int left = s_left_ms(u);
    if (left <= 0) return -1;
    u->status = 0;
    u->body_len = 0;
    u->why[0] = '\0';
    /* No key (a local server): the list ends before it. */
    const char *form_headers[] = { "Accept: application/json", p->auth_header, NULL };
    const char *wav_headers[] = { "Content-Type: audio/wav", "Accept: application/json", p->auth_header, NULL };
    http_request_config_t cfg = {
        .method = "POST", .url = p->url, .first_byte_ms = p->first_byte_ms < left ? p->first_byte_ms : left,
        .total_ms = left, .label = u->session, .on_status = s_on_status, .on_data = s_on_data, .on_done = s_on_done,
        .user = u,
    };
    http_part_t parts[4] = {
        { .name = "file", .filename = "utterance.wav", .content_type = "audio/wav", .data = u->wav, .len = u->len },
        { .name = "model", .data = p->model, .len = strlen(p->model) },
        { .name = "response_format", .data = "json", .len = 4 },
        { .name = "language", .data = p->language, .len = p->language ? strlen(p->language) : 0 },
    };
    if (p->wire == STT_WIRE_OPENAI) {
        cfg.headers = form_headers;   /* curl writes the multipart Content-Type with its boundary */
        cfg.parts = parts;
        cfg.nparts = p->language ? 4 : 3;
    } else {
        cfg.headers = wav_headers;
        cfg.body = u->wav;
        cfg.body_len = u->len;
    }
    u->req = http_request_start(p->http, &cfg);
    return u->req ? 0 : -1;
}

/* No more audio: the request goes out now. */
static void s_finish(stt_utt_t *uu, stt_result_fn *fn, void *arg)
{
    s_utt_t *u = (s_utt_t *)uu;
    engine_http_t *p = u->p;
    u->fn = fn;
    u->arg = arg;
    if (u->len == STT_WAV_HEADER) {               /* nothing to transcribe */
        s_deliver(u, "", 0, NULL);
        return;
    }
    if (p->active >= p->max_requests) {
        char why[96];
        snprintf(why, sizeof why, "%zu requests in flight already (--max-requests)", p->active);
        s_deliver(u, NULL, 0, why);
        return;
    }
    u->finished = true;
    p->active++;
    u->finished_us = time_mono_us();
    engine_http_wav_header(u->wav, (u->len - STT_WAV_HEADER) / 2);
    if (s_send(u) < 0) s_deliver(u, NULL, 0, "cannot start the request");
}

static void s_cancel(stt_utt_t *uu)
{
    if (uu) s_utt_free((s_utt_t *)uu);
}

static int s_busy(void *impl)
{
    return (int)((engine_http_t *)impl)->active;
}

/* ---- setup -------------------------------------------------------------------------- */

static void s_destroy(void *impl)
{
    engine_http_t *p = impl;
    if (!p) return;
    http_client_destroy(&p->http);               /* cancels every request: no more callbacks */
    while (p->utts) s_utt_free(p->utts);
    svc_timers_shutdown(p->svc);
    free(p->name);
    free(p->url);
    free(p->model);
    free(p->language);
    if (p->auth_header) explicit_bzero(p->auth_header, strlen(p->auth_header));
    if (p->api_key) explicit_bzero(p->api_key, strlen(p->api_key));
    free(p->auth_header);
    free(p->api_key);
    free(p);
}

/* 1..max characters of letters, digits and `extra`. */
static bool s_token_ok(const char *s, size_t max, const char *extra)
{
    size_t n = strlen(s);
    if (n == 0 || n > max) return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(extra, *s)) return false;
    return true;
}

static bool s_header_value_ok(const char *v)
{
    for (; *v; v++)
        if ((unsigned char)*v < 0x20 || *v == 0x7F) return false;
    return true;
}

int engine_http_new(service_t *svc, const engine_http_config_t *cfg, stt_engine_t *out, char *err, size_t errlen)
{
    stt_wire_t wire;
    if (!strcmp(cfg->provider, "openai")) wire = STT_WIRE_OPENAI;
    else if (!strcmp(cfg->provider, "deepgram")) wire = STT_WIRE_DEEPGRAM;
    else {
        snprintf(err, errlen, "unknown provider \"%s\"", cfg->provider);
        return -1;
    }
    const char *base = cfg->base_url && *cfg->base_url ? cfg->base_url
                       : wire == STT_WIRE_OPENAI ? "https://api.openai.com" : "https://api.deepgram.com";
    const char *model = cfg->model && *cfg->model ? cfg->model : wire == STT_WIRE_OPENAI ? "whisper-1" : "nova-3";
    const char *lang = cfg->language && *cfg->language ? cfg->language : NULL;
    const char *key = cfg->api_key && *cfg->api_key ? cfg->api_key : NULL;
    if (strncmp(base, "http://", 7) && strncmp(base, "https://", 8)) {
        snprintf(err, errlen, "--base-url: not an http(s) URL");
        return -1;
    }
    /* The model and language go into a URL (deepgram) or a form field. */
    if (!s_token_ok(model, 128, "._-:/")) {
        snprintf(err, errlen, "--model: 1..128 letters, digits, '.', '_', '-', ':' or '/'");
        return -1;
    }
    if (lang && !s_token_ok(lang, 16, "-")) {
        snprintf(err, errlen, "--language: a language code such as en or en-US");
        return -1;
    }
    if (wire == STT_WIRE_DEEPGRAM && !key) {
        snprintf(err, errlen, "deepgram needs an API key (see --api-key-env)");
        return -1;
    }
    if (key && !s_header_value_ok(key)) {
        snprintf(err, errlen, "the API key has control characters");   /* never the key itself */
        return -1;
    }
    engine_http_t *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->svc = svc;
    p->wire = wire;
    p->first_byte_ms = cfg->first_byte_ms > 0 ? cfg->first_byte_ms : 10000;
    p->total_ms = cfg->total_ms > 0 ? cfg->total_ms : 20000;
    p->max_retries = cfg->max_retries > 0 ? cfg->max_retries : 0;
    p->retry_backoff_ms = cfg->retry_backoff_ms > 0 ? cfg->retry_backoff_ms : 200;
    p->max_requests = cfg->max_requests ? cfg->max_requests : 64;
    p->max_utterance_s = cfg->max_utterance_s ? cfg->max_utterance_s : 30;
    p->max_bytes = STT_WAV_HEADER + (size_t)p->max_utterance_s * 16000 * 2;
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/') blen--;
    bool has_v1 = blen >= 3 && !strncmp(base + blen - 3, "/v1", 3);
    const char *v1 = has_v1 ? "" : "/v1";
    int ok;
    if (wire == STT_WIRE_OPENAI)
        ok = asprintf(&p->url, "%.*s%s/audio/transcriptions", (int)blen, base, v1) > 0;
    else
        ok = asprintf(&p->url, "%.*s%s/listen?model=%s&punctuate=true%s%s", (int)blen, base, v1, model,
                      lang ? "&language=" : "", lang ? lang : "") > 0;
    if (!ok) p->url = NULL;
    if (key) {
        p->api_key = strdup(key);
        ok = asprintf(&p->auth_header, "Authorization: %s %s", wire == STT_WIRE_OPENAI ? "Bearer" : "Token", key) > 0;
        if (!ok) p->auth_header = NULL;
    }
    p->name = strdup(cfg->provider);
    p->model = strdup(model);
    p->language = lang ? strdup(lang) : NULL;
    p->http = http_client_new(svc);
    p->m_retries = metrics_counter(service_metrics(svc), "voxmesh_stt_retries_total", NULL,
                                   "Provider requests retried (429, 5xx, no response)");
    if (!p->url || (key && (!p->api_key || !p->auth_header)) || !p->name || !p->model || (lang && !p->language)
        || !p->http) {
        snprintf(err, errlen, "cannot set up the %s client", cfg->provider);
        s_destroy(p);
        return -1;
    }
    *out = (stt_engine_t){
        .name = p->name, .busy_metric = "voxmesh_stt_requests_in_flight",
        .busy_help = "Utterances sent to the provider, not answered yet", .start = s_start, .feed = s_feed,
        .finish = s_finish, .cancel = s_cancel, .busy = s_busy, .destroy = s_destroy, .impl = p,
    };
    return 0;
}
