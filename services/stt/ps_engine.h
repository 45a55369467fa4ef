/* ps_engine — the offline recogniser: a pool of PocketSphinx decoders,
 * loaded once when the daemon starts, lent to one utterance at a time.
 *
 * A PocketSphinx decoder holds the state of one utterance, so concurrent
 * callers need one decoder each; loading one costs ~0.5 s and tens of MB
 * (the acoustic model, the dictionary, the language model), far too much
 * per utterance. So the pool is made at start (--decoders), an utterance
 * takes a decoder for its duration and gives it back at its end, and an
 * utterance that finds none free waits (its audio is kept) until one is.
 * More throughput means more replicas of the daemon, one per core. */
#ifndef VOXMESH_STT_PS_ENGINE_H
#define VOXMESH_STT_PS_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ps_engine ps_engine_t;
typedef struct ps_utt ps_utt_t;

typedef struct {
    const char *hmm;        /* acoustic model directory */
    const char *dict;       /* pronunciation dictionary */
    const char *lm;         /* language model (ARPA or binary) */
    int decoders;           /* pool size, >= 1 */
    bool fast;              /* narrower beams, frame skipping: ~2x faster, less accurate */
    bool denoise;           /* noise suppression before decoding (denoise.h) */
} ps_engine_config_t;

/* Loads the pool. Returns NULL with a message in err on failure. */
ps_engine_t *ps_engine_new(const ps_engine_config_t *cfg, char *err, size_t errlen);
void ps_engine_destroy(ps_engine_t **self_p);

int ps_engine_free_decoders(const ps_engine_t *e);
int ps_engine_size(const ps_engine_t *e);

/* A caller's channel: PocketSphinx normalises cepstra by a running mean
 * that it carries from one utterance to the next. Decoders are shared by
 * callers, so each caller keeps its own mean and lends it to the decoder for
 * its utterances; otherwise one caller's microphone and noise would skew
 * the start of another's utterance. Zeroed = not yet known (the model's
 * initial mean is used). */
#define PS_CMN_MAX 64
typedef struct {
    float mean[PS_CMN_MAX];
    int len;                /* 0: not yet known */
    int heard;              /* frames of this caller decoded (capped): the mean's weight */
} ps_channel_t;

/* Takes a free decoder and starts an utterance on it with the caller's
 * channel (may be NULL: the model's initial mean); NULL when none is free
 * (try again when one is released). */
ps_utt_t *ps_utt_start(ps_engine_t *e, const ps_channel_t *ch);

/* The look-ahead: an utterance's first PS_LOOKAHEAD_MS of audio are held
 * before decoding begins, and their cepstral mean joins the caller's to
 * normalise the utterance from its first frame (the acoustic model was
 * trained with each utterance normalised by its own mean; a running mean
 * lags a new caller or a new noise by utterances: docs/stt.md). Partials
 * start that much later; decoding catches up at once (~0.06 s of CPU per
 * second of audio), so the final after the end of speech is not delayed,
 * unless the utterance is shorter than the look-ahead. */
#define PS_LOOKAHEAD_MS 1000

/* Feeds 16 kHz mono s16 samples. Returns 0 or -1 (decoder error). */
int ps_utt_feed(ps_utt_t *u, const int16_t *samples, size_t n);

/* The best hypothesis so far ("" when none); valid until the next call. */
const char *ps_utt_partial(ps_utt_t *u);

/* Ends the utterance: the final hypothesis is copied into text (always
 * terminated), the caller's channel is updated (ch may be NULL), the decoder
 * goes back to the pool and *u becomes NULL. Returns 0 or -1. */
int ps_utt_finish(ps_utt_t **u, char *text, size_t size, ps_channel_t *ch);

/* Gives the decoder back without a result (session ended, interrupt). */
void ps_utt_abandon(ps_utt_t **u);

#endif
