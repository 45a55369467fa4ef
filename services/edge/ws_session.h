/* ws_session — one WebSocket caller (/ws): audio in as pcm16 frames or an
 * Ogg/Opus stream, audio out the same way, paced like WebRTC audio. */
#ifndef VOXMESH_EDGE_WS_SESSION_H
#define VOXMESH_EDGE_WS_SESSION_H

#include "edge.h"

/* Accepts a connection whose hello was valid; returns 0, or negative with
 * *reason set (the connection is then refused with it). */
int ws_session_open(edge_t *edge, edge_ws_t *conn, const ws_hello_t *hello, const char **reason);
void ws_session_audio(edge_ws_t *conn, const uint8_t *data, size_t len);
void ws_session_close(edge_ws_t *conn);

#endif
