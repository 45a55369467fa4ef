/* whip_call — one call to the edge over WebRTC: WHIP signalling
 * (whip_http, whip_sdp), ICE + DTLS-SRTP through libvoxmesh's rtc_peer_t on
 * a private GMainContext, 20 ms Opus RTP at real-time pace (pacer), RTCP
 * SR/RR every second, the edge's audio decoded into the recorder (rtp_rx),
 * optional VP8 video (video_tx), and DELETE at the end. */
#ifndef VOXMESH_CLIENT_WHIP_CALL_H
#define VOXMESH_CLIENT_WHIP_CALL_H

#include <stdint.h>

#include "client.h"
#include "recorder.h"
#include "source.h"
#include "summary.h"

/* Runs the call: sends `src` (Opus packets), records into `rec` (48 kHz),
 * gives up at deadline_us (monotonic). Fills `sum` as far as it got.
 * Returns 0, or -1 after printing why on stderr. */
int whip_call_run(const client_opts_t *o, source_t *src, recorder_t *rec,
                  int64_t deadline_us, summary_t *sum);

#endif
