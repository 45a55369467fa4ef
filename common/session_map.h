/* session_map — per-session state of a step, by session id: made on a
 * session's first event, freed on its end, or when it has been idle too long
 * (should the end event be lost, the state must not leak), with a cap on how
 * many a peer can make us hold. */
#ifndef VOXMESH_SESSION_MAP_H
#define VOXMESH_SESSION_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct session_map session_map_t;

/* Makes the state of a new session (NULL: refused, e.g. out of memory). */
typedef void *(session_make_fn)(const char *id, void *arg);
/* Frees it; `why` is "ended", "idle" or "shutdown". */
typedef void (session_free_fn)(void *state, const char *id, const char *why, void *arg);

session_map_t *session_map_new(size_t max, int64_t idle_us, session_make_fn *make, session_free_fn *free_fn,
                               void *arg);
/* Frees every session (why "shutdown") and the map. */
void session_map_destroy(session_map_t **self_p);

/* The session's state, or NULL. Counts as activity. */
void *session_map_get(session_map_t *self, const char *id);

/* The session's state, made now if new; NULL when the map is full (logged,
 * rate-limited) or the id is empty. Counts as activity. */
void *session_map_open(session_map_t *self, const char *id);

/* Frees a session now (its end event). */
void session_map_end(session_map_t *self, const char *id, const char *why);

/* Frees the sessions idle longer than the limit; returns how many. */
size_t session_map_reap(session_map_t *self);

size_t session_map_size(const session_map_t *self);

/* Calls fn for every session (not counted as activity). fn may end
 * sessions other than the one it is called for only by returning first. */
typedef void (session_visit_fn)(const char *id, void *state, void *arg);
void session_map_foreach(session_map_t *self, session_visit_fn *fn, void *arg);

#endif
