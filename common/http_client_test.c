/* http_client_test — the HTTP client on a real service loop (service_run
 * in-process, stopped by a timer) against a small HTTP server of our own on
 * 127.0.0.1 (one thread per connection, behaviour chosen by the path):
 * a body streamed in pieces, 429 and 500, a slow first byte, an endless
 * body, a disconnect mid-body, a cancel mid-stream, two requests where one
 * stalls, POST bodies and multipart forms (copied), a refused connection,
 * and no header value in the log. */
#include "http_client.h"
#include "log.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the server ------------------------------------------------------------------------ */

static int s_listen_fd = -1;
static int s_port;
static atomic_bool s_stop;
static atomic_llong s_cancel_closed_us;   /* when the server saw the cancelled stream's connection close */

static void s_sleep_ms(int ms)
{
    for (int i = 0; i < ms / 10 && !atomic_load(&s_stop); i++) usleep(10000);
}

static bool s_send(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0) return false;
        data += n;
        len -= (size_t)n;
    }
    return true;
}

static bool s_sendf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool s_sendf(int fd, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return n > 0 && s_send(fd, buf, (size_t)n);
}

static bool s_chunk(int fd, const char *data)
{
    return s_sendf(fd, "%zx\r\n%s\r\n", strlen(data), data);
}

/* True when the peer closed (readable with EOF, or an error). */
static bool s_peer_closed(int fd)
{
    struct pollfd p = { fd, POLLIN, 0 };
    if (poll(&p, 1, 0) <= 0) return false;
    char c;
    return recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

static const char *s_stream_head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                   "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";

static void *s_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char req[65536];
    size_t n = 0;
    char *end = NULL;
    while (n < sizeof req - 1 && !end) {
        ssize_t r = recv(fd, req + n, sizeof req - 1 - n, 0);
        if (r <= 0) goto out;
        n += (size_t)r;
        req[n] = 0;
        end = strstr(req, "\r\n\r\n");
    }
    if (!end) goto out;
    size_t head = (size_t)(end + 4 - req);
    size_t clen = 0;
    const char *cl = strcasestr(req, "\r\nContent-Length:");
    if (cl && cl < end) clen = strtoul(cl + 17, NULL, 10);
    while (n < head + clen && n < sizeof req - 1) {
        ssize_t r = recv(fd, req + n, sizeof req - 1 - n, 0);
        if (r <= 0) break;
        n += (size_t)r;
    }
    req[n] = 0;
    char method[16] = "", path[256] = "";
    sscanf(req, "%15s %255s", method, path);

    if (!strcmp(path, "/stream")) {
        s_send(fd, s_stream_head, strlen(s_stream_head));
        for (int i = 0; i < 5; i++) {
            char piece[64];
            snprintf(piece, sizeof piece, "data: piece %d\n\n", i);
            if (!s_chunk(fd, piece)) break;
            s_sleep_ms(40);
        }
        s_send(fd, "0\r\n\r\n", 5);
    } else if (!strcmp(path, "/429") || !strcmp(path, "/500")) {
        const char *body = "{\"error\":{\"message\":\"no\"}}";
        s_sendf(fd, "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                path[1] == '4' ? "429 Too Many Requests" : "500 Internal Server Error", strlen(body), body);
    } else if (!strcmp(path, "/slow-first-byte")) {
        s_sleep_ms(3000);
        s_sendf(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    } else if (!strcmp(path, "/endless") || !strcmp(path, "/cancel")) {
        bool cancel = !strcmp(path, "/cancel");
        s_send(fd, s_stream_head, strlen(s_stream_head));
        for (int i = 0; i < 500 && !atomic_load(&s_stop); i++) {
            if (!s_chunk(fd, "data: more\n\n") || s_peer_closed(fd)) {
                if (cancel) atomic_store(&s_cancel_closed_us, time_mono_us());
                break;
            }
            s_sleep_ms(20);
        }
    } else if (!strcmp(path, "/disconnect")) {
        s_sendf(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n");
        char part[100];
        memset(part, 'd', sizeof part);
        s_send(fd, part, sizeof part);
        s_sleep_ms(50);
    } else if (!strcmp(path, "/stall")) {
        s_send(fd, s_stream_head, strlen(s_stream_head));
        s_sleep_ms(3000);
    } else if (!strcmp(path, "/fast")) {
        s_sendf(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\nConnection: close\r\n\r\nfast");
    } else if (!strcmp(path, "/echo")) {
        /* The whole request back: method, headers and body. */
        s_sendf(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", n);
        s_send(fd, req, n);
    } else {
        s_sendf(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
out:
    close(fd);
    return NULL;
}

static void *s_accept_loop(void *arg)
{
    (void)arg;
    while (!atomic_load(&s_stop)) {
        int fd = accept(s_listen_fd, NULL, NULL);
        if (fd < 0) {
            if (atomic_load(&s_stop)) break;
            continue;
        }
        pthread_t t;
        if (pthread_create(&t, NULL, s_conn, (void *)(intptr_t)fd) == 0) pthread_detach(t);
        else close(fd);
    }
    return NULL;
}

static int s_server_start(pthread_t *t)
{
    s_listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof a;
    if (s_listen_fd < 0 || bind(s_listen_fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(s_listen_fd, 64) < 0
        || getsockname(s_listen_fd, (struct sockaddr *)&a, &alen) < 0)
        return -1;
    s_port = ntohs(a.sin_port);
    return pthread_create(t, NULL, s_accept_loop, NULL);
}

/* ---- the client side ---------------------------------------------------------------------- */

typedef struct {
    const char *path;
    int first_byte_ms, total_ms;
    int cancel_after;           /* cancel from on_data after this many pieces (0: never) */
    const char *body;           /* POST body (freed right after the start) */
    bool multipart;
    const char *const *headers;
    /* results */
    http_request_t *req;
    long status;
    char ctype[64];
    bool status_before_data;
    char data[8192];
    size_t len;
    int pieces;
    bool done, cancelled;
    int after_cancel;           /* callbacks after cancel: must stay 0 */
    char error[256];
    http_error_t kind;
    int64_t start_us, done_us, cancel_us;
} s_req_t;

typedef struct {
    s_req_t *reqs;
    size_t n;
    service_t *svc;
    bool stopping;
} s_run_t;

static s_run_t *s_current;

static int s_stop_loop(service_t *svc, void *arg)
{
    (void)svc; (void)arg;
    return -1;
}

static void s_check_all_done(void)
{
    s_run_t *run = s_current;
    for (size_t i = 0; i < run->n; i++)
        if (!run->reqs[i].done && !run->reqs[i].cancelled) return;
    if (!run->stopping) {
        run->stopping = true;
        service_after(run->svc, 300, s_stop_loop, NULL);   /* a while longer: nothing more may arrive */
    }
}

static int s_on_status(http_request_t *r, long status, const char *ct, void *user)
{
    (void)r;
    s_req_t *q = user;
    if (q->cancelled) q->after_cancel++;
    q->status = status;
    q->status_before_data = q->pieces == 0;
    snprintf(q->ctype, sizeof q->ctype, "%s", ct ? ct : "");
    return 0;
}

static int s_on_data(http_request_t *r, const uint8_t *data, size_t len, void *user)
{
    s_req_t *q = user;
    if (q->cancelled) q->after_cancel++;
    q->pieces++;
    size_t room = sizeof q->data - 1 - q->len;
    size_t k = len < room ? len : room;
    memcpy(q->data + q->len, data, k);
    q->len += k;
    q->data[q->len] = 0;
    if (q->cancel_after && q->pieces == q->cancel_after) {
        http_request_cancel(r);   /* from its own callback */
        q->cancelled = true;
        q->cancel_us = time_mono_us();
        s_check_all_done();
    }
    return 0;
}

static void s_on_done(http_request_t *r, long status, const char *error, void *user)
{
    s_req_t *q = user;
    if (q->cancelled) q->after_cancel++;
    q->done = true;
    q->done_us = time_mono_us();
    q->status = status;
    q->kind = http_request_error(r);
    snprintf(q->error, sizeof q->error, "%s", error ? error : "");
    s_check_all_done();
}

static void s_run(s_req_t *reqs, size_t n)
{
    const char *a[] = { "x", "--bus-pub=ipc://@http-client-test.pub", "--bus-sub=ipc://@http-client-test.sub",
                        "--log-level=debug", "--health-interval=0" };
    service_t *svc = service_new("httptest", "http client test", NULL, 5, (char **)a);
    http_client_t *c = http_client_new(svc);
    s_run_t run = { reqs, n, svc, false };
    s_current = &run;
    for (size_t i = 0; i < n; i++) {
        s_req_t *q = &reqs[i];
        char url[128];
        if (q->path[0] == '/') snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s_port, q->path);
        else snprintf(url, sizeof url, "%s", q->path);
        char *body = q->body ? strdup(q->body) : NULL;
        http_part_t parts[2] = {
            { "model", NULL, NULL, "whisper-1", 9 },
            { "file", "a.wav", "audio/wav", body ? body : "", body ? strlen(body) : 0 },
        };
        http_request_config_t cfg = {
            .url = url, .headers = q->headers, .first_byte_ms = q->first_byte_ms, .total_ms = q->total_ms,
            .label = "test-session", .on_status = s_on_status, .on_data = s_on_data, .on_done = s_on_done, .user = q,
        };
        if (q->multipart) {
            cfg.parts = parts;
            cfg.nparts = 2;
        } else if (body) {
            cfg.body = body;
            cfg.body_len = strlen(body);
        }
        q->start_us = time_mono_us();
        q->req = http_request_start(c, &cfg);
        if (body) memset(body, '#', strlen(body));   /* the client must have copied it */
        free(body);
    }
    service_after(svc, 10000, s_stop_loop, NULL);   /* a safety net, never reached when all is well */
    if (service_start(svc) == 0) service_run(svc);
    CHECK(http_client_active(c) == 0, "nothing left in flight");
    http_client_destroy(&c);
    CHECK(c == NULL, "client destroyed");
    service_destroy(&svc);
}

static void s_streamed(void)
{
    s_req_t q = { .path = "/stream" };
    s_run(&q, 1);
    CHECK(q.done && q.status == 200 && !q.error[0] && q.kind == HTTP_ERR_NONE, "200: done, no error (%s)", q.error);
    CHECK(!strcmp(q.ctype, "text/event-stream") && q.status_before_data, "on_status first, with the content type '%s'", q.ctype);
    CHECK(q.pieces >= 3, "the body arrived in pieces as it was sent (%d pieces)", q.pieces);
    CHECK(strstr(q.data, "data: piece 0\n\n") && strstr(q.data, "data: piece 4\n\n"), "the whole body, in order");
}

static void s_errors(void)
{
    s_req_t q[3] = { { .path = "/429" }, { .path = "/500" }, { .path = "http://127.0.0.1:1/refused" } };
    s_run(q, 3);
    CHECK(q[0].done && q[0].status == 429 && !q[0].error[0] && strstr(q[0].data, "no"), "429 reported with its body");
    CHECK(q[1].done && q[1].status == 500 && !q[1].error[0] && !strcmp(q[1].ctype, "application/json"), "500 reported");
    CHECK(q[2].done && q[2].status == 0 && q[2].error[0] && q[2].kind == HTTP_ERR_CONNECT,
          "a refused connection is a connect error: %s", q[2].error);
}

static void s_deadlines(void)
{
    s_req_t q[3] = {
        { .path = "/slow-first-byte", .first_byte_ms = 300 },
        { .path = "/endless", .total_ms = 600 },
        { .path = "/disconnect" },
    };
    s_run(q, 3);
    CHECK(q[0].done && q[0].kind == HTTP_ERR_FIRST_BYTE && strstr(q[0].error, "no response within 300 ms"),
          "slow first byte: '%s' after %lld ms", q[0].error, (long long)(q[0].done_us - q[0].start_us) / 1000);
    CHECK(q[1].done && q[1].kind == HTTP_ERR_TIMEOUT && q[1].status == 200 && q[1].pieces > 3,
          "endless body cut by the total deadline: '%s' after %d pieces, %lld ms", q[1].error, q[1].pieces,
          (long long)(q[1].done_us - q[1].start_us) / 1000);
    CHECK(q[2].done && q[2].kind == HTTP_ERR_CLOSED && strstr(q[2].error, "mid-body") && q[2].len == 100,
          "disconnect mid-body: '%s' after %zu bytes", q[2].error, q[2].len);
}

static void s_cancel_and_parallel(void)
{
    atomic_store(&s_cancel_closed_us, 0);
    s_req_t q[3] = {
        { .path = "/cancel", .cancel_after = 3 },
        { .path = "/stall", .total_ms = 1500 },
        { .path = "/fast" },
    };
    s_run(q, 3);
    CHECK(q[0].cancelled && q[0].pieces == 3 && q[0].after_cancel == 0 && !q[0].done,
          "cancel mid-stream from on_data: no callback after it (%d pieces)", q[0].pieces);
    for (int i = 0; i < 100 && !atomic_load(&s_cancel_closed_us); i++) usleep(10000);
    long long closed = atomic_load(&s_cancel_closed_us);
    CHECK(closed > 0, "the server saw the cancelled connection close (%lld ms after the cancel)",
          closed ? (closed - q[0].cancel_us) / 1000 : -1);
    CHECK(q[2].done && q[2].status == 200 && !strcmp(q[2].data, "fast") && q[1].done && q[2].done_us < q[1].done_us,
          "a stalled request does not hold up another: fast done in %lld ms, the stalled one after %lld ms (%s)",
          (long long)(q[2].done_us - q[2].start_us) / 1000, (long long)(q[1].done_us - q[1].start_us) / 1000, q[1].error);
    CHECK(q[1].kind == HTTP_ERR_TIMEOUT, "the stalled one hit its total deadline");
}

static void s_bodies(void)
{
    const char *const headers[] = { "Authorization: Bearer sekrit-123", "X-Test: yes", NULL };
    s_req_t q[2] = {
        { .path = "/echo", .body = "{\"model\":\"m\",\"stream\":true}", .headers = headers },
        { .path = "/echo", .body = "RIFF-audio-bytes", .multipart = true },
    };
    s_run(q, 2);
    CHECK(q[0].status == 200 && !strncmp(q[0].data, "POST /echo ", 11), "POST by default with a body");
    CHECK(strstr(q[0].data, "\r\n\r\n{\"model\":\"m\",\"stream\":true}"), "the body was copied at the start");
    CHECK(strstr(q[0].data, "X-Test: yes\r\n") && strstr(q[0].data, "Authorization: Bearer sekrit-123\r\n"),
          "the headers were sent");
    CHECK(!strstr(q[0].data, "Expect:"), "no Expect: 100-continue");
    CHECK(q[1].status == 200 && strstr(q[1].data, "multipart/form-data; boundary=")
          && strstr(q[1].data, "name=\"model\"\r\n\r\nwhisper-1")
          && strstr(q[1].data, "name=\"file\"; filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFF-audio-bytes"),
          "a multipart form with a field and a file, copied");
}

static void s_refused_configs(void)
{
    const char *a[] = { "x", "--log-level=error" };
    service_t *svc = service_new("httptest", "http client test", NULL, 2, (char **)a);
    http_client_t *c = http_client_new(svc);
    http_request_config_t cfg = { .url = "ftp://127.0.0.1/x" };
    CHECK(http_request_start(c, &cfg) == NULL, "a non-HTTP URL is refused");
    cfg.url = NULL;
    CHECK(http_request_start(c, &cfg) == NULL, "no URL is refused");
    http_part_t part = { "f", NULL, NULL, "x", 1 };
    cfg = (http_request_config_t){ .url = "http://127.0.0.1:1/", .body = "x", .body_len = 1, .parts = &part, .nparts = 1 };
    CHECK(http_request_start(c, &cfg) == NULL, "a body and a form at once are refused");
    /* Started and destroyed without ever running the loop: no callback, no leak. */
    s_req_t q = { .path = "/stream" };
    cfg = (http_request_config_t){ .url = "http://127.0.0.1:1/", .on_done = s_on_done, .user = &q };
    CHECK(http_request_start(c, &cfg) != NULL && http_client_active(c) == 1, "a request in flight");
    http_client_destroy(&c);
    CHECK(!q.done, "destroy cancels it without calling on_done");
    service_destroy(&svc);
}

int main(void)
{
    pthread_t accept_thread;
    if (s_server_start(&accept_thread) != 0) {
        printf("FAIL cannot start the test server: %s\n", strerror(errno));
        return 1;
    }
    /* The log goes to a file, to check that no header value is in it. */
    char logpath[64];
    snprintf(logpath, sizeof logpath, "/tmp/http-client-test-%d.log", getpid());
    fflush(stderr);
    int saved = dup(2);
    int logfd = open(logpath, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    dup2(logfd, 2);

    s_streamed();
    s_errors();
    s_deadlines();
    s_cancel_and_parallel();
    s_bodies();
    s_refused_configs();

    fflush(stderr);
    dup2(saved, 2);
    close(logfd);
    close(saved);
    FILE *f = fopen(logpath, "r");
    char text[1 << 16] = "";
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[n] = 0;
    if (f) fclose(f);
    unlink(logpath);
    CHECK(strstr(text, "POST http://127.0.0.1:") && strstr(text, "test-session"),
          "debug log lines name the method, URL and label (%zu bytes of log)", n);
    CHECK(!strstr(text, "sekrit") && !strstr(text, "X-Test"), "no header value in the log");

    atomic_store(&s_stop, true);
    shutdown(s_listen_fd, SHUT_RDWR);
    pthread_join(accept_thread, NULL);
    close(s_listen_fd);
    return TEST_DONE();
}
