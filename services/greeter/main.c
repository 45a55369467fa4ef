/* voxmesh-greeter — greets every caller: on session start it speaks a
 * greeting (flite, offline) into the session's outbound audio, all at once,
 * as a TTS engine would (faster than real time: the edge paces it).
 *
 * It is what an IVR prompt is to a phone call, and what the barge-in test
 * needs: the agent talking when the caller starts to speak. */
#include "service.h"
#include "wav.h"
#include "log.h"

#include <czmq.h>
#include <flite/flite.h>
#include <string.h>

cst_voice *register_cmu_us_slt(const char *voxdir);

typedef struct {
    int16_t *samples;
    size_t frames;
    uint32_t rate;
    long chunk_ms;
} s_greeting_t;

static int s_on_session(service_t *svc, bus_msg_t *msg, void *arg)
{
    s_greeting_t *g = arg;
    if (msg->ev->payload_case != VOXMESH__ENVELOPE__PAYLOAD_SESSION_STARTED) return 0;
    size_t chunk = (size_t)g->rate * (size_t)g->chunk_ms / 1000;
    for (size_t at = 0; at < g->frames; at += chunk) {
        size_t n = g->frames - at < chunk ? g->frames - at : chunk;
        Voxmesh__PcmAudio p = VOXMESH__PCM_AUDIO__INIT;
        p.sample_rate = g->rate;
        p.channels = 1;
        p.format = VOXMESH__SAMPLE_FORMAT__SAMPLE_FORMAT_S16;
        p.samples.data = (uint8_t *)(g->samples + at);
        p.samples.len = n * sizeof(int16_t);
        p.stream_offset = at;
        event_t ev = VOXMESH__ENVELOPE__INIT;
        ev.session_id = msg->ev->session_id;
        ev.origin_ts_us = msg->ev->origin_ts_us;
        ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_PCM_AUDIO;
        ev.pcm_audio = &p;
        bus_publish(service_bus(svc), TOPIC_AUDIO_OUT_PCM, &ev);
    }
    log_info("session %s: greeting sent (%.1f s)", msg->ev->session_id, (double)g->frames / g->rate);
    return 0;
}

/* The greeting from a WAV file, as 16-bit mono at the file's rate. */
static int s_load_wav(s_greeting_t *g, const char *path)
{
    pcm_t *in = NULL;
    const char *why = NULL;
    if (wav_read_file(path, &in, &why) < 0) {
        log_error("%s: %s", path, why ? why : "cannot read");
        return -1;
    }
    pcm_t *mono = pcm_resample(in, pcm_rate(in), 1, PCM_S16);
    pcm_destroy(&in);
    if (!mono || pcm_frames(mono) == 0) {
        pcm_destroy(&mono);
        log_error("%s: no audio", path);
        return -1;
    }
    g->frames = pcm_frames(mono);
    g->rate = pcm_rate(mono);
    g->samples = malloc(pcm_bytes(mono));
    if (g->samples) memcpy(g->samples, pcm_data(mono), pcm_bytes(mono));
    pcm_destroy(&mono);
    return g->samples ? 0 : -1;
}

/* The greeting spoken by flite's built-in voice. */
static int s_synthesise(s_greeting_t *g, const char *text)
{
    flite_init();
    cst_voice *voice = register_cmu_us_slt(NULL);
    cst_wave *w = voice ? flite_text_to_wave(text, voice) : NULL;
    if (!w || w->num_samples <= 0 || w->num_channels != 1) {
        log_error("flite could not synthesise the greeting");
        if (w) delete_wave(w);
        return -1;
    }
    g->frames = (size_t)w->num_samples;
    g->rate = (uint32_t)w->sample_rate;
    g->samples = malloc(g->frames * sizeof(int16_t));
    if (g->samples) memcpy(g->samples, w->samples, g->frames * sizeof(int16_t));
    delete_wave(w);
    return g->samples ? 0 : -1;
}

static const service_option_t s_options[] = {
    { "text", "Hello, and welcome to voxmesh. This is the greeter speaking. You can interrupt me at any time by simply "
              "starting to talk, and I will stop at once.",
      "what to say to every caller" },
    { "wav", NULL, "play this WAV file instead of speaking --text" },
    { "chunk-ms", "200", "the greeting goes out in events of this length" },
    { NULL, NULL, NULL }
};

int main(int argc, char **argv)
{
    service_t *svc = service_new("greeter", "Speaks a greeting to every new caller (flite).", s_options, argc, argv);
    if (!svc) return 2;
    s_greeting_t g = { 0 };
    service_publishes(svc, TOPIC_AUDIO_OUT_PCM);
    service_on(svc, TOPIC_SESSION, s_on_session, &g);
    int rc = service_start(svc);
    if (rc == 0 && service_opt_int(svc, "chunk-ms", 20, 10000, &g.chunk_ms) < 0) rc = -1;
    if (rc == 0) rc = service_opt(svc, "wav") ? s_load_wav(&g, service_opt(svc, "wav")) : s_synthesise(&g, service_opt(svc, "text"));
    if (rc == 0) {
        log_info("greeting ready: %.1f s at %u Hz", (double)g.frames / g.rate, g.rate);
        rc = service_run(svc);
    }
    free(g.samples);
    service_destroy(&svc);
    return rc < 0 ? 1 : rc == 1 ? 0 : rc;
}
