/* srtp_ctx — see srtp_ctx.h. */
#include "rtc/srtp_ctx.h"

#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <srtp2/srtp.h>

struct rtc_srtp {
    srtp_t in;
    srtp_t out;
    char label[64];
    rtc_srtp_stats_t stats;
    log_ratelimit_t rl;
};

static pthread_once_t s_init_once = PTHREAD_ONCE_INIT;
static srtp_err_status_t s_init_status = srtp_err_status_fail;

/* libsrtp's crypto kernel is global; srtp_init() is not thread-safe and must
 * run once. It is never shut down: sessions may live until process exit. */
static void s_init(void)
{
    s_init_status = srtp_init();
}

const char *rtc_srtp_profile_name(rtc_srtp_profile_t profile)
{
    switch (profile) {
    case RTC_SRTP_AES128_CM_SHA1_80: return "SRTP_AES128_CM_SHA1_80";
    case RTC_SRTP_AEAD_AES_128_GCM: return "SRTP_AEAD_AES_128_GCM";
    default: return "none";
    }
}

static size_t s_salt_len(rtc_srtp_profile_t profile)
{
    switch (profile) {
    case RTC_SRTP_AES128_CM_SHA1_80: return SRTP_SALT_LEN;       /* 14 */
    case RTC_SRTP_AEAD_AES_128_GCM: return SRTP_AEAD_SALT_LEN;   /* 12 */
    default: return 0;
    }
}

size_t rtc_srtp_material_len(rtc_srtp_profile_t profile)
{
    size_t salt = s_salt_len(profile);
    return salt ? 2 * (RTC_SRTP_KEY_LEN + salt) : 0;
}

int rtc_srtp_keys_from_material(rtc_srtp_keys_t *out, rtc_srtp_profile_t profile,
                                const uint8_t *material, size_t len, bool dtls_client)
{
    size_t salt = s_salt_len(profile);
    if (!out || !material || !salt || len != rtc_srtp_material_len(profile))
        return -EINVAL;
    memset(out, 0, sizeof *out);
    out->profile = profile;
    out->salt_len = salt;
    /* RFC 5764 4.2: client_write_SRTP_master_key | server_write_SRTP_master_key
     * | client_write_SRTP_master_salt | server_write_SRTP_master_salt. */
    const uint8_t *ckey = material;
    const uint8_t *skey = ckey + RTC_SRTP_KEY_LEN;
    const uint8_t *csalt = skey + RTC_SRTP_KEY_LEN;
    const uint8_t *ssalt = csalt + salt;
    memcpy(out->local_key, dtls_client ? ckey : skey, RTC_SRTP_KEY_LEN);
    memcpy(out->local_salt, dtls_client ? csalt : ssalt, salt);
    memcpy(out->remote_key, dtls_client ? skey : ckey, RTC_SRTP_KEY_LEN);
    memcpy(out->remote_salt, dtls_client ? ssalt : csalt, salt);
    return 0;
}

static int s_session(srtp_t *session, rtc_srtp_profile_t profile, const uint8_t *key,
                     const uint8_t *salt, size_t salt_len, bool inbound)
{
    /* libsrtp wants the master key immediately followed by the salt. */
    uint8_t master[RTC_SRTP_KEY_LEN + RTC_SRTP_SALT_MAX];
    memcpy(master, key, RTC_SRTP_KEY_LEN);
    memcpy(master + RTC_SRTP_KEY_LEN, salt, salt_len);

    srtp_policy_t policy;
    memset(&policy, 0, sizeof policy);
    if (profile == RTC_SRTP_AEAD_AES_128_GCM) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
    } else {
        srtp_crypto_policy_set_rtp_default(&policy.rtp);     /* AES-CM-128 + HMAC-SHA1-80 */
        srtp_crypto_policy_set_rtcp_default(&policy.rtcp);
    }
    policy.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
    policy.key = master;
    /* A wider replay window than the default 128 tolerates the reordering of
     * video bursts and NACK retransmissions without false replay drops. */
    policy.window_size = 1024;
    /* Retransmitting an identical packet (RTX off, plain NACK resend) must
     * not be refused by the outbound replay check. */
    policy.allow_repeat_tx = 1;
    policy.next = NULL;
    srtp_err_status_t st = srtp_create(session, &policy);
    explicit_bzero(master, sizeof master);
    return st == srtp_err_status_ok ? 0 : -(int)st;
}

rtc_srtp_t *rtc_srtp_new(const rtc_srtp_keys_t *keys, const char *label)
{
    if (!label) label = "?";
    pthread_once(&s_init_once, s_init);
    if (s_init_status != srtp_err_status_ok) {
        log_error("peer %s: srtp_init failed (%d)", label, (int)s_init_status);
        return NULL;
    }
    if (!keys || !s_salt_len(keys->profile) || keys->salt_len != s_salt_len(keys->profile)) {
        log_error("peer %s: srtp: unsupported profile", label);
        return NULL;
    }
    rtc_srtp_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    snprintf(s->label, sizeof s->label, "%s", label);
    s->rl = (log_ratelimit_t)LOG_RATELIMIT_INIT(5000, 5);
    int r = s_session(&s->out, keys->profile, keys->local_key, keys->local_salt,
                      keys->salt_len, false);
    if (r == 0)
        r = s_session(&s->in, keys->profile, keys->remote_key, keys->remote_salt,
                      keys->salt_len, true);
    if (r < 0) {
        log_error("peer %s: srtp_create failed (%d)", label, -r);
        rtc_srtp_destroy(&s);
        return NULL;
    }
    return s;
}

void rtc_srtp_destroy(rtc_srtp_t **p)
{
    if (!p || !*p)
        return;
    rtc_srtp_t *s = *p;
    *p = NULL;
    /* srtp_dealloc wipes the session keys. */
    if (s->in) srtp_dealloc(s->in);
    if (s->out) srtp_dealloc(s->out);
    free(s);
}

/* " (N similar suppressed)" for a rate-limited line, or "". The buffer is
 * thread-local: peers of different worker threads log concurrently. */
static const char *s_suppressed(uint64_t n)
{
    static _Thread_local char buf[48];
    if (!n)
        return "";
    snprintf(buf, sizeof buf, " (%llu similar suppressed)", (unsigned long long)n);
    return buf;
}

/* A minimal shape check before libsrtp sees attacker-controlled bytes:
 * version 2 and a fixed header that fits. libsrtp checks the rest. */
static bool s_looks_rtp(const uint8_t *b, size_t len)
{
    if (len < 12 || (b[0] >> 6) != 2)
        return false;
    size_t hdr = 12 + 4u * (b[0] & 0x0f);
    if (b[0] & 0x10) {                     /* header extension */
        if (len < hdr + 4)
            return false;
        hdr += 4 + 4u * ((size_t)b[hdr + 2] << 8 | b[hdr + 3]);
    }
    return len >= hdr;
}

static bool s_looks_rtcp(const uint8_t *b, size_t len)
{
    return len >= 8 && (b[0] >> 6) == 2;
}

static int s_protect(rtc_srtp_t *s, uint8_t *buf, size_t *len, size_t cap, bool rtcp)
{
    if (!s || !buf || !len)
        return -EINVAL;
    if (rtcp ? !s_looks_rtcp(buf, *len) : !s_looks_rtp(buf, *len))
        return -EINVAL;
    /* No MKI is used, so the tag (+ 4-byte SRTCP index) is all that grows. */
    if (cap < *len + RTC_SRTP_MAX_OVERHEAD || *len > (size_t)INT32_MAX - RTC_SRTP_MAX_OVERHEAD)
        return -ENOSPC;
    int n = (int)*len;
    srtp_err_status_t st = rtcp ? srtp_protect_rtcp(s->out, buf, &n)
                                : srtp_protect(s->out, buf, &n);
    if (st != srtp_err_status_ok) {
        uint64_t sup = 0;
        if (log_ratelimit_ok(&s->rl, &sup))
            log_warn("peer %s: srtp protect %s failed (%d)%s", s->label,
                     rtcp ? "rtcp" : "rtp", (int)st, s_suppressed(sup));
        return -EIO;
    }
    *len = (size_t)n;
    if (rtcp) s->stats.rtcp_protected++;
    else s->stats.rtp_protected++;
    return 0;
}

int rtc_srtp_protect_rtp(rtc_srtp_t *s, uint8_t *buf, size_t *len, size_t cap)
{
    return s_protect(s, buf, len, cap, false);
}

int rtc_srtp_protect_rtcp(rtc_srtp_t *s, uint8_t *buf, size_t *len, size_t cap)
{
    return s_protect(s, buf, len, cap, true);
}

static int s_unprotect(rtc_srtp_t *s, uint8_t *buf, size_t *len, bool rtcp)
{
    if (!s || !buf || !len)
        return -EINVAL;
    int r;
    const char *why = "error";
    srtp_err_status_t st = srtp_err_status_bad_param;
    if ((rtcp ? !s_looks_rtcp(buf, *len) : !s_looks_rtp(buf, *len)) || *len > INT32_MAX) {
        r = -EBADMSG;
        why = "malformed";
        s->stats.other_fail++;
    } else {
        int n = (int)*len;
        st = rtcp ? srtp_unprotect_rtcp(s->in, buf, &n) : srtp_unprotect(s->in, buf, &n);
        if (st == srtp_err_status_ok) {
            *len = (size_t)n;
            if (rtcp) s->stats.rtcp_unprotected++;
            else s->stats.rtp_unprotected++;
            return 0;
        }
        if (st == srtp_err_status_auth_fail) {
            r = -EBADMSG;
            why = "authentication";
            s->stats.auth_fail++;
        } else if (st == srtp_err_status_replay_fail || st == srtp_err_status_replay_old) {
            r = -EALREADY;
            s->stats.replay_fail++;
        } else {
            r = -EIO;
            s->stats.other_fail++;
        }
    }
    /* Replays are routine (duplicated packets on the path): debug only. The
     * rest is peer-triggered, so rate-limited. */
    uint64_t sup = 0;
    if (r == -EALREADY)
        log_debug("peer %s: srtp %s replay dropped", s->label, rtcp ? "rtcp" : "rtp");
    else if (log_ratelimit_ok(&s->rl, &sup))
        log_warn("peer %s: srtp unprotect %s failed (%s, libsrtp %d), %zu bytes dropped%s",
                 s->label, rtcp ? "rtcp" : "rtp", why, (int)st, *len, s_suppressed(sup));
    return r;
}

int rtc_srtp_unprotect_rtp(rtc_srtp_t *s, uint8_t *buf, size_t *len)
{
    return s_unprotect(s, buf, len, false);
}

int rtc_srtp_unprotect_rtcp(rtc_srtp_t *s, uint8_t *buf, size_t *len)
{
    return s_unprotect(s, buf, len, true);
}

void rtc_srtp_stats(const rtc_srtp_t *s, rtc_srtp_stats_t *out)
{
    if (!out)
        return;
    if (s) *out = s->stats;
    else memset(out, 0, sizeof *out);
}
