/* daemon_test — the real voxmesh-codec binary on a bus of our own: bad
 * input (corrupt Opus, absurd PCM formats, zero-length and huge frames)
 * is counted and dropped, and the same session and another one keep working.
 * Also: a session's state is freed on its end event (thousands of them). */
#include "bus.h"
#include "bus_proxy.h"
#include "opus_codec.h"
#include "log.h"
#include "test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char s_front[96], s_back[96];

static pid_t s_start_codec(void)
{
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    char path[256], pub[128], sub[128];
    snprintf(path, sizeof path, "%s/bin/voxmesh-codec", build);
    snprintf(pub, sizeof pub, "--bus-pub=%s", s_front);
    snprintf(sub, sizeof sub, "--bus-sub=%s", s_back);
    pid_t pid = fork();
    if (pid == 0) {
        execl(path, path, pub, sub, "--rate=16000", "--log-level=warn", "--metrics-port=0", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void s_opus(bus_t *bus, const char *session, const uint8_t *data, size_t len, uint32_t seq)
{
    Voxmesh__EncodedAudio a = VOXMESH__ENCODED_AUDIO__INIT;
    a.codec = "opus";
    a.sample_rate = 48000;
    a.channels = 1;
    a.rtp_seq = seq;
    a.duration_us = 20000;
    a.data.data = (uint8_t *)data;
    a.data.len = len;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = (char *)session;
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_ENCODED_AUDIO;
    ev.encoded_audio = &a;
    bus_publish(bus, TOPIC_AUDIO_IN_OPUS, &ev);
}

static void s_pcm(bus_t *bus, const char *session, uint32_t rate, uint32_t ch, int fmt, const void *data, size_t len)
{
    Voxmesh__PcmAudio p = VOXMESH__PCM_AUDIO__INIT;
    p.sample_rate = rate;
    p.channels = ch;
    p.format = fmt;
    p.samples.data = (uint8_t *)data;
    p.samples.len = len;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = (char *)session;
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_PCM_AUDIO;
    ev.pcm_audio = &p;
    bus_publish(bus, TOPIC_AUDIO_OUT_PCM, &ev);
}

static void s_end(bus_t *bus, const char *session)
{
    Voxmesh__SessionEnded e = VOXMESH__SESSION_ENDED__INIT;
    e.reason = "test";
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = (char *)session;
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_SESSION_ENDED;
    ev.session_ended = &e;
    bus_publish(bus, TOPIC_SESSION, &ev);
}

/* Counts events per topic for `session` until `ms` pass. */
static int s_count(bus_t *sub, const char *topic, const char *session, int ms)
{
    int n = 0;
    int64_t end = time_mono_us() + ms * 1000;
    bus_msg_t *m;
    while (time_mono_us() < end) {
        if (!(m = bus_recv(sub, 50))) continue;
        if (!strcmp(m->topic, topic) && m->ev->session_id && !strcmp(m->ev->session_id, session)) n++;
        bus_msg_destroy(&m);
    }
    return n;
}

int main(void)
{
    log_init("daemon_test", LOG_LEVEL_ERROR, false);
    snprintf(s_front, sizeof s_front, "ipc://@codec-test-%d.pub", getpid());
    snprintf(s_back, sizeof s_back, "ipc://@codec-test-%d.sub", getpid());
    bus_proxy_t *proxy = bus_proxy_new(s_front, s_back);
    bus_t *pub = bus_new("test", s_front, NULL, NULL);
    bus_t *sub = bus_new("test-sub", NULL, s_back, NULL);
    bus_subscribe(sub, TOPIC_AUDIO_IN_PCM);
    bus_subscribe(sub, TOPIC_AUDIO_OUT_OPUS);
    pid_t codec = s_start_codec();
    for (int i = 0; i < 500 && bus_proxy_subscriptions(proxy, TOPIC_AUDIO_IN_OPUS) < 1; i++) usleep(10000);
    CHECK(bus_proxy_subscriptions(proxy, TOPIC_AUDIO_IN_OPUS) >= 1, "codec subscribed");
    usleep(100000);

    opus_enc_config_t cfg;
    opus_enc_config_defaults(&cfg);
    cfg.rate = 48000;
    cfg.channels = 1;
    cfg.frame_ms = 20;
    opus_enc_t *enc = opus_enc_new(&cfg);
    int16_t frame[960];
    for (int i = 0; i < 960; i++) frame[i] = (int16_t)((i * 37) % 2000 - 1000);
    uint8_t good[400];
    int glen = opus_enc_encode(enc, frame, good, sizeof good);

    /* The attack: everything wrong at once, on two sessions. */
    uint8_t junk[64];
    memset(junk, 0xff, sizeof junk);
    uint8_t *huge = calloc(1, 1 << 20);
    s_opus(pub, "bad", junk, sizeof junk, 1);
    s_opus(pub, "bad", junk, 0, 2);                      /* zero length */
    s_opus(pub, "bad", huge, 1 << 20, 3);                /* 1 MiB "packet" */
    s_pcm(pub, "bad", 7, 1, 1, frame, sizeof frame);      /* absurd rate */
    s_pcm(pub, "bad", 16000, 0, 1, frame, sizeof frame);  /* no channels */
    s_pcm(pub, "bad", 16000, 300, 1, frame, sizeof frame);/* absurd channels */
    s_pcm(pub, "bad", 16000, 1, 9, frame, sizeof frame);  /* unknown format */
    s_pcm(pub, "bad", 16000, 1, 1, frame, 3);             /* half a sample */
    s_pcm(pub, "bad", 48000, 1, 1, huge, 1 << 20);        /* 11 s in one event: fine, queued */
    free(huge);

    /* Then good audio on the same session and on a fresh one. */
    for (uint32_t i = 0; i < 10; i++) {
        s_opus(pub, "bad", good, (size_t)glen, 10 + i);
        s_opus(pub, "good", good, (size_t)glen, 100 + i);
        s_pcm(pub, "good", 16000, 1, 1, frame, 640);       /* 20 ms at 16 kHz */
        usleep(5000);
    }
    int pcm_bad = 0, pcm_good = 0, opus_good = 0;
    int64_t end = time_mono_us() + 1500000;
    bus_msg_t *m;
    while (time_mono_us() < end) {
        if (!(m = bus_recv(sub, 50))) continue;
        const char *sid = m->ev->session_id ? m->ev->session_id : "";
        if (!strcmp(m->topic, TOPIC_AUDIO_IN_PCM) && !strcmp(sid, "bad")) pcm_bad++;
        if (!strcmp(m->topic, TOPIC_AUDIO_IN_PCM) && !strcmp(sid, "good")) pcm_good++;
        if (!strcmp(m->topic, TOPIC_AUDIO_OUT_OPUS) && !strcmp(sid, "good")) opus_good++;
        bus_msg_destroy(&m);
    }
    CHECK(kill(codec, 0) == 0, "the codec survived the bad input");
    CHECK(pcm_bad == 10, "the attacked session decodes its good packets afterwards (%d of 10)", pcm_bad);
    CHECK(pcm_good == 10, "another session is untouched (%d of 10)", pcm_good);
    CHECK(opus_good >= 8, "outbound encoding works on (%d packets)", opus_good);

    /* Thousands of short sessions: state freed at their end. */
    for (int i = 0; i < 2000; i++) {
        char id[32];
        snprintf(id, sizeof id, "churn-%d", i);
        s_opus(pub, id, good, (size_t)glen, 1);
        s_end(pub, id);
        if (i % 200 == 0) usleep(20000);
    }
    s_opus(pub, "after", good, (size_t)glen, 1);
    CHECK(s_count(sub, TOPIC_AUDIO_IN_PCM, "after", 1500) == 1, "still answering after 2000 sessions came and went");

    kill(codec, SIGTERM);
    int status = 0;
    waitpid(codec, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "clean exit on SIGTERM (status %d)", status);
    opus_enc_destroy(&enc);
    bus_destroy(&pub);
    bus_destroy(&sub);
    bus_proxy_destroy(&proxy);
    return TEST_DONE();
}
