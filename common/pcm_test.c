/* pcm_test — pcm_t, pcm_resampler_t and wav. Prints one line per check. */
#include "pcm.h"
#include "pcm_resampler.h"
#include "wav.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int s_failures;

#define CHECK(cond, ...) do { \
        bool ok_ = (cond); \
        printf("%s ", ok_ ? "ok  " : "FAIL"); \
        printf(__VA_ARGS__); \
        if (!ok_) { printf("   [%s:%d: %s]", __FILE__, __LINE__, #cond); s_failures++; } \
        printf("\n"); \
    } while (0)

/* ---- helpers ------------------------------------------------------------------- */

/* A sine of `frames` frames starting at frame `start` of an endless signal,
 * the same on every channel, so that chunks of it join seamlessly. */
static pcm_t *s_sine(uint32_t rate, uint32_t ch, pcm_format_t fmt, double freq, double amp,
                     size_t start, size_t frames)
{
    pcm_t *f = pcm_new(rate, ch, PCM_F32, frames);
    float *x = pcm_data(f);
    for (size_t i = 0; i < frames; i++)
        for (uint32_t c = 0; c < ch; c++)
            x[i * ch + c] = (float) (amp * sin(2 * M_PI * freq * (double) (start + i) / rate));
    if (fmt == PCM_F32) return f;
    pcm_t *out = pcm_convert(f, fmt);
    pcm_destroy(&f);
    return out;
}

/* Channel c of p as a malloc'd float array of pcm_frames(p). */
static float *s_channel(const pcm_t *p, uint32_t c)
{
    pcm_t *f = pcm_convert(p, PCM_F32);
    size_t n = pcm_frames(f), ch = pcm_channels(f);
    float *out = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) out[i] = ((float *) pcm_data(f))[i * ch + c];
    pcm_destroy(&f);
    return out;
}

/* Frequency of a sine from its rising zero crossings (linearly interpolated)
 * over the middle 80 % of channel 0, away from filter edges. */
static double s_frequency(const pcm_t *p)
{
    float *x = s_channel(p, 0);
    size_t n = pcm_frames(p), lo = n / 10, hi = n - n / 10;
    double first = -1, last = -1;
    int crossings = 0;
    for (size_t i = lo; i + 1 < hi; i++) {
        if (x[i] < 0 && x[i + 1] >= 0) {
            double t = (double) i + x[i] / (x[i] - x[i + 1]);
            if (first < 0) first = t;
            last = t;
            crossings++;
        }
    }
    free(x);
    if (crossings < 2) return 0;
    return (crossings - 1) * (double) pcm_rate(p) / (last - first);
}

/* Largest |x[i+1] - x[i]| over channel 0, from frame `from` on. */
static double s_max_jump(const pcm_t *p, size_t from)
{
    float *x = s_channel(p, 0);
    double m = 0;
    for (size_t i = from; i + 1 < pcm_frames(p); i++)
        if (fabs(x[i + 1] - x[i]) > m) m = fabs(x[i + 1] - x[i]);
    free(x);
    return m;
}

static double s_max_diff(const pcm_t *a, const pcm_t *b)
{
    pcm_t *fa = pcm_convert(a, PCM_F32), *fb = pcm_convert(b, PCM_F32);
    size_t n = pcm_frames(a) * pcm_channels(a);
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(((float *) pcm_data(fa))[i] - ((float *) pcm_data(fb))[i]);
        if (d > m) m = d;
    }
    pcm_destroy(&fa);
    pcm_destroy(&fb);
    return m;
}

static bool s_same(const pcm_t *a, const pcm_t *b)
{
    return pcm_rate(a) == pcm_rate(b) && pcm_channels(a) == pcm_channels(b)
        && pcm_format(a) == pcm_format(b) && pcm_frames(a) == pcm_frames(b)
        && !memcmp(pcm_data(a), pcm_data(b), pcm_bytes(a));
}

static double s_rms(const pcm_t *p)
{
    float *x = s_channel(p, 0);
    size_t n = pcm_frames(p), lo = n / 10, hi = n - n / 10;
    double e = 0;
    for (size_t i = lo; i < hi; i++) e += (double) x[i] * x[i];
    free(x);
    return hi > lo ? sqrt(e / (double) (hi - lo)) : 0;
}

/* ---- format, bytes, conversion -------------------------------------------------------- */

static void test_validation(void)
{
    CHECK(pcm_format_valid(16000, 1, PCM_S16), "16 kHz mono S16 is valid");
    CHECK(pcm_format_valid(8000, 8, PCM_F32) && pcm_format_valid(192000, 2, PCM_F32), "edges 8000/192000 Hz, 8 channels valid");
    CHECK(!pcm_format_valid(7999, 1, PCM_S16) && !pcm_format_valid(192001, 1, PCM_S16) && !pcm_format_valid(0, 1, PCM_S16),
          "rates 7999, 192001, 0 rejected");
    CHECK(!pcm_format_valid(16000, 0, PCM_S16) && !pcm_format_valid(16000, 9, PCM_S16), "0 and 9 channels rejected");
    CHECK(!pcm_format_valid(16000, 1, 0) && !pcm_format_valid(16000, 1, 3) && !pcm_format_valid(16000, 1, -1),
          "unknown sample formats rejected");
    const char *why = pcm_format_error(4000000000u, 1, PCM_S16);
    CHECK(why && strstr(why, "rate"), "error names the bad field: \"%s\"", why ? why : "(null)");
    errno = 0;
    CHECK(!pcm_new(16000, 99, PCM_S16, 10) && errno == EINVAL, "pcm_new rejects a bad format with EINVAL");
}

static void test_bytes(void)
{
    const uint8_t le[] = { 0x34, 0x12, 0xfe, 0xff };     /* 0x1234, -2 */
    pcm_t *p = pcm_from_bytes(16000, 1, PCM_S16, le, sizeof le);
    CHECK(p && pcm_frames(p) == 2 && ((int16_t *) pcm_data(p))[0] == 0x1234 && ((int16_t *) pcm_data(p))[1] == -2,
          "from_bytes decodes little-endian S16");
    uint8_t back[4] = { 0 };
    CHECK(p && pcm_to_bytes(p, back, sizeof back) == 4 && !memcmp(back, le, 4), "to_bytes gives the same bytes back");
    CHECK(p && pcm_to_bytes(p, back, 3) == -ENOSPC, "to_bytes refuses a short buffer");
    pcm_destroy(&p);
    CHECK(p == NULL, "destroy sets the pointer to NULL");

    errno = 0;
    CHECK(!pcm_from_bytes(16000, 1, PCM_S16, le, 3) && errno == EINVAL, "3 bytes of mono S16 rejected (half a frame)");
    CHECK(!pcm_from_bytes(16000, 2, PCM_S16, le, 2), "2 bytes of stereo S16 rejected");
    CHECK(!pcm_from_bytes(16000, 1, PCM_F32, le, 2), "2 bytes of F32 rejected");
    CHECK(pcm_bytes_error(16000, 2, PCM_F32, 12) != NULL && pcm_bytes_error(16000, 2, PCM_F32, 16) == NULL,
          "bytes_error: 12 bytes of stereo F32 bad, 16 fine");
    CHECK(!pcm_from_bytes(1, 1, PCM_S16, le, 4) && !pcm_from_bytes(16000, 1, 7, le, 4), "from_bytes rejects bad formats");

    pcm_t *e = pcm_from_bytes(16000, 1, PCM_S16, NULL, 0);
    CHECK(e && pcm_frames(e) == 0 && pcm_duration_us(e) == 0, "zero bytes is valid, empty audio");
    pcm_destroy(&e);

    float bad[3] = { NAN, INFINITY, 0.5f };
    pcm_t *f = pcm_from_bytes(48000, 1, PCM_F32, bad, sizeof bad);
    float *fx = f ? pcm_data(f) : NULL;
    CHECK(fx && fx[0] == 0 && fx[1] == 0 && fx[2] == 0.5f, "non-finite floats from the wire become 0");
    pcm_destroy(&f);
}

static void test_accessors(void)
{
    pcm_t *p = pcm_new(48000, 2, PCM_F32, 4800);
    CHECK(pcm_rate(p) == 48000 && pcm_channels(p) == 2 && pcm_format(p) == PCM_F32, "accessors return the format");
    CHECK(pcm_frames(p) == 4800 && pcm_bytes(p) == 4800 * 2 * 4, "frames 4800, bytes 38400");
    CHECK(pcm_duration_us(p) == 100000, "4800 frames at 48 kHz last 100000 us");
    CHECK(((float *) pcm_data(p))[9599] == 0.0f, "pcm_new gives silence");
    CHECK(pcm_ms_to_frames(44100, 20) == 882 && pcm_ms_to_frames(16000, 20) == 320, "ms_to_frames");
    pcm_clear(p);
    CHECK(pcm_frames(p) == 0 && pcm_rate(p) == 48000 && pcm_channels(p) == 2, "clear empties, keeps format");
    pcm_destroy(&p);
}

static void test_s16_f32(void)
{
    pcm_t *all = pcm_new(16000, 1, PCM_S16, 65536);
    int16_t *s = pcm_data(all);
    for (int i = 0; i < 65536; i++) s[i] = (int16_t) (i - 32768);
    pcm_t *f = pcm_convert(all, PCM_F32);
    pcm_t *back = pcm_convert(f, PCM_S16);
    CHECK(s_same(all, back), "S16 -> F32 -> S16 is exact for all 65536 values");
    CHECK(((float *) pcm_data(f))[0] == -1.0f && ((float *) pcm_data(f))[32768] == 0.0f, "-32768 -> -1.0, 0 -> 0.0");
    pcm_destroy(&all);
    pcm_destroy(&f);
    pcm_destroy(&back);

    float in[6] = { 1.5f, -1.5f, NAN, 0.5f, -0.5f, 1.0f };
    int16_t out[6];
    pcm_f32_to_s16(in, out, 6);
    CHECK(out[0] == 32767 && out[1] == -32768 && out[2] == 0 && out[3] == 16384 && out[4] == -16384 && out[5] == 32767,
          "F32 -> S16 clips, maps NaN to 0, scales by 32768");

    pcm_t *sine = s_sine(16000, 1, PCM_F32, 440, 0.7, 0, 16000);
    pcm_t *s16 = pcm_convert(sine, PCM_S16), *f2 = pcm_convert(s16, PCM_F32);
    CHECK(s_max_diff(sine, f2) <= 0.5 / 32768 + 1e-7, "F32 -> S16 -> F32 error within half an LSB");
    pcm_destroy(&sine);
    pcm_destroy(&s16);
    pcm_destroy(&f2);
}

static void test_channels(void)
{
    pcm_t *st = pcm_new(16000, 2, PCM_F32, 100);
    float *x = pcm_data(st);
    for (int i = 0; i < 100; i++) { x[2 * i] = 0.5f; x[2 * i + 1] = -0.25f; }
    pcm_t *mono = pcm_resample(st, 16000, 1, PCM_F32);
    CHECK(mono && pcm_channels(mono) == 1 && pcm_frames(mono) == 100 && ((float *) pcm_data(mono))[50] == 0.125f,
          "stereo -> mono averages L and R (0.5, -0.25 -> 0.125)");
    pcm_t *st2 = mono ? pcm_resample(mono, 16000, 2, PCM_S16) : NULL;
    int16_t *s = st2 ? pcm_data(st2) : NULL;
    CHECK(s && s[10] == 4096 && s[11] == 4096, "mono -> stereo S16 duplicates the channel");
    pcm_t *quad = pcm_new(16000, 4, PCM_F32, 1);
    float q[4] = { 0.1f, 0.2f, 0.3f, 0.4f };
    memcpy(pcm_data(quad), q, sizeof q);
    pcm_t *q2 = pcm_resample(quad, 16000, 2, PCM_F32);
    float *qx = q2 ? pcm_data(q2) : NULL;
    CHECK(qx && fabsf(qx[0] - 0.2f) < 1e-6f && fabsf(qx[1] - 0.3f) < 1e-6f, "4 -> 2 channels: means of (0,2) and (1,3)");
    pcm_destroy(&st);
    pcm_destroy(&mono);
    pcm_destroy(&st2);
    pcm_destroy(&quad);
    pcm_destroy(&q2);
}

/* ---- resampling ---------------------------------------------------------------------- */

static void check_oneshot(uint32_t in_rate, uint32_t out_rate, pcm_format_t fmt, uint32_t ch)
{
    pcm_t *in = s_sine(in_rate, ch, fmt, 1000, 0.5, 0, in_rate);     /* 1 s of 1 kHz */
    pcm_t *out = pcm_resample(in, out_rate, 1, fmt);
    double f = out ? s_frequency(out) : 0;
    long d = out ? (long) pcm_frames(out) - (long) out_rate : -99999;
    CHECK(out && labs(d) <= 1, "%u -> %u Hz (%s, %u ch): 1 s gives %zu frames", in_rate, out_rate,
          fmt == PCM_S16 ? "S16" : "F32", ch, out ? pcm_frames(out) : 0);
    CHECK(fabs(f - 1000) < 10, "%u -> %u Hz: 1 kHz sine comes out at %.2f Hz", in_rate, out_rate, f);
    double rms = out ? s_rms(out) : 0;
    CHECK(fabs(rms - 0.5 / sqrt(2)) < 0.02, "%u -> %u Hz: level kept (rms %.4f)", in_rate, out_rate, rms);
    pcm_destroy(&in);
    pcm_destroy(&out);
}

static void test_resample_oneshot(void)
{
    check_oneshot(48000, 16000, PCM_F32, 1);
    check_oneshot(16000, 48000, PCM_S16, 1);
    check_oneshot(44100, 16000, PCM_S16, 2);
    check_oneshot(8000, 16000, PCM_F32, 1);
    check_oneshot(24000, 22050, PCM_F32, 1);

    /* A 6 kHz tone at 48 kHz is above the 8 kHz-rate Nyquist of 4 kHz: it must be
     * filtered out, not folded back to 2 kHz. */
    pcm_t *hi = s_sine(48000, 1, PCM_F32, 6000, 0.5, 0, 48000);
    pcm_t *lo = pcm_resample(hi, 8000, 1, PCM_F32);
    double rms = lo ? s_rms(lo) : 1;
    CHECK(rms < 0.5 / sqrt(2) * 0.01, "48k -> 8k: a 6 kHz tone is attenuated > 40 dB (rms %.2e)", rms);
    pcm_destroy(&hi);
    pcm_destroy(&lo);
}

/* Feeds a 440 Hz sine in chunks of chunk_frames and compares with one-shot. */
static void check_streaming(uint32_t in_rate, uint32_t out_rate, pcm_format_t fmt, size_t chunk_frames)
{
    const size_t total = in_rate;       /* 1 s */
    pcm_t *whole = s_sine(in_rate, 1, fmt, 440, 0.5, 0, total);
    pcm_t *ref = pcm_resample(whole, out_rate, 1, fmt);
    pcm_resampler_t *r = pcm_resampler_new(in_rate, 1, out_rate, 1, fmt);
    pcm_t *joined = pcm_new(out_rate, 1, fmt, 0);
    double max_lag_ms = 0;
    for (size_t pos = 0; pos < total; pos += chunk_frames) {
        size_t n = total - pos < chunk_frames ? total - pos : chunk_frames;
        pcm_t *chunk = s_sine(in_rate, 1, fmt, 440, 0.5, pos, n);
        pcm_t *o = pcm_resampler_process(r, chunk);
        pcm_append(joined, o);
        /* How far the output lags behind the input consumed so far. */
        double lag = ((double) (pos + n) * out_rate / in_rate - (double) pcm_frames(joined)) * 1000.0 / out_rate;
        if (pos > (size_t) in_rate / 10 && lag > max_lag_ms) max_lag_ms = lag;
        pcm_destroy(&chunk);
        pcm_destroy(&o);
    }
    pcm_t *tail = pcm_resampler_flush(r);
    pcm_append(joined, tail);
    bool same_len = ref && pcm_frames(joined) == pcm_frames(ref);
    CHECK(same_len, "%u -> %u Hz in %zu-frame chunks: %zu frames, one-shot %zu", in_rate, out_rate, chunk_frames,
          pcm_frames(joined), ref ? pcm_frames(ref) : 0);
    double diff = same_len ? s_max_diff(joined, ref) : 1;
    CHECK(diff < (fmt == PCM_S16 ? 2.0 / 32768 : 1e-5), "  chunked equals one-shot (max diff %.2e)", diff);
    /* A 440 Hz sine of amplitude 0.5 moves at most 2*pi*440*0.5/rate per sample;
     * a click at a chunk boundary would be far larger. */
    double limit = 2 * M_PI * 440 * 0.5 / out_rate * 1.05 + 2.0 / 32768;
    double jump = s_max_jump(joined, pcm_frames(joined) / 50);
    CHECK(jump < limit, "  no clicks: max step %.5f < %.5f", jump, limit);
    CHECK(max_lag_ms < 5.0, "  output lags input by at most %.2f ms (< 5 ms budget)", max_lag_ms);
    pcm_destroy(&whole);
    pcm_destroy(&ref);
    pcm_destroy(&joined);
    pcm_destroy(&tail);
    pcm_resampler_destroy(&r);
}

static void test_resample_streaming(void)
{
    check_streaming(48000, 16000, PCM_F32, 960);     /* 20 ms */
    check_streaming(16000, 48000, PCM_S16, 320);     /* 20 ms */
    check_streaming(24000, 48000, PCM_F32, 480);
    check_streaming(44100, 16000, PCM_F32, 441);     /* 10 ms */
    check_streaming(48000, 16000, PCM_F32, 333);     /* odd sizes */

    /* Reuse after flush: a second stream gives the same as the first. */
    pcm_resampler_t *r = pcm_resampler_new(48000, 1, 16000, 1, PCM_F32);
    pcm_t *in = s_sine(48000, 1, PCM_F32, 1000, 0.5, 0, 4800);
    pcm_t *a = pcm_resampler_process(r, in), *at = pcm_resampler_flush(r);
    pcm_t *b = pcm_resampler_process(r, in), *bt = pcm_resampler_flush(r);
    pcm_append(a, at);
    pcm_append(b, bt);
    CHECK(s_same(a, b), "flush resets: a second stream gives identical output (%zu frames)", pcm_frames(a));
    pcm_destroy(&a); pcm_destroy(&at); pcm_destroy(&b); pcm_destroy(&bt);

    /* reset drops the held-back audio */
    pcm_t *c = pcm_resampler_process(r, in);
    pcm_resampler_reset(r);
    pcm_t *ct = pcm_resampler_flush(r);
    CHECK(ct && pcm_frames(ct) == 0, "reset drops held-back audio (flush after reset: %zu frames)", ct ? pcm_frames(ct) : 99);
    pcm_destroy(&c); pcm_destroy(&ct);

    pcm_t *wrong = pcm_new(16000, 1, PCM_F32, 10);
    errno = 0;
    CHECK(!pcm_resampler_process(r, wrong) && errno == EINVAL, "process rejects input at another rate");
    pcm_destroy(&wrong);
    pcm_destroy(&in);
    pcm_resampler_destroy(&r);
    CHECK(r == NULL, "resampler destroy sets NULL");
    CHECK(!pcm_resampler_new(48000, 1, 300000, 1, PCM_F32) && !pcm_resampler_new(48000, 0, 16000, 1, PCM_F32),
          "resampler_new rejects bad formats");
}

static void test_passthrough(void)
{
    pcm_resampler_t *r = pcm_resampler_new(16000, 1, 16000, 1, PCM_S16);
    CHECK(r && !pcm_resampler_resamples(r), "same rate, same channels: no soxr");
    pcm_t *in = s_sine(16000, 1, PCM_S16, 440, 0.5, 0, 320);
    pcm_t *out = pcm_resampler_process(r, in);
    CHECK(out && s_same(in, out) && pcm_resampler_delay_frames(r) == 0, "passthrough: output identical, no delay");
    pcm_t *fin = pcm_convert(in, PCM_F32), *out2 = pcm_resampler_process(r, fin);
    CHECK(out2 && s_same(in, out2), "passthrough converts F32 input to the output format");
    pcm_t *tail = pcm_resampler_flush(r);
    CHECK(tail && pcm_frames(tail) == 0, "passthrough flush is empty");
    pcm_destroy(&in); pcm_destroy(&out); pcm_destroy(&fin); pcm_destroy(&out2); pcm_destroy(&tail);
    pcm_resampler_destroy(&r);

    pcm_resampler_t *m = pcm_resampler_new(48000, 2, 48000, 1, PCM_F32);
    pcm_t *st = s_sine(48000, 2, PCM_F32, 440, 0.5, 0, 960);
    pcm_t *mo = m ? pcm_resampler_process(m, st) : NULL;
    CHECK(m && !pcm_resampler_resamples(m) && mo && pcm_frames(mo) == 960 && pcm_channels(mo) == 1,
          "same rate, stereo -> mono: no soxr, no delay");
    pcm_destroy(&st); pcm_destroy(&mo);
    pcm_resampler_destroy(&m);

    pcm_resampler_t *d = pcm_resampler_new(48000, 2, 16000, 1, PCM_S16);
    pcm_t *st2 = s_sine(48000, 2, PCM_F32, 1000, 0.5, 0, 48000);
    pcm_t *o = d ? pcm_resampler_process(d, st2) : NULL;
    CHECK(o && pcm_channels(o) == 1 && pcm_format(o) == PCM_S16 && fabs(s_frequency(o) - 1000) < 10,
          "48k stereo F32 -> 16k mono S16 in one resampler (%.1f Hz)", o ? s_frequency(o) : 0);
    pcm_destroy(&st2); pcm_destroy(&o);
    pcm_resampler_destroy(&d);
}

/* ---- append, copy, slices -------------------------------------------------------------- */

static void test_append_copy(void)
{
    pcm_t *a = s_sine(16000, 1, PCM_S16, 440, 0.5, 0, 1600);
    pcm_t *b = s_sine(16000, 1, PCM_S16, 440, 0.5, 1600, 1600);
    pcm_t *whole = s_sine(16000, 1, PCM_S16, 440, 0.5, 0, 3200);
    pcm_t *c = pcm_copy(a);
    CHECK(c && s_same(a, c) && pcm_data(c) != pcm_data(a), "copy is equal and independent");
    CHECK(pcm_append(c, b) == 0 && s_same(c, whole), "append of the same format concatenates");
    pcm_t *bf = pcm_convert(b, PCM_F32);
    pcm_t *d = pcm_copy(a);
    CHECK(pcm_append(d, bf) == 0 && pcm_frames(d) == 3200 && s_max_diff(d, whole) <= 1.0 / 32768,
          "append converts F32 to the S16 of the destination");
    pcm_t *st = s_sine(16000, 2, PCM_F32, 440, 0.5, 0, 800);
    CHECK(pcm_append(d, st) == 0 && pcm_frames(d) == 4000, "append downmixes stereo to mono");
    pcm_t *hi = s_sine(48000, 1, PCM_F32, 1000, 0.5, 0, 4800);     /* 100 ms at 48k */
    pcm_t *e = pcm_new(16000, 1, PCM_S16, 0);
    CHECK(pcm_append(e, hi) == 0 && pcm_frames(e) == 1600 && fabs(s_frequency(e) - 1000) < 10,
          "append resamples 100 ms at 48 kHz into 1600 frames at 16 kHz (%.1f Hz)", s_frequency(e));
    CHECK(pcm_append(e, NULL) == -EINVAL, "append NULL is -EINVAL");
    pcm_clear(e);
    CHECK(pcm_frames(e) == 0 && pcm_append(e, a) == 0 && s_same(e, a), "clear then append starts afresh");
    pcm_destroy(&a); pcm_destroy(&b); pcm_destroy(&whole); pcm_destroy(&c); pcm_destroy(&bf);
    pcm_destroy(&d); pcm_destroy(&st); pcm_destroy(&hi); pcm_destroy(&e);
}

static void test_slices(void)
{
    pcm_t *p = pcm_new(16000, 2, PCM_S16, 16000);       /* 1 s, sample = frame index */
    int16_t *x = pcm_data(p);
    for (int i = 0; i < 16000; i++) x[2 * i] = x[2 * i + 1] = (int16_t) i;
    pcm_t *h = pcm_head(p, 250), *t = pcm_tail(p, 100), *all = pcm_head(p, 5000), *none = pcm_tail(p, 0);
    CHECK(pcm_frames(h) == 4000 && ((int16_t *) pcm_data(h))[0] == 0 && ((int16_t *) pcm_data(h))[7999] == 3999,
          "head 250 ms = frames 0..3999");
    CHECK(pcm_frames(t) == 1600 && ((int16_t *) pcm_data(t))[0] == 14400 && ((int16_t *) pcm_data(t))[3199] == 15999,
          "tail 100 ms = frames 14400..15999");
    CHECK(s_same(all, p) && pcm_frames(none) == 0, "head longer than the audio is all of it; tail 0 is empty");
    pcm_t *s = pcm_slice(p, 15990, 100);
    CHECK(pcm_frames(s) == 10 && ((int16_t *) pcm_data(s))[0] == 15990, "slice is clipped at the end");
    pcm_destroy(&h); pcm_destroy(&t); pcm_destroy(&all); pcm_destroy(&none); pcm_destroy(&s);

    /* 1000 ms in 300 ms chunks overlapping by 100 ms: starts at 0, 200, 400, 600, 800. */
    size_t n = pcm_chunk_count(p, 300, 100);
    CHECK(n == 5, "1000 ms, chunk 300 overlap 100: %zu chunks (want 5)", n);
    pcm_t *c1 = pcm_chunk(p, 300, 100, 1), *c4 = pcm_chunk(p, 300, 100, 4);
    CHECK(c1 && pcm_frames(c1) == 4800 && ((int16_t *) pcm_data(c1))[0] == 3200, "chunk 1 starts at 200 ms, 300 ms long");
    CHECK(c4 && pcm_frames(c4) == 3200 && ((int16_t *) pcm_data(c4))[0] == 12800, "last chunk starts at 800 ms, 200 ms short");
    errno = 0;
    CHECK(!pcm_chunk(p, 300, 100, 5) && errno == EINVAL, "chunk index 5 is out of range");
    pcm_destroy(&c1); pcm_destroy(&c4);
    CHECK(pcm_chunk_count(p, 250, 0) == 4, "1000 ms in 250 ms chunks without overlap: 4");
    CHECK(pcm_chunk_count(p, 20, 10) == 99, "1000 ms, chunk 20 overlap 10: 99 chunks");
    CHECK(pcm_chunk_count(p, 2000, 0) == 1, "a chunk longer than the audio: 1");
    CHECK(pcm_chunk_count(p, 100, 100) == 0 && pcm_chunk_count(p, 0, 0) == 0, "overlap >= chunk or chunk 0: 0");
    size_t covered = 0;
    for (size_t i = 0; i < pcm_chunk_count(p, 30, 0); i++) {
        pcm_t *c = pcm_chunk(p, 30, 0, i);
        covered += pcm_frames(c);
        pcm_destroy(&c);
    }
    CHECK(covered == 16000, "chunks without overlap cover every frame once (%zu)", covered);
    pcm_t *empty = pcm_new(16000, 1, PCM_S16, 0);
    CHECK(pcm_chunk_count(empty, 20, 0) == 0, "empty audio has no chunks");
    pcm_destroy(&empty);
    pcm_destroy(&p);
}

/* ---- wav -------------------------------------------------------------------------------- */

static void test_wav_roundtrip(void)
{
    pcm_t *s = s_sine(22050, 2, PCM_S16, 440, 0.5, 0, 2205);
    void *buf = NULL;
    size_t len = 0;
    CHECK(wav_write_mem(s, &buf, &len) == 0 && len == 44 + pcm_bytes(s), "S16 stereo WAV is 44 + data bytes");
    pcm_t *r = NULL;
    const char *why = NULL;
    CHECK(wav_read_mem(buf, len, &r, &why) == 0 && r && s_same(s, r), "S16 WAV write -> read is identical");
    pcm_destroy(&r);
    free(buf);

    pcm_t *f = s_sine(48000, 1, PCM_F32, 1000, 0.9, 0, 4800);
    CHECK(wav_write_mem(f, &buf, &len) == 0 && wav_read_mem(buf, len, &r, &why) == 0 && r && s_same(f, r),
          "F32 WAV write -> read is identical");
    CHECK(len > 20 && ((uint8_t *) buf)[20] == 3, "F32 is written as WAVE_FORMAT_IEEE_FLOAT");
    pcm_destroy(&r);
    free(buf);

    char path[] = "/tmp/pcm_test_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    CHECK(wav_write_file(path, s) == 0 && wav_read_file(path, &r, &why) == 0 && r && s_same(s, r),
          "WAV file write -> read is identical");
    pcm_destroy(&r);
    unlink(path);
    CHECK(wav_read_file("/nonexistent/x.wav", &r, &why) == -ENOENT && !r, "missing file: -ENOENT (%s)", why);
    pcm_destroy(&s);
    pcm_destroy(&f);
}

/* A minimal WAV image: fmt fields as given, then `data_bytes` of data
 * (the data chunk header may lie, via data_size). */
static size_t s_make_wav(uint8_t *b, uint16_t tag, uint16_t ch, uint32_t rate, uint16_t align, uint16_t bits,
                         uint32_t data_size, size_t data_bytes)
{
    memcpy(b, "RIFF", 4);
    uint32_t riff = (uint32_t) (36 + data_bytes);
    memcpy(b + 4, &riff, 4);
    memcpy(b + 8, "WAVEfmt ", 8);
    uint32_t fs = 16, br = rate * align;
    memcpy(b + 16, &fs, 4);
    memcpy(b + 20, &tag, 2);
    memcpy(b + 22, &ch, 2);
    memcpy(b + 24, &rate, 4);
    memcpy(b + 28, &br, 4);
    memcpy(b + 32, &align, 2);
    memcpy(b + 34, &bits, 2);
    memcpy(b + 36, "data", 4);
    memcpy(b + 40, &data_size, 4);
    memset(b + 44, 0x11, data_bytes);
    return 44 + data_bytes;
}

static void check_bad_wav(const char *what, const uint8_t *b, size_t len, int want)
{
    pcm_t *p = (pcm_t *) 1;
    const char *why = NULL;
    int rc = wav_read_mem(b, len, &p, &why);
    CHECK(rc == want && p == NULL && why, "%s: %d (%s)", what, rc, why ? why : "no reason");
}

static void test_wav_malformed(void)
{
    uint8_t b[512];
    size_t n = s_make_wav(b, 1, 1, 16000, 2, 16, 8, 8);
    pcm_t *p = NULL;
    CHECK(wav_read_mem(b, n, &p, NULL) == 0 && p && pcm_frames(p) == 4, "hand-made header parses (4 frames)");
    pcm_destroy(&p);

    check_bad_wav("empty input", b, 0, -EINVAL);
    check_bad_wav("11 bytes", b, 11, -EINVAL);
    check_bad_wav("truncated in the fmt chunk", b, 30, -EINVAL);
    check_bad_wav("truncated data", b, n - 3, -EINVAL);
    check_bad_wav("header only, data chunk missing", b, 36, -EINVAL);
    memcpy(b, "RIFX", 4);
    check_bad_wav("not RIFF", b, n, -EINVAL);
    memcpy(b, "RIFF", 4);
    n = s_make_wav(b, 1, 1, 16000, 2, 16, 4000, 8);
    check_bad_wav("data size larger than the file", b, n, -EINVAL);
    n = s_make_wav(b, 1, 1, 16000, 2, 16, 7, 8);
    check_bad_wav("data size not whole frames", b, n, -EINVAL);
    n = s_make_wav(b, 1, 0, 16000, 0, 16, 8, 8);
    check_bad_wav("zero channels", b, n, -EINVAL);
    n = s_make_wav(b, 1, 1, 0, 2, 16, 8, 8);
    check_bad_wav("zero rate", b, n, -EINVAL);
    n = s_make_wav(b, 1, 1, 4000000000u, 2, 16, 8, 8);
    check_bad_wav("absurd rate 4e9", b, n, -ENOTSUP);
    n = s_make_wav(b, 1, 1, 1000, 2, 16, 8, 8);
    check_bad_wav("rate 1000 Hz", b, n, -ENOTSUP);
    n = s_make_wav(b, 1, 200, 16000, 400, 16, 400, 400);
    check_bad_wav("200 channels", b, n, -ENOTSUP);
    n = s_make_wav(b, 1, 1, 16000, 3, 24, 9, 9);
    check_bad_wav("24-bit PCM", b, n, -ENOTSUP);
    n = s_make_wav(b, 6, 1, 8000, 1, 8, 8, 8);
    check_bad_wav("A-law", b, n, -ENOTSUP);
    n = s_make_wav(b, 1, 2, 16000, 2, 16, 8, 8);
    check_bad_wav("block align 2 for stereo 16-bit", b, n, -EINVAL);
    n = s_make_wav(b, 1, 1, 16000, 2, 16, 8, 8);
    uint32_t small = 12;
    memcpy(b + 16, &small, 4);
    check_bad_wav("fmt chunk of 12 bytes", b, n, -EINVAL);
    uint32_t huge = 0xFFFFFFF0u;
    memcpy(b + 16, &huge, 4);
    check_bad_wav("fmt chunk size 0xFFFFFFF0", b, n, -EINVAL);
    n = s_make_wav(b, 1, 1, 16000, 2, 16, 8, 8);
    memcpy(b + 12, "data", 4);          /* data where fmt should be */
    check_bad_wav("data before fmt", b, n, -EINVAL);
    memcpy(b + 12, "junk", 4);
    check_bad_wav("no fmt chunk", b, 36, -EINVAL);
}

static void test_wav_tolerated(void)
{
    uint8_t b[256];
    /* LIST chunk of odd size (padded) between fmt and data. */
    size_t n = s_make_wav(b, 1, 1, 16000, 2, 16, 8, 8);
    uint8_t c[300];
    memcpy(c, b, 36);
    memcpy(c + 36, "LIST\x03\x00\x00\x00" "abc\x00", 12);
    memcpy(c + 48, b + 36, n - 36);
    pcm_t *p = NULL;
    const char *why = NULL;
    CHECK(wav_read_mem(c, n + 12, &p, &why) == 0 && p && pcm_frames(p) == 4, "odd-sized LIST chunk is skipped");
    pcm_destroy(&p);

    n = s_make_wav(b, 1, 1, 16000, 2, 16, 0xFFFFFFFFu, 10);
    CHECK(wav_read_mem(b, n, &p, &why) == 0 && p && pcm_frames(p) == 5, "streaming data size 0xFFFFFFFF reads to the end");
    pcm_destroy(&p);

    /* WAVE_FORMAT_EXTENSIBLE, float, stereo. */
    uint8_t e[200] = { 0 };
    uint32_t u32;
    uint16_t u16;
    memcpy(e, "RIFF\0\0\0\0WAVEfmt ", 16);
    u32 = 40; memcpy(e + 16, &u32, 4);
    u16 = 0xFFFE; memcpy(e + 20, &u16, 2);
    u16 = 2; memcpy(e + 22, &u16, 2);
    u32 = 48000; memcpy(e + 24, &u32, 4);
    u32 = 48000 * 8; memcpy(e + 28, &u32, 4);
    u16 = 8; memcpy(e + 32, &u16, 2);
    u16 = 32; memcpy(e + 34, &u16, 2);
    u16 = 22; memcpy(e + 36, &u16, 2);
    u16 = 32; memcpy(e + 38, &u16, 2);
    u32 = 3; memcpy(e + 40, &u32, 4);
    memcpy(e + 44, "\x03\x00\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71", 16);
    memcpy(e + 60, "data", 4);
    u32 = 16; memcpy(e + 64, &u32, 4);
    float fl[4] = { 0.25f, -0.25f, 0.5f, -0.5f };
    memcpy(e + 68, fl, 16);
    CHECK(wav_read_mem(e, 84, &p, &why) == 0 && p && pcm_format(p) == PCM_F32 && pcm_channels(p) == 2
          && pcm_frames(p) == 2 && ((float *) pcm_data(p))[3] == -0.5f, "WAVE_FORMAT_EXTENSIBLE float stereo reads");
    pcm_destroy(&p);
}

/* Every truncation must fail cleanly, and random corruption must never crash
 * (ASan builds turn any out-of-bounds read into a failure). */
static void test_wav_garbage(void)
{
    pcm_t *s = s_sine(16000, 2, PCM_S16, 440, 0.5, 0, 64);
    void *buf;
    size_t len;
    wav_write_mem(s, &buf, &len);
    int bad_ok = 0;
    for (size_t l = 0; l < len; l++) {
        uint8_t *copy = malloc(l ? l : 1);      /* exact size so ASan sees overreads */
        memcpy(copy, buf, l);
        pcm_t *p = NULL;
        if (wav_read_mem(copy, l, &p, NULL) < 0 && !p) bad_ok++;
        pcm_destroy(&p);
        free(copy);
    }
    CHECK(bad_ok == (int) len, "all %zu truncations are rejected (%d)", len, bad_ok);
    srand(42);
    int parsed = 0, rejected = 0;
    for (int i = 0; i < 20000; i++) {
        size_t l = rand() % 2 ? len : (size_t) rand() % (len + 1);
        uint8_t *copy = malloc(l ? l : 1);
        memcpy(copy, buf, l);
        for (int k = rand() % 6; k > 0 && l; k--) copy[(size_t) rand() % (l < 80 ? l : 80)] = (uint8_t) rand();
        pcm_t *p = NULL;
        const char *why = NULL;
        int rc = wav_read_mem(copy, l, &p, &why);
        if (rc == 0 && p) parsed++;
        else if (rc < 0 && !p && why) rejected++;
        pcm_destroy(&p);
        free(copy);
    }
    CHECK(parsed + rejected == 20000, "20000 corrupted files: %d parsed, %d rejected with a reason, no crash", parsed, rejected);
    free(buf);
    pcm_destroy(&s);
}

int main(void)
{
    test_validation();
    test_bytes();
    test_accessors();
    test_s16_f32();
    test_channels();
    test_resample_oneshot();
    test_resample_streaming();
    test_passthrough();
    test_append_copy();
    test_slices();
    test_wav_roundtrip();
    test_wav_malformed();
    test_wav_tolerated();
    test_wav_garbage();
    printf("%s: %d failure(s)\n", s_failures ? "FAIL" : "PASS", s_failures);
    return s_failures ? 1 : 0;
}
