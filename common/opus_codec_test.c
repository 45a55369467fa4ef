/* opus_codec_test — round trip, PLC, FEC, DTX and corrupt-input checks. */
#include "opus_codec.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <opus/opus.h>

static int s_failures;

#define CHECK(cond, ...) do { \
    if (cond) { printf("ok   "); printf(__VA_ARGS__); printf("\n"); } \
    else { printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); s_failures++; } \
} while (0)

static uint32_t s_rng = 12345;
static uint32_t s_rand(void)
{
    s_rng = s_rng * 1664525u + 1013904223u;
    return s_rng >> 8;
}

/* 440 Hz + 1 kHz, the test signal of the round trip. */
static void s_tones(int16_t *pcm, int frames, int rate, int channels)
{
    for (int i = 0; i < frames; i++) {
        double t = (double) i / rate;
        double v = 8000 * sin(2 * M_PI * 440 * t) + 6000 * sin(2 * M_PI * 1000 * t);
        for (int c = 0; c < channels; c++)
            pcm[i * channels + c] = (int16_t) lrint(c ? 0.8 * v : v);
    }
}

/* A gliding, amplitude-modulated tone: unlike a steady tone, PLC cannot
 * extrapolate it, so it shows what FEC brings. */
static void s_glide(int16_t *pcm, int frames, int rate)
{
    double phase = 0;
    for (int i = 0; i < frames; i++) {
        double t = (double) i / rate;
        double f = 500 + 350 * sin(2 * M_PI * 1.7 * t);
        phase += 2 * M_PI * f / rate;
        double env = 0.55 + 0.45 * sin(2 * M_PI * 3.1 * t);
        pcm[i] = (int16_t) lrint(12000 * env * sin(phase));
    }
}

static double s_goertzel(const int16_t *x, int n, int stride, double f, int rate)
{
    double k = 2 * cos(2 * M_PI * f / rate), s1 = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        double s0 = x[i * stride] + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    return (s1 * s1 + s2 * s2 - k * s1 * s2) / n;
}

/* Lag (0..max_lag) of `out` behind `ref` with the best normalised
 * correlation over `n` frames of channel 0. */
static int s_best_lag(const int16_t *ref, const int16_t *out, int n, int stride, int max_lag, double *corr)
{
    int best = 0;
    double best_c = -2;
    for (int lag = 0; lag <= max_lag; lag++) {
        double xy = 0, xx = 0, yy = 0;
        for (int i = 0; i < n; i++) {
            double a = ref[i * stride], b = out[(i + lag) * stride];
            xy += a * b, xx += a * a, yy += b * b;
        }
        double c = xy / (sqrt(xx * yy) + 1e-9);
        if (c > best_c)
            best_c = c, best = lag;
    }
    *corr = best_c;
    return best;
}

static double s_snr_db(const int16_t *ref, const int16_t *out, int n, int stride)
{
    double sig = 0, err = 0;
    for (int i = 0; i < n; i++) {
        double a = ref[i * stride], d = out[i * stride] - a;
        sig += a * a, err += d * d;
    }
    return 10 * log10(sig / (err + 1e-9));
}

static void test_round_trip(int rate, int channels, int bitrate)
{
    printf("-- round trip %d Hz, %d ch, %d bit/s\n", rate, channels, bitrate);
    opus_enc_config_t cfg;
    opus_enc_config_defaults(&cfg);
    cfg.rate = rate, cfg.channels = channels, cfg.bitrate = bitrate, cfg.fec = false, cfg.loss_pct = 0;
    opus_enc_t *enc = opus_enc_new(&cfg);
    opus_dec_t *dec = opus_dec_new(rate, channels);
    CHECK(enc && dec, "encoder and decoder created");
    if (!enc || !dec)
        return;
    int fs = opus_enc_frame_size(enc);
    int packets = 100, total = fs * packets;
    int16_t *in = calloc((size_t) total * channels, sizeof *in);
    int16_t *out = calloc((size_t) total * channels, sizeof *out);
    s_tones(in, total, rate, channels);
    int produced = 0, bytes = 0, bad = 0;
    for (int p = 0; p < packets; p++) {
        uint8_t pkt[OPUS_CODEC_MAX_PACKET];
        int len = opus_enc_encode(enc, in + (size_t) p * fs * channels, pkt, sizeof pkt);
        if (len <= 0 || opus_packet_duration(pkt, (size_t) len, rate) != fs) {
            bad++;
            continue;
        }
        bytes += len;
        int n = opus_dec_decode(dec, pkt, (size_t) len, out + (size_t) produced * channels, total - produced);
        if (n != fs)
            bad++;
        else
            produced += n;
    }
    CHECK(bad == 0 && produced == total, "%d packets encoded and decoded to %d frames (%d bytes, %.1f kbit/s)",
          packets, produced, bytes, bytes * 8.0 / (total / (double) rate) / 1000);
    /* The tones repeat every 25 ms and the codec shifts phases a little, so a
     * free lag search is ambiguous: align on the encoder's lookahead and
     * only look for the best lag within +-1 ms of it. */
    int la = opus_enc_lookahead(enc) * rate / 48000;
    double corr;
    int skip = rate / 5, n = total - skip - 2 * rate / 10, win = rate / 1000;
    int lag = s_best_lag(in + skip * channels, out + (skip + la - win) * channels, n, channels, 2 * win, &corr)
              + la - win;
    CHECK(abs(lag - la) <= rate / 4000 + 1, "best lag %d frames = encoder lookahead %d", lag, la);
    CHECK(corr > 0.95, "correlation after alignment %.4f > 0.95", corr);
    double snr = s_snr_db(in + skip * channels, out + (skip + lag) * channels, n, channels);
    CHECK(snr > 12, "SNR after alignment %.1f dB > 12 dB", snr);
    const int16_t *o = out + skip * channels;
    double p440 = s_goertzel(o, n, channels, 440, rate), p1k = s_goertzel(o, n, channels, 1000, rate);
    double noise = 0;
    const double probes[] = { 300, 700, 1500, 2500, 3100 };
    for (size_t i = 0; i < sizeof probes / sizeof *probes; i++)
        noise += s_goertzel(o, n, channels, probes[i], rate);
    noise /= 5;
    CHECK(p440 > 1000 * noise && p1k > 1000 * noise,
          "440 Hz and 1 kHz survive: %.1f and %.1f dB above off-tone bins",
          10 * log10(p440 / noise), 10 * log10(p1k / noise));
    if (channels == 2) {
        double l = s_goertzel(o, n, 2, 440, rate), r = s_goertzel(o + 1, n, 2, 440, rate);
        CHECK(fabs(sqrt(r / l) - 0.8) < 0.1, "stereo balance kept: right/left %.2f (sent 0.80)", sqrt(r / l));
    }
    free(in);
    free(out);
    opus_enc_destroy(&enc);
    opus_dec_destroy(&dec);
    CHECK(enc == NULL && dec == NULL, "destroy sets the pointers to NULL");
}

static void test_frame_sizes(void)
{
    printf("-- frame sizes\n");
    const int ms[] = { 10, 20, 40, 60 };
    for (int i = 0; i < 4; i++) {
        opus_enc_config_t cfg;
        opus_enc_config_defaults(&cfg);
        cfg.frame_ms = ms[i];
        opus_enc_t *enc = opus_enc_new(&cfg);
        int16_t pcm[2880] = { 0 };
        s_tones(pcm, 2880, 48000, 1);
        uint8_t pkt[OPUS_CODEC_MAX_PACKET];
        int len = enc ? opus_enc_encode(enc, pcm, pkt, sizeof pkt) : -1;
        CHECK(len > 0 && opus_enc_frame_size(enc) == 48 * ms[i]
              && opus_packet_duration(pkt, (size_t) len, 48000) == 48 * ms[i]
              && opus_packet_duration(pkt, (size_t) len, 16000) == 16 * ms[i],
              "%d ms frames: %d frames per packet, duration helper agrees at 48k and 16k", ms[i], 48 * ms[i]);
        opus_enc_destroy(&enc);
    }
    opus_enc_config_t cfg;
    opus_enc_config_defaults(&cfg);
    cfg.frame_ms = 30;
    errno = 0;
    CHECK(opus_enc_new(&cfg) == NULL && errno == EINVAL, "30 ms frames rejected with EINVAL");
    opus_enc_config_defaults(&cfg);
    cfg.rate = 44100;
    CHECK(opus_enc_new(&cfg) == NULL, "44.1 kHz encoder rejected");
    errno = 0;
    CHECK(opus_dec_new(44100, 1) == NULL && errno == EINVAL, "44.1 kHz decoder rejected with EINVAL");
    CHECK(opus_dec_new(48000, 3) == NULL, "3-channel decoder rejected");
}

/* Encodes `frames` of mono 48 kHz input into packets of 20 ms. */
static int s_encode_all(const opus_enc_config_t *cfg, const int16_t *in, int packets,
                        uint8_t (*pkts)[OPUS_CODEC_MAX_PACKET], int *lens)
{
    opus_enc_t *enc = opus_enc_new(cfg);
    if (!enc)
        return -1;
    int fs = opus_enc_frame_size(enc);
    for (int p = 0; p < packets; p++) {
        lens[p] = opus_enc_encode(enc, in + (size_t) p * fs, pkts[p], OPUS_CODEC_MAX_PACKET);
        if (lens[p] <= 0) {
            opus_enc_destroy(&enc);
            return -1;
        }
    }
    int la = opus_enc_lookahead(enc);
    opus_enc_destroy(&enc);
    return la;
}

static void test_plc(void)
{
    printf("-- packet loss concealment (10 %% random loss)\n");
    enum { PACKETS = 150, FS = 960 };
    int16_t *in = calloc(PACKETS * FS, sizeof *in), *out = calloc(PACKETS * FS, sizeof *out);
    uint8_t (*pkts)[OPUS_CODEC_MAX_PACKET] = malloc(PACKETS * sizeof *pkts);
    int lens[PACKETS];
    s_tones(in, PACKETS * FS, 48000, 1);
    opus_enc_config_t cfg;
    opus_enc_config_defaults(&cfg);
    cfg.fec = false, cfg.loss_pct = 0;
    int la = s_encode_all(&cfg, in, PACKETS, pkts, lens);
    CHECK(la >= 0, "encoded %d packets", PACKETS);
    opus_dec_t *dec = opus_dec_new(48000, 1);
    int produced = 0, lost = 0, bad = 0, quiet = 0;
    bool prev_lost = false;
    double worst_db = 0;
    s_rng = 777;
    for (int p = 0; p < PACKETS; p++) {
        int16_t *o = out + produced;
        int n;
        bool fec = true;
        if (p > 0 && s_rand() % 10 == 0) {
            bool isolated = !prev_lost;
            prev_lost = true;
            lost++;
            n = opus_dec_conceal(dec, NULL, 0, o, 0, &fec);
            /* A concealed 20 ms of a steady tone should not drop to silence. */
            double e_out = 0, e_ref = 0;
            for (int i = 0; i < FS && i + produced - la >= 0; i++) {
                e_out += (double) o[i] * o[i];
                e_ref += (double) in[i + produced - la] * in[i + produced - la];
            }
            /* PLC fades out over consecutive losses by design: judge the
             * first concealed packet of each gap. */
            if (isolated) {
                double db = 10 * log10((e_out + 1) / (e_ref + 1));
                worst_db = db < worst_db ? db : worst_db;
                quiet += db < -20;
            }
            if (fec)
                bad++;
        } else {
            prev_lost = false;
            n = opus_dec_decode(dec, pkts[p], (size_t) lens[p], o, PACKETS * FS - produced);
        }
        if (n != FS)
            bad++;
        else
            produced += n;
    }
    CHECK(bad == 0 && produced == PACKETS * FS, "%d of %d packets lost; output is %d frames (expected %d)",
          lost, PACKETS, produced, PACKETS * FS);
    CHECK(lost >= 8, "loss pattern dropped %d packets", lost);
    CHECK(quiet == 0, "PLC does not go silent: first concealed packet of each gap >= %.1f dB of the original "
          "(limit -20 dB)", worst_db);
    int max_step = 0, max_step_in = 0;
    for (int i = 1; i < produced; i++) {
        int d = abs(out[i] - out[i - 1]);
        if (d > max_step)
            max_step = d;
        d = abs(in[i] - in[i - 1]);
        if (d > max_step_in)
            max_step_in = d;
    }
    CHECK(max_step < 2 * max_step_in, "output continuous: largest sample step %d < 2 x input's %d",
          max_step, max_step_in);
    opus_dec_stats_t st;
    opus_dec_stats(dec, &st);
    CHECK(st.concealed == (uint64_t) lost && st.recovered == 0 && st.errors == 0,
          "stats: %llu decoded, %llu concealed, %llu recovered", (unsigned long long) st.packets,
          (unsigned long long) st.concealed, (unsigned long long) st.recovered);
    int16_t tmp[1000];
    CHECK(opus_dec_conceal(dec, NULL, 0, tmp, 130, NULL) == -EINVAL, "conceal of 130 frames (not 2.5 ms steps) -> EINVAL");
    CHECK(opus_dec_conceal(dec, NULL, 0, tmp, 240, NULL) == 240, "conceal of 5 ms -> 240 frames");
    opus_dec_destroy(&dec);
    free(in), free(out), free(pkts);
}

static void test_fec(void)
{
    printf("-- in-band FEC vs PLC\n");
    enum { PACKETS = 200, FS = 960 };
    int16_t *in = calloc(PACKETS * FS, sizeof *in);
    int16_t *out_fec = calloc(PACKETS * FS, sizeof *out_fec), *out_plc = calloc(PACKETS * FS, sizeof *out_plc);
    uint8_t (*pkts)[OPUS_CODEC_MAX_PACKET] = malloc(PACKETS * sizeof *pkts);
    int lens[PACKETS];
    s_glide(in, PACKETS * FS, 48000);
    opus_enc_config_t cfg;
    opus_enc_config_defaults(&cfg);
    cfg.fec = true, cfg.loss_pct = 20, cfg.bitrate = 32000;
    int la = s_encode_all(&cfg, in, PACKETS, pkts, lens);
    int with_fec = 0;
    for (int p = 0; p < PACKETS; p++)
        with_fec += opus_packet_has_fec(pkts[p], (size_t) lens[p]);
    CHECK(la >= 0 && with_fec > PACKETS / 2, "%d of %d packets carry FEC data", with_fec, PACKETS);

    opus_dec_t *a = opus_dec_new(48000, 1), *b = opus_dec_new(48000, 1);
    double err_fec = 0, err_plc = 0;
    int lost = 0, recovered = 0, better = 0, expected = 0;
    for (int p = 0; p < PACKETS; p++) {
        int16_t *oa = out_fec + p * FS, *ob = out_plc + p * FS;
        if (p >= 10 && p < PACKETS - 1 && p % 10 == 5) {
            bool used = false;
            int na = opus_dec_conceal(a, pkts[p + 1], (size_t) lens[p + 1], oa, FS, &used);
            int nb = opus_dec_conceal(b, NULL, 0, ob, FS, NULL);
            if (na != FS || nb != FS)
                continue;
            lost++;
            recovered += used;
            expected += opus_packet_has_fec(pkts[p + 1], (size_t) lens[p + 1]);
            double ea = 0, eb = 0;
            for (int i = 0; i < FS; i++) {
                double r = in[p * FS + i - la];
                ea += (oa[i] - r) * (oa[i] - r);
                eb += (ob[i] - r) * (ob[i] - r);
            }
            err_fec += ea, err_plc += eb;
            better += ea < eb;
        } else {
            opus_dec_decode(a, pkts[p], (size_t) lens[p], oa, FS);
            opus_dec_decode(b, pkts[p], (size_t) lens[p], ob, FS);
        }
    }
    CHECK(lost == 19 && recovered == expected && recovered >= lost / 2,
          "%d packets dropped, %d rebuilt from the next packet's FEC (every one whose next packet had FEC)",
          lost, recovered);
    CHECK(err_fec < 0.5 * err_plc, "FEC error %.3g < half of PLC error %.3g (%.1f dB better; FEC better in %d of %d)",
          err_fec, err_plc, 10 * log10(err_plc / err_fec), better, lost);
    opus_dec_stats_t st;
    opus_dec_stats(a, &st);
    CHECK(st.recovered == (uint64_t) recovered && st.concealed == (uint64_t) (lost - recovered),
          "stats count %d FEC recoveries and %d PLC fallbacks", recovered, lost - recovered);

    /* A two-packet gap: PLC for the first 20 ms, FEC for the second. */
    int16_t gap[2 * FS];
    bool used = false;
    int n = opus_dec_conceal(a, pkts[PACKETS - 1], (size_t) lens[PACKETS - 1], gap, 2 * FS, &used);
    CHECK(n == 2 * FS && used, "a 40 ms gap is concealed with PLC + FEC (%d frames)", n);
    /* FEC is only usable when the gap covers the next packet's duration. */
    n = opus_dec_conceal(a, pkts[PACKETS - 1], (size_t) lens[PACKETS - 1], gap, FS / 2, &used);
    CHECK(n == FS / 2 && !used, "a 10 ms gap before a 20 ms packet falls back to PLC");
    opus_dec_destroy(&a), opus_dec_destroy(&b);
    free(in), free(out_fec), free(out_plc), free(pkts);
}

static void test_dtx(void)
{
    printf("-- DTX\n");
    enum { PACKETS = 150, FS = 960 };
    int16_t *in = calloc(PACKETS * FS, sizeof *in);
    s_tones(in, 50 * FS, 48000, 1); /* 1 s tone, then 2 s of digital silence */
    opus_enc_config_t cfg;
    opus_enc_config_defaults(&cfg);
    cfg.dtx = true, cfg.bitrate = 24000;
    opus_enc_t *enc = opus_enc_new(&cfg);
    opus_dec_t *dec = opus_dec_new(48000, 1);
    int tiny_tone = 0, tiny_silence = 0, flagged = 0, dec_ok = 0, bytes_silence = 0;
    for (int p = 0; p < PACKETS; p++) {
        uint8_t pkt[OPUS_CODEC_MAX_PACKET];
        int len = opus_enc_encode(enc, in + p * FS, pkt, sizeof pkt);
        if (len <= 0)
            continue;
        if (p < 50)
            tiny_tone += len <= 2;
        else if (p >= 75) /* give the encoder's hangover time to end */
            tiny_silence += len <= 2, bytes_silence += len;
        flagged += opus_enc_last_was_dtx(enc) == (len <= 2);
        int16_t out[FS];
        dec_ok += opus_dec_decode(dec, pkt, (size_t) len, out, FS) == FS;
    }
    CHECK(tiny_tone == 0, "no DTX packet while the tone plays");
    CHECK(tiny_silence > 60, "%d of 75 silent packets are DTX (1-2 bytes); %d bytes in 1.5 s of silence",
          tiny_silence, bytes_silence);
    CHECK(flagged == PACKETS, "opus_enc_last_was_dtx agrees with the packet size");
    CHECK(dec_ok == PACKETS, "every packet, DTX included, decodes to 20 ms");
    free(in);
    opus_enc_destroy(&enc);
    opus_dec_destroy(&dec);
}

static void test_corrupt(void)
{
    printf("-- corrupt packets\n");
    opus_dec_t *dec = opus_dec_new(48000, 2);
    int16_t out[OPUS_CODEC_MAX_FRAMES_48K * 2];
    const int max = OPUS_CODEC_MAX_FRAMES_48K;
    /* TOC 0xfc: config 31 (CELT FB 20 ms), stereo, code 0 */
    uint8_t buf[2000];
    CHECK(opus_dec_decode(dec, NULL, 0, out, max) == -EBADMSG, "NULL packet -> EBADMSG");
    CHECK(opus_dec_decode(dec, buf, 0, out, max) == -EBADMSG, "empty packet -> EBADMSG");
    uint8_t code1_odd[] = { 0xfd, 1, 2, 3 };
    CHECK(opus_dec_decode(dec, code1_odd, sizeof code1_odd, out, max) == -EBADMSG,
          "code 1 (two CBR frames) with an odd payload -> EBADMSG");
    uint8_t code2_long[] = { 0xfe, 200, 1, 2, 3 };
    CHECK(opus_dec_decode(dec, code2_long, sizeof code2_long, out, max) == -EBADMSG,
          "code 2 with a first frame longer than the packet -> EBADMSG");
    uint8_t code3_zero[] = { 0xff, 0x00, 1, 2 };
    CHECK(opus_dec_decode(dec, code3_zero, sizeof code3_zero, out, max) == -EBADMSG, "code 3 with 0 frames -> EBADMSG");
    uint8_t code3_long[] = { 0xff, 0x07, 1, 2, 3, 4, 5, 6, 7 };
    CHECK(opus_dec_decode(dec, code3_long, sizeof code3_long, out, max) == -EBADMSG,
          "code 3 with 7 x 20 ms = 140 ms > 120 ms -> EBADMSG");
    memset(buf, 0, sizeof buf);
    buf[0] = 0xfc;
    CHECK(opus_dec_decode(dec, buf, 1277, out, max) == -EBADMSG, "code 0 frame of 1276 bytes (> 1275) -> EBADMSG");

    /* A real 3-frame VBR packet, truncated. */
    opus_enc_config_t cfg;
    opus_enc_config_defaults(&cfg);
    cfg.channels = 2, cfg.bitrate = 64000;
    opus_enc_t *enc = opus_enc_new(&cfg);
    OpusRepacketizer *rp = opus_repacketizer_create();
    uint8_t parts[3][OPUS_CODEC_MAX_PACKET], joined[3 * OPUS_CODEC_MAX_PACKET];
    int16_t pcm[960 * 2 * 3];
    s_tones(pcm, 960 * 3, 48000, 2);
    for (int i = 0; i < 3; i++) {
        int len = opus_enc_encode(enc, pcm + i * 960 * 2, parts[i], OPUS_CODEC_MAX_PACKET);
        opus_repacketizer_cat(rp, parts[i], len);
    }
    int jl = opus_repacketizer_out(rp, joined, sizeof joined);
    CHECK(jl > 0 && opus_dec_decode(dec, joined, (size_t) jl, out, max) == 2880, "3-frame packet (%d bytes) decodes to 60 ms", jl);
    CHECK(opus_dec_decode(dec, joined, (size_t) jl, out, 1000) == -ENOBUFS, "60 ms into a 1000-frame buffer -> ENOBUFS");
    /* Truncation is detectable while it cuts into the framing or the frames
     * with explicit lengths; the last frame's length is implicit, so cutting
     * only that one leaves a legal (shorter) packet. */
    const unsigned char *fr[48];
    opus_int16 fsz[48];
    int nf = opus_packet_parse(joined, jl, NULL, fr, fsz, NULL);
    int last_off = nf == 3 ? (int) (fr[2] - joined) : jl;
    int trunc_err = 0, trunc_ok = 0;
    for (int l = 1; l < jl; l++) {
        int r = opus_dec_decode(dec, joined, (size_t) l, out, max);
        if (l < last_off)
            trunc_err += r == -EBADMSG;
        else
            trunc_ok += r == 2880;
    }
    CHECK(nf == 3 && trunc_err == last_off - 1 && trunc_ok == jl - last_off,
          "all %d truncations into framing/explicit frames -> EBADMSG; %d cuts of the implicit last frame decode",
          trunc_err, trunc_ok);
    opus_repacketizer_destroy(rp);
    opus_enc_destroy(&enc);

    /* Random bytes: libopus decodes any well-framed payload, so the contract
     * is: an error, or exactly the duration the framing announces. */
    int errors = 0, decoded = 0, wrong = 0;
    s_rng = 4242;
    for (int i = 0; i < 20000; i++) {
        size_t len = s_rand() % 1500;
        for (size_t j = 0; j < len; j++)
            buf[j] = (uint8_t) s_rand();
        int n = opus_dec_decode(dec, buf, len, out, max);
        if (n < 0)
            errors++;
        else if (n == opus_packet_duration(buf, len, 48000))
            decoded++;
        else
            wrong++;
    }
    CHECK(wrong == 0 && errors > 0, "20000 random packets: %d rejected, %d decoded, none crashed", errors, decoded);
    uint8_t good[OPUS_CODEC_MAX_PACKET];
    enc = opus_enc_new(&cfg);
    int gl = opus_enc_encode(enc, pcm, good, sizeof good);
    CHECK(opus_dec_decode(dec, good, (size_t) gl, out, max) == 960, "decoder still works after the garbage");
    opus_dec_stats_t st;
    opus_dec_stats(dec, &st);
    CHECK(st.errors > (uint64_t) errors, "stats count %llu rejected packets", (unsigned long long) st.errors);
    CHECK(opus_packet_validate(good, (size_t) gl) == 0 && opus_packet_validate(code3_zero, 4) == -EBADMSG,
          "opus_packet_validate accepts a real packet and rejects a bad one");
    CHECK(opus_packet_duration(good, (size_t) gl, 44100) == -EINVAL, "duration at 44.1 kHz -> EINVAL");
    opus_enc_destroy(&enc);
    opus_dec_destroy(&dec);
}

/* Low-delay mode: less look-ahead, and it still round-trips a tone. */
static void test_low_delay(void)
{
    opus_enc_config_t cfg;
    opus_enc_config_defaults(&cfg);
    opus_enc_t *voip = opus_enc_new(&cfg);
    cfg.low_delay = true;
    opus_enc_t *low = opus_enc_new(&cfg);
    CHECK(voip && low, "encoders");
    if (!voip || !low) return;
    int la_voip = opus_enc_lookahead(voip), la_low = opus_enc_lookahead(low);
    CHECK(la_low < la_voip && la_low <= 48000 * 3 / 1000, "low-delay look-ahead %d < VOIP %d samples", la_low, la_voip);
    opus_dec_t *dec = opus_dec_new(48000, 1);
    int16_t in[960], out[960];
    uint8_t pkt[1500];
    double energy = 0;
    for (int f = 0; f < 20; f++) {
        for (int i = 0; i < 960; i++) in[i] = (int16_t)(8000 * sin(2 * M_PI * 440 * (f * 960 + i) / 48000.0));
        int n = opus_enc_encode(low, in, pkt, sizeof pkt);
        int m = n > 0 ? opus_dec_decode(dec, pkt, (size_t)n, out, 960) : -1;
        if (f >= 10 && m == 960) for (int i = 0; i < 960; i++) energy += (double)out[i] * out[i];
    }
    double rms = sqrt(energy / (10 * 960));
    CHECK(rms > 3000 && rms < 8000, "low-delay mode carries the tone (rms %.0f, sent %.0f)", rms, 8000 / sqrt(2));
    opus_dec_destroy(&dec);
    opus_enc_destroy(&voip);
    opus_enc_destroy(&low);
}

int main(void)
{
    test_low_delay();
    test_round_trip(48000, 1, 32000);
    test_round_trip(48000, 2, 64000);
    test_round_trip(16000, 1, 24000);
    test_frame_sizes();
    test_plc();
    test_fec();
    test_dtx();
    test_corrupt();
    printf(s_failures ? "%d check(s) FAILED\n" : "all checks passed\n", s_failures);
    return s_failures ? 1 : 0;
}
