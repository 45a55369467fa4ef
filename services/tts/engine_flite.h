/* engine_flite — offline synthesis with flite, in worker threads.
 *
 * flite is CPU work (about 2% of real time for the clustergen voices, 0.2%
 * for the diphone ones) that cannot yield, so it runs in a pool of worker
 * threads; the service loop stays free for events, interrupts and other
 * sessions. Each job streams: flite's audio streaming callback hands over
 * the waveform as the vocoder makes it, and every chunk_ms of it is posted
 * back at once (a mutex-protected list plus a pipe the loop watches), so
 * the first audio of a long sentence leaves long before its last.
 *
 * Cancelling a job stops it at once: the streaming callback of a running
 * job returns CST_AUDIO_STREAM_STOP at its next call, and results already
 * posted for it are withdrawn, so none is delivered after cancel(). */
#ifndef VOXMESH_TTS_ENGINE_FLITE_H
#define VOXMESH_TTS_ENGINE_FLITE_H

#include "engine.h"

#include <stddef.h>
#include <stdint.h>

typedef struct engine_flite engine_flite_t;

typedef struct {
    const char *voice;     /* see engine_flite_voices(); NULL: "slt" */
    size_t workers;        /* threads (and jobs at once); 0: 1 */
    uint32_t chunk_ms;     /* audio is posted in chunks of this length; 0: 100 */
} engine_flite_config_t;

/* The voices that can be asked for ("slt kal kal16 awb rms"). */
const char *engine_flite_voices(void);

/* Loads the voice and starts the workers. Results go to sink (copied), in
 * the thread that calls engine_flite_dispatch(). NULL on failure, with the
 * reason in err. */
engine_flite_t *engine_flite_new(const engine_flite_config_t *cfg, const tts_engine_sink_t *sink, char *err,
                                 size_t errlen);
/* Stops running jobs, joins the workers, frees what is queued. */
void engine_flite_destroy(engine_flite_t **self_p);

/* The engine for the queue (capacity: the number of workers). */
tts_engine_t engine_flite_engine(engine_flite_t *self);

/* Readable when results are waiting: watch it in the loop... */
int engine_flite_fd(const engine_flite_t *self);
/* ...and deliver them (to the sink) when it is. Returns how many. */
size_t engine_flite_dispatch(engine_flite_t *self);

/* The text as flite should see it: typographic punctuation to ASCII,
 * accented Latin letters to plain ones, anything else outside ASCII and
 * control characters to spaces (malloc'd; NULL out of memory). */
char *engine_flite_text(const char *text);

#endif
