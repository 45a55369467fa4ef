/* pacer — the steady clock that sends media at real-time pace.
 *
 * Deadlines are absolute: packet k is due at start + (media sent before k),
 * computed from the running total of 48 kHz samples, never by adding up
 * sleeps, so scheduling delays do not accumulate (a late wake-up sends what
 * is due and the next deadline stays where it was). Times are monotonic
 * microseconds (time_mono_us(), the clock GLib's ready times use). */
#ifndef VOXMESH_CLIENT_PACER_H
#define VOXMESH_CLIENT_PACER_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

typedef struct {
    int64_t start_us;           /* due time of the first packet */
    uint64_t samples;           /* media sent so far, in units of `rate` */
    uint32_t rate;              /* clock of `samples` (48000 for audio, 90000 video) */
} pacer_t;

/* Starts a clock: the first packet is due at start_us. */
void pacer_init(pacer_t *p, int64_t start_us, uint32_t rate);

/* When the next packet is due. */
int64_t pacer_next_us(const pacer_t *p);

/* True when the next packet is due at `now_us`. */
bool pacer_due(const pacer_t *p, int64_t now_us);

/* Accounts a packet of `samples` (in the pacer's rate) as sent. */
void pacer_advance(pacer_t *p, uint64_t samples);

/* Moves the clock to an absolute media position (e.g. a video pts). */
void pacer_seek(pacer_t *p, uint64_t samples);

/* A GSource that dispatches `fn(data)` at an absolute monotonic time set
 * with pacer_source_wake(); -1 means never. The caller attaches it to its
 * context and destroys it (g_source_destroy + g_source_unref). */
GSource *pacer_source_new(GSourceFunc fn, void *data);

/* Sets when the source fires next (monotonic microseconds, -1 = never). */
void pacer_source_wake(GSource *src, int64_t at_us);

#endif
