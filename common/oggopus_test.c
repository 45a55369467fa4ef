/* oggopus_test — write/read round trip, streaming reads, interop with
 * opus-tools (opusdec reads what we write, we read what opusenc writes), and
 * malformed input. */
#include "oggopus.h"
#include "opus_codec.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ogg/ogg.h>

static int s_failures;

#define CHECK(cond, ...) do { \
    if (cond) { printf("ok   "); printf(__VA_ARGS__); printf("\n"); } \
    else { printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); s_failures++; } \
} while (0)

/* ---- fixtures ------------------------------------------------------------------ */

typedef struct {
    uint8_t *data;
    size_t len, cap;
    int pages;
    int fail_after;           /* sink fails after this many pages; 0 = never */
} buf_t;

static void s_append(buf_t *b, const void *data, size_t len)
{
    if (b->len + len > b->cap) {
        b->cap = (b->len + len) * 2;
        b->data = realloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

static int s_sink(void *arg, const uint8_t *data, size_t len)
{
    buf_t *b = arg;
    if (b->fail_after && b->pages >= b->fail_after)
        return -EPIPE;
    if (len < 27 || memcmp(data, "OggS", 4))
        return -EPROTO; /* every call must be exactly one page */
    s_append(b, data, len);
    b->pages++;
    return 0;
}

typedef struct {
    uint8_t data[OPUS_CODEC_MAX_PACKET];
    int len;
} pkt_t;

static void s_tones(int16_t *pcm, int frames, int rate)
{
    for (int i = 0; i < frames; i++) {
        double t = (double) i / rate;
        pcm[i] = (int16_t) lrint(8000 * sin(2 * M_PI * 440 * t) + 6000 * sin(2 * M_PI * 1000 * t));
    }
}

static double s_goertzel(const int16_t *x, int n, double f, int rate)
{
    double k = 2 * cos(2 * M_PI * f / rate), s1 = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        double s0 = x[i] + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    return (s1 * s1 + s2 * s2 - k * s1 * s2) / n;
}

/* Tones dominate: 440 Hz and 1 kHz at least 30 dB above off-tone bins. */
static bool s_tones_survive(const int16_t *x, int n, int rate, double *margin_db)
{
    double noise = (s_goertzel(x, n, 300, rate) + s_goertzel(x, n, 700, rate) + s_goertzel(x, n, 1500, rate)
                    + s_goertzel(x, n, 2500, rate)) / 4 + 1e-9;
    double a = s_goertzel(x, n, 440, rate), b = s_goertzel(x, n, 1000, rate);
    *margin_db = 10 * log10((a < b ? a : b) / noise);
    return *margin_db > 30;
}

/* Encodes `packets` x 20 ms of tones (48 kHz mono). */
static int s_make_packets(pkt_t *pkts, int packets, int *lookahead)
{
    opus_enc_config_t cfg;
    opus_enc_config_defaults(&cfg);
    opus_enc_t *enc = opus_enc_new(&cfg);
    if (!enc)
        return -1;
    int16_t *pcm = calloc((size_t) packets * 960, sizeof *pcm);
    s_tones(pcm, packets * 960, 48000);
    for (int i = 0; i < packets; i++)
        pkts[i].len = opus_enc_encode(enc, pcm + i * 960, pkts[i].data, sizeof pkts[i].data);
    *lookahead = opus_enc_lookahead(enc);
    free(pcm);
    opus_enc_destroy(&enc);
    return 0;
}

/* Writes packets with the given flush policy and end trim. */
static int s_write_stream(buf_t *out, const pkt_t *pkts, int n, int preskip, int flush_ms, int end_trim,
                          uint32_t serial)
{
    const char *comments[] = { "TITLE=voxmesh test", "ENCODER=oggopus_test", NULL };
    oggopus_writer_config_t cfg;
    oggopus_writer_config_defaults(&cfg);
    cfg.preskip = preskip, cfg.flush_ms = flush_ms, cfg.comments = comments, cfg.serial = serial;
    oggopus_writer_t *w = oggopus_writer_new(&cfg, s_sink, out);
    if (!w)
        return -1;
    /* A trim needs the last packet flagged as it is written; without one,
     * finish() after the fact (an empty EOS page when all was paged out). */
    int r = 0;
    for (int i = 0; i < n - (end_trim > 0) && r == 0; i++)
        r = oggopus_writer_write(w, pkts[i].data, (size_t) pkts[i].len);
    if (r == 0)
        r = end_trim > 0 ? oggopus_writer_write_eos(w, pkts[n - 1].data, (size_t) pkts[n - 1].len, end_trim)
                         : oggopus_writer_finish(w);
    oggopus_writer_destroy(&w);
    return r;
}

typedef struct {
    int count;
    int mismatched;           /* packets differing from the expected ones */
    int64_t discard_start, discard_end;
    int64_t last_granule;
    bool granule_ok;          /* each granule = previous + samples */
    bool last_eos;
    unsigned last_link;
    int result;               /* last return of next()/feed() */
} readout_t;

/* Feeds `data` in `piece`-byte chunks, draining packets as they come. */
static void s_read(const uint8_t *data, size_t len, size_t piece, const pkt_t *expect, int nexpect,
                   readout_t *ro, oggopus_reader_t **keep)
{
    memset(ro, 0, sizeof *ro);
    ro->granule_ok = true;
    oggopus_reader_t *r = oggopus_reader_new();
    int64_t prev = -1;
    for (size_t off = 0; off < len && ro->result >= 0; off += piece) {
        size_t n = len - off < piece ? len - off : piece;
        ro->result = oggopus_reader_feed(r, data + off, n);
        oggopus_packet_t p;
        while (ro->result >= 0 && (ro->result = oggopus_reader_next(r, &p)) == 1) {
            if (expect && (ro->count >= nexpect || p.len != (size_t) expect[ro->count].len
                           || memcmp(p.data, expect[ro->count].data, p.len)))
                ro->mismatched++;
            if (prev >= 0 && p.granulepos != prev + p.samples && p.link == ro->last_link)
                ro->granule_ok = false;
            prev = p.granulepos;
            ro->count++;
            ro->discard_start += p.discard_start;
            ro->discard_end += p.discard_end;
            ro->last_granule = p.granulepos;
            ro->last_eos = p.eos;
            ro->last_link = p.link;
        }
    }
    if (ro->result >= 0)
        ro->result = oggopus_reader_finish(r);
    if (keep)
        *keep = r;
    else
        oggopus_reader_destroy(&r);
}

/* ---- WAV files for opus-tools ---------------------------------------------------- */

static int s_write_wav(const char *path, const int16_t *pcm, int frames, int rate)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    uint32_t data_len = (uint32_t) frames * 2;
    uint8_t h[44];
    memcpy(h, "RIFF", 4);
    uint32_t v = 36 + data_len;
    memcpy(h + 4, &v, 4);
    memcpy(h + 8, "WAVEfmt ", 8);
    v = 16, memcpy(h + 16, &v, 4);
    uint16_t fmt = 1, ch = 1, align = 2, bits = 16;
    memcpy(h + 20, &fmt, 2), memcpy(h + 22, &ch, 2);
    v = (uint32_t) rate, memcpy(h + 24, &v, 4);
    v = (uint32_t) rate * 2, memcpy(h + 28, &v, 4);
    memcpy(h + 32, &align, 2), memcpy(h + 34, &bits, 2);
    memcpy(h + 36, "data", 4), memcpy(h + 40, &data_len, 4);
    bool ok = fwrite(h, 1, 44, f) == 44 && fwrite(pcm, 2, (size_t) frames, f) == (size_t) frames;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* Reads the 16-bit PCM of a WAV file (finds the "data" chunk). */
static int16_t *s_read_wav(const char *path, int *frames, int *channels, int *rate)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t h[12];
    int16_t *pcm = NULL;
    if (fread(h, 1, 12, f) != 12 || memcmp(h, "RIFF", 4) || memcmp(h + 8, "WAVE", 4))
        goto out;
    for (;;) {
        uint8_t ck[8];
        if (fread(ck, 1, 8, f) != 8)
            goto out;
        uint32_t len;
        memcpy(&len, ck + 4, 4);
        if (!memcmp(ck, "fmt ", 4)) {
            uint8_t fmt[16];
            if (len < 16 || fread(fmt, 1, 16, f) != 16)
                goto out;
            uint16_t c;
            uint32_t r;
            memcpy(&c, fmt + 2, 2), memcpy(&r, fmt + 4, 4);
            *channels = c, *rate = (int) r;
            fseek(f, (long) (len - 16 + (len & 1)), SEEK_CUR);
        } else if (!memcmp(ck, "data", 4)) {
            pcm = malloc(len ? len : 1);
            size_t got = fread(pcm, 1, len, f);
            *frames = (int) (got / 2 / (size_t) *channels);
            goto out;
        } else {
            fseek(f, (long) (len + (len & 1)), SEEK_CUR);
        }
    }
out:
    fclose(f);
    return pcm;
}

static char s_dir[64];

static const char *s_path(const char *name)
{
    static char path[4][128];
    static int i;
    i = (i + 1) % 4;
    snprintf(path[i], sizeof path[i], "%s/%s", s_dir, name);
    return path[i];
}

static int s_save(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static uint8_t *s_load(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(n > 0 ? (size_t) n : 1);
    *len = fread(data, 1, (size_t) n, f);
    fclose(f);
    return data;
}

/* ---- tests ----------------------------------------------------------------------- */

enum { NPKT = 100 };
static pkt_t s_pkts[NPKT];
static int s_la;

static void test_round_trip(void)
{
    printf("-- write, read back\n");
    const int policies[] = { 0, 100, 1000 };
    for (int pi = 0; pi < 3; pi++) {
        int flush_ms = policies[pi];
        int trim = flush_ms == 100 ? 500 : 0;
        buf_t out = { 0 };
        int r = s_write_stream(&out, s_pkts, NPKT, s_la, flush_ms, trim, 0);
        /* pages: OpusHead, OpusTags, the audio pages, and an empty EOS page
         * from finish() when there is no trim (every packet was paged out) */
        int expect_pages = 2 + (flush_ms ? NPKT * 20 / flush_ms : NPKT) + (trim == 0);
        CHECK(r == 0 && out.pages == expect_pages, "flush_ms %d: %zu bytes in %d pages (expected %d)",
              flush_ms, out.len, out.pages, expect_pages);
        readout_t ro;
        oggopus_reader_t *rd;
        s_read(out.data, out.len, out.len, s_pkts, NPKT, &ro, &rd);
        const oggopus_head_t *h = oggopus_reader_head(rd);
        CHECK(ro.result == 0 && ro.count == NPKT && ro.mismatched == 0,
              "flush_ms %d: read back %d identical packets, clean end (%d)", flush_ms, ro.count, ro.result);
        CHECK(h && h->channels == 1 && h->preskip == s_la && h->input_rate == 48000 && h->mapping_family == 0,
              "OpusHead: %d ch, pre-skip %d, input %u Hz", h ? h->channels : 0, h ? h->preskip : 0,
              h ? h->input_rate : 0);
        CHECK(oggopus_reader_vendor(rd) && !strcmp(oggopus_reader_vendor(rd), "voxmesh")
              && oggopus_reader_comment_count(rd) == 2 && !strcmp(oggopus_reader_comment(rd, 0), "TITLE=voxmesh test")
              && oggopus_reader_comment(rd, 2) == NULL,
              "OpusTags: vendor \"%s\", %d comments", oggopus_reader_vendor(rd), oggopus_reader_comment_count(rd));
        CHECK(ro.granule_ok && ro.last_granule == NPKT * 960 && ro.discard_start == s_la && ro.discard_end == trim,
              "granules count 48 kHz samples to %lld; discards: %lld at start (pre-skip), %lld at end (trim)",
              (long long) ro.last_granule, (long long) ro.discard_start, (long long) ro.discard_end);
        CHECK(oggopus_reader_eos(rd) && ro.last_eos == (trim != 0),
              "end of stream seen%s", trim ? ", flagged on the last packet" : " (empty EOS page)");
        oggopus_reader_destroy(&rd);

        readout_t ro7;
        s_read(out.data, out.len, 7, s_pkts, NPKT, &ro7, NULL);
        CHECK(ro7.result == 0 && ro7.count == NPKT && ro7.mismatched == 0 && ro7.discard_start == ro.discard_start
              && ro7.discard_end == ro.discard_end && ro7.last_granule == ro.last_granule,
              "streaming read in 7-byte pieces gives the same %d packets and timeline", ro7.count);
        readout_t ro1;
        s_read(out.data, out.len, 1, s_pkts, NPKT, &ro1, NULL);
        CHECK(ro1.result == 0 && ro1.count == NPKT && ro1.mismatched == 0, "and so do 1-byte pieces");
        free(out.data);
    }
}

/* Packets come out as soon as their page is complete: what streaming needs. */
static void test_streaming_latency(void)
{
    printf("-- streaming: pages out and packets in as they happen\n");
    buf_t out = { 0 };
    oggopus_writer_config_t cfg;
    oggopus_writer_config_defaults(&cfg);
    oggopus_writer_t *w = oggopus_writer_new(&cfg, s_sink, &out);
    oggopus_reader_t *rd = oggopus_reader_new();
    size_t fed = 0;
    int in_step = 0, bad = 0;
    for (int i = 0; i < 10; i++) {
        if (oggopus_writer_write(w, s_pkts[i].data, (size_t) s_pkts[i].len) < 0)
            bad++;
        oggopus_reader_feed(rd, out.data + fed, out.len - fed);
        fed = out.len;
        oggopus_packet_t p;
        int got = 0;
        while (oggopus_reader_next(rd, &p) == 1)
            got++;
        in_step += got == 1;
    }
    CHECK(bad == 0 && in_step == 10, "flush_ms 0: each written packet is readable right away (%d of 10)", in_step);
    CHECK(oggopus_writer_position(w) == 9600, "writer position %lld", (long long) oggopus_writer_position(w));
    CHECK(oggopus_reader_finish(rd) == -ENODATA, "finish before the EOS page -> ENODATA (%s)",
          oggopus_reader_strerror(rd));
    oggopus_writer_destroy(&w);
    oggopus_reader_destroy(&rd);
    free(out.data);

    out = (buf_t) { 0 };
    w = oggopus_writer_new(&cfg, s_sink, &out);
    CHECK(oggopus_writer_flush(w) == 0 && out.pages == 2, "flush before any audio sends the 2 header pages");
    CHECK(oggopus_writer_write(w, (const uint8_t *) "", 0) == -EINVAL, "empty packet -> EINVAL");
    uint8_t bad_pkt[] = { 0xff, 0x00 };
    CHECK(oggopus_writer_write(w, bad_pkt, 2) == -EINVAL, "invalid Opus packet -> EINVAL");
    CHECK(oggopus_writer_write(w, s_pkts[0].data, (size_t) s_pkts[0].len) == 0, "a packet");
    CHECK(oggopus_writer_write_eos(w, s_pkts[1].data, (size_t) s_pkts[1].len, 960) == -EINVAL,
          "end trim of a whole 20 ms packet -> EINVAL");
    CHECK(oggopus_writer_write_eos(w, s_pkts[1].data, (size_t) s_pkts[1].len, 959) == 0
          && oggopus_writer_write(w, s_pkts[2].data, (size_t) s_pkts[2].len) == -EINVAL
          && oggopus_writer_finish(w) == -EINVAL,
          "end trim of 959 samples ends the stream; writes and finish after it -> EINVAL");
    oggopus_writer_destroy(&w);
    free(out.data);

    out = (buf_t) { .fail_after = 3 };
    w = oggopus_writer_new(&cfg, s_sink, &out);
    int r = 0;
    for (int i = 0; i < 5 && r == 0; i++)
        r = oggopus_writer_write(w, s_pkts[i].data, (size_t) s_pkts[i].len);
    CHECK(r == -EPIPE && oggopus_writer_flush(w) == -EPIPE, "a failing sink's error comes back and sticks");
    oggopus_writer_destroy(&w);
    free(out.data);
    cfg.channels = 3;
    CHECK(oggopus_writer_new(&cfg, s_sink, &out) == NULL && errno == EINVAL, "3 channels rejected");
}

static void test_chained(void)
{
    printf("-- chained streams\n");
    buf_t out = { 0 };
    int r1 = s_write_stream(&out, s_pkts, 20, s_la, 60, 0, 1111);
    int r2 = s_write_stream(&out, s_pkts + 20, 30, 0, 0, 0, 2222);
    readout_t ro;
    s_read(out.data, out.len, 13, s_pkts, 50, &ro, NULL);
    CHECK(r1 == 0 && r2 == 0 && ro.result == 0 && ro.count == 50 && ro.mismatched == 0 && ro.last_link == 1
          && ro.discard_start == s_la && ro.last_granule == 30 * 960,
          "two concatenated streams: 50 packets, link 1 restarts the timeline at 0");
    free(out.data);
}

/* Builds an Ogg stream from raw packets: each with its granule; a page is
 * flushed after every packet. */
typedef struct {
    const void *data;
    size_t len;
    int64_t granule;
} raw_t;

static void s_craft(buf_t *out, const raw_t *pk, int n, int serial, bool eos)
{
    ogg_stream_state os;
    ogg_stream_init(&os, serial);
    for (int i = 0; i < n; i++) {
        ogg_packet op = { .packet = (unsigned char *) pk[i].data, .bytes = (long) pk[i].len,
                          .b_o_s = i == 0, .e_o_s = eos && i == n - 1, .granulepos = pk[i].granule,
                          .packetno = i };
        ogg_stream_packetin(&os, &op);
        ogg_page og;
        while (ogg_stream_flush(&os, &og)) {
            s_append(out, og.header, (size_t) og.header_len);
            s_append(out, og.body, (size_t) og.body_len);
        }
    }
    ogg_stream_clear(&os);
}

static const uint8_t s_head[19] = { 'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 1, 1, 0x38, 1, 0x80, 0xbb, 0, 0, 0, 0, 0 };
static const uint8_t s_tags[] = { 'O', 'p', 'u', 's', 'T', 'a', 'g', 's', 1, 0, 0, 0, 'x', 0, 0, 0, 0 };

static int s_expect_error(const char *what, const buf_t *b, int want)
{
    readout_t ro;
    oggopus_reader_t *rd;
    s_read(b->data, b->len, 5, NULL, 0, &ro, &rd);
    CHECK(ro.result == want, "%s -> %s (%s)", what, strerror(-ro.result), oggopus_reader_strerror(rd));
    bool sticky = oggopus_reader_feed(rd, s_head, sizeof s_head) == ro.result;
    oggopus_reader_destroy(&rd);
    return sticky;
}

static void test_malformed(void)
{
    printf("-- malformed input\n");
    buf_t good = { 0 };
    s_write_stream(&good, s_pkts, 20, s_la, 0, 0, 77);

    buf_t b = { 0 };
    s_append(&b, "this is not an Ogg stream at all, just text", 43);
    bool sticky = s_expect_error("plain text", &b, -EBADMSG);
    CHECK(sticky, "the error is sticky: later feeds return it");
    free(b.data);

    b = (buf_t) { 0 };
    s_append(&b, good.data, good.len);
    b.data[b.len / 2] ^= 0x40;
    s_expect_error("one flipped bit mid-stream (CRC)", &b, -EBADMSG);
    free(b.data);

    b = (buf_t) { 0 };
    s_append(&b, good.data, good.len - 30);
    readout_t ro;
    s_read(b.data, b.len, 100, s_pkts, 20, &ro, NULL);
    CHECK(ro.result == -ENODATA && ro.count == 19 && ro.mismatched == 0,
          "stream cut mid-page: the 19 whole packets, then ENODATA");
    free(b.data);

    /* Drop the 5th page (an audio page): a page sequence gap. */
    b = (buf_t) { 0 };
    size_t off = 0;
    for (int page = 0; off < good.len; page++) {
        size_t len = 27 + good.data[off + 26];
        for (int i = 0; i < good.data[off + 26]; i++)
            len += good.data[off + 27 + i];
        if (page != 4)
            s_append(&b, good.data + off, len);
        off += len;
    }
    s_expect_error("a missing page", &b, -EBADMSG);
    free(b.data);

    uint8_t vorbis[30] = { 1, 'v', 'o', 'r', 'b', 'i', 's' };
    raw_t rv[] = { { vorbis, sizeof vorbis, 0 }, { "xxxx", 4, 0 } };
    b = (buf_t) { 0 };
    s_craft(&b, rv, 2, 5, true);
    s_expect_error("an Ogg Vorbis stream", &b, -ENOTSUP);
    free(b.data);

    uint8_t head[19];
    memcpy(head, s_head, 19);
    head[8] = 0x10;
    raw_t r1[] = { { head, 19, 0 }, { s_tags, sizeof s_tags, 0 } };
    b = (buf_t) { 0 };
    s_craft(&b, r1, 2, 5, true);
    s_expect_error("OpusHead version 16", &b, -ENOTSUP);
    free(b.data);

    memcpy(head, s_head, 19);
    head[9] = 3;
    b = (buf_t) { 0 };
    s_craft(&b, r1, 2, 5, true);
    s_expect_error("OpusHead family 0 with 3 channels", &b, -EBADMSG);
    free(b.data);

    raw_t r2[] = { { s_head, 12, 0 } };
    b = (buf_t) { 0 };
    s_craft(&b, r2, 1, 5, true);
    s_expect_error("OpusHead of 12 bytes", &b, -EBADMSG);
    free(b.data);

    uint8_t tags[24];
    memcpy(tags, s_tags, sizeof s_tags);
    tags[13] = 0xff, tags[14] = 0xff, tags[15] = 0xff, tags[16] = 0x7f; /* 2^31 comments */
    raw_t r3[] = { { s_head, 19, 0 }, { tags, sizeof s_tags, 0 } };
    b = (buf_t) { 0 };
    s_craft(&b, r3, 2, 5, true);
    s_expect_error("OpusTags claiming 2^31 comments", &b, -EBADMSG);
    free(b.data);

    uint8_t bad_opus[] = { 0xff, 0x00 };
    raw_t r4[] = { { s_head, 19, 0 }, { s_tags, sizeof s_tags, 0 }, { bad_opus, 2, 960 } };
    b = (buf_t) { 0 };
    s_craft(&b, r4, 3, 5, true);
    s_expect_error("an audio packet that is not Opus", &b, -EBADMSG);
    free(b.data);

    raw_t r5[] = { { s_head, 19, 0 }, { s_tags, sizeof s_tags, 0 }, { s_pkts[0].data, (size_t) s_pkts[0].len, 100 },
                   { s_pkts[1].data, (size_t) s_pkts[1].len, 1060 } };
    b = (buf_t) { 0 };
    s_craft(&b, r5, 4, 5, true);
    s_expect_error("first audio page granule 100 < its 960 samples", &b, -EBADMSG);
    free(b.data);

    r5[2].granule = INT64_MAX, r5[3].granule = INT64_MAX;
    b = (buf_t) { 0 };
    s_craft(&b, r5, 4, 5, true);
    s_expect_error("granule position 2^63-1", &b, -EBADMSG);
    free(b.data);

    /* Start offset: granule above the first page's audio is legal. */
    r5[2].granule = 48960, r5[3].granule = 49920;
    b = (buf_t) { 0 };
    s_craft(&b, r5, 4, 5, true);
    s_read(b.data, b.len, 9, NULL, 0, &ro, NULL);
    CHECK(ro.result == 0 && ro.count == 2 && ro.last_granule == 49920,
          "a first-page start offset of 1 s is accepted (granule %lld)", (long long) ro.last_granule);
    free(b.data);

    /* Random bytes and random corruptions of a good stream must fail
     * cleanly, never crash (the fuzz target does more of this). */
    uint32_t rng = 99;
    int errors = 0;
    for (int i = 0; i < 300; i++) {
        b = (buf_t) { 0 };
        s_append(&b, good.data, good.len);
        for (int k = 0; k < 3; k++) {
            rng = rng * 1664525u + 1013904223u;
            b.data[(rng >> 8) % b.len] = (uint8_t) rng;
        }
        s_read(b.data, b.len, 1 + i % 50, NULL, 0, &ro, NULL);
        errors += ro.result < 0;
        free(b.data);
    }
    CHECK(errors > 250, "300 randomly corrupted streams: %d rejected (the rest hit only unchecked bytes)", errors);
    free(good.data);
}

static bool s_have(const char *tool)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
    return system(cmd) == 0;
}

static void test_opusdec_reads_ours(void)
{
    printf("-- opusdec decodes what we write\n");
    if (!s_have("opusdec")) {
        printf("SKIP opusdec not installed\n");
        return;
    }
    const int policies[] = { 0, 100 };
    for (int pi = 0; pi < 2; pi++) {
        int flush_ms = policies[pi], trim = flush_ms ? 700 : 0;
        buf_t out = { 0 };
        int r = s_write_stream(&out, s_pkts, NPKT, s_la, flush_ms, trim, 0);
        const char *opus = s_path("ours.opus"), *wav = s_path("ours.wav");
        char cmd[512];
        snprintf(cmd, sizeof cmd, "opusdec --quiet --rate 48000 %s %s", opus, wav);
        int rc = r == 0 && s_save(opus, out.data, out.len) == 0 ? system(cmd) : -1;
        int frames = 0, ch = 0, rate = 0;
        int16_t *pcm = rc == 0 ? s_read_wav(wav, &frames, &ch, &rate) : NULL;
        int expect = NPKT * 960 - s_la - trim;
        double margin = 0;
        CHECK(rc == 0 && pcm && ch == 1 && rate == 48000 && frames == expect,
              "flush_ms %d: opusdec exit %d, %d frames at %d Hz (expected %d = packets - pre-skip - trim)",
              flush_ms, rc, frames, rate, expect);
        CHECK(pcm && frames > 9600 && s_tones_survive(pcm + 4800, frames - 9600, 48000, &margin),
              "opusdec output has the tones, %.1f dB above the noise bins", margin);
        free(pcm);
        free(out.data);
        unlink(opus), unlink(wav);
    }
}

static void test_we_read_opusenc(void)
{
    printf("-- we decode what opusenc writes\n");
    if (!s_have("opusenc")) {
        printf("SKIP opusenc not installed\n");
        return;
    }
    enum { N = 72000 + 123 }; /* 1.5 s and a bit: not a whole number of packets */
    int16_t *in = malloc(N * sizeof *in), *out = calloc(N + 48000, sizeof *out);
    s_tones(in, N, 48000);
    const char *wav = s_path("in.wav"), *opus = s_path("theirs.opus");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "opusenc --quiet --bitrate 48 --comment ARTIST=tester %s %s", wav, opus);
    int rc = s_write_wav(wav, in, N, 48000) == 0 ? system(cmd) : -1;
    size_t len = 0;
    uint8_t *file = rc == 0 ? s_load(opus, &len) : NULL;
    CHECK(rc == 0 && file && len > 1000, "opusenc wrote %zu bytes", len);
    if (!file) {
        free(in), free(out);
        return;
    }
    oggopus_reader_t *rd = oggopus_reader_new();
    opus_dec_t *dec = opus_dec_new(48000, 1);
    int kept = 0, packets = 0, err = 0;
    int16_t pcm[OPUS_CODEC_MAX_FRAMES_48K];
    /* Streaming, in 7-byte pieces: the timeline must come out exact. */
    for (size_t off = 0; off < len && err == 0; off += 7) {
        err = oggopus_reader_feed(rd, file + off, len - off < 7 ? len - off : 7);
        oggopus_packet_t p;
        int r;
        while (err == 0 && (r = oggopus_reader_next(rd, &p)) != 0) {
            if (r < 0) {
                err = r;
                break;
            }
            int n = opus_dec_decode(dec, p.data, p.len, pcm, OPUS_CODEC_MAX_FRAMES_48K);
            if (n != p.samples) {
                err = -EIO;
                break;
            }
            int keep = n - p.discard_start - p.discard_end;
            if (kept + keep > N + 48000)
                break;
            memcpy(out + kept, pcm + p.discard_start, (size_t) keep * sizeof *pcm);
            kept += keep;
            packets++;
        }
    }
    if (err == 0)
        err = oggopus_reader_finish(rd);
    const oggopus_head_t *h = oggopus_reader_head(rd);
    CHECK(err == 0 && h && h->channels == 1 && h->input_rate == 48000,
          "read %d packets; OpusHead: %d ch, pre-skip %d, input %u Hz (%s)", packets, h ? h->channels : 0,
          h ? h->preskip : 0, h ? h->input_rate : 0, oggopus_reader_strerror(rd));
    bool tag = false;
    for (int i = 0; i < oggopus_reader_comment_count(rd); i++)
        tag |= !strcmp(oggopus_reader_comment(rd, i), "ARTIST=tester");
    CHECK(tag, "OpusTags vendor \"%s\" with our ARTIST comment", oggopus_reader_vendor(rd));
    CHECK(kept == N, "after pre-skip and end trimming: %d samples, exactly the %d that went in", kept, N);
    double margin = 0;
    CHECK(s_tones_survive(out + 4800, N - 9600, 48000, &margin), "the tones survive, %.1f dB above noise bins", margin);
    double xy = 0, xx = 0, yy = 0;
    for (int i = 4800; i < N - 4800; i++)
        xy += (double) in[i] * out[i], xx += (double) in[i] * in[i], yy += (double) out[i] * out[i];
    double corr = xy / sqrt(xx * yy);
    CHECK(corr > 0.9, "pre-skip aligns the output with the input: correlation %.3f at lag 0", corr);
    opus_dec_destroy(&dec);
    oggopus_reader_destroy(&rd);
    free(file), free(in), free(out);
    unlink(wav), unlink(opus);
}

int main(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/oggopus_test.XXXXXX");
    if (!mkdtemp(s_dir)) {
        perror("mkdtemp");
        return 1;
    }
    if (s_make_packets(s_pkts, NPKT, &s_la) < 0) {
        printf("FAIL cannot encode test packets\n");
        return 1;
    }
    test_round_trip();
    test_streaming_latency();
    test_chained();
    test_malformed();
    test_opusdec_reads_ours();
    test_we_read_opusenc();
    rmdir(s_dir);
    printf(s_failures ? "%d check(s) FAILED\n" : "all checks passed\n", s_failures);
    return s_failures ? 1 : 0;
}
