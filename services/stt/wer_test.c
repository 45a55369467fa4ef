/* wer_test — accuracy of the offline recogniser, fed directly: sentences a
 * caller says to the agent, spoken at test time by flite (slt) and
 * espeak-ng (en-us, klatt voice), clean and with pink noise at 10 dB SNR,
 * decoded by the ps_engine pool with the domain language model the agent
 * graph uses (built from deploy/stt/agent.txt). Asserts a word error rate
 * within a guard (the 15 % target is not met: see below and docs/stt.md),
 * near-perfect clean flite speech, and that partials grow while the
 * utterance is fed in 100 ms pieces, as the daemon feeds it.
 *
 * Also the WER arithmetic itself, and the language-model builder's errors.
 * The figures (per condition) are printed for the issue notes; tests/stt.sh
 * measures the same corpus through the whole mesh. */
#include "lm_build.h"
#include "ps_engine.h"
#include "wer.h"
#include "speech_level.h"
#include "log.h"
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MODEL "/usr/share/pocketsphinx/model/en-us"

/* tests/stt_corpus.txt (or $WER_CORPUS: services/stt/tune_corpus.txt is
 * the held-out set settings are tuned on): one sentence per line, '#'
 * comments. */
#define NSENT_MAX 64
static char s_sentences[NSENT_MAX][256];
static size_t s_nsent;

static void s_load_corpus(void)
{
    const char *path = getenv("WER_CORPUS") ? getenv("WER_CORPUS") : "tests/stt_corpus.txt";
    FILE *f = fopen(path, "r");
    char line[256];
    while (f && s_nsent < NSENT_MAX && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (line[0] && line[0] != '#') snprintf(s_sentences[s_nsent++], sizeof s_sentences[0], "%s", line);
    }
    if (f) fclose(f);
}
#define NSENT s_nsent

static int16_t *s_speak(const char *engine, const char *text, const char *dir, size_t *n)
{
    char wav[512], raw[512], cmd[2048];
    snprintf(wav, sizeof wav, "%s/s.wav", dir);
    snprintf(raw, sizeof raw, "%s/s.raw", dir);
    if (!strcmp(engine, "flite")) snprintf(cmd, sizeof cmd, "flite -voice slt -t \"%s\" -o %s", text, wav);
    else snprintf(cmd, sizeof cmd, "espeak-ng -v en-us+klatt -s 150 -w %s \"%s\"", wav, text);
    if (system(cmd) != 0) return NULL;
    /* 300 ms of silence either side, as the VAD's pre-roll and hangover give. */
    snprintf(cmd, sizeof cmd, "sox -R %s -r 16000 -c 1 -b 16 -e signed-integer -t raw %s pad 0.3 0.3", wav, raw);
    if (system(cmd) != 0) return NULL;
    FILE *f = fopen(raw, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    int16_t *x = malloc((size_t)bytes);
    *n = x ? fread(x, 2, (size_t)bytes / 2, f) : 0;
    fclose(f);
    return x;
}

/* Pink noise 10 dB below the speech's active level (ITU-T P.56,
 * common/speech_level.h), a draw of its own for each sentence, from seed
 * 12345 + its index ($WER_NOISE_SEED for another base): room and crowd
 * noise are closer to pink than to white. (One draw for all sentences, as
 * before, made the figure hang on that draw: 32-43 % for flite in noise
 * over three seeds, docs/stt.md.) */
static void s_add_noise(int16_t *x, size_t n, double snr_db, uint32_t piece)
{
    uint32_t seed = (getenv("WER_NOISE_SEED") ? (uint32_t)strtoul(getenv("WER_NOISE_SEED"), NULL, 10) : 12345) + piece;
    speech_level_add_pink(x, n, 16000, snr_db, seed);
}

static void s_wer_arithmetic(void)
{
    size_t e = 0, w = 0;
    CHECK(wer_add("Hello, world!", "hello world", &e, &w) == 0 && w == 2, "punctuation and case do not count");
    CHECK(wer_add("the quick brown fox", "the quick fox", NULL, NULL) == 1, "a deletion is one error");
    CHECK(wer_add("the quick brown fox", "a quick brown box jumps", NULL, NULL) == 3,
          "two substitutions and an insertion are three");
    CHECK(wer_add("", "noise", NULL, NULL) == 1 && wer_add("one two", "", NULL, NULL) == 2, "empty sides");
}

static void s_lm_errors(const char *dir)
{
    char err[512], path[512], out[512];
    size_t unknown = 0;
    snprintf(out, sizeof out, "%s/x.arpa", dir);
    CHECK(lm_build_arpa("/nonexistent/agent.txt", MODEL "/cmudict-en-us.dict", out, NULL, err, sizeof err) < 0
              && strstr(err, "/nonexistent/agent.txt"), "a missing sentence file is named: %s", err);
    snprintf(path, sizeof path, "%s/none.txt", dir);
    FILE *f = fopen(path, "w");
    fputs("# only a comment\nzzqx vvqj\n", f);
    fclose(f);
    CHECK(lm_build_arpa(path, MODEL "/cmudict-en-us.dict", out, &unknown, err, sizeof err) < 0 && unknown == 2,
          "a file with no known word is refused: %s", err);
}

int main(void)
{
    log_init("wer_test", LOG_LEVEL_WARN, false);
    char dir[] = "/tmp/voxmesh-wer-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    s_wer_arithmetic();
    s_lm_errors(dir);
    s_load_corpus();
    CHECK(s_nsent >= 10, "corpus: %zu sentences from tests/stt_corpus.txt", s_nsent);

    char lm[600], err[512];
    snprintf(lm, sizeof lm, "%s/agent.arpa", dir);
    size_t unknown = 0;
    int nlm = lm_build_arpa("deploy/stt/agent.txt", MODEL "/cmudict-en-us.dict", lm, &unknown, err, sizeof err);
    CHECK(nlm > 100, "domain language model from deploy/stt/agent.txt: %d sentences (%zu unknown words left out)%s%s",
          nlm, unknown, nlm < 0 ? ": " : "", nlm < 0 ? err : "");
    ps_engine_config_t cfg = { MODEL "/en-us", MODEL "/cmudict-en-us.dict", lm, 2, false,
                               !getenv("WER_TEST_NO_DENOISE") };
    ps_engine_t *e = ps_engine_new(&cfg, err, sizeof err);
    CHECK(e && ps_engine_size(e) == 2, "two decoders loaded%s%s", e ? "" : ": ", e ? "" : err);
    if (!e) return TEST_DONE();

    static const char *engines[] = { "flite", "espeak-ng" };
    size_t all_err = 0, all_words = 0;
    double clean_flite_wer = 100;
    int grew = 0, partials_seen = 0;
    size_t first_partial_min = (size_t)-1;   /* samples fed before any partial, the fewest over the utterances */
    for (int en = 0; en < 2; en++) {
        for (int noisy = 0; noisy < 2; noisy++) {
            size_t errs = 0, words = 0;
            ps_channel_t channel = { .len = 0 };   /* each condition is one caller */
            int first_heard = -1;
            for (size_t i = 0; i < NSENT; i++) {
                size_t n = 0;
                int16_t *x = s_speak(engines[en], s_sentences[i], dir, &n);
                if (!x) {
                    CHECK(0, "cannot synthesise \"%s\" with %s", s_sentences[i], engines[en]);
                    continue;
                }
                if (noisy) s_add_noise(x, n, 10.0, (uint32_t)i);
                /* Two utterances at once, like two callers: the pool lends both decoders. */
                ps_utt_t *u = ps_utt_start(e, &channel), *other = ps_utt_start(e, NULL);
                if (i == 0 && en == 0 && !noisy)
                    CHECK(u && other && !ps_utt_start(e, NULL), "two utterances take both decoders; a third waits");
                ps_utt_abandon(&other);
                size_t last_len = 0;
                int changes = 0;
                for (size_t at = 0; u && at < n; at += 1600) {
                    ps_utt_feed(u, x + at, n - at < 1600 ? n - at : 1600);
                    size_t len = strlen(ps_utt_partial(u));
                    size_t fed = at + (n - at < 1600 ? n - at : 1600);
                    if (len && !last_len && changes == 0 && fed < first_partial_min) first_partial_min = fed;
                    if (len > last_len) changes++;
                    last_len = len;
                }
                char text[1024] = "";
                if (u) ps_utt_finish(&u, text, sizeof text, &channel);
                if (first_heard < 0) first_heard = channel.heard;
                size_t d = wer_add(s_sentences[i], text, &errs, &words);
                if (changes >= 2) grew++;
                partials_seen++;
                if (d) printf("#   %s%s: \"%s\" -> \"%s\" (%zu errors)\n", engines[en], noisy ? "+noise" : "",
                              s_sentences[i], text, d);
                free(x);
            }
            if (en == 0 && !noisy)
                CHECK(first_heard > 50 && first_heard < 500 && channel.heard == 500,
                      "the caller's cepstral mean weighs what was heard of them: %d frames after the first utterance, "
                      "%d (the window) at the end", first_heard, channel.heard);
            printf("# WER %s %s: %.1f %% (%zu errors / %zu words)\n", engines[en], noisy ? "10 dB pink noise" : "clean",
                   100.0 * (double)errs / (double)(words ? words : 1), errs, words);
            all_err += errs;
            all_words += words;
            if (en == 0 && !noisy) clean_flite_wer = 100.0 * (double)errs / (double)(words ? words : 1);
        }
    }
    double wer = 100.0 * (double)all_err / (double)(all_words ? all_words : 1);
    printf("WER_DIRECT=%.1f\n", wer);
    /* The target is 15 % over this corpus. PocketSphinx measures 13.5 %
     * here; with other noise draws (WER_NOISE_SEED=777, 999) 16.4 and
     * 14.9 %: flite in 10 dB pink noise is the weak case and one of its
     * utterances is 1.5 points (docs/stt.md). The corpus is repeatable
     * (fixed seeds, sox -R), so this is not a flaky bound, but it is a
     * tight one. Clean flite speech must stay near-perfect. */
    CHECK(all_words > 0 && wer <= 15.0, "word error rate, fed directly, over %zu words (flite + espeak-ng, clean + 10 dB "
          "noise): %.1f %% (target <= 15)", all_words, wer);
    CHECK(clean_flite_wer <= 8.0, "clean flite speech: %.1f %% (<= 8)", clean_flite_wer);
    CHECK(grew >= partials_seen * 3 / 4, "partial hypotheses grow while the utterance is fed (%d of %d utterances)",
          grew, partials_seen);
    CHECK(first_partial_min >= PS_LOOKAHEAD_MS * 16 && first_partial_min != (size_t)-1,
          "decoding waits for the look-ahead: the first partial after %zu ms of audio at the earliest (look-ahead %d ms)",
          first_partial_min / 16, PS_LOOKAHEAD_MS);
    CHECK(ps_engine_free_decoders(e) == 2, "every decoder is back in the pool");
    ps_engine_destroy(&e);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return TEST_DONE();
}
