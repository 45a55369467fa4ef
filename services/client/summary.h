/* summary — the measurements of one call and the JSON object that reports
 * them on stdout, plus the little JSON reading the WebSocket replies need. */
#ifndef VOXMESH_CLIENT_SUMMARY_H
#define VOXMESH_CLIENT_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A time that was not measured (no audio came back...) prints as null. */
#define SUMMARY_NONE (-1.0)

typedef struct {
    const char *transport;      /* "whip" or "ws" */
    const char *format;         /* ws: "pcm16" / "opus"; NULL for whip */
    int rate;                   /* ws: negotiated rate; 0 for whip */
    char session[256];          /* WHIP resource URL or ws session id; "" if none */
    double connect_ms;          /* WHIP: POST sent -> CONNECTED; ws: connect -> accepted */
    double first_audio_ms;      /* first packet sent -> first non-silent audio back */
    double reply_latency_ms;    /* last non-silent packet sent -> last non-silent back */
    uint64_t packets_sent;      /* audio packets (RTP) / binary frames (ws) */
    uint64_t packets_received;
    int64_t packets_lost;       /* RTP (RFC 3550 A.3); 0 on ws */
    uint64_t packets_concealed; /* PLC/FEC for lost packets */
    double jitter_ms;           /* RTP interarrival jitter (A.8); ws: same formula on frames */
    double rtt_ms;              /* RTCP round trip, SUMMARY_NONE when unknown */
    double sent_ms;             /* audio duration sent */
    double received_ms;         /* audio duration received (concealment excluded) */
    uint64_t video_frames_sent, video_packets_sent;
    int delete_status;          /* WHIP DELETE status, 0 when none was sent */
    const char *out;            /* WAV written, NULL = none */
} summary_t;

/* Fills s with "nothing measured" (times SUMMARY_NONE, counters 0). */
void summary_init(summary_t *s, const char *transport);

/* Writes the one-line JSON object (no newline) into buf. Returns its
 * length, or -1 when buf is too small. */
int summary_json(const summary_t *s, char *buf, size_t size);

/* Appends `s` JSON-escaped (without quotes) to buf holding `*len` bytes.
 * Returns 0, or -1 when it does not fit (buf stays NUL-terminated). */
int json_escape_append(char *buf, size_t size, size_t *len, const char *s);

/* Finds the top-level string member `key` of a flat JSON object and copies
 * its unescaped value (\uXXXX outside ASCII becomes '?') into out. Returns
 * true when found. Good for the edge's short replies, not a JSON parser. */
bool json_get_string(const char *text, size_t len, const char *key, char *out, size_t size);

/* Same for an integer member. */
bool json_get_int(const char *text, size_t len, const char *key, long *out);

#endif
