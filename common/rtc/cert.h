/* cert — the DTLS identity of this process, and SDP fingerprints.
 *
 * WebRTC peers authenticate each other only by the certificate fingerprint
 * carried in the (signalled) SDP, never by a CA, so a self-signed certificate
 * generated at start-up is normal. One certificate is shared by all peers of a
 * process: rtc_cert_t is immutable after creation and reference counted
 * (atomic), so peers on different worker threads may hold it at once. Every
 * holder calls rtc_cert_destroy() once; the last one frees it. */
#ifndef VOXMESH_RTC_CERT_H
#define VOXMESH_RTC_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/types.h>

typedef struct rtc_cert rtc_cert_t;

/* Generates an ECDSA P-256 key and a self-signed certificate (CN=voxmesh,
 * random serial, notBefore now-1 day for clock skew, notAfter now+30 days).
 * Returns NULL on failure (logged). */
rtc_cert_t *rtc_cert_new(void);

/* Loads a PEM certificate and its PEM private key; fails when they do not
 * match. Returns NULL on failure (logged). */
rtc_cert_t *rtc_cert_load(const char *cert_pem_path, const char *key_pem_path);

/* Takes one more reference; returns cert. */
rtc_cert_t *rtc_cert_ref(rtc_cert_t *cert);

/* Drops one reference and sets *p to NULL; frees on the last one. */
void rtc_cert_destroy(rtc_cert_t **p);

/* "sha-256 AA:BB:..." (upper-case hex), the value of SDP a=fingerprint. */
const char *rtc_cert_fingerprint(const rtc_cert_t *cert);

/* Borrowed OpenSSL objects, for the DTLS layer. */
X509 *rtc_cert_x509(const rtc_cert_t *cert);
EVP_PKEY *rtc_cert_pkey(const rtc_cert_t *cert);

/* A parsed SDP fingerprint (RFC 8122): hash function and digest. */
typedef struct {
    const char *hash;   /* "sha-256", "sha-384" or "sha-512" (static string) */
    uint8_t digest[64];
    size_t len;
} rtc_fingerprint_t;

/* Parses "sha-256 AA:BB:..." (hash name and hex case-insensitive; an "a=" or
 * "fingerprint:" prefix is accepted). sha-1 and others are refused because
 * RFC 8827 requires at least SHA-256. Returns 0 or -EINVAL. */
int rtc_fingerprint_parse(const char *text, rtc_fingerprint_t *out);

/* True when the certificate's digest with fp->hash equals fp->digest
 * (constant time compare). */
bool rtc_fingerprint_match(const rtc_fingerprint_t *fp, X509 *x509);

#endif
