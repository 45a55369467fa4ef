/* lease — a worker's side of session routing (docs/workers.md).
 *
 * A scaled-out role (STT, TTS) runs as several workers on one bus. Every
 * worker receives every session's events; the lease says which sessions
 * are this worker's to serve. Workers beat (health.worker., every
 * heartbeat-ms, with their load); the dispatcher (voxmesh-dispatch) gives
 * each session to one live worker of the role (worker.assign.) and moves it
 * when that worker stops beating.
 *
 * Until a dispatcher has been heard from, a worker serves every session
 * (a graph with one worker needs no dispatcher). Once it has, the worker
 * serves only the sessions assigned to it: gain() is called when a session
 * becomes its own (new, or taken over from a worker that died: redo the
 * work in flight), loss() when the dispatcher moved it elsewhere (drop the
 * work: the other worker does it).
 *
 * Workers beat every LEASE_HEARTBEAT_MS; the dispatcher's --dead-ms says
 * how many missed beats make a worker dead.
 *
 * Declare before service_start (it subscribes and publishes through the
 * service); everything runs in the service loop. */
#ifndef VOXMESH_LEASE_H
#define VOXMESH_LEASE_H

#include "service.h"

#include <stdbool.h>
#include <stddef.h>

#define LEASE_HEARTBEAT_MS 100

typedef struct lease lease_t;

typedef void (lease_fn)(void *arg, const char *session);

typedef struct {
    const char *role;          /* "stt", "tts": what the dispatcher routes */
    lease_fn *gain;            /* may be NULL */
    lease_fn *loss;            /* may be NULL */
    void *arg;
    /* The engine's load for the heartbeat (may be NULL). */
    void (*load)(void *arg, unsigned *busy, unsigned *capacity);
} lease_config_t;

/* Registers the handlers and the heartbeat timer on svc; NULL on failure
 * (logged). */
lease_t *lease_new(service_t *svc, const lease_config_t *cfg);
void lease_destroy(lease_t **self_p);

/* True when this worker is to serve the session now. */
bool lease_mine(lease_t *self, const char *session);

/* True once a dispatcher routes this role (false: this worker serves all). */
bool lease_dispatched(const lease_t *self);

/* The session ended: forget it. */
void lease_end(lease_t *self, const char *session);

/* Sessions assigned to this worker (dispatched), or 0. */
size_t lease_count(const lease_t *self);

/* This worker's id as the dispatcher knows it (the bus publisher id). */
const char *lease_worker(const lease_t *self);

#endif
