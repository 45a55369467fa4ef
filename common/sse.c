/* sse — the server-sent events push parser declared in http_client.h.
 *
 * The event-stream grammar of the WHATWG HTML standard (9.2.6): lines end in
 * CRLF, LF or CR (a CR at the end of one piece and an LF at the start of
 * the next are one line end); a blank line dispatches the event; `:` starts
 * a comment; `field: value` loses one space after the colon; a field
 * without a colon has an empty value; a leading BOM is dropped. `data`
 * lines are joined with '\n', `event` names the event, `id` and `retry`
 * are ignored (we never reconnect a stream: a reply is one request). An
 * event without data is not dispatched.
 *
 * Memory is bounded: the current line plus the event's data may not
 * exceed SSE_MAX_EVENT; beyond that the parser fails and stays failed. */
#include "http_client.h"

#include <stdlib.h>
#include <string.h>

#define SSE_MAX_EVENT (1u << 20)

typedef struct {
    char *data;
    size_t len, cap;
} s_str_t;

struct sse_parser {
    sse_event_fn *fn;
    void *user;
    s_str_t line, data, event;
    bool data_seen;            /* a data field arrived (it may be empty) */
    bool cr;                   /* the last byte was a CR */
    int bom;                   /* BOM bytes matched; -1 once past the start */
    int failed;                /* 0, or the sticky error */
};

static const unsigned char s_bom[3] = { 0xEF, 0xBB, 0xBF };

static int s_put(s_str_t *s, const char *bytes, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 128;
        while (cap < s->len + n + 1) cap *= 2;
        char *d = realloc(s->data, cap);
        if (!d) return -1;
        s->data = d;
        s->cap = cap;
    }
    memcpy(s->data + s->len, bytes, n);
    s->len += n;
    s->data[s->len] = 0;
    return 0;
}

sse_parser_t *sse_parser_new(sse_event_fn *fn, void *user)
{
    sse_parser_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->fn = fn;
    p->user = user;
    return p;
}

void sse_parser_destroy(sse_parser_t **self_p)
{
    if (!self_p || !*self_p) return;
    sse_parser_t *p = *self_p;
    free(p->line.data);
    free(p->data.data);
    free(p->event.data);
    free(p);
    *self_p = NULL;
}

static int s_dispatch(sse_parser_t *p)
{
    int rc = 0;
    if (p->data_seen) {
        if (p->data.len) p->data.len--;   /* the last '\n' */
        if (p->data.data) p->data.data[p->data.len] = 0;
        rc = p->fn(p->event.len ? p->event.data : "", p->data.data ? p->data.data : "", p->data.len, p->user);
    }
    p->data.len = 0;
    p->event.len = 0;
    p->data_seen = false;
    return rc < 0 ? -1 : 0;
}

/* One complete line (without its end). */
static int s_line(sse_parser_t *p)
{
    const char *l = p->line.data ? p->line.data : "";
    size_t n = p->line.len;
    p->line.len = 0;
    if (n == 0) return s_dispatch(p);
    if (l[0] == ':') return 0;
    const char *colon = memchr(l, ':', n);
    size_t flen = colon ? (size_t)(colon - l) : n;
    const char *v = colon ? colon + 1 : l + n;
    size_t vlen = (size_t)(l + n - v);
    if (vlen && v[0] == ' ') {
        v++;
        vlen--;
    }
    if (flen == 4 && !memcmp(l, "data", 4)) {
        if (s_put(&p->data, v, vlen) < 0 || s_put(&p->data, "\n", 1) < 0) return -2;
        p->data_seen = true;
    } else if (flen == 5 && !memcmp(l, "event", 5)) {
        p->event.len = 0;
        if (s_put(&p->event, v, vlen) < 0) return -2;
    }
    return 0;
}

int sse_parser_feed(sse_parser_t *p, const uint8_t *data, size_t len)
{
    if (p->failed) return p->failed;
    size_t i = 0;
    /* A BOM at the very start of the stream, possibly split over pieces. */
    while (p->bom >= 0 && i < len) {
        if (data[i] == s_bom[p->bom]) {
            i++;
            if (++p->bom == 3) p->bom = -1;
        } else {
            if (p->bom > 0 && s_put(&p->line, (const char *)s_bom, (size_t)p->bom) < 0) return p->failed = -2;
            p->bom = -1;
        }
    }
    while (i < len) {
        if (p->cr) {
            p->cr = false;
            if (data[i] == '\n') {
                i++;
                continue;
            }
        }
        /* The run up to the next line end goes to the line in one piece. */
        size_t j = i;
        while (j < len && data[j] != '\n' && data[j] != '\r') j++;
        if (j > i) {
            if (p->line.len + p->data.len + p->event.len + (j - i) > SSE_MAX_EVENT) return p->failed = -2;
            if (s_put(&p->line, (const char *)data + i, j - i) < 0) return p->failed = -2;
        }
        if (j == len) break;
        p->cr = data[j] == '\r';
        i = j + 1;
        int rc = s_line(p);
        if (rc < 0) return p->failed = rc;
        if (p->data.len + p->event.len > SSE_MAX_EVENT) return p->failed = -2;
    }
    return 0;
}
