/* http — the HTTP/WebSocket front of voxmesh-edge.
 *
 * Serves, on one listening socket (libwebsockets on the worker's GLib main
 * loop, see docs/edge-http.md):
 *
 *   GET  /health             {"status":"ok","sessions":N}
 *   GET  /metrics            Prometheus text (this module's counters + backend)
 *   GET  /, /<file>          the embedded browser client (services/edge/www)
 *   POST /whip               WHIP offer -> 201 answer (RFC 9725)
 *   PATCH, DELETE /whip/<id> trickle ICE / ICE restart, teardown
 *   OPTIONS *                CORS preflight, Accept-Post: application/sdp
 *   GET  /ws                 WebSocket "voxmesh.audio.v1" (or no subprotocol)
 *   GET  /whip/<id>/events   server-sent events of that session (the page's
 *   GET  /ws/<id>/events     conversation view; the backend feeds them)
 *
 * Media is the backend's business: this module hands offers, trickle
 * fragments and WebSocket audio to an edge_http_backend_t and sends back what
 * the backend produces.
 *
 * Threading: every callback runs on the thread of the GMainLoop given to
 * edge_http_new(), and every function below must be called on that thread
 * (from another thread, g_main_context_invoke() onto the loop's context). */
#ifndef VOXMESH_EDGE_HTTP_H
#define VOXMESH_EDGE_HTTP_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "whip.h"
#include "ws_hello.h"

typedef struct edge_http edge_http_t;
/* A pending WHIP request (offer or PATCH) waiting for the backend's answer. */
typedef struct edge_whip_reply edge_whip_reply_t;
/* An accepted WebSocket audio connection. */
typedef struct edge_ws edge_ws_t;
/* An open server-sent event stream of one session (GET .../events). */
typedef struct edge_sse edge_sse_t;

typedef struct {
    const char *listen_addr;    /* "127.0.0.1"; numeric IPv4/IPv6 address */
    int port;                   /* 8080; 0 = ephemeral, see edge_http_port() */
    const char *bearer_token;   /* NULL/"" = no authentication */
    const char *cors_origin;    /* "*" */
    size_t max_body;            /* request body limit, 64 KiB -> 413 beyond */
    size_t max_sessions;        /* WHIP resources incl. pending, 256 -> 503 */
    size_t max_ws;              /* WebSocket audio connections, 256 -> 503 */
    size_t ws_max_message;      /* reassembled WebSocket message, 256 KiB */
    size_t ws_queue_bytes;      /* per-connection send queue, 512 KiB */
    unsigned answer_timeout_ms; /* backend's WHIP answer deadline, 15000 -> 504 */
    unsigned ws_hello_timeout_ms; /* WebSocket hello deadline, 10000 -> 1008 */
    size_t max_event_streams;   /* event streams in total, 512 -> 503 */
    size_t max_session_streams; /* event streams per session, 4 -> 429 */
    size_t sse_queue_bytes;     /* per-stream send queue, 64 KiB */
    unsigned sse_keepalive_ms;  /* comment line on idle streams, 15000 */
} edge_http_config_t;

/* The backend: all members may be NULL (the feature then answers 501 / the
 * WebSocket is refused), `arg` is passed back verbatim. */
typedef struct {
    /* Live media sessions for /health; NULL = WHIP resources + WebSockets. */
    size_t (*session_count)(void *arg);

    /* Appends Prometheus text exposition lines to out for /metrics. */
    void (*metrics)(void *arg, GString *out);

    /* A WHIP offer (NUL-terminated, len bytes, valid during the call) for
     * the new resource `session_id`. The backend must call
     * edge_http_whip_answer(reply, ...) exactly once, now or later. */
    void (*whip_offer)(void *arg, const char *session_id, const char *sdp, size_t len,
                       edge_whip_reply_t *reply);

    /* A PATCH (application/trickle-ice-sdpfrag) on a live resource;
     * if_match_any says If-Match was "*", which RFC 9725 requires for an ICE
     * restart (the fragment's new ice-ufrag/ice-pwd is what tells). Answer
     * with edge_http_whip_answer(): 204 for trickle, 200 + new sdpfrag for a
     * restart (a new entity-tag is issued), or an error. */
    void (*whip_patch)(void *arg, const char *session_id, void *session,
                       const char *frag, size_t len, bool if_match_any,
                       edge_whip_reply_t *reply);

    /* The resource is gone: DELETE by the client, an answered session
     * whose client had already left, or edge_http_destroy(). Never called for
     * sessions the backend ended itself with edge_http_whip_end(). */
    void (*whip_delete)(void *arg, const char *session_id, void *session);

    /* Optional hint: the client of a pending reply went away or timed out;
     * the backend may abandon the work but must still answer the reply. */
    void (*whip_cancel)(void *arg, edge_whip_reply_t *reply);

    /* A WebSocket sent a valid hello. Return 0 to accept (the client then
     * gets "accepted"), or a negative value and optionally point *reason at
     * a message for the client (copied before ws_open returns). */
    int (*ws_open)(void *arg, edge_ws_t *conn, const ws_hello_t *hello, const char **reason);

    /* A binary message (audio) from an accepted connection. */
    void (*ws_audio)(void *arg, edge_ws_t *conn, const uint8_t *data, size_t len);

    /* An accepted connection is gone (called exactly once per accepted
     * ws_open, also after edge_ws_close); conn is freed when it returns. */
    void (*ws_close)(void *arg, edge_ws_t *conn);

    /* A client opened the event stream of a live session (the HTTP side
     * checked the token, the session and the limits). Return 0 to take it
     * (then feed it with edge_sse_send), or a negative value and optionally
     * a reason: the client gets 404 with it. NULL: event streams 404. */
    int (*events_open)(void *arg, const char *session_id, edge_sse_t *stream, const char **reason);

    /* An accepted stream is gone (client left, session ended, shutdown):
     * called exactly once per accepted events_open; freed when it returns. */
    void (*events_close)(void *arg, edge_sse_t *stream);
} edge_http_backend_t;

/* Fills cfg with the defaults shown in edge_http_config_t. */
void edge_http_config_defaults(edge_http_config_t *cfg);

/* Starts listening and serving on `loop`'s GMainContext. cfg and backend are
 * copied (strings too). Returns NULL, after logging why, on failure. */
edge_http_t *edge_http_new(const edge_http_config_t *cfg, const edge_http_backend_t *backend,
                           void *backend_arg, GMainLoop *loop);

/* Closes every connection (ws_close for each accepted WebSocket), calls
 * whip_delete for every live WHIP resource, and frees the server; pending
 * replies stay valid until answered. Sets *p to NULL. */
void edge_http_destroy(edge_http_t **p);

/* The port actually listened on (the ephemeral one when cfg.port was 0). */
int edge_http_port(edge_http_t *http);

/* Answers a pending WHIP request; `reply` is freed.
 *  offer: 201 + answer SDP + session (the backend's pointer, handed back in
 *         whip_patch/whip_delete), or an error status (400..599) + a reason
 *         sent as text/plain (e.g. 400 "malformed SDP: no audio m-line").
 *  patch: 204 (body NULL), 200 + sdpfrag after an ICE restart, or an error.
 * If the client is gone, the answer is dropped and, for a 201, whip_delete
 * is called at once so that the backend frees the session. */
void edge_http_whip_answer(edge_whip_reply_t *reply, int status, const char *body, void *session);

/* The resource id of a pending reply. */
const char *edge_whip_reply_id(edge_whip_reply_t *reply);

/* Removes a live WHIP resource the backend ended on its own (ICE failure,
 * media timeout); later requests on it get 404. No whip_delete follows.
 * Returns 0 or -ENOENT. */
int edge_http_whip_end(edge_http_t *http, const char *session_id);

/* Queues a binary message to the client (copied). When the queue would
 * exceed cfg.ws_queue_bytes the oldest messages are dropped and counted.
 * Returns 0, or -EPIPE once the connection is closing. */
int edge_ws_send(edge_ws_t *conn, const uint8_t *data, size_t len);

/* Closes the connection with status 1000 and `reason` (may be NULL) after
 * the queued messages; ws_close follows once the socket is gone. */
void edge_ws_close(edge_ws_t *conn, const char *reason);

/* The connection's session id (32 hex digits), as sent in "accepted". */
const char *edge_ws_id(edge_ws_t *conn);

/* The hello the connection was accepted with. */
const ws_hello_t *edge_ws_hello(edge_ws_t *conn);

/* A pointer of the backend's, stored with the connection. */
void edge_ws_set_user(edge_ws_t *conn, void *user);
void *edge_ws_user(edge_ws_t *conn);

/* Messages / bytes dropped on this connection's full send queue. */
uint64_t edge_ws_dropped(edge_ws_t *conn);

/* Queues one event (`data`, len bytes, usually one line of JSON; newlines
 * become further data: lines) for the stream, framed as `data: ...` + a
 * blank line. Never blocks: when the queue would pass cfg.sse_queue_bytes,
 * the oldest `droppable` events (partial transcripts, reply deltas: a later
 * one supersedes them) go first, then the oldest of any kind; drops are
 * counted. Returns 0, -EPIPE once the stream is ending, -EMSGSIZE for an
 * event larger than the whole queue, -ENOMEM. */
int edge_sse_send(edge_sse_t *stream, const char *data, size_t len, bool droppable);

/* Ends the stream after what is queued (the connection then closes). */
void edge_sse_close(edge_sse_t *stream);

/* The session the stream belongs to (32 hex digits). */
const char *edge_sse_session(edge_sse_t *stream);

/* Events dropped on this stream's full queue. */
uint64_t edge_sse_dropped(edge_sse_t *stream);

#endif
