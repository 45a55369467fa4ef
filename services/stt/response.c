/* response — see response.h. */
#include "response.h"
#include "json.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define ERROR_TEXT_MAX 200   /* of a provider's error message, for the log */

/* Copies s into out as one clean line (see response.h). */
static void s_clean_text(const char *s, char *out, size_t size)
{
    size_t n = 0;
    bool space = false;
    for (; *s && size > 1; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7F || c == ' ') {
            space = n > 0;
            continue;
        }
        size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
        if (n + space + need > size - 1) break;   /* a whole character, or nothing */
        if (space) out[n++] = ' ';
        space = false;
        out[n++] = (char)c;
        for (size_t k = 1; k < need && s[1]; k++) out[n++] = *++s;
    }
    if (size) out[n] = '\0';
}

int stt_response_parse(stt_wire_t wire, const char *body, size_t len, char *out, size_t size, float *confidence,
                       char *err, size_t errlen)
{
    char jerr[128];
    if (size) out[0] = '\0';
    *confidence = 0;
    json_t *root = json_parse(body, len, jerr, sizeof jerr);
    if (!root) {
        snprintf(err, errlen, "the response is not JSON (%s)", jerr);
        return -1;
    }
    const json_t *text, *conf = NULL;
    if (wire == STT_WIRE_OPENAI) {
        text = json_get(root, "text");
    } else {
        const json_t *alt = json_index(json_get(json_index(json_get(json_get(root, "results"), "channels"), 0),
                                                "alternatives"), 0);
        text = json_get(alt, "transcript");
        conf = json_get(alt, "confidence");
    }
    if (json_type(text) != JSON_STRING) {
        snprintf(err, errlen, "the response has no %s",
                 wire == STT_WIRE_OPENAI ? "\"text\"" : "results.channels[0].alternatives[0].transcript");
        json_destroy(&root);
        return -1;
    }
    s_clean_text(json_str(text), out, size);
    double c = json_num(conf, 0);
    *confidence = isfinite(c) && c > 0 ? (c < 1 ? (float)c : 1.0f) : 0.0f;
    json_destroy(&root);
    return 0;
}

/* Printable ASCII on one line, key masked. */
static void s_printable(char *s, const char *key)
{
    for (char *c = s; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7F) *c = ' ';
    size_t klen = key ? strlen(key) : 0;
    if (klen < 4) return;
    for (char *k; (k = strstr(s, key));) {
        memset(k, '*', 3);
        memmove(k + 3, k + klen, strlen(k + klen) + 1);
    }
}

void stt_response_error(long status, const char *body, size_t len, const char *key, char *out, size_t size)
{
    json_t *v = len ? json_parse(body, len, NULL, 0) : NULL;
    const char *msg = json_str(json_get(json_get(v, "error"), "message"));   /* OpenAI */
    if (!msg) msg = json_str(json_get(v, "err_msg"));                        /* Deepgram */
    if (!msg) msg = json_str(json_get(v, "message"));
    if (!msg) msg = json_str(json_get(v, "error"));
    if (!msg) msg = json_str(json_get(v, "detail"));                         /* FastAPI servers */
    char text[4097];   /* callers keep at most 4 KiB of an error body */
    size_t n = 0;
    if (msg) {
        /* Masked before it is cut, so that no cut leaves a piece of the key. */
        n = strlen(msg) < sizeof text - 1 ? strlen(msg) : sizeof text - 1;
        memcpy(text, msg, n);
    } else if (len) {
        n = len < sizeof text - 1 ? len : sizeof text - 1;
        memcpy(text, body, n);
        for (size_t i = 0; i < n; i++)
            if (!text[i]) text[i] = ' ';
    }
    text[n] = '\0';
    json_destroy(&v);
    s_printable(text, key);
    if (strlen(text) > ERROR_TEXT_MAX) strcpy(text + ERROR_TEXT_MAX - 3, "...");
    if (text[0]) snprintf(out, size, "HTTP %ld: %s", status, text);
    else snprintf(out, size, "HTTP %ld", status);
}
