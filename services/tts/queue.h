/* queue — the TTS stage's sessions: their sentences waiting to be spoken,
 * the engine jobs in flight, and the cut at a barge-in (docs/tts.md).
 *
 * Sentences are split into pieces of bounded length (at clause, else word
 * boundaries), and each piece is one engine job. A session has at most one
 * job in flight, so its audio comes out in order; the engine's slots go to
 * the session whose published audio runs out first (earliest deadline
 * first), so a new reply's first sentence overtakes sessions that have
 * seconds of audio buffered, and a long reply never starves anyone.
 *
 * A turn interrupt cuts the session's current turn: its job is cancelled,
 * its waiting pieces dropped, and from then on nothing of that turn, nor of
 * an older one, is published — neither a sentence that arrives later nor
 * audio an engine delivers late. The cut publishes what the caller heard
 * (spoken.h).
 *
 * The leading silence of a reply's first audio is dropped (up to
 * trim_lead_us, but for a 30 ms lead-in): the caller hears the answer
 * start that much sooner.
 *
 * Everything runs in the caller's thread (the service loop); time is passed
 * in (wall clock, µs) so that the tests control it. */
#ifndef VOXMESH_TTS_QUEUE_H
#define VOXMESH_TTS_QUEUE_H

#include "engine.h"
#include "metrics.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tts_queue tts_queue_t;

typedef struct {
    size_t max_sessions;          /* sessions held at once */
    int64_t idle_us;              /* a session without events this long is freed */
    size_t max_pending;           /* pieces waiting per session */
    size_t max_sentence_chars;    /* a longer sentence is cut short (logged) */
    size_t max_piece_chars;       /* a longer sentence is split */
    size_t max_turn_pieces;       /* pieces one reply may have */
    int64_t trim_lead_us;         /* leading silence dropped from a reply's first audio, at most */
} tts_queue_config_t;

void tts_queue_config_defaults(tts_queue_config_t *cfg);

/* One chunk of audio to publish. */
typedef struct {
    const char *session;
    uint64_t turn;
    int64_t origin_us;            /* of the sentence it speaks */
    const int16_t *samples;       /* mono S16 */
    size_t frames;
    uint32_t rate;
    uint64_t offset;              /* frames published for the session before this one */
    uint32_t sentence;            /* 1 + the sentence's index in the turn */
    uint64_t sentence_offset;     /* frames the engine made for the sentence before this chunk */
} tts_audio_t;

/* Where the queue's output goes: the bus (main.c) or a recorder (tests). */
typedef struct {
    void (*audio)(void *user, const tts_audio_t *a);
    /* After a cut: what of turn `turn` the caller heard. */
    void (*spoken)(void *user, const char *session, uint64_t turn, int64_t origin_us, const char *text);
    /* Sentence `index` of `turn` is all published (may be NULL). */
    void (*progress)(void *user, const char *session, uint64_t turn, uint32_t index, int64_t origin_us);
    void *user;
} tts_output_t;

typedef struct {
    uint64_t sentences, chars, pieces;
    uint64_t frames;              /* published */
    uint64_t interrupts;          /* turns cut */
    uint64_t errors;              /* jobs that failed */
    uint64_t dropped_cut;         /* sentences of a cut turn (or older than the cut) */
    uint64_t dropped_stale;       /* sentences of a turn older than the one speaking */
    uint64_t dropped_limit;       /* sentences refused: queue or session limits */
    uint64_t superseded;          /* pieces dropped because a newer turn began */
    uint64_t late_results;        /* engine results for jobs no longer wanted */
} tts_queue_stats_t;

/* engine and output are copied. metrics may be NULL; else the queue
 * registers and updates voxmesh_tts_* there. */
tts_queue_t *tts_queue_new(const tts_queue_config_t *cfg, const tts_engine_t *engine, const tts_output_t *output,
                           metrics_t *metrics);
/* Cancels every job in flight and frees every session. */
void tts_queue_destroy(tts_queue_t **self_p);

/* An llm.sentence. event. Returns 1 when queued, 0 when dropped (cut,
 * stale, empty, limits: counted), negative errno on failure. */
int tts_queue_sentence(tts_queue_t *self, const char *session, uint64_t turn, uint32_t index, const char *text,
                       int64_t origin_us, int64_t now_us);

/* A turn.interrupt. event. Returns the turn it cut (0: none). */
uint64_t tts_queue_interrupt(tts_queue_t *self, const char *session, int64_t origin_us, int64_t now_us);

/* The session ended: everything of it is cancelled and freed. */
void tts_queue_end(tts_queue_t *self, const char *session);

/* Frees sessions idle longer than the limit. */
void tts_queue_reap(tts_queue_t *self);

/* Engine results (the engine's tts_engine_sink_t ends here). */
void tts_queue_audio(tts_queue_t *self, uint64_t job, const int16_t *samples, size_t frames, int64_t now_us);
void tts_queue_done(tts_queue_t *self, uint64_t job, const char *error, int64_t now_us);

tts_queue_stats_t tts_queue_stats(const tts_queue_t *self);
size_t tts_queue_sessions(const tts_queue_t *self);
size_t tts_queue_active(const tts_queue_t *self);     /* jobs in flight */

#endif
