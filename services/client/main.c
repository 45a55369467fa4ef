/* voxmesh-client — calls the edge over WHIP (WebRTC) or its /ws WebSocket,
 * sends an audio file at real-time pace, records what comes back and
 * prints one JSON object of measurements (docs/client.md).
 *
 * It is the edge's other end built from the same libvoxmesh pieces (rtc
 * peer, SDP, RTP/RTCP, Opus, Ogg/Opus, WAV), so the parrot stack can be
 * checked end to end from a shell: tests/client.sh. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "client.h"
#include "compare.h"
#include "log.h"
#include "recorder.h"
#include "source.h"
#include "summary.h"
#include "whip_call.h"
#include "ws_call.h"

static const char s_usage[] =
    "usage: voxmesh-client --url URL --in FILE [options]\n"
    "       voxmesh-client --compare SENT.wav REPLY.wav [--max-lag-ms 1000]\n"
    "\n"
    "Calls voxmesh-edge, sends FILE at real-time pace, records the reply and\n"
    "prints a JSON summary on stdout (exit 0; 1 when the call fails, 2 for a\n"
    "bad command line or input file).\n"
    "\n"
    "  --url URL           edge base URL, e.g. http://127.0.0.1:8080 (WHIP goes to\n"
    "                      URL/whip, the WebSocket to ws://HOST:PORT/ws; a URL with a\n"
    "                      path is used as it is)\n"
    "  --transport T       whip (default) or ws\n"
    "  --format F          ws only: pcm16 (default) or opus (Ogg/Opus stream)\n"
    "  --rate R            ws only: 16000 (default) or 48000\n"
    "  --token T           bearer token (Authorization: Bearer T)\n"
    "  --in FILE           WAV (any rate/channels) or Ogg/Opus (.opus) input\n"
    "  --video FILE.ivf    whip only: also send this VP8 IVF file (sendonly)\n"
    "  --out FILE.wav      write what came back: mono s16, 48 kHz for whip, the\n"
    "                      ws rate for ws; sample 0 = when the first packet was sent\n"
    "  --tail-ms N         keep recording N ms after the input ended (3000)\n"
    "  --timeout-ms N      bound on the whole run (30000)\n"
    "  --bind ADDR         local address for ICE candidates (127.0.0.1)\n"
    "  -v, --verbose       more logging on stderr (twice: debug)\n"
    "  -h, --help          this text\n"
    "\n"
    "--compare prints {\"peak\":P,\"lag_ms\":L,\"window_peak\":WP,\"window_lag_ms\":WL,\n"
    "\"windows\":N}: the peak of the normalized cross-correlation of the two files\n"
    "(8 kHz mono) and its lag, then the medians of the same per 500 ms window of\n"
    "SENT.wav with sound (robust to a latency that changes midway).\n"
    "\n"
    "Output: {\"transport\",\"connect_ms\",\"first_audio_ms\",\"reply_latency_ms\",\n"
    "\"packets_sent\",\"packets_received\",\"packets_lost\",\"packets_concealed\",\n"
    "\"jitter_ms\",\"rtt_ms\",\"sent_ms\",\"received_ms\",\"out\",...}; null = not measured.\n";

static int s_usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "voxmesh-client: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see voxmesh-client --help)\n");
    return CLIENT_EXIT_USAGE;
}

static bool s_int_arg(const char *s, int min, int max, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < min || v > max)
        return false;
    *out = (int)v;
    return true;
}

static int s_compare(int argc, char **argv, int max_lag_ms)
{
    if (argc != 2)
        return s_usage_error("%s", "--compare takes two WAV files");
    compare_result_t r;
    char err[512];
    if (compare_files(argv[0], argv[1], max_lag_ms, &r, err, sizeof err) < 0) {
        fprintf(stderr, "voxmesh-client: %s\n", err);
        return CLIENT_EXIT_USAGE;
    }
    printf("{\"peak\":%.3f,\"lag_ms\":%.1f,\"window_peak\":%.3f,\"window_lag_ms\":%.1f,"
           "\"windows\":%d}\n", r.peak, r.lag_ms, r.window_peak, r.window_lag_ms, r.windows);
    return CLIENT_EXIT_OK;
}

int main(int argc, char **argv)
{
    client_opts_t o = {
        .transport = CLIENT_WHIP, .format = WS_FORMAT_PCM16, .rate = 0,
        .tail_ms = 3000, .timeout_ms = 30000, .bind = "127.0.0.1",
    };
    bool compare = false;
    int max_lag_ms = 1000, verbose = 0;
    enum { O_URL = 256, O_TRANSPORT, O_FORMAT, O_RATE, O_TOKEN, O_IN, O_VIDEO, O_OUT, O_TAIL,
           O_TIMEOUT, O_BIND, O_COMPARE, O_MAXLAG };
    static const struct option opts[] = {
        { "url", required_argument, NULL, O_URL },
        { "transport", required_argument, NULL, O_TRANSPORT },
        { "format", required_argument, NULL, O_FORMAT },
        { "rate", required_argument, NULL, O_RATE },
        { "token", required_argument, NULL, O_TOKEN },
        { "in", required_argument, NULL, O_IN },
        { "video", required_argument, NULL, O_VIDEO },
        { "out", required_argument, NULL, O_OUT },
        { "tail-ms", required_argument, NULL, O_TAIL },
        { "timeout-ms", required_argument, NULL, O_TIMEOUT },
        { "bind", required_argument, NULL, O_BIND },
        { "compare", no_argument, NULL, O_COMPARE },
        { "max-lag-ms", required_argument, NULL, O_MAXLAG },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool format_set = false;
    int ch;
    while ((ch = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        switch (ch) {
        case O_URL: o.url = optarg; break;
        case O_TRANSPORT:
            if (!strcmp(optarg, "whip")) o.transport = CLIENT_WHIP;
            else if (!strcmp(optarg, "ws")) o.transport = CLIENT_WS;
            else return s_usage_error("unknown --transport '%s' (whip or ws)", optarg);
            break;
        case O_FORMAT:
            if (!strcmp(optarg, "pcm16")) o.format = WS_FORMAT_PCM16;
            else if (!strcmp(optarg, "opus")) o.format = WS_FORMAT_OPUS;
            else return s_usage_error("unknown --format '%s' (pcm16 or opus)", optarg);
            format_set = true;
            break;
        case O_RATE:
            if (!s_int_arg(optarg, 1, 1000000, &o.rate) || (o.rate != 16000 && o.rate != 48000))
                return s_usage_error("--rate must be 16000 or 48000, not '%s'", optarg);
            break;
        case O_TOKEN: o.token = optarg; break;
        case O_IN: o.in_path = optarg; break;
        case O_VIDEO: o.video_path = optarg; break;
        case O_OUT: o.out_path = optarg; break;
        case O_TAIL:
            if (!s_int_arg(optarg, 0, 600000, &o.tail_ms))
                return s_usage_error("bad --tail-ms '%s'", optarg);
            break;
        case O_TIMEOUT:
            if (!s_int_arg(optarg, 100, 86400000, &o.timeout_ms))
                return s_usage_error("bad --timeout-ms '%s' (100 or more)", optarg);
            break;
        case O_BIND: o.bind = optarg; break;
        case O_COMPARE: compare = true; break;
        case O_MAXLAG:
            if (!s_int_arg(optarg, 0, 10000, &max_lag_ms))
                return s_usage_error("bad --max-lag-ms '%s'", optarg);
            break;
        case 'v': verbose++; break;
        case 'h': fputs(s_usage, stdout); return CLIENT_EXIT_OK;
        default: return s_usage_error("%s", "unknown option");
        }
    }
    log_init("voxmesh-client", verbose >= 2 ? LOG_LEVEL_DEBUG : verbose ? LOG_LEVEL_INFO : LOG_LEVEL_WARN,
             false);
    if (compare)
        return s_compare(argc - optind, argv + optind, max_lag_ms);
    if (optind < argc)
        return s_usage_error("unexpected argument '%s'", argv[optind]);
    if (!o.url)
        return s_usage_error("%s", "--url is required");
    if (!o.in_path)
        return s_usage_error("%s", "--in is required");
    if (o.transport == CLIENT_WHIP && (format_set || o.rate))
        return s_usage_error("%s", "--format and --rate apply to --transport ws only");
    if (o.transport == CLIENT_WS && o.video_path)
        return s_usage_error("%s", "--video needs --transport whip");
    if (!o.rate)
        o.rate = o.transport == CLIENT_WHIP ? 48000 : 16000;

    int64_t start = time_mono_us();
    int64_t deadline = start + (int64_t)o.timeout_ms * 1000;
    char err[512];
    source_kind_t kind = o.transport == CLIENT_WS && o.format == WS_FORMAT_PCM16 ? SOURCE_PCM16
                                                                                 : SOURCE_OPUS;
    source_t *src = source_new(o.in_path, kind, o.rate, err, sizeof err);
    if (!src) {
        fprintf(stderr, "voxmesh-client: %s\n", err);
        return CLIENT_EXIT_USAGE;
    }
    int64_t media_ms = source_duration_us(src) / 1000;
    if (media_ms + o.tail_ms >= o.timeout_ms) {
        fprintf(stderr, "voxmesh-client: the input (%lld ms) plus --tail-ms %d does not fit in "
                        "--timeout-ms %d\n", (long long)media_ms, o.tail_ms, o.timeout_ms);
        source_destroy(&src);
        return CLIENT_EXIT_USAGE;
    }
    recorder_t *rec = recorder_new(o.rate, start,
                                   (size_t)o.rate * (size_t)(o.timeout_ms / 1000 + 2));
    if (!rec || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "voxmesh-client: out of memory\n");
        source_destroy(&src);
        recorder_destroy(&rec);
        return CLIENT_EXIT_FAILED;
    }
    summary_t sum;
    summary_init(&sum, o.transport == CLIENT_WHIP ? "whip" : "ws");
    int rc = o.transport == CLIENT_WHIP ? whip_call_run(&o, src, rec, deadline, &sum)
                                        : ws_call_run(&o, src, rec, deadline, &sum);
    if (rc == 0 && o.out_path) {
        int w = recorder_write_wav(rec, o.out_path, 0);
        if (w < 0) {
            log_error("cannot write %s: %s", o.out_path, strerror(-w));
            rc = -1;
        } else {
            sum.out = o.out_path;
        }
    }
    if (rc == 0) {
        char json[4096];
        if (summary_json(&sum, json, sizeof json) > 0)
            printf("%s\n", json);
    }
    source_destroy(&src);
    recorder_destroy(&rec);
    curl_global_cleanup();
    return rc == 0 ? CLIENT_EXIT_OK : CLIENT_EXIT_FAILED;
}
