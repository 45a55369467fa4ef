/* source — see source.h. */
#include "source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oggopus.h"
#include "opus_codec.h"
#include "pcm.h"
#include "recorder.h"
#include "wav.h"

#define S_FRAME_MS 20
#define S_MAX_FILE (256u << 20)

struct source {
    source_kind_t kind;
    int rate;
    int channels, preskip;
    source_frame_t *frames;
    size_t count, cap;
    int16_t *pcm;               /* mono at rate: the whole input */
    size_t pcm_frames;
    uint8_t *bytes;             /* SOURCE_PCM16: little-endian copy of pcm */
    uint64_t samples48;
};

static void s_err(char *err, size_t size, const char *fmt, const char *a, const char *b)
{
    if (err && size)
        snprintf(err, size, fmt, a, b);
}

static source_frame_t *s_push(source_t *s)
{
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        source_frame_t *f = realloc(s->frames, cap * sizeof *f);
        if (!f)
            return NULL;
        s->frames = f;
        s->cap = cap;
    }
    source_frame_t *f = &s->frames[s->count++];
    memset(f, 0, sizeof *f);
    return f;
}

/* Reads a whole file; returns its bytes (malloc) or NULL with errno. */
static uint8_t *s_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            if (cap >= S_MAX_FILE) {
                errno = EFBIG;
                break;
            }
            cap = cap ? cap * 2 : 65536;
            uint8_t *b = realloc(buf, cap);
            if (!b)
                break;
            buf = b;
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0) {
            if (ferror(f))
                break;
            fclose(f);
            *len = n;
            if (!buf)
                buf = malloc(1);
            return buf;
        }
    }
    int e = errno ? errno : EIO;
    fclose(f);
    free(buf);
    errno = e;
    return NULL;
}

/* Appends decoded/converted mono samples to s->pcm. */
static int s_pcm_append(source_t *s, const int16_t *pcm, size_t n)
{
    int16_t *p = realloc(s->pcm, (s->pcm_frames + n) * sizeof *p + 1);
    if (!p)
        return -ENOMEM;
    memcpy(p + s->pcm_frames, pcm, n * sizeof *p);
    s->pcm = p;
    s->pcm_frames += n;
    return 0;
}

static int s_load_wav(source_t *s, const char *path, char *err, size_t err_size)
{
    pcm_t *in = NULL;
    const char *why = NULL;
    int rc = wav_read_file(path, &in, &why);
    if (rc < 0) {
        s_err(err, err_size, "%s: %s", path, why ? why : strerror(-rc));
        return rc;
    }
    if (pcm_frames(in) == 0) {
        pcm_destroy(&in);
        s_err(err, err_size, "%s: %s", path, "no audio in the file");
        return -EINVAL;
    }
    pcm_t *mono = pcm_resample(in, (uint32_t)s->rate, 1, PCM_S16);
    pcm_destroy(&in);
    if (!mono) {
        s_err(err, err_size, "%s: %s", path, "cannot convert the audio");
        return -EINVAL;
    }
    rc = s_pcm_append(s, pcm_data(mono), pcm_frames(mono));
    pcm_destroy(&mono);
    return rc;
}

/* Ogg/Opus: keeps the packets (Opus mode) and decodes them to mono PCM at
 * the rate (pcm16 mode, and the "voiced" flags). */
static int s_load_ogg(source_t *s, const uint8_t *data, size_t len, const char *path,
                      char *err, size_t err_size)
{
    oggopus_reader_t *rd = oggopus_reader_new();
    opus_dec_t *dec = opus_dec_new(s->rate, 1);
    int16_t *out = malloc(OPUS_CODEC_MAX_FRAMES_48K * sizeof *out);
    int rc = rd && dec && out ? oggopus_reader_feed(rd, data, len) : -ENOMEM;
    unsigned link = 0;
    oggopus_packet_t pkt;
    while (rc >= 0 && (rc = oggopus_reader_next(rd, &pkt)) == 1) {
        if (pkt.link != link) {
            link = pkt.link;
            opus_dec_reset(dec);
        }
        const oggopus_head_t *head = oggopus_reader_head(rd);
        if (s->count == 0 && head) {
            s->channels = head->channels > 1 ? 2 : 1;
            s->preskip = head->preskip;
        }
        int n = opus_dec_decode(dec, pkt.data, pkt.len, out, OPUS_CODEC_MAX_FRAMES_48K);
        if (n < 0) {
            s_err(err, err_size, "%s: %s", path, "a packet is not valid Opus");
            rc = -EBADMSG;
            break;
        }
        /* pre-skip and end trimming are counted at 48 kHz */
        int skip = (int)((int64_t)pkt.discard_start * s->rate / 48000);
        int trim = (int)((int64_t)pkt.discard_end * s->rate / 48000);
        int keep = n - skip - trim;
        if (keep > 0 && (rc = s_pcm_append(s, out + skip, (size_t)keep)) < 0)
            break;
        if (s->kind == SOURCE_OPUS) {
            source_frame_t *f = s_push(s);
            uint8_t *copy = malloc(pkt.len);
            if (!f || !copy) {
                free(copy);
                rc = -ENOMEM;
                break;
            }
            memcpy(copy, pkt.data, pkt.len);
            f->data = copy;
            f->len = pkt.len;
            f->samples48 = (uint32_t)pkt.samples;
            f->voiced = audio_voiced(out, (size_t)n);
            s->samples48 += (uint64_t)pkt.samples;
        }
        rc = 0;
    }
    if (rc == 0) {
        int fin = oggopus_reader_finish(rd);
        if (fin < 0 && fin != -ENODATA)
            rc = fin;
        if (fin == -ENODATA && s->pcm_frames == 0)
            rc = fin;
    }
    if (rc < 0 && err && !*err)
        s_err(err, err_size, "%s: %s", path,
              rd && *oggopus_reader_strerror(rd) ? oggopus_reader_strerror(rd) : "not a usable Ogg/Opus file");
    free(out);
    opus_dec_destroy(&dec);
    oggopus_reader_destroy(&rd);
    return rc < 0 ? rc : 0;
}

/* Cuts s->pcm into 20 ms frames: encoded (Opus) or as they are (pcm16). */
static int s_frame_pcm(source_t *s, char *err, size_t err_size)
{
    size_t fs = (size_t)s->rate * S_FRAME_MS / 1000;
    size_t nframes = (s->pcm_frames + fs - 1) / fs;
    /* pad the last frame with silence */
    int16_t *p = realloc(s->pcm, (nframes * fs + 1) * sizeof *p);
    if (!p)
        return -ENOMEM;
    memset(p + s->pcm_frames, 0, (nframes * fs - s->pcm_frames) * sizeof *p);
    s->pcm = p;
    opus_enc_t *enc = NULL;
    if (s->kind == SOURCE_OPUS) {
        opus_enc_config_t cfg;
        opus_enc_config_defaults(&cfg);
        cfg.rate = s->rate;
        cfg.channels = 1;
        cfg.frame_ms = S_FRAME_MS;
        enc = opus_enc_new(&cfg);
        if (!enc) {
            s_err(err, err_size, "%s%s", "cannot create the Opus encoder", "");
            return -EINVAL;
        }
        s->channels = 1;
        s->preskip = opus_enc_lookahead(enc);
    } else {
        s->bytes = malloc(nframes * fs * 2 + 1);
        if (!s->bytes)
            return -ENOMEM;
        for (size_t i = 0; i < nframes * fs; i++) {
            uint16_t v = (uint16_t)s->pcm[i];
            s->bytes[2 * i] = (uint8_t)v;
            s->bytes[2 * i + 1] = (uint8_t)(v >> 8);
        }
    }
    uint8_t pkt[OPUS_CODEC_MAX_PACKET];
    int rc = 0;
    for (size_t k = 0; k < nframes && rc == 0; k++) {
        const int16_t *pcm = s->pcm + k * fs;
        source_frame_t *f = s_push(s);
        if (!f) {
            rc = -ENOMEM;
            break;
        }
        f->samples48 = 48000 * S_FRAME_MS / 1000;
        f->voiced = audio_voiced(pcm, fs);
        if (enc) {
            int n = opus_enc_encode(enc, pcm, pkt, sizeof pkt);
            uint8_t *copy = n > 0 ? malloc((size_t)n) : NULL;
            if (!copy) {
                s_err(err, err_size, "%s%s", "Opus encoding failed", "");
                rc = n < 0 ? n : -ENOMEM;
                break;
            }
            memcpy(copy, pkt, (size_t)n);
            f->data = copy;
            f->len = (size_t)n;
        } else {
            f->pcm = pcm;
            f->frames = fs;
            f->data = s->bytes + k * fs * 2;
            f->len = fs * 2;
        }
        s->samples48 += f->samples48;
    }
    opus_enc_destroy(&enc);
    return rc;
}

source_t *source_new(const char *path, source_kind_t kind, int rate, char *err, size_t err_size)
{
    if (err && err_size)
        *err = '\0';
    if (!opus_rate_valid(rate)) {
        s_err(err, err_size, "%s%s", "unsupported rate", "");
        return NULL;
    }
    size_t len = 0;
    uint8_t *data = s_slurp(path, &len);
    if (!data) {
        s_err(err, err_size, "%s: %s", path, strerror(errno));
        return NULL;
    }
    source_t *s = calloc(1, sizeof *s);
    if (!s) {
        free(data);
        return NULL;
    }
    s->kind = kind;
    s->rate = rate;
    s->channels = 1;
    int rc;
    bool ogg = len >= 4 && !memcmp(data, "OggS", 4);
    if (ogg) {
        rc = s_load_ogg(s, data, len, path, err, err_size);
    } else if (len >= 12 && !memcmp(data, "RIFF", 4) && !memcmp(data + 8, "WAVE", 4)) {
        free(data);
        data = NULL;
        rc = s_load_wav(s, path, err, err_size);
    } else {
        s_err(err, err_size, "%s: %s", path, "neither a WAV nor an Ogg/Opus file");
        rc = -EINVAL;
    }
    free(data);
    if (rc == 0 && ogg && kind == SOURCE_OPUS && s->channels > 1) {
        /* we announce mono (ws hello, one Opus channel): re-encode stereo */
        for (size_t i = 0; i < s->count; i++)
            free((void *)s->frames[i].data);
        s->count = 0;
        s->samples48 = 0;
        ogg = false;
    }
    /* pcm16 always, and Opus from a WAV (or stereo Ogg): frames cut from the PCM */
    if (rc == 0 && (kind == SOURCE_PCM16 || !ogg))
        rc = s_frame_pcm(s, err, err_size);
    if (rc == 0 && s->count == 0) {
        s_err(err, err_size, "%s: %s", path, "no audio in the file");
        rc = -EINVAL;
    }
    if (rc < 0) {
        if (err && err_size && !*err)
            s_err(err, err_size, "%s: %s", path, strerror(-rc));
        source_destroy(&s);
    }
    return s;
}

void source_destroy(source_t **p)
{
    if (!p || !*p)
        return;
    source_t *s = *p;
    if (s->kind == SOURCE_OPUS)
        for (size_t i = 0; i < s->count; i++)
            free((void *)s->frames[i].data);
    free(s->frames);
    free(s->pcm);
    free(s->bytes);
    free(s);
    *p = NULL;
}

size_t source_count(const source_t *s)
{
    return s->count;
}

const source_frame_t *source_frame(const source_t *s, size_t i)
{
    return i < s->count ? &s->frames[i] : NULL;
}

int64_t source_duration_us(const source_t *s)
{
    return (int64_t)(s->samples48 * 1000000 / 48000);
}

int source_channels(const source_t *s)
{
    return s->channels;
}

int source_preskip(const source_t *s)
{
    return s->preskip;
}

const int16_t *source_pcm(const source_t *s, size_t *frames)
{
    *frames = s->pcm_frames;
    return s->pcm;
}
