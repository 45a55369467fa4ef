/* voxmesh-edge — TEMPORARY main: serves the HTTP/WebSocket front with no
 * media backend (WHIP offers get 503, WebSockets are refused) so that the
 * page and the routes can be tried by hand. The lead replaces this file
 * when the WebRTC transport is glued in. */
#include <glib-unix.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"

static void s_offer(void *arg, const char *id, const char *sdp, size_t len, edge_whip_reply_t *reply)
{
    (void)arg; (void)id; (void)sdp; (void)len;
    edge_http_whip_answer(reply, 503, "no media backend in this build", NULL);
}

static int s_ws_open(void *arg, edge_ws_t *conn, const ws_hello_t *hello, const char **reason)
{
    (void)arg; (void)conn; (void)hello;
    *reason = "no media backend in this build";
    return -1;
}

static gboolean s_quit(gpointer loop)
{
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
    edge_http_config_t cfg;
    edge_http_config_defaults(&cfg);
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--listen") && v) cfg.listen_addr = argv[++i];
        else if (!strcmp(argv[i], "--port") && v) cfg.port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--token") && v) cfg.bearer_token = argv[++i];
        else if (!strcmp(argv[i], "--cors-origin") && v) cfg.cors_origin = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--listen ADDR] [--port N] [--token T] [--cors-origin O]\n", argv[0]);
            return 2;
        }
    }
    log_init("voxmesh-edge", LOG_LEVEL_INFO, false);
    GMainLoop *loop = g_main_loop_new(NULL, FALSE);
    const edge_http_backend_t backend = { .whip_offer = s_offer, .ws_open = s_ws_open };
    edge_http_t *http = edge_http_new(&cfg, &backend, NULL, loop);
    if (!http)
        return 1;
    g_unix_signal_add(SIGINT, s_quit, loop);
    g_unix_signal_add(SIGTERM, s_quit, loop);
    g_main_loop_run(loop);
    edge_http_destroy(&http);
    g_main_loop_unref(loop);
    return 0;
}
