/* client — what every part of voxmesh-client shares: the command-line
 * options and the exit codes. */
#ifndef VOXMESH_CLIENT_H
#define VOXMESH_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "ws_hello.h"

typedef enum {
    CLIENT_WHIP,
    CLIENT_WS,
} client_transport_t;

/* Exit codes: 0 done, 1 the call failed (refused, timed out, no media), 2 bad
 * command line or input file. */
enum { CLIENT_EXIT_OK = 0, CLIENT_EXIT_FAILED = 1, CLIENT_EXIT_USAGE = 2 };

typedef struct {
    const char *url;            /* edge base URL, "http://127.0.0.1:8080" */
    client_transport_t transport;
    ws_format_t format;         /* ws only */
    int rate;                   /* ws only: 16000 or 48000 */
    const char *token;          /* bearer token, NULL = none */
    const char *in_path;        /* WAV or Ogg/Opus */
    const char *video_path;     /* IVF (VP8), WHIP only, NULL = none */
    const char *out_path;       /* WAV of what came back, NULL = not written */
    int tail_ms;                /* keep recording after the input ended */
    int timeout_ms;             /* bounds the whole run */
    const char *bind;           /* local address for ICE candidates */
} client_opts_t;

#endif
