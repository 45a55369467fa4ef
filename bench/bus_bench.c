/* bus_bench — bus hop latency (publisher -> proxy -> subscriber, protobuf
 * envelope included), and the same over the direct data plane (publisher ->
 * subscriber, the publisher still connected to the proxy as in a direct
 * stack: docs/bus.md), beside raw libzmq PUB/SUB on the same machine, in the
 * same run, for 1 KiB and 4 KiB messages over ipc and tcp.
 *
 * Messages are paced (one per ms) so the figure is the latency of a hop, not
 * of a queue: audio arrives at 50 frames/s per session, never in a burst. */
#include "bus.h"
#include "bus_proxy.h"
#include "log.h"

#include <czmq.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_MSGS 3000
#define WARMUP 200
#define PERIOD_US 1000

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int64_t s_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void s_sleep_until(int64_t t_ns)
{
    int64_t now;
    while ((now = s_mono_ns()) < t_ns) {
        int64_t left = t_ns - now;
        if (left > 60000) usleep((useconds_t)((left - 50000) / 1000));
    }
}

typedef struct { double p50, p99; } s_result_t;

static s_result_t s_summary(double *lat, int n)
{
    qsort(lat, (size_t)n, sizeof *lat, s_cmp);
    return (s_result_t){ lat[n / 2], lat[(int)(n * 0.99)] };
}

/* ---- raw libzmq ---- */
typedef struct { void *sock; size_t size; } s_raw_pub_t;

static void *s_raw_publisher(void *arg)
{
    s_raw_pub_t *p = arg;
    char *buf = calloc(1, p->size);
    int64_t t = s_mono_ns();
    for (int i = 0; i < N_MSGS; i++) {
        t += PERIOD_US * 1000;
        s_sleep_until(t);
        int64_t now = s_mono_ns();
        memcpy(buf, &now, sizeof now);
        zmq_send(p->sock, "bench.", 6, ZMQ_SNDMORE);
        zmq_send(p->sock, buf, p->size, 0);
    }
    free(buf);
    return NULL;
}

static s_result_t s_raw(const char *ep, size_t size)
{
    void *ctx = zmq_ctx_new();
    void *pub = zmq_socket(ctx, ZMQ_PUB), *sub = zmq_socket(ctx, ZMQ_SUB);
    zmq_bind(pub, ep);
    zmq_connect(sub, ep);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "bench.", 6);
    usleep(200000);
    s_raw_pub_t p = { pub, size };
    pthread_t th;
    pthread_create(&th, NULL, s_raw_publisher, &p);
    double *lat = calloc(N_MSGS, sizeof *lat);
    int n = 0;
    char *buf = malloc(size + 16);
    char topic[16];
    for (int i = 0; i < N_MSGS; i++) {
        if (zmq_recv(sub, topic, sizeof topic, 0) < 0) break;
        zmq_recv(sub, buf, size + 16, 0);
        int64_t sent;
        memcpy(&sent, buf, sizeof sent);
        if (i >= WARMUP) lat[n++] = (s_mono_ns() - sent) / 1000.0;
    }
    pthread_join(th, NULL);
    free(buf);
    zmq_close(pub);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    s_result_t r = s_summary(lat, n);
    free(lat);
    return r;
}

/* ---- through the voxmesh bus ---- */
typedef struct { bus_t *bus; size_t size; } s_bus_pub_t;

static void *s_bus_publisher(void *arg)
{
    s_bus_pub_t *p = arg;
    uint8_t *buf = calloc(1, p->size);
    int64_t t = s_mono_ns();
    for (int i = 0; i < N_MSGS; i++) {
        t += PERIOD_US * 1000;
        s_sleep_until(t);
        int64_t now = s_mono_ns();
        memcpy(buf, &now, sizeof now);
        Voxmesh__EncodedAudio a = VOXMESH__ENCODED_AUDIO__INIT;
        a.codec = "opus";
        a.data.data = buf;
        a.data.len = p->size;
        event_t ev = VOXMESH__ENVELOPE__INIT;
        ev.session_id = "bench";
        ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_ENCODED_AUDIO;
        ev.encoded_audio = &a;
        bus_publish(p->bus, "bench.", &ev);
    }
    free(buf);
    return NULL;
}

static void s_linked(void *arg, int n)
{
    (void)n;
    __atomic_store_n((int *)arg, 1, __ATOMIC_RELEASE);
}

/* direct: NULL through the proxy, else the publisher's own endpoint. */
static s_result_t s_bus(const char *front, const char *back, const char *direct, size_t size)
{
    bus_proxy_t *proxy = bus_proxy_new(front, back);
    bus_t *pub = bus_new("bench-pub", front, NULL, NULL);
    bus_t *sub = bus_new("bench-sub", NULL, direct ? NULL : back, NULL);
    int linked = 0;
    if (direct) {
        bus_bind_direct(pub, direct);
        bus_connect_direct(sub, direct, s_linked, &linked);
    }
    bus_subscribe(sub, "bench.");
    if (direct) while (!__atomic_load_n(&linked, __ATOMIC_ACQUIRE)) usleep(1000);
    else while (bus_proxy_subscriptions(proxy, "bench.") < 1) usleep(1000);
    usleep(200000);
    s_bus_pub_t p = { pub, size };
    pthread_t th;
    pthread_create(&th, NULL, s_bus_publisher, &p);
    double *lat = calloc(N_MSGS, sizeof *lat);
    int n = 0;
    for (int i = 0; i < N_MSGS; i++) {
        bus_msg_t *m = bus_recv(sub, 5000);
        if (!m) break;
        int64_t sent;
        memcpy(&sent, m->ev->encoded_audio->data.data, sizeof sent);
        if (i >= WARMUP) lat[n++] = (s_mono_ns() - sent) / 1000.0;
        bus_msg_destroy(&m);
    }
    pthread_join(th, NULL);
    bus_destroy(&pub);
    bus_destroy(&sub);
    bus_proxy_destroy(&proxy);
    s_result_t r = s_summary(lat, n);
    free(lat);
    return r;
}

int main(void)
{
    log_init("bus_bench", LOG_LEVEL_WARN, false);
    printf("bus hop latency, %d messages paced at 1/ms (first %d dropped), microseconds\n", N_MSGS, WARMUP);
    printf("%-5s %6s | %8s %8s | %8s %8s | %8s %8s | %s\n", "trans", "size", "raw p50", "raw p99",
           "bus p50", "bus p99", "dir p50", "dir p99", "p50 ratio to raw: bus, direct (target <= 1.5)");
    size_t sizes[] = { 1024, 4096 };
    for (int t = 0; t < 2; t++) {
        for (int s = 0; s < 2; s++) {
            char raw[96], front[96], back[96], direct[96];
            if (t == 0) {
                snprintf(raw, sizeof raw, "ipc://@voxmesh-bench-raw-%d", getpid());
                snprintf(front, sizeof front, "ipc://@voxmesh-bench-%d.pub", getpid());
                snprintf(back, sizeof back, "ipc://@voxmesh-bench-%d.sub", getpid());
                snprintf(direct, sizeof direct, "ipc://@voxmesh-bench-%d.pub.pub", getpid());
            } else {
                snprintf(raw, sizeof raw, "tcp://127.0.0.1:47471");
                snprintf(front, sizeof front, "tcp://127.0.0.1:47472");
                snprintf(back, sizeof back, "tcp://127.0.0.1:47473");
                snprintf(direct, sizeof direct, "tcp://127.0.0.1:47474");
            }
            s_result_t r = s_raw(raw, sizes[s]);
            s_result_t b = s_bus(front, back, NULL, sizes[s]);
            s_result_t d = s_bus(front, back, direct, sizes[s]);
            printf("%-5s %6zu | %8.1f %8.1f | %8.1f %8.1f | %8.1f %8.1f | %.2fx, %.2fx\n", t == 0 ? "ipc" : "tcp",
                   sizes[s], r.p50, r.p99, b.p50, b.p99, d.p50, d.p99, b.p50 / r.p50, d.p50 / r.p50);
            fflush(stdout);
        }
    }
    return 0;
}
