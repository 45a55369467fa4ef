/* sdp_fuzz — libFuzzer target for common/rtc/sdp.c: the offer a WHIP client
 * POSTs, the sdpfrag of a PATCH and a lone candidate line, all untrusted.
 *
 * Beyond "no crash, no leak", it checks the promises: a failure has a
 * reason; an offer that validates gets an answer that parses back as a valid
 * answer with the same m-lines, mids and Opus payload type; a parsed sdpfrag
 * can be answered and the reply parses; a candidate that parses formats and
 * parses back to the same value. */
#include "rtc/sdp.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_touch(const char *s)
{
    if (s && strlen(s) > SDP_MAX_SIZE)
        abort();
}

static void s_check_reason(const char *err)
{
    if (!err[0] || strlen(err) >= SDP_ERR_MAX)
        abort();
}

static void s_touch_sdp(const sdp_t *sdp)
{
    if (sdp->media_count < 0 || sdp->media_count > SDP_MAX_MEDIA)
        abort();
    for (int i = 0; i < sdp->bundle_count; i++)
        if (!sdp_media_by_mid(sdp, sdp->bundle[i]))
            abort();
    for (int i = 0; i < sdp->media_count; i++) {
        const sdp_media_t *m = &sdp->media[i];
        s_touch(m->media);
        s_touch(m->proto);
        s_touch(m->fmt);
        s_touch(m->mid);
        s_touch(m->ice_ufrag);
        s_touch(m->ice_pwd);
        s_touch(m->msid);
        for (int k = 0; k < m->format_count; k++) {
            s_touch(m->formats[k].name);
            s_touch(m->formats[k].fmtp);
            for (int j = 0; j < m->formats[k].rtcp_fb_count; j++)
                s_touch(m->formats[k].rtcp_fb[j]);
        }
        for (int k = 0; k < m->extmap_count; k++)
            s_touch(m->extmaps[k].uri);
        for (int k = 0; k < m->ssrc_count; k++) {
            s_touch(m->ssrcs[k].cname);
            s_touch(m->ssrcs[k].msid);
        }
        for (int k = 0; k < m->candidate_count; k++) {
            char line[256];
            if (sdp_candidate_format(&m->candidates[k], line, sizeof line) < 0)
                abort(); /* whatever we accept, we can write back */
        }
    }
}

static const sdp_fingerprint_t *s_fp(void)
{
    static sdp_fingerprint_t fp = { .algo = "sha-256", .len = 32 };
    return &fp;
}

static void s_offer(const uint8_t *data, size_t size)
{
    char err[SDP_ERR_MAX] = "";
    sdp_t *sdp = sdp_parse((const char *)data, size, err, sizeof err);
    if (!sdp) {
        s_check_reason(err);
        return;
    }
    s_touch_sdp(sdp);
    if (sdp_validate(sdp, SDP_ANSWER, err, sizeof err) < 0)
        s_check_reason(err);
    err[0] = '\0';
    if (sdp_validate(sdp, SDP_OFFER, err, sizeof err) < 0) {
        s_check_reason(err);
        sdp_destroy(&sdp);
        return;
    }
    sdp_candidate_t c = { .foundation = "1", .component = 1, .transport = "udp",
                          .priority = 2130706431u, .address = "192.0.2.1", .port = 40000,
                          .type = "host" };
    sdp_answer_params_t p = {
        .ice_ufrag = "srvU", .ice_pwd = "0123456789abcdefABCDEF+/", .trickle = size & 1,
        .candidates = &c, .candidate_count = 1, .fingerprint = s_fp(), .cname = "edge",
        .audio_ssrc = 1234, .accept_video = size & 2, .video_rtx = size & 4,
    };
    char *ans = sdp_answer_build(sdp, &p, err, sizeof err);
    if (!ans) {
        /* only a DTLS role conflict may refuse a validated offer */
        if (!strstr(err, "DTLS role"))
            abort();
        sdp_destroy(&sdp);
        return;
    }
    sdp_t *a = sdp_answer_parse(ans, strlen(ans), err, sizeof err);
    if (!a) {
        fprintf(stderr, "own answer rejected: %s\n%s\n", err, ans);
        abort();
    }
    if (a->media_count != sdp->media_count || a->codecs.opus_pt != sdp->codecs.opus_pt ||
        a->codecs.audio != sdp->codecs.audio)
        abort();
    for (int i = 0; i < a->media_count; i++) {
        const char *m1 = sdp->media[i].mid, *m2 = a->media[i].mid;
        if (!m1 != !m2 || (m1 && strcmp(m1, m2)))
            abort();
    }
    if (p.accept_video && sdp->codecs.video >= 0 && a->codecs.video != sdp->codecs.video)
        abort();
    sdp_destroy(&a);
    free(ans);
    sdp_destroy(&sdp);
}

static void s_frag(const uint8_t *data, size_t size)
{
    sdp_frag_t f;
    char err[SDP_ERR_MAX] = "";
    if (sdp_frag_parse((const char *)data, size, &f, err, sizeof err) < 0) {
        s_check_reason(err);
        return;
    }
    (void)sdp_frag_is_ice_restart(&f, "abcd", "0123456789abcdefABCDEF");
    sdp_frag_params_t p = { .ice_ufrag = "289b31b7", .ice_pwd = "0b66f472495ef0ccac7bda24",
                            .ice_lite = true, .trickle = true, .end_of_candidates = true,
                            .request = &f };
    char *out = sdp_frag_build(&p, err, sizeof err);
    if (!out) {
        s_check_reason(err);
        return;
    }
    sdp_frag_t g;
    if (sdp_frag_parse(out, strlen(out), &g, err, sizeof err) < 0 ||
        strcmp(g.ice_ufrag, "289b31b7") || !g.end_of_candidates) {
        fprintf(stderr, "own sdpfrag rejected: %s\n%s\n", err, out);
        abort();
    }
    free(out);
}

static void s_candidate(const uint8_t *data, size_t size)
{
    char text[SDP_MAX_LINE_LEN + 1];
    if (size > SDP_MAX_LINE_LEN || memchr(data, 0, size))
        return;
    memcpy(text, data, size);
    text[size] = '\0';
    sdp_candidate_t c, d;
    char err[SDP_ERR_MAX] = "", line[256];
    int rc = sdp_candidate_parse(text, &c, err, sizeof err);
    if (rc < 0)
        s_check_reason(err);
    if (rc != 0)
        return;
    if (sdp_candidate_format(&c, line, sizeof line) < 0 ||
        sdp_candidate_parse(line, &d, err, sizeof err) != 0 ||
        strcmp(c.foundation, d.foundation) || c.priority != d.priority ||
        strcmp(c.address, d.address) || c.port != d.port || strcmp(c.type, d.type) ||
        c.component != d.component || strcmp(c.transport, d.transport) ||
        strcmp(c.tcptype, d.tcptype) || c.rport != d.rport)
        abort();
    sdp_fingerprint_t fp;
    if (sdp_fingerprint_parse(text, &fp) == 0) {
        char buf[256];
        sdp_fingerprint_t fp2;
        if (sdp_fingerprint_format(&fp, buf, sizeof buf) < 0 ||
            sdp_fingerprint_parse(buf, &fp2) != 0 || fp2.len != fp.len ||
            memcmp(fp.digest, fp2.digest, fp.len))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_offer(data, size);
    s_frag(data, size);
    s_candidate(data, size);
    return 0;
}
