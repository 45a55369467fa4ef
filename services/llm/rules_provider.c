/* rules_provider — see rules_provider.h. */
#include "rules_provider.h"
#include "log.h"
#include "svc_timer.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    provider_t base;           /* first: the table */
    service_t *svc;
    rules_t *rules;
} s_provider_t;

struct reply {
    s_provider_t *p;
    reply_cb_t cb;
    void *user;
    char *text;
    size_t pos;
    svc_timer_t *tick;
};

static void s_free(reply_t *r)
{
    svc_timer_cancel(&r->tick);
    free(r->text);
    free(r);
}

/* One word (and the blanks after it) per turn of the loop. */
static void s_on_tick(void *arg)
{
    reply_t *r = arg;
    size_t n = strlen(r->text), start = r->pos, end = start;
    while (end < n && r->text[end] != ' ') end++;
    while (end < n && r->text[end] == ' ') end++;
    r->pos = end;
    if (end > start) r->cb.on_text(r->user, r->text + start, end - start);
    if (r->pos < n && svc_timer_start(r->p->svc, 0, s_on_tick, r, &r->tick) == 0) return;
    reply_cb_t cb = r->cb;
    void *user = r->user;
    const char *error = r->pos < n ? "out of memory" : NULL;
    s_free(r);
    cb.on_done(user, error);
}

static reply_t *s_start(provider_t *base, const char *transcript, const char *label, const reply_cb_t *cb, void *user)
{
    s_provider_t *p = (s_provider_t *)base;
    reply_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->p = p;
    r->cb = *cb;
    r->user = user;
    int line = 0;
    r->text = rules_reply(p->rules, transcript, time(NULL), &line);
    if (!r->text) r->text = strdup("Sorry, I have no answer to that.");   /* a rules file without a fallback */
    if (!r->text || svc_timer_start(p->svc, 0, s_on_tick, r, &r->tick) < 0) {
        s_free(r);
        return NULL;
    }
    log_debug("session %s: rule of line %d", label ? label : "-", line);
    return r;
}

static void s_cancel(reply_t *r)
{
    if (r) s_free(r);
}

static void s_destroy(provider_t *base)
{
    s_provider_t *p = (s_provider_t *)base;
    rules_destroy(&p->rules);
    free(p);
}

provider_t *rules_provider_new(service_t *svc, rules_t *rules)
{
    s_provider_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->base = (provider_t){ "rules", s_start, s_cancel, s_destroy };
    p->svc = svc;
    p->rules = rules;
    return &p->base;
}
