/* pacer — sends one session's outbound audio to the caller at the pace it
 * plays, on a steady clock.
 *
 * Audio arriving faster than real time (TTS: its frames share one origin)
 * is queued and sent one frame per frame duration on a steady clock; a frame
 * whose slot is open leaves at once. Live audio (each frame captured one
 * frame after the last: origin timestamps) leaves on the caller's capture
 * clock: at origin + the least delay seen over the last seconds + a jitter
 * allowance. Arrival jitter below the allowance never reaches the caller's
 * jitter buffer, and a late frame cannot delay the frames behind it, so no
 * standing queue can build up. When the source paused, the gap is marked
 * (RTP: timestamps jump, marker bit — the receiver conceals, as with DTX); a
 * frame merely delivered late is not a gap. A flush (barge-in) drops the
 * queue at once.
 *
 * It runs on a GMainContext: one GSource whose ready time is the next send
 * deadline, so there is no polling tick. */
#ifndef VOXMESH_EDGE_PACER_H
#define VOXMESH_EDGE_PACER_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

typedef struct pacer pacer_t;

/* Called when a frame is due. `gap_frames` counts frame slots that went by
 * with nothing to send since the previous frame (0 in a steady stream). */
typedef void (pacer_send_fn)(void *arg, const uint8_t *data, size_t len, uint32_t duration_us,
                             int64_t origin_ts_us, unsigned gap_frames);

/* limit_ms bounds the queue; beyond it the oldest frames are dropped.
 * jitter_ms: live frames are held to capture time + the least delay seen +
 * this much, so arrival jitter up to it does not reach the caller. */
pacer_t *pacer_new(GMainContext *ctx, uint32_t limit_ms, uint32_t jitter_ms, pacer_send_fn *send, void *arg);
void pacer_destroy(pacer_t **self_p);

/* Hands over one encoded frame (copied). */
void pacer_push(pacer_t *self, const uint8_t *data, size_t len, uint32_t duration_us, int64_t origin_ts_us);

/* Drops everything queued (barge-in); returns the number of frames dropped. */
size_t pacer_flush(pacer_t *self);

uint32_t pacer_queued_ms(const pacer_t *self);
uint64_t pacer_dropped(const pacer_t *self);

#endif
