/* source_test — WAV of any rate/channels to 20 ms Opus packets or pcm16
 * frames, Ogg/Opus passed through packet for packet (or decoded), and the
 * errors for files that are not audio. */
#include "source.h"
#include "oggopus.h"
#include "opus_codec.h"
#include "pcm.h"
#include "test.h"
#include "wav.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char s_dir[] = "/tmp/source_test.XXXXXX";

static char *s_path(const char *name)
{
    static char buf[4][256];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 256, "%s/%s", s_dir, name);
    return p;
}

/* 1.01 s of a 300 Hz tone, stereo 44.1 kHz, silent second half. */
static void s_write_wav(const char *path)
{
    size_t n = 44541;
    pcm_t *p = pcm_new(44100, 2, PCM_S16, n);
    int16_t *x = pcm_data(p);
    for (size_t i = 0; i < n / 2; i++)
        x[2 * i] = x[2 * i + 1] = (int16_t)(10000 * sin(2 * M_PI * 300 * (double)i / 44100));
    wav_write_file(path, p);
    pcm_destroy(&p);
}

typedef struct {
    FILE *f;
} s_sink_t;

static int s_sink(void *arg, const uint8_t *data, size_t len)
{
    return fwrite(data, 1, len, ((s_sink_t *)arg)->f) == len ? 0 : -5;
}

/* An Ogg/Opus file of 25 packets of 40 ms each; keeps the packets. */
static void s_write_ogg(const char *path, uint8_t pk[25][400], size_t *len, int channels)
{
    opus_enc_config_t cfg;
    opus_enc_config_defaults(&cfg);
    cfg.frame_ms = 40;
    cfg.channels = channels;
    opus_enc_t *enc = opus_enc_new(&cfg);
    oggopus_writer_config_t wc;
    oggopus_writer_config_defaults(&wc);
    wc.channels = channels;
    s_sink_t sink = { fopen(path, "wb") };
    oggopus_writer_t *w = oggopus_writer_new(&wc, s_sink, &sink);
    int16_t pcm[2 * 1920];
    for (int i = 0; i < 25; i++) {
        for (int k = 0; k < 1920 * channels; k++)
            pcm[k] = (int16_t)(8000 * sin(2 * M_PI * 440 * (i * 1920 + k / channels) / 48000.0));
        int n = opus_enc_encode(enc, pcm, pk[i], 400);
        len[i] = (size_t)n;
        if (i < 24)
            oggopus_writer_write(w, pk[i], len[i]);
        else
            oggopus_writer_write_eos(w, pk[i], len[i], 0);
    }
    oggopus_writer_destroy(&w);
    opus_enc_destroy(&enc);
    fclose(sink.f);
}

int main(void)
{
    if (!mkdtemp(s_dir))
        return 1;
    char err[256];
    s_write_wav(s_path("in.wav"));

    source_t *s = source_new(s_path("in.wav"), SOURCE_OPUS, 48000, err, sizeof err);
    CHECK(s != NULL, "WAV 44.1 kHz stereo as Opus at 48 kHz");
    if (s) {
        CHECK(source_count(s) == 51, "1.01 s -> 51 packets of 20 ms (last padded): %zu", source_count(s));
        CHECK(source_duration_us(s) == 1020000, "duration 1.02 s");
        const source_frame_t *f = source_frame(s, 0);
        CHECK(f->samples48 == 960 && f->len > 0 && opus_packet_duration(f->data, f->len, 48000) == 960,
              "a packet is 20 ms of valid Opus (%zu bytes)", f->len);
        CHECK(source_frame(s, 10)->voiced && !source_frame(s, 45)->voiced, "voiced flags follow the audio");
        CHECK(source_channels(s) == 1 && source_preskip(s) == 312, "mono, pre-skip 312");
        size_t n;
        source_pcm(s, &n);
        CHECK(n == 48480, "the input at 48 kHz: %zu frames", n);
        CHECK(source_frame(s, 51) == NULL, "no packet past the end");
    }
    source_destroy(&s);
    CHECK(s == NULL, "destroy nulls");

    s = source_new(s_path("in.wav"), SOURCE_PCM16, 16000, err, sizeof err);
    CHECK(s && source_count(s) == 51, "WAV as pcm16 at 16 kHz: 51 frames");
    if (s) {
        const source_frame_t *f = source_frame(s, 5);
        CHECK(f->frames == 320 && f->len == 640, "320 samples, 640 bytes");
        CHECK(f->data[0] == (uint8_t)f->pcm[0] && f->data[1] == (uint8_t)((uint16_t)f->pcm[0] >> 8),
              "little-endian bytes");
        const source_frame_t *last = source_frame(s, 50);
        CHECK(last->pcm[319] == 0, "last frame padded with silence");
    }
    source_destroy(&s);

    uint8_t pk[25][400];
    size_t len[25];
    s_write_ogg(s_path("in.opus"), pk, len, 1);
    s = source_new(s_path("in.opus"), SOURCE_OPUS, 48000, err, sizeof err);
    CHECK(s && source_count(s) == 25, "Ogg/Opus: 25 packets %s", s ? "" : err);
    if (s) {
        bool same = true;
        for (int i = 0; i < 25; i++)
            same &= source_frame(s, (size_t)i)->len == len[i]
                    && !memcmp(source_frame(s, (size_t)i)->data, pk[i], len[i])
                    && source_frame(s, (size_t)i)->samples48 == 1920;
        CHECK(same, "packets passed through unchanged, 40 ms each");
        CHECK(source_duration_us(s) == 1000000, "paced by their durations: 1 s");
    }
    source_destroy(&s);
    s = source_new(s_path("in.opus"), SOURCE_PCM16, 48000, err, sizeof err);
    CHECK(s && source_count(s) == 50, "Ogg/Opus decoded to pcm16: 50 frames (1 s minus pre-skip, padded)");
    source_destroy(&s);

    s_write_ogg(s_path("stereo.opus"), pk, len, 2);
    s = source_new(s_path("stereo.opus"), SOURCE_OPUS, 48000, err, sizeof err);
    CHECK(s && source_count(s) == 50 && source_channels(s) == 1 && source_frame(s, 0)->samples48 == 960,
          "stereo Ogg/Opus: re-encoded to 50 mono packets of 20 ms");
    if (s)
        CHECK(opus_packet_duration(source_frame(s, 3)->data, source_frame(s, 3)->len, 48000) == 960,
              "valid Opus");
    source_destroy(&s);

    CHECK(!source_new(s_path("missing.wav"), SOURCE_OPUS, 48000, err, sizeof err)
          && strstr(err, "No such file"), "missing file: %s", err);
    FILE *f = fopen(s_path("junk.wav"), "wb");
    fputs("this is not audio at all", f);
    fclose(f);
    CHECK(!source_new(s_path("junk.wav"), SOURCE_OPUS, 48000, err, sizeof err)
          && strstr(err, "neither a WAV nor an Ogg/Opus"), "junk: %s", err);
    f = fopen(s_path("bad.wav"), "wb");
    fwrite("RIFF\x24\x00\x00\x00WAVEfmt ", 1, 16, f);
    fclose(f);
    CHECK(!source_new(s_path("bad.wav"), SOURCE_OPUS, 48000, err, sizeof err), "truncated WAV: %s", err);
    f = fopen(s_path("bad.opus"), "wb");
    fwrite("OggS\0\2garbage garbage garbage garbage", 1, 36, f);
    fclose(f);
    CHECK(!source_new(s_path("bad.opus"), SOURCE_OPUS, 48000, err, sizeof err), "broken Ogg: %s", err);
    pcm_t *empty = pcm_new(16000, 1, PCM_S16, 0);
    wav_write_file(s_path("empty.wav"), empty);
    pcm_destroy(&empty);
    CHECK(!source_new(s_path("empty.wav"), SOURCE_OPUS, 48000, err, sizeof err), "empty WAV: %s", err);

    const char *names[] = { "in.wav", "in.opus", "stereo.opus", "junk.wav", "bad.wav", "bad.opus", "empty.wav" };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        unlink(s_path(names[i]));
    rmdir(s_dir);
    return TEST_DONE();
}
