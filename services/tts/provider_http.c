/* provider_http — see provider_http.h. */
#include "provider_http.h"
#include "chunker.h"
#include "http_client.h"
#include "json.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ERROR_BODY_MAX 240           /* of a provider's error message, for the log */

typedef enum { P_OPENAI, P_ELEVENLABS } s_kind_t;

typedef struct s_job s_job_t;
struct s_job {
    provider_http_t *p;
    uint64_t id;
    http_request_t *req;             /* NULL once done */
    tts_chunker_t *chunker;
    long status;
    bool audio_ok;                   /* 200 and an audio content type */
    char why[160];                   /* our own reason to stop it */
    char body[ERROR_BODY_MAX + 1];   /* the start of an error response */
    size_t body_len;
    size_t frames;
    int busy;                        /* its callback is on the stack */
    bool cancelled;
    s_job_t *prev, *next;
};

struct provider_http {
    s_kind_t kind;
    char *name;
    char *url;
    char *model, *voice;
    char *auth_header;               /* "Authorization: Bearer ..." / "xi-api-key: ..." or NULL */
    char *api_key;                   /* for masking it in error messages */
    int first_byte_ms, total_ms;
    size_t max_requests;
    uint32_t rate;
    size_t chunk_frames, min_frames, max_frames;
    http_client_t *http;
    tts_engine_sink_t sink;
    s_job_t *jobs;
};

/* ---- jobs --------------------------------------------------------------------------- */

static void s_job_free(s_job_t *j)
{
    provider_http_t *p = j->p;
    if (j->prev) j->prev->next = j->next;
    else if (p->jobs == j) p->jobs = j->next;
    if (j->next) j->next->prev = j->prev;
    tts_chunker_destroy(&j->chunker);
    free(j);
}

/* Hands on whole chunks, and what is left when it is at least min_frames
 * (or everything, at the end): audio leaves as soon as it is there. */
static void s_emit(s_job_t *j, bool end)
{
    const int16_t *pcm;
    size_t n;
    while (!j->cancelled && (n = tts_chunker_take(j->chunker, &pcm, false)) > 0)
        j->p->sink.audio(j->p->sink.owner, j->id, pcm, n);
    if (!j->cancelled && (end || tts_chunker_frames(j->chunker) >= j->p->min_frames)
        && (n = tts_chunker_take(j->chunker, &pcm, true)) > 0)
        j->p->sink.audio(j->p->sink.owner, j->id, pcm, n);
}

static bool s_audio_type(const char *ct)
{
    if (!ct) return true;            /* many servers send none for raw PCM */
    return !strncasecmp(ct, "audio/", 6) || !strncasecmp(ct, "application/octet-stream", 24);
}

static int s_on_status(http_request_t *r, long status, const char *content_type, void *user)
{
    (void)r;
    s_job_t *j = user;
    j->status = status;
    j->audio_ok = status == 200 && s_audio_type(content_type);
    if (status == 200 && !j->audio_ok)
        snprintf(j->why, sizeof j->why, "HTTP 200 but Content-Type %s, not audio", content_type);
    return 0;
}

static int s_on_data(http_request_t *r, const uint8_t *data, size_t len, void *user)
{
    (void)r;
    s_job_t *j = user;
    if (!j->audio_ok) {              /* keep the start of the error message */
        size_t n = len < ERROR_BODY_MAX - j->body_len ? len : ERROR_BODY_MAX - j->body_len;
        memcpy(j->body + j->body_len, data, n);
        j->body_len += n;
        j->body[j->body_len] = '\0';
        return j->body_len < ERROR_BODY_MAX ? 0 : -1;
    }
    j->busy++;
    int rc = 0;
    /* In slices of a chunk, so the chunker's bound is never reached. */
    size_t slice = j->p->chunk_frames * 2;
    while (len > 0 && !j->cancelled && rc == 0) {
        size_t n = len < slice ? len : slice;
        tts_chunker_put_bytes(j->chunker, data, n);
        j->frames += n / 2;
        data += n;
        len -= n;
        if (j->frames > j->p->max_frames) {
            snprintf(j->why, sizeof j->why, "more than %zu s of audio for one piece of text: stream cut",
                     j->p->max_frames / j->p->rate);
            rc = -1;
        }
        s_emit(j, false);
    }
    j->busy--;
    if (j->cancelled) {
        if (!j->busy) s_job_free(j);
        return -1;
    }
    return rc;
}

/* Printable, single-line, and without the key should the server echo it. */
static void s_clean(const provider_http_t *p, char *s)
{
    for (char *c = s; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7F) *c = ' ';
    size_t klen = p->api_key ? strlen(p->api_key) : 0;
    if (klen >= 4)
        for (char *k; (k = strstr(s, p->api_key));) {
            memset(k, '*', 3);
            memmove(k + 3, k + klen, strlen(k + klen) + 1);
        }
}

static void s_on_done(http_request_t *r, long status, const char *error, void *user)
{
    (void)r;
    s_job_t *j = user;
    j->req = NULL;                   /* freed by the client when we return */
    char why[400] = "";
    if (j->why[0]) {
        snprintf(why, sizeof why, "%s", j->why);
    } else if (status != 200 && j->status != 0) {
        s_clean(j->p, j->body);
        snprintf(why, sizeof why, "%s: HTTP %ld%s%s", j->p->name, status, j->body[0] ? ": " : "", j->body);
    } else if (error) {
        snprintf(why, sizeof why, "%s: %s", j->p->name, error);
    } else if (status != 200) {
        snprintf(why, sizeof why, "%s: HTTP %ld", j->p->name, status);
    } else if (j->frames == 0) {
        snprintf(why, sizeof why, "%s: HTTP 200 without audio", j->p->name);
    }
    j->busy++;
    if (!why[0] || j->frames > 0) s_emit(j, true);    /* what came before a failure is still said */
    if (!why[0] && tts_chunker_odd(j->chunker)) log_debug("%s: an odd byte at the end of the stream dropped", j->p->name);
    if (!j->cancelled) j->p->sink.done(j->p->sink.owner, j->id, why[0] ? why : NULL);
    j->busy--;
    s_job_free(j);
}

/* ---- the engine --------------------------------------------------------------------- */

char *provider_http_body(const provider_http_t *p, const char *text)
{
    json_buf_t b;
    json_buf_init(&b);
    if (p->kind == P_OPENAI) {
        json_buf_raw(&b, "{\"model\":");
        json_buf_str(&b, p->model);
        json_buf_raw(&b, ",\"input\":");
        json_buf_str(&b, text);
        json_buf_raw(&b, ",\"voice\":");
        json_buf_str(&b, p->voice);
        json_buf_raw(&b, ",\"response_format\":\"pcm\"}");
    } else {
        json_buf_raw(&b, "{\"text\":");
        json_buf_str(&b, text);
        json_buf_raw(&b, ",\"model_id\":");
        json_buf_str(&b, p->model);
        json_buf_raw(&b, "}");
    }
    if (b.oom) {
        json_buf_free(&b);
        return NULL;
    }
    return b.data;
}

static int s_start(void *impl, uint64_t id, const char *label, const char *text)
{
    provider_http_t *p = impl;
    s_job_t *j = calloc(1, sizeof *j);
    if (!j) return -ENOMEM;
    j->p = p;
    j->id = id;
    j->chunker = tts_chunker_new(p->chunk_frames, p->chunk_frames * 3);
    char *body = provider_http_body(p, text);
    if (!j->chunker || !body) {
        free(body);
        tts_chunker_destroy(&j->chunker);
        free(j);
        return -ENOMEM;
    }
    j->next = p->jobs;
    if (p->jobs) p->jobs->prev = j;
    p->jobs = j;
    const char *headers[] = { "Content-Type: application/json", p->auth_header, NULL };
    http_request_config_t cfg = {
        .method = "POST", .url = p->url, .headers = headers, .body = body, .body_len = strlen(body),
        .first_byte_ms = p->first_byte_ms, .total_ms = p->total_ms, .label = label,
        .on_status = s_on_status, .on_data = s_on_data, .on_done = s_on_done, .user = j,
    };
    j->req = http_request_start(p->http, &cfg);
    free(body);
    if (!j->req) {
        s_job_free(j);
        return -EIO;
    }
    return 0;
}

static void s_cancel(void *impl, uint64_t id)
{
    provider_http_t *p = impl;
    for (s_job_t *j = p->jobs; j; j = j->next)
        if (j->id == id && !j->cancelled) {
            j->cancelled = true;
            http_request_cancel(j->req);   /* closes the connection; no callback after this */
            if (!j->busy) s_job_free(j);
            return;
        }
}

tts_engine_t provider_http_engine(provider_http_t *p)
{
    return (tts_engine_t){ .name = p->name, .rate = p->rate, .capacity = p->max_requests, .start = s_start,
                           .cancel = s_cancel, .impl = p };
}

/* ---- setup -------------------------------------------------------------------------- */

static bool s_voice_id_ok(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 64) return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)v[i]) && v[i] != '_' && v[i] != '-') return false;
    return true;
}

static bool s_header_value_ok(const char *v)
{
    for (; *v; v++)
        if ((unsigned char)*v < 0x20 || *v == 0x7F) return false;
    return true;
}

provider_http_t *provider_http_new(service_t *svc, const provider_http_config_t *cfg, const tts_engine_sink_t *sink,
                                   char *err, size_t errlen)
{
    s_kind_t kind;
    if (!strcmp(cfg->provider, "openai")) kind = P_OPENAI;
    else if (!strcmp(cfg->provider, "elevenlabs")) kind = P_ELEVENLABS;
    else {
        snprintf(err, errlen, "unknown provider \"%s\"", cfg->provider);
        return NULL;
    }
    const char *base = cfg->base_url ? cfg->base_url : kind == P_OPENAI ? "https://api.openai.com/v1"
                                                                        : "https://api.elevenlabs.io";
    const char *voice = cfg->voice ? cfg->voice : kind == P_OPENAI ? "alloy" : "21m00Tcm4TlvDq8ikWAM";
    const char *model = cfg->model ? cfg->model : kind == P_OPENAI ? "gpt-4o-mini-tts" : "eleven_flash_v2_5";
    const char *key = cfg->api_key && cfg->api_key[0] ? cfg->api_key : NULL;
    if (strncmp(base, "http://", 7) && strncmp(base, "https://", 8)) {
        snprintf(err, errlen, "--base-url: not an http(s) URL");
        return NULL;
    }
    if (kind == P_ELEVENLABS && !s_voice_id_ok(voice)) {
        snprintf(err, errlen, "--voice: an ElevenLabs voice id is 1..64 letters, digits, '_' or '-'");
        return NULL;
    }
    if (kind == P_ELEVENLABS && !key) {
        snprintf(err, errlen, "elevenlabs needs an API key (see --api-key-env)");
        return NULL;
    }
    if (key && !s_header_value_ok(key)) {
        snprintf(err, errlen, "the API key has control characters");   /* never the key itself */
        return NULL;
    }
    provider_http_t *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->kind = kind;
    p->rate = kind == P_OPENAI ? 24000 : 16000;
    p->first_byte_ms = cfg->first_byte_ms ? cfg->first_byte_ms : 5000;
    p->total_ms = cfg->total_ms ? cfg->total_ms : 60000;
    p->max_requests = cfg->max_requests ? cfg->max_requests : 64;
    p->chunk_frames = (size_t)p->rate * (cfg->chunk_ms ? cfg->chunk_ms : 100) / 1000;
    if (p->chunk_frames == 0) p->chunk_frames = 1;
    p->min_frames = p->rate / 50;    /* 20 ms */
    p->max_frames = (size_t)p->rate * (cfg->max_audio_s ? cfg->max_audio_s : 120);
    p->sink = *sink;
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/') blen--;
    int ok = 1;
    p->name = strdup(cfg->provider);
    p->model = strdup(model);
    p->voice = strdup(voice);
    if (kind == P_OPENAI) ok = asprintf(&p->url, "%.*s/audio/speech", (int)blen, base) > 0;
    else ok = asprintf(&p->url, "%.*s/v1/text-to-speech/%s/stream?output_format=pcm_16000", (int)blen, base, voice) > 0;
    if (!ok) p->url = NULL;
    if (key) {
        p->api_key = strdup(key);
        ok = asprintf(&p->auth_header, kind == P_OPENAI ? "Authorization: Bearer %s" : "xi-api-key: %s", key) > 0;
        if (!ok) p->auth_header = NULL;
    }
    p->http = http_client_new(svc);
    if (!p->name || !p->model || !p->voice || !p->url || (key && (!p->api_key || !p->auth_header)) || !p->http) {
        snprintf(err, errlen, "cannot set up the %s client", cfg->provider);
        provider_http_destroy(&p);
        return NULL;
    }
    return p;
}

void provider_http_destroy(provider_http_t **self_p)
{
    if (!self_p || !*self_p) return;
    provider_http_t *p = *self_p;
    http_client_destroy(&p->http);   /* cancels every request: no more callbacks */
    while (p->jobs) s_job_free(p->jobs);
    free(p->name);
    free(p->url);
    free(p->model);
    free(p->voice);
    if (p->auth_header) explicit_bzero(p->auth_header, strlen(p->auth_header));
    if (p->api_key) explicit_bzero(p->api_key, strlen(p->api_key));
    free(p->auth_header);
    free(p->api_key);
    free(p);
    *self_p = NULL;
}
