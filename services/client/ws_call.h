/* ws_call — one call to the edge over its /ws WebSocket (subprotocol
 * voxmesh.audio.v1, libwebsockets' client on a GLib main context): the hello
 * (common/ws_hello.h), then 20 ms binary frames at real-time pace (pcm16:
 * little-endian s16 mono; opus: an Ogg/Opus stream, one page per packet),
 * while the frames the edge sends back (same format) are decoded into the
 * recorder. */
#ifndef VOXMESH_CLIENT_WS_CALL_H
#define VOXMESH_CLIENT_WS_CALL_H

#include <stdint.h>

#include "client.h"
#include "recorder.h"
#include "source.h"
#include "summary.h"

/* Runs the call with o->format at o->rate: sends `src` (pcm16 frames or
 * Opus packets at that rate), records into `rec` (at o->rate), gives up at
 * deadline_us. Fills `sum`. Returns 0, or -1 after printing why. */
int ws_call_run(const client_opts_t *o, source_t *src, recorder_t *rec,
                int64_t deadline_us, summary_t *sum);

#endif
