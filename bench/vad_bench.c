/* vad_bench — VAD cost per 10 ms frame (detector + turn logic), and the
 * whole per-session glue fed 20 ms chunks at 48 kHz (resample included),
 * beside a plain energy detector as the floor. RTF per core. */
#include "../services/vad/session.h"
#include "../services/vad/vad_detect.h"
#include "../services/vad/turn.h"
#include "log.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define SECONDS 20

static double s_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void s_audio(int16_t *x, int n, int rate)
{
    unsigned seed = 7;
    for (int i = 0; i < n; i++) {
        double t = (double)i / rate;
        bool talking = fmod(t, 3.0) < 1.8;
        double v = talking ? 0.3 * sin(2 * M_PI * (150 + 50 * sin(t * 4)) * t) * (1 + sin(t * 9)) : 0;
        seed = seed * 1103515245 + 12345;
        x[i] = (int16_t)((v + ((seed >> 16) / 65536.0 - 0.5) * 0.01) * 20000);
    }
}

static void s_nop_turn(void *a, const turn_event_t *e) { (void)a; (void)e; }
static void s_nop_seg(void *a, uint64_t u, const pcm_t *p, int64_t s, bool f) { (void)a; (void)u; (void)p; (void)s; (void)f; }

int main(void)
{
    log_init("vad_bench", LOG_LEVEL_WARN, false);
    int n16 = 16000 * SECONDS, n48 = 48000 * SECONDS;
    int16_t *a16 = malloc(sizeof(int16_t) * n16), *a48 = malloc(sizeof(int16_t) * n48);
    s_audio(a16, n16, 16000);
    s_audio(a48, n48, 48000);
    int frames = n16 / 160;

    double t0 = s_cpu();
    volatile double sink = 0;
    for (int f = 0; f < frames; f++) {
        double e = 0;
        for (int i = 0; i < 160; i++) e += (double)a16[f * 160 + i] * a16[f * 160 + i];
        sink += e > 1e6;
    }
    double energy = s_cpu() - t0;

    vad_detect_t *v = vad_detect_new(16000, 2);
    turn_config_t tc;
    turn_config_default(&tc);
    turn_t *turn = turn_new(&tc);
    t0 = s_cpu();
    for (int f = 0; f < frames; f++) {
        float p;
        int sp = vad_detect_process(v, a16 + f * 160, 160, &p);
        turn_result_t r;
        turn_process(turn, (int64_t)f * 10000, 10000, sp > 0, &r);
    }
    double det = s_cpu() - t0;
    vad_detect_destroy(&v);
    turn_destroy(&turn);

    vad_session_config_t cfg;
    vad_session_config_default(&cfg);
    vad_session_cb_t cb = { s_nop_turn, s_nop_seg, NULL };
    vad_session_t *s = vad_session_new(&cfg, &cb);
    t0 = s_cpu();
    for (int c = 0; c + 960 <= n48; c += 960) {
        pcm_t *p = pcm_from_bytes(48000, 1, PCM_S16, a48 + c, 960 * sizeof(int16_t));
        vad_session_feed(s, p);
        pcm_destroy(&p);
    }
    double sess = s_cpu() - t0;
    vad_session_destroy(&s);

    printf("VAD cost (%d s of audio); RTF per core = audio s / CPU s\n", SECONDS);
    printf("%-48s %8.2f us/10ms %10.0fx\n", "energy threshold (floor)", energy / frames * 1e6, SECONDS / energy);
    printf("%-48s %8.2f us/10ms %10.0fx   %.1fx the floor\n", "detector + turn logic (16 kHz)", det / frames * 1e6,
           SECONDS / det, det / energy);
    printf("%-48s %8.2f us/10ms %10.0fx\n", "session: 48 kHz chunks, resample, detect, turn", sess / frames * 1e6,
           SECONDS / sess);
    free(a16);
    free(a48);
    return (int)(sink < 0);
}
