/* video_tx — sends an IVF file's VP8 frames as RTP (RFC 7741) at the pace
 * of their timestamps: each frame cut into packets of at most
 * VIDEO_TX_MAX_PAYLOAD bytes, a one-byte payload descriptor (S bit on the
 * first packet, partition 0), the marker bit on the last packet, 90 kHz
 * timestamps from the IVF pts. */
#ifndef VOXMESH_CLIENT_VIDEO_TX_H
#define VOXMESH_CLIENT_VIDEO_TX_H

#include <stddef.h>
#include <stdint.h>

#define VIDEO_TX_MAX_PAYLOAD 1100

typedef struct video_tx video_tx_t;

/* Sends one RTP packet; returns 0 or a negative error. */
typedef int (video_tx_send_fn)(void *arg, const uint8_t *pkt, size_t len);

/* Opens an IVF file of VP8 frames. Returns NULL + reason in err. */
video_tx_t *video_tx_new(const char *path, uint8_t pt, uint32_t ssrc, char *err, size_t err_size);

/* Closes the file and sets *p to NULL. */
void video_tx_destroy(video_tx_t **p);

/* Media time of the next frame in microseconds from the start of sending,
 * or -1 when the file is exhausted (or unreadable). */
int64_t video_tx_next_us(const video_tx_t *v);

/* Sends the next frame. Returns the number of packets sent (>= 1), 0 at
 * the end of the file, or a negative error (the frame is then skipped, so
 * a caller looping while frames are due always makes progress). */
int video_tx_send(video_tx_t *v, video_tx_send_fn *send, void *arg);

/* For RTCP SR: packets and payload octets sent, last RTP timestamp. */
void video_tx_counts(const video_tx_t *v, uint32_t *packets, uint32_t *octets, uint32_t *frames);
uint32_t video_tx_ssrc(const video_tx_t *v);
/* RTP timestamp for a time `us` after the start. */
uint32_t video_tx_ts_at(const video_tx_t *v, int64_t us);

#endif
