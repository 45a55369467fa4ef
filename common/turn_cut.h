/* turn_cut — which agent turns of a session are cut (barge-in), so that no
 * tail of a cut reply reaches the caller.
 *
 * Agent audio carries the turn it answers (PcmAudio/EncodedAudio turn_id;
 * 0 = not a turn's, e.g. the parrot's echo or a greeting: never dropped by
 * turn, only flushed). A turn interrupt cuts every turn seen so far; a
 * tts.spoken. event for turn N (the TTS publishes it after its last audio of
 * N, on the same socket, so it arrives after all of it) cuts N even if no
 * audio of N had arrived yet when the interrupt did. Audio of a cut turn
 * that arrives later is dropped; a later turn (a new reply) plays. */
#ifndef VOXMESH_TURN_CUT_H
#define VOXMESH_TURN_CUT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint64_t latest;   /* highest turn seen in audio */
    uint64_t cut;      /* turns <= this are cut */
} turn_cut_t;

/* The caller barged in: everything seen so far is cut. */
static inline void turn_cut_interrupt(turn_cut_t *t) { t->cut = t->latest > t->cut ? t->latest : t->cut; }

/* Turn `turn` is over for good (tts.spoken.). True if that cuts more. */
static inline bool turn_cut_upto(turn_cut_t *t, uint64_t turn)
{
    if (turn <= t->cut) return false;
    t->cut = turn;
    return true;
}

/* True when audio of `turn` must be dropped; else notes the turn as seen. */
static inline bool turn_cut_drop(turn_cut_t *t, uint64_t turn)
{
    if (!turn) return false;
    if (turn <= t->cut) return true;
    if (turn > t->latest) t->latest = turn;
    return false;
}

#endif
