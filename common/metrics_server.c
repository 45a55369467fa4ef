/* metrics_server — GET /metrics and GET /health over plain HTTP/1.0 on a
 * thread of its own, for services that have no HTTP server of their own
 * (the edge serves /metrics from its libwebsockets server instead).
 *
 * One connection at a time, with a short read timeout: a scraper is the only
 * client, and a slow one must not hold the thread for long. */
#include "metrics.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct metrics_server_t {
    metrics_t *metrics;
    int listen_fd;
    int wake[2];
    int port;
    pthread_t thread;
};

static void s_send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n <= 0) return;
        buf += n;
        len -= (size_t)n;
    }
}

static void s_reply(int fd, const char *status, const char *type, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                     status, type, strlen(body));
    s_send_all(fd, head, (size_t)n);
    s_send_all(fd, body, strlen(body));
}

static void s_serve(metrics_server_t *self, int fd)
{
    char req[2048];
    size_t len = 0;
    struct pollfd p = { .fd = fd, .events = POLLIN };
    while (len < sizeof req - 1 && !memmem(req, len, "\r\n\r\n", 4)) {
        if (poll(&p, 1, 2000) <= 0) return;
        ssize_t n = recv(fd, req + len, sizeof req - 1 - len, 0);
        if (n <= 0) return;
        len += (size_t)n;
    }
    req[len] = 0;
    if (!strncmp(req, "GET /metrics", 12)) {
        char *text = metrics_render(self->metrics);
        s_reply(fd, "200 OK", "text/plain; version=0.0.4", text ? text : "");
        free(text);
    } else if (!strncmp(req, "GET /health", 11)) {
        s_reply(fd, "200 OK", "application/json", "{\"status\":\"ok\"}\n");
    } else if (!strncmp(req, "GET ", 4)) {
        s_reply(fd, "404 Not Found", "text/plain", "not found: try /metrics or /health\n");
    } else {
        s_reply(fd, "405 Method Not Allowed", "text/plain", "only GET\n");
    }
}

static void *s_run(void *arg)
{
    metrics_server_t *self = arg;
    struct pollfd p[2] = { { .fd = self->listen_fd, .events = POLLIN },
                           { .fd = self->wake[0], .events = POLLIN } };
    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (p[1].revents) break;
        if (p[0].revents & POLLIN) {
            int fd = accept4(self->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd < 0) continue;
            s_serve(self, fd);
            close(fd);
        }
    }
    return NULL;
}

metrics_server_t *metrics_server_new(metrics_t *metrics, const char *addr, int port)
{
    metrics_server_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->metrics = metrics;
    self->wake[0] = self->wake[1] = self->listen_fd = -1;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, addr ? addr : "127.0.0.1", &sa.sin_addr) != 1) {
        log_error("metrics: bad listen address '%s'", addr);
        goto fail;
    }
    self->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(self->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (self->listen_fd < 0 || bind(self->listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0
        || listen(self->listen_fd, 16) < 0) {
        log_error("metrics: cannot listen on %s:%d: %m", addr ? addr : "127.0.0.1", port);
        goto fail;
    }
    socklen_t sl = sizeof sa;
    getsockname(self->listen_fd, (struct sockaddr *)&sa, &sl);
    self->port = ntohs(sa.sin_port);
    if (pipe2(self->wake, O_CLOEXEC) < 0) goto fail;
    if (pthread_create(&self->thread, NULL, s_run, self) != 0) goto fail;
    return self;
fail:
    if (self->listen_fd >= 0) close(self->listen_fd);
    if (self->wake[0] >= 0) { close(self->wake[0]); close(self->wake[1]); }
    free(self);
    return NULL;
}

int metrics_server_port(metrics_server_t *self)
{
    return self ? self->port : -1;
}

void metrics_server_destroy(metrics_server_t **self_p)
{
    if (!self_p || !*self_p) return;
    metrics_server_t *self = *self_p;
    if (write(self->wake[1], "x", 1) < 0) { /* the thread still exits at close */ }
    pthread_join(self->thread, NULL);
    close(self->listen_fd);
    close(self->wake[0]);
    close(self->wake[1]);
    free(self);
    *self_p = NULL;
}
