/* provider_http — cloud TTS over HTTP (common/http_client.h): streamed
 * raw PCM, one request per piece of text, on the service loop.
 *
 *   openai      POST {base-url}/audio/speech, JSON {model, input, voice,
 *               response_format "pcm"}: 24 kHz s16le mono, streamed;
 *               "Authorization: Bearer KEY" when a key is set (any
 *               OpenAI-compatible server; base-url default
 *               https://api.openai.com/v1).
 *   elevenlabs  POST {base-url}/v1/text-to-speech/{voice}/stream
 *               ?output_format=pcm_16000, JSON {text, model_id},
 *               "xi-api-key: KEY": 16 kHz s16le mono, streamed.
 *
 * The body goes out as it arrives, in chunks of whole samples (a sample
 * split across two reads is joined: chunker.h). Every request has a
 * first-byte and a total deadline and a bound on the audio it may bring
 * (an endless stream is cut); a failure ends the job with why (HTTP
 * status and the start of the provider's message, with the key masked
 * should it echo it), which the queue logs with the session id. The key
 * never appears in a log line: http_client logs no header values. */
#ifndef VOXMESH_TTS_PROVIDER_HTTP_H
#define VOXMESH_TTS_PROVIDER_HTTP_H

#include "engine.h"
#include "service.h"

typedef struct provider_http provider_http_t;

typedef struct {
    const char *provider;        /* "openai" or "elevenlabs" */
    const char *base_url;        /* NULL: the provider's public endpoint */
    const char *model;           /* NULL: gpt-4o-mini-tts / eleven_flash_v2_5 */
    const char *voice;           /* NULL: alloy / 21m00Tcm4TlvDq8ikWAM */
    const char *api_key;         /* NULL or "": none (elevenlabs requires one) */
    int first_byte_ms;           /* 0: 5000 */
    int total_ms;                /* 0: 60000 */
    size_t max_requests;         /* at once; 0: 64 */
    uint32_t chunk_ms;           /* largest audio chunk handed on; 0: 100 */
    uint32_t max_audio_s;        /* audio one request may bring; 0: 120 */
} provider_http_config_t;

/* NULL on a bad config, with the reason in err. */
provider_http_t *provider_http_new(service_t *svc, const provider_http_config_t *cfg, const tts_engine_sink_t *sink,
                                   char *err, size_t errlen);
/* Cancels what is in flight (no callbacks). */
void provider_http_destroy(provider_http_t **self_p);

/* The engine for the queue. */
tts_engine_t provider_http_engine(provider_http_t *self);

/* The request body for `text` (malloc'd JSON), for the tests. */
char *provider_http_body(const provider_http_t *self, const char *text);

#endif
