/* codec_video — VP8 from the edge decoded per session; only the latest
 * frame matters (old video is worthless to a vision step), so decoded frames
 * are published at most `fps` times a second per session. */
#ifndef VOXMESH_CODEC_VIDEO_H
#define VOXMESH_CODEC_VIDEO_H

#include "bus.h"
#include "metrics.h"

typedef struct codec_video_t codec_video_t;

codec_video_t *codec_video_new(int fps, metrics_t *metrics);
void codec_video_destroy(codec_video_t **self_p);

/* Decodes one encoded_video event; publishes a video_frame when due. */
void codec_video_handle(codec_video_t *self, bus_t *bus, const event_t *ev);

/* Frees a session's decoder. */
void codec_video_end(codec_video_t *self, const char *session_id);

#endif
