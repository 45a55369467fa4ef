/* history — see history.h. A plain array: a session holds a few dozen
 * messages, so dropping from the front with memmove is cheap. */
#include "history.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HISTORY_CUT_MARK "\xE2\x80\xA6"   /* … */

typedef struct {
    uint64_t turn;
    char role[16];
    char *text;                 /* content, or the whole message when json */
    bool json;
} s_msg_t;

struct history {
    s_msg_t *msgs;
    size_t n, cap;
    size_t max_turns, max_bytes;
    size_t bytes;
};

history_t *history_new(size_t max_turns, size_t max_bytes)
{
    history_t *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->max_turns = max_turns ? max_turns : 1;
    h->max_bytes = max_bytes ? max_bytes : 1;
    return h;
}

void history_destroy(history_t **self_p)
{
    if (!self_p || !*self_p) return;
    history_t *h = *self_p;
    for (size_t i = 0; i < h->n; i++) free(h->msgs[i].text);
    free(h->msgs);
    free(h);
    *self_p = NULL;
}

static size_t s_size(const s_msg_t *m)
{
    return strlen(m->role) + strlen(m->text);
}

size_t history_turns(const history_t *h)
{
    size_t turns = 0;
    for (size_t i = 0; i < h->n; i++)
        if (i == 0 || h->msgs[i].turn != h->msgs[i - 1].turn) turns++;
    return turns;
}

/* Drops whole turns from the front while a bound is exceeded, keeping the
 * newest turn. */
static void s_bound(history_t *h)
{
    while (h->n && history_turns(h) > 1 && (history_turns(h) > h->max_turns || h->bytes > h->max_bytes)) {
        uint64_t oldest = h->msgs[0].turn;
        size_t k = 0;
        while (k < h->n && h->msgs[k].turn == oldest) {
            h->bytes -= s_size(&h->msgs[k]);
            free(h->msgs[k].text);
            k++;
        }
        memmove(h->msgs, h->msgs + k, (h->n - k) * sizeof *h->msgs);
        h->n -= k;
    }
}

/* A copy of at most max bytes, cut on a UTF-8 character boundary. */
static char *s_copy(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    }
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static int s_append(history_t *h, uint64_t turn, const char *role, const char *text, bool json)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        s_msg_t *m = realloc(h->msgs, cap * sizeof *m);
        if (!m) return -ENOMEM;
        h->msgs = m;
        h->cap = cap;
    }
    s_msg_t *m = &h->msgs[h->n];
    memset(m, 0, sizeof *m);
    m->turn = turn;
    snprintf(m->role, sizeof m->role, "%s", role ? role : "user");
    /* A JSON message cannot be cut without breaking it: it is kept whole,
     * and the byte bound drops older turns instead. */
    m->text = json ? strdup(text) : s_copy(text ? text : "", h->max_bytes / 2);
    if (!m->text) return -ENOMEM;
    m->json = json;
    h->n++;
    h->bytes += s_size(m);
    s_bound(h);
    return 0;
}

int history_add(history_t *h, uint64_t turn, const char *role, const char *content)
{
    return s_append(h, turn, role, content, false);
}

int history_add_json(history_t *h, uint64_t turn, const char *role, const char *message_json)
{
    return s_append(h, turn, role, message_json, true);
}

int history_set_reply(history_t *h, uint64_t turn, const char *text, bool cut)
{
    size_t n = strlen(text ? text : "");
    char *t = malloc(n + sizeof HISTORY_CUT_MARK + 1);
    if (!t) return -ENOMEM;
    memcpy(t, text ? text : "", n);
    t[n] = 0;
    if (cut) strcat(t, HISTORY_CUT_MARK);
    int rc = 0;
    size_t i = h->n;
    while (i > 0 && !(h->msgs[i - 1].turn == turn && !h->msgs[i - 1].json && !strcmp(h->msgs[i - 1].role, "assistant")))
        i--;
    if (i > 0) {
        s_msg_t *m = &h->msgs[i - 1];
        char *copy = s_copy(t, h->max_bytes / 2);
        if (copy) {
            h->bytes -= s_size(m);
            free(m->text);
            m->text = copy;
            h->bytes += s_size(m);
            s_bound(h);
        } else {
            rc = -ENOMEM;
        }
    } else {
        rc = s_append(h, turn, "assistant", t, false);
    }
    free(t);
    return rc;
}

bool history_has_turn(const history_t *h, uint64_t turn)
{
    for (size_t i = 0; i < h->n; i++)
        if (h->msgs[i].turn == turn) return true;
    return false;
}

void history_write(const history_t *h, json_buf_t *out)
{
    for (size_t i = 0; i < h->n; i++) {
        const s_msg_t *m = &h->msgs[i];
        if (i) json_buf_raw(out, ",");
        if (m->json) {
            json_buf_raw(out, m->text);
            continue;
        }
        json_buf_raw(out, "{\"role\":");
        json_buf_str(out, m->role);
        json_buf_raw(out, ",\"content\":");
        json_buf_str(out, m->text);
        json_buf_raw(out, "}");
    }
}

size_t history_len(const history_t *h) { return h->n; }
size_t history_bytes(const history_t *h) { return h->bytes; }
const char *history_role(const history_t *h, size_t i) { return i < h->n ? h->msgs[i].role : NULL; }
const char *history_content(const history_t *h, size_t i) { return i < h->n ? h->msgs[i].text : NULL; }
uint64_t history_turn(const history_t *h, size_t i) { return i < h->n ? h->msgs[i].turn : 0; }
