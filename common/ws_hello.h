/* ws_hello — the first message of a voxmesh.audio.v1 WebSocket session.
 *
 * A client opens /ws and sends exactly one text frame before any audio:
 *
 *   {"type":"hello","format":"pcm16"|"opus","sample_rate":16000|48000,"channels":1}
 *
 * pcm16 = binary frames of little-endian signed 16-bit samples; opus = an
 * Ogg/Opus stream cut into binary frames. The parser below accepts exactly
 * this object (a flat JSON object of string and integer members, each member
 * once, no others) because it runs on untrusted input before any
 * authentication of the media path; anything else is refused with a reason
 * meant to be shown to the client developer. */
#ifndef VOXMESH_WS_HELLO_H
#define VOXMESH_WS_HELLO_H

#include <stddef.h>

/* Longest hello accepted, in bytes. */
#define WS_HELLO_MAX_LEN 1024
/* Room for any reason ws_hello_parse() produces, NUL included. */
#define WS_HELLO_REASON_MAX 128

typedef enum {
    WS_FORMAT_PCM16 = 1,
    WS_FORMAT_OPUS = 2,
} ws_format_t;

typedef struct {
    ws_format_t format;
    int sample_rate;            /* 16000 or 48000 */
    int channels;               /* 1 */
} ws_hello_t;

/* Parses the client's first message (`len` bytes, not NUL-terminated). On
 * success fills *out and returns 0; otherwise returns -1 and writes a short
 * reason ("unsupported format 'mp3'", "sample_rate must be 16000 or 48000",
 * "first message must be a hello", ...) into reason (may be NULL). */
int ws_hello_parse(const char *text, size_t len, ws_hello_t *out,
                   char *reason, size_t reason_size);

/* "pcm16" / "opus" (NULL for anything else). */
const char *ws_format_name(ws_format_t format);

/* Writes {"type":"accepted","session_id":...,"format":...,"sample_rate":...,
 * "channels":...} into buf. Returns its length, or -1 when buf is too small. */
int ws_hello_accepted_json(char *buf, size_t size, const char *session_id,
                           const ws_hello_t *hello);

/* Writes {"type":"error","reason":...} into buf, the reason JSON-escaped.
 * Returns its length, or -1 when buf is too small. */
int ws_hello_error_json(char *buf, size_t size, const char *reason);

#endif
