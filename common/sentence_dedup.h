/* sentence_dedup — TTS audio that arrives twice is played once.
 *
 * When a TTS worker dies in the middle of a sentence, the worker that takes
 * the session over speaks that sentence again from its start
 * (docs/workers.md). TTS audio carries its sentence (1 + index in the turn)
 * and the offset of its first frame in the sentence's synthesised audio, so
 * the consumer (the codec) keeps, per session, how far it has received and
 * skips the frames it already has. The engines are deterministic for a
 * given text and voice, so the redone audio lines up with the first.
 * Audio without a sentence (0: a greeting, an echo, an older TTS) passes. */
#ifndef VOXMESH_SENTENCE_DEDUP_H
#define VOXMESH_SENTENCE_DEDUP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t turn;       /* the latest turn seen */
    uint32_t sentence;   /* its latest sentence */
    uint64_t end;        /* frames of that sentence received (offset of the next new frame) */
} sentence_dedup_t;

/* How many of the chunk's n frames, from its start, were received before
 * (n: all of them: drop the chunk). Notes the rest as received. */
static inline size_t sentence_dedup_skip(sentence_dedup_t *d, uint64_t turn, uint32_t sentence, uint64_t offset,
                                         size_t n)
{
    if (!turn || !sentence || turn < d->turn) return 0;
    if (turn > d->turn || sentence > d->sentence) {
        d->turn = turn;
        d->sentence = sentence;
        d->end = offset + n;
        return 0;
    }
    if (sentence < d->sentence || offset + n <= d->end) return n;
    size_t skip = offset < d->end ? (size_t)(d->end - offset) : 0;
    d->end = offset + n;
    return skip;
}

#endif
