/* pacer — sends one session's outbound audio to the caller at the pace it
 * plays, on a steady clock.
 *
 * Audio arriving faster than real time (TTS) is queued and sent one frame
 * per frame duration; audio arriving at real time goes out at once, never a
 * frame late; audio arriving slower leaves gaps that the sender marks (RTP:
 * timestamps jump by the gap, marker bit on the next packet — the receiver
 * conceals, as with DTX). A flush (barge-in) drops the queue at once.
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
bool pacer_playing(const pacer_t *self);   /* something queued or sent in the last slot */

#endif
