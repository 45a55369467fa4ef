/* whip_sdp — see whip_sdp.h. */
#include "whip_sdp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtc/sdp.h"

char *whip_offer_build(rtc_peer_t *peer, const rtc_cert_t *cert, const char *cname,
                       uint32_t audio_ssrc, bool video, uint32_t video_ssrc,
                       char *err, size_t err_size)
{
    sdp_candidate_t cands[SDP_MAX_CANDIDATES];
    int n = 0;
    char **local = rtc_peer_local_candidates(peer);
    for (char **c = local; *c && n < SDP_MAX_CANDIDATES; c++) {
        char why[SDP_ERR_MAX];
        if (sdp_candidate_parse(*c, &cands[n], why, sizeof why) == 0)
            n++;
    }
    g_strfreev(local);
    if (n == 0) {
        snprintf(err, err_size, "no local ICE candidate (check --bind)");
        return NULL;
    }
    sdp_fingerprint_t fp;
    if (sdp_fingerprint_parse(rtc_cert_fingerprint(cert), &fp) != 0) {
        snprintf(err, err_size, "cannot parse our own certificate fingerprint");
        return NULL;
    }
    sdp_offer_params_t p = {
        .ice_ufrag = rtc_peer_local_ufrag(peer),
        .ice_pwd = rtc_peer_local_pwd(peer),
        .trickle = false,
        .candidates = cands,
        .candidate_count = n,
        .end_of_candidates = true,
        .fingerprint = &fp,
        .cname = cname,
        .audio_ssrc = audio_ssrc,
        .video = video,
        .video_ssrc = video_ssrc,
    };
    return sdp_offer_build(&p, err, err_size);
}

/* The m-line whose candidates we use: the audio one, else (BUNDLE) the
 * first one that has any. */
static const sdp_media_t *s_transport_media(const sdp_t *a)
{
    const sdp_media_t *m = &a->media[a->codecs.audio];
    for (int i = 0; !m->candidate_count && i < a->media_count; i++)
        if (a->media[i].candidate_count && a->media[i].port)
            m = &a->media[i];
    return m;
}

int whip_answer_apply(rtc_peer_t *peer, const char *answer, size_t len,
                      whip_answer_info_t *info, char *err, size_t err_size)
{
    memset(info, 0, sizeof *info);
    char why[SDP_ERR_MAX] = "";
    sdp_t *a = sdp_answer_parse(answer, len, why, sizeof why);
    if (!a) {
        snprintf(err, err_size, "unusable answer from the edge: %s", why);
        return -1;
    }
    int rc = -1;
    const sdp_media_t *audio = &a->media[a->codecs.audio];
    info->opus_pt = a->codecs.opus_pt;
    info->vp8_pt = a->codecs.video >= 0 ? a->codecs.vp8_pt : -1;
    /* RFC 5763: the answerer picks; passive (or absent) makes us the client */
    info->dtls_role = audio->setup == SDP_SETUP_ACTIVE ? RTC_DTLS_ROLE_SERVER : RTC_DTLS_ROLE_CLIENT;
    char fp[256];
    if (sdp_fingerprint_format(&audio->fingerprint, fp, sizeof fp) < 0) {
        snprintf(err, err_size, "unusable answer from the edge: bad a=fingerprint");
        goto done;
    }
    if (rtc_peer_set_dtls(peer, info->dtls_role, fp) < 0) {
        snprintf(err, err_size, "cannot use the edge's fingerprint \"%s\"", fp);
        goto done;
    }
    if (rtc_peer_set_remote_credentials(peer, audio->ice_ufrag, audio->ice_pwd) < 0) {
        snprintf(err, err_size, "unusable ICE credentials in the answer");
        goto done;
    }
    const sdp_media_t *m = s_transport_media(a);
    for (int i = 0; i < m->candidate_count; i++) {
        char line[512];
        if (sdp_candidate_format(&m->candidates[i], line, sizeof line) < 0)
            continue;
        if (rtc_peer_add_remote_candidate(peer, line) == 0)
            info->candidates++;
    }
    if (info->candidates == 0) {
        snprintf(err, err_size, "the answer has no usable ICE candidate");
        goto done;
    }
    rtc_peer_remote_end_of_candidates(peer);
    rc = 0;
done:
    sdp_destroy(&a);
    return rc;
}
