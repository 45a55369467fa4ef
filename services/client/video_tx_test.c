/* video_tx_test — an IVF file of VP8 frames goes out as RFC 7741 RTP:
 * descriptors, marker bits, 90 kHz timestamps, sizes under the MTU, and the
 * frames reassemble (vp8_assembler) byte for byte.
 *
 *   video_tx_test                     run the test
 *   video_tx_test --write-ivf PATH S  write S seconds of 320x240 30 fps VP8
 *                                     (a moving gradient) for tests/client.sh */
#include "video_tx.h"
#include "ivf.h"
#include "rtc/rtp.h"
#include "test.h"
#include "vp8_codec.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define W 320
#define H 240

/* Writes `frames` frames; returns them concatenated with their sizes. */
static int s_write_ivf(const char *path, int frames, uint8_t **all, size_t *sizes)
{
    vp8_enc_config_t cfg;
    vp8_enc_config_defaults(&cfg);
    cfg.width = W;
    cfg.height = H;
    cfg.fps = 30;
    cfg.bitrate_kbps = 1500;
    vp8_enc_t *enc = vp8_enc_new(&cfg);
    ivf_writer_t *w = ivf_writer_new(path, "VP80", W, H, 30, 1);
    size_t size = vp8_i420_size(W, H);
    uint8_t *img = malloc(size);
    size_t total = 0;
    int n = 0;
    for (int t = 0; t < frames && enc && w; t++) {
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                img[y * W + x] = (uint8_t)(x + y + 4 * t + ((x * y + t * 131) % 97));
        memset(img + W * H, 128, size - W * H);
        vp8_packet_t pkt;
        if (vp8_enc_encode(enc, img, size, t == 0, &pkt) != 1)
            continue;
        ivf_writer_write(w, pkt.data, pkt.len, (uint64_t)t);
        if (all) {
            *all = realloc(*all, total + pkt.len);
            memcpy(*all + total, pkt.data, pkt.len);
            sizes[n] = pkt.len;
        }
        total += pkt.len;
        n++;
    }
    int rc = w && ivf_writer_close(w) == 0 ? n : -1;
    ivf_writer_destroy(&w);
    vp8_enc_destroy(&enc);
    free(img);
    return rc;
}

typedef struct {
    int packets;
    vp8_assembler_t *as;
    uint8_t *frames;
    size_t len, sizes[64];
    int nframes;
    uint32_t ts[64];
    bool bad;
} s_rx_t;

static int s_send(void *arg, const uint8_t *pkt, size_t len)
{
    s_rx_t *rx = arg;
    rtp_packet_t p;
    if (rtp_parse(pkt, len, &p, NULL) < 0 || p.pt != 96 || p.ssrc != 77 || len > 1200)
        rx->bad = true;
    rx->packets++;
    if (vp8_assembler_push(rx->as, &p, NULL) == VP8_ASM_FRAME) {
        size_t n;
        vp8_frame_info_t info;
        const uint8_t *f = vp8_assembler_frame(rx->as, &n, &info);
        rx->frames = realloc(rx->frames, rx->len + n);
        memcpy(rx->frames + rx->len, f, n);
        rx->len += n;
        if (rx->nframes < 64) {
            rx->sizes[rx->nframes] = n;
            rx->ts[rx->nframes] = info.ts;
        }
        rx->nframes++;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--write-ivf")) {
        int n = s_write_ivf(argv[2], atoi(argv[3]) * 30, NULL, NULL);
        return n > 0 ? 0 : 1;
    }
    char path[] = "/tmp/video_tx_test.XXXXXX";
    close(mkstemp(path));
    uint8_t *all = NULL;
    size_t sizes[64];
    int n = s_write_ivf(path, 30, &all, sizes);
    CHECK(n == 30, "30 frames written");
    char err[256];
    video_tx_t *v = video_tx_new(path, 96, 77, err, sizeof err);
    CHECK(v != NULL, "IVF opened %s", v ? "" : err);
    if (!v)
        return TEST_DONE();
    s_rx_t rx = { .as = vp8_assembler_new(0) };
    CHECK(video_tx_next_us(v) == 0, "first frame at 0");
    int sent = 0;
    while (video_tx_next_us(v) >= 0) {
        int64_t due = video_tx_next_us(v);
        if (sent == 10)
            CHECK(due == 333333, "frame 10 due at %lld us", (long long)due);
        if (video_tx_send(v, s_send, &rx) < 1)
            rx.bad = true;
        sent++;
    }
    CHECK(video_tx_send(v, s_send, &rx) == 0, "0 at the end");
    CHECK(!rx.bad, "every frame sent; every packet: pt 96, ssrc 77, <= 1200 bytes");
    CHECK(rx.nframes == 30 && rx.packets > 30, "30 frames reassembled from %d packets", rx.packets);
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += sizes[i];
    CHECK(rx.len == total && !memcmp(rx.frames, all, total), "frames identical");
    CHECK((uint32_t)(rx.ts[1] - rx.ts[0]) == 3000 && (uint32_t)(rx.ts[29] - rx.ts[0]) == 29 * 3000,
          "90 kHz timestamps, 3000 per frame at 30 fps");
    uint32_t p, o, f;
    video_tx_counts(v, &p, &o, &f);
    CHECK((int)p == rx.packets && f == 30 && o == total + p, "counters for RTCP SR");
    video_tx_destroy(&v);
    CHECK(v == NULL, "destroy nulls");
    CHECK(!video_tx_new("/nonexistent.ivf", 96, 1, err, sizeof err), "missing file: %s", err);
    CHECK(!video_tx_new("/etc/hostname", 96, 1, err, sizeof err), "not IVF: %s", err);
    vp8_assembler_destroy(&rx.as);
    free(rx.frames);
    free(all);
    unlink(path);
    return TEST_DONE();
}
