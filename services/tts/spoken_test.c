/* spoken_test — the estimate of what the caller heard at a cut: whole
 * sentences whose audio had played, then the words of the one playing in
 * proportion to its elapsed audio; pauses in synthesis are pauses in
 * playback; a sentence still being made is measured by its characters. */
#include "spoken.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

#define RATE 1000                 /* 1 frame = 1 ms: easy arithmetic */
#define MS 1000LL                 /* µs */

static int s_heard_is(tts_spoken_t *s, int64_t t, double fpc, const char *want)
{
    char *h = tts_spoken_heard(s, t, fpc);
    int ok = h && !strcmp(h, want);
    if (!ok) printf("     heard at %lld ms: \"%s\", want \"%s\"\n", (long long)(t / MS), h ? h : "(null)", want);
    free(h);
    return ok;
}

int main(void)
{
    tts_spoken_t *s = tts_spoken_new(RATE, 16);
    const int64_t t0 = 1000000 * MS;

    /* Two sentences, all audio published at t0 (faster than real time):
     * "Hello there." 1000 ms, then 10 words of 4 characters each + spaces
     * over 2000 ms. */
    const char *s2 = "aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj";
    tts_spoken_begin(s, "Hello there.");
    tts_spoken_audio(s, 600, t0);
    tts_spoken_audio(s, 400, t0);
    tts_spoken_end(s);
    tts_spoken_begin(s, s2);
    tts_spoken_audio(s, 2000, t0);
    tts_spoken_end(s);
    CHECK(tts_spoken_frames(s) == 3000 && tts_spoken_play_end(s) == t0 + 3000 * MS,
          "3 s published at once plays until t0 + 3 s");
    CHECK(tts_spoken_played(s, t0 - MS) == 0 && tts_spoken_played(s, t0 + 1500 * MS) == 1500
          && tts_spoken_played(s, t0 + 9000 * MS) == 3000, "played frames follow the wall clock from the first chunk");
    CHECK(s_heard_is(s, t0, 0, ""), "cut before anything played: nothing heard");
    CHECK(s_heard_is(s, t0 + 400 * MS, 0, "Hello"), "cut 0.4 s into \"Hello there.\": its first word");
    CHECK(s_heard_is(s, t0 + 999 * MS, 0, "Hello there."), "just before its end: all its words (middle rule)");
    CHECK(s_heard_is(s, t0 + 1000 * MS, 0, "Hello there."), "cut at the end of the first sentence: all of it");
    /* 49 characters over 2000 ms; word k (0-based) has its middle at
     * character 5k + 2, i.e. at 2000 * (5k + 2) / 49 ms. */
    CHECK(s_heard_is(s, t0 + 1000 * MS + 1000 * MS, 0, "Hello there. aaaa bbbb cccc dddd eeee"),
          "cut half-way through the second: its first five of ten words");
    CHECK(s_heard_is(s, t0 + 1000 * MS + 80 * MS, 0, "Hello there."), "before the middle of its first word: none");
    CHECK(s_heard_is(s, t0 + 1000 * MS + 90 * MS, 0, "Hello there. aaaa"), "after it: that word");
    CHECK(s_heard_is(s, t0 + 60000 * MS, 0, "Hello there. " "aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj"),
          "long after: the whole reply");

    /* A pause in synthesis is a pause in playback: 500 ms published at t0,
     * the next 500 ms only at t0 + 2 s (the caller heard silence between). */
    tts_spoken_reset(s);
    CHECK(tts_spoken_frames(s) == 0 && tts_spoken_play_end(s) == 0, "reset: a new turn");
    tts_spoken_begin(s, "one two three four");
    tts_spoken_audio(s, 500, t0);
    tts_spoken_audio(s, 500, t0 + 2000 * MS);
    tts_spoken_end(s);
    CHECK(tts_spoken_played(s, t0 + 1500 * MS) == 500, "during the underrun: still only the first 500 ms played");
    CHECK(tts_spoken_played(s, t0 + 2250 * MS) == 750, "after it: playback resumed when the audio came");
    CHECK(tts_spoken_play_end(s) == t0 + 2500 * MS, "and ends 500 ms after the late chunk");
    CHECK(s_heard_is(s, t0 + 1500 * MS, 0, "one two"), "cut in the pause: half the words");

    /* A chunk published while the audio before it plays is queued behind it. */
    tts_spoken_reset(s);
    tts_spoken_begin(s, "x");
    tts_spoken_audio(s, 1000, t0);
    tts_spoken_audio(s, 1000, t0 + 500 * MS);
    CHECK(tts_spoken_play_end(s) == t0 + 2000 * MS, "audio arriving while playing queues behind (ends at t0 + 2 s)");

    /* A piece still being synthesised at the cut: its length is estimated
     * from its characters (here 10 frames a character: 190 frames for 19
     * characters), or what was published if that is more. */
    tts_spoken_reset(s);
    tts_spoken_begin(s, "aaaa bbbb cccc dddd");          /* 19 characters */
    tts_spoken_audio(s, 100, t0);
    CHECK(s_heard_is(s, t0 + 100 * MS, 10.0, "aaaa bbbb"), "cut in an unfinished piece: words by its estimated length");
    CHECK(s_heard_is(s, t0 + 100 * MS, 1.0, "aaaa bbbb cccc dddd"),
          "an estimate shorter than what was published: the published length counts");

    /* A piece that failed (no audio) was not heard, and what follows it is. */
    tts_spoken_reset(s);
    tts_spoken_begin(s, "First.");
    tts_spoken_audio(s, 100, t0);
    tts_spoken_begin(s, "Failed.");
    tts_spoken_end(s);
    tts_spoken_begin(s, "Third.");
    tts_spoken_audio(s, 100, t0);
    tts_spoken_end(s);
    CHECK(s_heard_is(s, t0 + 300 * MS, 0, "First. Third."), "a failed piece is not in the heard text");

    /* UTF-8: characters, not bytes, set the proportion. */
    tts_spoken_reset(s);
    tts_spoken_begin(s, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9 abcd");   /* "éééé abcd": 9 characters */
    tts_spoken_audio(s, 900, t0);
    tts_spoken_end(s);
    CHECK(s_heard_is(s, t0 + 300 * MS, 0, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"),
          "multi-byte letters count as one character each");

    /* Bounded record. */
    tts_spoken_reset(s);
    int rc = 0;
    for (int i = 0; i < 17; i++) rc = tts_spoken_begin(s, "x");
    CHECK(rc < 0, "the 17th piece of a record of 16 is refused");
    tts_spoken_destroy(&s);
    CHECK(s == NULL, "destroy clears the pointer");
    return TEST_DONE();
}
