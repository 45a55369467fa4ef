/* vp8_codec_test — VP8 encode/decode quality, keyframe forcing, odd sizes,
 * corrupt input, and the IVF container round trip. */
#include "ivf.h"
#include "vp8_codec.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int s_failures;

#define CHECK(cond, ...) do { \
    if (cond) { printf("ok   "); printf(__VA_ARGS__); printf("\n"); } \
    else { printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); s_failures++; } \
} while (0)

static uint32_t s_rng = 1;
static uint32_t s_rand(void)
{
    s_rng = s_rng * 1664525u + 1013904223u;
    return s_rng >> 8;
}

/* Frame t of a synthetic scene: a diagonal gradient with soft texture and
 * fine pseudo-random grain scrolling left (the hard part to code), a bright
 * square moving right and down, chroma drifting slowly. */
static void s_synth(uint8_t *buf, int w, int h, int t)
{
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    uint8_t *y = buf, *u = buf + w * h, *v = u + cw * ch;
    int sx = (t * 4) % (w > 40 ? w - 40 : 1), sy = (t * 2) % (h > 40 ? h - 40 : 1);
    for (int j = 0; j < h; j++)
        for (int i = 0; i < w; i++) {
            uint32_t k = (uint32_t) (i + 3 * t) * 2654435761u ^ (uint32_t) j * 40503u;
            k ^= k >> 15, k *= 2246822519u, k ^= k >> 13;
            double g = 40 + 0.3 * (i + j) + 12 * sin((i + 2 * t) * 0.15) * cos(j * 0.11) + (int) (k % 25) - 12;
            if (i >= sx && i < sx + 40 && j >= sy && j < sy + 40)
                g = 220 - 0.5 * (i - sx);
            y[j * w + i] = (uint8_t) (g < 0 ? 0 : g > 255 ? 255 : g);
        }
    for (int j = 0; j < ch; j++)
        for (int i = 0; i < cw; i++) {
            u[j * cw + i] = (uint8_t) (128 + 40 * sin((i + t) * 0.05));
            v[j * cw + i] = (uint8_t) (128 + 40 * cos((j - t) * 0.07));
        }
}

static double s_psnr(const uint8_t *a, const uint8_t *b, size_t n)
{
    double se = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double) a[i] - b[i];
        se += d * d;
    }
    if (se == 0)
        return 99;
    return 10 * log10(255.0 * 255.0 * (double) n / se);
}

typedef struct {
    uint8_t *data;
    size_t len;
    bool key;
    int64_t pts;
} frame_t;

static frame_t s_frames[60];
static int s_nframes;

static void test_round_trip(void)
{
    printf("-- encode/decode 320x240, 60 frames, keyframe forced at 30\n");
    enum { W = 320, H = 240, N = 60 };
    vp8_enc_config_t cfg;
    vp8_enc_config_defaults(&cfg);
    cfg.width = W, cfg.height = H, cfg.bitrate_kbps = 800, cfg.keyframe_interval = 0;
    vp8_enc_t *enc = vp8_enc_new(&cfg);
    vp8_dec_t *dec = vp8_dec_new();
    CHECK(enc && dec, "encoder and decoder created");
    if (!enc || !dec)
        return;
    size_t size = vp8_i420_size(W, H);
    uint8_t *src = malloc(size);
    int keys = 0, keys_at_0_30 = 0, decoded = 0, bytes = 0;
    double psnr_sum = 0, psnr_min = 99;
    for (int t = 0; t < N; t++) {
        s_synth(src, W, H, t);
        vp8_packet_t pkt;
        int r = vp8_enc_encode(enc, src, size, t == 30, &pkt);
        if (r != 1)
            continue;
        s_frames[s_nframes++] = (frame_t) { memcpy(malloc(pkt.len), pkt.data, pkt.len), pkt.len, pkt.keyframe, pkt.pts };
        bytes += (int) pkt.len;
        keys += pkt.keyframe;
        keys_at_0_30 += pkt.keyframe && (t == 0 || t == 30) && vp8_frame_is_keyframe(pkt.data, pkt.len);
        vp8_image_t img;
        if (vp8_dec_decode(dec, pkt.data, pkt.len, &img) == 1 && img.width == W && img.height == H
            && img.size == size) {
            decoded++;
            double p = s_psnr(src, img.data, size);
            psnr_sum += p;
            psnr_min = p < psnr_min ? p : psnr_min;
        }
    }
    CHECK(s_nframes == N && decoded == N, "%d frames encoded (%.0f kbit/s), %d decoded at 320x240",
          s_nframes, bytes * 8.0 * 30 / N / 1000, decoded);
    CHECK(keys == 2 && keys_at_0_30 == 2, "keyframes exactly at 0 and the forced 30 (%d in all)", keys);
    CHECK(psnr_sum / N > 30 && psnr_min > 28, "PSNR average %.1f dB (> 30), worst frame %.1f dB (> 28)",
          psnr_sum / N, psnr_min);
    int w = 0, h = 0;
    CHECK(vp8_frame_size(s_frames[0].data, s_frames[0].len, &w, &h) == 0 && w == W && h == H,
          "keyframe header says %dx%d", w, h);
    CHECK(vp8_frame_size(s_frames[1].data, s_frames[1].len, &w, &h) == -EINVAL && !vp8_frame_is_keyframe(s_frames[1].data, s_frames[1].len),
          "inter frame: no size, not a keyframe");
    CHECK(vp8_enc_set_bitrate(enc, 300) == 0 && vp8_enc_set_bitrate(enc, 0) == -EINVAL, "bitrate changed on the fly");
    CHECK(vp8_enc_encode(enc, src, size - 1, false, &(vp8_packet_t) { 0 }) == -EINVAL, "wrong image size -> EINVAL");
    free(src);
    vp8_enc_destroy(&enc);
    vp8_dec_destroy(&dec);
    CHECK(!enc && !dec, "destroy sets the pointers to NULL");
}

static void test_odd_size(void)
{
    printf("-- odd size 161x121, keyframe every 5 frames\n");
    enum { W = 161, H = 121, N = 12 };
    vp8_enc_config_t cfg;
    vp8_enc_config_defaults(&cfg);
    cfg.width = W, cfg.height = H, cfg.bitrate_kbps = 600, cfg.keyframe_interval = 5;
    vp8_enc_t *enc = vp8_enc_new(&cfg);
    vp8_dec_t *dec = vp8_dec_new();
    size_t size = vp8_i420_size(W, H);
    uint8_t *src = malloc(size);
    int ok = 0, keys = 0;
    double psnr_min = 99;
    for (int t = 0; t < N; t++) {
        s_synth(src, W, H, t);
        vp8_packet_t pkt;
        vp8_image_t img;
        if (vp8_enc_encode(enc, src, size, false, &pkt) == 1 && vp8_dec_decode(dec, pkt.data, pkt.len, &img) == 1
            && img.width == W && img.height == H && img.size == size) {
            ok++;
            keys += pkt.keyframe;
            double p = s_psnr(src, img.data, size);
            psnr_min = p < psnr_min ? p : psnr_min;
        }
    }
    CHECK(size == 161 * 121 + 2 * 81 * 61, "I420 size %zu: chroma planes round up", size);
    CHECK(ok == N && psnr_min > 30, "%d frames round-tripped, worst PSNR %.1f dB", ok, psnr_min);
    CHECK(keys >= 2, "automatic keyframes: %d in %d frames", keys, N);
    free(src);
    vp8_enc_destroy(&enc);
    vp8_dec_destroy(&dec);

    vp8_enc_config_defaults(&cfg);
    cfg.width = 0;
    errno = 0;
    CHECK(vp8_enc_new(&cfg) == NULL && errno == EINVAL, "0-width encoder rejected");
    cfg.width = 5000;
    CHECK(vp8_enc_new(&cfg) == NULL, "5000-wide encoder rejected (> VP8_MAX_DIMENSION)");
}

static void test_corrupt(void)
{
    printf("-- corrupt input\n");
    vp8_dec_t *dec = vp8_dec_new();
    vp8_image_t img;
    CHECK(vp8_dec_needs_keyframe(dec), "a new decoder waits for a keyframe");
    CHECK(vp8_dec_decode(dec, s_frames[1].data, s_frames[1].len, &img) == -EAGAIN, "inter frame first -> EAGAIN");
    CHECK(vp8_dec_decode(dec, NULL, 0, &img) == -EBADMSG && vp8_dec_decode(dec, s_frames[0].data, 2, &img) == -EBADMSG,
          "empty / 2-byte frame -> EBADMSG");
    uint8_t huge[10] = { 0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x1f, 0x40, 0x1f }; /* 8000x8000 */
    CHECK(vp8_dec_decode(dec, huge, sizeof huge, &img) == -EFBIG, "keyframe header claiming 8000x8000 -> EFBIG");
    uint8_t badstart[10] = { 0x50, 0x42, 0x00, 0x9d, 0x01, 0x2b, 0x40, 0x01, 0xf0, 0x00 };
    CHECK(vp8_dec_decode(dec, badstart, sizeof badstart, &img) == -EBADMSG, "keyframe with a bad start code -> EBADMSG");

    int trunc_err = 0;
    const int cuts[] = { 10, 20, 50, 100, (int) s_frames[0].len / 2, (int) s_frames[0].len - 200 };
    for (int i = 0; i < 6; i++)
        trunc_err += vp8_dec_decode(dec, s_frames[0].data, (size_t) cuts[i], &img) == -EBADMSG;
    CHECK(trunc_err == 6, "keyframe (%zu bytes) truncated at 6 points -> EBADMSG %d times", s_frames[0].len, trunc_err);
    CHECK(vp8_dec_needs_keyframe(dec) && vp8_dec_decode(dec, s_frames[1].data, s_frames[1].len, &img) == -EAGAIN,
          "after the error, inter frames wait for a keyframe");
    CHECK(vp8_dec_decode(dec, s_frames[0].data, s_frames[0].len, &img) == 1 && !vp8_dec_needs_keyframe(dec)
          && vp8_dec_decode(dec, s_frames[1].data, s_frames[1].len, &img) == 1,
          "a good keyframe resumes decoding");

    /* Random garbage, and garbage behind a valid keyframe header: any error
     * or a picture, never a crash (ASan/UBSan run this too). */
    uint8_t *buf = malloc(70000);
    int errs = 0, pics = 0, other = 0;
    s_rng = 31337;
    for (int i = 0; i < 3000; i++) {
        size_t len = 3 + s_rand() % 3000;
        for (size_t j = 0; j < len; j++)
            buf[j] = (uint8_t) s_rand();
        if (i % 2 && len >= 10) {
            memcpy(buf, s_frames[0].data, 10); /* 320x240 keyframe header */
        }
        int r = vp8_dec_decode(dec, buf, len, &img);
        if (r < 0)
            errs++;
        else if (r == 1 && img.size == vp8_i420_size(img.width, img.height))
            pics++;
        else if (r != 0)
            other++;
    }
    CHECK(other == 0 && errs > 2000, "3000 random frames: %d rejected, %d decoded to a picture, none crashed", errs, pics);

    /* Bit flips inside real frames, decoded in sequence. */
    vp8_dec_destroy(&dec);
    dec = vp8_dec_new();
    errs = 0, pics = 0;
    for (int round = 0; round < 5; round++)
        for (int f = 0; f < s_nframes; f++) {
            memcpy(buf, s_frames[f].data, s_frames[f].len);
            for (int k = 0; k < 4; k++)
                buf[s_rand() % s_frames[f].len] ^= (uint8_t) (1 << (s_rand() % 8));
            int r = vp8_dec_decode(dec, buf, s_frames[f].len, &img);
            errs += r < 0, pics += r == 1;
        }
    CHECK(errs + pics == 5 * s_nframes, "%d bit-flipped frames: %d errors, %d pictures", 5 * s_nframes, errs, pics);
    free(buf);
    vp8_dec_destroy(&dec);
}

static void test_ivf(void)
{
    printf("-- IVF round trip\n");
    char dir[] = "/tmp/vp8_codec_test.XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    char path[64];
    snprintf(path, sizeof path, "%s/a.ivf", dir);
    ivf_writer_t *w = ivf_writer_new(path, "VP80", 320, 240, 30, 1);
    int wr = 0;
    for (int i = 0; i < s_nframes; i++)
        wr += ivf_writer_write(w, s_frames[i].data, s_frames[i].len, (uint64_t) s_frames[i].pts + (i == 5 ? 1ull << 33 : 0)) == 0;
    CHECK(w && wr == s_nframes && ivf_writer_close(w) == 0, "wrote %d frames", wr);
    ivf_writer_destroy(&w);

    ivf_reader_t *r = ivf_reader_new(path);
    const ivf_header_t *h = r ? ivf_reader_header(r) : NULL;
    CHECK(h && !strcmp(h->fourcc, "VP80") && h->width == 320 && h->height == 240 && h->rate == 30 && h->scale == 1
          && h->frame_count == (uint32_t) s_nframes,
          "header: %s %dx%d, time base %u/%u, %u frames", h ? h->fourcc : "?", h ? h->width : 0, h ? h->height : 0,
          h ? h->scale : 0, h ? h->rate : 0, h ? h->frame_count : 0);
    int same = 0, n = 0, ret;
    const uint8_t *data;
    size_t len;
    uint64_t pts;
    vp8_dec_t *dec = vp8_dec_new();
    int decoded = 0;
    while (r && (ret = ivf_reader_next(r, &data, &len, &pts)) == 1) {
        uint64_t want = (uint64_t) s_frames[n].pts + (n == 5 ? 1ull << 33 : 0);
        same += len == s_frames[n].len && !memcmp(data, s_frames[n].data, len) && pts == want;
        vp8_image_t img;
        decoded += vp8_dec_decode(dec, data, len, &img) == 1;
        n++;
    }
    CHECK(r && ret == 0 && n == s_nframes && same == n && decoded == n,
          "read back %d identical frames (64-bit pts kept), all decode, then a clean EOF", same);
    ivf_reader_destroy(&r);
    vp8_dec_destroy(&dec);

    /* Truncated in the middle of the last frame. */
    FILE *f = fopen(path, "r+b");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    CHECK(truncate(path, size - 7) == 0, "file cut by 7 bytes");
    r = ivf_reader_new(path);
    n = 0;
    while ((ret = ivf_reader_next(r, &data, &len, &pts)) == 1)
        n++;
    CHECK(n == s_nframes - 1 && ret == -EBADMSG && ivf_reader_next(r, &data, &len, &pts) == -EBADMSG,
          "truncated file: %d frames, then EBADMSG (sticky)", n);
    ivf_reader_destroy(&r);

    /* A frame size field from a corrupt file. */
    f = fopen(path, "r+b");
    fseek(f, 32, SEEK_SET);
    fwrite("\xff\xff\xff\x7f", 1, 4, f);
    fclose(f);
    r = ivf_reader_new(path);
    CHECK(r && ivf_reader_next(r, &data, &len, &pts) == -EFBIG, "2 GB frame size -> EFBIG, nothing allocated");
    ivf_reader_destroy(&r);

    f = fopen(path, "wb");
    fwrite("RIFF0000WAVEfmt 0000000000000000000000000000", 1, 40, f);
    fclose(f);
    errno = 0;
    CHECK(ivf_reader_new(path) == NULL && errno == EBADMSG, "not IVF -> NULL, EBADMSG");
    errno = 0;
    CHECK(ivf_reader_new("/nonexistent/x.ivf") == NULL && errno == ENOENT, "missing file -> NULL, ENOENT");
    CHECK(ivf_writer_new(path, "VP8", 1, 1, 30, 1) == NULL, "3-character fourcc rejected");
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    test_round_trip();
    if (s_nframes < 2) {
        printf("FAIL no frames to test further\n");
        return 1;
    }
    test_odd_size();
    test_corrupt();
    test_ivf();
    for (int i = 0; i < s_nframes; i++)
        free(s_frames[i].data);
    printf(s_failures ? "%d check(s) FAILED\n" : "all checks passed\n", s_failures);
    return s_failures ? 1 : 0;
}
