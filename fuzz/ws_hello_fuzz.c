/* ws_hello_fuzz — the WebSocket hello parser and reply builders on arbitrary
 * bytes: no crash, no read past the input, and the contract holds (a reason on
 * every refusal, only valid values on success, replies always valid JSON-ish
 * printable ASCII). */
#include "ws_hello.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size heap copy so that ASan catches any over-read. */
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    if (size)
        memcpy(text, data, size);

    ws_hello_t h;
    char reason[WS_HELLO_REASON_MAX];
    memset(reason, 'x', sizeof reason);
    int rc = ws_hello_parse(text, size, &h, reason, sizeof reason);
    if (rc == 0) {
        if ((h.format != WS_FORMAT_PCM16 && h.format != WS_FORMAT_OPUS)
            || (h.sample_rate != 16000 && h.sample_rate != 48000) || h.channels != 1)
            abort();
        char buf[256];
        if (ws_hello_accepted_json(buf, sizeof buf, "0123456789abcdef0123456789abcdef", &h) <= 0)
            abort();
    } else {
        if (rc != -1 || !memchr(reason, '\0', sizeof reason) || !reason[0])
            abort();
        char buf[WS_HELLO_REASON_MAX * 6 + 64];
        int n = ws_hello_error_json(buf, sizeof buf, reason);
        if (n <= 0)
            abort();
        for (int i = 0; i < n; i++)
            if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] >= 0x7f)
                abort();
    }
    /* A small reason buffer must truncate, never overflow. */
    char small[7];
    ws_hello_parse(text, size, &h, small, sizeof small);
    free(text);
    return 0;
}
