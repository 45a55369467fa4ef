/* ws_call — see ws_call.h.
 *
 * libwebsockets runs on the same kind of GLib main context as the WHIP
 * call (LWS_SERVER_OPTION_GLIB with a foreign loop, as the edge does), so
 * one pacer source drives both transports. lws only writes from its
 * WRITEABLE callback: the pacer queues messages and asks for it. */
#include "ws_call.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib-unix.h>
#include <libwebsockets.h>

#include "log.h"
#include "oggopus.h"
#include "opus_codec.h"
#include "pacer.h"
#include "whip_http.h"

#define S_PROTOCOL "voxmesh.audio.v1"
#define S_MAX_MESSAGE (1024 * 1024)
#define S_CLOSE_GRACE_US 2000000   /* for the close handshake... */
#define S_CLOSE_MIN_US 500000      /* ...even past the deadline */

typedef struct {
    size_t len;
    bool text;
    uint8_t buf[];              /* LWS_PRE bytes of headroom, then the data */
} s_msg_t;

typedef struct {
    const client_opts_t *o;
    const char *url;
    int64_t deadline_us;
    GMainContext *ctx;
    GMainLoop *loop;
    struct lws_context *lws;
    struct lws *wsi;
    source_t *src;
    recorder_t *rec;
    GSource *pump, *alarm, *sigs[2];
    GQueue out;                 /* s_msg_t * */
    pacer_t pace;
    size_t next;
    oggopus_writer_t *writer;   /* opus: what we send */
    oggopus_reader_t *reader;   /* opus: what comes back */
    opus_dec_t *dec;
    unsigned link;
    GByteArray *in;             /* message being reassembled */
    bool in_binary;
    int16_t *pcm;               /* decode buffer */
    uint64_t packets_sent, packets_received;
    int64_t t_connect, t_accepted, t0, t_input_end, t_stop, t_last_voiced, t_last_sent;
    bool established, accepted, done, closing, closed, failed;
    char failure[512];
    char session[128];
    int close_code;
    char close_reason[128];
    bool reader_failed;
} s_call_t;

static void s_failf(s_call_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_failf(s_call_t *c, const char *fmt, ...)
{
    if (c->failed)
        return;     /* the first reason is the one that matters */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->failure, sizeof c->failure, fmt, ap);
    va_end(ap);
    c->failed = true;
}

static int s_queue(s_call_t *c, const uint8_t *data, size_t len, bool text)
{
    s_msg_t *m = malloc(sizeof *m + LWS_PRE + len);
    if (!m)
        return -ENOMEM;
    m->len = len;
    m->text = text;
    memcpy(m->buf + LWS_PRE, data, len);
    g_queue_push_tail(&c->out, m);
    if (c->wsi)
        lws_callback_on_writable(c->wsi);
    return 0;
}

static int s_page_sink(void *arg, const uint8_t *data, size_t len)
{
    return s_queue(arg, data, len, false);
}

/* ---- receiving ------------------------------------------------------------------ */

static void s_on_text(s_call_t *c, const char *t, size_t len)
{
    char type[32] = "", reason[256] = "";
    if (!json_get_string(t, len, "type", type, sizeof type)) {
        log_debug("ws: ignoring text message %.*s", (int)(len > 200 ? 200 : len), t);
        return;
    }
    if (!strcmp(type, "accepted") && !c->accepted) {
        long rate = 0;
        json_get_string(t, len, "session_id", c->session, sizeof c->session);
        if (json_get_int(t, len, "sample_rate", &rate) && rate != c->o->rate)
            log_warn("ws: the edge accepted with sample_rate %ld, not %d", rate, c->o->rate);
        c->accepted = true;
        c->t_accepted = time_mono_us();
    } else if (!strcmp(type, "error")) {
        json_get_string(t, len, "reason", reason, sizeof reason);
        s_failf(c, "edge refused the session: %s", *reason ? reason : "(no reason given)");
    } else {
        log_debug("ws: message of type \"%s\"", type);
    }
}

static void s_on_pcm16(s_call_t *c, const uint8_t *data, size_t len, int64_t now)
{
    size_t n = len / 2;
    int16_t *pcm = malloc(n * sizeof *pcm + 1);
    if (!pcm)
        return;
    for (size_t i = 0; i < n; i++)
        pcm[i] = (int16_t)(data[2 * i] | data[2 * i + 1] << 8);
    recorder_put_stream(c->rec, pcm, n, now);
    c->packets_received++;
    free(pcm);
}

static void s_on_ogg(s_call_t *c, const uint8_t *data, size_t len, int64_t now)
{
    if (c->reader_failed)
        return;
    int r = oggopus_reader_feed(c->reader, data, len);
    oggopus_packet_t pkt;
    while (r >= 0 && (r = oggopus_reader_next(c->reader, &pkt)) == 1) {
        if (pkt.link != c->link) {
            c->link = pkt.link;
            opus_dec_reset(c->dec);
        }
        int n = opus_dec_decode(c->dec, pkt.data, pkt.len, c->pcm, OPUS_CODEC_MAX_FRAMES_48K);
        if (n < 0)
            continue;
        int skip = (int)((int64_t)pkt.discard_start * c->o->rate / 48000);
        int trim = (int)((int64_t)pkt.discard_end * c->o->rate / 48000);
        c->packets_received++;
        if (n - skip - trim > 0)
            recorder_put_stream(c->rec, c->pcm + skip, (size_t)(n - skip - trim), now);
    }
    if (r < 0) {
        c->reader_failed = true;
        log_error("ws: the edge's Ogg/Opus stream is broken: %s", oggopus_reader_strerror(c->reader));
    }
}

static void s_on_message(s_call_t *c, const uint8_t *data, size_t len, bool binary)
{
    if (!binary) {
        s_on_text(c, (const char *)data, len);
        return;
    }
    if (!c->accepted)
        return;
    int64_t now = time_mono_us();
    if (c->o->format == WS_FORMAT_PCM16)
        s_on_pcm16(c, data, len, now);
    else
        s_on_ogg(c, data, len, now);
}

/* ---- lws ------------------------------------------------------------------------- */

static int s_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    (void)user;
    struct lws_context *ctx = lws_get_context(wsi);
    s_call_t *c = ctx ? lws_context_user(ctx) : NULL;
    if (!c)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        if (!c->o->token || !*c->o->token)
            break;
        unsigned char **p = in, *end = *p + len;
        char value[1024];
        snprintf(value, sizeof value, "Bearer %s", c->o->token);
        if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
                                         (const unsigned char *)value, (int)strlen(value), p, end))
            return -1;
        break;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED: {
        c->established = true;
        char hello[160];
        int n = snprintf(hello, sizeof hello,
                         "{\"type\":\"hello\",\"format\":\"%s\",\"sample_rate\":%d,\"channels\":1}",
                         ws_format_name(c->o->format), c->o->rate);
        s_queue(c, (const uint8_t *)hello, (size_t)n, true);
        break;
    }
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        if (lws_is_first_fragment(wsi)) {
            g_byte_array_set_size(c->in, 0);
            c->in_binary = lws_frame_is_binary(wsi);
        }
        if (c->in->len + len > S_MAX_MESSAGE) {
            s_failf(c, "the edge sent a message over %d bytes", S_MAX_MESSAGE);
            return -1;
        }
        g_byte_array_append(c->in, in, (guint)len);
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi))
            s_on_message(c, c->in->data, c->in->len, c->in_binary);
        break;
    }
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        s_msg_t *m = g_queue_pop_head(&c->out);
        if (m) {
            int n = lws_write(wsi, m->buf + LWS_PRE, m->len, m->text ? LWS_WRITE_TEXT : LWS_WRITE_BINARY);
            free(m);
            if (n < 0) {
                s_failf(c, "ws: write failed");
                return -1;
            }
        }
        if (!g_queue_is_empty(&c->out)) {
            lws_callback_on_writable(wsi);
        } else if (c->closing) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"bye", 3);
            return -1;
        }
        break;
    }
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2) {
            const uint8_t *b = in;
            c->close_code = b[0] << 8 | b[1];
            size_t rl = len - 2 < sizeof c->close_reason - 1 ? len - 2 : sizeof c->close_reason - 1;
            memcpy(c->close_reason, b + 2, rl);
            c->close_reason[rl] = '\0';
        }
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        s_failf(c, "cannot open the WebSocket %s: %s", c->url,
                in && len ? (const char *)in : "connection failed");
        c->closed = true;
        c->wsi = NULL;
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        c->closed = true;
        c->wsi = NULL;
        if (!c->closing) {
            if (c->close_code)
                s_failf(c, "the edge closed the WebSocket: %d %s", c->close_code, c->close_reason);
            else
                s_failf(c, "the edge closed the WebSocket");
        }
        break;
    default:
        break;
    }
    return 0;
}

static void s_lws_log(int level, const char *line)
{
    (void)level;
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    log_debug("lws: %.*s", (int)n, line);
}

/* ---- pacing --------------------------------------------------------------------------- */

/* SIGINT/SIGTERM: stop, but still close the WebSocket properly. */
static gboolean s_on_signal(gpointer data)
{
    s_failf(data, "interrupted by a signal");
    return G_SOURCE_CONTINUE;
}

static gboolean s_wake(gpointer data)
{
    (void)data;
    return G_SOURCE_CONTINUE;
}

static bool s_run_until(s_call_t *c, const bool *flag, int64_t until_us)
{
    pacer_source_wake(c->alarm, until_us);
    while (!*flag && !c->failed && time_mono_us() < until_us)
        g_main_context_iteration(c->ctx, TRUE);
    return *flag;
}

static gboolean s_pump(gpointer data)
{
    s_call_t *c = data;
    int64_t now = time_mono_us();
    size_t count = source_count(c->src);
    while (c->next < count && pacer_due(&c->pace, now)) {
        const source_frame_t *f = source_frame(c->src, c->next++);
        int r = c->writer ? oggopus_writer_write(c->writer, f->data, f->len)
                          : s_queue(c, f->data, f->len, false);
        if (r < 0) {
            s_failf(c, "cannot send audio: %s", strerror(-r));
            return G_SOURCE_CONTINUE;
        }
        pacer_advance(&c->pace, f->samples48);
        c->packets_sent++;
        c->t_last_sent = now;
        if (f->voiced)
            c->t_last_voiced = now;
    }
    if (c->next == count && !c->t_input_end) {
        c->t_input_end = pacer_next_us(&c->pace);
        c->t_stop = c->t_input_end + (int64_t)c->o->tail_ms * 1000;
    }
    if (c->t_stop && now >= c->t_stop) {
        c->done = true;
        return G_SOURCE_CONTINUE;
    }
    pacer_source_wake(c->pump, c->next < count ? pacer_next_us(&c->pace) : c->t_stop);
    return G_SOURCE_CONTINUE;
}

/* ---- the call ------------------------------------------------------------------------- */

static int s_connect(s_call_t *c, const char *url)
{
    char *host = NULL, *path = NULL;
    int port = 0, tls = 0;
    if (whip_url_split(url, &host, &port, &path, &tls) < 0) {
        s_failf(c, "bad --url \"%s\"", c->o->url);
        return -1;
    }
    static const struct lws_protocols protocols[] = {
        { S_PROTOCOL, s_callback, 0, 0, 0, NULL, 0 },
        { NULL, NULL, 0, 0, 0, NULL, 0 },
    };
    lws_set_log_level(LLL_ERR | LLL_WARN, s_lws_log);
    void *foreign[1] = { c->loop };
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_GLIB | (tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0);
    info.foreign_loops = foreign;
    info.user = c;
    c->lws = lws_create_context(&info);
    if (!c->lws) {
        s_failf(c, "lws_create_context failed (is libwebsockets-evlib_glib.so installed?)");
        free(host);
        free(path);
        return -1;
    }
    char hosthdr[300];
    snprintf(hosthdr, sizeof hosthdr, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = c->lws;
    ci.address = host;
    ci.port = port;
    ci.path = path;
    ci.host = hosthdr;
    ci.origin = hosthdr;
    ci.protocol = S_PROTOCOL;
    ci.ssl_connection = tls ? LCCSCF_USE_SSL : 0;
    ci.pwsi = &c->wsi;
    c->t_connect = time_mono_us();
    log_info("ws: connecting to %s", url);
    struct lws *w = lws_client_connect_via_info(&ci);
    free(host);
    free(path);
    if (!w && !c->failed)
        s_failf(c, "cannot open the WebSocket to %s", url);
    return c->failed ? -1 : 0;
}

static void s_summarize(s_call_t *c, summary_t *sum)
{
    sum->format = ws_format_name(c->o->format);
    sum->rate = c->o->rate;
    snprintf(sum->session, sizeof sum->session, "%s", c->session);
    if (c->t_accepted)
        sum->connect_ms = (double)(c->t_accepted - c->t_connect) / 1000.0;
    sum->packets_sent = c->packets_sent;
    sum->packets_received = c->packets_received;
    sum->sent_ms = (double)c->pace.samples / 48.0;
    sum->received_ms = (double)recorder_received_frames(c->rec) * 1000.0 / recorder_rate(c->rec);
    int64_t first = recorder_first_voiced_us(c->rec), last = recorder_last_voiced_us(c->rec);
    if (first >= 0 && c->t0)
        sum->first_audio_ms = (double)(first - c->t0) / 1000.0;
    int64_t ref = c->t_last_voiced ? c->t_last_voiced : c->t_last_sent;
    if (last >= 0 && ref)
        sum->reply_latency_ms = (double)(last - ref) / 1000.0;
    if (c->packets_received)
        sum->jitter_ms = recorder_stream_jitter_ms(c->rec);
}

static int s_call(s_call_t *c, const char *url)
{
    if (s_connect(c, url) < 0)
        return -1;
    if (!s_run_until(c, &c->accepted, c->deadline_us))
        return -1;
    log_info("ws: accepted in %.1f ms, session %s", (double)(c->t_accepted - c->t_connect) / 1000.0,
             c->session);
    if (c->o->format == WS_FORMAT_OPUS) {
        oggopus_writer_config_t cfg;
        oggopus_writer_config_defaults(&cfg);
        cfg.channels = source_channels(c->src);
        cfg.input_rate = (uint32_t)c->o->rate;
        cfg.preskip = source_preskip(c->src);
        c->writer = oggopus_writer_new(&cfg, s_page_sink, c);
        c->reader = oggopus_reader_new();
        c->dec = opus_dec_new(c->o->rate, 1);
        c->pcm = malloc(OPUS_CODEC_MAX_FRAMES_48K * sizeof *c->pcm);
        if (!c->writer || !c->reader || !c->dec || !c->pcm) {
            s_failf(c, "cannot set up Ogg/Opus");
            return -1;
        }
    }
    c->t0 = time_mono_us();
    recorder_set_t0(c->rec, c->t0);
    pacer_init(&c->pace, c->t0, 48000);
    c->pump = pacer_source_new(s_pump, c);
    g_source_attach(c->pump, c->ctx);
    s_pump(c);
    s_run_until(c, &c->done, c->deadline_us);
    if (c->writer && c->wsi && !c->failed)
        oggopus_writer_finish(c->writer);      /* end-of-stream page */
    return c->done ? 0 : -1;
}

int ws_call_run(const client_opts_t *o, source_t *src, recorder_t *rec,
                int64_t deadline_us, summary_t *sum)
{
    char *url = whip_url_endpoint(o->url, "/ws", 1);
    if (!url) {
        log_error("bad --url \"%s\"", o->url);
        return -1;
    }
    s_call_t c = { .o = o, .url = url, .deadline_us = deadline_us, .src = src, .rec = rec };
    g_queue_init(&c.out);
    c.in = g_byte_array_new();
    c.ctx = g_main_context_new();
    g_main_context_push_thread_default(c.ctx);
    c.loop = g_main_loop_new(c.ctx, FALSE);
    c.alarm = pacer_source_new(s_wake, NULL);
    g_source_attach(c.alarm, c.ctx);
    for (int i = 0; i < 2; i++) {
        c.sigs[i] = g_unix_signal_source_new(i ? SIGTERM : SIGINT);
        g_source_set_callback(c.sigs[i], s_on_signal, &c, NULL);
        g_source_attach(c.sigs[i], c.ctx);
    }

    int rc = s_call(&c, url);
    s_summarize(&c, sum);
    if (rc < 0 && !c.failed)
        s_failf(&c, "timed out after --timeout-ms %d while %s", o->timeout_ms,
                !c.established ? "connecting" : !c.accepted ? "waiting for \"accepted\""
                : c.t_input_end ? "recording the reply" : "sending");
    /* close: the queue (EOS page) goes first, then the close frame; a
     * connection that never opened is just dropped with the context */
    if (c.wsi && c.established) {
        c.closing = true;
        lws_callback_on_writable(c.wsi);
        int64_t now = time_mono_us();
        int64_t grace = now + S_CLOSE_GRACE_US;
        if (grace > c.deadline_us)
            grace = c.deadline_us > now + S_CLOSE_MIN_US ? c.deadline_us : now + S_CLOSE_MIN_US;
        pacer_source_wake(c.alarm, grace);
        while (!c.closed && time_mono_us() < grace)
            g_main_context_iteration(c.ctx, TRUE);
    }
    if (c.failed) {
        log_error("%s", c.failure);
        rc = -1;
    }
    if (c.pump) {
        g_source_destroy(c.pump);
        g_source_unref(c.pump);
    }
    if (c.lws)
        lws_context_destroy(c.lws);
    while (g_main_context_iteration(c.ctx, FALSE))
        ;
    g_source_destroy(c.alarm);
    g_source_unref(c.alarm);
    for (int i = 0; i < 2; i++) {
        g_source_destroy(c.sigs[i]);
        g_source_unref(c.sigs[i]);
    }
    g_main_loop_unref(c.loop);
    g_main_context_pop_thread_default(c.ctx);
    g_main_context_unref(c.ctx);
    s_msg_t *m;
    while ((m = g_queue_pop_head(&c.out)))
        free(m);
    g_byte_array_unref(c.in);
    oggopus_writer_destroy(&c.writer);
    oggopus_reader_destroy(&c.reader);
    opus_dec_destroy(&c.dec);
    free(c.pcm);
    free(url);
    return rc;
}
