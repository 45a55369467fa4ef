/* whip — the table of WHIP resources (RFC 9725) of one edge HTTP server.
 *
 * An entry is created "pending" when an offer arrives (so that the session
 * limit is enforced before the backend spends anything on it), becomes "live"
 * when the backend answers 201, and goes away on DELETE, when the backend ends
 * the session, or when the answer is dropped. Each live entry holds the
 * backend's session pointer and the entity-tag of its current ICE session. */
#ifndef VOXMESH_EDGE_WHIP_H
#define VOXMESH_EDGE_WHIP_H

#include <stdbool.h>
#include <stddef.h>

/* Ids and entity-tags are 128-bit random values in lowercase hex. */
#define WHIP_ID_BYTES 16
#define WHIP_ID_LEN (2 * WHIP_ID_BYTES)
#define WHIP_ETAG_LEN WHIP_ID_LEN

typedef struct whip_table whip_table_t;

/* Fills out[0 .. 2*nbytes] with 2*nbytes random lowercase hex digits and a
 * NUL (out must hold 2*nbytes + 1). Returns 0 or a negative errno. */
int whip_random_hex(char *out, size_t nbytes);

/* Creates a table holding at most max_sessions entries, pending included. */
whip_table_t *whip_table_new(size_t max_sessions);

/* Destroys the table; sets *p to NULL. Sessions are the caller's business. */
void whip_table_destroy(whip_table_t **p);

/* Reserves a pending entry under a fresh id (written to id_out, which holds
 * WHIP_ID_LEN + 1). Returns 0, -EBUSY when the table is full, or -errno. */
int whip_table_reserve(whip_table_t *t, char *id_out);

/* Turns a pending entry live with the backend's session and a fresh
 * entity-tag (written to etag_out, WHIP_ETAG_LEN + 1). Returns 0 or -ENOENT. */
int whip_table_commit(whip_table_t *t, const char *id, void *session, char *etag_out);

/* Removes an entry, pending or live. Returns 0 or -ENOENT. */
int whip_table_remove(whip_table_t *t, const char *id);

/* Finds a live entry: returns true and, when not NULL, its session and
 * current entity-tag (valid until the entry changes). Pending entries and
 * unknown ids return false: for a client they do not exist yet. */
bool whip_table_lookup(whip_table_t *t, const char *id, void **session, const char **etag);

/* Replaces the entity-tag of a live entry after an ICE restart. Returns 0 or
 * -ENOENT; the new tag is written to etag_out (WHIP_ETAG_LEN + 1). */
int whip_table_new_etag(whip_table_t *t, const char *id, char *etag_out);

/* Entries, pending included / live only. */
size_t whip_table_size(whip_table_t *t);
size_t whip_table_live(whip_table_t *t);

/* Calls fn for every live entry (the table must not be changed meanwhile). */
void whip_table_foreach(whip_table_t *t, void (*fn)(const char *id, void *session, void *arg),
                        void *arg);

/* True when s is a well-formed id (WHIP_ID_LEN lowercase hex digits), so
 * that anything else in a URL is refused before a lookup. */
bool whip_id_valid(const char *s);

/* Compares an If-Match field value with the current entity-tag (RFC 9110
 * 13.1.1, strong comparison; a list of tags may match any): returns 1 when
 * it matches, 0 when not, 2 for "*" (which RFC 9725 requires for an ICE
 * restart), -1 when the value is malformed. */
int whip_if_match(const char *field, const char *etag);

#endif
