/* codec_bench — what the codec service costs per 20 ms frame, beside
 * libopus alone (the opusdec/opusenc level) on the same audio, same run.
 * Figures are per core: RTF = audio seconds processed per CPU second. */
#include "../services/codec/session.h"
#include "opus_codec.h"
#include "log.h"

#include <math.h>
#include <opus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SECONDS 10
#define FRAMES (SECONDS * 50)
#define ROUNDS 5

static double s_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Speech-like test audio: a gliding harmonic tone with noise bursts. */
static void s_audio(int16_t *x, int n, int rate)
{
    unsigned seed = 1;
    for (int i = 0; i < n; i++) {
        double t = (double)i / rate, f0 = 120 + 40 * sin(t * 3);
        double v = 0;
        for (int h = 1; h <= 8; h++) v += sin(2 * M_PI * f0 * h * t) / h;
        seed = seed * 1103515245 + 12345;
        v = v * 0.2 * (0.5 + 0.5 * sin(t * 5)) + ((seed >> 16) / 65536.0 - 0.5) * 0.02;
        x[i] = (int16_t)(v * 20000);
    }
}

static void s_line(const char *what, double cpu, double base)
{
    double us = cpu / FRAMES * 1e6;
    printf("%-44s %8.1f us %9.0fx", what, us, SECONDS / cpu);
    if (base > 0) printf("   %.2fx libopus", cpu / base);
    printf("\n");
}

int main(void)
{
    log_init("codec_bench", LOG_LEVEL_WARN, false);
    int16_t *pcm48 = malloc(sizeof(int16_t) * 48000 * SECONDS);
    int16_t *pcm16 = malloc(sizeof(int16_t) * 16000 * SECONDS);
    s_audio(pcm48, 48000 * SECONDS, 48000);
    s_audio(pcm16, 16000 * SECONDS, 16000);
    static uint8_t pkts[FRAMES][400];
    int lens[FRAMES];
    int err;
    OpusEncoder *raw_enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
    opus_encoder_ctl(raw_enc, OPUS_SET_BITRATE(32000));
    opus_encoder_ctl(raw_enc, OPUS_SET_INBAND_FEC(1));
    opus_encoder_ctl(raw_enc, OPUS_SET_PACKET_LOSS_PERC(5));
    opus_encoder_ctl(raw_enc, OPUS_SET_COMPLEXITY(5));   /* as the codec service's default */
    double best_enc_raw = 1e9, best_dec_raw = 1e9, best_in = 1e9, best_out = 1e9;
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = s_cpu();
        for (int f = 0; f < FRAMES; f++) lens[f] = opus_encode(raw_enc, pcm48 + f * 960, 960, pkts[f], 400);
        double t = s_cpu() - t0;
        if (t < best_enc_raw) best_enc_raw = t;
    }
    int16_t out[5760];
    for (int r = 0; r < ROUNDS; r++) {
        OpusDecoder *dec = opus_decoder_create(48000, 1, &err);
        double t0 = s_cpu();
        long total = 0;
        for (int f = 0; f < FRAMES; f++) total += opus_decode(dec, pkts[f], lens[f], out, 5760, 0);
        double t = s_cpu() - t0;
        if (total != (long)FRAMES * 960) fprintf(stderr, "decode produced %ld samples\n", total);
        if (t < best_dec_raw) best_dec_raw = t;
        opus_decoder_destroy(dec);
    }
    codec_config_t cfg;
    codec_config_defaults(&cfg);          /* 16 kHz mono out, 32 kbit/s, FEC */
    for (int r = 0; r < ROUNDS; r++) {
        codec_session_t *s = codec_session_new("bench", &cfg);
        double t0 = s_cpu();
        for (int f = 0; f < FRAMES; f++) {
            pcm_t *p = codec_session_decode(s, pkts[f], (size_t)lens[f], (uint32_t)f, NULL);
            pcm_destroy(&p);
        }
        double t = s_cpu() - t0;
        if (t < best_in) best_in = t;
        codec_session_destroy(&s);
    }
    uint8_t pkt[1500];
    for (int r = 0; r < ROUNDS; r++) {
        codec_session_t *s = codec_session_new("bench", &cfg);
        double t0 = s_cpu();
        for (int f = 0; f < FRAMES; f++) {
            codec_session_put(s, 16000, 1, PCM_S16, pcm16 + f * 320, 640, NULL);
            uint32_t ts;
            while (codec_session_encode(s, pkt, sizeof pkt, &ts) > 0) {}
        }
        double t = s_cpu() - t0;
        if (t < best_out) best_out = t;
        codec_session_destroy(&s);
    }
    printf("cost per 20 ms frame (%d s of audio, best of %d); RTF per core = audio s / CPU s\n", SECONDS, ROUNDS);
    printf("%-44s %11s %10s\n", "", "CPU/frame", "RTF");
    s_line("libopus decode 48 kHz (opusdec level)", best_dec_raw, 0);
    s_line("codec inbound: decode + resample to 16 kHz", best_in, best_dec_raw);
    s_line("libopus encode 48k, 32 kbit/s, complexity 5", best_enc_raw, 0);
    s_line("codec outbound: 16 kHz -> 48 kHz + encode", best_out, best_enc_raw);
    printf("sessions one core could carry both ways: ~%.0f\n", SECONDS / (best_in + best_out));
    opus_encoder_destroy(raw_enc);
    free(pcm48);
    free(pcm16);
    return 0;
}
