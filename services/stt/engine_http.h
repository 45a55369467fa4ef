/* engine_http — cloud recognisers over common/http_client, as an engine
 * (engine.h). The utterance's audio is kept (at most max_utterance_s, the
 * rest is not sent) and at its end sent whole as a 16 kHz mono s16 WAV:
 *
 *   openai    POST {base-url}/v1/audio/transcriptions, multipart form: file
 *             (the WAV), model, language (if set), response_format=json;
 *             Authorization: Bearer KEY (none without a key: local
 *             whisper servers); the answer {"text": ...}.
 *   deepgram  POST {base-url}/v1/listen?model=M&punctuate=true[&language=L],
 *             Content-Type: audio/wav, the WAV as the body; Authorization:
 *             Token KEY; the answer results.channels[0].alternatives[0]
 *             .transcript and .confidence.
 *
 * A base-url that already ends in /v1 (as voxmesh-llm and voxmesh-tts take
 * it) is not given a second one. No partials: the providers' batch
 * endpoints answer once, for the whole utterance.
 *
 * Each request has a first-byte deadline and the utterance a total one
 * (over all its attempts: the caller is waiting). 429, 5xx and "no response
 * at all" are retried with exponential backoff (+-25 % jitter) while the
 * total deadline leaves room, at most max_retries times; nothing else is
 * (a deadline, a cut connection, a malformed answer). Everything runs on
 * the service loop: a stuck request holds only its own utterance. */
#ifndef VOXMESH_STT_ENGINE_HTTP_H
#define VOXMESH_STT_ENGINE_HTTP_H

#include "engine.h"
#include "service.h"

typedef struct {
    const char *provider;       /* "openai" or "deepgram" */
    const char *base_url;       /* NULL: https://api.openai.com, https://api.deepgram.com */
    const char *model;          /* NULL: whisper-1, nova-3 */
    const char *language;       /* NULL or "": the provider detects it */
    const char *api_key;        /* NULL or "": none (deepgram refuses to start) */
    int first_byte_ms;          /* per attempt */
    int total_ms;               /* per utterance, all attempts */
    int max_retries;
    int retry_backoff_ms;       /* the first retry's delay; doubles, at most 5 s */
    size_t max_requests;        /* utterances in flight at once; more fail at once */
    unsigned max_utterance_s;   /* audio sent per utterance */
} engine_http_config_t;

/* Sets up *out. Returns 0, or -1 with a message in err (never the key). */
int engine_http_new(service_t *svc, const engine_http_config_t *cfg, stt_engine_t *out, char *err, size_t errlen);

/* The 44-byte header of a 16 kHz mono s16 WAV of `samples` samples. */
#define STT_WAV_HEADER 44
void engine_http_wav_header(uint8_t hdr[STT_WAV_HEADER], size_t samples);

#endif
