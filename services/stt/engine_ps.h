/* engine_ps — the PocketSphinx decoder pool (ps_engine.h) as an engine
 * (engine.h): an utterance holds a decoder from start to finish and is
 * decoded as its audio arrives; start() finds no decoder when all are
 * busy; the per-caller state is the caller's cepstral mean (ps_channel_t). */
#ifndef VOXMESH_STT_ENGINE_PS_H
#define VOXMESH_STT_ENGINE_PS_H

#include "engine.h"
#include "ps_engine.h"

/* The engine over a loaded pool; it owns the pool from now on (destroy()
 * frees it). */
stt_engine_t engine_ps(ps_engine_t *pool);

#endif
