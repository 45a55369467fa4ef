/* codec_video — see video.h. Decoding every frame is needed (inter frames
 * reference earlier ones), publishing every frame is not: a vision step wants
 * the latest picture, so at most `fps` frames per second per session go out. */
#include "video.h"
#include "vp8_codec.h"
#include "log.h"

#include <czmq.h>
#include <stdlib.h>

struct codec_video_t {
    int fps;
    zhashx_t *decoders;       /* session id -> s_dec_t */
    log_ratelimit_t rl;
    metric_t *m_frames_in, *m_frames_out, *m_errors;
};

typedef struct {
    vp8_dec_t *dec;
    int64_t last_out_us;
} s_dec_t;

static void s_dec_free(void **item)
{
    s_dec_t *d = *item;
    if (!d) return;
    vp8_dec_destroy(&d->dec);
    free(d);
    *item = NULL;
}

codec_video_t *codec_video_new(int fps, metrics_t *metrics)
{
    codec_video_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->fps = fps > 0 ? fps : 5;
    self->decoders = zhashx_new();
    if (!self->decoders) {
        free(self);
        return NULL;
    }
    zhashx_set_destructor(self->decoders, s_dec_free);
    self->rl = (log_ratelimit_t)LOG_RATELIMIT_INIT(5000, 5);
    self->m_frames_in = metrics_counter(metrics, "voxmesh_codec_video_frames_in_total", NULL, "VP8 frames received");
    self->m_frames_out = metrics_counter(metrics, "voxmesh_codec_video_frames_out_total", NULL,
                                         "Decoded frames published");
    self->m_errors = metrics_counter(metrics, "voxmesh_codec_video_errors_total", NULL, "VP8 frames that failed");
    return self;
}

void codec_video_destroy(codec_video_t **self_p)
{
    if (!self_p || !*self_p) return;
    zhashx_destroy(&(*self_p)->decoders);
    free(*self_p);
    *self_p = NULL;
}

void codec_video_end(codec_video_t *self, const char *session_id)
{
    if (self && session_id) zhashx_delete(self->decoders, session_id);
}

void codec_video_handle(codec_video_t *self, bus_t *bus, const event_t *ev)
{
    const char *id = ev->session_id;
    if (!id || !*id) return;
    s_dec_t *d = zhashx_lookup(self->decoders, id);
    if (!d) {
        d = calloc(1, sizeof *d);
        if (!d) return;
        d->dec = vp8_dec_new();
        if (!d->dec) {
            free(d);
            return;
        }
        zhashx_insert(self->decoders, id, d);
    }
    metric_add(self->m_frames_in, 1);
    const Voxmesh__EncodedVideo *v = ev->encoded_video;
    vp8_image_t img;
    int rc = vp8_dec_decode(d->dec, v->data.data, v->data.len, &img);
    if (rc < 0) {
        metric_add(self->m_errors, 1);
        uint64_t sup = 0;
        if (log_ratelimit_ok(&self->rl, &sup))
            log_session_warn(id, "VP8 frame dropped (%s) (%llu similar suppressed)",
                             rc == -EAGAIN ? "waiting for a keyframe" : "corrupt", (unsigned long long)sup);
        return;
    }
    int64_t now = time_mono_us();
    if (rc == 0 || now - d->last_out_us < 1000000 / self->fps) return;
    d->last_out_us = now;
    Voxmesh__VideoFrame f = VOXMESH__VIDEO_FRAME__INIT;
    f.width = (uint32_t)img.width;
    f.height = (uint32_t)img.height;
    f.pixel_format = "i420";
    f.data.data = (uint8_t *)img.data;
    f.data.len = img.size;
    f.rtp_timestamp = v->rtp_timestamp;
    event_t out = VOXMESH__ENVELOPE__INIT;
    out.session_id = (char *)id;
    out.origin_ts_us = ev->origin_ts_us;
    out.payload_case = VOXMESH__ENVELOPE__PAYLOAD_VIDEO_FRAME;
    out.video_frame = &f;
    bus_publish(bus, TOPIC_VIDEO_FRAME, &out);
    metric_add(self->m_frames_out, 1);
}
