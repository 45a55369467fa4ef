/* svc_timer — one-shot timers on a service's loop with a handle that
 * clears itself: *handle is set while the timer is pending and back to NULL
 * when it fires (before fn runs) or is cancelled, so a provider's request
 * state never points at a timer that is gone. Cancelled timers are disarmed
 * (they stay in the loop and do nothing when they fire);
 * svc_timers_shutdown() frees what is left once the loop has stopped. Used
 * by the LLM and STT providers (retry backoff, first-token deadlines, the
 * rules responder's token pacing). */
#ifndef VOXMESH_SVC_TIMER_H
#define VOXMESH_SVC_TIMER_H

#include "service.h"

typedef struct svc_timer svc_timer_t;
typedef void (svc_timer_fn)(void *arg);

/* Calls fn(arg) once, delay_ms from now. *handle is set to the timer and
 * back to NULL when it fires (before fn runs) or is cancelled, so it
 * never points at a timer that is gone. Returns 0 or a negative errno. */
int svc_timer_start(service_t *svc, int delay_ms, svc_timer_fn *fn, void *arg, svc_timer_t **handle);

/* Disarms *handle_p (if set) and sets it to NULL: fn will not run. */
void svc_timer_cancel(svc_timer_t **handle_p);

/* After service_run: frees every timer not fired yet. */
void svc_timers_shutdown(service_t *svc);

#endif
