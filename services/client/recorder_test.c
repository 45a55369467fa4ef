/* recorder_test — the reply timeline (placement, voiced times, stream
 * re-anchoring, WAV) and rtp_rx on it: RTP timestamps, loss concealment,
 * late and duplicate packets, a new SSRC, loss and jitter statistics. */
#include "recorder.h"
#include "rtp_rx.h"
#include "opus_codec.h"
#include "pcm.h"
#include "test.h"
#include "wav.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RATE 48000
#define FRAME 960

static void s_tone(int16_t *out, size_t n, size_t start, double amp)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (int16_t)(amp * 32767 * sin(2 * M_PI * 440 * (double)(start + i) / RATE));
}

static void s_test_timeline(void)
{
    int16_t loud[FRAME], quiet[FRAME];
    s_tone(loud, FRAME, 0, 0.5);
    s_tone(quiet, FRAME, 0, 0.001);    /* -66 dBFS: silence for us */
    CHECK(audio_voiced(loud, FRAME) && !audio_voiced(quiet, FRAME), "voiced threshold");

    int64_t t0 = 1000000;
    recorder_t *r = recorder_new(RATE, t0, RATE * 2);
    CHECK(recorder_pos(r, t0 + 20000) == FRAME && recorder_pos(r, t0 - 20000) == -FRAME,
          "time to position, before t0 negative");
    recorder_put(r, FRAME, quiet, FRAME, t0 + 30000, false);
    CHECK(recorder_first_voiced_us(r) == -1, "quiet audio is not voiced");
    recorder_put(r, 2 * FRAME, loud, FRAME, t0 + 50000, false);
    recorder_put(r, 3 * FRAME, loud, FRAME, t0 + 70000, true);     /* concealment */
    recorder_put(r, 4 * FRAME, loud, FRAME, t0 + 90000, false);
    CHECK(recorder_first_voiced_us(r) == t0 + 50000 && recorder_last_voiced_us(r) == t0 + 90000,
          "first and last voiced arrivals");
    CHECK(recorder_received_frames(r) == 3 * FRAME && recorder_concealed_frames(r) == FRAME,
          "concealment is recorded but not counted as received");
    CHECK(recorder_frames(r) == 5 * FRAME, "timeline is 100 ms long");
    recorder_put(r, -FRAME / 2, loud, FRAME, t0, false);          /* half before t0 */
    recorder_put(r, RATE * 2 - 10, loud, FRAME, t0, false);        /* runs past the limit */
    CHECK(recorder_frames(r) == RATE * 2, "clipped to the limit");

    char path[] = "/tmp/recorder_test.XXXXXX";
    close(mkstemp(path));
    CHECK(recorder_write_wav(r, path, 0) == 0, "WAV written");
    pcm_t *p = NULL;
    CHECK(wav_read_file(path, &p, NULL) == 0 && pcm_rate(p) == RATE && pcm_channels(p) == 1
          && pcm_frames(p) == RATE * 2, "WAV reads back: 48 kHz mono, 2 s");
    if (p) {
        const int16_t *x = pcm_data(p);
        CHECK(!memcmp(x + 2 * FRAME, loud, sizeof loud) && x[0] == loud[FRAME / 2] && x[FRAME / 2 - 1] == loud[FRAME - 1], "samples in place");
    }
    pcm_destroy(&p);
    recorder_destroy(&r);
    CHECK(r == NULL, "destroy nulls");

    /* streams: first chunk at its arrival, then contiguous; a pause re-anchors */
    r = recorder_new(RATE, t0, RATE * 10);
    recorder_put_stream(r, loud, FRAME, t0 + 40000);
    CHECK(recorder_frames(r) == 40 * 48 + FRAME, "first chunk at its arrival (40 ms)");
    recorder_put_stream(r, loud, FRAME, t0 + 61000);
    recorder_put_stream(r, loud, FRAME, t0 + 79000);
    CHECK(recorder_frames(r) == 40 * 48 + 3 * FRAME, "later chunks contiguous");
    CHECK(recorder_stream_jitter_ms(r) > 0 && recorder_stream_jitter_ms(r) < 1, "jitter %.3f ms",
          recorder_stream_jitter_ms(r));
    recorder_put_stream(r, loud, FRAME, t0 + 1000000);
    CHECK(recorder_frames(r) == RATE + FRAME, "after a pause: placed at its arrival (1 s)");
    recorder_destroy(&r);
    recorder_destroy(&r);
}

/* ---- rtp_rx ------------------------------------------------------------------ */

typedef struct {
    uint8_t data[400];
    size_t len;
} s_opus_t;

static void s_packet(rtp_packet_t *pkt, const s_opus_t *o, uint16_t seq, uint32_t ts, uint32_t ssrc)
{
    memset(pkt, 0, sizeof *pkt);
    pkt->version = 2;
    pkt->pt = 111;
    pkt->seq = seq;
    pkt->ts = ts;
    pkt->ssrc = ssrc;
    pkt->payload = o->data;
    pkt->payload_len = o->len;
}

static void s_test_rtp_rx(void)
{
    opus_enc_config_t cfg;
    opus_enc_config_defaults(&cfg);
    opus_enc_t *enc = opus_enc_new(&cfg);
    enum { N = 50 };
    s_opus_t *pk = calloc(N, sizeof *pk);
    int16_t pcm[FRAME];
    for (int i = 0; i < N; i++) {
        s_tone(pcm, FRAME, (size_t)i * FRAME, 0.3);
        int n = opus_enc_encode(enc, pcm, pk[i].data, sizeof pk[i].data);
        pk[i].len = n > 0 ? (size_t)n : 0;
    }
    opus_enc_destroy(&enc);

    int64_t t0 = 5000000;
    recorder_t *rec = recorder_new(RATE, t0, RATE * 10);
    rtp_rx_t *rx = rtp_rx_new(111, rec);
    CHECK(rtp_rx_stats(rx) == NULL, "no stats before the first packet");
    uint16_t seq0 = 65530;          /* wraps during the test */
    uint32_t ts0 = 4294967000u;     /* so does the timestamp */
    rtp_packet_t pkt;
    int64_t arrival = t0 + 100000;  /* the first packet arrives 100 ms after t0 */
    for (int i = 0; i < N; i++) {
        if (i == 10 || i == 11 || i == 30)
            continue;               /* lost */
        if (i == 20)
            continue;               /* late: delivered after 21 */
        s_packet(&pkt, &pk[i], (uint16_t)(seq0 + i), ts0 + (uint32_t)(i * FRAME), 0x1234);
        /* jittery arrivals, +-3 ms */
        rtp_rx_packet(rx, &pkt, arrival + i * 20000 + (i % 3 - 1) * 3000);
        if (i == 21) {
            s_packet(&pkt, &pk[20], (uint16_t)(seq0 + 20), ts0 + 20 * FRAME, 0x1234);
            rtp_rx_packet(rx, &pkt, arrival + 21 * 20000 + 5000);
            rtp_rx_packet(rx, &pkt, arrival + 21 * 20000 + 6000);   /* and a duplicate */
        }
    }
    pkt.pt = 96;
    rtp_rx_packet(rx, &pkt, arrival + N * 20000);
    rtp_rx_counts_t k;
    rtp_rx_counts(rx, &k);
    printf("     packets %llu decoded %llu concealed %llu fec %llu late %llu dup %llu other %llu\n",
           (unsigned long long)k.packets, (unsigned long long)k.decoded, (unsigned long long)k.concealed,
           (unsigned long long)k.fec, (unsigned long long)k.late, (unsigned long long)k.duplicates,
           (unsigned long long)k.other_pt);
    CHECK(k.decoded == N - 4 && k.concealed == 4, "46 decoded, 4 concealed (3 lost + 1 late)");
    CHECK(k.late == 1 && k.duplicates == 1 && k.other_pt == 1, "late, duplicate, other payload type counted");
    CHECK(k.fec >= 1, "FEC used when the next packet carried it (%llu)", (unsigned long long)k.fec);
    rtp_rx_stats_t *st = rtp_rx_stats(rx);
    CHECK(st && rtp_rx_stats_lost(st) == 3, "RTCP loss: %d", st ? rtp_rx_stats_lost(st) : -1);
    double jitter_ms = st ? rtp_rx_stats_jitter(st) / 48.0 : -1;
    CHECK(jitter_ms > 1 && jitter_ms < 6, "jitter %.2f ms", jitter_ms);
    /* placed by timestamp from the first arrival (97 ms) + 50 packets */
    CHECK(recorder_frames(rec) == (size_t)(97 * 48 + N * FRAME), "timeline %zu frames, expected %d",
          recorder_frames(rec), 97 * 48 + N * FRAME);
    CHECK(recorder_first_voiced_us(rec) == arrival - 3000, "first voiced = first arrival");
    CHECK(recorder_received_frames(rec) == (uint64_t)(N - 4) * FRAME, "received frames");

    /* a new SSRC re-anchors at its own arrival */
    s_packet(&pkt, &pk[0], 7, 1000, 0x9999);
    rtp_rx_packet(rx, &pkt, t0 + 3000000);
    CHECK(recorder_frames(rec) == (size_t)(3 * RATE + FRAME), "new source at 3 s");
    CHECK(rtp_rx_stats(rx)->ssrc == 0x9999, "stats follow the new source");
    rtp_rx_destroy(&rx);
    recorder_destroy(&rec);
    free(pk);
}

int main(void)
{
    s_test_timeline();
    s_test_rtp_rx();
    return TEST_DONE();
}
