/* timer — one-shot timers that may be cancelled from anywhere, also from
 * another timer's callback.
 *
 * service_cancel() is not safe there: zloop runs every due timer of a pass
 * in a row, and a timer cancelled by an earlier one in the same pass may
 * still run, its state already freed (see common/http_client.c). So a
 * cancelled timer here is only disarmed: it stays in the loop and does
 * nothing when it fires. stt_timers_shutdown() cancels what is left, for
 * real, once the loop has stopped.
 *
 * A copy of services/llm/timer.c (services cannot share code outside
 * common/): the retry backoff of a provider request is cancelled when its
 * session ends, which may be from the idle-session reaper's timer. */
#ifndef VOXMESH_STT_TIMER_H
#define VOXMESH_STT_TIMER_H

#include "service.h"

typedef struct stt_timer stt_timer_t;
typedef void (stt_timer_fn)(void *arg);

/* Calls fn(arg) once, delay_ms from now. *handle is set to the timer and
 * back to NULL when it fires (before fn runs) or is cancelled, so it
 * never points at a timer that is gone. Returns 0 or a negative errno. */
int stt_timer_start(service_t *svc, int delay_ms, stt_timer_fn *fn, void *arg, stt_timer_t **handle);

/* Disarms *handle_p (if set) and sets it to NULL: fn will not run. */
void stt_timer_cancel(stt_timer_t **handle_p);

/* After service_run: frees every timer not fired yet. */
void stt_timers_shutdown(service_t *svc);

#endif
