/* vp8_codec — see vp8_codec.h. */
#include "vp8_codec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <vpx/vp8cx.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vpx_encoder.h>

size_t vp8_i420_size(int width, int height)
{
    if (width < 1 || height < 1 || width > VP8_MAX_DIMENSION || height > VP8_MAX_DIMENSION)
        return 0;
    size_t cw = ((size_t) width + 1) / 2, ch = ((size_t) height + 1) / 2;
    return (size_t) width * (size_t) height + 2 * cw * ch;
}

bool vp8_frame_is_keyframe(const uint8_t *frame, size_t len)
{
    /* Frame tag bit 0 is 0 for a keyframe; a keyframe also carries the start
     * code 9d 01 2a after the 3-byte tag. */
    return frame && len >= 10 && !(frame[0] & 1)
        && frame[3] == 0x9d && frame[4] == 0x01 && frame[5] == 0x2a;
}

int vp8_frame_size(const uint8_t *frame, size_t len, int *width, int *height)
{
    if (!frame || len < 3)
        return -EBADMSG;
    if (frame[0] & 1)
        return -EINVAL;
    if (!vp8_frame_is_keyframe(frame, len))
        return -EBADMSG;
    /* 14 bits of size, 2 bits of upscaling hint (which we ignore). */
    int w = (frame[6] | frame[7] << 8) & 0x3fff;
    int h = (frame[8] | frame[9] << 8) & 0x3fff;
    if (w == 0 || h == 0)
        return -EBADMSG;
    if (width)
        *width = w;
    if (height)
        *height = h;
    return 0;
}

/* ---- decoder ----------------------------------------------------------------- */

struct _vp8_dec_t {
    vpx_codec_ctx_t ctx;
    bool need_key;
    uint8_t *buf;
    size_t cap;
};

vp8_dec_t *vp8_dec_new(void)
{
    vp8_dec_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    vpx_codec_dec_cfg_t cfg = { .threads = 1 };
    if (vpx_codec_dec_init(&self->ctx, vpx_codec_vp8_dx(), &cfg, 0) != VPX_CODEC_OK) {
        free(self);
        errno = EIO;
        return NULL;
    }
    self->need_key = true;
    return self;
}

void vp8_dec_destroy(vp8_dec_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    vpx_codec_destroy(&(*self_p)->ctx);
    free((*self_p)->buf);
    free(*self_p);
    *self_p = NULL;
}

bool vp8_dec_needs_keyframe(const vp8_dec_t *self)
{
    return self->need_key;
}

/* Copies the planes row by row: libvpx pads its rows and borders. */
static int s_copy_image(vp8_dec_t *self, const vpx_image_t *img, vp8_image_t *out)
{
    int w = (int) img->d_w, h = (int) img->d_h;
    size_t size = vp8_i420_size(w, h);
    if (!size || img->fmt != VPX_IMG_FMT_I420)
        return -EBADMSG;
    if (size > self->cap) {
        uint8_t *p = realloc(self->buf, size);
        if (!p)
            return -ENOMEM;
        self->buf = p, self->cap = size;
    }
    uint8_t *dst = self->buf;
    for (int plane = 0; plane < 3; plane++) {
        int pw = plane ? (w + 1) / 2 : w, ph = plane ? (h + 1) / 2 : h;
        for (int y = 0; y < ph; y++) {
            memcpy(dst, img->planes[plane] + (size_t) y * (size_t) img->stride[plane], (size_t) pw);
            dst += pw;
        }
    }
    out->width = w, out->height = h;
    out->data = self->buf;
    out->size = size;
    return 0;
}

int vp8_dec_decode(vp8_dec_t *self, const uint8_t *frame, size_t len, vp8_image_t *img)
{
    if (!self || !img)
        return -EINVAL;
    if (!frame || len < 3 || len > UINT32_MAX)
        return -EBADMSG;
    bool key = !(frame[0] & 1);
    if (key) {
        /* Check the header ourselves first: the size decides the allocation,
         * and a bad start code should not even reach libvpx. */
        int w, h;
        if (vp8_frame_size(frame, len, &w, &h) < 0)
            return -EBADMSG;
        if (w > VP8_MAX_DIMENSION || h > VP8_MAX_DIMENSION)
            return -EFBIG;
    } else if (self->need_key) {
        return -EAGAIN;
    }
    if (vpx_codec_decode(&self->ctx, frame, (unsigned int) len, NULL, 0) != VPX_CODEC_OK) {
        self->need_key = true;
        return -EBADMSG;
    }
    /* libvpx may "succeed" on a damaged frame and flag it instead. */
    int corrupted = 0;
    if (vpx_codec_control(&self->ctx, VP8D_GET_FRAME_CORRUPTED, &corrupted) != VPX_CODEC_OK || corrupted) {
        self->need_key = true;
        return -EBADMSG;
    }
    if (key)
        self->need_key = false;
    vpx_codec_iter_t iter = NULL;
    vpx_image_t *vimg = vpx_codec_get_frame(&self->ctx, &iter);
    if (!vimg)
        return 0;
    int r = s_copy_image(self, vimg, img);
    /* Drain: VP8 gives at most one picture per frame, but leave no state. */
    while (vpx_codec_get_frame(&self->ctx, &iter))
        ;
    if (r < 0)
        return r;
    img->keyframe = key;
    return 1;
}

/* ---- encoder ----------------------------------------------------------------- */

struct _vp8_enc_t {
    vpx_codec_ctx_t ctx;
    vpx_codec_enc_cfg_t vcfg;
    vp8_enc_config_t cfg;
    int64_t pts;
    uint8_t *buf;
    size_t cap;
};

void vp8_enc_config_defaults(vp8_enc_config_t *cfg)
{
    *cfg = (vp8_enc_config_t) {
        .width = 640,
        .height = 480,
        .fps = 30,
        .bitrate_kbps = 800,
        .keyframe_interval = 300,
        .cpu_used = 8,
        .threads = 1,
        .error_resilient = true,
    };
}

vp8_enc_t *vp8_enc_new(const vp8_enc_config_t *cfg)
{
    if (!cfg || !vp8_i420_size(cfg->width, cfg->height) || cfg->fps < 1 || cfg->fps > 240
        || cfg->bitrate_kbps < 1 || cfg->keyframe_interval < 0 || cfg->cpu_used < 0 || cfg->cpu_used > 16
        || cfg->threads < 1 || cfg->threads > 16) {
        errno = EINVAL;
        return NULL;
    }
    vp8_enc_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    self->cfg = *cfg;
    vpx_codec_enc_cfg_t *c = &self->vcfg;
    if (vpx_codec_enc_config_default(vpx_codec_vp8_cx(), c, 0) != VPX_CODEC_OK) {
        free(self);
        errno = EIO;
        return NULL;
    }
    c->g_w = (unsigned) cfg->width;
    c->g_h = (unsigned) cfg->height;
    c->g_timebase.num = 1;
    c->g_timebase.den = cfg->fps;
    c->g_threads = (unsigned) cfg->threads;
    c->rc_target_bitrate = (unsigned) cfg->bitrate_kbps;
    /* Real-time settings, as WebRTC uses them: no look-ahead (no added
     * latency, one packet per frame), CBR with a short buffer. */
    c->g_lag_in_frames = 0;
    c->g_pass = VPX_RC_ONE_PASS;
    c->rc_end_usage = VPX_CBR;
    c->rc_min_quantizer = 2;
    c->rc_max_quantizer = 56;
    c->rc_undershoot_pct = 100;
    c->rc_overshoot_pct = 15;
    c->rc_buf_initial_sz = 500;
    c->rc_buf_optimal_sz = 600;
    c->rc_buf_sz = 1000;
    /* Never drop frames: a sender streaming a file wants every frame out,
     * and the caller can always skip frames itself. */
    c->rc_dropframe_thresh = 0;
    c->g_error_resilient = cfg->error_resilient ? VPX_ERROR_RESILIENT_DEFAULT : 0;
    if (cfg->keyframe_interval > 0) {
        c->kf_mode = VPX_KF_AUTO;
        c->kf_min_dist = 0;
        c->kf_max_dist = (unsigned) cfg->keyframe_interval;
    } else {
        c->kf_mode = VPX_KF_DISABLED;
    }
    if (vpx_codec_enc_init(&self->ctx, vpx_codec_vp8_cx(), c, 0) != VPX_CODEC_OK) {
        free(self);
        errno = EINVAL;
        return NULL;
    }
    vpx_codec_control(&self->ctx, VP8E_SET_CPUUSED, cfg->cpu_used);
    vpx_codec_control(&self->ctx, VP8E_SET_NOISE_SENSITIVITY, 0);
    /* Caps keyframe size (as % of the per-frame budget) so that a forced
     * keyframe does not burst far above the bitrate. */
    vpx_codec_control(&self->ctx, VP8E_SET_MAX_INTRA_BITRATE_PCT, 900);
    return self;
}

void vp8_enc_destroy(vp8_enc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    vpx_codec_destroy(&(*self_p)->ctx);
    free((*self_p)->buf);
    free(*self_p);
    *self_p = NULL;
}

int vp8_enc_encode(vp8_enc_t *self, const uint8_t *i420, size_t len, bool force_keyframe,
                   vp8_packet_t *pkt)
{
    int w = self ? self->cfg.width : 0, h = self ? self->cfg.height : 0;
    if (!self || !i420 || !pkt || len != vp8_i420_size(w, h))
        return -EINVAL;
    /* Describe the caller's buffer without copying: vpx_img_wrap() would
     * assume even-rounded strides, so set the planes and strides of the
     * packed layout by hand. */
    vpx_image_t img;
    if (!vpx_img_wrap(&img, VPX_IMG_FMT_I420, (unsigned) w, (unsigned) h, 1, (unsigned char *) i420))
        return -EIO;
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    img.planes[VPX_PLANE_Y] = (unsigned char *) i420;
    img.planes[VPX_PLANE_U] = img.planes[VPX_PLANE_Y] + (size_t) w * (size_t) h;
    img.planes[VPX_PLANE_V] = img.planes[VPX_PLANE_U] + (size_t) cw * (size_t) ch;
    img.stride[VPX_PLANE_Y] = w;
    img.stride[VPX_PLANE_U] = img.stride[VPX_PLANE_V] = cw;
    vpx_enc_frame_flags_t flags = force_keyframe ? VPX_EFLAG_FORCE_KF : 0;
    int64_t pts = self->pts++;
    if (vpx_codec_encode(&self->ctx, &img, pts, 1, flags, VPX_DL_REALTIME) != VPX_CODEC_OK)
        return -EIO;
    int got = 0;
    vpx_codec_iter_t iter = NULL;
    const vpx_codec_cx_pkt_t *p;
    while ((p = vpx_codec_get_cx_data(&self->ctx, &iter))) {
        /* With no look-ahead there is at most one frame per input; should
         * libvpx ever give more, the first is the one for this input. */
        if (p->kind != VPX_CODEC_CX_FRAME_PKT || got)
            continue;
        size_t n = p->data.frame.sz;
        if (n > self->cap) {
            uint8_t *b = realloc(self->buf, n);
            if (!b)
                return -ENOMEM;
            self->buf = b, self->cap = n;
        }
        memcpy(self->buf, p->data.frame.buf, n);
        pkt->data = self->buf;
        pkt->len = n;
        pkt->keyframe = (p->data.frame.flags & VPX_FRAME_IS_KEY) != 0;
        pkt->pts = p->data.frame.pts;
        got = 1;
    }
    return got;
}

int vp8_enc_set_bitrate(vp8_enc_t *self, int bitrate_kbps)
{
    if (!self || bitrate_kbps < 1)
        return -EINVAL;
    self->vcfg.rc_target_bitrate = (unsigned) bitrate_kbps;
    if (vpx_codec_enc_config_set(&self->ctx, &self->vcfg) != VPX_CODEC_OK)
        return -EINVAL;
    self->cfg.bitrate_kbps = bitrate_kbps;
    return 0;
}
