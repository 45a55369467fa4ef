/* engine — what the daemon (main.c) asks of a recogniser, so that the
 * per-session logic does not care which one runs: PocketSphinx on a pool of
 * decoders (engine_ps.h) or a cloud provider over HTTP (engine_http.h).
 *
 * An utterance is started, fed its audio as it arrives, and finished once
 * its last segment is in. A result comes back exactly once per finished
 * utterance, through the function given to finish(): at once (PocketSphinx
 * decodes as the audio arrives, so only the last piece is left) or later,
 * from the service loop (an HTTP request). After cancel() returns no
 * callback of that utterance runs. All calls and callbacks are in the
 * loop's thread. */
#ifndef VOXMESH_STT_ENGINE_H
#define VOXMESH_STT_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest transcript handed on (bytes, with the terminating NUL). */
#define STT_TEXT_MAX 2048

/* One utterance, as the engine keeps it (each engine has its own type). */
typedef struct stt_utt stt_utt_t;

/* The end of an utterance: error NULL and text ("" when nothing was
 * recognised, confidence in [0, 1], 0 when the engine has none), or the
 * error (for the log; text is then NULL). The utterance is gone after it
 * returns; it must not cancel the utterance it reports. */
typedef void (stt_result_fn)(void *arg, const char *text, float confidence, const char *error);

typedef struct {
    const char *name;               /* "pocketsphinx", "openai", "deepgram" */
    const char *busy_metric;        /* gauge of what busy() counts */
    const char *busy_help;
    /* State the engine keeps per caller between utterances (PocketSphinx:
     * the cepstral mean), or NULL ops when it keeps none. */
    void *(*caller_new)(void *impl);
    void (*caller_free)(void *impl, void *caller);
    /* Starts an utterance; session and utterance name it in log lines.
     * NULL when there is no capacity now (all decoders busy): the daemon
     * keeps the audio and tries again after a finish or a cancel. */
    stt_utt_t *(*start)(void *impl, void *caller, const char *session, uint64_t utterance);
    /* 16 kHz mono s16 samples. Returns 0 or -1 (the engine failed). */
    int (*feed)(stt_utt_t *u, const int16_t *x, size_t n);
    /* The best hypothesis so far ("" when none; valid until the next
     * call), or a NULL op when the engine makes no partials. */
    const char *(*partial)(stt_utt_t *u);
    /* No more audio: fn(arg, ...) follows once, now or later. */
    void (*finish)(stt_utt_t *u, stt_result_fn *fn, void *arg);
    /* Drops an utterance, started or finished, without a result. */
    void (*cancel)(stt_utt_t *u);
    /* Decoders in use / requests in flight. */
    int (*busy)(void *impl);
    void (*destroy)(void *impl);
    void *impl;
} stt_engine_t;

#endif
