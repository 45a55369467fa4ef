/* sdp — see sdp.h. */
#include "rtc/sdp.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- small helpers ---------------------------------------------------------- */

static void s_err(char *err, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void s_err(char *err, size_t size, const char *fmt, ...)
{
    if (!err || !size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
}

static bool s_is_ws(char c) { return c == ' ' || c == '\t'; }

/* Splits off the next whitespace-separated token by writing a NUL after it. */
static char *s_tok(char **cursor)
{
    char *p = *cursor;
    if (!p)
        return NULL;
    while (s_is_ws(*p))
        p++;
    if (!*p) {
        *cursor = p;
        return NULL;
    }
    char *start = p;
    while (*p && !s_is_ws(*p))
        p++;
    if (*p)
        *p++ = '\0';
    *cursor = p;
    return start;
}

/* The rest of a line with surrounding whitespace removed (in place). */
static char *s_rest(char *p)
{
    while (s_is_ws(*p))
        p++;
    size_t n = strlen(p);
    while (n && s_is_ws(p[n - 1]))
        p[--n] = '\0';
    return p;
}

/* Decimal number without sign, at most `max`. */
static bool s_parse_u32(const char *s, uint32_t max, uint32_t *out)
{
    if (!s || !*s || strlen(s) > 10)
        return false;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool s_parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || strlen(s) > 19)
        return false;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return true;
}

/* RFC 8839 ice-char: what we accept in credentials and foundations we build. */
static bool s_is_ice_chars(const char *s, size_t min, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '/')
            return false;
    return true;
}

/* Visible ASCII without spaces: peers' credentials, mids, cnames. Stricter
 * than nothing (no way to smuggle a line or a field), laxer than RFC grammar
 * so that an odd but harmless peer still connects. */
static bool s_is_visible(const char *s, size_t min, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/* Visible ASCII plus inner spaces, no control characters: values we emit as
 * the rest of a line (fmtp). */
static bool s_is_line_safe(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

static bool s_is_addr_chars(const char *s)
{
    if (!*s)
        return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != ':' && *p != '-' && *p != '_')
            return false;
    return true;
}

static bool s_copy(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n >= size)
        return false;
    memcpy(dst, src, n + 1);
    return true;
}

static void s_lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* ---- text checks and line iteration ---------------------------------------- */

/* Bounds the input before any parsing: size, characters, lines. */
static int s_check_text(const char *text, size_t len, char *err, size_t err_size)
{
    if (!text || len == 0) {
        s_err(err, err_size, "empty SDP");
        return -1;
    }
    if (len > SDP_MAX_SIZE) {
        s_err(err, err_size, "SDP too large (%zu bytes, max %d)", len, SDP_MAX_SIZE);
        return -1;
    }
    int lines = 1;
    size_t line_len = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n') {
            lines++;
            line_len = 0;
            if (lines > SDP_MAX_LINES + 1) {
                s_err(err, err_size, "SDP has too many lines (max %d)", SDP_MAX_LINES);
                return -1;
            }
            continue;
        }
        /* UTF-8 is fine (s=, i=); control characters are not. */
        if ((c < 0x20 && c != '\r' && c != '\t') || c == 0x7f) {
            s_err(err, err_size, "line %d: control character in SDP", lines);
            return -1;
        }
        if (c != '\r' && ++line_len > SDP_MAX_LINE_LEN) {
            s_err(err, err_size, "line %d: too long (max %d bytes)", lines, SDP_MAX_LINE_LEN);
            return -1;
        }
    }
    return 0;
}

typedef struct {
    char *p, *end;
    int lineno;
} s_lines_t;

/* Next line without its CR/LF; empty lines are skipped. NULL at the end. */
static char *s_next_line(s_lines_t *it)
{
    while (it->p < it->end) {
        char *start = it->p;
        char *nl = memchr(start, '\n', (size_t)(it->end - start));
        char *stop = nl ? nl : it->end;
        it->p = nl ? nl + 1 : it->end;
        it->lineno++;
        *stop = '\0';
        if (stop > start && stop[-1] == '\r')
            stop[-1] = '\0';
        /* a stray CR inside a line would let a value carry a line break */
        for (char *q = start; *q; q++)
            if (*q == '\r')
                *q = ' ';
        if (*start)
            return start;
    }
    return NULL;
}

/* ---- candidates ------------------------------------------------------------ */

int sdp_candidate_parse(const char *text, sdp_candidate_t *out, char *err, size_t err_size)
{
    char buf[SDP_MAX_LINE_LEN + 1];
    memset(out, 0, sizeof *out);
    if (!text || strlen(text) > SDP_MAX_LINE_LEN) {
        s_err(err, err_size, "bad a=candidate (too long)");
        return -1;
    }
    strcpy(buf, text);
    char *p = s_rest(buf);
    if (!strncmp(p, "a=", 2))
        p += 2;
    if (!strncasecmp(p, "candidate:", 10))
        p += 10;

    int unsupported = 0;
    char *foundation = s_tok(&p), *component = s_tok(&p), *transport = s_tok(&p);
    char *priority = s_tok(&p), *address = s_tok(&p), *port = s_tok(&p);
    char *typ = s_tok(&p), *type = s_tok(&p);
    uint32_t v;
    if (!type) {
        s_err(err, err_size, "bad a=candidate (too few fields)");
        return -1;
    }
    if (!s_is_visible(foundation, 1, SDP_FOUNDATION_MAX)) {
        s_err(err, err_size, "bad a=candidate foundation");
        return -1;
    }
    strcpy(out->foundation, foundation);
    if (!s_parse_u32(component, 256, &v) || v == 0) {
        s_err(err, err_size, "bad a=candidate component");
        return -1;
    }
    out->component = (uint16_t)v;
    s_lower(transport);
    if (!s_is_visible(transport, 1, 32)) {
        s_err(err, err_size, "bad a=candidate transport");
        return -1;
    }
    if (strcmp(transport, "udp") && strcmp(transport, "tcp"))
        unsupported = 1;
    else
        strcpy(out->transport, transport);
    if (!s_parse_u32(priority, UINT32_MAX, &out->priority) || !priority[0]) {
        s_err(err, err_size, "bad a=candidate priority");
        return -1;
    }
    if (!s_is_addr_chars(address)) {
        s_err(err, err_size, "bad a=candidate address");
        return -1;
    }
    if (!s_copy(out->address, sizeof out->address, address))
        unsupported = 1; /* a long FQDN: valid, but not one we resolve */
    if (!s_parse_u32(port, 65535, &v)) {
        s_err(err, err_size, "bad a=candidate port");
        return -1;
    }
    out->port = (uint16_t)v;
    if (strcmp(typ, "typ")) {
        s_err(err, err_size, "bad a=candidate (no typ)");
        return -1;
    }
    if (!strcmp(type, "host") || !strcmp(type, "srflx") || !strcmp(type, "prflx") ||
        !strcmp(type, "relay"))
        strcpy(out->type, type);
    else if (s_is_visible(type, 1, 32))
        unsupported = 1;
    else {
        s_err(err, err_size, "bad a=candidate type");
        return -1;
    }
    /* name/value extensions; unknown ones (generation, ufrag, network-id...)
     * are skipped, a lone trailing token too. */
    char *name, *value;
    while ((name = s_tok(&p)) && (value = s_tok(&p))) {
        if (!strcmp(name, "raddr")) {
            if (!s_is_addr_chars(value)) {
                s_err(err, err_size, "bad a=candidate raddr");
                return -1;
            }
            if (!s_copy(out->raddr, sizeof out->raddr, value))
                out->raddr[0] = '\0';
        } else if (!strcmp(name, "rport")) {
            if (!s_parse_u32(value, 65535, &v)) {
                s_err(err, err_size, "bad a=candidate rport");
                return -1;
            }
            out->rport = (uint16_t)v;
        } else if (!strcmp(name, "tcptype")) {
            if (strcmp(value, "active") && strcmp(value, "passive") && strcmp(value, "so")) {
                s_err(err, err_size, "bad a=candidate tcptype");
                return -1;
            }
            strcpy(out->tcptype, value);
        }
    }
    return unsupported;
}

int sdp_candidate_format(const sdp_candidate_t *c, char *buf, size_t size)
{
    if (!c || !buf || !s_is_visible(c->foundation, 1, SDP_FOUNDATION_MAX) ||
        c->component == 0 || c->component > 256 ||
        (strcmp(c->transport, "udp") && strcmp(c->transport, "tcp")) ||
        !s_is_addr_chars(c->address) ||
        (strcmp(c->type, "host") && strcmp(c->type, "srflx") && strcmp(c->type, "prflx") &&
         strcmp(c->type, "relay")) ||
        (c->raddr[0] && !s_is_addr_chars(c->raddr)) ||
        (c->tcptype[0] && strcmp(c->tcptype, "active") && strcmp(c->tcptype, "passive") &&
         strcmp(c->tcptype, "so")))
        return -1;
    int n = snprintf(buf, size, "candidate:%s %u %s %u %s %u typ %s", c->foundation,
                     c->component, c->transport, c->priority, c->address, c->port, c->type);
    if (n < 0 || (size_t)n >= size)
        return -1;
    /* RFC 8839 wants a related address on non-host candidates; like Chrome,
     * hide it as 0.0.0.0/0 when we do not have (or want to give) one. */
    if (c->raddr[0] || strcmp(c->type, "host")) {
        int m = snprintf(buf + n, size - (size_t)n, " raddr %s rport %u",
                         c->raddr[0] ? c->raddr : "0.0.0.0", c->rport);
        if (m < 0 || (size_t)m >= size - (size_t)n)
            return -1;
        n += m;
    }
    if (c->tcptype[0]) {
        int m = snprintf(buf + n, size - (size_t)n, " tcptype %s", c->tcptype);
        if (m < 0 || (size_t)m >= size - (size_t)n)
            return -1;
        n += m;
    }
    return n;
}

/* ---- fingerprints ---------------------------------------------------------- */

static size_t s_hash_len(const char *algo)
{
    if (!strcmp(algo, "sha-256"))
        return 32;
    if (!strcmp(algo, "sha-384"))
        return 48;
    if (!strcmp(algo, "sha-512"))
        return 64;
    return 0;
}

static int s_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int sdp_fingerprint_parse(const char *text, sdp_fingerprint_t *out)
{
    memset(out, 0, sizeof *out);
    if (!text)
        return -1;
    while (s_is_ws(*text))
        text++;
    const char *sp = text;
    while (*sp && !s_is_ws(*sp))
        sp++;
    size_t alen = (size_t)(sp - text);
    if (alen == 0 || !*sp)
        return -1;
    if (alen >= sizeof out->algo)
        return 1; /* not a hash we know; no room for its name either */
    memcpy(out->algo, text, alen);
    out->algo[alen] = '\0';
    s_lower(out->algo);
    size_t want = s_hash_len(out->algo);
    if (!want)
        return 1;
    const char *p = sp;
    while (s_is_ws(*p))
        p++;
    size_t n = 0;
    for (;;) {
        int hi = s_hex(p[0]), lo = hi < 0 ? -1 : s_hex(p[1]);
        if (hi < 0 || lo < 0 || n >= want) {
            memset(out, 0, sizeof *out);
            return -1;
        }
        out->digest[n++] = (uint8_t)(hi << 4 | lo);
        p += 2;
        if (*p == ':') {
            p++;
            continue;
        }
        break;
    }
    while (s_is_ws(*p))
        p++;
    if (*p || n != want) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    out->len = n;
    return 0;
}

int sdp_fingerprint_format(const sdp_fingerprint_t *fp, char *buf, size_t size)
{
    if (!fp || !buf || !fp->len || s_hash_len(fp->algo) != fp->len)
        return -1;
    size_t need = strlen(fp->algo) + 1 + fp->len * 3;
    if (need > size)
        return -1;
    size_t n = (size_t)sprintf(buf, "%s ", fp->algo);
    for (size_t i = 0; i < fp->len; i++)
        n += (size_t)sprintf(buf + n, i ? ":%02X" : "%02X", fp->digest[i]);
    return (int)n;
}

/* ---- fmtp ---------------------------------------------------------------- */

bool sdp_fmtp_get(const char *fmtp, const char *key, char *val, size_t val_size)
{
    if (!fmtp || !key || !*key)
        return false;
    size_t klen = strlen(key);
    const char *p = fmtp;
    while (*p) {
        while (*p == ';' || s_is_ws(*p))
            p++;
        const char *end = strchr(p, ';');
        if (!end)
            end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *kend = eq ? eq : end;
        while (kend > p && s_is_ws(kend[-1]))
            kend--;
        if ((size_t)(kend - p) == klen && !strncasecmp(p, key, klen)) {
            const char *v = eq ? eq + 1 : end;
            while (v < end && s_is_ws(*v))
                v++;
            const char *vend = end;
            while (vend > v && s_is_ws(vend[-1]))
                vend--;
            size_t vlen = (size_t)(vend - v);
            if (!val)
                return true;
            if (vlen >= val_size)
                return false;
            memcpy(val, v, vlen);
            val[vlen] = '\0';
            return true;
        }
        p = end;
    }
    return false;
}

long sdp_fmtp_get_int(const char *fmtp, const char *key, long dflt)
{
    char v[16];
    uint32_t n;
    if (!sdp_fmtp_get(fmtp, key, v, sizeof v) || !s_parse_u32(v, 0x7fffffff, &n))
        return dflt;
    return (long)n;
}

/* ---- lookups --------------------------------------------------------------- */

const sdp_media_t *sdp_media_by_mid(const sdp_t *sdp, const char *mid)
{
    if (!sdp || !mid)
        return NULL;
    for (int i = 0; i < sdp->media_count; i++)
        if (sdp->media[i].mid && !strcmp(sdp->media[i].mid, mid))
            return &sdp->media[i];
    return NULL;
}

const sdp_format_t *sdp_media_format(const sdp_media_t *m, int pt)
{
    for (int i = 0; m && i < m->format_count; i++)
        if (m->formats[i].pt == pt)
            return &m->formats[i];
    return NULL;
}

bool sdp_format_has_fb(const sdp_format_t *f, const char *fb)
{
    for (int i = 0; f && i < f->rtcp_fb_count; i++)
        if (!strcasecmp(f->rtcp_fb[i], fb))
            return true;
    return false;
}

static sdp_format_t *s_format(sdp_media_t *m, uint32_t pt)
{
    return (sdp_format_t *)sdp_media_format(m, (int)pt);
}

/* ---- the parser ------------------------------------------------------------ */

typedef struct {
    sdp_t *sdp;
    int lineno;
    char *err;
    size_t err_size;
    bool session_dir_set, session_eoc;
    sdp_direction_t session_dir;
    bool dir_set[SDP_MAX_MEDIA];
    bool seen_bundle;
    char sess_fp_unsupported[16];
} s_parser_t;

#define S_FAIL(ps, ...) do { \
        char m_[SDP_ERR_MAX]; \
        snprintf(m_, sizeof m_, __VA_ARGS__); \
        s_err((ps)->err, (ps)->err_size, "line %d: %s", (ps)->lineno, m_); \
        return -1; \
    } while (0)

static bool s_has_token(const char *list, const char *token)
{
    size_t n = strlen(token);
    for (const char *p = list; p && *p;) {
        while (s_is_ws(*p))
            p++;
        const char *e = p;
        while (*e && !s_is_ws(*e))
            e++;
        if ((size_t)(e - p) == n && !strncmp(p, token, n))
            return true;
        p = e;
    }
    return false;
}

static int s_parse_mline(s_parser_t *ps, char *value)
{
    sdp_t *sdp = ps->sdp;
    if (sdp->media_count >= SDP_MAX_MEDIA)
        S_FAIL(ps, "too many m-lines (max %d)", SDP_MAX_MEDIA);
    sdp_media_t *m = &sdp->media[sdp->media_count++];
    char *p = value;
    char *media = s_tok(&p), *port = s_tok(&p), *proto = s_tok(&p);
    char *fmt = s_rest(p);
    if (!proto || !*fmt)
        S_FAIL(ps, "bad m-line");
    if (!s_is_visible(media, 1, 32) || !s_is_visible(proto, 1, 64))
        S_FAIL(ps, "bad m-line");
    char *slash = strchr(port, '/'); /* "<port>/<number of ports>" */
    if (slash)
        *slash = '\0';
    uint32_t v;
    if (!s_parse_u32(port, 65535, &v))
        S_FAIL(ps, "bad m-line port");
    m->port = (uint16_t)v;
    m->media = media;
    m->proto = proto;
    m->fmt = fmt;
    m->kind = !strcmp(media, "audio") ? SDP_MEDIA_AUDIO
            : !strcmp(media, "video") ? SDP_MEDIA_VIDEO
            : !strcmp(media, "application") ? SDP_MEDIA_APPLICATION : SDP_MEDIA_OTHER;
    m->rtp = strstr(proto, "RTP/") != NULL;
    if (!m->rtp)
        return 0;
    /* Payload types, read without cutting `fmt` (it stays the whole list). */
    for (const char *q = fmt; *q;) {
        while (s_is_ws(*q))
            q++;
        if (!*q)
            break;
        char tok[8];
        size_t n = 0;
        while (q[n] && !s_is_ws(q[n]))
            n++;
        if (n >= sizeof tok)
            S_FAIL(ps, "bad payload type in m-line");
        memcpy(tok, q, n);
        tok[n] = '\0';
        q += n;
        if (!s_parse_u32(tok, 127, &v))
            S_FAIL(ps, "bad payload type in m-line");
        if (s_format(m, v) || m->format_count >= SDP_MAX_FORMATS)
            continue;
        m->formats[m->format_count++].pt = (uint8_t)v;
    }
    return 0;
}

static int s_attr_rtpmap(s_parser_t *ps, sdp_media_t *m, char *value)
{
    char *p = value;
    char *pt = s_tok(&p), *enc = s_tok(&p);
    uint32_t v, clock, ch = 0;
    if (!enc || !s_parse_u32(pt, 127, &v))
        S_FAIL(ps, "bad a=rtpmap");
    char *name = enc, *s1 = strchr(enc, '/');
    if (!s1)
        S_FAIL(ps, "bad a=rtpmap");
    *s1++ = '\0';
    char *s2 = strchr(s1, '/');
    if (s2)
        *s2++ = '\0';
    if (!s_is_visible(name, 1, 32) || !s_parse_u32(s1, 10000000, &clock) ||
        (s2 && !s_parse_u32(s2, 255, &ch)))
        S_FAIL(ps, "bad a=rtpmap");
    sdp_format_t *f = s_format(m, v);
    if (!f || f->name)
        return 0; /* not in the m-line (or a repeat): nothing to attach it to */
    f->name = name;
    f->clock_rate = clock;
    f->channels = (uint16_t)ch;
    return 0;
}

static int s_attr_fmtp(s_parser_t *ps, sdp_media_t *m, char *value)
{
    char *p = value;
    char *pt = s_tok(&p);
    uint32_t v;
    if (!s_parse_u32(pt, 127, &v))
        S_FAIL(ps, "bad a=fmtp");
    sdp_format_t *f = s_format(m, v);
    if (f && !f->fmtp)
        f->fmtp = s_rest(p);
    return 0;
}

static void s_add_fb(sdp_format_t *f, const char *fb)
{
    if (f->rtcp_fb_count < SDP_MAX_RTCP_FB && !sdp_format_has_fb(f, fb))
        f->rtcp_fb[f->rtcp_fb_count++] = fb;
}

static int s_attr_rtcp_fb(s_parser_t *ps, sdp_media_t *m, char *value)
{
    char *p = value;
    char *pt = s_tok(&p);
    char *fb = pt ? s_rest(p) : NULL;
    if (!fb || !*fb)
        S_FAIL(ps, "bad a=rtcp-fb");
    /* "nack  pli" and "nack pli" are the same feedback: one space */
    char *w = fb;
    bool gap = false;
    for (char *r = fb; *r; r++) {
        if (s_is_ws(*r)) {
            gap = true;
            continue;
        }
        if (gap && w != fb)
            *w++ = ' ';
        gap = false;
        *w++ = *r;
    }
    *w = '\0';
    if (!strcmp(pt, "*")) {
        for (int i = 0; i < m->format_count; i++)
            s_add_fb(&m->formats[i], fb);
        return 0;
    }
    uint32_t v;
    if (!s_parse_u32(pt, 127, &v))
        S_FAIL(ps, "bad a=rtcp-fb");
    sdp_format_t *f = s_format(m, v);
    if (f)
        s_add_fb(f, fb);
    return 0;
}

static int s_attr_extmap(s_parser_t *ps, sdp_media_t *m, char *value)
{
    char *p = value;
    char *id = s_tok(&p), *uri = s_tok(&p);
    if (!uri)
        S_FAIL(ps, "bad a=extmap");
    char *dir = strchr(id, '/');
    if (dir)
        *dir++ = '\0';
    uint32_t v;
    /* 1-14 one-byte, up to 255 two-byte (RFC 8285 section 5) */
    if (!s_parse_u32(id, 255, &v) || v == 0)
        S_FAIL(ps, "bad a=extmap id");
    if (dir && strcmp(dir, "sendrecv") && strcmp(dir, "sendonly") && strcmp(dir, "recvonly") &&
        strcmp(dir, "inactive"))
        S_FAIL(ps, "bad a=extmap direction");
    for (int i = 0; i < m->extmap_count; i++)
        if (m->extmaps[i].id == v)
            S_FAIL(ps, "duplicate a=extmap id %u", v);
    if (m->extmap_count >= SDP_MAX_EXTMAPS)
        return 0;
    sdp_extmap_t *e = &m->extmaps[m->extmap_count++];
    e->id = (uint16_t)v;
    e->uri = uri;
    e->direction = dir;
    char *attrs = s_rest(p);
    e->attributes = *attrs ? attrs : NULL;
    return 0;
}

static sdp_ssrc_t *s_ssrc(sdp_media_t *m, uint32_t ssrc)
{
    for (int i = 0; i < m->ssrc_count; i++)
        if (m->ssrcs[i].ssrc == ssrc)
            return &m->ssrcs[i];
    if (m->ssrc_count >= SDP_MAX_SSRCS)
        return NULL;
    sdp_ssrc_t *s = &m->ssrcs[m->ssrc_count++];
    s->ssrc = ssrc;
    return s;
}

static int s_attr_ssrc(s_parser_t *ps, sdp_media_t *m, char *value)
{
    char *p = value;
    char *id = s_tok(&p);
    uint32_t v;
    if (!s_parse_u32(id, UINT32_MAX, &v))
        S_FAIL(ps, "bad a=ssrc");
    char *attr = s_rest(p);
    char *colon = strchr(attr, ':');
    char *val = NULL;
    if (colon) {
        *colon = '\0';
        val = s_rest(colon + 1);
    }
    sdp_ssrc_t *s = s_ssrc(m, v);
    if (!s)
        return 0;
    if (!strcmp(attr, "cname") && val && *val)
        s->cname = val;
    else if (!strcmp(attr, "msid") && val && *val)
        s->msid = val;
    return 0;
}

static int s_attr_ssrc_group(s_parser_t *ps, sdp_media_t *m, char *value)
{
    char *p = value;
    char *sem = s_tok(&p);
    if (!sem)
        S_FAIL(ps, "bad a=ssrc-group");
    sdp_ssrc_group_t g = { .semantics = sem };
    char *t;
    while ((t = s_tok(&p))) {
        uint32_t v;
        if (!s_parse_u32(t, UINT32_MAX, &v))
            S_FAIL(ps, "bad a=ssrc-group");
        if (g.count < SDP_MAX_SSRC_GROUP_SIZE)
            g.ssrcs[g.count++] = v;
    }
    if (m->ssrc_group_count < SDP_MAX_SSRC_GROUPS)
        m->ssrc_groups[m->ssrc_group_count++] = g;
    return 0;
}

static int s_attr_candidate(s_parser_t *ps, sdp_media_t *m, const char *value)
{
    sdp_candidate_t c;
    char why[SDP_ERR_MAX];
    int rc = sdp_candidate_parse(value, &c, why, sizeof why);
    if (rc < 0)
        S_FAIL(ps, "%s", why);
    if (rc > 0 || m->candidate_count >= SDP_MAX_CANDIDATES) {
        m->candidates_ignored++;
        return 0;
    }
    m->candidates[m->candidate_count++] = c;
    return 0;
}

static int s_attr_setup(s_parser_t *ps, sdp_setup_t *out, const char *value)
{
    if (!value)
        S_FAIL(ps, "bad a=setup value ''");
    sdp_setup_t s = !strcmp(value, "actpass") ? SDP_SETUP_ACTPASS
                  : !strcmp(value, "active") ? SDP_SETUP_ACTIVE
                  : !strcmp(value, "passive") ? SDP_SETUP_PASSIVE : SDP_SETUP_NONE;
    if (s == SDP_SETUP_NONE)
        S_FAIL(ps, "bad a=setup value '%.32s'", value);
    if (*out != SDP_SETUP_NONE && *out != s)
        S_FAIL(ps, "conflicting a=setup");
    *out = s;
    return 0;
}

static int s_attr_fingerprint(s_parser_t *ps, sdp_fingerprint_t *fp, char *unsupported,
                              size_t usize, const char *value)
{
    sdp_fingerprint_t f;
    int rc = sdp_fingerprint_parse(value, &f);
    if (rc < 0)
        S_FAIL(ps, "bad a=fingerprint");
    if (rc > 0) {
        /* RFC 8122 allows several; an unusable one is fine next to a good one */
        if (unsupported && !unsupported[0]) {
            if (f.algo[0])
                snprintf(unsupported, usize, "%s", f.algo);
            else
                snprintf(unsupported, usize, "unknown");
        }
        return 0;
    }
    if (!fp->len)
        *fp = f;
    return 0;
}

static int s_attr_ice(s_parser_t *ps, const char **slot, const char *name, const char *value)
{
    if (!value || !s_is_visible(value, 1, SDP_ICE_MAX))
        S_FAIL(ps, "bad a=%s", name);
    if (*slot && strcmp(*slot, value))
        S_FAIL(ps, "conflicting a=%s", name);
    *slot = value;
    return 0;
}

static int s_attr_group(s_parser_t *ps, char *value)
{
    sdp_t *sdp = ps->sdp;
    char *p = value;
    char *sem = s_tok(&p);
    if (!sem)
        S_FAIL(ps, "bad a=group");
    if (strcmp(sem, "BUNDLE"))
        return 0; /* LS, FID...: not ours */
    if (ps->seen_bundle)
        return 0; /* one transport: the first group is the one we use */
    ps->seen_bundle = true;
    char *mid;
    while ((mid = s_tok(&p))) {
        if (!s_is_visible(mid, 1, SDP_MID_MAX))
            S_FAIL(ps, "bad mid in a=group:BUNDLE");
        if (sdp->bundle_count >= SDP_MAX_MEDIA)
            S_FAIL(ps, "too many mids in a=group:BUNDLE");
        for (int i = 0; i < sdp->bundle_count; i++)
            if (!strcmp(sdp->bundle[i], mid))
                S_FAIL(ps, "duplicate mid in a=group:BUNDLE");
        sdp->bundle[sdp->bundle_count++] = mid;
    }
    return 0;
}

static int s_attr_direction(s_parser_t *ps, int cur, sdp_direction_t d)
{
    if (cur < 0) {
        ps->session_dir = d;
        ps->session_dir_set = true;
    } else {
        if (ps->dir_set[cur] && ps->sdp->media[cur].direction != d)
            S_FAIL(ps, "conflicting direction attributes");
        ps->sdp->media[cur].direction = d;
        ps->dir_set[cur] = true;
    }
    return 0;
}

static int s_parse_attr(s_parser_t *ps, int cur, char *line)
{
    sdp_t *sdp = ps->sdp;
    sdp_media_t *m = cur >= 0 ? &sdp->media[cur] : NULL;
    char *name = line, *value = NULL;
    char *colon = strchr(line, ':');
    if (colon) {
        *colon = '\0';
        value = s_rest(colon + 1);
    }
    name = s_rest(name);

    if (!strcmp(name, "sendrecv"))
        return s_attr_direction(ps, cur, SDP_SENDRECV);
    if (!strcmp(name, "sendonly"))
        return s_attr_direction(ps, cur, SDP_SENDONLY);
    if (!strcmp(name, "recvonly"))
        return s_attr_direction(ps, cur, SDP_RECVONLY);
    if (!strcmp(name, "inactive"))
        return s_attr_direction(ps, cur, SDP_INACTIVE);
    if (!strcmp(name, "ice-ufrag"))
        return s_attr_ice(ps, m ? &m->ice_ufrag : &sdp->ice_ufrag, name, value);
    if (!strcmp(name, "ice-pwd"))
        return s_attr_ice(ps, m ? &m->ice_pwd : &sdp->ice_pwd, name, value);
    if (!strcmp(name, "ice-options")) {
        if (!value)
            S_FAIL(ps, "bad a=ice-options");
        *(m ? &m->ice_options : &sdp->ice_options) = value;
        return 0;
    }
    if (!strcmp(name, "ice-lite")) {
        sdp->ice_lite = true;
        return 0;
    }
    if (!strcmp(name, "fingerprint"))
        return m ? s_attr_fingerprint(ps, &m->fingerprint, m->fingerprint_unsupported,
                                      sizeof m->fingerprint_unsupported, value)
                 : s_attr_fingerprint(ps, &sdp->fingerprint, ps->sess_fp_unsupported,
                                      sizeof ps->sess_fp_unsupported, value);
    if (!strcmp(name, "setup"))
        return s_attr_setup(ps, m ? &m->setup : &sdp->setup, value);
    if (!strcmp(name, "group"))
        return value ? s_attr_group(ps, value) : 0;
    if (!strcmp(name, "extmap-allow-mixed")) {
        sdp->extmap_allow_mixed = true;
        return 0;
    }
    if (!strcmp(name, "end-of-candidates")) {
        if (m)
            m->end_of_candidates = true;
        else
            ps->session_eoc = true;
        return 0;
    }
    if (!m)
        return 0; /* the rest only means something in an m-section */

    if (!strcmp(name, "mid")) {
        if (!s_is_visible(value, 1, SDP_MID_MAX))
            S_FAIL(ps, "bad a=mid");
        if (m->mid)
            S_FAIL(ps, "duplicate a=mid");
        for (int i = 0; i < cur; i++)
            if (sdp->media[i].mid && !strcmp(sdp->media[i].mid, value))
                S_FAIL(ps, "duplicate a=mid %.32s", value);
        m->mid = value;
        return 0;
    }
    if (!strcmp(name, "rtcp-mux")) {
        m->rtcp_mux = true;
        return 0;
    }
    if (!strcmp(name, "rtcp-rsize")) {
        m->rtcp_rsize = true;
        return 0;
    }
    if (!strcmp(name, "bundle-only")) {
        m->bundle_only = true;
        return 0;
    }
    if (!strcmp(name, "candidate")) {
        if (!value)
            S_FAIL(ps, "bad a=candidate");
        return s_attr_candidate(ps, m, value);
    }
    if (!strcmp(name, "msid")) {
        if (value && *value)
            m->msid = value;
        return 0;
    }
    if (!strcmp(name, "ptime") || !strcmp(name, "maxptime")) {
        uint32_t v;
        /* fractional ptimes ("20.0") exist in the wild: keep the integer part */
        char *dot = value ? strchr(value, '.') : NULL;
        if (dot)
            *dot = '\0';
        if (!s_parse_u32(value, 10000, &v))
            S_FAIL(ps, "bad a=%s", name);
        *(name[0] == 'p' ? &m->ptime : &m->maxptime) = (uint16_t)v;
        return 0;
    }
    if (!m->rtp)
        return 0;
    if (!value)
        return 0;
    if (!strcmp(name, "rtpmap"))
        return s_attr_rtpmap(ps, m, value);
    if (!strcmp(name, "fmtp"))
        return s_attr_fmtp(ps, m, value);
    if (!strcmp(name, "rtcp-fb"))
        return s_attr_rtcp_fb(ps, m, value);
    if (!strcmp(name, "extmap"))
        return s_attr_extmap(ps, m, value);
    if (!strcmp(name, "ssrc"))
        return s_attr_ssrc(ps, m, value);
    if (!strcmp(name, "ssrc-group"))
        return s_attr_ssrc_group(ps, m, value);
    return 0;
}

static int s_parse_origin(s_parser_t *ps, char *value)
{
    char *p = value;
    char *user = s_tok(&p), *id = s_tok(&p), *ver = s_tok(&p);
    char *net = s_tok(&p), *atype = s_tok(&p), *addr = s_tok(&p);
    uint64_t v;
    if (!addr || !s_parse_u64(id, &v) || !s_parse_u64(ver, &v))
        S_FAIL(ps, "bad o= line");
    (void)net;
    (void)atype;
    ps->sdp->origin_username = user;
    ps->sdp->origin_sess_id = id;
    ps->sdp->origin_sess_version = v;
    return 0;
}

/* Session-level values apply to every m-line that has none of its own. */
static void s_fold_session(s_parser_t *ps)
{
    sdp_t *sdp = ps->sdp;
    for (int i = 0; i < sdp->media_count; i++) {
        sdp_media_t *m = &sdp->media[i];
        if (!m->ice_ufrag)
            m->ice_ufrag = sdp->ice_ufrag;
        if (!m->ice_pwd)
            m->ice_pwd = sdp->ice_pwd;
        if (!m->ice_options)
            m->ice_options = sdp->ice_options;
        m->ice_trickle = s_has_token(m->ice_options, "trickle");
        if (!m->fingerprint.len)
            m->fingerprint = sdp->fingerprint;
        if (!m->fingerprint_unsupported[0])
            memcpy(m->fingerprint_unsupported, ps->sess_fp_unsupported,
                   sizeof m->fingerprint_unsupported);
        if (m->setup == SDP_SETUP_NONE)
            m->setup = sdp->setup;
        if (!ps->dir_set[i] && ps->session_dir_set)
            m->direction = ps->session_dir;
        if (ps->session_eoc)
            m->end_of_candidates = true;
    }
}

sdp_t *sdp_parse(const char *text, size_t len, char *err, size_t err_size)
{
    if (s_check_text(text, len, err, err_size) < 0)
        return NULL;
    sdp_t *sdp = calloc(1, sizeof *sdp);
    char *buf = malloc(len + 1);
    if (!sdp || !buf) {
        free(sdp);
        free(buf);
        s_err(err, err_size, "out of memory");
        return NULL;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    sdp->text_ = buf;
    /* nothing chosen until sdp_validate() */
    sdp->codecs = (sdp_codecs_t){ .audio = -1, .opus_pt = -1, .video = -1, .vp8_pt = -1,
                                  .vp8_rtx_pt = -1 };

    s_parser_t ps = { .sdp = sdp, .err = err, .err_size = err_size };
    s_lines_t it = { .p = buf, .end = buf + len };
    int cur = -1;
    bool seen_v = false, seen_o = false;
    char *line;
    while ((line = s_next_line(&it))) {
        ps.lineno = it.lineno;
        if (line[1] != '=' || line[0] < 'a' || line[0] > 'z') {
            s_err(err, err_size, "line %d: not an SDP <type>=<value> line", ps.lineno);
            goto fail;
        }
        char type = line[0];
        char *value = line + 2;
        if (!seen_v) {
            if (type != 'v' || strcmp(value, "0")) {
                s_err(err, err_size, "not an SDP description (must start with v=0)");
                goto fail;
            }
            seen_v = true;
            continue;
        }
        int rc = 0;
        switch (type) {
        case 'v':
            s_err(err, err_size, "line %d: second v= line", ps.lineno);
            goto fail;
        case 'o':
            if (cur >= 0 || seen_o) {
                s_err(err, err_size, "line %d: misplaced o= line", ps.lineno);
                goto fail;
            }
            seen_o = true;
            rc = s_parse_origin(&ps, value);
            break;
        case 's':
            if (cur < 0)
                sdp->session_name = value;
            break;
        case 'm':
            rc = s_parse_mline(&ps, value);
            cur = sdp->media_count - 1;
            break;
        case 'a':
            rc = s_parse_attr(&ps, cur, value);
            break;
        default:
            break; /* c=, b=, t=, i=...: nothing we use */
        }
        if (rc < 0)
            goto fail;
    }
    if (!seen_v) {
        s_err(err, err_size, "empty SDP");
        goto fail;
    }
    if (!seen_o) {
        s_err(err, err_size, "missing o= line");
        goto fail;
    }
    for (int i = 0; i < sdp->bundle_count; i++)
        if (!sdp_media_by_mid(sdp, sdp->bundle[i])) {
            s_err(err, err_size, "a=group:BUNDLE names unknown mid '%.32s'", sdp->bundle[i]);
            goto fail;
        }
    s_fold_session(&ps);
    return sdp;
fail:
    sdp_destroy(&sdp);
    return NULL;
}

void sdp_destroy(sdp_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->text_);
    free(*self_p);
    *self_p = NULL;
}

/* ---- validation ------------------------------------------------------------ */

/* DTLS-SRTP profiles; plain RTP/AVP or SDES would be a different stack. */
static bool s_is_dtls_srtp(const char *proto)
{
    return proto && (!strcmp(proto, "UDP/TLS/RTP/SAVPF") || !strcmp(proto, "UDP/TLS/RTP/SAVP") ||
                     !strcmp(proto, "TCP/DTLS/RTP/SAVPF") || !strcmp(proto, "TCP/TLS/RTP/SAVPF"));
}

/* An m-line that takes part in the session: a non-zero port, or a
 * bundle-only one whose port 0 means "use the BUNDLE transport". */
static bool s_is_active(const sdp_media_t *m)
{
    return m->port != 0 || m->bundle_only;
}

static int s_find_codec(const sdp_media_t *m, const char *name, uint32_t clock, int channels)
{
    for (int i = 0; i < m->format_count; i++) {
        const sdp_format_t *f = &m->formats[i];
        if (f->name && !strcasecmp(f->name, name) && f->clock_rate == clock &&
            (channels < 0 || f->channels == channels))
            return f->pt;
    }
    return -1;
}

static bool s_in_bundle(const sdp_t *sdp, const char *mid)
{
    for (int i = 0; mid && i < sdp->bundle_count; i++)
        if (!strcmp(sdp->bundle[i], mid))
            return true;
    return false;
}

static void s_opus_params(const sdp_media_t *m, int pt, sdp_opus_params_t *o)
{
    const sdp_format_t *f = sdp_media_format(m, pt);
    const char *fmtp = f ? f->fmtp : NULL;
    memset(o, 0, sizeof *o);
    o->useinbandfec = sdp_fmtp_get_int(fmtp, "useinbandfec", 0) == 1;
    o->usedtx = sdp_fmtp_get_int(fmtp, "usedtx", 0) == 1;
    o->stereo = sdp_fmtp_get_int(fmtp, "stereo", 0) == 1;
    o->sprop_stereo = sdp_fmtp_get_int(fmtp, "sprop-stereo", 0) == 1;
    o->cbr = sdp_fmtp_get_int(fmtp, "cbr", 0) == 1;
    long v = sdp_fmtp_get_int(fmtp, "minptime", 0);
    o->minptime = v > 120 ? 120 : (uint16_t)v;
    v = sdp_fmtp_get_int(fmtp, "ptime", m->ptime);
    o->ptime = v > 120 ? 120 : (uint16_t)v;
    v = sdp_fmtp_get_int(fmtp, "maxptime", m->maxptime);
    o->maxptime = v > 120 ? 120 : (uint16_t)v;
    o->maxplaybackrate = (uint32_t)sdp_fmtp_get_int(fmtp, "maxplaybackrate", 0);
    o->maxaveragebitrate = (uint32_t)sdp_fmtp_get_int(fmtp, "maxaveragebitrate", 0);
}

int sdp_validate(sdp_t *sdp, sdp_type_t type, char *err, size_t err_size)
{
    bool offer = type == SDP_OFFER;
    sdp_codecs_t *c = &sdp->codecs;
    *c = (sdp_codecs_t){ .audio = -1, .opus_pt = -1, .video = -1, .vp8_pt = -1, .vp8_rtx_pt = -1 };

    int any_audio = -1, active_audio = -1;
    for (int i = 0; i < sdp->media_count; i++) {
        const sdp_media_t *m = &sdp->media[i];
        if (m->kind != SDP_MEDIA_AUDIO)
            continue;
        if (any_audio < 0)
            any_audio = i;
        if (!s_is_active(m) || !m->rtp)
            continue;
        if (active_audio < 0)
            active_audio = i;
        int pt = s_find_codec(m, "opus", 48000, 2);
        if (pt >= 0) {
            c->audio = i;
            c->opus_pt = pt;
            break;
        }
    }
    if (any_audio < 0) {
        s_err(err, err_size, "no audio m-line");
        return -1;
    }
    if (active_audio < 0) {
        s_err(err, err_size, offer ? "audio m-line rejected (port 0)"
                                   : "audio rejected by the answerer (port 0)");
        return -1;
    }
    if (c->audio < 0) {
        s_err(err, err_size, offer ? "no Opus codec offered" : "no Opus codec in answer");
        return -1;
    }
    const sdp_media_t *a = &sdp->media[c->audio];
    if (!s_is_dtls_srtp(a->proto)) {
        s_err(err, err_size, "audio m-line proto %.32s is not DTLS-SRTP (UDP/TLS/RTP/SAVPF)",
              a->proto);
        return -1;
    }
    if (!a->rtcp_mux) {
        s_err(err, err_size, "missing a=rtcp-mux (required)");
        return -1;
    }
    if (!a->ice_ufrag) {
        s_err(err, err_size, "missing a=ice-ufrag");
        return -1;
    }
    if (!a->ice_pwd) {
        s_err(err, err_size, "missing a=ice-pwd");
        return -1;
    }
    if (strlen(a->ice_ufrag) < 4) {
        s_err(err, err_size, "a=ice-ufrag too short (RFC 8839: 4-256 characters)");
        return -1;
    }
    if (strlen(a->ice_pwd) < 22) {
        s_err(err, err_size, "a=ice-pwd too short (RFC 8839: 22-256 characters)");
        return -1;
    }
    if (!a->fingerprint.len) {
        if (a->fingerprint_unsupported[0])
            s_err(err, err_size,
                  "unsupported a=fingerprint hash %s (need sha-256, sha-384 or sha-512)",
                  a->fingerprint_unsupported);
        else
            s_err(err, err_size, "missing a=fingerprint");
        return -1;
    }
    if (!offer && a->setup == SDP_SETUP_ACTPASS) {
        s_err(err, err_size, "bad a=setup value 'actpass' in an answer");
        return -1;
    }
    s_opus_params(a, c->opus_pt, &c->opus);

    /* Video: VP8 on an m-line that shares the audio's transport (BUNDLE), in
     * the direction we want it: the peer sends (offer) / receives (answer). */
    for (int i = 0; i < sdp->media_count; i++) {
        const sdp_media_t *m = &sdp->media[i];
        if (m->kind != SDP_MEDIA_VIDEO || !s_is_active(m) || !m->rtp || !s_is_dtls_srtp(m->proto))
            continue;
        bool peer_sends = m->direction == SDP_SENDRECV || m->direction == SDP_SENDONLY;
        bool peer_recvs = m->direction == SDP_SENDRECV || m->direction == SDP_RECVONLY;
        if (offer ? !peer_sends : !peer_recvs)
            continue;
        if (!s_in_bundle(sdp, m->mid) || !s_in_bundle(sdp, a->mid))
            continue;
        int pt = s_find_codec(m, "VP8", 90000, -1);
        if (pt < 0)
            continue;
        c->video = i;
        c->vp8_pt = pt;
        for (int k = 0; k < m->format_count; k++) {
            const sdp_format_t *f = &m->formats[k];
            if (f->name && !strcasecmp(f->name, "rtx") && f->clock_rate == 90000 &&
                sdp_fmtp_get_int(f->fmtp, "apt", -1) == pt) {
                c->vp8_rtx_pt = f->pt;
                break;
            }
        }
        break;
    }
    return 0;
}

static sdp_t *s_parse_validate(const char *text, size_t len, sdp_type_t type, char *err,
                               size_t err_size)
{
    sdp_t *sdp = sdp_parse(text, len, err, err_size);
    if (sdp && sdp_validate(sdp, type, err, err_size) < 0)
        sdp_destroy(&sdp);
    return sdp;
}

sdp_t *sdp_offer_parse(const char *text, size_t len, char *err, size_t err_size)
{
    return s_parse_validate(text, len, SDP_OFFER, err, err_size);
}

sdp_t *sdp_answer_parse(const char *text, size_t len, char *err, size_t err_size)
{
    return s_parse_validate(text, len, SDP_ANSWER, err, err_size);
}

/* ---- building -------------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len;
    FILE *f;
} s_out_t;

static bool s_out_open(s_out_t *o)
{
    o->buf = NULL;
    o->len = 0;
    o->f = open_memstream(&o->buf, &o->len);
    return o->f != NULL;
}

/* Returns the text, or NULL (and frees it) when writing failed. */
static char *s_out_close(s_out_t *o, bool ok)
{
    if (fclose(o->f) != 0)
        ok = false;
    if (!ok) {
        free(o->buf);
        return NULL;
    }
    return o->buf;
}

static const char *s_setup_name(sdp_setup_t s)
{
    switch (s) {
    case SDP_SETUP_ACTPASS: return "actpass";
    case SDP_SETUP_ACTIVE: return "active";
    case SDP_SETUP_PASSIVE: return "passive";
    default: return NULL;
    }
}

static const char *s_dir_name(sdp_direction_t d)
{
    switch (d) {
    case SDP_SENDONLY: return "sendonly";
    case SDP_RECVONLY: return "recvonly";
    case SDP_INACTIVE: return "inactive";
    default: return "sendrecv";
    }
}

/* Checks what every builder writes: credentials, fingerprint, candidates. */
static int s_check_transport(const char *ufrag, const char *pwd, const sdp_fingerprint_t *fp,
                             const sdp_candidate_t *cands, int n, char *err, size_t err_size)
{
    if (!s_is_ice_chars(ufrag, 4, SDP_ICE_MAX)) {
        s_err(err, err_size, "our ice-ufrag must be 4-256 ice-chars");
        return -1;
    }
    if (!s_is_ice_chars(pwd, 22, SDP_ICE_MAX)) {
        s_err(err, err_size, "our ice-pwd must be 22-256 ice-chars");
        return -1;
    }
    char line[256];
    if (fp && sdp_fingerprint_format(fp, line, sizeof line) < 0) {
        s_err(err, err_size, "our fingerprint is invalid");
        return -1;
    }
    if (n < 0 || (n > 0 && !cands)) {
        s_err(err, err_size, "bad candidate list");
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (sdp_candidate_format(&cands[i], line, sizeof line) < 0) {
            s_err(err, err_size, "our candidate %d is invalid", i);
            return -1;
        }
    return 0;
}

static void s_write_candidates(FILE *f, const sdp_candidate_t *c, int n, bool eoc)
{
    char line[256];
    for (int i = 0; i < n; i++)
        if (sdp_candidate_format(&c[i], line, sizeof line) > 0)
            fprintf(f, "a=%s\r\n", line);
    if (eoc)
        fprintf(f, "a=end-of-candidates\r\n");
}

static void s_write_transport(FILE *f, const char *ufrag, const char *pwd, bool trickle,
                              const sdp_fingerprint_t *fp, sdp_setup_t setup)
{
    char line[256];
    fprintf(f, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", ufrag, pwd);
    if (trickle)
        fprintf(f, "a=ice-options:trickle\r\n");
    if (sdp_fingerprint_format(fp, line, sizeof line) > 0)
        fprintf(f, "a=fingerprint:%s\r\n", line);
    fprintf(f, "a=setup:%s\r\n", s_setup_name(setup));
}

static int s_find_extmap(const sdp_media_t *m, const char *uri)
{
    for (int i = 0; i < m->extmap_count; i++)
        if (!strcmp(m->extmaps[i].uri, uri))
            return m->extmaps[i].id;
    return -1;
}

/* Header extensions we accept: mid (BUNDLE demux, RFC 8843 section 15) and
 * the audio level (RFC 6464, free voice activity). Nothing we would have to
 * send ourselves. */
static void s_write_extmaps(FILE *f, const sdp_media_t *m)
{
    static const char *const uris[] = {
        "urn:ietf:params:rtp-hdrext:sdes:mid",
        "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    };
    for (size_t i = 0; i < sizeof uris / sizeof uris[0]; i++) {
        if (i == 1 && m->kind != SDP_MEDIA_AUDIO)
            continue;
        int id = s_find_extmap(m, uris[i]);
        if (id > 0)
            fprintf(f, "a=extmap:%d %s\r\n", id, uris[i]);
    }
}

static bool s_is_msid_token(const char *s)
{
    if (!s_is_visible(s, 1, 64))
        return false;
    return true;
}

char *sdp_answer_build(const sdp_t *offer, const sdp_answer_params_t *p, char *err,
                       size_t err_size)
{
    if (!offer || !p) {
        s_err(err, err_size, "no offer");
        return NULL;
    }
    const sdp_codecs_t *c = &offer->codecs;
    if (c->audio < 0 || c->audio >= offer->media_count || c->opus_pt < 0) {
        s_err(err, err_size, "offer was not validated");
        return NULL;
    }
    if (!p->fingerprint || !p->fingerprint->len) {
        s_err(err, err_size, "our fingerprint is missing");
        return NULL;
    }
    if (s_check_transport(p->ice_ufrag, p->ice_pwd, p->fingerprint, p->candidates,
                          p->candidate_count, err, err_size) < 0)
        return NULL;
    const char *stream = p->stream_id ? p->stream_id : "voxmesh";
    const char *track = p->audio_track_id ? p->audio_track_id : "audio";
    const char *opus_fmtp = p->opus_fmtp ? p->opus_fmtp : "minptime=10;useinbandfec=1";
    if (!s_is_visible(p->cname, 1, 255) || !s_is_msid_token(stream) || !s_is_msid_token(track) ||
        !s_is_line_safe(opus_fmtp, 512)) {
        s_err(err, err_size, "bad cname, msid or opus fmtp parameter");
        return NULL;
    }
    const sdp_media_t *am = &offer->media[c->audio];
    sdp_setup_t setup = p->setup;
    if (setup == SDP_SETUP_NONE)
        setup = am->setup == SDP_SETUP_PASSIVE ? SDP_SETUP_ACTIVE : SDP_SETUP_PASSIVE;
    if (setup == SDP_SETUP_ACTPASS || (setup == SDP_SETUP_ACTIVE && am->setup == SDP_SETUP_ACTIVE) ||
        (setup == SDP_SETUP_PASSIVE && am->setup == SDP_SETUP_PASSIVE)) {
        s_err(err, err_size, "DTLS role conflict (offer a=setup:%s)",
              s_setup_name(am->setup) ? s_setup_name(am->setup) : "none");
        return NULL;
    }
    int video = p->accept_video ? c->video : -1;

    /* BUNDLE: the offer's group order minus what we reject; its first mid is
     * our tag, the m-line that carries the candidates. */
    const char *group[SDP_MAX_MEDIA];
    int ng = 0;
    for (int i = 0; i < offer->bundle_count; i++) {
        const sdp_media_t *m = sdp_media_by_mid(offer, offer->bundle[i]);
        int idx = m ? (int)(m - offer->media) : -1;
        if (idx >= 0 && (idx == c->audio || idx == video))
            group[ng++] = offer->bundle[i];
    }
    const sdp_media_t *tag = ng ? sdp_media_by_mid(offer, group[0]) : am;
    bool trickle = p->trickle && am->ice_trickle;
    uint64_t sid = p->session_id ? p->session_id : ((uint64_t)p->audio_ssrc << 20) + 1;
    sid &= 0x3fffffffffffffffULL; /* JSEP: the top bit is zero; stay well within */

    s_out_t o;
    if (!s_out_open(&o)) {
        s_err(err, err_size, "out of memory");
        return NULL;
    }
    FILE *f = o.f;
    fprintf(f, "v=0\r\no=- %llu 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", (unsigned long long)sid);
    if (p->ice_lite)
        fprintf(f, "a=ice-lite\r\n");
    if (ng) {
        fprintf(f, "a=group:BUNDLE");
        for (int i = 0; i < ng; i++)
            fprintf(f, " %s", group[i]);
        fprintf(f, "\r\n");
    }
    if (offer->extmap_allow_mixed)
        fprintf(f, "a=extmap-allow-mixed\r\n");
    fprintf(f, "a=msid-semantic: WMS %s\r\n", stream);

    for (int i = 0; i < offer->media_count; i++) {
        const sdp_media_t *m = &offer->media[i];
        bool accept = i == c->audio || i == video;
        if (!accept) {
            /* JSEP 5.3.1: a rejected m-line keeps its proto and mid, port 0 */
            char first[32] = "0";
            sscanf(m->fmt, "%31s", first);
            fprintf(f, "m=%s 0 %s %s\r\nc=IN IP4 0.0.0.0\r\n", m->media, m->proto, first);
            if (m->mid)
                fprintf(f, "a=mid:%s\r\n", m->mid);
            if (m->rtp)
                fprintf(f, "a=inactive\r\n");
            continue;
        }
        bool audio = i == c->audio;
        sdp_direction_t dir;
        if (audio)
            dir = m->direction == SDP_SENDONLY ? SDP_RECVONLY
                : m->direction == SDP_RECVONLY ? SDP_SENDONLY : m->direction;
        else
            dir = SDP_RECVONLY;
        bool we_send = dir == SDP_SENDRECV || dir == SDP_SENDONLY;
        if (audio)
            fprintf(f, "m=audio 9 %s %d\r\n", m->proto, c->opus_pt);
        else if (p->video_rtx && c->vp8_rtx_pt >= 0)
            fprintf(f, "m=video 9 %s %d %d\r\n", m->proto, c->vp8_pt, c->vp8_rtx_pt);
        else
            fprintf(f, "m=video 9 %s %d\r\n", m->proto, c->vp8_pt);
        fprintf(f, "c=IN IP4 0.0.0.0\r\n");
        if (m == tag)
            s_write_candidates(f, p->candidates, p->candidate_count, true);
        s_write_transport(f, p->ice_ufrag, p->ice_pwd, trickle, p->fingerprint, setup);
        if (m->mid)
            fprintf(f, "a=mid:%s\r\n", m->mid);
        s_write_extmaps(f, m);
        fprintf(f, "a=%s\r\n", s_dir_name(dir));
        if (we_send)
            fprintf(f, "a=msid:%s %s\r\n", stream, track);
        fprintf(f, "a=rtcp-mux\r\n");
        if (audio) {
            fprintf(f, "a=rtpmap:%d opus/48000/2\r\n", c->opus_pt);
            if (*opus_fmtp)
                fprintf(f, "a=fmtp:%d %s\r\n", c->opus_pt, opus_fmtp);
            if (we_send)
                fprintf(f, "a=ssrc:%u cname:%s\r\na=ssrc:%u msid:%s %s\r\n", p->audio_ssrc,
                        p->cname, p->audio_ssrc, stream, track);
        } else {
            fprintf(f, "a=rtpmap:%d VP8/90000\r\n", c->vp8_pt);
            fprintf(f, "a=rtcp-fb:%d nack\r\na=rtcp-fb:%d nack pli\r\na=rtcp-fb:%d ccm fir\r\n",
                    c->vp8_pt, c->vp8_pt, c->vp8_pt);
            if (p->video_rtx && c->vp8_rtx_pt >= 0)
                fprintf(f, "a=rtpmap:%d rtx/90000\r\na=fmtp:%d apt=%d\r\n", c->vp8_rtx_pt,
                        c->vp8_rtx_pt, c->vp8_pt);
        }
    }
    char *text = s_out_close(&o, true);
    if (!text)
        s_err(err, err_size, "out of memory");
    return text;
}

char *sdp_offer_build(const sdp_offer_params_t *p, char *err, size_t err_size)
{
    if (!p || !p->fingerprint || !p->fingerprint->len) {
        s_err(err, err_size, "our fingerprint is missing");
        return NULL;
    }
    if (s_check_transport(p->ice_ufrag, p->ice_pwd, p->fingerprint, p->candidates,
                          p->candidate_count, err, err_size) < 0)
        return NULL;
    const char *stream = p->stream_id ? p->stream_id : "voxmesh";
    const char *opus_fmtp = p->opus_fmtp ? p->opus_fmtp : "minptime=10;useinbandfec=1";
    if (!s_is_visible(p->cname, 1, 255) || !s_is_msid_token(stream) ||
        !s_is_line_safe(opus_fmtp, 512)) {
        s_err(err, err_size, "bad cname, msid or opus fmtp parameter");
        return NULL;
    }
    uint64_t sid = p->session_id ? p->session_id : ((uint64_t)p->audio_ssrc << 20) + 1;
    sid &= 0x3fffffffffffffffULL;

    s_out_t o;
    if (!s_out_open(&o)) {
        s_err(err, err_size, "out of memory");
        return NULL;
    }
    FILE *f = o.f;
    fprintf(f, "v=0\r\no=- %llu 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", (unsigned long long)sid);
    fprintf(f, "a=group:BUNDLE 0%s\r\n", p->video ? " 1" : "");
    fprintf(f, "a=msid-semantic: WMS %s\r\n", stream);
    for (int k = 0; k < (p->video ? 2 : 1); k++) {
        bool audio = k == 0;
        if (audio)
            fprintf(f, "m=audio 9 UDP/TLS/RTP/SAVPF %d\r\n", SDP_OFFER_OPUS_PT);
        else
            fprintf(f, "m=video 9 UDP/TLS/RTP/SAVPF %d\r\n", SDP_OFFER_VP8_PT);
        fprintf(f, "c=IN IP4 0.0.0.0\r\n");
        /* every bundled m-section of an offer carries the transport (RFC 8843
         * 7.2), so an answerer that rejects one still finds it in the other */
        s_write_candidates(f, p->candidates, p->candidate_count, p->end_of_candidates);
        s_write_transport(f, p->ice_ufrag, p->ice_pwd, p->trickle, p->fingerprint,
                          SDP_SETUP_ACTPASS);
        fprintf(f, "a=mid:%d\r\n", k);
        uint32_t ssrc = audio ? p->audio_ssrc : p->video_ssrc;
        const char *track = audio ? "audio" : "video";
        fprintf(f, "a=%s\r\na=msid:%s %s\r\na=rtcp-mux\r\n", audio ? "sendrecv" : "sendonly",
                stream, track);
        if (audio) {
            fprintf(f, "a=rtpmap:%d opus/48000/2\r\n", SDP_OFFER_OPUS_PT);
            if (*opus_fmtp)
                fprintf(f, "a=fmtp:%d %s\r\n", SDP_OFFER_OPUS_PT, opus_fmtp);
        } else {
            int pt = SDP_OFFER_VP8_PT;
            fprintf(f, "a=rtpmap:%d VP8/90000\r\n", pt);
            fprintf(f, "a=rtcp-fb:%d nack\r\na=rtcp-fb:%d nack pli\r\na=rtcp-fb:%d ccm fir\r\n",
                    pt, pt, pt);
        }
        fprintf(f, "a=ssrc:%u cname:%s\r\na=ssrc:%u msid:%s %s\r\n", ssrc, p->cname, ssrc, stream,
                track);
    }
    char *text = s_out_close(&o, true);
    if (!text)
        s_err(err, err_size, "out of memory");
    return text;
}

/* ---- sdpfrag ----------------------------------------------------------------- */

int sdp_frag_parse(const char *text, size_t len, sdp_frag_t *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < SDP_MAX_CANDIDATES; i++)
        out->candidate_media[i] = -1;
    if (s_check_text(text, len, err, err_size) < 0)
        return -1;
    char *buf = malloc(len + 1);
    if (!buf) {
        s_err(err, err_size, "out of memory");
        return -1;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    s_lines_t it = { .p = buf, .end = buf + len };
    int cur = -1, rc = -1;
    bool seen_group = false;
    char *line;
    while ((line = s_next_line(&it))) {
        int ln = it.lineno;
        if (line[1] != '=' || line[0] < 'a' || line[0] > 'z') {
            s_err(err, err_size, "line %d: not an SDP <type>=<value> line", ln);
            goto done;
        }
        char *value = line + 2;
        if (line[0] == 'm') {
            if (out->media_count >= SDP_MAX_MEDIA) {
                s_err(err, err_size, "line %d: too many m-lines (max %d)", ln, SDP_MAX_MEDIA);
                goto done;
            }
            cur = out->media_count++;
            /* keep "<media> <port> <proto> <first fmt>": enough to mirror it */
            char *p = value;
            char *t[4];
            int nt = 0;
            while (nt < 4 && (t[nt] = s_tok(&p)))
                nt++;
            if (nt < 4) {
                s_err(err, err_size, "line %d: bad m-line", ln);
                goto done;
            }
            int n = snprintf(out->mline[cur], sizeof out->mline[cur], "%s %s %s %s", t[0], t[1],
                             t[2], t[3]);
            if (n < 0 || (size_t)n >= sizeof out->mline[cur]) {
                s_err(err, err_size, "line %d: m-line too long", ln);
                goto done;
            }
            continue;
        }
        if (line[0] != 'a')
            continue;
        char *name = value, *val = NULL, *colon = strchr(value, ':');
        if (colon) {
            *colon = '\0';
            val = s_rest(colon + 1);
        }
        if (!strcmp(name, "ice-ufrag") || !strcmp(name, "ice-pwd")) {
            bool uf = name[4] == 'u';
            char *slot = uf ? out->ice_ufrag : out->ice_pwd;
            if (!val || !s_is_visible(val, 1, SDP_ICE_MAX)) {
                s_err(err, err_size, "line %d: bad a=%s", ln, name);
                goto done;
            }
            if (slot[0] && strcmp(slot, val)) {
                s_err(err, err_size, "line %d: conflicting a=%s", ln, name);
                goto done;
            }
            strcpy(slot, val);
        } else if (!strcmp(name, "ice-options")) {
            if (!val || !s_copy(out->ice_options, sizeof out->ice_options, val)) {
                s_err(err, err_size, "line %d: bad a=ice-options", ln);
                goto done;
            }
            out->ice_trickle = s_has_token(val, "trickle");
        } else if (!strcmp(name, "group")) {
            char *p = val, *sem = s_tok(&p), *mid;
            if (!sem || strcmp(sem, "BUNDLE") || seen_group)
                continue;
            seen_group = true;
            while ((mid = s_tok(&p))) {
                if (out->bundle_count >= SDP_MAX_MEDIA || !s_is_visible(mid, 1, SDP_MID_MAX)) {
                    s_err(err, err_size, "line %d: bad a=group:BUNDLE", ln);
                    goto done;
                }
                strcpy(out->bundle[out->bundle_count++], mid);
            }
        } else if (!strcmp(name, "mid")) {
            if (cur < 0 || !s_is_visible(val, 1, SDP_MID_MAX)) {
                s_err(err, err_size, "line %d: bad a=mid", ln);
                goto done;
            }
            strcpy(out->mids[cur], val);
        } else if (!strcmp(name, "candidate")) {
            sdp_candidate_t c;
            char why[SDP_ERR_MAX];
            int r = val ? sdp_candidate_parse(val, &c, why, sizeof why) : -1;
            if (r < 0) {
                s_err(err, err_size, "line %d: %s", ln, val ? why : "bad a=candidate");
                goto done;
            }
            if (r > 0 || out->candidate_count >= SDP_MAX_CANDIDATES) {
                out->candidates_ignored++;
                continue;
            }
            out->candidate_media[out->candidate_count] = cur;
            out->candidates[out->candidate_count++] = c;
        } else if (!strcmp(name, "end-of-candidates")) {
            out->end_of_candidates = true;
        }
    }
    if (!out->ice_ufrag[0] != !out->ice_pwd[0]) {
        s_err(err, err_size, out->ice_ufrag[0] ? "a=ice-ufrag without a=ice-pwd"
                                                : "a=ice-pwd without a=ice-ufrag");
        goto done;
    }
    rc = 0;
done:
    free(buf);
    return rc;
}

bool sdp_frag_is_ice_restart(const sdp_frag_t *f, const char *remote_ufrag, const char *remote_pwd)
{
    if (!f || !f->ice_ufrag[0])
        return false; /* no credentials: candidates of the current generation */
    if (!remote_ufrag || strcmp(f->ice_ufrag, remote_ufrag))
        return true;
    return !remote_pwd || strcmp(f->ice_pwd, remote_pwd);
}

char *sdp_frag_build(const sdp_frag_params_t *p, char *err, size_t err_size)
{
    if (!p) {
        s_err(err, err_size, "no parameters");
        return NULL;
    }
    if (s_check_transport(p->ice_ufrag, p->ice_pwd, NULL, p->candidates, p->candidate_count, err,
                          err_size) < 0)
        return NULL;
    const sdp_frag_t *rq = p->request;
    const char *mline = rq && rq->media_count && rq->mline[0][0] ? rq->mline[0]
                                                                  : "audio 9 UDP/TLS/RTP/SAVPF 0";
    const char *mid = rq && rq->media_count && rq->mids[0][0] ? rq->mids[0]
                    : p->mid ? p->mid : "0";
    if (!s_is_visible(mid, 1, SDP_MID_MAX) || !s_is_line_safe(mline, 95)) {
        s_err(err, err_size, "bad mid or m-line");
        return NULL;
    }
    s_out_t o;
    if (!s_out_open(&o)) {
        s_err(err, err_size, "out of memory");
        return NULL;
    }
    FILE *f = o.f;
    if (p->ice_lite)
        fprintf(f, "a=ice-lite\r\n");
    if (p->trickle)
        fprintf(f, "a=ice-options:trickle\r\n");
    if (rq && rq->bundle_count) {
        fprintf(f, "a=group:BUNDLE");
        for (int i = 0; i < rq->bundle_count; i++)
            fprintf(f, " %s", rq->bundle[i]);
        fprintf(f, "\r\n");
    }
    fprintf(f, "m=%s\r\na=mid:%s\r\n", mline, mid);
    fprintf(f, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", p->ice_ufrag, p->ice_pwd);
    s_write_candidates(f, p->candidates, p->candidate_count, p->end_of_candidates);
    char *text = s_out_close(&o, true);
    if (!text)
        s_err(err, err_size, "out of memory");
    return text;
}
