/* http_client — see http_client.h.
 *
 * libcurl's multi interface on the service loop: curl tells us which
 * sockets to watch (CURLMOPT_SOCKETFUNCTION -> service_watch_fd) and when
 * to call it back (CURLMOPT_TIMERFUNCTION -> a one-shot service timer);
 * we hand readiness back with curl_multi_socket_action and collect finished
 * transfers with curl_multi_info_read.
 *
 * Where the work happens. zloop runs timers first and then the fd
 * handlers of the same poll; it rebuilds its poll set only after an fd
 * handler that changed it. So a watch removed (and its memory freed by
 * service_unwatch_fd) from a *timer* callback may still be dispatched in
 * that same pass, and service_cancel() from a timer callback frees a timer
 * that may still be due in that pass. Hence two rules here:
 *   - all curl work (socket actions, removing handles, which closes and
 *     unwatches sockets) runs from fd handlers: our own timers only set a
 *     flag and write to an eventfd (the "kick"), whose handler does the work;
 *     http_request_cancel() likewise marks the request and kicks;
 *   - a timer that is no longer wanted is first only disarmed (it does
 *     nothing if it fires); disarmed timers are cancelled for real at the end
 *     of our fd handlers (where service_cancel is safe: that pass's timers
 *     have run) and by http_client_destroy().
 * Cancellation is still immediate where it matters: from the moment
 * http_request_cancel() returns no callback of that request runs, and curl
 * aborts a transfer whose callbacks refuse data.
 *
 * Deadlines: the total one is CURLOPT_TIMEOUT_MS; the first-byte one is a
 * timer per request, disarmed when the response headers are complete
 * (CURLOPT_LOW_SPEED would only catch a stall after the first byte). */
#include "http_client.h"
#include "log.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#define HTTP_DEFAULT_FIRST_BYTE_MS 10000
#define HTTP_DEFAULT_TOTAL_MS 60000

typedef enum { TICK_CURL, TICK_FIRST_BYTE } s_tick_kind_t;

/* One service timer of ours. */
typedef struct s_tick {
    struct s_tick *prev, *next;
    http_client_t *client;
    s_tick_kind_t kind;
    http_request_t *request;   /* TICK_FIRST_BYTE; NULL once disarmed */
    int id;
    int64_t due_us;            /* monotonic */
} s_tick_t;

/* A socket curl asked us to watch. */
typedef struct s_sock {
    struct s_sock *prev, *next;
    int fd;
    short events;
} s_sock_t;

struct http_request {
    http_request_t *prev, *next;
    http_client_t *client;
    CURL *easy;
    struct curl_slist *headers;
    curl_mime *mime;
    char *method;
    char *url_log;             /* without userinfo, query and fragment */
    char *label;
    int first_byte_ms, total_ms;
    int (*on_status)(http_request_t *r, long status, const char *content_type, void *user);
    int (*on_data)(http_request_t *r, const uint8_t *data, size_t len, void *user);
    void (*on_done)(http_request_t *r, long status, const char *error, void *user);
    void *user;
    long status;
    bool headers_done;
    bool cancelled;            /* by the caller: no more callbacks */
    bool aborted;              /* a callback returned -1 */
    bool first_byte_expired;
    bool attached;             /* in the multi handle */
    bool finished;             /* on_done ran (or cancelled): free at the next sweep */
    http_error_t error_kind;
    s_tick_t *first_byte_tick;
    char errbuf[CURL_ERROR_SIZE];
    char error[CURL_ERROR_SIZE + 96];
};

struct http_client {
    service_t *svc;
    CURLM *multi;
    int kick_fd;
    bool kick_pending;
    bool curl_timeout_due;     /* run CURL_SOCKET_TIMEOUT at the next kick */
    int64_t curl_due_us;       /* when curl wants its timeout; -1: never */
    s_tick_t *ticks;
    s_sock_t *socks;
    http_request_t *requests;
    size_t active;             /* started, not finished or cancelled */
    int depth;                 /* > 0: dispatching; frees wait for the sweep */
};

/* ---- timers ------------------------------------------------------------------------- */

static int s_on_tick(service_t *svc, void *arg);

static s_tick_t *s_tick_arm(http_client_t *c, s_tick_kind_t kind, http_request_t *r, int delay_ms)
{
    s_tick_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->client = c;
    t->kind = kind;
    t->request = r;
    t->due_us = time_mono_us() + (int64_t)delay_ms * 1000;
    t->id = service_after(c->svc, delay_ms, s_on_tick, t);
    if (t->id < 0) {
        free(t);
        return NULL;
    }
    t->next = c->ticks;
    if (c->ticks) c->ticks->prev = t;
    c->ticks = t;
    return t;
}

static void s_tick_unlink(http_client_t *c, s_tick_t *t)
{
    if (t->prev) t->prev->next = t->next;
    else c->ticks = t->next;
    if (t->next) t->next->prev = t->prev;
}

static void s_kick(http_client_t *c)
{
    if (c->kick_pending) return;
    uint64_t one = 1;
    if (write(c->kick_fd, &one, sizeof one) == (ssize_t)sizeof one) c->kick_pending = true;
}

/* Is a curl timer already armed to fire no later than curl wants? */
static bool s_curl_tick_covers(http_client_t *c)
{
    for (s_tick_t *t = c->ticks; t; t = t->next)
        if (t->kind == TICK_CURL && t->due_us <= c->curl_due_us + 1000) return true;
    return false;
}

/* A timer callback: only flags and a kick (see the top of the file). */
static int s_on_tick(service_t *svc, void *arg)
{
    (void)svc;
    s_tick_t *t = arg;
    http_client_t *c = t->client;
    s_tick_unlink(c, t);
    if (t->kind == TICK_FIRST_BYTE) {
        if (t->request) {
            t->request->first_byte_tick = NULL;
            t->request->first_byte_expired = true;
            s_kick(c);
        }
    } else if (c->curl_due_us >= 0) {
        int64_t left = c->curl_due_us - time_mono_us();
        if (left <= 1000) {
            c->curl_timeout_due = true;
            s_kick(c);
        } else if (!s_curl_tick_covers(c)) {
            s_tick_arm(c, TICK_CURL, NULL, (int)((left + 999) / 1000));
        }
    }
    free(t);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: curl wants CURL_SOCKET_TIMEOUT in timeout_ms. */
static int s_on_curl_timer(CURLM *multi, long timeout_ms, void *arg)
{
    (void)multi;
    http_client_t *c = arg;
    if (timeout_ms < 0) {
        c->curl_due_us = -1;   /* armed ticks find nothing to do */
        return 0;
    }
    c->curl_due_us = time_mono_us() + timeout_ms * 1000;
    if (timeout_ms == 0) {
        c->curl_timeout_due = true;
        s_kick(c);
    } else if (!s_curl_tick_covers(c) && !s_tick_arm(c, TICK_CURL, NULL, (int)timeout_ms)) {
        return -1;
    }
    return 0;
}

/* ---- requests ----------------------------------------------------------------------- */

static void s_detach(http_request_t *r)
{
    http_client_t *c = r->client;
    if (r->first_byte_tick) {
        r->first_byte_tick->request = NULL;   /* disarmed */
        r->first_byte_tick = NULL;
    }
    if (r->attached) {
        curl_multi_remove_handle(c->multi, r->easy);   /* closes an unfinished connection */
        r->attached = false;
        c->active--;
    }
}

static void s_request_free(http_request_t *r)
{
    http_client_t *c = r->client;
    s_detach(r);
    if (r->prev) r->prev->next = r->next;
    else c->requests = r->next;
    if (r->next) r->next->prev = r->prev;
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    curl_mime_free(r->mime);
    free(r->method);
    free(r->url_log);
    free(r->label);
    free(r);
}

/* Frees what is finished, unless a dispatch is still on the stack. */
static void s_sweep(http_client_t *c)
{
    if (c->depth > 0) return;
    http_request_t *r = c->requests;
    while (r) {
        http_request_t *next = r->next;
        if (r->finished) s_request_free(r);
        r = next;
    }
}

static void s_finish(http_request_t *r, http_error_t kind, const char *error)
{
    http_client_t *c = r->client;
    s_detach(r);
    r->finished = true;
    r->error_kind = kind;
    log_debug("%s %s -> %ld%s%s (%s)", r->method, r->url_log, r->status, error ? ": " : "",
              error ? error : "", r->label ? r->label : "-");
    if (r->cancelled || !r->on_done) return;
    c->depth++;
    r->on_done(r, r->status, error, r->user);
    c->depth--;
    r->cancelled = true;   /* nothing more, even if asked */
}

static void s_finish_curl(http_request_t *r, CURLcode res)
{
    const char *detail = r->errbuf[0] ? r->errbuf : curl_easy_strerror(res);
    http_error_t kind = HTTP_ERR_OTHER;
    if (res == CURLE_OK) {
        s_finish(r, HTTP_ERR_NONE, NULL);
        return;
    }
    if (r->aborted) {
        kind = HTTP_ERR_ABORTED;
        snprintf(r->error, sizeof r->error, "aborted by the caller");
    } else if (res == CURLE_OPERATION_TIMEDOUT && !r->headers_done) {
        kind = HTTP_ERR_FIRST_BYTE;
        snprintf(r->error, sizeof r->error, "timeout: no response within %d ms", r->first_byte_ms);
    } else if (res == CURLE_OPERATION_TIMEDOUT) {
        kind = HTTP_ERR_TIMEOUT;
        snprintf(r->error, sizeof r->error, "timeout: transfer not complete within %d ms", r->total_ms);
    } else if (res == CURLE_COULDNT_CONNECT || res == CURLE_COULDNT_RESOLVE_HOST
               || res == CURLE_COULDNT_RESOLVE_PROXY
               || (!r->headers_done && (res == CURLE_GOT_NOTHING || res == CURLE_SEND_ERROR
                                        || res == CURLE_RECV_ERROR))) {
        kind = HTTP_ERR_CONNECT;
        snprintf(r->error, sizeof r->error, "no response: %s", detail);
    } else if (r->headers_done && (res == CURLE_PARTIAL_FILE || res == CURLE_RECV_ERROR)) {
        kind = HTTP_ERR_CLOSED;
        snprintf(r->error, sizeof r->error, "connection closed mid-body (%s)", detail);
    } else {
        snprintf(r->error, sizeof r->error, "%s", detail);
    }
    s_finish(r, kind, r->error);
}

static void s_read_done(http_client_t *c)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(c->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURLcode res = msg->data.result;
        http_request_t *r = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (!r || r->finished) continue;
        if (r->cancelled) {   /* done before the kick handler removed it */
            s_detach(r);
            r->finished = true;
            continue;
        }
        s_finish_curl(r, res);   /* removes the handle: msg is not used after this */
    }
}

/* Cancels the timers nobody needs any more: disarmed first-byte ones, and
 * all curl timers but the earliest. Only from fd handlers (see the top). */
static void s_prune(http_client_t *c)
{
    s_tick_t *earliest = NULL;
    for (s_tick_t *t = c->ticks; t; t = t->next)
        if (t->kind == TICK_CURL && c->curl_due_us >= 0 && (!earliest || t->due_us < earliest->due_us))
            earliest = t;
    s_tick_t *t = c->ticks;
    while (t) {
        s_tick_t *next = t->next;
        if ((t->kind == TICK_FIRST_BYTE && !t->request) || (t->kind == TICK_CURL && t != earliest)) {
            s_tick_unlink(c, t);
            service_cancel(c->svc, t->id);
            free(t);
        }
        t = next;
    }
}

static void s_socket_action(http_client_t *c, curl_socket_t fd, int flags)
{
    int running = 0;
    curl_multi_socket_action(c->multi, fd, flags, &running);
}

/* The kick's handler, in fd context: cancellations, first-byte deadlines,
 * curl's timeout, finished transfers. */
static int s_on_kick(service_t *svc, int fd, short revents, void *arg)
{
    (void)svc; (void)revents;
    http_client_t *c = arg;
    uint64_t n;
    if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN) log_debug("http: kick read: %m");
    c->kick_pending = false;
    c->depth++;
    for (http_request_t *r = c->requests; r; r = r->next) {
        if (r->finished) continue;
        if (r->cancelled) {
            s_detach(r);
            r->finished = true;
        } else if (r->first_byte_expired) {
            snprintf(r->error, sizeof r->error, "timeout: no response within %d ms", r->first_byte_ms);
            s_finish(r, HTTP_ERR_FIRST_BYTE, r->error);
        }
    }
    if (c->curl_timeout_due) {
        c->curl_timeout_due = false;
        s_socket_action(c, CURL_SOCKET_TIMEOUT, 0);
    }
    s_read_done(c);
    c->depth--;
    s_sweep(c);
    s_prune(c);
    return 0;
}

static int s_on_fd(service_t *svc, int fd, short revents, void *arg)
{
    (void)svc;
    http_client_t *c = arg;
    int flags = 0;
    if (revents & ZMQ_POLLIN) flags |= CURL_CSELECT_IN;
    if (revents & ZMQ_POLLOUT) flags |= CURL_CSELECT_OUT;
    if (revents & ZMQ_POLLERR) flags |= CURL_CSELECT_ERR;
    c->depth++;
    s_socket_action(c, fd, flags);
    s_read_done(c);
    c->depth--;
    s_sweep(c);
    s_prune(c);
    return 0;
}

static void s_sock_unlink(http_client_t *c, s_sock_t *s)
{
    if (s->prev) s->prev->next = s->next;
    else c->socks = s->next;
    if (s->next) s->next->prev = s->prev;
}

/* CURLMOPT_SOCKETFUNCTION. Called from socket actions and handle removals,
 * which only run in fd context or outside the loop (see the top). */
static int s_on_socket(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
    (void)easy;
    http_client_t *c = arg;
    s_sock_t *s = sockp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            service_unwatch_fd(c->svc, fd);
            s_sock_unlink(c, s);
            free(s);
        }
        return 0;
    }
    short events = (what & CURL_POLL_IN ? ZMQ_POLLIN : 0) | (what & CURL_POLL_OUT ? ZMQ_POLLOUT : 0);
    if (!s) {
        if (!(s = calloc(1, sizeof *s))) return -1;
        s->fd = fd;
        s->events = -1;
        s->next = c->socks;
        if (c->socks) c->socks->prev = s;
        c->socks = s;
        curl_multi_assign(c->multi, fd, s);
    }
    if (s->events != events) {
        if (service_watch_fd(c->svc, fd, events, s_on_fd, c) < 0) return -1;
        s->events = events;
    }
    return 0;
}

static size_t s_on_header(char *buf, size_t size, size_t n, void *arg)
{
    http_request_t *r = arg;
    size_t len = size * n;
    if (r->cancelled) return 0;
    if (r->headers_done) return len;   /* trailers */
    /* A blank line ends a header block; 1xx blocks are followed by more. */
    if (len > 2 || (len == 2 && buf[0] != '\r') || (len == 1 && buf[0] != '\n')) return len;
    long code = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 100 && code < 200) return len;
    r->status = code;
    r->headers_done = true;
    if (r->first_byte_tick) {
        r->first_byte_tick->request = NULL;
        r->first_byte_tick = NULL;
    }
    if (r->on_status) {
        char *ct = NULL;
        curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ct);
        int rc = r->on_status(r, code, ct, r->user);
        if (r->cancelled) return 0;
        if (rc < 0) {
            r->aborted = true;
            return 0;
        }
    }
    return len;
}

static size_t s_on_write(char *data, size_t size, size_t n, void *arg)
{
    http_request_t *r = arg;
    size_t len = size * n;
    if (r->cancelled) return 0;
    if (r->on_data && len) {
        int rc = r->on_data(r, (const uint8_t *)data, len, r->user);
        if (r->cancelled) return 0;
        if (rc < 0) {
            r->aborted = true;
            return 0;
        }
    }
    return len;
}

/* "https://user:pw@host/p?q" -> "https://host/p". */
static char *s_url_for_log(const char *url)
{
    const char *scheme_end = strstr(url, "://");
    const char *host = scheme_end ? scheme_end + 3 : url;
    const char *path = host + strcspn(host, "/?#");
    const char *at = memchr(host, '@', (size_t)(path - host));
    size_t plen = strcspn(path, "?#");
    char *out = malloc(strlen(url) + 1);
    if (!out) return NULL;
    size_t n = (size_t)(host - url);
    memcpy(out, url, n);
    const char *h = at ? at + 1 : host;
    memcpy(out + n, h, (size_t)(path - h));
    n += (size_t)(path - h);
    memcpy(out + n, path, plen);
    out[n + plen] = 0;
    return out;
}

static int s_setup(http_request_t *r, const http_request_config_t *cfg)
{
    CURL *e = r->easy;
    bool post = cfg->body || cfg->parts;
    const char *method = cfg->method ? cfg->method : post ? "POST" : "GET";
    if (!(r->method = strdup(method)) || !(r->url_log = s_url_for_log(cfg->url))) return -ENOMEM;
    if (cfg->label && !(r->label = strdup(cfg->label))) return -ENOMEM;

    curl_easy_setopt(e, CURLOPT_URL, cfg->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "127.0.0.1,localhost,::1");
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)r->total_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(r->first_byte_ms < r->total_ms ? r->first_byte_ms : r->total_ms));
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s_on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);

    bool has_expect = false;
    for (const char *const *h = cfg->headers; h && *h; h++) {
        if (!strncasecmp(*h, "Expect:", 7)) has_expect = true;
        struct curl_slist *l = curl_slist_append(r->headers, *h);
        if (!l) return -ENOMEM;
        r->headers = l;
    }
    /* No "Expect: 100-continue" round trip before a large body. */
    if (!has_expect) {
        struct curl_slist *l = curl_slist_append(r->headers, "Expect:");
        if (!l) return -ENOMEM;
        r->headers = l;
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);

    if (cfg->parts) {
        if (!(r->mime = curl_mime_init(e))) return -ENOMEM;
        for (size_t i = 0; i < cfg->nparts; i++) {
            const http_part_t *p = &cfg->parts[i];
            curl_mimepart *part = curl_mime_addpart(r->mime);
            if (!part || curl_mime_name(part, p->name) != CURLE_OK
                || curl_mime_data(part, p->data ? p->data : "", p->len) != CURLE_OK
                || (p->filename && curl_mime_filename(part, p->filename) != CURLE_OK)
                || (p->content_type && curl_mime_type(part, p->content_type) != CURLE_OK))
                return -ENOMEM;
        }
        curl_easy_setopt(e, CURLOPT_MIMEPOST, r->mime);
    } else if (cfg->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)cfg->body_len);
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, cfg->body_len ? (const char *)cfg->body : "");
    } else if (!strcmp(method, "GET")) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    if (strcmp(method, post ? "POST" : "GET") != 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    return 0;
}

static const char *s_config_error(const http_client_t *c, const http_request_config_t *cfg)
{
    if (!cfg || !cfg->url) return "no URL";
    if (strncmp(cfg->url, "http://", 7) && strncmp(cfg->url, "https://", 8)) return "not an http(s) URL";
    if (cfg->body && cfg->parts) return "both a body and a multipart form";
    if (cfg->parts && !cfg->nparts) return "an empty multipart form";
    for (size_t i = 0; cfg->parts && i < cfg->nparts; i++)
        if (!cfg->parts[i].name) return "a multipart part without a name";
    if (cfg->first_byte_ms < 0 || cfg->total_ms < 0) return "a negative deadline";
    if (c->active >= HTTP_CLIENT_MAX_REQUESTS) return "too many requests in flight";
    return NULL;
}

http_request_t *http_request_start(http_client_t *c, const http_request_config_t *cfg)
{
    const char *why = s_config_error(c, cfg);
    if (why) {
        log_error("http: request refused (%s): %s", cfg && cfg->label ? cfg->label : "-", why);
        return NULL;
    }
    http_request_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->client = c;
    r->first_byte_ms = cfg->first_byte_ms ? cfg->first_byte_ms : HTTP_DEFAULT_FIRST_BYTE_MS;
    r->total_ms = cfg->total_ms ? cfg->total_ms : HTTP_DEFAULT_TOTAL_MS;
    r->on_status = cfg->on_status;
    r->on_data = cfg->on_data;
    r->on_done = cfg->on_done;
    r->user = cfg->user;
    r->next = c->requests;
    if (c->requests) c->requests->prev = r;
    c->requests = r;
    int rc = (r->easy = curl_easy_init()) ? s_setup(r, cfg) : -ENOMEM;
    if (rc == 0 && !(r->first_byte_tick = s_tick_arm(c, TICK_FIRST_BYTE, r, r->first_byte_ms))) rc = -ENOMEM;
    if (rc == 0 && curl_multi_add_handle(c->multi, r->easy) != CURLM_OK) rc = -EIO;
    if (rc < 0) {
        log_error_errno(rc, "http: cannot start %s %s (%s): %m", cfg->method ? cfg->method : "request",
                        r->url_log ? r->url_log : "", cfg->label ? cfg->label : "-");
        s_request_free(r);
        return NULL;
    }
    r->attached = true;
    c->active++;
    log_debug("%s %s (%s)", r->method, r->url_log, r->label ? r->label : "-");
    return r;
}

void http_request_cancel(http_request_t *r)
{
    if (!r || r->cancelled || r->finished) return;
    r->cancelled = true;
    log_debug("%s %s cancelled (%s)", r->method, r->url_log, r->label ? r->label : "-");
    s_kick(r->client);
}

http_error_t http_request_error(const http_request_t *r)
{
    return r ? r->error_kind : HTTP_ERR_OTHER;
}

size_t http_client_active(const http_client_t *c)
{
    size_t n = 0;
    for (const http_request_t *r = c ? c->requests : NULL; r; r = r->next)
        if (!r->cancelled && !r->finished) n++;
    return n;
}

/* ---- client --------------------------------------------------------------------------- */

http_client_t *http_client_new(service_t *svc)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return NULL;
    http_client_t *c = calloc(1, sizeof *c);
    if (!c) {
        curl_global_cleanup();
        return NULL;
    }
    c->svc = svc;
    c->curl_due_us = -1;
    c->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    c->multi = curl_multi_init();
    if (c->kick_fd < 0 || !c->multi || service_watch_fd(svc, c->kick_fd, ZMQ_POLLIN, s_on_kick, c) < 0) {
        log_error("http: cannot set up the client");
        if (c->kick_fd >= 0) close(c->kick_fd);
        c->kick_fd = -1;
        http_client_destroy(&c);
        return NULL;
    }
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, s_on_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, s_on_curl_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    return c;
}

void http_client_destroy(http_client_t **self_p)
{
    if (!self_p || !*self_p) return;
    http_client_t *c = *self_p;
    /* Outside the loop (or in a bus handler): curl may be called directly. */
    while (c->requests) {
        c->requests->cancelled = true;
        s_request_free(c->requests);
    }
    if (c->multi) curl_multi_cleanup(c->multi);   /* closes its connections */
    while (c->socks) {
        s_sock_t *s = c->socks;
        service_unwatch_fd(c->svc, s->fd);
        s_sock_unlink(c, s);
        free(s);
    }
    while (c->ticks) {
        s_tick_t *t = c->ticks;
        s_tick_unlink(c, t);
        service_cancel(c->svc, t->id);
        free(t);
    }
    if (c->kick_fd >= 0) {
        service_unwatch_fd(c->svc, c->kick_fd);
        close(c->kick_fd);
    }
    free(c);
    curl_global_cleanup();
    *self_p = NULL;
}
