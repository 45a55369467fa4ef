/* feed — what a caller's page shows of its conversation with the agent,
 * built from the bus: the caller's partial and final transcripts, the reply
 * as it streams (deltas, sentences, done), who is speaking, barge-ins, what
 * of a cut reply was heard, and per-turn latency. Each event is one line of
 * JSON with a "type", sent to the session's event streams (GET
 * /whip/<id>/events, docs/edge-http.md lists the events and fields).
 *
 * The feed keeps state only for sessions with a stream attached, so a call
 * nobody watches costs one hash lookup per event. Times are the edge's wall
 * clock (`now_us`, time_now_us()) against envelope origins: the end of the
 * caller's speech for everything a turn makes (docs/edge.md, latency).
 *
 * Streams and the pacer are reached through feed_ops_t, so the feed is
 * tested without sockets (feed_test.c). Single-threaded: the edge's loop. */
#ifndef VOXMESH_EDGE_FEED_H
#define VOXMESH_EDGE_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

typedef struct feed feed_t;

typedef struct {
    /* Queues one event (JSON, no newline) on a stream; `droppable` events
     * are superseded by a later one (partials, deltas). <0: not queued. */
    int (*send)(void *stream, const char *json, size_t len, bool droppable);
    /* Ends a stream: its session is gone. The stream is detached later. */
    void (*close)(void *stream);
    /* Agent audio still queued for the session (ms), or -1 when the
     * session no longer exists. */
    long (*queued_ms)(void *arg, const char *session_id);
} feed_ops_t;

/* Agent audio counts as over when nothing is queued and no frame came for
 * this long (live audio arrives one frame at a time). */
#define FEED_AGENT_QUIET_US 100000

feed_t *feed_new(const feed_ops_t *ops, void *arg);
/* Frees all state; streams still attached are not closed (the HTTP front
 * does that). Sets *p to NULL. */
void feed_destroy(feed_t **p);

/* A stream for session_id: sends it a "ready" event with who is speaking.
 * Returns 0 or -ENOMEM. */
int feed_attach(feed_t *f, const char *session_id, void *stream);
/* The stream is gone; the session's state goes with its last stream. */
void feed_detach(feed_t *f, const char *session_id, void *stream);

/* An event of the session from the bus (anything but outbound audio):
 * transcripts, reply text, VAD, interrupts, tts.spoken.; others ignored. */
void feed_bus(feed_t *f, const char *session_id, const event_t *ev, int64_t now_us);

/* Agent audio of `turn_id` (0: not a turn's) left for the caller: the
 * agent speaks; a turn's first audio completes its latency. */
void feed_audio_out(feed_t *f, const char *session_id, uint64_t turn_id, int64_t origin_ts_us, int64_t now_us);

/* Call every few tens of ms: notices agent audio that ran dry, and closes
 * the streams of sessions that are gone. */
void feed_tick(feed_t *f, int64_t now_us);

/* Sessions with at least one stream. */
size_t feed_sessions(const feed_t *f);

#endif
