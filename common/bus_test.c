/* bus_test — the bus, the proxy and the envelope, end to end over ipc and tcp. */
#include "bus.h"
#include "bus_proxy.h"
#include "log.h"
#include "test.h"

#include <czmq.h>
#include <string.h>
#include <unistd.h>

static void s_wait_subscribed(bus_proxy_t *proxy, const char *topic, int n)
{
    for (int i = 0; i < 500 && bus_proxy_subscriptions(proxy, topic) < n; i++) usleep(2000);
    CHECK(bus_proxy_subscriptions(proxy, topic) >= n, "subscription to %s is live at the proxy", topic);
}

static int s_publish_pcm(bus_t *bus, const char *topic, const char *session, int64_t origin)
{
    int16_t samples[320] = { 1, 2, 3 };
    Voxmesh__PcmAudio pcm = VOXMESH__PCM_AUDIO__INIT;
    pcm.sample_rate = 16000;
    pcm.channels = 1;
    pcm.format = VOXMESH__SAMPLE_FORMAT__SAMPLE_FORMAT_S16;
    pcm.samples.data = (uint8_t *)samples;
    pcm.samples.len = sizeof samples;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = (char *)session;
    ev.origin_ts_us = origin;
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_PCM_AUDIO;
    ev.pcm_audio = &pcm;
    return bus_publish(bus, topic, &ev);
}

static void s_roundtrip(const char *front, const char *back)
{
    bus_proxy_t *proxy = bus_proxy_new(front, back);
    CHECK(proxy != NULL, "proxy binds %s and %s", front, back);
    metrics_t *metrics = metrics_new();
    bus_t *pub = bus_new("test-pub", front, NULL, NULL);
    bus_t *sub = bus_new("test-sub", NULL, back, metrics);
    CHECK(pub && sub, "buses connect");
    CHECK(bus_subscribe(sub, "audio.in.") == 0, "subscribe to a prefix");
    CHECK(bus_subscribe(sub, "nodot") < 0, "a topic without the trailing '.' is refused");
    s_wait_subscribed(proxy, "audio.in.", 1);
    usleep(20000);   /* the subscription travels on from the proxy to the publisher */

    CHECK(s_publish_pcm(pub, "audio.in.pcm.", "s1", 12345) == 0, "publish");
    CHECK(s_publish_pcm(pub, "audio.out.pcm.", "s1", 1) == 0, "publish another topic");
    CHECK(s_publish_pcm(pub, "audio.in.pcm.", "s1", 12346) == 0, "publish again");
    bus_msg_t *m = bus_recv(sub, 2000);
    CHECK(m != NULL, "receive");
    CHECK(!strcmp(m->topic, "audio.in.pcm."), "topic is kept: %s", m->topic);
    CHECK(m->ev->version == EVENT_VERSION, "version stamped");
    CHECK(m->ev->seq == 1, "first sequence number is 1 (got %llu)", (unsigned long long)m->ev->seq);
    CHECK(!strcmp(m->ev->session_id, "s1"), "session id carried");
    CHECK(m->ev->origin_ts_us == 12345, "origin timestamp carried");
    CHECK(m->ev->sent_ts_us > 0 && !strcmp(m->ev->publisher, "test-pub"), "publisher and sent time stamped");
    CHECK(m->ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_PCM_AUDIO && m->ev->pcm_audio->sample_rate == 16000
          && m->ev->pcm_audio->samples.len == 640, "PCM payload carries its format and samples");
    bus_msg_destroy(&m);
    m = bus_recv(sub, 2000);
    CHECK(m && m->ev->seq == 2 && m->ev->origin_ts_us == 12346,
          "the unsubscribed topic was filtered out, the next one arrives with seq 2");
    bus_msg_destroy(&m);
    CHECK(bus_recv(sub, 50) == NULL, "nothing else arrives");
    CHECK(metric_value(metrics_counter(metrics, "voxmesh_bus_received_total", NULL, "")) == 2,
          "received counter in the metrics");

    bus_destroy(&pub);
    bus_destroy(&sub);
    metrics_destroy(&metrics);
    bus_proxy_destroy(&proxy);
}

/* "stt.w1." must not receive "stt.w10.": the reason topics end with '.'. */
static void s_delimiter(const char *front, const char *back)
{
    bus_proxy_t *proxy = bus_proxy_new(front, back);
    bus_t *pub = bus_new("p", front, NULL, NULL);
    bus_t *sub = bus_new("s", NULL, back, NULL);
    bus_subscribe(sub, "stt.w1.");
    s_wait_subscribed(proxy, "stt.w1.", 1);
    usleep(20000);
    s_publish_pcm(pub, "stt.w10.", "x", 1);
    s_publish_pcm(pub, "stt.w1.", "y", 2);
    bus_msg_t *m = bus_recv(sub, 2000);
    CHECK(m && !strcmp(m->topic, "stt.w1."), "stt.w1. subscriber receives stt.w1. only");
    bus_msg_destroy(&m);
    CHECK(bus_recv(sub, 50) == NULL, "and never stt.w10.");
    bus_destroy(&pub);
    bus_destroy(&sub);
    bus_proxy_destroy(&proxy);
}

/* Malformed frames and sequence gaps, sent by a raw socket that plays a
 * broken or lossy publisher. */
static void s_bad_frames_and_gaps(const char *front, const char *back)
{
    bus_proxy_t *proxy = bus_proxy_new(front, back);
    zsock_t *raw = zsock_new_pub(NULL);
    zsock_connect(raw, "%s", front);
    bus_t *sub = bus_new("s", NULL, back, NULL);
    bus_subscribe(sub, "x.");
    s_wait_subscribed(proxy, "x.", 1);
    usleep(50000);

    zstr_sendm(raw, "x.");
    zstr_send(raw, "this is not protobuf \xff\xff\xff\xff");
    zstr_send(raw, "x.");                     /* topic with no envelope */
    zstr_sendm(raw, "x.bad topic");           /* space in the topic */
    zstr_send(raw, "");

    /* Valid envelopes with sequence 1, 2, 5: two missing. */
    uint64_t seqs[] = { 1, 2, 5 };
    for (int i = 0; i < 3; i++) {
        event_t ev = VOXMESH__ENVELOPE__INIT;
        ev.version = EVENT_VERSION;
        ev.publisher = "lossy";
        ev.seq = seqs[i];
        uint8_t buf[64];
        size_t n = voxmesh__envelope__pack(&ev, buf);
        zstr_sendm(raw, "x.");
        zsock_send(raw, "b", buf, n);
    }
    int got = 0;
    bus_msg_t *m;
    while ((m = bus_recv(sub, 500))) {
        got++;
        bus_msg_destroy(&m);
    }
    bus_stats_t st = bus_stats(sub);
    CHECK(got == 3, "the three valid envelopes arrive (got %d)", got);
    CHECK(st.bad_frames >= 2, "malformed frames are counted (%llu)", (unsigned long long)st.bad_frames);
    CHECK(st.seq_gaps == 2, "the gap of two is counted (%llu)", (unsigned long long)st.seq_gaps);
    zsock_destroy(&raw);
    bus_destroy(&sub);
    bus_proxy_destroy(&proxy);
}

static void s_format(void)
{
    Voxmesh__Transcript t = VOXMESH__TRANSCRIPT__INIT;
    t.text = "say \"hi\"";
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = "abc";
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_STT_FINAL;
    ev.stt_final = &t;
    char buf[1024];
    event_format_json(&ev, "stt.final.", buf, sizeof buf);
    CHECK(strstr(buf, "\"type\":\"stt_final\"") && strstr(buf, "say \\\"hi\\\""), "json form escapes: %s", buf);
    event_format(&ev, "stt.final.", buf, sizeof buf);
    CHECK(strstr(buf, "session=abc") != NULL, "human form: %s", buf);
    CHECK(event_topic_valid("a.", 2) && !event_topic_valid("a", 1) && !event_topic_valid("a b.", 4),
          "topic validation");
}

int main(void)
{
    log_init("bus_test", LOG_LEVEL_WARN, false);
    char front[128], back[128];
    snprintf(front, sizeof front, "ipc://@voxmesh-test-%d.pub", getpid());
    snprintf(back, sizeof back, "ipc://@voxmesh-test-%d.sub", getpid());
    s_roundtrip(front, back);
    s_delimiter(front, back);
    s_bad_frames_and_gaps(front, back);
    s_roundtrip("tcp://127.0.0.1:47461", "tcp://127.0.0.1:47462");
    s_format();
    return TEST_DONE();
}
