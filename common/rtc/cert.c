/* cert — see cert.h. */
#include "rtc/cert.h"

#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

struct rtc_cert {
    atomic_int refs;
    X509 *x509;
    EVP_PKEY *pkey;
    char fingerprint[8 + 3 * 32];   /* "sha-256 " + 32 * "XX:" */
};

/* The oldest queued OpenSSL error as text (and the queue cleared), so that
 * one failure gives one log line with its cause. */
static const char *s_ssl_error(char *buf, size_t size)
{
    unsigned long e = ERR_get_error();
    if (!e)
        snprintf(buf, size, "unknown error");
    else
        ERR_error_string_n(e, buf, size);
    ERR_clear_error();
    return buf;
}

static const EVP_MD *s_md_by_name(const char *hash)
{
    if (!strcmp(hash, "sha-256")) return EVP_sha256();
    if (!strcmp(hash, "sha-384")) return EVP_sha384();
    if (!strcmp(hash, "sha-512")) return EVP_sha512();
    return NULL;
}

static void s_hex_colon(const uint8_t *d, size_t n, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        *out++ = hex[d[i] >> 4];
        *out++ = hex[d[i] & 15];
        *out++ = i + 1 < n ? ':' : '\0';
    }
    if (!n) *out = '\0';
}

/* Takes ownership of x509 and pkey (also on failure). */
static rtc_cert_t *s_cert_wrap(X509 *x509, EVP_PKEY *pkey)
{
    rtc_cert_t *c = calloc(1, sizeof *c);
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (!c || !X509_digest(x509, EVP_sha256(), md, &mdlen) || mdlen != 32) {
        char err[256];
        log_error("rtc cert: fingerprint: %s", s_ssl_error(err, sizeof err));
        free(c);
        X509_free(x509);
        EVP_PKEY_free(pkey);
        return NULL;
    }
    atomic_init(&c->refs, 1);
    c->x509 = x509;
    c->pkey = pkey;
    memcpy(c->fingerprint, "sha-256 ", 8);
    s_hex_colon(md, mdlen, c->fingerprint + 8);
    return c;
}

rtc_cert_t *rtc_cert_new(void)
{
    char err[256];
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    BIGNUM *serial = BN_new();
    if (!pkey || !x || !serial)
        goto fail;
    /* A random serial: Chromium (and NSS before it) caches certificates by
     * issuer+serial, so two processes with the same serial and CN could be
     * confused; 63 random bits keep the INTEGER positive. */
    if (!X509_set_version(x, 2)
        || !BN_rand(serial, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY)
        || !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x))
        /* A day back absorbs clock skew on the remote side; 30 days (like
         * Chromium's own RTCCertificate) outlives any session. Peers check
         * only the fingerprint, so expiry matters only for hygiene. */
        || !X509_gmtime_adj(X509_getm_notBefore(x), -86400L)
        || !X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400L)
        || !X509_set_pubkey(x, pkey))
        goto fail;
    X509_NAME *name = X509_get_subject_name(x);
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                    (const unsigned char *)"voxmesh", -1, -1, 0)
        || !X509_set_issuer_name(x, name)
        || !X509_sign(x, pkey, EVP_sha256()))
        goto fail;
    BN_free(serial);
    return s_cert_wrap(x, pkey);
fail:
    log_error("rtc cert: generating self-signed certificate: %s", s_ssl_error(err, sizeof err));
    BN_free(serial);
    X509_free(x);
    EVP_PKEY_free(pkey);
    return NULL;
}

rtc_cert_t *rtc_cert_load(const char *cert_pem_path, const char *key_pem_path)
{
    char err[256];
    if (!cert_pem_path || !key_pem_path) {
        log_error("rtc cert: load: certificate and key paths are required");
        return NULL;
    }
    FILE *f = fopen(cert_pem_path, "r");
    if (!f) {
        log_error("rtc cert: %s: %m", cert_pem_path);
        return NULL;
    }
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!x) {
        log_error("rtc cert: %s: %s", cert_pem_path, s_ssl_error(err, sizeof err));
        return NULL;
    }
    f = fopen(key_pem_path, "r");
    if (!f) {
        log_error("rtc cert: %s: %m", key_pem_path);
        X509_free(x);
        return NULL;
    }
    EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!pkey) {
        log_error("rtc cert: %s: %s", key_pem_path, s_ssl_error(err, sizeof err));
        X509_free(x);
        return NULL;
    }
    if (X509_check_private_key(x, pkey) != 1) {
        log_error("rtc cert: %s does not match %s: %s", key_pem_path, cert_pem_path,
                  s_ssl_error(err, sizeof err));
        X509_free(x);
        EVP_PKEY_free(pkey);
        return NULL;
    }
    return s_cert_wrap(x, pkey);
}

rtc_cert_t *rtc_cert_ref(rtc_cert_t *cert)
{
    if (cert)
        atomic_fetch_add_explicit(&cert->refs, 1, memory_order_relaxed);
    return cert;
}

void rtc_cert_destroy(rtc_cert_t **p)
{
    if (!p || !*p)
        return;
    rtc_cert_t *c = *p;
    *p = NULL;
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    X509_free(c->x509);
    EVP_PKEY_free(c->pkey);
    free(c);
}

const char *rtc_cert_fingerprint(const rtc_cert_t *cert)
{
    return cert ? cert->fingerprint : NULL;
}

X509 *rtc_cert_x509(const rtc_cert_t *cert)
{
    return cert ? cert->x509 : NULL;
}

EVP_PKEY *rtc_cert_pkey(const rtc_cert_t *cert)
{
    return cert ? cert->pkey : NULL;
}

static int s_hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int rtc_fingerprint_parse(const char *text, rtc_fingerprint_t *out)
{
    if (!text || !out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    const char *s = text;
    while (isspace((unsigned char)*s)) s++;
    if (!strncasecmp(s, "a=", 2)) s += 2;
    if (!strncasecmp(s, "fingerprint:", 12)) s += 12;
    size_t n = strcspn(s, " \t");
    static const char *const hashes[] = { "sha-256", "sha-384", "sha-512" };
    for (size_t i = 0; i < 3; i++)
        if (n == strlen(hashes[i]) && !strncasecmp(s, hashes[i], n))
            out->hash = hashes[i];
    if (!out->hash)
        return -EINVAL;
    size_t want = (size_t)EVP_MD_get_size(s_md_by_name(out->hash));
    s += n;
    while (*s == ' ' || *s == '\t') s++;
    for (;;) {
        int hi = s_hexval((unsigned char)s[0]);
        int lo = hi < 0 ? -1 : s_hexval((unsigned char)s[1]);
        if (hi < 0 || lo < 0 || out->len >= want)
            return -EINVAL;
        out->digest[out->len++] = (uint8_t)(hi << 4 | lo);
        s += 2;
        if (*s != ':')
            break;
        s++;
    }
    while (isspace((unsigned char)*s)) s++;   /* a trailing "\r\n" from SDP */
    if (*s || out->len != want)
        return -EINVAL;
    return 0;
}

bool rtc_fingerprint_match(const rtc_fingerprint_t *fp, X509 *x509)
{
    if (!fp || !fp->hash || !x509)
        return false;
    const EVP_MD *md = s_md_by_name(fp->hash);
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (!md || !X509_digest(x509, md, d, &n) || n != fp->len)
        return false;
    return CRYPTO_memcmp(d, fp->digest, n) == 0;
}
