/* recorder — see recorder.h. */
#include "recorder.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pcm.h"
#include "wav.h"

struct recorder {
    int rate;
    int64_t t0_us;
    size_t max_frames;
    int16_t *buf;
    size_t cap, len;              /* allocated / written extent, in frames */
    int64_t first_voiced_us, last_voiced_us;
    uint64_t received, concealed;
    /* recorder_put_stream */
    bool stream_started;
    int64_t stream_pos;           /* next frame position */
    int64_t stream_anchor_us;     /* arrival time of the stream's media time 0 */
    uint64_t stream_media;        /* frames since the anchor */
    double jitter_us;
    bool have_transit;
    double last_transit_us;
};

bool audio_voiced(const int16_t *pcm, size_t n)
{
    if (!n)
        return false;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)pcm[i] * pcm[i];
    double rms = sqrt(sum / (double)n) / 32768.0;
    return rms > pow(10.0, RECORDER_VOICED_DBFS / 20.0);
}

recorder_t *recorder_new(int rate, int64_t t0_us, size_t max_frames)
{
    if (rate <= 0)
        return NULL;
    recorder_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->rate = rate;
    r->t0_us = t0_us;
    r->max_frames = max_frames;
    r->first_voiced_us = r->last_voiced_us = -1;
    return r;
}

void recorder_destroy(recorder_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->buf);
    free(*p);
    *p = NULL;
}

int recorder_rate(const recorder_t *r)
{
    return r->rate;
}

void recorder_set_t0(recorder_t *r, int64_t t0_us)
{
    r->t0_us = t0_us;
}

int64_t recorder_pos(const recorder_t *r, int64_t at_us)
{
    int64_t d = at_us - r->t0_us;
    /* floor division, so that times before t0 map to negative positions */
    int64_t num = d * r->rate;
    return num >= 0 ? num / 1000000 : -((-num + 999999) / 1000000);
}

static bool s_reserve(recorder_t *r, size_t frames)
{
    if (frames <= r->cap)
        return true;
    size_t cap = r->cap ? r->cap : (size_t)r->rate;
    while (cap < frames)
        cap *= 2;
    if (cap > r->max_frames)
        cap = r->max_frames;
    int16_t *b = realloc(r->buf, cap * sizeof *b);
    if (!b)
        return false;
    memset(b + r->cap, 0, (cap - r->cap) * sizeof *b);
    r->buf = b;
    r->cap = cap;
    return true;
}

void recorder_put(recorder_t *r, int64_t pos, const int16_t *pcm, size_t n,
                  int64_t arrival_us, bool concealed)
{
    if (!n)
        return;
    if (concealed) {
        r->concealed += n;
    } else {
        r->received += n;
        if (audio_voiced(pcm, n)) {
            if (r->first_voiced_us < 0)
                r->first_voiced_us = arrival_us;
            r->last_voiced_us = arrival_us;
        }
    }
    if (pos < 0) {
        if ((int64_t)n <= -pos)
            return;
        pcm += -pos;
        n -= (size_t)-pos;
        pos = 0;
    }
    if ((size_t)pos >= r->max_frames)
        return;
    if (n > r->max_frames - (size_t)pos)
        n = r->max_frames - (size_t)pos;
    if (!s_reserve(r, (size_t)pos + n))
        return;
    memcpy(r->buf + pos, pcm, n * sizeof *pcm);
    if ((size_t)pos + n > r->len)
        r->len = (size_t)pos + n;
}

void recorder_put_stream(recorder_t *r, const int16_t *pcm, size_t n, int64_t arrival_us)
{
    if (!n)
        return;
    int64_t natural = recorder_pos(r, arrival_us);
    if (!r->stream_started || natural > r->stream_pos + r->rate / 5) {
        if (!r->stream_started || natural > r->stream_pos)
            r->stream_pos = natural;
        r->stream_started = true;
        r->stream_anchor_us = arrival_us;
        r->stream_media = 0;
        r->have_transit = false;
    }
    /* transit = arrival - media time (plus a constant): its variation is jitter */
    double transit = (double)(arrival_us - r->stream_anchor_us)
                     - (double)r->stream_media * 1e6 / r->rate;
    if (r->have_transit) {
        double d = fabs(transit - r->last_transit_us);
        r->jitter_us += (d - r->jitter_us) / 16.0;
    }
    r->last_transit_us = transit;
    r->have_transit = true;
    recorder_put(r, r->stream_pos, pcm, n, arrival_us, false);
    r->stream_pos += (int64_t)n;
    r->stream_media += n;
}

int64_t recorder_first_voiced_us(const recorder_t *r)
{
    return r->first_voiced_us;
}

int64_t recorder_last_voiced_us(const recorder_t *r)
{
    return r->last_voiced_us;
}

uint64_t recorder_received_frames(const recorder_t *r)
{
    return r->received;
}

uint64_t recorder_concealed_frames(const recorder_t *r)
{
    return r->concealed;
}

size_t recorder_frames(const recorder_t *r)
{
    return r->len;
}

double recorder_stream_jitter_ms(const recorder_t *r)
{
    return r->jitter_us / 1000.0;
}

int recorder_write_wav(const recorder_t *r, const char *path, int min_ms)
{
    size_t frames = r->len;
    size_t min_frames = min_ms > 0 ? pcm_ms_to_frames((uint32_t)r->rate, (uint32_t)min_ms) : 0;
    if (frames < min_frames)
        frames = min_frames;
    pcm_t *pcm = pcm_new((uint32_t)r->rate, 1, PCM_S16, frames);
    if (!pcm)
        return -ENOMEM;
    if (r->len)
        memcpy(pcm_data(pcm), r->buf, r->len * sizeof(int16_t));
    int rc = wav_write_file(path, pcm);
    pcm_destroy(&pcm);
    return rc;
}
