/* ws_hello — see ws_hello.h.
 *
 * A hand-written parser rather than a JSON library: the input is tiny and
 * hostile, the accepted shape is fixed, and every refusal needs a reason a
 * client developer can act on. Parsing collects the members first and only
 * then validates them, so that {"type":"bye",...} is reported as "first
 * message must be a hello" rather than as whatever else is wrong with it. */
#include "ws_hello.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Decoded string members longer than this are refused: no valid value comes
 * close, and it bounds what a reason may quote. */
#define S_STR_MAX 64
/* Characters of a client's value quoted back in a reason. */
#define S_QUOTE_MAX 24

typedef enum { S_NONE = 0, S_STRING, S_NUMBER, S_LITERAL } s_kind_t;

typedef struct {
    s_kind_t kind;
    char str[S_STR_MAX + 1];    /* S_STRING: decoded, NUL-terminated */
    size_t str_len;
    bool integral;              /* S_NUMBER: no fraction, no exponent, fits */
    long num;
} s_value_t;

typedef struct {
    const char *start, *p, *end;
    char *reason;
    size_t reason_size;
    s_value_t type, format, sample_rate, channels;
    char unknown[S_QUOTE_MAX + 4];  /* first unknown member name, sanitised */
    bool has_unknown;
} s_parser_t;

static void s_reason(s_parser_t *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_reason(s_parser_t *ps, const char *fmt, ...)
{
    if (!ps->reason || !ps->reason_size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->reason, ps->reason_size, fmt, ap);
    va_end(ap);
}

static int s_syntax(s_parser_t *ps, const char *what)
{
    s_reason(ps, "malformed hello at byte %zu: %s", (size_t)(ps->p - ps->start), what);
    return -1;
}

/* Copies a client-supplied string into out for quoting in a reason: printable
 * ASCII only (a reason travels in logs and JSON), shortened with "...". */
static void s_sanitise(char *out, size_t out_size, const char *in, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < out_size; i++) {
        if (i == S_QUOTE_MAX) {
            for (int k = 0; k < 3 && n + 1 < out_size; k++) out[n++] = '.';
            break;
        }
        unsigned char c = (unsigned char)in[i];
        out[n++] = (c >= 0x20 && c < 0x7f && c != '\'' && c != '"' && c != '\\') ? (char)c : '?';
    }
    out[n] = '\0';
}

static void s_skip_ws(s_parser_t *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int s_hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

/* Appends one code point as UTF-8; returns -1 when out (S_STR_MAX) is full. */
static int s_put_utf8(char *out, size_t *n, unsigned cp)
{
    char b[4];
    size_t k;
    if (cp < 0x80) { b[0] = (char)cp; k = 1; }
    else if (cp < 0x800) { b[0] = (char)(0xc0 | (cp >> 6)); b[1] = (char)(0x80 | (cp & 0x3f)); k = 2; }
    else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12)); b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f)); k = 3;
    } else {
        b[0] = (char)(0xf0 | (cp >> 18)); b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); b[3] = (char)(0x80 | (cp & 0x3f)); k = 4;
    }
    if (*n + k > S_STR_MAX)
        return -1;
    memcpy(out + *n, b, k);
    *n += k;
    return 0;
}

/* Parses a JSON string at ps->p (which is at the opening quote) into out. */
static int s_string(s_parser_t *ps, char out[S_STR_MAX + 1], size_t *out_len)
{
    size_t n = 0;
    ps->p++;                                    /* opening quote */
    for (;;) {
        if (ps->p >= ps->end)
            return s_syntax(ps, "unterminated string");
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            break;
        }
        if (c < 0x20)
            return s_syntax(ps, "control character in string");
        if (c != '\\') {
            if (n + 1 > S_STR_MAX)
                return s_syntax(ps, "string too long");
            out[n++] = (char)c;
            ps->p++;
            continue;
        }
        if (ps->end - ps->p < 2)
            return s_syntax(ps, "unterminated string");
        char e = ps->p[1];
        ps->p += 2;
        unsigned cp;
        switch (e) {
        case '"': cp = '"'; break;
        case '\\': cp = '\\'; break;
        case '/': cp = '/'; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u':
            if (ps->end - ps->p < 4 || s_hex4(ps->p, &cp) < 0)
                return s_syntax(ps, "bad \\u escape");
            ps->p += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return s_syntax(ps, "bad \\u escape");
            if (cp >= 0xd800 && cp <= 0xdbff) {
                unsigned lo;
                if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u'
                    || s_hex4(ps->p + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                    return s_syntax(ps, "bad \\u escape");
                ps->p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            if (cp == 0)
                return s_syntax(ps, "NUL in string");
            break;
        default:
            ps->p--;
            return s_syntax(ps, "bad escape");
        }
        if (s_put_utf8(out, &n, cp) < 0)
            return s_syntax(ps, "string too long");
    }
    out[n] = '\0';
    *out_len = n;
    return 0;
}

static bool s_digit(const s_parser_t *ps)
{
    return ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9';
}

/* Parses a JSON number; integral values of up to 9 digits are kept. */
static int s_number(s_parser_t *ps, s_value_t *v)
{
    bool neg = false;
    long num = 0;
    int digits = 0;
    v->kind = S_NUMBER;
    v->integral = true;
    if (*ps->p == '-') {
        neg = true;
        ps->p++;
    }
    if (!s_digit(ps))
        return s_syntax(ps, "bad number");
    if (*ps->p == '0') {
        ps->p++;
        if (s_digit(ps))
            return s_syntax(ps, "leading zero in number");
    } else {
        while (s_digit(ps)) {
            if (++digits > 9)
                v->integral = false;           /* out of any range we accept */
            else
                num = num * 10 + (*ps->p - '0');
            ps->p++;
        }
    }
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        if (!s_digit(ps))
            return s_syntax(ps, "bad number");
        while (s_digit(ps)) ps->p++;
        v->integral = false;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (!s_digit(ps))
            return s_syntax(ps, "bad number");
        while (s_digit(ps)) ps->p++;
        v->integral = false;
    }
    v->num = neg ? -num : num;
    return 0;
}

static int s_value(s_parser_t *ps, s_value_t *v)
{
    if (ps->p >= ps->end)
        return s_syntax(ps, "expected a value");
    char c = *ps->p;
    if (c == '"') {
        v->kind = S_STRING;
        return s_string(ps, v->str, &v->str_len);
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return s_number(ps, v);
    static const char *const literals[] = { "true", "false", "null" };
    for (size_t i = 0; i < sizeof literals / sizeof *literals; i++) {
        size_t n = strlen(literals[i]);
        if ((size_t)(ps->end - ps->p) >= n && !memcmp(ps->p, literals[i], n)) {
            ps->p += n;
            v->kind = S_LITERAL;
            return 0;
        }
    }
    if (c == '{' || c == '[')
        return s_syntax(ps, "nested values are not supported");
    return s_syntax(ps, "expected a value");
}

static s_value_t *s_member(s_parser_t *ps, const char *name)
{
    if (!strcmp(name, "type")) return &ps->type;
    if (!strcmp(name, "format")) return &ps->format;
    if (!strcmp(name, "sample_rate")) return &ps->sample_rate;
    if (!strcmp(name, "channels")) return &ps->channels;
    return NULL;
}

static int s_object(s_parser_t *ps)
{
    ps->p++;                                    /* '{' */
    s_skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return 0;
    }
    for (;;) {
        char name[S_STR_MAX + 1];
        size_t name_len;
        s_skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"')
            return s_syntax(ps, "expected a member name");
        if (s_string(ps, name, &name_len) < 0)
            return -1;
        s_skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':')
            return s_syntax(ps, "expected ':'");
        ps->p++;
        s_skip_ws(ps);
        s_value_t scratch;
        s_value_t *v = strlen(name) == name_len ? s_member(ps, name) : NULL;
        if (!v) {
            if (!ps->has_unknown) {
                s_sanitise(ps->unknown, sizeof ps->unknown, name, name_len);
                ps->has_unknown = true;
            }
            v = &scratch;
        } else if (v->kind != S_NONE) {
            char q[S_QUOTE_MAX + 4];
            s_sanitise(q, sizeof q, name, name_len);
            s_reason(ps, "duplicate member '%s'", q);
            return -1;
        }
        memset(v, 0, sizeof *v);
        if (s_value(ps, v) < 0)
            return -1;
        s_skip_ws(ps);
        if (ps->p >= ps->end)
            return s_syntax(ps, "unterminated object");
        if (*ps->p == '}') {
            ps->p++;
            return 0;
        }
        if (*ps->p != ',')
            return s_syntax(ps, "expected ',' or '}'");
        ps->p++;
    }
}

static int s_missing(s_parser_t *ps, const char *name)
{
    s_reason(ps, "missing member '%s'", name);
    return -1;
}

static int s_validate(s_parser_t *ps, ws_hello_t *out)
{
    if (ps->type.kind != S_STRING || strcmp(ps->type.str, "hello") != 0) {
        s_reason(ps, "first message must be a hello");
        return -1;
    }
    if (ps->has_unknown) {
        s_reason(ps, "unknown member '%s'", ps->unknown);
        return -1;
    }
    if (ps->format.kind == S_NONE)
        return s_missing(ps, "format");
    if (ps->format.kind != S_STRING) {
        s_reason(ps, "format must be a string");
        return -1;
    }
    if (!strcmp(ps->format.str, "pcm16"))
        out->format = WS_FORMAT_PCM16;
    else if (!strcmp(ps->format.str, "opus"))
        out->format = WS_FORMAT_OPUS;
    else {
        char q[S_QUOTE_MAX + 4];
        s_sanitise(q, sizeof q, ps->format.str, ps->format.str_len);
        s_reason(ps, "unsupported format '%s'", q);
        return -1;
    }
    if (ps->sample_rate.kind == S_NONE)
        return s_missing(ps, "sample_rate");
    if (ps->sample_rate.kind != S_NUMBER || !ps->sample_rate.integral
        || (ps->sample_rate.num != 16000 && ps->sample_rate.num != 48000)) {
        s_reason(ps, "sample_rate must be 16000 or 48000");
        return -1;
    }
    out->sample_rate = (int)ps->sample_rate.num;
    if (ps->channels.kind == S_NONE)
        return s_missing(ps, "channels");
    if (ps->channels.kind != S_NUMBER || !ps->channels.integral || ps->channels.num != 1) {
        s_reason(ps, "channels must be 1");
        return -1;
    }
    out->channels = 1;
    return 0;
}

int ws_hello_parse(const char *text, size_t len, ws_hello_t *out,
                   char *reason, size_t reason_size)
{
    s_parser_t ps;
    memset(&ps, 0, sizeof ps);
    ps.reason = reason;
    ps.reason_size = reason_size;
    if (reason && reason_size)
        reason[0] = '\0';
    if (!text || !out) {
        s_reason(&ps, "first message must be a hello");
        return -1;
    }
    if (len > WS_HELLO_MAX_LEN) {
        s_reason(&ps, "hello longer than %d bytes", WS_HELLO_MAX_LEN);
        return -1;
    }
    ps.start = ps.p = text;
    ps.end = text + len;
    s_skip_ws(&ps);
    /* Whatever is not even an object is most likely audio or another
     * protocol's greeting: say what was expected instead of where it broke. */
    if (ps.p >= ps.end || *ps.p != '{') {
        s_reason(&ps, "first message must be a hello");
        return -1;
    }
    if (s_object(&ps) < 0)
        return -1;
    s_skip_ws(&ps);
    if (ps.p != ps.end)
        return s_syntax(&ps, "trailing data after the object");
    ws_hello_t h = { 0, 0, 0 };
    if (s_validate(&ps, &h) < 0)
        return -1;
    *out = h;
    return 0;
}

const char *ws_format_name(ws_format_t format)
{
    switch (format) {
    case WS_FORMAT_PCM16: return "pcm16";
    case WS_FORMAT_OPUS: return "opus";
    }
    return NULL;
}

/* Appends s JSON-escaped; bytes outside printable ASCII become \u00XX or '?'
 * so that the output is always valid UTF-8 whatever the reason holds. */
static int s_put_escaped(char *buf, size_t size, size_t *n, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char tmp[8];
        size_t k;
        if (c == '"' || c == '\\') { tmp[0] = '\\'; tmp[1] = (char)c; k = 2; }
        else if (c < 0x20) { snprintf(tmp, sizeof tmp, "\\u%04x", c); k = 6; }
        else if (c >= 0x7f) { tmp[0] = '?'; k = 1; }
        else { tmp[0] = (char)c; k = 1; }
        if (*n + k >= size)
            return -1;
        memcpy(buf + *n, tmp, k);
        *n += k;
    }
    return 0;
}

static int s_append(char *buf, size_t size, size_t *n, const char *s)
{
    size_t k = strlen(s);
    if (*n + k >= size)
        return -1;
    memcpy(buf + *n, s, k);
    *n += k;
    return 0;
}

int ws_hello_accepted_json(char *buf, size_t size, const char *session_id,
                           const ws_hello_t *hello)
{
    const char *fmt = hello ? ws_format_name(hello->format) : NULL;
    if (!buf || !size || !fmt || !session_id)
        return -1;
    size_t n = 0;
    char tail[96];
    snprintf(tail, sizeof tail, "\",\"sample_rate\":%d,\"channels\":%d}",
             hello->sample_rate, hello->channels);
    if (s_append(buf, size, &n, "{\"type\":\"accepted\",\"session_id\":\"") < 0
        || s_put_escaped(buf, size, &n, session_id) < 0
        || s_append(buf, size, &n, "\",\"format\":\"") < 0
        || s_append(buf, size, &n, fmt) < 0
        || s_append(buf, size, &n, tail) < 0)
        return -1;
    buf[n] = '\0';
    return (int)n;
}

int ws_hello_error_json(char *buf, size_t size, const char *reason)
{
    if (!buf || !size)
        return -1;
    size_t n = 0;
    if (s_append(buf, size, &n, "{\"type\":\"error\",\"reason\":\"") < 0
        || s_put_escaped(buf, size, &n, reason ? reason : "error") < 0
        || s_append(buf, size, &n, "\"}") < 0)
        return -1;
    buf[n] = '\0';
    return (int)n;
}
