/* sentence_dedup_test — a sentence said again from its start by the worker
 * that took a session over plays once: the overlap is skipped, the rest
 * passes; other audio is never touched. */
#include "sentence_dedup.h"
#include "test.h"

int main(void)
{
    sentence_dedup_t d = { 0, 0, 0 };
    CHECK(sentence_dedup_skip(&d, 0, 0, 0, 160) == 0, "audio without a turn passes");
    CHECK(sentence_dedup_skip(&d, 3, 0, 0, 160) == 0, "audio without a sentence passes");
    /* worker A: sentence 1 in three chunks, then sentence 2's first chunk */
    CHECK(sentence_dedup_skip(&d, 3, 1, 0, 1600) == 0, "turn 3 sentence 1 [0,1600) is new");
    CHECK(sentence_dedup_skip(&d, 3, 1, 1600, 1600) == 0, "[1600,3200) is new");
    CHECK(sentence_dedup_skip(&d, 3, 2, 0, 1600) == 0, "sentence 2 [0,1600) is new");
    /* A dies; B redoes sentence 2 from its start (and, late, a repeat of 1) */
    CHECK(sentence_dedup_skip(&d, 3, 1, 0, 1600) == 1600, "a repeat of sentence 1 is dropped whole");
    CHECK(sentence_dedup_skip(&d, 3, 2, 0, 1000) == 1000, "B's [0,1000) of sentence 2: all received before");
    size_t k = sentence_dedup_skip(&d, 3, 2, 1000, 1000);
    CHECK(k == 600, "B's [1000,2000): the first 600 frames were received, the rest is new (skip %zu)", k);
    CHECK(sentence_dedup_skip(&d, 3, 2, 2000, 1000) == 0, "B's [2000,3000) is new");
    CHECK(sentence_dedup_skip(&d, 3, 2, 3500, 500) == 0, "a gap (trimmed silence) is no repeat");
    CHECK(sentence_dedup_skip(&d, 3, 3, 0, 800) == 0, "sentence 3 is new");
    /* the next reply starts over */
    CHECK(sentence_dedup_skip(&d, 4, 1, 0, 800) == 0, "turn 4 sentence 1 is new");
    CHECK(sentence_dedup_skip(&d, 3, 3, 0, 800) == 0, "audio of an older turn is left to the turn cut");
    CHECK(sentence_dedup_skip(&d, 4, 1, 0, 800) == 800, "turn 4 sentence 1 again is dropped");
    return TEST_DONE();
}
