/* http_test — the edge's HTTP/WebSocket front against a fake backend, over
 * real sockets on 127.0.0.1: libcurl for HTTP, a small hand-written
 * WebSocket client (so that framing, fragmentation and close codes are under
 * the test's control). The server runs on its own GMainContext in a thread,
 * as a worker would.
 *
 *   http_test                run the tests
 *   http_test --serve PORT   serve the fake backend for trying the page by
 *                            hand: WHIP answers are fake SDP (the browser
 *                            accepts them, ICE then fails), WebSocket audio
 *                            is echoed. */
#include "http.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "www.h"

extern const www_file_t edge_www_files[];

static int s_failures;

#define CHECK(cond) do { \
    if (!(cond)) { fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); s_failures++; } \
} while (0)
#define CHECK_INT(a, b) do { \
    long long a_ = (long long)(a), b_ = (long long)(b); \
    if (a_ != b_) { fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, a_, b_); s_failures++; } \
} while (0)

/* ---- the server in its thread, with the fake backend ------------------------------ */

typedef struct {
    int id;
    char sid[WHIP_ID_LEN + 1];
} s_session_t;

typedef struct {
    edge_http_config_t cfg;
    GMainContext *ctx;
    GMainLoop *loop;
    GThread *thread;
    edge_http_t *http;
    int port;
    GMutex lock;
    GCond cond;
    bool ready;
    bool fake_sdp;              /* --serve: answers a browser accepts */
    /* backend state: loop thread only */
    GQueue held;                /* replies the test answers by hand */
    GHashTable *sessions;       /* sid -> s_session_t */
    /* counters: read by the test thread */
    gint offers, patches, deletes, cancels, ws_opens, ws_closes, ws_audio, live;
    gint refuse_ws;
    GQueue streams;             /* edge_sse_t: loop thread only */
    gint sse_opens, sse_closes, refuse_sse;
    gint next_id;
} s_server_t;

static size_t s_session_count(void *arg)
{
    s_server_t *s = arg;
    return (size_t)g_atomic_int_get(&s->live);
}

static void s_metrics(void *arg, GString *out)
{
    (void)arg;
    g_string_append(out, "# TYPE fake_backend_up gauge\nfake_backend_up 1\n");
}

static s_session_t *s_session_new(s_server_t *s, const char *sid)
{
    s_session_t *ses = calloc(1, sizeof *ses);
    ses->id = g_atomic_int_add(&s->next_id, 1);
    snprintf(ses->sid, sizeof ses->sid, "%s", sid);
    g_hash_table_insert(s->sessions, ses->sid, ses);
    g_atomic_int_inc(&s->live);
    return ses;
}

/* The browser only needs a plausible answer: its own offer with our ICE
 * credentials, passive DTLS and no candidates or SSRCs. */
static char *s_fake_answer(const char *offer)
{
    GString *a = g_string_new(NULL);
    gchar **lines = g_strsplit(offer, "\n", -1);
    for (gchar **l = lines; *l; l++) {
        g_strchomp(*l);
        const char *x = *l;
        if (!*x || g_str_has_prefix(x, "a=candidate") || g_str_has_prefix(x, "a=ssrc")
            || g_str_has_prefix(x, "a=msid:") || g_str_has_prefix(x, "a=end-of-candidates"))
            continue;
        if (g_str_has_prefix(x, "a=setup:"))
            x = "a=setup:passive";
        else if (g_str_has_prefix(x, "a=ice-ufrag:"))
            x = "a=ice-ufrag:fake";
        else if (g_str_has_prefix(x, "a=ice-pwd:"))
            x = "a=ice-pwd:fakefakefakefakefakefake";
        g_string_append_printf(a, "%s\r\n", x);
    }
    g_strfreev(lines);
    return g_string_free(a, FALSE);
}

typedef struct {
    s_server_t *s;
    edge_whip_reply_t *reply;
    int status;
    char *body;
    bool session;
} s_later_t;

static gboolean s_answer_later(gpointer p)
{
    s_later_t *l = p;
    s_session_t *ses = l->session ? s_session_new(l->s, edge_whip_reply_id(l->reply)) : NULL;
    edge_http_whip_answer(l->reply, l->status, l->body, ses);
    free(l->body);
    free(l);
    return G_SOURCE_REMOVE;
}

static void s_later(s_server_t *s, edge_whip_reply_t *reply, unsigned ms, int status,
                    const char *body, bool session)
{
    s_later_t *l = calloc(1, sizeof *l);
    l->s = s;
    l->reply = reply;
    l->status = status;
    l->body = body ? strdup(body) : NULL;
    l->session = session;
    GSource *src = g_timeout_source_new(ms);
    g_source_set_callback(src, s_answer_later, l, NULL);
    g_source_attach(src, s->ctx);
    g_source_unref(src);
}

#define S_ANSWER "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"

static void s_whip_offer(void *arg, const char *sid, const char *sdp, size_t len, edge_whip_reply_t *reply)
{
    s_server_t *s = arg;
    g_atomic_int_inc(&s->offers);
    if (strlen(sdp) != len || strcmp(sid, edge_whip_reply_id(reply)) != 0) {
        edge_http_whip_answer(reply, 500, "bad arguments", NULL);
        return;
    }
    if (s->fake_sdp) {
        char *answer = s_fake_answer(sdp);
        s_later(s, reply, 20, 201, answer, true);
        g_free(answer);
    } else if (strstr(sdp, "bad-sdp")) {
        edge_http_whip_answer(reply, 400, "malformed SDP: no audio m-line", NULL);
    } else if (strstr(sdp, "answer-sync")) {
        edge_http_whip_answer(reply, 201, S_ANSWER, s_session_new(s, sid));
    } else if (strstr(sdp, "hold")) {
        g_queue_push_tail(&s->held, reply);
    } else {
        s_later(s, reply, 50, 201, S_ANSWER, true);   /* "gathering candidates" */
    }
}

static void s_whip_patch(void *arg, const char *sid, void *session, const char *frag, size_t len,
                         bool if_match_any, edge_whip_reply_t *reply)
{
    s_server_t *s = arg;
    s_session_t *ses = session;
    g_atomic_int_inc(&s->patches);
    if (!ses || strcmp(ses->sid, sid) != 0 || strlen(frag) != len) {
        edge_http_whip_answer(reply, 500, "bad arguments", NULL);
        return;
    }
    if (strstr(frag, "a=ice-ufrag:")) {
        if (!if_match_any)
            edge_http_whip_answer(reply, 412, "ICE restart needs If-Match: *", NULL);
        else
            s_later(s, reply, 30, 200, "a=ice-ufrag:new1\r\na=ice-pwd:newnewnewnewnewnewnewnew\r\n", false);
    } else {
        edge_http_whip_answer(reply, 204, NULL, NULL);
    }
}

static void s_whip_delete(void *arg, const char *sid, void *session)
{
    s_server_t *s = arg;
    s_session_t *ses = session;
    g_atomic_int_inc(&s->deletes);
    if (ses) {
        if (strcmp(ses->sid, sid) != 0) {
            fprintf(stderr, "whip_delete: id %s for session %s\n", sid, ses->sid);
            s_failures++;
        }
        g_hash_table_remove(s->sessions, ses->sid);
        g_atomic_int_add(&s->live, -1);
        free(ses);
    }
}

static void s_whip_cancel(void *arg, edge_whip_reply_t *reply)
{
    s_server_t *s = arg;
    (void)reply;
    g_atomic_int_inc(&s->cancels);
}

static int s_ws_open(void *arg, edge_ws_t *conn, const ws_hello_t *hello, const char **reason)
{
    s_server_t *s = arg;
    if (g_atomic_int_get(&s->refuse_ws)) {
        *reason = "the agent is busy";
        return -1;
    }
    if (hello->channels != 1 || strlen(edge_ws_id(conn)) != WHIP_ID_LEN) {
        *reason = "bad arguments";
        return -1;
    }
    edge_ws_set_user(conn, s);
    g_atomic_int_inc(&s->ws_opens);
    return 0;
}

static void s_ws_audio(void *arg, edge_ws_t *conn, const uint8_t *data, size_t len)
{
    s_server_t *s = arg;
    g_atomic_int_inc(&s->ws_audio);
    if (edge_ws_user(conn) != s)
        return;
    if (len == 5 && !memcmp(data, "close", 5)) {
        edge_ws_close(conn, "bye");
        return;
    }
    if (len == 5 && !memcmp(data, "flood", 5)) {
        /* 100 x 4 KiB at once: more than the test's 64 KiB queue. */
        uint8_t buf[4096];
        for (int i = 0; i < 100; i++) {
            memset(buf, i, sizeof buf);
            edge_ws_send(conn, buf, sizeof buf);
        }
        return;
    }
    edge_ws_send(conn, data, len);      /* echo */
}

static void s_ws_close(void *arg, edge_ws_t *conn)
{
    s_server_t *s = arg;
    (void)conn;
    g_atomic_int_inc(&s->ws_closes);
}

/* Event streams: every accepted stream hears {"type":"ready",...} at once. */
static int s_events_open(void *arg, const char *sid, edge_sse_t *stream, const char **reason)
{
    s_server_t *s = arg;
    if (g_atomic_int_get(&s->refuse_sse)) {
        *reason = "the feed is off";
        return -1;
    }
    if (strcmp(sid, edge_sse_session(stream)) != 0) {
        *reason = "bad arguments";
        return -1;
    }
    char json[96];
    int n = snprintf(json, sizeof json, "{\"type\":\"ready\",\"session\":\"%s\"}", sid);
    edge_sse_send(stream, json, (size_t)n, false);
    g_queue_push_tail(&s->streams, stream);
    g_atomic_int_inc(&s->sse_opens);
    return 0;
}

static void s_events_close(void *arg, edge_sse_t *stream)
{
    s_server_t *s = arg;
    if (!g_queue_remove(&s->streams, stream)) {
        fprintf(stderr, "events_close for a stream never opened\n");
        s_failures++;
    }
    g_atomic_int_inc(&s->sse_closes);
}

static const edge_http_backend_t s_backend = {
    .session_count = s_session_count,
    .metrics = s_metrics,
    .whip_offer = s_whip_offer,
    .whip_patch = s_whip_patch,
    .whip_delete = s_whip_delete,
    .whip_cancel = s_whip_cancel,
    .ws_open = s_ws_open,
    .ws_audio = s_ws_audio,
    .ws_close = s_ws_close,
    .events_open = s_events_open,
    .events_close = s_events_close,
};

static gpointer s_server_main(gpointer p)
{
    s_server_t *s = p;
    g_main_context_push_thread_default(s->ctx);
    s->http = edge_http_new(&s->cfg, &s_backend, s, s->loop);
    g_mutex_lock(&s->lock);
    s->port = s->http ? edge_http_port(s->http) : -1;
    s->ready = true;
    g_cond_signal(&s->cond);
    g_mutex_unlock(&s->lock);
    if (s->http) {
        g_main_loop_run(s->loop);
        edge_http_destroy(&s->http);
    }
    g_main_context_pop_thread_default(s->ctx);
    return NULL;
}

static s_server_t *s_server_start(const edge_http_config_t *cfg)
{
    s_server_t *s = calloc(1, sizeof *s);
    s->cfg = *cfg;
    s->ctx = g_main_context_new();
    s->loop = g_main_loop_new(s->ctx, FALSE);
    g_mutex_init(&s->lock);
    g_cond_init(&s->cond);
    g_queue_init(&s->held);
    g_queue_init(&s->streams);
    s->sessions = g_hash_table_new(g_str_hash, g_str_equal);
    s->thread = g_thread_new("edge-http", s_server_main, s);
    g_mutex_lock(&s->lock);
    while (!s->ready)
        g_cond_wait(&s->cond, &s->lock);
    g_mutex_unlock(&s->lock);
    return s;
}

/* Runs fn(arg) on the server's loop thread and waits for it. */
typedef struct {
    void (*fn)(s_server_t *s, void *arg);
    s_server_t *s;
    void *arg;
    bool done;
} s_call_t;

static gboolean s_call_cb(gpointer p)
{
    s_call_t *c = p;
    c->fn(c->s, c->arg);
    g_mutex_lock(&c->s->lock);
    c->done = true;
    g_cond_broadcast(&c->s->cond);
    g_mutex_unlock(&c->s->lock);
    return G_SOURCE_REMOVE;
}

static void s_on_loop(s_server_t *s, void (*fn)(s_server_t *s, void *arg), void *arg)
{
    s_call_t c = { fn, s, arg, false };
    GSource *src = g_idle_source_new();
    g_source_set_callback(src, s_call_cb, &c, NULL);
    g_source_attach(src, s->ctx);
    g_source_unref(src);
    g_mutex_lock(&s->lock);
    while (!c.done)
        g_cond_wait(&s->cond, &s->lock);
    g_mutex_unlock(&s->lock);
}

static void s_quit(s_server_t *s, void *arg)
{
    (void)arg;
    g_main_loop_quit(s->loop);
}

/* Stops the loop and destroys the server; the fake's counters stay readable. */
static void s_server_halt(s_server_t *s)
{
    s_on_loop(s, s_quit, NULL);
    g_thread_join(s->thread);
}

static void s_server_free(s_server_t **p)
{
    s_server_t *s = *p;
    g_main_loop_unref(s->loop);
    g_main_context_unref(s->ctx);
    g_mutex_clear(&s->lock);
    g_cond_clear(&s->cond);
    g_queue_clear(&s->held);
    if (s->streams.length) {
        fprintf(stderr, "%u event stream(s) never closed\n", s->streams.length);
        s_failures++;
    }
    g_queue_clear(&s->streams);
    g_hash_table_destroy(s->sessions);
    free(s);
    *p = NULL;
}

/* Polls a counter for up to 3 s: the server runs concurrently. */
static bool s_wait_int(gint *v, int want)
{
    for (int i = 0; i < 300; i++) {
        if (g_atomic_int_get(v) == want)
            return true;
        g_usleep(10000);
    }
    fprintf(stderr, "waited for %d, have %d\n", want, g_atomic_int_get(v));
    return false;
}

/* ---- HTTP client ------------------------------------------------------------------ */

typedef struct {
    long status;
    GString *headers;
    GString *body;
    CURLcode rc;
    long connects;
} s_resp_t;

static size_t s_collect(char *data, size_t size, size_t n, void *user)
{
    g_string_append_len(user, data, (gssize)(size * n));
    return size * n;
}

static void s_resp_clear(s_resp_t *r)
{
    if (r->headers) g_string_free(r->headers, TRUE);
    if (r->body) g_string_free(r->body, TRUE);
    memset(r, 0, sizeof *r);
}

/* Performs a request; `headers` is NULL-terminated "Name: value" strings.
 * `easy` may be a handle to reuse (keep-alive tests) or NULL. */
static void s_request(CURL *easy, s_resp_t *r, int port, const char *method, const char *path,
                      const char *const *headers, const void *body, size_t len, long timeout_ms)
{
    CURL *c = easy ? easy : curl_easy_init();
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    s_resp_clear(r);
    r->headers = g_string_new(NULL);
    r->body = g_string_new(NULL);
    struct curl_slist *hl = NULL;
    for (const char *const *h = headers; h && *h; h++)
        hl = curl_slist_append(hl, *h);
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s_collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r->headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r->body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms ? timeout_ms : 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, strcmp(method, "HEAD") == 0 ? NULL : method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    } else if (strcmp(method, "HEAD") != 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);       /* no body; resets a reused handle */
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    r->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &r->connects);
    curl_slist_free_all(hl);
    if (!easy)
        curl_easy_cleanup(c);
}

/* The value of a response header (case-insensitive name), or "" when absent;
 * returns a static buffer. */
static const char *s_header(const s_resp_t *r, const char *name)
{
    static char value[512];
    value[0] = '\0';
    size_t n = strlen(name);
    for (const char *l = r->headers->str; l && *l;) {
        const char *eol = strstr(l, "\r\n");
        if (!eol) break;
        if ((size_t)(eol - l) > n && !strncasecmp(l, name, n) && l[n] == ':') {
            const char *v = l + n + 1;
            while (*v == ' ') v++;
            snprintf(value, sizeof value, "%.*s", (int)(eol - v), v);
            return value;
        }
        l = eol + 2;
    }
    return value;
}

static bool s_has(const char *haystack, const char *needle)
{
    bool ok = haystack && strstr(haystack, needle) != NULL;
    if (!ok)
        fprintf(stderr, "  '%s' not found in '%s'\n", needle, haystack ? haystack : "(null)");
    return ok;
}

/* ---- WebSocket client ------------------------------------------------------------- */

typedef struct {
    int fd;
    int status;
    char protocol[64];
} s_ws_t;

static int s_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static bool s_read_full(int fd, void *buf, size_t len, int timeout_ms)
{
    size_t got = 0;
    while (got < len) {
        struct pollfd pfd = { fd, POLLIN, 0 };
        if (poll(&pfd, 1, timeout_ms) <= 0)
            return false;
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    return true;
}

/* Opens a WebSocket: returns the HTTP status of the handshake (101 on success). */
static int s_wsc_open(s_ws_t *ws, int port, const char *path, const char *protocol, const char *extra)
{
    memset(ws, 0, sizeof *ws);
    ws->fd = s_connect(port);
    if (ws->fd < 0)
        return -1;
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                     "%s%s%s%s\r\n",
                     path, port, protocol ? "Sec-WebSocket-Protocol: " : "", protocol ? protocol : "",
                     protocol ? "\r\n" : "", extra ? extra : "");
    if (write(ws->fd, req, (size_t)n) != n)
        return -1;
    char resp[2048];
    size_t got = 0;
    while (got < sizeof resp - 1) {
        if (!s_read_full(ws->fd, resp + got, 1, 3000))
            break;
        got++;
        resp[got] = '\0';
        if (got >= 4 && !memcmp(resp + got - 4, "\r\n\r\n", 4))
            break;
    }
    resp[got] = '\0';
    if (sscanf(resp, "HTTP/1.%*d %d", &ws->status) != 1)
        return -1;
    const char *p = strcasestr(resp, "sec-websocket-protocol:");
    if (p) {
        p += strlen("sec-websocket-protocol:");
        while (*p == ' ') p++;
        size_t k = strcspn(p, "\r\n");
        snprintf(ws->protocol, sizeof ws->protocol, "%.*s", (int)k, p);
    }
    return ws->status;
}

static void s_ws_frame(s_ws_t *ws, int opcode, bool fin, const void *data, size_t len)
{
    unsigned char hdr[14];
    size_t h = 0;
    hdr[h++] = (unsigned char)((fin ? 0x80 : 0) | opcode);
    if (len < 126) {
        hdr[h++] = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (unsigned char)(len >> 8);
        hdr[h++] = (unsigned char)len;
    } else {
        hdr[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) hdr[h++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    const unsigned char mask[4] = { 0x12, 0x34, 0x56, 0x78 };
    memcpy(hdr + h, mask, 4);
    h += 4;
    unsigned char *buf = malloc(h + len);
    memcpy(buf, hdr, h);
    for (size_t i = 0; i < len; i++)
        buf[h + i] = ((const unsigned char *)data)[i] ^ mask[i & 3];
    size_t off = 0;
    while (off < h + len) {
        ssize_t n = write(ws->fd, buf + off, h + len - off);
        if (n <= 0) break;
        off += (size_t)n;
    }
    free(buf);
}

/* Reads one frame: returns its opcode (-1 on timeout/EOF); the payload is
 * malloc'd into *data. A close frame's code is in *close_code. */
static int s_ws_read(s_ws_t *ws, unsigned char **data, size_t *len, int *close_code, int timeout_ms)
{
    unsigned char h[2];
    *data = NULL;
    *len = 0;
    if (!s_read_full(ws->fd, h, 2, timeout_ms))
        return -1;
    uint64_t n = h[1] & 0x7f;
    if (n == 126) {
        unsigned char e[2];
        if (!s_read_full(ws->fd, e, 2, timeout_ms)) return -1;
        n = ((uint64_t)e[0] << 8) | e[1];
    } else if (n == 127) {
        unsigned char e[8];
        if (!s_read_full(ws->fd, e, 8, timeout_ms)) return -1;
        n = 0;
        for (int i = 0; i < 8; i++) n = (n << 8) | e[i];
    }
    *data = malloc(n + 1);
    if (n && !s_read_full(ws->fd, *data, n, timeout_ms)) {
        free(*data);
        *data = NULL;
        return -1;
    }
    (*data)[n] = '\0';
    *len = (size_t)n;
    int op = h[0] & 0x0f;
    if (op == 8 && close_code)
        *close_code = n >= 2 ? ((*data)[0] << 8 | (*data)[1]) : 0;
    return op;
}

/* Reads frames until a data frame (skipping pings); returns its opcode. */
static int s_ws_read_data(s_ws_t *ws, unsigned char **data, size_t *len, int *close_code)
{
    for (;;) {
        int op = s_ws_read(ws, data, len, close_code, 3000);
        if (op != 9 && op != 10)
            return op;
        free(*data);
    }
}

static void s_ws_close_fd(s_ws_t *ws)
{
    if (ws->fd >= 0)
        close(ws->fd);
    ws->fd = -1;
}

/* ---- event stream client ---------------------------------------------------------- */

typedef struct {
    int fd;
    int status;
    char head[2048];            /* the response's header block */
    GString *data;              /* body bytes read so far */
} s_sse_t;

/* A header's value in a raw header block (case-insensitive), "" when absent;
 * a static buffer. */
static const char *s_head_value(const char *head, const char *name)
{
    static char value[512];
    value[0] = '\0';
    size_t n = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l && l[2];) {
        l += 2;
        const char *eol = strstr(l, "\r\n");
        if (!eol) break;
        if ((size_t)(eol - l) > n && !strncasecmp(l, name, n) && l[n] == ':') {
            const char *v = l + n + 1;
            while (*v == ' ') v++;
            snprintf(value, sizeof value, "%.*s", (int)(eol - v), v);
            return value;
        }
        l = eol;
    }
    return value;
}

/* GETs `path` on a raw socket (curl would wait for the end of a stream)
 * and reads the response head, and the body of a response with a
 * Content-Length. Returns the status, -1 on failure. */
static int s_sse_open(s_sse_t *c, int port, const char *path, const char *extra)
{
    memset(c, 0, sizeof *c);
    c->data = g_string_new(NULL);
    c->fd = s_connect(port);
    if (c->fd < 0)
        return -1;
    char req[1024];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: text/event-stream\r\n%s\r\n",
                     path, port, extra ? extra : "");
    if (write(c->fd, req, (size_t)n) != n)
        return -1;
    size_t got = 0;
    while (got < sizeof c->head - 1) {
        if (!s_read_full(c->fd, c->head + got, 1, 3000))
            break;
        got++;
        c->head[got] = '\0';
        if (got >= 4 && !memcmp(c->head + got - 4, "\r\n\r\n", 4))
            break;
    }
    c->head[got] = '\0';
    if (sscanf(c->head, "HTTP/1.%*d %d", &c->status) != 1)
        return -1;
    const char *cl = s_head_value(c->head, "content-length");
    if (*cl) {
        size_t len = (size_t)atol(cl);
        char *body = calloc(1, len + 1);
        if (s_read_full(c->fd, body, len, 3000))
            g_string_append_len(c->data, body, (gssize)len);
        free(body);
    }
    return c->status;
}

/* Reads more of the stream: false on EOF or when nothing came in time. */
static bool s_sse_read_more(s_sse_t *c, int timeout_ms)
{
    struct pollfd pfd = { c->fd, POLLIN, 0 };
    if (poll(&pfd, 1, timeout_ms) <= 0)
        return false;
    char buf[4096];
    ssize_t n = read(c->fd, buf, sizeof buf);
    if (n <= 0)
        return false;
    g_string_append_len(c->data, buf, n);
    return true;
}

/* Reads until `needle` has arrived. */
static bool s_sse_until(s_sse_t *c, const char *needle)
{
    while (!strstr(c->data->str, needle))
        if (!s_sse_read_more(c, 3000)) {
            fprintf(stderr, "  '%s' did not arrive; got '%s'\n", needle, c->data->str);
            return false;
        }
    return true;
}

/* True when the server closes the stream within 3 s. */
static bool s_sse_eof(s_sse_t *c)
{
    struct pollfd pfd = { c->fd, POLLIN, 0 };
    for (;;) {
        if (poll(&pfd, 1, 3000) <= 0)
            return false;
        char buf[4096];
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n <= 0)
            return n == 0;
        g_string_append_len(c->data, buf, n);
    }
}

static void s_sse_close(s_sse_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->data)
        g_string_free(c->data, TRUE);
    c->data = NULL;
}

#define HELLO_PCM16 "{\"type\":\"hello\",\"format\":\"pcm16\",\"sample_rate\":16000,\"channels\":1}"

/* ---- tests -------------------------------------------------------------------------- */

static void s_test_basic_routes(s_server_t *s)
{
    s_resp_t r = { 0 };
    s_request(NULL, &r, s->port, "GET", "/health", NULL, NULL, 0, 0);
    CHECK_INT(r.status, 200);
    CHECK(s_has(s_header(&r, "content-type"), "application/json"));
    CHECK(s_has(r.body->str, "\"status\":\"ok\""));
    CHECK(s_has(r.body->str, "\"sessions\":0"));

    const www_file_t *index = www_find(edge_www_files, "/");
    CHECK(index != NULL);
    s_request(NULL, &r, s->port, "GET", "/", NULL, NULL, 0, 0);
    CHECK_INT(r.status, 200);
    CHECK(s_has(s_header(&r, "content-type"), "text/html"));
    CHECK(index && r.body->len == index->len && !memcmp(r.body->str, index->data, index->len));
    s_request(NULL, &r, s->port, "GET", "/index.html?x=1", NULL, NULL, 0, 0);
    CHECK_INT(r.status, 200);
    s_request(NULL, &r, s->port, "HEAD", "/", NULL, NULL, 0, 0);
    CHECK_INT(r.status, 200);
    CHECK_INT(r.body->len, 0);
    CHECK_INT(atol(s_header(&r, "content-length")), index ? (long)index->len : -1);
    for (const www_file_t *f = edge_www_files; f->path; f++) {
        s_request(NULL, &r, s->port, "GET", f->path, NULL, NULL, 0, 0);
        CHECK_INT(r.status, 200);
        CHECK_INT(r.body->len, f->len);
    }

    s_request(NULL, &r, s->port, "GET", "/nope", NULL, NULL, 0, 0);
    CHECK_INT(r.status, 404);
    s_request(NULL, &r, s->port, "GET", "/../etc/passwd", NULL, NULL, 0, 0);
    CHECK_INT(r.status, 404);
    s_request(NULL, &r, s->port, "PUT", "/health", NULL, "x", 1, 0);
    CHECK_INT(r.status, 405);
    CHECK(s_has(s_header(&r, "allow"), "GET"));
    s_request(NULL, &r, s->port, "GET", "/whip", NULL, NULL, 0, 0);
    CHECK_INT(r.status, 405);
    CHECK(s_has(s_header(&r, "allow"), "POST"));
    s_request(NULL, &r, s->port, "GET", "/ws", NULL, NULL, 0, 0);
    CHECK_INT(r.status, 426);

    s_request(NULL, &r, s->port, "GET", "/metrics", NULL, NULL, 0, 0);
    CHECK_INT(r.status, 200);
    CHECK(s_has(s_header(&r, "content-type"), "text/plain; version=0.0.4"));
    CHECK(s_has(r.body->str, "voxmesh_edge_http_responses_total{code=\"2xx\"}"));
    CHECK(s_has(r.body->str, "voxmesh_edge_whip_sessions 0"));
    CHECK(s_has(r.body->str, "fake_backend_up 1"));

    s_request(NULL, &r, s->port, "OPTIONS", "/whip", NULL, NULL, 0, 0);
    CHECK(r.status == 204 || r.status == 200);
    CHECK(s_has(s_header(&r, "access-control-allow-origin"), "*"));
    CHECK(s_has(s_header(&r, "access-control-allow-methods"), "POST"));
    CHECK(s_has(s_header(&r, "access-control-allow-headers"), "If-Match"));
    CHECK(s_has(s_header(&r, "access-control-allow-headers"), "Content-Type"));
    CHECK(s_has(s_header(&r, "access-control-allow-headers"), "Authorization"));
    CHECK(s_has(s_header(&r, "access-control-expose-headers"), "Location"));
    CHECK(s_has(s_header(&r, "access-control-expose-headers"), "ETag"));
    CHECK(s_has(s_header(&r, "access-control-expose-headers"), "Link"));
    CHECK(s_has(s_header(&r, "accept-post"), "application/sdp"));
    s_request(NULL, &r, s->port, "OPTIONS", "/whip/0123456789abcdef0123456789abcdef", NULL, NULL, 0, 0);
    CHECK(r.status == 204 || r.status == 200);
    CHECK(s_has(s_header(&r, "access-control-allow-methods"), "PATCH"));
    CHECK(s_has(s_header(&r, "access-control-allow-methods"), "DELETE"));
    s_resp_clear(&r);
}

static void s_test_whip(s_server_t *s)
{
    s_resp_t r = { 0 };
    const char *const sdp_type[] = { "Content-Type: application/sdp", NULL };
    const char *offer = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";

    /* Content type, size, malformed SDP. */
    const char *const text_type[] = { "Content-Type: text/plain", NULL };
    s_request(NULL, &r, s->port, "POST", "/whip", text_type, offer, strlen(offer), 0);
    CHECK_INT(r.status, 415);
    CHECK(s_has(r.body->str, "application/sdp"));
    s_request(NULL, &r, s->port, "POST", "/whip", NULL, offer, strlen(offer), 0);
    CHECK_INT(r.status, 415);
    char *big = malloc(70000);
    memset(big, 'a', 70000);
    s_request(NULL, &r, s->port, "POST", "/whip", sdp_type, big, 70000, 0);
    CHECK_INT(r.status, 413);
    free(big);
    s_request(NULL, &r, s->port, "POST", "/whip", sdp_type, "v=0\r\nbad-sdp\r\n", 14, 0);
    CHECK_INT(r.status, 400);
    CHECK(s_has(r.body->str, "malformed SDP: no audio m-line"));
    CHECK(s_has(s_header(&r, "content-type"), "text/plain"));
    s_request(NULL, &r, s->port, "POST", "/whip", sdp_type, "", 0, 0);
    CHECK_INT(r.status, 400);

    /* Keep-alive survives an early refusal: the body is drained first. */
    CURL *easy = curl_easy_init();
    s_request(easy, &r, s->port, "POST", "/whip", text_type, offer, strlen(offer), 0);
    CHECK_INT(r.status, 415);
    s_request(easy, &r, s->port, "POST", "/whip", sdp_type, offer, strlen(offer), 0);
    CHECK_INT(r.status, 201);
    CHECK_INT(r.connects, 0);                   /* same connection */
    char loc_ka[128];
    snprintf(loc_ka, sizeof loc_ka, "%s", s_header(&r, "location"));
    s_request(easy, &r, s->port, "DELETE", loc_ka, NULL, NULL, 0, 0);
    CHECK_INT(r.status, 200);
    CHECK_INT(r.connects, 0);
    curl_easy_cleanup(easy);

    /* The asynchronous answer. */
    int deletes0 = g_atomic_int_get(&s->deletes);
    s_request(NULL, &r, s->port, "POST", "/whip", sdp_type, offer, strlen(offer), 0);
    CHECK_INT(r.status, 201);
    CHECK(s_has(s_header(&r, "content-type"), "application/sdp"));
    CHECK(!strcmp(r.body->str, S_ANSWER));
    char loc[128], etag[128];
    snprintf(loc, sizeof loc, "%s", s_header(&r, "location"));
    snprintf(etag, sizeof etag, "%s", s_header(&r, "etag"));
    CHECK(strlen(loc) == 6 + WHIP_ID_LEN && !strncmp(loc, "/whip/", 6) && whip_id_valid(loc + 6));
    CHECK(strlen(etag) == WHIP_ETAG_LEN + 2 && etag[0] == '"' && etag[WHIP_ETAG_LEN + 1] == '"');
    CHECK(s_has(s_header(&r, "access-control-expose-headers"), "Location"));

    s_request(NULL, &r, s->port, "GET", "/health", NULL, NULL, 0, 0);
    CHECK(s_has(r.body->str, "\"sessions\":1"));

    /* Synchronous answer from inside whip_offer, a second session. */
    s_request(NULL, &r, s->port, "POST", "/whip", sdp_type, "v=0\r\nanswer-sync\r\n", 18, 0);
    CHECK_INT(r.status, 201);
    char loc2[128];
    snprintf(loc2, sizeof loc2, "%s", s_header(&r, "location"));
    CHECK(strcmp(loc, loc2) != 0);

    /* PATCH: content type, If-Match rules (RFC 9725 4.3). */
    const char *frag = "a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host\r\n";
    char if_match[160];
    snprintf(if_match, sizeof if_match, "If-Match: %s", etag);
    const char *const good[] = { "Content-Type: application/trickle-ice-sdpfrag", if_match, NULL };
    const char *const wrong_type[] = { "Content-Type: application/sdp", if_match, NULL };
    const char *const no_match[] = { "Content-Type: application/trickle-ice-sdpfrag", NULL };
    const char *const bad_match[] = { "Content-Type: application/trickle-ice-sdpfrag",
                                      "If-Match: \"00000000000000000000000000000000\"", NULL };
    const char *const weak_match[] = { "Content-Type: application/trickle-ice-sdpfrag", NULL, NULL };
    char weak[160];
    snprintf(weak, sizeof weak, "If-Match: W/%s", etag);
    ((const char **)weak_match)[1] = weak;
    const char *const star[] = { "Content-Type: application/trickle-ice-sdpfrag", "If-Match: *", NULL };

    s_request(NULL, &r, s->port, "PATCH", loc, wrong_type, frag, strlen(frag), 0);
    CHECK_INT(r.status, 415);
    s_request(NULL, &r, s->port, "PATCH", loc, no_match, frag, strlen(frag), 0);
    CHECK_INT(r.status, 428);
    s_request(NULL, &r, s->port, "PATCH", loc, bad_match, frag, strlen(frag), 0);
    CHECK_INT(r.status, 412);
    s_request(NULL, &r, s->port, "PATCH", loc, weak_match, frag, strlen(frag), 0);
    CHECK_INT(r.status, 412);
    s_request(NULL, &r, s->port, "PATCH", loc, good, frag, strlen(frag), 0);
    CHECK_INT(r.status, 204);
    CHECK_INT(r.body->len, 0);
    s_request(NULL, &r, s->port, "PATCH", "/whip/0123456789abcdef0123456789abcdef", good, frag, strlen(frag), 0);
    CHECK_INT(r.status, 404);
    s_request(NULL, &r, s->port, "PATCH", "/whip/xyz", good, frag, strlen(frag), 0);
    CHECK_INT(r.status, 404);

    /* ICE restart: If-Match "*", 200 + sdpfrag + a new ETag; the old one is stale. */
    const char *restart = "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\n";
    s_request(NULL, &r, s->port, "PATCH", loc, star, restart, strlen(restart), 0);
    CHECK_INT(r.status, 200);
    CHECK(s_has(s_header(&r, "content-type"), "application/trickle-ice-sdpfrag"));
    CHECK(s_has(r.body->str, "a=ice-ufrag:new1"));
    char etag2[128];
    snprintf(etag2, sizeof etag2, "%s", s_header(&r, "etag"));
    CHECK(strlen(etag2) == WHIP_ETAG_LEN + 2 && strcmp(etag, etag2) != 0);
    s_request(NULL, &r, s->port, "PATCH", loc, good, frag, strlen(frag), 0);
    CHECK_INT(r.status, 412);
    snprintf(if_match, sizeof if_match, "If-Match: %s", etag2);
    const char *const good2[] = { "Content-Type: application/trickle-ice-sdpfrag", if_match, NULL };
    s_request(NULL, &r, s->port, "PATCH", loc, good2, frag, strlen(frag), 0);
    CHECK_INT(r.status, 204);
    s_request(NULL, &r, s->port, "PATCH", loc, good2, restart, strlen(restart), 0);
    CHECK_INT(r.status, 412);                   /* backend: restart without "*" */

    /* DELETE. */
    s_request(NULL, &r, s->port, "DELETE", "/whip/0123456789abcdef0123456789abcdef", NULL, NULL, 0, 0);
    CHECK_INT(r.status, 404);
    s_request(NULL, &r, s->port, "DELETE", loc, NULL, NULL, 0, 0);
    CHECK_INT(r.status, 200);
    CHECK_INT(g_atomic_int_get(&s->deletes), deletes0 + 1);
    s_request(NULL, &r, s->port, "DELETE", loc, NULL, NULL, 0, 0);
    CHECK_INT(r.status, 404);
    s_request(NULL, &r, s->port, "PATCH", loc, good2, frag, strlen(frag), 0);
    CHECK_INT(r.status, 404);
    s_request(NULL, &r, s->port, "DELETE", loc2, NULL, NULL, 0, 0);
    CHECK_INT(r.status, 200);
    CHECK_INT(g_atomic_int_get(&s->live), 0);
    s_resp_clear(&r);
}

static void s_answer_held(s_server_t *s, void *arg)
{
    int status = *(int *)arg;
    edge_whip_reply_t *reply = g_queue_pop_head(&s->held);
    if (!reply) {
        fprintf(stderr, "no held reply\n");
        s_failures++;
        return;
    }
    edge_http_whip_answer(reply, status, status == 201 ? S_ANSWER : "nope",
                          status == 201 ? s_session_new(s, edge_whip_reply_id(reply)) : NULL);
}

static void s_end_session(s_server_t *s, void *arg)
{
    s_session_t *ses = g_hash_table_lookup(s->sessions, arg);
    CHECK(ses != NULL);
    CHECK_INT(edge_http_whip_end(s->http, arg), 0);
    CHECK_INT(edge_http_whip_end(s->http, arg), -ENOENT);
    if (ses) {
        g_hash_table_remove(s->sessions, arg);
        g_atomic_int_add(&s->live, -1);
        free(ses);
    }
}

/* The client leaves before the answer; a backend that never answers. */
static void s_test_whip_async_edges(s_server_t *s)
{
    s_resp_t r = { 0 };
    const char *const sdp_type[] = { "Content-Type: application/sdp", NULL };
    const char *hold = "v=0\r\nhold\r\n";
    int deletes0 = g_atomic_int_get(&s->deletes), cancels0 = g_atomic_int_get(&s->cancels);

    /* The client gives up after 300 ms; the answer comes later and is dropped,
     * and the backend is told to free its session. */
    s_request(NULL, &r, s->port, "POST", "/whip", sdp_type, hold, strlen(hold), 300);
    CHECK(r.rc == CURLE_OPERATION_TIMEDOUT);
    CHECK(s_wait_int(&s->cancels, cancels0 + 1));
    int status = 201;
    s_on_loop(s, s_answer_held, &status);
    CHECK_INT(g_atomic_int_get(&s->deletes), deletes0 + 1);
    CHECK_INT(g_atomic_int_get(&s->live), 0);
    s_request(NULL, &r, s->port, "GET", "/metrics", NULL, NULL, 0, 0);
    CHECK(s_has(r.body->str, "voxmesh_edge_whip_answers_dropped_total 1"));
    CHECK(s_has(r.body->str, "voxmesh_edge_whip_pending 0"));

    /* Same with an error answer: nothing to free. */
    s_request(NULL, &r, s->port, "POST", "/whip", sdp_type, hold, strlen(hold), 300);
    CHECK(s_wait_int(&s->cancels, cancels0 + 2));
    status = 400;
    s_on_loop(s, s_answer_held, &status);
    CHECK_INT(g_atomic_int_get(&s->deletes), deletes0 + 1);

    /* The backend ends a session itself: later requests get 404. */
    s_request(NULL, &r, s->port, "POST", "/whip", sdp_type, "v=0\r\nanswer-sync\r\n", 18, 0);
    CHECK_INT(r.status, 201);
    char loc[128];
    snprintf(loc, sizeof loc, "%s", s_header(&r, "location"));
    s_on_loop(s, s_end_session, loc + 6);
    s_request(NULL, &r, s->port, "DELETE", loc, NULL, NULL, 0, 0);
    CHECK_INT(r.status, 404);
    CHECK_INT(g_atomic_int_get(&s->deletes), deletes0 + 1);   /* no whip_delete for it */
    CHECK_INT(g_atomic_int_get(&s->live), 0);
    s_resp_clear(&r);
}

typedef struct {
    s_server_t *s;
    int delay_ms;
    int status;
} s_delayed_t;

static gpointer s_delayed_answer(gpointer p)
{
    s_delayed_t *d = p;
    g_usleep((gulong)d->delay_ms * 1000);
    s_on_loop(d->s, s_answer_held, &d->status);
    return NULL;
}

static void s_test_held_answer(s_server_t *s)
{
    s_resp_t r = { 0 };
    const char *const sdp_type[] = { "Content-Type: application/sdp", NULL };
    s_delayed_t d = { s, 1000, 201 };
    GThread *t = g_thread_new("answer", s_delayed_answer, &d);
    s_request(NULL, &r, s->port, "POST", "/whip", sdp_type, "v=0\r\nhold\r\n", 11, 0);
    g_thread_join(t);
    CHECK_INT(r.status, 201);
    char loc[128];
    snprintf(loc, sizeof loc, "%s", s_header(&r, "location"));
    s_request(NULL, &r, s->port, "DELETE", loc, NULL, NULL, 0, 0);
    CHECK_INT(r.status, 200);
    s_resp_clear(&r);
}

static void s_test_ws(s_server_t *s)
{
    s_ws_t ws;
    unsigned char *data;
    size_t len;
    int code = 0;

    /* Subprotocol echoed, hello accepted, echo, fragmented message. */
    int opens0 = g_atomic_int_get(&s->ws_opens), closes0 = g_atomic_int_get(&s->ws_closes);
    CHECK_INT(s_wsc_open(&ws, s->port, "/ws", "voxmesh.audio.v1", NULL), 101);
    CHECK(!strcmp(ws.protocol, "voxmesh.audio.v1"));
    s_ws_frame(&ws, 1, true, HELLO_PCM16, strlen(HELLO_PCM16));
    CHECK_INT(s_ws_read_data(&ws, &data, &len, &code), 1);
    CHECK(s_has((char *)data, "\"type\":\"accepted\""));
    CHECK(s_has((char *)data, "\"format\":\"pcm16\",\"sample_rate\":16000,\"channels\":1"));
    CHECK(s_has((char *)data, "\"session_id\":\""));
    free(data);
    unsigned char audio[640];
    for (size_t i = 0; i < sizeof audio; i++) audio[i] = (unsigned char)i;
    s_ws_frame(&ws, 2, true, audio, sizeof audio);
    CHECK_INT(s_ws_read_data(&ws, &data, &len, &code), 2);
    CHECK(len == sizeof audio && !memcmp(data, audio, len));
    free(data);
    s_ws_frame(&ws, 2, false, audio, 100);
    s_ws_frame(&ws, 0, false, audio + 100, 200);
    s_ws_frame(&ws, 0, true, audio + 300, 340);
    CHECK_INT(s_ws_read_data(&ws, &data, &len, &code), 2);
    CHECK(len == sizeof audio && !memcmp(data, audio, len));
    free(data);
    /* A larger message in three frames (the queue here holds 64 KiB). */
    size_t big_len = 60000;
    unsigned char *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++) big[i] = (unsigned char)(i * 7);
    s_ws_frame(&ws, 2, false, big, 20000);
    s_ws_frame(&ws, 0, false, big + 20000, 20000);
    s_ws_frame(&ws, 0, true, big + 40000, big_len - 40000);
    CHECK_INT(s_ws_read_data(&ws, &data, &len, &code), 2);
    CHECK(len == big_len && !memcmp(data, big, len));
    free(data);
    free(big);
    /* A text message after the hello is ignored. */
    s_ws_frame(&ws, 1, true, "{}", 2);
    s_ws_frame(&ws, 2, true, "close", 5);
    CHECK_INT(s_ws_read_data(&ws, &data, &len, &code), 8);
    CHECK_INT(code, 1000);
    CHECK(len >= 5 && !memcmp(data + 2, "bye", 3));
    free(data);
    s_ws_close_fd(&ws);
    CHECK(s_wait_int(&s->ws_closes, closes0 + 1));
    CHECK_INT(g_atomic_int_get(&s->ws_opens), opens0 + 1);

    /* No subprotocol is fine too; the client just disappears. */
    CHECK_INT(s_wsc_open(&ws, s->port, "/ws", NULL, NULL), 101);
    CHECK(ws.protocol[0] == '\0');
    const char *opus = "{\"type\":\"hello\",\"format\":\"opus\",\"sample_rate\":48000,\"channels\":1}";
    s_ws_frame(&ws, 1, true, opus, strlen(opus));
    CHECK_INT(s_ws_read_data(&ws, &data, &len, &code), 1);
    CHECK(s_has((char *)data, "\"format\":\"opus\",\"sample_rate\":48000"));
    free(data);
    s_ws_close_fd(&ws);
    CHECK(s_wait_int(&s->ws_closes, closes0 + 2));

    /* A bad hello: error with the reason, then close 1008. */
    CHECK_INT(s_wsc_open(&ws, s->port, "/ws", "voxmesh.audio.v1", NULL), 101);
    const char *mp3 = "{\"type\":\"hello\",\"format\":\"mp3\",\"sample_rate\":16000,\"channels\":1}";
    s_ws_frame(&ws, 1, true, mp3, strlen(mp3));
    CHECK_INT(s_ws_read_data(&ws, &data, &len, &code), 1);
    CHECK(s_has((char *)data, "{\"type\":\"error\",\"reason\":\"unsupported format 'mp3'\"}"));
    free(data);
    CHECK_INT(s_ws_read_data(&ws, &data, &len, &code), 8);
    CHECK_INT(code, 1008);
    free(data);
    s_ws_close_fd(&ws);

    /* Audio before the hello: 1003. */
    CHECK_INT(s_wsc_open(&ws, s->port, "/ws", NULL, NULL), 101);
    s_ws_frame(&ws, 2, true, audio, 10);
    CHECK_INT(s_ws_read_data(&ws, &data, &len, &code), 1);
    CHECK(s_has((char *)data, "first message must be a hello"));
    free(data);
    CHECK_INT(s_ws_read_data(&ws, &data, &len, &code), 8);
    CHECK_INT(code, 1003);
    free(data);
    s_ws_close_fd(&ws);

    /* The backend refuses, with its reason. */
    g_atomic_int_set(&s->refuse_ws, 1);
    CHECK_INT(s_wsc_open(&ws, s->port, "/ws", NULL, NULL), 101);
    s_ws_frame(&ws, 1, true, HELLO_PCM16, strlen(HELLO_PCM16));
    CHECK_INT(s_ws_read_data(&ws, &data, &len, &code), 1);
    CHECK(s_has((char *)data, "the agent is busy"));
    free(data);
    CHECK_INT(s_ws_read_data(&ws, &data, &len, &code), 8);
    CHECK_INT(code, 1008);
    free(data);
    s_ws_close_fd(&ws);
    g_atomic_int_set(&s->refuse_ws, 0);

    /* Send queue overflow drops the oldest: only the newest reach the client. */
    CHECK_INT(s_wsc_open(&ws, s->port, "/ws", NULL, NULL), 101);
    s_ws_frame(&ws, 1, true, HELLO_PCM16, strlen(HELLO_PCM16));
    CHECK_INT(s_ws_read_data(&ws, &data, &len, &code), 1);
    free(data);
    s_ws_frame(&ws, 2, true, "flood", 5);
    int got = 0, last = -1;
    bool ordered = true;
    for (;;) {
        int op = s_ws_read(&ws, &data, &len, &code, 500);
        if (op != 2) {
            free(data);
            break;
        }
        if (len != 4096) ordered = false;
        if (data[0] <= last) ordered = false;
        last = data[0];
        got++;
        free(data);
    }
    CHECK_INT(got, 16);                         /* 64 KiB / 4 KiB */
    CHECK_INT(last, 99);
    CHECK(ordered);
    s_resp_t r = { 0 };
    s_request(NULL, &r, s->port, "GET", "/metrics", NULL, NULL, 0, 0);
    CHECK(s_has(r.body->str, "voxmesh_edge_ws_tx_dropped_messages_total 84"));
    CHECK(s_has(r.body->str, "voxmesh_edge_ws_connections 1"));
    s_resp_clear(&r);

    /* A message over ws_max_message (256 KiB here): 1009. */
    unsigned char *huge = calloc(1, 65536);
    s_ws_frame(&ws, 2, false, huge, 65536);
    for (int i = 0; i < 4; i++)
        s_ws_frame(&ws, 0, i == 3, huge, 65536);
    free(huge);
    CHECK_INT(s_ws_read_data(&ws, &data, &len, &code), 1);
    CHECK(s_has((char *)data, "message larger than 262144 bytes"));
    free(data);
    CHECK_INT(s_ws_read_data(&ws, &data, &len, &code), 8);
    CHECK_INT(code, 1009);
    free(data);
    s_ws_close_fd(&ws);

    /* Upgrades elsewhere than /ws, and unknown subprotocols, are refused. */
    int st0 = s_wsc_open(&ws, s->port, "/nope", NULL, NULL);
    CHECK(st0 != 101);
    s_ws_close_fd(&ws);
    int st = s_wsc_open(&ws, s->port, "/ws", "chat", NULL);
    CHECK(st != 101);
    s_ws_close_fd(&ws);
}

static void s_test_auth_and_limits(void)
{
    edge_http_config_t cfg;
    edge_http_config_defaults(&cfg);
    cfg.port = 0;
    cfg.bearer_token = "s3cret";
    cfg.cors_origin = "https://app.example";
    cfg.max_sessions = 2;
    cfg.max_body = 1024;
    cfg.answer_timeout_ms = 300;
    cfg.ws_hello_timeout_ms = 200;
    s_server_t *s = s_server_start(&cfg);
    CHECK(s->port > 0);
    s_resp_t r = { 0 };
    const char *const auth[] = { "Authorization: Bearer s3cret", NULL };
    const char *const wrong[] = { "Authorization: Bearer nope", NULL };
    const char *const basic[] = { "Authorization: Basic czNjcmV0", NULL };
    const char *const sdp_auth[] = { "Content-Type: application/sdp", "Authorization: bearer  s3cret", NULL };

    s_request(NULL, &r, s->port, "GET", "/health", NULL, NULL, 0, 0);
    CHECK_INT(r.status, 401);
    CHECK(s_has(s_header(&r, "www-authenticate"), "Bearer"));
    s_request(NULL, &r, s->port, "GET", "/health", wrong, NULL, 0, 0);
    CHECK_INT(r.status, 401);
    CHECK(s_has(s_header(&r, "www-authenticate"), "invalid_token"));
    s_request(NULL, &r, s->port, "GET", "/metrics", basic, NULL, 0, 0);
    CHECK_INT(r.status, 401);
    s_request(NULL, &r, s->port, "GET", "/health", auth, NULL, 0, 0);
    CHECK_INT(r.status, 200);
    CHECK(s_has(s_header(&r, "access-control-allow-origin"), "https://app.example"));
    CHECK(s_has(s_header(&r, "vary"), "Origin"));
    s_request(NULL, &r, s->port, "OPTIONS", "/whip", NULL, NULL, 0, 0);
    CHECK(r.status == 204 || r.status == 200);
    s_request(NULL, &r, s->port, "GET", "/", NULL, NULL, 0, 0);
    CHECK_INT(r.status, 200);                   /* the page itself is public */
    s_request(NULL, &r, s->port, "DELETE", "/whip/0123456789abcdef0123456789abcdef", NULL, NULL, 0, 0);
    CHECK_INT(r.status, 401);
    const char *const sdp_noauth[] = { "Content-Type: application/sdp", NULL };
    s_request(NULL, &r, s->port, "POST", "/whip", sdp_noauth, "v=0\r\n", 5, 0);
    CHECK_INT(r.status, 401);

    /* Body limit from the config. */
    char body[2000];
    memset(body, 'v', sizeof body);
    s_request(NULL, &r, s->port, "POST", "/whip", sdp_auth, body, sizeof body, 0);
    CHECK_INT(r.status, 413);

    /* Session limit (pending offers count), and the answer deadline: 504. */
    const char *hold = "v=0\r\nhold\r\n";
    s_request(NULL, &r, s->port, "POST", "/whip", sdp_auth, hold, strlen(hold), 0);
    CHECK_INT(r.status, 504);
    s_request(NULL, &r, s->port, "POST", "/whip", sdp_auth, "v=0\r\nanswer-sync\r\n", 18, 0);
    CHECK_INT(r.status, 201);
    s_request(NULL, &r, s->port, "POST", "/whip", sdp_auth, "v=0\r\nanswer-sync\r\n", 18, 0);
    CHECK_INT(r.status, 503);
    CHECK(s_header(&r, "retry-after")[0] != '\0');
    int status = 201;                           /* the late answer frees its slot */
    s_on_loop(s, s_answer_held, &status);
    s_request(NULL, &r, s->port, "POST", "/whip", sdp_auth, "v=0\r\nanswer-sync\r\n", 18, 0);
    CHECK_INT(r.status, 201);
    s_request(NULL, &r, s->port, "GET", "/metrics", auth, NULL, 0, 0);
    CHECK(s_has(r.body->str, "voxmesh_edge_whip_answer_timeouts_total 1"));
    CHECK(s_has(r.body->str, "voxmesh_edge_whip_sessions 2"));

    /* WebSocket: header or query token; foreign origins refused. The
     * refusal is a close with a reason, which a browser can see. */
    s_ws_t ws;
    const char *ws_bad[][2] = {
        { "/ws", NULL }, { "/ws?access_token=nope", NULL },
        { "/ws?access_token=s3cret", "Origin: https://evil.example\r\n" },
    };
    const char *ws_why[] = { "missing or wrong bearer token", "missing or wrong bearer token",
                             "origin not allowed" };
    for (int i = 0; i < 3; i++) {
        unsigned char *d;
        size_t l;
        int c = 0;
        CHECK_INT(s_wsc_open(&ws, s->port, ws_bad[i][0], NULL, ws_bad[i][1]), 101);
        CHECK_INT(s_ws_read_data(&ws, &d, &l, &c), 1);
        CHECK(s_has((char *)d, ws_why[i]));
        free(d);
        CHECK_INT(s_ws_read_data(&ws, &d, &l, &c), 8);
        CHECK_INT(c, 1008);
        free(d);
        s_ws_close_fd(&ws);
    }
    CHECK_INT(s_wsc_open(&ws, s->port, "/ws?access_token=s3cret", NULL, NULL), 101);
    s_ws_frame(&ws, 1, true, HELLO_PCM16, strlen(HELLO_PCM16));
    {
        unsigned char *d;
        size_t l;
        int c = 0;
        CHECK_INT(s_ws_read_data(&ws, &d, &l, &c), 1);
        CHECK(s_has((char *)d, "accepted"));
        free(d);
    }
    s_ws_close_fd(&ws);
    CHECK_INT(s_wsc_open(&ws, s->port, "/ws", NULL, "Authorization: Bearer s3cret\r\n"), 101);
    s_ws_frame(&ws, 1, true, HELLO_PCM16, strlen(HELLO_PCM16));
    {
        unsigned char *d;
        size_t l;
        int c = 0;
        CHECK_INT(s_ws_read_data(&ws, &d, &l, &c), 1);
        CHECK(s_has((char *)d, "accepted"));
        free(d);
    }
    s_ws_close_fd(&ws);
    CHECK_INT(s_wsc_open(&ws, s->port, "/ws?access_token=s3cret", NULL, "Origin: https://app.example\r\n"), 101);
    s_ws_close_fd(&ws);

    /* No hello in time: error, then 1008. */
    unsigned char *d0;
    size_t l0;
    int c0 = 0;
    CHECK_INT(s_wsc_open(&ws, s->port, "/ws?access_token=s3cret", NULL, NULL), 101);
    CHECK_INT(s_ws_read_data(&ws, &d0, &l0, &c0), 1);
    CHECK(s_has((char *)d0, "no hello within 200 ms"));
    free(d0);
    CHECK_INT(s_ws_read_data(&ws, &d0, &l0, &c0), 8);
    CHECK_INT(c0, 1008);
    free(d0);
    s_ws_close_fd(&ws);

    /* Shutdown with an open WebSocket and two live sessions. */
    CHECK_INT(s_wsc_open(&ws, s->port, "/ws?access_token=s3cret", "voxmesh.audio.v1", NULL), 101);
    s_ws_frame(&ws, 1, true, HELLO_PCM16, strlen(HELLO_PCM16));
    unsigned char *data;
    size_t len;
    int code;
    CHECK_INT(s_ws_read_data(&ws, &data, &len, &code), 1);
    free(data);
    int deletes0 = g_atomic_int_get(&s->deletes);
    CHECK(s_wait_int(&s->ws_closes, g_atomic_int_get(&s->ws_opens) - 1));
    int closes0 = g_atomic_int_get(&s->ws_closes);
    s_server_halt(s);
    CHECK_INT(g_atomic_int_get(&s->deletes), deletes0 + 2);
    CHECK_INT(g_atomic_int_get(&s->ws_closes), closes0 + 1);
    CHECK_INT(g_atomic_int_get(&s->live), 0);
    s_ws_close_fd(&ws);
    s_server_free(&s);
    s_resp_clear(&r);
}

/* ---- event streams ------------------------------------------------------------------- */

typedef struct {
    const char *data;
    bool droppable;
    int rc;
} s_push_t;

/* Queues one event on the newest stream. */
static void s_sse_push(s_server_t *s, void *arg)
{
    s_push_t *p = arg;
    edge_sse_t *st = g_queue_peek_tail(&s->streams);
    p->rc = st ? edge_sse_send(st, p->data, strlen(p->data), p->droppable) : -ENOENT;
}

/* Ends the newest stream, then tries to queue one more event on it. */
static void s_sse_end_newest(s_server_t *s, void *arg)
{
    int *rc = arg;
    edge_sse_t *st = g_queue_peek_tail(&s->streams);
    edge_sse_close(st);
    *rc = edge_sse_send(st, "{\"too\":\"late\"}", 14, false);
}

/* A burst larger than the queue, in one go (no write can come between):
 * a kept event, 200 deltas, a kept event. */
static void s_sse_flood(s_server_t *s, void *arg)
{
    uint64_t *dropped = arg;
    edge_sse_t *st = g_queue_peek_tail(&s->streams);
    char json[96];
    edge_sse_send(st, "{\"keep\":0}", 10, false);
    for (int i = 0; i < 200; i++) {
        int n = snprintf(json, sizeof json, "{\"type\":\"reply_delta\",\"text\":\"delta-%03d\"}", i);
        edge_sse_send(st, json, (size_t)n, true);
    }
    edge_sse_send(st, "{\"keep\":1}", 10, false);
    *dropped = edge_sse_dropped(st);
    char *huge = malloc(4096);
    memset(huge, 'x', 4096);
    if (edge_sse_send(st, huge, 4096, false) != -EMSGSIZE || edge_sse_dropped(st) != *dropped + 1) {
        fprintf(stderr, "an event larger than the whole queue was taken\n");   /* it is dropped and counted */
        s_failures++;
    }
    free(huge);
}

static void s_test_events(s_server_t *s)
{
    s_resp_t r = { 0 };
    s_sse_t c, c2;
    const char *const sdp_type[] = { "Content-Type: application/sdp", NULL };

    /* Unknown, malformed, and not a session's: 404 with a reason. */
    CHECK_INT(s_sse_open(&c, s->port, "/whip/0123456789abcdef0123456789abcdef/events", NULL), 404);
    CHECK(s_has(c.data->str, "no such WHIP session"));
    s_sse_close(&c);
    CHECK_INT(s_sse_open(&c, s->port, "/whip/0123456789ABCDEF0123456789abcdef/events", NULL), 404);
    s_sse_close(&c);
    CHECK_INT(s_sse_open(&c, s->port, "/ws/0123456789abcdef0123456789abcdef/events", NULL), 404);
    CHECK(s_has(c.data->str, "no such WebSocket session"));
    s_sse_close(&c);

    s_request(NULL, &r, s->port, "POST", "/whip", sdp_type, "v=0\r\nanswer-sync\r\n", 18, 0);
    CHECK_INT(r.status, 201);
    char loc[128], path[160], ready[160];
    snprintf(loc, sizeof loc, "%s", s_header(&r, "location"));
    snprintf(path, sizeof path, "%s/events", loc);
    s_request(NULL, &r, s->port, "POST", path, sdp_type, "x", 1, 0);
    CHECK_INT(r.status, 405);
    CHECK(s_has(s_header(&r, "allow"), "GET"));
    s_request(NULL, &r, s->port, "OPTIONS", path, NULL, NULL, 0, 0);
    CHECK_INT(r.status, 204);
    CHECK(s_has(s_header(&r, "access-control-allow-methods"), "GET"));

    /* The stream: headers, then the backend's events framed one per
     * data: line and a blank line. */
    int opens0 = g_atomic_int_get(&s->sse_opens), closes0 = g_atomic_int_get(&s->sse_closes);
    CHECK_INT(s_sse_open(&c, s->port, path, NULL), 200);
    CHECK(s_has(s_head_value(c.head, "content-type"), "text/event-stream"));
    CHECK(s_has(s_head_value(c.head, "cache-control"), "no-store"));
    CHECK(s_has(s_head_value(c.head, "connection"), "close"));
    CHECK(s_has(s_head_value(c.head, "access-control-allow-origin"), "*"));
    CHECK(s_head_value(c.head, "content-length")[0] == '\0');
    CHECK(s_head_value(c.head, "transfer-encoding")[0] == '\0');
    snprintf(ready, sizeof ready, "data: {\"type\":\"ready\",\"session\":\"%s\"}\n\n", loc + 6);
    CHECK(s_sse_until(&c, ready));
    CHECK_INT(g_atomic_int_get(&s->sse_opens), opens0 + 1);
    s_push_t p = { "{\"type\":\"final\",\"text\":\"hi\"}", false, 0 };
    s_on_loop(s, s_sse_push, &p);
    CHECK_INT(p.rc, 0);
    CHECK(s_sse_until(&c, "\n\ndata: {\"type\":\"final\",\"text\":\"hi\"}\n\n"));
    p = (s_push_t){ "one\ntwo\r\nthree\rfour", false, 0 };
    s_on_loop(s, s_sse_push, &p);
    CHECK(s_sse_until(&c, "\n\ndata: one\ndata: two\ndata: three\ndata: four\n\n"));
    CHECK(!strchr(c.data->str, '\r'));
    s_request(NULL, &r, s->port, "GET", "/metrics", NULL, NULL, 0, 0);
    CHECK(s_has(r.body->str, "voxmesh_edge_event_streams 1"));
    CHECK(s_has(r.body->str, "voxmesh_edge_event_streams_refused_total 3"));

    /* A second stream of the session; DELETE ends both: a last "end"
     * event, then the connection closes, and the backend lets go. */
    CHECK_INT(s_sse_open(&c2, s->port, path, NULL), 200);
    CHECK(s_sse_until(&c2, ready));
    s_request(NULL, &r, s->port, "DELETE", loc, NULL, NULL, 0, 0);
    CHECK_INT(r.status, 200);
    CHECK(s_sse_until(&c, "data: {\"type\":\"end\",\"reason\":\"session deleted\"}\n\n"));
    CHECK(s_sse_eof(&c));
    CHECK(s_sse_until(&c2, "\"type\":\"end\""));
    CHECK(s_sse_eof(&c2));
    s_sse_close(&c);
    s_sse_close(&c2);
    CHECK(s_wait_int(&s->sse_closes, closes0 + 2));
    CHECK_INT(s_sse_open(&c, s->port, path, NULL), 404);
    s_sse_close(&c);

    /* The backend ends the session itself: the same. */
    s_request(NULL, &r, s->port, "POST", "/whip", sdp_type, "v=0\r\nanswer-sync\r\n", 18, 0);
    snprintf(loc, sizeof loc, "%s", s_header(&r, "location"));
    snprintf(path, sizeof path, "%s/events", loc);
    CHECK_INT(s_sse_open(&c, s->port, path, NULL), 200);
    CHECK(s_sse_until(&c, "\"type\":\"ready\""));
    s_on_loop(s, s_end_session, loc + 6);
    CHECK(s_sse_until(&c, "data: {\"type\":\"end\",\"reason\":\"session ended\"}\n\n"));
    CHECK(s_sse_eof(&c));
    s_sse_close(&c);
    CHECK(s_wait_int(&s->sse_closes, closes0 + 3));

    /* The backend refuses (its reason, 404), or ends a stream itself
     * (after what it queued); a client that leaves is let go of. */
    s_request(NULL, &r, s->port, "POST", "/whip", sdp_type, "v=0\r\nanswer-sync\r\n", 18, 0);
    snprintf(loc, sizeof loc, "%s", s_header(&r, "location"));
    snprintf(path, sizeof path, "%s/events", loc);
    g_atomic_int_set(&s->refuse_sse, 1);
    CHECK_INT(s_sse_open(&c, s->port, path, NULL), 404);
    CHECK(s_has(c.data->str, "the feed is off"));
    s_sse_close(&c);
    g_atomic_int_set(&s->refuse_sse, 0);
    CHECK_INT(s_sse_open(&c, s->port, path, NULL), 200);
    CHECK(s_sse_until(&c, "\"type\":\"ready\""));
    p = (s_push_t){ "{\"last\":true}", false, 0 };
    s_on_loop(s, s_sse_push, &p);
    int late = 0;
    s_on_loop(s, s_sse_end_newest, &late);
    CHECK_INT(late, -EPIPE);
    CHECK(s_sse_eof(&c));
    CHECK(s_has(c.data->str, "data: {\"last\":true}\n\n"));
    CHECK(!strstr(c.data->str, "too"));
    s_sse_close(&c);
    CHECK(s_wait_int(&s->sse_closes, closes0 + 4));
    CHECK_INT(s_sse_open(&c, s->port, path, NULL), 200);
    CHECK(s_sse_until(&c, "\"type\":\"ready\""));
    s_sse_close(&c);                            /* the client goes away */
    CHECK(s_wait_int(&s->sse_closes, closes0 + 5));
    s_request(NULL, &r, s->port, "GET", "/metrics", NULL, NULL, 0, 0);
    CHECK(s_has(r.body->str, "voxmesh_edge_event_streams 0"));
    s_request(NULL, &r, s->port, "DELETE", loc, NULL, NULL, 0, 0);
    CHECK_INT(r.status, 200);

    /* A WebSocket session's stream, by the id its "accepted" gave; it ends
     * with the connection. */
    s_ws_t ws;
    unsigned char *data;
    size_t len;
    int code;
    CHECK_INT(s_wsc_open(&ws, s->port, "/ws", NULL, NULL), 101);
    s_ws_frame(&ws, 1, true, HELLO_PCM16, strlen(HELLO_PCM16));
    CHECK_INT(s_ws_read_data(&ws, &data, &len, &code), 1);
    const char *sid = data ? strstr((char *)data, "\"session_id\":\"") : NULL;
    CHECK(sid != NULL);
    if (sid) {
        snprintf(path, sizeof path, "/ws/%.*s/events", WHIP_ID_LEN, sid + 14);
        CHECK_INT(s_sse_open(&c, s->port, path, NULL), 200);
        CHECK(s_sse_until(&c, "\"type\":\"ready\""));
        s_ws_close_fd(&ws);
        CHECK(s_sse_until(&c, "\"type\":\"end\""));
        CHECK(s_sse_eof(&c));
        s_sse_close(&c);
    }
    free(data);
    s_ws_close_fd(&ws);
    CHECK(s_wait_int(&s->sse_closes, closes0 + 6));
    CHECK_INT(g_atomic_int_get(&s->sse_opens), opens0 + 6);
    s_resp_clear(&r);
}

/* The token (header or ?token=, on this endpoint only), the limits per
 * session and in total, keep-alives, and a full queue. */
static void s_test_events_limits(void)
{
    edge_http_config_t cfg;
    edge_http_config_defaults(&cfg);
    cfg.port = 0;
    cfg.bearer_token = "s3cret";
    cfg.max_session_streams = 2;
    cfg.max_event_streams = 3;
    cfg.sse_queue_bytes = 2048;
    cfg.sse_keepalive_ms = 100;
    s_server_t *s = s_server_start(&cfg);
    s_resp_t r = { 0 };
    const char *const sdp_auth[] = { "Content-Type: application/sdp", "Authorization: Bearer s3cret", NULL };
    char a[128], b[128], path[200];
    s_request(NULL, &r, s->port, "POST", "/whip", sdp_auth, "v=0\r\nanswer-sync\r\n", 18, 0);
    CHECK_INT(r.status, 201);
    snprintf(a, sizeof a, "%s/events", s_header(&r, "location"));
    s_request(NULL, &r, s->port, "POST", "/whip", sdp_auth, "v=0\r\nanswer-sync\r\n", 18, 0);
    CHECK_INT(r.status, 201);
    snprintf(b, sizeof b, "%s/events", s_header(&r, "location"));

    s_sse_t c[5];
    CHECK_INT(s_sse_open(&c[0], s->port, a, NULL), 401);
    CHECK(s_has(s_head_value(c[0].head, "www-authenticate"), "Bearer"));
    s_sse_close(&c[0]);
    snprintf(path, sizeof path, "%s?token=nope", a);
    CHECK_INT(s_sse_open(&c[0], s->port, path, NULL), 401);
    s_sse_close(&c[0]);
    snprintf(path, sizeof path, "%s?access_token=s3cret", a);
    CHECK_INT(s_sse_open(&c[0], s->port, path, NULL), 401);
    s_sse_close(&c[0]);
    snprintf(path, sizeof path, "%s?token=s3cret", a);
    CHECK_INT(s_sse_open(&c[0], s->port, path, NULL), 200);
    CHECK_INT(s_sse_open(&c[1], s->port, a, "Authorization: Bearer s3cret\r\n"), 200);
    CHECK_INT(s_sse_open(&c[2], s->port, path, NULL), 429);
    CHECK(s_has(c[2].data->str, "too many event streams for this session (2)"));
    CHECK(s_head_value(c[2].head, "retry-after")[0] != '\0');
    s_sse_close(&c[2]);
    snprintf(path, sizeof path, "%s?token=s3cret", b);
    CHECK_INT(s_sse_open(&c[2], s->port, path, NULL), 200);
    CHECK_INT(s_sse_open(&c[3], s->port, path, NULL), 503);
    CHECK(s_has(c[3].data->str, "too many event streams"));
    s_sse_close(&c[3]);
    /* The WebSocket's query name is not this endpoint's, and the other way round. */
    s_ws_t ws;
    CHECK_INT(s_wsc_open(&ws, s->port, "/ws?token=s3cret", NULL, NULL), 101);
    {
        unsigned char *d;
        size_t l;
        int code = 0;
        CHECK_INT(s_ws_read_data(&ws, &d, &l, &code), 1);
        CHECK(s_has((char *)d, "missing or wrong bearer token"));
        free(d);
    }
    s_ws_close_fd(&ws);

    /* An idle stream hears a comment line now and then. */
    CHECK(s_sse_until(&c[0], ": keepalive\n\n"));

    /* A full queue drops the oldest deltas first; kept events survive. */
    uint64_t dropped = 0;
    s_on_loop(s, s_sse_flood, &dropped);
    CHECK(dropped > 100);
    CHECK(s_sse_until(&c[2], "data: {\"keep\":1}\n\n"));
    const char *text = c[2].data->str;
    CHECK(s_has(text, "data: {\"keep\":0}\n\n"));
    CHECK(s_has(text, "delta-199"));
    CHECK(!strstr(text, "delta-000"));
    int seen = 0, prev = -1;
    bool ordered = true;
    for (const char *q = strstr(text, "delta-"); q; q = strstr(q + 1, "delta-")) {
        int v = atoi(q + 6);
        if (prev >= 0 && v != prev + 1) ordered = false;   /* the newest, in order, no gaps */
        prev = v;
        seen++;
    }
    CHECK(ordered);
    CHECK_INT(seen + (int)dropped, 200);
    s_request(NULL, &r, s->port, "GET", "/metrics", (const char *const[]){ "Authorization: Bearer s3cret", NULL },
              NULL, 0, 0);
    char want[96];
    snprintf(want, sizeof want, "voxmesh_edge_events_dropped_total %d", (int)dropped + 1);   /* + the huge one */
    CHECK(s_has(r.body->str, want));
    CHECK(s_has(r.body->str, "voxmesh_edge_event_streams 3"));

    /* Shutdown with streams open: each is let go of exactly once. */
    s_server_halt(s);
    CHECK_INT(g_atomic_int_get(&s->sse_closes), g_atomic_int_get(&s->sse_opens));
    CHECK_INT(g_atomic_int_get(&s->sse_opens), 3);
    for (int i = 0; i < 3; i++) {
        CHECK(s_sse_eof(&c[i]));
        s_sse_close(&c[i]);
    }
    CHECK_INT(g_atomic_int_get(&s->live), 0);
    s_resp_clear(&r);
    s_server_free(&s);
}

/* Idle CPU: the glib event lib must not spin (lws issue #1963 reported 100%
 * CPU with an earlier glib integration). */
static void s_test_idle_cpu(s_server_t *s)
{
    /* An open event stream, and one whose client has left. */
    s_resp_t r = { 0 };
    const char *const sdp_type[] = { "Content-Type: application/sdp", NULL };
    s_request(NULL, &r, s->port, "POST", "/whip", sdp_type, "v=0\r\nanswer-sync\r\n", 18, 0);
    char loc[128], path[160];
    snprintf(loc, sizeof loc, "%s", s_header(&r, "location"));
    snprintf(path, sizeof path, "%s/events", loc);
    s_sse_t open_stream, gone;
    CHECK_INT(s_sse_open(&open_stream, s->port, path, NULL), 200);
    CHECK(s_sse_until(&open_stream, "\"type\":\"ready\""));
    CHECK_INT(s_sse_open(&gone, s->port, path, NULL), 200);
    CHECK(s_sse_until(&gone, "\"type\":\"ready\""));
    shutdown(gone.fd, SHUT_WR);
    s_ws_t ws;
    CHECK_INT(s_wsc_open(&ws, s->port, "/ws", NULL, NULL), 101);
    s_ws_frame(&ws, 1, true, HELLO_PCM16, strlen(HELLO_PCM16));
    unsigned char *data;
    size_t len;
    int code;
    CHECK_INT(s_ws_read_data(&ws, &data, &len, &code), 1);
    free(data);
    int idle = s_connect(s->port);      /* a connection that never sends */
    struct rusage a, b;
    getrusage(RUSAGE_SELF, &a);
    g_usleep(1000000);
    getrusage(RUSAGE_SELF, &b);
    long us = (b.ru_utime.tv_sec - a.ru_utime.tv_sec) * 1000000L + (b.ru_utime.tv_usec - a.ru_utime.tv_usec)
              + (b.ru_stime.tv_sec - a.ru_stime.tv_sec) * 1000000L + (b.ru_stime.tv_usec - a.ru_stime.tv_usec);
    printf("idle cpu over 1 s: %ld us\n", us);
    CHECK(us < 100000);
    close(idle);
    s_ws_close_fd(&ws);
    CHECK(s_sse_eof(&gone));                    /* the server noticed and closed it */
    s_sse_close(&gone);
    s_request(NULL, &r, s->port, "DELETE", loc, NULL, NULL, 0, 0);
    CHECK_INT(r.status, 200);
    CHECK(s_sse_eof(&open_stream));
    s_sse_close(&open_stream);
    s_resp_clear(&r);
}

/* Shutdown with everything open: every session freed exactly once, even
 * the one whose answer comes after the server is gone. */
static void s_test_destroy(void)
{
    edge_http_config_t cfg;
    edge_http_config_defaults(&cfg);
    cfg.port = 0;
    cfg.max_ws = 1;
    s_server_t *s = s_server_start(&cfg);
    s_resp_t r = { 0 };
    const char *const sdp_type[] = { "Content-Type: application/sdp", NULL };
    s_request(NULL, &r, s->port, "POST", "/whip", sdp_type, "v=0\r\nanswer-sync\r\n", 18, 0);
    CHECK_INT(r.status, 201);
    s_request(NULL, &r, s->port, "POST", "/whip", sdp_type, "v=0\r\nhold\r\n", 11, 200);
    CHECK(r.rc == CURLE_OPERATION_TIMEDOUT);
    CHECK(s_wait_int(&s->offers, 2));
    s_ws_t ws;
    CHECK_INT(s_wsc_open(&ws, s->port, "/ws", NULL, NULL), 101);
    s_ws_frame(&ws, 1, true, HELLO_PCM16, strlen(HELLO_PCM16));
    unsigned char *data;
    size_t len;
    int code;
    CHECK_INT(s_ws_read_data(&ws, &data, &len, &code), 1);
    free(data);
    s_ws_t ws2;                                 /* over max_ws: 1013 */
    CHECK_INT(s_wsc_open(&ws2, s->port, "/ws", NULL, NULL), 101);
    CHECK_INT(s_ws_read_data(&ws2, &data, &len, &code), 1);
    CHECK(s_has((char *)data, "too many connections"));
    free(data);
    CHECK_INT(s_ws_read_data(&ws2, &data, &len, &code), 8);
    CHECK_INT(code, 1013);
    free(data);
    s_ws_close_fd(&ws2);
    int pending_client = s_connect(s->port);   /* mid-request at shutdown */
    const char *partial = "POST /whip HTTP/1.1\r\nContent-Length: 10\r\n";
    CHECK(write(pending_client, partial, strlen(partial)) == (ssize_t)strlen(partial));
    s_server_halt(s);
    CHECK_INT(g_atomic_int_get(&s->deletes), 1);
    CHECK_INT(g_atomic_int_get(&s->ws_closes), 1);
    CHECK_INT(g_atomic_int_get(&s->live), 0);
    /* The backend answers the held offer late: it gets its session back. */
    int status = 201;
    s_answer_held(s, &status);
    CHECK_INT(g_atomic_int_get(&s->deletes), 2);
    CHECK_INT(g_atomic_int_get(&s->live), 0);
    close(pending_client);
    s_ws_close_fd(&ws);
    s_resp_clear(&r);
    s_server_free(&s);
}

/* ---- main ---------------------------------------------------------------------------- */

static gboolean s_serve_quit(gpointer loop)
{
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

static int s_serve(int port)
{
    edge_http_config_t cfg;
    edge_http_config_defaults(&cfg);
    cfg.port = port;
    s_server_t s;
    memset(&s, 0, sizeof s);
    s.fake_sdp = true;
    g_queue_init(&s.held);
    s.sessions = g_hash_table_new(g_str_hash, g_str_equal);
    GMainLoop *loop = g_main_loop_new(NULL, FALSE);
    s.ctx = g_main_loop_get_context(loop);
    s.loop = loop;
    s.http = edge_http_new(&cfg, &s_backend, &s, loop);
    if (!s.http)
        return 1;
    printf("serving the fake backend on http://127.0.0.1:%d/\n", edge_http_port(s.http));
    fflush(stdout);
    g_unix_signal_add(SIGINT, s_serve_quit, loop);
    g_unix_signal_add(SIGTERM, s_serve_quit, loop);
    g_main_loop_run(loop);
    edge_http_destroy(&s.http);
    g_main_loop_unref(loop);
    return 0;
}

int main(int argc, char **argv)
{
    log_init("http_test", getenv("HTTP_TEST_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN, false);
    if (argc == 3 && !strcmp(argv[1], "--serve"))
        return s_serve(atoi(argv[2]));
    curl_global_init(CURL_GLOBAL_DEFAULT);

    edge_http_config_t cfg;
    edge_http_config_defaults(&cfg);
    cfg.port = 0;
    cfg.ws_queue_bytes = 64 * 1024;
    s_server_t *s = s_server_start(&cfg);
    CHECK(s->port > 0);

    s_test_basic_routes(s);
    s_test_whip(s);
    s_test_whip_async_edges(s);
    s_test_held_answer(s);
    s_test_ws(s);
    s_test_events(s);
    s_test_idle_cpu(s);
    s_server_halt(s);
    CHECK_INT(g_atomic_int_get(&s->live), 0);
    s_server_free(&s);

    s_test_auth_and_limits();
    s_test_events_limits();
    s_test_destroy();

    curl_global_cleanup();
    if (s_failures) {
        fprintf(stderr, "http_test: %d failures\n", s_failures);
        return 1;
    }
    printf("http_test: ok\n");
    return 0;
}
