/* srtp_ctx — SRTP/SRTCP protection of one peer connection (libsrtp2).
 *
 * Keys come from the DTLS-SRTP handshake (RFC 5764): one outbound session
 * keyed with our write key and one inbound session keyed with the remote
 * write key, each for any SSRC (BUNDLE: audio, video and RTCP of every SSRC
 * share the keys). An rtc_srtp_t is used by one thread at a time (the peer's
 * main-context thread); libsrtp's global initialisation is done once per
 * process, thread-safely, by the first rtc_srtp_new(). */
#ifndef VOXMESH_RTC_SRTP_CTX_H
#define VOXMESH_RTC_SRTP_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* DTLS-SRTP protection profiles we negotiate (values are the IANA ids). */
typedef enum {
    RTC_SRTP_NONE = 0,
    RTC_SRTP_AES128_CM_SHA1_80 = 0x0001,
    RTC_SRTP_AEAD_AES_128_GCM = 0x0007,
} rtc_srtp_profile_t;

#define RTC_SRTP_KEY_LEN  16
#define RTC_SRTP_SALT_MAX 14
/* Bytes that protection may append: auth tag (+ SRTCP index). Callers of the
 * in-place functions need this much room after the packet. */
#define RTC_SRTP_MAX_OVERHEAD (16 + 4)

/* Master keys for both directions, already ordered for this endpoint. */
typedef struct {
    rtc_srtp_profile_t profile;
    size_t salt_len;                       /* 14 (CM) or 12 (GCM) */
    uint8_t local_key[RTC_SRTP_KEY_LEN];   /* protects what we send */
    uint8_t local_salt[RTC_SRTP_SALT_MAX];
    uint8_t remote_key[RTC_SRTP_KEY_LEN];  /* unprotects what we receive */
    uint8_t remote_salt[RTC_SRTP_SALT_MAX];
} rtc_srtp_keys_t;

typedef struct {
    uint64_t rtp_protected, rtcp_protected;
    uint64_t rtp_unprotected, rtcp_unprotected;
    uint64_t auth_fail;      /* bad tag: forged, corrupted, or wrong keys */
    uint64_t replay_fail;    /* duplicate or too old for the replay window */
    uint64_t other_fail;     /* malformed, or a libsrtp error */
} rtc_srtp_stats_t;

/* "SRTP_AES128_CM_SHA1_80", "SRTP_AEAD_AES_128_GCM" or "none". */
const char *rtc_srtp_profile_name(rtc_srtp_profile_t profile);

/* Bytes of DTLS exporter output ("EXTRACTOR-dtls_srtp") the profile needs:
 * 2 * (key + salt); 0 for an unknown profile. */
size_t rtc_srtp_material_len(rtc_srtp_profile_t profile);

/* Splits exporter output, laid out client_key|server_key|client_salt|
 * server_salt (RFC 5764 section 4.2), into local/remote keys: the DTLS client
 * writes with the client key. Returns 0 or -EINVAL. */
int rtc_srtp_keys_from_material(rtc_srtp_keys_t *out, rtc_srtp_profile_t profile,
                                const uint8_t *material, size_t len, bool dtls_client);

typedef struct rtc_srtp rtc_srtp_t;

/* Creates inbound and outbound sessions; label names the peer in logs.
 * Returns NULL on failure (logged). */
rtc_srtp_t *rtc_srtp_new(const rtc_srtp_keys_t *keys, const char *label);

/* Frees the sessions (keys wiped) and sets *p to NULL. */
void rtc_srtp_destroy(rtc_srtp_t **p);

/* Protect in place: *len grows by the tag (and SRTCP index). cap is the size
 * of buf; -ENOSPC when cap < *len + RTC_SRTP_MAX_OVERHEAD. Returns 0, -EINVAL
 * (not RTP/RTCP) or -EIO. */
int rtc_srtp_protect_rtp(rtc_srtp_t *s, uint8_t *buf, size_t *len, size_t cap);
int rtc_srtp_protect_rtcp(rtc_srtp_t *s, uint8_t *buf, size_t *len, size_t cap);

/* Unprotect in place: *len shrinks. Returns 0, -EBADMSG (authentication
 * failed or malformed), -EALREADY (replay) or -EIO. Failures are counted and
 * logged rate-limited here; they are not fatal for the session. */
int rtc_srtp_unprotect_rtp(rtc_srtp_t *s, uint8_t *buf, size_t *len);
int rtc_srtp_unprotect_rtcp(rtc_srtp_t *s, uint8_t *buf, size_t *len);

void rtc_srtp_stats(const rtc_srtp_t *s, rtc_srtp_stats_t *out);

#endif
