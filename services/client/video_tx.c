/* video_tx — see video_tx.h. */
#include "video_tx.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "ivf.h"
#include "rtc/rtp.h"

struct video_tx {
    ivf_reader_t *rd;
    uint32_t rate, scale;       /* pts unit = scale / rate s */
    uint8_t pt;
    uint32_t ssrc, ts0;
    uint16_t seq;
    /* the frame read ahead */
    const uint8_t *frame;
    size_t frame_len;
    uint64_t pts, pts0;
    bool have_pts0;
    bool eof;
    uint32_t packets, octets, frames;
};

static void s_read_ahead(video_tx_t *v)
{
    uint64_t pts = 0;
    int r = ivf_reader_next(v->rd, &v->frame, &v->frame_len, &pts);
    if (r != 1) {
        v->eof = true;
        v->frame = NULL;
        return;
    }
    if (!v->have_pts0) {
        v->pts0 = pts;
        v->have_pts0 = true;
    }
    v->pts = pts >= v->pts0 ? pts - v->pts0 : 0;
}

video_tx_t *video_tx_new(const char *path, uint8_t pt, uint32_t ssrc, char *err, size_t err_size)
{
    ivf_reader_t *rd = ivf_reader_new(path);
    if (!rd) {
        snprintf(err, err_size, "%s: %s", path,
                 errno == EBADMSG ? "not an IVF file" : strerror(errno));
        return NULL;
    }
    const ivf_header_t *h = ivf_reader_header(rd);
    if (strcmp(h->fourcc, "VP80") || !h->rate || !h->scale) {
        snprintf(err, err_size, "%s: not VP8 (%s) or no time base", path, h->fourcc);
        ivf_reader_destroy(&rd);
        return NULL;
    }
    video_tx_t *v = calloc(1, sizeof *v);
    if (!v) {
        ivf_reader_destroy(&rd);
        return NULL;
    }
    v->rd = rd;
    v->rate = h->rate;
    v->scale = h->scale;
    v->pt = pt;
    v->ssrc = ssrc;
    v->ts0 = g_random_int();
    v->seq = (uint16_t)g_random_int();
    s_read_ahead(v);
    if (v->eof) {
        snprintf(err, err_size, "%s: no frames", path);
        video_tx_destroy(&v);
    }
    return v;
}

void video_tx_destroy(video_tx_t **p)
{
    if (!p || !*p)
        return;
    ivf_reader_destroy(&(*p)->rd);
    free(*p);
    *p = NULL;
}

int64_t video_tx_next_us(const video_tx_t *v)
{
    if (v->eof)
        return -1;
    return (int64_t)(v->pts * v->scale * 1000000u / v->rate);
}

uint32_t video_tx_ts_at(const video_tx_t *v, int64_t us)
{
    return v->ts0 + (uint32_t)(us * 90000 / 1000000);
}

int video_tx_send(video_tx_t *v, video_tx_send_fn *send, void *arg)
{
    if (v->eof)
        return 0;
    uint32_t ts = v->ts0 + (uint32_t)(v->pts * v->scale * 90000u / v->rate);
    size_t off = 0;
    int n = 0;
    uint8_t pkt[RTP_MAX_PACKET];
    do {
        size_t chunk = v->frame_len - off;
        if (chunk > VIDEO_TX_MAX_PAYLOAD)
            chunk = VIDEO_TX_MAX_PAYLOAD;
        rtp_packet_t hdr = { .version = 2, .pt = v->pt, .seq = v->seq++, .ts = ts,
                             .ssrc = v->ssrc, .marker = off + chunk == v->frame_len };
        int hl = rtp_header_write(&hdr, pkt, sizeof pkt);
        if (hl < 0) {
            s_read_ahead(v);
            return -EINVAL;
        }
        pkt[hl] = off == 0 ? 0x10 : 0x00;   /* X=0 N=0 S=start PID=0 */
        memcpy(pkt + hl + 1, v->frame + off, chunk);
        int r = send(arg, pkt, (size_t)hl + 1 + chunk);
        if (r < 0) {
            s_read_ahead(v);    /* the frame is lost; the schedule goes on */
            return r;
        }
        off += chunk;
        n++;
        v->packets++;
        v->octets += (uint32_t)chunk + 1;
    } while (off < v->frame_len);
    v->frames++;
    s_read_ahead(v);
    return n;
}

void video_tx_counts(const video_tx_t *v, uint32_t *packets, uint32_t *octets, uint32_t *frames)
{
    *packets = v->packets;
    *octets = v->octets;
    *frames = v->frames;
}

uint32_t video_tx_ssrc(const video_tx_t *v)
{
    return v->ssrc;
}
