/* rtc_session — one WHIP caller: the SDP answer, the peer connection
 * (ICE/DTLS/SRTP from common/rtc), RTP in to bus events, paced RTP out,
 * RTCP reports, VP8 frames with PLI when one is lost. */
#ifndef VOXMESH_EDGE_RTC_SESSION_H
#define VOXMESH_EDGE_RTC_SESSION_H

#include "edge.h"

/* Handles a WHIP POST: answers through `reply` (201 once candidates are
 * gathered, or 4xx with the reason). */
void rtc_session_offer(edge_t *edge, const char *id, const char *sdp, size_t len, edge_whip_reply_t *reply);

/* Handles a WHIP PATCH (trickled candidates or an ICE restart). */
void rtc_session_patch(edge_session_t *s, const char *frag, size_t len, edge_whip_reply_t *reply);

/* Handles a WHIP DELETE (or the HTTP front giving the session up). */
void rtc_session_delete(edge_session_t *s);


#endif
