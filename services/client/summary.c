/* summary — see summary.h. */
#include "summary.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void summary_init(summary_t *s, const char *transport)
{
    memset(s, 0, sizeof *s);
    s->transport = transport;
    s->connect_ms = s->first_audio_ms = s->reply_latency_ms = SUMMARY_NONE;
    s->jitter_ms = s->rtt_ms = SUMMARY_NONE;
}

int json_escape_append(char *buf, size_t size, size_t *len, const char *s)
{
    size_t n = *len;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char tmp[8];
        const char *add = tmp;
        switch (*p) {
        case '"': add = "\\\""; break;
        case '\\': add = "\\\\"; break;
        case '\n': add = "\\n"; break;
        case '\r': add = "\\r"; break;
        case '\t': add = "\\t"; break;
        default:
            if (*p < 0x20)
                snprintf(tmp, sizeof tmp, "\\u%04x", *p);
            else {
                tmp[0] = (char)*p;
                tmp[1] = '\0';
            }
        }
        size_t k = strlen(add);
        if (n + k + 1 > size) {
            buf[*len] = '\0';
            return -1;
        }
        memcpy(buf + n, add, k);
        n += k;
    }
    buf[n] = '\0';
    *len = n;
    return 0;
}

typedef struct {
    char *buf;
    size_t size, len;
    bool full;
} s_out_t;

static void s_put(s_out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_put(s_out_t *o, const char *fmt, ...)
{
    if (o->full)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->size - o->len)
        o->full = true;
    else
        o->len += (size_t)n;
}

static void s_str(s_out_t *o, const char *key, const char *val)
{
    if (!val) {
        s_put(o, ",\"%s\":null", key);
        return;
    }
    s_put(o, ",\"%s\":\"", key);
    if (!o->full && json_escape_append(o->buf, o->size, &o->len, val) < 0)
        o->full = true;
    s_put(o, "\"");
}

static void s_ms(s_out_t *o, const char *key, double v)
{
    if (v < 0)
        s_put(o, ",\"%s\":null", key);
    else
        s_put(o, ",\"%s\":%.1f", key, v);
}

int summary_json(const summary_t *s, char *buf, size_t size)
{
    if (!buf || size == 0)
        return -1;
    s_out_t o = { buf, size, 0, false };
    buf[0] = '\0';
    s_put(&o, "{\"transport\":\"%s\"", s->transport ? s->transport : "?");
    if (s->format) {
        s_str(&o, "format", s->format);
        s_put(&o, ",\"rate\":%d", s->rate);
    }
    s_ms(&o, "connect_ms", s->connect_ms);
    s_ms(&o, "first_audio_ms", s->first_audio_ms);
    /* may be negative in principle (audio back before the input's last
     * voiced packet): printed as measured, null only when not measured */
    if (s->reply_latency_ms == SUMMARY_NONE)
        s_put(&o, ",\"reply_latency_ms\":null");
    else
        s_put(&o, ",\"reply_latency_ms\":%.1f", s->reply_latency_ms);
    s_put(&o, ",\"packets_sent\":%llu,\"packets_received\":%llu,\"packets_lost\":%lld"
              ",\"packets_concealed\":%llu",
          (unsigned long long)s->packets_sent, (unsigned long long)s->packets_received,
          (long long)s->packets_lost, (unsigned long long)s->packets_concealed);
    s_ms(&o, "jitter_ms", s->jitter_ms);
    s_ms(&o, "rtt_ms", s->rtt_ms);
    s_put(&o, ",\"sent_ms\":%.1f,\"received_ms\":%.1f", s->sent_ms, s->received_ms);
    if (s->video_frames_sent)
        s_put(&o, ",\"video_frames_sent\":%llu,\"video_packets_sent\":%llu",
              (unsigned long long)s->video_frames_sent, (unsigned long long)s->video_packets_sent);
    if (s->delete_status)
        s_put(&o, ",\"delete_status\":%d", s->delete_status);
    if (*s->session)
        s_str(&o, "session", s->session);
    s_str(&o, "out", s->out);
    s_put(&o, "}");
    return o.full ? -1 : (int)o.len;
}

/* ---- reading --------------------------------------------------------------- */

/* Points at the first character of the value of a top-level member `key`,
 * or NULL. Skips strings properly so that a key inside a value never
 * matches; nested objects are not expected and count as "not top level". */
static const char *s_find_value(const char *t, size_t len, const char *key)
{
    const char *end = t + len;
    size_t klen = strlen(key);
    int depth = 0;
    bool expect_key = false;
    for (const char *p = t; p < end; p++) {
        char c = *p;
        if (c == '{' || c == '[') {
            depth++;
            expect_key = c == '{';
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == ',') {
            expect_key = true;
        } else if (c == '"') {
            const char *s = p + 1;
            const char *q = s;
            while (q < end && *q != '"')
                q += (*q == '\\' && q + 1 < end) ? 2 : 1;
            if (q >= end)
                return NULL;
            if (depth == 1 && expect_key) {
                const char *v = q + 1;
                while (v < end && isspace((unsigned char)*v)) v++;
                if (v < end && *v == ':') {
                    v++;
                    while (v < end && isspace((unsigned char)*v)) v++;
                    if ((size_t)(q - s) == klen && !memcmp(s, key, klen))
                        return v < end ? v : NULL;
                    p = v - 1;
                }
                expect_key = false;
            }
            if (p < q)
                p = q;
        }
    }
    return NULL;
}

bool json_get_string(const char *text, size_t len, const char *key, char *out, size_t size)
{
    const char *v = s_find_value(text, len, key);
    if (!v || *v != '"' || size == 0)
        return false;
    const char *end = text + len;
    size_t n = 0;
    for (const char *p = v + 1; p < end; p++) {
        char c = *p;
        if (c == '"') {
            out[n] = '\0';
            return true;
        }
        if (c == '\\' && p + 1 < end) {
            c = *++p;
            switch (c) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u':
                if (end - p > 4) {
                    char hex[5] = { p[1], p[2], p[3], p[4], 0 };
                    long u = strtol(hex, NULL, 16);
                    c = u > 0 && u < 0x80 ? (char)u : '?';
                    p += 4;
                }
                break;
            default: break;   /* \" \\ \/ */
            }
        }
        if (n + 1 < size)
            out[n++] = c;
    }
    return false;
}

bool json_get_int(const char *text, size_t len, const char *key, long *out)
{
    const char *v = s_find_value(text, len, key);
    if (!v)
        return false;
    char tmp[32];
    size_t n = 0;
    const char *end = text + len;
    while (v < end && n + 1 < sizeof tmp && (isdigit((unsigned char)*v) || *v == '-'))
        tmp[n++] = *v++;
    tmp[n] = '\0';
    if (n == 0 || (n == 1 && tmp[0] == '-'))
        return false;
    *out = strtol(tmp, NULL, 10);
    return true;
}
