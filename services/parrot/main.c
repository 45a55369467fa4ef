/* voxmesh-parrot — the echo step: every caller's decoded audio goes straight
 * back out as the agent's audio. With the edge and the codec around it, this
 * is the parrot stack (deploy/graphs/parrot) that validates the media path
 * before any AI is involved.
 *
 * It is also the example of how small a step is: declare topics, handle
 * events, publish events. The session id and origin timestamp are carried
 * over, so every later hop can measure latency back to the caller's mouth. */
#include "service.h"
#include "log.h"

static int s_on_pcm(service_t *svc, bus_msg_t *msg, void *arg)
{
    (void)arg;
    event_t *in = msg->ev;
    if (in->payload_case != VOXMESH__ENVELOPE__PAYLOAD_PCM_AUDIO)
        return 0;   /* another payload on this topic: not ours to echo */

    event_t out = VOXMESH__ENVELOPE__INIT;
    out.session_id = in->session_id;
    out.origin_ts_us = in->origin_ts_us;
    out.payload_case = VOXMESH__ENVELOPE__PAYLOAD_PCM_AUDIO;
    out.pcm_audio = in->pcm_audio;           /* same samples, same format */
    if (bus_publish(service_bus(svc), TOPIC_AUDIO_OUT_PCM, &out) < 0)
        log_debug("session %s: echo dropped at the high-water mark", in->session_id);
    return 0;
}

int main(int argc, char **argv)
{
    service_t *svc = service_new("parrot", "Echoes each caller's audio back to them.",
                                 NULL, argc, argv);
    if (!svc) return 2;
    service_publishes(svc, TOPIC_AUDIO_OUT_PCM);
    service_on(svc, TOPIC_AUDIO_IN_PCM, s_on_pcm, NULL);
    int rc = service_start(svc);
    if (rc == 0) rc = service_run(svc);
    service_destroy(&svc);
    return rc < 0 ? 1 : rc == 1 ? 0 : rc;
}
