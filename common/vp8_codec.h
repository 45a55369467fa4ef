/* vp8_codec — VP8 decoder and encoder objects (libvpx underneath) working on
 * contiguous I420 images.
 *
 * I420 layout used throughout: the Y plane (width x height bytes), then U,
 * then V (each (width+1)/2 x (height+1)/2 bytes), rows packed with no padding;
 * vp8_i420_size() gives the total. This is what VideoFrame.data carries.
 *
 * Errors are negative errno values: -EBADMSG corrupt frame, -EAGAIN inter
 * frame while waiting for a keyframe, -EFBIG frame larger than
 * VP8_MAX_DIMENSION, -EINVAL bad argument, -ENOMEM, -EIO libvpx failure.
 * Nothing here logs. See docs/codecs.md. */
#ifndef VOXMESH_VP8_CODEC_H
#define VOXMESH_VP8_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest width or height accepted: bounds what a peer's keyframe header can
 * make the decoder allocate. */
#define VP8_MAX_DIMENSION 4096

/* Bytes of a contiguous I420 image, or 0 when a dimension is out of range. */
size_t vp8_i420_size(int width, int height);

/* True when the frame is a VP8 keyframe (RFC 6386 9.1 frame tag). */
bool vp8_frame_is_keyframe(const uint8_t *frame, size_t len);

/* Reads width and height from a keyframe header. 0, -EBADMSG (not a valid
 * keyframe header) or -EINVAL (an inter frame: no size in it). */
int vp8_frame_size(const uint8_t *frame, size_t len, int *width, int *height);

/* A decoded image; data stays valid until the next decode or destroy. */
typedef struct {
    int width;
    int height;
    const uint8_t *data;   /* contiguous I420 */
    size_t size;           /* vp8_i420_size(width, height) */
    bool keyframe;         /* decoded from a keyframe */
} vp8_image_t;

/* ---- decoder ----------------------------------------------------------------- */

typedef struct _vp8_dec_t vp8_dec_t;

/* Creates a decoder. Returns NULL with errno set on failure. */
vp8_dec_t *vp8_dec_new(void);

/* Destroys the decoder and sets *self_p to NULL. */
void vp8_dec_destroy(vp8_dec_t **self_p);

/* Decodes one complete frame. Returns 1 with *img filled, 0 when the frame
 * produced no picture (a hidden frame), or a negative error. After an error,
 * and before the first keyframe, inter frames are refused with -EAGAIN rather
 * than decoded against a broken reference: the picture freezes until a
 * keyframe arrives (the caller should ask the sender for one, e.g. RTCP PLI). */
int vp8_dec_decode(vp8_dec_t *self, const uint8_t *frame, size_t len, vp8_image_t *img);

/* True while inter frames are being refused: request a keyframe. */
bool vp8_dec_needs_keyframe(const vp8_dec_t *self);

/* ---- encoder ----------------------------------------------------------------- */

typedef struct _vp8_enc_t vp8_enc_t;

typedef struct {
    int width;
    int height;
    int fps;                 /* frame rate; the pts unit is 1/fps s */
    int bitrate_kbps;        /* target, constant bitrate */
    int keyframe_interval;   /* at most this many frames between keyframes; 0 = only forced ones */
    int cpu_used;            /* libvpx speed, 0 (best) .. 16 (fastest) */
    int threads;
    bool error_resilient;    /* on for RTP: a lost frame does not break entropy contexts */
} vp8_enc_config_t;

/* Real-time defaults: 640x480, 30 fps, 800 kbit/s, a keyframe every 300
 * frames, cpu_used 8, 1 thread, error resilient. */
void vp8_enc_config_defaults(vp8_enc_config_t *cfg);

/* Creates an encoder. Returns NULL with errno set on a bad configuration. */
vp8_enc_t *vp8_enc_new(const vp8_enc_config_t *cfg);

/* Destroys the encoder and sets *self_p to NULL. */
void vp8_enc_destroy(vp8_enc_t **self_p);

/* One encoded frame; data stays valid until the next encode or destroy. */
typedef struct {
    const uint8_t *data;
    size_t len;
    bool keyframe;
    int64_t pts;             /* frame index, unit 1/fps s */
} vp8_packet_t;

/* Encodes one contiguous I420 image of the configured size (`len` must be
 * vp8_i420_size()). `force_keyframe` makes this frame a keyframe (new
 * receiver, PLI). Returns 1 with *pkt filled, 0 if rate control dropped the
 * frame, or a negative error. */
int vp8_enc_encode(vp8_enc_t *self, const uint8_t *i420, size_t len, bool force_keyframe,
                   vp8_packet_t *pkt);

/* Changes the target bitrate on the fly (congestion control). 0 or -EINVAL. */
int vp8_enc_set_bitrate(vp8_enc_t *self, int bitrate_kbps);

#endif
