/* whip_sdp — the client's side of the offer/answer: our offer from a
 * gathered rtc_peer_t, and the edge's answer applied to it (DTLS role and
 * fingerprint, ICE credentials and candidates). Uses common/rtc/sdp.h for
 * all SDP text. */
#ifndef VOXMESH_CLIENT_WHIP_SDP_H
#define VOXMESH_CLIENT_WHIP_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtc/peer.h"

typedef struct {
    int opus_pt;                /* payload type to send Opus with */
    int vp8_pt;                 /* -1 when the edge did not accept video */
    rtc_dtls_role_t dtls_role;
    int candidates;             /* remote candidates added */
} whip_answer_info_t;

/* Builds the offer of a gathered peer: audio Opus sendrecv, VP8 sendonly
 * when `video`, our candidates (all of them: no trickle), fingerprint of
 * `cert`, setup actpass. Returns a malloc'd string or NULL + reason. */
char *whip_offer_build(rtc_peer_t *peer, const rtc_cert_t *cert, const char *cname,
                       uint32_t audio_ssrc, bool video, uint32_t video_ssrc,
                       char *err, size_t err_size);

/* Parses and validates the answer and applies it to the peer: DTLS role
 * (a=setup:passive -> we are the DTLS client) and fingerprint, ICE
 * credentials, candidates, end of candidates. Returns 0, or -1 + reason. */
int whip_answer_apply(rtc_peer_t *peer, const char *answer, size_t len,
                      whip_answer_info_t *info, char *err, size_t err_size);

#endif
