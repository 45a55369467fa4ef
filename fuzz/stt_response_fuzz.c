/* stt_response_fuzz — libFuzzer target for what voxmesh-stt reads from a
 * cloud provider (services/stt/response.c, compiled in here: fuzz targets
 * are linked with libvoxmesh only): a 200's transcript in the OpenAI or
 * Deepgram format, and an error response's message.
 *
 * Input: byte 0 picks the wire format (bit 0) and the size of the output
 * buffer (the rest: 1..64 bytes, or STT_TEXT_MAX when 0); the rest is the
 * body. Checked beyond "no crash, no leak": the transcript is terminated,
 * fits, is valid UTF-8 without control characters or space at either end
 * or twice in a row; the confidence is in [0, 1]; the error line is
 * printable ASCII, bounded, and never holds the key. */
#include "../services/stt/response.c"
#include "../services/stt/engine.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KEY "sk-fuzz-secret"

static bool s_utf8_ok(const unsigned char *s)
{
    while (*s) {
        size_t n = *s < 0x80 ? 1 : (*s & 0xE0) == 0xC0 ? 2 : (*s & 0xF0) == 0xE0 ? 3 : (*s & 0xF8) == 0xF0 ? 4 : 0;
        if (!n) return false;
        for (size_t k = 1; k < n; k++)
            if ((s[k] & 0xC0) != 0x80) return false;
        s += n;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    stt_wire_t wire = data[0] & 1 ? STT_WIRE_DEEPGRAM : STT_WIRE_OPENAI;
    size_t outsize = (data[0] >> 1) ? (size_t)(data[0] >> 1) % 64 + 1 : STT_TEXT_MAX;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;

    char *out = malloc(outsize);
    char err[200];
    float conf = -1;
    if (stt_response_parse(wire, body, len, out, outsize, &conf, err, sizeof err) == 0) {
        size_t n = strnlen(out, outsize);
        if (n >= outsize) abort();
        if (!s_utf8_ok((const unsigned char *)out)) abort();
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)out[i] < 0x20 || out[i] == 0x7F || (out[i] == ' ' && (i == 0 || i == n - 1 || out[i - 1] == ' ')))
                abort();
        if (!(conf >= 0 && conf <= 1)) abort();
    } else if (!memchr(err, 0, sizeof err)) {
        abort();
    }
    free(out);

    char line[400];
    stt_response_error(503, body, len, KEY, line, sizeof line);
    size_t n = strnlen(line, sizeof line);
    if (n >= sizeof line || strncmp(line, "HTTP 503", 8) || strstr(line, KEY)) abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] >= 0x7F) abort();
    return 0;
}
