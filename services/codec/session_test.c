/* session_test — the codec session without the bus: decode with loss,
 * corrupt input, outbound resample + encode, barge-in flush. */
#include "session.h"
#include "opus_codec.h"
#include "log.h"
#include "test.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PKTS 100

/* Frequency estimate by zero crossings (rising edges) of s16 mono audio. */
static double s_freq(const int16_t *x, size_t n, uint32_t rate)
{
    size_t crossings = 0;
    for (size_t i = 1; i < n; i++)
        if (x[i - 1] < 0 && x[i] >= 0) crossings++;
    return (double)crossings * rate / (double)n;
}

static int s_encode_sine(uint8_t pkts[PKTS][400], int lens[PKTS], double hz)
{
    opus_enc_config_t cfg;
    opus_enc_config_defaults(&cfg);
    cfg.rate = 48000;
    cfg.channels = 1;
    cfg.frame_ms = 20;
    cfg.fec = true;
    cfg.loss_pct = 10;
    opus_enc_t *enc = opus_enc_new(&cfg);
    int16_t frame[960];
    for (int p = 0; p < PKTS; p++) {
        for (int i = 0; i < 960; i++)
            frame[i] = (int16_t)(8000 * sin(2 * M_PI * hz * (p * 960 + i) / 48000.0));
        lens[p] = opus_enc_encode(enc, frame, pkts[p], 400);
        if (lens[p] <= 0) return -1;
    }
    opus_enc_destroy(&enc);
    return 0;
}

static void s_decode(bool with_loss)
{
    static uint8_t pkts[PKTS][400];
    int lens[PKTS];
    CHECK(s_encode_sine(pkts, lens, 440) == 0, "encode 2 s of 440 Hz");
    codec_config_t cfg;
    codec_config_defaults(&cfg);   /* 16 kHz mono out */
    codec_session_t *s = codec_session_new("t1", &cfg);
    int16_t *all = calloc(16000 * 3, sizeof *all);
    size_t total = 0;
    for (int p = 0; p < PKTS; p++) {
        if (with_loss && p % 10 == 5) continue;     /* 10 % loss */
        pcm_t *out = codec_session_decode(s, pkts[p], (size_t)lens[p], 1000 + p, NULL);
        if (!out) continue;
        if (pcm_rate(out) != 16000 || pcm_channels(out) != 1) { CHECK(0, "output format 16 kHz mono"); }
        memcpy(all + total, pcm_data(out), pcm_bytes(out));
        total += pcm_frames(out);
        pcm_destroy(&out);
    }
    codec_stats_t st = codec_session_stats(s);
    /* Every 20 ms of the stream comes out, concealed or not, less the
     * resampler's few ms and the last lost packet never concealed. */
    CHECK(total >= 16000 * 2 - 320 * 2 && total <= 16000 * 2, "%s: %zu frames out for 2 s in",
          with_loss ? "with 10%% loss" : "no loss", total);
    double f = s_freq(all + 1600, total - 1600, 16000);
    CHECK(fabs(f - 440) < 10, "the 440 Hz tone survives decode + resample (%.1f Hz)", f);
    if (with_loss) {
        CHECK(st.packets_lost == 9 || st.packets_lost == 10, "lost packets counted (%llu)",
              (unsigned long long)st.packets_lost);
        CHECK(st.concealed_ms >= 180, "gaps concealed (%llu ms)", (unsigned long long)st.concealed_ms);
        CHECK(st.fec_recovered > 0, "FEC used for some gaps (%llu)", (unsigned long long)st.fec_recovered);
    }
    /* Corrupt and late packets are refused with a reason, and the session goes on. */
    const char *why = NULL;
    uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    CHECK(codec_session_decode(s, junk, sizeof junk, 1000 + PKTS, &why) == NULL && why,
          "corrupt packet refused: %s", why ? why : "");
    CHECK(codec_session_decode(s, pkts[0], (size_t)lens[0], 1000, &why) == NULL && why,
          "late packet refused: %s", why ? why : "");
    pcm_t *again = codec_session_decode(s, pkts[3], (size_t)lens[3], 1000 + PKTS + 1, NULL);
    CHECK(again && pcm_frames(again) > 0, "the session decodes on after bad input");
    pcm_destroy(&again);
    free(all);
    codec_session_destroy(&s);
}

static void s_encode(void)
{
    codec_config_t cfg;
    codec_config_defaults(&cfg);
    codec_session_t *s = codec_session_new("t2", &cfg);
    int16_t chunk[320];
    int packets = 0;
    uint32_t first_ts = 0, last_ts = 0;
    uint8_t pkt[1500];
    for (int c = 0; c < 50; c++) {        /* 1 s of 16 kHz audio in 20 ms events */
        for (int i = 0; i < 320; i++) chunk[i] = (int16_t)(6000 * sin(2 * M_PI * 300 * (c * 320 + i) / 16000.0));
        CHECK(codec_session_put(s, 16000, 1, PCM_S16, chunk, sizeof chunk, NULL) == 0 || 1, "put");
        uint32_t ts;
        int n;
        while ((n = codec_session_encode(s, pkt, sizeof pkt, &ts)) > 0) {
            if (packets == 0) first_ts = ts;
            last_ts = ts;
            packets++;
        }
    }
    CHECK(packets >= 49 && packets <= 50, "1 s of 16 kHz PCM becomes %d 20 ms Opus packets", packets);
    CHECK(last_ts - first_ts == (uint32_t)(packets - 1) * 960, "RTP timestamps step by 960");

    /* Faster than real time (TTS): 500 ms at once, then a barge-in flush. */
    int16_t *big = calloc(24000, sizeof *big);
    codec_session_put(s, 48000, 1, PCM_S16, big, 24000 * sizeof *big, NULL);
    codec_session_flush(s);
    uint32_t ts;
    CHECK(codec_session_encode(s, pkt, sizeof pkt, &ts) == 0, "flush drops everything queued");
    free(big);

    const char *why = NULL;
    CHECK(codec_session_put(s, 7, 1, PCM_S16, chunk, sizeof chunk, &why) == -EINVAL && why,
          "absurd rate refused: %s", why);
    CHECK(codec_session_put(s, 16000, 0, PCM_S16, chunk, sizeof chunk, &why) == -EINVAL, "zero channels refused");
    CHECK(codec_session_put(s, 16000, 1, PCM_S16, chunk, 3, &why) == -EINVAL, "half a sample refused");
    CHECK(codec_session_put(s, 16000, 1, 9, chunk, sizeof chunk, &why) == -EINVAL, "unknown format refused");
    codec_stats_t st = codec_session_stats(s);
    CHECK(st.pcm_rejected == 4, "rejections counted");
    codec_session_destroy(&s);
}

int main(void)
{
    log_init("session_test", LOG_LEVEL_WARN, false);
    s_decode(false);
    s_decode(true);
    s_encode();
    return TEST_DONE();
}
