/* turn — turn-taking state machine over per-frame VAD decisions.
 *
 * Driven only by stream time (microseconds, any origin) carried with each
 * frame, never by the wall clock, so a synthetic timeline tests it exactly.
 *
 *   - A turn starts when the frames since an onset hold min_speech_ms of
 *     speech without a gap longer than onset_gap_ms: coughs and clicks never
 *     reach it. SPEECH_START is emitted at that moment (the confirmation
 *     delay) but carries the onset time: start of the first speech frame.
 *   - A turn ends after end_silence_ms without speech; SPEECH_END carries the
 *     end of the last speech frame, so pauses shorter than end_silence_ms
 *     stay inside the turn.
 *   - While the agent is playing (turn_agent_playing()), confirmed caller
 *     speech also emits INTERRUPT (once per turn; with interrupt_min_ms
 *     below min_speech_ms already on the candidate) so the agent can stop.
 *   - Each result names the stream interval that belongs to the utterance
 *     and was not named before: on confirmation everything from onset minus
 *     preroll_ms, then every frame until the end of the turn. The caller
 *     keeps turn_history_us() of audio to serve the first interval.
 *
 * See docs/vad.md for the latency trade-off. Not thread-safe. */
#ifndef VOXMESH_TURN_H
#define VOXMESH_TURN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _turn_t turn_t;

typedef struct {
    int min_speech_ms;      /* speech needed to confirm a turn (default 200) */
    int end_silence_ms;     /* silence that ends a turn (default 500) */
    int preroll_ms;         /* audio before the onset given to STT (default 200) */
    int onset_gap_ms;       /* longest gap before confirmation (default 100) */
    int interrupt_min_ms;   /* speech needed for INTERRUPT while the agent plays;
                               0 = min_speech_ms; shorter: the agent is cut on a
                               candidate, before the turn is confirmed */
} turn_config_t;

typedef enum {
    TURN_SPEECH_START = 1,
    TURN_SPEECH_END,
    TURN_INTERRUPT,
} turn_event_type_t;

typedef struct {
    turn_event_type_t type;
    int64_t at_us;          /* stream time the event was decided (end of the deciding frame) */
    int64_t start_us;       /* onset of the turn: start of its first speech frame */
    int64_t end_us;         /* SPEECH_END: end of the last speech frame; else 0 */
} turn_event_t;

#define TURN_MAX_EVENTS 4

typedef struct {
    size_t n_events;
    turn_event_t events[TURN_MAX_EVENTS];
    /* Stream interval [seg_from_us, seg_to_us) belonging to the current
     * utterance, not named by an earlier result; empty when equal. */
    int64_t seg_from_us;
    int64_t seg_to_us;
} turn_result_t;

/* Fills cfg with the defaults above. */
void turn_config_default(turn_config_t *cfg);

/* Creates a state machine; cfg NULL means defaults. NULL on a bad config
 * (a value below 0 or above 60000 ms). */
turn_t *turn_new(const turn_config_t *cfg);

/* Destroys it and sets *self_p to NULL. */
void turn_destroy(turn_t **self_p);

/* Feeds the VAD decision for the frame [frame_start_us, frame_start_us +
 * frame_us). Frames must not overlap or go back in time; a hole between
 * frames counts as silence. Fills *out (always cleared). Returns 0, or
 * -EINVAL on bad arguments (state unchanged). */
int turn_process(turn_t *self, int64_t frame_start_us, int64_t frame_us, bool speech,
                 turn_result_t *out);

/* Tells that agent audio starts (playing true) or stops playing at stream
 * time at_us. Takes effect for frames starting at or after at_us; up to 8
 * future changes are queued. Returns 0 or -EINVAL. */
int turn_agent_playing(turn_t *self, bool playing, int64_t at_us);

/* End of stream at now_us: ends an open turn (SPEECH_END) and drops a
 * candidate. Fills *out. Returns 0 or -EINVAL. */
int turn_flush(turn_t *self, int64_t now_us, turn_result_t *out);

/* Forgets all state, including the agent's playing state. */
void turn_reset(turn_t *self);

/* True between SPEECH_START and SPEECH_END. */
bool turn_in_turn(const turn_t *self);

/* How much audio before the current frame the caller must keep so that the
 * interval named on confirmation (pre-roll + confirmation delay) is still
 * available. */
int64_t turn_history_us(const turn_t *self);

/* "SPEECH_START", "SPEECH_END", "INTERRUPT". */
const char *turn_event_name(turn_event_type_t type);

#endif
