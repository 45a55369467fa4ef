/* dtls_fuzz — peer-controlled input of the WebRTC transport core: DTLS
 * datagrams into a server endpoint (what a browser, or anyone who can reach
 * the ICE 5-tuple, sends before and during the handshake), SRTP/SRTCP into
 * the unprotect path, and SDP fingerprint strings.
 *
 * Input layout: byte 0 selects the target; the rest is a sequence of
 * datagrams, each prefixed with a 2-byte big-endian length. */
#include "log.h"
#include "rtc/cert.h"
#include "rtc/dtls.h"
#include "rtc/srtp_ctx.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static rtc_cert_t *s_cert;
static rtc_srtp_t *s_srtp;
static size_t s_sent;

static void s_send(const uint8_t *data, size_t len, void *user)
{
    (void)data;
    (void)user;
    s_sent += len;
}

static void s_init(void)
{
    log_init("dtls_fuzz", LOG_LEVEL_ERROR, false);
    s_cert = rtc_cert_new();
    rtc_srtp_keys_t k;
    uint8_t material[60];
    for (size_t i = 0; i < sizeof material; i++) material[i] = (uint8_t)(i * 13 + 7);
    rtc_srtp_keys_from_material(&k, RTC_SRTP_AES128_CM_SHA1_80, material, sizeof material, false);
    s_srtp = rtc_srtp_new(&k, "fuzz");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_cert)
        s_init();
    if (size < 1 || !s_cert || !s_srtp)
        return 0;
    uint8_t mode = data[0] % 3;
    data++;
    size--;

    if (mode == 2) {   /* fingerprint strings */
        char *s = malloc(size + 1);
        if (!s) return 0;
        memcpy(s, data, size);
        s[size] = 0;
        rtc_fingerprint_t fp;
        if (rtc_fingerprint_parse(s, &fp) == 0)
            (void)rtc_fingerprint_match(&fp, rtc_cert_x509(s_cert));
        free(s);
        return 0;
    }

    rtc_dtls_t *d = NULL;
    if (mode == 0) {
        rtc_dtls_config_t cfg = {
            .label = "fuzz", .role = RTC_DTLS_ROLE_SERVER, .cert = s_cert,
            .remote_fingerprint = rtc_cert_fingerprint(s_cert),
            .handshake_timeout_ms = 1, .send = s_send,
        };
        d = rtc_dtls_new(&cfg);
        if (!d) return 0;
    }
    uint8_t buf[4096];
    while (size >= 2) {
        size_t n = (size_t)data[0] << 8 | data[1];
        data += 2;
        size -= 2;
        if (n > size) n = size;
        if (mode == 0) {
            rtc_dtls_input(d, data, n);
            (void)rtc_dtls_timeout_ms(d);
        } else if (n <= sizeof buf - RTC_SRTP_MAX_OVERHEAD) {
            memcpy(buf, data, n);
            size_t len = n;
            if (n >= 2 && buf[1] >= 192 && buf[1] <= 223)
                rtc_srtp_unprotect_rtcp(s_srtp, buf, &len);
            else
                rtc_srtp_unprotect_rtp(s_srtp, buf, &len);
        }
        data += n;
        size -= n;
    }
    if (d) {
        rtc_dtls_handle_timeout(d);
        rtc_srtp_keys_t k;
        (void)rtc_dtls_srtp_keys(d, &k);
        rtc_dtls_destroy(&d);
    }
    return 0;
}
