/* engine — what the synthesis queue (queue.h) asks of a TTS engine, and how
 * an engine hands back what it made.
 *
 * An engine turns one piece of text (a job) into mono S16 PCM at its own
 * rate: flite in worker threads (engine_flite.h), a cloud provider over
 * HTTP on the service loop (provider_http.h), or a fake one in the tests.
 * Results always arrive in the loop thread, in order per job: audio zero or
 * more times, then done once. A cancelled job gets no callback after
 * cancel() returns; the queue still drops anything it no longer waits for,
 * so an engine that delivers late can never make a cut turn heard. */
#ifndef VOXMESH_TTS_ENGINE_H
#define VOXMESH_TTS_ENGINE_H

#include <stddef.h>
#include <stdint.h>

/* Where an engine delivers its results (the queue, through main.c). */
typedef struct {
    /* PCM of `job`, mono S16 at the engine's rate. */
    void (*audio)(void *owner, uint64_t job, const int16_t *samples, size_t frames);
    /* The job is over: error NULL on success, else why (for the log). */
    void (*done)(void *owner, uint64_t job, const char *error);
    void *owner;
} tts_engine_sink_t;

/* An engine as the queue sees it. */
typedef struct {
    const char *name;          /* "flite", "openai", "elevenlabs", "fake" */
    uint32_t rate;             /* Hz of the PCM it makes */
    size_t capacity;           /* jobs the queue may have in flight at once */
    /* Starts synthesising `text`; label names the session in log lines.
     * Returns 0, or a negative errno (then no callback for the job). */
    int (*start)(void *impl, uint64_t job, const char *label, const char *text);
    /* Stops a job at once and forgets it. */
    void (*cancel)(void *impl, uint64_t job);
    void *impl;
} tts_engine_t;

#endif
