/* timer — see timer.h. The timers not fired yet are in one list (one
 * service per process), so that shutdown can free them. */
#include "svc_timer.h"

#include <errno.h>
#include <stdlib.h>

struct svc_timer {
    svc_timer_t *prev, *next;
    svc_timer_fn *fn;          /* NULL once disarmed */
    void *arg;
    svc_timer_t **handle;
    int id;
};

static svc_timer_t *s_armed;

static void s_unlink(svc_timer_t *t)
{
    if (t->prev) t->prev->next = t->next;
    else s_armed = t->next;
    if (t->next) t->next->prev = t->prev;
}

static int s_fire(service_t *svc, void *arg)
{
    (void)svc;
    svc_timer_t *t = arg;
    s_unlink(t);
    svc_timer_fn *fn = t->fn;
    void *farg = t->arg;
    if (t->handle) *t->handle = NULL;
    free(t);
    if (fn) fn(farg);
    return 0;
}

int svc_timer_start(service_t *svc, int delay_ms, svc_timer_fn *fn, void *arg, svc_timer_t **handle)
{
    svc_timer_t *t = calloc(1, sizeof *t);
    if (!t) return -ENOMEM;
    t->fn = fn;
    t->arg = arg;
    t->handle = handle;
    t->id = service_after(svc, delay_ms, s_fire, t);
    if (t->id < 0) {
        int rc = t->id;
        free(t);
        return rc;
    }
    t->next = s_armed;
    if (s_armed) s_armed->prev = t;
    s_armed = t;
    if (handle) *handle = t;
    return 0;
}

void svc_timer_cancel(svc_timer_t **handle_p)
{
    if (!handle_p || !*handle_p) return;
    svc_timer_t *t = *handle_p;
    t->fn = NULL;
    t->handle = NULL;
    *handle_p = NULL;
}

void svc_timers_shutdown(service_t *svc)
{
    while (s_armed) {
        svc_timer_t *t = s_armed;
        s_unlink(t);
        service_cancel(svc, t->id);
        if (t->handle) *t->handle = NULL;
        free(t);
    }
}
