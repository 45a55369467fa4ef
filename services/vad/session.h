/* vad_session — one caller's voice activity: resampling to 16 kHz mono,
 * framing, the detector, the turn-taking state machine, and the
 * utterance audio handed to STT as it grows (with pre-roll).
 *
 * Frames are what the detector asks for (10 ms). Time is stream time: microseconds of caller audio consumed, so that the
 * logic is the same whether audio arrives live or from a test. */
#ifndef VOXMESH_VAD_SESSION_H
#define VOXMESH_VAD_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include "pcm.h"
#include "turn.h"

typedef struct vad_session_t vad_session_t;

typedef struct {
    /* SPEECH_START, SPEECH_END, INTERRUPT as decided by the turn logic. */
    void (*on_turn)(void *arg, const turn_event_t *ev);
    /* A piece of the current utterance (16 kHz mono s16); final on the last. */
    void (*on_segment)(void *arg, uint64_t utterance_id, const pcm_t *audio, int64_t start_us, bool final);
    void *arg;
} vad_session_cb_t;

typedef struct {
    turn_config_t turn;
    int aggressiveness;      /* detector setting, see vad_detect.h */
    bool barge_in;           /* emit INTERRUPT when the caller speaks over the agent */
    int segment_chunk_ms;    /* utterance audio is handed on in pieces of at least this */
} vad_session_config_t;

void vad_session_config_default(vad_session_config_t *cfg);

vad_session_t *vad_session_new(const vad_session_config_t *cfg, const vad_session_cb_t *cb);
void vad_session_destroy(vad_session_t **self_p);

/* Feeds caller audio at any rate/format. Returns 0 or a negative error. */
int vad_session_feed(vad_session_t *self, const pcm_t *pcm);

/* Agent audio of `duration_us` was queued for playback now (barge-in needs
 * to know when the agent is talking). */
void vad_session_agent_audio(vad_session_t *self, int64_t duration_us);

/* Barge-in happened or the agent's reply was cut: nothing is playing now. */
void vad_session_agent_stopped(vad_session_t *self);

/* End of the caller's stream: closes an open turn. */
void vad_session_end(vad_session_t *self);

int64_t vad_session_stream_us(const vad_session_t *self);

#endif
