/* sdp — parse and build the SDP of a WebRTC session (RFC 8866, JSEP RFC 8829,
 * BUNDLE RFC 8843, ICE SDP RFC 8839, trickle sdpfrag RFC 8840), as Chromium
 * writes it and as WHIP (RFC 9725) carries it. Pure text in, text out: no
 * sockets, no ICE, no DTLS.
 *
 * Parsed descriptions are plain structs. Every string in an sdp_t points into
 * a private copy of the input owned by the sdp_t, so it lives until
 * sdp_destroy(). Absent strings are NULL.
 *
 * Input is untrusted: everything is bounded (see the SDP_MAX_* limits) and a
 * failure comes back as a short human-readable reason ("no Opus codec
 * offered") that the HTTP layer may return in a 400 body. */
#ifndef VOXMESH_RTC_SDP_H
#define VOXMESH_RTC_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- limits --------------------------------------------------------------- */
/* Over these the whole description is rejected. */
#define SDP_MAX_SIZE         65536 /* bytes of text; a Chrome offer is ~6-10 KB */
#define SDP_MAX_LINES        2048
#define SDP_MAX_LINE_LEN     1024  /* one line, without CRLF */
#define SDP_MAX_MEDIA        8     /* m-lines */
#define SDP_ICE_MAX          256   /* ice-ufrag / ice-pwd length (RFC 8839) */
#define SDP_MID_MAX          64    /* a=mid length */
/* Over these the extra entries are ignored (and counted where it matters):
 * a peer with many interfaces or codecs still gets a session. */
#define SDP_MAX_FORMATS      64    /* payload types per m-line (Chrome video: ~40) */
#define SDP_MAX_RTCP_FB      8     /* a=rtcp-fb per payload type */
#define SDP_MAX_EXTMAPS      16    /* per m-line */
#define SDP_MAX_SSRCS        16    /* a=ssrc ids per m-line */
#define SDP_MAX_SSRC_GROUPS  4     /* a=ssrc-group per m-line */
#define SDP_MAX_CANDIDATES   32    /* a=candidate per m-line (and per sdpfrag) */
/* Candidate fields */
#define SDP_FOUNDATION_MAX   32    /* RFC 8839: 1*32ice-char */
#define SDP_ADDR_MAX         63    /* IPv4, IPv6 or a Chrome mDNS name "<uuid>.local" */
#define SDP_FP_MAX           64    /* fingerprint digest bytes (sha-512) */

/* Size of a reason buffer that is never truncated. */
#define SDP_ERR_MAX          160

typedef enum { SDP_OFFER, SDP_ANSWER } sdp_type_t;
typedef enum { SDP_MEDIA_AUDIO, SDP_MEDIA_VIDEO, SDP_MEDIA_APPLICATION, SDP_MEDIA_OTHER } sdp_media_kind_t;
/* Zero is sendrecv, the RFC 8866 default. */
typedef enum { SDP_SENDRECV = 0, SDP_SENDONLY, SDP_RECVONLY, SDP_INACTIVE } sdp_direction_t;
/* RFC 4145 / RFC 5763 DTLS role; NONE when the line is absent. */
typedef enum { SDP_SETUP_NONE = 0, SDP_SETUP_ACTPASS, SDP_SETUP_ACTIVE, SDP_SETUP_PASSIVE } sdp_setup_t;

/* One ICE candidate, a=candidate (RFC 8839 section 5.1). Plain value type that
 * the ICE layer converts to and from its own representation. */
typedef struct {
    char foundation[SDP_FOUNDATION_MAX + 1];
    uint16_t component;             /* 1 = RTP; with rtcp-mux the only one */
    char transport[8];              /* "udp" or "tcp", lower case */
    uint32_t priority;
    char address[SDP_ADDR_MAX + 1]; /* IP literal or FQDN (mDNS ".local") */
    uint16_t port;
    char type[8];                   /* "host", "srflx", "prflx", "relay" */
    char raddr[SDP_ADDR_MAX + 1];   /* related address, "" when absent */
    uint16_t rport;
    char tcptype[8];                /* "active", "passive", "so"; "" for udp */
} sdp_candidate_t;

/* a=fingerprint (RFC 8122): hash function and digest bytes. */
typedef struct {
    char algo[16];                  /* "sha-256", lower case; "" when absent */
    uint8_t digest[SDP_FP_MAX];
    size_t len;                     /* digest bytes, 0 when absent */
} sdp_fingerprint_t;

/* One payload type of an RTP m-line with its rtpmap, fmtp and rtcp-fb. */
typedef struct {
    uint8_t pt;
    const char *name;               /* "opus", "VP8", "rtx"...; NULL without a=rtpmap */
    uint32_t clock_rate;
    uint16_t channels;              /* 0 when not written (means 1) */
    const char *fmtp;               /* "minptime=10;useinbandfec=1"; NULL if none */
    const char *rtcp_fb[SDP_MAX_RTCP_FB]; /* "nack", "nack pli", "ccm fir", "transport-cc" */
    int rtcp_fb_count;
} sdp_format_t;

/* a=extmap (RFC 8285). */
typedef struct {
    uint16_t id;
    const char *uri;
    const char *direction;          /* "sendonly"... as written after '/', NULL if none */
    const char *attributes;         /* extension attributes after the URI, NULL if none */
} sdp_extmap_t;

/* a=ssrc (RFC 5576): the attributes we use. */
typedef struct {
    uint32_t ssrc;
    const char *cname;
    const char *msid;               /* "stream track" */
} sdp_ssrc_t;

#define SDP_MAX_SSRC_GROUP_SIZE 4
typedef struct {
    const char *semantics;          /* "FID", "SIM", "FEC-FR" */
    uint32_t ssrcs[SDP_MAX_SSRC_GROUP_SIZE];
    int count;
} sdp_ssrc_group_t;

typedef struct {
    sdp_media_kind_t kind;
    const char *media;              /* "audio", "video", "application"... as written */
    uint16_t port;                  /* 0: rejected (unless bundle_only) */
    const char *proto;              /* "UDP/TLS/RTP/SAVPF", "UDP/DTLS/SCTP"... */
    const char *fmt;                /* format list as written: "111 63 9" or "webrtc-datachannel" */
    bool rtp;                       /* proto is an RTP profile: formats[] are payload types */
    const char *mid;
    sdp_direction_t direction;      /* media-level, else session-level, else sendrecv */
    /* Transport, media-level value else the session-level one. */
    const char *ice_ufrag;
    const char *ice_pwd;
    const char *ice_options;        /* "trickle", "trickle ice2"... */
    bool ice_trickle;               /* ice_options has "trickle" */
    sdp_fingerprint_t fingerprint;  /* first supported one (sha-256/384/512) */
    char fingerprint_unsupported[16]; /* algo of an ignored a=fingerprint, "" if none */
    sdp_setup_t setup;
    bool rtcp_mux, rtcp_rsize, bundle_only, end_of_candidates;
    const char *msid;               /* a=msid value, "stream track" */
    uint16_t ptime, maxptime;       /* 0 when absent */
    sdp_format_t formats[SDP_MAX_FORMATS];
    int format_count;
    sdp_extmap_t extmaps[SDP_MAX_EXTMAPS];
    int extmap_count;
    sdp_ssrc_t ssrcs[SDP_MAX_SSRCS];
    int ssrc_count;
    sdp_ssrc_group_t ssrc_groups[SDP_MAX_SSRC_GROUPS];
    int ssrc_group_count;
    sdp_candidate_t candidates[SDP_MAX_CANDIDATES];
    int candidate_count;
    int candidates_ignored;         /* over the limit, or unknown type/transport */
} sdp_media_t;

/* Opus parameters from its a=fmtp (RFC 7587) and the m-line's a=ptime. */
typedef struct {
    bool useinbandfec, usedtx, stereo, sprop_stereo, cbr;
    uint16_t minptime, ptime, maxptime;      /* ms, 0 when absent */
    uint32_t maxplaybackrate;                /* Hz, 0 when absent */
    uint32_t maxaveragebitrate;              /* bit/s, 0 when absent */
} sdp_opus_params_t;

/* What sdp_validate() chose. Indexes into sdp_t.media, -1 when none. */
typedef struct {
    int audio;                      /* the m-line carrying Opus */
    int opus_pt;
    sdp_opus_params_t opus;
    int video;                      /* usable VP8 m-line (bundled with audio), -1 if none */
    int vp8_pt;
    int vp8_rtx_pt;                 /* rtx with apt=vp8_pt, -1 if none */
} sdp_codecs_t;

typedef struct {
    const char *origin_username;    /* o= fields */
    const char *origin_sess_id;
    uint64_t origin_sess_version;
    const char *session_name;
    const char *bundle[SDP_MAX_MEDIA]; /* mids of the (first) a=group:BUNDLE */
    int bundle_count;
    bool ice_lite, extmap_allow_mixed;
    /* Session-level values (already folded into each m-line). */
    const char *ice_ufrag, *ice_pwd, *ice_options;
    sdp_fingerprint_t fingerprint;
    sdp_setup_t setup;
    sdp_media_t media[SDP_MAX_MEDIA];
    int media_count;
    sdp_codecs_t codecs;            /* filled by sdp_validate() */
    char *text_;                    /* private: the owned copy strings point into */
} sdp_t;

/* ---- parsing -------------------------------------------------------------- */

/* Parses a session description: syntax and limits only. Returns NULL and a
 * reason in err (may be NULL) on failure. */
sdp_t *sdp_parse(const char *text, size_t len, char *err, size_t err_size);

/* Checks that a parsed description is a usable offer or answer for us and
 * fills sdp->codecs: an audio m-line with Opus/48000/2 over DTLS-SRTP with
 * rtcp-mux, ICE credentials, a sha-256/384/512 fingerprint, a valid setup
 * role; VP8 video when bundled with the audio. Returns 0, or -1 and a reason
 * ("no audio m-line", "no Opus codec offered", "missing a=fingerprint"...). */
int sdp_validate(sdp_t *sdp, sdp_type_t type, char *err, size_t err_size);

/* sdp_parse() + sdp_validate(): the offer a WHIP client POSTs. */
sdp_t *sdp_offer_parse(const char *text, size_t len, char *err, size_t err_size);

/* sdp_parse() + sdp_validate(): the answer to our own offer. */
sdp_t *sdp_answer_parse(const char *text, size_t len, char *err, size_t err_size);

/* Destroys a description and nulls the pointer. */
void sdp_destroy(sdp_t **self_p);

/* Returns the m-line whose a=mid is `mid`, or NULL. */
const sdp_media_t *sdp_media_by_mid(const sdp_t *sdp, const char *mid);

/* Returns the format with payload type `pt` in an m-line, or NULL. */
const sdp_format_t *sdp_media_format(const sdp_media_t *m, int pt);

/* Returns true when a format has the rtcp-fb value ("nack", "nack pli"...). */
bool sdp_format_has_fb(const sdp_format_t *f, const char *fb);

/* Finds `key` in an fmtp parameter list ("minptime=10;useinbandfec=1") and
 * copies its value into val. Returns false when absent (or too long). */
bool sdp_fmtp_get(const char *fmtp, const char *key, char *val, size_t val_size);

/* Same, as a non-negative integer; returns dflt when absent or not a number. */
long sdp_fmtp_get_int(const char *fmtp, const char *key, long dflt);

/* ---- candidates and fingerprints ------------------------------------------ */

/* Parses a candidate attribute, with or without the "a=" and "candidate:"
 * prefixes. Returns 0, 1 when syntactically fine but of a type or transport
 * we do not use (out is still filled), -1 with a reason when malformed. */
int sdp_candidate_parse(const char *text, sdp_candidate_t *out, char *err, size_t err_size);

/* Writes "candidate:..." (no "a=", no CRLF) into buf. Returns its length, or
 * -1 when the candidate has bad fields or buf is too small. */
int sdp_candidate_format(const sdp_candidate_t *c, char *buf, size_t size);

/* Parses "sha-256 AB:CD:..." (the a=fingerprint value). Returns 0, 1 when the
 * hash is one we do not accept (algo is set, len is 0), -1 when malformed. */
int sdp_fingerprint_parse(const char *text, sdp_fingerprint_t *out);

/* Writes "sha-256 AB:CD:..." into buf. Returns its length or -1. */
int sdp_fingerprint_format(const sdp_fingerprint_t *fp, char *buf, size_t size);

/* ---- building ------------------------------------------------------------- */

/* What the server puts in its answer. NULL strings take the defaults. */
typedef struct {
    const char *ice_ufrag, *ice_pwd;          /* ours (required) */
    bool ice_lite;                            /* a=ice-lite */
    bool trickle;                             /* we take trickled candidates (WHIP PATCH) */
    const sdp_candidate_t *candidates;        /* ours, all gathered */
    int candidate_count;
    const sdp_fingerprint_t *fingerprint;     /* of our certificate (required) */
    sdp_setup_t setup;                        /* NONE: passive, or active if the offer is passive */
    const char *cname;                        /* RTCP CNAME (required) */
    uint32_t audio_ssrc;                      /* our audio SSRC (required when we send) */
    const char *stream_id;                    /* a=msid stream, default "voxmesh" */
    const char *audio_track_id;               /* a=msid track, default "audio" */
    const char *opus_fmtp;                    /* default "minptime=10;useinbandfec=1" */
    bool accept_video;                        /* receive VP8 video (recvonly) */
    bool video_rtx;                           /* also accept VP8's rtx payload type */
    uint64_t session_id;                      /* o= session id; 0: derived from the SSRC */
} sdp_answer_params_t;

/* Builds the answer to an offer that passed sdp_validate(SDP_OFFER): audio
 * Opus (direction mirrored, sendrecv when offered so), VP8 recvonly when
 * accepted, every other m-line rejected with port 0; mids mirrored, BUNDLE
 * group of the accepted mids, rtcp-mux, all our candidates and
 * a=end-of-candidates. Returns a malloc'd string (free()), or NULL + reason. */
char *sdp_answer_build(const sdp_t *offer, const sdp_answer_params_t *p,
                       char *err, size_t err_size);

/* What our own client offers. */
typedef struct {
    const char *ice_ufrag, *ice_pwd;          /* required */
    bool trickle;                             /* a=ice-options:trickle */
    const sdp_candidate_t *candidates;
    int candidate_count;
    bool end_of_candidates;                   /* all candidates are in the offer */
    const sdp_fingerprint_t *fingerprint;     /* required */
    const char *cname;                        /* required */
    const char *stream_id;                    /* default "voxmesh" */
    uint32_t audio_ssrc;
    const char *opus_fmtp;                    /* default "minptime=10;useinbandfec=1" */
    bool video;                               /* add a VP8 sendonly m-line */
    uint32_t video_ssrc;
    uint64_t session_id;                      /* 0: derived from the SSRC */
} sdp_offer_params_t;

/* Payload types and mids of the offers we build. */
#define SDP_OFFER_OPUS_PT 111
#define SDP_OFFER_VP8_PT  96

/* Builds an offer: audio Opus sendrecv (mid "0"), optionally VP8 sendonly
 * (mid "1"), BUNDLE, rtcp-mux, setup actpass. Returns a malloc'd string, or
 * NULL + reason. */
char *sdp_offer_build(const sdp_offer_params_t *p, char *err, size_t err_size);

/* ---- trickle ICE sdpfrag (RFC 8840, body of a WHIP PATCH) ------------------ */

typedef struct {
    char ice_ufrag[SDP_ICE_MAX + 1];          /* "" when absent */
    char ice_pwd[SDP_ICE_MAX + 1];
    char ice_options[64];
    bool ice_trickle;
    char bundle[SDP_MAX_MEDIA][SDP_MID_MAX + 1]; /* a=group:BUNDLE mids */
    int bundle_count;
    /* m= sections: what the candidates belong to */
    char mids[SDP_MAX_MEDIA][SDP_MID_MAX + 1]; /* "" for an m= without a=mid */
    char mline[SDP_MAX_MEDIA][96];            /* "audio 9 UDP/TLS/RTP/SAVPF 111" */
    int media_count;
    sdp_candidate_t candidates[SDP_MAX_CANDIDATES];
    int candidate_media[SDP_MAX_CANDIDATES];  /* index into mids, -1: session level */
    int candidate_count;
    int candidates_ignored;
    bool end_of_candidates;
} sdp_frag_t;

/* Parses an application/trickle-ice-sdpfrag body. Returns 0, or -1 + reason. */
int sdp_frag_parse(const char *text, size_t len, sdp_frag_t *out, char *err, size_t err_size);

/* True when the fragment carries ICE credentials different from the current
 * remote ones: the peer restarts ICE (RFC 8840 section 4.4, RFC 9725 4.4). */
bool sdp_frag_is_ice_restart(const sdp_frag_t *f, const char *remote_ufrag,
                             const char *remote_pwd);

typedef struct {
    const char *ice_ufrag, *ice_pwd;          /* required */
    bool ice_lite;
    bool trickle;
    const sdp_candidate_t *candidates;
    int candidate_count;
    bool end_of_candidates;
    const sdp_frag_t *request;                /* mirror its group, m= line and mid; may be NULL */
    const char *mid;                          /* when there is no request: default "0" */
} sdp_frag_params_t;

/* Builds an sdpfrag: the server's reply to an ICE restart (new credentials and
 * candidates), or a client's trickle PATCH body. Returns a malloc'd string, or
 * NULL + reason. */
char *sdp_frag_build(const sdp_frag_params_t *p, char *err, size_t err_size);

#endif
