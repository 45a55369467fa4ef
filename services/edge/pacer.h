/* pacer — sends one session's outbound audio to the caller at the pace it
 * plays, on a steady clock.
 *
 * Audio arriving faster than real time (TTS) is queued and sent one frame
 * per frame duration. Live audio goes out on the same steady clock (a frame
 * whose slot is open leaves at once), so the caller's jitter buffer sees
 * smooth arrivals; a live backlog beyond 60 ms is drained to one frame so it
 * never turns into lasting latency. When the source paused, the gap is
 * marked (RTP: timestamps jump, marker bit — the receiver conceals, as with
 * DTX); a frame merely delivered late is not a gap (origin timestamps tell).
 * A flush (barge-in) drops the queue at once.
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

/* limit_ms bounds the queue; beyond it the oldest frames are dropped. */
pacer_t *pacer_new(GMainContext *ctx, uint32_t limit_ms, pacer_send_fn *send, void *arg);
void pacer_destroy(pacer_t **self_p);

/* Hands over one encoded frame (copied). */
void pacer_push(pacer_t *self, const uint8_t *data, size_t len, uint32_t duration_us, int64_t origin_ts_us);

/* Drops everything queued (barge-in); returns the number of frames dropped. */
size_t pacer_flush(pacer_t *self);

uint32_t pacer_queued_ms(const pacer_t *self);
uint64_t pacer_dropped(const pacer_t *self);

#endif
