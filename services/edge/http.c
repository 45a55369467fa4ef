/* http — see http.h and docs/edge-http.md.
 *
 * libwebsockets runs on the worker's GLib main loop through its glib event
 * library (LWS_SERVER_OPTION_GLIB + foreign_loops; lws 4.1 dlopen()s
 * libwebsockets-evlib_glib.so for it), so lws callbacks, libnice and the
 * backend all run on one thread and need no locks or hand-offs.
 *
 * One callback serves both protocols (HTTP and WebSocket); per connection lws
 * keeps an s_pss_t that points at the current HTTP request or at the
 * WebSocket connection. Responses are built when decided and written from
 * the WRITEABLE callbacks, which lets a WHIP request wait for the backend's
 * asynchronous answer without blocking anything. An event stream (GET
 * /whip/<id>/events) is an HTTP response that never completes: its headers,
 * then whatever the backend queues, written from the same callback. */
#include "http.h"

#include <errno.h>
#include <glib-unix.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "log.h"
#include "www.h"

extern const www_file_t edge_www_files[];

#define S_PROTOCOL "voxmesh.audio.v1"
#define S_HDR_MAX 2048              /* response header block */
#define S_CHUNK 16384               /* response body bytes per writeable */
#define S_EXPOSE "Location, ETag, Link"
#define S_ALLOW_HEADERS "Authorization, Content-Type, If-Match"
#define S_PROM_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define S_WS_RX_DEFAULT (256 * 1024)
#define S_WS_TRY_AGAIN_LATER 1013   /* RFC 6455 registry; lws 4.1 has no name for it */
#define S_EVENTS_SUFFIX "/events"

typedef enum { M_OTHER, M_GET, M_HEAD, M_POST, M_PUT, M_PATCH, M_DELETE, M_OPTIONS } s_method_t;

typedef enum {
    R_NOT_FOUND, R_HEALTH, R_METRICS, R_STATIC, R_WHIP, R_WHIP_RES, R_WS,
    R_EVENTS_WHIP, R_EVENTS_WS,     /* /whip/<id>/events, /ws/<id>/events */
} s_route_t;

typedef struct s_req s_req_t;

struct edge_whip_reply {
    edge_http_t *http;              /* NULL once the server is destroyed */
    s_req_t *req;                   /* NULL once the client is gone or timed out */
    edge_http_backend_t backend;    /* copies: a late answer may outlive http */
    void *arg;
    bool is_patch;
    char id[WHIP_ID_LEN + 1];
    GSource *timeout;
    GList link;                     /* in http->replies */
};

struct s_req {
    edge_http_t *http;
    struct lws *wsi;
    s_method_t method;
    s_route_t route;
    char id[WHIP_ID_LEN + 1];
    const www_file_t *file;
    /* request body */
    bool want_body;                 /* POST /whip, PATCH /whip/<id> accepted so far */
    bool body_pending;              /* lws still delivers body bytes */
    bool if_match_any;
    char *body;
    size_t body_len, body_cap;
    /* pending backend answer */
    edge_whip_reply_t *reply;
    /* response */
    bool have_response;
    bool headers_sent;
    bool close_after;               /* unread body or fatal: close, no keep-alive */
    unsigned char *hdr;             /* LWS_PRE + S_HDR_MAX */
    size_t hdr_len;
    const unsigned char *out;
    size_t out_len, out_off;
    char *out_owned;
};

typedef enum { WS_AWAIT_HELLO, WS_OPEN, WS_CLOSING } s_ws_state_t;

typedef struct {
    size_t len;
    unsigned char buf[];            /* LWS_PRE + len */
} s_msg_t;

struct edge_ws {
    edge_http_t *http;
    struct lws *wsi;
    char id[WHIP_ID_LEN + 1];
    char peer[64];
    s_ws_state_t state;
    bool accepted;                  /* ws_open said yes: ws_close is due */
    ws_hello_t hello;
    void *user;
    GSource *hello_timer;
    /* reassembly */
    unsigned char *rx;
    size_t rx_len, rx_cap;
    bool rx_binary, rx_overflow;
    /* sending */
    s_msg_t *ctrl;                  /* text message sent before any audio */
    GQueue txq;                     /* s_msg_t */
    size_t tx_bytes;
    bool close_pending;
    int close_code;
    char close_reason[124];
    uint64_t rx_msgs, tx_msgs, dropped_msgs, dropped_bytes;
    GList link;                     /* in http->conns */
};

/* One queued server-sent event, already framed ("data: ...\n\n"). */
typedef struct {
    size_t len;
    bool droppable;
    char text[];
} s_event_t;

struct edge_sse {
    edge_http_t *http;
    struct lws *wsi;
    char id[WHIP_ID_LEN + 1];       /* the session */
    bool accepted;                  /* events_open said yes: events_close is due */
    bool closing;                   /* nothing more is queued; close after the queue */
    bool headers_sent;
    bool keepalive_due;
    bool wrote;                     /* since the last keep-alive tick */
    unsigned char *hdr;             /* LWS_PRE + S_HDR_MAX */
    size_t hdr_len;
    GQueue queue;                   /* s_event_t */
    size_t queue_bytes;
    uint64_t sent, dropped;
    GSource *hangup;                /* watches the socket for the client's close */
    GList link;                     /* in http->streams */
};

typedef struct {
    s_req_t *req;
    edge_ws_t *ws;
    edge_sse_t *sse;
} s_pss_t;

struct edge_http {
    edge_http_config_t cfg;
    char *listen_addr, *bearer_token, *cors_origin;
    edge_http_backend_t backend;
    void *arg;
    GMainLoop *loop;
    GMainContext *gctx;
    struct lws_context *lws;
    struct lws_vhost *vhost;
    struct lws_protocols protocols[3];
    lws_retry_bo_t retry;
    int port;
    whip_table_t *whip;
    GQueue replies;                 /* pending edge_whip_reply_t */
    GQueue conns;                   /* edge_ws_t */
    GQueue streams;                 /* edge_sse_t */
    GSource *keepalive;             /* pings idle event streams */
    bool destroying;
    log_ratelimit_t rl;
    /* counters for /metrics */
    uint64_t responses[6];          /* by status class 1xx..5xx, [0] unused */
    uint64_t whip_created, whip_deleted, whip_dropped, whip_timeouts;
    uint64_t ws_accepted, ws_refused, ws_rx_msgs, ws_rx_bytes, ws_tx_msgs, ws_tx_bytes;
    uint64_t ws_dropped_msgs, ws_dropped_bytes;
    uint64_t sse_opened, sse_refused, sse_events, sse_dropped;
};

static log_ratelimit_t s_lws_rl = LOG_RATELIMIT_INIT(10000, 20);

/* ---- small helpers --------------------------------------------------------- */

static void s_lws_log(int level, const char *line)
{
    uint64_t suppressed = 0;
    if (!log_ratelimit_ok(&s_lws_rl, &suppressed))
        return;
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    int ours = level & LLL_ERR ? LOG_LEVEL_WARN : LOG_LEVEL_DEBUG;
    log_msg(ours, "lws: %.*s%s", (int)n, line, suppressed ? " (earlier lws lines suppressed)" : "");
}

static bool s_peer_log_ok(edge_http_t *http)
{
    return log_ratelimit_ok(&http->rl, NULL);
}

/* Case-insensitive media type comparison ignoring parameters. */
static bool s_media_type_is(const char *value, const char *want)
{
    while (*value == ' ' || *value == '\t') value++;
    size_t n = strlen(want);
    if (strncasecmp(value, want, n) != 0)
        return false;
    char c = value[n];
    return c == '\0' || c == ';' || c == ' ' || c == '\t';
}

/* Constant-time comparison: the token must not leak through timing. */
static bool s_token_equal(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    unsigned char diff = (unsigned char)(alen != blen);
    for (size_t i = 0; i < alen; i++)
        diff |= (unsigned char)(a[i] ^ (i < blen ? b[i] : 0));
    return diff == 0;
}

static int s_hdr(struct lws *wsi, enum lws_token_indexes t, char *buf, size_t size)
{
    buf[0] = '\0';
    if (lws_hdr_total_length(wsi, t) <= 0)
        return 0;
    return lws_hdr_copy(wsi, buf, (int)size, t);
}

static s_method_t s_method(struct lws *wsi)
{
    static const struct { enum lws_token_indexes t; s_method_t m; } map[] = {
        { WSI_TOKEN_GET_URI, M_GET }, { WSI_TOKEN_POST_URI, M_POST },
        { WSI_TOKEN_OPTIONS_URI, M_OPTIONS }, { WSI_TOKEN_PUT_URI, M_PUT },
        { WSI_TOKEN_PATCH_URI, M_PATCH }, { WSI_TOKEN_DELETE_URI, M_DELETE },
        { WSI_TOKEN_HEAD_URI, M_HEAD },
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (lws_hdr_total_length(wsi, map[i].t) > 0)
            return map[i].m;
    return M_OTHER;
}

static const char *s_allow(s_route_t route)
{
    switch (route) {
    case R_WHIP: return "POST, OPTIONS";
    case R_WHIP_RES: return "PATCH, DELETE, OPTIONS";
    case R_EVENTS_WHIP: case R_EVENTS_WS: return "GET, OPTIONS";
    default: return "GET, HEAD, OPTIONS";
    }
}

/* `rest` is "<id>/events": copies the id when it is well-formed. */
static bool s_events_path(const char *rest, char *id_out)
{
    char id[WHIP_ID_LEN + 1];
    if (strlen(rest) != WHIP_ID_LEN + strlen(S_EVENTS_SUFFIX) || strcmp(rest + WHIP_ID_LEN, S_EVENTS_SUFFIX))
        return false;
    memcpy(id, rest, WHIP_ID_LEN);
    id[WHIP_ID_LEN] = '\0';
    if (whip_id_valid(id))
        memcpy(id_out, id, sizeof id);
    return true;                    /* a malformed id: the route, with no id (404) */
}

static s_route_t s_route(const char *path, char *id_out, const www_file_t **file)
{
    id_out[0] = '\0';
    if (!strcmp(path, "/health")) return R_HEALTH;
    if (!strcmp(path, "/metrics")) return R_METRICS;
    if (!strcmp(path, "/whip")) return R_WHIP;
    if (!strcmp(path, "/ws")) return R_WS;
    if (!strncmp(path, "/whip/", 6) && s_events_path(path + 6, id_out)) return R_EVENTS_WHIP;
    if (!strncmp(path, "/ws/", 4) && s_events_path(path + 4, id_out)) return R_EVENTS_WS;
    if (!strncmp(path, "/whip/", 6)) {
        /* Malformed ids stay R_WHIP_RES with an empty id: a 404, not a 400,
         * so that probing learns nothing about the id format. */
        if (whip_id_valid(path + 6))
            memcpy(id_out, path + 6, WHIP_ID_LEN + 1);
        return R_WHIP_RES;
    }
    *file = www_find(edge_www_files, path);
    return *file ? R_STATIC : R_NOT_FOUND;
}

/* ---- HTTP responses ----------------------------------------------------------- */

static void s_req_free(s_req_t *req);
static int s_headers(edge_http_t *http, struct lws *wsi, unsigned char *buf, int status, const char *ctype,
                     bool has_len, size_t len, const char *cache, bool close, const char *const *extra);
static void s_sse_end_session(edge_http_t *http, const char *id, const char *reason);

/* Builds the response of req: status, content type (NULL = none), a body
 * (copied when `copy`), and extra headers as NULL-terminated name/value pairs
 * ("location:", "/whip/x", ...). It is written from HTTP_WRITEABLE. */
static void s_respond(s_req_t *req, int status, const char *ctype, const void *body, size_t len,
                      bool copy, const char *const *extra)
{
    edge_http_t *http = req->http;
    struct lws *wsi = req->wsi;
    if (req->have_response)
        return;                     /* the first decision wins */
    req->have_response = true;
    if (status >= 100 && status < 600)
        http->responses[status / 100]++;
    if (!req->hdr)
        req->hdr = malloc(LWS_PRE + S_HDR_MAX);
    if (!req->hdr) {
        req->close_after = true;
        lws_callback_on_writable(wsi);
        return;
    }
    if (req->method == M_HEAD)
        copy = false;
    if (copy && len) {
        req->out_owned = malloc(len);
        if (req->out_owned)
            memcpy(req->out_owned, body, len);
        else
            len = 0;
        body = req->out_owned;
    }
    req->out = body;
    req->out_len = req->method == M_HEAD ? 0 : len;
    req->out_off = 0;
    /* RFC 9110 6.4.1: no Content-Length in a 204 (or 1xx). */
    int n = s_headers(http, wsi, req->hdr, status, ctype, status != 204, len,
                      req->route == R_STATIC ? "no-cache" : "no-store", req->close_after, extra);
    if (n < 0) {
        log_error("http: response header block overflow (status %d)", status);
        req->close_after = true;
        req->hdr_len = 0;
    } else {
        req->hdr_len = (size_t)n;
    }
    /* Bytes of the request body still on the way would be read as the next
     * request; answer when they are in (they are bounded by max_body). */
    if (!req->body_pending)
        lws_callback_on_writable(wsi);
}

/* Builds a response header block into buf (LWS_PRE + S_HDR_MAX): status,
 * content type (NULL = none), Content-Length when `has_len`, the CORS and
 * cache headers every response carries, `extra` NULL-terminated name/value
 * pairs, and Connection: close when `close`. Returns its length, or -1. */
static int s_headers(edge_http_t *http, struct lws *wsi, unsigned char *buf, int status, const char *ctype,
                     bool has_len, size_t len, const char *cache, bool close, const char *const *extra)
{
    unsigned char *start = buf + LWS_PRE, *p = start, *end = start + S_HDR_MAX;
    bool bad = lws_add_http_header_status(wsi, (unsigned)status, &p, end) != 0;
    if (ctype)
        bad |= lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                            (const unsigned char *)ctype, (int)strlen(ctype), &p, end) != 0;
    if (has_len)
        bad |= lws_add_http_header_content_length(wsi, len, &p, end) != 0;
    const char *origin = http->cors_origin;
    bad |= lws_add_http_header_by_name(wsi, (const unsigned char *)"access-control-allow-origin:",
                                       (const unsigned char *)origin, (int)strlen(origin), &p, end) != 0;
    bad |= lws_add_http_header_by_name(wsi, (const unsigned char *)"access-control-expose-headers:",
                                       (const unsigned char *)S_EXPOSE, (int)strlen(S_EXPOSE), &p, end) != 0;
    if (strcmp(origin, "*") != 0)
        bad |= lws_add_http_header_by_name(wsi, (const unsigned char *)"vary:",
                                           (const unsigned char *)"Origin", 6, &p, end) != 0;
    bad |= lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                       (const unsigned char *)cache, (int)strlen(cache), &p, end) != 0;
    bad |= lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
                                       (const unsigned char *)"nosniff", 7, &p, end) != 0;
    for (const char *const *kv = extra; kv && kv[0]; kv += 2)
        bad |= lws_add_http_header_by_name(wsi, (const unsigned char *)kv[0],
                                           (const unsigned char *)kv[1], (int)strlen(kv[1]), &p, end) != 0;
    if (close)
        bad |= lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
                                            (const unsigned char *)"close", 5, &p, end) != 0;
    bad |= lws_finalize_http_header(wsi, &p, end) != 0;
    return bad ? -1 : (int)(p - start);
}

/* A text/plain response carrying a reason for the client. */
static void s_respond_text(s_req_t *req, int status, const char *reason, const char *const *extra)
{
    char body[512];
    int n = snprintf(body, sizeof body, "%s\n", reason);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof body) n = sizeof body - 1;
    s_respond(req, status, "text/plain; charset=utf-8", body, (size_t)n, true, extra);
}

/* Writes the next piece of req's response; returns -1 to close the
 * connection, 0 otherwise. */
static int s_write_response(s_req_t *req, s_pss_t *pss)
{
    struct lws *wsi = req->wsi;
    if (!req->hdr_len)
        return -1;
    if (!req->headers_sent) {
        req->headers_sent = true;
        if (lws_write(wsi, req->hdr + LWS_PRE, req->hdr_len, LWS_WRITE_HTTP_HEADERS) != (int)req->hdr_len)
            return -1;
        if (req->out_len) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    } else if (req->out_off < req->out_len) {
        unsigned char buf[LWS_PRE + S_CHUNK];
        size_t n = req->out_len - req->out_off;
        if (n > S_CHUNK) n = S_CHUNK;
        memcpy(buf + LWS_PRE, req->out + req->out_off, n);
        req->out_off += n;
        bool last = req->out_off == req->out_len;
        if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
            return -1;
        if (!last) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    bool close = req->close_after;
    pss->req = NULL;
    s_req_free(req);
    if (close)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ---- WHIP ------------------------------------------------------------------ */

static void s_reply_free(edge_whip_reply_t *reply)
{
    if (reply->timeout) {
        g_source_destroy(reply->timeout);
        g_source_unref(reply->timeout);
        reply->timeout = NULL;
    }
    free(reply);
}

/* Separates a reply from its request (the client left or was answered). */
static void s_reply_orphan(edge_whip_reply_t *reply)
{
    if (reply->req)
        reply->req->reply = NULL;
    reply->req = NULL;
}

static gboolean s_reply_timeout(gpointer data)
{
    edge_whip_reply_t *reply = data;
    edge_http_t *http = reply->http;
    g_source_unref(reply->timeout);
    reply->timeout = NULL;
    http->whip_timeouts++;
    log_warn("whip %s: no %s answer from the backend within %u ms", reply->id,
             reply->is_patch ? "PATCH" : "offer", http->cfg.answer_timeout_ms);
    if (reply->req)
        s_respond_text(reply->req, 504, "the media server did not answer in time", NULL);
    s_reply_orphan(reply);
    if (reply->backend.whip_cancel)
        reply->backend.whip_cancel(reply->arg, reply);
    return G_SOURCE_REMOVE;
}

static edge_whip_reply_t *s_reply_new(s_req_t *req, bool is_patch)
{
    edge_http_t *http = req->http;
    edge_whip_reply_t *reply = calloc(1, sizeof *reply);
    if (!reply)
        return NULL;
    reply->http = http;
    reply->req = req;
    reply->backend = http->backend;
    reply->arg = http->arg;
    reply->is_patch = is_patch;
    memcpy(reply->id, req->id, sizeof reply->id);
    reply->link.data = reply;
    g_queue_push_tail_link(&http->replies, &reply->link);
    if (http->cfg.answer_timeout_ms) {
        reply->timeout = g_timeout_source_new(http->cfg.answer_timeout_ms);
        g_source_set_callback(reply->timeout, s_reply_timeout, reply, NULL);
        g_source_attach(reply->timeout, http->gctx);
    }
    req->reply = reply;
    return reply;
}

static void s_whip_offer(s_req_t *req)
{
    edge_http_t *http = req->http;
    if (!req->body_len) {
        s_respond_text(req, 400, "malformed SDP: empty offer", NULL);
        return;
    }
    int rc = whip_table_reserve(http->whip, req->id);
    if (rc == -EBUSY) {
        if (s_peer_log_ok(http))
            log_warn("whip: refusing an offer: %zu sessions, the maximum", http->cfg.max_sessions);
        s_respond_text(req, 503, "too many sessions", (const char *const[]){ "retry-after:", "10", NULL });
        return;
    }
    if (rc < 0) {
        log_error("whip: cannot reserve a session: %s", strerror(-rc));
        s_respond_text(req, 500, "internal error", NULL);
        return;
    }
    edge_whip_reply_t *reply = s_reply_new(req, false);
    if (!reply) {
        whip_table_remove(http->whip, req->id);
        s_respond_text(req, 500, "internal error", NULL);
        return;
    }
    log_debug("whip %s: offer of %zu bytes", req->id, req->body_len);
    /* The backend may answer inside this call; the answer path copes. */
    http->backend.whip_offer(http->arg, reply->id, req->body, req->body_len, reply);
}

static void s_whip_patch(s_req_t *req)
{
    edge_http_t *http = req->http;
    void *session;
    if (!whip_table_lookup(http->whip, req->id, &session, NULL)) {
        s_respond_text(req, 404, "no such WHIP session", NULL);
        return;
    }
    if (!req->body_len) {
        s_respond_text(req, 400, "empty sdpfrag", NULL);
        return;
    }
    edge_whip_reply_t *reply = s_reply_new(req, true);
    if (!reply) {
        s_respond_text(req, 500, "internal error", NULL);
        return;
    }
    http->backend.whip_patch(http->arg, req->id, session, req->body, req->body_len,
                             req->if_match_any, reply);
}

void edge_http_whip_answer(edge_whip_reply_t *reply, int status, const char *body, void *session)
{
    if (!reply)
        return;
    edge_http_t *http = reply->http;
    bool created = !reply->is_patch && status == 201 && body;
    if (!http) {
        /* The server is gone: only the backend's session needs care. */
        if (created && reply->backend.whip_delete)
            reply->backend.whip_delete(reply->arg, reply->id, session);
        s_reply_free(reply);
        return;
    }
    g_queue_unlink(&http->replies, &reply->link);
    s_req_t *req = reply->req;
    s_reply_orphan(reply);

    if (!reply->is_patch) {
        if (!req) {
            whip_table_remove(http->whip, reply->id);
            http->whip_dropped++;
            log_info("whip %s: answer %d dropped, the client is gone", reply->id, status);
            if (created && http->backend.whip_delete)
                http->backend.whip_delete(http->arg, reply->id, session);
        } else if (created) {
            char etag[WHIP_ETAG_LEN + 1], qetag[WHIP_ETAG_LEN + 3], loc[8 + WHIP_ID_LEN];
            if (whip_table_commit(http->whip, reply->id, session, etag) < 0) {
                log_error("whip %s: answered twice or after removal", reply->id);
                s_respond_text(req, 500, "internal error", NULL);
            } else {
                snprintf(qetag, sizeof qetag, "\"%s\"", etag);
                snprintf(loc, sizeof loc, "/whip/%s", reply->id);
                http->whip_created++;
                log_info("whip %s: created", reply->id);
                s_respond(req, 201, "application/sdp", body, strlen(body), true,
                          (const char *const[]){ "location:", loc, "etag:", qetag, NULL });
            }
        } else {
            whip_table_remove(http->whip, reply->id);
            if (status >= 400 && status < 600) {
                if (s_peer_log_ok(http))
                    log_info("whip %s: offer refused: %d %s", reply->id, status, body ? body : "");
                s_respond_text(req, status, body ? body : "refused", NULL);
            } else {
                log_error("whip %s: backend answered an offer with %d%s", reply->id, status,
                          status == 201 ? " and no SDP" : "");
                if (status == 201 && http->backend.whip_delete)
                    http->backend.whip_delete(http->arg, reply->id, session);
                s_respond_text(req, 500, "internal error", NULL);
            }
        }
        s_reply_free(reply);
        return;
    }

    /* PATCH */
    if (req) {
        if (status == 204) {
            s_respond(req, 204, NULL, NULL, 0, false, NULL);
        } else if (status == 200 && body) {
            char etag[WHIP_ETAG_LEN + 1], qetag[WHIP_ETAG_LEN + 3];
            if (whip_table_new_etag(http->whip, reply->id, etag) < 0) {
                s_respond_text(req, 404, "no such WHIP session", NULL);
            } else {
                snprintf(qetag, sizeof qetag, "\"%s\"", etag);
                log_info("whip %s: ICE restart", reply->id);
                s_respond(req, 200, "application/trickle-ice-sdpfrag", body, strlen(body), true,
                          (const char *const[]){ "etag:", qetag, NULL });
            }
        } else if (status >= 400 && status < 600) {
            s_respond_text(req, status, body ? body : "refused", NULL);
        } else {
            log_error("whip %s: backend answered a PATCH with %d", reply->id, status);
            s_respond_text(req, 500, "internal error", NULL);
        }
    }
    s_reply_free(reply);
}

const char *edge_whip_reply_id(edge_whip_reply_t *reply)
{
    return reply ? reply->id : NULL;
}

int edge_http_whip_end(edge_http_t *http, const char *session_id)
{
    if (!http || !whip_table_lookup(http->whip, session_id, NULL, NULL))
        return -ENOENT;
    whip_table_remove(http->whip, session_id);
    http->whip_deleted++;
    log_info("whip %s: ended by the media server", session_id);
    s_sse_end_session(http, session_id, "session ended");
    return 0;
}

/* ---- HTTP requests ------------------------------------------------------------ */

static void s_req_free(s_req_t *req)
{
    if (!req)
        return;
    if (req->reply) {
        edge_whip_reply_t *reply = req->reply;
        s_reply_orphan(reply);
        if (reply->backend.whip_cancel)
            reply->backend.whip_cancel(reply->arg, reply);
    }
    free(req->body);
    free(req->hdr);
    free(req->out_owned);
    free(req);
}

/* `query` names the URL parameter ("token=") that may carry the token
 * where a browser cannot set a header (WebSocket, EventSource); NULL: none. */
static bool s_authorized(edge_http_t *http, struct lws *wsi, const char *query)
{
    const char *token = http->bearer_token;
    if (!token)
        return true;
    char buf[512];
    int n = s_hdr(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, buf, sizeof buf);
    if (n > 7 && !strncasecmp(buf, "Bearer ", 7)) {
        const char *t = buf + 7;
        while (*t == ' ') t++;
        size_t len = strlen(t);
        while (len && (t[len - 1] == ' ' || t[len - 1] == '\t')) len--;
        return s_token_equal(t, len, token);
    }
    /* Browsers cannot set headers on a WebSocket or an EventSource: the
     * token in the query (RFC 6750 2.3), only when there is no
     * Authorization header at all. */
    if (query && lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) <= 0) {
        const char *v = lws_get_urlarg_by_name(wsi, query, buf, (int)sizeof buf);
        if (v)
            return s_token_equal(v, strlen(v), token);
    }
    return false;
}

static void s_unauthorized(s_req_t *req, bool had_credentials)
{
    s_respond_text(req, 401, "missing or wrong bearer token",
                   (const char *const[]){ "www-authenticate:",
                                          had_credentials ? "Bearer realm=\"voxmesh\", error=\"invalid_token\""
                                                          : "Bearer realm=\"voxmesh\"",
                                          NULL });
}

static void s_health(s_req_t *req)
{
    edge_http_t *http = req->http;
    size_t n = http->backend.session_count ? http->backend.session_count(http->arg)
                                           : whip_table_live(http->whip) + g_queue_get_length(&http->conns);
    char body[96];
    int len = snprintf(body, sizeof body, "{\"status\":\"ok\",\"sessions\":%zu}\n", n);
    s_respond(req, 200, "application/json", body, (size_t)len, true, NULL);
}

static void s_metric(GString *s, const char *name, const char *type, const char *help, uint64_t v)
{
    g_string_append_printf(s, "# HELP %s %s\n# TYPE %s %s\n%s %" G_GUINT64_FORMAT "\n",
                           name, help, name, type, name, (guint64)v);
}

static void s_metrics(s_req_t *req)
{
    edge_http_t *http = req->http;
    GString *s = g_string_sized_new(2048);
    g_string_append(s, "# HELP voxmesh_edge_http_responses_total HTTP responses by status class.\n"
                       "# TYPE voxmesh_edge_http_responses_total counter\n");
    for (int c = 1; c <= 5; c++)
        g_string_append_printf(s, "voxmesh_edge_http_responses_total{code=\"%dxx\"} %" G_GUINT64_FORMAT "\n",
                               c, (guint64)http->responses[c]);
    s_metric(s, "voxmesh_edge_whip_sessions", "gauge", "Live WHIP resources.", whip_table_live(http->whip));
    s_metric(s, "voxmesh_edge_whip_pending", "gauge", "WHIP offers waiting for an answer.",
             whip_table_size(http->whip) - whip_table_live(http->whip));
    s_metric(s, "voxmesh_edge_whip_created_total", "counter", "WHIP resources created.", http->whip_created);
    s_metric(s, "voxmesh_edge_whip_deleted_total", "counter", "WHIP resources deleted or ended.",
             http->whip_deleted);
    s_metric(s, "voxmesh_edge_whip_answers_dropped_total", "counter",
             "WHIP answers dropped because the client was gone.", http->whip_dropped);
    s_metric(s, "voxmesh_edge_whip_answer_timeouts_total", "counter",
             "WHIP requests answered 504 for want of a backend answer.", http->whip_timeouts);
    s_metric(s, "voxmesh_edge_ws_connections", "gauge", "Open WebSocket connections.",
             g_queue_get_length(&http->conns));
    s_metric(s, "voxmesh_edge_ws_accepted_total", "counter", "WebSocket hellos accepted.", http->ws_accepted);
    s_metric(s, "voxmesh_edge_ws_refused_total", "counter", "WebSocket connections refused.", http->ws_refused);
    s_metric(s, "voxmesh_edge_ws_rx_messages_total", "counter", "Audio messages received.", http->ws_rx_msgs);
    s_metric(s, "voxmesh_edge_ws_rx_bytes_total", "counter", "Audio bytes received.", http->ws_rx_bytes);
    s_metric(s, "voxmesh_edge_ws_tx_messages_total", "counter", "Audio messages sent.", http->ws_tx_msgs);
    s_metric(s, "voxmesh_edge_ws_tx_bytes_total", "counter", "Audio bytes sent.", http->ws_tx_bytes);
    s_metric(s, "voxmesh_edge_ws_tx_dropped_messages_total", "counter",
             "Audio messages dropped on full send queues.", http->ws_dropped_msgs);
    s_metric(s, "voxmesh_edge_ws_tx_dropped_bytes_total", "counter",
             "Audio bytes dropped on full send queues.", http->ws_dropped_bytes);
    s_metric(s, "voxmesh_edge_event_streams", "gauge", "Open event streams (GET .../events).",
             g_queue_get_length(&http->streams));
    s_metric(s, "voxmesh_edge_event_streams_opened_total", "counter", "Event streams opened.", http->sse_opened);
    s_metric(s, "voxmesh_edge_event_streams_refused_total", "counter",
             "Event streams refused (no such session, limits).", http->sse_refused);
    s_metric(s, "voxmesh_edge_events_sent_total", "counter", "Events written to event streams.", http->sse_events);
    s_metric(s, "voxmesh_edge_events_dropped_total", "counter",
             "Events dropped on full event stream queues.", http->sse_dropped);
    if (http->backend.metrics)
        http->backend.metrics(http->arg, s);
    s_respond(req, 200, S_PROM_TYPE, s->str, s->len, true, NULL);
    g_string_free(s, TRUE);
}

static void s_preflight(s_req_t *req)
{
    const char *allow = s_allow(req->route);
    const char *const post[] = {
        "allow:", allow, "access-control-allow-methods:", allow,
        "access-control-allow-headers:", S_ALLOW_HEADERS, "access-control-max-age:", "86400",
        "accept-post:", "application/sdp", NULL,
    };
    const char *const other[] = {
        "allow:", allow, "access-control-allow-methods:", allow,
        "access-control-allow-headers:", S_ALLOW_HEADERS, "access-control-max-age:", "86400", NULL,
    };
    s_respond(req, 204, NULL, NULL, 0, false, req->route == R_WHIP ? post : other);
}

static bool s_method_allowed(s_route_t route, s_method_t m)
{
    switch (route) {
    case R_WHIP: return m == M_POST;
    case R_WHIP_RES: return m == M_PATCH || m == M_DELETE;
    case R_EVENTS_WHIP: case R_EVENTS_WS: return m == M_GET;
    default: return m == M_GET || m == M_HEAD;
    }
}

/* Checks the framing of a request that carries a body; false = answered. */
static bool s_body_framing_ok(s_req_t *req)
{
    edge_http_t *http = req->http;
    char buf[64];
    if (s_hdr(req->wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING, buf, sizeof buf) != 0) {
        /* lws 4.1 does not de-chunk request bodies. */
        req->close_after = true;
        s_respond_text(req, 411, "a Content-Length is required", NULL);
        return false;
    }
    if (s_hdr(req->wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, buf, sizeof buf) > 0) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(buf, &end, 10);
        if (errno || *end || buf[0] == '-' || n > http->cfg.max_body) {
            /* Not worth reading: answer and close instead. */
            req->close_after = true;
            char reason[96];
            snprintf(reason, sizeof reason, "request body larger than %zu bytes", http->cfg.max_body);
            s_respond_text(req, 413, reason, NULL);
            return false;
        }
        req->body_pending = n > 0;
    }
    return true;
}

static void s_events_open(s_req_t *req, s_pss_t *pss);

static void s_on_http(edge_http_t *http, struct lws *wsi, s_pss_t *pss, const char *uri)
{
    s_req_free(pss->req);
    s_req_t *req = pss->req = calloc(1, sizeof *req);
    if (!req)
        return;
    req->http = http;
    req->wsi = wsi;
    req->method = s_method(wsi);
    req->route = s_route(uri, req->id, &req->file);

    /* A body announced but not wanted is still read (bounded) so that the
     * connection can be kept alive; s_respond() answers once it is in. */
    bool has_body = req->method == M_POST || req->method == M_PATCH || req->method == M_PUT
                    || req->method == M_DELETE;
    if (has_body && !s_body_framing_ok(req))
        return;

    if (req->route == R_NOT_FOUND) {
        s_respond_text(req, 404, "not found", NULL);
        return;
    }
    if (req->method == M_OPTIONS) {
        s_preflight(req);
        return;
    }
    bool events = req->route == R_EVENTS_WHIP || req->route == R_EVENTS_WS;
    if (req->route != R_STATIC && !s_authorized(http, wsi, events ? "token=" : NULL)) {
        char buf[8];
        s_unauthorized(req, s_hdr(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, buf, sizeof buf) != 0);
        return;
    }
    if (!s_method_allowed(req->route, req->method)) {
        s_respond_text(req, 405, "method not allowed",
                       (const char *const[]){ "allow:", s_allow(req->route), NULL });
        return;
    }
    switch (req->route) {
    case R_HEALTH:
        s_health(req);
        return;
    case R_METRICS:
        s_metrics(req);
        return;
    case R_STATIC:
        s_respond(req, 200, req->file->content_type, req->file->data, req->file->len, false, NULL);
        return;
    case R_WS:
        s_respond_text(req, 426, "this is a WebSocket endpoint",
                       (const char *const[]){ "upgrade:", "websocket", NULL });
        return;
    case R_EVENTS_WHIP:
    case R_EVENTS_WS:
        s_events_open(req, pss);
        return;
    case R_WHIP: {
        char ctype[128];
        if (!http->backend.whip_offer) {
            s_respond_text(req, 501, "WHIP is not available on this server", NULL);
            return;
        }
        if (s_hdr(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, ctype, sizeof ctype) <= 0
            || !s_media_type_is(ctype, "application/sdp")) {
            s_respond_text(req, 415, "Content-Type must be application/sdp",
                           (const char *const[]){ "accept-post:", "application/sdp", NULL });
            return;
        }
        req->want_body = true;
        break;
    }
    case R_WHIP_RES: {
        void *session;
        const char *etag;
        if (!whip_table_lookup(http->whip, req->id, &session, &etag)) {
            s_respond_text(req, 404, "no such WHIP session", NULL);
            return;
        }
        if (req->method == M_DELETE) {
            whip_table_remove(http->whip, req->id);
            http->whip_deleted++;
            log_info("whip %s: deleted by the client", req->id);
            s_sse_end_session(http, req->id, "session deleted");
            if (http->backend.whip_delete)
                http->backend.whip_delete(http->arg, req->id, session);
            s_respond(req, 200, NULL, NULL, 0, false, NULL);
            return;
        }
        if (!http->backend.whip_patch) {
            s_respond_text(req, 405, "trickle ICE and ICE restarts are not supported",
                           (const char *const[]){ "allow:", "DELETE, OPTIONS", NULL });
            return;
        }
        char ctype[128], match[256];
        if (s_hdr(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, ctype, sizeof ctype) <= 0
            || !s_media_type_is(ctype, "application/trickle-ice-sdpfrag")) {
            s_respond_text(req, 415, "Content-Type must be application/trickle-ice-sdpfrag", NULL);
            return;
        }
        int n = s_hdr(wsi, WSI_TOKEN_HTTP_IF_MATCH, match, sizeof match);
        if (n == 0) {
            s_respond_text(req, 428, "If-Match with the session's ETag is required", NULL);
            return;
        }
        int m = n < 0 ? -1 : whip_if_match(match, etag);
        if (m < 0) {
            s_respond_text(req, 400, "malformed If-Match", NULL);
            return;
        }
        if (m == 0) {
            s_respond_text(req, 412, "ETag mismatch: the ICE session has changed", NULL);
            return;
        }
        req->if_match_any = m == 2;
        req->want_body = true;
        break;
    }
    case R_NOT_FOUND:
        break;
    }
    /* A request without a body is complete now. */
    if (!req->body_pending) {
        if (req->route == R_WHIP)
            s_whip_offer(req);
        else
            s_whip_patch(req);
    }
}

static void s_on_body(s_req_t *req, const void *in, size_t len)
{
    if (!req->want_body || req->have_response)
        return;                     /* draining an unwanted body */
    size_t max = req->http->cfg.max_body;
    if (req->body_len + len > max) {
        /* Content-Length was checked; this only guards lws surprises. */
        req->want_body = false;
        s_respond_text(req, 413, "request body too large", NULL);
        return;
    }
    if (req->body_len + len + 1 > req->body_cap) {
        size_t cap = req->body_cap ? req->body_cap : 4096;
        while (cap < req->body_len + len + 1) cap *= 2;
        char *b = realloc(req->body, cap);
        if (!b) {
            req->want_body = false;
            s_respond_text(req, 500, "internal error", NULL);
            return;
        }
        req->body = b;
        req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, in, len);
    req->body_len += len;
    req->body[req->body_len] = '\0';
}

static void s_on_body_done(s_req_t *req)
{
    req->body_pending = false;
    if (req->have_response) {
        lws_callback_on_writable(req->wsi);
        return;
    }
    if (!req->want_body)
        return;
    if (!req->body) {
        req->body = calloc(1, 1);
        if (!req->body) {
            s_respond_text(req, 500, "internal error", NULL);
            return;
        }
    }
    if (req->route == R_WHIP)
        s_whip_offer(req);
    else
        s_whip_patch(req);
}

/* ---- WebSocket ------------------------------------------------------------------ */

static s_msg_t *s_msg_new(const void *data, size_t len)
{
    s_msg_t *m = malloc(sizeof *m + LWS_PRE + len);
    if (!m)
        return NULL;
    m->len = len;
    if (len)
        memcpy(m->buf + LWS_PRE, data, len);
    return m;
}

static void s_ws_clear_queue(edge_ws_t *conn)
{
    s_msg_t *m;
    while ((m = g_queue_pop_head(&conn->txq)))
        free(m);
    conn->tx_bytes = 0;
}

static void s_ws_stop_hello_timer(edge_ws_t *conn)
{
    if (conn->hello_timer) {
        g_source_destroy(conn->hello_timer);
        g_source_unref(conn->hello_timer);
        conn->hello_timer = NULL;
    }
}

/* Refuses or ends the connection: sends {"type":"error"} and closes. */
static void s_ws_fail(edge_ws_t *conn, int code, const char *reason)
{
    edge_http_t *http = conn->http;
    s_ws_stop_hello_timer(conn);
    if (conn->state == WS_CLOSING)
        return;
    if (!conn->accepted)
        http->ws_refused++;
    if (s_peer_log_ok(http))
        log_info("ws %s: closing (%d) from %s: %s", conn->id, code, conn->peer, reason);
    conn->state = WS_CLOSING;
    s_ws_clear_queue(conn);
    char json[WS_HELLO_REASON_MAX * 6 + 64];
    int n = ws_hello_error_json(json, sizeof json, reason);
    free(conn->ctrl);
    conn->ctrl = n > 0 ? s_msg_new(json, (size_t)n) : NULL;
    conn->close_pending = true;
    conn->close_code = code;
    snprintf(conn->close_reason, sizeof conn->close_reason, "%s", reason);
    lws_callback_on_writable(conn->wsi);
}

static void s_ws_hello(edge_ws_t *conn, const unsigned char *data, size_t len, bool binary)
{
    edge_http_t *http = conn->http;
    char reason[WS_HELLO_REASON_MAX];
    if (binary) {
        s_ws_fail(conn, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, "first message must be a hello");
        return;
    }
    ws_hello_t hello;
    if (ws_hello_parse((const char *)data, len, &hello, reason, sizeof reason) < 0) {
        s_ws_fail(conn, LWS_CLOSE_STATUS_POLICY_VIOLATION, reason);
        return;
    }
    if (!http->backend.ws_open) {
        s_ws_fail(conn, LWS_CLOSE_STATUS_POLICY_VIOLATION, "WebSocket audio is not available");
        return;
    }
    conn->hello = hello;
    const char *why = NULL;
    if (http->backend.ws_open(http->arg, conn, &hello, &why) < 0) {
        s_ws_fail(conn, LWS_CLOSE_STATUS_POLICY_VIOLATION, why ? why : "refused");
        return;
    }
    s_ws_stop_hello_timer(conn);
    conn->accepted = true;
    conn->state = WS_OPEN;
    http->ws_accepted++;
    char json[256];
    int n = ws_hello_accepted_json(json, sizeof json, conn->id, &hello);
    free(conn->ctrl);
    conn->ctrl = n > 0 ? s_msg_new(json, (size_t)n) : NULL;
    log_info("ws %s: accepted %s/%d from %s", conn->id, ws_format_name(hello.format),
             hello.sample_rate, conn->peer);
    lws_callback_on_writable(conn->wsi);
}

static void s_ws_message(edge_ws_t *conn, const unsigned char *data, size_t len, bool binary)
{
    edge_http_t *http = conn->http;
    switch (conn->state) {
    case WS_AWAIT_HELLO:
        s_ws_hello(conn, data, len, binary);
        break;
    case WS_OPEN:
        if (!binary) {
            if (s_peer_log_ok(http))
                log_debug("ws %s: ignoring a text message after the hello", conn->id);
            break;
        }
        conn->rx_msgs++;
        http->ws_rx_msgs++;
        http->ws_rx_bytes += len;
        if (http->backend.ws_audio)
            http->backend.ws_audio(http->arg, conn, data, len);
        break;
    case WS_CLOSING:
        break;
    }
}

static void s_ws_receive(edge_ws_t *conn, struct lws *wsi, const unsigned char *in, size_t len)
{
    edge_http_t *http = conn->http;
    if (conn->state == WS_CLOSING)
        return;
    bool first = lws_is_first_fragment(wsi), last = lws_is_final_fragment(wsi);
    if (first) {
        conn->rx_len = 0;
        conn->rx_binary = lws_frame_is_binary(wsi);
        conn->rx_overflow = false;
    }
    /* The common case, a whole message in one piece, skips the copy. */
    if (first && last) {
        s_ws_message(conn, in, len, conn->rx_binary);
        return;
    }
    size_t limit = conn->state == WS_AWAIT_HELLO ? WS_HELLO_MAX_LEN + 1 : http->cfg.ws_max_message;
    if (conn->rx_len + len > limit) {
        if (conn->state == WS_AWAIT_HELLO) {
            s_ws_fail(conn, LWS_CLOSE_STATUS_POLICY_VIOLATION, "hello longer than 1024 bytes");
        } else {
            char reason[64];
            snprintf(reason, sizeof reason, "message larger than %zu bytes", limit);
            s_ws_fail(conn, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, reason);
        }
        return;
    }
    if (conn->rx_len + len > conn->rx_cap) {
        size_t cap = conn->rx_cap ? conn->rx_cap : 4096;
        while (cap < conn->rx_len + len) cap *= 2;
        unsigned char *b = realloc(conn->rx, cap);
        if (!b) {
            s_ws_fail(conn, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
            return;
        }
        conn->rx = b;
        conn->rx_cap = cap;
    }
    memcpy(conn->rx + conn->rx_len, in, len);
    conn->rx_len += len;
    if (last) {
        size_t n = conn->rx_len;
        conn->rx_len = 0;
        s_ws_message(conn, conn->rx, n, conn->rx_binary);
    }
}

/* Writes one message (lws allows one write per WRITEABLE); -1 closes. */
static int s_ws_writeable(edge_ws_t *conn, struct lws *wsi)
{
    edge_http_t *http = conn->http;
    s_msg_t *m = NULL;
    enum lws_write_protocol kind = LWS_WRITE_BINARY;
    if (conn->ctrl) {
        m = conn->ctrl;
        conn->ctrl = NULL;
        kind = LWS_WRITE_TEXT;
    } else if ((m = g_queue_pop_head(&conn->txq))) {
        conn->tx_bytes -= m->len;
        conn->tx_msgs++;
        http->ws_tx_msgs++;
        http->ws_tx_bytes += m->len;
    }
    if (m) {
        int n = lws_write(wsi, m->buf + LWS_PRE, m->len, kind);
        size_t len = m->len;
        free(m);
        if (n < (int)len)
            return -1;
        if (conn->ctrl || conn->txq.length || conn->close_pending)
            lws_callback_on_writable(wsi);
        return 0;
    }
    if (conn->close_pending) {
        lws_close_reason(wsi, (enum lws_close_status)conn->close_code,
                         (unsigned char *)conn->close_reason, strlen(conn->close_reason));
        return -1;
    }
    return 0;
}

static gboolean s_ws_hello_timeout(gpointer data)
{
    edge_ws_t *conn = data;
    g_source_unref(conn->hello_timer);
    conn->hello_timer = NULL;
    char reason[64];
    snprintf(reason, sizeof reason, "no hello within %u ms", conn->http->cfg.ws_hello_timeout_ms);
    s_ws_fail(conn, LWS_CLOSE_STATUS_POLICY_VIOLATION, reason);
    return G_SOURCE_REMOVE;
}

static edge_ws_t *s_ws_new(edge_http_t *http, struct lws *wsi)
{
    edge_ws_t *conn = calloc(1, sizeof *conn);
    if (!conn)
        return NULL;
    if (whip_random_hex(conn->id, WHIP_ID_BYTES) < 0) {
        free(conn);
        return NULL;
    }
    conn->http = http;
    conn->wsi = wsi;
    g_queue_init(&conn->txq);
    lws_get_peer_simple(wsi, conn->peer, sizeof conn->peer);
    conn->link.data = conn;
    g_queue_push_tail_link(&http->conns, &conn->link);
    /* A connection that never says hello would hold a slot forever. */
    conn->hello_timer = g_timeout_source_new(http->cfg.ws_hello_timeout_ms);
    g_source_set_callback(conn->hello_timer, s_ws_hello_timeout, conn, NULL);
    g_source_attach(conn->hello_timer, http->gctx);
    return conn;
}

static void s_ws_gone(edge_ws_t *conn)
{
    edge_http_t *http = conn->http;
    g_queue_unlink(&http->conns, &conn->link);
    s_ws_stop_hello_timer(conn);
    conn->state = WS_CLOSING;
    if (conn->accepted && !http->destroying)
        s_sse_end_session(http, conn->id, "session ended");
    if (conn->accepted) {
        log_info("ws %s: closed (rx %" G_GUINT64_FORMAT " msgs, tx %" G_GUINT64_FORMAT
                 ", dropped %" G_GUINT64_FORMAT ")", conn->id, (guint64)conn->rx_msgs,
                 (guint64)conn->tx_msgs, (guint64)conn->dropped_msgs);
        if (http->backend.ws_close)
            http->backend.ws_close(http->arg, conn);
    }
    s_ws_clear_queue(conn);
    free(conn->ctrl);
    free(conn->rx);
    free(conn);
}

int edge_ws_send(edge_ws_t *conn, const uint8_t *data, size_t len)
{
    if (!conn || conn->state == WS_CLOSING || conn->close_pending)
        return -EPIPE;
    edge_http_t *http = conn->http;
    size_t limit = http->cfg.ws_queue_bytes;
    if (len > limit) {
        conn->dropped_msgs++;
        conn->dropped_bytes += len;
        http->ws_dropped_msgs++;
        http->ws_dropped_bytes += len;
        return -EMSGSIZE;
    }
    /* Drop the oldest: for live audio the newest matters most, and a
     * slow client must not grow the edge's memory. */
    uint64_t dropped = 0;
    while (conn->tx_bytes + len > limit) {
        s_msg_t *old = g_queue_pop_head(&conn->txq);
        if (!old)
            break;
        conn->tx_bytes -= old->len;
        conn->dropped_msgs++;
        conn->dropped_bytes += old->len;
        http->ws_dropped_msgs++;
        http->ws_dropped_bytes += old->len;
        dropped++;
        free(old);
    }
    if (dropped && s_peer_log_ok(http))
        log_warn("ws %s: send queue full, dropped %" G_GUINT64_FORMAT " old messages (%"
                 G_GUINT64_FORMAT " in total)", conn->id, (guint64)dropped, (guint64)conn->dropped_msgs);
    s_msg_t *m = s_msg_new(data, len);
    if (!m)
        return -ENOMEM;
    g_queue_push_tail(&conn->txq, m);
    conn->tx_bytes += len;
    lws_callback_on_writable(conn->wsi);
    return 0;
}

void edge_ws_close(edge_ws_t *conn, const char *reason)
{
    if (!conn || conn->state == WS_CLOSING || conn->close_pending)
        return;
    conn->close_pending = true;
    conn->close_code = LWS_CLOSE_STATUS_NORMAL;
    snprintf(conn->close_reason, sizeof conn->close_reason, "%s", reason ? reason : "");
    log_info("ws %s: closing: %s", conn->id, reason ? reason : "by the server");
    lws_callback_on_writable(conn->wsi);
}

const char *edge_ws_id(edge_ws_t *conn)
{
    return conn ? conn->id : NULL;
}

const ws_hello_t *edge_ws_hello(edge_ws_t *conn)
{
    return conn ? &conn->hello : NULL;
}

void edge_ws_set_user(edge_ws_t *conn, void *user)
{
    if (conn)
        conn->user = user;
}

void *edge_ws_user(edge_ws_t *conn)
{
    return conn ? conn->user : NULL;
}

uint64_t edge_ws_dropped(edge_ws_t *conn)
{
    return conn ? conn->dropped_msgs : 0;
}

/* ---- event streams (server-sent events) ------------------------------------------ */

static void s_sse_free(edge_sse_t *sse)
{
    if (sse->hangup) {
        g_source_destroy(sse->hangup);
        g_source_unref(sse->hangup);
    }
    s_event_t *e;
    while ((e = g_queue_pop_head(&sse->queue)))
        free(e);
    free(sse->hdr);
    free(sse);
}

/* The client is gone (or the server is going): the backend lets go. */
static void s_sse_gone(edge_sse_t *sse)
{
    if (!sse)
        return;
    edge_http_t *http = sse->http;
    g_queue_unlink(&http->streams, &sse->link);
    log_debug("events %s: stream closed (%" G_GUINT64_FORMAT " sent, %" G_GUINT64_FORMAT " dropped)",
              sse->id, (guint64)sse->sent, (guint64)sse->dropped);
    if (sse->accepted && http->backend.events_close)
        http->backend.events_close(http->arg, sse);
    s_sse_free(sse);
}

/* Frames `data` as one event: a `data:` line per line of it, then a blank
 * line (the event's end). A lone CR or CRLF also ends an SSE line, so every
 * kind of line break becomes a new data: line and none reaches the client
 * raw. */
static s_event_t *s_sse_frame(const char *data, size_t len, bool droppable)
{
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        if (data[i] == '\n' || data[i] == '\r') lines++;
    s_event_t *e = malloc(sizeof *e + len + lines * 7 + 2);
    if (!e)
        return NULL;
    char *p = e->text;
    memcpy(p, "data: ", 6);
    p += 6;
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\r' || data[i] == '\n') {
            if (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n') i++;
            memcpy(p, "\ndata: ", 7);
            p += 7;
        } else {
            *p++ = data[i];
        }
    }
    *p++ = '\n';
    *p++ = '\n';
    e->len = (size_t)(p - e->text);
    e->droppable = droppable;
    return e;
}

static void s_sse_drop(edge_sse_t *sse, GList *l)
{
    s_event_t *e = l->data;
    g_queue_delete_link(&sse->queue, l);
    sse->queue_bytes -= e->len;
    sse->dropped++;
    sse->http->sse_dropped++;
    free(e);
}

/* Queues an event even on a closing stream (the last one, "end"). */
static int s_sse_queue(edge_sse_t *sse, const char *data, size_t len, bool droppable)
{
    edge_http_t *http = sse->http;
    size_t limit = http->cfg.sse_queue_bytes;
    s_event_t *e = s_sse_frame(data, len, droppable);
    if (!e)
        return -ENOMEM;
    if (e->len > limit) {
        free(e);
        sse->dropped++;
        http->sse_dropped++;
        return -EMSGSIZE;
    }
    /* A client that does not read must not grow the edge's memory, and the
     * loop never waits for it: make room, superseded events first (a
     * partial transcript or a reply delta is repeated by the final or the
     * sentence that follows). The scan is linear in a queue of at most
     * sse_queue_bytes, and only runs when the queue is full. */
    uint64_t dropped0 = sse->dropped;
    while (sse->queue_bytes + e->len > limit && sse->queue.length) {
        GList *victim = sse->queue.head;
        for (GList *l = sse->queue.head; l; l = l->next)
            if (((s_event_t *)l->data)->droppable) {
                victim = l;
                break;
            }
        s_sse_drop(sse, victim);
    }
    if (sse->dropped > dropped0 && s_peer_log_ok(http))
        log_warn("events %s: stream queue full, dropped %" G_GUINT64_FORMAT " old event(s) (%" G_GUINT64_FORMAT
                 " in total)", sse->id, (guint64)(sse->dropped - dropped0), (guint64)sse->dropped);
    g_queue_push_tail(&sse->queue, e);
    sse->queue_bytes += e->len;
    lws_callback_on_writable(sse->wsi);
    return 0;
}

int edge_sse_send(edge_sse_t *stream, const char *data, size_t len, bool droppable)
{
    if (!stream || stream->closing)
        return -EPIPE;
    return s_sse_queue(stream, data, len, droppable);
}

void edge_sse_close(edge_sse_t *stream)
{
    if (!stream || stream->closing)
        return;
    stream->closing = true;
    lws_callback_on_writable(stream->wsi);
}

const char *edge_sse_session(edge_sse_t *stream)
{
    return stream ? stream->id : NULL;
}

uint64_t edge_sse_dropped(edge_sse_t *stream)
{
    return stream ? stream->dropped : 0;
}

/* The session is over: each of its streams gets a last event saying so
 * (the page then closes its EventSource instead of reconnecting to a 404)
 * and ends after its queue. */
static void s_sse_end_session(edge_http_t *http, const char *id, const char *reason)
{
    for (GList *l = http->streams.head; l; l = l->next) {
        edge_sse_t *sse = l->data;
        if (sse->closing || strcmp(sse->id, id) != 0)
            continue;
        char json[160];
        int n = snprintf(json, sizeof json, "{\"type\":\"end\",\"reason\":\"%s\"}", reason);
        s_sse_queue(sse, json, (size_t)n, false);
        sse->closing = true;
    }
}

/* The client's side of a stream: it never sends anything after its
 * request, so readable means it closed (or misbehaves): end the stream. */
static gboolean s_sse_on_hangup(gint fd, GIOCondition cond, gpointer data)
{
    (void)cond;
    edge_sse_t *sse = data;
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return G_SOURCE_CONTINUE;
    log_debug("events %s: %s", sse->id, n == 0 ? "the client closed the stream" : "unexpected bytes from the client");
    g_source_unref(sse->hangup);
    sse->hangup = NULL;
    s_event_t *e;
    while ((e = g_queue_pop_head(&sse->queue)))
        free(e);
    sse->queue_bytes = 0;
    sse->closing = true;
    lws_callback_on_writable(sse->wsi);
    return G_SOURCE_REMOVE;
}

/* lws 4.1 never reads an HTTP/1 connection whose transaction goes on (an
 * event stream's does, for good), so it would miss the client's close, and
 * the loop would spin on the closed socket's standing POLLIN (lws issue
 * #2455; measured: a core). So the stream watches the socket itself and
 * ends at the first byte or EOF. (Turning lws's own POLLIN off with rx flow
 * control instead stalls its writes on this connection in 4.1.6.) */
static void s_sse_watch_hangup(edge_sse_t *sse)
{
    int fd = lws_get_socket_fd(sse->wsi);
    if (fd < 0)
        return;
    sse->hangup = g_unix_fd_source_new(fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
    g_source_set_callback(sse->hangup, (GSourceFunc)(void (*)(void))s_sse_on_hangup, sse, NULL);
    g_source_attach(sse->hangup, sse->http->gctx);
}

/* Writes the headers, then the queued events (as many as fit one write),
 * a keep-alive comment when one is due, or closes once a closing stream's
 * queue is empty. Returns -1 to close the connection. */
static int s_sse_writeable(edge_sse_t *sse)
{
    edge_http_t *http = sse->http;
    struct lws *wsi = sse->wsi;
    if (!sse->headers_sent) {
        sse->headers_sent = true;
        if (lws_write(wsi, sse->hdr + LWS_PRE, sse->hdr_len, LWS_WRITE_HTTP_HEADERS) != (int)sse->hdr_len)
            return -1;
        free(sse->hdr);
        sse->hdr = NULL;
        /* No idle timeout from here on. (lws_http_mark_sse() does this
         * too, but complains on HTTP/1 that it is not an h2 stream.) */
        lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
        s_sse_watch_hangup(sse);
        if (sse->queue.length || sse->closing)
            lws_callback_on_writable(wsi);
        return 0;
    }
    if (!sse->queue.length) {
        if (sse->closing)
            return -1;
        if (sse->keepalive_due) {
            static const char ping[] = ": keepalive\n\n";
            unsigned char buf[LWS_PRE + sizeof ping];
            memcpy(buf + LWS_PRE, ping, sizeof ping - 1);
            sse->keepalive_due = false;
            sse->wrote = true;
            if (lws_write(wsi, buf + LWS_PRE, sizeof ping - 1, LWS_WRITE_HTTP) != (int)sizeof ping - 1)
                return -1;
        }
        return 0;
    }
    /* Coalesce: at least one event, then more while they fit S_CHUNK. */
    size_t total = 0;
    for (GList *l = sse->queue.head; l; l = l->next) {
        size_t n = ((s_event_t *)l->data)->len;
        if (total && total + n > S_CHUNK)
            break;
        total += n;
    }
    unsigned char *buf = malloc(LWS_PRE + total);
    if (!buf)
        return -1;
    size_t off = 0;
    while (off < total) {
        s_event_t *e = g_queue_pop_head(&sse->queue);
        memcpy(buf + LWS_PRE + off, e->text, e->len);
        off += e->len;
        sse->queue_bytes -= e->len;
        sse->sent++;
        http->sse_events++;
        free(e);
    }
    int n = lws_write(wsi, buf + LWS_PRE, total, LWS_WRITE_HTTP);
    free(buf);
    if (n < (int)total)
        return -1;
    sse->wrote = true;
    sse->keepalive_due = false;
    if (sse->queue.length || sse->closing)
        lws_callback_on_writable(wsi);
    return 0;
}

/* Every sse_keepalive_ms: a comment line on each stream that wrote nothing
 * since the last tick, so that proxies keep it open and a vanished client
 * is noticed by a failing write. */
static gboolean s_sse_keepalive(gpointer data)
{
    edge_http_t *http = data;
    for (GList *l = http->streams.head; l; l = l->next) {
        edge_sse_t *sse = l->data;
        if (sse->headers_sent && !sse->wrote && !sse->closing) {
            sse->keepalive_due = true;
            lws_callback_on_writable(sse->wsi);
        }
        sse->wrote = false;
    }
    return G_SOURCE_CONTINUE;
}

static edge_ws_t *s_ws_find(edge_http_t *http, const char *id)
{
    for (GList *l = http->conns.head; l; l = l->next) {
        edge_ws_t *conn = l->data;
        if (conn->accepted && conn->state == WS_OPEN && !strcmp(conn->id, id))
            return conn;
    }
    return NULL;
}

static void s_events_refuse(s_req_t *req, int status, const char *reason, const char *const *extra)
{
    edge_http_t *http = req->http;
    http->sse_refused++;
    if (status != 404 && s_peer_log_ok(http))
        log_info("events %s: refused: %d %s", req->id, status, reason);
    s_respond_text(req, status, reason, extra);
}

/* GET /whip/<id>/events, /ws/<id>/events: a live session's event stream.
 * The request turns into a stream that lives until the client leaves or
 * the session ends. */
static void s_events_open(s_req_t *req, s_pss_t *pss)
{
    edge_http_t *http = req->http;
    bool known = req->id[0] && (req->route == R_EVENTS_WHIP ? whip_table_lookup(http->whip, req->id, NULL, NULL)
                                                            : s_ws_find(http, req->id) != NULL);
    if (!known) {
        s_events_refuse(req, 404, req->route == R_EVENTS_WHIP ? "no such WHIP session" : "no such WebSocket session",
                        NULL);
        return;
    }
    if (!http->backend.events_open) {
        s_events_refuse(req, 404, "this server has no event streams", NULL);
        return;
    }
    size_t mine = 0;
    for (GList *l = http->streams.head; l; l = l->next)
        if (!strcmp(((edge_sse_t *)l->data)->id, req->id)) mine++;
    const char *const retry[] = { "retry-after:", "10", NULL };
    if (mine >= http->cfg.max_session_streams) {
        char reason[96];
        snprintf(reason, sizeof reason, "too many event streams for this session (%zu)", http->cfg.max_session_streams);
        s_events_refuse(req, 429, reason, retry);
        return;
    }
    if (g_queue_get_length(&http->streams) >= http->cfg.max_event_streams) {
        s_events_refuse(req, 503, "too many event streams", retry);
        return;
    }
    edge_sse_t *sse = calloc(1, sizeof *sse);
    unsigned char *hdr = malloc(LWS_PRE + S_HDR_MAX);
    if (!sse || !hdr) {
        free(sse);
        free(hdr);
        s_respond_text(req, 500, "internal error", NULL);
        return;
    }
    sse->http = http;
    sse->wsi = req->wsi;
    sse->hdr = hdr;
    memcpy(sse->id, req->id, sizeof sse->id);
    g_queue_init(&sse->queue);
    /* No length: the body ends when the connection closes (HTTP/1.1). */
    int n = s_headers(http, req->wsi, hdr, 200, "text/event-stream; charset=utf-8", false, 0, "no-store", true,
                      (const char *const[]){ "x-accel-buffering:", "no", NULL });
    if (n < 0) {
        s_sse_free(sse);
        s_respond_text(req, 500, "internal error", NULL);
        return;
    }
    sse->hdr_len = (size_t)n;
    sse->link.data = sse;
    g_queue_push_tail_link(&http->streams, &sse->link);
    const char *why = NULL;
    if (http->backend.events_open(http->arg, req->id, sse, &why) < 0) {
        g_queue_unlink(&http->streams, &sse->link);
        s_sse_free(sse);
        s_events_refuse(req, 404, why ? why : "no such session", NULL);
        return;
    }
    sse->accepted = true;
    http->sse_opened++;
    http->responses[2]++;
    log_debug("events %s: stream opened", sse->id);
    /* From here on the connection is the stream's. */
    pss->sse = sse;
    pss->req = NULL;
    s_req_free(req);
    lws_callback_on_writable(sse->wsi);
}

/* Admission of a new WebSocket, checked once it is established rather than
 * in LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: answering an HTTP error from that
 * callback is the path of CVE-2025-11677 (a use-after-free in lws up to
 * 4.3, unpatched in 4.1.6), and a browser sees the reason of a close frame
 * but never the status of a refused handshake. Returns NULL or why not. */
static const char *s_ws_admission(edge_http_t *http, struct lws *wsi, int *code)
{
    char origin[256];
    *code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
    if (!s_authorized(http, wsi, "access_token="))
        return "missing or wrong bearer token";
    /* Browsers send Origin on every WebSocket: refuse foreign pages. */
    if (strcmp(http->cors_origin, "*") != 0
        && s_hdr(wsi, WSI_TOKEN_ORIGIN, origin, sizeof origin) > 0
        && strcmp(origin, http->cors_origin) != 0)
        return "origin not allowed";
    if (g_queue_get_length(&http->conns) > http->cfg.max_ws) {
        *code = S_WS_TRY_AGAIN_LATER;
        return "too many connections";
    }
    return NULL;
}

/* ---- the lws callback -------------------------------------------------------------- */

static int s_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    edge_http_t *http = lws_context_user(lws_get_context(wsi));
    s_pss_t *pss = user;

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        if (!pss)
            return -1;
        s_on_http(http, wsi, pss, in ? (const char *)in : "/");
        return pss->req || pss->sse ? 0 : -1;

    case LWS_CALLBACK_HTTP_BODY:
        if (pss && pss->req)
            s_on_body(pss->req, in, len);
        return 0;

    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (pss && pss->req)
            s_on_body_done(pss->req);
        return 0;

    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (pss && pss->sse)
            return s_sse_writeable(pss->sse);
        if (!pss || !pss->req || !pss->req->have_response || pss->req->body_pending)
            return 0;
        return s_write_response(pss->req, pss);

    case LWS_CALLBACK_CLOSED_HTTP:
        if (pss) {
            s_req_free(pss->req);
            pss->req = NULL;
            s_sse_gone(pss->sse);
            pss->sse = NULL;
        }
        return 0;

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        /* Nothing but /ws upgrades; lws hangs up on the others. */
        char path[64];
        return s_hdr(wsi, WSI_TOKEN_GET_URI, path, sizeof path) > 0 && !strcmp(path, "/ws") ? 0 : 1;
    }

    case LWS_CALLBACK_ESTABLISHED: {
        if (!pss)
            return -1;
        s_req_free(pss->req);
        pss->req = NULL;
        pss->ws = s_ws_new(http, wsi);
        if (!pss->ws)
            return -1;
        int code;
        const char *why = s_ws_admission(http, wsi, &code);
        if (why)
            s_ws_fail(pss->ws, code, why);
        return 0;
    }

    case LWS_CALLBACK_RECEIVE:
        if (pss && pss->ws)
            s_ws_receive(pss->ws, wsi, in, len);
        return 0;

    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!pss || !pss->ws)
            return 0;
        return s_ws_writeable(pss->ws, wsi);

    case LWS_CALLBACK_CLOSED:
        if (pss && pss->ws) {
            s_ws_gone(pss->ws);
            pss->ws = NULL;
        }
        return 0;

    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ---- lifecycle ---------------------------------------------------------------------- */

void edge_http_config_defaults(edge_http_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->listen_addr = "127.0.0.1";
    cfg->port = 8080;
    cfg->cors_origin = "*";
    cfg->max_body = 64 * 1024;
    cfg->max_sessions = 256;
    cfg->max_ws = 256;
    cfg->ws_max_message = S_WS_RX_DEFAULT;
    cfg->ws_queue_bytes = 512 * 1024;
    cfg->answer_timeout_ms = 15000;
    cfg->ws_hello_timeout_ms = 10000;
    cfg->max_event_streams = 512;
    cfg->max_session_streams = 4;
    cfg->sse_queue_bytes = 64 * 1024;
    cfg->sse_keepalive_ms = 15000;
}

static void s_free(edge_http_t *http)
{
    whip_table_destroy(&http->whip);
    free(http->listen_addr);
    free(http->bearer_token);
    free(http->cors_origin);
    if (http->loop)
        g_main_loop_unref(http->loop);
    free(http);
}

edge_http_t *edge_http_new(const edge_http_config_t *cfg, const edge_http_backend_t *backend,
                           void *backend_arg, GMainLoop *loop)
{
    if (!loop) {
        log_error("http: no main loop given");
        return NULL;
    }
    edge_http_t *http = calloc(1, sizeof *http);
    if (!http) {
        log_error("http: out of memory");
        return NULL;
    }
    edge_http_config_t def;
    edge_http_config_defaults(&def);
    http->cfg = cfg ? *cfg : def;
    /* Zero limits mean "default": a zero-byte queue or body is never meant. */
    if (!http->cfg.max_body) http->cfg.max_body = def.max_body;
    if (!http->cfg.max_sessions) http->cfg.max_sessions = def.max_sessions;
    if (!http->cfg.max_ws) http->cfg.max_ws = def.max_ws;
    if (!http->cfg.ws_max_message) http->cfg.ws_max_message = def.ws_max_message;
    if (!http->cfg.ws_queue_bytes) http->cfg.ws_queue_bytes = def.ws_queue_bytes;
    if (!http->cfg.ws_hello_timeout_ms) http->cfg.ws_hello_timeout_ms = def.ws_hello_timeout_ms;
    if (!http->cfg.max_event_streams) http->cfg.max_event_streams = def.max_event_streams;
    if (!http->cfg.max_session_streams) http->cfg.max_session_streams = def.max_session_streams;
    if (!http->cfg.sse_queue_bytes) http->cfg.sse_queue_bytes = def.sse_queue_bytes;
    if (!http->cfg.sse_keepalive_ms) http->cfg.sse_keepalive_ms = def.sse_keepalive_ms;
    http->listen_addr = strdup(http->cfg.listen_addr ? http->cfg.listen_addr : def.listen_addr);
    http->cors_origin = strdup(http->cfg.cors_origin && *http->cfg.cors_origin ? http->cfg.cors_origin : "*");
    if (http->cfg.bearer_token && *http->cfg.bearer_token)
        http->bearer_token = strdup(http->cfg.bearer_token);
    http->cfg.listen_addr = http->listen_addr;
    http->cfg.cors_origin = http->cors_origin;
    http->cfg.bearer_token = http->bearer_token;
    if (backend)
        http->backend = *backend;
    http->arg = backend_arg;
    http->loop = g_main_loop_ref(loop);
    http->gctx = g_main_loop_get_context(loop);
    g_queue_init(&http->replies);
    g_queue_init(&http->conns);
    g_queue_init(&http->streams);
    http->rl = (log_ratelimit_t)LOG_RATELIMIT_INIT(10000, 20);
    http->whip = whip_table_new(http->cfg.max_sessions);
    if (!http->listen_addr || !http->cors_origin || !http->whip
        || (http->cfg.bearer_token == NULL && cfg && cfg->bearer_token && *cfg->bearer_token)) {
        log_error("http: out of memory");
        s_free(http);
        return NULL;
    }
    if (http->cfg.port < 0 || http->cfg.port > 65535) {
        log_error("http: bad port %d", http->cfg.port);
        s_free(http);
        return NULL;
    }

    lws_set_log_level(LLL_ERR | LLL_WARN, s_lws_log);

    http->protocols[0] = (struct lws_protocols){ "http", s_callback, sizeof(s_pss_t), 0, 0, NULL, 0 };
    http->protocols[1] = (struct lws_protocols){ S_PROTOCOL, s_callback, sizeof(s_pss_t), 0, 0, NULL, 0 };
    /* Pings find dead WebSocket peers (a browser tab killed without a FIN). */
    http->retry = (lws_retry_bo_t){ .secs_since_valid_ping = 30, .secs_since_valid_hangup = 75 };

    void *foreign_loops[1] = { loop };
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_GLIB | LWS_SERVER_OPTION_EXPLICIT_VHOSTS
                   | LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.foreign_loops = foreign_loops;
    info.user = http;
    info.protocols = http->protocols;
    info.port = http->cfg.port;
    info.vhost_name = "edge";
    info.retry_and_idle_policy = &http->retry;
    info.timeout_secs = 20;
    info.keepalive_timeout = 30;
    const char *addr = http->listen_addr;
    if (!*addr || !strcmp(addr, "0.0.0.0")) {
        info.iface = NULL;
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    } else if (!strcmp(addr, "::")) {
        info.iface = NULL;
    } else {
        info.iface = addr;
        if (!strchr(addr, ':'))
            info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    }

    http->lws = lws_create_context(&info);
    if (!http->lws) {
        log_error("http: lws_create_context failed (is libwebsockets-evlib_glib.so installed?)");
        s_free(http);
        return NULL;
    }
    http->vhost = lws_create_vhost(http->lws, &info);
    if (!http->vhost) {
        log_error("http: cannot listen on %s port %d", addr, http->cfg.port);
        lws_context_destroy(http->lws);
        s_free(http);
        return NULL;
    }
    http->port = lws_get_vhost_listen_port(http->vhost);
    http->keepalive = g_timeout_source_new(http->cfg.sse_keepalive_ms);
    g_source_set_callback(http->keepalive, s_sse_keepalive, http, NULL);
    g_source_attach(http->keepalive, http->gctx);
    log_info("http: listening on %s port %d", addr, http->port);
    return http;
}

static void s_delete_live(const char *id, void *session, void *arg)
{
    edge_http_t *http = arg;
    http->backend.whip_delete(http->arg, id, session);
}

void edge_http_destroy(edge_http_t **p)
{
    if (!p || !*p)
        return;
    edge_http_t *http = *p;
    *p = NULL;
    /* Pending replies outlive the server: cut them loose first so that
     * closing their connections below does not call the backend. */
    GList *l;
    while ((l = g_queue_pop_head_link(&http->replies))) {
        edge_whip_reply_t *reply = l->data;
        if (reply->req)
            reply->req->reply = NULL;
        reply->req = NULL;
        reply->http = NULL;
        if (reply->timeout) {
            g_source_destroy(reply->timeout);
            g_source_unref(reply->timeout);
            reply->timeout = NULL;
        }
    }
    if (http->keepalive) {
        g_source_destroy(http->keepalive);
        g_source_unref(http->keepalive);
        http->keepalive = NULL;
    }
    /* Closes every connection: CLOSED / CLOSED_HTTP run from in here (the
     * event streams' events_close among them). */
    http->destroying = true;
    lws_context_destroy(http->lws);
    http->lws = NULL;
    if (http->backend.whip_delete)
        whip_table_foreach(http->whip, s_delete_live, http);
    s_free(http);
}

int edge_http_port(edge_http_t *http)
{
    return http ? http->port : -1;
}
